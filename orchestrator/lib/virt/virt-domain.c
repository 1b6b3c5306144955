/* Domains from skeletons. The skeleton is data (templates/domain/<os>.xml); this file only
 * fills its fields, with every value XML-escaped, and wraps the libvirt calls. */
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <string.h>

#include "util/util.h"
#include "virt/virt-domain.h"

#define VIRT_USER_NETDEV "kilnnet0"

/* Secure Boot needs SMM, which QEMU has on q35 only; else i440fx unless q35 is asked for. */
static bool q35(const virt_domain_spec *spec)
{
        return spec->q35 || spec->secure_boot;
}

/* The NIC model for guests without virtio drivers. */
static const char *legacy_nic(const virt_domain_spec *spec)
{
        return q35(spec) ? "e1000e" : "e1000";
}

static char *render_disks(const virt_domain_spec *spec)
{
        kiln_buf b = {0};

        for (size_t i = 0; i < spec->n_disks; i++) {
                const virt_domain_disk *d = &spec->disks[i];
                kiln_autofree char *pool = kiln_xml_escape(d->pool);
                kiln_autofree char *vol = kiln_xml_escape(d->volume);
                kiln_autofree char *target = kiln_xml_escape(d->target);
                kiln_autofree char *serial =
                        d->serial ? kiln_xml_escape(d->serial) : kiln_xstrdup("");
                bool cdrom = spec->legacy_devices && d->raw && d->read_only;

                if (spec->legacy_devices && strncmp(target, "vd", 2) == 0)
                        target[0] = 's';
                kiln_buf_appendf(&b,
                                 "    <disk type='volume' device='%s'>\n"
                                 "      <driver name='qemu' type='%s'/>\n"
                                 "      <source pool='%s' volume='%s'/>\n"
                                 "      <target dev='%s' bus='%s'/>\n"
                                 "%s%s%s"
                                 "%s"
                                 "    </disk>",
                                 cdrom ? "cdrom" : "disk", d->raw ? "raw" : "qcow2", pool, vol,
                                 target, spec->legacy_devices ? "sata" : "virtio",
                                 *serial ? "      <serial>" : "", serial,
                                 *serial ? "</serial>\n" : "",
                                 d->read_only ? "      <readonly/>\n" : "");
                if (i + 1 < spec->n_disks)
                        kiln_buf_append(&b, "\n", 1);
        }
        return kiln_buf_steal(&b);
}

/* User networking: QEMU's own NIC with the forwards from 127.0.0.1 (libvirt 9.0 has no passt
 * backend); the NIC gets a fixed PCI slot clear of libvirt's devices. */
static char *render_qemu_commandline(const virt_domain_spec *spec)
{
        kiln_buf netdev = {0};
        kiln_autofree char *value = NULL;

        if (spec->network)
                return kiln_xstrdup("");
        kiln_buf_appendf(&netdev, "user,id=" VIRT_USER_NETDEV);
        for (size_t i = 0; i < spec->n_forwards; i++)
                kiln_buf_appendf(&netdev, ",hostfwd=%s:%s:%d-:%d",
                                 strcmp(spec->forwards[i].protocol, "udp") == 0 ? "udp" : "tcp",
                                 spec->listen_address ? spec->listen_address : "127.0.0.1",
                                 spec->forwards[i].host_port, spec->forwards[i].guest_port);
        value = kiln_buf_steal(&netdev);
        return kiln_xasprintf("  <qemu:commandline>\n"
                              "    <qemu:arg value='-netdev'/>\n"
                              "    <qemu:arg value='%s'/>\n"
                              "    <qemu:arg value='-device'/>\n"
                              "    <qemu:arg value='%s,netdev=" VIRT_USER_NETDEV
                              ",bus=%s,addr=0x10'/>\n"
                              "  </qemu:commandline>",
                              value, spec->legacy_devices ? legacy_nic(spec) : "virtio-net-pci",
                              q35(spec) ? "pcie.0" : "pci.0");
}

static char *render_os(const virt_domain_spec *spec)
{
        const char *machine = q35(spec) ? "q35" : "pc";
        kiln_autofree char *nvram = NULL;

        if (!spec->uefi)
                return kiln_xasprintf("  <os>\n"
                                      "    <type arch='x86_64' machine='%s'>hvm</type>\n"
                                      "    <boot dev='hd'/>\n"
                                      "  </os>",
                                      machine);
        nvram = kiln_xml_escape(spec->nvram_path ? spec->nvram_path : "");
        return kiln_xasprintf("  <os firmware='efi'>\n"
                              "    <type arch='x86_64' machine='%s'>hvm</type>\n"
                              "    <firmware>\n"
                              "      <feature enabled='%s' name='secure-boot'/>\n"
                              "      <feature enabled='%s' name='enrolled-keys'/>\n"
                              "    </firmware>\n"
                              "%s"
                              "    <nvram>%s</nvram>\n"
                              "    <boot dev='hd'/>\n"
                              "  </os>",
                              machine, spec->secure_boot ? "yes" : "no",
                              spec->secure_boot ? "yes" : "no",
                              spec->secure_boot ? "    <loader secure='yes'/>\n" : "", nvram);
}

static char *render_firmware_features(const virt_domain_spec *spec)
{
        /* Secure Boot keeps its variables where the guest's kernel cannot write them. */
        return kiln_xstrdup(spec->secure_boot ? "\n    <smm state='on'/>" : "");
}

static char *render_tpm(const virt_domain_spec *spec)
{
        if (!spec->tpm)
                return kiln_xstrdup("");
        return kiln_xasprintf("\n    <tpm model='%s'>\n"
                              "      <backend type='emulator' version='2.0'/>\n"
                              "    </tpm>",
                              q35(spec) ? "tpm-crb" : "tpm-tis");
}

static char *render_interface(const virt_domain_spec *spec)
{
        kiln_autofree char *net = NULL;
        const char *model = spec->legacy_devices ? legacy_nic(spec) : "virtio";

        if (!spec->network)
                return kiln_xstrdup("");
        net = kiln_xml_escape(spec->network);
        if (spec->filter) {
                kiln_autofree char *filter = kiln_xml_escape(spec->filter);

                return kiln_xasprintf("    <interface type='network'>\n"
                                      "      <source network='%s'/>\n"
                                      "      <model type='%s'/>\n"
                                      "      <filterref filter='%s'/>\n"
                                      "    </interface>",
                                      net, model, filter);
        }
        return kiln_xasprintf("    <interface type='network'>\n"
                              "      <source network='%s'/>\n"
                              "      <model type='%s'/>\n"
                              "    </interface>",
                              net, model);
}

/* Hyper-V enlightenments for Windows guests. vpindex, synic and stimer need KVM (QEMU refuses
 * them under TCG: "kernel doesn't allow setting HyperV VP_INDEX"); the others work in both. */
static char *render_hyperv(const virt_domain_spec *spec)
{
        return kiln_xasprintf("\n    <hyperv mode='custom'>\n"
                              "      <relaxed state='on'/>\n"
                              "      <vapic state='on'/>\n"
                              "      <spinlocks state='on' retries='8191'/>\n"
                              "%s"
                              "      <runtime state='on'/>\n"
                              "      <frequencies state='on'/>\n"
                              "    </hyperv>",
                              spec->kvm ? "      <vpindex state='on'/>\n"
                                          "      <synic state='on'/>\n"
                                          "      <stimer state='on'/>\n"
                                        : "");
}

typedef struct field {
        const char *name;
        char *value; /* already XML */
} field;

char *virt_domain_render(const virt_domain_spec *spec, kiln_error **err)
{
        kiln_autofree char *skeleton = NULL;
        kiln_buf out = {0};
        field fields[] = {
                {"domain_type", kiln_xstrdup(spec->kvm ? "kvm" : "qemu")},
                {"name", kiln_xml_escape(spec->name)},
                {"instance_id", kiln_xml_escape(spec->instance_id)},
                {"image_id", kiln_xml_escape(spec->image_id)},
                {"memory_mib", kiln_xasprintf("%u", spec->memory_mib)},
                {"vcpus", kiln_xasprintf("%u", spec->vcpus)},
                {"cpu", kiln_xstrdup(spec->kvm ? "  <cpu mode='host-passthrough'/>" : "")},
                {"disks", render_disks(spec)},
                {"console_log", kiln_xml_escape(spec->console_log)},
                {"interface", render_interface(spec)},
                {"qemu_commandline", render_qemu_commandline(spec)},
                {"os", render_os(spec)},
                {"firmware_features", render_firmware_features(spec)},
                {"tpm", render_tpm(spec)},
                {"hyperv", render_hyperv(spec)},
                {"clock_offset", kiln_xstrdup(spec->localtime ? "localtime" : "utc")},
        };
        const char *p;
        int rc = 0;

        if (kiln_file_read(spec->skeleton_path, 1 << 20, &skeleton, NULL, err) < 0)
                rc = -1;
        for (p = skeleton; rc == 0 && *p;) {
                const char *open = strstr(p, "{{");
                const char *close = open ? strstr(open, "}}") : NULL;
                bool found = false;

                if (!open || !close) {
                        kiln_buf_append(&out, p, strlen(p));
                        break;
                }
                kiln_buf_append(&out, p, (size_t) (open - p));
                for (size_t i = 0; i < KILN_ARRAY_SIZE(fields); i++) {
                        if (strlen(fields[i].name) == (size_t) (close - open - 2) &&
                            strncmp(open + 2, fields[i].name, (size_t) (close - open - 2)) == 0) {
                                kiln_buf_append(&out, fields[i].value, strlen(fields[i].value));
                                found = true;
                        }
                }
                if (!found)
                        rc = kiln_error_set(err, KILN_E_INVALID, NULL, "%s: unknown field '%.*s'",
                                            spec->skeleton_path, (int) (close - open - 2),
                                            open + 2);
                p = close + 2;
        }
        for (size_t i = 0; i < KILN_ARRAY_SIZE(fields); i++)
                free(fields[i].value);
        if (rc < 0) {
                kiln_buf_clear(&out);
                return NULL;
        }
        if (spec->uuid) {
                kiln_autofree char *xml = kiln_buf_steal(&out);
                kiln_autofree char *uuid = kiln_xml_escape(spec->uuid);
                const char *end = strstr(xml, "</name>");

                if (!end) {
                        kiln_error_set(err, KILN_E_INVALID, NULL, "%s: no <name> element",
                                       spec->skeleton_path);
                        return NULL;
                }
                end += strlen("</name>");
                return kiln_xasprintf("%.*s\n  <uuid>%s</uuid>%s", (int) (end - xml), xml, uuid,
                                      end);
        }
        return kiln_buf_steal(&out);
}

virDomainPtr virt_dom_free(virDomainPtr dom)
{
        if (dom)
                virDomainFree(dom);
        return NULL;
}

virDomainPtr virt_domain_define(virConnectPtr conn, const char *xml, kiln_error **err)
{
        virDomainPtr dom = virDomainDefineXML(conn, xml);

        if (!dom)
                virt_error(err, "cannot define the domain");
        return dom;
}

virDomainPtr virt_domain_lookup(virConnectPtr conn, const char *name, kiln_error **err)
{
        virDomainPtr dom = virDomainLookupByName(conn, name);

        if (!dom) {
                if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN)
                        kiln_error_set(err, KILN_E_NOT_FOUND, NULL, "there is no domain '%s'",
                                       name);
                else
                        virt_error(err, "cannot look up domain '%s'", name);
        }
        return dom;
}

/* Each of these reads the domain's name before the call that may fail: every libvirt API,
 * getters included, resets the thread's last error, which virt_error then reads. */
int virt_domain_start(virDomainPtr dom, kiln_error **err)
{
        const char *name = virDomainGetName(dom);

        if (virDomainCreate(dom) < 0) {
                /* QEMU says why only in words: a forward whose host port another process took
                 * is told apart here, so that no caller reads the message. */
                bool port = strstr(virGetLastErrorMessage(), "hostfwd") != NULL;

                virt_error(err, "cannot start domain '%s'", name);
                return port ? kiln_error_set_reason(err, KILN_R_PORT_IN_USE) : -1;
        }
        return 0;
}

int virt_domain_shutdown(virDomainPtr dom, kiln_error **err)
{
        const char *name = virDomainGetName(dom);

        if (virDomainShutdownFlags(dom, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) < 0)
                return virt_error(err, "cannot shut down domain '%s'", name);
        return 0;
}

int virt_domain_snapshot_disks(virDomainPtr dom, const virt_snapshot_disk *disks, size_t n,
                               const char *const *skip, size_t n_skip, kiln_error **err)
{
        const char *name = virDomainGetName(dom);
        kiln_buf xml = {0};
        virDomainSnapshotPtr snap;

        kiln_buf_appendf(&xml, "%s", "<domainsnapshot>\n  <disks>\n");
        for (size_t i = 0; i < n; i++) {
                kiln_autofree char *t = kiln_xml_escape(disks[i].target);
                kiln_autofree char *p = kiln_xml_escape(disks[i].new_path);

                kiln_buf_appendf(&xml,
                                 "    <disk name='%s' snapshot='external'>\n"
                                 "      <driver type='qcow2'/>\n"
                                 "      <source file='%s'/>\n"
                                 "    </disk>\n",
                                 t, p);
        }
        for (size_t i = 0; i < n_skip; i++) {
                kiln_autofree char *t = kiln_xml_escape(skip[i]);

                kiln_buf_appendf(&xml, "    <disk name='%s' snapshot='no'/>\n", t);
        }
        kiln_buf_appendf(&xml, "%s", "  </disks>\n</domainsnapshot>\n");
        snap = virDomainSnapshotCreateXML(dom, xml.data,
                                          VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY |
                                                  VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA |
                                                  VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC);
        kiln_buf_clear(&xml);
        if (!snap)
                return virt_error(err, "cannot snapshot the disks of domain '%s'", name);
        virDomainSnapshotFree(snap);
        return 0;
}

int virt_domain_reboot(virDomainPtr dom, kiln_error **err)
{
        const char *name = virDomainGetName(dom);

        if (virDomainReboot(dom, VIR_DOMAIN_REBOOT_ACPI_POWER_BTN) < 0)
                return virt_error(err, "cannot reboot domain '%s'", name);
        return 0;
}

bool virt_domain_active(virDomainPtr dom)
{
        return virDomainIsActive(dom) == 1;
}

const char *virt_domain_failure(virDomainPtr dom)
{
        int state = 0, reason = 0;

        if (virDomainGetState(dom, &state, &reason, 0) < 0 || state != VIR_DOMAIN_SHUTOFF)
                return NULL;
        if (reason == VIR_DOMAIN_SHUTOFF_FAILED)
                return "the hypervisor stopped it: QEMU failed (see the domain's QEMU log)";
        if (reason == VIR_DOMAIN_SHUTOFF_CRASHED)
                return "the guest crashed";
        return NULL;
}

int virt_domain_destroy(virDomainPtr dom, kiln_error **err)
{
        const char *name = virDomainGetName(dom);
        kiln_autoptr(kiln_error) e = NULL;

        if (!virt_domain_active(dom))
                return 0;
        if (virDomainDestroy(dom) == 0)
                return 0;
        virt_error(&e, "cannot destroy domain '%s'", name);
        if (!virt_domain_active(dom))
                return 0; /* it went by itself meanwhile */
        if (err && !*err)
                *err = kiln_steal(&e);
        return -1;
}

int virt_domain_remove(virConnectPtr conn, const char *name, kiln_error **err)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_autoptr(virt_dom) dom = virt_domain_lookup(conn, name, &e);

        if (!dom) {
                if (e->code == KILN_E_NOT_FOUND)
                        return 0;
                *err = kiln_steal(&e);
                return -1;
        }
        if (virt_domain_destroy(dom, err) < 0)
                return -1;
        if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_NVRAM | VIR_DOMAIN_UNDEFINE_TPM) < 0)
                return virt_error(err, "cannot undefine domain '%s'", name);
        return 0;
}

/* ---- network ---- */

int virt_domain_forward(virDomainPtr dom, const char *address, const virt_forward *fwd, bool add,
                        kiln_error **err)
{
        const char *name = virDomainGetName(dom);
        const char *proto = strcmp(fwd->protocol, "udp") == 0 ? "udp" : "tcp";
        kiln_autofree char *cmd =
                add ? kiln_xasprintf("hostfwd_add " VIRT_USER_NETDEV " %s:%s:%d-:%d", proto,
                                     address, fwd->host_port, fwd->guest_port)
                    : kiln_xasprintf("hostfwd_remove " VIRT_USER_NETDEV " %s:%s:%d", proto, address,
                                     fwd->host_port);
        char *reply = NULL;
        bool failed;

        if (virDomainQemuMonitorCommand(dom, cmd, &reply, VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP) < 0)
                return virt_error(err, "domain '%s': cannot run '%s'", name, cmd);
        /* HMP answers nothing when the forward was set up or removed, and says why not. */
        failed = reply && reply[strspn(reply, " \r\n")] != '\0';
        if (failed) {
                kiln_error_set(err, KILN_E_IO, NULL, "domain '%s': %s: %s", name, cmd, reply);
                if (add)
                        kiln_error_set_reason(err, KILN_R_PORT_IN_USE);
        }
        free(reply);
        return failed ? -1 : 0;
}

int virt_nwfilter_define(virConnectPtr conn, const char *name, const char *xml, kiln_error **err)
{
        virNWFilterPtr old = virNWFilterLookupByName(conn, name);
        kiln_autofree char *full = NULL;
        virNWFilterPtr f;

        /* libvirt replaces a filter only under its UUID: the new one keeps the old one's. */
        if (old) {
                char uuid[VIR_UUID_STRING_BUFLEN];
                const char *open_end = strchr(xml, '>');

                if (virNWFilterGetUUIDString(old, uuid) == 0 && open_end)
                        full = kiln_xasprintf("%.*s\n  <uuid>%s</uuid>%s",
                                              (int) (open_end + 1 - xml), xml, uuid, open_end + 1);
                virNWFilterFree(old);
        }
        f = virNWFilterDefineXML(conn, full ? full : xml);

        if (!f)
                return virt_error(err, "cannot define a network filter");
        virNWFilterFree(f);
        return 0;
}

int virt_nwfilter_remove(virConnectPtr conn, const char *name, kiln_error **err)
{
        virNWFilterPtr f = virNWFilterLookupByName(conn, name);
        int rc = 0;

        if (!f)
                return virGetLastErrorCode() == VIR_ERR_NO_NWFILTER
                               ? 0
                               : virt_error(err, "cannot look up network filter '%s'", name);
        if (virNWFilterUndefine(f) < 0)
                rc = virt_error(err, "cannot remove network filter '%s'", name);
        virNWFilterFree(f);
        return rc;
}

/* ---- disks of a running domain ---- */

static char *disk_xml(const virt_domain_disk *d)
{
        virt_domain_spec one = {0};

        one.disks = d;
        one.n_disks = 1;
        return render_disks(&one);
}

char *virt_domain_disk_target(virDomainPtr dom, const char *pool, const char *volume)
{
        kiln_autofree char *xml = virDomainGetXMLDesc(dom, 0);
        kiln_autofree char *xpath = NULL;

        /* Volume names kiln makes have no quote; one that has matches nothing. */
        if (!xml || strchr(pool, '\'') || strchr(volume, '\''))
                return NULL;
        /* After a live snapshot the disk is a file (its new overlay) rather than a volume. */
        xpath = kiln_xasprintf("string(/domain/devices/disk[(source/@pool='%s' and "
                               "source/@volume='%s') or substring(source/@file, "
                               "string-length(source/@file) - %zu) = '/%s']/target/@dev)",
                               pool, volume, strlen(volume), volume);
        return virt_xml_string(xml, xpath);
}

char *virt_domain_free_target(virDomainPtr dom, kiln_error **err)
{
        kiln_autofree char *xml = virDomainGetXMLDesc(dom, 0);

        if (!xml) {
                virt_error(err, "cannot read domain '%s'", virDomainGetName(dom));
                return NULL;
        }
        /* vdz is the seed's. */
        for (int c = 'b'; c < 'z'; c++) {
                kiln_autofree char *xpath =
                        kiln_xasprintf("string(/domain/devices/disk/target[@dev='vd%c']/@dev)", c);
                kiln_autofree char *used = virt_xml_string(xml, xpath);

                if (!used)
                        return kiln_xasprintf("vd%c", c);
        }
        kiln_error_set(err, KILN_E_LIMIT, "AttachmentLimitExceeded",
                       "domain '%s' has no free disk name left (vdb to vdy)",
                       virDomainGetName(dom));
        return NULL;
}

int virt_domain_attach_disk(virDomainPtr dom, const virt_domain_disk *disk, kiln_error **err)
{
        kiln_autofree char *xml = disk_xml(disk);

        kiln_log(KILN_LOG_DEBUG, "libvirt: attaching volume '%s' to domain '%s' as %s",
                 disk->volume, virDomainGetName(dom), disk->target);
        if (virDomainAttachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
                return virt_error(err, "cannot attach volume '%s' to domain '%s'", disk->volume,
                                  virDomainGetName(dom));
        return 0;
}

int virt_domain_detach_disk(virDomainPtr dom, const virt_domain_disk *disk, unsigned timeout_ms,
                            kiln_error **err)
{
        kiln_autofree char *xml = disk_xml(disk);
        uint64_t deadline = kiln_now_ms() + timeout_ms;

        kiln_log(KILN_LOG_DEBUG, "libvirt: detaching volume '%s' (%s) from domain '%s'",
                 disk->volume, disk->target, virDomainGetName(dom));
        if (virDomainDetachDeviceFlags(dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
                return virt_error(err, "cannot detach volume '%s' from domain '%s'", disk->volume,
                                  virDomainGetName(dom));
        /* The guest is asked to let go of the disk; it is gone once it has. */
        for (;;) {
                kiln_autofree char *target = virt_domain_disk_target(dom, disk->pool, disk->volume);

                if (!target)
                        return 0;
                if (kiln_now_ms() >= deadline)
                        return kiln_error_set(err, KILN_E_STATE, "IncorrectState",
                                              "the guest of domain '%s' did not release %s "
                                              "within %u s",
                                              virDomainGetName(dom), disk->target,
                                              timeout_ms / 1000);
                kiln_sleep_ms(200);
        }
}
