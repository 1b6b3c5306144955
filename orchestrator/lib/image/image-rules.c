/* Validation, visibility and filters for images and snapshots, with EC2's error codes and
 * wording (reference/ec2-ami.md §5, §6.1). */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include <kiln/text.h>

#include "image/image-rules.h"
#include "util/util.h"

int rules_check_image_id(const char *id, kiln_error **err)
{
        if (!kiln_id_valid("ami", id))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidAMIID.Malformed",
                                      "Invalid id: \"%s\" (expecting \"ami-...\")", id ? id : "");
        return 0;
}

int rules_check_snapshot_id(const char *id, kiln_error **err)
{
        if (!kiln_id_valid("snap", id))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidSnapshotID.Malformed",
                                      "Invalid id: \"%s\" (expecting \"snap-...\")", id ? id : "");
        return 0;
}

int kiln_image_name_check(const char *name, kiln_error **err)
{
        size_t n = name ? strlen(name) : 0;
        bool ok = n >= 3 && n <= 128;

        for (size_t i = 0; ok && i < n; i++) {
                char c = name[i];

                ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     strchr("()[]./-'@_ ", c) != NULL;
        }
        if (!ok)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidAMIName.Malformed",
                                      "AMI names must be between 3 and 128 characters long, and "
                                      "may contain letters, numbers, '(', ')', '.', '-', '/' and "
                                      "'_'");
        return 0;
}

int kiln_image_description_check(const char *description, kiln_error **err)
{
        return kiln_text_check("Description", description, KILN_DESCRIPTION_MAX, err);
}

int rules_check_name_free(registry *r, const char *region, const char *owner, const char *name,
                          kiln_error **err)
{
        kiln_autofree char *in_use = NULL;

        if (registry_image_find_name(r, region, owner, name, &in_use, err) < 0)
                return -1;
        if (in_use)
                return kiln_error_set(err, KILN_E_EXISTS, "InvalidAMIName.Duplicate",
                                      "AMI name %s is already in use by AMI %s", name, in_use);
        return 0;
}

bool rules_shared_with(const kiln_ctx *ctx, const kiln_image *img, const char *account)
{
        for (size_t i = 0; i < img->n_launch_permissions; i++) {
                const kiln_permission *p = &img->launch_permissions[i];

                if (p->kind == KILN_PERM_USER && strcmp(p->value, account) == 0)
                        return true;
                if (p->kind == KILN_PERM_ORG && ctx_account_in_org(ctx, account, p->value))
                        return true;
        }
        return false;
}

bool rules_can_launch(const kiln_ctx *ctx, const kiln_image *img)
{
        return strcmp(img->owner_id, ctx->account) == 0 || img->is_public ||
               rules_shared_with(ctx, img, ctx->account);
}

int rules_not_found_image(kiln_error **err, const char *id)
{
        return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidAMIID.NotFound",
                              "The image id '[%s]' does not exist", id);
}

int rules_not_authorized(kiln_error **err, const char *id)
{
        return kiln_error_set(err, KILN_E_PERMISSION, "AuthFailure",
                              "Not authorized for images: [%s]", id);
}

int rules_image_visible(kiln_ctx *ctx, registry *r, const char *id, kiln_image *ret,
                        kiln_error **err)
{
        return rules_image_visible_in(ctx, r, ctx->region->name, id, ret, err);
}

bool rules_worker_alive(pid_t pid)
{
        return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int rules_image_visible_in(kiln_ctx *ctx, registry *r, const char *region, const char *id,
                           kiln_image *ret, kiln_error **err)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_image img = {0};

        if (rules_check_image_id(id, err) < 0)
                return -1;
        if (registry_image_get(r, id, &img, &e) < 0) {
                if (e->code != KILN_E_NOT_FOUND) {
                        *err = kiln_steal(&e);
                        return -1;
                }
                return rules_not_found_image(err, id);
        }
        if (strcmp(img.region, region) != 0 || !rules_can_launch(ctx, &img)) {
                kiln_image_clear(&img);
                return rules_not_found_image(err, id);
        }
        *ret = img;
        return 0;
}

/* OVMF's variable stores are at most 4 MiB (the 4M build's is 540 KiB). */
#define UEFI_DATA_MAX (4u << 20)

int image_uefi_data_parse(const char *text, void **ret, size_t *ret_len, kiln_error **err)
{
        void *data = NULL;
        size_t len = 0;

        if (kiln_inflate_base64("UefiData", text, UEFI_DATA_MAX, &data, &len, err) < 0)
                return -1;
        /* A firmware volume: its header's signature "_FVH" at offset 40. */
        if (len < 64 || memcmp((const char *) data + 40, "_FVH", 4) != 0) {
                free(data);
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "UefiData does not hold a UEFI variable store (no firmware "
                                      "volume header)");
        }
        *ret = data;
        *ret_len = len;
        return 0;
}
