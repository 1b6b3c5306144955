/* Text that comes from outside kiln (another account's descriptions and tags, a guest's console
 * and stderr, an old registry's records) on its way to a terminal: decoding UTF-8 strictly, and
 * making text safe to print. */
#ifndef KILN_TEXT_H
#define KILN_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include <kiln/common.h>
#include <kiln/error.h>

/* The length (1 to 4) of the well-formed UTF-8 character that s starts, with its code point in
 * *ret_cp; 0 if s starts none: a stray continuation byte, a sequence cut short, an overlong
 * form, a surrogate or a value above U+10FFFF (RFC 3629). A NUL byte is a character of length
 * 1. s is NUL-terminated, so a truncated sequence is never read past its end. */
KILN_PUBLIC size_t kiln_utf8_char(const char *s, uint32_t *ret_cp);

/* True for the characters a terminal may obey instead of showing: C0 (U+0000 to U+001F), DEL
 * and C1 (U+0080 to U+009F). */
static inline int kiln_text_is_control(uint32_t cp)
{
        return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

enum {
        /* Keep "\n" (dropping a "\r" just before it): for messages whose lines are part of
         * their form, such as a console tail. */
        KILN_TEXT_KEEP_NEWLINES = 1 << 0,
};

/* s made safe to print, as a new string: each C0 or DEL character becomes \xNN, each C1
 * character \u00NN, and each byte that does not belong to a well-formed UTF-8 character \xNN;
 * everything else ("é", CJK, a backslash) stays as it is. */
KILN_PUBLIC char *kiln_text_sanitize(const char *s, unsigned flags);

/* Text that kiln stores and others print (descriptions, tags, names): well-formed UTF-8
 * without control characters (C0, DEL, C1), at most max_len characters (0: any number).
 * NULL (absent) passes. Otherwise InvalidParameterValue, naming field. Every writer of such
 * text checks it here, so what the registry holds is safe to print and valid in JSON. */
KILN_PUBLIC int kiln_text_check(const char *field, const char *value, size_t max_len,
                                kiln_error **err);

/* The aws CLI's shorthand syntax for a structured option value ("Key=Name,Value=web",
 * "DeviceName=/dev/sdf,Ebs={VolumeSize=8}", "Tags=[{Key=a,Value=b}]", "Values=a,b") as JSON
 * text (an object; every scalar a string) in *ret_json, to free. InvalidParameterValue naming
 * the position otherwise. */
KILN_PUBLIC int kiln_shorthand_to_json(const char *text, char **ret_json, kiln_error **err);

/* Base64 as EC2 carries blobs (UserData, GetConsoleOutput's Output): padded, on one line. */
KILN_PUBLIC char *kiln_base64(const void *data, size_t len);
/* The bytes of strict base64 text (white space skipped; "" is no bytes), NUL-terminated in one
 * allocation to free(); InvalidParameterValue naming field otherwise. */
KILN_PUBLIC int kiln_base64_parse(const char *field, const char *text, unsigned char **ret,
                                  size_t *ret_len, kiln_error **err);

#endif
