/* Generalization: what create-image does to a guest before its disk becomes an image. As root
 * through sudo, cloud-init/generalize.sh removes the launch key pair's and kiln's access key
 * from every authorized_keys, the SSH host keys, the machine-id, cloud-init's instance state
 * and logs, the launch's journal and login records, DHCP leases and shell histories, and then
 * checks that none of them is left: an image that still holds one is not registered. */
#include <string.h>

#include "core/data.h"
#include "guest/guest-private.h"
#include "instance/instance-private.h"
#include "ssh/ssh.h"
#include "util/util.h"

#define GENERALIZE_TIMEOUT_S 300

/* The base64 blob of a public key line ("TYPE BLOB [COMMENT]"), or NULL. */
static char *key_blob(const char *line)
{
        const char *p = line ? strchr(line, ' ') : NULL;
        size_t n;

        if (!p)
                return NULL;
        p++;
        n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=");
        return n > 16 ? kiln_xstrndup(p, n) : NULL;
}

static char *file_blob(const char *path)
{
        kiln_autofree char *text = NULL;
        size_t len = 0;

        if (kiln_file_read(path, (size_t) 64 * 1024, &text, &len, NULL) < 0)
                return NULL;
        return key_blob(text);
}

static void collect(const char *data, size_t len, void *userdata)
{
        kiln_buf *b = userdata;

        kiln_buf_append_tail(b, data, len, 8192);
}

/* Newlines to "; ", trailing ones dropped, in place. */
static const char *one_line(char *s)
{
        size_t n = strlen(s);

        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
                s[--n] = '\0';
        for (char *p = s; *p; p++)
                if (*p == '\n')
                        *p = ';';
        return s;
}

/* Generalizes the running guest and checks it, as root through sudo, with
 * cloud-init/generalize.sh. A check that finds something left is KILN_E_STATE listing it. */
int guest_generalize(kiln_ctx *ctx, kiln_instance *inst, kiln_log_fn notify, void *userdata,
                     bool *ret_ran, kiln_error **err)
{
        kiln_autofree char *script_path = data_file("cloud-init/generalize.sh");
        kiln_autofree char *script = NULL, *report = NULL, *cmd = NULL;
        kiln_buf out = {0};
        kiln_autofree char *kiln_pub = instance_file(ctx, inst->instance_id, "kiln_ed25519.pub");
        kiln_autofree char *launch_pub = instance_file(ctx, inst->instance_id, "launch_key.pub");
        kiln_autofree char *blob1 = file_blob(kiln_pub), *blob2 = file_blob(launch_pub);
        kiln_autoptr(kiln_ssh) s = NULL;
        size_t len = 0;
        int status = -1;

        if (kiln_platform_is_windows(inst->platform))
                return kiln_error_set(err, KILN_E_UNSUPPORTED, "UnsupportedOperation",
                                      "kiln cannot generalize a Windows instance (sysprep): "
                                      "add --no-generalize");
        if (kiln_file_read(script_path, (size_t) 256 * 1024, &script, &len, err) < 0)
                return -1;
        if (!blob1)
                return kiln_error_set(err, KILN_E_NOT_FOUND, NULL,
                                      "cannot read kiln's access key of %s from '%s'",
                                      inst->instance_id, kiln_pub);
        kiln_notify(notify, userdata, KILN_LOG_INFO,
                    "generalizing %s: launch keys, host keys, machine-id, "
                    "cloud-init state, logs, shell histories",
                    inst->instance_id);
        if (kiln_instance_wait(ctx, inst->instance_id, KILN_WAIT_READY, 0, err) < 0)
                return -1;
        instance_find_address(ctx, inst);
        if (instance_ssh_connect(ctx, inst, kiln_now_ms() + 60000, &s, err) < 0)
                return -1;
        /* The blobs are base64: safe inside single quotes. */
        cmd = kiln_xasprintf("sudo -n sh -s generalize '%s'%s%s%s", blob1, blob2 ? " '" : "",
                             blob2 ? blob2 : "", blob2 ? "'" : "");
        *ret_ran = true;
        if (ssh_exec(s, cmd, script, len, kiln_now_ms() + GENERALIZE_TIMEOUT_S * 1000ULL, collect,
                     collect, &out, &status, err) < 0) {
                kiln_buf_clear(&out);
                return -1;
        }
        kiln_buf_tail(&out, 8192);
        report = kiln_buf_steal(&out);
        if (status == 0)
                return 0;
        if (status == 3)
                return kiln_error_set(err, KILN_E_STATE, "GeneralizationFailed",
                                      "%s still holds what an image must not: %s; no image was "
                                      "registered",
                                      inst->instance_id, one_line(report));
        return kiln_error_set(err, KILN_E_STATE, "GeneralizationFailed",
                              "generalizing %s failed with exit status %d%s%s", inst->instance_id,
                              status, report && *report ? ": " : "",
                              report ? one_line(report) : "");
}
