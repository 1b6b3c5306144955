/* kiln's public API. The command line includes only this. */
#ifndef KILN_KILN_H
#define KILN_KILN_H

#include <kiln/common.h>
#include <kiln/configure.h>
#include <kiln/ctx.h>
#include <kiln/error.h>
#include <kiln/host.h>
#include <kiln/image.h>
#include <kiln/keypair.h>
#include <kiln/instance.h>
#include <kiln/log.h>
#include <kiln/tag.h>
#include <kiln/text.h>
#include <kiln/upkeep.h>

KILN_PUBLIC const char *kiln_version(void);
/* Process-wide setup: libvirt's error printing off, libcurl and libssh2 initialised. Call once,
 * first in main, before any thread. Returns -1 with *err set if a library cannot start. */
KILN_PUBLIC int kiln_global_init(kiln_error **err);
KILN_PUBLIC void kiln_global_cleanup(void);

#endif
