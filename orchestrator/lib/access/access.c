/* Access keys (IAM's form) and Signature Version 4, as botocore signs EC2 requests: an
 * Authorization header (AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...)
 * with X-Amz-Date, or the presigned form with the same fields in the query string
 * (X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
 * X-Amz-Signature). The canonical request is rebuilt from what the client says it signed:
 * method, path, the query's parameters sorted and encoded as RFC 3986 says, the signed headers
 * (lowercased, trimmed, inner spaces folded), the signed header list and the SHA-256 of the
 * body; the signing key is the HMAC chain "AWS4"+secret, date, region, ec2, aws4_request. */
#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <kiln/access.h>

#include "core/config.h"
#include "core/ctx-private.h"
#include "registry/registry-access.h"
#include "util/util.h"

#define MAX_SKEW_S    ((int64_t) 900) /* 15 minutes */
#define MAX_EXPIRES_S 604800          /* SigV4's longest presigned validity: 7 days */
#define ALGORITHM     "AWS4-HMAC-SHA256"
#define SERVICE       "ec2"
#define KEY_ID_CHARS  "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#define SECRET_CHARS  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
#define KEY_ID_LEN    20
#define SECRET_LEN    40

/* ---- keys ---- */

static char *random_text(const char *prefix, const char *alphabet, size_t n)
{
        size_t plen = strlen(prefix), alen = strlen(alphabet);
        unsigned char *rnd = kiln_xcalloc(n, 1);
        char *s = kiln_xasprintf("%s%*s", prefix, (int) n, "");

        kiln_random_bytes(rnd, n);
        for (size_t i = 0; i < n; i++)
                s[plen + i] = alphabet[rnd[i] % alen]; /* both alphabets divide 256 */
        explicit_bzero(rnd, n);
        free(rnd);
        return s;
}

typedef struct create_txn {
        const char *account;
        kiln_access_key *key;
} create_txn;

static int create_insert(registry *r, void *userdata, kiln_error **err)
{
        create_txn *t = userdata;
        kiln_access_key *list = NULL;
        size_t n = 0;

        if (registry_access_key_list(r, t->account, &list, &n, err) < 0)
                return -1;
        kiln_access_keys_free(list, n);
        if (n >= KILN_ACCESS_KEYS_MAX)
                return kiln_error_set(err, KILN_E_LIMIT, "LimitExceeded",
                                      "Cannot exceed quota for AccessKeysPerUser: %d (account "
                                      "%s): delete one first",
                                      KILN_ACCESS_KEYS_MAX, t->account);
        return registry_access_key_insert(r, t->key, err);
}

int kiln_access_key_create(kiln_ctx *ctx, const char *account, kiln_access_key *ret,
                           kiln_error **err)
{
        kiln_access_key k = {0};
        create_txn t = {account ? account : ctx->account, &k};

        if (!config_has_account(ctx->cfg, t.account))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Account '%s' is not configured in %s",
                                      t.account ? t.account : "", ctx->cfg->path);
        k.access_key_id = random_text("AKIA", KEY_ID_CHARS, KEY_ID_LEN - 4);
        k.secret = random_text("", SECRET_CHARS, SECRET_LEN);
        k.account_id = kiln_xstrdup(t.account);
        k.status = kiln_xstrdup("Active");
        k.create_date = kiln_time_now_iso();
        if (registry_write(ctx->reg, create_insert, &t, err) < 0) {
                kiln_access_key_clear(&k);
                return -1;
        }
        *ret = k;
        return 0;
}

typedef struct list_txn {
        const char *account;
        kiln_access_key *list;
        size_t n;
} list_txn;

static int list_keys(registry *r, void *userdata, kiln_error **err)
{
        list_txn *t = userdata;

        return registry_access_key_list(r, t->account, &t->list, &t->n, err);
}

int kiln_access_keys_describe(kiln_ctx *ctx, const char *account, kiln_access_key **ret,
                              size_t *ret_n, kiln_error **err)
{
        list_txn t = {account, NULL, 0};

        if (registry_read(ctx->reg, list_keys, &t, err) < 0)
                return -1;
        *ret = t.list;
        *ret_n = t.n;
        return 0;
}

typedef struct delete_txn {
        const char *id;
        const char *account;
} delete_txn;

static int delete_key(registry *r, void *userdata, kiln_error **err)
{
        delete_txn *t = userdata;
        kiln_access_key k = {0};
        kiln_autoptr(kiln_error) e = NULL;
        bool mine;

        if (registry_access_key_get(r, t->id, &k, &e) < 0 && e->code != KILN_E_NOT_FOUND) {
                *err = kiln_steal(&e);
                return -1;
        }
        mine = k.account_id && strcmp(k.account_id, t->account) == 0;
        kiln_access_key_clear(&k);
        if (!mine)
                return kiln_error_set(err, KILN_E_NOT_FOUND, "NoSuchEntity",
                                      "The Access Key with id %s cannot be found (for account "
                                      "%s).",
                                      t->id, t->account);
        return registry_access_key_delete(r, t->id, err);
}

int kiln_access_key_delete(kiln_ctx *ctx, const char *access_key_id, kiln_error **err)
{
        delete_txn t = {access_key_id, ctx->account};

        if (!access_key_id || !*access_key_id)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter AccessKeyId");
        return registry_write(ctx->reg, delete_key, &t, err);
}

/* ---- Signature Version 4 ---- */

static int fail(kiln_error **err, int code, const char *api, const char *msg)
{
        return kiln_error_set(err, code, api, "%s", msg);
}

static const char *header(const kiln_http_request *req, const char *name)
{
        for (size_t i = 0; i < req->n_headers; i++)
                if (strcasecmp(req->headers[i].name, name) == 0)
                        return req->headers[i].value;
        return NULL;
}

static const char *query(const kiln_http_request *req, const char *name)
{
        for (size_t i = 0; i < req->n_query; i++)
                if (strcmp(req->query[i].name, name) == 0)
                        return req->query[i].value;
        return NULL;
}

/* RFC 3986 encoding: unreserved characters stay, every other byte is %XX; '/' stays in paths. */
static void uri_encode(kiln_buf *b, const char *s, bool path)
{
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;

                if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
                    (path && c == '/'))
                        kiln_buf_append(b, s, 1);
                else
                        kiln_buf_appendf(b, "%%%02X", c);
        }
}

static void hex(const unsigned char *d, size_t n, char *out)
{
        for (size_t i = 0; i < n; i++)
                snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
        unsigned char d[32];
        unsigned int n = 0;

        EVP_Digest(data, len, d, &n, EVP_sha256(), NULL);
        hex(d, 32, out);
}

static void hmac(const void *key, size_t key_len, const char *msg, unsigned char out[32])
{
        unsigned int n = 32;

        HMAC(EVP_sha256(), key, (int) key_len, (const unsigned char *) msg, strlen(msg), out, &n);
}

/* The parts of a signature, from the header or the query. */
typedef struct sig_parts {
        char *credential; /* AKID/date/region/service/aws4_request */
        char *signed_headers;
        char *signature;
        const char *amz_date;
        int64_t expires; /* presigned only; 0 otherwise */
        bool presigned;
} sig_parts;

static void sig_parts_clear(sig_parts *p)
{
        free(p->credential);
        free(p->signed_headers);
        free(p->signature);
}

/* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
static int parse_authorization(const char *auth, sig_parts *p, kiln_error **err)
{
        const char *s = auth + strlen(ALGORITHM);

        while (*s) {
                const char *name, *eq, *end;
                char **slot = NULL;

                while (*s == ' ' || *s == ',')
                        s++;
                if (!*s)
                        break;
                name = s;
                eq = strchr(s, '=');
                if (!eq)
                        return fail(err, KILN_E_PERMISSION, "IncompleteSignature",
                                    "Authorization header requires each component as "
                                    "Name=Value, separated by commas");
                end = eq + strcspn(eq, ",");
                if ((size_t) (eq - name) == 10 && strncmp(name, "Credential", 10) == 0)
                        slot = &p->credential;
                else if ((size_t) (eq - name) == 13 && strncmp(name, "SignedHeaders", 13) == 0)
                        slot = &p->signed_headers;
                else if ((size_t) (eq - name) == 9 && strncmp(name, "Signature", 9) == 0)
                        slot = &p->signature;
                if (slot) {
                        free(*slot);
                        *slot = kiln_xstrndup(eq + 1, (size_t) (end - eq - 1));
                        /* trailing blanks */
                        for (size_t n = strlen(*slot); n && (*slot)[n - 1] == ' '; n--)
                                (*slot)[n - 1] = '\0';
                }
                s = end;
        }
        if (!p->credential || !p->signed_headers || !p->signature)
                return kiln_error_set(err, KILN_E_PERMISSION, "IncompleteSignature",
                                      "Authorization header requires 'Credential', "
                                      "'SignedHeaders' and 'Signature' parameters. "
                                      "Authorization=%s",
                                      auth);
        return 0;
}

/* 1 to MAX_EXPIRES_S, in decimal digits only. */
static bool parse_seconds(const char *s, int64_t *ret)
{
        int64_t v = 0;

        if (!s || !*s || strlen(s) > 6)
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return false;
                v = v * 10 + (*s - '0');
        }
        *ret = v;
        return v >= 1 && v <= MAX_EXPIRES_S;
}

static int find_signature(const kiln_http_request *req, sig_parts *p, kiln_error **err)
{
        const char *auth = header(req, "Authorization");
        const char *alg = query(req, "X-Amz-Algorithm");

        if (auth && strncmp(auth, ALGORITHM " ", strlen(ALGORITHM) + 1) == 0) {
                p->amz_date = header(req, "X-Amz-Date");
                if (!p->amz_date)
                        return fail(err, KILN_E_PERMISSION, "IncompleteSignature",
                                    "Authorization header requires existence of either a "
                                    "'X-Amz-Date' or a 'Date' header");
                return parse_authorization(auth, p, err);
        }
        if (auth)
                return fail(err, KILN_E_PERMISSION, "IncompleteSignature",
                            "Unsupported Authorization Type: only AWS4-HMAC-SHA256 is");
        if (!alg)
                return fail(err, KILN_E_PERMISSION, "MissingAuthenticationToken",
                            "Request is missing Authentication Token");
        if (strcmp(alg, ALGORITHM) != 0)
                return fail(err, KILN_E_PERMISSION, "IncompleteSignature",
                            "X-Amz-Algorithm only supports AWS4-HMAC-SHA256");
        p->presigned = true;
        p->amz_date = query(req, "X-Amz-Date");
        if (!query(req, "X-Amz-Credential") || !query(req, "X-Amz-SignedHeaders") ||
            !query(req, "X-Amz-Signature") || !p->amz_date || !query(req, "X-Amz-Expires"))
                return fail(err, KILN_E_PERMISSION, "IncompleteSignature",
                            "A presigned request needs X-Amz-Credential, X-Amz-Date, "
                            "X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature");
        p->credential = kiln_xstrdup(query(req, "X-Amz-Credential"));
        p->signed_headers = kiln_xstrdup(query(req, "X-Amz-SignedHeaders"));
        p->signature = kiln_xstrdup(query(req, "X-Amz-Signature"));
        if (!parse_seconds(query(req, "X-Amz-Expires"), &p->expires))
                return fail(err, KILN_E_PERMISSION, "AuthFailure",
                            "X-Amz-Expires must be a number of seconds from 1 to 604800");
        return 0;
}

/* YYYYMMDDTHHMMSSZ as seconds since the epoch. */
static int parse_amz_date(const char *s, int64_t *ret)
{
        struct tm tm = {0};
        const char *end;

        if (!s || strlen(s) != 16)
                return -1;
        end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
        if (!end || *end)
                return -1;
        *ret = (int64_t) timegm(&tm);
        return 0;
}

static int cmp_pairs(const void *a, const void *b)
{
        const kiln_http_header *x = a, *y = b;
        int c = strcmp(x->name, y->name);

        return c ? c : strcmp(x->value, y->value);
}

/* The canonical request, hashed. */
static void canonical_request_hash(const kiln_http_request *req, const sig_parts *p, char out[65])
{
        kiln_buf b = {0};
        kiln_http_header *pairs = kiln_xcalloc(req->n_query + 1, sizeof(*pairs));
        kiln_buf *enc = kiln_xcalloc(2 * req->n_query + 1, sizeof(*enc));
        size_t n = 0;
        char body[65];
        const char *h = p->signed_headers ? p->signed_headers : "";

        kiln_buf_appendf(&b, "%s\n", req->method);
        uri_encode(&b, req->path && *req->path ? req->path : "/", true);
        kiln_buf_append(&b, "\n", 1);
        for (size_t i = 0; i < req->n_query; i++) {
                if (p->presigned && strcmp(req->query[i].name, "X-Amz-Signature") == 0)
                        continue;
                uri_encode(&enc[2 * n], req->query[i].name, false);
                uri_encode(&enc[2 * n + 1], req->query[i].value ? req->query[i].value : "", false);
                kiln_buf_append(&enc[2 * n], "", 1);
                kiln_buf_append(&enc[2 * n + 1], "", 1);
                pairs[n].name = enc[2 * n].data;
                pairs[n].value = enc[2 * n + 1].data;
                n++;
        }
        qsort(pairs, n, sizeof(*pairs), cmp_pairs);
        for (size_t i = 0; i < n; i++)
                kiln_buf_appendf(&b, "%s%s=%s", i ? "&" : "", pairs[i].name, pairs[i].value);
        kiln_buf_append(&b, "\n", 1);
        while (*h) {
                size_t len = strcspn(h, ";");
                kiln_autofree char *name = kiln_xstrndup(h, len);
                const char *v = "";

                for (size_t i = 0; i < req->n_headers; i++)
                        if (strcasecmp(req->headers[i].name, name) == 0)
                                v = req->headers[i].value;
                kiln_buf_appendf(&b, "%s:", name);
                /* trimmed, inner runs of spaces folded to one */
                while (*v == ' ' || *v == '\t')
                        v++;
                for (bool space = false; *v; v++) {
                        if (*v == ' ' || *v == '\t') {
                                space = true;
                                continue;
                        }
                        if (space)
                                kiln_buf_append(&b, " ", 1);
                        space = false;
                        kiln_buf_append(&b, v, 1);
                }
                kiln_buf_append(&b, "\n", 1);
                h += len;
                if (*h == ';')
                        h++;
        }
        sha256_hex(req->body ? req->body : "", req->body_len, body);
        kiln_buf_appendf(&b, "\n%s\n%s", p->signed_headers, body);
        sha256_hex(b.data, b.len, out);
        for (size_t i = 0; i < 2 * n; i++)
                free(enc[i].data);
        free(enc);
        free(pairs);
        free(b.data);
}

/* Credential: AKID/YYYYMMDD/region/service/aws4_request, split in place. */
static int split_credential(char *cred, char *parts[5], kiln_error **err)
{
        char *s = cred;

        for (int i = 0; i < 5; i++) {
                parts[i] = s;
                s = strchr(s, '/');
                if (i < 4 && !s)
                        return kiln_error_set(err, KILN_E_PERMISSION, "IncompleteSignature",
                                              "Credential '%s' is not "
                                              "KEY/YYYYMMDD/REGION/ec2/aws4_request",
                                              cred);
                if (s)
                        *s++ = '\0';
        }
        if (s || strcmp(parts[4], "aws4_request") != 0 || strlen(parts[1]) != 8)
                return fail(err, KILN_E_PERMISSION, "IncompleteSignature",
                            "The credential scope must be YYYYMMDD/REGION/ec2/aws4_request");
        return 0;
}

typedef struct verify_txn {
        const char *key_id;
        kiln_access_key key;
} verify_txn;

static int load_key(registry *r, void *userdata, kiln_error **err)
{
        verify_txn *t = userdata;

        kiln_access_key_clear(&t->key);
        return registry_access_key_get(r, t->key_id, &t->key, err);
}

static bool signed_host(const char *list)
{
        for (const char *h = list ? list : ""; *h;) {
                size_t len = strcspn(h, ";");

                if (len == 4 && strncmp(h, "host", 4) == 0)
                        return true;
                h += len;
                if (*h == ';')
                        h++;
        }
        return false;
}

static int check_signature(kiln_ctx *ctx, const kiln_http_request *req, sig_parts *p,
                           kiln_sigv4_identity *ret, kiln_error **err)
{
        kiln_autofree char *cred = kiln_xstrdup(p->credential);
        char *scope[5];
        int64_t when = 0, now = req->now ? req->now : (int64_t) time(NULL);
        verify_txn t = {0};
        unsigned char k[32], k2[32];
        char want[65], hash[65];
        kiln_buf sts = {0};
        kiln_autofree char *secret = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        int rc = -1;

        if (split_credential(cred, scope, err) < 0)
                return -1;
        if (parse_amz_date(p->amz_date, &when) < 0)
                return fail(err, KILN_E_PERMISSION, "IncompleteSignature",
                            "X-Amz-Date must be YYYYMMDDTHHMMSSZ");
        if (strncmp(p->amz_date, scope[1], 8) != 0)
                return kiln_error_set(err, KILN_E_PERMISSION, "SignatureDoesNotMatch",
                                      "Date in Credential scope does not match YYYYMMDD from "
                                      "ISO-8601 version of date from HTTP: '%s' != '%.8s'",
                                      scope[1], p->amz_date);
        if (strcmp(scope[3], SERVICE) != 0)
                return kiln_error_set(err, KILN_E_PERMISSION, "AuthFailure",
                                      "Credential should be scoped to correct service: 'ec2', "
                                      "not '%s'",
                                      scope[3]);
        if (!config_region(ctx->cfg, scope[2]))
                return kiln_error_set(err, KILN_E_PERMISSION, "AuthFailure",
                                      "Credential should be scoped to a valid region: '%s' is "
                                      "not a region of this kiln",
                                      scope[2]);
        if (!signed_host(p->signed_headers))
                return fail(err, KILN_E_PERMISSION, "IncompleteSignature",
                            "The host header must be signed (SignedHeaders)");
        if ((!p->presigned && (when > now + MAX_SKEW_S || when < now - MAX_SKEW_S)) ||
            (p->presigned && (when > now + MAX_SKEW_S || now > when + p->expires)))
                return kiln_error_set(err, KILN_E_PERMISSION, "RequestExpired",
                                      "Request has expired: X-Amz-Date %s is more than 15 "
                                      "minutes from the server's clock%s",
                                      p->amz_date, p->presigned ? " or past X-Amz-Expires" : "");
        t.key_id = scope[0];
        if (registry_read(ctx->reg, load_key, &t, &e) < 0 && e->code != KILN_E_NOT_FOUND) {
                *err = kiln_steal(&e);
                return -1;
        }
        if (!t.key.secret)
                return kiln_error_set(err, KILN_E_PERMISSION, "AuthFailure",
                                      "AWS was not able to validate the provided access "
                                      "credentials (no access key %s)",
                                      scope[0]);
        secret = kiln_xasprintf("AWS4%s", t.key.secret);
        hmac(secret, strlen(secret), scope[1], k);
        hmac(k, 32, scope[2], k2);
        hmac(k2, 32, scope[3], k);
        hmac(k, 32, "aws4_request", k2);
        canonical_request_hash(req, p, hash);
        kiln_buf_appendf(&sts, ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", p->amz_date, scope[1],
                         scope[2], scope[3], hash);
        kiln_buf_append(&sts, "", 1);
        hmac(k2, 32, sts.data, k);
        hex(k, 32, want);
        if (p->signature && strlen(p->signature) == 64 &&
            CRYPTO_memcmp(want, p->signature, 64) == 0) {
                ret->access_key_id = kiln_xstrdup(t.key.access_key_id);
                ret->account_id = kiln_xstrdup(t.key.account_id);
                ret->region = kiln_xstrdup(scope[2]);
                rc = 0;
        } else {
                fail(err, KILN_E_PERMISSION, "SignatureDoesNotMatch",
                     "The request signature we calculated does not match the signature you "
                     "provided. Check your AWS Secret Access Key and signing method.");
        }
        explicit_bzero(secret, strlen(secret));
        explicit_bzero(k, sizeof(k));
        explicit_bzero(k2, sizeof(k2));
        free(sts.data);
        kiln_access_key_clear(&t.key);
        return rc;
}

int kiln_sigv4_verify(kiln_ctx *ctx, const kiln_http_request *req, kiln_sigv4_identity *ret,
                      kiln_error **err)
{
        sig_parts p = {0};
        int rc = find_signature(req, &p, err);

        if (rc == 0)
                rc = check_signature(ctx, req, &p, ret, err);
        sig_parts_clear(&p);
        return rc;
}
