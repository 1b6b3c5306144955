/* EC2's filters, as every describe verb takes them: the known names and tag:KEY, and values
 * that are wildcard patterns. */
#include <string.h>

#include <kiln/text.h>

#include "model/filter.h"
#include "util/util.h"

int filter_check_names(const kiln_filter *f, size_t n, const char *const *known, kiln_error **err)
{
        for (size_t i = 0; i < n; i++) {
                bool ok = filter_tag(&f[i]);

                for (size_t k = 0; !ok && known[k]; k++)
                        ok = strcmp(f[i].name, known[k]) == 0;
                if (!ok)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidFilter",
                                              "The filter '%s' is invalid", f[i].name);
        }
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
bool filter_wildcard(const char *p, const char *s)
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

bool filter_match_any(const kiln_filter *f, const char *value)
{
        if (!value)
                return false;
        for (size_t i = 0; i < f->n_values; i++)
                if (filter_wildcard(f->values[i], value))
                        return true;
        return false;
}

bool filter_tag(const kiln_filter *f)
{
        return (strncmp(f->name, "tag:", 4) == 0 && f->name[4]) ||
               strcmp(f->name, "tag-key") == 0 || strcmp(f->name, "tag-value") == 0;
}

bool filter_match_tags(const kiln_filter *f, const kiln_tag *tags, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (strcmp(f->name, "tag-key") == 0 && filter_match_any(f, tags[i].key))
                        return true;
                if (strcmp(f->name, "tag-value") == 0 && filter_match_any(f, tags[i].value))
                        return true;
                if (strncmp(f->name, "tag:", 4) == 0 && strcmp(f->name + 4, tags[i].key) == 0 &&
                    filter_match_any(f, tags[i].value))
                        return true;
        }
        return false;
}
