/* Public key material for import-key-pair (keypair.c, keypair_parse_public) with the input as
 * --public-key-material: the OpenSSH line and its blob, RFC 4716 and PEM (PKCS#1, PKCS#8)
 * armour, base64 DER, and the aws CLI's base64 of a whole OpenSSH line. kiln decodes, checks
 * and re-armours these itself, then has ssh-keygen convert and read the key; so an input that
 * gets that far runs ssh-keygen, as the real import does (it needs openssh-client).
 *
 * Checked: an accepted key is "ssh-rsa BASE64" of 1024, 2048 or 4096 bits or "ssh-ed25519
 * BASE64", one line without a comment, and a refusal is InvalidKeyPair.Format. */
#include "fuzz.h"
#include "keypair/keypair-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        kiln_autofree char *material = fuzz_cstr(data, size);
        kiln_autoptr(kiln_error) err = NULL;
        keypair_public key = {0};

        if (keypair_parse_public(fuzz_dir(), material, &key, &err) < 0) {
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
        keypair_public_clear(&key);
        return 0;
}
