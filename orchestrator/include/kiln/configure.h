/* Configuring a running instance over SSH (the pinned host key, kiln's access key, the
 * image's login user; root through sudo): commands, scripts, file uploads, MOTD scripts and
 * messages, reboots. Output streams live; a failing step stops the run. */
#ifndef KILN_CONFIGURE_H
#define KILN_CONFIGURE_H

#include <stdbool.h>
#include <stddef.h>

#include <kiln/common.h>
#include <kiln/ctx.h>
#include <kiln/error.h>

typedef enum {
        KILN_STEP_RUN,          /* arg: a shell command, run as the login user */
        KILN_STEP_SCRIPT,       /* arg: a local script file, run as the login user */
        KILN_STEP_UPLOAD,       /* arg: SRC:DEST[:MODE] (octal; default 0644), written as root */
        KILN_STEP_MOTD_SCRIPT,  /* arg: a local script, installed in /etc/update-motd.d/ */
        KILN_STEP_MOTD_MESSAGE, /* arg: text shown at login (by cowsay where the image has it) */
        KILN_STEP_REBOOT,       /* reboot and wait until ready again */
} kiln_step_kind;

typedef struct kiln_configure_step {
        kiln_step_kind kind;
        const char *arg;
} kiln_configure_step;

/* stream: 1 for stdout, 2 for stderr. */
typedef void (*kiln_output_fn)(int stream, const char *data, size_t len, void *userdata);

/* Runs the steps in order. A step that fails stops the run: KILN_E_STATE with the step, its
 * exit status in *ret_exit_status (non-zero) and the tail of its stderr in the message. */
KILN_PUBLIC int kiln_instance_configure(kiln_ctx *ctx, const char *instance_id,
                                        const kiln_configure_step *steps, size_t n,
                                        kiln_output_fn output, void *userdata, int *ret_exit_status,
                                        kiln_error **err);

/* A MOTD script keeps its file name in /etc/update-motd.d/, where run-parts (update-motd)
 * silently skips any name but letters, digits, '_' and '-' ("motd.sh" never runs). */
KILN_PUBLIC bool kiln_motd_script_name_valid(const char *path);

/* The MOTD script kiln writes for a message: the text is shown literally (quotes,
 * backslashes, $(...) and newlines are never interpreted), through cowsay where it exists. */
KILN_PUBLIC char *kiln_motd_script(const char *message);

#endif
