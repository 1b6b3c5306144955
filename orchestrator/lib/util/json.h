/* jansson values with automatic cleanup, for the modules that read or write JSON. */
#ifndef KILN_UTIL_JSON_H
#define KILN_UTIL_JSON_H

#include <jansson.h>

#include <kiln/common.h>

static inline json_t *kiln_json_unref(json_t *j)
{
        json_decref(j);
        return NULL;
}

KILN_DEFINE_AUTOPTR(json_t, kiln_json_unref)

#endif
