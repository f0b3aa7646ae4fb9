/* A growable byte string (the one string builder of the project).  An
 * allocation failure sets `oom` and later appends do nothing, so callers
 * check once at the end. */
#ifndef GD_STRBUF_H
#define GD_STRBUF_H

#include <stddef.h>

struct strbuf {
    char *s;    /* NUL-terminated when len > 0 or after strbuf_cstr */
    size_t len;
    size_t cap;
    int oom;
};

void strbuf_init(struct strbuf *b);
void strbuf_free(struct strbuf *b);
void strbuf_append(struct strbuf *b, const char *data, size_t len);
/* Makes room for n more bytes at once (one allocation instead of a chain
 * of doublings when the size is known roughly); sets oom on failure. */
void strbuf_reserve(struct strbuf *b, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);
void strbuf_printf(struct strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Always a valid C string ("" when empty or after OOM). */
const char *strbuf_cstr(struct strbuf *b);

#endif
