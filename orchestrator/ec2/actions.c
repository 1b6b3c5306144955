/* The endpoint's actions: each reads its parameters (marking them, so that the rest are
 * UnknownParameter), calls the public API once, and writes its answer through the shared
 * shapes. DryRun=true: an action that describes stops after its parameters are checked, with
 * DryRunOperation; one that changes something runs in the library's dry run, which checks what
 * the change would (ownership, permissions, states) and stops before it, so that a caller who
 * may not do it gets UnauthorizedOperation instead. Describe
 * actions that EC2 pages take MaxResults (5 to 1000) and NextToken: kiln answers the whole
 * list from the library and cuts the page here; the token is the index of the next item. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ec2-private.h"

#define S(c) EC2_OUT(c)

static int dry_run(kiln_error **err)
{
        return kiln_error_set(err, KILN_E_PERMISSION, "DryRunOperation",
                              "Request would have succeeded, but DryRun flag is set.");
}

int ec2_params_done(ec2_call *c, kiln_error **err)
{
        if (ec2_param_bool(c->params, "DryRun", false, &c->dry_run, err) < 0 ||
            ec2_params_check_used(c->params, err) < 0)
                return -1;
        if (c->dry_run && c->writes) {
                kiln_ctx_set_dry_run(c->ctx, true);
                return 0;
        }
        return c->dry_run ? dry_run(err) : 0;
}

int ec2_dry_run_answer(ec2_call *c, int rc, kiln_error **err)
{
        if (!c->dry_run || !c->writes)
                return rc;
        if (rc == 0) {
                /* Every write goes through the registry, which refuses to commit in a dry
                 * run: an action that got here changed nothing it should have. */
                return kiln_error_set(err, KILN_E_INTERNAL, NULL,
                                      "the dry run of this action reached no change to refuse");
        }
        if ((*err)->code == KILN_E_PERMISSION && kiln_error_reason_of(*err) != KILN_R_DRY_RUN) {
                kiln_error *e = kiln_steal(err);

                kiln_log(KILN_LOG_DEBUG, "dry run refused: %s", e->msg);
                kiln_error_free(e);
                return kiln_error_set(err, KILN_E_PERMISSION, "UnauthorizedOperation",
                                      "You are not authorized to perform this operation.");
        }
        return -1;
}

void ec2_return_true(ec2_call *c)
{
        S(c)->boolean(S(c), "Return", "return", true);
}

int ec2_need(const char *v, const char *name, kiln_error **err)
{
        if (v && *v)
                return 0;
        return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                              "The request must contain the parameter %s", name);
}

/* ---- paging ---- */

int ec2_paging(ec2_call *c, bool allowed_with_ids, size_t n_ids, ec2_page *p, kiln_error **err)
{
        const char *max = ec2_param(c->params, "MaxResults");
        const char *token = ec2_param(c->params, "NextToken");
        char *end = NULL;
        long long m = 0, t = 0;

        memset(p, 0, sizeof(*p));
        p->end = SIZE_MAX;
        if (max) {
                m = strtoll(max, &end, 10);
                if (!*max || *end || m < 5 || m > 1000)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "Value ( %s ) for parameter maxResults is "
                                              "invalid. Expect a number from 5 to 1000.",
                                              max);
                if (n_ids && !allowed_with_ids)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterCombination",
                                              "The parameter MaxResults cannot be used with "
                                              "the parameter ids");
        }
        if (token) {
                t = strtoll(token, &end, 10);
                if (!*token || *end || t < 0)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidNextToken",
                                              "The token '%s' is invalid.", token);
        }
        p->first = (size_t) t;
        if (m)
                p->end = p->first + (size_t) m;
        return 0;
}

/* Clamps the page to n items and writes NextToken after the list, if there is more. */
void ec2_page_fit(ec2_page *p, size_t n)
{
        if (p->first > n)
                p->first = n;
        p->more = p->end < n;
        if (p->end > n)
                p->end = n;
}

void ec2_page_token(ec2_call *c, const ec2_page *p)
{
        char t[32];

        if (!p->more)
                return;
        snprintf(t, sizeof(t), "%zu", p->end);
        S(c)->str(S(c), "NextToken", "nextToken", t);
}

/* ---- regions ---- */

static int describe_regions(ec2_call *c, kiln_error **err)
{
        const char **names = NULL;
        size_t n_names = ec2_param_list(c->params, "RegionName", &names), n = 0;
        kiln_region_info *r = NULL;
        bool all = false;
        int rc = -1;

        if (ec2_param_bool(c->params, "AllRegions", false, &all, err) < 0 ||
            ec2_params_done(c, err) < 0 || kiln_regions_describe(c->ctx, &r, &n, err) < 0)
                goto out;
        for (size_t k = 0; k < n_names; k++) {
                bool known = false;

                for (size_t i = 0; i < n; i++)
                        known = known || strcmp(r[i].name, names[k]) == 0;
                if (!known) {
                        kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                       "Invalid region: %s", names[k]);
                        goto out;
                }
        }
        kiln_shape_list_begin(S(c), KILN_LIST_REGIONS);
        for (size_t i = 0; i < n; i++) {
                bool want = n_names == 0;

                for (size_t k = 0; k < n_names; k++)
                        want = want || strcmp(r[i].name, names[k]) == 0;
                if (want)
                        kiln_shape_region(S(c), &r[i]);
        }
        S(c)->end_array(S(c));
        rc = 0;
out:
        free(names);
        kiln_region_infos_free(r, n);
        return rc;
}

/* One zone per host of the current region: the region's name and a letter. */
static int describe_availability_zones(ec2_call *c, kiln_error **err)
{
        const char **names = NULL;
        size_t n_names = ec2_param_list(c->params, "ZoneName", &names);
        const char *region = kiln_ctx_region(c->ctx);
        kiln_region_info *regions = NULL, *r = NULL;
        size_t n_regions = 0;
        bool all = false;
        int rc = -1;

        if (ec2_param_bool(c->params, "AllAvailabilityZones", false, &all, err) < 0 ||
            ec2_params_done(c, err) < 0 ||
            kiln_regions_describe(c->ctx, &regions, &n_regions, err) < 0)
                goto out;
        for (size_t i = 0; i < n_regions; i++)
                if (strcmp(regions[i].name, region) == 0)
                        r = &regions[i];
        if (!r) {
                kiln_error_set(err, KILN_E_INTERNAL, NULL, "no region '%s'", region);
                goto out;
        }
        for (size_t k = 0; k < n_names; k++) {
                bool known = false;

                for (size_t h = 0; h < r->n_hosts; h++)
                        known = known || strcmp(names[k], r->hosts[h].zone) == 0;
                if (!known) {
                        kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                       "The zone '%s' does not exist in region %s", names[k],
                                       region);
                        goto out;
                }
        }
        kiln_shape_list_begin(S(c), KILN_LIST_AVAILABILITY_ZONES);
        for (size_t h = 0; h < r->n_hosts; h++) {
                bool wanted = n_names == 0;

                for (size_t k = 0; k < n_names; k++)
                        wanted = wanted || strcmp(names[k], r->hosts[h].zone) == 0;
                if (wanted)
                        kiln_shape_availability_zone(S(c), r, &r->hosts[h]);
        }
        S(c)->end_array(S(c));
        rc = 0;
out:
        kiln_region_infos_free(regions, n_regions);
        free(names);
        return rc;
}

/* ---- images ---- */

static int describe_images(ec2_call *c, kiln_error **err)
{
        kiln_image_query q = {0};
        const char **ids = NULL, **owners = NULL, **users = NULL;
        kiln_filter *f = NULL;
        size_t nf = 0, n = 0;
        kiln_image *imgs = NULL;
        bool deprecated = false;
        ec2_page p;
        int rc = -1;

        q.n_image_ids = ec2_param_list(c->params, "ImageId", &ids);
        q.image_ids = ids;
        q.n_owners = ec2_param_list(c->params, "Owner", &owners);
        q.owners = owners;
        q.n_executable_users = ec2_param_list(c->params, "ExecutableBy", &users);
        q.executable_users = users;
        /* No image of kiln's is ever deprecated, so both answers are the same. */
        if (ec2_param_filters(c->params, &f, &nf, err) < 0 ||
            ec2_param_bool(c->params, "IncludeDeprecated", false, &deprecated, err) < 0 ||
            ec2_paging(c, false, q.n_image_ids, &p, err) < 0 || ec2_params_done(c, err) < 0)
                goto out;
        q.filters = f;
        q.n_filters = nf;
        if (kiln_images_describe(c->ctx, &q, &imgs, &n, err) < 0)
                goto out;
        ec2_page_fit(&p, n);
        kiln_shape_list_begin(S(c), KILN_LIST_IMAGES);
        for (size_t i = p.first; i < p.end; i++)
                kiln_shape_image(S(c), &imgs[i]);
        S(c)->end_array(S(c));
        ec2_page_token(c, &p);
        kiln_images_free(imgs, n);
        rc = 0;
out:
        free(ids);
        free(owners);
        free(users);
        ec2_filters_free(f, nf);
        return rc;
}

static int deregister_image(ec2_call *c, kiln_error **err)
{
        const char *id = ec2_param(c->params, "ImageId");

        if (ec2_need(id, "ImageId", err) < 0 || ec2_params_done(c, err) < 0 ||
            kiln_image_deregister(c->ctx, id, err) < 0)
                return -1;
        ec2_return_true(c);
        return 0;
}

/* ---- snapshots ---- */

static int describe_snapshots(ec2_call *c, kiln_error **err)
{
        kiln_snapshot_query q = {0};
        const char **ids = NULL, **owners = NULL, **users = NULL;
        kiln_filter *f = NULL;
        size_t nf = 0, n = 0;
        kiln_snapshot *snaps = NULL;
        ec2_page p;
        int rc = -1;

        q.n_snapshot_ids = ec2_param_list(c->params, "SnapshotId", &ids);
        q.snapshot_ids = ids;
        q.n_owners = ec2_param_list(c->params, "Owner", &owners);
        q.owners = owners;
        q.n_restorable_by = ec2_param_list(c->params, "RestorableBy", &users);
        q.restorable_by = users;
        if (ec2_param_filters(c->params, &f, &nf, err) < 0 ||
            ec2_paging(c, false, q.n_snapshot_ids, &p, err) < 0 || ec2_params_done(c, err) < 0)
                goto out;
        q.filters = f;
        q.n_filters = nf;
        if (kiln_snapshots_describe(c->ctx, &q, &snaps, &n, err) < 0)
                goto out;
        ec2_page_fit(&p, n);
        kiln_shape_list_begin(S(c), KILN_LIST_SNAPSHOTS);
        for (size_t i = p.first; i < p.end; i++)
                kiln_shape_snapshot(S(c), &snaps[i]);
        S(c)->end_array(S(c));
        ec2_page_token(c, &p);
        kiln_snapshots_free(snaps, n);
        rc = 0;
out:
        free(ids);
        free(owners);
        free(users);
        ec2_filters_free(f, nf);
        return rc;
}

static int delete_snapshot(ec2_call *c, kiln_error **err)
{
        const char *id = ec2_param(c->params, "SnapshotId");

        if (ec2_need(id, "SnapshotId", err) < 0 || ec2_params_done(c, err) < 0 ||
            kiln_snapshot_delete(c->ctx, id, err) < 0)
                return -1;
        ec2_return_true(c);
        return 0;
}

/* ---- volumes ---- */

static int describe_volumes(ec2_call *c, kiln_error **err)
{
        const char **ids = NULL;
        size_t n_ids = ec2_param_list(c->params, "VolumeId", &ids), nf = 0, n = 0;
        kiln_filter *f = NULL;
        kiln_volume *vols = NULL;
        ec2_page p;
        int rc = -1;

        if (ec2_param_filters(c->params, &f, &nf, err) < 0 ||
            ec2_paging(c, false, n_ids, &p, err) < 0 || ec2_params_done(c, err) < 0 ||
            kiln_volumes_describe(c->ctx, ids, n_ids, f, nf, &vols, &n, err) < 0)
                goto out;
        ec2_page_fit(&p, n);
        kiln_shape_list_begin(S(c), KILN_LIST_VOLUMES);
        for (size_t i = p.first; i < p.end; i++)
                kiln_shape_volume(S(c), &vols[i], true);
        S(c)->end_array(S(c));
        ec2_page_token(c, &p);
        kiln_volumes_free(vols, n);
        rc = 0;
out:
        free(ids);
        ec2_filters_free(f, nf);
        return rc;
}

static int delete_volume(ec2_call *c, kiln_error **err)
{
        const char *id = ec2_param(c->params, "VolumeId");

        if (ec2_need(id, "VolumeId", err) < 0 || ec2_params_done(c, err) < 0 ||
            kiln_volume_delete(c->ctx, id, err) < 0)
                return -1;
        ec2_return_true(c);
        return 0;
}

/* ---- key pairs ---- */

static int describe_key_pairs(ec2_call *c, kiln_error **err)
{
        kiln_keypair_query q = {0};
        const char **names = NULL, **ids = NULL;
        kiln_filter *f = NULL;
        size_t nf = 0, n = 0;
        kiln_keypair *kps = NULL;
        int rc = -1;

        q.n_key_names = ec2_param_list(c->params, "KeyName", &names);
        q.key_names = names;
        q.n_key_pair_ids = ec2_param_list(c->params, "KeyPairId", &ids);
        q.key_pair_ids = ids;
        if (ec2_param_filters(c->params, &f, &nf, err) < 0 ||
            ec2_param_bool(c->params, "IncludePublicKey", false, &q.include_public_key, err) < 0 ||
            ec2_params_done(c, err) < 0)
                goto out;
        q.filters = f;
        q.n_filters = nf;
        if (kiln_keypairs_describe(c->ctx, &q, &kps, &n, err) < 0)
                goto out;
        kiln_shape_list_begin(S(c), KILN_LIST_KEY_PAIRS);
        for (size_t i = 0; i < n; i++)
                kiln_shape_keypair(S(c), &kps[i]);
        S(c)->end_array(S(c));
        kiln_keypairs_free(kps, n);
        rc = 0;
out:
        free(names);
        free(ids);
        ec2_filters_free(f, nf);
        return rc;
}

static int delete_key_pair(ec2_call *c, kiln_error **err)
{
        const char *name = ec2_param(c->params, "KeyName");
        const char *id = ec2_param(c->params, "KeyPairId");

        if (!name && !id)
                return ec2_need(NULL, "KeyName or KeyPairId", err);
        if (ec2_params_done(c, err) < 0 || kiln_keypair_delete(c->ctx, name, id, err) < 0)
                return -1;
        ec2_return_true(c);
        return 0;
}

/* ---- tags ---- */

/* Tag.N.Key and Tag.N.Value; a missing value is NULL when value_optional (DeleteTags). */
static int tags_of(ec2_call *c, bool value_optional, kiln_tag **ret, size_t *ret_n,
                   kiln_error **err)
{
        kiln_tag *t = NULL;
        size_t n = 0;

        for (size_t i = 1; i <= 1000; i++) {
                char kname[64], vname[64];
                const char *k, *v;

                snprintf(kname, sizeof(kname), "Tag.%zu.Key", i);
                snprintf(vname, sizeof(vname), "Tag.%zu.Value", i);
                k = ec2_param(c->params, kname);
                v = ec2_param(c->params, vname);
                if (!k && !v)
                        break;
                if (!k) {
                        free(t);
                        return ec2_need(NULL, kname, err);
                }
                t = realloc(t, (n + 1) * sizeof(*t));
                if (!t)
                        abort();
                t[n].key = (char *) k;
                t[n].value = (char *) (v ? v : value_optional ? NULL : "");
                n++;
        }
        *ret = t;
        *ret_n = n;
        return 0;
}

static int change_tags(ec2_call *c, bool create, kiln_error **err)
{
        const char **ids = NULL;
        size_t n_ids = ec2_param_list(c->params, "ResourceId", &ids), n = 0;
        kiln_tag *tags = NULL;
        int rc = -1;

        if (tags_of(c, !create, &tags, &n, err) < 0)
                goto out;
        if (!n_ids) {
                ec2_need(NULL, "ResourceId.1", err);
                goto out;
        }
        if (create && !n) {
                ec2_need(NULL, "Tag.1.Key", err);
                goto out;
        }
        if (ec2_params_done(c, err) < 0 ||
            (create ? kiln_tags_create(c->ctx, ids, n_ids, tags, n, err)
                    : kiln_tags_delete(c->ctx, ids, n_ids, tags, n, err)) < 0)
                goto out;
        ec2_return_true(c);
        rc = 0;
out:
        free(ids);
        free(tags);
        return rc;
}

static int create_tags(ec2_call *c, kiln_error **err)
{
        return change_tags(c, true, err);
}

static int delete_tags(ec2_call *c, kiln_error **err)
{
        return change_tags(c, false, err);
}

static int describe_tags(ec2_call *c, kiln_error **err)
{
        kiln_filter *f = NULL;
        size_t nf = 0, n = 0;
        kiln_tag_description *d = NULL;
        ec2_page p;
        int rc = -1;

        if (ec2_param_filters(c->params, &f, &nf, err) < 0 || ec2_paging(c, true, 0, &p, err) < 0 ||
            ec2_params_done(c, err) < 0 || kiln_tags_describe(c->ctx, f, nf, &d, &n, err) < 0)
                goto out;
        ec2_page_fit(&p, n);
        S(c)->array(S(c), "Tags", "tagSet");
        for (size_t i = p.first; i < p.end; i++) {
                S(c)->object(S(c), NULL, NULL);
                S(c)->str(S(c), "Key", "key", d[i].key);
                S(c)->str(S(c), "ResourceId", "resourceId", d[i].resource_id);
                S(c)->str(S(c), "ResourceType", "resourceType", d[i].resource_type);
                S(c)->str(S(c), "Value", "value", d[i].value);
                S(c)->end_object(S(c));
        }
        S(c)->end_array(S(c));
        ec2_page_token(c, &p);
        kiln_tag_descriptions_free(d, n);
        rc = 0;
out:
        ec2_filters_free(f, nf);
        return rc;
}

static const ec2_action actions[] = {
        {"CopyImage", ec2_copy_image, true},
        {"CreateKeyPair", ec2_create_key_pair, true},
        {"CreateSnapshot", ec2_create_snapshot, true},
        {"CreateTags", create_tags, true},
        {"CreateVolume", ec2_create_volume, true},
        {"DeleteKeyPair", delete_key_pair, true},
        {"DeleteSnapshot", delete_snapshot, true},
        {"DeleteTags", delete_tags, true},
        {"DeleteVolume", delete_volume, true},
        {"DeregisterImage", deregister_image, true},
        {"DescribeAvailabilityZones", describe_availability_zones, false},
        {"DescribeImageAttribute", ec2_describe_image_attribute, false},
        {"DescribeImages", describe_images, false},
        {"DescribeKeyPairs", describe_key_pairs, false},
        {"DescribeRegions", describe_regions, false},
        {"DescribeSnapshotAttribute", ec2_describe_snapshot_attribute, false},
        {"DescribeSnapshots", describe_snapshots, false},
        {"DescribeTags", describe_tags, false},
        {"DescribeVolumes", describe_volumes, false},
        {"ImportKeyPair", ec2_import_key_pair, true},
        {"ModifyImageAttribute", ec2_modify_image_attribute, true},
        {"ModifySnapshotAttribute", ec2_modify_snapshot_attribute, true},
        {"RegisterImage", ec2_register_image, true},
        {"ResetImageAttribute", ec2_reset_image_attribute, true},
        {"ResetSnapshotAttribute", ec2_reset_snapshot_attribute, true},
        {NULL, NULL, false},
};

ec2_action_fn ec2_action_find(const char *name, bool *ret_writes)
{
        static const ec2_action *const tables[] = {actions, ec2_instance_actions,
                                                   ec2_secgroup_actions};

        for (size_t t = 0; name && t < sizeof(tables) / sizeof(tables[0]); t++)
                for (const ec2_action *a = tables[t]; a->name; a++)
                        if (strcmp(a->name, name) == 0) {
                                *ret_writes = a->writes;
                                return a->fn;
                        }
        return NULL;
}
