/* Logging goes to the one handler the program installed; with none, nothing is written. */
#include <stdarg.h>

#include "util/util.h"

static kiln_log_fn log_fn;
static void *log_userdata;
static kiln_log_level log_max = KILN_LOG_WARN;

void kiln_log_set_handler(kiln_log_fn fn, kiln_log_level max_level, void *userdata)
{
        log_fn = fn;
        log_max = max_level;
        log_userdata = userdata;
}

int kiln_log_enabled(kiln_log_level level)
{
        return log_fn && level <= log_max;
}

void kiln_log(kiln_log_level level, const char *fmt, ...)
{
        va_list ap;
        kiln_autofree char *msg = NULL;

        if (!kiln_log_enabled(level))
                return;
        va_start(ap, fmt);
        msg = kiln_xvasprintf(fmt, ap);
        va_end(ap);
        log_fn(level, msg, log_userdata);
}

void kiln_notify(kiln_log_fn fn, void *userdata, kiln_log_level level, const char *fmt, ...)
{
        kiln_autofree char *msg = NULL;
        va_list ap;

        if (!fn)
                return;
        va_start(ap, fmt);
        msg = kiln_xvasprintf(fmt, ap);
        va_end(ap);
        fn(level, msg, userdata);
}
