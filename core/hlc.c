/* Hybrid logical clock: see hlc.h.  Because the logical part sits in the low
 * bits, "one more than last" is both the next logical tick and, at 65535,
 * the carry into the next millisecond. */
#include "core/hlc.h"

void hlc_init(struct hlc *h)
{
    h->last = 0;
}

static uint64_t wall_hlc(uint64_t wall_ms)
{
    return hlc_pack(wall_ms > HLC_MS_MAX ? HLC_MS_MAX : wall_ms, 0);
}

static uint64_t next_after(uint64_t t)
{
    return t == UINT64_MAX ? t : t + 1;
}

uint64_t hlc_now(struct hlc *h, uint64_t wall_ms)
{
    uint64_t w = wall_hlc(wall_ms);

    h->last = w > h->last ? w : next_after(h->last);
    return h->last;
}

uint64_t hlc_observe(struct hlc *h, uint64_t remote, uint64_t wall_ms)
{
    uint64_t w = wall_hlc(wall_ms);
    uint64_t m = remote > h->last ? remote : h->last;

    h->last = w > m ? w : next_after(m);
    return h->last;
}

int hlc_remote_plausible(uint64_t remote, uint64_t wall_ms,
                         uint64_t max_ahead_ms)
{
    uint64_t ms = hlc_ms(remote);

    if (wall_ms > HLC_MS_MAX)
        wall_ms = HLC_MS_MAX;
    return ms <= wall_ms || ms - wall_ms <= max_ahead_ms;
}
