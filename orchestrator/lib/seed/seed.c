/* The NoCloud seed: meta-data and user-data from a seed_spec, the user data checked as EC2 and
 * cloud-init would take it, and the "cidata" ISO written with xorriso.
 *
 * The user-data layout, and the cloud-init 22.4 behaviour (Debian 12's) it relies on:
 *
 * - Without user data, user-data is kiln's #cloud-config alone.
 *
 * - With user data it is a MIME multipart/mixed archive (LF line ends, as Python's email
 *   parser reads them; the boundary is random and occurs in no part). The user's data comes
 *   first, as one part with the content type cloud-init itself would give it (the longest
 *   "#cloud-config", "#!", "#include", ... prefix, case-insensitive after leading blanks,
 *   like handlers.type_from_starts_with), or gzip as application/x-gzip in base64 (user_data
 *   decompresses DECOMP_TYPES parts and sniffs what is inside). A user's own MIME message is
 *   nested whole and byte for byte as one part: email's walk() descends into it and cloud-init
 *   skips multipart containers, so its parts keep their own headers, filenames and
 *   Merge-Types. kiln's #cloud-config is the last part.
 *
 * - The cloud-config handler merges every part into one buffer in order, each part with the
 *   mergers of its own Merge-Type header (or its merge_how key), else dict(replace)+list()+str()
 *   (handlers/cloud_config.py). Being last lets kiln's part decide how it meets whatever the
 *   user's parts built, whoever wrote them. It carries
 *       Merge-Type: list(append)+dict(no_replace,recurse_list,recurse_str)+str()
 *   mergers/m_dict.py, m_list.py and m_str.py then give: for a key set on both sides, lists are
 *   appended (the user's ssh_authorized_keys come first, kiln's follow, none dropped),
 *   mappings are merged key by key, strings take kiln's value (str() without append returns
 *   the new value: the login user's name and the pinned host key win, so kiln can still log
 *   in and check the host), and anything else (booleans such as ssh_deletekeys) stays the
 *   user's. A plain dict(replace), the default, would drop the user's keys; no_replace alone
 *   would let a user's ssh_keys replace the pinned host key.
 *
 * - The default user: the top-level `user: {name: NAME}` mapping, not system_info and not a
 *   `users:` entry. distros/ug_util.normalize_users_groups takes it as the default user's name
 *   over the image's system_info.default_user (whose groups, sudo and shell it keeps) and,
 *   because `user` is set, adds "default" to whatever `users` holds, whether a list, a
 *   mapping or a string. So the user exists even when the user's data has its own `users:`
 *   list without "default" (which alone would create no default user), and a `users: [...]`
 *   of ours could not do that without replacing a user's string-form list. In 22.4 only
 *   the string form of `user` is deprecated, not the mapping. cc_ssh gives the top-level
 *   ssh_authorized_keys to that default user. With ssh_keys present cc_ssh writes those keys
 *   and generates none (ssh_genkeytypes: [] says it twice); ssh_deletekeys removes any the
 *   image had.
 *
 * - Text parts are 7bit when they are ASCII, else base64 with charset utf-8: Python's email
 *   turns non-ASCII in an unencoded part into escape sequences (get_payload(decode=True) falls
 *   back to raw-unicode-escape), and a part ending in a bare CR would lose it to the delimiter.
 *
 * Known limit: gzip is sniffed after decompression only for the prefixes above, so a gzipped
 * MIME archive, which cloud-init unpacks when it is the whole user data, is not unpacked as a
 * part; checking for it would need zlib, which kiln does not link. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "seed/seed-private.h"
#include "seed/seed.h"
#include "util/util.h"

#define SEED_API_USER_DATA "InvalidUserData.Malformed"
#define SEED_MIME_SNIFF    4096 /* cloud-init looks for "mime-version:" this far */
#define SEED_MERGE_TYPE    "list(append)+dict(no_replace,recurse_list,recurse_str)+str()"
#define SEED_USER_PART     "part-001" /* the name cloud-init gives a lone user-data part */
#define SEED_KILN_PART     "kiln-cloud-config"

/* ---- bytes and text ---- */

/* Length of the valid UTF-8 prefix of s: n if all of it is valid. Overlong forms, surrogates
 * and code points above U+10FFFF are invalid, as for Python's decoder. */
static size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
        size_t i = 0;

        while (i < n) {
                unsigned char c = s[i];
                size_t k;
                uint32_t cp, min;

                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf) {
                        k = 1;
                        cp = c & 0x1f;
                        min = 0x80;
                } else if (c >= 0xe0 && c <= 0xef) {
                        k = 2;
                        cp = c & 0x0f;
                        min = 0x800;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        k = 3;
                        cp = c & 0x07;
                        min = 0x10000;
                } else {
                        return i;
                }
                if (n - i <= k)
                        return i;
                for (size_t j = 1; j <= k; j++) {
                        if ((s[i + j] & 0xc0) != 0x80)
                                return i;
                        cp = (cp << 6) | (s[i + j] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return i;
                i += k + 1;
        }
        return n;
}

/* Decodes one code point of valid UTF-8 at s; returns its length in bytes. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
        size_t k = s[0] < 0x80 ? 0 : s[0] < 0xe0 ? 1 : s[0] < 0xf0 ? 2 : 3;
        uint32_t v = k == 0 ? s[0] : s[0] & (0x3f >> k);

        for (size_t j = 1; j <= k; j++)
                v = (v << 6) | (s[j] & 0x3f);
        *cp = v;
        return k + 1;
}

/* 1-based line and column of a byte offset, as an editor counts them (columns in bytes). */
static void text_position(const char *s, size_t len, size_t offset, size_t *line, size_t *col)
{
        size_t l = 1, c = 1;

        for (size_t i = 0; i < offset && i < len; i++) {
                if (s[i] == '\n') {
                        l++;
                        c = 1;
                } else {
                        c++;
                }
        }
        *line = l;
        *col = c;
}

static bool is_ascii(const void *data, size_t len)
{
        const unsigned char *s = data;

        for (size_t i = 0; i < len; i++)
                if (s[i] >= 0x80)
                        return false;
        return true;
}

/* A single-line value for our YAML: valid UTF-8 and no control character (C0, DEL, C1). */
static bool is_clean_line(const char *s)
{
        const unsigned char *u = (const unsigned char *) s;
        size_t n = strlen(s);

        if (utf8_valid_prefix(u, n) != n)
                return false;
        for (size_t i = 0; i < n;) {
                uint32_t cp;

                i += utf8_decode(u + i, &cp);
                if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
                        return false;
        }
        return true;
}

/* Wipes a buffer that may hold the private host key, then frees it. */
static void buf_wipe(kiln_buf *b)
{
        if (b->data)
                explicit_bzero(b->data, b->len);
        kiln_buf_clear(b);
}

static void wipe_freep(char **p)
{
        if (*p) {
                explicit_bzero(*p, strlen(*p));
                free(*p);
                *p = NULL;
        }
}
#define seed_autowipe __attribute__((cleanup(wipe_freep)))

/* ---- what the user data is ---- */

typedef enum {
        USER_DATA_NONE,
        USER_DATA_TEXT, /* content_type says which */
        USER_DATA_GZIP,
        USER_DATA_MIME,
} user_data_kind;

/* cloud-init 22.4's handlers.INCLUSION_TYPES_MAP, longest prefix first. */
static const struct {
        const char *prefix;
        const char *content_type;
} text_types[] = {
        {"#cloud-config-archive", "text/cloud-config-archive"},
        {"#cloud-config-jsonp", "text/cloud-config-jsonp"},
        {"## template: jinja", "text/jinja2"},
        {"#cloud-boothook", "text/cloud-boothook"},
        {"#include-once", "text/x-include-once-url"},
        {"#cloud-config", "text/cloud-config"},
        {"#part-handler", "text/part-handler"},
        {"#include", "text/x-include-url"},
        {"#!", "text/x-shellscript"},
};

/* The content type cloud-init would give this text: its prefix after leading blanks
 * (str.lstrip's ASCII set), compared without case; text/plain if none matches. */
static const char *text_content_type(const char *s, size_t len)
{
        size_t i = 0;

        while (i < len && s[i] && strchr(" \t\n\r\v\f\x1c\x1d\x1e\x1f", s[i]))
                i++;
        for (size_t t = 0; t < KILN_ARRAY_SIZE(text_types); t++) {
                size_t n = strlen(text_types[t].prefix);

                if (len - i >= n && strncasecmp(s + i, text_types[t].prefix, n) == 0)
                        return text_types[t].content_type;
        }
        return "text/plain";
}

/* cloud-init's test for a MIME message: "mime-version:" in the first 4096 bytes. */
static bool looks_like_mime(const char *s, size_t len)
{
        static const char needle[] = "mime-version:";
        size_t n = len < SEED_MIME_SNIFF ? len : SEED_MIME_SNIFF;

        for (size_t i = 0; i + sizeof(needle) - 1 <= n; i++)
                if (strncasecmp(s + i, needle, sizeof(needle) - 1) == 0)
                        return true;
        return false;
}

/* ---- YAML ---- */

/* Tags PyYAML's SafeLoader (and cloud-init's subclass of it) can construct. */
static bool yaml_tag_safe(const char *tag)
{
        static const char *const safe[] = {"null",  "bool",      "int",           "float", "binary",
                                           "str",   "seq",       "map",           "set",   "omap",
                                           "pairs", "timestamp", "python/unicode"};
        static const char prefix[] = "tag:yaml.org,2002:";

        if (!tag || strcmp(tag, "!") == 0)
                return true;
        if (strncmp(tag, prefix, sizeof(prefix) - 1) != 0)
                return false;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(safe); i++)
                if (strcmp(tag + sizeof(prefix) - 1, safe[i]) == 0)
                        return true;
        return false;
}

static int yaml_parser_error(const yaml_parser_t *p, const char *what, const char *text, size_t len,
                             kiln_error **err)
{
        size_t line, col;

        if (p->error == YAML_MEMORY_ERROR)
                abort();
        if (p->error == YAML_READER_ERROR) {
                text_position(text, len, p->problem_offset, &line, &col);
                return kiln_error_set(err, KILN_E_INVALID, SEED_API_USER_DATA,
                                      "%s is not valid YAML: line %zu, column %zu: %s", what, line,
                                      col, p->problem ? p->problem : "unreadable");
        }
        if (p->context)
                return kiln_error_set(err, KILN_E_INVALID, SEED_API_USER_DATA,
                                      "%s is not valid YAML: line %zu, column %zu: %s (%s at "
                                      "line %zu, column %zu)",
                                      what, p->problem_mark.line + 1, p->problem_mark.column + 1,
                                      p->problem ? p->problem : "error", p->context,
                                      p->context_mark.line + 1, p->context_mark.column + 1);
        return kiln_error_set(err, KILN_E_INVALID, SEED_API_USER_DATA,
                              "%s is not valid YAML: line %zu, column %zu: %s", what,
                              p->problem_mark.line + 1, p->problem_mark.column + 1,
                              p->problem ? p->problem : "error");
}

/* The first document: not empty, the wanted node at the top, only safe tags. */
static int yaml_check_root(yaml_document_t *doc, yaml_node_type_t want, const char *what,
                           kiln_error **err)
{
        yaml_node_t *root = yaml_document_get_root_node(doc);

        if (!root)
                return kiln_error_set(err, KILN_E_INVALID, SEED_API_USER_DATA,
                                      "%s is empty: cloud-init needs a %s at the top", what,
                                      want == YAML_MAPPING_NODE ? "mapping" : "list");
        if (root->type != want)
                return kiln_error_set(err, KILN_E_INVALID, SEED_API_USER_DATA,
                                      "%s must have a %s at the top, not a %s: line %zu, "
                                      "column %zu",
                                      what, want == YAML_MAPPING_NODE ? "mapping" : "list",
                                      root->type == YAML_SCALAR_NODE     ? "scalar"
                                      : root->type == YAML_SEQUENCE_NODE ? "list"
                                                                         : "mapping",
                                      root->start_mark.line + 1, root->start_mark.column + 1);
        for (yaml_node_t *n = doc->nodes.start; n < doc->nodes.top; n++)
                if (!yaml_tag_safe((const char *) n->tag))
                        return kiln_error_set(err, KILN_E_INVALID, SEED_API_USER_DATA,
                                              "%s is not valid YAML: line %zu, column %zu: tag "
                                              "'%s' is not one cloud-init's safe loader accepts",
                                              what, n->start_mark.line + 1,
                                              n->start_mark.column + 1, (const char *) n->tag);
        return 0;
}

static int yaml_check_documents(yaml_parser_t *p, yaml_node_type_t want, const char *what,
                                const char *text, size_t len, kiln_error **err)
{
        yaml_document_t doc;
        yaml_mark_t second;
        bool more;
        int r;

        if (!yaml_parser_load(p, &doc))
                return yaml_parser_error(p, what, text, len, err);
        r = yaml_check_root(&doc, want, what, err);
        yaml_document_delete(&doc);
        if (r < 0)
                return -1;
        /* safe_load wants exactly one document */
        if (!yaml_parser_load(p, &doc))
                return yaml_parser_error(p, what, text, len, err);
        more = yaml_document_get_root_node(&doc) != NULL;
        second = doc.start_mark;
        yaml_document_delete(&doc);
        if (more)
                return kiln_error_set(err, KILN_E_INVALID, SEED_API_USER_DATA,
                                      "%s holds more than one YAML document (the second starts "
                                      "at line %zu, column %zu)",
                                      what, second.line + 1, second.column + 1);
        return 0;
}

/* Parses text as cloud-init's safe_load would, and wants exactly one document with a node of
 * the given type at the top. */
static int yaml_check(const char *text, size_t len, yaml_node_type_t want, const char *what,
                      kiln_error **err)
{
        yaml_parser_t p;
        int r;

        if (!yaml_parser_initialize(&p))
                abort();
        yaml_parser_set_input_string(&p, (const unsigned char *) text, len);
        yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
        r = yaml_check_documents(&p, want, what, text, len, err);
        yaml_parser_delete(&p);
        return r;
}

/* ---- MIME ---- */

/* The next line of s from *pos: its start and length without the line end (\n, \r\n or \r,
 * as Python's email splits). False at the end. */
static bool next_line(const char *s, size_t len, size_t *pos, const char **line, size_t *n)
{
        size_t i = *pos;

        if (i >= len)
                return false;
        *line = s + i;
        while (i < len && s[i] != '\n' && s[i] != '\r')
                i++;
        *n = i - *pos;
        if (i < len && s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
                i += 2;
        else if (i < len)
                i++;
        *pos = i;
        return true;
}

/* "Name:" with the field-name characters of RFC 5322 (what Python's headerRE accepts). */
static size_t header_name_len(const char *line, size_t n)
{
        size_t i = 0;

        while (i < n && line[i] >= 33 && line[i] <= 126 && line[i] != ':')
                i++;
        return i > 0 && i < n && line[i] == ':' ? i : 0;
}

/* Reads the header block at the start of s: the unfolded Content-Type value (first one, ""
 * if none) and the offset where the body starts. False if s does not start with a header. */
static bool mime_headers(const char *s, size_t len, kiln_buf *content_type, size_t *ret_body)
{
        size_t pos = 0, start = 0, n;
        const char *line;
        bool in_type = false, have_type = false, first = true;

        for (;;) {
                size_t name;

                start = pos;
                if (!next_line(s, len, &pos, &line, &n) || n == 0)
                        break;
                if (line[0] == ' ' || line[0] == '\t') {
                        if (first)
                                return false;
                        if (in_type)
                                kiln_buf_append(content_type, line, n);
                        continue;
                }
                name = header_name_len(line, n);
                if (!name) {
                        if (first)
                                return false;
                        pos = start; /* no blank line: the body starts here */
                        break;
                }
                first = false;
                in_type = !have_type && name == 12 && strncasecmp(line, "Content-Type", 12) == 0;
                if (in_type) {
                        have_type = true;
                        kiln_buf_append(content_type, line + name + 1, n - name - 1);
                }
        }
        if (first)
                return false;
        if (!content_type->data)
                kiln_buf_append(content_type, "", 0);
        *ret_body = pos;
        return true;
}

static const char *skip_space(const char *p)
{
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

/* The boundary parameter of a Content-Type value (quoted or a token, trailing blanks removed
 * as email's get_boundary does), or NULL. *ret_multipart says whether the type is multipart. */
static char *mime_boundary(const char *value, bool *ret_multipart)
{
        const char *p = skip_space(value);

        *ret_multipart = strncasecmp(p, "multipart/", 10) == 0;
        p = strchr(p, ';');
        while (p && *p == ';') {
                const char *name = skip_space(p + 1), *eq = name;
                kiln_buf v = {0};

                while (*eq && *eq != '=' && *eq != ';')
                        eq++;
                if (*eq != '=') {
                        p = eq;
                        continue;
                }
                p = skip_space(eq + 1);
                if (*p == '"') {
                        for (p++; *p && *p != '"'; p++) {
                                if (*p == '\\' && p[1])
                                        p++;
                                kiln_buf_append(&v, p, 1);
                        }
                        if (*p == '"')
                                p++;
                } else {
                        const char *end = p;

                        while (*end && *end != ';' && *end != ' ' && *end != '\t')
                                end++;
                        kiln_buf_append(&v, p, (size_t) (end - p));
                        p = end;
                }
                while (name < eq && (eq[-1] == ' ' || eq[-1] == '\t'))
                        eq--;
                if ((size_t) (eq - name) == 8 && strncasecmp(name, "boundary", 8) == 0 && v.len) {
                        while (v.len && (v.data[v.len - 1] == ' ' || v.data[v.len - 1] == '\t'))
                                v.data[--v.len] = '\0';
                        if (v.len)
                                return kiln_buf_steal(&v);
                }
                kiln_buf_clear(&v);
                p = strchr(p, ';');
        }
        return NULL;
}

/* True if some line of the body opens a part: "--BOUNDARY", then blanks only. */
static bool mime_has_delimiter(const char *s, size_t len, size_t pos, const char *boundary)
{
        size_t blen = strlen(boundary), n;
        const char *line;

        while (next_line(s, len, &pos, &line, &n)) {
                size_t i = blen + 2;

                if (n < i || line[0] != '-' || line[1] != '-' ||
                    memcmp(line + 2, boundary, blen) != 0)
                        continue;
                while (i < n && (line[i] == ' ' || line[i] == '\t'))
                        i++;
                if (i == n)
                        return true;
        }
        return false;
}

static int check_mime(const char *s, size_t len, kiln_error **err)
{
        kiln_buf type = {0};
        kiln_autofree char *ctype = NULL, *boundary = NULL;
        size_t body = 0;
        bool ok = mime_headers(s, len, &type, &body), multipart = false;

        ctype = kiln_buf_steal(&type);
        if (!ok)
                return kiln_error_set(err, KILN_E_INVALID, SEED_API_USER_DATA,
                                      "User data names a MIME-Version but does not start with "
                                      "MIME headers");
        boundary = mime_boundary(ctype, &multipart);
        if (!multipart)
                return 0;
        if (!boundary)
                return kiln_error_set(err, KILN_E_INVALID, SEED_API_USER_DATA,
                                      "The MIME multipart user data declares no boundary");
        if (!mime_has_delimiter(s, len, body, boundary))
                return kiln_error_set(err, KILN_E_INVALID, SEED_API_USER_DATA,
                                      "The MIME multipart user data has no part delimited by "
                                      "its boundary '%s'",
                                      is_clean_line(boundary) ? boundary : "?");
        return 0;
}

/* What the user data is, without judging it; *ret_type for text. */
static user_data_kind classify(const char *s, size_t len, const char **ret_type)
{
        *ret_type = NULL;
        if (!s || len == 0)
                return USER_DATA_NONE;
        if (len >= 2 && (unsigned char) s[0] == 0x1f && (unsigned char) s[1] == 0x8b)
                return USER_DATA_GZIP;
        *ret_type = text_content_type(s, len);
        if (strcmp(*ret_type, "text/plain") == 0 && looks_like_mime(s, len))
                return USER_DATA_MIME;
        return USER_DATA_TEXT;
}

int seed_check_user_data(const void *data, size_t len, kiln_error **err)
{
        const char *s = data, *type = NULL, *nul;
        size_t valid, line, col;
        user_data_kind kind;

        if (len > SEED_USER_DATA_MAX)
                return kiln_error_set(err, KILN_E_LIMIT, SEED_API_USER_DATA,
                                      "User data is limited to %d bytes", SEED_USER_DATA_MAX);
        kind = classify(s, len, &type);
        if (kind == USER_DATA_NONE || kind == USER_DATA_GZIP)
                return 0;
        valid = utf8_valid_prefix(data, len);
        if (valid < len) {
                text_position(s, len, valid, &line, &col);
                return kiln_error_set(err, KILN_E_INVALID, SEED_API_USER_DATA,
                                      "User data is neither gzip nor UTF-8 text: invalid UTF-8 "
                                      "at byte %zu (line %zu, column %zu)",
                                      valid, line, col);
        }
        nul = memchr(s, '\0', len);
        if (nul) {
                text_position(s, len, (size_t) (nul - s), &line, &col);
                return kiln_error_set(err, KILN_E_INVALID, SEED_API_USER_DATA,
                                      "User data is neither gzip nor text: a NUL byte at byte "
                                      "%zu (line %zu, column %zu)",
                                      (size_t) (nul - s), line, col);
        }
        if (kind == USER_DATA_MIME)
                return check_mime(s, len, err);
        if (strcmp(type, "text/cloud-config") == 0)
                return yaml_check(s, len, YAML_MAPPING_NODE, "The #cloud-config user data", err);
        if (strcmp(type, "text/cloud-config-archive") == 0)
                return yaml_check(s, len, YAML_SEQUENCE_NODE, "The #cloud-config-archive user data",
                                  err);
        if (strcmp(type, "text/plain") == 0 && len >= 13 &&
            strncasecmp(s, "content-type:", 13) == 0)
                return kiln_error_set(err, KILN_E_INVALID, SEED_API_USER_DATA,
                                      "User data starts with a Content-Type header but has no "
                                      "MIME-Version header in its first %d bytes, without which "
                                      "cloud-init does not read it as MIME",
                                      SEED_MIME_SNIFF);
        return 0;
}

/* ---- rendering ---- */

/* A YAML double-quoted scalar: \ and " escaped, and everything outside printable ASCII as an
 * escape, so that no value can end the scalar, start a line, or change in a YAML 1.1 reader
 * (which takes U+0085, U+2028 and U+2029 for line breaks). s must be valid UTF-8. */
static void yaml_quote(kiln_buf *b, const char *s)
{
        const unsigned char *u = (const unsigned char *) s;

        kiln_buf_append(b, "\"", 1);
        for (size_t i = 0; u[i];) {
                uint32_t cp;

                i += utf8_decode(u + i, &cp);
                if (cp == '"' || cp == '\\')
                        kiln_buf_appendf(b, "\\%c", (char) cp);
                else if (cp >= 0x20 && cp < 0x7f)
                        kiln_buf_append(b, (const char *) &u[i - 1], 1);
                else if (cp == '\t')
                        kiln_buf_append(b, "\\t", 2);
                else if (cp == '\n')
                        kiln_buf_append(b, "\\n", 2);
                else if (cp < 0x100)
                        kiln_buf_appendf(b, "\\x%02x", (unsigned) cp);
                else if (cp < 0x10000)
                        kiln_buf_appendf(b, "\\u%04x", (unsigned) cp);
                else
                        kiln_buf_appendf(b, "\\U%08x", (unsigned) cp);
        }
        kiln_buf_append(b, "\"", 1);
}

/* OpenSSH private key text, armoured: "-----BEGIN ...-----" to "-----END ...-----", lines of
 * printable ASCII that start with no blank, none empty (one trailing line end allowed). That
 * is what a literal block scalar holds unchanged. */
static bool private_key_valid(const char *key)
{
        size_t n = strlen(key), start = 0;
        const char *last = NULL;

        if (n && key[n - 1] == '\n')
                n--;
        if (n < 11 || strncmp(key, "-----BEGIN ", 11) != 0)
                return false;
        for (size_t i = 0; i <= n; i++) {
                if (i < n && key[i] != '\n') {
                        if (key[i] < 0x20 || key[i] > 0x7e)
                                return false;
                        continue;
                }
                if (i == start || key[start] == ' ')
                        return false;
                last = key + start;
                start = i + 1;
        }
        return last && strncmp(last, "-----END ", 9) == 0 && key[n - 1] == '-';
}

static int check_spec(const seed_spec *spec, kiln_error **err)
{
        if (!spec->instance_id || !*spec->instance_id || !is_clean_line(spec->instance_id))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidInstanceID.Malformed",
                                      "Invalid id: \"%s\"",
                                      spec->instance_id && is_clean_line(spec->instance_id)
                                              ? spec->instance_id
                                              : "(not one line of text)");
        if (spec->hostname && !is_clean_line(spec->hostname))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The hostname must be one line of text");
        if (spec->default_user && *spec->default_user &&
            seed_check_user_name(spec->default_user, err) < 0)
                return -1;
        assert(spec->n_authorized_keys == 0 || spec->authorized_keys);
        for (size_t i = 0; i < spec->n_authorized_keys; i++) {
                const char *k = spec->authorized_keys[i];

                if (!k || !*k || *k == '#' || !is_clean_line(k))
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidKeyPair.Format",
                                              "Key is not in valid OpenSSH public key format");
        }
        if (!spec->host_key_public || !*spec->host_key_public ||
            !is_clean_line(spec->host_key_public))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidKeyPair.Format",
                                      "The host key's public line is not in valid OpenSSH "
                                      "public key format");
        if (spec->host_key_private && !private_key_valid(spec->host_key_private))
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "The host key is not OpenSSH private key text");
        return 0;
}

static char *render_meta_data(const seed_spec *spec)
{
        kiln_buf b = {0};

        kiln_buf_appendf(&b, "instance-id: ");
        yaml_quote(&b, spec->instance_id);
        if (spec->hostname && *spec->hostname) {
                kiln_buf_appendf(&b, "\nlocal-hostname: ");
                yaml_quote(&b, spec->hostname);
        }
        kiln_buf_append(&b, "\n", 1);
        return kiln_buf_steal(&b);
}

/* kiln's #cloud-config. It holds the private host key: the caller wipes it. */
static char *render_cloud_config(const seed_spec *spec)
{
        kiln_buf b = {0};
        const char *key = spec->host_key_private;

        kiln_buf_appendf(&b, "#cloud-config\n"
                             "# kiln: the login user, its keys, and the instance's only SSH host "
                             "key.\n");
        if (spec->default_user && *spec->default_user) {
                kiln_buf_appendf(&b, "user:\n  name: ");
                yaml_quote(&b, spec->default_user);
                kiln_buf_append(&b, "\n", 1);
        }
        kiln_buf_appendf(&b, "ssh_authorized_keys:%s\n", spec->n_authorized_keys ? "" : " []");
        for (size_t i = 0; i < spec->n_authorized_keys; i++) {
                kiln_buf_appendf(&b, "  - ");
                yaml_quote(&b, spec->authorized_keys[i]);
                kiln_buf_append(&b, "\n", 1);
        }
        if (!key) {
                /* The seed a booted instance keeps: its host key was taken at the first boot,
                 * and a later run of the module must neither delete nor make keys. */
                kiln_buf_appendf(&b, "ssh_deletekeys: false\n"
                                     "ssh_genkeytypes: []\n");
                return kiln_buf_steal(&b);
        }
        kiln_buf_appendf(&b, "ssh_deletekeys: true\n"
                             "ssh_genkeytypes: []\n"
                             "ssh_keys:\n"
                             "  ed25519_private: |\n");
        while (*key) {
                size_t n = strcspn(key, "\n");

                kiln_buf_append(&b, "    ", 4);
                kiln_buf_append(&b, key, n);
                kiln_buf_append(&b, "\n", 1);
                key += n;
                if (*key == '\n')
                        key++;
        }
        kiln_buf_appendf(&b, "  ed25519_public: ");
        yaml_quote(&b, spec->host_key_public);
        kiln_buf_append(&b, "\n", 1);
        return kiln_buf_steal(&b);
}

/* base64 in lines of 76 characters (RFC 2045), without a final newline. */
static void base64_append(kiln_buf *b, const unsigned char *s, size_t n)
{
        kiln_autofree char *text = kiln_base64_encode(s, n, true);
        size_t len = strlen(text);

        for (size_t off = 0; off < len; off += 76) {
                if (off > 0)
                        kiln_buf_append(b, "\n", 1);
                kiln_buf_append(b, text + off, len - off < 76 ? len - off : 76);
        }
}

/* One part of our archive: headers, then its body as it goes on the wire. */
typedef struct mime_part {
        kiln_buf head;
        kiln_buf body;
} mime_part;

/* A leaf part: text in 7bit when it is ASCII and does not end in a bare CR, else base64. */
static void part_leaf(mime_part *part, const char *content_type, bool text, const char *filename,
                      const char *merge_type, const void *data, size_t len)
{
        const char *s = data;
        bool plain = text && is_ascii(data, len) && !(len && s[len - 1] == '\r');

        kiln_buf_appendf(&part->head, "Content-Type: %s%s\n", content_type,
                         !text   ? ""
                         : plain ? "; charset=\"us-ascii\""
                                 : "; charset=\"utf-8\"");
        kiln_buf_appendf(&part->head, "MIME-Version: 1.0\n");
        kiln_buf_appendf(&part->head, "Content-Transfer-Encoding: %s\n", plain ? "7bit" : "base64");
        kiln_buf_appendf(&part->head, "Content-Disposition: attachment; filename=\"%s\"\n",
                         filename);
        if (merge_type)
                kiln_buf_appendf(&part->head, "Merge-Type: %s\n", merge_type);
        kiln_buf_append(&part->head, "\n", 1);
        if (plain)
                kiln_buf_append(&part->body, data, len);
        else
                base64_append(&part->body, data, len);
}

static bool buf_contains(const kiln_buf *b, const char *needle)
{
        return b->len && memmem(b->data, b->len, needle, strlen(needle));
}

static bool part_contains(const mime_part *part, const char *needle)
{
        return buf_contains(&part->head, needle) || buf_contains(&part->body, needle);
}

/* The archive: the user's part, then kiln's, under a random boundary found in neither. */
static int render_archive(mime_part parts[2], char **ret, kiln_error **err)
{
        kiln_autofree char *boundary = NULL;
        kiln_buf b = {0};

        for (int attempt = 0; attempt < 8 && !boundary; attempt++) {
                boundary = kiln_id_new("kiln-boundary");
                if (part_contains(&parts[0], boundary) || part_contains(&parts[1], boundary)) {
                        free(boundary);
                        boundary = NULL;
                }
        }
        if (!boundary)
                return kiln_error_set(err, KILN_E_INTERNAL, NULL,
                                      "no MIME boundary found that the user data does not hold");
        kiln_buf_appendf(&b,
                         "Content-Type: multipart/mixed; boundary=\"%s\"\n"
                         "MIME-Version: 1.0\n"
                         "\n",
                         boundary);
        for (int i = 0; i < 2; i++) {
                kiln_buf_appendf(&b, "--%s\n", boundary);
                if (parts[i].head.len)
                        kiln_buf_append(&b, parts[i].head.data, parts[i].head.len);
                if (parts[i].body.len)
                        kiln_buf_append(&b, parts[i].body.data, parts[i].body.len);
                /* the line end before a delimiter belongs to the delimiter */
                kiln_buf_append(&b, "\n", 1);
        }
        kiln_buf_appendf(&b, "--%s--\n", boundary);
        *ret = kiln_buf_steal(&b);
        return 0;
}

static int render_user_data(const seed_spec *spec, const char *cloud_config, char **ret,
                            kiln_error **err)
{
        const char *type = NULL;
        user_data_kind kind = classify(spec->user_data, spec->user_data_len, &type);
        mime_part parts[2] = {0};
        int r;

        if (kind == USER_DATA_NONE) {
                *ret = kiln_xstrdup(cloud_config);
                return 0;
        }
        if (kind == USER_DATA_MIME)
                kiln_buf_append(&parts[0].body, spec->user_data, spec->user_data_len);
        else if (kind == USER_DATA_GZIP)
                part_leaf(&parts[0], "application/x-gzip", false, SEED_USER_PART, NULL,
                          spec->user_data, spec->user_data_len);
        else
                part_leaf(&parts[0], type, true, SEED_USER_PART, NULL, spec->user_data,
                          spec->user_data_len);
        part_leaf(&parts[1], "text/cloud-config", true, SEED_KILN_PART, SEED_MERGE_TYPE,
                  cloud_config, strlen(cloud_config));
        r = render_archive(parts, ret, err);
        for (int i = 0; i < 2; i++) {
                buf_wipe(&parts[i].head);
                buf_wipe(&parts[i].body);
        }
        return r;
}

int seed_check_user_name(const char *name, kiln_error **err)
{
        size_t n = name ? strlen(name) : 0;

        if (n == 0 || n > 32 ||
            strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
                    n ||
            name[0] == '-' || name[0] == '.')
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid value '%s' for the default user: up to "
                                      "32 letters, digits, '_', '.' and '-', not "
                                      "starting with '-' or '.'",
                                      name && is_clean_line(name) ? name : "?");
        return 0;
}

int seed_render(const seed_spec *spec, char **ret_meta_data, char **ret_user_data, kiln_error **err)
{
        kiln_autofree char *meta = NULL;
        seed_autowipe char *cloud_config = NULL;
        seed_autowipe char *user = NULL;

        assert(spec && ret_meta_data && ret_user_data);
        if (check_spec(spec, err) < 0 ||
            seed_check_user_data(spec->user_data, spec->user_data_len, err) < 0)
                return -1;
        meta = render_meta_data(spec);
        cloud_config = render_cloud_config(spec);
        if (render_user_data(spec, cloud_config, &user, err) < 0)
                return -1;
        *ret_meta_data = kiln_steal(&meta);
        *ret_user_data = kiln_steal(&user);
        return 0;
}

/* ---- the ISO ---- */

/* Writes all of data to fd; 0 or -errno. */
static int write_all(int fd, const void *data, size_t len)
{
        const char *p = data;
        size_t done = 0;

        while (done < len) {
                ssize_t n = write(fd, p + done, len - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                done += (size_t) n;
        }
        return 0;
}

char *seed_staging_new(const char *iso_path, char **ret_iso, kiln_error **err)
{
        /* "./" keeps a relative path that starts with '-' from reading as an option */
        kiln_autofree char *iso = kiln_xasprintf("%s%s", iso_path[0] == '-' ? "./" : "", iso_path);
        char *dir = kiln_xasprintf("%s.staging-XXXXXX", iso);

        if (!mkdtemp(dir)) {
                kiln_error_set_errno(err, errno, KILN_E_IO,
                                     "cannot create a staging directory for '%s'", iso_path);
                free(dir);
                return NULL;
        }
        *ret_iso = kiln_steal(&iso);
        return dir;
}

int seed_stage_file(const char *dir, const char *name, const void *data, size_t len,
                    kiln_error **err)
{
        kiln_autofree char *path = kiln_xasprintf("%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), r;

        if (fd < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot create '%s'", path);
        r = write_all(fd, data, len);
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r < 0)
                return kiln_error_set_errno(err, -r, KILN_E_IO, "cannot write '%s'", path);
        return 0;
}

int seed_staging_remove(const char *dir, const char *const *files, size_t n_files,
                        const char *const *subdirs, size_t n_subdirs, kiln_error **err)
{
        int r = 0;

        for (size_t i = 0; i < n_files; i++) {
                kiln_autofree char *path = kiln_xasprintf("%s/%s", dir, files[i]);

                if (kiln_file_wipe(path) < 0)
                        r = kiln_error_set_errno(err, errno, KILN_E_IO, "cannot remove '%s'", path);
        }
        for (size_t i = 0; i < n_subdirs; i++) {
                kiln_autofree char *path = kiln_xasprintf("%s/%s", dir, subdirs[i]);

                if (rmdir(path) < 0 && errno != ENOENT)
                        r = kiln_error_set_errno(err, errno, KILN_E_IO, "cannot remove '%s'", path);
        }
        if (rmdir(dir) < 0)
                r = kiln_error_set_errno(err, errno, KILN_E_IO, "cannot remove '%s'", dir);
        return r;
}

int seed_build_image(const char *dir, const char *volid, const char *iso, const char *what,
                     kiln_error **err)
{
        kiln_autoptr(kiln_cmd) cmd = NULL;

        if (unlink(iso) < 0 && errno != ENOENT)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot replace '%s'", iso);
        cmd = kiln_cmd_new("xorriso", "-as", "mkisofs", "-output", iso, "-volid", volid, "-joliet",
                           "-rock", dir, NULL);
        if (kiln_cmd_run(cmd, NULL, err) < 0) {
                kiln_error_prefix(err, "cannot write the %s '%s'", what, iso);
                return -1;
        }
        return 0;
}

static int build_iso(const char *dir, const char *meta_data, const char *user_data,
                     const char *network_config, const char *iso_path, kiln_error **err)
{
        if (seed_stage_file(dir, "meta-data", meta_data, strlen(meta_data), err) < 0 ||
            seed_stage_file(dir, "user-data", user_data, strlen(user_data), err) < 0 ||
            (network_config && seed_stage_file(dir, "network-config", network_config,
                                               strlen(network_config), err) < 0))
                return -1;
        return seed_build_image(dir, "cidata", iso_path, "seed image", err);
}

int seed_write_iso(const char *meta_data, const char *user_data, const char *network_config,
                   const char *iso_path, kiln_error **err)
{
        static const char *const names[] = {"meta-data", "user-data", "network-config"};
        kiln_autofree char *iso = NULL, *dir = NULL;
        int r;

        assert(meta_data && user_data && iso_path);
        dir = seed_staging_new(iso_path, &iso, err);
        if (!dir)
                return -1;
        r = build_iso(dir, meta_data, user_data, network_config, iso, err);
        /* user-data may hold a private host key: overwritten before it goes. */
        if (seed_staging_remove(dir, names, KILN_ARRAY_SIZE(names), NULL, 0, err) < 0)
                r = -1;
        return r;
}
