/* libvirt storage (virt-storage.h). By default on libvirt's test:///default driver, which keeps
 * pools and volumes in memory and writes no files: pools (define, build, start, autostart,
 * lookup, conflicts), overlays, info, lists, deletes, bad input, and the rollback of an upload
 * that the driver cannot carry out. With KILN_TEST_URI (for example qemu:///system, as root) it
 * runs on that daemon instead and also covers real files: a directory pool under /var/tmp,
 * upload and download of a qcow2 byte for byte, read-only modes, overlays with their backing
 * files, aborts from the progress function, and clean-up of everything it made, also when a
 * check fails or SIGINT/SIGTERM arrives. Its scratch directory goes below KILN_TEST_TMPDIR if
 * that is set (tests/e2e/test-virt-storage.sh sets it, and removes it even if we are killed). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <libvirt/virterror.h>

#include "tap.h"
#include "util/util.h"
#include "virt/virt-storage.h"

#include <kiln/kiln.h>

#define MiB (1024ULL * 1024ULL)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
        stop = sig;
}

typedef struct t_env {
        virConnectPtr conn;
        bool real;       /* a real daemon: KILN_TEST_URI */
        const char *uri; /* that URI */
        bool qemu_img;   /* qemu-img is installed */
        char *tmp;       /* our scratch directory (the pool lives below it when real) */
        char *pool_name; /* main pool: name and path carry characters XML must escape */
        char *pool_path; /* (the test driver's paths are never created) */
        virStoragePoolPtr pool;
        char *base_path; /* real: the uploaded qcow2 volume; test driver: a made-up path */
        unsigned long long base_size; /* its virtual size */
        char *pools[4];               /* every pool the test may have defined, for clean-up */
} t_env;

typedef struct t_progress {
        int calls;
        int abort_at; /* return non-zero on this call (1-based); 0: never */
        bool monotonic;
        unsigned long long last_done, last_total;
} t_progress;

static int progress_cb(unsigned long long done, unsigned long long total, void *userdata)
{
        t_progress *p = userdata;

        p->calls++;
        if (p->calls > 1 && done <= p->last_done)
                p->monotonic = false;
        p->last_done = done;
        p->last_total = total;
        if (stop)
                return 1;
        return p->abort_at && p->calls >= p->abort_at;
}

static char *path_in(const t_env *t, const char *name)
{
        return kiln_xasprintf("%s/%s", t->tmp, name);
}

static int run(kiln_cmd *cmd)
{
        kiln_autoptr(kiln_error) err = NULL;

        if (kiln_cmd_run(cmd, NULL, &err) < 0) {
                printf("# %s\n", err->msg);
                return -1;
        }
        return 0;
}

/* size bytes of a known, non-repeating-per-cluster pattern. */
static int write_pattern(const char *path, unsigned long long size, unsigned seed)
{
        FILE *f = fopen(path, "we");
        unsigned x = seed * 2654435761u + 1;

        if (!f)
                return -1;
        for (unsigned long long i = 0; i < size; i++) {
                x = x * 1103515245u + 12345u;
                fputc((int) (x >> 16) & 0xff, f);
        }
        return fclose(f) == 0 ? 0 : -1;
}

/* NAME.qcow2 in tmp from raw_size bytes of pattern data; returns its path or NULL. */
/* The virtual size of the data.qcow2 the upload tests make. */
#define DATA_SIZE (3 * MiB + 4096)

static char *make_qcow2(const t_env *t, const char *name, unsigned long long raw_size)
{
        kiln_autofree char *raw = kiln_xasprintf("%s/%s.raw", t->tmp, name);
        kiln_autofree char *qcow2 = kiln_xasprintf("%s/%s.qcow2", t->tmp, name);
        kiln_autoptr(kiln_cmd) cmd =
                kiln_cmd_new("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow2, NULL);

        if (write_pattern(raw, raw_size, (unsigned) raw_size) < 0 || run(cmd) < 0)
                return NULL;
        return kiln_steal(&qcow2);
}

static bool same_file(const char *a, const char *b)
{
        kiln_autofree char *da = NULL, *db = NULL;
        size_t la = 0, lb = 0;
        kiln_autoptr(kiln_error) err = NULL;

        if (kiln_file_read(a, 256 * MiB, &da, &la, &err) < 0 ||
            kiln_file_read(b, 256 * MiB, &db, &lb, &err) < 0) {
                printf("# %s\n", err->msg);
                return false;
        }
        if (la != lb)
                printf("# '%s' has %zu bytes, '%s' %zu\n", a, la, b, lb);
        return la == lb && memcmp(da, db, la) == 0;
}

static unsigned file_mode(const char *path)
{
        struct stat st = {0};

        return path && stat(path, &st) == 0 ? (unsigned) (st.st_mode & 07777) : 0;
}

static bool file_exists(const char *path)
{
        struct stat st = {0};

        return path && lstat(path, &st) == 0;
}

static long long file_size(const char *path)
{
        struct stat st = {0};

        return path && stat(path, &st) == 0 ? (long long) st.st_size : -1;
}

static bool has_prefix(const char *s, const char *prefix)
{
        return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

/* A volume name in the main pool, as its file would be called on a real daemon. */
static char *vol_path(const t_env *t, const char *name)
{
        return kiln_xasprintf("%s/%s", t->pool_path, name);
}

static void skip(const char *why)
{
        ok(1, "# SKIP %s", why);
}

/* The error's code, and its message as a TAP comment for the reader. */
static void is_code(const kiln_error *e, int code, const char *desc)
{
        is_int(e ? e->code : 0, code, "%s", desc);
        printf("#   %s: %s\n", e ? kiln_error_code_name(e->code) : "no error", e ? e->msg : "");
}

static char *pool_xml(virStoragePoolPtr pool)
{
        return pool ? virStoragePoolGetXMLDesc(pool, 0) : NULL;
}

/* ---- sections ---- */

static void t_bad_input(t_env *t)
{
        kiln_autofree char *missing = kiln_xasprintf("%s-missing", t->pool_name);
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(virt_pool_ensure_dir(t->conn, "", "/x", &err) == NULL,
                   "a pool with an empty name is refused");
                is_code(err, KILN_E_INVALID, "as invalid input");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(virt_pool_ensure_dir(t->conn, "a/b", "/x", &err) == NULL,
                   "a pool name with '/' is refused");
                like(err ? err->msg : NULL, "'a/b'", "the error names it");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(virt_pool_ensure_dir(t->conn, missing, "relative/dir", &err) == NULL,
                   "a relative pool path is refused");
                is_code(err, KILN_E_INVALID, "as invalid input");
                like(err ? err->msg : NULL, "'relative/dir'", "the error names the path");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autoptr(virt_pool) pool = virt_pool_lookup(t->conn, missing, &err);

                ok(pool == NULL, "looking up a missing pool fails");
                is_code(err, KILN_E_NOT_FOUND, "as not found");
                kiln_autofree char *quoted = kiln_xasprintf("'%s'", missing);
                like(err ? err->msg : NULL, quoted, "naming the pool in quotes");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(virt_pool_lookup(t->conn, NULL, &err) == NULL && err &&
                           err->code == KILN_E_INVALID,
                   "looking up a NULL pool name is invalid input");
        }
}

static void t_pool_create(t_env *t)
{
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autofree char *xml = NULL;
        kiln_autofree char *epath = NULL;
        char uuid1[VIR_UUID_STRING_BUFLEN] = "", uuid2[VIR_UUID_STRING_BUFLEN] = "";
        int autostart = -1;

        t->pools[0] = kiln_xstrdup(t->pool_name);
        t->pool = virt_pool_ensure_dir(t->conn, t->pool_name, t->pool_path, &err);
        if (!ok(t->pool != NULL, "a new directory pool is defined, built and started")) {
                printf("# %s\n", err ? err->msg : "?");
                return;
        }
        is_str(virStoragePoolGetName(t->pool), t->pool_name,
               "its name, with & < > ' \", survives the XML");
        is_int(virStoragePoolIsActive(t->pool), 1, "the pool is active");
        virStoragePoolGetAutostart(t->pool, &autostart);
        is_int(autostart, 1, "and starts with the daemon");
        xml = pool_xml(t->pool);
        like(xml, "<mode>0711</mode>",
             "its directory is mode 0711 in the XML: searchable, not listable");
        like(xml, "<pool type='dir'>", "it is a directory pool");
        epath = kiln_xasprintf("<path>%s/pool&amp;&apos;x</path>", t->real ? t->tmp : "/kiln-test");
        like(xml, epath, "its path, with & and ', survives the XML");
        if (t->real) {
                struct stat st = {0};

                ok(stat(t->pool_path, &st) == 0 && S_ISDIR(st.st_mode),
                   "building the pool made its directory");
                is_int(file_mode(t->pool_path), 0711, "with mode 0711");
        }
        virStoragePoolGetUUIDString(t->pool, uuid1);
        {
                kiln_autoptr(kiln_error) err2 = NULL;
                kiln_autoptr(virt_pool) again =
                        virt_pool_ensure_dir(t->conn, t->pool_name, t->pool_path, &err2);

                ok(again != NULL, "ensuring an existing pool succeeds");
                if (again)
                        virStoragePoolGetUUIDString(again, uuid2);
                is_str(uuid2, uuid1, "and finds the same pool");
        }
        {
                kiln_autoptr(kiln_error) err2 = NULL;
                kiln_autoptr(virt_pool) found = virt_pool_lookup(t->conn, t->pool_name, &err2);

                ok(found != NULL, "the pool is found by name");
        }
}

static void t_pool_more(t_env *t)
{
        kiln_autofree char *idle = kiln_xasprintf("%s-idle", t->pool_name);
        kiln_autofree char *idle_path = NULL;
        kiln_autofree char *clash = kiln_xasprintf("%s-clash", t->pool_name);

        idle_path = t->real ? path_in(t, "idle") : kiln_xstrdup("/kiln-test/idle");
        t->pools[1] = kiln_xstrdup(idle);
        t->pools[2] = kiln_xstrdup(clash);
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autoptr(virt_pool) pool =
                        virt_pool_ensure_dir(t->conn, clash, t->pool_path, &err);

                ok(pool == NULL, "a second pool on the same directory is refused");
                is_code(err, KILN_E_LIBVIRT, "by libvirt");
                like(err ? err->msg : NULL, clash, "the error names the new pool");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autoptr(virt_pool) lookup = virt_pool_lookup(t->conn, clash, &err);

                ok(lookup == NULL && err && err->code == KILN_E_NOT_FOUND,
                   "and no pool of that name is left");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autoptr(virt_pool) pool = virt_pool_ensure_dir(t->conn, idle, idle_path, &err);

                if (!ok(pool != NULL, "a second pool is made")) {
                        printf("# %s\n", err ? err->msg : "?");
                        return;
                }
                is_int(virStoragePoolDestroy(pool), 0, "and stopped");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autoptr(virt_pool) pool = virt_pool_lookup(t->conn, idle, &err);
                char **names = NULL;

                ok(pool != NULL, "an inactive pool is found by lookup");
                if (!pool)
                        return;
                is_int(virStoragePoolIsActive(pool), 0, "and is inactive");
                is_int(virt_pool_list_volumes(pool, &names, NULL, &err), -1,
                       "listing the volumes of an inactive pool fails");
                ok(names == NULL, "and returns nothing");
                is_code(err, KILN_E_LIBVIRT, "as a libvirt error");
                kiln_autofree char *quoted = kiln_xasprintf("'%s'", idle);
                like(err ? err->msg : NULL, quoted, "naming the pool");
                ok(!virt_volume_exists(pool, "anything"), "no volume exists in an inactive pool");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autoptr(virt_pool) pool = virt_pool_ensure_dir(t->conn, idle, idle_path, &err);

                ok(pool != NULL && virStoragePoolIsActive(pool) == 1,
                   "ensuring an inactive pool starts it");
        }
        if (t->real) {
                kiln_autofree char *blocker = path_in(t, "not-a-dir");
                kiln_autofree char *under = path_in(t, "not-a-dir/pool");
                kiln_autofree char *broken = kiln_xasprintf("%s-broken", t->pool_name);
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autoptr(virt_pool) pool = NULL;
                kiln_autoptr(virt_pool) lookup = NULL;

                t->pools[3] = kiln_xstrdup(broken);
                write_pattern(blocker, 10, 1);
                pool = virt_pool_ensure_dir(t->conn, broken, under, &err);
                ok(pool == NULL, "a pool whose directory cannot be made fails");
                is_code(err, KILN_E_LIBVIRT, "with libvirt's error");
                like(err ? err->msg : NULL, "cannot build pool", "saying what failed");
                kiln_error_free(kiln_steal(&err));
                lookup = virt_pool_lookup(t->conn, broken, &err);
                ok(lookup == NULL && err && err->code == KILN_E_NOT_FOUND,
                   "and the half-made pool is undefined again");
        }
}

/* Upload on the test driver: it has no virStorageVolUpload, so the upload fails after the
 * volume was created, which exercises the rollback. */
static void t_upload_test_driver(t_env *t)
{
        kiln_autofree char *qcow2 = NULL;
        kiln_autofree char *path = NULL;
        kiln_autoptr(kiln_error) err = NULL;

        if (!t->qemu_img) {
                skip("qemu-img is not installed");
                return;
        }
        qcow2 = make_qcow2(t, "small", 64 * 1024ULL);
        if (!ok(qcow2 != NULL, "a small qcow2 file is made"))
                return;
        is_int(virt_volume_upload(t->pool, "up", qcow2, 64 * 1024ULL, true, NULL, NULL, &path,
                                  &err),
               -1, "the test driver cannot upload");
        is_code(err, KILN_E_LIBVIRT, "a libvirt error");
        like(err ? err->msg : NULL, "volume 'up'", "naming the volume");
        kiln_autofree char *quoted = kiln_xasprintf("pool '%s'", t->pool_name);
        like(err ? err->msg : NULL, quoted, "and the pool");
        ok(path == NULL, "no path is returned");
        ok(!virt_volume_exists(t->pool, "up"), "the created volume was deleted again");
}

static void t_upload_bad_input(t_env *t)
{
        kiln_autofree char *missing = path_in(t, "no-such.qcow2");
        kiln_autofree char *raw = path_in(t, "plain.raw");
        {
                kiln_autoptr(kiln_error) err = NULL;
                char *path = NULL;

                is_int(virt_volume_upload(t->pool, "m", missing, MiB, false, NULL, NULL, &path,
                                          &err),
                       -1, "uploading a missing file fails");
                is_code(err, KILN_E_NOT_FOUND, "as not found");
                like(err ? err->msg : NULL, missing, "naming the file");
                like(err ? err->msg : NULL, "No such file or directory", "with the reason");
                ok(!virt_volume_exists(t->pool, "m"), "and leaves no volume");
                if (t->real) {
                        kiln_autofree char *f = vol_path(t, "m");

                        ok(!file_exists(f), "and no file in the pool");
                }
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                char *path = NULL;

                is_int(virt_volume_upload(t->pool, "d", t->tmp, MiB, false, NULL, NULL, &path,
                                          &err),
                       -1, "uploading a directory fails");
                is_code(err, KILN_E_INVALID, "as invalid input");
                like(err ? err->msg : NULL, "not a regular file", "saying why");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                char *path = NULL;

                is_int(virt_volume_upload(t->pool, "../x", raw, MiB, false, NULL, NULL, &path,
                                          &err),
                       -1, "a volume name with '/' is refused");
                is_code(err, KILN_E_INVALID, "as invalid input");
        }
}

static void t_overlay(t_env *t)
{
        const char *ov = "ov<&>'\"";
        /* The test driver insists on a capacity; a real daemon takes the backing file's. */
        unsigned long long cap = t->real ? 0 : t->base_size;
        kiln_autofree char *path = NULL;
        virt_volume_info info = {0};
        {
                kiln_autoptr(kiln_error) err = NULL;

                if (!ok(virt_volume_create_overlay(t->pool, ov, t->base_path, cap, &path, &err) ==
                                0,
                        "an overlay is made")) {
                        printf("# %s\n", err ? err->msg : "?");
                        return;
                }
        }
        kiln_autofree char *want_path = vol_path(t, ov);
        is_str(path, want_path, "in the pool's directory, its name intact");
        {
                kiln_autoptr(kiln_error) err = NULL;

                is_int(virt_volume_get_info(t->pool, ov, &info, &err), 0, "its info is read");
                is_str(info.path, want_path, "path");
                is_int(info.capacity, t->base_size,
                       t->real ? "capacity is the backing file's" : "capacity");
                is_str(info.backing_path, t->base_path, "backing file, its name intact");
                virt_volume_info_clear(&info);
                ok(info.path == NULL && info.backing_path == NULL, "info_clear empties it");
        }
        ok(virt_volume_exists(t->pool, ov), "the overlay exists");
        if (t->real) {
                kiln_autoptr(kiln_cmd) cmd =
                        kiln_cmd_new("qemu-img", "info", "--output=json", "-U", path, NULL);
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *out = NULL;
                json_t *root = NULL;
                const char *compat = NULL;

                is_int(file_mode(path), 0600, "the overlay's mode is 0600");
                if (kiln_cmd_run(cmd, &out, &err) == 0)
                        root = json_loads(out, 0, NULL);
                json_unpack(root, "{s:{s:{s:s}}}", "format-specific", "data", "compat", &compat);
                is_str(compat, "1.1", "it is qcow2 v3 (compat 1.1)");
                json_decref(root);
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                char *p2 = NULL;

                is_int(virt_volume_create_overlay(t->pool, ov, t->base_path, cap, &p2, &err), -1,
                       "an overlay whose name exists is refused");
                is_code(err, KILN_E_EXISTS, "as already existing");
                ok(p2 == NULL, "with no path");
                ok(virt_volume_exists(t->pool, ov), "and the existing volume is kept");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                char *p2 = NULL;

                is_int(virt_volume_create_overlay(t->pool, "big", t->base_path, 8 * MiB, &p2, &err),
                       0, "an overlay with a larger virtual size is made");
                free(p2);
                is_int(virt_volume_get_info(t->pool, "big", &info, &err), 0, "its info is read");
                is_int(info.capacity, 8 * MiB, "with the size asked for");
                virt_volume_info_clear(&info);
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                char *p2 = NULL;

                is_int(virt_volume_create_overlay(t->pool, "rel", "base.qcow2", 0, &p2, &err), -1,
                       "a relative backing path is refused");
                is_code(err, KILN_E_INVALID, "as invalid input");
                ok(!virt_volume_exists(t->pool, "rel"), "and no volume is made");
        }
        if (t->real) {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *gone = vol_path(t, "no-such-base");
                kiln_autofree char *f = vol_path(t, "orphan");
                char *p2 = NULL;

                is_int(virt_volume_create_overlay(t->pool, "orphan", gone, 0, &p2, &err), -1,
                       "an overlay of a missing backing file fails");
                is_code(err, KILN_E_LIBVIRT, "with libvirt's error");
                like(err ? err->msg : NULL, "volume 'orphan'", "naming the volume");
                ok(!virt_volume_exists(t->pool, "orphan") && !file_exists(f),
                   "and leaves no volume");
        } else {
                kiln_autoptr(kiln_error) err = NULL;
                char *p2 = NULL;

                /* The test driver does not give an overlay its backing file's size: it insists on
                 * a capacity. A real daemon does (see above). */
                is_int(virt_volume_create_overlay(t->pool, "nocap", "/kiln-test/none", 0, &p2,
                                                  &err),
                       -1, "the test driver needs a capacity for an overlay");
                is_code(err, KILN_E_LIBVIRT, "and says so through libvirt");
                ok(!virt_volume_exists(t->pool, "nocap"), "leaving no volume");
        }
}

/* Real daemon: the main upload, whose volume is the backing file of the overlays. */
static void t_upload_real(t_env *t)
{
        kiln_autofree char *qcow2 = NULL;
        kiln_autofree char *path = NULL;
        kiln_autofree char *want_prefix = kiln_xasprintf("%s/", t->pool_path);
        t_progress prog = {.monotonic = true};
        virt_volume_info info = {0};
        kiln_autoptr(kiln_error) err = NULL;

        qcow2 = make_qcow2(t, "data", DATA_SIZE);
        if (!ok(qcow2 != NULL, "a 3 MiB qcow2 file is made"))
                return;
        if (!ok(virt_volume_upload(t->pool, "base&'x", qcow2, DATA_SIZE, true, progress_cb, &prog,
                                   &path, &err) == 0,
                "it is uploaded read-only")) {
                printf("# %s\n", err ? err->msg : "?");
                return;
        }
        ok(has_prefix(path, want_prefix), "into the pool's directory");
        kiln_autofree char *want_path = vol_path(t, "base&'x");
        is_str(path, want_path, "under its name");
        is_int(file_mode(path), 0400, "with mode 0400: kiln's user alone reads it");
        is_int(file_size(path), file_size(qcow2), "its file has the local file's length");
        ok(prog.calls > 1, "progress is reported per chunk (%d calls)", prog.calls);
        ok(prog.monotonic, "progress only grows");
        is_int(prog.last_done, file_size(qcow2), "the last report has every byte");
        is_int(prog.last_total, file_size(qcow2), "of the total");
        t->base_path = kiln_xstrdup(path);
        t->base_size = 3 * MiB + 4096;

        is_int(virt_volume_get_info(t->pool, "base&'x", &info, &err), 0, "its info is read");
        is_int(info.capacity, 3 * MiB + 4096, "capacity is the virtual size");
        ok(info.allocation > 0, "allocation is above 0 (%llu)", info.allocation);
        is_str(info.path, path, "path");
        ok(info.backing_path == NULL, "no backing file");
        virt_volume_info_clear(&info);
        {
                kiln_autofree char *down = path_in(t, "down.qcow2");
                t_progress dprog = {.monotonic = true};

                write_pattern(down, 100, 3);
                chmod(down, 0644);
                is_int(virt_volume_download(t->pool, "base&'x", down, progress_cb, &dprog, &err), 0,
                       "it is downloaded over an existing file");
                ok(same_file(qcow2, down), "byte for byte what was uploaded");
                is_int(file_mode(down), 0600, "the download has mode 0600");
                is_int(dprog.last_done, file_size(qcow2), "progress saw every byte");
                is_int(dprog.last_total, file_size(qcow2), "of the right total");
        }
        {
                kiln_autoptr(kiln_error) e2 = NULL;
                kiln_autofree char *other = make_qcow2(t, "other", 128 * 1024ULL);
                char *p2 = NULL;

                is_int(virt_volume_upload(t->pool, "base&'x", other, 128 * 1024ULL, true, NULL,
                                          NULL, &p2, &e2),
                       -1, "uploading to an existing name fails");
                is_code(e2, KILN_E_EXISTS, "as already existing");
                is_int(file_size(path), file_size(qcow2), "and the existing volume is intact");
        }
        {
                kiln_autoptr(kiln_error) e2 = NULL;
                char *p2 = NULL;

                is_int(virt_volume_upload(t->pool, "rw", qcow2, DATA_SIZE, false, NULL, NULL, &p2,
                                          &e2),
                       0, "a writable upload works");
                is_int(file_mode(p2), 0600, "with mode 0600");
                free(p2);
        }
}

/* Real daemon: an uploaded layer whose qcow2 header names a backing file. */
static void t_upload_layer_real(t_env *t)
{
        kiln_autofree char *local = path_in(t, "layer.qcow2");
        kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("qemu-img", "create", "-q", "-f", "qcow2", "-F",
                                                  "qcow2", "-b", t->base_path, local, NULL);
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autofree char *path = NULL;
        virt_volume_info info = {0};

        if (!ok(run(cmd) == 0, "a local qcow2 layer over the uploaded volume is made"))
                return;
        if (!ok(virt_volume_upload(t->pool, "layer", local, DATA_SIZE, true, NULL, NULL, &path,
                                   &err) == 0,
                "the layer is uploaded")) {
                printf("# %s\n", err ? err->msg : "?");
                return;
        }
        is_int(virt_volume_get_info(t->pool, "layer", &info, &err), 0, "its info is read");
        is_str(info.backing_path, t->base_path, "at once with the backing file from its header");
        is_int(info.capacity, t->base_size, "and the backing file's virtual size");
        virt_volume_info_clear(&info);
}

/* Real daemon: another client builds volumes in the pool while we refresh it. The storage
 * driver refuses a refresh while a volume is being built; virt_pool_list_volumes must wait. */
typedef struct t_race {
        const t_env *t;
        atomic_int done;
        int made, failed;
} t_race;

static void *race_builder(void *arg)
{
        t_race *r = arg;
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autoptr(virt_conn) conn = virt_connect(r->t->uri, &err);
        kiln_autoptr(virt_pool) pool = conn ? virt_pool_lookup(conn, r->t->pool_name, &err) : NULL;

        for (int i = 0; pool && i < 15 && !stop; i++) {
                kiln_autofree char *name = kiln_xasprintf("race-%d", i);
                char *path = NULL;

                if (virt_volume_create_overlay(pool, name, r->t->base_path, 0, &path, &err) == 0)
                        r->made++;
                free(path);
        }
        for (int i = 0; pool && i < 15; i++) {
                kiln_autofree char *name = kiln_xasprintf("race-%d", i);

                virt_volume_delete(pool, name, NULL);
        }
        if (err) {
                printf("# builder: %s\n", err->msg);
                r->failed = 1;
        }
        atomic_store(&r->done, 1);
        return NULL;
}

static void t_refresh_race_real(t_env *t)
{
        t_race r = {.t = t};
        pthread_t th = 0;
        int lists = 0, failures = 0;

        atomic_init(&r.done, 0);
        if (!ok(pthread_create(&th, NULL, race_builder, &r) == 0, "a second client starts"))
                return;
        while (!atomic_load(&r.done)) {
                kiln_autoptr(kiln_error) err = NULL;
                char **names = NULL;
                size_t n = 0;

                lists++;
                if (virt_pool_list_volumes(t->pool, &names, &n, &err) < 0) {
                        if (failures++ == 0)
                                printf("# %s\n", err->msg);
                        continue;
                }
                for (size_t i = 0; i < n; i++)
                        free(names[i]);
                free(names);
        }
        pthread_join(th, NULL);
        is_int(r.made, 15, "it builds 15 overlays");
        ok(!r.failed, "without an error");
        is_int(failures, 0, "%d refreshes of the pool meanwhile all succeed", lists);
}

static void t_abort_real(t_env *t)
{
        kiln_autofree char *qcow2 = path_in(t, "data.qcow2");
        kiln_autofree char *f = vol_path(t, "aborted");
        {
                kiln_autoptr(kiln_error) err = NULL;
                t_progress prog = {.abort_at = 2, .monotonic = true};
                char *p = NULL;

                is_int(virt_volume_upload(t->pool, "aborted", qcow2, DATA_SIZE, true, progress_cb,
                                          &prog, &p, &err),
                       -1, "an upload the progress function stops fails");
                is_code(err, KILN_E_INTERRUPTED, "as interrupted");
                like(err ? err->msg : NULL, "volume 'aborted'", "naming the volume");
                ok(prog.last_done > 0 && prog.last_done < prog.last_total,
                   "it stopped in the middle (%llu of %llu bytes)", prog.last_done,
                   prog.last_total);
                ok(!virt_volume_exists(t->pool, "aborted"), "and leaves no volume");
                ok(!file_exists(f), "and no file in the pool");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                t_progress prog = {.abort_at = 1, .monotonic = true};
                kiln_autofree char *down = path_in(t, "down-aborted.qcow2");

                is_int(virt_volume_download(t->pool, "base&'x", down, progress_cb, &prog, &err), -1,
                       "a download the progress function stops fails");
                is_code(err, KILN_E_INTERRUPTED, "as interrupted");
                ok(!file_exists(down), "and removes the local file");
        }
}

static void t_download_errors(t_env *t)
{
        kiln_autofree char *keep = path_in(t, "keep");
        kiln_autoptr(kiln_error) err = NULL;

        write_pattern(keep, 10, 5);
        is_int(virt_volume_download(t->pool, "no-such-volume", keep, NULL, NULL, &err), -1,
               "downloading a missing volume fails");
        is_code(err, KILN_E_NOT_FOUND, "as not found");
        like(err ? err->msg : NULL, "'no-such-volume'", "naming the volume");
        is_int(file_size(keep), 10, "the local file is not touched");
        if (!t->real) {
                kiln_autoptr(kiln_error) e2 = NULL;
                const char *ov = "ov<&>'\"";

                is_int(virt_volume_download(t->pool, ov, keep, NULL, NULL, &e2), -1,
                       "the test driver cannot download");
                is_code(e2, KILN_E_LIBVIRT, "a libvirt error");
                like(e2 ? e2->msg : NULL, "cannot start the download", "saying what failed");
                ok(!file_exists(keep), "the replaced local file is removed");
        }
}

static void t_list_delete(t_env *t)
{
        const char *extra[] = {"c", "a", "b"};
        char **names = NULL;
        size_t n = 0;
        kiln_autoptr(kiln_error) err = NULL;

        for (size_t i = 0; i < KILN_ARRAY_SIZE(extra); i++) {
                char *p = NULL;

                if (virt_volume_create_overlay(t->pool, extra[i], t->base_path, 0, &p, &err) < 0 &&
                    virt_volume_create_overlay(t->pool, extra[i], t->base_path, MiB, &p, &err) < 0)
                        printf("# %s\n", err ? err->msg : "?");
                free(p);
        }
        kiln_error_free(kiln_steal(&err));
        if (!ok(virt_pool_list_volumes(t->pool, &names, &n, &err) == 0, "volumes are listed"))
                return;
        {
                bool sorted = true;
                size_t found = 0;

                for (size_t i = 0; i < n; i++) {
                        printf("#   %s\n", names[i]);
                        if (i > 0 && strcmp(names[i - 1], names[i]) >= 0)
                                sorted = false;
                        for (size_t k = 0; k < KILN_ARRAY_SIZE(extra); k++)
                                if (strcmp(names[i], extra[k]) == 0)
                                        found++;
                }
                ok(sorted, "sorted by name");
                is_int(found, 3, "with the three new volumes");
                ok(names[n] == NULL, "the list ends with NULL");
                /* test driver: a b big c ov; real: a b base big c layer ov rw */
                is_int(n, t->real ? 8 : 5, "and every volume made so far");
        }
        for (size_t i = 0; i < n; i++) {
                kiln_autoptr(kiln_error) e2 = NULL;

                if (virt_volume_delete(t->pool, names[i], &e2) < 0)
                        printf("# delete '%s': %s\n", names[i], e2->msg);
        }
        {
                kiln_autoptr(kiln_error) e2 = NULL;
                virt_volume_info info = {0};

                ok(!virt_volume_exists(t->pool, "a"), "a deleted volume no longer exists");
                is_int(virt_volume_get_info(t->pool, "a", &info, &e2), -1,
                       "its info cannot be read");
                is_code(e2, KILN_E_NOT_FOUND, "as not found");
                like(e2 ? e2->msg : NULL, "volume 'a' in pool", "naming volume and pool");
                ok(info.path == NULL, "the info is left untouched");
        }
        {
                kiln_autoptr(kiln_error) e2 = NULL;

                is_int(virt_volume_delete(t->pool, "a", &e2), 0,
                       "deleting a missing volume is no error");
                ok(e2 == NULL, "and sets none");
                is_int(virt_volume_delete(t->pool, "", &e2), -1, "an empty volume name is refused");
                is_code(e2, KILN_E_INVALID, "as invalid input");
        }
        if (t->real) {
                kiln_autofree char *f = vol_path(t, "base&'x");

                ok(!file_exists(f), "deleting removed the files");
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        names = NULL;
        is_int(virt_pool_list_volumes(t->pool, &names, &n, &err), 0, "the pool is listed again");
        is_int(n, 0, "and is empty");
        ok(names && names[0] == NULL, "an empty list is an array with just NULL");
        free(names);
}

/* ---- set-up and clean-up ---- */

static void cleanup(t_env *t)
{
        for (size_t i = 0; i < KILN_ARRAY_SIZE(t->pools); i++) {
                virStoragePoolPtr pool = NULL;
                virStorageVolPtr *vols = NULL;
                int n = 0;

                if (!t->pools[i])
                        continue;
                pool = virStoragePoolLookupByName(t->conn, t->pools[i]);
                if (pool) {
                        if (virStoragePoolIsActive(pool) == 1) {
                                virStoragePoolRefresh(pool, 0);
                                n = virStoragePoolListAllVolumes(pool, &vols, 0);
                                for (int k = 0; k < n; k++) {
                                        printf("# clean-up: deleting volume '%s'\n",
                                               virStorageVolGetName(vols[k]));
                                        virStorageVolDelete(vols[k], 0);
                                        virStorageVolFree(vols[k]);
                                }
                                free(vols);
                                if (virStoragePoolDestroy(pool) < 0)
                                        printf("# clean-up: cannot stop pool '%s': %s\n",
                                               t->pools[i], virGetLastErrorMessage());
                        }
                        if (virStoragePoolUndefine(pool) < 0)
                                printf("# clean-up: cannot undefine pool '%s': %s\n", t->pools[i],
                                       virGetLastErrorMessage());
                        virStoragePoolFree(pool);
                }
                free(t->pools[i]);
                t->pools[i] = NULL;
        }
        if (t->pool)
                virStoragePoolFree(t->pool);
        t->pool = NULL;
        if (t->tmp) {
                kiln_autoptr(kiln_cmd) cmd =
                        kiln_cmd_new("rm", "-rf", "--one-file-system", "--", t->tmp, NULL);

                run(cmd);
        }
}

int main(void)
{
        const char *uri = getenv("KILN_TEST_URI");
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autofree char *qemu_img = kiln_find_program("qemu-img");
        kiln_autofree char *tmpl = NULL;
        const char *base = "/tmp";
        t_env t = {0};
        struct sigaction sa = {0};
        int rc = 0;

        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        if (kiln_global_init(&err) < 0) {
                printf("Bail out! %s\n", err->msg);
                return 1;
        }
        t.real = uri && *uri;
        t.uri = uri;
        t.qemu_img = qemu_img != NULL;
        if (t.real && !t.qemu_img) {
                printf("1..0 # SKIP qemu-img is not installed\n");
                return 77;
        }
        t.conn = virt_connect(t.real ? uri : "test:///default", &err);
        if (!t.conn) {
                printf("%s%s\n", t.real ? "1..0 # SKIP " : "Bail out! ", err->msg);
                return t.real ? 77 : 1;
        }
        printf("# libvirt at %s\n", t.real ? uri : "test:///default");
        /* On a real daemon QEMU's user must traverse the pool: /var/tmp (or the directory the
         * e2e script made there), not a private TMPDIR. */
        if (getenv("KILN_TEST_TMPDIR"))
                base = getenv("KILN_TEST_TMPDIR");
        else if (t.real)
                base = "/var/tmp";
        else if (getenv("TMPDIR"))
                base = getenv("TMPDIR");
        tmpl = kiln_xasprintf("%s/kiln-test-storage.XXXXXX", base);
        if (!mkdtemp(tmpl) || chmod(tmpl, 0755) < 0) {
                printf("Bail out! cannot make a directory from '%s': %s\n", tmpl, strerror(errno));
                virt_disconnect(t.conn);
                return 1;
        }
        t.tmp = kiln_steal(&tmpl);
        t.pool_name = kiln_xasprintf("kiln-test-storage-%ld-<&>'\"", (long) getpid());
        t.pool_path =
                t.real ? kiln_xasprintf("%s/pool&'x", t.tmp) : kiln_xstrdup("/kiln-test/pool&'x");
        t.base_path = t.real ? NULL : kiln_xstrdup("/kiln-test/pool&'x/base<&>'\".qcow2");
        t.base_size = t.real ? 0 : 1024 * MiB;

        t_bad_input(&t);
        if (!stop)
                t_pool_create(&t);
        if (t.pool) {
                void (*sections_test[])(t_env *) = {t_pool_more,        t_upload_test_driver,
                                                    t_upload_bad_input, t_overlay,
                                                    t_download_errors,  t_list_delete};
                void (*sections_real[])(t_env *) = {
                        t_pool_more,         t_upload_bad_input, t_upload_real,
                        t_upload_layer_real, t_overlay,          t_refresh_race_real,
                        t_abort_real,        t_download_errors,  t_list_delete};

                if (!t.real) {
                        for (size_t i = 0; i < KILN_ARRAY_SIZE(sections_test) && !stop; i++)
                                sections_test[i](&t);
                } else {
                        for (size_t i = 0; i < KILN_ARRAY_SIZE(sections_real) && !stop; i++) {
                                if (sections_real[i] == t_upload_layer_real && !t.base_path) {
                                        ok(0, "no uploaded volume to build overlays on");
                                        break;
                                }
                                sections_real[i](&t);
                        }
                }
        }
        cleanup(&t);
        {
                kiln_autoptr(virt_pool) left = virStoragePoolLookupByName(t.conn, t.pool_name);

                ok(left == NULL, "clean-up left no pool behind");
                ok(!file_exists(t.tmp), "nor the scratch directory");
        }
        if (stop)
                ok(0, "interrupted by signal %d", (int) stop);
        virt_disconnect(t.conn);
        free(t.tmp);
        free(t.pool_name);
        free(t.pool_path);
        free(t.base_path);
        kiln_global_cleanup();
        rc = done();
        return rc;
}
