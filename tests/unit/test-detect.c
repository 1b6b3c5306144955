/* OS detection (disk/detect.c) on disks made here without root: a directory tree put into an
 * ext2/ext4 image by mke2fs -d, changed where needed with debugfs and e2fsck (both work on an
 * image file), placed after an MBR or GPT written by sfdisk on a plain file, and converted by
 * qemu-img to qcow2, vmdk and vhdx (read through qemu-nbd). Each fixture is also checked with
 * debugfs to hold the structure it is meant to exercise (extent tree depth, inline data,
 * htree, block map). Damaged, truncated and hostile disks must be read without a crash or
 * an error. The cached Debian 12 test image is read too if it exists. Skips (77) without
 * mke2fs, debugfs, e2fsck, sfdisk or qemu-img; everything goes into a mkdtemp directory. */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "disk/detect.h"
#include "tap.h"
#include "util/util.h"

#define FS_MIB 16
#define KIB    ((size_t) 1024)
#define MIB    ((size_t) 1 << 20)

/* The start of an NTFS boot sector: jump, OEM ID, 512 bytes per sector. */
static const uint8_t ntfs_boot[] = {0xeb, 0x52, 0x90, 'N', 'T',  'F', 'S',
                                    ' ',  ' ',  ' ',  ' ', 0x00, 0x02};

static char *tmp;

/* ---- helpers ---- */

static char *tpath(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *tpath(const char *fmt, ...)
{
        kiln_autofree char *rel = NULL;
        va_list ap;

        va_start(ap, fmt);
        rel = kiln_xvasprintf(fmt, ap);
        va_end(ap);
        return kiln_xasprintf("%s/%s", tmp, rel);
}

/* Runs a tool; its stdout in *ret_out if ret_out is not NULL. */
static int run_out(char **ret_out, const char *prog, ...) __attribute__((sentinel));
static int run_out(char **ret_out, const char *prog, ...)
{
        kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new(prog, NULL);
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autofree char *out = NULL;
        const char *arg;
        va_list ap;

        va_start(ap, prog);
        while ((arg = va_arg(ap, const char *)))
                kiln_cmd_add_arg(cmd, arg);
        va_end(ap);
        if (kiln_cmd_run(cmd, &out, &err) < 0) {
                printf("# %s\n", err->msg);
                return -1;
        }
        if (ret_out)
                *ret_out = kiln_steal(&out);
        return 0;
}

#define run(...) run_out(NULL, __VA_ARGS__)

static void mkdir_p(const char *path)
{
        kiln_autofree char *p = kiln_xstrdup(path);

        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                mkdir(p, 0755);
                *s = '/';
        }
        mkdir(p, 0755);
}

static void put_data(const char *path, const void *data, size_t len)
{
        kiln_autofree char *dir = kiln_xstrdup(path);
        int fd;

        *strrchr(dir, '/') = '\0';
        mkdir_p(dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, data, len) != (ssize_t) len)
                printf("# cannot write %s: %s\n", path, strerror(errno));
        if (fd >= 0)
                close(fd);
}

static void put(const char *tree, const char *rel, const char *content)
{
        kiln_autofree char *path = kiln_xasprintf("%s/%s", tree, rel);

        put_data(path, content, strlen(content));
}

static void put_link(const char *tree, const char *rel, const char *target)
{
        kiln_autofree char *path = kiln_xasprintf("%s/%s", tree, rel);
        kiln_autofree char *dir = kiln_xstrdup(path);

        *strrchr(dir, '/') = '\0';
        mkdir_p(dir);
        if (symlink(target, path) < 0)
                printf("# cannot link %s: %s\n", path, strerror(errno));
}

/* mke2fs -q -F OPTS... -d TREE IMG 16M; opts ends with NULL. */
static int make_fs(const char *tree, const char *img, const char *const *opts)
{
        kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("mke2fs", "-q", "-F", NULL);
        kiln_autoptr(kiln_error) err = NULL;

        for (size_t i = 0; opts[i]; i++)
                kiln_cmd_add_arg(cmd, opts[i]);
        kiln_cmd_add_arg(cmd, "-d");
        kiln_cmd_add_arg(cmd, tree);
        kiln_cmd_add_arg(cmd, img);
        kiln_cmd_add_arg(cmd, "16M");
        if (kiln_cmd_run(cmd, NULL, &err) < 0) {
                printf("# %s\n", err->msg);
                return -1;
        }
        return 0;
}

/* debugfs -w -f CMDS IMG with the commands given as one string. */
static int debugfs_w(const char *img, const char *cmds)
{
        kiln_autofree char *file = tpath("debugfs.cmds");

        put_data(file, cmds, strlen(cmds));
        return run("debugfs", "-w", "-f", file, img, NULL);
}

/* What debugfs -R REQUEST says of IMG. */
static char *debugfs_r(const char *img, const char *request)
{
        char *out = NULL;

        if (run_out(&out, "debugfs", "-R", request, img, NULL) < 0)
                return kiln_xstrdup("");
        return out;
}

typedef enum { LAYOUT_WHOLE, LAYOUT_MBR, LAYOUT_GPT, LAYOUT_LOGICAL } layout;

/* A disk holding the file system image fs: alone, or after a partition table. */
static int make_disk(const char *fs, const char *disk, layout how)
{
        const uint64_t fs_bytes = (uint64_t) FS_MIB << 20;
        kiln_autofree char *script = tpath("sfdisk.script");
        const char *seek = how == LAYOUT_LOGICAL ? "seek=2" : "seek=1";
        kiln_autofree char *of = kiln_xasprintf("of=%s", disk);
        kiln_autofree char *in = kiln_xasprintf("if=%s", fs);
        const char *table = NULL;

        unlink(disk);
        if (how == LAYOUT_WHOLE)
                return run("dd", in, of, "bs=1M", "conv=sparse", "status=none", NULL);
        if (run("dd", in, of, "bs=1M", seek, "conv=notrunc,sparse", "status=none", NULL) < 0 ||
            truncate(disk, (off_t) (fs_bytes + 3 * MIB)) < 0)
                return -1;
        switch (how) {
        case LAYOUT_MBR:
                table = "label: dos\nstart=2048, size=32768, type=83\n";
                break;
        case LAYOUT_GPT:
                table = "label: gpt\nstart=2048, size=32768, type=L\n";
                break;
        default:
                /* swap-typed primary first, then the extended one with our logical inside */
                table = "label: dos\nstart=36864, size=2048, type=82\n"
                        "start=2048, size=34816, type=5\nstart=4096, size=32768, type=83\n";
                break;
        }
        put_data(script, table, strlen(table));
        return run("sh", "-c", "exec sfdisk -q --wipe never \"$1\" < \"$2\"", "sh", disk, script,
                   NULL);
}

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

/* Detects and compares; NULL expectations mean "must be NULL" (pretty: not checked). */
static void check(const char *what, const char *path, const char *format, const char *platform,
                  const char *distro, const char *version, const char *pretty, const char *user)
{
        kiln_autoptr(kiln_error) err = NULL;
        disk_os os = {0};
        double t0 = now_ms();
        int r = disk_detect_os(path, format, &os, &err);

        if (!ok(r == 0, "%s: read without error (%.1f ms)", what, now_ms() - t0))
                printf("#   error: %s\n", err ? err->msg : "(none)");
        is_str(os.platform, platform, "%s: platform", what);
        is_str(os.distribution, distro, "%s: distribution", what);
        is_str(os.version, version, "%s: version", what);
        if (pretty)
                is_str(os.pretty_name, pretty, "%s: pretty name", what);
        is_str(os.default_user, user, "%s: default user", what);
        disk_os_clear(&os);
}

static void put_le32(uint8_t *p, uint32_t v)
{
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

/* Partition entry i of the MBR (or EBR) in sector s. */
static void mbr_entry(uint8_t *s, size_t i, uint8_t status, uint8_t type, uint32_t start,
                      uint32_t count)
{
        uint8_t *e = s + 446 + 16 * i;

        memset(e, 0, 16);
        e[0] = status;
        e[4] = type;
        put_le32(e + 8, start);
        put_le32(e + 12, count);
        s[510] = 0x55;
        s[511] = 0xaa;
}

/* disk_detect_os into a cleared *os (read even when it fails, for damaged disks). */
static int detect_quiet(const char *path, const char *format, disk_os *os, kiln_error **err)
{
        memset(os, 0, sizeof(*os));
        return disk_detect_os(path, format, os, err);
}

/* ---- fixtures ---- */

#define DEBIAN_RELEASE                                                                             \
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n"              \
        "VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n"     \
        "HOME_URL=\"https://www.debian.org/\"\n"

/* Debian as our image has it: os-release a relative symlink, the default user in cloud.cfg
 * overridden by cloud.cfg.d/90-x.cfg (and 05-*.cfg, read before it; hidden and non-.cfg
 * files are not read). */
static void tree_debian(const char *t)
{
        put(t, "usr/lib/os-release", DEBIAN_RELEASE);
        put_link(t, "etc/os-release", "../usr/lib/os-release");
        put(t, "etc/hostname", "debian\n");
        put(t, "etc/cloud/cloud.cfg",
            "users:\n  - default\nsystem_info:\n  distro: debian\n  default_user:\n"
            "    name: debian\n    lock_passwd: true\n");
        put(t, "etc/cloud/cloud.cfg.d/05-early.cfg",
            "system_info:\n  default_user:\n    name: early\n");
        put(t, "etc/cloud/cloud.cfg.d/90-x.cfg",
            "# kiln\ndatasource_list: [ NoCloud, None ]\nsystem_info:\n  default_user:\n"
            "    name: admin\n    groups: [adm, sudo]\n");
        put(t, "etc/cloud/cloud.cfg.d/.99-hidden.cfg",
            "system_info:\n  default_user:\n    name: hidden\n");
        put(t, "etc/cloud/cloud.cfg.d/99-notes.txt",
            "system_info:\n  default_user:\n    name: notes\n");
        put(t, "etc/cloud/cloud.cfg.d/README", "not yaml: [\n");
}

/* Padding lines, then the fields: a file of many blocks whose answer is at its end. */
static char *long_release(unsigned lines, const char *fields)
{
        kiln_buf b = {0};

        for (unsigned i = 0; i < lines; i++)
                kiln_buf_appendf(&b, "# padding line %05u .................................\n", i);
        kiln_buf_appendf(&b, "%s", fields);
        return kiln_buf_steal(&b);
}

/* ---- tests ---- */

static void test_debian(void)
{
        static const char *const opts[] = {"-t", "ext4", "-b", "4096", NULL};
        kiln_autofree char *tree = tpath("t-debian");
        kiln_autofree char *fs = tpath("debian.fs");
        kiln_autofree char *mbr = tpath("debian-mbr.raw");
        kiln_autofree char *gpt = tpath("debian-gpt.raw");
        kiln_autofree char *whole = tpath("debian-whole.raw");
        kiln_autofree char *logical = tpath("debian-logical.raw");
        static const char *const formats[] = {"qcow2", "vmdk", "vhdx"};

        tree_debian(tree);
        if (!ok(make_fs(tree, fs, opts) == 0, "debian: mke2fs -d"))
                return;
        ok(make_disk(fs, mbr, LAYOUT_MBR) == 0, "debian: MBR disk");
        check("debian, MBR, raw", mbr, "raw", "linux", "debian", "12",
              "Debian GNU/Linux 12 (bookworm)", "admin");
        for (size_t i = 0; i < KILN_ARRAY_SIZE(formats); i++) {
                kiln_autofree char *img = tpath("debian-mbr.%s", formats[i]);
                kiln_autofree char *what = kiln_xasprintf("debian, MBR, %s", formats[i]);

                if (!ok(run("qemu-img", "convert", "-q", "-f", "raw", "-O", formats[i], mbr, img,
                            NULL) == 0,
                        "debian: qemu-img convert to %s", formats[i]))
                        continue;
                check(what, img, formats[i], "linux", "debian", "12",
                      "Debian GNU/Linux 12 (bookworm)", "admin");
        }
        ok(make_disk(fs, gpt, LAYOUT_GPT) == 0, "debian: GPT disk");
        check("debian, GPT, raw", gpt, "raw", "linux", "debian", "12", NULL, "admin");
        {
                kiln_autofree char *img = tpath("debian-gpt.qcow2");

                if (ok(run("qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", gpt, img,
                           NULL) == 0,
                       "debian: GPT disk to qcow2"))
                        check("debian, GPT, qcow2", img, "qcow2", "linux", "debian", "12", NULL,
                              "admin");
        }
        {
                /* The primary GPT header destroyed: the backup at the disk's end is used. */
                static const uint8_t zero[512];
                int fd = open(gpt, O_WRONLY | O_CLOEXEC);

                ok(fd >= 0 && pwrite(fd, zero, sizeof(zero), 512) == 512,
                   "debian: primary GPT header wiped");
                if (fd >= 0)
                        close(fd);
                check("debian, GPT backup header only", gpt, "raw", "linux", "debian", "12", NULL,
                      "admin");
        }
        ok(make_disk(fs, whole, LAYOUT_WHOLE) == 0, "debian: file system on the whole disk");
        check("debian, no partition table", whole, "raw", "linux", "debian", "12", NULL, "admin");
        ok(make_disk(fs, logical, LAYOUT_LOGICAL) == 0, "debian: logical partition");
        check("debian, logical partition in an extended one", logical, "raw", "linux", "debian",
              "12", NULL, "admin");
}

/* Ubuntu without cloud-init configuration, inline data: os-release (72 bytes: 60 in i_block,
 * 12 in the system.data attribute) and the directories live in their inodes. */
static void test_ubuntu_inline(void)
{
        static const char *const opts[] = {"-t", "ext4", "-b", "4096", "-O", "inline_data", NULL};
        kiln_autofree char *tree = tpath("t-ubuntu");
        kiln_autofree char *fs = tpath("ubuntu.fs");
        kiln_autofree char *disk = tpath("ubuntu.raw");
        kiln_autofree char *stat_rel = NULL, *stat_etc = NULL;

        put(tree, "etc/os-release",
            "NAME=Ubuntu\nID=ubuntu\nVERSION_ID=\"22.04\"\nPRETTY_NAME='Ubuntu 22.04 LTS'\n");
        if (!ok(make_fs(tree, fs, opts) == 0, "ubuntu: mke2fs -O inline_data -d"))
                return;
        stat_rel = debugfs_r(fs, "stat /etc/os-release");
        stat_etc = debugfs_r(fs, "stat /etc");
        like(stat_rel, "Size of inline data: 72", "ubuntu: fixture: os-release is inline data");
        like(stat_etc, "Size of inline data", "ubuntu: fixture: /etc is an inline directory");
        ok(make_disk(fs, disk, LAYOUT_MBR) == 0, "ubuntu: MBR disk");
        check("ubuntu, inline data, no cloud.cfg", disk, "raw", "linux", "ubuntu", "22.04",
              "Ubuntu 22.04 LTS", "ubuntu");
}

/* CentOS on 1 KiB blocks, 32-byte group descriptors and meta_bg with 64 groups of 16 inodes:
 * /etc holds 600 files (many blocks, made an htree by e2fsck -D), and os-release, written
 * last, has an inode in a group whose descriptor lives in the second meta group. The link
 * in /etc is absolute. */
static void test_centos_many(void)
{
        /* 64 groups of 256 blocks and 16 inodes; 32 descriptors per block */
        static const char *const opts[] = {"-O", "meta_bg,^resize_inode,^64bit",
                                           "-t", "ext4",
                                           "-b", "1024",
                                           "-g", "256",
                                           "-N", "1024",
                                           NULL};
        kiln_autofree char *tree = tpath("t-centos");
        kiln_autofree char *fs = tpath("centos.fs");
        kiln_autofree char *disk = tpath("centos.qcow2");
        kiln_autofree char *raw = tpath("centos.raw");
        kiln_autofree char *rel = tpath("centos-os-release");
        kiln_autofree char *cmds = NULL, *htree = NULL, *stat = NULL, *sb = NULL;
        const char *release = "NAME=\"CentOS Stream\"\nVERSION_ID=\"9\"\nID=\"centos\"\n"
                              "ID_LIKE=\"rhel fedora\"\nPRETTY_NAME=\"CentOS Stream 9\"\n";
        const char *ino;
        long ino_nr;

        for (int i = 0; i < 600; i++) {
                kiln_autofree char *name =
                        kiln_xasprintf("etc/config-file-with-a-long-name-%04d.conf", i);

                put(tree, name, "x\n");
        }
        put_link(tree, "etc/os-release", "/usr/lib/os-release");
        put(tree, "usr/lib/.keep", "");
        put_data(rel, release, strlen(release));
        if (!ok(make_fs(tree, fs, opts) == 0, "centos: mke2fs -d with meta_bg"))
                return;
        cmds = kiln_xasprintf("cd /usr/lib\nwrite %s os-release\n", rel);
        ok(debugfs_w(fs, cmds) == 0, "centos: os-release written by debugfs");
        /* e2fsck exits with 1 when it changed the file system, as -D does */
        run("e2fsck", "-f", "-y", "-D", fs, NULL);
        htree = debugfs_r(fs, "htree /etc");
        like(htree, "Root node dump", "centos: fixture: /etc is an htree directory");
        stat = debugfs_r(fs, "stat /usr/lib/os-release");
        ino = strstr(stat, "Inode: ");
        ino_nr = ino ? strtol(ino + 7, NULL, 10) : -1;
        ok(ino_nr > 32L * 16, "centos: fixture: os-release inode %ld is past meta group 0", ino_nr);
        sb = debugfs_r(fs, "stats");
        like(sb, "meta_bg", "centos: fixture: meta_bg");
        ok(make_disk(fs, raw, LAYOUT_MBR) == 0, "centos: MBR disk");
        check("centos, 1 KiB blocks, meta_bg, htree /etc, raw", raw, "raw", "linux", "centos", "9",
              "CentOS Stream 9", "cloud-user");
        if (ok(run("qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, disk, NULL) == 0,
               "centos: qcow2"))
                check("centos, qcow2", disk, "qcow2", "linux", "centos", "9", NULL, "cloud-user");
}

/* Fedora on ext4 whose os-release (only in /usr/lib) has holes punched every other block: an
 * extent tree of depth 1. cloud.cfg's legacy top-level `user` overrides the default user. */
static void test_fedora_extents(void)
{
        static const char *const opts[] = {"-t", "ext4", "-b", "4096", NULL};
        kiln_autofree char *tree = tpath("t-fedora");
        kiln_autofree char *fs = tpath("fedora.fs");
        kiln_autofree char *disk = tpath("fedora.raw");
        kiln_autofree char *big = tpath("fedora-os-release");
        kiln_autofree char *content =
                long_release(3000, "ID=fedora\nVERSION_ID=40\nPRETTY_NAME=\"Fedora Linux 40\"\n");
        kiln_autofree char *ex = NULL;
        kiln_buf cmds = {0};

        put(tree, "usr/lib/.keep", "");
        put(tree, "etc/cloud/cloud.cfg",
            "system_info:\n  default_user:\n    name: fedora\nuser:\n  name: ops\n");
        put_data(big, content, strlen(content));
        if (!ok(make_fs(tree, fs, opts) == 0, "fedora: mke2fs -d"))
                return;
        kiln_buf_appendf(&cmds, "cd /usr/lib\nwrite %s os-release\n", big);
        for (int i = 0; i < 30; i += 2)
                kiln_buf_appendf(&cmds, "punch /usr/lib/os-release %d %d\n", i, i);
        ok(debugfs_w(fs, cmds.data) == 0, "fedora: os-release written and punched by debugfs");
        kiln_buf_clear(&cmds);
        ex = debugfs_r(fs, "ex /usr/lib/os-release");
        like(ex, " 1/ 1 ", "fedora: fixture: os-release has an extent tree of depth 1");
        ok(make_disk(fs, disk, LAYOUT_GPT) == 0, "fedora: GPT disk");
        check("fedora, extent tree depth 1, user from `user:`", disk, "raw", "linux", "fedora",
              "40", "Fedora Linux 40", "ops");
}

/* AlmaLinux on ext2 (no extents) with 1 KiB blocks: os-release needs double indirect blocks
 * and has a hole; /etc/os-release is a slow symlink (longer than 60 bytes) with . and ..
 * in it. */
static void test_alma_ext2(void)
{
        static const char *const opts[] = {"-t", "ext2", "-b", "1024", NULL};
        kiln_autofree char *tree = tpath("t-alma");
        kiln_autofree char *fs = tpath("alma.fs");
        kiln_autofree char *disk = tpath("alma.raw");
        kiln_autofree char *big = tpath("alma-os-release");
        kiln_autofree char *content =
                long_release(7000, "ID=\"almalinux\"\nVERSION_ID=\"9.3\"\n"
                                   "PRETTY_NAME=\"AlmaLinux 9.3 (Shamrock Pampas Cat)\"\n");
        kiln_autofree char *cmds = NULL, *blocks = NULL, *stat = NULL;

        put(tree, "usr/lib/.keep", "");
        put_link(tree, "etc/os-release",
                 "../usr/lib/../lib/./././././././././././././././././././././os-release");
        put_data(big, content, strlen(content));
        if (!ok(make_fs(tree, fs, opts) == 0, "alma: mke2fs -t ext2 -d"))
                return;
        cmds = kiln_xasprintf("cd /usr/lib\nwrite %s os-release\npunch /usr/lib/os-release 5 5\n",
                              big);
        ok(debugfs_w(fs, cmds) == 0, "alma: os-release written by debugfs");
        blocks = debugfs_r(fs, "stat /usr/lib/os-release");
        like(blocks, "(DIND)", "alma: fixture: os-release uses a double indirect block");
        stat = debugfs_r(fs, "stat /etc/os-release");
        ok(strstr(stat, "Fast link dest") == NULL, "alma: fixture: /etc/os-release is a slow link");
        ok(make_disk(fs, disk, LAYOUT_MBR) == 0, "alma: MBR disk");
        check("alma, ext2 block maps, slow symlink", disk, "raw", "linux", "almalinux", "9.3",
              "AlmaLinux 9.3 (Shamrock Pampas Cat)", "almalinux");
}

/* Disks with nothing on them, garbage, a truncation, and random damage to a real file
 * system: never a crash, never an error for a raw file. */
static void test_damaged(void)
{
        kiln_autofree char *zeros = tpath("zeros.raw");
        kiln_autofree char *empty = tpath("empty.qcow2");
        kiln_autofree char *junk = tpath("junk.raw");
        kiln_autofree char *src = tpath("debian-mbr.raw");
        kiln_autofree char *cut = tpath("cut.raw");
        kiln_autofree char *cutq = tpath("cut.qcow2");
        kiln_autofree char *qsrc = tpath("debian-mbr.qcow2");
        kiln_autofree char *fuzz = tpath("fuzz.raw");
        kiln_autofree uint8_t *buf = kiln_xmalloc(4 * MIB);
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        disk_os os;
        int fd, bad = 0, recognized = 0;

        put_data(zeros, "", 0);
        ok(truncate(zeros, (off_t) (8 * MIB)) == 0, "8 MiB of zeros");
        check("zeros", zeros, "raw", NULL, NULL, NULL, NULL, NULL);
        if (ok(run("qemu-img", "create", "-q", "-f", "qcow2", empty, "64M", NULL) == 0,
               "an empty qcow2"))
                check("empty qcow2", empty, "qcow2", NULL, NULL, NULL, NULL, NULL);

        for (size_t i = 0; i < 4 * MIB; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf[i] = (uint8_t) (x >> 24);
        }
        buf[510] = 0x55;
        buf[511] = 0xaa;
        put_data(junk, buf, 4 * MIB);
        check("random bytes with a boot signature", junk, "raw", NULL, NULL, NULL, NULL, NULL);
        /* valid MBR entries: one past the end, one covering the MBR; an extended partition at
         * sector 1 whose records at sectors 1 and 2 both name sector 2 as the next one */
        memset(buf + 446, 0, 64);
        mbr_entry(buf, 0, 0, 0x83, 0, 0xffffffffU);
        mbr_entry(buf, 1, 0, 0x05, 1, 16);
        for (size_t sec = 1; sec <= 2; sec++) {
                uint8_t *e = buf + sec * 512;

                memset(e + 446, 0, 64);
                mbr_entry(e, 0, 0, 0x83, 0, 8);
                mbr_entry(e, 1, 0, 0x05, 1, 8);
        }
        put_data(junk, buf, 4 * MIB);
        check("an MBR with a partition past the end and an extended loop", junk, "raw", NULL, NULL,
              NULL, NULL, NULL);

        /* The Debian disk cut inside its inode table. */
        fd = open(src, O_RDONLY | O_CLOEXEC);
        if (ok(fd >= 0 && read(fd, buf, MIB + 300 * KIB) == (ssize_t) (MIB + 300 * KIB),
               "the first 1.3 MiB of the debian disk")) {
                put_data(cut, buf, MIB + 300 * KIB);
                {
                        kiln_autoptr(kiln_error) err = NULL;
                        int r = detect_quiet(cut, "raw", &os, &err);

                        ok(r == 0, "a truncated raw disk is read without error");
                        printf("#   platform %s, distribution %s\n",
                               os.platform ? os.platform : "(null)",
                               os.distribution ? os.distribution : "(null)");
                        disk_os_clear(&os);
                }
        }
        if (fd >= 0)
                close(fd);

        /* A cut qcow2: qemu-nbd refuses it, or reads fail; a clean error either way. */
        fd = open(qsrc, O_RDONLY | O_CLOEXEC);
        if (ok(fd >= 0 && read(fd, buf, 300 * KIB) == (ssize_t) (300 * KIB),
               "the first 300 KiB of a qcow2")) {
                kiln_autoptr(kiln_error) err = NULL;
                int r;

                put_data(cutq, buf, 300 * KIB);
                r = detect_quiet(cutq, "qcow2", &os, &err);
                ok(r == 0 || (r == -1 && err && err->msg && err->msg[0]),
                   "a truncated qcow2 gives a result or a clean error");
                printf("#   %s\n", r == 0 ? "no error" : err->msg);
                if (r == 0)
                        disk_os_clear(&os);
        }
        if (fd >= 0)
                close(fd);

        /* 300 rounds of 300 random bytes changed in the first 2 MiB of the file system (its
         * superblock, descriptors, inode table and directories), put back after each round. */
        fd = open(src, O_RDONLY | O_CLOEXEC);
        ok(fd >= 0 && read(fd, buf, 4 * MIB) == (ssize_t) (4 * MIB), "the debian disk for damage");
        if (fd >= 0)
                close(fd);
        if (!ok(run("cp", "--sparse=always", src, fuzz, NULL) == 0, "a copy to damage"))
                return;
        fd = open(fuzz, O_WRONLY | O_CLOEXEC);
        for (int round = 0; fd >= 0 && round < 300; round++) {
                kiln_autoptr(kiln_error) err = NULL;
                size_t at[300];

                for (int k = 0; k < 300; k++) {
                        uint8_t v;

                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        at[k] = MIB + (x >> 11) % (2 * MIB);
                        v = (uint8_t) (x >> 3);
                        if (pwrite(fd, &v, 1, (off_t) at[k]) != 1)
                                bad++;
                }
                if (detect_quiet(fuzz, "raw", &os, &err) != 0)
                        bad++;
                if (os.distribution)
                        recognized++;
                disk_os_clear(&os);
                for (int k = 0; k < 300; k++)
                        if (pwrite(fd, buf + at[k], 1, (off_t) at[k]) != 1)
                                bad++;
        }
        if (fd >= 0)
                close(fd);
        is_int(bad, 0, "300 randomly damaged file systems read without error");
        printf("#   %d of them still gave a distribution\n", recognized);
}

/* Byte ranges (disk offsets) of the metadata that the debian disk's detection reads: the
 * superblock and descriptors, the inodes and the directory blocks on the way, found with
 * debugfs. */
static size_t hot_ranges(const char *fs, uint64_t *off, uint32_t *len, size_t max)
{
        static const char *const paths[] = {"/",
                                            "/etc",
                                            "/etc/os-release",
                                            "/usr",
                                            "/usr/lib",
                                            "/usr/lib/os-release",
                                            "/etc/cloud",
                                            "/etc/cloud/cloud.cfg.d",
                                            "/etc/cloud/cloud.cfg.d/90-x.cfg"};
        size_t n = 0;

        off[n] = MIB + 1024;
        len[n++] = 3 * 4096;
        for (size_t i = 0; i < KILN_ARRAY_SIZE(paths) && n + 2 <= max; i++) {
                kiln_autofree char *imap_req = kiln_xasprintf("imap %s", paths[i]);
                kiln_autofree char *blocks_req = kiln_xasprintf("blocks %s", paths[i]);
                kiln_autofree char *imap = debugfs_r(fs, imap_req);
                kiln_autofree char *blocks = debugfs_r(fs, blocks_req);
                const char *at = strstr(imap, "located at block ");
                const char *hex = strstr(imap, "offset 0x");
                char *end;
                unsigned long long blk;

                if (at && hex) {
                        off[n] = MIB + strtoull(at + 17, NULL, 10) * 4096 +
                                 strtoull(hex + 9, NULL, 16);
                        len[n++] = 256;
                }
                /* (a fast symlink has no blocks: debugfs shows its target as numbers) */
                blk = strtoull(blocks, &end, 10);
                if (end != blocks && blk && blk < FS_MIB * 256ULL) {
                        off[n] = MIB + blk * 4096;
                        len[n++] = 4096;
                }
        }
        return n;
}

/* 3000 rounds of 1 to 8 random bytes changed in one of those ranges, put back after each. */
static void test_damage_targeted(void)
{
        kiln_autofree char *fs = tpath("debian.fs");
        kiln_autofree char *src = tpath("debian-mbr.raw");
        kiln_autofree char *copy = tpath("targeted.raw");
        uint64_t off[32], x = 0x2545f4914f6cdd1dULL;
        uint32_t len[32];
        size_t n = hot_ranges(fs, off, len, KILN_ARRAY_SIZE(off));
        int fd, bad = 0, recognized = 0;

        ok(n >= 16, "%zu metadata ranges of the debian disk found with debugfs", n);
        if (!ok(run("cp", "--sparse=always", src, copy, NULL) == 0, "a copy to damage"))
                return;
        fd = open(copy, O_RDWR | O_CLOEXEC);
        for (int round = 0; fd >= 0 && round < 3000; round++) {
                kiln_autoptr(kiln_error) err = NULL;
                uint64_t at[8];
                uint8_t old[8], v;
                int k, count;
                disk_os os;

                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                count = 1 + (int) (x % 8);
                for (k = 0; k < count; k++) {
                        size_t r = (size_t) ((x >> 8) % n);

                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        at[k] = off[r] + (x >> 16) % len[r];
                        v = (uint8_t) (x >> 5);
                        if (pread(fd, &old[k], 1, (off_t) at[k]) != 1 ||
                            pwrite(fd, &v, 1, (off_t) at[k]) != 1)
                                bad++;
                }
                if (detect_quiet(copy, "raw", &os, &err) != 0) {
                        bad++;
                        printf("#   round %d: %s\n", round, err ? err->msg : "?");
                }
                if (os.distribution)
                        recognized++;
                disk_os_clear(&os);
                while (k-- > 0)
                        if (pwrite(fd, &old[k], 1, (off_t) at[k]) != 1)
                                bad++;
        }
        if (fd >= 0)
                close(fd);
        is_int(bad, 0, "3000 disks with damaged metadata read without error");
        printf("#   %d of them still gave a distribution\n", recognized);
}

/* File systems whose metadata libext2fs would believe to its harm, made with debugfs:
 *   - a superblock that claims 2^32 - 1 groups of 8 blocks: libext2fs allocates the whole
 *     group descriptor table (256 GiB here) before it reads it, so kiln checks its size first
 *     (under ASan the allocation alone aborts);
 *   - an inline-data symlink whose size (60) is shorter than its data (a 71-byte target):
 *     libext2fs 1.47's ext2fs_namei_follow copies all of the data into a buffer of the size,
 *     so kiln walks paths itself. The link, cut to 60 bytes, names /usr/lib: os-release is
 *     then found there. */
static void test_hostile_ext(void)
{
        static const char *const opts[] = {"-t", "ext4", "-b", "4096", "-O", "inline_data", NULL};
        static const char *const groups =
                "ssv blocks_per_group 8\nssv clusters_per_group 8\nssv inodes_per_group 1\n"
                "ssv blocks_count 34359738360\nssv inodes_count 4294967295\n";
        kiln_autofree char *tree = tpath("t-hostile");
        kiln_autofree char *fs = tpath("hostile.fs");
        kiln_autofree char *disk = tpath("hostile.raw");
        kiln_autofree char *stats = NULL, *stat = NULL;

        put(tree, "usr/lib/os-release", "ID=ubuntu\nVERSION_ID=\"24.04\"\n");
        put_link(tree, "etc/os-release",
                 "../usr/lib/./././././././././././././././././././././././././os-release");
        if (!ok(make_fs(tree, fs, opts) == 0, "hostile: mke2fs -O inline_data -d"))
                return;
        stat = debugfs_r(fs, "stat /etc/os-release");
        like(stat, "Flags: 0x10000000", "hostile: fixture: the symlink is inline data");
        ok(debugfs_w(fs, "sif /etc/os-release size 60\n") == 0,
           "hostile: the symlink's size set to 60");
        free(stat);
        stat = debugfs_r(fs, "stat /etc/os-release");
        like(stat, "Size: 60", "hostile: fixture: the symlink says 60 bytes");
        ok(make_disk(fs, disk, LAYOUT_MBR) == 0, "hostile: MBR disk");
        check("an inline symlink shorter than its data", disk, "raw", "linux", "ubuntu", "24.04",
              NULL, "ubuntu");

        ok(debugfs_w(fs, groups) == 0, "hostile: the superblock claims 2^32 - 1 groups");
        stats = debugfs_r(fs, "stats");
        ok(strstr(stats, "Inode count") == NULL,
           "hostile: fixture: debugfs cannot open it (it allocates the whole table first)");
        ok(make_disk(fs, disk, LAYOUT_GPT) == 0, "hostile: GPT disk");
        check("a superblock claiming 2^32 - 1 groups", disk, "raw", NULL, NULL, NULL, NULL, NULL);
}

/* Boot sectors and superblocks of other systems, hand-made. */
static void test_signatures(void)
{
        static const uint8_t xfs_magic[] = {'X', 'F', 'S', 'B', 0, 0, 0x10, 0};
        static const uint8_t btrfs_magic[] = {'_', 'B', 'H', 'R', 'f', 'S', '_', 'M'};
        kiln_autofree char *ntfs = tpath("ntfs.raw");
        kiln_autofree char *ntfs_mbr = tpath("ntfs-mbr.raw");
        kiln_autofree char *xfs = tpath("xfs.raw");
        kiln_autofree char *btrfs = tpath("btrfs.raw");
        kiln_autofree uint8_t *buf = kiln_xcalloc(1, 4 * MIB);
        uint8_t *part = buf + MIB;

        /* an NTFS boot sector on the whole disk */
        memcpy(buf, ntfs_boot, sizeof(ntfs_boot));
        buf[510] = 0x55;
        buf[511] = 0xaa;
        put_data(ntfs, buf, 4 * MIB);
        check("NTFS on the whole disk", ntfs, "raw", "windows", NULL, NULL, NULL, "Administrator");

        /* an MBR with one NTFS partition (type 7) at 1 MiB */
        memset(buf, 0, 4 * MIB);
        mbr_entry(buf, 0, 0x80, 0x07, 2048, 4096);
        memcpy(part, ntfs_boot, sizeof(ntfs_boot));
        part[510] = 0x55;
        part[511] = 0xaa;
        put_data(ntfs_mbr, buf, 4 * MIB);
        check("NTFS partition", ntfs_mbr, "raw", "windows", NULL, NULL, NULL, "Administrator");

        /* an XFS superblock in a partition: Linux, distribution unknown */
        memset(part, 0, 512);
        mbr_entry(buf, 0, 0x80, 0x83, 2048, 4096);
        memcpy(part, xfs_magic, sizeof(xfs_magic));
        put_data(xfs, buf, 4 * MIB);
        check("XFS partition", xfs, "raw", "linux", NULL, NULL, NULL, NULL);

        memset(part, 0, 512);
        memcpy(part + 65536 + 64, btrfs_magic, sizeof(btrfs_magic));
        put_data(btrfs, buf, 4 * MIB);
        check("btrfs partition", btrfs, "raw", "linux", NULL, NULL, NULL, NULL);
}

static void test_errors(void)
{
        kiln_autofree char *missing = tpath("missing.qcow2");
        kiln_autofree char *zeros = tpath("zeros.raw");
        disk_os os = {0};

        {
                kiln_autoptr(kiln_error) err = NULL;

                is_int(disk_detect_os(missing, "raw", &os, &err), -1, "a missing raw file fails");
                is_int(err ? err->code : 0, KILN_E_IO, "  with KILN_E_IO");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                is_int(disk_detect_os(missing, "qcow2", &os, &err), -1,
                       "a missing qcow2 file fails");
                is_int(err ? err->code : 0, KILN_E_IO, "  with KILN_E_IO");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                is_int(disk_detect_os(zeros, "raw,file.driver=nbd", &os, &err), -1,
                       "a format with options is refused");
                is_int(err ? err->code : 0, KILN_E_INVALID, "  with KILN_E_INVALID");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                is_int(disk_detect_os(zeros, "qcow2", &os, &err), -1,
                       "a raw file read as qcow2 fails");
                like(err ? err->msg : NULL, "qemu-nbd", "  with qemu-nbd's message");
                if (err)
                        printf("#   %s\n", err->msg);
        }
        ok(os.platform == NULL, "the result is untouched on failure");
}

/* The cached Debian 12 guest image, if this machine has built it. */
static void test_real_image(void)
{
        glob_t g = {0};

        if (glob("/var/cache/kiln/images/debian12-*.qcow2", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
                ok(1, "# SKIP no cached debian12 image");
                globfree(&g);
                return;
        }
        for (int i = 0; i < 3; i++)
                check("the debian12 test image", g.gl_pathv[0], "qcow2", "linux", "debian", "12",
                      "Debian GNU/Linux 12 (bookworm)", "admin");
        globfree(&g);
}

/* KILN_DEBUG=1: the library's debug lines (tools run, chunks read) as TAP comments. */
static void log_comment(kiln_log_level level, const char *msg, void *userdata)
{
        (void) level;
        (void) userdata;
        printf("# %s\n", msg);
}

int main(void)
{
        static const char *const tools[] = {"mke2fs",   "debugfs",  "e2fsck", "sfdisk",
                                            "qemu-img", "qemu-nbd", "dd"};
        const char *base = getenv("TMPDIR");

        for (size_t i = 0; i < KILN_ARRAY_SIZE(tools); i++) {
                kiln_autofree char *p = kiln_find_program(tools[i]);

                if (!p) {
                        printf("1..0 # SKIP %s is not installed\n", tools[i]);
                        return 77;
                }
        }
        if (getenv("KILN_DEBUG"))
                kiln_log_set_handler(log_comment, KILN_LOG_DEBUG, NULL);
        tmp = kiln_xasprintf("%s/kiln-unit-detect.XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(tmp)) {
                printf("Bail out! cannot create a directory: %s\n", strerror(errno));
                return 1;
        }
        test_debian();
        test_ubuntu_inline();
        test_centos_many();
        test_fedora_extents();
        test_alma_ext2();
        test_damaged();
        test_damage_targeted();
        test_hostile_ext();
        test_signatures();
        test_errors();
        test_real_image();
        run("rm", "-rf", tmp, NULL);
        free(tmp);
        return done();
}
