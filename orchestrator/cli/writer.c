/* Record writers. A verb that prints many records (describe-images over thousands of images)
 * describes each record once, member by member, to a writer: for --output json the members are
 * streamed to stdout as they come (no tree, constant memory, the aws CLI's layout); for table
 * and text they build a jansson tree that output.c prints. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define WRITER_DEPTH 16

struct cli_writer {
        bool stream;
        FILE *f;
        int depth;
        bool first[WRITER_DEPTH];    /* no member written yet at this depth */
        json_t *stack[WRITER_DEPTH]; /* tree mode: open containers */
        json_t *root;
};

cli_writer *cli_writer_new(const cli_global *g)
{
        cli_writer *w = calloc(1, sizeof(*w));

        if (!w)
                abort();
        w->stream = g->output == CLI_OUTPUT_JSON;
        w->f = stdout;
        return w;
}

static void put_string(FILE *f, const char *s)
{
        const char *run = s;

        fputc_unlocked('"', f);
        for (const char *p = s;; p++) {
                unsigned char c = (unsigned char) *p;
                const char *esc = NULL;
                char buf[8];

                if (c >= 0x20 && c != '"' && c != '\\')
                        continue;
                fwrite_unlocked(run, 1, (size_t) (p - run), f);
                run = p + 1;
                if (c == '\0')
                        break;
                switch (c) {
                case '"':
                        esc = "\\\"";
                        break;
                case '\\':
                        esc = "\\\\";
                        break;
                case '\n':
                        esc = "\\n";
                        break;
                case '\r':
                        esc = "\\r";
                        break;
                case '\t':
                        esc = "\\t";
                        break;
                case '\b':
                        esc = "\\b";
                        break;
                case '\f':
                        esc = "\\f";
                        break;
                default:
                        snprintf(buf, sizeof(buf), "\\u%04x", c);
                        esc = buf;
                }
                fputs_unlocked(esc, f);
        }
        fputc_unlocked('"', f);
}

static void put_indent(FILE *f, int n)
{
        static const char spaces[] =
                "                                                                ";

        while (n > 0) {
                int k = n < (int) sizeof(spaces) - 1 ? n : (int) sizeof(spaces) - 1;

                fwrite_unlocked(spaces, 1, (size_t) k, f);
                n -= k;
        }
}

/* Separator, newline and indent before a member, then its key. */
static void stream_member(cli_writer *w, const char *key)
{
        if (w->depth > 0) {
                if (!w->first[w->depth])
                        fputc_unlocked(',', w->f);
                fputc_unlocked('\n', w->f);
                put_indent(w->f, w->depth * 4);
                w->first[w->depth] = false;
        }
        if (key) {
                put_string(w->f, key);
                fputs_unlocked(": ", w->f);
        }
}

static void tree_add(cli_writer *w, const char *key, json_t *v)
{
        json_t *parent = w->depth > 0 ? w->stack[w->depth] : NULL;

        if (!parent)
                w->root = v;
        else if (json_is_array(parent))
                json_array_append_new(parent, v);
        else
                json_object_set_new(parent, key, v);
}

static void open_container(cli_writer *w, const char *key, bool array)
{
        if (w->stream) {
                stream_member(w, key);
                fputc(array ? '[' : '{', w->f);
        } else {
                json_t *c = array ? json_array() : json_object();

                tree_add(w, key, c);
                w->stack[w->depth + 1] = c;
        }
        w->depth++;
        w->first[w->depth] = true;
}

static void close_container(cli_writer *w, bool array)
{
        bool empty = w->first[w->depth];

        w->depth--;
        if (!w->stream)
                return;
        if (!empty) {
                fputc_unlocked('\n', w->f);
                put_indent(w->f, w->depth * 4);
        }
        fputc(array ? ']' : '}', w->f);
        if (w->depth == 0)
                fputc('\n', w->f);
}

void cli_w_object(cli_writer *w, const char *key)
{
        open_container(w, key, false);
}

void cli_w_array(cli_writer *w, const char *key)
{
        open_container(w, key, true);
}

void cli_w_end_object(cli_writer *w)
{
        close_container(w, false);
}

void cli_w_end_array(cli_writer *w)
{
        close_container(w, true);
}

void cli_w_str(cli_writer *w, const char *key, const char *v)
{
        if (!v)
                return;
        if (w->stream) {
                stream_member(w, key);
                put_string(w->f, v);
        } else {
                tree_add(w, key, json_string(v));
        }
}

void cli_w_int(cli_writer *w, const char *key, long long v)
{
        if (w->stream) {
                stream_member(w, key);
                fprintf(w->f, "%lld", v);
        } else {
                tree_add(w, key, json_integer(v));
        }
}

void cli_w_real(cli_writer *w, const char *key, double v)
{
        if (w->stream) {
                char buf[64];

                stream_member(w, key);
                snprintf(buf, sizeof(buf), "%.10g", v);
                fputs(buf, w->f);
                if (!strpbrk(buf, ".eEn"))
                        fputs(".0", w->f);
        } else {
                tree_add(w, key, json_real(v));
        }
}

void cli_w_bool(cli_writer *w, const char *key, bool v)
{
        if (w->stream) {
                stream_member(w, key);
                fputs(v ? "true" : "false", w->f);
        } else {
                tree_add(w, key, json_boolean(v));
        }
}

/* Ends the output: tree mode prints what was built. Frees the writer. */
void cli_writer_finish(cli_writer *w, const cli_global *g)
{
        if (!w->stream && w->root)
                cli_print(g, w->root);
        json_decref(w->root);
        fflush(w->f);
        free(w);
}
