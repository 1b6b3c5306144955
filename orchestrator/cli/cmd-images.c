/* Image verbs: register-image, describe-images, deregister-image, copy-image and the image
 * attributes. Each parses, calls the library once, and prints. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* {"ImageId": ID}, as the aws CLI prints the result of register, copy, create and import. */
static void print_image_id(const cli_global *g, const char *id)
{
        json_t *o = json_pack("{s:s}", "ImageId", id);

        cli_print(g, o);
        json_decref(o);
}

static int finish(kiln_error *err)
{
        return err ? cli_fail(err) : CLI_EXIT_OK;
}

/* --disk values: FILE (the root's) or DEVICE=FILE, one per device. */
static int parse_disks(const cli_args *args, kiln_register_spec *spec, kiln_register_disk **ret)
{
        const char **v = NULL;
        size_t n = cli_arg_all(args, "disk", &v);
        kiln_register_disk *disks = calloc(n + 1, sizeof(*disks));

        if (!disks)
                abort();
        for (size_t i = 0; i < n; i++) {
                const char *eq = strchr(v[i], '=');

                if (strncmp(v[i], "/dev/", 5) == 0 && eq) {
                        kiln_register_disk *d = &disks[spec->n_disks++];

                        d->device_name = strndup(v[i], (size_t) (eq - v[i]));
                        if (!d->device_name)
                                abort();
                        d->path = eq + 1;
                } else if (spec->disk_path) {
                        free(v);
                        cli_register_disks_free(disks, spec->n_disks);
                        return cli_usage_error("--disk: one FILE for the root; give the others "
                                               "as DEVICE=FILE (/dev/vdb=data.qcow2)");
                } else {
                        spec->disk_path = v[i];
                }
        }
        free(v);
        spec->disks = disks;
        *ret = disks;
        return 0;
}

void cli_register_disks_free(kiln_register_disk *d, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free((char *) d[i].device_name);
        free(d);
}

int cmd_register_image(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_register_spec spec = {
                .name = cli_arg_get(args, "name"),
                .device_name = cli_arg_get(args, "device-name"),
                .root_device_name = cli_arg_get(args, "root-device-name"),
                .platform = cli_arg_get(args, "platform"),
                .default_user = cli_arg_get(args, "default-user"),
                .architecture = cli_arg_get(args, "architecture"),
                .description = cli_arg_get(args, "description"),
                .boot_mode = cli_arg_get(args, "boot-mode"),
                .tpm_support = cli_arg_get(args, "tpm-support"),
                .secure_boot = cli_arg_has(args, "secure-boot"),
                .no_ena = cli_arg_has(args, "no-ena-support"),
                .rtc = cli_arg_get(args, "clock"),
        };
        kiln_autofree char *uefi = NULL;
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autofree char *id = NULL;
        kiln_register_disk *disks = NULL;
        cli_mappings maps = {0};
        int rc = 0;

        (void) verb;
        if (!spec.name)
                return cli_usage_error("register-image needs --name");
        if (spec.no_ena && cli_arg_has(args, "ena-support"))
                return cli_usage_error("give --ena-support or --no-ena-support, not both");
        rc = parse_disks(args, &spec, &disks);
        if (rc != 0)
                return rc;
        if (cli_parse_mappings(args, &maps, &err) < 0) {
                cli_register_disks_free(disks, spec.n_disks);
                return cli_fail(err);
        }
        spec.mappings = maps.specs;
        spec.n_mappings = maps.n;
        if (cli_arg_has(args, "uefi-data")) {
                size_t len = 0;

                rc = cli_read_value("--uefi-data", cli_arg_get(args, "uefi-data"), 8u << 20, &uefi,
                                    &len);
                spec.uefi_data = uefi;
        }
        if (rc == 0 && !spec.disk_path && spec.n_disks == 0 && maps.n == 0)
                rc = cli_usage_error("register-image needs --disk FILE, or "
                                     "--block-device-mappings with snapshots");
        if (rc == 0)
                ctx = cli_ctx_open(g, &rc);
        if (ctx) {
                cli_progress_setup(g);
                if (kiln_image_register(ctx, &spec, cli_progress, NULL, &id, &err) == 0)
                        print_image_id(g, id);
                cli_progress_end(g);
        }
        cli_register_disks_free(disks, spec.n_disks);
        cli_mappings_free(&maps);
        return err ? cli_fail(err) : rc;
}

/* Steps of a bake on stderr ("kiln: ..."), unless --quiet; warnings always. */
void cli_notify_steps(kiln_log_level level, const char *msg, void *userdata)
{
        const cli_global *g = userdata;

        if (level == KILN_LOG_WARN)
                cli_message("warning", msg);
        else if (!g->quiet)
                cli_message(NULL, msg);
}

int cmd_import_image(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_import_spec spec = {
                .catalog = cli_arg_get(args, "catalog"),
                .url = cli_arg_get(args, "url"),
                .checksum = cli_arg_get(args, "checksum"),
                .name = cli_arg_get(args, "name"),
                .platform = cli_arg_get(args, "platform"),
                .default_user = cli_arg_get(args, "default-user"),
                .architecture = cli_arg_get(args, "architecture"),
                .description = cli_arg_get(args, "description"),
                .notify = cli_notify_steps,
                .userdata = (void *) g,
        };
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autofree char *id = NULL;
        int rc = 0;

        (void) verb;
        if (!spec.url && !spec.catalog)
                return cli_usage_error("import-image needs --url URL or --catalog NAME");
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        cli_progress_setup(g);
        rc = kiln_image_import(ctx, &spec, cli_progress, NULL, &id, &err);
        cli_progress_end(g);
        if (rc < 0)
                return cli_fail(err);
        print_image_id(g, id);
        return CLI_EXIT_OK;
}

int cmd_create_image(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_create_image_spec spec = {
                .instance_id = cli_arg_get(args, "instance-id"),
                .name = cli_arg_get(args, "name"),
                .description = cli_arg_get(args, "description"),
                .no_reboot = cli_arg_has(args, "no-reboot"),
                .no_generalize = cli_arg_has(args, "no-generalize"),
                .notify = cli_notify_steps,
                .userdata = (void *) g,
        };
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_bake_result res = {0};
        cli_tag_specs tags = {0};
        cli_mappings maps = {0};
        int rc = 0;

        (void) verb;
        if (cli_arg_has(args, "reboot"))
                spec.no_reboot = false;
        if (!spec.instance_id)
                return cli_usage_error("create-image needs --instance-id");
        if (!spec.name)
                return cli_usage_error("create-image needs --name");
        if (cli_parse_creation(args, &tags, &maps, &err) < 0)
                return cli_fail(err);
        spec.tag_specs = tags.specs;
        spec.n_tag_specs = tags.n;
        spec.mappings = maps.specs;
        spec.n_mappings = maps.n;
        ctx = cli_ctx_open(g, &rc);
        if (ctx)
                rc = kiln_image_create(ctx, &spec, &res, &err) < 0 ? cli_fail(err) : 0;
        cli_tag_specs_free(&tags);
        cli_mappings_free(&maps);
        if (!ctx || rc != 0)
                return rc;
        print_image_id(g, res.image_id);
        free(res.image_id);
        /* The image is registered; that the instance did not start again is still an error. */
        if (res.restart_error) {
                err = res.restart_error;
                kiln_error_prefix(&err, "the image is registered, but the instance was not started "
                                        "again");
                return cli_fail(err);
        }
        return CLI_EXIT_OK;
}

int cmd_describe_images(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_image_query q = {0};
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        const char **ids = NULL, **owners = NULL, **users = NULL;
        kiln_filter *filters = NULL;
        size_t n_filters = 0, n = 0;
        kiln_image *imgs = NULL;
        int rc = 0;

        (void) verb;
        rc = cli_parse_filters(args, &filters, &n_filters);
        if (rc != 0)
                return rc;
        q.n_image_ids = cli_arg_all(args, "image-ids", &ids);
        q.image_ids = ids;
        q.n_owners = cli_arg_all(args, "owners", &owners);
        q.owners = owners;
        q.n_executable_users = cli_arg_all(args, "executable-users", &users);
        q.executable_users = users;
        q.filters = filters;
        q.n_filters = n_filters;
        ctx = cli_ctx_open(g, &rc);
        if (ctx && kiln_images_describe(ctx, &q, &imgs, &n, &err) == 0) {
                cli_writer *w = cli_writer_new(g);

                cli_w_object(w, NULL);
                kiln_shape_list_begin(cli_w_sink(w), KILN_LIST_IMAGES);
                for (size_t i = 0; i < n; i++)
                        kiln_shape_image(cli_w_sink(w), &imgs[i]);
                cli_w_end_array(w);
                cli_w_end_object(w);
                cli_writer_finish(w, g);
                kiln_images_free(imgs, n);
        }
        free(ids);
        free(owners);
        free(users);
        cli_filters_free(filters, n_filters);
        return ctx ? finish(err) : rc;
}

int cmd_deregister_image(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *id = cli_arg_get(args, "image-id");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        int rc = 0;

        (void) verb;
        if (!id)
                return cli_usage_error("deregister-image needs --image-id");
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        kiln_image_deregister(ctx, id, &err);
        return finish(err);
}

int cmd_copy_image(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_copy_spec spec = {
                .source_region = cli_arg_get(args, "source-region"),
                .source_image_id = cli_arg_get(args, "source-image-id"),
                .name = cli_arg_get(args, "name"),
                .description = cli_arg_get(args, "description"),
                .copy_image_tags = cli_arg_has(args, "copy-image-tags"),
                .client_token = cli_arg_get(args, "client-token"),
                .all_hosts = cli_arg_has(args, "all-hosts"),
        };
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autofree char *id = NULL;
        int rc = 0;

        (void) verb;
        if (!spec.source_region || !spec.source_image_id || !spec.name)
                return cli_usage_error("copy-image needs --source-region, --source-image-id and "
                                       "--name");
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        cli_progress_setup(g);
        rc = kiln_image_copy(ctx, &spec, cli_progress, NULL, &id, &err);
        cli_progress_end(g);
        if (rc < 0)
                return cli_fail(err);
        print_image_id(g, id);
        return CLI_EXIT_OK;
}

int cmd_describe_image_attribute(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *id = cli_arg_get(args, "image-id");
        const char *attribute = cli_arg_get(args, "attribute");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_image_attribute a = {0};
        cli_writer *w;
        int rc = 0;

        (void) verb;
        if (!id || !attribute)
                return cli_usage_error("describe-image-attribute needs --image-id and "
                                       "--attribute");
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        if (kiln_image_attribute_describe(ctx, id, attribute, &a, &err) < 0)
                return cli_fail(err);
        w = cli_writer_new(g);
        kiln_shape_image_attribute(cli_w_sink(w), &a, attribute);
        cli_writer_finish(w, g);
        kiln_image_attribute_clear(&a);
        return CLI_EXIT_OK;
}

int cmd_modify_image_attribute(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *id = cli_arg_get(args, "image-id");
        const char *perm = cli_arg_get(args, "launch-permission");
        const char *desc = cli_arg_get(args, "description");
        const char *attribute = cli_arg_get(args, "attribute");
        const char *value = cli_arg_get(args, "value");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        cli_perm_change c = {0};
        int rc = 0;

        (void) verb;
        if (!id)
                return cli_usage_error("modify-image-attribute needs --image-id");
        if (attribute && strcmp(attribute, "description") == 0 && value)
                desc = value;
        if (desc && strncmp(desc, "Value=", 6) == 0)
                desc += 6;
        if (!perm && !desc && !cli_arg_has(args, "operation-type"))
                return cli_usage_error("modify-image-attribute needs --launch-permission, "
                                       "--description, or --attribute launchPermission "
                                       "--operation-type add|remove with --user-ids, "
                                       "--user-groups or --organization-arns");
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        if (desc) {
                kiln_image_modify_description(ctx, id, desc, &err);
                return finish(err);
        }
        if (perm)
                rc = cli_parse_permission(perm, &c, &err);
        else
                rc = cli_parse_flat_permission(args, "user-groups", &c, &err);
        if (rc == 0) {
                kiln_permission_change change = {c.add, c.n_add, c.remove, c.n_remove};

                kiln_image_modify_launch_permission(ctx, id, &change,
                                                    cli_arg_has(args, "with-snapshots"), &err);
        }
        cli_perm_change_free(&c);
        return finish(err);
}

int cmd_reset_image_attribute(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *id = cli_arg_get(args, "image-id");
        const char *attribute = cli_arg_get(args, "attribute");
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        int rc = 0;

        (void) verb;
        if (!id || !attribute)
                return cli_usage_error("reset-image-attribute needs --image-id and --attribute");
        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        kiln_image_attribute_reset(ctx, id, attribute, &err);
        return finish(err);
}

/* ---- command table rows ---- */

static const cli_opt register_opts[] = {
        {"name", CLI_ARG_ONE, "NAME", "image name: 3-128 characters, unique in the region"},
        {"disk", CLI_ARG_LIST, "FILE|DEVICE=FILE...",
         "raw or qcow2 disk files with no backing file: the root's, and one per other device"},
        {"root-device-name", CLI_ARG_ONE, "DEV", "the root device (default /dev/vda)"},
        {"device-name", CLI_ARG_ONE, "DEV", "the same as --root-device-name"},
        {"block-device-mappings", CLI_ARG_LIST, "DeviceName=DEV,Ebs={SnapshotId=ID}...",
         "devices from snapshots (or empty, with VolumeSize), as EC2's RegisterImage"},
        {"platform", CLI_ARG_ONE, "linux|windows", "guest platform (default linux)"},
        {"default-user", CLI_ARG_ONE, "USER", "login user of the image (admin, ubuntu, ...)"},
        {"architecture", CLI_ARG_ONE, "x86_64|i386|arm64", "CPU architecture (default x86_64)"},
        {"boot-mode", CLI_ARG_ONE, "legacy-bios|uefi|uefi-preferred",
         "firmware (default legacy-bios); UEFI is OVMF, each instance with its own variables"},
        {"tpm-support", CLI_ARG_ONE, "v2.0", "instances get an emulated TPM 2.0 (needs UEFI)"},
        {"uefi-data", CLI_ARG_ONE, "TEXT|file://PATH",
         "the UEFI variables instances start with, as describe-image-attribute --attribute "
         "uefiData prints them"},
        {"secure-boot", CLI_ARG_NONE, NULL, "UEFI with Secure Boot (the firmware's keys)"},
        {"ena-support", CLI_ARG_NONE, NULL, "the guest has virtio drivers (the default)"},
        {"no-ena-support", CLI_ARG_NONE, NULL,
         "the guest has no virtio drivers: instances get an e1000e NIC and SATA disks"},
        {"clock", CLI_ARG_ONE, "utc|localtime",
         "the instances' hardware clock (default: local time for Windows, else UTC)"},
        {"description", CLI_ARG_ONE, "TEXT", "up to 255 characters"},
        CLI_END_OPTS,
};

static const cli_opt import_image_opts[] = {
        {"url", CLI_ARG_ONE, "URL", "http:// or https:// address of a disk image"},
        {"catalog", CLI_ARG_ONE, "NAME",
         "an image of templates/catalog.json: its URL, checksum, user, owner and price"},
        {"checksum", CLI_ARG_ONE, "sha256:HEX|sha512:HEX", "checked while the bytes arrive"},
        {"name", CLI_ARG_ONE, "NAME", "image name (default: the URL's file name)"},
        {"platform", CLI_ARG_ONE, "linux|windows", "override what is detected from the disk"},
        {"default-user", CLI_ARG_ONE, "USER", "override the detected login user"},
        {"architecture", CLI_ARG_ONE, "x86_64|i386|arm64", "CPU architecture (default x86_64)"},
        {"description", CLI_ARG_ONE, "TEXT", "up to 255 characters"},
        CLI_END_OPTS,
};

static const cli_opt create_image_opts[] = {
        {"instance-id", CLI_ARG_ONE, "ID", "the instance to bake (running or stopped)"},
        {"name", CLI_ARG_ONE, "NAME", "image name: 3-128 characters, unique in the region"},
        {"description", CLI_ARG_ONE, "TEXT", "up to 255 characters"},
        {"no-reboot", CLI_ARG_NONE, NULL,
         "snapshot a running instance live (crash-consistent; needs --no-generalize)"},
        {"reboot", CLI_ARG_NONE, NULL, "shut a running instance down for the bake (the default)"},
        {"no-generalize", CLI_ARG_NONE, NULL,
         "keep the instance's keys, host keys, machine-id and cloud-init state in the image"},
        CLI_OPT_TAG_SPECS("image (image) and its snapshots (snapshot)"),
        {"block-device-mappings", CLI_ARG_LIST, "DeviceName=D,NoDevice=|Ebs={VolumeSize=N}...",
         "leave a volume of the instance out of the image, or record a larger size for it"},
        CLI_END_OPTS,
};

static const cli_opt describe_images_opts[] = {
        {"image-ids", CLI_ARG_LIST, "ID...", "only these images"},
        {"owners", CLI_ARG_LIST, "OWNER...", "self, an account ID, amazon, aws-marketplace"},
        {"executable-users", CLI_ARG_LIST, "WHO...", "self, all or an account ID"},
        {"filters", CLI_ARG_LIST, "Name=N,Values=V...",
         "name, state, platform, is-public, "
         "owner-id, image-id, tag:KEY, tag-key, tag-value, ..."},
        CLI_END_OPTS,
};

static const cli_opt image_id_opts[] = {
        {"image-id", CLI_ARG_ONE, "ID", "the image"},
        CLI_END_OPTS,
};

static const cli_opt copy_opts[] = {
        {"source-region", CLI_ARG_ONE, "REGION", "region of the source image"},
        {"source-image-id", CLI_ARG_ONE, "ID", "the image to copy"},
        {"name", CLI_ARG_ONE, "NAME", "name of the copy in this region"},
        {"description", CLI_ARG_ONE, "TEXT", "description of the copy"},
        {"copy-image-tags", CLI_ARG_NONE, NULL, "the source image's tags (yours) go on the copy"},
        {"client-token", CLI_ARG_ONE, "TOKEN", "idempotency: a retry with it gets the same copy"},
        {"all-hosts", CLI_ARG_NONE, NULL,
         "a region of several hosts: the layers go to every host now (default: its first; the "
         "others get them at their first launch of the image)"},
        CLI_END_OPTS,
};

static const cli_opt image_attr_opts[] = {
        {"image-id", CLI_ARG_ONE, "ID", "the image"},
        {"attribute", CLI_ARG_ONE, "launchPermission|description", "the attribute"},
        CLI_END_OPTS,
};

static const cli_opt modify_image_opts[] = {
        {"image-id", CLI_ARG_ONE, "ID", "the image"},
        {"launch-permission", CLI_ARG_ONE, "SPEC",
         "Add=[{Group=all},{UserId=ID},{OrganizationArn=ARN}],Remove=[...] or JSON"},
        {"description", CLI_ARG_ONE, "TEXT", "new description (or Value=TEXT)"},
        {"attribute", CLI_ARG_ONE, "launchPermission|description", "flat form: the attribute"},
        {"value", CLI_ARG_ONE, "TEXT", "new value of --attribute description"},
        {"operation-type", CLI_ARG_ONE, "add|remove", "flat form: add or remove"},
        {"user-ids", CLI_ARG_LIST, "ID...", "flat form: accounts"},
        {"user-groups", CLI_ARG_LIST, "all", "flat form: all (public)"},
        {"organization-arns", CLI_ARG_LIST, "ARN...", "flat form: organizations"},
        {"with-snapshots", CLI_ARG_NONE, NULL,
         "also grant (or revoke) createVolumePermission on the image's snapshots"},
        CLI_END_OPTS,
};

const cli_verb cli_image_verbs[] = {
        {"register-image", "images", "store a disk file as a snapshot and register an image on it",
         "--name NAME (--disk FILE [DEVICE=FILE...] | --block-device-mappings ...) [OPTIONS]",
         register_opts, 0, cmd_register_image,
         "kiln register-image --name web-base --disk debian.qcow2 /dev/vdb=data.qcow2 "
         "--default-user admin"},
        {"import-image", "images",
         "download a published disk image (resumable, checksummed) and register it",
         "(--url URL [--checksum sha256:HEX] | --catalog NAME) [--name NAME] [OPTIONS]",
         import_image_opts, 0, cmd_import_image,
         "kiln import-image --url https://example.org/debian-12.qcow2 --checksum sha512:..."},
        {"create-image", "images",
         "bake an instance into a new image (generalized, no data copied)",
         "--instance-id ID --name NAME [--description D] [--no-reboot] [--no-generalize]",
         create_image_opts, 0, cmd_create_image,
         "kiln create-image --instance-id i-0123456789abcdef0 --name web-v2"},
        {"describe-images", "images", "list the images the caller may launch",
         "[--image-ids ID...] [--owners ...] [--executable-users ...] [--filters ...]",
         describe_images_opts, 0, cmd_describe_images,
         "kiln describe-images --owners self --filters Name=name,Values=web-*"},
        {"deregister-image", "images", "deregister an image (its snapshots stay)", "--image-id ID",
         image_id_opts, 0, cmd_deregister_image,
         "kiln deregister-image --image-id ami-0123456789abcdef0"},
        {"copy-image", "images", "copy an image from another region into this one",
         "--source-region R --source-image-id ID --name NAME", copy_opts, 0, cmd_copy_image,
         "kiln --region west copy-image --source-region local --source-image-id ami-... --name "
         "web"},
        {"describe-image-attribute", "images", "show an image's launchPermission or description",
         "--image-id ID --attribute launchPermission|description", image_attr_opts, 0,
         cmd_describe_image_attribute,
         "kiln describe-image-attribute --image-id ami-... --attribute launchPermission"},
        {"modify-image-attribute", "images", "share or unshare an image, or change its description",
         "--image-id ID (--launch-permission SPEC | --description TEXT | flat form)",
         modify_image_opts, 0, cmd_modify_image_attribute,
         "kiln modify-image-attribute --image-id ami-... --launch-permission "
         "\"Add=[{UserId=123456789012}]\""},
        {"reset-image-attribute", "images", "make an image private again",
         "--image-id ID --attribute launchPermission", image_attr_opts, 0,
         cmd_reset_image_attribute,
         "kiln reset-image-attribute --image-id ami-... --attribute launchPermission"},
};
const size_t cli_n_image_verbs = KILN_ARRAY_SIZE(cli_image_verbs);
