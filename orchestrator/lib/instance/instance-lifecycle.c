/* stop, start, reboot and terminate (each for a list of instances, as EC2's verbs), and the
 * console. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libvirt/libvirt.h>

#include "instance/instance-private.h"
#include "util/util.h"

#define CONSOLE_MAX ((size_t) 64 * 1024)

typedef int (*change_fn)(kiln_ctx *ctx, kiln_instance *inst, const char *domain, void *arg,
                         kiln_error **err);

typedef enum { GUARD_NONE, GUARD_STOP, GUARD_TERMINATE } guard_kind;

/* An instance protected from the change (disableApiStop, disableApiTermination). */
static int guard(const kiln_instance *inst, guard_kind g, kiln_error **err)
{
        const char *verb = g == GUARD_STOP ? "stopped" : "terminated";
        const char *attr = g == GUARD_STOP ? "disableApiStop" : "disableApiTermination";

        if ((g == GUARD_STOP && inst->disable_api_stop) ||
            (g == GUARD_TERMINATE && inst->disable_api_termination))
                return kiln_error_set(err, KILN_E_STATE, "OperationNotPermitted",
                                      "The instance '%s' may not be %s. Modify its '%s' instance "
                                      "attribute and try again.",
                                      inst->instance_id, verb, attr);
        return 0;
}

/* Loads every instance first (one bad ID, or one protected from the change, changes nothing),
 * then applies fn to each. */
static int change_all(kiln_ctx *ctx, const char *const *ids, size_t n, change_fn fn, void *arg,
                      guard_kind g, kiln_state_change **ret, size_t *ret_n, kiln_error **err)
{
        kiln_instance *list = NULL;
        size_t got = 0;
        kiln_state_change *changes;
        int rc = 0;

        if (n == 0)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter InstanceId");
        if (kiln_instances_describe(ctx, ids, n, NULL, 0, &list, &got, err) < 0)
                return -1;
        for (size_t i = 0; rc == 0 && g != GUARD_NONE && i < got; i++)
                rc = guard(&list[i], g, err);
        /* Each instance exists and is the caller's: a dry run stops before any domain moves. */
        if (rc < 0 || registry_dry_run_stop(ctx->reg, err) < 0) {
                kiln_instances_free(list, got);
                return -1;
        }
        changes = kiln_xcalloc(got + 1, sizeof(*changes));
        for (size_t i = 0; rc == 0 && i < got; i++) {
                kiln_autofree char *domain = NULL;

                changes[i].instance_id = kiln_xstrdup(list[i].instance_id);
                changes[i].previous = kiln_xstrdup(list[i].state);
                changes[i].previous_code = list[i].state_code;
                rc = registry_instance_private(ctx->reg, list[i].instance_id, &domain, NULL, NULL,
                                               err);
                if (rc == 0)
                        rc = fn(ctx, &list[i], domain, arg, err);
                changes[i].current = kiln_xstrdup(list[i].state);
                changes[i].current_code = list[i].state_code;
        }
        kiln_instances_free(list, got);
        if (rc < 0 || !ret) {
                kiln_state_changes_free(changes, got);
                return rc;
        }
        *ret = changes;
        *ret_n = got;
        return 0;
}

typedef struct stop_arg {
        bool force;
        int timeout_s;
} stop_arg;

static int stop_one(kiln_ctx *ctx, kiln_instance *inst, const char *domain, void *arg,
                    kiln_error **err)
{
        stop_arg *a = arg;
        virConnectPtr conn = instance_conn(ctx, inst, err);
        kiln_autoptr(virt_dom) dom = NULL;
        kiln_autofree char *transition = instance_transition_now();
        uint64_t deadline;

        if (strcmp(inst->state, "stopped") == 0)
                return 0;
        if (strcmp(inst->state, "running") != 0)
                return kiln_error_set(err, KILN_E_STATE, "IncorrectInstanceState",
                                      "This instance '%s' is not in a state from which it can "
                                      "be stopped.",
                                      inst->instance_id);
        if (!conn)
                return -1;
        dom = virt_domain_lookup(conn, domain, err);
        if (!dom ||
            instance_set_state(ctx, inst->instance_id, "stopping", NULL, NULL, transition, err) < 0)
                return -1;
        if (!a->force && virt_domain_shutdown(dom, err) < 0)
                return -1;
        deadline = kiln_now_ms() + (uint64_t) (a->force ? 0 : a->timeout_s) * 1000;
        while (virt_domain_active(dom) && kiln_now_ms() < deadline)
                kiln_sleep_ms(500);
        if (virt_domain_destroy(dom, err) < 0)
                return -1;
        if (instance_set_state(ctx, inst->instance_id, "stopped", "Client.UserInitiatedShutdown",
                               "Client.UserInitiatedShutdown: User initiated shutdown", transition,
                               err) < 0)
                return -1;
        instance_set_state_fields(inst, "stopped");
        return 0;
}

int kiln_instances_stop(kiln_ctx *ctx, const char *const *ids, size_t n, bool force, int timeout_s,
                        kiln_state_change **ret, size_t *ret_n, kiln_error **err)
{
        stop_arg a = {force, timeout_s > 0 ? timeout_s : 120};

        return change_all(ctx, ids, n, stop_one, &a, GUARD_STOP, ret, ret_n, err);
}

static int start_one(kiln_ctx *ctx, kiln_instance *inst, const char *domain, void *arg,
                     kiln_error **err)
{
        (void) arg;
        (void) domain;
        if (strcmp(inst->state, "running") == 0)
                return 0;
        if (strcmp(inst->state, "stopped") != 0)
                return kiln_error_set(err, KILN_E_STATE, "IncorrectInstanceState",
                                      "The instance '%s' is not in a state from which it can be "
                                      "started.",
                                      inst->instance_id);
        if (instance_set_state(ctx, inst->instance_id, "pending", NULL, NULL, NULL, err) < 0 ||
            instance_start_now(ctx, inst->instance_id, err) < 0)
                return -1;
        instance_watch_detached(ctx, inst->instance_id);
        instance_set_state_fields(inst, "running");
        return 0;
}

int kiln_instances_start(kiln_ctx *ctx, const char *const *ids, size_t n, kiln_state_change **ret,
                         size_t *ret_n, kiln_error **err)
{
        return change_all(ctx, ids, n, start_one, NULL, GUARD_NONE, ret, ret_n, err);
}

static int reboot_one(kiln_ctx *ctx, kiln_instance *inst, const char *domain, void *arg,
                      kiln_error **err)
{
        virConnectPtr conn = instance_conn(ctx, inst, err);
        kiln_autoptr(virt_dom) dom = NULL;

        (void) arg;
        if (strcmp(inst->state, "running") != 0)
                return kiln_error_set(err, KILN_E_STATE, "IncorrectInstanceState",
                                      "The instance '%s' is not in a state from which it can be "
                                      "rebooted.",
                                      inst->instance_id);
        if (!conn)
                return -1;
        dom = virt_domain_lookup(conn, domain, err);
        return dom ? virt_domain_reboot(dom, err) : -1;
}

int kiln_instances_reboot(kiln_ctx *ctx, const char *const *ids, size_t n, kiln_error **err)
{
        return change_all(ctx, ids, n, reboot_one, NULL, GUARD_NONE, NULL, NULL, err);
}

typedef struct term_txn {
        const char *id;
        registry_volume *vols;
        size_t n_vols;
        const char *transition;
} term_txn;

static int terminate_records(registry *r, void *userdata, kiln_error **err)
{
        term_txn *t = userdata;

        registry_volumes_free(t->vols, t->n_vols);
        t->vols = NULL;
        t->n_vols = 0;
        if (registry_volumes_of(r, t->id, &t->vols, &t->n_vols, err) < 0)
                return -1;
        for (size_t i = 0; i < t->n_vols; i++) {
                int rc = t->vols[i].delete_on_termination
                                 ? registry_volume_delete(r, t->vols[i].volume_id, err)
                                 /* It outlives the instance, detached, as EC2 keeps it. */
                                 : registry_volume_set_attachment(r, t->vols[i].volume_id, NULL,
                                                                  NULL, 0, NULL, err);

                if (rc < 0)
                        return -1;
        }
        if (registry_instance_set_port(r, t->id, 0, err) < 0)
                return -1;
        return registry_instance_set_state(r, t->id, "terminated", "Client.UserInitiatedShutdown",
                                           "Client.UserInitiatedShutdown: User initiated shutdown",
                                           t->transition, err);
}

static int terminate_one(kiln_ctx *ctx, kiln_instance *inst, const char *domain, void *arg,
                         kiln_error **err)
{
        virConnectPtr conn = instance_conn(ctx, inst, err);
        virStoragePoolPtr pool = instance_pool(ctx, inst, err);
        kiln_autofree char *seed = NULL, *dir = instance_dir(ctx, inst->instance_id);
        kiln_autofree char *transition = instance_transition_now();
        term_txn t = {inst->instance_id, NULL, 0, transition};
        int rc = 0;

        (void) arg;
        if (strcmp(inst->state, "terminated") == 0)
                return 0;
        if (!conn || !pool ||
            registry_instance_private(ctx->reg, inst->instance_id, NULL, &seed, NULL, err) < 0)
                return -1;
        if (virt_domain_remove(conn, domain, err) < 0)
                return -1;
        instance_firewall_remove(ctx, inst);
        kiln_crash_point("terminate.after-domain");
        if (registry_write(ctx->reg, terminate_records, &t, err) < 0)
                return -1;
        /* Records first, files after: a crash here leaves orphans that fsck removes. */
        for (size_t i = 0; i < t.n_vols; i++)
                if (t.vols[i].delete_on_termination &&
                    virt_volume_delete(pool, t.vols[i].volume, err) < 0)
                        rc = -1;
        if (seed && virt_volume_delete(pool, seed, err) < 0)
                rc = -1;
        if (instance_on_remote_host(ctx, inst)) {
                kiln_autofree char *console = instance_console_volume(inst->instance_id);

                /* virtlogd's file and the copies it rotated out. */
                virt_pool_refresh(pool, NULL);
                virt_volume_delete(pool, console, NULL);
                for (int i = 0; i < 3; i++) {
                        kiln_autofree char *old = kiln_xasprintf("%s.%d", console, i);

                        virt_volume_delete(pool, old, NULL);
                }
        }
        ctx_workdir_remove(dir);
        registry_volumes_free(t.vols, t.n_vols);
        instance_set_state_fields(inst, "terminated");
        return rc;
}

int kiln_instances_terminate(kiln_ctx *ctx, const char *const *ids, size_t n,
                             kiln_state_change **ret, size_t *ret_n, kiln_error **err)
{
        return change_all(ctx, ids, n, terminate_one, NULL, GUARD_TERMINATE, ret, ret_n, err);
}

int kiln_instance_console(kiln_ctx *ctx, const char *instance_id, char **ret_output,
                          kiln_error **err)
{
        kiln_instance inst = {0};

        if (instance_load(ctx, ctx->reg, instance_id, &inst, err) < 0)
                return -1;
        *ret_output = instance_console_tail(ctx, &inst, CONSOLE_MAX);
        kiln_instance_clear(&inst);
        return 0;
}
