/* Instance verbs: run-instances, describe-instances, start/stop/reboot/terminate-instances,
 * get-console-output, get-password-data, wait, and ssh (which runs the system's ssh with the pinned
 * host key). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static int cmd_run_instances(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_run_spec spec = {0};
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autofree char *user_data = NULL;
        const char *count = cli_arg_get(args, "count");
        const char *accel = cli_arg_get(args, "accel");
        cli_tag_specs tags = {0};
        cli_mappings maps = {0};
        const char **group_ids = NULL, **group_names = NULL;
        kiln_instance *list = NULL;
        size_t n = 0;
        int rc = 0;

        (void) verb;
        spec.image_id = cli_arg_get(args, "image-id");
        spec.instance_type = cli_arg_get(args, "instance-type");
        spec.key_name = cli_arg_get(args, "key-name");
        spec.network = cli_arg_get(args, "network");
        spec.client_token = cli_arg_get(args, "client-token");
        spec.count = 1;
        if (!spec.image_id)
                return cli_usage_error("run-instances needs --image-id");
        if (cli_arg_get(args, "placement")) {
                const char *p = cli_arg_get(args, "placement");

                if (strncmp(p, "AvailabilityZone=", 17) != 0 || !p[17] || strchr(p, ','))
                        return cli_usage_error("invalid --placement '%s': expected "
                                               "AvailabilityZone=ZONE",
                                               p);
                spec.availability_zone = p + 17;
        }
        if (count) {
                char *end;
                long c = strtol(count, &end, 10);

                if (*end || c < 1 || c > 20)
                        return cli_usage_error("invalid --count '%s': 1 to 20", count);
                spec.count = (int) c;
        }
        if (accel && kiln_accel_from_string(accel, &spec.accel, &err) < 0)
                return cli_fail(err);
        if (cli_arg_get(args, "user-data")) {
                size_t len = 0;

                rc = cli_read_value("--user-data", cli_arg_get(args, "user-data"), 65536,
                                    &user_data, &len);
                if (rc != 0)
                        return rc;
                spec.user_data = user_data;
                spec.user_data_len = len;
        }
        /* NOLINTBEGIN(clang-analyzer-unix.Malloc): user_data is kiln_autofree */
        if (cli_parse_creation(args, &tags, &maps, &err) < 0)
                return cli_fail(err);
        /* NOLINTEND(clang-analyzer-unix.Malloc) */
        spec.tag_specs = tags.specs;
        spec.n_tag_specs = tags.n;
        spec.mappings = maps.specs;
        spec.n_mappings = maps.n;
        spec.n_security_group_ids = cli_arg_all(args, "security-group-ids", &group_ids);
        spec.security_group_ids = group_ids;
        spec.n_security_group_names = cli_arg_all(args, "security-groups", &group_names);
        spec.security_group_names = group_names;
        ctx = cli_ctx_open(g, &rc);
        if (ctx)
                rc = kiln_instances_run(ctx, &spec, &list, &n, &err) < 0 ? cli_fail(err) : 0;
        cli_tag_specs_free(&tags);
        cli_mappings_free(&maps);
        free(group_ids);
        free(group_names);
        if (!ctx || rc != 0)
                return rc; /* NOLINT(clang-analyzer-unix.Malloc): user_data is kiln_autofree */
        if (cli_arg_has(args, "wait")) {
                for (size_t i = 0; i < n && !err; i++)
                        kiln_instance_wait(ctx, list[i].instance_id, KILN_WAIT_READY, 0, &err);
        }
        {
                cli_writer *w = cli_writer_new(g);
                kiln_connection *c = kiln_instance_connections(ctx, list, n);

                kiln_shape_reservation(cli_w_sink(w), list, n, c);
                cli_writer_finish(w, g);
                kiln_connections_free(c, n);
        }
        kiln_instances_free(list, n);
        return err ? cli_fail(err) : CLI_EXIT_OK;
}

static int cmd_describe_instances(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        const char **ids = NULL;
        size_t n_ids = cli_arg_all(args, "instance-ids", &ids);
        kiln_filter *filters = NULL;
        size_t n_filters = 0, n = 0;
        kiln_instance *list = NULL;
        int rc;

        (void) verb;
        rc = cli_parse_filters(args, &filters, &n_filters);
        if (rc != 0) {
                free(ids);
                return rc;
        }
        ctx = cli_ctx_open(g, &rc);
        if (ctx &&
            kiln_instances_describe(ctx, ids, n_ids, filters, n_filters, &list, &n, &err) == 0) {
                cli_writer *w = cli_writer_new(g);
                kiln_connection *c = kiln_instance_connections(ctx, list, n);

                cli_w_object(w, NULL);
                kiln_shape_reservations(cli_w_sink(w), list, n, c);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
                kiln_connections_free(c, n);
                kiln_instances_free(list, n);
        }
        free(ids);
        cli_filters_free(filters, n_filters);
        if (!ctx)
                return rc;
        return err ? cli_fail(err) : CLI_EXIT_OK;
}

static int seconds(const char *s)
{
        char *end;
        long v = s ? strtol(s, &end, 10) : 0;

        return s && *end == '\0' && v > 0 && v < 86400 ? (int) v : 0;
}

typedef enum { CHANGE_STOP, CHANGE_START, CHANGE_TERMINATE, CHANGE_REBOOT } change_kind;

static int change(const cli_global *g, const cli_args *args, change_kind kind)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        const char **ids = NULL;
        size_t n_ids = cli_arg_all(args, "instance-ids", &ids);
        kiln_state_change *c = NULL;
        size_t n = 0;
        int rc = 0;

        if (!n_ids) {
                free(ids);
                return cli_usage_error("--instance-ids is required");
        }
        ctx = cli_ctx_open(g, &rc);
        if (ctx) {
                const char *to = cli_arg_get(args, "timeout");

                if (kind == CHANGE_STOP)
                        rc = kiln_instances_stop(ctx, ids, n_ids, cli_arg_has(args, "force"),
                                                 seconds(to), &c, &n, &err);
                else if (kind == CHANGE_START)
                        rc = kiln_instances_start(ctx, ids, n_ids, &c, &n, &err);
                else if (kind == CHANGE_TERMINATE)
                        rc = kiln_instances_terminate(ctx, ids, n_ids, &c, &n, &err);
                else
                        rc = kiln_instances_reboot(ctx, ids, n_ids, &err);
        }
        free(ids);
        if (!ctx)
                return rc;
        if (rc < 0)
                return cli_fail(err);
        if (kind != CHANGE_REBOOT) {
                static const kiln_change_kind shapes[] = {
                        [CHANGE_STOP] = KILN_CHANGE_STOPPING,
                        [CHANGE_START] = KILN_CHANGE_STARTING,
                        [CHANGE_TERMINATE] = KILN_CHANGE_TERMINATING,
                };
                cli_writer *w = cli_writer_new(g);

                cli_w_object(w, NULL);
                kiln_shape_state_changes(cli_w_sink(w), shapes[kind], c, n);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
        }
        kiln_state_changes_free(c, n);
        return CLI_EXIT_OK;
}

static int cmd_stop_instances(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        (void) verb;
        return change(g, args, CHANGE_STOP);
}

static int cmd_start_instances(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        (void) verb;
        return change(g, args, CHANGE_START);
}

static int cmd_reboot_instances(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        (void) verb;
        return change(g, args, CHANGE_REBOOT);
}

static int cmd_terminate_instances(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        (void) verb;
        return change(g, args, CHANGE_TERMINATE);
}

static int cmd_get_console_output(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *id = cli_arg_get(args, "instance-id");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autofree char *out = NULL;
        int rc = 0;

        (void) verb;
        if (!id)
                return cli_usage_error("get-console-output needs --instance-id");
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        if (kiln_instance_console(ctx, id, &out, &err) < 0)
                return cli_fail(err);
        {
                cli_writer *w = cli_writer_new(g);
                time_t t = time(NULL);
                struct tm tm;
                char ts[64];

                gmtime_r(&t, &tm);
                strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
                cli_w_object(w, NULL);
                cli_w_str(w, "InstanceId", id);
                cli_w_str(w, "Output", out);
                cli_w_str(w, "Timestamp", ts);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
        }
        return CLI_EXIT_OK;
}

/* GetPasswordData; with --priv-launch-key the password itself, as the aws CLI prints it. */
static int cmd_get_password_data(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *id = cli_arg_get(args, "instance-id");
        const char *key_file = cli_arg_get(args, "priv-launch-key");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autofree char *key = NULL;
        kiln_password_data p = {0};
        char *password = NULL;
        size_t key_len = 0;
        int rc = 0;

        (void) verb;
        if (!id)
                return cli_usage_error("get-password-data needs --instance-id");
        if (key_file) {
                char arg[PATH_MAX + sizeof("file://")];

                if (strlen(key_file) >= PATH_MAX)
                        return cli_usage_error("--priv-launch-key: the file name is too long");
                snprintf(arg, sizeof(arg), "file://%s", key_file);
                rc = cli_read_value("--priv-launch-key", arg, (size_t) 64 * 1024, &key, &key_len);
                if (rc != 0)
                        return rc;
        }
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        if (kiln_instance_password_data(ctx, id, &p, &err) < 0)
                return cli_fail(err);
        if (key && kiln_password_decrypt(key, p.password_data, &password, &err) < 0) {
                kiln_password_data_clear(&p);
                return cli_fail(err);
        }
        {
                cli_writer *w = cli_writer_new(g);
                kiln_autofree char *ts = cli_timestamp(p.timestamp);

                cli_w_object(w, NULL);
                cli_w_str(w, "InstanceId", p.instance_id);
                cli_w_str(w, "PasswordData", password ? password : p.password_data);
                cli_w_str(w, "Timestamp", ts);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
        }
        kiln_keypair_material_free(password);
        if (key)
                explicit_bzero(key, key_len);
        kiln_password_data_clear(&p);
        return CLI_EXIT_OK;
}

static int cmd_describe_instance_types(const cli_verb *verb, const cli_global *g,
                                       const cli_args *args)
{
        kiln_autoptr(kiln_error) err = NULL;
        const char **names = NULL;
        size_t n_names = cli_arg_all(args, "instance-types", &names), n = 0;
        kiln_instance_type *t = NULL;
        int rc;

        (void) verb;
        rc = kiln_instance_types_describe(names, n_names, &t, &n, &err);
        free(names);
        if (rc < 0)
                return cli_fail(err);
        {
                cli_writer *w = cli_writer_new(g);

                cli_w_object(w, NULL);
                kiln_shape_list_begin(cli_w_sink(w), KILN_LIST_INSTANCE_TYPES);
                for (size_t i = 0; i < n; i++)
                        kiln_shape_instance_type(cli_w_sink(w), &t[i]);
                cli_w_end_array(w);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
        }
        kiln_instance_types_free(t, n);
        return CLI_EXIT_OK;
}

static int cmd_describe_instance_attribute(const cli_verb *verb, const cli_global *g,
                                           const cli_args *args)
{
        const char *id = cli_arg_get(args, "instance-id");
        const char *attr = cli_arg_get(args, "attribute");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_instance_attribute a = {0};
        int rc = 0;

        (void) verb;
        if (!id || !attr)
                return cli_usage_error("describe-instance-attribute needs --instance-id and "
                                       "--attribute");
        if (kiln_instance_attribute_name_check(attr, &err) < 0)
                return cli_fail(err);
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        if (kiln_instance_attribute_describe(ctx, id, &a, &err) < 0)
                return cli_fail(err);
        {
                cli_writer *w = cli_writer_new(g);

                kiln_shape_instance_attribute(cli_w_sink(w), &a, attr);
                cli_writer_finish(w, g);
        }
        kiln_instance_attribute_clear(&a);
        return CLI_EXIT_OK;
}

static int cmd_modify_instance_attribute(const cli_verb *verb, const cli_global *g,
                                         const cli_args *args)
{
        static const struct {
                const char *opt;
                kiln_instance_attr attr;
        } opts[] = {{"disable-api-termination", KILN_ATTR_DISABLE_API_TERMINATION},
                    {"disable-api-stop", KILN_ATTR_DISABLE_API_STOP},
                    {"instance-initiated-shutdown-behavior", KILN_ATTR_SHUTDOWN_BEHAVIOR},
                    {"user-data", KILN_ATTR_USER_DATA},
                    {"instance-type", KILN_ATTR_INSTANCE_TYPE}};
        const char *id = cli_arg_get(args, "instance-id");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autofree char *user_data = NULL;
        kiln_instance_attribute_change ch = {0};
        const char *value = NULL;
        size_t given = 0;
        int rc = 0;

        (void) verb;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(opts); i++)
                if (cli_arg_get(args, opts[i].opt)) {
                        given++;
                        ch.attr = opts[i].attr;
                        value = cli_arg_get(args, opts[i].opt);
                }
        if (!id || given != 1)
                return cli_usage_error("modify-instance-attribute needs --instance-id and one of "
                                       "--disable-api-termination, --disable-api-stop, "
                                       "--instance-initiated-shutdown-behavior, --user-data, "
                                       "--instance-type");
        if (ch.attr == KILN_ATTR_USER_DATA) {
                rc = cli_read_value("--user-data", value, 65536, &user_data, &ch.user_data_len);
                if (rc != 0)
                        return rc;
                ch.user_data = user_data;
        } else if (ch.attr == KILN_ATTR_SHUTDOWN_BEHAVIOR || ch.attr == KILN_ATTR_INSTANCE_TYPE) {
                ch.value = value;
        } else if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) {
                ch.flag = strcmp(value, "true") == 0;
        } else {
                return cli_usage_error("invalid value '%s': true or false", value);
        }
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        if (kiln_instance_attribute_modify(ctx, id, &ch, &err) < 0)
                return cli_fail(err);
        return CLI_EXIT_OK;
}

static int describe_network(const cli_global *g, const cli_args *args, bool subnet)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        const char **ids = NULL;
        size_t n_ids = cli_arg_all(args, subnet ? "subnet-ids" : "vpc-ids", &ids), n = 0;
        kiln_filter *filters = NULL;
        size_t n_filters = 0;
        kiln_vpc *v = NULL;
        int rc;

        rc = cli_parse_filters(args, &filters, &n_filters);
        if (rc == 0)
                ctx = cli_ctx_open(g, &rc);
        if (ctx)
                rc = (subnet ? kiln_subnets_describe : kiln_vpcs_describe)(
                             ctx, ids, n_ids, filters, n_filters, &v, &n, &err) < 0
                             ? cli_fail(err)
                             : 0;
        free(ids);
        cli_filters_free(filters, n_filters);
        if (!ctx || rc != 0)
                return rc;
        {
                cli_writer *w = cli_writer_new(g);

                cli_w_object(w, NULL);
                kiln_shape_list_begin(cli_w_sink(w), subnet ? KILN_LIST_SUBNETS : KILN_LIST_VPCS);
                for (size_t i = 0; i < n; i++)
                        (subnet ? kiln_shape_subnet : kiln_shape_vpc)(cli_w_sink(w), &v[i],
                                                                      kiln_ctx_account(ctx));
                cli_w_end_array(w);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
        }
        kiln_vpcs_free(v, n);
        return CLI_EXIT_OK;
}

static int cmd_describe_instance_status(const cli_verb *verb, const cli_global *g,
                                        const cli_args *args)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        const char **ids = NULL;
        size_t n_ids = cli_arg_all(args, "instance-ids", &ids), n = 0;
        kiln_filter *filters = NULL;
        size_t n_filters = 0;
        kiln_instance_status *st = NULL;
        int rc;

        (void) verb;
        rc = cli_parse_filters(args, &filters, &n_filters);
        if (rc == 0)
                ctx = cli_ctx_open(g, &rc);
        if (ctx)
                rc = kiln_instance_statuses_describe(ctx, ids, n_ids, filters, n_filters,
                                                     cli_arg_has(args, "include-all-instances"),
                                                     &st, &n, &err) < 0
                             ? cli_fail(err)
                             : 0;
        free(ids);
        cli_filters_free(filters, n_filters);
        if (!ctx || rc != 0)
                return rc;
        {
                cli_writer *w = cli_writer_new(g);

                cli_w_object(w, NULL);
                kiln_shape_list_begin(cli_w_sink(w), KILN_LIST_INSTANCE_STATUSES);
                for (size_t i = 0; i < n; i++)
                        kiln_shape_instance_status(cli_w_sink(w), &st[i]);
                cli_w_end_array(w);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
        }
        kiln_instance_statuses_free(st, n);
        return CLI_EXIT_OK;
}

static int cmd_describe_vpcs(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        (void) verb;
        return describe_network(g, args, false);
}

static int cmd_describe_subnets(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        (void) verb;
        return describe_network(g, args, true);
}

static int cmd_wait(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        static const struct {
                const char *name;
                kiln_wait_what what;
        } waits[] = {{"instance-running", KILN_WAIT_RUNNING},
                     {"instance-ready", KILN_WAIT_READY},
                     {"instance-stopped", KILN_WAIT_STOPPED},
                     {"instance-terminated", KILN_WAIT_TERMINATED},
                     {"instance-status-ok", KILN_WAIT_STATUS_OK},
                     {"password-data-available", KILN_WAIT_PASSWORD_DATA}};
        static const struct {
                const char *name, *ids;
                kiln_resource_wait_what what;
        } storage[] = {{"volume-available", "volume-ids", KILN_WAIT_VOLUME_AVAILABLE},
                       {"volume-in-use", "volume-ids", KILN_WAIT_VOLUME_IN_USE},
                       {"snapshot-completed", "snapshot-ids", KILN_WAIT_SNAPSHOT_COMPLETED},
                       {"image-available", "image-ids", KILN_WAIT_IMAGE_AVAILABLE}};
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        const char *what = args->n_positional ? args->positional[0] : NULL;
        const char *to = cli_arg_get(args, "timeout");
        const char **ids = NULL;
        size_t n_ids;
        int w = -1, rc = 0;

        (void) verb;
        for (size_t i = 0; what && i < KILN_ARRAY_SIZE(waits); i++)
                if (strcmp(what, waits[i].name) == 0)
                        w = (int) i;
        for (size_t i = 0; what && w < 0 && i < KILN_ARRAY_SIZE(storage); i++) {
                if (strcmp(what, storage[i].name) != 0)
                        continue;
                n_ids = cli_arg_all(args, storage[i].ids, &ids);
                if (!n_ids) {
                        free(ids);
                        return cli_usage_error("wait %s needs --%s", what, storage[i].ids);
                }
                ctx = cli_ctx_open(g, &rc);
                for (size_t k = 0; ctx && k < n_ids && !err; k++)
                        kiln_resource_wait(ctx, storage[i].what, ids[k], seconds(to), &err);
                free(ids);
                if (!ctx)
                        return rc;
                return err ? cli_fail(err) : CLI_EXIT_OK;
        }
        if (w < 0)
                return cli_usage_error("wait needs one of instance-running, instance-ready, "
                                       "instance-status-ok, instance-stopped, "
                                       "instance-terminated, password-data-available, "
                                       "volume-available, "
                                       "volume-in-use, snapshot-completed, image-available%s%s%s",
                                       what ? " (not '" : "", what ? what : "", what ? "')" : "");
        n_ids = cli_arg_all(args, "instance-ids", &ids);
        if (!n_ids) {
                /* The aws CLI's password-data-available takes one --instance-id. */
                free(ids);
                n_ids = cli_arg_all(args, "instance-id", &ids);
        }
        if (!n_ids) {
                free(ids);
                return cli_usage_error("wait %s needs --instance-ids", what);
        }
        ctx = cli_ctx_open(g, &rc);
        for (size_t i = 0; ctx && i < n_ids && !err; i++)
                kiln_instance_wait(ctx, ids[i], waits[w].what, seconds(to), &err);
        free(ids);
        if (!ctx)
                return rc;
        return err ? cli_fail(err) : CLI_EXIT_OK;
}

static int cmd_ssh(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        char **argv = NULL;
        int rc = 0;

        (void) verb;
        if (args->n_positional < 1)
                return cli_usage_error("ssh needs an instance ID: kiln ssh i-... [-- COMMAND]");
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        if (kiln_instance_ssh_argv(ctx, args->positional[0], cli_arg_get(args, "identity"),
                                   args->positional + 1, args->n_positional - 1, &argv, &err) < 0)
                return cli_fail(err);
        fflush(stdout);
        execvp(argv[0], argv);
        fprintf(stderr, "kiln: cannot run ssh: %s\n", strerror(errno));
        return cli_exit_code(KILN_E_IO);
}

/* ---- command table rows ---- */

static const cli_opt run_opts[] = {
        {"image-id", CLI_ARG_ONE, "ID", "the image to launch"},
        {"instance-type", CLI_ARG_ONE, "TYPE", "from templates/instance-types.json (t3.micro)"},
        {"key-name", CLI_ARG_ONE, "NAME", "key pair whose public key the default user gets"},
        {"user-data", CLI_ARG_ONE, "TEXT|file://PATH", "cloud-init user data, at most 16384 bytes"},
        {"count", CLI_ARG_ONE, "N", "instances to launch (1 to 20), all or none"},
        {"network", CLI_ARG_ONE, "user|NAME", "user networking with a 127.0.0.1 forward (default)"},
        {"placement", CLI_ARG_ONE, "AvailabilityZone=ZONE",
         "the zone (host) to run on; default: the host with the most room"},
        {"accel", CLI_ARG_ONE, "auto|kvm|tcg", "accelerator (auto: KVM only where it runs guests)"},
        {"wait", CLI_ARG_NONE, NULL, "return when SSH answers and cloud-init has finished"},
        CLI_OPT_TAG_SPECS("instances (instance) and their volumes (volume)"),
        {"block-device-mappings", CLI_ARG_LIST, "DeviceName=D,Ebs={VolumeSize=N,...}...",
         "grow a volume of the image, add volumes (empty or from SnapshotId), leave one out "
         "(NoDevice=)"},
        {"client-token", CLI_ARG_ONE, "TOKEN",
         "idempotency: a retry with it gets the same instances"},
        {"security-group-ids", CLI_ARG_LIST, "ID...",
         "security groups to be in (with --security-groups at most 5; default: the default "
         "group)"},
        {"security-groups", CLI_ARG_LIST, "NAME...", "security groups to be in, by name"},
        CLI_END_OPTS,
};

static const cli_opt describe_opts[] = {
        {"instance-ids", CLI_ARG_LIST, "ID...", "only these instances"},
        {"filters", CLI_ARG_LIST, "Name=N,Values=V...",
         "instance-state-name, instance-id, image-id, instance-type, key-name, "
         "reservation-id, platform, vpc-id, subnet-id, tag:KEY, tag-key, tag-value"},
        CLI_END_OPTS,
};

static const cli_opt ids_opts[] = {
        {"instance-ids", CLI_ARG_LIST, "ID...", "the instances"},
        CLI_END_OPTS,
};

static const cli_opt stop_opts[] = {
        {"instance-ids", CLI_ARG_LIST, "ID...", "the instances"},
        {"force", CLI_ARG_NONE, NULL, "pull the plug at once instead of an ACPI shutdown"},
        {"timeout", CLI_ARG_ONE, "SECONDS", "forced after this long (default 120)"},
        CLI_END_OPTS,
};

static const cli_opt console_opts[] = {
        {"instance-id", CLI_ARG_ONE, "ID", "the instance"},
        CLI_END_OPTS,
};

static const cli_opt password_opts[] = {
        {"instance-id", CLI_ARG_ONE, "ID", "the Windows instance"},
        {"priv-launch-key", CLI_ARG_ONE, "FILE",
         "the launch key pair's private key (PEM): print the password itself"},
        CLI_END_OPTS,
};

static const cli_opt types_opts[] = {
        {"instance-types", CLI_ARG_LIST, "TYPE...",
         "only these (all of templates/instance-types.json "
         "by default)"},
        CLI_END_OPTS,
};

static const cli_opt attribute_opts[] = {
        {"instance-id", CLI_ARG_ONE, "ID", "the instance"},
        {"attribute", CLI_ARG_ONE, "NAME",
         "instanceType, userData (base64), disableApiTermination, disableApiStop, "
         "instanceInitiatedShutdownBehavior, rootDeviceName, sourceDestCheck, ebsOptimized, "
         "enaSupport"},
        CLI_END_OPTS,
};

static const cli_opt modify_attribute_opts[] = {
        {"instance-id", CLI_ARG_ONE, "ID", "the instance"},
        {"disable-api-termination", CLI_ARG_ONE, "true|false",
         "terminate-instances refuses the instance while true"},
        {"disable-api-stop", CLI_ARG_ONE, "true|false", "stop-instances refuses it while true"},
        {"instance-initiated-shutdown-behavior", CLI_ARG_ONE, "stop",
         "what a shutdown inside the guest does (kiln: stop)"},
        {"user-data", CLI_ARG_ONE, "TEXT|file://PATH",
         "new user data of a stopped instance, in its seed at the next boot"},
        {"instance-type", CLI_ARG_ONE, "TYPE", "another instance type for a stopped instance"},
        CLI_END_OPTS,
};

static const cli_opt status_opts[] = {
        {"instance-ids", CLI_ARG_LIST, "ID...", "only these (terminated ones too)"},
        {"include-all-instances", CLI_ARG_NONE, NULL, "stopped and pending ones too"},
        {"filters", CLI_ARG_LIST, "Name=N,Values=V...",
         "instance-status.status, instance-status.reachability, system-status.status, "
         "instance-state-name, availability-zone"},
        CLI_END_OPTS,
};

static const cli_opt vpcs_opts[] = {
        {"vpc-ids", CLI_ARG_LIST, "ID...", "only these"},
        {"filters", CLI_ARG_LIST, "Name=N,Values=V...",
         "vpc-id, state, cidr-block, is-default, owner-id"},
        CLI_END_OPTS,
};

static const cli_opt subnets_opts[] = {
        {"subnet-ids", CLI_ARG_LIST, "ID...", "only these"},
        {"filters", CLI_ARG_LIST, "Name=N,Values=V...",
         "subnet-id, vpc-id, state, cidr-block, default-for-az, availability-zone"},
        CLI_END_OPTS,
};

static const cli_opt wait_opts[] = {
        {"instance-ids", CLI_ARG_LIST, "ID...", "the instances"},
        {"instance-id", CLI_ARG_ONE, "ID",
         "one instance (as the aws CLI's password-data-available)"},
        {"volume-ids", CLI_ARG_LIST, "ID...", "the volumes (volume-available, volume-in-use)"},
        {"snapshot-ids", CLI_ARG_LIST, "ID...", "the snapshots (snapshot-completed)"},
        {"image-ids", CLI_ARG_LIST, "ID...", "the images (image-available)"},
        {"timeout", CLI_ARG_ONE, "SECONDS", "give up after this long (default 600)"},
        CLI_END_OPTS,
};

static const cli_opt ssh_opts[] = {
        {"identity", CLI_ARG_ONE, "FILE", "private key (default: the file create-key-pair wrote)"},
        CLI_END_OPTS,
};

const cli_verb cli_instance_verbs[] = {
        {"run-instances", "instances", "launch instances from an image",
         "--image-id ID [--instance-type T] [--key-name K] [--user-data ...] [--count N] "
         "[--security-group-ids ID...] [--wait]",
         run_opts, 0, cmd_run_instances,
         "kiln run-instances --image-id ami-... --key-name mykey --user-data file://init.sh "
         "--wait"},
        {"describe-instances", "instances", "list instances, with how to connect to each",
         "[--instance-ids ID...] [--filters ...]", describe_opts, 0, cmd_describe_instances,
         "kiln describe-instances --filters Name=instance-state-name,Values=running"},
        {"stop-instances", "instances", "shut instances down (ACPI, forced after a timeout)",
         "--instance-ids ID... [--force] [--timeout S]", stop_opts, 0, cmd_stop_instances,
         "kiln stop-instances --instance-ids i-..."},
        {"start-instances", "instances", "start stopped instances", "--instance-ids ID...",
         ids_opts, 0, cmd_start_instances, "kiln start-instances --instance-ids i-..."},
        {"reboot-instances", "instances", "reboot instances (ACPI)", "--instance-ids ID...",
         ids_opts, 0, cmd_reboot_instances, "kiln reboot-instances --instance-ids i-..."},
        {"terminate-instances", "instances",
         "remove instances: domain, seed, and volumes marked DeleteOnTermination",
         "--instance-ids ID...", ids_opts, 0, cmd_terminate_instances,
         "kiln terminate-instances --instance-ids i-..."},
        {"get-console-output", "instances", "the last 64 KiB of an instance's serial console",
         "--instance-id ID", console_opts, 0, cmd_get_console_output,
         "kiln get-console-output --instance-id i-... --output text"},
        {"get-password-data", "instances",
         "a Windows instance's Administrator password, encrypted with its key pair (empty "
         "until its first boot has set it), or decrypted with --priv-launch-key",
         "--instance-id ID [--priv-launch-key FILE]", password_opts, 0, cmd_get_password_data,
         "kiln get-password-data --instance-id i-... --priv-launch-key ~/.kiln/keys/win.pem"},
        {"describe-instance-types", "instances",
         "the instance types: vCPUs and memory (templates/instance-types.json)",
         "[--instance-types TYPE...]", types_opts, 0, cmd_describe_instance_types,
         "kiln describe-instance-types --instance-types t3.micro t3.small"},
        {"describe-instance-attribute", "instances", "one attribute of an instance",
         "--instance-id ID --attribute NAME", attribute_opts, 0, cmd_describe_instance_attribute,
         "kiln describe-instance-attribute --instance-id i-... --attribute disableApiTermination"},
        {"modify-instance-attribute", "instances",
         "protect an instance from termination or stopping, or give a stopped one new user "
         "data",
         "--instance-id ID --disable-api-termination true|false | --disable-api-stop true|false "
         "| --user-data ...",
         modify_attribute_opts, 0, cmd_modify_instance_attribute,
         "kiln modify-instance-attribute --instance-id i-... --disable-api-termination true"},
        {"describe-instance-status", "instances",
         "EC2's status checks: the instance check is ok once SSH answers with the pinned host "
         "key and cloud-init has finished since the last start (initializing until then, "
         "impaired if that took over 600 s); running instances only unless "
         "--include-all-instances",
         "[--instance-ids ID...] [--include-all-instances] [--filters ...]", status_opts, 0,
         cmd_describe_instance_status, "kiln describe-instance-status --instance-ids i-..."},
        {"describe-vpcs", "instances",
         "the region's default VPC: its ID and the CIDR of the region's network",
         "[--vpc-ids ID...] [--filters ...]", vpcs_opts, 0, cmd_describe_vpcs,
         "kiln describe-vpcs"},
        {"describe-subnets", "instances",
         "the region's default subnet, in its one zone, where its instances are",
         "[--subnet-ids ID...] [--filters ...]", subnets_opts, 0, cmd_describe_subnets,
         "kiln describe-subnets --filters Name=default-for-az,Values=true"},
        {"wait", "instances",
         "wait until instances are running, ready, status ok, stopped or terminated, volumes "
         "available or in use, snapshots completed, images available",
         "instance-running|instance-ready|instance-status-ok|instance-stopped|"
         "instance-terminated|password-data-available|volume-available|"
         "volume-in-use|snapshot-completed|image-available --instance-ids|--volume-ids|"
         "--snapshot-ids|--image-ids ID...",
         wait_opts, 1, cmd_wait, "kiln wait instance-ready --instance-ids i-..."},
        {"ssh", "instances", "open a shell (or run a command) with the pinned host key",
         "i-... [--identity FILE] [-- COMMAND...]", ssh_opts, 64, cmd_ssh,
         "kiln ssh i-0123456789abcdef0 -- uname -a"},
};
const size_t cli_n_instance_verbs = KILN_ARRAY_SIZE(cli_instance_verbs);
