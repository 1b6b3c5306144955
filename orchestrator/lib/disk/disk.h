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
/* qemu-img info --output=json, under limits (1 GiB of address space, 30 s of CPU);
 * KILN_E_INVALID if the file is not a disk image kiln accepts, KILN_E_LIMIT if qemu-img went
 * over its CPU time. */
int disk_inspect(const char *path, disk_info *ret, kiln_error **err);
/* Refuses backing files, data files and formats other than raw and qcow2. */
int disk_check_standalone(const char *path, const disk_info *info, kiln_error **err);
/* For a downloaded file: refuses backing files, data files, vmdk extent files, formats other
 * than raw, qcow2, vmdk and vhdx, an absurd virtual size (over 64 TiB) and a raw file that has
 * no partition table (a raw file is whatever qemu-img cannot name, so it must look like a
 * disk). KILN_E_INVALID naming the reason. */
int disk_check_importable(const char *path, const disk_info *info, kiln_error **err);
/* Writes DST as a standalone qcow2 copy of SRC (of format src_format, virtual_size bytes as
 * disk_inspect read it), under limits: 2 GiB of address space, and the CPU time of
 * disk_convert_cpu_limit (KILN_E_LIMIT when qemu-img goes over it). */
int disk_convert_qcow2(const char *src, const char *src_format, uint64_t virtual_size,
                       const char *dst, kiln_error **err);
/* The CPU seconds a convert may take: 120 plus 30 per GiB of virtual size, that part capped at
 * 120 per GiB of the file (see disk.c). */
unsigned disk_convert_cpu_limit(uint64_t virtual_size, uint64_t file_size);
/* Rewrites the backing file name in a qcow2 header without touching data (qemu-img rebase
 * -u); backing NULL makes the file standalone. */
int disk_set_backing(const char *path, const char *backing, kiln_error **err);

#endif
