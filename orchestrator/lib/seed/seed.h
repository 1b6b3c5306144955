/* The NoCloud seed: an instance's meta-data and user-data, and the ISO 9660 image labelled
 * "cidata" that carries them to cloud-init. Rendering is pure (inputs to bytes); only
 * seed_write_iso touches the file system, and it runs xorriso through kiln_cmd.
 *
 * user-data without user data is kiln's own #cloud-config. With user data it is a MIME
 * multipart archive: the user's data first, as one part with its own content type (or, for a
 * MIME archive, that archive nested whole), and kiln's #cloud-config last, with a Merge-Type
 * header under which cloud-init appends kiln's lists (authorized keys) to the user's and lets
 * kiln's strings (login user name, pinned host key) win. seed.c explains the choice. */
#ifndef KILN_SEED_H
#define KILN_SEED_H

#include <stddef.h>

#include <kiln/error.h>

/* EC2's limit on user data, in raw bytes before base64. */
#define SEED_USER_DATA_MAX 16384

/* What one instance's seed says. Every string is borrowed and must be UTF-8 without control
 * characters (the private key: lines of printable ASCII). */
typedef struct seed_spec {
        const char *instance_id;  /* i-0123456789abcdef0: meta-data instance-id (required) */
        const char *hostname;     /* meta-data local-hostname; NULL or "": left out */
        const char *default_user; /* the login user the image expects ("admin", "ubuntu");
                                     NULL or "": cloud-init's configured default user */
        const char *const *authorized_keys; /* OpenSSH public key lines for that user */
        size_t n_authorized_keys;
        const char *host_key_private; /* ed25519 host key, OpenSSH private key text; NULL for
                                         the seed an instance keeps once its first boot took
                                         the key (no ssh_keys, ssh_deletekeys: false) */
        const char *host_key_public;  /* its public line (required) */
        const void *user_data;        /* the user's data, raw bytes; NULL: none */
        size_t user_data_len;
} seed_spec;

/* Checks user data as EC2 and cloud-init 22.4 would take it. NULL or zero bytes is "no user
 * data" and passes. Refused, with api code "InvalidUserData.Malformed":
 *   - more than SEED_USER_DATA_MAX bytes (KILN_E_LIMIT, "User data is limited to 16384 bytes");
 *   - anything but gzip (1f 8b, accepted as is) that is not UTF-8 text without NUL bytes;
 *   - a #cloud-config document that is not YAML, is empty, holds more than one document, uses
 *     a tag cloud-init's safe loader refuses, or has no mapping at the top (the message names
 *     the line and column); a #cloud-config-archive without a list at the top;
 *   - MIME (a "MIME-Version:" header in the first 4096 bytes, cloud-init's test) that does not
 *     start with a header block, or that is multipart without a boundary or without a part
 *     delimited by it; text that starts with a Content-Type header but has no MIME-Version
 *     (cloud-init would silently ignore it).
 * Scripts ("#!"), "#include", "#include-once", "#cloud-boothook", "#part-handler",
 * "#cloud-config-jsonp", "## template: jinja" and other UTF-8 text pass as they are. All
 * other refusals are KILN_E_INVALID. */
int seed_check_user_data(const void *data, size_t len, kiln_error **err);

/* A login user name as cloud-init creates it and kiln puts it in commands: 1 to 32 letters,
 * digits, '_', '.' and '-', not starting with '-' or '.' (InvalidParameterValue otherwise). */
int seed_check_user_name(const char *name, kiln_error **err);

/* Renders meta-data (YAML: instance-id, local-hostname) and user-data. kiln's #cloud-config
 * holds the authorized keys (ssh_authorized_keys, for the default user), the default user's
 * name when spec->default_user is set, and the pinned host key (ssh_deletekeys: true,
 * ssh_genkeytypes: [], ssh_keys with ed25519_private and ed25519_public). Every value is
 * quoted for YAML. Refused (KILN_E_INVALID): a missing or multi-line instance ID
 * (InvalidInstanceID.Malformed), a hostname with control characters or a default user that is
 * not a user name (InvalidParameterValue), an empty or multi-line key line
 * (InvalidKeyPair.Format), a private key that is not armoured OpenSSH text; then the user
 * data as seed_check_user_data says. On success *ret_meta_data and *ret_user_data are new
 * NUL-terminated strings for the caller (user-data holds the private host key: wipe it before
 * freeing); on failure they are left untouched. The buffers that held the key are wiped
 * before they are freed. */
int seed_render(const seed_spec *spec, char **ret_meta_data, char **ret_user_data,
                kiln_error **err);

/* Writes an ISO 9660 image with Joliet and Rock Ridge and the volume label "cidata" at
 * iso_path (replacing any file there), holding the files meta-data and user-data, and
 * network-config when network_config is not NULL. The files are staged (mode 0600) in a
 * temporary directory next to iso_path, which is removed again whatever happens; the image
 * is built by `xorriso -as mkisofs` through kiln_cmd. Errors: KILN_E_IO. */
int seed_write_iso(const char *meta_data, const char *user_data, const char *network_config,
                   const char *iso_path, kiln_error **err);

/* ==== the OpenStack config drive (configdrive.c) ====
 *
 * Windows images run cloudbase-init, whose ConfigDriveService reads an ISO 9660 (or vfat)
 * volume labelled "config-2" holding openstack/latest/meta_data.json and, if there is user
 * data, openstack/latest/user_data, as OpenStack Nova writes them (nova/virt/configdrive.py,
 * nova/api/metadata/base.py). Of meta_data.json cloudbase-init reads (baseopenstackservice.py)
 * "uuid" (the instance ID), "hostname", "public_keys" (the values), "keys" (entries of type
 * "ssh"), "admin_pass" (SetUserPasswordPlugin sets it as the user's password), and
 * "meta"."admin_username" (the user CreateUserPlugin creates or updates and the password and
 * keys go to; without it, its configuration's `username`). */

/* A key pair on the drive. Both strings are borrowed. */
typedef struct seed_configdrive_key {
        const char *name; /* the key pair's name: the member of "public_keys" */
        const char *line; /* its OpenSSH public key line */
} seed_configdrive_key;

/* What one instance's config drive says. Every string is borrowed, UTF-8 without control
 * characters. */
typedef struct seed_configdrive_spec {
        const char *instance_id;          /* "uuid" (required) */
        const char *hostname;             /* "hostname" (required) */
        const char *name;                 /* "name" (the instance's Name); NULL: the instance ID */
        const char *availability_zone;    /* "availability_zone" (required) */
        long launch_index;                /* "launch_index": 0 for the first of a launch */
        const char *admin_username;       /* "meta": {"admin_username": ...}; NULL: left out */
        const char *admin_pass;           /* "admin_pass"; NULL: left out, for the drive an
                                             instance keeps after its first boot */
        const seed_configdrive_key *keys; /* "public_keys" {name: line} and "keys" */
        size_t n_keys;
} seed_configdrive_spec;

/* Renders meta_data.json: the members, in this order, "uuid", "meta" (when admin_username is
 * set), "admin_pass" (when set), "public_keys" (always, {} without keys), "keys" (a list of
 * {"name", "type": "ssh", "data"}), "hostname", "name", "launch_index", "availability_zone".
 * Refused (KILN_E_INVALID): a missing instance ID (InvalidInstanceID.Malformed), a missing
 * hostname or zone, text with control characters or bad UTF-8, an empty or duplicate key
 * name, an empty or multi-line key line, a negative launch index (InvalidParameterValue). On
 * success *ret_meta_data is a new string for the caller, who wipes it when it holds the
 * password (kiln_keypair_material_free's way); no other copy of the password is left behind.
 * On failure it is untouched. */
int seed_configdrive_render(const seed_configdrive_spec *spec, char **ret_meta_data,
                            kiln_error **err);

/* Writes the config drive as an ISO 9660 image with Joliet and Rock Ridge and the volume label
 * "config-2" at iso_path (replacing any file there), holding openstack/latest/meta_data.json
 * and, when user_data is not NULL and user_data_len not 0, openstack/latest/user_data (the
 * raw bytes, as EC2 takes them: at most SEED_USER_DATA_MAX, else InvalidUserData.Malformed,
 * KILN_E_LIMIT). Staged and built as seed_write_iso does; the staged files are overwritten
 * before they are removed. Errors: KILN_E_IO. */
int seed_configdrive_write_iso(const char *meta_data, const void *user_data, size_t user_data_len,
                               const char *iso_path, kiln_error **err);

#endif
