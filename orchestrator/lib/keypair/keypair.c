/* Key pairs: create, import, describe with EC2's filters, delete, and the lookup the instance
 * code uses at launch, with EC2's rules (reference/ec2-ami.md §6.10) and the registry. The key
 * formats are keypair-format.c's, new keys keypair-keygen.c's, fingerprints
 * keypair-fingerprint.c's; all of it runs in this process.
 *
 * kiln keeps only the public key. A private key exists in two places only: kiln's memory,
 * wiped before it is freed, and where the caller wants it (its own buffer, or a new 0600 file
 * that is never written over an existing one). It never touches the kiln home or a temporary
 * file. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/text.h>

#include "image/image-rules.h"
#include "keypair/keypair-private.h"
#include "registry/registry-keypair.h"
#include "tag/tag-private.h"
#include "util/util.h"

/* ==== records (their destructors are in model/records.c) ==== */

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

/* Moves a set error into *err (if err wants one and holds none). */
static int pass_error(kiln_error **err, kiln_error **e)
{
        if (err && !*err)
                *err = kiln_steal(e);
        return -1;
}

/* ==== files ==== */

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
        kiln_keypair *kp;
        const kiln_tag_spec *specs;
        size_t n_specs;
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

        if (check_room(t->ctx, r, t->kp->key_name, err) < 0 ||
            registry_keypair_insert(r, t->kp, err) < 0 ||
            tag_specs_apply(r, t->specs, t->n_specs, "key-pair", t->kp->key_pair_id, err) < 0)
                return -1;
        kiln_tags_free(t->kp->tags, t->kp->n_tags);
        t->kp->tags = NULL;
        t->kp->n_tags = 0;
        return registry_tags_get(r, t->kp->key_pair_id, &t->kp->tags, &t->kp->n_tags, err);
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

/* The resource type TagSpecifications may name when a key pair is made. */
static const char *const keypair_tag_types[] = {"key-pair", NULL};

/* ==== create ==== */

typedef struct keygen {
        char *public_key; /* the OpenSSH line, with the name as its comment */
        char *fingerprint;
        char *secret; /* the private key file's text */
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

/* Generates a key pair, in memory only, with EC2's fingerprint for its type. */
static int keygen_run(const char *name, bool ed25519, keygen *ret, kiln_error **err)
{
        keygen k = {0};
        int r = keypair_generate(ed25519 ? "ed25519" : "rsa", name, &k.secret, &k.public_key, err);

        if (r == 0) {
                k.secret_len = strlen(k.secret);
                r = ed25519 ? keypair_fingerprint_sha256(k.public_key, &k.fingerprint, err)
                            : keypair_fingerprint_rsa_private(k.secret, &k.fingerprint, err);
        }
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
                        const char *key_format, const char *output_file,
                        const kiln_tag_spec *tag_specs, size_t n_tag_specs, kiln_keypair *ret,
                        char **ret_private_key, kiln_error **err)
{
        kiln_autoclose int fd = -1;
        kiln_autofree char *path = NULL;
        keypair_txn t = {ctx, name, NULL, tag_specs, n_tag_specs};
        kiln_keypair kp = {0};
        keygen k = {0};
        bool ed25519 = key_type && strcmp(key_type, "ed25519") == 0;
        int r;

        if (create_validate(name, key_type, key_format, output_file, ret_private_key, err) < 0 ||
            tag_specs_check(tag_specs, n_tag_specs, keypair_tag_types, err) < 0)
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

int kiln_keypair_import(kiln_ctx *ctx, const char *name, const char *public_key_material,
                        const kiln_tag_spec *tag_specs, size_t n_tag_specs, kiln_keypair *ret,
                        kiln_error **err)
{
        kiln_autofree char *fingerprint = NULL;
        keypair_txn t = {ctx, name, NULL, tag_specs, n_tag_specs};
        keypair_public p = {0};
        kiln_keypair kp = {0};
        int r;

        if (keypair_check_name(name, err) < 0 ||
            tag_specs_check(tag_specs, n_tag_specs, keypair_tag_types, err) < 0)
                return -1;
        if (!public_key_material)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter PublicKeyMaterial");
        if (keypair_parse_public(public_key_material, &p, err) < 0)
                return -1;
        assert(p.line && p.key_type);
        r = strcmp(p.key_type, "rsa") == 0
                    ? keypair_fingerprint_rsa_public(p.line, &fingerprint, err)
                    : keypair_fingerprint_sha256(p.line, &fingerprint, err);
        if (r == 0) {
                kp = keypair_record(ctx, name, p.key_type, kiln_steal(&fingerprint),
                                    kiln_xasprintf("%s %s", p.line, name), NULL);
                t.kp = &kp;
                r = registry_write(ctx->reg, insert_txn, &t, err);
        }
        keypair_public_clear(&p);
        if (r < 0) {
                kiln_keypair_clear(&kp);
                return -1;
        }
        *ret = kp;
        return 0;
}

/* ==== describe ==== */

static const char *const keypair_filters[] = {"fingerprint", "key-name", "key-pair-id", NULL};

static bool filter_match(const kiln_keypair *kp, const kiln_filter *f)
{
        const char *n = f->name;

        if (strcmp(n, "key-pair-id") == 0)
                return filter_match_any(f, kp->key_pair_id);
        if (strcmp(n, "fingerprint") == 0)
                return filter_match_any(f, kp->fingerprint);
        if (strcmp(n, "key-name") == 0)
                return filter_match_any(f, kp->key_name);
        return filter_tag(f) && filter_match_tags(f, kp->tags, kp->n_tags);
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
        if (filter_check_names(q->filters, q->n_filters, keypair_filters, err) < 0)
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
