/* The endpoint's security group actions: CreateSecurityGroup, DescribeSecurityGroups,
 * AuthorizeSecurityGroupIngress, RevokeSecurityGroupIngress and DeleteSecurityGroup, each
 * through the public API of <kiln/secgroup.h> with the shapes the CLI prints.
 *
 * An inbound permission arrives in the structured form (IpPermissions.N.IpProtocol, FromPort,
 * ToPort and IpPermissions.N.IpRanges.M.CidrIp and .Description) or EC2's older flat one
 * (IpProtocol, FromPort, ToPort, CidrIp), never both; each CIDR becomes one kiln_sg_permission,
 * and a port not given is -1. kiln's rules have IPv4 CIDR sources only, so the other sources
 * EC2 knows (Ipv6Ranges, Groups, as botocore names UserIdGroupPairs on the wire, PrefixListIds,
 * SourceSecurityGroupName and SourceSecurityGroupOwnerId) are refused by name rather than left
 * out: a client must never believe it opened something that kiln did not. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/secgroup.h>

#include "ec2-private.h"

#define S(c)      EC2_OUT(c)
#define MAX_ITEMS 1000

/* ---- the group a request names: GroupId or GroupName ---- */

/* An empty value counts as not given, as clients send the members they leave empty. */
static const char *given(const char *v)
{
        return v && *v ? v : NULL;
}

/* Exactly one of GroupId and GroupName. */
static int group_of(ec2_call *c, const char **ret_id, const char **ret_name, kiln_error **err)
{
        const char *id = given(ec2_param(c->params, "GroupId"));
        const char *name = given(ec2_param(c->params, "GroupName"));

        if (!id && !name)
                return ec2_need(NULL, "GroupId or GroupName", err);
        if (id && name)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterCombination",
                                      "Give the group by GroupId or by GroupName, not both");
        *ret_id = id;
        *ret_name = name;
        return 0;
}

/* ---- inbound permissions ---- */

typedef struct sg_perms {
        kiln_sg_permission *p;
        size_t n;
} sg_perms;

static void perms_push(sg_perms *ps, const kiln_sg_permission *p)
{
        ps->p = realloc(ps->p, (ps->n + 1) * sizeof(*ps->p));
        if (!ps->p)
                abort();
        ps->p[ps->n++] = *p;
}

/* A port (or ICMP type or code): absent or empty is -1, else a whole number from -1 to 65535;
 * what a protocol allows is the library's to check. */
static int parse_port(const char *v, const char *name, int *ret, kiln_error **err)
{
        char *end = NULL;
        long n;

        *ret = -1;
        if (!given(v))
                return 0;
        n = strtol(v, &end, 10);
        if (*end || n < -1 || n > 65535)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Value (%s) for parameter %s is invalid: a whole number "
                                      "from -1 to 65535",
                                      v, name);
        *ret = (int) n;
        return 0;
}

static int refuse_source(const char *name, kiln_error **err)
{
        return kiln_error_set(err, KILN_E_UNSUPPORTED, "InvalidParameterValue",
                              "%s: kiln's security group rules take IPv4 CIDR sources only "
                              "(IpPermissions.N.IpRanges.M.CidrIp, or CidrIp)",
                              name);
}

/* IpPermissions.I: its protocol and ports, once for each of its IpRanges. */
static int parse_item(ec2_call *c, size_t i, sg_perms *ps, kiln_error **err)
{
        static const char *const refused[] = {"Ipv6Ranges.", "Groups.", "UserIdGroupPairs.",
                                              "PrefixListIds."};
        char name[160];
        const char *proto;
        int from = -1, to = -1;
        size_t m;

        for (size_t k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
                const char *found;

                snprintf(name, sizeof(name), "IpPermissions.%zu.%s", i, refused[k]);
                found = ec2_param_prefixed(c->params, name);
                if (found)
                        return refuse_source(found, err);
        }
        snprintf(name, sizeof(name), "IpPermissions.%zu.IpProtocol", i);
        proto = ec2_param(c->params, name);
        if (ec2_need(proto, name, err) < 0)
                return -1;
        snprintf(name, sizeof(name), "IpPermissions.%zu.FromPort", i);
        if (parse_port(ec2_param(c->params, name), name, &from, err) < 0)
                return -1;
        snprintf(name, sizeof(name), "IpPermissions.%zu.ToPort", i);
        if (parse_port(ec2_param(c->params, name), name, &to, err) < 0)
                return -1;
        for (m = 1; m <= MAX_ITEMS; m++) {
                char cidr_name[160], desc_name[160];
                const char *cidr, *desc;

                snprintf(cidr_name, sizeof(cidr_name), "IpPermissions.%zu.IpRanges.%zu.CidrIp", i,
                         m);
                snprintf(desc_name, sizeof(desc_name), "IpPermissions.%zu.IpRanges.%zu.Description",
                         i, m);
                cidr = ec2_param(c->params, cidr_name);
                desc = ec2_param(c->params, desc_name);
                if (!cidr && !desc)
                        break;
                if (ec2_need(cidr, cidr_name, err) < 0)
                        return -1;
                perms_push(ps, &(kiln_sg_permission){proto, from, to, cidr, desc});
        }
        if (m == 1)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter "
                                      "IpPermissions.%zu.IpRanges.1.CidrIp (kiln's rules have "
                                      "IPv4 CIDR sources)",
                                      i);
        return 0;
}

/* The request's permissions, structured or flat; none is not an error here (Revoke may give
 * rule IDs instead). The permissions point into the request's parameters. */
static int parse_perms(ec2_call *c, sg_perms *ret, kiln_error **err)
{
        static const char *const flat_refused[] = {"SourceSecurityGroupName",
                                                   "SourceSecurityGroupOwnerId"};
        const char *proto = ec2_param(c->params, "IpProtocol");
        const char *from_v = ec2_param(c->params, "FromPort");
        const char *to_v = ec2_param(c->params, "ToPort");
        const char *cidr = ec2_param(c->params, "CidrIp");
        sg_perms ps = {0};
        int from = -1, to = -1;

        memset(ret, 0, sizeof(*ret));
        for (size_t k = 0; k < sizeof(flat_refused) / sizeof(flat_refused[0]); k++)
                if (given(ec2_param(c->params, flat_refused[k])))
                        return refuse_source(flat_refused[k], err);
        for (size_t i = 1; i <= MAX_ITEMS; i++) {
                char prefix[64];

                snprintf(prefix, sizeof(prefix), "IpPermissions.%zu.", i);
                if (!ec2_param_prefixed(c->params, prefix))
                        break;
                if (parse_item(c, i, &ps, err) < 0) {
                        free(ps.p);
                        return -1;
                }
        }
        if (!given(proto) && !given(from_v) && !given(to_v) && !given(cidr)) {
                *ret = ps;
                return 0;
        }
        if (ps.n) {
                free(ps.p);
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterCombination",
                                      "Give the permissions as IpPermissions or as IpProtocol, "
                                      "FromPort, ToPort and CidrIp, not both");
        }
        if (ec2_need(proto, "IpProtocol", err) < 0 || ec2_need(cidr, "CidrIp", err) < 0 ||
            parse_port(from_v, "FromPort", &from, err) < 0 ||
            parse_port(to_v, "ToPort", &to, err) < 0)
                return -1;
        perms_push(&ps, &(kiln_sg_permission){proto, from, to, cidr, NULL});
        *ret = ps;
        return 0;
}

/* ---- the actions ---- */

/* The answer: GroupId, and Tags when the group has any. */
static int create_security_group(ec2_call *c, kiln_error **err)
{
        const char *name = ec2_param(c->params, "GroupName");
        const char *desc = ec2_param(c->params, "GroupDescription");
        /* Packer sends VpcId= (empty) for the default VPC; the library takes NULL or "". */
        const char *vpc = ec2_param(c->params, "VpcId");
        kiln_security_group sg = {0};
        ec2_tag_specs tags = {0};
        int rc = -1;

        if (ec2_need(name, "GroupName", err) < 0 || ec2_need(desc, "GroupDescription", err) < 0 ||
            ec2_parse_tag_specs(c, &tags, err) < 0)
                return -1;
        if (ec2_params_done(c, err) == 0 &&
            kiln_security_group_create(c->ctx, name, desc, vpc, tags.specs, tags.n, &sg, err) ==
                    0) {
                S(c)->str(S(c), "GroupId", "groupId", sg.group_id);
                kiln_shape_tags(S(c), sg.tags, sg.n_tags);
                kiln_security_group_clear(&sg);
                rc = 0;
        }
        ec2_tag_specs_free(&tags);
        return rc;
}

/* GroupId.N and GroupName.N (each must exist), Filter.N, and paging as EC2 pages it
 * (MaxResults not with GroupId.N or GroupName.N). */
static int describe_security_groups(ec2_call *c, kiln_error **err)
{
        kiln_sg_query q = {0};
        const char **ids = NULL, **names = NULL;
        kiln_filter *f = NULL;
        size_t nf = 0, n = 0;
        kiln_security_group *sgs = NULL;
        ec2_page p;
        int rc = -1;

        q.n_group_ids = ec2_param_list(c->params, "GroupId", &ids);
        q.group_ids = ids;
        q.n_group_names = ec2_param_list(c->params, "GroupName", &names);
        q.group_names = names;
        if (ec2_param_filters(c->params, &f, &nf, err) < 0 ||
            ec2_paging(c, false, q.n_group_ids + q.n_group_names, &p, err) < 0 ||
            ec2_params_done(c, err) < 0)
                goto out;
        q.filters = f;
        q.n_filters = nf;
        if (kiln_security_groups_describe(c->ctx, &q, &sgs, &n, err) < 0)
                goto out;
        ec2_page_fit(&p, n);
        kiln_shape_list_begin(S(c), KILN_LIST_SECURITY_GROUPS);
        for (size_t i = p.first; i < p.end; i++)
                kiln_shape_security_group(S(c), &sgs[i]);
        S(c)->end_array(S(c));
        ec2_page_token(c, &p);
        kiln_security_groups_free(sgs, n);
        rc = 0;
out:
        free(ids);
        free(names);
        ec2_filters_free(f, nf);
        return rc;
}

/* The ID of the group named name, for an answer that needs it; NULL (and the answer goes
 * without) if it cannot be had, as the change is made by then. */
static char *group_id_of(ec2_call *c, const char *name)
{
        const char *names[] = {name};
        kiln_sg_query q = {.group_names = names, .n_group_names = 1};
        kiln_security_group *sgs = NULL;
        kiln_error *e = NULL;
        char *id = NULL;
        size_t n = 0;

        if (kiln_security_groups_describe(c->ctx, &q, &sgs, &n, &e) < 0) {
                kiln_log(KILN_LOG_DEBUG, "the ID of security group '%s': %s", name, e->msg);
                kiln_error_free(e);
                return NULL;
        }
        if (n && sgs[0].group_id) {
                id = strdup(sgs[0].group_id);
                if (!id)
                        abort();
        }
        kiln_security_groups_free(sgs, n);
        return id;
}

/* The answer: Return, and the rules added (SecurityGroupRule, one per CIDR). Rules take no
 * tags in kiln, so TagSpecification.N is refused. */
static int authorize_security_group_ingress(ec2_call *c, kiln_error **err)
{
        const char *id = NULL, *name = NULL;
        const char *tagged = ec2_param_prefixed(c->params, "TagSpecification.");
        sg_perms ps = {0};
        kiln_sg_rule *rules = NULL;
        char *found_id = NULL;
        size_t n = 0;
        int rc = -1;

        if (group_of(c, &id, &name, err) < 0)
                return -1;
        if (tagged)
                return kiln_error_set(err, KILN_E_UNSUPPORTED, "InvalidParameterValue",
                                      "%s: kiln's security group rules take no tags", tagged);
        if (parse_perms(c, &ps, err) < 0)
                return -1;
        if (!ps.n)
                ec2_need(NULL, "IpPermissions", err);
        else if (ec2_params_done(c, err) == 0)
                rc = kiln_security_group_authorize(c->ctx, id, name, ps.p, ps.n, &rules, &n, err);
        if (rc == 0) {
                if (!id)
                        id = found_id = group_id_of(c, name);
                ec2_return_true(c);
                S(c)->array(S(c), "SecurityGroupRules", "securityGroupRuleSet");
                for (size_t i = 0; i < n; i++)
                        kiln_shape_security_group_rule(S(c), &rules[i], id,
                                                       kiln_ctx_account(c->ctx));
                S(c)->end_array(S(c));
        }
        kiln_sg_rules_free(rules, n);
        free(found_id);
        free(ps.p);
        return rc;
}

/* Permissions and/or SecurityGroupRuleId.N; all are removed or none. */
static int revoke_security_group_ingress(ec2_call *c, kiln_error **err)
{
        const char *id = NULL, *name = NULL;
        const char **rule_ids = NULL;
        size_t n_rule_ids = 0;
        sg_perms ps = {0};
        int rc = -1;

        if (group_of(c, &id, &name, err) < 0 || parse_perms(c, &ps, err) < 0)
                return -1;
        n_rule_ids = ec2_param_list(c->params, "SecurityGroupRuleId", &rule_ids);
        if (!ps.n && !n_rule_ids)
                ec2_need(NULL, "IpPermissions or SecurityGroupRuleId", err);
        else if (ec2_params_done(c, err) == 0 &&
                 kiln_security_group_revoke(c->ctx, id, name, ps.p, ps.n, rule_ids, n_rule_ids,
                                            err) == 0) {
                ec2_return_true(c);
                rc = 0;
        }
        free(rule_ids);
        free(ps.p);
        return rc;
}

/* The answer: Return (botocore's model of 2016-11-15 as Debian ships it has no output for
 * DeleteSecurityGroup; its later GroupId member is not written). */
static int delete_security_group(ec2_call *c, kiln_error **err)
{
        const char *id = NULL, *name = NULL;

        if (group_of(c, &id, &name, err) < 0 || ec2_params_done(c, err) < 0 ||
            kiln_security_group_delete(c->ctx, id, name, err) < 0)
                return -1;
        ec2_return_true(c);
        return 0;
}

const ec2_action ec2_secgroup_actions[] = {
        {"AuthorizeSecurityGroupIngress", authorize_security_group_ingress, true},
        {"CreateSecurityGroup", create_security_group, true},
        {"DeleteSecurityGroup", delete_security_group, true},
        {"DescribeSecurityGroups", describe_security_groups, false},
        {"RevokeSecurityGroupIngress", revoke_security_group_ingress, true},
        {NULL, NULL, false},
};
