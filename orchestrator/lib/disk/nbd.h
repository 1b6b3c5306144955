/* The guest-visible bytes of a disk image in any format qemu reads (qcow2, vmdk, vhdx, raw...),
 * without root, mounts or the nbd kernel module: qemu-nbd serves the image read-only to this
 * process alone over a socket it inherits, and libnbd reads from it. */
#ifndef KILN_DISK_NBD_H
#define KILN_DISK_NBD_H

#include <stddef.h>
#include <stdint.h>

#include <kiln/error.h>

typedef struct disk_nbd disk_nbd;

/* Starts qemu-nbd on PATH (read-only, format FORMAT as qemu-img info names it, never probed)
 * and completes the NBD handshake. KILN_E_UNSUPPORTED if qemu-nbd is not installed;
 * KILN_E_IO with qemu-nbd's message if it cannot open the image; KILN_E_LIMIT if it went over
 * its CPU time doing so; KILN_E_TIMEOUT if it did not answer. */
disk_nbd *disk_nbd_open(const char *path, const char *format, kiln_error **err);
/* Disconnects and reaps qemu-nbd. NULL-safe; returns NULL. */
disk_nbd *disk_nbd_close(disk_nbd *nbd);
/* Size of the guest-visible disk in bytes. */
uint64_t disk_nbd_size(const disk_nbd *nbd);
/* Reads LEN bytes at OFFSET; the range must lie within the disk (KILN_E_INVALID otherwise).
 * KILN_E_IO if the server reports an error or the connection fails, KILN_E_TIMEOUT if it does
 * not answer. */
int disk_nbd_read(disk_nbd *nbd, uint64_t offset, void *buf, size_t len, kiln_error **err);

KILN_DEFINE_AUTOPTR(disk_nbd, disk_nbd_close)

#endif
