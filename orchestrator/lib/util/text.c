/* UTF-8 decoding and the sanitizer for text from outside. The decoder is strict (RFC 3629),
 * because the validators that refuse bad names and descriptions, the wildcard matcher and the
 * printers must all agree on where a character starts and ends. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <kiln/text.h>

#include "util/util.h"

size_t kiln_utf8_char(const char *s, uint32_t *ret_cp)
{
        const unsigned char *u = (const unsigned char *) s;
        uint32_t cp, min;
        size_t n;

        if (u[0] < 0x80) {
                *ret_cp = u[0];
                return 1;
        }
        if (u[0] >= 0xc2 && u[0] <= 0xdf) {
                n = 2;
                cp = u[0] & 0x1f;
                min = 0x80;
        } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
                n = 3;
                cp = u[0] & 0x0f;
                min = 0x800;
        } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
                n = 4;
                cp = u[0] & 0x07;
                min = 0x10000;
        } else {
                return 0; /* a continuation byte, 0xc0/0xc1 (always overlong), or 0xf5 and up */
        }
        /* A NUL ends the string and is not a continuation byte, so this stops there. */
        for (size_t i = 1; i < n; i++) {
                if ((u[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (u[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret_cp = cp;
        return n;
}

char *kiln_text_sanitize(const char *s, unsigned flags)
{
        size_t len = strlen(s);
        char *out, *o;

        /* The longest replacement, \xNN for one byte, is 4 bytes. */
        assert(len < ((size_t) -1) / 4);
        out = kiln_xmalloc(4 * len + 1);
        o = out;
        for (const char *p = s; *p;) {
                uint32_t cp = 0;
                size_t n = kiln_utf8_char(p, &cp);

                if (n == 0) {
                        o += snprintf(o, 5, "\\x%02x", (unsigned char) *p);
                        p++;
                        continue;
                }
                if (!kiln_text_is_control(cp) ||
                    ((flags & KILN_TEXT_KEEP_NEWLINES) && cp == '\n')) {
                        memcpy(o, p, n);
                        o += n;
                } else if ((flags & KILN_TEXT_KEEP_NEWLINES) && cp == '\r' && p[1] == '\n') {
                        /* CR LF ends a line as LF does */
                } else if (cp < 0x80) {
                        o += snprintf(o, 5, "\\x%02x", (unsigned) cp);
                } else {
                        o += snprintf(o, 7, "\\u%04x", (unsigned) cp);
                }
                p += n;
        }
        *o = '\0';
        return out;
}

int kiln_text_check(const char *field, const char *value, size_t max_len, kiln_error **err)
{
        size_t chars = 0;

        if (!value)
                return 0;
        for (const char *p = value; *p; chars++) {
                uint32_t cp;
                size_t n = kiln_utf8_char(p, &cp);

                if (n == 0)
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "Value for parameter %s is invalid: it is not "
                                              "UTF-8 (byte %zu is 0x%02x)",
                                              field, (size_t) (p - value) + 1, (unsigned char) *p);
                if (kiln_text_is_control(cp))
                        return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                              "Value for parameter %s is invalid: character %zu "
                                              "is the control character U+%04X",
                                              field, chars + 1, (unsigned) cp);
                p += n;
        }
        if (max_len && chars > max_len)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Value for parameter %s is invalid: %zu characters, more "
                                      "than %zu",
                                      field, chars, max_len);
        return 0;
}

char *kiln_base64(const void *data, size_t len)
{
        return kiln_base64_encode(data, len, true);
}

int kiln_base64_parse(const char *field, const char *text, unsigned char **ret, size_t *ret_len,
                      kiln_error **err)
{
        unsigned char *b;

        if (text && !*text) {
                *ret = kiln_xcalloc(1, 1);
                *ret_len = 0;
                return 0;
        }
        b = text ? kiln_base64_decode(text, strlen(text), true, ret_len) : NULL;
        if (!b)
                return kiln_error_set(err, KILN_E_INVALID, "InvalidParameterValue",
                                      "Invalid BASE64 encoding of %s", field);
        *ret = b;
        return 0;
}
