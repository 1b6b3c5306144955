/* kiln's data files (templates/, cloud-init/), found in one place: see data.c. */
#ifndef KILN_DATA_H
#define KILN_DATA_H

#include <kiln/kiln.h>

/* The path of one of kiln's data files, named as in the source tree ("templates/catalog.json",
 * "cloud-init/generalize.sh"): in kiln_data_dir(), except that KILN_CATALOG names the catalog
 * and KILN_TEMPLATES a directory used instead of templates/. The caller frees it. */
char *data_file(const char *relative);

#endif
