/* Library-internal helpers: allocation that aborts on OOM, strings, files, and external
 * commands run from an argv (never through a shell). */
#ifndef KILN_UTIL_H
#define KILN_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdint.h>

#include <kiln/common.h>
#include <kiln/error.h>
#include <kiln/log.h>

/* ---- memory: these abort on OOM ---- */
void *kiln_xmalloc(size_t n);
void *kiln_xcalloc(size_t nmemb, size_t n);
void *kiln_xrealloc(void *p, size_t n);
char *kiln_xstrdup(const char *s);
char *kiln_xstrndup(const char *s, size_t n);
char *kiln_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *kiln_xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Frees n strings and the array that holds them; NULL-safe. */
void kiln_strv_free(char **v, size_t n);

/* ---- growable byte buffer, always NUL-terminated ---- */
typedef struct kiln_buf {
        char *data;
        size_t len;
        size_t cap;
} kiln_buf;

void kiln_buf_append(kiln_buf *b, const void *data, size_t n);
void kiln_buf_appendf(kiln_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For output of unbounded length (a guest's) of which the end matters: appends, keeping no
 * more than about twice max bytes; kiln_buf_tail then cuts it to the last max. */
void kiln_buf_append_tail(kiln_buf *b, const void *data, size_t n, size_t max);
void kiln_buf_tail(kiln_buf *b, size_t max);
/* Hands the data to the caller (never NULL) and empties the buffer. */
char *kiln_buf_steal(kiln_buf *b);
void kiln_buf_clear(kiln_buf *b);

/* Tells fn (a caller's notify callback; may be NULL) one formatted line. */
void kiln_notify(kiln_log_fn fn, void *userdata, kiln_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* ---- files ---- */
/* Reads a whole file (at most max bytes) into a NUL-terminated string. */
int kiln_file_read(const char *path, size_t max, char **ret, size_t *ret_len, kiln_error **err);
/* Overwrites a regular file that held a secret with zeros, flushes it and removes it. A file
 * that does not exist is no error. Quiet: -1 with errno set on failure (the file is removed
 * even when it could not be overwritten). */
int kiln_file_wipe(const char *path);
/* Writes text to path, created or truncated, mode 0600 (never through a symbolic link). On
 * failure the file is wiped. */
int kiln_file_write_private(const char *path, const char *text, kiln_error **err);
/* The same for len bytes of any content. */
int kiln_file_write_private_data(const char *path, const void *data, size_t len, kiln_error **err);
/* Finds an executable on PATH; returns a new string or NULL. */
char *kiln_find_program(const char *name);

/* Who a process runs as, for permission checks made on its behalf. */
typedef struct kiln_fs_user {
        unsigned uid;
        unsigned gid;
        const unsigned *groups; /* supplementary groups */
        size_t n_groups;
} kiln_fs_user;
/* The first directory on the way to path, path itself included where it exists, that user
 * may not search (mode bits, as the kernel checks them; ACLs are not read), as a new string
 * with its mode and owner; NULL when every existing one can be searched. uid 0 passes. */
char *kiln_fs_first_unsearchable(const char *path, const kiln_fs_user *user, unsigned *ret_mode,
                                 unsigned *ret_owner);

/* ---- IDs and time ---- */
/* len bytes from the kernel's CSPRNG. */
void kiln_random_bytes(void *buf, size_t len);
/* PREFIX-xxxxxxxxxxxxxxxxx: the prefix, a hyphen and 17 random lowercase hex digits. */
char *kiln_id_new(const char *prefix);
/* True if s is PREFIX- followed by exactly 8 or 17 lowercase hex digits. */
bool kiln_id_valid(const char *prefix, const char *s);
/* The monotonic clock (CLOCK_MONOTONIC) in milliseconds, for deadlines. */
uint64_t kiln_now_ms(void);
/* Milliseconds left until deadline (kiln_now_ms's clock), as a poll() timeout. */
int kiln_poll_ms(uint64_t deadline);
/* A TCP connection to host:port (a name or an address; every address it resolves to is
 * tried), non-blocking, with TCP_NODELAY, by deadline. *ret_fd is the caller's. Errors name
 * the peer as `where`: KILN_E_TIMEOUT when the deadline passes, else code (a name that does
 * not resolve, a refused or unreachable peer). */
int kiln_tcp_connect(const char *host, int port, const char *where, uint64_t deadline,
                     kiln_error_code code, int *ret_fd, kiln_error **err);
/* Sleeps ms milliseconds (a signal does not cut it short). */
void kiln_sleep_ms(long ms);
/* Current UTC time as 2024-01-02T03:04:05.000Z. */
char *kiln_time_now_iso(void);
/* True if s consists of n decimal digits exactly. */
bool kiln_is_digits(const char *s, size_t n);

/* ---- XML ---- */
/* Escapes a value for XML text or a quoted attribute (& < > ' "). */
char *kiln_xml_escape(const char *s);

/* ---- quoting ---- */
/* s in single quotes for a POSIX shell. */
char *kiln_shell_quote(const char *s);
/* s as one shell word: as it is when it holds nothing a shell would read, else quoted. */
char *kiln_shell_word(const char *s);
/* A file name as the value of an ssh_config option (-o NAME=VALUE): '%' doubled, since ssh
 * expands %-tokens there, and in double quotes when it holds white space, which would
 * otherwise separate several names. A '"' cannot be written. */
char *kiln_ssh_config_value(const char *s);

/* ---- test hooks ---- */
/* If KILN_CRASH_AT names this point, the process kills itself with SIGKILL here: crash tests
 * stop kiln at chosen points of an operation and check what fsck finds afterwards. */
void kiln_crash_point(const char *name);
/* compress.c: data deflated with zlib, then base64 (NULL if zlib fails); and back, at most max
 * bytes (InvalidParameterValue naming field otherwise). */
char *kiln_deflate_base64(const void *data, size_t len);
int kiln_inflate_base64(const char *field, const char *text, size_t max, void **ret,
                        size_t *ret_len, kiln_error **err);

/* ---- external commands ---- */
typedef struct kiln_cmd kiln_cmd;

/* The argv, ending with NULL. */
kiln_cmd *kiln_cmd_new(const char *prog, ...) __attribute__((sentinel));
kiln_cmd *kiln_cmd_free(kiln_cmd *cmd);
void kiln_cmd_add_arg(kiln_cmd *cmd, const char *arg);
/* Keeps this environment variable of ours in the child (its environment is otherwise only
 * PATH, HOME and LC_ALL=C). */
void kiln_cmd_pass_env(kiln_cmd *cmd, const char *name);
/* argv joined with spaces, for logs and error messages. */
char *kiln_cmd_to_string(const kiln_cmd *cmd);
/* Runs the command to its end. stdin is /dev/null. A non-zero exit or a signal is an error
 * (KILN_E_IO) that names the program and carries the tail of its stderr. *ret_stdout (if
 * ret_stdout is not NULL) receives everything it printed on stdout. */
int kiln_cmd_run(kiln_cmd *cmd, char **ret_stdout, kiln_error **err);

/* Resource limits for a tool that reads untrusted input (a downloaded disk image): a crafted
 * file must not make it take all memory or run forever. as_bytes caps the address space
 * (RLIMIT_AS), cpu_s the CPU time (RLIMIT_CPU: SIGXCPU at cpu_s, SIGKILL 2 s later); 0 leaves
 * that one unlimited. A limited child also dumps no core (RLIMIT_CORE 0) and gets
 * MALLOC_ARENA_MAX=2: glibc reserves 64 MiB of address space per malloc arena, up to one per
 * thread, which would make the need grow with the threads a tool starts rather than with the
 * input. */
typedef struct kiln_limits {
        uint64_t as_bytes;
        unsigned cpu_s;
} kiln_limits;
#define KILN_LIMITS_MALLOC_ENV "MALLOC_ARENA_MAX=2"
/* Applies the limits to the calling process, between fork and exec (setrlimit only, which is
 * a plain system call). Returns 0, or -1 with errno set. */
int kiln_limits_apply(const kiln_limits *limits);
/* A run that exceeds the CPU time fails with KILN_E_LIMIT, naming the limit; one that dies of a
 * signal under an address-space limit says that it had one (running out of memory under it is
 * usually a message and a non-zero exit, or an abort). */
void kiln_cmd_set_limits(kiln_cmd *cmd, uint64_t as_bytes, unsigned cpu_s);

/* Tests: when a hook is set, commands are not run; the hook receives the argv and gives the
 * stdout and exit status the command would have had. */
typedef int (*kiln_cmd_dry_run_fn)(const char *const *argv, char **ret_stdout, void *userdata);
void kiln_cmd_set_dry_run(kiln_cmd_dry_run_fn fn, void *userdata);

KILN_DEFINE_AUTOPTR(kiln_cmd, kiln_cmd_free)

/* ---- digests and base64 (crypto.c, on libcrypto) ---- */
typedef enum kiln_digest_alg {
        KILN_DIGEST_MD5,
        KILN_DIGEST_SHA1,
        KILN_DIGEST_SHA256,
        KILN_DIGEST_COUNT
} kiln_digest_alg;
#define KILN_DIGEST_MAX 32 /* bytes of the longest, SHA-256 */

/* The digest of len bytes at data into out; *ret_len (if not NULL) is its size: 16, 20 or 32.
 * Fails (KILN_E_UNSUPPORTED) only if libcrypto refuses the algorithm, as a FIPS configuration
 * refuses MD5. */
int kiln_digest(kiln_digest_alg alg, const void *data, size_t len,
                unsigned char out[KILN_DIGEST_MAX], size_t *ret_len, kiln_error **err);
/* Bytes as lowercase hex pairs joined by ':' ("0a:1b:..."), as `openssl dgst -c` prints them. */
char *kiln_hex_colon(const unsigned char *p, size_t n);
/* base64 of len bytes, '='-padded if pad, on one line; "" for no bytes. Never NULL. */
char *kiln_base64_encode(const void *data, size_t len, bool pad);
/* Strict base64 of s[0..n): the alphabet only (white space skipped if skip_space), padded with
 * '=' to a multiple of 4 characters, padding only at the end, at least one byte. NULL if s is
 * not that. The bytes are followed by a NUL that *ret_len does not count, in one allocation
 * that is never moved (a caller decoding a secret can wipe it). */
unsigned char *kiln_base64_decode(const char *s, size_t n, bool skip_space, size_t *ret_len);
/* The reason of libcrypto's latest error, as a new string, and empties its error queue. */
char *kiln_crypto_error(void);

#endif
