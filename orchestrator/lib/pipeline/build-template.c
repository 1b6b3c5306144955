/* Build templates: the JSON file `kiln build` follows, read and checked completely before
 * anything is launched. Every error names the file and either the line and column (bad JSON)
 * or the JSON path of the bad value ("$.configure[2].run: expected a string"), so a mistake
 * costs seconds, not a guest boot.
 *
 * Every string value goes through one substitution pass: {{timestamp}} becomes the UTC time of
 * the load as YYYYMMDDhhmmss (the same value everywhere), and {{var.NAME}} the value given by
 * the caller or else the default in "variables". A variable's value may itself use
 * {{timestamp}} but is not searched for {{var.…}} again, so there is no recursion. Any other
 * "{{…}}" text is left alone: shell commands and user data use braces of their own (docker's
 * --format '{{.Id}}', cloud-init's jinja). Relative paths of local files (script, motd_script,
 * upload's SRC) are made absolute against the template's directory and must be readable
 * files now. The format is also described by templates/build.schema.json. */
#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <kiln/build.h>
#include <kiln/tag.h>
#include <kiln/text.h>

#include "util/json.h"
#include "util/util.h"

#define TEMPLATE_MAX_BYTES (1 << 20)

/* What one load needs besides the JSON: the file, its directory, the vars and the time. */
typedef struct tpl {
        const char *path; /* as the caller gave it, for messages */
        char *dir;        /* absolute directory of the template */
        char stamp[16];   /* YYYYMMDDhhmmss */
        const kiln_build_var *vars;
        size_t n_vars;
        json_t *defaults; /* $.variables (borrowed from the document), or NULL */
} tpl;

enum {
        STR_REQUIRED = 1 << 0, /* "missing" if absent */
        STR_NONEMPTY = 1 << 1, /* "must not be empty" after substitution */
};

kiln_build_template *kiln_build_template_free(kiln_build_template *t)
{
        if (!t)
                return NULL;
        free(t->path);
        free(t->source_image_id);
        free(t->source_name_filter);
        free(t->source_catalog);
        free(t->instance_type);
        free(t->key_name);
        free(t->user_data);
        free(t->network);
        for (size_t i = 0; t->steps && i < t->n_steps; i++)
                free((char *) t->steps[i].arg);
        free(t->steps);
        free(t->image_name);
        free(t->image_description);
        for (size_t i = 0; t->image_tags && i < t->n_image_tags; i++) {
                free(t->image_tags[i].key);
                free(t->image_tags[i].value);
        }
        free(t->image_tags);
        kiln_strv_free(t->tests, t->n_tests);
        kiln_strv_free(t->regions, t->n_regions);
        kiln_strv_free(t->share_accounts, t->n_share_accounts);
        kiln_strv_free(t->share_organizations, t->n_share_organizations);
        free(t);
        return NULL;
}

/* ---- errors and JSON paths ---- */

__attribute__((format(printf, 4, 5))) static int bad(const tpl *c, kiln_error **err,
                                                     const char *where, const char *fmt, ...)
{
        kiln_autofree char *what = NULL;
        va_list ap;

        va_start(ap, fmt);
        what = kiln_xvasprintf(fmt, ap);
        va_end(ap);
        return kiln_error_set(err, KILN_E_INVALID, NULL, "%s: %s: %s", c->path, where, what);
}

/* Letters, digits, '_' and '-', not starting with a digit or '-': variable names, and the
 * object keys a path can show after a dot. */
static bool plain_name(const char *s, size_t n)
{
        if (n == 0 ||
            !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++) {
                char ch = s[i];

                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
                        return false;
        }
        return true;
}

static char *path_key(const char *where, const char *key)
{
        if (plain_name(key, strlen(key)))
                return kiln_xasprintf("%s.%s", where, key);
        return kiln_xasprintf("%s['%s']", where, key);
}

static char *path_index(const char *where, size_t i)
{
        return kiln_xasprintf("%s[%zu]", where, i);
}

/* o must be an object whose keys are all in allowed (NULL-terminated). */
static int check_keys(const tpl *c, json_t *o, const char *const *allowed, const char *where,
                      kiln_error **err)
{
        const char *key;
        json_t *v;

        if (!json_is_object(o))
                return bad(c, err, where, "expected an object");
        json_object_foreach (o, key, v) {
                bool known = false;

                for (size_t i = 0; allowed[i] && !known; i++)
                        known = strcmp(allowed[i], key) == 0;
                if (!known) {
                        kiln_autofree char *at = path_key(where, key);

                        return bad(c, err, at, "unknown key");
                }
        }
        return 0;
}

/* ---- substitution ---- */

/* The value of variable name: the caller's (the last one given wins), else the default. */
static const char *var_value(const tpl *c, const char *name)
{
        json_t *d;

        for (size_t i = c->n_vars; i > 0; i--)
                if (strcmp(c->vars[i - 1].key, name) == 0)
                        return c->vars[i - 1].value;
        d = c->defaults ? json_object_get(c->defaults, name) : NULL;
        return d ? json_string_value(d) : NULL;
}

/* Appends s to b with {{timestamp}} (and, if vars is set, {{var.NAME}}) replaced. */
static int expand_into(const tpl *c, kiln_buf *b, const char *s, bool vars, const char *where,
                       kiln_error **err)
{
        static const char stamp_tag[] = "{{timestamp}}";
        static const char var_tag[] = "{{var.";
        const char *p = s;

        for (;;) {
                const char *open = strstr(p, "{{");
                const char *name, *value;
                size_t n;

                if (!open) {
                        kiln_buf_append(b, p, strlen(p));
                        return 0;
                }
                kiln_buf_append(b, p, (size_t) (open - p));
                if (strncmp(open, stamp_tag, sizeof(stamp_tag) - 1) == 0) {
                        kiln_buf_append(b, c->stamp, strlen(c->stamp));
                        p = open + sizeof(stamp_tag) - 1;
                        continue;
                }
                if (!vars || strncmp(open, var_tag, sizeof(var_tag) - 1) != 0) {
                        kiln_buf_append(b, "{{", 2);
                        p = open + 2;
                        continue;
                }
                name = open + sizeof(var_tag) - 1;
                n = strcspn(name, "}");
                if (strncmp(name + n, "}}", 2) != 0 || !plain_name(name, n))
                        return bad(c, err, where,
                                   "'{{var.' must be followed by a variable name (letters, "
                                   "digits, '_' and '-') and '}}'");
                {
                        kiln_autofree char *key = kiln_xstrndup(name, n);

                        value = var_value(c, key);
                        if (!value)
                                return bad(c, err, where, "{{var.%s}} names an undefined variable",
                                           key);
                }
                if (expand_into(c, b, value, false, where, err) < 0)
                        return -1;
                p = name + n + 2;
        }
}

static int expand(const tpl *c, const char *s, const char *where, char **ret, kiln_error **err)
{
        kiln_buf b = {0};

        if (expand_into(c, &b, s, true, where, err) < 0) {
                kiln_buf_clear(&b);
                return -1;
        }
        *ret = kiln_buf_steal(&b);
        return 0;
}

/* ---- typed values ---- */

/* A string value v at where, substituted, into *ret. */
static int string_value(const tpl *c, json_t *v, const char *where, int flags, char **ret,
                        kiln_error **err)
{
        kiln_autofree char *s = NULL;

        if (!json_is_string(v))
                return bad(c, err, where, "expected a string");
        if (expand(c, json_string_value(v), where, &s, err) < 0)
                return -1;
        if ((flags & STR_NONEMPTY) && !*s)
                return bad(c, err, where, "must not be empty");
        *ret = kiln_steal(&s);
        return 0;
}

/* Member key of object o (at where): *ret stays NULL if it is absent and not required. */
static int get_string(const tpl *c, json_t *o, const char *key, const char *where, int flags,
                      char **ret, kiln_error **err)
{
        json_t *v = json_object_get(o, key);
        kiln_autofree char *at = path_key(where, key);

        if (!v) {
                if (flags & STR_REQUIRED)
                        return bad(c, err, at, "missing");
                return 0;
        }
        return string_value(c, v, at, flags, ret, err);
}

static int get_bool(const tpl *c, json_t *o, const char *key, const char *where, bool *ret,
                    kiln_error **err)
{
        json_t *v = json_object_get(o, key);

        if (!v)
                return 0;
        if (!json_is_boolean(v)) {
                kiln_autofree char *at = path_key(where, key);

                return bad(c, err, at, "expected true or false");
        }
        *ret = json_is_true(v);
        return 0;
}

/* An optional array of non-empty strings; each element is checked by valid (if not NULL),
 * whose failure is reported as "expected <what>", and must not repeat an earlier one. */
static int get_strings(const tpl *c, json_t *o, const char *key, const char *where,
                       bool (*valid)(const char *), const char *what, char ***ret, size_t *ret_n,
                       kiln_error **err)
{
        json_t *arr = json_object_get(o, key);
        kiln_autofree char *at = path_key(where, key);
        size_t i;
        json_t *v;

        if (!arr)
                return 0;
        if (!json_is_array(arr))
                return bad(c, err, at, "expected an array");
        *ret = kiln_xcalloc(json_array_size(arr) + 1, sizeof(char *));
        *ret_n = json_array_size(arr);
        json_array_foreach (arr, i, v) {
                kiln_autofree char *at_i = path_index(at, i);

                if (string_value(c, v, at_i, STR_NONEMPTY, &(*ret)[i], err) < 0)
                        return -1;
                if (valid && !valid((*ret)[i]))
                        return bad(c, err, at_i, "expected %s", what);
                for (size_t j = 0; j < i; j++)
                        if (strcmp((*ret)[j], (*ret)[i]) == 0)
                                return bad(c, err, at_i, "'%s' is listed twice", (*ret)[i]);
        }
        return 0;
}

/* ---- local files ---- */

/* dir/rel without doubling the slash when dir is "/". */
static char *path_join(const char *dir, const char *rel)
{
        size_t n = strlen(dir);

        return kiln_xasprintf("%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", rel);
}

/* The absolute directory of the template, without resolving symbolic links: relative paths in
 * it are meant relative to where the user keeps it. */
static int template_dir(const char *path, char **ret, kiln_error **err)
{
        const char *slash = strrchr(path, '/');
        kiln_autofree char *dir = NULL;
        kiln_autofree char *cwd = NULL;
        const char *rel;

        if (slash == path)
                dir = kiln_xstrdup("/");
        else if (slash)
                dir = kiln_xstrndup(path, (size_t) (slash - path));
        else
                dir = kiln_xstrdup(".");
        if (dir[0] == '/') {
                *ret = kiln_steal(&dir);
                return 0;
        }
        cwd = getcwd(NULL, 0);
        if (!cwd)
                return kiln_error_set_errno(err, errno, KILN_E_IO,
                                            "cannot resolve the directory of '%s'", path);
        rel = dir;
        while (rel[0] == '.' && (rel[1] == '/' || rel[1] == '\0')) {
                rel += rel[1] ? 2 : 1;
                while (*rel == '/')
                        rel++;
        }
        *ret = *rel ? path_join(cwd, rel) : kiln_steal(&cwd);
        return 0;
}

static char *resolve(const tpl *c, const char *p)
{
        if (p[0] == '/')
                return kiln_xstrdup(p);
        while (p[0] == '.' && p[1] == '/') {
                p += 2;
                while (*p == '/')
                        p++;
        }
        return path_join(c->dir, p);
}

/* The file must be there now: finding out after a guest boot would cost minutes. */
static int check_file(const tpl *c, const char *file, const char *where, kiln_error **err)
{
        struct stat st;

        if (stat(file, &st) < 0 || access(file, R_OK) < 0)
                return bad(c, err, where, "cannot read '%s': %s", file, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return bad(c, err, where, "'%s' is not a regular file", file);
        return 0;
}

/* ---- sections ---- */

static int parse_variables(tpl *c, json_t *root, kiln_error **err)
{
        json_t *vars = json_object_get(root, "variables");
        const char *key;
        json_t *v;

        if (!vars)
                return 0;
        if (!json_is_object(vars))
                return bad(c, err, "$.variables", "expected an object");
        json_object_foreach (vars, key, v) {
                kiln_autofree char *at = path_key("$.variables", key);

                if (!plain_name(key, strlen(key)))
                        return bad(c, err, at,
                                   "a variable name holds letters, digits, '_' and '-', and "
                                   "starts with a letter or '_'");
                if (!json_is_string(v))
                        return bad(c, err, at, "expected a string");
        }
        c->defaults = vars;
        return 0;
}

static int parse_source(const tpl *c, kiln_build_template *t, json_t *root, kiln_error **err)
{
        static const char *const keys[] = {"image_id", "name", "catalog", NULL};
        json_t *src = json_object_get(root, "source");
        const char *at = "$.source";

        if (!src)
                return bad(c, err, at, "missing");
        if (check_keys(c, src, keys, at, err) < 0)
                return -1;
        if (json_object_size(src) != 1)
                return bad(c, err, at, "give exactly one of image_id, name, catalog");
        if (get_string(c, src, "image_id", at, STR_NONEMPTY, &t->source_image_id, err) < 0 ||
            get_string(c, src, "name", at, STR_NONEMPTY, &t->source_name_filter, err) < 0 ||
            get_string(c, src, "catalog", at, STR_NONEMPTY, &t->source_catalog, err) < 0)
                return -1;
        if (t->source_image_id && !kiln_id_valid("ami", t->source_image_id))
                return bad(c, err, "$.source.image_id",
                           "expected an image ID (ami- and 8 or 17 lowercase hex digits)");
        return 0;
}

static int parse_instance(const tpl *c, kiln_build_template *t, json_t *root, kiln_error **err)
{
        static const char *const keys[] = {"type", "key_name", "user_data", "network", NULL};
        json_t *inst = json_object_get(root, "instance");
        const char *at = "$.instance";

        if (!inst)
                return 0;
        if (check_keys(c, inst, keys, at, err) < 0 ||
            get_string(c, inst, "type", at, STR_NONEMPTY, &t->instance_type, err) < 0 ||
            get_string(c, inst, "key_name", at, STR_NONEMPTY, &t->key_name, err) < 0 ||
            get_string(c, inst, "user_data", at, STR_NONEMPTY, &t->user_data, err) < 0 ||
            get_string(c, inst, "network", at, STR_NONEMPTY, &t->network, err) < 0)
                return -1;
        return 0;
}

/* SRC:DEST[:MODE] as the configure step reads it, with SRC made absolute. */
static int upload_arg(const tpl *c, const char *s, const char *where, char **ret, kiln_error **err)
{
        const char *c1 = strchr(s, ':');
        const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        kiln_autofree char *src = NULL;

        if (!c1 || c1 == s || c1[1] != '/')
                return bad(c, err, where, "expected SRC:/ABSOLUTE/DEST[:MODE]");
        if (c2) {
                size_t n = strlen(c2 + 1);

                if (n < 1 || n > 4 || strspn(c2 + 1, "01234567") != n)
                        return bad(c, err, where, "the mode must be octal, like 0644");
        }
        {
                kiln_autofree char *given = kiln_xstrndup(s, (size_t) (c1 - s));

                src = resolve(c, given);
        }
        /* The first ':' ends SRC, so a directory with one cannot be expressed. */
        if (strchr(src, ':'))
                return bad(c, err, where, "the source path '%s' contains ':'", src);
        if (check_file(c, src, where, err) < 0)
                return -1;
        *ret = kiln_xasprintf("%s%s", src, c1);
        return 0;
}

static const struct {
        const char *key;
        kiln_step_kind kind;
} step_keys[] = {
        {"run", KILN_STEP_RUN},
        {"script", KILN_STEP_SCRIPT},
        {"upload", KILN_STEP_UPLOAD},
        {"motd_script", KILN_STEP_MOTD_SCRIPT},
        {"motd_message", KILN_STEP_MOTD_MESSAGE},
        {"reboot", KILN_STEP_REBOOT},
};

static int parse_step(const tpl *c, json_t *o, const char *where, kiln_configure_step *step,
                      kiln_error **err)
{
        static const char *const keys[] = {"run",          "script", "upload", "motd_script",
                                           "motd_message", "reboot", NULL};
        void *it;
        const char *key;
        json_t *v;
        kiln_autofree char *at = NULL;
        kiln_autofree char *s = NULL;

        if (check_keys(c, o, keys, where, err) < 0)
                return -1;
        if (json_object_size(o) != 1)
                return bad(c, err, where,
                           "expected exactly one of run, script, upload, motd_script, "
                           "motd_message, reboot");
        it = json_object_iter(o);
        key = json_object_iter_key(it);
        v = json_object_iter_value(it);
        at = path_key(where, key);
        for (size_t i = 0; i < KILN_ARRAY_SIZE(step_keys); i++)
                if (strcmp(step_keys[i].key, key) == 0)
                        step->kind = step_keys[i].kind;
        if (step->kind == KILN_STEP_REBOOT) {
                if (!json_is_boolean(v))
                        return bad(c, err, at, "expected true");
                if (!json_is_true(v))
                        return bad(c, err, at, "must be true (leave the step out not to reboot)");
                step->arg = NULL;
                return 0;
        }
        if (string_value(c, v, at, STR_NONEMPTY, &s, err) < 0)
                return -1;
        switch (step->kind) {
        case KILN_STEP_SCRIPT:
        case KILN_STEP_MOTD_SCRIPT: {
                kiln_autofree char *file = resolve(c, s);

                if (check_file(c, file, at, err) < 0)
                        return -1;
                if (step->kind == KILN_STEP_MOTD_SCRIPT && !kiln_motd_script_name_valid(file))
                        return bad(c, err, at,
                                   "run-parts would skip it in /etc/update-motd.d/: the file "
                                   "name may hold only letters, digits, '_' and '-'");
                step->arg = kiln_steal(&file);
                return 0;
        }
        case KILN_STEP_UPLOAD: {
                char *arg = NULL;

                if (upload_arg(c, s, at, &arg, err) < 0)
                        return -1;
                step->arg = arg;
                return 0;
        }
        case KILN_STEP_RUN:
        case KILN_STEP_MOTD_MESSAGE:
        case KILN_STEP_REBOOT:
                break;
        }
        step->arg = kiln_steal(&s);
        return 0;
}

static int parse_configure(const tpl *c, kiln_build_template *t, json_t *root, kiln_error **err)
{
        json_t *arr = json_object_get(root, "configure");
        size_t i;
        json_t *o;

        if (!arr)
                return 0;
        if (!json_is_array(arr))
                return bad(c, err, "$.configure", "expected an array");
        /* Counted in full at once: unfilled steps have a NULL arg, which frees fine. */
        t->steps = kiln_xcalloc(json_array_size(arr) + 1, sizeof(*t->steps));
        t->n_steps = json_array_size(arr);
        json_array_foreach (arr, i, o) {
                kiln_autofree char *at = path_index("$.configure", i);

                if (parse_step(c, o, at, &t->steps[i], err) < 0)
                        return -1;
        }
        return 0;
}

static int parse_tags(const tpl *c, kiln_build_template *t, json_t *tags, kiln_error **err)
{
        const char *key;
        size_t i = 0;
        json_t *v;

        if (!json_is_object(tags))
                return bad(c, err, "$.image.tags", "expected an object");
        if (json_object_size(tags) > KILN_TAGS_MAX)
                return bad(c, err, "$.image.tags", "more than %d tags", KILN_TAGS_MAX);
        t->image_tags = kiln_xcalloc(json_object_size(tags) + 1, sizeof(*t->image_tags));
        t->n_image_tags = json_object_size(tags);
        json_object_foreach (tags, key, v) {
                kiln_autofree char *at = path_key("$.image.tags", key);
                kiln_tag *tag = &t->image_tags[i++];

                tag->key = kiln_xstrdup(key);
                if (string_value(c, v, at, 0, &tag->value, err) < 0)
                        return -1;
                if (kiln_tag_check(tag->key, tag->value, err) < 0) {
                        kiln_error_prefix(err, "%s: %s", c->path, at);
                        return -1;
                }
        }
        return 0;
}

static int parse_image(const tpl *c, kiln_build_template *t, json_t *root, kiln_error **err)
{
        static const char *const keys[] = {"name", "description", "tags", "generalize", NULL};
        json_t *img = json_object_get(root, "image");
        json_t *tags;

        if (!img)
                return bad(c, err, "$.image", "missing");
        if (check_keys(c, img, keys, "$.image", err) < 0 ||
            get_string(c, img, "name", "$.image", STR_REQUIRED | STR_NONEMPTY, &t->image_name,
                       err) < 0)
                return -1;
        if (kiln_image_name_check(t->image_name, err) < 0) {
                kiln_error_prefix(err, "%s: $.image.name", c->path);
                return -1;
        }
        if (get_string(c, img, "description", "$.image", 0, &t->image_description, err) < 0)
                return -1;
        if (kiln_image_description_check(t->image_description, err) < 0) {
                kiln_error_prefix(err, "%s: $.image.description", c->path);
                return -1;
        }
        tags = json_object_get(img, "tags");
        if (tags && parse_tags(c, t, tags, err) < 0)
                return -1;
        return get_bool(c, img, "generalize", "$.image", &t->generalize, err);
}

/* arn:aws:organizations::ACCOUNT:organization/o-ID, or the bare o-ID (as
 * modify-image-attribute takes it); ID is 10 to 32 lowercase letters or digits. */
static bool org_valid(const char *s)
{
        static const char lead[] = "arn:aws:organizations::";
        const char *id = s;
        size_t n;

        if (strncmp(s, lead, sizeof(lead) - 1) == 0) {
                const char *acct = s + sizeof(lead) - 1;
                kiln_autofree char *digits = kiln_xstrndup(acct, 12);

                if (!kiln_is_digits(digits, 12) || strncmp(acct + 12, ":organization/", 14) != 0)
                        return false;
                id = acct + 12 + 14;
        }
        if (strncmp(id, "o-", 2) != 0)
                return false;
        n = strlen(id + 2);
        return n >= 10 && n <= 32 && strspn(id + 2, "abcdefghijklmnopqrstuvwxyz0123456789") == n;
}

static bool account_valid(const char *s)
{
        return kiln_is_digits(s, 12);
}

static int parse_distribute(const tpl *c, kiln_build_template *t, json_t *root, kiln_error **err)
{
        static const char *const keys[] = {"regions", "accounts", "organizations", "public", NULL};
        json_t *d = json_object_get(root, "distribute");
        const char *at = "$.distribute";

        if (!d)
                return 0;
        if (check_keys(c, d, keys, at, err) < 0 ||
            get_strings(c, d, "regions", at, NULL, NULL, &t->regions, &t->n_regions, err) < 0 ||
            get_strings(c, d, "accounts", at, account_valid, "a 12-digit account ID",
                        &t->share_accounts, &t->n_share_accounts, err) < 0 ||
            get_strings(c, d, "organizations", at, org_valid,
                        "an organization ARN (arn:aws:organizations::ACCOUNT:organization/o-ID)",
                        &t->share_organizations, &t->n_share_organizations, err) < 0)
                return -1;
        return get_bool(c, d, "public", at, &t->share_public, err);
}

static int template_parse(tpl *c, kiln_build_template *t, json_t *root, kiln_error **err)
{
        static const char *const keys[] = {"description", "variables",  "source",
                                           "instance",    "configure",  "image",
                                           "test",        "distribute", NULL};
        kiln_autofree char *description = NULL;

        if (check_keys(c, root, keys, "$", err) < 0 || parse_variables(c, root, err) < 0 ||
            /* Not kept, but its placeholders are checked like any other string's. */
            get_string(c, root, "description", "$", 0, &description, err) < 0 ||
            parse_source(c, t, root, err) < 0 || parse_instance(c, t, root, err) < 0 ||
            parse_configure(c, t, root, err) < 0 || parse_image(c, t, root, err) < 0 ||
            get_strings(c, root, "test", "$", NULL, NULL, &t->tests, &t->n_tests, err) < 0 ||
            parse_distribute(c, t, root, err) < 0)
                return -1;
        return 0;
}

int kiln_build_template_load(const char *path, const kiln_build_var *vars, size_t n_vars,
                             kiln_build_template **ret, kiln_error **err)
{
        kiln_autoptr(kiln_build_template) t = NULL;
        kiln_autoptr(json_t) root = NULL;
        kiln_autofree char *text = NULL;
        kiln_autofree char *dir = NULL;
        json_error_t jerr;
        size_t len = 0;
        time_t now = time(NULL);
        struct tm tm;
        tpl c = {.path = path, .vars = vars, .n_vars = n_vars};

        assert(path && ret);
        assert(n_vars == 0 || vars);
        for (size_t i = 0; i < n_vars; i++)
                assert(vars[i].key && vars[i].value);
        if (!gmtime_r(&now, &tm) || strftime(c.stamp, sizeof(c.stamp), "%Y%m%d%H%M%S", &tm) != 14)
                return kiln_error_set(err, KILN_E_INTERNAL, NULL, "cannot format the time");
        if (kiln_file_read(path, TEMPLATE_MAX_BYTES, &text, &len, err) < 0)
                return -1;
        root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "%s:%d:%d: %s", path, jerr.line,
                                      jerr.column, jerr.text);
        if (template_dir(path, &dir, err) < 0)
                return -1;
        c.dir = dir;
        t = kiln_xcalloc(1, sizeof(*t));
        t->path = kiln_xstrdup(path);
        t->generalize = true;
        if (template_parse(&c, t, root, err) < 0)
                return -1;
        *ret = kiln_steal(&t);
        return 0;
}
