/* The ssh command kiln prints for an instance (kiln_instance_connection), in a home whose path
 * holds a space, a '%' and a quote: pasted into a shell, it must reach the system's ssh with
 * exactly kiln's known_hosts file and the key file. `ssh -G` prints the configuration ssh
 * would use without connecting anywhere. No daemon, no guest. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/kiln.h>

#include "tap.h"
#include "util/util.h"

#define ID "i-0123456789abcdef0"

/* What `ssh -G` says for the printed command, run through sh as a user would paste it. */
static char *ssh_config_of(const char *command)
{
        kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("sh", "-c",
                                                  "eval \"set -- $1\"; shift; "
                                                  "exec ssh -G \"$@\"",
                                                  "sh", command, NULL);
        kiln_autoptr(kiln_error) e = NULL;
        char *out = NULL;

        if (kiln_cmd_run(cmd, &out, &e) < 0)
                printf("# ssh -G failed: %s\n", e->msg);
        return out;
}

static void check_home(const char *top, const char *name, const char *key_name)
{
        kiln_autofree char *home = kiln_xasprintf("%s/%s", top, name);
        kiln_autofree char *key = kiln_xasprintf("%s/%s", top, key_name);
        kiln_autofree char *known = kiln_xasprintf("%s/instances/" ID "/known_hosts", home);
        kiln_autofree char *want_known = kiln_xasprintf("\nuserknownhostsfile %s\n", known);
        /* ssh -G shows key file names before expansion, which makes "%%" one '%'. */
        kiln_autofree char *key_v = kiln_ssh_config_value(key);
        kiln_autofree char *want_key = kiln_xasprintf("\nidentityfile %s\n", key_v);
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        kiln_ctx_options o = {home, NULL, NULL};
        kiln_instance inst = {0};
        kiln_connection c = {0};
        kiln_autofree char *conf = NULL;

        if (!ok(kiln_ctx_new(&o, &ctx, &e) == 0, "[%s] a home at '%s'", name, home)) {
                printf("# %s\n", e ? e->msg : "");
                return;
        }
        inst.instance_id = (char *) ID;
        inst.platform = (char *) "linux";
        inst.default_user = (char *) "admin";
        inst.host = (char *) "127.0.0.1";
        inst.port = 40022;
        inst.host_key = (char *) "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKu1NXNJuHOBopfxviNP8otJH1M"
                                 "ybEnXk3xkhsvsj1TM " ID;
        if (!ok(kiln_instance_connection(ctx, &inst, key, &c, &e) == 0 && c.command,
                "[%s] connection info", name))
                return;
        printf("# %s\n", c.command);
        conf = ssh_config_of(c.command);
        like(conf, want_known, "[%s] ssh reads kiln's known_hosts file, whole", name);
        like(conf, "\nstricthostkeychecking true\n", "[%s] with strict checking", name);
        if (strchr(key, '%'))
                like(conf, want_key, "[%s] and the key file, as an option value", name);
        like(conf, "\nport 40022\n", "[%s] the forwarded port", name);
        like(conf, "\nuser admin\n", "[%s] the login user", name);
        kiln_connection_clear(&c);
}

int main(void)
{
        char tmpl[] = "/tmp/kiln-test-conn.XXXXXX";

        if (!mkdtemp(tmpl)) {
                ok(0, "a temporary directory");
                return done();
        }
        check_home(tmpl, "plain", "key.pem");
        check_home(tmpl, "with space", "my key.pem");
        check_home(tmpl, "100% mine", "key%d.pem");
        check_home(tmpl, "it's $(here) `x`", "k'ey.pem");
        {
                kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("rm", "-rf", tmpl, NULL);

                kiln_cmd_run(cmd, NULL, NULL);
        }
        return done();
}
