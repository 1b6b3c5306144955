/* Upkeep and money: describe-regions, describe-availability-zones, describe-storage, fsck,
 * gc. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* describe-regions, or (zones) describe-availability-zones: one zone per host of the current
 * region. */
static int describe_regions(const cli_global *g, bool zones)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_region_info *r = NULL;
        size_t n = 0;
        cli_writer *w;
        int rc = 0;

        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        if (kiln_regions_describe(ctx, &r, &n, &err) < 0)
                return cli_fail(err);
        w = cli_writer_new(g);
        cli_w_object(w, NULL);
        kiln_shape_list_begin(cli_w_sink(w),
                              zones ? KILN_LIST_AVAILABILITY_ZONES : KILN_LIST_REGIONS);
        for (size_t i = 0; i < n; i++) {
                if (!zones)
                        kiln_shape_region(cli_w_sink(w), &r[i]);
                for (size_t h = 0;
                     zones && strcmp(r[i].name, kiln_ctx_region(ctx)) == 0 && h < r[i].n_hosts; h++)
                        kiln_shape_availability_zone(cli_w_sink(w), &r[i], &r[i].hosts[h]);
        }
        cli_w_end_array(w);
        cli_w_end_object(w);
        cli_writer_finish(w, g);
        kiln_region_infos_free(r, n);
        return CLI_EXIT_OK;
}

int cmd_describe_regions(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        (void) verb;
        (void) args;
        return describe_regions(g, false);
}

int cmd_describe_availability_zones(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        (void) verb;
        (void) args;
        return describe_regions(g, true);
}

static double cost(uint64_t bytes, double price)
{
        return (double) bytes / (1024.0 * 1024.0 * 1024.0) * price;
}

int cmd_describe_storage(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autoptr(kiln_storage_report) rep = NULL;
        json_t *snaps, *imgs, *vols, *accts, *o;
        int rc = 0;

        (void) verb;
        (void) args;
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        if (kiln_storage_describe(ctx, &rep, &err) < 0)
                return cli_fail(err);
        snaps = json_array();
        for (size_t i = 0; i < rep->n_snapshots; i++) {
                const kiln_storage_snapshot *s = &rep->snapshots[i];
                json_t *item =
                        json_pack("{s:s, s:s, s:I, s:I, s:f}", "SnapshotId", s->snapshot_id,
                                  "State", s->state, "VirtualSize", (json_int_t) s->virtual_size,
                                  "BytesUsed", (json_int_t) s->bytes, "MonthlyCost",
                                  cost(s->bytes, rep->price_per_gib_month));

                if (s->parent_id)
                        json_object_set_new(item, "ParentSnapshotId", json_string(s->parent_id));
                json_array_append_new(snaps, item);
        }
        imgs = json_array();
        for (size_t i = 0; i < rep->n_images; i++) {
                const kiln_storage_image *im = &rep->images[i];
                json_t *chain = json_array();

                for (size_t c = 0; c < im->n_chain; c++)
                        json_array_append_new(chain, json_string(im->chain[c]));
                json_array_append_new(imgs, json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:f, s:f}",
                                                      "ImageId", im->image_id, "Name", im->name,
                                                      "Snapshots", chain, "BytesUsed",
                                                      (json_int_t) im->bytes, "UniqueBytes",
                                                      (json_int_t) im->unique_bytes, "SharedBytes",
                                                      (json_int_t) im->shared_bytes, "MonthlyCost",
                                                      cost(im->bytes, rep->price_per_gib_month),
                                                      "HourlyPrice", im->hourly_price));
        }
        vols = json_array();
        for (size_t i = 0; i < rep->n_volumes; i++) {
                const kiln_storage_volume *v = &rep->volumes[i];

                json_array_append_new(vols, json_pack("{s:s, s:s, s:I, s:I, s:f}", "VolumeId",
                                                      v->volume_id, "State", v->state, "Size",
                                                      (json_int_t) v->size_gib, "BytesUsed",
                                                      (json_int_t) v->bytes, "MonthlyCost",
                                                      v->monthly_cost));
        }
        accts = json_array();
        for (size_t i = 0; i < rep->n_accounts; i++)
                json_array_append_new(accts,
                                      json_pack("{s:s, s:I, s:I, s:f}", "AccountId",
                                                rep->accounts[i].account_id, "BytesUsed",
                                                (json_int_t) rep->accounts[i].bytes, "VolumeGiB",
                                                (json_int_t) rep->accounts[i].volume_gib,
                                                "MonthlyCost", rep->accounts[i].monthly_cost));
        o = json_pack("{s:s, s:f, s:f, s:s, s:o, s:o, s:o, s:o}", "Region", rep->region,
                      "PricePerGiBMonth", rep->price_per_gib_month, "VolumePricePerGiBMonth",
                      rep->volume_price_per_gib_month, "Currency", "USD", "Snapshots", snaps,
                      "Images", imgs, "Volumes", vols, "Accounts", accts);
        cli_print(g, o);
        json_decref(o);
        return CLI_EXIT_OK;
}

int cmd_fsck(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_fsck_issue *issues = NULL;
        size_t n = 0, open = 0;
        bool repair = cli_arg_has(args, "repair");
        json_t *arr, *o;
        int rc = 0;

        (void) verb;
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        if (kiln_fsck(ctx, repair, &issues, &n, &err) < 0)
                return cli_fail(err);
        arr = json_array();
        for (size_t i = 0; i < n; i++) {
                json_array_append_new(
                        arr, json_pack("{s:s, s:s, s:s, s:s, s:b}", "Region", issues[i].region,
                                       "Kind", issues[i].kind, "Resource", issues[i].resource,
                                       "Detail", issues[i].detail, "Repaired", issues[i].repaired));
                if (!issues[i].repaired)
                        open++;
        }
        o = json_pack("{s:b, s:o}", "Consistent", open == 0, "Issues", arr);
        cli_print(g, o);
        json_decref(o);
        kiln_fsck_issues_free(issues, n);
        if (open) {
                if (!g->quiet)
                        fprintf(stderr, "kiln: fsck: %zu problem%s %s\n", open,
                                open == 1 ? "" : "s",
                                repair ? "could not be repaired"
                                       : "found; run 'kiln fsck --repair'");
                return cli_exit_code(KILN_E_STATE);
        }
        return CLI_EXIT_OK;
}

int cmd_gc(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_gc_result res = {0};
        kiln_stale_pool *stale = NULL;
        size_t n_stale = 0;
        json_t *o, *pools;
        int rc = 0;

        (void) verb;
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        if (kiln_gc(ctx, &res, &err) < 0 ||
            kiln_gc_stale_pools(ctx, cli_arg_has(args, "stale-pools"), &stale, &n_stale, &err) < 0)
                return cli_fail(err);
        pools = json_array();
        for (size_t i = 0; i < n_stale; i++)
                json_array_append_new(pools, json_pack("{s:s, s:s, s:s, s:b}", "Name",
                                                       stale[i].name, "Path", stale[i].path, "Uri",
                                                       stale[i].uri, "Removed", stale[i].removed));
        kiln_stale_pools_free(stale, n_stale);
        o = json_pack("{s:I, s:I, s:I, s:o}", "ImagesRemoved", (json_int_t) res.images,
                      "SnapshotsRemoved", (json_int_t) res.snapshots, "BytesFreed",
                      (json_int_t) res.bytes, "StalePools", pools);
        cli_print(g, o);
        json_decref(o);
        return CLI_EXIT_OK;
}

/* ---- command table rows ---- */

static const cli_opt gc_opts[] = {
        {"stale-pools", CLI_ARG_NONE, NULL,
         "also undefine kiln's pools whose kiln home was deleted (listed either way)"},
        CLI_END_OPTS,
};

static const cli_opt fsck_opts[] = {
        {"repair", CLI_ARG_NONE, NULL, "mend what is found"},
        CLI_END_OPTS,
};

const cli_verb cli_upkeep_verbs[] = {
        {"describe-storage", "money",
         "bytes really used per snapshot, image and account, and their monthly cost", "", NULL, 0,
         cmd_describe_storage, "kiln describe-storage --output table"},
        {"describe-regions", "upkeep", "list the configured regions", "", NULL, 0,
         cmd_describe_regions, "kiln describe-regions"},
        {"describe-availability-zones", "upkeep",
         "list the region's availability zones: one per host", "", NULL, 0,
         cmd_describe_availability_zones, "kiln --region rack describe-availability-zones"},
        {"fsck", "upkeep", "check registry and pools after a crash; --repair mends them",
         "[--repair]", fsck_opts, 0, cmd_fsck, "kiln fsck --repair"},
        {"gc", "upkeep",
         "remove what nothing references any more; list (--stale-pools: undefine) pools of "
         "deleted homes",
         "[--stale-pools]", gc_opts, 0, cmd_gc, "kiln gc --stale-pools"},
};
const size_t cli_n_upkeep_verbs = KILN_ARRAY_SIZE(cli_upkeep_verbs);
