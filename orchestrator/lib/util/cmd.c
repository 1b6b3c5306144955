/* External tools (qemu-img, xorriso, ...) run from an argv, never through a shell, with a clean
 * environment (PATH, HOME, LC_ALL=C) and stdin on /dev/null. Their stdout is returned; the tail
 * of their stderr goes into the error when they fail. A tool that reads untrusted input runs
 * under resource limits set in the child between fork and exec. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "util/util.h"

#define CMD_STDERR_TAIL 2048
#define CMD_CPU_GRACE_S 2 /* from SIGXCPU to SIGKILL, for a tool that ignores SIGXCPU */

struct kiln_cmd {
        char **argv;
        size_t argc;
        char **env;
        size_t envc;
        kiln_limits limits;
};

static kiln_cmd_dry_run_fn dry_run_fn;
static void *dry_run_userdata;

void kiln_cmd_set_dry_run(kiln_cmd_dry_run_fn fn, void *userdata)
{
        dry_run_fn = fn;
        dry_run_userdata = userdata;
}

static void strv_push(char ***v, size_t *n, char *s)
{
        *v = kiln_xrealloc(*v, (*n + 2) * sizeof(**v));
        (*v)[(*n)++] = s;
        (*v)[*n] = NULL;
}

kiln_cmd *kiln_cmd_new(const char *prog, ...)
{
        kiln_cmd *cmd = kiln_xcalloc(1, sizeof(*cmd));
        const char *arg;
        va_list ap;

        strv_push(&cmd->argv, &cmd->argc, kiln_xstrdup(prog));
        va_start(ap, prog);
        while ((arg = va_arg(ap, const char *)))
                strv_push(&cmd->argv, &cmd->argc, kiln_xstrdup(arg));
        va_end(ap);

        strv_push(&cmd->env, &cmd->envc, kiln_xstrdup("LC_ALL=C"));
        strv_push(&cmd->env, &cmd->envc,
                  kiln_xasprintf("PATH=%s", getenv("PATH") ? getenv("PATH")
                                                           : "/usr/sbin:/usr/bin:/sbin:/bin"));
        if (getenv("HOME"))
                strv_push(&cmd->env, &cmd->envc, kiln_xasprintf("HOME=%s", getenv("HOME")));
        return cmd;
}

kiln_cmd *kiln_cmd_free(kiln_cmd *cmd)
{
        if (!cmd)
                return NULL;
        for (size_t i = 0; i < cmd->argc; i++)
                free(cmd->argv[i]);
        for (size_t i = 0; i < cmd->envc; i++)
                free(cmd->env[i]);
        free(cmd->argv);
        free(cmd->env);
        free(cmd);
        return NULL;
}

void kiln_cmd_add_arg(kiln_cmd *cmd, const char *arg)
{
        strv_push(&cmd->argv, &cmd->argc, kiln_xstrdup(arg));
}

void kiln_cmd_pass_env(kiln_cmd *cmd, const char *name)
{
        const char *v = getenv(name);

        if (v)
                strv_push(&cmd->env, &cmd->envc, kiln_xasprintf("%s=%s", name, v));
}

int kiln_limits_apply(const kiln_limits *limits)
{
        struct rlimit none = {0, 0};

        if (limits->as_bytes) {
                struct rlimit as = {(rlim_t) limits->as_bytes, (rlim_t) limits->as_bytes};

                if (setrlimit(RLIMIT_AS, &as) < 0)
                        return -1;
        }
        if (limits->cpu_s) {
                struct rlimit cpu = {limits->cpu_s, (rlim_t) limits->cpu_s + CMD_CPU_GRACE_S};

                if (setrlimit(RLIMIT_CPU, &cpu) < 0)
                        return -1;
        }
        return setrlimit(RLIMIT_CORE, &none);
}

void kiln_cmd_set_limits(kiln_cmd *cmd, uint64_t as_bytes, unsigned cpu_s)
{
        if (as_bytes && !cmd->limits.as_bytes)
                strv_push(&cmd->env, &cmd->envc, kiln_xstrdup(KILN_LIMITS_MALLOC_ENV));
        cmd->limits.as_bytes = as_bytes;
        cmd->limits.cpu_s = cpu_s;
}

char *kiln_cmd_to_string(const kiln_cmd *cmd)
{
        kiln_buf b = {0};

        for (size_t i = 0; i < cmd->argc; i++) {
                if (i)
                        kiln_buf_append(&b, " ", 1);
                kiln_buf_append(&b, cmd->argv[i], strlen(cmd->argv[i]));
        }
        return kiln_buf_steal(&b);
}

/* Last lines of a tool's stderr, trimmed, for an error message. */
static const char *stderr_tail(kiln_buf *b)
{
        const char *s;

        if (!b->data)
                return "";
        while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == ' '))
                b->data[--b->len] = '\0';
        s = b->data;
        if (b->len > CMD_STDERR_TAIL)
                s = b->data + b->len - CMD_STDERR_TAIL;
        return s;
}

static void child_exec(kiln_cmd *cmd, int out_fd, int err_fd)
{
        int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

        if (null_fd < 0 || dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
            dup2(err_fd, STDERR_FILENO) < 0)
                _exit(126);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGXCPU, SIG_DFL);
        if ((cmd->limits.as_bytes || cmd->limits.cpu_s) && kiln_limits_apply(&cmd->limits) < 0) {
                dprintf(STDERR_FILENO, "cannot set the resource limits of '%s': %s", cmd->argv[0],
                        strerror(errno));
                _exit(126);
        }
        execvpe(cmd->argv[0], cmd->argv, cmd->env);
        dprintf(STDERR_FILENO, "cannot run '%s': %s", cmd->argv[0], strerror(errno));
        _exit(127);
}

/* Reads both pipes until both reach EOF. */
static int drain(int out_fd, int err_fd, kiln_buf *out, kiln_buf *errb, kiln_error **err)
{
        struct pollfd fds[2] = {{.fd = out_fd, .events = POLLIN}, {.fd = err_fd, .events = POLLIN}};
        kiln_buf *bufs[2] = {out, errb};
        char chunk[4096];

        while (fds[0].fd >= 0 || fds[1].fd >= 0) {
                if (poll(fds, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return kiln_error_set_errno(err, errno, KILN_E_IO, "poll");
                }
                for (int i = 0; i < 2; i++) {
                        ssize_t n;

                        if (fds[i].fd < 0 || !fds[i].revents)
                                continue;
                        n = read(fds[i].fd, chunk, sizeof(chunk));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                fds[i].fd = -1;
                                continue;
                        }
                        kiln_buf_append(bufs[i], chunk, (size_t) n);
                }
        }
        return 0;
}

static int cmd_dry_run(kiln_cmd *cmd, const char *argv_str, char **ret_stdout, kiln_error **err)
{
        char *out = NULL;
        int status = dry_run_fn((const char *const *) cmd->argv, &out, dry_run_userdata);

        if (status != 0) {
                free(out);
                return kiln_error_set(err, KILN_E_IO, NULL, "'%s' exited with status %d", argv_str,
                                      status);
        }
        if (ret_stdout)
                *ret_stdout = out ? out : kiln_xstrdup("");
        else
                free(out);
        return 0;
}

/* The error for a child killed by signal sig: its CPU limit (SIGXCPU at the soft limit, SIGKILL
 * at the hard one if it ignored that) is told apart from other deaths by the CPU time it used. */
static int cmd_signal_error(const kiln_cmd *cmd, const char *argv_str, int sig,
                            const struct rusage *ru, kiln_error **err)
{
        double used = (double) ru->ru_utime.tv_sec + (double) ru->ru_stime.tv_sec +
                      (double) (ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;

        if (cmd->limits.cpu_s && (sig == SIGXCPU || (sig == SIGKILL && used >= cmd->limits.cpu_s)))
                return kiln_error_set(err, KILN_E_LIMIT, NULL,
                                      "'%s' exceeded its limit of %u s of CPU time and was stopped",
                                      argv_str, cmd->limits.cpu_s);
        if (cmd->limits.as_bytes)
                return kiln_error_set(err, KILN_E_IO, NULL,
                                      "'%s' was killed by signal %d (%s) under a limit of %llu MiB "
                                      "of address space",
                                      argv_str, sig, strsignal(sig),
                                      (unsigned long long) (cmd->limits.as_bytes >> 20));
        return kiln_error_set(err, KILN_E_IO, NULL, "'%s' was killed by signal %d", argv_str, sig);
}

int kiln_cmd_run(kiln_cmd *cmd, char **ret_stdout, kiln_error **err)
{
        kiln_autofree char *argv_str = kiln_cmd_to_string(cmd);
        kiln_buf out = {0}, errb = {0};
        int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
        struct rusage ru = {0};
        int status = 0, r;
        pid_t pid;

        kiln_log(KILN_LOG_DEBUG, "exec: %s", argv_str);
        if (dry_run_fn)
                return cmd_dry_run(cmd, argv_str, ret_stdout, err);

        if (pipe2(out_pipe, O_CLOEXEC) < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "pipe");
        if (pipe2(err_pipe, O_CLOEXEC) < 0) {
                close(out_pipe[0]);
                close(out_pipe[1]);
                return kiln_error_set_errno(err, errno, KILN_E_IO, "pipe");
        }
        pid = fork();
        if (pid == 0)
                child_exec(cmd, out_pipe[1], err_pipe[1]);
        close(out_pipe[1]);
        close(err_pipe[1]);
        if (pid < 0) {
                close(out_pipe[0]);
                close(err_pipe[0]);
                return kiln_error_set_errno(err, errno, KILN_E_IO, "fork");
        }
        r = drain(out_pipe[0], err_pipe[0], &out, &errb, err);
        close(out_pipe[0]);
        close(err_pipe[0]);
        while (wait4(pid, &status, 0, &ru) < 0) {
                if (errno != EINTR) {
                        r = kiln_error_set_errno(err, errno, KILN_E_IO, "wait4");
                        break;
                }
        }
        if (r == 0 && WIFEXITED(status) &&
            ((WEXITSTATUS(status) == 127 &&
              strncmp(errb.data ? errb.data : "", "cannot run", 10) == 0) ||
             (WEXITSTATUS(status) == 126 &&
              strncmp(errb.data ? errb.data : "", "cannot set", 10) == 0)))
                r = kiln_error_set(err, KILN_E_IO, NULL, "%s", stderr_tail(&errb));
        else if (r == 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0)
                r = kiln_error_set(err, KILN_E_IO, NULL, "'%s' exited with status %d%s%s", argv_str,
                                   WEXITSTATUS(status), errb.len ? ": " : "", stderr_tail(&errb));
        else if (r == 0 && WIFSIGNALED(status))
                r = cmd_signal_error(cmd, argv_str, WTERMSIG(status), &ru, err);
        kiln_buf_clear(&errb);
        if (r < 0) {
                kiln_buf_clear(&out);
                return -1;
        }
        if (ret_stdout)
                *ret_stdout = kiln_buf_steal(&out);
        else
                kiln_buf_clear(&out);
        return 0;
}
