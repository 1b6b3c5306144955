/* Images (AMIs) and snapshots. An image is not data: it is a record whose block device mapping
 * points at immutable snapshots (qcow2 layers in the region's pool). Images are regional,
 * private to their owner until launch permissions say otherwise, and cannot be edited, only
 * their attributes. Deregistering an image leaves its snapshots. */
#ifndef KILN_IMAGE_H
#define KILN_IMAGE_H

#include <stdbool.h>
#include <stdint.h>

#include <kiln/common.h>
#include <kiln/ctx.h>
#include <kiln/error.h>
#include <kiln/log.h>

typedef enum {
        KILN_PERM_ALL,  /* Group=all: public */
        KILN_PERM_USER, /* UserId=123456789012 */
        KILN_PERM_ORG,  /* OrganizationArn=arn:aws:organizations::ACCOUNT:organization/o-... */
        KILN_PERM_OU,   /* OrganizationalUnitArn=... */
        KILN_PERM_COUNT
} kiln_perm_kind;

typedef struct kiln_permission {
        kiln_perm_kind kind;
        char *value; /* NULL for KILN_PERM_ALL */
} kiln_permission;

typedef struct kiln_tag {
        char *key;
        char *value;
} kiln_tag;

/* Whether an image's or instance's Platform is "windows" (NULL: Linux/UNIX). */
KILN_PUBLIC bool kiln_platform_is_windows(const char *platform);

KILN_PUBLIC void kiln_tags_free(kiln_tag *tags, size_t n);

/* One item of EC2's TagSpecifications: the tags to put on each new resource of one type
 * ("image", "snapshot", "instance", "volume", "key-pair") that a call creates. */
typedef struct kiln_tag_spec {
        const char *resource_type;
        const kiln_tag *tags;
        size_t n_tags;
} kiln_tag_spec;

typedef struct kiln_block_device_mapping {
        char *device_name; /* /dev/vda */
        char *snapshot_id;
        int64_t volume_size; /* GiB */
        bool delete_on_termination;
        char *volume_type; /* "standard" */
} kiln_block_device_mapping;

typedef struct kiln_image {
        char *image_id;
        char *region;
        char *owner_id;
        char *name;
        char *description;
        char *state; /* pending, available, failed, deregistered */
        char *architecture;
        char *platform; /* "linux" or "windows" */
        char *default_user;
        char *boot_mode;    /* legacy-bios, uefi or uefi-preferred */
        char *tpm_support;  /* "v2.0": its instances get a TPM 2.0; NULL: none */
        bool secure_boot;   /* UEFI with Secure Boot (kiln's own attribute) */
        bool has_uefi_data; /* it carries a UEFI variable store (UefiData) */
        bool no_ena;        /* EnaSupport false: no virtio drivers, so its instances get an
                               e1000e NIC and SATA disks (kiln's stand-ins for EC2's ENA) */
        char *rtc;          /* "utc" or "localtime": the instances' clock; NULL: the platform's
                               (Windows keeps local time, Linux UTC) */
        char *root_device_name;
        char *creation_date;
        char *owner_alias; /* amazon, aws-marketplace, or NULL */
        char *source_image_id;
        char *source_region;
        char *source_instance_id;
        char *state_reason_code;
        char *state_reason_message;
        double hourly_price; /* marketplace images, else 0 */
        bool is_public;
        /* Baked with --no-generalize (or copied from such an image): it may hold its
         * instance's keys and identity, so it is never made public. Set by kiln only. */
        bool ungeneralized;
        kiln_permission *launch_permissions;
        size_t n_launch_permissions;
        kiln_block_device_mapping *mappings;
        size_t n_mappings;
        kiln_tag *tags;
        size_t n_tags;
} kiln_image;

KILN_PUBLIC void kiln_image_clear(kiln_image *img);
KILN_PUBLIC void kiln_images_free(kiln_image *imgs, size_t n);

/* EC2's limit for an image's description, in characters (reference/ec2-ami.md §5). */
#define KILN_DESCRIPTION_MAX 255
/* An AMI name as EC2 takes it: 3 to 128 letters, digits and ()[]./-'@_ and spaces
 * (InvalidAMIName.Malformed). */
KILN_PUBLIC int kiln_image_name_check(const char *name, kiln_error **err);
/* A description: text (kiln_text_check) of at most KILN_DESCRIPTION_MAX characters. */
KILN_PUBLIC int kiln_image_description_check(const char *description, kiln_error **err);

/* ---- register ---- */
/* A disk file for one device of a new image (register-image --disk DEVICE=FILE). */
typedef struct kiln_register_disk {
        const char *device_name;
        const char *path; /* raw or qcow2 file with no backing file */
} kiln_register_disk;

typedef struct kiln_register_spec {
        const char *name;
        const char *disk_path;   /* the root's file (raw or qcow2, no backing file), or NULL */
        const char *device_name; /* the root device: NULL is root_device_name, or /dev/vda */
        const char *root_device_name;
        /* Disk files of further devices (the root's may be one of them instead of disk_path). */
        const kiln_register_disk *disks;
        size_t n_disks;
        /* RegisterImage's BlockDeviceMapping (struct kiln_mapping_spec, see instance.h):
         * devices from snapshots the caller may read (SnapshotId, VolumeSize at least its
         * size), or empty (VolumeSize alone); the root device may be one of them. */
        const struct kiln_mapping_spec *mappings;
        size_t n_mappings;
        const char *platform; /* NULL: linux */
        const char *default_user;
        const char *architecture; /* NULL: x86_64 */
        const char *description;
        const char *boot_mode;   /* NULL: legacy-bios; uefi, uefi-preferred */
        const char *tpm_support; /* NULL or "v2.0" (needs UEFI) */
        const char *uefi_data;   /* NULL, or UefiData as describe-image-attribute gives it */
        bool secure_boot;        /* UEFI with Secure Boot */
        bool no_ena;             /* EnaSupport false: no virtio drivers (e1000e and SATA) */
        const char *rtc;         /* NULL, "utc" or "localtime" */
        const char *source;      /* where the disk came from, for the snapshot's description;
                                    NULL: disk_path */
        const char *owner_alias; /* amazon or aws-marketplace for catalog images, else NULL */
        double hourly_price;     /* marketplace images: USD per instance hour */
} kiln_register_spec;

/* Progress of a long operation (a transfer): bytes done and total (0 if unknown). */
typedef void (*kiln_progress_fn)(const char *what, uint64_t done, uint64_t total, void *userdata);

/* RegisterImage: uploads each disk file as a new snapshot and maps it, with the snapshots and
 * empty volumes of the mappings, under its device; the root device (root_device_name,
 * device_name or /dev/vda) must be one of them, from a file or a snapshot, and comes first.
 * Platform and login user are read from a root disk file when not given. Nothing is registered
 * or left in the pool on failure. */
KILN_PUBLIC int kiln_image_register(kiln_ctx *ctx, const kiln_register_spec *spec,
                                    kiln_progress_fn progress, void *userdata, char **ret_image_id,
                                    kiln_error **err);

/* ---- import (download a published image) ---- */
typedef struct kiln_import_spec {
        const char *catalog;  /* an entry of templates/catalog.json (KILN_CATALOG overrides the
                                 file): its URL, checksum source, platform, user, owner alias
                                 and price; the other fields override it */
        const char *url;      /* http:// or https:// */
        const char *checksum; /* sha256:HEX or sha512:HEX, or NULL */
        const char *name;     /* NULL: the file name of the URL */
        const char *platform; /* NULL: detected from the disk */
        const char *default_user;
        const char *architecture;
        const char *description;
        /* Told each step (KILN_LOG_INFO) and each warning (KILN_LOG_WARN); may be NULL. */
        kiln_log_fn notify;
        void *userdata;
} kiln_import_spec;

/* import-image: downloads the URL (resuming what an interrupted run left, retrying transient
 * failures, checking the checksum while the bytes arrive), refuses anything that is not a
 * standalone disk image (backing files, data files, absurd sizes, not a disk at all), detects
 * the OS from the disk, converts it to qcow2 and registers it as register-image does. Nothing
 * is registered and no file is left on failure, except a partial download to resume. */
KILN_PUBLIC int kiln_image_import(kiln_ctx *ctx, const kiln_import_spec *spec,
                                  kiln_progress_fn progress, void *userdata, char **ret_image_id,
                                  kiln_error **err);

/* ---- create (bake an instance) ---- */
typedef struct kiln_create_image_spec {
        const char *instance_id;
        const char *name;
        const char *description; /* NULL: "" */
        bool no_reboot;          /* snapshot a running instance live, crash-consistent */
        bool no_generalize;      /* keep the instance's keys, identity and state in the image */
        bool leave_stopped;      /* do not start a running instance again after the bake */
        /* Tags for the new image ("image") and its snapshots ("snapshot"). */
        const kiln_tag_spec *tag_specs;
        size_t n_tag_specs;
        /* BlockDeviceMappings for the instance's volumes (kiln_mapping_spec, see instance.h):
         * NoDevice leaves one out of the image, VolumeSize records a larger size for it. */
        const struct kiln_mapping_spec *mappings;
        size_t n_mappings;
        /* Told each step (KILN_LOG_INFO) and each warning (KILN_LOG_WARN); may be NULL. */
        kiln_log_fn notify;
        void *userdata;
} kiln_create_image_spec;

typedef struct kiln_bake_result {
        char *image_id;
        uint64_t bake_ms; /* freezing the volumes and registering, without guest shutdown */
        /* The image is registered, but the instance that was running could not be started
         * again: why (the caller frees it); NULL when it runs again or was not to. */
        kiln_error *restart_error;
} kiln_bake_result;

/* create-image. A stopped instance is baked at once; a running one is shut down cleanly,
 * baked and started again (no_reboot: baked live instead). Unless no_generalize, the guest
 * first loses its launch keys, host keys, machine-id, cloud-init state, launch logs and shell
 * histories, and the image is registered only if a check then finds none of them (a stopped
 * instance is started for this and stopped again). Each volume's overlay becomes a snapshot
 * whose parent is the snapshot it grew from; the instance continues on a fresh overlay. */
KILN_PUBLIC int kiln_image_create(kiln_ctx *ctx, const kiln_create_image_spec *spec,
                                  kiln_bake_result *ret, kiln_error **err);

/* ---- describe ---- */
typedef struct kiln_filter {
        const char *name; /* name, state, platform, is-public, owner-id, image-id, ... */
        const char *const *values;
        size_t n_values;
} kiln_filter;

typedef struct kiln_image_query {
        const char *const *image_ids;
        size_t n_image_ids;
        const char *const *owners; /* self, ACCOUNT, amazon, aws-marketplace */
        size_t n_owners;
        const char *const *executable_users; /* self, all, ACCOUNT */
        size_t n_executable_users;
        const kiln_filter *filters;
        size_t n_filters;
} kiln_image_query;

KILN_PUBLIC int kiln_images_describe(kiln_ctx *ctx, const kiln_image_query *q, kiln_image **ret,
                                     size_t *ret_n, kiln_error **err);

KILN_PUBLIC int kiln_image_deregister(kiln_ctx *ctx, const char *image_id, kiln_error **err);

/* ---- attributes ---- */
typedef struct kiln_image_attribute {
        char *image_id;
        char *description;      /* for "description" */
        kiln_permission *perms; /* for "launchPermission" */
        size_t n_perms;
        char *value; /* for "bootMode", "tpmSupport" (NULL: none) and "uefiData" (the variable
                        store deflated, then base64; NULL: none) */
} kiln_image_attribute;

KILN_PUBLIC void kiln_image_attribute_clear(kiln_image_attribute *a);
/* attribute: "launchPermission", "description", "bootMode", "tpmSupport" or "uefiData". */
KILN_PUBLIC int kiln_image_attribute_describe(kiln_ctx *ctx, const char *image_id,
                                              const char *attribute, kiln_image_attribute *ret,
                                              kiln_error **err);

typedef struct kiln_permission_change {
        const kiln_permission *add;
        size_t n_add;
        const kiln_permission *remove;
        size_t n_remove;
} kiln_permission_change;

/* Changes launch permissions; with_snapshots applies the same accounts (and public) to the
 * createVolumePermission of the image's snapshots, as the console's checkbox does. */
KILN_PUBLIC int kiln_image_modify_launch_permission(kiln_ctx *ctx, const char *image_id,
                                                    const kiln_permission_change *change,
                                                    bool with_snapshots, kiln_error **err);
KILN_PUBLIC int kiln_image_modify_description(kiln_ctx *ctx, const char *image_id,
                                              const char *description, kiln_error **err);
/* attribute: "launchPermission" (removes every grant). */
KILN_PUBLIC int kiln_image_attribute_reset(kiln_ctx *ctx, const char *image_id,
                                           const char *attribute, kiln_error **err);

/* ---- copy ---- */
typedef struct kiln_copy_spec {
        const char *source_region;
        const char *source_image_id;
        const char *name;
        const char *description;
        bool copy_image_tags; /* the source image's tags go on the copy */
        /* EC2's ClientToken (NULL: none): a second request with the token gets the image the
         * first made; with other parameters, IdempotentParameterMismatch. */
        const char *client_token;
        /* A destination region of several hosts: the layers go to every host now, not only to
         * its first (the others get them when they first launch the image). */
        bool all_hosts;
} kiln_copy_spec;

/* Copies into the context's region: new image and snapshot IDs; layers the destination pool
 * already holds from an earlier copy are not sent again; launch permissions are not copied. */
KILN_PUBLIC int kiln_image_copy(kiln_ctx *ctx, const kiln_copy_spec *spec,
                                kiln_progress_fn progress, void *userdata, char **ret_image_id,
                                kiln_error **err);

/* ---- snapshots ---- */
typedef struct kiln_snapshot {
        char *snapshot_id;
        char *region;
        char *owner_id;
        char *parent_id; /* the layer below, or NULL */
        char *description;
        char *state; /* pending, completed, error */
        char *start_time;
        char *volume_id;
        int64_t volume_size; /* GiB */
        kiln_tag *tags;
        size_t n_tags;
} kiln_snapshot;

KILN_PUBLIC void kiln_snapshot_clear(kiln_snapshot *s);
KILN_PUBLIC void kiln_snapshots_free(kiln_snapshot *s, size_t n);

typedef struct kiln_snapshot_query {
        const char *const *snapshot_ids;
        size_t n_snapshot_ids;
        const char *const *owners; /* self or ACCOUNT */
        size_t n_owners;
        const char *const *restorable_by; /* self, all or ACCOUNT */
        size_t n_restorable_by;
        const kiln_filter *filters;
        size_t n_filters;
} kiln_snapshot_query;

KILN_PUBLIC int kiln_snapshots_describe(kiln_ctx *ctx, const kiln_snapshot_query *q,
                                        kiln_snapshot **ret, size_t *ret_n, kiln_error **err);
typedef struct kiln_snapshot_spec {
        const char *volume_id;
        const char *description;        /* NULL: "" */
        const kiln_tag_spec *tag_specs; /* "snapshot" only */
        size_t n_tag_specs;
        /* Told each warning (KILN_LOG_WARN); may be NULL. */
        kiln_log_fn notify;
        void *userdata;
} kiln_snapshot_spec;

/* CreateSnapshot: freezes the volume's overlay as a new snapshot (its parent is the snapshot
 * below, so only the blocks written since are new) and continues the volume on a fresh overlay,
 * as a bake does. The volume may be available or attached to a running instance (the snapshot
 * is then taken live and only crash-consistent: a warning says so) or to a stopped one.
 * InvalidVolume.NotFound, IncorrectState for a volume or instance in between states. *ret is
 * the completed snapshot. */
KILN_PUBLIC int kiln_snapshot_create(kiln_ctx *ctx, const kiln_snapshot_spec *spec,
                                     kiln_snapshot *ret, kiln_error **err);
KILN_PUBLIC int kiln_snapshot_delete(kiln_ctx *ctx, const char *snapshot_id, kiln_error **err);
/* createVolumePermission: KILN_PERM_ALL and KILN_PERM_USER only. */
KILN_PUBLIC int kiln_snapshot_permissions_describe(kiln_ctx *ctx, const char *snapshot_id,
                                                   kiln_permission **ret, size_t *ret_n,
                                                   kiln_error **err);
KILN_PUBLIC int kiln_snapshot_modify_permission(kiln_ctx *ctx, const char *snapshot_id,
                                                const kiln_permission_change *change,
                                                kiln_error **err);
/* ResetSnapshotAttribute: attribute "createVolumePermission" (removes every grant). */
KILN_PUBLIC int kiln_snapshot_attribute_reset(kiln_ctx *ctx, const char *snapshot_id,
                                              const char *attribute, kiln_error **err);
KILN_PUBLIC void kiln_permissions_free(kiln_permission *p, size_t n);

/* Parses one permission item: "all", a 12-digit account, an organization or OU ARN, or an
 * organization ID (o-...). */
KILN_PUBLIC int kiln_permission_parse(const char *kind, const char *value, kiln_permission *ret,
                                      kiln_error **err);

#endif
