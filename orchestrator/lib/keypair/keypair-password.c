/* Windows passwords, as EC2 hands them out (reference/ec2-ami.md §6.11): kiln makes the
 * Administrator's password, gives it to the guest in the clear (on its config drive, for
 * cloudbase-init), and keeps only the password encrypted with the launch key pair's RSA public
 * key, PKCS#1 v1.5, in base64: GetPasswordData's PasswordData, which `aws ec2 get-password-data
 * --priv-launch-key KEY.pem` decrypts (awscli/customizations/ec2/decryptpassword.py: the PEM
 * read by cryptography's load_pem_private_key without a passphrase, base64 decoded, decrypted
 * with PKCS1v15, then UTF-8). kiln_password_decrypt does the same for kiln's CLI.
 *
 * The password: KEYPAIR_PASSWORD_LEN characters drawn uniformly (rejection sampling of the
 * kernel's random bytes, so no character is likelier than another) from letters, digits and
 * KEYPAIR_PASSWORD_SYMBOLS, starting with a letter, redrawn until it meets Windows' complexity
 * rule (passfilt.dll: characters of three of the classes upper case, lower case, digit,
 * symbol, and not the account's name; kiln's hold all four and never "admin", which the names
 * of the Administrator account in every language begin with). The symbols are those a shell,
 * cmd.exe, PowerShell and xfreerdp's /p: take literally in the middle of a word, so the
 * password can be pasted unquoted: no '!' (bash history, cmd's delayed expansion), '%' (cmd
 * variables), '*' or '?' (globs), '#' (a comment at a word's start), '=' or ',' (cmd's and
 * PowerShell's separators), no quotes, brackets, '$', '&', '|', '<', '>', '^', '`', '~' or
 * '\'; and since the first character is a letter, '-' (an option) and '@' (PowerShell's
 * splatting) never start it.
 *
 * Secrets (the password, decrypted bytes) are wiped before they are freed; the private key is
 * only read through libcrypto, which clears its key material when the key is freed. */
#include <assert.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <kiln/text.h>

#include "keypair/keypair-private.h"
#include "util/util.h"

#define PASSWORD_UPPER   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define PASSWORD_LOWER   "abcdefghijklmnopqrstuvwxyz"
#define PASSWORD_DIGITS  "0123456789"
#define PASSWORD_LETTERS PASSWORD_UPPER PASSWORD_LOWER
#define PASSWORD_ALL     PASSWORD_LETTERS PASSWORD_DIGITS KEYPAIR_PASSWORD_SYMBOLS
#define PKCS1_OVERHEAD   11 /* bytes of PKCS#1 v1.5 padding at least (RFC 8017 §7.2.1) */
#define DECRYPT_FAILED   "Unable to decrypt password data using provided private key file"
#define OPENSSH_MAGIC    "openssh-key-v1"
#define OPENSSH_BEGIN    "-----BEGIN OPENSSH PRIVATE KEY-----"

typedef EVP_PKEY_CTX keypair_pkey_ctx;
static keypair_pkey_ctx *keypair_pkey_ctx_free(keypair_pkey_ctx *c)
{
        EVP_PKEY_CTX_free(c);
        return NULL;
}
KILN_DEFINE_AUTOPTR(keypair_pkey_ctx, keypair_pkey_ctx_free)

static int crypto_failed(kiln_error **err, const char *what)
{
        kiln_autofree char *why = kiln_crypto_error();

        return kiln_error_set(err, KILN_E_IO, NULL, "libcrypto cannot %s: %s", what, why);
}

/* ==== the password ==== */

/* Random bytes fetched a block at a time. */
typedef struct password_pool {
        unsigned char b[64];
        size_t at;
} password_pool;

/* A uniform index below n (2 to 256): bytes at or above the largest multiple of n that fits
 * in a byte are thrown away, so that every index has the same number of byte values. */
static size_t pool_below(password_pool *p, size_t n)
{
        size_t limit = 256 - 256 % n;

        assert(n >= 2 && n <= 256);
        for (;;) {
                size_t v;

                if (p->at == sizeof(p->b)) {
                        kiln_random_bytes(p->b, sizeof(p->b));
                        p->at = 0;
                }
                v = p->b[p->at++];
                if (v < limit)
                        return v % n;
        }
}

static bool has_any(const char *s, const char *set)
{
        return s[strcspn(s, set)] != '\0';
}

/* Every class, and no "admin" in any case. */
static bool password_ok(const char *s)
{
        return has_any(s, PASSWORD_UPPER) && has_any(s, PASSWORD_LOWER) &&
               has_any(s, PASSWORD_DIGITS) && has_any(s, KEYPAIR_PASSWORD_SYMBOLS) &&
               !strcasestr(s, "admin");
}

char *keypair_password_new(void)
{
        static const char letters[] = PASSWORD_LETTERS, all[] = PASSWORD_ALL;
        password_pool pool = {.at = sizeof(pool.b)};
        char *s = kiln_xmalloc(KEYPAIR_PASSWORD_LEN + 1);

        do {
                s[0] = letters[pool_below(&pool, sizeof(letters) - 1)];
                for (size_t i = 1; i < KEYPAIR_PASSWORD_LEN; i++)
                        s[i] = all[pool_below(&pool, sizeof(all) - 1)];
                s[KEYPAIR_PASSWORD_LEN] = '\0';
        } while (!password_ok(s));
        explicit_bzero(&pool, sizeof(pool));
        return s;
}

/* ==== encrypting with the launch key ==== */

int keypair_encrypt_for(const char *public_key_line, const void *data, size_t len,
                        char **ret_base64, kiln_error **err)
{
        kiln_autoptr(keypair_pkey) pkey = NULL;
        kiln_autoptr(keypair_pkey_ctx) ctx = NULL;
        kiln_autofree unsigned char *out = NULL;
        size_t out_len = 0;
        int size;

        assert(data || len == 0);
        if (keypair_line_key(public_key_line, &pkey, err) < 0)
                return -1;
        if (!EVP_PKEY_is_a(pkey, "RSA"))
                return kiln_error_set(err, KILN_E_INVALID, "Unsupported",
                                      "ED25519 key pairs are not supported with Windows AMIs. "
                                      "Choose a different key pair type and try again.");
        size = EVP_PKEY_get_size(pkey);
        if (size <= PKCS1_OVERHEAD || len > (size_t) size - PKCS1_OVERHEAD)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "%zu bytes are too many to encrypt with a %d-bit RSA key "
                                      "(at most %d)",
                                      len, EVP_PKEY_get_bits(pkey),
                                      size > PKCS1_OVERHEAD ? size - PKCS1_OVERHEAD : 0);
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        if (!ctx || EVP_PKEY_encrypt_init(ctx) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
            EVP_PKEY_encrypt(ctx, NULL, &out_len, data, len) != 1)
                return crypto_failed(err, "set up RSA encryption");
        out = kiln_xmalloc(out_len);
        if (EVP_PKEY_encrypt(ctx, out, &out_len, data, len) != 1)
                return crypto_failed(err, "encrypt with an RSA key");
        *ret_base64 = kiln_base64(out, out_len);
        return 0;
}

/* ==== decrypting with the private key ==== */

/* The next SSH string of *p (*n bytes left), advancing past it. */
static bool next_string(const unsigned char **p, size_t *n, const unsigned char **ret,
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

/* The refusal of a private key in OpenSSH's own format (PROTOCOL.key), which neither the aws
 * CLI nor libcrypto reads: what ssh-keygen writes by default, and kiln for ED25519 key pairs.
 * The key's type is in the clear (the public key's blob), so the refusal can say which. */
static int openssh_refusal(const char *pem, kiln_error **err)
{
        const char *body = strstr(pem, OPENSSH_BEGIN) + strlen(OPENSSH_BEGIN);
        const char *end = strstr(body, "-----END ");
        kiln_autofree unsigned char *raw = NULL;
        const unsigned char *p = NULL, *s = NULL, *type = NULL;
        size_t raw_len = 0, n = 0, len = 0, type_len = 0;
        bool rsa = false;

        if (end)
                raw = kiln_base64_decode(body, (size_t) (end - body), true, &raw_len);
        p = raw;
        n = raw_len;
        if (raw && n > sizeof(OPENSSH_MAGIC) &&
            memcmp(raw, OPENSSH_MAGIC, sizeof(OPENSSH_MAGIC)) == 0) {
                p += sizeof(OPENSSH_MAGIC);
                n -= sizeof(OPENSSH_MAGIC);
                /* cipher, KDF, KDF options, the number of keys (4 bytes), the public key */
                if (next_string(&p, &n, &s, &len) && next_string(&p, &n, &s, &len) &&
                    next_string(&p, &n, &s, &len) && n >= 4) {
                        p += 4;
                        n -= 4;
                        if (next_string(&p, &n, &s, &len) &&
                            next_string(&s, &len, &type, &type_len))
                                rsa = type_len == 7 && memcmp(type, "ssh-rsa", 7) == 0;
                }
        }
        if (raw)
                explicit_bzero(raw, raw_len);
        if (!rsa)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      DECRYPT_FAILED ": it is not an RSA private key; Windows "
                                                     "passwords are encrypted with RSA key pairs "
                                                     "only");
        return kiln_error_set(err, KILN_E_INVALID, NULL,
                              DECRYPT_FAILED ": the RSA key is in OpenSSH's format; convert it "
                                             "to PEM with 'ssh-keygen -p -m PEM -f FILE'");
}

/* The RSA private key of PEM text: PKCS#1 ("BEGIN RSA PRIVATE KEY") or PKCS#8 ("BEGIN PRIVATE
 * KEY"), not encrypted. */
static int read_private_key(const char *pem, keypair_pkey **ret, kiln_error **err)
{
        kiln_autoptr(keypair_bio) bio = NULL;
        keypair_pkey *pkey = NULL;

        if (!pem || !*pem)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      DECRYPT_FAILED ": the private key file is empty");
        if (strstr(pem, OPENSSH_BEGIN))
                return openssh_refusal(pem, err);
        if (strstr(pem, "ENCRYPTED"))
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      DECRYPT_FAILED ": the private key is protected by a "
                                                     "passphrase");
        bio = BIO_new_mem_buf(pem, -1);
        if (!bio)
                return crypto_failed(err, "read memory");
        pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, keypair_no_passphrase, NULL, NULL, NULL);
        ERR_clear_error();
        if (!pkey)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      DECRYPT_FAILED ": it is not a PEM private key (PKCS#1 "
                                                     "\"BEGIN RSA PRIVATE KEY\" or PKCS#8 "
                                                     "\"BEGIN PRIVATE KEY\")");
        if (!EVP_PKEY_is_a(pkey, "RSA")) {
                EVP_PKEY_free(pkey);
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      DECRYPT_FAILED ": it is not an RSA private key; Windows "
                                                     "passwords are encrypted with RSA key pairs "
                                                     "only");
        }
        *ret = pkey;
        return 0;
}

/* Asks libcrypto to fail on bad padding: OpenSSL 3.2 and later would otherwise return
 * random bytes ("implicit rejection") for data encrypted with another key. Earlier versions
 * do not know the parameter and fail anyway. */
static int explicit_rejection(keypair_pkey_ctx *ctx)
{
        const OSSL_PARAM *settable = EVP_PKEY_CTX_settable_params(ctx);
        unsigned int off = 0;
        OSSL_PARAM params[2];

        if (!settable || !OSSL_PARAM_locate_const(settable, "implicit-rejection"))
                return 1;
        params[0] = OSSL_PARAM_construct_uint("implicit-rejection", &off);
        params[1] = OSSL_PARAM_construct_end();
        return EVP_PKEY_CTX_set_params(ctx, params);
}

static int decrypt(keypair_pkey *pkey, const unsigned char *in, size_t in_len, char **ret,
                   kiln_error **err)
{
        kiln_autoptr(keypair_pkey_ctx) ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        size_t cap = 0, len = 0;
        unsigned char *out = NULL;
        int r;

        if (!ctx || EVP_PKEY_decrypt_init(ctx) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
            explicit_rejection(ctx) != 1 || EVP_PKEY_decrypt(ctx, NULL, &cap, in, in_len) != 1)
                return crypto_failed(err, "set up RSA decryption");
        out = kiln_xmalloc(cap + 1);
        len = cap;
        r = EVP_PKEY_decrypt(ctx, out, &len, in, in_len);
        ERR_clear_error();
        if (r == 1) {
                out[len] = '\0';
                /* the aws CLI decodes it as UTF-8; a NUL would cut it short here */
                if (memchr(out, '\0', len) ||
                    kiln_text_check("PasswordData", (char *) out, 0, NULL) < 0)
                        r = 0;
        }
        if (r != 1) {
                explicit_bzero(out, cap + 1);
                free(out);
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      DECRYPT_FAILED ": the key does not match the key pair the "
                                                     "instance was launched with");
        }
        *ret = (char *) out;
        return 0;
}

int kiln_password_decrypt(const char *private_key_pem, const char *password_data,
                          char **ret_password, kiln_error **err)
{
        kiln_autoptr(keypair_pkey) pkey = NULL;
        kiln_autofree unsigned char *in = NULL;
        size_t in_len = 0;
        int size;

        assert(ret_password);
        if (read_private_key(private_key_pem, &pkey, err) < 0)
                return -1;
        if (!password_data || !*password_data) {
                /* GetPasswordData's answer before there is a password: the aws CLI prints it */
                *ret_password = kiln_xstrdup("");
                return 0;
        }
        in = kiln_base64_decode(password_data, strlen(password_data), true, &in_len);
        if (!in)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      DECRYPT_FAILED ": the password data is not base64");
        size = EVP_PKEY_get_size(pkey);
        if (size <= 0 || in_len != (size_t) size)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      DECRYPT_FAILED ": the password data is %zu bytes long, but "
                                                     "this %d-bit key decrypts blocks of %d "
                                                     "bytes: the key does not match the key pair "
                                                     "the instance was launched with",
                                      in_len, EVP_PKEY_get_bits(pkey), size);
        return decrypt(pkey, in, in_len, ret_password, err);
}
