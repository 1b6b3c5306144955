/* Fixtures for tests of the domain on libvirt's test driver, planted through the internal
 * registry and storage API. That driver cannot upload a volume (virStorageVolUpload is not
 * supported), so register-image, import-image and create-image cannot make an image there;
 * these helpers make what they would have made: a snapshot record with its volume in the
 * region's pool (a root layer, or a layer on a parent), an image record in any state, with the
 * attributes only those verbs set (ungeneralized, an owner alias), and an instance record in a
 * given state. The rules are then driven
 * through the public API. Owner is the context's account; region NULL means the context's. On
 * failure each helper prints the reason as a TAP comment and returns NULL or -1. */
#ifndef KILN_TEST_PLANT_H
#define KILN_TEST_PLANT_H

#include <stdbool.h>
#include <stdio.h>

#include "core/ctx-private.h"
#include "registry/registry-instance.h"
#include "registry/registry.h"
#include "util/util.h"
#include "virt/virt-storage.h"

#define PLANT_GIB (1024ULL * 1024ULL * 1024ULL)

static inline void plant_say(const char *what, kiln_error **err)
{
        printf("# plant %s: %s\n", what, *err ? (*err)->msg : "failed");
        *err = kiln_error_free(*err);
}

static inline int plant_snapshot_txn(registry *r, void *userdata, kiln_error **err)
{
        return registry_snapshot_insert(r, userdata, err);
}

/* A completed snapshot of 1 GiB: its volume (SNAP.qcow2, an overlay of the parent's volume if
 * parent_id is set) and its record. layer_id NULL gives it a new content identity; the same
 * layer_id in another region makes it "a layer already there" for copy-image. */
static inline char *plant_snapshot(kiln_ctx *ctx, const char *region, const char *parent_id,
                                   const char *layer_id, bool ungeneralized)
{
        kiln_error *err = NULL;
        kiln_autofree char *id = kiln_id_new("snap");
        kiln_autofree char *volume = kiln_xasprintf("%s.qcow2", id);
        kiln_autofree char *layer = layer_id ? kiln_xstrdup(layer_id) : kiln_id_new("layer");
        kiln_autofree char *now = kiln_time_now_iso();
        kiln_autofree char *path = NULL;
        virStoragePoolPtr pool;
        registry_snapshot s = {0};

        region = region ? region : ctx->region->name;
        pool = ctx_pool(ctx, region, &err);
        if (!pool) {
                plant_say("pool", &err);
                return NULL;
        }
        if (parent_id) {
                registry_snapshot parent = {0};
                virt_volume_info info = {0};
                int rc = registry_snapshot_get(ctx->reg, parent_id, &parent, &err);

                if (rc == 0)
                        rc = virt_volume_get_info(pool, parent.volume, &info, &err);
                if (rc == 0)
                        rc = virt_volume_create_overlay(pool, volume, info.path, PLANT_GIB, &path,
                                                        &err);
                virt_volume_info_clear(&info);
                registry_snapshot_clear(&parent);
                if (rc < 0) {
                        plant_say("overlay", &err);
                        return NULL;
                }
        } else {
                kiln_autofree char *xml = kiln_xasprintf(
                        "<volume><name>%s</name><capacity unit='bytes'>%llu</capacity>"
                        "<target><format type='qcow2'/></target></volume>",
                        volume, PLANT_GIB);
                virStorageVolPtr vol = virStorageVolCreateXML(pool, xml, 0);

                if (!vol) {
                        virt_error(&err, "cannot create volume '%s'", volume);
                        plant_say("volume", &err);
                        return NULL;
                }
                virStorageVolFree(vol);
        }
        s.s.snapshot_id = id;
        s.s.region = (char *) region;
        s.s.owner_id = ctx->account;
        s.s.parent_id = (char *) parent_id;
        s.s.description = (char *) "planted by a unit test";
        s.s.state = (char *) "completed";
        s.s.start_time = now;
        s.s.volume_size = 1;
        s.volume = volume;
        s.layer_id = layer;
        s.virtual_size = (int64_t) PLANT_GIB;
        s.ungeneralized = ungeneralized;
        if (registry_write(ctx->reg, plant_snapshot_txn, &s, &err) < 0) {
                plant_say("snapshot record", &err);
                return NULL;
        }
        return kiln_steal(&id);
}

/* The layer identity of a snapshot, as copy-image compares it (for planting the same layer in
 * another region). */
static inline char *plant_layer_of(kiln_ctx *ctx, const char *snapshot_id)
{
        kiln_error *err = NULL;
        registry_snapshot s = {0};
        char *layer;

        if (registry_snapshot_get(ctx->reg, snapshot_id, &s, &err) < 0) {
                plant_say("layer", &err);
                return NULL;
        }
        layer = kiln_steal(&s.layer_id);
        registry_snapshot_clear(&s);
        return layer;
}

typedef struct plant_image_spec {
        const char *region; /* NULL: the context's */
        const char *name;
        const char *state; /* NULL: available */
        const char *description;
        const char *owner_alias;
        bool ungeneralized;
        const char *const *snapshot_ids; /* one mapping each: /dev/vda, /dev/vdb, ... */
        size_t n_snapshots;
} plant_image_spec;

static inline int plant_image_txn(registry *r, void *userdata, kiln_error **err)
{
        return registry_image_insert(r, userdata, err);
}

/* An image record of the context's account mapping the given snapshots (8 GiB volumes that
 * go with their instance), Linux, x86_64, legacy BIOS, login user admin. */
static inline char *plant_image(kiln_ctx *ctx, const plant_image_spec *spec)
{
        static const char *const devices[] = {"/dev/vda", "/dev/vdb", "/dev/vdc", "/dev/vdd"};
        kiln_error *err = NULL;
        kiln_autofree char *id = kiln_id_new("ami");
        kiln_autofree char *now = kiln_time_now_iso();
        kiln_block_device_mapping maps[4] = {{0}};
        kiln_image img = {0};

        if (spec->n_snapshots < 1 || spec->n_snapshots > KILN_ARRAY_SIZE(maps)) {
                printf("# plant image: 1 to %zu snapshots\n", KILN_ARRAY_SIZE(maps));
                return NULL;
        }
        for (size_t i = 0; i < spec->n_snapshots; i++) {
                maps[i].device_name = (char *) devices[i];
                maps[i].snapshot_id = (char *) spec->snapshot_ids[i];
                maps[i].volume_size = 8;
                maps[i].delete_on_termination = true;
                maps[i].volume_type = (char *) "standard";
        }
        img.image_id = id;
        img.region = (char *) (spec->region ? spec->region : ctx->region->name);
        img.owner_id = ctx->account;
        img.name = (char *) spec->name;
        img.description = (char *) (spec->description ? spec->description : "");
        img.state = (char *) (spec->state ? spec->state : "available");
        img.architecture = (char *) "x86_64";
        img.platform = (char *) "linux";
        img.default_user = (char *) "admin";
        img.boot_mode = (char *) "legacy-bios";
        img.root_device_name = (char *) devices[0];
        img.creation_date = now;
        img.owner_alias = (char *) spec->owner_alias;
        img.ungeneralized = spec->ungeneralized;
        img.mappings = maps;
        img.n_mappings = spec->n_snapshots;
        if (registry_write(ctx->reg, plant_image_txn, &img, &err) < 0) {
                plant_say("image record", &err);
                return NULL;
        }
        return kiln_steal(&id);
}

static inline int plant_instance_txn(registry *r, void *userdata, kiln_error **err)
{
        const kiln_instance *inst = userdata;

        return registry_instance_insert(r, inst, inst->instance_id, NULL, 0, err);
}

/* An instance record of the context's account in the context's region, launched from
 * image_id, in the given state, with no domain, volume or seed behind it: for the rules that
 * look at the record before anything else (create-image's state check). */
static inline char *plant_instance(kiln_ctx *ctx, const char *image_id, const char *state)
{
        kiln_error *err = NULL;
        kiln_autofree char *id = kiln_id_new("i");
        kiln_autofree char *reservation = kiln_id_new("r");
        kiln_autofree char *now = kiln_time_now_iso();
        kiln_instance inst = {0};

        inst.instance_id = id;
        inst.reservation_id = reservation;
        inst.region = (char *) ctx->region->name;
        inst.owner_id = ctx->account;
        inst.image_id = (char *) image_id;
        inst.instance_type = (char *) "t3.micro";
        inst.state = (char *) state;
        inst.launch_time = now;
        inst.platform = (char *) "linux";
        inst.default_user = (char *) "admin";
        inst.architecture = (char *) "x86_64";
        inst.boot_mode = (char *) "legacy-bios";
        inst.root_device_name = (char *) "/dev/vda";
        inst.accel = (char *) "tcg";
        if (registry_write(ctx->reg, plant_instance_txn, &inst, &err) < 0) {
                plant_say("instance record", &err);
                return NULL;
        }
        return kiln_steal(&id);
}

/* The number of volumes in a region's pool, or -1. */
static inline long plant_volume_count(kiln_ctx *ctx, const char *region)
{
        kiln_error *err = NULL;
        virStoragePoolPtr pool = ctx_pool(ctx, region ? region : ctx->region->name, &err);
        char **names = NULL;
        size_t n = 0;

        if (!pool || virt_pool_list_volumes(pool, &names, &n, &err) < 0) {
                plant_say("volume list", &err);
                return -1;
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return (long) n;
}

/* Whether volume NAME is in a region's pool. */
static inline bool plant_volume_exists(kiln_ctx *ctx, const char *region, const char *name)
{
        kiln_error *err = NULL;
        virStoragePoolPtr pool = ctx_pool(ctx, region ? region : ctx->region->name, &err);

        if (!pool) {
                plant_say("pool", &err);
                return false;
        }
        return virt_volume_exists(pool, name);
}

#endif
