/* GetPasswordData: a Windows instance's password, as EC2 keeps it, encrypted with the launch
 * key pair's public key. kiln makes the password at launch and hands it to the guest on the
 * config drive; it answers with the ciphertext only once the first boot has taken it (the
 * drive no longer holds it), and with "" before, for Linux instances and for instances
 * launched without a key pair, as EC2 does. */
#include <string.h>

#include "instance/instance-private.h"
#include "util/util.h"

typedef struct password_read {
        kiln_ctx *ctx;
        const char *id;
        kiln_instance inst;
        char *data;
        char *time;
        bool pending; /* the drive still holds the clear password */
} password_read;

static void password_read_clear(password_read *p)
{
        kiln_instance_clear(&p->inst);
        free(p->data);
        free(p->time);
        p->data = p->time = NULL;
}

static int read_password(registry *r, void *userdata, kiln_error **err)
{
        password_read *p = userdata;

        password_read_clear(p);
        if (instance_load(p->ctx, r, p->id, &p->inst, err) < 0 ||
            registry_instance_password(r, p->id, &p->data, &p->time, err) < 0)
                return -1;
        return registry_instance_seed(r, p->id, NULL, NULL, &p->pending, NULL, err);
}

int kiln_instance_password_data(kiln_ctx *ctx, const char *instance_id, kiln_password_data *ret,
                                kiln_error **err)
{
        password_read p = {.ctx = ctx, .id = instance_id};

        if (registry_read(ctx->reg, read_password, &p, err) < 0) {
                password_read_clear(&p);
                return -1;
        }
        memset(ret, 0, sizeof(*ret));
        ret->instance_id = kiln_xstrdup(instance_id);
        if (p.data && !p.pending) {
                ret->password_data = kiln_steal(&p.data);
                ret->timestamp = kiln_steal(&p.time);
        } else {
                ret->password_data = kiln_xstrdup("");
                ret->timestamp = kiln_time_now_iso();
        }
        password_read_clear(&p);
        return 0;
}

int instance_password_available(kiln_ctx *ctx, const kiln_instance *inst, kiln_error **err)
{
        kiln_password_data p = {0};
        int rc;

        if (!kiln_platform_is_windows(inst->platform) || !inst->key_name)
                return kiln_error_set(err, KILN_E_STATE, "IncorrectInstanceState",
                                      "The instance '%s' %s, so it has no password data",
                                      inst->instance_id,
                                      !kiln_platform_is_windows(inst->platform)
                                              ? "is not a Windows instance"
                                              : "was launched without a key pair");
        if (kiln_instance_password_data(ctx, inst->instance_id, &p, err) < 0)
                return -1;
        rc = *p.password_data ? 1 : 0;
        kiln_password_data_clear(&p);
        return rc;
}

void kiln_password_data_clear(kiln_password_data *p)
{
        free(p->instance_id);
        free(p->timestamp);
        free(p->password_data);
        memset(p, 0, sizeof(*p));
}
