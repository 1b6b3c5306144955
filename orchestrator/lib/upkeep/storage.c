/* describe-storage: what the region's snapshots really occupy. Each snapshot is one qcow2
 * layer, so its cost is the bytes its own file holds on the host (libvirt's allocation, the
 * "disk size" qemu-img reports), not its virtual size. An image costs the layers of its chains;
 * a layer that other registered images also use is shared. A layer whose snapshot was deleted
 * but that others build on is still stored, and is billed to the owner of a layer above it. */
#include <string.h>

#include <kiln/upkeep.h>

#include "image/image-rules.h"
#include "registry/registry-instance.h"
#include "util/util.h"

#define GIB (1024.0 * 1024.0 * 1024.0)

typedef struct layer {
        registry_snapshot *s;
        uint64_t bytes;
        int images; /* registered images whose chains hold it */
        bool stored;
} layer;

typedef struct storage_txn {
        kiln_ctx *ctx;
        registry_snapshot *snaps;
        size_t n_snaps;
        kiln_image *imgs;
        size_t n_imgs;
        registry_volume *vols;
        size_t n_vols;
} storage_txn;

static int storage_load(registry *r, void *userdata, kiln_error **err)
{
        storage_txn *t = userdata;

        registry_snapshots_free(t->snaps, t->n_snaps);
        kiln_images_free(t->imgs, t->n_imgs);
        registry_volumes_free(t->vols, t->n_vols);
        t->snaps = NULL;
        t->imgs = NULL;
        t->vols = NULL;
        t->n_snaps = t->n_imgs = t->n_vols = 0;
        if (registry_snapshot_list(r, t->ctx->region->name, &t->snaps, &t->n_snaps, err) < 0 ||
            registry_volume_list(r, t->ctx->region->name, &t->vols, &t->n_vols, err) < 0)
                return -1;
        return registry_image_list(r, t->ctx->region->name, NULL, &t->imgs, &t->n_imgs, err);
}

static int layer_cmp(const void *a, const void *b)
{
        return strcmp(((const layer *) a)->s->s.snapshot_id, ((const layer *) b)->s->s.snapshot_id);
}

static layer *layer_find(layer *layers, size_t n, const char *id)
{
        registry_snapshot key_snap = {0};
        layer key = {&key_snap, 0, 0, false};

        if (!id)
                return NULL;
        key_snap.s.snapshot_id = (char *) id;
        return bsearch(&key, layers, n, sizeof(*layers), layer_cmp);
}

/* The account that pays for a layer: its owner while the snapshot lives, else the owner of a
 * live snapshot above it. */
static const char *layer_payer(storage_txn *t, layer *layers, size_t n, layer *l, int depth)
{
        if (strcmp(l->s->s.state, "completed") == 0 || depth > 64)
                return l->s->s.owner_id;
        for (size_t i = 0; i < t->n_snaps; i++) {
                if (t->snaps[i].s.parent_id &&
                    strcmp(t->snaps[i].s.parent_id, l->s->s.snapshot_id) == 0) {
                        layer *child = layer_find(layers, n, t->snaps[i].s.snapshot_id);

                        if (child)
                                return layer_payer(t, layers, n, child, depth + 1);
                }
        }
        return l->s->s.owner_id;
}

static void account_add(kiln_storage_report *rep, const char *account, uint64_t bytes,
                        int64_t volume_gib)
{
        kiln_storage_account *a = NULL;

        for (size_t i = 0; !a && i < rep->n_accounts; i++)
                if (strcmp(rep->accounts[i].account_id, account) == 0)
                        a = &rep->accounts[i];
        if (!a) {
                rep->accounts = kiln_xrealloc(rep->accounts,
                                              (rep->n_accounts + 1) * sizeof(*rep->accounts));
                a = &rep->accounts[rep->n_accounts++];
                memset(a, 0, sizeof(*a));
                a->account_id = kiln_xstrdup(account);
        }
        a->bytes += bytes;
        a->volume_gib += volume_gib;
}

/* Layers of one image, leaf first, each once. */
static void image_chain(layer *layers, size_t n, const kiln_image *img, kiln_storage_image *out)
{
        for (size_t m = 0; m < img->n_mappings; m++) {
                layer *l = layer_find(layers, n, img->mappings[m].snapshot_id);
                int guard = 0;

                while (l && guard++ < 256) {
                        bool seen = false;

                        for (size_t i = 0; i < out->n_chain; i++)
                                seen = seen || strcmp(out->chain[i], l->s->s.snapshot_id) == 0;
                        if (!seen) {
                                out->chain = kiln_xrealloc(out->chain,
                                                           (out->n_chain + 1) * sizeof(char *));
                                out->chain[out->n_chain++] = kiln_xstrdup(l->s->s.snapshot_id);
                        }
                        l = layer_find(layers, n, l->s->s.parent_id);
                }
        }
}

static void storage_build(storage_txn *t, layer *layers, size_t n, kiln_storage_report *rep)
{
        const char *me = t->ctx->account;

        for (size_t i = 0; i < t->n_imgs; i++) {
                kiln_storage_image tmp = {0};

                image_chain(layers, n, &t->imgs[i], &tmp);
                for (size_t c = 0; c < tmp.n_chain; c++)
                        layer_find(layers, n, tmp.chain[c])->images++;
                for (size_t c = 0; c < tmp.n_chain; c++)
                        free(tmp.chain[c]);
                free(tmp.chain);
        }
        for (size_t i = 0; i < t->n_imgs; i++) {
                kiln_storage_image *out;

                if (strcmp(t->imgs[i].owner_id, me) != 0)
                        continue;
                rep->images =
                        kiln_xrealloc(rep->images, (rep->n_images + 1) * sizeof(*rep->images));
                out = &rep->images[rep->n_images++];
                memset(out, 0, sizeof(*out));
                out->image_id = kiln_xstrdup(t->imgs[i].image_id);
                out->name = kiln_xstrdup(t->imgs[i].name);
                out->owner_id = kiln_xstrdup(t->imgs[i].owner_id);
                out->hourly_price = t->imgs[i].hourly_price;
                image_chain(layers, n, &t->imgs[i], out);
                for (size_t c = 0; c < out->n_chain; c++) {
                        layer *l = layer_find(layers, n, out->chain[c]);

                        out->bytes += l->bytes;
                        if (l->images <= 1)
                                out->unique_bytes += l->bytes;
                        else
                                out->shared_bytes += l->bytes;
                }
        }
        for (size_t i = 0; i < n; i++) {
                layer *l = &layers[i];
                kiln_storage_snapshot *out;

                if (!l->stored)
                        continue;
                account_add(rep, layer_payer(t, layers, n, l, 0), l->bytes, 0);
                if (strcmp(l->s->s.owner_id, me) != 0)
                        continue;
                rep->snapshots = kiln_xrealloc(rep->snapshots,
                                               (rep->n_snapshots + 1) * sizeof(*rep->snapshots));
                out = &rep->snapshots[rep->n_snapshots++];
                out->snapshot_id = kiln_xstrdup(l->s->s.snapshot_id);
                out->owner_id = kiln_xstrdup(l->s->s.owner_id);
                out->parent_id = kiln_xstrdup(l->s->s.parent_id);
                out->state = kiln_xstrdup(l->s->s.state);
                out->bytes = l->bytes;
                out->virtual_size = (uint64_t) l->s->virtual_size;
        }
}

/* Volumes: EBS bills the size provisioned, not the bytes written. */
static void storage_volumes(storage_txn *t, virStoragePoolPtr pool, kiln_storage_report *rep)
{
        const char *me = t->ctx->account;

        for (size_t i = 0; i < t->n_vols; i++) {
                registry_volume *v = &t->vols[i];
                virStoragePoolPtr on;
                virt_volume_info info = {0};
                kiln_storage_volume *out;

                if (strcmp(v->state, "deleted") == 0)
                        continue;
                account_add(rep, v->owner_id, 0, v->size);
                if (strcmp(v->owner_id, me) != 0)
                        continue;
                rep->volumes =
                        kiln_xrealloc(rep->volumes, (rep->n_volumes + 1) * sizeof(*rep->volumes));
                out = &rep->volumes[rep->n_volumes++];
                memset(out, 0, sizeof(*out));
                out->volume_id = kiln_xstrdup(v->volume_id);
                out->owner_id = kiln_xstrdup(v->owner_id);
                out->state = kiln_xstrdup(v->state);
                out->size_gib = v->size;
                on = v->host_id ? ctx_host_pool(t->ctx, t->ctx->region->name, v->host_id, NULL)
                                : pool;
                if (on && virt_volume_get_info(on, v->volume, &info, NULL) == 0)
                        out->bytes = info.allocation;
                virt_volume_info_clear(&info);
                out->monthly_cost = (double) v->size * rep->volume_price_per_gib_month;
        }
        for (size_t i = 0; i < rep->n_accounts; i++)
                rep->accounts[i].monthly_cost =
                        (double) rep->accounts[i].bytes / GIB * rep->price_per_gib_month +
                        (double) rep->accounts[i].volume_gib * rep->volume_price_per_gib_month;
}

/* Where the layer's bytes are read: a region of several hosts keeps a snapshot once as EC2
 * does (its copies on other hosts are caches, not billed), on the first host that holds it. */
static virStoragePoolPtr layer_pool(kiln_ctx *ctx, virStoragePoolPtr first,
                                    const registry_snapshot *s)
{
        char **hosts = NULL;
        size_t n = 0;
        virStoragePoolPtr pool = first;

        if (ctx->region->n_hosts > 1 &&
            registry_snapshot_hosts(ctx->reg, s->s.snapshot_id, &hosts, &n, NULL) == 0 && n > 0)
                pool = ctx_host_pool(ctx, ctx->region->name, hosts[0], NULL);
        kiln_strv_free(hosts, n);
        return pool;
}

static kiln_storage_report *storage_report(kiln_ctx *ctx, virStoragePoolPtr pool, storage_txn *t)
{
        kiln_storage_report *rep = kiln_xcalloc(1, sizeof(*rep));
        layer *layers = kiln_xcalloc(t->n_snaps + 1, sizeof(*layers));

        rep->region = kiln_xstrdup(ctx->region->name);
        rep->price_per_gib_month = ctx->cfg->price_per_gib_month;
        rep->volume_price_per_gib_month = ctx->cfg->volume_price_per_gib_month;
        for (size_t i = 0; i < t->n_snaps; i++) {
                virt_volume_info info = {0};

                layers[i].s = &t->snaps[i];
                layers[i].stored = strcmp(t->snaps[i].s.state, "completed") == 0 ||
                                   strcmp(t->snaps[i].s.state, "deleted") == 0;
                virStoragePoolPtr on =
                        layers[i].stored ? layer_pool(ctx, pool, &t->snaps[i]) : NULL;

                if (on && virt_volume_get_info(on, t->snaps[i].volume, &info, NULL) == 0)
                        layers[i].bytes = info.allocation;
                virt_volume_info_clear(&info);
        }
        qsort(layers, t->n_snaps, sizeof(*layers), layer_cmp);
        storage_build(t, layers, t->n_snaps, rep);
        storage_volumes(t, pool, rep);
        free(layers);
        return rep;
}

int kiln_storage_describe(kiln_ctx *ctx, kiln_storage_report **ret, kiln_error **err)
{
        storage_txn t = {ctx, NULL, 0, NULL, 0, NULL, 0};
        virStoragePoolPtr pool = ctx_pool(ctx, ctx->region->name, err);
        int rc = -1;

        if (pool && registry_read(ctx->reg, storage_load, &t, err) == 0) {
                *ret = storage_report(ctx, pool, &t);
                rc = 0;
        }
        registry_snapshots_free(t.snaps, t.n_snaps);
        kiln_images_free(t.imgs, t.n_imgs);
        registry_volumes_free(t.vols, t.n_vols);
        return rc;
}

kiln_storage_report *kiln_storage_report_free(kiln_storage_report *r)
{
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_snapshots; i++) {
                free(r->snapshots[i].snapshot_id);
                free(r->snapshots[i].owner_id);
                free(r->snapshots[i].parent_id);
                free(r->snapshots[i].state);
        }
        free(r->snapshots);
        for (size_t i = 0; i < r->n_images; i++) {
                free(r->images[i].image_id);
                free(r->images[i].name);
                free(r->images[i].owner_id);
                for (size_t c = 0; c < r->images[i].n_chain; c++)
                        free(r->images[i].chain[c]);
                free(r->images[i].chain);
        }
        free(r->images);
        for (size_t i = 0; i < r->n_volumes; i++) {
                free(r->volumes[i].volume_id);
                free(r->volumes[i].owner_id);
                free(r->volumes[i].state);
        }
        free(r->volumes);
        for (size_t i = 0; i < r->n_accounts; i++)
                free(r->accounts[i].account_id);
        free(r->accounts);
        free(r->region);
        free(r);
        return NULL;
}
