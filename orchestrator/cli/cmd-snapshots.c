/* Snapshot verbs: describe-snapshots, delete-snapshot, and createVolumePermission. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_describe_snapshots(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_snapshot_query q = {0};
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        const char **ids = NULL, **owners = NULL, **restorable = NULL;
        kiln_filter *filters = NULL;
        size_t n_filters = 0, n = 0;
        kiln_snapshot *snaps = NULL;
        int rc;

        (void) verb;
        rc = cli_parse_filters(args, &filters, &n_filters);
        if (rc != 0)
                return rc;
        q.n_snapshot_ids = cli_arg_all(args, "snapshot-ids", &ids);
        q.snapshot_ids = ids;
        q.n_owners = cli_arg_all(args, "owner-ids", &owners);
        q.owners = owners;
        q.n_restorable_by = cli_arg_all(args, "restorable-by-user-ids", &restorable);
        q.restorable_by = restorable;
        q.filters = filters;
        q.n_filters = n_filters;
        ctx = cli_ctx_open(g, &rc);
        if (ctx && kiln_snapshots_describe(ctx, &q, &snaps, &n, &err) == 0) {
                cli_writer *w = cli_writer_new(g);

                cli_w_object(w, NULL);
                kiln_shape_list_begin(cli_w_sink(w), KILN_LIST_SNAPSHOTS);
                for (size_t i = 0; i < n; i++)
                        kiln_shape_snapshot(cli_w_sink(w), &snaps[i]);
                cli_w_end_array(w);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
                kiln_snapshots_free(snaps, n);
        }
        free(ids);
        free(owners);
        free(restorable);
        cli_filters_free(filters, n_filters);
        if (!ctx)
                return rc;
        return err ? cli_fail(err) : CLI_EXIT_OK;
}

int cmd_create_snapshot(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_snapshot_spec spec = {
                .volume_id = cli_arg_get(args, "volume-id"),
                .description = cli_arg_get(args, "description"),
                .notify = cli_notify_steps,
                .userdata = (void *) g,
        };
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        cli_tag_specs tags = {0};
        kiln_snapshot s = {0};
        int rc = 0;

        (void) verb;
        if (!spec.volume_id)
                return cli_usage_error("create-snapshot needs --volume-id");
        if (cli_parse_tag_specs(args, &tags, &err) < 0)
                return cli_fail(err);
        spec.tag_specs = tags.specs;
        spec.n_tag_specs = tags.n;
        ctx = cli_ctx_open(g, &rc);
        if (ctx && kiln_snapshot_create(ctx, &spec, &s, &err) == 0) {
                cli_writer *w = cli_writer_new(g);

                kiln_shape_snapshot(cli_w_sink(w), &s);
                cli_writer_finish(w, g);
                kiln_snapshot_clear(&s);
        }
        cli_tag_specs_free(&tags);
        return err ? cli_fail(err) : rc;
}

int cmd_delete_snapshot(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *id = cli_arg_get(args, "snapshot-id");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        int rc = 0;

        (void) verb;
        if (!id)
                return cli_usage_error("delete-snapshot needs --snapshot-id");
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        if (kiln_snapshot_delete(ctx, id, &err) < 0)
                return cli_fail(err);
        return CLI_EXIT_OK;
}

static int cmd_reset_snapshot_attribute(const cli_verb *verb, const cli_global *g,
                                        const cli_args *args)
{
        const char *id = cli_arg_get(args, "snapshot-id");
        const char *attribute = cli_arg_get(args, "attribute");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        int rc = 0;

        (void) verb;
        if (!id || !attribute)
                return cli_usage_error("reset-snapshot-attribute needs --snapshot-id and "
                                       "--attribute createVolumePermission");
        ctx = cli_ctx_open(g, &rc);
        if (ctx)
                kiln_snapshot_attribute_reset(ctx, id, attribute, &err);
        return err ? cli_fail(err) : rc;
}

int cmd_describe_snapshot_attribute(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *id = cli_arg_get(args, "snapshot-id");
        const char *attribute = cli_arg_get(args, "attribute");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_permission *p = NULL;
        size_t n = 0;
        cli_writer *w;
        int rc = 0;

        (void) verb;
        if (!id || !attribute)
                return cli_usage_error("describe-snapshot-attribute needs --snapshot-id and "
                                       "--attribute createVolumePermission");
        if (strcmp(attribute, "createVolumePermission") != 0)
                return cli_usage_error("invalid --attribute '%s': expected "
                                       "createVolumePermission",
                                       attribute);
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        if (kiln_snapshot_permissions_describe(ctx, id, &p, &n, &err) < 0)
                return cli_fail(err);
        w = cli_writer_new(g);
        kiln_shape_snapshot_attribute(cli_w_sink(w), id, p, n);
        cli_writer_finish(w, g);
        kiln_permissions_free(p, n);
        return CLI_EXIT_OK;
}

int cmd_modify_snapshot_attribute(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *id = cli_arg_get(args, "snapshot-id");
        const char *perm = cli_arg_get(args, "create-volume-permission");
        const char *attribute = cli_arg_get(args, "attribute");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        cli_perm_change c = {0};
        int rc = 0;

        (void) verb;
        if (!id)
                return cli_usage_error("modify-snapshot-attribute needs --snapshot-id");
        if (attribute && strcmp(attribute, "createVolumePermission") != 0)
                return cli_usage_error("invalid --attribute '%s': expected "
                                       "createVolumePermission",
                                       attribute);
        if (!perm && !cli_arg_has(args, "operation-type"))
                return cli_usage_error("modify-snapshot-attribute needs "
                                       "--create-volume-permission, or --operation-type "
                                       "add|remove with --user-ids or --group-names");
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        if (perm)
                rc = cli_parse_permission(perm, &c, &err);
        else
                rc = cli_parse_flat_permission(args, "group-names", &c, &err);
        if (rc == 0) {
                kiln_permission_change change = {c.add, c.n_add, c.remove, c.n_remove};

                kiln_snapshot_modify_permission(ctx, id, &change, &err);
        }
        cli_perm_change_free(&c);
        return err ? cli_fail(err) : CLI_EXIT_OK;
}

/* ---- command table rows ---- */

static const cli_opt describe_snapshots_opts[] = {
        {"snapshot-ids", CLI_ARG_LIST, "ID...", "only these snapshots"},
        {"owner-ids", CLI_ARG_LIST, "OWNER...", "self or account IDs"},
        {"restorable-by-user-ids", CLI_ARG_LIST, "WHO...", "self, all or account IDs"},
        {"filters", CLI_ARG_LIST, "Name=N,Values=V...",
         "snapshot-id, owner-id, status, "
         "description, volume-size, tag:KEY, tag-key, tag-value"},
        CLI_END_OPTS,
};

static const cli_opt create_snapshot_opts[] = {
        {"volume-id", CLI_ARG_ONE, "ID", "the volume: available, or attached (live if running)"},
        {"description", CLI_ARG_ONE, "TEXT", "the snapshot's description"},
        CLI_OPT_TAG_SPECS("snapshot"),
        CLI_END_OPTS,
};

static const cli_opt snapshot_id_opts[] = {
        {"snapshot-id", CLI_ARG_ONE, "ID", "the snapshot"},
        CLI_END_OPTS,
};

static const cli_opt snapshot_attr_opts[] = {
        {"snapshot-id", CLI_ARG_ONE, "ID", "the snapshot"},
        {"attribute", CLI_ARG_ONE, "createVolumePermission", "the attribute"},
        CLI_END_OPTS,
};

static const cli_opt modify_snapshot_opts[] = {
        {"snapshot-id", CLI_ARG_ONE, "ID", "the snapshot"},
        {"attribute", CLI_ARG_ONE, "createVolumePermission", "the attribute"},
        {"create-volume-permission", CLI_ARG_ONE, "SPEC",
         "Add=[{UserId=ID},{Group=all}] or Remove=[...] (not both), or JSON"},
        {"operation-type", CLI_ARG_ONE, "add|remove", "flat form: add or remove"},
        {"user-ids", CLI_ARG_LIST, "ID...", "flat form: accounts"},
        {"group-names", CLI_ARG_LIST, "all", "flat form: all (public)"},
        CLI_END_OPTS,
};

const cli_verb cli_snapshot_verbs[] = {
        {"describe-snapshots", "snapshots", "list the snapshots the caller owns or may restore",
         "[--snapshot-ids ID...] [--owner-ids ...] [--filters ...]", describe_snapshots_opts, 0,
         cmd_describe_snapshots, "kiln describe-snapshots --owner-ids self"},
        {"create-snapshot", "snapshots",
         "snapshot a volume: only the blocks written since its last snapshot are new",
         "--volume-id ID [--description TEXT] [--tag-specifications ...]", create_snapshot_opts, 0,
         cmd_create_snapshot,
         "kiln create-snapshot --volume-id vol-0123456789abcdef0 --description \"before upgrade\""},
        {"delete-snapshot", "snapshots", "delete a snapshot no registered image uses",
         "--snapshot-id ID", snapshot_id_opts, 0, cmd_delete_snapshot,
         "kiln delete-snapshot --snapshot-id snap-0123456789abcdef0"},
        {"describe-snapshot-attribute", "snapshots", "show a snapshot's createVolumePermission",
         "--snapshot-id ID --attribute createVolumePermission", snapshot_attr_opts, 0,
         cmd_describe_snapshot_attribute,
         "kiln describe-snapshot-attribute --snapshot-id snap-... --attribute "
         "createVolumePermission"},
        {"reset-snapshot-attribute", "snapshots",
         "remove every createVolumePermission grant of a snapshot",
         "--snapshot-id ID --attribute createVolumePermission", snapshot_attr_opts, 0,
         cmd_reset_snapshot_attribute,
         "kiln reset-snapshot-attribute --snapshot-id snap-... --attribute "
         "createVolumePermission"},
        {"modify-snapshot-attribute", "snapshots", "grant or revoke createVolumePermission",
         "--snapshot-id ID (--create-volume-permission SPEC | flat form)", modify_snapshot_opts, 0,
         cmd_modify_snapshot_attribute,
         "kiln modify-snapshot-attribute --snapshot-id snap-... --create-volume-permission "
         "\"Add=[{UserId=123456789012}]\""},
};
const size_t cli_n_snapshot_verbs = KILN_ARRAY_SIZE(cli_snapshot_verbs);
