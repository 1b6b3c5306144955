/* kiln serve: the EC2 endpoint (orchestrator/ec2/), in the foreground. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "ec2/ec2.h"

static int number(const cli_args *args, const char *name, unsigned long max, unsigned long *ret)
{
        const char *v = cli_arg_get(args, name);
        char *end = NULL;
        unsigned long n;

        *ret = 0;
        if (!v)
                return 0;
        n = strtoul(v, &end, 10);
        if (!*v || *end || n < 1 || n > max)
                return cli_usage_error("invalid --%s '%s': a whole number from 1 to %lu", name, v,
                                       max);
        *ret = n;
        return 0;
}

static int cmd_serve(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        kiln_autoptr(kiln_error) err = NULL;
        ec2_options o = {
                .home = g->home,
                .listen = cli_arg_get(args, "listen"),
                .tls_cert = cli_arg_get(args, "tls-cert"),
                .tls_key = cli_arg_get(args, "tls-key"),
        };
        unsigned long conns, threads, idle, body;
        int rc;

        (void) verb;
        if ((rc = number(args, "max-connections", 10000, &conns)) != 0 ||
            (rc = number(args, "threads", 256, &threads)) != 0 ||
            (rc = number(args, "idle-timeout", 3600, &idle)) != 0 ||
            (rc = number(args, "max-body", 64UL << 20, &body)) != 0)
                return rc;
        o.max_connections = (unsigned) conns;
        o.threads = (unsigned) threads;
        o.idle_timeout_s = (unsigned) idle;
        o.max_body = body;
        if (ec2_serve(&o, &err) < 0)
                return cli_fail(err);
        return CLI_EXIT_OK;
}

static const cli_opt serve_opts[] = {
        {"listen", CLI_ARG_ONE, "ADDR:PORT", "where to listen (default 127.0.0.1:8773)"},
        {"tls-cert", CLI_ARG_ONE, "FILE", "PEM certificate: serve HTTPS (with --tls-key)"},
        {"tls-key", CLI_ARG_ONE, "FILE", "PEM private key of the certificate"},
        {"max-connections", CLI_ARG_ONE, "N", "connections at once (default 64)"},
        {"threads", CLI_ARG_ONE, "N", "requests run at once (default 4)"},
        {"idle-timeout", CLI_ARG_ONE, "SECONDS", "close a connection idle this long (30)"},
        {"max-body", CLI_ARG_ONE, "BYTES", "largest request body (default 1048576)"},
        CLI_END_OPTS,
};

const cli_verb cli_serve_verbs[] = {
        {"serve", "endpoint",
         "run the EC2 Query API for the aws CLI, boto3 and other EC2 clients (SigV4 with "
         "kiln's access keys), until SIGTERM",
         "[--listen ADDR:PORT] [--tls-cert FILE --tls-key FILE]", serve_opts, 0, cmd_serve,
         "kiln serve --listen 127.0.0.1:8773"},
};
const size_t cli_n_serve_verbs = KILN_ARRAY_SIZE(cli_serve_verbs);
