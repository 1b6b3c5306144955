/* The endpoint's HTTP side, on libmicrohttpd: a pool of request threads over one event loop,
 * so a slow client holds a connection slot, never a thread, and idle connections are closed.
 * Each request: its body is collected up to the cap, its parameters decoded (the form body of
 * a POST, the query string of a GET), its Signature Version 4 checked, and its action run in a
 * kiln context of the key's account and the credential scope's region. */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "ec2-private.h"

#define DEFAULT_MAX_BODY    ((size_t) 1 << 20)
#define DEFAULT_CONNECTIONS 64
#define DEFAULT_THREADS     4
#define DEFAULT_IDLE_S      30
#define DRAIN_TIMEOUT_MS    30000
#define MAX_HEADERS         64

typedef struct server {
        const ec2_options *o;
        size_t max_body;
        atomic_int in_flight;
        kiln_runner *runner; /* starts and watches the instances the server launches */
} server;

typedef struct request {
        char *body;
        size_t len;
        bool too_big;
        struct timespec start;
} request;

static char *dup_or_die(const char *s)
{
        char *d = s ? strdup(s) : NULL;

        if (s && !d)
                abort();
        return d;
}

static uint64_t ms_since(const struct timespec *t0)
{
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (uint64_t) (t.tv_sec - t0->tv_sec) * 1000u +
               (uint64_t) ((t.tv_nsec - t0->tv_nsec) / 1000000);
}

static void request_id(char out[37])
{
        unsigned char r[16];
        size_t got = 0;

        while (got < sizeof(r)) {
                ssize_t n = getrandom(r + got, sizeof(r) - got, 0);

                if (n > 0)
                        got += (size_t) n;
                else if (errno != EINTR)
                        abort();
        }
        r[6] = (unsigned char) ((r[6] & 0x0f) | 0x40);
        r[8] = (unsigned char) ((r[8] & 0x3f) | 0x80);
        snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12],
                 r[13], r[14], r[15]);
}

/* One line per request, written at once. */
static void log_line(const char *id, const char *account, const char *action, unsigned status,
                     uint64_t ms)
{
        char line[512];
        int n = snprintf(line, sizeof(line), "%s %s %s %u %llu\n", id, account ? account : "-",
                         action ? action : "-", status, (unsigned long long) ms);

        if (n > 0 && write(STDERR_FILENO, line, (size_t) n) < 0)
                return;
}

typedef struct collected {
        kiln_http_header h[MAX_HEADERS];
        size_t n;
        ec2_params *query;
} collected;

static enum MHD_Result take_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
        collected *c = cls;

        (void) kind;
        if (c->n < MAX_HEADERS)
                c->h[c->n++] = (kiln_http_header){key, value ? value : ""};
        return MHD_YES;
}

static enum MHD_Result take_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
        collected *c = cls;

        (void) kind;
        ec2_params_add(c->query, key, value);
        return MHD_YES;
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, char *text, size_t len)
{
        struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        enum MHD_Result rc;

        MHD_add_response_header(r, "Content-Type", "text/xml;charset=UTF-8");
        rc = MHD_queue_response(conn, status, r);
        MHD_destroy_response(r);
        return rc;
}

/* Runs the request; returns the HTTP status, *ret_text the document. */
static unsigned handle(server *s, struct MHD_Connection *conn, const char *method, const char *url,
                       request *rq, const char *id, char **ret_account, const char **ret_action,
                       char **ret_text, size_t *ret_len)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_sigv4_identity who = {0};
        ec2_params query = {0}, params = {0};
        collected headers = {.query = &query};
        kiln_http_request hr = {0};
        const char *action = NULL, *code = NULL;
        ec2_action_fn fn = NULL;
        bool writes = false;
        unsigned status = 200;

        MHD_get_connection_values(conn, MHD_HEADER_KIND, take_header, &headers);
        MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, take_arg, &headers);
        hr.method = method;
        hr.path = url;
        hr.query = query.p;
        hr.n_query = query.n;
        hr.headers = headers.h;
        hr.n_headers = headers.n;
        hr.body = rq->body;
        hr.body_len = rq->len;
        if (rq->too_big)
                kiln_error_set(&e, KILN_E_LIMIT, "RequestEntityTooLarge",
                               "The request body is over %zu bytes", s->max_body);
        else if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
                kiln_error_set(&e, KILN_E_INVALID, "UnsupportedProtocol",
                               "Only GET and POST are supported, not %s", method);
        /* The parameters: the query string's, and a POST's form body. */
        for (size_t i = 0; !e && i < query.n; i++)
                if (strncmp(query.p[i].name, "X-Amz-", 6) != 0)
                        ec2_params_add(&params, query.p[i].name, query.p[i].value);
        if (!e && rq->len)
                ec2_params_parse_form(&params, rq->body, rq->len, &e);
        if (!e) {
                kiln_ctx_options o = {s->o->home, NULL, NULL};

                if (kiln_ctx_new(&o, &ctx, &e) == 0) {
                        kiln_ctx_set_runner(ctx, s->runner);
                        kiln_sigv4_verify(ctx, &hr, &who, &e);
                }
        }
        action = ec2_param(&params, "Action");
        ec2_param(&params, "Version");
        if (!e && !who.account_id)
                kiln_error_set(&e, KILN_E_INTERNAL, NULL, "the signature names no account");
        if (!e) {
                *ret_account = dup_or_die(who.account_id);
                fn = ec2_action_find(action, &writes);
                if (!action)
                        kiln_error_set(&e, KILN_E_INVALID, "MissingAction",
                                       "The request must contain the parameter Action");
                else if (!fn)
                        kiln_error_set(&e, KILN_E_INVALID, "InvalidAction",
                                       "The action %s is not valid for this web service.", action);
                else
                        kiln_ctx_act_as(ctx, who.region, who.account_id, &e);
        }
        if (!e && fn && action) {
                ec2_xml out = {0};
                ec2_call call = {ctx, &params, &out, writes, false};

                ec2_xml_begin(&out, action, id);
                if (ec2_dry_run_answer(&call, fn(&call, &e), &e) == 0) {
                        *ret_text = ec2_xml_end(&out, ret_len);
                } else {
                        xmlFreeTextWriter(out.w);
                        xmlBufferFree(out.buf);
                }
        }
        if (e) {
                status = ec2_error_status(e, &code);
                *ret_text = ec2_xml_error(code, e->msg, id, ret_len);
        }
        kiln_sigv4_identity_clear(&who);
        ec2_params_free(&query);
        /* action points into params: keep it for the log line */
        *ret_action = action ? dup_or_die(action) : NULL;
        ec2_params_free(&params);
        return status;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
        server *s = cls;
        request *rq = *req_cls;
        char id[37], *text = NULL, *account = NULL;
        const char *action = NULL;
        size_t len = 0;
        unsigned status;
        enum MHD_Result rc;

        (void) version;
        if (!rq) {
                rq = calloc(1, sizeof(*rq));
                if (!rq)
                        return MHD_NO;
                clock_gettime(CLOCK_MONOTONIC, &rq->start);
                atomic_fetch_add(&s->in_flight, 1);
                *req_cls = rq;
                return MHD_YES;
        }
        if (*upload_data_size) {
                size_t n = *upload_data_size;

                if (rq->len + n > s->max_body) {
                        rq->too_big = true;
                } else {
                        rq->body = realloc(rq->body, rq->len + n + 1);
                        if (!rq->body)
                                abort();
                        memcpy(rq->body + rq->len, upload_data, n);
                        rq->len += n;
                        rq->body[rq->len] = '\0';
                }
                *upload_data_size = 0;
                return MHD_YES;
        }
        request_id(id);
        status = handle(s, conn, method, url, rq, id, &account, &action, &text, &len);
        rc = respond(conn, status, text, len);
        log_line(id, account, action, status, ms_since(&rq->start));
        free(account);
        free((char *) action);
        return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
        server *s = cls;
        request *rq = *req_cls;

        (void) conn;
        (void) toe;
        if (!rq)
                return;
        free(rq->body);
        free(rq);
        *req_cls = NULL;
        atomic_fetch_sub(&s->in_flight, 1);
}

/* ADDR:PORT or [ADDR]:PORT (numeric addresses only). */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, bool *v6, kiln_error **err)
{
        char host[128];
        const char *colon;
        char *end = NULL;
        long port;

        memset(ss, 0, sizeof(*ss));
        if (listen[0] == '[') {
                const char *close = strchr(listen, ']');

                if (!close || close[1] != ':' || (size_t) (close - listen - 1) >= sizeof(host))
                        goto bad;
                memcpy(host, listen + 1, (size_t) (close - listen - 1));
                host[close - listen - 1] = '\0';
                colon = close + 1;
        } else {
                colon = strrchr(listen, ':');
                if (!colon || (size_t) (colon - listen) >= sizeof(host))
                        goto bad;
                memcpy(host, listen, (size_t) (colon - listen));
                host[colon - listen] = '\0';
        }
        port = strtol(colon + 1, &end, 10);
        if (!colon[1] || *end || port < 1 || port > 65535)
                goto bad;
        if (inet_pton(AF_INET, host, &((struct sockaddr_in *) ss)->sin_addr) == 1) {
                ((struct sockaddr_in *) ss)->sin_family = AF_INET;
                ((struct sockaddr_in *) ss)->sin_port = htons((uint16_t) port);
                *v6 = false;
                return 0;
        }
        if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *) ss)->sin6_addr) == 1) {
                ((struct sockaddr_in6 *) ss)->sin6_family = AF_INET6;
                ((struct sockaddr_in6 *) ss)->sin6_port = htons((uint16_t) port);
                *v6 = true;
                return 0;
        }
bad:
        return kiln_error_set(err, KILN_E_INVALID, NULL,
                              "invalid --listen '%s': expected ADDR:PORT or [ADDR]:PORT with a "
                              "numeric address (127.0.0.1:%d)",
                              listen, EC2_DEFAULT_PORT);
}

static char *read_pem(const char *path, kiln_error **err)
{
        FILE *f = fopen(path, "re");
        char *data = NULL;
        size_t len = 0;

        if (!f) {
                kiln_error_set_errno(err, errno, KILN_E_IO, "cannot read '%s'", path);
                return NULL;
        }
        if (getdelim(&data, &len, '\0', f) < 0) {
                free(data);
                data = NULL;
                kiln_error_set(err, KILN_E_IO, NULL, "'%s' is empty", path);
        }
        fclose(f);
        return data;
}

int ec2_serve(const ec2_options *o, kiln_error **err)
{
        server s = {o, o->max_body ? o->max_body : DEFAULT_MAX_BODY, 0, NULL};
        const char *listen = o->listen ? o->listen : "127.0.0.1:8773";
        struct sockaddr_storage ss;
        struct MHD_Daemon *d;
        kiln_autofree char *cert = NULL, *key = NULL;
        unsigned flags =
                MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
        unsigned threads = o->threads ? o->threads : DEFAULT_THREADS;
        sigset_t set;
        bool v6 = false;
        int sig = 0;

        if (parse_listen(listen, &ss, &v6, err) < 0)
                return -1;
        /* A long answer (DescribeImages of thousands) is megabytes built in memory: keep such
         * blocks in the threads' heaps, reused by the next request, rather than have every
         * request map, fault in and unmap them anew. */
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
        mallopt(M_TRIM_THRESHOLD, 32 << 20);
        if (!o->tls_cert != !o->tls_key)
                return kiln_error_set(err, KILN_E_INVALID, NULL,
                                      "HTTPS needs both --tls-cert and --tls-key");
        if (o->tls_cert &&
            (!(cert = read_pem(o->tls_cert, err)) || !(key = read_pem(o->tls_key, err))))
                return -1;
        if (v6)
                flags |= MHD_USE_IPv6;
        if (cert)
                flags |= MHD_USE_TLS;
        /* SIGTERM and SIGINT are taken here, by sigwait: every thread (libmicrohttpd's too)
         * inherits them blocked. */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        {
                /* Options that depend on the request: a pool only for more than one thread
                 * (one is the polling thread itself), TLS only with a certificate. */
                struct MHD_OptionItem extra[4];
                size_t n = 0;

                if (threads > 1)
                        extra[n++] =
                                (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, threads, NULL};
                if (cert) {
                        extra[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, cert};
                        extra[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, key};
                }
                extra[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
                d = MHD_start_daemon(
                        flags, 0, NULL, NULL, on_request, &s, MHD_OPTION_SOCK_ADDR,
                        (struct sockaddr *) &ss, MHD_OPTION_CONNECTION_LIMIT,
                        (unsigned) (o->max_connections ? o->max_connections : DEFAULT_CONNECTIONS),
                        MHD_OPTION_CONNECTION_TIMEOUT,
                        (unsigned) (o->idle_timeout_s ? o->idle_timeout_s : DEFAULT_IDLE_S),
                        MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s, MHD_OPTION_ARRAY, extra,
                        MHD_OPTION_END);
        }
        if (!d) {
                pthread_sigmask(SIG_UNBLOCK, &set, NULL);
                return kiln_error_set(err, KILN_E_IO, NULL,
                                      "cannot serve on %s: the address is in use or not this "
                                      "host's, or the TLS files are not a PEM certificate "
                                      "and key",
                                      listen);
        }
        s.runner = kiln_runner_new();
        fprintf(stderr, "kiln: serving the EC2 API on %s://%s\n", cert ? "https" : "http", listen);
        while (sigwait(&set, &sig) != 0)
                ;
        fprintf(stderr, "kiln: %s: finishing the requests in flight\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT");
        {
                MHD_socket listener = MHD_quiesce_daemon(d);

                if (listener != MHD_INVALID_SOCKET)
                        close(listener);
        }
        for (unsigned waited = 0; atomic_load(&s.in_flight) > 0 && waited < DRAIN_TIMEOUT_MS;
             waited += 20)
                usleep(20000);
        MHD_stop_daemon(d);
        /* The watches of instances' boots end; their starts, if any, finish first. */
        kiln_runner_free(s.runner);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        return 0;
}
