/* The guest-visible bytes of a disk image through qemu-nbd, read with libnbd.
 *
 * qemu-nbd is started by socket activation (LISTEN_FDS=1, LISTEN_PID, the listening socket on
 * fd 3): we bind a unix socket in a private 0700 directory, connect to it ourselves before the
 * server even runs, and remove the directory at once, so no other process can reach the export
 * and there is no socket file to wait for or to clean up. The connected socket is handed to
 * libnbd (nbd_connect_socket's asynchronous form), which speaks the protocol: the handshake,
 * the reads, the disconnect. qemu-nbd without --persistent exits when we disconnect; it is our
 * child, reaped in disk_nbd_close(), and it dies with us (PR_SET_PDEATHSIG) if we die first.
 *
 * libnbd can start the server itself (nbd_connect_systemd_socket_activation), but then the
 * child gets our whole environment and our stderr, and nothing runs between its fork and exec:
 * no resource limits (a prlimit wrapper would be a second program between us and the one that
 * parses the file), no death signal, and qemu-nbd's message would go to our stderr instead of
 * into the error. So we spawn it, as kiln_cmd runs tools: an argv and no shell, a clean
 * environment (PATH, HOME, LC_ALL=C), stdin and stdout on /dev/null, its stderr in a memfd that
 * ends up in the error if it fails. It parses a file that may come from anywhere, so it runs
 * under limits as qemu-img does (disk.c): 1 GiB of address space (measured: at most 460 MiB
 * while a client read a whole 2 GiB compressed qcow2 16 requests at a time, with
 * MALLOC_ARENA_MAX=2) and 60 s of CPU (that whole read took 27 s; detection reads at most some
 * 70 MiB).
 *
 * Every wait on the server (its start-up and handshake, each read) has a deadline of
 * NBD_TIMEOUT_S: libnbd's synchronous calls would wait without end for a server that hangs
 * without using CPU, so we drive its state machine with nbd_poll() and a timeout. */
#include <errno.h>
#include <fcntl.h>
#include <libnbd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "disk/nbd.h"
#include "util/util.h"

#define NBD_EXPORT_NAME "disk"
#define NBD_TIMEOUT_S   30   /* the server's start-up and handshake, or one read */
#define NBD_REAP_MS     2000 /* how long qemu-nbd gets to exit after we hang up */
#define NBD_FD_FLOOR    10   /* our fds are moved above the child's 0-3 before fork */
#define NBD_LIMIT_AS    (1ULL << 30)
#define NBD_LIMIT_CPU_S 60

struct disk_nbd {
        struct nbd_handle *h;
        pid_t pid;
        int err_fd; /* memfd with qemu-nbd's stderr */
        uint64_t size;
};

/* ---- the server process ---- */

/* Writes the decimal digits of v at p (which has room for 20) and a NUL. Async-signal-safe. */
static void put_decimal(char *p, unsigned long v)
{
        char tmp[24];
        size_t n = 0;

        do {
                tmp[n++] = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        while (n)
                *p++ = tmp[--n];
        *p = '\0';
}

struct nbd_spawn {
        const char *prog;
        char **argv;
        char **envp;
        char *listen_pid; /* "LISTEN_PID=" followed by room for the digits */
        kiln_limits limits;
        int null_fd, err_fd, listen_fd;
        pid_t parent;
};

/* Between fork and exec: async-signal-safe calls only (and setrlimit, a plain system call). */
__attribute__((noreturn)) static void nbd_child(const struct nbd_spawn *s)
{
        static const char msg[] = "cannot run qemu-nbd\n";
        struct sigaction dfl = {.sa_handler = SIG_DFL};
        sigset_t none;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != s->parent)
                _exit(127);
        for (int sig = 1; sig < NSIG; sig++) {
                struct sigaction old;

                if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, NULL, &old) == 0 &&
                    old.sa_handler != SIG_DFL)
                        sigaction(sig, &dfl, NULL);
        }
        if (dup2(s->null_fd, STDIN_FILENO) < 0 || dup2(s->null_fd, STDOUT_FILENO) < 0 ||
            dup2(s->err_fd, STDERR_FILENO) < 0 || dup2(s->listen_fd, 3) < 0)
                _exit(126);
        close_range(4, ~0U, 0);
        put_decimal(s->listen_pid + sizeof("LISTEN_PID=") - 1, (unsigned long) getpid());
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (kiln_limits_apply(&s->limits) < 0) {
                static const char lmsg[] = "cannot set the resource limits of qemu-nbd\n";

                if (write(STDERR_FILENO, lmsg, sizeof(lmsg) - 1) < 0)
                        _exit(126);
                _exit(126);
        }
        execve(s->prog, s->argv, s->envp);
        if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
                _exit(127);
        _exit(127);
}

/* Moves fd to NBD_FD_FLOOR or above (so that the child's dup2 onto 0-3 cannot clobber it). */
static int fd_above_floor(int fd)
{
        int moved;

        if (fd >= NBD_FD_FLOOR)
                return fd;
        moved = fcntl(fd, F_DUPFD_CLOEXEC, NBD_FD_FLOOR);
        close(fd);
        return moved;
}

/* A path qemu cannot take for a protocol ("nbd:...", "json:{...}"): absolute, or "./"-led. */
static char *plain_path(const char *path)
{
        if (path[0] == '/')
                return kiln_xstrdup(path);
        return kiln_xasprintf("./%s", path);
}

static int nbd_spawn_server(disk_nbd *nbd, const char *prog, const char *path, const char *format,
                            int listen_fd, kiln_error **err)
{
        kiln_autofree char *fmt_arg = kiln_xasprintf("--format=%s", format);
        kiln_autofree char *file = plain_path(path);
        kiln_autofree char *path_env = kiln_xasprintf(
                "PATH=%s", getenv("PATH") ? getenv("PATH") : "/usr/sbin:/usr/bin:/sbin:/bin");
        kiln_autofree char *home_env =
                getenv("HOME") ? kiln_xasprintf("HOME=%s", getenv("HOME")) : NULL;
        char listen_pid[40] = "LISTEN_PID=";
        char *argv[] = {(char *) "qemu-nbd",
                        (char *) "--read-only",
                        fmt_arg,
                        (char *) "--export-name=" NBD_EXPORT_NAME,
                        (char *) "--shared=1",
                        (char *) "--",
                        file,
                        NULL};
        char *envp[] = {(char *) "LC_ALL=C",
                        (char *) "LISTEN_FDS=1",
                        (char *) KILN_LIMITS_MALLOC_ENV,
                        listen_pid,
                        path_env,
                        home_env,
                        NULL};
        kiln_autoclose int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        struct nbd_spawn s;
        sigset_t all, old;
        pid_t pid;

        if (null_fd < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot open /dev/null");
        null_fd = fd_above_floor(null_fd);
        nbd->err_fd = memfd_create("qemu-nbd-stderr", MFD_CLOEXEC);
        if (nbd->err_fd >= 0)
                nbd->err_fd = fd_above_floor(nbd->err_fd);
        if (null_fd < 0 || nbd->err_fd < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO,
                                            "cannot prepare the descriptors of qemu-nbd");
        s = (struct nbd_spawn){
                .prog = prog,
                .argv = argv,
                .envp = envp,
                .listen_pid = listen_pid,
                .limits = {NBD_LIMIT_AS, NBD_LIMIT_CPU_S},
                .null_fd = null_fd,
                .err_fd = nbd->err_fd,
                .listen_fd = listen_fd,
                .parent = getpid(),
        };
        kiln_log(KILN_LOG_DEBUG, "exec: LISTEN_FDS=1 %s --read-only %s --export-name=%s -- %s",
                 prog, fmt_arg, NBD_EXPORT_NAME, file);

        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pid = fork();
        if (pid == 0)
                nbd_child(&s);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (pid < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot start qemu-nbd");
        nbd->pid = pid;
        return 0;
}

/* Waits up to ms for qemu-nbd to exit, then kills it. Leaves nbd->pid at -1. Returns true if
 * it had been stopped at its CPU limit (SIGXCPU, or the SIGKILL after it). */
static bool nbd_reap(disk_nbd *nbd, int ms)
{
        const struct timespec tick = {.tv_nsec = 1000000L};
        bool cpu_limit = false;
        struct rusage ru;
        int status = 0;

        if (nbd->pid <= 0)
                return false;
        for (int waited = 0;; waited++) {
                pid_t r = wait4(nbd->pid, &status, WNOHANG, &ru);

                if (r == nbd->pid) {
                        cpu_limit = WIFSIGNALED(status) &&
                                    (WTERMSIG(status) == SIGXCPU ||
                                     (WTERMSIG(status) == SIGKILL &&
                                      ru.ru_utime.tv_sec + ru.ru_stime.tv_sec >= NBD_LIMIT_CPU_S));
                        break;
                }
                if (r < 0 && errno != EINTR)
                        break;
                if (waited >= ms) {
                        kill(nbd->pid, SIGKILL);
                        while (waitpid(nbd->pid, NULL, 0) < 0 && errno == EINTR)
                                ;
                        break;
                }
                nanosleep(&tick, NULL);
        }
        nbd->pid = -1;
        if (cpu_limit)
                kiln_log(KILN_LOG_DEBUG, "qemu-nbd was stopped at its limit of %d s of CPU time",
                         NBD_LIMIT_CPU_S);
        return cpu_limit;
}

/* The last line qemu-nbd wrote on stderr, trimmed; "" if none. */
static char *nbd_stderr(disk_nbd *nbd)
{
        char buf[1024];
        ssize_t n;
        off_t end;
        char *s, *line;

        if (nbd->err_fd < 0)
                return kiln_xstrdup("");
        end = lseek(nbd->err_fd, 0, SEEK_END);
        if (end < 0)
                return kiln_xstrdup("");
        n = pread(nbd->err_fd, buf, sizeof(buf) - 1,
                  end > (off_t) sizeof(buf) - 1 ? end - (off_t) sizeof(buf) + 1 : 0);
        if (n < 0)
                n = 0;
        buf[n] = '\0';
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
                buf[--n] = '\0';
        line = strrchr(buf, '\n');
        s = line ? line + 1 : buf;
        return kiln_xstrdup(s);
}

static int fd_steal(int *fd)
{
        int v = *fd;

        *fd = -1;
        return v;
}

/* A listening socket only we can reach, with our connection (*ret_sock) already queued on it:
 * bound in a fresh 0700 directory that is removed again before the server starts. */
static int nbd_socket(int *ret_sock, int *ret_listen_fd, kiln_error **err)
{
        const char *tmp = getenv("TMPDIR");
        kiln_autofree char *dir =
                kiln_xasprintf("%s/kiln-nbd-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
        kiln_autoclose int listen_fd = -1;
        kiln_autoclose int sock = -1;
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        int r, e = 0;

        if (!mkdtemp(dir))
                return kiln_error_set_errno(err, errno, KILN_E_IO,
                                            "cannot create a directory for qemu-nbd's socket");
        r = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/s", dir);
        if (r < 0 || (size_t) r >= sizeof(addr.sun_path)) {
                rmdir(dir);
                return kiln_error_set(err, KILN_E_IO, NULL, "the socket path '%s/s' is too long",
                                      dir);
        }
        listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_fd < 0 || sock < 0 ||
            bind(listen_fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 ||
            listen(listen_fd, 1) < 0 || connect(sock, (struct sockaddr *) &addr, sizeof(addr)) < 0)
                e = errno;
        unlink(addr.sun_path);
        rmdir(dir);
        if (e)
                return kiln_error_set_errno(err, e, KILN_E_IO,
                                            "cannot set up a socket for qemu-nbd");
        listen_fd = fd_above_floor(fd_steal(&listen_fd));
        if (listen_fd < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO,
                                            "cannot prepare the descriptors of qemu-nbd");
        *ret_sock = fd_steal(&sock);
        *ret_listen_fd = fd_steal(&listen_fd);
        return 0;
}

/* ---- libnbd ---- */

/* libnbd's last error, which is thread-local: copied at once, on the line after the call. */
static int nbd_fail(kiln_error **err, int code, const char *what)
{
        const char *msg = nbd_get_error();

        return kiln_error_set(err, code, NULL, "%s: %s", what, msg ? msg : "unknown error");
}

static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs libnbd's state machine until the handshake is over (cookie 0) or the command with this
 * cookie has completed, for at most NBD_TIMEOUT_S. */
static int nbd_wait(disk_nbd *nbd, int64_t cookie, const char *what, kiln_error **err)
{
        const long long deadline = now_ms() + NBD_TIMEOUT_S * 1000LL;

        for (;;) {
                long long left;
                int r;

                if (cookie == 0) {
                        if (!nbd_aio_is_connecting(nbd->h))
                                return nbd_aio_is_ready(nbd->h) ? 0
                                                                : nbd_fail(err, KILN_E_IO, what);
                } else {
                        r = nbd_aio_command_completed(nbd->h, (uint64_t) cookie);
                        if (r < 0)
                                return nbd_fail(err, KILN_E_IO, what);
                        if (r > 0)
                                return 0;
                }
                left = deadline - now_ms();
                if (left <= 0)
                        return kiln_error_set(err, KILN_E_TIMEOUT, NULL,
                                              "%s: qemu-nbd did not answer within %d s", what,
                                              NBD_TIMEOUT_S);
                if (nbd_poll(nbd->h, (int) left) < 0)
                        return nbd_fail(err, KILN_E_IO, what);
        }
}

/* The handshake on sock (which libnbd owns from then on, also on failure), and the size. */
static int nbd_handshake(disk_nbd *nbd, int sock, kiln_error **err)
{
        int64_t size;

        nbd->h = nbd_create();
        if (!nbd->h) {
                close(sock);
                return nbd_fail(err, KILN_E_IO, "cannot create an NBD handle");
        }
        if (nbd_set_export_name(nbd->h, NBD_EXPORT_NAME) < 0) {
                close(sock);
                return nbd_fail(err, KILN_E_IO, "cannot name the NBD export");
        }
        /* From here libnbd owns sock: it closes it itself if this fails. */
        if (nbd_aio_connect_socket(nbd->h, sock) < 0)
                return nbd_fail(err, KILN_E_IO, "cannot connect to qemu-nbd");
        if (nbd_wait(nbd, 0, "the NBD handshake with qemu-nbd failed", err) < 0)
                return -1;
        size = nbd_get_size(nbd->h);
        if (size < 0)
                return nbd_fail(err, KILN_E_IO, "qemu-nbd did not give the export size");
        nbd->size = (uint64_t) size;
        return 0;
}

/* ---- the API ---- */

static int nbd_start(disk_nbd *nbd, const char *path, const char *format, kiln_error **err)
{
        kiln_autofree char *prog = kiln_find_program("qemu-nbd");
        kiln_autoptr(kiln_error) herr = NULL;
        kiln_autoclose int listen_fd = -1;
        kiln_autoclose int sock = -1;
        kiln_autofree char *msg = NULL;

        if (!prog)
                return kiln_error_set(err, KILN_E_UNSUPPORTED, NULL,
                                      "qemu-nbd is not installed (Debian package qemu-utils)");
        if (access(path, R_OK) < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot read the disk '%s'",
                                            path);
        if (nbd_socket(&sock, &listen_fd, err) < 0)
                return -1;
        if (nbd_spawn_server(nbd, prog, path, format, listen_fd, err) < 0)
                return -1;
        close(fd_steal(&listen_fd));

        if (nbd_handshake(nbd, fd_steal(&sock), &herr) == 0)
                return 0;
        /* Most failures are qemu-nbd's: it could not open the image, said why, and exited. */
        if (nbd_reap(nbd, NBD_REAP_MS))
                return kiln_error_set(err, KILN_E_LIMIT, NULL,
                                      "qemu-nbd exceeded its limit of %d s of CPU time opening "
                                      "'%s' as %s",
                                      NBD_LIMIT_CPU_S, path, format);
        msg = nbd_stderr(nbd);
        if (msg[0])
                return kiln_error_set(err, KILN_E_IO, NULL, "qemu-nbd cannot serve '%s' as %s: %s",
                                      path, format, msg);
        return kiln_error_set(err, herr->code, NULL, "%s", herr->msg);
}

disk_nbd *disk_nbd_open(const char *path, const char *format, kiln_error **err)
{
        kiln_autoptr(disk_nbd) nbd = kiln_xcalloc(1, sizeof(*nbd));

        nbd->pid = -1;
        nbd->err_fd = -1;
        if (nbd_start(nbd, path, format, err) < 0)
                return NULL;
        return kiln_steal(&nbd);
}

disk_nbd *disk_nbd_close(disk_nbd *nbd)
{
        if (!nbd)
                return NULL;
        if (nbd->h) {
                /* NBD_CMD_DISC is queued and sent at once if the socket takes it; we do not
                 * wait for the server, closing the socket ends it too. */
                if (nbd_aio_is_ready(nbd->h))
                        (void) nbd_aio_disconnect(nbd->h, 0);
                nbd_close(nbd->h);
        }
        nbd_reap(nbd, NBD_REAP_MS);
        if (nbd->err_fd >= 0)
                close(nbd->err_fd);
        free(nbd);
        return NULL;
}

uint64_t disk_nbd_size(const disk_nbd *nbd)
{
        return nbd->size;
}

int disk_nbd_read(disk_nbd *nbd, uint64_t offset, void *buf, size_t len, kiln_error **err)
{
        int64_t cookie;

        if (offset > nbd->size || len > nbd->size - offset)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "read of %zu bytes at %llu is beyond the disk's end", len,
                                      (unsigned long long) offset);
        if (len == 0)
                return 0;
        cookie = nbd_aio_pread(nbd->h, buf, len, offset, NBD_NULL_COMPLETION, 0);
        if (cookie < 0)
                return nbd_fail(err, KILN_E_IO, "cannot read from qemu-nbd");
        if (nbd_wait(nbd, cookie, "cannot read from qemu-nbd", err) < 0) {
                kiln_error_prefix(err, "reading %zu bytes at offset %llu", len,
                                  (unsigned long long) offset);
                return -1;
        }
        return 0;
}
