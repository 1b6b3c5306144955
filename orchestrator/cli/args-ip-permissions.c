/* Inbound rules as the aws CLI takes them for authorize- and revoke-security-group-ingress:
 * each value of --ip-permissions a shorthand
 * "IpProtocol=tcp,FromPort=22,ToPort=22,IpRanges=[{CidrIp=0.0.0.0/0,Description=ssh}]" or
 * JSON (an IpPermission object or an array of them), or the aws CLI's simple form
 * "--protocol tcp --port 22|8000-8010|-1 --cidr 0.0.0.0/0". Each IP range of a permission is
 * one kiln_sg_permission (a permission without one is passed with no source, and the library
 * names what is missing). Shorthand gives the ports as text, JSON as numbers: both are taken.
 * Sources kiln has no use for (Ipv6Ranges, PrefixListIds, UserIdGroupPairs) are refused when
 * they are not empty, not ignored; empty ones are taken, so that a permission copied from
 * describe-security-groups can be given back.
 *
 * A malformed --ip-permissions value is an invalid parameter (exit 3, as --tag-specifications
 * and --block-device-mappings); a bad --protocol or --port, or the two forms mixed, is a usage
 * error (exit 2, as the aws CLI refuses them before any request). The library checks the
 * values themselves (protocols, port ranges, CIDRs, descriptions). */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "cli.h"

#define OPT "ip-permissions"

static int bad(const char *what, const char *name, kiln_error **err)
{
        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue", "--" OPT ": %s%s%s",
                              what, name ? " " : "", name ? name : "");
}

static char *text_dup(const char *s)
{
        char *d = s ? strdup(s) : NULL;

        if (s && !d)
                abort();
        return d;
}

void cli_sg_perms_free(cli_sg_perms *p)
{
        for (size_t i = 0; i < p->n; i++) {
                free((char *) p->perms[i].ip_protocol);
                free((char *) p->perms[i].cidr_ipv4);
                free((char *) p->perms[i].description);
        }
        free(p->perms);
        memset(p, 0, sizeof(*p));
}

/* Appends one permission; takes ownership of nothing (the strings are copied). */
static void perm_push(cli_sg_perms *p, const char *protocol, int from, int to, const char *cidr,
                      const char *description)
{
        kiln_sg_permission *slot;

        p->perms = realloc(p->perms, (p->n + 1) * sizeof(*p->perms));
        if (!p->perms)
                abort();
        slot = &p->perms[p->n++];
        slot->ip_protocol = text_dup(protocol);
        slot->from_port = from;
        slot->to_port = to;
        slot->cidr_ipv4 = text_dup(cidr);
        slot->description = text_dup(description);
}

/* A port member: a JSON integer or its text. */
static int port_of(json_t *v, const char *name, int *ret, kiln_error **err)
{
        const char *s = json_string_value(v);
        char *end = NULL;
        long n;

        if (json_is_integer(v)) {
                json_int_t i = json_integer_value(v);

                if (i < INT_MIN || i > INT_MAX)
                        return bad("out of range:", name, err);
                *ret = (int) i;
                return 0;
        }
        errno = 0;
        n = s ? strtol(s, &end, 10) : 0;
        if (!s || !*s || *end || errno || n < INT_MIN || n > INT_MAX)
                return bad("expected a whole number for", name, err);
        *ret = (int) n;
        return 0;
}

/* A member kiln takes only empty: Ipv6Ranges, PrefixListIds, UserIdGroupPairs. */
static int empty_list(json_t *v, const char *name, kiln_error **err)
{
        if (!json_is_array(v))
                return bad("expected a list for", name, err);
        if (json_array_size(v) > 0)
                return bad("kiln takes IPv4 sources only (IpRanges), not", name, err);
        return 0;
}

/* The IpRanges of a permission, checked: a list of {CidrIp, Description}. */
static int ranges_check(json_t *ranges, kiln_error **err)
{
        size_t i;
        json_t *r;

        if (!json_is_array(ranges))
                return bad("IpRanges must be a list: IpRanges=[{CidrIp=CIDR}]", NULL, err);
        json_array_foreach (ranges, i, r) {
                const char *key;
                json_t *v;

                if (!json_is_object(r))
                        return bad("each IpRanges item must be a structure: {CidrIp=CIDR}", NULL,
                                   err);
                json_object_foreach (r, key, v) {
                        if (strcmp(key, "CidrIp") != 0 && strcmp(key, "Description") != 0)
                                return bad("unknown IpRanges member", key, err);
                        if (!json_is_string(v))
                                return bad("expected text for IpRanges member", key, err);
                }
        }
        return 0;
}

static int permission_of(json_t *o, cli_sg_perms *out, kiln_error **err)
{
        json_t *protocol = json_object_get(o, "IpProtocol"), *ranges = NULL;
        int from = -1, to = -1;
        const char *key;
        json_t *v;

        if (!json_is_object(o))
                return bad("each permission must be a structure: IpProtocol=P,FromPort=N,...", NULL,
                           err);
        if (!json_is_string(protocol))
                return bad("each permission needs an IpProtocol (text)", NULL, err);
        json_object_foreach (o, key, v) {
                int rc = 0;

                if (strcmp(key, "IpProtocol") == 0)
                        continue;
                if (strcmp(key, "FromPort") == 0)
                        rc = port_of(v, "FromPort", &from, err);
                else if (strcmp(key, "ToPort") == 0)
                        rc = port_of(v, "ToPort", &to, err);
                else if (strcmp(key, "IpRanges") == 0)
                        rc = ranges_check(v, err);
                else if (strcmp(key, "Ipv6Ranges") == 0 || strcmp(key, "PrefixListIds") == 0 ||
                         strcmp(key, "UserIdGroupPairs") == 0)
                        rc = empty_list(v, key, err);
                else
                        rc = bad("unknown member", key, err);
                if (rc < 0)
                        return -1;
        }
        ranges = json_object_get(o, "IpRanges");
        if (json_array_size(ranges) == 0) {
                perm_push(out, json_string_value(protocol), from, to, NULL, NULL);
                return 0;
        }
        for (size_t i = 0; i < json_array_size(ranges); i++) {
                json_t *r = json_array_get(ranges, i);

                perm_push(out, json_string_value(protocol), from, to,
                          json_string_value(json_object_get(r, "CidrIp")),
                          json_string_value(json_object_get(r, "Description")));
        }
        return 0;
}

static int from_ip_permissions(const cli_args *args, cli_sg_perms *out, kiln_error **err)
{
        const char **raw = NULL;
        size_t n = cli_arg_all(args, OPT, &raw);
        int rc = 0;

        for (size_t i = 0; rc == 0 && i < n; i++) {
                json_t *j = cli_option_json(OPT, raw[i], err);
                size_t k;
                json_t *o;

                if (!j)
                        rc = -1;
                else if (json_is_object(j))
                        rc = permission_of(j, out, err);
                else if (!json_is_array(j))
                        rc = bad("expected IpProtocol=P,FromPort=N,ToPort=N,IpRanges=[...] or JSON",
                                 NULL, err);
                else
                        json_array_foreach (j, k, o)
                                if (rc == 0)
                                        rc = permission_of(o, out, err);
                json_decref(j);
        }
        free(raw);
        return rc;
}

/* ---- the simple form ---- */

/* s[0..len) as a whole number: an optional '-' and digits, nothing else. */
static bool whole_number(const char *s, size_t len, int *ret)
{
        char buf[16];
        size_t digits = len > 0 && s[0] == '-' ? 1 : 0;
        long v;

        if (len == digits || len >= sizeof(buf))
                return false;
        for (size_t i = digits; i < len; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        memcpy(buf, s, len);
        buf[len] = '\0';
        v = strtol(buf, NULL, 10);
        if (v < INT_MIN || v > INT_MAX)
                return false;
        *ret = (int) v;
        return true;
}

/* --protocol: tcp, udp, icmp, all (sent as -1) or a protocol number (0-255, -1), as the aws CLI
 * takes it; which protocols kiln filters is the library's to say. */
static int simple_protocol(const char *s, const char **ret)
{
        int n = 0;

        if (strcmp(s, "all") == 0) {
                *ret = "-1";
                return 0;
        }
        if (strcmp(s, "tcp") == 0 || strcmp(s, "udp") == 0 || strcmp(s, "icmp") == 0 ||
            (whole_number(s, strlen(s), &n) && n >= -1 && n <= 255)) {
                *ret = s;
                return 0;
        }
        return cli_usage_error("invalid --protocol '%s': tcp, udp, icmp, all, or a protocol number "
                               "(0-255; -1 for all)",
                               s);
}

/* --port: N, N-M, or -1 and all (every port), as the aws CLI splits it: at the first '-', so
 * that ICMP's "8--1" is type 8, every code. */
static int simple_port(const char *s, int *from, int *to)
{
        const char *dash = strchr(s, '-');

        if (strcmp(s, "-1") == 0 || strcmp(s, "all") == 0) {
                *from = *to = -1;
                return 0;
        }
        if (dash ? whole_number(s, (size_t) (dash - s), from) &&
                            whole_number(dash + 1, strlen(dash + 1), to)
                 : whole_number(s, strlen(s), from)) {
                if (!dash)
                        *to = *from;
                return 0;
        }
        return cli_usage_error("invalid --port '%s': a port or a range, as 22 or 8000-8010 (-1 or "
                               "all: every port; ICMP: TYPE or TYPE-CODE)",
                               s);
}

static int from_simple(const cli_args *args, cli_sg_perms *out)
{
        static const char *const simple[] = {"protocol", "port", "cidr"};
        const char *protocol = cli_arg_get(args, "protocol");
        const char *port = cli_arg_get(args, "port");
        const char *cidr = cli_arg_get(args, "cidr");
        int from = -1, to = -1, rc;

        if (!protocol && !port && !cidr)
                return 0;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(simple); i++)
                if (cli_arg_has(args, simple[i]) && cli_arg_has(args, OPT))
                        return cli_usage_error("--%s cannot be combined with --" OPT
                                               " (give the rule in one form)",
                                               simple[i]);
        if (!protocol)
                return cli_usage_error("--%s needs --protocol (tcp, udp, icmp, all or a number)",
                                       port ? "port" : "cidr");
        rc = simple_protocol(protocol, &protocol);
        if (rc == 0 && port)
                rc = simple_port(port, &from, &to);
        if (rc != 0)
                return rc;
        perm_push(out, protocol, from, to, cidr, NULL);
        return 0;
}

int cli_parse_ip_permissions(const cli_args *args, cli_sg_perms *ret)
{
        kiln_autoptr(kiln_error) err = NULL;
        cli_sg_perms out = {0};
        int rc;

        rc = from_simple(args, &out);
        if (rc == 0 && from_ip_permissions(args, &out, &err) < 0)
                rc = cli_fail(err);
        if (rc != 0) {
                cli_sg_perms_free(&out);
                return rc;
        }
        *ret = out;
        return 0;
}
