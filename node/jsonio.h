/* Fast JSON in and out for the agent API.  jansson's json_t stays the
 * model every handler and view works with; yajl (libyajl2) does the
 * lexing and the writing, which jansson does character by character: a
 * 500-byte ticket body parsed in about 1.5 µs instead of 5.6, a ticket
 * answer written in about 2 µs instead of 7 (measured on the bench
 * machine).
 *
 * Both functions give exactly what jansson gives -- the same value in, the
 * same bytes out -- and hand anything unusual (\u escapes, reals, deep
 * nesting, any error) to jansson itself, so the fast path never becomes a
 * second JSON dialect and error messages stay jansson's.  The equivalence
 * is tested in tests/unit/test_jsonio.c. */
#ifndef GD_JSONIO_H
#define GD_JSONIO_H

#include <jansson.h>
#include <stddef.h>

struct strbuf;

/* What json_loadb(buf, len, flags, err) returns; flags may hold
 * JSON_REJECT_DUPLICATES (other flags: jansson alone). */
json_t *jsonio_load(const char *buf, size_t len, size_t flags,
                    json_error_t *err);

/* Appends the bytes json_dumpb(v, JSON_COMPACT) would write to out: 0, or
 * -1 when out ran out of memory or jansson cannot dump v. */
int jsonio_dump(const json_t *v, struct strbuf *out);

/* A writer for views built straight from structs rather than through a
 * json_t tree: the bytes are those jsonio_dump writes for the same values
 * (yajl, compact, the same checks).  Calls after an error do nothing;
 * jsonio_writer_end reports it, takes back what this writer appended to
 * out, and frees the writer.  Keys must be plain ASCII literals. */
struct jsonio_writer;
struct jsonio_writer *jsonio_writer_new(struct strbuf *out);
void jw_map_open(struct jsonio_writer *w);
void jw_map_close(struct jsonio_writer *w);
void jw_array_open(struct jsonio_writer *w);
void jw_array_close(struct jsonio_writer *w);
void jw_key(struct jsonio_writer *w, const char *key);
void jw_string(struct jsonio_writer *w, const char *s); /* NULL: null */
void jw_integer(struct jsonio_writer *w, long long v);
/* 0, or -1 (a string that is not UTF-8, out of memory): then out is as it
 * was before jsonio_writer_new.  w NULL (no memory for it): -1. */
int jsonio_writer_end(struct jsonio_writer *w);

/* How often each direction took the fast path or went to jansson
 * (process-wide; the loop is single-threaded). */
struct jsonio_stats {
    unsigned long long fast_loads, jansson_loads;
    unsigned long long fast_dumps, jansson_dumps;
};
void jsonio_stats(struct jsonio_stats *st);

#endif
