/* The aws CLI's shorthand syntax for structured option values, turned into JSON text:
 *
 *   DeviceName=/dev/sdf,Ebs={VolumeSize=8,DeleteOnTermination=false}
 *   ResourceType=instance,Tags=[{Key=Name,Value=web},{Key=env,Value=test}]
 *   Name=tag:Name,Values=web,db          (a value followed by bare values is a list)
 *
 * Grammar (as the aws CLI's shorthand parser reads it):
 *   params    := keyval ("," keyval)*
 *   keyval    := key "=" values
 *   values    := list | hash | value ("," value)*   (the tail stops at the next "key=")
 *   list      := "[" (value | hash) ("," (value | hash))* "]" | "[" "]"
 *   hash      := "{" keyval ("," keyval)* "}"
 *   value     := 'quoted' | "quoted" | bare characters, where "\" escapes the next one
 * Every scalar becomes a JSON string: the option that reads it converts types. Input is
 * untrusted text: nesting is bounded, and every error names its position. */
#include <jansson.h>
#include <string.h>

#include <kiln/text.h>

#include "util/json.h"
#include "util/util.h"

#define SHORTHAND_DEPTH_MAX 16

typedef struct sh {
        const char *s;
        size_t pos;
        kiln_error **err;
} sh;

static int sh_fail(sh *p, const char *what)
{
        return kiln_error_set(p->err, KILN_E_INVALID, "InvalidParameterValue",
                              "Error parsing parameter: %s at character %zu of '%s'", what,
                              p->pos + 1, p->s);
}

static void sh_space(sh *p)
{
        while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n')
                p->pos++;
}

/* A key: up to "=" (no structure characters in it). */
static char *sh_key(sh *p)
{
        size_t start;

        sh_space(p);
        start = p->pos;
        while (p->s[p->pos] && !strchr("=,[]{}", p->s[p->pos]))
                p->pos++;
        if (p->pos == start || p->s[p->pos] != '=') {
                sh_fail(p, p->pos == start ? "expected a key" : "expected '=' after the key");
                return NULL;
        }
        {
                size_t end = p->pos;

                while (end > start && (p->s[end - 1] == ' ' || p->s[end - 1] == '\t'))
                        end--;
                p->pos++; /* '=' */
                return kiln_xstrndup(p->s + start, end - start);
        }
}

/* A scalar. stops: the characters that end a bare value here. */
static char *sh_value(sh *p, const char *stops)
{
        kiln_buf b = {0};
        char q;

        sh_space(p);
        q = p->s[p->pos];
        if (q == '\'' || q == '"') {
                p->pos++;
                while (p->s[p->pos] && p->s[p->pos] != q) {
                        if (q == '"' && p->s[p->pos] == '\\' && p->s[p->pos + 1])
                                p->pos++;
                        kiln_buf_append(&b, p->s + p->pos, 1);
                        p->pos++;
                }
                if (p->s[p->pos] != q) {
                        kiln_buf_clear(&b);
                        sh_fail(p, "a quoted value is not closed");
                        return NULL;
                }
                p->pos++;
                sh_space(p);
                return kiln_buf_steal(&b);
        }
        while (p->s[p->pos] && !strchr(stops, p->s[p->pos])) {
                if (p->s[p->pos] == '\\' && p->s[p->pos + 1])
                        p->pos++;
                kiln_buf_append(&b, p->s + p->pos, 1);
                p->pos++;
        }
        while (b.len && (b.data[b.len - 1] == ' ' || b.data[b.len - 1] == '\t'))
                b.data[--b.len] = '\0';
        return kiln_buf_steal(&b);
}

static json_t *sh_hash(sh *p, int depth);

static json_t *sh_string(sh *p, char *v)
{
        json_t *j = v ? json_string(v) : NULL;

        if (v && !j)
                sh_fail(p, "a value is not UTF-8 text");
        free(v);
        return j;
}

static json_t *sh_list(sh *p, int depth)
{
        kiln_autoptr(json_t) list = json_array();

        p->pos++; /* '[' */
        sh_space(p);
        if (p->s[p->pos] == ']') {
                p->pos++;
                return kiln_steal(&list);
        }
        for (;;) {
                json_t *item;

                sh_space(p);
                item = p->s[p->pos] == '{' ? sh_hash(p, depth + 1)
                                           : sh_string(p, sh_value(p, ",]"));
                if (!item || json_array_append_new(list, item) < 0)
                        return NULL;
                sh_space(p);
                if (p->s[p->pos] == ']') {
                        p->pos++;
                        return kiln_steal(&list);
                }
                if (p->s[p->pos] != ',') {
                        sh_fail(p, "expected ',' or ']'");
                        return NULL;
                }
                p->pos++;
        }
}

/* Whether a "key=" starts at pos: the end of a csv list of bare values. */
static bool sh_key_ahead(const sh *p)
{
        size_t i = p->pos;

        while (p->s[i] == ' ')
                i++;
        while (p->s[i] && !strchr("=,[]{}'\"", p->s[i]))
                i++;
        return p->s[i] == '=' && i > p->pos;
}

static json_t *sh_values(sh *p, int depth, const char *stops)
{
        kiln_autoptr(json_t) first = NULL;
        kiln_autoptr(json_t) list = NULL;

        if (depth > SHORTHAND_DEPTH_MAX) {
                sh_fail(p, "nested too deeply");
                return NULL;
        }
        sh_space(p);
        if (p->s[p->pos] == '[')
                return sh_list(p, depth);
        if (p->s[p->pos] == '{')
                return sh_hash(p, depth + 1);
        first = sh_string(p, sh_value(p, stops));
        if (!first)
                return NULL;
        /* a,b,c: more bare values up to the next key */
        while (p->s[p->pos] == ',' && p->s[p->pos + 1]) {
                p->pos++;
                if (sh_key_ahead(p)) {
                        p->pos--;
                        break;
                }
                if (!list) {
                        list = json_array();
                        json_array_append(list, first);
                }
                {
                        json_t *v = sh_string(p, sh_value(p, stops));

                        if (!v || json_array_append_new(list, v) < 0)
                                return NULL;
                }
        }
        return list ? kiln_steal(&list) : kiln_steal(&first);
}

/* keyval ("," keyval)* into obj, up to end (a '}' or the end of the text). */
static int sh_keyvals(sh *p, json_t *obj, int depth, char end)
{
        for (;;) {
                kiln_autofree char *key = sh_key(p);
                json_t *v;

                if (!key)
                        return -1;
                v = sh_values(p, depth, end == '}' ? ",}" : ",");
                if (!v)
                        return -1;
                if (json_object_get(obj, key)) {
                        json_decref(v);
                        return sh_fail(p, "a key is given twice");
                }
                json_object_set_new(obj, key, v);
                sh_space(p);
                if (p->s[p->pos] == end)
                        return 0;
                if (p->s[p->pos] != ',')
                        return sh_fail(p, end == '}' ? "expected ',' or '}'" : "expected ','");
                p->pos++;
        }
}

static json_t *sh_hash(sh *p, int depth)
{
        kiln_autoptr(json_t) obj = json_object();

        if (depth > SHORTHAND_DEPTH_MAX) {
                sh_fail(p, "nested too deeply");
                return NULL;
        }
        p->pos++; /* '{' */
        if (sh_keyvals(p, obj, depth, '}') < 0)
                return NULL;
        p->pos++; /* '}' */
        return kiln_steal(&obj);
}

int kiln_shorthand_to_json(const char *text, char **ret_json, kiln_error **err)
{
        kiln_autoptr(json_t) obj = json_object();
        sh p = {text, 0, err};
        char *out;

        if (!text || !*text)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Error parsing parameter: an empty value");
        if (sh_keyvals(&p, obj, 0, '\0') < 0)
                return -1;
        out = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!out)
                return kiln_error_set(err, KILN_E_INTERNAL, NULL, "cannot write JSON");
        *ret_json = out;
        return 0;
}
