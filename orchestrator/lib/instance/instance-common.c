/* What every instance module needs: the instance's directory and files, loading a record,
 * the login user, state changes, the console's tail. */
#include <errno.h>
#include <string.h>
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

const kiln_region_info *instance_region(kiln_ctx *ctx, const kiln_instance *inst)
{
        const kiln_region_info *r = inst->region ? config_region(ctx->cfg, inst->region) : NULL;

        return r ? r : ctx->region;
}

const kiln_host_info *instance_host(kiln_ctx *ctx, const kiln_instance *inst)
{
        const kiln_region_info *r = instance_region(ctx, inst);

        return inst->host_id ? kiln_region_host(r, inst->host_id) : &r->hosts[0];
}

char *instance_proxy_jump(kiln_ctx *ctx, const kiln_instance *inst)
{
        const kiln_host_info *h = inst->network ? NULL : instance_host(ctx, inst);

        if (!h || !h->jump)
                return NULL;
        if (h->jump->port == 22)
                return kiln_xasprintf("%s@%s", h->jump->user, h->jump->host);
        return kiln_xasprintf("%s@%s:%d", h->jump->user, h->jump->host, h->jump->port);
}

const char *instance_listen_address(kiln_ctx *ctx, const kiln_instance *inst)
{
        const kiln_host_info *h = instance_host(ctx, inst);

        return h && h->listen_address ? h->listen_address : "127.0.0.1";
}

const char *instance_user(const kiln_instance *inst)
{
        if (kiln_platform_is_windows(inst->platform))
                return "Administrator";
        return inst->default_user && *inst->default_user ? inst->default_user : "root";
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

void instance_set_state_fields(kiln_instance *inst, const char *state)
{
        free(inst->state);
        inst->state = kiln_xstrdup(state);
        inst->state_code = registry_instance_state_code(state);
}

char *instance_console_volume(const char *id)
{
        return kiln_xasprintf("%s-console.log", id);
}

bool instance_on_remote_host(kiln_ctx *ctx, const kiln_instance *inst)
{
        const kiln_host_info *h = instance_host(ctx, inst);

        return h && kiln_host_is_remote(h);
}

char *instance_console_path(kiln_ctx *ctx, const kiln_instance *inst)
{
        kiln_autofree char *vol = instance_console_volume(inst->instance_id);

        if (instance_on_remote_host(ctx, inst))
                return kiln_xasprintf("%s/%s", instance_host(ctx, inst)->pool_path, vol);
        return instance_file(ctx, inst->instance_id, "console.log");
}

/* The console log of an instance of another host: a file of its pool, read through libvirt. */
static char *console_download(kiln_ctx *ctx, const kiln_instance *inst, char **ret_dir)
{
        virStoragePoolPtr pool = instance_pool(ctx, inst, NULL);
        kiln_autofree char *vol = instance_console_volume(inst->instance_id);
        char *dir = pool ? ctx_workdir(ctx, NULL) : NULL;
        char *path = dir ? kiln_xasprintf("%s/console.log", dir) : NULL;

        if (!path || virt_pool_refresh(pool, NULL) < 0 ||
            virt_volume_download(pool, vol, path, NULL, NULL, NULL) < 0) {
                free(path);
                path = NULL;
        }
        *ret_dir = dir;
        return path;
}

char *instance_console_tail(kiln_ctx *ctx, const kiln_instance *inst, size_t max)
{
        kiln_autofree char *path = NULL, *dir = NULL;
        kiln_autofree char *text = NULL;
        size_t n = 0;
        int rc;

        if (instance_on_remote_host(ctx, inst))
                path = console_download(ctx, inst, &dir);
        else
                path = instance_file(ctx, inst->instance_id, "console.log");
        rc = path ? kiln_file_read(path, 64 << 20, &text, &n, NULL) : -1;
        if (dir)
                ctx_workdir_remove(dir);
        if (rc < 0 || n == 0)
                return kiln_xstrdup("(no console output)");
        return kiln_xstrdup(n > max ? text + n - max : text);
}

virConnectPtr instance_conn(kiln_ctx *ctx, const kiln_instance *inst, kiln_error **err)
{
        return ctx_host_conn(ctx, instance_region(ctx, inst)->name, inst->host_id, err);
}

virStoragePoolPtr instance_pool(kiln_ctx *ctx, const kiln_instance *inst, kiln_error **err)
{
        return ctx_host_pool(ctx, instance_region(ctx, inst)->name, inst->host_id, err);
}
