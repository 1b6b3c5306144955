/* The endpoint's instance actions: RunInstances, DescribeInstances, Start, Stop, Reboot and
 * TerminateInstances, GetConsoleOutput, GetPasswordData, CreateImage,
 * Describe/ModifyInstanceAttribute, DescribeInstanceTypes, DescribeVpcs and DescribeSubnets, each
 * through the public API as the CLI's verbs are, with the same shapes. A stop through the endpoint
 * is forced after 50 s, so that it answers within the aws CLI's 60 s read timeout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ec2-private.h"

#define S(c)           EC2_OUT(c)
#define STOP_TIMEOUT_S 50

/* MinCount and MaxCount: kiln launches all of MaxCount or none, so MinCount only has to be
 * possible. */
static int parse_counts(ec2_call *c, int *ret, kiln_error **err)
{
        const char *min = ec2_param(c->params, "MinCount");
        const char *max = ec2_param(c->params, "MaxCount");
        char *end = NULL;
        long lo, hi;

        if (ec2_need(min, "MinCount", err) < 0 || ec2_need(max, "MaxCount", err) < 0)
                return -1;
        lo = strtol(min, &end, 10);
        if (*end || lo < 1)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Value (%s) for parameter minCount is invalid. Expected a "
                                      "positive number.",
                                      min);
        hi = strtol(max, &end, 10);
        if (*end || hi < 1)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Value (%s) for parameter maxCount is invalid. Expected a "
                                      "positive number.",
                                      max);
        if (lo > hi)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "MinCount (%ld) must not be larger than MaxCount (%ld)", lo,
                                      hi);
        *ret = hi > 1000 ? 1000 : (int) hi;
        return 0;
}

/* What clients send with their defaults (Packer sends every one of these, most empty): each is
 * taken when it asks for what kiln does, and refused when it asks for something else. */
static int run_extras(ec2_call *c, kiln_error **err)
{
        const char *profile = ec2_param(c->params, "IamInstanceProfile.Name");
        const char *profile_arn = ec2_param(c->params, "IamInstanceProfile.Arn");
        const char *shutdown = ec2_param(c->params, "InstanceInitiatedShutdownBehavior");
        const char *tenancy = ec2_param(c->params, "Placement.Tenancy");
        bool ebs_optimized = false, monitoring = false;

        if (ec2_param_bool(c->params, "EbsOptimized", false, &ebs_optimized, err) < 0 ||
            ec2_param_bool(c->params, "Monitoring.Enabled", false, &monitoring, err) < 0)
                return -1;
        if ((profile && *profile) || (profile_arn && *profile_arn))
                return kiln_error_set(err, KILN_E_UNSUPPORTED, "InvalidParameterValue",
                                      "kiln has no IAM: instances take no instance profile");
        if (shutdown && *shutdown && strcmp(shutdown, "stop") != 0)
                return kiln_error_set(err, KILN_E_UNSUPPORTED, "InvalidParameterValue",
                                      "InstanceInitiatedShutdownBehavior '%s': a shutdown inside "
                                      "a kiln guest stops the instance",
                                      shutdown);
        if (tenancy && *tenancy && strcmp(tenancy, "default") != 0)
                return kiln_error_set(err, KILN_E_UNSUPPORTED, "InvalidParameterValue",
                                      "Placement.Tenancy '%s': kiln's instances share the host",
                                      tenancy);
        if (monitoring)
                return kiln_error_set(err, KILN_E_UNSUPPORTED, "InvalidParameterValue",
                                      "kiln has no detailed monitoring (Monitoring.Enabled)");
        return 0;
}

static int run_instances(ec2_call *c, kiln_error **err)
{
        kiln_run_spec spec = {0};
        kiln_mapping_spec *maps = NULL;
        ec2_tag_specs tags = {0};
        unsigned char *user_data = NULL;
        const char *ud = ec2_param(c->params, "UserData");
        kiln_instance *list = NULL;
        const char **sg_ids = NULL, **sg_names = NULL;
        size_t n = 0, ud_len = 0;
        int rc = -1;

        spec.image_id = ec2_param(c->params, "ImageId");
        spec.instance_type = ec2_param(c->params, "InstanceType");
        spec.key_name = ec2_param(c->params, "KeyName");
        spec.client_token = ec2_param(c->params, "ClientToken");
        spec.subnet_id = ec2_param(c->params, "SubnetId");
        spec.availability_zone = ec2_param(c->params, "Placement.AvailabilityZone");
        if (ec2_need(spec.image_id, "ImageId", err) < 0 || parse_counts(c, &spec.count, err) < 0 ||
            run_extras(c, err) < 0 ||
            (ud && *ud && kiln_base64_parse("user data", ud, &user_data, &ud_len, err) < 0))
                return -1;
        spec.user_data = user_data;
        spec.user_data_len = ud_len;
        if (ec2_parse_mappings(c, &maps, &spec.n_mappings, err) < 0)
                goto out;
        spec.mappings = maps;
        if (ec2_parse_tag_specs(c, &tags, err) < 0)
                goto out;
        spec.tag_specs = tags.specs;
        spec.n_tag_specs = tags.n;
        /* SecurityGroupId.N and SecurityGroup.N (names); none: the region's default group. */
        spec.n_security_group_ids = ec2_param_list(c->params, "SecurityGroupId", &sg_ids);
        spec.security_group_ids = sg_ids;
        spec.n_security_group_names = ec2_param_list(c->params, "SecurityGroup", &sg_names);
        spec.security_group_names = sg_names;
        if (ec2_params_done(c, err) < 0 || kiln_instances_run(c->ctx, &spec, &list, &n, err) < 0)
                goto out;
        {
                kiln_connection *conns = kiln_instance_connections(c->ctx, list, n);

                /* RunInstances' answer is the Reservation itself. */
                kiln_shape_reservation(S(c), list, n, conns);
                kiln_connections_free(conns, n);
        }
        kiln_instances_free(list, n);
        rc = 0;
out:
        free(user_data);
        free(maps);
        free(sg_ids);
        free(sg_names);
        ec2_tag_specs_free(&tags);
        return rc;
}

/* DescribeInstances pages by instance (MaxResults 5 to 1000, not with InstanceId.N); a page
 * never splits the instances of one reservation across two Reservation items it answers. */
static int describe_instances(ec2_call *c, kiln_error **err)
{
        const char **ids = NULL;
        size_t n_ids = ec2_param_list(c->params, "InstanceId", &ids);
        kiln_filter *f = NULL;
        size_t nf = 0, n = 0;
        kiln_instance *list = NULL;
        ec2_page p;
        int rc = -1;

        if (ec2_param_filters(c->params, &f, &nf, err) < 0 ||
            ec2_paging(c, false, n_ids, &p, err) < 0 || ec2_params_done(c, err) < 0 ||
            kiln_instances_describe(c->ctx, ids, n_ids, f, nf, &list, &n, err) < 0)
                goto out;
        ec2_page_fit(&p, n);
        {
                kiln_connection *conns =
                        kiln_instance_connections(c->ctx, list + p.first, p.end - p.first);

                kiln_shape_reservations(S(c), list + p.first, p.end - p.first, conns);
                kiln_connections_free(conns, p.end - p.first);
        }
        ec2_page_token(c, &p);
        rc = 0;
out:
        free(ids);
        ec2_filters_free(f, nf);
        kiln_instances_free(list, n);
        return rc;
}

/* DescribeInstanceStatus: the status checks the watch of each start records. */
static int describe_instance_status(ec2_call *c, kiln_error **err)
{
        const char **ids = NULL;
        size_t n_ids = ec2_param_list(c->params, "InstanceId", &ids);
        kiln_filter *f = NULL;
        size_t nf = 0, n = 0;
        kiln_instance_status *list = NULL;
        bool all = false;
        ec2_page p;
        int rc = -1;

        if (ec2_param_bool(c->params, "IncludeAllInstances", false, &all, err) < 0 ||
            ec2_param_filters(c->params, &f, &nf, err) < 0 ||
            ec2_paging(c, false, n_ids, &p, err) < 0 || ec2_params_done(c, err) < 0 ||
            kiln_instance_statuses_describe(c->ctx, ids, n_ids, f, nf, all, &list, &n, err) < 0)
                goto out;
        ec2_page_fit(&p, n);
        kiln_shape_list_begin(S(c), KILN_LIST_INSTANCE_STATUSES);
        for (size_t i = p.first; i < p.end; i++)
                kiln_shape_instance_status(S(c), &list[i]);
        S(c)->end_array(S(c));
        ec2_page_token(c, &p);
        rc = 0;
out:
        free(ids);
        ec2_filters_free(f, nf);
        kiln_instance_statuses_free(list, n);
        return rc;
}

typedef enum { STOP, START, TERMINATE, REBOOT } change_kind;

static int change(ec2_call *c, change_kind kind, kiln_error **err)
{
        static const kiln_change_kind shapes[] = {
                [STOP] = KILN_CHANGE_STOPPING,
                [START] = KILN_CHANGE_STARTING,
                [TERMINATE] = KILN_CHANGE_TERMINATING,
        };
        const char **ids = NULL;
        size_t n_ids = ec2_param_list(c->params, "InstanceId", &ids), n = 0;
        kiln_state_change *ch = NULL;
        bool force = false;
        int rc = -1;

        if (kind == STOP && ec2_param_bool(c->params, "Force", false, &force, err) < 0)
                goto out;
        if (!n_ids) {
                ec2_need(NULL, "InstanceId", err);
                goto out;
        }
        if (ec2_params_done(c, err) < 0)
                goto out;
        switch (kind) {
        case STOP:
                rc = kiln_instances_stop(c->ctx, ids, n_ids, force, STOP_TIMEOUT_S, &ch, &n, err);
                break;
        case START:
                rc = kiln_instances_start(c->ctx, ids, n_ids, &ch, &n, err);
                break;
        case TERMINATE:
                rc = kiln_instances_terminate(c->ctx, ids, n_ids, &ch, &n, err);
                break;
        case REBOOT:
                rc = kiln_instances_reboot(c->ctx, ids, n_ids, err);
                break;
        }
        if (rc == 0 && kind == REBOOT)
                ec2_return_true(c);
        else if (rc == 0)
                kiln_shape_state_changes(S(c), shapes[kind], ch, n);
        kiln_state_changes_free(ch, n);
out:
        free(ids);
        return rc;
}

static int stop_instances(ec2_call *c, kiln_error **err)
{
        const char *hibernate = ec2_param(c->params, "Hibernate");

        if (hibernate && strcmp(hibernate, "false") != 0)
                return kiln_error_set(err, KILN_E_UNSUPPORTED,
                                      "UnsupportedHibernationConfiguration",
                                      "kiln does not hibernate instances");
        return change(c, STOP, err);
}

static int start_instances(ec2_call *c, kiln_error **err)
{
        return change(c, START, err);
}

static int terminate_instances(ec2_call *c, kiln_error **err)
{
        return change(c, TERMINATE, err);
}

static int reboot_instances(ec2_call *c, kiln_error **err)
{
        return change(c, REBOOT, err);
}

/* Output is base64, as EC2 sends it (botocore decodes it for its callers). */
static int get_console_output(ec2_call *c, kiln_error **err)
{
        const char *id = ec2_param(c->params, "InstanceId");
        char *out = NULL, *b64;
        char now[32];
        bool latest = false;
        time_t t = time(NULL);
        struct tm tm;

        if (ec2_need(id, "InstanceId", err) < 0 ||
            ec2_param_bool(c->params, "Latest", false, &latest, err) < 0 ||
            ec2_params_done(c, err) < 0 || kiln_instance_console(c->ctx, id, &out, err) < 0)
                return -1;
        gmtime_r(&t, &tm);
        strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
        b64 = kiln_base64(out, strlen(out));
        S(c)->str(S(c), "InstanceId", "instanceId", id);
        S(c)->str(S(c), "Output", "output", b64);
        S(c)->time(S(c), "Timestamp", "timestamp", now);
        free(b64);
        free(out);
        return 0;
}

static int get_password_data(ec2_call *c, kiln_error **err)
{
        const char *id = ec2_param(c->params, "InstanceId");
        kiln_password_data p = {0};

        if (ec2_need(id, "InstanceId", err) < 0 || ec2_params_done(c, err) < 0 ||
            kiln_instance_password_data(c->ctx, id, &p, err) < 0)
                return -1;
        S(c)->str(S(c), "InstanceId", "instanceId", p.instance_id);
        S(c)->time(S(c), "Timestamp", "timestamp", p.timestamp);
        S(c)->str(S(c), "PasswordData", "passwordData", p.password_data);
        kiln_password_data_clear(&p);
        return 0;
}

/* CreateImage generalizes as `kiln create-image` does: the image holds none of the instance's
 * keys or identity. */
static int create_image(ec2_call *c, kiln_error **err)
{
        kiln_create_image_spec spec = {0};
        kiln_mapping_spec *maps = NULL;
        ec2_tag_specs tags = {0};
        kiln_bake_result res = {0};
        int rc = -1;

        spec.instance_id = ec2_param(c->params, "InstanceId");
        spec.name = ec2_param(c->params, "Name");
        spec.description = ec2_param(c->params, "Description");
        if (ec2_need(spec.instance_id, "InstanceId", err) < 0 ||
            ec2_need(spec.name, "Name", err) < 0 ||
            ec2_param_bool(c->params, "NoReboot", false, &spec.no_reboot, err) < 0 ||
            ec2_parse_mappings(c, &maps, &spec.n_mappings, err) < 0)
                return -1;
        spec.mappings = maps;
        if (ec2_parse_tag_specs(c, &tags, err) < 0)
                goto out;
        spec.tag_specs = tags.specs;
        spec.n_tag_specs = tags.n;
        if (ec2_params_done(c, err) < 0 || kiln_image_create(c->ctx, &spec, &res, err) < 0)
                goto out;
        S(c)->str(S(c), "ImageId", "imageId", res.image_id);
        if (res.restart_error)
                kiln_log(KILN_LOG_WARN,
                         "%s: registered %s, but could not start the instance "
                         "again: %s",
                         spec.instance_id, res.image_id, res.restart_error->msg);
        free(res.image_id);
        kiln_error_free(res.restart_error);
        rc = 0;
out:
        free(maps);
        ec2_tag_specs_free(&tags);
        return rc;
}

/* The types of templates/instance-types.json; no filter is known. */
static int describe_instance_types(ec2_call *c, kiln_error **err)
{
        const char **names = NULL;
        size_t n_names = ec2_param_list(c->params, "InstanceType", &names), n = 0;
        kiln_filter *f = NULL;
        size_t nf = 0;
        kiln_instance_type *t = NULL;
        ec2_page p;
        int rc = -1;

        if (ec2_param_filters(c->params, &f, &nf, err) < 0 ||
            ec2_paging(c, false, n_names, &p, err) < 0 || ec2_params_done(c, err) < 0)
                goto out;
        if (nf) {
                kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                               "The filter '%s' is invalid", f[0].name);
                goto out;
        }
        if (kiln_instance_types_describe(names, n_names, &t, &n, err) < 0)
                goto out;
        ec2_page_fit(&p, n);
        kiln_shape_list_begin(S(c), KILN_LIST_INSTANCE_TYPES);
        for (size_t i = p.first; i < p.end; i++)
                kiln_shape_instance_type(S(c), &t[i]);
        S(c)->end_array(S(c));
        ec2_page_token(c, &p);
        rc = 0;
out:
        free(names);
        ec2_filters_free(f, nf);
        kiln_instance_types_free(t, n);
        return rc;
}

static int describe_instance_attribute(ec2_call *c, kiln_error **err)
{
        const char *id = ec2_param(c->params, "InstanceId");
        const char *attr = ec2_param(c->params, "Attribute");
        kiln_instance_attribute a = {0};

        if (ec2_need(id, "InstanceId", err) < 0 || ec2_need(attr, "Attribute", err) < 0 ||
            kiln_instance_attribute_name_check(attr, err) < 0 || ec2_params_done(c, err) < 0 ||
            kiln_instance_attribute_describe(c->ctx, id, &a, err) < 0)
                return -1;
        kiln_shape_instance_attribute(S(c), &a, attr);
        kiln_instance_attribute_clear(&a);
        return 0;
}

/* One change per call, in the structured form (DisableApiTermination.Value, UserData.Value...)
 * or the flat one (Attribute and Value); UserData's value is base64. */
static int modify_instance_attribute(ec2_call *c, kiln_error **err)
{
        static const struct {
                const char *param, *attr;
                kiln_instance_attr kind;
        } forms[] = {
                {"DisableApiTermination.Value", "disableApiTermination",
                 KILN_ATTR_DISABLE_API_TERMINATION},
                {"DisableApiStop.Value", "disableApiStop", KILN_ATTR_DISABLE_API_STOP},
                {"InstanceInitiatedShutdownBehavior.Value", "instanceInitiatedShutdownBehavior",
                 KILN_ATTR_SHUTDOWN_BEHAVIOR},
                {"UserData.Value", "userData", KILN_ATTR_USER_DATA},
                {"InstanceType.Value", "instanceType", KILN_ATTR_INSTANCE_TYPE},
        };
        const char *id = ec2_param(c->params, "InstanceId");
        const char *attr = ec2_param(c->params, "Attribute");
        const char *flat = ec2_param(c->params, "Value");
        kiln_instance_attribute_change ch = {0};
        unsigned char *ud = NULL;
        const char *value = NULL;
        size_t given = 0;
        int rc = -1;

        if (ec2_need(id, "InstanceId", err) < 0)
                return -1;
        for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
                const char *v = ec2_param(c->params, forms[i].param);

                if (attr && strcmp(attr, forms[i].attr) == 0 && flat && !v)
                        v = flat;
                if (!v)
                        continue;
                given++;
                ch.attr = forms[i].kind;
                value = v;
        }
        if (given != 1 || (attr && !flat))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterCombination",
                                      "Give one attribute to change: DisableApiTermination, "
                                      "DisableApiStop, InstanceInitiatedShutdownBehavior, "
                                      "UserData or InstanceType (or Attribute with Value)");
        if (ch.attr == KILN_ATTR_USER_DATA) {
                if (kiln_base64_parse("user data", value, &ud, &ch.user_data_len, err) < 0)
                        return -1;
                ch.user_data = ud;
        } else if (ch.attr == KILN_ATTR_SHUTDOWN_BEHAVIOR || ch.attr == KILN_ATTR_INSTANCE_TYPE) {
                ch.value = value;
        } else if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) {
                ch.flag = strcmp(value, "true") == 0;
        } else {
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Value (%s) is invalid: true or false", value);
        }
        if (ec2_params_done(c, err) == 0 &&
            kiln_instance_attribute_modify(c->ctx, id, &ch, err) == 0) {
                ec2_return_true(c);
                rc = 0;
        }
        free(ud);
        return rc;
}

/* DescribeVpcs and DescribeSubnets: the region's default VPC and subnet. */
static int describe_network(ec2_call *c, bool subnet, kiln_error **err)
{
        const char **ids = NULL;
        size_t n_ids = ec2_param_list(c->params, subnet ? "SubnetId" : "VpcId", &ids), n = 0;
        kiln_filter *f = NULL;
        size_t nf = 0;
        kiln_vpc *v = NULL;
        ec2_page p;
        int rc = -1;

        if (ec2_param_filters(c->params, &f, &nf, err) < 0 ||
            ec2_paging(c, false, n_ids, &p, err) < 0 || ec2_params_done(c, err) < 0)
                goto out;
        rc = subnet ? kiln_subnets_describe(c->ctx, ids, n_ids, f, nf, &v, &n, err)
                    : kiln_vpcs_describe(c->ctx, ids, n_ids, f, nf, &v, &n, err);
        if (rc < 0)
                goto out;
        ec2_page_fit(&p, n);
        kiln_shape_list_begin(S(c), subnet ? KILN_LIST_SUBNETS : KILN_LIST_VPCS);
        for (size_t i = p.first; i < p.end; i++)
                (subnet ? kiln_shape_subnet : kiln_shape_vpc)(S(c), &v[i],
                                                              kiln_ctx_account(c->ctx));
        S(c)->end_array(S(c));
        ec2_page_token(c, &p);
out:
        free(ids);
        ec2_filters_free(f, nf);
        kiln_vpcs_free(v, n);
        return rc;
}

static int describe_vpcs(ec2_call *c, kiln_error **err)
{
        return describe_network(c, false, err);
}

static int describe_subnets(ec2_call *c, kiln_error **err)
{
        return describe_network(c, true, err);
}

const ec2_action ec2_instance_actions[] = {
        {"CreateImage", create_image, true},
        {"DescribeInstanceAttribute", describe_instance_attribute, false},
        {"DescribeInstanceTypes", describe_instance_types, false},
        {"DescribeInstances", describe_instances, false},
        {"DescribeSubnets", describe_subnets, false},
        {"DescribeVpcs", describe_vpcs, false},
        {"DescribeInstanceStatus", describe_instance_status, false},
        {"GetConsoleOutput", get_console_output, false},
        {"GetPasswordData", get_password_data, false},
        {"ModifyInstanceAttribute", modify_instance_attribute, true},
        {"RebootInstances", reboot_instances, true},
        {"RunInstances", run_instances, true},
        {"StartInstances", start_instances, true},
        {"StopInstances", stop_instances, true},
        {"TerminateInstances", terminate_instances, true},
        {NULL, NULL, false},
};
