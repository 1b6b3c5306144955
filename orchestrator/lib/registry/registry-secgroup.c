/* Security group records: groups, their inbound rules, the instances in them, and the forwards
 * they open. The registry keeps these; which traffic a rule allows is decided in secgroup/. */
#include <string.h>

#include "registry/registry-private.h"
#include "registry/registry-secgroup.h"
#include "util/util.h"

#define SG_COLUMNS "id, name, description, vpc_id, region, owner"

int registry_sg_insert(registry *r, const kiln_security_group *sg, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r,
                                                         "INSERT INTO security_groups (" SG_COLUMNS
                                                         ", seq) VALUES (?1, ?2, ?3, ?4, ?5, "
                                                         "?6, ?7)",
                                                         err);
        const char *args[] = {sg->group_id, sg->group_name, sg->description,
                              sg->vpc_id,   sg->region,     sg->owner_id,
                              NULL};

        if (!st || registry_bind_all(r, st, args, err) < 0)
                return -1;
        sqlite3_bind_int64(st, 7, registry_next_seq(r, "security_groups"));
        if (sqlite3_step(st) != SQLITE_DONE)
                return registry_fail(r, err, "insert security group");
        return 0;
}

static void rule_from_row(sqlite3_stmt *st, int col, kiln_sg_rule *rule)
{
        rule->rule_id = registry_col_text(st, col);
        rule->ip_protocol = registry_col_text(st, col + 1);
        rule->from_port = sqlite3_column_int(st, col + 2);
        rule->to_port = sqlite3_column_int(st, col + 3);
        rule->cidr_ipv4 = registry_col_text(st, col + 4);
        rule->description = registry_col_text(st, col + 5);
}

#define RULE_COLUMNS "r.id, r.protocol, r.from_port, r.to_port, r.cidr, r.description"

/* Rows of (key, rule columns...) appended to the rules of the item whose key matches; the rows
 * come in the items' order. */
static int rules_query(registry *r, const char *sql, const char *const *args,
                       kiln_security_group *list, size_t n, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r, sql, err);
        size_t k = 0;
        int rc;

        if (!st || registry_bind_all(r, st, args, err) < 0)
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                const char *id = (const char *) sqlite3_column_text(st, 0);
                kiln_security_group *sg;

                while (k < n && strcmp(list[k].group_id, id) != 0)
                        k++;
                if (k == n)
                        break;
                sg = &list[k];
                sg->ingress =
                        kiln_xrealloc(sg->ingress, (sg->n_ingress + 1) * sizeof(*sg->ingress));
                rule_from_row(st, 1, &sg->ingress[sg->n_ingress++]);
        }
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
                return registry_fail(r, err, "read security group rules");
        return 0;
}

static int sg_complete(registry *r, kiln_security_group *sg, kiln_error **err)
{
        const char *args[] = {sg->group_id, NULL};

        if (rules_query(r,
                        "SELECT r.group_id, " RULE_COLUMNS " FROM security_group_rules r "
                        "WHERE r.group_id = ?1 ORDER BY r.seq",
                        args, sg, 1, err) < 0)
                return -1;
        return registry_tags_get(r, sg->group_id, &sg->tags, &sg->n_tags, err);
}

static void sg_from_row(sqlite3_stmt *st, kiln_security_group *sg)
{
        char **fields[] = {&sg->group_id, &sg->group_name, &sg->description,
                           &sg->vpc_id,   &sg->region,     &sg->owner_id};

        for (int i = 0; i < (int) KILN_ARRAY_SIZE(fields); i++)
                *fields[i] = registry_col_text(st, i);
}

static int sg_get_where(registry *r, const char *where, const char *region, const char *owner,
                        const char *key, kiln_security_group *ret, kiln_error **err)
{
        kiln_autofree char *sql = kiln_xasprintf("SELECT " SG_COLUMNS " FROM security_groups "
                                                 "WHERE region = ?1 AND owner = ?2 AND %s",
                                                 where);
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(r, sql, err);
        const char *args[] = {region, owner, key, NULL};
        kiln_security_group sg = {0};
        int rc;

        if (!st || registry_bind_all(r, st, args, err) < 0)
                return -1;
        rc = sqlite3_step(st);
        if (rc == SQLITE_DONE)
                return kiln_error_set(err, KILN_E_NOT_FOUND, NULL, "no security group '%s'", key);
        if (rc != SQLITE_ROW)
                return registry_fail(r, err, "read security group");
        sg_from_row(st, &sg);
        if (sg_complete(r, &sg, err) < 0) {
                kiln_security_group_clear(&sg);
                return -1;
        }
        *ret = sg;
        return 0;
}

int registry_sg_get(registry *r, const char *region, const char *owner, const char *id,
                    kiln_security_group *ret, kiln_error **err)
{
        return sg_get_where(r, "id = ?3", region, owner, id, ret, err);
}

int registry_sg_get_by_name(registry *r, const char *region, const char *owner, const char *name,
                            kiln_security_group *ret, kiln_error **err)
{
        return sg_get_where(r, "name = ?3", region, owner, name, ret, err);
}

static int sgs_load_tags(registry *r, const char *region, const char *owner,
                         kiln_security_group *list, size_t n, kiln_error **err)
{
        const char *args[] = {region, owner, NULL};
        const char **ids = kiln_xcalloc(n + 1, sizeof(*ids));
        kiln_tag ***tags = kiln_xcalloc(n + 1, sizeof(*tags));
        size_t **n_tags = kiln_xcalloc(n + 1, sizeof(*n_tags));
        int rc;

        for (size_t i = 0; i < n; i++) {
                ids[i] = list[i].group_id;
                tags[i] = &list[i].tags;
                n_tags[i] = &list[i].n_tags;
        }
        rc = registry_tags_merge(r,
                                 "SELECT t.resource_id, t.key, t.value FROM tags t JOIN "
                                 "security_groups g ON g.id = t.resource_id WHERE g.region = ?1 "
                                 "AND g.owner = ?2 ORDER BY g.seq, t.key",
                                 args, ids, tags, n_tags, n, err);
        free(ids);
        free(tags);
        free(n_tags);
        return rc;
}

int registry_sg_list(registry *r, const char *region, const char *owner, kiln_security_group **ret,
                     size_t *ret_n, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "SELECT " SG_COLUMNS " FROM security_groups WHERE region = ?1 AND owner = ?2 "
                "ORDER BY seq",
                err);
        const char *args[] = {region, owner, NULL};
        kiln_security_group *list = NULL;
        size_t n = 0;
        int rc;

        if (!st || registry_bind_all(r, st, args, err) < 0)
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                list = kiln_xrealloc(list, (n + 1) * sizeof(*list));
                memset(&list[n], 0, sizeof(*list));
                sg_from_row(st, &list[n++]);
        }
        if (rc != SQLITE_DONE ||
            rules_query(r,
                        "SELECT r.group_id, " RULE_COLUMNS " FROM security_group_rules r JOIN "
                        "security_groups g ON g.id = r.group_id WHERE g.region = ?1 AND "
                        "g.owner = ?2 ORDER BY g.seq, r.seq",
                        args, list, n, err) < 0 ||
            sgs_load_tags(r, region, owner, list, n, err) < 0) {
                kiln_security_groups_free(list, n);
                return rc != SQLITE_DONE ? registry_fail(r, err, "list security groups") : -1;
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int registry_sg_count(registry *r, const char *region, const char *owner, size_t *ret,
                      kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r, "SELECT COUNT(*) FROM security_groups WHERE region = ?1 AND owner = ?2", err);
        const char *args[] = {region, owner, NULL};

        if (!st || registry_bind_all(r, st, args, err) < 0)
                return -1;
        if (sqlite3_step(st) != SQLITE_ROW)
                return registry_fail(r, err, "count security groups");
        *ret = (size_t) sqlite3_column_int64(st, 0);
        return 0;
}

int registry_sg_delete(registry *r, const char *id, kiln_error **err)
{
        const char *args[] = {id, NULL};

        if (registry_exec(r, "DELETE FROM tags WHERE resource_id = ?1", args, err) < 0 ||
            registry_exec(r, "DELETE FROM security_group_rules WHERE group_id = ?1", args, err) <
                    0 ||
            registry_exec(r, "DELETE FROM instance_groups WHERE group_id = ?1", args, err) < 0)
                return -1;
        return registry_exec(r, "DELETE FROM security_groups WHERE id = ?1", args, err);
}

int registry_sg_rule_insert(registry *r, const char *group_id, const kiln_sg_rule *rule,
                            kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "INSERT INTO security_group_rules (id, group_id, protocol, from_port, to_port, "
                "cidr, description, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                err);

        if (!st || registry_bind_text(r, st, 1, rule->rule_id, err) < 0 ||
            registry_bind_text(r, st, 2, group_id, err) < 0 ||
            registry_bind_text(r, st, 3, rule->ip_protocol, err) < 0 ||
            registry_bind_text(r, st, 6, rule->cidr_ipv4, err) < 0 ||
            registry_bind_text(r, st, 7, rule->description ? rule->description : "", err) < 0)
                return -1;
        sqlite3_bind_int(st, 4, rule->from_port);
        sqlite3_bind_int(st, 5, rule->to_port);
        sqlite3_bind_int64(st, 8, registry_next_seq(r, "security_group_rules"));
        if (sqlite3_step(st) != SQLITE_DONE)
                return registry_fail(r, err, "insert security group rule");
        return 0;
}

int registry_sg_rule_delete(registry *r, const char *rule_id, kiln_error **err)
{
        const char *args[] = {rule_id, NULL};

        return registry_exec(r, "DELETE FROM security_group_rules WHERE id = ?1", args, err);
}

int registry_sg_member_add(registry *r, const char *instance_id, const char *group_id, int position,
                           kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "INSERT OR IGNORE INTO instance_groups (instance_id, group_id, position) VALUES "
                "(?1, ?2, ?3)",
                err);

        if (!st || registry_bind_text(r, st, 1, instance_id, err) < 0 ||
            registry_bind_text(r, st, 2, group_id, err) < 0)
                return -1;
        sqlite3_bind_int(st, 3, position);
        if (sqlite3_step(st) != SQLITE_DONE)
                return registry_fail(r, err, "add an instance to a security group");
        return 0;
}

int registry_sg_members(registry *r, const char *group_id, char ***ret, size_t *ret_n,
                        kiln_error **err)
{
        const char *args[] = {group_id, NULL};

        return registry_query_strv(r,
                                   "SELECT m.instance_id FROM instance_groups m JOIN instances i "
                                   "ON i.id = m.instance_id WHERE m.group_id = ?1 AND "
                                   "i.state != 'terminated' ORDER BY i.seq",
                                   args, ret, ret_n, err);
}

int registry_sg_of_instance(registry *r, const char *instance_id, kiln_group_ref **ret,
                            size_t *ret_n, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "SELECT g.id, g.name FROM instance_groups m JOIN security_groups g ON "
                "g.id = m.group_id WHERE m.instance_id = ?1 ORDER BY m.position",
                err);
        kiln_group_ref *list = NULL;
        size_t n = 0;
        int rc;

        if (!st || registry_bind_text(r, st, 1, instance_id, err) < 0)
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                list = kiln_xrealloc(list, (n + 1) * sizeof(*list));
                list[n].group_id = registry_col_text(st, 0);
                list[n].group_name = registry_col_text(st, 1);
                n++;
        }
        if (rc != SQLITE_DONE) {
                for (size_t i = 0; i < n; i++) {
                        free(list[i].group_id);
                        free(list[i].group_name);
                }
                free(list);
                return registry_fail(r, err, "read the instance's security groups");
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int registry_sg_rules_of_instance(registry *r, const char *instance_id, kiln_sg_rule **ret,
                                  size_t *ret_n, kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "SELECT " RULE_COLUMNS " FROM security_group_rules r JOIN instance_groups m ON "
                "m.group_id = r.group_id WHERE m.instance_id = ?1 ORDER BY m.position, r.seq",
                err);
        kiln_sg_rule *list = NULL;
        size_t n = 0;
        int rc;

        if (!st || registry_bind_text(r, st, 1, instance_id, err) < 0)
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                list = kiln_xrealloc(list, (n + 1) * sizeof(*list));
                rule_from_row(st, 0, &list[n++]);
        }
        if (rc != SQLITE_DONE) {
                kiln_sg_rules_free(list, n);
                return registry_fail(r, err, "read the instance's rules");
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int registry_forwards_get(registry *r, const char *instance_id, kiln_forward **ret, size_t *ret_n,
                          kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "SELECT protocol, host_port, guest_port FROM instance_forwards WHERE "
                "instance_id = ?1 ORDER BY guest_port, protocol",
                err);
        kiln_forward *list = NULL;
        size_t n = 0;
        int rc;

        if (!st || registry_bind_text(r, st, 1, instance_id, err) < 0)
                return -1;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                list = kiln_xrealloc(list, (n + 1) * sizeof(*list));
                list[n].protocol = registry_col_text(st, 0);
                list[n].host_port = sqlite3_column_int(st, 1);
                list[n].guest_port = sqlite3_column_int(st, 2);
                n++;
        }
        if (rc != SQLITE_DONE) {
                for (size_t i = 0; i < n; i++)
                        free(list[i].protocol);
                free(list);
                return registry_fail(r, err, "read the instance's forwards");
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int registry_forwards_set(registry *r, const char *instance_id, const kiln_forward *fwd, size_t n,
                          kiln_error **err)
{
        const char *args[] = {instance_id, NULL};

        if (registry_exec(r, "DELETE FROM instance_forwards WHERE instance_id = ?1", args, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                        r,
                        "INSERT INTO instance_forwards (instance_id, protocol, guest_port, "
                        "host_port) VALUES (?1, ?2, ?3, ?4)",
                        err);

                if (!st || registry_bind_text(r, st, 1, instance_id, err) < 0 ||
                    registry_bind_text(r, st, 2, fwd[i].protocol, err) < 0)
                        return -1;
                sqlite3_bind_int(st, 3, fwd[i].guest_port);
                sqlite3_bind_int(st, 4, fwd[i].host_port);
                if (sqlite3_step(st) != SQLITE_DONE)
                        return registry_fail(r, err, "record a forward");
        }
        return 0;
}

int registry_host_port_taken(registry *r, const char *instance_id, int host_port, bool *ret,
                             kiln_error **err)
{
        kiln_autoptr(sqlite3_stmt) st = registry_prepare(
                r,
                "SELECT (SELECT COUNT(*) FROM instances WHERE id != ?1 AND port = ?2 AND "
                "state != 'terminated' AND network IS NULL) + (SELECT COUNT(*) FROM "
                "instance_forwards f JOIN instances i ON i.id = f.instance_id WHERE i.id != ?1 "
                "AND f.host_port = ?2 AND i.state != 'terminated')",
                err);

        if (!st || registry_bind_text(r, st, 1, instance_id, err) < 0)
                return -1;
        sqlite3_bind_int(st, 2, host_port);
        if (sqlite3_step(st) != SQLITE_ROW)
                return registry_fail(r, err, "look up a host port");
        *ret = sqlite3_column_int64(st, 0) > 0;
        return 0;
}
