/* kiln's public API. The command line includes only this. */
#ifndef KILN_KILN_H
#define KILN_KILN_H

#include <kiln/access.h>
#include <kiln/common.h>
#include <kiln/configure.h>
#include <kiln/ctx.h>
#include <kiln/error.h>
#include <kiln/host.h>
#include <kiln/image.h>
#include <kiln/keypair.h>
#include <kiln/instance.h>
#include <kiln/log.h>
#include <kiln/secgroup.h>
#include <kiln/shape.h>
#include <kiln/tag.h>
#include <kiln/text.h>
#include <kiln/upkeep.h>
#include <kiln/volume.h>

KILN_PUBLIC const char *kiln_version(void);

/* Where kiln's data (templates/, cloud-init/) comes from. */
typedef enum {
        KILN_DATA_ENV,       /* KILN_DATA_DIR */
        KILN_DATA_INSTALLED, /* PREFIX/share/kiln, beside this program in PREFIX/bin */
        KILN_DATA_SOURCE,    /* the source tree kiln was built in */
} kiln_data_origin;
/* The directory kiln reads its data from: KILN_DATA_DIR if set, else PREFIX/share/kiln when
 * this program is PREFIX/bin/kiln and that directory holds kiln's data, else the source tree
 * kiln was built in. *ret_origin (if not NULL) says which. The caller frees the path. */
KILN_PUBLIC char *kiln_data_dir(kiln_data_origin *ret_origin);
/* Process-wide setup: libvirt's error printing off, libcurl and libssh2 initialised. Call once,
 * first in main, before any thread. Returns -1 with *err set if a library cannot start. */
KILN_PUBLIC int kiln_global_init(kiln_error **err);
KILN_PUBLIC void kiln_global_cleanup(void);

#endif
