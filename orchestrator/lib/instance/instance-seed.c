/* The instance's NoCloud seed volume. A launch writes it with the instance's private host key,
 * which is how the guest gets the key kiln pins. The first boot takes the key; from then on
 * the pool has no reason to hold it, so the seed is replaced by one without it (the same
 * meta-data, user data and login keys, and a cloud-config under which a later run of the SSH
 * module neither deletes nor makes keys). The registry records which of the two the volume
 * holds; the replacement is rendered from the registry and the instance directory alone.
 *
 * Who replaces it: whoever first sees the guest answer SSH with the pinned key, that is the
 * start worker that watches the first boot, or any readiness wait. A running QEMU keeps the
 * file it opened; the next start opens the new one. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "instance/instance-private.h"
#include "seed/seed.h"
#include "ssh/ssh.h"
#include "util/util.h"

/* How often the watcher tries SSH while the first boot runs. */
#define SEED_WATCH_INTERVAL_MS 3000

int instance_seed_put(kiln_ctx *ctx, virStoragePoolPtr pool, const char *id, const char *volume,
                      const seed_spec *spec, kiln_error **err)
{
        kiln_autofree char *meta = NULL, *user = NULL, *path = NULL;
        kiln_autofree char *iso = instance_file(ctx, id, "seed.iso");
        int rc;

        if (seed_render(spec, &meta, &user, err) < 0)
                return -1;
        rc = seed_write_iso(meta, user, NULL, iso, err);
        explicit_bzero(user, strlen(user));
        if (rc == 0)
                rc = virt_volume_upload_raw(pool, volume, iso, true, &path, err);
        /* The image holds the private key until the upload: overwritten, then removed. */
        kiln_file_wipe(iso);
        return rc;
}

/* One line of a file in the instance directory; NULL if there is none. */
static char *read_key_line(kiln_ctx *ctx, const char *id, const char *file, kiln_error **err)
{
        kiln_autofree char *path = instance_file(ctx, id, file);

        return instance_read_line(path, err);
}

typedef struct scrub {
        const char *id;
        kiln_instance inst;
        char *seed_volume;
        void *user_data;
        size_t user_data_len;
        bool keys;
} scrub;

static void scrub_clear(scrub *s)
{
        kiln_instance_clear(&s->inst);
        free(s->seed_volume);
        if (s->user_data)
                explicit_bzero(s->user_data, s->user_data_len);
        free(s->user_data);
        s->seed_volume = NULL;
        s->user_data = NULL;
}

static int scrub_read(registry *r, void *userdata, kiln_error **err)
{
        scrub *s = userdata;

        scrub_clear(s);
        if (registry_instance_get(r, s->id, &s->inst, err) < 0 ||
            registry_instance_private(r, s->id, NULL, &s->seed_volume, NULL, err) < 0)
                return -1;
        return registry_instance_seed(r, s->id, &s->user_data, &s->user_data_len, &s->keys, err);
}

static int scrub_done(registry *r, void *userdata, kiln_error **err)
{
        scrub *s = userdata;

        return registry_instance_set_seed_keys(r, s->id, false, err);
}

/* The work of instance_seed_scrub, on what scrub_read loaded. */
static int scrub_write(kiln_ctx *ctx, scrub *s, kiln_error **err)
{
        kiln_autofree char *launch_key = NULL, *kiln_key = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        virStoragePoolPtr pool = ctx_pool(ctx, s->inst.region, err);
        const char *keys[2];
        size_t n_keys = 0;
        seed_spec spec = {0};

        if (!pool)
                return -1;
        if (!s->keys && virt_volume_exists(pool, s->seed_volume))
                return 0;
        launch_key = read_key_line(ctx, s->id, "launch_key.pub", &e);
        if (!launch_key && (!e || e->code != KILN_E_NOT_FOUND)) {
                *err = kiln_steal(&e);
                return -1;
        }
        kiln_key = read_key_line(ctx, s->id, "kiln_ed25519.pub", err);
        if (!kiln_key)
                return -1;
        if (launch_key)
                keys[n_keys++] = launch_key;
        keys[n_keys++] = kiln_key;
        spec.instance_id = s->id;
        spec.hostname = s->id;
        spec.default_user = s->inst.default_user;
        spec.authorized_keys = keys;
        spec.n_authorized_keys = n_keys;
        spec.host_key_public = s->inst.host_key;
        spec.user_data = s->user_data;
        spec.user_data_len = s->user_data_len;
        /* Gone before it is written again: a crash in between leaves an instance without a
         * seed, which this makes again (fsck calls it), never one whose old seed is back. */
        if (virt_volume_delete(pool, s->seed_volume, err) < 0)
                return -1;
        kiln_crash_point("seed-scrub.after-delete");
        kiln_error_free(kiln_steal(&e));
        /* KILN_E_EXISTS: another process replaced it at the same moment. */
        if (instance_seed_put(ctx, pool, s->id, s->seed_volume, &spec, &e) < 0 &&
            (!e || e->code != KILN_E_EXISTS)) {
                *err = kiln_steal(&e);
                return -1;
        }
        return registry_write(ctx->reg, scrub_done, s, err);
}

int instance_seed_scrub(kiln_ctx *ctx, const char *id, kiln_error **ret_err)
{
        /* Callers that retry later pass no error pointer: errors are collected here. */
        kiln_autoptr(kiln_error) local = NULL;
        kiln_error **err = &local;
        scrub s = {id, {0}, NULL, NULL, 0, false};
        int rc = registry_read(ctx->reg, scrub_read, &s, err);

        /* A terminated instance's seed is gone for good. */
        if (rc == 0 && s.seed_volume && strcmp(s.inst.state, "terminated") != 0 &&
            strcmp(s.inst.state, "shutting-down") != 0)
                rc = scrub_write(ctx, &s, err);
        scrub_clear(&s);
        if (rc < 0 && ret_err && !*ret_err)
                *ret_err = kiln_steal(&local);
        return rc;
}

void instance_seed_watch(kiln_ctx *ctx, const char *id)
{
        uint64_t deadline = kiln_now_ms() + (uint64_t) INSTANCE_DEFAULT_WAIT_S * 1000;

        while (kiln_now_ms() < deadline && !kiln_interrupted()) {
                kiln_instance inst = {0};
                kiln_autoptr(kiln_ssh) s = NULL;
                void *data = NULL;
                size_t len = 0;
                bool keys = false, live, up = false;

                if (registry_instance_seed(ctx->reg, id, &data, &len, &keys, NULL) < 0)
                        return;
                if (data)
                        explicit_bzero(data, len);
                free(data);
                if (!keys || instance_load(ctx, ctx->reg, id, &inst, NULL) < 0)
                        return;
                live = strcmp(inst.state, "pending") == 0 || strcmp(inst.state, "running") == 0;
                /* SSH that answers with the pinned key: the guest has taken it. */
                if (live && strcmp(inst.state, "running") == 0 &&
                    (inst.host || instance_find_address(ctx, &inst) > 0))
                        up = instance_ssh_connect(ctx, &inst, kiln_now_ms() + 4000, &s, NULL) == 0;
                kiln_instance_clear(&inst);
                if (up)
                        instance_seed_scrub(ctx, id, NULL);
                if (up || !live)
                        return;
                kiln_sleep_ms(SEED_WATCH_INTERVAL_MS);
        }
}
