/* The kiln context: home, configuration, registry, the caller's account and region, and the
 * libvirt connections opened for regions on demand. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/ctx-private.h"
#include "util/util.h"

static char *default_home(void)
{
        const char *env = getenv("KILN_HOME");
        const char *xdg = getenv("XDG_DATA_HOME");
        const char *home = getenv("HOME");

        if (env && *env)
                return kiln_xstrdup(env);
        if (geteuid() == 0)
                return kiln_xstrdup("/var/lib/kiln");
        if (xdg && *xdg)
                return kiln_xasprintf("%s/kiln", xdg);
        return kiln_xasprintf("%s/.local/share/kiln", home ? home : ".");
}

static int mkdir_p(const char *path, mode_t mode, kiln_error **err)
{
        kiln_autofree char *p = kiln_xstrdup(path);

        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot create '%s'", p);
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot create '%s'", p);
        return 0;
}

/* Takes read and write away from group and others on a file or directory of ours that a home
 * made before modes were tightened may still have. Quiet. */
static void tighten(const char *path)
{
        struct stat st;

        if (stat(path, &st) == 0 && st.st_uid == geteuid() && (st.st_mode & 066))
                chmod(path, st.st_mode & 07711);
}

/* The home and the pool directories below it are searchable by others (QEMU's user must reach
 * the disks), never listable; everything in them is kiln's user's alone: the registry and the
 * configuration 0600, instance directories 0700, pool files 0600 or 0400 (libvirt hands them
 * to QEMU's user while a domain runs). */
static int home_prepare(const char *home, kiln_error **err)
{
        kiln_autofree char *pools = kiln_xasprintf("%s/pools", home);
        kiln_autofree char *db = kiln_xasprintf("%s/registry.db", home);
        kiln_autofree char *cfg = kiln_xasprintf("%s/config.json", home);
        int fd;

        if (mkdir_p(home, 0711, err) < 0 || mkdir_p(pools, 0711, err) < 0)
                return -1;
        /* SQLite would create the registry (and its -wal and -shm files, which take its mode)
         * under the umask: made here first, 0600. */
        fd = open(db, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot create '%s'", db);
        close(fd);
        tighten(home);
        tighten(pools);
        tighten(db);
        tighten(cfg);
        {
                DIR *d = opendir(pools);
                const struct dirent *de;

                while (d && (de = readdir(d))) {
                        kiln_autofree char *sub = NULL;

                        if (de->d_name[0] == '.')
                                continue;
                        sub = kiln_xasprintf("%s/%s", pools, de->d_name);
                        tighten(sub);
                }
                if (d)
                        closedir(d);
        }
        return 0;
}

int kiln_ctx_new(const kiln_ctx_options *opts, kiln_ctx **ret, kiln_error **err)
{
        kiln_autoptr(kiln_ctx) ctx = kiln_xcalloc(1, sizeof(*ctx));
        kiln_autofree char *db = NULL;
        const char *account = opts && opts->account ? opts->account : getenv("KILN_ACCOUNT");
        const char *region = opts ? opts->region : NULL;

        ctx->home = opts && opts->home ? kiln_xstrdup(opts->home) : default_home();
        if (home_prepare(ctx->home, err) < 0)
                return -1;
        if (config_load_or_create(ctx->home, &ctx->cfg, err) < 0)
                return -1;
        region = region && *region ? region : ctx->cfg->default_region;
        ctx->region = config_region(ctx->cfg, region);
        if (!ctx->region)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidRegion",
                                      "The region '%s' does not exist in %s", region,
                                      ctx->cfg->path);
        account = account && *account ? account : ctx->cfg->default_account;
        if (!kiln_is_digits(account, 12))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidUserID.Malformed",
                                      "Invalid account '%s': an account ID is 12 digits", account);
        if (!config_has_account(ctx->cfg, account))
                return kiln_error_set(err, KILN_E_PERMISSION, "AuthFailure",
                                      "The account '%s' is not configured in %s", account,
                                      ctx->cfg->path);
        ctx->account = kiln_xstrdup(account);
        db = kiln_xasprintf("%s/registry.db", ctx->home);
        if (registry_open(db, &ctx->reg, err) < 0)
                return -1;
        *ret = kiln_steal(&ctx);
        return 0;
}

void kiln_ctx_set_dry_run(kiln_ctx *ctx, bool on)
{
        registry_set_dry_run(ctx->reg, on);
}

int kiln_ctx_act_as(kiln_ctx *ctx, const char *region, const char *account, kiln_error **err)
{
        const kiln_region_info *r = config_region(ctx->cfg, region ? region : "");

        if (!r)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidRegion",
                                      "The region '%s' does not exist in %s", region ? region : "",
                                      ctx->cfg->path);
        if (!account || !config_has_account(ctx->cfg, account))
                return kiln_error_set(err, KILN_E_PERMISSION, "AuthFailure",
                                      "The account '%s' is not configured in %s",
                                      account ? account : "", ctx->cfg->path);
        ctx->region = r;
        free(ctx->account);
        ctx->account = kiln_xstrdup(account);
        return 0;
}

void ctx_registry_close(kiln_ctx *ctx)
{
        ctx->reg = registry_close(ctx->reg);
}

int ctx_registry_reopen(kiln_ctx *ctx, kiln_error **err)
{
        kiln_autofree char *db = kiln_xasprintf("%s/registry.db", ctx->home);

        if (ctx->reg)
                return 0;
        return registry_open(db, &ctx->reg, err);
}

kiln_ctx *kiln_ctx_free(kiln_ctx *ctx)
{
        if (!ctx)
                return NULL;
        for (size_t i = 0; i < ctx->n_conns; i++) {
                virt_pool_free(ctx->conns[i].pool);
                virt_disconnect(ctx->conns[i].conn);
                free(ctx->conns[i].region);
                free(ctx->conns[i].host_id);
                free(ctx->conns[i].failure);
        }
        free(ctx->conns);
        registry_close(ctx->reg);
        config_free(ctx->cfg);
        free(ctx->account);
        free(ctx->home);
        free(ctx);
        return NULL;
}

const char *kiln_ctx_home(const kiln_ctx *ctx)
{
        return ctx->home;
}

const char *kiln_ctx_region(const kiln_ctx *ctx)
{
        return ctx->region->name;
}

const char *kiln_ctx_account(const kiln_ctx *ctx)
{
        return ctx->account;
}

double kiln_ctx_storage_price(const kiln_ctx *ctx)
{
        return ctx->cfg->price_per_gib_month;
}

/* A host that did not answer is asked again after this long (a long-running endpoint sees it
 * come back). */
#define CTX_RETRY_MS 10000

static int ctx_host_open(ctx_region_conn *c, const kiln_region_info *info, const kiln_host_info *h,
                         kiln_error **err)
{
        c->conn = virt_connect(h->uri, err);
        if (!c->conn) {
                if (info->n_hosts > 1)
                        kiln_error_prefix(err, "host %s (%s) of region '%s'", h->host_id, h->uri,
                                          info->name);
                return -1;
        }
        c->pool = virt_pool_ensure_dir(c->conn, info->pool, h->pool_path, err);
        if (!c->pool) {
                c->conn = virt_disconnect(c->conn);
                if (info->n_hosts > 1)
                        kiln_error_prefix(err, "region '%s', host %s", info->name, h->host_id);
                else
                        kiln_error_prefix(err, "region '%s'", info->name);
                return -1;
        }
        return 0;
}

virStoragePoolPtr ctx_host_pool(kiln_ctx *ctx, const char *region, const char *host,
                                kiln_error **err)
{
        const kiln_region_info *info = config_region(ctx->cfg, region);
        const kiln_host_info *h;
        kiln_autoptr(kiln_error) e = NULL;
        ctx_region_conn *c;

        if (!info) {
                kiln_error_set(err, KILN_E_INVALID, "InvalidRegion",
                               "The region '%s' does not exist", region);
                return NULL;
        }
        h = host ? kiln_region_host(info, host) : &info->hosts[0];
        if (!h) {
                kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidHostID.NotFound",
                               "The region '%s' has no host '%s' (its configuration no longer "
                               "names it)",
                               region, host);
                return NULL;
        }
        c = NULL;
        for (size_t i = 0; i < ctx->n_conns; i++)
                if (strcmp(ctx->conns[i].region, region) == 0 &&
                    strcmp(ctx->conns[i].host_id, h->host_id) == 0)
                        c = &ctx->conns[i];
        if (c && c->conn)
                return c->pool;
        if (c && kiln_now_ms() < c->retry_at) {
                kiln_error_set(err, KILN_E_LIBVIRT, NULL, "%s", c->failure);
                return NULL;
        }
        if (!c) {
                ctx->conns = kiln_xrealloc(ctx->conns, (ctx->n_conns + 1) * sizeof(*ctx->conns));
                c = &ctx->conns[ctx->n_conns++];
                memset(c, 0, sizeof(*c));
                c->region = kiln_xstrdup(region);
                c->host_id = kiln_xstrdup(h->host_id);
        }
        if (ctx_host_open(c, info, h, &e) < 0) {
                free(c->failure);
                c->failure = kiln_xstrdup(e->msg);
                c->retry_at = kiln_now_ms() + CTX_RETRY_MS;
                if (err)
                        *err = kiln_steal(&e);
                return NULL;
        }
        return c->pool;
}

virStoragePoolPtr ctx_pool(kiln_ctx *ctx, const char *region, kiln_error **err)
{
        return ctx_host_pool(ctx, region, NULL, err);
}

virConnectPtr ctx_host_conn(kiln_ctx *ctx, const char *region, const char *host, kiln_error **err)
{
        virStoragePoolPtr pool = ctx_host_pool(ctx, region, host, err);

        for (size_t i = 0; pool && i < ctx->n_conns; i++)
                if (ctx->conns[i].pool == pool)
                        return ctx->conns[i].conn;
        return NULL;
}

char *ctx_workdir(kiln_ctx *ctx, kiln_error **err)
{
        kiln_autofree char *tmp = kiln_xasprintf("%s/tmp", ctx->home);
        kiln_autofree char *tmpl = NULL;

        if (mkdir_p(tmp, 0700, err) < 0)
                return NULL;
        /* The PID in the name lets fsck tell the work of a live process from what a crash
         * left behind. */
        tmpl = kiln_xasprintf("%s/work.%d.XXXXXX", tmp, (int) getpid());
        if (!mkdtemp(tmpl)) {
                kiln_error_set_errno(err, errno, KILN_E_IO,
                                     "cannot create a work directory in '%s'", tmp);
                return NULL;
        }
        return kiln_steal(&tmpl);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void) st;
        (void) flag;
        (void) ftw;
        remove(path);
        return 0;
}

void ctx_workdir_remove(const char *dir)
{
        if (dir)
                nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

bool ctx_account_in_org(const kiln_ctx *ctx, const char *account, const char *org_arn)
{
        const config_org *o = config_org_find(ctx->cfg, org_arn);

        return o && config_org_has_member(o, account);
}

int kiln_regions_describe(kiln_ctx *ctx, kiln_region_info **ret, size_t *ret_n, kiln_error **err)
{
        kiln_region_info *r = kiln_xcalloc(ctx->cfg->n_regions, sizeof(*r));

        (void) err;
        for (size_t i = 0; i < ctx->cfg->n_regions; i++)
                config_region_copy(&r[i], &ctx->cfg->regions[i]);
        *ret = r;
        *ret_n = ctx->cfg->n_regions;
        return 0;
}

int kiln_region_check_reachable(kiln_ctx *ctx, const char *region, kiln_error **err)
{
        const kiln_region_info *info = config_region(ctx->cfg, region);
        kiln_autoptr(virt_conn) conn = NULL;

        if (!info)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidRegion",
                                      "The region '%s' does not exist", region);
        conn = virt_connect(info->uri, err);
        if (!conn || virt_pool_check_reachable(conn, info->pool_path, err) < 0) {
                kiln_error_prefix(err, "region '%s'", region);
                return -1;
        }
        return 0;
}

void kiln_region_infos_free(kiln_region_info *r, size_t n)
{
        for (size_t i = 0; r && i < n; i++)
                config_region_clear(&r[i]);
        free(r);
}

static bool uri_is_remote(const char *uri)
{
        const char *p = strstr(uri, "://");

        return p && p[3] && p[3] != '/';
}

bool kiln_region_is_remote(const kiln_region_info *r)
{
        return uri_is_remote(r->uri);
}

bool kiln_host_is_remote(const kiln_host_info *h)
{
        return uri_is_remote(h->uri);
}

const kiln_host_info *kiln_region_host(const kiln_region_info *r, const char *id_or_zone)
{
        for (size_t i = 0; id_or_zone && i < r->n_hosts; i++)
                if (strcmp(r->hosts[i].host_id, id_or_zone) == 0 ||
                    strcmp(r->hosts[i].zone, id_or_zone) == 0)
                        return &r->hosts[i];
        return NULL;
}
