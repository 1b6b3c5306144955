/* EC2's key fingerprints (reference/ec2-ami.md §6.10), computed in this process on libcrypto:
 *   - an RSA key kiln creates: SHA-1 of its private key in DER PKCS#8, colon hex (what
 *     `openssl pkcs8 -topk8 -nocrypt -outform DER | openssl sha1 -c` prints);
 *   - an imported RSA key: MD5 of its DER public key (SubjectPublicKeyInfo), colon hex (what
 *     `openssl rsa -pubout -outform DER | openssl md5 -c` prints);
 *   - an ED25519 key, created or imported: the base64 SHA-256 of its OpenSSH key blob, which
 *     `ssh-keygen -l` prints without padding and EC2 with it.
 * The private key's DER is wiped before it is freed. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "keypair/keypair-private.h"
#include "util/util.h"

typedef PKCS8_PRIV_KEY_INFO keypair_p8;
static keypair_p8 *keypair_p8_free(keypair_p8 *p8)
{
        PKCS8_PRIV_KEY_INFO_free(p8);
        return NULL;
}
KILN_DEFINE_AUTOPTR(keypair_p8, keypair_p8_free)

static int crypto_failed(kiln_error **err, const char *what)
{
        kiln_autofree char *why = kiln_crypto_error();

        return kiln_error_set(err, KILN_E_IO, NULL, "libcrypto cannot %s: %s", what, why);
}

/* The digest of der in colon hex. */
static int colon_digest(kiln_digest_alg alg, const unsigned char *der, size_t len, char **ret,
                        kiln_error **err)
{
        unsigned char md[KILN_DIGEST_MAX];
        size_t n = 0;

        if (kiln_digest(alg, der, len, md, &n, err) < 0)
                return -1;
        *ret = kiln_hex_colon(md, n);
        return 0;
}

int keypair_fingerprint_rsa_private(const char *pem, char **ret, kiln_error **err)
{
        kiln_autoptr(keypair_bio) bio = BIO_new_mem_buf(pem, -1);
        kiln_autoptr(keypair_pkey) pkey = NULL;
        kiln_autoptr(keypair_p8) p8 = NULL;
        unsigned char *der = NULL;
        int len, r;

        if (!bio)
                return crypto_failed(err, "read memory");
        pkey = PEM_read_bio_PrivateKey(bio, NULL, keypair_no_passphrase, NULL);
        if (!pkey) {
                ERR_clear_error();
                return keypair_format_error(err, "not a private key in PEM");
        }
        p8 = EVP_PKEY2PKCS8(pkey);
        len = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
        if (len <= 0)
                return crypto_failed(err, "write a private key as PKCS#8");
        r = colon_digest(KILN_DIGEST_SHA1, der, (size_t) len, ret, err);
        OPENSSL_clear_free(der, (size_t) len);
        return r;
}

int keypair_fingerprint_rsa_public(const char *line, char **ret, kiln_error **err)
{
        kiln_autoptr(keypair_pkey) pkey = NULL;
        unsigned char *der = NULL;
        int len, r;

        if (keypair_line_key(line, &pkey, err) < 0)
                return -1;
        len = i2d_PUBKEY(pkey, &der);
        if (len <= 0)
                return crypto_failed(err, "write a public key in DER");
        r = colon_digest(KILN_DIGEST_MD5, der, (size_t) len, ret, err);
        OPENSSL_free(der);
        return r;
}

int keypair_fingerprint_sha256(const char *line, char **ret, kiln_error **err)
{
        kiln_autofree unsigned char *blob = NULL;
        unsigned char md[KILN_DIGEST_MAX];
        size_t len = 0, n = 0;

        if (keypair_line_split(line, NULL, NULL, &blob, &len, err) < 0 ||
            kiln_digest(KILN_DIGEST_SHA256, blob, len, md, &n, err) < 0)
                return -1;
        *ret = kiln_base64_encode(md, n, true);
        return 0;
}
