/* Public key material, read and written as OpenSSH and EC2 do (reference/ec2-ami.md §6.10).
 *
 * Import takes an OpenSSH authorized_keys line (ssh-rsa or ssh-ed25519, without options), the
 * same line base64-encoded (what the aws CLI sends for fileb://), and for RSA an RFC 4716 block,
 * a PEM public key (SubjectPublicKeyInfo "PUBLIC KEY" or PKCS#1 "RSA PUBLIC KEY") or the base64
 * of either DER. Every form becomes an OpenSSH line, which is then read as OpenSSH reads a key
 * (sshkey_from_blob): the whole blob, the type it names, mpints that are not negative, an
 * ED25519 key of 32 bytes, nothing left over. A line given as such is kept as given; a
 * converted key is written out anew, as `ssh-keygen -i` would write it.
 *
 * The PEM and DER forms go through libcrypto's own readers (PEM_read_bio_PUBKEY, d2i_PUBKEY,
 * d2i_PublicKey): the same that ssh-keygen 9.2 uses for them. Refusals are all
 * InvalidKeyPair.Format; DSA, ECDSA and RSA of another size say so. */
#include <assert.h>
#include <ctype.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "keypair/keypair-private.h"
#include "util/util.h"

#define MATERIAL_MAX      65536
#define FORMAT_ERROR_TEXT "Key is not in valid OpenSSH public key format"
#define ED25519_KEY_LEN   32
#define MPINT_MAX         2049 /* bytes: OpenSSH's 16384-bit limit, and a sign byte */

keypair_pkey *keypair_pkey_free(keypair_pkey *k)
{
        EVP_PKEY_free(k);
        return NULL;
}

keypair_bio *keypair_bio_free(keypair_bio *b)
{
        BIO_free(b);
        return NULL;
}

typedef BIGNUM keypair_bn;
static keypair_bn *keypair_bn_free(keypair_bn *b)
{
        BN_free(b);
        return NULL;
}
KILN_DEFINE_AUTOPTR(keypair_bn, keypair_bn_free)

int keypair_no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
        (void) buf, (void) size, (void) rwflag, (void) userdata;
        return -1;
}

int keypair_format_error(kiln_error **err, const char *why)
{
        if (why)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidKeyPair.Format",
                                      FORMAT_ERROR_TEXT ": %s", why);
        return kiln_error_set(err, KILN_E_INVALID, "InvalidKeyPair.Format", FORMAT_ERROR_TEXT);
}

/* The refusal of a key type kiln does not take; 0 for ssh-rsa and ssh-ed25519. */
static int check_type(const char *type, kiln_error **err)
{
        if (strcmp(type, "ssh-dss") == 0)
                return keypair_format_error(err, "DSA keys are not supported; import an RSA "
                                                 "(1024, 2048 or 4096 bits) or ED25519 key");
        if (strncmp(type, "ecdsa-", 6) == 0 || strncmp(type, "sk-", 3) == 0)
                return keypair_format_error(err, "only RSA (1024, 2048 or 4096 bits) and ED25519 "
                                                 "keys are supported");
        if (strcmp(type, "ssh-rsa") != 0 && strcmp(type, "ssh-ed25519") != 0)
                return keypair_format_error(err, NULL);
        return 0;
}

static void trim_end(char *s)
{
        size_t n = s ? strlen(s) : 0;

        while (n > 0 && isspace((unsigned char) s[n - 1]))
                s[--n] = '\0';
}

/* ==== the SSH wire format ==== */

void keypair_wire_raw(keypair_wire *w, const void *data, size_t n)
{
        if (w->p) {
                assert(n <= w->cap - w->len);
                if (n)
                        memcpy(w->p + w->len, data, n);
        }
        w->len += n;
}

void keypair_wire_u32(keypair_wire *w, uint32_t v)
{
        unsigned char b[4] = {(unsigned char) (v >> 24), (unsigned char) (v >> 16),
                              (unsigned char) (v >> 8), (unsigned char) v};

        keypair_wire_raw(w, b, sizeof(b));
}

void keypair_wire_string(keypair_wire *w, const void *data, size_t n)
{
        assert(n <= UINT32_MAX);
        keypair_wire_u32(w, (uint32_t) n);
        keypair_wire_raw(w, data, n);
}

void keypair_wire_mpint(keypair_wire *w, const unsigned char *be, size_t n)
{
        static const unsigned char zero = 0;
        bool sign;

        while (n > 0 && be[0] == 0) {
                be++;
                n--;
        }
        sign = n > 0 && (be[0] & 0x80);
        keypair_wire_u32(w, (uint32_t) (n + sign));
        if (sign)
                keypair_wire_raw(w, &zero, 1);
        keypair_wire_raw(w, be, n);
}

void keypair_wire_alloc(keypair_wire *w)
{
        assert(!w->p);
        w->cap = w->len;
        w->p = kiln_xmalloc(w->cap ? w->cap : 1);
        w->len = 0;
}

void keypair_wire_clear(keypair_wire *w)
{
        if (w->p) {
                explicit_bzero(w->p, w->cap);
                free(w->p);
        }
        memset(w, 0, sizeof(*w));
}

/* Reading: the next SSH string of *p (*n bytes left), advancing past it. */
static bool wire_string(const unsigned char **p, size_t *n, const unsigned char **ret,
                        size_t *ret_len)
{
        size_t len;

        if (*n < 4)
                return false;
        len = (size_t) (*p)[0] << 24 | (size_t) (*p)[1] << 16 | (size_t) (*p)[2] << 8 | (*p)[3];
        if (*n - 4 < len)
                return false;
        *ret = *p + 4;
        *ret_len = len;
        *p += 4 + len;
        *n -= 4 + len;
        return true;
}

/* An mpint as OpenSSH reads one: not negative, not past its size limit; *ret is the magnitude
 * without its leading zeros. */
static bool wire_mpint(const unsigned char **p, size_t *n, const unsigned char **ret,
                       size_t *ret_len)
{
        const unsigned char *d = NULL;
        size_t len = 0;

        if (!wire_string(p, n, &d, &len))
                return false;
        if ((len > 0 && (d[0] & 0x80)) || len > MPINT_MAX || (len == MPINT_MAX && d[0] != 0))
                return false;
        while (len > 0 && d[0] == 0) {
                d++;
                len--;
        }
        *ret = d;
        *ret_len = len;
        return true;
}

/* ==== keys and lines ==== */

static keypair_pkey *rsa_from_numbers(const unsigned char *n, size_t n_len, const unsigned char *e,
                                      size_t e_len)
{
        kiln_autoptr(keypair_bn) bn_n = BN_bin2bn(n, (int) n_len, NULL);
        kiln_autoptr(keypair_bn) bn_e = BN_bin2bn(e, (int) e_len, NULL);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM *params = NULL;
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        EVP_PKEY *pkey = NULL;

        if (bn_n && bn_e && bld && ctx &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
                params = OSSL_PARAM_BLD_to_param(bld);
        if (params && EVP_PKEY_fromdata_init(ctx) == 1 &&
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
                pkey = NULL;
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        EVP_PKEY_CTX_free(ctx);
        return pkey;
}

/* The key of a blob of type ssh-rsa or ssh-ed25519 (sshkey_from_blob's checks). */
static int blob_key(const unsigned char *blob, size_t len, keypair_pkey **ret, kiln_error **err)
{
        const unsigned char *p = blob, *type = NULL, *e = NULL, *n = NULL, *pk = NULL;
        size_t left = len, type_len = 0, e_len = 0, n_len = 0, pk_len = 0;
        keypair_pkey *pkey = NULL;

        if (!wire_string(&p, &left, &type, &type_len))
                return keypair_format_error(err, NULL);
        if (type_len == 7 && memcmp(type, "ssh-rsa", 7) == 0) {
                if (wire_mpint(&p, &left, &e, &e_len) && wire_mpint(&p, &left, &n, &n_len) &&
                    left == 0)
                        pkey = rsa_from_numbers(n, n_len, e, e_len);
        } else if (type_len == 11 && memcmp(type, "ssh-ed25519", 11) == 0) {
                if (wire_string(&p, &left, &pk, &pk_len) && pk_len == ED25519_KEY_LEN && left == 0)
                        pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk, pk_len);
        }
        if (!pkey) {
                ERR_clear_error();
                return keypair_format_error(err, NULL);
        }
        *ret = pkey;
        return 0;
}

int keypair_line_split(const char *line, char **ret_type, char **ret_b64, unsigned char **ret_blob,
                       size_t *ret_blob_len, kiln_error **err)
{
        size_t tlen = line ? strcspn(line, " \t") : 0;
        const char *b = line ? line + tlen : NULL;
        kiln_autofree char *type = NULL;
        kiln_autofree unsigned char *blob = NULL;
        const unsigned char *p = NULL, *inner = NULL;
        size_t blen = 0, n, left = 0, inner_len = 0;

        if (!line)
                return keypair_format_error(err, NULL);
        type = kiln_xstrndup(line, tlen);
        if (check_type(type, err) < 0)
                return -1;
        b += strspn(b, " \t");
        n = strcspn(b, " \t");
        blob = kiln_base64_decode(b, n, false, &blen);
        p = blob;
        left = blen;
        if (!blob || !wire_string(&p, &left, &inner, &inner_len) || inner_len != tlen ||
            memcmp(inner, type, tlen) != 0)
                return keypair_format_error(err, NULL);
        if (ret_type)
                *ret_type = kiln_steal(&type);
        if (ret_b64)
                *ret_b64 = kiln_xstrndup(b, n);
        *ret_blob = kiln_steal(&blob);
        *ret_blob_len = blen;
        return 0;
}

int keypair_line_key(const char *line, keypair_pkey **ret, kiln_error **err)
{
        kiln_autofree unsigned char *blob = NULL;
        size_t len = 0;

        if (keypair_line_split(line, NULL, NULL, &blob, &len, err) < 0)
                return -1;
        return blob_key(blob, len, ret, err);
}

/* The blob of an RSA or ED25519 key, into w (see keypair_wire). */
static int key_blob(const keypair_pkey *pkey, keypair_wire *w, kiln_error **err)
{
        if (EVP_PKEY_is_a(pkey, "ED25519")) {
                unsigned char pk[ED25519_KEY_LEN];
                size_t len = sizeof(pk);

                if (EVP_PKEY_get_raw_public_key(pkey, pk, &len) != 1 || len != sizeof(pk)) {
                        kiln_autofree char *why = kiln_crypto_error();

                        return kiln_error_set(err, KILN_E_IO, NULL,
                                              "cannot read an ED25519 public key: %s", why);
                }
                keypair_wire_string(w, "ssh-ed25519", 11);
                keypair_wire_string(w, pk, len);
                return 0;
        }
        if (EVP_PKEY_is_a(pkey, "RSA")) {
                kiln_autoptr(keypair_bn) n = NULL;
                kiln_autoptr(keypair_bn) e = NULL;
                kiln_autofree unsigned char *nb = NULL, *eb = NULL;

                if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
                    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
                        kiln_autofree char *why = kiln_crypto_error();

                        return kiln_error_set(err, KILN_E_IO, NULL,
                                              "cannot read an RSA public key: %s", why);
                }
                nb = kiln_xmalloc((size_t) BN_num_bytes(n) + 1);
                eb = kiln_xmalloc((size_t) BN_num_bytes(e) + 1);
                keypair_wire_string(w, "ssh-rsa", 7);
                keypair_wire_mpint(w, eb, (size_t) BN_bn2bin(e, eb));
                keypair_wire_mpint(w, nb, (size_t) BN_bn2bin(n, nb));
                return 0;
        }
        return kiln_error_set(err, KILN_E_INTERNAL, NULL, "not an RSA or ED25519 key");
}

char *keypair_key_line(const keypair_pkey *pkey, kiln_error **err)
{
        keypair_wire w = {0};
        kiln_autofree char *b64 = NULL;

        if (key_blob(pkey, &w, err) < 0)
                return NULL;
        keypair_wire_alloc(&w);
        if (key_blob(pkey, &w, err) < 0) {
                keypair_wire_clear(&w);
                return NULL;
        }
        assert(w.len == w.cap);
        b64 = kiln_base64_encode(w.p, w.len, true);
        keypair_wire_clear(&w);
        return kiln_xasprintf("%s %s", EVP_PKEY_is_a(pkey, "RSA") ? "ssh-rsa" : "ssh-ed25519", b64);
}

/* ==== the forms of import material ==== */

static bool all_base64(const char *s)
{
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (!isspace(c) && c != '=' && !isalnum(c) && c != '+' && c != '/')
                        return false;
        }
        return true;
}

/* A key libcrypto read from PEM or DER as an OpenSSH line: RSA is converted; DSA and the ECDSA
 * curves OpenSSH knows get their own refusal, as the line ssh-keygen would write gets. */
static int pkey_to_line(const keypair_pkey *pkey, char **ret_line, kiln_error **err)
{
        static const char *const ssh_curves[] = {"prime256v1", "secp384r1", "secp521r1"};
        char curve[64] = "";

        if (EVP_PKEY_is_a(pkey, "RSA")) {
                *ret_line = keypair_key_line(pkey, err);
                return *ret_line ? 0 : -1;
        }
        if (EVP_PKEY_is_a(pkey, "DSA"))
                return check_type("ssh-dss", err);
        if (EVP_PKEY_is_a(pkey, "EC") &&
            EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof(curve),
                                           NULL) == 1)
                for (size_t i = 0; i < KILN_ARRAY_SIZE(ssh_curves); i++)
                        if (strcmp(curve, ssh_curves[i]) == 0)
                                return check_type("ecdsa-sha2-nistp256", err);
        return keypair_format_error(err, NULL);
}

/* PEM armour: the first block labelled "PUBLIC KEY" (SubjectPublicKeyInfo) or "RSA PUBLIC KEY"
 * (PKCS#1), as ssh-keygen -i -m PKCS8 or -m PEM reads it. */
static int pem_to_line(const char *text, bool pkcs1, char **ret_line, kiln_error **err)
{
        kiln_autoptr(keypair_bio) bio = BIO_new_mem_buf(text, -1);
        kiln_autoptr(keypair_pkey) pkey = NULL;
        unsigned char *der = NULL;
        long len = 0;

        if (!bio)
                return kiln_error_set(err, KILN_E_IO, NULL, "libcrypto cannot read memory");
        if (!pkcs1) {
                pkey = PEM_read_bio_PUBKEY(bio, NULL, keypair_no_passphrase, NULL);
        } else if (PEM_bytes_read_bio(&der, &len, NULL, PEM_STRING_RSA_PUBLIC, bio,
                                      keypair_no_passphrase, NULL) == 1) {
                const unsigned char *p = der;

                pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, len);
                OPENSSL_free(der);
        }
        if (!pkey)
                return keypair_format_error(err, NULL);
        return pkey_to_line(pkey, ret_line, err);
}

/* The DER of an RSA public key: SubjectPublicKeyInfo (as EC2's docs have it) or PKCS#1. */
static int der_to_line(const unsigned char *der, size_t len, char **ret_line, kiln_error **err)
{
        const unsigned char *p = der;
        kiln_autoptr(keypair_pkey) pkey = d2i_PUBKEY(NULL, &p, (long) len);

        if (!pkey) {
                p = der;
                pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long) len);
        }
        if (!pkey)
                return keypair_format_error(err, NULL);
        return pkey_to_line(pkey, ret_line, err);
}

/* The blob of an RFC 4716 block: header lines ("Tag: value", continued by a final '\') are
 * skipped, the body ends at the END line, which must be there. A private key (SSH.COM's
 * "BEGIN SSH2 ENCRYPTED PRIVATE KEY" inside) is refused. */
static int rfc4716_to_line(const char *text, char **ret_line, kiln_error **err)
{
        kiln_buf body = {0};
        kiln_autofree unsigned char *blob = NULL;
        kiln_autofree char *type = NULL, *b64 = NULL;
        kiln_autoptr(keypair_pkey) pkey = NULL;
        const unsigned char *p = NULL, *t = NULL;
        size_t len = 0, left = 0, tlen = 0;
        bool ended = false, continued = false, private = false;

        text += strcspn(text, "\n"); /* the BEGIN line */
        while (*text && !ended) {
                size_t n;
                const char *line = ++text;

                n = strcspn(line, "\n");
                text += n;
                while (n > 0 && line[n - 1] == '\r')
                        n--;
                if (continued) {
                        continued = n > 0 && line[n - 1] == '\\';
                } else if ((n >= 4 && strncmp(line, "----", 4) == 0) || memmem(line, n, ": ", 2)) {
                        private = private || memmem(line, n, "PRIVATE KEY", 11);
                        ended = memmem(line, n, " END ", 5) != NULL;
                        continued = line[n - 1] == '\\';
                } else {
                        kiln_buf_append(&body, line, n);
                }
        }
        /* ssh-keygen drops a "===" that ends a body of 4n+3 characters (old SSH.COM keys) */
        if (body.len % 4 == 3 && body.len >= 3 && memcmp(body.data + body.len - 3, "===", 3) == 0) {
                body.len -= 3;
                body.data[body.len] = '\0';
        }
        if (ended && !private && body.len)
                blob = kiln_base64_decode(body.data, body.len, true, &len);
        kiln_buf_clear(&body);
        p = blob;
        left = len;
        if (!blob || !wire_string(&p, &left, &t, &tlen))
                return keypair_format_error(err, NULL);
        type = kiln_xstrndup((const char *) t, tlen);
        if (strcmp(type, "ssh-rsa") != 0 && strcmp(type, "ssh-ed25519") != 0) {
                /* another type: refused with its name (DSA, ECDSA) by the line check */
                b64 = kiln_base64_encode(blob, len, true);
                *ret_line = kiln_xasprintf("%s %s", type, b64);
                return 0;
        }
        if (blob_key(blob, len, &pkey, err) < 0)
                return -1;
        *ret_line = keypair_key_line(pkey, err);
        return *ret_line ? 0 : -1;
}

/* Any accepted form to an OpenSSH line; rsa_only is set for the forms EC2 takes for RSA. */
static int material_to_line(const char *s, bool nested, char **ret_line, bool *rsa_only,
                            kiln_error **err)
{
        if (strncmp(s, "---- BEGIN SSH2 PUBLIC KEY ----", 31) == 0) {
                *rsa_only = true;
                return rfc4716_to_line(s, ret_line, err);
        }
        if (strncmp(s, "-----BEGIN PUBLIC KEY-----", 26) == 0) {
                *rsa_only = true;
                return pem_to_line(s, false, ret_line, err);
        }
        if (strncmp(s, "-----BEGIN RSA PUBLIC KEY-----", 30) == 0) {
                *rsa_only = true;
                return pem_to_line(s, true, ret_line, err);
        }
        if (!nested && all_base64(s)) {
                size_t n = 0;
                kiln_autofree unsigned char *raw = kiln_base64_decode(s, strlen(s), true, &n);
                kiln_autofree char *text = NULL;

                if (!raw)
                        return keypair_format_error(err, NULL);
                if (n > 4 && memcmp(raw, "ssh-", 4) == 0 && !memchr(raw, '\0', n)) {
                        /* the aws CLI's blob: the OpenSSH line, base64-encoded */
                        text = kiln_xstrdup((const char *) raw);
                        trim_end(text);
                        return material_to_line(text, true, ret_line, rsa_only, err);
                }
                if (raw[0] != 0x30)
                        return keypair_format_error(err, NULL);
                *rsa_only = true;
                return der_to_line(raw, n, ret_line, err);
        }
        *ret_line = kiln_xstrdup(s);
        return 0;
}

void keypair_public_clear(keypair_public *p)
{
        free(p->key_type);
        free(p->line);
        memset(p, 0, sizeof(*p));
}

static int parse_public(const char *material, keypair_public *ret, kiln_error **err)
{
        kiln_autofree char *s = NULL, *line = NULL, *type = NULL, *b64 = NULL;
        kiln_autofree unsigned char *blob = NULL;
        kiln_autoptr(keypair_pkey) pkey = NULL;
        bool rsa_only = false, rsa;
        size_t blen = 0;
        int bits;

        if (!material)
                return keypair_format_error(err, NULL);
        s = kiln_xstrdup(material + strspn(material, " \t\r\n"));
        trim_end(s);
        if (!*s || strlen(s) > MATERIAL_MAX)
                return keypair_format_error(err, NULL);
        if (material_to_line(s, false, &line, &rsa_only, err) < 0)
                return -1;
        assert(line);
        if (strchr(line, '\n'))
                return keypair_format_error(err, NULL); /* one key only */
        if (keypair_line_split(line, &type, &b64, &blob, &blen, err) < 0)
                return -1;
        assert(type && b64 && blob);
        rsa = strcmp(type, "ssh-rsa") == 0;
        if (rsa_only && !rsa)
                return keypair_format_error(err, "only RSA keys are accepted in this form");
        /* the key itself: a blob that names its type but holds garbage stops here */
        if (blob_key(blob, blen, &pkey, err) < 0)
                return -1;
        bits = rsa ? EVP_PKEY_get_bits(pkey) : 256;
        if (rsa && bits != 1024 && bits != 2048 && bits != 4096) {
                kiln_autofree char *why = kiln_xasprintf(
                        "RSA keys must have 1024, 2048 or 4096 bits, this one has %d", bits);

                return keypair_format_error(err, why);
        }
        ret->key_type = kiln_xstrdup(rsa ? "rsa" : "ed25519");
        ret->line = kiln_xasprintf("%s %s", type, b64);
        ret->bits = bits;
        return 0;
}

int keypair_parse_public(const char *material, keypair_public *ret, kiln_error **err)
{
        keypair_public p = {0};
        int r = parse_public(material, &p, err);

        /* libcrypto's readers leave what they tried and refused in its error queue */
        ERR_clear_error();
        if (r == 0)
                *ret = p;
        return r;
}
