/* Tags inside the library: what the verbs that create resources need to take EC2's
 * TagSpecifications. */
#ifndef KILN_TAG_PRIVATE_H
#define KILN_TAG_PRIVATE_H

#include <kiln/tag.h>

#include "registry/registry.h"

/* Checks TagSpecifications before anything is made: each resource type is one of allowed
 * (NULL-terminated) and appears once, each tag passes kiln_tag_check, no key twice in one
 * item, at most KILN_TAGS_MAX tags per item. InvalidParameterValue (or TagLimitExceeded)
 * naming what is wrong. */
int tag_specs_check(const kiln_tag_spec *specs, size_t n, const char *const *allowed,
                    kiln_error **err);
/* Writes the tags of the item for resource_type (if there is one) on resource id, inside the
 * caller's registry transaction. */
int tag_specs_apply(registry *r, const kiln_tag_spec *specs, size_t n, const char *resource_type,
                    const char *id, kiln_error **err);

#endif
