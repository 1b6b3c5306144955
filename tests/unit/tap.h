/* Minimal TAP for kiln's unit tests: ok(), is_int(), is_str(), then done() as the exit status. */
#ifndef KILN_TAP_H
#define KILN_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_n, tap_failed;

__attribute__((format(printf, 2, 3))) static int ok(int cond, const char *fmt, ...)
{
        va_list ap;

        tap_n++;
        printf("%s %d - ", cond ? "ok" : "not ok", tap_n);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        if (!cond)
                tap_failed++;
        fflush(stdout);
        return cond;
}

#define is_int(got, want, ...)                                                                     \
        do {                                                                                       \
                long long g_ = (got), w_ = (want);                                                 \
                if (!ok(g_ == w_, __VA_ARGS__))                                                    \
                        printf("#   got: %lld\n#   want: %lld\n", g_, w_);                         \
        } while (0)

#define is_str(got, want, ...)                                                                     \
        do {                                                                                       \
                const char *g_ = (got), *w_ = (want);                                              \
                if (!ok(g_ && w_ ? strcmp(g_, w_) == 0 : g_ == w_, __VA_ARGS__))                   \
                        printf("#   got: '%s'\n#   want: '%s'\n", g_ ? g_ : "(null)",              \
                               w_ ? w_ : "(null)");                                                \
        } while (0)

#define like(got, needle, ...)                                                                     \
        do {                                                                                       \
                const char *g_ = (got), *n_ = (needle);                                            \
                if (!ok(g_ && strstr(g_, n_) != NULL, __VA_ARGS__))                                \
                        printf("#   got: '%s'\n#   wanted it to contain: '%s'\n",                  \
                               g_ ? g_ : "(null)", n_);                                            \
        } while (0)

static int done(void)
{
        printf("1..%d\n", tap_n);
        return tap_failed ? 1 : 0;
}

#endif
