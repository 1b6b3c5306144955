/* Key pair records: the keypairs table (one row per key pair, unique by region, owner and
 * name) and the key pair's tags. Call these inside registry_write/registry_read. */
#ifndef KILN_REGISTRY_KEYPAIR_H
#define KILN_REGISTRY_KEYPAIR_H

#include <kiln/keypair.h>

#include "registry/registry.h"

/* kp->region and kp->owner_id say where it belongs; tags are not written. */
int registry_keypair_insert(registry *r, const kiln_keypair *kp, kiln_error **err);
/* The key pair of owner in region with this name (or, _by_id, this ID); KILN_E_NOT_FOUND
 * without an EC2 code if there is none. Tags are loaded too. */
int registry_keypair_get(registry *r, const char *region, const char *owner, const char *name,
                         kiln_keypair *ret, kiln_error **err);
int registry_keypair_get_by_id(registry *r, const char *region, const char *owner, const char *id,
                               kiln_keypair *ret, kiln_error **err);
/* All key pairs of owner in region, oldest first, with their tags. */
int registry_keypair_list(registry *r, const char *region, const char *owner, kiln_keypair **ret,
                          size_t *ret_n, kiln_error **err);
int registry_keypair_count(registry *r, const char *region, const char *owner, size_t *ret,
                           kiln_error **err);
/* Drops the record and its tags; nothing happens if there is no such ID. */
int registry_keypair_delete(registry *r, const char *id, kiln_error **err);

#endif
