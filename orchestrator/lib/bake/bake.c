/* create-image: baking an instance into a new image.
 *
 * The bake copies no disk data. Each instance volume is a qcow2 overlay on the snapshot it
 * grew from; the bake freezes that overlay as a new snapshot (parent: that snapshot) and gives
 * the instance a fresh, empty overlay on top of it. Offline (the instance is shut off) the new
 * overlay is made through the storage API and the domain is redefined; live (--no-reboot) a
 * disk-only domain snapshot switches QEMU to it.
 *
 * Records and files, and what a crash leaves:
 *   1. reserve: the image (pending) and one pending snapshot per volume, naming the frozen
 *      overlay's file and the volume it came from. The planned fresh overlay is
 *      VOLUME_ID.SNAPSHOT_ID.qcow2.
 *   2. the fresh overlays are made (offline) or the domain switched to them (live);
 *   3. commit: the volumes point at the fresh overlays, the snapshots complete, the image
 *      becomes available;
 *   4. offline: the domain is redefined (starting an instance redefines it from the records
 *      anyway).
 * fsck --repair rolls a bake that died between 1 and 3 forward when the fresh overlay exists
 * (the domain may already be writing to it), back otherwise; the frozen file is never removed
 * while a volume still uses it. */
#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "guest/guest-private.h"
#include "image/image-rules.h"
#include "instance/instance-private.h"
#include "tag/tag-private.h"
#include "util/util.h"
#include "virt/virt-storage.h"

#define GIB (1024ULL * 1024 * 1024)

typedef struct bake_volume {
        kiln_instance_volume *iv;
        char *frozen;     /* the overlay file that becomes the snapshot */
        char *fresh;      /* the new overlay file */
        char *fresh_path; /* its path on the pool's host */
        char *frozen_path;
        registry_snapshot snap;
        kiln_block_device_mapping map;
} bake_volume;

typedef struct bake {
        kiln_ctx *ctx;
        const kiln_create_image_spec *spec; /* NULL: create-snapshot, no image */
        const kiln_tag_spec *tag_specs;
        size_t n_tag_specs;
        bool ungeneralized;
        char *now;
        const char *snap_volume; /* create-snapshot: the volume and the description */
        const char *snap_description;
        kiln_instance inst; /* create-snapshot of a detached volume: its one volume only */
        char *domain;
        char *seed;
        kiln_image img;
        bake_volume *vols;
        size_t n_vols;
        void *uefi; /* the instance's UEFI variables, for the image (NULL: none) */
        size_t uefi_len;
} bake;

static void bake_clear(bake *b)
{
        for (size_t i = 0; i < b->n_vols; i++) {
                bake_volume *v = &b->vols[i];

                free(v->frozen);
                free(v->fresh);
                free(v->fresh_path);
                free(v->frozen_path);
                free(v->snap.s.snapshot_id);
                free(v->snap.s.description);
                free(v->snap.layer_id);
        }
        free(b->vols);
        free(b->img.image_id);
        free(b->now);
        free(b->img.mappings);
        kiln_instance_clear(&b->inst);
        free(b->domain);
        free(b->seed);
        free(b->uefi);
}

/* The crash points of create-image and create-snapshot have the verb's name. */
static void bake_crash(const bake *b, const char *point)
{
        kiln_autofree char *name =
                kiln_xasprintf("%s.%s", b->spec ? "create-image" : "create-snapshot", point);

        kiln_crash_point(name);
}

static int load_instance(registry *r, void *userdata, kiln_error **err)
{
        bake *b = userdata;

        kiln_instance_clear(&b->inst);
        free(b->domain);
        free(b->seed);
        b->domain = b->seed = NULL;
        if (instance_load(b->ctx, r, b->spec->instance_id, &b->inst, err) < 0 ||
            registry_instance_private(r, b->inst.instance_id, &b->domain, &b->seed, NULL, err) < 0)
                return -1;
        return rules_check_name_free(r, b->ctx->region->name, b->ctx->account, b->spec->name, err);
}

static int reload(bake *b, kiln_error **err)
{
        return registry_read(b->ctx->reg, load_instance, b, err);
}

/* What TagSpecifications may name when an image is made. */
static const char *const bake_tag_types[] = {"image", "snapshot", NULL};

static int check_spec(const kiln_create_image_spec *spec, kiln_error **err)
{
        if (instance_check_id(spec->instance_id, err) < 0 ||
            kiln_image_name_check(spec->name, err) < 0 ||
            kiln_image_description_check(spec->description, err) < 0 ||
            tag_specs_check(spec->tag_specs, spec->n_tag_specs, bake_tag_types, err) < 0)
                return -1;
        if (spec->no_reboot && !spec->no_generalize)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterCombination",
                                      "--no-reboot snapshots the running instance as it is, so "
                                      "it cannot be generalized first: add --no-generalize, or "
                                      "leave out --no-reboot to let kiln shut it down cleanly");
        return 0;
}

/* ---- the bake ---- */

static int bake_reserve(registry *r, void *userdata, kiln_error **err)
{
        bake *b = userdata;

        if (rules_check_name_free(r, b->img.region, b->img.owner_id, b->img.name, err) < 0)
                return -1;
        for (size_t i = 0; i < b->n_vols; i++)
                if (registry_snapshot_insert(r, &b->vols[i].snap, err) < 0 ||
                    /* In a region of several hosts, the new layer is on the instance's. */
                    (b->inst.host_id && registry_snapshot_host_add(r, b->vols[i].snap.s.snapshot_id,
                                                                   b->inst.host_id, err) < 0))
                        return -1;
        bake_crash(b, "reserve-between");
        return b->img.image_id ? registry_image_insert(r, &b->img, err) : 0;
}

static int bake_commit(registry *r, void *userdata, kiln_error **err)
{
        bake *b = userdata;

        for (size_t i = 0; i < b->n_vols; i++) {
                bake_volume *v = &b->vols[i];

                if (registry_volume_switch(r, v->iv->volume_id, v->fresh, v->snap.s.snapshot_id,
                                           err) < 0 ||
                    registry_snapshot_set_state(r, v->snap.s.snapshot_id, "completed", err) < 0 ||
                    tag_specs_apply(r, b->tag_specs, b->n_tag_specs, "snapshot",
                                    v->snap.s.snapshot_id, err) < 0)
                        return -1;
        }
        if (!b->img.image_id)
                return 0;
        if (tag_specs_apply(r, b->tag_specs, b->n_tag_specs, "image", b->img.image_id, err) < 0)
                return -1;
        bake_crash(b, "commit-between");
        if (b->uefi &&
            registry_image_set_uefi_data(r, b->img.image_id, b->uefi, b->uefi_len, err) < 0)
                return -1;
        return registry_image_set_state(r, b->img.image_id, "available", NULL, NULL, err);
}

static int bake_forget(registry *r, void *userdata, kiln_error **err)
{
        bake *b = userdata;

        if (b->img.image_id && registry_image_delete(r, b->img.image_id, err) < 0)
                return -1;
        for (size_t i = 0; i < b->n_vols; i++)
                if (registry_snapshot_delete(r, b->vols[i].snap.s.snapshot_id, err) < 0)
                        return -1;
        return 0;
}

/* The create-image mapping for device, or NULL. */
static const struct kiln_mapping_spec *bake_mapping(const kiln_create_image_spec *spec,
                                                    const char *device)
{
        for (size_t i = 0; i < spec->n_mappings; i++)
                if (strcmp(spec->mappings[i].device_name, device) == 0)
                        return &spec->mappings[i];
        return NULL;
}

/* create-image's BlockDeviceMappings name the instance's volumes: NoDevice leaves one out (not
 * the root), VolumeSize may only grow one; a snapshot or a device the instance does not have
 * is refused. */
static int bake_mappings_check(const bake *b, kiln_error **err)
{
        const kiln_create_image_spec *spec = b->spec;

        for (size_t i = 0; i < spec->n_mappings; i++) {
                const struct kiln_mapping_spec *q = &spec->mappings[i];
                const kiln_instance_volume *iv = NULL;

                for (size_t k = 0; k < b->inst.n_volumes; k++)
                        if (q->device_name &&
                            strcmp(b->inst.volumes[k].device_name, q->device_name) == 0)
                                iv = &b->inst.volumes[k];
                for (size_t k = 0; k < i; k++)
                        if (q->device_name &&
                            strcmp(spec->mappings[k].device_name, q->device_name) == 0)
                                iv = NULL;
                if (!iv)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidBlockDeviceMapping",
                                              "%s is not a device of %s (or is named twice): "
                                              "create-image maps the instance's volumes",
                                              q->device_name ? q->device_name : "",
                                              b->inst.instance_id);
                if (q->snapshot_id)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidBlockDeviceMapping",
                                              "%s: create-image takes no SnapshotId, it makes one",
                                              q->device_name);
                if (q->no_device && strcmp(q->device_name, b->inst.root_device_name) == 0)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidBlockDeviceMapping",
                                              "The root device %s cannot be left out",
                                              q->device_name);
                if (q->volume_size && q->volume_size < iv->size)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidBlockDeviceMapping",
                                              "Volume of size %" PRId64 "GB for %s is smaller "
                                              "than the volume's %" PRId64 "GB",
                                              q->volume_size, q->device_name, iv->size);
        }
        return 0;
}

/* The pending snapshot that freezes iv (its description is taken), and the paths of the
 * files. */
static int plan_volume(bake *b, virStoragePoolPtr pool, kiln_instance_volume *iv, char *description,
                       char *now, kiln_error **err)
{
        bake_volume *v = &b->vols[b->n_vols++];
        virt_volume_info info = {0};
        kiln_autofree char *dir = NULL;

        v->iv = iv;
        v->snap.s.description = description;
        if (virt_volume_get_info(pool, iv->file, &info, err) < 0)
                return -1;
        v->frozen = kiln_xstrdup(iv->file);
        v->frozen_path = kiln_xstrdup(info.path);
        v->snap.s.snapshot_id = kiln_id_new("snap");
        v->fresh = kiln_xasprintf("%s.%s.qcow2", iv->volume_id, v->snap.s.snapshot_id);
        dir = kiln_xstrdup(info.path);
        v->fresh_path = kiln_xasprintf("%s/%s", dirname(dir), v->fresh);
        v->snap.s.region = (char *) b->ctx->region->name;
        v->snap.s.owner_id = b->ctx->account;
        v->snap.s.parent_id = iv->snapshot_id && iv->snapshot_id[0] ? iv->snapshot_id : NULL;
        v->snap.s.state = (char *) "pending";
        v->snap.s.start_time = now;
        v->snap.s.volume_id = iv->volume_id;
        v->snap.s.volume_size = (int64_t) ((info.capacity + GIB - 1) / GIB);
        v->snap.volume = v->frozen;
        v->snap.layer_id = kiln_id_new("layer");
        v->snap.virtual_size = (int64_t) info.capacity;
        v->snap.worker_pid = getpid();
        v->snap.ungeneralized = b->ungeneralized;
        virt_volume_info_clear(&info);
        return 0;
}

/* The records of the new image and its snapshots, and the paths of the files. */
static int bake_plan(bake *b, virStoragePoolPtr pool, kiln_error **err)
{
        const kiln_instance *inst = &b->inst;

        b->now = kiln_time_now_iso();
        b->img.image_id = kiln_id_new("ami");
        b->img.region = (char *) b->ctx->region->name;
        b->img.owner_id = b->ctx->account;
        b->img.name = (char *) b->spec->name;
        b->img.description = (char *) (b->spec->description ? b->spec->description : "");
        b->img.state = (char *) "pending";
        b->img.architecture = inst->architecture;
        b->img.platform = inst->platform;
        b->img.default_user = inst->default_user;
        b->img.boot_mode = inst->boot_mode;
        b->img.tpm_support = inst->tpm_support;
        b->img.secure_boot = inst->secure_boot;
        b->img.no_ena = inst->no_ena;
        b->img.rtc = inst->rtc;
        b->img.root_device_name = inst->root_device_name;
        b->img.creation_date = b->now;
        b->img.source_instance_id = inst->instance_id;
        /* An image that was not generalized may hold the instance's keys: it and its
         * snapshots are marked, and never made public. */
        b->img.ungeneralized = b->ungeneralized = b->spec->no_generalize;
        b->vols = kiln_xcalloc(inst->n_volumes + 1, sizeof(*b->vols));
        b->img.mappings = kiln_xcalloc(inst->n_volumes + 1, sizeof(*b->img.mappings));
        for (size_t i = 0; i < inst->n_volumes; i++) {
                const struct kiln_mapping_spec *q =
                        bake_mapping(b->spec, inst->volumes[i].device_name);
                bake_volume *v;

                if (q && q->no_device)
                        continue;
                if (plan_volume(b, pool, &inst->volumes[i],
                                kiln_xasprintf("Created by CreateImage(%s) for %s",
                                               inst->instance_id, b->img.image_id),
                                b->now, err) < 0)
                        return -1;
                v = &b->vols[b->n_vols - 1];
                v->map.device_name = v->iv->device_name;
                v->map.snapshot_id = v->snap.s.snapshot_id;
                v->map.volume_size = q && q->volume_size > v->snap.s.volume_size
                                             ? q->volume_size
                                             : v->snap.s.volume_size;
                if (q && q->delete_on_termination >= 0)
                        v->map.delete_on_termination = q->delete_on_termination != 0;
                if (!q || q->delete_on_termination < 0)
                        v->map.delete_on_termination = v->iv->delete_on_termination;
                v->map.volume_type = (char *) "standard";
                b->img.mappings[b->img.n_mappings++] = v->map;
        }
        return 0;
}

/* create-snapshot: the one volume, described as the caller asked. */
static int snapshot_plan(bake *b, virStoragePoolPtr pool, kiln_error **err)
{
        kiln_instance_volume *iv = b->inst.volumes;

        for (size_t i = 0; i < b->inst.n_volumes; i++)
                if (strcmp(b->inst.volumes[i].volume_id, b->snap_volume) == 0)
                        iv = &b->inst.volumes[i];
        b->now = kiln_time_now_iso();
        b->vols = kiln_xcalloc(1, sizeof(*b->vols));
        return plan_volume(b, pool, iv, kiln_xstrdup(b->snap_description), b->now, err);
}

/* Offline: a fresh overlay per volume through the storage API. */
static int fresh_overlays(bake *b, virStoragePoolPtr pool, kiln_error **err)
{
        for (size_t i = 0; i < b->n_vols; i++) {
                bake_volume *v = &b->vols[i];
                kiln_autofree char *path = NULL;

                if (virt_volume_create_overlay(pool, v->fresh, v->frozen_path,
                                               (unsigned long long) v->snap.virtual_size, &path,
                                               err) < 0)
                        return -1;
                bake_crash(b, "after-overlay");
        }
        return 0;
}

/* Live: one atomic disk-only snapshot switches every volume baked; the instance's other disks
 * (the seed, volumes left out of the image) are left alone. Targets are the live domain's:
 * hot-plugged volumes need not follow the order of the definition. */
static int live_snapshot(bake *b, virStoragePoolPtr pool, kiln_error **err)
{
        virConnectPtr conn = instance_conn(b->ctx, &b->inst, err);
        const char *pname = b->ctx->region->pool;
        kiln_autoptr(virt_dom) dom = NULL;
        virt_snapshot_disk *disks = NULL;
        char **targets = NULL, **skip = NULL;
        size_t n_skip = 0;
        int rc = 0;

        if (!conn || !(dom = virt_domain_lookup(conn, b->domain, err)))
                return -1;
        disks = kiln_xcalloc(b->n_vols + 1, sizeof(*disks));
        targets = kiln_xcalloc(b->n_vols + 1, sizeof(*targets));
        skip = kiln_xcalloc(b->inst.n_volumes + 2, sizeof(*skip));
        skip[n_skip++] = kiln_xstrdup("vdz");
        for (size_t i = 0; rc == 0 && i < b->n_vols; i++) {
                targets[i] = virt_domain_disk_target(dom, pname, b->vols[i].iv->file);
                disks[i].target = targets[i];
                disks[i].new_path = b->vols[i].fresh_path;
                if (!targets[i])
                        rc = kiln_error_set(err, KILN_E_STATE, NULL,
                                            "volume %s is not a disk of the running domain '%s'",
                                            b->vols[i].iv->volume_id, b->domain);
        }
        for (size_t i = 0; rc == 0 && i < b->inst.n_volumes; i++) {
                bool baked = false;

                for (size_t k = 0; k < b->n_vols; k++)
                        baked = baked || b->vols[k].iv == &b->inst.volumes[i];
                if (!baked)
                        skip[n_skip] = virt_domain_disk_target(dom, pname, b->inst.volumes[i].file);
                if (!baked && skip[n_skip])
                        n_skip++;
        }
        if (rc == 0)
                rc = virt_domain_snapshot_disks(dom, disks, b->n_vols, (const char *const *) skip,
                                                n_skip, err);
        kiln_strv_free(targets, b->n_vols);
        kiln_strv_free(skip, n_skip);
        free(disks);
        if (rc == 0) {
                bake_crash(b, "after-overlay");
                rc = virt_pool_refresh(pool, err);
        }
        return rc;
}

/* The frozen files are never written again: make them read-only where this host can reach
 * them (a local pool); libvirt's storage API has no call for it. */
static void freeze_files(const bake *b)
{
        for (size_t i = 0; i < b->n_vols; i++)
                if (chmod(b->vols[i].frozen_path, 0400) < 0)
                        kiln_log(KILN_LOG_DEBUG, "cannot make '%s' read-only: %s",
                                 b->vols[i].frozen_path, strerror(errno));
}

/* The image takes the instance's UEFI variables (EC2's UefiData): boot entries and variables
 * set in the guest survive into its instances. Its TPM's state stays behind. A UEFI instance
 * that never started has none yet (libvirt makes them at the first start). */
static int capture_nvram(bake *b, virStoragePoolPtr pool, kiln_error **err)
{
        kiln_autofree char *dir = NULL, *file = NULL, *data = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        size_t len = 0;
        int rc;

        if (!b->spec || !b->inst.nvram_volume)
                return 0;
        /* libvirt wrote the file beside the pool's own volumes: the pool learns of it. */
        if (virt_pool_refresh(pool, err) < 0)
                return -1;
        dir = ctx_workdir(b->ctx, err);
        if (!dir)
                return -1;
        file = kiln_xasprintf("%s/nvram.fd", dir);
        rc = virt_volume_download(pool, b->inst.nvram_volume, file, NULL, NULL, &e);
        if (rc < 0 && e->code == KILN_E_NOT_FOUND)
                rc = 0;
        else if (rc < 0)
                *err = kiln_steal(&e);
        else if ((rc = kiln_file_read(file, 64u << 20, &data, &len, err)) == 0) {
                b->uefi = kiln_steal(&data);
                b->uefi_len = len;
        }
        ctx_workdir_remove(dir);
        return rc;
}

static int do_bake(bake *b, bool live, uint64_t *ret_ms, kiln_error **err)
{
        /* The instance's host (a volume's snapshot: the region's first). */
        virStoragePoolPtr pool = instance_pool(b->ctx, &b->inst, err);
        uint64_t t0 = kiln_now_ms();
        int rc;

        if (!pool || (b->spec ? bake_plan(b, pool, err) : snapshot_plan(b, pool, err)) < 0 ||
            capture_nvram(b, pool, err) < 0)
                return -1;
        if (registry_write(b->ctx->reg, bake_reserve, b, err) < 0)
                return -1;
        bake_crash(b, "after-reserve");
        rc = live ? live_snapshot(b, pool, err) : fresh_overlays(b, pool, err);
        if (rc == 0)
                rc = registry_write(b->ctx->reg, bake_commit, b, err);
        if (rc < 0) {
                /* Nothing switched (a live snapshot is atomic): drop what was made. */
                for (size_t i = 0; i < b->n_vols; i++)
                        if (!live)
                                virt_volume_delete(pool, b->vols[i].fresh, NULL);
                registry_write(b->ctx->reg, bake_forget, b, NULL);
                return -1;
        }
        bake_crash(b, "after-commit");
        for (size_t i = 0; i < b->n_vols; i++) {
                free(b->vols[i].iv->file);
                b->vols[i].iv->file = kiln_xstrdup(b->vols[i].fresh);
        }
        freeze_files(b);
        if (!live && b->domain && instance_define(b->ctx, &b->inst, b->domain, b->seed, err) < 0)
                return -1;
        *ret_ms = kiln_now_ms() - t0;
        return 0;
}

int kiln_image_create(kiln_ctx *ctx, const kiln_create_image_spec *spec, kiln_bake_result *ret,
                      kiln_error **err)
{
        bake b = {.ctx = ctx, .spec = spec};
        kiln_autoptr(kiln_error) restart_err = NULL;
        const char *id = spec->instance_id;
        bool was_running, running, live = false, ran = false;
        uint64_t ms = 0;
        int rc = -1;

        b.tag_specs = spec->tag_specs;
        b.n_tag_specs = spec->n_tag_specs;
        if (check_spec(spec, err) < 0 || reload(&b, err) < 0 || bake_mappings_check(&b, err) < 0)
                goto out;
        was_running = running = strcmp(b.inst.state, "running") == 0;
        if (!running && strcmp(b.inst.state, "stopped") != 0) {
                kiln_error_set(err, KILN_E_STATE, "InvalidParameterValue",
                               "Invalid value '%s' for instanceId. Instance is not in state "
                               "'running' or 'stopping' or 'stopped'",
                               id);
                goto out;
        }
        /* A dry run stops before the guest is started, generalized or shut down. */
        if (registry_dry_run_stop(ctx->reg, err) < 0)
                goto out;
        if (!spec->no_generalize) {
                if (!running) {
                        kiln_notify(spec->notify, spec->userdata, KILN_LOG_INFO,
                                    "starting %s: generalizing needs the guest running", id);
                        if (kiln_instances_start(ctx, &id, 1, NULL, NULL, err) < 0 ||
                            reload(&b, err) < 0)
                                goto out;
                        running = true;
                }
                rc = guest_generalize(ctx, &b.inst, spec->notify, spec->userdata, &ran, err);
                /* The guest's host keys are gone (also when the check then failed): its next
                 * boot takes a new one, pinned. */
                if (ran && instance_rekey(ctx, id, err) < 0)
                        rc = -1;
                if (rc < 0) {
                        if (!was_running)
                                kiln_instances_stop(ctx, &id, 1, false, 0, NULL, NULL, NULL);
                        goto out;
                }
                rc = -1;
        }
        if (running && spec->no_reboot) {
                kiln_notify(
                        spec->notify, spec->userdata, KILN_LOG_WARN,
                        "--no-reboot: the disks of running %s are snapshotted live; the image is "
                        "only crash-consistent (what the guest has not flushed is not in it)",
                        id);
                live = true;
        } else if (running) {
                kiln_notify(spec->notify, spec->userdata, KILN_LOG_INFO, "shutting %s down cleanly",
                            id);
                if (kiln_instances_stop(ctx, &id, 1, false, 0, NULL, NULL, err) < 0)
                        goto out;
        }
        if (reload(&b, err) < 0)
                goto out;
        kiln_notify(spec->notify, spec->userdata, KILN_LOG_INFO, "baking %s into a new image", id);
        if (do_bake(&b, live, &ms, err) < 0)
                goto out;
        kiln_notify(spec->notify, spec->userdata, KILN_LOG_INFO,
                    "%s is available (bake: %" PRIu64 " ms)", b.img.image_id, ms);
        rc = 0;
        /* EC2's default: an instance that was running runs again. That it cannot is not a
         * failed bake: the image is there, and the result says what went wrong. */
        if (was_running && !live && !spec->leave_stopped) {
                kiln_notify(spec->notify, spec->userdata, KILN_LOG_INFO, "starting %s again", id);
                kiln_instances_start(ctx, &id, 1, NULL, NULL, &restart_err);
        }
        ret->image_id = kiln_steal(&b.img.image_id);
        ret->bake_ms = ms;
        ret->restart_error = kiln_steal(&restart_err);
out:
        bake_clear(&b);
        return rc;
}

/* ---- create-snapshot ---- */

/* What TagSpecifications may name when a snapshot is made. */
static const char *const snapshot_tag_types[] = {"snapshot", NULL};

/* The volume (the caller's, in the region, available or in use) and, when it is attached,
 * its instance with its domain. A detached volume is the one volume of an empty instance. */
static int load_volume(registry *r, void *userdata, kiln_error **err)
{
        bake *b = userdata;
        registry_volume v = {0};
        kiln_error *e = NULL;
        int rc = 0;

        kiln_instance_clear(&b->inst);
        free(b->domain);
        free(b->seed);
        b->domain = b->seed = NULL;
        if (registry_volume_get(r, b->snap_volume, &v, &e) < 0) {
                if (e->code != KILN_E_NOT_FOUND) {
                        *err = e;
                        return -1;
                }
                kiln_error_free(e);
                v.state = NULL;
        }
        if (!v.state || strcmp(v.region, b->ctx->region->name) != 0 ||
            strcmp(v.owner_id, b->ctx->account) != 0 || strcmp(v.state, "deleted") == 0)
                rc = kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidVolume.NotFound",
                                    "The volume '%s' does not exist.", b->snap_volume);
        else if (strcmp(v.state, "available") != 0 && strcmp(v.state, "in-use") != 0)
                rc = kiln_error_set(err, KILN_E_STATE, "IncorrectState",
                                    "The volume '%s' is '%s'; a snapshot is taken of an "
                                    "available or in-use volume",
                                    b->snap_volume, v.state);
        else if (v.instance_id)
                rc = instance_load(b->ctx, r, v.instance_id, &b->inst, err) < 0 ||
                                     registry_instance_private(r, v.instance_id, &b->domain,
                                                               &b->seed, NULL, err) < 0
                             ? -1
                             : 0;
        else {
                kiln_instance_volume *iv = kiln_xcalloc(1, sizeof(*iv));

                iv->volume_id = kiln_steal(&v.volume_id);
                iv->snapshot_id = kiln_steal(&v.snapshot_id);
                iv->file = kiln_steal(&v.volume);
                iv->size = v.size;
                b->inst.volumes = iv;
                b->inst.n_volumes = 1;
                b->inst.host_id = kiln_steal(&v.host_id); /* where its file is */
        }
        /* A root volume holds the instance's keys and identity: its snapshots are never made
         * public, as an image that was not generalized. */
        b->ungeneralized = rc == 0 && v.instance_id && b->inst.root_device_name && v.device_name &&
                           strcmp(v.device_name, b->inst.root_device_name) == 0;
        registry_volume_clear(&v);
        return rc;
}

int kiln_snapshot_create(kiln_ctx *ctx, const kiln_snapshot_spec *spec, kiln_snapshot *ret,
                         kiln_error **err)
{
        bake b = {.ctx = ctx, .tag_specs = spec->tag_specs, .n_tag_specs = spec->n_tag_specs};
        kiln_snapshot_query q = {0};
        kiln_snapshot *found = NULL;
        size_t n_found = 0;
        const char *id;
        bool live = false;
        uint64_t ms = 0;
        int rc = -1;

        b.snap_volume = spec->volume_id;
        b.snap_description = spec->description ? spec->description : "";
        if (!kiln_id_valid("vol", spec->volume_id))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidVolumeID.Malformed",
                                      "Invalid id: \"%s\" (expecting \"vol-...\")",
                                      spec->volume_id ? spec->volume_id : "");
        if (kiln_image_description_check(spec->description, err) < 0 ||
            tag_specs_check(spec->tag_specs, spec->n_tag_specs, snapshot_tag_types, err) < 0 ||
            registry_read(ctx->reg, load_volume, &b, err) < 0)
                goto out;
        if (b.domain) {
                live = strcmp(b.inst.state, "running") == 0;
                if (!live && strcmp(b.inst.state, "stopped") != 0) {
                        kiln_error_set(err, KILN_E_STATE, "IncorrectState",
                                       "The volume '%s' is attached to %s, which is '%s': take "
                                       "the snapshot when it is running or stopped",
                                       spec->volume_id, b.inst.instance_id, b.inst.state);
                        goto out;
                }
        }
        if (live)
                kiln_notify(spec->notify, spec->userdata, KILN_LOG_WARN,
                            "%s is in use by running %s: the snapshot is only crash-consistent "
                            "(what the guest has not flushed is not in it)",
                            spec->volume_id, b.inst.instance_id);
        if (do_bake(&b, live, &ms, err) < 0)
                goto out;
        id = b.vols[0].snap.s.snapshot_id;
        q.snapshot_ids = &id;
        q.n_snapshot_ids = 1;
        if (kiln_snapshots_describe(ctx, &q, &found, &n_found, err) < 0)
                goto out;
        if (n_found == 1) {
                *ret = found[0];
                memset(&found[0], 0, sizeof(found[0]));
                rc = 0;
        } else {
                kiln_error_set(err, KILN_E_INTERNAL, NULL, "snapshot %s vanished", id);
        }
        kiln_snapshots_free(found, n_found);
out:
        bake_clear(&b);
        return rc;
}
