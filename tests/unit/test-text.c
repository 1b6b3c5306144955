/* Text from outside: the strict UTF-8 decoder (overlong forms, surrogates, truncation, values
 * above U+10FFFF) and the sanitizer, category by category: C0, escape sequences, DEL, C1 as
 * UTF-8, bytes that are not UTF-8, overlong encodings, and non-ASCII text that must pass. */
#include <stdlib.h>

#include <kiln/text.h>

#include "tap.h"

static void decodes(const char *s, size_t want_len, uint32_t want_cp, const char *what)
{
        uint32_t cp = 0xdeadbeef;
        size_t n = kiln_utf8_char(s, &cp);

        ok(n == want_len && (n == 0 || cp == want_cp), "%s: length %zu, U+%04X", what, want_len,
           (unsigned) want_cp);
        if (n != want_len || (n && cp != want_cp))
                printf("#   got: length %zu, U+%04X\n", n, (unsigned) cp);
}

static void sanitizes(const char *in, unsigned flags, const char *want, const char *what)
{
        char *got = kiln_text_sanitize(in, flags);

        is_str(got, want, "%s", what);
        free(got);
}

int main(void)
{
        /* ---- the decoder ---- */
        decodes("a", 1, 'a', "ASCII");
        decodes("", 1, 0, "NUL is a character of its own");
        decodes("\xc3\xa9", 2, 0xe9, "é");
        decodes("\xe4\xb8\xad", 3, 0x4e2d, "中");
        decodes("\xf0\x9f\x94\xa5", 4, 0x1f525, "a 4-byte character");
        decodes("\xc2\x9b", 2, 0x9b, "C1 CSI decodes (the sanitizer decides what to do)");
        decodes("\xf4\x8f\xbf\xbf", 4, 0x10ffff, "U+10FFFF, the last code point");
        decodes("\x80", 0, 0, "a stray continuation byte");
        decodes("\xc3", 0, 0, "a sequence cut short by the end");
        decodes("\xe4\xb8", 0, 0, "a 3-byte sequence cut short");
        decodes("\xc3(", 0, 0, "a lead byte without its continuation");
        decodes("\xc0\xaf", 0, 0, "overlong '/' in 2 bytes");
        decodes("\xc1\xbf", 0, 0, "overlong DEL in 2 bytes");
        decodes("\xe0\x80\xaf", 0, 0, "overlong '/' in 3 bytes");
        decodes("\xe0\x82\x9b", 0, 0, "overlong C1 CSI in 3 bytes");
        decodes("\xf0\x80\x80\xaf", 0, 0, "overlong '/' in 4 bytes");
        decodes("\xed\xa0\x80", 0, 0, "a UTF-16 surrogate (U+D800)");
        decodes("\xf4\x90\x80\x80", 0, 0, "above U+10FFFF");
        decodes("\xf8\x88\x80\x80\x80", 0, 0, "a 5-byte form");
        decodes("\xff", 0, 0, "0xff");

        ok(kiln_text_is_control(0x1b) && kiln_text_is_control(0x7f) && kiln_text_is_control(0x80) &&
                   kiln_text_is_control(0x9f),
           "ESC, DEL and C1 are controls");
        ok(!kiln_text_is_control(' ') && !kiln_text_is_control(0xa0) && !kiln_text_is_control(0xe9),
           "space, NBSP and é are not");

        /* ---- the sanitizer ---- */
        sanitizes("web tier (v2)", 0, "web tier (v2)", "plain ASCII is kept");
        sanitizes("caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x94\xa5", 0,
                  "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x94\xa5",
                  "é, CJK and a 4-byte character are kept");
        sanitizes("C:\\dir\\x1b", 0, "C:\\dir\\x1b", "backslashes are kept");
        sanitizes("a\tb\nc\rd\001e", 0, "a\\x09b\\x0ac\\x0dd\\x01e", "C0 controls become \\xNN");
        sanitizes("x\x1b]2;pwned\ay", 0, "x\\x1b]2;pwned\\x07y",
                  "an OSC title sequence (ESC ] 2 ;)");
        sanitizes("\x1b[2J\x1b[31mred", 0, "\\x1b[2J\\x1b[31mred", "CSI sequences (clear, colour)");
        sanitizes("a\x7f"
                  "b",
                  0, "a\\x7fb", "DEL");
        sanitizes("a\xc2\x9b"
                  "2Jb\xc2\x80\xc2\x9f",
                  0, "a\\u009b2Jb\\u0080\\u009f", "C1 as UTF-8 (CSI, U+0080, U+009F)");
        sanitizes("a\x9b"
                  "2Jb",
                  0, "a\\x9b2Jb", "a raw C1 byte that is not UTF-8");
        sanitizes("\xc3(\xff\xe4\xb8", 0, "\\xc3(\\xff\\xe4\\xb8",
                  "bytes that are not UTF-8, one \\xNN each");
        sanitizes("\xc0\xaf\xe0\x82\x9b", 0, "\\xc0\\xaf\\xe0\\x82\\x9b",
                  "overlong encodings are bytes, not characters");
        sanitizes("\xed\xa0\x80", 0, "\\xed\\xa0\\x80", "a surrogate");
        sanitizes("line 1\r\nline 2\n\x1b[2Jline 3\rx", KILN_TEXT_KEEP_NEWLINES,
                  "line 1\nline 2\n\\x1b[2Jline 3\\x0dx",
                  "KEEP_NEWLINES keeps \\n, drops CR before LF, escapes the rest");
        sanitizes("", 0, "", "the empty string");
        return done();
}
