/* OS detection (disk/detect.c) on a raw disk that is the input itself: the partition tables
 * (GPT at either end, MBR and its chain of extended boot records), the file-system probes and
 * the ext reader all see hostile bytes. The input goes into a memfd, which detection opens
 * through /proc/self/fd as it would open a raw file.
 *
 * Checked: a disk that can be read is never an error, and what is found is fit for the
 * registry (a known platform; values of 1 to 256 bytes without control characters).
 *
 * Seeds: small hand-made disks in tests/fuzz/corpus/detect, and the ext2/ext4 disks with an
 * os-release and cloud-init files that tests/fuzz/make-disks.sh writes at run time. */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "disk/detect.h"
#include "fuzz.h"

static int disk_fd = -1;
static char disk_path[64];

static void check_value(const char *v)
{
        if (!v)
                return;
        FUZZ_CHECK(strlen(v) > 0 && strlen(v) <= 256);
        for (const unsigned char *p = (const unsigned char *) v; *p; p++)
                FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void) argc, (void) argv;
        disk_fd = memfd_create("fuzz-detect", MFD_CLOEXEC);
        FUZZ_CHECK(disk_fd >= 0);
        snprintf(disk_path, sizeof(disk_path), "/proc/self/fd/%d", disk_fd);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        kiln_autoptr(kiln_error) err = NULL;
        disk_os os = {0};
        size_t done = 0;

        FUZZ_CHECK(ftruncate(disk_fd, 0) == 0);
        while (done < size) {
                ssize_t n = pwrite(disk_fd, data + done, size - done, (off_t) done);

                FUZZ_CHECK(n > 0 || (n < 0 && errno == EINTR));
                if (n > 0)
                        done += (size_t) n;
        }
        if (disk_detect_os(disk_path, "raw", &os, &err) < 0) {
                fprintf(stderr, "detect: %s\n", err->msg);
                FUZZ_CHECK(!"a readable raw disk is an error");
        }
        FUZZ_CHECK(!os.platform || strcmp(os.platform, "linux") == 0 ||
                   strcmp(os.platform, "windows") == 0);
        check_value(os.distribution);
        check_value(os.version);
        check_value(os.pretty_name);
        check_value(os.default_user);
        disk_os_clear(&os);
        return 0;
}
