/* The external programs kiln runs, so that `kiln doctor` can say which are missing and which
 * Debian package brings each. */
#include "util/util.h"

#include <kiln/host.h>

static const kiln_tool_check host_tools[] = {
        {"qemu-img", "inspects, converts and layers disks", "qemu-utils", false},
        {"qemu-system-x86_64", "runs guests (under libvirt)", "qemu-system-x86", false},
        {"xorriso", "writes the NoCloud seed (ISO 9660)", "xorriso", false},
        {"ssh", "kiln ssh, and the ssh commands kiln prints", "openssh-client", false},
        {"virsh", "troubleshooting libvirt by hand", "libvirt-clients", false},
};

size_t kiln_host_check_tools(kiln_tool_check *tools, size_t max)
{
        size_t n = 0;

        for (size_t i = 0; i < KILN_ARRAY_SIZE(host_tools) && n < max; i++, n++) {
                kiln_autofree char *path = kiln_find_program(host_tools[i].name);

                tools[n] = host_tools[i];
                tools[n].found = path != NULL;
        }
        return n;
}
