/* Access key records. The secret is a column of the row: SigV4 needs it in the clear to
 * recompute a request's signature, so the registry file's mode (0600 in a 0700 home) is what
 * keeps it. */
#include <string.h>

#include "registry/registry-access.h"
#include "registry/registry-private.h"
#include "util/util.h"

int registry_access_key_insert(registry *r, const kiln_access_key *k, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "INSERT INTO access_keys (id, account, secret, status, create_date, seq) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                err);
        const char *texts[] = {k->access_key_id, k->account_id, k->secret, k->status,
                               k->create_date};

        if (!st)
                return -1;
        for (int i = 0; i < (int) KILN_ARRAY_SIZE(texts); i++)
                if (registry_bind_text(r, st, i + 1, texts[i], err) < 0)
                        return -1;
        sqlite3_bind_int64(st, 6, registry_next_seq(r, "access_keys"));
        if (sqlite3_step(st) != SQLITE_DONE)
                return registry_fail(r, err, "insert access key");
        return 0;
}

static void key_from_row(sqlite3_stmt *st, kiln_access_key *k, bool with_secret)
{
        k->access_key_id = registry_col_text(st, 0);
        k->account_id = registry_col_text(st, 1);
        k->status = registry_col_text(st, 2);
        k->create_date = registry_col_text(st, 3);
        k->secret = with_secret ? registry_col_text(st, 4) : NULL;
}

int registry_access_key_get(registry *r, const char *id, kiln_access_key *ret, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r, "SELECT id, account, status, create_date, secret FROM access_keys WHERE id = ?1",
                err);
        int rc;

        if (!st || registry_bind_text(r, st, 1, id, err) < 0)
                return -1;
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return kiln_error_set(err, KILN_E_NOT_FOUND, NULL, "no access key '%s'", id);
        if (rc != SQLITE_ROW)
                return registry_fail(r, err, "read access key");
        key_from_row(st, ret, true);
        return 0;
}

int registry_access_key_list(registry *r, const char *account, kiln_access_key **ret, size_t *ret_n,
                             kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st =
                registry_prepare(r,
                                 "SELECT id, account, status, create_date FROM access_keys "
                                 "WHERE ?1 IS NULL OR account = ?1 ORDER BY seq",
                                 err);
        kiln_access_key *list = NULL;
        size_t n = 0;
        int rc;

        if (!st || (account && registry_bind_text(r, st, 1, account, err) < 0))
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                list = kiln_xrealloc(list, (n + 1) * sizeof(*list));
                memset(&list[n], 0, sizeof(*list));
                key_from_row(st, &list[n++], false);
        }
        if (rc != SQLITE_DONE) {
                kiln_access_keys_free(list, n);
                return registry_fail(r, err, "list access keys");
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int registry_access_key_delete(registry *r, const char *id, kiln_error **err)
{
        const char *args[] = {id, NULL};

        return registry_exec(r, "DELETE FROM access_keys WHERE id = ?1", args, err);
}
