/* Key pairs inside the library: the lookup the instance code uses at launch, and the checks
 * and fingerprint steps of keypair.c, exposed for the unit tests. */
#ifndef KILN_KEYPAIR_PRIVATE_H
#define KILN_KEYPAIR_PRIVATE_H

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

/* Fingerprints, each computed by the tools in dir (a private directory for intermediate
 * files); *ret is colon hex or base64 as EC2 prints it.
 *   rsa_private: SHA-1 of the DER PKCS#8 form of a PEM private key (keys kiln creates);
 *   rsa_public:  MD5 of the DER public key of an OpenSSH public key file (imported keys);
 *   sha256:      base64 SHA-256 of an OpenSSH public key file, '='-padded (ED25519). */
int keypair_fingerprint_rsa_private(const char *dir, const char *pem_path, char **ret,
                                    kiln_error **err);
int keypair_fingerprint_rsa_public(const char *dir, const char *pub_path, char **ret,
                                   kiln_error **err);
int keypair_fingerprint_sha256(const char *pub_path, char **ret, kiln_error **err);

/* A public key as import understands it. */
typedef struct keypair_public {
        char *key_type; /* "rsa" or "ed25519" */
        char *line;     /* "ssh-rsa BASE64" / "ssh-ed25519 BASE64", no comment */
        int bits;
} keypair_public;

void keypair_public_clear(keypair_public *p);
/* Parses and checks import material (see kiln_keypair_import) with ssh-keygen, using dir for
 * files. InvalidKeyPair.Format for anything but an RSA key of 1024, 2048 or 4096 bits or an
 * ED25519 key. */
int keypair_parse_public(const char *dir, const char *material, keypair_public *ret,
                         kiln_error **err);

#endif
