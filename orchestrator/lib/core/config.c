/* Configuration: one JSON file in the kiln home. A first run writes a working default: region
 * "local" on qemu:///system with a directory pool under the home, and one new account. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/random.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "core/config.h"
#include "util/util.h"

#define CONFIG_MAX_BYTES (1 << 20)

static void jump_free(kiln_proxy_jump *j)
{
        if (!j)
                return;
        free(j->user);
        free(j->host);
        free(j->identity_file);
        free(j->host_key);
        free(j);
}

static kiln_proxy_jump *jump_dup(const kiln_proxy_jump *j)
{
        kiln_proxy_jump *d;

        if (!j)
                return NULL;
        d = kiln_xcalloc(1, sizeof(*d));
        d->user = kiln_xstrdup(j->user);
        d->host = kiln_xstrdup(j->host);
        d->port = j->port;
        d->identity_file = kiln_xstrdup(j->identity_file);
        d->host_key = kiln_xstrdup(j->host_key);
        return d;
}

void config_region_clear(kiln_region_info *r)
{
        free(r->name);
        free(r->uri);
        free(r->pool);
        free(r->pool_path);
        free(r->network);
        free(r->listen_address);
        for (size_t i = 0; i < r->n_hosts; i++) {
                free(r->hosts[i].host_id);
                free(r->hosts[i].zone);
                free(r->hosts[i].uri);
                free(r->hosts[i].pool_path);
                free(r->hosts[i].listen_address);
                jump_free(r->hosts[i].jump);
        }
        free(r->hosts);
        memset(r, 0, sizeof(*r));
}

void config_region_copy(kiln_region_info *dst, const kiln_region_info *src)
{
        dst->name = kiln_xstrdup(src->name);
        dst->uri = kiln_xstrdup(src->uri);
        dst->pool = kiln_xstrdup(src->pool);
        dst->pool_path = kiln_xstrdup(src->pool_path);
        dst->network = kiln_xstrdup(src->network);
        dst->listen_address = kiln_xstrdup(src->listen_address);
        dst->first_port = src->first_port;
        dst->last_port = src->last_port;
        dst->hosts = kiln_xcalloc(src->n_hosts, sizeof(*dst->hosts));
        dst->n_hosts = src->n_hosts;
        for (size_t i = 0; i < src->n_hosts; i++) {
                dst->hosts[i].host_id = kiln_xstrdup(src->hosts[i].host_id);
                dst->hosts[i].zone = kiln_xstrdup(src->hosts[i].zone);
                dst->hosts[i].uri = kiln_xstrdup(src->hosts[i].uri);
                dst->hosts[i].pool_path = kiln_xstrdup(src->hosts[i].pool_path);
                dst->hosts[i].listen_address = kiln_xstrdup(src->hosts[i].listen_address);
                dst->hosts[i].jump = jump_dup(src->hosts[i].jump);
        }
}

config *config_free(config *c)
{
        if (!c)
                return NULL;
        free(c->path);
        free(c->default_region);
        free(c->default_account);
        for (size_t i = 0; i < c->n_regions; i++)
                config_region_clear(&c->regions[i]);
        free(c->regions);
        for (size_t i = 0; i < c->n_accounts; i++) {
                free(c->accounts[i]);
                free(c->aliases[i]);
        }
        free(c->accounts);
        free(c->aliases);
        for (size_t i = 0; i < c->n_orgs; i++) {
                free(c->orgs[i].id);
                free(c->orgs[i].master_account);
                for (size_t j = 0; j < c->orgs[i].n_accounts; j++)
                        free(c->orgs[i].accounts[j]);
                free(c->orgs[i].accounts);
        }
        free(c->orgs);
        free(c);
        return NULL;
}

static char *random_account(void)
{
        unsigned char b[12];
        char s[13];

        if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b))
                abort();
        for (int i = 0; i < 12; i++)
                s[i] = (char) ('0' + b[i] % 10);
        if (s[0] == '0')
                s[0] = '1';
        s[12] = '\0';
        return kiln_xstrdup(s);
}

/* libvirt pool names are global to the daemon: two kiln homes must not share one. */
static char *pool_name(const char *home, const char *region)
{
        uint32_t h = 2166136261u;

        for (const char *p = home; *p; p++)
                h = (h ^ (unsigned char) *p) * 16777619u;
        return kiln_xasprintf("kiln-%08x-%s", h, region);
}

static json_t *config_default_json(const char *home)
{
        kiln_autofree char *account = random_account();
        kiln_autofree char *pool_path = kiln_xasprintf("%s/pools/local", home);
        kiln_autofree char *pool = pool_name(home, "local");

        return json_pack("{s:i, s:s, s:s, s:{s:f, s:f, s:s}, s:[{s:s, s:s, s:s, s:s}],"
                         " s:[{s:s, s:s}], s:[]}",
                         "Version", 1, "DefaultRegion", "local", "DefaultAccount", account,
                         "StoragePrice", "PerGiBMonth", 0.05, "VolumePerGiBMonth", 0.08, "Currency",
                         "USD", "Regions", "Name", "local", "Uri", "qemu:///system", "Pool", pool,
                         "PoolPath", pool_path, "Accounts", "AccountId", account, "Alias",
                         "default", "Organizations");
}

/* Writes the default file unless one exists: link() of a complete temp file is atomic and
 * fails if another process won. */
static int config_create(const char *home, const char *path, kiln_error **err)
{
        json_t *j = config_default_json(home);
        kiln_autofree char *tmp = kiln_xasprintf("%s.%d.tmp", path, (int) getpid());
        /* Readable by kiln's user only, from the first byte. */
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600), r = -1;

        if (fd >= 0) {
                r = json_dumpfd(j, fd, JSON_SORT_KEYS | JSON_INDENT(2) | JSON_REAL_PRECISION(10));
                if (close(fd) < 0)
                        r = -1;
        }
        json_decref(j);
        if (r < 0) {
                unlink(tmp);
                return kiln_error_set(err, KILN_E_IO, NULL, "cannot write '%s'", tmp);
        }
        if (link(tmp, path) < 0 && errno != EEXIST) {
                int e = errno;

                unlink(tmp);
                return kiln_error_set_errno(err, e, KILN_E_IO, "cannot create '%s'", path);
        }
        unlink(tmp);
        return 0;
}

static int bad(kiln_error **err, const char *path, const char *where, const char *what)
{
        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue", "%s: %s: %s", path,
                              where, what);
}

static int get_str(json_t *o, const char *key, bool required, char **ret, const char *path,
                   const char *where, kiln_error **err)
{
        json_t *v = json_object_get(o, key);
        kiln_autofree char *at = kiln_xasprintf("%s.%s", where, key);

        if (!v || json_is_null(v)) {
                if (required)
                        return bad(err, path, at, "missing");
                *ret = NULL;
                return 0;
        }
        if (!json_is_string(v))
                return bad(err, path, at, "must be a string");
        *ret = kiln_xstrdup(json_string_value(v));
        return 0;
}

static int check_keys(json_t *o, const char *const *allowed, const char *path, const char *where,
                      kiln_error **err)
{
        const char *key;
        json_t *v;

        if (!json_is_object(o))
                return bad(err, path, where, "must be an object");
        json_object_foreach (o, key, v) {
                bool ok = false;

                for (size_t i = 0; allowed[i]; i++)
                        if (strcmp(allowed[i], key) == 0)
                                ok = true;
                if (!ok) {
                        kiln_autofree char *at = kiln_xasprintf("%s.%s", where, key);

                        return bad(err, path, at, "unknown key");
                }
        }
        return 0;
}

static int check_address(const char *address, const char *path, const char *where, kiln_error **err)
{
        unsigned char buf[sizeof(struct in6_addr)];
        kiln_autofree char *at = kiln_xasprintf("%s.ListenAddress", where);

        if (address && inet_pton(AF_INET, address, buf) != 1 &&
            inet_pton(AF_INET6, address, buf) != 1)
                return bad(err, path, at, "must be an IPv4 or IPv6 address");
        return 0;
}

/* PortRange ("FIRST-LAST", 1024-65535; default 40000-44999). */
static int get_ports(json_t *o, kiln_region_info *r, const char *path, const char *where,
                     kiln_error **err)
{
        kiln_autofree char *range = NULL;

        r->first_port = 40000;
        r->last_port = 44999;
        if (get_str(o, "PortRange", false, &range, path, where, err) < 0)
                return -1;
        if (range) {
                kiln_autofree char *at = kiln_xasprintf("%s.PortRange", where);
                int first = 0, last = 0, used = 0;

                if (sscanf(range, "%d-%d%n", &first, &last, &used) != 2 ||
                    (size_t) used != strlen(range) || first < 1024 || last > 65535 || first > last)
                        return bad(err, path, at, "must be FIRST-LAST, within 1024-65535");
                r->first_port = first;
                r->last_port = last;
        }
        return 0;
}

/* A host's ID: "h-" and 17 hex digits of the SHA-256 of the region's name and the host's URI,
 * so that it stays the same while the configuration names the host the same way. */
static char *host_id(const char *region, const char *uri)
{
        unsigned char d[KILN_DIGEST_MAX];
        size_t n = 0;
        kiln_autofree char *text = kiln_xasprintf("%s\n%s", region, uri);
        char hex[2 * KILN_DIGEST_MAX + 1];

        if (kiln_digest(KILN_DIGEST_SHA256, text, strlen(text), d, &n, NULL) < 0)
                abort(); /* SHA-256 is always there */
        for (size_t i = 0; i < n; i++)
                snprintf(hex + 2 * i, 3, "%02x", d[i]);
        hex[17] = '\0';
        return kiln_xasprintf("h-%s", hex);
}

/* ProxyJump: {User, Host, Port (default 22), IdentityFile, HostKey}. */
static int get_jump(json_t *o, kiln_host_info *h, const char *path, const char *where,
                    kiln_error **err)
{
        static const char *const keys[] = {"User", "Host", "Port", "IdentityFile", "HostKey", NULL};
        json_t *j = json_object_get(o, "ProxyJump"), *port;
        kiln_autofree char *at = kiln_xasprintf("%s.ProxyJump", where);
        kiln_proxy_jump *pj;

        if (!j)
                return 0;
        if (check_keys(j, keys, path, at, err) < 0)
                return -1;
        if (h->listen_address)
                return bad(err, path, where,
                           "give either ListenAddress or ProxyJump: one way to reach instances");
        pj = h->jump = kiln_xcalloc(1, sizeof(*pj));
        if (get_str(j, "User", true, &pj->user, path, at, err) < 0 ||
            get_str(j, "Host", true, &pj->host, path, at, err) < 0 ||
            get_str(j, "IdentityFile", true, &pj->identity_file, path, at, err) < 0 ||
            get_str(j, "HostKey", true, &pj->host_key, path, at, err) < 0)
                return -1;
        port = json_object_get(j, "Port");
        pj->port = 22;
        if (port) {
                kiln_autofree char *pat = kiln_xasprintf("%s.Port", at);

                if (!json_is_integer(port) || json_integer_value(port) < 1 ||
                    json_integer_value(port) > 65535)
                        return bad(err, path, pat, "must be a number from 1 to 65535");
                pj->port = (int) json_integer_value(port);
        }
        if (!*pj->host || !*pj->user || pj->host[0] == '-' || strpbrk(pj->host, " \t@:/") ||
            pj->user[0] == '-' || strpbrk(pj->user, " \t@:/"))
                return bad(err, path, at, "User and Host must be a plain name or address");
        if (strncmp(pj->host_key, "ssh-", 4) != 0 && strncmp(pj->host_key, "ecdsa-", 6) != 0) {
                kiln_autofree char *kat = kiln_xasprintf("%s.HostKey", at);

                return bad(err, path, kat,
                           "must be the jump host's public key line (ssh-ed25519 AAAA...)");
        }
        return 0;
}

/* Hosts: a list of {Uri, PoolPath, ListenAddress or ProxyJump}, at most 26 (one zone letter
 * each). */
static int parse_hosts(json_t *arr, kiln_region_info *r, const char *path, const char *where,
                       kiln_error **err)
{
        static const char *const keys[] = {"Uri", "PoolPath", "ListenAddress", "ProxyJump", NULL};
        kiln_autofree char *at = kiln_xasprintf("%s.Hosts", where);
        size_t i;
        json_t *o;

        if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 26)
                return bad(err, path, at, "must be a list of 1 to 26 hosts");
        r->hosts = kiln_xcalloc(json_array_size(arr), sizeof(*r->hosts));
        json_array_foreach (arr, i, o) {
                kiln_autofree char *hw = kiln_xasprintf("%s[%zu]", at, i);
                kiln_host_info *h = &r->hosts[r->n_hosts++];

                if (check_keys(o, keys, path, hw, err) < 0 ||
                    get_str(o, "Uri", true, &h->uri, path, hw, err) < 0 ||
                    get_str(o, "PoolPath", true, &h->pool_path, path, hw, err) < 0 ||
                    get_str(o, "ListenAddress", false, &h->listen_address, path, hw, err) < 0 ||
                    check_address(h->listen_address, path, hw, err) < 0 ||
                    get_jump(o, h, path, hw, err) < 0)
                        return -1;
                for (size_t j = 0; j + 1 < r->n_hosts; j++)
                        if (strcmp(r->hosts[j].uri, h->uri) == 0)
                                return bad(err, path, hw, "the region names this Uri twice");
        }
        return 0;
}

/* A region names its one host with Uri, PoolPath and ListenAddress, or several with Hosts. */
static int get_hosts(json_t *o, kiln_region_info *r, const char *path, const char *where,
                     kiln_error **err)
{
        json_t *hosts = json_object_get(o, "Hosts");

        if (hosts) {
                if (json_object_get(o, "Uri") || json_object_get(o, "PoolPath") ||
                    json_object_get(o, "ListenAddress") || json_object_get(o, "ProxyJump"))
                        return bad(err, path, where,
                                   "give either Hosts or Uri, PoolPath and ListenAddress or "
                                   "ProxyJump");
                if (parse_hosts(hosts, r, path, where, err) < 0)
                        return -1;
        } else {
                r->hosts = kiln_xcalloc(1, sizeof(*r->hosts));
                r->n_hosts = 1;
                if (get_str(o, "Uri", true, &r->hosts[0].uri, path, where, err) < 0 ||
                    get_str(o, "PoolPath", true, &r->hosts[0].pool_path, path, where, err) < 0 ||
                    get_str(o, "ListenAddress", false, &r->hosts[0].listen_address, path, where,
                            err) < 0 ||
                    check_address(r->hosts[0].listen_address, path, where, err) < 0 ||
                    get_jump(o, &r->hosts[0], path, where, err) < 0)
                        return -1;
        }
        for (size_t i = 0; i < r->n_hosts; i++) {
                r->hosts[i].host_id = host_id(r->name, r->hosts[i].uri);
                r->hosts[i].zone = kiln_xasprintf("%s%c", r->name, (char) ('a' + i));
        }
        r->uri = kiln_xstrdup(r->hosts[0].uri);
        r->pool_path = kiln_xstrdup(r->hosts[0].pool_path);
        r->listen_address = kiln_xstrdup(r->hosts[0].listen_address);
        return 0;
}

static int parse_regions(config *c, json_t *arr, kiln_error **err)
{
        static const char *const keys[] = {
                "Name",          "Uri",       "Pool",  "PoolPath",  "Network",
                "ListenAddress", "PortRange", "Hosts", "ProxyJump", NULL};
        size_t i;
        json_t *o;

        if (!json_is_array(arr) || json_array_size(arr) == 0)
                return bad(err, c->path, "$.Regions", "must be a non-empty list");
        c->regions = kiln_xcalloc(json_array_size(arr), sizeof(*c->regions));
        json_array_foreach (arr, i, o) {
                kiln_autofree char *where = kiln_xasprintf("$.Regions[%zu]", i);
                kiln_region_info *r = &c->regions[c->n_regions++];

                if (check_keys(o, keys, c->path, where, err) < 0 ||
                    get_str(o, "Name", true, &r->name, c->path, where, err) < 0 ||
                    get_str(o, "Pool", true, &r->pool, c->path, where, err) < 0 ||
                    get_hosts(o, r, c->path, where, err) < 0 ||
                    get_str(o, "Network", false, &r->network, c->path, where, err) < 0 ||
                    get_ports(o, r, c->path, where, err) < 0)
                        return -1;
                for (size_t j = 0; j + 1 < c->n_regions; j++)
                        if (strcmp(c->regions[j].name, r->name) == 0)
                                return bad(err, c->path, where, "duplicate region name");
        }
        return 0;
}

static int parse_accounts(config *c, json_t *arr, kiln_error **err)
{
        static const char *const keys[] = {"AccountId", "Alias", NULL};
        size_t i;
        json_t *o;

        if (!json_is_array(arr) || json_array_size(arr) == 0)
                return bad(err, c->path, "$.Accounts", "must be a non-empty list");
        c->accounts = kiln_xcalloc(json_array_size(arr), sizeof(char *));
        c->aliases = kiln_xcalloc(json_array_size(arr), sizeof(char *));
        json_array_foreach (arr, i, o) {
                kiln_autofree char *where = kiln_xasprintf("$.Accounts[%zu]", i);

                if (check_keys(o, keys, c->path, where, err) < 0 ||
                    get_str(o, "AccountId", true, &c->accounts[i], c->path, where, err) < 0 ||
                    get_str(o, "Alias", false, &c->aliases[i], c->path, where, err) < 0) {
                        c->n_accounts = i + 1;
                        return -1;
                }
                c->n_accounts = i + 1;
                if (!kiln_is_digits(c->accounts[i], 12))
                        return bad(err, c->path, where, "AccountId must be 12 digits");
        }
        return 0;
}

static bool org_id_valid(const char *s)
{
        size_t n = s ? strlen(s) : 0;

        if (n < 12 || n > 34 || strncmp(s, "o-", 2) != 0)
                return false;
        for (size_t i = 2; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
                        return false;
        return true;
}

static int parse_orgs(config *c, json_t *arr, kiln_error **err)
{
        static const char *const keys[] = {"Id", "MasterAccount", "Accounts", NULL};
        size_t i;
        json_t *o;

        if (!arr)
                return 0;
        if (!json_is_array(arr))
                return bad(err, c->path, "$.Organizations", "must be a list");
        c->orgs = kiln_xcalloc(json_array_size(arr) + 1, sizeof(*c->orgs));
        json_array_foreach (arr, i, o) {
                kiln_autofree char *where = kiln_xasprintf("$.Organizations[%zu]", i);
                config_org *org = &c->orgs[c->n_orgs++];
                json_t *members;
                size_t j;
                json_t *m;

                if (check_keys(o, keys, c->path, where, err) < 0 ||
                    get_str(o, "Id", true, &org->id, c->path, where, err) < 0 ||
                    get_str(o, "MasterAccount", true, &org->master_account, c->path, where, err) <
                            0)
                        return -1;
                if (!org_id_valid(org->id))
                        return bad(err, c->path, where,
                                   "Id must be o- and 10 to 32 lowercase letters or digits");
                if (!kiln_is_digits(org->master_account, 12))
                        return bad(err, c->path, where, "MasterAccount must be 12 digits");
                members = json_object_get(o, "Accounts");
                if (!json_is_array(members))
                        return bad(err, c->path, where, "Accounts must be a list");
                org->accounts = kiln_xcalloc(json_array_size(members) + 1, sizeof(char *));
                json_array_foreach (members, j, m) {
                        if (!json_is_string(m) || !kiln_is_digits(json_string_value(m), 12))
                                return bad(err, c->path, where,
                                           "Accounts must hold 12-digit account IDs");
                        org->accounts[org->n_accounts++] = kiln_xstrdup(json_string_value(m));
                }
        }
        return 0;
}

static int config_parse(config *c, json_t *root, kiln_error **err)
{
        static const char *const keys[] = {
                "Version", "DefaultRegion", "DefaultAccount", "StoragePrice",
                "Regions", "Accounts",      "Organizations",  NULL};
        json_t *price;

        if (check_keys(root, keys, c->path, "$", err) < 0 ||
            get_str(root, "DefaultRegion", true, &c->default_region, c->path, "$", err) < 0 ||
            get_str(root, "DefaultAccount", true, &c->default_account, c->path, "$", err) < 0 ||
            parse_regions(c, json_object_get(root, "Regions"), err) < 0 ||
            parse_accounts(c, json_object_get(root, "Accounts"), err) < 0 ||
            parse_orgs(c, json_object_get(root, "Organizations"), err) < 0)
                return -1;
        c->price_per_gib_month = 0.05;
        c->volume_price_per_gib_month = 0.08;
        price = json_object_get(root, "StoragePrice");
        if (price) {
                static const char *const pkeys[] = {"PerGiBMonth", "VolumePerGiBMonth", "Currency",
                                                    NULL};
                const struct {
                        const char *key, *where;
                        double *dst;
                } prices[] = {
                        {"PerGiBMonth", "$.StoragePrice.PerGiBMonth", &c->price_per_gib_month},
                        {"VolumePerGiBMonth", "$.StoragePrice.VolumePerGiBMonth",
                         &c->volume_price_per_gib_month},
                };

                if (check_keys(price, pkeys, c->path, "$.StoragePrice", err) < 0)
                        return -1;
                for (size_t i = 0; i < KILN_ARRAY_SIZE(prices); i++) {
                        json_t *v = json_object_get(price, prices[i].key);

                        if (v && (!json_is_number(v) || json_number_value(v) < 0))
                                return bad(err, c->path, prices[i].where, "must be a number >= 0");
                        if (v)
                                *prices[i].dst = json_number_value(v);
                }
        }
        if (!config_region(c, c->default_region))
                return bad(err, c->path, "$.DefaultRegion", "names no region in $.Regions");
        if (!config_has_account(c, c->default_account))
                return bad(err, c->path, "$.DefaultAccount", "names no account in $.Accounts");
        return 0;
}

int config_load_or_create(const char *home, config **ret, kiln_error **err)
{
        kiln_autoptr(config) c = kiln_xcalloc(1, sizeof(*c));
        kiln_autofree char *text = NULL;
        json_error_t jerr;
        json_t *root;
        int r;

        c->path = kiln_xasprintf("%s/config.json", home);
        if (access(c->path, F_OK) < 0 && config_create(home, c->path, err) < 0)
                return -1;
        if (kiln_file_read(c->path, CONFIG_MAX_BYTES, &text, NULL, err) < 0)
                return -1;
        root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return kiln_error_set(err, KILN_E_JSON, NULL, "%s:%d:%d: %s", c->path, jerr.line,
                                      jerr.column, jerr.text);
        r = config_parse(c, root, err);
        json_decref(root);
        if (r < 0)
                return -1;
        *ret = kiln_steal(&c);
        return 0;
}

const kiln_region_info *config_region(const config *c, const char *name)
{
        for (size_t i = 0; name && i < c->n_regions; i++)
                if (strcmp(c->regions[i].name, name) == 0)
                        return &c->regions[i];
        return NULL;
}

bool config_has_account(const config *c, const char *account)
{
        for (size_t i = 0; account && i < c->n_accounts; i++)
                if (strcmp(c->accounts[i], account) == 0)
                        return true;
        return false;
}

const config_org *config_org_find(const config *c, const char *arn_or_id)
{
        const char *id = arn_or_id ? strrchr(arn_or_id, '/') : NULL;

        id = id ? id + 1 : arn_or_id;
        for (size_t i = 0; id && i < c->n_orgs; i++)
                if (strcmp(c->orgs[i].id, id) == 0)
                        return &c->orgs[i];
        return NULL;
}

bool config_org_has_member(const config_org *o, const char *account)
{
        if (strcmp(o->master_account, account) == 0)
                return true;
        for (size_t i = 0; i < o->n_accounts; i++)
                if (strcmp(o->accounts[i], account) == 0)
                        return true;
        return false;
}
