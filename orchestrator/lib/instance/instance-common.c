/* What the instance modules share: paths, the instance types file, ports, domain definition,
 * state changes. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/data.h"
#include "image/image-rules.h"
#include "instance/instance-private.h"
#include "util/util.h"

char *instance_dir(const kiln_ctx *ctx, const char *id)
{
        return kiln_xasprintf("%s/instances/%s", ctx->home, id);
}

char *instance_file(const kiln_ctx *ctx, const char *id, const char *file)
{
        return kiln_xasprintf("%s/instances/%s/%s", ctx->home, id, file);
}

char *instance_read_line(const char *path, kiln_error **err)
{
        char *s = NULL;
        size_t n = 0;

        if (kiln_file_read(path, 1 << 16, &s, &n, err) < 0)
                return NULL;
        while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
                s[--n] = '\0';
        return s;
}

int instance_check_id(const char *id, kiln_error **err)
{
        if (!kiln_id_valid("i", id))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidInstanceID.Malformed",
                                      "Invalid id: \"%s\"", id ? id : "");
        return 0;
}

int instance_load(kiln_ctx *ctx, registry *r, const char *id, kiln_instance *ret, kiln_error **err)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_instance inst = {0};

        if (instance_check_id(id, err) < 0)
                return -1;
        if (registry_instance_get(r, id, &inst, &e) < 0) {
                if (e->code != KILN_E_NOT_FOUND) {
                        *err = kiln_steal(&e);
                        return -1;
                }
                return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidInstanceID.NotFound",
                                      "The instance ID '%s' does not exist", id);
        }
        if (strcmp(inst.region, ctx->region->name) != 0 ||
            strcmp(inst.owner_id, ctx->account) != 0) {
                kiln_instance_clear(&inst);
                return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidInstanceID.NotFound",
                                      "The instance ID '%s' does not exist", id);
        }
        *ret = inst;
        return 0;
}

virConnectPtr instance_conn(kiln_ctx *ctx, kiln_error **err)
{
        if (!ctx_pool(ctx, ctx->region->name, err))
                return NULL;
        for (size_t i = 0; i < ctx->n_conns; i++)
                if (strcmp(ctx->conns[i].region, ctx->region->name) == 0)
                        return ctx->conns[i].conn;
        kiln_error_set(err, KILN_E_INTERNAL, NULL, "no connection for region '%s'",
                       ctx->region->name);
        return NULL;
}

bool instance_port_free(int port)
{
        struct sockaddr_in a = {0};
        kiln_autoclose int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return false;
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t) port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return bind(fd, (struct sockaddr *) &a, sizeof(a)) == 0;
}

int instance_free_port(kiln_error **err)
{
        struct sockaddr_in a = {0};
        socklen_t len = sizeof(a);
        kiln_autoclose int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 ||
            getsockname(fd, (struct sockaddr *) &a, &len) < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO,
                                            "cannot find a free port on 127.0.0.1");
        return ntohs(a.sin_port);
}

const char *instance_user(const kiln_instance *inst)
{
        if (strcmp(inst->platform, "windows") == 0)
                return "Administrator";
        return inst->default_user && *inst->default_user ? inst->default_user : "root";
}

int instance_type_lookup(const char *name, char **ret_name, unsigned *ret_vcpus,
                         unsigned *ret_memory_mib, kiln_error **err)
{
        kiln_autofree char *path = data_file("templates/instance-types.json");
        kiln_autofree char *text = NULL;
        json_error_t jerr;
        json_t *root, *types, *t;
        size_t i;
        int rc = -1;

        if (kiln_file_read(path, 1 << 20, &text, NULL, err) < 0)
                return -1;
        root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return kiln_error_set(err, KILN_E_JSON, NULL, "%s:%d:%d: %s", path, jerr.line,
                                      jerr.column, jerr.text);
        if (!name)
                name = json_string_value(json_object_get(root, "Default"));
        types = json_object_get(root, "InstanceTypes");
        json_array_foreach (types, i, t) {
                const char *n = json_string_value(json_object_get(t, "InstanceType"));

                if (n && name && strcmp(n, name) == 0) {
                        *ret_name = kiln_xstrdup(n);
                        *ret_vcpus = (unsigned) json_integer_value(json_object_get(t, "VCpus"));
                        *ret_memory_mib =
                                (unsigned) json_integer_value(json_object_get(t, "MemoryMiB"));
                        rc = 0;
                }
        }
        if (rc < 0)
                kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                               "Invalid value '%s' for InstanceType.", name ? name : "");
        json_decref(root);
        return rc;
}

int instance_define(kiln_ctx *ctx, const kiln_instance *inst, const char *domain,
                    const char *seed_volume, kiln_error **err)
{
        kiln_autofree char *skeleton = NULL, *console = NULL, *xml = NULL, *type = NULL;
        virt_domain_disk disks[16];
        virt_domain_spec spec = {0};
        virConnectPtr conn = instance_conn(ctx, err);
        size_t n = 0;
        unsigned vcpus = 1, mem = 1024;

        if (!conn)
                return -1;
        if (instance_type_lookup(inst->instance_type, &type, &vcpus, &mem, err) < 0)
                return -1;
        {
                static const char *const targets[] = {"vda", "vdb", "vdc", "vdd", "vde",
                                                      "vdf", "vdg", "vdh", "vdi", "vdj",
                                                      "vdk", "vdl", "vdm", "vdn", "vdo"};

                for (size_t i = 0; i < inst->n_volumes && n < KILN_ARRAY_SIZE(targets); i++) {
                        disks[n].pool = ctx->region->pool;
                        disks[n].volume = inst->volumes[i].file;
                        disks[n].target = targets[n];
                        disks[n].raw = false;
                        disks[n].read_only = false;
                        n++;
                }
                disks[n].pool = ctx->region->pool;
                disks[n].volume = seed_volume;
                disks[n].target = "vdz";
                disks[n].raw = true;
                disks[n].read_only = true;
                n++;
                skeleton = data_file(strcmp(inst->platform, "windows") == 0
                                             ? "templates/domain/windows.xml"
                                             : "templates/domain/linux.xml");
                console = instance_file(ctx, inst->instance_id, "console.log");
                spec.skeleton_path = skeleton;
                spec.name = domain;
                spec.instance_id = inst->instance_id;
                spec.image_id = inst->image_id;
                spec.kvm = strcmp(inst->accel, "kvm") == 0;
                spec.memory_mib = mem;
                spec.vcpus = vcpus;
                spec.disks = disks;
                spec.n_disks = n;
                spec.console_log = console;
                spec.network = inst->network;
                spec.host_port = inst->port;
                spec.guest_port = strcmp(inst->platform, "windows") == 0 ? 3389 : 22;
                /* Redefining keeps the domain's UUID: libvirt refuses a new one for a name. */
                {
                        char uuid[VIR_UUID_STRING_BUFLEN];
                        virDomainPtr old = virDomainLookupByName(conn, domain);

                        if (old && virDomainGetUUIDString(old, uuid) == 0)
                                spec.uuid = uuid;
                        if (old)
                                virDomainFree(old);
                        xml = virt_domain_render(&spec, err);
                }
        }
        if (!xml)
                return -1;
        {
                kiln_autoptr(virt_dom) dom = virt_domain_define(conn, xml, err);

                return dom ? 0 : -1;
        }
}

typedef struct state_txn {
        const char *id, *state, *code, *msg, *transition;
        const char *expect; /* only from this state, read in the same transaction */
        pid_t worker;       /* and only while this worker is the instance's */
        bool changed;
} state_txn;

static int state_write(registry *r, void *userdata, kiln_error **err)
{
        state_txn *t = userdata;

        t->changed = false;
        if (t->expect) {
                kiln_instance now = {0};
                pid_t worker = 0;
                bool same;

                if (registry_instance_get(r, t->id, &now, err) < 0 ||
                    registry_instance_private(r, t->id, NULL, NULL, &worker, err) < 0) {
                        kiln_instance_clear(&now);
                        return -1;
                }
                same = strcmp(now.state, t->expect) == 0 && worker == t->worker;
                kiln_instance_clear(&now);
                if (!same)
                        return 0;
        }
        t->changed = true;
        return registry_instance_set_state(r, t->id, t->state, t->code, t->msg, t->transition, err);
}

int instance_set_state(kiln_ctx *ctx, const char *id, const char *state, const char *reason_code,
                       const char *reason_message, const char *transition, kiln_error **err)
{
        state_txn t = {id, state, reason_code, reason_message, transition, NULL, 0, false};

        return registry_write(ctx->reg, state_write, &t, err);
}

int instance_set_state_from(kiln_ctx *ctx, const char *id, const char *expect, pid_t worker,
                            const char *state, const char *reason_code, const char *reason_message,
                            kiln_error **err)
{
        state_txn t = {id, state, reason_code, reason_message, NULL, expect, worker, false};

        if (registry_write(ctx->reg, state_write, &t, err) < 0)
                return -1;
        return t.changed ? 1 : 0;
}

char *instance_transition_now(void)
{
        time_t now = time(NULL);
        struct tm tm;
        char buf[64];

        gmtime_r(&now, &tm);
        strftime(buf, sizeof(buf), "User initiated (%Y-%m-%d %H:%M:%S GMT)", &tm);
        return kiln_xstrdup(buf);
}

int instance_check_network(kiln_ctx *ctx, const char *network, kiln_error **err)
{
        virConnectPtr conn = instance_conn(ctx, err);
        virNetworkPtr net;
        int active;

        if (!conn)
                return -1;
        net = virNetworkLookupByName(conn, network);
        if (!net)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "--network '%s': region '%s' has no libvirt network of "
                                      "that name (virsh net-list --all)",
                                      network, ctx->region->name);
        active = virNetworkIsActive(net);
        virNetworkFree(net);
        if (active != 1)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "--network '%s': the network is not active (virsh "
                                      "net-start %s)",
                                      network, network);
        return 0;
}

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
        conn = instance_conn(ctx, NULL);
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
