/* Snapshots: describe with owner/restorable-by/filter rules, delete (refused while a
 * registered image uses the snapshot; a layer that other snapshots build on is kept, hidden,
 * until nothing needs it), and createVolumePermission. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "image/image-rules.h"
#include "util/util.h"

static int snapshot_not_found(kiln_error **err, const char *id)
{
        return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidSnapshot.NotFound",
                              "The snapshot '%s' does not exist.", id);
}

static bool snap_perm_has(const kiln_permission *p, size_t n, kiln_perm_kind kind,
                          const char *account)
{
        for (size_t i = 0; i < n; i++)
                if (p[i].kind == kind &&
                    (kind == KILN_PERM_ALL || strcmp(p[i].value, account) == 0))
                        return true;
        return false;
}

/* Visible: own, or restorable by the caller (createVolumePermission: all or its account). */
static int snap_visible(const kiln_ctx *ctx, registry *r, const registry_snapshot *s,
                        bool *ret_visible, bool *ret_public, kiln_error **err)
{
        kiln_permission *p = NULL;
        size_t n = 0;

        if (registry_perms_get(r, REGISTRY_PERM_CREATE_VOLUME, s->s.snapshot_id, &p, &n, err) < 0)
                return -1;
        *ret_public = snap_perm_has(p, n, KILN_PERM_ALL, NULL);
        *ret_visible = strcmp(s->s.owner_id, ctx->account) == 0 || *ret_public ||
                       snap_perm_has(p, n, KILN_PERM_USER, ctx->account);
        kiln_permissions_free(p, n);
        return 0;
}

int rules_snapshot_restorable(const kiln_ctx *ctx, registry *r, const char *snapshot_id, bool *ret,
                              kiln_error **err)
{
        registry_snapshot s = {0};
        bool is_public = false;
        int rc = registry_snapshot_get(r, snapshot_id, &s, err);

        if (rc == 0)
                rc = snap_visible(ctx, r, &s, ret, &is_public, err);
        registry_snapshot_clear(&s);
        return rc;
}

static const char *const snapshot_filters[] = {"description", "owner-id",  "snapshot-id",
                                               "status",      "volume-id", "volume-size",
                                               "start-time",  NULL};

static bool snapshot_filter_match(const kiln_snapshot *s, const kiln_filter *f)
{
        const char *n = f->name;
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRId64, s->volume_size);
        if (strcmp(n, "description") == 0)
                return filter_match_any(f, s->description);
        if (strcmp(n, "owner-id") == 0)
                return filter_match_any(f, s->owner_id);
        if (strcmp(n, "snapshot-id") == 0)
                return filter_match_any(f, s->snapshot_id);
        if (strcmp(n, "status") == 0)
                return filter_match_any(f, s->state);
        if (strcmp(n, "volume-id") == 0)
                return filter_match_any(f, s->volume_id);
        if (strcmp(n, "volume-size") == 0)
                return filter_match_any(f, buf);
        if (strcmp(n, "start-time") == 0)
                return filter_match_any(f, s->start_time);
        return filter_tag(f) && filter_match_tags(f, s->tags, s->n_tags);
}

typedef struct snap_describe {
        kiln_ctx *ctx;
        const kiln_snapshot_query *q;
        kiln_snapshot *out;
        size_t n_out;
} snap_describe;

static bool snap_selected(const kiln_ctx *ctx, const kiln_snapshot_query *q,
                          const registry_snapshot *s, bool is_public, registry *r)
{
        bool ok = q->n_owners == 0;

        for (size_t i = 0; i < q->n_owners; i++)
                if ((strcmp(q->owners[i], "self") == 0 &&
                     strcmp(s->s.owner_id, ctx->account) == 0) ||
                    strcmp(q->owners[i], s->s.owner_id) == 0)
                        ok = true;
        if (!ok)
                return false;
        if (q->n_restorable_by) {
                kiln_permission *p = NULL;
                size_t n = 0;

                ok = false;
                if (registry_perms_get(r, REGISTRY_PERM_CREATE_VOLUME, s->s.snapshot_id, &p, &n,
                                       NULL) == 0) {
                        for (size_t i = 0; i < q->n_restorable_by; i++) {
                                const char *who = q->restorable_by[i];
                                const char *acct = strcmp(who, "self") == 0 ? ctx->account : who;

                                if (strcmp(who, "all") == 0)
                                        ok = ok || is_public;
                                else
                                        ok = ok || strcmp(s->s.owner_id, acct) == 0 ||
                                             snap_perm_has(p, n, KILN_PERM_USER, acct);
                        }
                }
                kiln_permissions_free(p, n);
                if (!ok)
                        return false;
        }
        for (size_t i = 0; i < q->n_filters; i++)
                if (!snapshot_filter_match(&s->s, &q->filters[i]))
                        return false;
        return true;
}

static bool snap_listed(const registry_snapshot *s)
{
        return strcmp(s->s.state, "completed") == 0 || strcmp(s->s.state, "pending") == 0 ||
               strcmp(s->s.state, "error") == 0;
}

static int snap_describe_txn(registry *r, void *userdata, kiln_error **err)
{
        snap_describe *t = userdata;
        registry_snapshot *all = NULL;
        size_t n = 0;

        kiln_snapshots_free(t->out, t->n_out);
        t->out = NULL;
        t->n_out = 0;
        if (registry_snapshot_list(r, t->ctx->region->name, &all, &n, err) < 0)
                return -1;
        t->out = kiln_xcalloc(n + 1, sizeof(*t->out));
        for (size_t k = 0; k < (t->q->n_snapshot_ids ? t->q->n_snapshot_ids : n); k++) {
                registry_snapshot *s = NULL;
                bool visible = false, is_public = false;

                if (t->q->n_snapshot_ids) {
                        for (size_t i = 0; i < n && !s; i++)
                                if (strcmp(all[i].s.snapshot_id, t->q->snapshot_ids[k]) == 0)
                                        s = &all[i];
                } else {
                        s = &all[k];
                }
                if (s && snap_listed(s) &&
                    snap_visible(t->ctx, r, s, &visible, &is_public, err) < 0) {
                        registry_snapshots_free(all, n);
                        return -1;
                }
                if (!s || !snap_listed(s) || !visible) {
                        if (t->q->n_snapshot_ids) {
                                registry_snapshots_free(all, n);
                                return snapshot_not_found(err, t->q->snapshot_ids[k]);
                        }
                        continue;
                }
                if (!snap_selected(t->ctx, t->q, s, is_public, r) || !s->s.snapshot_id)
                        continue;
                t->out[t->n_out++] = s->s;
                memset(&s->s, 0, sizeof(s->s));
        }
        registry_snapshots_free(all, n);
        return 0;
}

int kiln_snapshots_describe(kiln_ctx *ctx, const kiln_snapshot_query *q, kiln_snapshot **ret,
                            size_t *ret_n, kiln_error **err)
{
        snap_describe t = {ctx, q, NULL, 0};

        for (size_t i = 0; i < q->n_snapshot_ids; i++)
                if (rules_check_snapshot_id(q->snapshot_ids[i], err) < 0)
                        return -1;
        for (size_t i = 0; i < q->n_owners + q->n_restorable_by; i++) {
                const char *v = i < q->n_owners ? q->owners[i] : q->restorable_by[i - q->n_owners];

                if (strcmp(v, "self") != 0 && strcmp(v, "all") != 0 && !kiln_is_digits(v, 12))
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidUserID.Malformed",
                                              "Invalid user id: \"%s\"", v);
        }
        if (filter_check_names(q->filters, q->n_filters, snapshot_filters, err) < 0)
                return -1;
        if (registry_read(ctx->reg, snap_describe_txn, &t, err) < 0) {
                kiln_snapshots_free(t.out, t.n_out);
                return -1;
        }
        *ret = t.out;
        *ret_n = t.n_out;
        return 0;
}

/* ==== delete ==== */

typedef struct snap_txn {
        kiln_ctx *ctx;
        const char *id;
        const kiln_permission_change *change;
        kiln_permission *perms;
        size_t n_perms;
        char **purge;       /* volumes whose files go once the records are committed */
        char **purge_hosts; /* and the host of each (NULL: the region's first) */
        size_t n_purge;
} snap_txn;

/* The caller's own snapshot in this region, as the verbs that change one need it. */
static int owned_snapshot(snap_txn *t, registry *r, registry_snapshot *ret, kiln_error **err)
{
        registry_snapshot s = {0};
        kiln_autoptr(kiln_error) e = NULL;
        bool visible = false, is_public = false;

        if (rules_check_snapshot_id(t->id, err) < 0)
                return -1;
        if (registry_snapshot_get(r, t->id, &s, &e) < 0) {
                if (e->code != KILN_E_NOT_FOUND) {
                        *err = kiln_steal(&e);
                        return -1;
                }
                return snapshot_not_found(err, t->id);
        }
        if (strcmp(s.s.region, t->ctx->region->name) != 0 || !snap_listed(&s) ||
            snap_visible(t->ctx, r, &s, &visible, &is_public, err) < 0 || !visible) {
                registry_snapshot_clear(&s);
                return err && *err ? -1 : snapshot_not_found(err, t->id);
        }
        if (strcmp(s.s.owner_id, t->ctx->account) != 0) {
                registry_snapshot_clear(&s);
                return kiln_error_set(err, KILN_E_PERMISSION, "AuthFailure",
                                      "Not authorized for snapshot: %s", t->id);
        }
        *ret = s;
        return 0;
}

/* Removes the record of a snapshot nothing builds on, then walks up its hidden (deleted)
 * ancestors that have no other children. */
/* The layer's file on each host that holds it, to go after the commit. */
static int purge_add(snap_txn *t, registry *r, const registry_snapshot *s, kiln_error **err)
{
        char **hosts = NULL;
        size_t n = 0;

        if (registry_snapshot_hosts(r, s->s.snapshot_id, &hosts, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < (n ? n : 1); i++) {
                t->purge = kiln_xrealloc(t->purge, (t->n_purge + 1) * sizeof(char *));
                t->purge_hosts = kiln_xrealloc(t->purge_hosts, (t->n_purge + 1) * sizeof(char *));
                t->purge[t->n_purge] = kiln_xstrdup(s->volume);
                t->purge_hosts[t->n_purge++] = n ? kiln_xstrdup(hosts[i]) : NULL;
        }
        kiln_strv_free(hosts, n);
        return 0;
}

static int purge_chain(snap_txn *t, registry *r, registry_snapshot *s, kiln_error **err)
{
        kiln_autofree char *parent = kiln_xstrdup(s->s.parent_id);

        if (purge_add(t, r, s, err) < 0 || registry_snapshot_delete(r, s->s.snapshot_id, err) < 0)
                return -1;
        while (parent) {
                registry_snapshot p = {0};
                int children = 0;

                if (registry_snapshot_get(r, parent, &p, NULL) < 0)
                        break;
                if (strcmp(p.s.state, "deleted") != 0 ||
                    registry_snapshot_children(r, parent, &children, err) < 0 || children > 0) {
                        registry_snapshot_clear(&p);
                        return err && *err ? -1 : 0;
                }
                if (purge_add(t, r, &p, err) < 0 || registry_snapshot_delete(r, parent, err) < 0) {
                        registry_snapshot_clear(&p);
                        return -1;
                }
                free(parent);
                parent = kiln_xstrdup(p.s.parent_id);
                registry_snapshot_clear(&p);
        }
        return 0;
}

static int delete_txn(registry *r, void *userdata, kiln_error **err)
{
        snap_txn *t = userdata;
        registry_snapshot s = {0};
        kiln_autofree char *user = NULL;
        int children = 0, rc;

        for (size_t i = 0; i < t->n_purge; i++) {
                free(t->purge[i]);
                free(t->purge_hosts[i]);
        }
        t->n_purge = 0;
        if (owned_snapshot(t, r, &s, err) < 0)
                return -1;
        rc = registry_snapshot_used_by(r, t->id, &user, err);
        if (rc == 0 && user)
                rc = kiln_error_set(err, KILN_E_STATE, "InvalidSnapshot.InUse",
                                    "The snapshot %s is currently in use by %s", t->id, user);
        if (rc == 0)
                rc = registry_snapshot_children(r, t->id, &children, err);
        if (rc == 0 && children > 0) {
                rc = registry_snapshot_set_state(r, t->id, "deleted", err);
                kiln_crash_point("delete-snapshot.after-mark");
        } else if (rc == 0)
                rc = purge_chain(t, r, &s, err);
        if (rc == 0)
                kiln_crash_point("delete-snapshot.before-commit");
        registry_snapshot_clear(&s);
        return rc;
}

int kiln_snapshot_delete(kiln_ctx *ctx, const char *snapshot_id, kiln_error **err)
{
        snap_txn t = {ctx, snapshot_id, NULL, NULL, 0, NULL, NULL, 0};
        int rc;

        rc = registry_write(ctx->reg, delete_txn, &t, err);
        if (rc == 0 && t.n_purge) {
                kiln_crash_point("delete-snapshot.after-commit");
                /* The records are gone; a file left by a failure here is an orphan that fsck
                 * removes. */
                for (size_t i = 0; i < t.n_purge; i++) {
                        virStoragePoolPtr pool =
                                ctx_host_pool(ctx, ctx->region->name, t.purge_hosts[i], err);

                        if (!pool || virt_volume_delete(pool, t.purge[i], err) < 0)
                                rc = -1;
                        kiln_crash_point("delete-snapshot.between-files");
                }
        }
        for (size_t i = 0; i < t.n_purge; i++) {
                free(t.purge[i]);
                free(t.purge_hosts[i]);
        }
        free(t.purge);
        free(t.purge_hosts);
        return rc;
}

/* ==== createVolumePermission ==== */

static int perms_txn(registry *r, void *userdata, kiln_error **err)
{
        snap_txn *t = userdata;
        registry_snapshot s = {0};
        int rc;

        if (owned_snapshot(t, r, &s, err) < 0)
                return -1;
        for (size_t i = 0; t->change && s.ungeneralized && i < t->change->n_add; i++)
                if (t->change->add[i].kind == KILN_PERM_ALL) {
                        registry_snapshot_clear(&s);
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameter",
                                              "%s was frozen by a bake with --no-generalize and "
                                              "may hold its instance's keys and identity: it "
                                              "cannot be made public (share it with accounts "
                                              "instead)",
                                              t->id);
                }
        registry_snapshot_clear(&s);
        kiln_permissions_free(t->perms, t->n_perms);
        t->perms = NULL;
        t->n_perms = 0;
        if (!t->change)
                return registry_perms_get(r, REGISTRY_PERM_CREATE_VOLUME, t->id, &t->perms,
                                          &t->n_perms, err);
        rc = 0;
        for (size_t i = 0; rc == 0 && i < t->change->n_add; i++)
                rc = registry_perm_add(r, REGISTRY_PERM_CREATE_VOLUME, t->id, &t->change->add[i],
                                       err);
        for (size_t i = 0; rc == 0 && i < t->change->n_remove; i++)
                rc = registry_perm_remove(r, REGISTRY_PERM_CREATE_VOLUME, t->id,
                                          &t->change->remove[i], err);
        return rc;
}

int kiln_snapshot_permissions_describe(kiln_ctx *ctx, const char *snapshot_id,
                                       kiln_permission **ret, size_t *ret_n, kiln_error **err)
{
        snap_txn t = {ctx, snapshot_id, NULL, NULL, 0, NULL, NULL, 0};

        if (registry_read(ctx->reg, perms_txn, &t, err) < 0)
                return -1;
        *ret = t.perms;
        *ret_n = t.n_perms;
        return 0;
}

int kiln_snapshot_modify_permission(kiln_ctx *ctx, const char *snapshot_id,
                                    const kiln_permission_change *change, kiln_error **err)
{
        snap_txn t = {ctx, snapshot_id, change, NULL, 0, NULL, NULL, 0};

        if (change->n_add && change->n_remove)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterCombination",
                                      "Add and Remove cannot be given in the same request");
        if (change->n_add + change->n_remove == 0)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter "
                                      "CreateVolumePermission");
        for (size_t i = 0; i < change->n_add + change->n_remove; i++) {
                const kiln_permission *p =
                        i < change->n_add ? &change->add[i] : &change->remove[i - change->n_add];

                if (p->kind != KILN_PERM_ALL && p->kind != KILN_PERM_USER)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "createVolumePermission takes Group=all or UserId "
                                              "items only");
        }
        return registry_write(ctx->reg, perms_txn, &t, err);
}

static int reset_perms_txn(registry *r, void *userdata, kiln_error **err)
{
        snap_txn *t = userdata;
        registry_snapshot s = {0};

        if (owned_snapshot(t, r, &s, err) < 0)
                return -1;
        registry_snapshot_clear(&s);
        return registry_perms_clear(r, REGISTRY_PERM_CREATE_VOLUME, t->id, err);
}

int kiln_snapshot_attribute_reset(kiln_ctx *ctx, const char *snapshot_id, const char *attribute,
                                  kiln_error **err)
{
        snap_txn t = {ctx, snapshot_id, NULL, NULL, 0, NULL, NULL, 0};

        if (!attribute || strcmp(attribute, "createVolumePermission") != 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Value (%s) for parameter attribute is invalid. Expected "
                                      "createVolumePermission.",
                                      attribute ? attribute : "");
        return registry_write(ctx->reg, reset_perms_txn, &t, err);
}
