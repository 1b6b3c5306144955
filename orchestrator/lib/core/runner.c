/* The runner: threads of a long-running front end (the EC2 endpoint) that do the work a verb
 * would otherwise leave to a detached process: an instance's start and the watch of its boot.
 * Each job opens a context of its own (a libvirt connection and an SQLite handle belong to one
 * thread at a time) and the runner waits for them all when it is freed. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctx-private.h"
#include "util/util.h"

struct kiln_runner {
        pthread_mutex_t lock;
        pthread_cond_t idle;
        unsigned running;
        bool stopping;
};

typedef struct runner_job {
        kiln_runner *runner;
        char *home, *region, *account, *id;
        ctx_job_fn fn;
} runner_job;

kiln_runner *kiln_runner_new(void)
{
        kiln_runner *r = kiln_xcalloc(1, sizeof(*r));

        pthread_mutex_init(&r->lock, NULL);
        pthread_cond_init(&r->idle, NULL);
        return r;
}

void kiln_runner_free(kiln_runner *r)
{
        if (!r)
                return;
        pthread_mutex_lock(&r->lock);
        r->stopping = true;
        while (r->running > 0)
                pthread_cond_wait(&r->idle, &r->lock);
        pthread_mutex_unlock(&r->lock);
        pthread_cond_destroy(&r->idle);
        pthread_mutex_destroy(&r->lock);
        free(r);
}

void kiln_ctx_set_runner(kiln_ctx *ctx, kiln_runner *r)
{
        ctx->runner = r;
}

bool ctx_stopping(const kiln_ctx *ctx)
{
        bool stopping = false;

        if (kiln_interrupted())
                return true;
        if (ctx->runner) {
                pthread_mutex_lock(&ctx->runner->lock);
                stopping = ctx->runner->stopping;
                pthread_mutex_unlock(&ctx->runner->lock);
        }
        return stopping;
}

static void job_free(runner_job *j)
{
        free(j->home);
        free(j->region);
        free(j->account);
        free(j->id);
        free(j);
}

static void *job_main(void *arg)
{
        runner_job *j = arg;
        kiln_runner *r = j->runner;
        kiln_ctx_options opts = {j->home, j->region, j->account};
        kiln_ctx *ctx = NULL;
        kiln_autoptr(kiln_error) e = NULL;

        if (kiln_ctx_new(&opts, &ctx, &e) == 0) {
                ctx->runner = r;
                j->fn(ctx, j->id);
                kiln_ctx_free(ctx);
        } else {
                kiln_log(KILN_LOG_WARN, "%s: cannot open a context for its job: %s", j->id, e->msg);
        }
        job_free(j);
        pthread_mutex_lock(&r->lock);
        if (--r->running == 0)
                pthread_cond_broadcast(&r->idle);
        pthread_mutex_unlock(&r->lock);
        return NULL;
}

int ctx_run(kiln_ctx *ctx, const char *id, ctx_job_fn fn)
{
        kiln_runner *r = ctx->runner;
        runner_job *j;
        pthread_attr_t attr;
        pthread_t t;
        int rc;

        if (!r)
                return 1;
        j = kiln_xcalloc(1, sizeof(*j));
        j->runner = r;
        j->home = kiln_xstrdup(ctx->home);
        j->region = kiln_xstrdup(ctx->region->name);
        j->account = kiln_xstrdup(ctx->account);
        j->id = kiln_xstrdup(id);
        j->fn = fn;
        pthread_mutex_lock(&r->lock);
        if (r->stopping) {
                pthread_mutex_unlock(&r->lock);
                job_free(j);
                return 1;
        }
        r->running++;
        pthread_mutex_unlock(&r->lock);
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&t, &attr, job_main, j);
        pthread_attr_destroy(&attr);
        if (rc != 0) {
                job_free(j);
                pthread_mutex_lock(&r->lock);
                if (--r->running == 0)
                        pthread_cond_broadcast(&r->idle);
                pthread_mutex_unlock(&r->lock);
                return 1;
        }
        return 0;
}
