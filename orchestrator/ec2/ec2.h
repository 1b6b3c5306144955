/* kiln's EC2 endpoint: the Query API (Version 2016-11-15) over HTTP or HTTPS, authenticated
 * with Signature Version 4, as a second front end beside the CLI: it parses each request,
 * calls the public API as the key's account in the credential scope's region, and writes EC2's
 * XML from the shapes both front ends share. `kiln serve` starts it. */
#ifndef KILN_EC2_H
#define KILN_EC2_H

#include <stddef.h>

#include <kiln/kiln.h>

#define EC2_DEFAULT_PORT 8773 /* the port EC2-compatible endpoints (Eucalyptus, OpenStack) used */

typedef struct ec2_options {
        const char *home;     /* NULL: kiln's default home */
        const char *listen;   /* ADDR:PORT or [ADDR]:PORT; NULL: 127.0.0.1:8773 */
        const char *tls_cert; /* PEM files: HTTPS when both are given */
        const char *tls_key;
        unsigned max_connections; /* 0: 64 */
        unsigned threads;         /* request threads; 0: 4 */
        unsigned idle_timeout_s;  /* a connection idle this long is closed; 0: 30 */
        size_t max_body;          /* bytes; 0: 1 MiB */
} ec2_options;

/* Serves until SIGTERM or SIGINT, then stops taking connections and finishes the requests in
 * flight. One line per request goes to standard error: request ID, account, action, HTTP
 * status, milliseconds. Returns 0, or -1 with *err when it cannot start. */
int ec2_serve(const ec2_options *o, kiln_error **err);

#endif
