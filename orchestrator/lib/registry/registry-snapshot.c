/* Snapshot records: one qcow2 layer each, with its parent, its volume in the pool, the
 * identity of its content (kept across copies, so that a layer is never sent twice) and its
 * createVolumePermission. */
#include <string.h>

#include "registry/registry-private.h"
#include "util/util.h"

#define SNAPSHOT_COLUMNS                                                                           \
        "id, region, owner, parent_id, description, state, start_time, volume_id, "                \
        "volume_size, volume, layer_id, virtual_size, worker_pid, ungeneralized"

void registry_snapshot_clear(registry_snapshot *s)
{
        if (!s)
                return;
        kiln_snapshot_clear(&s->s);
        free(s->volume);
        free(s->layer_id);
        memset(s, 0, sizeof(*s));
}

void registry_snapshots_free(registry_snapshot *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                registry_snapshot_clear(&s[i]);
        free(s);
}

int registry_snapshot_insert(registry *r, const registry_snapshot *s, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r,
                                                         "INSERT INTO snapshots (" SNAPSHOT_COLUMNS
                                                         ", seq) VALUES (?1, ?2, ?3, ?4, ?5, "
                                                         "?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                                                         "?14, ?15)",
                                                         err);
        const char *texts[] = {s->s.snapshot_id,
                               s->s.region,
                               s->s.owner_id,
                               s->s.parent_id,
                               s->s.description ? s->s.description : "",
                               s->s.state,
                               s->s.start_time,
                               s->s.volume_id};

        if (!st)
                return -1;
        for (int i = 0; i < (int) KILN_ARRAY_SIZE(texts); i++)
                if (registry_bind_text(r, st, i + 1, texts[i], err) < 0)
                        return -1;
        sqlite3_bind_int64(st, 9, s->s.volume_size);
        if (registry_bind_text(r, st, 10, s->volume, err) < 0 ||
            registry_bind_text(r, st, 11, s->layer_id, err) < 0)
                return -1;
        sqlite3_bind_int64(st, 12, s->virtual_size);
        sqlite3_bind_int64(st, 13, s->worker_pid);
        sqlite3_bind_int(st, 14, s->ungeneralized);
        sqlite3_bind_int64(st, 15, registry_next_seq(r, "snapshots"));
        if (sqlite3_step(st) != SQLITE_DONE)
                return registry_fail(r, err, "insert snapshot");
        return 0;
}

static void snapshot_from_row(sqlite3_stmt *st, registry_snapshot *s)
{
        s->s.snapshot_id = registry_col_text(st, 0);
        s->s.region = registry_col_text(st, 1);
        s->s.owner_id = registry_col_text(st, 2);
        s->s.parent_id = registry_col_text(st, 3);
        s->s.description = registry_col_text(st, 4);
        s->s.state = registry_col_text(st, 5);
        s->s.start_time = registry_col_text(st, 6);
        s->s.volume_id = registry_col_text(st, 7);
        s->s.volume_size = sqlite3_column_int64(st, 8);
        s->volume = registry_col_text(st, 9);
        s->layer_id = registry_col_text(st, 10);
        s->virtual_size = sqlite3_column_int64(st, 11);
        s->worker_pid = (pid_t) sqlite3_column_int64(st, 12);
        s->ungeneralized = sqlite3_column_int(st, 13) != 0;
}

static int snapshot_query_one(registry *r, const char *sql, const char *const *args,
                              registry_snapshot *ret, const char *what, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r, sql, err);
        registry_snapshot s = {0};
        int rc;

        if (!st || registry_bind_all(r, st, args, err) < 0)
                return -1;
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return kiln_error_set(err, KILN_E_NOT_FOUND, NULL, "no %s", what);
        if (rc != SQLITE_ROW)
                return registry_fail(r, err, "read snapshot");
        snapshot_from_row(st, &s);
        if (registry_tags_get(r, s.s.snapshot_id, &s.s.tags, &s.s.n_tags, err) < 0) {
                registry_snapshot_clear(&s);
                return -1;
        }
        *ret = s;
        return 0;
}

int registry_snapshot_get(registry *r, const char *id, registry_snapshot *ret, kiln_error **err)
{
        const char *args[] = {id, NULL};

        return snapshot_query_one(r, "SELECT " SNAPSHOT_COLUMNS " FROM snapshots WHERE id = ?1",
                                  args, ret, "snapshot", err);
}

int registry_snapshot_find_layer(registry *r, const char *region, const char *layer_id,
                                 registry_snapshot *ret, kiln_error **err)
{
        const char *args[] = {region, layer_id, NULL};

        return snapshot_query_one(r,
                                  "SELECT " SNAPSHOT_COLUMNS " FROM snapshots WHERE region = ?1 "
                                  "AND layer_id = ?2 AND state IN ('completed', 'deleted') "
                                  "ORDER BY seq LIMIT 1",
                                  args, ret, "layer", err);
}

int registry_snapshot_list(registry *r, const char *region, registry_snapshot **ret, size_t *ret_n,
                           kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r, "SELECT " SNAPSHOT_COLUMNS " FROM snapshots WHERE region = ?1 ORDER BY seq",
                err);
        registry_snapshot *list = NULL;
        size_t n = 0;
        int rc;

        if (!st || registry_bind_text(r, st, 1, region, err) < 0)
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                list = kiln_xrealloc(list, (n + 1) * sizeof(*list));
                memset(&list[n], 0, sizeof(*list));
                snapshot_from_row(st, &list[n]);
                n++;
        }
        if (rc != SQLITE_DONE) {
                registry_snapshots_free(list, n);
                return registry_fail(r, err, "list snapshots");
        }
        for (size_t i = 0; i < n; i++)
                if (registry_tags_get(r, list[i].s.snapshot_id, &list[i].s.tags, &list[i].s.n_tags,
                                      err) < 0) {
                        registry_snapshots_free(list, n);
                        return -1;
                }
        *ret = list;
        *ret_n = n;
        return 0;
}

int registry_snapshot_set_state(registry *r, const char *id, const char *state, kiln_error **err)
{
        const char *args[] = {id, state, NULL};

        return registry_exec(r, "UPDATE snapshots SET state = ?2, worker_pid = 0 WHERE id = ?1",
                             args, err);
}

int registry_snapshot_delete(registry *r, const char *id, kiln_error **err)
{
        const char *args[] = {id, NULL};

        if (registry_exec(r, "DELETE FROM create_volume_permissions WHERE resource_id = ?1", args,
                          err) < 0 ||
            registry_exec(r, "DELETE FROM tags WHERE resource_id = ?1", args, err) < 0)
                return -1;
        if (registry_exec(r, "DELETE FROM snapshot_hosts WHERE snapshot_id = ?1", args, err) < 0)
                return -1;
        return registry_exec(r, "DELETE FROM snapshots WHERE id = ?1", args, err);
}

int registry_snapshot_hosts(registry *r, const char *id, char ***ret, size_t *ret_n,
                            kiln_error **err)
{
        const char *args[] = {id, NULL};

        return registry_query_strv(
                r, "SELECT host_id FROM snapshot_hosts WHERE snapshot_id = ?1 ORDER BY host_id",
                args, ret, ret_n, err);
}

int registry_snapshot_host_add(registry *r, const char *id, const char *host_id, kiln_error **err)
{
        const char *args[] = {id, host_id, NULL};

        return registry_exec(r,
                             "INSERT OR IGNORE INTO snapshot_hosts (snapshot_id, host_id) "
                             "VALUES (?1, ?2)",
                             args, err);
}

int registry_snapshot_children(registry *r, const char *id, int *ret, kiln_error **err)
{
        /* Layers above it, and instance volumes made on it. */
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "SELECT (SELECT COUNT(*) FROM snapshots WHERE parent_id = ?1) + (SELECT COUNT(*) "
                "FROM volumes WHERE snapshot_id = ?1 AND state != 'deleted')",
                err);

        if (!st || registry_bind_text(r, st, 1, id, err) < 0)
                return -1;
        if (sqlite3_step(st) != SQLITE_ROW)
                return registry_fail(r, err, "count child snapshots");
        *ret = sqlite3_column_int(st, 0);
        return 0;
}
