/* Opening the kiln context from the global options, and printing progress of transfers. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"

kiln_ctx *cli_ctx_open(const cli_global *g, int *ret_exit)
{
        kiln_ctx_options opts = {g->home, g->region, g->account};
        kiln_autoptr(kiln_error) err = NULL;
        kiln_ctx *ctx = NULL;

        if (kiln_ctx_new(&opts, &ctx, &err) < 0) {
                *ret_exit = cli_fail(err);
                return NULL;
        }
        kiln_ctx_set_dry_run(ctx, g->dry_run);
        return ctx;
}

typedef struct progress_state {
        bool enabled;
        bool tty;
        struct timespec start;
        struct timespec last;
        bool drawn;
} progress_state;

static progress_state progress;

void cli_progress_setup(const cli_global *g)
{
        progress.enabled = !g->quiet && !g->no_progress;
        progress.tty = isatty(STDERR_FILENO);
        clock_gettime(CLOCK_MONOTONIC, &progress.start);
        progress.last = progress.start;
        progress.drawn = false;
}

static double elapsed(const struct timespec *a, const struct timespec *b)
{
        return (double) (b->tv_sec - a->tv_sec) + (double) (b->tv_nsec - a->tv_nsec) / 1e9;
}

void cli_progress(const char *what, uint64_t done, uint64_t total, void *userdata)
{
        struct timespec now;
        double secs, rate, mib = 1024.0 * 1024.0;
        bool final = total && done >= total;

        (void) userdata;
        if (!progress.enabled)
                return;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (!final && elapsed(&progress.last, &now) < (progress.tty ? 0.2 : 5.0))
                return;
        progress.last = now;
        secs = elapsed(&progress.start, &now);
        rate = secs > 0 ? (double) done / secs : 0;
        if (progress.tty) {
                int pct = total ? (int) (done * 100 / total) : 0;
                int bar = pct / 5;

                fprintf(stderr, "\r%-24.24s [%-20.*s] %3d%% %8.1f MiB %7.1f MiB/s", what, bar,
                        "####################", pct, (double) done / mib, rate / mib);
                if (total && rate > 0 && !final)
                        fprintf(stderr, " ETA %4.0fs", (double) (total - done) / rate);
                else
                        fputs("         ", stderr);
                progress.drawn = true;
                if (final) {
                        fputc('\n', stderr);
                        progress.drawn = false;
                }
        } else {
                fprintf(stderr, "kiln: %s: %.1f of %.1f MiB (%.1f MiB/s)\n", what,
                        (double) done / mib, (double) total / mib, rate / mib);
        }
        fflush(stderr);
}

void cli_progress_end(const cli_global *g)
{
        (void) g;
        if (progress.drawn)
                fputc('\n', stderr);
        progress.drawn = false;
}
