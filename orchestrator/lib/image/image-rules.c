/* Validation, visibility and filters for images and snapshots, with EC2's error codes and
 * wording (reference/ec2-ami.md §5, §6.1). */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include <kiln/text.h>

#include "image/image-rules.h"
#include "util/util.h"

int rules_check_image_id(const char *id, kiln_error **err)
{
        if (!kiln_id_valid("ami", id))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidAMIID.Malformed",
                                      "Invalid id: \"%s\" (expecting \"ami-...\")", id ? id : "");
        return 0;
}

int rules_check_snapshot_id(const char *id, kiln_error **err)
{
        if (!kiln_id_valid("snap", id))
                return kiln_error_set(err, KILN_E_INVALID, "InvalidSnapshotID.Malformed",
                                      "Invalid id: \"%s\" (expecting \"snap-...\")", id ? id : "");
        return 0;
}

int kiln_image_name_check(const char *name, kiln_error **err)
{
        size_t n = name ? strlen(name) : 0;
        bool ok = n >= 3 && n <= 128;

        for (size_t i = 0; ok && i < n; i++) {
                char c = name[i];

                ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     strchr("()[]./-'@_ ", c) != NULL;
        }
        if (!ok)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidAMIName.Malformed",
                                      "AMI names must be between 3 and 128 characters long, and "
                                      "may contain letters, numbers, '(', ')', '.', '-', '/' and "
                                      "'_'");
        return 0;
}

int kiln_image_description_check(const char *description, kiln_error **err)
{
        return kiln_text_check("Description", description, KILN_DESCRIPTION_MAX, err);
}

int rules_check_name_free(registry *r, const char *region, const char *owner, const char *name,
                          kiln_error **err)
{
        kiln_autofree char *in_use = NULL;

        if (registry_image_find_name(r, region, owner, name, &in_use, err) < 0)
                return -1;
        if (in_use)
                return kiln_error_set(err, KILN_E_EXISTS, "InvalidAMIName.Duplicate",
                                      "AMI name %s is already in use by AMI %s", name, in_use);
        return 0;
}

bool rules_shared_with(const kiln_ctx *ctx, const kiln_image *img, const char *account)
{
        for (size_t i = 0; i < img->n_launch_permissions; i++) {
                const kiln_permission *p = &img->launch_permissions[i];

                if (p->kind == KILN_PERM_USER && strcmp(p->value, account) == 0)
                        return true;
                if (p->kind == KILN_PERM_ORG && ctx_account_in_org(ctx, account, p->value))
                        return true;
        }
        return false;
}

bool rules_can_launch(const kiln_ctx *ctx, const kiln_image *img)
{
        return strcmp(img->owner_id, ctx->account) == 0 || img->is_public ||
               rules_shared_with(ctx, img, ctx->account);
}

int rules_not_found_image(kiln_error **err, const char *id)
{
        return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidAMIID.NotFound",
                              "The image id '[%s]' does not exist", id);
}

int rules_not_authorized(kiln_error **err, const char *id)
{
        return kiln_error_set(err, KILN_E_PERMISSION, "AuthFailure",
                              "Not authorized for images: [%s]", id);
}

int rules_image_visible(kiln_ctx *ctx, registry *r, const char *id, kiln_image *ret,
                        kiln_error **err)
{
        return rules_image_visible_in(ctx, r, ctx->region->name, id, ret, err);
}

bool rules_worker_alive(pid_t pid)
{
        return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int rules_image_visible_in(kiln_ctx *ctx, registry *r, const char *region, const char *id,
                           kiln_image *ret, kiln_error **err)
{
        kiln_autoptr(kiln_error) e = NULL;
        kiln_image img = {0};

        if (rules_check_image_id(id, err) < 0)
                return -1;
        if (registry_image_get(r, id, &img, &e) < 0) {
                if (e->code != KILN_E_NOT_FOUND) {
                        *err = kiln_steal(&e);
                        return -1;
                }
                return rules_not_found_image(err, id);
        }
        if (strcmp(img.region, region) != 0 || !rules_can_launch(ctx, &img)) {
                kiln_image_clear(&img);
                return rules_not_found_image(err, id);
        }
        *ret = img;
        return 0;
}

/* One element of a wildcard pattern at p: '*', '?', or a literal character ('\\' makes the
 * next character literal; a '\\' at the end is itself). Characters are UTF-8 characters, and a
 * byte that is not part of one is a character of its own. */
typedef enum { WILD_STAR, WILD_ONE, WILD_LITERAL } wild_kind;

typedef struct wild_elem {
        wild_kind kind;
        size_t len;      /* in the pattern */
        const char *lit; /* WILD_LITERAL: the character's bytes */
        size_t lit_len;
} wild_elem;

static wild_elem wild_at(const char *p)
{
        wild_elem e = {WILD_LITERAL, 1, p, 1};
        size_t esc = p[0] == '\\' && p[1] ? 1 : 0;
        uint32_t cp;

        if (p[0] == '*' || p[0] == '?') {
                e.kind = p[0] == '*' ? WILD_STAR : WILD_ONE;
                return e;
        }
        e.lit = p + esc;
        e.lit_len = kiln_utf8_char(e.lit, &cp);
        if (e.lit_len == 0)
                e.lit_len = 1;
        e.len = esc + e.lit_len;
        return e;
}

/* What can be reached from the states in on without reading a character: past a '*' (an empty
 * run) and past a '?' (zero characters). Moves only go forward, so one pass suffices. */
static bool wild_close(const char *p, size_t plen, bool *on)
{
        bool any = false;

        for (size_t i = 0; i < plen;) {
                wild_elem e = wild_at(p + i);

                if (on[i] && e.kind != WILD_LITERAL)
                        on[i + e.len] = true;
                any = any || on[i];
                i += e.len;
        }
        return any || on[plen];
}

/* A simulation of the pattern as an automaton: the set of pattern positions that the text read
 * so far can have reached, advanced one character of s at a time. Unlike backtracking (which
 * took hours on "*a*a*a*a*a*a*a*a*a*ab" against 128 'a's) it costs O(len(p) x len(s)) at
 * worst, with no recursion; '?' matching zero characters rules out the simpler last-star
 * method. */
bool rules_wildcard(const char *p, const char *s)
{
        size_t plen = strlen(p);
        kiln_autofree bool *buf = kiln_xcalloc(2 * (plen + 1), sizeof(bool));
        bool *cur = buf, *next = buf + plen + 1;

        cur[0] = true;
        if (!wild_close(p, plen, cur))
                return false;
        while (*s) {
                uint32_t cp;
                size_t n = kiln_utf8_char(s, &cp);
                bool *t;

                if (n == 0)
                        n = 1;
                memset(next, 0, (plen + 1) * sizeof(bool));
                for (size_t i = 0; i < plen;) {
                        wild_elem e = wild_at(p + i);

                        if (cur[i]) {
                                if (e.kind == WILD_STAR)
                                        next[i] = true;
                                else if (e.kind == WILD_ONE ||
                                         (e.lit_len == n && memcmp(e.lit, s, n) == 0))
                                        next[i + e.len] = true;
                        }
                        i += e.len;
                }
                if (!wild_close(p, plen, next))
                        return false;
                t = cur;
                cur = next;
                next = t;
                s += n;
        }
        return cur[plen];
}

bool rules_match_any(const kiln_filter *f, const char *value)
{
        if (!value)
                return false;
        for (size_t i = 0; i < f->n_values; i++)
                if (rules_wildcard(f->values[i], value))
                        return true;
        return false;
}
