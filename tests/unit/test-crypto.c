/* Digests and base64 (util/crypto.c): the published test vectors of MD5 (RFC 1321), SHA-1 and
 * SHA-256 (FIPS 180), colon hex, RFC 4648's base64 vectors with and without padding, round
 * trips of every length up to 300 bytes and of input longer than one EVP call takes, white
 * space where it is allowed, and the text strict decoding refuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "util/util.h"

static char *hex_of(kiln_digest_alg alg, const void *data, size_t len)
{
        unsigned char md[KILN_DIGEST_MAX];
        kiln_autoptr(kiln_error) e = NULL;
        size_t n = 0;

        if (kiln_digest(alg, data, len, md, &n, &e) < 0) {
                printf("# %s\n", e->msg);
                return NULL;
        }
        return kiln_hex_colon(md, n);
}

static void test_digests(void)
{
        static const struct {
                kiln_digest_alg alg;
                const char *in, *want;
        } v[] = {
                {KILN_DIGEST_MD5, "", "d4:1d:8c:d9:8f:00:b2:04:e9:80:09:98:ec:f8:42:7e"},
                {KILN_DIGEST_MD5, "abc", "90:01:50:98:3c:d2:4f:b0:d6:96:3f:7d:28:e1:7f:72"},
                {KILN_DIGEST_MD5, "message digest",
                 "f9:6b:69:7d:7c:b7:93:8d:52:5a:2f:31:aa:f1:61:d0"},
                {KILN_DIGEST_SHA1, "",
                 "da:39:a3:ee:5e:6b:4b:0d:32:55:bf:ef:95:60:18:90:af:d8:07:09"},
                {KILN_DIGEST_SHA1, "abc",
                 "a9:99:3e:36:47:06:81:6a:ba:3e:25:71:78:50:c2:6c:9c:d0:d8:9d"},
                {KILN_DIGEST_SHA256, "",
                 "e3:b0:c4:42:98:fc:1c:14:9a:fb:f4:c8:99:6f:b9:24:27:ae:41:e4:64:9b:93:4c:a4:95:99:"
                 "1b:"
                 "78:52:b8:55"},
                {KILN_DIGEST_SHA256, "abc",
                 "ba:78:16:bf:8f:01:cf:ea:41:41:40:de:5d:ae:22:23:b0:03:61:a3:96:17:7a:9c:b4:10:ff:"
                 "61:"
                 "f2:00:15:ad"},
                {KILN_DIGEST_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                 "24:8d:6a:61:d2:06:38:b8:e5:c0:26:93:0c:3e:60:39:a3:3c:e4:59:64:ff:21:67:f6:ec:ed:"
                 "d4:"
                 "19:db:06:c1"},
        };
        static const char *const names[] = {"MD5", "SHA-1", "SHA-256"};

        for (size_t i = 0; i < KILN_ARRAY_SIZE(v); i++) {
                kiln_autofree char *got = hex_of(v[i].alg, v[i].in, strlen(v[i].in));

                is_str(got, v[i].want, "%s of '%s'", names[v[i].alg], v[i].in);
        }
        {
                /* FIPS 180's long vector: a million 'a' */
                size_t n = 1000000;
                kiln_autofree char *a = kiln_xmalloc(n);
                kiln_autofree char *got = NULL;

                memset(a, 'a', n);
                got = hex_of(KILN_DIGEST_SHA256, a, n);
                is_str(got,
                       "cd:c7:6e:5c:99:14:fb:92:81:a1:c7:e2:84:d7:3e:67:f1:80:9a:48:a4:97:20:0e:04:"
                       "6d:"
                       "39:cc:c7:11:2c:d0",
                       "SHA-256 of a million 'a'");
        }
        {
                unsigned char md[KILN_DIGEST_MAX];
                size_t n = 0;

                is_int(kiln_digest(KILN_DIGEST_SHA1, "x", 1, md, &n, NULL), 0, "a digest");
                is_int((long long) n, 20, "  says its size");
        }
}

static void test_hex(void)
{
        static const unsigned char b[] = {0x00, 0x0a, 0xff, 0x7f};
        kiln_autofree char *four = kiln_hex_colon(b, sizeof(b));
        kiln_autofree char *one = kiln_hex_colon(b + 2, 1);
        kiln_autofree char *none = kiln_hex_colon(b, 0);

        is_str(four, "00:0a:ff:7f", "colon hex, lowercase");
        is_str(one, "ff", "one byte has no colon");
        is_str(none, "", "no bytes, an empty string");
}

static void test_base64_vectors(void)
{
        /* RFC 4648 §10 */
        static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
        static const char *const padded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                             "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
        static const char *const bare[] = {"",       "Zg",      "Zm8",     "Zm9v",
                                           "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};

        for (size_t i = 0; i < KILN_ARRAY_SIZE(plain); i++) {
                kiln_autofree char *p = kiln_base64_encode(plain[i], strlen(plain[i]), true);
                kiln_autofree char *b = kiln_base64_encode(plain[i], strlen(plain[i]), false);

                is_str(p, padded[i], "base64 of '%s'", plain[i]);
                is_str(b, bare[i], "  without padding");
        }
        for (size_t i = 1; i < KILN_ARRAY_SIZE(plain); i++) {
                size_t n = 0;
                kiln_autofree unsigned char *d =
                        kiln_base64_decode(padded[i], strlen(padded[i]), false, &n);

                ok(d && n == strlen(plain[i]) && memcmp(d, plain[i], n) == 0 && d[n] == '\0',
                   "'%s' decodes to '%s', followed by a NUL", padded[i], plain[i]);
        }
        {
                static const unsigned char all[] = {0xfb, 0xff, 0xbf};
                kiln_autofree char *s = kiln_base64_encode(all, sizeof(all), true);

                is_str(s, "+/+/", "the alphabet's '+' and '/'");
        }
}

static void test_base64_round_trips(void)
{
        unsigned char buf[300];
        size_t bad = 0, n_big = ((size_t) 5 << 20) + 2; /* more than one EVP call per direction */
        kiln_autofree unsigned char *big = kiln_xmalloc(n_big);
        kiln_autofree char *big64 = NULL;
        kiln_autofree unsigned char *back = NULL;
        size_t n_back = 0;

        srand(12);
        for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (unsigned char) rand();
        for (size_t len = 1; len <= sizeof(buf); len++) {
                kiln_autofree char *s = kiln_base64_encode(buf, len, true);
                kiln_autofree char *u = kiln_base64_encode(buf, len, false);
                kiln_autofree unsigned char *d = NULL;
                size_t n = 0;

                d = kiln_base64_decode(s, strlen(s), false, &n);
                if (!d || n != len || memcmp(d, buf, len) != 0 || strlen(s) % 4 != 0 ||
                    strncmp(s, u, strlen(u)) != 0 || strchr(u, '='))
                        bad++;
        }
        is_int((long long) bad, 0, "every length from 1 to 300 bytes goes there and back");
        for (size_t i = 0; i < n_big; i++)
                big[i] = (unsigned char) (i * 7 + (i >> 9));
        big64 = kiln_base64_encode(big, n_big, true);
        is_int((long long) strlen(big64), (long long) ((n_big + 2) / 3 * 4),
               "5 MiB encode in whole groups");
        back = kiln_base64_decode(big64, strlen(big64), false, &n_back);
        ok(back && n_back == n_big && memcmp(back, big, n_big) == 0, "  and decode back");
}

static void test_base64_space(void)
{
        static const char spaced[] = " Zm9v\nYmFy\r\n\tZg== \n";
        size_t n = 0;
        kiln_autofree unsigned char *d = kiln_base64_decode(spaced, strlen(spaced), true, &n);
        kiln_autofree unsigned char *strict = kiln_base64_decode(spaced, strlen(spaced), false, &n);
        kiln_autofree unsigned char *part = NULL;

        ok(d && strcmp((const char *) d, "foobarf") == 0, "white space is skipped when asked");
        ok(strict == NULL, "  and refused otherwise");
        part = kiln_base64_decode("Zm9vYmFy", 4, false, &n);
        ok(part && n == 3 && memcmp(part, "foo", 3) == 0, "only the n characters given are read");
}

static void test_base64_refused(void)
{
#define TEXT(s)                                                                                    \
        {                                                                                          \
                s, sizeof(s) - 1                                                                   \
        }
        static const struct {
                const char *s;
                size_t n;
        } bad[] = {
                TEXT(""),         TEXT("="),         TEXT("=="),
                TEXT("===="),     TEXT("Zg"),        TEXT("Zg="),
                TEXT("Zm9"),      TEXT("Zg==="),     TEXT("Z==="),
                TEXT("Zg=a"),     TEXT("Zg==Zg=="),  TEXT("Zm9v!YmFy"),
                TEXT("Zm9v-_Fy"), TEXT("Zm 9v"),     TEXT(" Zm9v"),
                TEXT("Zm9v\n"),   TEXT("Zm9v\0AAA"), TEXT("\xc3\xa9\xc3\xa9"),
        };
#undef TEXT

        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                size_t n = 0;
                kiln_autofree unsigned char *d = kiln_base64_decode(bad[i].s, bad[i].n, false, &n);

                ok(d == NULL, "bad base64 %zu is refused", i);
        }
        {
                size_t n = 0;
                kiln_autofree unsigned char *d = kiln_base64_decode(NULL, 0, true, &n);
                kiln_autofree unsigned char *sp = kiln_base64_decode(" \n ", 3, true, &n);

                ok(d == NULL, "NULL is refused");
                ok(sp == NULL, "white space alone is refused");
        }
}

static void test_crypto_error(void)
{
        kiln_autofree char *none = kiln_crypto_error();

        ok(none && *none, "a reason even when libcrypto has none");
}

int main(void)
{
        test_digests();
        test_hex();
        test_base64_vectors();
        test_base64_round_trips();
        test_base64_space();
        test_base64_refused();
        test_crypto_error();
        return done();
}
