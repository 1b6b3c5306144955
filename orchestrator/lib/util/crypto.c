/* Digests and base64 on libcrypto: the SHA-256, MD5 and SHA-1 of fingerprints, and the base64 of
 * SSH key blobs, fingerprints and MIME bodies. One implementation of each for the whole
 * library (ssh/, seed/, keypair/), so that an SSH fingerprint is computed one way only.
 *
 * base64 is the RFC 4648 alphabet ('+' and '/'). Decoding is strict, as OpenSSH and EC2 read
 * keys: nothing but the alphabet, '=' padding to a whole number of 4-character groups, and
 * padding only at the end. EVP_DecodeBlock alone would take '=' anywhere (as zero bits) and
 * ignore leading white space, so the text is checked here first. Decoded bytes live in one
 * allocation that is never moved, so that a caller decoding a secret can wipe it. */
#include <assert.h>
#include <ctype.h>
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "util/util.h"

/* EVP_EncodeBlock and EVP_DecodeBlock count in int: longer input goes in pieces of this many
 * bytes (a multiple of 3) or characters (a multiple of 4). */
#define ENCODE_PIECE ((size_t) 3 << 20)
#define DECODE_PIECE ((size_t) 4 << 20)

static const struct {
        const char *name;
        const EVP_MD *(*md)(void);
        size_t len;
} digests[KILN_DIGEST_COUNT] = {
        [KILN_DIGEST_MD5] = {"MD5", EVP_md5, 16},
        [KILN_DIGEST_SHA1] = {"SHA-1", EVP_sha1, 20},
        [KILN_DIGEST_SHA256] = {"SHA-256", EVP_sha256, 32},
};

char *kiln_crypto_error(void)
{
        unsigned long e = ERR_peek_last_error();
        const char *reason = e ? ERR_reason_error_string(e) : NULL;
        char code[256];

        if (e && !reason) {
                ERR_error_string_n(e, code, sizeof(code));
                reason = code;
        }
        ERR_clear_error();
        return kiln_xstrdup(reason ? reason : "libcrypto gave no reason");
}

int kiln_digest(kiln_digest_alg alg, const void *data, size_t len,
                unsigned char out[KILN_DIGEST_MAX], size_t *ret_len, kiln_error **err)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        assert(alg >= 0 && alg < KILN_DIGEST_COUNT);
        if (EVP_Digest(data, len, md, &n, digests[alg].md(), NULL) != 1 || n != digests[alg].len) {
                kiln_autofree char *why = kiln_crypto_error();

                return kiln_error_set(err, KILN_E_UNSUPPORTED, NULL,
                                      "libcrypto cannot compute %s: %s", digests[alg].name, why);
        }
        memcpy(out, md, n);
        if (ret_len)
                *ret_len = n;
        return 0;
}

char *kiln_hex_colon(const unsigned char *p, size_t n)
{
        static const char hex[] = "0123456789abcdef";
        char *s = kiln_xmalloc(n ? 3 * n : 1);

        s[0] = '\0';
        for (size_t i = 0; i < n; i++) {
                s[3 * i] = hex[p[i] >> 4];
                s[3 * i + 1] = hex[p[i] & 15];
                s[3 * i + 2] = i + 1 < n ? ':' : '\0';
        }
        return s;
}

char *kiln_base64_encode(const void *data, size_t len, bool pad)
{
        const unsigned char *p = data;
        size_t out_len = (len / 3 + (len % 3 != 0)) * 4, done = 0;
        char *out = kiln_xmalloc(out_len + 1);

        out[0] = '\0';
        for (size_t off = 0; off < len; off += ENCODE_PIECE) {
                size_t piece = len - off < ENCODE_PIECE ? len - off : ENCODE_PIECE;
                int n = EVP_EncodeBlock((unsigned char *) out + done, p + off, (int) piece);

                assert(n >= 0);
                done += (size_t) n;
        }
        assert(done == out_len);
        while (!pad && done > 0 && out[done - 1] == '=')
                out[--done] = '\0';
        return out;
}

static bool base64_char(unsigned char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/';
}

/* The characters that count (white space skipped if asked), or 0 if the text is not strict
 * base64; *ret_pad is the number of '='. */
static size_t base64_check(const char *s, size_t n, bool skip_space, size_t *ret_pad)
{
        size_t chars = 0, pad = 0;

        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s[i];

                if (skip_space && isspace(c))
                        continue;
                if (c == '=')
                        pad++;
                else if (pad > 0 || !base64_char(c))
                        return 0;
                chars++;
        }
        if (chars % 4 != 0 || pad > 2 || chars == pad)
                return 0;
        *ret_pad = pad;
        return chars;
}

unsigned char *kiln_base64_decode(const char *s, size_t n, bool skip_space, size_t *ret_len)
{
        size_t pad = 0, chars = s ? base64_check(s, n, skip_space, &pad) : 0;
        size_t cap, done = 0;
        char *packed = NULL;
        const char *in = s;
        unsigned char *out;

        if (chars == 0)
                return NULL;
        if (chars != n) {
                /* white space was skipped: decode a packed copy, wiped afterwards */
                size_t k = 0;

                packed = kiln_xmalloc(chars);
                for (size_t i = 0; i < n; i++)
                        if (!isspace((unsigned char) s[i]))
                                packed[k++] = s[i];
                assert(k == chars);
                in = packed;
        }
        cap = chars / 4 * 3;
        out = kiln_xmalloc(cap + 1);
        for (size_t off = 0; off < chars; off += DECODE_PIECE) {
                size_t piece = chars - off < DECODE_PIECE ? chars - off : DECODE_PIECE;
                int got =
                        EVP_DecodeBlock(out + done, (const unsigned char *) in + off, (int) piece);

                assert(got >= 0 && (size_t) got == piece / 4 * 3);
                done += (size_t) got;
        }
        if (packed) {
                explicit_bzero(packed, chars);
                free(packed);
        }
        /* EVP_DecodeBlock decodes the padding too (as zero bits): drop those bytes. */
        done -= pad;
        memset(out + done, 0, cap + 1 - done);
        *ret_len = done;
        return out;
}
