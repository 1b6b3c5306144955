/* kiln build: one template through source -> launch -> configure -> bake -> test ->
 * distribute, with a manifest of what it made and how long each step took.
 *
 * Everything the run makes (a catalog import, a temporary key pair, instances, the new image
 * and its copies) is recorded as it is made, so that a failure (or an interrupt) can remove
 * exactly that (on_error cleanup), leave it and say how to remove it (abort), or leave it and
 * the build instance running (keep). */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kiln/build.h>
#include <kiln/instance.h>
#include <kiln/keypair.h>
#include <kiln/tag.h>

#include "util/util.h"

void kiln_build_interrupt(void)
{
        kiln_interrupt();
}

typedef struct made {
        char *instance_ids[4];
        size_t n_instances;
        char *images[16]; /* "REGION IMAGE" */
        size_t n_images;
        char *keypair;
        char *key_file;
        char *imported; /* the source, when the run imported it */
} made;

typedef struct run {
        kiln_ctx *ctx;
        const kiln_build_template *t;
        const kiln_build_options *o;
        kiln_build_manifest *m;
        made made;
        uint64_t t0;
} run;

static void say(const run *r, kiln_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void say(const run *r, kiln_log_level level, const char *fmt, ...)
{
        kiln_autofree char *msg = NULL, *line = NULL;
        va_list ap;
        uint64_t ms = kiln_now_ms() - r->t0;

        if (!r->o->notify)
                return;
        va_start(ap, fmt);
        msg = kiln_xvasprintf(fmt, ap);
        va_end(ap);
        line = kiln_xasprintf("[%3" PRIu64 ".%" PRIu64 "s] %s", ms / 1000, (ms % 1000) / 100, msg);
        r->o->notify(level, line, r->o->userdata);
}

/* Records a finished step in the manifest. */
static void step_done(run *r, const char *name, uint64_t start)
{
        kiln_build_manifest *m = r->m;

        m->steps = kiln_xrealloc(m->steps, (m->n_steps + 1) * sizeof(*m->steps));
        m->steps[m->n_steps].name = kiln_xstrdup(name);
        m->steps[m->n_steps].seconds = (double) (kiln_now_ms() - start) / 1000.0;
        m->n_steps++;
}

static int check_interrupt(kiln_error **err)
{
        if (kiln_interrupted())
                return kiln_error_set(err, KILN_E_INTERRUPTED, NULL, "the build was interrupted");
        return 0;
}

/* ---- source ---- */

static int newest_by_name(run *r, const char *pattern, char **ret, kiln_error **err)
{
        const char *values[] = {pattern};
        const char *states[] = {"available"};
        kiln_filter f[] = {{"name", values, 1}, {"state", states, 1}};
        kiln_image_query q = {0};
        kiln_image *imgs = NULL;
        size_t n = 0;
        const kiln_image *best = NULL;

        q.filters = f;
        q.n_filters = 2;
        if (kiln_images_describe(r->ctx, &q, &imgs, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++)
                if (!best || strcmp(imgs[i].creation_date, best->creation_date) > 0)
                        best = &imgs[i];
        if (best)
                *ret = kiln_xstrdup(best->image_id);
        kiln_images_free(imgs, n);
        if (!best)
                return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidAMIID.NotFound",
                                      "%s: no available image the caller may launch matches "
                                      "the name '%s'",
                                      r->t->path, pattern);
        return 0;
}

static int resolve_source(run *r, kiln_error **err)
{
        const kiln_build_template *t = r->t;

        if (t->source_image_id) {
                r->m->source_image_id = kiln_xstrdup(t->source_image_id);
                return 0;
        }
        if (t->source_name_filter)
                return newest_by_name(r, t->source_name_filter, &r->m->source_image_id, err);
        {
                kiln_import_spec s = {0};
                kiln_autofree char *name =
                        kiln_xasprintf("%s-build-%d", t->source_catalog, (int) getpid());

                s.catalog = t->source_catalog;
                s.name = name;
                say(r, KILN_LOG_INFO, "importing %s from the catalog", t->source_catalog);
                if (kiln_image_import(r->ctx, &s, NULL, NULL, &r->m->source_image_id, err) < 0)
                        return -1;
                r->made.imported = kiln_xstrdup(r->m->source_image_id);
                return 0;
        }
}

/* ---- instances ---- */

static int launch(run *r, const char *image_id, char **ret_id, kiln_error **err)
{
        kiln_run_spec s = {0};
        kiln_instance *list = NULL;
        size_t n = 0;

        s.image_id = image_id;
        s.instance_type = r->t->instance_type;
        s.key_name = r->t->key_name ? r->t->key_name : r->made.keypair;
        s.user_data = r->t->user_data;
        s.user_data_len = r->t->user_data ? strlen(r->t->user_data) : 0;
        s.network = r->t->network;
        s.count = 1;
        if (kiln_instances_run(r->ctx, &s, &list, &n, err) < 0)
                return -1;
        *ret_id = kiln_xstrdup(list[0].instance_id);
        kiln_instances_free(list, n);
        if (r->made.n_instances < KILN_ARRAY_SIZE(r->made.instance_ids))
                r->made.instance_ids[r->made.n_instances++] = kiln_xstrdup(*ret_id);
        say(r, KILN_LOG_INFO, "launched %s from %s; waiting until it is ready", *ret_id, image_id);
        return kiln_instance_wait(r->ctx, *ret_id, KILN_WAIT_READY, 0, err);
}

static void terminate(run *r, const char *id)
{
        kiln_autoptr(kiln_error) e = NULL;

        if (kiln_instances_terminate(r->ctx, &id, 1, NULL, NULL, &e) < 0)
                say(r, KILN_LOG_WARN, "cannot terminate %s: %s", id, e->msg);
        for (size_t i = 0; i < r->made.n_instances; i++)
                if (r->made.instance_ids[i] && strcmp(r->made.instance_ids[i], id) == 0) {
                        free(r->made.instance_ids[i]);
                        r->made.instance_ids[i] = NULL;
                }
}

/* ---- images ---- */

static void record_image(run *r, const char *region, const char *id)
{
        if (r->made.n_images < KILN_ARRAY_SIZE(r->made.images))
                r->made.images[r->made.n_images++] = kiln_xasprintf("%s %s", region, id);
}

/* Deregisters an image and deletes its snapshots (those that no other image uses). */
static void remove_image(run *r, const char *region, const char *id)
{
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        kiln_ctx_options opts = {kiln_ctx_home(r->ctx), region, kiln_ctx_account(r->ctx)};
        kiln_image_query q = {0};
        kiln_image *imgs = NULL;
        size_t n = 0;

        if (kiln_ctx_new(&opts, &ctx, &e) < 0)
                return;
        q.image_ids = &id;
        q.n_image_ids = 1;
        if (kiln_images_describe(ctx, &q, &imgs, &n, NULL) < 0)
                n = 0;
        if (kiln_image_deregister(ctx, id, &e) < 0)
                say(r, KILN_LOG_WARN, "cannot deregister %s: %s", id, e->msg);
        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < imgs[i].n_mappings; k++)
                        if (imgs[i].mappings[k].snapshot_id)
                                kiln_snapshot_delete(ctx, imgs[i].mappings[k].snapshot_id, NULL);
        kiln_images_free(imgs, n);
}

/* The root snapshot of an image, for the manifest. */
static char *root_snapshot(kiln_ctx *ctx, const char *id)
{
        kiln_image_query q = {0};
        kiln_image *imgs = NULL;
        size_t n = 0;
        char *snap = NULL;

        q.image_ids = &id;
        q.n_image_ids = 1;
        if (kiln_images_describe(ctx, &q, &imgs, &n, NULL) == 0 && n && imgs[0].n_mappings)
                snap = kiln_xstrdup(imgs[0].mappings[0].snapshot_id);
        kiln_images_free(imgs, n);
        return snap;
}

static int share(run *r, kiln_ctx *ctx, const char *id, kiln_error **err)
{
        const kiln_build_template *t = r->t;
        size_t n = t->n_share_accounts + t->n_share_organizations + (t->share_public ? 1 : 0);
        kiln_permission *p = kiln_xcalloc(n + 1, sizeof(*p));
        kiln_permission_change c = {0};
        size_t k = 0;
        int rc;

        for (size_t i = 0; i < t->n_share_accounts; i++)
                p[k++] = (kiln_permission){KILN_PERM_USER, t->share_accounts[i]};
        for (size_t i = 0; i < t->n_share_organizations; i++)
                p[k++] = (kiln_permission){KILN_PERM_ORG, t->share_organizations[i]};
        if (t->share_public)
                p[k++] = (kiln_permission){KILN_PERM_ALL, NULL};
        c.add = p;
        c.n_add = k;
        rc = k ? kiln_image_modify_launch_permission(ctx, id, &c, true, err) : 0;
        free(p);
        return rc;
}

/* ---- the run ---- */

static int run_tests(run *r, kiln_error **err)
{
        kiln_autofree char *test_id = NULL;
        uint64_t start = kiln_now_ms();
        int failed = 0;

        say(r, KILN_LOG_INFO, "test: launching an instance of %s", r->m->image_id);
        if (launch(r, r->m->image_id, &test_id, err) < 0)
                return -1;
        r->m->tests = kiln_xcalloc(r->t->n_tests + 1, sizeof(*r->m->tests));
        for (size_t i = 0; i < r->t->n_tests && !kiln_interrupted(); i++) {
                kiln_configure_step step = {KILN_STEP_RUN, r->t->tests[i]};
                kiln_autoptr(kiln_error) e = NULL;
                kiln_build_test *bt = &r->m->tests[r->m->n_tests++];
                int status = 0;

                bt->command = kiln_xstrdup(r->t->tests[i]);
                if (kiln_instance_configure(r->ctx, test_id, &step, 1, r->o->output, r->o->userdata,
                                            &status, &e) < 0 &&
                    status == 0)
                        status = -1;
                bt->exit_status = status;
                bt->passed = status == 0;
                say(r, bt->passed ? KILN_LOG_INFO : KILN_LOG_WARN, "test %s: %s%s%s",
                    bt->passed ? "passed" : "FAILED", r->t->tests[i], e ? ": " : "",
                    e ? e->msg : "");
                if (!bt->passed)
                        failed++;
        }
        terminate(r, test_id);
        step_done(r, "test", start);
        if (check_interrupt(err) < 0)
                return -1;
        if (failed)
                return kiln_error_set(err, KILN_E_STATE, "TestFailed",
                                      "%d of %zu tests failed on an instance of %s", failed,
                                      r->t->n_tests, r->m->image_id);
        return 0;
}

static int distribute(run *r, kiln_error **err)
{
        uint64_t start = kiln_now_ms();
        const kiln_build_template *t = r->t;

        r->m->regions = kiln_xcalloc(t->n_regions + 2, sizeof(*r->m->regions));
        r->m->regions[r->m->n_regions].region = kiln_xstrdup(kiln_ctx_region(r->ctx));
        r->m->regions[r->m->n_regions].snapshot_id = root_snapshot(r->ctx, r->m->image_id);
        r->m->regions[r->m->n_regions++].image_id = kiln_xstrdup(r->m->image_id);
        if (share(r, r->ctx, r->m->image_id, err) < 0)
                return -1;
        for (size_t i = 0; i < t->n_regions; i++) {
                kiln_autoptr(kiln_ctx) ctx = NULL;
                kiln_ctx_options opts = {kiln_ctx_home(r->ctx), t->regions[i],
                                         kiln_ctx_account(r->ctx)};
                kiln_copy_spec cs = {kiln_ctx_region(r->ctx),
                                     r->m->image_id,
                                     r->m->image_name,
                                     t->image_description,
                                     true,
                                     NULL,
                                     false};
                char *copy = NULL;

                if (check_interrupt(err) < 0 || kiln_ctx_new(&opts, &ctx, err) < 0)
                        return -1;
                say(r, KILN_LOG_INFO, "copying %s to region %s", r->m->image_id, t->regions[i]);
                if (kiln_image_copy(ctx, &cs, NULL, NULL, &copy, err) < 0)
                        return -1;
                record_image(r, t->regions[i], copy);
                r->m->regions[r->m->n_regions].region = kiln_xstrdup(t->regions[i]);
                r->m->regions[r->m->n_regions].snapshot_id = root_snapshot(ctx, copy);
                r->m->regions[r->m->n_regions++].image_id = copy;
                if (share(r, ctx, copy, err) < 0)
                        return -1;
        }
        step_done(r, "distribute", start);
        return 0;
}

static int build_steps(run *r, kiln_error **err)
{
        const kiln_build_template *t = r->t;
        kiln_autofree char *build_id = NULL;
        uint64_t start = kiln_now_ms();
        int status = 0;

        if (resolve_source(r, err) < 0)
                return -1;
        step_done(r, "source", start);
        say(r, KILN_LOG_INFO, "source image %s", r->m->source_image_id);
        if (!t->key_name) {
                kiln_keypair kp = {0};

                r->made.keypair = kiln_xasprintf("kiln-build-%d-%" PRIu64, (int) getpid(),
                                                 kiln_now_ms() % 100000);
                r->made.key_file =
                        kiln_xasprintf("%s/%s.pem", kiln_ctx_home(r->ctx), r->made.keypair);
                if (kiln_keypair_create(r->ctx, r->made.keypair, "ed25519", NULL, r->made.key_file,
                                        NULL, 0, &kp, NULL, err) < 0) {
                        free(r->made.keypair);
                        r->made.keypair = NULL;
                        return -1;
                }
                kiln_keypair_clear(&kp);
        }
        start = kiln_now_ms();
        if (check_interrupt(err) < 0 || launch(r, r->m->source_image_id, &build_id, err) < 0)
                return -1;
        r->m->instance_id = kiln_xstrdup(build_id);
        step_done(r, "launch", start);
        start = kiln_now_ms();
        if (t->n_steps) {
                say(r, KILN_LOG_INFO, "configuring %s: %zu steps", build_id, t->n_steps);
                if (kiln_instance_configure(r->ctx, build_id, t->steps, t->n_steps, r->o->output,
                                            r->o->userdata, &status, err) < 0)
                        return -1;
        }
        step_done(r, "configure", start);
        start = kiln_now_ms();
        if (check_interrupt(err) < 0)
                return -1;
        {
                kiln_create_image_spec cs = {0};
                kiln_bake_result res = {0};
                kiln_tag_spec tags = {"image", t->image_tags, t->n_image_tags};

                cs.instance_id = build_id;
                cs.name = t->image_name;
                cs.description = t->image_description;
                cs.no_generalize = !t->generalize;
                /* The build instance is terminated after the bake, unless kept for
                 * inspection: no need to boot it again. */
                cs.leave_stopped = r->o->on_error != KILN_ON_ERROR_KEEP;
                cs.notify = r->o->notify;
                cs.userdata = r->o->userdata;
                /* The image is registered with its tags, in one step. */
                cs.tag_specs = &tags;
                cs.n_tag_specs = t->n_image_tags ? 1 : 0;
                say(r, KILN_LOG_INFO, "baking %s as '%s'", build_id, t->image_name);
                if (kiln_image_create(r->ctx, &cs, &res, err) < 0)
                        return -1;
                /* leave_stopped: the build instance is not started again. */
                kiln_error_free(res.restart_error);
                r->m->image_id = res.image_id;
                r->m->image_name = kiln_xstrdup(t->image_name);
                record_image(r, kiln_ctx_region(r->ctx), res.image_id);
        }
        step_done(r, "bake", start);
        /* The build instance is done with (on_error keep leaves it running until the end). */
        if (r->o->on_error != KILN_ON_ERROR_KEEP) {
                terminate(r, build_id);
                free(r->m->instance_id);
                r->m->instance_id = NULL;
        }
        if (t->n_tests && run_tests(r, err) < 0)
                return -1;
        if (check_interrupt(err) < 0)
                return -1;
        return distribute(r, err);
}

static void cleanup(run *r)
{
        for (size_t i = 0; i < r->made.n_instances; i++)
                if (r->made.instance_ids[i])
                        terminate(r, r->made.instance_ids[i]);
        for (size_t i = r->made.n_images; i > 0; i--) {
                kiln_autofree char *region = kiln_xstrdup(r->made.images[i - 1]);
                char *sp = strchr(region, ' ');

                if (!sp)
                        continue;
                *sp = '\0';
                remove_image(r, region, sp + 1);
        }
        if (r->made.imported)
                remove_image(r, kiln_ctx_region(r->ctx), r->made.imported);
}

static char *abort_hint(const run *r)
{
        kiln_buf b = {0};

        kiln_buf_appendf(&b, "%s", "left for inspection; to remove it:");
        for (size_t i = 0; i < r->made.n_instances; i++)
                if (r->made.instance_ids[i])
                        kiln_buf_appendf(&b, " kiln terminate-instances --instance-ids %s;",
                                         r->made.instance_ids[i]);
        for (size_t i = 0; i < r->made.n_images; i++) {
                const char *sp = strchr(r->made.images[i], ' ');

                if (sp)
                        kiln_buf_appendf(&b, " kiln --region %.*s deregister-image --image-id %s;",
                                         (int) (sp - r->made.images[i]), r->made.images[i], sp + 1);
        }
        if (r->made.keypair)
                kiln_buf_appendf(&b, " kiln delete-key-pair --key-name %s;", r->made.keypair);
        return kiln_buf_steal(&b);
}

int kiln_build_run(kiln_ctx *ctx, const kiln_build_template *t, const kiln_build_options *o,
                   kiln_build_manifest *m, kiln_error **err)
{
        run r = {0};
        int rc;

        r.ctx = ctx;
        r.t = t;
        r.o = o;
        r.m = m;
        r.t0 = kiln_now_ms();
        memset(m, 0, sizeof(*m));
        m->template_path = kiln_xstrdup(t->path);
        m->region = kiln_xstrdup(kiln_ctx_region(ctx));
        rc = build_steps(&r, err);
        m->seconds = (double) (kiln_now_ms() - r.t0) / 1000.0;
        m->success = rc == 0;
        if (rc < 0) {
                m->error = kiln_xstrdup(err && *err ? (*err)->msg : "failed");
                if (o->on_error == KILN_ON_ERROR_CLEANUP || kiln_interrupted()) {
                        say(&r, KILN_LOG_WARN, "cleaning up what the build made");
                        cleanup(&r);
                        free(m->image_id);
                        m->image_id = NULL;
                } else if (o->on_error == KILN_ON_ERROR_ABORT) {
                        m->hint = abort_hint(&r);
                        say(&r, KILN_LOG_WARN, "%s", m->hint);
                } else if (m->instance_id) {
                        char **argv = NULL;

                        if (kiln_instance_ssh_argv(ctx, m->instance_id, r.made.key_file, NULL, 0,
                                                   &argv, NULL) == 0) {
                                kiln_buf b = {0};

                                for (size_t i = 0; argv[i]; i++) {
                                        kiln_buf_appendf(&b, "%s%s", i ? " " : "", argv[i]);
                                        free(argv[i]);
                                }
                                free(argv);
                                m->ssh_command = kiln_buf_steal(&b);
                                say(&r, KILN_LOG_WARN, "kept %s running: %s", m->instance_id,
                                    m->ssh_command);
                        }
                }
        }
        /* The temporary key pair goes, unless an instance kept for inspection needs it. */
        if (r.made.keypair &&
            (rc == 0 || o->on_error == KILN_ON_ERROR_CLEANUP || kiln_interrupted())) {
                kiln_keypair_delete(ctx, r.made.keypair, NULL, NULL);
                unlink(r.made.key_file);
        }
        for (size_t i = 0; i < r.made.n_instances; i++)
                free(r.made.instance_ids[i]);
        for (size_t i = 0; i < r.made.n_images; i++)
                free(r.made.images[i]);
        free(r.made.keypair);
        free(r.made.key_file);
        free(r.made.imported);
        if (rc == 0)
                say(&r, KILN_LOG_INFO, "built %s in %.1f s", m->image_id, m->seconds);
        return rc;
}

void kiln_build_manifest_clear(kiln_build_manifest *m)
{
        if (!m)
                return;
        free(m->template_path);
        free(m->region);
        free(m->source_image_id);
        free(m->image_id);
        free(m->image_name);
        free(m->instance_id);
        free(m->ssh_command);
        free(m->hint);
        free(m->error);
        for (size_t i = 0; i < m->n_steps; i++)
                free(m->steps[i].name);
        free(m->steps);
        for (size_t i = 0; i < m->n_tests; i++)
                free(m->tests[i].command);
        free(m->tests);
        for (size_t i = 0; i < m->n_regions; i++) {
                free(m->regions[i].region);
                free(m->regions[i].image_id);
                free(m->regions[i].snapshot_id);
        }
        free(m->regions);
        memset(m, 0, sizeof(*m));
}
