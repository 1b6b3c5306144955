/* External commands: argv without a shell, clean environment, stdout captured, failures carry
 * the program's stderr, resource limits reach the child and a run over its CPU limit is stopped
 * and reported, and the dry-run hook records argv instead of running. Two busy loops stop at
 * 1 and 3 s of CPU time. */
#include <stdlib.h>
#include <time.h>

#include "tap.h"
#include "util/util.h"

/* About 10 s of CPU for dash here: far past the limits below, but it ends if they fail. */
#define BUSY "i=0; while [ $i -lt 10000000 ]; do i=$((i + 1)); done"

static char recorded[256];

static int record(const char *const *argv, char **ret_stdout, void *userdata)
{
        (void) userdata;
        recorded[0] = '\0';
        for (size_t i = 0; argv[i]; i++) {
                strncat(recorded, argv[i], sizeof(recorded) - strlen(recorded) - 2);
                strncat(recorded, "|", sizeof(recorded) - strlen(recorded) - 1);
        }
        *ret_stdout = kiln_xstrdup("pretend\n");
        return 0;
}

int main(void)
{
        char *out = NULL;

        {
                kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("printf", "%s-%s", "a b", "$(id)", NULL);
                kiln_autoptr(kiln_error) err = NULL;

                is_int(kiln_cmd_run(cmd, &out, &err), 0, "printf runs");
                is_str(out, "a b-$(id)", "arguments reach the program unexpanded");
                free(out);
                out = NULL;
        }
        {
                kiln_autoptr(kiln_cmd) cmd =
                        kiln_cmd_new("sh", "-c", "echo boom >&2; exit 3", NULL);
                kiln_autoptr(kiln_error) err = NULL;

                is_int(kiln_cmd_run(cmd, NULL, &err), -1, "a non-zero exit fails");
                ok(err && err->code == KILN_E_IO, "as an I/O error");
                like(err ? err->msg : NULL, "exited with status 3: boom", "with status and stderr");
        }
        {
                kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("kiln-no-such-program", NULL);
                kiln_autoptr(kiln_error) err = NULL;

                is_int(kiln_cmd_run(cmd, NULL, &err), -1, "a missing program fails");
                like(err ? err->msg : NULL, "cannot run 'kiln-no-such-program'",
                     "the error names the program");
        }
        {
                kiln_autoptr(kiln_cmd) cmd =
                        kiln_cmd_new("sh", "-c", "echo $LC_ALL:${KILN_SECRET:-unset}", NULL);
                kiln_autoptr(kiln_error) err = NULL;

                setenv("KILN_SECRET", "leak", 1);
                is_int(kiln_cmd_run(cmd, &out, &err), 0, "environment probe runs");
                is_str(out, "C:unset\n", "the child gets LC_ALL=C and none of our variables");
                free(out);
                out = NULL;
        }
        {
                kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("sh", "-c", "echo ${KILN_SECRET}", NULL);
                kiln_autoptr(kiln_error) err = NULL;

                kiln_cmd_pass_env(cmd, "KILN_SECRET");
                is_int(kiln_cmd_run(cmd, &out, &err), 0, "pass_env runs");
                is_str(out, "leak\n", "a passed variable reaches the child");
                free(out);
                out = NULL;
        }
        {
                kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("cat", NULL);
                kiln_autoptr(kiln_error) err = NULL;

                is_int(kiln_cmd_run(cmd, &out, &err), 0, "stdin is /dev/null (cat ends at once)");
                is_str(out, "", "and reads nothing");
                free(out);
                out = NULL;
        }
        {
                kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new(
                        "sh", "-c", "ulimit -v; ulimit -t; ulimit -c; echo $MALLOC_ARENA_MAX",
                        NULL);
                kiln_autoptr(kiln_error) err = NULL;

                kiln_cmd_set_limits(cmd, 1ULL << 30, 30);
                is_int(kiln_cmd_run(cmd, &out, &err), 0, "a command with limits runs");
                is_str(out, "1048576\n30\n0\n2\n",
                       "the child has 1 GiB of address space, 30 s of CPU, no core dump, and "
                       "MALLOC_ARENA_MAX=2");
                free(out);
                out = NULL;
        }
        {
                kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("sh", "-c", "ulimit -t", NULL);
                kiln_autoptr(kiln_error) err = NULL;

                kiln_cmd_set_limits(cmd, 0, 7);
                is_int(kiln_cmd_run(cmd, &out, &err), 0, "a CPU limit alone runs");
                is_str(out, "7\n", "  and reaches the child");
                free(out);
                out = NULL;
        }
        {
                kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("sh", "-c", BUSY, NULL);
                kiln_autoptr(kiln_error) err = NULL;
                struct timespec t0, t1;
                double secs;

                kiln_cmd_set_limits(cmd, 1ULL << 30, 1);
                clock_gettime(CLOCK_MONOTONIC, &t0);
                is_int(kiln_cmd_run(cmd, NULL, &err), -1, "a busy loop with 1 s of CPU fails");
                clock_gettime(CLOCK_MONOTONIC, &t1);
                secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
                ok(err && err->code == KILN_E_LIMIT, "  as a limit error");
                like(err ? err->msg : NULL, "exceeded its limit of 1 s of CPU time",
                     "  saying so: %s", err ? err->msg : "");
                ok(secs < 10, "  and is stopped (after %.1f s)", secs);
        }
        {
                kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("sh", "-c", "trap '' XCPU; " BUSY, NULL);
                kiln_autoptr(kiln_error) err = NULL;

                kiln_cmd_set_limits(cmd, 0, 1);
                is_int(kiln_cmd_run(cmd, NULL, &err), -1,
                       "a busy loop that ignores SIGXCPU is killed");
                ok(err && err->code == KILN_E_LIMIT, "  and reported as over its CPU limit: %s",
                   err ? err->msg : "");
        }
        {
                kiln_autoptr(kiln_cmd) cmd = kiln_cmd_new("sh", "-c", "kill -TERM $$", NULL);
                kiln_autoptr(kiln_error) err = NULL;

                kiln_cmd_set_limits(cmd, 1ULL << 30, 30);
                is_int(kiln_cmd_run(cmd, NULL, &err), -1, "a limited command killed by a signal");
                ok(err && err->code == KILN_E_IO, "  is an I/O error, not a limit");
                like(err ? err->msg : NULL, "under a limit of 1024 MiB of address space",
                     "  that names the address-space limit");
        }
        {
                kiln_autoptr(kiln_cmd) cmd =
                        kiln_cmd_new("qemu-img", "create", "-f", "qcow2", NULL);
                kiln_autoptr(kiln_error) err = NULL;
                kiln_autofree char *s = NULL;

                kiln_cmd_add_arg(cmd, "/x y.qcow2");
                s = kiln_cmd_to_string(cmd);
                is_str(s, "qemu-img create -f qcow2 /x y.qcow2", "to_string joins argv");
                kiln_cmd_set_dry_run(record, NULL);
                is_int(kiln_cmd_run(cmd, &out, &err), 0, "dry run succeeds");
                is_str(recorded, "qemu-img|create|-f|qcow2|/x y.qcow2|", "dry run records argv");
                is_str(out, "pretend\n", "dry run supplies stdout");
                kiln_cmd_set_dry_run(NULL, NULL);
                free(out);
        }
        return done();
}
