/* The registry without libvirt: schema, records, name uniqueness, permissions, states, and
 * writers in several processes at once without "database is locked". */
#include <sys/wait.h>

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
        r = registry_close(r);
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
