/* EC2's filters (Name=..., Values=...) for every describe verb. */
#ifndef KILN_MODEL_FILTER_H
#define KILN_MODEL_FILTER_H

#include <stdbool.h>

#include <kiln/image.h>

/* InvalidFilter naming the first filter whose name is neither in known (NULL-terminated) nor
 * tag:KEY. */
int filter_check_names(const kiln_filter *f, size_t n, const char *const *known, kiln_error **err);
/* EC2 wildcard match: '*' any run, '?' zero or one character, '\\' escapes. Linear in the
 * pattern times the text, whatever the pattern. */
bool filter_wildcard(const char *pattern, const char *s);
/* A value matches the filter if any of its values matches it. */
bool filter_match_any(const kiln_filter *f, const char *value);

#endif
