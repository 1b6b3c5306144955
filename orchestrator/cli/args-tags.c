/* Tags and TagSpecifications as the aws CLI takes them: each value of --tags a shorthand
 * "Key=K,Value=V" or JSON ({"Key": ..., "Value": ...} or an array of them), each value of
 * --tag-specifications "ResourceType=T,Tags=[{Key=K,Value=V},...]" or its JSON (an object or
 * an array of them). Parsing only: the library checks keys, values, types and limits. */
#include <string.h>

#include "cli.h"

static void *grow(void *p, size_t n, size_t size)
{
        p = realloc(p, n * size);
        if (!p)
                abort();
        return p;
}

static char *copy_text(const char *s)
{
        char *d = strdup(s);

        if (!d)
                abort();
        return d;
}

json_t *cli_option_json(const char *opt, const char *raw, kiln_error **err)
{
        kiln_autofree char *text = NULL;
        json_error_t jerr;
        json_t *j;

        if (raw[0] != '[' && raw[0] != '{') {
                if (kiln_shorthand_to_json(raw, &text, err) < 0) {
                        kiln_error_prefix(err, "--%s", opt);
                        return NULL;
                }
                raw = text;
        }
        j = json_loads(raw, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                               "--%s: not valid JSON at line %d column %d: %s", opt, jerr.line,
                               jerr.column, jerr.text);
        return j;
}

static int bad_value(const char *opt, const char *what, kiln_error **err)
{
        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue", "--%s: %s", opt, what);
}

/* o may hold only these members (a NULL-terminated list). */
static int only_members(const char *opt, json_t *o, const char *const *allowed, kiln_error **err)
{
        const char *member;
        json_t *ignored;

        json_object_foreach (o, member, ignored) {
                bool ok = false;

                for (size_t i = 0; !ok && allowed[i]; i++)
                        ok = strcmp(member, allowed[i]) == 0;
                if (!ok)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "--%s: unknown member '%s'", opt, member);
        }
        return 0;
}

/* Appends one tag object {"Key", "Value"}; a missing Value is NULL if value_optional. */
static int tag_from_object(const char *opt, json_t *o, bool value_optional, kiln_tag **tags,
                           size_t *n, kiln_error **err)
{
        static const char *const members[] = {"Key", "Value", NULL};
        json_t *key = json_object_get(o, "Key"), *value = json_object_get(o, "Value");

        if (!json_is_object(o) || !json_is_string(key) || (value && !json_is_string(value)))
                return bad_value(opt, "each tag needs a Key, and a Value that is text", err);
        if (!value && !value_optional)
                return bad_value(opt, "each tag needs a Value (it may be empty)", err);
        if (only_members(opt, o, members, err) < 0)
                return -1;
        *tags = grow(*tags, *n + 1, sizeof(**tags));
        (*tags)[*n].key = copy_text(json_string_value(key));
        (*tags)[*n].value = value ? copy_text(json_string_value(value)) : NULL;
        (*n)++;
        return 0;
}

/* Appends the tags of j: one tag object or an array of them. */
static int tags_from_json(const char *opt, json_t *j, bool value_optional, kiln_tag **tags,
                          size_t *n, kiln_error **err)
{
        size_t i;
        json_t *o;

        if (json_is_object(j))
                return tag_from_object(opt, j, value_optional, tags, n, err);
        if (!json_is_array(j))
                return bad_value(opt, "expected Key=KEY,Value=VALUE or a JSON list of tags", err);
        json_array_foreach (j, i, o)
                if (tag_from_object(opt, o, value_optional, tags, n, err) < 0)
                        return -1;
        return 0;
}

int cli_parse_tags(const cli_args *args, const char *opt, bool value_optional, kiln_tag **ret,
                   size_t *ret_n, kiln_error **err)
{
        const char **raw = NULL;
        size_t n = cli_arg_all(args, opt, &raw);
        kiln_tag *tags = NULL;
        size_t nt = 0;
        int rc = 0;

        for (size_t i = 0; rc == 0 && i < n; i++) {
                json_t *j = cli_option_json(opt, raw[i], err);

                rc = j ? tags_from_json(opt, j, value_optional, &tags, &nt, err) : -1;
                json_decref(j);
        }
        free(raw);
        if (rc < 0) {
                kiln_tags_free(tags, nt);
                return -1;
        }
        *ret = tags;
        *ret_n = nt;
        return 0;
}

void cli_tag_specs_free(cli_tag_specs *s)
{
        for (size_t i = 0; i < s->n; i++) {
                free((char *) s->specs[i].resource_type);
                kiln_tags_free((kiln_tag *) s->specs[i].tags, s->specs[i].n_tags);
        }
        free(s->specs);
        memset(s, 0, sizeof(*s));
}

static int spec_from_object(json_t *o, cli_tag_specs *s, kiln_error **err)
{
        static const char *const opt = "tag-specifications";
        static const char *const members[] = {"ResourceType", "Tags", NULL};
        json_t *type = json_object_get(o, "ResourceType"), *tags = json_object_get(o, "Tags");
        kiln_tag_spec *spec;
        kiln_tag *list = NULL;
        size_t n = 0;

        if (!json_is_object(o) || !json_is_string(type))
                return bad_value(opt, "each item needs a ResourceType", err);
        if (only_members(opt, o, members, err) < 0)
                return -1;
        if (tags && tags_from_json(opt, tags, false, &list, &n, err) < 0) {
                kiln_tags_free(list, n);
                return -1;
        }
        s->specs = grow(s->specs, s->n + 1, sizeof(*s->specs));
        spec = &s->specs[s->n++];
        spec->resource_type = copy_text(json_string_value(type));
        spec->tags = list;
        spec->n_tags = n;
        return 0;
}

static int specs_from_json(json_t *j, cli_tag_specs *s, kiln_error **err)
{
        size_t i;
        json_t *o;

        if (json_is_object(j))
                return spec_from_object(j, s, err);
        if (!json_is_array(j))
                return bad_value("tag-specifications",
                                 "expected ResourceType=TYPE,Tags=[{Key=K,Value=V}]", err);
        json_array_foreach (j, i, o)
                if (spec_from_object(o, s, err) < 0)
                        return -1;
        return 0;
}

int cli_parse_tag_specs(const cli_args *args, cli_tag_specs *ret, kiln_error **err)
{
        const char **raw = NULL;
        size_t n = cli_arg_all(args, "tag-specifications", &raw);
        cli_tag_specs s = {0};
        int rc = 0;

        for (size_t i = 0; rc == 0 && i < n; i++) {
                json_t *j = cli_option_json("tag-specifications", raw[i], err);

                rc = j ? specs_from_json(j, &s, err) : -1;
                json_decref(j);
        }
        free(raw);
        if (rc < 0) {
                cli_tag_specs_free(&s);
                return -1;
        }
        *ret = s;
        return 0;
}
