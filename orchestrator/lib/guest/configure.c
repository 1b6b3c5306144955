/* configure: steps over one SSH session. Commands and scripts run as the image's login user
 * (who has sudo, as on EC2); files and MOTD scripts are written as root with sudo. */
#include <errno.h>
#include <string.h>

#include <kiln/configure.h>

#include "instance/instance-private.h"
#include "ssh/ssh.h"
#include "util/util.h"

#define CONFIGURE_STEP_TIMEOUT_S 3600
#define CONFIGURE_MAX_FILE       ((size_t) 64 << 20)
#define STDERR_TAIL              ((size_t) 2000)

char *kiln_motd_script(const char *message)
{
        kiln_buf b = {0};
        kiln_autofree char *delim = NULL;

        /* A here-document delimiter that no line of the message can equal. */
        for (int i = 0;; i++) {
                kiln_autofree char *id = kiln_id_new("KILN_MOTD");

                delim = kiln_xasprintf("%s", id);
                for (char *p = delim; *p; p++)
                        if (*p == '-')
                                *p = '_';
                if (!strstr(message, delim) || i > 8)
                        break;
                free(delim);
                delim = NULL;
        }
        kiln_buf_appendf(&b,
                         "#!/bin/sh\n"
                         "# MOTD written by kiln configure --motd-message; the text is quoted,\n"
                         "# never interpreted.\n"
                         "motd() {\n"
                         "cat <<'%s'\n"
                         "%s\n"
                         "%s\n"
                         "}\n"
                         "if [ -x /usr/games/cowsay ]; then\n"
                         "        motd | /usr/games/cowsay -n\n"
                         "elif command -v cowsay >/dev/null 2>&1; then\n"
                         "        motd | cowsay -n\n"
                         "else\n"
                         "        motd\n"
                         "fi\n",
                         delim, message, delim);
        return kiln_buf_steal(&b);
}

typedef struct out_ctx {
        kiln_output_fn fn;
        void *userdata;
        kiln_buf err_tail;
} out_ctx;

static void on_stdout(const char *data, size_t len, void *userdata)
{
        out_ctx *o = userdata;

        if (o->fn)
                o->fn(1, data, len, o->userdata);
}

static void on_stderr(const char *data, size_t len, void *userdata)
{
        out_ctx *o = userdata;

        if (o->fn)
                o->fn(2, data, len, o->userdata);
        kiln_buf_append(&o->err_tail, data, len);
        if (o->err_tail.len > 4 * STDERR_TAIL) {
                memmove(o->err_tail.data, o->err_tail.data + o->err_tail.len - STDERR_TAIL,
                        STDERR_TAIL);
                o->err_tail.len = STDERR_TAIL;
                o->err_tail.data[o->err_tail.len] = '\0';
        }
}

/* Runs one remote command; a non-zero exit is a failed step. */
static int step_exec(kiln_ssh *s, const char *what, const char *command, const void *in,
                     size_t in_len, out_ctx *o, int *ret_status, kiln_error **err)
{
        int status = -1;
        const char *tail;

        kiln_buf_clear(&o->err_tail);
        if (ssh_exec(s, command, in, in_len, kiln_now_ms() + CONFIGURE_STEP_TIMEOUT_S * 1000ULL,
                     on_stdout, on_stderr, o, &status, err) < 0) {
                kiln_error_prefix(err, "%s", what);
                return -1;
        }
        if (status == 0)
                return 0;
        *ret_status = status;
        tail = o->err_tail.data ? o->err_tail.data : "";
        if (strlen(tail) > STDERR_TAIL)
                tail += strlen(tail) - STDERR_TAIL;
        return kiln_error_set(err, KILN_E_STATE, NULL, "%s failed with exit status %d%s%s", what,
                              status, *tail ? ": " : "", tail);
}

/* Writes data to dest as root with the mode, through a private temporary file. */
static int put_file(kiln_ssh *s, const char *what, const void *data, size_t len, const char *dest,
                    int mode, out_ctx *o, int *ret_status, kiln_error **err)
{
        kiln_autofree char *qdest = kiln_shell_quote(dest);
        kiln_autofree char *cmd =
                kiln_xasprintf("set -e; t=$(mktemp); trap 'rm -f \"$t\"' EXIT; cat > \"$t\"; "
                               "sudo -n install -D -m %04o \"$t\" %s",
                               mode, qdest);

        return step_exec(s, what, cmd, data, len, o, ret_status, err);
}

static int read_local(const char *path, char **ret, size_t *ret_len, kiln_error **err)
{
        if (kiln_file_read(path, CONFIGURE_MAX_FILE, ret, ret_len, err) < 0) {
                kiln_error_prefix(err, "cannot read '%s'", path);
                return -1;
        }
        return 0;
}

static int connect_ready(kiln_ctx *ctx, kiln_instance *inst, kiln_ssh **ret, kiln_error **err)
{
        if (kiln_instance_wait(ctx, inst->instance_id, KILN_WAIT_READY, 0, err) < 0)
                return -1;
        /* On a libvirt network the address is known once the wait has seen the lease. */
        instance_find_address(ctx, inst);
        return instance_ssh_connect(ctx, inst, kiln_now_ms() + 60000, ret, err);
}

static const char *base_name(const char *path)
{
        const char *slash = strrchr(path, '/');

        return slash ? slash + 1 : path;
}

/* SRC:DEST[:MODE] */
static int parse_upload(const char *arg, char **src, char **dest, int *mode, kiln_error **err)
{
        const char *c1 = strchr(arg, ':');
        const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

        *mode = 0644;
        if (!c1 || c1 == arg || c1[1] != '/')
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "--upload '%s': expected SRC:/ABSOLUTE/DEST[:MODE]", arg);
        if (c2) {
                char *end;
                long m = strtol(c2 + 1, &end, 8);

                if (*end || c2[1] == '\0' || m < 0 || m > 07777)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "--upload '%s': the mode must be octal, like 0644",
                                              arg);
                *mode = (int) m;
        }
        *src = kiln_xstrndup(arg, (size_t) (c1 - arg));
        *dest = c2 ? kiln_xstrndup(c1 + 1, (size_t) (c2 - c1 - 1)) : kiln_xstrdup(c1 + 1);
        return 0;
}

bool kiln_motd_script_name_valid(const char *path)
{
        const char *base = strrchr(path, '/');

        base = base ? base + 1 : path;
        return *base && strspn(base, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789_-") == strlen(base);
}

/* Checks every step's local input before anything runs on the instance. */
static int check_steps(const kiln_configure_step *steps, size_t n, kiln_error **err)
{
        for (size_t i = 0; i < n; i++) {
                const kiln_configure_step *st = &steps[i];

                if (st->kind == KILN_STEP_REBOOT)
                        continue;
                if (!st->arg || !*st->arg)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "step %zu needs a value", i + 1);
                if (st->kind == KILN_STEP_MOTD_SCRIPT && !kiln_motd_script_name_valid(st->arg))
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "--motd-script '%s': run-parts would skip it in "
                                              "/etc/update-motd.d/: the file name may hold only "
                                              "letters, digits, '_' and '-'",
                                              st->arg);
                if (st->kind == KILN_STEP_SCRIPT || st->kind == KILN_STEP_MOTD_SCRIPT) {
                        if (access(st->arg, R_OK) < 0)
                                return kiln_error_set_errno(err, errno, KILN_E_INVALID,
                                                            "cannot read '%s'", st->arg);
                } else if (st->kind == KILN_STEP_UPLOAD) {
                        kiln_autofree char *src = NULL, *dest = NULL;
                        int mode;

                        if (parse_upload(st->arg, &src, &dest, &mode, err) < 0 || !src)
                                return -1;
                        if (access(src, R_OK) < 0)
                                return kiln_error_set_errno(err, errno, KILN_E_INVALID,
                                                            "cannot read '%s'", src);
                }
        }
        return 0;
}

static int run_step(kiln_ctx *ctx, kiln_instance *inst, kiln_ssh **s, const kiln_configure_step *st,
                    out_ctx *o, int *status, kiln_error **err)
{
        kiln_autofree char *data = NULL, *what = NULL, *src = NULL, *dest = NULL;
        size_t len = 0;
        int mode = 0;

        switch (st->kind) {
        case KILN_STEP_RUN: {
                kiln_autofree char *quoted = kiln_shell_quote(st->arg);
                kiln_autofree char *cmd = kiln_xasprintf("sh -c %s", quoted);

                return step_exec(*s, "--run", cmd, NULL, 0, o, status, err);
        }
        case KILN_STEP_SCRIPT: {
                what = kiln_xasprintf("--script '%s'", st->arg);
                if (read_local(st->arg, &data, &len, err) < 0)
                        return -1;
                /* Kept executable in a private temp dir so that its #! line chooses the
                 * interpreter. */
                return step_exec(*s, what,
                                 "set -e; d=$(mktemp -d); trap 'rm -rf \"$d\"' EXIT; "
                                 "cat > \"$d/script\"; chmod 0700 \"$d/script\"; set +e; "
                                 "\"$d/script\"",
                                 data, len, o, status, err);
        }
        case KILN_STEP_UPLOAD:
                if (parse_upload(st->arg, &src, &dest, &mode, err) < 0 ||
                    read_local(src, &data, &len, err) < 0)
                        return -1;
                what = kiln_xasprintf("--upload '%s'", st->arg);
                return put_file(*s, what, data, len, dest, mode, o, status, err);
        case KILN_STEP_MOTD_SCRIPT:
                if (read_local(st->arg, &data, &len, err) < 0)
                        return -1;
                dest = kiln_xasprintf("/etc/update-motd.d/%s", base_name(st->arg));
                what = kiln_xasprintf("--motd-script '%s'", st->arg);
                return put_file(*s, what, data, len, dest, 0755, o, status, err);
        case KILN_STEP_MOTD_MESSAGE:
                data = kiln_motd_script(st->arg);
                return put_file(*s, "--motd-message", data, strlen(data),
                                "/etc/update-motd.d/40-kiln-motd", 0755, o, status, err);
        case KILN_STEP_REBOOT: {
                int ignored = 0;

                /* The connection drops with the reboot; its end is not an error. */
                ssh_exec(*s, "sudo -n systemctl reboot || sudo -n reboot", NULL, 0,
                         kiln_now_ms() + 15000, NULL, NULL, NULL, &ignored, NULL);
                *s = ssh_free(*s);
                /* Wait until the old boot is gone: cloud-init's boot record changes. */
                sleep(5);
                return connect_ready(ctx, inst, s, err);
        }
        }
        return kiln_error_set(err, KILN_E_INTERNAL, NULL, "unknown step %d", (int) st->kind);
}

int kiln_instance_configure(kiln_ctx *ctx, const char *instance_id,
                            const kiln_configure_step *steps, size_t n, kiln_output_fn output,
                            void *userdata, int *ret_exit_status, kiln_error **err)
{
        kiln_instance inst = {0};
        kiln_autoptr(kiln_ssh) s = NULL;
        out_ctx o = {output, userdata, {0}};
        int status = 0, rc = 0;

        *ret_exit_status = 0;
        if (check_steps(steps, n, err) < 0 ||
            instance_load(ctx, ctx->reg, instance_id, &inst, err) < 0)
                return -1;
        if (kiln_platform_is_windows(inst.platform) ||
            (strcmp(inst.state, "running") != 0 && strcmp(inst.state, "pending") != 0)) {
                rc = kiln_error_set(err, KILN_E_STATE, "IncorrectInstanceState",
                                    "The instance '%s' is %s; configure needs a running Linux "
                                    "instance",
                                    instance_id, inst.state);
                kiln_instance_clear(&inst);
                return rc;
        }
        rc = connect_ready(ctx, &inst, &s, err);
        for (size_t i = 0; rc == 0 && i < n; i++) {
                rc = run_step(ctx, &inst, &s, &steps[i], &o, &status, err);
                if (rc < 0)
                        kiln_error_prefix(err, "step %zu of %zu", i + 1, n);
        }
        *ret_exit_status = status;
        kiln_buf_clear(&o.err_tail);
        kiln_instance_clear(&inst);
        return rc;
}
