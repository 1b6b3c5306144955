/* Access keys, as IAM issues them: an ID (AKIA and 16 characters) and a secret of 40, for one
 * configured account. The EC2 endpoint authenticates each request with Signature Version 4:
 * the account of a request is the account of the key that signed it. Keys are global (not
 * regional); the secret is stored in the registry (readable by kiln's user only) because
 * SigV4 needs it to recompute a signature, and is shown once, when the key is made. */
#ifndef KILN_ACCESS_H
#define KILN_ACCESS_H

#include <stddef.h>
#include <stdint.h>

#include <kiln/common.h>
#include <kiln/ctx.h>
#include <kiln/error.h>

#define KILN_ACCESS_KEYS_MAX 2 /* per account, as IAM's per user */

typedef struct kiln_access_key {
        char *access_key_id;
        char *account_id;
        char *status; /* Active */
        char *create_date;
        char *secret; /* only in the result of kiln_access_key_create */
} kiln_access_key;

KILN_PUBLIC void kiln_access_key_clear(kiln_access_key *k);
KILN_PUBLIC void kiln_access_keys_free(kiln_access_key *k, size_t n);

/* CreateAccessKey for account (NULL: the context's), which must be configured
 * (InvalidParameterValue otherwise); LimitExceeded beyond KILN_ACCESS_KEYS_MAX. */
KILN_PUBLIC int kiln_access_key_create(kiln_ctx *ctx, const char *account, kiln_access_key *ret,
                                       kiln_error **err);
/* The keys of account (NULL: of every account), oldest first, without their secrets. */
KILN_PUBLIC int kiln_access_keys_describe(kiln_ctx *ctx, const char *account, kiln_access_key **ret,
                                          size_t *ret_n, kiln_error **err);
/* Deletes a key of the context's account; NoSuchEntity for an unknown ID or another
 * account's key. */
KILN_PUBLIC int kiln_access_key_delete(kiln_ctx *ctx, const char *access_key_id, kiln_error **err);

/* One HTTP request as the endpoint received it, for kiln_sigv4_verify. */
typedef struct kiln_http_header {
        const char *name;
        const char *value;
} kiln_http_header;

typedef struct kiln_http_request {
        const char *method; /* GET or POST */
        const char *path;   /* as sent, without the query string */
        /* The query string's parameters, decoded, in any order (a presigned request carries
         * its signature here). */
        const kiln_http_header *query;
        size_t n_query;
        const kiln_http_header *headers; /* names in any case */
        size_t n_headers;
        const void *body;
        size_t body_len;
        int64_t now; /* seconds since the epoch; 0: the clock's */
} kiln_http_request;

typedef struct kiln_sigv4_identity {
        char *access_key_id;
        char *account_id;
        char *region; /* of the credential scope */
} kiln_sigv4_identity;

KILN_PUBLIC void kiln_sigv4_identity_clear(kiln_sigv4_identity *id);

/* Checks a request's Signature Version 4 (service ec2), in the Authorization header or in the
 * presigned query form, against the stored secret of its key, and returns who signed it.
 * EC2's codes: MissingAuthenticationToken (no signature at all), IncompleteSignature (a
 * malformed or partial one), AuthFailure (an unknown or deleted key; a credential scope
 * whose region is not configured or whose service is not ec2), SignatureDoesNotMatch,
 * RequestExpired (X-Amz-Date more than 15 minutes from now, or a presigned request past its
 * X-Amz-Expires). */
KILN_PUBLIC int kiln_sigv4_verify(kiln_ctx *ctx, const kiln_http_request *req,
                                  kiln_sigv4_identity *ret, kiln_error **err);

#endif
