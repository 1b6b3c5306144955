/* Freeing the records the public API hands out. */
#include <string.h>

#include "util/util.h"

#include <kiln/access.h>
#include <kiln/image.h>
#include <kiln/instance.h>
#include <kiln/keypair.h>
#include <kiln/tag.h>
#include <kiln/volume.h>

void kiln_tags_free(kiln_tag *tags, size_t n)
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
                           &img->state_reason_code, &img->state_reason_message,
                           &img->tpm_support,       &img->rtc};

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
        kiln_tags_free(img->tags, img->n_tags);
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
        kiln_tags_free(s->tags, s->n_tags);
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
        free(a->value);
        kiln_permissions_free(a->perms, a->n_perms);
        memset(a, 0, sizeof(*a));
}

bool kiln_platform_is_windows(const char *platform)
{
        return platform && strcmp(platform, "windows") == 0;
}

void kiln_instance_clear(kiln_instance *inst)
{
        char **f[] = {&inst->instance_id,
                      &inst->reservation_id,
                      &inst->region,
                      &inst->owner_id,
                      &inst->image_id,
                      &inst->instance_type,
                      &inst->key_name,
                      &inst->state,
                      &inst->state_reason_code,
                      &inst->state_reason_message,
                      &inst->transition_reason,
                      &inst->launch_time,
                      &inst->platform,
                      &inst->default_user,
                      &inst->architecture,
                      &inst->boot_mode,
                      &inst->root_device_name,
                      &inst->network,
                      &inst->host,
                      &inst->host_key,
                      &inst->accel,
                      &inst->client_token,
                      &inst->vpc_id,
                      &inst->subnet_id,
                      &inst->status,
                      &inst->tpm_support,
                      &inst->nvram_volume,
                      &inst->rtc,
                      &inst->host_id,
                      &inst->zone};

        if (!inst)
                return;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(f); i++)
                free(*f[i]);
        for (size_t i = 0; i < inst->n_volumes; i++) {
                free(inst->volumes[i].volume_id);
                free(inst->volumes[i].device_name);
                free(inst->volumes[i].snapshot_id);
                free(inst->volumes[i].attach_time);
                free(inst->volumes[i].file);
        }
        free(inst->volumes);
        kiln_tags_free(inst->tags, inst->n_tags);
        for (size_t i = 0; i < inst->n_groups; i++) {
                free(inst->groups[i].group_id);
                free(inst->groups[i].group_name);
        }
        free(inst->groups);
        for (size_t i = 0; i < inst->n_forwards; i++)
                free(inst->forwards[i].protocol);
        free(inst->forwards);
        memset(inst, 0, sizeof(*inst));
}

void kiln_instances_free(kiln_instance *list, size_t n)
{
        for (size_t i = 0; list && i < n; i++)
                kiln_instance_clear(&list[i]);
        free(list);
}

void kiln_state_changes_free(kiln_state_change *c, size_t n)
{
        for (size_t i = 0; c && i < n; i++) {
                free(c[i].instance_id);
                free(c[i].previous);
                free(c[i].current);
        }
        free(c);
}

void kiln_connection_clear(kiln_connection *c)
{
        free(c->protocol);
        free(c->host);
        free(c->user);
        free(c->known_hosts_line);
        free(c->known_hosts_file);
        free(c->identity_file);
        free(c->command);
        free(c->rdp_file);
        free(c->proxy_jump);
        memset(c, 0, sizeof(*c));
}

void kiln_access_key_clear(kiln_access_key *k)
{
        if (!k)
                return;
        free(k->access_key_id);
        free(k->account_id);
        free(k->status);
        free(k->create_date);
        if (k->secret)
                explicit_bzero(k->secret, strlen(k->secret));
        free(k->secret);
        memset(k, 0, sizeof(*k));
}

void kiln_access_keys_free(kiln_access_key *k, size_t n)
{
        for (size_t i = 0; i < n; i++)
                kiln_access_key_clear(&k[i]);
        free(k);
}

void kiln_sigv4_identity_clear(kiln_sigv4_identity *id)
{
        if (!id)
                return;
        free(id->access_key_id);
        free(id->account_id);
        free(id->region);
        memset(id, 0, sizeof(*id));
}

void kiln_keypair_clear(kiln_keypair *kp)
{
        if (!kp)
                return;
        free(kp->key_pair_id);
        free(kp->key_name);
        free(kp->key_type);
        free(kp->fingerprint);
        free(kp->public_key);
        free(kp->create_time);
        free(kp->private_key_path);
        free(kp->region);
        free(kp->owner_id);
        kiln_tags_free(kp->tags, kp->n_tags);
        memset(kp, 0, sizeof(*kp));
}

void kiln_sg_rules_free(kiln_sg_rule *rules, size_t n)
{
        for (size_t i = 0; rules && i < n; i++) {
                free(rules[i].rule_id);
                free(rules[i].ip_protocol);
                free(rules[i].cidr_ipv4);
                free(rules[i].description);
        }
        free(rules);
}

void kiln_security_group_clear(kiln_security_group *sg)
{
        if (!sg)
                return;
        free(sg->group_id);
        free(sg->group_name);
        free(sg->description);
        free(sg->vpc_id);
        free(sg->owner_id);
        free(sg->region);
        kiln_sg_rules_free(sg->ingress, sg->n_ingress);
        kiln_tags_free(sg->tags, sg->n_tags);
        memset(sg, 0, sizeof(*sg));
}

void kiln_security_groups_free(kiln_security_group *list, size_t n)
{
        for (size_t i = 0; list && i < n; i++)
                kiln_security_group_clear(&list[i]);
        free(list);
}

void kiln_keypairs_free(kiln_keypair *kps, size_t n)
{
        for (size_t i = 0; kps && i < n; i++)
                kiln_keypair_clear(&kps[i]);
        free(kps);
}

void kiln_tag_descriptions_free(kiln_tag_description *d, size_t n)
{
        for (size_t i = 0; d && i < n; i++) {
                free(d[i].key);
                free(d[i].resource_id);
                free(d[i].resource_type);
                free(d[i].value);
        }
        free(d);
}

void kiln_volume_clear(kiln_volume *v)
{
        if (!v)
                return;
        char **f[] = {&v->volume_id, &v->region,      &v->owner_id,    &v->snapshot_id,
                      &v->state,     &v->volume_type, &v->create_time, &v->instance_id,
                      &v->device,    &v->attach_time, &v->zone};

        for (size_t i = 0; i < KILN_ARRAY_SIZE(f); i++)
                free(*f[i]);
        kiln_tags_free(v->tags, v->n_tags);
        memset(v, 0, sizeof(*v));
}

void kiln_volumes_free(kiln_volume *list, size_t n)
{
        for (size_t i = 0; list && i < n; i++)
                kiln_volume_clear(&list[i]);
        free(list);
}
