/* The OpenStack config drive for Windows instances: meta_data.json from a
 * seed_configdrive_spec, and the "config-2" ISO that carries it and the user data to
 * cloudbase-init.
 *
 * The layout is Nova's, which cloudbase-init's ConfigDriveService reads:
 *
 * - configdrive.py looks for a volume labelled "config-2" (compared in lower case) holding
 *   openstack\latest\meta_data.json, on a CD (a mounted ISO 9660), in the raw bytes of a disk
 *   or partition (an ISO it extracts with bsdtar), or on vfat; an ISO with Joliet serves the
 *   first two, and Windows shows Joliet's long names and volume ID.
 * - baseopenstackservice.py reads openstack/latest/user_data (missing: no user data) and from
 *   meta_data.json "uuid", "hostname", the values of "public_keys" and the "ssh" entries of
 *   "keys", "admin_pass" (top level or under "meta") and "meta"."admin_username".
 * - Nova writes the members in _metadata_as_json (nova/api/metadata/base.py): "uuid", "meta",
 *   "admin_pass" (its extra metadata), "public_keys" {key name: line}, "keys" [{"name",
 *   "type", "data"}], "hostname", "name", "launch_index", "availability_zone". kiln writes the
 *   same, in that order, and leaves out what it has no value for (files, network_config,
 *   random_seed, project_id).
 *
 * meta_data.json holds the Administrator's password in the clear on the first boot's drive:
 * it is counted, then written once into a buffer of its exact size (json_dump_callback, which
 * writes each string straight to the callback), so no partial copy is left in a freed buffer,
 * and jansson's own copy of the password is wiped before the value is released. */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <kiln/text.h>

#include "seed/seed-private.h"
#include "seed/seed.h"
#include "util/json.h"
#include "util/util.h"

#define CONFIGDRIVE_LABEL    "config-2"
#define CONFIGDRIVE_DIR      "openstack/latest"
#define CONFIGDRIVE_META     CONFIGDRIVE_DIR "/meta_data.json"
#define CONFIGDRIVE_USER     CONFIGDRIVE_DIR "/user_data"
#define CONFIGDRIVE_FLAGS    (JSON_INDENT(2) | JSON_ENSURE_ASCII)
#define CONFIGDRIVE_NAME_MAX 255 /* EC2's key names */

/* ---- meta_data.json ---- */

static int check_spec(const seed_configdrive_spec *spec, kiln_error **err)
{
        bool id_ok = spec->instance_id && *spec->instance_id &&
                     kiln_text_check("uuid", spec->instance_id, 0, NULL) == 0;

        if (!id_ok)
                return kiln_error_set(
                        err, KILN_E_INVALID, "InvalidInstanceID.Malformed", "Invalid id: \"%s\"",
                        spec->instance_id && *spec->instance_id ? "(not one line of text)"
                                                                : "(none)");
        if (!spec->hostname || !*spec->hostname)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The config drive needs a hostname");
        if (!spec->availability_zone || !*spec->availability_zone)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The config drive needs an availability zone");
        if (spec->launch_index < 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The launch index %ld is negative", spec->launch_index);
        if (kiln_text_check("hostname", spec->hostname, 0, err) < 0 ||
            kiln_text_check("name", spec->name, 0, err) < 0 ||
            kiln_text_check("availability_zone", spec->availability_zone, 0, err) < 0 ||
            kiln_text_check("admin_username", spec->admin_username, 0, err) < 0 ||
            kiln_text_check("admin_pass", spec->admin_pass, 0, err) < 0)
                return -1;
        assert(spec->n_keys == 0 || spec->keys);
        for (size_t i = 0; i < spec->n_keys; i++) {
                const seed_configdrive_key *k = &spec->keys[i];

                if (!k->name || !*k->name)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "A key pair on the config drive needs a name");
                if (kiln_text_check("KeyName", k->name, CONFIGDRIVE_NAME_MAX, err) < 0)
                        return -1;
                for (size_t j = 0; j < i; j++)
                        if (strcmp(spec->keys[j].name, k->name) == 0)
                                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                                      "The key pair '%s' is on the config "
                                                      "drive twice",
                                                      k->name);
                if (!k->line || !*k->line || kiln_text_check("PublicKey", k->line, 0, NULL) < 0)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidKeyPair.Format",
                                              "Key is not in valid OpenSSH public key format");
        }
        return 0;
}

/* Every value has been checked as UTF-8, so jansson takes it. */
static json_t *text(const char *s)
{
        json_t *j = json_string(s);

        if (!j)
                abort(); /* only out of memory */
        return j;
}

static void set(json_t *obj, const char *key, json_t *value)
{
        if (json_object_set_new(obj, key, value) < 0)
                abort();
}

/* The document; *ret_pass borrows the password's value in it (NULL without one). */
static json_t *meta_data_json(const seed_configdrive_spec *spec, json_t **ret_pass)
{
        json_t *root = json_object(), *public_keys = json_object(), *keys = json_array();

        if (!root || !public_keys || !keys)
                abort();
        set(root, "uuid", text(spec->instance_id));
        if (spec->admin_username) {
                json_t *meta = json_object();

                if (!meta)
                        abort();
                set(meta, "admin_username", text(spec->admin_username));
                set(root, "meta", meta);
        }
        *ret_pass = NULL;
        if (spec->admin_pass) {
                *ret_pass = text(spec->admin_pass);
                set(root, "admin_pass", *ret_pass);
        }
        for (size_t i = 0; i < spec->n_keys; i++) {
                json_t *k = json_object();

                if (!k)
                        abort();
                set(public_keys, spec->keys[i].name, text(spec->keys[i].line));
                set(k, "name", text(spec->keys[i].name));
                set(k, "type", text("ssh"));
                set(k, "data", text(spec->keys[i].line));
                if (json_array_append_new(keys, k) < 0)
                        abort();
        }
        set(root, "public_keys", public_keys);
        set(root, "keys", keys);
        set(root, "hostname", text(spec->hostname));
        set(root, "name", text(spec->name ? spec->name : spec->instance_id));
        set(root, "launch_index", json_integer((json_int_t) spec->launch_index));
        set(root, "availability_zone", text(spec->availability_zone));
        return root;
}

/* json_dump_callback's sink: counts when p is NULL, else fills p, never past cap. */
typedef struct dump_sink {
        char *p;
        size_t len;
        size_t cap;
} dump_sink;

static int dump_to(const char *buffer, size_t size, void *data)
{
        dump_sink *sink = data;

        if (sink->p) {
                if (size > sink->cap - sink->len)
                        return -1;
                memcpy(sink->p + sink->len, buffer, size);
        }
        sink->len += size;
        return 0;
}

int seed_configdrive_render(const seed_configdrive_spec *spec, char **ret_meta_data,
                            kiln_error **err)
{
        kiln_autoptr(json_t) root = NULL;
        json_t *pass = NULL;
        dump_sink sink = {0};
        int r;

        assert(spec && ret_meta_data);
        if (check_spec(spec, err) < 0)
                return -1;
        root = meta_data_json(spec, &pass);
        r = json_dump_callback(root, dump_to, &sink, CONFIGDRIVE_FLAGS);
        if (r == 0) {
                sink.cap = sink.len;
                sink.len = 0;
                sink.p = kiln_xmalloc(sink.cap + 1);
                r = json_dump_callback(root, dump_to, &sink, CONFIGDRIVE_FLAGS);
        }
        if (pass) /* jansson's copy of the password, which it would free as it is */
                explicit_bzero((char *) json_string_value(pass), json_string_length(pass));
        if (r != 0 || sink.len != sink.cap) {
                if (sink.p) {
                        explicit_bzero(sink.p, sink.cap);
                        free(sink.p);
                }
                return kiln_error_set(err, KILN_E_INTERNAL, NULL,
                                      "jansson cannot write the config drive's meta_data.json");
        }
        sink.p[sink.len] = '\0';
        *ret_meta_data = sink.p;
        return 0;
}

/* ---- the ISO ---- */

static int build(const char *dir, const char *meta_data, const void *user_data,
                 size_t user_data_len, const char *iso, kiln_error **err)
{
        static const char *const dirs[] = {"openstack", CONFIGDRIVE_DIR};

        for (size_t i = 0; i < KILN_ARRAY_SIZE(dirs); i++) {
                kiln_autofree char *path = kiln_xasprintf("%s/%s", dir, dirs[i]);

                if (mkdir(path, 0700) < 0)
                        return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot create '%s'",
                                                    path);
        }
        if (seed_stage_file(dir, CONFIGDRIVE_META, meta_data, strlen(meta_data), err) < 0 ||
            (user_data_len &&
             seed_stage_file(dir, CONFIGDRIVE_USER, user_data, user_data_len, err) < 0))
                return -1;
        return seed_build_image(dir, CONFIGDRIVE_LABEL, iso, "config drive", err);
}

int seed_configdrive_write_iso(const char *meta_data, const void *user_data, size_t user_data_len,
                               const char *iso_path, kiln_error **err)
{
        static const char *const files[] = {CONFIGDRIVE_META, CONFIGDRIVE_USER};
        static const char *const subdirs[] = {CONFIGDRIVE_DIR, "openstack"};
        kiln_autofree char *iso = NULL, *dir = NULL;
        int r;

        assert(meta_data && iso_path);
        if (!user_data)
                user_data_len = 0;
        if (user_data_len > SEED_USER_DATA_MAX)
                return kiln_error_set(err, KILN_E_LIMIT, "InvalidUserData.Malformed",
                                      "User data is limited to %d bytes", SEED_USER_DATA_MAX);
        dir = seed_staging_new(iso_path, &iso, err);
        if (!dir)
                return -1;
        r = build(dir, meta_data, user_data, user_data_len, iso, err);
        /* meta_data.json may hold the Administrator's password: overwritten before it goes */
        if (seed_staging_remove(dir, files, KILN_ARRAY_SIZE(files), subdirs,
                                KILN_ARRAY_SIZE(subdirs), err) < 0)
                r = -1;
        return r;
}
