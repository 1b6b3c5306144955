/* Key pairs without the command line: name rules, the three fingerprints against other
 * openssl and ssh-keygen commands run here, the public key forms import understands, the keys
 * kiln generates (read, and signed with, by ssh-keygen), the lookup the instance code uses, the
 * 5,000 limit, and create's private key file. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#include "core/ctx-private.h"
#include "keypair/keypair-private.h"
#include "registry/registry-keypair.h"
#include "tap.h"
#include "util/util.h"

#define ACCT_A "111111111111"
#define ACCT_B "222222222222"

static char *dir;

/* Runs a tool; its stdout (trimmed) or NULL. */
__attribute__((sentinel)) static char *run(const char *prog, ...)
{
        kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new(prog, NULL);
        kiln_autoptr(kiln_error) e = NULL;
        char *out = NULL;
        const char *arg;
        va_list ap;

        va_start(ap, prog);
        while ((arg = va_arg(ap, const char *)))
                kiln_cmd_add_arg(cmd, arg);
        va_end(ap);
        if (kiln_cmd_run(cmd, &out, &e) < 0) {
                printf("# %s\n", e->msg);
                return NULL;
        }
        for (size_t n = strlen(out); n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ');)
                out[--n] = '\0';
        return out;
}

static char *path_in(const char *name)
{
        return kiln_xasprintf("%s/%s", dir, name);
}

static char *read_text(const char *path)
{
        char *s = NULL;
        kiln_autoptr(kiln_error) e = NULL;

        if (kiln_file_read(path, 1 << 20, &s, NULL, &e) < 0)
                return NULL;
        for (size_t n = strlen(s); n > 0 && s[n - 1] == '\n';)
                s[--n] = '\0';
        return s;
}

static void write_text(const char *path, const char *text)
{
        FILE *f = fopen(path, "we");

        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

/* "MD5(x)= aa:bb" -> "aa:bb" */
static const char *digest_of(const char *out)
{
        const char *p = out ? strrchr(out, ' ') : NULL;

        return p ? p + 1 : "";
}

static const char *code_of(const kiln_error *e)
{
        return e && e->api_code ? e->api_code : "(none)";
}

/* ==== names ==== */

static void test_names(void)
{
        char long_name[KILN_KEYPAIR_NAME_MAX + 2];
        static const char *const good[] = {"a", "my key", "web-1_(prod)/x@y.z", "*?!~", "123"};
        static const char *const bad[] = {"",          " lead",     "trail ",
                                          "tab\there", "new\nline", "caf\xc3\xa9"};

        for (size_t i = 0; i < KILN_ARRAY_SIZE(good); i++)
                is_int(keypair_check_name(good[i], NULL), 0, "name '%s' is accepted", good[i]);
        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                kiln_autoptr(kiln_error) e = NULL;

                is_int(keypair_check_name(bad[i], &e), -1, "bad name %zu is refused", i);
                is_str(code_of(e), "InvalidParameterValue", "  with InvalidParameterValue");
                is_int(e ? e->code : 0, KILN_E_INVALID, "  an input error");
        }
        memset(long_name, 'k', sizeof(long_name));
        long_name[KILN_KEYPAIR_NAME_MAX] = '\0';
        is_int(keypair_check_name(long_name, NULL), 0, "255 characters are accepted");
        long_name[KILN_KEYPAIR_NAME_MAX] = 'k';
        long_name[KILN_KEYPAIR_NAME_MAX + 1] = '\0';
        {
                kiln_autoptr(kiln_error) e = NULL;

                is_int(keypair_check_name(long_name, &e), -1, "256 characters are refused");
                is_str(code_of(e), "InvalidParameterValue", "  with InvalidParameterValue");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                is_int(keypair_check_name("k\x1b[2J", &e), -1, "a name with ESC is refused");
                is_str(code_of(e), "InvalidParameterValue", "  with InvalidParameterValue");
                like(e ? e->msg : NULL,
                     "parameter KeyName is invalid: character 2 is the control character U+001B",
                     "  naming the field and the character");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                is_int(keypair_check_name(NULL, &e), -1, "no name is refused");
                is_str(code_of(e), "MissingParameter", "  with MissingParameter");
        }
}

/* ==== fingerprints ==== */

static void test_fingerprints(void)
{
        kiln_autofree char *rsa = path_in("rsa"), *rsa_pub = path_in("rsa.pub");
        kiln_autofree char *ed = path_in("ed"), *ed_pub = path_in("ed.pub");
        kiln_autofree char *t_der = path_in("t.der"), *t_pub = path_in("t-pub.der");
        kiln_autofree char *t_b64 = path_in("t.b64"), *t_blob = path_in("t.blob");
        kiln_autofree char *t_hash = path_in("t.hash"), *t_p8 = path_in("t.p8"), *p8 = NULL;
        kiln_autofree char *gen1 = NULL, *gen2 = NULL, *head = NULL;
        kiln_autofree char *fp = NULL, *want_out = NULL, *pub_line = NULL, *want64 = NULL;
        kiln_autofree char *rsa_pem = NULL, *rsa_line = NULL;
        kiln_autoptr(kiln_error) e = NULL;

        gen1 = run("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM", "-N", "", "-f", rsa,
                   NULL);
        gen2 = run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", ed, NULL);
        ok(gen1 && gen2, "test keys generated");
        head = read_text(rsa);
        rsa_line = read_text(rsa_pub);
        if (kiln_file_read(rsa, 1 << 20, &rsa_pem, NULL, &e) < 0)
                e = kiln_error_free(e);
        ok(head && strncmp(head, "-----BEGIN RSA PRIVATE KEY-----\n", 32) == 0,
           "ssh-keygen -m PEM writes PKCS#1 (BEGIN RSA PRIVATE KEY)");

        /* created RSA: SHA-1 of the DER PKCS#8 key. Here the PKCS#8 form comes from pkey's
         * PEM ("BEGIN PRIVATE KEY"; its DER output would be PKCS#1) and asn1parse's DER. */
        is_int(keypair_fingerprint_rsa_private(rsa_pem, &fp, &e), 0,
               "RSA private fingerprint computed");
        free(run("openssl", "pkey", "-in", rsa, "-out", t_p8, NULL));
        p8 = read_text(t_p8);
        ok(p8 && strncmp(p8, "-----BEGIN PRIVATE KEY-----\n", 28) == 0, "pkey writes PKCS#8 PEM");
        free(run("openssl", "asn1parse", "-in", t_p8, "-noout", "-out", t_der, NULL));
        want_out = run("openssl", "sha1", "-c", t_der, NULL);
        is_str(fp, digest_of(want_out), "it is SHA-1 of the DER PKCS#8 key, colon hex");
        ok(fp && strlen(fp) == 59, "20 bytes in colon hex");
        free(kiln_steal(&fp));
        free(kiln_steal(&want_out));

        /* imported RSA: MD5 of the DER public key, as the EC2 user guide computes it */
        is_int(keypair_fingerprint_rsa_public(rsa_line, &fp, &e), 0,
               "RSA public fingerprint computed");
        free(run("openssl", "rsa", "-in", rsa, "-pubout", "-outform", "DER", "-out", t_pub, NULL));
        want_out = run("openssl", "md5", "-c", t_pub, NULL);
        is_str(fp, digest_of(want_out), "it is MD5 of the DER public key, colon hex");
        ok(fp && strlen(fp) == 47, "16 bytes in colon hex");
        free(kiln_steal(&fp));
        free(kiln_steal(&want_out));

        /* ED25519: base64 SHA-256 of the key blob, with its padding */
        pub_line = read_text(ed_pub);
        is_int(keypair_fingerprint_sha256(pub_line, &fp, &e), 0, "ED25519 fingerprint computed");
        if (pub_line) {
                char *sp = strchr(pub_line, ' ');
                char *end = sp ? strchr(sp + 1, ' ') : NULL;

                if (end)
                        *end = '\0';
                write_text(t_b64, sp ? sp + 1 : "");
        }
        free(run("openssl", "base64", "-d", "-A", "-in", t_b64, "-out", t_blob, NULL));
        free(run("openssl", "dgst", "-sha256", "-binary", "-out", t_hash, t_blob, NULL));
        want64 = run("openssl", "base64", "-A", "-in", t_hash, NULL);
        is_str(fp, want64, "it is the padded base64 SHA-256 of the key blob");
        ok(fp && strlen(fp) == 44 && fp[43] == '=', "44 characters ending in '='");
        free(kiln_steal(&fp));
}

/* ==== import forms ==== */

static void parse_ok(const char *what, const char *material, const char *want_type, int want_bits,
                     const char *want_line)
{
        keypair_public p = {0};
        kiln_autoptr(kiln_error) e = NULL;
        int rc = keypair_parse_public(material, &p, &e);

        if (!ok(rc == 0, "%s is accepted", what))
                printf("#   %s: %s\n", code_of(e), e ? e->msg : "");
        is_str(p.key_type, want_type, "  as %s", want_type);
        is_int(p.bits, want_bits, "  of %d bits", want_bits);
        if (want_line)
                is_str(p.line, want_line, "  as the same OpenSSH key");
        keypair_public_clear(&p);
}

static void parse_bad(const char *what, const char *material, const char *want_msg)
{
        keypair_public p = {0};
        kiln_autoptr(kiln_error) e = NULL;

        is_int(keypair_parse_public(material, &p, &e), -1, "%s is refused", what);
        is_str(code_of(e), "InvalidKeyPair.Format", "  with InvalidKeyPair.Format");
        like(e ? e->msg : NULL, want_msg, "  saying why");
        ok(p.line == NULL, "  and gives nothing back");
}

static char *line_of(const char *pub)
{
        char *s = read_text(pub);
        char *sp = s ? strchr(s, ' ') : NULL;
        char *end = sp ? strchr(sp + 1, ' ') : NULL;

        if (end)
                *end = '\0';
        return s;
}

static void test_import_forms(void)
{
        kiln_autofree char *rsa = path_in("rsa"), *rsa_pub = path_in("rsa.pub");
        kiln_autofree char *ed_pub = path_in("ed.pub");
        kiln_autofree char *k1536 = path_in("k1536"), *k1536_pub = path_in("k1536.pub");
        kiln_autofree char *k1024 = path_in("k1024"), *k1024_pub = path_in("k1024.pub");
        kiln_autofree char *dsa = path_in("dsa"), *dsa_pub = path_in("dsa.pub");
        kiln_autofree char *ec = path_in("ec"), *ec_pub = path_in("ec.pub");
        kiln_autofree char *rsa_line = line_of(rsa_pub), *ed_line = line_of(ed_pub);
        kiln_autofree char *full = read_text(rsa_pub), *ed_full = read_text(ed_pub);
        kiln_autofree char *rfc = run("ssh-keygen", "-e", "-f", rsa_pub, NULL);
        kiln_autofree char *pkcs8 = run("ssh-keygen", "-e", "-m", "PKCS8", "-f", rsa_pub, NULL);
        kiln_autofree char *pkcs1 = run("ssh-keygen", "-e", "-m", "PEM", "-f", rsa_pub, NULL);
        kiln_autofree char *der64 = NULL, *blob = NULL, *mismatch = NULL, *two = NULL;
        kiln_autofree char *g1 = NULL, *g2 = NULL, *g3 = NULL, *g4 = NULL, *ed_rfc = NULL;
        kiln_autofree char *opts = NULL, *tmpf = path_in("t.txt");
        kiln_autofree char *padded = NULL, *private_pem = NULL;

        parse_ok("an OpenSSH RSA line with a comment", full, "rsa", 2048, rsa_line);
        parse_ok("an OpenSSH ED25519 line", ed_full, "ed25519", 256, ed_line);
        padded = kiln_xasprintf("  \n%s\r\n\n", ed_line ? ed_line : "");
        parse_ok("a line with spaces around it", padded, "ed25519", 256, ed_line);
        parse_ok("an RFC 4716 RSA key", rfc, "rsa", 2048, rsa_line);
        parse_ok("a PEM PKCS#8 RSA public key", pkcs8, "rsa", 2048, rsa_line);
        parse_ok("a PEM PKCS#1 RSA public key", pkcs1, "rsa", 2048, rsa_line);
        /* base64 DER: the PEM body alone */
        if (pkcs8) {
                kiln_buf b = {0};

                for (char *l = strchr(pkcs8, '\n'); l && strncmp(l + 1, "-----END", 8) != 0;
                     l = strchr(l + 1, '\n')) {
                        size_t n = strcspn(l + 1, "\n");

                        kiln_buf_append(&b, l + 1, n);
                        kiln_buf_append(&b, "\n", 1);
                }
                der64 = kiln_buf_steal(&b);
        }
        parse_ok("a base64 DER RSA public key", der64, "rsa", 2048, rsa_line);
        write_text(tmpf, full ? full : "");
        blob = run("openssl", "base64", "-A", "-in", tmpf, NULL);
        parse_ok("the OpenSSH line base64-encoded (the aws CLI's blob)", blob, "rsa", 2048,
                 rsa_line);

        g1 = run("ssh-keygen", "-q", "-t", "rsa", "-b", "1536", "-N", "", "-f", k1536, NULL);
        g2 = run("ssh-keygen", "-q", "-t", "rsa", "-b", "1024", "-N", "", "-f", k1024, NULL);
        g3 = run("ssh-keygen", "-q", "-t", "dsa", "-N", "", "-f", dsa, NULL);
        g4 = run("ssh-keygen", "-q", "-t", "ecdsa", "-N", "", "-f", ec, NULL);
        ok(g1 && g4, "more test keys generated");
        {
                /* the PKCS#1 DER of a 4096-bit key is 704 base64 characters, whole 64-character
                 * lines */
                kiln_autofree char *k4096 = path_in("k4096"), *k4096_pub = path_in("k4096.pub");
                kiln_autofree char *g5 = run("ssh-keygen", "-q", "-t", "rsa", "-b", "4096", "-N",
                                             "", "-f", k4096, NULL);
                kiln_autofree char *p1 =
                        run("ssh-keygen", "-e", "-m", "PEM", "-f", k4096_pub, NULL);
                kiln_autofree char *l4096 = line_of(k4096_pub);
                kiln_buf b = {0};

                for (char *l = p1 ? strchr(p1, '\n') : NULL;
                     l && strncmp(l + 1, "-----END", 8) != 0; l = strchr(l + 1, '\n'))
                        kiln_buf_append(&b, l + 1, strcspn(l + 1, "\n"));
                if (g5)
                        parse_ok("a base64 DER PKCS#1 RSA key of 4096 bits", b.data, "rsa", 4096,
                                 l4096);
                kiln_buf_clear(&b);
        }
        {
                kiln_autofree char *l1024 = read_text(k1024_pub);

                if (g2)
                        parse_ok("a 1024-bit RSA key", l1024, "rsa", 1024, NULL);
        }
        {
                kiln_autofree char *l1536 = read_text(k1536_pub);

                parse_bad("a 1536-bit RSA key", l1536,
                          "1024, 2048 or 4096 bits, this one has 1536");
        }
        if (g3) {
                kiln_autofree char *ldsa = read_text(dsa_pub);

                parse_bad("a DSA key", ldsa, "DSA keys are not supported");
        } else {
                ok(1, "# SKIP this ssh-keygen makes no DSA keys");
        }
        {
                kiln_autofree char *lec = read_text(ec_pub);

                parse_bad("an ECDSA key", lec, "only RSA (1024, 2048 or 4096 bits) and ED25519");
        }
        parse_bad("garbage", "garbage", "Key is not in valid OpenSSH public key format");
        parse_bad("an empty string", "", "Key is not in valid OpenSSH public key format");
        parse_bad("whitespace", " \n\t", "Key is not in valid OpenSSH public key format");
        parse_bad("a type without a key", "ssh-rsa", "OpenSSH public key format");
        parse_bad("a key that is not base64", "ssh-rsa AAAA!!!! x", "OpenSSH public key format");
        parse_bad("a truncated key", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== x",
                  "OpenSSH public key format");
        /* an RSA blob labelled ed25519 */
        if (rsa_line && strchr(rsa_line, ' '))
                mismatch = kiln_xasprintf("ssh-ed25519%s", strchr(rsa_line, ' '));
        parse_bad("a blob of another type than its label", mismatch, "OpenSSH public key format");
        two = kiln_xasprintf("%s\n%s", rsa_line ? rsa_line : "", ed_line ? ed_line : "");
        parse_bad("two keys", two, "OpenSSH public key format");
        opts = kiln_xasprintf("from=\"10.0.0.1\" %s", ed_line ? ed_line : "");
        parse_bad("an authorized_keys line with options", opts, "OpenSSH public key format");
        ed_rfc = run("ssh-keygen", "-e", "-f", ed_pub, NULL);
        parse_bad("an ED25519 key in RFC 4716 form", ed_rfc, "only RSA keys are accepted");
        private_pem = read_text(rsa);
        parse_bad("a private key", private_pem, "OpenSSH public key format");
}

/* ==== keys kiln generates ==== */

/* The first two fields of a public key line. */
static char *type_and_key(const char *line)
{
        const char *sp = line ? strchr(line, ' ') : NULL;

        return sp ? kiln_xstrndup(line, (size_t) (sp + 1 - line) + strcspn(sp + 1, " ")) : NULL;
}

/* OpenSSH reads the private key kiln wrote, finds the public key kiln gave, and signs with it
 * (ssh-keygen -Y): the private half is right, not only the public one. */
static void check_generated(const char *type, const char *header)
{
        kiln_autofree char *key = kiln_xasprintf("%s/gen-%s", dir, type);
        kiln_autofree char *pub = kiln_xasprintf("%s/gen-%s.pub", dir, type);
        kiln_autofree char *data = path_in("signed"), *sig = path_in("signed.sig");
        kiln_autofree char *secret = NULL, *line = NULL, *want = NULL, *derived = NULL;
        kiln_autofree char *signed_out = NULL, *checked = NULL, *read_back = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        kiln_autoclose int fd = -1;

        is_int(keypair_generate(type, "gen me@host", &secret, &line, &e), 0, "a new %s key", type);
        ok(secret && strncmp(secret, header, strlen(header)) == 0, "  its private key: %.*s",
           (int) strlen(header) - 1, header);
        ok(secret && secret[strlen(secret) - 1] == '\n', "  with a final newline");
        like(line, " gen me@host", "  its public key line carries the comment");
        fd = open(key, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ok(fd >= 0 && secret && write(fd, secret, strlen(secret)) == (ssize_t) strlen(secret),
           "  written to a 0600 file");
        write_text(pub, line ? line : "");
        want = type_and_key(line);
        read_back = run("ssh-keygen", "-y", "-f", key, NULL);
        ok(read_back != NULL, "  ssh-keygen reads the private key");
        derived = type_and_key(read_back);
        is_str(derived, want, "  and finds the public key kiln gave");
        unlink(sig);
        write_text(data, "what kiln signs\n");
        signed_out = run("ssh-keygen", "-Y", "sign", "-q", "-f", key, "-n", "kiln", data, NULL);
        ok(signed_out != NULL, "  ssh-keygen signs with it");
        checked = run("sh", "-c",
                      "ssh-keygen -Y check-novalidate -n kiln -f \"$1\" -s \"$2\" < \"$3\"", "sh",
                      pub, sig, data, NULL);
        like(checked, "Good", "  a signature made with it checks out against the public key");
        if (strcmp(type, "rsa") == 0) {
                kiln_autofree char *bits =
                        run("openssl", "rsa", "-in", key, "-noout", "-text", NULL);
                kiln_autofree char *check =
                        run("openssl", "rsa", "-in", key, "-check", "-noout", NULL);

                like(bits, "Private-Key: (2048 bit, 2 primes)", "  2048 bits, 2 primes");
                is_str(check, "RSA key ok", "  openssl rsa -check passes");
        } else {
                bool short_lines = secret != NULL;

                for (const char *l = secret; l && *l; l += strcspn(l, "\n") + 1)
                        short_lines = short_lines && strcspn(l, "\n") <= 70;
                ok(short_lines, "  in lines of 70 characters at most, as ssh-keygen writes");
        }
        kiln_keypair_material_free(kiln_steal(&secret));
        unlink(key);
        unlink(pub);
        unlink(sig);
}

static void test_generated(void)
{
        kiln_autofree char *a = NULL, *b = NULL, *la = NULL, *lb = NULL;
        kiln_autoptr(kiln_error) e = NULL;

        check_generated("ed25519", "-----BEGIN OPENSSH PRIVATE KEY-----\n");
        check_generated("rsa", "-----BEGIN RSA PRIVATE KEY-----\n");
        ok(keypair_generate("ed25519", "x", &a, &la, &e) == 0 &&
                   keypair_generate("ed25519", "x", &b, &lb, &e) == 0 && strcmp(la, lb) != 0 &&
                   strcmp(a, b) != 0,
           "two new keys differ");
        kiln_keypair_material_free(kiln_steal(&a));
        kiln_keypair_material_free(kiln_steal(&b));
}

/* ==== the library with a registry ==== */

static int open_ctx(const char *home, const char *account, kiln_ctx **ret)
{
        kiln_ctx_options o = {home, NULL, account};
        kiln_autoptr(kiln_error) e = NULL;

        if (kiln_ctx_new(&o, ret, &e) < 0) {
                printf("# %s\n", e->msg);
                return -1;
        }
        return 0;
}

typedef struct fill_txn {
        const char *owner;
        int n;
} fill_txn;

static int fill(registry *r, void *userdata, kiln_error **err)
{
        fill_txn *t = userdata;

        for (int i = 0; i < t->n; i++) {
                kiln_autofree char *id = kiln_id_new("key");
                kiln_autofree char *name = kiln_xasprintf("bulk-%d", i);
                kiln_keypair kp = {.key_pair_id = id,
                                   .key_name = name,
                                   .key_type = (char *) "ed25519",
                                   .fingerprint = (char *) "x",
                                   .public_key = (char *) "ssh-ed25519 AAAA",
                                   .create_time = (char *) "2026-01-02T03:04:05.000Z",
                                   .region = (char *) "local",
                                   .owner_id = (char *) t->owner};

                if (registry_keypair_insert(r, &kp, err) < 0)
                        return -1;
        }
        return 0;
}

typedef struct get_txn {
        kiln_ctx *ctx;
        const char *name;
        kiln_keypair kp;
} get_txn;

static int get(registry *r, void *userdata, kiln_error **err)
{
        get_txn *t = userdata;

        kiln_keypair_clear(&t->kp);
        return keypair_get(t->ctx, r, t->name, &t->kp, err);
}

static size_t count(kiln_ctx *ctx)
{
        kiln_keypair_query q = {0};
        kiln_keypair *kps = NULL;
        size_t n = 0;

        if (kiln_keypairs_describe(ctx, &q, &kps, &n, NULL) < 0)
                return (size_t) -1;
        kiln_keypairs_free(kps, n);
        return n;
}

static void test_library(void)
{
        kiln_autofree char *home = path_in("home");
        kiln_autofree char *cfg = path_in("home/config.json");
        kiln_autofree char *out = path_in("out.pem");
        kiln_autoptr(kiln_ctx) a = NULL;
        kiln_autoptr(kiln_ctx) b = NULL;
        kiln_keypair kp = {0};
        char *material = NULL;
        struct stat st;

        mkdir(home, 0700);
        {
                kiln_autofree char *json = kiln_xasprintf(
                        "{\"Version\": 1, \"DefaultRegion\": \"local\", \"DefaultAccount\": "
                        "\"%s\", \"Regions\": [{\"Name\": \"local\", \"Uri\": \"test:///default\", "
                        "\"Pool\": \"kiln-unit-kp\", \"PoolPath\": \"%s/pool\"}], \"Accounts\": "
                        "[{\"AccountId\": \"%s\"}, {\"AccountId\": \"%s\"}]}",
                        ACCT_A, home, ACCT_A, ACCT_B);

                write_text(cfg, json);
        }
        if (!ok(open_ctx(home, ACCT_A, &a) == 0 && open_ctx(home, ACCT_B, &b) == 0,
                "contexts for two accounts") ||
            !a || !b)
                return;

        {
                kiln_autoptr(kiln_error) e = NULL;

                is_int(kiln_keypair_create(a, "lib-rsa", NULL, NULL, NULL, NULL, 0, &kp, &material,
                                           &e),
                       0, "create with the defaults");
                is_str(kp.key_type, "rsa", "  an RSA key");
                ok(kiln_id_valid("key", kp.key_pair_id) && strlen(kp.key_pair_id) == 21,
                   "  ID key- and 17 hex digits");
                ok(material && strncmp(material, "-----BEGIN RSA PRIVATE KEY-----\n", 32) == 0,
                   "  the private key is handed back as PKCS#1 PEM");
                ok(material && material[strlen(material) - 1] == '-',
                   "  without a final newline, as EC2's KeyMaterial");
                ok(kp.private_key_path == NULL, "  and recorded nowhere");
                like(kp.public_key, " lib-rsa", "  the public key carries the name");
                material = kiln_keypair_material_free(material);
                kiln_keypair_clear(&kp);
        }
        {
                get_txn t = {a, "lib-rsa", {0}};
                kiln_autoptr(kiln_error) e = NULL;

                is_int(registry_read(a->reg, get, &t, &e), 0, "keypair_get finds it");
                like(t.kp.public_key, "ssh-rsa AAAA", "  with its public key");
                kiln_keypair_clear(&t.kp);
                t.name = "nope";
                is_int(registry_read(a->reg, get, &t, &e), -1, "keypair_get of an unknown name");
                is_str(code_of(e), "InvalidKeyPair.NotFound", "  InvalidKeyPair.NotFound");
                is_str(e ? e->msg : NULL, "The key pair 'nope' does not exist", "  EC2's wording");
                is_int(e ? e->code : 0, KILN_E_NOT_FOUND, "  a not-found error");
                e = kiln_error_free(e);
                ok(t.kp.key_name == NULL, "  and leaves the record alone");
                t.ctx = b;
                t.name = "lib-rsa";
                is_int(registry_read(b->reg, get, &t, &e), -1, "another account does not find it");
                is_str(code_of(e), "InvalidKeyPair.NotFound", "  InvalidKeyPair.NotFound");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                is_int(kiln_keypair_create(a, "lib-ed", "ed25519", "pem", out, NULL, 0, &kp,
                                           &material, &e),
                       0, "create ED25519 into a file");
                ok(material == NULL, "  the private key is not handed back");
                ok(stat(out, &st) == 0 && (st.st_mode & 07777) == 0600, "  the file has mode 0600");
                ok(kp.private_key_path && kp.private_key_path[0] == '/' &&
                           strstr(kp.private_key_path, "/out.pem"),
                   "  its absolute path is recorded");
                kiln_keypair_clear(&kp);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                size_t before = count(a);

                is_int(kiln_keypair_create(a, "lib-ed2", "ed25519", NULL, out, NULL, 0, &kp,
                                           &material, &e),
                       -1, "an existing output file is refused");
                is_int(e ? e->code : 0, KILN_E_EXISTS, "  as already existing");
                like(e ? e->msg : NULL, "out.pem", "  naming the file");
                is_int((long long) count(a), (long long) before, "  and nothing is registered");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                is_int(kiln_keypair_create(a, "lib-ppk", NULL, "ppk", NULL, NULL, 0, &kp, &material,
                                           &e),
                       -1, "ppk is refused");
                is_int(e ? e->code : 0, KILN_E_UNSUPPORTED, "  as unsupported");
                e = kiln_error_free(e);
                is_int(kiln_keypair_create(a, "lib-rsa", NULL, NULL, NULL, NULL, 0, &kp, &material,
                                           &e),
                       -1, "a duplicate name is refused");
                is_str(code_of(e), "InvalidKeyPair.Duplicate", "  InvalidKeyPair.Duplicate");
                is_str(e ? e->msg : NULL, "The keypair 'lib-rsa' already exists.",
                       "  EC2's wording");
                ok(material == NULL && kp.key_name == NULL, "  with nothing handed back");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                is_int(kiln_keypair_delete(a, "lib-ed", NULL, &e), 0, "delete by name");
                is_int(kiln_keypair_delete(a, "lib-ed", NULL, &e), 0, "deleting it again succeeds");
                is_int(kiln_keypair_delete(a, NULL, "key-0123456789abcdef0", &e), 0,
                       "deleting an unknown ID succeeds");
                is_int(kiln_keypair_delete(a, NULL, "key-xyz", &e), -1,
                       "a malformed ID is refused");
                e = kiln_error_free(e);
                is_int(kiln_keypair_delete(a, "lib-rsa", "key-0123456789abcdef0", &e), -1,
                       "name and ID together are refused");
                e = kiln_error_free(e);
                ok(stat(out, &st) == 0, "deleting a key pair leaves its private key file alone");
                is_int(kiln_keypair_delete(b, "lib-rsa", NULL, &e), 0,
                       "another account deleting the name succeeds");
                is_int((long long) count(a), 1, "  and does not touch the owner's key pair");
        }
        /* the limit, counted per account and region */
        {
                fill_txn t = {ACCT_A, KILN_KEYPAIR_LIMIT - 1};
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *pub = path_in("ed.pub");
                kiln_autofree char *line = read_text(pub);

                is_int(registry_write(a->reg, fill, &t, &e), 0, "4,999 more key pairs registered");
                is_int((long long) count(a), KILN_KEYPAIR_LIMIT, "5,000 in all");
                is_int(kiln_keypair_import(a, "one-too-many", line, NULL, 0, &kp, &e), -1,
                       "the 5,001st is refused");
                is_str(code_of(e), "ResourceLimitExceeded", "  ResourceLimitExceeded");
                is_int(e ? e->code : 0, KILN_E_LIMIT, "  a limit error");
                is_int((long long) count(a), KILN_KEYPAIR_LIMIT, "  nothing was registered");
                e = kiln_error_free(e);
                is_int(kiln_keypair_import(b, "one-too-many", line, NULL, 0, &kp, &e), 0,
                       "another account still has room");
                kiln_keypair_clear(&kp);
        }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void) st;
        (void) flag;
        (void) ftw;
        remove(path);
        return 0;
}

int main(void)
{
        char tmpl[] = "/tmp/kiln-unit-keypair.XXXXXX";
        kiln_autofree char *ssh_keygen = kiln_find_program("ssh-keygen");
        kiln_autofree char *openssl = kiln_find_program("openssl");

        if (!ssh_keygen || !openssl) {
                printf("1..0 # SKIP ssh-keygen and openssl are needed\n");
                return 77;
        }
        dir = mkdtemp(tmpl);
        if (!dir) {
                printf("Bail out! mkdtemp: %s\n", strerror(errno));
                return 1;
        }
        test_names();
        test_fingerprints();
        test_import_forms();
        test_generated();
        test_library();
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return done();
}
