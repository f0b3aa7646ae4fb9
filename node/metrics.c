/* Request metrics: see metrics.h. */
#include "node/metrics.h"

#include <stdlib.h>
#include <string.h>

static const double bucket_le[METRICS_BUCKETS] = {
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
    0.1,    0.25,  0.5,   1.0,   2.5,  5.0};

void metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof *m);
}

void metrics_close(struct metrics *m)
{
    free(m->series);
    memset(m, 0, sizeof *m);
}

void metrics_observe(struct metrics *m, const char *route, int status,
                     double seconds)
{
    struct metrics_series *s = NULL;

    for (size_t i = 0; i < m->n; i++) {
        if (m->series[i].route == route && m->series[i].status == status) {
            s = &m->series[i];
            break;
        }
    }
    if (s == NULL) {
        if (m->n == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 32;
            struct metrics_series *ns = realloc(m->series, cap * sizeof *ns);
            if (ns == NULL) {
                return; /* metrics are best effort under OOM */
            }
            m->series = ns;
            m->cap = cap;
        }
        s = &m->series[m->n++];
        memset(s, 0, sizeof *s);
        s->route = route;
        s->status = status;
    }
    s->count++;
    s->sum_s += seconds;
    for (int i = 0; i < METRICS_BUCKETS; i++) {
        if (seconds <= bucket_le[i]) {
            s->buckets[i]++;
            break;
        }
    }
}

void metrics_render(const struct metrics *m, struct strbuf *out)
{
    strbuf_puts(out, "# HELP gridesk_http_requests_total HTTP requests by "
                     "route and status.\n"
                     "# TYPE gridesk_http_requests_total counter\n");
    for (size_t i = 0; i < m->n; i++) {
        strbuf_printf(out,
                      "gridesk_http_requests_total{route=\"%s\",status=\"%d\"}"
                      " %llu\n",
                      m->series[i].route, m->series[i].status,
                      (unsigned long long)m->series[i].count);
    }
    strbuf_puts(out, "# HELP gridesk_http_request_duration_seconds HTTP "
                     "request latency.\n"
                     "# TYPE gridesk_http_request_duration_seconds "
                     "histogram\n");
    for (size_t i = 0; i < m->n; i++) {
        const struct metrics_series *s = &m->series[i];
        uint64_t cum = 0;
        for (int b = 0; b < METRICS_BUCKETS; b++) {
            cum += s->buckets[b];
            strbuf_printf(out,
                          "gridesk_http_request_duration_seconds_bucket{"
                          "route=\"%s\",status=\"%d\",le=\"%g\"} %llu\n",
                          s->route, s->status, bucket_le[b],
                          (unsigned long long)cum);
        }
        strbuf_printf(out,
                      "gridesk_http_request_duration_seconds_bucket{route=\"%"
                      "s\",status=\"%d\",le=\"+Inf\"} %llu\n"
                      "gridesk_http_request_duration_seconds_sum{route=\"%s\","
                      "status=\"%d\"} %.6f\n"
                      "gridesk_http_request_duration_seconds_count{route=\"%"
                      "s\",status=\"%d\"} %llu\n",
                      s->route, s->status, (unsigned long long)s->count,
                      s->route, s->status, s->sum_s, s->route, s->status,
                      (unsigned long long)s->count);
    }
    strbuf_printf(out,
                  "# HELP gridesk_forwarded_writes_total Writes forwarded "
                  "from this follower to the leader.\n"
                  "# TYPE gridesk_forwarded_writes_total counter\n"
                  "gridesk_forwarded_writes_total %llu\n"
                  "# TYPE gridesk_forward_errors_total counter\n"
                  "gridesk_forward_errors_total %llu\n",
                  (unsigned long long)m->forwarded,
                  (unsigned long long)m->forward_errors);
}
