/* The host: which accelerator can run guests here, and whether the hypervisor answers.
 * `--accel auto` must never pick a KVM that cannot run a guest: /dev/kvm can exist on a CPU
 * without VT-x/AMD-V (nested setups), where every KVM guest fails. */
#ifndef KILN_HOST_H
#define KILN_HOST_H

#include <stdbool.h>

#include <kiln/common.h>
#include <kiln/error.h>

typedef enum { KILN_ACCEL_AUTO, KILN_ACCEL_KVM, KILN_ACCEL_TCG, KILN_ACCEL_COUNT } kiln_accel;

/* What the host offers for KVM, as found by kiln_host_probe_kvm(). */
typedef struct kiln_kvm_probe {
        bool dev_kvm;      /* /dev/kvm exists */
        bool dev_kvm_open; /* and this process may open it */
        bool cpu_flags;    /* /proc/cpuinfo shows vmx or svm */
        bool vm_runs;      /* a one-instruction guest ran to its HLT under KVM */
        char detail[256];  /* why KVM is not usable, empty when it is */
} kiln_kvm_probe;

KILN_PUBLIC int kiln_accel_from_string(const char *s, kiln_accel *ret, kiln_error **err);
KILN_PUBLIC const char *kiln_accel_to_string(kiln_accel a);

/* Fills *ret; never fails (what cannot be checked counts as unusable). */
KILN_PUBLIC void kiln_host_probe_kvm(kiln_kvm_probe *ret);
/* True if /proc/cpuinfo-formatted text lists the vmx or svm flag. */
KILN_PUBLIC bool kiln_host_cpuinfo_has_virt(const char *cpuinfo);

/* Resolves want (auto, kvm, tcg) against a probe: auto gives kvm only when the probe says KVM
 * runs guests; kvm on a host where it does not is KILN_E_UNSUPPORTED naming the reason. */
KILN_PUBLIC int kiln_accel_resolve(kiln_accel want, const kiln_kvm_probe *probe, kiln_accel *ret,
                                   kiln_error **err);

/* A hypervisor connection's identity, for `kiln doctor`. */
typedef struct kiln_hypervisor_info {
        char *uri;    /* canonical URI as libvirt reports it */
        char *driver; /* "QEMU", "Test", ... */
        char *libvirt_version;
        char *hypervisor_version;
        char *hostname;
} kiln_hypervisor_info;

KILN_PUBLIC int kiln_host_hypervisor_info(const char *uri, kiln_hypervisor_info **ret,
                                          kiln_error **err);
KILN_PUBLIC kiln_hypervisor_info *kiln_hypervisor_info_free(kiln_hypervisor_info *info);

KILN_DEFINE_AUTOPTR(kiln_hypervisor_info, kiln_hypervisor_info_free)

/* An external tool kiln needs, and whether it is on PATH. */
typedef struct kiln_tool_check {
        const char *name;    /* "qemu-img" */
        const char *purpose; /* "inspects and converts disks" */
        const char *package; /* Debian package that ships it */
        bool found;
} kiln_tool_check;

/* Fills tools[] for the tools kiln runs; returns their number (at most max). */
KILN_PUBLIC size_t kiln_host_check_tools(kiln_tool_check *tools, size_t max);

#endif
