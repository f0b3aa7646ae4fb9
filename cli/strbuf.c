/* Growable string used for requests, paths and table cells: see strbuf.h. */
#include "cli/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(struct strbuf *sb)
{
    memset(sb, 0, sizeof *sb);
}

void strbuf_close(struct strbuf *sb)
{
    free(sb->buf);
    strbuf_init(sb);
}

const char *strbuf_str(const struct strbuf *sb)
{
    return sb->buf != NULL ? sb->buf : "";
}

char *strbuf_take(struct strbuf *sb)
{
    char *s;

    if (sb->failed) {
        strbuf_close(sb);
        return NULL;
    }
    s = sb->buf != NULL ? sb->buf : strdup("");
    strbuf_init(sb);
    return s;
}

bool strbuf_ok(const struct strbuf *sb)
{
    return !sb->failed;
}

/* Makes room for n more bytes plus the NUL; false (and sticky failure) when
 * that cannot be had. */
static bool strbuf_reserve(struct strbuf *sb, size_t n)
{
    size_t want, cap;
    char *p;

    if (sb->failed)
        return false;
    if (n > (size_t)-1 / 2 - sb->len) {
        sb->failed = true;
        return false;
    }
    want = sb->len + n + 1;
    if (want <= sb->cap)
        return true;
    cap = sb->cap != 0 ? sb->cap : 64;
    while (cap < want)
        cap *= 2;
    p = realloc(sb->buf, cap);
    if (p == NULL) {
        sb->failed = true;
        return false;
    }
    sb->buf = p;
    sb->cap = cap;
    return true;
}

void strbuf_append(struct strbuf *sb, const void *data, size_t n)
{
    if (!strbuf_reserve(sb, n))
        return;
    if (n > 0)
        memcpy(sb->buf + sb->len, data, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void strbuf_puts(struct strbuf *sb, const char *s)
{
    strbuf_append(sb, s, strlen(s));
}

void strbuf_putc(struct strbuf *sb, char c)
{
    strbuf_append(sb, &c, 1);
}

void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->failed = true;
        return;
    }
    if (!strbuf_reserve(sb, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void strbuf_put_urlenc(struct strbuf *sb, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            strbuf_putc(sb, (char)c);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            strbuf_append(sb, esc, 3);
        }
    }
}
