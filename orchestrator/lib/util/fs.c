/* Files: whole-file reads with a size cap, private writes, program lookup on PATH, and whether
 * another user may search the directories on a path. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

int kiln_file_wipe(const char *path)
{
        static const char zeros[4096];
        struct stat st;
        int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW), saved = 0;

        if (fd < 0 && errno == ENOENT)
                return 0;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
                for (off_t left = st.st_size; left > 0;) {
                        size_t chunk = left < (off_t) sizeof(zeros) ? (size_t) left : sizeof(zeros);
                        ssize_t n = write(fd, zeros, chunk);

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                saved = errno ? errno : EIO;
                                break;
                        }
                        left -= n;
                }
                if (!saved && fdatasync(fd) < 0)
                        saved = errno;
        } else if (fd < 0) {
                saved = errno;
        }
        if (fd >= 0)
                close(fd);
        if (unlink(path) < 0 && errno != ENOENT)
                saved = saved ? saved : errno;
        errno = saved;
        return saved ? -1 : 0;
}

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

int kiln_file_write_private(const char *path, const char *text, kiln_error **err)
{
        return kiln_file_write_private_data(path, text, strlen(text), err);
}

int kiln_file_write_private_data(const char *path, const void *data, size_t len, kiln_error **err)
{
        const char *text = data;
        size_t done = 0;
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600), e = 0;

        if (fd < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot create '%s'", path);
        /* An existing file keeps its mode through O_CREAT; this one is the owner's only. */
        if (fchmod(fd, 0600) < 0)
                e = errno;
        while (!e && done < len) {
                ssize_t n = write(fd, text + done, len - done);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        e = n < 0 ? errno : EIO;
                else
                        done += (size_t) n;
        }
        if (close(fd) < 0 && !e)
                e = errno;
        if (e) {
                kiln_file_wipe(path);
                return kiln_error_set_errno(err, e, KILN_E_IO, "cannot write '%s'", path);
        }
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

static bool may_search(const struct stat *st, const kiln_fs_user *user)
{
        bool in_group = st->st_gid == user->gid;

        if (st->st_uid == user->uid)
                return (st->st_mode & S_IXUSR) != 0;
        for (size_t i = 0; !in_group && i < user->n_groups; i++)
                in_group = st->st_gid == user->groups[i];
        if (in_group)
                return (st->st_mode & S_IXGRP) != 0;
        return (st->st_mode & S_IXOTH) != 0;
}

char *kiln_fs_first_unsearchable(const char *path, const kiln_fs_user *user, unsigned *ret_mode,
                                 unsigned *ret_owner)
{
        kiln_autofree char *copy = kiln_xstrdup(path);
        size_t len = strlen(copy);

        if (user->uid == 0 || copy[0] != '/')
                return NULL;
        /* Each prefix ending before a slash, then the whole path: "/", "/a", "/a/b". */
        for (size_t end = 1; end <= len; end++) {
                struct stat st;
                char saved;

                if (end < len && copy[end] != '/')
                        continue;
                saved = copy[end];
                copy[end] = '\0';
                if (stat(copy, &st) < 0) {
                        copy[end] = saved;
                        break; /* not there yet: made later, by kiln or libvirt */
                }
                if (S_ISDIR(st.st_mode) && !may_search(&st, user)) {
                        if (ret_mode)
                                *ret_mode = (unsigned) (st.st_mode & 07777);
                        if (ret_owner)
                                *ret_owner = (unsigned) st.st_uid;
                        return kiln_xstrdup(copy);
                }
                copy[end] = saved;
        }
        return NULL;
}
