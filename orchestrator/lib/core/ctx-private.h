/* The context's insides, shared by the domain modules. */
#ifndef KILN_CTX_PRIVATE_H
#define KILN_CTX_PRIVATE_H

#include <kiln/ctx.h>

#include "core/config.h"
#include "registry/registry.h"
#include "virt/virt-storage.h"

typedef struct ctx_region_conn {
        char *region;
        char *host_id;
        virConnectPtr conn; /* NULL: the last attempt failed (failure) */
        virStoragePoolPtr pool;
        /* A host that did not answer is not asked again before then (ms), so that one call
         * over many of its instances waits for it once. */
        uint64_t retry_at;
        char *failure;
} ctx_region_conn;

struct kiln_ctx {
        char *home;
        config *cfg;
        registry *reg;
        const kiln_region_info *region;
        char *account;
        ctx_region_conn *conns;
        size_t n_conns;
        kiln_runner *runner; /* the front end's, or NULL: detached processes */
};

/* runner.c: a job for the context's runner, run on a thread of its own with a new context for
 * the same home, region and account. 0 when the runner took it; 1 when there is no runner (or
 * it is stopping): the caller does the work its own way. */
typedef int (*ctx_job_fn)(kiln_ctx *ctx, const char *id);
int ctx_run(kiln_ctx *ctx, const char *id, ctx_job_fn fn);
/* Whether long work should end: an interrupt, or the runner is stopping. */
bool ctx_stopping(const kiln_ctx *ctx);

/* The region's storage pool on its first host (connecting and creating the pool on first use).
 * Borrowed. */
virStoragePoolPtr ctx_pool(kiln_ctx *ctx, const char *region, kiln_error **err);
/* The same on the region's host with that HostId or zone (NULL: the first), and its
 * connection. InvalidHostID.NotFound when the configuration does not name it. */
virStoragePoolPtr ctx_host_pool(kiln_ctx *ctx, const char *region, const char *host,
                                kiln_error **err);
virConnectPtr ctx_host_conn(kiln_ctx *ctx, const char *region, const char *host, kiln_error **err);
/* A new private work directory under HOME/tmp; the caller removes it. */
char *ctx_workdir(kiln_ctx *ctx, kiln_error **err);
/* A process that forks a child which opens a registry of its own must not hold one at the
 * fork: SQLite keeps per-process lock state that a child would inherit and trust, and the two
 * processes' writes then overwrite each other. Close it before the fork, open it again after;
 * no transaction may be open. */
void ctx_registry_close(kiln_ctx *ctx);
int ctx_registry_reopen(kiln_ctx *ctx, kiln_error **err);
/* Removes a work directory and everything in it. */
void ctx_workdir_remove(const char *dir);
/* client-token.c: EC2's ClientToken. The SHA-256 (hex) of a request's canonical text. */
char *ctx_request_digest(const char *canonical);
/* InvalidParameterValue unless NULL or 1 to 64 printable ASCII characters. */
int ctx_token_validate(const char *token, kiln_error **err);
/* In the caller's registry transaction; token NULL does nothing. A token seen before with the
 * same action and request: *ret_existing is the resource it made (the caller's); with another,
 * IdempotentParameterMismatch. An unseen token: *ret_existing NULL. */
int ctx_token_check(kiln_ctx *ctx, registry *r, const char *token, const char *action,
                    const char *request_sha256, char **ret_existing, kiln_error **err);
/* Records what a request with the token made (in the transaction that makes it). */
int ctx_token_record(kiln_ctx *ctx, registry *r, const char *token, const char *action,
                     const char *request_sha256, const char *resource_id, kiln_error **err);
/* Drops the record again (the work failed and was rolled back). */
int ctx_token_forget(kiln_ctx *ctx, registry *r, const char *token, kiln_error **err);
/* The organization IDs the account belongs to. */
bool ctx_account_in_org(const kiln_ctx *ctx, const char *account, const char *org_arn);

#endif
