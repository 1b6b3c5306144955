/* What the guest module offers the other domain modules. */
#ifndef KILN_GUEST_PRIVATE_H
#define KILN_GUEST_PRIVATE_H

#include <stdbool.h>

#include <kiln/instance.h>
#include <kiln/log.h>

#include "core/ctx-private.h"

/* Generalizes the running guest of inst and checks it (waiting until it is ready first). A
 * check that finds something left is KILN_E_STATE (GeneralizationFailed) listing it; Windows
 * is KILN_E_UNSUPPORTED. *ret_ran is set once the script has reached the guest: its host keys
 * may then be gone whatever the result. notify (may be NULL) is told the step. */
int guest_generalize(kiln_ctx *ctx, kiln_instance *inst, kiln_log_fn notify, void *userdata,
                     bool *ret_ran, kiln_error **err);

#endif
