/* Readiness: SSH answers with the pinned host key and cloud-init has finished (Linux), or the
 * RDP port answers a connection request with a confirm (Windows); the waits for states and
 * for readiness, with the console's tail when one times out. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libvirt/libvirt.h>

#include "instance/instance-private.h"
#include "net/rdp.h"
#include "ssh/ssh.h"
#include "util/util.h"

/* The watch of a boot: one SSH session waits up to WATCH_PROBE_MS for cloud-init (a stopping
 * server waits no longer than that for it), and a guest whose SSH does not answer yet is tried
 * again every WATCH_INTERVAL_MS. Under TCG each SSH handshake costs the guest CPU time that its
 * boot needs too: the watch tries as seldom as that allows. */
#define WATCH_PROBE_MS    30000
#define WATCH_INTERVAL_MS 3000

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
        uint64_t attempt = kiln_now_ms() + 4000;
        int status = -1;

        if (!inst->host) {
                free(*last);
                *last = kiln_xasprintf("no DHCP lease on network '%s' yet", inst->network);
                return 0;
        }
        if (kiln_platform_is_windows(inst->platform)) {
                if (rdp_probe(inst->host, inst->port, attempt < deadline ? attempt : deadline,
                              last) == 0)
                        return 0;
                /* The guest set its password before its RDP service took connections: the
                 * config drive need not hold it any more. */
                instance_seed_scrub(ctx, inst->instance_id, NULL);
                return 1;
        }

        if (instance_ssh_connect(ctx, inst, attempt < deadline ? attempt : deadline, &s, &e) < 0) {
                if (kiln_error_reason_of(e) == KILN_R_HOST_KEY_MISMATCH) {
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

/* Whether kiln can reach the instance's access port: on user networking only through a forward
 * its groups open (an instance from before security groups, in none yet, has its one). */
static bool access_forwarded(const kiln_instance *inst)
{
        int access = instance_access_port(inst);

        if (inst->network || inst->n_groups == 0)
                return true;
        for (size_t i = 0; i < inst->n_forwards; i++)
                if (inst->forwards[i].guest_port == access &&
                    strcmp(inst->forwards[i].protocol, "tcp") == 0)
                        return true;
        return false;
}

static int status_write(registry *r, void *userdata, kiln_error **err)
{
        const char *const *a = userdata;

        return registry_instance_set_status(r, a[0], a[1], err);
}

static void set_status(kiln_ctx *ctx, const char *id, const char *status)
{
        const char *a[] = {id, status};

        registry_write(ctx->reg, status_write, (void *) a, NULL);
}

void instance_watch_ready(kiln_ctx *ctx, const char *id)
{
        uint64_t deadline = kiln_now_ms() + (uint64_t) INSTANCE_DEFAULT_WAIT_S * 1000;
        kiln_autofree char *last = NULL;

        while (!ctx_stopping(ctx)) {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_instance inst = {0};
                int rc = 0;

                if (instance_load(ctx, ctx->reg, id, &inst, NULL) < 0)
                        return;
                if (strcmp(inst.state, "pending") != 0 && strcmp(inst.state, "running") != 0) {
                        kiln_instance_clear(&inst);
                        return;
                }
                if (strcmp(inst.state, "running") == 0 && access_forwarded(&inst) &&
                    (inst.host || instance_find_address(ctx, &inst) > 0))
                        rc = ready_probe(ctx, &inst,
                                         kiln_now_ms() + WATCH_PROBE_MS < deadline
                                                 ? kiln_now_ms() + WATCH_PROBE_MS
                                                 : deadline,
                                         &last, &e);
                kiln_instance_clear(&inst);
                if (rc != 0 || kiln_now_ms() >= deadline) {
                        set_status(ctx, id, rc > 0 ? "ok" : "impaired");
                        return;
                }
                kiln_sleep_ms(WATCH_INTERVAL_MS);
        }
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
        case KILN_WAIT_STATUS_OK:
        case KILN_WAIT_PASSWORD_DATA:
                break;
        }
        return "running";
}

int kiln_instance_wait(kiln_ctx *ctx, const char *instance_id, kiln_wait_what what, int timeout_s,
                       kiln_error **err)
{
        uint64_t deadline = kiln_now_ms() +
                            (uint64_t) (timeout_s > 0 ? timeout_s : INSTANCE_DEFAULT_WAIT_S) * 1000;
        kiln_autofree char *last = NULL, *tail = NULL;

        for (;;) {
                kiln_instance inst = {0};
                kiln_instance *one = NULL;
                size_t n = 0;
                int rc;

                if (kiln_instances_describe(ctx, &instance_id, 1, NULL, 0, &one, &n, err) < 0)
                        return -1;
                inst = one[0];
                free(one);
                if (what == KILN_WAIT_PASSWORD_DATA) {
                        rc = instance_password_available(ctx, &inst, err);
                        if (rc != 0) {
                                kiln_instance_clear(&inst);
                                return rc > 0 ? 0 : -1;
                        }
                }
                if (what == KILN_WAIT_STATUS_OK && strcmp(inst.state, "running") == 0 &&
                    inst.status && strcmp(inst.status, "impaired") == 0) {
                        rc = kiln_error_set(err, KILN_E_STATE, "IncorrectInstanceState",
                                            "The instance '%s' is impaired: it did not answer "
                                            "SSH (RDP for Windows) or cloud-init did not finish "
                                            "after its start",
                                            instance_id);
                        kiln_instance_clear(&inst);
                        return rc;
                }
                if (what == KILN_WAIT_STATUS_OK && strcmp(inst.state, "running") == 0 &&
                    inst.status && strcmp(inst.status, "ok") == 0) {
                        kiln_instance_clear(&inst);
                        return 0;
                }
                if (what != KILN_WAIT_READY && what != KILN_WAIT_STATUS_OK &&
                    strcmp(inst.state, wait_target(what)) == 0) {
                        kiln_instance_clear(&inst);
                        return 0;
                }
                if ((what == KILN_WAIT_READY || what == KILN_WAIT_RUNNING ||
                     what == KILN_WAIT_STATUS_OK) &&
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
                if ((what == KILN_WAIT_READY || what == KILN_WAIT_STATUS_OK ||
                     what == KILN_WAIT_PASSWORD_DATA) &&
                    strcmp(inst.state, "running") != 0 && strcmp(inst.state, "pending") != 0) {
                        rc = kiln_error_set(err, KILN_E_STATE, "IncorrectInstanceState",
                                            "The instance '%s' is %s and will not become ready",
                                            instance_id, inst.state);
                        kiln_instance_clear(&inst);
                        return rc;
                }
                rc = 0;
                if (what == KILN_WAIT_READY && strcmp(inst.state, "running") == 0 &&
                    !access_forwarded(&inst)) {
                        rc = kiln_error_set(err, KILN_E_STATE, "IncorrectInstanceState",
                                            "The instance '%s' runs, but its security groups "
                                            "open no TCP port %d, so kiln cannot reach it to see "
                                            "it ready (authorize-security-group-ingress "
                                            "--group-id %s --protocol tcp --port %d --cidr "
                                            "0.0.0.0/0)",
                                            instance_id, instance_access_port(&inst),
                                            inst.groups[0].group_id, instance_access_port(&inst));
                        kiln_instance_clear(&inst);
                        return rc;
                }
                /* The password is there once the guest is seen ready (which takes it off the
                 * config drive): the wait looks itself, in case no watch does any more. */
                if ((what == KILN_WAIT_READY || what == KILN_WAIT_PASSWORD_DATA) &&
                    strcmp(inst.state, "running") == 0)
                        rc = ready_probe(ctx, &inst, deadline, &last, err);
                if ((what == KILN_WAIT_READY || what == KILN_WAIT_PASSWORD_DATA) && rc > 0 &&
                    (!inst.status || strcmp(inst.status, "ok") != 0))
                        set_status(ctx, instance_id, "ok");
                if (what == KILN_WAIT_PASSWORD_DATA && rc > 0) {
                        kiln_instance_clear(&inst);
                        continue;
                }
                if (!last)
                        last = kiln_xasprintf("state %s", inst.state);
                if (rc == 0 && kiln_now_ms() >= deadline) {
                        free(tail);
                        tail = instance_console_tail(ctx, &inst, 2000);
                }
                kiln_instance_clear(&inst);
                if (rc != 0)
                        return rc > 0 ? 0 : -1;
                if (kiln_interrupted())
                        return kiln_error_set(err, KILN_E_INTERRUPTED, NULL,
                                              "interrupted while waiting for %s (last: %s)",
                                              instance_id, last);
                if (kiln_now_ms() >= deadline && tail) {
                        return kiln_error_set(
                                err, KILN_E_TIMEOUT, NULL,
                                "The instance '%s' did not become %s within %d s "
                                "(last: %s); console tail:\n%s",
                                instance_id,
                                what == KILN_WAIT_READY           ? "ready"
                                : what == KILN_WAIT_STATUS_OK     ? "status ok"
                                : what == KILN_WAIT_PASSWORD_DATA ? "ready with its password"
                                                                  : wait_target(what),
                                timeout_s > 0 ? timeout_s : INSTANCE_DEFAULT_WAIT_S, last, tail);
                }
                kiln_sleep_ms(1000);
        }
}
