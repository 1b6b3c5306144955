/* --block-device-mappings as the aws CLI takes it: each value a shorthand
 * "DeviceName=/dev/sdf,Ebs={VolumeSize=10,DeleteOnTermination=false}" or
 * "DeviceName=/dev/sdb,NoDevice=", or JSON (an object or an array of them). Shorthand gives
 * every scalar as text, JSON gives numbers and booleans: both are taken. Members kiln has no
 * use for (Iops, Throughput, encryption, instance store) are refused, not ignored. */
#include <errno.h>
#include <string.h>

#include "cli.h"

static int bad(const char *what, const char *name, kiln_error **err)
{
        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                              "--block-device-mappings: %s%s%s", what, name ? " " : "",
                              name ? name : "");
}

static char *text_of(json_t *v)
{
        const char *s = json_string_value(v);
        char *d = s ? strdup(s) : NULL;

        if (s && !d)
                abort();
        return d;
}

/* An integer member: a JSON integer or its text. */
static int int_of(json_t *v, const char *name, int64_t *ret, kiln_error **err)
{
        const char *s = json_string_value(v);
        char *end = NULL;
        long long n;

        if (json_is_integer(v)) {
                *ret = json_integer_value(v);
                return 0;
        }
        errno = 0;
        n = s ? strtoll(s, &end, 10) : 0;
        if (!s || !*s || *end || errno)
                return bad("expected a whole number for", name, err);
        *ret = n;
        return 0;
}

/* A boolean member: a JSON boolean or "true"/"false". */
static int bool_of(json_t *v, const char *name, int *ret, kiln_error **err)
{
        const char *s = json_string_value(v);

        if (json_is_boolean(v))
                *ret = json_is_true(v);
        else if (s && strcmp(s, "true") == 0)
                *ret = 1;
        else if (s && strcmp(s, "false") == 0)
                *ret = 0;
        else
                return bad("expected true or false for", name, err);
        return 0;
}

static int ebs_of(json_t *ebs, kiln_mapping_spec *m, kiln_error **err)
{
        const char *key;
        json_t *v;

        if (!json_is_object(ebs))
                return bad("Ebs must be a structure: Ebs={VolumeSize=N,...}", NULL, err);
        json_object_foreach (ebs, key, v) {
                int rc = 0;

                if (strcmp(key, "VolumeSize") == 0)
                        rc = int_of(v, "Ebs.VolumeSize", &m->volume_size, err);
                else if (strcmp(key, "DeleteOnTermination") == 0)
                        rc = bool_of(v, "Ebs.DeleteOnTermination", &m->delete_on_termination, err);
                else if (strcmp(key, "SnapshotId") == 0 && json_is_string(v)) {
                        free((char *) m->snapshot_id);
                        m->snapshot_id = text_of(v);
                } else if (strcmp(key, "VolumeType") == 0 && json_is_string(v)) {
                        free((char *) m->volume_type);
                        m->volume_type = text_of(v);
                } else
                        rc = bad("kiln does not take Ebs member", key, err);
                if (rc < 0)
                        return -1;
        }
        return 0;
}

static int mapping_of(json_t *o, cli_mappings *out, kiln_error **err)
{
        json_t *device = json_object_get(o, "DeviceName");
        kiln_mapping_spec m = {0};
        const char *key;
        json_t *v;

        m.delete_on_termination = -1;
        if (!json_is_object(o) || !json_is_string(device))
                return bad("each mapping needs a DeviceName", NULL, err);
        json_object_foreach (o, key, v) {
                int rc = 0;

                if (strcmp(key, "DeviceName") == 0)
                        continue;
                if (strcmp(key, "NoDevice") == 0)
                        m.no_device = true;
                else if (strcmp(key, "Ebs") == 0)
                        rc = ebs_of(v, &m, err);
                else
                        rc = bad("kiln does not take the member", key, err);
                if (rc < 0) {
                        free((char *) m.snapshot_id);
                        free((char *) m.volume_type);
                        return -1;
                }
        }
        m.device_name = text_of(device);
        out->specs = realloc(out->specs, (out->n + 1) * sizeof(*out->specs));
        if (!out->specs)
                abort();
        out->specs[out->n++] = m;
        return 0;
}

void cli_mappings_free(cli_mappings *m)
{
        for (size_t i = 0; i < m->n; i++) {
                free((char *) m->specs[i].device_name);
                free((char *) m->specs[i].snapshot_id);
                free((char *) m->specs[i].volume_type);
        }
        free(m->specs);
        memset(m, 0, sizeof(*m));
}

int cli_parse_mappings(const cli_args *args, cli_mappings *ret, kiln_error **err)
{
        const char **raw = NULL;
        size_t n = cli_arg_all(args, "block-device-mappings", &raw);
        cli_mappings out = {0};
        int rc = 0;

        for (size_t i = 0; rc == 0 && i < n; i++) {
                json_t *j = cli_option_json("block-device-mappings", raw[i], err);
                size_t k;
                json_t *o;

                if (!j)
                        rc = -1;
                else if (json_is_object(j))
                        rc = mapping_of(j, &out, err);
                else if (!json_is_array(j))
                        rc = bad("expected DeviceName=NAME,Ebs={...} or JSON", NULL, err);
                else
                        json_array_foreach (j, k, o)
                                if (rc == 0)
                                        rc = mapping_of(o, &out, err);
                json_decref(j);
        }
        free(raw);
        if (rc < 0) {
                cli_mappings_free(&out);
                return -1;
        }
        *ret = out;
        return 0;
}

int cli_parse_creation(const cli_args *args, cli_tag_specs *tags, cli_mappings *maps,
                       kiln_error **err)
{
        if (cli_parse_tag_specs(args, tags, err) < 0)
                return -1;
        if (cli_parse_mappings(args, maps, err) < 0) {
                cli_tag_specs_free(tags);
                return -1;
        }
        return 0;
}
