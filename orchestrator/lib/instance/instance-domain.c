/* The instance's libvirt side: the domain skeletons and instance types in templates/, the
 * region's libvirt network, and (re)defining the domain from the instance's record. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/data.h"
#include "instance/instance-private.h"
#include "util/util.h"

/* Every type of templates/instance-types.json, in its order, the default one marked. */
static int types_load(kiln_instance_type **ret, size_t *ret_n, kiln_error **err)
{
        kiln_autofree char *path = data_file("templates/instance-types.json");
        kiln_autofree char *text = NULL;
        kiln_instance_type *list;
        json_error_t jerr;
        json_t *root, *types, *t;
        const char *def;
        size_t i, n = 0;

        if (kiln_file_read(path, 1 << 20, &text, NULL, err) < 0)
                return -1;
        root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return kiln_error_set(err, KILN_E_JSON, NULL, "%s:%d:%d: %s", path, jerr.line,
                                      jerr.column, jerr.text);
        def = json_string_value(json_object_get(root, "Default"));
        types = json_object_get(root, "InstanceTypes");
        list = kiln_xcalloc(json_array_size(types) + 1, sizeof(*list));
        json_array_foreach (types, i, t) {
                const char *name = json_string_value(json_object_get(t, "InstanceType"));

                if (!name)
                        continue;
                list[n].name = kiln_xstrdup(name);
                list[n].vcpus = (unsigned) json_integer_value(json_object_get(t, "VCpus"));
                list[n].memory_mib = (unsigned) json_integer_value(json_object_get(t, "MemoryMiB"));
                list[n].is_default = def && strcmp(def, name) == 0;
                n++;
        }
        json_decref(root);
        *ret = list;
        *ret_n = n;
        return 0;
}

void kiln_instance_types_free(kiln_instance_type *list, size_t n)
{
        for (size_t i = 0; list && i < n; i++)
                free(list[i].name);
        free(list);
}

int instance_type_lookup(const char *name, char **ret_name, unsigned *ret_vcpus,
                         unsigned *ret_memory_mib, kiln_error **err)
{
        kiln_instance_type *list = NULL;
        size_t n = 0;
        int rc = -1;

        if (types_load(&list, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < n && rc < 0; i++)
                if (name ? strcmp(list[i].name, name) == 0 : list[i].is_default) {
                        if (ret_name)
                                *ret_name = kiln_xstrdup(list[i].name);
                        *ret_vcpus = list[i].vcpus;
                        *ret_memory_mib = list[i].memory_mib;
                        rc = 0;
                }
        kiln_instance_types_free(list, n);
        if (rc < 0)
                kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                               "Invalid value '%s' for InstanceType.", name ? name : "");
        return rc;
}

int kiln_instance_types_describe(const char *const *names, size_t n_names, kiln_instance_type **ret,
                                 size_t *ret_n, kiln_error **err)
{
        kiln_instance_type *list = NULL;
        size_t n = 0, kept = 0;

        if (types_load(&list, &n, err) < 0)
                return -1;
        for (size_t k = 0; k < n_names; k++) {
                bool known = false;

                for (size_t i = 0; i < n; i++)
                        known = known || strcmp(list[i].name, names[k]) == 0;
                if (!known) {
                        kiln_instance_types_free(list, n);
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidInstanceType",
                                              "The following supplied instance types do not "
                                              "exist: [%s]",
                                              names[k]);
                }
        }
        for (size_t i = 0; i < n; i++) {
                bool want = n_names == 0;

                for (size_t k = 0; k < n_names; k++)
                        want = want || strcmp(list[i].name, names[k]) == 0;
                if (want)
                        list[kept++] = list[i];
                else
                        free(list[i].name);
        }
        *ret = list;
        *ret_n = kept;
        return 0;
}

int instance_define(kiln_ctx *ctx, const kiln_instance *inst, const char *domain,
                    const char *seed_volume, kiln_error **err)
{
        kiln_autofree char *skeleton = NULL, *console = NULL, *xml = NULL, *type = NULL;
        kiln_autofree char *filter = NULL, *nvram = NULL;
        kiln_autofree virt_forward *fwd = NULL;
        virt_domain_disk disks[16] = {{0}};
        char *serials[16] = {0};
        virt_domain_spec spec = {0};
        virConnectPtr conn = instance_conn(ctx, inst, err);
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
                        serials[n] = instance_volume_serial(inst->volumes[i].volume_id);
                        disks[n].serial = serials[n];
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
                skeleton = data_file(kiln_platform_is_windows(inst->platform)
                                             ? "templates/domain/windows.xml"
                                             : "templates/domain/linux.xml");
                console = instance_console_path(ctx, inst);
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
                filter = inst->network ? instance_filter_name(inst->instance_id) : NULL;
                spec.filter = filter;
                fwd = kiln_xcalloc(inst->n_forwards + 1, sizeof(*fwd));
                for (size_t i = 0; i < inst->n_forwards; i++) {
                        fwd[i].protocol = inst->forwards[i].protocol;
                        fwd[i].host_port = inst->forwards[i].host_port;
                        fwd[i].guest_port = inst->forwards[i].guest_port;
                }
                spec.forwards = fwd;
                spec.listen_address = instance_listen_address(ctx, inst);
                spec.n_forwards = inst->n_forwards;
                spec.uefi = strcmp(inst->boot_mode, "uefi") == 0;
                spec.secure_boot = spec.uefi && inst->secure_boot;
                spec.tpm = inst->tpm_support != NULL;
                /* Windows keeps its RTC in local time unless its image says UTC. */
                spec.q35 = kiln_platform_is_windows(inst->platform);
                spec.localtime = inst->rtc ? strcmp(inst->rtc, "localtime") == 0 : spec.q35;
                spec.legacy_devices = inst->no_ena;
                if (spec.uefi && inst->nvram_volume) {
                        nvram = kiln_xasprintf("%s/%s", ctx->region->pool_path, inst->nvram_volume);
                        spec.nvram_path = nvram;
                }
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
        for (size_t i = 0; i < KILN_ARRAY_SIZE(serials); i++)
                free(serials[i]);
        if (!xml)
                return -1;
        {
                kiln_autoptr(virt_dom) dom = virt_domain_define(conn, xml, err);

                return dom ? 0 : -1;
        }
}

char *instance_volume_serial(const char *volume_id)
{
        return kiln_xasprintf("vol%s",
                              strncmp(volume_id, "vol-", 4) == 0 ? volume_id + 4 : volume_id);
}

int instance_check_network(kiln_ctx *ctx, const char *network, kiln_error **err)
{
        virConnectPtr conn = ctx_host_conn(ctx, ctx->region->name, NULL, err);
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
