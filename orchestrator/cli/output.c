/* Printing: results go to stdout as JSON (the aws CLI's shapes, insertion order, 4-space
 * indent), as a table or as tab-separated text; errors go to stderr once, and their class
 * picks the exit status.
 *
 * Text from outside (another account's descriptions and tags, a guest's console or stderr
 * inside an error, a record an older kiln stored) reaches the terminal only through
 * kiln_text_sanitize(): here for text and table output, in cli_message() for everything on
 * stderr. Control characters and bytes that are not UTF-8 show as \xNN or \u00NN. A line
 * break is kept only where lines are part of the value's form: messages on stderr (a wait's
 * console tail, a command's stderr), and in text and table output the values that are
 * multi-line by nature (a private key, a console); anywhere else it would forge a line of
 * text output. JSON is escaped by the writer (writer.c). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

void cli_message(const char *label, const char *msg)
{
        char *safe = kiln_text_sanitize(msg, KILN_TEXT_KEEP_NEWLINES);

        if (label)
                fprintf(stderr, "kiln: %s: %s\n", label, safe);
        else
                fprintf(stderr, "kiln: %s\n", safe);
        free(safe);
}

int cli_usage_error(const char *fmt, ...)
{
        va_list ap;
        char msg[1024];

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
        va_end(ap);
        cli_message(NULL, msg);
        return CLI_EXIT_USAGE;
}

/* The one list of exit statuses: cli_exit_code() maps errors through it, the manual page
 * prints it (`kiln help --man`), and README.md's table is checked against that
 * (tests/unit/test-install.sh). `code` marks a term for the page. */
const cli_exit_status cli_exit_statuses[] = {
        {CLI_EXIT_OK, 0, "success"},
        {1, KILN_E_INTERNAL, "internal error"},
        {CLI_EXIT_USAGE, 0,
         "bad command line: unknown verb or option, missing value (the message names it)"},
        {3, KILN_E_INVALID, "invalid parameter value (`InvalidParameterValue` and the like)"},
        {4, KILN_E_NOT_FOUND, "not found (`InvalidAMIID.NotFound`, ...)"},
        {5, KILN_E_EXISTS, "already exists (`InvalidAMIName.Duplicate`, ...)"},
        {6, KILN_E_STATE,
         "wrong state or in use (`IncorrectInstanceState`, `InvalidSnapshot.InUse`)"},
        {7, KILN_E_PERMISSION, "not permitted (`AuthFailure`)"},
        {8, KILN_E_LIMIT, "limit exceeded"},
        {9, KILN_E_UNSUPPORTED,
         "unsupported on this host (for example `--accel kvm` without working KVM)"},
        {10, KILN_E_IO, "I/O: files, external tools, missing tools"},
        {11, KILN_E_TIMEOUT, "timeout"},
        {12, KILN_E_LIBVIRT, "hypervisor (libvirt) error, including an unreachable daemon"},
        {13, KILN_E_SSH, "SSH error"},
        {14, KILN_E_HTTP, "download error"},
        {15, KILN_E_JSON, "malformed JSON"},
        {CLI_EXIT_INTERRUPTED, KILN_E_INTERRUPTED, "interrupted"},
};
const size_t cli_n_exit_statuses = KILN_ARRAY_SIZE(cli_exit_statuses);

int cli_exit_code(int kiln_code)
{
        for (size_t i = 0; i < cli_n_exit_statuses; i++)
                if (kiln_code > 0 && cli_exit_statuses[i].kiln_code == kiln_code)
                        return cli_exit_statuses[i].status;
        return 1;
}

int cli_fail(const kiln_error *e)
{
        if (!e) {
                fputs("kiln: error: unknown failure\n", stderr);
                return 1;
        }
        cli_message(e->api_code ? e->api_code : kiln_error_code_name(e->code), e->msg);
        return cli_exit_code(e->code);
}

/* Members whose values are multi-line by nature: create-key-pair's KeyMaterial, and
 * get-console-output's Output. */
static bool multiline_member(const char *key)
{
        return key && (strcmp(key, "KeyMaterial") == 0 || strcmp(key, "Output") == 0);
}

/* v, the value of the member key (or of the list key names), as text. */
static void print_scalar(FILE *f, const char *key, json_t *v)
{
        char *safe;

        switch (json_typeof(v)) {
        case JSON_STRING:
                safe = kiln_text_sanitize(json_string_value(v),
                                          multiline_member(key) ? KILN_TEXT_KEEP_NEWLINES : 0);
                fputs(safe, f);
                free(safe);
                break;
        case JSON_INTEGER:
                fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
                break;
        case JSON_REAL:
                fprintf(f, "%g", json_real_value(v));
                break;
        case JSON_TRUE:
                fputs("True", f);
                break;
        case JSON_FALSE:
                fputs("False", f);
                break;
        default:
                fputs("None", f);
                break;
        }
}

static bool is_scalar(json_t *v)
{
        return !json_is_object(v) && !json_is_array(v);
}

static void upper(FILE *f, const char *s)
{
        for (; *s; s++)
                fputc(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s, f);
}

/* As `aws --output text`: an object's scalars on one line, tab-separated, led by its key in
 * upper case; nested objects and lists on lines of their own. */
static void print_text(FILE *f, const char *label, json_t *v)
{
        const char *key;
        json_t *item;
        size_t i;
        bool any = false;

        if (json_is_array(v)) {
                json_array_foreach (v, i, item) {
                        if (is_scalar(item)) {
                                if (label) {
                                        upper(f, label);
                                        fputc('\t', f);
                                }
                                print_scalar(f, label, item);
                                fputc('\n', f);
                        } else {
                                print_text(f, label, item);
                        }
                }
                return;
        }
        if (!json_is_object(v)) {
                print_scalar(f, label, v);
                fputc('\n', f);
                return;
        }
        json_object_foreach (v, key, item) {
                if (!is_scalar(item))
                        continue;
                if (!any && label) {
                        upper(f, label);
                        fputc('\t', f);
                } else if (any) {
                        fputc('\t', f);
                }
                print_scalar(f, key, item);
                any = true;
        }
        if (any)
                fputc('\n', f);
        json_object_foreach (v, key, item)
                if (!is_scalar(item))
                        print_text(f, key, item);
}

/* A readable two-column table: nested objects indent, lists number their items. */
static void print_table(FILE *f, int depth, const char *label, json_t *v)
{
        const char *key;
        json_t *item;
        size_t i;

        if (json_is_object(v)) {
                json_object_foreach (v, key, item) {
                        fprintf(f, "%*s%-*s", depth * 2, "",
                                28 - depth * 2 > 8 ? 28 - depth * 2 : 8, key);
                        if (is_scalar(item)) {
                                fputs(" | ", f);
                                print_scalar(f, key, item);
                                fputc('\n', f);
                        } else {
                                fputc('\n', f);
                                print_table(f, depth + 1, key, item);
                        }
                }
        } else if (json_is_array(v)) {
                json_array_foreach (v, i, item) {
                        if (is_scalar(item)) {
                                fprintf(f, "%*s- ", depth * 2, "");
                                print_scalar(f, label, item);
                                fputc('\n', f);
                        } else {
                                fprintf(f, "%*s[%zu]\n", depth * 2, "", i);
                                print_table(f, depth + 1, NULL, item);
                        }
                }
        } else {
                fprintf(f, "%*s", depth * 2, "");
                print_scalar(f, label, v);
                fputc('\n', f);
        }
}

void cli_print(const cli_global *g, json_t *result)
{
        cli_writer *w;

        if (!result)
                return;
        switch (g->output) {
        case CLI_OUTPUT_JSON:
                w = cli_writer_new(g);
                cli_w_json(w, NULL, result);
                cli_writer_finish(w, g);
                break;
        case CLI_OUTPUT_TEXT:
                print_text(stdout, NULL, result);
                break;
        case CLI_OUTPUT_TABLE:
                print_table(stdout, 0, NULL, result);
                break;
        }
        fflush(stdout);
}
