/* A minimal NBD client for qemu-nbd, from the NBD protocol specification
 * (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md): fixed newstyle
 * handshake, NBD_OPT_GO, then NBD_CMD_READ with simple replies, and NBD_CMD_DISC.
 *
 * qemu-nbd is started by socket activation (LISTEN_FDS=1, LISTEN_PID, the listening socket on
 * fd 3): we bind a unix socket in a private 0700 directory, connect to it ourselves before the
 * server even runs, and remove the directory at once, so no other process can reach the export
 * and there is no socket file to wait for or to clean up. qemu-nbd without --persistent exits
 * when we disconnect; it is our child, reaped in disk_nbd_close(), and it dies with us
 * (PR_SET_PDEATHSIG) if we die first.
 *
 * kiln_cmd runs a tool to its end; this server must run alongside us, so it is spawned here
 * with the same rules as kiln_cmd: an argv and no shell, a clean environment (PATH, HOME,
 * LC_ALL=C), stdin and stdout on /dev/null. Its stderr goes to a memfd and ends up in the error
 * if it fails. It parses a file that may come from anywhere, so it runs under limits as qemu-img
 * does (disk.c): 1 GiB of address space (measured: at most 460 MiB while a client read a whole
 * 2 GiB compressed qcow2 16 requests at a time, with MALLOC_ARENA_MAX=2) and 60 s of CPU (that
 * whole read took 27 s; detection reads at most some 70 MiB). */
#include <errno.h>
#include <fcntl.h>
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

#define NBD_MAGIC          0x4e42444d41474943ULL /* "NBDMAGIC" */
#define NBD_IHAVEOPT       0x49484156454f5054ULL /* "IHAVEOPT" */
#define NBD_REP_MAGIC      0x0003e889045565a9ULL
#define NBD_REQUEST_MAGIC  0x25609513U
#define NBD_SIMPLE_REPLY   0x67446698U
#define NBD_FLAG_FIXED     (1U << 0) /* handshake: fixed newstyle */
#define NBD_FLAG_NO_ZEROES (1U << 1)
#define NBD_OPT_GO         7U
#define NBD_REP_ACK        1U
#define NBD_REP_INFO       3U
#define NBD_REP_FLAG_ERROR (1U << 31)
#define NBD_INFO_EXPORT    0U
#define NBD_INFO_BLOCK     3U
#define NBD_CMD_READ       0U
#define NBD_CMD_DISC       2U

#define NBD_EXPORT_NAME "disk"
#define NBD_TIMEOUT_S   30         /* one reply, or the server's start-up */
#define NBD_CHUNK       (1U << 20) /* our largest single request */
#define NBD_MAX_REPLIES 64         /* option replies we accept for one NBD_OPT_GO */
#define NBD_MAX_OPT_LEN 4096       /* longest option reply we read */
#define NBD_REAP_MS     2000       /* how long qemu-nbd gets to exit after we hang up */
#define NBD_FD_FLOOR    10         /* our fds are moved above the child's 0-3 before fork */
#define NBD_LIMIT_AS    (1ULL << 30)
#define NBD_LIMIT_CPU_S 60

struct disk_nbd {
        int sock;
        pid_t pid;
        int err_fd;  /* memfd with qemu-nbd's stderr */
        bool ready;  /* handshake done: NBD_CMD_DISC on close */
        bool broken; /* a protocol or socket failure: no further requests */
        uint64_t size;
        uint32_t min_block; /* power of two, 1 if the server named none */
        uint32_t max_request;
        uint64_t cookie;
};

/* ---- byte order: NBD is big-endian ---- */

static void put_be16(uint8_t *p, uint16_t v)
{
        p[0] = (uint8_t) (v >> 8);
        p[1] = (uint8_t) v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
        put_be16(p, (uint16_t) (v >> 16));
        put_be16(p + 2, (uint16_t) v);
}

static void put_be64(uint8_t *p, uint64_t v)
{
        put_be32(p, (uint32_t) (v >> 32));
        put_be32(p + 4, (uint32_t) v);
}

static uint16_t get_be16(const uint8_t *p)
{
        return (uint16_t) ((p[0] << 8) | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
        return ((uint32_t) get_be16(p) << 16) | get_be16(p + 2);
}

static uint64_t get_be64(const uint8_t *p)
{
        return ((uint64_t) get_be32(p) << 32) | get_be32(p + 4);
}

/* ---- the socket ---- */

static int nbd_recv(disk_nbd *nbd, void *buf, size_t len, kiln_error **err)
{
        uint8_t *p = buf;

        while (len) {
                ssize_t n = recv(nbd->sock, p, len, 0);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) { /* SO_RCVTIMEO */
                        nbd->broken = true;
                        return kiln_error_set(err, KILN_E_TIMEOUT, NULL,
                                              "qemu-nbd did not answer within %d s", NBD_TIMEOUT_S);
                }
                if (n < 0) {
                        nbd->broken = true;
                        return kiln_error_set_errno(err, errno, KILN_E_IO,
                                                    "cannot read from qemu-nbd");
                }
                if (n == 0) {
                        nbd->broken = true;
                        return kiln_error_set(err, KILN_E_IO, NULL,
                                              "qemu-nbd closed the connection");
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static int nbd_send(disk_nbd *nbd, const void *buf, size_t len, kiln_error **err)
{
        const uint8_t *p = buf;

        while (len) {
                ssize_t n = send(nbd->sock, p, len, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        nbd->broken = true;
                        return kiln_error_set_errno(err, errno, KILN_E_IO,
                                                    "cannot write to qemu-nbd");
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

/* ---- handshake ---- */

static int nbd_handle_info(disk_nbd *nbd, const uint8_t *data, uint32_t len, bool *have_export,
                           kiln_error **err)
{
        uint16_t type;

        if (len < 2)
                return kiln_error_set(err, KILN_E_IO, NULL, "qemu-nbd sent a short info reply");
        type = get_be16(data);
        if (type == NBD_INFO_EXPORT) {
                if (len != 12)
                        return kiln_error_set(err, KILN_E_IO, NULL,
                                              "qemu-nbd sent a malformed export info");
                nbd->size = get_be64(data + 2);
                *have_export = true;
        } else if (type == NBD_INFO_BLOCK) {
                uint32_t min, max;

                if (len != 14)
                        return kiln_error_set(err, KILN_E_IO, NULL,
                                              "qemu-nbd sent a malformed block size info");
                min = get_be32(data + 2);
                max = get_be32(data + 10);
                if (min == 0 || min > 65536 || (min & (min - 1)) || max < min)
                        return kiln_error_set(err, KILN_E_IO, NULL,
                                              "qemu-nbd named unusable block sizes (%u, %u)", min,
                                              max);
                nbd->min_block = min;
                if (max < nbd->max_request)
                        nbd->max_request = max & ~(min - 1);
        }
        return 0;
}

static int nbd_handshake(disk_nbd *nbd, kiln_error **err)
{
        const size_t name_len = strlen(NBD_EXPORT_NAME);
        uint8_t greet[18], hdr[20], opt[64], cflags[4];
        kiln_autofree uint8_t *data = NULL;
        bool have_export = false;
        uint16_t sflags;
        size_t n;

        if (nbd_recv(nbd, greet, sizeof(greet), err) < 0)
                return -1;
        if (get_be64(greet) != NBD_MAGIC || get_be64(greet + 8) != NBD_IHAVEOPT)
                return kiln_error_set(err, KILN_E_IO, NULL,
                                      "qemu-nbd does not speak the newstyle NBD protocol");
        sflags = get_be16(greet + 16);
        if (!(sflags & NBD_FLAG_FIXED))
                return kiln_error_set(err, KILN_E_IO, NULL,
                                      "qemu-nbd does not offer the fixed newstyle handshake");
        put_be32(cflags, NBD_FLAG_FIXED | (sflags & NBD_FLAG_NO_ZEROES));
        if (nbd_send(nbd, cflags, sizeof(cflags), err) < 0)
                return -1;

        /* NBD_OPT_GO: export name, and one info request (block sizes). */
        n = 16;
        put_be64(opt, NBD_IHAVEOPT);
        put_be32(opt + 8, NBD_OPT_GO);
        put_be32(opt + 12, (uint32_t) (4 + name_len + 2 + 2));
        put_be32(opt + n, (uint32_t) name_len);
        n += 4;
        memcpy(opt + n, NBD_EXPORT_NAME, name_len);
        n += name_len;
        put_be16(opt + n, 1);
        put_be16(opt + n + 2, NBD_INFO_BLOCK);
        n += 4;
        if (nbd_send(nbd, opt, n, err) < 0)
                return -1;

        data = kiln_xmalloc(NBD_MAX_OPT_LEN);
        for (int i = 0; i < NBD_MAX_REPLIES; i++) {
                uint32_t type, len;

                if (nbd_recv(nbd, hdr, sizeof(hdr), err) < 0)
                        return -1;
                if (get_be64(hdr) != NBD_REP_MAGIC || get_be32(hdr + 8) != NBD_OPT_GO)
                        return kiln_error_set(err, KILN_E_IO, NULL,
                                              "qemu-nbd sent a malformed option reply");
                type = get_be32(hdr + 12);
                len = get_be32(hdr + 16);
                if (len > NBD_MAX_OPT_LEN)
                        return kiln_error_set(err, KILN_E_IO, NULL,
                                              "qemu-nbd sent an option reply of %u bytes", len);
                if (nbd_recv(nbd, data, len, err) < 0)
                        return -1;
                if (type & NBD_REP_FLAG_ERROR)
                        return kiln_error_set(err, KILN_E_IO, NULL,
                                              "qemu-nbd refused the export (error %#x): %.*s", type,
                                              (int) len, (const char *) data);
                if (type == NBD_REP_INFO) {
                        if (nbd_handle_info(nbd, data, len, &have_export, err) < 0)
                                return -1;
                } else if (type == NBD_REP_ACK) {
                        if (!have_export)
                                return kiln_error_set(err, KILN_E_IO, NULL,
                                                      "qemu-nbd did not give the export size");
                        return 0;
                }
        }
        return kiln_error_set(err, KILN_E_IO, NULL, "qemu-nbd sent too many option replies");
}

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

/* ---- the API ---- */

static int fd_steal(int *fd)
{
        int v = *fd;

        *fd = -1;
        return v;
}

/* A listening socket only we can reach, with our connection already queued on it: bound in a
 * fresh 0700 directory that is removed again before the server starts. */
static int nbd_socket(disk_nbd *nbd, int *ret_listen_fd, kiln_error **err)
{
        const char *tmp = getenv("TMPDIR");
        kiln_autofree char *dir =
                kiln_xasprintf("%s/kiln-nbd-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
        kiln_autoclose int listen_fd = -1;
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
        nbd->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_fd < 0 || nbd->sock < 0 ||
            bind(listen_fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 ||
            listen(listen_fd, 1) < 0 ||
            connect(nbd->sock, (struct sockaddr *) &addr, sizeof(addr)) < 0)
                e = errno;
        unlink(addr.sun_path);
        rmdir(dir);
        if (e)
                return kiln_error_set_errno(err, e, KILN_E_IO,
                                            "cannot set up a socket for qemu-nbd");
        *ret_listen_fd = fd_above_floor(fd_steal(&listen_fd));
        if (*ret_listen_fd < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO,
                                            "cannot prepare the descriptors of qemu-nbd");
        return 0;
}

static int nbd_start(disk_nbd *nbd, const char *path, const char *format, kiln_error **err)
{
        kiln_autofree char *prog = kiln_find_program("qemu-nbd");
        kiln_autoptr(kiln_error) herr = NULL;
        kiln_autoclose int listen_fd = -1;
        const struct timeval tmo = {.tv_sec = NBD_TIMEOUT_S};
        kiln_autofree char *msg = NULL;

        if (!prog)
                return kiln_error_set(err, KILN_E_UNSUPPORTED, NULL,
                                      "qemu-nbd is not installed (Debian package qemu-utils)");
        if (access(path, R_OK) < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot read the disk '%s'",
                                            path);
        if (nbd_socket(nbd, &listen_fd, err) < 0)
                return -1;
        if (setsockopt(nbd->sock, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo)) < 0 ||
            setsockopt(nbd->sock, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo)) < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO,
                                            "cannot set a timeout on qemu-nbd's socket");
        if (nbd_spawn_server(nbd, prog, path, format, listen_fd, err) < 0)
                return -1;
        close(fd_steal(&listen_fd));

        if (nbd_handshake(nbd, &herr) == 0) {
                nbd->ready = true;
                return 0;
        }
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

static disk_nbd *nbd_new(void)
{
        disk_nbd *nbd = kiln_xcalloc(1, sizeof(*nbd));

        nbd->sock = -1;
        nbd->pid = -1;
        nbd->err_fd = -1;
        nbd->min_block = 1;
        nbd->max_request = NBD_CHUNK;
        return nbd;
}

disk_nbd *disk_nbd_open(const char *path, const char *format, kiln_error **err)
{
        kiln_autoptr(disk_nbd) nbd = nbd_new();

        if (nbd_start(nbd, path, format, err) < 0)
                return NULL;
        return kiln_steal(&nbd);
}

disk_nbd *disk_nbd_open_socket(int sock, kiln_error **err)
{
        kiln_autoptr(disk_nbd) nbd = nbd_new();

        nbd->sock = sock;
        if (nbd_handshake(nbd, err) < 0)
                return NULL;
        nbd->ready = true;
        return kiln_steal(&nbd);
}

disk_nbd *disk_nbd_close(disk_nbd *nbd)
{
        if (!nbd)
                return NULL;
        if (nbd->sock >= 0) {
                if (nbd->ready && !nbd->broken) {
                        uint8_t req[28] = {0};

                        put_be32(req, NBD_REQUEST_MAGIC);
                        put_be16(req + 6, NBD_CMD_DISC);
                        put_be64(req + 8, ++nbd->cookie);
                        (void) send(nbd->sock, req, sizeof(req), MSG_NOSIGNAL);
                }
                close(nbd->sock);
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

/* One request of at most max_request bytes, aligned as the server asked. */
static int nbd_read_one(disk_nbd *nbd, uint64_t offset, uint8_t *buf, uint32_t len,
                        kiln_error **err)
{
        uint8_t req[28] = {0}, rep[16];
        uint64_t cookie = ++nbd->cookie;
        uint32_t error;

        put_be32(req, NBD_REQUEST_MAGIC);
        put_be16(req + 6, NBD_CMD_READ);
        put_be64(req + 8, cookie);
        put_be64(req + 16, offset);
        put_be32(req + 24, len);
        if (nbd_send(nbd, req, sizeof(req), err) < 0 || nbd_recv(nbd, rep, sizeof(rep), err) < 0)
                return -1;
        if (get_be32(rep) != NBD_SIMPLE_REPLY || get_be64(rep + 8) != cookie) {
                nbd->broken = true;
                return kiln_error_set(err, KILN_E_IO, NULL, "qemu-nbd sent a malformed reply");
        }
        error = get_be32(rep + 4);
        if (error)
                return kiln_error_set(err, KILN_E_IO, NULL,
                                      "qemu-nbd cannot read %u bytes at offset %llu (NBD error "
                                      "%u)",
                                      len, (unsigned long long) offset, error);
        return nbd_recv(nbd, buf, len, err);
}

int disk_nbd_read(disk_nbd *nbd, uint64_t offset, void *buf, size_t len, kiln_error **err)
{
        uint8_t *out = buf;
        const uint64_t mask = nbd->min_block - 1;

        if (nbd->broken)
                return kiln_error_set(err, KILN_E_IO, NULL, "the connection to qemu-nbd failed");
        if (offset > nbd->size || len > nbd->size - offset)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "read of %zu bytes at %llu is beyond the disk's end", len,
                                      (unsigned long long) offset);
        while (len) {
                uint64_t start = offset & ~mask;
                uint64_t skip = offset - start;
                uint64_t want = skip + len;
                uint32_t n;

                if (want > nbd->max_request)
                        want = nbd->max_request;
                want = (want + mask) & ~mask;
                if (want > nbd->size - start)
                        want = nbd->size - start;
                n = (uint32_t) want;
                if (skip == 0 && n <= len) {
                        if (nbd_read_one(nbd, start, out, n, err) < 0)
                                return -1;
                } else {
                        kiln_autofree uint8_t *bounce = kiln_xmalloc(n);
                        size_t take = n - skip < len ? n - skip : len;

                        if (nbd_read_one(nbd, start, bounce, n, err) < 0)
                                return -1;
                        memcpy(out, bounce + skip, take);
                        n = (uint32_t) (skip + take);
                }
                out += n - skip;
                len -= n - skip;
                offset += n - skip;
        }
        return 0;
}
