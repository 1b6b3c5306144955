/* The endpoint's actions that make or change resources: RegisterImage (from snapshots, with
 * its block device mapping), CopyImage, the image and snapshot attributes, CreateSnapshot,
 * CreateVolume, CreateKeyPair and ImportKeyPair. Structures arrive flattened
 * (BlockDeviceMapping.1.Ebs.SnapshotId, LaunchPermission.Add.2.UserId,
 * TagSpecification.1.Tag.1.Key); each is rebuilt here into the public API's spec. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec2-private.h"

#define S(c)      EC2_OUT(c)
#define MAX_ITEMS 1000

static void *grow(void *p, size_t n, size_t size)
{
        p = realloc(p, (n + 1) * size);
        if (!p)
                abort();
        return p;
}

/* PREFIX.I.MEMBER */
static const char *param_at(ec2_call *c, const char *prefix, size_t i, const char *member)
{
        char name[160];

        snprintf(name, sizeof(name), "%s.%zu.%s", prefix, i, member);
        return ec2_param(c->params, name);
}

/* ---- TagSpecification.N.ResourceType, TagSpecification.N.Tag.M.Key/Value ---- */

void ec2_tag_specs_free(ec2_tag_specs *t)
{
        for (size_t i = 0; i < t->n; i++)
                free((void *) t->specs[i].tags);
        free(t->specs);
        t->specs = NULL;
        t->n = 0;
}

int ec2_parse_tag_specs(ec2_call *c, ec2_tag_specs *ret, kiln_error **err)
{
        memset(ret, 0, sizeof(*ret));
        for (size_t i = 1; i <= MAX_ITEMS; i++) {
                const char *type = param_at(c, "TagSpecification", i, "ResourceType");
                kiln_tag *tags = NULL;
                size_t n = 0;

                for (size_t k = 1; k <= MAX_ITEMS; k++) {
                        char key[96], value[96];
                        const char *kv, *vv;

                        snprintf(key, sizeof(key), "TagSpecification.%zu.Tag.%zu.Key", i, k);
                        snprintf(value, sizeof(value), "TagSpecification.%zu.Tag.%zu.Value", i, k);
                        kv = ec2_param(c->params, key);
                        vv = ec2_param(c->params, value);
                        if (!kv && !vv)
                                break;
                        if (!kv) {
                                free(tags);
                                ec2_tag_specs_free(ret);
                                ec2_need(NULL, key, err);
                                return -1;
                        }
                        tags = grow(tags, n, sizeof(*tags));
                        tags[n].key = (char *) kv;
                        tags[n].value = (char *) (vv ? vv : "");
                        n++;
                }
                if (!type && !n)
                        break;
                if (!type) {
                        free(tags);
                        ec2_tag_specs_free(ret);
                        return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                              "The request must contain the parameter "
                                              "TagSpecification.%zu.ResourceType",
                                              i);
                }
                ret->specs = grow(ret->specs, ret->n, sizeof(*ret->specs));
                ret->specs[ret->n++] = (kiln_tag_spec){type, tags, n};
        }
        return 0;
}

/* ---- BlockDeviceMapping.N ---- */

static int parse_int(const char *v, const char *name, int64_t *ret, kiln_error **err)
{
        char *end = NULL;
        long long n;

        *ret = 0;
        if (!v)
                return 0;
        n = strtoll(v, &end, 10);
        if (!*v || *end || n < 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Value (%s) for parameter %s is invalid: a whole number", v,
                                      name);
        *ret = n;
        return 0;
}

int ec2_parse_mappings(ec2_call *c, kiln_mapping_spec **ret, size_t *ret_n, kiln_error **err)
{
        kiln_mapping_spec *m = NULL;
        size_t n = 0;

        for (size_t i = 1; i <= MAX_ITEMS; i++) {
                const char *dev = param_at(c, "BlockDeviceMapping", i, "DeviceName");
                const char *snap = param_at(c, "BlockDeviceMapping", i, "Ebs.SnapshotId");
                const char *size = param_at(c, "BlockDeviceMapping", i, "Ebs.VolumeSize");
                const char *type = param_at(c, "BlockDeviceMapping", i, "Ebs.VolumeType");
                const char *del = param_at(c, "BlockDeviceMapping", i, "Ebs.DeleteOnTermination");
                const char *enc = param_at(c, "BlockDeviceMapping", i, "Ebs.Encrypted");
                const char *none = param_at(c, "BlockDeviceMapping", i, "NoDevice");
                kiln_mapping_spec q = {0};

                if (!dev && !snap && !size && !type && !del && !none && !enc)
                        break;
                if (enc && strcmp(enc, "false") != 0) {
                        free(m);
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "BlockDeviceMapping.%zu: kiln's volumes are not "
                                              "encrypted (Encrypted=true is not supported)",
                                              i);
                }
                q.device_name = dev;
                q.snapshot_id = snap;
                q.volume_type = type;
                q.no_device = none != NULL;
                q.delete_on_termination = !del ? -1 : strcmp(del, "true") == 0 ? 1 : 0;
                if (parse_int(size, "Ebs.VolumeSize", &q.volume_size, err) < 0) {
                        free(m);
                        return -1;
                }
                m = grow(m, n, sizeof(*m));
                m[n++] = q;
        }
        *ret = m;
        *ret_n = n;
        return 0;
}

/* ---- permissions: PREFIX.Add.N.{UserId,Group,OrganizationArn,OrganizationalUnitArn} ---- */

typedef struct perms {
        kiln_permission *add, *remove;
        size_t n_add, n_remove;
} perms;

static void perms_free(perms *p)
{
        kiln_permissions_free(p->add, p->n_add);
        kiln_permissions_free(p->remove, p->n_remove);
}

static int perm_push(kiln_permission **list, size_t *n, const char *kind, const char *value,
                     kiln_error **err)
{
        kiln_permission p = {0};

        if (kiln_permission_parse(kind, value, &p, err) < 0)
                return -1;
        *list = grow(*list, *n, sizeof(**list));
        (*list)[(*n)++] = p;
        return 0;
}

static int parse_perm_list(ec2_call *c, const char *prefix, const char *op, kiln_permission **list,
                           size_t *n, kiln_error **err)
{
        static const char *const kinds[] = {"UserId", "Group", "OrganizationArn",
                                            "OrganizationalUnitArn"};

        for (size_t i = 1; i <= MAX_ITEMS; i++) {
                bool any = false;

                for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
                        char name[128];
                        const char *v;

                        snprintf(name, sizeof(name), "%s.%s.%zu.%s", prefix, op, i, kinds[k]);
                        v = ec2_param(c->params, name);
                        if (v && perm_push(list, n, kinds[k], v, err) < 0)
                                return -1;
                        any = any || v;
                }
                if (!any)
                        break;
        }
        return 0;
}

/* The structured form (PREFIX.Add/Remove) or the flat one (OperationType with UserId.N and
 * UserGroup.N, or GroupName.N for snapshots). */
static int parse_perms(ec2_call *c, const char *prefix, const char *group_param, perms *p,
                       kiln_error **err)
{
        const char *op = ec2_param(c->params, "OperationType");
        const char **users = NULL, **groups = NULL;
        size_t nu = ec2_param_list(c->params, "UserId", &users);
        size_t ng = ec2_param_list(c->params, group_param, &groups);
        int rc = 0;

        memset(p, 0, sizeof(*p));
        if (parse_perm_list(c, prefix, "Add", &p->add, &p->n_add, err) < 0 ||
            parse_perm_list(c, prefix, "Remove", &p->remove, &p->n_remove, err) < 0)
                rc = -1;
        /* Packer sends LaunchPermission.Add.N.UserId and UserId.N for the same accounts,
         * without OperationType: the structured form then says it all. */
        if (rc == 0 && !op && (p->n_add || p->n_remove))
                nu = ng = 0;
        if (rc == 0 && (op || nu || ng)) {
                bool add = op && strcmp(op, "add") == 0;

                if (!op || (!add && strcmp(op, "remove") != 0))
                        rc = kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                            "OperationType must be add or remove, with UserId.N "
                                            "or %s.N",
                                            group_param);
                for (size_t i = 0; rc == 0 && i < nu; i++)
                        rc = perm_push(add ? &p->add : &p->remove, add ? &p->n_add : &p->n_remove,
                                       "UserId", users[i], err);
                for (size_t i = 0; rc == 0 && i < ng; i++)
                        rc = perm_push(add ? &p->add : &p->remove, add ? &p->n_add : &p->n_remove,
                                       "Group", groups[i], err);
        }
        free(users);
        free(groups);
        if (rc < 0)
                perms_free(p);
        return rc;
}

/* ---- images ---- */

int ec2_register_image(ec2_call *c, kiln_error **err)
{
        kiln_register_spec spec = {0};
        kiln_mapping_spec *maps = NULL;
        size_t n_maps = 0;
        const char *virt, *ena;
        kiln_autofree char *id = NULL;
        int rc = -1;

        spec.name = ec2_param(c->params, "Name");
        spec.description = ec2_param(c->params, "Description");
        spec.architecture = ec2_param(c->params, "Architecture");
        spec.root_device_name = ec2_param(c->params, "RootDeviceName");
        spec.boot_mode = ec2_param(c->params, "BootMode");
        spec.tpm_support = ec2_param(c->params, "TpmSupport");
        spec.uefi_data = ec2_param(c->params, "UefiData");
        virt = ec2_param(c->params, "VirtualizationType");
        ena = ec2_param(c->params, "EnaSupport");
        if (ec2_need(spec.name, "Name", err) < 0 || ec2_parse_mappings(c, &maps, &n_maps, err) < 0)
                return -1;
        if (virt && strcmp(virt, "hvm") != 0) {
                kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                               "kiln's images are hvm, not %s", virt);
                goto out;
        }
        /* Without ENA (virtio) drivers, instances get an e1000e NIC and SATA disks. */
        if (ena && strcmp(ena, "true") != 0 && strcmp(ena, "false") != 0) {
                kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                               "Invalid value '%s' for EnaSupport: expected true or false", ena);
                goto out;
        }
        spec.no_ena = ena && strcmp(ena, "false") == 0;
        if (!n_maps) {
                ec2_need(NULL, "BlockDeviceMapping", err);
                goto out;
        }
        spec.mappings = maps;
        spec.n_mappings = n_maps;
        if (ec2_params_done(c, err) < 0 ||
            kiln_image_register(c->ctx, &spec, NULL, NULL, &id, err) < 0)
                goto out;
        S(c)->str(S(c), "ImageId", "imageId", id);
        rc = 0;
out:
        free(maps);
        return rc;
}

int ec2_copy_image(ec2_call *c, kiln_error **err)
{
        kiln_copy_spec spec = {0};
        kiln_autofree char *id = NULL;
        const char *enc;

        spec.source_region = ec2_param(c->params, "SourceRegion");
        spec.source_image_id = ec2_param(c->params, "SourceImageId");
        spec.name = ec2_param(c->params, "Name");
        spec.description = ec2_param(c->params, "Description");
        enc = ec2_param(c->params, "Encrypted");
        spec.client_token = ec2_param(c->params, "ClientToken");
        if (ec2_need(spec.source_region, "SourceRegion", err) < 0 ||
            ec2_need(spec.source_image_id, "SourceImageId", err) < 0 ||
            ec2_need(spec.name, "Name", err) < 0 ||
            ec2_param_bool(c->params, "CopyImageTags", false, &spec.copy_image_tags, err) < 0)
                return -1;
        if (enc && strcmp(enc, "false") != 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "kiln's snapshots are not encrypted (Encrypted=true is "
                                      "not supported)");
        if (ec2_params_done(c, err) < 0 || kiln_image_copy(c->ctx, &spec, NULL, NULL, &id, err) < 0)
                return -1;
        S(c)->str(S(c), "ImageId", "imageId", id);
        return 0;
}

int ec2_describe_image_attribute(ec2_call *c, kiln_error **err)
{
        const char *id = ec2_param(c->params, "ImageId");
        const char *attr = ec2_param(c->params, "Attribute");
        kiln_image_attribute a = {0};

        if (ec2_need(id, "ImageId", err) < 0 || ec2_need(attr, "Attribute", err) < 0 ||
            ec2_params_done(c, err) < 0 ||
            kiln_image_attribute_describe(c->ctx, id, attr, &a, err) < 0)
                return -1;
        kiln_shape_image_attribute(S(c), &a, attr);
        kiln_image_attribute_clear(&a);
        return 0;
}

int ec2_modify_image_attribute(ec2_call *c, kiln_error **err)
{
        const char *id = ec2_param(c->params, "ImageId");
        const char *attr = ec2_param(c->params, "Attribute");
        const char *desc = ec2_param(c->params, "Description.Value");
        const char *value = ec2_param(c->params, "Value");
        perms p = {0};
        int rc = -1;

        if (ec2_need(id, "ImageId", err) < 0 ||
            parse_perms(c, "LaunchPermission", "UserGroup", &p, err) < 0)
                return -1;
        if (attr && strcmp(attr, "description") == 0 && !desc)
                desc = value;
        if (ec2_params_done(c, err) < 0)
                goto out;
        if (desc && !p.n_add && !p.n_remove) {
                rc = kiln_image_modify_description(c->ctx, id, desc, err);
        } else if (!desc && (p.n_add || p.n_remove)) {
                kiln_permission_change ch = {p.add, p.n_add, p.remove, p.n_remove};

                rc = kiln_image_modify_launch_permission(c->ctx, id, &ch, false, err);
        } else {
                kiln_error_set(err, KILN_E_INVALID, "InvalidParameterCombination",
                               "Give one change: LaunchPermission (or OperationType with UserId "
                               "and UserGroup), or Description");
        }
        if (rc == 0)
                ec2_return_true(c);
out:
        perms_free(&p);
        return rc;
}

int ec2_reset_image_attribute(ec2_call *c, kiln_error **err)
{
        const char *id = ec2_param(c->params, "ImageId");
        const char *attr = ec2_param(c->params, "Attribute");

        if (ec2_need(id, "ImageId", err) < 0 || ec2_need(attr, "Attribute", err) < 0 ||
            ec2_params_done(c, err) < 0 || kiln_image_attribute_reset(c->ctx, id, attr, err) < 0)
                return -1;
        ec2_return_true(c);
        return 0;
}

/* ---- snapshots ---- */

int ec2_describe_snapshot_attribute(ec2_call *c, kiln_error **err)
{
        const char *id = ec2_param(c->params, "SnapshotId");
        const char *attr = ec2_param(c->params, "Attribute");
        kiln_permission *p = NULL;
        size_t n = 0;

        if (ec2_need(id, "SnapshotId", err) < 0 || ec2_need(attr, "Attribute", err) < 0)
                return -1;
        if (strcmp(attr, "createVolumePermission") != 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Value (%s) for parameter attribute is invalid. Expected "
                                      "createVolumePermission.",
                                      attr);
        if (ec2_params_done(c, err) < 0 ||
            kiln_snapshot_permissions_describe(c->ctx, id, &p, &n, err) < 0)
                return -1;
        kiln_shape_snapshot_attribute(S(c), id, p, n);
        kiln_permissions_free(p, n);
        return 0;
}

int ec2_modify_snapshot_attribute(ec2_call *c, kiln_error **err)
{
        const char *id = ec2_param(c->params, "SnapshotId");
        const char *attr = ec2_param(c->params, "Attribute");
        perms p = {0};
        int rc = -1;

        if (ec2_need(id, "SnapshotId", err) < 0 ||
            parse_perms(c, "CreateVolumePermission", "GroupName", &p, err) < 0)
                return -1;
        if (attr && strcmp(attr, "createVolumePermission") != 0)
                kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                               "Value (%s) for parameter attribute is invalid. Expected "
                               "createVolumePermission.",
                               attr);
        else if (ec2_params_done(c, err) == 0) {
                kiln_permission_change ch = {p.add, p.n_add, p.remove, p.n_remove};

                rc = kiln_snapshot_modify_permission(c->ctx, id, &ch, err);
        }
        if (rc == 0)
                ec2_return_true(c);
        perms_free(&p);
        return rc;
}

int ec2_reset_snapshot_attribute(ec2_call *c, kiln_error **err)
{
        const char *id = ec2_param(c->params, "SnapshotId");
        const char *attr = ec2_param(c->params, "Attribute");

        if (ec2_need(id, "SnapshotId", err) < 0 || ec2_need(attr, "Attribute", err) < 0 ||
            ec2_params_done(c, err) < 0 || kiln_snapshot_attribute_reset(c->ctx, id, attr, err) < 0)
                return -1;
        ec2_return_true(c);
        return 0;
}

int ec2_create_snapshot(ec2_call *c, kiln_error **err)
{
        kiln_snapshot_spec spec = {0};
        kiln_snapshot s = {0};
        ec2_tag_specs tags = {0};
        int rc = -1;

        spec.volume_id = ec2_param(c->params, "VolumeId");
        spec.description = ec2_param(c->params, "Description");
        if (ec2_need(spec.volume_id, "VolumeId", err) < 0 || ec2_parse_tag_specs(c, &tags, err) < 0)
                return -1;
        spec.tag_specs = tags.specs;
        spec.n_tag_specs = tags.n;
        if (ec2_params_done(c, err) == 0 && kiln_snapshot_create(c->ctx, &spec, &s, err) == 0) {
                kiln_shape_snapshot(S(c), &s);
                kiln_snapshot_clear(&s);
                rc = 0;
        }
        ec2_tag_specs_free(&tags);
        return rc;
}

/* ---- volumes ---- */

int ec2_create_volume(ec2_call *c, kiln_error **err)
{
        kiln_volume_spec spec = {0};
        kiln_volume v = {0};
        ec2_tag_specs tags = {0};
        const char *enc = ec2_param(c->params, "Encrypted");
        int rc = -1;

        spec.snapshot_id = ec2_param(c->params, "SnapshotId");
        spec.volume_type = ec2_param(c->params, "VolumeType");
        spec.client_token = ec2_param(c->params, "ClientToken");
        spec.availability_zone = ec2_param(c->params, "AvailabilityZone");
        if (ec2_need(spec.availability_zone, "AvailabilityZone", err) < 0 ||
            parse_int(ec2_param(c->params, "Size"), "Size", &spec.size, err) < 0 ||
            ec2_parse_tag_specs(c, &tags, err) < 0)
                return -1;
        spec.tag_specs = tags.specs;
        spec.n_tag_specs = tags.n;
        if (enc && strcmp(enc, "false") != 0)
                kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                               "kiln's volumes are not encrypted (Encrypted=true is not "
                               "supported)");
        else if (ec2_params_done(c, err) == 0 && kiln_volume_create(c->ctx, &spec, &v, err) == 0) {
                kiln_shape_volume(S(c), &v, false);
                kiln_volume_clear(&v);
                rc = 0;
        }
        ec2_tag_specs_free(&tags);
        return rc;
}

/* ---- key pairs ---- */

int ec2_create_key_pair(ec2_call *c, kiln_error **err)
{
        const char *name = ec2_param(c->params, "KeyName");
        const char *type = ec2_param(c->params, "KeyType");
        const char *format = ec2_param(c->params, "KeyFormat");
        char *material = NULL;
        kiln_keypair kp = {0};
        ec2_tag_specs tags = {0};
        int rc = -1;

        if (ec2_need(name, "KeyName", err) < 0 || ec2_parse_tag_specs(c, &tags, err) < 0)
                return -1;
        if (ec2_params_done(c, err) == 0 &&
            kiln_keypair_create(c->ctx, name, type, format, NULL, tags.specs, tags.n, &kp,
                                &material, err) == 0) {
                kiln_shape_keypair_made(S(c), &kp, material);
                kiln_keypair_material_free(material);
                kiln_keypair_clear(&kp);
                rc = 0;
        }
        ec2_tag_specs_free(&tags);
        return rc;
}

int ec2_import_key_pair(ec2_call *c, kiln_error **err)
{
        const char *name = ec2_param(c->params, "KeyName");
        const char *material = ec2_param(c->params, "PublicKeyMaterial");
        kiln_keypair kp = {0};
        ec2_tag_specs tags = {0};
        int rc = -1;

        if (ec2_need(name, "KeyName", err) < 0 ||
            ec2_need(material, "PublicKeyMaterial", err) < 0 ||
            ec2_parse_tag_specs(c, &tags, err) < 0)
                return -1;
        if (ec2_params_done(c, err) == 0 &&
            kiln_keypair_import(c->ctx, name, material, tags.specs, tags.n, &kp, err) == 0) {
                kiln_shape_keypair_made(S(c), &kp, NULL);
                kiln_keypair_clear(&kp);
                rc = 0;
        }
        ec2_tag_specs_free(&tags);
        return rc;
}
