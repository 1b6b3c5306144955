/* Files: whole-file reads with a size cap, and program lookup on PATH. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "util/util.h"

int kiln_file_read(const char *path, size_t max, char **ret, size_t *ret_len, kiln_error **err)
{
        kiln_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC);
        kiln_buf b = {0};
        char chunk[4096];

        if (fd < 0)
                return kiln_error_set_errno(err, errno,
                                            errno == ENOENT ? KILN_E_NOT_FOUND : KILN_E_IO,
                                            "cannot open '%s'", path);
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        kiln_buf_clear(&b);
                        return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot read '%s'",
                                                    path);
                }
                if (n == 0)
                        break;
                if (b.len + (size_t) n > max) {
                        kiln_buf_clear(&b);
                        return kiln_error_set(err, KILN_E_LIMIT, NULL,
                                              "'%s' is larger than %zu bytes", path, max);
                }
                kiln_buf_append(&b, chunk, (size_t) n);
        }
        if (ret_len)
                *ret_len = b.len;
        *ret = kiln_buf_steal(&b);
        return 0;
}

char *kiln_find_program(const char *name)
{
        const char *path = getenv("PATH");
        kiln_autofree char *copy = NULL;
        char *save = NULL;

        if (strchr(name, '/'))
                return access(name, X_OK) == 0 ? kiln_xstrdup(name) : NULL;
        copy = kiln_xstrdup(path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
        for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                kiln_autofree char *full = kiln_xasprintf("%s/%s", dir, name);
                struct stat st;

                if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
                        return kiln_steal(&full);
        }
        return NULL;
}
