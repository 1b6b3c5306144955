/* Where kiln's data is: the domain skeletons, instance types, image catalog and build schema
 * (templates/), the generalization script and MOTD user data (cloud-init/).
 *
 * The binary carries no install path. An installed kiln is PREFIX/bin/kiln and its data is
 * beside it, in PREFIX/share/kiln, wherever PREFIX is: /usr/local after `make install`, /usr
 * in a package, a DESTDIR staging tree before it is packaged. So `make install` copies the
 * binary that `make unit` tested instead of building another, and changing PREFIX rebuilds
 * nothing. A kiln in its source tree (./kiln, build/CONFIG/kiln, the unit tests) is not in a
 * bin/ directory beside a share/kiln: it reads the tree it was built from (KILN_SRCDIR,
 * compiled into this file only), so the tests read the tree's data, never an installed copy.
 * KILN_DATA_DIR names another data directory; KILN_TEMPLATES and KILN_CATALOG replace parts
 * of it (data_file()). `kiln --version` prints the directory in use and why. */
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "core/data.h"
#include "util/util.h"

#ifndef KILN_SRCDIR
#error "KILN_SRCDIR: the Makefile passes the source tree's path to this file"
#endif

/* A directory holds kiln's data if it has this file. */
#define DATA_MARKER "templates/instance-types.json"

static bool holds_data(const char *dir)
{
        kiln_autofree char *marker = kiln_xasprintf("%s/%s", dir, DATA_MARKER);

        return access(marker, R_OK) == 0;
}

/* PREFIX/share/kiln if this program is PREFIX/bin/NAME and that directory holds kiln's data;
 * NULL otherwise. /proc/self/exe has symbolic links resolved: /usr/bin/kiln -> ../lib/x/kiln
 * counts where the file is. */
static char *installed_dir(void)
{
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        kiln_autofree char *dir = NULL;
        char *slash;

        if (n <= 0)
                return NULL;
        exe[n] = '\0';
        slash = strrchr(exe, '/');
        if (!slash)
                return NULL;
        *slash = '\0'; /* PREFIX/bin */
        slash = strrchr(exe, '/');
        if (!slash || strcmp(slash + 1, "bin") != 0)
                return NULL;
        *slash = '\0'; /* PREFIX, "" for /bin */
        dir = kiln_xasprintf("%s/share/kiln", exe);
        if (!holds_data(dir))
                return NULL;
        return kiln_steal(&dir);
}

char *kiln_data_dir(kiln_data_origin *ret_origin)
{
        const char *env = getenv("KILN_DATA_DIR");
        kiln_data_origin origin = KILN_DATA_SOURCE;
        char *dir = NULL;

        if (env && *env) {
                origin = KILN_DATA_ENV;
                dir = kiln_xstrdup(env);
        } else {
                dir = installed_dir();
                if (dir)
                        origin = KILN_DATA_INSTALLED;
                else
                        dir = kiln_xstrdup(KILN_SRCDIR);
        }
        if (ret_origin)
                *ret_origin = origin;
        return dir;
}

char *data_file(const char *relative)
{
        static const char templates[] = "templates/";
        const char *catalog_env = getenv("KILN_CATALOG");
        const char *templates_env = getenv("KILN_TEMPLATES");
        kiln_autofree char *dir = NULL;

        if (catalog_env && *catalog_env && strcmp(relative, "templates/catalog.json") == 0)
                return kiln_xstrdup(catalog_env);
        if (templates_env && *templates_env &&
            strncmp(relative, templates, sizeof(templates) - 1) == 0)
                return kiln_xasprintf("%s/%s", templates_env, relative + sizeof(templates) - 1);
        dir = kiln_data_dir(NULL);
        return kiln_xasprintf("%s/%s", dir, relative);
}
