/* Where the library reads kiln's data (core/data.c): a program in the source tree reads the
 * tree; KILN_DATA_DIR moves the whole directory, KILN_TEMPLATES only templates/ (the catalog
 * too), KILN_CATALOG only the catalog; empty variables count as unset. The installed case,
 * PREFIX/share/kiln beside PREFIX/bin/kiln, is tests/unit/test-install.sh's. */
#include <stdlib.h>

#include "core/data.h"
#include "tap.h"

static void check_file(const char *relative, const char *want, const char *what)
{
        kiln_autofree char *got = data_file(relative);

        is_str(got, want, "%s", what);
}

int main(void)
{
        kiln_data_origin origin = KILN_DATA_ENV;
        kiln_autofree char *dir = NULL, *env_dir = NULL;

        unsetenv("KILN_DATA_DIR");
        unsetenv("KILN_TEMPLATES");
        unsetenv("KILN_CATALOG");
        dir = kiln_data_dir(&origin);
        is_str(dir, KILN_SRCDIR, "a program in the source tree reads the tree");
        is_int(origin, KILN_DATA_SOURCE, "and says so");
        check_file("templates/domain/linux.xml", KILN_SRCDIR "/templates/domain/linux.xml",
                   "a skeleton is in the tree's templates/");
        check_file("cloud-init/generalize.sh", KILN_SRCDIR "/cloud-init/generalize.sh",
                   "the generalization script in its cloud-init/");

        setenv("KILN_DATA_DIR", "/srv/kiln", 1);
        env_dir = kiln_data_dir(&origin);
        is_str(env_dir, "/srv/kiln", "KILN_DATA_DIR names the data directory");
        is_int(origin, KILN_DATA_ENV, "and says so");
        check_file("templates/catalog.json", "/srv/kiln/templates/catalog.json",
                   "the catalog follows it");
        check_file("cloud-init/motd-user-data.yaml", "/srv/kiln/cloud-init/motd-user-data.yaml",
                   "and so does cloud-init/");

        setenv("KILN_TEMPLATES", "/etc/kiln-templates", 1);
        check_file("templates/instance-types.json", "/etc/kiln-templates/instance-types.json",
                   "KILN_TEMPLATES replaces templates/");
        check_file("templates/domain/windows.xml", "/etc/kiln-templates/domain/windows.xml",
                   "with its subdirectories");
        check_file("templates/catalog.json", "/etc/kiln-templates/catalog.json",
                   "and the catalog in it");
        check_file("cloud-init/generalize.sh", "/srv/kiln/cloud-init/generalize.sh",
                   "but not cloud-init/");

        setenv("KILN_CATALOG", "/tmp/catalog.json", 1);
        check_file("templates/catalog.json", "/tmp/catalog.json", "KILN_CATALOG names the catalog");
        check_file("templates/instance-types.json", "/etc/kiln-templates/instance-types.json",
                   "and nothing else");

        setenv("KILN_DATA_DIR", "", 1);
        setenv("KILN_TEMPLATES", "", 1);
        setenv("KILN_CATALOG", "", 1);
        check_file("templates/catalog.json", KILN_SRCDIR "/templates/catalog.json",
                   "empty variables count as unset");
        return done();
}
