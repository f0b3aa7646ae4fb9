/* HTTP request metrics by route template and status, with a latency
 * histogram, rendered in Prometheus text format by the API. */
#ifndef GD_METRICS_H
#define GD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

#define METRICS_BUCKETS 13

struct metrics_series {
    const char *route; /* static string: a route template */
    int status;
    uint64_t count;
    double sum_s;
    uint64_t buckets[METRICS_BUCKETS]; /* cumulative at render time */
};

struct metrics {
    struct metrics_series *series;
    size_t n, cap;
    uint64_t forwarded, forward_errors;
};

void metrics_init(struct metrics *m);
void metrics_close(struct metrics *m);
/* Records one request; route must be a static string. */
void metrics_observe(struct metrics *m, const char *route, int status,
                     double seconds);
/* Appends the http_* families to out. */
void metrics_render(const struct metrics *m, struct strbuf *out);

#endif
