/* run-instances. Per instance, as an Apply/Rollback pair: records (pending, with the launching
 * process's PID so that fsck can tell a crash from a launch in progress), one qcow2 overlay per
 * mapping on its snapshot (so launch cost does not grow with image size), host keys and kiln's
 * access key, the NoCloud seed, the domain. Any failure removes everything made so far, for
 * every instance of the request (all or none, as EC2's MinCount = MaxCount). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "image/image-rules.h"
#include "instance/instance-private.h"
#include "keypair/keypair-private.h"
#include "registry/registry-secgroup.h"
#include "seed/seed.h"
#include "tag/tag-private.h"
#include "util/util.h"

#define GIB               (1024ULL * 1024 * 1024)
#define LAUNCH_PORT_TRIES 8

typedef struct launch {
        kiln_ctx *ctx;
        const kiln_run_spec *spec;
        kiln_image img;
        char *type;
        char *accel;
        char *public_key; /* the key pair's */
        char *reservation_id;
        char *request;          /* the request's digest, for its ClientToken */
        char *existing;         /* the reservation a request with the same ClientToken made */
        kiln_group_ref *groups; /* the security groups of every instance */
        size_t n_groups;
} launch;

static void launch_clear(launch *l)
{
        kiln_image_clear(&l->img);
        free(l->type);
        free(l->accel);
        free(l->public_key);
        free(l->reservation_id);
        free(l->request);
        free(l->existing);
        for (size_t i = 0; i < l->n_groups; i++) {
                free(l->groups[i].group_id);
                free(l->groups[i].group_name);
        }
        free(l->groups);
}

/* What a ClientToken stands for: everything the request asks. */
static char *request_digest(const kiln_run_spec *s)
{
        kiln_autofree char *user_data =
                s->user_data ? kiln_base64_encode(s->user_data, s->user_data_len, true) : NULL;
        kiln_buf b = {0};

        kiln_buf_appendf(&b, "image=%s\ntype=%s\nkey=%s\nuser-data=%s\ncount=%d\nnetwork=%s\n",
                         s->image_id, s->instance_type ? s->instance_type : "",
                         s->key_name ? s->key_name : "", user_data ? user_data : "", s->count,
                         s->network ? s->network : "");
        for (size_t i = 0; i < s->n_mappings; i++) {
                const kiln_mapping_spec *m = &s->mappings[i];

                kiln_buf_appendf(&b, "mapping=%s,%s,%lld,%d,%s,%d\n", m->device_name,
                                 m->snapshot_id ? m->snapshot_id : "", (long long) m->volume_size,
                                 m->delete_on_termination, m->volume_type ? m->volume_type : "",
                                 m->no_device);
        }
        for (size_t i = 0; i < s->n_tag_specs; i++)
                for (size_t k = 0; k < s->tag_specs[i].n_tags; k++)
                        kiln_buf_appendf(&b, "tag=%s,%s=%s\n", s->tag_specs[i].resource_type,
                                         s->tag_specs[i].tags[k].key,
                                         s->tag_specs[i].tags[k].value);
        {
                kiln_autofree char *text = kiln_buf_steal(&b);

                return ctx_request_digest(text);
        }
}

/* Everything checked before anything is made. */
static int launch_check(registry *r, void *userdata, kiln_error **err)
{
        launch *l = userdata;
        kiln_autoptr(kiln_error) e = NULL;
        kiln_image img = {0};

        kiln_image_clear(&l->img);
        free(l->public_key);
        l->public_key = NULL;
        if (rules_check_image_id(l->spec->image_id, err) < 0)
                return -1;
        free(l->existing);
        l->existing = NULL;
        if (ctx_token_check(l->ctx, r, l->spec->client_token, "RunInstances", l->request,
                            &l->existing, err) < 0)
                return -1;
        /* A deregistered image is found, and refused below as unavailable (EC2's code). */
        if (registry_image_get(r, l->spec->image_id, &img, &e) < 0 ||
            strcmp(img.region, l->ctx->region->name) != 0) {
                kiln_image_clear(&img);
                if (e && e->code != KILN_E_NOT_FOUND) {
                        *err = kiln_steal(&e);
                        return -1;
                }
                return rules_not_found_image(err, l->spec->image_id);
        }
        if (!rules_can_launch(l->ctx, &img)) {
                kiln_image_clear(&img);
                return rules_not_authorized(err, l->spec->image_id);
        }
        if (strcmp(img.state, "available") != 0) {
                int rc = kiln_error_set(err, KILN_E_STATE, "InvalidAMIID.Unavailable",
                                        "AMI '%s' is %s, and cannot be run", img.image_id,
                                        img.state);

                kiln_image_clear(&img);
                return rc;
        }
        l->img = img;
        if (image_mappings_apply(l->ctx, r, &l->img, l->spec->mappings, l->spec->n_mappings, err) <
            0)
                return -1;
        if (l->spec->key_name) {
                kiln_keypair kp = {0};

                if (keypair_get(l->ctx, r, l->spec->key_name, &kp, err) < 0)
                        return -1;
                l->public_key = kiln_steal(&kp.public_key);
                kiln_keypair_clear(&kp);
        }
        /* The password is encrypted with the key pair's RSA key. */
        if (l->public_key && kiln_platform_is_windows(l->img.platform) &&
            strncmp(l->public_key, "ssh-rsa ", 8) != 0)
                return kiln_error_set(err, KILN_E_INVALID, "Unsupported",
                                      "ED25519 key pairs are not supported with Windows AMIs. "
                                      "Choose a different key pair type and try again. (key "
                                      "pair '%s', image %s)",
                                      l->spec->key_name, l->img.image_id);
        return 0;
}

/* One instance being made, and what to undo. */
typedef struct made {
        const struct launch *launch;
        kiln_instance inst;
        char *dir;
        char *domain;
        char *seed_volume;
        bool recorded;
        bool defined;
        registry_volume *vols;
        size_t n_vols;
        size_t n_vol_files;
        bool seed_file;
        bool nvram_file;    /* its NVRAM volume was written from the image's UEFI data */
        char *host_private; /* wiped and freed as soon as the seed is written */
        char *kiln_public;
        const void *user_data; /* the request's, kept with the instance */
        size_t user_data_len;
        const char *seed_sha256;        /* while the seed is recorded */
        const char *password_data;      /* a Windows instance's, while it is recorded */
        const kiln_tag_spec *tag_specs; /* the request's TagSpecifications */
        size_t n_tag_specs;
        kiln_ctx *ctx;
        const char *request; /* the first instance records the request's ClientToken */
} made;

static bool seed_has_secret(const made *m)
{
        return !kiln_platform_is_windows(m->inst.platform) || m->launch->public_key;
}

static int insert_records(registry *r, void *userdata, kiln_error **err)
{
        made *m = userdata;

        /* The seed carries a secret until the first boot takes it: the private host key, or
         * a Windows instance's password (which it has only with a key pair). */
        if (registry_instance_insert(r, &m->inst, m->domain, m->seed_volume, getpid(), err) < 0 ||
            registry_instance_set_seed(r, m->inst.instance_id, m->user_data, m->user_data_len,
                                       seed_has_secret(m), err) < 0)
                return -1;
        for (size_t i = 0; i < m->n_vols; i++)
                if (registry_volume_insert(r, &m->vols[i], err) < 0 ||
                    tag_specs_apply(r, m->tag_specs, m->n_tag_specs, "volume", m->vols[i].volume_id,
                                    err) < 0)
                        return -1;
        if (tag_specs_apply(r, m->tag_specs, m->n_tag_specs, "instance", m->inst.instance_id, err) <
            0)
                return -1;
        for (size_t i = 0; i < m->launch->n_groups; i++)
                if (registry_sg_member_add(r, m->inst.instance_id, m->launch->groups[i].group_id,
                                           (int) i, err) < 0)
                        return -1;
        if (m->request && ctx_token_record(m->ctx, r, m->inst.client_token, "RunInstances",
                                           m->request, m->inst.reservation_id, err) < 0)
                return -1;
        /* A retried transaction reads them again. */
        kiln_tags_free(m->inst.tags, m->inst.n_tags);
        m->inst.tags = NULL;
        m->inst.n_tags = 0;
        return registry_tags_get(r, m->inst.instance_id, &m->inst.tags, &m->inst.n_tags, err);
}

static int forget_records(registry *r, void *userdata, kiln_error **err)
{
        made *m = userdata;

        if (m->request && ctx_token_forget(m->ctx, r, m->inst.client_token, err) < 0)
                return -1;
        return registry_instance_delete(r, m->inst.instance_id, err);
}

static void made_rollback(launch *l, made *m)
{
        virStoragePoolPtr pool = instance_pool(l->ctx, &m->inst, NULL);
        virConnectPtr conn = instance_conn(l->ctx, &m->inst, NULL);

        if (m->defined && conn)
                virt_domain_remove(conn, m->domain, NULL);
        if (m->recorded)
                instance_firewall_remove(l->ctx, &m->inst);
        if (pool && m->seed_file)
                virt_volume_delete(pool, m->seed_volume, NULL);
        for (size_t i = 0; pool && i < m->n_vol_files; i++)
                virt_volume_delete(pool, m->vols[i].volume, NULL);
        if (pool && m->nvram_file)
                virt_volume_delete(pool, m->inst.nvram_volume, NULL);
        if (m->recorded)
                registry_write(l->ctx->reg, forget_records, m, NULL);
        if (m->dir)
                ctx_workdir_remove(m->dir);
}

static void made_clear(made *m)
{
        if (m->host_private)
                explicit_bzero(m->host_private, strlen(m->host_private));
        free(m->host_private);
        free(m->kiln_public);
        kiln_instance_clear(&m->inst);
        free(m->dir);
        free(m->domain);
        free(m->seed_volume);
        registry_volumes_free(m->vols, m->n_vols);
        memset(m, 0, sizeof(*m));
}

/* The instance's host key (its private half goes only into the seed) and kiln's access key,
 * made before the records so that the pinned key is recorded with the instance. */
static int make_keys(launch *l, made *m, kiln_error **err)
{
        kiln_autofree char *kiln_key = instance_file(l->ctx, m->inst.instance_id, "kiln_ed25519");
        kiln_autofree char *kiln_pub = kiln_xasprintf("%s.pub", kiln_key);
        kiln_autofree char *pub_line = NULL;
        char *secret = NULL;
        int rc;

        if (instance_host_key_new(m->inst.instance_id, &m->host_private, &m->inst.host_key, err) <
                    0 ||
            keypair_generate("ed25519", "kiln-access", &secret, &m->kiln_public, err) < 0)
                return -1;
        rc = kiln_file_write_private(kiln_key, secret, err);
        explicit_bzero(secret, strlen(secret));
        free(secret);
        pub_line = kiln_xasprintf("%s\n", m->kiln_public);
        if (rc < 0 || kiln_file_write_private(kiln_pub, pub_line, err) < 0)
                return -1;
        /* The key pair's public key, which generalization removes before a bake even if the
         * key pair is deleted by then. */
        if (l->public_key) {
                kiln_autofree char *path =
                        instance_file(l->ctx, m->inst.instance_id, "launch_key.pub");
                FILE *f = fopen(path, "we");
                int bad = !f;

                if (f) {
                        bad = fprintf(f, "%s\n", l->public_key) < 0;
                        bad = fclose(f) != 0 || bad;
                }
                if (bad)
                        return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot write '%s'",
                                                    path);
        }
        return 0;
}

static int record_seed(registry *r, void *userdata, kiln_error **err)
{
        made *m = userdata;

        if (m->password_data &&
            registry_instance_set_password(r, m->inst.instance_id, m->password_data, err) < 0)
                return -1;
        return registry_instance_set_seed_state(r, m->inst.instance_id, seed_has_secret(m),
                                                m->seed_sha256, err);
}

/* Records the seed's state, then uploads the ISO (*iso: wiped in any case). */
static int seed_record_upload(launch *l, made *m, virStoragePoolPtr pool, char **iso, char **sha,
                              kiln_error **err)
{
        int rc;

        m->seed_sha256 = *sha;
        rc = registry_write(l->ctx->reg, record_seed, m, err);
        m->seed_sha256 = NULL;
        m->password_data = NULL;
        if (rc < 0) {
                kiln_file_wipe(*iso);
                return -1;
        }
        if (instance_seed_upload(pool, m->seed_volume, *iso, err) < 0)
                return -1;
        m->seed_file = true;
        return 0;
}

/* The seed, with the private host key the first boot takes; for Windows, the config drive
 * with the password the first boot sets. */
static int make_seed(launch *l, made *m, virStoragePoolPtr pool, kiln_error **err)
{
        kiln_autofree char *iso = NULL, *sha = NULL, *password_data = NULL;
        const char *keys[2];
        size_t n_keys = 0;
        seed_spec s = {0};

        if (kiln_platform_is_windows(m->inst.platform)) {
                if (instance_configdrive_render(l->ctx, &m->inst, l->public_key, true,
                                                l->spec->user_data, l->spec->user_data_len, &iso,
                                                &sha, &password_data, err) < 0)
                        return -1;
                m->password_data = password_data;
                return seed_record_upload(l, m, pool, &iso, &sha, err);
        }
        if (l->public_key)
                keys[n_keys++] = l->public_key;
        keys[n_keys++] = m->kiln_public;
        s.instance_id = m->inst.instance_id;
        s.hostname = m->inst.instance_id;
        s.default_user = m->inst.default_user;
        s.authorized_keys = keys;
        s.n_authorized_keys = n_keys;
        s.host_key_private = m->host_private;
        s.host_key_public = m->inst.host_key;
        s.user_data = l->spec->user_data;
        s.user_data_len = l->spec->user_data_len;
        if (instance_seed_render(l->ctx, m->inst.instance_id, &s, &iso, &sha, err) < 0)
                return -1;
        return seed_record_upload(l, m, pool, &iso, &sha, err);
}

/* One volume file of an instance. The files are made on threads of their own, while the seed
 * is made: libvirt unlocks a pool while qemu-img builds a volume in it, so four volumes cost
 * about what one does, and the launch does not grow with its mapping. */
typedef struct vol_job {
        virStoragePoolPtr pool;
        const char *name;
        char *backing; /* the snapshot's file, or NULL for an empty volume */
        unsigned long long capacity;
        pthread_t thread;
        bool threaded;
        int rc;
        kiln_error *err;
} vol_job;

static void *vol_job_run(void *userdata)
{
        vol_job *j = userdata;
        kiln_autofree char *path = NULL;

        j->rc = j->backing
                        ? virt_volume_create_overlay(j->pool, j->name, j->backing, j->capacity,
                                                     &path, &j->err)
                        : virt_volume_create_empty(j->pool, j->name, j->capacity, &path, &j->err);
        return NULL;
}

/* Looks up every snapshot first (nothing is made if one is gone), then starts the jobs; where
 * a thread cannot be had, the job runs here. */
static int volumes_start(launch *l, made *m, virStoragePoolPtr pool, vol_job **ret,
                         kiln_error **err)
{
        vol_job *jobs = kiln_xcalloc(m->n_vols + 1, sizeof(*jobs));

        for (size_t i = 0; i < m->n_vols; i++) {
                registry_snapshot snap = {0};
                virt_volume_info info = {0};
                vol_job *j = &jobs[i];
                int rc = 0;

                j->pool = pool;
                j->name = m->vols[i].volume;
                j->capacity = (unsigned long long) m->vols[i].size * GIB;
                if (!m->vols[i].snapshot_id)
                        continue;
                rc = registry_snapshot_get(l->ctx->reg, m->vols[i].snapshot_id, &snap, err);
                if (rc == 0)
                        rc = virt_volume_get_info(pool, snap.volume, &info, err);
                if (rc == 0 && info.capacity > j->capacity)
                        j->capacity = info.capacity;
                if (rc == 0)
                        j->backing = kiln_steal(&info.path);
                virt_volume_info_clear(&info);
                registry_snapshot_clear(&snap);
                if (rc < 0) {
                        for (size_t k = 0; k <= i; k++)
                                free(jobs[k].backing);
                        free(jobs);
                        return -1;
                }
        }
        /* From here the rollback removes every file that may have been made. */
        m->n_vol_files = m->n_vols;
        for (size_t i = 0; i < m->n_vols; i++) {
                jobs[i].threaded =
                        pthread_create(&jobs[i].thread, NULL, vol_job_run, &jobs[i]) == 0;
                if (!jobs[i].threaded)
                        vol_job_run(&jobs[i]);
        }
        *ret = jobs;
        return 0;
}

/* Waits for every job; the first failure is the error (err NULL: one is already set). */
static int volumes_join(made *m, vol_job *jobs, kiln_error **err)
{
        int rc = 0;

        for (size_t i = 0; jobs && i < m->n_vols; i++) {
                if (jobs[i].threaded)
                        pthread_join(jobs[i].thread, NULL);
                if (jobs[i].rc < 0 && rc == 0 && err)
                        *err = kiln_steal(&jobs[i].err);
                if (jobs[i].rc < 0)
                        rc = -1;
                kiln_error_free(jobs[i].err);
                free(jobs[i].backing);
        }
        free(jobs);
        return rc;
}

typedef struct uefi_read {
        const char *image_id;
        void *data;
        size_t len;
} uefi_read;

static int read_uefi(registry *r, void *userdata, kiln_error **err)
{
        uefi_read *u = userdata;

        free(u->data);
        return registry_image_uefi_data(r, u->image_id, &u->data, &u->len, err);
}

/* The image's UEFI variables become the new instance's NVRAM volume (without them, libvirt
 * makes it from the firmware's template at the first start). */
static int nvram_from_image(launch *l, made *m, virStoragePoolPtr pool, kiln_error **err)
{
        uefi_read u = {l->img.image_id, NULL, 0};
        kiln_autofree char *dir = NULL, *file = NULL, *path = NULL;
        int rc = -1;

        if (registry_read(l->ctx->reg, read_uefi, &u, err) < 0)
                goto out;
        dir = ctx_workdir(l->ctx, err);
        if (!dir)
                goto out;
        file = kiln_xasprintf("%s/nvram.fd", dir);
        if (kiln_file_write_private_data(file, u.data, u.len, err) == 0 &&
            virt_volume_upload_raw(pool, m->inst.nvram_volume, file, false, &path, err) == 0) {
                m->nvram_file = true;
                rc = 0;
        }
        ctx_workdir_remove(dir);
out:
        free(u.data);
        return rc;
}

/* MiB of memory the host has that kiln's live instances there were not given: its total less
 * the memory of their types. -1 when the host does not answer. */
static long long host_room(launch *l, const kiln_host_info *h, const kiln_instance *list, size_t n)
{
        virConnectPtr conn = ctx_host_conn(l->ctx, l->ctx->region->name, h->host_id, NULL);
        virNodeInfo info;
        long long room;

        if (!conn || virNodeGetInfo(conn, &info) < 0)
                return -1;
        room = (long long) (info.memory / 1024);
        for (size_t i = 0; i < n; i++) {
                const char *on =
                        list[i].host_id ? list[i].host_id : l->ctx->region->hosts[0].host_id;
                unsigned vcpus = 0, mem = 0;

                if (strcmp(on, h->host_id) != 0 || (strcmp(list[i].state, "pending") != 0 &&
                                                    strcmp(list[i].state, "running") != 0))
                        continue;
                if (instance_type_lookup(list[i].instance_type, NULL, &vcpus, &mem, NULL) == 0)
                        room -= mem;
        }
        return room;
}

/* Whether the host holds every layer the image's mappings start from. */
static int host_has_layers(launch *l, const kiln_host_info *h, kiln_error **err)
{
        for (size_t i = 0; i < l->img.n_mappings; i++) {
                int have;

                if (!l->img.mappings[i].snapshot_id)
                        continue;
                have = image_layer_on_host(l->ctx, l->ctx->region, l->img.mappings[i].snapshot_id,
                                           h->host_id, err);
                if (have <= 0)
                        return have;
        }
        return 1;
}

/* In a region of several hosts: the host the launch names (Placement's AvailabilityZone), or
 * else, among the hosts that answer (and for Windows, that are not reached through a jump
 * host), the one with room for the instance that holds the image's layers, then the most room
 * (host_room). The image's layers are then brought to it. A region of one host has nothing to
 * choose: the instance records no host. */
static int launch_place(launch *l, made *m, kiln_error **err)
{
        const kiln_region_info *region = l->ctx->region;
        const kiln_host_info *best = NULL;
        long long best_room = 0;
        int best_fit = 0, best_layers = 0;
        kiln_instance *list = NULL;
        size_t n = 0;
        unsigned vcpus = 0, mem = 0;

        if (region->n_hosts < 2)
                return 0;
        if (l->spec->availability_zone && *l->spec->availability_zone)
                best = kiln_region_host(region, l->spec->availability_zone);
        if (!best) {
                if (instance_type_lookup(l->type, NULL, &vcpus, &mem, err) < 0 ||
                    registry_instance_list(l->ctx->reg, region->name, NULL, &list, &n, err) < 0)
                        return -1;
                for (size_t i = 0; i < region->n_hosts; i++) {
                        const kiln_host_info *h = &region->hosts[i];
                        long long room = host_room(l, h, list, n);
                        int fit = room >= (long long) mem, layers;

                        if (room < 0)
                                continue; /* a host that does not answer */
                        if (h->jump && !l->spec->network && l->img.platform &&
                            kiln_platform_is_windows(l->img.platform))
                                continue; /* RDP does not go through a jump host */
                        layers = host_has_layers(l, h, err);
                        if (layers < 0) {
                                kiln_instances_free(list, n);
                                return -1;
                        }
                        if (!best || fit > best_fit || (fit == best_fit && layers > best_layers) ||
                            (fit == best_fit && layers == best_layers && room > best_room)) {
                                best = h;
                                best_room = room;
                                best_fit = fit;
                                best_layers = layers;
                        }
                }
                kiln_instances_free(list, n);
        }
        if (!best)
                return kiln_error_set(err, KILN_E_LIBVIRT, "InsufficientInstanceCapacity",
                                      "No host of region '%s' answers: there is no capacity "
                                      "for the instance",
                                      region->name);
        m->inst.host_id = kiln_xstrdup(best->host_id);
        m->inst.zone = kiln_xstrdup(best->zone);
        for (size_t i = 0; i < l->img.n_mappings; i++)
                if (l->img.mappings[i].snapshot_id &&
                    image_layers_bring(l->ctx, region, l->img.mappings[i].snapshot_id,
                                       best->host_id, err) < 0)
                        return -1;
        return 0;
}

static int launch_one(launch *l, int index, made *m, kiln_error **err)
{
        virStoragePoolPtr pool;
        kiln_autofree char *now = kiln_time_now_iso();
        bool windows = kiln_platform_is_windows(l->img.platform);
        vol_job *jobs = NULL;
        int rc;

        m->inst.region = kiln_xstrdup(l->ctx->region->name);
        if (launch_place(l, m, err) < 0 || !(pool = instance_pool(l->ctx, &m->inst, err)))
                return -1;
        /* kiln checks RDP itself, with no SSH in between: a jump host cannot carry it. */
        if (windows && !l->spec->network && instance_host(l->ctx, &m->inst)->jump)
                return kiln_error_set(err, KILN_E_UNSUPPORTED, "Unsupported",
                                      "A Windows instance cannot run on host %s of region '%s': "
                                      "it is reached through a jump host (ProxyJump), which "
                                      "carries SSH only; give the host a ListenAddress",
                                      instance_host(l->ctx, &m->inst)->host_id,
                                      l->ctx->region->name);
        m->inst.instance_id = kiln_id_new("i");
        m->ctx = l->ctx;
        m->launch = l;
        m->request = index == 0 && l->spec->client_token ? l->request : NULL;
        m->inst.client_token = l->spec->client_token ? kiln_xstrdup(l->spec->client_token) : NULL;
        m->user_data = l->spec->user_data;
        m->user_data_len = l->spec->user_data_len;
        m->tag_specs = l->spec->tag_specs;
        m->n_tag_specs = l->spec->n_tag_specs;
        m->inst.reservation_id = kiln_xstrdup(l->reservation_id);
        m->inst.owner_id = kiln_xstrdup(l->ctx->account);
        m->inst.image_id = kiln_xstrdup(l->img.image_id);
        m->inst.instance_type = kiln_xstrdup(l->type);
        m->inst.key_name = kiln_xstrdup(l->spec->key_name);
        m->inst.state = kiln_xstrdup("pending");
        m->inst.launch_time = kiln_xstrdup(now);
        m->inst.launch_index = index;
        m->inst.platform = kiln_xstrdup(l->img.platform);
        m->inst.default_user = kiln_xstrdup(windows ? "Administrator" : l->img.default_user);
        m->inst.architecture = kiln_xstrdup(l->img.architecture);
        /* uefi-preferred: every kiln instance type can boot UEFI. */
        m->inst.boot_mode = kiln_xstrdup(
                !l->img.boot_mode || strcmp(l->img.boot_mode, "legacy-bios") == 0 ? "legacy-bios"
                                                                                  : "uefi");
        m->inst.tpm_support = kiln_xstrdup(l->img.tpm_support);
        m->inst.secure_boot = l->img.secure_boot;
        m->inst.no_ena = l->img.no_ena;
        m->inst.rtc = l->img.rtc ? kiln_xstrdup(l->img.rtc) : NULL;
        if (strcmp(m->inst.boot_mode, "uefi") == 0)
                m->inst.nvram_volume = kiln_xasprintf("%s-nvram.fd", m->inst.instance_id);
        m->inst.root_device_name = kiln_xstrdup(l->img.root_device_name);
        m->inst.network = kiln_xstrdup(l->spec->network);
        /* On a libvirt network the address comes from a DHCP lease, once the guest has one. */
        m->inst.host =
                l->spec->network ? NULL : kiln_xstrdup(instance_listen_address(l->ctx, &m->inst));
        m->inst.accel = kiln_xstrdup(l->accel);
        m->inst.vpc_id = instance_vpc_id(m->inst.region);
        m->inst.subnet_id = instance_subnet_id(m->inst.region);
        m->domain = kiln_xstrdup(m->inst.instance_id);
        m->seed_volume = kiln_xasprintf("%s-seed.iso", m->inst.instance_id);
        m->dir = instance_dir(l->ctx, m->inst.instance_id);
        if (mkdir(m->dir, 0700) < 0 && errno != EEXIST) {
                kiln_autofree char *parent = kiln_xasprintf("%s/instances", l->ctx->home);

                if (mkdir(parent, 0700) < 0 && errno != EEXIST)
                        return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot create '%s'",
                                                    parent);
                if (mkdir(m->dir, 0700) < 0)
                        return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot create '%s'",
                                                    m->dir);
        }
        m->vols = kiln_xcalloc(l->img.n_mappings + 1, sizeof(*m->vols));
        m->inst.volumes = kiln_xcalloc(l->img.n_mappings + 1, sizeof(*m->inst.volumes));
        for (size_t i = 0; i < l->img.n_mappings; i++) {
                registry_volume *v = &m->vols[m->n_vols++];
                kiln_instance_volume *iv = &m->inst.volumes[m->inst.n_volumes++];

                v->volume_id = kiln_id_new("vol");
                v->region = kiln_xstrdup(l->ctx->region->name);
                v->host_id = m->inst.host_id ? kiln_xstrdup(m->inst.host_id) : NULL;
                v->owner_id = kiln_xstrdup(l->ctx->account);
                v->instance_id = kiln_xstrdup(m->inst.instance_id);
                v->device_name = kiln_xstrdup(l->img.mappings[i].device_name);
                v->snapshot_id = l->img.mappings[i].snapshot_id
                                         ? kiln_xstrdup(l->img.mappings[i].snapshot_id)
                                         : NULL;
                v->volume = kiln_xasprintf("%s.qcow2", v->volume_id);
                v->size = l->img.mappings[i].volume_size;
                v->delete_on_termination = l->img.mappings[i].delete_on_termination;
                v->state = kiln_xstrdup("creating");
                v->create_time = kiln_xstrdup(now);
                v->volume_type = kiln_xstrdup(l->img.mappings[i].volume_type);
                v->attach_time = kiln_xstrdup(now);
                v->position = (int) i;
                iv->volume_id = kiln_xstrdup(v->volume_id);
                iv->device_name = kiln_xstrdup(v->device_name);
                iv->snapshot_id = v->snapshot_id ? kiln_xstrdup(v->snapshot_id) : NULL;
                iv->size = v->size;
                iv->delete_on_termination = v->delete_on_termination;
                iv->attach_time = kiln_xstrdup(now);
                iv->file = kiln_xstrdup(v->volume);
        }
        if (make_keys(l, m, err) < 0)
                return -1;
        for (int tries = 0;; tries++) {
                kiln_autoptr(kiln_error) e = NULL;

                m->inst.port = !l->spec->network
                                       ? instance_free_port(l->ctx->region,
                                                            instance_host(l->ctx, &m->inst), err)
                               : windows ? 3389
                                         : 22;
                if (m->inst.port < 0)
                        return -1;
                if (registry_write(l->ctx->reg, insert_records, m, &e) == 0)
                        break;
                if (e->code != KILN_E_EXISTS || tries >= LAUNCH_PORT_TRIES) {
                        *err = kiln_steal(&e);
                        return -1;
                }
        }
        m->recorded = true;
        kiln_crash_point("run.after-records");
        if (volumes_start(l, m, pool, &jobs, err) < 0)
                return -1;
        rc = make_seed(l, m, pool, err);
        if (volumes_join(m, jobs, rc < 0 ? NULL : err) < 0 || rc < 0)
                return -1;
        explicit_bzero(m->host_private, strlen(m->host_private));
        if (l->img.has_uefi_data && nvram_from_image(l, m, pool, err) < 0)
                return -1;
        if (instance_firewall_apply(l->ctx, &m->inst, false, err) < 0)
                return -1;
        if (instance_define(l->ctx, &m->inst, m->domain, m->seed_volume, err) < 0)
                return -1;
        m->defined = true;
        kiln_crash_point("run.before-start");
        return instance_write_known_hosts(l->ctx, &m->inst, err);
}

/* The security groups named, or the default one. */
static int launch_groups(registry *r, void *userdata, kiln_error **err)
{
        launch *l = userdata;
        kiln_group_ref def = {0};

        for (size_t i = 0; i < l->n_groups; i++) {
                free(l->groups[i].group_id);
                free(l->groups[i].group_name);
        }
        free(l->groups);
        l->groups = NULL;
        l->n_groups = 0;
        if (instance_groups_resolve(l->ctx, r, l->spec, &l->groups, &l->n_groups, err) < 0)
                return -1;
        if (l->n_groups > 0)
                return 0;
        if (instance_default_group(l->ctx, r, &def, err) < 0)
                return -1;
        l->groups = kiln_xrealloc(l->groups, sizeof(*l->groups));
        l->groups[0] = def;
        l->n_groups = 1;
        return 0;
}

/* What TagSpecifications may name at launch. */
static const char *const launch_tag_types[] = {"instance", "volume", NULL};

static int launch_prepare(launch *l, kiln_error **err)
{
        kiln_kvm_probe probe;
        kiln_accel accel = KILN_ACCEL_TCG;
        unsigned vcpus, mem;

        if (ctx_token_validate(l->spec->client_token, err) < 0)
                return -1;
        if (l->spec->subnet_id && *l->spec->subnet_id) {
                kiln_autofree char *mine = instance_subnet_id(l->ctx->region->name);

                if (strcmp(l->spec->subnet_id, mine) != 0)
                        return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidSubnetID.NotFound",
                                              "The subnet ID '%s' does not exist (region %s has "
                                              "one: %s)",
                                              l->spec->subnet_id, l->ctx->region->name, mine);
        }
        if (l->spec->availability_zone && *l->spec->availability_zone) {
                const kiln_region_info *region = l->ctx->region;
                const kiln_host_info *h = kiln_region_host(region, l->spec->availability_zone);

                if (!h || strcmp(h->zone, l->spec->availability_zone) != 0) {
                        kiln_autofree char *zones = kiln_xstrdup(region->hosts[0].zone);

                        for (size_t i = 1; i < region->n_hosts; i++) {
                                char *more = kiln_xasprintf("%s, %s", zones, region->hosts[i].zone);

                                free(zones);
                                zones = more;
                        }
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "Invalid availability zone: [%s]; region '%s' has "
                                              "%s: %s",
                                              l->spec->availability_zone, region->name,
                                              region->n_hosts > 1 ? "these" : "one", zones);
                }
        }
        l->request = request_digest(l->spec);
        if (l->spec->count < 1 || l->spec->count > 20)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The count must be between 1 and 20, not %d", l->spec->count);
        if (l->spec->user_data &&
            seed_check_user_data(l->spec->user_data, l->spec->user_data_len, err) < 0)
                return -1;
        if (tag_specs_check(l->spec->tag_specs, l->spec->n_tag_specs, launch_tag_types, err) < 0)
                return -1;
        if (instance_type_lookup(l->spec->instance_type, &l->type, &vcpus, &mem, err) < 0)
                return -1;
        if (l->spec->network && instance_check_network(l->ctx, l->spec->network, err) < 0)
                return -1;
        kiln_host_probe_kvm(&probe);
        if (kiln_accel_resolve(l->spec->accel, &probe, &accel, err) < 0)
                return -1;
        l->accel = kiln_xstrdup(kiln_accel_to_string(accel));
        if (registry_read(l->ctx->reg, launch_check, l, err) < 0)
                return -1;
        /* Last, as it writes (the default group, when it is not there yet): a dry run ends
         * here. */
        if (registry_write(l->ctx->reg, launch_groups, l, err) < 0)
                return -1;
        if (!kiln_platform_is_windows(l->img.platform) &&
            (!l->img.default_user || !*l->img.default_user))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The image %s does not name its login user; register it "
                                      "with --default-user",
                                      l->img.image_id);
        return 0;
}

int kiln_instances_run(kiln_ctx *ctx, const kiln_run_spec *spec, kiln_instance **ret, size_t *ret_n,
                       kiln_error **err)
{
        kiln_run_spec s = *spec;
        launch l = {.ctx = ctx, .spec = &s};
        made *m;
        int count, rc = 0, done = 0;

        if (s.count == 0)
                s.count = 1;
        /* The region's network is the default; "user" asks for user networking anyway. */
        if (!s.network)
                s.network = ctx->region->network;
        if (s.network && strcmp(s.network, "user") == 0)
                s.network = NULL;
        if (launch_prepare(&l, err) < 0) {
                launch_clear(&l);
                return -1;
        }
        if (l.existing) {
                /* A retry: the instances the first request launched, as they are now. */
                const char *values[] = {l.existing};
                kiln_filter f = {"reservation-id", values, 1};

                rc = kiln_instances_describe(ctx, NULL, 0, &f, 1, ret, ret_n, err);
                launch_clear(&l);
                return rc;
        }
        count = s.count;
        l.reservation_id = kiln_id_new("r");
        m = kiln_xcalloc((size_t) count, sizeof(*m));
        for (int i = 0; rc == 0 && i < count; i++, done++)
                rc = launch_one(&l, i, &m[i], err);
        if (rc < 0)
                for (int i = 0; i < done; i++)
                        made_rollback(&l, &m[i]);
        /* Every instance is complete but for its start: as EC2, return them pending and let
         * the domains start in the background (instance_start_detached). */
        for (int i = 0; rc == 0 && i < count; i++)
                rc = instance_start_detached(ctx, m[i].inst.instance_id, err);
        if (rc == 0) {
                *ret = kiln_xcalloc((size_t) count, sizeof(**ret));
                for (int i = 0; i < count; i++) {
                        (*ret)[i] = m[i].inst;
                        memset(&m[i].inst, 0, sizeof(m[i].inst));
                }
                *ret_n = (size_t) count;
        }
        for (int i = 0; i < count; i++)
                made_clear(&m[i]);
        free(m);
        launch_clear(&l);
        return rc;
}
