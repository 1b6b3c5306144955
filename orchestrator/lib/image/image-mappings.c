/* BlockDeviceMappings on an image's: a device of the image may grow, change its
 * DeleteOnTermination or type, or be left out (NoDevice); other devices are added, empty or
 * from a snapshot the caller may read. RunInstances applies them to the image it launches (the
 * result replaces the image record's mappings for the launch, in order: the image's first,
 * then the added ones as asked); RegisterImage to an image that has only its disks so far. */
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include <kiln/instance.h>

#include "image/image-rules.h"
#include "util/util.h"

#define MAX_DEVICES 15 /* vda to vdo: the seed is vdz */
#define MAX_GIB     16384

static int bad_mapping(kiln_error **err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static int bad_mapping(kiln_error **err, const char *fmt, ...)
{
        kiln_autofree char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        msg = kiln_xvasprintf(fmt, ap);
        va_end(ap);
        return kiln_error_set(err, KILN_E_INVALID, "InvalidBlockDeviceMapping", "%s", msg);
}

static bool device_ok(const char *d)
{
        static const char *const prefixes[] = {"/dev/sd", "/dev/xvd", "/dev/vd"};

        for (size_t i = 0; d && i < KILN_ARRAY_SIZE(prefixes); i++) {
                size_t n = strlen(prefixes[i]);

                if (strncmp(d, prefixes[i], n) == 0 && d[n] >= 'a' && d[n] <= 'z' &&
                    (d[n + 1] == '\0' || (d[n + 1] >= '1' && d[n + 1] <= '9' && !d[n + 2])))
                        return true;
        }
        return false;
}

/* The snapshot a new volume grows from, readable by the caller and completed: its size. */
static int snapshot_size(kiln_ctx *ctx, registry *r, const char *id, int64_t *ret, kiln_error **err)
{
        kiln_autoptr(kiln_error) e = NULL;
        registry_snapshot s = {0};
        bool readable = false;
        int rc;

        if (rules_check_snapshot_id(id, err) < 0)
                return -1;
        if (rules_snapshot_restorable(ctx, r, id, &readable, &e) < 0 &&
            e->code != KILN_E_NOT_FOUND) {
                *err = kiln_steal(&e);
                return -1;
        }
        rc = readable && registry_snapshot_get(r, id, &s, NULL) == 0 &&
                             strcmp(s.s.state, "completed") == 0
                     ? 0
                     : -1;
        *ret = s.s.volume_size;
        registry_snapshot_clear(&s);
        if (rc < 0)
                return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidSnapshot.NotFound",
                                      "The snapshot '%s' does not exist.", id);
        return 0;
}

static int size_check(const kiln_mapping_spec *q, int64_t min, const char *snap, kiln_error **err)
{
        if (q->volume_size < 0 || q->volume_size > MAX_GIB)
                return bad_mapping(err, "Volume size for %s is out of range: 1 to 16384 GiB",
                                   q->device_name);
        if (q->volume_size == 0 || q->volume_size >= min)
                return 0;
        return bad_mapping(err,
                           "Volume of size %" PRId64 "GB is smaller than snapshot '%s', expect "
                           "size >= %" PRId64 "GB",
                           q->volume_size, snap, min);
}

/* Applies q to the image's mapping m (the same device). */
static int change_mapping(const kiln_image *img, kiln_block_device_mapping *m,
                          const kiln_mapping_spec *q, kiln_error **err)
{
        if (q->snapshot_id && (!m->snapshot_id || strcmp(q->snapshot_id, m->snapshot_id) != 0))
                return bad_mapping(err,
                                   "%s of the image maps %s: a launch may change its size, type "
                                   "and DeleteOnTermination, not its snapshot",
                                   q->device_name, m->snapshot_id);
        if (size_check(q, m->volume_size, m->snapshot_id, err) < 0)
                return -1;
        if (q->volume_size)
                m->volume_size = q->volume_size;
        if (q->delete_on_termination >= 0)
                m->delete_on_termination = q->delete_on_termination != 0;
        if (q->volume_type) {
                free(m->volume_type);
                m->volume_type = kiln_xstrdup(q->volume_type);
        }
        (void) img;
        return 0;
}

/* A mapping for a device the image does not have. */
static int add_mapping(kiln_ctx *ctx, registry *r, kiln_image *img, const kiln_mapping_spec *q,
                       kiln_error **err)
{
        kiln_block_device_mapping m = {0};
        int64_t min = 0;

        if (q->snapshot_id && snapshot_size(ctx, r, q->snapshot_id, &min, err) < 0)
                return -1;
        if (!q->snapshot_id && q->volume_size == 0)
                return bad_mapping(err, "%s needs a VolumeSize or a SnapshotId", q->device_name);
        if (size_check(q, min, q->snapshot_id ? q->snapshot_id : "", err) < 0)
                return -1;
        if (img->n_mappings >= MAX_DEVICES)
                return bad_mapping(err, "%s is one device too many: at most 15", q->device_name);
        m.device_name = kiln_xstrdup(q->device_name);
        m.snapshot_id = q->snapshot_id ? kiln_xstrdup(q->snapshot_id) : NULL;
        m.volume_size = q->volume_size ? q->volume_size : min;
        m.delete_on_termination = q->delete_on_termination != 0;
        m.volume_type = kiln_xstrdup(q->volume_type ? q->volume_type : "standard");
        img->mappings = kiln_xrealloc(img->mappings, (img->n_mappings + 1) * sizeof(m));
        img->mappings[img->n_mappings++] = m;
        return 0;
}

static void drop_mapping(kiln_image *img, size_t i)
{
        free(img->mappings[i].device_name);
        free(img->mappings[i].snapshot_id);
        free(img->mappings[i].volume_type);
        memmove(&img->mappings[i], &img->mappings[i + 1],
                (img->n_mappings - i - 1) * sizeof(img->mappings[0]));
        img->n_mappings--;
}

int image_mappings_apply(kiln_ctx *ctx, registry *r, kiln_image *img, const kiln_mapping_spec *req,
                         size_t n, kiln_error **err)
{
        for (size_t i = 0; i < n; i++) {
                const kiln_mapping_spec *q = &req[i];
                size_t at = img->n_mappings;

                if (!device_ok(q->device_name))
                        return bad_mapping(err,
                                           "Invalid device name '%s': /dev/sdX, /dev/xvdX or "
                                           "/dev/vdX",
                                           q->device_name ? q->device_name : "");
                for (size_t k = 0; k < i; k++)
                        if (strcmp(req[k].device_name, q->device_name) == 0)
                                return bad_mapping(err,
                                                   "The device '%s' is used in more than one "
                                                   "block-device mapping",
                                                   q->device_name);
                for (size_t k = 0; k < img->n_mappings; k++)
                        if (strcmp(img->mappings[k].device_name, q->device_name) == 0)
                                at = k;
                if (q->no_device && at == img->n_mappings)
                        continue; /* nothing of the image's to leave out */
                if (q->no_device && strcmp(q->device_name, img->root_device_name) == 0)
                        return bad_mapping(err, "The root device %s cannot be left out",
                                           q->device_name);
                if (q->no_device) {
                        drop_mapping(img, at);
                        continue;
                }
                if ((at < img->n_mappings ? change_mapping(img, &img->mappings[at], q, err)
                                          : add_mapping(ctx, r, img, q, err)) < 0)
                        return -1;
        }
        return 0;
}
