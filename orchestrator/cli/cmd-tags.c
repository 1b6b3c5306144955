/* Tag verbs: create-tags, delete-tags, describe-tags, on images, snapshots, instances, volumes
 * and key pairs. create-tags and delete-tags print nothing, as the aws CLI; describe-tags
 * prints TagDescription in the 2.9.19 order. */
#include <string.h>

#include "cli.h"

/* --resources and --tags, then one library call. */
static int change_tags(const cli_global *g, const cli_args *args, bool create)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        const char **ids = NULL;
        size_t n_ids = cli_arg_all(args, "resources", &ids);
        kiln_tag *tags = NULL;
        size_t n_tags = 0;
        int rc = 0;

        if (n_ids == 0) {
                free(ids);
                return cli_usage_error("%s needs --resources ID...",
                                       create ? "create-tags" : "delete-tags");
        }
        if (create && !cli_arg_has(args, "tags")) {
                free(ids);
                return cli_usage_error("create-tags needs --tags Key=KEY,Value=VALUE...");
        }
        if (cli_parse_tags(args, "tags", !create, &tags, &n_tags, &err) == 0) {
                ctx = cli_ctx_open(g, &rc);
                if (ctx && create)
                        kiln_tags_create(ctx, ids, n_ids, tags, n_tags, &err);
                else if (ctx)
                        kiln_tags_delete(ctx, ids, n_ids, tags, n_tags, &err);
        }
        free(ids);
        kiln_tags_free(tags, n_tags);
        if (err)
                return cli_fail(err);
        return rc;
}

static int cmd_create_tags(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        (void) verb;
        return change_tags(g, args, true);
}

static int cmd_delete_tags(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        (void) verb;
        return change_tags(g, args, false);
}

static int cmd_describe_tags(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_filter *filters = NULL;
        kiln_tag_description *d = NULL;
        size_t n_filters = 0, n = 0;
        int rc;

        (void) verb;
        rc = cli_parse_filters(args, &filters, &n_filters);
        if (rc != 0)
                return rc;
        ctx = cli_ctx_open(g, &rc);
        if (ctx && kiln_tags_describe(ctx, filters, n_filters, &d, &n, &err) == 0) {
                cli_writer *w = cli_writer_new(g);

                cli_w_object(w, NULL);
                cli_w_array(w, "Tags");
                for (size_t i = 0; i < n; i++) {
                        cli_w_object(w, NULL);
                        cli_w_str(w, "Key", d[i].key);
                        cli_w_str(w, "ResourceId", d[i].resource_id);
                        cli_w_str(w, "ResourceType", d[i].resource_type);
                        cli_w_str(w, "Value", d[i].value);
                        cli_w_end_object(w);
                }
                cli_w_end_array(w);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
                kiln_tag_descriptions_free(d, n);
        }
        cli_filters_free(filters, n_filters);
        if (err)
                return cli_fail(err);
        return rc;
}

/* ---- command table rows ---- */

static const cli_opt create_opts[] = {
        {"resources", CLI_ARG_LIST, "ID...", "images, snapshots, instances, volumes, key pairs"},
        {"tags", CLI_ARG_LIST, "Key=K,Value=V...",
         "the tags (a key of 1-128 characters, a value of at most 256; not aws: or kiln:)"},
        CLI_END_OPTS,
};

static const cli_opt delete_opts[] = {
        {"resources", CLI_ARG_LIST, "ID...", "images, snapshots, instances, volumes, key pairs"},
        {"tags", CLI_ARG_LIST, "Key=K[,Value=V]...",
         "the tags to remove: with a Value only if it has that value; none: every tag"},
        CLI_END_OPTS,
};

static const cli_opt describe_opts[] = {
        {"filters", CLI_ARG_LIST, "Name=N,Values=V...",
         "key, value, resource-id, resource-type (image, snapshot, instance, volume, "
         "key-pair), tag:KEY"},
        CLI_END_OPTS,
};

const cli_verb cli_tag_verbs[] = {
        {"create-tags", "tags", "add or overwrite tags on resources (all or none)",
         "--resources ID... --tags Key=K,Value=V...", create_opts, 0, cmd_create_tags,
         "kiln create-tags --resources ami-0123456789abcdef0 --tags Key=team,Value=web"},
        {"delete-tags", "tags", "remove tags from resources (all or none)",
         "--resources ID... [--tags Key=K[,Value=V]...]", delete_opts, 0, cmd_delete_tags,
         "kiln delete-tags --resources i-0123456789abcdef0 --tags Key=stage"},
        {"describe-tags", "tags", "list the tags on the caller's resources in the region",
         "[--filters Name=N,Values=V...]", describe_opts, 0, cmd_describe_tags,
         "kiln describe-tags --filters Name=resource-type,Values=image"},
};
const size_t cli_n_tag_verbs = KILN_ARRAY_SIZE(cli_tag_verbs);
