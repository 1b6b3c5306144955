/* describe-instance-status: EC2's status checks. The system check is the hypervisor's (a
 * running instance's domain runs: describe-instances stops an instance whose domain stopped);
 * the instance check is reachability, which the watch of each start records: SSH answering
 * with the pinned host key and cloud-init finished. */
#include <stdio.h>
#include <string.h>

#include "instance/instance-private.h"
#include "model/filter.h"
#include "util/util.h"

static const char *const status_filters[] = {
        "availability-zone",      "instance-state-code",
        "instance-state-name",    "instance-status.reachability",
        "instance-status.status", "system-status.reachability",
        "system-status.status",   NULL};

static void status_clear(kiln_instance_status *s)
{
        free(s->instance_id);
        free(s->zone);
        free(s->state);
        free(s->instance_status);
        free(s->reachability);
        free(s->system_status);
        free(s->system_reachability);
}

void kiln_instance_statuses_free(kiln_instance_status *list, size_t n)
{
        for (size_t i = 0; list && i < n; i++)
                status_clear(&list[i]);
        free(list);
}

static void status_of(const kiln_instance *inst, kiln_instance_status *s)
{
        bool running = strcmp(inst->state, "running") == 0;
        const char *st = !running                 ? "not-applicable"
                         : inst->host_unreachable ? "impaired"
                         : inst->status           ? inst->status
                                                  : "initializing";
        const char *reach = strcmp(st, "ok") == 0             ? "passed"
                            : strcmp(st, "impaired") == 0     ? "failed"
                            : strcmp(st, "initializing") == 0 ? "initializing"
                                                              : NULL;

        s->instance_id = kiln_xstrdup(inst->instance_id);
        s->zone = inst->zone ? kiln_xstrdup(inst->zone) : kiln_xasprintf("%sa", inst->region);
        s->state_code = inst->state_code;
        s->state = kiln_xstrdup(inst->state);
        s->instance_status = kiln_xstrdup(st);
        s->reachability = reach ? kiln_xstrdup(reach) : NULL;
        /* The host that runs it does not answer: the system check fails, as EC2's does for
         * a host with a problem. */
        s->system_status = kiln_xstrdup(!running                 ? "not-applicable"
                                        : inst->host_unreachable ? "impaired"
                                                                 : "ok");
        s->system_reachability =
                running ? kiln_xstrdup(inst->host_unreachable ? "failed" : "passed") : NULL;
}

static bool status_match(const kiln_instance_status *s, const kiln_filter *f)
{
        char code[16];

        snprintf(code, sizeof(code), "%d", s->state_code);
        if (strcmp(f->name, "availability-zone") == 0)
                return filter_match_any(f, s->zone);
        if (strcmp(f->name, "instance-state-code") == 0)
                return filter_match_any(f, code);
        if (strcmp(f->name, "instance-state-name") == 0)
                return filter_match_any(f, s->state);
        if (strcmp(f->name, "instance-status.status") == 0)
                return filter_match_any(f, s->instance_status);
        if (strcmp(f->name, "instance-status.reachability") == 0)
                return s->reachability && filter_match_any(f, s->reachability);
        if (strcmp(f->name, "system-status.status") == 0)
                return filter_match_any(f, s->system_status);
        return s->system_reachability && filter_match_any(f, s->system_reachability);
}

int kiln_instance_statuses_describe(kiln_ctx *ctx, const char *const *ids, size_t n_ids,
                                    const kiln_filter *filters, size_t n_filters, bool include_all,
                                    kiln_instance_status **ret, size_t *ret_n, kiln_error **err)
{
        kiln_instance *list = NULL;
        kiln_instance_status *out;
        size_t n = 0, kept = 0;

        if (filter_check_names(filters, n_filters, status_filters, err) < 0 ||
            kiln_instances_describe(ctx, ids, n_ids, NULL, 0, &list, &n, err) < 0)
                return -1;
        out = kiln_xcalloc(n + 1, sizeof(*out));
        for (size_t i = 0; i < n; i++) {
                kiln_instance_status s = {0};
                bool keep = include_all || strcmp(list[i].state, "running") == 0;

                if (strcmp(list[i].state, "terminated") == 0 && n_ids == 0)
                        keep = false;
                status_of(&list[i], &s);
                for (size_t k = 0; keep && k < n_filters; k++)
                        keep = status_match(&s, &filters[k]);
                if (keep)
                        out[kept++] = s;
                else
                        status_clear(&s);
        }
        kiln_instances_free(list, n);
        *ret = out;
        *ret_n = kept;
        return 0;
}
