/* Errors are set once, at the failure, and never overwritten: the first cause wins, so a
 * rollback that fails too cannot hide why the operation failed. */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

static int error_vset(kiln_error **err, int code, int errnum, const char *api_code, const char *fmt,
                      va_list ap) __attribute__((format(printf, 5, 0)));

static int error_vset(kiln_error **err, int code, int errnum, const char *api_code, const char *fmt,
                      va_list ap)
{
        kiln_error *e;

        if (!err || *err)
                return -1;
        e = kiln_xcalloc(1, sizeof(*e));
        e->code = code;
        e->sys_errno = errnum;
        e->api_code = api_code;
        e->msg = kiln_xvasprintf(fmt, ap);
        if (errnum) {
                char *full = kiln_xasprintf("%s: %s", e->msg, strerror(errnum));

                free(e->msg);
                e->msg = full;
        }
        *err = e;
        return -1;
}

int kiln_error_set(kiln_error **err, int code, const char *api_code, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        error_vset(err, code, 0, api_code, fmt, ap);
        va_end(ap);
        return -1;
}

int kiln_error_set_errno(kiln_error **err, int errnum, int code, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        error_vset(err, code, errnum, NULL, fmt, ap);
        va_end(ap);
        return -1;
}

int kiln_error_set_reason(kiln_error **err, int reason)
{
        if (err && *err)
                (*err)->reason = reason;
        return -1;
}

int kiln_error_reason_of(const kiln_error *err)
{
        return err ? err->reason : KILN_R_NONE;
}

void kiln_error_prefix(kiln_error **err, const char *fmt, ...)
{
        va_list ap;
        kiln_autofree char *prefix = NULL;
        char *full;

        if (!err || !*err)
                return;
        va_start(ap, fmt);
        prefix = kiln_xvasprintf(fmt, ap);
        va_end(ap);
        full = kiln_xasprintf("%s: %s", prefix, (*err)->msg);
        free((*err)->msg);
        (*err)->msg = full;
}

kiln_error *kiln_error_free(kiln_error *e)
{
        if (e) {
                free(e->msg);
                free(e);
        }
        return NULL;
}

const char *kiln_error_code_name(int code)
{
        static const char *const names[KILN_E_COUNT] = {
                [KILN_E_INTERNAL] = "InternalError",
                [KILN_E_INVALID] = "InvalidParameterValue",
                [KILN_E_NOT_FOUND] = "NotFound",
                [KILN_E_EXISTS] = "AlreadyExists",
                [KILN_E_STATE] = "IncorrectState",
                [KILN_E_PERMISSION] = "AuthFailure",
                [KILN_E_LIMIT] = "LimitExceeded",
                [KILN_E_UNSUPPORTED] = "Unsupported",
                [KILN_E_IO] = "IOError",
                [KILN_E_TIMEOUT] = "Timeout",
                [KILN_E_LIBVIRT] = "HypervisorError",
                [KILN_E_SSH] = "SSHError",
                [KILN_E_HTTP] = "DownloadError",
                [KILN_E_JSON] = "MalformedJSON",
                [KILN_E_INTERRUPTED] = "Interrupted",
        };

        if (code <= 0 || code >= KILN_E_COUNT || !names[code])
                return "InternalError";
        return names[code];
}

static volatile sig_atomic_t interrupted;

void kiln_interrupt(void)
{
        interrupted = 1;
}

int kiln_interrupted(void)
{
        return interrupted != 0;
}
