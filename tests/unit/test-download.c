/* Downloads (net/download.h) against tests/harness/httpd.py, which serves a few MiB of
 * pseudo-random bytes on 127.0.0.1 with a behaviour chosen by the path: clean downloads with
 * sha256 and sha512 checksums, a mismatch, checksum syntax, resume within a call after a cut
 * connection and across calls from a .part left behind (written by a failed call or by hand,
 * complete, too long or corrupt), a file that changes on the server between two calls (If-Range
 * with an ETag or a Last-Modified kept in DEST.part.meta), a server without ranges, retries of
 * 503 and of a refused connection, a stalled server, an interruption from the progress
 * function, 404, redirects (and one to file://, refused), URLs that are not http(s), the
 * free-space check through its test hook (also while a chunked answer arrives), and the size
 * cap. A second server speaks TLS with a certificate made here by openssl: untrusted, then
 * trusted through the CA test hook, it checks that https is never redirected to http. Needs
 * python3 (skips with 77 without it; the TLS cases skip without openssl); takes about 10 s. Its
 * scratch directory goes below KILN_TEST_TMPDIR, TMPDIR or /tmp and is removed at the end. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "net/download.h"
#include "tap.h"
#include "util/util.h"

#define DATA_LEN     (3 * 1024 * 1024 + 12345) /* odd on purpose: the cut is not on a block */
#define STALL_PREFIX 65536                     /* what /stall sends before it goes quiet */

static char *tmp;           /* scratch directory */
static unsigned char *data; /* the bytes the server serves */
static char *base_url;      /* http://127.0.0.1:PORT */
static pid_t server_pid = -1;
static char *tls_url; /* https://127.0.0.1:PORT, the same server over TLS; NULL without openssl */
static pid_t tls_pid = -1;
static char *ca_file; /* its self-signed certificate */
static char sha256_hex[65], sha512_hex[129];

/* ---- helpers ---- */

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void digest_hex(const EVP_MD *md, const void *buf, size_t len, char *out)
{
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        EVP_Digest(buf, len, d, &n, md, NULL);
        for (unsigned int i = 0; i < n; i++)
                snprintf(out + (size_t) 2 * i, 3, "%02x", d[i]);
}

static int write_file(const char *path, const void *buf, size_t len)
{
        FILE *f = fopen(path, "wb");
        int r;

        if (!f)
                return -1;
        r = fwrite(buf, 1, len, f) == len ? 0 : -1;
        if (fclose(f) != 0)
                r = -1;
        return r;
}

static char *path_of(const char *name)
{
        return kiln_xasprintf("%s/%s", tmp, name);
}

static char *url_of(const char *path)
{
        return kiln_xasprintf("%s%s", base_url, path);
}

static bool exists(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0;
}

static long long size_of(const char *path)
{
        struct stat st;

        return stat(path, &st) == 0 ? (long long) st.st_size : -1;
}

/* True if the file holds exactly these DATA_LEN bytes. */
static bool same_as(const char *path, const unsigned char *bytes)
{
        kiln_autofree char *buf = NULL;
        size_t len = 0;

        if (kiln_file_read(path, DATA_LEN + 1, &buf, &len, NULL) < 0)
                return false;
        return len == DATA_LEN && memcmp(buf, bytes, DATA_LEN) == 0;
}

/* True if the file holds exactly the served bytes. */
static bool same_as_data(const char *path)
{
        return same_as(path, data);
}

static void remove_dest(const char *dest)
{
        kiln_autofree char *part = kiln_xasprintf("%s.part", dest);
        kiln_autofree char *meta = kiln_xasprintf("%s.part.meta", dest);

        unlink(dest);
        unlink(part);
        unlink(meta);
}

static download_spec spec_for(const char *url, const char *dest, const char *checksum)
{
        download_spec s = {
                .url = url,
                .dest = dest,
                .checksum = checksum,
                .connect_timeout_s = 5,
                .stall_timeout_s = 10,
                .max_attempts = 5,
        };
        return s;
}

/* GET /reset: forgets the counters of /flaky and /cut. */
static void server_reset(void)
{
        kiln_autofree char *url = url_of("/reset");
        kiln_autofree char *dest = path_of("reset.out");
        download_spec s = spec_for(url, dest, NULL);
        download_result r = {0};

        if (download_file(&s, &r, NULL) < 0)
                printf("# GET /reset failed\n");
        download_result_clear(&r);
        unlink(dest);
}

typedef struct t_progress {
        int calls;
        int stop_at; /* return non-zero on this call; 0: never */
        uint64_t done, total;
        double rate;
        bool monotonic;
} t_progress;

static int progress_cb(uint64_t done, uint64_t total, double rate, void *userdata)
{
        t_progress *p = userdata;

        p->rate = rate;
        p->calls++;
        if (p->calls > 1 && done < p->done)
                p->monotonic = false;
        p->done = done;
        p->total = total;
        return p->stop_at && p->calls >= p->stop_at;
}

static const char *err_msg(const kiln_error *e)
{
        return e && e->msg ? e->msg : "(no error)";
}

static int err_code(const kiln_error *e)
{
        return e ? e->code : 0;
}

/* ---- the server ---- */

/* Starts httpd.py on FILE, over TLS if cert and key are given; sets *ret_pid and *ret_url. */
static int start_server(const char *file, const char *cert, const char *key, pid_t *ret_pid,
                        char **ret_url)
{
        int pfd[2];
        char line[32];
        FILE *f;

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -1;
        *ret_pid = fork();
        if (*ret_pid < 0)
                return -1;
        if (*ret_pid == 0) {
                dup2(pfd[1], STDOUT_FILENO);
                if (cert)
                        execlp("python3", "python3", KILN_SRCDIR "/tests/harness/httpd.py", file,
                               "--tls", cert, key, (char *) NULL);
                else
                        execlp("python3", "python3", KILN_SRCDIR "/tests/harness/httpd.py", file,
                               (char *) NULL);
                _exit(127);
        }
        close(pfd[1]);
        f = fdopen(pfd[0], "r");
        if (!f) {
                close(pfd[0]);
                return -1;
        }
        if (!fgets(line, sizeof(line), f)) {
                fclose(f);
                return -1;
        }
        fclose(f);
        line[strcspn(line, "\n")] = '\0';
        if (!kiln_is_digits(line, strlen(line)) || strlen(line) > 5)
                return -1;
        *ret_url = kiln_xasprintf("%s://127.0.0.1:%s", cert ? "https" : "http", line);
        return 0;
}

static void stop_one(pid_t *pid)
{
        if (*pid > 0) {
                kill(*pid, SIGTERM);
                waitpid(*pid, NULL, 0);
                *pid = -1;
        }
}

static void stop_server(void)
{
        stop_one(&server_pid);
        stop_one(&tls_pid);
}

/* A self-signed certificate for 127.0.0.1 made with openssl, and the same server over TLS with
 * it. Leaves tls_url NULL if either fails. */
static void start_tls_server(const char *file)
{
        kiln_autofree char *key = path_of("tls-key.pem");
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autoptr(kiln_cmd) cmd = NULL;

        ca_file = path_of("tls-cert.pem");
        cmd = kiln_cmd_new("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
                           ca_file, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                           "subjectAltName=IP:127.0.0.1", NULL);
        if (kiln_cmd_run(cmd, NULL, &err) < 0) {
                printf("# no TLS server: %s\n", err->msg);
                return;
        }
        if (start_server(file, ca_file, key, &tls_pid, &tls_url) < 0) {
                printf("# no TLS server: httpd.py --tls did not start\n");
                stop_one(&tls_pid);
                free(tls_url);
                tls_url = NULL;
        }
}

/* A port on 127.0.0.1 where nothing listens (one the kernel just gave out and took back). */
static int closed_port(void)
{
        struct sockaddr_in sa = {.sin_family = AF_INET};
        socklen_t len = sizeof(sa);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

        if (fd < 0)
                return -1;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 &&
            getsockname(fd, (struct sockaddr *) &sa, &len) == 0)
                port = ntohs(sa.sin_port);
        close(fd);
        return port;
}

static void remove_tmp(void)
{
        DIR *d = opendir(tmp);
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d)) != NULL) {
                kiln_autofree char *p = NULL;

                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                p = path_of(e->d_name);
                unlink(p);
        }
        closedir(d);
        rmdir(tmp);
}

/* ---- the cases ---- */

static void test_checksum_syntax(void)
{
        kiln_autofree char *hex63 = kiln_xstrndup(sha256_hex, 63);
        kiln_autofree char *ok256 = kiln_xasprintf("sha256:%s", sha256_hex);
        kiln_autofree char *ok512 = kiln_xasprintf("SHA512:%s", sha512_hex);
        kiln_autofree char *short256 = kiln_xasprintf("sha256:%s", hex63);
        kiln_autofree char *sha512_of_256 = kiln_xasprintf("sha512:%s", sha256_hex);
        kiln_autofree char *md5 = kiln_xasprintf("md5:%.32s", sha256_hex);
        static const struct {
                int which; /* index into args */
                const char *needle;
                const char *what;
        } bad[] = {
                {2, "not supported", "md5 is refused"},
                {3, "not hexadecimal", "sha256:xyz is refused: not hex"},
                {4, "must have 64 hex digits, not 63", "63 hex digits are refused"},
                {5, "must have 128 hex digits, not 64", "sha512 with 64 hex digits is refused"},
                {6, "names no algorithm", "hex digits without an algorithm are refused"},
                {7, "is empty", "an empty checksum is refused"},
                {8, "not supported", "an empty algorithm name is refused"},
        };
        const char *args[] = {ok256,         ok512,      md5, "sha256:xyz", short256,
                              sha512_of_256, sha256_hex, "",  ":abc"};

        for (int i = 0; i < 2; i++) {
                kiln_autoptr(kiln_error) err = NULL;

                ok(download_check_checksum_arg(args[i], &err) == 0, "checksum '%.12s...' is valid",
                   args[i]);
        }
        for (size_t i = 0; i < KILN_ARRAY_SIZE(bad); i++) {
                kiln_autoptr(kiln_error) err = NULL;
                int r = download_check_checksum_arg(args[bad[i].which], &err);

                ok(r < 0 && err_code(err) == KILN_E_INVALID, "%s (KILN_E_INVALID)", bad[i].what);
                like(err_msg(err), bad[i].needle, "  and says '%s'", bad[i].needle);
        }
}

static void test_clean(void)
{
        kiln_autofree char *url = url_of("/file");
        kiln_autofree char *dest = path_of("clean.img");
        kiln_autofree char *part = kiln_xasprintf("%s.part", dest);
        kiln_autofree char *sum = kiln_xasprintf("sha256:%s", sha256_hex);
        kiln_autofree char *sum512 = kiln_xasprintf("sha512:%s", sha512_hex);
        kiln_autofree char *upper = kiln_xstrdup(sum512);
        kiln_autoptr(kiln_error) err = NULL;
        download_spec s = spec_for(url, dest, sum);
        download_result r = {0};
        t_progress p = {.monotonic = true};

        s.progress = progress_cb;
        s.userdata = &p;
        ok(download_file(&s, &r, &err) == 0, "clean download with a sha256 checksum: %s",
           err_msg(err));
        ok(same_as_data(dest), "  DEST holds the served bytes");
        ok(!exists(part), "  no DEST.part is left");
        is_int(r.bytes, DATA_LEN, "  result: bytes");
        is_int(r.resumed_from, 0, "  result: nothing resumed");
        is_int(r.attempts, 1, "  result: one attempt");
        is_str(r.digest, sum, "  result: the sha256 digest");
        ok(p.calls >= 1 && p.monotonic, "  progress was called (%d times), never going back",
           p.calls);
        ok(p.done == DATA_LEN && p.total == DATA_LEN, "  its last call says all of it is done");
        download_result_clear(&r);
        ok(r.digest == NULL && r.bytes == 0, "download_result_clear empties the result");

        /* sha512 in upper case, and the download replaces the existing DEST */
        for (char *c = upper + 7; *c; c++)
                if (*c >= 'a' && *c <= 'f')
                        *c = (char) (*c - 'a' + 'A');
        s = spec_for(url, dest, upper);
        ok(download_file(&s, &r, &err) == 0, "download with a sha512 checksum in upper case: %s",
           err_msg(err));
        ok(same_as_data(dest), "  DEST (replaced) holds the served bytes");
        is_str(r.digest, sum512, "  result: the sha512 digest, in lower case");
        download_result_clear(&r);

        unlink(dest);
        s = spec_for(url, dest, NULL);
        ok(download_file(&s, &r, &err) == 0, "download without a checksum: %s", err_msg(err));
        is_str(r.digest, sum, "  result: the sha256 digest all the same");
        download_result_clear(&r);
        unlink(dest);
}

static void test_mismatch(void)
{
        kiln_autofree char *url = url_of("/file");
        kiln_autofree char *dest = path_of("mismatch.img");
        kiln_autofree char *part = kiln_xasprintf("%s.part", dest);
        kiln_autofree char *wrong = kiln_xasprintf("sha256:%s", sha256_hex);
        kiln_autoptr(kiln_error) err = NULL;
        download_spec s = spec_for(url, dest, wrong);
        download_result r = {0};
        int rc;

        wrong[7] = wrong[7] == '0' ? '1' : '0';
        rc = download_file(&s, &r, &err);
        ok(rc < 0 && err_code(err) == KILN_E_INVALID,
           "a checksum mismatch fails with KILN_E_INVALID");
        like(err_msg(err), "checksum mismatch for ", "  the message says so");
        like(err_msg(err), wrong, "  and gives the expected checksum");
        like(err_msg(err), sha256_hex, "  and the one it got");
        ok(!exists(dest) && !exists(part), "  no DEST and no DEST.part are left");
        ok(r.digest == NULL, "  the result is untouched");
}

static void test_cut(void)
{
        kiln_autofree char *url = url_of("/cut");
        kiln_autofree char *dest = path_of("cut.img");
        kiln_autofree char *part = kiln_xasprintf("%s.part", dest);
        kiln_autofree char *sum = kiln_xasprintf("sha256:%s", sha256_hex);
        download_spec s = spec_for(url, dest, sum);
        download_result r = {0};

        /* within one call: the second attempt resumes */
        server_reset();
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(download_file(&s, &r, &err) == 0, "a cut transfer is resumed by a retry: %s",
                   err_msg(err));
                is_int(r.attempts, 2, "  two attempts");
                is_int(r.resumed_from, DATA_LEN / 2, "  the second resumed from the cut");
                ok(same_as_data(dest), "  DEST holds the served bytes");
                is_str(r.digest, sum, "  and the digest covers both parts");
                download_result_clear(&r);
                remove_dest(dest);
        }

        /* across calls: the first call gives up, the second resumes its .part */
        server_reset();
        s.max_attempts = 1;
        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc = download_file(&s, &r, &err);

                ok(rc < 0 && err_code(err) == KILN_E_HTTP,
                   "a cut transfer with max_attempts 1 fails with KILN_E_HTTP: %s", err_msg(err));
                ok(!exists(dest), "  no DEST");
                is_int(size_of(part), DATA_LEN / 2, "  DEST.part holds what came");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(download_file(&s, &r, &err) == 0, "a new call resumes that .part: %s",
                   err_msg(err));
                is_int(r.resumed_from, DATA_LEN / 2, "  from its size");
                is_int(r.attempts, 1, "  in one attempt");
                ok(same_as_data(dest) && !exists(part), "  DEST holds the served bytes, no .part");
                is_str(r.digest, sum, "  and the digest covers the old .part too");
                download_result_clear(&r);
                remove_dest(dest);
        }
}

/* The file changes on the server between two calls: the .part of the old one is not resumed
 * with the new one's bytes (If-Range with the validator kept in DEST.part.meta). */
static void test_changed(const char *path, const char *header)
{
        kiln_autofree char *url = url_of(path);
        kiln_autofree char *dest = path_of("changed.img");
        kiln_autofree char *part = kiln_xasprintf("%s.part", dest);
        kiln_autofree char *meta = kiln_xasprintf("%s.part.meta", dest);
        kiln_autofree char *mutate = url_of("/mutate");
        kiln_autofree char *mutate_dest = path_of("mutate.out");
        kiln_autofree unsigned char *mutated = kiln_xmalloc(DATA_LEN);
        download_spec s = spec_for(url, dest, NULL);
        download_result r = {0};
        struct stat sb;

        for (size_t i = 0; i < DATA_LEN; i++)
                mutated[i] = (unsigned char) (data[i] ^ 0xff);

        /* unchanged: the second call resumes */
        server_reset();
        s.max_attempts = 1;
        {
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *text = NULL;
                size_t len = 0;

                ok(download_file(&s, &r, &err) < 0, "%s: a cut transfer fails", path);
                is_int(size_of(part), DATA_LEN / 2, "  DEST.part holds what came");
                ok(stat(meta, &sb) == 0 && (sb.st_mode & 0777) == 0600,
                   "  DEST.part.meta is there, mode 0600");
                kiln_file_read(meta, 1024, &text, &len, NULL);
                like(text ? text : "", header, "  with the validator: %s", text ? text : "");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(download_file(&s, &r, &err) == 0, "  an unchanged file is resumed: %s",
                   err_msg(err));
                is_int(r.resumed_from, DATA_LEN / 2, "  from the cut");
                ok(same_as_data(dest), "  DEST holds the served bytes");
                ok(!exists(part) && !exists(meta), "  no DEST.part and no DEST.part.meta");
                download_result_clear(&r);
                remove_dest(dest);
        }

        /* changed between the calls: the second one starts over */
        server_reset();
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(download_file(&s, &r, &err) < 0 && size_of(part) == DATA_LEN / 2,
                   "%s: a cut transfer leaves half of the file", path);
        }
        {
                download_spec m = spec_for(mutate, mutate_dest, NULL);

                ok(download_file(&m, &r, NULL) == 0, "  the file changes on the server");
                download_result_clear(&r);
                unlink(mutate_dest);
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(download_file(&s, &r, &err) == 0, "  the next call succeeds: %s", err_msg(err));
                is_int(r.resumed_from, 0, "  starting over");
                ok(same_as(dest, mutated), "  DEST holds the new file, not the old one's head "
                                           "and the new one's tail");
                ok(!exists(part) && !exists(meta), "  no DEST.part and no DEST.part.meta");
                download_result_clear(&r);
                remove_dest(dest);
        }
        server_reset();
}

/* A .part written by hand before the call: a prefix, the whole file, a longer file, or
 * bytes that are not the file's. */
static void test_part_on_disk(void)
{
        kiln_autofree char *url = url_of("/file");
        kiln_autofree char *norange = url_of("/norange");
        kiln_autofree char *dest = path_of("part.img");
        kiln_autofree char *part = kiln_xasprintf("%s.part", dest);
        kiln_autofree char *sum = kiln_xasprintf("sha256:%s", sha256_hex);
        kiln_autofree unsigned char *longer = kiln_xmalloc(DATA_LEN + 100);
        const size_t prefix = 1024 * 1024 + 7;
        download_spec s = spec_for(url, dest, sum);
        download_result r = {0};

        {
                kiln_autoptr(kiln_error) err = NULL;

                write_file(part, data, prefix);
                ok(download_file(&s, &r, &err) == 0, "a .part from before is resumed: %s",
                   err_msg(err));
                is_int(r.resumed_from, prefix, "  from its size");
                ok(same_as_data(dest) && !exists(part), "  DEST holds the served bytes, no .part");
                download_result_clear(&r);
                remove_dest(dest);
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                write_file(part, data, DATA_LEN);
                ok(download_file(&s, &r, &err) == 0,
                   "a complete .part (the server answers 416) is complete: %s", err_msg(err));
                is_int(r.resumed_from, DATA_LEN, "  resumed from its end");
                is_int(r.bytes, DATA_LEN, "  all bytes");
                is_str(r.digest, sum, "  the checksum was verified");
                ok(same_as_data(dest) && !exists(part), "  DEST holds the served bytes, no .part");
                download_result_clear(&r);
                remove_dest(dest);
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                memcpy(longer, data, DATA_LEN);
                memset(longer + DATA_LEN, 'x', 100);
                write_file(part, longer, DATA_LEN + 100);
                ok(download_file(&s, &r, &err) == 0,
                   "a .part longer than the file (416 with another size) is started over: %s",
                   err_msg(err));
                is_int(r.attempts, 2, "  on a second attempt");
                is_int(r.resumed_from, 0, "  from 0");
                ok(same_as_data(dest) && !exists(part), "  DEST holds the served bytes, no .part");
                download_result_clear(&r);
                remove_dest(dest);
        }
        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc;

                memset(longer, 'x', prefix);
                write_file(part, longer, prefix);
                rc = download_file(&s, &r, &err);
                ok(rc < 0 && err_code(err) == KILN_E_INVALID,
                   "a .part with wrong bytes is caught by the checksum");
                ok(!exists(dest) && !exists(part), "  no DEST and no DEST.part are left");
        }
        {
                kiln_autoptr(kiln_error) err = NULL;

                write_file(part, data, prefix);
                s.url = norange;
                ok(download_file(&s, &r, &err) == 0,
                   "a server that ignores Range (200) makes it start over: %s", err_msg(err));
                is_int(r.resumed_from, 0, "  resumed from 0");
                is_int(r.attempts, 1, "  in one attempt");
                ok(same_as_data(dest) && !exists(part), "  DEST holds the served bytes, no .part");
                is_str(r.digest, sum, "  the digest covers only the new bytes");
                download_result_clear(&r);
                remove_dest(dest);
        }
}

static void test_retries(void)
{
        kiln_autofree char *url = url_of("/flaky");
        kiln_autofree char *dest = path_of("flaky.img");
        kiln_autofree char *part = kiln_xasprintf("%s.part", dest);
        kiln_autofree char *refused = NULL;
        download_spec s = spec_for(url, dest, NULL);
        download_result r = {0};
        double t0;

        server_reset();
        {
                kiln_autoptr(kiln_error) err = NULL;

                t0 = now_s();
                ok(download_file(&s, &r, &err) == 0, "503 twice, then 200: succeeds: %s",
                   err_msg(err));
                is_int(r.attempts, 3, "  on the third attempt");
                ok(now_s() - t0 >= 1.4, "  after backing off 0.5 s and 1 s (%.2f s)", now_s() - t0);
                ok(same_as_data(dest), "  DEST holds the served bytes");
                download_result_clear(&r);
                remove_dest(dest);
        }
        server_reset();
        s.max_attempts = 2;
        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc = download_file(&s, &r, &err);

                ok(rc < 0 && err_code(err) == KILN_E_HTTP,
                   "503 on every one of 2 attempts fails with KILN_E_HTTP");
                like(err_msg(err), "gave up after 2 attempts", "  saying how often it tried");
                like(err_msg(err), "HTTP 503", "  and the status");
                ok(!exists(dest) && !exists(part), "  no DEST and no DEST.part");
        }
        server_reset();
        {
                kiln_autoptr(kiln_error) err = NULL;
                t_progress p = {.stop_at = 1};
                int rc;

                s.max_attempts = 5;
                s.progress = progress_cb;
                s.userdata = &p;
                t0 = now_s();
                rc = download_file(&s, &r, &err);
                ok(rc < 0 && err_code(err) == KILN_E_INTERRUPTED,
                   "progress can stop the wait before a retry (KILN_E_INTERRUPTED): %s",
                   err_msg(err));
                ok(now_s() - t0 < 1.0, "  during the first backoff (%.2f s)", now_s() - t0);
                ok(!exists(dest) && !exists(part), "  no DEST and no DEST.part");
                s.progress = NULL;
                s.userdata = NULL;
                s.max_attempts = 2;
        }
        refused = kiln_xasprintf("http://127.0.0.1:%d/file", closed_port());
        s.url = refused;
        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc = download_file(&s, &r, &err);

                ok(rc < 0 && err_code(err) == KILN_E_HTTP,
                   "a refused connection is retried, then fails with KILN_E_HTTP");
                like(err_msg(err), "gave up after 2 attempts", "  after 2 attempts: %s",
                     err_msg(err));
                ok(!exists(dest) && !exists(part), "  no DEST and no DEST.part");
        }
}

static void test_stall_and_interrupt(void)
{
        kiln_autofree char *url = url_of("/stall");
        kiln_autofree char *dest = path_of("stall.img");
        kiln_autofree char *part = kiln_xasprintf("%s.part", dest);
        download_spec s = spec_for(url, dest, NULL);
        download_result r = {0};
        t_progress p = {.monotonic = true};
        double t0, secs;

        s.stall_timeout_s = 2;
        s.max_attempts = 1;
        s.progress = progress_cb;
        s.userdata = &p;
        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc;

                t0 = now_s();
                rc = download_file(&s, &r, &err);
                secs = now_s() - t0;
                ok(rc < 0 && err_code(err) == KILN_E_TIMEOUT,
                   "a stalled server fails with KILN_E_TIMEOUT");
                like(err_msg(err), "the server stalled", "  saying so: %s", err_msg(err));
                ok(secs >= 1.9 && secs < 5, "  after the 2 s stall timeout (%.2f s)", secs);
                ok(!exists(dest), "  no DEST");
                is_int(size_of(part), STALL_PREFIX, "  DEST.part keeps what came, to resume");
                ok(p.calls >= 1 && p.done == STALL_PREFIX && p.total == DATA_LEN,
                   "  progress came while it waited, saying %" PRIu64 " of %" PRIu64 " bytes",
                   p.done, p.total);
                remove_dest(dest);
        }
        memset(&p, 0, sizeof(p));
        p.stop_at = 1;
        s.max_attempts = 5;
        s.stall_timeout_s = 10;
        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc;

                t0 = now_s();
                rc = download_file(&s, &r, &err);
                secs = now_s() - t0;
                ok(rc < 0 && err_code(err) == KILN_E_INTERRUPTED,
                   "progress returning non-zero stops it with KILN_E_INTERRUPTED: %s",
                   err_msg(err));
                ok(secs < 2, "  at once (%.2f s), without retrying", secs);
                ok(!exists(dest), "  no DEST");
                is_int(size_of(part), STALL_PREFIX, "  DEST.part is kept to resume");
                remove_dest(dest);
        }
}

/* A transfer of about a second: progress is called several times, but at most about 4 times a
 * second, plus the final call. */
static void test_progress(void)
{
        kiln_autofree char *url = url_of("/slow");
        kiln_autofree char *dest = path_of("slow.img");
        kiln_autoptr(kiln_error) err = NULL;
        download_spec s = spec_for(url, dest, NULL);
        download_result r = {0};
        t_progress p = {.monotonic = true};
        double t0, secs;

        s.progress = progress_cb;
        s.userdata = &p;
        t0 = now_s();
        ok(download_file(&s, &r, &err) == 0, "a slow transfer succeeds: %s", err_msg(err));
        secs = now_s() - t0;
        ok(p.calls >= 2 && p.calls <= 4 * secs + 2,
           "  progress came at most about 4 times a second (%d calls in %.2f s)", p.calls, secs);
        ok(p.monotonic, "  never going back");
        ok(p.done == DATA_LEN && p.total == DATA_LEN, "  its last call says all of it is done");
        ok(p.rate > 0, "  with a rate (%.0f bytes/s)", p.rate);
        download_result_clear(&r);
        remove_dest(dest);
}

static void test_http_errors(void)
{
        kiln_autofree char *missing = url_of("/missing");
        kiln_autofree char *secret =
                kiln_xasprintf("http://u:pw@%s/missing?token=SECRET", base_url + 7);
        kiln_autofree char *redirect = url_of("/redirect");
        kiln_autofree char *to_file = url_of("/redirect-file");
        kiln_autofree char *dest = path_of("errors.img");
        kiln_autofree char *part = kiln_xasprintf("%s.part", dest);
        download_spec s = spec_for(missing, dest, NULL);
        download_result r = {0};
        static const char *const not_http[] = {"ftp://127.0.0.1/x", "file:///etc/passwd",
                                               "127.0.0.1/file", ""};
        double t0;

        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc;

                t0 = now_s();
                rc = download_file(&s, &r, &err);
                ok(rc < 0 && err_code(err) == KILN_E_NOT_FOUND,
                   "404 fails with KILN_E_NOT_FOUND: %s", err_msg(err));
                like(err_msg(err), "HTTP 404", "  naming the status");
                like(err_msg(err), missing, "  and the URL");
                ok(now_s() - t0 < 0.4, "  at once, without retrying");
                ok(!exists(dest) && !exists(part), "  no DEST and no DEST.part");
        }
        s.url = secret;
        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc = download_file(&s, &r, &err);

                ok(rc < 0 && err_code(err) == KILN_E_NOT_FOUND, "a 404 with credentials: %s",
                   err_msg(err));
                ok(!strstr(err_msg(err), "SECRET") && !strstr(err_msg(err), "pw@"),
                   "  the message shows neither the password nor the query");
                like(err_msg(err), "/missing'", "  but names the file");
        }
        s.url = redirect;
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(download_file(&s, &r, &err) == 0, "a redirect is followed: %s", err_msg(err));
                ok(same_as_data(dest), "  DEST holds the served bytes");
                download_result_clear(&r);
                remove_dest(dest);
        }
        s.url = to_file;
        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc = download_file(&s, &r, &err);

                ok(rc < 0 && err_code(err) == KILN_E_HTTP,
                   "a redirect to file:// is refused with KILN_E_HTTP: %s", err_msg(err));
                ok(!exists(dest) && !exists(part), "  no DEST and no DEST.part");
        }
        for (size_t i = 0; i < KILN_ARRAY_SIZE(not_http); i++) {
                kiln_autoptr(kiln_error) err = NULL;
                int rc;

                s.url = not_http[i];
                rc = download_file(&s, &r, &err);
                ok(rc < 0 && err_code(err) == KILN_E_INVALID,
                   "the URL '%s' is refused with KILN_E_INVALID", not_http[i]);
        }
}

/* The URL as descriptions keep it: no credentials, query or fragment; cut when long. */
static void test_url_redact(void)
{
        kiln_autofree char *long_url = NULL;
        kiln_autofree char *utf8_url = NULL;
        kiln_autofree char *cut = NULL;
        kiln_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
        kiln_buf lb = {0}, ub = {0};

        a = download_url_redact("https://alice:s3cret@images.example.org/a/b.qcow2?X-Amz-Signature="
                                "abc123&token=t0k#frag",
                                0);
        is_str(a, "https://images.example.org/a/b.qcow2",
               "user, password, query and fragment are dropped");
        b = download_url_redact("http://images.example.org:8080/x.img", 0);
        is_str(b, "http://images.example.org:8080/x.img", "a plain URL is kept as it is");
        c = download_url_redact("https://tok@example.org/x.img?sig", 215);
        is_str(c, "https://example.org/x.img", "a user name alone is dropped too");

        kiln_buf_appendf(&lb, "https://example.org/");
        for (int i = 0; i < 30; i++)
                kiln_buf_appendf(&lb, "segment%02d/", i);
        kiln_buf_appendf(&lb, "disk.qcow2?token=SECRET");
        long_url = kiln_buf_steal(&lb);
        cut = download_url_redact(long_url, 215);
        ok(strlen(cut) == 215, "a long URL is cut to the limit (%zu bytes of %zu)", strlen(cut),
           strlen(long_url));
        ok(strncmp(cut, "https://example.org/segment00/", 30) == 0 && strcmp(cut + 212, "...") == 0,
           "  keeping its start and ending with '...': %s", cut);
        ok(!strstr(cut, "SECRET"), "  without its query");

        /* 211 ASCII bytes then 2-byte characters: a cut at 212 falls inside one */
        kiln_buf_appendf(&ub, "https://example.org/");
        while (ub.len < 211)
                kiln_buf_appendf(&ub, "a");
        for (int i = 0; i < 20; i++)
                kiln_buf_appendf(&ub, "\xc3\xa9");
        utf8_url = kiln_buf_steal(&ub);
        d = download_url_redact(utf8_url, 215);
        ok(strlen(d) <= 215 && strlen(d) >= 213, "a URL with UTF-8 is cut to the limit (%zu)",
           strlen(d));
        ok(strcmp(d + strlen(d) - 3, "...") == 0 &&
                   ((unsigned char) d[strlen(d) - 4] & 0xc0) != 0xc0,
           "  not inside a character");

        e = download_url_redact("https://exa mple.org/x?token=SECRET", 0);
        ok(!strstr(e, "SECRET") && !strstr(e, "exa mple"),
           "a URL libcurl cannot parse gives a placeholder: %s", e);
}

/* An https download may not be redirected to http; an http one may go to either. */
static void test_tls_redirects(void)
{
        kiln_autofree char *dest = path_of("tls.img");
        kiln_autofree char *part = kiln_xasprintf("%s.part", dest);
        kiln_autofree char *file = NULL, *to_https = NULL, *to_http = NULL, *up = NULL;
        kiln_autofree char *http_file = url_of("/file");
        kiln_autofree char *http_file_q = NULL; /* percent-encoded: not in the URL as such */
        download_spec s;
        download_result r = {0};

        is_str(download_protocols("https://example.org/x.img"), "https",
               "an https URL may use https only");
        is_str(download_protocols("HTTPS://example.org/x.img"), "https", "  in any case");
        is_str(download_protocols("http://example.org/x.img"), "http,https",
               "an http URL may use http and https");
        ok(download_protocols("ftp://example.org/x.img") == NULL && !download_protocols(NULL),
           "other URLs may use nothing");
        if (!tls_url) {
                ok(1, "# SKIP no TLS server (openssl or python3's ssl missing)");
                return;
        }
        file = kiln_xasprintf("%s/file", tls_url);
        http_file_q =
                kiln_xasprintf("http%%3A%%2F%%2F127.0.0.1%%3A%s", strrchr(http_file, ':') + 1);
        to_https = kiln_xasprintf("%s/redirect", tls_url);
        to_http = kiln_xasprintf("%s/redirect-to?u=%s", tls_url, http_file_q);
        up = kiln_xasprintf("%s/redirect-to?u=%s", base_url, file);
        s = spec_for(file, dest, NULL);
        s.max_attempts = 1;
        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc = download_file(&s, &r, &err);

                ok(rc < 0 && err_code(err) == KILN_E_HTTP,
                   "a server whose certificate is not trusted is refused: %s", err_msg(err));
                ok(!exists(dest) && !exists(part), "  no DEST and no DEST.part");
        }
        download_set_ca_file(ca_file);
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(download_file(&s, &r, &err) == 0, "with its CA trusted, https works: %s",
                   err_msg(err));
                ok(same_as_data(dest), "  DEST holds the served bytes");
                download_result_clear(&r);
                remove_dest(dest);
        }
        s.url = to_https;
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(download_file(&s, &r, &err) == 0, "https redirected to https is followed: %s",
                   err_msg(err));
                ok(same_as_data(dest), "  DEST holds the served bytes");
                download_result_clear(&r);
                remove_dest(dest);
        }
        s.url = to_http;
        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc = download_file(&s, &r, &err);

                ok(rc < 0 && err_code(err) == KILN_E_HTTP,
                   "https redirected to http is refused with KILN_E_HTTP: %s", err_msg(err));
                like(err_msg(err), http_file, "  naming where the redirect pointed");
                like(err_msg(err), "starts with https:// stays on https", "  and why");
                ok(!exists(dest) && !exists(part), "  no DEST and no DEST.part");
        }
        s.url = up;
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(download_file(&s, &r, &err) == 0, "http redirected to https is followed: %s",
                   err_msg(err));
                ok(same_as_data(dest), "  DEST holds the served bytes");
                download_result_clear(&r);
                remove_dest(dest);
        }
        download_set_ca_file(NULL);
}

typedef struct t_space {
        uint64_t free;
        char *dir;        /* what the hook was asked about */
        const char *fill; /* if set, this file takes its size off the free space */
        int calls;
} t_space;

static uint64_t free_space_cb(const char *dir, void *userdata)
{
        t_space *sp = userdata;
        long long used = sp->fill ? size_of(sp->fill) : 0;

        free(sp->dir);
        sp->dir = kiln_xstrdup(dir);
        sp->calls++;
        return used > 0 && (uint64_t) used < sp->free ? sp->free - (uint64_t) used
               : used > 0                             ? 0
                                                      : sp->free;
}

static void test_free_space(void)
{
        kiln_autofree char *url = url_of("/file");
        kiln_autofree char *chunked = url_of("/chunked");
        kiln_autofree char *dest = path_of("space.img");
        kiln_autofree char *part = kiln_xasprintf("%s.part", dest);
        kiln_autofree char *need =
                kiln_xasprintf("need %d bytes and 256 MiB to keep free, have 1000", DATA_LEN);
        download_spec s = spec_for(url, dest, NULL);
        download_result r = {0};
        t_space sp = {.free = 1000};
        const size_t half = DATA_LEN / 2;

        download_set_free_space_hook(free_space_cb, &sp);
        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc = download_file(&s, &r, &err);

                ok(rc < 0 && err_code(err) == KILN_E_IO,
                   "too little free space fails with KILN_E_IO: %s", err_msg(err));
                like(err_msg(err), "not enough free space in ", "  saying so");
                like(err_msg(err), need, "  with what it needs and what there is");
                is_str(sp.dir, tmp, "  the directory checked is DEST's");
                ok(!exists(dest) && !exists(part), "  nothing was written");
        }
        /* resuming, only the rest must fit, and the reserve */
        sp.free = DATA_LEN - half + DOWNLOAD_SPACE_RESERVE - 1;
        write_file(part, data, half);
        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc = download_file(&s, &r, &err);

                ok(rc < 0 && err_code(err) == KILN_E_IO,
                   "resuming, the rest and the reserve must fit (one byte short): %s",
                   err_msg(err));
                is_int(size_of(part), half, "  and the .part is kept");
        }
        sp.free = DATA_LEN - half + DOWNLOAD_SPACE_RESERVE;
        write_file(part, data, half);
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(download_file(&s, &r, &err) == 0,
                   "resuming, the rest of the file and the reserve are what must fit: %s",
                   err_msg(err));
                ok(same_as_data(dest), "  DEST holds the served bytes");
                download_result_clear(&r);
                remove_dest(dest);
        }

        /* a chunked answer announces no size: the disk fills while the bytes arrive */
        s.url = chunked;
        sp.free = DOWNLOAD_SPACE_RESERVE + half;
        sp.fill = part;
        sp.calls = 0;
        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc = download_file(&s, &r, &err);

                ok(rc < 0 && err_code(err) == KILN_E_IO,
                   "a chunked answer that would eat into the reserve stops with KILN_E_IO: %s",
                   err_msg(err));
                like(err_msg(err), "not enough free space in ", "  saying so");
                ok(sp.calls > 2, "  the free space was checked again as the bytes came (%d times)",
                   sp.calls);
                ok(!exists(dest) && !exists(part), "  no DEST, and the .part is removed");
        }
        sp.free = DOWNLOAD_SPACE_RESERVE + DATA_LEN + 1;
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(download_file(&s, &r, &err) == 0, "  with room for it, it succeeds: %s",
                   err_msg(err));
                ok(same_as_data(dest), "  DEST holds the served bytes");
                download_result_clear(&r);
                remove_dest(dest);
        }
        download_set_free_space_hook(NULL, NULL);
        free(sp.dir);
}

/* spec.max_bytes caps the file, announced or not. */
static void test_max_bytes(void)
{
        kiln_autofree char *url = url_of("/file");
        kiln_autofree char *chunked = url_of("/chunked");
        kiln_autofree char *dest = path_of("max.img");
        kiln_autofree char *part = kiln_xasprintf("%s.part", dest);
        kiln_autofree char *cap = kiln_xasprintf("larger than %d bytes", DATA_LEN / 2);
        download_spec s = spec_for(chunked, dest, NULL);
        download_result r = {0};

        s.max_bytes = DATA_LEN / 2;
        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc = download_file(&s, &r, &err);

                ok(rc < 0 && err_code(err) == KILN_E_LIMIT,
                   "a chunked answer over max_bytes stops with KILN_E_LIMIT: %s", err_msg(err));
                like(err_msg(err), cap, "  naming the cap");
                ok(!exists(dest) && !exists(part), "  no DEST, and the .part is removed");
        }
        s.url = url;
        {
                kiln_autoptr(kiln_error) err = NULL;
                int rc = download_file(&s, &r, &err);

                ok(rc < 0 && err_code(err) == KILN_E_LIMIT,
                   "an announced size over max_bytes fails with KILN_E_LIMIT: %s", err_msg(err));
                ok(!exists(dest) && !exists(part), "  before anything is written");
        }
        s.url = chunked;
        s.max_bytes = DATA_LEN;
        {
                kiln_autoptr(kiln_error) err = NULL;

                ok(download_file(&s, &r, &err) == 0,
                   "a chunked answer of exactly max_bytes succeeds: %s", err_msg(err));
                ok(same_as_data(dest), "  DEST holds the served bytes");
                download_result_clear(&r);
                remove_dest(dest);
        }
}

int main(void)
{
        const char *base = getenv("KILN_TEST_TMPDIR");
        kiln_autofree char *tmpl = NULL;
        kiln_autofree char *src = NULL;
        uint64_t x = 0x9e3779b97f4a7c15ULL;

        if (!base)
                base = getenv("TMPDIR");
        if (!base)
                base = "/tmp";
        tmpl = kiln_xasprintf("%s/kiln-test-download-XXXXXX", base);
        if (!mkdtemp(tmpl)) {
                printf("Bail out! cannot create a directory in %s: %s\n", base, strerror(errno));
                return 1;
        }
        tmp = tmpl;

        /* the server is on loopback: no proxy may come between */
        setenv("no_proxy", "*", 1);
        setenv("NO_PROXY", "*", 1);

        data = kiln_xmalloc(DATA_LEN);
        for (size_t i = 0; i < DATA_LEN; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                data[i] = (unsigned char) (x >> 24);
        }
        digest_hex(EVP_sha256(), data, DATA_LEN, sha256_hex);
        digest_hex(EVP_sha512(), data, DATA_LEN, sha512_hex);
        src = path_of("served.bin");
        if (write_file(src, data, DATA_LEN) < 0 ||
            start_server(src, NULL, NULL, &server_pid, &base_url) < 0) {
                printf("1..0 # SKIP cannot start tests/harness/httpd.py with python3\n");
                stop_server();
                remove_tmp();
                free(data);
                return 77;
        }
        printf("# serving %d bytes at %s\n", DATA_LEN, base_url);
        start_tls_server(src);

        test_checksum_syntax();
        test_url_redact();
        test_clean();
        test_mismatch();
        test_cut();
        test_part_on_disk();
        test_changed("/mutable", "ETag: \"v1-");
        test_changed("/mutable-lm", "Last-Modified: Mon, 01 Jan 2024");
        test_retries();
        test_stall_and_interrupt();
        test_progress();
        test_http_errors();
        test_tls_redirects();
        test_free_space();
        test_max_bytes();

        stop_server();
        remove_tmp();
        free(data);
        free(base_url);
        free(tls_url);
        free(ca_file);
        return done();
}
