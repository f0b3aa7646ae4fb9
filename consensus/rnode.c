/* Raft member: canonical raft + raft_uv + TCP transport, the FSM, the
 * batching proposer, membership changes and graceful shutdown.  See
 * rnode.h. */
#include "consensus/rnode.h"

#include <errno.h>
#include <stddef.h>
#include <raft/uv.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "consensus/segfill.h"
#include "core/log.h"

#define RNODE_BATCH_MAX 1024
/* Knowledge-base ops cost far more to apply than ticket events (the search
 * index analyses the article: ~0.1 ms each), and apply blocks the loop that
 * sends heartbeats: at most this many go into one entry, so one entry's
 * apply stays around 10 ms. */
#define RNODE_KB_BATCH_MAX 64
#define RNODE_MAX_INFLIGHT_DEFAULT 8

struct proposal {
    struct command cmd;
    rnode_propose_cb cb;
    void *data;
    struct proposal *next;
};

struct inflight {
    struct raft_apply req;
    struct rnode *n;
    struct proposal *list;
};

struct change {
    struct raft_change req;
    struct rnode *n;
    uint64_t id;
    rnode_done_cb cb;
    void *data;
};

struct barrier {
    struct raft_barrier req;
    rnode_done_cb cb;
    void *data;
};

struct rnode {
    uv_loop_t *loop;
    struct raft raft;
    struct raft_io io;
    struct raft_uv_transport transport;
    /* raft_uv_tcp's own listen/connect, wrapped to set TCP_NODELAY. */
    int (*tcp_listen)(struct raft_uv_transport *, raft_uv_accept_cb);
    int (*tcp_connect)(struct raft_uv_transport *, struct raft_uv_connect *,
                       raft_id, const char *, raft_uv_connect_cb);
    raft_uv_accept_cb accept_cb;
    struct fsm fsm;
    struct store *store;
    struct hlc hlc;
    char origin[GD_ORIGIN_MAX + 1];
    uv_check_t check;
    uv_timer_t watch;
    struct proposal *head, *tail;
    unsigned inflight, max_inflight;
    int was_leader;
    uint64_t last_term;
    rnode_leader_cb leader_cb;
    void *leader_data;
    struct rnode_stats stats;
    struct raft_transfer transfer;
    int closing;
    int handles_open;
    char *segfill_dir; /* registered with segfill, or NULL */
    void (*close_cb)(void *data);
    void *close_data;
};

/* raft_uv_tcp leaves Nagle's algorithm on.  With several AppendEntries in
 * flight a small message then waits for the ACK of the previous one, which
 * the peer delays by up to 40 ms: a bimodal latency tail.  These wrappers set
 * TCP_NODELAY on every Raft connection, accepted or dialled. */
static struct rnode *rnode_of_transport(struct raft_uv_transport *t)
{
    return (struct rnode *)((char *)t - offsetof(struct rnode, transport));
}

static void nodelay(struct uv_stream_s *stream)
{
    if (stream != NULL && stream->type == UV_TCP)
        uv_tcp_nodelay((uv_tcp_t *)stream, 1);
}

static void nodelay_accept_cb(struct raft_uv_transport *t, raft_id id,
                              const char *address, struct uv_stream_s *stream)
{
    nodelay(stream);
    rnode_of_transport(t)->accept_cb(t, id, address, stream);
}

static int nodelay_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    struct rnode *n = rnode_of_transport(t);
    n->accept_cb = cb;
    return n->tcp_listen(t, nodelay_accept_cb);
}

static void nodelay_connect_cb(struct raft_uv_connect *req,
                               struct uv_stream_s *stream, int status);
static raft_uv_connect_cb raft_connect_cb;

static int nodelay_connect(struct raft_uv_transport *t,
                           struct raft_uv_connect *req, raft_id id,
                           const char *address, raft_uv_connect_cb cb)
{
    /* raft_uv passes its one connect callback for every peer of every
     * instance; the request gives no way back to the rnode, so it is kept
     * here (it never changes). */
    raft_connect_cb = cb;
    return rnode_of_transport(t)->tcp_connect(t, req, id, address,
                                              nodelay_connect_cb);
}

static void nodelay_connect_cb(struct raft_uv_connect *req,
                               struct uv_stream_s *stream, int status)
{
    if (status == 0)
        nodelay(stream);
    raft_connect_cb(req, stream, status);
}

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int raft_to_gd(int rv)
{
    switch (rv) {
    case 0: return 0;
    case RAFT_NOMEM: return GD_ENOMEM;
    case RAFT_NOTLEADER:
    case RAFT_LEADERSHIPLOST:
    case RAFT_CANTCHANGE:
    case RAFT_CANCELED:
    case RAFT_SHUTDOWN: return GD_EUNAVAIL;
    case RAFT_DUPLICATEID:
    case RAFT_DUPLICATEADDRESS:
    case RAFT_BADROLE: return GD_ECONFLICT;
    case RAFT_BADID:
    case RAFT_NOTFOUND: return GD_ENOTFOUND;
    default: return GD_EIO;
    }
}

static void fail_proposals(struct proposal *p, int code, const char *msg)
{
    while (p != NULL) {
        struct proposal *next = p->next;
        p->cb(p->data, code, msg, "", 0);
        command_clear(&p->cmd);
        free(p);
        p = next;
    }
}

static void apply_cb(struct raft_apply *req, int status, void *result)
{
    struct inflight *inf = req->data;
    struct rnode *n = inf->n;
    struct fsm *f = result;
    size_t i = 0;

    n->inflight--;
    if (status != 0) {
        n->stats.proposals_failed++;
        fail_proposals(inf->list, raft_to_gd(status),
                       "leadership lost before the write was acknowledged; "
                       "outcome unknown, retry");
        free(inf);
        return;
    }
    for (struct proposal *p = inf->list; p != NULL; i++) {
        struct proposal *next = p->next;
        if (f != NULL && i < f->n_results) {
            const struct fsm_result *r = &f->results[i];
            p->cb(p->data, r->code, r->msg, r->entity, f->last_index);
        } else {
            p->cb(p->data, GD_EIO, "command result missing", "",
                  f ? f->last_index : 0);
        }
        command_clear(&p->cmd);
        free(p);
        p = next;
    }
    free(inf);
}

/* Stamps, encodes and proposes up to RNODE_BATCH_MAX queued commands (of
 * which at most RNODE_KB_BATCH_MAX knowledge-base ops) as one entry.  Returns 0, or a GD_ code after failing the taken proposals. */
static int flush_one(struct rnode *n)
{
    struct command *arr;
    struct proposal *list = n->head, *p, *last = NULL;
    struct raft_buffer rbuf;
    struct inflight *inf;
    size_t k = 0, kb;
    char *buf = NULL;
    size_t len = 0;
    uint64_t now = wall_ms();
    int rc;

    for (p = n->head, kb = 0; p != NULL && k < RNODE_BATCH_MAX; p = p->next) {
        if (p->cmd.type == CMD_KB && kb++ == RNODE_KB_BATCH_MAX) {
            break;
        }
        last = p;
        k++;
    }
    n->head = last->next;
    if (n->head == NULL) {
        n->tail = NULL;
    }
    last->next = NULL;

    arr = malloc(k * sizeof *arr);
    inf = malloc(sizeof *inf);
    if (arr == NULL || inf == NULL) {
        free(arr);
        free(inf);
        fail_proposals(list, GD_ENOMEM, "out of memory");
        return GD_ENOMEM;
    }
    k = 0;
    for (p = list; p != NULL; p = p->next) {
        uint64_t t = hlc_now(&n->hlc, now);
        if (p->cmd.type == CMD_TICKET) {
            snprintf(p->cmd.ev.id.origin, sizeof p->cmd.ev.id.origin, "%s",
                     n->origin);
            p->cmd.ev.id.hlc = t;
            p->cmd.ev.id.counter = 0;
        } else if (p->cmd.type == CMD_USER_PUT ||
                   p->cmd.type == CMD_CLUSTER_INIT) {
            p->cmd.user.hlc = t;
        } else if (p->cmd.type == CMD_KB) {
            p->cmd.kb.hlc = t;
        }
        arr[k++] = p->cmd; /* shallow: encoding only reads */
    }
    rc = cmd_batch_encode(arr, k, &buf, &len);
    free(arr);
    if (rc != 0) {
        free(inf);
        fail_proposals(list, rc, "cannot encode command");
        return rc;
    }
    /* libraft's segment format needs entry lengths that are multiples of
     * 8 (its loader sums unpadded lengths): frame as [u32 len][payload]
     * [zero padding], see fsm_entry_payload(). */
    rbuf.len = (4 + len + 7) & ~(size_t)7;
    rbuf.base = len <= UINT32_MAX ? raft_calloc(1, rbuf.len) : NULL;
    if (rbuf.base == NULL) {
        free(buf);
        free(inf);
        fail_proposals(list, GD_ENOMEM, "out of memory");
        return GD_ENOMEM;
    }
    fsm_entry_frame(rbuf.base, buf, len);
    free(buf);
    inf->n = n;
    inf->list = list;
    inf->req.data = inf;
    rc = raft_apply(&n->raft, &inf->req, &rbuf, 1, apply_cb);
    if (rc != 0) {
        raft_free(rbuf.base);
        free(inf);
        n->stats.proposals_failed += k;
        fail_proposals(list, raft_to_gd(rc), raft_strerror(rc));
        return raft_to_gd(rc);
    }
    n->inflight++;
    n->stats.entries_proposed++;
    if (k > n->stats.max_batch) {
        n->stats.max_batch = k;
    }
    return 0;
}

static void check_cb(uv_check_t *h)
{
    struct rnode *n = h->data;

    /* Entries deferred by this iteration's appends, now that the answers
     * to the leader are out.  A failure is logged by the FSM and tried
     * again next iteration. */
    if (n->fsm.n_pending != 0) {
        fsm_settle(&n->fsm);
    }

    while (n->head != NULL && n->inflight < n->max_inflight) {
        if (raft_state(&n->raft) != RAFT_LEADER) {
            struct proposal *list = n->head;
            n->head = n->tail = NULL;
            fail_proposals(list, GD_EUNAVAIL, "not the leader; retry");
            return;
        }
        flush_one(n);
    }
}

static void watch_cb(uv_timer_t *t)
{
    struct rnode *n = t->data;
    int leader = raft_state(&n->raft) == RAFT_LEADER;
    uint64_t term = n->raft.current_term;

    if (term != n->last_term) {
        raft_id lid;
        const char *laddr;
        raft_leader(&n->raft, &lid, &laddr);
        log_info("term changed", "term=%llu state=%s leader=%llu",
                 (unsigned long long)term, rnode_state_name(n),
                 (unsigned long long)lid);
        n->last_term = term;
    }
    if (leader != n->was_leader) {
        n->was_leader = leader;
        log_info(leader ? "became leader" : "lost leadership", "term=%llu",
                 (unsigned long long)term);
        if (n->leader_cb != NULL) {
            n->leader_cb(n->leader_data, leader);
        }
    }
}

static void fsm_hlc_cb(void *data, uint64_t t)
{
    struct rnode *n = data;
    hlc_observe(&n->hlc, t, wall_ms());
}

/* Entries are deferred on followers only: no proposer waits for them. */
static int defer_on_follower(void *data)
{
    struct rnode *n = data;
    return raft_state(&n->raft) == RAFT_FOLLOWER;
}

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof tmp) {
        return -1;
    }
    memcpy(tmp, dir, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
        return -1;
    }
    return 0;
}

int rnode_start(struct rnode **out, uv_loop_t *loop, struct store *s,
                const struct rnode_config *cfg, struct gd_err *err)
{
    struct rnode *n = calloc(1, sizeof *n);
    const char *env;
    int rv;

    if (n == NULL) {
        return gd_err_set(err, GD_ENOMEM, "out of memory");
    }
    n->loop = loop;
    n->store = s;
    n->max_inflight = RNODE_MAX_INFLIGHT_DEFAULT;
    env = getenv("GRIDESK_MAX_INFLIGHT");
    if (env != NULL && atoi(env) > 0) {
        n->max_inflight = (unsigned)atoi(env);
    }
    hlc_init(&n->hlc);
    snprintf(n->origin, sizeof n->origin, "%s", cfg->origin);
    if (mkdir_p(cfg->dir) != 0) {
        free(n);
        return gd_err_set(err, GD_EIO, "cannot create %s: %s", cfg->dir,
                          strerror(errno));
    }
    rv = fsm_init(&n->fsm, s, err);
    if (rv != 0) {
        free(n);
        return rv;
    }
    n->fsm.on_hlc = fsm_hlc_cb;
    n->fsm.on_hlc_data = n;
    env = getenv("GRIDESK_DEFER_APPLY");
    if (env == NULL || strcmp(env, "0") != 0) {
        n->fsm.may_defer = defer_on_follower;
        n->fsm.may_defer_data = n;
    }
    /* The store's newest event time seeds the clock: never go back. */
    rv = raft_uv_tcp_init(&n->transport, loop);
    if (rv != 0) {
        fsm_close(&n->fsm);
        free(n);
        return gd_err_set(err, GD_EIO, "raft transport: %s",
                          raft_strerror(rv));
    }
    n->tcp_listen = n->transport.listen;
    n->tcp_connect = n->transport.connect;
    n->transport.listen = nodelay_listen;
    n->transport.connect = nodelay_connect;
    rv = raft_uv_init(&n->io, loop, cfg->dir, &n->transport);
    if (rv != 0) {
        gd_err_set(err, GD_EIO, "raft io in %s: %s", cfg->dir, n->io.errmsg);
        raft_uv_tcp_close(&n->transport);
        fsm_close(&n->fsm);
        free(n);
        return GD_EIO;
    }
    raft_uv_set_connect_retry_delay(&n->io, 200);
    raft_uv_set_segment_size(&n->io, (size_t)(cfg->segment_mb != 0
                                                  ? cfg->segment_mb
                                                  : RNODE_SEGMENT_MB_DEFAULT)
                                         << 20);
    /* raft_uv 0.15 implements async_work (used for snapshots taken off the
     * loop, fsm version 3) but still says io version 1, which raft_init
     * then refuses; upstream raised it to 2 in 0.17.1 ("uv: set io version
     * to 2", 269e541).  Say what the struct holds. */
    if (n->io.version < 2 && n->io.async_work != NULL) {
        n->io.version = 2;
    }
    rv = raft_init(&n->raft, &n->io, &n->fsm.raft_fsm, cfg->id,
                   cfg->raft_addr);
    if (rv != 0) {
        gd_err_set(err, GD_EIO, "raft init: %s", raft_errmsg(&n->raft));
        raft_uv_close(&n->io);
        raft_uv_tcp_close(&n->transport);
        fsm_close(&n->fsm);
        free(n);
        return GD_EIO;
    }
    n->fsm.raft = &n->raft;
    {
        unsigned et = cfg->election_timeout_ms ? cfg->election_timeout_ms
                                               : 1000;
        unsigned hb = cfg->heartbeat_ms ? cfg->heartbeat_ms : et / 10;
        raft_set_election_timeout(&n->raft, et);
        raft_set_heartbeat_timeout(&n->raft, hb ? hb : 1);
        raft_set_pre_vote(&n->raft, true);
        raft_set_snapshot_threshold(
            &n->raft, cfg->snapshot_threshold ? cfg->snapshot_threshold
                                              : 65536);
        raft_set_snapshot_trailing(
            &n->raft, cfg->snapshot_trailing ? cfg->snapshot_trailing : 8192);
    }
    if (cfg->bootstrap != NULL && cfg->n_bootstrap > 0) {
        struct raft_configuration conf;
        raft_configuration_init(&conf);
        for (size_t i = 0; i < cfg->n_bootstrap; i++) {
            rv = raft_configuration_add(&conf, cfg->bootstrap[i].id,
                                        cfg->bootstrap[i].raft, RAFT_VOTER);
            if (rv != 0) {
                raft_configuration_close(&conf);
                gd_err_set(err, GD_EINVAL, "bad cluster member %llu: %s",
                           (unsigned long long)cfg->bootstrap[i].id,
                           raft_strerror(rv));
                goto err_close;
            }
        }
        rv = raft_bootstrap(&n->raft, &conf);
        raft_configuration_close(&conf);
        if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
            gd_err_set(err, GD_EIO, "raft bootstrap: %s",
                       raft_errmsg(&n->raft));
            goto err_close;
        }
    }
    if (cfg->segment_fill == RNODE_SEGMENT_FILL_ZERO) {
        /* Before raft_start, which prepares the first open segments. */
        n->segfill_dir = strdup(cfg->dir);
        rv = n->segfill_dir != NULL ? segfill_register(cfg->dir) : GD_ENOMEM;
        if (rv != 0) {
            /* Appends are then slower, never wrong: go on without. */
            log_warn("raft log segments will not be zero-filled",
                     "dir=%s error=%s", cfg->dir, gd_code_name(rv));
            free(n->segfill_dir);
            n->segfill_dir = NULL;
        }
    }
    rv = raft_start(&n->raft);
    if (rv != 0) {
        gd_err_set(err, GD_EIO, "raft start on %s: %s", cfg->raft_addr,
                   raft_errmsg(&n->raft));
        goto err_close;
    }
    uv_check_init(loop, &n->check);
    n->check.data = n;
    uv_check_start(&n->check, check_cb);
    uv_timer_init(loop, &n->watch);
    n->watch.data = n;
    uv_timer_start(&n->watch, watch_cb, 20, 20);
    n->handles_open = 2;
    *out = n;
    return 0;

err_close:
    /* raft_init succeeded: raft_close owns the io teardown. */
    /* The process exits right after this error; tearing raft down after
     * a failed start crashes inside libraft 0.15, so leave it. */
    n->closing = 1;
    fsm_close(&n->fsm);
    /* n is leaked deliberately if handles are still closing; the process
     * exits right after this error. */
    return err->code;
}

void rnode_on_leader_change(struct rnode *n, rnode_leader_cb cb, void *data)
{
    n->leader_cb = cb;
    n->leader_data = data;
}

int rnode_propose(struct rnode *n, struct command *cmd, rnode_propose_cb cb,
                  void *data)
{
    struct proposal *p;

    if (n->closing || raft_state(&n->raft) != RAFT_LEADER) {
        command_clear(cmd);
        return GD_EUNAVAIL;
    }
    p = malloc(sizeof *p);
    if (p == NULL) {
        command_clear(cmd);
        return GD_ENOMEM;
    }
    p->cmd = *cmd;
    command_init(cmd);
    p->cb = cb;
    p->data = data;
    p->next = NULL;
    if (n->tail != NULL) {
        n->tail->next = p;
    } else {
        n->head = p;
    }
    n->tail = p;
    n->stats.proposals++;
    return 0;
}

static void barrier_cb(struct raft_barrier *req, int status)
{
    struct barrier *b = req->data;
    b->cb(b->data, raft_to_gd(status), status ? raft_strerror(status) : "");
    free(b);
}

int rnode_barrier(struct rnode *n, rnode_done_cb cb, void *data)
{
    struct barrier *b;
    int rv;

    if (n->closing || raft_state(&n->raft) != RAFT_LEADER) {
        return GD_EUNAVAIL;
    }
    b = malloc(sizeof *b);
    if (b == NULL) {
        return GD_ENOMEM;
    }
    b->cb = cb;
    b->data = data;
    b->req.data = b;
    rv = raft_barrier(&n->raft, &b->req, barrier_cb);
    if (rv != 0) {
        free(b);
        return raft_to_gd(rv);
    }
    return 0;
}

static void change_done(struct change *c, int status)
{
    const char *msg = status ? raft_errmsg(&c->n->raft) : "";
    if (status != 0 && (msg == NULL || *msg == '\0')) {
        msg = raft_strerror(status);
    }
    c->cb(c->data, raft_to_gd(status), msg);
    free(c);
}

static void assign_cb(struct raft_change *req, int status)
{
    struct change *c = req->data;
    if (status == 0) {
        log_info("member promoted to voter", "id=%llu",
                 (unsigned long long)c->id);
    }
    change_done(c, status);
}

static void add_cb(struct raft_change *req, int status)
{
    struct change *c = req->data;
    int rv;

    if (status != 0) {
        change_done(c, status);
        return;
    }
    log_info("member added as spare", "id=%llu", (unsigned long long)c->id);
    rv = raft_assign(&c->n->raft, &c->req, c->id, RAFT_VOTER, assign_cb);
    if (rv != 0) {
        change_done(c, rv);
    }
}

static struct change *change_new(struct rnode *n, uint64_t id,
                                 rnode_done_cb cb, void *data)
{
    struct change *c = calloc(1, sizeof *c);
    if (c != NULL) {
        c->n = n;
        c->id = id;
        c->cb = cb;
        c->data = data;
        c->req.data = c;
    }
    return c;
}

int rnode_add(struct rnode *n, uint64_t id, const char *raft_addr,
              rnode_done_cb cb, void *data)
{
    struct change *c;
    int rv;

    if (n->closing || raft_state(&n->raft) != RAFT_LEADER) {
        return GD_EUNAVAIL;
    }
    c = change_new(n, id, cb, data);
    if (c == NULL) {
        return GD_ENOMEM;
    }
    rv = raft_add(&n->raft, &c->req, id, raft_addr, add_cb);
    if (rv != 0) {
        free(c);
        return raft_to_gd(rv);
    }
    return 0;
}

static void remove_cb(struct raft_change *req, int status)
{
    change_done(req->data, status);
}

int rnode_remove(struct rnode *n, uint64_t id, rnode_done_cb cb, void *data)
{
    struct change *c;
    int rv;

    if (n->closing || raft_state(&n->raft) != RAFT_LEADER) {
        return GD_EUNAVAIL;
    }
    c = change_new(n, id, cb, data);
    if (c == NULL) {
        return GD_ENOMEM;
    }
    rv = raft_remove(&n->raft, &c->req, id, remove_cb);
    if (rv != 0) {
        free(c);
        return raft_to_gd(rv);
    }
    return 0;
}

int rnode_is_leader(struct rnode *n)
{
    return raft_state(&n->raft) == RAFT_LEADER;
}

uint64_t rnode_leader(struct rnode *n, const char **raft_addr)
{
    raft_id id = 0;
    const char *addr = NULL;
    raft_leader(&n->raft, &id, &addr);
    if (raft_addr != NULL) {
        *raft_addr = addr;
    }
    return id;
}

const char *rnode_state_name(struct rnode *n)
{
    switch (raft_state(&n->raft)) {
    case RAFT_FOLLOWER: return "follower";
    case RAFT_CANDIDATE: return "candidate";
    case RAFT_LEADER: return "leader";
    default: return "unavailable";
    }
}

uint64_t rnode_term(struct rnode *n)
{
    return n->raft.current_term;
}

uint64_t rnode_commit_index(struct rnode *n)
{
    return n->raft.commit_index;
}

uint64_t rnode_applied_index(struct rnode *n)
{
    return raft_last_applied(&n->raft);
}

uint64_t rnode_last_index(struct rnode *n)
{
    return raft_last_index(&n->raft);
}

const struct raft_configuration *rnode_configuration(struct rnode *n)
{
    return &n->raft.configuration;
}

const char *rnode_role_name(int role)
{
    switch (role) {
    case RAFT_VOTER: return "voter";
    case RAFT_STANDBY: return "standby";
    case RAFT_SPARE: return "spare";
    default: return "unknown";
    }
}

uint64_t rnode_hlc_now(struct rnode *n)
{
    return hlc_now(&n->hlc, wall_ms());
}

struct fsm *rnode_fsm(struct rnode *n)
{
    return &n->fsm;
}

void rnode_stats(struct rnode *n, struct rnode_stats *st)
{
    *st = n->stats;
}

static void handle_closed_cb(uv_handle_t *h)
{
    struct rnode *n = h->data;
    n->handles_open--;
}

static void raft_closed_cb(struct raft *r)
{
    struct rnode *n = (struct rnode *)((char *)r - offsetof(struct rnode,
                                                            raft));
    raft_uv_close(&n->io);
    raft_uv_tcp_close(&n->transport);
    fsm_close(&n->fsm);
    if (n->segfill_dir != NULL) {
        segfill_unregister(n->segfill_dir);
        free(n->segfill_dir);
        n->segfill_dir = NULL;
    }
    log_info("raft closed", "applied_index=%llu",
             (unsigned long long)store_applied_index(n->store));
    if (n->close_cb != NULL) {
        n->close_cb(n->close_data);
    }
    /* n itself is freed by the process after the loop drains (main). */
}

static void do_close(struct rnode *n)
{
    struct proposal *list = n->head;
    n->head = n->tail = NULL;
    fail_proposals(list, GD_EUNAVAIL, "shutting down");
    uv_close((uv_handle_t *)&n->check, handle_closed_cb);
    uv_close((uv_handle_t *)&n->watch, handle_closed_cb);
    raft_close(&n->raft, raft_closed_cb);
}

static void transfer_cb(struct raft_transfer *req)
{
    struct rnode *n = req->data;
    raft_id id = 0;
    const char *addr = NULL;
    raft_leader(&n->raft, &id, &addr);
    log_info("leadership transfer done", "new_leader=%llu",
             (unsigned long long)id);
    do_close(n);
}

void rnode_close(struct rnode *n, void (*cb)(void *data), void *data)
{
    if (n->closing) {
        return;
    }
    n->closing = 1;
    n->close_cb = cb;
    n->close_data = data;
    if (raft_state(&n->raft) == RAFT_LEADER &&
        n->raft.configuration.n > 1) {
        n->transfer.data = n;
        if (raft_transfer(&n->raft, &n->transfer, 0, transfer_cb) == 0) {
            log_info("transferring leadership before shutdown", "%s", "");
            return;
        }
    }
    do_close(n);
}

void rnode_free(struct rnode *n)
{
    free(n);
}
