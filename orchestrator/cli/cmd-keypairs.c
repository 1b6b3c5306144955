/* Key pair verbs: create-key-pair, import-key-pair, describe-key-pairs, delete-key-pair. Each
 * parses, calls the library once, and prints in the aws CLI 2.9.19's shapes (KeyPair,
 * ImportKeyPair's result, KeyPairInfo). A private key is printed once and then zeroed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define MATERIAL_FILE_MAX ((size_t) 1024 * 1024)

static int finish(kiln_error *err)
{
        return err ? cli_fail(err) : CLI_EXIT_OK;
}

static int cmd_create_key_pair(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *name = cli_arg_get(args, "key-name");
        const char *output_file = cli_arg_get(args, "output-file");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_keypair kp = {0};
        cli_tag_specs tags = {0};
        char *material = NULL;
        cli_writer *w;
        int rc = 0;

        (void) verb;
        if (!name)
                return cli_usage_error("create-key-pair needs --key-name");
        if (cli_parse_tag_specs(args, &tags, &err) < 0)
                return cli_fail(err);
        ctx = cli_ctx_open(g, &rc);
        if (ctx && kiln_keypair_create(ctx, name, cli_arg_get(args, "key-type"),
                                       cli_arg_get(args, "key-format"), output_file, tags.specs,
                                       tags.n, &kp, &material, &err) < 0)
                rc = cli_fail(err);
        cli_tag_specs_free(&tags);
        if (!ctx || rc != 0)
                return rc;
        w = cli_writer_new(g);
        kiln_shape_keypair_made(cli_w_sink(w), &kp, material);
        cli_writer_finish(w, g);
        kiln_keypair_material_free(material);
        kiln_keypair_clear(&kp);
        return CLI_EXIT_OK;
}

/* The aws CLI's blob forms: fileb://PATH and file://PATH read the file, anything else is the
 * material itself. Returns a new string, or NULL with *err set. */
static char *material_load(const char *arg, kiln_error **err)
{
        const char *path = NULL;
        FILE *f;
        char *buf;
        size_t n;

        if (strncmp(arg, "fileb://", 8) == 0)
                path = arg + 8;
        else if (strncmp(arg, "file://", 7) == 0)
                path = arg + 7;
        if (!path) {
                buf = strdup(arg);
                if (!buf)
                        abort();
                return buf;
        }
        f = fopen(path, "rbe");
        if (!f) {
                kiln_error_set_errno(err, errno, KILN_E_IO, "cannot open '%s'", path);
                return NULL;
        }
        buf = malloc(MATERIAL_FILE_MAX + 1);
        if (!buf)
                abort();
        n = fread(buf, 1, MATERIAL_FILE_MAX + 1, f);
        if (ferror(f)) {
                kiln_error_set_errno(err, errno, KILN_E_IO, "cannot read '%s'", path);
                n = 0;
        } else if (n > MATERIAL_FILE_MAX || memchr(buf, '\0', n)) {
                /* not text: no public key in any form kiln takes */
                kiln_error_set(err, KILN_E_INVALID, "InvalidKeyPair.Format",
                               "Key is not in valid OpenSSH public key format");
        }
        fclose(f);
        if (err && *err) {
                free(buf);
                return NULL;
        }
        buf[n] = '\0';
        return buf;
}

static int cmd_import_key_pair(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *name = cli_arg_get(args, "key-name");
        const char *arg = cli_arg_get(args, "public-key-material");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_keypair kp = {0};
        cli_tag_specs tags = {0};
        char *material;
        cli_writer *w;
        int rc = 0;

        (void) verb;
        if (!name || !arg)
                return cli_usage_error("import-key-pair needs --key-name and "
                                       "--public-key-material");
        if (cli_parse_tag_specs(args, &tags, &err) < 0)
                return cli_fail(err);
        material = material_load(arg, &err);
        ctx = material ? cli_ctx_open(g, &rc) : NULL;
        if (ctx)
                rc = kiln_keypair_import(ctx, name, material, tags.specs, tags.n, &kp, &err) < 0
                             ? cli_fail(err)
                             : 0;
        else if (!material)
                rc = cli_fail(err);
        free(material);
        cli_tag_specs_free(&tags);
        if (!ctx || rc != 0)
                return rc;
        w = cli_writer_new(g);
        kiln_shape_keypair_made(cli_w_sink(w), &kp, NULL);
        cli_writer_finish(w, g);
        kiln_keypair_clear(&kp);
        return CLI_EXIT_OK;
}

static int cmd_describe_key_pairs(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_keypair_query q = {0};
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        const char **names = NULL, **ids = NULL;
        kiln_filter *filters = NULL;
        kiln_keypair *kps = NULL;
        size_t n_filters = 0, n = 0;
        int rc;

        (void) verb;
        rc = cli_parse_filters(args, &filters, &n_filters);
        if (rc != 0)
                return rc;
        q.n_key_names = cli_arg_all(args, "key-names", &names);
        q.key_names = names;
        q.n_key_pair_ids = cli_arg_all(args, "key-pair-ids", &ids);
        q.key_pair_ids = ids;
        q.filters = filters;
        q.n_filters = n_filters;
        q.include_public_key = cli_arg_has(args, "include-public-key");
        ctx = cli_ctx_open(g, &rc);
        if (ctx && kiln_keypairs_describe(ctx, &q, &kps, &n, &err) == 0) {
                cli_writer *w = cli_writer_new(g);

                cli_w_object(w, NULL);
                kiln_shape_list_begin(cli_w_sink(w), KILN_LIST_KEY_PAIRS);
                for (size_t i = 0; i < n; i++)
                        kiln_shape_keypair(cli_w_sink(w), &kps[i]);
                cli_w_end_array(w);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
                kiln_keypairs_free(kps, n);
        }
        free(names);
        free(ids);
        cli_filters_free(filters, n_filters);
        return ctx ? finish(err) : rc;
}

static int cmd_delete_key_pair(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *name = cli_arg_get(args, "key-name");
        const char *id = cli_arg_get(args, "key-pair-id");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        int rc = 0;

        (void) verb;
        if (!name && !id)
                return cli_usage_error("delete-key-pair needs --key-name or --key-pair-id");
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        kiln_keypair_delete(ctx, name, id, &err);
        return finish(err);
}

/* ---- command table rows ---- */

static const cli_opt create_opts[] = {
        {"key-name", CLI_ARG_ONE, "NAME", "1-255 ASCII characters, unique in the region"},
        {"key-type", CLI_ARG_ONE, "rsa|ed25519", "rsa (2048 bits, the default) or ed25519"},
        {"key-format", CLI_ARG_ONE, "pem", "pem (the default); ppk is not supported"},
        {"output-file", CLI_ARG_ONE, "FILE",
         "write the private key to this new file (mode 0600) instead of printing it"},
        CLI_OPT_TAG_SPECS("key pair (key-pair)"),
        CLI_END_OPTS,
};

static const cli_opt import_opts[] = {
        {"key-name", CLI_ARG_ONE, "NAME", "1-255 ASCII characters, unique in the region"},
        {"public-key-material", CLI_ARG_ONE, "KEY|fileb://FILE",
         "an OpenSSH public key line; for RSA also RFC 4716, PEM or base64 DER"},
        CLI_OPT_TAG_SPECS("key pair (key-pair)"),
        CLI_END_OPTS,
};

static const cli_opt describe_opts[] = {
        {"key-names", CLI_ARG_LIST, "NAME...", "only these key pairs"},
        {"key-pair-ids", CLI_ARG_LIST, "ID...", "only these key pairs"},
        {"filters", CLI_ARG_LIST, "Name=N,Values=V...",
         "key-pair-id, fingerprint, key-name, tag:KEY, tag-key, tag-value"},
        {"include-public-key", CLI_ARG_NONE, NULL, "also print each public key"},
        CLI_END_OPTS,
};

static const cli_opt delete_opts[] = {
        {"key-name", CLI_ARG_ONE, "NAME", "the key pair"},
        {"key-pair-id", CLI_ARG_ONE, "ID", "the key pair, by ID"},
        CLI_END_OPTS,
};

const cli_verb cli_keypair_verbs[] = {
        {"create-key-pair", "key pairs",
         "create a key pair: kiln keeps the public key, the private key is printed once",
         "--key-name NAME [--key-type rsa|ed25519] [--output-file FILE]", create_opts, 0,
         cmd_create_key_pair,
         "kiln create-key-pair --key-name admin --key-type ed25519 --output-file admin.pem"},
        {"import-key-pair", "key pairs", "register the public key of a key pair made elsewhere",
         "--key-name NAME --public-key-material KEY|fileb://FILE", import_opts, 0,
         cmd_import_key_pair,
         "kiln import-key-pair --key-name laptop --public-key-material "
         "fileb://id_ed25519.pub"},
        {"describe-key-pairs", "key pairs", "list the caller's key pairs in the region",
         "[--key-names NAME...] [--key-pair-ids ID...] [--filters ...] [--include-public-key]",
         describe_opts, 0, cmd_describe_key_pairs,
         "kiln describe-key-pairs --filters Name=key-name,Values=web-*"},
        {"delete-key-pair", "key pairs", "delete a key pair (its public key); idempotent",
         "--key-name NAME | --key-pair-id ID", delete_opts, 0, cmd_delete_key_pair,
         "kiln delete-key-pair --key-name laptop"},
};
const size_t cli_n_keypair_verbs = KILN_ARRAY_SIZE(cli_keypair_verbs);
