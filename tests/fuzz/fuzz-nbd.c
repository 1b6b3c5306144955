/* The NBD client (disk/nbd.c) against a server whose every byte is the input: the greeting,
 * the option replies of NBD_OPT_GO (export size, block sizes, errors), then the simple replies
 * to the reads, all over a socket pair (disk_nbd_open_socket: the same handshake without
 * qemu-nbd). A thread plays the server: it sends the bytes and reads whatever the client
 * sends, until the client hangs up.
 *
 * The input starts with the client's part: four reads of 10 bytes each, an offset (8 bytes,
 * big-endian, modulo the export size) and a length (2 bytes, cut at the export's end); the
 * rest is what the server sends. disk_nbd_read splits and aligns each read as the block sizes
 * the server named ask, so one read can be several requests.
 *
 * Checked: a read succeeds only within the export, and only on a connection that works. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "disk/nbd.h"
#include "fuzz.h"

#define READS     ((size_t) 4)
#define READ_SIZE ((size_t) 10)
#define PLAN_SIZE (READS * READ_SIZE)

typedef struct server {
        int fd;
        const uint8_t *data;
        size_t len;
} server;

/* Sends the bytes and drains the client at the same time (either side may fill its socket
 * buffer first), then drains until the client closes. */
static void *serve(void *arg)
{
        server *s = arg;
        size_t done = 0;
        char sink[4096];

        for (;;) {
                struct pollfd p = {.fd = s->fd, .events = POLLIN};
                ssize_t n;

                if (done < s->len)
                        p.events |= POLLOUT;
                if (poll(&p, 1, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p.revents & POLLOUT) {
                        n = send(s->fd, s->data + done, s->len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
                        if (n > 0)
                                done += (size_t) n;
                        else if (n < 0 && errno != EAGAIN && errno != EINTR)
                                done = s->len;
                        if (done == s->len)
                                shutdown(s->fd, SHUT_WR);
                }
                if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
                        n = recv(s->fd, sink, sizeof(sink), MSG_DONTWAIT);
                        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                                break;
                }
        }
        close(s->fd);
        return NULL;
}

static uint64_t be(const uint8_t *p, size_t n)
{
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++)
                v = v << 8 | p[i];
        return v;
}

/* The client's part: the handshake, the reads of the plan, then a read past the end. */
static void client(int fd, const uint8_t *plan)
{
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autoptr(disk_nbd) nbd = disk_nbd_open_socket(fd, &err);
        kiln_autoptr(kiln_error) beyond = NULL;
        uint8_t byte;

        if (!nbd) {
                FUZZ_CHECK(err && err->msg);
                return;
        }
        for (size_t i = 0; i < READS; i++) {
                kiln_autoptr(kiln_error) read_err = NULL;
                kiln_autofree uint8_t *buf = NULL;
                uint64_t disk = disk_nbd_size(nbd);
                uint64_t off = disk ? be(plan + i * READ_SIZE, 8) % disk : 0;
                size_t len = (size_t) be(plan + i * READ_SIZE + 8, 2);

                if (len > disk - off)
                        len = (size_t) (disk - off);
                buf = kiln_xmalloc(len + 1);
                if (disk_nbd_read(nbd, off, buf, len, &read_err) < 0) {
                        FUZZ_CHECK(read_err && read_err->code != KILN_E_INVALID);
                        break;
                }
        }
        FUZZ_CHECK(disk_nbd_read(nbd, disk_nbd_size(nbd), &byte, 1, &beyond) < 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        server s;
        pthread_t thread;
        int fds[2];

        if (size < PLAN_SIZE)
                return 0;
        FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        s = (server){.fd = fds[1], .data = data + PLAN_SIZE, .len = size - PLAN_SIZE};
        if (s.len == 0)
                shutdown(s.fd, SHUT_WR);
        FUZZ_CHECK(pthread_create(&thread, NULL, serve, &s) == 0);
        client(fds[0], data);
        pthread_join(thread, NULL);
        return 0;
}
