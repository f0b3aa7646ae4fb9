/* A gridesk Raft member: canonical raft with its libuv I/O and TCP
 * transport, the FSM of fsm.h, and the proposer that groups concurrent
 * client commands into few Raft entries (one entry per loop iteration and
 * at most RNODE_MAX_INFLIGHT entries in flight: while entries are in flight
 * new commands pile up and go out together, which is where write throughput
 * comes from). */
#ifndef GD_RNODE_H
#define GD_RNODE_H

#include <raft.h>
#include <stdint.h>
#include <uv.h>

#include "consensus/fsm.h"
#include "core/command.h"
#include "core/error.h"
#include "core/hlc.h"
#include "storage/store.h"

#define RNODE_ADDR_MAX 128

struct rnode_member {
    uint64_t id;
    char raft[RNODE_ADDR_MAX];
};

/* Raft log segment size when the config says 0.  raft_uv 0.15 ends every
 * segment with io_destroy() on the loop thread, which waits for an RCU
 * grace period: 29-59 ms measured here, on every node at once (the logs are
 * identical).  With libraft's 8 MiB that came every ~4 s at 5k writes/s and
 * was the whole p99 tail; 64 MiB makes it 8 times rarer. */
#define RNODE_SEGMENT_MB_DEFAULT 64

/* How new raft log segments get their space (segfill.h): written with
 * zeros, so that appends are overwrites the kernel does without blocking
 * (the default), or fallocate()d as libraft does (for copy-on-write file
 * systems, where zeros gain nothing). */
enum rnode_segment_fill {
    RNODE_SEGMENT_FILL_ZERO = 0,
    RNODE_SEGMENT_FILL_ALLOCATE
};

struct rnode_config {
    uint64_t id;
    const char *raft_addr;        /* HOST:PORT this node listens on */
    const char *dir;              /* raft log and snapshots */
    const char *origin;           /* event-id origin of this node, "n<id>" */
    unsigned election_timeout_ms; /* 0 = default */
    unsigned heartbeat_ms;        /* 0 = election timeout / 10 */
    unsigned snapshot_threshold;  /* 0 = default */
    unsigned snapshot_trailing;   /* 0 = default */
    unsigned segment_mb;          /* raft log segment size, MiB; 0 = default */
    enum rnode_segment_fill segment_fill;
    const struct rnode_member *bootstrap; /* NULL: no bootstrap (join) */
    size_t n_bootstrap;
};

/* Outcome of a proposed command: code 0 or a GD_ code with msg; entity is
 * the id the command created or touched; index the Raft index it was
 * applied at (the store reflects it when the callback runs). */
typedef void (*rnode_propose_cb)(void *data, int code, const char *msg,
                                 const char *entity, uint64_t index);
typedef void (*rnode_done_cb)(void *data, int code, const char *msg);
typedef void (*rnode_leader_cb)(void *data, int is_leader);

struct rnode;

/* Starts a member on loop; the store must outlive it.  Returns 0, or a GD_
 * code with err's message (bad address, data dir, ...). */
int rnode_start(struct rnode **out, uv_loop_t *loop, struct store *s,
                const struct rnode_config *cfg, struct gd_err *err);

/* Called whenever this node gains or loses leadership. */
void rnode_on_leader_change(struct rnode *n, rnode_leader_cb cb, void *data);

/* Proposes cmd.  Ownership of cmd's contents passes to rnode (cmd is left
 * initialised) whatever the result.  Returns GD_EUNAVAIL at once when this
 * node is not the leader; otherwise cb runs exactly once, after the command
 * is committed and applied (code 0 or the command's refusal) or when it
 * cannot be (GD_EUNAVAIL: leadership lost, outcome unknown). */
int rnode_propose(struct rnode *n, struct command *cmd, rnode_propose_cb cb,
                  void *data);

/* Linearizable read point: cb after a barrier entry is applied. */
int rnode_barrier(struct rnode *n, rnode_done_cb cb, void *data);

/* Membership: add as voter (after catch-up), remove; leader only. */
int rnode_add(struct rnode *n, uint64_t id, const char *raft_addr,
              rnode_done_cb cb, void *data);
int rnode_remove(struct rnode *n, uint64_t id, rnode_done_cb cb, void *data);

int rnode_is_leader(struct rnode *n);

/* Leader id (0 = unknown) and raft address (may be NULL). */
uint64_t rnode_leader(struct rnode *n, const char **raft_addr);
const char *rnode_state_name(struct rnode *n);
uint64_t rnode_term(struct rnode *n);
uint64_t rnode_commit_index(struct rnode *n);
uint64_t rnode_applied_index(struct rnode *n);
uint64_t rnode_last_index(struct rnode *n);
/* The current configuration (read only; valid until the next loop turn). */
const struct raft_configuration *rnode_configuration(struct rnode *n);
/* Role name of a configuration server: "voter", "standby", "spare". */
const char *rnode_role_name(int role);
uint64_t rnode_hlc_now(struct rnode *n);
struct fsm *rnode_fsm(struct rnode *n);

struct rnode_stats {
    uint64_t proposals, entries_proposed, proposals_failed;
    uint64_t max_batch;
};
void rnode_stats(struct rnode *n, struct rnode_stats *st);

/* Graceful stop: a leader first hands leadership to another voter; then
 * raft closes; cb runs when every handle is closed and n is freed. */
void rnode_close(struct rnode *n, void (*cb)(void *data), void *data);
/* Frees n once the loop has run every close callback (after uv_run). */
void rnode_free(struct rnode *n);

#endif
