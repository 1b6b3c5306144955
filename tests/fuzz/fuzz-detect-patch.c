/* OS detection (disk/detect.c) on a real disk with a few bytes changed: a GPT disk whose ext4
 * partition holds os-release, cloud-init's configuration and symbolic links, made by
 * tests/fuzz/make-disks.sh (base.img next to this program in disks/, or KILN_FUZZ_DISK). A
 * whole disk is too large for the fuzzer to mutate well; patches reach the deep paths (extent
 * trees, directories, inodes, symlinks, the YAML of cloud.cfg) that random disks never get to.
 *
 * The input is a list of patches, each 4 bytes of offset (little-endian, modulo the disk size),
 * 1 byte of length and that many bytes; a short last record is ignored. make-disks.sh also
 * writes seeds that patch the disk's structures with their own bytes (superblock, group
 * descriptors, inode tables, directories, files), so mutation starts from a disk that works.
 *
 * Checked: the patched disk is never an error (it can be read), and what is found is fit for
 * the registry. The base disk itself must be found to be Debian 12 with the user "admin". */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "disk/detect.h"
#include "fuzz.h"

#define MAX_PATCHES 64

static int disk_fd = -1;
static char disk_path[64];
static uint8_t *base;
static size_t base_size;

static void write_at(const uint8_t *p, size_t len, uint64_t off)
{
        size_t done = 0;

        while (done < len) {
                ssize_t n = pwrite(disk_fd, p + done, len - done, (off_t) (off + done));

                FUZZ_CHECK(n > 0 || (n < 0 && errno == EINTR));
                if (n > 0)
                        done += (size_t) n;
        }
}

static void check_value(const char *v)
{
        if (!v)
                return;
        FUZZ_CHECK(strlen(v) > 0 && strlen(v) <= 256);
        for (const unsigned char *p = (const unsigned char *) v; *p; p++)
                FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
}

static void detect(disk_os *os)
{
        kiln_autoptr(kiln_error) err = NULL;

        if (disk_detect_os(disk_path, "raw", os, &err) < 0) {
                fprintf(stderr, "detect: %s\n", err->msg);
                FUZZ_CHECK(!"a readable raw disk is an error");
        }
        FUZZ_CHECK(!os->platform || strcmp(os->platform, "linux") == 0 ||
                   strcmp(os->platform, "windows") == 0);
        check_value(os->distribution);
        check_value(os->version);
        check_value(os->pretty_name);
        check_value(os->default_user);
}

/* The base disk: KILN_FUZZ_DISK, else disks/base.img in this program's directory. */
static char *base_disk_path(void)
{
        const char *env = getenv("KILN_FUZZ_DISK");
        char exe[PATH_MAX];
        ssize_t n;

        if (env && *env)
                return kiln_xstrdup(env);
        n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        FUZZ_CHECK(n > 0);
        exe[n] = '\0';
        *strrchr(exe, '/') = '\0';
        return kiln_xasprintf("%s/disks/base.img", exe);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        kiln_autofree char *path = base_disk_path();
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autofree char *text = NULL;
        disk_os os = {0};

        (void) argc, (void) argv;
        if (kiln_file_read(path, (size_t) 64 << 20, &text, &base_size, &err) < 0) {
                fprintf(stderr, "detect-patch: %s (tests/fuzz/make-disks.sh makes it)\n", err->msg);
                exit(1);
        }
        base = (uint8_t *) kiln_steal(&text);
        disk_fd = memfd_create("fuzz-detect-patch", MFD_CLOEXEC);
        FUZZ_CHECK(disk_fd >= 0 && base_size > 0);
        snprintf(disk_path, sizeof(disk_path), "/proc/self/fd/%d", disk_fd);
        write_at(base, base_size, 0);
        detect(&os);
        FUZZ_CHECK(os.distribution && strcmp(os.distribution, "debian") == 0);
        FUZZ_CHECK(os.version && strcmp(os.version, "12") == 0);
        FUZZ_CHECK(os.default_user && strcmp(os.default_user, "admin") == 0);
        disk_os_clear(&os);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint64_t off[MAX_PATCHES];
        size_t len[MAX_PATCHES], n = 0, pos = 0;
        disk_os os = {0};

        while (n < MAX_PATCHES && pos + 5 <= size) {
                uint64_t o = ((uint64_t) data[pos] | (uint64_t) data[pos + 1] << 8 |
                              (uint64_t) data[pos + 2] << 16 | (uint64_t) data[pos + 3] << 24) %
                             base_size;
                size_t l = data[pos + 4];

                pos += 5;
                if (l > size - pos)
                        break;
                if (l > base_size - o)
                        l = (size_t) (base_size - o);
                write_at(data + pos, l, o);
                off[n] = o;
                len[n] = l;
                n++;
                pos += data[pos - 1];
        }
        detect(&os);
        disk_os_clear(&os);
        for (size_t i = 0; i < n; i++)
                write_at(base + off[i], len[i], off[i]);
        return 0;
}
