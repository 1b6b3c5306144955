/* A kiln context: one kiln home (configuration, registry, region pools), the caller's account
 * and the current region. Every domain call takes one. */
#ifndef KILN_CTX_H
#define KILN_CTX_H

#include <stdbool.h>

#include <kiln/common.h>
#include <kiln/error.h>

typedef struct kiln_ctx kiln_ctx;

typedef struct kiln_ctx_options {
        const char *home;    /* NULL: KILN_HOME, else /var/lib/kiln for root, else XDG data */
        const char *region;  /* NULL: the configured default */
        const char *account; /* NULL: KILN_ACCOUNT, else the configured default */
} kiln_ctx_options;

/* Opens (and on first use creates) the kiln home: config.json with region "local" on
 * qemu:///system and one new account, and the registry. Checks that the region and account
 * exist in the configuration. */
KILN_PUBLIC int kiln_ctx_new(const kiln_ctx_options *opts, kiln_ctx **ret, kiln_error **err);
KILN_PUBLIC kiln_ctx *kiln_ctx_free(kiln_ctx *ctx);
KILN_PUBLIC const char *kiln_ctx_home(const kiln_ctx *ctx);
KILN_PUBLIC const char *kiln_ctx_region(const kiln_ctx *ctx);
KILN_PUBLIC const char *kiln_ctx_account(const kiln_ctx *ctx);

KILN_DEFINE_AUTOPTR(kiln_ctx, kiln_ctx_free)

/* Makes the context act in another configured region for another configured account (an
 * endpoint's request, once its signature says whose it is); its connections stay open. */
KILN_PUBLIC int kiln_ctx_act_as(kiln_ctx *ctx, const char *region, const char *account,
                                kiln_error **err);

/* A dry run (EC2's DryRun): a verb that would change something makes every check it makes
 * (parameters, existence, ownership and permissions, states), then fails with KILN_E_PERMISSION,
 * api_code "DryRunOperation" and reason KILN_R_DRY_RUN, having changed nothing. A failing check
 * fails as it would without the dry run. Describing is not affected. */
KILN_PUBLIC void kiln_ctx_set_dry_run(kiln_ctx *ctx, bool on);

/* A runner: the threads of a long-running front end (the EC2 endpoint) on which the work a
 * verb leaves running after it answers (an instance's start, the watch of its boot and its
 * readiness) is done, instead of in detached processes. A context given one with
 * kiln_ctx_set_runner hands its jobs to it. kiln_runner_free asks the jobs to end and waits for
 * them. */
typedef struct kiln_runner kiln_runner;
KILN_PUBLIC kiln_runner *kiln_runner_new(void);
KILN_PUBLIC void kiln_runner_free(kiln_runner *r);
KILN_PUBLIC void kiln_ctx_set_runner(kiln_ctx *ctx, kiln_runner *r);

/* One host of a region: a libvirt daemon and its storage pool. Each is an availability zone of
 * its region (the region's name and a letter, in the configuration's order: "locala",
 * "localb"), and has a HostId of EC2's shape derived from the region's name and its URI. */
/* An SSH jump host (OpenSSH's ProxyJump) through which a host's instances are reached: their
 * forwards listen on the host's own 127.0.0.1, and kiln's SSH sessions and the printed ssh
 * command go through the jump host. */
typedef struct kiln_proxy_jump {
        char *user;
        char *host;
        int port;
        char *identity_file; /* kiln's key for the jump host */
        char *host_key;      /* its public key line: the only one accepted */
} kiln_proxy_jump;

typedef struct kiln_host_info {
        char *host_id;
        char *zone;
        char *uri;
        char *pool_path;
        char *listen_address;  /* NULL: 127.0.0.1 */
        kiln_proxy_jump *jump; /* NULL: none */
} kiln_host_info;

/* A configured region. uri, pool_path and listen_address are its first host's. */
typedef struct kiln_region_info {
        char *name;
        char *uri;
        char *pool;
        char *pool_path;
        char *network; /* NULL: user-mode networking */
        /* Where user networking's forwards listen and kiln connects: the region's host's
         * address, for a host other than this one; NULL: 127.0.0.1. The host ports then come
         * from first_port..last_port (PortRange, default 40000-44999), unique among the
         * region's live instances; a port the host has in use is replaced at the start. */
        char *listen_address;
        int first_port, last_port;
        kiln_host_info *hosts; /* at least one */
        size_t n_hosts;
} kiln_region_info;

/* Whether the region's libvirt URI names another host (qemu+tcp://HOST/..., qemu+ssh://...),
 * whose files kiln can reach only through libvirt. */
KILN_PUBLIC bool kiln_region_is_remote(const kiln_region_info *r);
/* The same for one of its hosts. */
KILN_PUBLIC bool kiln_host_is_remote(const kiln_host_info *h);
/* The region's host with that HostId or availability zone, or NULL. */
KILN_PUBLIC const kiln_host_info *kiln_region_host(const kiln_region_info *r,
                                                   const char *id_or_zone);

KILN_PUBLIC int kiln_regions_describe(kiln_ctx *ctx, kiln_region_info **ret, size_t *ret_n,
                                      kiln_error **err);
KILN_PUBLIC void kiln_region_infos_free(kiln_region_info *r, size_t n);
/* Whether QEMU, run by the region's local daemon as its own user (libvirt's DAC model), can
 * reach the region's pool directory: 0 when it can or when the check does not apply (another
 * driver, another host); -1 otherwise, with an error (KILN_E_IO) that names the directory it
 * cannot traverse, the user and the fixes. Every use of a region's pool makes this check before
 * anything is stored; this call makes only the check. */
KILN_PUBLIC int kiln_region_check_reachable(kiln_ctx *ctx, const char *region, kiln_error **err);

/* Monthly storage price per GiB, from the configuration (default 0.05 USD). */
KILN_PUBLIC double kiln_ctx_storage_price(const kiln_ctx *ctx);

#endif
