/* kiln build: reads every template first (so a bad one launches nothing), then runs them, one
 * after another or --parallel N at once (each in a process of its own), and prints the
 * manifest: one object, or {"Builds": [...]} for several templates. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <kiln/build.h>

#include "cli.h"

static void on_signal(int sig)
{
        (void) sig;
        kiln_build_interrupt();
}

static void build_notify(kiln_log_level level, const char *msg, void *userdata)
{
        const cli_global *g = userdata;

        /* --quiet keeps the warnings. */
        if (level == KILN_LOG_WARN || !g->quiet)
                cli_message("build", msg);
}

/* Configure and test output goes to stderr: stdout carries the manifest. */
static void build_output(int stream, const char *data, size_t len, void *userdata)
{
        (void) stream;
        (void) userdata;
        fwrite(data, 1, len, stderr);
}

static json_t *manifest_json(const kiln_build_manifest *m)
{
        json_t *o = json_object(), *a;

        json_object_set_new(o, "Template", json_string(m->template_path));
        json_object_set_new(o, "Success", json_boolean(m->success));
        if (m->error)
                json_object_set_new(o, "Error",
                                    cli_json_text(m->error)); /* may hold guest output */
        if (m->source_image_id)
                json_object_set_new(o, "SourceImageId", json_string(m->source_image_id));
        if (m->image_id)
                json_object_set_new(o, "ImageId", json_string(m->image_id));
        if (m->image_name)
                json_object_set_new(o, "Name", json_string(m->image_name));
        json_object_set_new(o, "Region", json_string(m->region));
        a = json_array();
        for (size_t i = 0; i < m->n_regions; i++)
                json_array_append_new(a,
                                      json_pack("{s:s, s:s, s:s?}", "Region", m->regions[i].region,
                                                "ImageId", m->regions[i].image_id, "SnapshotId",
                                                m->regions[i].snapshot_id));
        json_object_set_new(o, "Regions", a);
        a = json_array();
        for (size_t i = 0; i < m->n_tests; i++)
                json_array_append_new(a,
                                      json_pack("{s:s, s:i, s:b}", "Command", m->tests[i].command,
                                                "ExitStatus", m->tests[i].exit_status, "Passed",
                                                m->tests[i].passed));
        json_object_set_new(o, "Tests", a);
        a = json_array();
        for (size_t i = 0; i < m->n_steps; i++)
                json_array_append_new(a, json_pack("{s:s, s:I}", "Step", m->steps[i].name,
                                                   "Milliseconds",
                                                   (json_int_t) (m->steps[i].seconds * 1000)));
        json_object_set_new(o, "Steps", a);
        json_object_set_new(o, "Milliseconds", json_integer((json_int_t) (m->seconds * 1000)));
        if (m->instance_id)
                json_object_set_new(o, "InstanceId", json_string(m->instance_id));
        if (m->ssh_command)
                json_object_set_new(o, "SshCommand", json_string(m->ssh_command));
        if (m->hint)
                json_object_set_new(o, "Cleanup", json_string(m->hint));
        return o;
}

/* Runs one template in this process; the manifest as JSON, and the exit status. */
static int run_one(const cli_global *g, const kiln_build_template *t, kiln_on_error on_error,
                   json_t **ret)
{
        kiln_build_options o = {on_error, build_notify, build_output, (void *) g};
        kiln_build_manifest m = {0};
        kiln_autoptr(kiln_ctx) ctx = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        int rc = 0;

        ctx = cli_ctx_open(g, &rc);
        if (!ctx)
                return rc;
        rc = kiln_build_run(ctx, t, &o, &m, &err) < 0 ? cli_fail(err) : CLI_EXIT_OK;
        *ret = manifest_json(&m);
        kiln_build_manifest_clear(&m);
        return rc;
}

/* A child per template, at most parallel at once; each writes its manifest to a file. */
static int run_parallel(const cli_global *g, kiln_build_template **t, size_t n,
                        kiln_on_error on_error, int parallel, json_t *builds)
{
        char dir[] = "/tmp/kiln-build.XXXXXX";
        pid_t *pids = calloc(n, sizeof(*pids));
        int *status = calloc(n, sizeof(*status));
        size_t next = 0, running = 0, done = 0;
        int rc = CLI_EXIT_OK;

        if (!pids || !status || !mkdtemp(dir)) {
                free(pids);
                free(status);
                fprintf(stderr, "kiln: build: cannot start: %s\n", strerror(errno));
                return 10;
        }
        while (done < n) {
                while (running < (size_t) parallel && next < n) {
                        pid_t pid = fork();

                        if (pid == 0) {
                                json_t *m = NULL;
                                char path[64];
                                int code = run_one(g, t[next], on_error, &m);

                                snprintf(path, sizeof(path), "%s/%zu.json", dir, next);
                                if (m)
                                        json_dump_file(m, path, 0);
                                _exit(code);
                        }
                        if (pid < 0) {
                                fprintf(stderr, "kiln: build: fork: %s\n", strerror(errno));
                                status[next] = 1;
                                done++;
                        } else {
                                pids[next] = pid;
                                running++;
                        }
                        next++;
                }
                {
                        int st = 0;
                        pid_t pid = wait(&st);

                        if (pid < 0) {
                                if (errno == EINTR)
                                        continue;
                                break;
                        }
                        for (size_t i = 0; i < n; i++)
                                if (pids[i] == pid)
                                        status[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 130;
                        running--;
                        done++;
                }
        }
        for (size_t i = 0; i < n; i++) {
                char path[64];
                json_t *m;

                snprintf(path, sizeof(path), "%s/%zu.json", dir, i);
                m = json_load_file(path, 0, NULL);
                json_array_append_new(
                        builds,
                        m ? m : json_pack("{s:s, s:b}", "Template", t[i]->path, "Success", 0));
                unlink(path);
                if (status[i] && rc == CLI_EXIT_OK)
                        rc = status[i];
        }
        rmdir(dir);
        free(pids);
        free(status);
        return rc;
}

int cmd_build(const cli_verb *verb, const cli_global *g, const cli_args *args)
{
        const char *on_error_arg = cli_arg_get(args, "on-error");
        const char *parallel_arg = cli_arg_get(args, "parallel");
        kiln_on_error on_error = KILN_ON_ERROR_CLEANUP;
        kiln_build_var *vars = NULL;
        kiln_build_template **t = NULL;
        size_t n_vars = 0;
        long parallel = 1;
        int rc = CLI_EXIT_OK;
        json_t *out = NULL;
        struct sigaction sa;

        (void) verb;
        if (args->n_positional < 1)
                return cli_usage_error("build needs a template file");
        if (on_error_arg && strcmp(on_error_arg, "cleanup") == 0)
                on_error = KILN_ON_ERROR_CLEANUP;
        else if (on_error_arg && strcmp(on_error_arg, "abort") == 0)
                on_error = KILN_ON_ERROR_ABORT;
        else if (on_error_arg && strcmp(on_error_arg, "keep") == 0)
                on_error = KILN_ON_ERROR_KEEP;
        else if (on_error_arg)
                return cli_usage_error("--on-error takes cleanup, abort or keep");
        if (parallel_arg) {
                char *end = NULL;

                parallel = strtol(parallel_arg, &end, 10);
                if (!end || *end || parallel < 1 || parallel > 16)
                        return cli_usage_error("--parallel takes a number from 1 to 16");
        }
        for (size_t i = 0; i < args->n_values; i++) {
                const char *v = args->values[i].value;
                const char *eq = v ? strchr(v, '=') : NULL;

                if (strcmp(args->values[i].opt->name, "var") != 0)
                        continue;
                if (!eq || eq == v) {
                        free(vars);
                        return cli_usage_error("--var takes KEY=VALUE");
                }
                vars = realloc(vars, (n_vars + 1) * sizeof(*vars));
                if (!vars)
                        abort();
                /* KEY is cut from a copy that lives until the templates are loaded. */
                vars[n_vars].key = strndup(v, (size_t) (eq - v));
                vars[n_vars].value = eq + 1;
                n_vars++;
        }
        t = calloc(args->n_positional + 1, sizeof(kiln_build_template *));
        if (!t)
                abort();
        for (size_t i = 0; i < args->n_positional && rc == CLI_EXIT_OK; i++) {
                kiln_autoptr(kiln_error) err = NULL;

                if (kiln_build_template_load(args->positional[i], vars, n_vars, &t[i], &err) < 0)
                        rc = cli_fail(err);
        }
        for (size_t i = 0; i < n_vars; i++)
                free((char *) vars[i].key);
        free(vars);
        if (rc == CLI_EXIT_OK) {
                memset(&sa, 0, sizeof(sa));
                sa.sa_handler = on_signal;
                sigaction(SIGINT, &sa, NULL);
                sigaction(SIGTERM, &sa, NULL);
                if (args->n_positional == 1) {
                        rc = run_one(g, t[0], on_error, &out);
                } else {
                        json_t *builds = json_array();

                        rc = run_parallel(g, t, args->n_positional, on_error, (int) parallel,
                                          builds);
                        out = json_pack("{s:o}", "Builds", builds);
                }
                if (out)
                        cli_print(g, out);
                json_decref(out);
        }
        for (size_t i = 0; i < args->n_positional; i++)
                kiln_build_template_free(t[i]);
        free(t);
        return rc;
}

static const cli_opt build_opts[] = {
        {"var", CLI_ARG_ONE, "KEY=VALUE", "fills {{var.KEY}} in the template (repeatable)"},
        {"on-error", CLI_ARG_ONE, "cleanup|abort|keep",
         "cleanup removes what the run made (default); abort leaves it and says how to remove "
         "it; keep also leaves the build instance running"},
        {"parallel", CLI_ARG_ONE, "N", "run up to N of the templates at once"},
        CLI_END_OPTS,
};

const cli_verb cli_build_verbs[] = {
        {"build", "pipelines",
         "configure-then-bake a template: test the new image, copy it to regions, share it",
         "TEMPLATE.json... [--var KEY=VALUE] [--on-error cleanup|abort|keep] [--parallel N]",
         build_opts, 64, cmd_build, "kiln build examples/pipelines/cowsay-motd.json --var env=ci"},
};
const size_t cli_n_build_verbs = KILN_ARRAY_SIZE(cli_build_verbs);
