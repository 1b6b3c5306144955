/* Tags on kiln's resources: the checks EC2 makes (limits, reserved prefixes, text) and
 * CreateTags as one transaction over every resource named. */
#include <string.h>
#include <strings.h>

#include <kiln/tag.h>
#include <kiln/text.h>

#include "image/image-rules.h"
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

typedef struct tag_txn {
        kiln_ctx *ctx;
        const char *const *ids;
        size_t n_ids;
        const kiln_tag *tags;
        size_t n_tags;
} tag_txn;

/* The caller's own image or snapshot in the current region. */
static int owned_resource(tag_txn *t, registry *r, const char *id, kiln_error **err)
{
        if (strncmp(id, "ami-", 4) == 0) {
                kiln_image img = {0};
                int rc = rules_image_visible(t->ctx, r, id, &img, err);

                if (rc == 0 && strcmp(img.owner_id, t->ctx->account) != 0)
                        rc = rules_not_authorized(err, id);
                kiln_image_clear(&img);
                return rc;
        }
        if (strncmp(id, "snap-", 5) == 0) {
                registry_snapshot s = {0};
                kiln_autoptr(kiln_error) e = NULL;
                int rc;

                if (rules_check_snapshot_id(id, err) < 0)
                        return -1;
                rc = registry_snapshot_get(r, id, &s, &e);
                if (rc == 0 && (strcmp(s.s.region, t->ctx->region->name) != 0 ||
                                strcmp(s.s.owner_id, t->ctx->account) != 0 ||
                                strcmp(s.s.state, "deleted") == 0))
                        rc = -1;
                registry_snapshot_clear(&s);
                if (rc < 0 && e && e->code != KILN_E_NOT_FOUND) {
                        *err = kiln_steal(&e);
                        return -1;
                }
                if (rc < 0)
                        return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidSnapshot.NotFound",
                                              "The snapshot '%s' does not exist.", id);
                return 0;
        }
        return kiln_error_set(err, KILN_E_INVALID, "InvalidID",
                              "The ID '%s' is not valid: tags go on images (ami-) and "
                              "snapshots (snap-)",
                              id);
}

static int create_txn(registry *r, void *userdata, kiln_error **err)
{
        tag_txn *t = userdata;

        for (size_t i = 0; i < t->n_ids; i++) {
                kiln_tag *have = NULL;
                size_t n = 0;

                if (owned_resource(t, r, t->ids[i], err) < 0)
                        return -1;
                for (size_t k = 0; k < t->n_tags; k++)
                        if (registry_tag_set(r, t->ids[i], t->tags[k].key,
                                             t->tags[k].value ? t->tags[k].value : "", err) < 0)
                                return -1;
                if (registry_tags_get(r, t->ids[i], &have, &n, err) < 0)
                        return -1;
                kiln_tags_free(have, n);
                if (n > KILN_TAGS_MAX)
                        return kiln_error_set(err, KILN_E_LIMIT, "TagLimitExceeded",
                                              "Tag limit exceeded: %s would have %zu tags, at "
                                              "most %d are allowed",
                                              t->ids[i], n, KILN_TAGS_MAX);
        }
        return 0;
}

int kiln_tags_create(kiln_ctx *ctx, const char *const *resource_ids, size_t n_ids,
                     const kiln_tag *tags, size_t n_tags, kiln_error **err)
{
        tag_txn t = {ctx, resource_ids, n_ids, tags, n_tags};

        if (n_ids == 0)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter ResourceId");
        if (n_tags == 0)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter Tag");
        for (size_t k = 0; k < n_tags; k++)
                if (kiln_tag_check(tags[k].key, tags[k].value, err) < 0)
                        return -1;
        return registry_write(ctx->reg, create_txn, &t, err);
}
