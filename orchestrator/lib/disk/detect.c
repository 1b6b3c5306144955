/* OS detection from a disk image's own bytes:
 *
 *   device      the guest-visible bytes: pread() for raw, qemu-nbd through libnbd (nbd.c) for
 *               everything else, behind a small cache of 64 KiB chunks, so reading costs a few
 *               round trips whatever the size of the disk;
 *   partitions  GPT (primary header, else the backup; CRC-checked), MBR with its chain of
 *               extended boot records, else the whole disk as one volume (from the format
 *               specifications: small, and fuzzed with the rest);
 *   probes      NTFS boot sector (Windows), ext2/3/4 (read), XFS, btrfs, LVM and swap
 *               (recognized as Linux, not read);
 *   ext         libext2fs, read-only, through an io_manager of ours whose reads go to the
 *               device at the partition's offset: the superblock, group descriptors, inodes,
 *               directories (linearly, also htree and inline ones), extents and block maps
 *               are its work; the walk along a path and the symlinks on it are ours (see
 *               ext_resolve), and so is reading inline data (ext_read_inline);
 *   os          /etc/os-release else /usr/lib/os-release; the default user from cloud-init's
 *               /etc/cloud/cloud.cfg and cloud.cfg.d/\*.cfg, else the distribution's usual one.
 *
 * Everything read from the disk is hostile until checked. Each offset and length the
 * partition tables name is checked against the disk. libext2fs checks the file system's
 * structures, and around it: nothing is ever written (the io_manager refuses writes, and the
 * file system is opened without EXT2_FLAG_RW, so no journal is replayed either); the group
 * descriptor table it allocates must fit the volume and the read budget; every read it makes
 * is charged to one budget for the whole disk (EXT_MAX_WORK), which bounds the blocks it can
 * go through in a crafted directory or extent tree; files are read only up to EXT_MAX_FILE,
 * symlinks followed at most EXT_MAX_LINKS times, lookups take at most EXT_MAX_STEPS steps.
 * Checksums are checked first; only if one fails is the file system read again ignoring them
 * (a hostile disk can write right checksums anyway, a damaged one may still hold its files).
 * Damage means "not recognized", never an error: an error (-1) is only a failure to read. */
#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <pthread.h>
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
#define EXT_MAX_FILE   (1U << 20)  /* os-release, cloud.cfg: larger is not believed */
#define EXT_MAX_WORK   (64U << 20) /* bytes libext2fs may read in all */
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
        uint64_t work_left;      /* bytes libext2fs may still read (EXT_MAX_WORK): a hostile
                                  * disk can make it go over the same blocks again and again,
                                  * in many partitions */
        kiln_error *err;         /* a read for libext2fs that failed (it sees only a code) */
} detect_dev;

static detect_dev *dev_free(detect_dev *d)
{
        if (!d)
                return NULL;
        if (d->fd >= 0)
                close(d->fd);
        disk_nbd_close(d->nbd);
        kiln_error_free(d->err);
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
/* ---- ext2/3/4: libext2fs on the volume ---- */

/* What an io channel reads: the volume of the device. */
typedef struct ext_io {
        detect_dev *d;
        vol v;
} ext_io;

/* libext2fs opens a channel by name only: ext_open puts the volume here for ext_io_open. */
static _Thread_local ext_io *ext_io_next;

static struct struct_io_manager ext_io_manager;

static errcode_t ext_io_open(const char *name, int flags, io_channel *ret)
{
        io_channel ch;

        if (!ext_io_next)
                return EXT2_ET_BAD_DEVICE_NAME;
        if (flags & IO_FLAG_RW)
                return EXT2_ET_RO_FILSYS;
        ch = kiln_xcalloc(1, sizeof(*ch));
        ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
        ch->manager = &ext_io_manager;
        ch->name = kiln_xstrdup(name);
        ch->block_size = 1024;
        ch->refcount = 1;
        ch->private_data = ext_io_next;
        *ret = ch;
        return 0;
}

static errcode_t ext_io_close(io_channel ch)
{
        if (--ch->refcount > 0)
                return 0;
        free(ch->name);
        free(ch);
        return 0;
}

static errcode_t ext_io_set_blksize(io_channel ch, int blksize)
{
        if (blksize <= 0)
                return EXT2_ET_INVALID_ARGUMENT;
        ch->block_size = blksize;
        return 0;
}

/* count blocks from block, or -count bytes. Every read is charged to the disk's budget, also
 * when the cache has it: what it bounds is libext2fs's work. */
static errcode_t ext_io_read64(io_channel ch, unsigned long long block, int count, void *data)
{
        ext_io *io = ch->private_data;
        const uint64_t bs = (uint64_t) ch->block_size;
        const uint64_t len = count < 0 ? (uint64_t) - (int64_t) count : (uint64_t) count * bs;

        if (len == 0)
                return 0;
        if (io->d->err || block > io->v.size / bs || len > io->d->work_left)
                return EXT2_ET_SHORT_READ;
        io->d->work_left -= len;
        if (vol_read(io->d, &io->v, block * bs, data, (size_t) len, &io->d->err) <= 0)
                return EXT2_ET_SHORT_READ;
        return 0;
}

static errcode_t ext_io_read(io_channel ch, unsigned long block, int count, void *data)
{
        return ext_io_read64(ch, block, count, data);
}

/* Never called: the file system is opened read-only. Those libext2fs checks for are unset
 * (write_byte, write_blk64 falls back to this one). */
static errcode_t ext_io_write(io_channel ch, unsigned long block, int count, const void *data)
{
        (void) ch, (void) block, (void) count, (void) data;
        return EXT2_ET_RO_FILSYS;
}

static errcode_t ext_io_flush(io_channel ch)
{
        (void) ch;
        return 0;
}

static struct struct_io_manager ext_io_manager = {
        .magic = EXT2_ET_MAGIC_IO_MANAGER,
        .name = "kiln detect",
        .open = ext_io_open,
        .close = ext_io_close,
        .set_blksize = ext_io_set_blksize,
        .read_blk = ext_io_read,
        .write_blk = ext_io_write,
        .flush = ext_io_flush,
        .read_blk64 = ext_io_read64,
};

typedef struct ext_fs {
        ext_io io;
        ext2_filsys fs;  /* NULL if the volume could not be opened */
        bool csum_error; /* a checksum did not match on the way */
} ext_fs;

static ext_fs *ext_fs_free(ext_fs *e)
{
        if (!e)
                return NULL;
        if (e->fs)
                ext2fs_free(e->fs); /* read-only: nothing to write back */
        free(e);
        return NULL;
}

KILN_DEFINE_AUTOPTR(ext_fs, ext_fs_free)

/* code, after noting whether it is a checksum that failed. */
static errcode_t ext_check(ext_fs *e, errcode_t code)
{
        switch (code) {
        case EXT2_ET_SB_CSUM_INVALID:
        case EXT2_ET_UNKNOWN_CSUM:
        case EXT2_ET_INODE_CSUM_INVALID:
        case EXT2_ET_EXTENT_CSUM_INVALID:
        case EXT2_ET_DIR_CSUM_INVALID:
        case EXT2_ET_EXT_ATTR_CSUM_INVALID:
                e->csum_error = true;
                break;
        default:
                break;
        }
        return code;
}

static pthread_once_t ext_messages_once = PTHREAD_ONCE_INIT;

static void ext_messages_init(void)
{
        initialize_ext2_error_table();
}

/* The file system on volume v, read-only with flags (EXT2_FLAG_IGNORE_CSUM_ERRORS or 0); its
 * fs is NULL if libext2fs refused it. A first open reads only the superblock, so that the
 * group descriptor table, which libext2fs allocates and reads whole, is known to fit the
 * volume and the budget before it does (a crafted superblock can claim 2^32 groups). */
static ext_fs *ext_open(detect_dev *d, const vol *v, int flags)
{
        ext_fs *e = kiln_xcalloc(1, sizeof(*e));
        ext2_filsys probe = NULL;
        errcode_t code;

        flags |= EXT2_FLAG_64BITS;
        e->io = (ext_io){.d = d, .v = *v};
        ext_io_next = &e->io;
        code = ext_check(e, ext2fs_open2("volume", NULL, flags | EXT2_FLAG_SUPER_ONLY, 0, 0,
                                         &ext_io_manager, &probe));
        if (code == 0) {
                uint64_t table = (uint64_t) probe->desc_blocks * probe->blocksize;

                if (table > v->size || table > d->work_left)
                        code = EXT2_ET_CORRUPT_SUPERBLOCK;
                ext2fs_free(probe);
        }
        if (code == 0)
                code = ext_check(
                        e, ext2fs_open2("volume", NULL, flags, 0, 0, &ext_io_manager, &e->fs));
        ext_io_next = NULL;
        if (code) {
                e->fs = NULL;
                pthread_once(&ext_messages_once, ext_messages_init);
                kiln_log(KILN_LOG_DEBUG, "detect: ext file system at %llu not read: %s",
                         (unsigned long long) v->off, error_message(code));
        }
        return e;
}

/* The inode ino if it is in use. */
static bool ext_inode(ext_fs *e, ext2_ino_t ino, struct ext2_inode *ret)
{
        return ext_check(e, ext2fs_read_inode(e->fs, ino, ret)) == 0 && ret->i_links_count > 0;
}

/* Inline data: the first 60 bytes in i_block, the rest in the extended attribute system.data.
 * Not ext2fs_inline_data_get() nor ext2fs_file_read(): in 1.47 they copy the attribute into
 * a buffer sized by what the inode claims, or by the block size. */
static bool ext_read_inline(ext_fs *e, ext2_ino_t ino, const struct ext2_inode *in, char *buf,
                            size_t size)
{
        const size_t head = size < EXT4_MIN_INLINE_DATA_SIZE ? size : EXT4_MIN_INLINE_DATA_SIZE;
        struct ext2_xattr_handle *h = NULL;
        void *value = NULL;
        size_t value_len = 0;
        bool ok;

        memcpy(buf, in->i_block, head);
        if (size == head)
                return true;
        if (ext_check(e, ext2fs_xattrs_open(e->fs, ino, &h)))
                return false;
        ok = ext_check(e, ext2fs_xattrs_read(h)) == 0 &&
             ext_check(e, ext2fs_xattr_get(h, "system.data", &value, &value_len)) == 0 &&
             value_len >= size - head;
        if (ok)
                memcpy(buf + head, value, size - head);
        ext2fs_free_mem(&value);
        ext2fs_xattrs_close(&h);
        return ok;
}

static bool ext_read_blocks(ext_fs *e, ext2_ino_t ino, struct ext2_inode *in, char *buf,
                            size_t size)
{
        ext2_file_t f = NULL;
        size_t done = 0;

        if (ext_check(e, ext2fs_file_open2(e->fs, ino, in, 0, &f)))
                return false;
        while (done < size) {
                unsigned int got = 0;

                if (ext_check(e, ext2fs_file_read(f, buf + done, (unsigned) (size - done), &got)) ||
                    got == 0)
                        break;
                done += got;
        }
        ext2fs_file_close(f);
        return done == size;
}

/* The content of a file or a slow symlink of at most max bytes (NUL-terminated), or NULL. */
static char *ext_read(ext_fs *e, ext2_ino_t ino, struct ext2_inode *in, size_t max, size_t *ret_len)
{
        const uint64_t size = EXT2_I_SIZE(in);
        kiln_autofree char *buf = NULL;
        bool ok;

        if (size > max)
                return NULL;
        buf = kiln_xmalloc((size_t) size + 1);
        if (in->i_flags & EXT4_INLINE_DATA_FL)
                ok = ext_read_inline(e, ino, in, buf, (size_t) size);
        else
                ok = ext_read_blocks(e, ino, in, buf, (size_t) size);
        if (!ok)
                return NULL;
        buf[size] = '\0';
        *ret_len = (size_t) size;
        return kiln_steal(&buf);
}

/* The target of a symlink (NUL-free, shorter than EXT_MAX_PATH), or NULL. A fast symlink
 * keeps it in i_block: no extents, no inline data, no data blocks, shorter than 60 bytes. */
static char *ext_link_target(ext_fs *e, ext2_ino_t ino, struct ext2_inode *in)
{
        const uint64_t size = EXT2_I_SIZE(in);
        kiln_autofree char *t = NULL;
        size_t len = 0;

        if (size == 0 || size >= EXT_MAX_PATH)
                return NULL;
        if (!(in->i_flags & (EXT4_EXTENTS_FL | EXT4_INLINE_DATA_FL)) &&
            size < sizeof(in->i_block) && ext2fs_inode_data_blocks2(e->fs, in) == 0) {
                len = (size_t) size;
                t = kiln_xstrndup((const char *) in->i_block, len);
        } else {
                t = ext_read(e, ino, in, EXT_MAX_PATH, &len);
        }
        if (!t || strlen(t) != len)
                return NULL;
        return kiln_steal(&t);
}

/* The inode at path, from directory start for a relative path, following symlinks (the final
 * one too; at most EXT_MAX_LINKS). Our own walk rather than ext2fs_namei(), whose following
 * of links in 1.47 trusts the link's size: it reads past a block for a slow link longer than
 * one, and writes past its buffer for an inline one. */
static bool ext_resolve(ext_fs *e, ext2_ino_t start, const char *path, ext2_ino_t *ret_ino,
                        struct ext2_inode *ret)
{
        kiln_autofree char *todo = kiln_xstrdup(path);
        ext2_ino_t cur = path[0] == '/' ? EXT2_ROOT_INO : start, ino = cur;
        int links = 0, steps = 0;
        size_t pos = 0;

        if (!ext_inode(e, cur, ret))
                return false;
        for (;;) {
                kiln_autofree char *target = NULL;
                const char *name;
                size_t end, len;

                while (todo[pos] == '/')
                        pos++;
                if (!todo[pos]) {
                        *ret_ino = ino; /* *ret holds it */
                        return true;
                }
                for (end = pos; todo[end] && todo[end] != '/'; end++)
                        ;
                name = todo + pos;
                len = end - pos;
                pos = end;
                if (len == 1 && name[0] == '.')
                        continue;
                if (!LINUX_S_ISDIR(ret->i_mode) || ++steps > EXT_MAX_STEPS || len > EXT2_NAME_LEN ||
                    ext_check(e, ext2fs_lookup(e->fs, cur, name, (int) len, NULL, &ino)) ||
                    !ext_inode(e, ino, ret))
                        return false;
                if (!LINUX_S_ISLNK(ret->i_mode)) {
                        cur = ino;
                        continue;
                }
                if (++links > EXT_MAX_LINKS)
                        return false;
                target = ext_link_target(e, ino, ret);
                if (!target || strlen(target) + strlen(todo + pos) + 2 > EXT_MAX_PATH)
                        return false;
                {
                        char *next = kiln_xasprintf("%s/%s", target, todo + pos);

                        free(todo);
                        todo = next;
                }
                pos = 0;
                if (target[0] == '/')
                        cur = EXT2_ROOT_INO;
                ino = cur;
                if (!ext_inode(e, cur, ret))
                        return false;
        }
}

/* The content of the regular file at path (at most EXT_MAX_FILE bytes), or NULL. */
static char *ext_read_path(ext_fs *e, ext2_ino_t start, const char *path, size_t *ret_len)
{
        struct ext2_inode in = {0};
        ext2_ino_t ino = 0;

        if (!ext_resolve(e, start, path, &ino, &in) || !LINUX_S_ISREG(in.i_mode))
                return NULL;
        return ext_read(e, ino, &in, EXT_MAX_FILE, ret_len);
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

/* cloud.cfg.d's *.cfg names, at most CLOUD_MAX_CFGS. */
struct cfg_list {
        char **names;
        size_t n;
};

static int cfg_list_fn(ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent, int offset,
                       int blocksize, char *buf, void *userdata)
{
        struct cfg_list *l = userdata;
        const char *name = dirent->name;
        size_t len = (size_t) ext2fs_dirent_name_len(dirent);

        (void) dir, (void) entry, (void) offset, (void) blocksize, (void) buf;
        /* cloud-init takes glob("*.cfg"): no hidden files. */
        if (len <= 4 || name[0] == '.' || memcmp(name + len - 4, ".cfg", 4) != 0)
                return 0;
        if (l->n == CLOUD_MAX_CFGS)
                return DIRENT_ABORT;
        l->names = kiln_xrealloc(l->names, (l->n + 1) * sizeof(*l->names));
        l->names[l->n++] = kiln_xstrndup(name, len);
        return 0;
}

static void cfg_list_clear(struct cfg_list *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->names[i]);
        free(l->names);
        memset(l, 0, sizeof(*l));
}

static int cfg_name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* cloud-init's default user: /etc/cloud/cloud.cfg, then cloud.cfg.d/\*.cfg in name order (as
 * glob sorts them in the C locale); NULL if none is named. */
static char *cloud_default_user(ext_fs *e)
{
        kiln_autofree char *default_name = NULL, *user = NULL, *data = NULL;
        struct ext2_inode dir = {0};
        struct cfg_list l = {0};
        ext2_ino_t dir_ino = 0;
        size_t len = 0;

        data = ext_read_path(e, EXT2_ROOT_INO, "/etc/cloud/cloud.cfg", &len);
        if (data)
                cloud_cfg_parse(data, len, &default_name, &user);
        if (ext_resolve(e, EXT2_ROOT_INO, "/etc/cloud/cloud.cfg.d", &dir_ino, &dir) &&
            LINUX_S_ISDIR(dir.i_mode))
                ext_check(e, ext2fs_dir_iterate2(e->fs, dir_ino, 0, NULL, cfg_list_fn, &l));
        if (l.n)
                qsort(l.names, l.n, sizeof(*l.names), cfg_name_cmp);
        for (size_t i = 0; i < l.n; i++) {
                /* A symlink is resolved from cloud.cfg.d itself. */
                kiln_autofree char *cfg = ext_read_path(e, dir_ino, l.names[i], &len);

                if (cfg)
                        cloud_cfg_parse(cfg, len, &default_name, &user);
        }
        cfg_list_clear(&l);
        return user ? kiln_steal(&user) : kiln_steal(&default_name);
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

/* ======================================================================================== */
/* ---- the disk ---- */

typedef struct detect_state {
        bool windows;  /* an NTFS volume */
        bool linux_fs; /* a Linux file system, LVM or swap, read or not */
} detect_state;

/* One reading of the ext file system on v: 1 and *ret filled if it holds an os-release.
 * *opened is set if libext2fs could open it; *ret_csum tells whether a checksum failed. */
static int ext_detect_once(detect_dev *d, const vol *v, int flags, bool *opened, disk_os *ret,
                           bool *ret_csum)
{
        static const char *const paths[] = {"/etc/os-release", "/usr/lib/os-release"};
        kiln_autoptr(ext_fs) e = ext_open(d, v, flags);
        disk_os found = {0};
        bool have = false;

        if (e->fs) {
                *opened = true;
                for (size_t i = 0; i < KILN_ARRAY_SIZE(paths) && !have; i++) {
                        size_t len = 0;
                        kiln_autofree char *data = ext_read_path(e, EXT2_ROOT_INO, paths[i], &len);

                        if (data) {
                                os_release_parse(data, len, &found);
                                have = true;
                        }
                }
        }
        if (have) {
                found.default_user = cloud_default_user(e);
                if (!found.default_user && distro_cloud_user(found.distribution))
                        found.default_user = kiln_xstrdup(distro_cloud_user(found.distribution));
                found.platform = kiln_xstrdup("linux");
                *ret = found;
        }
        *ret_csum = e->csum_error;
        return have ? 1 : 0;
}

/* 1 and os filled if the ext file system on v holds an os-release. Read with checksums
 * checked, and again without if one failed. */
static int ext_detect(detect_dev *d, const vol *v, bool *opened, disk_os *os)
{
        bool csum = false;
        int r = ext_detect_once(d, v, 0, opened, os, &csum);

        if (csum && !d->err) {
                if (r > 0)
                        disk_os_clear(os);
                r = ext_detect_once(d, v, EXT2_FLAG_IGNORE_CSUM_ERRORS, opened, os, &csum);
        }
        return r;
}

/* Recognizes one volume; 1 if it gave the OS (os filled). */
static int detect_volume(detect_dev *d, const vol *v, detect_state *st, disk_os *os,
                         kiln_error **err)
{
        kiln_autofree uint8_t *head = kiln_xcalloc(1, PROBE_HEAD);
        uint8_t magic[8];
        size_t n = v->size < PROBE_HEAD ? (size_t) v->size : PROBE_HEAD;
        int r = vol_read(d, v, 0, head, n, err);

        if (r <= 0)
                return r;
        if (memcmp(head + 3, "NTFS    ", 8) == 0) {
                st->windows = true;
                return 0;
        }
        if (le16(head + 1024 + 0x38) == EXT2_SUPER_MAGIC) {
                bool opened = false;

                r = ext_detect(d, v, &opened, os);
                if (d->err) {
                        if (r > 0)
                                disk_os_clear(os);
                        if (err && !*err)
                                *err = kiln_steal(&d->err);
                        return -1;
                }
                if (opened) {
                        st->linux_fs = true;
                        return r;
                }
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
