/* Tags: key-value pairs on kiln's resources, with EC2's limits and reserved prefixes. */
#ifndef KILN_TAG_H
#define KILN_TAG_H

#include <stddef.h>

#include <kiln/common.h>
#include <kiln/ctx.h>
#include <kiln/error.h>
#include <kiln/image.h>

#define KILN_TAGS_MAX      50  /* per resource */
#define KILN_TAG_KEY_MAX   128 /* characters */
#define KILN_TAG_VALUE_MAX 256 /* characters */

/* One tag as EC2 takes it: a key of 1 to 128 characters and a value of at most 256, both text
 * (kiln_text_check); keys starting with "aws:" (EC2's) or "kiln:" (kiln's), in any case, are
 * reserved. InvalidParameterValue otherwise. value may be NULL (""). */
KILN_PUBLIC int kiln_tag_check(const char *key, const char *value, kiln_error **err);

/* CreateTags: adds or overwrites the tags on each resource (images, snapshots, instances,
 * volumes and key pairs of the caller in the current region), all or nothing. Each tag is
 * checked as above; a resource that would hold more than KILN_TAGS_MAX tags is
 * TagLimitExceeded; one the caller cannot see is EC2's NotFound for its kind, one it sees but
 * does not own AuthFailure; an ID of another kind is InvalidID. */
KILN_PUBLIC int kiln_tags_create(kiln_ctx *ctx, const char *const *resource_ids, size_t n_ids,
                                 const kiln_tag *tags, size_t n_tags, kiln_error **err);

/* DeleteTags: removes from each resource the tags named, all or nothing. A tag with a NULL
 * value goes whatever its value; with a value (possibly "") only if it has that value. No
 * tags at all (n_tags 0) removes every tag of the resources. Keys are checked as for
 * creation. */
KILN_PUBLIC int kiln_tags_delete(kiln_ctx *ctx, const char *const *resource_ids, size_t n_ids,
                                 const kiln_tag *tags, size_t n_tags, kiln_error **err);

/* DescribeTags' TagDescription. resource_type: image, snapshot, instance, volume, key-pair. */
typedef struct kiln_tag_description {
        char *key;
        char *resource_id;
        char *resource_type;
        char *value;
} kiln_tag_description;

KILN_PUBLIC void kiln_tag_descriptions_free(kiln_tag_description *d, size_t n);

/* DescribeTags: the tags on the caller's resources in the region, by resource ID and key.
 * Filters: key, value, resource-id, resource-type, and tag:KEY (tags with that key and a
 * matching value); a value is a wildcard pattern. */
KILN_PUBLIC int kiln_tags_describe(kiln_ctx *ctx, const kiln_filter *filters, size_t n_filters,
                                   kiln_tag_description **ret, size_t *ret_n, kiln_error **err);

#endif
