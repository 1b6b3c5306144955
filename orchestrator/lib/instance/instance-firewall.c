/* An instance's firewall: what its security groups let in. On user networking that is the set
 * of forwards from 127.0.0.1 on the host (QEMU has no other way in); on a libvirt network, an
 * nwfilter on the instance's interface that drops inbound traffic no rule allows. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "instance/instance-private.h"
#include "registry/registry-secgroup.h"
#include "util/util.h"

#define FORWARD_PORT_TRIES 16

/* ---- ports on 127.0.0.1 ---- */

static int bound_socket(int type, int port, int *ret_port)
{
        struct sockaddr_in a = {0};
        socklen_t len = sizeof(a);
        kiln_autoclose int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t) port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
            getsockname(fd, (struct sockaddr *) &a, &len) < 0)
                return -1;
        if (ret_port)
                *ret_port = ntohs(a.sin_port);
        return 0;
}

bool instance_port_free(int port)
{
        return bound_socket(SOCK_STREAM, port, NULL) == 0;
}

/* A port of the region's range, for a host kiln cannot probe. */
static int range_port(const kiln_region_info *region)
{
        uint32_t r = 0;

        kiln_random_bytes(&r, sizeof(r));
        return region->first_port +
               (int) (r % (uint32_t) (region->last_port - region->first_port + 1));
}

bool instance_ports_from_range(const kiln_host_info *host)
{
        return host && (host->listen_address || kiln_host_is_remote(host));
}

int instance_free_port(const kiln_region_info *region, const kiln_host_info *host, kiln_error **err)
{
        int port;

        /* Another host's ports: the registry keeps them unique, and a start that finds one
         * in use gets another (instance-start.c). */
        if (instance_ports_from_range(host))
                return range_port(region);
        if (bound_socket(SOCK_STREAM, 0, &port) < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO,
                                            "cannot find a free port on 127.0.0.1");
        return port;
}

char *instance_filter_name(const char *instance_id)
{
        return kiln_xasprintf("kiln-%s", instance_id);
}

/* ---- the default group ---- */

int instance_default_group(kiln_ctx *ctx, registry *r, kiln_group_ref *ret, kiln_error **err)
{
        static const struct {
                int port;
                const char *description;
        } opened[] = {{22, "SSH"}, {3389, "RDP"}};
        kiln_autoptr(kiln_error) e = NULL;
        kiln_security_group sg = {0};
        const char *region = ctx->region->name;

        if (registry_sg_get_by_name(r, region, ctx->account, "default", &sg, &e) < 0) {
                if (e->code != KILN_E_NOT_FOUND) {
                        *err = kiln_steal(&e);
                        return -1;
                }
                sg.group_id = kiln_id_new("sg");
                sg.group_name = kiln_xstrdup("default");
                sg.description = kiln_xstrdup("default VPC security group");
                sg.vpc_id = instance_vpc_id(region);
                sg.region = kiln_xstrdup(region);
                sg.owner_id = kiln_xstrdup(ctx->account);
                if (registry_sg_insert(r, &sg, err) < 0) {
                        kiln_security_group_clear(&sg);
                        return -1;
                }
                for (size_t i = 0; i < KILN_ARRAY_SIZE(opened); i++) {
                        kiln_autofree char *id = kiln_id_new("sgr");
                        kiln_autofree char *proto = kiln_xstrdup("tcp");
                        kiln_autofree char *cidr = kiln_xstrdup("0.0.0.0/0");
                        kiln_autofree char *what = kiln_xstrdup(opened[i].description);
                        kiln_sg_rule rule = {id, proto, opened[i].port, opened[i].port, cidr, what};

                        if (registry_sg_rule_insert(r, sg.group_id, &rule, err) < 0) {
                                kiln_security_group_clear(&sg);
                                return -1;
                        }
                }
        }
        ret->group_id = kiln_steal(&sg.group_id);
        ret->group_name = kiln_steal(&sg.group_name);
        kiln_security_group_clear(&sg);
        return 0;
}

/* ---- user networking: the forwards ---- */

int instance_access_port(const kiln_instance *inst)
{
        return kiln_platform_is_windows(inst->platform) ? 3389 : 22;
}

static bool rule_covers(const kiln_sg_rule *r, const char *proto, int port)
{
        if (strcmp(r->ip_protocol, "-1") == 0)
                return true;
        return strcmp(r->ip_protocol, proto) == 0 && r->from_port <= port && port <= r->to_port;
}

static bool wanted_has(const kiln_forward *w, size_t n, const char *proto, int port)
{
        for (size_t i = 0; i < n; i++)
                if (w[i].guest_port == port && strcmp(w[i].protocol, proto) == 0)
                        return true;
        return false;
}

static int forward_cmp(const void *a, const void *b)
{
        const kiln_forward *x = a, *y = b;

        if (x->guest_port != y->guest_port)
                return x->guest_port < y->guest_port ? -1 : 1;
        return strcmp(x->protocol, y->protocol);
}

/* The guest ports the rules open (host ports still 0): every port of a TCP or UDP rule of at
 * most KILN_SG_FORWARD_RANGE_MAX ports, and the access port if any rule allows it; at most
 * KILN_SG_FORWARDS_MAX, lowest ports first. */
static kiln_forward *wanted_forwards(const kiln_instance *inst, const kiln_sg_rule *rules,
                                     size_t n_rules, size_t *ret_n)
{
        size_t cap = 2 * (size_t) KILN_SG_FORWARDS_MAX, n = 0;
        kiln_forward *w = kiln_xcalloc(cap + 1, sizeof(*w));
        int access = instance_access_port(inst);

        for (size_t i = 0; i < n_rules; i++) {
                const kiln_sg_rule *r = &rules[i];
                bool ranged =
                        strcmp(r->ip_protocol, "tcp") == 0 || strcmp(r->ip_protocol, "udp") == 0;

                if (rule_covers(r, "tcp", access) && !wanted_has(w, n, "tcp", access) && n < cap)
                        w[n++] = (kiln_forward){(char *) "tcp", 0, access};
                if (!ranged || r->to_port - r->from_port + 1 > KILN_SG_FORWARD_RANGE_MAX)
                        continue;
                for (int p = r->from_port; p <= r->to_port && n < cap; p++)
                        if (p > 0 && !wanted_has(w, n, r->ip_protocol, p))
                                w[n++] = (kiln_forward){r->ip_protocol, 0, p};
        }
        qsort(w, n, sizeof(*w), forward_cmp);
        if (n > KILN_SG_FORWARDS_MAX) {
                kiln_log(KILN_LOG_WARN,
                         "instance %s: its security groups open %zu ports; user networking "
                         "forwards the lowest %d",
                         inst->instance_id, n, KILN_SG_FORWARDS_MAX);
                n = KILN_SG_FORWARDS_MAX;
        }
        for (size_t i = 0; i < n; i++)
                w[i].protocol = kiln_xstrdup(w[i].protocol);
        *ret_n = n;
        return w;
}

static void forwards_free(kiln_forward *f, size_t n)
{
        for (size_t i = 0; f && i < n; i++)
                free(f[i].protocol);
        free(f);
}

typedef struct apply_txn {
        kiln_ctx *ctx;
        const kiln_instance *inst;
        kiln_sg_rule *rules; /* out: every rule of its groups */
        size_t n_rules;
        kiln_forward *fwd; /* out: the forwards chosen (user networking) */
        size_t n_fwd;
        kiln_group_ref *groups; /* out: its groups */
        size_t n_groups;
} apply_txn;

static void groups_free(kiln_group_ref *g, size_t n)
{
        for (size_t i = 0; g && i < n; i++) {
                free(g[i].group_id);
                free(g[i].group_name);
        }
        free(g);
}

static void apply_reset(apply_txn *t)
{
        kiln_sg_rules_free(t->rules, t->n_rules);
        forwards_free(t->fwd, t->n_fwd);
        groups_free(t->groups, t->n_groups);
        t->rules = NULL;
        t->fwd = NULL;
        t->groups = NULL;
        t->n_rules = t->n_fwd = t->n_groups = 0;
}

/* A host port for a new forward: free on 127.0.0.1 now (another host's: in the region's
 * range), and no other live instance's. */
static int pick_host_port(registry *r, const apply_txn *t, const char *proto, int *ret,
                          kiln_error **err)
{
        for (int tries = 0; tries < FORWARD_PORT_TRIES; tries++) {
                bool taken = false;
                int port;
                const kiln_region_info *region = instance_region(t->ctx, t->inst);
                const kiln_host_info *host = instance_host(t->ctx, t->inst);

                if (instance_ports_from_range(host))
                        port = range_port(region);
                else if (bound_socket(strcmp(proto, "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM, 0,
                                      &port) < 0)
                        return kiln_error_set_errno(err, errno, KILN_E_IO,
                                                    "cannot find a free port on 127.0.0.1");
                for (size_t i = 0; i < t->n_fwd; i++)
                        taken = taken || t->fwd[i].host_port == port;
                taken = taken || port == t->inst->port;
                if (!taken &&
                    registry_host_port_taken(r, t->inst->instance_id, port, &taken, err) < 0)
                        return -1;
                if (!taken) {
                        *ret = port;
                        return 0;
                }
        }
        return kiln_error_set(err, KILN_E_IO, NULL, "cannot find a free host port for a forward");
}

static int apply_write(registry *r, void *userdata, kiln_error **err)
{
        apply_txn *t = userdata;
        const kiln_instance *inst = t->inst;
        apply_reset(t);
        if (registry_sg_of_instance(r, inst->instance_id, &t->groups, &t->n_groups, err) < 0)
                return -1;
        if (t->n_groups == 0) {
                kiln_group_ref def = {0};
                int rc = instance_default_group(t->ctx, r, &def, err);

                if (rc == 0)
                        rc = registry_sg_member_add(r, inst->instance_id, def.group_id, 0, err);
                if (rc < 0) {
                        free(def.group_id);
                        free(def.group_name);
                        return -1;
                }
                t->groups = kiln_xcalloc(1, sizeof(*t->groups));
                t->groups[0] = def;
                t->n_groups = 1;
        }
        if (registry_sg_rules_of_instance(r, inst->instance_id, &t->rules, &t->n_rules, err) < 0)
                return -1;
        if (inst->network)
                return 0;
        t->fwd = wanted_forwards(inst, t->rules, t->n_rules, &t->n_fwd);
        for (size_t i = 0; i < t->n_fwd; i++) {
                kiln_forward *f = &t->fwd[i];

                /* The access port keeps the instance's port; the others keep theirs. */
                if (strcmp(f->protocol, "tcp") == 0 && f->guest_port == instance_access_port(inst))
                        f->host_port = inst->port;
                for (size_t k = 0; !f->host_port && k < inst->n_forwards; k++)
                        if (inst->forwards[k].guest_port == f->guest_port &&
                            strcmp(inst->forwards[k].protocol, f->protocol) == 0)
                                f->host_port = inst->forwards[k].host_port;
        }
        for (size_t i = 0; i < t->n_fwd; i++)
                if (!t->fwd[i].host_port &&
                    pick_host_port(r, t, t->fwd[i].protocol, &t->fwd[i].host_port, err) < 0)
                        return -1;
        return registry_forwards_set(r, inst->instance_id, t->fwd, t->n_fwd, err);
}

/* ---- a libvirt network: the nwfilter ---- */

/* "A.B.C.D/N" as nwfilter's srcipaddr and srcipmask attributes. */
static char *source_attrs(const char *cidr)
{
        const char *slash = strchr(cidr, '/');

        if (!slash)
                return kiln_xasprintf(" srcipaddr='%s'", cidr);
        return kiln_xasprintf(" srcipaddr='%.*s' srcipmask='%s'", (int) (slash - cidr), cidr,
                              slash + 1);
}

/* An ICMP rule's type and code, where it names them (-1: all). */
static const char *icmp_attrs(const kiln_sg_rule *r, char *buf, size_t size)
{
        int n = 0;

        buf[0] = '\0';
        if (r->from_port >= 0)
                n = snprintf(buf, size, " type='%d'", r->from_port);
        if (r->to_port >= 0 && n >= 0 && (size_t) n < size)
                snprintf(buf + n, size - (size_t) n, " code='%d'", r->to_port);
        return buf;
}

/* Outbound traffic and the replies to it pass, as do the DHCP server's answers; inbound traffic
 * passes where a rule allows its protocol, port and source; the rest of it is dropped. */
char *instance_filter_xml(const char *name, const kiln_sg_rule *rules, size_t n)
{
        kiln_autofree char *ename = kiln_xml_escape(name);
        kiln_buf b = {0};

        kiln_buf_appendf(&b,
                         "<filter name='%s' chain='root'>\n"
                         "  <rule action='accept' direction='out' priority='100'><all/></rule>\n"
                         "  <rule action='accept' direction='in' priority='100'>"
                         "<all state='ESTABLISHED,RELATED'/></rule>\n"
                         "  <rule action='accept' direction='in' priority='110'>"
                         "<udp srcportstart='67' srcportend='67' dstportstart='68' "
                         "dstportend='68'/></rule>\n",
                         ename);
        for (size_t i = 0; i < n; i++) {
                const kiln_sg_rule *r = &rules[i];
                kiln_autofree char *src = source_attrs(r->cidr_ipv4);
                char buf[64];

                if (strcmp(r->ip_protocol, "-1") == 0)
                        kiln_buf_appendf(&b,
                                         "  <rule action='accept' direction='in' "
                                         "priority='200'><all%s/></rule>\n",
                                         src);
                else if (strcmp(r->ip_protocol, "icmp") == 0)
                        kiln_buf_appendf(&b,
                                         "  <rule action='accept' direction='in' "
                                         "priority='200'><icmp%s%s/></rule>\n",
                                         src, icmp_attrs(r, buf, sizeof(buf)));
                else
                        kiln_buf_appendf(&b,
                                         "  <rule action='accept' direction='in' priority='200'>"
                                         "<%s%s dstportstart='%d' dstportend='%d'/></rule>\n",
                                         r->ip_protocol, src, r->from_port, r->to_port);
        }
        kiln_buf_appendf(&b, "%s",
                         "  <rule action='drop' direction='in' priority='900'><all/></rule>\n"
                         "  <rule action='drop' direction='in' priority='900'><all-ipv6/></rule>\n"
                         "</filter>\n");
        return kiln_buf_steal(&b);
}

/* ---- applying ---- */

/* Changes the running domain's forwards from what it had (inst->forwards) to the new set. */
static int forwards_live(kiln_ctx *ctx, const kiln_instance *inst, const kiln_forward *fwd,
                         size_t n, kiln_error **err)
{
        virConnectPtr conn = instance_conn(ctx, inst, err);
        kiln_autofree char *domain = NULL;
        virDomainPtr dom;
        int rc = 0;

        if (!conn ||
            registry_instance_private(ctx->reg, inst->instance_id, &domain, NULL, NULL, err) < 0)
                return -1;
        dom = virDomainLookupByName(conn, domain);
        if (!dom || !virt_domain_active(dom)) {
                if (dom)
                        virDomainFree(dom);
                return 0; /* its next start renders them */
        }
        for (size_t i = 0; rc == 0 && i < inst->n_forwards; i++) {
                const kiln_forward *o = &inst->forwards[i];
                bool kept = false;

                for (size_t k = 0; !kept && k < n; k++)
                        kept = fwd[k].host_port == o->host_port &&
                               fwd[k].guest_port == o->guest_port &&
                               strcmp(fwd[k].protocol, o->protocol) == 0;
                if (!kept) {
                        virt_forward v = {o->protocol, o->host_port, o->guest_port};

                        rc = virt_domain_forward(dom, instance_listen_address(ctx, inst), &v, false,
                                                 err);
                }
        }
        for (size_t k = 0; rc == 0 && k < n; k++) {
                bool had = false;

                for (size_t i = 0; !had && i < inst->n_forwards; i++)
                        had = fwd[k].host_port == inst->forwards[i].host_port &&
                              fwd[k].guest_port == inst->forwards[i].guest_port &&
                              strcmp(fwd[k].protocol, inst->forwards[i].protocol) == 0;
                if (!had) {
                        virt_forward v = {fwd[k].protocol, fwd[k].host_port, fwd[k].guest_port};

                        rc = virt_domain_forward(dom, instance_listen_address(ctx, inst), &v, true,
                                                 err);
                }
        }
        virDomainFree(dom);
        return rc;
}

int instance_firewall_apply(kiln_ctx *ctx, kiln_instance *inst, bool live, kiln_error **err)
{
        apply_txn t = {ctx, inst, NULL, 0, NULL, 0, NULL, 0};
        int rc = registry_write(ctx->reg, apply_write, &t, err);

        if (rc == 0 && inst->network) {
                virConnectPtr conn = instance_conn(ctx, inst, err);
                kiln_autofree char *name = instance_filter_name(inst->instance_id);
                kiln_autofree char *xml = instance_filter_xml(name, t.rules, t.n_rules);

                rc = conn ? virt_nwfilter_define(conn, name, xml, err) : -1;
        } else if (rc == 0) {
                if (live)
                        rc = forwards_live(ctx, inst, t.fwd, t.n_fwd, err);
                forwards_free(inst->forwards, inst->n_forwards);
                inst->forwards = kiln_steal(&t.fwd);
                inst->n_forwards = t.n_fwd;
                t.n_fwd = 0;
        }
        if (rc == 0) {
                groups_free(inst->groups, inst->n_groups);
                inst->groups = kiln_steal(&t.groups);
                inst->n_groups = t.n_groups;
                t.n_groups = 0;
        }
        apply_reset(&t);
        return rc;
}

void instance_firewall_remove(kiln_ctx *ctx, const kiln_instance *inst)
{
        kiln_autofree char *name = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        virConnectPtr conn;

        if (!inst->network)
                return;
        conn = instance_conn(ctx, inst, NULL);
        name = instance_filter_name(inst->instance_id);
        if (conn && virt_nwfilter_remove(conn, name, &e) < 0)
                kiln_log(KILN_LOG_WARN, "instance %s: %s", inst->instance_id, e->msg);
}
