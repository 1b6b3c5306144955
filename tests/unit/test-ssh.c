/* SSH (ssh/ssh.h). Without a server: fingerprints against `ssh-keygen -l` of keys generated
 * here, checks of the target, a private key path that does not exist, a refused port (fails at
 * once), a listener that never speaks (KILN_E_TIMEOUT at the deadline), a peer that is not an
 * SSH server.
 *
 * With KILN_TEST_SSHD=PORT and KILN_TEST_SSHD_DIR=DIR it also runs against that OpenSSH server
 * on 127.0.0.1 (tests/e2e/test-ssh.sh starts a throw-away one and sets both). DIR holds
 * host_ed25519.pub (the server's only host key), user_ed25519 and user_rsa (private keys in
 * its AuthorizedKeysFile for the current user), sshd.log (its log at LogLevel VERBOSE, which
 * shows every authentication request) and, optionally, rsa_port (a second port where the server
 * accepts ssh-rsa signatures). Covered there: stdout, stderr and exit status, 1 MiB on both
 * streams at once, input larger than the SSH window echoed back, input the command does not
 * read, commands killed by signals, deadlines (the session stays usable after one, and can be
 * freed with an abandoned command running), uploads with modes, a host key mismatch (no
 * authentication attempted: the log says so), a pinned key of another type, wrong keys and
 * users, RSA user keys (refused by OpenSSH's defaults: libssh2 1.10 signs only with ssh-rsa). */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssh/ssh.h"
#include "tap.h"
#include "util/util.h"

#include <kiln/kiln.h>

#define KiB ((size_t) 1024)
#define MiB ((size_t) 1024 * 1024)

/* A key and its fingerprint as ssh-keygen 9.2 printed them. */
#define FIXED_KEY                                                                                  \
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBSk0P6R5xDSl5AwYXL/yFM8VE1I5biW/ojQ9T8nvHVv kiln "   \
        "fixed vector"
#define FIXED_FP "SHA256:R0EThaXD4Up3WImJB80daV++qb1W6hUQGigHZdvN9lQ"
#define FIXED_KEY_BLOB                                                                             \
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBSk0P6R5xDSl5AwYXL/yFM8VE1I5biW/ojQ9T8nvHVv"

typedef struct t_env {
        char *tmp;       /* scratch directory */
        bool keygen;     /* ssh-keygen is installed */
        int port;        /* KILN_TEST_SSHD, or 0 */
        int rsa_port;    /* where the server accepts ssh-rsa signatures, or 0 */
        const char *dir; /* KILN_TEST_SSHD_DIR */
        char *user;      /* the current user */
        char *host_key;  /* the server's public key line */
        char *other_key; /* another ed25519 public key line (generated here) */
        char *other_rsa; /* an RSA public key line (generated here) */
        char *wrong_key; /* a private key the server does not know (generated here) */
} t_env;

/* ---- helpers ---- */

static char *slurp(const char *path)
{
        kiln_autoptr(kiln_error) err = NULL;
        char *s = NULL;

        if (kiln_file_read(path, 16 * MiB, &s, NULL, &err) < 0) {
                printf("# %s\n", err->msg);
                return NULL;
        }
        return s;
}

static void chomp(char *s)
{
        size_t n = s ? strlen(s) : 0;

        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
                s[--n] = '\0';
}

/* Generates a key pair PATH and PATH.pub; returns the public key line. */
static char *keygen(t_env *t, const char *name, const char *type)
{
        kiln_autofree char *path = kiln_xasprintf("%s/%s", t->tmp, name);
        kiln_autofree char *pub = kiln_xasprintf("%s.pub", path);
        kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("ssh-keygen", "-q", "-t", type, "-N", "", "-C",
                                                  "kiln test key", "-f", path, NULL);
        kiln_autoptr(kiln_error) err = NULL;
        char *line = NULL;

        if (strcmp(type, "rsa") == 0) {
                kiln_cmd_add_arg(cmd, "-b");
                kiln_cmd_add_arg(cmd, "2048");
        }
        if (kiln_cmd_run(cmd, NULL, &err) < 0) {
                printf("# %s\n", err->msg);
                return NULL;
        }
        line = slurp(pub);
        chomp(line);
        return line;
}

/* The SHA256:... field of `ssh-keygen -lf PATH`. */
static char *keygen_fingerprint(const char *path)
{
        kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("ssh-keygen", "-lf", path, NULL);
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autofree char *out = NULL;
        const char *p = NULL;

        if (kiln_cmd_run(cmd, &out, &err) < 0) {
                printf("# %s\n", err->msg);
                return NULL;
        }
        p = strchr(out, ' ');
        if (!p)
                return NULL;
        p++;
        return kiln_xstrndup(p, strcspn(p, " \n"));
}

static char *shell_quote(const char *s)
{
        kiln_buf b = {0};

        kiln_buf_append(&b, "'", 1);
        for (; *s; s++)
                if (*s == '\'')
                        kiln_buf_append(&b, "'\\''", 4);
                else
                        kiln_buf_append(&b, s, 1);
        kiln_buf_append(&b, "'", 1);
        return kiln_buf_steal(&b);
}

/* A listening TCP socket on 127.0.0.1 and a free port; closed if listen_too is false. */
static int tcp_listener(bool listen_too, int *ret_port)
{
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0 || bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            getsockname(fd, (struct sockaddr *) &sa, &len) < 0 ||
            (listen_too && listen(fd, 8) < 0)) {
                printf("Bail out! cannot make a socket: %s\n", strerror(errno));
                exit(1);
        }
        *ret_port = ntohs(sa.sin_port);
        if (!listen_too) {
                close(fd);
                return -1;
        }
        return fd;
}

static ssh_target target(const t_env *t, int port, const char *key_path, const char *host_key)
{
        return (ssh_target){.host = "127.0.0.1",
                            .port = port,
                            .user = t->user,
                            .private_key_path = key_path,
                            .pinned_host_key = host_key};
}

/* ---- without a server ---- */

static void t_fingerprint(t_env *t)
{
        static const char *const bad[] = {
                "",
                "ssh-ed25519",
                "ssh-ed25519 ",
                "ssh-ed25519 !!!!",
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBSk0P6R5xDSl5AwYXL/yFM8VE1I5biW/ojQ9T8nvHV",
                "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIBSk0P6R5xDSl5AwYXL/yFM8VE1I5biW/ojQ9T8nvHVv",
        };
        const char *types[] = {"ed25519", "rsa", "ecdsa"};

        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *fp = ssh_fingerprint_sha256(FIXED_KEY, &err);
                kiln_autofree char *fp2 = ssh_fingerprint_sha256(
                        "  ssh-ed25519\tAAAAC3NzaC1lZDI1NTE5AAAAIBSk0P6R5xDSl5AwYXL/yFM8VE1I5biW/"
                        "ojQ9T8nvHVv\n",
                        &err);

                is_str(fp, FIXED_FP, "fingerprint of a fixed key, as ssh-keygen -l printed it");
                is_str(fp2, FIXED_FP, "blanks, tabs, no comment and a newline are accepted");
        }
        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *fp = ssh_fingerprint_sha256(bad[i], &err);

                ok(!fp && err && err->code == KILN_E_INVALID, "'%s' is not a public key", bad[i]);
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(!ssh_fingerprint_sha256(NULL, &err) && err && err->code == KILN_E_INVALID,
                   "NULL is not a public key");
        }
        {
                kiln_autofree char *padded = kiln_xasprintf("%s==", FIXED_KEY_BLOB);
                kiln_autoptr(kiln_error) err = NULL;

                ok(!ssh_fingerprint_sha256(padded, &err) && err && err->code == KILN_E_INVALID,
                   "padding where none belongs is refused");
        }
        if (!t->keygen) {
                ok(1, "# SKIP ssh-keygen is not installed");
                return;
        }
        for (size_t i = 0; i < KILN_ARRAY_SIZE(types); i++) {
                kiln_autofree char *name = kiln_xasprintf("fp_%s", types[i]);
                kiln_autofree char *line = keygen(t, name, types[i]);
                kiln_autofree char *pub = kiln_xasprintf("%s/%s.pub", t->tmp, name);
                kiln_autofree char *want = keygen_fingerprint(pub);
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *got = line ? ssh_fingerprint_sha256(line, &err) : NULL;

                ok(want != NULL, "ssh-keygen -lf reads a new %s key", types[i]);
                is_str(got, want, "the %s fingerprint is ssh-keygen's", types[i]);
        }
}

static void t_target_checks(t_env *t)
{
        kiln_autofree char *missing = kiln_xasprintf("%s/no-such-key", t->tmp);
        int port = 0;

        tcp_listener(false, &port);
        {
                ssh_target tg = target(t, port, missing, NULL);
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;

                is_int(ssh_connect(&tg, kiln_now_ms() + 5000, &s, &err), -1, "no pinned host key");
                ok(err && err->code == KILN_E_INVALID, "is invalid");
                like(err ? err->msg : NULL, "first use", "kiln never trusts on first use");
        }
        {
                ssh_target tg = target(t, 0, missing, FIXED_KEY);
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;

                is_int(ssh_connect(&tg, kiln_now_ms() + 5000, &s, &err), -1, "port 0");
                ok(err && err->code == KILN_E_INVALID, "is invalid");
        }
        {
                ssh_target tg = target(t, port, missing, "ssh-ed25519 AAAA%%%");
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;

                is_int(ssh_connect(&tg, kiln_now_ms() + 5000, &s, &err), -1,
                       "a garbled pinned key");
                ok(err && err->code == KILN_E_INVALID, "is invalid");
                like(err ? err->msg : NULL, "pinned host key", "and named as such");
        }
        {
                ssh_target tg = target(t, port, missing, "ssh-dss AAAAB3NzaC1kc3MAAAAAAAAAAA==");
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;

                is_int(ssh_connect(&tg, kiln_now_ms() + 5000, &s, &err), -1, "a DSA pinned key");
                ok(err && err->code == KILN_E_INVALID, "is refused as unsupported");
                like(err ? err->msg : NULL, "'ssh-dss'", "naming its type");
        }
        {
                ssh_target tg = target(t, port, missing, FIXED_KEY);
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;

                is_int(ssh_connect(&tg, kiln_now_ms() + 5000, &s, &err), -1,
                       "a private key path that does not exist");
                ok(err && err->code == KILN_E_NOT_FOUND,
                   "fails as not found, before the (closed) port is tried");
                like(err ? err->msg : NULL, missing, "naming the path");
                ok(s == NULL, "and returns no session");
        }
        {
                ssh_target tg = target(t, port, t->tmp, FIXED_KEY);
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;

                is_int(ssh_connect(&tg, kiln_now_ms() + 5000, &s, &err), -1,
                       "a directory as private key");
                ok(err && err->code == KILN_E_IO, "is an I/O error");
        }
        ok(ssh_free(NULL) == NULL, "ssh_free(NULL) is NULL");
}

static void t_refused(t_env *t)
{
        kiln_autofree char *key = kiln_xasprintf("%s/id_ed25519", t->tmp);
        ssh_target tg = {0};
        kiln_autoptr(kiln_ssh) s = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        uint64_t start = 0, took = 0;
        int port = 0;

        if (!t->keygen) {
                ok(1, "# SKIP ssh-keygen is not installed");
                return;
        }
        tcp_listener(false, &port);
        tg = target(t, port, key, FIXED_KEY);
        start = kiln_now_ms();
        is_int(ssh_connect(&tg, start + 10000, &s, &err), -1, "a closed port is refused");
        took = kiln_now_ms() - start;
        ok(err && err->code == KILN_E_SSH, "as an SSH error");
        like(err ? err->msg : NULL, "refused", "that says so");
        ok(took < 1000, "at once, not at the deadline (%llu ms)", (unsigned long long) took);
}

static void t_silent(t_env *t)
{
        kiln_autofree char *key = kiln_xasprintf("%s/id_ed25519", t->tmp);
        kiln_autoclose int fd = -1;
        ssh_target tg = {0};
        int port = 0;

        if (!t->keygen) {
                ok(1, "# SKIP ssh-keygen is not installed");
                return;
        }
        fd = tcp_listener(true, &port);
        ok(fd >= 0, "a listener on 127.0.0.1:%d that never speaks", port);
        tg = target(t, port, key, FIXED_KEY);
        {
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;
                uint64_t start = kiln_now_ms(), took = 0;

                is_int(ssh_connect(&tg, start + 800, &s, &err), -1, "a listener that never speaks");
                took = kiln_now_ms() - start;
                ok(err && err->code == KILN_E_TIMEOUT, "times out");
                like(err ? err->msg : NULL, "handshake", "in the handshake");
                ok(took >= 790 && took < 1500, "at the deadline (%llu ms for 800)",
                   (unsigned long long) took);
                ok(s == NULL, "and returns no session");
        }
        {
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;
                uint64_t start = kiln_now_ms();

                is_int(ssh_connect(&tg, start - 1, &s, &err), -1, "a deadline already past");
                ok(err && err->code == KILN_E_TIMEOUT, "times out");
                ok(kiln_now_ms() - start < 200, "at once");
        }
}

/* Accepts one connection, answers like a web server and hangs up. */
static void *not_ssh_server(void *arg)
{
        int fd = *(int *) arg;
        int c = accept(fd, NULL, NULL);
        static const char reply[] = "HTTP/1.0 400 Bad Request\r\n\r\n";

        if (c >= 0) {
                if (write(c, reply, sizeof(reply) - 1) < 0)
                        perror("write");
                close(c);
        }
        return NULL;
}

static void t_not_ssh(t_env *t)
{
        kiln_autofree char *key = kiln_xasprintf("%s/id_ed25519", t->tmp);
        kiln_autoclose int fd = -1;
        ssh_target tg = {0};
        kiln_autoptr(kiln_ssh) s = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        pthread_t th;
        uint64_t start = 0;
        int port = 0;

        if (!t->keygen) {
                ok(1, "# SKIP ssh-keygen is not installed");
                return;
        }
        fd = tcp_listener(true, &port);
        if (pthread_create(&th, NULL, not_ssh_server, &fd) != 0) {
                ok(0, "cannot start a thread");
                return;
        }
        tg = target(t, port, key, FIXED_KEY);
        start = kiln_now_ms();
        is_int(ssh_connect(&tg, start + 5000, &s, &err), -1, "a peer that is not an SSH server");
        ok(err && err->code == KILN_E_SSH, "is an SSH error");
        like(err ? err->msg : NULL, "handshake", "in the handshake");
        printf("# %s\n", err ? err->msg : "");
        ok(kiln_now_ms() - start < 2000, "without waiting for the deadline");
        pthread_join(th, NULL);
}

/* ---- against a real sshd ---- */

typedef struct t_out {
        kiln_buf out;
        kiln_buf err;
        int out_chunks;
} t_out;

static void t_on_out(const char *data, size_t len, void *userdata)
{
        t_out *o = userdata;

        kiln_buf_append(&o->out, data, len);
        o->out_chunks++;
}

static void t_on_err(const char *data, size_t len, void *userdata)
{
        kiln_buf_append(&((t_out *) userdata)->err, data, len);
}

static void t_out_clear(t_out *o)
{
        kiln_buf_clear(&o->out);
        kiln_buf_clear(&o->err);
}

/* Runs a command and returns its stdout (NULL on failure). */
static char *t_run(kiln_ssh *s, const char *command, int *ret_status)
{
        kiln_autoptr(kiln_error) err = NULL;
        char *out = NULL;
        int status = -1;

        if (ssh_exec_capture(s, command, kiln_now_ms() + 20000, &out, NULL, &status, &err) < 0) {
                printf("# '%s': %s\n", command, err->msg);
                return NULL;
        }
        if (ret_status)
                *ret_status = status;
        return out;
}

static bool all_bytes(const char *s, size_t len, const char *pattern, size_t plen)
{
        for (size_t i = 0; i < len; i++)
                if (s[i] != pattern[i % plen])
                        return false;
        return true;
}

static void t_exec(t_env *t, kiln_ssh *s)
{
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *out = NULL, *errs = NULL;
                int status = -1;

                is_int(ssh_exec_capture(s, "sh -c 'echo out; echo err >&2; exit 3'",
                                        kiln_now_ms() + 20000, &out, &errs, &status, &err),
                       0, "a command runs");
                is_str(out, "out\n", "its stdout");
                is_str(errs, "err\n", "its stderr");
                is_int(status, 3, "its exit status");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *out = NULL, *errs = NULL;
                int status = -1;

                /* A guest may print without end: what is captured is its last 64 KiB. */
                is_int(ssh_exec_capture(s,
                                        "yes o | head -c 4194304; echo end; "
                                        "yes e | head -c 1048576 >&2",
                                        kiln_now_ms() + 60000, &out, &errs, &status, &err),
                       0, "4 MiB of output are captured");
                is_int(strlen(out), SSH_CAPTURE_MAX, "as the last %zu bytes of stdout",
                       SSH_CAPTURE_MAX);
                ok(strlen(out) >= 4 && strcmp(out + strlen(out) - 4, "end\n") == 0 &&
                           all_bytes(out, SSH_CAPTURE_MAX - 4, "o\n", 2),
                   "its end, intact");
                is_int(strlen(errs), SSH_CAPTURE_MAX, "and of stderr");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                int status = -1;

                is_int(ssh_exec(s, "echo discarded; echo also >&2", NULL, 0, kiln_now_ms() + 20000,
                                NULL, NULL, NULL, &status, &err),
                       0, "outputs can be discarded");
                is_int(status, 0, "status 0");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                t_out o = {{0}, {0}, 0};
                int status = -1;

                is_int(ssh_exec(s,
                                "yes o | head -c 1048576 & yes e | head -c 1048576 >&2; wait; "
                                "echo end",
                                NULL, 0, kiln_now_ms() + 60000, t_on_out, t_on_err, &o, &status,
                                &err),
                       0, "1 MiB on stdout and 1 MiB on stderr at once");
                is_int(o.out.len, MiB + 4, "stdout is complete");
                ok(o.out.len == MiB + 4 && all_bytes(o.out.data, MiB, "o\n", 2) &&
                           memcmp(o.out.data + MiB, "end\n", 4) == 0,
                   "and intact");
                is_int(o.err.len, MiB, "stderr is complete");
                ok(o.err.len == MiB && all_bytes(o.err.data, MiB, "e\n", 2), "and intact");
                ok(o.out_chunks > 1, "stdout arrived in %d chunks as it came", o.out_chunks);
                is_int(status, 0, "status 0");
                t_out_clear(&o);
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *want_out = NULL, *want_err = NULL;
                kiln_buf wo = {0}, we = {0};
                t_out o = {{0}, {0}, 0};
                uint64_t start = kiln_now_ms();
                int status = -1;

                for (int i = 1; i <= 60; i++) {
                        kiln_buf_appendf(&wo, "o%d\n", i);
                        kiln_buf_appendf(&we, "e%d\n", i);
                }
                want_out = kiln_buf_steal(&wo);
                want_err = kiln_buf_steal(&we);
                is_int(ssh_exec(s,
                                "i=1; while [ $i -le 60 ]; do echo o$i; echo e$i >&2; "
                                "sleep 0.01; i=$((i + 1)); done",
                                NULL, 0, start + 30000, t_on_out, t_on_err, &o, &status, &err),
                       0, "stdout and stderr interleaved in 120 small writes");
                kiln_buf_append(&o.out, "", 0);
                kiln_buf_append(&o.err, "", 0);
                is_str(o.out.data, want_out, "every stdout line");
                is_str(o.err.data, want_err, "every stderr line");
                ok(kiln_now_ms() - start < 10000, "in about the time the command takes (%llu ms)",
                   (unsigned long long) (kiln_now_ms() - start));
                t_out_clear(&o);
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *in = kiln_xmalloc(3 * MiB);
                t_out o = {{0}, {0}, 0};
                uint32_t x = 12345;
                int status = -1;

                for (size_t i = 0; i < 3 * MiB; i++) {
                        x = x * 1103515245 + 12345;
                        in[i] = (char) (x >> 16);
                }
                is_int(ssh_exec(s, "cat", in, 3 * MiB, kiln_now_ms() + 60000, t_on_out, t_on_err,
                                &o, &status, &err),
                       0, "3 MiB of input (more than the SSH window) through cat");
                ok(o.out.len == 3 * MiB && memcmp(o.out.data, in, 3 * MiB) == 0,
                   "comes back intact (%zu bytes)", o.out.len);
                is_int(status, 0, "status 0");
                t_out_clear(&o);
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *out = NULL;
                t_out o = {{0}, {0}, 0};
                int status = -1;

                is_int(ssh_exec(s, "wc -c", "hello", 5, kiln_now_ms() + 20000, t_on_out, NULL, &o,
                                &status, &err),
                       0, "a short input");
                out = kiln_buf_steal(&o.out);
                chomp(out);
                is_str(out, "5", "is read with its end");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *in = kiln_xcalloc(1, 8 * MiB);
                uint64_t start = kiln_now_ms();
                int status = -1;

                is_int(ssh_exec(s, "exit 7", in, 8 * MiB, start + 30000, NULL, NULL, NULL, &status,
                                &err),
                       0, "8 MiB of input a command does not read");
                is_int(status, 7, "do not keep it from ending");
                ok(kiln_now_ms() - start < 10000, "nor wait for the deadline");
        }
        {
                int st_kill = -1, st_term = -1;

                free(t_run(s, "kill -KILL $$", &st_kill));
                free(t_run(s, "kill -TERM $$", &st_term));
                is_int(st_kill, 128 + 9, "a command killed by SIGKILL: 128 + 9");
                is_int(st_term, 128 + 15, "by SIGTERM: 128 + 15");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                int status = -1;

                is_int(ssh_exec(s, "", NULL, 0, kiln_now_ms() + 1000, NULL, NULL, NULL, &status,
                                &err),
                       -1, "an empty command");
                ok(err && err->code == KILN_E_INVALID, "is invalid");
        }
        (void) t;
}

/* Runs `sleep 30` (its PID into PIDFILE) with a deadline of 1 s. */
static void t_abandon_sleep(kiln_ssh *s, const char *pidfile, const char *what)
{
        kiln_autofree char *q = shell_quote(pidfile);
        kiln_autofree char *cmd = kiln_xasprintf("echo $$ > %s; exec sleep 30", q);
        kiln_autoptr(kiln_error) err = NULL;
        uint64_t start = kiln_now_ms(), took = 0;
        int status = -1;

        is_int(ssh_exec(s, cmd, NULL, 0, start + 1000, NULL, NULL, NULL, &status, &err), -1,
               "%s: sleep 30 with a deadline of 1 s", what);
        took = kiln_now_ms() - start;
        ok(err && err->code == KILN_E_TIMEOUT, "times out");
        like(err ? err->msg : NULL,
             "timed out running a command on 127.0.0.1:", "naming the server");
        ok(took >= 990 && took < 2500, "at the deadline (%llu ms)", (unsigned long long) took);
        is_int(status, -1, "and leaves the status alone");
}

/* Kills the abandoned sleep whose PID is in PIDFILE; says whether it was still running. */
static void t_kill_sleep(kiln_ssh *s, const char *pidfile)
{
        kiln_autofree char *q = shell_quote(pidfile);
        kiln_autofree char *cmd = kiln_xasprintf(
                "p=$(cat %s) && if kill -0 $p 2>/dev/null; then kill $p; echo running; "
                "else echo gone; fi",
                q);
        kiln_autofree char *out = t_run(s, cmd, NULL);

        chomp(out);
        ok(out != NULL,
           "the abandoned sleep is killed by its PID (it was %s: sshd does not "
           "signal a command without a terminal when its channel closes)",
           out ? out : "?");
}

static void t_deadlines(t_env *t, kiln_ssh *s, const ssh_target *tg)
{
        kiln_autofree char *pid1 = kiln_xasprintf("%s/sleep1.pid", t->tmp);
        kiln_autofree char *pid2 = kiln_xasprintf("%s/sleep2.pid", t->tmp);

        t_abandon_sleep(s, pid1, "main session");
        {
                int status = -1;
                kiln_autofree char *out = t_run(s, "echo again", &status);

                is_str(out, "again\n", "the session is still usable after the timeout");
        }
        t_kill_sleep(s, pid1);
        {
                int status = -1;
                kiln_autofree char *out = NULL;

                usleep(200000);
                out = t_run(s, "echo reaped", &status);
                is_str(out, "reaped\n", "and after its abandoned channel is reaped");
        }
        {
                kiln_autoptr(kiln_ssh) s2 = NULL;
                kiln_autoptr(kiln_error) err = NULL;

                is_int(ssh_connect(tg, kiln_now_ms() + 10000, &s2, &err), 0, "a second session");
                if (s2)
                        t_abandon_sleep(s2, pid2, "second session");
                s2 = ssh_free(s2);
                ok(1, "is freed with an abandoned command still running");
                t_kill_sleep(s, pid2);
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autoptr(kiln_error) err2 = NULL;
                uint64_t start = kiln_now_ms();
                int status = -1;
                kiln_autofree char *out = NULL;

                is_int(ssh_exec(s, "yes", NULL, 0, start + 1000, NULL, NULL, NULL, &status, &err),
                       -1, "a command that streams without end");
                ok(err && err->code == KILN_E_TIMEOUT, "times out");
                ok(kiln_now_ms() - start < 2500, "at the deadline");
                if (ssh_exec_capture(s, "echo after", kiln_now_ms() + 20000, &out, NULL, &status,
                                     &err2) == 0)
                        is_str(out, "after\n", "the session is still usable");
                else
                        ok(err2->code == KILN_E_SSH && strstr(err2->msg, "unusable"),
                           "the session failed cleanly: %s", err2->msg);
        }
}

static void t_upload(t_env *t, kiln_ssh *s)
{
        kiln_autofree char *dir = kiln_xasprintf("%s/up dir", t->tmp);
        kiln_autofree char *path = kiln_xasprintf("%s/it's a \"file\"", dir);
        kiln_autofree char *qdir = shell_quote(dir);
        kiln_autofree char *qpath = shell_quote(path);
        kiln_autofree char *data = kiln_xmalloc(300 * KiB);
        kiln_autofree char *stat_cmd = kiln_xasprintf("stat -c %%a %s", qpath);
        kiln_autofree char *cat_cmd = kiln_xasprintf("cat %s", qpath);
        /* A run keeps only the tail of a long output, so the whole upload is compared there. */
        kiln_autofree char *cmp_cmd = kiln_xasprintf(
                "yes '#!/bin/sh' | head -c %d | cmp - %s && wc -c <%s", 300 * 1024, qpath, qpath);
        kiln_autofree char *ls_cmd = kiln_xasprintf("ls -A %s", qdir);

        if (mkdir(dir, 0700) < 0) {
                ok(0, "cannot make %s: %s", dir, strerror(errno));
                return;
        }
        for (size_t i = 0; i < 300 * KiB; i++)
                data[i] = (char) ("#!/bin/sh\n"[i % 10]);
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *mode = NULL, *content = NULL;

                is_int(ssh_upload(s, path, data, 300 * KiB, 0755, kiln_now_ms() + 30000, &err), 0,
                       "upload of 300 KiB with mode 0755");
                mode = t_run(s, stat_cmd, NULL);
                chomp(mode);
                is_str(mode, "755", "has mode 0755");
                content = t_run(s, cmp_cmd, NULL);
                chomp(content);
                is_str(content, "307200", "and every byte");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *mode = NULL, *content = NULL, *list = NULL;

                is_int(ssh_upload(s, path, "secret\n", 7, 0600, kiln_now_ms() + 30000, &err), 0,
                       "an upload over it with mode 0600");
                mode = t_run(s, stat_cmd, NULL);
                chomp(mode);
                is_str(mode, "600", "changes the mode");
                content = t_run(s, cat_cmd, NULL);
                is_str(content, "secret\n", "and replaces the content");
                list = t_run(s, ls_cmd, NULL);
                is_str(list, "it's a \"file\"\n", "and leaves no temporary file");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *size = NULL;
                kiln_autofree char *cmd = kiln_xasprintf("stat -c %%s %s", qpath);

                is_int(ssh_upload(s, path, NULL, 0, 0644, kiln_now_ms() + 30000, &err), 0,
                       "an empty upload");
                size = t_run(s, cmd, NULL);
                is_str(size, "0\n", "empties the file");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *missing = kiln_xasprintf("%s/no/such/dir/f", t->tmp);

                is_int(ssh_upload(s, missing, "x", 1, 0644, kiln_now_ms() + 30000, &err), -1,
                       "an upload into a missing directory");
                ok(err && err->code == KILN_E_SSH, "fails");
                like(err ? err->msg : NULL, missing, "naming the path");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *list = NULL;

                is_int(ssh_upload(s, dir, "x", 1, 0644, kiln_now_ms() + 30000, &err), -1,
                       "an upload onto a directory");
                like(err ? err->msg : NULL, "is a directory", "fails and says why");
                list = t_run(s, ls_cmd, NULL);
                is_str(list, "it's a \"file\"\n", "and leaves nothing in it");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                is_int(ssh_upload(s, path, "x", 1, 010000, kiln_now_ms() + 30000, &err), -1,
                       "mode 010000");
                ok(err && err->code == KILN_E_INVALID, "is invalid");
        }
}

static size_t file_size(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0 ? (size_t) st.st_size : 0;
}

/* True if sshd's log (LogLevel VERBOSE) shows an authentication request. */
static bool auth_logged(const char *log)
{
        return log && (strstr(log, "publickey") || strstr(log, "userauth") ||
                       strstr(log, "authenticating user") || strstr(log, "Invalid user"));
}

/* What sshd logged after offset `from`, once it has logged the end of the connection (at most
 * 5 s). */
static char *log_since(const char *log, size_t from)
{
        for (int i = 0; i < 100; i++) {
                kiln_autofree char *all = slurp(log);
                const char *tail = all && strlen(all) >= from ? all + from : "";

                if (strstr(tail, "isconnect") || strstr(tail, "Connection closed") ||
                    strstr(tail, "Unable to negotiate") || i == 99)
                        return kiln_xstrdup(tail);
                usleep(50000);
        }
        return NULL;
}

static void t_keys(t_env *t)
{
        kiln_autofree char *log = kiln_xasprintf("%s/sshd.log", t->dir);
        kiln_autofree char *user_key = kiln_xasprintf("%s/user_ed25519", t->dir);
        kiln_autofree char *rsa_key = kiln_xasprintf("%s/user_rsa", t->dir);
        kiln_autofree char *want = ssh_fingerprint_sha256(t->other_key, NULL);
        kiln_autofree char *got = ssh_fingerprint_sha256(t->host_key, NULL);
        kiln_autofree char *where = kiln_xasprintf("127.0.0.1:%d", t->port);

        {
                ssh_target tg = target(t, t->port, t->wrong_key, t->other_key);
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *logged = NULL;
                kiln_autofree char *msg = kiln_xasprintf(
                        "host key mismatch for %s: expected %s got %s", where, want, got);
                size_t from = file_size(log);

                is_int(ssh_connect(&tg, kiln_now_ms() + 10000, &s, &err), -1,
                       "another pinned host key (and a wrong user key)");
                ok(err && err->code == KILN_E_SSH, "is an SSH error");
                is_str(err ? err->msg : NULL, msg, "a host key mismatch naming both fingerprints");
                is_int(kiln_error_reason_of(err), KILN_R_HOST_KEY_MISMATCH,
                       "with its reason, which callers test");
                logged = log_since(log, from);
                ok(logged && strstr(logged, "Connection from 127.0.0.1"),
                   "sshd saw the connection");
                ok(logged && !auth_logged(logged), "but no authentication request");
                if (auth_logged(logged))
                        printf("# %s\n", logged);
        }
        {
                ssh_target tg = target(t, t->port, user_key, t->other_rsa);
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *logged = NULL;
                size_t from = file_size(log);

                is_int(ssh_connect(&tg, kiln_now_ms() + 10000, &s, &err), -1,
                       "a pinned RSA key where the server has only ed25519");
                ok(err && err->code == KILN_E_SSH, "is an SSH error");
                like(err ? err->msg : NULL, "ssh-rsa host key", "that says which key is missing");
                logged = log_since(log, from);
                ok(logged && !auth_logged(logged), "and no authentication was attempted");
        }
        {
                ssh_target tg = target(t, t->port, t->wrong_key, t->host_key);
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *logged = NULL;
                size_t from = file_size(log);

                is_int(ssh_connect(&tg, kiln_now_ms() + 10000, &s, &err), -1,
                       "a user key the server does not know");
                ok(err && err->code == KILN_E_SSH, "is an SSH error");
                like(err ? err->msg : NULL, "authentication as", "an authentication failure");
                like(err ? err->msg : NULL, t->wrong_key, "naming the key file");
                logged = log_since(log, from);
                ok(auth_logged(logged),
                   "sshd logged that request (so the log checks above mean something)");
        }
        {
                ssh_target tg = target(t, t->port, user_key, t->host_key);
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;

                tg.user = "kiln-no-such-user";
                is_int(ssh_connect(&tg, kiln_now_ms() + 10000, &s, &err), -1, "an unknown user");
                ok(err && err->code == KILN_E_SSH, "is an SSH error");
                like(err ? err->msg : NULL, "'kiln-no-such-user'", "naming the user");
        }
        {
                kiln_autofree char *garbage = kiln_xasprintf("%s/garbage-key", t->tmp);
                FILE *f = fopen(garbage, "we");
                ssh_target tg = target(t, t->port, garbage, t->host_key);
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;

                if (f) {
                        fputs("this is not a key\n", f);
                        fclose(f);
                }
                is_int(ssh_connect(&tg, kiln_now_ms() + 10000, &s, &err), -1,
                       "a private key file that holds no key");
                ok(err && err->code == KILN_E_INVALID, "is invalid");
                like(err ? err->msg : NULL, garbage, "naming the file");
        }
        {
                ssh_target tg = target(t, t->port, rsa_key, t->host_key);
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;

                is_int(ssh_connect(&tg, kiln_now_ms() + 10000, &s, &err), -1,
                       "an RSA user key, where OpenSSH refuses ssh-rsa signatures (its default)");
                ok(err && err->code == KILN_E_SSH, "is an SSH error");
                like(err ? err->msg : NULL, "an ed25519 key works",
                     "that says why: libssh2 1.10 has no rsa-sha2 user authentication");
        }
        if (t->rsa_port) {
                ssh_target tg = target(t, t->rsa_port, rsa_key, t->host_key);
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *out = NULL;

                is_int(ssh_connect(&tg, kiln_now_ms() + 10000, &s, &err), 0,
                       "an RSA user key where PubkeyAcceptedAlgorithms allows ssh-rsa");
                if (err)
                        printf("# %s\n", err->msg);
                out = s ? t_run(s, "echo rsa", NULL) : NULL;
                is_str(out, "rsa\n", "authenticates and runs commands");
        }
}

static void count_bytes(const char *data, size_t len, void *userdata)
{
        (void) data;
        *(size_t *) userdata += len;
}

/* Through a jump host (the same sshd): a direct-tcpip channel from it to the target carries
 * the session. */
static void t_jump(t_env *t, const char *user_key)
{
        ssh_target jump = target(t, t->port, user_key, t->host_key);
        ssh_target tg = target(t, t->port, user_key, t->host_key);
        kiln_autofree char *out = NULL;
        kiln_autofree char *big = kiln_xcalloc(1, 3u << 20);
        size_t got = 0;
        int status = -1;

        tg.jump = &jump;
        {
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;

                is_int(ssh_connect(&tg, kiln_now_ms() + 10000, &s, &err), 0,
                       "through a jump host: connects");
                if (!s) {
                        printf("# %s\n", err->msg);
                        return;
                }
                like(ssh_where(s), " through 127.0.0.1:", "  and names both in its messages");
                is_int(ssh_exec_capture(s, "echo through", kiln_now_ms() + 20000, &out, NULL,
                                        &status, &err),
                       0, "  runs a command");
                is_str(out, "through\n", "  with its output");
                /* 3 MiB each way: the pump keeps both directions moving. */
                is_int(ssh_exec(s, "cat", big, 3u << 20, kiln_now_ms() + 60000, count_bytes, NULL,
                                &got, &status, &err),
                       0, "  3 MiB in and out again");
                ok(got == (3u << 20) && status == 0, "  every byte came back (%zu)", got);
        }
        {
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;
                ssh_target wrong = jump;

                wrong.pinned_host_key = t->other_key;
                tg.jump = &wrong;
                is_int(ssh_connect(&tg, kiln_now_ms() + 10000, &s, &err), -1,
                       "a jump host whose key is not the pinned one is refused");
                like(err ? err->msg : NULL, "the jump host: host key mismatch", "  saying so");
        }
        {
                kiln_autoptr(kiln_ssh) s = NULL;
                kiln_autoptr(kiln_error) err = NULL;
                int closed = 0;

                (void) tcp_listener(false, &closed);
                tg.jump = &jump;
                tg.port = closed;
                is_int(ssh_connect(&tg, kiln_now_ms() + 10000, &s, &err), -1,
                       "a target port nothing listens on, through the jump");
                like(err ? err->msg : NULL,
                     "cannot connect to 127.0.0.1:", "  the jump host cannot connect to it");
        }
}

static void t_real(t_env *t)
{
        kiln_autofree char *host_pub = kiln_xasprintf("%s/host_ed25519.pub", t->dir);
        kiln_autofree char *user_key = kiln_xasprintf("%s/user_ed25519", t->dir);
        kiln_autoptr(kiln_ssh) s = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        ssh_target tg = {0};

        t->host_key = slurp(host_pub);
        chomp(t->host_key);
        {
                kiln_autofree char *path = kiln_xasprintf("%s/rsa_port", t->dir);
                kiln_autofree char *rsa_port = access(path, R_OK) == 0 ? slurp(path) : NULL;

                t->rsa_port = rsa_port ? (int) strtol(rsa_port, NULL, 10) : 0;
        }
        t->other_key = keygen(t, "other_ed25519", "ed25519");
        t->other_rsa = keygen(t, "other_rsa", "rsa");
        t->wrong_key = kiln_xasprintf("%s/other_ed25519", t->tmp);
        if (!t->host_key || !t->other_key || !t->other_rsa) {
                ok(0, "cannot read or make the keys");
                return;
        }
        printf("# sshd on 127.0.0.1:%d, user '%s'\n", t->port, t->user);
        tg = target(t, t->port, user_key, t->host_key);
        is_int(ssh_connect(&tg, kiln_now_ms() + 10000, &s, &err), 0,
               "connects with the pinned host key");
        if (!s) {
                printf("# %s\n", err->msg);
                return;
        }
        t_exec(t, s);
        t_deadlines(t, s, &tg);
        t_upload(t, s);
        t_keys(t);
        t_jump(t, user_key);
}

int main(void)
{
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autofree char *keygen_path = kiln_find_program("ssh-keygen");
        kiln_autofree char *tmpl = NULL;
        const char *port = getenv("KILN_TEST_SSHD");
        const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        struct passwd *pw = getpwuid(getuid());
        t_env t = {0};

        if (kiln_global_init(&err) < 0) {
                printf("Bail out! %s\n", err->msg);
                return 1;
        }
        tmpl = kiln_xasprintf("%s/kiln-test-ssh.XXXXXX", base);
        if (!mkdtemp(tmpl)) {
                printf("Bail out! cannot make a directory from '%s': %s\n", tmpl, strerror(errno));
                return 1;
        }
        t.tmp = kiln_steal(&tmpl);
        t.keygen = keygen_path != NULL;
        t.user = kiln_xstrdup(pw ? pw->pw_name : "root");
        if (t.keygen) {
                kiln_autofree char *line = keygen(&t, "id_ed25519", "ed25519");

                if (!line) {
                        printf("Bail out! ssh-keygen cannot make a key\n");
                        return 1;
                }
        }

        t_fingerprint(&t);
        t_target_checks(&t);
        t_refused(&t);
        t_silent(&t);
        t_not_ssh(&t);
        if (port && *port && getenv("KILN_TEST_SSHD_DIR")) {
                t.port = (int) strtol(port, NULL, 10);
                t.dir = getenv("KILN_TEST_SSHD_DIR");
                if (!t.keygen)
                        ok(0, "ssh-keygen is needed with KILN_TEST_SSHD");
                else
                        t_real(&t);
        } else {
                printf("# no KILN_TEST_SSHD: the real-server checks run in "
                       "tests/e2e/test-ssh.sh\n");
        }

        {
                kiln_autoptr(kiln_cmd) rm =
                        kiln_cmd_new("rm", "-rf", "--one-file-system", "--", t.tmp, NULL);
                kiln_autoptr(kiln_error) rm_err = NULL;

                if (kiln_cmd_run(rm, NULL, &rm_err) < 0)
                        printf("# %s\n", rm_err->msg);
        }
        free(t.tmp);
        free(t.user);
        free(t.host_key);
        free(t.other_key);
        free(t.other_rsa);
        free(t.wrong_key);
        kiln_global_cleanup();
        return done();
}
