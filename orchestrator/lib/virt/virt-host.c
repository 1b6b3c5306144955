/* Identity of a hypervisor connection, for `kiln doctor` and troubleshooting. */
#include <stdlib.h>

#include "util/util.h"
#include "virt/virt.h"

#include <kiln/host.h>

kiln_hypervisor_info *kiln_hypervisor_info_free(kiln_hypervisor_info *info)
{
        if (info) {
                free(info->uri);
                free(info->driver);
                free(info->libvirt_version);
                free(info->hypervisor_version);
                free(info->hostname);
                free(info);
        }
        return NULL;
}

int kiln_host_hypervisor_info(const char *uri, kiln_hypervisor_info **ret, kiln_error **err)
{
        kiln_autoptr(virt_conn) conn = NULL;
        kiln_autoptr(kiln_hypervisor_info) info = NULL;
        unsigned long lib = 0, hv = 0;
        const char *type;
        char *s;

        conn = virt_connect(uri, err);
        if (!conn)
                return -1;
        info = kiln_xcalloc(1, sizeof(*info));
        s = virConnectGetURI(conn);
        if (!s)
                return virt_error(err, "cannot read the URI of '%s'", uri);
        info->uri = s;
        type = virConnectGetType(conn);
        if (!type)
                return virt_error(err, "cannot read the driver of '%s'", uri);
        info->driver = kiln_xstrdup(type);
        if (virConnectGetLibVersion(conn, &lib) < 0)
                return virt_error(err, "cannot read the libvirt version of '%s'", uri);
        info->libvirt_version = virt_version_string(lib);
        if (virConnectGetVersion(conn, &hv) < 0)
                return virt_error(err, "cannot read the hypervisor version of '%s'", uri);
        info->hypervisor_version = virt_version_string(hv);
        s = virConnectGetHostname(conn);
        if (!s)
                return virt_error(err, "cannot read the host name of '%s'", uri);
        info->hostname = s;
        *ret = kiln_steal(&info);
        return 0;
}
