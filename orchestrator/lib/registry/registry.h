/* The registry: kiln's records (images, snapshots, permissions, tags) in one SQLite database
 * in WAL mode. Many kiln processes use it at once: every write runs in a BEGIN IMMEDIATE
 * transaction that is retried while another process holds the write lock, so "database is
 * locked" never reaches the user. Knows nothing of libvirt. Disk files are written before the
 * records that make them visible are committed. */
#ifndef KILN_REGISTRY_H
#define KILN_REGISTRY_H

#include <sqlite3.h>
#include <stdbool.h>
#include <sys/types.h>

#include <kiln/image.h>
#include <kiln/tag.h>

typedef struct registry registry;

int registry_open(const char *path, registry **ret, kiln_error **err);
registry *registry_close(registry *r);
KILN_DEFINE_AUTOPTR(registry, registry_close)

typedef int (*registry_txn_fn)(registry *r, void *userdata, kiln_error **err);
/* Runs fn in a write transaction: committed if fn returns 0, rolled back otherwise (and on
 * any error, which is returned). Busy and locked states are waited out. */
int registry_write(registry *r, registry_txn_fn fn, void *userdata, kiln_error **err);
/* In a dry run, every write transaction whose fn succeeds is rolled back and fails with
 * DryRunOperation (kiln_ctx_set_dry_run). */
void registry_set_dry_run(registry *r, bool on);
/* In a dry run, DryRunOperation (-1): for a verb whose first change is not a registry write
 * (a domain stopped, a guest generalized), called once its checks are made. 0 otherwise. */
int registry_dry_run_stop(registry *r, kiln_error **err);
/* Runs fn in a read transaction (one consistent snapshot of the database). */
int registry_read(registry *r, registry_txn_fn fn, void *userdata, kiln_error **err);

/* ---- images ---- */
int registry_image_insert(registry *r, const kiln_image *img, kiln_error **err);
/* KILN_E_NOT_FOUND (without an EC2 code) if there is no record. Deregistered images are
 * returned too; callers decide. */
int registry_image_get(registry *r, const char *id, kiln_image *ret, kiln_error **err);
/* Images of a region that are not deregistered, ordered by creation. With owner set, only
 * those of that owner. */
int registry_image_list(registry *r, const char *region, const char *owner, kiln_image **ret,
                        size_t *ret_n, kiln_error **err);
/* The ID of an image of owner in region with this name that is not deregistered or failed,
 * or NULL. */
int registry_image_find_name(registry *r, const char *region, const char *owner, const char *name,
                             char **ret_id, kiln_error **err);
int registry_image_set_state(registry *r, const char *id, const char *state,
                             const char *reason_code, const char *reason_message, kiln_error **err);
int registry_image_set_description(registry *r, const char *id, const char *description,
                                   kiln_error **err);
int registry_image_delete(registry *r, const char *id, kiln_error **err);
/* The image's UEFI variable store (OVMF's, as the instance's NVRAM file held it); NULL for none. */
int registry_image_set_uefi_data(registry *r, const char *id, const void *data, size_t len,
                                 kiln_error **err);
int registry_image_uefi_data(registry *r, const char *id, void **ret, size_t *ret_len,
                             kiln_error **err);
/* Deregistered images of a region: how many, and dropping their records. */
int registry_image_count_deregistered(registry *r, const char *region, size_t *ret,
                                      kiln_error **err);
int registry_image_purge_deregistered(registry *r, const char *region, kiln_error **err);
/* Images (not deregistered) whose mapping names this snapshot; first ID or NULL. */
int registry_snapshot_used_by(registry *r, const char *snapshot_id, char **ret_image_id,
                              kiln_error **err);

/* Every image (not deregistered) whose mapping names this snapshot. */
int registry_snapshot_users(registry *r, const char *snapshot_id, char ***ret, size_t *ret_n,
                            kiln_error **err);

/* Idempotency tokens (ClientToken), per owner and region. */
typedef struct registry_token {
        char *action;         /* CopyImage, CreateVolume, ... */
        char *request_sha256; /* of the request's canonical form */
        char *resource_id;    /* what the first request made */
} registry_token;
/* KILN_E_NOT_FOUND without an EC2 code if there is none. */
int registry_token_get(registry *r, const char *owner, const char *region, const char *token,
                       registry_token *ret, kiln_error **err);
int registry_token_put(registry *r, const char *owner, const char *region, const char *token,
                       const registry_token *t, kiln_error **err);
int registry_token_delete(registry *r, const char *owner, const char *region, const char *token,
                          kiln_error **err);
void registry_token_clear(registry_token *t);

/* Launch permissions (table by resource), also used for createVolumePermission. */
typedef enum { REGISTRY_PERM_LAUNCH, REGISTRY_PERM_CREATE_VOLUME } registry_perm_table;
int registry_perms_get(registry *r, registry_perm_table t, const char *id, kiln_permission **ret,
                       size_t *ret_n, kiln_error **err);
int registry_perm_add(registry *r, registry_perm_table t, const char *id, const kiln_permission *p,
                      kiln_error **err);
int registry_perm_remove(registry *r, registry_perm_table t, const char *id,
                         const kiln_permission *p, kiln_error **err);
int registry_perms_clear(registry *r, registry_perm_table t, const char *id, kiln_error **err);

/* ---- snapshots ---- */
typedef struct registry_snapshot {
        kiln_snapshot s;
        char *volume;         /* volume name in the region's pool */
        char *layer_id;       /* content identity, kept across copies */
        int64_t virtual_size; /* bytes */
        pid_t worker_pid;     /* process writing a pending snapshot, else 0 */
        bool ungeneralized;   /* frozen by a bake without generalization: never public */
} registry_snapshot;

void registry_snapshot_clear(registry_snapshot *s);
void registry_snapshots_free(registry_snapshot *s, size_t n);
int registry_snapshot_insert(registry *r, const registry_snapshot *s, kiln_error **err);
int registry_snapshot_get(registry *r, const char *id, registry_snapshot *ret, kiln_error **err);
/* Snapshots of a region in any state (pending, completed, deleted, error), oldest first. */
int registry_snapshot_list(registry *r, const char *region, registry_snapshot **ret, size_t *ret_n,
                           kiln_error **err);
int registry_snapshot_set_state(registry *r, const char *id, const char *state, kiln_error **err);
int registry_snapshot_delete(registry *r, const char *id, kiln_error **err);
/* The hosts of a region with several that hold the snapshot's layer (none listed: only the
 * region's first host has it, as in a region of one host), and one more. */
int registry_snapshot_hosts(registry *r, const char *id, char ***ret, size_t *ret_n,
                            kiln_error **err);
int registry_snapshot_host_add(registry *r, const char *id, const char *host_id, kiln_error **err);
/* Number of snapshots (in any state) whose parent is id. */
int registry_snapshot_children(registry *r, const char *id, int *ret, kiln_error **err);
/* A snapshot of region holding layer_id whose file is kept (completed or deleted), or
 * KILN_E_NOT_FOUND. */
int registry_snapshot_find_layer(registry *r, const char *region, const char *layer_id,
                                 registry_snapshot *ret, kiln_error **err);

/* ---- tags ---- */
int registry_tag_set(registry *r, const char *id, const char *key, const char *value,
                     kiln_error **err);
int registry_tags_get(registry *r, const char *id, kiln_tag **ret, size_t *ret_n, kiln_error **err);
/* Removes tag key of resource id: with any value if value is NULL, else only with that value. */
int registry_tag_delete(registry *r, const char *id, const char *key, const char *value,
                        kiln_error **err);
/* Copies the tags of one resource onto another. */
int registry_tags_copy(registry *r, const char *from_id, const char *to_id, kiln_error **err);
/* Removes every tag of resource id. */
int registry_tags_clear(registry *r, const char *id, kiln_error **err);
/* Every tag on the live resources of owner in region (images, snapshots, instances, volumes,
 * key pairs), by resource ID and key. */
int registry_tags_owned(registry *r, const char *region, const char *owner,
                        kiln_tag_description **ret, size_t *ret_n, kiln_error **err);
/* The region, owner and state of the resource an ID names (ami-, snap-, i-, vol-, key-; a key
 * pair's state is "available"); KILN_E_NOT_FOUND without an EC2 code if there is none. */
int registry_resource_locate(registry *r, const char *id, char **ret_region, char **ret_owner,
                             char **ret_state, kiln_error **err);

#endif
