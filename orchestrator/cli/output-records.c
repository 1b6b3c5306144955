/* JSON of kiln's records in the shapes and member order of the aws CLI 2.9.19
 * (reference/ec2-ami.md §4); members EC2 lacks come after the known ones. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* aws CLI v2 prints timestamps as 2024-01-02T03:04:05.123000+00:00. */
char *cli_timestamp(const char *iso)
{
        char *s;

        if (!iso)
                return NULL;
        if (asprintf(&s, "%.19s.%.3s000+00:00", iso, strlen(iso) >= 23 ? iso + 20 : "000") < 0)
                abort();
        return s;
}

void cli_emit_tags(cli_writer *w, const kiln_tag *tags, size_t n)
{
        if (!n)
                return;
        cli_w_array(w, "Tags");
        for (size_t i = 0; i < n; i++) {
                cli_w_object(w, NULL);
                cli_w_str(w, "Key", tags[i].key);
                cli_w_str(w, "Value", tags[i].value);
                cli_w_end_object(w);
        }
        cli_w_end_array(w);
}

void cli_emit_image(cli_writer *w, const kiln_image *img)
{
        bool windows = strcmp(img->platform, "windows") == 0;
        char location[512];

        snprintf(location, sizeof(location), "%s/%s", img->owner_id, img->name);
        cli_w_object(w, NULL);
        cli_w_str(w, "Architecture", img->architecture);
        cli_w_str(w, "CreationDate", img->creation_date);
        cli_w_str(w, "ImageId", img->image_id);
        cli_w_str(w, "ImageLocation", location);
        cli_w_str(w, "ImageType", "machine");
        cli_w_bool(w, "Public", img->is_public);
        cli_w_str(w, "OwnerId", img->owner_id);
        if (windows)
                cli_w_str(w, "Platform", "windows");
        cli_w_str(w, "PlatformDetails", windows ? "Windows" : "Linux/UNIX");
        cli_w_str(w, "UsageOperation", windows ? "RunInstances:0002" : "RunInstances");
        cli_w_array(w, "ProductCodes");
        cli_w_end_array(w);
        cli_w_str(w, "State", img->state);
        cli_w_array(w, "BlockDeviceMappings");
        for (size_t i = 0; i < img->n_mappings; i++) {
                const kiln_block_device_mapping *m = &img->mappings[i];

                cli_w_object(w, NULL);
                cli_w_str(w, "DeviceName", m->device_name);
                cli_w_object(w, "Ebs");
                cli_w_bool(w, "DeleteOnTermination", m->delete_on_termination);
                cli_w_str(w, "SnapshotId", m->snapshot_id);
                cli_w_int(w, "VolumeSize", m->volume_size);
                cli_w_str(w, "VolumeType", m->volume_type);
                cli_w_bool(w, "Encrypted", false);
                cli_w_end_object(w);
                cli_w_end_object(w);
        }
        cli_w_end_array(w);
        cli_w_str(w, "Description", img->description);
        cli_w_bool(w, "EnaSupport", true);
        cli_w_str(w, "Hypervisor", "xen");
        cli_w_str(w, "ImageOwnerAlias", img->owner_alias);
        cli_w_str(w, "Name", img->name);
        cli_w_str(w, "RootDeviceName", img->root_device_name);
        cli_w_str(w, "RootDeviceType", "ebs");
        if (img->state_reason_code) {
                cli_w_object(w, "StateReason");
                cli_w_str(w, "Code", img->state_reason_code);
                cli_w_str(w, "Message", img->state_reason_message);
                cli_w_end_object(w);
        }
        cli_emit_tags(w, img->tags, img->n_tags);
        cli_w_str(w, "VirtualizationType", "hvm");
        cli_w_str(w, "BootMode", img->boot_mode);
        cli_w_str(w, "SourceInstanceId", img->source_instance_id);
        cli_w_str(w, "SourceImageId", img->source_image_id);
        cli_w_str(w, "SourceImageRegion", img->source_region);
        if (img->default_user && *img->default_user)
                cli_w_str(w, "DefaultUser", img->default_user);
        cli_w_end_object(w);
}

void cli_emit_snapshot(cli_writer *w, const kiln_snapshot *s)
{
        char *start = cli_timestamp(s->start_time);

        cli_w_object(w, NULL);
        cli_w_str(w, "Description", s->description);
        cli_w_bool(w, "Encrypted", false);
        cli_w_str(w, "OwnerId", s->owner_id);
        cli_w_str(w, "Progress", strcmp(s->state, "completed") == 0 ? "100%" : "0%");
        cli_w_str(w, "SnapshotId", s->snapshot_id);
        cli_w_str(w, "StartTime", start);
        cli_w_str(w, "State", s->state);
        cli_w_str(w, "VolumeId", s->volume_id ? s->volume_id : "vol-ffffffff");
        cli_w_int(w, "VolumeSize", s->volume_size);
        cli_emit_tags(w, s->tags, s->n_tags);
        cli_w_str(w, "StorageTier", "standard");
        cli_w_str(w, "ParentSnapshotId", s->parent_id);
        cli_w_end_object(w);
        free(start);
}

json_t *cli_permissions_json(const kiln_permission *p, size_t n)
{
        json_t *arr = json_array();

        for (size_t i = 0; i < n; i++) {
                switch (p[i].kind) {
                case KILN_PERM_ALL:
                        json_array_append_new(arr, json_pack("{s:s}", "Group", "all"));
                        break;
                case KILN_PERM_USER:
                        json_array_append_new(arr, json_pack("{s:s}", "UserId", p[i].value));
                        break;
                case KILN_PERM_ORG:
                        json_array_append_new(arr,
                                              json_pack("{s:s}", "OrganizationArn", p[i].value));
                        break;
                case KILN_PERM_OU:
                case KILN_PERM_COUNT:
                        json_array_append_new(
                                arr, json_pack("{s:s}", "OrganizationalUnitArn", p[i].value));
                        break;
                }
        }
        return arr;
}
