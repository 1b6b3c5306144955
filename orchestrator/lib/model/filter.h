/* EC2's filters (Name=..., Values=...) for every describe verb. */
#ifndef KILN_MODEL_FILTER_H
#define KILN_MODEL_FILTER_H

#include <stdbool.h>

#include <kiln/image.h>

/* InvalidFilter naming the first filter whose name is neither in known (NULL-terminated) nor
 * one of the tag filters every describe verb takes (filter_tag). */
int filter_check_names(const kiln_filter *f, size_t n, const char *const *known, kiln_error **err);
/* EC2 wildcard match: '*' any run, '?' zero or one character, '\\' escapes. Linear in the
 * pattern times the text, whatever the pattern. */
bool filter_wildcard(const char *pattern, const char *s);
/* A value matches the filter if any of its values matches it. */
bool filter_match_any(const kiln_filter *f, const char *value);

/* EC2's tag filters: tag:KEY (values of that key), tag-key (keys), tag-value (values of any
 * key). */
bool filter_tag(const kiln_filter *f);
/* Whether a resource with these tags passes tag filter f. */
bool filter_match_tags(const kiln_filter *f, const kiln_tag *tags, size_t n);

#endif
