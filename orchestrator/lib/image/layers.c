/* Where a region of several hosts keeps a snapshot's layer (the snapshot_hosts table; a layer
 * with no rows is on the region's first host only, as every layer of a region of one host), and
 * bringing a chain of layers to another host: each missing layer, the lowest first, streamed
 * out of a host that has it and into the new host's pool through libvirt, rebased onto the
 * layer below it there, under the same volume name. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "disk/disk.h"
#include "image/image-rules.h"
#include "util/util.h"
#include "virt/virt-storage.h"

/* The hosts holding the layer, as HostIds. */
static int layer_hosts(kiln_ctx *ctx, const kiln_region_info *region, const char *snapshot_id,
                       char ***ret, size_t *ret_n, kiln_error **err)
{
        if (registry_snapshot_hosts(ctx->reg, snapshot_id, ret, ret_n, err) < 0)
                return -1;
        if (*ret_n == 0) {
                free(*ret);
                *ret = kiln_xcalloc(2, sizeof(char *));
                (*ret)[0] = kiln_xstrdup(region->hosts[0].host_id);
                *ret_n = 1;
        }
        return 0;
}

int image_layer_on_host(kiln_ctx *ctx, const kiln_region_info *region, const char *snapshot_id,
                        const char *host_id, kiln_error **err)
{
        char **hosts = NULL;
        size_t n = 0;
        int found = 0;

        if (layer_hosts(ctx, region, snapshot_id, &hosts, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                found = found || strcmp(hosts[i], host_id) == 0;
        kiln_strv_free(hosts, n);
        return found;
}

char *image_volume_path(virStoragePoolPtr pool, const char *volume, kiln_error **err)
{
        virt_volume_info info = {0};
        char *path;

        if (virt_volume_get_info(pool, volume, &info, err) < 0)
                return NULL;
        path = kiln_steal(&info.path);
        virt_volume_info_clear(&info);
        return path;
}

typedef struct host_txn {
        const char *snapshot_id, *first, *host;
} host_txn;

static int record_hosts(registry *r, void *userdata, kiln_error **err)
{
        host_txn *t = userdata;

        if (registry_snapshot_host_add(r, t->snapshot_id, t->first, err) < 0)
                return -1;
        return registry_snapshot_host_add(r, t->snapshot_id, t->host, err);
}

/* One layer onto the host (its parent is there already). */
static int bring_one(kiln_ctx *ctx, const kiln_region_info *info, const registry_snapshot *s,
                     const char *host_id, const char *work, kiln_error **err)
{
        const char *region = info->name;
        char **hosts = NULL;
        size_t n = 0;
        virStoragePoolPtr src, dst;
        kiln_autofree char *local = NULL, *parent_path = NULL, *path = NULL;
        int rc = -1;

        if (layer_hosts(ctx, info, s->s.snapshot_id, &hosts, &n, err) < 0)
                return -1;
        src = ctx_host_pool(ctx, region, hosts[0], err);
        dst = src ? ctx_host_pool(ctx, region, host_id, err) : NULL;
        if (!dst)
                goto out;
        if (s->s.parent_id) {
                registry_snapshot parent = {0};

                if (registry_snapshot_get(ctx->reg, s->s.parent_id, &parent, err) < 0)
                        goto out;
                parent_path = image_volume_path(dst, parent.volume, err);
                registry_snapshot_clear(&parent);
                if (!parent_path)
                        goto out;
        }
        local = kiln_xasprintf("%s/%s", work, s->volume);
        if (virt_volume_download(src, s->volume, local, NULL, NULL, err) < 0 ||
            disk_set_backing(local, parent_path, err) < 0 ||
            virt_volume_upload(dst, s->volume, local, (unsigned long long) s->virtual_size, true,
                               NULL, NULL, &path, err) < 0) {
                kiln_error_prefix(err, "cannot bring layer %s from host %s to host %s",
                                  s->s.snapshot_id, hosts[0], host_id);
                goto out;
        }
        unlink(local);
        /* Once a second host has it, the rows name every host that has it. */
        rc = registry_write(ctx->reg, record_hosts,
                            &(host_txn){s->s.snapshot_id, hosts[0], host_id}, err);
out:
        kiln_strv_free(hosts, n);
        return rc;
}

int image_layers_bring(kiln_ctx *ctx, const kiln_region_info *region, const char *snapshot_id,
                       const char *host_id, kiln_error **err)
{
        registry_snapshot *chain = NULL;
        size_t n = 0;
        kiln_autofree char *work = NULL;
        int rc = 0;

        /* The chain, top first. */
        for (const char *id = snapshot_id; id; id = chain[n - 1].s.parent_id) {
                chain = kiln_xrealloc(chain, (n + 1) * sizeof(*chain));
                memset(&chain[n], 0, sizeof(*chain));
                if (registry_snapshot_get(ctx->reg, id, &chain[n], err) < 0) {
                        registry_snapshots_free(chain, n + 1);
                        return -1;
                }
                n++;
        }
        for (size_t i = n; rc == 0 && i-- > 0;) {
                int have = image_layer_on_host(ctx, region, chain[i].s.snapshot_id, host_id, err);

                if (have < 0) {
                        rc = -1;
                } else if (!have) {
                        if (!work && !(work = ctx_workdir(ctx, err)))
                                rc = -1;
                        else
                                rc = bring_one(ctx, region, &chain[i], host_id, work, err);
                }
        }
        if (work)
                ctx_workdir_remove(work);
        registry_snapshots_free(chain, n);
        return rc;
}
