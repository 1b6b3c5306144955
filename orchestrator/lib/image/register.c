/* register-image (and import-image's last step): each disk file becomes a new snapshot, and
 * the image maps those, the snapshots and empty volumes of its BlockDeviceMapping, each under
 * its device, the root first.
 *
 * Records and files, and what a crash leaves:
 *   1. reserve: one pending snapshot per disk file (the mappings and the name are checked);
 *   2. each file is converted to qcow2 and uploaded into the pool under its snapshot's name;
 *   3. commit: the snapshots complete and the image is inserted, available.
 * fsck --repair removes pending snapshots whose process is gone, and their files. */
#include <stdio.h>
#include <string.h>

#include <kiln/instance.h>

#include "disk/detect.h"
#include "disk/disk.h"
#include "image/image-private.h"
#include "image/image-rules.h"
#include "seed/seed.h"
#include "util/util.h"

#define GIB (1024ULL * 1024 * 1024)

typedef struct reg_disk {
        const char *device;
        const char *path;
        disk_info info;
        registry_snapshot snap;
        bool uploaded;
} reg_disk;

typedef struct register_txn {
        kiln_ctx *ctx;
        const kiln_register_spec *spec;
        const char *root;
        reg_disk *disks;
        size_t n_disks;
        kiln_image img; /* its mappings are built (and owned) by build_mappings */
        bool inherited; /* inherit_from_snapshot ran */
        void *uefi;     /* the UEFI variable store of UefiData, or NULL */
        size_t uefi_len;
} register_txn;

static void mappings_free(kiln_image *img)
{
        for (size_t i = 0; i < img->n_mappings; i++) {
                free(img->mappings[i].device_name);
                free(img->mappings[i].snapshot_id);
                free(img->mappings[i].volume_type);
        }
        free(img->mappings);
        img->mappings = NULL;
        img->n_mappings = 0;
}

/* The image's mappings: the disks', then the spec's (checked against the registry: snapshots
 * the caller may read, sizes), with the root moved first. */
static int build_mappings(register_txn *t, registry *r, kiln_error **err)
{
        kiln_image *img = &t->img;
        size_t root = SIZE_MAX;

        mappings_free(img);
        img->mappings = kiln_xcalloc(t->n_disks + 1, sizeof(*img->mappings));
        for (size_t i = 0; i < t->n_disks; i++) {
                kiln_block_device_mapping *m = &img->mappings[img->n_mappings++];

                m->device_name = kiln_xstrdup(t->disks[i].device);
                m->snapshot_id = kiln_xstrdup(t->disks[i].snap.s.snapshot_id);
                m->volume_size = t->disks[i].snap.s.volume_size;
                m->delete_on_termination = true;
                m->volume_type = kiln_xstrdup("standard");
        }
        if (image_mappings_apply(t->ctx, r, img, t->spec->mappings, t->spec->n_mappings, err) < 0)
                return -1;
        for (size_t i = 0; i < img->n_mappings; i++)
                if (strcmp(img->mappings[i].device_name, t->root) == 0)
                        root = i;
        if (root == SIZE_MAX)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidBlockDeviceMapping",
                                      "The root device %s has no disk and no snapshot: give "
                                      "--disk %s=FILE or map it to a SnapshotId",
                                      t->root, t->root);
        if (!img->mappings[root].snapshot_id)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidBlockDeviceMapping",
                                      "The root device %s cannot be an empty volume: it needs "
                                      "a disk or a SnapshotId",
                                      t->root);
        if (root > 0) {
                kiln_block_device_mapping m = img->mappings[root];

                memmove(&img->mappings[1], &img->mappings[0], root * sizeof(m));
                img->mappings[0] = m;
        }
        img->root_device_name = img->mappings[0].device_name;
        return 0;
}

/* A root from an existing snapshot says nothing of its system: what the caller did not give
 * is taken from an image of the caller's that boots from that snapshot, if there is one. */
static void inherit_from_snapshot(register_txn *t, registry *r)
{
        const kiln_register_spec *spec = t->spec;
        char **users = NULL;
        size_t n_users = 0;

        if ((spec->platform && spec->default_user) ||
            (t->n_disks > 0 && strcmp(t->disks[0].device, t->root) == 0))
                return;
        if (registry_snapshot_users(r, t->img.mappings[0].snapshot_id, &users, &n_users, NULL) < 0)
                return;
        for (size_t i = 0; i < n_users; i++) {
                kiln_image src = {0};

                if (registry_image_get(r, users[i], &src, NULL) == 0 &&
                    strcmp(src.owner_id, t->ctx->account) == 0 && src.n_mappings > 0 &&
                    strcmp(src.mappings[0].snapshot_id ? src.mappings[0].snapshot_id : "",
                           t->img.mappings[0].snapshot_id) == 0) {
                        if (!spec->platform && src.platform)
                                t->img.platform = kiln_steal(&src.platform);
                        if (!spec->default_user && src.default_user)
                                t->img.default_user = kiln_steal(&src.default_user);
                        kiln_image_clear(&src);
                        break;
                }
                kiln_image_clear(&src);
        }
        kiln_strv_free(users, n_users);
}

static int register_reserve(registry *r, void *userdata, kiln_error **err)
{
        register_txn *t = userdata;

        if (rules_check_name_free(r, t->img.region, t->img.owner_id, t->img.name, err) < 0 ||
            build_mappings(t, r, err) < 0)
                return -1;
        if (!t->inherited)
                inherit_from_snapshot(t, r);
        t->inherited = true;
        for (size_t i = 0; i < t->n_disks; i++)
                if (registry_snapshot_insert(r, &t->disks[i].snap, err) < 0)
                        return -1;
        return 0;
}

static int register_commit(registry *r, void *userdata, kiln_error **err)
{
        register_txn *t = userdata;

        if (rules_check_name_free(r, t->img.region, t->img.owner_id, t->img.name, err) < 0 ||
            build_mappings(t, r, err) < 0)
                return -1;
        for (size_t i = 0; i < t->n_disks; i++)
                if (registry_snapshot_set_state(r, t->disks[i].snap.s.snapshot_id, "completed",
                                                err) < 0)
                        return -1;
        kiln_crash_point("register.commit-between");
        if (registry_image_insert(r, &t->img, err) < 0)
                return -1;
        return t->uefi ? registry_image_set_uefi_data(r, t->img.image_id, t->uefi, t->uefi_len, err)
                       : 0;
}

static int register_forget(registry *r, void *userdata, kiln_error **err)
{
        register_txn *t = userdata;

        for (size_t i = 0; i < t->n_disks; i++)
                if (registry_snapshot_delete(r, t->disks[i].snap.s.snapshot_id, err) < 0)
                        return -1;
        return 0;
}

/* Inherited strings are the image's own; the rest point into the spec or constants. */
static void txn_clear(register_txn *t, const char *platform, const char *user)
{
        for (size_t i = 0; i < t->n_disks; i++) {
                reg_disk *d = &t->disks[i];

                disk_info_clear(&d->info);
                free(d->snap.s.snapshot_id);
                free(d->snap.s.description);
                free(d->snap.volume);
                free(d->snap.layer_id);
        }
        free(t->disks);
        mappings_free(&t->img);
        if (t->img.platform != platform)
                free(t->img.platform);
        if (t->img.default_user != user)
                free(t->img.default_user);
        free(t->img.image_id);
        free(t->img.creation_date);
}

int image_on_transfer(unsigned long long done, unsigned long long total, void *userdata)
{
        image_progress *p = userdata;

        if (p->fn)
                p->fn(p->what, done, total, p->userdata);
        return 0;
}

static bool device_named(const char *device)
{
        return device && strncmp(device, "/dev/", 5) == 0 && device[5];
}

int image_register_validate(const kiln_register_spec *spec, kiln_error **err)
{
        const char *root = spec->root_device_name ? spec->root_device_name : spec->device_name;

        if (kiln_image_name_check(spec->name, err) < 0 ||
            kiln_image_description_check(spec->description, err) < 0)
                return -1;
        if ((!spec->disk_path || !*spec->disk_path) && spec->n_disks == 0 && spec->n_mappings == 0)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter disk or "
                                      "blockDeviceMapping");
        if (spec->platform && strcmp(spec->platform, "linux") != 0 &&
            !kiln_platform_is_windows(spec->platform))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid platform '%s': expected linux or windows",
                                      spec->platform);
        if (spec->architecture && strcmp(spec->architecture, "x86_64") != 0 &&
            strcmp(spec->architecture, "i386") != 0 && strcmp(spec->architecture, "arm64") != 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid architecture '%s': expected x86_64, i386 or arm64",
                                      spec->architecture);
        if (spec->boot_mode && strcmp(spec->boot_mode, "legacy-bios") != 0 &&
            strcmp(spec->boot_mode, "uefi") != 0 && strcmp(spec->boot_mode, "uefi-preferred") != 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid boot mode '%s': expected legacy-bios, uefi or "
                                      "uefi-preferred",
                                      spec->boot_mode);
        if (spec->tpm_support && strcmp(spec->tpm_support, "v2.0") != 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid TPM support '%s': expected v2.0", spec->tpm_support);
        if (spec->rtc && strcmp(spec->rtc, "utc") != 0 && strcmp(spec->rtc, "localtime") != 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid clock '%s': expected utc or localtime", spec->rtc);
        if ((spec->tpm_support || spec->secure_boot || spec->uefi_data) &&
            (!spec->boot_mode || strcmp(spec->boot_mode, "legacy-bios") == 0))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterCombination",
                                      "%s needs the boot mode uefi or uefi-preferred",
                                      spec->tpm_support   ? "TPM support"
                                      : spec->secure_boot ? "Secure Boot"
                                                          : "UEFI data");
        if (spec->default_user && seed_check_user_name(spec->default_user, err) < 0)
                return -1;
        if (root && !device_named(root))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid device name '%s': expected /dev/NAME", root);
        if (spec->root_device_name && spec->device_name &&
            strcmp(spec->root_device_name, spec->device_name) != 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterCombination",
                                      "--device-name %s and --root-device-name %s differ",
                                      spec->device_name, spec->root_device_name);
        for (size_t i = 0; i < spec->n_mappings; i++)
                if (spec->mappings[i].no_device)
                        return kiln_error_set(
                                err, KILN_E_INVALID, "InvalidBlockDeviceMapping",
                                "%s: NoDevice leaves out a device of an image; a "
                                "new image has none to leave out",
                                spec->mappings[i].device_name ? spec->mappings[i].device_name : "");
        return 0;
}

/* The disks of the spec, the root's first; each device once, among the mappings too. */
static int collect_disks(register_txn *t, kiln_error **err)
{
        const kiln_register_spec *spec = t->spec;

        t->disks = kiln_xcalloc(spec->n_disks + 2, sizeof(*t->disks));
        if (spec->disk_path && *spec->disk_path) {
                t->disks[0].device = t->root;
                t->disks[0].path = spec->disk_path;
                t->n_disks = 1;
        }
        for (size_t i = 0; i < spec->n_disks; i++) {
                const kiln_register_disk *d = &spec->disks[i];
                size_t at = t->n_disks;

                if (!device_named(d->device_name) || !d->path || !*d->path)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "Invalid disk '%s=%s': expected /dev/NAME=FILE",
                                              d->device_name ? d->device_name : "",
                                              d->path ? d->path : "");
                for (size_t k = 0; k < t->n_disks; k++)
                        if (strcmp(t->disks[k].device, d->device_name) == 0)
                                return kiln_error_set(
                                        err, KILN_E_INVALID, "InvalidBlockDeviceMapping",
                                        "The device '%s' has more than one disk", d->device_name);
                if (strcmp(d->device_name, t->root) == 0) {
                        memmove(&t->disks[1], &t->disks[0], t->n_disks * sizeof(*t->disks));
                        at = 0;
                }
                t->disks[at].device = d->device_name;
                t->disks[at].path = d->path;
                t->n_disks++;
        }
        for (size_t i = 0; i < spec->n_mappings; i++)
                for (size_t k = 0; k < t->n_disks; k++)
                        if (spec->mappings[i].device_name &&
                            strcmp(spec->mappings[i].device_name, t->disks[k].device) == 0)
                                return kiln_error_set(
                                        err, KILN_E_INVALID, "InvalidBlockDeviceMapping",
                                        "The device '%s' has a disk and a block-device mapping",
                                        t->disks[k].device);
        return 0;
}

static int inspect_disks(register_txn *t, bool imported, kiln_error **err)
{
        for (size_t i = 0; i < t->n_disks; i++) {
                reg_disk *d = &t->disks[i];

                if (disk_inspect(d->path, &d->info, err) < 0 ||
                    (imported ? disk_check_importable(d->path, &d->info, err)
                              : disk_check_standalone(d->path, &d->info, err)) < 0)
                        return -1;
        }
        return 0;
}

/* What the caller did not say is read from a root disk file: the platform and login user. */
static void detect_system(register_txn *t, disk_os *os, const char **platform, const char **user)
{
        if (t->n_disks == 0 || strcmp(t->disks[0].device, t->root) != 0 || (*platform && *user))
                return;
        if (disk_detect_os(t->disks[0].path, t->disks[0].info.format, os, NULL) < 0 ||
            !os->platform)
                return;
        if (!*platform)
                *platform = os->platform;
        /* A disk is untrusted: a user name it gives that is not one is not used. */
        if (!*user && strcmp(*platform, os->platform) == 0 && os->default_user &&
            seed_check_user_name(os->default_user, NULL) == 0)
                *user = os->default_user;
}

static void plan_snapshots(register_txn *t, bool imported, char *now)
{
        const kiln_register_spec *spec = t->spec;

        for (size_t i = 0; i < t->n_disks; i++) {
                reg_disk *d = &t->disks[i];
                registry_snapshot *s = &d->snap;
                const char *source =
                        spec->source && d->path == spec->disk_path ? spec->source : d->path;

                s->s.snapshot_id = kiln_id_new("snap");
                s->s.region = (char *) t->ctx->region->name;
                s->s.owner_id = t->ctx->account;
                s->s.description =
                        kiln_xasprintf("%s for %s from %s", imported ? "Imported" : "Registered",
                                       t->img.image_id, source);
                s->s.state = (char *) "pending";
                s->s.start_time = now;
                s->s.volume_size = (int64_t) ((d->info.virtual_size + GIB - 1) / GIB);
                s->volume = kiln_xasprintf("%s.qcow2", s->s.snapshot_id);
                s->layer_id = kiln_id_new("layer");
                s->virtual_size = (int64_t) d->info.virtual_size;
                s->worker_pid = getpid();
        }
}

/* Converts and uploads each disk under its snapshot's volume name. */
static int upload_disks(register_txn *t, virStoragePoolPtr pool, image_progress *up,
                        kiln_error **err)
{
        kiln_autofree char *work = ctx_workdir(t->ctx, err);
        int rc = work ? 0 : -1;

        for (size_t i = 0; rc == 0 && i < t->n_disks; i++) {
                reg_disk *d = &t->disks[i];
                kiln_autofree char *qcow = kiln_xasprintf("%s/disk-%zu.qcow2", work, i);
                kiln_autofree char *path = NULL;

                rc = disk_convert_qcow2(d->path, d->info.format, d->info.virtual_size, qcow, err);
                if (rc == 0) {
                        kiln_crash_point("register.after-convert");
                        d->uploaded = true;
                        rc = virt_volume_upload(pool, d->snap.volume, qcow, d->info.virtual_size,
                                                true, image_on_transfer, up, &path, err);
                }
                unlink(qcow);
        }
        if (work)
                ctx_workdir_remove(work);
        return rc;
}

int image_register_disk(kiln_ctx *ctx, const kiln_register_spec *spec, bool imported,
                        kiln_progress_fn progress, void *userdata, char **ret_image_id,
                        kiln_error **err)
{
        register_txn t = {.ctx = ctx, .spec = spec};
        image_progress up = {progress, userdata, "upload"};
        const char *platform = spec->platform, *user = spec->default_user;
        virStoragePoolPtr pool = NULL;
        disk_os os = {0};
        bool windows;
        int r = -1;

        t.root = spec->root_device_name ? spec->root_device_name
                 : spec->device_name    ? spec->device_name
                                        : "/dev/vda";
        if (image_register_validate(spec, err) < 0 ||
            (spec->uefi_data &&
             image_uefi_data_parse(spec->uefi_data, &t.uefi, &t.uefi_len, err) < 0) ||
            collect_disks(&t, err) < 0 || inspect_disks(&t, imported, err) < 0)
                goto out;
        detect_system(&t, &os, &platform, &user);
        t.img.image_id = kiln_id_new("ami");
        t.img.creation_date = kiln_time_now_iso();
        plan_snapshots(&t, imported, t.img.creation_date);
        windows = kiln_platform_is_windows(platform);
        t.img.region = (char *) ctx->region->name;
        t.img.owner_id = ctx->account;
        t.img.name = (char *) spec->name;
        t.img.description = (char *) (spec->description ? spec->description : "");
        t.img.state = (char *) "available";
        t.img.architecture = (char *) (spec->architecture ? spec->architecture : "x86_64");
        t.img.platform = (char *) (windows ? "windows" : "linux");
        t.img.default_user = (char *) (user ? user : windows ? "Administrator" : "");
        t.img.boot_mode = (char *) (spec->boot_mode ? spec->boot_mode : "legacy-bios");
        t.img.tpm_support = (char *) spec->tpm_support;
        t.img.secure_boot = spec->secure_boot;
        t.img.no_ena = spec->no_ena;
        t.img.rtc = (char *) spec->rtc;
        t.img.owner_alias = (char *) spec->owner_alias;
        t.img.hourly_price = spec->hourly_price;
        platform = t.img.platform;
        user = t.img.default_user;

        kiln_crash_point("register.after-validate");
        pool = ctx_pool(ctx, ctx->region->name, err);
        if (!pool || registry_write(ctx->reg, register_reserve, &t, err) < 0)
                goto out;
        kiln_crash_point("register.after-reserve");
        r = upload_disks(&t, pool, &up, err);
        if (r == 0) {
                kiln_crash_point("register.after-upload");
                r = registry_write(ctx->reg, register_commit, &t, err);
                if (r == 0)
                        kiln_crash_point("register.after-commit");
        }
        if (r < 0) {
                /* Rollback: quiet, and the first error stays. */
                for (size_t i = 0; i < t.n_disks; i++)
                        if (t.disks[i].uploaded)
                                virt_volume_delete(pool, t.disks[i].snap.volume, NULL);
                registry_write(ctx->reg, register_forget, &t, NULL);
        }
        if (r == 0)
                *ret_image_id = kiln_steal(&t.img.image_id);
out:
        free(t.uefi);
        txn_clear(&t, platform, user);
        disk_os_clear(&os);
        return r;
}

int kiln_image_register(kiln_ctx *ctx, const kiln_register_spec *spec, kiln_progress_fn progress,
                        void *userdata, char **ret_image_id, kiln_error **err)
{
        return image_register_disk(ctx, spec, false, progress, userdata, ret_image_id, err);
}
