/* The libvirt adapter: connections, and errors copied out of libvirt at once (its last error
 * is thread-local and overwritten by the next call). Knows nothing of the registry. */
#ifndef KILN_VIRT_H
#define KILN_VIRT_H

#include <libvirt/libvirt.h>

#include <kiln/error.h>

/* Silences libvirt's own printing of errors; call once at startup. */
void virt_init(void);
/* Sets *err from libvirt's last error, prefixed with what was being done. Returns -1. */
int virt_error(kiln_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
virConnectPtr virt_connect(const char *uri, kiln_error **err);
/* virConnectClose, NULL-safe, returns NULL. */
virConnectPtr virt_disconnect(virConnectPtr conn);
/* "9.0.0" from libvirt's packed version number. */
char *virt_version_string(unsigned long v);

typedef virConnect virt_conn;
KILN_DEFINE_AUTOPTR(virt_conn, virt_disconnect)

#endif
