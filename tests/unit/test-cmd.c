/* External commands: argv without a shell, clean environment, stdout captured, failures carry
 * the program's stderr, and the dry-run hook records argv instead of running. */
#include <stdlib.h>

#include "tap.h"
#include "util/util.h"

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
