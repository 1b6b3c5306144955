/* The aws CLI's argument forms that several verbs share: --filters "Name=N,Values=a,b",
 * permission shorthand "Add=[{UserId=...},{Group=all}],Remove=[...]" or its JSON, and lists of
 * option values. Parsing only: the library checks the values. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

size_t cli_arg_all(const cli_args *args, const char *name, const char ***ret)
{
        const char **v = NULL;
        size_t n = 0;

        for (size_t i = 0; i < args->n_values; i++)
                if (strcmp(args->values[i].opt->name, name) == 0) {
                        v = realloc(v, (n + 1) * sizeof(*v));
                        if (!v)
                                abort();
                        v[n++] = args->values[i].value;
                }
        *ret = v;
        return n;
}

void cli_filters_free(kiln_filter *f, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free((char *) f[i].name);
                for (size_t k = 0; k < f[i].n_values; k++)
                        free((char *) f[i].values[k]);
                free((void *) f[i].values);
        }
        free(f);
}

static void filter_push_value(kiln_filter *f, const char *s, size_t len)
{
        const char **v = realloc((void *) f->values, (f->n_values + 1) * sizeof(*v));
        char *copy = strndup(s, len);

        if (!v || !copy)
                abort();
        v[f->n_values++] = copy;
        f->values = v;
}

static int filter_from_json(json_t *o, kiln_filter *f)
{
        json_t *name = json_object_get(o, "Name"), *values = json_object_get(o, "Values");
        size_t i;
        json_t *v;

        if (!json_is_string(name) || !json_is_array(values))
                return -1;
        f->name = strdup(json_string_value(name));
        json_array_foreach (values, i, v) {
                if (!json_is_string(v))
                        return -1;
                filter_push_value(f, json_string_value(v), strlen(json_string_value(v)));
        }
        return 0;
}

/* "Name=state,Values=available,pending" */
static int filter_from_shorthand(const char *s, kiln_filter *f)
{
        const char *vals;

        if (strncmp(s, "Name=", 5) != 0)
                return -1;
        vals = strstr(s, ",Values=");
        if (!vals || vals == s + 5)
                return -1;
        f->name = strndup(s + 5, (size_t) (vals - (s + 5)));
        for (const char *p = vals + 8;;) {
                const char *comma = strchr(p, ',');
                size_t len = comma ? (size_t) (comma - p) : strlen(p);

                filter_push_value(f, p, len);
                if (!comma)
                        break;
                p = comma + 1;
        }
        return 0;
}

int cli_parse_filters(const cli_args *args, kiln_filter **ret, size_t *ret_n)
{
        const char **raw = NULL;
        size_t n = cli_arg_all(args, "filters", &raw);
        kiln_filter *f = NULL;
        size_t nf = 0;

        for (size_t i = 0; i < n; i++) {
                if (raw[i][0] == '[' || raw[i][0] == '{') {
                        json_t *j = json_loads(raw[i], JSON_REJECT_DUPLICATES, NULL);
                        size_t k;
                        json_t *o;

                        if (json_is_object(j)) {
                                json_t *arr = json_array();

                                json_array_append(arr, j);
                                json_decref(j);
                                j = arr;
                        }
                        if (!json_is_array(j)) {
                                int r = cli_usage_error("invalid --filters '%s': expected "
                                                        "Name=NAME,Values=V1,V2 or JSON",
                                                        raw[i]);

                                json_decref(j);
                                free(raw);
                                cli_filters_free(f, nf);
                                return r;
                        }
                        json_array_foreach (j, k, o) {
                                f = realloc(f, (nf + 1) * sizeof(*f));
                                if (!f)
                                        abort();
                                memset(&f[nf], 0, sizeof(*f));
                                if (filter_from_json(o, &f[nf++]) < 0) {
                                        json_decref(j);
                                        cli_filters_free(f, nf);
                                        fprintf(stderr, "kiln: invalid --filters: each item "
                                                        "needs \"Name\" and \"Values\"\n");
                                        free(raw);
                                        return CLI_EXIT_USAGE;
                                }
                        }
                        json_decref(j);
                        continue;
                }
                f = realloc(f, (nf + 1) * sizeof(*f));
                if (!f)
                        abort();
                memset(&f[nf], 0, sizeof(*f));
                if (filter_from_shorthand(raw[i], &f[nf++]) < 0) {
                        int r = cli_usage_error("invalid --filters '%s': expected "
                                                "Name=NAME,Values=V1,V2",
                                                raw[i]);

                        free(raw);
                        cli_filters_free(f, nf);
                        return r;
                }
        }
        free(raw);
        *ret = f;
        *ret_n = nf;
        return 0;
}

/* ---- permissions ---- */

void cli_perm_change_free(cli_perm_change *c)
{
        kiln_permissions_free(c->add, c->n_add);
        kiln_permissions_free(c->remove, c->n_remove);
        memset(c, 0, sizeof(*c));
}

static int perm_push(kiln_permission **list, size_t *n, const char *kind, const char *value,
                     kiln_error **err)
{
        kiln_permission p;

        if (kiln_permission_parse(kind, value, &p, err) < 0)
                return -1;
        *list = realloc(*list, (*n + 1) * sizeof(**list));
        if (!*list)
                abort();
        (*list)[(*n)++] = p;
        return 0;
}

static int perm_from_json(const char *text, cli_perm_change *c, kiln_error **err)
{
        json_error_t jerr;
        json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        static const char *const sections[] = {"Add", "Remove"};
        int rc = 0;

        if (!json_is_object(root)) {
                json_decref(root);
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "invalid permission JSON: %s",
                                      root ? "not an object" : jerr.text);
        }
        for (int s = 0; rc == 0 && s < 2; s++) {
                json_t *arr = json_object_get(root, sections[s]);
                size_t i;
                json_t *item;

                if (!arr)
                        continue;
                json_array_foreach (arr, i, item) {
                        const char *key;
                        json_t *v;

                        json_object_foreach (item, key, v) {
                                if (rc == 0)
                                        rc = perm_push(s == 0 ? &c->add : &c->remove,
                                                       s == 0 ? &c->n_add : &c->n_remove, key,
                                                       json_string_value(v), err);
                        }
                }
        }
        json_decref(root);
        return rc;
}

/* Add=[{UserId=1},{Group=all}],Remove=[{OrganizationArn=arn:...}] */
static int perm_from_shorthand(const char *text, cli_perm_change *c, kiln_error **err)
{
        const char *p = text;

        while (*p) {
                bool add;
                const char *end;

                if (strncmp(p, "Add=[", 5) == 0)
                        add = true;
                else if (strncmp(p, "Remove=[", 8) == 0)
                        add = false;
                else
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "invalid permission '%s': expected "
                                              "Add=[{UserId=ID},{Group=all}],Remove=[...]",
                                              text);
                p += add ? 5 : 8;
                end = strchr(p, ']');
                if (!end)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "invalid permission '%s': missing ']'", text);
                while (p < end) {
                        const char *close = memchr(p, '}', (size_t) (end - p));
                        const char *eq;
                        char *kind, *value;
                        int rc;

                        if (*p == ',') {
                                p++;
                                continue;
                        }
                        eq = close ? memchr(p, '=', (size_t) (close - p)) : NULL;
                        if (*p != '{' || !close || !eq)
                                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                                      "invalid permission item in '%s': "
                                                      "expected {Kind=Value}",
                                                      text);
                        kind = strndup(p + 1, (size_t) (eq - p - 1));
                        value = strndup(eq + 1, (size_t) (close - eq - 1));
                        rc = perm_push(add ? &c->add : &c->remove, add ? &c->n_add : &c->n_remove,
                                       kind, value, err);
                        free(kind);
                        free(value);
                        if (rc < 0)
                                return -1;
                        p = close + 1;
                }
                p = end + 1;
                if (*p == ',')
                        p++;
        }
        return 0;
}

int cli_parse_permission(const char *text, cli_perm_change *c, kiln_error **err)
{
        if (text[0] == '{')
                return perm_from_json(text, c, err);
        return perm_from_shorthand(text, c, err);
}

/* --operation-type add|remove with --user-ids, --user-groups/--group-names,
 * --organization-arns. */
int cli_parse_flat_permission(const cli_args *args, const char *groups_opt, cli_perm_change *c,
                              kiln_error **err)
{
        const char *op = cli_arg_get(args, "operation-type");
        const char **v = NULL;
        size_t n;
        bool add;
        int rc = 0;

        if (!op || (strcmp(op, "add") != 0 && strcmp(op, "remove") != 0))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "--operation-type must be add or remove");
        add = strcmp(op, "add") == 0;
        n = cli_arg_all(args, "user-ids", &v);
        for (size_t i = 0; rc == 0 && i < n; i++)
                rc = perm_push(add ? &c->add : &c->remove, add ? &c->n_add : &c->n_remove, "UserId",
                               v[i], err);
        free(v);
        n = cli_arg_all(args, groups_opt, &v);
        for (size_t i = 0; rc == 0 && i < n; i++)
                rc = perm_push(add ? &c->add : &c->remove, add ? &c->n_add : &c->n_remove, "Group",
                               v[i], err);
        free(v);
        n = cli_arg_all(args, "organization-arns", &v);
        for (size_t i = 0; rc == 0 && i < n; i++)
                rc = perm_push(add ? &c->add : &c->remove, add ? &c->n_add : &c->n_remove,
                               "OrganizationArn", v[i], err);
        free(v);
        return rc;
}

int cli_read_value(const char *option, const char *arg, size_t max, char **ret, size_t *ret_len)
{
        const char *path = NULL;
        FILE *f;
        size_t n;
        char *buf;

        if (strncmp(arg, "file://", 7) == 0)
                path = arg + 7;
        else if (strncmp(arg, "fileb://", 8) == 0)
                path = arg + 8;
        if (!path) {
                *ret = strdup(arg);
                if (!*ret)
                        abort();
                *ret_len = strlen(arg);
                return 0;
        }
        f = fopen(path, "rb");
        if (!f)
                return cli_usage_error("cannot read %s '%s': %s", option, path, strerror(errno));
        buf = malloc(max + 1);
        if (!buf)
                abort();
        n = fread(buf, 1, max, f);
        fclose(f);
        buf[n] = '\0';
        *ret = buf;
        *ret_len = n; /* a larger file is cut at max, and refused as over the limit */
        return 0;
}
