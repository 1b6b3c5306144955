/* Where an instance is reached: its address (127.0.0.1 with a forwarded port, or a libvirt
 * network's DHCP lease), the known_hosts line that pins its host key, and kiln's own SSH
 * session to it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libvirt/libvirt.h>

#include "instance/instance-private.h"
#include "ssh/ssh.h"
#include "util/util.h"

char *instance_known_hosts_name(const char *host, int port)
{
        if (port == 22)
                return kiln_xstrdup(host);
        return kiln_xasprintf("[%s]:%d", host, port);
}

/* The first IPv4 address of the domain's DHCP leases, or NULL. */
static char *lease_address(virDomainPtr dom)
{
        virDomainInterfacePtr *ifaces = NULL;
        char *addr = NULL;
        int n = virDomainInterfaceAddresses(dom, &ifaces, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
                                            0);

        for (int i = 0; i < n; i++) {
                for (unsigned k = 0; !addr && k < ifaces[i]->naddrs; k++)
                        if (ifaces[i]->addrs[k].type == VIR_IP_ADDR_TYPE_IPV4 &&
                            ifaces[i]->addrs[k].addr)
                                addr = kiln_xstrdup(ifaces[i]->addrs[k].addr);
                virDomainInterfaceFree(ifaces[i]);
        }
        free(ifaces);
        return addr;
}

typedef struct host_txn {
        const char *id;
        const char *host;
} host_txn;

static int host_write(registry *r, void *userdata, kiln_error **err)
{
        host_txn *t = userdata;

        return registry_instance_set_host(r, t->id, t->host, err);
}

int instance_find_address(kiln_ctx *ctx, kiln_instance *inst)
{
        kiln_autofree char *domain = NULL, *addr = NULL;
        virConnectPtr conn;
        virDomainPtr dom;
        host_txn t = {inst->instance_id, NULL};

        if (inst->host)
                return 1;
        if (!inst->network)
                return 0;
        conn = instance_conn(ctx, inst, NULL);
        if (!conn ||
            registry_instance_private(ctx->reg, inst->instance_id, &domain, NULL, NULL, NULL) < 0)
                return 0;
        dom = virDomainLookupByName(conn, domain);
        if (!dom)
                return 0;
        addr = lease_address(dom);
        virDomainFree(dom);
        if (!addr)
                return 0;
        t.host = addr;
        if (registry_write(ctx->reg, host_write, &t, NULL) < 0)
                return 0;
        inst->host = kiln_steal(&addr);
        instance_write_known_hosts(ctx, inst, NULL);
        return 1;
}

int instance_ssh_connect(kiln_ctx *ctx, const kiln_instance *inst, uint64_t deadline_ms,
                         kiln_ssh **ret, kiln_error **err)
{
        kiln_autofree char *key = instance_file(ctx, inst->instance_id, "kiln_ed25519");
        const kiln_host_info *h = instance_host(ctx, inst);
        const kiln_proxy_jump *pj = h && !inst->network ? h->jump : NULL;
        ssh_target jump = {0};
        ssh_target t = {inst->host, inst->port, instance_user(inst), key, inst->host_key, NULL};

        /* Through the host's jump host: the forward listens on that host's 127.0.0.1. */
        if (pj) {
                jump = (ssh_target){pj->host,          pj->port,     pj->user,
                                    pj->identity_file, pj->host_key, NULL};
                t.jump = &jump;
        }
        return ssh_connect(&t, deadline_ms, ret, err);
}

char *instance_known_hosts_line(const kiln_instance *inst)
{
        const char *key = inst->host_key;
        const char *sp = key ? strchr(key, ' ') : NULL;
        const char *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
        kiln_autofree char *name = NULL;

        if (!key || !inst->host)
                return NULL;
        name = instance_known_hosts_name(inst->host, inst->port);
        /* The key's type and base64, without its comment. */
        return kiln_xasprintf("%s %.*s", name, (int) (sp2 ? (size_t) (sp2 - key) : strlen(key)),
                              key);
}

int instance_write_known_hosts(kiln_ctx *ctx, const kiln_instance *inst, kiln_error **err)
{
        kiln_autofree char *path = instance_file(ctx, inst->instance_id, "known_hosts");
        kiln_autofree char *tmp = kiln_xasprintf("%s.tmp", path);
        kiln_autofree char *line = instance_known_hosts_line(inst);
        FILE *f;
        int bad;

        if (!inst->host_key)
                return kiln_error_set(err, KILN_E_INTERNAL, NULL, "instance %s has no host key",
                                      inst->instance_id);
        if (!line)
                return 0; /* no address yet: written once the lease is known */
        f = fopen(tmp, "we");
        if (!f)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot write '%s'", tmp);
        bad = fprintf(f, "%s\n", line) < 0;
        if (fclose(f) != 0 || bad || rename(tmp, path) < 0) {
                unlink(tmp);
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot write '%s'", path);
        }
        return 0;
}
