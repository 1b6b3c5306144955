/* A region's network as EC2 clients see it: one default VPC with one default subnet in the
 * region's one zone. Their IDs are derived from the region's name, so they stay the same without
 * being stored; the CIDR is the region's libvirt network's (user networking: QEMU's
 * 10.0.2.0/24). Instances in the region are in that subnet. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <libvirt/libvirt.h>

#include "instance/instance-private.h"
#include "model/filter.h"
#include "util/util.h"
#include "virt/virt.h"

#define USER_CIDR "10.0.2.0/24"

/* PREFIX-<17 hex>: the first 17 hex digits of SHA-256("kiln PREFIX REGION"). */
static char *derived_id(const char *prefix, const char *region)
{
        kiln_autofree char *text = kiln_xasprintf("kiln %s %s", prefix, region);
        kiln_autofree char *hex = ctx_request_digest(text);

        return kiln_xasprintf("%s-%.17s", prefix, hex);
}

char *instance_vpc_id(const char *region)
{
        return derived_id("vpc", region);
}

char *instance_subnet_id(const char *region)
{
        return derived_id("subnet", region);
}

/* The IPv4 network of a libvirt network's first <ip>, as "A.B.C.D/N". */
static int network_cidr(kiln_ctx *ctx, const char *name, char **ret, kiln_error **err)
{
        virConnectPtr conn = ctx_host_conn(ctx, ctx->region->name, NULL, err);
        virNetworkPtr net = conn ? virNetworkLookupByName(conn, name) : NULL;
        kiln_autofree char *xml = NULL, *addr = NULL, *prefix = NULL, *mask = NULL;
        struct in_addr a, m = {0};
        unsigned bits = 0;
        char buf[INET_ADDRSTRLEN];

        if (!conn)
                return -1;
        if (!net)
                return virt_error(err, "region '%s': cannot look up its network '%s'",
                                  ctx->region->name, name);
        xml = virNetworkGetXMLDesc(net, 0);
        virNetworkFree(net);
        if (!xml)
                return virt_error(err, "cannot read network '%s'", name);
        addr = virt_xml_string(xml,
                               "string(/network/ip[not(@family) or @family='ipv4'][1]/@address)");
        prefix = virt_xml_string(xml,
                                 "string(/network/ip[not(@family) or @family='ipv4'][1]/@prefix)");
        mask = virt_xml_string(xml,
                               "string(/network/ip[not(@family) or @family='ipv4'][1]/@netmask)");
        if (!addr || inet_pton(AF_INET, addr, &a) != 1)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "network '%s' has no IPv4 address: kiln's subnet needs one",
                                      name);
        if (prefix && *prefix) {
                bits = (unsigned) strtoul(prefix, NULL, 10);
        } else if (mask && inet_pton(AF_INET, mask, &m) == 1) {
                for (uint32_t v = ntohl(m.s_addr); v & 0x80000000u; v <<= 1)
                        bits++;
        }
        if (bits == 0 || bits > 32)
                bits = 24;
        a.s_addr &= htonl(bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits));
        inet_ntop(AF_INET, &a, buf, sizeof(buf));
        *ret = kiln_xasprintf("%s/%u", buf, bits);
        return 0;
}

void kiln_vpc_clear(kiln_vpc *v)
{
        if (!v)
                return;
        free(v->vpc_id);
        free(v->subnet_id);
        free(v->region);
        free(v->zone);
        free(v->cidr);
        free(v->network);
        memset(v, 0, sizeof(*v));
}

int kiln_vpc_describe(kiln_ctx *ctx, kiln_vpc *ret, kiln_error **err)
{
        kiln_vpc v = {0};
        const char *slash;

        v.region = kiln_xstrdup(ctx->region->name);
        v.vpc_id = instance_vpc_id(v.region);
        v.subnet_id = instance_subnet_id(v.region);
        v.zone = kiln_xasprintf("%sa", v.region);
        if (ctx->region->network) {
                v.network = kiln_xstrdup(ctx->region->network);
                if (network_cidr(ctx, v.network, &v.cidr, err) < 0) {
                        kiln_vpc_clear(&v);
                        return -1;
                }
        } else {
                v.cidr = kiln_xstrdup(USER_CIDR);
        }
        /* EC2 keeps five addresses of each subnet to itself. */
        slash = v.cidr ? strchr(v.cidr, '/') : NULL;
        {
                unsigned bits = slash ? (unsigned) strtoul(slash + 1, NULL, 10) : 24;
                unsigned long long size = bits >= 32 ? 1 : 1ULL << (32 - bits);

                v.available_ips = size > 5 ? (unsigned) (size - 5) : 0;
        }
        *ret = v;
        return 0;
}

/* One item, VPC or subnet, against the IDs and filters asked for. */
static bool vpc_selected(const kiln_vpc *v, bool subnet, const char *const *ids, size_t n_ids,
                         const kiln_filter *f, size_t nf)
{
        const char *id = subnet ? v->subnet_id : v->vpc_id;
        bool keep = n_ids == 0;

        for (size_t i = 0; i < n_ids; i++)
                keep = keep || strcmp(ids[i], id) == 0;
        for (size_t i = 0; keep && i < nf; i++) {
                const char *n = f[i].name;

                if (strcmp(n, "vpc-id") == 0)
                        keep = filter_match_any(&f[i], v->vpc_id);
                else if (strcmp(n, "subnet-id") == 0)
                        keep = filter_match_any(&f[i], v->subnet_id);
                else if (strcmp(n, "state") == 0)
                        keep = filter_match_any(&f[i], "available");
                else if (strcmp(n, "cidr") == 0 || strcmp(n, "cidr-block") == 0 ||
                         strcmp(n, "cidrBlock") == 0 ||
                         strcmp(n, "cidr-block-association.cidr-block") == 0)
                        keep = filter_match_any(&f[i], v->cidr);
                else if (strcmp(n, "is-default") == 0 || strcmp(n, "isDefault") == 0 ||
                         strcmp(n, "default-for-az") == 0 || strcmp(n, "defaultForAz") == 0)
                        keep = filter_match_any(&f[i], "true");
                else if (strcmp(n, "availability-zone") == 0 || strcmp(n, "availabilityZone") == 0)
                        keep = filter_match_any(&f[i], v->zone);
                else if (strcmp(n, "owner-id") == 0)
                        keep = true;
        }
        return keep;
}

static int describe(kiln_ctx *ctx, bool subnet, const char *const *ids, size_t n_ids,
                    const kiln_filter *f, size_t nf, kiln_vpc **ret, size_t *ret_n,
                    kiln_error **err)
{
        static const char *const vpc_filters[] = {"vpc-id",
                                                  "state",
                                                  "cidr",
                                                  "cidr-block",
                                                  "cidr-block-association.cidr-block",
                                                  "is-default",
                                                  "isDefault",
                                                  "owner-id",
                                                  NULL};
        static const char *const subnet_filters[] = {"vpc-id",
                                                     "subnet-id",
                                                     "state",
                                                     "cidr",
                                                     "cidr-block",
                                                     "cidrBlock",
                                                     "default-for-az",
                                                     "defaultForAz",
                                                     "availability-zone",
                                                     "availabilityZone",
                                                     "owner-id",
                                                     NULL};
        kiln_vpc v = {0};

        if (filter_check_names(f, nf, subnet ? subnet_filters : vpc_filters, err) < 0)
                return -1;
        for (size_t i = 0; i < n_ids; i++)
                if (!kiln_id_valid(subnet ? "subnet" : "vpc", ids[i]))
                        return kiln_error_set(err, KILN_E_INVALID,
                                              subnet ? "InvalidSubnetID.Malformed"
                                                     : "InvalidVpcID.Malformed",
                                              "Invalid id: \"%s\"", ids[i]);
        if (kiln_vpc_describe(ctx, &v, err) < 0)
                return -1;
        for (size_t i = 0; i < n_ids; i++)
                if (strcmp(ids[i], subnet ? v.subnet_id : v.vpc_id) != 0) {
                        kiln_vpc_clear(&v);
                        return kiln_error_set(
                                err, KILN_E_NOT_FOUND,
                                subnet ? "InvalidSubnetID.NotFound" : "InvalidVpcID.NotFound",
                                "The %s ID '%s' does not exist", subnet ? "subnet" : "vpc", ids[i]);
                }
        *ret = kiln_xcalloc(1, sizeof(**ret));
        *ret_n = 0;
        if (vpc_selected(&v, subnet, ids, n_ids, f, nf))
                (*ret)[(*ret_n)++] = v;
        else
                kiln_vpc_clear(&v);
        return 0;
}

int kiln_vpcs_describe(kiln_ctx *ctx, const char *const *ids, size_t n_ids,
                       const kiln_filter *filters, size_t n_filters, kiln_vpc **ret, size_t *ret_n,
                       kiln_error **err)
{
        return describe(ctx, false, ids, n_ids, filters, n_filters, ret, ret_n, err);
}

int kiln_subnets_describe(kiln_ctx *ctx, const char *const *ids, size_t n_ids,
                          const kiln_filter *filters, size_t n_filters, kiln_vpc **ret,
                          size_t *ret_n, kiln_error **err)
{
        return describe(ctx, true, ids, n_ids, filters, n_filters, ret, ret_n, err);
}

void kiln_vpcs_free(kiln_vpc *list, size_t n)
{
        for (size_t i = 0; list && i < n; i++)
                kiln_vpc_clear(&list[i]);
        free(list);
}
