/* The registry's core: opening the database (WAL, schema), transactions with retry, and the
 * helpers the record files share. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "registry/registry-private.h"
#include "util/util.h"

#define KILN_STR_(x)      #x
#define KILN_STRINGIFY(x) KILN_STR_(x)

#define REGISTRY_SCHEMA_VERSION  13
#define REGISTRY_BUSY_TIMEOUT_MS 5000
#define REGISTRY_RETRY_SECONDS   120

static const char registry_schema[] =
        "CREATE TABLE IF NOT EXISTS images ("
        " id TEXT PRIMARY KEY, region TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL,"
        " description TEXT NOT NULL DEFAULT '', state TEXT NOT NULL,"
        " architecture TEXT NOT NULL, platform TEXT NOT NULL, default_user TEXT NOT NULL,"
        " boot_mode TEXT NOT NULL, root_device_name TEXT NOT NULL, creation_date TEXT NOT NULL,"
        " owner_alias TEXT, source_image_id TEXT, source_region TEXT, source_instance_id TEXT,"
        " state_reason_code TEXT, state_reason_message TEXT,"
        " hourly_price REAL NOT NULL DEFAULT 0, seq INTEGER NOT NULL,"
        " ungeneralized INTEGER NOT NULL DEFAULT 0, tpm_support TEXT,"
        " secure_boot INTEGER NOT NULL DEFAULT 0, uefi_data BLOB,"
        " ena_support INTEGER NOT NULL DEFAULT 1, rtc TEXT);"
        "CREATE UNIQUE INDEX IF NOT EXISTS images_live_name ON images(region, owner, name)"
        " WHERE state NOT IN ('deregistered', 'failed');"
        "CREATE INDEX IF NOT EXISTS images_region ON images(region, state, seq);"
        "CREATE TABLE IF NOT EXISTS image_mappings ("
        " image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
        " position INTEGER NOT NULL, device_name TEXT NOT NULL, snapshot_id TEXT NOT NULL,"
        " volume_size INTEGER NOT NULL, delete_on_termination INTEGER NOT NULL,"
        " volume_type TEXT NOT NULL, PRIMARY KEY (image_id, position));"
        "CREATE INDEX IF NOT EXISTS image_mappings_snapshot ON image_mappings(snapshot_id);"
        "CREATE TABLE IF NOT EXISTS launch_permissions ("
        " resource_id TEXT NOT NULL, kind INTEGER NOT NULL, value TEXT NOT NULL DEFAULT '',"
        " PRIMARY KEY (resource_id, kind, value));"
        "CREATE TABLE IF NOT EXISTS create_volume_permissions ("
        " resource_id TEXT NOT NULL, kind INTEGER NOT NULL, value TEXT NOT NULL DEFAULT '',"
        " PRIMARY KEY (resource_id, kind, value));"
        "CREATE TABLE IF NOT EXISTS snapshots ("
        " id TEXT PRIMARY KEY, region TEXT NOT NULL, owner TEXT NOT NULL, parent_id TEXT,"
        " volume TEXT NOT NULL, layer_id TEXT NOT NULL, virtual_size INTEGER NOT NULL,"
        " volume_size INTEGER NOT NULL, description TEXT NOT NULL DEFAULT '',"
        " state TEXT NOT NULL, start_time TEXT NOT NULL, volume_id TEXT,"
        " worker_pid INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL,"
        " ungeneralized INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX IF NOT EXISTS snapshots_region ON snapshots(region, seq);"
        "CREATE INDEX IF NOT EXISTS snapshots_parent ON snapshots(parent_id);"
        "CREATE INDEX IF NOT EXISTS snapshots_layer ON snapshots(region, layer_id);"
        "CREATE TABLE IF NOT EXISTS tags ("
        " resource_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
        " PRIMARY KEY (resource_id, key));"
        /* version 2: key pairs, instances and their volumes */
        "CREATE TABLE IF NOT EXISTS keypairs ("
        " id TEXT PRIMARY KEY, region TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL,"
        " key_type TEXT NOT NULL, fingerprint TEXT NOT NULL, public_key TEXT NOT NULL,"
        " private_key_path TEXT, create_time TEXT NOT NULL, seq INTEGER NOT NULL,"
        " UNIQUE (region, owner, name));"
        "CREATE TABLE IF NOT EXISTS access_keys ("
        " id TEXT PRIMARY KEY, account TEXT NOT NULL, secret TEXT NOT NULL,"
        " status TEXT NOT NULL, create_date TEXT NOT NULL, seq INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS client_tokens ("
        " owner TEXT NOT NULL, region TEXT NOT NULL, token TEXT NOT NULL, action TEXT NOT NULL,"
        " request_sha256 TEXT NOT NULL, resource_id TEXT NOT NULL, create_time TEXT NOT NULL,"
        " PRIMARY KEY (owner, region, token));"
        "CREATE TABLE IF NOT EXISTS instances ("
        " id TEXT PRIMARY KEY, region TEXT NOT NULL, owner TEXT NOT NULL,"
        " reservation_id TEXT NOT NULL, image_id TEXT NOT NULL, instance_type TEXT NOT NULL,"
        " key_name TEXT, state TEXT NOT NULL, state_reason_code TEXT,"
        " state_reason_message TEXT, transition_reason TEXT, launch_time TEXT NOT NULL,"
        " launch_index INTEGER NOT NULL, domain TEXT NOT NULL, platform TEXT NOT NULL,"
        " default_user TEXT NOT NULL, architecture TEXT NOT NULL, boot_mode TEXT NOT NULL,"
        " root_device_name TEXT NOT NULL, network TEXT, host TEXT, port INTEGER,"
        " host_key TEXT, accel TEXT NOT NULL, seed_volume TEXT,"
        " worker_pid INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL,"
        " user_data BLOB, seed_keys INTEGER NOT NULL DEFAULT 0, seed_sha256 TEXT,"
        " client_token TEXT, disable_api_termination INTEGER NOT NULL DEFAULT 0,"
        " disable_api_stop INTEGER NOT NULL DEFAULT 0, status TEXT, status_time TEXT,"
        " tpm_support TEXT, secure_boot INTEGER NOT NULL DEFAULT 0, nvram_volume TEXT,"
        " password_data TEXT, password_time TEXT, ena_support INTEGER NOT NULL DEFAULT 1,"
        " rtc TEXT, host_id TEXT);"
        "CREATE UNIQUE INDEX IF NOT EXISTS instances_port ON instances(host, port)"
        " WHERE state != 'terminated' AND port IS NOT NULL;"
        "CREATE TABLE IF NOT EXISTS volumes ("
        " id TEXT PRIMARY KEY, region TEXT NOT NULL, owner TEXT NOT NULL, instance_id TEXT,"
        " device_name TEXT NOT NULL, snapshot_id TEXT, volume TEXT NOT NULL,"
        " size INTEGER NOT NULL, delete_on_termination INTEGER NOT NULL,"
        " state TEXT NOT NULL, create_time TEXT NOT NULL, seq INTEGER NOT NULL,"
        " volume_type TEXT NOT NULL DEFAULT 'standard', attach_time TEXT,"
        " position INTEGER NOT NULL DEFAULT 0, origin_snapshot_id TEXT, host_id TEXT);"
        "CREATE INDEX IF NOT EXISTS volumes_snapshot ON volumes(snapshot_id);"
        /* version 13: the hosts of a region that hold a snapshot's layer besides its first */
        "CREATE TABLE IF NOT EXISTS snapshot_hosts ("
        " snapshot_id TEXT NOT NULL, host_id TEXT NOT NULL, PRIMARY KEY (snapshot_id, host_id));"
        /* version 9: security groups, their rules, their instances, the forwards they open */
        "CREATE TABLE IF NOT EXISTS security_groups ("
        " id TEXT PRIMARY KEY, region TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL,"
        " description TEXT NOT NULL, vpc_id TEXT NOT NULL, seq INTEGER NOT NULL,"
        " UNIQUE (region, owner, name));"
        "CREATE TABLE IF NOT EXISTS security_group_rules ("
        " id TEXT PRIMARY KEY, group_id TEXT NOT NULL, protocol TEXT NOT NULL,"
        " from_port INTEGER NOT NULL, to_port INTEGER NOT NULL, cidr TEXT NOT NULL,"
        " description TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS security_group_rules_group ON security_group_rules(group_id);"
        "CREATE TABLE IF NOT EXISTS instance_groups ("
        " instance_id TEXT NOT NULL, group_id TEXT NOT NULL, position INTEGER NOT NULL,"
        " PRIMARY KEY (instance_id, group_id));"
        "CREATE INDEX IF NOT EXISTS instance_groups_group ON instance_groups(group_id);"
        "CREATE TABLE IF NOT EXISTS instance_forwards ("
        " instance_id TEXT NOT NULL, protocol TEXT NOT NULL, guest_port INTEGER NOT NULL,"
        " host_port INTEGER NOT NULL, PRIMARY KEY (instance_id, protocol, guest_port));";

int registry_fail(registry *r, kiln_error **err, const char *what)
{
        r->last_rc = sqlite3_extended_errcode(r->db);
        return kiln_error_set(err, KILN_E_INTERNAL, NULL, "registry: %s: %s", what,
                              sqlite3_errmsg(r->db));
}

sqlite3_stmt *registry_prepare(registry *r, const char *sql, kiln_error **err)
{
        sqlite3_stmt *st = NULL;

        if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) != SQLITE_OK) {
                registry_fail(r, err, "prepare");
                return NULL;
        }
        return st;
}

sqlite3_stmt *registry_stmt_free(sqlite3_stmt *st)
{
        sqlite3_finalize(st);
        return NULL;
}

int registry_bind_text(registry *r, sqlite3_stmt *st, int i, const char *s, kiln_error **err)
{
        int rc = s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);

        if (rc != SQLITE_OK)
                return registry_fail(r, err, "bind");
        return 0;
}

/* Binds each string of a NULL-terminated list to ?1, ?2, ... */
int registry_bind_all(registry *r, sqlite3_stmt *st, const char *const *values, kiln_error **err)
{
        for (int i = 0; values[i]; i++)
                if (registry_bind_text(r, st, i + 1, values[i], err) < 0)
                        return -1;
        return 0;
}

int registry_step_done(registry *r, sqlite3_stmt *st, kiln_error **err)
{
        int rc = sqlite3_step(st);

        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                return registry_fail(r, err, "write");
        return 0;
}

int registry_exec(registry *r, const char *sql, const char *const *args, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r, sql, err);

        if (!st)
                return -1;
        if (args && registry_bind_all(r, st, args, err) < 0)
                return -1;
        return registry_step_done(r, st, err);
}

char *registry_col_text(sqlite3_stmt *st, int i)
{
        const unsigned char *s = sqlite3_column_text(st, i);

        return s ? kiln_xstrdup((const char *) s) : NULL;
}

int registry_query_strv(registry *r, const char *sql, const char *const *args, char ***ret,
                        size_t *ret_n, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r, sql, err);
        char **v = NULL;
        size_t n = 0;
        int rc;

        if (!st || (args && registry_bind_all(r, st, args, err) < 0))
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                v = kiln_xrealloc(v, (n + 1) * sizeof(*v));
                v[n++] = registry_col_text(st, 0);
        }
        if (rc != SQLITE_DONE) {
                kiln_strv_free(v, n);
                return registry_fail(r, err, "read a list");
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

int64_t registry_next_seq(registry *r, const char *table)
{
        kiln_autofree char *sql = kiln_xasprintf("SELECT COALESCE(MAX(seq), 0) + 1 FROM %s", table);
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r, sql, NULL);

        if (!st || sqlite3_step(st) != SQLITE_ROW)
                return 1;
        return sqlite3_column_int64(st, 0);
}

static bool registry_busy(int rc)
{
        rc &= 0xff;
        return rc == SQLITE_BUSY || rc == SQLITE_LOCKED;
}

/* A transaction, retried while another process holds the lock. In a dry run, a write
 * transaction that succeeds is rolled back, and the caller fails with DryRunOperation: the
 * first write of a verb is where its checks end, so nothing after it happens. */
static int registry_txn(registry *r, bool write, registry_txn_fn fn, void *userdata,
                        kiln_error **err)
{
        const char *begin = write ? "BEGIN IMMEDIATE" : "BEGIN";
        time_t deadline = time(NULL) + REGISTRY_RETRY_SECONDS;
        long backoff = 5;

        for (;;) {
                kiln_autoptr(kiln_error) e = NULL;
                int rc;

                r->last_rc = SQLITE_OK;
                rc = sqlite3_exec(r->db, begin, NULL, NULL, NULL);
                if (rc == SQLITE_OK) {
                        int ok = fn(r, userdata, &e) == 0;

                        if (ok && write && r->dry_run) {
                                sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
                                return registry_dry_run_stop(r, err);
                        }
                        if (ok) {
                                rc = sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
                                if (rc == SQLITE_OK)
                                        return 0;
                                registry_fail(r, &e, "commit");
                        }
                        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
                        if (!registry_busy(r->last_rc) || time(NULL) > deadline) {
                                *err = kiln_steal(&e);
                                return -1;
                        }
                } else if (!registry_busy(rc) || time(NULL) > deadline) {
                        return registry_fail(r, err, "begin transaction");
                }
                /* Another process holds the lock: wait a little, with jitter, and redo. */
                kiln_sleep_ms(backoff + (long) (getpid() % 7));
                if (backoff < 200)
                        backoff *= 2;
        }
}

int registry_write(registry *r, registry_txn_fn fn, void *userdata, kiln_error **err)
{
        return registry_txn(r, true, fn, userdata, err);
}

void registry_set_dry_run(registry *r, bool on)
{
        r->dry_run = on;
}

int registry_dry_run_stop(registry *r, kiln_error **err)
{
        if (!r->dry_run)
                return 0;
        kiln_error_set(err, KILN_E_PERMISSION, "DryRunOperation",
                       "Request would have succeeded, but DryRun flag is set.");
        return kiln_error_set_reason(err, KILN_R_DRY_RUN);
}

int registry_read(registry *r, registry_txn_fn fn, void *userdata, kiln_error **err)
{
        return registry_txn(r, false, fn, userdata, err);
}

static bool column_exists(registry *r, const char *table, const char *column)
{
        kiln_autofree char *sql = kiln_xasprintf("SELECT 1 FROM pragma_table_info('%s') "
                                                 "WHERE name = ?1",
                                                 table);
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r, sql, NULL);

        return st && registry_bind_text(r, st, 1, column, NULL) == 0 &&
               sqlite3_step(st) == SQLITE_ROW;
}

/* A column a migration adds, unless an interrupted migration already added it. */
typedef struct added_column {
        const char *table, *column, *decl;
} added_column;

static int add_columns(registry *r, const added_column *cols, size_t n, kiln_error **err)
{
        for (size_t i = 0; i < n; i++) {
                kiln_autofree char *sql = NULL;

                if (column_exists(r, cols[i].table, cols[i].column))
                        continue;
                sql = kiln_xasprintf("ALTER TABLE %s ADD COLUMN %s %s", cols[i].table,
                                     cols[i].column, cols[i].decl);
                if (sqlite3_exec(r->db, sql, NULL, NULL, NULL) != SQLITE_OK)
                        return registry_fail(r, err, "add a column");
        }
        return 0;
}

/* Version 3:
 * - whether an image (and the snapshots a bake froze for it) was generalized is a column, no
 *   longer the tag "kiln:generalized", which a user could have set. Images the tag marked
 *   "false" keep that mark; every such tag goes.
 * - an instance keeps its user data, whether its seed still carries its private host key, and
 *   the SHA-256 of the seed volume kiln wrote (instances launched before know none of these:
 *   their seed is left as it is). */
static int migrate_v3(registry *r, kiln_error **err)
{
        static const added_column added[] = {
                {"images", "ungeneralized", "INTEGER NOT NULL DEFAULT 0"},
                {"snapshots", "ungeneralized", "INTEGER NOT NULL DEFAULT 0"},
                {"instances", "user_data", "BLOB"},
                {"instances", "seed_keys", "INTEGER NOT NULL DEFAULT 0"},
                {"instances", "seed_sha256", "TEXT"}};

        if (add_columns(r, added, KILN_ARRAY_SIZE(added), err) < 0)
                return -1;
        if (sqlite3_exec(r->db,
                         "UPDATE images SET ungeneralized = 1 WHERE id IN (SELECT resource_id "
                         "FROM tags WHERE key = 'kiln:generalized' AND value = 'false');"
                         "UPDATE snapshots SET ungeneralized = 1 WHERE id IN (SELECT snapshot_id "
                         "FROM image_mappings m JOIN images i ON i.id = m.image_id "
                         "WHERE i.ungeneralized = 1);"
                         "DELETE FROM tags WHERE key = 'kiln:generalized';",
                         NULL, NULL, NULL) != SQLITE_OK)
                return registry_fail(r, err, "move the generalized mark to its column");
        return 0;
}

/* Version 5 adds the access_keys and client_tokens tables (CREATE TABLE IF NOT EXISTS above):
 * nothing to move. */

/* Version 6: a volume keeps the snapshot it was made from (EC2's SnapshotId) apart from the one
 * its overlay grows on now, which a create-snapshot or a bake moves on. */
static int migrate_v6(registry *r, kiln_error **err)
{
        if (!column_exists(r, "volumes", "origin_snapshot_id") &&
            sqlite3_exec(r->db, "ALTER TABLE volumes ADD COLUMN origin_snapshot_id TEXT", NULL,
                         NULL, NULL) != SQLITE_OK)
                return registry_fail(r, err, "add a column");
        if (sqlite3_exec(r->db,
                         "UPDATE volumes SET origin_snapshot_id = snapshot_id "
                         "WHERE origin_snapshot_id IS NULL;",
                         NULL, NULL, NULL) != SQLITE_OK)
                return registry_fail(r, err, "record the volumes' snapshots");
        return 0;
}

/* Version 7: an instance keeps the ClientToken of the RunInstances that launched it. */
static int migrate_v7(registry *r, kiln_error **err)
{
        if (!column_exists(r, "instances", "client_token") &&
            sqlite3_exec(r->db, "ALTER TABLE instances ADD COLUMN client_token TEXT", NULL, NULL,
                         NULL) != SQLITE_OK)
                return registry_fail(r, err, "add a column");
        return 0;
}

/* Version 8: an instance may be protected from termination and from stopping (EC2's
 * disableApiTermination and disableApiStop attributes). */
static int migrate_v8(registry *r, kiln_error **err)
{
        static const added_column added[] = {
                {"instances", "disable_api_termination", "INTEGER NOT NULL DEFAULT 0"},
                {"instances", "disable_api_stop", "INTEGER NOT NULL DEFAULT 0"}};

        return add_columns(r, added, KILN_ARRAY_SIZE(added), err);
}

/* Version 11: UEFI and TPM: an image's TPM support, Secure Boot and UEFI variable store; an
 * instance's TPM, Secure Boot and NVRAM volume. */
static int migrate_v11(registry *r, kiln_error **err)
{
        static const added_column added[] = {
                {"images", "tpm_support", "TEXT"},
                {"images", "secure_boot", "INTEGER NOT NULL DEFAULT 0"},
                {"images", "uefi_data", "BLOB"},
                {"instances", "tpm_support", "TEXT"},
                {"instances", "secure_boot", "INTEGER NOT NULL DEFAULT 0"},
                {"instances", "nvram_volume", "TEXT"}};

        return add_columns(r, added, KILN_ARRAY_SIZE(added), err);
}

/* Version 12: a Windows instance's password, encrypted with its key pair's public key
 * (GetPasswordData), and when it was made; whether an image and its instances have virtio
 * drivers (EnaSupport) and keep their clock in UTC or local time. */
static int migrate_v12(registry *r, kiln_error **err)
{
        static const added_column added[] = {
                {"instances", "password_data", "TEXT"},
                {"instances", "password_time", "TEXT"},
                {"images", "ena_support", "INTEGER NOT NULL DEFAULT 1"},
                {"images", "rtc", "TEXT"},
                {"instances", "ena_support", "INTEGER NOT NULL DEFAULT 1"},
                {"instances", "rtc", "TEXT"}};

        return add_columns(r, added, KILN_ARRAY_SIZE(added), err);
}

/* Version 13: the host of a region with several that runs an instance or holds a volume (NULL:
 * the region's first), and the snapshot_hosts table (CREATE TABLE IF NOT EXISTS above). */
static int migrate_v13(registry *r, kiln_error **err)
{
        static const added_column added[] = {{"instances", "host_id", "TEXT"},
                                             {"volumes", "host_id", "TEXT"}};

        return add_columns(r, added, KILN_ARRAY_SIZE(added), err);
}

/* Version 10: an instance's status since its last start (EC2's instance status checks). */
static int migrate_v10(registry *r, kiln_error **err)
{
        static const added_column added[] = {{"instances", "status", "TEXT"},
                                             {"instances", "status_time", "TEXT"}};

        return add_columns(r, added, KILN_ARRAY_SIZE(added), err);
}

/* Version 9 adds the security group tables (CREATE TABLE IF NOT EXISTS above). Instances
 * launched before have no group: they join the default one at their next start. */

/* Version 4: volumes are first-class (create-volume, attach-volume): their type, when they
 * were attached, and their place among the instance's disks (launch volumes keep the order of
 * their mappings). */
static int migrate_v4(registry *r, kiln_error **err)
{
        static const added_column added[] = {
                {"volumes", "volume_type", "TEXT NOT NULL DEFAULT 'standard'"},
                {"volumes", "attach_time", "TEXT"},
                {"volumes", "position", "INTEGER NOT NULL DEFAULT 0"}};

        if (add_columns(r, added, KILN_ARRAY_SIZE(added), err) < 0)
                return -1;
        /* Volumes made at launch were attached when they were made, in mapping order. */
        if (sqlite3_exec(r->db,
                         "UPDATE volumes SET attach_time = create_time, position = seq "
                         "WHERE instance_id IS NOT NULL AND attach_time IS NULL;",
                         NULL, NULL, NULL) != SQLITE_OK)
                return registry_fail(r, err, "date the volumes' attachments");
        return 0;
}

static int registry_migrate(registry *r, void *userdata, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r, "PRAGMA user_version", err);
        int version;

        (void) userdata;
        if (!st)
                return -1;
        if (sqlite3_step(st) != SQLITE_ROW)
                return registry_fail(r, err, "read schema version");
        version = sqlite3_column_int(st, 0);
        if (version > REGISTRY_SCHEMA_VERSION)
                return kiln_error_set(err, KILN_E_STATE, NULL,
                                      "the registry has schema version %d, newer than this "
                                      "kiln's %d: upgrade kiln",
                                      version, REGISTRY_SCHEMA_VERSION);
        if (version == REGISTRY_SCHEMA_VERSION)
                return 0;
        if (sqlite3_exec(r->db, registry_schema, NULL, NULL, NULL) != SQLITE_OK)
                return registry_fail(r, err, "create schema");
        if (version >= 1 && version < 3 && migrate_v3(r, err) < 0)
                return -1;
        if (version >= 1 && version < 4 && migrate_v4(r, err) < 0)
                return -1;
        if (version >= 1 && version < 6 && migrate_v6(r, err) < 0)
                return -1;
        if (version >= 1 && version < 7 && migrate_v7(r, err) < 0)
                return -1;
        if (version >= 1 && version < 8 && migrate_v8(r, err) < 0)
                return -1;
        if (version >= 1 && version < 10 && migrate_v10(r, err) < 0)
                return -1;
        if (version >= 1 && version < 11 && migrate_v11(r, err) < 0)
                return -1;
        if (version >= 1 && version < 12 && migrate_v12(r, err) < 0)
                return -1;
        if (version >= 1 && version < 13 && migrate_v13(r, err) < 0)
                return -1;
        if (sqlite3_exec(r->db, "PRAGMA user_version = " KILN_STRINGIFY(REGISTRY_SCHEMA_VERSION),
                         NULL, NULL, NULL) != SQLITE_OK)
                return registry_fail(r, err, "set schema version");
        return 0;
}

int registry_open(const char *path, registry **ret, kiln_error **err)
{
        kiln_autoptr(registry) r = kiln_xcalloc(1, sizeof(*r));
        time_t deadline = time(NULL) + REGISTRY_RETRY_SECONDS;
        int rc;

        rc = sqlite3_open_v2(path, &r->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
        if (rc != SQLITE_OK)
                return kiln_error_set(err, KILN_E_IO, NULL, "cannot open the registry '%s': %s",
                                      path, r->db ? sqlite3_errmsg(r->db) : sqlite3_errstr(rc));
        sqlite3_busy_timeout(r->db, REGISTRY_BUSY_TIMEOUT_MS);
        /* Switching to WAL needs a moment alone with the file; others may hold it. */
        for (;;) {
                rc = sqlite3_exec(r->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
                if (rc == SQLITE_OK)
                        break;
                if (!registry_busy(rc) || time(NULL) > deadline)
                        return registry_fail(r, err, "set WAL mode");
                kiln_sleep_ms(20);
        }
        /* A large registry is read through the page cache, not copied by pread. */
        if (sqlite3_exec(r->db,
                         "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
                         " PRAGMA mmap_size = 268435456; PRAGMA cache_size = -8192",
                         NULL, NULL, NULL) != SQLITE_OK)
                return registry_fail(r, err, "set pragmas");
        if (registry_write(r, registry_migrate, NULL, err) < 0)
                return -1;
        *ret = kiln_steal(&r);
        return 0;
}

registry *registry_close(registry *r)
{
        if (r) {
                sqlite3_close_v2(r->db);
                free(r);
        }
        return NULL;
}
