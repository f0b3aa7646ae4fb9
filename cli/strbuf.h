/* A growable, always NUL-terminated byte string.  Allocation failure is
 * sticky: appends after a failure do nothing and strbuf_ok() says false, so
 * callers build a whole string and check once. */
#ifndef GD_CLI_STRBUF_H
#define GD_CLI_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
    char *buf;  /* NULL until the first append; owned by the strbuf */
    size_t len; /* bytes used, not counting the NUL */
    size_t cap;
    bool failed; /* an allocation failed */
};

/* Initialises an empty buffer embedded by the caller. */
void strbuf_init(struct strbuf *sb);
/* Frees the bytes; the strbuf may be reused after strbuf_init(). */
void strbuf_close(struct strbuf *sb);
/* Returns the bytes, which stay owned by sb; "" for an empty buffer. */
const char *strbuf_str(const struct strbuf *sb);
/* Hands the bytes to the caller (free() them) and empties sb; NULL on a
 * failed buffer. */
char *strbuf_take(struct strbuf *sb);
bool strbuf_ok(const struct strbuf *sb);

void strbuf_append(struct strbuf *sb, const void *data, size_t n);
void strbuf_puts(struct strbuf *sb, const char *s);
void strbuf_putc(struct strbuf *sb, char c);
void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s percent-encoded for a URL path segment or query value: every
 * byte except ALPHA / DIGIT / "-" / "." / "_" / "~" becomes %XX. */
void strbuf_put_urlenc(struct strbuf *sb, const char *s);

#endif
