/* Errors: set once, never overwritten, prefixed, and mapped to names. */
#include <errno.h>

#include "tap.h"
#include "util/util.h"

static int fails_with(kiln_error **err)
{
        return kiln_error_set(err, KILN_E_NOT_FOUND, "InvalidAMIID.NotFound",
                              "The image id '[%s]' does not exist", "ami-0123456789abcdef0");
}

int main(void)
{
        kiln_autoptr(kiln_error) err = NULL;
        kiln_autoptr(kiln_error) e2 = NULL;

        is_int(fails_with(&err), -1, "kiln_error_set returns -1");
        ok(err != NULL, "the error is set");
        if (!err)
                return done();
        is_int(err->code, KILN_E_NOT_FOUND, "code kept");
        is_str(err->api_code, "InvalidAMIID.NotFound", "EC2 code kept");
        is_str(err->msg, "The image id '[ami-0123456789abcdef0]' does not exist", "message");

        kiln_error_set(&err, KILN_E_IO, NULL, "rollback failed too");
        is_int(err->code, KILN_E_NOT_FOUND, "a second error does not overwrite the first");
        like(err->msg, "does not exist", "first message kept");

        kiln_error_prefix(&err, "describe-images");
        is_str(err->msg, "describe-images: The image id '[ami-0123456789abcdef0]' does not exist",
               "prefix goes before the message");

        is_int(kiln_error_set(NULL, KILN_E_IO, NULL, "nobody listens"), -1,
               "a NULL err pointer is allowed");
        is_int(kiln_error_reason_of(err), KILN_R_NONE, "an error has no reason until one is given");
        is_int(kiln_error_set_reason(&err, KILN_R_PORT_IN_USE), -1,
               "kiln_error_set_reason returns -1");
        is_int(kiln_error_reason_of(err), KILN_R_PORT_IN_USE,
               "callers test the reason, not the words");
        is_int(kiln_error_reason_of(NULL), KILN_R_NONE, "no error, no reason");
        kiln_error_set_reason(&e2, KILN_R_PORT_IN_USE);
        ok(e2 == NULL, "a reason without an error does nothing");
        kiln_error_prefix(&e2, "nothing");
        ok(e2 == NULL, "prefix without an error does nothing");

        kiln_error_set_errno(&e2, ENOENT, KILN_E_IO, "cannot open '%s'", "/nope");
        is_str(e2->msg, "cannot open '/nope': No such file or directory", "errno text appended");
        is_int(e2->sys_errno, ENOENT, "errno kept");

        is_str(kiln_error_code_name(KILN_E_INVALID), "InvalidParameterValue", "code names");
        is_str(kiln_error_code_name(9999), "InternalError", "unknown code names safely");
        ok(kiln_error_free(NULL) == NULL, "free is NULL-safe");
        return done();
}
