/* Images: describe with EC2's owner/executable-by/filter rules, deregister, and the description
 * and launchPermission attributes (registering is register.c). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "image/image-private.h"
#include "image/image-rules.h"
#include "util/util.h"

/* ==== describe ==== */

static const char *const image_filters[] = {
        "architecture",
        "block-device-mapping.device-name",
        "block-device-mapping.snapshot-id",
        "block-device-mapping.volume-size",
        "creation-date",
        "description",
        "hypervisor",
        "image-id",
        "image-type",
        "is-public",
        "name",
        "owner-alias",
        "owner-id",
        "platform",
        "root-device-name",
        "root-device-type",
        "state",
        "virtualization-type",
        NULL,
};

static bool image_filter_match(const kiln_image *img, const kiln_filter *f)
{
        const char *n = f->name;
        char buf[32];

        if (strcmp(n, "architecture") == 0)
                return filter_match_any(f, img->architecture);
        if (strcmp(n, "creation-date") == 0)
                return filter_match_any(f, img->creation_date);
        if (strcmp(n, "description") == 0)
                return filter_match_any(f, img->description);
        if (strcmp(n, "hypervisor") == 0)
                return filter_match_any(f, "xen");
        if (strcmp(n, "image-id") == 0)
                return filter_match_any(f, img->image_id);
        if (strcmp(n, "image-type") == 0)
                return filter_match_any(f, "machine");
        if (strcmp(n, "is-public") == 0)
                return filter_match_any(f, img->is_public ? "true" : "false");
        if (strcmp(n, "name") == 0)
                return filter_match_any(f, img->name);
        if (strcmp(n, "owner-alias") == 0)
                return filter_match_any(f, img->owner_alias);
        if (strcmp(n, "owner-id") == 0)
                return filter_match_any(f, img->owner_id);
        if (strcmp(n, "platform") == 0)
                return kiln_platform_is_windows(img->platform) && filter_match_any(f, "windows");
        if (strcmp(n, "root-device-name") == 0)
                return filter_match_any(f, img->root_device_name);
        if (strcmp(n, "root-device-type") == 0)
                return filter_match_any(f, "ebs");
        if (strcmp(n, "state") == 0)
                return filter_match_any(f, img->state);
        if (strcmp(n, "virtualization-type") == 0)
                return filter_match_any(f, "hvm");
        if (strncmp(n, "block-device-mapping.", 21) == 0) {
                for (size_t i = 0; i < img->n_mappings; i++) {
                        const kiln_block_device_mapping *m = &img->mappings[i];

                        snprintf(buf, sizeof(buf), "%" PRId64, m->volume_size);
                        if ((strcmp(n + 21, "device-name") == 0 &&
                             filter_match_any(f, m->device_name)) ||
                            (strcmp(n + 21, "snapshot-id") == 0 &&
                             filter_match_any(f, m->snapshot_id)) ||
                            (strcmp(n + 21, "volume-size") == 0 && filter_match_any(f, buf)))
                                return true;
                }
                return false;
        }
        return filter_tag(f) && filter_match_tags(f, img->tags, img->n_tags);
}

static int check_owner_values(const char *const *v, size_t n, bool allow_all, kiln_error **err)
{
        for (size_t i = 0; i < n; i++) {
                if (strcmp(v[i], "self") == 0 || kiln_is_digits(v[i], 12))
                        continue;
                if (!allow_all &&
                    (strcmp(v[i], "amazon") == 0 || strcmp(v[i], "aws-marketplace") == 0))
                        continue;
                if (allow_all && strcmp(v[i], "all") == 0)
                        continue;
                return kiln_error_set(err, KILN_E_INVALID, "InvalidUserID.Malformed",
                                      "Invalid user id: \"%s\"", v[i]);
        }
        return 0;
}

static bool owner_match(const kiln_ctx *ctx, const kiln_image *img, const kiln_image_query *q)
{
        if (q->n_owners == 0)
                return true;
        for (size_t i = 0; i < q->n_owners; i++) {
                const char *o = q->owners[i];

                if (strcmp(o, "self") == 0 && strcmp(img->owner_id, ctx->account) == 0)
                        return true;
                if (kiln_is_digits(o, 12) && strcmp(img->owner_id, o) == 0)
                        return true;
                if (img->owner_alias && strcmp(img->owner_alias, o) == 0)
                        return true;
        }
        return false;
}

static bool executable_match(const kiln_ctx *ctx, const kiln_image *img, const kiln_image_query *q)
{
        if (q->n_executable_users == 0)
                return true;
        for (size_t i = 0; i < q->n_executable_users; i++) {
                const char *u = q->executable_users[i];

                if (strcmp(u, "all") == 0 && img->is_public)
                        return true;
                if (strcmp(u, "self") == 0 && strcmp(img->owner_id, ctx->account) != 0 &&
                    rules_shared_with(ctx, img, ctx->account))
                        return true;
                if (kiln_is_digits(u, 12) && rules_shared_with(ctx, img, u))
                        return true;
        }
        return false;
}

static bool image_selected(const kiln_ctx *ctx, const kiln_image *img, const kiln_image_query *q)
{
        if (!rules_can_launch(ctx, img) || !owner_match(ctx, img, q) ||
            !executable_match(ctx, img, q))
                return false;
        for (size_t i = 0; i < q->n_filters; i++)
                if (!image_filter_match(img, &q->filters[i]))
                        return false;
        return true;
}

typedef struct describe_txn {
        kiln_ctx *ctx;
        const kiln_image_query *q;
        kiln_image *out;
        size_t n_out;
} describe_txn;

static int describe_by_ids(registry *r, describe_txn *t, kiln_error **err)
{
        const kiln_image_query *q = t->q;

        t->out = kiln_xcalloc(q->n_image_ids, sizeof(*t->out));
        for (size_t i = 0; i < q->n_image_ids; i++) {
                kiln_image img = {0};
                bool dup = false;

                for (size_t j = 0; j < t->n_out; j++)
                        dup = dup || strcmp(t->out[j].image_id, q->image_ids[i]) == 0;
                if (dup)
                        continue;
                if (rules_image_visible(t->ctx, r, q->image_ids[i], &img, err) < 0)
                        return -1;
                if (strcmp(img.state, "deregistered") == 0) {
                        kiln_image_clear(&img);
                        return rules_not_found_image(err, q->image_ids[i]);
                }
                if (image_selected(t->ctx, &img, q))
                        t->out[t->n_out++] = img;
                else
                        kiln_image_clear(&img);
        }
        return 0;
}

static int describe_images_txn(registry *r, void *userdata, kiln_error **err)
{
        describe_txn *t = userdata;
        kiln_image *all = NULL;
        size_t n = 0;
        const char *owner = NULL;

        kiln_images_free(t->out, t->n_out);
        t->out = NULL;
        t->n_out = 0;
        if (t->q->n_image_ids)
                return describe_by_ids(r, t, err);
        /* One owner asked for: let the registry narrow the rows. */
        if (t->q->n_owners == 1 && strcmp(t->q->owners[0], "self") == 0)
                owner = t->ctx->account;
        else if (t->q->n_owners == 1 && kiln_is_digits(t->q->owners[0], 12))
                owner = t->q->owners[0];
        if (registry_image_list(r, t->ctx->region->name, owner, &all, &n, err) < 0)
                return -1;
        t->out = kiln_xcalloc(n, sizeof(*t->out));
        for (size_t i = 0; i < n; i++) {
                if (image_selected(t->ctx, &all[i], t->q)) {
                        t->out[t->n_out++] = all[i];
                        memset(&all[i], 0, sizeof(all[i]));
                }
        }
        kiln_images_free(all, n);
        return 0;
}

int kiln_images_describe(kiln_ctx *ctx, const kiln_image_query *q, kiln_image **ret, size_t *ret_n,
                         kiln_error **err)
{
        describe_txn t = {ctx, q, NULL, 0};

        for (size_t i = 0; i < q->n_image_ids; i++)
                if (rules_check_image_id(q->image_ids[i], err) < 0)
                        return -1;
        if (check_owner_values(q->owners, q->n_owners, false, err) < 0 ||
            check_owner_values(q->executable_users, q->n_executable_users, true, err) < 0 ||
            filter_check_names(q->filters, q->n_filters, image_filters, err) < 0)
                return -1;
        if (registry_read(ctx->reg, describe_images_txn, &t, err) < 0) {
                kiln_images_free(t.out, t.n_out);
                return -1;
        }
        *ret = t.out;
        *ret_n = t.n_out;
        return 0;
}

/* ==== deregister ==== */

/* An image the caller owns, for changes: NotFound if invisible, AuthFailure if not its own,
 * Unavailable if already deregistered. */
static int owned_image(kiln_ctx *ctx, registry *r, const char *id, kiln_image *ret,
                       kiln_error **err)
{
        kiln_image img = {0};

        if (rules_image_visible(ctx, r, id, &img, err) < 0)
                return -1;
        if (strcmp(img.state, "deregistered") == 0) {
                kiln_image_clear(&img);
                return kiln_error_set(err, KILN_E_STATE, "InvalidAMIID.Unavailable",
                                      "The image id '[%s]' is no longer available", id);
        }
        if (strcmp(img.owner_id, ctx->account) != 0) {
                kiln_image_clear(&img);
                return rules_not_authorized(err, id);
        }
        *ret = img;
        return 0;
}

typedef struct id_txn {
        kiln_ctx *ctx;
        const char *id;
        const void *arg;
        bool flag;
        kiln_image_attribute *attr;
} id_txn;

static int deregister_txn(registry *r, void *userdata, kiln_error **err)
{
        id_txn *t = userdata;
        kiln_image img = {0};
        int rc;

        if (owned_image(t->ctx, r, t->id, &img, err) < 0)
                return -1;
        kiln_image_clear(&img);
        rc = registry_image_set_state(r, t->id, "deregistered", NULL, NULL, err);
        if (rc == 0)
                rc = registry_perms_clear(r, REGISTRY_PERM_LAUNCH, t->id, err);
        if (rc == 0)
                kiln_crash_point("deregister.before-commit");
        return rc;
}

int kiln_image_deregister(kiln_ctx *ctx, const char *image_id, kiln_error **err)
{
        id_txn t = {ctx, image_id, NULL, false, NULL};

        if (registry_write(ctx->reg, deregister_txn, &t, err) < 0)
                return -1;
        kiln_crash_point("deregister.after-commit");
        return 0;
}

/* ==== attributes ==== */

int kiln_permission_parse(const char *kind, const char *value, kiln_permission *ret,
                          kiln_error **err)
{
        kiln_permission p = {0};

        if (strcmp(kind, "Group") == 0) {
                if (!value || strcmp(value, "all") != 0)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidAMIAttributeItemValue",
                                              "Invalid attribute item value \"%s\" for group "
                                              "item type.",
                                              value ? value : "");
                p.kind = KILN_PERM_ALL;
        } else if (strcmp(kind, "UserId") == 0) {
                if (!kiln_is_digits(value, 12))
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidAMIAttributeItemValue",
                                              "Invalid attribute item value \"%s\" for userId "
                                              "item type.",
                                              value ? value : "");
                p.kind = KILN_PERM_USER;
                p.value = kiln_xstrdup(value);
        } else if (strcmp(kind, "OrganizationArn") == 0) {
                if (!value || (strncmp(value, "arn:aws:organizations::", 23) != 0 &&
                               strncmp(value, "o-", 2) != 0))
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "Invalid organization ARN \"%s\"",
                                              value ? value : "");
                p.kind = KILN_PERM_ORG;
                p.value = kiln_xstrdup(value);
        } else if (strcmp(kind, "OrganizationalUnitArn") == 0) {
                return kiln_error_set(err, KILN_E_UNSUPPORTED, "InvalidParameterValue",
                                      "Organizational units are not supported; share with the "
                                      "organization or its accounts");
        } else {
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Unknown launch permission item '%s': expected Group, "
                                      "UserId or OrganizationArn",
                                      kind);
        }
        *ret = p;
        return 0;
}

/* Organizations are stored by their full ARN, as EC2 prints them. */
static int perm_normalize(kiln_ctx *ctx, const kiln_permission *in, kiln_permission *out,
                          kiln_error **err)
{
        const config_org *o;

        *out = *in;
        if (in->kind != KILN_PERM_ORG)
                return 0;
        o = config_org_find(ctx->cfg, in->value);
        if (!o)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The organization '%s' is not configured in %s", in->value,
                                      ctx->cfg->path);
        out->value = kiln_xasprintf("arn:aws:organizations::%s:organization/%s", o->master_account,
                                    o->id);
        return 0;
}

static int snapshot_perm_apply(registry *r, const kiln_image *img, const kiln_permission *p,
                               bool add, kiln_error **err)
{
        if (p->kind == KILN_PERM_ORG)
                return 0; /* createVolumePermission knows accounts and "all" only */
        for (size_t i = 0; i < img->n_mappings; i++) {
                const char *snap = img->mappings[i].snapshot_id;
                int rc = !snap ? 0
                         : add ? registry_perm_add(r, REGISTRY_PERM_CREATE_VOLUME, snap, p, err)
                               : registry_perm_remove(r, REGISTRY_PERM_CREATE_VOLUME, snap, p, err);

                if (rc < 0)
                        return -1;
        }
        return 0;
}

static int launch_perm_txn(registry *r, void *userdata, kiln_error **err)
{
        id_txn *t = userdata;
        const kiln_permission_change *c = t->arg;
        kiln_image img = {0};
        int rc = 0;

        if (owned_image(t->ctx, r, t->id, &img, err) < 0)
                return -1;
        for (size_t i = 0; rc == 0 && i < c->n_add + c->n_remove; i++) {
                bool add = i < c->n_add;
                const kiln_permission *in = add ? &c->add[i] : &c->remove[i - c->n_add];
                kiln_permission p;

                rc = perm_normalize(t->ctx, in, &p, err);
                if (rc == 0 && add && p.kind == KILN_PERM_ALL && img.ungeneralized)
                        rc = kiln_error_set(err, KILN_E_INVALID, "InvalidParameter",
                                            "%s was baked with --no-generalize and may hold its "
                                            "instance's keys and identity: it cannot be made "
                                            "public (share it with accounts instead)",
                                            t->id);
                if (rc == 0)
                        rc = add ? registry_perm_add(r, REGISTRY_PERM_LAUNCH, t->id, &p, err)
                                 : registry_perm_remove(r, REGISTRY_PERM_LAUNCH, t->id, &p, err);
                if (rc == 0 && t->flag)
                        rc = snapshot_perm_apply(r, &img, &p, add, err);
                if (p.value != in->value)
                        free(p.value);
        }
        kiln_image_clear(&img);
        return rc;
}

int kiln_image_modify_launch_permission(kiln_ctx *ctx, const char *image_id,
                                        const kiln_permission_change *change, bool with_snapshots,
                                        kiln_error **err)
{
        id_txn t = {ctx, image_id, change, with_snapshots, NULL};

        if (change->n_add + change->n_remove == 0)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter LaunchPermission");
        return registry_write(ctx->reg, launch_perm_txn, &t, err);
}

static int description_txn(registry *r, void *userdata, kiln_error **err)
{
        id_txn *t = userdata;
        kiln_image img = {0};

        if (owned_image(t->ctx, r, t->id, &img, err) < 0)
                return -1;
        kiln_image_clear(&img);
        return registry_image_set_description(r, t->id, t->arg, err);
}

int kiln_image_modify_description(kiln_ctx *ctx, const char *image_id, const char *description,
                                  kiln_error **err)
{
        id_txn t = {ctx, image_id, description ? description : "", false, NULL};

        if (kiln_image_description_check(description, err) < 0)
                return -1;
        return registry_write(ctx->reg, description_txn, &t, err);
}

static int reset_txn(registry *r, void *userdata, kiln_error **err)
{
        id_txn *t = userdata;
        kiln_image img = {0};

        if (owned_image(t->ctx, r, t->id, &img, err) < 0)
                return -1;
        kiln_image_clear(&img);
        return registry_perms_clear(r, REGISTRY_PERM_LAUNCH, t->id, err);
}

static int check_attribute(const char *attribute, bool reset, kiln_error **err)
{
        static const char *const readable[] = {"description", "bootMode", "tpmSupport", "uefiData"};

        if (attribute && strcmp(attribute, "launchPermission") == 0)
                return 0;
        for (size_t i = 0; attribute && !reset && i < KILN_ARRAY_SIZE(readable); i++)
                if (strcmp(attribute, readable[i]) == 0)
                        return 0;
        /* EC2 answers the deprecated attribute with AuthFailure (reference §6.6). */
        if (attribute && !reset && strcmp(attribute, "blockDeviceMapping") == 0)
                return kiln_error_set(err, KILN_E_PERMISSION, "AuthFailure",
                                      "Unauthorized attempt to access restricted resource");
        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                              "Value (%s) for parameter attribute is invalid: expected %s",
                              attribute ? attribute : "",
                              reset ? "launchPermission"
                                    : "launchPermission, description, bootMode, tpmSupport or "
                                      "uefiData");
}

int kiln_image_attribute_reset(kiln_ctx *ctx, const char *image_id, const char *attribute,
                               kiln_error **err)
{
        id_txn t = {ctx, image_id, NULL, false, NULL};

        if (check_attribute(attribute, true, err) < 0)
                return -1;
        return registry_write(ctx->reg, reset_txn, &t, err);
}

static int attribute_txn(registry *r, void *userdata, kiln_error **err)
{
        id_txn *t = userdata;
        const char *attribute = t->arg;
        kiln_image img = {0};
        int rc = 0;

        kiln_image_attribute_clear(t->attr);
        if (rules_image_visible(t->ctx, r, t->id, &img, err) < 0)
                return -1;
        if (strcmp(img.state, "deregistered") == 0) {
                kiln_image_clear(&img);
                return rules_not_found_image(err, t->id);
        }
        t->attr->image_id = kiln_xstrdup(t->id);
        if (strcmp(attribute, "description") == 0) {
                t->attr->description = kiln_xstrdup(img.description);
        } else if (strcmp(attribute, "bootMode") == 0) {
                t->attr->value = kiln_xstrdup(img.boot_mode);
        } else if (strcmp(attribute, "tpmSupport") == 0) {
                t->attr->value = kiln_xstrdup(img.tpm_support);
        } else if (strcmp(attribute, "uefiData") == 0) {
                void *data = NULL;
                size_t len = 0;

                rc = registry_image_uefi_data(r, t->id, &data, &len, err);
                if (rc == 0 && data)
                        t->attr->value = kiln_deflate_base64(data, len);
                free(data);
        } else if (strcmp(img.owner_id, t->ctx->account) != 0) {
                rc = rules_not_authorized(err, t->id);
        } else {
                rc = registry_perms_get(r, REGISTRY_PERM_LAUNCH, t->id, &t->attr->perms,
                                        &t->attr->n_perms, err);
        }
        kiln_image_clear(&img);
        return rc;
}

int kiln_image_attribute_describe(kiln_ctx *ctx, const char *image_id, const char *attribute,
                                  kiln_image_attribute *ret, kiln_error **err)
{
        kiln_image_attribute a = {0};
        id_txn t = {ctx, image_id, attribute, false, &a};

        if (check_attribute(attribute, false, err) < 0)
                return -1;
        if (registry_read(ctx->reg, attribute_txn, &t, err) < 0) {
                kiln_image_attribute_clear(&a);
                return -1;
        }
        *ret = a;
        return 0;
}
