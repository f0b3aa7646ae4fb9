/* Small helpers shared by core/ and its users: owned-string copies, China
 * Standard Time formatting without a tz database, UTF-8 checking, and the
 * msgpack plumbing every core codec uses (a pre-scan that refuses hostile
 * sizes before msgpack-c allocates for them, and strict field readers).
 * Pure: no I/O, no clock, no global state. */
#ifndef GD_UTIL_H
#define GD_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Forward declarations so that users of the plain helpers need not include
 * <msgpack.h>; the gd_mp_* functions take msgpack-c's own types. */
struct msgpack_packer;
struct msgpack_object;
struct msgpack_zone;

/* Sets *dst to a malloc'd copy of src (src NULL: *dst = NULL), freeing the
 * old *dst first.  Returns 0, or GD_ENOMEM leaving *dst unchanged.  The
 * caller owns *dst. */
int gd_strdup(char **dst, const char *src);

/* Offset of China Standard Time from UTC.  Fixed: China has had no daylight
 * saving time since 1991, so no tz database is needed. */
#define GD_TZ_OFFSET_MS (8LL * 3600 * 1000)

/* Concatenates the NULL-terminated list of strings into out as snprintf
 * would (truncated to cap - 1 bytes, always terminated when cap > 0);
 * returns out.  For the apply path, where snprintf's "%s" cost showed. */
char *gd_strcat_n(char *out, size_t cap, ...);

/* Formats ms since the Unix epoch as "2026-11-22T08:15:30.123+08:00" in
 * +08:00 into out (cap >= 32 always fits for any 48-bit HLC millisecond
 * value); truncates safely for smaller cap (cap 0: nothing written). */
void gd_time_format(uint64_t ms, char *out, size_t cap);

/* Writes "yyyymmdd" of ms (since the epoch) in +08:00 into out (cap >= 9). */
void gd_date_yyyymmdd(uint64_t ms, char *out, size_t cap);

/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates, nothing
 * above U+10FFFF), else 0. */
int gd_utf8_valid(const char *s, size_t len);

/* ---- msgpack helpers ------------------------------------------------- */

/* Deepest container nesting a gridesk msgpack value may have. */
#define GD_MP_DEPTH_MAX 16

/* Checks that buf[0..len) is exactly one well-formed msgpack value: nothing
 * truncated, no trailing bytes, no reserved byte 0xc1, nesting at most
 * GD_MP_DEPTH_MAX, and no array/map/str/bin/ext that claims more elements or
 * bytes than remain in buf.  msgpack-c allocates array storage from the
 * claimed count before reading the elements, so an unchecked 5-byte input
 * could ask for ~100 GB; run this on any untrusted bytes before
 * msgpack_unpack_next.  Returns 0 or GD_ECORRUPT with a message. */
int gd_mp_check(const char *buf, size_t len, struct gd_err *err);

/* Checks buf with gd_mp_check, unpacks it, and calls fn on the root object.
 * The object (and every string in it) lives only during the call.  Returns
 * fn's result, GD_ECORRUPT, or GD_ENOMEM. */
int gd_mp_decode(const char *buf, size_t len,
                 int (*fn)(const struct msgpack_object *root, void *arg,
                           struct gd_err *err),
                 void *arg, struct gd_err *err);

/* gd_mp_decode, with the unpacked objects in zone (cleared afterwards,
 * keeping its first chunk): a caller that decodes often keeps one zone
 * whose chunk fits its usual input, and unpacking allocates nothing.
 * zone NULL: gd_mp_decode. */
int gd_mp_decode_in(struct msgpack_zone *zone, const char *buf, size_t len,
                    int (*fn)(const struct msgpack_object *root, void *arg,
                              struct gd_err *err),
                    void *arg, struct gd_err *err);

/* Packs fn(pk, arg) into a fresh malloc'd buffer: *buf (caller frees) and
 * *len.  Returns 0 or fn's error / GD_ENOMEM with *buf NULL and *len 0. */
int gd_mp_encode(int (*fn)(struct msgpack_packer *pk, const void *arg),
                 const void *arg, char **buf, size_t *len);

/* Checks that s (may be NULL) is something gd_mp_str will read back:
 * at most max bytes and UTF-8.  Returns 0, GD_ETOOBIG or GD_EINVAL. */
int gd_mp_str_ok(const char *s, size_t max);

/* Packs s as a msgpack str, or nil when s is NULL.  Returns 0 or GD_ENOMEM.
 * Does not check limits (see gd_mp_str_ok). */
int gd_mp_pack_str(struct msgpack_packer *pk, const char *s);

/* Reads a str object into *out (malloc'd, NUL-terminated, caller frees;
 * the old *out is freed).  nil gives *out = NULL if nil_ok, else an error.
 * Refuses other types, more than max bytes, embedded NUL and invalid UTF-8
 * with GD_ECORRUPT and a message naming `what`; GD_ENOMEM. */
int gd_mp_str(const struct msgpack_object *o, int nil_ok, size_t max,
              char **out, const char *what, struct gd_err *err);

/* Reads a non-negative integer no greater than max into *out.  Returns 0 or
 * GD_ECORRUPT naming `what`. */
int gd_mp_uint(const struct msgpack_object *o, uint64_t max, uint64_t *out,
               const char *what, struct gd_err *err);

/* Checks that o is an array of exactly n elements (GD_ECORRUPT otherwise). */
int gd_mp_array(const struct msgpack_object *o, uint32_t n, const char *what,
                struct gd_err *err);

#endif
