/* Quoting for the two languages kiln writes commands in: a POSIX shell (commands run on a
 * guest, and commands printed for the user to paste) and ssh_config option values. */
#include <string.h>

#include "util/util.h"

char *kiln_shell_quote(const char *s)
{
        kiln_buf b = {0};

        kiln_buf_append(&b, "'", 1);
        for (; *s; s++) {
                if (*s == '\'')
                        kiln_buf_append(&b, "'\\''", 4);
                else
                        kiln_buf_append(&b, s, 1);
        }
        kiln_buf_append(&b, "'", 1);
        return kiln_buf_steal(&b);
}

char *kiln_shell_word(const char *s)
{
        static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789_./:@=,+-%";

        if (*s && strspn(s, plain) == strlen(s))
                return kiln_xstrdup(s);
        return kiln_shell_quote(s);
}

char *kiln_ssh_config_value(const char *s)
{
        kiln_buf b = {0};
        bool quote = strpbrk(s, " \t") != NULL;

        if (quote)
                kiln_buf_append(&b, "\"", 1);
        /* ssh expands %-tokens in file names: a literal '%' is written "%%". */
        for (; *s; s++)
                kiln_buf_append(&b, *s == '%' ? "%%" : s, *s == '%' ? 2 : 1);
        if (quote)
                kiln_buf_append(&b, "\"", 1);
        return kiln_buf_steal(&b);
}
