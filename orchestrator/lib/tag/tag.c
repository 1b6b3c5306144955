/* Tags on kiln's resources: the checks EC2 makes (limits, reserved prefixes, text), CreateTags
 * and DeleteTags as one transaction over every resource named, DescribeTags, and the
 * TagSpecifications of the verbs that create resources. */
#include <string.h>
#include <strings.h>

#include <kiln/tag.h>
#include <kiln/text.h>

#include "image/image-rules.h"
#include "model/filter.h"
#include "tag/tag-private.h"
#include "util/util.h"

int kiln_tag_check(const char *key, const char *value, kiln_error **err)
{
        if (!key || !*key)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Tag keys must not be empty");
        if (kiln_text_check("Tag.Key", key, KILN_TAG_KEY_MAX, err) < 0 ||
            kiln_text_check("Tag.Value", value, KILN_TAG_VALUE_MAX, err) < 0)
                return -1;
        if (strncasecmp(key, "aws:", 4) == 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Tag keys starting with 'aws:' are reserved for internal "
                                      "use");
        /* What kiln records of a resource (whether an image was generalized) is never a tag
         * that a user could write. */
        if (strncasecmp(key, "kiln:", 5) == 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Tag keys starting with 'kiln:' are reserved for kiln");
        return 0;
}

/* The kinds of resource that carry tags, by ID prefix. */
typedef struct tag_kind {
        const char *prefix; /* without the '-' */
        const char *type;   /* DescribeTags' ResourceType */
        const char *malformed;
        const char *not_found;
        const char *before, *after; /* the NotFound message around the ID */
        const char *gone_state;     /* a state in which the resource no longer exists, or NULL */
} tag_kind;

static const tag_kind tag_kinds[] = {
        {"ami", "image", "InvalidAMIID.Malformed", "InvalidAMIID.NotFound", "The image id '[",
         "]' does not exist", "deregistered"},
        {"snap", "snapshot", "InvalidSnapshotID.Malformed", "InvalidSnapshot.NotFound",
         "The snapshot '", "' does not exist.", "deleted"},
        {"i", "instance", "InvalidInstanceID.Malformed", "InvalidInstanceID.NotFound",
         "The instance ID '", "' does not exist", NULL},
        {"vol", "volume", "InvalidVolumeID.Malformed", "InvalidVolume.NotFound", "The volume '",
         "' does not exist.", "deleted"},
        {"key", "key-pair", "InvalidKeyPairID.Malformed", "InvalidKeyPair.NotFound",
         "The key pair '", "' does not exist", NULL},
};

static const tag_kind *kind_of(const char *id)
{
        for (size_t i = 0; id && i < KILN_ARRAY_SIZE(tag_kinds); i++) {
                size_t n = strlen(tag_kinds[i].prefix);

                if (strncmp(id, tag_kinds[i].prefix, n) == 0 && id[n] == '-')
                        return &tag_kinds[i];
        }
        return NULL;
}

typedef struct tag_txn {
        kiln_ctx *ctx;
        const char *const *ids;
        size_t n_ids;
        const kiln_tag *tags;
        size_t n_tags;
} tag_txn;

/* The caller's own resource in the current region. */
static int owned_resource(tag_txn *t, registry *r, const char *id, kiln_error **err)
{
        const tag_kind *k = kind_of(id);
        kiln_autofree char *region = NULL, *owner = NULL, *state = NULL;
        kiln_autoptr(kiln_error) e = NULL;

        if (!k)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidID",
                                      "The ID '%s' is not valid: tags go on images (ami-), "
                                      "snapshots (snap-), instances (i-), volumes (vol-) and key "
                                      "pairs (key-)",
                                      id ? id : "");
        if (!kiln_id_valid(k->prefix, id))
                return kiln_error_set(err, KILN_E_INVALID, k->malformed,
                                      "Invalid id: \"%s\" (expecting \"%s-...\")", id, k->prefix);
        if (strcmp(k->prefix, "ami") == 0) {
                /* Another account's image that the caller may see is AuthFailure. */
                kiln_image img = {0};
                int rc = rules_image_visible(t->ctx, r, id, &img, err);

                if (rc == 0 && strcmp(img.owner_id, t->ctx->account) != 0)
                        rc = rules_not_authorized(err, id);
                kiln_image_clear(&img);
                return rc;
        }
        if (registry_resource_locate(r, id, &region, &owner, &state, &e) < 0) {
                if (e->code != KILN_E_NOT_FOUND) {
                        *err = kiln_steal(&e);
                        return -1;
                }
        } else if (strcmp(region, t->ctx->region->name) == 0 &&
                   strcmp(owner, t->ctx->account) == 0 &&
                   (!k->gone_state || strcmp(state, k->gone_state) != 0)) {
                return 0;
        }
        return kiln_error_set(err, KILN_E_NOT_FOUND, k->not_found, "%s%s%s", k->before, id,
                              k->after);
}

static int check_count(registry *r, const char *id, kiln_error **err)
{
        kiln_tag *have = NULL;
        size_t n = 0;

        if (registry_tags_get(r, id, &have, &n, err) < 0)
                return -1;
        kiln_tags_free(have, n);
        if (n > KILN_TAGS_MAX)
                return kiln_error_set(err, KILN_E_LIMIT, "TagLimitExceeded",
                                      "Tag limit exceeded: %s would have %zu tags, at most %d "
                                      "are allowed",
                                      id, n, KILN_TAGS_MAX);
        return 0;
}

static int create_txn(registry *r, void *userdata, kiln_error **err)
{
        tag_txn *t = userdata;

        for (size_t i = 0; i < t->n_ids; i++) {
                if (owned_resource(t, r, t->ids[i], err) < 0)
                        return -1;
                for (size_t k = 0; k < t->n_tags; k++)
                        if (registry_tag_set(r, t->ids[i], t->tags[k].key,
                                             t->tags[k].value ? t->tags[k].value : "", err) < 0)
                                return -1;
                if (check_count(r, t->ids[i], err) < 0)
                        return -1;
        }
        return 0;
}

static int check_request(const char *const *ids, size_t n_ids, kiln_error **err)
{
        if (n_ids == 0)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter ResourceId");
        for (size_t i = 0; i < n_ids; i++)
                if (!ids[i] || !*ids[i])
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidID",
                                              "The ID '' is not valid");
        return 0;
}

int kiln_tags_create(kiln_ctx *ctx, const char *const *resource_ids, size_t n_ids,
                     const kiln_tag *tags, size_t n_tags, kiln_error **err)
{
        tag_txn t = {ctx, resource_ids, n_ids, tags, n_tags};

        if (check_request(resource_ids, n_ids, err) < 0)
                return -1;
        if (n_tags == 0)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter Tag");
        for (size_t k = 0; k < n_tags; k++)
                if (kiln_tag_check(tags[k].key, tags[k].value, err) < 0)
                        return -1;
        return registry_write(ctx->reg, create_txn, &t, err);
}

static int delete_txn(registry *r, void *userdata, kiln_error **err)
{
        tag_txn *t = userdata;

        for (size_t i = 0; i < t->n_ids; i++) {
                if (owned_resource(t, r, t->ids[i], err) < 0)
                        return -1;
                if (t->n_tags == 0 && registry_tags_clear(r, t->ids[i], err) < 0)
                        return -1;
                for (size_t k = 0; k < t->n_tags; k++)
                        if (registry_tag_delete(r, t->ids[i], t->tags[k].key, t->tags[k].value,
                                                err) < 0)
                                return -1;
        }
        return 0;
}

int kiln_tags_delete(kiln_ctx *ctx, const char *const *resource_ids, size_t n_ids,
                     const kiln_tag *tags, size_t n_tags, kiln_error **err)
{
        tag_txn t = {ctx, resource_ids, n_ids, tags, n_tags};

        if (check_request(resource_ids, n_ids, err) < 0)
                return -1;
        for (size_t k = 0; k < n_tags; k++)
                if (kiln_tag_check(tags[k].key, NULL, err) < 0)
                        return -1;
        return registry_write(ctx->reg, delete_txn, &t, err);
}

/* ---- DescribeTags ---- */

typedef struct describe_txn {
        kiln_ctx *ctx;
        kiln_tag_description *all;
        size_t n;
} describe_txn;

static int describe_load(registry *r, void *userdata, kiln_error **err)
{
        describe_txn *t = userdata;

        kiln_tag_descriptions_free(t->all, t->n);
        t->all = NULL;
        t->n = 0;
        return registry_tags_owned(r, t->ctx->region->name, t->ctx->account, &t->all, &t->n, err);
}

static bool describe_match(const kiln_tag_description *d, const kiln_filter *f)
{
        kiln_tag tag = {d->key, d->value};

        if (strcmp(f->name, "key") == 0)
                return filter_match_any(f, d->key);
        if (strcmp(f->name, "value") == 0)
                return filter_match_any(f, d->value);
        if (strcmp(f->name, "resource-id") == 0)
                return filter_match_any(f, d->resource_id);
        if (strcmp(f->name, "resource-type") == 0)
                return filter_match_any(f, d->resource_type);
        return filter_match_tags(f, &tag, 1);
}

int kiln_tags_describe(kiln_ctx *ctx, const kiln_filter *filters, size_t n_filters,
                       kiln_tag_description **ret, size_t *ret_n, kiln_error **err)
{
        static const char *const known[] = {"key", "value", "resource-id", "resource-type", NULL};
        describe_txn t = {ctx, NULL, 0};
        size_t n_out = 0;

        if (filter_check_names(filters, n_filters, known, err) < 0)
                return -1;
        if (registry_read(ctx->reg, describe_load, &t, err) < 0)
                return -1;
        for (size_t i = 0; i < t.n; i++) {
                bool keep = true;

                for (size_t k = 0; keep && k < n_filters; k++)
                        keep = describe_match(&t.all[i], &filters[k]);
                if (keep) {
                        t.all[n_out++] = t.all[i];
                        continue;
                }
                free(t.all[i].key);
                free(t.all[i].resource_id);
                free(t.all[i].resource_type);
                free(t.all[i].value);
        }
        *ret = t.all;
        *ret_n = n_out;
        return 0;
}

/* ---- TagSpecifications ---- */

static bool type_known(const char *type)
{
        for (size_t i = 0; i < KILN_ARRAY_SIZE(tag_kinds); i++)
                if (strcmp(tag_kinds[i].type, type) == 0)
                        return true;
        return false;
}

int tag_specs_check(const kiln_tag_spec *specs, size_t n, const char *const *allowed,
                    kiln_error **err)
{
        for (size_t i = 0; i < n; i++) {
                const char *type = specs[i].resource_type ? specs[i].resource_type : "";
                bool ok = false;

                for (size_t k = 0; !ok && allowed[k]; k++)
                        ok = strcmp(allowed[k], type) == 0;
                if (!ok)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "'%s' is not a valid taggable resource type%s", type,
                                              type_known(type) ? " for this operation" : "");
                for (size_t k = 0; k < i; k++)
                        if (specs[k].resource_type && strcmp(specs[k].resource_type, type) == 0)
                                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                                      "The same resource type may not be "
                                                      "specified more than once in tag "
                                                      "specifications: '%s'",
                                                      type);
                if (specs[i].n_tags > KILN_TAGS_MAX)
                        return kiln_error_set(err, KILN_E_LIMIT, "TagLimitExceeded",
                                              "Tag limit exceeded: %zu tags for '%s', at most %d "
                                              "are allowed",
                                              specs[i].n_tags, type, KILN_TAGS_MAX);
                for (size_t k = 0; k < specs[i].n_tags; k++) {
                        const kiln_tag *tag = &specs[i].tags[k];

                        if (kiln_tag_check(tag->key, tag->value, err) < 0)
                                return -1;
                        for (size_t j = 0; j < k; j++)
                                if (strcmp(specs[i].tags[j].key, tag->key) == 0)
                                        return kiln_error_set(
                                                err, KILN_E_INVALID, "InvalidParameterValue",
                                                "Duplicate tag key '%s' for '%s'", tag->key, type);
                }
        }
        return 0;
}

int tag_specs_apply(registry *r, const kiln_tag_spec *specs, size_t n, const char *resource_type,
                    const char *id, kiln_error **err)
{
        for (size_t i = 0; i < n; i++) {
                if (strcmp(specs[i].resource_type, resource_type) != 0)
                        continue;
                for (size_t k = 0; k < specs[i].n_tags; k++) {
                        const kiln_tag *tag = &specs[i].tags[k];

                        if (registry_tag_set(r, id, tag->key, tag->value ? tag->value : "", err) <
                            0)
                                return -1;
                }
        }
        return 0;
}
