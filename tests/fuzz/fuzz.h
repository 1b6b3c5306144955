/* What the libFuzzer harnesses of tests/fuzz share: libFuzzer's entry points (declared here so
 * that -Wmissing-prototypes holds), a check that aborts whatever NDEBUG says (libFuzzer then
 * keeps the input as a crash), the input as a C string, and a private scratch directory that
 * is removed with its contents when the harness exits. */
#ifndef KILN_FUZZ_H
#define KILN_FUZZ_H

#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property of the code under test that this input broke. */
#define FUZZ_CHECK(cond)                                                                           \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

/* The input up to its first NUL, NUL-terminated, for the caller to free: what a C string read
 * from a file or an argument would hold. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
        char *s = kiln_xmalloc(size + 1);

        if (size)
                memcpy(s, data, size);
        s[size] = '\0';
        return s;
}

static inline char *fuzz_dir_path(void)
{
        static char path[PATH_MAX];

        return path;
}

static inline int fuzz_dir_remove_entry(const char *path, const struct stat *st, int flag,
                                        struct FTW *ftw)
{
        (void) st, (void) flag, (void) ftw;
        remove(path);
        return 0;
}

static inline void fuzz_dir_remove(void)
{
        if (fuzz_dir_path()[0])
                nftw(fuzz_dir_path(), fuzz_dir_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh 0700 directory under TMPDIR (or /tmp), the same on every call, removed at exit. A
 * harness without it would test nothing: it aborts if the directory cannot be made. */
static inline const char *fuzz_dir(void)
{
        char *path = fuzz_dir_path();
        const char *tmp = getenv("TMPDIR");
        int n;

        if (path[0])
                return path;
        n = snprintf(path, PATH_MAX, "%s/kiln-fuzz-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
        FUZZ_CHECK(n > 0 && n < PATH_MAX);
        FUZZ_CHECK(mkdtemp(path) != NULL);
        atexit(fuzz_dir_remove);
        return path;
}

#endif
