/* The registry without libvirt: schema, records, name uniqueness, permissions, states, and
 * writers in several processes at once without "database is locked". */
#include <sys/wait.h>

#include "registry/registry-instance.h"
#include "registry/registry.h"
#include "tap.h"
#include "util/util.h"

static kiln_image image(const char *id, const char *name, const char *snap,
                        kiln_block_device_mapping *m)
{
        kiln_image img = {0};

        m->device_name = (char *) "/dev/vda";
        m->snapshot_id = (char *) snap;
        m->volume_size = 8;
        m->delete_on_termination = true;
        m->volume_type = (char *) "standard";
        img.image_id = (char *) id;
        img.region = (char *) "local";
        img.owner_id = (char *) "111111111111";
        img.name = (char *) name;
        img.state = (char *) "available";
        img.architecture = (char *) "x86_64";
        img.platform = (char *) "linux";
        img.default_user = (char *) "admin";
        img.boot_mode = (char *) "legacy-bios";
        img.root_device_name = (char *) "/dev/vda";
        img.creation_date = (char *) "2026-01-02T03:04:05.000Z";
        img.mappings = m;
        img.n_mappings = 1;
        return img;
}

typedef struct ins {
        kiln_image *img;
} ins;

static int insert_txn(registry *r, void *userdata, kiln_error **err)
{
        return registry_image_insert(r, ((ins *) userdata)->img, err);
}

static int child_writer(const char *db, int k)
{
        kiln_autoptr(registry) r = NULL;
        kiln_autoptr(kiln_error) e = NULL;

        if (registry_open(db, &r, &e) < 0) {
                fprintf(stderr, "child %d: %s\n", k, e->msg);
                return 2;
        }
        for (int i = 0; i < 25; i++) {
                kiln_autofree char *id = kiln_id_new("ami");
                kiln_autofree char *name = kiln_xasprintf("proc%d-img%d", k, i);
                kiln_block_device_mapping m;
                kiln_image img = image(id, name, "snap-0123456789abcdef0", &m);
                ins t = {&img};

                if (registry_write(r, insert_txn, &t, &e) < 0) {
                        fprintf(stderr, "child %d: %s\n", k, e->msg);
                        return 1;
                }
        }
        return 0;
}

/* The schema of version 2, as kiln wrote it before version 3. */
static const char v2_schema[] =
        "CREATE TABLE IF NOT EXISTS images ("
        " id TEXT PRIMARY KEY, region TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL,"
        " description TEXT NOT NULL DEFAULT '', state TEXT NOT NULL,"
        " architecture TEXT NOT NULL, platform TEXT NOT NULL, default_user TEXT NOT NULL,"
        " boot_mode TEXT NOT NULL, root_device_name TEXT NOT NULL, creation_date TEXT NOT NULL,"
        " owner_alias TEXT, source_image_id TEXT, source_region TEXT, source_instance_id TEXT,"
        " state_reason_code TEXT, state_reason_message TEXT,"
        " hourly_price REAL NOT NULL DEFAULT 0, seq INTEGER NOT NULL);"
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
        " worker_pid INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS snapshots_region ON snapshots(region, seq);"
        "CREATE INDEX IF NOT EXISTS snapshots_parent ON snapshots(parent_id);"
        "CREATE INDEX IF NOT EXISTS snapshots_layer ON snapshots(region, layer_id);"
        "CREATE TABLE IF NOT EXISTS tags ("
        " resource_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
        " PRIMARY KEY (resource_id, key));"
        "CREATE TABLE IF NOT EXISTS keypairs ("
        " id TEXT PRIMARY KEY, region TEXT NOT NULL, owner TEXT NOT NULL, name TEXT NOT NULL,"
        " key_type TEXT NOT NULL, fingerprint TEXT NOT NULL, public_key TEXT NOT NULL,"
        " private_key_path TEXT, create_time TEXT NOT NULL, seq INTEGER NOT NULL,"
        " UNIQUE (region, owner, name));"
        "CREATE TABLE IF NOT EXISTS instances ("
        " id TEXT PRIMARY KEY, region TEXT NOT NULL, owner TEXT NOT NULL,"
        " reservation_id TEXT NOT NULL, image_id TEXT NOT NULL, instance_type TEXT NOT NULL,"
        " key_name TEXT, state TEXT NOT NULL, state_reason_code TEXT,"
        " state_reason_message TEXT, transition_reason TEXT, launch_time TEXT NOT NULL,"
        " launch_index INTEGER NOT NULL, domain TEXT NOT NULL, platform TEXT NOT NULL,"
        " default_user TEXT NOT NULL, architecture TEXT NOT NULL, boot_mode TEXT NOT NULL,"
        " root_device_name TEXT NOT NULL, network TEXT, host TEXT, port INTEGER,"
        " host_key TEXT, accel TEXT NOT NULL, seed_volume TEXT,"
        " worker_pid INTEGER NOT NULL DEFAULT 0, seq INTEGER NOT NULL);"
        "CREATE UNIQUE INDEX IF NOT EXISTS instances_port ON instances(host, port)"
        " WHERE state != 'terminated' AND port IS NOT NULL;"
        "CREATE TABLE IF NOT EXISTS volumes ("
        " id TEXT PRIMARY KEY, region TEXT NOT NULL, owner TEXT NOT NULL, instance_id TEXT,"
        " device_name TEXT NOT NULL, snapshot_id TEXT, volume TEXT NOT NULL,"
        " size INTEGER NOT NULL, delete_on_termination INTEGER NOT NULL,"
        " state TEXT NOT NULL, create_time TEXT NOT NULL, seq INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS volumes_snapshot ON volumes(snapshot_id);";

/* A registry of version 2 with an image baked without generalization (then marked with a
 * tag) and one baked with it, opened by this kiln: the mark moves to the image's attribute,
 * and the tag, which a user could have set too, goes. */
static void test_migrate_v2(const char *dir)
{
        kiln_autofree char *db = kiln_xasprintf("%s/v2.db", dir);
        kiln_autoptr(registry) r = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        sqlite3 *raw = NULL;
        int rc = sqlite3_open(db, &raw);

        if (rc == SQLITE_OK)
                rc = sqlite3_exec(raw, v2_schema, NULL, NULL, NULL);
        if (rc == SQLITE_OK)
                rc = sqlite3_exec(
                        raw,
                        "INSERT INTO images VALUES ('ami-00000000000000001', 'local', "
                        "'111111111111', 'kept', '', 'available', 'x86_64', 'linux', 'admin', "
                        "'legacy-bios', '/dev/vda', '2026-01-01T00:00:00.000Z', NULL, NULL, NULL, "
                        "NULL, NULL, NULL, 0, 1);"
                        "INSERT INTO images VALUES ('ami-00000000000000002', 'local', "
                        "'111111111111', 'clean', '', 'available', 'x86_64', 'linux', 'admin', "
                        "'legacy-bios', '/dev/vda', '2026-01-01T00:00:00.000Z', NULL, NULL, NULL, "
                        "NULL, NULL, NULL, 0, 2);"
                        "INSERT INTO image_mappings VALUES ('ami-00000000000000001', 0, "
                        "'/dev/vda', 'snap-00000000000000001', 8, 1, 'standard');"
                        "INSERT INTO snapshots VALUES ('snap-00000000000000001', 'local', "
                        "'111111111111', NULL, 'vol.qcow2', 'layer-1', 8589934592, 8, '', "
                        "'completed', '2026-01-01T00:00:00.000Z', NULL, 0, 1);"
                        "INSERT INTO tags VALUES ('ami-00000000000000001', 'kiln:generalized', "
                        "'false');"
                        "INSERT INTO tags VALUES ('ami-00000000000000002', 'kiln:generalized', "
                        "'true');"
                        "INSERT INTO volumes VALUES ('vol-00000000000000001', 'local', "
                        "'111111111111', NULL, '', 'snap-00000000000000001', "
                        "'vol-00000000000000001.qcow2', 8, 0, 'available', "
                        "'2026-01-01T00:00:00.000Z', 1);"
                        "PRAGMA user_version = 2;",
                        NULL, NULL, NULL);
        sqlite3_close(raw);
        if (!ok(rc == SQLITE_OK, "a registry of version 2 is made"))
                return;
        is_int(registry_open(db, &r, &e), 0, "this kiln opens it");
        {
                kiln_image kept = {0}, clean = {0};
                registry_snapshot snap = {0};

                registry_image_get(r, "ami-00000000000000001", &kept, &e);
                registry_image_get(r, "ami-00000000000000002", &clean, &e);
                registry_snapshot_get(r, "snap-00000000000000001", &snap, &e);
                ok(kept.ungeneralized && !clean.ungeneralized,
                   "the image the tag marked is ungeneralized, the other is not");
                ok(snap.ungeneralized, "and so is that image's snapshot");
                is_int((long long) (kept.n_tags + clean.n_tags), 0,
                       "the kiln:generalized tags are gone");
                kiln_image_clear(&kept);
                kiln_image_clear(&clean);
                registry_snapshot_clear(&snap);
        }
        {
                registry_volume v = {0};

                registry_volume_get(r, "vol-00000000000000001", &v, &e);
                is_str(v.origin_snapshot_id, "snap-00000000000000001",
                       "a volume keeps the snapshot it was made from (version 6)");
                is_str(v.volume_type, "standard", "and has a type (version 4)");
                registry_volume_clear(&v);
        }
}

int main(void)
{
        char tmpl[] = "/tmp/kiln-unit-registry.XXXXXX";
        char *dir = mkdtemp(tmpl);
        kiln_autofree char *db = kiln_xasprintf("%s/registry.db", dir);
        kiln_autoptr(registry) r = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        kiln_block_device_mapping m;
        kiln_image img = image("ami-0123456789abcdef0", "web", "snap-0123456789abcdef0", &m);
        ins t = {&img};

        is_int(registry_open(db, &r, &e), 0, "a new registry opens");
        is_int(registry_write(r, insert_txn, &t, &e), 0, "an image is inserted");
        {
                kiln_image got = {0};

                is_int(registry_image_get(r, "ami-0123456789abcdef0", &got, &e), 0,
                       "and read back");
                is_str(got.name, "web", "with its name");
                is_int((long long) got.n_mappings, 1, "and its mapping");
                is_str(got.n_mappings ? got.mappings[0].snapshot_id : NULL,
                       "snap-0123456789abcdef0", "to its snapshot");
                ok(!got.is_public, "private by default");
                kiln_image_clear(&got);
        }
        {
                kiln_block_device_mapping m3;
                kiln_image dry =
                        image("ami-0123456789abcdef9", "dry", "snap-0123456789abcdef0", &m3);
                kiln_image dup =
                        image("ami-0123456789abcdef8", "web", "snap-0123456789abcdef0", &m3);
                kiln_image got = {0};
                ins t3 = {&dry};
                ins t4 = {&dup};

                registry_set_dry_run(r, true);
                is_int(registry_write(r, insert_txn, &t3, &e), -1,
                       "in a dry run, a write that would succeed fails");
                is_str(e ? e->api_code : NULL, "DryRunOperation", "with DryRunOperation");
                is_int(kiln_error_reason_of(e), KILN_R_DRY_RUN, "and the dry run's reason");
                e = kiln_error_free(e);
                is_int(registry_write(r, insert_txn, &t4, &e), -1,
                       "a write that would fail fails as it would");
                ok(e && kiln_error_reason_of(e) != KILN_R_DRY_RUN, "with its own error");
                e = kiln_error_free(e);
                is_int(registry_image_get(r, "ami-0123456789abcdef9", &got, &e), -1,
                       "nothing was written");
                e = kiln_error_free(e);
                registry_set_dry_run(r, false);
        }
        {
                kiln_block_device_mapping m2;
                kiln_image dup =
                        image("ami-0123456789abcdef1", "web", "snap-0123456789abcdef0", &m2);
                ins t2 = {&dup};

                is_int(registry_write(r, insert_txn, &t2, &e), -1,
                       "a second live image with the same name and owner is refused by the store");
                e = kiln_error_free(e);
                is_int(registry_image_set_state(r, "ami-0123456789abcdef0", "deregistered", NULL,
                                                NULL, &e),
                       0, "deregister");
                is_int(registry_write(r, insert_txn, &t2, &e), 0,
                       "after deregistering, the name is free");
        }
        {
                char *user = NULL;

                is_int(registry_snapshot_used_by(r, "snap-0123456789abcdef0", &user, &e), 0,
                       "who uses a snapshot");
                is_str(user, "ami-0123456789abcdef1", "only registered images count");
                free(user);
        }
        {
                kiln_permission all = {KILN_PERM_ALL, NULL};
                kiln_permission acct = {KILN_PERM_USER, (char *) "222222222222"};
                kiln_permission *p = NULL;
                size_t n = 0;
                kiln_image got = {0};

                registry_perm_add(r, REGISTRY_PERM_LAUNCH, "ami-0123456789abcdef1", &all, &e);
                registry_perm_add(r, REGISTRY_PERM_LAUNCH, "ami-0123456789abcdef1", &acct, &e);
                registry_perm_add(r, REGISTRY_PERM_LAUNCH, "ami-0123456789abcdef1", &acct, &e);
                is_int(registry_perms_get(r, REGISTRY_PERM_LAUNCH, "ami-0123456789abcdef1", &p, &n,
                                          &e),
                       0, "permissions read");
                is_int((long long) n, 2, "a repeated grant is stored once");
                kiln_permissions_free(p, n);
                registry_image_get(r, "ami-0123456789abcdef1", &got, &e);
                ok(got.is_public, "Group=all makes it public");
                kiln_image_clear(&got);
                registry_perm_remove(r, REGISTRY_PERM_LAUNCH, "ami-0123456789abcdef1", &all, &e);
                registry_image_get(r, "ami-0123456789abcdef1", &got, &e);
                ok(!got.is_public && got.n_launch_permissions == 1,
                   "removing all leaves the account");
                kiln_image_clear(&got);
        }
        {
                kiln_image *list = NULL;
                size_t n = 0;

                is_int(registry_image_list(r, "local", NULL, &list, &n, &e), 0, "list");
                is_int((long long) n, 1, "deregistered images are not listed");
                kiln_images_free(list, n);
        }
        /* 8 processes, 25 writes each, at once */
        {
                pid_t pids[8];
                int failures = 0;
                kiln_image *list = NULL;
                size_t n = 0;

                for (int k = 0; k < 8; k++) {
                        pids[k] = fork();
                        if (pids[k] == 0)
                                _exit(child_writer(db, k));
                }
                for (int k = 0; k < 8; k++) {
                        int st = 0;

                        waitpid(pids[k], &st, 0);
                        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                                failures++;
                }
                is_int(failures, 0, "8 concurrent writers all succeed");
                registry_image_list(r, "local", NULL, &list, &n, &e);
                is_int((long long) n, 201, "and every write is there");
                kiln_images_free(list, n);
        }
        test_migrate_v2(dir);
        r = registry_close(r);
        {
                kiln_autofree char *v2 = kiln_xasprintf("%s/v2.db", dir);
                kiln_autofree char *v2wal = kiln_xasprintf("%s/v2.db-wal", dir);
                kiln_autofree char *v2shm = kiln_xasprintf("%s/v2.db-shm", dir);

                unlink(v2);
                unlink(v2wal);
                unlink(v2shm);
        }
        {
                kiln_autofree char *wal = kiln_xasprintf("%s-wal", db);
                kiln_autofree char *shm = kiln_xasprintf("%s-shm", db);

                unlink(db);
                unlink(wal);
                unlink(shm);
                rmdir(dir);
        }
        return done();
}
