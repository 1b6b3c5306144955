/* Access key verbs for the EC2 endpoint: create-access-key (the secret is printed once),
 * describe-access-keys and delete-access-key, in the shapes of IAM's CreateAccessKey and
 * ListAccessKeys with the account in place of the user. */
#include <stdio.h>

#include "cli.h"

static void emit_key(cli_writer *w, const char *name, const kiln_access_key *k)
{
        kiln_autofree char *created = cli_timestamp(k->create_date);

        cli_w_object(w, name);
        cli_w_str(w, "AccountId", k->account_id);
        cli_w_str(w, "AccessKeyId", k->access_key_id);
        cli_w_str(w, "Status", k->status);
        cli_w_str(w, "SecretAccessKey", k->secret);
        cli_w_str(w, "CreateDate", created);
        cli_w_end_object(w);
}

static int cmd_create_access_key(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_access_key k = {0};
        int rc = 0;

        (void) verb;
        (void) args;
        ctx = cli_ctx_open(g, &rc);
        if (ctx && kiln_access_key_create(ctx, NULL, &k, &err) == 0) {
                cli_writer *w = cli_writer_new(g);

                cli_w_object(w, NULL);
                emit_key(w, "AccessKey", &k);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
                kiln_access_key_clear(&k);
        }
        return err ? cli_fail(err) : rc;
}

static int cmd_describe_access_keys(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_access_key *keys = NULL;
        size_t n = 0;
        int rc = 0;

        (void) verb;
        ctx = cli_ctx_open(g, &rc);
        if (ctx && kiln_access_keys_describe(
                           ctx, cli_arg_has(args, "all-accounts") ? NULL : kiln_ctx_account(ctx),
                           &keys, &n, &err) == 0) {
                cli_writer *w = cli_writer_new(g);

                cli_w_object(w, NULL);
                cli_w_array(w, "AccessKeyMetadata");
                for (size_t i = 0; i < n; i++)
                        emit_key(w, NULL, &keys[i]);
                cli_w_end_array(w);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
                kiln_access_keys_free(keys, n);
        }
        return err ? cli_fail(err) : rc;
}

static int cmd_delete_access_key(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *id = cli_arg_get(args, "access-key-id");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        int rc = 0;

        (void) verb;
        if (!id)
                return cli_usage_error("delete-access-key needs --access-key-id");
        ctx = cli_ctx_open(g, &rc);
        if (ctx)
                kiln_access_key_delete(ctx, id, &err);
        return err ? cli_fail(err) : rc;
}

static const cli_opt create_opts[] = {
        CLI_END_OPTS,
};

static const cli_opt describe_opts[] = {
        {"all-accounts", CLI_ARG_NONE, NULL, "the keys of every account, not only --account's"},
        CLI_END_OPTS,
};

static const cli_opt delete_opts[] = {
        {"access-key-id", CLI_ARG_ONE, "AKIA...", "the key"},
        CLI_END_OPTS,
};

const cli_verb cli_access_verbs[] = {
        {"create-access-key", "access keys",
         "issue an access key for the account (--account) for the EC2 endpoint; the secret is "
         "printed once",
         "", create_opts, 0, cmd_create_access_key,
         "kiln --account 123456789012 create-access-key"},
        {"describe-access-keys", "access keys", "list the account's access keys (no secrets)",
         "[--all-accounts]", describe_opts, 0, cmd_describe_access_keys,
         "kiln describe-access-keys --all-accounts"},
        {"delete-access-key", "access keys",
         "delete an access key: requests it signs are refused at once", "--access-key-id ID",
         delete_opts, 0, cmd_delete_access_key,
         "kiln delete-access-key --access-key-id AKIAIOSFODNN7EXAMPLE"},
};
const size_t cli_n_access_verbs = KILN_ARRAY_SIZE(cli_access_verbs);
