/* Key pairs: create (ssh-keygen), import (OpenSSH, RFC 4716, PEM or DER public keys), describe
 * with EC2's filters, delete, and the lookup the instance code uses at launch.
 *
 * kiln keeps only the public key. A private key exists in three places only: the private
 * directory (0700, outside the kiln home) where ssh-keygen writes it, whose files are
 * overwritten with zeros before they are removed; kiln's memory, zeroed before it is freed;
 * and where the caller wants it (its own buffer, or a new 0600 file that is never written over
 * an existing one). Fingerprints are EC2's (reference/ec2-ami.md §6.10), computed by openssl and
 * ssh-keygen through kiln_cmd, with intermediate files in the same private directory. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/text.h>

#include "image/image-rules.h"
#include "keypair/keypair-private.h"
#include "registry/registry-keypair.h"
#include "util/util.h"

#define KEY_FILE_MAX      65536 /* private keys, public keys, import material */
#define FORMAT_ERROR_TEXT "Key is not in valid OpenSSH public key format"

/* ==== records ==== */

void kiln_keypair_clear(kiln_keypair *kp)
{
        if (!kp)
                return;
        free(kp->key_pair_id);
        free(kp->key_name);
        free(kp->key_type);
        free(kp->fingerprint);
        free(kp->public_key);
        free(kp->create_time);
        free(kp->private_key_path);
        free(kp->region);
        free(kp->owner_id);
        for (size_t i = 0; i < kp->n_tags; i++) {
                free(kp->tags[i].key);
                free(kp->tags[i].value);
        }
        free(kp->tags);
        memset(kp, 0, sizeof(*kp));
}

void kiln_keypairs_free(kiln_keypair *kps, size_t n)
{
        for (size_t i = 0; kps && i < n; i++)
                kiln_keypair_clear(&kps[i]);
        free(kps);
}

char *kiln_keypair_material_free(char *material)
{
        if (material) {
                explicit_bzero(material, strlen(material));
                free(material);
        }
        return NULL;
}

/* ==== checks and errors ==== */

int keypair_check_name(const char *name, kiln_error **err)
{
        size_t n;

        if (!name)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter KeyName");
        n = strlen(name);
        if (n == 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Value () for parameter KeyName is invalid: a key name "
                                      "cannot be empty");
        if (n > KILN_KEYPAIR_NAME_MAX)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Value for parameter KeyName is invalid: %zu characters, "
                                      "more than %d",
                                      n, KILN_KEYPAIR_NAME_MAX);
        if (kiln_text_check("KeyName", name, 0, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) name[i];

                if (c < 0x20 || c > 0x7e)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "Value for parameter KeyName is invalid: a key "
                                              "name has printable ASCII characters only");
        }
        if (name[0] == ' ' || name[n - 1] == ' ')
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Value (%s) for parameter KeyName is invalid: a key name "
                                      "cannot begin or end with a space",
                                      name);
        return 0;
}

static int check_id(const char *id, kiln_error **err)
{
        if (!kiln_id_valid("key", id))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid id: \"%s\" (expecting \"key-...\")", id ? id : "");
        return 0;
}

static int not_found(kiln_error **err, const char *what)
{
        return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidKeyPair.NotFound",
                              "The key pair '%s' does not exist", what ? what : "");
}

static int format_error(kiln_error **err, const char *why)
{
        if (why)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidKeyPair.Format",
                                      FORMAT_ERROR_TEXT ": %s", why);
        return kiln_error_set(err, KILN_E_INVALID, "InvalidKeyPair.Format", FORMAT_ERROR_TEXT);
}

/* Moves a set error into *err (if err wants one and holds none). */
static int pass_error(kiln_error **err, kiln_error **e)
{
        if (err && !*err)
                *err = kiln_steal(e);
        return -1;
}

static int need_tool(const char *tool, const char *package, kiln_error **err)
{
        kiln_autofree char *path = kiln_find_program(tool);

        if (!path)
                return kiln_error_set(err, KILN_E_IO, NULL,
                                      "'%s' is not installed (Debian package %s)", tool, package);
        return 0;
}

/* ==== files ==== */

/* A private directory (0700) for key files, outside the kiln home: a private key does not land
 * in the home even for a moment, and nothing of it is left for fsck to find. */
static char *keydir_new(kiln_error **err)
{
        const char *tmp = getenv("TMPDIR");
        kiln_autofree char *tmpl = kiln_xasprintf("%s/kiln-key.XXXXXX", tmp && *tmp ? tmp : "/tmp");

        if (!mkdtemp(tmpl)) {
                kiln_error_set_errno(err, errno, KILN_E_IO,
                                     "cannot create a private directory "
                                     "for key files");
                return NULL;
        }
        return kiln_steal(&tmpl);
}

static int scrub_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        static const char zeros[4096];
        kiln_autoclose int fd = -1;

        (void) ftw;
        if (flag != FTW_F || !S_ISREG(st->st_mode))
                return 0;
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        for (off_t left = st->st_size; fd >= 0 && left > 0;) {
                size_t chunk = left < (off_t) sizeof(zeros) ? (size_t) left : sizeof(zeros);
                ssize_t n = write(fd, zeros, chunk);

                if (n <= 0)
                        break;
                left -= n;
        }
        return 0;
}

/* Overwrites every file of the directory with zeros, then removes it. Quiet. */
static void keydir_remove(const char *dir)
{
        if (!dir)
                return;
        nftw(dir, scrub_entry, 8, FTW_PHYS);
        ctx_workdir_remove(dir);
}

static int write_all(int fd, const char *path, const char *data, size_t len, kiln_error **err)
{
        while (len > 0) {
                ssize_t n = write(fd, data, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot write '%s'",
                                                    path);
                data += n;
                len -= (size_t) n;
        }
        return 0;
}

static int write_text(const char *path, const char *text, kiln_error **err)
{
        kiln_autoclose int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot create '%s'", path);
        return write_all(fd, path, text, strlen(text), err);
}

/* Reads a small secret file into one exact allocation (no growing buffer leaves copies). */
static int read_secret(const char *path, char **ret, size_t *ret_len, kiln_error **err)
{
        kiln_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        struct stat st;
        size_t size, got = 0;
        char *buf;

        if (fd < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot open '%s'", path);
        if (fstat(fd, &st) < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot stat '%s'", path);
        if (st.st_size <= 0 || st.st_size > KEY_FILE_MAX)
                return kiln_error_set(err, KILN_E_IO, NULL, "'%s' has an unexpected size (%lld)",
                                      path, (long long) st.st_size);
        size = (size_t) st.st_size;
        buf = kiln_xmalloc(size + 1);
        while (got < size) {
                ssize_t n = read(fd, buf + got, size - got);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        int e = n < 0 ? errno : EIO;

                        explicit_bzero(buf, size + 1);
                        free(buf);
                        return kiln_error_set_errno(err, e, KILN_E_IO, "cannot read '%s'", path);
                }
                got += (size_t) n;
        }
        buf[got] = '\0';
        *ret = buf;
        *ret_len = got;
        return 0;
}

static void trim_end(char *s)
{
        size_t n = s ? strlen(s) : 0;

        while (n > 0 && isspace((unsigned char) s[n - 1]))
                s[--n] = '\0';
}

/* ==== fingerprints ==== */

/* openssl dgst prints "SHA1(FILE)= aa:bb:..."; the digest is after the last "= ". */
static int digest_parse(const char *out, char **ret, kiln_error **err)
{
        const char *d = NULL;

        for (const char *p = strstr(out, "= "); p; p = strstr(p + 1, "= "))
                d = p + 2;
        if (!d || !*d)
                return kiln_error_set(err, KILN_E_IO, NULL, "unexpected openssl output '%s'", out);
        *ret = kiln_xstrndup(d, strcspn(d, " \r\n"));
        return 0;
}

int keypair_fingerprint_rsa_private(const char *dir, const char *pem_path, char **ret,
                                    kiln_error **err)
{
        kiln_autofree char *der = kiln_xasprintf("%s/pkcs8.der", dir);
        kiln_autofree char *out = NULL;
        kiln_autoptr(kiln_cmd) conv =
                kiln_cmd_new("openssl", "pkcs8", "-topk8", "-nocrypt", "-inform", "PEM", "-in",
                             pem_path, "-outform", "DER", "-out", der, NULL);
        kiln_autoptr(kiln_cmd) dgst = kiln_cmd_new("openssl", "dgst", "-sha1", "-c", der, NULL);

        if (kiln_cmd_run(conv, NULL, err) < 0 || kiln_cmd_run(dgst, &out, err) < 0)
                return -1;
        return digest_parse(out, ret, err);
}

int keypair_fingerprint_rsa_public(const char *dir, const char *pub_path, char **ret,
                                   kiln_error **err)
{
        kiln_autofree char *pem_path = kiln_xasprintf("%s/spki.pem", dir);
        kiln_autofree char *der = kiln_xasprintf("%s/spki.der", dir);
        kiln_autofree char *pem = NULL, *out = NULL;
        kiln_autoptr(kiln_cmd) to_pem =
                kiln_cmd_new("ssh-keygen", "-e", "-m", "PKCS8", "-f", pub_path, NULL);
        kiln_autoptr(kiln_cmd) conv =
                kiln_cmd_new("openssl", "pkey", "-pubin", "-inform", "PEM", "-in", pem_path,
                             "-outform", "DER", "-out", der, NULL);
        kiln_autoptr(kiln_cmd) dgst = kiln_cmd_new("openssl", "dgst", "-md5", "-c", der, NULL);

        if (kiln_cmd_run(to_pem, &pem, err) < 0 || write_text(pem_path, pem, err) < 0 ||
            kiln_cmd_run(conv, NULL, err) < 0 || kiln_cmd_run(dgst, &out, err) < 0)
                return -1;
        return digest_parse(out, ret, err);
}

/* ssh-keygen -l: "BITS SHA256:BASE64 COMMENT (TYPE)". */
static int keygen_list(const char *pub_path, int *ret_bits, char **ret_sha256, kiln_error **err)
{
        kiln_autoptr(kiln_cmd) cmd =
                kiln_cmd_new("ssh-keygen", "-l", "-E", "sha256", "-f", pub_path, NULL);
        kiln_autofree char *out = NULL;
        const char *fp;
        char *end = NULL;
        long bits;

        if (kiln_cmd_run(cmd, &out, err) < 0)
                return -1;
        bits = strtol(out, &end, 10);
        fp = end ? strstr(end, " SHA256:") : NULL;
        if (bits <= 0 || bits > INT_MAX || !fp)
                return kiln_error_set(err, KILN_E_IO, NULL, "unexpected ssh-keygen output '%s'",
                                      out);
        fp += 8;
        if (ret_bits)
                *ret_bits = (int) bits;
        if (ret_sha256) {
                size_t n = strcspn(fp, " \r\n");

                /* ssh-keygen drops base64's padding; EC2 shows it. */
                *ret_sha256 = kiln_xasprintf("%.*s%s", (int) n, fp,
                                             n % 4 == 3   ? "="
                                             : n % 4 == 2 ? "=="
                                                          : "");
        }
        return 0;
}

int keypair_fingerprint_sha256(const char *pub_path, char **ret, kiln_error **err)
{
        return keygen_list(pub_path, NULL, ret, err);
}

/* ==== public key material ==== */

static int b64_value(unsigned char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

/* Strict base64 with padding; whitespace is skipped if skip_space. NULL if malformed. The
 * bytes are followed by a NUL that *ret_len does not count. */
static unsigned char *b64_decode(const char *s, bool skip_space, size_t *ret_len)
{
        unsigned char *out = kiln_xmalloc(strlen(s) / 4 * 3 + 4);
        size_t len = 0, chars = 0, pad = 0;
        unsigned int acc = 0;
        int bits = 0;
        bool ok = true;

        for (const char *p = s; ok && *p; p++) {
                unsigned char c = (unsigned char) *p;
                int v;

                if (skip_space && isspace(c))
                        continue;
                chars++;
                if (c == '=') {
                        pad++;
                        continue;
                }
                v = b64_value(c);
                ok = v >= 0 && pad == 0;
                acc = ((acc << 6) | (unsigned int) (v & 63)) & 0xffffff;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[len++] = (unsigned char) ((acc >> bits) & 0xff);
                }
        }
        if (!ok || chars == 0 || chars % 4 != 0 || pad > 2) {
                free(out);
                return NULL;
        }
        out[len] = '\0';
        *ret_len = len;
        return out;
}

static bool all_base64(const char *s)
{
        for (; *s; s++)
                if (!isspace((unsigned char) *s) && *s != '=' && b64_value((unsigned char) *s) < 0)
                        return false;
        return true;
}

void keypair_public_clear(keypair_public *p)
{
        free(p->key_type);
        free(p->line);
        memset(p, 0, sizeof(*p));
}

/* "ssh-rsa BASE64 [comment]": the type kiln accepts, a blob that decodes and names the same
 * type. *ret_line is "TYPE BASE64". */
static int openssh_line_check(const char *line, char **ret_line, kiln_error **err)
{
        size_t tlen = strcspn(line, " \t");
        const char *b = line + tlen;
        kiln_autofree char *type = kiln_xstrndup(line, tlen);
        kiln_autofree char *b64 = NULL;
        kiln_autofree unsigned char *blob = NULL;
        size_t blen = 0, n;
        unsigned long inner;

        if (strcmp(type, "ssh-dss") == 0)
                return format_error(err, "DSA keys are not supported; import an RSA (1024, 2048 "
                                         "or 4096 bits) or ED25519 key");
        if (strncmp(type, "ecdsa-", 6) == 0 || strncmp(type, "sk-", 3) == 0)
                return format_error(err, "only RSA (1024, 2048 or 4096 bits) and ED25519 keys "
                                         "are supported");
        if (strcmp(type, "ssh-rsa") != 0 && strcmp(type, "ssh-ed25519") != 0)
                return format_error(err, NULL);
        b += strspn(b, " \t");
        n = strcspn(b, " \t");
        b64 = kiln_xstrndup(b, n);
        blob = b64_decode(b64, false, &blen);
        if (!blob || blen < 4)
                return format_error(err, NULL);
        inner = ((unsigned long) blob[0] << 24) | ((unsigned long) blob[1] << 16) |
                ((unsigned long) blob[2] << 8) | blob[3];
        if (inner != tlen || blen < 4 + inner || memcmp(blob + 4, type, tlen) != 0)
                return format_error(err, NULL);
        *ret_line = kiln_xasprintf("%s %s", type, b64);
        return 0;
}

/* ssh-keygen -i: RFC 4716, PKCS8 or PEM (PKCS#1) public keys to an OpenSSH line. */
static int convert_to_openssh(const char *dir, const char *text, const char *format,
                              char **ret_line, kiln_error **err)
{
        kiln_autofree char *path = kiln_xasprintf("%s/import.in", dir);
        kiln_autofree char *line = NULL;
        kiln_autoptr(kiln_cmd) cmd =
                kiln_cmd_new("ssh-keygen", "-i", "-m", format, "-f", path, NULL);
        kiln_autoptr(kiln_error) e = NULL;

        if (write_text(path, text, err) < 0)
                return -1;
        if (kiln_cmd_run(cmd, &line, &e) < 0)
                return format_error(err, NULL);
        trim_end(line);
        *ret_line = kiln_steal(&line);
        return 0;
}

/* base64 DER of an RSA public key: SubjectPublicKeyInfo (as EC2's docs have it) or PKCS#1. */
static int der_to_openssh(const char *dir, const char *b64, char **ret_line, kiln_error **err)
{
        static const char *const forms[][2] = {{"PUBLIC KEY", "PKCS8"}, {"RSA PUBLIC KEY", "PEM"}};
        kiln_buf body = {0};
        size_t col = 0;

        for (const char *p = b64; *p; p++) {
                if (isspace((unsigned char) *p))
                        continue;
                kiln_buf_append(&body, p, 1);
                if (++col % 64 == 0)
                        kiln_buf_append(&body, "\n", 1);
        }
        for (size_t i = 0; i < KILN_ARRAY_SIZE(forms); i++) {
                kiln_autofree char *pem =
                        kiln_xasprintf("-----BEGIN %s-----\n%s\n-----END %s-----\n", forms[i][0],
                                       body.data, forms[i][0]);
                kiln_autoptr(kiln_error) e = NULL;

                if (convert_to_openssh(dir, pem, forms[i][1], ret_line, &e) == 0) {
                        kiln_buf_clear(&body);
                        return 0;
                }
        }
        kiln_buf_clear(&body);
        return format_error(err, NULL);
}

/* Any accepted form to an OpenSSH line; rsa_only is set for the forms EC2 takes for RSA. */
static int material_to_line(const char *dir, const char *s, bool nested, char **ret_line,
                            bool *rsa_only, kiln_error **err)
{
        if (strncmp(s, "---- BEGIN SSH2 PUBLIC KEY ----", 31) == 0) {
                *rsa_only = true;
                return convert_to_openssh(dir, s, "RFC4716", ret_line, err);
        }
        if (strncmp(s, "-----BEGIN PUBLIC KEY-----", 26) == 0) {
                *rsa_only = true;
                return convert_to_openssh(dir, s, "PKCS8", ret_line, err);
        }
        if (strncmp(s, "-----BEGIN RSA PUBLIC KEY-----", 30) == 0) {
                *rsa_only = true;
                return convert_to_openssh(dir, s, "PEM", ret_line, err);
        }
        if (!nested && all_base64(s)) {
                size_t n = 0;
                kiln_autofree unsigned char *raw = b64_decode(s, true, &n);
                kiln_autofree char *text = NULL;

                if (!raw || n == 0)
                        return format_error(err, NULL);
                if (n > 4 && memcmp(raw, "ssh-", 4) == 0 && !memchr(raw, '\0', n)) {
                        /* the aws CLI's blob: the OpenSSH line, base64-encoded */
                        text = kiln_xstrdup((const char *) raw);
                        trim_end(text);
                        return material_to_line(dir, text, true, ret_line, rsa_only, err);
                }
                if (raw[0] != 0x30)
                        return format_error(err, NULL);
                *rsa_only = true;
                return der_to_openssh(dir, s, ret_line, err);
        }
        *ret_line = kiln_xstrdup(s);
        return 0;
}

int keypair_parse_public(const char *dir, const char *material, keypair_public *ret,
                         kiln_error **err)
{
        kiln_autofree char *s = NULL, *line = NULL, *checked = NULL, *path = NULL, *file = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        keypair_public p = {0};
        bool rsa_only = false;
        int bits = 0;

        if (need_tool("ssh-keygen", "openssh-client", err) < 0)
                return -1;
        if (!material)
                return format_error(err, NULL);
        s = kiln_xstrdup(material + strspn(material, " \t\r\n"));
        trim_end(s);
        if (!*s || strlen(s) > KEY_FILE_MAX)
                return format_error(err, NULL);
        if (material_to_line(dir, s, false, &line, &rsa_only, err) < 0)
                return -1;
        assert(line);
        if (strchr(line, '\n'))
                return format_error(err, NULL); /* one key only */
        if (openssh_line_check(line, &checked, err) < 0)
                return -1;
        assert(checked);
        if (rsa_only && strncmp(checked, "ssh-rsa ", 8) != 0)
                return format_error(err, "only RSA keys are accepted in this form");
        /* ssh-keygen reads the key for real: a blob that names its type but holds garbage
         * stops here. */
        path = kiln_xasprintf("%s/check.pub", dir);
        file = kiln_xasprintf("%s\n", checked);
        if (write_text(path, file, err) < 0)
                return -1;
        if (keygen_list(path, &bits, NULL, &e) < 0)
                return format_error(err, NULL);
        if (strncmp(checked, "ssh-rsa ", 8) == 0 && bits != 1024 && bits != 2048 && bits != 4096) {
                kiln_autofree char *why = kiln_xasprintf(
                        "RSA keys must have 1024, 2048 or 4096 bits, this one has %d", bits);

                return format_error(err, why);
        }
        p.key_type = kiln_xstrdup(strncmp(checked, "ssh-rsa ", 8) == 0 ? "rsa" : "ed25519");
        p.line = kiln_steal(&checked);
        p.bits = bits;
        *ret = p;
        return 0;
}

/* ==== registry transactions ==== */

/* The name is free and the account has room in the region. */
static int check_room(kiln_ctx *ctx, registry *r, const char *name, kiln_error **err)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_keypair old = {0};
        size_t n = 0;

        if (registry_keypair_get(r, ctx->region->name, ctx->account, name, &old, &e) == 0) {
                kiln_keypair_clear(&old);
                return kiln_error_set(err, KILN_E_EXISTS, "InvalidKeyPair.Duplicate",
                                      "The keypair '%s' already exists.", name);
        }
        if (e->code != KILN_E_NOT_FOUND)
                return pass_error(err, &e);
        if (registry_keypair_count(r, ctx->region->name, ctx->account, &n, err) < 0)
                return -1;
        if (n >= KILN_KEYPAIR_LIMIT)
                return kiln_error_set(err, KILN_E_LIMIT, "ResourceLimitExceeded",
                                      "The maximum number of key pairs (%d) has been reached in "
                                      "region '%s'",
                                      KILN_KEYPAIR_LIMIT, ctx->region->name);
        return 0;
}

typedef struct keypair_txn {
        kiln_ctx *ctx;
        const char *name;
        const kiln_keypair *kp;
} keypair_txn;

static int room_txn(registry *r, void *userdata, kiln_error **err)
{
        keypair_txn *t = userdata;

        return check_room(t->ctx, r, t->name, err);
}

/* Runs again from the start if the registry retries it: it only reads and inserts. */
static int insert_txn(registry *r, void *userdata, kiln_error **err)
{
        keypair_txn *t = userdata;

        if (check_room(t->ctx, r, t->kp->key_name, err) < 0)
                return -1;
        return registry_keypair_insert(r, t->kp, err);
}

/* A record of the context's region and account; takes ownership of the strings. */
static kiln_keypair keypair_record(kiln_ctx *ctx, const char *name, const char *key_type,
                                   char *fingerprint, char *public_key, char *private_key_path)
{
        kiln_keypair kp = {0};

        kp.key_pair_id = kiln_id_new("key");
        kp.key_name = kiln_xstrdup(name);
        kp.key_type = kiln_xstrdup(key_type);
        kp.fingerprint = fingerprint;
        kp.public_key = public_key;
        kp.create_time = kiln_time_now_iso();
        kp.private_key_path = private_key_path;
        kp.region = kiln_xstrdup(ctx->region->name);
        kp.owner_id = kiln_xstrdup(ctx->account);
        return kp;
}

/* ==== create ==== */

typedef struct keygen {
        char *public_key; /* the OpenSSH line, with the name as its comment */
        char *fingerprint;
        char *secret; /* the private key file's bytes */
        size_t secret_len;
} keygen;

static void keygen_clear(keygen *k)
{
        free(k->public_key);
        free(k->fingerprint);
        if (k->secret) {
                explicit_bzero(k->secret, k->secret_len);
                free(k->secret);
        }
        memset(k, 0, sizeof(*k));
}

static int keygen_in(const char *dir, const char *name, bool ed25519, keygen *k, kiln_error **err)
{
        kiln_autofree char *key = kiln_xasprintf("%s/key", dir);
        kiln_autofree char *pub = kiln_xasprintf("%s/key.pub", dir);
        kiln_autoptr(kiln_cmd) gen = NULL;
        const char *header = ed25519 ? "-----BEGIN OPENSSH PRIVATE KEY-----\n"
                                     : "-----BEGIN RSA PRIVATE KEY-----\n";

        if (ed25519)
                gen = kiln_cmd_new("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f",
                                   key, NULL);
        else
                gen = kiln_cmd_new("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N",
                                   "", "-C", name, "-f", key, NULL);
        if (kiln_cmd_run(gen, NULL, err) < 0)
                return -1;
        if (ed25519 ? keypair_fingerprint_sha256(pub, &k->fingerprint, err) < 0
                    : keypair_fingerprint_rsa_private(dir, key, &k->fingerprint, err) < 0)
                return -1;
        if (kiln_file_read(pub, KEY_FILE_MAX, &k->public_key, NULL, err) < 0)
                return -1;
        trim_end(k->public_key);
        if (read_secret(key, &k->secret, &k->secret_len, err) < 0)
                return -1;
        if (k->secret_len != strlen(k->secret) || strncmp(k->secret, header, strlen(header)) != 0)
                return kiln_error_set(err, KILN_E_IO, NULL,
                                      "ssh-keygen wrote a private key without the header '%.*s'",
                                      (int) strlen(header) - 1, header);
        return 0;
}

/* Generates a key pair in a private directory that is scrubbed and removed afterwards. */
static int keygen_run(const char *name, bool ed25519, keygen *ret, kiln_error **err)
{
        kiln_autofree char *dir = keydir_new(err);
        keygen k = {0};
        int r;

        if (!dir)
                return -1;
        r = keygen_in(dir, name, ed25519, &k, err);
        keydir_remove(dir);
        if (r < 0) {
                keygen_clear(&k);
                return -1;
        }
        *ret = k;
        return 0;
}

static int create_validate(const char *name, const char *key_type, const char *key_format,
                           const char *output_file, char **ret_private_key, kiln_error **err)
{
        if (keypair_check_name(name, err) < 0)
                return -1;
        if (key_type && strcmp(key_type, "rsa") != 0 && strcmp(key_type, "ed25519") != 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Value (%s) for parameter KeyType is invalid: expected rsa "
                                      "or ed25519",
                                      key_type);
        if (key_format && strcmp(key_format, "ppk") == 0)
                return kiln_error_set(err, KILN_E_UNSUPPORTED, "UnsupportedOperation",
                                      "The key format 'ppk' is not supported by kiln: create the "
                                      "key as pem and convert it with puttygen");
        if (key_format && strcmp(key_format, "pem") != 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Value (%s) for parameter KeyFormat is invalid: expected "
                                      "pem or ppk",
                                      key_format);
        if (output_file && !*output_file)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The output file name is empty");
        if (!output_file && !ret_private_key)
                return kiln_error_set(err, KILN_E_INTERNAL, NULL,
                                      "kiln_keypair_create: the private key would be lost: give "
                                      "an output file or ret_private_key");
        return 0;
}

/* Creates the private key file, refusing any existing file (or symbolic link). */
static int private_file_open(const char *path, int *ret_fd, char **ret_abs, kiln_error **err)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        char *abs;

        if (fd < 0 && errno == EEXIST)
                return kiln_error_set(err, KILN_E_EXISTS, NULL,
                                      "'%s' already exists: kiln does not write a private key over "
                                      "an existing file",
                                      path);
        if (fd < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot create '%s'", path);
        /* The umask may have taken bits away; the mode is exactly 0600. */
        if (fchmod(fd, 0600) < 0) {
                int e = errno;

                close(fd);
                unlink(path);
                return kiln_error_set_errno(err, e, KILN_E_IO, "cannot set the mode of '%s'", path);
        }
        abs = realpath(path, NULL);
        *ret_abs = abs ? abs : kiln_xstrdup(path);
        *ret_fd = fd;
        return 0;
}

static int private_file_write(int fd, const char *path, const keygen *k, kiln_error **err)
{
        if (write_all(fd, path, k->secret, k->secret_len, err) < 0)
                return -1;
        if (fsync(fd) < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot write '%s'", path);
        return 0;
}

int kiln_keypair_create(kiln_ctx *ctx, const char *name, const char *key_type,
                        const char *key_format, const char *output_file, kiln_keypair *ret,
                        char **ret_private_key, kiln_error **err)
{
        kiln_autoclose int fd = -1;
        kiln_autofree char *path = NULL;
        keypair_txn t = {ctx, name, NULL};
        kiln_keypair kp = {0};
        keygen k = {0};
        bool ed25519 = key_type && strcmp(key_type, "ed25519") == 0;
        int r;

        if (create_validate(name, key_type, key_format, output_file, ret_private_key, err) < 0 ||
            need_tool("ssh-keygen", "openssh-client", err) < 0 ||
            (!ed25519 && need_tool("openssl", "openssl", err) < 0))
                return -1;
        /* Refuse a taken name before the work of generating a key; the insert checks again. */
        if (registry_read(ctx->reg, room_txn, &t, err) < 0)
                return -1;
        if (output_file && private_file_open(output_file, &fd, &path, err) < 0)
                return -1;
        r = keygen_run(name, ed25519, &k, err);
        if (r == 0 && fd >= 0)
                r = private_file_write(fd, output_file, &k, err);
        if (r == 0) {
                kp = keypair_record(ctx, name, ed25519 ? "ed25519" : "rsa",
                                    kiln_steal(&k.fingerprint), kiln_steal(&k.public_key),
                                    kiln_steal(&path));
                t.kp = &kp;
                r = registry_write(ctx->reg, insert_txn, &t, err);
        }
        if (r < 0) {
                /* Rollback: the file is ours (O_EXCL); nothing was registered. */
                if (fd >= 0)
                        unlink(output_file);
                kiln_keypair_clear(&kp);
                keygen_clear(&k);
                return -1;
        }
        if (!output_file) {
                /* EC2's KeyMaterial has no final newline. */
                while (k.secret_len > 0 && k.secret[k.secret_len - 1] == '\n')
                        k.secret[--k.secret_len] = '\0';
                *ret_private_key = kiln_steal(&k.secret);
        } else if (ret_private_key) {
                *ret_private_key = NULL;
        }
        keygen_clear(&k);
        *ret = kp;
        return 0;
}

/* ==== import ==== */

static int import_in(kiln_ctx *ctx, const char *dir, const char *name, const char *material,
                     kiln_keypair *ret, kiln_error **err)
{
        kiln_autofree char *pub = kiln_xasprintf("%s/key.pub", dir);
        kiln_autofree char *fingerprint = NULL, *public_key = NULL, *file = NULL;
        keypair_public p = {0};
        int r;

        if (keypair_parse_public(dir, material, &p, err) < 0)
                return -1;
        assert(p.line && p.key_type);
        public_key = kiln_xasprintf("%s %s", p.line, name);
        file = kiln_xasprintf("%s\n", public_key);
        r = write_text(pub, file, err);
        if (r == 0)
                r = strcmp(p.key_type, "rsa") == 0
                            ? keypair_fingerprint_rsa_public(dir, pub, &fingerprint, err)
                            : keypair_fingerprint_sha256(pub, &fingerprint, err);
        if (r == 0)
                *ret = keypair_record(ctx, name, p.key_type, kiln_steal(&fingerprint),
                                      kiln_steal(&public_key), NULL);
        keypair_public_clear(&p);
        return r;
}

int kiln_keypair_import(kiln_ctx *ctx, const char *name, const char *public_key_material,
                        kiln_keypair *ret, kiln_error **err)
{
        kiln_autofree char *dir = NULL;
        keypair_txn t = {ctx, name, NULL};
        kiln_keypair kp = {0};
        int r;

        if (keypair_check_name(name, err) < 0)
                return -1;
        if (!public_key_material)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter PublicKeyMaterial");
        dir = keydir_new(err);
        if (!dir)
                return -1;
        r = import_in(ctx, dir, name, public_key_material, &kp, err);
        keydir_remove(dir);
        if (r == 0) {
                t.kp = &kp;
                r = registry_write(ctx->reg, insert_txn, &t, err);
        }
        if (r < 0) {
                kiln_keypair_clear(&kp);
                return -1;
        }
        *ret = kp;
        return 0;
}

/* ==== describe ==== */

static const char *const keypair_filters[] = {"fingerprint", "key-name", "key-pair-id", "tag-key",
                                              NULL};

static int check_filters(const kiln_filter *f, size_t n, kiln_error **err)
{
        for (size_t i = 0; i < n; i++) {
                bool ok = f[i].name && strncmp(f[i].name, "tag:", 4) == 0 && f[i].name[4];

                for (size_t k = 0; f[i].name && !ok && keypair_filters[k]; k++)
                        ok = strcmp(f[i].name, keypair_filters[k]) == 0;
                if (!ok)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidFilter",
                                              "The filter '%s' is invalid",
                                              f[i].name ? f[i].name : "");
        }
        return 0;
}

static bool filter_match(const kiln_keypair *kp, const kiln_filter *f)
{
        const char *n = f->name;

        if (strcmp(n, "key-pair-id") == 0)
                return filter_match_any(f, kp->key_pair_id);
        if (strcmp(n, "fingerprint") == 0)
                return filter_match_any(f, kp->fingerprint);
        if (strcmp(n, "key-name") == 0)
                return filter_match_any(f, kp->key_name);
        for (size_t i = 0; i < kp->n_tags; i++) {
                if (strcmp(n, "tag-key") == 0 && filter_match_any(f, kp->tags[i].key))
                        return true;
                if (strncmp(n, "tag:", 4) == 0 && strcmp(n + 4, kp->tags[i].key) == 0 &&
                    filter_match_any(f, kp->tags[i].value))
                        return true;
        }
        return false;
}

static bool in_list(const char *const *v, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

static bool selected(const kiln_keypair *kp, const kiln_keypair_query *q)
{
        if (q->n_key_names && !in_list(q->key_names, q->n_key_names, kp->key_name))
                return false;
        if (q->n_key_pair_ids && !in_list(q->key_pair_ids, q->n_key_pair_ids, kp->key_pair_id))
                return false;
        for (size_t i = 0; i < q->n_filters; i++)
                if (!filter_match(kp, &q->filters[i]))
                        return false;
        return true;
}

typedef struct describe_txn {
        kiln_ctx *ctx;
        const kiln_keypair_query *q;
        kiln_keypair *out;
        size_t n_out;
} describe_txn;

/* Each name and ID asked for exists among the account's key pairs. */
static int check_named(const kiln_keypair_query *q, const kiln_keypair *all, size_t n,
                       kiln_error **err)
{
        for (size_t i = 0; i < q->n_key_names + q->n_key_pair_ids; i++) {
                bool by_name = i < q->n_key_names;
                const char *want = by_name ? q->key_names[i] : q->key_pair_ids[i - q->n_key_names];
                bool found = false;

                for (size_t k = 0; !found && k < n; k++)
                        found = strcmp(by_name ? all[k].key_name : all[k].key_pair_id, want) == 0;
                if (!found)
                        return not_found(err, want);
        }
        return 0;
}

static int describe_keypairs_txn(registry *r, void *userdata, kiln_error **err)
{
        describe_txn *t = userdata;
        kiln_keypair *all = NULL;
        size_t n = 0;

        kiln_keypairs_free(t->out, t->n_out);
        t->out = NULL;
        t->n_out = 0;
        if (registry_keypair_list(r, t->ctx->region->name, t->ctx->account, &all, &n, err) < 0)
                return -1;
        if (check_named(t->q, all, n, err) < 0) {
                kiln_keypairs_free(all, n);
                return -1;
        }
        t->out = kiln_xcalloc(n ? n : 1, sizeof(*t->out));
        for (size_t i = 0; i < n; i++) {
                if (!selected(&all[i], t->q))
                        continue;
                if (!t->q->include_public_key) {
                        free(all[i].public_key);
                        all[i].public_key = NULL;
                }
                t->out[t->n_out++] = all[i];
                memset(&all[i], 0, sizeof(all[i]));
        }
        kiln_keypairs_free(all, n);
        return 0;
}

int kiln_keypairs_describe(kiln_ctx *ctx, const kiln_keypair_query *q, kiln_keypair **ret,
                           size_t *ret_n, kiln_error **err)
{
        describe_txn t = {ctx, q, NULL, 0};

        for (size_t i = 0; i < q->n_key_pair_ids; i++)
                if (check_id(q->key_pair_ids[i], err) < 0)
                        return -1;
        if (check_filters(q->filters, q->n_filters, err) < 0)
                return -1;
        if (registry_read(ctx->reg, describe_keypairs_txn, &t, err) < 0) {
                kiln_keypairs_free(t.out, t.n_out);
                return -1;
        }
        *ret = t.out;
        *ret_n = t.n_out;
        return 0;
}

/* ==== delete ==== */

typedef struct delete_txn {
        kiln_ctx *ctx;
        const char *name;
        const char *id;
} delete_txn;

static int delete_keypair_txn(registry *r, void *userdata, kiln_error **err)
{
        delete_txn *t = userdata;
        kiln_autoptr(kiln_error) e = NULL;
        kiln_keypair kp = {0};
        int rc;

        rc = t->name ? registry_keypair_get(r, t->ctx->region->name, t->ctx->account, t->name, &kp,
                                            &e)
                     : registry_keypair_get_by_id(r, t->ctx->region->name, t->ctx->account, t->id,
                                                  &kp, &e);
        if (rc < 0)
                return e->code == KILN_E_NOT_FOUND ? 0 : pass_error(err, &e);
        rc = registry_keypair_delete(r, kp.key_pair_id, err);
        kiln_keypair_clear(&kp);
        return rc;
}

int kiln_keypair_delete(kiln_ctx *ctx, const char *name, const char *key_pair_id, kiln_error **err)
{
        delete_txn t = {ctx, name, key_pair_id};

        if (!name && !key_pair_id)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter KeyName or "
                                      "KeyPairId");
        if (name && key_pair_id)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterCombination",
                                      "Give KeyName or KeyPairId, not both");
        if (name ? keypair_check_name(name, err) < 0 : check_id(key_pair_id, err) < 0)
                return -1;
        return registry_write(ctx->reg, delete_keypair_txn, &t, err);
}

/* ==== lookup for launches ==== */

int keypair_get(kiln_ctx *ctx, registry *r, const char *name, kiln_keypair *ret, kiln_error **err)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_keypair kp = {0};

        if (keypair_check_name(name, NULL) < 0)
                return not_found(err, name);
        if (registry_keypair_get(r, ctx->region->name, ctx->account, name, &kp, &e) < 0)
                return e->code == KILN_E_NOT_FOUND ? not_found(err, name) : pass_error(err, &e);
        *ret = kp;
        return 0;
}
