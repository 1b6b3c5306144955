/* The libvirt adapter: connections, and errors copied out of libvirt at once (its last error
 * is thread-local and overwritten by the next call). Knows nothing of the registry. */
#ifndef KILN_VIRT_H
#define KILN_VIRT_H

#include <stdbool.h>

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

/* True when the connection's daemon runs on this host (its URI names no host). */
bool virt_conn_is_local(virConnectPtr conn);
/* The string value of an XPath expression ("string(/pool/target/path)") over an XML document
 * libvirt gave, as a new string; NULL when the document does not parse or the value is empty. */
char *virt_xml_string(const char *xml, const char *xpath);
/* The user QEMU runs as on this connection's daemon under libvirt's DAC security model (the
 * capabilities' baselabel), when the daemon is a local QEMU one: 1 with *ret_uid and *ret_gid,
 * 0 when that does not apply (another driver, another host, no DAC model), -1 on error. */
int virt_qemu_dac_user(virConnectPtr conn, unsigned *ret_uid, unsigned *ret_gid, kiln_error **err);

typedef virConnect virt_conn;
KILN_DEFINE_AUTOPTR(virt_conn, virt_disconnect)

#endif
