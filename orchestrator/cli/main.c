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
        {"output", CLI_ARG_ONE, "FORMAT", "json (default), table or text"},
        {"quiet", CLI_ARG_NONE, NULL, "print results only, no progress or notices"},
        {"verbose", CLI_ARG_NONE, NULL, "log what kiln does to stderr (or KILN_DEBUG=1)"},
        {"no-progress", CLI_ARG_NONE, NULL, "no progress bars or progress lines"},
        {"help", CLI_ARG_NONE, NULL, "show help for the verb"},
        {NULL, CLI_ARG_NONE, NULL, NULL},
};

static const cli_opt doctor_opts[] = {
        {"uri", CLI_ARG_ONE, "URI", "libvirt URI to check (default qemu:///system)"},
        {"accel", CLI_ARG_ONE, "auto|kvm|tcg", "accelerator to resolve (default auto)"},
        {NULL, CLI_ARG_NONE, NULL, NULL},
};

#define END_OPTS                                                                                   \
        {                                                                                          \
                NULL, CLI_ARG_NONE, NULL, NULL                                                     \
        }

static const cli_opt register_opts[] = {
        {"name", CLI_ARG_ONE, "NAME", "image name: 3-128 characters, unique in the region"},
        {"disk", CLI_ARG_ONE, "FILE", "raw or qcow2 disk file with no backing file"},
        {"device-name", CLI_ARG_ONE, "DEV", "root device of the mapping (default /dev/vda)"},
        {"platform", CLI_ARG_ONE, "linux|windows", "guest platform (default linux)"},
        {"default-user", CLI_ARG_ONE, "USER", "login user of the image (admin, ubuntu, ...)"},
        {"architecture", CLI_ARG_ONE, "ARCH", "x86_64 (default), i386 or arm64"},
        {"boot-mode", CLI_ARG_ONE, "MODE", "legacy-bios (default) or uefi"},
        {"description", CLI_ARG_ONE, "TEXT", "up to 255 characters"},
        END_OPTS,
};

static const cli_opt describe_images_opts[] = {
        {"image-ids", CLI_ARG_LIST, "ID...", "only these images"},
        {"owners", CLI_ARG_LIST, "OWNER...", "self, an account ID, amazon, aws-marketplace"},
        {"executable-users", CLI_ARG_LIST, "WHO...", "self, all or an account ID"},
        {"filters", CLI_ARG_LIST, "Name=N,Values=V...",
         "name, state, platform, is-public, "
         "owner-id, image-id, tag:KEY, ..."},
        END_OPTS,
};

static const cli_opt image_id_opts[] = {
        {"image-id", CLI_ARG_ONE, "ID", "the image"},
        END_OPTS,
};

static const cli_opt copy_opts[] = {
        {"source-region", CLI_ARG_ONE, "REGION", "region of the source image"},
        {"source-image-id", CLI_ARG_ONE, "ID", "the image to copy"},
        {"name", CLI_ARG_ONE, "NAME", "name of the copy in this region"},
        {"description", CLI_ARG_ONE, "TEXT", "description of the copy"},
        END_OPTS,
};

static const cli_opt image_attr_opts[] = {
        {"image-id", CLI_ARG_ONE, "ID", "the image"},
        {"attribute", CLI_ARG_ONE, "NAME", "launchPermission or description"},
        END_OPTS,
};

static const cli_opt modify_image_opts[] = {
        {"image-id", CLI_ARG_ONE, "ID", "the image"},
        {"launch-permission", CLI_ARG_ONE, "SPEC",
         "Add=[{Group=all},{UserId=ID},{OrganizationArn=ARN}],Remove=[...] or JSON"},
        {"description", CLI_ARG_ONE, "TEXT", "new description (or Value=TEXT)"},
        {"attribute", CLI_ARG_ONE, "NAME", "launchPermission or description (flat form)"},
        {"value", CLI_ARG_ONE, "TEXT", "new value of --attribute description"},
        {"operation-type", CLI_ARG_ONE, "add|remove", "flat form: add or remove"},
        {"user-ids", CLI_ARG_LIST, "ID...", "flat form: accounts"},
        {"user-groups", CLI_ARG_LIST, "all", "flat form: all (public)"},
        {"organization-arns", CLI_ARG_LIST, "ARN...", "flat form: organizations"},
        {"with-snapshots", CLI_ARG_NONE, NULL,
         "also grant (or revoke) createVolumePermission on the image's snapshots"},
        END_OPTS,
};

static const cli_opt describe_snapshots_opts[] = {
        {"snapshot-ids", CLI_ARG_LIST, "ID...", "only these snapshots"},
        {"owner-ids", CLI_ARG_LIST, "OWNER...", "self or account IDs"},
        {"restorable-by-user-ids", CLI_ARG_LIST, "WHO...", "self, all or account IDs"},
        {"filters", CLI_ARG_LIST, "Name=N,Values=V...",
         "snapshot-id, owner-id, status, "
         "description, volume-size, tag:KEY"},
        END_OPTS,
};

static const cli_opt snapshot_id_opts[] = {
        {"snapshot-id", CLI_ARG_ONE, "ID", "the snapshot"},
        END_OPTS,
};

static const cli_opt snapshot_attr_opts[] = {
        {"snapshot-id", CLI_ARG_ONE, "ID", "the snapshot"},
        {"attribute", CLI_ARG_ONE, "NAME", "createVolumePermission"},
        END_OPTS,
};

static const cli_opt modify_snapshot_opts[] = {
        {"snapshot-id", CLI_ARG_ONE, "ID", "the snapshot"},
        {"attribute", CLI_ARG_ONE, "NAME", "createVolumePermission"},
        {"create-volume-permission", CLI_ARG_ONE, "SPEC",
         "Add=[{UserId=ID},{Group=all}] or Remove=[...] (not both), or JSON"},
        {"operation-type", CLI_ARG_ONE, "add|remove", "flat form: add or remove"},
        {"user-ids", CLI_ARG_LIST, "ID...", "flat form: accounts"},
        {"group-names", CLI_ARG_LIST, "all", "flat form: all (public)"},
        END_OPTS,
};

static const cli_opt fsck_opts[] = {
        {"repair", CLI_ARG_NONE, NULL, "mend what is found"},
        END_OPTS,
};

const cli_verb cli_verbs[] = {
        {"help", "general", "show the verbs, or one verb's options", "[VERB]", NULL, 1, cmd_help,
         "kiln help describe-images"},
        {"register-image", "images", "store a disk file as a snapshot and register an image on it",
         "--name NAME --disk FILE [OPTIONS]", register_opts, 0, cmd_register_image,
         "kiln register-image --name web-base --disk debian.qcow2 --default-user admin"},
        {"describe-images", "images", "list the images the caller may launch",
         "[--image-ids ID...] [--owners ...] [--executable-users ...] [--filters ...]",
         describe_images_opts, 0, cmd_describe_images,
         "kiln describe-images --owners self --filters Name=name,Values=web-*"},
        {"deregister-image", "images", "deregister an image (its snapshots stay)", "--image-id ID",
         image_id_opts, 0, cmd_deregister_image,
         "kiln deregister-image --image-id ami-0123456789abcdef0"},
        {"copy-image", "images", "copy an image from another region into this one",
         "--source-region R --source-image-id ID --name NAME", copy_opts, 0, cmd_copy_image,
         "kiln --region west copy-image --source-region local --source-image-id ami-... --name "
         "web"},
        {"describe-image-attribute", "images", "show an image's launchPermission or description",
         "--image-id ID --attribute launchPermission|description", image_attr_opts, 0,
         cmd_describe_image_attribute,
         "kiln describe-image-attribute --image-id ami-... --attribute launchPermission"},
        {"modify-image-attribute", "images", "share or unshare an image, or change its description",
         "--image-id ID (--launch-permission SPEC | --description TEXT | flat form)",
         modify_image_opts, 0, cmd_modify_image_attribute,
         "kiln modify-image-attribute --image-id ami-... --launch-permission "
         "\"Add=[{UserId=123456789012}]\""},
        {"reset-image-attribute", "images", "make an image private again",
         "--image-id ID --attribute launchPermission", image_attr_opts, 0,
         cmd_reset_image_attribute,
         "kiln reset-image-attribute --image-id ami-... --attribute launchPermission"},
        {"describe-snapshots", "snapshots", "list the snapshots the caller owns or may restore",
         "[--snapshot-ids ID...] [--owner-ids ...] [--filters ...]", describe_snapshots_opts, 0,
         cmd_describe_snapshots, "kiln describe-snapshots --owner-ids self"},
        {"delete-snapshot", "snapshots", "delete a snapshot no registered image uses",
         "--snapshot-id ID", snapshot_id_opts, 0, cmd_delete_snapshot,
         "kiln delete-snapshot --snapshot-id snap-0123456789abcdef0"},
        {"describe-snapshot-attribute", "snapshots", "show a snapshot's createVolumePermission",
         "--snapshot-id ID --attribute createVolumePermission", snapshot_attr_opts, 0,
         cmd_describe_snapshot_attribute,
         "kiln describe-snapshot-attribute --snapshot-id snap-... --attribute "
         "createVolumePermission"},
        {"modify-snapshot-attribute", "snapshots", "grant or revoke createVolumePermission",
         "--snapshot-id ID (--create-volume-permission SPEC | flat form)", modify_snapshot_opts, 0,
         cmd_modify_snapshot_attribute,
         "kiln modify-snapshot-attribute --snapshot-id snap-... --create-volume-permission "
         "\"Add=[{UserId=123456789012}]\""},
        {"describe-storage", "money",
         "bytes really used per snapshot, image and account, and their monthly cost", "", NULL, 0,
         cmd_describe_storage, "kiln describe-storage --output table"},
        {"describe-regions", "upkeep", "list the configured regions", "", NULL, 0,
         cmd_describe_regions, "kiln describe-regions"},
        {"fsck", "upkeep", "check registry and pools after a crash; --repair mends them",
         "[--repair]", fsck_opts, 0, cmd_fsck, "kiln fsck --repair"},
        {"gc", "upkeep", "remove what nothing references any more", "", NULL, 0, cmd_gc, "kiln gc"},
        {"doctor", "upkeep",
         "check the hypervisor connection, the accelerator and the tools kiln needs",
         "[--uri URI] [--accel auto|kvm|tcg]", doctor_opts, 0, cmd_doctor,
         "kiln doctor --output table"},
};
const size_t cli_n_verbs = KILN_ARRAY_SIZE(cli_verbs);

const cli_verb *cli_verb_find(const char *name)
{
        for (size_t i = 0; i < cli_n_verbs; i++)
                if (strcmp(cli_verbs[i].name, name) == 0)
                        return &cli_verbs[i];
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
        fprintf(stderr, "kiln: %s: %s\n", names[level], msg);
}

static kiln_log_level log_level(const cli_global *g)
{
        const char *debug = getenv("KILN_DEBUG");

        if (g->verbose || (debug && *debug && strcmp(debug, "0") != 0))
                return KILN_LOG_DEBUG;
        return g->quiet ? KILN_LOG_ERR : KILN_LOG_INFO;
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
                printf("kiln %s\n", kiln_version());
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
