/* Growable string: see strbuf.h. */
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(struct strbuf *b)
{
    b->s = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void strbuf_free(struct strbuf *b)
{
    free(b->s);
    strbuf_init(b);
}

static int strbuf_grow(struct strbuf *b, size_t extra)
{
    size_t need, cap;
    char *s;

    if (b->oom) {
        return -1;
    }
    if (extra > (size_t)-1 - b->len - 1) {
        b->oom = 1; /* no size_t can hold it */
        return -1;
    }
    need = b->len + extra + 1;
    if (need <= b->cap) {
        return 0;
    }
    cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap = cap > (size_t)-1 / 2 ? need : cap * 2;
    }
    s = realloc(b->s, cap);
    if (s == NULL) {
        b->oom = 1;
        return -1;
    }
    b->s = s;
    b->cap = cap;
    return 0;
}

void strbuf_reserve(struct strbuf *b, size_t n)
{
    (void)strbuf_grow(b, n);
}

void strbuf_append(struct strbuf *b, const char *data, size_t len)
{
    if (strbuf_grow(b, len) != 0) {
        return;
    }
    memcpy(b->s + b->len, data, len);
    b->len += len;
    b->s[b->len] = '\0';
}

void strbuf_puts(struct strbuf *b, const char *s)
{
    strbuf_append(b, s, strlen(s));
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || strbuf_grow(b, (size_t)n) != 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *strbuf_cstr(struct strbuf *b)
{
    return (b->s != NULL && !b->oom) ? b->s : "";
}
