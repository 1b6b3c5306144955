/* copy-image: the source image's snapshot chains are brought into the current region's pool
 * layer by layer through libvirt storage streams (download from the source pool, rewrite the
 * qcow2 backing name to the destination parent, upload), under new snapshot IDs and a new
 * image ID. A layer the destination already holds (same content identity, from an earlier
 * copy) is not sent again; if a mapped snapshot's own layer is already there, the new snapshot
 * is an empty overlay on it. Launch permissions are not copied. */
#include <string.h>
#include <sys/time.h>

#include "disk/disk.h"
#include "image/image-private.h"
#include "image/image-rules.h"
#include "util/util.h"

typedef struct copy_layer {
        registry_snapshot src; /* the source snapshot */
        char *dst_id;          /* snapshot in the destination (existing or new) */
        char *dst_parent_id;   /* its parent there */
        char *dst_volume;      /* its volume name there */
        bool transfer;         /* the layer's data is sent */
        bool overlay;          /* a new empty overlay on an existing layer */
        bool existing;         /* reused as it is */
} copy_layer;

typedef struct copy_plan {
        kiln_ctx *ctx;
        const kiln_copy_spec *spec;
        kiln_image src;
        kiln_image dst;
        copy_layer *layers;
        size_t n_layers;
        char *now;
        char *request;  /* the digest of the request, for its ClientToken */
        char *existing; /* the image an earlier request with the token made */
} copy_plan;

/* Back to an empty plan (a transaction retried after a busy registry starts again). */
static void copy_plan_reset(copy_plan *p)
{
        for (size_t i = 0; i < p->n_layers; i++) {
                registry_snapshot_clear(&p->layers[i].src);
                free(p->layers[i].dst_id);
                free(p->layers[i].dst_parent_id);
                free(p->layers[i].dst_volume);
        }
        free(p->layers);
        kiln_image_clear(&p->src);
        for (size_t i = 0; i < p->dst.n_mappings; i++)
                free(p->dst.mappings[i].snapshot_id);
        free(p->dst.mappings);
        free(p->dst.image_id);
        free(p->dst.description);
        memset(&p->src, 0, sizeof(p->src));
        memset(&p->dst, 0, sizeof(p->dst));
        p->layers = NULL;
        p->n_layers = 0;
        free(p->existing);
        p->existing = NULL;
}

static void copy_plan_clear(copy_plan *p)
{
        copy_plan_reset(p);
        free(p->now);
        free(p->request);
}

static copy_layer *plan_find_src(copy_plan *p, const char *src_id)
{
        for (size_t i = 0; i < p->n_layers; i++)
                if (strcmp(p->layers[i].src.s.snapshot_id, src_id) == 0)
                        return &p->layers[i];
        return NULL;
}

/* Adds the chain of src_id, root first, to the plan; returns the destination ID of src_id. */
static const char *plan_chain(copy_plan *p, registry *r, const char *src_id, bool mapped,
                              kiln_error **err)
{
        registry_snapshot s = {0};
        const char *parent_dst = NULL;
        copy_layer *l = plan_find_src(p, src_id);
        registry_snapshot have = {0};
        kiln_autoptr(kiln_error) e = NULL;

        if (l && !mapped)
                return l->dst_id;
        if (registry_snapshot_get(r, src_id, &s, err) < 0)
                return NULL;
        if (s.s.parent_id) {
                parent_dst = plan_chain(p, r, s.s.parent_id, false, err);
                if (!parent_dst) {
                        registry_snapshot_clear(&s);
                        return NULL;
                }
        }
        p->layers = kiln_xrealloc(p->layers, (p->n_layers + 1) * sizeof(*p->layers));
        l = &p->layers[p->n_layers++];
        memset(l, 0, sizeof(*l));
        l->src = s;
        if (registry_snapshot_find_layer(r, p->ctx->region->name, s.layer_id, &have, &e) == 0) {
                if (mapped) {
                        /* The data is there; the image still gets a snapshot of its own. */
                        l->overlay = true;
                        l->dst_id = kiln_id_new("snap");
                        l->dst_parent_id = kiln_xstrdup(have.s.snapshot_id);
                } else {
                        l->existing = true;
                        l->dst_id = kiln_xstrdup(have.s.snapshot_id);
                        l->dst_volume = kiln_xstrdup(have.volume);
                }
                registry_snapshot_clear(&have);
        } else if (e->code != KILN_E_NOT_FOUND) {
                *err = kiln_steal(&e);
                return NULL;
        } else {
                l->transfer = true;
                l->dst_id = kiln_id_new("snap");
                l->dst_parent_id = kiln_xstrdup(parent_dst);
        }
        if (!l->dst_volume)
                l->dst_volume = kiln_xasprintf("%s.qcow2", l->dst_id);
        return l->dst_id;
}

/* The image's UEFI variables go with it (both regions' registries are this one). */
static int copy_uefi_data(registry *r, const copy_plan *p, kiln_error **err)
{
        void *data = NULL;
        size_t len = 0;
        int rc;

        if (!p->src.has_uefi_data)
                return 0;
        rc = registry_image_uefi_data(r, p->src.image_id, &data, &len, err);
        if (rc == 0)
                rc = registry_image_set_uefi_data(r, p->dst.image_id, data, len, err);
        free(data);
        return rc;
}

static int copy_reserve(registry *r, void *userdata, kiln_error **err)
{
        copy_plan *p = userdata;

        copy_plan_reset(p);
        if (ctx_token_check(p->ctx, r, p->spec->client_token, "CopyImage", p->request, &p->existing,
                            err) < 0)
                return -1;
        if (p->existing)
                return 0; /* made by an earlier request with the token */
        if (rules_image_visible_in(p->ctx, r, p->spec->source_region, p->spec->source_image_id,
                                   &p->src, err) < 0)
                return -1;
        if (strcmp(p->src.state, "available") != 0)
                return kiln_error_set(err, KILN_E_STATE, "InvalidAMIID.Unavailable",
                                      "AMI '%s' is %s, and cannot be copied", p->src.image_id,
                                      p->src.state);
        if (strcmp(p->src.owner_id, p->ctx->account) != 0)
                for (size_t i = 0; i < p->src.n_mappings; i++) {
                        bool readable = false;

                        if (!p->src.mappings[i].snapshot_id)
                                continue; /* an empty volume */
                        /* As EC2: an image shared with the caller is copied only with read
                         * permission (createVolumePermission) on its snapshots too. */
                        if (rules_snapshot_restorable(p->ctx, r, p->src.mappings[i].snapshot_id,
                                                      &readable, err) < 0)
                                return -1;
                        if (!readable)
                                return kiln_error_set(
                                        err, KILN_E_PERMISSION, "AuthFailure",
                                        "You do not have permission to access the storage of "
                                        "this ami: %s is shared with %s, but its snapshot %s "
                                        "is not (createVolumePermission)",
                                        p->src.image_id, p->ctx->account,
                                        p->src.mappings[i].snapshot_id);
                }
        if (rules_check_name_free(r, p->ctx->region->name, p->ctx->account, p->spec->name, err) < 0)
                return -1;
        p->dst.mappings = kiln_xcalloc(p->src.n_mappings, sizeof(*p->dst.mappings));
        for (size_t i = 0; i < p->src.n_mappings; i++) {
                const char *src = p->src.mappings[i].snapshot_id;
                const char *id = src ? plan_chain(p, r, src, true, err) : NULL;

                if (src && !id)
                        return -1;
                p->dst.mappings[i] = p->src.mappings[i];
                p->dst.mappings[i].snapshot_id = id ? kiln_xstrdup(id) : NULL;
                p->dst.n_mappings++;
        }
        /* The new image, pending, holds its name while the layers travel. */
        p->dst.image_id = kiln_id_new("ami");
        p->dst.region = (char *) p->ctx->region->name;
        p->dst.owner_id = p->ctx->account;
        p->dst.name = (char *) p->spec->name;
        p->dst.description =
                kiln_xstrdup(p->spec->description ? p->spec->description : p->src.description);
        p->dst.state = (char *) "pending";
        p->dst.architecture = p->src.architecture;
        p->dst.platform = p->src.platform;
        p->dst.default_user = p->src.default_user;
        p->dst.boot_mode = p->src.boot_mode;
        p->dst.tpm_support = p->src.tpm_support;
        p->dst.secure_boot = p->src.secure_boot;
        p->dst.no_ena = p->src.no_ena;
        p->dst.rtc = p->src.rtc;
        p->dst.root_device_name = p->src.root_device_name;
        p->dst.creation_date = p->now;
        p->dst.source_image_id = p->src.image_id;
        p->dst.source_region = p->src.region;
        p->dst.hourly_price = p->src.hourly_price;
        p->dst.ungeneralized = p->src.ungeneralized;
        if (registry_image_insert(r, &p->dst, err) < 0 || copy_uefi_data(r, p, err) < 0)
                return -1;
        for (size_t i = 0; i < p->n_layers; i++) {
                copy_layer *l = &p->layers[i];
                registry_snapshot s = {0};
                struct timeval tv;
                kiln_autofree char *desc = NULL;

                if (l->existing)
                        continue;
                gettimeofday(&tv, NULL);
                desc = kiln_xasprintf("Copied for DestinationAmi %s from SourceAmi %s for "
                                      "SourceSnapshot %s. Task created on %lld.",
                                      p->dst.image_id, p->src.image_id, l->src.s.snapshot_id,
                                      (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000);
                s.s = l->src.s;
                s.s.snapshot_id = l->dst_id;
                s.s.region = (char *) p->ctx->region->name;
                s.s.owner_id = p->ctx->account;
                s.s.parent_id = l->dst_parent_id;
                s.s.description = desc;
                s.s.state = (char *) "pending";
                s.s.start_time = p->now;
                s.volume = l->dst_volume;
                s.layer_id = l->overlay ? kiln_id_new("layer") : l->src.layer_id;
                s.virtual_size = l->src.virtual_size;
                s.ungeneralized = l->src.ungeneralized;
                s.worker_pid = getpid();
                if (i + 1 == p->n_layers)
                        kiln_crash_point("copy.reserve-before-commit");
                if (registry_snapshot_insert(r, &s, err) < 0) {
                        if (l->overlay)
                                free(s.layer_id);
                        return -1;
                }
                if (l->overlay)
                        free(s.layer_id);
        }
        return ctx_token_record(p->ctx, r, p->spec->client_token, "CopyImage", p->request,
                                p->dst.image_id, err);
}

static int copy_commit(registry *r, void *userdata, kiln_error **err)
{
        copy_plan *p = userdata;

        for (size_t i = 0; i < p->n_layers; i++)
                if (!p->layers[i].existing &&
                    registry_snapshot_set_state(r, p->layers[i].dst_id, "completed", err) < 0)
                        return -1;
        /* The caller's own tags on the source; another account's tags are not the caller's to
         * see, as in EC2. */
        if (p->spec->copy_image_tags && strcmp(p->src.owner_id, p->ctx->account) == 0 &&
            registry_tags_copy(r, p->src.image_id, p->dst.image_id, err) < 0)
                return -1;
        kiln_crash_point("copy.before-commit");
        return registry_image_set_state(r, p->dst.image_id, "available", NULL, NULL, err);
}

static int copy_forget(registry *r, void *userdata, kiln_error **err)
{
        copy_plan *p = userdata;

        if (ctx_token_forget(p->ctx, r, p->spec->client_token, err) < 0)
                return -1;
        for (size_t i = p->n_layers; i-- > 0;)
                if (!p->layers[i].existing &&
                    registry_snapshot_delete(r, p->layers[i].dst_id, err) < 0)
                        return -1;
        return p->dst.image_id ? registry_image_delete(r, p->dst.image_id, err) : 0;
}

/* Moves one layer's data, or makes the overlay. */
static int copy_layer_data(copy_plan *p, copy_layer *l, virStoragePoolPtr src_pool,
                           virStoragePoolPtr dst_pool, const char *work, kiln_progress_fn fn,
                           void *userdata, kiln_error **err)
{
        kiln_autofree char *parent_path = NULL, *local = NULL, *path = NULL;
        kiln_autofree char *what = kiln_xasprintf("layer %s", l->src.s.snapshot_id);
        image_progress cp = {fn, userdata, what};
        copy_layer *parent = NULL;

        for (size_t i = 0; l->dst_parent_id && i < p->n_layers; i++)
                if (strcmp(p->layers[i].dst_id, l->dst_parent_id) == 0)
                        parent = &p->layers[i];
        if (l->dst_parent_id) {
                kiln_autofree char *vol = parent ? kiln_xstrdup(parent->dst_volume) : NULL;
                registry_snapshot have = {0};

                if (!vol) {
                        if (registry_snapshot_get(p->ctx->reg, l->dst_parent_id, &have, err) < 0)
                                return -1;
                        vol = kiln_steal(&have.volume);
                        registry_snapshot_clear(&have);
                }
                parent_path = image_volume_path(dst_pool, vol, err);
                if (!parent_path)
                        return -1;
        }
        if (l->overlay)
                return virt_volume_create_overlay(dst_pool, l->dst_volume, parent_path,
                                                  (unsigned long long) l->src.virtual_size, &path,
                                                  err);
        local = kiln_xasprintf("%s/%s", work, l->dst_volume);
        if (virt_volume_download(src_pool, l->src.volume, local, image_on_transfer, &cp, err) < 0)
                return -1;
        kiln_crash_point("copy.after-download");
        if (disk_set_backing(local, parent_path, err) < 0)
                return -1;
        if (virt_volume_upload(dst_pool, l->dst_volume, local,
                               (unsigned long long) l->src.virtual_size, true, image_on_transfer,
                               &cp, &path, err) < 0)
                return -1;
        unlink(local);
        kiln_crash_point("copy.after-upload");
        return 0;
}

int kiln_image_copy(kiln_ctx *ctx, const kiln_copy_spec *spec, kiln_progress_fn progress,
                    void *userdata, char **ret_image_id, kiln_error **err)
{
        copy_plan p = {ctx, spec, {0}, {0}, NULL, 0, kiln_time_now_iso(), NULL, NULL};
        virStoragePoolPtr src_pool = NULL, dst_pool = NULL;
        kiln_autofree char *work = NULL;
        size_t done = 0;
        bool reserved;
        int rc = -1;

        if (kiln_image_name_check(spec->name, err) < 0 ||
            kiln_image_description_check(spec->description, err) < 0 ||
            rules_check_image_id(spec->source_image_id, err) < 0 ||
            ctx_token_validate(spec->client_token, err) < 0) {
                copy_plan_clear(&p);
                return -1;
        }
        {
                kiln_autofree char *canonical = kiln_xasprintf(
                        "region=%s\nimage=%s\nname=%s\ndescription=%s\ntags=%d\n",
                        spec->source_region ? spec->source_region : "", spec->source_image_id,
                        spec->name, spec->description ? spec->description : "",
                        spec->copy_image_tags);

                p.request = ctx_request_digest(canonical);
        }
        if (!spec->source_region || !config_region(ctx->cfg, spec->source_region)) {
                copy_plan_clear(&p);
                return kiln_error_set(err, KILN_E_INVALID, "InvalidRegion",
                                      "The source region '%s' does not exist",
                                      spec->source_region ? spec->source_region : "");
        }
        src_pool = ctx_pool(ctx, spec->source_region, err);
        if (src_pool)
                dst_pool = ctx_pool(ctx, ctx->region->name, err);
        reserved = dst_pool && registry_write(ctx->reg, copy_reserve, &p, err) == 0;
        if (reserved && p.existing) {
                *ret_image_id = kiln_steal(&p.existing);
                copy_plan_clear(&p);
                return 0;
        }
        if (reserved) {
                const kiln_region_info *src = config_region(ctx->cfg, spec->source_region);

                kiln_crash_point("copy.after-reserve");
                work = ctx_workdir(ctx, err);
                rc = work ? 0 : -1;
                /* Regions of several hosts: the layers are read on the source's first host and
                 * written on the destination's, so both must hold what the copy builds on. */
                for (size_t i = 0; rc == 0 && i < p.n_layers; i++) {
                        copy_layer *l = &p.layers[i];

                        if (l->existing)
                                rc = image_layers_bring(ctx, ctx->region, l->dst_id,
                                                        ctx->region->hosts[0].host_id, err);
                        else if (!l->overlay)
                                rc = image_layers_bring(ctx, src, l->src.s.snapshot_id,
                                                        src->hosts[0].host_id, err);
                }
                for (; rc == 0 && done < p.n_layers; done++) {
                        copy_layer *l = &p.layers[done];

                        if (l->existing)
                                continue;
                        rc = copy_layer_data(&p, l, src_pool, dst_pool, work, progress, userdata,
                                             err);
                        if (rc == 0)
                                kiln_crash_point("copy.between-layers");
                }
                if (rc == 0)
                        rc = registry_write(ctx->reg, copy_commit, &p, err);
                if (rc == 0)
                        kiln_crash_point("copy.after-commit");
                /* --all-hosts: every host of the destination gets the layers now, not at its
                 * first launch of the image. The copy is complete without: a host that cannot
                 * take them now is named in a warning, and gets them when it launches it. */
                for (size_t h = 1; rc == 0 && spec->all_hosts && h < ctx->region->n_hosts; h++) {
                        kiln_autoptr(kiln_error) e = NULL;
                        const char *host = ctx->region->hosts[h].host_id;

                        for (size_t i = 0; !e && i < p.n_layers; i++)
                                image_layers_bring(ctx, ctx->region, p.layers[i].dst_id, host, &e);
                        if (e)
                                kiln_log(KILN_LOG_WARN,
                                         "host %s did not get the image's layers "
                                         "(it gets them when it first launches the image): %s",
                                         host, e->msg);
                }
                if (rc < 0) {
                        for (size_t i = 0; i < p.n_layers; i++)
                                if (!p.layers[i].existing)
                                        virt_volume_delete(dst_pool, p.layers[i].dst_volume, NULL);
                        registry_write(ctx->reg, copy_forget, &p, NULL);
                }
                ctx_workdir_remove(work);
        }
        if (rc == 0)
                *ret_image_id = kiln_steal(&p.dst.image_id);
        copy_plan_clear(&p);
        return rc;
}
