/* Money and upkeep: what snapshots really cost, and the consistency of registry and pools. */
#ifndef KILN_UPKEEP_H
#define KILN_UPKEEP_H

#include <stdbool.h>
#include <stdint.h>

#include <kiln/ctx.h>

/* ---- describe-storage ---- */
typedef struct kiln_storage_snapshot {
        char *snapshot_id;
        char *owner_id;
        char *parent_id;
        char *state;           /* completed, or deleted (kept for the layers above it) */
        uint64_t bytes;        /* allocated on the host by this layer alone */
        uint64_t virtual_size; /* bytes the guest sees */
} kiln_storage_snapshot;

typedef struct kiln_storage_image {
        char *image_id;
        char *name;
        char *owner_id;
        char **chain; /* snapshot IDs, every layer of every mapping, leaf first */
        size_t n_chain;
        uint64_t bytes;        /* all layers */
        uint64_t unique_bytes; /* layers no other registered image uses */
        uint64_t shared_bytes;
        double hourly_price; /* marketplace images */
} kiln_storage_image;

/* A volume, billed as EBS bills it: by its provisioned size, whatever it holds. */
typedef struct kiln_storage_volume {
        char *volume_id;
        char *owner_id;
        char *state;
        int64_t size_gib;
        uint64_t bytes; /* allocated on the host by its own file (its snapshot's are not) */
        double monthly_cost;
} kiln_storage_volume;

typedef struct kiln_storage_account {
        char *account_id;
        uint64_t bytes;      /* snapshot bytes used */
        int64_t volume_gib;  /* provisioned */
        double monthly_cost; /* snapshots and volumes */
} kiln_storage_account;

typedef struct kiln_storage_report {
        char *region;
        double price_per_gib_month;        /* snapshots, by bytes used */
        double volume_price_per_gib_month; /* volumes, by provisioned size */
        kiln_storage_snapshot *snapshots;  /* the caller's, including kept layers */
        size_t n_snapshots;
        kiln_storage_image *images; /* the caller's registered images */
        size_t n_images;
        kiln_storage_volume *volumes; /* the caller's */
        size_t n_volumes;
        kiln_storage_account *accounts; /* every account with storage in the region */
        size_t n_accounts;
} kiln_storage_report;

KILN_PUBLIC int kiln_storage_describe(kiln_ctx *ctx, kiln_storage_report **ret, kiln_error **err);
KILN_PUBLIC kiln_storage_report *kiln_storage_report_free(kiln_storage_report *r);
KILN_DEFINE_AUTOPTR(kiln_storage_report, kiln_storage_report_free)

/* ---- fsck and gc ---- */
typedef struct kiln_fsck_issue {
        char *region;
        char *kind;     /* orphan-file, missing-file, stale-pending-snapshot, ... */
        char *resource; /* ID or volume name */
        char *detail;
        bool repaired;
} kiln_fsck_issue;

/* Checks every region's registry records against its pool; with repair, mends what it finds:
 * orphan files are deleted, work a dead process left pending is rolled back, records whose
 * files are gone are marked failed/error. Nothing that was registered and whole is removed. */
KILN_PUBLIC int kiln_fsck(kiln_ctx *ctx, bool repair, kiln_fsck_issue **ret, size_t *ret_n,
                          kiln_error **err);
KILN_PUBLIC void kiln_fsck_issues_free(kiln_fsck_issue *issues, size_t n);

typedef struct kiln_gc_result {
        size_t images;    /* deregistered image records dropped */
        size_t snapshots; /* deleted layers nothing needed any more */
        uint64_t bytes;   /* bytes freed in the pools */
} kiln_gc_result;

/* Removes what nothing references: deregistered images' records and deleted snapshot layers
 * that no snapshot builds on any more. */
KILN_PUBLIC int kiln_gc(kiln_ctx *ctx, kiln_gc_result *ret, kiln_error **err);

/* A libvirt pool that kiln defined for a kiln home that has since been deleted: its directory
 * is gone, the definition stays until it is removed. */
typedef struct kiln_stale_pool {
        char *uri;
        char *name;
        char *path;
        bool removed;
} kiln_stale_pool;
/* Lists, on the local daemons of the configured regions, kiln's own pools ("kiln-...-REGION"
 * at ".../pools/REGION", the names and paths kiln gives them) whose directory no longer exists,
 * and with remove undefines them. A pool of another name or shape is never listed or touched;
 * remote daemons are not searched. */
KILN_PUBLIC int kiln_gc_stale_pools(kiln_ctx *ctx, bool remove, kiln_stale_pool **ret,
                                    size_t *ret_n, kiln_error **err);
KILN_PUBLIC void kiln_stale_pools_free(kiln_stale_pool *p, size_t n);

#endif
