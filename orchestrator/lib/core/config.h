/* The kiln home's configuration (config.json): regions, accounts, organizations, defaults and
 * the storage price. Read strictly: an unknown key or a wrong type is an error naming it. */
#ifndef KILN_CONFIG_H
#define KILN_CONFIG_H

#include <stdbool.h>

#include <kiln/ctx.h>

typedef struct config_org {
        char *id;             /* o-xxxxxxxxxx */
        char *master_account; /* the account in its ARN */
        char **accounts;
        size_t n_accounts;
} config_org;

typedef struct config {
        char *path;
        char *default_region;
        char *default_account;
        double price_per_gib_month;        /* snapshots: bytes used */
        double volume_price_per_gib_month; /* volumes: provisioned size (gp3's 0.08) */
        kiln_region_info *regions;
        size_t n_regions;
        char **accounts;
        char **aliases; /* parallel to accounts; NULL entries for none */
        size_t n_accounts;
        config_org *orgs;
        size_t n_orgs;
} config;

/* Loads HOME/config.json, creating a default one first if there is none (safely when several
 * processes start at once: exactly one file wins). */
int config_load_or_create(const char *home, config **ret, kiln_error **err);
config *config_free(config *c);
KILN_DEFINE_AUTOPTR(config, config_free)

const kiln_region_info *config_region(const config *c, const char *name);
/* A region's record: its strings, hosts and their jump hosts freed (and zeroed), or copied. */
void config_region_clear(kiln_region_info *r);
void config_region_copy(kiln_region_info *dst, const kiln_region_info *src);
bool config_has_account(const config *c, const char *account);
/* The organization an ARN or ID names, or NULL. */
const config_org *config_org_find(const config *c, const char *arn_or_id);
bool config_org_has_member(const config_org *o, const char *account);

#endif
