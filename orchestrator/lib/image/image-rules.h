/* Rules shared by the image and snapshot modules: validation with EC2's codes and wording,
 * who may see and launch an image, and filter matching. */
#ifndef KILN_IMAGE_RULES_H
#define KILN_IMAGE_RULES_H

#include <kiln/image.h>

#include "core/ctx-private.h"
#include "model/filter.h"

int rules_check_image_id(const char *id, kiln_error **err);
int rules_check_snapshot_id(const char *id, kiln_error **err);
/* InvalidAMIName.Duplicate if a live image of owner in region already has the name. */
int rules_check_name_free(registry *r, const char *region, const char *owner, const char *name,
                          kiln_error **err);
/* The caller may launch (and so see) the image: owner, public, its account, its
 * organization. */
bool rules_can_launch(const kiln_ctx *ctx, const kiln_image *img);
/* Shared with the caller explicitly (account or organization), not by being public. */
bool rules_shared_with(const kiln_ctx *ctx, const kiln_image *img, const char *account);
/* Loads an image the caller can see in the current region (deregistered ones included);
 * InvalidAMIID.NotFound otherwise. */
int rules_image_visible(kiln_ctx *ctx, registry *r, const char *id, kiln_image *ret,
                        kiln_error **err);
/* The same in another region. */
int rules_image_visible_in(kiln_ctx *ctx, registry *r, const char *region, const char *id,
                           kiln_image *ret, kiln_error **err);
/* True if the process that wrote a pending record still runs. */
bool rules_worker_alive(pid_t pid);
int rules_not_found_image(kiln_error **err, const char *id);
/* layers.c: whether the region's host holds the snapshot's layer (1, 0, or -1 on an error),
 * and bringing the snapshot's chain of layers to the host from the hosts that hold them. */
int image_layer_on_host(kiln_ctx *ctx, const kiln_region_info *region, const char *snapshot_id,
                        const char *host_id, kiln_error **err);
int image_layers_bring(kiln_ctx *ctx, const kiln_region_info *region, const char *snapshot_id,
                       const char *host_id, kiln_error **err);
/* The path of a pool's volume on the pool's host. */
char *image_volume_path(virStoragePoolPtr pool, const char *volume, kiln_error **err);
int rules_not_authorized(kiln_error **err, const char *id);
/* UefiData as kiln writes it (describe-image-attribute uefiData: the variable store deflated,
 * then base64) into the store's bytes; InvalidParameterValue unless it is one. */
int image_uefi_data_parse(const char *text, void **ret, size_t *ret_len, kiln_error **err);

/* The caller may create volumes from (read) the snapshot: owner, public, or its account in
 * the createVolumePermission. */
int rules_snapshot_restorable(const kiln_ctx *ctx, registry *r, const char *snapshot_id, bool *ret,
                              kiln_error **err);

/* Applies BlockDeviceMappings (struct kiln_mapping_spec, see <kiln/instance.h>) to img's, in
 * the caller's registry transaction (image-mappings.c): InvalidBlockDeviceMapping,
 * InvalidSnapshot.NotFound. */
int image_mappings_apply(kiln_ctx *ctx, registry *r, kiln_image *img,
                         const struct kiln_mapping_spec *req, size_t n, kiln_error **err);

#endif
