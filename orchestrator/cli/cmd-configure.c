/* `kiln configure`: the steps in the order given on the command line; output streams as it
 * comes; a failing step's exit status becomes kiln's. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void on_output(int stream, const char *data, size_t len, void *userdata)
{
        FILE *f = stream == 2 ? stderr : stdout;

        (void) userdata;
        fwrite(data, 1, len, f);
        fflush(f);
}

static int cmd_configure(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        static const struct {
                const char *opt;
                kiln_step_kind kind;
        } map[] = {{"run", KILN_STEP_RUN},
                   {"script", KILN_STEP_SCRIPT},
                   {"upload", KILN_STEP_UPLOAD},
                   {"motd-script", KILN_STEP_MOTD_SCRIPT},
                   {"motd-message", KILN_STEP_MOTD_MESSAGE},
                   {"reboot", KILN_STEP_REBOOT}};
        const char *id = cli_arg_get(args, "instance-id");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_configure_step *steps;
        size_t n = 0;
        int status = 0, rc = 0;

        (void) verb;
        if (!id)
                return cli_usage_error("configure needs --instance-id");
        steps = calloc(args->n_values + 1, sizeof(*steps));
        if (!steps)
                abort();
        for (size_t i = 0; i < args->n_values; i++)
                for (size_t k = 0; k < KILN_ARRAY_SIZE(map); k++)
                        if (strcmp(args->values[i].opt->name, map[k].opt) == 0) {
                                steps[n].kind = map[k].kind;
                                steps[n].arg = args->values[i].value;
                                n++;
                        }
        if (n == 0) {
                free(steps);
                return cli_usage_error("configure needs at least one of --run, --script, "
                                       "--upload, --motd-script, --motd-message, --reboot");
        }
        ctx = cli_ctx_open(g, &rc);
        if (ctx)
                rc = kiln_instance_configure(ctx, id, steps, n, on_output, NULL, &status, &err);
        free(steps);
        if (!ctx)
                return rc;
        if (rc < 0) {
                rc = cli_fail(err);
                /* A step that failed in the guest: its exit status is kiln's. */
                return status > 0 && status < 256 ? status : rc;
        }
        return CLI_EXIT_OK;
}

static const cli_opt configure_opts[] = {
        {"instance-id", CLI_ARG_ONE, "ID", "the instance"},
        {"run", CLI_ARG_ONE, "COMMAND", "run a shell command as the login user"},
        {"script", CLI_ARG_ONE, "FILE", "copy a script over and run it as the login user"},
        {"upload", CLI_ARG_ONE, "SRC:DEST[:MODE]", "write a local file as root (mode 0644)"},
        {"motd-script", CLI_ARG_ONE, "FILE", "install a script in /etc/update-motd.d/"},
        {"motd-message", CLI_ARG_ONE, "TEXT", "a login message (cowsay where the image has it)"},
        {"reboot", CLI_ARG_NONE, NULL, "reboot and wait until ready again"},
        CLI_END_OPTS,
};

const cli_verb cli_configure_verbs[] = {
        {"configure", "configure", "configure a running instance over SSH, step by step",
         "--instance-id ID [--run CMD] [--script F] [--upload S:D[:M]] [--motd-script F] "
         "[--motd-message T] [--reboot]",
         configure_opts, 0, cmd_configure,
         "kiln configure --instance-id i-... --run 'sudo apt-get install -y nginx' "
         "--motd-message 'Welcome to the web tier'"},
};
const size_t cli_n_configure_verbs = KILN_ARRAY_SIZE(cli_configure_verbs);
