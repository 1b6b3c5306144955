/* kiln's entry point: the command table, global options (parsed once, here, wherever they
 * stand on the line), and dispatch. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

const cli_opt cli_global_opts[] = {
        {"region", CLI_ARG_ONE, "NAME", "region to work in (default: the configured one)"},
        {"account", CLI_ARG_ONE, "ID", "12-digit account to act as (or KILN_ACCOUNT)"},
        {"home", CLI_ARG_ONE, "DIR", "kiln home holding the registry and pools (or KILN_HOME)"},
        {"output", CLI_ARG_ONE, "json|table|text", "result format (default json)"},
        {"quiet", CLI_ARG_NONE, NULL, "print results only, no progress or notices"},
        {"verbose", CLI_ARG_NONE, NULL, "log what kiln does to stderr (or KILN_DEBUG=1)"},
        {"no-progress", CLI_ARG_NONE, NULL, "no progress bars or progress lines"},
        {"help", CLI_ARG_NONE, NULL, "show help for the verb"},
        {"dry-run", CLI_ARG_NONE, NULL,
         "check the request and change nothing: DryRunOperation (exit 7) if it would succeed"},
        {NULL, CLI_ARG_NONE, NULL, NULL},
};

/* The verbs --dry-run applies to, as the aws CLI's: those that change something (the library
 * makes their checks and stops before the change) and those that describe (answered at once).
 * The others (ssh, configure, build, serve, fsck...) refuse it rather than act. */
static const char *const dry_run_changes[] = {"run-instances",
                                              "start-instances",
                                              "stop-instances",
                                              "reboot-instances",
                                              "terminate-instances",
                                              "create-image",
                                              "register-image",
                                              "copy-image",
                                              "deregister-image",
                                              "modify-image-attribute",
                                              "reset-image-attribute",
                                              "create-snapshot",
                                              "delete-snapshot",
                                              "modify-snapshot-attribute",
                                              "reset-snapshot-attribute",
                                              "create-volume",
                                              "delete-volume",
                                              "attach-volume",
                                              "detach-volume",
                                              "create-key-pair",
                                              "import-key-pair",
                                              "delete-key-pair",
                                              "create-tags",
                                              "delete-tags",
                                              "modify-instance-attribute",
                                              "create-security-group",
                                              "authorize-security-group-ingress",
                                              "revoke-security-group-ingress",
                                              "delete-security-group",
                                              NULL};
static const char *const dry_run_describes[] = {"describe-images",
                                                "describe-snapshots",
                                                "describe-volumes",
                                                "describe-key-pairs",
                                                "describe-tags",
                                                "describe-instances",
                                                "describe-regions",
                                                "describe-availability-zones",
                                                "describe-image-attribute",
                                                "describe-snapshot-attribute",
                                                "describe-instance-attribute",
                                                "describe-instance-types",
                                                "describe-vpcs",
                                                "describe-subnets",
                                                "describe-security-groups",
                                                "describe-instance-status",
                                                NULL};

static bool listed(const char *const *list, const char *name)
{
        for (; *list; list++)
                if (strcmp(*list, name) == 0)
                        return true;
        return false;
}

static const cli_opt help_opts[] = {
        {"man", CLI_ARG_NONE, NULL, "print the manual page, kiln(1), in roff"},
        {"completion", CLI_ARG_ONE, "bash", "print the completion script for the shell"},
        CLI_END_OPTS,
};

const cli_verb cli_general_verbs[] = {
        {"help", "general",
         "show the verbs or one verb's options; print kiln(1) or the bash completion",
         "[VERB | --man | --completion bash]", help_opts, 1, cmd_help, "kiln help describe-images"},
};
const size_t cli_n_general_verbs = KILN_ARRAY_SIZE(cli_general_verbs);

/* Groups in the order help lists them. */
const cli_group cli_groups[] = {
        {"general", cli_general_verbs, &cli_n_general_verbs},
        {"images", cli_image_verbs, &cli_n_image_verbs},
        {"snapshots", cli_snapshot_verbs, &cli_n_snapshot_verbs},
        {"instances", cli_instance_verbs, &cli_n_instance_verbs},
        {"configure", cli_configure_verbs, &cli_n_configure_verbs},
        {"pipelines", cli_build_verbs, &cli_n_build_verbs},
        {"key pairs", cli_keypair_verbs, &cli_n_keypair_verbs},
        {"security groups", cli_secgroup_verbs, &cli_n_secgroup_verbs},
        {"volumes", cli_volume_verbs, &cli_n_volume_verbs},
        {"tags", cli_tag_verbs, &cli_n_tag_verbs},
        {"access keys", cli_access_verbs, &cli_n_access_verbs},
        {"endpoint", cli_serve_verbs, &cli_n_serve_verbs},
        {"money and upkeep", cli_upkeep_verbs, &cli_n_upkeep_verbs},
        {"host", cli_doctor_verbs, &cli_n_doctor_verbs},
};
const size_t cli_n_groups = KILN_ARRAY_SIZE(cli_groups);

const cli_verb *cli_verb_find(const char *name)
{
        for (size_t g = 0; g < cli_n_groups; g++)
                for (size_t i = 0; i < *cli_groups[g].n; i++)
                        if (strcmp(cli_groups[g].verbs[i].name, name) == 0)
                                return &cli_groups[g].verbs[i];
        return NULL;
}

const char *cli_arg_get(const cli_args *args, const char *name)
{
        const char *v = NULL;

        for (size_t i = 0; i < args->n_values; i++)
                if (strcmp(args->values[i].opt->name, name) == 0)
                        v = args->values[i].value;
        return v;
}

bool cli_arg_has(const cli_args *args, const char *name)
{
        for (size_t i = 0; i < args->n_values; i++)
                if (strcmp(args->values[i].opt->name, name) == 0)
                        return true;
        return false;
}

static const cli_opt *opt_find(const cli_opt *table, const char *name, size_t len)
{
        for (const cli_opt *o = table; o && o->name; o++)
                if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
                        return o;
        return NULL;
}

static void args_push(cli_args *a, const cli_opt *opt, const char *value)
{
        cli_value *v = realloc(a->values, (a->n_values + 1) * sizeof(*v));

        if (!v)
                abort();
        a->values = v;
        a->values[a->n_values].opt = opt;
        a->values[a->n_values].value = value;
        a->n_values++;
}

static void args_push_positional(cli_args *a, const char *s)
{
        const char **p = realloc(a->positional, (a->n_positional + 1) * sizeof(*p));

        if (!p)
                abort();
        a->positional = p;
        a->positional[a->n_positional++] = s;
}

static int global_apply(cli_global *g, const cli_opt *opt, const char *value)
{
        if (strcmp(opt->name, "region") == 0) {
                g->region = value;
        } else if (strcmp(opt->name, "account") == 0) {
                size_t n = strlen(value);

                for (size_t i = 0; i < n; i++)
                        if (!isdigit((unsigned char) value[i]))
                                n = 0;
                if (n != 12)
                        return cli_usage_error("invalid --account '%s': an account ID is 12 "
                                               "digits",
                                               value);
                g->account = value;
        } else if (strcmp(opt->name, "home") == 0) {
                if (!*value)
                        return cli_usage_error("--home needs a directory");
                g->home = value;
        } else if (strcmp(opt->name, "output") == 0) {
                if (strcmp(value, "json") == 0)
                        g->output = CLI_OUTPUT_JSON;
                else if (strcmp(value, "table") == 0)
                        g->output = CLI_OUTPUT_TABLE;
                else if (strcmp(value, "text") == 0)
                        g->output = CLI_OUTPUT_TEXT;
                else
                        return cli_usage_error("invalid --output '%s': expected json, table or "
                                               "text",
                                               value);
        }
        return 0;
}

static void global_flag(cli_global *g, const cli_opt *opt)
{
        if (strcmp(opt->name, "quiet") == 0)
                g->quiet = true;
        else if (strcmp(opt->name, "verbose") == 0)
                g->verbose = true;
        else if (strcmp(opt->name, "no-progress") == 0)
                g->no_progress = true;
        else if (strcmp(opt->name, "dry-run") == 0)
                g->dry_run = true;
}

/* Parses argv[1..]: the first word that is not an option is the verb; global options may
 * stand before or after it. Returns 0, or an exit status. */
static int parse(int argc, char **argv, cli_global *g, const cli_verb **ret_verb, cli_args *a,
                 bool *ret_help, bool *ret_version)
{
        const cli_verb *verb = NULL;

        for (int i = 1; i < argc; i++) {
                const char *arg = argv[i];
                const cli_opt *opt = NULL;
                const char *eq, *name;
                size_t len;
                bool global = false;

                if (strcmp(arg, "--") == 0) {
                        for (i++; i < argc; i++)
                                args_push_positional(a, argv[i]);
                        break;
                }
                if (strncmp(arg, "--", 2) != 0) {
                        if (!verb) {
                                verb = cli_verb_find(arg);
                                if (!verb)
                                        return cli_usage_error("unknown verb '%s' (see 'kiln "
                                                               "help')",
                                                               arg);
                        } else {
                                args_push_positional(a, arg);
                        }
                        continue;
                }
                if (!verb && strcmp(arg, "--version") == 0) {
                        *ret_version = true;
                        continue;
                }
                name = arg + 2;
                eq = strchr(name, '=');
                len = eq ? (size_t) (eq - name) : strlen(name);
                if (verb)
                        opt = opt_find(verb->opts, name, len);
                if (!opt) {
                        opt = opt_find(cli_global_opts, name, len);
                        global = opt != NULL;
                }
                if (!opt) {
                        if (verb)
                                return cli_usage_error("unknown option '--%.*s' for '%s' (see "
                                                       "'kiln help %s')",
                                                       (int) len, name, verb->name, verb->name);
                        return cli_usage_error("unknown option '--%.*s' (see 'kiln help')",
                                               (int) len, name);
                }
                if (opt->kind == CLI_ARG_NONE) {
                        if (eq)
                                return cli_usage_error("option '--%s' takes no value", opt->name);
                        if (strcmp(opt->name, "help") == 0)
                                *ret_help = true;
                        else if (global)
                                global_flag(g, opt);
                        else
                                args_push(a, opt, NULL);
                        continue;
                }
                if (eq) {
                        if (global) {
                                if (global_apply(g, opt, eq + 1) != 0)
                                        return CLI_EXIT_USAGE;
                        } else {
                                args_push(a, opt, eq + 1);
                        }
                        continue;
                }
                if (i + 1 >= argc || (strncmp(argv[i + 1], "--", 2) == 0 && argv[i + 1][2]))
                        return cli_usage_error("option '--%s' needs a value (%s)", opt->name,
                                               opt->metavar ? opt->metavar : "VALUE");
                if (global) {
                        if (global_apply(g, opt, argv[++i]) != 0)
                                return CLI_EXIT_USAGE;
                        continue;
                }
                args_push(a, opt, argv[++i]);
                if (opt->kind == CLI_ARG_LIST)
                        while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                                args_push(a, opt, argv[++i]);
        }
        if (verb && a->n_positional > verb->max_positional)
                return cli_usage_error("unexpected argument '%s' for '%s'",
                                       a->positional[verb->max_positional], verb->name);
        *ret_verb = verb;
        return 0;
}

static void log_to_stderr(kiln_log_level level, const char *msg, void *userdata)
{
        static const char *const names[] = {"error", "warning", "info", "debug"};

        (void) userdata;
        cli_message(names[level], msg);
}

static kiln_log_level log_level(const cli_global *g)
{
        const char *debug = getenv("KILN_DEBUG");

        if (g->verbose || (debug && *debug && strcmp(debug, "0") != 0))
                return KILN_LOG_DEBUG;
        return g->quiet ? KILN_LOG_ERR : KILN_LOG_INFO;
}

/* "kiln X.Y.Z" alone on the first line, for scripts; then where kiln's data comes from. */
static void print_version(void)
{
        static const char *const origins[] = {
                [KILN_DATA_ENV] = "KILN_DATA_DIR",
                [KILN_DATA_INSTALLED] = "installed",
                [KILN_DATA_SOURCE] = "source tree",
        };
        static const char *const overrides[][2] = {
                {"templates", "KILN_TEMPLATES"},
                {"catalog", "KILN_CATALOG"},
        };
        kiln_data_origin origin = KILN_DATA_SOURCE;
        kiln_autofree char *dir = kiln_data_dir(&origin);

        printf("kiln %s\n", kiln_version());
        printf("data: %s (%s)\n", dir, origins[origin]);
        for (size_t i = 0; i < KILN_ARRAY_SIZE(overrides); i++) {
                const char *v = getenv(overrides[i][1]);

                if (v && *v)
                        printf("%s: %s (%s)\n", overrides[i][0], v, overrides[i][1]);
        }
}

static int run(int argc, char **argv, cli_args *a)
{
        cli_global g = {.output = CLI_OUTPUT_JSON};
        const cli_verb *verb = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        bool help = false, version = false;
        int r;

        g.account = getenv("KILN_ACCOUNT");
        g.home = getenv("KILN_HOME");
        r = parse(argc, argv, &g, &verb, a, &help, &version);
        if (r != 0)
                return r;
        kiln_log_set_handler(log_to_stderr, log_level(&g), NULL);
        if (version) {
                print_version();
                return CLI_EXIT_OK;
        }
        if (!verb) {
                cli_help_all(help ? stdout : stderr);
                return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
        if (help) {
                cli_help_verb(stdout, verb);
                return CLI_EXIT_OK;
        }
        if (g.dry_run && !listed(dry_run_changes, verb->name)) {
                if (!listed(dry_run_describes, verb->name))
                        return cli_usage_error("'%s' takes no --dry-run", verb->name);
                kiln_error_set(&err, KILN_E_PERMISSION, "DryRunOperation",
                               "Request would have succeeded, but DryRun flag is set.");
                return cli_fail(err);
        }
        if (kiln_global_init(&err) < 0)
                return cli_fail(err);
        r = verb->run(verb, &g, a);
        kiln_global_cleanup();
        return r;
}

int main(int argc, char **argv)
{
        cli_args a = {0};
        int r = run(argc, argv, &a);

        free(a.values);
        free(a.positional);
        return r;
}
