/* Hybrid logical clock: 64-bit timestamps, 48-bit wall milliseconds << 16 |
 * 16-bit logical counter.  Orders events across nodes and edges so that a
 * cause always sorts before its effect.  Pure: the wall clock is read by the
 * caller and passed in, so replicas can replay it deterministically. */
#ifndef GD_HLC_H
#define GD_HLC_H

#include <stdint.h>

/* Largest wall-clock millisecond value an HLC can hold (year 10889). */
#define HLC_MS_MAX ((UINT64_C(1) << 48) - 1)

/* Embedded by the caller; no resources, nothing to close. */
struct hlc {
    uint64_t last; /* greatest value returned or observed */
};

/* Starts a clock at 0. */
void hlc_init(struct hlc *h);

/* Timestamp for a local or send event: strictly greater than every value
 * this clock returned or observed before, and at least wall_ms (with logical
 * 0) when the wall clock is ahead.  A wall clock that goes backwards does not
 * move the clock back; the logical part counts on, rolling over into the ms
 * part after 65535.  wall_ms above HLC_MS_MAX is clamped.  (At UINT64_MAX the
 * clock saturates; unreachable before year 10889.) */
uint64_t hlc_now(struct hlc *h, uint64_t wall_ms);

/* Receive event: advances the clock past both its last value and remote,
 * and returns the new value (strictly greater than both, saturating at
 * UINT64_MAX).  A remote far in the future drags this clock with it: callers
 * receiving from peers they do not fully trust check hlc_remote_plausible
 * first. */
uint64_t hlc_observe(struct hlc *h, uint64_t remote, uint64_t wall_ms);

/* 1 if remote is at most max_ahead_ms ahead of wall_ms, else 0. */
int hlc_remote_plausible(uint64_t remote, uint64_t wall_ms,
                         uint64_t max_ahead_ms);

static inline uint64_t hlc_ms(uint64_t t)
{
    return t >> 16;
}
static inline uint32_t hlc_logical(uint64_t t)
{
    return (uint32_t)(t & 0xffff);
}
static inline uint64_t hlc_pack(uint64_t ms, uint32_t logical)
{
    return (ms << 16) | (logical & 0xffff);
}

#endif
