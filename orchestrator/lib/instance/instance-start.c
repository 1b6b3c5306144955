/* Starting an instance's domain. run-instances hands this to a detached process (fork twice,
 * so nothing waits for it), which opens its own context: a libvirt connection or SQLite handle
 * must never be used on both sides of a fork. The instance is pending until the domain runs;
 * the process's PID is recorded so that a launch that died is told from one in progress. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "instance/instance-private.h"
#include "util/util.h"

#define START_PORT_TRIES 8

typedef struct start_txn {
        const char *id;
        int port;
        pid_t worker;
        bool network; /* its address comes from a new lease after the start */
} start_txn;

static int set_port(registry *r, void *userdata, kiln_error **err)
{
        start_txn *t = userdata;

        return registry_instance_set_port(r, t->id, t->port, err);
}

static int set_worker(registry *r, void *userdata, kiln_error **err)
{
        start_txn *t = userdata;

        return registry_instance_set_worker(r, t->id, t->worker, err);
}

static int mark_running(registry *r, void *userdata, kiln_error **err)
{
        start_txn *t = userdata;
        registry_volume *v = NULL;
        size_t n = 0;
        int rc;

        if (registry_instance_set_state(r, t->id, "running", NULL, NULL, NULL, err) < 0 ||
            registry_instance_set_worker(r, t->id, 0, err) < 0 ||
            registry_instance_set_status(r, t->id, "initializing", err) < 0 ||
            (t->network && registry_instance_set_host(r, t->id, NULL, err) < 0) ||
            registry_volumes_of(r, t->id, &v, &n, err) < 0)
                return -1;
        rc = 0;
        for (size_t i = 0; rc == 0 && i < n; i++)
                rc = registry_volume_set_state(r, v[i].volume_id, "in-use", err);
        registry_volumes_free(v, n);
        return rc;
}

int instance_start_now(kiln_ctx *ctx, const char *id, kiln_error **ret_err)
{
        /* The detached worker passes no error pointer: errors are collected here. */
        kiln_autoptr(kiln_error) local = NULL;
        kiln_error **err = &local;
        virConnectPtr conn = NULL;
        kiln_instance inst = {0};
        kiln_autofree char *domain = NULL, *seed = NULL;
        start_txn t = {id, 0, getpid(), false};
        int rc = -1;

        if (registry_write(ctx->reg, set_worker, &t, err) < 0 ||
            instance_load(ctx, ctx->reg, id, &inst, err) < 0 ||
            !(conn = instance_conn(ctx, &inst, err)) ||
            registry_instance_private(ctx->reg, id, &domain, &seed, NULL, err) < 0)
                goto out;
        t.network = inst.network != NULL;
        /* The security groups as they are now: their forwards, or their filter. */
        if (instance_firewall_apply(ctx, &inst, false, err) < 0 ||
            instance_define(ctx, &inst, domain, seed, err) < 0)
                goto out;
        for (int attempt = 0;; attempt++) {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autoptr(virt_dom) dom = virt_domain_lookup(conn, domain, err);

                if (!dom)
                        break;
                if (virt_domain_start(dom, &e) == 0) {
                        rc = registry_write(ctx->reg, mark_running, &t, err);
                        break;
                }
                /* Another process may have taken the port since it was chosen. */
                if (inst.network || attempt >= START_PORT_TRIES ||
                    kiln_error_reason_of(e) != KILN_R_PORT_IN_USE) {
                        *err = kiln_steal(&e);
                        break;
                }
                t.port = instance_free_port(instance_region(ctx, &inst), instance_host(ctx, &inst),
                                            err);
                if (t.port < 0 || registry_write(ctx->reg, set_port, &t, err) < 0)
                        break;
                inst.port = t.port;
                /* Every forward gets a new host port. */
                for (size_t i = 0; i < inst.n_forwards; i++)
                        free(inst.forwards[i].protocol);
                free(inst.forwards);
                inst.forwards = NULL;
                inst.n_forwards = 0;
                if (instance_firewall_apply(ctx, &inst, false, err) < 0 ||
                    instance_define(ctx, &inst, domain, seed, err) < 0 ||
                    instance_write_known_hosts(ctx, &inst, err) < 0)
                        break;
        }
out:
        if (rc < 0) {
                kiln_autofree char *why = kiln_xasprintf(
                        "Server.InternalError: %s", err && *err ? (*err)->msg : "start failed");

                instance_set_state(ctx, id, "stopped", "Server.InternalError", why,
                                   "Server.InternalError: Internal error on launch", NULL);
        }
        kiln_instance_clear(&inst);
        if (rc < 0 && ret_err && !*ret_err)
                *ret_err = kiln_steal(&local);
        return rc;
}

static void detach_stdio(void)
{
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (fd >= 0) {
                dup2(fd, STDIN_FILENO);
                dup2(fd, STDOUT_FILENO);
                dup2(fd, STDERR_FILENO);
                close(fd);
        }
}

typedef ctx_job_fn detached_job;

/* Forks a detached process (forked twice, so that nobody has to reap it) that opens its own
 * context and runs job; its PID in *ret_pid (0 if there is no process to spare: then nothing
 * ran). The context's registry is closed across the fork and opened again: -1 only if that
 * fails. */
static int spawn(kiln_ctx *ctx, const char *id, detached_job job, pid_t *ret_pid, kiln_error **err)
{
        kiln_ctx_options opts = {ctx->home, ctx->region->name, ctx->account};
        int fds[2] = {-1, -1};
        pid_t pid, worker = 0;
        int status;

        /* A server's runner does it on a thread: the server is the worker. */
        if (ctx_run(ctx, id, job) == 0) {
                *ret_pid = getpid();
                return 0;
        }
        fflush(NULL);
        ctx_registry_close(ctx);
        if (pipe2(fds, O_CLOEXEC) < 0)
                pid = -1;
        else
                pid = fork();
        if (pid == 0) {
                kiln_ctx *child = NULL;
                pid_t grandchild;
                int rc;

                /* The first child only forks the worker, tells us its PID and goes. */
                close(fds[0]);
                setsid();
                grandchild = fork();
                if (grandchild != 0) {
                        if (grandchild > 0 &&
                            write(fds[1], &grandchild, sizeof(grandchild)) != sizeof(grandchild))
                                _exit(1);
                        _exit(0);
                }
                close(fds[1]);
                detach_stdio();
                if (kiln_ctx_new(&opts, &child, NULL) < 0)
                        _exit(1);
                rc = job(child, id);
                kiln_ctx_free(child);
                _exit(rc);
        }
        if (fds[1] >= 0)
                close(fds[1]);
        if (pid > 0) {
                while (read(fds[0], &worker, sizeof(worker)) < 0 && errno == EINTR)
                        ;
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                        ;
        }
        if (fds[0] >= 0)
                close(fds[0]);
        *ret_pid = worker > 0 ? worker : 0;
        return ctx_registry_reopen(ctx, err);
}

static int start_and_watch(kiln_ctx *ctx, const char *id)
{
        if (instance_start_now(ctx, id, NULL) < 0)
                return 1;
        /* Stays with the boot, whether or not anyone waits for the instance: records its
         * status once SSH and cloud-init answer, and takes the private host key out of the
         * seed once the guest has it. */
        instance_watch_ready(ctx, id);
        return 0;
}

static int watch(kiln_ctx *ctx, const char *id)
{
        instance_watch_ready(ctx, id);
        return 0;
}

int instance_start_detached(kiln_ctx *ctx, const char *id, kiln_error **err)
{
        start_txn t = {id, 0, 0, false};

        if (spawn(ctx, id, start_and_watch, &t.worker, err) < 0)
                return -1;
        /* Recorded before we return: once this process is gone, a reader must find the
         * worker's PID, not ours, to tell a start in progress from one that died. */
        if (t.worker > 0) {
                registry_write(ctx->reg, set_worker, &t, NULL);
                return 0;
        }
        /* No process to spare: start it here instead (its failure is recorded with the
         * instance, as the worker's would be). */
        instance_start_now(ctx, id, NULL);
        return 0;
}

void instance_watch_detached(kiln_ctx *ctx, const char *id)
{
        pid_t pid = 0;

        spawn(ctx, id, watch, &pid, NULL);
}
