/* Disk files on the local host, through qemu-img: what a file is, and turning it into the
 * qcow2 that snapshots are made of. A disk that names a backing file or an external data file
 * is refused: opening it would make the host read a file the disk's author chose. */
#ifndef KILN_DISK_H
#define KILN_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include <kiln/error.h>

typedef struct disk_info {
        char *format;          /* raw, qcow2, vmdk, vhdx, ... */
        uint64_t virtual_size; /* bytes */
        uint64_t actual_size;  /* bytes allocated on the host */
        char *backing_file;    /* NULL if none */
        bool data_file;        /* qcow2 with an external data file */
        bool extents;          /* vmdk whose data lives in files named by its descriptor */
} disk_info;

void disk_info_clear(disk_info *info);
/* qemu-img info --output=json; KILN_E_INVALID if the file is not a disk image kiln accepts. */
int disk_inspect(const char *path, disk_info *ret, kiln_error **err);
/* Refuses backing files, data files and formats other than raw and qcow2. */
int disk_check_standalone(const char *path, const disk_info *info, kiln_error **err);
/* For a downloaded file: refuses backing files, data files, vmdk extent files, formats other
 * than raw, qcow2, vmdk and vhdx, an absurd virtual size (over 64 TiB) and a raw file that has
 * no partition table (a raw file is whatever qemu-img cannot name, so it must look like a
 * disk). KILN_E_INVALID naming the reason. */
int disk_check_importable(const char *path, const disk_info *info, kiln_error **err);
/* Writes DST as a standalone qcow2 copy of SRC (of format src_format). */
int disk_convert_qcow2(const char *src, const char *src_format, const char *dst, kiln_error **err);
/* Rewrites the backing file name in a qcow2 header without touching data (qemu-img rebase
 * -u); backing NULL makes the file standalone. */
int disk_set_backing(const char *path, const char *backing, kiln_error **err);

#endif
