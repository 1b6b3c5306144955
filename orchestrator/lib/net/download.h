/* Downloads of disk images over HTTP(S) with libcurl, for import-image --url. The bytes go to
 * DEST.part and are hashed as they arrive (no second pass over the file); DEST appears, by a
 * rename, only once the whole file is there and matches the checksum, if one was given. A
 * .part left by an earlier call or attempt is resumed with a Range request. Transient failures
 * (connection refused or reset, timeouts, a stalled server, a transfer cut short, HTTP 5xx, 408
 * and 429) are retried with exponential backoff, each retry resuming from what is on disk.
 *
 * TLS peers are always verified; only http and https are spoken, also after a redirect (at
 * most 5), and a download that starts at an https:// URL speaks only https: a redirect to
 * http:// is refused. Proxies come from the usual environment variables, as for curl(1). The
 * module prints nothing: progress goes to the caller's function. */
#ifndef KILN_DOWNLOAD_H
#define KILN_DOWNLOAD_H

#include <stdbool.h>
#include <stdint.h>

#include <kiln/error.h>

/* Progress: bytes in DEST.part so far, the size of the whole file (0 if unknown), and the
 * average rate of this call. Called at most about 4 times a second, also while waiting to
 * retry, and once at the end. Returns 0 to go on, non-zero to stop: the download then fails
 * with KILN_E_INTERRUPTED and keeps DEST.part for a later resume (the return value of the
 * final call is ignored: the data is all there by then). */
typedef int (*download_progress_fn)(uint64_t done, uint64_t total, double bytes_per_s,
                                    void *userdata);

typedef struct download_spec {
        const char *url;               /* http:// or https:// */
        const char *dest;              /* final path; DEST.part is written next to it */
        const char *checksum;          /* "sha256:HEX", "sha512:HEX", or NULL for none */
        int connect_timeout_s;         /* per connection; 0: 15 */
        int stall_timeout_s;           /* no byte for this long aborts the attempt; 0: 30 */
        int max_attempts;              /* 0: 5 */
        bool transient;                /* DEST is read once at once and removed by the
                                          caller: it is not flushed to disk (fsync) */
        uint64_t max_bytes;            /* the most the file may hold; 0: no cap but the
                                          free space */
        download_progress_fn progress; /* may be NULL */
        void *userdata;
} download_spec;

/* What a download leaves free on its file system: it never fills the disk. */
#define DOWNLOAD_SPACE_RESERVE (256ULL << 20)

typedef struct download_result {
        uint64_t bytes;        /* size of DEST */
        uint64_t resumed_from; /* offset the last attempt resumed from; 0: it started over */
        int attempts;          /* transfers tried, 1 if the first one succeeded */
        char *digest;          /* "sha256:hex" of DEST (the algorithm of the checksum given,
                                  sha256 if none) */
} download_result;

/* Checks the syntax of a checksum argument: "sha256:" and 64 hex digits, or "sha512:" and 128
 * (either case). KILN_E_INVALID names what is wrong. */
int download_check_checksum_arg(const char *checksum, kiln_error **err);

/* Downloads spec->url to spec->dest (replacing a file of that name) as described above.
 * Errors: KILN_E_INVALID for a bad spec, a URL that is not http(s) or a checksum mismatch (DEST
 * and DEST.part are then both gone); KILN_E_NOT_FOUND for HTTP 404 and 410; KILN_E_HTTP for
 * other HTTP errors, failed transfers and refused redirects; KILN_E_TIMEOUT when the last attempt
 * timed out or the server stalled; KILN_E_IO for local files, or too little free space;
 * KILN_E_LIMIT for a file larger than spec->max_bytes; KILN_E_INTERRUPTED when progress asked to
 * stop. Space and size are checked before the first byte is written when the server announces
 * the size, and while the bytes arrive in any case: the file system must keep
 * DOWNLOAD_SPACE_RESERVE bytes free (re-checked at every MiB), so that a server that sends
 * without end (a chunked answer has no announced size) cannot fill it. DEST.part is created only
 * when the body of a 2xx answer begins, and removed on a checksum mismatch and when the bytes
 * that arrive pass max_bytes or the free space: after any other failure it holds a prefix of the
 * file, for a later call to resume. *ret (cleared by the caller with download_result_clear) is set
 * only on success. Messages name the URL as download_url_redact shows it: without credentials,
 * query or fragment. */
int download_file(const download_spec *spec, download_result *ret, kiln_error **err);

void download_result_clear(download_result *r);

/* The protocols a download that starts at URL may use, redirects included, as libcurl names
 * them: "https" for an https:// URL (a redirect must not drop TLS), "http,https" for an
 * http:// one (either case), NULL for anything else. */
const char *download_protocols(const char *url);

/* The URL as it may be shown and stored (an image's description, a snapshot's source): parsed
 * by libcurl, without user name, password, query or fragment (where signed URLs carry their
 * tokens), and at most max bytes (0: no limit; else at least 4), a longer one cut on a
 * character boundary and ended with "...". A URL libcurl cannot parse gives a placeholder,
 * never the URL. */
char *download_url_redact(const char *url, size_t max);

/* Tests: TLS peers are verified against the CA certificates in the PEM file PATH instead of the
 * system's. NULL restores the system's. */
void download_set_ca_file(const char *path);

/* Tests: when fn is set it replaces statvfs() in the free-space check and returns the bytes
 * free in DIR. NULL restores statvfs(). */
typedef uint64_t (*download_free_space_fn)(const char *dir, void *userdata);
void download_set_free_space_hook(download_free_space_fn fn, void *userdata);

#endif
