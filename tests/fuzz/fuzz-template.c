/* Pipeline templates (build-template.c) with the input as the template file, as `kiln build`
 * reads it: jansson's parse with duplicate keys refused, every section's keys and types, the
 * {{timestamp}} and {{var.NAME}} substitution (with two variables given as --var would give
 * them), names, tags, accounts and organization ARNs, and the local files that script,
 * motd_script and upload name. The template sits in a scratch directory that also holds
 * setup.sh, 10-motd and files/index.html, so relative paths can name real files.
 *
 * Checked: a template that loads has a source and an image name, and its JSON paths in
 * errors start with the file name. */
#include <fcntl.h>
#include <kiln/build.h>
#include <unistd.h>

#include "fuzz.h"

static char *template_path;

static void put(const char *rel, const char *text)
{
        kiln_autofree char *path = kiln_xasprintf("%s/%s", fuzz_dir(), rel);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        FUZZ_CHECK(fd >= 0);
        FUZZ_CHECK(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
        close(fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        kiln_autofree char *files = kiln_xasprintf("%s/files", fuzz_dir());

        (void) argc, (void) argv;
        FUZZ_CHECK(mkdir(files, 0755) == 0);
        put("setup.sh", "#!/bin/sh\necho setup\n");
        put("10-motd", "#!/bin/sh\necho motd\n");
        put("files/index.html", "<p>hello</p>\n");
        template_path = kiln_xasprintf("%s/template.json", fuzz_dir());
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const kiln_build_var vars[] = {{"base", "debian-12*"}, {"message", "{{timestamp}}"}};
        kiln_autoptr(kiln_build_template) t = NULL;
        kiln_autoptr(kiln_error) err = NULL;
        int fd = open(template_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        FUZZ_CHECK(fd >= 0);
        FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t) size);
        close(fd);
        if (kiln_build_template_load(template_path, vars, KILN_ARRAY_SIZE(vars), &t, &err) < 0) {
                FUZZ_CHECK(err && err->msg &&
                           strncmp(err->msg, template_path, strlen(template_path)) == 0);
                return 0;
        }
        FUZZ_CHECK(t->source_image_id || t->source_name_filter || t->source_catalog);
        FUZZ_CHECK(t->image_name && *t->image_name);
        return 0;
}
