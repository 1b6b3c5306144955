/* Errors: every failing call sets one kiln_error, once, at the failure, and returns -1 (or
 * NULL). A set error is never overwritten, so a rollback cannot hide the cause. The CLI maps
 * the code to an exit status; api_code carries the EC2 error code where one applies. */
#ifndef KILN_ERROR_H
#define KILN_ERROR_H

#include <kiln/common.h>

typedef enum {
        KILN_E_INTERNAL = 1, /* a bug or an unexpected condition */
        KILN_E_INVALID,      /* bad input: parameter, template, file content */
        KILN_E_NOT_FOUND,    /* a named object does not exist */
        KILN_E_EXISTS,       /* the object already exists (duplicate name, ID) */
        KILN_E_STATE,        /* the object is in the wrong state, or in use */
        KILN_E_PERMISSION,   /* the caller may not do this (AuthFailure) */
        KILN_E_LIMIT,        /* a size or count limit was exceeded */
        KILN_E_UNSUPPORTED,  /* the host cannot do this (for example KVM without VT-x) */
        KILN_E_IO,           /* files, external tools, the system */
        KILN_E_TIMEOUT,      /* a deadline passed */
        KILN_E_LIBVIRT,      /* libvirt refused or failed */
        KILN_E_SSH,          /* SSH connection, authentication, host key */
        KILN_E_HTTP,         /* a download failed */
        KILN_E_JSON,         /* malformed JSON */
        KILN_E_INTERRUPTED,  /* stopped by a signal */
        KILN_E_COUNT
} kiln_error_code;

/* What exactly went wrong, where callers decide on it (they never read the message): set by
 * the layer that knows, after kiln_error_set. */
typedef enum {
        KILN_R_NONE = 0,
        KILN_R_HOST_KEY_MISMATCH, /* an SSH server presented another host key than the pinned */
        KILN_R_PORT_IN_USE,       /* a host port a domain forwards could not be bound */
        KILN_R_DRY_RUN,           /* a dry run passed its checks (EC2's DryRunOperation) */
} kiln_error_reason;

typedef struct kiln_error {
        int code;             /* a kiln_error_code */
        int reason;           /* a kiln_error_reason */
        int sys_errno;        /* 0 unless a system call failed */
        const char *api_code; /* static string such as "InvalidAMIID.NotFound", or NULL */
        char *msg;
} kiln_error;

/* Sets *err unless err is NULL or *err is already set. Always returns -1. */
KILN_PUBLIC int kiln_error_set(kiln_error **err, int code, const char *api_code, const char *fmt,
                               ...) __attribute__((format(printf, 4, 5)));
/* As kiln_error_set, and appends ": strerror(errnum)". */
KILN_PUBLIC int kiln_error_set_errno(kiln_error **err, int errnum, int code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Gives a set error its reason; does nothing if none is set. Always returns -1. */
KILN_PUBLIC int kiln_error_set_reason(kiln_error **err, int reason);
/* The reason of err (KILN_R_NONE for NULL). */
KILN_PUBLIC int kiln_error_reason_of(const kiln_error *err);
/* Puts "PREFIX: " before the message of a set error; does nothing if none is set. */
KILN_PUBLIC void kiln_error_prefix(kiln_error **err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
KILN_PUBLIC kiln_error *kiln_error_free(kiln_error *e);
/* "InvalidParameterValue"-style name of a code, for logs and JSON error output. */
KILN_PUBLIC const char *kiln_error_code_name(int code);

/* Cancelling long waits: kiln_interrupt is async-signal-safe (a signal handler may call it);
 * waits that poll (readiness, state changes) then fail with KILN_E_INTERRUPTED. */
KILN_PUBLIC void kiln_interrupt(void);
KILN_PUBLIC int kiln_interrupted(void);

KILN_DEFINE_AUTOPTR(kiln_error, kiln_error_free)

#endif
