/* Security groups, as EC2's in a region's default VPC: named per account and region, with
 * inbound rules (protocol, ports, an IPv4 CIDR source). Outbound traffic is not filtered; a
 * group shows that as EC2's default outbound rule (all traffic to 0.0.0.0/0).
 *
 * The rules are applied, not only recorded:
 *   - user networking: each TCP or UDP port a rule allows gets a forward from 127.0.0.1 on the
 *     host (the instance's ConnectionInfo lists them). A rule that allows all traffic, or a range
 *     wider than KILN_SG_FORWARD_RANGE_MAX ports, forwards only the instance's access port
 *     (22 for Linux, 3389 for Windows) if it falls inside. The sources do not apply there: the
 *     forwards listen on 127.0.0.1 only.
 *   - a libvirt network: the rules become a libvirt nwfilter on the instance's interface, so
 *     traffic that no rule allows (by protocol, port and source) does not reach the guest.
 * A change to a group applies at once to its running instances and to stopped ones at their
 * next start.
 *
 * Each account has a group named "default" in each region, made when first needed, which
 * allows SSH (22) and RDP (3389) from anywhere; instances launched without a group are in it.
 * It cannot be deleted. */
#ifndef KILN_SECGROUP_H
#define KILN_SECGROUP_H

#include <stdbool.h>
#include <stddef.h>

#include <kiln/common.h>
#include <kiln/ctx.h>
#include <kiln/error.h>
#include <kiln/image.h>

#define KILN_SG_NAME_MAX         255
#define KILN_SG_LIMIT            2500 /* groups per account and region */
#define KILN_SG_RULES_MAX        60   /* inbound rules per group */
#define KILN_SG_PER_INSTANCE_MAX 5
/* User networking forwards each port of a rule's range up to this width. */
#define KILN_SG_FORWARD_RANGE_MAX 32
/* ... and at most this many ports per instance in all. */
#define KILN_SG_FORWARDS_MAX 64

typedef struct kiln_sg_rule {
        char *rule_id;     /* sgr- and 17 hex digits */
        char *ip_protocol; /* "tcp", "udp", "icmp" or "-1" (all traffic) */
        int from_port;     /* -1 for all traffic; ICMP: the type, -1 for all */
        int to_port;       /* ICMP: the code, -1 for all */
        char *cidr_ipv4;   /* the source, "A.B.C.D/N" */
        char *description; /* "" if none */
} kiln_sg_rule;

typedef struct kiln_security_group {
        char *group_id; /* sg- and 17 hex digits */
        char *group_name;
        char *description;
        char *vpc_id;
        char *owner_id;
        char *region;
        kiln_sg_rule *ingress; /* in the order they were authorized */
        size_t n_ingress;
        kiln_tag *tags; /* sorted by key */
        size_t n_tags;
} kiln_security_group;

/* One inbound permission as a request gives it (one IpPermissions item per CIDR).
 * ip_protocol: tcp, udp, icmp, -1 or all, or the numbers 6, 17, 1. Ports: -1 when not given;
 * tcp and udp need both (0-65535, from <= to). */
typedef struct kiln_sg_permission {
        const char *ip_protocol;
        int from_port;
        int to_port;
        const char *cidr_ipv4;   /* NULL: 0.0.0.0/0 is not assumed; MissingParameter */
        const char *description; /* NULL or at most 255 characters */
} kiln_sg_permission;

/* A group as an instance lists it (EC2's GroupIdentifier). */
typedef struct kiln_group_ref {
        char *group_id;
        char *group_name;
} kiln_group_ref;

KILN_PUBLIC void kiln_security_group_clear(kiln_security_group *sg);
KILN_PUBLIC void kiln_security_groups_free(kiln_security_group *list, size_t n);
KILN_PUBLIC void kiln_sg_rules_free(kiln_sg_rule *rules, size_t n);

/* Creates a group in the context's region and account.
 *   name:        1-255 characters of EC2's VPC set (a-z A-Z 0-9 space ._-:/()#,@[]+=&;{}!$*),
 *                not starting with "sg-"; InvalidParameterValue otherwise.
 *   description: the same characters, 1-255 (MissingParameter when NULL).
 *   vpc_id:      NULL, "" or the region's VPC (InvalidVpcID.NotFound otherwise).
 * InvalidGroup.Duplicate for a name in use, SecurityGroupLimitExceeded at KILN_SG_LIMIT.
 * tag_specs: resource type "security-group". The new group has no inbound rule. */
KILN_PUBLIC int kiln_security_group_create(kiln_ctx *ctx, const char *name, const char *description,
                                           const char *vpc_id, const kiln_tag_spec *tag_specs,
                                           size_t n_tag_specs, kiln_security_group *ret,
                                           kiln_error **err);

typedef struct kiln_sg_query {
        const char *const *group_ids; /* each must exist: InvalidGroup.NotFound */
        size_t n_group_ids;
        const char *const *group_names; /* each must exist: InvalidGroup.NotFound */
        size_t n_group_names;
        /* group-id, group-name, description, vpc-id, owner-id, ip-permission.protocol,
         * ip-permission.from-port, ip-permission.to-port, ip-permission.cidr, tag-key, tag:KEY */
        const kiln_filter *filters;
        size_t n_filters;
} kiln_sg_query;

/* The caller's groups in the context's region (the default group included, made if it is not
 * there yet), oldest first: those named, then those every filter matches. */
KILN_PUBLIC int kiln_security_groups_describe(kiln_ctx *ctx, const kiln_sg_query *q,
                                              kiln_security_group **ret, size_t *ret_n,
                                              kiln_error **err);

/* Adds inbound rules to the group named by ID or by name (exactly one). All are added or none:
 * InvalidPermission.Duplicate for a rule the group has (or one given twice),
 * RulesPerSecurityGroupLimitExceeded past KILN_SG_RULES_MAX. *ret gets the new rules (NULL
 * allowed). The group's instances get the change at once (see the top of this file). */
KILN_PUBLIC int kiln_security_group_authorize(kiln_ctx *ctx, const char *group_id,
                                              const char *group_name,
                                              const kiln_sg_permission *perms, size_t n_perms,
                                              kiln_sg_rule **ret, size_t *ret_n, kiln_error **err);

/* Removes inbound rules, given as permissions (matched on protocol, ports and source) and/or
 * as rule IDs. All or none: InvalidPermission.NotFound for one the group does not have. */
KILN_PUBLIC int kiln_security_group_revoke(kiln_ctx *ctx, const char *group_id,
                                           const char *group_name, const kiln_sg_permission *perms,
                                           size_t n_perms, const char *const *rule_ids,
                                           size_t n_rule_ids, kiln_error **err);

/* Deletes a group by ID or name. CannotDelete for the default group, DependencyViolation while
 * an instance that is not terminated is in it, InvalidGroup.NotFound if there is none. */
KILN_PUBLIC int kiln_security_group_delete(kiln_ctx *ctx, const char *group_id,
                                           const char *group_name, kiln_error **err);

#endif
