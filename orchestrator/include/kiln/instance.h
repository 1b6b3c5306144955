/* Instances: libvirt domains launched from images, with one volume (a qcow2 overlay on the
 * snapshot) per block device mapping, a NoCloud seed, a pinned host key and a forwarded port.
 * States and codes as EC2: pending 0, running 16, shutting-down 32, terminated 48,
 * stopping 64, stopped 80. */
#ifndef KILN_INSTANCE_H
#define KILN_INSTANCE_H

#include <stdbool.h>
#include <stdint.h>

#include <kiln/common.h>
#include <kiln/ctx.h>
#include <kiln/error.h>
#include <kiln/host.h>
#include <kiln/image.h>
#include <kiln/secgroup.h>

typedef struct kiln_instance_volume {
        char *volume_id;
        char *device_name;
        char *snapshot_id;
        int64_t size; /* GiB */
        bool delete_on_termination;
        char *attach_time;
        char *file; /* the pool volume holding its data (a qcow2 overlay) */
} kiln_instance_volume;

/* A forward from 127.0.0.1:host_port on the host to the guest's port (user networking). */
typedef struct kiln_forward {
        char *protocol; /* tcp or udp */
        int host_port;
        int guest_port;
} kiln_forward;

typedef struct kiln_instance {
        char *instance_id;
        char *reservation_id;
        char *region;
        char *owner_id;
        char *image_id;
        char *instance_type;
        char *key_name; /* NULL: launched without a key pair */
        char *state;
        int state_code;
        char *state_reason_code;
        char *state_reason_message;
        char *transition_reason;
        char *launch_time;
        int launch_index;
        char *platform; /* linux or windows */
        char *default_user;
        char *architecture;
        char *boot_mode;    /* legacy-bios or uefi (an image's uefi-preferred launches uefi) */
        char *tpm_support;  /* "v2.0": an emulated TPM 2.0 (its state never goes into an image) */
        bool secure_boot;   /* UEFI with Secure Boot */
        char *nvram_volume; /* UEFI: the pool volume holding its variable store, else NULL */
        bool no_ena;        /* the image's EnaSupport false: e1000e and SATA, not virtio */
        char *rtc;          /* the image's clock: "utc", "localtime" or NULL (the platform's) */
        char *root_device_name;
        char *network; /* libvirt network, or NULL for user networking */
        char *host;    /* address to connect to */
        /* Placement: the region's host that runs it (HostId; NULL: the region's first) and
         * its availability zone (filled in by the describe calls). */
        char *host_id;
        char *zone;
        /* Its host did not answer when it was described: its state is the last one recorded,
         * and its instance and system status are impaired. */
        bool host_unreachable;
        int port;           /* the service port there (forwarded from 22 or 3389) */
        char *host_key;     /* the pinned SSH host key line */
        char *accel;        /* kvm or tcg */
        char *client_token; /* RunInstances' ClientToken, or NULL */
        char *vpc_id;       /* the region's VPC and subnet (see kiln_vpc) */
        char *subnet_id;
        bool disable_api_termination; /* terminate-instances refuses it (OperationNotPermitted) */
        bool disable_api_stop;        /* stop-instances refuses it */
        /* EC2's instance status since the last start: "initializing" until SSH answers with
         * the pinned host key and cloud-init has finished, then "ok"; "impaired" if that did
         * not happen within the wait (600 s); NULL before any start was watched. */
        char *status;
        kiln_instance_volume *volumes;
        size_t n_volumes;
        kiln_tag *tags; /* sorted by key */
        size_t n_tags;
        kiln_group_ref *groups; /* its security groups */
        size_t n_groups;
        /* User networking: the forwards from 127.0.0.1 its groups open (the access port among
         * them when allowed), by guest port. Empty on a libvirt network. */
        kiln_forward *forwards;
        size_t n_forwards;
} kiln_instance;

KILN_PUBLIC void kiln_instance_clear(kiln_instance *inst);
KILN_PUBLIC void kiln_instances_free(kiln_instance *list, size_t n);

/* One item of RunInstances' BlockDeviceMappings: changes a mapping of the image (its device
 * name), leaves it out (no_device), or adds a volume, empty or from a snapshot. */
struct kiln_mapping_spec {
        const char *device_name;
        const char *snapshot_id;   /* NULL: the image's for that device, else an empty volume */
        int64_t volume_size;       /* GiB; 0: the snapshot's */
        int delete_on_termination; /* -1: the image's (true for an added volume), 0, 1 */
        const char *volume_type;   /* NULL: the image's, or standard */
        bool no_device;            /* NoDevice: the image's mapping is left out */
};
typedef struct kiln_mapping_spec kiln_mapping_spec;

typedef struct kiln_run_spec {
        const char *image_id;
        const char *instance_type; /* NULL: the default from templates/instance-types.json */
        const char *key_name;      /* NULL: no key pair */
        const void *user_data;     /* raw user data (at most 16384 bytes), or NULL */
        size_t user_data_len;
        int count;           /* 1 by default */
        const char *network; /* NULL or "user": user networking; else a libvirt network */
        kiln_accel accel;
        /* Tags for each new instance ("instance") and each of its volumes ("volume"). */
        const kiln_tag_spec *tag_specs;
        size_t n_tag_specs;
        /* BlockDeviceMappings: a bigger root, added volumes, mappings left out. */
        const kiln_mapping_spec *mappings;
        size_t n_mappings;
        /* EC2's ClientToken: a retry with the same token and request gets the instances the
         * first one launched; with another request, IdempotentParameterMismatch. */
        const char *client_token;
        /* EC2's SubnetId and Placement.AvailabilityZone: NULL, "" or the region's own. */
        const char *subnet_id;
        const char *availability_zone;
        /* SecurityGroupId.N and SecurityGroup.N (names), at most KILN_SG_PER_INSTANCE_MAX in
         * all; none: the region's default group. */
        const char *const *security_group_ids;
        size_t n_security_group_ids;
        const char *const *security_group_names;
        size_t n_security_group_names;
} kiln_run_spec;

/* Launches count instances (all or none) and returns them running; readiness is
 * kiln_instance_wait. */
KILN_PUBLIC int kiln_instances_run(kiln_ctx *ctx, const kiln_run_spec *spec, kiln_instance **ret,
                                   size_t *ret_n, kiln_error **err);
KILN_PUBLIC int kiln_instances_describe(kiln_ctx *ctx, const char *const *ids, size_t n_ids,
                                        const kiln_filter *filters, size_t n_filters,
                                        kiln_instance **ret, size_t *ret_n, kiln_error **err);

typedef enum {
        KILN_WAIT_RUNNING,
        KILN_WAIT_READY, /* SSH answers with the pinned host key and cloud-init has finished */
        KILN_WAIT_STOPPED,
        KILN_WAIT_TERMINATED,
        KILN_WAIT_STATUS_OK,     /* its status check is ok (describe-instance-status) */
        KILN_WAIT_PASSWORD_DATA, /* a Windows instance's PasswordData is there (refused at
                                    once for Linux instances and launches without a key
                                    pair, which never get one) */
} kiln_wait_what;

/* Waits until the instance reaches the state, or timeout_s passes (KILN_E_TIMEOUT naming what
 * was last seen, with the tail of the console for readiness). */
KILN_PUBLIC int kiln_instance_wait(kiln_ctx *ctx, const char *instance_id, kiln_wait_what what,
                                   int timeout_s, kiln_error **err);

/* EC2's status checks of an instance (DescribeInstanceStatus). */
typedef struct kiln_instance_status {
        char *instance_id;
        char *zone;
        int state_code;
        char *state;
        char *instance_status;     /* ok, initializing, impaired; not-applicable unless running */
        char *reachability;        /* passed, initializing, failed; NULL unless running */
        char *system_status;       /* ok; not-applicable unless running */
        char *system_reachability; /* passed; NULL unless running */
} kiln_instance_status;

/* The status checks of the instances named (all the caller's, terminated ones left out, if
 * none are named), of running ones only unless include_all. Filters: availability-zone,
 * instance-state-code, instance-state-name, instance-status.status,
 * instance-status.reachability, system-status.status, system-status.reachability. */
KILN_PUBLIC int kiln_instance_statuses_describe(kiln_ctx *ctx, const char *const *ids, size_t n_ids,
                                                const kiln_filter *filters, size_t n_filters,
                                                bool include_all, kiln_instance_status **ret,
                                                size_t *ret_n, kiln_error **err);
KILN_PUBLIC void kiln_instance_statuses_free(kiln_instance_status *list, size_t n);

typedef struct kiln_state_change {
        char *instance_id;
        int previous_code;
        char *previous;
        int current_code;
        char *current;
} kiln_state_change;

KILN_PUBLIC void kiln_state_changes_free(kiln_state_change *c, size_t n);
/* Clean ACPI shutdown, forced after timeout_s (or at once with force). */
KILN_PUBLIC int kiln_instances_stop(kiln_ctx *ctx, const char *const *ids, size_t n, bool force,
                                    int timeout_s, kiln_state_change **ret, size_t *ret_n,
                                    kiln_error **err);
KILN_PUBLIC int kiln_instances_start(kiln_ctx *ctx, const char *const *ids, size_t n,
                                     kiln_state_change **ret, size_t *ret_n, kiln_error **err);
KILN_PUBLIC int kiln_instances_reboot(kiln_ctx *ctx, const char *const *ids, size_t n,
                                      kiln_error **err);
/* Volumes with DeleteOnTermination go, the others stay (detached); the seed and the domain go. */
KILN_PUBLIC int kiln_instances_terminate(kiln_ctx *ctx, const char *const *ids, size_t n,
                                         kiln_state_change **ret, size_t *ret_n, kiln_error **err);
/* The last 64 KiB of the serial console. */
KILN_PUBLIC int kiln_instance_console(kiln_ctx *ctx, const char *instance_id, char **ret_output,
                                      kiln_error **err);

/* GetPasswordData. */
typedef struct kiln_password_data {
        char *instance_id;
        char *timestamp;     /* when the password was made (now, while there is none) */
        char *password_data; /* base64 of the password encrypted with the launch key pair's
                                RSA public key (PKCS#1 v1.5); "" until the first boot has
                                taken it from the config drive, and always for Linux instances
                                and instances launched without a key pair */
} kiln_password_data;

/* A Windows instance's PasswordData (kiln_password_decrypt gives the password).
 * InvalidInstanceID.Malformed/NotFound for an ID that is not one of the region's. */
KILN_PUBLIC int kiln_instance_password_data(kiln_ctx *ctx, const char *instance_id,
                                            kiln_password_data *ret, kiln_error **err);
KILN_PUBLIC void kiln_password_data_clear(kiln_password_data *p);

/* An instance type of templates/instance-types.json (DescribeInstanceTypes). */
typedef struct kiln_instance_type {
        char *name;
        unsigned vcpus;
        unsigned memory_mib;
        bool is_default; /* what run-instances launches without --instance-type */
} kiln_instance_type;

/* The types named (all if n_names is 0), in the file's order; InvalidInstanceType for a name
 * that is none. */
KILN_PUBLIC int kiln_instance_types_describe(const char *const *names, size_t n_names,
                                             kiln_instance_type **ret, size_t *ret_n,
                                             kiln_error **err);
KILN_PUBLIC void kiln_instance_types_free(kiln_instance_type *list, size_t n);

/* Instance attributes as DescribeInstanceAttribute and ModifyInstanceAttribute know them. */
typedef struct kiln_instance_attribute {
        char *instance_id;
        char *instance_type;
        char *root_device_name;
        bool disable_api_termination;
        bool disable_api_stop;
        char *shutdown_behavior;  /* InstanceInitiatedShutdownBehavior: always "stop" */
        bool no_ena;              /* EnaSupport false: e1000e and SATA */
        unsigned char *user_data; /* NULL: none */
        size_t user_data_len;
} kiln_instance_attribute;

KILN_PUBLIC int kiln_instance_attribute_describe(kiln_ctx *ctx, const char *instance_id,
                                                 kiln_instance_attribute *ret, kiln_error **err);
/* An attribute name DescribeInstanceAttribute answers (instanceType, userData,
 * disableApiTermination, disableApiStop, instanceInitiatedShutdownBehavior, rootDeviceName,
 * sourceDestCheck, ebsOptimized, enaSupport); InvalidParameterValue otherwise. */
KILN_PUBLIC int kiln_instance_attribute_name_check(const char *name, kiln_error **err);
KILN_PUBLIC void kiln_instance_attribute_clear(kiln_instance_attribute *a);

/* One change (ModifyInstanceAttribute takes one per call): the protections at any time; the
 * user data of a stopped instance (IncorrectInstanceState otherwise), written into its seed for
 * the next boot (cloud-init runs user data scripts once per instance, as on EC2); the instance
 * type of a stopped instance (its domain is defined again with the type's vCPUs and memory); the
 * shutdown behaviour "stop" (kiln's only one: a guest that shuts down stops). */
typedef enum {
        KILN_ATTR_DISABLE_API_TERMINATION,
        KILN_ATTR_DISABLE_API_STOP,
        KILN_ATTR_SHUTDOWN_BEHAVIOR,
        KILN_ATTR_USER_DATA,
        KILN_ATTR_INSTANCE_TYPE,
} kiln_instance_attr;

typedef struct kiln_instance_attribute_change {
        kiln_instance_attr attr;
        bool flag;             /* the protections */
        const char *value;     /* the shutdown behaviour, the instance type */
        const void *user_data; /* raw bytes, at most 16384; NULL with 0 removes it */
        size_t user_data_len;
} kiln_instance_attribute_change;

KILN_PUBLIC int kiln_instance_attribute_modify(kiln_ctx *ctx, const char *instance_id,
                                               const kiln_instance_attribute_change *change,
                                               kiln_error **err);

/* A region's network as EC2 clients see it: one default VPC with one default subnet in the
 * region's zone (REGION + "a"). The IDs are derived from the region's name; the CIDR is the
 * region's libvirt network's IPv4 network, or QEMU's 10.0.2.0/24 for user networking. */
typedef struct kiln_vpc {
        char *vpc_id;
        char *subnet_id;
        char *region;
        char *zone;
        char *cidr;
        char *network; /* the libvirt network, or NULL for user networking */
        unsigned available_ips;
} kiln_vpc;

KILN_PUBLIC int kiln_vpc_describe(kiln_ctx *ctx, kiln_vpc *ret, kiln_error **err);
KILN_PUBLIC void kiln_vpc_clear(kiln_vpc *v);
/* DescribeVpcs and DescribeSubnets: the region's one VPC (subnet) if it has one of the IDs
 * asked (InvalidVpcID.NotFound, InvalidSubnetID.NotFound otherwise) and passes the filters
 * (vpc-id, subnet-id, state, cidr-block, is-default, default-for-az, availability-zone,
 * owner-id). */
KILN_PUBLIC int kiln_vpcs_describe(kiln_ctx *ctx, const char *const *ids, size_t n_ids,
                                   const kiln_filter *filters, size_t n_filters, kiln_vpc **ret,
                                   size_t *ret_n, kiln_error **err);
KILN_PUBLIC int kiln_subnets_describe(kiln_ctx *ctx, const char *const *ids, size_t n_ids,
                                      const kiln_filter *filters, size_t n_filters, kiln_vpc **ret,
                                      size_t *ret_n, kiln_error **err);
KILN_PUBLIC void kiln_vpcs_free(kiln_vpc *list, size_t n);

/* How to reach an instance. */
typedef struct kiln_connection {
        char *protocol; /* ssh or rdp */
        char *host;
        int port;
        char *user;
        char *known_hosts_line; /* ssh only */
        char *known_hosts_file;
        char *identity_file; /* the key pair's private key if kiln wrote it, else NULL */
        char *command;       /* a ready ssh (Linux) or xfreerdp (Windows) command line */
        char *rdp_file;      /* Windows: an .rdp file for host, port and user in the
                                instance directory */
        char *proxy_jump;    /* "USER@HOST[:PORT]": host and port are as the jump host
                                sees them (its host's ProxyJump), else NULL */
} kiln_connection;

KILN_PUBLIC int kiln_instance_connection(kiln_ctx *ctx, const kiln_instance *inst,
                                         const char *identity, kiln_connection *ret,
                                         kiln_error **err);
KILN_PUBLIC void kiln_connection_clear(kiln_connection *c);
/* The connections of n instances, for the shapes: one per instance, empty (all NULL) for a
 * terminated one or one kiln cannot say how to reach. Free with kiln_connections_free. */
KILN_PUBLIC kiln_connection *kiln_instance_connections(kiln_ctx *ctx, const kiln_instance *list,
                                                       size_t n);
KILN_PUBLIC void kiln_connections_free(kiln_connection *c, size_t n);
/* argv for the system's ssh: pinned host key, strict checking, the identity (given, or the
 * file create-key-pair wrote), then the command words if any. NULL-terminated. */
KILN_PUBLIC int kiln_instance_ssh_argv(kiln_ctx *ctx, const char *instance_id, const char *identity,
                                       const char *const *command, size_t n_command,
                                       char ***ret_argv, kiln_error **err);

#endif
