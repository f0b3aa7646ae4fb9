/* Inside the FSM: the per-entry apply context shared by fsm.c (tickets,
 * users, members, the cluster) and fsm_kb.c (the knowledge base).  Not for
 * use outside consensus/. */
#ifndef GD_FSM_INT_H
#define GD_FSM_INT_H

#include "consensus/fsm.h"
#include "core/event.h"
#include "core/kb.h"
#include "core/ticket.h"

struct overlay_ticket {
    struct ticket cur;
    struct ticket orig;
    int existed;
};

struct overlay_counter {
    char name[256];
    uint64_t value;
};

/* An article touched by this entry: its newest state, and whether the
 * search index must be told at the end of the entry. */
struct overlay_article {
    struct kb_article cur;
    int reindex;
};

struct overlay_link {
    char *id;
    char *ticket;
};

/* The state of one entry being applied.  Commands see the effects of the
 * commands before them in the same entry through the overlays. */
struct apply_ctx {
    struct fsm *f;
    struct store_batch *batch;
    struct overlay_ticket *tickets;
    size_t n_tickets, cap_tickets;
    struct overlay_counter *counters;
    size_t n_counters, cap_counters;
    struct overlay_article *articles;
    size_t n_articles, cap_articles;
    struct kb_proposal *proposals;
    size_t n_proposals, cap_proposals;
    struct overlay_link *links;
    size_t n_links, cap_links;
    int cluster_inited; /* a CLUSTER_INIT in this entry */
    char region[GD_ORIGIN_MAX + 1];
    uint64_t max_hlc;
};

/* Next value of a named counter (overlay first, then the store). */
int fsm_counter_next(struct apply_ctx *c, const char *name, uint64_t *out);
/* Adds delta (may be negative; the value stops at 0) to a named counter;
 * *out (may be NULL) gets the new value.  GD_EINVAL for a name of 256 bytes
 * or more, GD_ENOMEM, GD_EIO/GD_ECORRUPT reading the store. */
int fsm_counter_add(struct apply_ctx *c, const char *name, int64_t delta,
                    uint64_t *out);

/* Applies one knowledge-base op: validates first, then writes the article,
 * version, proposal or link records into c->batch.  A refused op (GD_EINVAL,
 * GD_ENOTFOUND, GD_ECONFLICT with res->msg) writes nothing. */
int fsm_apply_kb(struct apply_ctx *c, struct kb_op *op,
                 struct fsm_result *res);

/* At the end of an entry: sends every touched article to the search index
 * (into c->batch).  GD_ENOMEM, GD_EIO. */
int fsm_kb_flush(struct apply_ctx *c);

/* Frees the KB overlays. */
void fsm_kb_free(struct apply_ctx *c);

#endif
