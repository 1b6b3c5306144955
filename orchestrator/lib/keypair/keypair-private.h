/* Key pairs inside the library: the lookup the instance code uses at launch, and what the files
 * of this folder give each other (and the unit tests):
 *   keypair.c              the domain: create, import, describe, delete with EC2's rules;
 *   keypair-format.c       public key material: OpenSSH lines, the aws CLI's blob, RFC 4716,
 *                          PEM and DER, and the SSH wire format;
 *   keypair-keygen.c       new key pairs and their private key files;
 *   keypair-fingerprint.c  EC2's fingerprints;
 *   keypair-password.c     Windows passwords and their encryption for GetPasswordData.
 * All of it runs in this process on libcrypto: no tool is run, and a private key goes to no
 * file but the one the caller names. */
#ifndef KILN_KEYPAIR_PRIVATE_H
#define KILN_KEYPAIR_PRIVATE_H

#include <stdint.h>

#include <openssl/evp.h>

#include <kiln/keypair.h>

#include "core/ctx-private.h"

/* The caller's key pair called name in the context's region (ctx->region, ctx->account), with
 * its public key (an OpenSSH line) and tags, read through r: call it inside the caller's own
 * registry_read/registry_write transaction. InvalidKeyPair.NotFound ("The key pair 'N' does
 * not exist", KILN_E_NOT_FOUND) if there is none, also for a name that could not exist. On
 * success *ret is filled (kiln_keypair_clear it); on failure it is untouched. */
int keypair_get(kiln_ctx *ctx, registry *r, const char *name, kiln_keypair *ret, kiln_error **err);

/* InvalidParameterValue unless name is 1-255 printable ASCII characters without a leading or
 * trailing space. */
int keypair_check_name(const char *name, kiln_error **err);

/* libcrypto's keys and memory BIOs, freed automatically. */
typedef EVP_PKEY keypair_pkey;
keypair_pkey *keypair_pkey_free(keypair_pkey *k);
KILN_DEFINE_AUTOPTR(keypair_pkey, keypair_pkey_free)
typedef BIO keypair_bio;
keypair_bio *keypair_bio_free(keypair_bio *b);
KILN_DEFINE_AUTOPTR(keypair_bio, keypair_bio_free)

/* ==== keypair-fingerprint.c ==== */

/* EC2's fingerprints (reference/ec2-ami.md §6.10); *ret is colon hex or base64 as EC2 prints it.
 *   rsa_private: SHA-1 of the DER PKCS#8 form of a PEM private key (keys kiln creates);
 *   rsa_public:  MD5 of the DER public key (SubjectPublicKeyInfo) of an OpenSSH public key line
 *                (imported keys);
 *   sha256:      base64 SHA-256 of the key blob of an OpenSSH public key line, '='-padded
 *                (ED25519 keys, created or imported).
 * A line is "TYPE BASE64 [COMMENT]". Material that is not such a key is InvalidKeyPair.Format;
 * libcrypto failing is KILN_E_IO, or KILN_E_UNSUPPORTED for a digest it refuses. */
int keypair_fingerprint_rsa_private(const char *pem, char **ret, kiln_error **err);
int keypair_fingerprint_rsa_public(const char *line, char **ret, kiln_error **err);
int keypair_fingerprint_sha256(const char *line, char **ret, kiln_error **err);

/* ==== keypair-keygen.c ==== */

/* A new key pair: "rsa" (2048 bits) or "ed25519". *ret_private is the private key file's text,
 * RSA as a PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), ED25519 in OpenSSH's format with comment in it,
 * each with a final newline, in one allocation for kiln_keypair_material_free; *ret_public is
 * the public key line "TYPE BASE64 COMMENT". On failure (KILN_E_IO) both are untouched. */
int keypair_generate(const char *key_type, const char *comment, char **ret_private,
                     char **ret_public, kiln_error **err);

/* ==== keypair-format.c ==== */

/* A public key as import understands it. */
typedef struct keypair_public {
        char *key_type; /* "rsa" or "ed25519" */
        char *line;     /* "ssh-rsa BASE64" / "ssh-ed25519 BASE64", no comment */
        int bits;
} keypair_public;

void keypair_public_clear(keypair_public *p);
/* Parses and checks import material (see kiln_keypair_import). InvalidKeyPair.Format for
 * anything but an RSA key of 1024, 2048 or 4096 bits or an ED25519 key. */
int keypair_parse_public(const char *material, keypair_public *ret, kiln_error **err);

/* libcrypto's passphrase callback for PEM that kiln reads: there is never a passphrase, and
 * libcrypto's default would ask for one on the terminal. */
int keypair_no_passphrase(char *buf, int size, int rwflag, void *userdata);
/* InvalidKeyPair.Format with EC2's message, and why (NULL: no more). Returns -1. */
int keypair_format_error(kiln_error **err, const char *why);

/* Splits an OpenSSH line "TYPE BASE64 [COMMENT]" of a type kiln accepts (ssh-rsa, ssh-ed25519)
 * and decodes its blob, which must name the same type. The refusals say why where they can
 * (DSA, ECDSA). *ret_type and *ret_b64 (either may be NULL) are new strings. */
int keypair_line_split(const char *line, char **ret_type, char **ret_b64, unsigned char **ret_blob,
                       size_t *ret_blob_len, kiln_error **err);
/* The key of an OpenSSH line, read as OpenSSH reads it: the whole blob, nothing after it. */
int keypair_line_key(const char *line, keypair_pkey **ret, kiln_error **err);
/* The OpenSSH public key line of an RSA or ED25519 key: "TYPE BASE64". */
char *keypair_key_line(const keypair_pkey *pkey, kiln_error **err);

/* ==== keypair-password.c ==== */

/* The Windows passwords kiln makes: their length and the symbols they may hold. */
#define KEYPAIR_PASSWORD_LEN     32
#define KEYPAIR_PASSWORD_SYMBOLS "-_.:+@"

/* A new random password for a Windows instance's Administrator, which Windows' complexity rule
 * accepts: KEYPAIR_PASSWORD_LEN characters, a letter first, with at least one upper case
 * letter, one lower case letter, one digit and one of KEYPAIR_PASSWORD_SYMBOLS, and never
 * "admin" in any case (keypair-password.c says why these). Free it with
 * kiln_keypair_material_free, which wipes it. */
char *keypair_password_new(void);

/* GetPasswordData's PasswordData: len bytes of data encrypted with the RSA public key of an
 * OpenSSH line ("ssh-rsa BASE64 [COMMENT]"), PKCS#1 v1.5 padding, in base64 (*ret_base64, a
 * new string). Refused: a line that is no key (InvalidKeyPair.Format); an ED25519 key
 * ("Unsupported", EC2's refusal of a Windows launch with one); more than the key's size less
 * 11 bytes (InvalidParameterValue); all KILN_E_INVALID. libcrypto failing is KILN_E_IO. */
int keypair_encrypt_for(const char *public_key_line, const void *data, size_t len,
                        char **ret_base64, kiln_error **err);

/* The SSH wire format (RFC 4251 §5) written into one buffer that is never moved, since blobs
 * can hold private keys. A writer without a buffer (p NULL) only counts: run the same steps
 * once to count, then again into a buffer of that size. */
typedef struct keypair_wire {
        unsigned char *p;
        size_t len;
        size_t cap;
} keypair_wire;

void keypair_wire_u32(keypair_wire *w, uint32_t v);
void keypair_wire_raw(keypair_wire *w, const void *data, size_t n);
void keypair_wire_string(keypair_wire *w, const void *data, size_t n);
/* A non-negative integer given as big-endian bytes, as an mpint: leading zeros dropped, and a
 * zero byte put first if the top bit is set. */
void keypair_wire_mpint(keypair_wire *w, const unsigned char *be, size_t n);
/* Turns a counting writer into one writing to a new buffer of exactly what it counted. */
void keypair_wire_alloc(keypair_wire *w);
/* Wipes and frees the buffer. */
void keypair_wire_clear(keypair_wire *w);

#endif
