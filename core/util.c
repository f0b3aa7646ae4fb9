/* Shared helpers: see util.h.  The msgpack pre-scan here is what makes every
 * core decoder safe on hostile bytes; keep it in step with the formats that
 * msgpack-c accepts. */
#include "core/util.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>

int gd_strdup(char **dst, const char *src)
{
    char *copy = NULL;

    if (src != NULL) {
        size_t n = strlen(src) + 1;
        copy = malloc(n);
        if (copy == NULL)
            return GD_ENOMEM;
        memcpy(copy, src, n);
    }
    free(*dst);
    *dst = copy;
    return 0;
}

/* ---- time ------------------------------------------------------------ */

#define MS_PER_DAY 86400000ULL

/* Splits ms since the epoch into days since 1970-01-01 and ms into that day,
 * both in +08:00.  Works on the quotient so that no sum can overflow. */
static void local_split(uint64_t ms, uint64_t *days, uint64_t *ms_of_day)
{
    uint64_t d = ms / MS_PER_DAY;
    uint64_t r = ms % MS_PER_DAY + (uint64_t)GD_TZ_OFFSET_MS;

    if (r >= MS_PER_DAY) {
        r -= MS_PER_DAY;
        d++;
    }
    *days = d;
    *ms_of_day = r;
}

/* Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
 * civil_from_days, restricted to non-negative day counts). */
static void civil_from_days(uint64_t days, uint64_t *y, unsigned *m,
                            unsigned *d)
{
    uint64_t z = days + 719468;
    uint64_t era = z / 146097;
    uint64_t doe = z - era * 146097;
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint64_t mp = (5 * doy + 2) / 153;

    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

char *gd_strcat_n(char *out, size_t cap, ...)
{
    va_list ap;
    const char *part;
    size_t n = 0;

    if (cap == 0)
        return out;
    va_start(ap, cap);
    while ((part = va_arg(ap, const char *)) != NULL && n < cap - 1) {
        size_t k = strlen(part);
        if (k > cap - 1 - n)
            k = cap - 1 - n;
        memcpy(out + n, part, k);
        n += k;
    }
    va_end(ap);
    out[n] = '\0';
    return out;
}

/* Appends v in decimal, zero-padded to at least width digits (the hot
 * paths format dates per write; snprintf was a tenth of an apply). */
static char *put_dec(char *p, uint64_t v, int width)
{
    char tmp[20];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n < width) {
        tmp[n++] = '0';
    }
    while (n > 0) {
        *p++ = tmp[--n];
    }
    return p;
}

/* Copies len bytes of s to out as snprintf would: truncated, terminated. */
static void put_out(char *out, size_t cap, const char *s, size_t len)
{
    if (len > cap - 1) {
        len = cap - 1;
    }
    memcpy(out, s, len);
    out[len] = '\0';
}

void gd_time_format(uint64_t ms, char *out, size_t cap)
{
    uint64_t days, r, y;
    unsigned m, d;
    char buf[64], *p = buf;

    if (cap == 0)
        return;
    local_split(ms, &days, &r);
    civil_from_days(days, &y, &m, &d);
    /* %04llu-%02u-%02uT%02u:%02u:%02u.%03u+08:00 */
    p = put_dec(p, y, 4);
    *p++ = '-';
    p = put_dec(p, m, 2);
    *p++ = '-';
    p = put_dec(p, d, 2);
    *p++ = 'T';
    p = put_dec(p, r / 3600000, 2);
    *p++ = ':';
    p = put_dec(p, r / 60000 % 60, 2);
    *p++ = ':';
    p = put_dec(p, r / 1000 % 60, 2);
    *p++ = '.';
    p = put_dec(p, r % 1000, 3);
    memcpy(p, "+08:00", 6);
    p += 6;
    put_out(out, cap, buf, (size_t)(p - buf));
}

void gd_date_yyyymmdd(uint64_t ms, char *out, size_t cap)
{
    uint64_t days, r, y;
    unsigned m, d;
    char buf[48], *p = buf;

    if (cap == 0)
        return;
    local_split(ms, &days, &r);
    civil_from_days(days, &y, &m, &d);
    p = put_dec(p, y, 4); /* %04llu%02u%02u */
    p = put_dec(p, m, 2);
    p = put_dec(p, d, 2);
    put_out(out, cap, buf, (size_t)(p - buf));
}

/* ---- UTF-8 ----------------------------------------------------------- */

int gd_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xbf; /* allowed range of the 2nd byte */

        /* Runs of ASCII, the bulk of ids, codes and much text, go 32 and
         * then 8 bytes at a time. */
        if (c < 0x80 && len - i >= 8) {
            uint64_t w[4];
            while (len - i >= 32) {
                memcpy(w, s + i, sizeof w);
                if (((w[0] | w[1] | w[2] | w[3]) & 0x8080808080808080ull) != 0)
                    break;
                i += 32;
            }
            if (len - i >= 8) {
                memcpy(w, s + i, 8);
                if ((w[0] & 0x8080808080808080ull) == 0) {
                    i += 8;
                    continue;
                }
            }
            if (i >= len)
                break;
            c = s[i];
        }
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 3;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            else if (c == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 4;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            else if (c == 0xf4)
                hi = 0x8f; /* above U+10FFFF */
        } else {
            return 0;
        }
        if (len - i < n)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k < n; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xbf)
                return 0;
        i += n;
    }
    return 1;
}

/* ---- msgpack pre-scan ------------------------------------------------ */

/* Reads a big-endian unsigned of n bytes (n <= 4); caller checked bounds. */
static uint32_t be_read(const unsigned char *p, size_t n)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

int gd_mp_check(const char *buf, size_t len, struct gd_err *err)
{
    const unsigned char *p = (const unsigned char *)buf;
    /* pending[d]: values still to read at nesting depth d (0 = root). */
    uint64_t pending[GD_MP_DEPTH_MAX + 1];
    int depth = 0;
    size_t off = 0;

    if (buf == NULL && len > 0)
        return gd_err_set(err, GD_ECORRUPT, "msgpack: no buffer");
    pending[0] = 1;
    while (depth >= 0) {
        unsigned c;
        size_t hdr = 0;     /* length bytes after the type byte */
        uint64_t skip = 0;  /* payload bytes after the header */
        uint64_t items = 0; /* child values of a container */
        int container = 0;

        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        pending[depth]--;
        if (off >= len)
            return gd_err_set(err, GD_ECORRUPT,
                              "msgpack: truncated at byte %zu", off);
        c = p[off];
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
            /* fixint, nil, bool */
        } else if (c <= 0x8f) {
            items = 2 * (uint64_t)(c & 0x0f), container = 1;
        } else if (c <= 0x9f) {
            items = c & 0x0f, container = 1;
        } else if (c <= 0xbf) {
            skip = c & 0x1f;
        } else if (c == 0xc1) {
            return gd_err_set(err, GD_ECORRUPT,
                              "msgpack: reserved byte 0xc1 at byte %zu", off);
        } else {
            /* hdr: length bytes; skip: fixed payload; container: 1 for an
             * array, 2 for a map (two values per counted entry). */
            switch (c) {
            /* bin8, str8; bin16, str16; bin32, str32 */
            case 0xc4:
            case 0xd9: hdr = 1; break;
            case 0xc5:
            case 0xda: hdr = 2; break;
            case 0xc6:
            case 0xdb: hdr = 4; break;
            /* ext8, ext16, ext32: a type byte, then the data */
            case 0xc7: hdr = 1, skip = 1; break;
            case 0xc8: hdr = 2, skip = 1; break;
            case 0xc9: hdr = 4, skip = 1; break;
            /* (u)int8, (u)int16, float32 and (u)int32, float64 and (u)int64 */
            case 0xcc:
            case 0xd0: skip = 1; break;
            case 0xcd:
            case 0xd1: skip = 2; break;
            case 0xca:
            case 0xce:
            case 0xd2: skip = 4; break;
            case 0xcb:
            case 0xcf:
            case 0xd3: skip = 8; break;
            /* fixext 1, 2, 4, 8, 16: a type byte, then the data */
            case 0xd4: skip = 2; break;
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            /* array16, array32, map16, map32 (a map counts pairs) */
            case 0xdc: hdr = 2, container = 1; break;
            case 0xdd: hdr = 4, container = 1; break;
            case 0xde: hdr = 2, container = 2; break;
            case 0xdf: hdr = 4, container = 2; break;
            /* every other byte was handled before the switch */
            default: break;
            }
            if (len - off - 1 < hdr)
                return gd_err_set(err, GD_ECORRUPT,
                                  "msgpack: truncated header at byte %zu", off);
            if (hdr > 0) {
                uint64_t n = be_read(p + off + 1, hdr);
                if (container)
                    items = n * (uint64_t)container, container = 1;
                else
                    skip += n;
            }
        }
        off += 1 + hdr;
        if (skip > len - off)
            return gd_err_set(err, GD_ECORRUPT,
                              "msgpack: value at byte %zu runs past the end",
                              off - 1 - hdr);
        off += (size_t)skip;
        if (container && items > 0) {
            /* Every child takes at least one byte: a count beyond the bytes
             * left is a lie, whatever the nesting. */
            if (items > len - off)
                return gd_err_set(err, GD_ECORRUPT,
                                  "msgpack: container at byte %zu claims "
                                  "%llu values, %zu bytes left",
                                  off - 1 - hdr, (unsigned long long)items,
                                  len - off);
            if (depth == GD_MP_DEPTH_MAX)
                return gd_err_set(err, GD_ECORRUPT,
                                  "msgpack: nested deeper than %d",
                                  GD_MP_DEPTH_MAX);
            pending[++depth] = items;
        }
    }
    if (off != len)
        return gd_err_set(err, GD_ECORRUPT,
                          "msgpack: %zu trailing bytes after the value",
                          len - off);
    return 0;
}

int gd_mp_decode_in(msgpack_zone *zone, const char *buf, size_t len,
                    int (*fn)(const msgpack_object *root, void *arg,
                              struct gd_err *err),
                    void *arg, struct gd_err *err)
{
    msgpack_object root;
    msgpack_unpack_return r;
    size_t off = 0;
    int rc;

    if (zone == NULL)
        return gd_mp_decode(buf, len, fn, arg, err);
    rc = gd_mp_check(buf, len, err);
    if (rc != 0)
        return rc;
    /* msgpack_unpack fills the caller's zone (msgpack_unpack_next would
     * make a zone of its own, with its mallocs, per call). */
    r = msgpack_unpack(buf, len, &off, zone, &root);
    if (r == MSGPACK_UNPACK_NOMEM_ERROR) {
        rc = gd_err_set(err, GD_ENOMEM, "msgpack: out of memory");
    } else if (r != MSGPACK_UNPACK_SUCCESS || off != len) {
        rc = gd_err_set(err, GD_ECORRUPT, "msgpack: does not decode");
    } else {
        rc = fn(&root, arg, err);
    }
    msgpack_zone_clear(zone); /* keeps its first chunk for the next call */
    return rc;
}

int gd_mp_decode(const char *buf, size_t len,
                 int (*fn)(const msgpack_object *root, void *arg,
                           struct gd_err *err),
                 void *arg, struct gd_err *err)
{
    msgpack_zone *zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
    int rc;

    if (zone == NULL)
        return gd_err_set(err, GD_ENOMEM, "msgpack: out of memory");
    rc = gd_mp_decode_in(zone, buf, len, fn, arg, err);
    msgpack_zone_free(zone);
    return rc;
}

int gd_mp_encode(int (*fn)(msgpack_packer *pk, const void *arg),
                 const void *arg, char **buf, size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc;

    *buf = NULL;
    *len = 0;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rc = fn(&pk, arg);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sb);
        return rc;
    }
    *len = sb.size;
    *buf = msgpack_sbuffer_release(&sb);
    return 0;
}

/* ---- msgpack fields -------------------------------------------------- */

int gd_mp_str_ok(const char *s, size_t max)
{
    size_t n;

    if (s == NULL)
        return 0;
    n = strnlen(s, max + 1);
    if (n > max)
        return GD_ETOOBIG;
    return gd_utf8_valid(s, n) ? 0 : GD_EINVAL;
}

int gd_mp_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n;

    if (s == NULL)
        return msgpack_pack_nil(pk) == 0 ? 0 : GD_ENOMEM;
    n = strlen(s);
    if (msgpack_pack_str(pk, n) != 0 || msgpack_pack_str_body(pk, s, n) != 0)
        return GD_ENOMEM;
    return 0;
}

int gd_mp_str(const msgpack_object *o, int nil_ok, size_t max, char **out,
              const char *what, struct gd_err *err)
{
    const char *p;
    uint32_t n;
    char *copy;

    if (o->type == MSGPACK_OBJECT_NIL) {
        if (!nil_ok)
            return gd_err_set(err, GD_ECORRUPT, "%s: nil, want a string", what);
        free(*out);
        *out = NULL;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_STR)
        return gd_err_set(err, GD_ECORRUPT, "%s: not a string", what);
    p = o->via.str.ptr;
    n = o->via.str.size;
    if (n > max)
        return gd_err_set(err, GD_ECORRUPT, "%s: %u bytes, limit %zu", what,
                          (unsigned)n, max);
    if (n > 0 && memchr(p, '\0', n) != NULL)
        return gd_err_set(err, GD_ECORRUPT, "%s: embedded NUL", what);
    if (!gd_utf8_valid(p, n))
        return gd_err_set(err, GD_ECORRUPT, "%s: not UTF-8", what);
    copy = malloc((size_t)n + 1);
    if (copy == NULL)
        return gd_err_set(err, GD_ENOMEM, "%s: out of memory", what);
    if (n > 0)
        memcpy(copy, p, n);
    copy[n] = '\0';
    free(*out);
    *out = copy;
    return 0;
}

int gd_mp_uint(const msgpack_object *o, uint64_t max, uint64_t *out,
               const char *what, struct gd_err *err)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return gd_err_set(err, GD_ECORRUPT, "%s: not a non-negative integer",
                          what);
    if (o->via.u64 > max)
        return gd_err_set(err, GD_ECORRUPT, "%s: %llu out of range", what,
                          (unsigned long long)o->via.u64);
    *out = o->via.u64;
    return 0;
}

int gd_mp_array(const msgpack_object *o, uint32_t n, const char *what,
                struct gd_err *err)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return gd_err_set(err, GD_ECORRUPT, "%s: not an array", what);
    if (o->via.array.size != n)
        return gd_err_set(err, GD_ECORRUPT, "%s: %u elements, want %u", what,
                          (unsigned)o->via.array.size, (unsigned)n);
    return 0;
}
