/* Key pair records: the keypairs row (public key, fingerprint, where create wrote the private
 * key) and its tags. The private key itself is never stored. */
#include <string.h>

#include "registry/registry-keypair.h"
#include "registry/registry-private.h"
#include "util/util.h"

#define KEYPAIR_COLUMNS                                                                            \
        "id, name, key_type, fingerprint, public_key, create_time, private_key_path, region, "     \
        "owner"

int registry_keypair_insert(registry *r, const kiln_keypair *kp, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r,
                                                         "INSERT INTO keypairs (" KEYPAIR_COLUMNS
                                                         ", seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                                                         "?7, ?8, ?9, ?10)",
                                                         err);
        const char *texts[] = {kp->key_pair_id,      kp->key_name,   kp->key_type,
                               kp->fingerprint,      kp->public_key, kp->create_time,
                               kp->private_key_path, kp->region,     kp->owner_id};

        if (!st)
                return -1;
        for (int i = 0; i < (int) KILN_ARRAY_SIZE(texts); i++)
                if (registry_bind_text(r, st, i + 1, texts[i], err) < 0)
                        return -1;
        sqlite3_bind_int64(st, 10, registry_next_seq(r, "keypairs"));
        if (sqlite3_step(st) != SQLITE_DONE)
                return registry_fail(r, err, "insert key pair");
        return 0;
}

static void keypair_from_row(sqlite3_stmt *st, kiln_keypair *kp)
{
        char **fields[] = {&kp->key_pair_id,      &kp->key_name,   &kp->key_type,
                           &kp->fingerprint,      &kp->public_key, &kp->create_time,
                           &kp->private_key_path, &kp->region,     &kp->owner_id};

        for (int i = 0; i < (int) KILN_ARRAY_SIZE(fields); i++)
                *fields[i] = registry_col_text(st, i);
}

static int keypair_get_where(registry *r, const char *where, const char *region, const char *owner,
                             const char *key, kiln_keypair *ret, kiln_error **err)
{
        kiln_autofree char *sql = kiln_xasprintf(
                "SELECT " KEYPAIR_COLUMNS " FROM keypairs WHERE region = ?1 AND owner = ?2 AND %s",
                where);
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r, sql, err);
        const char *args[] = {region, owner, key, NULL};
        kiln_keypair kp = {0};
        int rc;

        if (!st || registry_bind_all(r, st, args, err) < 0)
                return -1;
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return kiln_error_set(err, KILN_E_NOT_FOUND, NULL, "no key pair '%s'", key);
        if (rc != SQLITE_ROW)
                return registry_fail(r, err, "read key pair");
        keypair_from_row(st, &kp);
        if (registry_tags_get(r, kp.key_pair_id, &kp.tags, &kp.n_tags, err) < 0) {
                kiln_keypair_clear(&kp);
                return -1;
        }
        *ret = kp;
        return 0;
}

int registry_keypair_get(registry *r, const char *region, const char *owner, const char *name,
                         kiln_keypair *ret, kiln_error **err)
{
        return keypair_get_where(r, "name = ?3", region, owner, name, ret, err);
}

int registry_keypair_get_by_id(registry *r, const char *region, const char *owner, const char *id,
                               kiln_keypair *ret, kiln_error **err)
{
        return keypair_get_where(r, "id = ?3", region, owner, id, ret, err);
}

static int keypairs_load_tags(registry *r, const char *region, const char *owner, kiln_keypair *kps,
                              size_t n, kiln_error **err)
{
        const char *args[] = {region, owner, NULL};
        const char **ids = kiln_xcalloc(n + 1, sizeof(*ids));
        kiln_tag ***tags = kiln_xcalloc(n + 1, sizeof(*tags));
        size_t **n_tags = kiln_xcalloc(n + 1, sizeof(*n_tags));
        int rc;

        for (size_t i = 0; i < n; i++) {
                ids[i] = kps[i].key_pair_id;
                tags[i] = &kps[i].tags;
                n_tags[i] = &kps[i].n_tags;
        }
        rc = registry_tags_merge(r,
                                 "SELECT t.resource_id, t.key, t.value FROM tags t JOIN keypairs k "
                                 "ON k.id = t.resource_id WHERE k.region = ?1 AND k.owner = ?2 "
                                 "ORDER BY k.seq, t.key",
                                 args, ids, tags, n_tags, n, err);
        free(ids);
        free(tags);
        free(n_tags);
        return rc;
}

int registry_keypair_list(registry *r, const char *region, const char *owner, kiln_keypair **ret,
                          size_t *ret_n, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "SELECT " KEYPAIR_COLUMNS " FROM keypairs WHERE region = ?1 AND owner = ?2 "
                "ORDER BY seq",
                err);
        const char *args[] = {region, owner, NULL};
        kiln_keypair *kps = NULL;
        size_t n = 0, cap = 0;
        int rc;

        if (!st || registry_bind_all(r, st, args, err) < 0)
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        kps = kiln_xrealloc(kps, cap * sizeof(*kps));
                }
                memset(&kps[n], 0, sizeof(*kps));
                keypair_from_row(st, &kps[n]);
                n++;
        }
        if (rc != SQLITE_DONE) {
                kiln_keypairs_free(kps, n);
                return registry_fail(r, err, "list key pairs");
        }
        if (keypairs_load_tags(r, region, owner, kps, n, err) < 0) {
                kiln_keypairs_free(kps, n);
                return -1;
        }
        *ret = kps;
        *ret_n = n;
        return 0;
}

int registry_keypair_count(registry *r, const char *region, const char *owner, size_t *ret,
                           kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r, "SELECT COUNT(*) FROM keypairs WHERE region = ?1 AND owner = ?2", err);
        const char *args[] = {region, owner, NULL};

        if (!st || registry_bind_all(r, st, args, err) < 0)
                return -1;
        if (sqlite3_step(st) != SQLITE_ROW)
                return registry_fail(r, err, "count key pairs");
        *ret = (size_t) sqlite3_column_int64(st, 0);
        return 0;
}

int registry_keypair_delete(registry *r, const char *id, kiln_error **err)
{
        const char *args[] = {id, NULL};

        if (registry_exec(r, "DELETE FROM tags WHERE resource_id = ?1", args, err) < 0)
                return -1;
        return registry_exec(r, "DELETE FROM keypairs WHERE id = ?1", args, err);
}
