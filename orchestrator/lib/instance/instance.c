/* Instances after launch: describe (with the libvirt domain's real state), readiness, stop,
 * start, reboot, terminate, the console, and how to connect. */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <libvirt/libvirt.h>

#include "image/image-rules.h"
#include "instance/instance-private.h"
#include "keypair/keypair-private.h"
#include "ssh/ssh.h"
#include "util/util.h"

#define CONSOLE_MAX ((size_t) 64 * 1024)

void kiln_instance_clear(kiln_instance *inst)
{
        char **f[] = {&inst->instance_id,
                      &inst->reservation_id,
                      &inst->region,
                      &inst->owner_id,
                      &inst->image_id,
                      &inst->instance_type,
                      &inst->key_name,
                      &inst->state,
                      &inst->state_reason_code,
                      &inst->state_reason_message,
                      &inst->transition_reason,
                      &inst->launch_time,
                      &inst->platform,
                      &inst->default_user,
                      &inst->architecture,
                      &inst->boot_mode,
                      &inst->root_device_name,
                      &inst->network,
                      &inst->host,
                      &inst->host_key,
                      &inst->accel};

        if (!inst)
                return;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(f); i++)
                free(*f[i]);
        for (size_t i = 0; i < inst->n_volumes; i++) {
                free(inst->volumes[i].volume_id);
                free(inst->volumes[i].device_name);
                free(inst->volumes[i].snapshot_id);
                free(inst->volumes[i].attach_time);
                free(inst->volumes[i].file);
        }
        free(inst->volumes);
        memset(inst, 0, sizeof(*inst));
}

void kiln_instances_free(kiln_instance *list, size_t n)
{
        for (size_t i = 0; list && i < n; i++)
                kiln_instance_clear(&list[i]);
        free(list);
}

void kiln_state_changes_free(kiln_state_change *c, size_t n)
{
        for (size_t i = 0; c && i < n; i++) {
                free(c[i].instance_id);
                free(c[i].previous);
                free(c[i].current);
        }
        free(c);
}

void kiln_connection_clear(kiln_connection *c)
{
        free(c->protocol);
        free(c->host);
        free(c->user);
        free(c->known_hosts_line);
        free(c->known_hosts_file);
        free(c->identity_file);
        free(c->command);
        memset(c, 0, sizeof(*c));
}

static void set_state_fields(kiln_instance *inst, const char *state)
{
        free(inst->state);
        inst->state = kiln_xstrdup(state);
        inst->state_code = registry_instance_state_code(state);
}

/* A running instance whose domain stopped by itself (a shutdown inside the guest) is
 * stopped, as EC2 shows it. */
static void reconcile(kiln_ctx *ctx, kiln_instance *inst)
{
        virConnectPtr conn;
        kiln_autoptr(virt_dom) dom = NULL;
        kiln_autofree char *domain = NULL;
        const char *failure;
        pid_t worker = 0;

        if (strcmp(inst->state, "running") != 0 && strcmp(inst->state, "pending") != 0)
                return;
        if (registry_instance_private(ctx->reg, inst->instance_id, &domain, NULL, &worker, NULL) <
            0)
                return;
        conn = instance_conn(ctx, NULL);
        dom = conn ? virt_domain_lookup(conn, domain, NULL) : NULL;
        if (strcmp(inst->state, "pending") == 0) {
                /* Pending while a worker starts it; a worker that died leaves it stopped. */
                if (rules_worker_alive(worker))
                        return;
                /* The worker may have recorded its outcome since inst was read: the change is
                 * made only if it has not. */
                if (dom && virt_domain_active(dom)) {
                        if (instance_set_state_from(ctx, inst->instance_id, "pending", worker,
                                                    "running", NULL, NULL, NULL) == 1)
                                set_state_fields(inst, "running");
                } else if (instance_set_state_from(
                                   ctx, inst->instance_id, "pending", worker, "stopped",
                                   "Server.InternalError",
                                   "Server.InternalError: the launch was interrupted", NULL) == 1) {
                        set_state_fields(inst, "stopped");
                }
                return;
        }
        if (!dom)
                return;
        if (virt_domain_active(dom)) {
                instance_find_address(ctx, inst);
                return;
        }
        failure = virt_domain_failure(dom);
        if (failure) {
                kiln_autofree char *why = kiln_xasprintf("Server.InternalError: %s", failure);

                if (instance_set_state(ctx, inst->instance_id, "stopped", "Server.InternalError",
                                       why, "Server.InternalError: Internal error", NULL) == 0) {
                        set_state_fields(inst, "stopped");
                        free(inst->state_reason_code);
                        inst->state_reason_code = kiln_xstrdup("Server.InternalError");
                        free(inst->state_reason_message);
                        inst->state_reason_message = kiln_steal(&why);
                }
                return;
        }
        if (instance_set_state(ctx, inst->instance_id, "stopped",
                               "Client.InstanceInitiatedShutdown",
                               "Client.InstanceInitiatedShutdown: Instance initiated shutdown",
                               NULL, NULL) == 0) {
                set_state_fields(inst, "stopped");
                free(inst->state_reason_code);
                inst->state_reason_code = kiln_xstrdup("Client.InstanceInitiatedShutdown");
                free(inst->state_reason_message);
                inst->state_reason_message =
                        kiln_xstrdup("Client.InstanceInitiatedShutdown: Instance initiated "
                                     "shutdown");
        }
}

static bool instance_filter_match(const kiln_instance *inst, const kiln_filter *f)
{
        const char *n = f->name;

        if (strcmp(n, "instance-state-name") == 0)
                return rules_match_any(f, inst->state);
        if (strcmp(n, "instance-id") == 0)
                return rules_match_any(f, inst->instance_id);
        if (strcmp(n, "image-id") == 0)
                return rules_match_any(f, inst->image_id);
        if (strcmp(n, "instance-type") == 0)
                return rules_match_any(f, inst->instance_type);
        if (strcmp(n, "key-name") == 0)
                return rules_match_any(f, inst->key_name);
        if (strcmp(n, "reservation-id") == 0)
                return rules_match_any(f, inst->reservation_id);
        if (strcmp(n, "platform") == 0)
                return strcmp(inst->platform, "windows") == 0 && rules_match_any(f, "windows");
        return false;
}

typedef struct list_txn {
        kiln_ctx *ctx;
        kiln_instance *all;
        size_t n;
} list_txn;

static int list_load(registry *r, void *userdata, kiln_error **err)
{
        list_txn *t = userdata;

        kiln_instances_free(t->all, t->n);
        t->all = NULL;
        t->n = 0;
        return registry_instance_list(r, t->ctx->region->name, t->ctx->account, &t->all, &t->n,
                                      err);
}

int kiln_instances_describe(kiln_ctx *ctx, const char *const *ids, size_t n_ids,
                            const kiln_filter *filters, size_t n_filters, kiln_instance **ret,
                            size_t *ret_n, kiln_error **err)
{
        static const char *const known[] = {
                "instance-state-name", "instance-id", "image-id", "instance-type", "key-name",
                "reservation-id",      "platform"};
        list_txn t = {ctx, NULL, 0};
        kiln_instance *out;
        size_t n_out = 0;

        for (size_t i = 0; i < n_ids; i++)
                if (instance_check_id(ids[i], err) < 0)
                        return -1;
        for (size_t i = 0; i < n_filters; i++) {
                bool ok = false;

                for (size_t k = 0; k < KILN_ARRAY_SIZE(known); k++)
                        ok = ok || strcmp(filters[i].name, known[k]) == 0;
                if (!ok)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidFilter",
                                              "The filter '%s' is invalid", filters[i].name);
        }
        if (registry_read(ctx->reg, list_load, &t, err) < 0)
                return -1;
        for (size_t i = 0; i < n_ids; i++) {
                bool found = false;

                for (size_t k = 0; k < t.n; k++)
                        found = found || strcmp(t.all[k].instance_id, ids[i]) == 0;
                if (!found) {
                        kiln_instances_free(t.all, t.n);
                        return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidInstanceID.NotFound",
                                              "The instance ID '%s' does not exist", ids[i]);
                }
        }
        out = kiln_xcalloc(t.n + 1, sizeof(*out));
        for (size_t k = 0; k < t.n; k++) {
                bool keep = n_ids == 0;

                for (size_t i = 0; i < n_ids; i++)
                        keep = keep || strcmp(t.all[k].instance_id, ids[i]) == 0;
                if (keep)
                        reconcile(ctx, &t.all[k]);
                for (size_t i = 0; keep && i < n_filters; i++)
                        keep = instance_filter_match(&t.all[k], &filters[i]);
                if (keep) {
                        out[n_out++] = t.all[k];
                        memset(&t.all[k], 0, sizeof(t.all[k]));
                }
        }
        kiln_instances_free(t.all, t.n);
        *ret = out;
        *ret_n = n_out;
        return 0;
}

/* ==== readiness ==== */

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static char *console_tail(kiln_ctx *ctx, const char *id, size_t max)
{
        kiln_autofree char *path = instance_file(ctx, id, "console.log");
        kiln_autofree char *text = NULL;
        size_t n = 0;

        if (kiln_file_read(path, 64 << 20, &text, &n, NULL) < 0 || n == 0)
                return kiln_xstrdup("(no console output)");
        return kiln_xstrdup(n > max ? text + n - max : text);
}

int instance_ssh_connect(kiln_ctx *ctx, const kiln_instance *inst, uint64_t deadline_ms,
                         kiln_ssh **ret, kiln_error **err)
{
        kiln_autofree char *key = instance_file(ctx, inst->instance_id, "kiln_ed25519");
        ssh_target t = {inst->host, inst->port, instance_user(inst), key, inst->host_key};

        return ssh_connect(&t, deadline_ms, ret, err);
}

/* One attempt: SSH with the pinned host key and kiln's access key, then cloud-init's
 * verdict. 1 ready, 0 not yet, -1 a hard error (a host key that is not the pinned one). */
static int ready_probe(kiln_ctx *ctx, const kiln_instance *inst, uint64_t deadline, char **last,
                       kiln_error **err)
{
        kiln_autoptr(kiln_ssh) s = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        kiln_autofree char *out = NULL, *errout = NULL;
        /* Short attempts: until the guest network is up, QEMU accepts the connection and
         * nothing answers, so a long attempt only waits longer than needed. */
        uint64_t attempt = ssh_now_ms() + 4000;
        int status = -1;

        if (!inst->host) {
                free(*last);
                *last = kiln_xasprintf("no DHCP lease on network '%s' yet", inst->network);
                return 0;
        }

        if (instance_ssh_connect(ctx, inst, attempt < deadline ? attempt : deadline, &s, &e) < 0) {
                if (strstr(e->msg, "host key mismatch")) {
                        *err = kiln_steal(&e);
                        return -1;
                }
                free(*last);
                *last = kiln_xstrdup(e->msg);
                return 0;
        }
        /* cloud-init writes result.json, in /run (so once per boot), when its last stage has
         * run; `cloud-init status` calls that "done", or "error" when it lists errors. Read
         * with the shell: cloud-init's own Python takes seconds to start under TCG. */
        if (ssh_exec_capture(s,
                             "while [ ! -e /run/cloud-init/result.json ]; do sleep 0.5; done; "
                             "cat /run/cloud-init/result.json",
                             deadline, &out, &errout, &status, &e) < 0) {
                free(*last);
                *last = kiln_xstrdup(e->msg);
                return 0;
        }
        if (status == 0 && strstr(out, "\"errors\": []")) {
                /* The first boot has taken the host key: the seed need not hold it any more
                 * (the start worker may have done this already). A failure is retried by the
                 * next wait and reported by fsck; it does not make the guest less ready. */
                instance_seed_scrub(ctx, inst->instance_id, NULL);
                return 1;
        }
        free(*last);
        *last = kiln_xasprintf("cloud-init: %s%s", out, errout);
        if (status == 0 && strstr(out, "\"errors\""))
                return kiln_error_set(err, KILN_E_STATE, NULL,
                                      "cloud-init on %s finished with errors: %s",
                                      inst->instance_id, out);
        return 0;
}

static const char *wait_target(kiln_wait_what what)
{
        switch (what) {
        case KILN_WAIT_RUNNING:
                return "running";
        case KILN_WAIT_STOPPED:
                return "stopped";
        case KILN_WAIT_TERMINATED:
                return "terminated";
        case KILN_WAIT_READY:
                break;
        }
        return "running";
}

int kiln_instance_wait(kiln_ctx *ctx, const char *instance_id, kiln_wait_what what, int timeout_s,
                       kiln_error **err)
{
        uint64_t deadline = ssh_now_ms() +
                            (uint64_t) (timeout_s > 0 ? timeout_s : INSTANCE_DEFAULT_WAIT_S) * 1000;
        kiln_autofree char *last = NULL;

        for (;;) {
                kiln_instance inst = {0};
                kiln_instance *one = NULL;
                size_t n = 0;
                int rc;

                if (kiln_instances_describe(ctx, &instance_id, 1, NULL, 0, &one, &n, err) < 0)
                        return -1;
                inst = one[0];
                free(one);
                if (what != KILN_WAIT_READY && strcmp(inst.state, wait_target(what)) == 0) {
                        kiln_instance_clear(&inst);
                        return 0;
                }
                if ((what == KILN_WAIT_READY || what == KILN_WAIT_RUNNING) &&
                    strcmp(inst.state, "stopped") == 0 && inst.state_reason_code &&
                    strcmp(inst.state_reason_code, "Server.InternalError") == 0) {
                        /* It failed to start: say why, as libvirt said it (the message
                         * starts with its code, as EC2 writes StateReason.Message). */
                        const char *why = inst.state_reason_message ? inst.state_reason_message
                                                                    : "no reason was recorded";
                        size_t code_len = strlen("Server.InternalError: ");

                        if (strncmp(why, "Server.InternalError: ", code_len) == 0)
                                why += code_len;
                        rc = kiln_error_set(err, KILN_E_LIBVIRT, "Server.InternalError",
                                            "The instance '%s' could not start: %s", instance_id,
                                            why);
                        kiln_instance_clear(&inst);
                        return rc;
                }
                if (what == KILN_WAIT_READY && strcmp(inst.state, "running") != 0 &&
                    strcmp(inst.state, "pending") != 0) {
                        rc = kiln_error_set(err, KILN_E_STATE, "IncorrectInstanceState",
                                            "The instance '%s' is %s and will not become ready",
                                            instance_id, inst.state);
                        kiln_instance_clear(&inst);
                        return rc;
                }
                rc = 0;
                if (what == KILN_WAIT_READY && strcmp(inst.state, "running") == 0)
                        rc = ready_probe(ctx, &inst, deadline, &last, err);
                if (!last)
                        last = kiln_xasprintf("state %s", inst.state);
                kiln_instance_clear(&inst);
                if (rc != 0)
                        return rc > 0 ? 0 : -1;
                if (kiln_interrupted())
                        return kiln_error_set(err, KILN_E_INTERRUPTED, NULL,
                                              "interrupted while waiting for %s (last: %s)",
                                              instance_id, last);
                if (ssh_now_ms() >= deadline) {
                        kiln_autofree char *tail = console_tail(ctx, instance_id, 2000);

                        return kiln_error_set(
                                err, KILN_E_TIMEOUT, NULL,
                                "The instance '%s' did not become %s within %d s "
                                "(last: %s); console tail:\n%s",
                                instance_id, what == KILN_WAIT_READY ? "ready" : wait_target(what),
                                timeout_s > 0 ? timeout_s : INSTANCE_DEFAULT_WAIT_S, last, tail);
                }
                sleep_ms(1000);
        }
}

/* ==== lifecycle ==== */

typedef int (*change_fn)(kiln_ctx *ctx, kiln_instance *inst, const char *domain, void *arg,
                         kiln_error **err);

/* Loads every instance first (one bad ID changes nothing), then applies fn to each. */
static int change_all(kiln_ctx *ctx, const char *const *ids, size_t n, change_fn fn, void *arg,
                      kiln_state_change **ret, size_t *ret_n, kiln_error **err)
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
        virConnectPtr conn = instance_conn(ctx, err);
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
        deadline = ssh_now_ms() + (uint64_t) (a->force ? 0 : a->timeout_s) * 1000;
        while (virt_domain_active(dom) && ssh_now_ms() < deadline)
                sleep_ms(500);
        if (virt_domain_destroy(dom, err) < 0)
                return -1;
        if (instance_set_state(ctx, inst->instance_id, "stopped", "Client.UserInitiatedShutdown",
                               "Client.UserInitiatedShutdown: User initiated shutdown", transition,
                               err) < 0)
                return -1;
        set_state_fields(inst, "stopped");
        return 0;
}

int kiln_instances_stop(kiln_ctx *ctx, const char *const *ids, size_t n, bool force, int timeout_s,
                        kiln_state_change **ret, size_t *ret_n, kiln_error **err)
{
        stop_arg a = {force, timeout_s > 0 ? timeout_s : 120};

        return change_all(ctx, ids, n, stop_one, &a, ret, ret_n, err);
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
        set_state_fields(inst, "running");
        return 0;
}

int kiln_instances_start(kiln_ctx *ctx, const char *const *ids, size_t n, kiln_state_change **ret,
                         size_t *ret_n, kiln_error **err)
{
        return change_all(ctx, ids, n, start_one, NULL, ret, ret_n, err);
}

static int reboot_one(kiln_ctx *ctx, kiln_instance *inst, const char *domain, void *arg,
                      kiln_error **err)
{
        virConnectPtr conn = instance_conn(ctx, err);
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
        return change_all(ctx, ids, n, reboot_one, NULL, NULL, NULL, err);
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
                                 : registry_volume_set_state(r, t->vols[i].volume_id, "available",
                                                             err);

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
        virConnectPtr conn = instance_conn(ctx, err);
        virStoragePoolPtr pool = ctx_pool(ctx, ctx->region->name, err);
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
        ctx_workdir_remove(dir);
        registry_volumes_free(t.vols, t.n_vols);
        set_state_fields(inst, "terminated");
        return rc;
}

int kiln_instances_terminate(kiln_ctx *ctx, const char *const *ids, size_t n,
                             kiln_state_change **ret, size_t *ret_n, kiln_error **err)
{
        return change_all(ctx, ids, n, terminate_one, NULL, ret, ret_n, err);
}

int kiln_instance_console(kiln_ctx *ctx, const char *instance_id, char **ret_output,
                          kiln_error **err)
{
        kiln_instance inst = {0};

        if (instance_load(ctx, ctx->reg, instance_id, &inst, err) < 0)
                return -1;
        kiln_instance_clear(&inst);
        *ret_output = console_tail(ctx, instance_id, CONSOLE_MAX);
        return 0;
}

/* ==== connecting ==== */

static char *identity_for(kiln_ctx *ctx, const kiln_instance *inst, const char *identity)
{
        kiln_keypair kp = {0};
        char *path = NULL;

        if (identity)
                return kiln_xstrdup(identity);
        if (!inst->key_name || keypair_get(ctx, ctx->reg, inst->key_name, &kp, NULL) < 0)
                return NULL;
        path = kiln_steal(&kp.private_key_path);
        kiln_keypair_clear(&kp);
        return path;
}

/* ssh's options to log in to the instance with the key in identity_file, as argv words:
 * strict checking against the instance's known_hosts, that key only. File names are written
 * so that ssh reads them as they are (spaces, '%'). Ends with NULL; *ret_n counts the words. */
static char **ssh_options(kiln_ctx *ctx, const kiln_instance *inst, const char *identity_file,
                          size_t *ret_n)
{
        kiln_autofree char *known = instance_file(ctx, inst->instance_id, "known_hosts");
        kiln_autofree char *known_v = kiln_ssh_config_value(known);
        char **argv = kiln_xcalloc(14, sizeof(char *));
        size_t n = 0;

        argv[n++] = kiln_xstrdup("ssh");
        argv[n++] = kiln_xstrdup("-o");
        argv[n++] = kiln_xstrdup("StrictHostKeyChecking=yes");
        argv[n++] = kiln_xstrdup("-o");
        argv[n++] = kiln_xasprintf("UserKnownHostsFile=%s", known_v);
        argv[n++] = kiln_xstrdup("-o");
        argv[n++] = kiln_xstrdup("IdentitiesOnly=yes");
        /* -i takes the name as it is but ssh then expands %-tokens in it: a name with '%'
         * goes as an option value, where "%%" means '%'. */
        if (strchr(identity_file, '%')) {
                kiln_autofree char *v = kiln_ssh_config_value(identity_file);

                argv[n++] = kiln_xstrdup("-o");
                argv[n++] = kiln_xasprintf("IdentityFile=%s", v);
        } else {
                argv[n++] = kiln_xstrdup("-i");
                argv[n++] = kiln_xstrdup(identity_file);
        }
        argv[n++] = kiln_xstrdup("-p");
        argv[n++] = kiln_xasprintf("%d", inst->port);
        argv[n++] = kiln_xasprintf("%s@%s", instance_user(inst), inst->host);
        argv[n] = NULL;
        *ret_n = n;
        return argv;
}

int kiln_instance_connection(kiln_ctx *ctx, const kiln_instance *inst, const char *identity,
                             kiln_connection *ret, kiln_error **err)
{
        kiln_connection c = {0};
        bool windows = strcmp(inst->platform, "windows") == 0;

        (void) err;
        c.protocol = kiln_xstrdup(windows ? "rdp" : "ssh");
        c.host = kiln_xstrdup(inst->host);
        c.port = inst->port;
        c.user = kiln_xstrdup(instance_user(inst));
        if (!windows && inst->host_key && inst->host) {
                const char *sp = strchr(inst->host_key, ' ');
                const char *sp2 = sp ? strchr(sp + 1, ' ') : NULL;

                kiln_autofree char *name = instance_known_hosts_name(inst->host, inst->port);

                c.known_hosts_line = kiln_xasprintf(
                        "%s %.*s", name,
                        (int) (sp2 ? (size_t) (sp2 - inst->host_key) : strlen(inst->host_key)),
                        inst->host_key);
                c.known_hosts_file = instance_file(ctx, inst->instance_id, "known_hosts");
                c.identity_file = identity_for(ctx, inst, identity);
                {
                        /* Ready to paste into a shell, whatever the names hold. */
                        size_t n = 0;
                        char **argv = ssh_options(ctx, inst,
                                                  c.identity_file  ? c.identity_file
                                                  : inst->key_name ? inst->key_name
                                                                   : "KEY",
                                                  &n);
                        kiln_buf b = {0};

                        for (size_t i = 0; i < n; i++) {
                                kiln_autofree char *w = kiln_shell_word(argv[i]);

                                kiln_buf_appendf(&b, "%s%s", i ? " " : "", w);
                                free(argv[i]);
                        }
                        free(argv);
                        c.command = kiln_buf_steal(&b);
                }
        }
        *ret = c;
        return 0;
}

int kiln_instance_ssh_argv(kiln_ctx *ctx, const char *instance_id, const char *identity,
                           const char *const *command, size_t n_command, char ***ret_argv,
                           kiln_error **err)
{
        kiln_instance inst = {0};
        kiln_autofree char *id_file = NULL;
        char **argv;
        size_t n = 0;

        if (instance_load(ctx, ctx->reg, instance_id, &inst, err) < 0)
                return -1;
        if (strcmp(inst.platform, "windows") == 0 || strcmp(inst.state, "running") != 0) {
                int rc = kiln_error_set(err, KILN_E_STATE, "IncorrectInstanceState",
                                        "The instance '%s' is %s%s", instance_id,
                                        strcmp(inst.platform, "windows") == 0 ? "a Windows "
                                                                                "instance (RDP)"
                                                                              : inst.state,
                                        "; ssh needs a running Linux instance");

                kiln_instance_clear(&inst);
                return rc;
        }
        if (!inst.host && instance_find_address(ctx, &inst) == 0) {
                int rc = kiln_error_set(err, KILN_E_STATE, "IncorrectInstanceState",
                                        "The instance '%s' has no address on network '%s' yet "
                                        "(no DHCP lease)",
                                        instance_id, inst.network);

                kiln_instance_clear(&inst);
                return rc;
        }
        id_file = identity_for(ctx, &inst, identity);
        if (!id_file) {
                kiln_instance_clear(&inst);
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "No private key for '%s': give --identity FILE (kiln keeps "
                                      "only public keys unless create-key-pair wrote the file)",
                                      instance_id);
        }
        argv = ssh_options(ctx, &inst, id_file, &n);
        argv = kiln_xrealloc(argv, (n + n_command + 2) * sizeof(char *));
        if (n_command)
                argv[n++] = kiln_xstrdup("--");
        for (size_t i = 0; i < n_command; i++)
                argv[n++] = kiln_xstrdup(command[i]);
        argv[n] = NULL;
        kiln_instance_clear(&inst);
        *ret_argv = argv;
        return 0;
}
