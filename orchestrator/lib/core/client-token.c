/* EC2's ClientToken, for the verbs that take one: the first request with a token does the work
 * and records the resource it made with a digest of the request; a later request with the same
 * token gets that resource back when it asks the same, IdempotentParameterMismatch when it asks
 * something else. Tokens are the caller's, per region, as EC2's. */
#include <stdio.h>
#include <string.h>

#include "core/ctx-private.h"
#include "util/util.h"

#define TOKEN_MAX 64

char *ctx_request_digest(const char *canonical)
{
        unsigned char d[KILN_DIGEST_MAX];
        size_t n = 0;
        char *hex;

        if (kiln_digest(KILN_DIGEST_SHA256, canonical, strlen(canonical), d, &n, NULL) < 0)
                abort(); /* SHA-256 is always there */
        hex = kiln_xcalloc(2 * n + 1, 1);
        for (size_t i = 0; i < n; i++)
                snprintf(hex + 2 * i, 3, "%02x", d[i]);
        return hex;
}

int ctx_token_validate(const char *token, kiln_error **err)
{
        size_t n = token ? strlen(token) : 0;

        if (!token)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (token[i] < 0x21 || token[i] > 0x7e)
                        n = 0;
        if (n == 0 || n > TOKEN_MAX)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid client token: 1 to %d printable ASCII characters",
                                      TOKEN_MAX);
        return 0;
}

int ctx_token_check(kiln_ctx *ctx, registry *r, const char *token, const char *action,
                    const char *request_sha256, char **ret_existing, kiln_error **err)
{
        kiln_autoptr(kiln_error) e = NULL;
        registry_token t = {0};
        int rc = 0;

        *ret_existing = NULL;
        if (!token)
                return 0;
        if (registry_token_get(r, ctx->account, ctx->region->name, token, &t, &e) < 0) {
                if (e->code == KILN_E_NOT_FOUND)
                        return 0;
                *err = kiln_steal(&e);
                return -1;
        }
        if (strcmp(t.action, action) == 0 && strcmp(t.request_sha256, request_sha256) == 0)
                *ret_existing = kiln_steal(&t.resource_id);
        else
                rc = kiln_error_set(err, KILN_E_INVALID, "IdempotentParameterMismatch",
                                    "The client token '%s' was used by another request (%s)", token,
                                    t.action);
        registry_token_clear(&t);
        return rc;
}

int ctx_token_record(kiln_ctx *ctx, registry *r, const char *token, const char *action,
                     const char *request_sha256, const char *resource_id, kiln_error **err)
{
        registry_token t = {(char *) action, (char *) request_sha256, (char *) resource_id};

        if (!token)
                return 0;
        return registry_token_put(r, ctx->account, ctx->region->name, token, &t, err);
}

int ctx_token_forget(kiln_ctx *ctx, registry *r, const char *token, kiln_error **err)
{
        if (!token)
                return 0;
        return registry_token_delete(r, ctx->account, ctx->region->name, token, err);
}
