/* Allocation: kiln treats running out of memory as fatal, as libvirt and systemd do, so that
 * no caller has an OOM path it never tests. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

static void oom(void)
{
        fputs("kiln: out of memory\n", stderr);
        abort();
}

void *kiln_xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);

        if (!p)
                oom();
        return p;
}

void *kiln_xcalloc(size_t nmemb, size_t n)
{
        void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);

        if (!p)
                oom();
        return p;
}

void *kiln_xrealloc(void *p, size_t n)
{
        void *q = realloc(p, n ? n : 1);

        if (!q)
                oom();
        return q;
}

char *kiln_xstrdup(const char *s)
{
        char *p;

        if (!s)
                return NULL;
        p = strdup(s);
        if (!p)
                oom();
        return p;
}

char *kiln_xstrndup(const char *s, size_t n)
{
        char *p = strndup(s, n);

        if (!p)
                oom();
        return p;
}

char *kiln_xvasprintf(const char *fmt, va_list ap)
{
        char *p = NULL;

        if (vasprintf(&p, fmt, ap) < 0)
                oom();
        return p;
}

char *kiln_xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *p;

        va_start(ap, fmt);
        p = kiln_xvasprintf(fmt, ap);
        va_end(ap);
        return p;
}

void kiln_buf_append(kiln_buf *b, const void *data, size_t n)
{
        if (!b->data || b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 256;

                while (cap < b->len + n + 1)
                        cap *= 2;
                b->data = kiln_xrealloc(b->data, cap);
                b->cap = cap;
        }
        if (n)
                memcpy(b->data + b->len, data, n);
        b->len += n;
        b->data[b->len] = '\0';
}

void kiln_buf_append_tail(kiln_buf *b, const void *data, size_t n, size_t max)
{
        if (n >= max) {
                kiln_buf_clear(b);
                kiln_buf_append(b, (const char *) data + (n - max), max);
                return;
        }
        kiln_buf_append(b, data, n);
        /* Trimmed in steps of at least max bytes, so a long stream costs linear time. */
        if (b->len >= 2 * max) {
                memmove(b->data, b->data + (b->len - max), max);
                b->len = max;
                b->data[max] = '\0';
        }
}

void kiln_buf_tail(kiln_buf *b, size_t max)
{
        if (b->len > max) {
                memmove(b->data, b->data + (b->len - max), max);
                b->len = max;
                b->data[max] = '\0';
        }
}

void kiln_buf_appendf(kiln_buf *b, const char *fmt, ...)
{
        va_list ap;
        kiln_autofree char *s = NULL;

        va_start(ap, fmt);
        s = kiln_xvasprintf(fmt, ap);
        va_end(ap);
        kiln_buf_append(b, s, strlen(s));
}

char *kiln_buf_steal(kiln_buf *b)
{
        char *p;

        if (!b->data)
                kiln_buf_append(b, "", 0);
        p = b->data;
        b->data = NULL;
        b->len = b->cap = 0;
        return p;
}

void kiln_buf_clear(kiln_buf *b)
{
        free(b->data);
        b->data = NULL;
        b->len = b->cap = 0;
}

void kiln_strv_free(char **v, size_t n)
{
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}
