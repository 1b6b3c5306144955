/* Downloads (net/download.c) from a server whose answer is the input: the status line and
 * headers (Content-Range and Content-Length decide whether the body is appended to the .part,
 * starts it over, or is not written), and the body. A thread of this program serves every
 * connection on 127.0.0.1 with the same bytes; it is also the proxy libcurl is given for http
 * and https, so a redirect to any URL comes back to it and nothing leaves the machine.
 *
 * The first byte of the input chooses the case: bit 0 leaves a 100-byte DEST.part to resume
 * (the request then asks for "Range: bytes=100-"), bit 1 passes a checksum (which does not
 * match); the rest is the answer. One attempt per call (retries would only sleep).
 *
 * Checked: DEST exists only after a success, and then holds the bytes the result counts, as
 * many as a 206's Content-Range says the file has; a success leaves no .part, and a checksum
 * given never succeeds. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "net/download.h"

#define REQUEST_MAX 65536

static pthread_mutex_t answer_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *answer;
static size_t answer_len;
static int listen_fd = -1;
static char *url, *dest, *part;

static uint64_t plenty_of_space(const char *dir, void *userdata)
{
        (void) dir, (void) userdata;
        return (uint64_t) 1 << 40;
}

/* Reads a request up to its blank line, so that closing the connection after the answer
 * leaves nothing unread (which would turn the close into a reset). */
static void read_request(int fd)
{
        kiln_autofree char *buf = kiln_xmalloc(REQUEST_MAX + 1);
        size_t len = 0;

        while (len < REQUEST_MAX) {
                ssize_t n = recv(fd, buf + len, REQUEST_MAX - len, 0);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                len += (size_t) n;
                buf[len] = '\0';
                if (strstr(buf, "\r\n\r\n"))
                        return;
        }
}

/* The size of the whole file that an answer of one 206 names in its one Content-Range
 * header ("bytes FIRST-LAST/TOTAL", FIRST <= LAST < TOTAL), or -1 (another answer, "*", a
 * range that contradicts itself, or anything unclear). */
static long long claimed_total(const uint8_t *data, size_t size)
{
        kiln_autofree char *s = fuzz_cstr(data, size);
        char *end = strstr(s, "\r\n\r\n"), *range;
        unsigned long long first, last, total;

        if (!end || strncmp(s, "HTTP/1.1 206 ", 13) != 0)
                return -1;
        end[2] = '\0'; /* the headers */
        range = strcasestr(s, "\r\nContent-Range:");
        if (!range || strcasestr(range + 2, "\nContent-Range:") || strchr(s, '\0') != end + 2 ||
            strstr(s + 1, "HTTP/") || strchr(s, '\t') ||
            sscanf(range + 16, " bytes %llu-%llu/%llu", &first, &last, &total) != 3 ||
            first > last || last >= total || total > INT64_MAX)
                return -1;
        return (long long) total;
}

static void *serve(void *arg)
{
        const struct timeval tmo = {.tv_sec = 2};

        (void) arg;
        for (;;) {
                int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                size_t done = 0;

                if (fd < 0)
                        continue;
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
                read_request(fd);
                pthread_mutex_lock(&answer_lock);
                while (done < answer_len) {
                        ssize_t n = send(fd, answer + done, answer_len - done, MSG_NOSIGNAL);

                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                break;
                        done += (size_t) n;
                }
                pthread_mutex_unlock(&answer_lock);
                close(fd);
        }
        return NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        struct sockaddr_in addr = {.sin_family = AF_INET,
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t addr_len = sizeof(addr);
        kiln_autofree char *proxy = NULL;
        pthread_t thread;

        (void) argc, (void) argv;
        listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        FUZZ_CHECK(listen_fd >= 0);
        FUZZ_CHECK(bind(listen_fd, (struct sockaddr *) &addr, sizeof(addr)) == 0);
        FUZZ_CHECK(listen(listen_fd, 16) == 0);
        FUZZ_CHECK(getsockname(listen_fd, (struct sockaddr *) &addr, &addr_len) == 0);
        FUZZ_CHECK(pthread_create(&thread, NULL, serve, NULL) == 0);
        pthread_detach(thread);

        url = kiln_xasprintf("http://127.0.0.1:%u/disk.img", ntohs(addr.sin_port));
        proxy = kiln_xasprintf("http://127.0.0.1:%u", ntohs(addr.sin_port));
        setenv("http_proxy", proxy, 1);
        setenv("https_proxy", proxy, 1);
        setenv("HTTPS_PROXY", proxy, 1);
        setenv("all_proxy", proxy, 1);
        setenv("ALL_PROXY", proxy, 1);
        unsetenv("no_proxy");
        unsetenv("NO_PROXY");
        download_set_free_space_hook(plenty_of_space, NULL);
        dest = kiln_xasprintf("%s/disk.img", fuzz_dir());
        part = kiln_xasprintf("%s.part", dest);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        kiln_autoptr(kiln_error) err = NULL;
        download_result res = {0};
        download_spec spec = {
                .url = url,
                .dest = dest,
                .connect_timeout_s = 2,
                .stall_timeout_s = 2,
                .max_attempts = 1,
                .transient = true,
        };
        struct stat st;
        long long total;
        int r;

        if (size == 0)
                return 0;
        unlink(dest);
        unlink(part);
        if (data[0] & 1) {
                int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                char kept[100];

                FUZZ_CHECK(fd >= 0);
                memset(kept, 'k', sizeof(kept));
                FUZZ_CHECK(write(fd, kept, sizeof(kept)) == (ssize_t) sizeof(kept));
                close(fd);
        }
        if (data[0] & 2)
                spec.checksum =
                        "sha256:0000000000000000000000000000000000000000000000000000000000000000";
        pthread_mutex_lock(&answer_lock);
        free(answer);
        answer = kiln_xmalloc(size - 1 + 1);
        memcpy(answer, data + 1, size - 1);
        answer_len = size - 1;
        pthread_mutex_unlock(&answer_lock);

        r = download_file(&spec, &res, &err);
        if (r < 0) {
                FUZZ_CHECK(err && err->msg);
                FUZZ_CHECK(stat(dest, &st) < 0 && errno == ENOENT);
                return 0;
        }
        FUZZ_CHECK(!spec.checksum);
        FUZZ_CHECK(stat(dest, &st) == 0 && (uint64_t) st.st_size == res.bytes);
        total = claimed_total(data + 1, size - 1);
        FUZZ_CHECK(total < 0 || res.bytes == (uint64_t) total);
        FUZZ_CHECK(stat(part, &st) < 0 && errno == ENOENT);
        FUZZ_CHECK(res.resumed_from <= res.bytes && res.attempts == 1);
        FUZZ_CHECK(res.digest && strncmp(res.digest, "sha256:", 7) == 0);
        download_result_clear(&res);
        return 0;
}
