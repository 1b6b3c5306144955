/* Which operating system a disk image holds, read from the disk itself without root, mounts or a
 * copy: the partition table (MBR, extended partitions, GPT), then each partition's file system.
 * On ext2/3/4 (read with libext2fs) it reads os-release (ID, VERSION_ID, PRETTY_NAME) and
 * cloud-init's default user; an NTFS partition means Windows. Other Linux file systems (XFS,
 * btrfs, LVM) are recognized as Linux but not read. Images other than raw are read through
 * qemu-nbd (see nbd.h). */
#ifndef KILN_DISK_DETECT_H
#define KILN_DISK_DETECT_H

#include <kiln/error.h>

typedef struct disk_os {
        char *platform;     /* "linux", "windows", or NULL if nothing was recognized */
        char *distribution; /* os-release ID: "debian", "ubuntu", "centos", ...; NULL if unknown */
        char *version;      /* os-release VERSION_ID: "12", "22.04", ...; NULL if unknown */
        char *pretty_name;  /* os-release PRETTY_NAME; NULL if unknown */
        char *default_user; /* cloud-init's default user, else the distribution's usual cloud
                             * user, "Administrator" on Windows; NULL if unknown */
} disk_os;

void disk_os_clear(disk_os *os);

/* Reads the disk at PATH, of FORMAT as qemu-img info names it ("raw", "qcow2", "vmdk", ...).
 * Returns 0 and fills *ret, whose platform is NULL if nothing was recognized; damaged or
 * hostile content is not an error, it is simply not recognized. Returns -1 only if the disk
 * cannot be read at all (KILN_E_IO: no such file, qemu-nbd cannot open it or fails) or FORMAT
 * is not a format name (KILN_E_INVALID); *ret is then untouched. The time taken does not grow
 * with the size of the disk: only the metadata on the way to a few small files is read. */
int disk_detect_os(const char *path, const char *format, disk_os *ret, kiln_error **err);

#endif
