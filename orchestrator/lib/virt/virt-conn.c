/* libvirt connections and error capture. */
#include <stdarg.h>

#include <libvirt/virterror.h>

#include "util/util.h"
#include "virt/virt.h"

static void virt_quiet(void *userdata, virErrorPtr error)
{
        (void) userdata;
        (void) error;
}

void virt_init(void)
{
        virSetErrorFunc(NULL, virt_quiet);
}

int virt_error(kiln_error **err, const char *fmt, ...)
{
        va_list ap;
        kiln_autofree char *what = NULL;
        const char *msg = virGetLastErrorMessage();

        va_start(ap, fmt);
        what = kiln_xvasprintf(fmt, ap);
        va_end(ap);
        return kiln_error_set(err, KILN_E_LIBVIRT, NULL, "%s: %s", what,
                              msg ? msg : "unknown libvirt error");
}

virConnectPtr virt_connect(const char *uri, kiln_error **err)
{
        virConnectPtr conn;

        kiln_log(KILN_LOG_DEBUG, "libvirt: connecting to '%s'", uri);
        conn = virConnectOpen(uri);
        if (!conn) {
                virt_error(err, "cannot connect to the hypervisor at '%s'", uri);
                return NULL;
        }
        return conn;
}

virConnectPtr virt_disconnect(virConnectPtr conn)
{
        if (conn)
                virConnectClose(conn);
        return NULL;
}

char *virt_version_string(unsigned long v)
{
        return kiln_xasprintf("%lu.%lu.%lu", v / 1000000, (v / 1000) % 1000, v % 1000);
}
