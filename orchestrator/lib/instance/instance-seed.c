/* The instance's NoCloud seed volume. A launch writes it with the instance's private host key,
 * which is how the guest gets the key kiln pins. The first boot takes the key; from then on
 * the pool has no reason to hold it, so the seed is replaced by one without it (the same
 * meta-data, user data and login keys, and a cloud-config under which a later run of the SSH
 * module neither deletes nor makes keys). Who replaces it: whoever first sees the guest answer
 * SSH with the pinned key, that is the start worker that watches the first boot, or any
 * readiness wait. A running QEMU keeps the file it opened; the next start opens the new one.
 *
 * Generalization removes the guest's host keys, so an instance that was generalized for a bake
 * gets a new host key, pinned again, and a seed that carries it until its next boot.
 *
 * The registry records what the seed volume should be: whether it carries the private key,
 * and the SHA-256 of the file kiln wrote. The record is committed before the volume is
 * replaced, so after a crash fsck finds a seed that is missing or not the one recorded and
 * writes it again (with a new key if the lost one was never taken). A seed is rendered from
 * the registry and the instance directory alone. */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "instance/instance-private.h"
#include "keypair/keypair-private.h"
#include "seed/seed.h"
#include "ssh/ssh.h"
#include "util/util.h"

/* How often the watcher tries SSH while the first boot runs. */
#define SEED_FILE_MAX ((size_t) 16 << 20)

/* The SHA-256 of a file as lowercase hex. */
static char *file_sha256(const char *path, kiln_error **err)
{
        kiln_autofree char *data = NULL;
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int md_len = 0;
        size_t len = 0;
        kiln_buf hex = {0};

        if (kiln_file_read(path, SEED_FILE_MAX, &data, &len, err) < 0)
                return NULL;
        if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1) {
                kiln_error_set(err, KILN_E_INTERNAL, NULL, "cannot hash '%s'", path);
                return NULL;
        }
        for (unsigned i = 0; i < md_len; i++)
                kiln_buf_appendf(&hex, "%02x", md[i]);
        return kiln_buf_steal(&hex);
}

/* After the ISO at *iso was written (rc 0): hands it and its SHA-256 over; wipes it on any
 * failure. */
static int iso_finish(int rc, char **iso, char **ret_iso, char **ret_sha256, kiln_error **err)
{
        char *sha = rc == 0 ? file_sha256(*iso, err) : NULL;

        if (!sha) {
                kiln_file_wipe(*iso);
                return -1;
        }
        *ret_iso = kiln_steal(iso);
        *ret_sha256 = sha;
        return 0;
}

int instance_seed_render(kiln_ctx *ctx, const char *id, const seed_spec *spec, char **ret_iso,
                         char **ret_sha256, kiln_error **err)
{
        kiln_autofree char *meta = NULL, *user = NULL;
        kiln_autofree char *iso = instance_file(ctx, id, "seed.iso");
        int rc;

        if (seed_render(spec, &meta, &user, err) < 0)
                return -1;
        rc = seed_write_iso(meta, user, NULL, iso, err);
        explicit_bzero(user, strlen(user));
        return iso_finish(rc, &iso, ret_iso, ret_sha256, err);
}

int instance_configdrive_render(kiln_ctx *ctx, const kiln_instance *inst, const char *launch_key,
                                bool with_password, const void *user_data, size_t user_data_len,
                                char **ret_iso, char **ret_sha256, char **ret_password_data,
                                kiln_error **err)
{
        kiln_autofree char *iso = instance_file(ctx, inst->instance_id, "seed.iso");
        const kiln_host_info *host = instance_host(ctx, inst);
        kiln_autofree char *zone =
                host ? kiln_xstrdup(host->zone) : kiln_xasprintf("%sa", inst->region);
        kiln_autofree char *meta = NULL, *data = NULL;
        seed_configdrive_key key = {inst->key_name ? inst->key_name : "launch-key", launch_key};
        seed_configdrive_spec spec = {0};
        char *password = NULL;
        int rc;

        spec.instance_id = inst->instance_id;
        spec.hostname = inst->instance_id;
        spec.availability_zone = zone;
        spec.launch_index = inst->launch_index;
        spec.admin_username = "Administrator";
        spec.keys = launch_key ? &key : NULL;
        spec.n_keys = launch_key ? 1 : 0;
        if (with_password && launch_key) {
                password = keypair_password_new();
                if (keypair_encrypt_for(launch_key, password, strlen(password), &data, err) < 0) {
                        kiln_keypair_material_free(password);
                        return -1;
                }
                spec.admin_pass = password;
        }
        rc = seed_configdrive_render(&spec, &meta, err);
        kiln_keypair_material_free(password);
        if (rc == 0)
                rc = seed_configdrive_write_iso(meta, user_data, user_data_len, iso, err);
        if (meta)
                kiln_keypair_material_free(kiln_steal(&meta));
        if (iso_finish(rc, &iso, ret_iso, ret_sha256, err) < 0)
                return -1;
        *ret_password_data = kiln_steal(&data);
        return 0;
}

int instance_seed_upload(virStoragePoolPtr pool, const char *volume, const char *iso,
                         kiln_error **err)
{
        kiln_autofree char *path = NULL;
        int rc = virt_volume_upload_raw(pool, volume, iso, true, &path, err);

        /* The image may hold the private key: overwritten, then removed. */
        kiln_file_wipe(iso);
        return rc;
}

int instance_host_key_new(const char *id, char **ret_private, char **ret_public, kiln_error **err)
{
        char *priv = NULL, *pub = NULL;
        size_t n;

        /* Made in memory: the private half lives on only in the seed, until the first boot. */
        if (keypair_generate("ed25519", id, &priv, &pub, err) < 0)
                return -1;
        n = strlen(priv);
        while (n && priv[n - 1] == '\n')
                priv[--n] = '\0';
        *ret_private = priv;
        *ret_public = pub;
        return 0;
}

/* One line of a file in the instance directory; NULL if there is none. */
static char *read_key_line(kiln_ctx *ctx, const char *id, const char *file, kiln_error **err)
{
        kiln_autofree char *path = instance_file(ctx, id, file);

        return instance_read_line(path, err);
}

/* What a seed is made of, read from the registry. */
typedef struct seed_job {
        const char *id;
        kiln_instance inst;
        char *seed_volume;
        void *user_data;
        size_t user_data_len;
        bool keys;
        char *sha256;
        /* the new state, for the transaction that records it */
        bool new_keys;
        const char *new_sha256;
        const char *new_host_key;      /* or NULL: unchanged */
        const char *new_password_data; /* a Windows instance's new password, or NULL */
} seed_job;

static void job_clear(seed_job *j)
{
        kiln_instance_clear(&j->inst);
        free(j->seed_volume);
        if (j->user_data)
                explicit_bzero(j->user_data, j->user_data_len);
        free(j->user_data);
        free(j->sha256);
        j->seed_volume = NULL;
        j->user_data = NULL;
        j->sha256 = NULL;
}

static int job_read(registry *r, void *userdata, kiln_error **err)
{
        seed_job *j = userdata;

        job_clear(j);
        if (registry_instance_get(r, j->id, &j->inst, err) < 0 ||
            registry_instance_private(r, j->id, NULL, &j->seed_volume, NULL, err) < 0)
                return -1;
        return registry_instance_seed(r, j->id, &j->user_data, &j->user_data_len, &j->keys,
                                      &j->sha256, err);
}

static int job_record(registry *r, void *userdata, kiln_error **err)
{
        seed_job *j = userdata;

        if (j->new_host_key && registry_instance_set_host_key(r, j->id, j->new_host_key, err) < 0)
                return -1;
        if (j->new_password_data &&
            registry_instance_set_password(r, j->id, j->new_password_data, err) < 0)
                return -1;
        return registry_instance_set_seed_state(r, j->id, j->new_keys, j->new_sha256, err);
}

/* A live instance with a seed: not terminated, and not one launched before kiln kept seeds'
 * user data (those are left as they are). */
static bool job_applies(const seed_job *j)
{
        return j->seed_volume && strcmp(j->inst.state, "terminated") != 0 &&
               strcmp(j->inst.state, "shutting-down") != 0;
}

static int job_replace(kiln_ctx *ctx, seed_job *j, virStoragePoolPtr pool, const char *iso,
                       kiln_error **err);

/* Writes the seed: with host_private (a new key whose public line is host_public) or without
 * a private key. Recorded first, then the volume replaced. */
static int job_write(kiln_ctx *ctx, seed_job *j, const char *host_private, const char *host_public,
                     kiln_error **err)
{
        kiln_autofree char *launch_key = NULL, *kiln_key = NULL, *iso = NULL, *sha = NULL;
        kiln_autofree char *password_data = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        virStoragePoolPtr pool = instance_pool(ctx, &j->inst, err);
        const char *keys[2];
        size_t n_keys = 0;
        seed_spec spec = {0};

        if (!pool)
                return -1;
        launch_key = read_key_line(ctx, j->id, "launch_key.pub", &e);
        if (!launch_key && (!e || e->code != KILN_E_NOT_FOUND)) {
                *err = kiln_steal(&e);
                return -1;
        }
        if (kiln_platform_is_windows(j->inst.platform)) {
                /* host_private only says "with a secret": for Windows, a new password. */
                if (instance_configdrive_render(ctx, &j->inst, launch_key, host_private != NULL,
                                                j->user_data, j->user_data_len, &iso, &sha,
                                                &password_data, err) < 0)
                        return -1;
                j->new_keys = password_data != NULL;
                j->new_sha256 = sha;
                j->new_host_key = NULL;
                j->new_password_data = password_data;
                return job_replace(ctx, j, pool, iso, err);
        }
        kiln_key = read_key_line(ctx, j->id, "kiln_ed25519.pub", err);
        if (!kiln_key)
                return -1;
        if (launch_key)
                keys[n_keys++] = launch_key;
        keys[n_keys++] = kiln_key;
        spec.instance_id = j->id;
        spec.hostname = j->id;
        spec.default_user = j->inst.default_user;
        spec.authorized_keys = keys;
        spec.n_authorized_keys = n_keys;
        spec.host_key_private = host_private;
        spec.host_key_public = host_public;
        spec.user_data = j->user_data;
        spec.user_data_len = j->user_data_len;
        if (instance_seed_render(ctx, j->id, &spec, &iso, &sha, err) < 0)
                return -1;
        j->new_keys = host_private != NULL;
        j->new_sha256 = sha;
        j->new_host_key = host_private ? host_public : NULL;
        j->new_password_data = NULL;
        return job_replace(ctx, j, pool, iso, err);
}

/* Records the new seed, then puts the ISO in place of the volume. */
static int job_replace(kiln_ctx *ctx, seed_job *j, virStoragePoolPtr pool, const char *iso,
                       kiln_error **err)
{
        kiln_autoptr(kiln_error) e = NULL;

        if (registry_write(ctx->reg, job_record, j, err) < 0) {
                kiln_file_wipe(iso);
                return -1;
        }
        kiln_crash_point("seed.after-record");
        if (virt_volume_delete(pool, j->seed_volume, err) < 0) {
                kiln_file_wipe(iso);
                return -1;
        }
        kiln_crash_point("seed.after-delete");
        /* KILN_E_EXISTS: another process wrote the same seed at the same moment. */
        if (instance_seed_upload(pool, j->seed_volume, iso, &e) < 0 &&
            (!e || e->code != KILN_E_EXISTS)) {
                *err = kiln_steal(&e);
                return -1;
        }
        return 0;
}

typedef enum {
        SEED_SCRUB,   /* without the private key, if it still carries it or is missing */
        SEED_KEYLESS, /* without the private key, whatever the volume holds */
        SEED_REKEY,   /* with a new host key, pinned */
} seed_what;

static int seed_renew(kiln_ctx *ctx, const char *id, seed_what what, kiln_error **err)
{
        seed_job j = {.id = id};
        int rc = registry_read(ctx->reg, job_read, &j, err);

        if (rc == 0 && job_applies(&j)) {
                virStoragePoolPtr pool = instance_pool(ctx, &j.inst, err);

                if (!pool) {
                        rc = -1;
                } else if (what == SEED_REKEY && kiln_platform_is_windows(j.inst.platform)) {
                        rc = job_write(ctx, &j, "", NULL, err);
                } else if (what == SEED_REKEY) {
                        kiln_autofree char *priv = NULL, *pub = NULL;

                        rc = instance_host_key_new(id, &priv, &pub, err);
                        if (rc == 0)
                                rc = job_write(ctx, &j, priv, pub, err);
                        if (priv)
                                explicit_bzero(priv, strlen(priv));
                        if (rc == 0) {
                                free(j.inst.host_key);
                                j.inst.host_key = kiln_steal(&pub);
                                rc = instance_write_known_hosts(ctx, &j.inst, err);
                        }
                } else if (what == SEED_KEYLESS || j.keys ||
                           !virt_volume_exists(pool, j.seed_volume)) {
                        rc = job_write(ctx, &j, NULL, j.inst.host_key, err);
                }
        }
        job_clear(&j);
        return rc;
}

int instance_seed_scrub(kiln_ctx *ctx, const char *id, kiln_error **ret_err)
{
        /* Callers that retry later pass no error pointer: errors are collected here. */
        kiln_autoptr(kiln_error) local = NULL;
        int rc = seed_renew(ctx, id, SEED_SCRUB, &local);

        if (rc < 0 && ret_err && !*ret_err)
                *ret_err = kiln_steal(&local);
        return rc;
}

int instance_rekey(kiln_ctx *ctx, const char *id, kiln_error **err)
{
        return seed_renew(ctx, id, SEED_REKEY, err);
}

int instance_seed_rewrite(kiln_ctx *ctx, const char *id, kiln_error **err)
{
        seed_job j = {.id = id};
        int rc = registry_read(ctx->reg, job_read, &j, err);

        /* A seed that still carries the first boot's private key gets a new one: kiln kept no
         * copy of the old. */
        if (rc == 0)
                rc = seed_renew(ctx, id, j.keys ? SEED_REKEY : SEED_KEYLESS, err);
        job_clear(&j);
        return rc;
}

int instance_seed_check(kiln_ctx *ctx, const char *id, bool repair, bool *ret_ok, kiln_error **err)
{
        seed_job j = {.id = id};
        kiln_autofree char *dir = NULL, *local = NULL, *sha = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        virStoragePoolPtr pool;
        int rc = registry_read(ctx->reg, job_read, &j, err);

        *ret_ok = true;
        if (rc < 0 || !job_applies(&j)) {
                job_clear(&j);
                return rc;
        }
        pool = instance_pool(ctx, &j.inst, err);
        dir = pool ? ctx_workdir(ctx, err) : NULL;
        if (!dir) {
                job_clear(&j);
                return -1;
        }
        local = kiln_xasprintf("%s/seed.iso", dir);
        if (virt_volume_download(pool, j.seed_volume, local, NULL, NULL, &e) == 0)
                sha = file_sha256(local, NULL);
        kiln_file_wipe(local);
        ctx_workdir_remove(dir);
        /* Missing, unreadable, or not what was recorded (a seed from before kiln recorded one
         * is trusted if it is there). */
        *ret_ok = sha && (!j.sha256 || strcmp(sha, j.sha256) == 0);
        if (!*ret_ok && repair)
                /* A private key that was never taken is lost with the seed: a new one. */
                rc = seed_renew(ctx, id, j.keys ? SEED_REKEY : SEED_KEYLESS, err);
        job_clear(&j);
        return rc;
}
