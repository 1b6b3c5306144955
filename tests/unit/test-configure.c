/* The MOTD script kiln writes for --motd-message shows the text literally: quotes,
 * backslashes, $(...), backticks, newlines and a line that looks like the here-document's end
 * are printed, never run. The script is run here with /bin/sh (cowsay absent or not, the text
 * must come through). */
#include <stdlib.h>
#include <sys/stat.h>

#include <kiln/configure.h>

#include "tap.h"
#include "util/util.h"

static char *run_script(const char *script, const char *dir)
{
        kiln_autofree char *path = kiln_xasprintf("%s/motd.sh", dir);
        kiln_autoptr(kiln_cmd) cmd = NULL;
        kiln_autoptr(kiln_error) e = NULL;
        char *out = NULL;
        FILE *f = fopen(path, "w");

        if (!f)
                return NULL;
        fputs(script, f);
        fclose(f);
        /* PATH without /usr/games: the plain branch, whose output can be compared exactly. */
        cmd = kiln_cmd_new("env", "PATH=/usr/bin:/bin", "sh", path, NULL);
        if (kiln_cmd_run(cmd, &out, &e) < 0) {
                printf("# %s\n", e->msg);
                return NULL;
        }
        return out;
}

int main(void)
{
        char tmpl[] = "/tmp/kiln-unit-configure.XXXXXX";
        char *dir = mkdtemp(tmpl);
        kiln_autofree char *canary = kiln_xasprintf("%s/pwned", dir);
        kiln_autofree char *nasty =
                kiln_xasprintf("He said \"hi\" and 'bye'\n$(touch %s) `touch %s` ${HOME} \\n \\\\\n"
                               "KILN_MOTD\nEOF\n!!",
                               canary, canary);
        struct stat st;

        {
                kiln_autofree char *script = kiln_motd_script("Welcome to web-01");
                kiln_autofree char *out = run_script(script, dir);

                like(script, "#!/bin/sh", "a shell script");
                like(script, "cowsay", "that uses cowsay where it exists");
                is_str(out, "Welcome to web-01\n", "a plain message is shown");
        }
        {
                kiln_autofree char *script = kiln_motd_script(nasty);
                kiln_autofree char *out = run_script(script, dir);
                kiln_autofree char *want = kiln_xasprintf("%s\n", nasty);

                is_str(out, want,
                       "quotes, backslashes, $(...), backticks and newlines come out "
                       "literally");
                ok(stat(canary, &st) != 0, "nothing in the message was executed");
        }
        {
                /* A message that contains a would-be delimiter line of the script's own form. */
                kiln_autofree char *script1 = kiln_motd_script("x");
                const char *delim = strstr(script1, "<<'");
                kiln_autofree char *line = NULL;
                kiln_autofree char *msg = NULL;
                kiln_autofree char *script2 = NULL;
                kiln_autofree char *out = NULL;

                ok(delim != NULL, "the script uses a quoted here-document");
                if (delim) {
                        const char *end = strchr(delim + 3, '\'');

                        line = kiln_xstrndup(delim + 3, (size_t) (end - delim - 3));
                        msg = kiln_xasprintf("before\n%s\nafter", line);
                        script2 = kiln_motd_script(msg);
                        out = run_script(script2, dir);
                        {
                                kiln_autofree char *want = kiln_xasprintf("%s\n", msg);

                                is_str(out, want,
                                       "a line that looks like a delimiter does not "
                                       "end the text");
                        }
                }
        }
        unlink(canary);
        {
                kiln_autofree char *p = kiln_xasprintf("%s/motd.sh", dir);

                unlink(p);
        }
        rmdir(dir);
        return done();
}
