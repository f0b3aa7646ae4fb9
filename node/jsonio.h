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

/* How often each direction took the fast path or went to jansson
 * (process-wide; the loop is single-threaded). */
struct jsonio_stats {
    unsigned long long fast_loads, jansson_loads;
    unsigned long long fast_dumps, jansson_dumps;
};
void jsonio_stats(struct jsonio_stats *st);

#endif
