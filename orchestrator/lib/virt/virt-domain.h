/* libvirt domains: rendering a domain from a per-OS skeleton in templates/domain/, and the
 * few calls an instance's life needs. Knows nothing of instances or the registry. */
#ifndef KILN_VIRT_DOMAIN_H
#define KILN_VIRT_DOMAIN_H

#include <stdbool.h>

#include "virt/virt.h"

typedef struct virt_domain_disk {
        const char *pool;   /* storage pool of the volume */
        const char *volume; /* volume name */
        const char *target; /* vda, vdb, ... */
        bool raw;           /* raw (the seed) rather than qcow2 */
        bool read_only;
        const char *serial; /* what the guest reads as the disk's serial, or NULL */
} virt_domain_disk;

/* A forward of QEMU's user networking from 127.0.0.1 on the host into the guest. */
typedef struct virt_forward {
        const char *protocol; /* tcp or udp */
        int host_port;
        int guest_port;
} virt_forward;

typedef struct virt_domain_spec {
        const char *skeleton_path; /* templates/domain/linux.xml */
        const char *name;
        const char *instance_id;
        const char *image_id;
        bool kvm; /* domain type kvm with the host's CPU; else qemu (TCG) */
        unsigned memory_mib;
        unsigned vcpus;
        const virt_domain_disk *disks;
        size_t n_disks;
        const char *console_log; /* serial console log file on the domain's host */
        const char *network;     /* libvirt network name, or NULL for user networking */
        const char *filter;      /* the network interface's nwfilter, or NULL */
        /* user networking: listen_address (NULL: 127.0.0.1):host_port -> guest_port, each */
        const char *listen_address;
        const virt_forward *forwards;
        size_t n_forwards;
        const char *uuid; /* keep this UUID (redefining an existing domain), or NULL */
        /* Firmware: BIOS, or UEFI (the firmware libvirt picks from QEMU's descriptors) with
         * its variable store in nvram_path (made from the firmware's template if missing),
         * with Secure Boot (then a q35 machine with SMM). */
        bool uefi;
        bool secure_boot;
        const char *nvram_path;
        bool tpm;       /* an emulated TPM 2.0 (swtpm), its state kept by libvirt per domain */
        bool q35;       /* a q35 machine (PCIe, AHCI), as Windows wants; also with Secure Boot */
        bool localtime; /* the RTC in local time (Windows' default), else UTC */
        /* For guests without virtio drivers: disks on SATA (targets vdX become sdX; the
         * read-only raw disk, the seed, a CD-ROM) and an Intel NIC, e1000e on q35, e1000 on
         * i440fx, which Windows and Linux drive with their own drivers. */
        bool legacy_devices;
} virt_domain_spec;

/* The domain XML: the skeleton with every {{field}} filled; every value is XML-escaped. */
char *virt_domain_render(const virt_domain_spec *spec, kiln_error **err);

typedef virDomain virt_dom;
virDomainPtr virt_dom_free(virDomainPtr dom);
KILN_DEFINE_AUTOPTR(virt_dom, virt_dom_free)

/* Defines (persistently) the domain described by xml. */
virDomainPtr virt_domain_define(virConnectPtr conn, const char *xml, kiln_error **err);
/* KILN_E_NOT_FOUND if there is no such domain. */
virDomainPtr virt_domain_lookup(virConnectPtr conn, const char *name, kiln_error **err);
int virt_domain_start(virDomainPtr dom, kiln_error **err);
/* ACPI power button; the guest shuts down in its own time. */
int virt_domain_shutdown(virDomainPtr dom, kiln_error **err);
int virt_domain_reboot(virDomainPtr dom, kiln_error **err);
/* Pulls the plug; a domain that is not running is not an error. */
int virt_domain_destroy(virDomainPtr dom, kiln_error **err);
/* Destroys (if running) and undefines, with its NVRAM and TPM state; a missing domain is not
 * an error. */
int virt_domain_remove(virConnectPtr conn, const char *name, kiln_error **err);
/* Adds or removes a forward of a running domain's user networking (QEMU's hostfwd_add and
 * hostfwd_remove through its monitor). KILN_R_PORT_IN_USE when the host port is taken. */
int virt_domain_forward(virDomainPtr dom, const char *address, const virt_forward *fwd, bool add,
                        kiln_error **err);

/* Defines (or redefines: libvirt applies the change to the interfaces using it at once) an
 * nwfilter; removes one, quietly if it is not there. */
int virt_nwfilter_define(virConnectPtr conn, const char *name, const char *xml, kiln_error **err);
int virt_nwfilter_remove(virConnectPtr conn, const char *name, kiln_error **err);

/* A disk to switch to a new overlay in virt_domain_snapshot_disks. */
typedef struct virt_snapshot_disk {
        const char *target;   /* vda, ... */
        const char *new_path; /* the overlay file to create, on the domain's host */
} virt_snapshot_disk;

/* Freezes the named disks of a running domain, crash-consistently and atomically: QEMU goes on
 * writing to a new qcow2 overlay per disk (created by libvirt at new_path, backed by the disk's
 * current file, which is then no longer written). Disks not named (targets in skip) are left
 * alone. No snapshot metadata is kept. */
int virt_domain_snapshot_disks(virDomainPtr dom, const virt_snapshot_disk *disks, size_t n,
                               const char *const *skip, size_t n_skip, kiln_error **err);
/* True if the domain is running (or paused, or being shut down). */
bool virt_domain_active(virDomainPtr dom);

/* The target (vdb ...) under which the live domain has volume of pool, or NULL. */
char *virt_domain_disk_target(virDomainPtr dom, const char *pool, const char *volume);
/* The first of vdb..vdy the live domain does not use. */
char *virt_domain_free_target(virDomainPtr dom, kiln_error **err);
/* Hot-plugs a disk into the running domain (its persistent definition is the caller's). */
int virt_domain_attach_disk(virDomainPtr dom, const virt_domain_disk *disk, kiln_error **err);
/* Asks the running domain's guest to release a disk and waits until it has, at most
 * timeout_ms (KILN_E_STATE after). */
int virt_domain_detach_disk(virDomainPtr dom, const virt_domain_disk *disk, unsigned timeout_ms,
                            kiln_error **err);
/* Why an inactive domain stopped, in words, when the hypervisor stopped it (QEMU failed or the
 * guest crashed); NULL when it shut down normally or the reason cannot be read. */
const char *virt_domain_failure(virDomainPtr dom);

#endif
