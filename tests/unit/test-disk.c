/* qemu-img and qemu-nbd run under resource limits (disk/disk.c, disk/nbd.c): stand-ins for both,
 * put first on PATH, print the limits they were started with on stderr and fail, so that the
 * error of disk_inspect, disk_convert_qcow2 and disk_nbd_open shows what reached them. Then the
 * real qemu-img (if installed) inspects and converts a small disk under those limits, and the
 * CPU time a convert may take is checked against its rule. Everything goes into a mkdtemp
 * directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk/disk.h"
#include "disk/nbd.h"
#include "tap.h"
#include "util/util.h"

#define GIB (1ULL << 30)
#define MIB (1ULL << 20)

static char *tmp;

/* Prints its limits, its environment's MALLOC_ARENA_MAX and its first argument, and fails. */
static const char fake_tool[] = "#!/bin/sh\n"
                                "echo \"limits $(ulimit -v) $(ulimit -t) $(ulimit -c) "
                                "${MALLOC_ARENA_MAX:-none} $1\" >&2\n"
                                "exit 1\n";

static int write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
        FILE *f = fopen(path, "wb");
        int r;

        if (!f)
                return -1;
        r = fwrite(buf, 1, len, f) == len ? 0 : -1;
        if (fclose(f) != 0)
                r = -1;
        return r == 0 ? chmod(path, mode) : -1;
}

/* A 1 MiB raw disk: zeros behind an MBR boot signature. */
static char *make_disk(const char *name)
{
        char *path = kiln_xasprintf("%s/%s", tmp, name);
        unsigned char *buf = kiln_xcalloc(1, MIB);

        buf[510] = 0x55;
        buf[511] = 0xaa;
        if (write_file(path, buf, MIB, 0644) < 0)
                printf("# cannot write '%s': %s\n", path, strerror(errno));
        free(buf);
        return path;
}

static const char *msg(const kiln_error *e)
{
        return e && e->msg ? e->msg : "(no error)";
}

static void test_limits_reach_tools(const char *disk)
{
        kiln_autofree char *bin = kiln_xasprintf("%s/bin", tmp);
        kiln_autofree char *img = kiln_xasprintf("%s/qemu-img", bin);
        kiln_autofree char *nbd = kiln_xasprintf("%s/qemu-nbd", bin);
        kiln_autofree char *old_path =
                kiln_xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
        kiln_autofree char *path = kiln_xasprintf("%s:%s", bin, old_path);
        kiln_autofree char *dst = kiln_xasprintf("%s/out.qcow2", tmp);

        if (mkdir(bin, 0700) < 0 || write_file(img, fake_tool, strlen(fake_tool), 0755) < 0 ||
            write_file(nbd, fake_tool, strlen(fake_tool), 0755) < 0) {
                ok(0, "cannot write the stand-in tools in '%s': %s", bin, strerror(errno));
                return;
        }
        setenv("PATH", path, 1);
        {
                kiln_autoptr(kiln_error) err = NULL;
                disk_info info = {0};

                is_int(disk_inspect(disk, &info, &err), -1, "disk_inspect runs the stand-in");
                like(msg(err), "limits 1048576 30 0 2 info",
                     "  qemu-img info gets 1 GiB of address space, 30 s of CPU, no core, "
                     "MALLOC_ARENA_MAX=2: %s",
                     msg(err));
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                is_int(disk_convert_qcow2(disk, "raw", 5 * GIB, dst, &err), -1,
                       "disk_convert_qcow2 runs the stand-in");
                like(msg(err), "limits 2097152 240 0 2 convert",
                     "  qemu-img convert gets 2 GiB of address space and 240 s of CPU for 5 GiB "
                     "of virtual size in a 1 MiB file: %s",
                     msg(err));
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autoptr(disk_nbd) n = disk_nbd_open(disk, "raw", &err);

                ok(n == NULL, "disk_nbd_open runs the stand-in, which fails");
                like(msg(err), "limits 1048576 60 0 2 --read-only",
                     "  qemu-nbd gets 1 GiB of address space, 60 s of CPU, no core, "
                     "MALLOC_ARENA_MAX=2: %s",
                     msg(err));
        }
        setenv("PATH", old_path, 1);
        unlink(img);
        unlink(nbd);
        rmdir(bin);
}

/* The real tools still do their work under the limits. */
static void test_real_qemu_img(const char *disk)
{
        kiln_autofree char *prog = kiln_find_program("qemu-img");
        kiln_autofree char *dst = kiln_xasprintf("%s/real.qcow2", tmp);
        kiln_autoptr(kiln_error) err = NULL;
        disk_info info = {0}, out = {0};

        if (!prog) {
                ok(1, "# SKIP qemu-img is not installed");
                return;
        }
        is_int(disk_inspect(disk, &info, &err), 0, "qemu-img info works under its limits: %s",
               msg(err));
        is_int(disk_convert_qcow2(disk, "raw", info.virtual_size, dst, &err), 0,
               "qemu-img convert works under its limits: %s", msg(err));
        is_int(disk_inspect(dst, &out, &err), 0, "  and its output is a disk");
        is_str(out.format, "qcow2", "  in qcow2");
        is_int(out.virtual_size, MIB, "  of the same size");
        disk_info_clear(&info);
        disk_info_clear(&out);
        unlink(dst);
}

static void test_cpu_rule(void)
{
        is_int(disk_convert_cpu_limit(0, 0), 120, "convert CPU: 120 s for nothing");
        is_int(disk_convert_cpu_limit(2 * GIB, 2 * GIB), 180,
               "convert CPU: 120 s + 30 s per GiB of virtual size (2 GiB raw: 180 s)");
        is_int(disk_convert_cpu_limit(2 * GIB, 600 * MIB), 180,
               "  a compressed 2 GiB image in 600 MiB: 180 s");
        is_int(disk_convert_cpu_limit(2 * GIB + 1, 2 * GIB + 1), 210,
               "  a part of a GiB counts as one");
        is_int(disk_convert_cpu_limit(64ULL << 40, GIB), 240,
               "  64 TiB claimed by a 1 GiB file: capped at 120 s + 120 s per GiB of file");
        is_int(disk_convert_cpu_limit(64ULL << 40, 64ULL << 40), 120 + 30 * 65536,
               "  a real 64 TiB raw disk: 30 s per GiB");
}

int main(void)
{
        const char *base = getenv("KILN_TEST_TMPDIR");
        kiln_autofree char *tmpl = NULL;
        kiln_autofree char *disk = NULL;

        if (!base)
                base = getenv("TMPDIR");
        if (!base)
                base = "/tmp";
        tmpl = kiln_xasprintf("%s/kiln-test-disk-XXXXXX", base);
        if (!mkdtemp(tmpl)) {
                printf("Bail out! cannot create a directory in %s: %s\n", base, strerror(errno));
                return 1;
        }
        tmp = tmpl;
        disk = make_disk("disk.raw");

        test_limits_reach_tools(disk);
        test_real_qemu_img(disk);
        test_cpu_rule();

        unlink(disk);
        rmdir(tmp);
        return done();
}
