/* The host: accelerator names, CPU flag detection from /proc/cpuinfo text, the rule that
 * `auto` never picks a KVM that cannot run guests, and hypervisor info through libvirt's test
 * driver. */
#include <stdlib.h>

#include "tap.h"
#include "util/util.h"

#include <kiln/kiln.h>

static char *fixture(const char *name)
{
        kiln_autofree char *path = kiln_xasprintf("%s/tests/data/host/%s", KILN_SRCDIR, name);
        kiln_autoptr(kiln_error) err = NULL;
        char *s = NULL;

        if (kiln_file_read(path, 1 << 20, &s, NULL, &err) < 0) {
                printf("# cannot read fixture %s: %s\n", path, err->msg);
                exit(1);
        }
        return s;
}

int main(void)
{
        kiln_accel a = KILN_ACCEL_AUTO;
        kiln_kvm_probe broken = {.dev_kvm = true, .dev_kvm_open = true};
        kiln_kvm_probe good = {
                .dev_kvm = true, .dev_kvm_open = true, .cpu_flags = true, .vm_runs = true};

        snprintf(broken.detail, sizeof(broken.detail), "no vmx or svm");
        kiln_global_init(NULL);

        {
                kiln_autoptr(kiln_error) err = NULL;

                is_int(kiln_accel_from_string("tcg", &a, &err), 0, "tcg parses");
                is_int(a, KILN_ACCEL_TCG, "to TCG");
                is_int(kiln_accel_from_string("KVM", &a, &err), -1, "names are exact");
                ok(err && err->code == KILN_E_INVALID, "an invalid accelerator is an input error");
                like(err ? err->msg : NULL, "'KVM'", "naming the bad value");
                is_str(kiln_accel_to_string(KILN_ACCEL_KVM), "kvm", "kvm prints");
        }
        {
                kiln_autofree char *amd = fixture("cpuinfo-svm.txt");
                kiln_autofree char *intel = fixture("cpuinfo-vmx.txt");
                kiln_autofree char *none = fixture("cpuinfo-nested-novirt.txt");

                ok(kiln_host_cpuinfo_has_virt(amd), "svm flag found");
                ok(kiln_host_cpuinfo_has_virt(intel), "vmx flag found");
                ok(!kiln_host_cpuinfo_has_virt(none), "no flag on a nested CPU without VT-x");
                ok(!kiln_host_cpuinfo_has_virt("model name : svmx vmxon\nflags : fpu vme\n"),
                   "flags are matched as whole words on the flags line only");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                is_int(kiln_accel_resolve(KILN_ACCEL_AUTO, &broken, &a, &err), 0, "auto resolves");
                is_int(a, KILN_ACCEL_TCG, "auto picks TCG where /dev/kvm exists but KVM fails");
                is_int(kiln_accel_resolve(KILN_ACCEL_AUTO, &good, &a, &err), 0, "auto resolves");
                is_int(a, KILN_ACCEL_KVM, "auto picks KVM where it runs guests");
                is_int(kiln_accel_resolve(KILN_ACCEL_KVM, &broken, &a, &err), -1,
                       "kvm is refused where it cannot run guests");
                ok(err && err->code == KILN_E_UNSUPPORTED, "as unsupported");
                like(err ? err->msg : NULL, "no vmx or svm", "with the reason");
        }
        {
                kiln_kvm_probe p;

                kiln_host_probe_kvm(&p);
                ok(p.vm_runs || p.detail[0], "the real probe explains why KVM is unusable");
                ok(!p.vm_runs || (p.dev_kvm && p.cpu_flags), "KVM runs only with flags and device");
        }
        {
                kiln_autoptr(kiln_hypervisor_info) info = NULL;
                kiln_autoptr(kiln_error) err = NULL;

                is_int(kiln_host_hypervisor_info("test:///default", &info, &err), 0,
                       "test driver answers");
                is_str(info ? info->driver : NULL, "TEST", "driver name");
                like(info ? info->libvirt_version : NULL, ".", "libvirt version");
        }
        {
                kiln_autoptr(kiln_hypervisor_info) info = NULL;
                kiln_autoptr(kiln_error) err = NULL;

                is_int(kiln_host_hypervisor_info("test:///nonexistent/node.xml", &info, &err), -1,
                       "a bad URI fails");
                ok(info == NULL, "and returns nothing");
                ok(err && err->code == KILN_E_LIBVIRT, "as a libvirt error");
                like(err ? err->msg : NULL, "test:///nonexistent/node.xml", "naming the URI");
        }
        {
                kiln_tool_check tools[8];
                size_t n = kiln_host_check_tools(tools, 8);
                bool has_qemu_img = false;

                for (size_t i = 0; i < n; i++)
                        if (strcmp(tools[i].name, "qemu-img") == 0)
                                has_qemu_img = true;
                ok(n >= 3 && has_qemu_img, "the tool list names qemu-img");
                is_int(kiln_host_check_tools(tools, 2), 2, "the tool list respects max");
        }
        kiln_global_cleanup();
        return done();
}
