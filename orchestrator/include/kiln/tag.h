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

/* CreateTags: adds or overwrites the tags on each resource (images and snapshots of the
 * caller in the current region), all or nothing. Each tag is checked as above; a resource
 * that would hold more than KILN_TAGS_MAX tags is TagLimitExceeded; one the caller cannot see
 * is EC2's NotFound for its kind, one it sees but does not own AuthFailure. */
KILN_PUBLIC int kiln_tags_create(kiln_ctx *ctx, const char *const *resource_ids, size_t n_ids,
                                 const kiln_tag *tags, size_t n_tags, kiln_error **err);

#endif
