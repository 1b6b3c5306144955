/* The records' shapes, once for both front ends (see <kiln/shape.h>): member names as the
 * aws CLI 2.9.19 prints them and as EC2's XML carries them (botocore's locationName), in the
 * CLI's order; kiln's own members last. */
#include <stdio.h>
#include <string.h>

#include <kiln/shape.h>

#include "util/util.h"

#define STR(s, j, x, v)  (s)->str((s), (j), (x), (v))
#define INT(s, j, x, v)  (s)->integer((s), (j), (x), (v))
#define BOOL(s, j, x, v) (s)->boolean((s), (j), (x), (v))
#define TIME(s, j, x, v) (s)->time((s), (j), (x), (v))

void kiln_shape_tags(kiln_sink *s, const kiln_tag *tags, size_t n)
{
        if (!n)
                return;
        s->array(s, "Tags", "tagSet");
        for (size_t i = 0; i < n; i++) {
                s->object(s, NULL, NULL);
                STR(s, "Key", "key", tags[i].key);
                STR(s, "Value", "value", tags[i].value);
                s->end_object(s);
        }
        s->end_array(s);
}

static void mappings(kiln_sink *s, const kiln_image *img)
{
        s->array(s, "BlockDeviceMappings", "blockDeviceMapping");
        for (size_t i = 0; i < img->n_mappings; i++) {
                const kiln_block_device_mapping *m = &img->mappings[i];

                s->object(s, NULL, NULL);
                STR(s, "DeviceName", "deviceName", m->device_name);
                s->object(s, "Ebs", "ebs");
                BOOL(s, "DeleteOnTermination", "deleteOnTermination", m->delete_on_termination);
                STR(s, "SnapshotId", "snapshotId", m->snapshot_id);
                INT(s, "VolumeSize", "volumeSize", m->volume_size);
                STR(s, "VolumeType", "volumeType", m->volume_type);
                BOOL(s, "Encrypted", "encrypted", false);
                s->end_object(s);
                s->end_object(s);
        }
        s->end_array(s);
}

void kiln_shape_image(kiln_sink *s, const kiln_image *img)
{
        bool windows = img->platform && strcmp(img->platform, "windows") == 0;
        kiln_autofree char *location = kiln_xasprintf("%s/%s", img->owner_id, img->name);

        s->object(s, NULL, NULL);
        STR(s, "Architecture", "architecture", img->architecture);
        /* a String in EC2's model, printed as sent, unlike the DateTime members */
        STR(s, "CreationDate", "creationDate", img->creation_date);
        STR(s, "ImageId", "imageId", img->image_id);
        STR(s, "ImageLocation", "imageLocation", location);
        STR(s, "ImageType", "imageType", "machine");
        BOOL(s, "Public", "isPublic", img->is_public);
        STR(s, "OwnerId", "imageOwnerId", img->owner_id);
        if (windows)
                STR(s, "Platform", "platform", "windows");
        STR(s, "PlatformDetails", "platformDetails", windows ? "Windows" : "Linux/UNIX");
        STR(s, "UsageOperation", "usageOperation", windows ? "RunInstances:0002" : "RunInstances");
        s->array(s, "ProductCodes", "productCodes");
        s->end_array(s);
        STR(s, "State", "imageState", img->state);
        mappings(s, img);
        STR(s, "Description", "description", img->description);
        BOOL(s, "EnaSupport", "enaSupport", true);
        STR(s, "Hypervisor", "hypervisor", "xen");
        STR(s, "ImageOwnerAlias", "imageOwnerAlias", img->owner_alias);
        STR(s, "Name", "name", img->name);
        STR(s, "RootDeviceName", "rootDeviceName", img->root_device_name);
        STR(s, "RootDeviceType", "rootDeviceType", "ebs");
        if (img->state_reason_code) {
                s->object(s, "StateReason", "stateReason");
                STR(s, "Code", "code", img->state_reason_code);
                STR(s, "Message", "message", img->state_reason_message);
                s->end_object(s);
        }
        kiln_shape_tags(s, img->tags, img->n_tags);
        STR(s, "VirtualizationType", "virtualizationType", "hvm");
        STR(s, "BootMode", "bootMode", img->boot_mode);
        STR(s, "SourceInstanceId", "sourceInstanceId", img->source_instance_id);
        STR(s, "SourceImageId", "sourceImageId", img->source_image_id);
        STR(s, "SourceImageRegion", "sourceImageRegion", img->source_region);
        if (img->default_user && *img->default_user)
                STR(s, "DefaultUser", "defaultUser", img->default_user);
        s->end_object(s);
}

void kiln_shape_snapshot(kiln_sink *s, const kiln_snapshot *snap)
{
        s->object(s, NULL, NULL);
        STR(s, "Description", "description", snap->description);
        BOOL(s, "Encrypted", "encrypted", false);
        STR(s, "OwnerId", "ownerId", snap->owner_id);
        STR(s, "Progress", "progress", strcmp(snap->state, "completed") == 0 ? "100%" : "0%");
        STR(s, "SnapshotId", "snapshotId", snap->snapshot_id);
        TIME(s, "StartTime", "startTime", snap->start_time);
        STR(s, "State", "status", snap->state);
        STR(s, "VolumeId", "volumeId", snap->volume_id ? snap->volume_id : "vol-ffffffff");
        INT(s, "VolumeSize", "volumeSize", snap->volume_size);
        kiln_shape_tags(s, snap->tags, snap->n_tags);
        STR(s, "StorageTier", "storageTier", "standard");
        STR(s, "ParentSnapshotId", "parentSnapshotId", snap->parent_id);
        s->end_object(s);
}

void kiln_shape_volume_attachment(kiln_sink *s, const kiln_volume *v, const char *state)
{
        s->object(s, NULL, NULL);
        TIME(s, "AttachTime", "attachTime", v->attach_time);
        STR(s, "Device", "device", v->device);
        STR(s, "InstanceId", "instanceId", v->instance_id);
        STR(s, "State", "status", state);
        STR(s, "VolumeId", "volumeId", v->volume_id);
        BOOL(s, "DeleteOnTermination", "deleteOnTermination", v->delete_on_termination);
        s->end_object(s);
}

void kiln_shape_volume(kiln_sink *s, const kiln_volume *v, bool attachments)
{
        kiln_autofree char *zone = kiln_xasprintf("%sa", v->region);

        s->object(s, NULL, NULL);
        if (attachments) {
                s->array(s, "Attachments", "attachmentSet");
                if (v->instance_id)
                        kiln_shape_volume_attachment(s, v, "attached");
                s->end_array(s);
        }
        STR(s, "AvailabilityZone", "availabilityZone", zone);
        TIME(s, "CreateTime", "createTime", v->create_time);
        BOOL(s, "Encrypted", "encrypted", false);
        INT(s, "Size", "size", v->size);
        STR(s, "SnapshotId", "snapshotId", v->snapshot_id ? v->snapshot_id : "");
        STR(s, "State", "status", v->state);
        STR(s, "VolumeId", "volumeId", v->volume_id);
        kiln_shape_tags(s, v->tags, v->n_tags);
        STR(s, "VolumeType", "volumeType", v->volume_type);
        BOOL(s, "MultiAttachEnabled", "multiAttachEnabled", false);
        s->end_object(s);
}

void kiln_shape_keypair(kiln_sink *s, const kiln_keypair *kp)
{
        s->object(s, NULL, NULL);
        STR(s, "KeyPairId", "keyPairId", kp->key_pair_id);
        STR(s, "KeyFingerprint", "keyFingerprint", kp->fingerprint);
        STR(s, "KeyName", "keyName", kp->key_name);
        STR(s, "KeyType", "keyType", kp->key_type);
        kiln_shape_tags(s, kp->tags, kp->n_tags);
        STR(s, "PublicKey", "publicKey", kp->public_key);
        TIME(s, "CreateTime", "createTime", kp->create_time);
        s->end_object(s);
}

void kiln_shape_keypair_made(kiln_sink *s, const kiln_keypair *kp, const char *material)
{
        s->object(s, NULL, NULL);
        STR(s, "KeyFingerprint", "keyFingerprint", kp->fingerprint);
        STR(s, "KeyMaterial", "keyMaterial", material);
        STR(s, "KeyName", "keyName", kp->key_name);
        STR(s, "KeyPairId", "keyPairId", kp->key_pair_id);
        kiln_shape_tags(s, kp->tags, kp->n_tags);
        s->end_object(s);
}

void kiln_shape_region(kiln_sink *s, const kiln_region_info *r)
{
        s->object(s, NULL, NULL);
        STR(s, "Endpoint", "regionEndpoint", r->uri);
        STR(s, "RegionName", "regionName", r->name);
        STR(s, "OptInStatus", "optInStatus", "opt-in-not-required");
        STR(s, "Pool", "pool", r->pool);
        STR(s, "PoolPath", "poolPath", r->pool_path);
        STR(s, "Network", "network", r->network);
        s->end_object(s);
}

static void permissions(kiln_sink *s, const char *json, const char *xml, const kiln_permission *p,
                        size_t n)
{
        s->array(s, json, xml);
        for (size_t i = 0; i < n; i++) {
                s->object(s, NULL, NULL);
                switch (p[i].kind) {
                case KILN_PERM_ALL:
                        STR(s, "Group", "group", "all");
                        break;
                case KILN_PERM_USER:
                        STR(s, "UserId", "userId", p[i].value);
                        break;
                case KILN_PERM_ORG:
                        STR(s, "OrganizationArn", "organizationArn", p[i].value);
                        break;
                case KILN_PERM_OU:
                case KILN_PERM_COUNT:
                        STR(s, "OrganizationalUnitArn", "organizationalUnitArn", p[i].value);
                        break;
                }
                s->end_object(s);
        }
        s->end_array(s);
}

void kiln_shape_image_attribute(kiln_sink *s, const kiln_image_attribute *a, const char *attribute)
{
        s->object(s, NULL, NULL);
        STR(s, "ImageId", "imageId", a->image_id);
        if (strcmp(attribute, "launchPermission") == 0) {
                permissions(s, "LaunchPermissions", "launchPermission", a->perms, a->n_perms);
        } else {
                s->object(s, "Description", "description");
                STR(s, "Value", "value", a->description);
                s->end_object(s);
        }
        s->end_object(s);
}

void kiln_shape_snapshot_attribute(kiln_sink *s, const char *snapshot_id, const kiln_permission *p,
                                   size_t n)
{
        s->object(s, NULL, NULL);
        permissions(s, "CreateVolumePermissions", "createVolumePermission", p, n);
        STR(s, "SnapshotId", "snapshotId", snapshot_id);
        s->end_object(s);
}

void kiln_shape_list_begin(kiln_sink *s, kiln_list_kind kind)
{
        static const char *const names[][2] = {
                [KILN_LIST_IMAGES] = {"Images", "imagesSet"},
                [KILN_LIST_SNAPSHOTS] = {"Snapshots", "snapshotSet"},
                [KILN_LIST_VOLUMES] = {"Volumes", "volumeSet"},
                [KILN_LIST_KEY_PAIRS] = {"KeyPairs", "keySet"},
                [KILN_LIST_REGIONS] = {"Regions", "regionInfo"},
        };

        s->array(s, names[kind][0], names[kind][1]);
}
