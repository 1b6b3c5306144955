/* describe-instances: the records, with each domain's real state (an instance whose guest shut
 * itself down is stopped, as EC2 shows it), EC2's filters. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libvirt/libvirt.h>

#include "image/image-rules.h"
#include "instance/instance-private.h"
#include "util/util.h"

/* A running instance whose domain stopped by itself (a shutdown inside the guest) is
 * stopped, as EC2 shows it. */
static void reconcile(kiln_ctx *ctx, kiln_instance *inst)
{
        virConnectPtr conn;
        kiln_autoptr(virt_dom) dom = NULL;
        kiln_autofree char *domain = NULL;
        const char *failure;
        pid_t worker = 0;

        if (strcmp(inst->state, "running") != 0 && strcmp(inst->state, "pending") != 0)
                return;
        if (registry_instance_private(ctx->reg, inst->instance_id, &domain, NULL, &worker, NULL) <
            0)
                return;
        conn = instance_conn(ctx, inst, NULL);
        if (!conn) {
                /* Nothing is concluded from a host that does not answer. */
                inst->host_unreachable = true;
                return;
        }
        dom = virt_domain_lookup(conn, domain, NULL);
        if (strcmp(inst->state, "pending") == 0) {
                /* Pending while a worker starts it; a worker that died leaves it stopped. */
                if (rules_worker_alive(worker))
                        return;
                /* The worker may have recorded its outcome since inst was read: the change is
                 * made only if it has not. */
                if (dom && virt_domain_active(dom)) {
                        if (instance_set_state_from(ctx, inst->instance_id, "pending", worker,
                                                    "running", NULL, NULL, NULL) == 1)
                                instance_set_state_fields(inst, "running");
                } else if (instance_set_state_from(
                                   ctx, inst->instance_id, "pending", worker, "stopped",
                                   "Server.InternalError",
                                   "Server.InternalError: the launch was interrupted", NULL) == 1) {
                        instance_set_state_fields(inst, "stopped");
                }
                return;
        }
        if (!dom)
                return;
        if (virt_domain_active(dom)) {
                instance_find_address(ctx, inst);
                return;
        }
        failure = virt_domain_failure(dom);
        if (failure) {
                kiln_autofree char *why = kiln_xasprintf("Server.InternalError: %s", failure);

                if (instance_set_state(ctx, inst->instance_id, "stopped", "Server.InternalError",
                                       why, "Server.InternalError: Internal error", NULL) == 0) {
                        instance_set_state_fields(inst, "stopped");
                        free(inst->state_reason_code);
                        inst->state_reason_code = kiln_xstrdup("Server.InternalError");
                        free(inst->state_reason_message);
                        inst->state_reason_message = kiln_steal(&why);
                }
                return;
        }
        if (instance_set_state(ctx, inst->instance_id, "stopped",
                               "Client.InstanceInitiatedShutdown",
                               "Client.InstanceInitiatedShutdown: Instance initiated shutdown",
                               NULL, NULL) == 0) {
                instance_set_state_fields(inst, "stopped");
                free(inst->state_reason_code);
                inst->state_reason_code = kiln_xstrdup("Client.InstanceInitiatedShutdown");
                free(inst->state_reason_message);
                inst->state_reason_message =
                        kiln_xstrdup("Client.InstanceInitiatedShutdown: Instance initiated "
                                     "shutdown");
        }
}

static bool instance_filter_match(const kiln_instance *inst, const kiln_filter *f)
{
        const char *n = f->name;

        if (strcmp(n, "instance-state-name") == 0)
                return filter_match_any(f, inst->state);
        if (strcmp(n, "instance-id") == 0)
                return filter_match_any(f, inst->instance_id);
        if (strcmp(n, "image-id") == 0)
                return filter_match_any(f, inst->image_id);
        if (strcmp(n, "instance-type") == 0)
                return filter_match_any(f, inst->instance_type);
        if (strcmp(n, "key-name") == 0)
                return filter_match_any(f, inst->key_name);
        if (strcmp(n, "reservation-id") == 0)
                return filter_match_any(f, inst->reservation_id);
        if (strcmp(n, "vpc-id") == 0)
                return inst->vpc_id && filter_match_any(f, inst->vpc_id);
        if (strcmp(n, "subnet-id") == 0)
                return inst->subnet_id && filter_match_any(f, inst->subnet_id);
        if (strcmp(n, "platform") == 0)
                return kiln_platform_is_windows(inst->platform) && filter_match_any(f, "windows");
        return filter_tag(f) && filter_match_tags(f, inst->tags, inst->n_tags);
}

typedef struct list_txn {
        kiln_ctx *ctx;
        kiln_instance *all;
        size_t n;
} list_txn;

static int list_load(registry *r, void *userdata, kiln_error **err)
{
        list_txn *t = userdata;

        kiln_instances_free(t->all, t->n);
        t->all = NULL;
        t->n = 0;
        return registry_instance_list(r, t->ctx->region->name, t->ctx->account, &t->all, &t->n,
                                      err);
}

int kiln_instances_describe(kiln_ctx *ctx, const char *const *ids, size_t n_ids,
                            const kiln_filter *filters, size_t n_filters, kiln_instance **ret,
                            size_t *ret_n, kiln_error **err)
{
        static const char *const known[] = {
                "instance-state-name", "instance-id", "image-id", "instance-type", "key-name",
                "reservation-id",      "platform",    "vpc-id",   "subnet-id",     NULL};
        list_txn t = {ctx, NULL, 0};
        kiln_instance *out;
        size_t n_out = 0;

        for (size_t i = 0; i < n_ids; i++)
                if (instance_check_id(ids[i], err) < 0)
                        return -1;
        if (filter_check_names(filters, n_filters, known, err) < 0)
                return -1;
        if (registry_read(ctx->reg, list_load, &t, err) < 0)
                return -1;
        for (size_t i = 0; i < n_ids; i++) {
                bool found = false;

                for (size_t k = 0; k < t.n; k++)
                        found = found || strcmp(t.all[k].instance_id, ids[i]) == 0;
                if (!found) {
                        kiln_instances_free(t.all, t.n);
                        return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidInstanceID.NotFound",
                                              "The instance ID '%s' does not exist", ids[i]);
                }
        }
        out = kiln_xcalloc(t.n + 1, sizeof(*out));
        for (size_t k = 0; k < t.n; k++) {
                bool keep = n_ids == 0;

                for (size_t i = 0; i < n_ids; i++)
                        keep = keep || strcmp(t.all[k].instance_id, ids[i]) == 0;
                if (keep) {
                        const kiln_host_info *h = instance_host(ctx, &t.all[k]);

                        /* Placement: the zone and HostId of the host it runs on. */
                        if (h) {
                                t.all[k].zone = kiln_xstrdup(h->zone);
                                if (!t.all[k].host_id)
                                        t.all[k].host_id = kiln_xstrdup(h->host_id);
                        }
                        reconcile(ctx, &t.all[k]);
                        t.all[k].vpc_id = instance_vpc_id(t.all[k].region);
                        t.all[k].subnet_id = instance_subnet_id(t.all[k].region);
                }
                for (size_t i = 0; keep && i < n_filters; i++)
                        keep = instance_filter_match(&t.all[k], &filters[i]);
                if (keep) {
                        out[n_out++] = t.all[k];
                        memset(&t.all[k], 0, sizeof(t.all[k]));
                }
        }
        kiln_instances_free(t.all, t.n);
        *ret = out;
        *ret_n = n_out;
        return 0;
}
