/* Access keys and Signature Version 4. The signed requests below were made by botocore
 * (1.29.27, Debian's python3-botocore, the same SigV4 code as the aws CLI 2.9.19's) with the
 * documentation's example key, region "local" and the time 2026-12-05T06:45:00Z: a POST in the
 * header form, as the aws CLI sends every EC2 call, and a presigned GET (300 s). Each check
 * changes one thing of a good request and expects EC2's code for it. */
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

#include <kiln/kiln.h>

#include "core/ctx-private.h"
#include "registry/registry-access.h"
#include "tap.h"
#include "util/util.h"

#define KEY_ID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define SIGNED 1796453100 /* 2026-12-05T06:45:00Z */

#define POST_BODY                                                                                  \
        "Action=DescribeImages&Version=2016-11-15&Owner.1=self&Filter.1.Name=name&Filter.1.Value." \
        "1="                                                                                       \
        "web-%2A"
#define POST_AUTH                                                                                  \
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261205/local/ec2/aws4_request, "       \
        "SignedHeaders=content-type;host;x-amz-date, "                                             \
        "Signature=24960cca1254c2f46dbb409aabb7d294014ea7ab1ec0574e835d5e3d8f99a4fb"
#define GET_SIGNATURE "7ddf9982c7d7a010bc51846032b3b040114dc55a6e5d97173da6cc93d017ce7a"

static char *dir;

static int plant_key(registry *r, void *userdata, kiln_error **err)
{
        kiln_access_key k = {(char *) KEY_ID, userdata, (char *) "Active",
                             (char *) "2026-12-05T06:00:00.000Z", (char *) SECRET};

        return registry_access_key_insert(r, &k, err);
}

typedef struct post {
        kiln_http_header headers[4];
        kiln_http_request req;
} post;

static void post_init(post *p)
{
        kiln_http_header h[] = {
                {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                {"Host", "127.0.0.1:8773"},
                {"X-Amz-Date", "20261205T064500Z"},
                {"Authorization", POST_AUTH},
        };

        memcpy(p->headers, h, sizeof(h));
        memset(&p->req, 0, sizeof(p->req));
        p->req.method = "POST";
        p->req.path = "/";
        p->req.headers = p->headers;
        p->req.n_headers = 4;
        p->req.body = POST_BODY;
        p->req.body_len = strlen(POST_BODY);
        p->req.now = SIGNED + 10;
}

typedef struct get {
        kiln_http_header query[9];
        kiln_http_header headers[1];
        kiln_http_request req;
} get;

static void get_init(get *g)
{
        kiln_http_header q[] = {
                {"Action", "DescribeRegions"},
                {"Version", "2016-11-15"},
                {"RegionName.1", "local"},
                {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
                {"X-Amz-Credential", KEY_ID "/20261205/local/ec2/aws4_request"},
                {"X-Amz-Date", "20261205T064500Z"},
                {"X-Amz-Expires", "300"},
                {"X-Amz-SignedHeaders", "host"},
                {"X-Amz-Signature", GET_SIGNATURE},
        };

        memcpy(g->query, q, sizeof(q));
        g->headers[0] = (kiln_http_header){"host", "127.0.0.1:8773"};
        memset(&g->req, 0, sizeof(g->req));
        g->req.method = "GET";
        g->req.path = "/";
        g->req.query = g->query;
        g->req.n_query = 9;
        g->req.headers = g->headers;
        g->req.n_headers = 1;
        g->req.now = SIGNED + 10;
}

static void verifies(kiln_ctx *ctx, const kiln_http_request *req, const char *account,
                     const char *what)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_sigv4_identity id = {0};
        int rc = kiln_sigv4_verify(ctx, req, &id, &e);

        if (!ok(rc == 0 && id.account_id && strcmp(id.account_id, account) == 0 && id.region &&
                        strcmp(id.region, "local") == 0,
                "%s", what))
                printf("#   %s: %s\n", e && e->api_code ? e->api_code : "", e ? e->msg : "");
        kiln_sigv4_identity_clear(&id);
}

static void refused(kiln_ctx *ctx, const kiln_http_request *req, const char *code, const char *what)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_sigv4_identity id = {0};
        int rc = kiln_sigv4_verify(ctx, req, &id, &e);

        if (!ok(rc == -1 && e && e->api_code && strcmp(e->api_code, code) == 0 && !id.account_id,
                "%s: %s", what, code))
                printf("#   got %d %s: %s\n", rc, e && e->api_code ? e->api_code : "",
                       e ? e->msg : "");
        kiln_sigv4_identity_clear(&id);
}

static void test_header_form(kiln_ctx *ctx, const char *account)
{
        post p;

        post_init(&p);
        verifies(ctx, &p.req, account, "botocore's signed POST verifies, as the key's account");
        post_init(&p);
        p.req.body = "Action=DescribeImages&Version=2016-11-15&Owner.1=all";
        p.req.body_len = strlen(p.req.body);
        refused(ctx, &p.req, "SignatureDoesNotMatch", "a tampered body");
        post_init(&p);
        p.headers[1].value = "127.0.0.1:9999";
        refused(ctx, &p.req, "SignatureDoesNotMatch", "another Host than signed");
        post_init(&p);
        p.headers[1].value = "  127.0.0.1:8773 ";
        verifies(ctx, &p.req, account, "a header's outer blanks do not count");
        post_init(&p);
        p.req.now = SIGNED + 16 * 60;
        refused(ctx, &p.req, "RequestExpired", "16 minutes later");
        post_init(&p);
        p.req.now = SIGNED - 16 * 60;
        refused(ctx, &p.req, "RequestExpired", "16 minutes earlier");
        post_init(&p);
        p.req.now = SIGNED + 14 * 60;
        verifies(ctx, &p.req, account, "14 minutes later is still within the skew");
        post_init(&p);
        p.req.n_headers = 3;
        refused(ctx, &p.req, "MissingAuthenticationToken", "no Authorization header");
        post_init(&p);
        p.headers[3].value = "AWS4-HMAC-SHA256 Credential=" KEY_ID
                             "/20261205/local/ec2/aws4_request, SignedHeaders=host;x-amz-date";
        refused(ctx, &p.req, "IncompleteSignature", "no Signature component");
        post_init(&p);
        p.headers[3].value = "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=";
        refused(ctx, &p.req, "IncompleteSignature", "a Signature Version 2 header");
        post_init(&p);
        p.headers[2].name = "X-Other";
        refused(ctx, &p.req, "IncompleteSignature", "no X-Amz-Date");
        post_init(&p);
        p.headers[3].value = "AWS4-HMAC-SHA256 Credential=AKIAXXXXXXXXXXXXXXXX/20261205/local/"
                             "ec2/aws4_request, SignedHeaders=content-type;host;x-amz-date, "
                             "Signature=24960cca1254c2f46dbb409aabb7d294014ea7ab1ec0574e835d5e3d"
                             "8f99a4fb";
        refused(ctx, &p.req, "AuthFailure", "an unknown key");
        post_init(&p);
        p.headers[3].value = "AWS4-HMAC-SHA256 Credential=" KEY_ID
                             "/20261205/mars/ec2/aws4_request, SignedHeaders=content-type;host;"
                             "x-amz-date, Signature=24960cca1254c2f46dbb409aabb7d294014ea7ab1ec057"
                             "4e835d5e3d8f99a4fb";
        refused(ctx, &p.req, "AuthFailure", "a region that is not configured");
        post_init(&p);
        p.headers[3].value = "AWS4-HMAC-SHA256 Credential=" KEY_ID
                             "/20261205/local/s3/aws4_request, SignedHeaders=content-type;host;"
                             "x-amz-date, Signature=24960cca1254c2f46dbb409aabb7d294014ea7ab1ec057"
                             "4e835d5e3d8f99a4fb";
        refused(ctx, &p.req, "AuthFailure", "another service");
        post_init(&p);
        p.headers[3].value = "AWS4-HMAC-SHA256 Credential=" KEY_ID
                             "/20261204/local/ec2/aws4_request, SignedHeaders=content-type;host;"
                             "x-amz-date, Signature=24960cca1254c2f46dbb409aabb7d294014ea7ab1ec057"
                             "4e835d5e3d8f99a4fb";
        refused(ctx, &p.req, "SignatureDoesNotMatch", "a scope date that is not X-Amz-Date's");
        post_init(&p);
        p.headers[3].value = "AWS4-HMAC-SHA256 Credential=" KEY_ID
                             "/20261205/local/ec2/aws4_request, SignedHeaders=content-type;"
                             "x-amz-date, Signature=24960cca1254c2f46dbb409aabb7d294014ea7ab1ec057"
                             "4e835d5e3d8f99a4fb";
        refused(ctx, &p.req, "IncompleteSignature", "Host not signed");
        post_init(&p);
        p.headers[3].value = "AWS4-HMAC-SHA256 Credential=" KEY_ID "/20261205/local/ec2,"
                             " SignedHeaders=host, Signature=00";
        refused(ctx, &p.req, "IncompleteSignature", "a short credential scope");
}

static void test_presigned(kiln_ctx *ctx, const char *account)
{
        get g;

        get_init(&g);
        verifies(ctx, &g.req, account, "botocore's presigned GET verifies");
        get_init(&g);
        g.query[2].value = "west";
        refused(ctx, &g.req, "SignatureDoesNotMatch", "a changed query parameter");
        get_init(&g);
        g.req.now = SIGNED + 301;
        refused(ctx, &g.req, "RequestExpired", "after X-Amz-Expires");
        get_init(&g);
        g.query[6].value = "999999999";
        refused(ctx, &g.req, "AuthFailure", "an X-Amz-Expires beyond 7 days");
        get_init(&g);
        g.query[3].value = "AWS4-HMAC-SHA512";
        refused(ctx, &g.req, "IncompleteSignature", "another algorithm");
        get_init(&g);
        g.req.n_query = 7; /* no X-Amz-SignedHeaders, no X-Amz-Signature */
        refused(ctx, &g.req, "IncompleteSignature", "a partial presigned request");
}

static void test_keys(kiln_ctx *ctx, const char *account)
{
        kiln_access_key a = {0}, b = {0}, c = {0};
        kiln_access_key *list = NULL;
        size_t n = 0;

        {
                kiln_autoptr(kiln_error) e = NULL;

                ok(kiln_access_key_create(ctx, NULL, &a, &e) == 0, "create-access-key");
        }
        ok(a.access_key_id && strlen(a.access_key_id) == 20 &&
                   strncmp(a.access_key_id, "AKIA", 4) == 0 &&
                   strspn(a.access_key_id + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == 16,
           "the ID is AKIA and 16 characters of IAM's alphabet");
        ok(a.secret && strlen(a.secret) == 40, "the secret is 40 characters");
        is_str(a.account_id, account, "for the context's account");
        {
                kiln_autoptr(kiln_error) e = NULL;

                /* The planted key is the account's first: this is its second and last. */
                ok(kiln_access_key_create(ctx, NULL, &b, &e) == -1 && e &&
                           strcmp(e->api_code, "LimitExceeded") == 0,
                   "a third key for the account: LimitExceeded");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                ok(kiln_access_key_create(ctx, "999999999999", &c, &e) == -1 && e &&
                           strcmp(e->api_code, "InvalidParameterValue") == 0,
                   "an account that is not configured: InvalidParameterValue");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                ok(kiln_access_keys_describe(ctx, account, &list, &n, &e) == 0 && n == 2 &&
                           !list[0].secret && !list[1].secret &&
                           strcmp(list[0].access_key_id, KEY_ID) == 0,
                   "describe lists both, oldest first, without secrets");
                kiln_access_keys_free(list, n);
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                ok(kiln_access_key_delete(ctx, a.access_key_id, &e) == 0, "delete-access-key");
        }
        {
                kiln_autoptr(kiln_error) e = NULL;

                ok(kiln_access_key_delete(ctx, a.access_key_id, &e) == -1 && e &&
                           strcmp(e->api_code, "NoSuchEntity") == 0,
                   "deleting it again: NoSuchEntity");
        }
        kiln_access_key_clear(&a);
        kiln_access_key_clear(&b);
        kiln_access_key_clear(&c);
        {
                kiln_autoptr(kiln_error) e = NULL;
                kiln_autofree char *path = kiln_xasprintf("%s/registry.db", dir);
                struct stat st;

                ok(stat(path, &st) == 0 && (st.st_mode & 077) == 0,
                   "the registry that holds the secrets is readable by kiln's user only");
        }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void) st;
        (void) flag;
        (void) ftw;
        remove(path);
        return 0;
}

int main(void)
{
        char tmpl[] = "/tmp/kiln-unit-access.XXXXXX";
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        kiln_ctx_options o = {0};
        const char *account;

        dir = mkdtemp(tmpl);
        if (!dir) {
                printf("Bail out! mkdtemp\n");
                return 1;
        }
        o.home = dir;
        if (kiln_ctx_new(&o, &ctx, &e) < 0) {
                printf("Bail out! %s\n", e->msg);
                return 1;
        }
        account = kiln_ctx_account(ctx);
        if (registry_write(ctx->reg, plant_key, (void *) account, &e) < 0) {
                printf("Bail out! %s\n", e->msg);
                return 1;
        }
        test_header_form(ctx, account);
        test_presigned(ctx, account);
        test_keys(ctx, account);
        {
                post p;

                post_init(&p);
                kiln_access_key_delete(ctx, KEY_ID, NULL);
                refused(ctx, &p.req, "AuthFailure", "a deleted key signs nothing any more");
        }
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return done();
}
