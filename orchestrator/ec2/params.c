/* The Query API's parameters: a form-encoded body (POST) or query string (GET), decoded into
 * name/value pairs; lists and structures are flattened with 1-based indexes. Every parameter
 * an action reads is marked, so that the rest can be refused as UnknownParameter. */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec2-private.h"

#define MAX_PARAMS 4096
#define MAX_LIST   1000

static char *dup_or_die(const char *s, size_t n)
{
        char *d = strndup(s, n);

        if (!d)
                abort();
        return d;
}

void ec2_params_free(ec2_params *ps)
{
        for (size_t i = 0; i < ps->n; i++) {
                free((char *) ps->p[i].name);
                free((char *) ps->p[i].value);
        }
        free(ps->p);
        free(ps->used);
        memset(ps, 0, sizeof(*ps));
}

void ec2_params_add(ec2_params *ps, const char *name, const char *value)
{
        ps->p = realloc(ps->p, (ps->n + 1) * sizeof(*ps->p));
        ps->used = realloc(ps->used, (ps->n + 1) * sizeof(*ps->used));
        if (!ps->p || !ps->used)
                abort();
        ps->p[ps->n].name = dup_or_die(name, strlen(name));
        ps->p[ps->n].value = dup_or_die(value ? value : "", value ? strlen(value) : 0);
        ps->used[ps->n] = false;
        ps->n++;
}

/* s[0..n) with '+' as a space and %XX decoded by libmicrohttpd's unescaper. */
static char *form_decode(const char *s, size_t n)
{
        char *d = dup_or_die(s, n);

        for (char *p = d; *p; p++)
                if (*p == '+')
                        *p = ' ';
        d[MHD_http_unescape(d)] = '\0';
        return d;
}

int ec2_params_parse_form(ec2_params *ps, const char *text, size_t len, kiln_error **err)
{
        const char *p = text, *end = text + len;

        while (p < end) {
                const char *amp = memchr(p, '&', (size_t) (end - p));
                const char *stop = amp ? amp : end;
                const char *eq = memchr(p, '=', (size_t) (stop - p));
                char *name, *value;

                if (stop == p) {
                        p = stop + 1;
                        continue;
                }
                if (ps->n >= MAX_PARAMS)
                        return kiln_error_set(err, KILN_E_INVALID, "MalformedQueryString",
                                              "More than %d parameters", MAX_PARAMS);
                name = form_decode(p, (size_t) ((eq ? eq : stop) - p));
                value = eq ? form_decode(eq + 1, (size_t) (stop - eq - 1)) : dup_or_die("", 0);
                if (!*name) {
                        free(name);
                        free(value);
                        return kiln_error_set(err, KILN_E_INVALID, "MalformedQueryString",
                                              "A parameter has no name");
                }
                ec2_params_add(ps, name, value);
                free(name);
                free(value);
                p = stop + 1;
        }
        return 0;
}

const char *ec2_param(ec2_params *ps, const char *name)
{
        const char *v = NULL;

        for (size_t i = 0; i < ps->n; i++)
                if (strcmp(ps->p[i].name, name) == 0) {
                        ps->used[i] = true;
                        v = ps->p[i].value;
                }
        return v;
}

const char *ec2_param_prefixed(const ec2_params *ps, const char *prefix)
{
        size_t n = strlen(prefix);

        for (size_t i = 0; i < ps->n; i++)
                if (strncmp(ps->p[i].name, prefix, n) == 0)
                        return ps->p[i].name;
        return NULL;
}

size_t ec2_param_list(ec2_params *ps, const char *prefix, const char ***ret)
{
        const char **list = NULL;
        size_t n = 0;

        for (size_t i = 1; i <= MAX_LIST; i++) {
                char name[256];
                const char *v;

                snprintf(name, sizeof(name), "%s.%zu", prefix, i);
                v = ec2_param(ps, name);
                if (!v)
                        break;
                list = realloc(list, (n + 1) * sizeof(*list));
                if (!list)
                        abort();
                list[n++] = v;
        }
        *ret = list;
        return n;
}

void ec2_filters_free(kiln_filter *f, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free((void *) f[i].values);
        free(f);
}

int ec2_param_filters(ec2_params *ps, kiln_filter **ret, size_t *ret_n, kiln_error **err)
{
        kiln_filter *f = NULL;
        size_t n = 0;

        for (size_t i = 1; i <= MAX_LIST; i++) {
                char name[64], values[64];
                const char *fname;
                const char **v = NULL;
                size_t nv;

                snprintf(name, sizeof(name), "Filter.%zu.Name", i);
                snprintf(values, sizeof(values), "Filter.%zu.Value", i);
                fname = ec2_param(ps, name);
                nv = ec2_param_list(ps, values, &v);
                if (!fname && !nv)
                        break;
                if (!fname) {
                        free(v);
                        ec2_filters_free(f, n);
                        return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                              "The request must contain the parameter "
                                              "Filter.%zu.Name",
                                              i);
                }
                f = realloc(f, (n + 1) * sizeof(*f));
                if (!f)
                        abort();
                f[n].name = fname;
                f[n].values = v;
                f[n].n_values = nv;
                n++;
        }
        *ret = f;
        *ret_n = n;
        return 0;
}

int ec2_param_bool(ec2_params *ps, const char *name, bool def, bool *ret, kiln_error **err)
{
        const char *v = ec2_param(ps, name);

        if (!v) {
                *ret = def;
                return 0;
        }
        if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
                *ret = v[0] == 't';
                return 0;
        }
        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                              "Value (%s) for parameter %s is invalid. Expected: 'true' or "
                              "'false'.",
                              v, name);
}

int ec2_params_check_used(ec2_params *ps, kiln_error **err)
{
        for (size_t i = 0; i < ps->n; i++)
                if (!ps->used[i])
                        return kiln_error_set(err, KILN_E_INVALID, "UnknownParameter",
                                              "The parameter %s is not recognized", ps->p[i].name);
        return 0;
}
