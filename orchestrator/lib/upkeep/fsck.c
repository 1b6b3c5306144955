/* fsck and gc. Files are written before the records that make them visible, and records are
 * removed before their files, so a crash leaves only: files without records (orphans), records
 * of work a dead process left pending, and (if someone removed files by hand) records without
 * files. fsck finds all three in every region and, with repair, rolls the first two back and
 * marks the third failed; nothing registered and whole is ever removed. gc removes what nothing
 * references any more. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/upkeep.h>

#include "image/image-rules.h"
#include "instance/instance-private.h"
#include "registry/registry-instance.h"
#include "util/util.h"
#include "virt/virt-storage.h"

typedef struct fsck_state {
        kiln_ctx *ctx;
        const char *region;
        const kiln_region_info *info;
        const kiln_host_info *host; /* the region's host whose pool is checked */
        bool first;                 /* it is the region's first: the records are checked too */
        bool repair;
        kiln_fsck_issue *issues;
        size_t n_issues;
        registry_snapshot *snaps;
        size_t n_snaps;
        registry_volume *ivols; /* instance volumes */
        size_t n_ivols;
        char **seeds;
        char **seed_ids; /* the instances of seeds */
        size_t n_seeds;
        kiln_image *imgs;
        size_t n_imgs;
        char **vols;
        size_t n_vols;
        /* for a repair transaction */
        const char *target;
        const char *target_file; /* its volume in the pool, where that matters */
        char **purge;
        size_t n_purge;
} fsck_state;

static kiln_fsck_issue *issue_add(fsck_state *st, const char *kind, const char *resource,
                                  const char *detail)
{
        kiln_fsck_issue *i;

        st->issues = kiln_xrealloc(st->issues, (st->n_issues + 1) * sizeof(*st->issues));
        i = &st->issues[st->n_issues++];
        i->region = kiln_xstrdup(st->region);
        i->kind = kiln_xstrdup(kind);
        i->resource = kiln_xstrdup(resource);
        i->detail = kiln_xstrdup(detail);
        i->repaired = false;
        return i;
}

void kiln_fsck_issues_free(kiln_fsck_issue *issues, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(issues[i].region);
                free(issues[i].kind);
                free(issues[i].resource);
                free(issues[i].detail);
        }
        free(issues);
}

static void fsck_state_reset(fsck_state *st)
{
        registry_volumes_free(st->ivols, st->n_ivols);
        kiln_strv_free(st->seeds, st->n_seeds);
        kiln_strv_free(st->seed_ids, st->n_seeds);
        st->ivols = NULL;
        st->seeds = NULL;
        st->seed_ids = NULL;
        st->n_ivols = st->n_seeds = 0;
        registry_snapshots_free(st->snaps, st->n_snaps);
        kiln_images_free(st->imgs, st->n_imgs);
        st->snaps = NULL;
        st->imgs = NULL;
        st->n_snaps = st->n_imgs = 0;
}

static void purge_reset(fsck_state *st)
{
        for (size_t i = 0; i < st->n_purge; i++)
                free(st->purge[i]);
        free(st->purge);
        st->purge = NULL;
        st->n_purge = 0;
}

static void purge_add(fsck_state *st, const char *volume)
{
        st->purge = kiln_xrealloc(st->purge, (st->n_purge + 1) * sizeof(char *));
        st->purge[st->n_purge++] = kiln_xstrdup(volume);
}

static int fsck_load(registry *r, void *userdata, kiln_error **err)
{
        fsck_state *st = userdata;

        fsck_state_reset(st);
        if (registry_snapshot_list(r, st->region, &st->snaps, &st->n_snaps, err) < 0 ||
            registry_volume_list(r, st->region, &st->ivols, &st->n_ivols, err) < 0 ||
            registry_instance_seeds(r, st->region, &st->seeds, &st->seed_ids, &st->n_seeds, err) <
                    0)
                return -1;
        return registry_image_list(r, st->region, NULL, &st->imgs, &st->n_imgs, err);
}

static bool volume_present(fsck_state *st, const char *volume)
{
        for (size_t i = 0; i < st->n_vols; i++)
                if (strcmp(st->vols[i], volume) == 0)
                        return true;
        return false;
}

/* The fresh overlay a bake plans for the volume a pending snapshot freezes (see bake.c). */
static char *bake_fresh_name(const registry_snapshot *s)
{
        return s->s.volume_id ? kiln_xasprintf("%s.%s.qcow2", s->s.volume_id, s->s.snapshot_id)
                              : NULL;
}

static bool volume_recorded(fsck_state *st, const char *volume)
{
        for (size_t i = 0; i < st->n_snaps; i++) {
                kiln_autofree char *fresh = NULL;

                if (strcmp(st->snaps[i].volume, volume) == 0)
                        return true;
                if (strcmp(st->snaps[i].s.state, "pending") != 0)
                        continue;
                fresh = bake_fresh_name(&st->snaps[i]);
                if (fresh && strcmp(fresh, volume) == 0)
                        return true;
        }
        for (size_t i = 0; i < st->n_ivols; i++)
                if (strcmp(st->ivols[i].volume, volume) == 0)
                        return true;
        for (size_t i = 0; i < st->n_seeds; i++) {
                size_t n = strlen(st->seed_ids[i]);

                /* The seed, a UEFI instance's NVRAM volume, and on another host its console
                 * log (and virtlogd's rotated copies). */
                if (strcmp(st->seeds[i], volume) == 0 ||
                    (strncmp(volume, st->seed_ids[i], n) == 0 &&
                     (strcmp(volume + n, "-nvram.fd") == 0 ||
                      strncmp(volume + n, "-console.log", 12) == 0)))
                        return true;
        }
        return false;
}

static registry_snapshot *snap_find(fsck_state *st, const char *id)
{
        for (size_t i = 0; id && i < st->n_snaps; i++)
                if (strcmp(st->snaps[i].s.snapshot_id, id) == 0)
                        return &st->snaps[i];
        return NULL;
}

/* A bake that died after its fresh overlay was made (the domain may be writing to it
 * already): finish it. The volume moves to the fresh overlay, the snapshot completes, and its
 * images become available. */
/* Whether the checked host holds the snapshot's layer. */
static bool snap_on_host(fsck_state *st, const registry_snapshot *s)
{
        return st->info->n_hosts < 2 || image_layer_on_host(st->ctx, st->info, s->s.snapshot_id,
                                                            st->host->host_id, NULL) > 0;
}

/* Whether the checked host runs the instance (or holds the volume) with that HostId. */
static bool on_host(fsck_state *st, const char *host_id)
{
        return strcmp(host_id ? host_id : st->info->hosts[0].host_id, st->host->host_id) == 0;
}

static bool instance_on_host(fsck_state *st, const char *instance_id)
{
        kiln_instance inst = {0};
        bool on;

        if (st->info->n_hosts < 2)
                return true;
        if (registry_instance_get(st->ctx->reg, instance_id, &inst, NULL) < 0)
                return st->first;
        on = on_host(st, inst.host_id);
        kiln_instance_clear(&inst);
        return on;
}

static int roll_bake_forward(registry *r, const registry_snapshot *s, const char *fresh,
                             kiln_error **err)
{
        char **users = NULL;
        size_t n_users = 0;
        int rc = registry_volume_switch(r, s->s.volume_id, fresh, s->s.snapshot_id, err);

        if (rc == 0)
                rc = registry_snapshot_set_state(r, s->s.snapshot_id, "completed", err);
        if (rc == 0)
                rc = registry_snapshot_users(r, s->s.snapshot_id, &users, &n_users, err);
        for (size_t i = 0; rc == 0 && i < n_users; i++)
                rc = registry_image_set_state(r, users[i], "available", NULL, NULL, err);
        kiln_strv_free(users, n_users);
        return rc;
}

static bool volume_in_use(fsck_state *st, const char *volume)
{
        for (size_t i = 0; i < st->n_ivols; i++)
                if (strcmp(st->ivols[i].volume, volume) == 0)
                        return true;
        return false;
}

/* A pending snapshot whose writer is gone: its record, any pending image that maps it, and
 * (after the commit) its file go; a bake's frozen overlay stays while its volume uses it, and
 * a bake whose fresh overlay exists is finished instead. */
static int repair_stale_snapshot(registry *r, void *userdata, kiln_error **err)
{
        fsck_state *st = userdata;
        registry_snapshot s = {0};
        char **users = NULL;
        size_t n_users = 0;
        int rc = 0;

        purge_reset(st);
        if (registry_snapshot_get(r, st->target, &s, NULL) < 0)
                return 0;
        if (strcmp(s.s.state, "pending") == 0 && !rules_worker_alive(s.worker_pid)) {
                kiln_autofree char *fresh = bake_fresh_name(&s);

                if (fresh && volume_present(st, fresh)) {
                        rc = roll_bake_forward(r, &s, fresh, err);
                        registry_snapshot_clear(&s);
                        return rc;
                }
                rc = registry_snapshot_users(r, st->target, &users, &n_users, err);
                for (size_t i = 0; rc == 0 && i < n_users; i++) {
                        kiln_image img = {0};

                        rc = registry_image_get(r, users[i], &img, err);
                        if (rc == 0)
                                rc = strcmp(img.state, "pending") == 0
                                             ? registry_image_delete(r, users[i], err)
                                             : registry_image_set_state(
                                                       r, users[i], "failed",
                                                       "Server.InternalError",
                                                       "a snapshot was never completed", err);
                        kiln_image_clear(&img);
                }
                kiln_strv_free(users, n_users);
                if (rc == 0)
                        rc = registry_snapshot_delete(r, st->target, err);
                if (rc == 0 && !volume_in_use(st, s.volume))
                        purge_add(st, s.volume);
        }
        registry_snapshot_clear(&s);
        return rc;
}

static int repair_stale_image(registry *r, void *userdata, kiln_error **err)
{
        fsck_state *st = userdata;
        kiln_image img = {0};
        int rc = 0;

        if (registry_image_get(r, st->target, &img, NULL) < 0)
                return 0;
        if (strcmp(img.state, "pending") == 0)
                rc = registry_image_delete(r, st->target, err);
        kiln_image_clear(&img);
        return rc;
}

static int repair_missing_file(registry *r, void *userdata, kiln_error **err)
{
        fsck_state *st = userdata;
        kiln_autofree char *why = kiln_xasprintf("the data of snapshot %s is missing", st->target);
        char **users = NULL;
        size_t n_users = 0;
        int rc;

        if (registry_snapshot_set_state(r, st->target, "error", err) < 0 ||
            registry_snapshot_users(r, st->target, &users, &n_users, err) < 0)
                return -1;
        rc = 0;
        for (size_t i = 0; rc == 0 && i < n_users; i++)
                rc = registry_image_set_state(r, users[i], "failed", "Server.InternalError", why,
                                              err);
        kiln_strv_free(users, n_users);
        return rc;
}

static void check_snapshots(fsck_state *st, virStoragePoolPtr pool)
{
        for (size_t i = 0; i < st->n_snaps; i++) {
                registry_snapshot *s = &st->snaps[i];
                kiln_fsck_issue *is;

                if (strcmp(s->s.state, "pending") == 0) {
                        if (!st->first || rules_worker_alive(s->worker_pid))
                                continue; /* in progress */
                        is = issue_add(st, "stale-pending-snapshot", s->s.snapshot_id,
                                       "left pending by a process that is gone");
                        st->target = s->s.snapshot_id;
                        if (st->repair &&
                            registry_write(st->ctx->reg, repair_stale_snapshot, st, NULL) == 0) {
                                kiln_crash_point("fsck.repair-after-commit");
                                for (size_t k = 0; k < st->n_purge; k++)
                                        virt_volume_delete(pool, st->purge[k], NULL);
                                is->repaired = true;
                        }
                        purge_reset(st);
                        continue;
                }
                if ((strcmp(s->s.state, "completed") == 0 || strcmp(s->s.state, "deleted") == 0) &&
                    !volume_present(st, s->volume) && snap_on_host(st, s)) {
                        is = issue_add(st, "missing-file", s->s.snapshot_id,
                                       "its volume is not in the pool");
                        st->target = s->s.snapshot_id;
                        if (st->repair &&
                            registry_write(st->ctx->reg, repair_missing_file, st, NULL) == 0)
                                is->repaired = true;
                }
                if (st->first && s->s.parent_id && !snap_find(st, s->s.parent_id))
                        issue_add(st, "missing-parent", s->s.snapshot_id,
                                  "its parent snapshot has no record");
        }
}

static void check_images(fsck_state *st)
{
        for (size_t i = 0; i < st->n_imgs; i++) {
                kiln_image *img = &st->imgs[i];
                bool live_worker = false;
                kiln_fsck_issue *is;

                for (size_t m = 0; m < img->n_mappings; m++) {
                        registry_snapshot *s = snap_find(st, img->mappings[m].snapshot_id);

                        if (!img->mappings[m].snapshot_id)
                                continue; /* an empty volume */

                        if (s && strcmp(s->s.state, "pending") == 0 &&
                            rules_worker_alive(s->worker_pid))
                                live_worker = true;
                        if (!s && strcmp(img->state, "available") == 0)
                                issue_add(st, "dangling-mapping", img->image_id,
                                          "a mapped snapshot has no record");
                }
                if (strcmp(img->state, "pending") != 0 || live_worker)
                        continue;
                is = issue_add(st, "stale-pending-image", img->image_id,
                               "left pending by a process that is gone");
                st->target = img->image_id;
                if (st->repair && registry_write(st->ctx->reg, repair_stale_image, st, NULL) == 0)
                        is->repaired = true;
        }
}

static int repair_creating_volume(registry *r, void *userdata, kiln_error **err)
{
        fsck_state *st = userdata;

        if (volume_present(st, st->target_file))
                return registry_volume_set_state(r, st->target, "available", err);
        return registry_volume_delete(r, st->target, err);
}

/* A create-volume that a crash cut short leaves its record "creating": with its file the
 * volume is finished (available), without it the record goes. */
static void check_volumes(fsck_state *st)
{
        for (size_t i = 0; i < st->n_ivols; i++) {
                registry_volume *v = &st->ivols[i];
                kiln_fsck_issue *is;

                if (v->instance_id || strcmp(v->state, "creating") != 0 || !on_host(st, v->host_id))
                        continue;
                is = issue_add(st, "stale-creating-volume", v->volume_id,
                               volume_present(st, v->volume)
                                       ? "left creating by a process that is gone; its file is "
                                         "whole"
                                       : "left creating by a process that is gone, without its "
                                         "file");
                st->target = v->volume_id;
                st->target_file = v->volume;
                if (st->repair &&
                    registry_write(st->ctx->reg, repair_creating_volume, st, NULL) == 0)
                        is->repaired = true;
        }
}

static void check_orphans(fsck_state *st, virStoragePoolPtr pool)
{
        for (size_t i = 0; i < st->n_vols; i++) {
                const char *v = st->vols[i];
                kiln_fsck_issue *is;

                if ((strncmp(v, "snap-", 5) != 0 && strncmp(v, "vol-", 4) != 0 &&
                     strncmp(v, "i-", 2) != 0) ||
                    volume_recorded(st, v))
                        continue;
                is = issue_add(st, "orphan-file", v, "a volume no record refers to");
                if (st->repair && virt_volume_delete(pool, v, NULL) == 0)
                        is->repaired = true;
        }
}

/* A live instance's seed volume must be the one kiln recorded: a crash while it was replaced
 * (the private key taken out after the first boot, a new key after generalization), or a file
 * removed by hand, leaves it missing or stale, and the instance could not start or not become
 * ready. It is written again from the registry. */
static void check_seeds(fsck_state *st)
{
        for (size_t i = 0; i < st->n_seeds; i++) {
                kiln_autoptr(kiln_error) e = NULL;
                bool present = volume_present(st, st->seeds[i]), ok = true;
                kiln_fsck_issue *is;

                if (!instance_on_host(st, st->seed_ids[i]))
                        continue;

                if (present && instance_seed_check(st->ctx, st->seed_ids[i], false, &ok, &e) < 0) {
                        issue_add(st, "seed-error", st->seed_ids[i], e->msg);
                        continue;
                }
                if (present && ok)
                        continue;
                is = issue_add(st, present ? "stale-seed" : "missing-seed", st->seed_ids[i],
                               present ? "its seed volume is not the one kiln wrote"
                                       : "its seed volume is not in the pool");
                if (st->repair &&
                    instance_seed_check(st->ctx, st->seed_ids[i], true, &ok, NULL) == 0)
                        is->repaired = true;
        }
}

/* Pool files that group or others may read (a home made before kiln kept them private): on a
 * local daemon, where the files are ours to see. */
static void check_modes(fsck_state *st, virStoragePoolPtr pool)
{
        const kiln_region_info *info = config_region(st->ctx->cfg, st->region);

        if (!info || !virt_conn_is_local(virStoragePoolGetConnect(pool)))
                return;
        for (size_t i = 0; i < st->n_vols; i++) {
                kiln_autofree char *path =
                        kiln_xasprintf("%s/%s", st->host->pool_path, st->vols[i]);
                struct stat sb;
                kiln_fsck_issue *is;

                if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode) || !(sb.st_mode & 077))
                        continue;
                is = issue_add(st, "open-file", st->vols[i],
                               "group or others may read it: only kiln's user and QEMU may");
                if (st->repair && chmod(path, sb.st_mode & 07700) == 0)
                        is->repaired = true;
        }
}

static void fsck_host(fsck_state *st)
{
        kiln_autoptr(kiln_error) e = NULL;
        virStoragePoolPtr pool = ctx_host_pool(st->ctx, st->region, st->host->host_id, &e);

        if (!pool || virt_pool_list_volumes(pool, &st->vols, &st->n_vols, &e) < 0) {
                if (st->info->n_hosts > 1)
                        issue_add(st, "unreachable-host", st->host->host_id,
                                  e ? e->msg : "no pool");
                else
                        issue_add(st, "unreachable-region", st->region, e ? e->msg : "no pool");
                return;
        }
        if (registry_read(st->ctx->reg, fsck_load, st, &e) < 0) {
                issue_add(st, "registry-error", st->region, e->msg);
                return;
        }
        check_snapshots(st, pool);
        if (st->first)
                check_images(st);
        check_volumes(st);
        check_seeds(st);
        check_modes(st, pool);
        /* Orphans last, against a fresh read: repairs above removed records. */
        if (registry_read(st->ctx->reg, fsck_load, st, NULL) == 0)
                check_orphans(st, pool);
}

/* Each host of the region: its pool against the records of what it holds. */
static void fsck_region(fsck_state *st)
{
        st->info = config_region(st->ctx->cfg, st->region);
        for (size_t h = 0; h < st->info->n_hosts; h++) {
                st->host = &st->info->hosts[h];
                st->first = h == 0;
                fsck_host(st);
                fsck_state_reset(st);
                for (size_t k = 0; k < st->n_vols; k++)
                        free(st->vols[k]);
                free(st->vols);
                st->vols = NULL;
                st->n_vols = 0;
        }
}

/* Work directories (HOME/tmp/work.PID.XXXXXX) of processes that are gone. */
static void check_workdirs(fsck_state *st)
{
        kiln_autofree char *tmp = kiln_xasprintf("%s/tmp", st->ctx->home);
        DIR *d = opendir(tmp);
        struct dirent *de;

        if (!d)
                return;
        st->region = "-";
        while ((de = readdir(d))) {
                long pid;
                char *end;
                kiln_fsck_issue *is;

                if (strncmp(de->d_name, "work.", 5) != 0)
                        continue;
                pid = strtol(de->d_name + 5, &end, 10);
                if (*end != '.' || rules_worker_alive((pid_t) pid))
                        continue;
                is = issue_add(st, "stale-work-dir", de->d_name,
                               "temporary files of a process that is gone");
                if (st->repair) {
                        kiln_autofree char *path = kiln_xasprintf("%s/%s", tmp, de->d_name);

                        ctx_workdir_remove(path);
                        is->repaired = access(path, F_OK) != 0;
                }
        }
        closedir(d);
}

int kiln_fsck(kiln_ctx *ctx, bool repair, kiln_fsck_issue **ret, size_t *ret_n, kiln_error **err)
{
        fsck_state st = {0};

        (void) err;
        st.ctx = ctx;
        st.repair = repair;
        check_workdirs(&st);
        for (size_t i = 0; i < ctx->cfg->n_regions; i++) {
                st.region = ctx->cfg->regions[i].name;
                fsck_region(&st);
        }
        *ret = st.issues;
        *ret_n = st.n_issues;
        return 0;
}

/* ==== gc ==== */

typedef struct gc_state {
        const char *region;
        kiln_gc_result *res;
        char **purge;
        char **purge_hosts; /* the host of each (NULL: the region's first) */
        size_t n_purge;
} gc_state;

static int gc_txn(registry *r, void *userdata, kiln_error **err)
{
        gc_state *g = userdata;
        registry_snapshot *snaps = NULL;
        size_t n = 0;
        bool again = true;

        for (size_t i = 0; i < g->n_purge; i++) {
                free(g->purge[i]);
                free(g->purge_hosts[i]);
        }
        free(g->purge);
        free(g->purge_hosts);
        g->purge = g->purge_hosts = NULL;
        g->n_purge = 0;
        g->res->images = 0;
        g->res->snapshots = 0;
        if (registry_image_count_deregistered(r, g->region, &g->res->images, err) < 0 ||
            registry_image_purge_deregistered(r, g->region, err) < 0)
                return -1;
        while (again) {
                again = false;
                if (registry_snapshot_list(r, g->region, &snaps, &n, err) < 0)
                        return -1;
                for (size_t i = 0; i < n; i++) {
                        int children = 0;

                        if (strcmp(snaps[i].s.state, "deleted") != 0)
                                continue;
                        if (registry_snapshot_children(r, snaps[i].s.snapshot_id, &children, err) <
                            0) {
                                registry_snapshots_free(snaps, n);
                                return -1;
                        }
                        char **hosts = NULL;
                        size_t n_hosts = 0;

                        if (children > 0)
                                continue;
                        if (registry_snapshot_hosts(r, snaps[i].s.snapshot_id, &hosts, &n_hosts,
                                                    err) < 0 ||
                            registry_snapshot_delete(r, snaps[i].s.snapshot_id, err) < 0) {
                                kiln_strv_free(hosts, n_hosts);
                                registry_snapshots_free(snaps, n);
                                return -1;
                        }
                        /* Its file on each host that holds it. */
                        for (size_t h = 0; h < (n_hosts ? n_hosts : 1); h++) {
                                g->purge =
                                        kiln_xrealloc(g->purge, (g->n_purge + 1) * sizeof(char *));
                                g->purge_hosts = kiln_xrealloc(g->purge_hosts,
                                                               (g->n_purge + 1) * sizeof(char *));
                                g->purge[g->n_purge] = kiln_xstrdup(snaps[i].volume);
                                g->purge_hosts[g->n_purge++] =
                                        n_hosts ? kiln_xstrdup(hosts[h]) : NULL;
                        }
                        kiln_strv_free(hosts, n_hosts);
                        g->res->snapshots++;
                        again = true;
                }
                registry_snapshots_free(snaps, n);
                snaps = NULL;
                n = 0;
        }
        return 0;
}

int kiln_gc(kiln_ctx *ctx, kiln_gc_result *ret, kiln_error **err)
{
        kiln_gc_result total = {0};

        for (size_t i = 0; i < ctx->cfg->n_regions; i++) {
                kiln_gc_result res = {0};
                gc_state g = {ctx->cfg->regions[i].name, &res, NULL, NULL, 0};
                int rc;

                rc = registry_write(ctx->reg, gc_txn, &g, err);
                if (rc == 0)
                        kiln_crash_point("gc.after-commit");
                for (size_t k = 0; rc == 0 && k < g.n_purge; k++) {
                        virStoragePoolPtr pool =
                                ctx_host_pool(ctx, g.region, g.purge_hosts[k], err);
                        virt_volume_info info = {0};

                        if (!pool) {
                                rc = -1;
                                break;
                        }
                        if (virt_volume_get_info(pool, g.purge[k], &info, NULL) == 0)
                                total.bytes += info.allocation;
                        virt_volume_info_clear(&info);
                        if (virt_volume_delete(pool, g.purge[k], err) < 0)
                                rc = -1;
                }
                for (size_t k = 0; k < g.n_purge; k++) {
                        free(g.purge[k]);
                        free(g.purge_hosts[k]);
                }
                free(g.purge);
                free(g.purge_hosts);
                if (rc < 0)
                        return -1;
                total.images += res.images;
                total.snapshots += res.snapshots;
        }
        *ret = total;
        return 0;
}

/* ==== pools of deleted homes ==== */

static int stale_on(const char *uri, bool remove, kiln_stale_pool **list, size_t *n,
                    kiln_error **err)
{
        kiln_autoptr(virt_conn) conn = virt_connect(uri, err);
        char **names = NULL, **paths = NULL;
        size_t found = 0;
        int rc;

        if (!conn)
                return -1;
        rc = virt_pools_stale(conn, &names, &paths, &found, err);
        for (size_t i = 0; rc == 0 && i < found; i++) {
                kiln_stale_pool *p;

                *list = kiln_xrealloc(*list, (*n + 1) * sizeof(**list));
                p = &(*list)[(*n)++];
                p->uri = kiln_xstrdup(uri);
                p->name = kiln_steal(&names[i]);
                p->path = kiln_steal(&paths[i]);
                p->removed = false;
                if (remove) {
                        if (virt_pool_remove_definition(conn, p->name, err) < 0)
                                rc = -1;
                        else
                                p->removed = true;
                }
        }
        for (size_t i = 0; i < found; i++) {
                free(names[i]);
                free(paths[i]);
        }
        free(names);
        free(paths);
        return rc;
}

int kiln_gc_stale_pools(kiln_ctx *ctx, bool remove, kiln_stale_pool **ret, size_t *ret_n,
                        kiln_error **err)
{
        kiln_stale_pool *list = NULL;
        size_t n = 0;

        for (size_t i = 0; i < ctx->cfg->n_regions; i++) {
                const char *uri = ctx->cfg->regions[i].uri;
                bool seen = false;

                for (size_t k = 0; k < i; k++)
                        seen = seen || strcmp(ctx->cfg->regions[k].uri, uri) == 0;
                if (!seen && stale_on(uri, remove, &list, &n, err) < 0) {
                        kiln_stale_pools_free(list, n);
                        return -1;
                }
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

void kiln_stale_pools_free(kiln_stale_pool *p, size_t n)
{
        for (size_t i = 0; p && i < n; i++) {
                free(p[i].uri);
                free(p[i].name);
                free(p[i].path);
        }
        free(p);
}
