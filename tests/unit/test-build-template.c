/* Build templates: a full template read back field by field (every step kind, relative paths
 * made absolute against the template's directory, {{timestamp}} and {{var.NAME}}), the
 * defaults of a minimal one, each refusal with its exact message (the file and the line and
 * column, or the JSON path), and templates/build.schema.json as JSON whose objects all close
 * with "additionalProperties": false. Everything is written into a mkdtemp directory. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include <kiln/build.h>

#include "tap.h"
#include "util/util.h"

/* A source and an image name: the least a template needs. */
#define MINIMAL "\"source\": {\"name\": \"web-base-*\"}, \"image\": {\"name\": \"web\"}"

static char *tmpdir;

static char *write_file(const char *name, const char *text)
{
        char *path = kiln_xasprintf("%s/%s", tmpdir, name);
        FILE *f = fopen(path, "w");

        if (!f) {
                printf("# cannot write %s: %s\n", path, strerror(errno));
                return path;
        }
        fputs(text, f);
        fclose(f);
        return path;
}

static void utc_stamp(char buf[16])
{
        time_t now = time(NULL);
        struct tm tm;

        gmtime_r(&now, &tm);
        strftime(buf, 16, "%Y%m%d%H%M%S", &tm);
}

static bool all_digits(const char *s, size_t n)
{
        return s && strlen(s) == n && strspn(s, "0123456789") == n;
}

/* ---- loading that works ---- */

static const char full_json[] =
        "{\n"
        "  \"description\": \"web tier, built {{timestamp}}\",\n"
        "  \"variables\": {\"env\": \"dev\", \"owner\": \"ops\", \"stamped\": "
        "\"v-{{timestamp}}\"},\n"
        "  \"source\": {\"name\": \"web-base-*\"},\n"
        "  \"instance\": {\"type\": \"t3.small\", \"key_name\": \"k-{{var.owner}}\",\n"
        "               \"user_data\": \"#!/bin/sh\\necho hi\\n\", \"network\": \"default\"},\n"
        "  \"configure\": [\n"
        "    {\"run\": \"echo {{var.env}} > /tmp/env\"},\n"
        "    {\"script\": \"scripts/setup.sh\"},\n"
        "    {\"upload\": \"files/app.conf:/etc/app.conf:0600\"},\n"
        "    {\"motd_script\": \"./50-motd\"},\n"
        "    {\"motd_message\": \"Welcome to {{var.env}}\"},\n"
        "    {\"reboot\": true},\n"
        "    {\"script\": \"%s/scripts/setup.sh\"},\n"
        "    {\"upload\": \"files/app.conf:/etc/app.conf\"}\n"
        "  ],\n"
        "  \"image\": {\"name\": \"web-{{var.env}}-{{timestamp}}\", \"description\": \"Web "
        "tier\",\n"
        "            \"tags\": {\"Name\": \"web-{{timestamp}}\", \"env\": \"{{var.env}}\",\n"
        "                     \"stamp\": \"{{var.stamped}}\"},\n"
        "            \"generalize\": false},\n"
        "  \"test\": [\"curl -fsS http://localhost/ | grep hello\",\n"
        "           \"docker inspect -f '{{.Id}}' web\"],\n"
        "  \"distribute\": {\"regions\": [\"west\", \"east\"], \"accounts\": [\"222222222222\"],\n"
        "                 \"organizations\": "
        "[\"arn:aws:organizations::111111111111:organization/o-abcdefghij\", \"o-0123456789\"],\n"
        "                 \"public\": true}\n"
        "}\n";

static void test_full(void)
{
        kiln_autofree char *text = kiln_xasprintf(full_json, tmpdir);
        kiln_autofree char *path = write_file("full.json", text);
        kiln_autofree char *script = kiln_xasprintf("%s/scripts/setup.sh", tmpdir);
        kiln_autofree char *upload = kiln_xasprintf("%s/files/app.conf:/etc/app.conf:0600", tmpdir);
        kiln_autofree char *upload2 = kiln_xasprintf("%s/files/app.conf:/etc/app.conf", tmpdir);
        kiln_autofree char *motd = kiln_xasprintf("%s/50-motd", tmpdir);
        kiln_autoptr(kiln_build_template) t = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        kiln_autofree char *want_name = NULL, *want_tag = NULL, *want_stamp = NULL;
        char before[16], after[16];
        const char *stamp;

        utc_stamp(before);
        if (!ok(kiln_build_template_load(path, NULL, 0, &t, &e) == 0, "full: loads")) {
                printf("# %s\n", e ? e->msg : "(no error)");
                return;
        }
        utc_stamp(after);
        is_str(t->path, path, "full: path kept");
        is_str(t->source_name_filter, "web-base-*", "full: source name");
        ok(!t->source_image_id && !t->source_catalog, "full: one source only");
        is_str(t->instance_type, "t3.small", "full: instance type");
        is_str(t->key_name, "k-ops", "full: key_name from the default of a variable");
        is_str(t->user_data, "#!/bin/sh\necho hi\n", "full: user_data");
        is_str(t->network, "default", "full: network");

        is_int(t->n_steps, 8, "full: 8 steps");
        if (t->n_steps == 8) {
                is_int(t->steps[0].kind, KILN_STEP_RUN, "full: run");
                is_str(t->steps[0].arg, "echo dev > /tmp/env", "full: run, var substituted");
                is_int(t->steps[1].kind, KILN_STEP_SCRIPT, "full: script");
                is_str(t->steps[1].arg, script, "full: relative script made absolute");
                is_int(t->steps[2].kind, KILN_STEP_UPLOAD, "full: upload");
                is_str(t->steps[2].arg, upload,
                       "full: upload SRC made absolute, DEST and MODE kept");
                is_int(t->steps[3].kind, KILN_STEP_MOTD_SCRIPT, "full: motd_script");
                is_str(t->steps[3].arg, motd, "full: ./motd_script made absolute");
                is_int(t->steps[4].kind, KILN_STEP_MOTD_MESSAGE, "full: motd_message");
                is_str(t->steps[4].arg, "Welcome to dev", "full: motd_message");
                is_int(t->steps[5].kind, KILN_STEP_REBOOT, "full: reboot");
                ok(t->steps[5].arg == NULL, "full: reboot has no arg");
                is_int(t->steps[6].kind, KILN_STEP_SCRIPT, "full: absolute script");
                is_str(t->steps[6].arg, script, "full: absolute script kept");
                is_str(t->steps[7].arg, upload2, "full: upload without a mode");
        }

        /* {{timestamp}}: 14 digits, now, the same in the name, a tag and a variable's value. */
        stamp = t->image_name ? strrchr(t->image_name, '-') : NULL;
        stamp = stamp ? stamp + 1 : NULL;
        ok(all_digits(stamp, 14), "full: {{timestamp}} is 14 digits (%s)",
           t->image_name ? t->image_name : "(none)");
        ok(stamp && strcmp(stamp, before) >= 0 && strcmp(stamp, after) <= 0,
           "full: {{timestamp}} is the UTC time of the load");
        want_name = kiln_xasprintf("web-dev-%s", stamp ? stamp : "?");
        want_tag = kiln_xasprintf("web-%s", stamp ? stamp : "?");
        want_stamp = kiln_xasprintf("v-%s", stamp ? stamp : "?");
        is_str(t->image_name, want_name, "full: image name substituted");
        is_str(t->image_description, "Web tier", "full: image description");
        ok(!t->generalize, "full: generalize false");
        is_int(t->n_image_tags, 3, "full: 3 tags");
        if (t->n_image_tags == 3) {
                is_str(t->image_tags[0].key, "Name", "full: tag 0 key");
                is_str(t->image_tags[0].value, want_tag, "full: same timestamp in a tag");
                is_str(t->image_tags[1].key, "env", "full: tag 1 key");
                is_str(t->image_tags[1].value, "dev", "full: tag from a variable");
                is_str(t->image_tags[2].value, want_stamp,
                       "full: {{timestamp}} in a variable's default, same value");
        }

        is_int(t->n_tests, 2, "full: 2 tests");
        if (t->n_tests == 2) {
                is_str(t->tests[0], "curl -fsS http://localhost/ | grep hello", "full: test 0");
                is_str(t->tests[1], "docker inspect -f '{{.Id}}' web",
                       "full: other {{...}} text left alone");
        }
        is_int(t->n_regions, 2, "full: 2 regions");
        if (t->n_regions == 2) {
                is_str(t->regions[0], "west", "full: region 0");
                is_str(t->regions[1], "east", "full: region 1");
        }
        is_int(t->n_share_accounts, 1, "full: 1 account");
        if (t->n_share_accounts == 1)
                is_str(t->share_accounts[0], "222222222222", "full: account");
        is_int(t->n_share_organizations, 2, "full: 2 organizations");
        if (t->n_share_organizations == 2) {
                is_str(t->share_organizations[0],
                       "arn:aws:organizations::111111111111:organization/o-abcdefghij",
                       "full: organization ARN");
                is_str(t->share_organizations[1], "o-0123456789", "full: bare organization ID");
        }
        ok(t->share_public, "full: public");
}

static void test_vars(void)
{
        kiln_autofree char *text = kiln_xasprintf(full_json, tmpdir);
        kiln_autofree char *path = write_file("vars.json", text);
        const kiln_build_var vars[] = {
                {"env", "staging"},
                {"undeclared", "allowed"},
                {"env", "prod"}, /* the last one given wins */
        };
        kiln_autoptr(kiln_build_template) t = NULL;
        kiln_autoptr(kiln_error) e = NULL;

        if (!ok(kiln_build_template_load(path, vars, KILN_ARRAY_SIZE(vars), &t, &e) == 0,
                "vars: loads with an undeclared --var too")) {
                printf("# %s\n", e ? e->msg : "(no error)");
                return;
        }
        like(t->image_name, "web-prod-", "vars: --var overrides the default");
        ok(all_digits(t->image_name + strlen("web-prod-"), 14), "vars: timestamp still there");
        is_str(t->key_name, "k-ops", "vars: an unset variable keeps its default");
        if (t->n_steps > 4) {
                is_str(t->steps[0].arg, "echo prod > /tmp/env", "vars: in a run step");
                is_str(t->steps[4].arg, "Welcome to prod", "vars: in a motd message");
        }
}

static void test_minimal(void)
{
        kiln_autofree char *path = write_file("minimal.json", "{" MINIMAL "}");
        kiln_autoptr(kiln_build_template) t = NULL;
        kiln_autoptr(kiln_error) e = NULL;

        if (!ok(kiln_build_template_load(path, NULL, 0, &t, &e) == 0, "minimal: loads")) {
                printf("# %s\n", e ? e->msg : "(no error)");
                return;
        }
        is_str(t->image_name, "web", "minimal: image name");
        ok(t->generalize, "minimal: generalize defaults to true");
        ok(!t->share_public, "minimal: not public");
        ok(!t->instance_type && !t->key_name && !t->user_data && !t->network,
           "minimal: instance fields NULL");
        ok(!t->image_description && t->n_image_tags == 0, "minimal: no description, no tags");
        ok(t->n_steps == 0 && t->n_tests == 0 && t->n_regions == 0 && t->n_share_accounts == 0 &&
                   t->n_share_organizations == 0,
           "minimal: empty lists");
        ok(kiln_build_template_free(NULL) == NULL, "free(NULL) returns NULL");
}

static void test_sources(void)
{
        static const struct {
                const char *json;
                const char *field;
                const char *want;
        } cases[] = {
                {"{\"source\": {\"image_id\": \"ami-0123456789abcdef0\"}, \"image\": {\"name\": "
                 "\"web\"}}",
                 "image_id", "ami-0123456789abcdef0"},
                {"{\"variables\": {\"d\": \"debian-12\"}, \"source\": {\"catalog\": "
                 "\"{{var.d}}\"}, \"image\": {\"name\": \"web\"}}",
                 "catalog", "debian-12"},
        };

        for (size_t i = 0; i < KILN_ARRAY_SIZE(cases); i++) {
                kiln_autofree char *path = write_file("source.json", cases[i].json);
                kiln_autoptr(kiln_build_template) t = NULL;
                kiln_autoptr(kiln_error) e = NULL;
                const char *got = NULL;

                if (!ok(kiln_build_template_load(path, NULL, 0, &t, &e) == 0, "source %s loads",
                        cases[i].field)) {
                        printf("# %s\n", e ? e->msg : "(no error)");
                        continue;
                }
                got = i == 0 ? t->source_image_id : t->source_catalog;
                is_str(got, cases[i].want, "source %s read", cases[i].field);
                ok(!t->source_name_filter, "source %s: no name filter", cases[i].field);
        }
}

/* A template path relative to the working directory: paths resolve against its directory. */
static void test_relative_template(void)
{
        kiln_autofree char *sub = kiln_xasprintf("%s/sub", tmpdir);
        kiln_autofree char *cwd = getcwd(NULL, 0);
        kiln_autofree char *real = realpath(tmpdir, NULL);
        kiln_autofree char *want = kiln_xasprintf("%s/sub/s.sh", real ? real : "?");
        kiln_autoptr(kiln_build_template) t = NULL;
        kiln_autoptr(kiln_error) e = NULL;

        mkdir(sub, 0755);
        free(write_file("sub/s.sh", "#!/bin/sh\ntrue\n"));
        free(write_file("sub/t.json", "{" MINIMAL ", \"configure\": [{\"script\": \"s.sh\"}]}"));
        if (!cwd || chdir(tmpdir) < 0) {
                ok(0, "relative template: chdir");
                return;
        }
        if (ok(kiln_build_template_load("./sub/t.json", NULL, 0, &t, &e) == 0,
               "relative template: loads") &&
            t->n_steps == 1)
                is_str(t->steps[0].arg, want, "relative template: script under its directory");
        else
                printf("# %s\n", e ? e->msg : "(no error)");
        if (chdir(cwd) < 0)
                printf("# cannot go back to %s\n", cwd);
}

/* ---- refusals ---- */

/* Loads json from NAME.json and checks the error: KILN_E_INVALID, "PATH: want". */
static void refused(const char *name, const char *json, const kiln_build_var *vars, size_t n,
                    const char *want)
{
        kiln_autofree char *file = kiln_xasprintf("%s.json", name);
        kiln_autofree char *path = write_file(file, json);
        kiln_autofree char *msg = kiln_xasprintf("%s%s%s", path, want[0] == ':' ? "" : ": ", want);
        kiln_autoptr(kiln_build_template) t = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        int r = kiln_build_template_load(path, vars, n, &t, &e);

        ok(r < 0 && !t && e && e->code == KILN_E_INVALID, "%s: refused as invalid", name);
        is_str(e ? e->msg : NULL, msg, "%s: message", name);
}

#define LONG_16 "xxxxxxxxxxxxxxxx"
#define LONG_256                                                                                   \
        LONG_16 LONG_16 LONG_16 LONG_16 LONG_16 LONG_16 LONG_16 LONG_16 LONG_16 LONG_16 LONG_16    \
                LONG_16 LONG_16 LONG_16 LONG_16 LONG_16
#define LONG_257 LONG_256 "x"

static void test_refusals(void)
{
        const kiln_build_var env = {"env", "prod"};

        free(write_file("motd.sh", "#!/bin/sh\necho hi\n"));

        refused("bad-json",
                "{\n  \"source\": {\"name\": \"x\"},\n  \"image\": {\"name\": \"web\",}\n}\n", NULL,
                0, ":3:27: string or '}' expected near '}'");
        refused("duplicate-key", "{\n" MINIMAL ",\n\"source\": {\"name\": \"y\"}}", NULL, 0,
                ":3:8: duplicate object key near '\"source\"'");
        refused("not-object", "[1, 2]", NULL, 0, "$: expected an object");
        refused("unknown-top", "{" MINIMAL ", \"sorce\": {}}", NULL, 0, "$.sorce: unknown key");
        refused("unknown-nested",
                "{\"source\": {\"name\": \"x\"}, \"image\": {\"name\": \"web\", \"nmae\": \"x\"}}",
                NULL, 0, "$.image.nmae: unknown key");
        refused("unknown-step-key", "{" MINIMAL ", \"configure\": [{\"runn\": \"x\"}]}", NULL, 0,
                "$.configure[0].runn: unknown key");
        refused("unknown-odd-key", "{" MINIMAL ", \"instance\": {\"key name\": \"k\"}}", NULL, 0,
                "$.instance['key name']: unknown key");
        refused("wrong-type-run",
                "{" MINIMAL ", \"configure\": [{\"run\": \"true\"}, {\"run\": 5}]}", NULL, 0,
                "$.configure[1].run: expected a string");
        refused("wrong-type-test", "{" MINIMAL ", \"test\": [true]}", NULL, 0,
                "$.test[0]: expected a string");
        refused("wrong-type-test-list", "{" MINIMAL ", \"test\": \"curl x\"}", NULL, 0,
                "$.test: expected an array");
        refused("wrong-type-instance", "{" MINIMAL ", \"instance\": \"t3.micro\"}", NULL, 0,
                "$.instance: expected an object");
        refused("wrong-type-generalize",
                "{\"source\": {\"name\": \"x\"}, \"image\": {\"name\": \"web\", \"generalize\": "
                "\"yes\"}}",
                NULL, 0, "$.image.generalize: expected true or false");
        refused("wrong-type-variable", "{" MINIMAL ", \"variables\": {\"n\": 3}}", NULL, 0,
                "$.variables.n: expected a string");
        refused("missing-source", "{\"image\": {\"name\": \"web\"}}", NULL, 0, "$.source: missing");
        refused("two-sources",
                "{\"source\": {\"name\": \"x\", \"catalog\": \"debian-12\"}, \"image\": {\"name\": "
                "\"web\"}}",
                NULL, 0, "$.source: give exactly one of image_id, name, catalog");
        refused("no-source", "{\"source\": {}, \"image\": {\"name\": \"web\"}}", NULL, 0,
                "$.source: give exactly one of image_id, name, catalog");
        refused("bad-image-id",
                "{\"source\": {\"image_id\": \"ami-xyz\"}, \"image\": {\"name\": "
                "\"web\"}}",
                NULL, 0,
                "$.source.image_id: expected an image ID (ami- and 8 or 17 lowercase hex digits)");
        refused("missing-image", "{\"source\": {\"name\": \"x\"}}", NULL, 0, "$.image: missing");
        refused("missing-image-name",
                "{\"source\": {\"name\": \"x\"}, \"image\": {\"description\": \"d\"}}", NULL, 0,
                "$.image.name: missing");
        refused("bad-image-name", "{\"source\": {\"name\": \"x\"}, \"image\": {\"name\": \"w!\"}}",
                NULL, 0,
                "$.image.name: AMI names must be between 3 and 128 characters long, and may "
                "contain letters, numbers, '(', ')', '.', '-', '/' and '_'");
        refused("step-two-keys",
                "{" MINIMAL ", \"configure\": [{\"run\": \"a\", \"motd_message\": \"b\"}]}", NULL,
                0,
                "$.configure[0]: expected exactly one of run, script, upload, motd_script, "
                "motd_message, reboot");
        refused("step-no-key", "{" MINIMAL ", \"configure\": [{}]}", NULL, 0,
                "$.configure[0]: expected exactly one of run, script, upload, motd_script, "
                "motd_message, reboot");
        refused("reboot-false", "{" MINIMAL ", \"configure\": [{\"reboot\": false}]}", NULL, 0,
                "$.configure[0].reboot: must be true (leave the step out not to reboot)");
        refused("empty-run", "{" MINIMAL ", \"configure\": [{\"run\": \"\"}]}", NULL, 0,
                "$.configure[0].run: must not be empty");
        {
                kiln_autofree char *want = kiln_xasprintf(
                        "$.configure[0].script: cannot read '%s/nope.sh': No such file or "
                        "directory",
                        tmpdir);

                refused("missing-script",
                        "{" MINIMAL ", \"configure\": [{\"script\": \"nope.sh\"}]}", NULL, 0, want);
        }
        {
                kiln_autofree char *want = kiln_xasprintf(
                        "$.configure[0].script: '%s/sub' is not a regular file", tmpdir);

                refused("script-is-dir", "{" MINIMAL ", \"configure\": [{\"script\": \"sub\"}]}",
                        NULL, 0, want);
        }
        refused("motd-dot", "{" MINIMAL ", \"configure\": [{\"motd_script\": \"motd.sh\"}]}", NULL,
                0,
                "$.configure[0].motd_script: run-parts would skip it in /etc/update-motd.d/: the "
                "file name may hold only letters, digits, '_' and '-'");
        refused("upload-relative-dest",
                "{" MINIMAL ", \"configure\": [{\"upload\": \"motd.sh:etc/x\"}]}", NULL, 0,
                "$.configure[0].upload: expected SRC:/ABSOLUTE/DEST[:MODE]");
        refused("upload-bad-mode",
                "{" MINIMAL ", \"configure\": [{\"upload\": \"motd.sh:/etc/x:0999\"}]}", NULL, 0,
                "$.configure[0].upload: the mode must be octal, like 0644");
        refused("undefined-variable",
                "{\"source\": {\"name\": \"x\"}, \"image\": {\"name\": \"web-{{var.env}}\"}}", NULL,
                0, "$.image.name: {{var.env}} names an undefined variable");
        refused("undefined-variable-nested",
                "{\"source\": {\"name\": \"x\"}, \"variables\": {\"env\": \"dev\"}, \"image\": "
                "{\"name\": \"web\", "
                "\"tags\": {\"team\": \"{{var.team}}\"}}}",
                &env, 1, "$.image.tags.team: {{var.team}} names an undefined variable");
        refused("malformed-variable", "{" MINIMAL ", \"test\": [\"echo {{var.a b}}\"]}", NULL, 0,
                "$.test[0]: '{{var.' must be followed by a variable name (letters, digits, '_' "
                "and '-') and '}}'");
        refused("bad-variable-name", "{" MINIMAL ", \"variables\": {\"my var\": \"x\"}}", NULL, 0,
                "$.variables['my var']: a variable name holds letters, digits, '_' and '-', and "
                "starts with a letter or '_'");
        refused("bad-account", "{" MINIMAL ", \"distribute\": {\"accounts\": [\"12345\"]}}", NULL,
                0, "$.distribute.accounts[0]: expected a 12-digit account ID");
        refused("duplicate-account",
                "{" MINIMAL
                ", \"distribute\": {\"accounts\": [\"222222222222\", \"222222222222\"]}}",
                NULL, 0, "$.distribute.accounts[1]: '222222222222' is listed twice");
        refused("bad-organization",
                "{" MINIMAL ", \"distribute\": {\"organizations\": [\"org-1\"]}}", NULL, 0,
                "$.distribute.organizations[0]: expected an organization ARN "
                "(arn:aws:organizations::ACCOUNT:organization/o-ID)");
        refused("wrong-type-public", "{" MINIMAL ", \"distribute\": {\"public\": \"no\"}}", NULL, 0,
                "$.distribute.public: expected true or false");
        refused("reserved-tag",
                "{\"source\": {\"name\": \"x\"}, \"image\": {\"name\": \"web\", \"tags\": "
                "{\"aws:x\": \"y\"}}}",
                NULL, 0,
                "$.image.tags['aws:x']: Tag keys starting with 'aws:' are reserved for internal "
                "use");
        refused("reserved-tag-case",
                "{\"source\": {\"name\": \"x\"}, \"image\": {\"name\": \"web\", \"tags\": "
                "{\"AWS:x\": \"y\"}}}",
                NULL, 0,
                "$.image.tags['AWS:x']: Tag keys starting with 'aws:' are reserved for internal "
                "use");
        refused("kiln-tag",
                "{\"source\": {\"name\": \"x\"}, \"image\": {\"name\": \"web\", \"tags\": "
                "{\"kiln:generalized\": \"true\"}}}",
                NULL, 0,
                "$.image.tags['kiln:generalized']: Tag keys starting with 'kiln:' are reserved for "
                "kiln");
        refused("kiln-tag-case",
                "{\"source\": {\"name\": \"x\"}, \"image\": {\"name\": \"web\", \"tags\": "
                "{\"Kiln:other\": \"\"}}}",
                NULL, 0,
                "$.image.tags['Kiln:other']: Tag keys starting with 'kiln:' are reserved for kiln");
        refused("tag-key-escape",
                "{\"source\": {\"name\": \"x\"}, \"image\": {\"name\": \"web\", \"tags\": "
                "{\"k\\u001b[2J\": \"v\"}}}",
                NULL, 0,
                "$.image.tags['k\x1b[2J']: Value for parameter Tag.Key is invalid: character 2 "
                "is the control character U+001B");
        refused("tag-value-c1",
                "{\"source\": {\"name\": \"x\"}, \"image\": {\"name\": \"web\", \"tags\": "
                "{\"team\": \"a\\u009b2J\"}}}",
                NULL, 0,
                "$.image.tags.team: Value for parameter Tag.Value is invalid: character 2 is the "
                "control character U+009B");
        {
                const kiln_build_var bad_utf8 = {"env", "pr\xffod"};

                refused("tag-value-not-utf8",
                        "{\"source\": {\"name\": \"x\"}, \"image\": {\"name\": \"web\", "
                        "\"tags\": {\"env\": \"{{var.env}}\"}}}",
                        &bad_utf8, 1,
                        "$.image.tags.env: Value for parameter Tag.Value is invalid: it is not "
                        "UTF-8 (byte 3 is 0xff)");
        }
        refused("tag-value-long",
                "{\"source\": {\"name\": \"x\"}, \"image\": {\"name\": \"web\", \"tags\": "
                "{\"t\": \"" LONG_257 "\"}}}",
                NULL, 0,
                "$.image.tags.t: Value for parameter Tag.Value is invalid: 257 characters, more "
                "than 256");
        refused("description-escape",
                "{\"source\": {\"name\": \"x\"}, \"image\": {\"name\": \"web\", "
                "\"description\": \"nice\\u001b]2;pwned\\u0007\"}}",
                NULL, 0,
                "$.image.description: Value for parameter Description is invalid: character 5 "
                "is the control character U+001B");
}

static void test_missing_file(void)
{
        kiln_autofree char *path = kiln_xasprintf("%s/absent.json", tmpdir);
        kiln_autoptr(kiln_build_template) t = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        int r = kiln_build_template_load(path, NULL, 0, &t, &e);

        ok(r < 0 && !t && e && e->code == KILN_E_NOT_FOUND, "missing file: KILN_E_NOT_FOUND");
        like(e ? e->msg : NULL, path, "missing file: named");
}

/* ---- the schema ---- */

/* Every schema object that lists "properties" closes with "additionalProperties": false. */
static int schema_open_objects(json_t *j, const char *where)
{
        int n = 0;

        if (json_is_object(j)) {
                json_t *ap = json_object_get(j, "additionalProperties");
                const char *key;
                json_t *v;

                if (json_object_get(j, "properties") && !json_is_false(ap)) {
                        printf("# %s: properties without \"additionalProperties\": false\n", where);
                        n++;
                }
                json_object_foreach (j, key, v) {
                        kiln_autofree char *at = kiln_xasprintf("%s/%s", where, key);

                        n += schema_open_objects(v, at);
                }
        } else if (json_is_array(j)) {
                size_t i;
                json_t *v;

                json_array_foreach (j, i, v) {
                        kiln_autofree char *at = kiln_xasprintf("%s/%zu", where, i);

                        n += schema_open_objects(v, at);
                }
        }
        return n;
}

static void test_schema(void)
{
        static const char *const keys[] = {"description", "variables", "source", "instance",
                                           "configure",   "image",     "test",   "distribute"};
        json_error_t jerr;
        json_t *s = json_load_file(KILN_SRCDIR "/templates/build.schema.json",
                                   JSON_REJECT_DUPLICATES, &jerr);
        json_t *props;

        if (!ok(s != NULL, "schema: valid JSON")) {
                printf("# %d:%d: %s\n", jerr.line, jerr.column, jerr.text);
                return;
        }
        is_str(json_string_value(json_object_get(s, "$schema")),
               "https://json-schema.org/draft/2020-12/schema", "schema: draft 2020-12");
        props = json_object_get(s, "properties");
        is_int(json_object_size(props), KILN_ARRAY_SIZE(keys), "schema: the loader's top keys");
        for (size_t i = 0; i < KILN_ARRAY_SIZE(keys); i++)
                ok(json_object_get(props, keys[i]) != NULL, "schema: describes %s", keys[i]);
        is_int(schema_open_objects(s, "#"), 0, "schema: additionalProperties false everywhere");
        json_decref(s);
}

int main(void)
{
        char tmpl[] = "/tmp/kiln-unit-build-template.XXXXXX";
        kiln_autoptr(kiln_cmd) rm = NULL;
        kiln_autoptr(kiln_error) e = NULL;

        tmpdir = mkdtemp(tmpl);
        if (!tmpdir) {
                printf("1..0 # SKIP mkdtemp: %s\n", strerror(errno));
                return 77;
        }
        {
                kiln_autofree char *scripts = kiln_xasprintf("%s/scripts", tmpdir);
                kiln_autofree char *files = kiln_xasprintf("%s/files", tmpdir);

                mkdir(scripts, 0755);
                mkdir(files, 0755);
                free(write_file("scripts/setup.sh", "#!/bin/sh\napt-get install -y nginx\n"));
                free(write_file("files/app.conf", "listen 80\n"));
                free(write_file("50-motd", "#!/bin/sh\necho hello\n"));
        }
        test_full();
        test_vars();
        test_minimal();
        test_sources();
        test_relative_template();
        test_refusals();
        test_missing_file();
        test_schema();

        rm = kiln_cmd_new("rm", "-rf", tmpdir, NULL);
        if (kiln_cmd_run(rm, NULL, &e) < 0)
                printf("# %s\n", e->msg);
        return done();
}
