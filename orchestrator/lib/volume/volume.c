/* Volumes as EBS has them: create (empty, or an overlay on a snapshot the caller may read),
 * describe with EC2's filters, attach (hot-plugged into a running domain, in the definition of
 * a stopped one), detach, delete. The registry's volumes table holds launch volumes and these
 * alike; an instance's disks are its attached volumes in the order of their position. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <kiln/volume.h>

#include "image/image-rules.h"
#include "instance/instance-private.h"
#include "model/filter.h"
#include "registry/registry-instance.h"
#include "tag/tag-private.h"
#include "util/util.h"
#include "virt/virt-domain.h"
#include "virt/virt-storage.h"

#define GIB               (1024ULL * 1024ULL * 1024ULL)
#define DETACH_TIMEOUT_MS 30000U

static const char *const volume_types[] = {"standard", "gp2", "gp3", "io1",
                                           "io2",      "st1", "sc1", NULL};

/* ---- records (their destructors are in model/records.c) ---- */

/* The public record of a registry row (whose strings it takes), with its tags. */
static int volume_public(kiln_ctx *ctx, registry *r, registry_volume *rv, kiln_volume *ret,
                         kiln_error **err)
{
        const kiln_region_info *region = config_region(ctx->cfg, rv->region);
        const kiln_host_info *h = !region       ? NULL
                                  : rv->host_id ? kiln_region_host(region, rv->host_id)
                                                : &region->hosts[0];
        kiln_volume v = {0};

        /* The zone of the host that holds it. */
        v.zone = h ? kiln_xstrdup(h->zone) : kiln_xasprintf("%sa", rv->region);
        v.volume_id = kiln_steal(&rv->volume_id);
        v.region = kiln_steal(&rv->region);
        v.owner_id = kiln_steal(&rv->owner_id);
        /* EC2's SnapshotId: what it was made from, not what its overlay grows on now */
        v.snapshot_id = kiln_steal(&rv->origin_snapshot_id);
        v.size = rv->size;
        v.state = kiln_steal(&rv->state);
        v.volume_type = kiln_steal(&rv->volume_type);
        v.create_time = kiln_steal(&rv->create_time);
        v.instance_id = kiln_steal(&rv->instance_id);
        if (v.instance_id) {
                v.device = kiln_steal(&rv->device_name);
                v.attach_time = kiln_steal(&rv->attach_time);
                v.delete_on_termination = rv->delete_on_termination;
        }
        if (registry_tags_get(r, v.volume_id, &v.tags, &v.n_tags, err) < 0) {
                kiln_volume_clear(&v);
                return -1;
        }
        *ret = v;
        return 0;
}

static int check_id(const char *id, kiln_error **err)
{
        if (!kiln_id_valid("vol", id))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidVolumeID.Malformed",
                                      "Invalid id: \"%s\" (expecting \"vol-...\")", id ? id : "");
        return 0;
}

static int not_found(const char *id, kiln_error **err)
{
        return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidVolume.NotFound",
                              "The volume '%s' does not exist.", id);
}

/* The caller's volume in the region, in any state but deleted. */
static int volume_load(kiln_ctx *ctx, registry *r, const char *id, registry_volume *ret,
                       kiln_error **err)
{
        kiln_autoptr(kiln_error) e = NULL;
        registry_volume v = {0};

        if (check_id(id, err) < 0)
                return -1;
        if (registry_volume_get(r, id, &v, &e) < 0) {
                if (e->code != KILN_E_NOT_FOUND) {
                        *err = kiln_steal(&e);
                        return -1;
                }
                return not_found(id, err);
        }
        if (strcmp(v.region, ctx->region->name) != 0 || strcmp(v.owner_id, ctx->account) != 0 ||
            strcmp(v.state, "deleted") == 0) {
                registry_volume_clear(&v);
                return not_found(id, err);
        }
        *ret = v;
        return 0;
}

typedef struct fetch_txn {
        kiln_ctx *ctx;
        const char *id;
        kiln_volume v;
} fetch_txn;

static int fetch_one(registry *r, void *userdata, kiln_error **err)
{
        fetch_txn *t = userdata;
        registry_volume rv = {0};
        int rc;

        kiln_volume_clear(&t->v);
        if (registry_volume_get(r, t->id, &rv, err) < 0)
                return -1;
        rc = volume_public(t->ctx, r, &rv, &t->v, err);
        registry_volume_clear(&rv);
        return rc;
}

/* The public record of volume id as it is now. */
static int volume_fetch(kiln_ctx *ctx, const char *id, kiln_volume *ret, kiln_error **err)
{
        fetch_txn t = {ctx, id, {0}};

        if (registry_read(ctx->reg, fetch_one, &t, err) < 0) {
                kiln_volume_clear(&t.v);
                return -1;
        }
        *ret = t.v;
        return 0;
}

/* ---- create ---- */

typedef struct create_txn {
        kiln_ctx *ctx;
        const kiln_volume_spec *spec;
        registry_volume v;
        char *backing;  /* the snapshot's volume in the pool */
        char *request;  /* the digest of the request, for its ClientToken */
        char *existing; /* the volume an earlier request with the token made */
} create_txn;

/* The request's canonical text, for ClientToken: every parameter that shapes the volume. */
static char *request_digest(const kiln_volume_spec *spec)
{
        kiln_buf b = {0};
        char *d;

        kiln_buf_appendf(&b, "size=%" PRId64 "\nsnapshot=%s\ntype=%s\nzone=%s\n", spec->size,
                         spec->snapshot_id ? spec->snapshot_id : "",
                         spec->volume_type ? spec->volume_type : "",
                         spec->availability_zone ? spec->availability_zone : "");
        for (size_t i = 0; i < spec->n_tag_specs; i++)
                for (size_t k = 0; k < spec->tag_specs[i].n_tags; k++)
                        kiln_buf_appendf(&b, "tag=%s:%s=%s\n", spec->tag_specs[i].resource_type,
                                         spec->tag_specs[i].tags[k].key,
                                         spec->tag_specs[i].tags[k].value);
        kiln_buf_append(&b, "", 1);
        d = ctx_request_digest(b.data);
        free(b.data);
        return d;
}

static int create_check(registry *r, void *userdata, kiln_error **err)
{
        create_txn *t = userdata;
        registry_snapshot s = {0};
        bool readable = false;
        int64_t size = t->spec->size;

        free(t->backing);
        t->backing = NULL;
        if (!t->spec->snapshot_id) {
                t->v.size = size;
                return 0;
        }
        if (rules_check_snapshot_id(t->spec->snapshot_id, err) < 0)
                return -1;
        {
                kiln_autoptr(kiln_error) e = NULL;

                if (rules_snapshot_restorable(t->ctx, r, t->spec->snapshot_id, &readable, &e) < 0 &&
                    e->code != KILN_E_NOT_FOUND) {
                        *err = kiln_steal(&e);
                        return -1;
                }
        }
        if (!readable || registry_snapshot_get(r, t->spec->snapshot_id, &s, NULL) < 0 ||
            strcmp(s.s.state, "completed") != 0) {
                registry_snapshot_clear(&s);
                return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidSnapshot.NotFound",
                                      "The snapshot '%s' does not exist.", t->spec->snapshot_id);
        }
        if (size == 0)
                size = s.s.volume_size;
        if (size < s.s.volume_size) {
                kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                               "Volume of %" PRId64 "GiB is too small; minimum is %" PRId64 "GiB.",
                               size, s.s.volume_size);
                registry_snapshot_clear(&s);
                return -1;
        }
        t->v.size = size;
        t->backing = kiln_steal(&s.volume);
        registry_snapshot_clear(&s);
        return 0;
}

static int create_insert(registry *r, void *userdata, kiln_error **err)
{
        create_txn *t = userdata;

        free(t->existing);
        t->existing = NULL;
        if (ctx_token_check(t->ctx, r, t->spec->client_token, "CreateVolume", t->request,
                            &t->existing, err) < 0)
                return -1;
        if (t->existing)
                return 0; /* made by an earlier request with the token */
        if (create_check(r, t, err) < 0 || registry_volume_insert(r, &t->v, err) < 0 ||
            ctx_token_record(t->ctx, r, t->spec->client_token, "CreateVolume", t->request,
                             t->v.volume_id, err) < 0)
                return -1;
        return tag_specs_apply(r, t->spec->tag_specs, t->spec->n_tag_specs, "volume",
                               t->v.volume_id, err);
}

static int create_done(registry *r, void *userdata, kiln_error **err)
{
        create_txn *t = userdata;

        return registry_volume_set_state(r, t->v.volume_id, "available", err);
}

static int create_forget(registry *r, void *userdata, kiln_error **err)
{
        create_txn *t = userdata;

        if (ctx_token_forget(t->ctx, r, t->spec->client_token, err) < 0)
                return -1;
        return registry_volume_delete(r, t->v.volume_id, err);
}

static int create_validate(const kiln_volume_spec *spec, kiln_error **err)
{
        static const char *const types[] = {"volume", NULL};
        bool type_ok = !spec->volume_type;

        if (!spec->snapshot_id && spec->size == 0)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter size or snapshotId");
        if (spec->size < 0 || spec->size > KILN_VOLUME_MAX_GIB)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Volume size %" PRId64 " is out of range: 1 to %d GiB",
                                      spec->size, KILN_VOLUME_MAX_GIB);
        for (size_t i = 0; !type_ok && volume_types[i]; i++)
                type_ok = strcmp(spec->volume_type, volume_types[i]) == 0;
        if (!type_ok)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Value (%s) for parameter volumeType is invalid: standard, "
                                      "gp2, gp3, io1, io2, st1 or sc1",
                                      spec->volume_type);
        return tag_specs_check(spec->tag_specs, spec->n_tag_specs, types, err);
}

int kiln_volume_create(kiln_ctx *ctx, const kiln_volume_spec *spec, kiln_volume *ret,
                       kiln_error **err)
{
        const kiln_host_info *host = &ctx->region->hosts[0];
        kiln_autofree char *now = kiln_time_now_iso();
        kiln_autofree char *path = NULL;
        create_txn t = {ctx, spec, {0}, NULL, NULL, NULL};
        virStoragePoolPtr pool;
        int rc = -1;

        if (create_validate(spec, err) < 0 || ctx_token_validate(spec->client_token, err) < 0)
                return -1;
        if (spec->availability_zone) {
                host = kiln_region_host(ctx->region, spec->availability_zone);
                if (!host || strcmp(host->zone, spec->availability_zone) != 0)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "Invalid availability zone: [%s]; region '%s' "
                                              "has %s, one per host",
                                              spec->availability_zone, ctx->region->name,
                                              ctx->region->hosts[0].zone);
        }
        pool = ctx_host_pool(ctx, ctx->region->name, host->host_id, err);
        if (!pool)
                return -1;
        if (ctx->region->n_hosts > 1)
                t.v.host_id = kiln_xstrdup(host->host_id);
        t.v.volume_id = kiln_id_new("vol");
        t.v.region = kiln_xstrdup(ctx->region->name);
        t.v.owner_id = kiln_xstrdup(ctx->account);
        t.v.snapshot_id = spec->snapshot_id ? kiln_xstrdup(spec->snapshot_id) : NULL;
        t.v.volume = kiln_xasprintf("%s.qcow2", t.v.volume_id);
        t.v.state = kiln_xstrdup("creating");
        t.v.create_time = kiln_xstrdup(now);
        t.v.volume_type = kiln_xstrdup(spec->volume_type ? spec->volume_type : "standard");
        t.v.device_name = kiln_xstrdup("");
        /* The record first (state creating), the file, then available: a crash in between
         * leaves a record fsck finds with or without its file. */
        t.request = request_digest(spec);
        if (registry_write(ctx->reg, create_insert, &t, err) < 0)
                goto out;
        if (t.existing) {
                rc = ret ? volume_fetch(ctx, t.existing, ret, err) : 0;
                goto out;
        }
        kiln_crash_point("create-volume.after-reserve");
        if (t.backing) {
                virt_volume_info info = {0};

                rc = virt_volume_get_info(pool, t.backing, &info, err);
                if (rc == 0)
                        rc = virt_volume_create_overlay(pool, t.v.volume, info.path,
                                                        (unsigned long long) t.v.size * GIB, &path,
                                                        err);
                virt_volume_info_clear(&info);
        } else {
                rc = virt_volume_create_empty(pool, t.v.volume, (unsigned long long) t.v.size * GIB,
                                              &path, err);
        }
        kiln_crash_point("create-volume.after-file");
        if (rc == 0)
                rc = registry_write(ctx->reg, create_done, &t, err);
        if (rc < 0) {
                virt_volume_delete(pool, t.v.volume, NULL);
                registry_write(ctx->reg, create_forget, &t, NULL);
                goto out;
        }
        rc = ret ? volume_fetch(ctx, t.v.volume_id, ret, err) : 0;
out:
        registry_volume_clear(&t.v);
        free(t.backing);
        free(t.request);
        free(t.existing);
        return rc;
}

/* ---- describe ---- */

typedef struct list_txn {
        kiln_ctx *ctx;
        kiln_volume *all;
        size_t n;
} list_txn;

static int list_load(registry *r, void *userdata, kiln_error **err)
{
        list_txn *t = userdata;
        registry_volume *v = NULL;
        size_t n = 0;
        int rc = 0;

        kiln_volumes_free(t->all, t->n);
        t->all = NULL;
        t->n = 0;
        if (registry_volume_list(r, t->ctx->region->name, &v, &n, err) < 0)
                return -1;
        t->all = kiln_xcalloc(n + 1, sizeof(*t->all));
        for (size_t i = 0; rc == 0 && i < n; i++) {
                if (strcmp(v[i].owner_id, t->ctx->account) != 0 ||
                    strcmp(v[i].state, "deleted") == 0)
                        continue;
                rc = volume_public(t->ctx, r, &v[i], &t->all[t->n], err);
                if (rc == 0)
                        t->n++;
        }
        registry_volumes_free(v, n);
        return rc;
}

static bool volume_filter_match(const kiln_volume *v, const kiln_filter *f, const char *zone)
{
        const char *n = f->name;
        char size[32];

        snprintf(size, sizeof(size), "%" PRId64, v->size);
        if (strcmp(n, "volume-id") == 0)
                return filter_match_any(f, v->volume_id);
        if (strcmp(n, "status") == 0)
                return filter_match_any(f, v->state);
        if (strcmp(n, "size") == 0)
                return filter_match_any(f, size);
        if (strcmp(n, "snapshot-id") == 0)
                return filter_match_any(f, v->snapshot_id ? v->snapshot_id : "");
        if (strcmp(n, "volume-type") == 0)
                return filter_match_any(f, v->volume_type);
        if (strcmp(n, "create-time") == 0)
                return filter_match_any(f, v->create_time);
        if (strcmp(n, "availability-zone") == 0)
                return filter_match_any(f, zone);
        if (strcmp(n, "attachment.instance-id") == 0)
                return filter_match_any(f, v->instance_id);
        if (strcmp(n, "attachment.device") == 0)
                return filter_match_any(f, v->device);
        if (strcmp(n, "attachment.status") == 0)
                return v->instance_id && filter_match_any(f, "attached");
        if (strcmp(n, "attachment.delete-on-termination") == 0)
                return v->instance_id &&
                       filter_match_any(f, v->delete_on_termination ? "true" : "false");
        return filter_tag(f) && filter_match_tags(f, v->tags, v->n_tags);
}

int kiln_volumes_describe(kiln_ctx *ctx, const char *const *ids, size_t n_ids,
                          const kiln_filter *filters, size_t n_filters, kiln_volume **ret,
                          size_t *ret_n, kiln_error **err)
{
        static const char *const known[] = {"volume-id",
                                            "status",
                                            "size",
                                            "snapshot-id",
                                            "volume-type",
                                            "create-time",
                                            "availability-zone",
                                            "attachment.instance-id",
                                            "attachment.device",
                                            "attachment.status",
                                            "attachment.delete-on-termination",
                                            NULL};
        list_txn t = {ctx, NULL, 0};
        kiln_volume *out;
        size_t n_out = 0;

        for (size_t i = 0; i < n_ids; i++)
                if (check_id(ids[i], err) < 0)
                        return -1;
        if (filter_check_names(filters, n_filters, known, err) < 0 ||
            registry_read(ctx->reg, list_load, &t, err) < 0) {
                kiln_volumes_free(t.all, t.n);
                return -1;
        }
        for (size_t i = 0; i < n_ids; i++) {
                bool found = false;

                for (size_t k = 0; k < t.n; k++)
                        found = found || strcmp(t.all[k].volume_id, ids[i]) == 0;
                if (!found) {
                        kiln_volumes_free(t.all, t.n);
                        return not_found(ids[i], err);
                }
        }
        out = kiln_xcalloc(t.n + 1, sizeof(*out));
        for (size_t k = 0; k < t.n; k++) {
                bool keep = n_ids == 0;

                for (size_t i = 0; i < n_ids; i++)
                        keep = keep || strcmp(t.all[k].volume_id, ids[i]) == 0;
                for (size_t i = 0; keep && i < n_filters; i++)
                        keep = volume_filter_match(&t.all[k], &filters[i], t.all[k].zone);
                if (keep) {
                        out[n_out++] = t.all[k];
                        memset(&t.all[k], 0, sizeof(t.all[k]));
                }
        }
        kiln_volumes_free(t.all, t.n);
        *ret = out;
        *ret_n = n_out;
        return 0;
}

/* ---- delete ---- */

typedef struct delete_txn {
        kiln_ctx *ctx;
        const char *id;
        char *file;
        char *host_id;
} delete_txn;

static int delete_records(registry *r, void *userdata, kiln_error **err)
{
        delete_txn *t = userdata;
        registry_volume v = {0};
        int rc;

        free(t->file);
        t->file = NULL;
        if (volume_load(t->ctx, r, t->id, &v, err) < 0)
                return -1;
        if (v.instance_id)
                rc = kiln_error_set(err, KILN_E_STATE, "VolumeInUse",
                                    "Volume %s is currently attached to %s", t->id, v.instance_id);
        else
                rc = registry_volume_delete(r, t->id, err);
        if (rc == 0) {
                t->file = kiln_steal(&v.volume);
                free(t->host_id);
                t->host_id = kiln_steal(&v.host_id);
        }
        registry_volume_clear(&v);
        return rc;
}

int kiln_volume_delete(kiln_ctx *ctx, const char *volume_id, kiln_error **err)
{
        virStoragePoolPtr pool = ctx_pool(ctx, ctx->region->name, err);
        delete_txn t = {ctx, volume_id, NULL, NULL};
        int rc = -1;

        if (!pool)
                return -1;
        if (registry_write(ctx->reg, delete_records, &t, err) < 0)
                goto out;
        /* The record first, the file after: a crash leaves an orphan file fsck removes. */
        kiln_crash_point("delete-volume.after-record");
        pool = ctx_host_pool(ctx, ctx->region->name, t.host_id, err);
        rc = pool ? virt_volume_delete(pool, t.file, err) : -1;
out:
        free(t.file);
        free(t.host_id);
        return rc;
}

/* ---- attach and detach ---- */

/* /dev/sd[b-z], /dev/xvd[b-z] or /dev/vd[b-z]: the names EC2 takes for an EBS volume, less the
 * root's letter. */
static int check_device(const char *device, kiln_error **err)
{
        static const char *const prefixes[] = {"/dev/sd", "/dev/xvd", "/dev/vd"};

        for (size_t i = 0; device && i < KILN_ARRAY_SIZE(prefixes); i++) {
                size_t n = strlen(prefixes[i]);

                if (strncmp(device, prefixes[i], n) == 0 && device[n] >= 'b' && device[n] <= 'z' &&
                    device[n + 1] == '\0')
                        return 0;
        }
        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                              "Value (%s) for parameter device is invalid. %s is not a valid EBS "
                              "device name: /dev/sdf, /dev/xvdf or /dev/vdb, say",
                              device ? device : "", device ? device : "");
}

typedef struct attach_txn {
        kiln_ctx *ctx;
        const char *volume_id;
        const char *instance_id;
        const char *device;
        bool detach;
        const char *now;
        registry_volume v;  /* before the change */
        kiln_instance inst; /* after it */
        char *domain;
        char *seed;
} attach_txn;

static void attach_txn_reset(attach_txn *t)
{
        registry_volume_clear(&t->v);
        kiln_instance_clear(&t->inst);
        free(t->domain);
        free(t->seed);
        t->domain = t->seed = NULL;
}

static int attach_check(attach_txn *t, registry *r, kiln_error **err)
{
        const char *st = t->inst.state;
        int position = 0;

        if (t->v.instance_id)
                return kiln_error_set(err, KILN_E_STATE, "VolumeInUse",
                                      "%s is already attached to an instance", t->volume_id);
        if (strcmp(t->v.state, "available") != 0)
                return kiln_error_set(err, KILN_E_STATE, "IncorrectState",
                                      "Volume '%s' is %s, not available", t->volume_id, t->v.state);
        if (strcmp(st, "running") != 0 && strcmp(st, "stopped") != 0)
                return kiln_error_set(err, KILN_E_STATE, "IncorrectState",
                                      "Instance '%s' is not 'running' or 'stopped'.",
                                      t->instance_id);
        for (size_t i = 0; i < t->inst.n_volumes; i++) {
                if (strcmp(t->inst.volumes[i].device_name, t->device) == 0)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "Invalid value '%s' for unixDevice. Attachment "
                                              "point %s is already in use",
                                              t->device, t->device);
        }
        {
                registry_volume *vs = NULL;
                size_t n = 0;

                if (registry_volumes_of(r, t->instance_id, &vs, &n, err) < 0)
                        return -1;
                for (size_t i = 0; i < n; i++)
                        if (vs[i].position >= position)
                                position = vs[i].position + 1;
                registry_volumes_free(vs, n);
        }
        return registry_volume_set_attachment(r, t->volume_id, t->instance_id, t->device, position,
                                              t->now, err);
}

static int detach_check(attach_txn *t, registry *r, kiln_error **err)
{
        if (!t->v.instance_id)
                return kiln_error_set(err, KILN_E_STATE, "IncorrectState",
                                      "Volume '%s' is in the 'available' state.", t->volume_id);
        if ((t->instance_id && strcmp(t->instance_id, t->v.instance_id) != 0) ||
            (t->device && strcmp(t->device, t->v.device_name) != 0))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidAttachment.NotFound",
                                      "Attachment point %s on %s is not %s",
                                      t->device ? t->device : t->v.device_name,
                                      t->instance_id ? t->instance_id : t->v.instance_id,
                                      t->volume_id);
        if (strcmp(t->v.device_name, t->inst.root_device_name) == 0)
                return kiln_error_set(err, KILN_E_PERMISSION, "OperationNotPermitted",
                                      "%s is the root volume of %s: it cannot be detached",
                                      t->volume_id, t->v.instance_id);
        if (strcmp(t->inst.state, "running") != 0 && strcmp(t->inst.state, "stopped") != 0)
                return kiln_error_set(err, KILN_E_STATE, "IncorrectState",
                                      "Instance '%s' is not 'running' or 'stopped'.",
                                      t->v.instance_id);
        return registry_volume_set_attachment(r, t->volume_id, NULL, NULL, 0, NULL, err);
}

/* Loads both records, checks, and changes the volume's attachment; t->inst is then the
 * instance with its new set of volumes. */
static int attach_records(registry *r, void *userdata, kiln_error **err)
{
        attach_txn *t = userdata;
        const char *inst_id;

        attach_txn_reset(t);
        if (volume_load(t->ctx, r, t->volume_id, &t->v, err) < 0)
                return -1;
        inst_id = t->detach ? t->v.instance_id : t->instance_id;
        if (t->detach && !inst_id)
                return kiln_error_set(err, KILN_E_STATE, "IncorrectState",
                                      "Volume '%s' is in the 'available' state.", t->volume_id);
        if (instance_load(t->ctx, r, inst_id, &t->inst, err) < 0 ||
            (t->detach ? detach_check(t, r, err) : attach_check(t, r, err)) < 0)
                return -1;
        /* One host holds both (a region of several hosts: one zone each). */
        if (!t->detach &&
            strcmp(t->v.host_id ? t->v.host_id : "", t->inst.host_id ? t->inst.host_id : "") != 0 &&
            t->ctx->region->n_hosts > 1) {
                const kiln_host_info *vh = kiln_region_host(
                        t->ctx->region,
                        t->v.host_id ? t->v.host_id : t->ctx->region->hosts[0].host_id);
                const kiln_host_info *ih = instance_host(t->ctx, &t->inst);

                if (vh != ih)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidVolume.ZoneMismatch",
                                              "The volume '%s' is not in the same availability "
                                              "zone as instance '%s' (%s, %s)",
                                              t->volume_id, t->inst.instance_id,
                                              vh ? vh->zone : "?", ih ? ih->zone : "?");
        }
        kiln_instance_clear(&t->inst);
        return instance_load(t->ctx, r, inst_id, &t->inst, err) < 0 ||
                               registry_instance_private(r, inst_id, &t->domain, &t->seed, NULL,
                                                         err) < 0
                       ? -1
                       : 0;
}

/* Undoes attach_records after a failure of the domain change. */
static int attach_undo(registry *r, void *userdata, kiln_error **err)
{
        attach_txn *t = userdata;

        if (t->detach)
                return registry_volume_set_attachment(r, t->volume_id, t->v.instance_id,
                                                      t->v.device_name, t->v.position,
                                                      t->v.attach_time, err);
        return registry_volume_set_attachment(r, t->volume_id, NULL, NULL, 0, NULL, err);
}

/* The live change on a running domain: hot-plug, or ask the guest to release the disk. */
static int attach_live(attach_txn *t, virDomainPtr dom, bool force, kiln_error **err)
{
        kiln_autofree char *serial = instance_volume_serial(t->volume_id);
        virt_domain_disk disk = {t->ctx->region->pool, t->v.volume, NULL, false, false, serial};
        kiln_autofree char *target = NULL;

        if (!t->detach) {
                target = virt_domain_free_target(dom, err);
                disk.target = target;
                return target ? virt_domain_attach_disk(dom, &disk, err) : -1;
        }
        target = virt_domain_disk_target(dom, t->ctx->region->pool, t->v.volume);
        if (!target)
                return 0; /* not in the live domain (attached while it was stopped) */
        disk.target = target;
        if (virt_domain_detach_disk(dom, &disk, DETACH_TIMEOUT_MS, err) == 0)
                return 0;
        if (!force)
                return -1;
        kiln_log(KILN_LOG_WARN, "%s did not release %s: forcing it off", t->inst.instance_id,
                 t->volume_id);
        kiln_error_free(kiln_steal(err));
        return 0;
}

static int attach_change(kiln_ctx *ctx, const char *volume_id, const char *instance_id,
                         const char *device, bool detach, bool force, kiln_volume *ret,
                         kiln_error **err)
{
        kiln_autofree char *now = kiln_time_now_iso();
        attach_txn t = {ctx, volume_id, instance_id, device, detach, now, {0}, {0}, NULL, NULL};
        virConnectPtr conn;
        int rc = -1;

        if (check_id(volume_id, err) < 0 ||
            (instance_id && instance_check_id(instance_id, err) < 0) ||
            ((!detach || device) && check_device(device, err) < 0))
                return -1;
        if (registry_write(ctx->reg, attach_records, &t, err) < 0 ||
            !(conn = instance_conn(ctx, &t.inst, err)))
                goto out;
        kiln_crash_point(detach ? "detach-volume.after-record" : "attach-volume.after-record");
        {
                kiln_autoptr(virt_dom) dom = virt_domain_lookup(conn, t.domain, err);

                rc = dom ? 0 : -1;
                if (rc == 0 && virt_domain_active(dom))
                        rc = attach_live(&t, dom, force, err);
                /* The definition follows the registry: the disks the next start gives. */
                if (rc == 0)
                        rc = instance_define(ctx, &t.inst, t.domain, t.seed, err);
        }
        if (rc < 0) {
                registry_write(ctx->reg, attach_undo, &t, NULL);
                goto out;
        }
        rc = ret ? volume_fetch(ctx, volume_id, ret, err) : 0;
out:
        attach_txn_reset(&t);
        return rc;
}

int kiln_volume_attach(kiln_ctx *ctx, const char *volume_id, const char *instance_id,
                       const char *device, kiln_volume *ret, kiln_error **err)
{
        if (!instance_id || !device)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameters instanceId and "
                                      "device");
        return attach_change(ctx, volume_id, instance_id, device, false, false, ret, err);
}

int kiln_volume_detach(kiln_ctx *ctx, const char *volume_id, const char *instance_id,
                       const char *device, bool force, kiln_volume *ret, kiln_error **err)
{
        return attach_change(ctx, volume_id, instance_id, device, true, force, ret, err);
}
