/* Instance and volume records. A live instance's (host, port) is unique, so parallel launches
 * cannot forward the same port. */
#include <string.h>

#include "registry/registry-instance.h"
#include "registry/registry-private.h"
#include "registry/registry-secgroup.h"
#include "util/util.h"

#define INSTANCE_COLUMNS                                                                           \
        "id, reservation_id, region, owner, image_id, instance_type, key_name, state, "            \
        "state_reason_code, state_reason_message, transition_reason, launch_time, platform, "      \
        "default_user, architecture, boot_mode, root_device_name, network, host, host_key, "       \
        "accel, launch_index, port, client_token, disable_api_termination, disable_api_stop"
/* What a read gets besides the columns an insert writes in that order. */
#define INSTANCE_SELECT                                                                            \
        INSTANCE_COLUMNS ", status, tpm_support, secure_boot, nvram_volume, ena_support, rtc, "    \
                         "host_id"

int registry_instance_state_code(const char *state)
{
        static const struct {
                const char *name;
                int code;
        } codes[] = {{"pending", 0},     {"running", 16},  {"shutting-down", 32},
                     {"terminated", 48}, {"stopping", 64}, {"stopped", 80}};

        for (size_t i = 0; i < KILN_ARRAY_SIZE(codes); i++)
                if (strcmp(codes[i].name, state) == 0)
                        return codes[i].code;
        return 0;
}

static int constraint_or_fail(registry *r, kiln_error **err, const char *what)
{
        if ((sqlite3_extended_errcode(r->db) & 0xff) == SQLITE_CONSTRAINT)
                return kiln_error_set(err, KILN_E_EXISTS, NULL, "%s: %s", what,
                                      sqlite3_errmsg(r->db));
        return registry_fail(r, err, what);
}

int registry_instance_insert(registry *r, const kiln_instance *inst, const char *domain,
                             const char *seed_volume, pid_t worker_pid, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "INSERT INTO instances (" INSTANCE_COLUMNS ", domain, seed_volume, worker_pid, "
                "seq, tpm_support, secure_boot, nvram_volume, ena_support, rtc, host_id) VALUES "
                "(?1, "
                "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
                "?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, "
                "?36)",
                err);
        const char *texts[] = {inst->instance_id,
                               inst->reservation_id,
                               inst->region,
                               inst->owner_id,
                               inst->image_id,
                               inst->instance_type,
                               inst->key_name,
                               inst->state,
                               inst->state_reason_code,
                               inst->state_reason_message,
                               inst->transition_reason,
                               inst->launch_time,
                               inst->platform,
                               inst->default_user,
                               inst->architecture,
                               inst->boot_mode,
                               inst->root_device_name,
                               inst->network,
                               inst->host,
                               inst->host_key,
                               inst->accel};

        if (!st)
                return -1;
        for (int i = 0; i < (int) KILN_ARRAY_SIZE(texts); i++)
                if (registry_bind_text(r, st, i + 1, texts[i], err) < 0)
                        return -1;
        sqlite3_bind_int(st, 22, inst->launch_index);
        if (inst->port > 0)
                sqlite3_bind_int(st, 23, inst->port);
        else
                sqlite3_bind_null(st, 23);
        if (registry_bind_text(r, st, 24, inst->client_token, err) < 0)
                return -1;
        sqlite3_bind_int(st, 25, inst->disable_api_termination);
        sqlite3_bind_int(st, 26, inst->disable_api_stop);
        if (registry_bind_text(r, st, 27, domain, err) < 0 ||
            registry_bind_text(r, st, 28, seed_volume, err) < 0)
                return -1;
        sqlite3_bind_int64(st, 29, worker_pid);
        sqlite3_bind_int64(st, 30, registry_next_seq(r, "instances"));
        if (registry_bind_text(r, st, 31, inst->tpm_support, err) < 0 ||
            registry_bind_text(r, st, 33, inst->nvram_volume, err) < 0)
                return -1;
        sqlite3_bind_int(st, 32, inst->secure_boot);
        sqlite3_bind_int(st, 34, !inst->no_ena);
        if (registry_bind_text(r, st, 35, inst->rtc, err) < 0 ||
            registry_bind_text(r, st, 36, inst->host_id, err) < 0)
                return -1;
        if (sqlite3_step(st) != SQLITE_DONE)
                return constraint_or_fail(r, err, "insert instance");
        return 0;
}

int registry_volume_insert(registry *r, const registry_volume *v, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "INSERT INTO volumes (id, region, owner, instance_id, device_name, snapshot_id, "
                "volume, state, create_time, volume_type, attach_time, size, "
                "delete_on_termination, seq, position, origin_snapshot_id, host_id) VALUES (?1, "
                "?2, "
                "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
                err);
        const char *texts[] = {v->volume_id,
                               v->region,
                               v->owner_id,
                               v->instance_id,
                               v->device_name ? v->device_name : "",
                               v->snapshot_id,
                               v->volume,
                               v->state,
                               v->create_time,
                               v->volume_type ? v->volume_type : "standard",
                               v->attach_time};

        if (!st)
                return -1;
        for (int i = 0; i < (int) KILN_ARRAY_SIZE(texts); i++)
                if (registry_bind_text(r, st, i + 1, texts[i], err) < 0)
                        return -1;
        sqlite3_bind_int64(st, 12, v->size);
        sqlite3_bind_int(st, 13, v->delete_on_termination);
        sqlite3_bind_int64(st, 14, registry_next_seq(r, "volumes"));
        sqlite3_bind_int(st, 15, v->position);
        if (registry_bind_text(r, st, 16,
                               v->origin_snapshot_id ? v->origin_snapshot_id : v->snapshot_id,
                               err) < 0 ||
            registry_bind_text(r, st, 17, v->host_id, err) < 0)
                return -1;
        if (sqlite3_step(st) != SQLITE_DONE)
                return registry_fail(r, err, "insert volume");
        return 0;
}

static void volume_from_row(sqlite3_stmt *st, registry_volume *v)
{
        v->volume_id = registry_col_text(st, 0);
        v->region = registry_col_text(st, 1);
        v->owner_id = registry_col_text(st, 2);
        v->instance_id = registry_col_text(st, 3);
        v->device_name = registry_col_text(st, 4);
        v->snapshot_id = registry_col_text(st, 5);
        v->volume = registry_col_text(st, 6);
        v->state = registry_col_text(st, 7);
        v->create_time = registry_col_text(st, 8);
        v->size = sqlite3_column_int64(st, 9);
        v->delete_on_termination = sqlite3_column_int(st, 10) != 0;
        v->volume_type = registry_col_text(st, 11);
        v->attach_time = registry_col_text(st, 12);
        v->position = sqlite3_column_int(st, 13);
        v->origin_snapshot_id = registry_col_text(st, 14);
        v->host_id = registry_col_text(st, 15);
}

void registry_volume_clear(registry_volume *v)
{
        char **f[] = {&v->volume_id,   &v->region,      &v->owner_id,    &v->instance_id,
                      &v->device_name, &v->snapshot_id, &v->volume,      &v->state,
                      &v->create_time, &v->volume_type, &v->attach_time, &v->origin_snapshot_id,
                      &v->host_id};

        for (size_t i = 0; i < KILN_ARRAY_SIZE(f); i++)
                free(*f[i]);
        memset(v, 0, sizeof(*v));
}

void registry_volumes_free(registry_volume *v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                registry_volume_clear(&v[i]);
        free(v);
}

static int volume_query(registry *r, const char *where, const char *arg, registry_volume **ret,
                        size_t *ret_n, kiln_error **err)
{
        kiln_autofree char *sql = kiln_xasprintf(
                "SELECT id, region, owner, instance_id, device_name, snapshot_id, volume, state, "
                "create_time, size, delete_on_termination, volume_type, attach_time, position, "
                "origin_snapshot_id, host_id FROM volumes WHERE %s ORDER BY position, seq",
                where);
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r, sql, err);
        registry_volume *v = NULL;
        size_t n = 0;
        int rc;

        if (!st || registry_bind_text(r, st, 1, arg, err) < 0)
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                v = kiln_xrealloc(v, (n + 1) * sizeof(*v));
                memset(&v[n], 0, sizeof(*v));
                volume_from_row(st, &v[n++]);
        }
        if (rc != SQLITE_DONE) {
                registry_volumes_free(v, n);
                return registry_fail(r, err, "read volumes");
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int registry_volumes_of(registry *r, const char *instance_id, registry_volume **ret, size_t *ret_n,
                        kiln_error **err)
{
        return volume_query(r, "instance_id = ?1", instance_id, ret, ret_n, err);
}

int registry_volume_list(registry *r, const char *region, registry_volume **ret, size_t *ret_n,
                         kiln_error **err)
{
        return volume_query(r, "region = ?1", region, ret, ret_n, err);
}

static void instance_from_row(sqlite3_stmt *st, kiln_instance *inst)
{
        char **f[] = {&inst->instance_id,
                      &inst->reservation_id,
                      &inst->region,
                      &inst->owner_id,
                      &inst->image_id,
                      &inst->instance_type,
                      &inst->key_name,
                      &inst->state,
                      &inst->state_reason_code,
                      &inst->state_reason_message,
                      &inst->transition_reason,
                      &inst->launch_time,
                      &inst->platform,
                      &inst->default_user,
                      &inst->architecture,
                      &inst->boot_mode,
                      &inst->root_device_name,
                      &inst->network,
                      &inst->host,
                      &inst->host_key,
                      &inst->accel};

        for (int i = 0; i < (int) KILN_ARRAY_SIZE(f); i++)
                *f[i] = registry_col_text(st, i);
        inst->launch_index = sqlite3_column_int(st, 21);
        inst->port = sqlite3_column_int(st, 22);
        inst->client_token = registry_col_text(st, 23);
        inst->disable_api_termination = sqlite3_column_int(st, 24) != 0;
        inst->disable_api_stop = sqlite3_column_int(st, 25) != 0;
        inst->status = registry_col_text(st, 26);
        inst->tpm_support = registry_col_text(st, 27);
        inst->secure_boot = sqlite3_column_int(st, 28) != 0;
        inst->nvram_volume = registry_col_text(st, 29);
        inst->no_ena = sqlite3_column_int(st, 30) == 0;
        inst->rtc = registry_col_text(st, 31);
        inst->host_id = registry_col_text(st, 32);
        inst->state_code = registry_instance_state_code(inst->state);
}

/* The instance's volumes and tags. */
static int instance_complete(registry *r, kiln_instance *inst, kiln_error **err)
{
        registry_volume *v = NULL;
        size_t n = 0;

        if (registry_volumes_of(r, inst->instance_id, &v, &n, err) < 0)
                return -1;
        inst->volumes = kiln_xcalloc(n + 1, sizeof(*inst->volumes));
        for (size_t i = 0; i < n; i++) {
                kiln_instance_volume *iv = &inst->volumes[inst->n_volumes++];

                iv->volume_id = kiln_steal(&v[i].volume_id);
                iv->device_name = kiln_steal(&v[i].device_name);
                iv->snapshot_id = kiln_steal(&v[i].snapshot_id);
                iv->attach_time = kiln_steal(&v[i].attach_time);
                iv->file = kiln_steal(&v[i].volume);
                iv->size = v[i].size;
                iv->delete_on_termination = v[i].delete_on_termination;
        }
        registry_volumes_free(v, n);
        if (registry_sg_of_instance(r, inst->instance_id, &inst->groups, &inst->n_groups, err) <
                    0 ||
            registry_forwards_get(r, inst->instance_id, &inst->forwards, &inst->n_forwards, err) <
                    0)
                return -1;
        return registry_tags_get(r, inst->instance_id, &inst->tags, &inst->n_tags, err);
}

/* Runs a SELECT of columns FROM instances WHERE id = ?1: the statement on the instance's row,
 * or NULL with KILN_E_NOT_FOUND when there is none (what names the read in other errors). */
static sqlite3_stmt *instance_row(registry *r, const char *columns, const char *id,
                                  const char *what, kiln_error **err)
{
        kiln_autofree char *sql = kiln_xasprintf("SELECT %s FROM instances WHERE id = ?1", columns);
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r, sql, err);
        int rc;

        if (!st || registry_bind_text(r, st, 1, id, err) < 0)
                return NULL;
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE) {
                kiln_error_set(err, KILN_E_NOT_FOUND, NULL, "no instance '%s'", id);
                return NULL;
        }
        if (rc != SQLITE_ROW) {
                registry_fail(r, err, what);
                return NULL;
        }
        return kiln_steal(&st);
}

int registry_instance_get(registry *r, const char *id, kiln_instance *ret, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = instance_row(r, INSTANCE_SELECT, id, "read instance", err);
        kiln_instance inst = {0};

        if (!st)
                return -1;
        instance_from_row(st, &inst);
        if (instance_complete(r, &inst, err) < 0) {
                kiln_instance_clear(&inst);
                return -1;
        }
        *ret = inst;
        return 0;
}

int registry_instance_list(registry *r, const char *region, const char *owner, kiln_instance **ret,
                           size_t *ret_n, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st =
                registry_prepare(r,
                                 "SELECT " INSTANCE_SELECT " FROM instances "
                                 "WHERE region = ?1 AND (?2 IS NULL OR "
                                 "owner = ?2) ORDER BY seq",
                                 err);
        kiln_instance *list = NULL;
        size_t n = 0;
        int rc;

        if (!st || registry_bind_text(r, st, 1, region, err) < 0 ||
            registry_bind_text(r, st, 2, owner, err) < 0)
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                list = kiln_xrealloc(list, (n + 1) * sizeof(*list));
                memset(&list[n], 0, sizeof(*list));
                instance_from_row(st, &list[n++]);
        }
        if (rc != SQLITE_DONE) {
                kiln_instances_free(list, n);
                return registry_fail(r, err, "list instances");
        }
        for (size_t i = 0; i < n; i++)
                if (instance_complete(r, &list[i], err) < 0) {
                        kiln_instances_free(list, n);
                        return -1;
                }
        *ret = list;
        *ret_n = n;
        return 0;
}

int registry_instance_private(registry *r, const char *id, char **ret_domain, char **ret_seed,
                              pid_t *ret_worker, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st =
                instance_row(r, "domain, seed_volume, worker_pid", id, "read instance", err);

        if (!st)
                return -1;
        if (ret_domain)
                *ret_domain = registry_col_text(st, 0);
        if (ret_seed)
                *ret_seed = registry_col_text(st, 1);
        if (ret_worker)
                *ret_worker = (pid_t) sqlite3_column_int64(st, 2);
        return 0;
}

int registry_instance_set_state(registry *r, const char *id, const char *state,
                                const char *reason_code, const char *reason_message,
                                const char *transition_reason, kiln_error **err)
{
        const char *args[] = {id, state, reason_code, reason_message, transition_reason, NULL};

        return registry_exec(r,
                             "UPDATE instances SET state = ?2, state_reason_code = ?3, "
                             "state_reason_message = ?4, transition_reason = ?5 WHERE id = ?1",
                             args, err);
}

int registry_instance_set_port(registry *r, const char *id, int port, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st =
                registry_prepare(r, "UPDATE instances SET port = ?2 WHERE id = ?1", err);

        if (!st || registry_bind_text(r, st, 1, id, err) < 0)
                return -1;
        sqlite3_bind_int(st, 2, port);
        if (sqlite3_step(st) != SQLITE_DONE)
                return constraint_or_fail(r, err, "set instance port");
        return 0;
}

int registry_instance_set_host(registry *r, const char *id, const char *host, kiln_error **err)
{
        const char *args[] = {id, host, NULL};

        if (!host)
                return registry_exec(r, "UPDATE instances SET host = NULL WHERE id = ?1", args,
                                     err);
        return registry_exec(r, "UPDATE instances SET host = ?2 WHERE id = ?1", args, err);
}

int registry_instance_set_status(registry *r, const char *id, const char *status, kiln_error **err)
{
        kiln_autofree char *now = kiln_time_now_iso();
        const char *args[] = {id, status, now, NULL};

        return registry_exec(r, "UPDATE instances SET status = ?2, status_time = ?3 WHERE id = ?1",
                             args, err);
}

int registry_instance_set_worker(registry *r, const char *id, pid_t pid, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st =
                registry_prepare(r, "UPDATE instances SET worker_pid = ?2 WHERE id = ?1", err);

        if (!st || registry_bind_text(r, st, 1, id, err) < 0)
                return -1;
        sqlite3_bind_int64(st, 2, pid);
        return registry_step_done(r, st, err);
}

int registry_instance_set_seed(registry *r, const char *id, const void *user_data, size_t len,
                               bool keys, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r, "UPDATE instances SET user_data = ?2, seed_keys = ?3 WHERE id = ?1", err);
        int rc;

        if (!st || registry_bind_text(r, st, 1, id, err) < 0)
                return -1;
        rc = user_data && len ? sqlite3_bind_blob64(st, 2, user_data, len, SQLITE_TRANSIENT)
                              : sqlite3_bind_null(st, 2);
        if (rc != SQLITE_OK)
                return registry_fail(r, err, "bind");
        sqlite3_bind_int(st, 3, keys);
        return registry_step_done(r, st, err);
}

int registry_instance_set_seed_state(registry *r, const char *id, bool keys, const char *sha256,
                                     kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r, "UPDATE instances SET seed_keys = ?2, seed_sha256 = ?3 WHERE id = ?1", err);

        if (!st || registry_bind_text(r, st, 1, id, err) < 0 ||
            registry_bind_text(r, st, 3, sha256, err) < 0)
                return -1;
        sqlite3_bind_int(st, 2, keys);
        return registry_step_done(r, st, err);
}

int registry_instance_set_password(registry *r, const char *id, const char *password_data,
                                   kiln_error **err)
{
        kiln_autofree char *now = password_data ? kiln_time_now_iso() : NULL;
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r, "UPDATE instances SET password_data = ?2, password_time = ?3 WHERE id = ?1",
                err);

        if (!st || registry_bind_text(r, st, 1, id, err) < 0 ||
            registry_bind_text(r, st, 2, password_data, err) < 0 ||
            registry_bind_text(r, st, 3, now, err) < 0)
                return -1;
        return registry_step_done(r, st, err);
}

int registry_instance_password(registry *r, const char *id, char **ret_data, char **ret_time,
                               kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st =
                instance_row(r, "password_data, password_time", id, "read instance password", err);

        if (!st)
                return -1;
        *ret_data = registry_col_text(st, 0);
        *ret_time = registry_col_text(st, 1);
        return 0;
}

int registry_instance_set_type(registry *r, const char *id, const char *type, kiln_error **err)
{
        const char *args[] = {id, type, NULL};

        return registry_exec(r, "UPDATE instances SET instance_type = ?2 WHERE id = ?1", args, err);
}

int registry_instance_set_protection(registry *r, const char *id, int termination, int stop,
                                     kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "UPDATE instances SET disable_api_termination = COALESCE(?2, "
                "disable_api_termination), disable_api_stop = COALESCE(?3, disable_api_stop) "
                "WHERE id = ?1",
                err);

        if (!st || registry_bind_text(r, st, 1, id, err) < 0)
                return -1;
        if (termination >= 0)
                sqlite3_bind_int(st, 2, termination);
        if (stop >= 0)
                sqlite3_bind_int(st, 3, stop);
        return registry_step_done(r, st, err);
}

int registry_instance_set_host_key(registry *r, const char *id, const char *host_key,
                                   kiln_error **err)
{
        const char *args[] = {id, host_key, NULL};

        return registry_exec(r, "UPDATE instances SET host_key = ?2 WHERE id = ?1", args, err);
}

int registry_instance_seed(registry *r, const char *id, void **ret_user_data, size_t *ret_len,
                           bool *ret_keys, char **ret_sha256, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st =
                instance_row(r, "user_data, seed_keys, seed_sha256", id, "read instance seed", err);
        const void *blob;
        size_t len;

        if (!st)
                return -1;
        blob = sqlite3_column_blob(st, 0);
        len = (size_t) sqlite3_column_bytes(st, 0);
        if (ret_user_data) {
                *ret_user_data = NULL;
                if (blob && len) {
                        *ret_user_data = kiln_xmalloc(len);
                        memcpy(*ret_user_data, blob, len);
                }
        }
        if (ret_len)
                *ret_len = blob ? len : 0;
        if (ret_keys)
                *ret_keys = sqlite3_column_int(st, 1) != 0;
        if (ret_sha256)
                *ret_sha256 = registry_col_text(st, 2);
        return 0;
}

int registry_instance_delete(registry *r, const char *id, kiln_error **err)
{
        const char *args[] = {id, NULL};

        if (registry_exec(r,
                          "DELETE FROM tags WHERE resource_id IN (SELECT id FROM volumes WHERE "
                          "instance_id = ?1)",
                          args, err) < 0 ||
            registry_exec(r, "DELETE FROM volumes WHERE instance_id = ?1", args, err) < 0 ||
            registry_exec(r, "DELETE FROM instance_groups WHERE instance_id = ?1", args, err) < 0 ||
            registry_exec(r, "DELETE FROM instance_forwards WHERE instance_id = ?1", args, err) <
                    0 ||
            registry_exec(r, "DELETE FROM tags WHERE resource_id = ?1", args, err) < 0)
                return -1;
        return registry_exec(r, "DELETE FROM instances WHERE id = ?1", args, err);
}

int registry_volume_set_state(registry *r, const char *id, const char *state, kiln_error **err)
{
        const char *args[] = {id, state, NULL};

        return registry_exec(r, "UPDATE volumes SET state = ?2 WHERE id = ?1", args, err);
}

int registry_volume_switch(registry *r, const char *id, const char *volume, const char *snapshot_id,
                           kiln_error **err)
{
        const char *args[] = {id, volume, snapshot_id, NULL};

        return registry_exec(r, "UPDATE volumes SET volume = ?2, snapshot_id = ?3 WHERE id = ?1",
                             args, err);
}

int registry_volume_get(registry *r, const char *id, registry_volume *ret, kiln_error **err)
{
        registry_volume *v = NULL;
        size_t n = 0;

        if (volume_query(r, "id = ?1", id, &v, &n, err) < 0)
                return -1;
        if (n == 0) {
                free(v);
                return kiln_error_set(err, KILN_E_NOT_FOUND, NULL, "no volume '%s'", id);
        }
        *ret = v[0];
        free(v);
        return 0;
}

int registry_volume_set_attachment(registry *r, const char *id, const char *instance_id,
                                   const char *device, int position, const char *attach_time,
                                   kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "UPDATE volumes SET instance_id = ?2, device_name = ?3, attach_time = ?4, "
                "position = ?5, state = CASE WHEN ?2 IS NULL THEN 'available' ELSE 'in-use' END "
                "WHERE id = ?1",
                err);

        if (!st || registry_bind_text(r, st, 1, id, err) < 0 ||
            registry_bind_text(r, st, 2, instance_id, err) < 0 ||
            registry_bind_text(r, st, 3, instance_id ? device : "", err) < 0 ||
            registry_bind_text(r, st, 4, instance_id ? attach_time : NULL, err) < 0)
                return -1;
        sqlite3_bind_int(st, 5, position);
        if (sqlite3_step(st) != SQLITE_DONE)
                return registry_fail(r, err, "attach volume");
        return 0;
}

int registry_volume_delete(registry *r, const char *id, kiln_error **err)
{
        const char *args[] = {id, NULL};

        if (registry_exec(r, "DELETE FROM tags WHERE resource_id = ?1", args, err) < 0)
                return -1;
        return registry_exec(r, "DELETE FROM volumes WHERE id = ?1", args, err);
}

int registry_instance_seeds(registry *r, const char *region, char ***ret, char ***ret_ids,
                            size_t *ret_n, kiln_error **err)
{
        const char *args[] = {region, NULL};
        char **seeds = NULL, **ids = NULL;
        size_t n = 0, n_ids = 0;

        /* Two columns in the same order, in the caller's transaction. */
        if (registry_query_strv(r,
                                "SELECT seed_volume FROM instances WHERE region = ?1 AND state != "
                                "'terminated' AND seed_volume IS NOT NULL ORDER BY seq",
                                args, &seeds, &n, err) < 0)
                return -1;
        if (registry_query_strv(r,
                                "SELECT id FROM instances WHERE region = ?1 AND state != "
                                "'terminated' AND seed_volume IS NOT NULL ORDER BY seq",
                                args, &ids, &n_ids, err) < 0 ||
            n_ids != n) {
                kiln_strv_free(seeds, n);
                kiln_strv_free(ids, n_ids);
                return n_ids != n ? kiln_error_set(err, KILN_E_INTERNAL, NULL,
                                                   "registry: the seeds changed while read")
                                  : -1;
        }
        *ret = seeds;
        *ret_ids = ids;
        *ret_n = n;
        return 0;
}
