/* qemu-img as the one tool that reads and writes disk formats.
 *
 * The files it opens may come from anywhere (import-image downloads them), and a crafted image
 * can make a qemu-img that parses it allocate without end or loop (CVE-2015-5162), so info and
 * convert run under resource limits (kiln_cmd_set_limits). What they need, measured with
 * qemu-img 7.2 on 2 GiB images (raw, qcow2, zlib- and zstd-compressed qcow2, streamOptimized
 * vmdk, vhdx; 2 cores):
 *
 *   info      under 20 MiB of address space, under 0.1 s of CPU: the limits are OpenStack's
 *             (1 GiB, 30 s)
 *   convert   runs in 95 to 254 MiB of address space with MALLOC_ARENA_MAX=2 (the least that
 *             worked; without that variable it peaks at 550 to 850 MiB: one 64 MiB malloc arena
 *             per thread); up to 9.3 s of CPU per GiB of virtual size (a zlib-compressed qcow2
 *             of text: 16 to 19 s for 2 GiB; raw, qcow2, vmdk, vhdx 2.5 to 7.5 s)
 *
 * so convert gets 2 GiB of address space (8x) and 120 s of CPU plus 30 s per GiB of virtual
 * size (3x the worst measured), but no more than 120 s plus 120 s per GiB of the file: honest
 * work grows with the data, which compression makes at most some times larger than the file,
 * while a compression bomb claims a huge virtual size for a small file. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "disk/disk.h"
#include "util/util.h"

#define DISK_INFO_AS          (1ULL << 30)
#define DISK_INFO_CPU_S       30
#define DISK_CONVERT_AS       (2ULL << 30)
#define DISK_CONVERT_CPU_S    120
#define DISK_CONVERT_CPU_VIRT 30  /* s per GiB of virtual size */
#define DISK_CONVERT_CPU_FILE 120 /* s per GiB of the file, the cap of the above */

void disk_info_clear(disk_info *info)
{
        free(info->format);
        free(info->backing_file);
        memset(info, 0, sizeof(*info));
}

int disk_inspect(const char *path, disk_info *ret, kiln_error **err)
{
        kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("qemu-img", "info", "--output=json", path, NULL);
        kiln_autofree char *out = NULL;
        disk_info info = {0};
        json_error_t jerr;
        json_t *root, *v, *spec;

        if (access(path, R_OK) < 0)
                return kiln_error_set_errno(err, errno, KILN_E_INVALID, "cannot read the disk '%s'",
                                            path);
        kiln_cmd_set_limits(cmd, DISK_INFO_AS, DISK_INFO_CPU_S);
        if (kiln_cmd_run(cmd, &out, err) < 0) {
                kiln_error_prefix(err, "'%s' is not a disk image qemu-img can read", path);
                return -1;
        }
        root = json_loads(out, 0, &jerr);
        if (!root || !json_is_object(root)) {
                json_decref(root);
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "qemu-img info gave no usable answer for '%s'", path);
        }
        v = json_object_get(root, "format");
        info.format = kiln_xstrdup(json_is_string(v) ? json_string_value(v) : "unknown");
        v = json_object_get(root, "virtual-size");
        info.virtual_size = json_is_integer(v) ? (uint64_t) json_integer_value(v) : 0;
        v = json_object_get(root, "actual-size");
        info.actual_size = json_is_integer(v) ? (uint64_t) json_integer_value(v) : 0;
        v = json_object_get(root, "backing-filename");
        if (!v)
                v = json_object_get(root, "full-backing-filename");
        info.backing_file = json_is_string(v) ? kiln_xstrdup(json_string_value(v)) : NULL;
        spec = json_object_get(json_object_get(root, "format-specific"), "data");
        info.data_file = spec && json_object_get(spec, "data-file") != NULL;
        if (strcmp(info.format, "vmdk") == 0) {
                const char *type = json_string_value(json_object_get(spec, "create-type"));

                /* Only the single-file variants hold their own data. */
                info.extents = !type || (strcmp(type, "monolithicSparse") != 0 &&
                                         strcmp(type, "streamOptimized") != 0);
        }
        json_decref(root);
        *ret = info;
        return 0;
}

int disk_check_standalone(const char *path, const disk_info *info, kiln_error **err)
{
        if (info->backing_file)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The disk '%s' names a backing file ('%s'); give a "
                                      "standalone image",
                                      path, info->backing_file);
        if (info->data_file)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The disk '%s' names an external data file; give a "
                                      "standalone image",
                                      path);
        if (strcmp(info->format, "raw") != 0 && strcmp(info->format, "qcow2") != 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The disk '%s' is in format '%s'; raw and qcow2 are "
                                      "accepted",
                                      path, info->format);
        if (info->virtual_size == 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The disk '%s' is empty", path);
        return 0;
}

#define DISK_MAX_VIRTUAL (64ULL << 40)

/* A raw file that looks like a disk: an MBR boot signature (also the protective MBR of GPT). */
static bool raw_has_partition_table(const char *path)
{
        unsigned char sector[512];
        FILE *f = fopen(path, "rbe");
        bool ok;

        if (!f)
                return false;
        ok = fread(sector, 1, sizeof(sector), f) == sizeof(sector) && sector[510] == 0x55 &&
             sector[511] == 0xAA;
        fclose(f);
        return ok;
}

int disk_check_importable(const char *path, const disk_info *info, kiln_error **err)
{
        static const char *const formats[] = {"raw", "qcow2", "vmdk", "vhdx"};
        bool known = false;

        if (info->backing_file)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The disk '%s' names a backing file ('%s'): refused, "
                                      "opening it would read a file of this host",
                                      path, info->backing_file);
        if (info->data_file)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The disk '%s' names an external data file: refused, "
                                      "opening it would read a file of this host",
                                      path);
        if (info->extents)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The vmdk '%s' keeps its data in other files: only "
                                      "monolithicSparse and streamOptimized vmdk are accepted",
                                      path);
        for (size_t i = 0; i < KILN_ARRAY_SIZE(formats); i++)
                known = known || strcmp(info->format, formats[i]) == 0;
        if (!known)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The disk '%s' is in format '%s'; raw, qcow2, vmdk and vhdx "
                                      "are accepted",
                                      path, info->format);
        if (info->virtual_size == 0 || info->virtual_size > DISK_MAX_VIRTUAL)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The disk '%s' has a virtual size of %llu bytes: refused "
                                      "(more than 0 and at most 64 TiB)",
                                      path, (unsigned long long) info->virtual_size);
        if (strcmp(info->format, "raw") == 0 && !raw_has_partition_table(path))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "'%s' is not a disk image: no format qemu-img knows and no "
                                      "partition table",
                                      path);
        return 0;
}

unsigned disk_convert_cpu_limit(uint64_t virtual_size, uint64_t file_size)
{
        uint64_t virt_gib = (virtual_size + (1ULL << 30) - 1) >> 30;
        uint64_t file_gib = (file_size + (1ULL << 30) - 1) >> 30;
        uint64_t s = virt_gib * DISK_CONVERT_CPU_VIRT;

        if (s > file_gib * DISK_CONVERT_CPU_FILE)
                s = file_gib * DISK_CONVERT_CPU_FILE;
        s += DISK_CONVERT_CPU_S;
        return s > UINT_MAX ? UINT_MAX : (unsigned) s;
}

int disk_convert_qcow2(const char *src, const char *src_format, uint64_t virtual_size,
                       const char *dst, kiln_error **err)
{
        kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("qemu-img", "convert", "-q", "-f", src_format,
                                                  "-O", "qcow2", src, dst, NULL);
        struct stat st;

        if (stat(src, &st) < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot stat '%s'", src);
        kiln_cmd_set_limits(cmd, DISK_CONVERT_AS,
                            disk_convert_cpu_limit(virtual_size, (uint64_t) st.st_size));
        return kiln_cmd_run(cmd, NULL, err);
}

int disk_set_backing(const char *path, const char *backing, kiln_error **err)
{
        kiln_autoptr(kiln_cmd) cmd = NULL;

        if (backing)
                cmd = kiln_cmd_new("qemu-img", "rebase", "-u", "-f", "qcow2", "-F", "qcow2", "-b",
                                   backing, path, NULL);
        else
                cmd = kiln_cmd_new("qemu-img", "rebase", "-u", "-f", "qcow2", "-b", "", path, NULL);
        return kiln_cmd_run(cmd, NULL, err);
}
