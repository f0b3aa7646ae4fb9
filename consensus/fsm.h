/* The replicated state machine behind canonical raft: every committed
 * command entry is decoded, folded by core/ and written to RocksDB as ONE
 * WriteBatch that also records the entry's index.  Apply reads no clock, no
 * randomness and nothing outside the entry and the store, so every replica
 * ends in the same state. */
#ifndef GD_FSM_H
#define GD_FSM_H

#include <raft.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "storage/store.h"

/* Outcome of one command of the entry just applied. */
struct fsm_result {
    int code;         /* 0 or a GD_ code */
    char msg[GD_ERR_MSG_MAX];
    char entity[96];  /* id of the entity created or changed */
};

struct sr_engine;
struct fsm_pending;
struct command;
struct event;
struct overlay_ticket;
struct ticket;
struct msgpack_zone;

/* An apply at least this long is logged ("slow apply") and counted. */
#define FSM_SLOW_APPLY_US 100000

struct fsm {
    struct raft_fsm raft_fsm; /* handed to raft_init */
    struct raft *raft;        /* set before raft_start: index of the entry */
    struct store *store;
    /* The search index of the knowledge base, updated in the same batch as
     * the articles and reloaded after a snapshot restore. */
    struct sr_engine *search;
    /* Results of the most recent applied entry.  raft calls the proposer's
     * apply callback right after fsm apply returns, with `result` pointing
     * at this struct, so the results are read before the next apply. */
    struct fsm_result *results;
    size_t n_results, cap_results;
    uint64_t last_index;       /* index of the most recent applied entry */
    uint64_t entries_applied;  /* metrics */
    uint64_t commands_applied;
    uint64_t entries_skipped;  /* already in the store (replay after restart) */
    uint64_t snapshots_taken, snapshots_restored;
    /* Time spent in apply (operators' view; never part of the state): an
     * apply blocks the loop, and a long one delays heartbeats. */
    uint64_t apply_us_total, apply_us_max, slow_applies;
    /* What the most recent entry applied, kept until the next apply so that
     * a proposer's callback can answer from it instead of reading the store
     * back: the entry's ticket overlay and its decoded commands (aligned
     * with results). */
    struct overlay_ticket *kept_tickets;
    size_t n_kept_tickets;
    struct command *kept_cmds;
    size_t n_kept_cmds;
    /* Called after each applied entry with its greatest event HLC, so the
     * node's clock observes it.  A side effect outside replicated state. */
    void (*on_hlc)(void *data, uint64_t hlc);
    void *on_hlc_data;
    /* Deferred apply.  libraft 0.15 sends a follower's AppendEntries answer
     * only after applying the entries that answer's request committed, so
     * the follower's RocksDB write sat in the leader's commit latency.
     * When may_defer says so (the member is a follower), an entry is only
     * copied here and written by fsm_settle, which the node runs at the end
     * of the same loop iteration, after the answer went out.  Entries wait
     * in index order; anything that applies, snapshots, restores or reads
     * the store through the FSM settles them first. */
    int (*may_defer)(void *data);
    void *may_defer_data;
    struct fsm_pending *pending_head, *pending_tail;
    size_t n_pending, pending_bytes;
    uint64_t entries_deferred; /* metrics */
    /* Kept from entry to entry by fsm_apply_batch: the store batch (its
     * buffer keeps its size) and the zone the entry is unpacked into (NULL
     * until the first apply, or when it could not be made: then every
     * decode makes its own). */
    struct store_batch *batch;
    struct msgpack_zone *zone;
    /* The snapshot being taken (see fsm.c): the pinned store view, its
     * applied index, and what the worker thread reports back. */
    struct store_view *snap_view;
    uint64_t snap_index;
    size_t snap_bytes;
    struct gd_err snap_err;
};

/* First chunk of the kept unpacking zone.  A larger entry grows the zone
 * for its own decode only: clearing keeps just the first chunk. */
#define FSM_ZONE_CHUNK (128u << 10)

/* Most entries / bytes that wait for fsm_settle; beyond either an entry is
 * applied at once (after those waiting). */
#define FSM_PENDING_MAX_ENTRIES 256
#define FSM_PENDING_MAX_BYTES (64u << 20)

/* Raft entry framing: [u32 little-endian payload length][payload][zero
 * padding to a multiple of 8 bytes] (libraft 0.15 requires 8-byte multiple
 * entry lengths).  frame writes into out (4 + len bytes, padding already
 * zeroed by the caller); payload returns the payload's length, or -1 when
 * the frame is malformed. */
void fsm_entry_frame(void *out, const char *payload, size_t len);
long long fsm_entry_payload(const void *entry, size_t entry_len,
                            const char **payload);

/* Also opens the search engine over s.  GD_ENOMEM, or the engine's error
 * (GD_EIO when ICU/OpenCC data cannot be loaded) with err's message. */
int fsm_init(struct fsm *f, struct store *s, struct gd_err *err);
void fsm_close(struct fsm *f);

/* From an entry's apply until the next apply (so: in a proposer's
 * callback), the ticket `id` if that entry created it, with its events (all
 * of them are in that entry) in *evs, in the order they were stored, and
 * their number in *n.  NULL when the entry did not create the ticket or it
 * has more than cap events; then the store has it. */
const struct ticket *fsm_created_ticket(const struct fsm *f, const char *id,
                                        const struct event **evs, size_t cap,
                                        size_t *n);

/* Applies, or defers when may_defer allows, the entry payload at index.
 * This is what raft's apply calls.  0, or a GD_ code when the store could
 * not be written (a deferred entry cannot fail here). */
int fsm_apply_entry(struct fsm *f, uint64_t index, const char *payload,
                    size_t len);

/* Applies the deferred entries in order.  0, or the GD_ code of the entry
 * that could not be written: it stays first in line and the next call
 * tries it again (as libraft retries an entry whose apply failed). */
int fsm_settle(struct fsm *f);

/* Applies one encoded command batch at the given Raft index.  Exposed for
 * unit tests; raft reaches it through raft_fsm.apply.  Returns 0, or a GD_
 * code when the store could not be written (the node must stop). */
int fsm_apply_batch(struct fsm *f, uint64_t index, const char *buf,
                    size_t len);

#endif
