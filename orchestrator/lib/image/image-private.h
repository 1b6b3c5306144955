/* What the image modules share: registering a local disk file, for register-image and
 * import-image. */
#ifndef KILN_IMAGE_PRIVATE_H
#define KILN_IMAGE_PRIVATE_H

#include <stdbool.h>

#include <kiln/image.h>

/* The checks of a register spec that need no disk: name, description, platform, ... */
int image_register_validate(const kiln_register_spec *spec, kiln_error **err);
/* register-image's work; imported accepts what disk_check_importable accepts (vmdk, vhdx, a
 * raw file only with a partition table) and describes the snapshot as imported. */
int image_register_disk(kiln_ctx *ctx, const kiln_register_spec *spec, bool imported,
                        kiln_progress_fn progress, void *userdata, char **ret_image_id,
                        kiln_error **err);

/* The checksum of FILE in the text of a sums file, as "TYPE:HEX", or NULL if it lists none:
 * "HEX  FILE" (sha256sum, also "*FILE") or "ALG (FILE) = HEX" (BSD style, as Fedora and others
 * publish). The text is the server's: import-image checks the result as a --checksum. */
char *image_sums_lookup(const char *sums, const char *file, const char *type);

/* A transfer's progress through libvirt (virt_progress_fn), told to the caller's
 * kiln_progress_fn as `what`. */
typedef struct image_progress {
        kiln_progress_fn fn;
        void *userdata;
        const char *what;
} image_progress;
int image_on_transfer(unsigned long long done, unsigned long long total, void *userdata);

#endif
