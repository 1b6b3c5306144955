/* Public key material for import-key-pair (keypair-format.c, keypair_parse_public) with the
 * input as --public-key-material: the OpenSSH line and its blob, RFC 4716 and PEM (PKCS#1,
 * PKCS#8) armour, base64 DER, and the aws CLI's base64 of a whole OpenSSH line, all read in
 * this process (libcrypto reads the PEM and DER); then the fingerprint import computes for an
 * accepted key (keypair-fingerprint.c).
 *
 * Checked: an accepted key is "ssh-rsa BASE64" of 1024, 2048 or 4096 bits or "ssh-ed25519
 * BASE64", one line without a comment, with a fingerprint (MD5 colon hex for RSA, padded base64
 * SHA-256 for ED25519); a refusal is InvalidKeyPair.Format. */
#include "fuzz.h"
#include "keypair/keypair-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        kiln_autofree char *material = fuzz_cstr(data, size);
        kiln_autofree char *fingerprint = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        keypair_public key = {0};

        if (keypair_parse_public(material, &key, &err) < 0) {
                FUZZ_CHECK(err->code == KILN_E_INVALID && err->api_code &&
                           strcmp(err->api_code, "InvalidKeyPair.Format") == 0);
                return 0;
        }
        if (strcmp(key.key_type, "rsa") == 0) {
                FUZZ_CHECK(strncmp(key.line, "ssh-rsa ", 8) == 0);
                FUZZ_CHECK(key.bits == 1024 || key.bits == 2048 || key.bits == 4096);
        } else {
                FUZZ_CHECK(strcmp(key.key_type, "ed25519") == 0);
                FUZZ_CHECK(strncmp(key.line, "ssh-ed25519 ", 12) == 0);
        }
        FUZZ_CHECK(strchr(key.line, '\n') == NULL);
        FUZZ_CHECK(strchr(strchr(key.line, ' ') + 1, ' ') == NULL);
        if (strcmp(key.key_type, "rsa") == 0) {
                FUZZ_CHECK(keypair_fingerprint_rsa_public(key.line, &fingerprint, NULL) == 0);
                FUZZ_CHECK(strlen(fingerprint) == 47);
        } else {
                FUZZ_CHECK(keypair_fingerprint_sha256(key.line, &fingerprint, NULL) == 0);
                FUZZ_CHECK(strlen(fingerprint) == 44 && fingerprint[43] == '=');
        }
        keypair_public_clear(&key);
        return 0;
}
