/* import-image: a published cloud image, downloaded over HTTP(S) and registered.
 *
 * The download goes to HOME/downloads/URLHASH.img (through URLHASH.img.part, which a later run
 * resumes if the server's file is still the same: URLHASH.img.part.meta keeps its validator); the
 * file is checked as a standalone disk image, its OS read from the disk itself, and it is then
 * registered as register-image does. The downloaded file is removed whatever happens after the
 * download: only an unfinished .part stays behind, to be resumed. */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/data.h"
#include "disk/detect.h"
#include "disk/disk.h"
#include "image/image-private.h"
#include "image/image-rules.h"
#include "net/download.h"
#include "util/util.h"

typedef struct import_run {
        const kiln_import_spec *spec;
        kiln_progress_fn progress;
        void *userdata;
} import_run;

static int on_download(uint64_t done, uint64_t total, double rate, void *userdata)
{
        import_run *run = userdata;

        (void) rate;
        if (run->progress)
                run->progress("download", done, total, run->userdata);
        return 0;
}

/* The first 16 hex digits of the SHA-256 of the URL: the download's file name. */
static char *url_key(const char *url)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        char hex[33];

        if (EVP_Digest(url, strlen(url), md, &n, EVP_sha256(), NULL) != 1 || n < 16)
                return kiln_xstrdup("download");
        for (unsigned i = 0; i < 16; i++)
                snprintf(hex + (size_t) 2 * i, 3, "%02x", md[i]);
        return kiln_xstrdup(hex);
}

/* An image name from the URL's file name without its disk extension ("debian-12-generic-amd64"
 * from ".../debian-12-generic-amd64.qcow2?x=1"), or NULL. */
static char *name_from_url(const char *url)
{
        static const char *const exts[] = {".qcow2", ".img", ".raw", ".vmdk", ".vhdx", ".qcow"};
        const char *end = url + strcspn(url, "?#");
        const char *start = end;
        char *name;
        size_t len;

        while (start > url && start[-1] != '/')
                start--;
        len = (size_t) (end - start);
        for (size_t i = 0; i < KILN_ARRAY_SIZE(exts); i++) {
                size_t el = strlen(exts[i]);

                if (len > el && strncmp(start + len - el, exts[i], el) == 0) {
                        len -= el;
                        break;
                }
        }
        if (len == 0)
                return NULL;
        name = kiln_xstrndup(start, len);
        if (kiln_image_name_check(name, NULL) < 0) {
                free(name);
                return NULL;
        }
        return name;
}

typedef struct name_txn {
        kiln_ctx *ctx;
        const char *name;
} name_txn;

static int check_name_free(registry *r, void *userdata, kiln_error **err)
{
        name_txn *t = userdata;

        return rules_check_name_free(r, t->ctx->region->name, t->ctx->account, t->name, err);
}

/* KILN_STALL_TIMEOUT (seconds) shortens the stall timeout, for tests; 0: the default. */
static int stall_timeout(void)
{
        const char *v = getenv("KILN_STALL_TIMEOUT");
        long n = v ? strtol(v, NULL, 10) : 0;

        return n > 0 && n < 3600 ? (int) n : 0;
}

/* The longest URL kept in the descriptions: the snapshot's "Imported for ami-<17 hex digits>
 * from URL" then has 255 characters, EC2's limit, and the image's "Imported from URL" fewer. The
 * URL kept has no credentials, query or fragment (download_url_redact). */
#define IMPORT_SOURCE_MAX (255 - sizeof("Imported for ami-12345678901234567 from ") + 1)

/* KILN_DOWNLOAD_MAX (bytes) caps the size of a download, for tests; 0: only the free space. */
static uint64_t download_max(void)
{
        const char *v = getenv("KILN_DOWNLOAD_MAX");
        unsigned long long n;
        char *end = NULL;

        if (!v || !*v)
                return 0;
        errno = 0;
        n = strtoull(v, &end, 10);
        return errno == 0 && *end == '\0' ? (uint64_t) n : 0;
}

static int import_url(kiln_ctx *ctx, const kiln_import_spec *spec, const char *owner_alias,
                      double hourly_price, kiln_progress_fn progress, void *userdata,
                      char **ret_image_id, kiln_error **err);

/* ---- the catalog ---- */

typedef struct catalog_entry {
        json_t *root; /* owns the strings below */
        const char *name, *url, *checksum_url, *checksum_type, *platform, *default_user;
        const char *owner_alias, *architecture, *description;
        double hourly_price;
} catalog_entry;

static const char *entry_str(json_t *e, const char *key)
{
        return json_string_value(json_object_get(e, key));
}

static int catalog_find(const char *name, catalog_entry *ret, kiln_error **err)
{
        kiln_autofree char *path = data_file("templates/catalog.json");
        json_error_t jerr;
        json_t *root = json_load_file(path, 0, &jerr), *list, *e;
        size_t i;

        if (!root)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "%s:%d:%d: %s", path, jerr.line,
                                      jerr.column, jerr.text);
        list = json_object_get(root, "Images");
        json_array_foreach (list, i, e) {
                if (!json_is_object(e) || !entry_str(e, "Name") ||
                    strcmp(entry_str(e, "Name"), name) != 0)
                        continue;
                ret->root = root;
                ret->name = entry_str(e, "Name");
                ret->url = entry_str(e, "Url");
                ret->checksum_url = entry_str(e, "ChecksumUrl");
                ret->checksum_type = entry_str(e, "ChecksumType");
                ret->platform = entry_str(e, "Platform");
                ret->default_user = entry_str(e, "DefaultUser");
                ret->owner_alias = entry_str(e, "OwnerAlias");
                ret->architecture = entry_str(e, "Architecture");
                ret->description = entry_str(e, "Description");
                ret->hourly_price = json_number_value(json_object_get(e, "HourlyPrice"));
                if (!ret->url)
                        break;
                return 0;
        }
        json_decref(root);
        return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidParameterValue",
                              "the catalog %s has no image '%s' with a Url", path, name);
}

char *image_sums_lookup(const char *sums, const char *file, const char *type)
{
        kiln_autofree char *copy = kiln_xstrdup(sums);
        char *save = NULL;

        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char hex[129] = "", name[512] = "";
                char *paren = strstr(line, " (");
                const char *n = name;

                if (paren && sscanf(paren, " (%511[^)]) = %128s", name, hex) == 2) {
                        /* BSD style: the algorithm comes first */
                } else if (sscanf(line, "%128s %511s", hex, name) != 2) {
                        continue;
                }
                if (*n == '*') /* sha256sum's binary mode */
                        n++;
                if (strcmp(n, file) == 0 && strspn(hex, "0123456789abcdefABCDEF") == strlen(hex))
                        return kiln_xasprintf("%s:%s", type, hex);
        }
        return NULL;
}

#define SUMS_MAX (4U << 20) /* bytes of a sums file */

/* The entry's checksum, from its ChecksumUrl (a small sums file, downloaded next to DEST). */
static int catalog_checksum(const catalog_entry *c, const char *dir, char **ret, kiln_error **err)
{
        kiln_autofree char *dest = kiln_xasprintf("%s/sums.%d", dir, (int) getpid());
        kiln_autofree char *text = NULL;
        const char *file = c->url + strcspn(c->url, "?#");
        kiln_autofree char *base = NULL;
        download_spec ds = {0};
        download_result res = {0};
        size_t len = 0;
        int rc;

        while (file > c->url && file[-1] != '/')
                file--;
        base = kiln_xstrndup(file, strcspn(file, "?#"));
        ds.url = c->checksum_url;
        ds.dest = dest;
        ds.transient = true;
        ds.max_attempts = 3;
        ds.max_bytes = SUMS_MAX;
        rc = download_file(&ds, &res, err);
        download_result_clear(&res);
        if (rc == 0)
                rc = kiln_file_read(dest, SUMS_MAX, &text, &len, err);
        unlink(dest);
        kiln_autofree char *part = kiln_xasprintf("%s.part", dest);
        kiln_autofree char *meta = kiln_xasprintf("%s.part.meta", dest);
        unlink(part);
        unlink(meta);
        if (rc < 0) {
                kiln_error_prefix(err, "cannot read the checksums of '%s'", c->name);
                return -1;
        }
        *ret = image_sums_lookup(text, base, c->checksum_type ? c->checksum_type : "sha256");
        if (!*ret)
                return kiln_error_set(err, KILN_E_INVALID, NULL, "%s lists no checksum for '%s'",
                                      c->checksum_url, base);
        return download_check_checksum_arg(*ret, err);
}

int kiln_image_import(kiln_ctx *ctx, const kiln_import_spec *spec_in, kiln_progress_fn progress,
                      void *userdata, char **ret_image_id, kiln_error **err)
{
        kiln_import_spec merged = *spec_in;
        const kiln_import_spec *spec = &merged;
        catalog_entry cat = {0};
        kiln_autofree char *cat_sum = NULL;
        int r;

        if (spec_in->catalog) {
                if (catalog_find(spec_in->catalog, &cat, err) < 0)
                        return -1;
                merged.url = spec_in->url ? spec_in->url : cat.url;
                merged.name = spec_in->name ? spec_in->name : cat.name;
                merged.platform = spec_in->platform ? spec_in->platform : cat.platform;
                merged.default_user =
                        spec_in->default_user ? spec_in->default_user : cat.default_user;
                merged.architecture =
                        spec_in->architecture ? spec_in->architecture : cat.architecture;
                merged.description = spec_in->description ? spec_in->description : cat.description;
                if (!spec_in->checksum && cat.checksum_url) {
                        kiln_autofree char *dir = kiln_xasprintf("%s/downloads", ctx->home);

                        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                                json_decref(cat.root);
                                return kiln_error_set_errno(err, errno, KILN_E_IO,
                                                            "cannot create '%s'", dir);
                        }
                        kiln_notify(spec->notify, spec->userdata, KILN_LOG_INFO,
                                    "reading the checksum of %s from %s", cat.name,
                                    cat.checksum_url);
                        if (catalog_checksum(&cat, dir, &cat_sum, err) < 0) {
                                json_decref(cat.root);
                                return -1;
                        }
                        merged.checksum = cat_sum;
                }
        }
        r = import_url(ctx, spec, cat.root ? cat.owner_alias : NULL, cat.hourly_price, progress,
                       userdata, ret_image_id, err);
        json_decref(cat.root);
        return r;
}

static int import_url(kiln_ctx *ctx, const kiln_import_spec *spec, const char *owner_alias,
                      double hourly_price, kiln_progress_fn progress, void *userdata,
                      char **ret_image_id, kiln_error **err)
{
        kiln_autofree char *name = NULL, *dir = NULL, *key = NULL, *dest = NULL, *desc = NULL;
        kiln_autofree char *shown = NULL;
        kiln_register_spec rs = {0};
        download_spec ds = {0};
        download_result res = {0};
        import_run run = {spec, progress, userdata};
        name_txn t = {ctx, NULL};
        disk_info info = {0};
        disk_os os = {0};
        int rc;

        if (!spec->url || !*spec->url)
                return kiln_error_set(err, KILN_E_INVALID, "MissingParameter",
                                      "The request must contain the parameter url");
        if (strncmp(spec->url, "http://", 7) != 0 && strncmp(spec->url, "https://", 8) != 0)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "--url '%s': only http:// and https:// URLs are imported",
                                      spec->url);
        if (spec->checksum && download_check_checksum_arg(spec->checksum, err) < 0)
                return -1;
        name = spec->name ? kiln_xstrdup(spec->name) : name_from_url(spec->url);
        if (!name)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidAMIName.Malformed",
                                      "cannot make an image name from '%s': give --name",
                                      spec->url);
        t.name = name;
        shown = download_url_redact(spec->url, IMPORT_SOURCE_MAX);
        desc = kiln_xasprintf("Imported from %s", shown);
        rs.name = name;
        rs.disk_path = spec->url; /* validated below with the real path */
        rs.platform = spec->platform;
        rs.default_user = spec->default_user;
        rs.architecture = spec->architecture;
        rs.description = spec->description ? spec->description : desc;
        rs.source = shown;
        rs.owner_alias = owner_alias;
        rs.hourly_price = hourly_price;
        if (image_register_validate(&rs, err) < 0 ||
            registry_read(ctx->reg, check_name_free, &t, err) < 0)
                return -1;

        dir = kiln_xasprintf("%s/downloads", ctx->home);
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return kiln_error_set_errno(err, errno, KILN_E_IO, "cannot create '%s'", dir);
        key = url_key(spec->url);
        dest = kiln_xasprintf("%s/%s.img", dir, key);
        ds.url = spec->url;
        ds.dest = dest;
        ds.transient = true; /* converted into the pool at once, then removed */
        ds.checksum = spec->checksum;
        ds.progress = on_download;
        ds.userdata = &run;
        ds.stall_timeout_s = stall_timeout();
        ds.max_bytes = download_max();
        kiln_notify(spec->notify, spec->userdata, KILN_LOG_INFO, "downloading %s", shown);
        if (download_file(&ds, &res, err) < 0)
                return -1;
        if (res.resumed_from)
                kiln_notify(spec->notify, spec->userdata, KILN_LOG_INFO, "resumed at byte %llu",
                            (unsigned long long) res.resumed_from);
        kiln_notify(spec->notify, spec->userdata, KILN_LOG_INFO, "downloaded %llu bytes (%s)",
                    (unsigned long long) res.bytes, res.digest ? res.digest : "");
        download_result_clear(&res);

        rc = disk_inspect(dest, &info, err);
        if (rc == 0)
                rc = disk_check_importable(dest, &info, err);
        if (rc == 0 && disk_detect_os(dest, info.format, &os, NULL) == 0 && os.platform) {
                kiln_notify(spec->notify, spec->userdata, KILN_LOG_INFO,
                            "found %s%s%s%s, login user %s",
                            os.pretty_name ? os.pretty_name : os.platform,
                            os.distribution && !os.pretty_name ? " " : "",
                            os.distribution && !os.pretty_name ? os.distribution : "",
                            os.version && !os.pretty_name ? os.version : "",
                            os.default_user ? os.default_user : "unknown");
                if (!rs.platform)
                        rs.platform = os.platform;
                if (!rs.default_user)
                        rs.default_user = os.default_user;
        } else if (rc == 0 && !rs.platform) {
                kiln_notify(
                        spec->notify, spec->userdata, KILN_LOG_WARN,
                        "the OS of %s could not be detected: registered as linux (--platform and "
                        "--default-user set it)",
                        shown);
        }
        if (rc == 0) {
                rs.disk_path = dest;
                rc = image_register_disk(ctx, &rs, true, progress, userdata, ret_image_id, err);
        }
        unlink(dest);
        disk_os_clear(&os);
        disk_info_clear(&info);
        return rc;
}
