/* Instance attributes (EC2's DescribeInstanceAttribute and ModifyInstanceAttribute): the
 * protections from termination and from stopping, the shutdown behaviour, and the user data,
 * which a stopped instance's next boot finds in its seed. */
#include <string.h>

#include "instance/instance-private.h"
#include "seed/seed.h"
#include "util/util.h"

static const char *const attribute_names[] = {"instanceType",
                                              "userData",
                                              "disableApiTermination",
                                              "disableApiStop",
                                              "instanceInitiatedShutdownBehavior",
                                              "rootDeviceName",
                                              "sourceDestCheck",
                                              "ebsOptimized",
                                              "enaSupport",
                                              NULL};

int kiln_instance_attribute_name_check(const char *name, kiln_error **err)
{
        for (size_t i = 0; name && attribute_names[i]; i++)
                if (strcmp(name, attribute_names[i]) == 0)
                        return 0;
        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                              "Value (%s) for parameter attribute is invalid. Unknown or "
                              "unsupported attribute",
                              name ? name : "");
}

void kiln_instance_attribute_clear(kiln_instance_attribute *a)
{
        if (!a)
                return;
        free(a->instance_id);
        free(a->instance_type);
        free(a->root_device_name);
        free(a->shutdown_behavior);
        if (a->user_data)
                explicit_bzero(a->user_data, a->user_data_len);
        free(a->user_data);
        memset(a, 0, sizeof(*a));
}

typedef struct attr_txn {
        kiln_ctx *ctx;
        const char *id;
        const kiln_instance_attribute_change *change;
        kiln_instance_attribute *out;
} attr_txn;

static int describe_txn(registry *r, void *userdata, kiln_error **err)
{
        attr_txn *t = userdata;
        kiln_instance inst = {0};
        void *ud = NULL;
        size_t len = 0;

        kiln_instance_attribute_clear(t->out);
        if (instance_load(t->ctx, r, t->id, &inst, err) < 0)
                return -1;
        if (registry_instance_seed(r, t->id, &ud, &len, NULL, NULL, err) < 0) {
                kiln_instance_clear(&inst);
                return -1;
        }
        t->out->instance_id = kiln_steal(&inst.instance_id);
        t->out->instance_type = kiln_steal(&inst.instance_type);
        t->out->root_device_name = kiln_steal(&inst.root_device_name);
        t->out->disable_api_termination = inst.disable_api_termination;
        t->out->disable_api_stop = inst.disable_api_stop;
        t->out->no_ena = inst.no_ena;
        t->out->shutdown_behavior = kiln_xstrdup("stop");
        t->out->user_data = ud;
        t->out->user_data_len = len;
        kiln_instance_clear(&inst);
        return 0;
}

int kiln_instance_attribute_describe(kiln_ctx *ctx, const char *instance_id,
                                     kiln_instance_attribute *ret, kiln_error **err)
{
        kiln_instance_attribute a = {0};
        attr_txn t = {ctx, instance_id, NULL, &a};

        if (instance_check_id(instance_id, err) < 0 ||
            registry_read(ctx->reg, describe_txn, &t, err) < 0) {
                kiln_instance_attribute_clear(&a);
                return -1;
        }
        *ret = a;
        return 0;
}

/* The stopped instance's domain, defined again from its records (a new type). */
static int redefine(kiln_ctx *ctx, const char *id, kiln_error **err)
{
        kiln_autofree char *domain = NULL, *seed = NULL;
        kiln_instance inst = {0};
        int rc = instance_load(ctx, ctx->reg, id, &inst, err);

        if (rc == 0)
                rc = registry_instance_private(ctx->reg, id, &domain, &seed, NULL, err);
        if (rc == 0)
                rc = instance_define(ctx, &inst, domain, seed, err);
        kiln_instance_clear(&inst);
        return rc;
}

static int modify_txn(registry *r, void *userdata, kiln_error **err)
{
        attr_txn *t = userdata;
        const kiln_instance_attribute_change *c = t->change;
        kiln_instance inst = {0};
        bool keys = false;
        int rc;

        if (instance_load(t->ctx, r, t->id, &inst, err) < 0)
                return -1;
        if (strcmp(inst.state, "terminated") == 0 || strcmp(inst.state, "shutting-down") == 0) {
                rc = kiln_error_set(err, KILN_E_STATE, "IncorrectInstanceState",
                                    "The instance '%s' is %s.", t->id, inst.state);
        } else if ((c->attr == KILN_ATTR_USER_DATA || c->attr == KILN_ATTR_INSTANCE_TYPE) &&
                   strcmp(inst.state, "stopped") != 0) {
                rc = kiln_error_set(err, KILN_E_STATE, "IncorrectInstanceState",
                                    "The instance '%s' is not in the 'stopped' state.", t->id);
        } else if (c->attr == KILN_ATTR_USER_DATA) {
                rc = registry_instance_seed(r, t->id, NULL, NULL, &keys, NULL, err);
                if (rc == 0)
                        rc = registry_instance_set_seed(r, t->id,
                                                        c->user_data_len ? c->user_data : NULL,
                                                        c->user_data_len, keys, err);
        } else if (c->attr == KILN_ATTR_INSTANCE_TYPE) {
                rc = registry_instance_set_type(r, t->id, c->value, err);
        } else if (c->attr == KILN_ATTR_SHUTDOWN_BEHAVIOR) {
                rc = 0; /* "stop", checked before: nothing changes */
        } else {
                int flag = c->flag ? 1 : 0;

                rc = registry_instance_set_protection(
                        r, t->id, c->attr == KILN_ATTR_DISABLE_API_TERMINATION ? flag : -1,
                        c->attr == KILN_ATTR_DISABLE_API_STOP ? flag : -1, err);
        }
        kiln_instance_clear(&inst);
        return rc;
}

int kiln_instance_attribute_modify(kiln_ctx *ctx, const char *instance_id,
                                   const kiln_instance_attribute_change *change, kiln_error **err)
{
        attr_txn t = {ctx, instance_id, change, NULL};

        if (instance_check_id(instance_id, err) < 0)
                return -1;
        if (change->attr == KILN_ATTR_SHUTDOWN_BEHAVIOR &&
            (!change->value || strcmp(change->value, "stop") != 0))
                return kiln_error_set(err, KILN_E_UNSUPPORTED, "InvalidParameterValue",
                                      "InstanceInitiatedShutdownBehavior '%s': a shutdown inside "
                                      "a kiln guest stops the instance (only \"stop\")",
                                      change->value ? change->value : "");
        if (change->attr == KILN_ATTR_USER_DATA && change->user_data_len &&
            seed_check_user_data(change->user_data, change->user_data_len, err) < 0)
                return -1;
        if (change->attr == KILN_ATTR_INSTANCE_TYPE) {
                kiln_autofree char *name = NULL;
                unsigned vcpus, mem;

                if (instance_type_lookup(change->value ? change->value : "", &name, &vcpus, &mem,
                                         err) < 0)
                        return -1;
        }
        if (registry_write(ctx->reg, modify_txn, &t, err) < 0)
                return -1;
        if (change->attr == KILN_ATTR_INSTANCE_TYPE)
                return redefine(ctx, instance_id, err);
        /* The records hold the new user data: the seed follows (a crash here leaves a seed
         * whose SHA-256 is not the recorded one, which fsck writes again). */
        if (change->attr == KILN_ATTR_USER_DATA)
                return instance_seed_rewrite(ctx, instance_id, err);
        return 0;
}
