/* applybench: the replicated apply step alone, on one store, no Raft and no
 * HTTP: what every replica does per ticket create.  Encodes ENTRIES entries
 * of PER_ENTRY ticket creates (description DESC_BYTES bytes, as the write
 * benchmark's body) up front, then applies them in order with
 * fsm_apply_batch and prints the time per create.  For profiling:
 *
 *   valgrind --tool=callgrind --toggle-collect=fsm_apply_batch \
 *       build/bench/applybench 200 27
 *
 * counts the instructions of the apply path only (docs/BENCHMARKS.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consensus/fsm.h"
#include "core/command.h"
#include "core/util.h"
#include "storage/store.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int mk_create(struct command *c, uint64_t hlc, const char *desc,
                     unsigned n)
{
    char summary[64];

    command_init(c);
    c->type = CMD_TICKET;
    c->ev.type = EVENT_TICKET_CREATE;
    snprintf(c->ev.id.origin, sizeof c->ev.id.origin, "n1");
    c->ev.id.hlc = hlc;
    snprintf(summary, sizeof summary, "bench ticket t000-%010u", n);
    return gd_strdup(&c->ev.actor, "admin") || gd_strdup(&c->ev.channel, "hotline") ||
           gd_strdup(&c->ev.node, "n1") || gd_strdup(&c->ev.customer, "C0001") ||
           gd_strdup(&c->ev.cls, "fault_repair") || gd_strdup(&c->ev.summary, summary) ||
           gd_strdup(&c->ev.description, desc);
}

int main(int argc, char **argv)
{
    unsigned entries = argc > 1 ? (unsigned)atoi(argv[1]) : 2000;
    unsigned per = argc > 2 ? (unsigned)atoi(argv[2]) : 27;
    unsigned desc_bytes = argc > 3 ? (unsigned)atoi(argv[3]) : 400;
    char dir[] = "/tmp/gd-applybench-XXXXXX";
    struct gd_err err;
    struct store *s;
    struct fsm f;

    if (entries == 0 || per == 0 || per > 1024 || desc_bytes > 65536) {
        fprintf(stderr, "usage: applybench [ENTRIES [PER_ENTRY<=1024 [DESC_BYTES]]]\n");
        return 2;
    }
    char *desc = malloc(desc_bytes + 1);
    char **bufs = calloc(entries, sizeof *bufs);
    size_t *lens = calloc(entries, sizeof *lens);
    struct command *cmds = calloc(per, sizeof *cmds);
    if (desc == NULL || bufs == NULL || lens == NULL || cmds == NULL ||
        mkdtemp(dir) == NULL) {
        fprintf(stderr, "applybench: out of memory or no temp dir\n");
        return 1;
    }
    for (unsigned i = 0; i < desc_bytes; i++)
        desc[i] = "Meter reading disputed; outage on feeder. "[i % 42];
    desc[desc_bytes] = '\0';
    /* 2026-11-23, a few ms apart per create */
    uint64_t hlc = (uint64_t)1795392000000ull << 16;
    for (unsigned e = 0; e < entries; e++) {
        for (unsigned k = 0; k < per; k++) {
            hlc += 1u << 16;
            if (mk_create(&cmds[k], hlc, desc, e * per + k) != 0) {
                fprintf(stderr, "applybench: out of memory\n");
                return 1;
            }
        }
        if (cmd_batch_encode(cmds, per, &bufs[e], &lens[e]) != 0) {
            fprintf(stderr, "applybench: cannot encode\n");
            return 1;
        }
        for (unsigned k = 0; k < per; k++)
            command_clear(&cmds[k]);
    }
    if (store_open(dir, &s, &err) != 0 || fsm_init(&f, s, &err) != 0) {
        fprintf(stderr, "applybench: %s\n", err.msg);
        return 1;
    }
    double t0 = now_s();
    for (unsigned e = 0; e < entries; e++) {
        if (fsm_apply_batch(&f, e + 1, bufs[e], lens[e]) != 0 ||
            f.n_results != per || f.results[0].code != 0) {
            fprintf(stderr, "applybench: entry %u did not apply\n", e + 1);
            return 1;
        }
    }
    double dt = now_s() - t0;
    printf("applybench: %u entries x %u creates (description %u B): "
           "%.2f us per create, %.0f creates/s\n",
           entries, per, desc_bytes, dt * 1e6 / ((double)entries * per),
           (double)entries * per / dt);
    fsm_close(&f);
    store_close(s);
    for (unsigned e = 0; e < entries; e++)
        free(bufs[e]);
    free(bufs);
    free(lens);
    free(cmds);
    free(desc);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : 1;
}
