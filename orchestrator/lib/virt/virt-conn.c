/* libvirt connections and error capture. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

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

/* A local daemon's URI has no host: "qemu:///system", "qemu+unix:///system". */
static bool uri_is_local(const char *uri)
{
        const char *p = uri ? strstr(uri, "://") : NULL;

        return p && p[3] == '/';
}

bool virt_conn_is_local(virConnectPtr conn)
{
        kiln_autofree char *uri = virConnectGetURI(conn);

        return uri_is_local(uri);
}

char *virt_xml_string(const char *xml, const char *xpath)
{
        xmlDocPtr doc = xmlReadMemory(xml, (int) strlen(xml), "libvirt.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        xmlXPathContextPtr xc = doc ? xmlXPathNewContext(doc) : NULL;
        xmlXPathObjectPtr obj = xc ? xmlXPathEvalExpression(BAD_CAST xpath, xc) : NULL;
        char *out = NULL;

        if (obj && obj->type == XPATH_STRING && obj->stringval && obj->stringval[0])
                out = kiln_xstrdup((const char *) obj->stringval);
        xmlXPathFreeObject(obj);
        xmlXPathFreeContext(xc);
        xmlFreeDoc(doc);
        return out;
}

/* "+64055" is a numeric ID; names are not expected there and give 0 (no check). */
static int label_id(const char *s, unsigned *ret)
{
        char *stop = NULL;
        unsigned long v;

        if (*s != '+')
                return 0;
        errno = 0;
        v = strtoul(s + 1, &stop, 10);
        if (errno || stop == s + 1 || *stop || v > 0xfffffffful)
                return 0;
        *ret = (unsigned) v;
        return 1;
}

int virt_qemu_dac_user(virConnectPtr conn, unsigned *ret_uid, unsigned *ret_gid, kiln_error **err)
{
        kiln_autofree char *uri = virConnectGetURI(conn);
        kiln_autofree char *caps = NULL;
        kiln_autofree char *label = NULL;
        const char *type = virConnectGetType(conn);
        char *colon;

        if (!uri || !type)
                return virt_error(err, "cannot read the hypervisor connection's URI");
        if (strcmp(type, "QEMU") != 0 || !uri_is_local(uri))
                return 0;
        caps = virConnectGetCapabilities(conn);
        if (!caps)
                return virt_error(err, "cannot read the capabilities of '%s'", uri);
        label = virt_xml_string(caps, "string(/capabilities/host/secmodel[model='dac']"
                                      "/baselabel[@type='qemu'])");
        if (!label)
                return 0;
        colon = strchr(label, ':');
        if (!colon)
                return 0;
        *colon = '\0';
        return label_id(label, ret_uid) && label_id(colon + 1, ret_gid) ? 1 : 0;
}
