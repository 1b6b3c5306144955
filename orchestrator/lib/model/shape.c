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
        bool windows = kiln_platform_is_windows(img->platform);
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
        BOOL(s, "EnaSupport", "enaSupport", !img->no_ena);
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
        STR(s, "TpmSupport", "tpmSupport", img->tpm_support);
        STR(s, "SourceInstanceId", "sourceInstanceId", img->source_instance_id);
        STR(s, "SourceImageId", "sourceImageId", img->source_image_id);
        STR(s, "SourceImageRegion", "sourceImageRegion", img->source_region);
        if (img->default_user && *img->default_user)
                STR(s, "DefaultUser", "defaultUser", img->default_user);
        if (img->secure_boot)
                BOOL(s, "SecureBoot", "secureBoot", true);
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
        kiln_autofree char *zone =
                v->zone ? kiln_xstrdup(v->zone) : kiln_xasprintf("%sa", v->region);

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
        STR(s, "ListenAddress", "listenAddress", r->listen_address);
        if (r->n_hosts > 1) {
                s->array(s, "Hosts", "hostSet");
                for (size_t i = 0; i < r->n_hosts; i++) {
                        s->object(s, NULL, NULL);
                        STR(s, "HostId", "hostId", r->hosts[i].host_id);
                        STR(s, "ZoneName", "zoneName", r->hosts[i].zone);
                        STR(s, "Uri", "uri", r->hosts[i].uri);
                        STR(s, "PoolPath", "poolPath", r->hosts[i].pool_path);
                        STR(s, "ListenAddress", "listenAddress", r->hosts[i].listen_address);
                        s->end_object(s);
                }
                s->end_array(s);
        }
        s->end_object(s);
}

void kiln_shape_availability_zone(kiln_sink *s, const kiln_region_info *r, const kiln_host_info *h)
{
        s->object(s, NULL, NULL);
        STR(s, "State", "zoneState", "available");
        STR(s, "OptInStatus", "optInStatus", "opt-in-not-required");
        s->array(s, "Messages", "messageSet");
        s->end_array(s);
        STR(s, "RegionName", "regionName", r->name);
        STR(s, "ZoneName", "zoneName", h->zone);
        STR(s, "ZoneId", "zoneId", h->zone);
        STR(s, "GroupName", "groupName", r->name);
        STR(s, "NetworkBorderGroup", "networkBorderGroup", r->name);
        STR(s, "ZoneType", "zoneType", "availability-zone");
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
        } else if (strcmp(attribute, "bootMode") == 0 || strcmp(attribute, "tpmSupport") == 0 ||
                   strcmp(attribute, "uefiData") == 0) {
                static const struct {
                        const char *attr, *json;
                } names[] = {{"bootMode", "BootMode"},
                             {"tpmSupport", "TpmSupport"},
                             {"uefiData", "UefiData"}};

                for (size_t i = 0; i < KILN_ARRAY_SIZE(names); i++)
                        if (strcmp(attribute, names[i].attr) == 0 && a->value) {
                                s->object(s, names[i].json, names[i].attr);
                                STR(s, "Value", "value", a->value);
                                s->end_object(s);
                        }
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

/* ==== instances ==== */

static void state(kiln_sink *s, const char *json, const char *xml, int code, const char *name)
{
        s->object(s, json, xml);
        INT(s, "Code", "code", code);
        STR(s, "Name", "name", name);
        s->end_object(s);
}

/* User networking: QEMU's fixed guest address, reached through a forward on the host. A
 * libvirt network: the address of the guest's DHCP lease, once it has one. */
static void addresses(kiln_sink *s, const kiln_instance *inst, bool running)
{
        char dns[128] = "";

        if (inst->network && running && inst->host) {
                int n = snprintf(dns, sizeof(dns), "ip-%s", inst->host);

                for (int i = 0; i < n && dns[i]; i++)
                        if (dns[i] == '.' || dns[i] == ':')
                                dns[i] = '-';
                snprintf(dns + strlen(dns), sizeof(dns) - strlen(dns), ".compute.internal");
        } else if (!inst->network && running) {
                snprintf(dns, sizeof(dns), "ip-10-0-2-15.compute.internal");
        }
        STR(s, "PrivateDnsName", "privateDnsName", dns);
        if (running)
                STR(s, "PrivateIpAddress", "privateIpAddress",
                    inst->network ? inst->host : "10.0.2.15");
        s->array(s, "ProductCodes", "productCodes");
        s->end_array(s);
        STR(s, "PublicDnsName", "dnsName",
            inst->network || !running                            ? ""
            : inst->host && strcmp(inst->host, "127.0.0.1") != 0 ? inst->host
                                                                 : "localhost");
        if (!inst->network && running)
                STR(s, "PublicIpAddress", "ipAddress", inst->host);
}

static void connection(kiln_sink *s, const kiln_connection *c, const kiln_instance *inst)
{
        s->object(s, "ConnectionInfo", "connectionInfo");
        STR(s, "Protocol", "protocol", c->protocol);
        STR(s, "Host", "host", c->host);
        INT(s, "Port", "port", c->port);
        STR(s, "User", "user", c->user);
        STR(s, "KnownHostsLine", "knownHostsLine", c->known_hosts_line);
        STR(s, "KnownHostsFile", "knownHostsFile", c->known_hosts_file);
        STR(s, "IdentityFile", "identityFile", c->identity_file);
        if (c->proxy_jump)
                STR(s, "ProxyJump", "proxyJump", c->proxy_jump);
        if (c->rdp_file) {
                STR(s, "RdpCommand", "rdpCommand", c->command);
                STR(s, "RdpFile", "rdpFile", c->rdp_file);
        } else {
                STR(s, "SshCommand", "sshCommand", c->command);
        }
        if (!inst->network) {
                s->array(s, "Forwards", "forwardSet");
                for (size_t i = 0; i < inst->n_forwards; i++) {
                        s->object(s, NULL, NULL);
                        STR(s, "Protocol", "protocol", inst->forwards[i].protocol);
                        STR(s, "Host", "host", inst->host ? inst->host : "127.0.0.1");
                        INT(s, "HostPort", "hostPort", inst->forwards[i].host_port);
                        INT(s, "GuestPort", "guestPort", inst->forwards[i].guest_port);
                        s->end_object(s);
                }
                s->end_array(s);
        }
        s->end_object(s);
}

void kiln_shape_instance(kiln_sink *s, const kiln_instance *inst, const kiln_connection *c)
{
        bool running = strcmp(inst->state, "running") == 0;
        bool windows = kiln_platform_is_windows(inst->platform);
        kiln_autofree char *zone =
                inst->zone ? kiln_xstrdup(inst->zone) : kiln_xasprintf("%sa", inst->region);

        s->object(s, NULL, NULL);
        INT(s, "AmiLaunchIndex", "amiLaunchIndex", inst->launch_index);
        STR(s, "ImageId", "imageId", inst->image_id);
        STR(s, "InstanceId", "instanceId", inst->instance_id);
        STR(s, "InstanceType", "instanceType", inst->instance_type);
        STR(s, "KeyName", "keyName", inst->key_name);
        TIME(s, "LaunchTime", "launchTime", inst->launch_time);
        s->object(s, "Monitoring", "monitoring");
        STR(s, "State", "state", "disabled");
        s->end_object(s);
        s->object(s, "Placement", "placement");
        STR(s, "AvailabilityZone", "availabilityZone", zone);
        STR(s, "GroupName", "groupName", "");
        if (inst->host_id)
                STR(s, "HostId", "hostId", inst->host_id);
        STR(s, "Tenancy", "tenancy", "default");
        s->end_object(s);
        if (windows)
                STR(s, "Platform", "platform", "windows");
        addresses(s, inst, running);
        state(s, "State", "instanceState", inst->state_code, inst->state);
        STR(s, "StateTransitionReason", "reason",
            inst->transition_reason ? inst->transition_reason : "");
        if (strcmp(inst->state, "terminated") != 0) {
                STR(s, "SubnetId", "subnetId", inst->subnet_id);
                STR(s, "VpcId", "vpcId", inst->vpc_id);
        }
        STR(s, "Architecture", "architecture", inst->architecture);
        s->array(s, "BlockDeviceMappings", "blockDeviceMapping");
        for (size_t i = 0; i < inst->n_volumes; i++) {
                const kiln_instance_volume *v = &inst->volumes[i];

                s->object(s, NULL, NULL);
                STR(s, "DeviceName", "deviceName", v->device_name);
                s->object(s, "Ebs", "ebs");
                TIME(s, "AttachTime", "attachTime", v->attach_time);
                BOOL(s, "DeleteOnTermination", "deleteOnTermination", v->delete_on_termination);
                STR(s, "Status", "status", "attached");
                STR(s, "VolumeId", "volumeId", v->volume_id);
                s->end_object(s);
                s->end_object(s);
        }
        s->end_array(s);
        STR(s, "ClientToken", "clientToken", inst->client_token ? inst->client_token : "");
        BOOL(s, "EbsOptimized", "ebsOptimized", false);
        BOOL(s, "EnaSupport", "enaSupport", !inst->no_ena);
        STR(s, "Hypervisor", "hypervisor", "xen");
        s->array(s, "NetworkInterfaces", "networkInterfaceSet");
        s->end_array(s);
        STR(s, "RootDeviceName", "rootDeviceName", inst->root_device_name);
        STR(s, "RootDeviceType", "rootDeviceType", "ebs");
        s->array(s, "SecurityGroups", "groupSet");
        for (size_t i = 0; strcmp(inst->state, "terminated") != 0 && i < inst->n_groups; i++) {
                s->object(s, NULL, NULL);
                STR(s, "GroupName", "groupName", inst->groups[i].group_name);
                STR(s, "GroupId", "groupId", inst->groups[i].group_id);
                s->end_object(s);
        }
        s->end_array(s);
        BOOL(s, "SourceDestCheck", "sourceDestCheck", true);
        if (inst->state_reason_code) {
                s->object(s, "StateReason", "stateReason");
                STR(s, "Code", "code", inst->state_reason_code);
                STR(s, "Message", "message", inst->state_reason_message);
                s->end_object(s);
        }
        kiln_shape_tags(s, inst->tags, inst->n_tags);
        STR(s, "VirtualizationType", "virtualizationType", "hvm");
        STR(s, "BootMode", "bootMode", inst->boot_mode);
        STR(s, "PlatformDetails", "platformDetails", windows ? "Windows" : "Linux/UNIX");
        STR(s, "UsageOperation", "usageOperation", windows ? "RunInstances:0002" : "RunInstances");
        STR(s, "TpmSupport", "tpmSupport", inst->tpm_support);
        if (inst->network)
                STR(s, "NetworkName", "networkName", inst->network);
        if (c && c->protocol)
                connection(s, c, inst);
        STR(s, "Accelerator", "accelerator", inst->accel);
        s->end_object(s);
}

void kiln_shape_reservation(kiln_sink *s, const kiln_instance *list, size_t n,
                            const kiln_connection *conns)
{
        s->object(s, NULL, NULL);
        s->array(s, "Groups", "groupSet");
        s->end_array(s);
        s->array(s, "Instances", "instancesSet");
        for (size_t i = 0; i < n; i++)
                kiln_shape_instance(s, &list[i], conns ? &conns[i] : NULL);
        s->end_array(s);
        STR(s, "OwnerId", "ownerId", n ? list[0].owner_id : "");
        STR(s, "ReservationId", "reservationId", n ? list[0].reservation_id : "");
        s->end_object(s);
}

void kiln_shape_reservations(kiln_sink *s, const kiln_instance *list, size_t n,
                             const kiln_connection *conns)
{
        s->array(s, "Reservations", "reservationSet");
        for (size_t first = 0, i = 1; first < n; i++) {
                if (i < n && strcmp(list[i].reservation_id, list[first].reservation_id) == 0)
                        continue;
                kiln_shape_reservation(s, &list[first], i - first, conns ? &conns[first] : NULL);
                first = i;
        }
        s->end_array(s);
}

void kiln_shape_state_changes(kiln_sink *s, kiln_change_kind kind, const kiln_state_change *c,
                              size_t n)
{
        static const char *const names[] = {
                [KILN_CHANGE_STOPPING] = "StoppingInstances",
                [KILN_CHANGE_STARTING] = "StartingInstances",
                [KILN_CHANGE_TERMINATING] = "TerminatingInstances",
        };

        s->array(s, names[kind], "instancesSet");
        for (size_t i = 0; i < n; i++) {
                s->object(s, NULL, NULL);
                state(s, "CurrentState", "currentState", c[i].current_code, c[i].current);
                STR(s, "InstanceId", "instanceId", c[i].instance_id);
                state(s, "PreviousState", "previousState", c[i].previous_code, c[i].previous);
                s->end_object(s);
        }
        s->end_array(s);
}

static void strings(kiln_sink *s, const char *json, const char *xml, const char *const *v)
{
        s->array(s, json, xml);
        for (; *v; v++)
                STR(s, NULL, NULL, *v);
        s->end_array(s);
}

void kiln_shape_instance_type(kiln_sink *s, const kiln_instance_type *t)
{
        static const char *const usage[] = {"on-demand", NULL};
        static const char *const roots[] = {"ebs", NULL};
        static const char *const virt[] = {"hvm", NULL};
        static const char *const arch[] = {"x86_64", NULL};
        static const char *const boot[] = {"legacy-bios", "uefi", NULL};

        s->object(s, NULL, NULL);
        STR(s, "InstanceType", "instanceType", t->name);
        BOOL(s, "CurrentGeneration", "currentGeneration", true);
        BOOL(s, "FreeTierEligible", "freeTierEligible", false);
        strings(s, "SupportedUsageClasses", "supportedUsageClasses", usage);
        strings(s, "SupportedRootDeviceTypes", "supportedRootDeviceTypes", roots);
        strings(s, "SupportedVirtualizationTypes", "supportedVirtualizationTypes", virt);
        BOOL(s, "BareMetal", "bareMetal", false);
        STR(s, "Hypervisor", "hypervisor", "nitro");
        s->object(s, "ProcessorInfo", "processorInfo");
        strings(s, "SupportedArchitectures", "supportedArchitectures", arch);
        s->end_object(s);
        s->object(s, "VCpuInfo", "vCpuInfo");
        INT(s, "DefaultVCpus", "defaultVCpus", t->vcpus);
        s->end_object(s);
        s->object(s, "MemoryInfo", "memoryInfo");
        INT(s, "SizeInMiB", "sizeInMiB", t->memory_mib);
        s->end_object(s);
        BOOL(s, "InstanceStorageSupported", "instanceStorageSupported", false);
        BOOL(s, "HibernationSupported", "hibernationSupported", false);
        BOOL(s, "BurstablePerformanceSupported", "burstablePerformanceSupported", false);
        strings(s, "SupportedBootModes", "supportedBootModes", boot);
        if (t->is_default)
                BOOL(s, "Default", "default", true);
        s->end_object(s);
}

static void attr_value(kiln_sink *s, const char *json, const char *xml, const char *v)
{
        s->object(s, json, xml);
        STR(s, "Value", "value", v);
        s->end_object(s);
}

static void attr_bool(kiln_sink *s, const char *json, const char *xml, bool v)
{
        s->object(s, json, xml);
        BOOL(s, "Value", "value", v);
        s->end_object(s);
}

void kiln_shape_instance_attribute(kiln_sink *s, const kiln_instance_attribute *a,
                                   const char *attribute)
{
        s->object(s, NULL, NULL);
        if (strcmp(attribute, "disableApiTermination") == 0)
                attr_bool(s, "DisableApiTermination", "disableApiTermination",
                          a->disable_api_termination);
        else if (strcmp(attribute, "disableApiStop") == 0)
                attr_bool(s, "DisableApiStop", "disableApiStop", a->disable_api_stop);
        else if (strcmp(attribute, "ebsOptimized") == 0)
                attr_bool(s, "EbsOptimized", "ebsOptimized", false);
        else if (strcmp(attribute, "enaSupport") == 0)
                attr_bool(s, "EnaSupport", "enaSupport", !a->no_ena);
        else if (strcmp(attribute, "sourceDestCheck") == 0)
                attr_bool(s, "SourceDestCheck", "sourceDestCheck", true);
        STR(s, "InstanceId", "instanceId", a->instance_id);
        if (strcmp(attribute, "instanceInitiatedShutdownBehavior") == 0)
                attr_value(s, "InstanceInitiatedShutdownBehavior",
                           "instanceInitiatedShutdownBehavior", a->shutdown_behavior);
        else if (strcmp(attribute, "instanceType") == 0)
                attr_value(s, "InstanceType", "instanceType", a->instance_type);
        else if (strcmp(attribute, "rootDeviceName") == 0)
                attr_value(s, "RootDeviceName", "rootDeviceName", a->root_device_name);
        if (strcmp(attribute, "userData") == 0) {
                kiln_autofree char *b64 =
                        a->user_data ? kiln_base64_encode(a->user_data, a->user_data_len, true)
                                     : NULL;

                attr_value(s, "UserData", "userData", b64);
        }
        s->end_object(s);
}

void kiln_shape_vpc(kiln_sink *s, const kiln_vpc *v, const char *owner)
{
        kiln_autofree char *assoc = kiln_xasprintf("vpc-cidr-assoc-%s", v->vpc_id + 4);

        s->object(s, NULL, NULL);
        STR(s, "CidrBlock", "cidrBlock", v->cidr);
        STR(s, "DhcpOptionsId", "dhcpOptionsId", "default");
        STR(s, "State", "state", "available");
        STR(s, "VpcId", "vpcId", v->vpc_id);
        STR(s, "OwnerId", "ownerId", owner);
        STR(s, "InstanceTenancy", "instanceTenancy", "default");
        s->array(s, "CidrBlockAssociationSet", "cidrBlockAssociationSet");
        s->object(s, NULL, NULL);
        STR(s, "AssociationId", "associationId", assoc);
        STR(s, "CidrBlock", "cidrBlock", v->cidr);
        s->object(s, "CidrBlockState", "cidrBlockState");
        STR(s, "State", "state", "associated");
        s->end_object(s);
        s->end_object(s);
        s->end_array(s);
        BOOL(s, "IsDefault", "isDefault", true);
        STR(s, "Network", "network", v->network);
        s->end_object(s);
}

/* One IpPermission: the protocol and ports, and the sources of every rule from first that has
 * the same protocol and ports (rules are grouped as EC2 shows them). */
static void ip_permission(kiln_sink *s, const kiln_sg_rule *rules, size_t n, size_t first)
{
        const kiln_sg_rule *r = &rules[first];

        s->object(s, NULL, NULL);
        if (strcmp(r->ip_protocol, "-1") != 0)
                INT(s, "FromPort", "fromPort", r->from_port);
        STR(s, "IpProtocol", "ipProtocol", r->ip_protocol);
        s->array(s, "IpRanges", "ipRanges");
        for (size_t i = first; i < n; i++) {
                const kiln_sg_rule *o = &rules[i];

                if (strcmp(o->ip_protocol, r->ip_protocol) != 0 || o->from_port != r->from_port ||
                    o->to_port != r->to_port)
                        continue;
                s->object(s, NULL, NULL);
                STR(s, "CidrIp", "cidrIp", o->cidr_ipv4);
                if (o->description && *o->description)
                        STR(s, "Description", "description", o->description);
                s->end_object(s);
        }
        s->end_array(s);
        s->array(s, "Ipv6Ranges", "ipv6Ranges");
        s->end_array(s);
        s->array(s, "PrefixListIds", "prefixListIds");
        s->end_array(s);
        if (strcmp(r->ip_protocol, "-1") != 0)
                INT(s, "ToPort", "toPort", r->to_port);
        s->array(s, "UserIdGroupPairs", "groups");
        s->end_array(s);
        s->end_object(s);
}

void kiln_shape_security_group(kiln_sink *s, const kiln_security_group *sg)
{
        static char all[] = "-1", anywhere[] = "0.0.0.0/0";
        const kiln_sg_rule egress = {NULL, all, -1, -1, anywhere, NULL};

        s->object(s, NULL, NULL);
        STR(s, "Description", "groupDescription", sg->description);
        STR(s, "GroupName", "groupName", sg->group_name);
        s->array(s, "IpPermissions", "ipPermissions");
        for (size_t i = 0; i < sg->n_ingress; i++) {
                bool seen = false;

                /* Each protocol and port range once, where its first rule is. */
                for (size_t k = 0; !seen && k < i; k++)
                        seen = strcmp(sg->ingress[k].ip_protocol, sg->ingress[i].ip_protocol) ==
                                       0 &&
                               sg->ingress[k].from_port == sg->ingress[i].from_port &&
                               sg->ingress[k].to_port == sg->ingress[i].to_port;
                if (!seen)
                        ip_permission(s, sg->ingress, sg->n_ingress, i);
        }
        s->end_array(s);
        STR(s, "OwnerId", "ownerId", sg->owner_id);
        STR(s, "GroupId", "groupId", sg->group_id);
        s->array(s, "IpPermissionsEgress", "ipPermissionsEgress");
        ip_permission(s, &egress, 1, 0);
        s->end_array(s);
        kiln_shape_tags(s, sg->tags, sg->n_tags);
        STR(s, "VpcId", "vpcId", sg->vpc_id);
        s->end_object(s);
}

void kiln_shape_security_group_rule(kiln_sink *s, const kiln_sg_rule *rule, const char *group_id,
                                    const char *owner)
{
        s->object(s, NULL, NULL);
        STR(s, "SecurityGroupRuleId", "securityGroupRuleId", rule->rule_id);
        STR(s, "GroupId", "groupId", group_id);
        STR(s, "GroupOwnerId", "groupOwnerId", owner);
        BOOL(s, "IsEgress", "isEgress", false);
        STR(s, "IpProtocol", "ipProtocol", rule->ip_protocol);
        INT(s, "FromPort", "fromPort", rule->from_port);
        INT(s, "ToPort", "toPort", rule->to_port);
        STR(s, "CidrIpv4", "cidrIpv4", rule->cidr_ipv4);
        if (rule->description && *rule->description)
                STR(s, "Description", "description", rule->description);
        s->end_object(s);
}

static void status_summary(kiln_sink *s, const char *json, const char *xml, const char *status,
                           const char *reachability)
{
        s->object(s, json, xml);
        s->array(s, "Details", "details");
        if (reachability) {
                s->object(s, NULL, NULL);
                STR(s, "Name", "name", "reachability");
                STR(s, "Status", "status", reachability);
                s->end_object(s);
        }
        s->end_array(s);
        STR(s, "Status", "status", status);
        s->end_object(s);
}

void kiln_shape_instance_status(kiln_sink *s, const kiln_instance_status *st)
{
        s->object(s, NULL, NULL);
        STR(s, "AvailabilityZone", "availabilityZone", st->zone);
        STR(s, "InstanceId", "instanceId", st->instance_id);
        state(s, "InstanceState", "instanceState", st->state_code, st->state);
        status_summary(s, "InstanceStatus", "instanceStatus", st->instance_status,
                       st->reachability);
        status_summary(s, "SystemStatus", "systemStatus", st->system_status,
                       st->system_reachability);
        s->end_object(s);
}

void kiln_shape_subnet(kiln_sink *s, const kiln_vpc *v, const char *owner)
{
        kiln_autofree char *arn =
                kiln_xasprintf("arn:aws:ec2:%s:%s:subnet/%s", v->region, owner, v->subnet_id);

        s->object(s, NULL, NULL);
        STR(s, "AvailabilityZone", "availabilityZone", v->zone);
        STR(s, "AvailabilityZoneId", "availabilityZoneId", v->zone);
        INT(s, "AvailableIpAddressCount", "availableIpAddressCount", v->available_ips);
        STR(s, "CidrBlock", "cidrBlock", v->cidr);
        BOOL(s, "DefaultForAz", "defaultForAz", true);
        BOOL(s, "MapPublicIpOnLaunch", "mapPublicIpOnLaunch", false);
        STR(s, "State", "state", "available");
        STR(s, "SubnetId", "subnetId", v->subnet_id);
        STR(s, "VpcId", "vpcId", v->vpc_id);
        STR(s, "OwnerId", "ownerId", owner);
        BOOL(s, "AssignIpv6AddressOnCreation", "assignIpv6AddressOnCreation", false);
        s->array(s, "Ipv6CidrBlockAssociationSet", "ipv6CidrBlockAssociationSet");
        s->end_array(s);
        STR(s, "SubnetArn", "subnetArn", arn);
        STR(s, "Network", "network", v->network);
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
                [KILN_LIST_INSTANCE_TYPES] = {"InstanceTypes", "instanceTypeSet"},
                [KILN_LIST_VPCS] = {"Vpcs", "vpcSet"},
                [KILN_LIST_SUBNETS] = {"Subnets", "subnetSet"},
                [KILN_LIST_SECURITY_GROUPS] = {"SecurityGroups", "securityGroupInfo"},
                [KILN_LIST_INSTANCE_STATUSES] = {"InstanceStatuses", "instanceStatusSet"},
                [KILN_LIST_AVAILABILITY_ZONES] = {"AvailabilityZones", "availabilityZoneInfo"},
        };

        s->array(s, names[kind][0], names[kind][1]);
}
