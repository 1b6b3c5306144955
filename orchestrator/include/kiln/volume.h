/* Volumes, as EBS has them: a disk of a region made empty or from a snapshot, attached to one
 * instance at a time under a device name, detached, deleted. A volume is a qcow2 file in the
 * region's pool (an overlay on its snapshot, or empty); an instance's launch makes one per
 * block device mapping. States: creating, available, in-use, deleting. */
#ifndef KILN_VOLUME_H
#define KILN_VOLUME_H

#include <stdbool.h>
#include <stdint.h>

#include <kiln/common.h>
#include <kiln/ctx.h>
#include <kiln/error.h>
#include <kiln/image.h>

#define KILN_VOLUME_MAX_GIB 16384 /* gp3's largest */

typedef struct kiln_volume {
        char *volume_id;
        char *region;
        char *owner_id;
        char *snapshot_id; /* NULL or "": made empty */
        int64_t size;      /* GiB */
        char *state;
        char *volume_type;
        char *create_time;
        /* The attachment, when in use: */
        char *instance_id; /* NULL: not attached */
        char *device;
        char *attach_time;
        bool delete_on_termination;
        kiln_tag *tags; /* sorted by key */
        size_t n_tags;
        char *zone; /* the availability zone: its host's */
} kiln_volume;

KILN_PUBLIC void kiln_volume_clear(kiln_volume *v);
KILN_PUBLIC void kiln_volumes_free(kiln_volume *list, size_t n);

typedef struct kiln_volume_spec {
        int64_t size;                   /* GiB; 0: the snapshot's size */
        const char *snapshot_id;        /* NULL: an empty volume (size is then needed) */
        const char *volume_type;        /* NULL: "standard"; the EBS names are taken */
        const char *availability_zone;  /* NULL, or the region's one zone: REGION + "a" */
        const kiln_tag_spec *tag_specs; /* "volume" only */
        size_t n_tag_specs;
        /* EC2's ClientToken (NULL: none): a second request with the token gets the volume the
         * first made; with other parameters, IdempotentParameterMismatch. */
        const char *client_token;
} kiln_volume_spec;

/* CreateVolume in the context's region: MissingParameter without a size or a snapshot,
 * InvalidParameterValue for a size out of 1..KILN_VOLUME_MAX_GIB or below the snapshot's,
 * InvalidSnapshot.NotFound for a snapshot the caller may not read (createVolumePermission).
 * Returns the volume available; nothing is left behind on failure. */
KILN_PUBLIC int kiln_volume_create(kiln_ctx *ctx, const kiln_volume_spec *spec, kiln_volume *ret,
                                   kiln_error **err);

/* DescribeVolumes: the caller's volumes in the region, by creation; ids each must exist
 * (InvalidVolume.NotFound). Filters: volume-id, status, size, snapshot-id, volume-type,
 * create-time, attachment.instance-id, attachment.device, attachment.status,
 * attachment.delete-on-termination, availability-zone, tag:KEY, tag-key, tag-value. */
KILN_PUBLIC int kiln_volumes_describe(kiln_ctx *ctx, const char *const *ids, size_t n_ids,
                                      const kiln_filter *filters, size_t n_filters,
                                      kiln_volume **ret, size_t *ret_n, kiln_error **err);

/* DeleteVolume: VolumeInUse while attached; its file goes. */
KILN_PUBLIC int kiln_volume_delete(kiln_ctx *ctx, const char *volume_id, kiln_error **err);

/* AttachVolume: an available volume to a running or stopped instance of the same region, under
 * device (/dev/sdf, /dev/xvdf, /dev/vdb ...; not the root's). A running instance gets the disk
 * at once (hot-plug); a stopped one at its next start. VolumeInUse, IncorrectState,
 * InvalidParameterValue for a device name that is malformed or taken. *ret (may be NULL) is the
 * volume afterwards. */
KILN_PUBLIC int kiln_volume_attach(kiln_ctx *ctx, const char *volume_id, const char *instance_id,
                                   const char *device, kiln_volume *ret, kiln_error **err);

/* DetachVolume: instance_id and device, if given, must match the attachment. A running
 * instance is asked to release the disk and kiln waits for it (force: the disk is pulled even
 * if the guest does not answer). The root volume cannot be detached
 * (OperationNotPermitted). */
KILN_PUBLIC int kiln_volume_detach(kiln_ctx *ctx, const char *volume_id, const char *instance_id,
                                   const char *device, bool force, kiln_volume *ret,
                                   kiln_error **err);

typedef enum {
        KILN_WAIT_VOLUME_AVAILABLE,
        KILN_WAIT_VOLUME_IN_USE,
        KILN_WAIT_SNAPSHOT_COMPLETED,
        KILN_WAIT_IMAGE_AVAILABLE,
} kiln_resource_wait_what;

/* The aws CLI's waiters volume-available, volume-in-use, snapshot-completed and
 * image-available: returns once the resource is in that state; KILN_E_STATE if it reaches a
 * state it will not leave for it (a failed image) or after timeout_s (0: 600 s), EC2's NotFound
 * if it does not exist, KILN_E_INTERRUPTED after kiln_interrupt(). */
KILN_PUBLIC int kiln_resource_wait(kiln_ctx *ctx, kiln_resource_wait_what what, const char *id,
                                   unsigned timeout_s, kiln_error **err);

#endif
