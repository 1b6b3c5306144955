/* SSH on libssh2 1.10, non-blocking throughout: we own the socket (connected with our own
 * deadline), the session is non-blocking from the start, and every libssh2 call that returns
 * LIBSSH2_ERROR_EAGAIN is repeated after a poll() in the direction(s) that
 * libssh2_session_block_directions() names, until the caller's deadline. Nothing spins and
 * nothing waits past the deadline.
 *
 * Host keys are pinned, never learnt: only host key algorithms of the pinned key's type are
 * offered, the key the server proves it holds in the handshake is compared byte for byte with
 * the pinned blob right after the handshake, and on a mismatch the session is dropped before
 * any authentication request leaves.
 *
 * libssh2 1.10 details this code depends on:
 *  - A call that returns EAGAIN after it has started to send a packet keeps that packet half
 *    sent, and any other call that sends (even a read that wants to widen the window) then fails
 *    with LIBSSH2_ERROR_BAD_USE. block_directions() has the OUTBOUND bit set exactly while such
 *    a packet is pending, so a call that returns EAGAIN with that bit set is repeated alone
 *    ("stuck") until it completes; any other EAGAIN lets us go on reading and writing.
 *  - A channel read that returns 0 is not end-of-file (it may have processed packets for the
 *    other stream); libssh2_channel_eof() says whether the server sent EOF and nothing is
 *    left to read on either stream.
 *  - A read of one stream drains the socket and queues what arrived for the other stream, so
 *    before poll() we ask libssh2_channel_window_read_ex() whether data is queued already.
 *  - libssh2_userauth_publickey_frommemory() takes a length but signs with strlen() of the key
 *    text: the key must be NUL-terminated (ssh_key_read's is).
 *  - User authentication with an RSA key signs with ssh-rsa (SHA-1) only, and RSA host keys are
 *    verified only as ssh-rsa: OpenSSH 8.8 and later accept neither by default. Use ed25519.
 *  - libssh2_session_method_pref() removes names it does not implement with an overlapping
 *    memcpy (ASan aborts), so it is only given names libssh2_session_supported_algs() lists.
 *  - There is no set_read_timeout and set_timeout applies to blocking mode only; there is no
 *    channel_signal either, so a command past its deadline cannot be killed, only abandoned.
 *  - libssh2_channel_close() returns EAGAIN until the server's close arrives, and
 *    libssh2_channel_free() of a channel not closed that way closes it first; sshd sends its
 *    close only when the command has ended. The channel of an abandoned command is therefore
 *    kept in the session (our close sent) and freed by a later call once the server's close is
 *    in, or by ssh_free.
 *  - libssh2_session_free() of a session with a channel left open tries to close it and can
 *    return EAGAIN; we shut the socket down first so that it cannot wait. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <libssh2.h>

#include "ssh/ssh.h"
#include "util/util.h"

/* How long clean-up steps (closing an abandoned channel, the goodbye) may take. */
#define SSH_GRACE_MS 1000
/* The largest private key file we read (a 16384-bit RSA key is about 12 KiB). */
#define SSH_KEY_MAX ((size_t) 64 * 1024)
/* One channel read. */
#define SSH_READ_CHUNK ((size_t) 32 * 1024)

/* How many channels of abandoned commands a session keeps waiting for the server's close
 * (OpenSSH allows 10 sessions per connection by default). */
#define SSH_MAX_ABANDONED 8

typedef struct ssh_tunnel ssh_tunnel;

struct kiln_ssh {
        LIBSSH2_SESSION *session;
        int fd;
        ssh_tunnel *tunnel; /* through a jump host: what carries fd, or NULL */
        char *where;        /* "HOST:PORT", for messages */
        bool handshaken;    /* say goodbye before freeing */
        char *broken;       /* why the session can no longer be used, or NULL */
        /* Channels of commands abandoned at their deadline: our close has been sent, the
         * server's comes when the command ends. Reaped by later calls, or by ssh_free. */
        LIBSSH2_CHANNEL *abandoned[SSH_MAX_ABANDONED];
        size_t n_abandoned;
};

/* ---- public key lines ---- */

static bool is_blank(char c)
{
        return c == ' ' || c == '\t';
}

/* Splits "TYPE BASE64 [COMMENT]" and decodes the blob, which must start with TYPE as an SSH
 * string. */
static int ssh_pubkey_parse(const char *line, char **ret_type, unsigned char **ret_blob,
                            size_t *ret_len, kiln_error **err)
{
        kiln_autofree char *type = NULL;
        kiln_autofree unsigned char *blob = NULL;
        const char *p = line, *start = NULL;
        size_t len = 0, type_len = 0;
        uint32_t inner = 0;

        if (!line)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "no public key given");
        while (is_blank(*p))
                p++;
        start = p;
        while (*p && !is_blank(*p) && *p != '\n' && *p != '\r')
                p++;
        type_len = (size_t) (p - start);
        if (type_len == 0 || !is_blank(*p))
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "not a public key line (TYPE BASE64 [COMMENT])");
        type = kiln_xstrndup(start, type_len);
        while (is_blank(*p))
                p++;
        start = p;
        while (*p && !is_blank(*p) && *p != '\n' && *p != '\r')
                p++;
        blob = kiln_base64_decode(start, (size_t) (p - start), false, &len);
        if (!blob)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "the key of the '%s' public key line is not base64", type);
        if (len >= 4)
                inner = (uint32_t) blob[0] << 24 | (uint32_t) blob[1] << 16 |
                        (uint32_t) blob[2] << 8 | blob[3];
        if (len < 4 || inner != type_len || len - 4 < type_len ||
            memcmp(blob + 4, type, type_len) != 0)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "the key of the '%s' public key line is not a '%s' key", type,
                                      type);
        if (ret_type)
                *ret_type = kiln_steal(&type);
        *ret_len = len;
        *ret_blob = kiln_steal(&blob);
        return 0;
}

/* "SHA256:" and the unpadded base64 of the blob's SHA-256, as ssh-keygen -l prints it. */
static char *ssh_blob_fingerprint(const unsigned char *blob, size_t len, kiln_error **err)
{
        unsigned char md[KILN_DIGEST_MAX];
        kiln_autofree char *b64 = NULL;
        size_t n = 0;

        if (kiln_digest(KILN_DIGEST_SHA256, blob, len, md, &n, err) < 0)
                return NULL;
        b64 = kiln_base64_encode(md, n, false);
        return kiln_xasprintf("SHA256:%s", b64);
}

char *ssh_fingerprint_sha256(const char *public_key_line, kiln_error **err)
{
        kiln_autofree unsigned char *blob = NULL;
        size_t len = 0;

        if (ssh_pubkey_parse(public_key_line, NULL, &blob, &len, err) < 0)
                return NULL;
        return ssh_blob_fingerprint(blob, len, err);
}

/* The host key algorithms that make a server prove it holds a key of this type. */
static const char *ssh_hostkey_methods(const char *type)
{
        static const struct {
                const char *type;
                const char *methods;
        } map[] = {
                {"ssh-ed25519", "ssh-ed25519"},
                {"ssh-rsa", "rsa-sha2-512,rsa-sha2-256,ssh-rsa"}, /* 1.10 knows only ssh-rsa */
                {"ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256"},
                {"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384"},
                {"ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521"},
        };

        for (size_t i = 0; type && i < KILN_ARRAY_SIZE(map); i++)
                if (strcmp(map[i].type, type) == 0)
                        return map[i].methods;
        return NULL;
}

/* ---- time, errors, waiting ---- */

const char *ssh_where(const kiln_ssh *s)
{
        return s->where;
}

/* Sets *err to "WHAT: libssh2's last error". Call right after the failing call: the text is
 * libssh2's, borrowed, and replaced by the next failure. */
static int ssh_lib_error(kiln_ssh *s, kiln_error **err, int code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static int ssh_lib_error(kiln_ssh *s, kiln_error **err, int code, const char *fmt, ...)
{
        kiln_autofree char *what = NULL;
        char *msg = NULL;
        int len = 0, rc = 0;
        va_list ap;

        rc = libssh2_session_last_error(s->session, &msg, &len, 0);
        va_start(ap, fmt);
        what = kiln_xvasprintf(fmt, ap);
        va_end(ap);
        if (msg && len > 0)
                return kiln_error_set(err, code, NULL, "%s: %.*s", what, len, msg);
        return kiln_error_set(err, code, NULL, "%s (libssh2 error %d)", what, rc);
}

static void ssh_mark_broken(kiln_ssh *s, const char *why)
{
        if (!s->broken) {
                s->broken = kiln_xstrdup(why);
                kiln_log(KILN_LOG_DEBUG, "ssh: session to %s is unusable: %s", s->where, why);
        }
}

/* Errors of the channel alone leave the session usable; any other failure (the socket, the
 * protocol, a half-sent packet) ends it. */
static bool ssh_rc_ends_session(int rc)
{
        switch (rc) {
        case LIBSSH2_ERROR_CHANNEL_OUTOFORDER:
        case LIBSSH2_ERROR_CHANNEL_FAILURE:
        case LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED:
        case LIBSSH2_ERROR_CHANNEL_UNKNOWN:
        case LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED:
        case LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED:
        case LIBSSH2_ERROR_CHANNEL_CLOSED:
        case LIBSSH2_ERROR_CHANNEL_EOF_SENT:
                return false;
        default:
                return true;
        }
}

/* ssh_lib_error for a failure on an established session, marking the session failed if the
 * error ends it. */
static int ssh_call_error(kiln_ssh *s, int rc, kiln_error **err, const char *what)
{
        ssh_lib_error(s, err, KILN_E_SSH, "%s on %s", what, s->where);
        if (ssh_rc_ends_session(rc))
                ssh_mark_broken(s, err && *err ? (*err)->msg : what);
        return -1;
}

static int ssh_usable(kiln_ssh *s, kiln_error **err)
{
        if (s->broken)
                return kiln_error_set(err, KILN_E_SSH, NULL,
                                      "the SSH session to %s is unusable: %s", s->where, s->broken);
        return 0;
}

/* Waits until the socket is ready in the direction libssh2 last blocked on, or the deadline
 * passes (KILN_E_TIMEOUT "timed out DOING WHERE"). err may be NULL. */
static int ssh_wait(kiln_ssh *s, uint64_t deadline, const char *doing, kiln_error **err)
{
        int dirs = libssh2_session_block_directions(s->session);
        struct pollfd pfd = {.fd = s->fd};
        int r = 0;

        if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND)
                pfd.events |= POLLIN;
        if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
                pfd.events |= POLLOUT;
        if (!pfd.events)
                pfd.events = POLLIN; /* nothing pending on our side: the server has to speak */
        if (kiln_now_ms() < deadline) {
                r = poll(&pfd, 1, kiln_poll_ms(deadline));
                if (r < 0 && errno != EINTR)
                        return kiln_error_set_errno(err, errno, KILN_E_IO, "poll");
        }
        if (r <= 0 && kiln_now_ms() >= deadline)
                return kiln_error_set(err, KILN_E_TIMEOUT, NULL, "timed out %s %s", doing,
                                      s->where);
        return 0;
}

/* ---- connecting ---- */

static int ssh_target_check(const ssh_target *t, kiln_error **err)
{
        if (!t->host || !*t->host)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "no SSH host given");
        for (const char *p = t->host; *p; p++)
                if ((unsigned char) *p <= 0x20 || *p == 0x7f)
                        return kiln_error_set(err, KILN_E_INVALID, NULL,
                                              "invalid SSH host name '%s'", t->host);
        if (t->port < 1 || t->port > 65535)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "invalid SSH port %d", t->port);
        if (!t->user || !*t->user)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "no SSH user given");
        if (!t->private_key_path || !*t->private_key_path)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "no SSH private key given");
        if (!t->pinned_host_key || !*t->pinned_host_key)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "no pinned host key for %s: kiln does not trust a host key "
                                      "on first use",
                                      t->host);
        return 0;
}

/* Key material in memory, wiped before it is freed. */
typedef struct ssh_secret {
        char *data;
        size_t len;
} ssh_secret;

static void ssh_secret_clear(ssh_secret *k)
{
        if (k->data) {
                explicit_bzero(k->data, k->len);
                free(k->data);
        }
        k->data = NULL;
        k->len = 0;
}

/* Reads the private key file into one NUL-terminated allocation, so that no copy is left
 * behind in freed memory. */
static int ssh_key_read(const char *path, ssh_secret *ret, kiln_error **err)
{
        kiln_autoclose int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        __attribute__((cleanup(ssh_secret_clear))) ssh_secret k = {0};
        struct stat st;

        if (fd < 0)
                return kiln_error_set_errno(err, errno,
                                            errno == ENOENT ? KILN_E_NOT_FOUND : KILN_E_IO,
                                            "cannot open SSH private key '%s'", path);
        if (fstat(fd, &st) < 0)
                return kiln_error_set_errno(err, errno, KILN_E_IO,
                                            "cannot read SSH private key '%s'", path);
        if (S_ISDIR(st.st_mode))
                return kiln_error_set_errno(err, EISDIR, KILN_E_IO,
                                            "cannot read SSH private key '%s'", path);
        if (!S_ISREG(st.st_mode) || (size_t) st.st_size > SSH_KEY_MAX)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "SSH private key '%s' is not a regular file of at most %zu "
                                      "bytes",
                                      path, SSH_KEY_MAX);
        k.len = (size_t) st.st_size + 1;
        k.data = kiln_xcalloc(1, k.len);
        for (size_t got = 0; got < k.len - 1;) {
                ssize_t n = read(fd, k.data + got, k.len - 1 - got);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return kiln_error_set_errno(err, errno, KILN_E_IO,
                                                    "cannot read SSH private key '%s'", path);
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        *ret = k;
        k.data = NULL;
        return 0;
}

/* The SSH string at *p (*n bytes left): its start and length; advances past it. */
static bool ssh_blob_string(const unsigned char **p, size_t *n, const unsigned char **ret,
                            size_t *ret_len)
{
        uint32_t len = 0;

        if (*n < 4)
                return false;
        len = (uint32_t) (*p)[0] << 24 | (uint32_t) (*p)[1] << 16 | (uint32_t) (*p)[2] << 8 |
              (*p)[3];
        if (*n - 4 < len)
                return false;
        *ret = *p + 4;
        *ret_len = len;
        *p += 4 + (size_t) len;
        *n -= 4 + (size_t) len;
        return true;
}

/* The key type an OpenSSH-format private key names, after checking that the key is not
 * encrypted. The body holds the private key: it is decoded into memory that is wiped. */
static int ssh_key_openssh_type(const char *body, size_t body_len, const char *path,
                                char **ret_type, kiln_error **err)
{
        static const char magic[] = "openssh-key-v1"; /* with its NUL */
        __attribute__((cleanup(ssh_secret_clear))) ssh_secret b64 = {0};
        __attribute__((cleanup(ssh_secret_clear))) ssh_secret raw = {0};
        const unsigned char *p = NULL, *cipher = NULL, *skip = NULL, *pub = NULL, *type = NULL;
        size_t n = 0, cipher_len = 0, skip_len = 0, pub_len = 0, type_len = 0;
        bool ok = false;

        b64.len = body_len + 1;
        b64.data = kiln_xcalloc(1, b64.len);
        for (size_t i = 0; i < body_len; i++)
                if (!isspace((unsigned char) body[i]))
                        b64.data[n++] = body[i];
        raw.data = (char *) kiln_base64_decode(b64.data, n, false, &raw.len);
        if (raw.data && raw.len >= sizeof(magic) && memcmp(raw.data, magic, sizeof(magic)) == 0) {
                p = (const unsigned char *) raw.data + sizeof(magic);
                n = raw.len - sizeof(magic);
                /* cipher, KDF name, KDF options, number of keys, first public key */
                ok = ssh_blob_string(&p, &n, &cipher, &cipher_len) &&
                     ssh_blob_string(&p, &n, &skip, &skip_len) &&
                     ssh_blob_string(&p, &n, &skip, &skip_len) && n >= 4;
                if (ok) {
                        p += 4;
                        n -= 4;
                        ok = ssh_blob_string(&p, &n, &pub, &pub_len) &&
                             ssh_blob_string(&pub, &pub_len, &type, &type_len);
                }
        }
        if (!ok)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "SSH private key '%s' is not a valid OpenSSH key", path);
        if (cipher_len != 4 || memcmp(cipher, "none", 4) != 0)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "SSH private key '%s' is encrypted; kiln needs an "
                                      "unencrypted key",
                                      path);
        *ret_type = kiln_xstrndup((const char *) type, type_len);
        return 0;
}

/* Checks, before anything goes on the network, that the file holds an unencrypted private key,
 * and finds its type where the format names it ("ssh-rsa", "ssh-ed25519", ...; "" for PKCS#8,
 * which libssh2 reads too). */
static int ssh_key_check(const ssh_secret *key, const char *path, char **ret_type, kiln_error **err)
{
        static const char openssh[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
        const char *begin = key->data ? strstr(key->data, "-----BEGIN ") : NULL;
        const char *end = NULL;

        if (!begin || !strstr(begin, "PRIVATE KEY-----"))
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "SSH private key '%s' holds no private key", path);
        if (strstr(key->data, "ENCRYPTED"))
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "SSH private key '%s' is encrypted; kiln needs an "
                                      "unencrypted key",
                                      path);
        if (strncmp(begin, openssh, strlen(openssh)) == 0) {
                begin += strlen(openssh);
                end = strstr(begin, "-----END");
                if (!end)
                        return kiln_error_set(err, KILN_E_INVALID, NULL,
                                              "SSH private key '%s' is truncated", path);
                return ssh_key_openssh_type(begin, (size_t) (end - begin), path, ret_type, err);
        }
        if (strncmp(begin, "-----BEGIN RSA ", 15) == 0)
                *ret_type = kiln_xstrdup("ssh-rsa");
        else if (strncmp(begin, "-----BEGIN EC ", 14) == 0)
                *ret_type = kiln_xstrdup("ecdsa");
        else
                *ret_type = kiln_xstrdup("");
        return 0;
}

static int ssh_check_host_key(kiln_ssh *s, const unsigned char *pinned, size_t pinned_len,
                              kiln_error **err)
{
        kiln_autofree char *want = NULL, *got = NULL;
        const char *key = NULL;
        size_t len = 0;
        int type = 0;

        key = libssh2_session_hostkey(s->session, &len, &type);
        if (!key || len == 0)
                return ssh_lib_error(s, err, KILN_E_SSH, "%s presented no host key", s->where);
        if (len == pinned_len && memcmp(key, pinned, len) == 0) {
                kiln_log(KILN_LOG_DEBUG, "ssh: %s presented the pinned host key", s->where);
                return 0;
        }
        want = ssh_blob_fingerprint(pinned, pinned_len, err);
        got = want ? ssh_blob_fingerprint((const unsigned char *) key, len, err) : NULL;
        if (!got)
                return -1;
        kiln_error_set(err, KILN_E_SSH, NULL, "host key mismatch for %s: expected %s got %s",
                       s->where, want, got);
        return kiln_error_set_reason(err, KILN_R_HOST_KEY_MISMATCH);
}

static char *ssh_where_new(const char *host, int port)
{
        if (strchr(host, ':'))
                return kiln_xasprintf("[%s]:%d", host, port);
        return kiln_xasprintf("%s:%d", host, port);
}

/* The host key algorithms of WANTED (comma-separated) that this libssh2 implements. 1.10's
 * libssh2_session_method_pref() drops unknown names itself, but with an overlapping memcpy
 * (ASan aborts on it), so it is only ever given names it knows. */
static char *ssh_hostkey_methods_supported(kiln_ssh *s, const char *wanted, kiln_error **err)
{
        kiln_autofree char *copy = kiln_xstrdup(wanted);
        const char **algs = NULL;
        char *save = NULL;
        kiln_buf b = {0};
        int n = libssh2_session_supported_algs(s->session, LIBSSH2_METHOD_HOSTKEY, &algs);

        if (n < 0) {
                ssh_lib_error(s, err, KILN_E_INTERNAL, "cannot list libssh2's host key algorithms");
                return NULL;
        }
        for (char *m = strtok_r(copy, ",", &save); m; m = strtok_r(NULL, ",", &save))
                for (int i = 0; i < n; i++)
                        if (algs[i] && strcmp(algs[i], m) == 0) {
                                if (b.len)
                                        kiln_buf_append(&b, ",", 1);
                                kiln_buf_append(&b, m, strlen(m));
                        }
        libssh2_free(s->session, (void *) algs);
        if (!b.len) {
                kiln_error_set(err, KILN_E_UNSUPPORTED, NULL,
                               "libssh2 %s implements none of the host key algorithms %s",
                               LIBSSH2_VERSION, wanted);
                return NULL;
        }
        return kiln_buf_steal(&b);
}

static int ssh_handshake(kiln_ssh *s, const char *key_type, uint64_t deadline, kiln_error **err)
{
        kiln_autofree char *methods = NULL;
        int rc = 0;

        assert(ssh_hostkey_methods(key_type));
        s->session = libssh2_session_init();
        if (!s->session)
                return kiln_error_set(err, KILN_E_INTERNAL, NULL, "cannot create an SSH session");
        libssh2_session_set_blocking(s->session, 0);
        methods = ssh_hostkey_methods_supported(s, ssh_hostkey_methods(key_type), err);
        if (!methods)
                return -1;
        rc = libssh2_session_method_pref(s->session, LIBSSH2_METHOD_HOSTKEY, methods);
        if (rc < 0)
                return ssh_lib_error(s, err, KILN_E_SSH, "cannot offer host key algorithms '%s'",
                                     methods);
        for (;;) {
                rc = libssh2_session_handshake(s->session, s->fd);
                if (rc != LIBSSH2_ERROR_EAGAIN)
                        break;
                if (ssh_wait(s, deadline, "during the SSH handshake with", err) < 0)
                        return -1;
        }
        if (rc == LIBSSH2_ERROR_KEX_FAILURE && strcmp(key_type, "ssh-rsa") == 0)
                return ssh_lib_error(s, err, KILN_E_SSH,
                                     "SSH handshake with %s failed (does it have a %s host key? "
                                     "libssh2 1.10 verifies RSA host keys only with ssh-rsa "
                                     "(SHA-1) signatures, which OpenSSH 8.8 and later do not "
                                     "offer by default)",
                                     s->where, key_type);
        if (rc == LIBSSH2_ERROR_KEX_FAILURE)
                return ssh_lib_error(s, err, KILN_E_SSH,
                                     "SSH handshake with %s failed (does it have a %s host key?)",
                                     s->where, key_type);
        if (rc < 0)
                return ssh_lib_error(s, err, KILN_E_SSH, "SSH handshake with %s failed", s->where);
        s->handshaken = true;
        return 0;
}

static int ssh_authenticate(kiln_ssh *s, const ssh_target *t, const ssh_secret *key,
                            const char *key_type, uint64_t deadline, kiln_error **err)
{
        int rc = 0;

        for (;;) {
                rc = libssh2_userauth_publickey_frommemory(s->session, t->user, strlen(t->user),
                                                           NULL, 0, key->data, key->len, "");
                if (rc != LIBSSH2_ERROR_EAGAIN)
                        break;
                if (ssh_wait(s, deadline, "authenticating to", err) < 0)
                        return -1;
        }
        if (rc == LIBSSH2_ERROR_FILE)
                return ssh_lib_error(s, err, KILN_E_INVALID, "cannot use private key '%s'",
                                     t->private_key_path);
        if (rc < 0 && key_type && strcmp(key_type, "ssh-rsa") == 0)
                return ssh_lib_error(s, err, KILN_E_SSH,
                                     "authentication as '%s' to %s with key '%s' failed (an RSA "
                                     "key: libssh2 1.10 signs only with ssh-rsa (SHA-1), which "
                                     "OpenSSH 8.8 and later refuse unless PubkeyAcceptedAlgorithms "
                                     "allows it; an ed25519 key works everywhere)",
                                     t->user, s->where, t->private_key_path);
        if (rc < 0)
                return ssh_lib_error(s, err, KILN_E_SSH,
                                     "authentication as '%s' to %s with key '%s' failed", t->user,
                                     s->where, t->private_key_path);
        return 0;
}

/* ---- through a jump host ---- */

/* A direct-tcpip channel of the jump host's session, pumped to one end of a socket pair whose
 * other end is the inner session's socket. The pump runs on a thread of its own, which alone
 * uses the jump session from then on; ssh_tunnel_close stops it and frees both. */
struct ssh_tunnel {
        kiln_ssh *jump;
        LIBSSH2_CHANNEL *channel;
        int fd; /* the pump's end of the pair */
        pthread_t thread;
        atomic_bool stop;
};

/* One buffer of bytes on their way. */
typedef struct ssh_pipe {
        char data[SSH_READ_CHUNK];
        size_t len, off;
        bool eof; /* the source has ended */
} ssh_pipe;

static bool ssh_pipe_empty(const ssh_pipe *p)
{
        return p->off == p->len;
}

static void ssh_pipe_took(ssh_pipe *p, ssize_t n)
{
        p->off += (size_t) n;
        if (p->off == p->len)
                p->off = p->len = 0;
}

/* One round: moves what can move without waiting. -1 when the tunnel is over (either side
 * failed, or the inner session closed its end). */
static int ssh_tunnel_step(ssh_tunnel *t, ssh_pipe *down, ssh_pipe *up, bool *progress)
{
        ssize_t n;

        if (ssh_pipe_empty(down) && !down->eof) {
                n = libssh2_channel_read(t->channel, down->data, sizeof(down->data));
                if (n > 0) {
                        down->len = (size_t) n;
                        *progress = true;
                } else if (n == 0 || libssh2_channel_eof(t->channel)) {
                        down->eof = libssh2_channel_eof(t->channel) != 0;
                        if (down->eof)
                                (void) shutdown(t->fd, SHUT_WR);
                } else if (n != LIBSSH2_ERROR_EAGAIN) {
                        return -1;
                }
        }
        if (!ssh_pipe_empty(down)) {
                n = send(t->fd, down->data + down->off, down->len - down->off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0) {
                        ssh_pipe_took(down, n);
                        *progress = true;
                } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                        return -1;
                }
        }
        if (ssh_pipe_empty(up) && !up->eof) {
                n = recv(t->fd, up->data, sizeof(up->data), MSG_DONTWAIT);
                if (n > 0) {
                        up->len = (size_t) n;
                        *progress = true;
                } else if (n == 0) {
                        up->eof = true;
                } else if (errno != EAGAIN && errno != EINTR) {
                        return -1;
                }
        }
        if (!ssh_pipe_empty(up)) {
                n = libssh2_channel_write(t->channel, up->data + up->off, up->len - up->off);
                if (n > 0) {
                        ssh_pipe_took(up, n);
                        *progress = true;
                } else if (n != LIBSSH2_ERROR_EAGAIN) {
                        return -1;
                }
        }
        return up->eof && ssh_pipe_empty(up) ? -1 : 0;
}

static void *ssh_tunnel_run(void *arg)
{
        ssh_tunnel *t = arg;
        ssh_pipe *down = kiln_xcalloc(1, sizeof(*down)), *up = kiln_xcalloc(1, sizeof(*up));

        while (!atomic_load(&t->stop)) {
                bool progress = false;
                int dirs;
                struct pollfd pfd[2] = {{.fd = t->jump->fd, .events = POLLIN},
                                        {.fd = t->fd, .events = 0}};

                if (ssh_tunnel_step(t, down, up, &progress) < 0)
                        break;
                if (progress)
                        continue;
                dirs = libssh2_session_block_directions(t->jump->session);
                if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
                        pfd[0].events |= POLLOUT;
                if (ssh_pipe_empty(up) && !up->eof)
                        pfd[1].events |= POLLIN;
                if (!ssh_pipe_empty(down))
                        pfd[1].events |= POLLOUT;
                (void) poll(pfd, 2, 100);
        }
        /* The inner session sees its connection end. */
        (void) shutdown(t->fd, SHUT_RDWR);
        free(down);
        free(up);
        return NULL;
}

static void ssh_tunnel_close(ssh_tunnel *t)
{
        uint64_t grace = kiln_now_ms() + SSH_GRACE_MS;

        if (!t)
                return;
        atomic_store(&t->stop, true);
        pthread_join(t->thread, NULL);
        while (libssh2_channel_free(t->channel) == LIBSSH2_ERROR_EAGAIN)
                if (ssh_wait(t->jump, grace, "closing the tunnel through", NULL) < 0)
                        break;
        ssh_free(t->jump);
        close(t->fd);
        free(t);
}

/* Connects to the jump host, opens a channel from it to t->host:t->port, and hands back the
 * socket the inner session is to speak on. */
static int ssh_tunnel_open(const ssh_target *t, uint64_t deadline, ssh_tunnel **ret, int *ret_fd,
                           kiln_error **err)
{
        kiln_autoptr(kiln_ssh) jump = NULL;
        LIBSSH2_CHANNEL *ch;
        ssh_tunnel *tun;
        int sp[2];

        if (ssh_connect(t->jump, deadline, &jump, err) < 0 || !jump) {
                kiln_error_prefix(err, "the jump host");
                return -1;
        }
        for (;;) {
                ch = libssh2_channel_direct_tcpip_ex(jump->session, t->host, t->port, "127.0.0.1",
                                                     22);
                if (ch)
                        break;
                if (libssh2_session_last_errno(jump->session) != LIBSSH2_ERROR_EAGAIN)
                        return ssh_lib_error(jump, err, KILN_E_SSH,
                                             "the jump host %s cannot connect to %s:%d",
                                             jump->where, t->host, t->port);
                if (ssh_wait(jump, deadline, "opening a tunnel through", err) < 0)
                        return -1;
        }
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sp) < 0) {
                int e = errno;

                while (libssh2_channel_free(ch) == LIBSSH2_ERROR_EAGAIN)
                        (void) poll(NULL, 0, 10);
                return kiln_error_set_errno(err, e, KILN_E_IO, "socketpair");
        }
        tun = kiln_xcalloc(1, sizeof(*tun));
        tun->jump = kiln_steal(&jump);
        tun->channel = ch;
        tun->fd = sp[0];
        atomic_init(&tun->stop, false);
        if (pthread_create(&tun->thread, NULL, ssh_tunnel_run, tun) != 0) {
                close(sp[1]);
                tun->thread = pthread_self();
                atomic_store(&tun->stop, true);
                while (libssh2_channel_free(ch) == LIBSSH2_ERROR_EAGAIN)
                        (void) poll(NULL, 0, 10);
                ssh_free(tun->jump);
                close(sp[0]);
                free(tun);
                return kiln_error_set(err, KILN_E_INTERNAL, NULL, "cannot start a thread");
        }
        *ret = tun;
        *ret_fd = sp[1];
        return 0;
}

int ssh_connect(const ssh_target *t, uint64_t deadline_ms, kiln_ssh **ret, kiln_error **err)
{
        kiln_autoptr(kiln_ssh) s = NULL;
        __attribute__((cleanup(ssh_secret_clear))) ssh_secret key = {0};
        kiln_autofree unsigned char *pinned = NULL;
        kiln_autofree char *host_key_type = NULL, *user_key_type = NULL;
        size_t pinned_len = 0;

        assert(t && ret);
        if (ssh_target_check(t, err) < 0)
                return -1;
        if (ssh_pubkey_parse(t->pinned_host_key, &host_key_type, &pinned, &pinned_len, err) < 0) {
                kiln_error_prefix(err, "pinned host key for %s", t->host);
                return -1;
        }
        if (!ssh_hostkey_methods(host_key_type))
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "pinned host key for %s: type '%s' is not supported", t->host,
                                      host_key_type);
        if (ssh_key_read(t->private_key_path, &key, err) < 0 ||
            ssh_key_check(&key, t->private_key_path, &user_key_type, err) < 0)
                return -1;
        s = kiln_xcalloc(1, sizeof(*s));
        s->fd = -1;
        s->where = ssh_where_new(t->host, t->port);
        if (t->jump) {
                kiln_autofree char *jump = ssh_where_new(t->jump->host, t->jump->port);
                char *where = kiln_xasprintf("%s through %s", s->where, jump);

                free(s->where);
                s->where = where;
        }
        kiln_log(KILN_LOG_DEBUG, "ssh: connecting to %s as '%s'", s->where, t->user);
        if (t->jump && ssh_tunnel_open(t, deadline_ms, &s->tunnel, &s->fd, err) < 0)
                return -1;
        if (!t->jump &&
            kiln_tcp_connect(t->host, t->port, s->where, deadline_ms, KILN_E_SSH, &s->fd, err) < 0)
                return -1;
        if (ssh_handshake(s, host_key_type, deadline_ms, err) < 0)
                return -1;
        /* Before anything of ours is sent: a server that is not the one we launched learns
         * nothing, not even the user name. */
        if (ssh_check_host_key(s, pinned, pinned_len, err) < 0)
                return -1;
        if (ssh_authenticate(s, t, &key, user_key_type, deadline_ms, err) < 0)
                return -1;
        kiln_log(KILN_LOG_DEBUG, "ssh: authenticated to %s as '%s'", s->where, t->user);
        *ret = kiln_steal(&s);
        return 0;
}

kiln_ssh *ssh_free(kiln_ssh *s)
{
        if (!s)
                return NULL;
        if (s->session) {
                uint64_t grace = kiln_now_ms() + SSH_GRACE_MS;
                int rc = 0;

                while (s->handshaken && !s->broken) {
                        rc = libssh2_session_disconnect(s->session, "kiln: done");
                        if (rc != LIBSSH2_ERROR_EAGAIN ||
                            ssh_wait(s, grace, "disconnecting from", NULL) < 0)
                                break;
                }
                /* With the socket shut, freeing cannot wait on the server (it would try to close
                 * channels a failed session still holds). */
                if (s->fd >= 0)
                        (void) shutdown(s->fd, SHUT_RDWR);
                for (int i = 0; i < 100; i++) {
                        rc = libssh2_session_free(s->session);
                        if (rc != LIBSSH2_ERROR_EAGAIN)
                                break;
                        (void) poll(NULL, 0, 10);
                }
                if (rc != 0)
                        kiln_log(KILN_LOG_DEBUG, "ssh: cannot free the session to %s (%d)",
                                 s->where, rc);
        }
        if (s->fd >= 0)
                close(s->fd);
        ssh_tunnel_close(s->tunnel);
        free(s->where);
        free(s->broken);
        free(s);
        return NULL;
}

/* ---- running commands ---- */

/* The calls on a command's channel, as far as one can return EAGAIN halfway through sending a
 * packet and must then be repeated before anything else is called. */
typedef enum {
        SSH_OP_NONE,
        SSH_OP_EXEC,
        SSH_OP_WRITE,
        SSH_OP_EOF,
        SSH_OP_READ_OUT,
        SSH_OP_READ_ERR,
        SSH_OP_CLOSE
} ssh_op;

typedef struct ssh_run {
        kiln_ssh *s;
        LIBSSH2_CHANNEL *ch;
        uint64_t deadline;
        const char *in;
        size_t in_len;
        size_t in_off;
        bool eof_sent;
        ssh_output_fn out[2];
        void *userdata;
        char *buf;    /* SSH_READ_CHUNK bytes */
        ssh_op stuck; /* returned EAGAIN with a packet half sent: only it may be called next */
} ssh_run;

static bool ssh_sending(kiln_ssh *s)
{
        return (libssh2_session_block_directions(s->session) & LIBSSH2_SESSION_BLOCK_OUTBOUND) != 0;
}

static int ssh_channel_open(kiln_ssh *s, uint64_t deadline, LIBSSH2_CHANNEL **ret, kiln_error **err)
{
        LIBSSH2_CHANNEL *ch = NULL;
        int rc = 0;

        for (;;) {
                ch = libssh2_channel_open_session(s->session);
                if (ch)
                        break;
                rc = libssh2_session_last_errno(s->session);
                if (rc != LIBSSH2_ERROR_EAGAIN)
                        return ssh_call_error(s, rc, err, "cannot open a channel");
                if (ssh_wait(s, deadline, "opening a channel on", err) < 0) {
                        /* libssh2 keeps the half-open channel in the session, where the next
                         * open would pick it up. */
                        ssh_mark_broken(s, "a channel open timed out");
                        return -1;
                }
        }
        *ret = ch;
        return 0;
}

static int ssh_run_start(ssh_run *r, const char *command, kiln_error **err)
{
        int rc = 0;

        for (;;) {
                rc = libssh2_channel_exec(r->ch, command);
                if (rc != LIBSSH2_ERROR_EAGAIN)
                        break;
                r->stuck = ssh_sending(r->s) ? SSH_OP_EXEC : SSH_OP_NONE;
                if (ssh_wait(r->s, r->deadline, "starting a command on", err) < 0)
                        return -1;
        }
        r->stuck = SSH_OP_NONE;
        if (rc < 0)
                return ssh_call_error(r->s, rc, err, "cannot start the command");
        return 0;
}

/* One attempt of OP. Returns 1 if it moved data, 0 if it would block (or read nothing), -1 on
 * error. Sets r->stuck if it blocked with a packet half sent. */
static int ssh_run_step(ssh_run *r, ssh_op op, kiln_error **err)
{
        ssize_t n = 0;
        int stream = op == SSH_OP_READ_ERR ? SSH_EXTENDED_DATA_STDERR : 0;

        switch (op) {
        case SSH_OP_WRITE:
                n = libssh2_channel_write_ex(r->ch, 0, r->in + r->in_off, r->in_len - r->in_off);
                break;
        case SSH_OP_EOF:
                n = libssh2_channel_send_eof(r->ch);
                break;
        case SSH_OP_READ_OUT:
        case SSH_OP_READ_ERR:
                n = libssh2_channel_read_ex(r->ch, stream, r->buf, SSH_READ_CHUNK);
                break;
        case SSH_OP_NONE:
        case SSH_OP_EXEC:
        case SSH_OP_CLOSE:
                return 0;
        }
        if (n == LIBSSH2_ERROR_EAGAIN) {
                r->stuck = ssh_sending(r->s) ? op : SSH_OP_NONE;
                return 0;
        }
        r->stuck = SSH_OP_NONE;
        if (n < 0)
                return ssh_call_error(r->s, (int) n, err,
                                      op == SSH_OP_WRITE ? "cannot send a command's input"
                                      : op == SSH_OP_EOF ? "cannot end a command's input"
                                                         : "cannot read a command's output");
        switch (op) {
        case SSH_OP_WRITE:
                r->in_off += (size_t) n;
                return n > 0;
        case SSH_OP_EOF:
                r->eof_sent = true;
                return 1;
        default:
                if (n > 0 && r->out[stream ? 1 : 0])
                        r->out[stream ? 1 : 0](r->buf, (size_t) n, r->userdata);
                return n > 0;
        }
}

/* What to do next about the command's input: send more, send EOF, or nothing. */
static ssh_op ssh_run_input_op(ssh_run *r)
{
        if (r->in_off < r->in_len && libssh2_channel_eof(r->ch)) {
                /* The command closed its output: it reads no more input either (the server
                 * would stop widening our window and we would wait for nothing). */
                kiln_log(KILN_LOG_DEBUG, "ssh: %zu bytes of input not read by the command",
                         r->in_len - r->in_off);
                r->in_off = r->in_len;
        }
        if (r->in_off < r->in_len)
                return SSH_OP_WRITE;
        return r->eof_sent ? SSH_OP_NONE : SSH_OP_EOF;
}

/* Whether libssh2 holds data for the channel already: a read of one stream drains the socket
 * and queues what came for the other, which poll() then cannot see. */
static bool ssh_run_queued(ssh_run *r)
{
        unsigned long avail = 0;

        libssh2_channel_window_read_ex(r->ch, &avail, NULL);
        return avail > 0;
}

/* Feeds the input and reads both outputs until the server's end-of-file. */
static int ssh_run_io(ssh_run *r, kiln_error **err)
{
        bool retried = false;

        for (;;) {
                int moved = 0;

                /* A command that always has output ready would never make us wait. */
                if (kiln_now_ms() >= r->deadline)
                        return kiln_error_set(err, KILN_E_TIMEOUT, NULL,
                                              "timed out running a command on %s", r->s->where);
                if (r->stuck != SSH_OP_NONE) {
                        moved = ssh_run_step(r, r->stuck, err);
                        if (moved < 0)
                                return -1;
                }
                /* Reads first: what they see decides what happens to the input. */
                for (int i = 0; i < 3 && r->stuck == SSH_OP_NONE; i++) {
                        ssh_op op = i == 0   ? SSH_OP_READ_OUT
                                    : i == 1 ? SSH_OP_READ_ERR
                                             : ssh_run_input_op(r);
                        int m = ssh_run_step(r, op, err);

                        if (m < 0)
                                return -1;
                        moved |= m;
                }
                if (moved) {
                        retried = false;
                        continue;
                }
                /* Once, not forever: data of a stream we do not read would stay queued. */
                if (r->stuck == SSH_OP_NONE && !retried && ssh_run_queued(r)) {
                        retried = true;
                        continue;
                }
                retried = false;
                if (r->stuck == SSH_OP_NONE && libssh2_channel_eof(r->ch)) {
                        if (r->eof_sent)
                                return 0;
                        continue; /* the server's EOF came in the last write: drop the rest */
                }
                if (ssh_wait(r->s, r->deadline, "running a command on", err) < 0)
                        return -1;
        }
}

/* Exit status, or 128 + the signal's number (128 if the name is unknown here). */
static int ssh_run_exit_status(ssh_run *r)
{
        kiln_autofree char *name = NULL;
        const char *n = NULL;
        char *sig = NULL;
        size_t sig_len = 0;
        int status = libssh2_channel_get_exit_status(r->ch);

        libssh2_channel_get_exit_signal(r->ch, &sig, &sig_len, NULL, NULL, NULL, NULL);
        if (!sig)
                return status;
        name = kiln_xstrndup(sig, sig_len);
        libssh2_free(r->s->session, sig);
        /* RFC 4254 names signals without "SIG"; OpenSSH sends others as NAME@openssh.com. */
        name[strcspn(name, "@")] = '\0';
        n = strncmp(name, "SIG", 3) == 0 ? name + 3 : name;
        status = 128;
        for (int i = 1; i < NSIG; i++) {
                const char *abbrev = sigabbrev_np(i);

                if (abbrev && strcmp(abbrev, n) == 0)
                        status = 128 + i;
        }
        kiln_log(KILN_LOG_DEBUG, "ssh: the command was killed by signal '%s'", name);
        return status;
}

/* Waits for the server to close the channel (its exit status comes before that), then frees
 * it. */
static int ssh_run_finish(ssh_run *r, int *ret_status, kiln_error **err)
{
        int rc = 0, status = 0;

        for (;;) {
                rc = libssh2_channel_close(r->ch);
                if (rc != LIBSSH2_ERROR_EAGAIN)
                        break;
                r->stuck = ssh_sending(r->s) ? SSH_OP_CLOSE : SSH_OP_NONE;
                if (ssh_wait(r->s, r->deadline, "closing a channel on", err) < 0)
                        return -1;
        }
        r->stuck = SSH_OP_NONE;
        if (rc < 0)
                return ssh_call_error(r->s, rc, err, "cannot close a channel");
        for (;;) {
                rc = libssh2_channel_wait_closed(r->ch);
                if (rc != LIBSSH2_ERROR_EAGAIN)
                        break;
                if (ssh_wait(r->s, r->deadline, "closing a channel on", err) < 0)
                        return -1;
        }
        if (rc < 0)
                return ssh_call_error(r->s, rc, err, "cannot close a channel");
        status = ssh_run_exit_status(r);
        for (;;) {
                rc = libssh2_channel_free(r->ch);
                if (rc != LIBSSH2_ERROR_EAGAIN)
                        break;
                if (ssh_wait(r->s, r->deadline, "freeing a channel on", err) < 0)
                        return -1;
        }
        r->ch = NULL;
        *ret_status = status;
        return 0;
}

/* One attempt to close and free channel ch (of a failed command, or an abandoned one). Returns
 * 1 once it is freed, 0 if our close has left but the server's has not come (libssh2 frees a
 * channel only after that), -1 if the session failed (marked so). A close whose packet is half
 * sent is finished within grace. */
static int ssh_channel_retire(kiln_ssh *s, LIBSSH2_CHANNEL *ch, uint64_t grace)
{
        int rc = 0;

        for (;;) {
                rc = libssh2_channel_close(ch);
                if (rc != LIBSSH2_ERROR_EAGAIN)
                        break;
                if (!ssh_sending(s))
                        return 0;
                if (ssh_wait(s, grace, "closing a channel on", NULL) < 0) {
                        ssh_mark_broken(s, "a channel close could not be sent");
                        return -1;
                }
        }
        if (rc < 0 && ssh_rc_ends_session(rc)) {
                ssh_mark_broken(s, "a channel close failed");
                return -1;
        }
        /* Closed on our side: freeing sends nothing and does not wait. */
        rc = libssh2_channel_free(ch);
        if (rc < 0) {
                ssh_mark_broken(s, "a closed channel could not be freed");
                return -1;
        }
        return 1;
}

/* Frees the abandoned channels whose close the server has confirmed by now. A failed session
 * keeps them: libssh2_session_free frees them. */
static void ssh_reap(kiln_ssh *s)
{
        size_t kept = 0;

        for (size_t i = 0; i < s->n_abandoned; i++) {
                int r = -1;

                if (!s->broken)
                        r = ssh_channel_retire(s, s->abandoned[i], kiln_now_ms() + SSH_GRACE_MS);
                if (r <= 0)
                        s->abandoned[kept++] = s->abandoned[i];
        }
        s->n_abandoned = kept;
}

/* After a failure or a timeout: closes the channel; if the server does not confirm at once
 * (sshd waits for the command to end, and does not signal it), the channel joins the abandoned
 * ones. Marks the session failed if the close cannot be sent. Quiet: leaves *err alone. */
static void ssh_run_abort(ssh_run *r)
{
        kiln_ssh *s = r->s;
        int rc = 0;

        if (!r->ch || s->broken)
                return;
        /* Only the call that left a packet half sent may be called next; a close can be
         * repeated, anything else ends the session. */
        if (r->stuck != SSH_OP_NONE && r->stuck != SSH_OP_CLOSE) {
                ssh_mark_broken(s, "a command was abandoned with a packet half sent");
                return;
        }
        rc = ssh_channel_retire(s, r->ch, kiln_now_ms() + SSH_GRACE_MS);
        if (rc == 0) {
                if (s->n_abandoned == SSH_MAX_ABANDONED) {
                        ssh_mark_broken(s, "too many abandoned commands are still running");
                        return;
                }
                s->abandoned[s->n_abandoned++] = r->ch;
                kiln_log(KILN_LOG_DEBUG, "ssh: abandoned a command on %s (%zu still running)",
                         s->where, s->n_abandoned);
        }
        r->ch = NULL;
}

int ssh_exec(kiln_ssh *s, const char *command, const void *stdin_data, size_t stdin_len,
             uint64_t deadline_ms, ssh_output_fn on_stdout, ssh_output_fn on_stderr, void *userdata,
             int *ret_exit_status, kiln_error **err)
{
        kiln_autofree char *buf = NULL;
        ssh_run r = {0};
        int status = 0;

        assert(s && command && ret_exit_status);
        assert(stdin_data || stdin_len == 0);
        if (!*command)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "empty command for %s", s->where);
        ssh_reap(s);
        if (ssh_usable(s, err) < 0)
                return -1;
        buf = kiln_xmalloc(SSH_READ_CHUNK);
        r = (ssh_run){.s = s,
                      .deadline = deadline_ms,
                      .in = stdin_data,
                      .in_len = stdin_len,
                      .out = {on_stdout, on_stderr},
                      .userdata = userdata,
                      .buf = buf};
        kiln_log(KILN_LOG_DEBUG, "ssh: running a command on %s (%zu bytes of input)", s->where,
                 stdin_len);
        if (ssh_channel_open(s, deadline_ms, &r.ch, err) < 0)
                return -1;
        if (ssh_run_start(&r, command, err) < 0 || ssh_run_io(&r, err) < 0 ||
            ssh_run_finish(&r, &status, err) < 0) {
                ssh_run_abort(&r);
                return -1;
        }
        kiln_log(KILN_LOG_DEBUG, "ssh: the command on %s exited with status %d", s->where, status);
        *ret_exit_status = status;
        return 0;
}

typedef struct ssh_capture {
        kiln_buf out;
        kiln_buf err;
} ssh_capture;

static void ssh_capture_out(const char *data, size_t len, void *userdata)
{
        kiln_buf_append_tail(&((ssh_capture *) userdata)->out, data, len, SSH_CAPTURE_MAX);
}

static void ssh_capture_err(const char *data, size_t len, void *userdata)
{
        kiln_buf_append_tail(&((ssh_capture *) userdata)->err, data, len, SSH_CAPTURE_MAX);
}

int ssh_exec_capture(kiln_ssh *s, const char *command, uint64_t deadline_ms, char **ret_stdout,
                     char **ret_stderr, int *ret_exit_status, kiln_error **err)
{
        ssh_capture cap = {{0}, {0}};
        int status = 0;

        if (ssh_exec(s, command, NULL, 0, deadline_ms, ret_stdout ? ssh_capture_out : NULL,
                     ret_stderr ? ssh_capture_err : NULL, &cap, &status, err) < 0) {
                kiln_buf_clear(&cap.out);
                kiln_buf_clear(&cap.err);
                return -1;
        }
        kiln_buf_tail(&cap.out, SSH_CAPTURE_MAX);
        kiln_buf_tail(&cap.err, SSH_CAPTURE_MAX);
        if (ret_stdout)
                *ret_stdout = kiln_buf_steal(&cap.out);
        if (ret_stderr)
                *ret_stderr = kiln_buf_steal(&cap.err);
        *ret_exit_status = status;
        return 0;
}

/* ---- uploads ---- */

int ssh_upload(kiln_ssh *s, const char *remote_path, const void *data, size_t len, int mode,
               uint64_t deadline_ms, kiln_error **err)
{
        kiln_autofree char *path = NULL, *script = NULL, *quoted = NULL, *command = NULL;
        ssh_capture cap = {{0}, {0}};
        int status = 0;

        assert(s && (data || len == 0));
        if (!remote_path || !*remote_path)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "no remote path to upload to");
        if (mode < 0 || mode > 07777)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "invalid mode %#o for '%s' on %s",
                                      (unsigned) mode, remote_path, s->where);
        path = kiln_shell_quote(remote_path);
        /* The temporary file is created under umask 077, so no one else can read it before the
         * chmod, and renamed into place only once it holds every byte. */
        script = kiln_xasprintf(
                "if [ -d %s ]; then echo 'is a directory' >&2; exit 1; fi; "
                "umask 077 && t=%s.kiln-upload.$$ && cat >\"$t\" && n=$(wc -c <\"$t\") && "
                "if [ \"$n\" -ne %zu ]; then echo \"received $n of %zu bytes\" >&2; false; fi && "
                "chmod %04o \"$t\" && mv -f \"$t\" %s || { rm -f \"$t\"; exit 1; }",
                path, path, len, len, (unsigned) mode, path);
        quoted = kiln_shell_quote(script);
        command = kiln_xasprintf("sh -c %s", quoted);
        kiln_log(KILN_LOG_DEBUG, "ssh: uploading %zu bytes to '%s' on %s (mode %04o)", len,
                 remote_path, s->where, (unsigned) mode);
        if (ssh_exec(s, command, data, len, deadline_ms, NULL, ssh_capture_err, &cap, &status,
                     err) < 0) {
                kiln_buf_clear(&cap.err);
                kiln_error_prefix(err, "cannot upload to '%s'", remote_path);
                return -1;
        }
        if (status != 0) {
                kiln_autofree char *msg = kiln_buf_steal(&cap.err);
                size_t n = strlen(msg);

                while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
                        msg[--n] = '\0';
                return kiln_error_set(err, KILN_E_SSH, NULL,
                                      "cannot upload to '%s' on %s (exit status %d): %s",
                                      remote_path, s->where, status, n ? msg : "no message");
        }
        kiln_buf_clear(&cap.err);
        return 0;
}
