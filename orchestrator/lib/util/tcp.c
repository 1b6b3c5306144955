/* TCP connections with a deadline, for SSH sessions and RDP probes: every address the name
 * resolves to is tried in turn with a non-blocking connect. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "util/util.h"

int kiln_poll_ms(uint64_t deadline)
{
        uint64_t now = kiln_now_ms();

        if (now >= deadline)
                return 0;
        return deadline - now > INT32_MAX ? INT32_MAX : (int) (deadline - now);
}

typedef struct addrinfo tcp_addrinfo;

static tcp_addrinfo *tcp_addrinfo_free(tcp_addrinfo *ai)
{
        freeaddrinfo(ai);
        return NULL;
}

KILN_DEFINE_AUTOPTR(tcp_addrinfo, tcp_addrinfo_free)

/* Hands *fd over (kiln_autoclose then closes nothing). */
static int fd_steal(int *fd)
{
        int r = *fd;

        *fd = -1;
        return r;
}

/* Connects a non-blocking socket to one address. Returns 0, an errno value, or -1 when the
 * deadline passes. */
static int tcp_try(const struct addrinfo *a, uint64_t deadline, int *ret_fd)
{
        kiln_autoclose int fd = -1;
        int soerr = 0, one = 1;
        socklen_t len = sizeof(soerr);

        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
                return errno;
        if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
                struct pollfd pfd = {.fd = fd, .events = POLLOUT};

                if (errno != EINPROGRESS && errno != EINTR)
                        return errno;
                for (;;) {
                        int r = 0;

                        if (kiln_now_ms() >= deadline)
                                return -1;
                        r = poll(&pfd, 1, kiln_poll_ms(deadline));
                        if (r < 0 && errno != EINTR)
                                return errno;
                        if (r > 0)
                                break;
                }
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
                        return errno;
                if (soerr)
                        return soerr;
        }
        /* Requests and their answers are small packets: do not hold them back. */
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        *ret_fd = fd_steal(&fd);
        return 0;
}

int kiln_tcp_connect(const char *host, int port, const char *where, uint64_t deadline,
                     kiln_error_code code, int *ret_fd, kiln_error **err)
{
        struct addrinfo hints = {
                .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
        kiln_autoptr(tcp_addrinfo) ai = NULL;
        char service[16];
        int r = 0, last = 0;

        snprintf(service, sizeof(service), "%d", port);
        r = getaddrinfo(host, service, &hints, &ai);
        if (r != 0)
                return kiln_error_set(err, code, NULL, "cannot resolve '%s': %s", host,
                                      r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
        for (const struct addrinfo *a = ai; a; a = a->ai_next) {
                last = tcp_try(a, deadline, ret_fd);
                if (last == 0)
                        return 0;
                if (last < 0)
                        return kiln_error_set(err, KILN_E_TIMEOUT, NULL,
                                              "timed out connecting to %s", where);
                kiln_log(KILN_LOG_DEBUG, "cannot connect to %s: %s", where, strerror(last));
        }
        return kiln_error_set_errno(err, last ? last : EADDRNOTAVAIL, code, "cannot connect to %s",
                                    where);
}
