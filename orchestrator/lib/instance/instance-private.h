/* Helpers shared by the instance modules (launch, lifecycle, readiness, connection). */
#ifndef KILN_INSTANCE_PRIVATE_H
#define KILN_INSTANCE_PRIVATE_H

#include <kiln/instance.h>

#include "core/ctx-private.h"
#include "registry/registry-instance.h"
#include "seed/seed.h"
#include "ssh/ssh.h"
#include "virt/virt-domain.h"
#include "virt/virt-storage.h"

#define INSTANCE_DEFAULT_WAIT_S 600

/* HOME/instances/ID, and files in it. */
char *instance_dir(const kiln_ctx *ctx, const char *id);
char *instance_file(const kiln_ctx *ctx, const char *id, const char *file);
/* A small text file (a key line) without its trailing newlines and spaces. */
char *instance_read_line(const char *path, kiln_error **err);
/* The instance, visible to the caller in the current region: InvalidInstanceID.Malformed or
 * .NotFound otherwise. */
int instance_load(kiln_ctx *ctx, registry *r, const char *id, kiln_instance *ret, kiln_error **err);
int instance_check_id(const char *id, kiln_error **err);
/* The connection to the instance's host, and the pool there (connecting on first use). */
virConnectPtr instance_conn(kiln_ctx *ctx, const kiln_instance *inst, kiln_error **err);
virStoragePoolPtr instance_pool(kiln_ctx *ctx, const kiln_instance *inst, kiln_error **err);
/* The region's VPC and subnet IDs (instance-vpc.c). */
char *instance_vpc_id(const char *region);
char *instance_subnet_id(const char *region);
/* Watches an instance's boot until SSH answers with the pinned host key and cloud-init has
 * finished (its status becomes ok, and the seed loses the private host key), or until the wait
 * ends (impaired), the instance stops, or the context's runner stops. */
void instance_watch_ready(kiln_ctx *ctx, const char *id);

/* ---- the firewall: what the instance's security groups open (instance-firewall.c) ---- */
/* A TCP port for a forward: on this machine's 127.0.0.1 one that nothing listens on now; on a
 * host with a ListenAddress, or another host (reached through its jump host), one of the
 * region's PortRange (instance_ports_from_range). */
int instance_free_port(const kiln_region_info *region, const kiln_host_info *host,
                       kiln_error **err);
bool instance_ports_from_range(const kiln_host_info *host);
/* The port kiln reaches the instance on in the guest: 3389 (RDP) for Windows, else 22. */
int instance_access_port(const kiln_instance *inst);
/* The instance's region's configuration (the context's region if it is not configured any
 * more). */
const kiln_region_info *instance_region(kiln_ctx *ctx, const kiln_instance *inst);
/* Where the instance's forwards listen and kiln connects: its region's ListenAddress, or
 * 127.0.0.1. */
const char *instance_listen_address(kiln_ctx *ctx, const kiln_instance *inst);
/* The region's host that runs the instance, or NULL when the configuration no longer names
 * it. */
const kiln_host_info *instance_host(kiln_ctx *ctx, const kiln_instance *inst);
/* Whether that host is another machine, whose files kiln reaches only through libvirt. */
bool instance_on_remote_host(kiln_ctx *ctx, const kiln_instance *inst);
/* "USER@HOST[:PORT]" of the jump host through which the instance is reached (its host's
 * ProxyJump; user networking only), or NULL. */
char *instance_proxy_jump(kiln_ctx *ctx, const kiln_instance *inst);
/* The serial console's log file, as the instance's host sees it: in the instance directory,
 * or for another host's instance the pool volume instance_console_volume() (kiln reads it
 * through libvirt). */
char *instance_console_path(kiln_ctx *ctx, const kiln_instance *inst);
char *instance_console_volume(const char *id);
bool instance_port_free(int port);
/* The name of the nwfilter of an instance on a libvirt network. */
char *instance_filter_name(const char *instance_id);
/* The account's default group in the context's region, made (with its SSH and RDP rules) if it
 * is not there yet; inside the caller's write transaction. */
int instance_default_group(kiln_ctx *ctx, registry *r, kiln_group_ref *ret, kiln_error **err);
/* Applies the instance's security groups: on user networking, chooses the forwards (keeping the
 * host ports of those it has) and records them in inst->forwards and the registry, and with live
 * changes a running domain's forwards at once; on a libvirt network, (re)defines its nwfilter.
 * An instance in no group joins the default one. */
int instance_firewall_apply(kiln_ctx *ctx, kiln_instance *inst, bool live, kiln_error **err);
/* The groups RunInstances names (IDs, then names; each must exist, at most
 * KILN_SG_PER_INSTANCE_MAX), without repeats; none if it names none (the instance then joins
 * the default group when its firewall is first applied). Inside the caller's transaction. */
int instance_groups_resolve(kiln_ctx *ctx, registry *r, const kiln_run_spec *spec,
                            kiln_group_ref **ret, size_t *ret_n, kiln_error **err);
/* The nwfilter of an instance on a libvirt network with these inbound rules. */
char *instance_filter_xml(const char *name, const kiln_sg_rule *rules, size_t n);
/* Removes the nwfilter of a terminated (or never started) instance; quiet. */
void instance_firewall_remove(kiln_ctx *ctx, const kiln_instance *inst);
/* The serial number a volume's disk shows the guest: its ID without the dash
 * ("vol0123456789abcdef0", 20 characters, as EC2's NVMe disks show it), so that
 * /dev/disk/by-id/virtio-vol... names it whatever name Linux gives the disk. */
char *instance_volume_serial(const char *volume_id);
/* Renders and (re)defines the instance's domain with its current port. */
int instance_define(kiln_ctx *ctx, const kiln_instance *inst, const char *domain,
                    const char *seed_volume, kiln_error **err);
/* The user SSH logs in as. */
const char *instance_user(const kiln_instance *inst);
/* Sets the state in one transaction. */
int instance_set_state(kiln_ctx *ctx, const char *id, const char *state, const char *reason_code,
                       const char *reason_message, const char *transition, kiln_error **err);
/* The same, only if the instance is still in state expect with the same worker PID when the
 * transaction reads it (another process may have changed it since the caller looked): 1 if it
 * was changed, 0 if not. */
int instance_set_state_from(kiln_ctx *ctx, const char *id, const char *expect, pid_t worker,
                            const char *state, const char *reason_code, const char *reason_message,
                            kiln_error **err);
/* "User initiated (2024-01-02 03:04:05 GMT)" */
char *instance_transition_now(void);
/* Starts a defined instance's domain (choosing a new port if its own was taken), marks it
 * running, or stopped with the reason if it cannot start. In this process. */
int instance_start_now(kiln_ctx *ctx, const char *id, kiln_error **err);
/* The same in a detached process, so that run-instances returns while QEMU starts; the
 * instance stays pending until then, with the worker's PID recorded before this returns. The
 * context's registry is closed across the fork and opened again (ctx_registry_close); -1 only
 * if that fails. */
int instance_start_detached(kiln_ctx *ctx, const char *id, kiln_error **err);
/* After a start: the runner, or a detached process, watches the boot (instance_watch_ready):
 * the instance's status, and the seed's private host key. Quiet. */
void instance_watch_detached(kiln_ctx *ctx, const char *id);
/* The libvirt network exists in the region and is active: InvalidParameterValue otherwise. */
int instance_check_network(kiln_ctx *ctx, const char *network, kiln_error **err);
/* For an instance on a libvirt network whose address is not known yet: its DHCP lease, if it
 * has one now, becomes inst->host (recorded, and written to its known_hosts). 1 if the
 * instance has an address, 0 if not yet. */
int instance_find_address(kiln_ctx *ctx, kiln_instance *inst);
/* The host part of a known_hosts line: "HOST" for port 22, "[HOST]:PORT" otherwise. */
char *instance_known_hosts_name(const char *host, int port);
/* The instance's known_hosts line for its address and port ("[HOST]:PORT TYPE BASE64"), or
 * NULL without an address or host key. */
char *instance_known_hosts_line(const kiln_instance *inst);
/* Rewrites HOME/instances/ID/known_hosts for the instance's port. */
int instance_write_known_hosts(kiln_ctx *ctx, const kiln_instance *inst, kiln_error **err);
/* The state name and its EC2 code in a record handed out. */
void instance_set_state_fields(kiln_instance *inst, const char *state);
/* The last max bytes of the instance's serial console log, or "(no console output)". */
char *instance_console_tail(kiln_ctx *ctx, const kiln_instance *inst, size_t max);
/* An SSH session to the instance at its address, as kiln's access key, accepting only the
 * pinned host key. */
int instance_ssh_connect(kiln_ctx *ctx, const kiln_instance *inst, uint64_t deadline_ms,
                         kiln_ssh **ret, kiln_error **err);
/* For wait password-data-available (instance-password.c): 1 when the instance's PasswordData
 * is there, 0 not yet, -1 (IncorrectInstanceState) when it never will be: a Linux instance,
 * or one launched without a key pair. */
int instance_password_available(kiln_ctx *ctx, const kiln_instance *inst, kiln_error **err);
/* The seed volume (instance-seed.c). instance_seed_render writes the ISO for spec into the
 * instance directory (*ret_iso, to be uploaded or wiped) and gives its SHA-256 (hex);
 * instance_seed_upload makes it the read-only volume NAME and wipes the file. */
int instance_seed_render(kiln_ctx *ctx, const char *id, const seed_spec *spec, char **ret_iso,
                         char **ret_sha256, kiln_error **err);
int instance_seed_upload(virStoragePoolPtr pool, const char *volume, const char *iso,
                         kiln_error **err);
/* A Windows instance's seed: the config drive cloudbase-init reads, for inst (its ID, key
 * pair name, region) with the launch key pair's public line (NULL: none) and the user data.
 * With with_password (and a launch key), the drive carries a new password for Administrator
 * and *ret_password_data is that password encrypted with the launch key (GetPasswordData's
 * PasswordData); else it is NULL. The ISO and its SHA-256 as instance_seed_render gives them;
 * no clear copy of the password is left anywhere but in the ISO. */
int instance_configdrive_render(kiln_ctx *ctx, const kiln_instance *inst, const char *launch_key,
                                bool with_password, const void *user_data, size_t user_data_len,
                                char **ret_iso, char **ret_sha256, char **ret_password_data,
                                kiln_error **err);
/* A new ed25519 host key for the instance, made in memory: the private key in OpenSSH's format
 * (no final newline; the caller wipes it) and the public line "ssh-ed25519 BASE64 ID". */
int instance_host_key_new(const char *id, char **ret_private, char **ret_public, kiln_error **err);
/* Replaces a seed that still carries the private host key (a Windows instance's: the clear
 * password), or a seed volume that is missing, with the seed the instance keeps (no private
 * key, no password); nothing to do otherwise. */
int instance_seed_scrub(kiln_ctx *ctx, const char *id, kiln_error **err);
/* After generalization took the guest's host keys: a new host key, pinned (registry and
 * known_hosts), in a seed that carries it until the next boot takes it. A Windows instance
 * gets a new password instead (its PasswordData recorded anew). */
int instance_rekey(kiln_ctx *ctx, const char *id, kiln_error **err);
/* Writes the seed again from the records (after its user data changed). */
int instance_seed_rewrite(kiln_ctx *ctx, const char *id, kiln_error **err);
/* fsck: is the seed volume the one kiln recorded (*ret_ok)? With repair, one that is missing
 * or stale is written again (with a new key if its private key was never taken). */
int instance_seed_check(kiln_ctx *ctx, const char *id, bool repair, bool *ret_ok, kiln_error **err);
/* Instance types from templates/instance-types.json. */
int instance_type_lookup(const char *name, char **ret_name, unsigned *ret_vcpus,
                         unsigned *ret_memory_mib, kiln_error **err);

#endif
