/* Key pairs, as EC2 has them: named per region and account, RSA (2048 bits when kiln creates
 * one) or ED25519. kiln keeps only the public key: a private key it creates is handed to the
 * caller once, or written to a file the caller names, and never stored. Fingerprints are EC2's
 * (reference/ec2-ami.md §6.10): SHA-1 of the DER PKCS#8 private key for RSA keys kiln created,
 * MD5 of the DER public key for imported RSA keys (colon hex both), base64 SHA-256 for
 * ED25519. */
#ifndef KILN_KEYPAIR_H
#define KILN_KEYPAIR_H

#include <stdbool.h>
#include <stddef.h>

#include <kiln/common.h>
#include <kiln/ctx.h>
#include <kiln/error.h>
#include <kiln/image.h>

/* Key names: 1-255 printable ASCII characters, no leading or trailing space. */
#define KILN_KEYPAIR_NAME_MAX 255
/* Key pairs per account and region. */
#define KILN_KEYPAIR_LIMIT 5000

typedef struct kiln_keypair {
        char *key_pair_id; /* key- and 17 hex digits */
        char *key_name;
        char *key_type;         /* "rsa" or "ed25519" */
        char *fingerprint;      /* see the top of this file */
        char *public_key;       /* OpenSSH line "TYPE BASE64 NAME"; NULL from describe without
                                   include_public_key */
        char *create_time;      /* 2024-01-02T03:04:05.000Z */
        char *private_key_path; /* absolute path create wrote the private key to, or NULL */
        char *region;
        char *owner_id;
        kiln_tag *tags; /* sorted by key */
        size_t n_tags;
} kiln_keypair;

/* Frees the members and zeroes the record; NULL-safe. */
KILN_PUBLIC void kiln_keypair_clear(kiln_keypair *kp);
KILN_PUBLIC void kiln_keypairs_free(kiln_keypair *kps, size_t n);
/* Zeroes a private key handed out by kiln_keypair_create and frees it. Returns NULL. */
KILN_PUBLIC char *kiln_keypair_material_free(char *material);

/* Creates a key pair named name in the context's region and account.
 *   key_type:    "rsa" (NULL: 2048-bit RSA, EC2's default) or "ed25519".
 *   key_format:  NULL or "pem". "ppk" is refused as unsupported (KILN_E_UNSUPPORTED).
 *   output_file: NULL: the private key goes to *ret_private_key (which must then not be NULL)
 *                and nowhere else; otherwise it is written there with mode 0600, never over an
 *                existing file (KILN_E_EXISTS naming it), and *ret_private_key is left NULL.
 * RSA keys come as a PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), ED25519 keys in OpenSSH's format,
 * without the final newline, as EC2's KeyMaterial. Free it with kiln_keypair_material_free.
 * Errors: InvalidParameterValue (name, type, format), InvalidKeyPair.Duplicate,
 * ResourceLimitExceeded (KILN_KEYPAIR_LIMIT), KILN_E_IO (ssh-keygen, openssl, the file).
 * tag_specs: TagSpecifications (resource type "key-pair" only); the key pair is registered
 * with its tags, and *ret carries them.
 * Nothing is registered or left behind on failure. */
KILN_PUBLIC int kiln_keypair_create(kiln_ctx *ctx, const char *name, const char *key_type,
                                    const char *key_format, const char *output_file,
                                    const kiln_tag_spec *tag_specs, size_t n_tag_specs,
                                    kiln_keypair *ret, char **ret_private_key, kiln_error **err);

/* Imports a public key under name: an OpenSSH authorized_keys line (ssh-rsa or ssh-ed25519,
 * without options), the same line base64-encoded (the aws CLI's blob), or for RSA an RFC 4716
 * block, a PEM public key (PKCS#8 or PKCS#1) or its base64 DER. RSA keys must have 1024, 2048
 * or 4096 bits; DSA and ECDSA keys are refused. Anything else gives InvalidKeyPair.Format. */
KILN_PUBLIC int kiln_keypair_import(kiln_ctx *ctx, const char *name,
                                    const char *public_key_material, const kiln_tag_spec *tag_specs,
                                    size_t n_tag_specs, kiln_keypair *ret, kiln_error **err);

typedef struct kiln_keypair_query {
        const char *const *key_names; /* each must exist: InvalidKeyPair.NotFound */
        size_t n_key_names;
        const char *const *key_pair_ids; /* each must exist: InvalidKeyPair.NotFound */
        size_t n_key_pair_ids;
        const kiln_filter *filters; /* key-pair-id, fingerprint, key-name, tag-key, tag:KEY */
        size_t n_filters;
        bool include_public_key;
} kiln_keypair_query;

/* The caller's key pairs in the context's region, oldest first: those named (if any names or
 * IDs are given; both narrow), then those every filter matches (EC2 wildcards). */
KILN_PUBLIC int kiln_keypairs_describe(kiln_ctx *ctx, const kiln_keypair_query *q,
                                       kiln_keypair **ret, size_t *ret_n, kiln_error **err);

/* Deletes the caller's key pair by name or by ID (exactly one of them). As EC2's, deleting a
 * key pair that does not exist succeeds; a malformed name or ID does not. */
KILN_PUBLIC int kiln_keypair_delete(kiln_ctx *ctx, const char *name, const char *key_pair_id,
                                    kiln_error **err);

/* A Windows instance's password from GetPasswordData's PasswordData, as `aws ec2
 * get-password-data --priv-launch-key FILE` decrypts it: private_key_pem is the text of the
 * launch key pair's private key file, RSA in PEM, PKCS#1 ("BEGIN RSA PRIVATE KEY", as
 * kiln_keypair_create writes it) or PKCS#8 ("BEGIN PRIVATE KEY"), without a passphrase;
 * password_data is the base64 of the password encrypted with its public key (PKCS#1 v1.5).
 * An empty password_data (no password yet) gives an empty password, as the aws CLI prints it.
 * *ret_password is the password (UTF-8), to free with kiln_keypair_material_free. Refused,
 * KILN_E_INVALID, with the aws CLI's "Unable to decrypt password data using provided private
 * key file" and why: a file that is not such a key (an ED25519 key, a key in OpenSSH's format,
 * one with a passphrase), data that is not base64, or a key that does not match. */
KILN_PUBLIC int kiln_password_decrypt(const char *private_key_pem, const char *password_data,
                                      char **ret_password, kiln_error **err);

#endif
