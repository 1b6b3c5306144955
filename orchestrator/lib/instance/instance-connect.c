/* How to reach an instance: connection info with a ready ssh command (an xfreerdp command and
 * an .rdp file for Windows), and the system ssh's argv for `kiln ssh`. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libvirt/libvirt.h>

#include "instance/instance-private.h"
#include "keypair/keypair-private.h"
#include "net/rdp.h"
#include "util/util.h"

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
        kiln_autofree char *jump = instance_proxy_jump(ctx, inst);
        char **argv = kiln_xcalloc(16, sizeof(char *));
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
        /* The forward listens on the instance's host's 127.0.0.1: through its jump host. The
         * user's own ssh set-up reaches the jump host (its key and known host), as for any
         * ProxyJump. */
        if (jump) {
                argv[n++] = kiln_xstrdup("-J");
                argv[n++] = kiln_steal(&jump);
        }
        argv[n++] = kiln_xstrdup("-p");
        argv[n++] = kiln_xasprintf("%d", inst->port);
        argv[n++] = kiln_xasprintf("%s@%s", instance_user(inst), inst->host);
        argv[n] = NULL;
        *ret_n = n;
        return argv;
}

/* Windows: FreeRDP's command line (it asks for the password: get-password-data gives it),
 * and the .rdp file, written again when the address changed. */
static void rdp_connection(kiln_ctx *ctx, const kiln_instance *inst, kiln_connection *c)
{
        kiln_autofree char *text = rdp_file_render(inst->host, inst->port, instance_user(inst));
        kiln_autofree char *old = NULL;
        kiln_autofree char *v = kiln_xasprintf("/v:%s:%d", inst->host, inst->port);
        kiln_autofree char *u = kiln_xasprintf("/u:%s", instance_user(inst));
        kiln_autofree char *v_word = kiln_shell_word(v), *u_word = kiln_shell_word(u);

        c->command = kiln_xasprintf("xfreerdp %s %s /cert:tofu", v_word, u_word);
        c->rdp_file = instance_file(ctx, inst->instance_id, "connect.rdp");
        if (kiln_file_read(c->rdp_file, 4096, &old, NULL, NULL) == 0 && strcmp(old, text) == 0)
                return;
        if (kiln_file_write_private(c->rdp_file, text, NULL) < 0) {
                free(c->rdp_file);
                c->rdp_file = NULL;
        }
}

int kiln_instance_connection(kiln_ctx *ctx, const kiln_instance *inst, const char *identity,
                             kiln_connection *ret, kiln_error **err)
{
        kiln_connection c = {0};
        bool windows = kiln_platform_is_windows(inst->platform);

        (void) err;
        c.protocol = kiln_xstrdup(windows ? "rdp" : "ssh");
        c.host = kiln_xstrdup(inst->host);
        c.port = inst->port;
        c.user = kiln_xstrdup(instance_user(inst));
        c.proxy_jump = instance_proxy_jump(ctx, inst);
        if (windows && inst->host)
                rdp_connection(ctx, inst, &c);
        if (!windows && inst->host_key && inst->host) {
                c.known_hosts_line = instance_known_hosts_line(inst);
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
        if (kiln_platform_is_windows(inst.platform) || strcmp(inst.state, "running") != 0) {
                int rc = kiln_error_set(err, KILN_E_STATE, "IncorrectInstanceState",
                                        "The instance '%s' is %s%s", instance_id,
                                        kiln_platform_is_windows(inst.platform) ? "a Windows "
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

kiln_connection *kiln_instance_connections(kiln_ctx *ctx, const kiln_instance *list, size_t n)
{
        kiln_connection *c = kiln_xcalloc(n + 1, sizeof(*c));

        for (size_t i = 0; i < n; i++)
                if (strcmp(list[i].state, "terminated") != 0)
                        kiln_instance_connection(ctx, &list[i], NULL, &c[i], NULL);
        return c;
}

void kiln_connections_free(kiln_connection *c, size_t n)
{
        for (size_t i = 0; c && i < n; i++)
                kiln_connection_clear(&c[i]);
        free(c);
}
