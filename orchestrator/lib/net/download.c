/* HTTP(S) downloads with resume, retries, streaming checksums and a free-space check.
 *
 * One call runs up to max_attempts transfers on one curl easy handle. Before each transfer the
 * size of DEST.part is the resume offset: a Range request asks for the rest. What the server
 * answers decides how the body is written, at its first byte (dl_body_begin):
 *
 *   206 from our offset   append to DEST.part
 *   200 (or 206 from 0)   the server ignored the range: truncate DEST.part and start over
 *   416 with the .part    the .part is the whole file already (or, if the server names a
 *                         different size, it is discarded and the next attempt starts over)
 *   anything else         the body is not written; 5xx, 408 and 429 are retried
 *
 * The file may change on the server between two attempts or two calls. Its validator (a
 * strong ETag, else Last-Modified) is kept in DEST.part.meta, written (0600) when DEST.part
 * starts from 0, and sent as If-Range with every Range request: a server whose file changed
 * answers 200 with the whole new file, which starts DEST.part over instead of appending the
 * new file's tail to the old one's head. A .part without a .meta (the server named no
 * validator, or an older kiln wrote it) is resumed without If-Range; an unreadable .meta starts
 * over.
 *
 * The digest context always covers exactly the bytes in DEST.part: bytes are hashed in the
 * write callback right after they are written, a .part found on disk is hashed once before its
 * first transfer, and a restart from 0 resets the context. So when the last byte arrives the
 * digest is ready, without reading the file again.
 *
 * Stalls: curl's LOW_SPEED_LIMIT/LOW_SPEED_TIME are set as asked of every transfer, but curl
 * averages the speed over the last few seconds, so after a burst of data it notices silence
 * only some seconds late. The progress callback therefore also aborts the transfer itself once
 * no byte (header or body) has arrived for stall_timeout_s, which is what the caller means.
 *
 * The module never prints; curl's own messages go into a per-handle error buffer and from there
 * into the kiln_error. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "net/download.h"
#include "util/util.h"

#define DL_DEFAULT_CONNECT_TIMEOUT_S 15
#define DL_DEFAULT_STALL_TIMEOUT_S   30
#define DL_DEFAULT_MAX_ATTEMPTS      5
#define DL_MAX_REDIRECTS             5L
#define DL_PROGRESS_INTERVAL_S       0.25
#define DL_BACKOFF_FIRST_MS          500
#define DL_BACKOFF_MAX_MS            8000
#define DL_HASH_CHUNK                ((size_t) 1024 * 1024)
#define DL_SPACE_RECHECK             ((uint64_t) 1024 * 1024)
#define DL_META_MAX                  1024 /* bytes of DEST.part.meta */

typedef CURL dl_curl;
static dl_curl *dl_curl_free(dl_curl *c)
{
        curl_easy_cleanup(c);
        return NULL;
}
KILN_DEFINE_AUTOPTR(dl_curl, dl_curl_free)

typedef struct curl_slist dl_slist;
static dl_slist *dl_slist_free(dl_slist *l)
{
        curl_slist_free_all(l);
        return NULL;
}
KILN_DEFINE_AUTOPTR(dl_slist, dl_slist_free)

typedef CURLU dl_curlu;
static dl_curlu *dl_curlu_free(dl_curlu *u)
{
        curl_url_cleanup(u);
        return NULL;
}
KILN_DEFINE_AUTOPTR(dl_curlu, dl_curlu_free)

typedef EVP_MD_CTX dl_md_ctx;
static dl_md_ctx *dl_md_ctx_free(dl_md_ctx *c)
{
        EVP_MD_CTX_free(c);
        return NULL;
}
KILN_DEFINE_AUTOPTR(dl_md_ctx, dl_md_ctx_free)

/* Checks the return value of every curl_easy_setopt (STYLE.md). */
#define DL_SETOPT(h, opt, val, err)                                                                \
        do {                                                                                       \
                CURLcode c_ = curl_easy_setopt(h, opt, val);                                       \
                if (c_ != CURLE_OK)                                                                \
                        return kiln_error_set(err, KILN_E_INTERNAL, NULL,                          \
                                              "cannot set the libcurl option %s: %s", #opt,        \
                                              curl_easy_strerror(c_));                             \
        } while (0)

static download_free_space_fn dl_free_space_hook;
static void *dl_free_space_userdata;
static char *dl_ca_file;

void download_set_ca_file(const char *path)
{
        free(dl_ca_file);
        dl_ca_file = path ? kiln_xstrdup(path) : NULL;
}

const char *download_protocols(const char *url)
{
        if (url && strncasecmp(url, "https://", 8) == 0)
                return "https";
        if (url && strncasecmp(url, "http://", 7) == 0)
                return "http,https";
        return NULL;
}

void download_set_free_space_hook(download_free_space_fn fn, void *userdata)
{
        dl_free_space_hook = fn;
        dl_free_space_userdata = userdata;
}

void download_result_clear(download_result *r)
{
        free(r->digest);
        memset(r, 0, sizeof(*r));
}

/* ---- URLs ---- */

char *download_url_redact(const char *url, size_t max)
{
        static const CURLUPart drop[] = {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS,
                                         CURLUPART_QUERY, CURLUPART_FRAGMENT};
        kiln_autoptr(dl_curlu) u = curl_url();
        char *got = NULL, *out;
        size_t len;

        if (!u)
                abort(); /* out of memory, as kiln_xmalloc */
        if (!url || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
                return kiln_xstrdup("(a URL libcurl cannot parse)");
        for (size_t i = 0; i < KILN_ARRAY_SIZE(drop); i++)
                if (curl_url_set(u, drop[i], NULL, 0) != CURLUE_OK)
                        return kiln_xstrdup("(a URL libcurl cannot parse)");
        if (curl_url_get(u, CURLUPART_URL, &got, 0) != CURLUE_OK || !got) {
                curl_free(got);
                return kiln_xstrdup("(a URL libcurl cannot parse)");
        }
        out = kiln_xstrdup(got);
        curl_free(got);
        len = strlen(out);
        if (max > 3 && len > max) {
                size_t keep = max - 3;

                /* not inside a UTF-8 sequence: descriptions must stay valid UTF-8 */
                while (keep > 0 && ((unsigned char) out[keep] & 0xc0) == 0x80)
                        keep--;
                memcpy(out + keep, "...", 4);
        }
        return out;
}

/* ---- checksums ---- */

/* Splits "ALG:HEX" into the digest and the hex digits in lower case. */
static int dl_parse_checksum(const char *s, const EVP_MD **ret_md, const char **ret_name,
                             char **ret_hex, kiln_error **err)
{
        const char *colon, *hex, *name;
        const EVP_MD *md;
        size_t want, len;
        char *lower;

        if (!s || !*s)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The checksum is empty; give sha256:HEX or sha512:HEX");
        colon = strchr(s, ':');
        if (!colon)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The checksum '%s' names no algorithm; give sha256:HEX or "
                                      "sha512:HEX",
                                      s);
        if ((size_t) (colon - s) == 6 && strncasecmp(s, "sha256", 6) == 0) {
                md = EVP_sha256();
                name = "sha256";
                want = 64;
        } else if ((size_t) (colon - s) == 6 && strncasecmp(s, "sha512", 6) == 0) {
                md = EVP_sha512();
                name = "sha512";
                want = 128;
        } else {
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The checksum algorithm '%.*s' is not supported; use sha256 "
                                      "or sha512",
                                      (int) (colon - s), s);
        }
        hex = colon + 1;
        len = strlen(hex);
        for (size_t i = 0; i < len; i++)
                if (!strchr("0123456789abcdefABCDEF", hex[i]))
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "The %s checksum '%s' is not hexadecimal: '%c' at "
                                              "position %zu",
                                              name, hex, hex[i], i + 1);
        if (len != want)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "The %s checksum must have %zu hex digits, not %zu", name,
                                      want, len);
        if (ret_hex) {
                lower = kiln_xstrdup(hex);
                for (size_t i = 0; i < len; i++)
                        if (lower[i] >= 'A' && lower[i] <= 'F')
                                lower[i] = (char) (lower[i] - 'A' + 'a');
                *ret_hex = lower;
        }
        if (ret_md)
                *ret_md = md;
        if (ret_name)
                *ret_name = name;
        return 0;
}

int download_check_checksum_arg(const char *checksum, kiln_error **err)
{
        return dl_parse_checksum(checksum, NULL, NULL, NULL, err);
}

/* ---- state of one call ---- */

typedef enum {
        DL_STOP_NONE,
        DL_STOP_STATUS,    /* the answer was not 2xx: its body was not written */
        DL_STOP_ERROR,     /* a callback failed: cb_err says why; not retried */
        DL_STOP_STALL,     /* no byte for stall_timeout_s */
        DL_STOP_INTERRUPT, /* the progress function asked to stop */
} dl_stop;

typedef enum { DL_DONE, DL_RETRY, DL_FAIL } dl_outcome;

typedef struct dl_state {
        const download_spec *spec;
        const char *part;  /* DEST.part */
        const char *meta;  /* DEST.part.meta: the validator DEST.part belongs to */
        const char *shown; /* the URL for messages: without credentials or query */
        const char *dir;   /* DEST's directory */
        int stall_s;
        CURL *curl;
        char errbuf[CURL_ERROR_SIZE];
        EVP_MD_CTX *md_ctx; /* digest of the bytes in DEST.part so far */
        const EVP_MD *md;
        uint64_t hashed;   /* bytes in DEST.part, all covered by md_ctx */
        uint64_t total;    /* size of the whole file, 0 while unknown */
        uint64_t received; /* body bytes of this call, for the rate */
        struct timespec start, last_progress;

        /* this attempt */
        int fd;        /* DEST.part, opened when the body begins */
        uint64_t have; /* size of DEST.part when the attempt began */
        uint64_t resumed_from;
        bool body_started;
        bool discard;         /* DEST.part is removed after this attempt */
        uint64_t since_check; /* bytes written since the last free-space check */
        long status;
        int64_t range_start; /* from Content-Range, -1 if absent or "*" */
        int64_t range_total;
        char *location; /* the Location header of the last response, or NULL */
        char *etag;     /* its ETag and Last-Modified, or NULL */
        char *last_modified;
        bool has_meta; /* DEST.part.meta was there when the attempt began */
        struct timespec last_byte;
        dl_stop stop;
        kiln_error *cb_err;
} dl_state;

static double dl_since(const struct timespec *a)
{
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double) (now.tv_sec - a->tv_sec) + (double) (now.tv_nsec - a->tv_nsec) / 1e9;
}

static void dl_digest_reset(dl_state *st)
{
        EVP_DigestInit_ex(st->md_ctx, st->md, NULL);
        st->hashed = 0;
}

/* Hashes the first `size` bytes of DEST.part, which the attempt resumes after. */
static int dl_hash_part(dl_state *st, uint64_t size, kiln_error **err)
{
        kiln_autoclose int fd = open(st->part, O_RDONLY | O_CLOEXEC);
        kiln_autofree char *buf = NULL;
        uint64_t done = 0;

        dl_digest_reset(st);
        if (fd < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot open '%s'", st->part);
        buf = kiln_xmalloc(DL_HASH_CHUNK);
        while (done < size) {
                size_t want = size - done < DL_HASH_CHUNK ? (size_t) (size - done) : DL_HASH_CHUNK;
                ssize_t n = read(fd, buf, want);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot read '%s'",
                                                    st->part);
                if (n == 0)
                        return kiln_error_set(err, KILN_E_IO, NULL, "'%s' shrank while it was read",
                                              st->part);
                EVP_DigestUpdate(st->md_ctx, buf, (size_t) n);
                done += (uint64_t) n;
        }
        st->hashed = size;
        return 0;
}

/* Calls the progress function if the last call is DL_PROGRESS_INTERVAL_S ago (or `force`).
 * Returns its answer. */
static int dl_report(dl_state *st, bool force)
{
        double secs;

        if (!st->spec->progress)
                return 0;
        if (!force && dl_since(&st->last_progress) < DL_PROGRESS_INTERVAL_S)
                return 0;
        clock_gettime(CLOCK_MONOTONIC, &st->last_progress);
        secs = dl_since(&st->start);
        return st->spec->progress(st->hashed, st->total,
                                  secs > 0 ? (double) st->received / secs : 0.0,
                                  st->spec->userdata);
}

/* The free-space check: `need` more bytes must fit and leave DOWNLOAD_SPACE_RESERVE free;
 * `reclaim` bytes of DEST.part are about to be truncated away. Before the first byte of a body
 * need is its size (0 if unknown); while it arrives, what is left of it, or the next bytes. */
static int dl_check_space(dl_state *st, uint64_t need, uint64_t reclaim, kiln_error **err)
{
        struct statvfs vfs;
        uint64_t avail;

        if (dl_free_space_hook) {
                avail = dl_free_space_hook(st->dir, dl_free_space_userdata);
        } else {
                if (statvfs(st->dir, &vfs) < 0)
                        return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot statvfs '%s'",
                                                    st->dir);
                avail = (uint64_t) vfs.f_bavail * (uint64_t) vfs.f_frsize;
        }
        avail += reclaim;
        if (need > avail || avail - need < DOWNLOAD_SPACE_RESERVE)
                return kiln_error_set(err, KILN_E_IO, NULL,
                                      "not enough free space in %s: need %" PRIu64
                                      " bytes and %llu MiB to keep free, have %" PRIu64,
                                      st->dir, need, DOWNLOAD_SPACE_RESERVE >> 20, avail);
        return 0;
}

/* The cap of spec->max_bytes on a file of `size` bytes (what is known of it so far). */
static int dl_check_max(dl_state *st, uint64_t size, kiln_error **err)
{
        if (st->spec->max_bytes && size > st->spec->max_bytes)
                return kiln_error_set(err, KILN_E_LIMIT, NULL,
                                      "'%s' is larger than %" PRIu64 " bytes, the most a download "
                                      "may have",
                                      st->shown, st->spec->max_bytes);
        return 0;
}

/* Opens DEST.part for this attempt's body: from 0 (truncating it) or after `have` bytes. */
static int dl_open_part(dl_state *st, bool from_scratch, kiln_error **err)
{
        st->fd = open(st->part, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (st->fd < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot create '%s'", st->part);
        if (from_scratch) {
                if (ftruncate(st->fd, 0) < 0)
                        return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot truncate '%s'",
                                                    st->part);
                dl_digest_reset(st);
                st->resumed_from = 0;
        } else {
                if (lseek(st->fd, (off_t) st->have, SEEK_SET) < 0)
                        return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot seek in '%s'",
                                                    st->part);
                st->resumed_from = st->have;
        }
        return 0;
}

/* ---- the validator kept with DEST.part ---- */

/* The line DEST.part.meta holds for this response: "ETag: V" for a strong ETag, else
 * "Last-Modified: V", or NULL if it named neither (a weak ETag cannot be used in If-Range). */
static char *dl_validator_line(const dl_state *st)
{
        if (st->etag && st->etag[0] == '"')
                return kiln_xasprintf("ETag: %s\n", st->etag);
        if (st->last_modified && st->last_modified[0])
                return kiln_xasprintf("Last-Modified: %s\n", st->last_modified);
        return NULL;
}

/* Removes DEST.part.meta; quiet. */
static void dl_meta_remove(const dl_state *st)
{
        if (unlink(st->meta) < 0 && errno != ENOENT)
                kiln_log(KILN_LOG_DEBUG, "download: cannot remove '%s': %s", st->meta,
                         strerror(errno));
}

/* Writes DEST.part.meta for the response whose body DEST.part now holds, or removes it if the
 * response named no validator. */
static int dl_meta_write(dl_state *st, kiln_error **err)
{
        kiln_autofree char *line = dl_validator_line(st);
        kiln_autoclose int fd = -1;
        size_t len;

        if (!line || strlen(line) > DL_META_MAX) {
                dl_meta_remove(st);
                return 0;
        }
        fd = open(st->meta, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot create '%s'", st->meta);
        len = strlen(line);
        if (write(fd, line, len) != (ssize_t) len)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot write '%s'", st->meta);
        return 0;
}

/* The If-Range value DEST.part.meta holds: 1 and *ret set, 0 if there is no such file, -1 if it
 * cannot be read or is not what dl_meta_write writes. */
static int dl_meta_read(const dl_state *st, char **ret)
{
        kiln_autofree char *text = NULL;
        const char *v = NULL;
        size_t len = 0;

        if (access(st->meta, F_OK) < 0 && errno == ENOENT)
                return 0;
        if (kiln_file_read(st->meta, DL_META_MAX, &text, &len, NULL) < 0)
                return -1;
        if (strncmp(text, "ETag: \"", 7) == 0)
                v = text + 6;
        else if (strncmp(text, "Last-Modified: ", 15) == 0)
                v = text + 15;
        if (!v || len < 2 || text[len - 1] != '\n')
                return -1;
        for (const char *c = v; c < text + len - 1; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        return -1;
        *ret = kiln_xstrndup(v, (size_t) (text + len - 1 - v));
        return 1;
}

/* For messages: "; 'DEST.part' is kept to resume" when there is something to resume. */
static char *dl_kept_note(const dl_state *st)
{
        return st->hashed ? kiln_xasprintf("; '%s' is kept to resume", st->part) : kiln_xstrdup("");
}

/* ---- curl callbacks ---- */

/* The first byte of a body: decides from the status and Content-Range whether it is appended,
 * starts the file over, or is not written at all; checks the free space. */
static int dl_body_begin(dl_state *st)
{
        curl_off_t len = -1;
        bool scratch;

        st->body_started = true;
        curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &st->status);
        if (st->status < 200 || st->status > 299) {
                st->stop = DL_STOP_STATUS;
                return -1;
        }
        curl_easy_getinfo(st->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
        if (st->status == 206 && st->range_start != 0 && st->range_start != (int64_t) st->have) {
                st->stop = DL_STOP_ERROR;
                return kiln_error_set(&st->cb_err, KILN_E_HTTP, NULL,
                                      "'%s' answered a request for the bytes from %" PRIu64
                                      " with other bytes (Content-Range from %" PRId64 ")",
                                      st->shown, st->have, st->range_start);
        }
        scratch = st->status != 206 || st->range_start == 0;
        if (st->status == 206 && st->range_total >= 0) /* also from 0: the body is a part */
                st->total = (uint64_t) st->range_total;
        else if (scratch)
                st->total = len >= 0 ? (uint64_t) len : 0;
        else
                st->total = len >= 0 ? st->have + (uint64_t) len : 0;
        if (dl_check_max(st, st->total, &st->cb_err) < 0 ||
            dl_check_space(st, len >= 0 ? (uint64_t) len : 0, scratch ? st->have : 0, &st->cb_err) <
                    0) {
                st->stop = DL_STOP_ERROR;
                return -1;
        }
        st->since_check = 0;
        /* the .part is truncated before its .meta changes: a crash in between leaves the old
         * validator with the new bytes, which at worst makes the next call start over */
        if (dl_open_part(st, scratch, &st->cb_err) < 0 ||
            ((scratch || !st->has_meta) && dl_meta_write(st, &st->cb_err) < 0)) {
                st->stop = DL_STOP_ERROR;
                return -1;
        }
        return 0;
}

static size_t dl_on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
        dl_state *st = userdata;
        size_t n = size * nmemb, off = 0;

        clock_gettime(CLOCK_MONOTONIC, &st->last_byte);
        if (!st->body_started && dl_body_begin(st) < 0)
                return 0;
        /* a server may send more than it announced, or announce nothing (chunked) */
        st->since_check += n;
        if (dl_check_max(st, st->hashed + n, &st->cb_err) < 0 ||
            (st->since_check >= DL_SPACE_RECHECK &&
             dl_check_space(st, st->total > st->hashed + n ? st->total - st->hashed : n, 0,
                            &st->cb_err) < 0)) {
                kiln_error_prefix(&st->cb_err, "the download stopped after %" PRIu64 " bytes",
                                  st->hashed);
                st->stop = DL_STOP_ERROR;
                st->discard = true;
                return 0;
        }
        if (st->since_check >= DL_SPACE_RECHECK)
                st->since_check = 0;
        while (off < n) {
                ssize_t w = write(st->fd, data + off, n - off);

                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0) {
                        st->stop = DL_STOP_ERROR;
                        kiln_error_set_errno(&st->cb_err, errno, KILN_E_IO, "cannot write '%s'",
                                             st->part);
                        return 0;
                }
                off += (size_t) w;
        }
        EVP_DigestUpdate(st->md_ctx, data, n);
        st->hashed += n;
        st->received += n;
        return n;
}

/* Reads a decimal number at *p and moves past it. */
static bool dl_parse_u64(const char **p, int64_t *ret)
{
        char *end;
        unsigned long long v;

        if (**p < '0' || **p > '9')
                return false;
        errno = 0;
        v = strtoull(*p, &end, 10);
        if (errno != 0 || v > INT64_MAX)
                return false;
        *p = end;
        *ret = (int64_t) v;
        return true;
}

/* Content-Range: "bytes START-END/TOTAL", or with "*" for the range or the total. */
static void dl_parse_content_range(dl_state *st, const char *v)
{
        int64_t start = -1, end = -1, total = -1;

        v += strspn(v, " \t");
        if (strncasecmp(v, "bytes", 5) != 0)
                return;
        v += 5;
        v += strspn(v, " \t");
        if (*v == '*') {
                v++;
        } else {
                if (!dl_parse_u64(&v, &start) || *v++ != '-' || !dl_parse_u64(&v, &end))
                        return;
        }
        if (*v++ != '/')
                return;
        if (*v != '*' && !dl_parse_u64(&v, &total))
                return;
        st->range_start = start;
        st->range_total = total;
}

/* Forgets the headers kept of a response. */
static void dl_response_clear(dl_state *st)
{
        free(st->location);
        free(st->etag);
        free(st->last_modified);
        st->location = st->etag = st->last_modified = NULL;
}

/* A header's value without the blanks around it. */
static char *dl_header_value(const char *v)
{
        size_t len;

        v += strspn(v, " \t");
        len = strlen(v);
        while (len && strchr(" \t\r\n", v[len - 1]))
                len--;
        return kiln_xstrndup(v, len);
}

static size_t dl_on_header(char *data, size_t size, size_t nmemb, void *userdata)
{
        dl_state *st = userdata;
        size_t n = size * nmemb;
        kiln_autofree char *line = kiln_xstrndup(data, n);

        clock_gettime(CLOCK_MONOTONIC, &st->last_byte);
        if (strncmp(line, "HTTP/", 5) == 0) {
                /* a new response (after a redirect, or a 100 Continue) */
                st->range_start = -1;
                st->range_total = -1;
                dl_response_clear(st);
        } else if (strncasecmp(line, "Content-Range:", 14) == 0) {
                dl_parse_content_range(st, line + 14);
        } else if (strncasecmp(line, "Location:", 9) == 0) {
                free(st->location);
                st->location = dl_header_value(line + 9);
        } else if (strncasecmp(line, "ETag:", 5) == 0) {
                free(st->etag);
                st->etag = dl_header_value(line + 5);
        } else if (strncasecmp(line, "Last-Modified:", 14) == 0) {
                free(st->last_modified);
                st->last_modified = dl_header_value(line + 14);
        }
        return n;
}

static int dl_on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                          curl_off_t ulnow)
{
        dl_state *st = userdata;

        (void) dltotal, (void) dlnow, (void) ultotal, (void) ulnow;
        if (dl_since(&st->last_byte) >= st->stall_s) {
                st->stop = DL_STOP_STALL;
                return 1;
        }
        if (dl_report(st, false) != 0) {
                st->stop = DL_STOP_INTERRUPT;
                return 1;
        }
        return 0;
}

/* ---- one attempt ---- */

static int dl_curl_setup(dl_state *st, kiln_error **err)
{
        const download_spec *s = st->spec;
        const char *protocols = download_protocols(s->url);
        CURL *c = st->curl;

        DL_SETOPT(c, CURLOPT_URL, s->url, err);
        DL_SETOPT(c, CURLOPT_ERRORBUFFER, st->errbuf, err);
        DL_SETOPT(c, CURLOPT_NOSIGNAL, 1L, err);
        DL_SETOPT(c, CURLOPT_PROTOCOLS_STR, protocols, err);
        DL_SETOPT(c, CURLOPT_REDIR_PROTOCOLS_STR, protocols, err);
        if (dl_ca_file)
                DL_SETOPT(c, CURLOPT_CAINFO, dl_ca_file, err);
        DL_SETOPT(c, CURLOPT_FOLLOWLOCATION, 1L, err);
        DL_SETOPT(c, CURLOPT_MAXREDIRS, DL_MAX_REDIRECTS, err);
        DL_SETOPT(c, CURLOPT_USERAGENT, "kiln/" KILN_VERSION, err);
        DL_SETOPT(c, CURLOPT_CONNECTTIMEOUT,
                  (long) (s->connect_timeout_s > 0 ? s->connect_timeout_s
                                                   : DL_DEFAULT_CONNECT_TIMEOUT_S),
                  err);
        DL_SETOPT(c, CURLOPT_LOW_SPEED_LIMIT, 1L, err);
        DL_SETOPT(c, CURLOPT_LOW_SPEED_TIME, (long) st->stall_s, err);
        DL_SETOPT(c, CURLOPT_WRITEFUNCTION, dl_on_body, err);
        DL_SETOPT(c, CURLOPT_WRITEDATA, st, err);
        DL_SETOPT(c, CURLOPT_HEADERFUNCTION, dl_on_header, err);
        DL_SETOPT(c, CURLOPT_HEADERDATA, st, err);
        DL_SETOPT(c, CURLOPT_XFERINFOFUNCTION, dl_on_progress, err);
        DL_SETOPT(c, CURLOPT_XFERINFODATA, st, err);
        DL_SETOPT(c, CURLOPT_NOPROGRESS, 0L, err);
        return 0;
}

/* Errors that another attempt may not meet: the network's and the server's passing troubles. */
static bool dl_curl_transient(CURLcode c)
{
        switch (c) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return true;
        default:
                return false;
        }
}

/* What a finished transfer means, once its file descriptor is closed. */
static dl_outcome dl_classify(dl_state *st, CURLcode res, kiln_error **err)
{
        const char *url = st->shown;
        curl_off_t connect_us = 0;
        long code = 0;

        curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &code);
        st->status = code;
        switch (st->stop) {
        case DL_STOP_INTERRUPT: {
                kiln_autofree char *note = dl_kept_note(st);

                kiln_error_set(err, KILN_E_INTERRUPTED, NULL,
                               "the download of '%s' was interrupted after %" PRIu64 " bytes%s",
                               url, st->hashed, note);
                return DL_FAIL;
        }
        case DL_STOP_ERROR:
                if (err && !*err)
                        *err = kiln_steal(&st->cb_err);
                return DL_FAIL;
        case DL_STOP_STALL:
                kiln_error_set(err, KILN_E_TIMEOUT, NULL,
                               "the server stalled: no data from '%s' for %d s (after %" PRIu64
                               " bytes)",
                               url, st->stall_s, st->hashed);
                return DL_RETRY;
        case DL_STOP_STATUS:
        case DL_STOP_NONE:
                break;
        }
        if (res == CURLE_UNSUPPORTED_PROTOCOL && st->location) {
                kiln_autofree char *to = download_url_redact(st->location, 0);

                kiln_error_set(err, KILN_E_HTTP, NULL,
                               "cannot download '%s': the redirect to '%s' is refused: %s", url, to,
                               strncasecmp(st->location, "http://", 7) == 0
                                       ? "a download that starts with https:// stays on https"
                                       : "only http:// and https:// are followed");
                return DL_FAIL;
        }
        if (res == CURLE_TOO_MANY_REDIRECTS || res == CURLE_UNSUPPORTED_PROTOCOL) {
                kiln_error_set(err, KILN_E_HTTP, NULL, "cannot download '%s': %s", url,
                               st->errbuf[0] ? st->errbuf : curl_easy_strerror(res));
                return DL_FAIL;
        }
        if (code == 416 && st->have > 0) {
                /* Nothing is left after our offset: the .part is the whole file, unless the
                 * server names another size. */
                if (st->range_total >= 0 && (uint64_t) st->range_total != st->have) {
                        kiln_error_set(err, KILN_E_HTTP, NULL,
                                       "'%s' holds %" PRIu64 " bytes but '%s' has %" PRId64
                                       "; starting over",
                                       st->part, st->have, url, st->range_total);
                        if (unlink(st->part) < 0 && errno != ENOENT) {
                                kiln_error_set_errno(err, errno, KILN_E_IO, "cannot remove '%s'",
                                                     st->part);
                                return DL_FAIL;
                        }
                        dl_meta_remove(st);
                        dl_digest_reset(st);
                        return DL_RETRY;
                }
                st->total = st->have;
                st->resumed_from = st->have;
                return DL_DONE;
        }
        if (code == 404 || code == 410) {
                kiln_error_set(err, KILN_E_NOT_FOUND, NULL, "the server answered HTTP %ld for '%s'",
                               code, url);
                return DL_FAIL;
        }
        if (code >= 300 || (code > 0 && code < 200)) {
                kiln_error_set(err, KILN_E_HTTP, NULL, "the server answered HTTP %ld for '%s'",
                               code, url);
                return code >= 500 || code == 408 || code == 429 ? DL_RETRY : DL_FAIL;
        }
        if (res == CURLE_OPERATION_TIMEDOUT) {
                curl_easy_getinfo(st->curl, CURLINFO_CONNECT_TIME_T, &connect_us);
                if (connect_us > 0)
                        kiln_error_set(err, KILN_E_TIMEOUT, NULL,
                                       "the server stalled: '%s' sent no data for %d s (%s)", url,
                                       st->stall_s, st->errbuf);
                else
                        kiln_error_set(err, KILN_E_TIMEOUT, NULL, "cannot connect to '%s': %s", url,
                                       st->errbuf[0] ? st->errbuf : curl_easy_strerror(res));
                return DL_RETRY;
        }
        if (res != CURLE_OK) {
                kiln_error_set(err, KILN_E_HTTP, NULL, "cannot download '%s': %s", url,
                               st->errbuf[0] ? st->errbuf : curl_easy_strerror(res));
                return dl_curl_transient(res) ? DL_RETRY : DL_FAIL;
        }
        /* A 206 without a body never reached dl_body_begin: what it says of the whole file
         * still counts, or an empty answer would pass the .part off as complete. */
        if (!st->body_started && code == 206 && st->range_total >= 0)
                st->total = (uint64_t) st->range_total;
        if (st->total && st->hashed != st->total) {
                kiln_error_set(err, KILN_E_HTTP, NULL,
                               "the transfer of '%s' ended after %" PRIu64 " of %" PRIu64 " bytes",
                               url, st->hashed, st->total);
                return DL_RETRY;
        }
        return DL_DONE;
}

/* Makes sure DEST.part exists, holds what was received, and is on disk (unless the caller
 * consumes it at once: spec->transient). */
static int dl_part_finish(dl_state *st, kiln_error **err)
{
        /* a 2xx answer with an empty body (or a 416) never opened the file: a 200 means an
         * empty file, a 206 or 416 that the .part is complete */
        if (st->fd < 0 && dl_open_part(st, st->status != 206 && st->status != 416, err) < 0)
                return -1;
        if (!st->spec->transient && fsync(st->fd) < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot write '%s'", st->part);
        return 0;
}

static dl_outcome dl_attempt(dl_state *st, kiln_error **err)
{
        kiln_autofree char *range = NULL;
        kiln_autofree char *if_range = NULL;
        kiln_autofree char *if_range_header = NULL;
        kiln_autoptr(dl_slist) headers = NULL;
        int meta = 0;
        struct stat sb;
        dl_outcome out;
        CURLcode res;

        st->fd = -1;
        st->have = 0;
        st->resumed_from = 0;
        st->body_started = false;
        st->discard = false;
        st->status = 0;
        st->range_start = -1;
        st->range_total = -1;
        st->stop = DL_STOP_NONE;
        st->cb_err = kiln_error_free(st->cb_err);
        st->errbuf[0] = '\0';
        clock_gettime(CLOCK_MONOTONIC, &st->last_byte);

        if (stat(st->part, &sb) == 0) {
                st->have = (uint64_t) sb.st_size;
        } else if (errno != ENOENT) {
                kiln_error_set_errno(err, errno, KILN_E_IO, "cannot stat '%s'", st->part);
                return DL_FAIL;
        }
        if (st->have > 0)
                meta = dl_meta_read(st, &if_range);
        if (meta < 0) {
                kiln_log(KILN_LOG_DEBUG, "download: '%s' is unreadable: starting over", st->meta);
                if (unlink(st->part) < 0 && errno != ENOENT) {
                        kiln_error_set_errno(err, errno, KILN_E_IO, "cannot remove '%s'", st->part);
                        return DL_FAIL;
                }
                dl_meta_remove(st);
                dl_digest_reset(st);
                st->have = 0;
        }
        st->has_meta = meta > 0;
        /* the digest covers the .part unless it comes from another call or was changed */
        if (st->have != st->hashed && dl_hash_part(st, st->have, err) < 0)
                return DL_FAIL;
        if (st->have > 0)
                range = kiln_xasprintf("%" PRIu64 "-", st->have);
        if (range && if_range) {
                if_range_header = kiln_xasprintf("If-Range: %s", if_range);
                headers = curl_slist_append(NULL, if_range_header);
                if (!headers) {
                        kiln_error_set(err, KILN_E_INTERNAL, NULL,
                                       "cannot build the If-Range header");
                        return DL_FAIL;
                }
        }
        if (curl_easy_setopt(st->curl, CURLOPT_RANGE, range) != CURLE_OK ||
            curl_easy_setopt(st->curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK) {
                kiln_error_set(err, KILN_E_INTERNAL, NULL,
                               "cannot set the libcurl options RANGE and HTTPHEADER");
                return DL_FAIL;
        }
        kiln_log(KILN_LOG_DEBUG, "download: GET '%s' from byte %" PRIu64 "%s%s", st->shown,
                 st->have, if_range ? " if still " : "", if_range ? if_range : "");
        res = curl_easy_perform(st->curl);
        curl_easy_setopt(st->curl, CURLOPT_HTTPHEADER, NULL);
        out = dl_classify(st, res, err);
        dl_response_clear(st);
        if (out == DL_DONE && dl_part_finish(st, err) < 0)
                out = DL_FAIL;
        if (st->fd >= 0 && close(st->fd) < 0 && out == DL_DONE) {
                kiln_error_set_errno(err, errno, KILN_E_IO, "cannot write '%s'", st->part);
                out = DL_FAIL;
        }
        st->fd = -1;
        if (st->discard) {
                if (unlink(st->part) < 0 && errno != ENOENT)
                        kiln_log(KILN_LOG_DEBUG, "download: cannot remove '%s': %s", st->part,
                                 strerror(errno));
                dl_meta_remove(st);
                dl_digest_reset(st);
        }
        return out;
}

/* Waits before attempt number `attempt` + 1: 0.5 s, 1 s, 2 s... at most DL_BACKOFF_MAX_MS,
 * still reporting progress so that the caller can stop it. */
static int dl_backoff(dl_state *st, int attempt, kiln_error **err)
{
        long ms = DL_BACKOFF_FIRST_MS;

        for (int i = 1; i < attempt && ms < DL_BACKOFF_MAX_MS; i++)
                ms *= 2;
        if (ms > DL_BACKOFF_MAX_MS)
                ms = DL_BACKOFF_MAX_MS;
        while (ms > 0) {
                long slice = ms < 250 ? ms : 250;
                struct timespec ts = {0, slice * 1000000L};

                nanosleep(&ts, NULL);
                ms -= slice;
                if (dl_report(st, false) != 0) {
                        kiln_autofree char *note = dl_kept_note(st);

                        return kiln_error_set(err, KILN_E_INTERRUPTED, NULL,
                                              "the download of '%s' was interrupted while "
                                              "waiting to retry%s",
                                              st->shown, note);
                }
        }
        return 0;
}

/* ---- the call ---- */

/* The directory of path, for the free-space check. */
static char *dl_dirname(const char *path)
{
        const char *slash = strrchr(path, '/');

        if (!slash)
                return kiln_xstrdup(".");
        if (slash == path)
                return kiln_xstrdup("/");
        return kiln_xstrndup(path, (size_t) (slash - path));
}

static int dl_curl_global_init(kiln_error **err)
{
        static bool done;
        CURLcode c;

        if (done)
                return 0;
        c = curl_global_init(CURL_GLOBAL_ALL);
        if (c != CURLE_OK)
                return kiln_error_set(err, KILN_E_INTERNAL, NULL, "cannot initialise libcurl: %s",
                                      curl_easy_strerror(c));
        done = true;
        return 0;
}

static void dl_fsync_dir(const char *dir)
{
        kiln_autoclose int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) < 0)
                kiln_log(KILN_LOG_DEBUG, "download: cannot fsync '%s': %s", dir, strerror(errno));
}

int download_file(const download_spec *spec, download_result *ret, kiln_error **err)
{
        kiln_autoptr(dl_curl) curl = NULL;
        kiln_autoptr(dl_md_ctx) md_ctx = NULL;
        kiln_autoptr(kiln_error) attempt_err = NULL;
        kiln_autofree char *expected = NULL;
        kiln_autofree char *part = NULL;
        kiln_autofree char *meta = NULL;
        kiln_autofree char *shown = NULL;
        kiln_autofree char *dir = NULL;
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int digest_len = 0;
        const char *alg = "sha256";
        const EVP_MD *md = EVP_sha256();
        int max_attempts, attempt = 0;
        dl_outcome out = DL_FAIL;
        kiln_buf hex = {0};
        dl_state st;

        if (!spec->url || (strncasecmp(spec->url, "http://", 7) != 0 &&
                           strncasecmp(spec->url, "https://", 8) != 0))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Only http:// and https:// URLs can be downloaded, not '%s'",
                                      spec->url ? spec->url : "");
        if (!spec->dest || !*spec->dest)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "no destination for '%s'",
                                      spec->url);
        if (spec->max_attempts < 0 || spec->connect_timeout_s < 0 || spec->stall_timeout_s < 0)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "negative attempts or timeouts for '%s'", spec->url);
        if (spec->checksum && dl_parse_checksum(spec->checksum, &md, &alg, &expected, err) < 0)
                return -1;
        if (dl_curl_global_init(err) < 0)
                return -1;

        part = kiln_xasprintf("%s.part", spec->dest);
        meta = kiln_xasprintf("%s.part.meta", spec->dest);
        shown = download_url_redact(spec->url, 0);
        dir = dl_dirname(spec->dest);
        curl = curl_easy_init();
        md_ctx = EVP_MD_CTX_new();
        if (!curl || !md_ctx)
                return kiln_error_set(err, KILN_E_INTERNAL, NULL,
                                      "cannot set up a download of '%s'", spec->url);
        memset(&st, 0, sizeof(st));
        st.spec = spec;
        st.part = part;
        st.meta = meta;
        st.shown = shown;
        st.dir = dir;
        st.curl = curl;
        st.md = md;
        st.md_ctx = md_ctx;
        st.fd = -1;
        st.stall_s = spec->stall_timeout_s > 0 ? spec->stall_timeout_s : DL_DEFAULT_STALL_TIMEOUT_S;
        max_attempts = spec->max_attempts > 0 ? spec->max_attempts : DL_DEFAULT_MAX_ATTEMPTS;
        clock_gettime(CLOCK_MONOTONIC, &st.start);
        st.last_progress = st.start;
        dl_digest_reset(&st);
        if (dl_curl_setup(&st, err) < 0)
                return -1;

        while (attempt < max_attempts) {
                if (attempt > 0 && dl_backoff(&st, attempt, err) < 0)
                        return -1;
                attempt++;
                attempt_err = kiln_error_free(attempt_err);
                out = dl_attempt(&st, &attempt_err);
                if (out != DL_RETRY)
                        break;
                kiln_log(KILN_LOG_DEBUG, "download: attempt %d of %d failed: %s", attempt,
                         max_attempts, attempt_err ? attempt_err->msg : "?");
        }
        st.cb_err = kiln_error_free(st.cb_err);
        if (out != DL_DONE) {
                if (out == DL_RETRY && attempt > 1)
                        kiln_error_prefix(&attempt_err, "gave up after %d attempts", attempt);
                if (err && !*err)
                        *err = kiln_steal(&attempt_err);
                return -1;
        }
        dl_report(&st, true);

        EVP_DigestFinal_ex(md_ctx, digest, &digest_len);
        kiln_buf_appendf(&hex, "%s:", alg);
        for (unsigned int i = 0; i < digest_len; i++)
                kiln_buf_appendf(&hex, "%02x", digest[i]);
        if (expected && strcmp(hex.data + strlen(alg) + 1, expected) != 0) {
                kiln_error_set(err, KILN_E_INVALID, NULL,
                               "checksum mismatch for %s: expected %s:%s got %s", shown, alg,
                               expected, hex.data);
                kiln_buf_clear(&hex);
                if (unlink(part) < 0 && errno != ENOENT)
                        kiln_log(KILN_LOG_DEBUG, "download: cannot remove '%s': %s", part,
                                 strerror(errno));
                dl_meta_remove(&st);
                return -1;
        }
        if (rename(part, spec->dest) < 0) {
                kiln_buf_clear(&hex);
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot rename '%s' to '%s'",
                                            part, spec->dest);
        }
        dl_meta_remove(&st);
        if (!spec->transient)
                dl_fsync_dir(dir);

        ret->bytes = st.hashed;
        ret->resumed_from = st.resumed_from;
        ret->attempts = attempt;
        ret->digest = kiln_buf_steal(&hex);
        return 0;
}
