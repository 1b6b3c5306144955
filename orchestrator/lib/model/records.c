/* Freeing the records the public API hands out. */
#include <string.h>

#include "util/util.h"

#include <kiln/image.h>

static void tags_free(kiln_tag *tags, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(tags[i].key);
                free(tags[i].value);
        }
        free(tags);
}

void kiln_image_clear(kiln_image *img)
{
        char **fields[] = {&img->image_id,          &img->region,
                           &img->owner_id,          &img->name,
                           &img->description,       &img->state,
                           &img->architecture,      &img->platform,
                           &img->default_user,      &img->boot_mode,
                           &img->root_device_name,  &img->creation_date,
                           &img->owner_alias,       &img->source_image_id,
                           &img->source_region,     &img->source_instance_id,
                           &img->state_reason_code, &img->state_reason_message};

        if (!img)
                return;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(fields); i++)
                free(*fields[i]);
        for (size_t i = 0; i < img->n_mappings; i++) {
                free(img->mappings[i].device_name);
                free(img->mappings[i].snapshot_id);
                free(img->mappings[i].volume_type);
        }
        free(img->mappings);
        kiln_permissions_free(img->launch_permissions, img->n_launch_permissions);
        tags_free(img->tags, img->n_tags);
        memset(img, 0, sizeof(*img));
}

void kiln_images_free(kiln_image *imgs, size_t n)
{
        for (size_t i = 0; imgs && i < n; i++)
                kiln_image_clear(&imgs[i]);
        free(imgs);
}

void kiln_snapshot_clear(kiln_snapshot *s)
{
        if (!s)
                return;
        free(s->snapshot_id);
        free(s->region);
        free(s->owner_id);
        free(s->parent_id);
        free(s->description);
        free(s->state);
        free(s->start_time);
        free(s->volume_id);
        tags_free(s->tags, s->n_tags);
        memset(s, 0, sizeof(*s));
}

void kiln_snapshots_free(kiln_snapshot *s, size_t n)
{
        for (size_t i = 0; s && i < n; i++)
                kiln_snapshot_clear(&s[i]);
        free(s);
}

void kiln_permissions_free(kiln_permission *p, size_t n)
{
        for (size_t i = 0; p && i < n; i++)
                free(p[i].value);
        free(p);
}

void kiln_image_attribute_clear(kiln_image_attribute *a)
{
        if (!a)
                return;
        free(a->image_id);
        free(a->description);
        kiln_permissions_free(a->perms, a->n_perms);
        memset(a, 0, sizeof(*a));
}
