/* Idempotency tokens (EC2's ClientToken): which resource a request with a token made, and a
 * digest of the request, per owner and region. */
#include <string.h>

#include "registry/registry-private.h"
#include "registry/registry.h"
#include "util/util.h"

int registry_token_get(registry *r, const char *owner, const char *region, const char *token,
                       registry_token *ret, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st =
                registry_prepare(r,
                                 "SELECT action, request_sha256, resource_id FROM client_tokens "
                                 "WHERE owner = ?1 AND region = ?2 AND token = ?3",
                                 err);
        const char *args[] = {owner, region, token, NULL};
        int rc;

        if (!st || registry_bind_all(r, st, args, err) < 0)
                return -1;
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return kiln_error_set(err, KILN_E_NOT_FOUND, NULL, "no client token '%s'", token);
        if (rc != SQLITE_ROW)
                return registry_fail(r, err, "read client token");
        ret->action = registry_col_text(st, 0);
        ret->request_sha256 = registry_col_text(st, 1);
        ret->resource_id = registry_col_text(st, 2);
        return 0;
}

int registry_token_put(registry *r, const char *owner, const char *region, const char *token,
                       const registry_token *t, kiln_error **err)
{
        kiln_autofree char *now = kiln_time_now_iso();
        const char *args[] = {owner,          region, token, t->action, t->request_sha256,
                              t->resource_id, now,    NULL};

        return registry_exec(r,
                             "INSERT INTO client_tokens (owner, region, token, action, "
                             "request_sha256, resource_id, create_time) "
                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                             args, err);
}

int registry_token_delete(registry *r, const char *owner, const char *region, const char *token,
                          kiln_error **err)
{
        const char *args[] = {owner, region, token, NULL};

        return registry_exec(r,
                             "DELETE FROM client_tokens WHERE owner = ?1 AND region = ?2 AND "
                             "token = ?3",
                             args, err);
}

void registry_token_clear(registry_token *t)
{
        free(t->action);
        free(t->request_sha256);
        free(t->resource_id);
        memset(t, 0, sizeof(*t));
}
