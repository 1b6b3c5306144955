/* Security group verbs: create-security-group, describe-security-groups,
 * authorize-security-group-ingress, revoke-security-group-ingress, delete-security-group. Each
 * parses, calls the library once, and prints the aws CLI 2.9.19's shapes (CreateSecurityGroup's
 * GroupId and Tags, SecurityGroup, SecurityGroupRule, Return); delete prints nothing, as there.
 * The rules' two forms are parsed in args-ip-permissions.c. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int finish(kiln_error *err)
{
        return err ? cli_fail(err) : CLI_EXIT_OK;
}

/* The group a verb acts on: --group-id or --group-name, exactly one. 0 or a usage error. */
static int group_of(const cli_verb *verb, const cli_args *args, const char **ret_id,
                    const char **ret_name)
{
        const char *id = cli_arg_get(args, "group-id");
        const char *name = cli_arg_get(args, "group-name");

        if (!id && !name)
                return cli_usage_error("%s needs --group-id or --group-name", verb->name);
        if (id && name)
                return cli_usage_error("%s takes --group-id or --group-name, not both", verb->name);
        *ret_id = id;
        *ret_name = name;
        return 0;
}

static int cmd_create_security_group(const cli_verb *verb, const cli_global *g,
                                     const cli_args *args)
{
        const char *name = cli_arg_get(args, "group-name");
        const char *description = cli_arg_get(args, "description");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_security_group sg = {0};
        cli_tag_specs tags = {0};
        cli_writer *w;
        int rc = 0;

        (void) verb;
        if (!name || !description)
                return cli_usage_error("create-security-group needs --group-name and "
                                       "--description");
        if (cli_parse_tag_specs(args, &tags, &err) < 0)
                return cli_fail(err);
        ctx = cli_ctx_open(g, &rc);
        if (ctx && kiln_security_group_create(ctx, name, description, cli_arg_get(args, "vpc-id"),
                                              tags.specs, tags.n, &sg, &err) < 0)
                rc = cli_fail(err);
        cli_tag_specs_free(&tags);
        if (!ctx || rc != 0)
                return rc;
        w = cli_writer_new(g);
        cli_w_object(w, NULL);
        cli_w_str(w, "GroupId", sg.group_id);
        kiln_shape_tags(cli_w_sink(w), sg.tags, sg.n_tags);
        cli_w_end_object(w);
        cli_writer_finish(w, g);
        kiln_security_group_clear(&sg);
        return CLI_EXIT_OK;
}

static int cmd_describe_security_groups(const cli_verb *verb, const cli_global *g,
                                        const cli_args *args)
{
        kiln_sg_query q = {0};
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        const char **ids = NULL, **names = NULL;
        kiln_filter *filters = NULL;
        kiln_security_group *list = NULL;
        size_t n_filters = 0, n = 0;
        int rc;

        (void) verb;
        rc = cli_parse_filters(args, &filters, &n_filters);
        if (rc != 0)
                return rc;
        q.n_group_ids = cli_arg_all(args, "group-ids", &ids);
        q.group_ids = ids;
        q.n_group_names = cli_arg_all(args, "group-names", &names);
        q.group_names = names;
        q.filters = filters;
        q.n_filters = n_filters;
        ctx = cli_ctx_open(g, &rc);
        if (ctx && kiln_security_groups_describe(ctx, &q, &list, &n, &err) == 0) {
                cli_writer *w = cli_writer_new(g);

                cli_w_object(w, NULL);
                kiln_shape_list_begin(cli_w_sink(w), KILN_LIST_SECURITY_GROUPS);
                for (size_t i = 0; i < n; i++)
                        kiln_shape_security_group(cli_w_sink(w), &list[i]);
                cli_w_end_array(w);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
                kiln_security_groups_free(list, n);
        }
        free(ids);
        free(names);
        cli_filters_free(filters, n_filters);
        return ctx ? finish(err) : rc;
}

/* The ID of the group named name, for the rules authorize prints when the group was given by
 * name (the library answers with the rules alone). NULL if it is gone since: the rules are
 * then printed without their GroupId rather than the change reported as failed. */
static char *group_id_by_name(kiln_ctx *ctx, const char *name)
{
        const char *names[] = {name};
        kiln_sg_query q = {.group_names = names, .n_group_names = 1};
        kiln_autoptr(kiln_error) err = NULL;
        kiln_security_group *list = NULL;
        char *id = NULL;
        size_t n = 0;

        if (kiln_security_groups_describe(ctx, &q, &list, &n, &err) < 0)
                return NULL;
        if (n == 1) {
                id = strdup(list[0].group_id);
                if (!id)
                        abort();
        }
        kiln_security_groups_free(list, n);
        return id;
}

static int cmd_authorize_security_group_ingress(const cli_verb *verb, const cli_global *g,
                                                const cli_args *args)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        const char *id = NULL, *name = NULL;
        cli_sg_perms perms = {0};
        kiln_sg_rule *rules = NULL;
        char *resolved = NULL;
        size_t n = 0;
        int rc;

        rc = group_of(verb, args, &id, &name);
        if (rc == 0)
                rc = cli_parse_ip_permissions(args, &perms);
        if (rc != 0)
                return rc;
        if (!perms.n)
                return cli_usage_error("authorize-security-group-ingress needs --ip-permissions, "
                                       "or --protocol with --port and --cidr");
        ctx = cli_ctx_open(g, &rc);
        if (ctx && kiln_security_group_authorize(ctx, id, name, perms.perms, perms.n, &rules, &n,
                                                 &err) < 0)
                rc = cli_fail(err);
        cli_sg_perms_free(&perms);
        if (!ctx || rc != 0)
                return rc;
        resolved = id ? NULL : group_id_by_name(ctx, name);
        {
                cli_writer *w = cli_writer_new(g);

                cli_w_object(w, NULL);
                cli_w_bool(w, "Return", true);
                cli_w_array(w, "SecurityGroupRules");
                for (size_t i = 0; i < n; i++)
                        kiln_shape_security_group_rule(cli_w_sink(w), &rules[i], id ? id : resolved,
                                                       kiln_ctx_account(ctx));
                cli_w_end_array(w);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
        }
        kiln_sg_rules_free(rules, n);
        free(resolved);
        return CLI_EXIT_OK;
}

static int cmd_revoke_security_group_ingress(const cli_verb *verb, const cli_global *g,
                                             const cli_args *args)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        const char *id = NULL, *name = NULL;
        const char **rule_ids = NULL;
        cli_sg_perms perms = {0};
        size_t n_rule_ids;
        int rc;

        rc = group_of(verb, args, &id, &name);
        if (rc == 0)
                rc = cli_parse_ip_permissions(args, &perms);
        if (rc != 0)
                return rc;
        n_rule_ids = cli_arg_all(args, "security-group-rule-ids", &rule_ids);
        if (!perms.n && !n_rule_ids) {
                free(rule_ids);
                return cli_usage_error("revoke-security-group-ingress needs --ip-permissions, "
                                       "--protocol with --port and --cidr, or "
                                       "--security-group-rule-ids");
        }
        ctx = cli_ctx_open(g, &rc);
        if (ctx && kiln_security_group_revoke(ctx, id, name, perms.perms, perms.n, rule_ids,
                                              n_rule_ids, &err) < 0)
                rc = cli_fail(err);
        cli_sg_perms_free(&perms);
        free(rule_ids);
        if (!ctx || rc != 0)
                return rc;
        {
                cli_writer *w = cli_writer_new(g);

                cli_w_object(w, NULL);
                cli_w_bool(w, "Return", true);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
        }
        return CLI_EXIT_OK;
}

static int cmd_delete_security_group(const cli_verb *verb, const cli_global *g,
                                     const cli_args *args)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        const char *id = NULL, *name = NULL;
        int rc;

        rc = group_of(verb, args, &id, &name);
        if (rc != 0)
                return rc;
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        kiln_security_group_delete(ctx, id, name, &err);
        return finish(err);
}

/* ---- command table rows ---- */

static const cli_opt create_opts[] = {
        {"group-name", CLI_ARG_ONE, "NAME", "1-255 characters, unique in the region; not sg-..."},
        {"description", CLI_ARG_ONE, "TEXT", "1-255 characters"},
        {"vpc-id", CLI_ARG_ONE, "ID", "the region's VPC (the default; see describe-vpcs)"},
        CLI_OPT_TAG_SPECS("group (security-group)"),
        CLI_END_OPTS,
};

static const cli_opt describe_opts[] = {
        {"group-ids", CLI_ARG_LIST, "ID...", "only these groups"},
        {"group-names", CLI_ARG_LIST, "NAME...", "only these groups, by name"},
        {"filters", CLI_ARG_LIST, "Name=N,Values=V...",
         "group-id, group-name, description, vpc-id, owner-id, ip-permission.protocol, "
         "ip-permission.from-port, ip-permission.to-port, ip-permission.cidr, tag:KEY, tag-key"},
        CLI_END_OPTS,
};

static const cli_opt authorize_opts[] = {
        {"group-id", CLI_ARG_ONE, "ID", "the group (sg-...)"},
        {"group-name", CLI_ARG_ONE, "NAME", "the group, by name"},
        {"ip-permissions", CLI_ARG_LIST,
         "IpProtocol=P,FromPort=N,ToPort=N,IpRanges=[{CidrIp=C}]...",
         "rules in shorthand or JSON: IpProtocol tcp, udp, icmp or -1 (all traffic), ports "
         "FromPort-ToPort (ICMP: type and code), IpRanges [{CidrIp=CIDR,Description=TEXT}...]"},
        {"protocol", CLI_ARG_ONE, "tcp|udp|icmp|all",
         "one rule in the aws CLI's simple form: its protocol (or a protocol number)"},
        {"port", CLI_ARG_ONE, "N|N-M",
         "with --protocol: a port or a range (-1 or all: every port; ICMP: TYPE-CODE)"},
        {"cidr", CLI_ARG_ONE, "CIDR", "with --protocol: the IPv4 source, as 0.0.0.0/0"},
        CLI_END_OPTS,
};

static const cli_opt revoke_opts[] = {
        {"group-id", CLI_ARG_ONE, "ID", "the group (sg-...)"},
        {"group-name", CLI_ARG_ONE, "NAME", "the group, by name"},
        {"ip-permissions", CLI_ARG_LIST,
         "IpProtocol=P,FromPort=N,ToPort=N,IpRanges=[{CidrIp=C}]...",
         "rules in shorthand or JSON: IpProtocol tcp, udp, icmp or -1 (all traffic), ports "
         "FromPort-ToPort (ICMP: type and code), IpRanges [{CidrIp=CIDR,Description=TEXT}...]"},
        {"protocol", CLI_ARG_ONE, "tcp|udp|icmp|all",
         "one rule in the aws CLI's simple form: its protocol (or a protocol number)"},
        {"port", CLI_ARG_ONE, "N|N-M",
         "with --protocol: a port or a range (-1 or all: every port; ICMP: TYPE-CODE)"},
        {"cidr", CLI_ARG_ONE, "CIDR", "with --protocol: the IPv4 source, as 0.0.0.0/0"},
        {"security-group-rule-ids", CLI_ARG_LIST, "ID...", "rules to remove, by ID (sgr-...)"},
        CLI_END_OPTS,
};

static const cli_opt delete_opts[] = {
        {"group-id", CLI_ARG_ONE, "ID", "the group (sg-...)"},
        {"group-name", CLI_ARG_ONE, "NAME", "the group, by name"},
        CLI_END_OPTS,
};

const cli_verb cli_secgroup_verbs[] = {
        {"create-security-group", "security groups",
         "create a security group in the region's VPC, with no inbound rule",
         "--group-name NAME --description TEXT [--vpc-id ID] [--tag-specifications ...]",
         create_opts, 0, cmd_create_security_group,
         "kiln create-security-group --group-name web --description \"web servers\""},
        {"describe-security-groups", "security groups",
         "list the caller's security groups in the region (the default group too) and their "
         "rules",
         "[--group-ids ID...] [--group-names NAME...] [--filters ...]", describe_opts, 0,
         cmd_describe_security_groups,
         "kiln describe-security-groups --filters Name=ip-permission.from-port,Values=22"},
        {"authorize-security-group-ingress", "security groups",
         "allow inbound traffic: add rules to a group, applied at once to its running instances",
         "(--group-id ID | --group-name NAME) (--ip-permissions PERM... | --protocol P "
         "[--port N[-M]] --cidr CIDR)",
         authorize_opts, 0, cmd_authorize_security_group_ingress,
         "kiln authorize-security-group-ingress --group-name web --protocol tcp --port 80 "
         "--cidr 0.0.0.0/0"},
        {"revoke-security-group-ingress", "security groups",
         "remove inbound rules from a group, given as rules or by their IDs",
         "(--group-id ID | --group-name NAME) (--ip-permissions PERM... | --protocol P "
         "[--port N[-M]] --cidr CIDR | --security-group-rule-ids ID...)",
         revoke_opts, 0, cmd_revoke_security_group_ingress,
         "kiln revoke-security-group-ingress --group-name web --protocol tcp --port 80 "
         "--cidr 0.0.0.0/0"},
        {"delete-security-group", "security groups",
         "delete a group no instance is in (the default group stays)",
         "--group-id ID | --group-name NAME", delete_opts, 0, cmd_delete_security_group,
         "kiln delete-security-group --group-name web"},
};
const size_t cli_n_secgroup_verbs = KILN_ARRAY_SIZE(cli_secgroup_verbs);
