/* Image records: the image row, its block device mapping, its launch permissions and tags. */
#include <string.h>

#include "registry/registry-private.h"
#include "util/util.h"

#define IMAGE_COLUMNS                                                                              \
        "id, region, owner, name, description, state, architecture, platform, default_user, "      \
        "boot_mode, root_device_name, creation_date, owner_alias, source_image_id, "               \
        "source_region, source_instance_id, state_reason_code, state_reason_message, "             \
        "hourly_price, ungeneralized, tpm_support, secure_boot, ena_support, rtc"
/* What a read gets besides: whether the image carries UEFI variables (not the bytes). */
#define IMAGE_SELECT IMAGE_COLUMNS ", uefi_data IS NOT NULL"

/* A mapping's snapshot column: "" (an empty volume) is NULL. */
static char *mapping_snapshot(char *id)
{
        if (id && !*id) {
                free(id);
                return NULL;
        }
        return id;
}

int registry_image_insert(registry *r, const kiln_image *img, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "INSERT INTO images (" IMAGE_COLUMNS ", seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, "
                "?24, ?25)",
                err);
        const char *texts[] = {img->image_id,
                               img->region,
                               img->owner_id,
                               img->name,
                               img->description ? img->description : "",
                               img->state,
                               img->architecture,
                               img->platform,
                               img->default_user,
                               img->boot_mode,
                               img->root_device_name,
                               img->creation_date,
                               img->owner_alias,
                               img->source_image_id,
                               img->source_region,
                               img->source_instance_id,
                               img->state_reason_code,
                               img->state_reason_message};

        if (!st)
                return -1;
        for (int i = 0; i < (int) KILN_ARRAY_SIZE(texts); i++)
                if (registry_bind_text(r, st, i + 1, texts[i], err) < 0)
                        return -1;
        sqlite3_bind_double(st, 19, img->hourly_price);
        sqlite3_bind_int(st, 20, img->ungeneralized);
        if (registry_bind_text(r, st, 21, img->tpm_support, err) < 0)
                return -1;
        sqlite3_bind_int(st, 22, img->secure_boot);
        sqlite3_bind_int(st, 23, !img->no_ena);
        if (registry_bind_text(r, st, 24, img->rtc, err) < 0)
                return -1;
        sqlite3_bind_int64(st, 25, registry_next_seq(r, "images"));
        if (sqlite3_step(st) != SQLITE_DONE)
                return registry_fail(r, err, "insert image");
        for (size_t i = 0; i < img->n_mappings; i++) {
                const kiln_block_device_mapping *m = &img->mappings[i];
                kiln_autoptr(sqlite3_stmt) ms = registry_prepare(
                        r,
                        "INSERT INTO image_mappings (image_id, position, device_name, "
                        "snapshot_id, volume_size, delete_on_termination, volume_type) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        err);

                if (!ms || registry_bind_text(r, ms, 1, img->image_id, err) < 0 ||
                    registry_bind_text(r, ms, 3, m->device_name, err) < 0 ||
                    /* An empty volume of the mapping has no snapshot: stored as "". */
                    registry_bind_text(r, ms, 4, m->snapshot_id ? m->snapshot_id : "", err) < 0 ||
                    registry_bind_text(r, ms, 7, m->volume_type ? m->volume_type : "standard",
                                       err) < 0)
                        return -1;
                sqlite3_bind_int64(ms, 2, (sqlite3_int64) i);
                sqlite3_bind_int64(ms, 5, m->volume_size);
                sqlite3_bind_int(ms, 6, m->delete_on_termination);
                if (sqlite3_step(ms) != SQLITE_DONE)
                        return registry_fail(r, err, "insert block device mapping");
        }
        return 0;
}

static void image_from_row(sqlite3_stmt *st, kiln_image *img)
{
        char **fields[] = {&img->image_id,          &img->region,
                           &img->owner_id,          &img->name,
                           &img->description,       &img->state,
                           &img->architecture,      &img->platform,
                           &img->default_user,      &img->boot_mode,
                           &img->root_device_name,  &img->creation_date,
                           &img->owner_alias,       &img->source_image_id,
                           &img->source_region,     &img->source_instance_id,
                           &img->state_reason_code, &img->state_reason_message};

        for (int i = 0; i < (int) KILN_ARRAY_SIZE(fields); i++)
                *fields[i] = registry_col_text(st, i);
        img->hourly_price = sqlite3_column_double(st, 18);
        img->ungeneralized = sqlite3_column_int(st, 19) != 0;
        img->tpm_support = registry_col_text(st, 20);
        img->secure_boot = sqlite3_column_int(st, 21) != 0;
        img->no_ena = sqlite3_column_int(st, 22) == 0;
        img->rtc = registry_col_text(st, 23);
        img->has_uefi_data = sqlite3_column_int(st, 24) != 0;
}

static int image_load_mappings(registry *r, kiln_image *img, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "SELECT device_name, snapshot_id, volume_size, delete_on_termination, "
                "volume_type FROM image_mappings WHERE image_id = ?1 ORDER BY position",
                err);
        int rc;

        if (!st || registry_bind_text(r, st, 1, img->image_id, err) < 0)
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                kiln_block_device_mapping *m;

                img->mappings = kiln_xrealloc(img->mappings,
                                              (img->n_mappings + 1) * sizeof(*img->mappings));
                m = &img->mappings[img->n_mappings++];
                m->device_name = registry_col_text(st, 0);
                m->snapshot_id = mapping_snapshot(registry_col_text(st, 1));
                m->volume_size = sqlite3_column_int64(st, 2);
                m->delete_on_termination = sqlite3_column_int(st, 3) != 0;
                m->volume_type = registry_col_text(st, 4);
        }
        if (rc != SQLITE_DONE)
                return registry_fail(r, err, "read block device mappings");
        return 0;
}

static int image_load_public(registry *r, kiln_image *img, kiln_error **err)
{
        if (registry_perms_get(r, REGISTRY_PERM_LAUNCH, img->image_id, &img->launch_permissions,
                               &img->n_launch_permissions, err) < 0)
                return -1;
        for (size_t i = 0; i < img->n_launch_permissions; i++)
                if (img->launch_permissions[i].kind == KILN_PERM_ALL)
                        img->is_public = true;
        return 0;
}

static int image_complete(registry *r, kiln_image *img, kiln_error **err)
{
        if (image_load_mappings(r, img, err) < 0 || image_load_public(r, img, err) < 0)
                return -1;
        return registry_tags_get(r, img->image_id, &img->tags, &img->n_tags, err);
}

int registry_image_get(registry *r, const char *id, kiln_image *ret, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st =
                registry_prepare(r, "SELECT " IMAGE_SELECT " FROM images WHERE id = ?1", err);
        kiln_image img = {0};
        int rc;

        if (!st || registry_bind_text(r, st, 1, id, err) < 0)
                return -1;
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return kiln_error_set(err, KILN_E_NOT_FOUND, NULL, "no image '%s'", id);
        if (rc != SQLITE_ROW)
                return registry_fail(r, err, "read image");
        image_from_row(st, &img);
        if (image_complete(r, &img, err) < 0) {
                kiln_image_clear(&img);
                return -1;
        }
        *ret = img;
        return 0;
}

/* Loads mappings, public flags and tags of a whole listing with three queries, in the
 * listing's order (seq), merged in one pass: a per-image query would cost thousands of
 * statements on a large registry. */
#define LIST_WHERE                                                                                 \
        " JOIN images i ON i.id = x.%s WHERE i.region = ?1 AND i.state != 'deregistered' "         \
        "AND (?2 IS NULL OR i.owner = ?2)"

static sqlite3_stmt *list_query(registry *r, const char *select, const char *join_col,
                                const char *extra, const char *order, const char *region,
                                const char *owner, kiln_error **err)
{
        kiln_autofree char *where = kiln_xasprintf(LIST_WHERE, join_col);
        kiln_autofree char *sql = kiln_xasprintf("%s%s%s ORDER BY %s", select, where, extra, order);
        sqlite3_stmt *st = registry_prepare(r, sql, err);

        if (st && (registry_bind_text(r, st, 1, region, err) < 0 ||
                   registry_bind_text(r, st, 2, owner, err) < 0))
                st = registry_stmt_free(st);
        return st;
}

/* Advances *k to the image with this ID (rows come in the images' order). */
static kiln_image *list_find(kiln_image *imgs, size_t n, size_t *k, const char *id)
{
        while (*k < n && strcmp(imgs[*k].image_id, id) != 0)
                (*k)++;
        return *k < n ? &imgs[*k] : NULL;
}

static int images_complete_all(registry *r, const char *region, const char *owner, kiln_image *imgs,
                               size_t n, kiln_error **err)
{
        size_t k = 0;
        int rc;

        {
                kiln_autoptr(sqlite3_stmt) st = list_query(
                        r,
                        "SELECT x.image_id, x.device_name, x.snapshot_id, x.volume_size, "
                        "x.delete_on_termination, x.volume_type FROM image_mappings x",
                        "image_id", "", "i.seq, x.position", region, owner, err);

                if (!st)
                        return -1;
                while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                        kiln_image *img =
                                list_find(imgs, n, &k, (const char *) sqlite3_column_text(st, 0));
                        kiln_block_device_mapping *m;

                        if (!img)
                                break;
                        img->mappings = kiln_xrealloc(
                                img->mappings, (img->n_mappings + 1) * sizeof(*img->mappings));
                        m = &img->mappings[img->n_mappings++];
                        m->device_name = registry_col_text(st, 1);
                        m->snapshot_id = mapping_snapshot(registry_col_text(st, 2));
                        m->volume_size = sqlite3_column_int64(st, 3);
                        m->delete_on_termination = sqlite3_column_int(st, 4) != 0;
                        m->volume_type = registry_col_text(st, 5);
                }
                if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                        return registry_fail(r, err, "list block device mappings");
        }
        k = 0;
        {
                kiln_autoptr(sqlite3_stmt) st = list_query(
                        r, "SELECT x.resource_id, x.kind, x.value FROM launch_permissions x",
                        "resource_id", "", "i.seq, x.kind, x.value", region, owner, err);

                if (!st)
                        return -1;
                while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                        kiln_image *img =
                                list_find(imgs, n, &k, (const char *) sqlite3_column_text(st, 0));
                        kiln_permission *p;

                        if (!img)
                                break;
                        img->launch_permissions =
                                kiln_xrealloc(img->launch_permissions,
                                              (img->n_launch_permissions + 1) * sizeof(*p));
                        p = &img->launch_permissions[img->n_launch_permissions++];
                        p->kind = (kiln_perm_kind) sqlite3_column_int(st, 1);
                        p->value = p->kind == KILN_PERM_ALL ? NULL : registry_col_text(st, 2);
                        if (p->kind == KILN_PERM_ALL)
                                img->is_public = true;
                }
                if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                        return registry_fail(r, err, "list launch permissions");
        }
        k = 0;
        {
                kiln_autoptr(sqlite3_stmt) st =
                        list_query(r, "SELECT x.resource_id, x.key, x.value FROM tags x",
                                   "resource_id", "", "i.seq, x.key", region, owner, err);

                if (!st)
                        return -1;
                while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                        kiln_image *img =
                                list_find(imgs, n, &k, (const char *) sqlite3_column_text(st, 0));

                        if (!img)
                                break;
                        img->tags =
                                kiln_xrealloc(img->tags, (img->n_tags + 1) * sizeof(*img->tags));
                        img->tags[img->n_tags].key = registry_col_text(st, 1);
                        img->tags[img->n_tags].value = registry_col_text(st, 2);
                        img->n_tags++;
                }
                if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                        return registry_fail(r, err, "list tags");
        }
        return 0;
}

int registry_image_list(registry *r, const char *region, const char *owner, kiln_image **ret,
                        size_t *ret_n, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "SELECT " IMAGE_SELECT " FROM images WHERE region = ?1 AND state != "
                "'deregistered' AND (?2 IS NULL OR owner = ?2) ORDER BY seq",
                err);
        kiln_image *imgs = NULL;
        size_t n = 0, cap = 0;
        int rc;

        if (!st || registry_bind_text(r, st, 1, region, err) < 0 ||
            registry_bind_text(r, st, 2, owner, err) < 0)
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        imgs = kiln_xrealloc(imgs, cap * sizeof(*imgs));
                }
                memset(&imgs[n], 0, sizeof(*imgs));
                image_from_row(st, &imgs[n]);
                n++;
        }
        if (rc != SQLITE_DONE) {
                kiln_images_free(imgs, n);
                return registry_fail(r, err, "list images");
        }
        if (images_complete_all(r, region, owner, imgs, n, err) < 0) {
                kiln_images_free(imgs, n);
                return -1;
        }
        *ret = imgs;
        *ret_n = n;
        return 0;
}

int registry_image_find_name(registry *r, const char *region, const char *owner, const char *name,
                             char **ret_id, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "SELECT id FROM images WHERE region = ?1 AND owner = ?2 AND name = ?3 AND state "
                "NOT IN ('deregistered', 'failed')",
                err);
        const char *args[] = {region, owner, name, NULL};
        int rc;

        if (!st || registry_bind_all(r, st, args, err) < 0)
                return -1;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret_id = registry_col_text(st, 0);
        else if (rc == SQLITE_DONE)
                *ret_id = NULL;
        else
                return registry_fail(r, err, "find image name");
        return 0;
}

int registry_image_set_state(registry *r, const char *id, const char *state,
                             const char *reason_code, const char *reason_message, kiln_error **err)
{
        const char *args[] = {id, state, reason_code, reason_message, NULL};

        return registry_exec(r,
                             "UPDATE images SET state = ?2, state_reason_code = ?3, "
                             "state_reason_message = ?4 WHERE id = ?1",
                             args, err);
}

int registry_image_set_description(registry *r, const char *id, const char *description,
                                   kiln_error **err)
{
        const char *args[] = {id, description, NULL};

        return registry_exec(r, "UPDATE images SET description = ?2 WHERE id = ?1", args, err);
}

int registry_image_delete(registry *r, const char *id, kiln_error **err)
{
        const char *args[] = {id, NULL};

        if (registry_exec(r, "DELETE FROM image_mappings WHERE image_id = ?1", args, err) < 0 ||
            registry_exec(r, "DELETE FROM launch_permissions WHERE resource_id = ?1", args, err) <
                    0 ||
            registry_exec(r, "DELETE FROM tags WHERE resource_id = ?1", args, err) < 0)
                return -1;
        return registry_exec(r, "DELETE FROM images WHERE id = ?1", args, err);
}

int registry_image_count_deregistered(registry *r, const char *region, size_t *ret,
                                      kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r, "SELECT COUNT(*) FROM images WHERE region = ?1 AND state = 'deregistered'", err);

        if (!st || registry_bind_text(r, st, 1, region, err) < 0)
                return -1;
        if (sqlite3_step(st) != SQLITE_ROW)
                return registry_fail(r, err, "count deregistered images");
        *ret = (size_t) sqlite3_column_int64(st, 0);
        return 0;
}

int registry_image_purge_deregistered(registry *r, const char *region, kiln_error **err)
{
        static const char *const sql[] = {
                "DELETE FROM image_mappings WHERE image_id IN (SELECT id FROM images WHERE "
                "region = ?1 AND state = 'deregistered')",
                "DELETE FROM launch_permissions WHERE resource_id IN (SELECT id FROM images WHERE "
                "region = ?1 AND state = 'deregistered')",
                "DELETE FROM tags WHERE resource_id IN (SELECT id FROM images WHERE region = ?1 "
                "AND state = 'deregistered')",
                "DELETE FROM images WHERE region = ?1 AND state = 'deregistered'",
        };
        const char *args[] = {region, NULL};

        for (size_t i = 0; i < KILN_ARRAY_SIZE(sql); i++)
                if (registry_exec(r, sql[i], args, err) < 0)
                        return -1;
        return 0;
}

int registry_snapshot_used_by(registry *r, const char *snapshot_id, char **ret_image_id,
                              kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "SELECT i.id FROM image_mappings m JOIN images i ON i.id = m.image_id WHERE "
                "m.snapshot_id = ?1 AND i.state != 'deregistered' ORDER BY i.seq LIMIT 1",
                err);
        int rc;

        if (!st || registry_bind_text(r, st, 1, snapshot_id, err) < 0)
                return -1;
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret_image_id = registry_col_text(st, 0);
        else if (rc == SQLITE_DONE)
                *ret_image_id = NULL;
        else
                return registry_fail(r, err, "find images of a snapshot");
        return 0;
}

int registry_snapshot_users(registry *r, const char *snapshot_id, char ***ret, size_t *ret_n,
                            kiln_error **err)
{
        const char *args[] = {snapshot_id, NULL};

        return registry_query_strv(r,
                                   "SELECT DISTINCT i.id FROM image_mappings m JOIN images i ON "
                                   "i.id = m.image_id WHERE m.snapshot_id = ?1 AND i.state != "
                                   "'deregistered' ORDER BY i.id",
                                   args, ret, ret_n, err);
}

/* ---- permissions ---- */

static const char *perm_table(registry_perm_table t)
{
        return t == REGISTRY_PERM_LAUNCH ? "launch_permissions" : "create_volume_permissions";
}

int registry_perms_get(registry *r, registry_perm_table t, const char *id, kiln_permission **ret,
                       size_t *ret_n, kiln_error **err)
{
        kiln_autofree char *sql = kiln_xasprintf(
                "SELECT kind, value FROM %s WHERE resource_id = ?1 ORDER BY kind, value",
                perm_table(t));
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r, sql, err);
        kiln_permission *p = NULL;
        size_t n = 0;
        int rc;

        if (!st || registry_bind_text(r, st, 1, id, err) < 0)
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                p = kiln_xrealloc(p, (n + 1) * sizeof(*p));
                p[n].kind = (kiln_perm_kind) sqlite3_column_int(st, 0);
                p[n].value = p[n].kind == KILN_PERM_ALL ? NULL : registry_col_text(st, 1);
                n++;
        }
        if (rc != SQLITE_DONE) {
                kiln_permissions_free(p, n);
                return registry_fail(r, err, "read permissions");
        }
        *ret = p;
        *ret_n = n;
        return 0;
}

static int perm_change(registry *r, const char *head, const char *tail, registry_perm_table t,
                       const char *id, const kiln_permission *p, kiln_error **err)
{
        kiln_autofree char *sql = kiln_xasprintf("%s%s%s", head, perm_table(t), tail);
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r, sql, err);

        if (!st || registry_bind_text(r, st, 1, id, err) < 0 ||
            registry_bind_text(r, st, 3, p->kind == KILN_PERM_ALL ? "" : p->value, err) < 0)
                return -1;
        sqlite3_bind_int(st, 2, (int) p->kind);
        return registry_step_done(r, st, err);
}

int registry_perm_add(registry *r, registry_perm_table t, const char *id, const kiln_permission *p,
                      kiln_error **err)
{
        return perm_change(r, "INSERT OR IGNORE INTO ",
                           " (resource_id, kind, value) VALUES (?1, ?2, ?3)", t, id, p, err);
}

int registry_perm_remove(registry *r, registry_perm_table t, const char *id,
                         const kiln_permission *p, kiln_error **err)
{
        return perm_change(r, "DELETE FROM ",
                           " WHERE resource_id = ?1 AND kind = ?2 AND value = ?3", t, id, p, err);
}

int registry_perms_clear(registry *r, registry_perm_table t, const char *id, kiln_error **err)
{
        kiln_autofree char *sql =
                kiln_xasprintf("DELETE FROM %s WHERE resource_id = ?1", perm_table(t));
        const char *args[] = {id, NULL};

        return registry_exec(r, sql, args, err);
}

int registry_image_set_uefi_data(registry *r, const char *id, const void *data, size_t len,
                                 kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st =
                registry_prepare(r, "UPDATE images SET uefi_data = ?2 WHERE id = ?1", err);

        if (!st || registry_bind_text(r, st, 1, id, err) < 0)
                return -1;
        if (data)
                sqlite3_bind_blob64(st, 2, data, len, SQLITE_TRANSIENT);
        else
                sqlite3_bind_null(st, 2);
        if (sqlite3_step(st) != SQLITE_DONE)
                return registry_fail(r, err, "store UEFI variables");
        return 0;
}

int registry_image_uefi_data(registry *r, const char *id, void **ret, size_t *ret_len,
                             kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st =
                registry_prepare(r, "SELECT uefi_data FROM images WHERE id = ?1", err);
        const void *blob;
        size_t n;

        *ret = NULL;
        *ret_len = 0;
        if (!st || registry_bind_text(r, st, 1, id, err) < 0)
                return -1;
        if (sqlite3_step(st) != SQLITE_ROW)
                return registry_fail(r, err, "read UEFI variables");
        blob = sqlite3_column_blob(st, 0);
        n = (size_t) sqlite3_column_bytes(st, 0);
        if (blob && n) {
                *ret = kiln_xmalloc(n);
                memcpy(*ret, blob, n);
                *ret_len = n;
        }
        return 0;
}
