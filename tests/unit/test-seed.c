/* The NoCloud seed: user data checked as EC2 and cloud-init take it, meta-data and user-data
 * against golden files in tests/data/seed/<case>/ (KILN_TEST_REGENERATE=1 rewrites them; the
 * random MIME boundary is replaced by "kiln-boundary-RANDOM" there), the archive's parts read
 * back and their YAML parsed with libyaml, and the ISO read back with xorriso. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <yaml.h>

#include "seed/seed.h"
#include "tap.h"
#include "util/util.h"

#define HOST_PRIVATE                                                                               \
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"                                                    \
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"                 \
        "QyNTUxOQAAACCrtTVzSbhzgaKX8b4jT/KLSR9TMmxJ15N8ZIbL7I9UzAAAAJhaXU5RWl1O\n"                 \
        "UQAAAAtzc2gtZWQyNTUxOQAAACCrtTVzSbhzgaKX8b4jT/KLSR9TMmxJ15N8ZIbL7I9UzA\n"                 \
        "AAAEBHnKkE5F3Bl3XzODzxINlcPZkY7zRjGcCTX7HvBsY4squ1NXNJuHOBopfxviNP8otJ\n"                 \
        "H1MybEnXk3xkhsvsj1TMAAAAE2ktMDEyMzQ1Njc4OWFiY2RlZjABAg==\n"                               \
        "-----END OPENSSH PRIVATE KEY-----"
#define HOST_PUBLIC                                                                                \
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKu1NXNJuHOBopfxviNP8otJH1MybEnXk3xkhsvsj1TM "        \
        "i-0123456789abcdef0"
#define LAUNCH_KEY                                                                                 \
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID7s+Grqdw6HqdbRBe1lvmbjDx9j1KD109+U4dprRLcs "        \
        "demo-key"
#define KILN_KEY                                                                                   \
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOz3QIG5uqLtTiwuiSKSa2vCO8e/L3Nnb1v1MnmfLpAm "        \
        "kiln-access"
#define USER_KEY                                                                                   \
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH4QpclizEjavWoux2Fjtu40v9FhCch5oMKviiz3JRt1 "        \
        "bob@laptop"
#define MERGE_TYPE "list(append)+dict(no_replace,recurse_list,recurse_str)+str()"

static const char *const default_keys[] = {LAUNCH_KEY, KILN_KEY};

/* printf '#!/bin/sh\necho gzipped\n' | gzip -9n */
static const unsigned char gzip_script[] = {
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x53, 0x56, 0xd4, 0x4f, 0xca,
        0xcc, 0xd3, 0x2f, 0xce, 0xe0, 0x4a, 0x4d, 0xce, 0xc8, 0x57, 0x48, 0xaf, 0xca, 0x2c, 0x28,
        0x48, 0x4d, 0xe1, 0x02, 0x00, 0x60, 0x48, 0x44, 0x29, 0x17, 0x00, 0x00, 0x00};

static seed_spec base_spec(const void *user_data, size_t len)
{
        seed_spec s = {
                .instance_id = "i-0123456789abcdef0",
                .hostname = "i-0123456789abcdef0",
                .default_user = "admin",
                .authorized_keys = default_keys,
                .n_authorized_keys = 2,
                .host_key_private = HOST_PRIVATE,
                .host_key_public = HOST_PUBLIC,
                .user_data = user_data,
                .user_data_len = len,
        };
        return s;
}

/* ---- helpers: boundary, parts, base64, YAML ---- */

/* The boundary named on the archive's first line, or NULL if user-data is not an archive. */
static char *boundary_of(const char *ud)
{
        static const char lead[] = "Content-Type: multipart/mixed; boundary=\"";
        const char *end;

        if (strncmp(ud, lead, sizeof(lead) - 1) != 0)
                return NULL;
        ud += sizeof(lead) - 1;
        end = strchr(ud, '"');
        return end ? kiln_xstrndup(ud, (size_t) (end - ud)) : NULL;
}

static char *replace_all(const char *s, const char *from, const char *to)
{
        kiln_buf b = {0};
        const char *p;

        while ((p = strstr(s, from)) != NULL) {
                kiln_buf_append(&b, s, (size_t) (p - s));
                kiln_buf_append(&b, to, strlen(to));
                s = p + strlen(from);
        }
        kiln_buf_append(&b, s, strlen(s));
        return kiln_buf_steal(&b);
}

/* user-data with its random boundary replaced, as the golden files hold it. */
static char *normalized(const char *ud)
{
        kiln_autofree char *boundary = boundary_of(ud);

        return boundary ? replace_all(ud, boundary, "kiln-boundary-RANDOM") : kiln_xstrdup(ud);
}

typedef struct tpart {
        char *all;  /* the part as between its delimiters */
        char *head; /* its header block, with the blank line */
        char *body;
} tpart;

static void tparts_free(tpart *p, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(p[i].all);
                free(p[i].head);
                free(p[i].body);
        }
}

/* Splits an archive at "--B" lines the way RFC 2046 reads it (the line end before a
 * delimiter belongs to the delimiter). Returns the number of parts, or -1 if the archive
 * does not close. */
static int split_parts(const char *ud, tpart *parts, int max)
{
        kiln_autofree char *boundary = boundary_of(ud);
        kiln_autofree char *delim = NULL;
        const char *p;
        int n = 0;

        if (!boundary)
                return -1;
        delim = kiln_xasprintf("\n--%s", boundary);
        p = strstr(ud, delim);
        if (!p || p[strlen(delim)] != '\n')
                return -1;
        p += strlen(delim) + 1;
        for (;;) {
                const char *next = strstr(p, delim), *sep;

                if (!next || n == max)
                        return -1;
                parts[n].all = kiln_xstrndup(p, (size_t) (next - p));
                sep = strstr(parts[n].all, "\n\n");
                parts[n].head = sep ? kiln_xstrndup(parts[n].all, (size_t) (sep - parts[n].all) + 2)
                                    : kiln_xstrdup("");
                parts[n].body = kiln_xstrdup(sep ? sep + 2 : parts[n].all);
                n++;
                next += strlen(delim);
                if (strcmp(next, "--\n") == 0)
                        return n;
                if (*next != '\n')
                        return -1;
                p = next + 1;
        }
}

static int b64_value(char c)
{
        static const char tbl[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *p = c ? strchr(tbl, c) : NULL;

        return p ? (int) (p - tbl) : -1;
}

static char *b64_decode(const char *s, size_t *ret_len)
{
        kiln_buf b = {0};
        unsigned v = 0;
        int bits = 0;

        for (; *s && *s != '='; s++) {
                int d = b64_value(*s);
                char c;

                if (d < 0)
                        continue;
                v = (v << 6) | (unsigned) d;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        c = (char) ((v >> bits) & 0xff);
                        kiln_buf_append(&b, &c, 1);
                }
        }
        *ret_len = b.len;
        return kiln_buf_steal(&b);
}

typedef struct yfound {
        bool found;
        yaml_node_type_t type;
        size_t items; /* sequence length */
        char *scalar; /* the scalar's value, if it is one */
} yfound;

/* The node at a dotted path ("ssh_keys.ed25519_private", "ssh_authorized_keys.1") of the
 * only document in text, as libyaml reads it. */
static yfound yaml_at(const char *text, const char *path)
{
        yaml_parser_t p;
        yaml_document_t doc;
        yfound r = {0};
        kiln_autofree char *copy = kiln_xstrdup(path);
        char *save = NULL;
        yaml_node_t *node;

        yaml_parser_initialize(&p);
        yaml_parser_set_input_string(&p, (const unsigned char *) text, strlen(text));
        if (!yaml_parser_load(&p, &doc)) {
                yaml_parser_delete(&p);
                return r;
        }
        node = yaml_document_get_root_node(&doc);
        for (char *k = strtok_r(copy, ".", &save); k && node; k = strtok_r(NULL, ".", &save)) {
                yaml_node_t *next = NULL;

                if (node->type == YAML_MAPPING_NODE) {
                        for (yaml_node_pair_t *pr = node->data.mapping.pairs.start;
                             pr < node->data.mapping.pairs.top; pr++) {
                                yaml_node_t *key = yaml_document_get_node(&doc, pr->key);

                                if (key && key->type == YAML_SCALAR_NODE &&
                                    strcmp((const char *) key->data.scalar.value, k) == 0)
                                        next = yaml_document_get_node(&doc, pr->value);
                        }
                } else if (node->type == YAML_SEQUENCE_NODE) {
                        long i = strtol(k, NULL, 10);
                        yaml_node_item_t *it = node->data.sequence.items.start + i;

                        if (i >= 0 && it < node->data.sequence.items.top)
                                next = yaml_document_get_node(&doc, *it);
                }
                node = next;
        }
        if (node) {
                r.found = true;
                r.type = node->type;
                if (node->type == YAML_SEQUENCE_NODE)
                        r.items = (size_t) (node->data.sequence.items.top -
                                            node->data.sequence.items.start);
                if (node->type == YAML_SCALAR_NODE)
                        r.scalar = kiln_xstrndup((const char *) node->data.scalar.value,
                                                 node->data.scalar.length);
        }
        yaml_document_delete(&doc);
        yaml_parser_delete(&p);
        return r;
}

static bool is_ascii_text(const char *s)
{
        for (; *s; s++)
                if ((unsigned char) *s >= 0x80)
                        return false;
        return true;
}

static void is_yaml(const char *text, const char *path, const char *want, const char *what)
{
        yfound f = yaml_at(text, path);

        is_str(f.scalar, want, "%s: %s", what, path);
        free(f.scalar);
}

/* True if the sequence at path holds the scalar want. */
static bool yaml_seq_has(const char *text, const char *path, const char *want)
{
        yfound f = yaml_at(text, path);
        bool found = false;

        free(f.scalar);
        for (size_t i = 0; f.type == YAML_SEQUENCE_NODE && i < f.items && !found; i++) {
                kiln_autofree char *item = kiln_xasprintf("%s.%zu", path, i);
                yfound g = yaml_at(text, item);

                found = g.scalar && strcmp(g.scalar, want) == 0;
                free(g.scalar);
        }
        return found;
}

/* ---- golden files ---- */

static void golden(const char *name, const char *file, const char *got)
{
        kiln_autofree char *dir = kiln_xasprintf("%s/tests/data/seed/%s", KILN_SRCDIR, name);
        kiln_autofree char *path = kiln_xasprintf("%s/%s", dir, file);
        kiln_autofree char *want = NULL;
        kiln_autoptr(kiln_error) e = NULL;

        if (getenv("KILN_TEST_REGENERATE")) {
                kiln_autofree char *parent = kiln_xasprintf("%s/tests/data/seed", KILN_SRCDIR);
                FILE *f;

                mkdir(parent, 0755);
                mkdir(dir, 0755);
                f = fopen(path, "w");
                if (f) {
                        fputs(got, f);
                        fclose(f);
                }
        }
        if (kiln_file_read(path, 1 << 20, &want, NULL, &e) == 0)
                is_str(got, want, "%s: %s matches the golden file", name, file);
        else
                ok(0, "%s: golden file %s (%s)", name, path, e->msg);
}

/* Renders a case, compares both files with their goldens, and hands back user-data. */
static char *render_case(const char *name, const seed_spec *spec, char **ret_meta)
{
        kiln_autoptr(kiln_error) e = NULL;
        char *meta = NULL, *user = NULL;
        int rc = seed_render(spec, &meta, &user, &e);

        ok(rc == 0 && meta && user, "%s: renders%s%s", name, e ? ": " : "", e ? e->msg : "");
        if (rc < 0)
                return NULL;
        {
                kiln_autofree char *norm = normalized(user);

                golden(name, "meta-data", meta);
                golden(name, "user-data", norm);
        }
        if (ret_meta)
                *ret_meta = meta;
        else
                free(meta);
        return user;
}

/* The checks every archive must pass: it closes, has two parts, the user's first exactly as
 * given (decoded), kiln's last with the Merge-Type and kiln's keys. */
static void check_archive(const char *name, const char *ud, const void *data, size_t len,
                          bool nested)
{
        tpart parts[4] = {0};
        kiln_autofree char *boundary = boundary_of(ud);
        int n = split_parts(ud, parts, 4);

        ok(boundary && strncmp(boundary, "kiln-boundary-", 14) == 0, "%s: a kiln boundary (%s)",
           name, boundary ? boundary : "none");
        like(ud, "\nMIME-Version: 1.0\n\n--", "%s: a MIME-Version header, as cloud-init looks for",
             name);
        is_int(n, 2, "%s: two parts, and the archive closes", name);
        if (n != 2) {
                tparts_free(parts, n > 0 ? (size_t) n : 0);
                return;
        }
        if (nested) {
                ok(strlen(parts[0].all) == len && memcmp(parts[0].all, data, len) == 0,
                   "%s: the user's archive is nested byte for byte", name);
        } else if (strstr(parts[0].head, "Content-Transfer-Encoding: base64")) {
                size_t dlen = 0;
                kiln_autofree char *dec = b64_decode(parts[0].body, &dlen);

                ok(dlen == len && memcmp(dec, data, len) == 0,
                   "%s: the user's part decodes to the user data", name);
        } else {
                ok(strlen(parts[0].body) == len && memcmp(parts[0].body, data, len) == 0,
                   "%s: the user's part is the user data, unchanged", name);
        }
        if (!nested) {
                like(parts[0].head, "Content-Disposition: attachment; filename=\"part-001\"",
                     "%s: the user's part has a filename", name);
                ok(!strstr(parts[0].head, "Merge-Type"), "%s: no Merge-Type on the user's part",
                   name);
        }
        like(parts[1].head, "Content-Type: text/cloud-config;", "%s: kiln's part is cloud-config",
             name);
        like(parts[1].head, "\nMerge-Type: " MERGE_TYPE "\n",
             "%s: kiln's (last) part carries the Merge-Type", name);
        like(parts[1].head, "filename=\"kiln-cloud-config\"", "%s: kiln's part has a filename",
             name);
        ok(yaml_seq_has(parts[1].body, "ssh_authorized_keys", KILN_KEY),
           "%s: kiln's part holds kiln's key", name);
        if (strstr(parts[1].body, "PRIVATE KEY"))
                is_yaml(parts[1].body, "ssh_keys.ed25519_public", HOST_PUBLIC, name);
        tparts_free(parts, 2);
}

/* ---- user data checks ---- */

static void refused(const char *data, size_t len, int code, const char *needle, const char *what)
{
        kiln_autoptr(kiln_error) e = NULL;

        is_int(seed_check_user_data(data, len, &e), -1, "%s: refused", what);
        ok(e && e->code == code && e->api_code &&
                   strcmp(e->api_code, "InvalidUserData.Malformed") == 0,
           "%s: as InvalidUserData.Malformed (%s)", what, e ? e->msg : "no error");
        like(e ? e->msg : NULL, needle, "%s: the message says why", what);
}

static void accepted(const char *data, size_t len, const char *what)
{
        kiln_autoptr(kiln_error) e = NULL;

        is_int(seed_check_user_data(data, len, &e), 0, "%s: accepted%s%s", what, e ? ": " : "",
               e ? e->msg : "");
}

#define ACCEPTED(s, what)        accepted(s, sizeof(s) - 1, what)
#define REFUSED(s, needle, what) refused(s, sizeof(s) - 1, KILN_E_INVALID, needle, what)

static void test_check(void)
{
        char *big = kiln_xmalloc(SEED_USER_DATA_MAX + 2);

        accepted(NULL, 0, "no user data");
        accepted("", 0, "empty user data (none)");

        memset(big, '#', SEED_USER_DATA_MAX + 1);
        memcpy(big, "#!/bin/sh\n", 10);
        big[SEED_USER_DATA_MAX + 1] = '\0';
        accepted(big, SEED_USER_DATA_MAX, "16384 bytes");
        refused(big, SEED_USER_DATA_MAX + 1, KILN_E_LIMIT, "User data is limited to 16384 bytes",
                "16385 bytes");
        {
                kiln_autoptr(kiln_error) e = NULL;

                seed_check_user_data(big, SEED_USER_DATA_MAX + 1, &e);
                is_str(e ? e->msg : NULL, "User data is limited to 16384 bytes",
                       "the limit's wording is EC2's");
        }
        free(big);

        ACCEPTED("#!/bin/sh\necho hi\n", "a shell script");
        ACCEPTED("#include\nhttps://example.com/cc.yaml\n", "#include");
        ACCEPTED("#include-once https://example.com/cc.yaml\n", "#include-once");
        ACCEPTED("#cloud-boothook\n#!/bin/sh\necho early\n", "#cloud-boothook");
        ACCEPTED("#cloud-config\npackages: [curl]\n", "a #cloud-config mapping");
        ACCEPTED("#cloud-config\n{}\n", "an empty #cloud-config mapping");
        ACCEPTED("#cloud-config-archive\n- type: text/x-shellscript\n  content: '#!/bin/sh'\n",
                 "a #cloud-config-archive list");
        ACCEPTED("#cloud-config-jsonp\n[{\"op\": \"add\", \"path\": \"/a\", \"value\": 1}]\n",
                 "#cloud-config-jsonp");
        ACCEPTED("just some text, which cloud-init ignores\n", "other UTF-8 text");
        ACCEPTED("#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: \"gr\xc3\xbc"
                 "\xc3\x9f dich \xe2\x9c\x93\"\n",
                 "non-ASCII UTF-8 in a #cloud-config");
        accepted((const char *) gzip_script, sizeof(gzip_script), "gzip");
        ACCEPTED("Content-Type: multipart/mixed;\n boundary=\"== a b ==\"; charset=x\n"
                 "MIME-Version: 1.0\n\n--== a b ==\nContent-Type: text/x-shellscript\n\n#!/bin/sh\n"
                 "--== a b ==--\n",
                 "MIME with a folded, quoted boundary");
        ACCEPTED("MIME-Version: 1.0\nContent-Type: text/x-shellscript\n\n#!/bin/sh\necho\n",
                 "single-part MIME");

        REFUSED("#cloud-config\nusers:\n  - name: bob\n    groups: [adm, sudo\n",
                "line 5, column 1: did not find expected ',' or ']'", "an unclosed flow list");
        REFUSED("#cloud-config\npackages:\n  - curl\n bad: 1\n", "line 4, column",
                "a key at the wrong indentation");
        REFUSED("#cloud-config\na: b: c\n", "line 2, column 5: mapping values are not allowed",
                "a: b: c");
        REFUSED("#cloud-config\n- a\n- b\n", "must have a mapping at the top, not a list",
                "a #cloud-config list");
        REFUSED("#cloud-config\njust a string\n", "not a scalar", "a #cloud-config scalar");
        REFUSED("#cloud-config\n", "#cloud-config user data is empty", "an empty #cloud-config");
        REFUSED("#cloud-config\na: 1\n---\nb: 2\n",
                "more than one YAML document (the second starts at line 3, column 1)",
                "two documents");
        REFUSED("#cloud-config\nruncmd: !!python/object/apply:os.system [id]\n",
                "line 2, column 9: tag 'tag:yaml.org,2002:python/object/apply:os.system'",
                "a tag the safe loader refuses");
        REFUSED("#cloud-config\na: *nowhere\n", "line 2", "an undefined alias");
        REFUSED("  #Cloud-Config\na: [\n", "not valid YAML",
                "#cloud-config after blanks, in any case");
        REFUSED("#cloud-config-archive\na: b\n", "must have a list at the top",
                "a #cloud-config-archive mapping");
        REFUSED("Content-Type: multipart/mixed\nMIME-Version: 1.0\n\n--x\n"
                "Content-Type: text/x-shellscript\n\n#!/bin/sh\n--x--\n",
                "declares no boundary", "multipart without a boundary");
        REFUSED("Content-Type: multipart/mixed; boundary=\"\"\nMIME-Version: 1.0\n\n--\n",
                "declares no boundary", "multipart with an empty boundary");
        REFUSED("Content-Type: multipart/mixed; boundary=abc\nMIME-Version: 1.0\n\n"
                "--abd\n\n#!/bin/sh\n",
                "no part delimited by its boundary 'abc'", "multipart without its delimiter");
        REFUSED("Content-Type: multipart/mixed; boundary=abc\n\n--abc\n\n#!/bin/sh\n--abc--\n",
                "no MIME-Version header", "MIME without MIME-Version");
        REFUSED("\nMIME-Version: 1.0\n\n#!/bin/sh\n", "does not start with MIME headers",
                "MIME-Version below a blank line");
        REFUSED("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
                "neither gzip nor UTF-8 text: invalid UTF-8 at byte 0", "binary (a PNG)");
        REFUSED("#!/bin/sh\necho \xc3\x28\n", "invalid UTF-8 at byte 15 (line 2, column 6)",
                "invalid UTF-8 in a script");
        REFUSED("#!/bin/sh\necho \xed\xa0\x80\n", "invalid UTF-8", "an encoded surrogate");
        REFUSED("#!/bin/sh\necho \xc0\xaf\n", "invalid UTF-8", "an overlong form");
        REFUSED("#!/bin/sh\necho a\0b\n", "a NUL byte at byte 16", "a NUL byte");
}

/* ---- rendering ---- */

static void test_no_user_data(void)
{
        seed_spec s = base_spec(NULL, 0);
        kiln_autofree char *meta = NULL;
        kiln_autofree char *ud = render_case("no-user-data", &s, &meta);

        if (!ud)
                return;
        ok(strncmp(ud, "#cloud-config\n", 14) == 0 && !strstr(ud, "MIME"),
           "no-user-data: user-data is kiln's #cloud-config alone");
        is_yaml(meta, "instance-id", "i-0123456789abcdef0", "no-user-data meta-data");
        is_yaml(meta, "local-hostname", "i-0123456789abcdef0", "no-user-data meta-data");
        is_yaml(ud, "user.name", "admin", "no-user-data");
        is_yaml(ud, "ssh_authorized_keys.0", LAUNCH_KEY, "no-user-data");
        is_yaml(ud, "ssh_authorized_keys.1", KILN_KEY, "no-user-data");
        is_yaml(ud, "ssh_deletekeys", "true", "no-user-data");
        {
                yfound f = yaml_at(ud, "ssh_genkeytypes");

                ok(f.type == YAML_SEQUENCE_NODE && f.items == 0,
                   "no-user-data: ssh_genkeytypes is an empty list");
        }
        is_yaml(ud, "ssh_keys.ed25519_private", HOST_PRIVATE "\n", "no-user-data");
        like(ud, "  ed25519_private: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n",
             "no-user-data: the private key is a literal block scalar");
        is_yaml(ud, "ssh_keys.ed25519_public", HOST_PUBLIC, "no-user-data");
}

/* The seed an instance keeps once its first boot has taken the host key: the same user data
 * and login keys, no private key, and a module run that neither deletes nor makes keys. */
static void test_kept(void)
{
        static const char script[] = "#!/bin/sh\necho hello >/tmp/hello\n";
        seed_spec s = base_spec(script, sizeof(script) - 1);
        kiln_autofree char *ud = NULL;

        s.host_key_private = NULL;
        ud = render_case("kept", &s, NULL);
        if (!ud)
                return;
        ok(!strstr(ud, "PRIVATE KEY") && !strstr(ud, "ssh_keys"),
           "kept: no private host key, no ssh_keys");
        like(ud, "ssh_deletekeys: false\n", "kept: the keys the instance has are kept");
        check_archive("kept", ud, script, sizeof(script) - 1, false);
}

static void test_script(void)
{
        static const char script[] = "#!/bin/sh\necho hello >/tmp/hello\n";
        seed_spec s = base_spec(script, sizeof(script) - 1);
        kiln_autofree char *ud = render_case("shell-script", &s, NULL);

        if (!ud)
                return;
        like(ud, "Content-Type: text/x-shellscript; charset=\"us-ascii\"\n",
             "shell-script: the user's part is text/x-shellscript");
        check_archive("shell-script", ud, script, sizeof(script) - 1, false);
}

static void test_cloud_config_keys(void)
{
        static const char cc[] = "#cloud-config\n"
                                 "ssh_authorized_keys:\n"
                                 "  - " USER_KEY "\n"
                                 "users:\n"
                                 "  - name: bob\n"
                                 "    shell: /bin/bash\n"
                                 "ssh_deletekeys: false\n"
                                 "packages: [cowsay]\n";
        seed_spec s = base_spec(cc, sizeof(cc) - 1);
        kiln_autofree char *ud = render_case("cloud-config-keys", &s, NULL);
        tpart parts[2] = {0};
        int n;

        if (!ud)
                return;
        check_archive("cloud-config-keys", ud, cc, sizeof(cc) - 1, false);
        n = split_parts(ud, parts, 2);
        if (n != 2) {
                ok(0, "cloud-config-keys: two parts");
                tparts_free(parts, n > 0 ? (size_t) n : 0);
                return;
        }
        like(parts[0].head, "Content-Type: text/cloud-config;",
             "cloud-config-keys: the user's part keeps text/cloud-config");
        ok(strstr(ud, parts[0].all) < strstr(ud, parts[1].all),
           "cloud-config-keys: the user's part comes first, kiln's merges last");
        /* cloud-init merges kiln's part into what the user's built with kiln's Merge-Type:
         * list(append) under dict(recurse_list) appends kiln's keys to the user's list. */
        like(parts[1].head, "list(append)", "cloud-config-keys: lists append");
        like(parts[1].head, "dict(no_replace,recurse_list,",
             "cloud-config-keys: and mappings recurse into lists");
        ok(yaml_seq_has(parts[0].body, "ssh_authorized_keys", USER_KEY),
           "cloud-config-keys: the user's list holds the user's key");
        ok(yaml_seq_has(parts[1].body, "ssh_authorized_keys", KILN_KEY) &&
                   yaml_seq_has(parts[1].body, "ssh_authorized_keys", LAUNCH_KEY),
           "cloud-config-keys: kiln's list holds the launch key and kiln's key, appended");
        is_yaml(parts[1].body, "user.name", "admin", "cloud-config-keys: the default user");
        tparts_free(parts, 2);
}

static void test_user_multipart(void)
{
        static const char mp[] = "Content-Type: multipart/mixed; boundary=\"===user-parts===\"\r\n"
                                 "MIME-Version: 1.0\r\n"
                                 "\r\n"
                                 "--===user-parts===\r\n"
                                 "Content-Type: text/x-shellscript; charset=\"us-ascii\"\r\n"
                                 "Content-Disposition: attachment; filename=\"hello.sh\"\r\n"
                                 "\r\n"
                                 "#!/bin/sh\r\n"
                                 "echo hello\r\n"
                                 "--===user-parts===\r\n"
                                 "Content-Type: text/cloud-config\r\n"
                                 "Merge-Type: list(append)+dict(recurse_array)+str()\r\n"
                                 "\r\n"
                                 "#cloud-config\r\n"
                                 "packages: [cowsay]\r\n"
                                 "--===user-parts===--\r\n";
        seed_spec s = base_spec(mp, sizeof(mp) - 1);
        kiln_autofree char *ud = render_case("user-multipart", &s, NULL);

        if (!ud)
                return;
        check_archive("user-multipart", ud, mp, sizeof(mp) - 1, true);
}

static void test_yaml_special(void)
{
        static const char *const keys[] = {"command=\"echo \\\"hi\\\"; exit\",no-pty " USER_KEY
                                           " j\xc3\xbcrgen: #1 - [x] "
                                           "{y} &a *b !c %d @e `f` 'g' | > ~",
                                           KILN_KEY};
        seed_spec s = base_spec(NULL, 0);
        kiln_autofree char *meta = NULL, *ud = NULL;

        s.instance_id = "i-0123456789abcdef0";
        s.hostname = "true: #not-a-comment 'x' \"y\" \\z [a] {b} - ~ \xe2\x80\xa8 null";
        s.default_user = NULL;
        s.authorized_keys = keys;
        ud = render_case("yaml-special", &s, &meta);
        if (!ud)
                return;
        is_yaml(meta, "local-hostname", s.hostname, "yaml-special: the hostname survives");
        is_yaml(meta, "instance-id", s.instance_id, "yaml-special");
        is_yaml(ud, "ssh_authorized_keys.0", keys[0], "yaml-special: the key line survives");
        is_yaml(ud, "ssh_authorized_keys.1", KILN_KEY, "yaml-special");
        is_yaml(ud, "ssh_keys.ed25519_private", HOST_PRIVATE "\n", "yaml-special");
        ok(!yaml_at(ud, "user").found, "yaml-special: no default user named: cloud-init's own");
        ok(is_ascii_text(ud) && is_ascii_text(meta), "yaml-special: everything escaped to ASCII");
}

static void test_gzip(void)
{
        seed_spec s = base_spec(gzip_script, sizeof(gzip_script));
        kiln_autofree char *ud = render_case("gzip", &s, NULL);

        if (!ud)
                return;
        like(ud,
             "Content-Type: application/x-gzip\nMIME-Version: 1.0\n"
             "Content-Transfer-Encoding: base64\n",
             "gzip: an application/x-gzip part in base64");
        check_archive("gzip", ud, gzip_script, sizeof(gzip_script), false);
}

static void test_utf8(void)
{
        static const char cc[] = "#cloud-config\n"
                                 "write_files:\n"
                                 "  - path: /etc/motd\n"
                                 "    content: \"Gr\xc3\xbc\xc3\x9f Gott \xe2\x9c\x93\\n\"\n";
        seed_spec s = base_spec(cc, sizeof(cc) - 1);
        kiln_autofree char *ud = render_case("cloud-config-utf8", &s, NULL);

        if (!ud)
                return;
        like(ud,
             "Content-Type: text/cloud-config; charset=\"utf-8\"\nMIME-Version: 1.0\n"
             "Content-Transfer-Encoding: base64\n",
             "cloud-config-utf8: non-ASCII text goes in base64 as utf-8");
        check_archive("cloud-config-utf8", ud, cc, sizeof(cc) - 1, false);
}

static void render_refused(seed_spec s, const char *api_code, const char *needle, const char *what)
{
        kiln_autoptr(kiln_error) e = NULL;
        char *meta = (char *) "untouched", *user = (char *) "untouched";

        is_int(seed_render(&s, &meta, &user, &e), -1, "%s: refused", what);
        ok(e && (api_code ? e->api_code && strcmp(e->api_code, api_code) == 0 : !e->api_code),
           "%s: %s (%s)", what, api_code ? api_code : "no api code", e ? e->msg : "no error");
        like(e ? e->msg : NULL, needle, "%s: says why", what);
        ok(strcmp(meta, "untouched") == 0 && strcmp(user, "untouched") == 0,
           "%s: outputs left untouched", what);
}

static void test_render_refusals(void)
{
        static const char *const newline_key[] = {USER_KEY "\nssh-ed25519 AAAA evil"};
        static const char *const empty_key[] = {""};
        kiln_autofree char *big = kiln_xmalloc(SEED_USER_DATA_MAX + 1);
        seed_spec s;

        s = base_spec(NULL, 0);
        s.authorized_keys = newline_key;
        s.n_authorized_keys = 1;
        render_refused(s, "InvalidKeyPair.Format", "OpenSSH public key format",
                       "a key line with a newline (a second key)");
        s = base_spec(NULL, 0);
        s.authorized_keys = empty_key;
        s.n_authorized_keys = 1;
        render_refused(s, "InvalidKeyPair.Format", "OpenSSH", "an empty key line");
        s = base_spec(NULL, 0);
        s.host_key_private = "not a key";
        render_refused(s, NULL, "OpenSSH private key", "a private key without armour");
        s = base_spec(NULL, 0);
        s.host_key_private = "-----BEGIN OPENSSH PRIVATE KEY-----\n\tabc\n"
                             "-----END OPENSSH PRIVATE KEY-----\n";
        render_refused(s, NULL, "OpenSSH private key", "a private key line with a tab");
        s = base_spec(NULL, 0);
        s.host_key_private = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n\n"
                             "-----END OPENSSH PRIVATE KEY-----\n";
        render_refused(s, NULL, "OpenSSH private key", "a private key with an empty line");
        s = base_spec(NULL, 0);
        s.host_key_public = NULL;
        render_refused(s, "InvalidKeyPair.Format", "public", "no public host key");
        s = base_spec(NULL, 0);
        s.instance_id = NULL;
        render_refused(s, "InvalidInstanceID.Malformed", "Invalid id", "no instance ID");
        s = base_spec(NULL, 0);
        s.instance_id = "i-1\n";
        render_refused(s, "InvalidInstanceID.Malformed", "Invalid id",
                       "an instance ID with a "
                       "newline");
        s = base_spec(NULL, 0);
        s.hostname = "web\nlocal-hostname: evil";
        render_refused(s, "InvalidParameterValue", "hostname", "a hostname with a newline");
        s = base_spec(NULL, 0);
        s.default_user = "ad min";
        render_refused(s, "InvalidParameterValue", "'ad min' for the default user",
                       "a default user with a blank");
        memset(big, '#', SEED_USER_DATA_MAX + 1);
        s = base_spec(big, SEED_USER_DATA_MAX + 1);
        render_refused(s, "InvalidUserData.Malformed", "limited to 16384 bytes",
                       "16385 bytes of user data");
        s = base_spec("#cloud-config\n[", 15);
        render_refused(s, "InvalidUserData.Malformed", "not valid YAML", "bad YAML user data");
}

/* ---- the ISO ---- */

static char *read_or_null(const char *path)
{
        kiln_autoptr(kiln_error) e = NULL;
        char *s = NULL;

        return kiln_file_read(path, 1 << 20, &s, NULL, &e) == 0 ? s : NULL;
}

static char *run(kiln_cmd *cmd)
{
        kiln_autoptr(kiln_error) e = NULL;
        char *out = NULL;

        if (kiln_cmd_run(cmd, &out, &e) < 0)
                printf("# %s\n", e->msg);
        kiln_cmd_free(cmd);
        return out;
}

/* The names in dir, sorted, joined with spaces. */
static char *listing(const char *dir)
{
        return run(kiln_cmd_new("ls", "-A", dir, NULL));
}

static void test_iso(void)
{
        char tmpl[] = "/tmp/kiln-unit-seed.XXXXXX";
        char *dir = mkdtemp(tmpl);
        kiln_autofree char *xorriso = kiln_find_program("xorriso");
        static const char meta[] = "instance-id: \"i-0123456789abcdef0\"\n";
        static const char user[] = "#cloud-config\nssh_deletekeys: true\n";
        static const char net[] = "version: 2\nethernets: {}\n";

        if (!dir) {
                ok(0, "a temporary directory: %s", strerror(errno));
                return;
        }
        if (!xorriso) {
                ok(1, "# SKIP xorriso is not installed");
                free(run(kiln_cmd_new("rm", "-rf", "--", dir, NULL)));
                return;
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *iso = kiln_xasprintf("%s/seed.iso", dir);
                kiln_autofree char *out = kiln_xasprintf("%s/out", dir);
                kiln_autofree char *pvd = NULL, *toc = NULL, *files = NULL;

                is_int(seed_write_iso(meta, user, net, iso, &e), 0, "the ISO is written%s%s",
                       e ? ": " : "", e ? e->msg : "");
                pvd = run(kiln_cmd_new("xorriso", "-indev", iso, "-pvd_info", NULL));
                like(pvd, "Volume Id    : cidata\n", "its volume ID is cidata");
                toc = run(kiln_cmd_new("xorriso", "-indev", iso, "-toc", NULL));
                like(toc, "Rock_Ridge Joliet", "with Rock Ridge and Joliet");
                free(run(kiln_cmd_new("xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/",
                                      out, NULL)));
                files = listing(out);
                is_str(files, "meta-data\nnetwork-config\nuser-data\n", "it holds the three files");
                {
                        kiln_autofree char *p1 = kiln_xasprintf("%s/meta-data", out);
                        kiln_autofree char *p2 = kiln_xasprintf("%s/user-data", out);
                        kiln_autofree char *p3 = kiln_xasprintf("%s/network-config", out);
                        kiln_autofree char *m = read_or_null(p1), *u = read_or_null(p2),
                                           *nc = read_or_null(p3);

                        is_str(m, meta, "meta-data round-trips byte for byte");
                        is_str(u, user, "user-data round-trips byte for byte");
                        is_str(nc, net, "network-config round-trips byte for byte");
                }
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *iso = kiln_xasprintf("%s/seed.iso", dir);
                kiln_autofree char *out = kiln_xasprintf("%s/out2", dir);
                kiln_autofree char *files = NULL, *left = NULL;

                is_int(seed_write_iso(meta, user, NULL, iso, &e), 0,
                       "an ISO without network-config replaces the old one%s%s", e ? ": " : "",
                       e ? e->msg : "");
                free(run(kiln_cmd_new("xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/",
                                      out, NULL)));
                files = listing(out);
                is_str(files, "meta-data\nuser-data\n", "it holds meta-data and user-data only");
                left = listing(dir);
                is_str(left, "out\nout2\nseed.iso\n", "no staging directory is left behind");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *iso = kiln_xasprintf("%s/out", dir);
                kiln_autofree char *left = NULL;

                is_int(seed_write_iso(meta, user, NULL, iso, &e), -1,
                       "a directory in the ISO's place fails");
                ok(e && e->code == KILN_E_IO, "as an I/O error (%s)", e ? e->msg : "none");
                left = listing(dir);
                is_str(left, "out\nout2\nseed.iso\n", "and the staging directory is removed");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *iso = kiln_xasprintf("%s/missing/seed.iso", dir);

                is_int(seed_write_iso(meta, user, NULL, iso, &e), -1,
                       "an ISO in a missing directory fails");
                ok(e && e->code == KILN_E_IO, "as an I/O error (%s)", e ? e->msg : "none");
        }
        free(run(kiln_cmd_new("rm", "-rf", "--", dir, NULL)));
        ok(access(dir, F_OK) < 0, "the test's directory is removed");
}

int main(void)
{
        test_check();
        test_no_user_data();
        test_script();
        test_kept();
        test_cloud_config_keys();
        test_user_multipart();
        test_yaml_special();
        test_gzip();
        test_utf8();
        test_render_refusals();
        test_iso();
        return done();
}
