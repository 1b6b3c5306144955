/* The SSH adapter on libssh2: connects to a guest whose host key kiln injected (and therefore
 * knows in advance), runs commands and uploads files. Knows nothing of instances or the
 * registry.
 *
 * Deadlines: every call that talks to the network takes deadline_ms, an absolute time on
 * kiln_now_ms()'s monotonic clock (for example kiln_now_ms() + 30000). No call waits past it:
 * once it passes, the call fails with KILN_E_TIMEOUT. Name resolution (getaddrinfo) is the only
 * wait that cannot be bounded; an IP literal never waits there.
 *
 * Host keys are pinned: the server must present exactly the key given in ssh_target, or the
 * connection fails before any authentication is attempted. There is no prompt and no
 * trust-on-first-use. */
#ifndef KILN_SSH_H
#define KILN_SSH_H

#include <stddef.h>
#include <stdint.h>

#include <kiln/common.h>
#include <kiln/error.h>

typedef struct kiln_ssh kiln_ssh;

typedef struct ssh_target {
        const char *host;             /* IPv4/IPv6 literal ("127.0.0.1", "::1") or a name */
        int port;                     /* 1..65535 */
        const char *user;             /* the remote account */
        const char *private_key_path; /* OpenSSH or PEM private key, unencrypted: ed25519
                                         (or ECDSA); RSA only where the server accepts ssh-rsa
                                         (SHA-1) signatures, which OpenSSH 8.8+ does not by
                                         default: libssh2 1.10 has no rsa-sha2 */
        const char *pinned_host_key;  /* the server's public key line as kiln injected it,
                                         "ssh-ed25519 AAAA... comment": the only key accepted */
        /* NULL, or a host to reach host:port through (OpenSSH's ProxyJump): connected and
         * checked the same way, then a direct-tcpip channel from it carries this session. */
        const struct ssh_target *jump;
} ssh_target;

/* Connects to t->host:t->port: TCP (each address of the name in turn), SSH handshake, host key
 * check, then public key authentication as t->user with t->private_key_path.
 *
 * The private key file is read before anything goes on the network. Only host key algorithms
 * of the pinned key's type are offered, so a server that also has other host keys presents
 * the pinned one. If the server's key differs from t->pinned_host_key, the connection is
 * dropped without authenticating and the error says "host key mismatch for HOST:PORT:
 * expected SHA256:... got SHA256:...".
 *
 * Errors: KILN_E_INVALID for a bad target (missing field, port out of range, an unparsable
 * pinned key or a private key file that is not a usable key); KILN_E_NOT_FOUND or KILN_E_IO if
 * the private key file cannot be read; KILN_E_SSH for a refused or unreachable address, a
 * failed handshake, a host key mismatch or failed authentication (the message says which);
 * KILN_E_TIMEOUT when the deadline passes. *ret is untouched on failure. */
int ssh_connect(const ssh_target *t, uint64_t deadline_ms, kiln_ssh **ret, kiln_error **err);

/* Disconnects (waiting at most about a second for the goodbye to leave), frees the session,
 * with the channels of abandoned commands, and closes the socket. Never waits for the server
 * beyond that second. NULL-safe; returns NULL. */
kiln_ssh *ssh_free(kiln_ssh *s);

/* "HOST:PORT" ("[HOST]:PORT" for an IPv6 literal) of the server, as messages name it. */
const char *ssh_where(const kiln_ssh *s);

/* Receives a command's output as it arrives, in chunks of any size (never 0). */
typedef void (*ssh_output_fn)(const char *data, size_t len, void *userdata);

/* Runs COMMAND on the server (through the remote user's login shell, as `ssh host COMMAND`
 * does) without a terminal. stdin_data (stdin_len bytes; NULL if 0) is its standard input,
 * followed by end-of-file; input it has not read when it closes its output is dropped. stdout
 * and stderr are passed to on_stdout and on_stderr as they arrive (either may be NULL to
 * discard); both are read until the channel's end-of-file, so neither can stall the other.
 *
 * *ret_exit_status is the command's exit status, or 128 + the signal's number if a signal
 * killed it (128 if the server names a signal unknown here). A command that fails is not an
 * error of this call: look at the status.
 *
 * When the deadline passes the call fails with KILN_E_TIMEOUT and closes the channel on our
 * side. The remote process is not signalled (libssh2 1.10 has no channel_signal, and sshd does
 * not kill a command without a terminal when its channel closes): it runs until it exits, or
 * until its next write to its closed output fails. Until then sshd keeps the channel open (one
 * of its MaxSessions, 10 by default); the session keeps up to 8 such channels and frees each
 * once the server has closed it. The session stays usable after a timeout, except when the
 * deadline struck while a packet was half sent or while the channel was being opened, or when
 * 8 abandoned commands are still running: then it is marked failed and every later call on it
 * fails at once with KILN_E_SSH "... is unusable: WHY" (free it and connect again).
 *
 * Errors: KILN_E_SSH (the server refused the channel or the command, the connection broke, or
 * the session had already failed), KILN_E_TIMEOUT. The command text is not logged or put into
 * messages: it may carry secrets. */
int ssh_exec(kiln_ssh *s, const char *command, const void *stdin_data, size_t stdin_len,
             uint64_t deadline_ms, ssh_output_fn on_stdout, ssh_output_fn on_stderr, void *userdata,
             int *ret_exit_status, kiln_error **err);

/* ssh_exec without input, collecting stdout and stderr into NUL-terminated strings that the
 * caller frees (either ret_ pointer may be NULL to discard that stream). A guest can print
 * without end: each string keeps the last SSH_CAPTURE_MAX bytes of its stream. Output may
 * contain NUL bytes; the strings then end early. */
#define SSH_CAPTURE_MAX ((size_t) 64 * 1024)
int ssh_exec_capture(kiln_ssh *s, const char *command, uint64_t deadline_ms, char **ret_stdout,
                     char **ret_stderr, int *ret_exit_status, kiln_error **err);

/* Writes LEN bytes of DATA to REMOTE_PATH with permission bits MODE (0..07777, for example
 * 0755), by running a POSIX shell command with the data on its standard input: the bytes go to
 * a temporary file next to REMOTE_PATH (created under umask 077), whose size is checked against
 * LEN before chmod MODE and an atomic rename over REMOTE_PATH. A reader never sees a partial
 * file, and an upload that fails leaves no temporary file and the old file (if any) as it was.
 * The remote user owns the file; a symlink at REMOTE_PATH is replaced, not followed. The
 * server needs sh, cat, wc, chmod, mv and rm.
 *
 * Errors: KILN_E_INVALID (empty path, MODE out of range), KILN_E_SSH (the remote command failed,
 * for example a missing directory or no permission: the message carries its stderr),
 * KILN_E_TIMEOUT. */
int ssh_upload(kiln_ssh *s, const char *remote_path, const void *data, size_t len, int mode,
               uint64_t deadline_ms, kiln_error **err);

KILN_DEFINE_AUTOPTR(kiln_ssh, ssh_free)

/* The fingerprint of a public key line ("TYPE BASE64 [COMMENT]", as in a .pub file or
 * authorized_keys without options) as `ssh-keygen -l` prints it: "SHA256:" and the base64 of
 * the SHA-256 of the key blob, without '=' padding. KILN_E_INVALID if the line is not a public
 * key (bad base64, or a blob whose type is not the line's TYPE). */
char *ssh_fingerprint_sha256(const char *public_key_line, kiln_error **err);

#endif
