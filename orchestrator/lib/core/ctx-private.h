/* The context's insides, shared by the domain modules. */
#ifndef KILN_CTX_PRIVATE_H
#define KILN_CTX_PRIVATE_H

#include <kiln/ctx.h>

#include "core/config.h"
#include "registry/registry.h"
#include "virt/virt-storage.h"

typedef struct ctx_region_conn {
        char *region;
        virConnectPtr conn;
        virStoragePoolPtr pool;
} ctx_region_conn;

struct kiln_ctx {
        char *home;
        config *cfg;
        registry *reg;
        const kiln_region_info *region;
        char *account;
        ctx_region_conn *conns;
        size_t n_conns;
};

/* The region's storage pool (connecting and creating the pool on first use). Borrowed. */
virStoragePoolPtr ctx_pool(kiln_ctx *ctx, const char *region, kiln_error **err);
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
/* The organization IDs the account belongs to. */
bool ctx_account_in_org(const kiln_ctx *ctx, const char *account, const char *org_arn);

#endif
