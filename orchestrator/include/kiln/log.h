/* Logging: the library logs at debug level only (the argv of a tool, a libvirt call); anything
 * worse is an error returned to the caller. The CLI installs the handler. */
#ifndef KILN_LOG_H
#define KILN_LOG_H

#include <stdarg.h>

#include <kiln/common.h>

typedef enum { KILN_LOG_ERR, KILN_LOG_WARN, KILN_LOG_INFO, KILN_LOG_DEBUG } kiln_log_level;

typedef void (*kiln_log_fn)(kiln_log_level level, const char *msg, void *userdata);

/* Installs fn (NULL: discard) and the most verbose level it receives. */
KILN_PUBLIC void kiln_log_set_handler(kiln_log_fn fn, kiln_log_level max_level, void *userdata);
KILN_PUBLIC void kiln_log(kiln_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
KILN_PUBLIC int kiln_log_enabled(kiln_log_level level);

#endif
