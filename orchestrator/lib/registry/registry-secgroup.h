/* Security group records: the security_groups table (unique by region, owner and name), their
 * inbound rules, the instances in each group, and the forwards the groups open for an instance
 * on user networking. Call these inside registry_write/registry_read. */
#ifndef KILN_REGISTRY_SECGROUP_H
#define KILN_REGISTRY_SECGROUP_H

#include <kiln/instance.h>
#include <kiln/secgroup.h>

#include "registry/registry.h"

/* sg->region, owner_id, vpc_id say where it belongs; neither rules nor tags are written. */
int registry_sg_insert(registry *r, const kiln_security_group *sg, kiln_error **err);
/* The group of owner in region with this ID (or, _by_name, this name), with its rules and tags;
 * KILN_E_NOT_FOUND without an EC2 code if there is none. */
int registry_sg_get(registry *r, const char *region, const char *owner, const char *id,
                    kiln_security_group *ret, kiln_error **err);
int registry_sg_get_by_name(registry *r, const char *region, const char *owner, const char *name,
                            kiln_security_group *ret, kiln_error **err);
/* All groups of owner in region, oldest first, with rules and tags. */
int registry_sg_list(registry *r, const char *region, const char *owner, kiln_security_group **ret,
                     size_t *ret_n, kiln_error **err);
int registry_sg_count(registry *r, const char *region, const char *owner, size_t *ret,
                      kiln_error **err);
/* Drops the group, its rules and tags. */
int registry_sg_delete(registry *r, const char *id, kiln_error **err);

int registry_sg_rule_insert(registry *r, const char *group_id, const kiln_sg_rule *rule,
                            kiln_error **err);
int registry_sg_rule_delete(registry *r, const char *rule_id, kiln_error **err);

/* Instances in groups: position keeps the order RunInstances gave. */
int registry_sg_member_add(registry *r, const char *instance_id, const char *group_id, int position,
                           kiln_error **err);
/* The instances that are not terminated in the group. */
int registry_sg_members(registry *r, const char *group_id, char ***ret, size_t *ret_n,
                        kiln_error **err);
/* The instance's groups (ID and name), in order. */
int registry_sg_of_instance(registry *r, const char *instance_id, kiln_group_ref **ret,
                            size_t *ret_n, kiln_error **err);
/* Every inbound rule of the instance's groups. */
int registry_sg_rules_of_instance(registry *r, const char *instance_id, kiln_sg_rule **ret,
                                  size_t *ret_n, kiln_error **err);

/* The instance's forwards, by protocol and guest port; set replaces them all. */
int registry_forwards_get(registry *r, const char *instance_id, kiln_forward **ret, size_t *ret_n,
                          kiln_error **err);
int registry_forwards_set(registry *r, const char *instance_id, const kiln_forward *fwd, size_t n,
                          kiln_error **err);
/* Whether a live instance (not terminated) other than instance_id uses host_port, as its access
 * port or a forward. */
int registry_host_port_taken(registry *r, const char *instance_id, int host_port, bool *ret,
                             kiln_error **err);

#endif
