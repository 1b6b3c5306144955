/* Choosing the accelerator. `/dev/kvm` alone proves nothing: on a CPU that does not expose
 * VT-x or AMD-V (a nested guest without them), the device can exist while every KVM guest
 * fails, so kvm counts as usable only when the CPU flags are there and a tiny guest really
 * runs under KVM (one HLT instruction in real mode). */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "util/util.h"

#include <kiln/host.h>

#define KVM_PROBE_GUEST_ADDR 0x1000

static const char *const accel_names[KILN_ACCEL_COUNT] = {
        [KILN_ACCEL_AUTO] = "auto",
        [KILN_ACCEL_KVM] = "kvm",
        [KILN_ACCEL_TCG] = "tcg",
};

const char *kiln_accel_to_string(kiln_accel a)
{
        return a < KILN_ACCEL_COUNT ? accel_names[a] : "unknown";
}

int kiln_accel_from_string(const char *s, kiln_accel *ret, kiln_error **err)
{
        for (int i = 0; i < KILN_ACCEL_COUNT; i++)
                if (s && strcmp(s, accel_names[i]) == 0) {
                        *ret = (kiln_accel) i;
                        return 0;
                }
        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                              "Invalid accelerator '%s': expected auto, kvm or tcg", s ? s : "");
}

static bool word_in(const char *line, const char *word)
{
        size_t n = strlen(word);

        for (const char *p = strstr(line, word); p; p = strstr(p + 1, word)) {
                bool start = p == line || p[-1] == ' ' || p[-1] == '\t' || p[-1] == ':';
                bool end = p[n] == '\0' || p[n] == ' ' || p[n] == '\n' || p[n] == '\t';

                if (start && end)
                        return true;
        }
        return false;
}

bool kiln_host_cpuinfo_has_virt(const char *cpuinfo)
{
        const char *line = cpuinfo;

        while (line && *line) {
                const char *nl = strchr(line, '\n');
                kiln_autofree char *l =
                        nl ? kiln_xstrndup(line, (size_t) (nl - line)) : kiln_xstrdup(line);

                if (strncmp(l, "flags", 5) == 0 && (word_in(l, "vmx") || word_in(l, "svm")))
                        return true;
                line = nl ? nl + 1 : NULL;
        }
        return false;
}

static void closep_kvm(int *fd)
{
        kiln_closep(fd);
}

/* Runs a one-instruction real-mode guest; true if it exits on its HLT. */
static bool kvm_run_hlt(int kvm, char *why, size_t why_len)
{
        __attribute__((cleanup(closep_kvm))) int vm = -1;
        __attribute__((cleanup(closep_kvm))) int vcpu = -1;
        struct kvm_userspace_memory_region region = {0};
        struct kvm_sregs sregs;
        struct kvm_regs regs = {0};
        struct kvm_run *run = NULL;
        unsigned char *mem = NULL;
        int run_size;
        bool ok = false;

        vm = ioctl(kvm, KVM_CREATE_VM, 0UL);
        if (vm < 0) {
                snprintf(why, why_len, "KVM_CREATE_VM failed: %s", strerror(errno));
                return false;
        }
        mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) {
                snprintf(why, why_len, "mmap failed: %s", strerror(errno));
                return false;
        }
        mem[0] = 0xf4; /* hlt */
        region.guest_phys_addr = KVM_PROBE_GUEST_ADDR;
        region.memory_size = 4096;
        region.userspace_addr = (unsigned long) mem;
        if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
                snprintf(why, why_len, "KVM_SET_USER_MEMORY_REGION failed: %s", strerror(errno));
                munmap(mem, 4096);
                return false;
        }
        vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
        run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
        if (vcpu < 0 || run_size <= 0) {
                snprintf(why, why_len, "KVM_CREATE_VCPU failed: %s", strerror(errno));
                munmap(mem, 4096);
                return false;
        }
        run = mmap(NULL, (size_t) run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
        if (run == MAP_FAILED) {
                snprintf(why, why_len, "mmap of the vCPU failed: %s", strerror(errno));
                munmap(mem, 4096);
                return false;
        }
        if (ioctl(vcpu, KVM_GET_SREGS, &sregs) == 0) {
                sregs.cs.base = 0;
                sregs.cs.selector = 0;
                regs.rip = KVM_PROBE_GUEST_ADDR;
                regs.rflags = 0x2;
                if (ioctl(vcpu, KVM_SET_SREGS, &sregs) == 0 &&
                    ioctl(vcpu, KVM_SET_REGS, &regs) == 0 && ioctl(vcpu, KVM_RUN, 0) == 0) {
                        ok = run->exit_reason == KVM_EXIT_HLT;
                        if (!ok)
                                snprintf(why, why_len,
                                         "a test guest under KVM stopped with exit reason %u "
                                         "instead of halting",
                                         run->exit_reason);
                } else {
                        snprintf(why, why_len, "a test guest could not run under KVM: %s",
                                 strerror(errno));
                }
        } else {
                snprintf(why, why_len, "KVM_GET_SREGS failed: %s", strerror(errno));
        }
        munmap(run, (size_t) run_size);
        munmap(mem, 4096);
        return ok;
}

void kiln_host_probe_kvm(kiln_kvm_probe *ret)
{
        kiln_kvm_probe p = {0};
        kiln_autofree char *cpuinfo = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        kiln_autoclose int kvm = -1;

        p.dev_kvm = access("/dev/kvm", F_OK) == 0;
        if (kiln_file_read("/proc/cpuinfo", 16 << 20, &cpuinfo, NULL, &e) == 0)
                p.cpu_flags = kiln_host_cpuinfo_has_virt(cpuinfo);
        if (p.dev_kvm) {
                kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
                p.dev_kvm_open = kvm >= 0;
        }
        if (!p.dev_kvm)
                snprintf(p.detail, sizeof(p.detail), "/dev/kvm does not exist");
        else if (!p.dev_kvm_open)
                snprintf(p.detail, sizeof(p.detail), "/dev/kvm cannot be opened: %s",
                         strerror(errno));
        else if (!p.cpu_flags)
                snprintf(p.detail, sizeof(p.detail),
                         "/dev/kvm exists but the CPU shows neither vmx nor svm, so KVM guests "
                         "would fail");
        else if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
                snprintf(p.detail, sizeof(p.detail), "/dev/kvm speaks an unknown KVM API");
        else
                p.vm_runs = kvm_run_hlt(kvm, p.detail, sizeof(p.detail));
        if (p.vm_runs)
                p.detail[0] = '\0';
        *ret = p;
}

int kiln_accel_resolve(kiln_accel want, const kiln_kvm_probe *probe, kiln_accel *ret,
                       kiln_error **err)
{
        switch (want) {
        case KILN_ACCEL_TCG:
                *ret = KILN_ACCEL_TCG;
                return 0;
        case KILN_ACCEL_KVM:
                if (!probe->vm_runs)
                        return kiln_error_set(err, KILN_E_UNSUPPORTED, "Unsupported",
                                              "KVM cannot run guests on this host (%s); use "
                                              "--accel tcg or auto",
                                              probe->detail);
                *ret = KILN_ACCEL_KVM;
                return 0;
        case KILN_ACCEL_AUTO:
                *ret = probe->vm_runs ? KILN_ACCEL_KVM : KILN_ACCEL_TCG;
                return 0;
        case KILN_ACCEL_COUNT:
                break;
        }
        return kiln_error_set(err, KILN_E_INTERNAL, NULL, "unknown accelerator %d", (int) want);
}
