/* OS detection from a disk image's own bytes, written from the format specifications:
 *
 *   device      the guest-visible bytes: pread() for raw, qemu-nbd (nbd.c) for everything else,
 *               behind a small cache of 64 KiB chunks, so reading costs a few round trips
 *               whatever the size of the disk;
 *   partitions  GPT (primary header, else the backup; CRC-checked), MBR with its chain of
 *               extended boot records, else the whole disk as one volume;
 *   probes      NTFS boot sector (Windows), ext2/3/4 (read), XFS, btrfs, LVM and swap
 *               (recognized as Linux, not read);
 *   ext         superblock, group descriptors (32/64-bit, meta_bg), inodes, extent trees and
 *               the old block maps, inline data, directories read linearly (an htree directory
 *               is also a valid linear one), symlinks (fast and slow, relative and absolute);
 *   os          /etc/os-release else /usr/lib/os-release; the default user from cloud-init's
 *               /etc/cloud/cloud.cfg and cloud.cfg.d/\*.cfg, else the distribution's usual one.
 *
 * Everything read from the disk is hostile until checked: each offset, length and count is
 * checked against the volume and the file system before use, every loop has a bound (extent
 * and indirect nodes per file, directory and file sizes, symlinks and steps per lookup,
 * partitions), all reads of files, directories and trees share one budget (EXT_MAX_WORK), and
 * damage means "not recognized", never an error. An error (-1) is only a failure to read. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "disk/detect.h"
#include "disk/nbd.h"
#include "util/util.h"

/* ---- limits ---- */

#define DEV_CHUNK      65536U      /* unit of reading and caching */
#define DEV_SLOTS      32U         /* cached chunks: 2 MiB */
#define MAX_VOLUMES    64U         /* partitions probed */
#define MAX_LOGICAL    64U         /* extended boot records followed */
#define GPT_MAX_TABLE  (1U << 20)  /* bytes of GPT entries */
#define PROBE_HEAD     4096U       /* bytes read from the start of each volume */
#define EXT_MAX_INODE  1024U       /* bytes of an inode kept (larger inodes are cut) */
#define EXT_MAX_FILE   (1U << 20)  /* os-release, cloud.cfg: larger is not believed */
#define EXT_MAX_DIR    (4U << 20)  /* bytes of one directory */
#define EXT_MAX_WORK   (64U << 20) /* bytes of files, directories and trees read in all */
#define EXT_MAX_DEPTH  5           /* extent tree depth (the kernel's limit) */
#define EXT_MAX_LINKS  8           /* symlinks followed in one lookup */
#define EXT_MAX_STEPS  64          /* directories searched in one lookup */
#define EXT_MAX_PATH   4096U
#define CLOUD_MAX_CFGS 64U  /* cloud.cfg.d files read */
#define OS_MAX_VALUE   256U /* bytes of an os-release value kept */
#define FORMAT_MAX     32U

/* ---- little-endian fields ---- */

static uint16_t le16(const uint8_t *p)
{
        return (uint16_t) (p[0] | (p[1] << 8));
}

static uint32_t le32(const uint8_t *p)
{
        return (uint32_t) le16(p) | ((uint32_t) le16(p + 2) << 16);
}

static uint64_t le64(const uint8_t *p)
{
        return (uint64_t) le32(p) | ((uint64_t) le32(p + 4) << 32);
}

/* ======================================================================================== */
/* ---- device: the guest-visible bytes, cached in chunks ---- */

typedef struct detect_dev {
        int fd;        /* raw */
        disk_nbd *nbd; /* any other format */
        uint64_t size;
        uint8_t *cache;          /* DEV_SLOTS chunks */
        uint64_t tag[DEV_SLOTS]; /* chunk number + 1; 0 for an empty slot */
        unsigned next;           /* slot to reuse next (round robin) */
        unsigned fetched;        /* chunks read from the backend */
        uint64_t work_left;      /* bytes the ext reader may still read (EXT_MAX_WORK): a
                                  * hostile disk can make lookups go over the same big
                                  * directory again and again, in many partitions */
} detect_dev;

static detect_dev *dev_free(detect_dev *d)
{
        if (!d)
                return NULL;
        if (d->fd >= 0)
                close(d->fd);
        disk_nbd_close(d->nbd);
        free(d->cache);
        free(d);
        return NULL;
}

KILN_DEFINE_AUTOPTR(detect_dev, dev_free)

static int dev_open_raw(detect_dev *d, const char *path, kiln_error **err)
{
        off_t end;

        d->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (d->fd < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot read the disk '%s'",
                                            path);
        end = lseek(d->fd, 0, SEEK_END);
        if (end < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO,
                                            "cannot find the size of the disk '%s'", path);
        d->size = (uint64_t) end;
        return 0;
}

static detect_dev *dev_open(const char *path, const char *format, kiln_error **err)
{
        kiln_autoptr(detect_dev) d = kiln_xcalloc(1, sizeof(*d));

        d->fd = -1;
        if (strcmp(format, "raw") == 0) {
                if (dev_open_raw(d, path, err) < 0)
                        return NULL;
        } else {
                d->nbd = disk_nbd_open(path, format, err);
                if (!d->nbd)
                        return NULL;
                d->size = disk_nbd_size(d->nbd);
        }
        d->cache = kiln_xmalloc((size_t) DEV_SLOTS * DEV_CHUNK);
        d->work_left = EXT_MAX_WORK;
        return kiln_steal(&d);
}

static int dev_backend_read(detect_dev *d, uint64_t off, uint8_t *buf, size_t len, kiln_error **err)
{
        if (d->nbd)
                return disk_nbd_read(d->nbd, off, buf, len, err);
        while (len) {
                ssize_t n = pread(d->fd, buf, len, (off_t) off);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return kiln_error_set_errno(err, errno, KILN_E_IO,
                                                    "cannot read the disk at offset %llu",
                                                    (unsigned long long) off);
                if (n == 0) { /* the file shrank under us: the rest reads as zeros */
                        memset(buf, 0, len);
                        return 0;
                }
                buf += n;
                len -= (size_t) n;
                off += (uint64_t) n;
        }
        return 0;
}

/* The cached chunk number idx (its length in *ret_len, short at the end of the disk). */
static const uint8_t *dev_chunk(detect_dev *d, uint64_t idx, size_t *ret_len, kiln_error **err)
{
        uint64_t off = idx * DEV_CHUNK;
        size_t len = d->size - off < DEV_CHUNK ? (size_t) (d->size - off) : DEV_CHUNK;
        uint8_t *slot;

        *ret_len = len;
        for (unsigned i = 0; i < DEV_SLOTS; i++)
                if (d->tag[i] == idx + 1)
                        return d->cache + (size_t) i * DEV_CHUNK;
        slot = d->cache + (size_t) d->next * DEV_CHUNK;
        d->tag[d->next] = 0;
        if (dev_backend_read(d, off, slot, len, err) < 0)
                return NULL;
        d->tag[d->next] = idx + 1;
        d->next = (d->next + 1) % DEV_SLOTS;
        d->fetched++;
        return slot;
}

/* 1 with the bytes in buf, 0 if the range is not on the disk, -1 if reading failed. */
static int dev_read(detect_dev *d, uint64_t off, void *buf, size_t len, kiln_error **err)
{
        uint8_t *out = buf;

        if (off > d->size || len > d->size - off)
                return 0;
        while (len) {
                size_t clen, in = (size_t) (off % DEV_CHUNK), take;
                const uint8_t *c = dev_chunk(d, off / DEV_CHUNK, &clen, err);

                if (!c)
                        return -1;
                take = clen - in < len ? clen - in : len;
                memcpy(out, c + in, take);
                out += take;
                len -= take;
                off += take;
        }
        return 1;
}

/* ---- volumes: a byte range of the device (a partition, or the whole disk) ---- */

typedef struct vol {
        uint64_t off, size;
} vol;

typedef struct vol_list {
        vol v[MAX_VOLUMES];
        size_t n;
} vol_list;

/* As dev_read, within the volume. */
static int vol_read(detect_dev *d, const vol *v, uint64_t off, void *buf, size_t len,
                    kiln_error **err)
{
        if (off > v->size || len > v->size - off)
                return 0;
        return dev_read(d, v->off + off, buf, len, err);
}

/* Adds the volume if it starts on the disk, cut at the disk's end (a truncated image). */
static void vols_add(const detect_dev *d, vol_list *vs, uint64_t off, uint64_t size)
{
        if (size == 0 || off >= d->size || vs->n == MAX_VOLUMES)
                return;
        if (size > d->size - off)
                size = d->size - off;
        vs->v[vs->n].off = off;
        vs->v[vs->n].size = size;
        vs->n++;
}

/* ======================================================================================== */
/* ---- partition tables ---- */

static uint32_t crc32_ieee(const uint8_t *p, size_t len)
{
        uint32_t crc = 0xffffffffU;

        for (size_t i = 0; i < len; i++) {
                crc ^= p[i];
                for (int k = 0; k < 8; k++)
                        crc = (crc >> 1) ^ (0xedb88320U & (0U - (crc & 1U)));
        }
        return ~crc;
}

/* The GPT whose header is at LBA hdr_lba, for sectors of lba bytes: 1 if valid, 0 if not. */
static int part_gpt_at(detect_dev *d, vol_list *vs, uint32_t lba, uint64_t hdr_lba,
                       kiln_error **err)
{
        kiln_autofree uint8_t *h = kiln_xmalloc(lba);
        kiln_autofree uint8_t *table = NULL;
        uint32_t hsize, crc, n, esize;
        uint64_t table_lba, sectors = d->size / lba;
        int r;

        if (hdr_lba >= sectors)
                return 0;
        r = dev_read(d, hdr_lba * lba, h, lba, err);
        if (r <= 0)
                return r;
        if (memcmp(h, "EFI PART", 8) != 0)
                return 0;
        hsize = le32(h + 12);
        if (hsize < 92 || hsize > lba)
                return 0;
        crc = le32(h + 16);
        memset(h + 16, 0, 4);
        if (crc32_ieee(h, hsize) != crc)
                return 0;
        table_lba = le64(h + 72);
        n = le32(h + 80);
        esize = le32(h + 84);
        if (esize < 128 || esize % 8 || n == 0 || n > GPT_MAX_TABLE / esize || table_lba >= sectors)
                return 0;
        table = kiln_xmalloc((size_t) n * esize);
        r = dev_read(d, table_lba * lba, table, (size_t) n * esize, err);
        if (r <= 0)
                return r;
        if (crc32_ieee(table, (size_t) n * esize) != le32(h + 88))
                return 0;
        for (uint32_t i = 0; i < n; i++) {
                static const uint8_t unused[16];
                const uint8_t *e = table + (size_t) i * esize;
                uint64_t first = le64(e + 32), last = le64(e + 40);

                if (memcmp(e, unused, 16) == 0 || first > last || last >= sectors)
                        continue;
                vols_add(d, vs, first * lba, (last - first + 1) * lba);
        }
        return 1;
}

/* 1 if a valid GPT was found (its partitions added), 0 if none. */
static int part_gpt(detect_dev *d, vol_list *vs, kiln_error **err)
{
        static const uint32_t sizes[] = {512, 4096};

        for (size_t i = 0; i < KILN_ARRAY_SIZE(sizes); i++) {
                int r = part_gpt_at(d, vs, sizes[i], 1, err);

                if (r == 0 && d->size / sizes[i] > 2)
                        r = part_gpt_at(d, vs, sizes[i], d->size / sizes[i] - 1, err);
                if (r != 0)
                        return r;
        }
        return 0;
}

static bool mbr_is_extended(uint8_t type)
{
        return type == 0x05 || type == 0x0f || type == 0x85;
}

/* The logical partitions: a chain of extended boot records, each naming one partition
 * (relative to itself) and the next record (relative to the extended partition). */
static int part_ebr(detect_dev *d, vol_list *vs, uint64_t ext_lba, kiln_error **err)
{
        uint8_t s[512];
        uint64_t ebr = ext_lba;

        for (unsigned i = 0; i < MAX_LOGICAL; i++) {
                const uint8_t *e0 = s + 446, *e1 = s + 462;
                int r = dev_read(d, ebr * 512, s, sizeof(s), err);

                if (r <= 0)
                        return r;
                if (s[510] != 0x55 || s[511] != 0xaa)
                        return 0;
                if (e0[4] && le32(e0 + 12))
                        vols_add(d, vs, (ebr + le32(e0 + 8)) * 512, (uint64_t) le32(e0 + 12) * 512);
                if (!mbr_is_extended(e1[4]) || le32(e1 + 8) == 0)
                        return 1;
                ebr = ext_lba + le32(e1 + 8);
        }
        return 1;
}

/* 1 if sector 0 is an MBR (its partitions added; a protective 0xee entry is skipped), 0 if
 * not: a boot sector of a file system (NTFS, FAT) has boot code where the table would be. */
static int part_mbr(detect_dev *d, vol_list *vs, kiln_error **err)
{
        uint8_t s[512];
        int r = dev_read(d, 0, s, sizeof(s), err);

        if (r <= 0)
                return r;
        if (s[510] != 0x55 || s[511] != 0xaa)
                return 0;
        for (size_t i = 0; i < 4; i++)
                if (s[446 + 16 * i] != 0x00 && s[446 + 16 * i] != 0x80)
                        return 0;
        for (size_t i = 0; i < 4; i++) {
                const uint8_t *e = s + 446 + 16 * i;
                uint64_t start = le32(e + 8), count = le32(e + 12);

                if (e[4] == 0 || e[4] == 0xee || count == 0)
                        continue;
                if (mbr_is_extended(e[4])) {
                        r = part_ebr(d, vs, start, err);
                        if (r < 0)
                                return r;
                        continue;
                }
                vols_add(d, vs, start * 512, count * 512);
        }
        return 1;
}

/* ======================================================================================== */
/* ---- ext2/3/4 ---- */

#define EXT_MAGIC             0xef53
#define EXT_ROOT_INO          2
#define EXT_COMPAT_SPARSE     0x0001U /* ro_compat: sparse_super */
#define EXT_INCOMPAT_META_BG  0x0010U
#define EXT_INCOMPAT_64BIT    0x0080U
#define EXT_INCOMPAT_LARGEDIR 0x4000U
#define EXT_FL_EXTENTS        0x00080000U
#define EXT_FL_INLINE_DATA    0x10000000U
#define EXT_EXTENT_MAGIC      0xf30a
#define EXT_S_IFMT            0xf000
#define EXT_S_IFDIR           0x4000
#define EXT_S_IFREG           0x8000
#define EXT_S_IFLNK           0xa000
#define EXT_I_BLOCK           0x28 /* i_block: 60 bytes of block map, extent root or data */
#define EXT_I_BLOCK_LEN       60

typedef struct ext_fs {
        detect_dev *d;
        vol v;
        uint32_t bs;
        uint64_t blocks;
        uint64_t groups;
        uint32_t first_data_block;
        uint32_t blocks_per_group;
        uint32_t inodes_per_group;
        uint32_t inodes_count;
        uint32_t inode_size;
        uint32_t desc_size;
        uint32_t incompat, ro_compat;
        uint32_t first_meta_bg;
        uint64_t nodes_left; /* extent-tree or indirect blocks left for the file being mapped */
} ext_fs;

typedef struct ext_inode {
        uint32_t ino;
        uint16_t mode;
        uint32_t flags;
        uint64_t size;
        size_t raw_len;
        uint8_t raw[EXT_MAX_INODE];
} ext_inode;

/* 1 and *fs filled if the volume holds an ext2/3/4 file system this code can read. */
static int ext_open(detect_dev *d, const vol *v, ext_fs *fs, kiln_error **err)
{
        uint8_t sb[1024];
        uint32_t log_bs, rev;
        int r = vol_read(d, v, 1024, sb, sizeof(sb), err);

        if (r <= 0)
                return r;
        if (le16(sb + 0x38) != EXT_MAGIC)
                return 0;
        memset(fs, 0, sizeof(*fs));
        fs->d = d;
        fs->v = *v;
        log_bs = le32(sb + 0x18);
        if (log_bs > 6)
                return 0;
        fs->bs = 1024U << log_bs;
        fs->incompat = le32(sb + 0x60);
        fs->ro_compat = le32(sb + 0x64);
        fs->blocks = le32(sb + 0x04);
        if (fs->incompat & EXT_INCOMPAT_64BIT)
                fs->blocks |= (uint64_t) le32(sb + 0x150) << 32;
        fs->first_data_block = le32(sb + 0x14);
        fs->blocks_per_group = le32(sb + 0x20);
        fs->inodes_per_group = le32(sb + 0x28);
        fs->inodes_count = le32(sb + 0x00);
        fs->first_meta_bg = le32(sb + 0x104);
        /* at most 2^60 bytes (so that block * size never overflows) and 2^32 groups */
        if (fs->blocks > (UINT64_C(1) << 60) / fs->bs || fs->first_data_block >= fs->blocks ||
            fs->blocks_per_group == 0 || fs->inodes_per_group == 0 ||
            fs->inodes_per_group > fs->bs * 8)
                return 0;
        rev = le32(sb + 0x4c);
        fs->inode_size = rev == 0 ? 128 : le16(sb + 0x58);
        if (fs->inode_size < 128 || fs->inode_size > fs->bs ||
            (fs->inode_size & (fs->inode_size - 1)))
                return 0;
        fs->desc_size = 32;
        if (fs->incompat & EXT_INCOMPAT_64BIT) {
                fs->desc_size = le16(sb + 0xfe);
                if (fs->desc_size < 64 || fs->desc_size > 1024 ||
                    (fs->desc_size & (fs->desc_size - 1)))
                        return 0;
        }
        fs->groups = (fs->blocks - fs->first_data_block + fs->blocks_per_group - 1) /
                     fs->blocks_per_group;
        if (fs->groups > UINT32_MAX || fs->inodes_count == 0 ||
            fs->inodes_count > fs->groups * fs->inodes_per_group)
                return 0;
        return 1;
}

/* Takes bytes from the work budget; false once it is spent. */
static bool ext_charge(ext_fs *fs, uint64_t bytes)
{
        if (bytes > fs->d->work_left)
                return false;
        fs->d->work_left -= bytes;
        return true;
}

static bool ext_power_of(uint64_t g, uint64_t base)
{
        uint64_t p = base;

        while (p < g)
                p *= base;
        return p == g;
}

/* Whether group g holds a copy of the superblock (and so of the descriptors). */
static bool ext_has_super(const ext_fs *fs, uint64_t g)
{
        if (g <= 1 || !(fs->ro_compat & EXT_COMPAT_SPARSE))
                return true;
        return ext_power_of(g, 3) || ext_power_of(g, 5) || ext_power_of(g, 7);
}

/* The first block of the inode table of a group. */
static int ext_inode_table(ext_fs *fs, uint64_t group, uint64_t *ret, kiln_error **err)
{
        const uint32_t per_block = fs->bs / fs->desc_size;
        const uint64_t meta = group / per_block;
        uint8_t desc[64];
        uint64_t blk, table;
        int r;

        if (group >= fs->groups)
                return 0;
        if ((fs->incompat & EXT_INCOMPAT_META_BG) && meta >= fs->first_meta_bg) {
                uint64_t g0 = meta * per_block;

                blk = fs->first_data_block + g0 * fs->blocks_per_group +
                      (ext_has_super(fs, g0) ? 1 : 0);
        } else {
                blk = fs->first_data_block + 1 + meta;
        }
        if (blk >= fs->blocks)
                return 0;
        r = vol_read(fs->d, &fs->v, blk * fs->bs + (group % per_block) * fs->desc_size, desc,
                     fs->desc_size < sizeof(desc) ? fs->desc_size : sizeof(desc), err);
        if (r <= 0)
                return r;
        table = le32(desc + 0x08);
        if (fs->desc_size >= 64)
                table |= (uint64_t) le32(desc + 0x28) << 32;
        if (table == 0 || table >= fs->blocks)
                return 0;
        *ret = table;
        return 1;
}

static int ext_inode_read(ext_fs *fs, uint32_t ino, ext_inode *ret, kiln_error **err)
{
        uint64_t table, index, off;
        int r;

        if (ino == 0 || ino > fs->inodes_count)
                return 0;
        r = ext_inode_table(fs, (ino - 1) / fs->inodes_per_group, &table, err);
        if (r <= 0)
                return r;
        index = (ino - 1) % fs->inodes_per_group;
        off = table * fs->bs + index * fs->inode_size;
        if (off / fs->bs >= fs->blocks)
                return 0;
        ret->ino = ino;
        ret->raw_len = fs->inode_size < EXT_MAX_INODE ? fs->inode_size : EXT_MAX_INODE;
        r = vol_read(fs->d, &fs->v, off, ret->raw, ret->raw_len, err);
        if (r <= 0)
                return r;
        if (le16(ret->raw + 0x1a) == 0) /* no links: a deleted inode */
                return 0;
        ret->mode = le16(ret->raw);
        ret->flags = le32(ret->raw + 0x20);
        ret->size = le32(ret->raw + 0x04);
        if ((ret->mode & EXT_S_IFMT) == EXT_S_IFREG || (fs->incompat & EXT_INCOMPAT_LARGEDIR))
                ret->size |= (uint64_t) le32(ret->raw + 0x6c) << 32;
        return 1;
}

static bool ext_is(const ext_inode *in, uint16_t type)
{
        return (in->mode & EXT_S_IFMT) == type;
}

/* Fills map[lblk] for the logical blocks below n that one extent-tree node reaches.
 * want_depth is the depth the parent promised, or -1 for the root in the inode. */
static int ext_extent_node(ext_fs *fs, const uint8_t *node, size_t len, int want_depth,
                           uint64_t *map, uint64_t n, kiln_error **err)
{
        uint16_t entries, max, depth;

        if (len < 12 || le16(node) != EXT_EXTENT_MAGIC)
                return 0;
        entries = le16(node + 2);
        max = le16(node + 4);
        depth = le16(node + 6);
        if (entries > max || 12 + (size_t) max * 12 > len)
                return 0;
        if (want_depth >= 0 ? depth != want_depth : depth > EXT_MAX_DEPTH)
                return 0;
        for (uint16_t i = 0; i < entries; i++) {
                const uint8_t *e = node + 12 + (size_t) i * 12;
                uint64_t lblk = le32(e);

                if (lblk >= n)
                        break; /* entries are sorted */
                if (depth == 0) {
                        uint32_t count = le16(e + 4);
                        uint64_t start = ((uint64_t) le16(e + 6) << 32) | le32(e + 8);
                        bool unwritten = count > 32768;

                        if (unwritten)
                                count -= 32768;
                        if (start >= fs->blocks || count > fs->blocks - start)
                                return 0;
                        if (unwritten) /* reads as zeros: leave the hole */
                                continue;
                        for (uint64_t j = 0; j < count && lblk + j < n; j++)
                                map[lblk + j] = start + j;
                } else {
                        uint64_t child = ((uint64_t) le16(e + 8) << 32) | le32(e + 4);
                        kiln_autofree uint8_t *blk = NULL;
                        int r;

                        if (child == 0 || child >= fs->blocks || fs->nodes_left == 0 ||
                            !ext_charge(fs, fs->bs))
                                return 0;
                        fs->nodes_left--;
                        blk = kiln_xmalloc(fs->bs);
                        r = vol_read(fs->d, &fs->v, child * fs->bs, blk, fs->bs, err);
                        if (r > 0)
                                r = ext_extent_node(fs, blk, fs->bs, depth - 1, map, n, err);
                        if (r <= 0)
                                return r;
                }
        }
        return 1;
}

/* The old block map: blk holds pointers, to data (level 1) or to blocks of pointers. */
static int ext_indirect(ext_fs *fs, uint64_t blk, int level, uint64_t base, uint64_t *map,
                        uint64_t n, kiln_error **err)
{
        const uint32_t per = fs->bs / 4;
        kiln_autofree uint8_t *buf = NULL;
        uint64_t span = 1;
        int r;

        if (blk == 0)
                return 1; /* a hole */
        if (blk >= fs->blocks || fs->nodes_left == 0 || !ext_charge(fs, fs->bs))
                return 0;
        fs->nodes_left--;
        for (int l = 1; l < level; l++)
                span *= per;
        buf = kiln_xmalloc(fs->bs);
        r = vol_read(fs->d, &fs->v, blk * fs->bs, buf, fs->bs, err);
        if (r <= 0)
                return r;
        for (uint32_t i = 0; i < per && base + i * span < n; i++) {
                uint32_t p = le32(buf + (size_t) i * 4);

                if (level == 1) {
                        if (p >= fs->blocks)
                                return 0;
                        map[base + i] = p;
                } else {
                        r = ext_indirect(fs, p, level - 1, base + i * span, map, n, err);
                        if (r <= 0)
                                return r;
                }
        }
        return 1;
}

/* map[i] = the block holding logical block i of the file, for i < n; 0 for a hole. */
static int ext_map(ext_fs *fs, const ext_inode *in, uint64_t *map, uint64_t n, kiln_error **err)
{
        const uint8_t *ib = in->raw + EXT_I_BLOCK;
        const uint64_t per = fs->bs / 4;
        uint64_t base = 12;

        /* Enough for any real file: even with one-block extents a leaf maps 84 blocks (1 KiB
         * blocks) and an indirect block 256. */
        fs->nodes_left = 16 + n / 16;
        if (in->flags & EXT_FL_EXTENTS)
                return ext_extent_node(fs, ib, EXT_I_BLOCK_LEN, -1, map, n, err);
        for (uint64_t i = 0; i < 12 && i < n; i++) {
                map[i] = le32(ib + i * 4);
                if (map[i] >= fs->blocks)
                        return 0;
        }
        for (int level = 1; level <= 3 && base < n; level++) {
                uint64_t span = level == 1 ? per : level == 2 ? per * per : per * per * per;
                int r = ext_indirect(fs, le32(ib + (size_t) (11 + level) * 4), level, base, map, n,
                                     err);

                if (r <= 0)
                        return r;
                base += span;
        }
        return 1;
}

/* The value of the in-inode extended attribute "system.data" (inline data past the first 60
 * bytes), or NULL. */
static const uint8_t *ext_inline_xattr(const ext_inode *in, size_t *ret_len)
{
        const uint8_t *raw = in->raw;
        size_t first, p;
        uint32_t extra;

        if (in->raw_len < 0x84)
                return NULL;
        extra = le16(raw + 0x80);
        if (extra % 4 || 128 + (size_t) extra + 4 > in->raw_len)
                return NULL;
        if (le32(raw + 128 + extra) != 0xea020000U)
                return NULL;
        first = 128 + (size_t) extra + 4;
        for (p = first; p + 16 <= in->raw_len && le32(raw + p) != 0;) {
                size_t name_len = raw[p], off = le16(raw + p + 2), len = le32(raw + p + 8);

                if (p + 16 + name_len > in->raw_len)
                        return NULL;
                if (raw[p + 1] == 7 && name_len == 4 && memcmp(raw + p + 16, "data", 4) == 0 &&
                    le32(raw + p + 4) == 0) {
                        if (off > in->raw_len - first || len > in->raw_len - first - off)
                                return NULL;
                        *ret_len = len;
                        return raw + first + off;
                }
                p += (16 + name_len + 3) & ~(size_t) 3;
        }
        return NULL;
}

/* The content of a file or directory of at most max bytes (NUL-terminated); 0 if larger. */
static int ext_read(ext_fs *fs, const ext_inode *in, size_t max, char **ret, size_t *ret_len,
                    kiln_error **err)
{
        kiln_autofree char *buf = NULL;
        kiln_autofree uint64_t *map = NULL;
        size_t size, n;
        int r;

        if (in->size > max || !ext_charge(fs, in->size))
                return 0;
        size = (size_t) in->size;
        buf = kiln_xmalloc(size + 1);
        if (in->flags & EXT_FL_INLINE_DATA) {
                size_t head = size < EXT_I_BLOCK_LEN ? size : EXT_I_BLOCK_LEN, tail_len = 0;
                const uint8_t *tail = NULL;

                memcpy(buf, in->raw + EXT_I_BLOCK, head);
                if (size > head) {
                        tail = ext_inline_xattr(in, &tail_len);
                        if (!tail || tail_len < size - head)
                                return 0;
                        memcpy(buf + head, tail, size - head);
                }
        } else {
                n = (size + fs->bs - 1) / fs->bs;
                map = kiln_xcalloc(n ? n : 1, sizeof(*map));
                r = ext_map(fs, in, map, n, err);
                if (r <= 0)
                        return r;
                for (size_t i = 0; i < n;) {
                        size_t run = 1, off = i * fs->bs, want;

                        while (map[i] && i + run < n && map[i + run] == map[i] + run)
                                run++;
                        want = run * fs->bs < size - off ? run * fs->bs : size - off;
                        if (map[i] == 0) {
                                memset(buf + off, 0, want);
                        } else {
                                r = vol_read(fs->d, &fs->v, map[i] * fs->bs, buf + off, want, err);
                                if (r <= 0)
                                        return r;
                        }
                        i += run;
                }
        }
        buf[size] = '\0';
        *ret_len = size;
        *ret = kiln_steal(&buf);
        return 1;
}

/* Called for each entry of a directory; returns true to stop. */
typedef bool (*ext_dirent_fn)(const char *name, size_t len, uint32_t ino, void *userdata);

static uint32_t ext_rec_len(const ext_fs *fs, uint16_t v)
{
        if (fs->bs < 65536)
                return v;
        if (v == 65535 || v == 0)
                return fs->bs;
        return (v & 65532U) | ((uint32_t) (v & 3) << 16);
}

/* Entries in one block of a directory; a damaged entry ends the block. */
static bool ext_dir_block(const ext_fs *fs, const uint8_t *p, size_t len, ext_dirent_fn fn,
                          void *userdata)
{
        size_t pos = 0;

        while (pos + 8 <= len) {
                const uint8_t *e = p + pos;
                uint32_t ino = le32(e), rec = ext_rec_len(fs, le16(e + 4));
                uint8_t name_len = e[6];

                if (rec < 8 || rec % 4 || rec > len - pos || 8U + name_len > rec)
                        return false;
                if (ino && name_len && fn((const char *) e + 8, name_len, ino, userdata))
                        return true;
                pos += rec;
        }
        return false;
}

/* Calls fn for each entry of the directory, linearly: an htree directory keeps its index in
 * entries of inode 0 (skipped), and its leaves are ordinary blocks. */
static int ext_dir_foreach(ext_fs *fs, const ext_inode *dir, ext_dirent_fn fn, void *userdata,
                           kiln_error **err)
{
        kiln_autofree char *data = NULL;
        const uint8_t *p;
        size_t len;
        int r;

        if (!ext_is(dir, EXT_S_IFDIR))
                return 0;
        r = ext_read(fs, dir, EXT_MAX_DIR, &data, &len, err);
        if (r <= 0)
                return r;
        p = (const uint8_t *) data;
        if (dir->flags & EXT_FL_INLINE_DATA) {
                /* The parent's inode number, then entries in the rest of i_block and in the
                 * extended attribute. */
                size_t head = len < EXT_I_BLOCK_LEN ? len : EXT_I_BLOCK_LEN;

                if (len < 4)
                        return 0;
                if (fn("..", 2, le32(p), userdata) ||
                    ext_dir_block(fs, p + 4, head - 4, fn, userdata))
                        return 1;
                ext_dir_block(fs, p + head, len - head, fn, userdata);
                return 1;
        }
        for (size_t off = 0; off < len; off += fs->bs) {
                size_t n = len - off < fs->bs ? len - off : fs->bs;

                if (ext_dir_block(fs, p + off, n, fn, userdata))
                        break;
        }
        return 1;
}

struct ext_lookup {
        const char *name;
        size_t len;
        uint32_t ino;
};

static bool ext_lookup_fn(const char *name, size_t len, uint32_t ino, void *userdata)
{
        struct ext_lookup *l = userdata;

        if (len != l->len || memcmp(name, l->name, len) != 0)
                return false;
        l->ino = ino;
        return true;
}

/* The target of a symlink (NUL-free, shorter than EXT_MAX_PATH). A fast symlink keeps it in
 * i_block: no extents, no inline data, shorter than 60 bytes and no data blocks. */
static int ext_link_target(ext_fs *fs, const ext_inode *in, char **ret, kiln_error **err)
{
        uint32_t blocks512 = le32(in->raw + 0x1c), acl = le32(in->raw + 0x68);
        uint32_t data512 = blocks512 - (acl && blocks512 >= fs->bs / 512 ? fs->bs / 512 : 0);
        kiln_autofree char *t = NULL;
        size_t len;
        int r;

        if (in->size == 0 || in->size >= EXT_MAX_PATH)
                return 0;
        if (!(in->flags & (EXT_FL_EXTENTS | EXT_FL_INLINE_DATA)) && in->size < EXT_I_BLOCK_LEN &&
            data512 == 0) {
                len = (size_t) in->size;
                t = kiln_xstrndup((const char *) in->raw + EXT_I_BLOCK, len);
        } else {
                r = ext_read(fs, in, EXT_MAX_PATH, &t, &len, err);
                if (r <= 0)
                        return r;
        }
        if (strlen(t) != len)
                return 0;
        *ret = kiln_steal(&t);
        return 1;
}

/* The inode at path, starting from directory start for a relative path, following symlinks
 * (at most EXT_MAX_LINKS); the final component too. */
static int ext_resolve(ext_fs *fs, uint32_t start, const char *path, ext_inode *ret,
                       kiln_error **err)
{
        kiln_autofree char *todo = kiln_xstrdup(path);
        uint32_t cur = path[0] == '/' ? EXT_ROOT_INO : start;
        int links = 0, steps = 0, r;
        size_t pos = 0;

        r = ext_inode_read(fs, cur, ret, err);
        if (r <= 0)
                return r;
        for (;;) {
                struct ext_lookup l = {0};
                size_t end;

                while (todo[pos] == '/')
                        pos++;
                if (!todo[pos])
                        return 1; /* *ret holds cur */
                for (end = pos; todo[end] && todo[end] != '/'; end++)
                        ;
                l.name = todo + pos;
                l.len = end - pos;
                pos = end;
                if (l.len == 1 && l.name[0] == '.')
                        continue;
                if (!ext_is(ret, EXT_S_IFDIR) || ++steps > EXT_MAX_STEPS)
                        return 0;
                r = ext_dir_foreach(fs, ret, ext_lookup_fn, &l, err);
                if (r <= 0)
                        return r;
                if (!l.ino)
                        return 0;
                r = ext_inode_read(fs, l.ino, ret, err);
                if (r <= 0)
                        return r;
                if (ext_is(ret, EXT_S_IFLNK)) {
                        kiln_autofree char *target = NULL;
                        char *next;

                        if (++links > EXT_MAX_LINKS)
                                return 0;
                        r = ext_link_target(fs, ret, &target, err);
                        if (r <= 0)
                                return r;
                        if (strlen(target) + strlen(todo + pos) + 2 > EXT_MAX_PATH)
                                return 0;
                        next = kiln_xasprintf("%s/%s", target, todo + pos);
                        free(todo);
                        todo = next;
                        pos = 0;
                        if (target[0] == '/')
                                cur = EXT_ROOT_INO;
                        r = ext_inode_read(fs, cur, ret, err);
                        if (r <= 0)
                                return r;
                        continue;
                }
                cur = l.ino;
        }
}

/* The content of a regular file at path (at most EXT_MAX_FILE bytes). */
static int ext_read_path(ext_fs *fs, uint32_t start, const char *path, char **ret, size_t *ret_len,
                         kiln_error **err)
{
        ext_inode *in = kiln_xmalloc(sizeof(*in));
        int r = ext_resolve(fs, start, path, in, err);

        if (r > 0)
                r = ext_is(in, EXT_S_IFREG) ? ext_read(fs, in, EXT_MAX_FILE, ret, ret_len, err) : 0;
        free(in);
        return r;
}

/* ======================================================================================== */
/* ---- os-release ---- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
        size_t len;
        unsigned char lo = 0x80, hi = 0xbf;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                len = 2;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                len = 3;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                len = 4;
        else
                return 0;
        if (len > n)
                return 0;
        if (s[0] == 0xe0)
                lo = 0xa0;
        else if (s[0] == 0xed)
                hi = 0x9f;
        else if (s[0] == 0xf0)
                lo = 0x90;
        else if (s[0] == 0xf4)
                hi = 0x8f;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return len;
}

/* A value fit for the registry and JSON: valid UTF-8 without control characters (others are
 * dropped), at most OS_MAX_VALUE bytes; NULL if nothing is left. */
static char *os_clean(const char *s, size_t n)
{
        kiln_buf b = {0};

        for (size_t i = 0; i < n && b.len < OS_MAX_VALUE;) {
                const unsigned char *c = (const unsigned char *) s + i;
                size_t len = utf8_seq(c, n - i);

                if (len == 0 || c[0] < 0x20 || c[0] == 0x7f) {
                        i++;
                        continue;
                }
                if (b.len + len <= OS_MAX_VALUE)
                        kiln_buf_append(&b, c, len);
                i += len;
        }
        if (!b.len) {
                kiln_buf_clear(&b);
                return NULL;
        }
        return kiln_buf_steal(&b);
}

/* One os-release value, shell-quoted as os-release(5) allows: "..." with \ escapes, '...',
 * or bare; it ends at the end of the line (or unquoted white space). */
static char *os_value(const char *p, const char *eol)
{
        kiln_buf b = {0};
        char quote = 0;
        char *v;

        while (p < eol) {
                char c = *p++;

                if (quote && c == quote) {
                        quote = 0;
                } else if (!quote && (c == '"' || c == '\'')) {
                        quote = c;
                } else if (quote != '\'' && c == '\\' && p < eol) {
                        c = *p++;
                        kiln_buf_append(&b, &c, 1);
                } else if (!quote && (c == ' ' || c == '\t' || c == '#')) {
                        break;
                } else {
                        kiln_buf_append(&b, &c, 1);
                }
        }
        v = os_clean(b.data ? b.data : "", b.len);
        kiln_buf_clear(&b);
        return v;
}

/* ID, VERSION_ID and PRETTY_NAME of an os-release file; the last assignment wins. */
static void os_release_parse(const char *data, size_t len, disk_os *os)
{
        const char *p = data, *end = data + len;

        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t) (end - p));
                const char *eq;
                char **field = NULL;

                if (!eol)
                        eol = end;
                while (p < eol && (*p == ' ' || *p == '\t'))
                        p++;
                eq = memchr(p, '=', (size_t) (eol - p));
                if (eq && eq - p == 2 && memcmp(p, "ID", 2) == 0)
                        field = &os->distribution;
                else if (eq && eq - p == 10 && memcmp(p, "VERSION_ID", 10) == 0)
                        field = &os->version;
                else if (eq && eq - p == 11 && memcmp(p, "PRETTY_NAME", 11) == 0)
                        field = &os->pretty_name;
                if (field) {
                        free(*field);
                        *field = os_value(eq + 1, eol);
                }
                p = eol + 1;
        }
}

/* ---- cloud-init's default user ---- */

static yaml_node_t *yaml_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
        if (!map || map->type != YAML_MAPPING_NODE)
                return NULL;
        for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
             pr++) {
                yaml_node_t *k = yaml_document_get_node(doc, pr->key);

                if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(key) &&
                    memcmp(k->data.scalar.value, key, strlen(key)) == 0)
                        return yaml_document_get_node(doc, pr->value);
        }
        return NULL;
}

/* A user name as useradd takes it, or NULL. */
static char *cloud_user_name(const yaml_node_t *n)
{
        const unsigned char *s;
        size_t len;

        if (!n || n->type != YAML_SCALAR_NODE)
                return NULL;
        s = n->data.scalar.value;
        len = n->data.scalar.length;
        if (len == 0 || len > 32 || !(s[0] == '_' || (s[0] >= 'a' && s[0] <= 'z')))
                return NULL;
        for (size_t i = 1; i < len; i++)
                if (!(s[i] == '_' || s[i] == '-' || (s[i] >= 'a' && s[i] <= 'z') ||
                      (s[i] >= '0' && s[i] <= '9') || (s[i] == '$' && i == len - 1)))
                        return NULL;
        return kiln_xstrndup((const char *) s, len);
}

/* What one cloud-init configuration file says of the default user: system_info.default_user
 * .name into *default_name, and the legacy top-level `user` (a name, or a mapping with one),
 * which cloud-init lets override it, into *user. Later files override earlier ones. */
static void cloud_cfg_parse(const char *data, size_t len, char **default_name, char **user)
{
        yaml_parser_t parser;
        yaml_document_t doc;
        yaml_node_t *root, *u;
        char *v;

        if (!yaml_parser_initialize(&parser))
                return;
        yaml_parser_set_input_string(&parser, (const unsigned char *) data, len);
        if (!yaml_parser_load(&parser, &doc)) {
                yaml_parser_delete(&parser);
                return;
        }
        root = yaml_document_get_root_node(&doc);
        v = cloud_user_name(yaml_get(
                &doc, yaml_get(&doc, yaml_get(&doc, root, "system_info"), "default_user"), "name"));
        if (v) {
                free(*default_name);
                *default_name = v;
        }
        u = yaml_get(&doc, root, "user");
        v = cloud_user_name(u && u->type == YAML_MAPPING_NODE ? yaml_get(&doc, u, "name") : u);
        if (v) {
                free(*user);
                *user = v;
        }
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
}

struct cfg_list {
        char **names;
        uint32_t *inos;
        size_t n;
};

static bool cfg_list_fn(const char *name, size_t len, uint32_t ino, void *userdata)
{
        struct cfg_list *l = userdata;

        /* cloud-init takes glob("*.cfg"): no hidden files. */
        if (len <= 4 || name[0] == '.' || memcmp(name + len - 4, ".cfg", 4) != 0)
                return false;
        if (l->n == CLOUD_MAX_CFGS)
                return true;
        l->names = kiln_xrealloc(l->names, (l->n + 1) * sizeof(*l->names));
        l->inos = kiln_xrealloc(l->inos, (l->n + 1) * sizeof(*l->inos));
        l->names[l->n] = kiln_xstrndup(name, len);
        l->inos[l->n] = ino;
        l->n++;
        return false;
}

static void cfg_list_clear(struct cfg_list *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->names[i]);
        free(l->names);
        free(l->inos);
        memset(l, 0, sizeof(*l));
}

/* Sorts names (and their inodes) as glob does in the C locale. */
static void cfg_list_sort(struct cfg_list *l)
{
        for (size_t i = 1; i < l->n; i++)
                for (size_t j = i; j > 0 && strcmp(l->names[j - 1], l->names[j]) > 0; j--) {
                        char *s = l->names[j];
                        uint32_t ino = l->inos[j];

                        l->names[j] = l->names[j - 1];
                        l->inos[j] = l->inos[j - 1];
                        l->names[j - 1] = s;
                        l->inos[j - 1] = ino;
                }
}

/* cloud-init's default user: /etc/cloud/cloud.cfg, then cloud.cfg.d/\*.cfg in name order. */
static int cloud_default_user(ext_fs *fs, char **ret, kiln_error **err)
{
        kiln_autofree char *default_name = NULL, *user = NULL, *data = NULL;
        kiln_autofree ext_inode *dir = kiln_xmalloc(sizeof(*dir));
        struct cfg_list l = {0};
        size_t len;
        int r;

        r = ext_read_path(fs, EXT_ROOT_INO, "/etc/cloud/cloud.cfg", &data, &len, err);
        if (r < 0)
                return -1;
        if (r > 0)
                cloud_cfg_parse(data, len, &default_name, &user);
        r = ext_resolve(fs, EXT_ROOT_INO, "/etc/cloud/cloud.cfg.d", dir, err);
        if (r > 0)
                r = ext_dir_foreach(fs, dir, cfg_list_fn, &l, err);
        if (r < 0) {
                cfg_list_clear(&l);
                return -1;
        }
        cfg_list_sort(&l);
        for (size_t i = 0; i < l.n; i++) {
                kiln_autofree char *cfg = NULL;

                /* A symlink is resolved from cloud.cfg.d itself. */
                r = ext_read_path(fs, dir->ino, l.names[i], &cfg, &len, err);
                if (r < 0) {
                        cfg_list_clear(&l);
                        return -1;
                }
                if (r > 0)
                        cloud_cfg_parse(cfg, len, &default_name, &user);
        }
        cfg_list_clear(&l);
        *ret = user ? kiln_steal(&user) : kiln_steal(&default_name);
        return 0;
}

/* The user a distribution's published cloud images log in as. */
static const char *distro_cloud_user(const char *id)
{
        static const struct {
                const char *id, *user;
        } users[] = {
                {"debian", "debian"},   {"ubuntu", "ubuntu"}, {"centos", "cloud-user"},
                {"rhel", "cloud-user"}, {"fedora", "fedora"}, {"almalinux", "almalinux"},
                {"rocky", "rocky"},     {"amzn", "ec2-user"},
        };

        for (size_t i = 0; id && i < KILN_ARRAY_SIZE(users); i++)
                if (strcmp(id, users[i].id) == 0)
                        return users[i].user;
        return NULL;
}

/* 1 and os filled if this ext file system holds an os-release. */
static int ext_detect(ext_fs *fs, disk_os *os, kiln_error **err)
{
        static const char *const paths[] = {"/etc/os-release", "/usr/lib/os-release"};
        disk_os found = {0};
        int r = 0;

        for (size_t i = 0; i < KILN_ARRAY_SIZE(paths) && r == 0; i++) {
                kiln_autofree char *data = NULL;
                size_t len;

                r = ext_read_path(fs, EXT_ROOT_INO, paths[i], &data, &len, err);
                if (r > 0)
                        os_release_parse(data, len, &found);
        }
        if (r <= 0)
                return r;
        if (cloud_default_user(fs, &found.default_user, err) < 0) {
                disk_os_clear(&found);
                return -1;
        }
        if (!found.default_user && distro_cloud_user(found.distribution))
                found.default_user = kiln_xstrdup(distro_cloud_user(found.distribution));
        found.platform = kiln_xstrdup("linux");
        *os = found;
        return 1;
}

/* ======================================================================================== */
/* ---- the disk ---- */

typedef struct detect_state {
        bool windows;  /* an NTFS volume */
        bool linux_fs; /* a Linux file system, LVM or swap we do not read further */
} detect_state;

/* Recognizes one volume; 1 if it gave the OS (os filled). */
static int detect_volume(detect_dev *d, const vol *v, detect_state *st, disk_os *os,
                         kiln_error **err)
{
        kiln_autofree uint8_t *head = kiln_xcalloc(1, PROBE_HEAD);
        kiln_autofree ext_fs *fs = kiln_xmalloc(sizeof(*fs));
        uint8_t magic[8];
        size_t n = v->size < PROBE_HEAD ? (size_t) v->size : PROBE_HEAD;
        int r = vol_read(d, v, 0, head, n, err);

        if (r <= 0)
                return r;
        if (memcmp(head + 3, "NTFS    ", 8) == 0) {
                st->windows = true;
                return 0;
        }
        r = ext_open(d, v, fs, err);
        if (r < 0)
                return -1;
        if (r > 0) {
                st->linux_fs = true;
                return ext_detect(fs, os, err);
        }
        if (memcmp(head, "XFSB", 4) == 0 || memcmp(head + 512, "LABELONE", 8) == 0 ||
            memcmp(head + 4086, "SWAPSPACE2", 10) == 0) {
                st->linux_fs = true;
                return 0;
        }
        r = vol_read(d, v, 65536 + 64, magic, sizeof(magic), err);
        if (r < 0)
                return -1;
        if (r > 0 && memcmp(magic, "_BHRfS_M", 8) == 0)
                st->linux_fs = true;
        return 0;
}

/* The first os-release found wins; else an NTFS volume means Windows (a Windows disk may carry
 * a Linux file system as data more often than a Linux one NTFS); else a Linux file system we
 * cannot read (XFS, btrfs, LVM, an ext without os-release) means Linux, distribution unknown. */
static int detect_disk(detect_dev *d, disk_os *os, kiln_error **err)
{
        kiln_autofree vol_list *vs = kiln_xcalloc(1, sizeof(*vs));
        detect_state st = {0};
        int r = part_gpt(d, vs, err);

        if (r == 0)
                r = part_mbr(d, vs, err);
        if (r < 0)
                return -1;
        if (vs->n == 0)
                vols_add(d, vs, 0, d->size);
        for (size_t i = 0; i < vs->n; i++) {
                r = detect_volume(d, &vs->v[i], &st, os, err);
                if (r != 0)
                        return r < 0 ? -1 : 0;
        }
        if (st.windows) {
                os->platform = kiln_xstrdup("windows");
                os->default_user = kiln_xstrdup("Administrator");
        } else if (st.linux_fs) {
                os->platform = kiln_xstrdup("linux");
        }
        return 0;
}

void disk_os_clear(disk_os *os)
{
        free(os->platform);
        free(os->distribution);
        free(os->version);
        free(os->pretty_name);
        free(os->default_user);
        memset(os, 0, sizeof(*os));
}

static bool format_valid(const char *format)
{
        size_t n = strlen(format);

        if (n == 0 || n > FORMAT_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((format[i] >= 'a' && format[i] <= 'z') ||
                      (format[i] >= '0' && format[i] <= '9') || format[i] == '_' ||
                      format[i] == '-'))
                        return false;
        return true;
}

int disk_detect_os(const char *path, const char *format, disk_os *ret, kiln_error **err)
{
        kiln_autoptr(detect_dev) d = NULL;
        disk_os os = {0};

        if (!format_valid(format))
                return kiln_error_set(err, KILN_E_INVALID, NULL, "'%s' is not a disk format",
                                      format);
        d = dev_open(path, format, err);
        if (!d)
                return -1;
        if (detect_disk(d, &os, err) < 0) {
                disk_os_clear(&os);
                kiln_error_prefix(err, "cannot read the disk '%s'", path);
                return -1;
        }
        kiln_log(KILN_LOG_DEBUG, "detect: '%s': %s %s %s, user %s (%u chunks of %u KiB read)", path,
                 os.platform ? os.platform : "unknown", os.distribution ? os.distribution : "-",
                 os.version ? os.version : "-", os.default_user ? os.default_user : "-", d->fetched,
                 DEV_CHUNK / 1024);
        *ret = os;
        return 0;
}
