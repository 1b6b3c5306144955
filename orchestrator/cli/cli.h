/* The kiln command: parsing and printing only. Every verb is a row of the command table with
 * its own option table; global options are parsed once, in main.c, wherever they stand. */
#ifndef KILN_CLI_H
#define KILN_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include <kiln/kiln.h>

/* Exit statuses, one per error class (listed in README.md). */
enum {
        CLI_EXIT_OK = 0,
        CLI_EXIT_USAGE = 2,
        CLI_EXIT_INTERRUPTED = 130,
};

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

/* command table (main.c) */
extern const cli_verb cli_verbs[];
extern const size_t cli_n_verbs;
extern const cli_opt cli_global_opts[];
const cli_verb *cli_verb_find(const char *name);

/* argument access */
const char *cli_arg_get(const cli_args *args, const char *name);
bool cli_arg_has(const cli_args *args, const char *name);

/* output.c */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_fail(const kiln_error *e);
int cli_exit_code(int kiln_code);
void cli_print(const cli_global *g, json_t *result);

/* verbs */
int cmd_help(const cli_verb *verb, const cli_global *g, const cli_args *args);
int cmd_doctor(const cli_verb *verb, const cli_global *g, const cli_args *args);
void cli_help_verb(FILE *f, const cli_verb *v);
void cli_help_all(FILE *f);

#endif
