/* Security groups (kiln/secgroup.h): EC2's rules for their names, rules and limits, and every
 * change carried to the instances in the group (instance-firewall.c applies it). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/secgroup.h>

#include "instance/instance-private.h"
#include "model/filter.h"
#include "registry/registry-secgroup.h"
#include "tag/tag-private.h"
#include "util/util.h"

/* ==== checks ==== */

static int pass_error(kiln_error **err, kiln_error **e)
{
        if (err && !*err)
                *err = kiln_steal(e);
        return -1;
}

static int group_not_found(kiln_error **err, const char *what)
{
        return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidGroup.NotFound",
                              "The security group '%s' does not exist", what ? what : "");
}

static int check_group_id(const char *id, kiln_error **err)
{
        if (!kiln_id_valid("sg", id))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidGroupId.Malformed",
                                      "Invalid id: \"%s\" (expecting \"sg-...\")", id ? id : "");
        return 0;
}

/* EC2's characters for names and descriptions of groups in a VPC. */
static bool vpc_text(const char *s, size_t max)
{
        static const char extra[] = " ._-:/()#,@[]+=&;{}!$*";
        size_t n = strlen(s);

        if (n == 0 || n > max)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || strchr(extra, *p)))
                        return false;
        return true;
}

static int check_name(const char *name, kiln_error **err)
{
        if (!name)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter GroupName");
        if (!vpc_text(name, KILN_SG_NAME_MAX))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid security group name '%s': 1-255 characters of "
                                      "a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*",
                                      name);
        if (strncmp(name, "sg-", 3) == 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Group names may not be in the format sg-*: '%s'", name);
        return 0;
}

/* "A.B.C.D/N" with N in 0-32; *ret is its network address and prefix. */
static int parse_cidr(const char *cidr, char **ret, kiln_error **err)
{
        char addr[INET_ADDRSTRLEN + 1], out[INET_ADDRSTRLEN];
        const char *slash = cidr ? strchr(cidr, '/') : NULL;
        struct in_addr a;
        char *end = NULL;
        unsigned long bits;

        if (!cidr)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "A rule needs a source: IpRanges.N.CidrIp (kiln supports "
                                      "IPv4 CIDR sources)");
        if (!slash || (size_t) (slash - cidr) >= sizeof(addr) || !slash[1])
                goto bad;
        memcpy(addr, cidr, (size_t) (slash - cidr));
        addr[slash - cidr] = '\0';
        bits = strtoul(slash + 1, &end, 10);
        if (*end || bits > 32 || slash[1] < '0' || slash[1] > '9' ||
            inet_pton(AF_INET, addr, &a) != 1)
                goto bad;
        a.s_addr &= htonl(bits == 0 ? 0 : 0xffffffffu << (32 - bits));
        inet_ntop(AF_INET, &a, out, sizeof(out));
        *ret = kiln_xasprintf("%s/%lu", out, bits);
        return 0;
bad:
        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                              "CIDR block %s is malformed (expecting A.B.C.D/N)", cidr);
}

/* A requested permission as a rule (without its ID): the protocol's name, ports checked. */
static int permission_rule(const kiln_sg_permission *p, kiln_sg_rule *ret, kiln_error **err)
{
        static const struct {
                const char *in, *out;
        } protocols[] = {{"tcp", "tcp"},   {"6", "tcp"},  {"udp", "udp"}, {"17", "udp"},
                         {"icmp", "icmp"}, {"1", "icmp"}, {"-1", "-1"},   {"all", "-1"}};
        const char *proto = NULL;
        kiln_sg_rule r = {0};

        for (size_t i = 0; p->ip_protocol && i < KILN_ARRAY_SIZE(protocols); i++)
                if (strcasecmp(p->ip_protocol, protocols[i].in) == 0)
                        proto = protocols[i].out;
        if (!p->ip_protocol)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "A rule needs IpProtocol (tcp, udp, icmp or -1)");
        if (!proto)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid value '%s' for IP protocol: kiln supports tcp, udp, "
                                      "icmp and -1 (all traffic)",
                                      p->ip_protocol);
        r.from_port = p->from_port;
        r.to_port = p->to_port;
        if (strcmp(proto, "-1") == 0) {
                r.from_port = r.to_port = -1;
        } else if (strcmp(proto, "icmp") == 0) {
                if (r.from_port < -1 || r.from_port > 255 || r.to_port < -1 || r.to_port > 255)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "Invalid ICMP type or code: %d, %d (each -1 to "
                                              "255)",
                                              r.from_port, r.to_port);
        } else if (r.from_port < 0 || r.to_port < 0) {
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid value: both FromPort and ToPort must be given "
                                      "for %s",
                                      proto);
        } else if (r.from_port > 65535 || r.to_port > 65535 || r.from_port > r.to_port) {
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid port range %d-%d (0-65535, FromPort not above "
                                      "ToPort)",
                                      r.from_port, r.to_port);
        }
        if (p->description &&
            (strlen(p->description) > 255 || (*p->description && !vpc_text(p->description, 255))))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid rule description '%s': at most 255 characters of "
                                      "a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*",
                                      p->description);
        if (parse_cidr(p->cidr_ipv4, &r.cidr_ipv4, err) < 0)
                return -1;
        r.ip_protocol = kiln_xstrdup(proto);
        r.description = kiln_xstrdup(p->description ? p->description : "");
        *ret = r;
        return 0;
}

static bool same_rule(const kiln_sg_rule *a, const kiln_sg_rule *b)
{
        return strcmp(a->ip_protocol, b->ip_protocol) == 0 && a->from_port == b->from_port &&
               a->to_port == b->to_port && strcmp(a->cidr_ipv4, b->cidr_ipv4) == 0;
}

static char *rule_words(const kiln_sg_rule *r)
{
        return kiln_xasprintf("peer: %s, %s, from port: %d, to port: %d, ALLOW", r->cidr_ipv4,
                              strcmp(r->ip_protocol, "-1") == 0 ? "ALL" : r->ip_protocol,
                              r->from_port, r->to_port);
}

static int rules_from(const kiln_sg_permission *perms, size_t n, kiln_sg_rule **ret,
                      kiln_error **err)
{
        kiln_sg_rule *rules = kiln_xcalloc(n + 1, sizeof(*rules));

        for (size_t i = 0; i < n; i++)
                if (permission_rule(&perms[i], &rules[i], err) < 0) {
                        kiln_sg_rules_free(rules, n);
                        return -1;
                }
        *ret = rules;
        return 0;
}

/* One of group_id or group_name. */
static int check_group_ref(const char *group_id, const char *group_name, kiln_error **err)
{
        if (!group_id && !group_name)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter GroupId or "
                                      "GroupName");
        if (group_id && group_name)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterCombination",
                                      "Give GroupId or GroupName, not both");
        return group_id ? check_group_id(group_id, err) : 0;
}

static int group_get(kiln_ctx *ctx, registry *r, const char *group_id, const char *group_name,
                     kiln_security_group *ret, kiln_error **err)
{
        kiln_autoptr(kiln_error) e = NULL;
        const char *region = ctx->region->name;
        int rc;

        if (group_name && strcmp(group_name, "default") == 0) {
                kiln_group_ref def = {0};

                /* The default group is made when first named. */
                if (instance_default_group(ctx, r, &def, err) < 0)
                        return -1;
                free(def.group_id);
                free(def.group_name);
        }
        rc = group_id ? registry_sg_get(r, region, ctx->account, group_id, ret, &e)
                      : registry_sg_get_by_name(r, region, ctx->account, group_name, ret, &e);
        if (rc < 0)
                return e->code == KILN_E_NOT_FOUND
                               ? group_not_found(err, group_id ? group_id : group_name)
                               : pass_error(err, &e);
        return 0;
}

typedef struct members_txn {
        const char *group_id;
        char **ids;
        size_t n;
} members_txn;

static int members_read(registry *r, void *userdata, kiln_error **err)
{
        members_txn *t = userdata;

        kiln_strv_free(t->ids, t->n);
        t->ids = NULL;
        t->n = 0;
        return registry_sg_members(r, t->group_id, &t->ids, &t->n, err);
}

/* The group's instances get its change: at once where they run, at their next start where
 * they do not. A failure is told and does not undo the change (the next start applies it). */
static void apply_to_members(kiln_ctx *ctx, const char *group_id)
{
        kiln_autoptr(kiln_error) e = NULL;
        members_txn t = {group_id, NULL, 0};

        if (registry_read(ctx->reg, members_read, &t, &e) < 0) {
                kiln_log(KILN_LOG_WARN, "security group %s: %s", group_id, e->msg);
                return;
        }
        for (size_t i = 0; i < t.n; i++) {
                kiln_autoptr(kiln_error) ie = NULL;
                kiln_instance inst = {0};

                if (registry_instance_get(ctx->reg, t.ids[i], &inst, &ie) < 0 ||
                    instance_firewall_apply(ctx, &inst, true, &ie) < 0)
                        kiln_log(KILN_LOG_WARN,
                                 "instance %s: the change to security group %s applies at its "
                                 "next start: %s",
                                 t.ids[i], group_id, ie ? ie->msg : "");
                kiln_instance_clear(&inst);
        }
        kiln_strv_free(t.ids, t.n);
}

/* ==== create ==== */

static const char *const sg_tag_types[] = {"security-group", NULL};

typedef struct create_txn {
        kiln_ctx *ctx;
        kiln_security_group *sg;
        const kiln_tag_spec *tag_specs;
        size_t n_tag_specs;
} create_txn;

static int create_write(registry *r, void *userdata, kiln_error **err)
{
        create_txn *t = userdata;
        kiln_autoptr(kiln_error) e = NULL;
        kiln_security_group old = {0};
        kiln_group_ref def = {0};
        size_t n = 0;

        /* The default group first, so that it is always the account's first. */
        if (instance_default_group(t->ctx, r, &def, err) < 0)
                return -1;
        free(def.group_id);
        free(def.group_name);
        if (registry_sg_get_by_name(r, t->sg->region, t->sg->owner_id, t->sg->group_name, &old,
                                    &e) == 0) {
                kiln_security_group_clear(&old);
                return kiln_error_set(err, KILN_E_EXISTS, "InvalidGroup.Duplicate",
                                      "The security group '%s' already exists for VPC '%s'",
                                      t->sg->group_name, t->sg->vpc_id);
        }
        if (e->code != KILN_E_NOT_FOUND)
                return pass_error(err, &e);
        if (registry_sg_count(r, t->sg->region, t->sg->owner_id, &n, err) < 0)
                return -1;
        if (n >= KILN_SG_LIMIT)
                return kiln_error_set(err, KILN_E_LIMIT, "SecurityGroupLimitExceeded",
                                      "You have reached the limit of %d security groups in "
                                      "region %s",
                                      KILN_SG_LIMIT, t->sg->region);
        if (registry_sg_insert(r, t->sg, err) < 0 ||
            tag_specs_apply(r, t->tag_specs, t->n_tag_specs, "security-group", t->sg->group_id,
                            err) < 0)
                return -1;
        kiln_tags_free(t->sg->tags, t->sg->n_tags);
        t->sg->tags = NULL;
        t->sg->n_tags = 0;
        return registry_tags_get(r, t->sg->group_id, &t->sg->tags, &t->sg->n_tags, err);
}

int kiln_security_group_create(kiln_ctx *ctx, const char *name, const char *description,
                               const char *vpc_id, const kiln_tag_spec *tag_specs,
                               size_t n_tag_specs, kiln_security_group *ret, kiln_error **err)
{
        kiln_autofree char *vpc = instance_vpc_id(ctx->region->name);
        kiln_security_group sg = {0};
        create_txn t = {ctx, &sg, tag_specs, n_tag_specs};

        if (check_name(name, err) < 0)
                return -1;
        if (strcmp(name, "default") == 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Cannot use reserved security group name: default");
        if (!description)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter GroupDescription");
        if (!vpc_text(description, 255))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid security group description '%s': 1-255 "
                                      "characters of a-z, A-Z, 0-9, spaces and "
                                      "._-:/()#,@[]+=&;{}!$*",
                                      description);
        if (vpc_id && *vpc_id && strcmp(vpc_id, vpc) != 0)
                return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidVpcID.NotFound",
                                      "The vpc ID '%s' does not exist (region %s has one: %s)",
                                      vpc_id, ctx->region->name, vpc);
        if (tag_specs_check(tag_specs, n_tag_specs, sg_tag_types, err) < 0)
                return -1;
        sg.group_id = kiln_id_new("sg");
        sg.group_name = kiln_xstrdup(name);
        sg.description = kiln_xstrdup(description);
        sg.vpc_id = kiln_steal(&vpc);
        sg.region = kiln_xstrdup(ctx->region->name);
        sg.owner_id = kiln_xstrdup(ctx->account);
        if (registry_write(ctx->reg, create_write, &t, err) < 0) {
                kiln_security_group_clear(&sg);
                return -1;
        }
        *ret = sg;
        return 0;
}

/* ==== describe ==== */

static const char *const sg_filters[] = {"description",
                                         "group-id",
                                         "group-name",
                                         "owner-id",
                                         "vpc-id",
                                         "ip-permission.protocol",
                                         "ip-permission.from-port",
                                         "ip-permission.to-port",
                                         "ip-permission.cidr",
                                         NULL};

static bool rule_filter(const kiln_security_group *sg, const kiln_filter *f)
{
        for (size_t i = 0; i < sg->n_ingress; i++) {
                const kiln_sg_rule *r = &sg->ingress[i];
                char from[16], to[16];

                snprintf(from, sizeof(from), "%d", r->from_port);
                snprintf(to, sizeof(to), "%d", r->to_port);
                if ((strcmp(f->name, "ip-permission.protocol") == 0 &&
                     filter_match_any(f, r->ip_protocol)) ||
                    (strcmp(f->name, "ip-permission.from-port") == 0 &&
                     filter_match_any(f, from)) ||
                    (strcmp(f->name, "ip-permission.to-port") == 0 && filter_match_any(f, to)) ||
                    (strcmp(f->name, "ip-permission.cidr") == 0 &&
                     filter_match_any(f, r->cidr_ipv4)))
                        return true;
        }
        return false;
}

static bool filter_match(const kiln_security_group *sg, const kiln_filter *f)
{
        const char *n = f->name;

        if (strcmp(n, "group-id") == 0)
                return filter_match_any(f, sg->group_id);
        if (strcmp(n, "group-name") == 0)
                return filter_match_any(f, sg->group_name);
        if (strcmp(n, "description") == 0)
                return filter_match_any(f, sg->description);
        if (strcmp(n, "owner-id") == 0)
                return filter_match_any(f, sg->owner_id);
        if (strcmp(n, "vpc-id") == 0)
                return filter_match_any(f, sg->vpc_id);
        if (strncmp(n, "ip-permission.", 14) == 0)
                return rule_filter(sg, f);
        return filter_tag(f) && filter_match_tags(f, sg->tags, sg->n_tags);
}

static bool in_list(const char *const *v, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

static bool selected(const kiln_security_group *sg, const kiln_sg_query *q)
{
        if (q->n_group_ids && !in_list(q->group_ids, q->n_group_ids, sg->group_id))
                return false;
        if (q->n_group_names && !in_list(q->group_names, q->n_group_names, sg->group_name))
                return false;
        for (size_t i = 0; i < q->n_filters; i++)
                if (!filter_match(sg, &q->filters[i]))
                        return false;
        return true;
}

typedef struct describe_txn {
        kiln_ctx *ctx;
        const kiln_sg_query *q;
        kiln_security_group *out;
        size_t n_out;
} describe_txn;

static int describe_read(registry *r, void *userdata, kiln_error **err)
{
        describe_txn *t = userdata;
        kiln_security_group *all = NULL;
        size_t n = 0;

        kiln_security_groups_free(t->out, t->n_out);
        t->out = NULL;
        t->n_out = 0;
        if (registry_sg_list(r, t->ctx->region->name, t->ctx->account, &all, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < t->q->n_group_ids + t->q->n_group_names; i++) {
                bool by_id = i < t->q->n_group_ids;
                const char *want =
                        by_id ? t->q->group_ids[i] : t->q->group_names[i - t->q->n_group_ids];
                bool found = false;

                for (size_t k = 0; !found && k < n; k++)
                        found = strcmp(by_id ? all[k].group_id : all[k].group_name, want) == 0;
                if (!found) {
                        kiln_security_groups_free(all, n);
                        return group_not_found(err, want);
                }
        }
        t->out = kiln_xcalloc(n + 1, sizeof(*t->out));
        for (size_t i = 0; i < n; i++) {
                if (!selected(&all[i], t->q))
                        continue;
                t->out[t->n_out++] = all[i];
                memset(&all[i], 0, sizeof(all[i]));
        }
        kiln_security_groups_free(all, n);
        return 0;
}

static int ensure_default(registry *r, void *userdata, kiln_error **err)
{
        kiln_group_ref def = {0};
        int rc = instance_default_group(userdata, r, &def, err);

        free(def.group_id);
        free(def.group_name);
        return rc;
}

/* Whether the account's default group is there (a read: describing writes nothing unless
 * it must). */
static int has_default(registry *r, void *userdata, kiln_error **err)
{
        void **args = userdata;
        kiln_ctx *ctx = args[0];
        bool *ret = args[1];
        kiln_autoptr(kiln_error) e = NULL;
        kiln_security_group sg = {0};

        if (registry_sg_get_by_name(r, ctx->region->name, ctx->account, "default", &sg, &e) == 0) {
                kiln_security_group_clear(&sg);
                *ret = true;
                return 0;
        }
        *ret = false;
        return e->code == KILN_E_NOT_FOUND ? 0 : pass_error(err, &e);
}

int kiln_security_groups_describe(kiln_ctx *ctx, const kiln_sg_query *q, kiln_security_group **ret,
                                  size_t *ret_n, kiln_error **err)
{
        describe_txn t = {ctx, q, NULL, 0};
        bool have = false;
        void *args[] = {ctx, &have};

        for (size_t i = 0; i < q->n_group_ids; i++)
                if (check_group_id(q->group_ids[i], err) < 0)
                        return -1;
        if (filter_check_names(q->filters, q->n_filters, sg_filters, err) < 0)
                return -1;
        if (registry_read(ctx->reg, has_default, args, err) < 0 ||
            (!have && registry_write(ctx->reg, ensure_default, ctx, err) < 0))
                return -1;
        if (registry_read(ctx->reg, describe_read, &t, err) < 0) {
                kiln_security_groups_free(t.out, t.n_out);
                return -1;
        }
        *ret = t.out;
        *ret_n = t.n_out;
        return 0;
}

/* ==== authorize and revoke ==== */

typedef struct change_txn {
        kiln_ctx *ctx;
        const char *group_id;
        const char *group_name;
        kiln_sg_rule *rules; /* authorize: the rules to add (IDs given here); revoke: to match */
        size_t n_rules;
        const char *const *rule_ids; /* revoke */
        size_t n_rule_ids;
        char *changed_group; /* out: the group's ID */
} change_txn;

static int authorize_write(registry *r, void *userdata, kiln_error **err)
{
        change_txn *t = userdata;
        kiln_security_group sg = {0};
        int rc = 0;

        if (group_get(t->ctx, r, t->group_id, t->group_name, &sg, err) < 0)
                return -1;
        for (size_t i = 0; rc == 0 && i < t->n_rules; i++) {
                bool dup = false;

                for (size_t k = 0; !dup && k < sg.n_ingress; k++)
                        dup = same_rule(&sg.ingress[k], &t->rules[i]);
                for (size_t k = 0; !dup && k < i; k++)
                        dup = same_rule(&t->rules[k], &t->rules[i]);
                if (dup) {
                        kiln_autofree char *words = rule_words(&t->rules[i]);

                        rc = kiln_error_set(err, KILN_E_EXISTS, "InvalidPermission.Duplicate",
                                            "the specified rule \"%s\" already exists", words);
                }
        }
        if (rc == 0 && sg.n_ingress + t->n_rules > KILN_SG_RULES_MAX)
                rc = kiln_error_set(err, KILN_E_LIMIT, "RulesPerSecurityGroupLimitExceeded",
                                    "The maximum number of rules per security group (%d) has "
                                    "been reached",
                                    KILN_SG_RULES_MAX);
        for (size_t i = 0; rc == 0 && i < t->n_rules; i++)
                rc = registry_sg_rule_insert(r, sg.group_id, &t->rules[i], err);
        if (rc == 0) {
                free(t->changed_group);
                t->changed_group = kiln_steal(&sg.group_id);
        }
        kiln_security_group_clear(&sg);
        return rc;
}

int kiln_security_group_authorize(kiln_ctx *ctx, const char *group_id, const char *group_name,
                                  const kiln_sg_permission *perms, size_t n_perms,
                                  kiln_sg_rule **ret, size_t *ret_n, kiln_error **err)
{
        change_txn t = {ctx, group_id, group_name, NULL, 0, NULL, 0, NULL};

        if (check_group_ref(group_id, group_name, err) < 0)
                return -1;
        if (n_perms == 0)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter IpPermissions");
        if (rules_from(perms, n_perms, &t.rules, err) < 0)
                return -1;
        t.n_rules = n_perms;
        for (size_t i = 0; i < n_perms; i++)
                t.rules[i].rule_id = kiln_id_new("sgr");
        if (registry_write(ctx->reg, authorize_write, &t, err) < 0) {
                kiln_sg_rules_free(t.rules, t.n_rules);
                free(t.changed_group);
                return -1;
        }
        apply_to_members(ctx, t.changed_group);
        free(t.changed_group);
        if (ret) {
                *ret = t.rules;
                *ret_n = t.n_rules;
        } else {
                kiln_sg_rules_free(t.rules, t.n_rules);
        }
        return 0;
}

static int revoke_write(registry *r, void *userdata, kiln_error **err)
{
        change_txn *t = userdata;
        kiln_security_group sg = {0};
        bool *gone = NULL;
        int rc = 0;

        if (group_get(t->ctx, r, t->group_id, t->group_name, &sg, err) < 0)
                return -1;
        gone = kiln_xcalloc(sg.n_ingress + 1, sizeof(*gone));
        for (size_t i = 0; rc == 0 && i < t->n_rules + t->n_rule_ids; i++) {
                bool found = false;

                for (size_t k = 0; !found && k < sg.n_ingress; k++) {
                        found = i < t->n_rules ? same_rule(&sg.ingress[k], &t->rules[i])
                                               : strcmp(sg.ingress[k].rule_id,
                                                        t->rule_ids[i - t->n_rules]) == 0;
                        if (found)
                                gone[k] = true;
                }
                if (!found && i < t->n_rules) {
                        kiln_autofree char *words = rule_words(&t->rules[i]);

                        rc = kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidPermission.NotFound",
                                            "The specified rule does not exist in this security "
                                            "group: \"%s\"",
                                            words);
                } else if (!found) {
                        rc = kiln_error_set(err, KILN_E_NOT_FOUND,
                                            "InvalidSecurityGroupRuleId.NotFound",
                                            "The security group rule ID '%s' does not exist in "
                                            "group %s",
                                            t->rule_ids[i - t->n_rules], sg.group_id);
                }
        }
        for (size_t k = 0; rc == 0 && k < sg.n_ingress; k++)
                if (gone[k])
                        rc = registry_sg_rule_delete(r, sg.ingress[k].rule_id, err);
        if (rc == 0) {
                free(t->changed_group);
                t->changed_group = kiln_steal(&sg.group_id);
        }
        free(gone);
        kiln_security_group_clear(&sg);
        return rc;
}

int kiln_security_group_revoke(kiln_ctx *ctx, const char *group_id, const char *group_name,
                               const kiln_sg_permission *perms, size_t n_perms,
                               const char *const *rule_ids, size_t n_rule_ids, kiln_error **err)
{
        change_txn t = {ctx, group_id, group_name, NULL, 0, rule_ids, n_rule_ids, NULL};
        int rc;

        if (check_group_ref(group_id, group_name, err) < 0)
                return -1;
        if (n_perms == 0 && n_rule_ids == 0)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter IpPermissions or "
                                      "SecurityGroupRuleIds");
        for (size_t i = 0; i < n_rule_ids; i++)
                if (!kiln_id_valid("sgr", rule_ids[i]))
                        return kiln_error_set(
                                err, KILN_E_INVALID, "InvalidSecurityGroupRuleId.Malformed",
                                "Invalid id: \"%s\" (expecting \"sgr-...\")", rule_ids[i]);
        if (rules_from(perms, n_perms, &t.rules, err) < 0)
                return -1;
        t.n_rules = n_perms;
        rc = registry_write(ctx->reg, revoke_write, &t, err);
        kiln_sg_rules_free(t.rules, t.n_rules);
        if (rc == 0)
                apply_to_members(ctx, t.changed_group);
        free(t.changed_group);
        return rc;
}

/* ==== delete ==== */

static int delete_write(registry *r, void *userdata, kiln_error **err)
{
        change_txn *t = userdata;
        kiln_security_group sg = {0};
        char **members = NULL;
        size_t n = 0;
        int rc;

        if (group_get(t->ctx, r, t->group_id, t->group_name, &sg, err) < 0)
                return -1;
        if (strcmp(sg.group_name, "default") == 0) {
                rc = kiln_error_set(err, KILN_E_STATE, "CannotDelete",
                                    "the specified group: \"%s\" name: \"default\" cannot be "
                                    "deleted by a user",
                                    sg.group_id);
        } else if ((rc = registry_sg_members(r, sg.group_id, &members, &n, err)) == 0 && n > 0) {
                rc = kiln_error_set(err, KILN_E_STATE, "DependencyViolation",
                                    "resource %s has a dependent object (instance %s)", sg.group_id,
                                    members[0]);
        } else if (rc == 0) {
                rc = registry_sg_delete(r, sg.group_id, err);
        }
        kiln_strv_free(members, n);
        kiln_security_group_clear(&sg);
        return rc;
}

int kiln_security_group_delete(kiln_ctx *ctx, const char *group_id, const char *group_name,
                               kiln_error **err)
{
        change_txn t = {ctx, group_id, group_name, NULL, 0, NULL, 0, NULL};
        int rc;

        if (check_group_ref(group_id, group_name, err) < 0)
                return -1;
        rc = registry_write(ctx->reg, delete_write, &t, err);
        free(t.changed_group);
        return rc;
}

/* ==== launches ==== */

int instance_groups_resolve(kiln_ctx *ctx, registry *r, const kiln_run_spec *spec,
                            kiln_group_ref **ret, size_t *ret_n, kiln_error **err)
{
        size_t n = spec->n_security_group_ids + spec->n_security_group_names;
        kiln_group_ref *list;
        size_t kept = 0;

        if (n > KILN_SG_PER_INSTANCE_MAX)
                return kiln_error_set(err, KILN_E_LIMIT, "SecurityGroupsPerInstanceLimitExceeded",
                                      "An instance may be in at most %d security groups, not %zu",
                                      KILN_SG_PER_INSTANCE_MAX, n);
        list = kiln_xcalloc(n + 1, sizeof(*list));
        for (size_t i = 0; i < n; i++) {
                bool by_id = i < spec->n_security_group_ids;
                const char *want =
                        by_id ? spec->security_group_ids[i]
                              : spec->security_group_names[i - spec->n_security_group_ids];
                kiln_security_group sg = {0};
                bool dup = false;

                if ((by_id && check_group_id(want, err) < 0) ||
                    group_get(ctx, r, by_id ? want : NULL, by_id ? NULL : want, &sg, err) < 0) {
                        for (size_t k = 0; k < kept; k++) {
                                free(list[k].group_id);
                                free(list[k].group_name);
                        }
                        free(list);
                        return -1;
                }
                for (size_t k = 0; !dup && k < kept; k++)
                        dup = strcmp(list[k].group_id, sg.group_id) == 0;
                if (!dup) {
                        list[kept].group_id = kiln_steal(&sg.group_id);
                        list[kept].group_name = kiln_steal(&sg.group_name);
                        kept++;
                }
                kiln_security_group_clear(&sg);
        }
        *ret = list;
        *ret_n = kept;
        return 0;
}
