/* `kiln doctor`: can this machine run kiln's guests? Reports the hypervisor connection, the
 * accelerator `--accel` would pick and why, and the external tools; the exit status is that
 * of the first problem found, so scripts can gate on it. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static json_t *tools_json(bool *ret_all_found)
{
        kiln_tool_check tools[16];
        size_t n = kiln_host_check_tools(tools, KILN_ARRAY_SIZE(tools));
        json_t *arr = json_array();

        *ret_all_found = true;
        for (size_t i = 0; i < n; i++) {
                json_array_append_new(arr,
                                      json_pack("{s:s, s:b, s:s, s:s}", "Name", tools[i].name,
                                                "Found", tools[i].found, "Package",
                                                tools[i].package, "Purpose", tools[i].purpose));
                if (!tools[i].found)
                        *ret_all_found = false;
        }
        return arr;
}

/* Each configured region of the kiln home: can QEMU reach its pool directory? The first
 * problem goes to *ret_err. */
static json_t *regions_json(const cli_global *g, kiln_error **ret_err)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_ctx_options opts = {g->home, g->region, g->account};
        kiln_region_info *r = NULL;
        size_t n = 0;
        json_t *arr = json_array();

        if (kiln_ctx_new(&opts, &ctx, ret_err) < 0 ||
            kiln_regions_describe(ctx, &r, &n, ret_err) < 0)
                return arr;
        for (size_t i = 0; i < n; i++) {
                kiln_autoptr(kiln_error) e = NULL;
                json_t *o = json_pack("{s:s, s:s, s:s}", "Name", r[i].name, "Uri", r[i].uri,
                                      "PoolPath", r[i].pool_path);

                json_object_set_new(
                        o, "QemuCanReachPool",
                        json_boolean(kiln_region_check_reachable(ctx, r[i].name, &e) == 0));
                if (e) {
                        json_object_set_new(o, "Error", json_string(e->msg));
                        if (!*ret_err)
                                *ret_err = kiln_steal(&e);
                }
                json_array_append_new(arr, o);
        }
        kiln_region_infos_free(r, n);
        return arr;
}

int cmd_doctor(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *uri = cli_arg_get(args, "uri");
        const char *accel_s = cli_arg_get(args, "accel");
        kiln_autoptr(kiln_error) hv_err = NULL;
        kiln_autoptr(kiln_error) accel_err = NULL;
        kiln_autoptr(kiln_error) home_err = NULL;
        kiln_autoptr(kiln_hypervisor_info) info = NULL;
        kiln_accel want = KILN_ACCEL_AUTO, chosen = KILN_ACCEL_TCG;
        kiln_kvm_probe probe;
        json_t *result, *hv, *accel;
        bool tools_ok;
        int r = CLI_EXIT_OK;

        (void) verb;
        if (!uri)
                uri = getenv("LIBVIRT_DEFAULT_URI");
        if (!uri || !*uri)
                uri = "qemu:///system";
        if (accel_s && kiln_accel_from_string(accel_s, &want, &accel_err) < 0)
                return cli_fail(accel_err);

        kiln_host_probe_kvm(&probe);
        accel = json_pack("{s:s}", "Requested", kiln_accel_to_string(want));
        if (kiln_accel_resolve(want, &probe, &chosen, &accel_err) == 0)
                json_object_set_new(accel, "Chosen", json_string(kiln_accel_to_string(chosen)));
        else
                json_object_set_new(accel, "Error", json_string(accel_err->msg));
        json_object_set_new(accel, "DevKvm", json_boolean(probe.dev_kvm));
        json_object_set_new(accel, "DevKvmAccessible", json_boolean(probe.dev_kvm_open));
        json_object_set_new(accel, "CpuVirtualizationFlags", json_boolean(probe.cpu_flags));
        json_object_set_new(accel, "KvmRunsGuests", json_boolean(probe.vm_runs));
        if (probe.detail[0])
                json_object_set_new(accel, "Reason", json_string(probe.detail));

        if (kiln_host_hypervisor_info(uri, &info, &hv_err) == 0)
                hv = json_pack("{s:s, s:b, s:s, s:s, s:s, s:s}", "Uri", info->uri, "Reachable", 1,
                               "Driver", info->driver, "LibvirtVersion", info->libvirt_version,
                               "HypervisorVersion", info->hypervisor_version, "Hostname",
                               info->hostname);
        else
                hv = json_pack("{s:s, s:b, s:s}", "Uri", uri, "Reachable", 0, "Error", hv_err->msg);

        result = json_pack("{s:s, s:o, s:o, s:o}", "Version", kiln_version(), "Hypervisor", hv,
                           "Accelerator", accel, "Tools", tools_json(&tools_ok));
        /* The home's regions, where the home is on this hypervisor (not with another --uri). */
        if (!hv_err && !cli_arg_get(args, "uri"))
                json_object_set_new(result, "Regions", regions_json(g, &home_err));
        cli_print(g, result);
        json_decref(result);

        if (hv_err) {
                r = cli_fail(hv_err);
                if (!g->quiet)
                        fputs("kiln: hint: as root, start the daemons with 'virtlogd -d && "
                              "libvirtd -d', or pass --uri\n",
                              stderr);
        } else if (accel_err) {
                r = cli_fail(accel_err);
        } else if (home_err) {
                r = cli_fail(home_err);
        } else if (!tools_ok) {
                fputs("kiln: error: some tools are missing (see Tools); 'make deps' installs "
                      "them\n",
                      stderr);
                r = cli_exit_code(KILN_E_IO);
        }
        return r;
}

/* ---- command table rows ---- */

static const cli_opt doctor_opts[] = {
        {"uri", CLI_ARG_ONE, "URI", "libvirt URI to check (default qemu:///system)"},
        {"accel", CLI_ARG_ONE, "auto|kvm|tcg", "accelerator to resolve (default auto)"},
        {NULL, CLI_ARG_NONE, NULL, NULL},
};

const cli_verb cli_doctor_verbs[] = {
        {"doctor", "upkeep",
         "check the hypervisor connection, the accelerator and the tools kiln needs",
         "[--uri URI] [--accel auto|kvm|tcg]", doctor_opts, 0, cmd_doctor,
         "kiln doctor --output table"},
};
const size_t cli_n_doctor_verbs = KILN_ARRAY_SIZE(cli_doctor_verbs);
