/* RDP readiness: the first exchange of every RDP connection, a Connection Request and its
 * Connection Confirm, which a server sends only once its listener runs. Nothing beyond it is
 * spoken (no TLS, no credentials). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net/rdp.h"
#include "util/util.h"

/* TPKT version 3, length 19; X.224 CR (length indicator 14, code 0xE0, no references, class
 * 0); RDP_NEG_REQ (type 1, flags 0, length 8, requestedProtocols PROTOCOL_SSL |
 * PROTOCOL_HYBRID). */
static const unsigned char connection_request[] = {
        0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00,
};

/* TPKT header and X.224 fixed part: what tells a Connection Confirm (code 0xD0). */
#define RDP_CC_HEADER 7

static int why(char **ret, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int why(char **ret, const char *fmt, ...)
{
        va_list ap;

        free(*ret);
        va_start(ap, fmt);
        *ret = kiln_xvasprintf(fmt, ap);
        va_end(ap);
        return 0;
}

int rdp_probe(const char *host, int port, uint64_t deadline, char **ret_why)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_autoclose int fd = -1;
        unsigned char answer[RDP_CC_HEADER];
        size_t got = 0;
        kiln_autofree char *where = kiln_xasprintf("RDP at %s:%d", host, port);

        if (kiln_tcp_connect(host, port, where, deadline, KILN_E_IO, &fd, &e) < 0)
                return why(ret_why, "%s", e->msg);
        if (write(fd, connection_request, sizeof(connection_request)) !=
            (ssize_t) sizeof(connection_request))
                return why(ret_why, "%s: cannot send a connection request: %s", where,
                           strerror(errno));
        while (got < sizeof(answer)) {
                struct pollfd pfd = {.fd = fd, .events = POLLIN};
                ssize_t n;
                int r = poll(&pfd, 1, kiln_poll_ms(deadline));

                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return why(ret_why, "%s: no answer to a connection request", where);
                n = read(fd, answer + got, sizeof(answer) - got);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0)
                        return why(ret_why, "%s: the connection closed before a confirm", where);
                got += (size_t) n;
        }
        if (answer[0] != 0x03 || (answer[5] & 0xf0) != 0xd0)
                return why(ret_why, "%s: the answer is not an X.224 connection confirm", where);
        return 1;
}

char *rdp_file_render(const char *host, int port, const char *user)
{
        return kiln_xasprintf("full address:s:%s:%d\r\n"
                              "username:s:%s\r\n"
                              "prompt for credentials:i:1\r\n"
                              "authentication level:i:2\r\n",
                              host, port, user);
}
