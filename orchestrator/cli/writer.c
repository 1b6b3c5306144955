/* Record writers. A verb that prints many records (describe-images over thousands of images)
 * describes each record once, member by member, to a writer: for --output json the members are
 * streamed to stdout as they come (no tree, constant memory, the aws CLI's layout); for table
 * and text they build a jansson tree that output.c prints. Verbs that build a tree print their
 * JSON through a writer too (cli_w_json), so every JSON string is escaped here, once. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define WRITER_DEPTH 16

/* The writer as a sink of <kiln/shape.h>: JSON names, timestamps as the aws CLI prints them. */
typedef struct writer_sink {
        kiln_sink base;
        cli_writer *w;
} writer_sink;

struct cli_writer {
        writer_sink sink;
        bool stream;
        FILE *f;
        int depth;
        bool first[WRITER_DEPTH];    /* no member written yet at this depth */
        json_t *stack[WRITER_DEPTH]; /* tree mode: open containers */
        json_t *root;
};

#define W(s) (((writer_sink *) (s))->w)

static void ws_object(kiln_sink *s, const char *json, const char *xml)
{
        (void) xml;
        cli_w_object(W(s), json);
}

static void ws_end_object(kiln_sink *s)
{
        cli_w_end_object(W(s));
}

static void ws_array(kiln_sink *s, const char *json, const char *xml)
{
        (void) xml;
        cli_w_array(W(s), json);
}

static void ws_end_array(kiln_sink *s)
{
        cli_w_end_array(W(s));
}

static void ws_str(kiln_sink *s, const char *json, const char *xml, const char *v)
{
        (void) xml;
        cli_w_str(W(s), json, v);
}

static void ws_int(kiln_sink *s, const char *json, const char *xml, long long v)
{
        (void) xml;
        cli_w_int(W(s), json, v);
}

static void ws_bool(kiln_sink *s, const char *json, const char *xml, bool v)
{
        (void) xml;
        cli_w_bool(W(s), json, v);
}

static void ws_time(kiln_sink *s, const char *json, const char *xml, const char *iso)
{
        char *t = cli_timestamp(iso);

        (void) xml;
        cli_w_str(W(s), json, t);
        free(t);
}

cli_writer *cli_writer_new(const cli_global *g)
{
        cli_writer *w = calloc(1, sizeof(*w));

        if (!w)
                abort();
        w->stream = g->output == CLI_OUTPUT_JSON;
        w->f = stdout;
        w->sink = (writer_sink){{ws_object, ws_end_object, ws_array, ws_end_array, ws_str, ws_int,
                                 ws_bool, ws_time},
                                w};
        return w;
}

kiln_sink *cli_w_sink(cli_writer *w)
{
        return &w->sink.base;
}

/* s as a JSON string. Beyond what JSON requires ('"', '\\' and C0 escaped), DEL and C1
 * characters are escaped too (\u007f, \u009b: the same text to a JSON reader, but a terminal
 * showing the JSON cannot obey them), and a byte that is not part of well-formed UTF-8 (an old
 * record, a guest's console) becomes U+FFFD, so the document always parses. */
static void put_string(FILE *f, const char *s)
{
        const char *run = s, *p = s;

        fputc_unlocked('"', f);
        while (*p) {
                unsigned char c = (unsigned char) *p;
                uint32_t cp = c;
                size_t n = c < 0x80 ? 1 : kiln_utf8_char(p, &cp);
                const char *esc = NULL;
                char buf[8];

                if (n > 0 && !kiln_text_is_control(cp) && cp != '"' && cp != '\\') {
                        p += n;
                        continue;
                }
                fwrite_unlocked(run, 1, (size_t) (p - run), f);
                if (n == 0) {
                        cp = 0xfffd;
                        n = 1;
                }
                switch (cp) {
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
                        snprintf(buf, sizeof(buf), "\\u%04x", (unsigned) cp);
                        esc = buf;
                }
                fputs_unlocked(esc, f);
                p += n;
                run = p;
        }
        fwrite_unlocked(run, 1, (size_t) (p - run), f);
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
        assert(w->depth + 1 < WRITER_DEPTH);
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
                /* Unchecked: text that is not UTF-8 must reach the text and table printers,
                 * which show its bytes, instead of vanishing. */
                tree_add(w, key, json_stringn_nocheck(v, strlen(v)));
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

json_t *cli_json_text(const char *s)
{
        return s ? json_stringn_nocheck(s, strlen(s)) : json_null();
}

void cli_w_json(cli_writer *w, const char *key, json_t *v)
{
        const char *k;
        json_t *item;
        size_t i;

        switch (json_typeof(v)) {
        case JSON_OBJECT:
                cli_w_object(w, key);
                json_object_foreach (v, k, item) {
                        cli_w_json(w, k, item);
                }
                cli_w_end_object(w);
                break;
        case JSON_ARRAY:
                cli_w_array(w, key);
                json_array_foreach (v, i, item) {
                        cli_w_json(w, NULL, item);
                }
                cli_w_end_array(w);
                break;
        case JSON_STRING:
                cli_w_str(w, key, json_string_value(v));
                break;
        default: /* numbers, true, false and null, written as jansson writes them */
                if (w->stream) {
                        char *text = json_dumps(v, JSON_ENCODE_ANY);

                        if (!text)
                                abort();
                        stream_member(w, key);
                        fputs_unlocked(text, w->f);
                        free(text);
                } else {
                        tree_add(w, key, json_incref(v));
                }
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
