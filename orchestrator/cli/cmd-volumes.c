/* Volume verbs: create-volume, describe-volumes, delete-volume, attach-volume,
 * detach-volume. Each parses, calls the library once, and prints the aws CLI 2.9.19's shapes
 * (Volume, VolumeAttachment). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int parse_size(const char *s, int64_t *ret)
{
        char *end = NULL;
        long long v;

        if (!s) {
                *ret = 0;
                return 0;
        }
        v = strtoll(s, &end, 10);
        if (!*s || *end || v < 1)
                return cli_usage_error("invalid --size '%s': a whole number of GiB", s);
        *ret = v;
        return 0;
}

static int cmd_create_volume(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_volume_spec spec = {0};
        cli_tag_specs tags = {0};
        kiln_volume v = {0};
        int rc;

        (void) verb;
        rc = parse_size(cli_arg_get(args, "size"), &spec.size);
        if (rc != 0)
                return rc;
        spec.snapshot_id = cli_arg_get(args, "snapshot-id");
        spec.volume_type = cli_arg_get(args, "volume-type");
        spec.availability_zone = cli_arg_get(args, "availability-zone");
        spec.client_token = cli_arg_get(args, "client-token");
        if (!spec.snapshot_id && !spec.size)
                return cli_usage_error("create-volume needs --size or --snapshot-id");
        if (cli_parse_tag_specs(args, &tags, &err) < 0)
                return cli_fail(err);
        spec.tag_specs = tags.specs;
        spec.n_tag_specs = tags.n;
        ctx = cli_ctx_open(g, &rc);
        if (ctx && kiln_volume_create(ctx, &spec, &v, &err) == 0) {
                cli_writer *w = cli_writer_new(g);

                kiln_shape_volume(cli_w_sink(w), &v, false);
                cli_writer_finish(w, g);
                kiln_volume_clear(&v);
        }
        cli_tag_specs_free(&tags);
        return err ? cli_fail(err) : rc;
}

static int cmd_describe_volumes(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        const char **ids = NULL;
        size_t n_ids = cli_arg_all(args, "volume-ids", &ids);
        kiln_filter *filters = NULL;
        kiln_volume *list = NULL;
        size_t n_filters = 0, n = 0;
        int rc;

        (void) verb;
        rc = cli_parse_filters(args, &filters, &n_filters);
        if (rc == 0)
                ctx = cli_ctx_open(g, &rc);
        if (ctx &&
            kiln_volumes_describe(ctx, ids, n_ids, filters, n_filters, &list, &n, &err) == 0) {
                cli_writer *w = cli_writer_new(g);

                cli_w_object(w, NULL);
                kiln_shape_list_begin(cli_w_sink(w), KILN_LIST_VOLUMES);
                for (size_t i = 0; i < n; i++)
                        kiln_shape_volume(cli_w_sink(w), &list[i], true);
                cli_w_end_array(w);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
                kiln_volumes_free(list, n);
        }
        free(ids);
        cli_filters_free(filters, n_filters);
        return err ? cli_fail(err) : rc;
}

static int cmd_delete_volume(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *id = cli_arg_get(args, "volume-id");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        int rc = 0;

        (void) verb;
        if (!id)
                return cli_usage_error("delete-volume needs --volume-id");
        ctx = cli_ctx_open(g, &rc);
        if (ctx)
                kiln_volume_delete(ctx, id, &err);
        return err ? cli_fail(err) : rc;
}

static int change_attachment(const cli_global *g, const cli_args *args, bool attach)
{
        const char *id = cli_arg_get(args, "volume-id");
        const char *instance = cli_arg_get(args, "instance-id");
        const char *device = cli_arg_get(args, "device");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_volume before = {0}, after = {0};
        int rc = 0;

        if (!id || (attach && (!instance || !device)))
                return attach ? cli_usage_error("attach-volume needs --volume-id, --instance-id "
                                                "and --device")
                              : cli_usage_error("detach-volume needs --volume-id");
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        if (!attach) {
                /* What it was attached to, for the answer. */
                kiln_volume *list = NULL;
                size_t n = 0;
                const char *ids[] = {id};

                if (kiln_volumes_describe(ctx, ids, 1, NULL, 0, &list, &n, &err) < 0)
                        return cli_fail(err);
                if (n == 1) {
                        before = list[0];
                        memset(&list[0], 0, sizeof(list[0]));
                }
                kiln_volumes_free(list, n);
        }
        if ((attach ? kiln_volume_attach(ctx, id, instance, device, &after, &err)
                    : kiln_volume_detach(ctx, id, instance, device, cli_arg_has(args, "force"),
                                         &after, &err)) == 0) {
                cli_writer *w = cli_writer_new(g);

                kiln_shape_volume_attachment(cli_w_sink(w), attach ? &after : &before,
                                             attach ? "attached" : "detached");
                cli_writer_finish(w, g);
        }
        kiln_volume_clear(&before);
        kiln_volume_clear(&after);
        return err ? cli_fail(err) : CLI_EXIT_OK;
}

static int cmd_attach_volume(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        (void) verb;
        return change_attachment(g, args, true);
}

static int cmd_detach_volume(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        (void) verb;
        return change_attachment(g, args, false);
}

/* ---- command table rows ---- */

static const cli_opt create_opts[] = {
        {"size", CLI_ARG_ONE, "GIB", "1 to 16384; at least the snapshot's (default: its size)"},
        {"snapshot-id", CLI_ARG_ONE, "ID", "make the volume from this snapshot"},
        {"volume-type", CLI_ARG_ONE, "TYPE", "standard (default), gp2, gp3, io1, io2, st1, sc1"},
        {"availability-zone", CLI_ARG_ONE, "ZONE",
         "a zone of the region (REGIONa, REGIONb: one per host)"},
        CLI_OPT_TAG_SPECS("volume (volume)"),
        {"client-token", CLI_ARG_ONE, "TOKEN", "idempotency: a retry with it gets the same volume"},
        CLI_END_OPTS,
};

static const cli_opt describe_opts[] = {
        {"volume-ids", CLI_ARG_LIST, "ID...", "only these volumes"},
        {"filters", CLI_ARG_LIST, "Name=N,Values=V...",
         "volume-id, status, size, snapshot-id, volume-type, create-time, availability-zone, "
         "attachment.instance-id, attachment.device, attachment.status, "
         "attachment.delete-on-termination, tag:KEY, tag-key, tag-value"},
        CLI_END_OPTS,
};

static const cli_opt delete_opts[] = {
        {"volume-id", CLI_ARG_ONE, "ID", "the volume (not attached)"},
        CLI_END_OPTS,
};

static const cli_opt attach_opts[] = {
        {"volume-id", CLI_ARG_ONE, "ID", "an available volume"},
        {"instance-id", CLI_ARG_ONE, "ID", "a running (hot-plug) or stopped instance"},
        {"device", CLI_ARG_ONE, "NAME", "/dev/sdf, /dev/xvdf or /dev/vdb ..."},
        CLI_END_OPTS,
};

static const cli_opt detach_opts[] = {
        {"volume-id", CLI_ARG_ONE, "ID", "an attached volume (not a root volume)"},
        {"instance-id", CLI_ARG_ONE, "ID", "if given, must be the volume's instance"},
        {"device", CLI_ARG_ONE, "NAME", "if given, must be the volume's device"},
        {"force", CLI_ARG_NONE, NULL, "pull the disk even if the guest does not release it"},
        CLI_END_OPTS,
};

const cli_verb cli_volume_verbs[] = {
        {"create-volume", "volumes", "make a volume, empty or from a snapshot",
         "--size GIB | --snapshot-id ID [--size GIB] [--volume-type TYPE]", create_opts, 0,
         cmd_create_volume, "kiln create-volume --size 10 --volume-type gp3"},
        {"describe-volumes", "volumes", "list the caller's volumes in the region",
         "[--volume-ids ID...] [--filters ...]", describe_opts, 0, cmd_describe_volumes,
         "kiln describe-volumes --filters Name=status,Values=available"},
        {"delete-volume", "volumes", "delete a volume that is not attached", "--volume-id ID",
         delete_opts, 0, cmd_delete_volume, "kiln delete-volume --volume-id vol-0123456789abcdef0"},
        {"attach-volume", "volumes",
         "attach a volume to an instance: at once if it runs, at its next start if stopped",
         "--volume-id ID --instance-id ID --device NAME", attach_opts, 0, cmd_attach_volume,
         "kiln attach-volume --volume-id vol-0123456789abcdef0 --instance-id i-0123456789abcdef0 "
         "--device /dev/sdf"},
        {"detach-volume", "volumes", "detach a volume from its instance",
         "--volume-id ID [--instance-id ID] [--device NAME] [--force]", detach_opts, 0,
         cmd_detach_volume, "kiln detach-volume --volume-id vol-0123456789abcdef0"},
};
const size_t cli_n_volume_verbs = KILN_ARRAY_SIZE(cli_volume_verbs);
