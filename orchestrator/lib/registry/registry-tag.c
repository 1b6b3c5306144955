/* Tags: one table keyed by resource ID, whatever the kind of resource. The owner and region of
 * a tag are those of its resource, so listing them joins each kind's table. */
#include <string.h>

#include "registry/registry-private.h"
#include "util/util.h"

int registry_tag_set(registry *r, const char *id, const char *key, const char *value,
                     kiln_error **err)
{
        const char *args[] = {id, key, value, NULL};

        return registry_exec(r,
                             "INSERT OR REPLACE INTO tags (resource_id, key, value) "
                             "VALUES (?1, ?2, ?3)",
                             args, err);
}

int registry_tags_get(registry *r, const char *id, kiln_tag **ret, size_t *ret_n, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r, "SELECT key, value FROM tags WHERE resource_id = ?1 ORDER BY key", err);
        kiln_tag *tags = NULL;
        size_t n = 0;
        int rc;

        if (!st || registry_bind_text(r, st, 1, id, err) < 0)
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                tags = kiln_xrealloc(tags, (n + 1) * sizeof(*tags));
                tags[n].key = registry_col_text(st, 0);
                tags[n].value = registry_col_text(st, 1);
                n++;
        }
        if (rc != SQLITE_DONE) {
                kiln_tags_free(tags, n);
                return registry_fail(r, err, "read tags");
        }
        *ret = tags;
        *ret_n = n;
        return 0;
}

int registry_tag_delete(registry *r, const char *id, const char *key, const char *value,
                        kiln_error **err)
{
        const char *args[] = {id, key, value, NULL};

        if (!value)
                return registry_exec(r, "DELETE FROM tags WHERE resource_id = ?1 AND key = ?2",
                                     args, err);
        return registry_exec(r,
                             "DELETE FROM tags WHERE resource_id = ?1 AND key = ?2 AND value = ?3",
                             args, err);
}

int registry_tags_clear(registry *r, const char *id, kiln_error **err)
{
        const char *args[] = {id, NULL};

        return registry_exec(r, "DELETE FROM tags WHERE resource_id = ?1", args, err);
}

/* Each kind of resource with its table and the states in which it no longer exists. */
#define TAGS_OF(kind, table, gone)                                                                 \
        "SELECT t.resource_id, '" kind "', t.key, t.value FROM tags t JOIN " table                 \
        " x ON x.id = t.resource_id WHERE x.region = ?1 AND x.owner = ?2" gone

int registry_tags_owned(registry *r, const char *region, const char *owner,
                        kiln_tag_description **ret, size_t *ret_n, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st =
                registry_prepare(
                        r,
                        TAGS_OF("image", "images", " AND x.state NOT IN ('deregistered', 'failed')") " UNION ALL " TAGS_OF("snapshot", "snapshots", " AND x.state != 'deleted'") " UNION ALL " TAGS_OF(
                                "instance", "instances",
                                "") " UNION ALL " TAGS_OF("volume", "volumes",
                                                          " AND x.state != 'deleted'") " UNION "
                                                                                       "ALL"
                                                                                       " " TAGS_OF(
                                                                                               "key"
                                                                                               "-pa"
                                                                                               "ir",
                                                                                               "key"
                                                                                               "pai"
                                                                                               "rs",
                                                                                               "") " ORDER BY 1, 3",
                        err);
        kiln_tag_description *d = NULL;
        size_t n = 0;
        int rc;

        if (!st || registry_bind_text(r, st, 1, region, err) < 0 ||
            registry_bind_text(r, st, 2, owner, err) < 0)
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                d = kiln_xrealloc(d, (n + 1) * sizeof(*d));
                d[n].resource_id = registry_col_text(st, 0);
                d[n].resource_type = registry_col_text(st, 1);
                d[n].key = registry_col_text(st, 2);
                d[n].value = registry_col_text(st, 3);
                n++;
        }
        if (rc != SQLITE_DONE) {
                kiln_tag_descriptions_free(d, n);
                return registry_fail(r, err, "list tags");
        }
        *ret = d;
        *ret_n = n;
        return 0;
}

int registry_resource_locate(registry *r, const char *id, char **ret_region, char **ret_owner,
                             char **ret_state, kiln_error **err)
{
        static const struct {
                const char *prefix, *sql;
        } kinds[] = {
                {"ami-", "SELECT region, owner, state FROM images WHERE id = ?1"},
                {"snap-", "SELECT region, owner, state FROM snapshots WHERE id = ?1"},
                {"i-", "SELECT region, owner, state FROM instances WHERE id = ?1"},
                {"vol-", "SELECT region, owner, state FROM volumes WHERE id = ?1"},
                {"key-", "SELECT region, owner, 'available' FROM keypairs WHERE id = ?1"},
        };

        for (size_t i = 0; i < KILN_ARRAY_SIZE(kinds); i++) {
                kiln_autoptr(sqlite3_stmt) st = NULL;
                int rc;

                if (strncmp(id, kinds[i].prefix, strlen(kinds[i].prefix)) != 0)
                        continue;
                st = registry_prepare(r, kinds[i].sql, err);
                if (!st || registry_bind_text(r, st, 1, id, err) < 0)
                        return -1;
                rc = sqlite3_step(st);
                if (rc == SQLITE_DONE)
                        break;
                if (rc != SQLITE_ROW)
                        return registry_fail(r, err, "find resource");
                *ret_region = registry_col_text(st, 0);
                *ret_owner = registry_col_text(st, 1);
                *ret_state = registry_col_text(st, 2);
                return 0;
        }
        return kiln_error_set(err, KILN_E_NOT_FOUND, NULL, "no resource '%s'", id);
}

int registry_tags_copy(registry *r, const char *from_id, const char *to_id, kiln_error **err)
{
        kiln_tag *tags = NULL;
        size_t n = 0;
        int rc = 0;

        if (registry_tags_get(r, from_id, &tags, &n, err) < 0)
                return -1;
        for (size_t i = 0; rc == 0 && i < n; i++)
                rc = registry_tag_set(r, to_id, tags[i].key, tags[i].value, err);
        kiln_tags_free(tags, n);
        return rc;
}

int registry_tags_merge(registry *r, const char *sql, const char *const *args,
                        const char *const *ids, kiln_tag **const *tags, size_t *const *n_tags,
                        size_t n, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r, sql, err);
        size_t k = 0;
        int rc;

        if (!st || registry_bind_all(r, st, args, err) < 0)
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *id = (const char *) sqlite3_column_text(st, 0);
                size_t m;

                while (k < n && strcmp(ids[k], id) != 0)
                        k++;
                if (k == n)
                        break;
                m = *n_tags[k];
                *tags[k] = kiln_xrealloc(*tags[k], (m + 1) * sizeof(**tags[k]));
                (*tags[k])[m].key = registry_col_text(st, 1);
                (*tags[k])[m].value = registry_col_text(st, 2);
                *n_tags[k] = m + 1;
        }
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                return registry_fail(r, err, "list tags");
        return 0;
}
