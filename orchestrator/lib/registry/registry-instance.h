/* Instance and volume records. */
#ifndef KILN_REGISTRY_INSTANCE_H
#define KILN_REGISTRY_INSTANCE_H

#include <kiln/instance.h>

#include "registry/registry.h"

typedef struct registry_volume {
        char *volume_id;
        char *region;
        char *owner_id;
        char *instance_id;
        char *device_name;
        char *snapshot_id; /* the snapshot its overlay grows on now (moves with each freeze) */
        char *volume;      /* name in the pool */
        int64_t size;
        bool delete_on_termination;
        char *state; /* creating, in-use, available, deleted */
        char *create_time;
        char *volume_type; /* NULL: standard */
        char *attach_time; /* NULL while not attached */
        int position;      /* the order of the instance's disks (vda, vdb, ...) */
        /* The snapshot it was made from (EC2's SnapshotId); NULL: made empty. Insert: NULL
         * means snapshot_id. */
        char *origin_snapshot_id;
        char *host_id; /* the region's host that holds it; NULL: the first */
} registry_volume;

void registry_volume_clear(registry_volume *v);
/* EC2's code of an instance state name (pending 0 ... stopped 80). */
int registry_instance_state_code(const char *state);

/* The instance with its volumes; worker_pid marks a launch in progress. KILN_E_EXISTS if its
 * port is taken by another live instance. */
int registry_instance_insert(registry *r, const kiln_instance *inst, const char *domain,
                             const char *seed_volume, pid_t worker_pid, kiln_error **err);
int registry_volume_insert(registry *r, const registry_volume *v, kiln_error **err);
/* KILN_E_NOT_FOUND without an EC2 code if there is none. */
int registry_instance_get(registry *r, const char *id, kiln_instance *ret, kiln_error **err);
/* Instances of a region (owner NULL: all), oldest first. */
int registry_instance_list(registry *r, const char *region, const char *owner, kiln_instance **ret,
                           size_t *ret_n, kiln_error **err);
/* The instance's domain name, seed volume and worker; each out pointer may be NULL. */
int registry_instance_private(registry *r, const char *id, char **ret_domain, char **ret_seed,
                              pid_t *ret_worker, kiln_error **err);
int registry_instance_set_state(registry *r, const char *id, const char *state,
                                const char *reason_code, const char *reason_message,
                                const char *transition_reason, kiln_error **err);
/* KILN_E_EXISTS if another live instance has the port. */
int registry_instance_set_port(registry *r, const char *id, int port, kiln_error **err);
/* The address to connect to (NULL: not known yet, a libvirt network's lease to come). */
int registry_instance_set_host(registry *r, const char *id, const char *host, kiln_error **err);
/* The instance's status since its last start (EC2's instance status): initializing, ok,
 * impaired. */
int registry_instance_set_status(registry *r, const char *id, const char *status, kiln_error **err);
int registry_instance_set_worker(registry *r, const char *id, pid_t pid, kiln_error **err);
/* What the instance's NoCloud seed is made of beyond its record: the user data (NULL: none)
 * and whether the seed volume still carries the private host key (until the first boot has
 * taken it). */
int registry_instance_set_seed(registry *r, const char *id, const void *user_data, size_t len,
                               bool keys, kiln_error **err);
/* The seed volume kiln wrote last: whether it carries the private host key, and its SHA-256
 * (hex), by which fsck knows a seed that a crash left stale. */
int registry_instance_set_seed_state(registry *r, const char *id, bool keys, const char *sha256,
                                     kiln_error **err);
/* A Windows instance's PasswordData (base64, encrypted with the launch key pair's public key)
 * and when it was made; NULL clears both. */
int registry_instance_set_password(registry *r, const char *id, const char *password_data,
                                   kiln_error **err);
/* *ret_data and *ret_time: new strings, or NULL when the instance has no password. */
int registry_instance_password(registry *r, const char *id, char **ret_data, char **ret_time,
                               kiln_error **err);
int registry_instance_set_type(registry *r, const char *id, const char *type, kiln_error **err);
/* disableApiTermination and disableApiStop: 0 or 1, or -1 to leave one as it is. */
int registry_instance_set_protection(registry *r, const char *id, int termination, int stop,
                                     kiln_error **err);
/* The instance's pinned host key (its public line), after a new one was made. */
int registry_instance_set_host_key(registry *r, const char *id, const char *host_key,
                                   kiln_error **err);
/* *ret_user_data (NULL when there is none) is the caller's, to wipe and free; *ret_sha256 (may
 * be NULL: not known) too. Any ret_ pointer may be NULL. */
int registry_instance_seed(registry *r, const char *id, void **ret_user_data, size_t *ret_len,
                           bool *ret_keys, char **ret_sha256, kiln_error **err);
int registry_instance_delete(registry *r, const char *id, kiln_error **err);
int registry_volumes_of(registry *r, const char *instance_id, registry_volume **ret, size_t *ret_n,
                        kiln_error **err);
/* Every volume of a region in any state. */
int registry_volume_list(registry *r, const char *region, registry_volume **ret, size_t *ret_n,
                         kiln_error **err);
int registry_volume_set_state(registry *r, const char *id, const char *state, kiln_error **err);
/* Points the volume at another pool volume (a fresh overlay after a bake) grown from
 * snapshot_id. */
int registry_volume_switch(registry *r, const char *id, const char *volume, const char *snapshot_id,
                           kiln_error **err);
int registry_volume_delete(registry *r, const char *id, kiln_error **err);
/* The volume (any state); KILN_E_NOT_FOUND without an EC2 code if there is none. */
int registry_volume_get(registry *r, const char *id, registry_volume *ret, kiln_error **err);
/* Attaches the volume to instance_id as device at position (state in-use, attached now), or
 * detaches it (instance_id NULL: state available, no device). */
int registry_volume_set_attachment(registry *r, const char *id, const char *instance_id,
                                   const char *device, int position, const char *attach_time,
                                   kiln_error **err);
void registry_volumes_free(registry_volume *v, size_t n);
/* Seed volume names of the region's instances that are not terminated, and (parallel) the
 * instances' IDs. */
int registry_instance_seeds(registry *r, const char *region, char ***ret, char ***ret_ids,
                            size_t *ret_n, kiln_error **err);

#endif
