/* The kiln command: parsing and printing only. Every verb is a row of the command table with
 * its own option table; global options are parsed once, in main.c, wherever they stand. */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <kiln/kiln.h>

/* Exit statuses, one per error class: all of them, with their meaning, are in
 * cli_exit_statuses (output.c). */
enum {
        CLI_EXIT_OK = 0,
        CLI_EXIT_USAGE = 2,
        CLI_EXIT_INTERRUPTED = 130,
};

typedef struct cli_exit_status {
        int status;
        int kiln_code;       /* the kiln_error_code that exits so, 0 for none */
        const char *meaning; /* for people: the manual page and README.md */
} cli_exit_status;

extern const cli_exit_status cli_exit_statuses[];
extern const size_t cli_n_exit_statuses;

typedef enum { CLI_OUTPUT_JSON, CLI_OUTPUT_TABLE, CLI_OUTPUT_TEXT } cli_output;

typedef enum {
        CLI_ARG_NONE, /* a flag */
        CLI_ARG_ONE,  /* --name VALUE or --name=VALUE */
        CLI_ARG_LIST, /* --name V1 V2 ... up to the next option (as the aws CLI) */
} cli_arg_kind;

typedef struct cli_opt {
        const char *name; /* without the leading dashes */
        cli_arg_kind kind;
        const char *metavar;
        const char *help;
} cli_opt;

typedef struct cli_global {
        const char *region;
        const char *account;
        const char *home;
        cli_output output;
        bool quiet;
        bool verbose;
        bool no_progress;
        bool dry_run; /* --dry-run: the verb's checks, no change (cli_ctx_open arms it) */
} cli_global;

/* Parsed options of a verb: each occurrence in order, with its values. */
typedef struct cli_value {
        const cli_opt *opt;
        const char *value; /* NULL for a flag */
} cli_value;

typedef struct cli_args {
        cli_value *values;
        size_t n_values;
        const char **positional;
        size_t n_positional;
} cli_args;

typedef struct cli_verb cli_verb;
typedef int (*cli_run_fn)(const cli_verb *verb, const cli_global *g, const cli_args *args);

struct cli_verb {
        const char *name;
        const char *group;
        const char *summary;
        const char *usage;   /* after "kiln VERB " */
        const cli_opt *opts; /* terminated by a zeroed row; may be NULL */
        size_t max_positional;
        cli_run_fn run;
        const char *example;
};

/* command table: each cmd-<group>.c holds its rows; main.c lists the groups */
typedef struct cli_group {
        const char *name;
        const cli_verb *verbs;
        const size_t *n;
} cli_group;

extern const cli_group cli_groups[];
extern const size_t cli_n_groups;
extern const cli_verb cli_general_verbs[], cli_image_verbs[], cli_snapshot_verbs[],
        cli_upkeep_verbs[], cli_doctor_verbs[], cli_instance_verbs[], cli_keypair_verbs[],
        cli_configure_verbs[], cli_build_verbs[], cli_tag_verbs[], cli_volume_verbs[],
        cli_access_verbs[], cli_serve_verbs[], cli_secgroup_verbs[];
extern const size_t cli_n_general_verbs, cli_n_image_verbs, cli_n_snapshot_verbs,
        cli_n_upkeep_verbs, cli_n_doctor_verbs, cli_n_instance_verbs, cli_n_keypair_verbs,
        cli_n_configure_verbs, cli_n_build_verbs, cli_n_tag_verbs, cli_n_volume_verbs,
        cli_n_access_verbs, cli_n_serve_verbs, cli_n_secgroup_verbs;

#define CLI_END_OPTS                                                                               \
        {                                                                                          \
                NULL, CLI_ARG_NONE, NULL, NULL                                                     \
        }
extern const cli_opt cli_global_opts[];
const cli_verb *cli_verb_find(const char *name);

/* argument access */
const char *cli_arg_get(const cli_args *args, const char *name);
bool cli_arg_has(const cli_args *args, const char *name);
/* An option's value as the aws CLI reads it: TEXT, file://PATH or fileb://PATH (at most max
 * bytes read, NUL-terminated). Exit 2 naming the option when the file cannot be read. */
int cli_read_value(const char *option, const char *arg, size_t max, char **ret, size_t *ret_len);

/* args.c */
size_t cli_arg_all(const cli_args *args, const char *name, const char ***ret);
int cli_parse_filters(const cli_args *args, kiln_filter **ret, size_t *ret_n);
void cli_filters_free(kiln_filter *f, size_t n);

typedef struct cli_perm_change {
        kiln_permission *add;
        size_t n_add;
        kiln_permission *remove;
        size_t n_remove;
} cli_perm_change;

int cli_parse_permission(const char *text, cli_perm_change *c, kiln_error **err);
int cli_parse_flat_permission(const cli_args *args, const char *groups_opt, cli_perm_change *c,
                              kiln_error **err);
void cli_perm_change_free(cli_perm_change *c);

/* args-tags.c */
/* One value of a structured option as JSON: the text itself if it is JSON, else its aws CLI
 * shorthand read as JSON (every scalar then a string). NULL with *err set. */
json_t *cli_option_json(const char *opt, const char *raw, kiln_error **err);
/* The tags of every occurrence of option opt (--tags): a missing Value is NULL when
 * value_optional (delete-tags: any value), else refused. */
int cli_parse_tags(const cli_args *args, const char *opt, bool value_optional, kiln_tag **ret,
                   size_t *ret_n, kiln_error **err);
/* The --tag-specifications row of a verb's options; types names what it may tag. */
#define CLI_OPT_TAG_SPECS(types)                                                                   \
        {                                                                                          \
                "tag-specifications", CLI_ARG_LIST, "ResourceType=TYPE,Tags=[{Key=K,Value=V}]...", \
                        "tags for the new " types                                                  \
        }
/* --tag-specifications, owning its strings. */
typedef struct cli_tag_specs {
        kiln_tag_spec *specs;
        size_t n;
} cli_tag_specs;
int cli_parse_tag_specs(const cli_args *args, cli_tag_specs *ret, kiln_error **err);
void cli_tag_specs_free(cli_tag_specs *s);

/* args-mappings.c: --block-device-mappings, owning its strings. */
typedef struct cli_mappings {
        kiln_mapping_spec *specs;
        size_t n;
} cli_mappings;
int cli_parse_mappings(const cli_args *args, cli_mappings *ret, kiln_error **err);
void cli_mappings_free(cli_mappings *m);
/* --tag-specifications and --block-device-mappings of a verb that creates resources: both, or
 * neither (nothing to free) with *err set. */
int cli_parse_creation(const cli_args *args, cli_tag_specs *tags, cli_mappings *maps,
                       kiln_error **err);

/* args-ip-permissions.c: the inbound rules of authorize- and revoke-security-group-ingress,
 * from --ip-permissions (shorthand or JSON) or --protocol, --port and --cidr, owning their
 * strings. */
typedef struct cli_sg_perms {
        kiln_sg_permission *perms;
        size_t n;
} cli_sg_perms;
/* 0 (no rule given: none), or the exit status of the error it printed: 2 for a bad --protocol
 * or --port or the two forms mixed, 3 for a malformed --ip-permissions. */
int cli_parse_ip_permissions(const cli_args *args, cli_sg_perms *ret);
void cli_sg_perms_free(cli_sg_perms *p);

void cli_register_disks_free(kiln_register_disk *d, size_t n);

/* Steps of long work on stderr ("kiln: ..."), unless --quiet; warnings always. userdata is
 * the cli_global. */
void cli_notify_steps(kiln_log_level level, const char *msg, void *userdata);

/* context.c */
/* Opens the kiln context from the global options; prints the error and returns NULL. */
kiln_ctx *cli_ctx_open(const cli_global *g, int *ret_exit);
/* Progress callback for long transfers: a bar on a terminal, periodic lines otherwise. */
void cli_progress(const char *what, uint64_t done, uint64_t total, void *userdata);
void cli_progress_end(const cli_global *g);
void cli_progress_setup(const cli_global *g);

/* writer.c */
typedef struct cli_writer cli_writer;
cli_writer *cli_writer_new(const cli_global *g);
void cli_writer_finish(cli_writer *w, const cli_global *g);
void cli_w_object(cli_writer *w, const char *key);
void cli_w_array(cli_writer *w, const char *key);
void cli_w_end_object(cli_writer *w);
void cli_w_end_array(cli_writer *w);
void cli_w_str(cli_writer *w, const char *key, const char *v);
void cli_w_int(cli_writer *w, const char *key, long long v);
void cli_w_real(cli_writer *w, const char *key, double v);
void cli_w_bool(cli_writer *w, const char *key, bool v);
/* A jansson tree, member by member. */
void cli_w_json(cli_writer *w, const char *key, json_t *v);
/* A tree's string of text from outside, which may not be UTF-8 (json_string() would refuse it
 * and the member would vanish): the writer and the text printers make it safe. */
json_t *cli_json_text(const char *s);

/* output-records.c */
/* "Tags": [{Key, Value}...], left out when there are none (as the aws CLI prints EC2's). */
/* The writer as a sink of <kiln/shape.h>: kiln_shape_image(cli_w_sink(w), img) writes an
 * image in the aws CLI's JSON. */
kiln_sink *cli_w_sink(cli_writer *w);
char *cli_timestamp(const char *iso);

/* output.c */
/* Every message on stderr: "kiln: LABEL: MSG" (or "kiln: MSG" without a label), with MSG made
 * safe for the terminal (it may carry a guest's output or another account's text). */
void cli_message(const char *label, const char *msg);
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_fail(const kiln_error *e);
int cli_exit_code(int kiln_code);
void cli_print(const cli_global *g, json_t *result);

/* verbs */
int cmd_help(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_doctor(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_register_image(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_build(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_import_image(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_create_image(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_describe_images(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_deregister_image(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_copy_image(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_describe_image_attribute(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_modify_image_attribute(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_reset_image_attribute(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_describe_snapshots(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_create_snapshot(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_delete_snapshot(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_describe_snapshot_attribute(const cli_verb *verb, const cli_global *g,
                                    const cli_args *args);
int cmd_modify_snapshot_attribute(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_describe_regions(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_describe_availability_zones(const cli_verb *verb, const cli_global *g,
                                    const cli_args *args);
int cmd_describe_storage(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_fsck(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_gc(const cli_verb *verb, const cli_global *g, const cli_args *args);
void cli_help_verb(FILE *f, const cli_verb *v);
void cli_help_all(FILE *f);
/* help-man.c, help-completion.c */
void cli_help_man(FILE *f);
void cli_help_completion_bash(FILE *f);

#endif
