/* Access key records: the access_keys table (one row per key, with its secret). Call these
 * inside registry_write/registry_read. */
#ifndef KILN_REGISTRY_ACCESS_H
#define KILN_REGISTRY_ACCESS_H

#include <kiln/access.h>

#include "registry/registry.h"

/* k->secret is stored. */
int registry_access_key_insert(registry *r, const kiln_access_key *k, kiln_error **err);
/* The key with its secret; KILN_E_NOT_FOUND without an EC2 code if there is none. */
int registry_access_key_get(registry *r, const char *id, kiln_access_key *ret, kiln_error **err);
/* The keys of account (NULL: all), oldest first, without secrets. */
int registry_access_key_list(registry *r, const char *account, kiln_access_key **ret, size_t *ret_n,
                             kiln_error **err);
/* Nothing happens if there is no such key. */
int registry_access_key_delete(registry *r, const char *id, kiln_error **err);

#endif
