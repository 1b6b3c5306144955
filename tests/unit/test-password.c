/* Windows passwords and the config drive that carries one: the passwords kiln makes against
 * Windows' complexity rule, over many samples; the encryption for GetPasswordData with a fresh
 * RSA key pair, decrypted by kiln_password_decrypt, by `openssl pkeyutl`, and by the aws CLI's
 * own code (Debian's awscli 2.9.19, decryptpassword.py run by /usr/bin/python3), and openssl's
 * encryption decrypted by kiln; the refusals (wrong key, a key of another size, ED25519 keys,
 * keys in OpenSSH's format or with a passphrase, bad base64); meta_data.json parsed back with
 * jansson and read by Python as cloudbase-init reads it; and the "config-2" ISO read back with
 * xorriso: its label, its file names in the Rock Ridge and the Joliet trees, and its files'
 * bytes. Everything goes into a mkdtemp directory. Steps skip without openssl, ssh-keygen,
 * xorriso or the aws CLI. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kiln/keypair.h>

#include "keypair/keypair-private.h"
#include "seed/seed.h"
#include "tap.h"
#include "util/json.h"
#include "util/util.h"

#define SAMPLES 20000
#define SYMBOLS KEYPAIR_PASSWORD_SYMBOLS
#define DIGITS  "0123456789"
#define UPPER   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define LOWER   "abcdefghijklmnopqrstuvwxyz"
#define AWS_PY  "/usr/bin/python3" /* the interpreter of Debian's /usr/bin/aws */

/* The aws CLI's decryption, its own code: LaunchKeyArgument._decrypt_password_data on what
 * GetPasswordData parsed, with the key file --priv-launch-key named. */
#define AWS_DECRYPT                                                                                \
        "import sys\n"                                                                             \
        "from awscli.customizations.ec2.decryptpassword import LaunchKeyArgument\n"                \
        "arg = LaunchKeyArgument.__new__(LaunchKeyArgument)\n"                                     \
        "arg._key_path = sys.argv[1]\n"                                                            \
        "parsed = {'PasswordData': sys.argv[2]}\n"                                                 \
        "arg._decrypt_password_data(parsed)\n"                                                     \
        "sys.stdout.write(parsed['PasswordData'])\n"

/* meta_data.json as cloudbase-init's BaseOpenStackService reads it (get_instance_id,
 * get_host_name, get_public_keys, get_admin_username, get_admin_password). */
#define CLOUDBASE_READ                                                                             \
        "import json, sys\n"                                                                       \
        "md = json.loads(open(sys.argv[1], 'rb').read().decode('utf-8'))\n"                        \
        "keys = list(md.get('public_keys', {}).values())\n"                                        \
        "keys += [k['data'] for k in md.get('keys', []) if k['type'] == 'ssh']\n"                  \
        "meta = md.get('meta')\n"                                                                  \
        "pw = meta['admin_pass'] if meta and 'admin_pass' in meta else md.get('admin_pass')\n"     \
        "print(md.get('uuid'))\n"                                                                  \
        "print(md.get('hostname'))\n"                                                              \
        "print(md.get('meta', {}).get('admin_username'))\n"                                        \
        "print(pw)\n"                                                                              \
        "print(' | '.join(sorted(set(k.strip() for k in keys))))\n"

static char *dir;

/* Runs a command and frees it; its stdout, or NULL (the error as a TAP comment). */
static char *run(kiln_cmd *cmd)
{
        kiln_autoptr(kiln_error) e = NULL;
        char *out = NULL;

        if (kiln_cmd_run(cmd, &out, &e) < 0)
                printf("# %s\n", e->msg);
        kiln_cmd_free(cmd);
        return out;
}

/* The same, quiet: for probes. */
static bool runs(kiln_cmd *cmd)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_autofree char *out = NULL;
        bool r = kiln_cmd_run(cmd, &out, &e) == 0;

        kiln_cmd_free(cmd);
        return r;
}

static bool have(const char *prog)
{
        kiln_autofree char *p = kiln_find_program(prog);

        return p != NULL;
}

static char *path_of(const char *name)
{
        return kiln_xasprintf("%s/%s", dir, name);
}

static char *read_or_null(const char *path, size_t *ret_len)
{
        kiln_autoptr(kiln_error) e = NULL;
        char *s = NULL;

        return kiln_file_read(path, 1 << 20, &s, ret_len, &e) == 0 ? s : NULL;
}

static void write_text(const char *path, const char *text)
{
        kiln_autoptr(kiln_error) e = NULL;

        if (kiln_file_write_private(path, text, &e) < 0)
                printf("# %s\n", e->msg);
}

/* ==== the password ==== */

static bool in_set(char c, const char *set)
{
        return c && strchr(set, c);
}

static void test_password_rules(void)
{
        static const char all[] = UPPER LOWER DIGITS SYMBOLS;
        size_t bad_len = 0, bad_char = 0, bad_first = 0, no_upper = 0, no_lower = 0, no_digit = 0,
               no_symbol = 0, admin = 0, repeats = 0;
        size_t seen[256] = {0}, first_seen[256] = {0};
        char **all_pw = kiln_xcalloc(SAMPLES, sizeof(*all_pw));

        for (size_t i = 0; i < SAMPLES; i++) {
                char *p = keypair_password_new();
                size_t n = strlen(p);
                bool up = false, lo = false, dig = false, sym = false;

                bad_len += n != KEYPAIR_PASSWORD_LEN;
                bad_first += !in_set(p[0], UPPER LOWER);
                first_seen[(unsigned char) p[0]]++;
                for (size_t j = 0; j < n; j++) {
                        bad_char += !in_set(p[j], all);
                        up = up || in_set(p[j], UPPER);
                        lo = lo || in_set(p[j], LOWER);
                        dig = dig || in_set(p[j], DIGITS);
                        sym = sym || in_set(p[j], SYMBOLS);
                        seen[(unsigned char) p[j]]++;
                }
                no_upper += !up;
                no_lower += !lo;
                no_digit += !dig;
                no_symbol += !sym;
                admin += strcasestr(p, "admin") != NULL;
                all_pw[i] = p;
        }
        for (size_t i = 1; i < SAMPLES; i++)
                repeats += strcmp(all_pw[i], all_pw[i - 1]) == 0;
        is_int((long long) bad_len, 0, "%d passwords have %d characters each", SAMPLES,
               KEYPAIR_PASSWORD_LEN);
        ok(KEYPAIR_PASSWORD_LEN >= 20, "  which is 20 or more");
        is_int((long long) bad_char, 0, "  only letters, digits and '%s'", SYMBOLS);
        is_int((long long) bad_first, 0, "  a letter first");
        is_int((long long) no_upper, 0, "  an upper case letter in each");
        is_int((long long) no_lower, 0, "  a lower case letter in each");
        is_int((long long) no_digit, 0, "  a digit in each");
        is_int((long long) no_symbol, 0, "  a symbol in each");
        is_int((long long) admin, 0, "  never 'admin' (the account's name) in any case");
        is_int((long long) repeats, 0, "  no two the same");
        {
                /* every character turns up, and none far more often than the others: with
                 * about 9,100 draws each (20000 x 31 / 68; letters a few more, as the first
                 * character is one, symbols some 6% more, as a password without one is drawn
                 * again), the modulo bias that rejection sampling avoids (256 % 68: the first
                 * 52 characters 4/3 as likely as the rest) would show, chance would not */
                size_t missing = 0, lo = SIZE_MAX, hi = 0, first_missing = 0;

                for (const char *c = all; *c; c++) {
                        size_t n = seen[(unsigned char) *c];

                        missing += n == 0;
                        lo = n < lo ? n : lo;
                        hi = n > hi ? n : hi;
                }
                for (const char *c = UPPER LOWER; *c; c++)
                        first_missing += first_seen[(unsigned char) *c] == 0;
                is_int((long long) missing, 0, "  every one of the %zu characters is drawn",
                       strlen(all));
                is_int((long long) first_missing, 0, "  every letter comes first at times");
                ok(hi * 100 < lo * 120, "  evenly: %zu to %zu times each", lo, hi);
        }
        for (size_t i = 0; i < SAMPLES; i++)
                kiln_keypair_material_free(all_pw[i]);
        free(all_pw);
}

/* ==== encryption and decryption ==== */

typedef struct rsa_pair {
        char *pem;
        char *line;
} rsa_pair;

static void rsa_pair_clear(rsa_pair *k)
{
        kiln_keypair_material_free(k->pem);
        free(k->line);
        memset(k, 0, sizeof(*k));
}

static bool new_pair(const char *type, rsa_pair *k)
{
        kiln_autoptr(kiln_error) e = NULL;

        if (keypair_generate(type, "windows@test", &k->pem, &k->line, &e) < 0) {
                printf("# %s\n", e->msg);
                return false;
        }
        return true;
}

/* kiln_password_decrypt's answer, or NULL with the error in *ret_e. */
static char *decrypt(const char *pem, const char *data, kiln_error **ret_e)
{
        char *pw = NULL;

        if (kiln_password_decrypt(pem, data, &pw, ret_e) < 0)
                return NULL;
        return pw;
}

static void test_round_trip(void)
{
        rsa_pair k = {0};
        kiln_autoptr(kiln_error) e = NULL;
        kiln_autofree char *pw = keypair_password_new();
        kiln_autofree char *b64 = NULL, *b64_again = NULL, *back = NULL;
        kiln_autofree unsigned char *raw = NULL;
        size_t raw_len = 0;

        if (!ok(new_pair("rsa", &k), "a new RSA key pair"))
                return;
        is_int(keypair_encrypt_for(k.line, pw, strlen(pw), &b64, &e), 0,
               "the password is encrypted with its public line%s%s", e ? ": " : "",
               e ? e->msg : "");
        raw = b64 ? kiln_base64_decode(b64, strlen(b64), false, &raw_len) : NULL;
        ok(raw && raw_len == 256, "  into one block of 256 bytes, in base64 (%zu characters)",
           b64 ? strlen(b64) : 0);
        is_int(b64 ? (long long) strlen(b64) : 0, 344, "  344 characters, as EC2's for 2048 bits");
        is_int(keypair_encrypt_for(k.line, pw, strlen(pw), &b64_again, NULL), 0,
               "encrypting again");
        ok(b64 && b64_again && strcmp(b64, b64_again) != 0,
           "  gives other bytes (PKCS#1 v1.5 pads at random)");
        back = b64 ? decrypt(k.pem, b64, &e) : NULL;
        is_str(back, pw, "kiln_password_decrypt gives the password back%s%s", e ? ": " : "",
               e ? e->msg : "");
        {
                /* the line as the key pair's record has it, with a comment, and as import keeps
                 * it, without */
                kiln_autofree char *bare =
                        kiln_xstrndup(k.line, (size_t) (strrchr(k.line, ' ') - k.line));
                kiln_autofree char *b = NULL, *p = NULL;

                is_int(keypair_encrypt_for(bare, pw, strlen(pw), &b, NULL), 0,
                       "a line without a comment does as well");
                p = b ? decrypt(k.pem, b, NULL) : NULL;
                is_str(p, pw, "  and decrypts the same");
                kiln_keypair_material_free(kiln_steal(&p));
        }
        {
                static const char utf8[] = "Pässwörd-1";
                kiln_autofree char *b = NULL, *p = NULL;

                is_int(keypair_encrypt_for(k.line, utf8, strlen(utf8), &b, NULL), 0,
                       "a password with non-ASCII letters");
                p = b ? decrypt(k.pem, b, NULL) : NULL;
                is_str(p, utf8, "  comes back as UTF-8");
        }
        {
                kiln_autofree char *p = decrypt(k.pem, "", NULL);

                is_str(p, "", "empty PasswordData (no password yet) decrypts to nothing");
        }
        kiln_keypair_material_free(kiln_steal(&back));
        rsa_pair_clear(&k);
}

static void test_other_tools(void)
{
        rsa_pair k = {0};
        kiln_autoptr(kiln_error) e = NULL;
        kiln_autofree char *pw = keypair_password_new();
        kiln_autofree char *b64 = NULL, *key = path_of("rsa.pem"), *ct = path_of("ct.bin");
        kiln_autofree unsigned char *raw = NULL;
        size_t raw_len = 0;

        if (!ok(new_pair("rsa", &k), "a new RSA key pair for the other tools"))
                return;
        if (keypair_encrypt_for(k.line, pw, strlen(pw), &b64, &e) < 0) {
                ok(0, "encrypting: %s", e->msg);
                rsa_pair_clear(&k);
                return;
        }
        write_text(key, k.pem);
        raw = kiln_base64_decode(b64, strlen(b64), false, &raw_len);
        if (raw && kiln_file_write_private_data(ct, raw, raw_len, &e) < 0)
                printf("# %s\n", e->msg);
        if (!have("openssl")) {
                ok(1, "# SKIP openssl is not installed");
        } else {
                kiln_autofree char *out =
                        run(kiln_cmd_new("openssl", "pkeyutl", "-decrypt", "-inkey", key,
                                         "-pkeyopt", "rsa_padding_mode:pkcs1", "-in", ct, NULL));
                kiln_autofree char *p8 = NULL, *p8_pw = NULL, *plain = path_of("plain.txt");
                kiln_autofree char *ct2 = path_of("ct2.bin"), *ct2_raw = NULL, *ct2_b64 = NULL;
                kiln_autofree char *from_openssl = NULL;
                size_t ct2_len = 0;

                is_str(out, pw, "openssl pkeyutl -decrypt (PKCS#1 padding) reads kiln's");
                p8 = run(kiln_cmd_new("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", key, NULL));
                like(p8, "-----BEGIN PRIVATE KEY-----", "the same key in PKCS#8");
                p8_pw = p8 ? decrypt(p8, b64, NULL) : NULL;
                is_str(p8_pw, pw, "  decrypts it too");
                write_text(plain, pw);
                free(run(kiln_cmd_new("openssl", "pkeyutl", "-encrypt", "-inkey", key, "-pkeyopt",
                                      "rsa_padding_mode:pkcs1", "-in", plain, "-out", ct2, NULL)));
                ct2_raw = read_or_null(ct2, &ct2_len);
                ct2_b64 = ct2_raw ? kiln_base64_encode(ct2_raw, ct2_len, true) : NULL;
                from_openssl = ct2_b64 ? decrypt(k.pem, ct2_b64, NULL) : NULL;
                is_str(from_openssl, pw, "kiln decrypts what openssl pkeyutl -encrypt wrote");
                kiln_keypair_material_free(kiln_steal(&p8));
                kiln_keypair_material_free(kiln_steal(&p8_pw));
                kiln_keypair_material_free(kiln_steal(&from_openssl));
        }
        if (access(AWS_PY, X_OK) < 0 ||
            !runs(kiln_cmd_new(AWS_PY, "-c", "import awscli.customizations.ec2.decryptpassword",
                               NULL))) {
                ok(1, "# SKIP the aws CLI (awscli for %s) is not installed", AWS_PY);
        } else {
                kiln_autofree char *out =
                        run(kiln_cmd_new(AWS_PY, "-c", AWS_DECRYPT, key, b64, NULL));
                kiln_autoptr(kiln_error) e2 = NULL;
                kiln_autoptr(kiln_cmd) cmd = NULL;
                rsa_pair other = {0};
                kiln_autofree char *other_key = path_of("other.pem"), *out2 = NULL;

                is_str(out, pw, "the aws CLI's --priv-launch-key code reads kiln's");
                if (new_pair("rsa", &other)) {
                        write_text(other_key, other.pem);
                        cmd = kiln_cmd_new(AWS_PY, "-c", AWS_DECRYPT, other_key, b64, NULL);
                        is_int(kiln_cmd_run(cmd, &out2, &e2), -1,
                               "  and refuses it with another key, as kiln does");
                        like(e2 ? e2->msg : NULL, "Unable to decrypt password data",
                             "  saying what kiln says first");
                }
                rsa_pair_clear(&other);
        }
        rsa_pair_clear(&k);
}

static void test_refusals(void)
{
        rsa_pair k = {0}, other = {0}, ed = {0};
        kiln_autofree char *pw = keypair_password_new();
        kiln_autofree char *b64 = NULL;

        if (!ok(new_pair("rsa", &k) && new_pair("rsa", &other) && new_pair("ed25519", &ed),
                "key pairs for the refusals") ||
            keypair_encrypt_for(k.line, pw, strlen(pw), &b64, NULL) < 0) {
                rsa_pair_clear(&k);
                rsa_pair_clear(&other);
                rsa_pair_clear(&ed);
                return;
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                char *got = (char *) "untouched";

                is_int(kiln_password_decrypt(other.pem, b64, &got, &e), -1,
                       "another RSA key of the same size does not decrypt it");
                ok(e && e->code == KILN_E_INVALID, "  KILN_E_INVALID");
                like(e ? e->msg : NULL,
                     "Unable to decrypt password data using provided private key file: the key "
                     "does not match",
                     "  in the aws CLI's words, and why");
                is_str(got, "untouched", "  the result is left alone");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *out = NULL;

                is_int(keypair_encrypt_for(ed.line, pw, strlen(pw), &out, &e), -1,
                       "an ED25519 key pair cannot encrypt a Windows password");
                ok(e && e->code == KILN_E_INVALID, "  KILN_E_INVALID");
                is_str(e ? e->api_code : NULL, "Unsupported", "  EC2's Unsupported");
                is_str(e ? e->msg : NULL,
                       "ED25519 key pairs are not supported with Windows AMIs. Choose a "
                       "different key pair type and try again.",
                       "  with EC2's message");
                ok(out == NULL, "  and no result");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *got = decrypt(ed.pem, b64, &e);

                ok(!got, "the ED25519 private key kiln hands out does not decrypt");
                like(e ? e->msg : NULL, "not an RSA private key", "  it is not RSA, it says");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *got = decrypt(k.pem, "this is not base64!", &e);

                ok(!got && e && e->code == KILN_E_INVALID, "garbage password data is refused");
                like(e ? e->msg : NULL, "not base64", "  as not base64");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *got = decrypt(k.pem, "AAAA", &e);

                ok(!got && e && e->code == KILN_E_INVALID, "base64 of 3 bytes is refused");
                like(e ? e->msg : NULL,
                     "3 bytes long, but this 2048-bit key decrypts blocks of "
                     "256 bytes",
                     "  as not a block of the key");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *got = decrypt("hello\n", b64, &e);

                ok(!got && e && e->code == KILN_E_INVALID, "a file that is no key is refused");
                like(e ? e->msg : NULL, "not a PEM private key", "  saying which forms it reads");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *got = decrypt("", b64, &e);

                ok(!got && e && e->code == KILN_E_INVALID, "an empty key file is refused");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *out = NULL;

                is_int(keypair_encrypt_for("ssh-rsa AAAAnotakey", pw, strlen(pw), &out, &e), -1,
                       "a public line that is no key is refused");
                is_str(e ? e->api_code : NULL, "InvalidKeyPair.Format", "  InvalidKeyPair.Format");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *out = NULL;
                char big[246];

                memset(big, 'a', sizeof(big));
                is_int(keypair_encrypt_for(k.line, big, sizeof(big), &out, &e), -1,
                       "246 bytes do not fit a 2048-bit block with PKCS#1 v1.5 padding");
                like(e ? e->msg : NULL, "at most 245", "  245 do");
                is_int(keypair_encrypt_for(k.line, big, 245, &out, NULL), 0, "  as they should");
        }
        if (!have("openssl")) {
                ok(1, "# SKIP openssl is not installed");
        } else {
                kiln_autofree char *small =
                        run(kiln_cmd_new("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                                         "rsa_keygen_bits:1024", NULL));
                kiln_autofree char *edpem =
                        run(kiln_cmd_new("openssl", "genpkey", "-algorithm", "ED25519", NULL));
                kiln_autofree char *locked = run(kiln_cmd_new(
                        "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:1024", "-aes256", "-pass", "pass:secret", NULL));
                kiln_autoptr(kiln_error) e1 = NULL;
                kiln_autoptr(kiln_error) e2 = NULL;
                kiln_autoptr(kiln_error) e3 = NULL;
                kiln_autofree char *g1 = small ? decrypt(small, b64, &e1) : NULL;
                kiln_autofree char *g2 = edpem ? decrypt(edpem, b64, &e2) : NULL;
                kiln_autofree char *g3 = locked ? decrypt(locked, b64, &e3) : NULL;

                ok(small && !g1, "a 1024-bit key does not decrypt a 2048-bit block");
                like(e1 ? e1->msg : NULL, "does not match", "  it does not match, it says");
                ok(edpem && !g2, "an ED25519 key in PKCS#8 is refused");
                like(e2 ? e2->msg : NULL, "not an RSA private key", "  as not RSA");
                ok(locked && !g3, "a key with a passphrase is refused");
                like(e3 ? e3->msg : NULL, "passphrase", "  saying so");
                kiln_keypair_material_free(kiln_steal(&small));
                kiln_keypair_material_free(kiln_steal(&edpem));
                kiln_keypair_material_free(kiln_steal(&locked));
        }
        if (!have("ssh-keygen")) {
                ok(1, "# SKIP ssh-keygen is not installed");
        } else {
                kiln_autofree char *key = path_of("openssh_rsa");
                kiln_autofree char *text = NULL, *got = NULL;
                kiln_autoptr(kiln_error) e = NULL;

                free(run(kiln_cmd_new("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-C",
                                      "x", "-f", key, NULL)));
                text = read_or_null(key, NULL);
                got = text ? decrypt(text, b64, &e) : NULL;
                ok(text && !got, "an RSA key in OpenSSH's format is refused");
                like(e ? e->msg : NULL, "ssh-keygen -p -m PEM", "  saying how to convert it");
                kiln_keypair_material_free(kiln_steal(&text));
        }
        rsa_pair_clear(&k);
        rsa_pair_clear(&other);
        rsa_pair_clear(&ed);
}

/* ==== the config drive ==== */

#define KEY_A "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7 windows@test"
#define KEY_B "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKu1NXNJuHOBopfxviNP8otJH1MybEnXk3xkhsvsj1TM x"

static const seed_configdrive_key two_keys[] = {{"win-key", KEY_A}, {"kiln-access", KEY_B}};

static seed_configdrive_spec full_spec(const char *pass)
{
        seed_configdrive_spec s = {
                .instance_id = "i-0123456789abcdef0",
                .hostname = "ip-10-0-0-5",
                .name = "web \xc3\xa9t\xc3\xa9",
                .availability_zone = "us-east-1a",
                .launch_index = 2,
                .admin_username = "Administrator",
                .admin_pass = pass,
                .keys = two_keys,
                .n_keys = 2,
        };

        return s;
}

/* The members of an object, in order, joined with spaces. */
static char *member_names(json_t *obj)
{
        kiln_buf b = {0};
        const char *key;
        json_t *v;

        json_object_foreach (obj, key, v) {
                kiln_buf_appendf(&b, "%s%s", b.len ? " " : "", key);
        }
        return kiln_buf_steal(&b);
}

static void test_render(void)
{
        kiln_autofree char *pw = keypair_password_new();
        seed_configdrive_spec spec = full_spec(pw);
        kiln_autoptr(kiln_error) e = NULL;
        kiln_autofree char *md = NULL, *names = NULL;
        kiln_autoptr(json_t) root = NULL;
        json_error_t jerr;

        is_int(seed_configdrive_render(&spec, &md, &e), 0, "meta_data.json is rendered%s%s",
               e ? ": " : "", e ? e->msg : "");
        root = md ? json_loads(md, JSON_REJECT_DUPLICATES, &jerr) : NULL;
        ok(root && json_is_object(root), "  as a JSON object");
        names = root ? member_names(root) : NULL;
        is_str(names,
               "uuid meta admin_pass public_keys keys hostname name launch_index "
               "availability_zone",
               "  its members in Nova's order");
        is_str(json_string_value(json_object_get(root, "uuid")), "i-0123456789abcdef0",
               "  uuid is the instance ID");
        is_str(json_string_value(json_object_get(root, "hostname")), "ip-10-0-0-5", "  hostname");
        is_str(json_string_value(json_object_get(root, "name")), "web \xc3\xa9t\xc3\xa9",
               "  name, in UTF-8");
        ok(md && strstr(md, "web \\u00E9t\\u00E9"), "  written as ASCII escapes");
        is_int(json_integer_value(json_object_get(root, "launch_index")), 2, "  launch_index");
        is_str(json_string_value(json_object_get(root, "availability_zone")), "us-east-1a",
               "  availability_zone");
        is_str(json_string_value(json_object_get(root, "admin_pass")), pw,
               "  admin_pass is the password");
        is_str(json_string_value(json_object_get(json_object_get(root, "meta"), "admin_username")),
               "Administrator", "  meta.admin_username the user it is for");
        {
                json_t *pk = json_object_get(root, "public_keys");
                json_t *keys = json_object_get(root, "keys");
                json_t *k0 = json_array_get(keys, 0);
                kiln_autofree char *pk_names = pk ? member_names(pk) : NULL;

                is_str(pk_names, "win-key kiln-access", "  public_keys by key pair name");
                is_str(json_string_value(json_object_get(pk, "win-key")), KEY_A,
                       "  each its OpenSSH line");
                is_int((long long) json_array_size(keys), 2, "  keys lists both");
                is_str(json_string_value(json_object_get(k0, "type")), "ssh", "  of type ssh");
                is_str(json_string_value(json_object_get(k0, "name")), "win-key", "  named");
                is_str(json_string_value(json_object_get(k0, "data")), KEY_A, "  with the line");
        }
        kiln_keypair_material_free(kiln_steal(&md));
        {
                seed_configdrive_spec kept = full_spec(NULL);
                kiln_autofree char *m = NULL, *n = NULL;
                kiln_autoptr(json_t) r = NULL;

                kept.admin_username = NULL;
                kept.name = NULL;
                kept.n_keys = 0;
                kept.keys = NULL;
                is_int(seed_configdrive_render(&kept, &m, NULL), 0,
                       "the drive kept after the first boot");
                r = m ? json_loads(m, JSON_REJECT_DUPLICATES, &jerr) : NULL;
                n = r ? member_names(r) : NULL;
                is_str(n, "uuid public_keys keys hostname name launch_index availability_zone",
                       "  has no admin_pass and no meta");
                ok(m && !strstr(m, "admin_pass"), "  not even the word");
                is_str(json_string_value(json_object_get(r, "name")), "i-0123456789abcdef0",
                       "  name defaults to the instance ID");
                ok(json_object_size(json_object_get(r, "public_keys")) == 0 &&
                           json_array_size(json_object_get(r, "keys")) == 0,
                   "  no keys: public_keys {} and keys []");
        }
}

static void test_render_refusals(void)
{
        static const seed_configdrive_key dup[] = {{"k", KEY_A}, {"k", KEY_B}};
        static const seed_configdrive_key two_lines[] = {{"k", "ssh-rsa AAAA\nssh-rsa BBBB"}};
        static const seed_configdrive_key no_name[] = {{"", KEY_A}};
        static const struct {
                const char *what, *api;
                int field; /* 0 id, 1 hostname, 2 zone, 3 pass, 4 keys dup, 5 key lines, 6 name,
                              7 index */
        } cases[] = {
                {"no instance ID", "InvalidInstanceID.Malformed", 0},
                {"no hostname", "InvalidParameterValue", 1},
                {"no availability zone", "InvalidParameterValue", 2},
                {"a password with a control character", "InvalidParameterValue", 3},
                {"one key name twice", "InvalidParameterValue", 4},
                {"a key of two lines", "InvalidKeyPair.Format", 5},
                {"a key without a name", "InvalidParameterValue", 6},
                {"a negative launch index", "InvalidParameterValue", 7},
        };

        for (size_t i = 0; i < KILN_ARRAY_SIZE(cases); i++) {
                seed_configdrive_spec s = full_spec("Pass-1word");
                kiln_autoptr(kiln_error) e = NULL;
                char *md = (char *) "untouched";

                switch (cases[i].field) {
                case 0:
                        s.instance_id = NULL;
                        break;
                case 1:
                        s.hostname = "";
                        break;
                case 2:
                        s.availability_zone = NULL;
                        break;
                case 3:
                        s.admin_pass = "Pass\x1b[2J";
                        break;
                case 4:
                        s.keys = dup;
                        break;
                case 5:
                        s.keys = two_lines;
                        s.n_keys = 1;
                        break;
                case 6:
                        s.keys = no_name;
                        s.n_keys = 1;
                        break;
                default:
                        s.launch_index = -1;
                        break;
                }
                is_int(seed_configdrive_render(&s, &md, &e), -1, "%s is refused", cases[i].what);
                ok(e && e->code == KILN_E_INVALID, "  KILN_E_INVALID (%s)", e ? e->msg : "none");
                is_str(e ? e->api_code : NULL, cases[i].api, "  %s", cases[i].api);
                is_str(md, "untouched", "  the result is left alone");
        }
}

static void test_iso(void)
{
        kiln_autofree char *pw = keypair_password_new();
        seed_configdrive_spec spec = full_spec(pw);
        static const unsigned char user_data[] = "<powershell>\r\nWrite-Host \xff\x00 hi\r\n"
                                                 "</powershell>";
        kiln_autoptr(kiln_error) e = NULL;
        kiln_autofree char *md = NULL, *iso = path_of("config.iso"), *out = path_of("out");
        kiln_autofree char *pvd = NULL, *toc = NULL, *rr = NULL, *joliet = NULL, *left = NULL;

        if (!have("xorriso")) {
                ok(1, "# SKIP xorriso is not installed");
                return;
        }
        if (seed_configdrive_render(&spec, &md, &e) < 0) {
                ok(0, "rendering: %s", e->msg);
                return;
        }
        is_int(seed_configdrive_write_iso(md, user_data, sizeof(user_data) - 1, iso, &e), 0,
               "the config drive is written%s%s", e ? ": " : "", e ? e->msg : "");
        pvd = run(kiln_cmd_new("xorriso", "-indev", iso, "-pvd_info", NULL));
        like(pvd, "Volume Id    : config-2\n", "its volume label is config-2");
        toc = run(kiln_cmd_new("xorriso", "-indev", iso, "-toc", NULL));
        like(toc, "Rock_Ridge Joliet", "with Rock Ridge and Joliet");
        rr = run(kiln_cmd_new("xorriso", "-indev", iso, "-find", "/", "-type", "f", NULL));
        is_str(rr, "'/openstack/latest/meta_data.json'\n'/openstack/latest/user_data'\n",
               "it holds openstack/latest/meta_data.json and user_data, and nothing else");
        joliet = run(kiln_cmd_new("xorriso", "-read_fs", "norock", "-indev", iso, "-find", "/",
                                  "-type", "f", NULL));
        is_str(joliet, "'/openstack/latest/meta_data.json'\n'/openstack/latest/user_data'\n",
               "  the same names in the Joliet tree, which Windows reads");
        free(run(kiln_cmd_new("xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/", out,
                              NULL)));
        {
                kiln_autofree char *p1 = kiln_xasprintf("%s/openstack/latest/meta_data.json", out);
                kiln_autofree char *p2 = kiln_xasprintf("%s/openstack/latest/user_data", out);
                kiln_autofree char *m = read_or_null(p1, NULL), *u = NULL;
                kiln_autofree char *read = NULL, *want = NULL;
                size_t ulen = 0;

                u = read_or_null(p2, &ulen);
                is_str(m, md, "meta_data.json round-trips byte for byte");
                ok(u && ulen == sizeof(user_data) - 1 && memcmp(u, user_data, ulen) == 0,
                   "user_data round-trips byte for byte, NUL and non-UTF-8 bytes too");
                want = kiln_xasprintf("i-0123456789abcdef0\nip-10-0-0-5\nAdministrator\n%s\n%s | "
                                      "%s\n",
                                      pw, KEY_B, KEY_A);
                read = run(kiln_cmd_new("python3", "-c", CLOUDBASE_READ, p1, NULL));
                is_str(read, want,
                       "cloudbase-init's reading gives the instance ID, hostname, user, "
                       "password and keys");
                kiln_keypair_material_free(kiln_steal(&m));
        }
        left = run(kiln_cmd_new("ls", "-A", dir, NULL));
        ok(left && !strstr(left, "staging"), "no staging directory is left behind");
        free(run(kiln_cmd_new("rm", "-rf", "--", out, NULL)));
        kiln_keypair_material_free(kiln_steal(&md));
        {
                seed_configdrive_spec kept = full_spec(NULL);
                kiln_autofree char *m = NULL, *files = NULL, *back = NULL;
                kiln_autofree char *p1 = kiln_xasprintf("%s/openstack/latest/meta_data.json", out);

                is_int(seed_configdrive_render(&kept, &m, NULL), 0, "the kept drive's metadata");
                is_int(seed_configdrive_write_iso(m, NULL, 0, iso, NULL), 0,
                       "  without user data replaces the first boot's drive");
                files = run(
                        kiln_cmd_new("xorriso", "-indev", iso, "-find", "/", "-type", "f", NULL));
                is_str(files, "'/openstack/latest/meta_data.json'\n",
                       "  it holds meta_data.json alone");
                free(run(kiln_cmd_new("xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/",
                                      out, NULL)));
                back = read_or_null(p1, NULL);
                ok(back && !strstr(back, "admin_pass") && !strstr(back, pw),
                   "  and no password at all");
        }
        {
                kiln_autoptr(kiln_error) e2 = NULL;
                size_t n = SEED_USER_DATA_MAX + 1;
                kiln_autofree char *big = kiln_xcalloc(n, 1);
                kiln_autofree char *iso2 = path_of("big.iso");

                is_int(seed_configdrive_write_iso("{}", big, n, iso2, &e2), -1,
                       "user data over 16384 bytes is refused");
                ok(e2 && e2->code == KILN_E_LIMIT, "  KILN_E_LIMIT");
                is_str(e2 ? e2->api_code : NULL, "InvalidUserData.Malformed",
                       "  InvalidUserData.Malformed");
        }
        {
                kiln_autoptr(kiln_error) e3 = NULL;
                kiln_autofree char *iso3 = path_of("missing/config.iso");

                is_int(seed_configdrive_write_iso("{}", NULL, 0, iso3, &e3), -1,
                       "an ISO in a missing directory fails");
                ok(e3 && e3->code == KILN_E_IO, "  as an I/O error (%s)", e3 ? e3->msg : "none");
        }
}

int main(void)
{
        char tmpl[] = "/tmp/kiln-unit-password.XXXXXX";

        dir = mkdtemp(tmpl);
        if (!dir) {
                printf("Bail out! mkdtemp: %s\n", strerror(errno));
                return 1;
        }
        test_password_rules();
        test_round_trip();
        test_other_tools();
        test_refusals();
        test_render();
        test_render_refusals();
        test_iso();
        free(run(kiln_cmd_new("rm", "-rf", "--", dir, NULL)));
        ok(access(dir, F_OK) < 0, "the test's directory is removed");
        return done();
}
