/* Output shapes: each record kiln shows, described once, member by member, with the member's
 * name in the aws CLI's JSON (ImageId, BlockDeviceMappings) and in EC2's XML (imageId,
 * blockDeviceMapping), in the aws CLI 2.9.19's order. A front end hands a sink that writes one
 * of the two: the CLI's JSON and the endpoint's XML come from the same description and cannot
 * drift apart. Members EC2 lacks (kiln's own, such as DefaultUser) come after EC2's; clients
 * that do not know them ignore them. */
#ifndef KILN_SHAPE_H
#define KILN_SHAPE_H

#include <stdbool.h>
#include <stddef.h>

#include <kiln/common.h>
#include <kiln/ctx.h>
#include <kiln/image.h>
#include <kiln/instance.h>
#include <kiln/keypair.h>
#include <kiln/secgroup.h>
#include <kiln/tag.h>
#include <kiln/volume.h>

/* A member's two names. An array's items have no name (json and xml NULL): JSON writes the
 * value alone, XML an <item>. */
typedef struct kiln_sink kiln_sink;
struct kiln_sink {
        void (*object)(kiln_sink *s, const char *json, const char *xml);
        void (*end_object)(kiln_sink *s);
        void (*array)(kiln_sink *s, const char *json, const char *xml);
        void (*end_array)(kiln_sink *s);
        /* v NULL: the member is left out */
        void (*str)(kiln_sink *s, const char *json, const char *xml, const char *v);
        void (*integer)(kiln_sink *s, const char *json, const char *xml, long long v);
        void (*boolean)(kiln_sink *s, const char *json, const char *xml, bool v);
        /* iso: kiln's 2024-01-02T03:04:05.678Z (NULL: left out); each sink writes its form */
        void (*time)(kiln_sink *s, const char *json, const char *xml, const char *iso);
};

/* Image, Snapshot, Volume (attachments: DescribeVolumes' Attachments; CreateVolume has none),
 * KeyPairInfo, Region, and the Tags member of each. */
KILN_PUBLIC void kiln_shape_image(kiln_sink *s, const kiln_image *img);
KILN_PUBLIC void kiln_shape_snapshot(kiln_sink *s, const kiln_snapshot *snap);
KILN_PUBLIC void kiln_shape_volume(kiln_sink *s, const kiln_volume *v, bool attachments);
/* VolumeAttachment, as AttachVolume and DetachVolume answer (state: attached, detached...). */
KILN_PUBLIC void kiln_shape_volume_attachment(kiln_sink *s, const kiln_volume *v,
                                              const char *state);
KILN_PUBLIC void kiln_shape_keypair(kiln_sink *s, const kiln_keypair *kp);
/* CreateKeyPair's answer (material: the private key) and ImportKeyPair's (material NULL). */
KILN_PUBLIC void kiln_shape_keypair_made(kiln_sink *s, const kiln_keypair *kp,
                                         const char *material);
KILN_PUBLIC void kiln_shape_region(kiln_sink *s, const kiln_region_info *r);
/* One AvailabilityZone of DescribeAvailabilityZones: a host of the region. */
KILN_PUBLIC void kiln_shape_availability_zone(kiln_sink *s, const kiln_region_info *r,
                                              const kiln_host_info *h);
/* DescribeImageAttribute (attribute: launchPermission or description) and
 * DescribeSnapshotAttribute (createVolumePermission). */
KILN_PUBLIC void kiln_shape_image_attribute(kiln_sink *s, const kiln_image_attribute *a,
                                            const char *attribute);
KILN_PUBLIC void kiln_shape_snapshot_attribute(kiln_sink *s, const char *snapshot_id,
                                               const kiln_permission *p, size_t n);
KILN_PUBLIC void kiln_shape_tags(kiln_sink *s, const kiln_tag *tags, size_t n);

/* Instance, with kiln's ConnectionInfo member if c is not NULL. */
KILN_PUBLIC void kiln_shape_instance(kiln_sink *s, const kiln_instance *inst,
                                     const kiln_connection *c);
/* A Reservation of n instances (RunInstances' answer; conns parallel to list, or NULL). */
KILN_PUBLIC void kiln_shape_reservation(kiln_sink *s, const kiln_instance *list, size_t n,
                                        const kiln_connection *conns);
/* DescribeInstances' Reservations: runs of list with the same reservation ID, one Reservation
 * each (list in reservation order). */
KILN_PUBLIC void kiln_shape_reservations(kiln_sink *s, const kiln_instance *list, size_t n,
                                         const kiln_connection *conns);
/* InstanceTypeInfo, with kiln's Default member on the type run-instances takes by default. */
KILN_PUBLIC void kiln_shape_instance_type(kiln_sink *s, const kiln_instance_type *t);
/* DescribeInstanceAttribute's answer for one attribute (a name
 * kiln_instance_attribute_name_check takes); userData's Value is base64, absent without. */
KILN_PUBLIC void kiln_shape_instance_attribute(kiln_sink *s, const kiln_instance_attribute *a,
                                               const char *attribute);
/* Vpc and Subnet of a region's kiln_vpc, as the caller's (owner: the account asking), with
 * kiln's Network member on a libvirt network. */
KILN_PUBLIC void kiln_shape_vpc(kiln_sink *s, const kiln_vpc *v, const char *owner);
/* SecurityGroup (DescribeSecurityGroups' item: inbound rules grouped into IpPermissions by
 * protocol and ports, EC2's default outbound rule) and SecurityGroupRule (what
 * AuthorizeSecurityGroupIngress answers for each rule it added). */
KILN_PUBLIC void kiln_shape_security_group(kiln_sink *s, const kiln_security_group *sg);
/* InstanceStatus (DescribeInstanceStatus' item). */
KILN_PUBLIC void kiln_shape_instance_status(kiln_sink *s, const kiln_instance_status *st);
KILN_PUBLIC void kiln_shape_security_group_rule(kiln_sink *s, const kiln_sg_rule *rule,
                                                const char *group_id, const char *owner);
KILN_PUBLIC void kiln_shape_subnet(kiln_sink *s, const kiln_vpc *v, const char *owner);
/* Stop, Start and TerminateInstances' answers: the list of InstanceStateChange. */
typedef enum {
        KILN_CHANGE_STOPPING,
        KILN_CHANGE_STARTING,
        KILN_CHANGE_TERMINATING,
} kiln_change_kind;
KILN_PUBLIC void kiln_shape_state_changes(kiln_sink *s, kiln_change_kind kind,
                                          const kiln_state_change *c, size_t n);

/* The list member of a describe answer: Images/imagesSet, Snapshots/snapshotSet,
 * Volumes/volumeSet, KeyPairs/keySet, Regions/regionInfo, InstanceTypes/instanceTypeSet,
 * Vpcs/vpcSet, Subnets/subnetSet. */
typedef enum {
        KILN_LIST_IMAGES,
        KILN_LIST_SNAPSHOTS,
        KILN_LIST_VOLUMES,
        KILN_LIST_KEY_PAIRS,
        KILN_LIST_REGIONS,
        KILN_LIST_INSTANCE_TYPES,
        KILN_LIST_VPCS,
        KILN_LIST_SUBNETS,
        KILN_LIST_SECURITY_GROUPS,
        KILN_LIST_INSTANCE_STATUSES,
        KILN_LIST_AVAILABILITY_ZONES,
} kiln_list_kind;
KILN_PUBLIC void kiln_shape_list_begin(kiln_sink *s, kiln_list_kind kind);

#endif
