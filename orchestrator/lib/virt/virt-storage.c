/* libvirt storage: directory pools and the qcow2 volumes in them, read and written only through
 * libvirt's storage API, so that the same code serves a remote host. The only files this code
 * opens itself are the local side of an upload or a download.
 *
 * Every libvirt call that fails has its error copied at once (virt_error), because libvirt's last
 * error is thread-local and reset by the next API call, including the getters: even
 * virStoragePoolGetName() clears it. That is why each function reads the pool's name before it
 * does anything that can fail.
 *
 * Transfers run a loop of virStreamSend / virStreamRecv rather than virStreamSendAll, so that
 * the caller's progress function sees every chunk and can stop the transfer between two of
 * them. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>
#include <libvirt/virterror.h>

#include "util/json.h"
#include "util/util.h"
#include "virt/virt-storage.h"

/* The largest payload of one stream packet in libvirt's RPC protocol; larger sends are split
 * anyway. */
#define VIRT_STREAM_CHUNK ((size_t) 256 * 1024)

typedef virStorageVol virt_vol;
typedef virStream virt_stream;

static virStorageVolPtr virt_vol_free(virStorageVolPtr vol)
{
        if (vol)
                virStorageVolFree(vol);
        return NULL;
}

static virStreamPtr virt_stream_free(virStreamPtr st)
{
        if (st)
                virStreamFree(st);
        return NULL;
}

KILN_DEFINE_AUTOPTR(virt_vol, virt_vol_free)
KILN_DEFINE_AUTOPTR(virt_stream, virt_stream_free)

virStoragePoolPtr virt_pool_free(virStoragePoolPtr pool)
{
        if (pool)
                virStoragePoolFree(pool);
        return NULL;
}

/* ---- XML text ---- */

/* Appends the UTF-8 encoding of code point c. */
static void utf8_append(kiln_buf *b, unsigned long c)
{
        unsigned char u[4];
        size_t n = 0;

        if (c < 0x80) {
                u[0] = (unsigned char) c;
                n = 1;
        } else if (c < 0x800) {
                u[0] = (unsigned char) (0xc0 | (c >> 6));
                u[1] = (unsigned char) (0x80 | (c & 0x3f));
                n = 2;
        } else if (c < 0x10000) {
                u[0] = (unsigned char) (0xe0 | (c >> 12));
                u[1] = (unsigned char) (0x80 | ((c >> 6) & 0x3f));
                u[2] = (unsigned char) (0x80 | (c & 0x3f));
                n = 3;
        } else {
                u[0] = (unsigned char) (0xf0 | (c >> 18));
                u[1] = (unsigned char) (0x80 | ((c >> 12) & 0x3f));
                u[2] = (unsigned char) (0x80 | ((c >> 6) & 0x3f));
                u[3] = (unsigned char) (0x80 | (c & 0x3f));
                n = 4;
        }
        kiln_buf_append(b, u, n);
}

/* The text of s[0..n) with the five named entities and numeric character references resolved.
 * An unknown entity is kept as it is. */
static char *xml_unescape(const char *s, size_t n)
{
        static const struct {
                const char *name;
                char c;
        } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"apos;", '\''}, {"quot;", '"'}};
        kiln_buf b = {0};
        size_t i = 0;

        while (i < n) {
                const char *semi = NULL;
                bool done = false;

                semi = s[i] == '&' ? memchr(s + i, ';', n - i) : NULL;
                if (!semi) {
                        kiln_buf_append(&b, s + i, 1);
                        i++;
                        continue;
                }
                for (size_t k = 0; k < KILN_ARRAY_SIZE(named) && !done; k++) {
                        size_t len = strlen(named[k].name);

                        if ((size_t) (semi - (s + i + 1)) + 1 == len &&
                            memcmp(s + i + 1, named[k].name, len) == 0) {
                                kiln_buf_append(&b, &named[k].c, 1);
                                i += 1 + len;
                                done = true;
                        }
                }
                if (!done && s[i + 1] == '#') {
                        bool hex = s[i + 2] == 'x' || s[i + 2] == 'X';
                        const char *p = s + i + (hex ? 3 : 2);
                        char *end = NULL;
                        unsigned long c = strtoul(p, &end, hex ? 16 : 10);

                        if (end == semi && end > p && c > 0 && c <= 0x10ffff) {
                                utf8_append(&b, c);
                                i = (size_t) (semi - s) + 1;
                                done = true;
                        }
                }
                if (!done) {
                        kiln_buf_append(&b, s + i, 1);
                        i++;
                }
        }
        return kiln_buf_steal(&b);
}

/* The backing file of a volume from its XML (<backingStore><path>…</path>), or NULL. libvirt
 * escapes '<' in text, so a "<backingStore>" found in the text is the element itself. */
static char *xml_backing_path(const char *xml)
{
        const char *start = strstr(xml, "<backingStore>");
        const char *end = NULL, *path = NULL, *path_end = NULL;

        if (!start)
                return NULL;
        end = strstr(start, "</backingStore>");
        path = strstr(start, "<path>");
        if (!end || !path || path > end)
                return NULL;
        path += strlen("<path>");
        path_end = strstr(path, "</path>");
        if (!path_end || path_end > end || path_end == path)
                return NULL;
        return xml_unescape(path, (size_t) (path_end - path));
}

/* ---- input checks ---- */

/* Why NAME cannot name a pool or a volume (libvirt's directory pools make it a file name), or
 * NULL if it can. */
static const char *name_problem(const char *name)
{
        if (!name || !*name)
                return "is empty";
        if (strchr(name, '/'))
                return "contains '/'";
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return "is '.' or '..'";
        for (const char *p = name; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return "contains a control character";
        return NULL;
}

/* Why PATH is unusable, or NULL. Control characters cannot be carried by XML. */
static const char *path_problem(const char *path, bool absolute)
{
        if (!path || !*path)
                return "is empty";
        if (absolute && path[0] != '/')
                return "is not absolute";
        for (const char *p = path; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return "contains a control character";
        return NULL;
}

/* For messages about arguments that may be NULL. */
static const char *str_or_empty(const char *s)
{
        return s ? s : "";
}

/* The pool's name for messages. Read it before a call that can fail: it resets libvirt's
 * last error. */
static const char *pool_name(virStoragePoolPtr pool)
{
        const char *name = virStoragePoolGetName(pool);

        return name ? name : "?";
}

/* ---- pools ---- */

/* How long pool_refresh waits for other clients' volume builds: about 10 s. */
#define VIRT_REFRESH_ATTEMPTS 55

/* virStoragePoolRefresh, retried while the storage driver refuses because a volume is being
 * built in the pool, by this or another client ("pool '…' has asynchronous jobs running", a
 * VIR_ERR_INTERNAL_ERROR): with several kiln processes on one pool that is common. */
static int pool_refresh(virStoragePoolPtr pool, const char *name, kiln_error **err)
{
        struct timespec delay = {.tv_sec = 0, .tv_nsec = 10L * 1000 * 1000};

        for (int attempt = 0;; attempt++) {
                if (virStoragePoolRefresh(pool, 0) == 0)
                        return 0;
                if (virGetLastErrorCode() != VIR_ERR_INTERNAL_ERROR ||
                    attempt >= VIRT_REFRESH_ATTEMPTS)
                        return virt_error(err, "cannot refresh pool '%s'", name);
                nanosleep(&delay, NULL);
                if (delay.tv_nsec < 200L * 1000 * 1000)
                        delay.tv_nsec *= 2;
        }
}

int virt_pool_refresh(virStoragePoolPtr pool, kiln_error **err)
{
        return pool_refresh(pool, pool_name(pool), err);
}

/* Starts an inactive pool. Another kiln process may be setting the same pool up at this moment:
 * it may have defined the pool but not built its directory yet, or be starting it too. So a
 * failed start builds the directory (harmless when it exists) and tries again, and a start is
 * no failure if the pool is active afterwards. */
static int pool_start(virStoragePoolPtr pool, const char *name, kiln_error **err)
{
        struct timespec delay = {.tv_sec = 0, .tv_nsec = 20L * 1000 * 1000};
        kiln_autoptr(kiln_error) start_err = NULL;
        int active = virStoragePoolIsActive(pool);

        if (active < 0)
                return virt_error(err, "cannot read the state of pool '%s'", name);
        for (int attempt = 0; !active && attempt < 5; attempt++) {
                if (virStoragePoolCreate(pool, 0) == 0)
                        return 0;
                kiln_error_free(start_err);
                start_err = NULL;
                virt_error(&start_err, "cannot start pool '%s'", name);
                active = virStoragePoolIsActive(pool) == 1;
                if (!active && virStoragePoolBuild(pool, 0) < 0)
                        kiln_log(KILN_LOG_DEBUG, "cannot build pool '%s': %s", name,
                                 virGetLastErrorMessage());
                if (!active)
                        nanosleep(&delay, NULL);
        }
        if (active)
                return 0;
        if (err && !*err)
                *err = kiln_steal(&start_err);
        return -1;
}

/* Undefines a pool that virt_pool_ensure_dir defined, after a later step failed. Quiet: the
 * first error is the one the caller sees. */
static void pool_rollback(virStoragePoolPtr pool, const char *name)
{
        if (virStoragePoolIsActive(pool) == 1 && virStoragePoolDestroy(pool) < 0)
                kiln_log(KILN_LOG_DEBUG, "rollback: cannot stop pool '%s': %s", name,
                         virGetLastErrorMessage());
        if (virStoragePoolUndefine(pool) < 0)
                kiln_log(KILN_LOG_DEBUG, "rollback: cannot undefine pool '%s': %s", name,
                         virGetLastErrorMessage());
}

/* Defines, builds, starts and marks autostart a new directory pool. If another process
 * defined a pool of that name first, that pool is used. */
static virStoragePoolPtr pool_define_dir(virConnectPtr conn, const char *name, const char *path,
                                         kiln_error **err)
{
        kiln_autofree char *ename = kiln_xml_escape(name);
        kiln_autofree char *epath = kiln_xml_escape(path);
        kiln_autofree char *xml = kiln_xasprintf("<pool type='dir'>\n"
                                                 "  <name>%s</name>\n"
                                                 "  <target>\n"
                                                 "    <path>%s</path>\n"
                                                 "    <permissions>\n"
                                                 "      <mode>0711</mode>\n"
                                                 "    </permissions>\n"
                                                 "  </target>\n"
                                                 "</pool>\n",
                                                 ename, epath);
        kiln_autoptr(virt_pool) pool = NULL;
        kiln_autoptr(kiln_error) define_err = NULL;

        kiln_log(KILN_LOG_DEBUG, "libvirt: defining pool '%s' at '%s'", name, path);
        pool = virStoragePoolDefineXML(conn, xml, 0);
        if (!pool) {
                virt_error(&define_err, "cannot define pool '%s' at '%s'", name, path);
                pool = virStoragePoolLookupByName(conn, name);
                if (!pool) {
                        if (err && !*err)
                                *err = kiln_steal(&define_err);
                        return NULL;
                }
                if (pool_start(pool, name, err) < 0)
                        return NULL;
                return kiln_steal(&pool);
        }
        if (virStoragePoolBuild(pool, 0) < 0) {
                virt_error(err, "cannot build pool '%s' at '%s'", name, path);
                pool_rollback(pool, name);
                return NULL;
        }
        if (pool_start(pool, name, err) < 0) {
                pool_rollback(pool, name);
                return NULL;
        }
        if (virStoragePoolSetAutostart(pool, 1) < 0) {
                virt_error(err, "cannot mark pool '%s' autostart", name);
                pool_rollback(pool, name);
                return NULL;
        }
        return kiln_steal(&pool);
}

int virt_pool_check_reachable(virConnectPtr conn, const char *path, kiln_error **err)
{
        unsigned uid = 0, gid = 0, mode = 0, owner = 0;
        int ngroups = 64, rc = virt_qemu_dac_user(conn, &uid, &gid, err);
        gid_t groups[64];
        unsigned ugroups[64];
        const struct passwd *pw;
        kiln_autofree char *user = NULL;
        kiln_autofree char *blocked = NULL;
        kiln_fs_user who = {0};

        if (rc <= 0)
                return rc;
        pw = getpwuid((uid_t) uid);
        user = pw ? kiln_xstrdup(pw->pw_name) : kiln_xasprintf("%u", uid);
        if (!pw || getgrouplist(pw->pw_name, (gid_t) gid, groups, &ngroups) < 0)
                ngroups = 0;
        for (int i = 0; i < ngroups; i++)
                ugroups[i] = (unsigned) groups[i];
        who = (kiln_fs_user){uid, gid, ugroups, (size_t) ngroups};
        blocked = kiln_fs_first_unsearchable(path, &who, &mode, &owner);
        if (!blocked)
                return 0;
        return kiln_error_set(err, KILN_E_IO, NULL,
                              "QEMU runs as user '%s' (uid %u), which cannot traverse '%s' "
                              "(mode %04o, owner uid %u), so no instance with a disk in '%s' "
                              "could start. Fix: 'chmod o+x %s', or choose a kiln home that "
                              "user can reach (--home or KILN_HOME, for example below /var/lib)",
                              user, uid, blocked, mode, owner, path, blocked);
}

virStoragePoolPtr virt_pool_ensure_dir(virConnectPtr conn, const char *name, const char *path,
                                       kiln_error **err)
{
        kiln_autoptr(virt_pool) pool = NULL;
        const char *why = name_problem(name);

        if (why) {
                kiln_error_set(err, KILN_E_INVALID, NULL, "cannot set up pool '%s': its name %s",
                               str_or_empty(name), why);
                return NULL;
        }
        why = path_problem(path, true);
        if (why) {
                kiln_error_set(err, KILN_E_INVALID, NULL,
                               "cannot set up pool '%s' at '%s': the path %s", name,
                               str_or_empty(path), why);
                return NULL;
        }
        if (virt_pool_check_reachable(conn, path, err) < 0)
                return NULL;
        pool = virStoragePoolLookupByName(conn, name);
        if (!pool) {
                if (virGetLastErrorCode() != VIR_ERR_NO_STORAGE_POOL) {
                        virt_error(err, "cannot look up pool '%s'", name);
                        return NULL;
                }
                pool = pool_define_dir(conn, name, path, err);
                if (!pool)
                        return NULL;
        } else if (pool_start(pool, name, err) < 0) {
                return NULL;
        }
        if (pool_refresh(pool, name, err) < 0)
                return NULL;
        return kiln_steal(&pool);
}

/* "kiln-HASH-REGION" at ".../pools/REGION". */
static bool kiln_pool_shape(const char *name, const char *path)
{
        const char *dash = strrchr(name, '-');
        const char *slash = strrchr(path, '/');
        size_t rlen;

        if (strncmp(name, "kiln-", 5) != 0 || !dash || dash < name + 5 || !slash ||
            strcmp(dash + 1, slash + 1) != 0)
                return false;
        rlen = strlen(slash + 1);
        return rlen > 0 && slash - path >= 6 && strncmp(slash - 6, "/pools", 6) == 0;
}

int virt_pools_stale(virConnectPtr conn, char ***ret_names, char ***ret_paths, size_t *ret_n,
                     kiln_error **err)
{
        virStoragePoolPtr *pools = NULL;
        int n;
        size_t found = 0;
        char **names, **paths;

        *ret_names = *ret_paths = NULL;
        *ret_n = 0;
        if (!virt_conn_is_local(conn))
                return 0;
        n = virConnectListAllStoragePools(conn, &pools, 0);
        if (n < 0)
                return virt_error(err, "cannot list the storage pools");
        names = kiln_xcalloc((size_t) n + 1, sizeof(*names));
        paths = kiln_xcalloc((size_t) n + 1, sizeof(*paths));
        for (int i = 0; i < n; i++) {
                const char *name = virStoragePoolGetName(pools[i]);
                kiln_autofree char *xml = virStoragePoolGetXMLDesc(pools[i], 0);
                kiln_autofree char *type = xml ? virt_xml_string(xml, "string(/pool/@type)") : NULL;
                kiln_autofree char *path =
                        xml ? virt_xml_string(xml, "string(/pool/target/path)") : NULL;
                struct stat st;

                if (name && type && path && strcmp(type, "dir") == 0 &&
                    kiln_pool_shape(name, path) && stat(path, &st) < 0 && errno == ENOENT) {
                        names[found] = kiln_xstrdup(name);
                        paths[found] = kiln_steal(&path);
                        found++;
                }
                virStoragePoolFree(pools[i]);
        }
        free(pools);
        *ret_names = names;
        *ret_paths = paths;
        *ret_n = found;
        return 0;
}

int virt_pool_remove_definition(virConnectPtr conn, const char *name, kiln_error **err)
{
        kiln_autoptr(virt_pool) pool = virStoragePoolLookupByName(conn, name);

        if (!pool)
                return virt_error(err, "cannot look up pool '%s'", name);
        if (virStoragePoolIsActive(pool) == 1 && virStoragePoolDestroy(pool) < 0)
                return virt_error(err, "cannot stop pool '%s'", name);
        if (virStoragePoolUndefine(pool) < 0)
                return virt_error(err, "cannot undefine pool '%s'", name);
        return 0;
}

virStoragePoolPtr virt_pool_lookup(virConnectPtr conn, const char *name, kiln_error **err)
{
        virStoragePoolPtr pool = NULL;
        const char *why = name_problem(name);

        if (why) {
                kiln_error_set(err, KILN_E_INVALID, NULL, "cannot look up pool '%s': its name %s",
                               str_or_empty(name), why);
                return NULL;
        }
        pool = virStoragePoolLookupByName(conn, name);
        if (!pool) {
                if (virGetLastErrorCode() == VIR_ERR_NO_STORAGE_POOL)
                        kiln_error_set(err, KILN_E_NOT_FOUND, NULL, "there is no pool '%s'", name);
                else
                        virt_error(err, "cannot look up pool '%s'", name);
                return NULL;
        }
        return pool;
}

/* ---- volumes ---- */

void virt_volume_info_clear(virt_volume_info *info)
{
        if (!info)
                return;
        free(info->path);
        free(info->backing_path);
        *info = (virt_volume_info){0};
}

/* Looks up volume NAME; KILN_E_NOT_FOUND if there is none. */
static virStorageVolPtr vol_lookup(virStoragePoolPtr pool, const char *pname, const char *name,
                                   kiln_error **err)
{
        virStorageVolPtr vol = virStorageVolLookupByName(pool, name);

        if (!vol) {
                if (virGetLastErrorCode() == VIR_ERR_NO_STORAGE_VOL)
                        kiln_error_set(err, KILN_E_NOT_FOUND, NULL,
                                       "there is no volume '%s' in pool '%s'", name, pname);
                else
                        virt_error(err, "cannot look up volume '%s' in pool '%s'", name, pname);
        }
        return vol;
}

/* Creates volume NAME from XML. A volume of that name that exists already is KILN_E_EXISTS: the
 * storage driver says so with VIR_ERR_STORAGE_VOL_EXIST, the test driver with a plain
 * "operation failed", so a failure is checked with a lookup too. */
static virStorageVolPtr vol_create(virStoragePoolPtr pool, const char *name, const char *xml,
                                   const char *what, kiln_error **err)
{
        virStorageVolPtr vol = virStorageVolCreateXML(pool, xml, 0);
        kiln_autoptr(kiln_error) create_err = NULL;
        kiln_autoptr(virt_vol) existing = NULL;
        int code = 0;

        if (vol)
                return vol;
        code = virGetLastErrorCode();
        virt_error(&create_err, "%s: cannot create the volume", what);
        if (code != VIR_ERR_STORAGE_VOL_EXIST)
                existing = virStorageVolLookupByName(pool, name);
        if (code == VIR_ERR_STORAGE_VOL_EXIST || existing)
                kiln_error_set(err, KILN_E_EXISTS, NULL, "%s: the volume already exists", what);
        else if (err && !*err)
                *err = kiln_steal(&create_err);
        return NULL;
}

/* Deletes a volume this module created, after a later step failed. Quiet. */
static void vol_rollback(virStorageVolPtr vol, const char *name)
{
        if (virStorageVolDelete(vol, 0) < 0)
                kiln_log(KILN_LOG_DEBUG, "rollback: cannot delete volume '%s': %s", name,
                         virGetLastErrorMessage());
}

/* Sends all of buf on a blocking stream (virStreamSend may take less than it is given). */
static int stream_send(virStreamPtr st, const char *buf, size_t n, const char *what,
                       kiln_error **err)
{
        size_t off = 0;

        while (off < n) {
                size_t want = n - off;
                int sent = virStreamSend(st, buf + off, want);

                if (sent < 0)
                        return virt_error(err, "%s: cannot send data", what);
                off += (size_t) sent;
        }
        return 0;
}

/* Streams the first size bytes of fd into the volume. The stream is finished on success and
 * aborted on failure. */
static int upload_stream(virStorageVolPtr vol, int fd, unsigned long long size,
                         virt_progress_fn progress, void *userdata, const char *what,
                         kiln_error **err)
{
        kiln_autoptr(virt_stream) st = NULL;
        kiln_autofree char *buf = NULL;
        unsigned long long done = 0;

        st = virStreamNew(virStorageVolGetConnect(vol), 0);
        if (!st)
                return virt_error(err, "%s: cannot open a stream", what);
        if (virStorageVolUpload(vol, st, 0, size, 0) < 0)
                return virt_error(err, "%s: cannot start the upload", what);
        buf = kiln_xmalloc(VIRT_STREAM_CHUNK);
        while (done < size) {
                size_t want = size - done < VIRT_STREAM_CHUNK ? (size_t) (size - done)
                                                              : VIRT_STREAM_CHUNK;
                ssize_t n = read(fd, buf, want);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        if (n < 0)
                                kiln_error_set_errno(err, errno, KILN_E_IO, "%s: cannot read it",
                                                     what);
                        else
                                kiln_error_set(err, KILN_E_IO, NULL,
                                               "%s: it shrank to %llu bytes during the upload",
                                               what, done);
                        virStreamAbort(st);
                        return -1;
                }
                if (stream_send(st, buf, (size_t) n, what, err) < 0) {
                        virStreamAbort(st);
                        return -1;
                }
                done += (unsigned long long) n;
                kiln_crash_point("volume-upload.mid-stream");
                if (progress && progress(done, size, userdata) != 0) {
                        virStreamAbort(st);
                        return kiln_error_set(err, KILN_E_INTERRUPTED, NULL,
                                              "%s: stopped after %llu of %llu bytes", what, done,
                                              size);
                }
        }
        if (virStreamFinish(st) < 0)
                return virt_error(err, "%s: cannot finish the upload", what);
        return 0;
}

static int volume_upload(virStoragePoolPtr pool, const char *name, const char *local_path, bool raw,
                         unsigned long long capacity, bool read_only, virt_progress_fn progress,
                         void *userdata, char **ret_path, kiln_error **err)
{
        const char *pname = pool_name(pool);
        kiln_autofree char *what = NULL;
        kiln_autofree char *ename = NULL;
        kiln_autofree char *xml = NULL;
        kiln_autofree char *path = NULL;
        kiln_autoptr(virt_vol) vol = NULL;
        kiln_autoclose int fd = -1;
        unsigned long long vsize = 0;
        struct stat st = {0};
        int r = 0;
        const char *why = NULL;

        what = kiln_xasprintf("cannot upload '%s' to volume '%s' in pool '%s'",
                              str_or_empty(local_path), str_or_empty(name), pname);
        why = name_problem(name);
        if (why)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "%s: the volume name %s", what,
                                      why);
        why = path_problem(local_path, false);
        if (why)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "%s: the file name %s", what, why);
        fd = open(local_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return kiln_error_set_errno(
                        err, errno, errno == ENOENT ? KILN_E_NOT_FOUND : KILN_E_IO, "%s", what);
        if (fstat(fd, &st) < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "%s", what);
        if (!S_ISREG(st.st_mode))
                return kiln_error_set(err, KILN_E_INVALID, NULL, "%s: it is not a regular file",
                                      what);
        vsize = raw ? (unsigned long long) st.st_size : capacity;

        ename = kiln_xml_escape(name);
        xml = kiln_xasprintf("<volume>\n"
                             "  <name>%s</name>\n"
                             "  <capacity unit='bytes'>%llu</capacity>\n"
                             "  <allocation unit='bytes'>0</allocation>\n"
                             "  <target>\n"
                             "    <format type='%s'/>\n"
                             "    <permissions>\n"
                             "      <mode>%s</mode>\n"
                             "    </permissions>\n"
                             "  </target>\n"
                             "</volume>\n",
                             ename, vsize, raw ? "raw" : "qcow2", read_only ? "0400" : "0600");
        kiln_log(KILN_LOG_DEBUG, "libvirt: uploading '%s' (%llu bytes) to volume '%s' in pool '%s'",
                 local_path, (unsigned long long) st.st_size, name, pname);
        vol = vol_create(pool, name, xml, what, err);
        if (!vol)
                return -1;
        /* The storage driver refreshes the pool after an upload, but in a thread of its own
         * that may not have run yet: refresh now, so that the volume's backing file (from the
         * qcow2 header) is known when this returns. */
        r = upload_stream(vol, fd, (unsigned long long) st.st_size, progress, userdata, what, err);
        if (r == 0)
                r = pool_refresh(pool, pname, err);
        if (r < 0) {
                vol_rollback(vol, name);
                return -1;
        }
        path = virStorageVolGetPath(vol);
        if (!path) {
                virt_error(err, "%s: cannot read the volume's path", what);
                vol_rollback(vol, name);
                return -1;
        }
        *ret_path = kiln_steal(&path);
        return 0;
}

int virt_volume_upload(virStoragePoolPtr pool, const char *name, const char *local_path,
                       unsigned long long capacity, bool read_only, virt_progress_fn progress,
                       void *userdata, char **ret_path, kiln_error **err)
{
        return volume_upload(pool, name, local_path, false, capacity, read_only, progress, userdata,
                             ret_path, err);
}

int virt_volume_upload_raw(virStoragePoolPtr pool, const char *name, const char *local_path,
                           bool read_only, char **ret_path, kiln_error **err)
{
        return volume_upload(pool, name, local_path, true, 0, read_only, NULL, NULL, ret_path, err);
}

/* Writes all of buf to fd. */
static int write_all(int fd, const char *buf, size_t n, const char *what, kiln_error **err)
{
        while (n > 0) {
                ssize_t w = write(fd, buf, n);

                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0)
                        return kiln_error_set_errno(err, errno, KILN_E_IO, "%s: cannot write",
                                                    what);
                buf += w;
                n -= (size_t) w;
        }
        return 0;
}

/* Streams the whole volume into fd. The stream is finished on success and aborted on
 * failure. */
static int download_stream(virStorageVolPtr vol, int fd, unsigned long long total,
                           virt_progress_fn progress, void *userdata, const char *what,
                           kiln_error **err)
{
        kiln_autoptr(virt_stream) st = NULL;
        kiln_autofree char *buf = NULL;
        unsigned long long done = 0;

        st = virStreamNew(virStorageVolGetConnect(vol), 0);
        if (!st)
                return virt_error(err, "%s: cannot open a stream", what);
        if (virStorageVolDownload(vol, st, 0, 0, 0) < 0)
                return virt_error(err, "%s: cannot start the download", what);
        buf = kiln_xmalloc(VIRT_STREAM_CHUNK);
        for (;;) {
                int n = virStreamRecv(st, buf, VIRT_STREAM_CHUNK);

                if (n < 0) {
                        virt_error(err, "%s: cannot receive data", what);
                        virStreamAbort(st);
                        return -1;
                }
                if (n == 0)
                        break;
                if (write_all(fd, buf, (size_t) n, what, err) < 0) {
                        virStreamAbort(st);
                        return -1;
                }
                done += (unsigned long long) n;
                kiln_crash_point("volume-download.mid-stream");
                if (progress && progress(done, total, userdata) != 0) {
                        virStreamAbort(st);
                        return kiln_error_set(err, KILN_E_INTERRUPTED, NULL,
                                              "%s: stopped after %llu bytes", what, done);
                }
        }
        if (virStreamFinish(st) < 0)
                return virt_error(err, "%s: cannot finish the download", what);
        return 0;
}

int virt_volume_download(virStoragePoolPtr pool, const char *name, const char *local_path,
                         virt_progress_fn progress, void *userdata, kiln_error **err)
{
        const char *pname = pool_name(pool);
        kiln_autofree char *what = NULL;
        kiln_autoptr(virt_vol) vol = NULL;
        virStorageVolInfo info = {0};
        int fd = -1, r = 0;
        const char *why = NULL;

        what = kiln_xasprintf("cannot download volume '%s' of pool '%s' to '%s'",
                              str_or_empty(name), pname, str_or_empty(local_path));
        why = name_problem(name);
        if (why)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "%s: the volume name %s", what,
                                      why);
        why = path_problem(local_path, false);
        if (why)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "%s: the file name %s", what, why);
        vol = vol_lookup(pool, pname, name, err);
        if (!vol)
                return -1;
        /* With GET_PHYSICAL, allocation is the file's length: the number of bytes to come. A
         * driver without virStorageVolGetInfoFlags (before libvirt 3.0) gives progress no
         * total. */
        if (virStorageVolGetInfoFlags(vol, &info, VIR_STORAGE_VOL_GET_PHYSICAL) < 0) {
                if (virGetLastErrorCode() != VIR_ERR_NO_SUPPORT)
                        return virt_error(err, "%s: cannot read the volume's size", what);
                info.allocation = 0;
        }

        kiln_log(KILN_LOG_DEBUG, "libvirt: downloading volume '%s' in pool '%s' to '%s'", name,
                 pname, local_path);
        if (unlink(local_path) < 0 && errno != ENOENT)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "%s: cannot replace it", what);
        fd = open(local_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "%s: cannot create it", what);
        r = download_stream(vol, fd, info.allocation, progress, userdata, what, err);
        if (r == 0 && fsync(fd) < 0)
                r = kiln_error_set_errno(err, errno, KILN_E_IO, "%s: cannot write", what);
        if (close(fd) < 0 && r == 0)
                r = kiln_error_set_errno(err, errno, KILN_E_IO, "%s: cannot write", what);
        if (r < 0 && unlink(local_path) < 0)
                kiln_log(KILN_LOG_DEBUG, "rollback: cannot remove '%s': %s", local_path,
                         strerror(errno));
        return r;
}

/* A qcow2 v3 volume of mode 0600: an overlay on backing_path, or empty if it is NULL. */
static int volume_create_qcow2(virStoragePoolPtr pool, const char *name, const char *backing_path,
                               unsigned long long capacity, char **ret_path, kiln_error **err)
{
        const char *pname = pool_name(pool);
        kiln_autofree char *what = NULL;
        kiln_autofree char *ename = NULL;
        kiln_autofree char *ebacking = NULL;
        kiln_autofree char *epath = NULL;
        kiln_autofree char *cap = NULL;
        kiln_autofree char *xml = NULL;
        kiln_autofree char *path = NULL;
        kiln_autoptr(virt_vol) vol = NULL;
        const char *why = NULL;

        what = backing_path ? kiln_xasprintf("cannot create volume '%s' in pool '%s' over '%s'",
                                             str_or_empty(name), pname, backing_path)
                            : kiln_xasprintf("cannot create volume '%s' in pool '%s'",
                                             str_or_empty(name), pname);
        why = name_problem(name);
        if (why)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "%s: the volume name %s", what,
                                      why);
        why = backing_path ? path_problem(backing_path, true) : NULL;
        if (why)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "%s: the backing file %s", what,
                                      why);
        ename = kiln_xml_escape(name);
        epath = backing_path ? kiln_xml_escape(backing_path) : NULL;
        ebacking = backing_path ? kiln_xasprintf("  <backingStore>\n"
                                                 "    <path>%s</path>\n"
                                                 "    <format type='qcow2'/>\n"
                                                 "  </backingStore>\n",
                                                 epath)
                                : kiln_xstrdup("");
        /* Without <capacity>, libvirt gives the overlay its backing file's size. */
        cap = capacity ? kiln_xasprintf("  <capacity unit='bytes'>%llu</capacity>\n", capacity)
                       : kiln_xstrdup("");
        /* libvirt makes qcow2 v2 (compat 0.10) unless told otherwise. */
        xml = kiln_xasprintf("<volume>\n"
                             "  <name>%s</name>\n"
                             "%s"
                             "  <target>\n"
                             "    <format type='qcow2'/>\n"
                             "    <compat>1.1</compat>\n"
                             "    <permissions>\n"
                             "      <mode>0600</mode>\n"
                             "    </permissions>\n"
                             "  </target>\n"
                             "%s"
                             "</volume>\n",
                             ename, cap, ebacking);
        kiln_log(KILN_LOG_DEBUG, "libvirt: creating volume '%s' in pool '%s' over '%s'", name,
                 pname, backing_path ? backing_path : "nothing");
        vol = vol_create(pool, name, xml, what, err);
        if (!vol)
                return -1;
        path = virStorageVolGetPath(vol);
        if (!path) {
                virt_error(err, "%s: cannot read the volume's path", what);
                vol_rollback(vol, name);
                return -1;
        }
        *ret_path = kiln_steal(&path);
        return 0;
}

int virt_volume_create_overlay(virStoragePoolPtr pool, const char *name, const char *backing_path,
                               unsigned long long capacity, char **ret_path, kiln_error **err)
{
        if (!backing_path)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "cannot create volume '%s': no backing file",
                                      str_or_empty(name));
        return volume_create_qcow2(pool, name, backing_path, capacity, ret_path, err);
}

int virt_volume_create_empty(virStoragePoolPtr pool, const char *name, unsigned long long capacity,
                             char **ret_path, kiln_error **err)
{
        return volume_create_qcow2(pool, name, NULL, capacity, ret_path, err);
}

int virt_volume_delete(virStoragePoolPtr pool, const char *name, kiln_error **err)
{
        const char *pname = pool_name(pool);
        kiln_autoptr(virt_vol) vol = NULL;
        const char *why = name_problem(name);

        if (why)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "cannot delete volume '%s' in pool '%s': its name %s",
                                      str_or_empty(name), pname, why);
        vol = virStorageVolLookupByName(pool, name);
        if (!vol) {
                if (virGetLastErrorCode() == VIR_ERR_NO_STORAGE_VOL)
                        return 0;
                return virt_error(err, "cannot look up volume '%s' in pool '%s' to delete it", name,
                                  pname);
        }
        kiln_log(KILN_LOG_DEBUG, "libvirt: deleting volume '%s' in pool '%s'", name, pname);
        if (virStorageVolDelete(vol, 0) < 0) {
                if (virGetLastErrorCode() == VIR_ERR_NO_STORAGE_VOL)
                        return 0;
                return virt_error(err, "cannot delete volume '%s' in pool '%s'", name, pname);
        }
        return 0;
}

int virt_volume_get_info(virStoragePoolPtr pool, const char *name, virt_volume_info *ret,
                         kiln_error **err)
{
        const char *pname = pool_name(pool);
        kiln_autoptr(virt_vol) vol = NULL;
        kiln_autofree char *path = NULL;
        kiln_autofree char *xml = NULL;
        virStorageVolInfo info = {0};
        const char *why = name_problem(name);

        if (why)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "cannot read volume '%s' in pool '%s': its name %s",
                                      str_or_empty(name), pname, why);
        vol = vol_lookup(pool, pname, name, err);
        if (!vol)
                return -1;
        if (virStorageVolGetInfo(vol, &info) < 0)
                return virt_error(err, "cannot read the size of volume '%s' in pool '%s'", name,
                                  pname);
        path = virStorageVolGetPath(vol);
        if (!path)
                return virt_error(err, "cannot read the path of volume '%s' in pool '%s'", name,
                                  pname);
        xml = virStorageVolGetXMLDesc(vol, 0);
        if (!xml)
                return virt_error(err, "cannot read the XML of volume '%s' in pool '%s'", name,
                                  pname);
        ret->path = kiln_steal(&path);
        ret->capacity = info.capacity;
        ret->allocation = info.allocation;
        ret->backing_path = xml_backing_path(xml);
        return 0;
}

bool virt_volume_exists(virStoragePoolPtr pool, const char *name)
{
        kiln_autoptr(virt_vol) vol = NULL;

        if (name_problem(name))
                return false;
        vol = virStorageVolLookupByName(pool, name);
        return vol != NULL;
}

static int strcmp_ptr(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int virt_pool_list_volumes(virStoragePoolPtr pool, char ***ret, size_t *ret_n, kiln_error **err)
{
        const char *pname = pool_name(pool);
        virStorageVolPtr *vols = NULL;
        char **names = NULL;
        size_t n_names = 0;
        int n = 0;

        if (pool_refresh(pool, pname, err) < 0)
                return -1;
        n = virStoragePoolListAllVolumes(pool, &vols, 0);
        if (n < 0)
                return virt_error(err, "cannot list the volumes of pool '%s'", pname);
        names = kiln_xcalloc((size_t) n + 1, sizeof(*names));
        for (int i = 0; i < n; i++) {
                const char *vname = virStorageVolGetName(vols[i]);

                if (vname)
                        names[n_names++] = kiln_xstrdup(vname);
                virStorageVolFree(vols[i]);
        }
        free(vols);
        qsort(names, n_names, sizeof(*names), strcmp_ptr);
        *ret = names;
        if (ret_n)
                *ret_n = n_names;
        return 0;
}
