/* Raft FSM: decode a command batch, fold each command with core/, and write
 * the result plus the entry index as one RocksDB WriteBatch.  See fsm.h.
 *
 * Commands of one entry are applied in order and later ones see the effect
 * of earlier ones: touched tickets and counters live in a small overlay for
 * the length of the entry and are written to the batch at the end.  A
 * command that fails leaves nothing in the batch. */
#include "consensus/fsm.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/command.h"
#include "core/event.h"
#include "core/hlc.h"
#include "core/log.h"
#include "core/ticket.h"
#include "core/util.h"
#include "storage/records.h"
#include "storage/tickets.h"
#include "consensus/fsm_int.h"
#include "search/search.h"

#define DEFAULT_REGION "GD"
static int results_reserve(struct fsm *f, size_t n)
{
    if (n > f->cap_results) {
        struct fsm_result *r = realloc(f->results, n * sizeof *r);
        if (r == NULL) {
            return GD_ENOMEM;
        }
        f->results = r;
        f->cap_results = n;
    }
    return 0;
}

/* Room for one more ticket in the overlay: 0 or GD_ENOMEM. */
static int overlay_reserve(struct apply_ctx *c)
{
    if (c->n_tickets == c->cap_tickets) {
        size_t cap = c->cap_tickets ? c->cap_tickets * 2 : 16;
        struct overlay_ticket *o = realloc(c->tickets, cap * sizeof *o);
        if (o == NULL) {
            return GD_ENOMEM;
        }
        c->tickets = o;
        c->cap_tickets = cap;
    }
    return 0;
}

/* Finds a ticket in the overlay, loading it from the store on first use.
 * Returns the overlay slot, or NULL with *rc set (GD_ENOTFOUND, GD_ENOMEM,
 * GD_ECORRUPT). */
static struct overlay_ticket *overlay_ticket_get(struct apply_ctx *c,
                                                 const char *id, int *rc)
{
    struct gd_err err;
    struct overlay_ticket *o;

    for (size_t i = 0; i < c->n_tickets; i++) {
        if (strcmp(c->tickets[i].cur.id, id) == 0) {
            return &c->tickets[i];
        }
    }
    if (overlay_reserve(c) != 0) {
        *rc = GD_ENOMEM;
        return NULL;
    }
    o = &c->tickets[c->n_tickets];
    ticket_init(&o->cur);
    ticket_init(&o->orig);
    *rc = store_ticket_get(c->f->store, id, &o->orig, &err);
    if (*rc != 0) {
        ticket_clear(&o->orig);
        return NULL;
    }
    *rc = ticket_copy(&o->cur, &o->orig);
    if (*rc != 0) {
        ticket_clear(&o->orig);
        ticket_clear(&o->cur);
        return NULL;
    }
    o->existed = 1;
    c->n_tickets++;
    return o;
}

/* Adds a brand-new ticket to the overlay (takes ownership of *t). */
static int overlay_ticket_add(struct apply_ctx *c, struct ticket *t)
{
    if (overlay_reserve(c) != 0) {
        return GD_ENOMEM;
    }
    c->tickets[c->n_tickets].cur = *t;
    ticket_init(&c->tickets[c->n_tickets].orig);
    c->tickets[c->n_tickets].existed = 0;
    c->n_tickets++;
    ticket_init(t);
    return 0;
}

int fsm_counter_add(struct apply_ctx *c, const char *name, int64_t delta,
                    uint64_t *out)
{
    struct overlay_counter *oc = NULL;
    int rc;

    if (strlen(name) >= sizeof oc->name) {
        return GD_EINVAL;
    }
    for (size_t i = 0; i < c->n_counters && oc == NULL; i++) {
        if (strcmp(c->counters[i].name, name) == 0) {
            oc = &c->counters[i];
        }
    }
    if (oc == NULL) {
        if (c->n_counters == c->cap_counters) {
            size_t cap = c->cap_counters ? c->cap_counters * 2 : 4;
            struct overlay_counter *o = realloc(c->counters, cap * sizeof *o);
            if (o == NULL) {
                return GD_ENOMEM;
            }
            c->counters = o;
            c->cap_counters = cap;
        }
        oc = &c->counters[c->n_counters];
        snprintf(oc->name, sizeof oc->name, "%s", name);
        rc = store_counter_get(c->f->store, name, &oc->value);
        if (rc != 0) {
            return rc == GD_EINVAL ? GD_EIO : rc;
        }
        c->n_counters++;
    }
    /* Counters never go below zero (a decrement of an absent count is a
     * no-op, the same on every replica). */
    if (delta < 0 && (uint64_t)-delta > oc->value) {
        oc->value = 0;
    } else {
        oc->value += (uint64_t)delta;
    }
    if (out != NULL) {
        *out = oc->value;
    }
    return 0;
}

int fsm_counter_next(struct apply_ctx *c, const char *name, uint64_t *out)
{
    return fsm_counter_add(c, name, 1, out);
}

/* A ticket event command.  On success the event is in the batch and the
 * ticket's new state in the overlay. */
static int apply_ticket(struct apply_ctx *c, struct event *ev,
                        struct fsm_result *res)
{
    struct gd_err err = {0, ""};
    int rc;

    if (ev->id.hlc > c->max_hlc) {
        c->max_hlc = ev->id.hlc;
    }
    if (ev->type == EVENT_TICKET_CREATE) {
        char counter[96], date[16], id[96];
        uint64_t seq;
        struct ticket t;

        rc = ticket_check(NULL, ev, &err);
        if (rc != 0) {
            res->code = rc;
            snprintf(res->msg, sizeof res->msg, "%s", err.msg);
            return rc;
        }
        gd_date_yyyymmdd(hlc_ms(ev->id.hlc), date, sizeof date);
        gd_strcat_n(counter, sizeof counter, "ticket/", c->region, "/", date,
                    (char *)NULL);
        rc = fsm_counter_next(c, counter, &seq);
        if (rc != 0) {
            return rc;
        }
        ticket_id_format(id, sizeof id, c->region, ev->id.hlc,
                         (uint32_t)seq);
        rc = gd_strdup(&ev->entity, id);
        if (rc != 0) {
            return rc;
        }
        ticket_init(&t);
        rc = ticket_fold(&t, ev);
        if (rc < 0) {
            ticket_clear(&t);
            return rc;
        }
        rc = overlay_ticket_add(c, &t);
        if (rc != 0) {
            ticket_clear(&t);
            return rc;
        }
        gd_strcat_n(res->entity, sizeof res->entity, id, (char *)NULL);
        return store_event_put(c->batch, id, ev);
    }

    if (ev->entity == NULL || ev->entity[0] == '\0') {
        res->code = GD_EINVAL;
        snprintf(res->msg, sizeof res->msg, "event without a ticket id");
        return GD_EINVAL;
    }
    struct overlay_ticket *o = overlay_ticket_get(c, ev->entity, &rc);
    if (o == NULL) {
        if (rc == GD_ENOTFOUND) {
            res->code = rc;
            snprintf(res->msg, sizeof res->msg, "no ticket %s", ev->entity);
        }
        return rc;
    }
    rc = ticket_check(&o->cur, ev, &err);
    if (rc != 0) {
        res->code = rc;
        snprintf(res->msg, sizeof res->msg, "%s", err.msg);
        return rc;
    }
    /* Keep the fold order equal to the Raft order on the cluster path: an
     * event stamped by a leader whose clock is behind the ticket's newest
     * event is moved just after it.  Deterministic: it depends only on the
     * entry and the stored ticket. */
    if (event_id_cmp(&ev->id, &o->cur.last_event) <= 0) {
        ev->id.hlc = o->cur.last_event.hlc + 1;
    }
    rc = ticket_fold(&o->cur, ev);
    if (rc < 0) {
        return rc;
    }
    gd_strcat_n(res->entity, sizeof res->entity, ev->entity, (char *)NULL);
    return store_event_put(c->batch, ev->entity, ev);
}

static int apply_command(struct apply_ctx *c, struct command *cmd,
                         struct fsm_result *res)
{
    struct cluster_rec cr;
    struct gd_err err;
    int rc;

    switch (cmd->type) {
    case CMD_TICKET:
        return apply_ticket(c, &cmd->ev, res);
    case CMD_KB:
        if (cmd->kb.hlc > c->max_hlc) {
            c->max_hlc = cmd->kb.hlc;
        }
        return fsm_apply_kb(c, &cmd->kb, res);
    case CMD_USER_PUT:
        snprintf(res->entity, sizeof res->entity, "%s",
                 cmd->user.name ? cmd->user.name : "");
        return store_user_put(c->batch, &cmd->user);
    case CMD_MEMBER_PUT:
        snprintf(res->entity, sizeof res->entity, "%llu",
                 (unsigned long long)cmd->member.id);
        return store_member_put(c->batch, &cmd->member);
    case CMD_MEMBER_DEL:
        snprintf(res->entity, sizeof res->entity, "%llu",
                 (unsigned long long)cmd->member.id);
        store_member_delete(c->batch, cmd->member.id);
        return 0;
    case CMD_CLUSTER_INIT:
        memset(&cr, 0, sizeof cr);
        rc = store_cluster_get(c->f->store, &cr, &err);
        cluster_rec_clear(&cr);
        if (rc == 0 || c->cluster_inited) {
            res->code = GD_ECONFLICT;
            snprintf(res->msg, sizeof res->msg, "cluster already initialised");
            return GD_ECONFLICT;
        }
        rc = store_cluster_put(c->batch, &cmd->cluster);
        if (rc == 0 && cmd->user.name != NULL) {
            rc = store_user_put(c->batch, &cmd->user);
        }
        if (rc == 0) {
            c->cluster_inited = 1;
            snprintf(c->region, sizeof c->region, "%s",
                     cmd->cluster.region ? cmd->cluster.region
                                         : DEFAULT_REGION);
            snprintf(res->entity, sizeof res->entity, "%s",
                     cmd->cluster.cluster_id ? cmd->cluster.cluster_id : "");
        }
        return rc;
    default:
        res->code = GD_EINVAL;
        snprintf(res->msg, sizeof res->msg, "unknown command type %d",
                 cmd->type);
        return GD_EINVAL;
    }
}

static void load_region(struct apply_ctx *c)
{
    struct cluster_rec cr;
    struct gd_err err;

    snprintf(c->region, sizeof c->region, "%s", DEFAULT_REGION);
    memset(&cr, 0, sizeof cr);
    if (store_cluster_get(c->f->store, &cr, &err) == 0 && cr.region &&
        cr.region[0]) {
        snprintf(c->region, sizeof c->region, "%s", cr.region);
    }
    cluster_rec_clear(&cr);
}

/* Whether a command's failure is the command's own (a refused command the
 * client hears about) rather than the store's (the node must stop). */
static int is_command_error(int rc)
{
    return rc == GD_EINVAL || rc == GD_ENOTFOUND || rc == GD_ECONFLICT ||
           rc == GD_EPERM;
}

static void kept_free(struct fsm *f)
{
    for (size_t i = 0; i < f->n_kept_tickets; i++) {
        ticket_clear(&f->kept_tickets[i].cur);
        ticket_clear(&f->kept_tickets[i].orig);
    }
    free(f->kept_tickets);
    f->kept_tickets = NULL;
    f->n_kept_tickets = 0;
    cmd_batch_free(f->kept_cmds, f->n_kept_cmds);
    f->kept_cmds = NULL;
    f->n_kept_cmds = 0;
}

const struct ticket *fsm_created_ticket(const struct fsm *f, const char *id,
                                        const struct event **evs, size_t cap,
                                        size_t *n)
{
    const struct ticket *t = NULL;
    size_t k = 0;

    *n = 0;
    for (size_t i = 0; i < f->n_kept_tickets && t == NULL; i++) {
        const struct overlay_ticket *o = &f->kept_tickets[i];
        if (!o->existed && o->cur.id != NULL && strcmp(o->cur.id, id) == 0) {
            t = &o->cur;
        }
    }
    if (t == NULL || t->n_events > cap) {
        return NULL;
    }
    for (size_t i = 0; i < f->n_kept_cmds && i < f->n_results; i++) {
        const struct command *cmd = &f->kept_cmds[i];
        if (cmd->type == CMD_TICKET && f->results[i].code == 0 &&
            cmd->ev.entity != NULL && strcmp(cmd->ev.entity, id) == 0) {
            if (k == cap) {
                return NULL;
            }
            evs[k++] = &cmd->ev;
        }
    }
    if (k != t->n_events) {
        return NULL; /* not all of its events are here: ask the store */
    }
    *n = k;
    return t;
}

int fsm_apply_batch(struct fsm *f, uint64_t index, const char *buf,
                    size_t len)
{
    struct apply_ctx c;
    struct command *cmds = NULL;
    size_t n = 0;
    struct gd_err err = {0, ""};
    int rc, search_open = 0;

    kept_free(f);
    f->n_results = 0;
    f->last_index = index;
    if (index != 0 && index <= store_applied_index(f->store)) {
        /* Replayed after a restart: already in the store. */
        f->entries_skipped++;
        return 0;
    }
    memset(&c, 0, sizeof c);
    c.f = f;
    /* The batch and the unpacking zone are kept from entry to entry. */
    if (f->batch == NULL && (f->batch = store_batch_new()) == NULL) {
        return GD_ENOMEM;
    }
    store_batch_clear(f->batch);
    c.batch = f->batch;
    if (f->zone == NULL) {
        f->zone = msgpack_zone_new(FSM_ZONE_CHUNK);
    }
    rc = cmd_batch_decode_in(f->zone, buf, len, &cmds, &n, &err);
    if (rc != 0) {
        /* Every replica decodes the same bytes the same way: record the
         * index and refuse the entry's commands. */
        log_error("undecodable entry", "index=%llu err=\"%s\"",
                  (unsigned long long)index, err.msg);
        return store_batch_commit(f->store, c.batch, index, &err);
    }
    rc = results_reserve(f, n ? n : 1);
    if (rc != 0) {
        goto out;
    }
    load_region(&c);
    if (f->search != NULL) {
        sr_batch_begin(f->search, c.batch);
        search_open = 1;
    }

    for (size_t i = 0; i < n; i++) {
        struct fsm_result *res = &f->results[i];
        size_t mark = store_batch_count(c.batch);
        size_t mark_tickets = c.n_tickets;

        res->code = 0;
        res->msg[0] = '\0';
        res->entity[0] = '\0';
        /* A command must leave nothing behind when it fails; commands that
         * can fail validate before they write, so a failure after a write
         * is a store/memory error and fails the whole entry. */
        rc = apply_command(&c, &cmds[i], res);
        if (rc != 0) {
            if (!is_command_error(rc) ||
                store_batch_count(c.batch) != mark ||
                c.n_tickets < mark_tickets) {
                goto out;
            }
            if (res->code == 0) {
                res->code = rc;
            }
            rc = 0;
        }
        f->n_results++;
    }

    for (size_t i = 0; i < c.n_tickets && rc == 0; i++) {
        struct overlay_ticket *o = &c.tickets[i];
        rc = store_ticket_put(c.batch, o->existed ? &o->orig : NULL, &o->cur);
    }
    for (size_t i = 0; i < c.n_counters && rc == 0; i++) {
        store_counter_put(c.batch, c.counters[i].name, c.counters[i].value);
    }
    if (rc == 0) {
        rc = fsm_kb_flush(&c);
    }
    if (rc == 0) {
        rc = store_batch_commit(f->store, c.batch, index, &err);
        if (search_open) {
            sr_batch_end(f->search, rc == 0);
            search_open = 0;
        }
        if (rc != 0) {
            log_error("store write failed", "index=%llu err=\"%s\"",
                      (unsigned long long)index, err.msg);
        }
    }
    if (rc == 0) {
        f->entries_applied++;
        f->commands_applied += n;
        if (f->on_hlc != NULL && c.max_hlc != 0) {
            f->on_hlc(f->on_hlc_data, c.max_hlc);
        }
    }
out:
    if (search_open) {
        sr_batch_end(f->search, 0);
    }
    fsm_kb_free(&c);
    if (rc == 0) {
        /* kept for the proposers' callbacks, freed by the next apply */
        f->kept_tickets = c.tickets;
        f->n_kept_tickets = c.n_tickets;
        f->kept_cmds = cmds;
        f->n_kept_cmds = n;
    } else {
        for (size_t i = 0; i < c.n_tickets; i++) {
            ticket_clear(&c.tickets[i].cur);
            ticket_clear(&c.tickets[i].orig);
        }
        free(c.tickets);
        cmd_batch_free(cmds, n);
    }
    free(c.counters);
    return rc;
}

void fsm_entry_frame(void *out, const char *payload, size_t len)
{
    unsigned char *p = out;
    p[0] = (unsigned char)(len & 0xff);
    p[1] = (unsigned char)((len >> 8) & 0xff);
    p[2] = (unsigned char)((len >> 16) & 0xff);
    p[3] = (unsigned char)((len >> 24) & 0xff);
    memcpy(p + 4, payload, len);
}

long long fsm_entry_payload(const void *entry, size_t entry_len,
                            const char **payload)
{
    const unsigned char *p = entry;
    uint32_t len;

    if (entry_len < 4) {
        return -1;
    }
    len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
          (uint32_t)p[3] << 24;
    if ((size_t)len > entry_len - 4) {
        return -1;
    }
    *payload = (const char *)p + 4;
    return len;
}

struct fsm_pending {
    struct fsm_pending *next;
    uint64_t index;
    size_t len;
    char payload[];
};

/* fsm_apply_batch, timed for operators (the time never reaches the state:
 * an apply blocks the loop, and a long one delays heartbeats). */
static int apply_timed(struct fsm *f, uint64_t index, const char *payload,
                       size_t len)
{
    uint64_t t0 = uv_hrtime();
    int rc = fsm_apply_batch(f, index, payload, len);
    uint64_t us = (uv_hrtime() - t0) / 1000;

    f->apply_us_total += us;
    if (us > f->apply_us_max) {
        f->apply_us_max = us;
    }
    if (us >= FSM_SLOW_APPLY_US) {
        f->slow_applies++;
        log_warn("slow apply", "index=%llu ms=%llu commands=%zu",
                 (unsigned long long)index, (unsigned long long)(us / 1000),
                 f->n_results);
    }
    if (rc != 0) {
        log_error("apply failed", "index=%llu code=%s",
                  (unsigned long long)index, gd_code_name(rc));
    }
    return rc;
}

int fsm_settle(struct fsm *f)
{
    while (f->pending_head != NULL) {
        struct fsm_pending *p = f->pending_head;
        int rc = apply_timed(f, p->index, p->payload, p->len);
        if (rc != 0) {
            return rc;
        }
        f->pending_head = p->next;
        if (f->pending_head == NULL) {
            f->pending_tail = NULL;
        }
        f->n_pending--;
        f->pending_bytes -= p->len;
        free(p);
    }
    return 0;
}

/* Queues a copy of the entry: 0, or 1 when the queue is full or memory is
 * short, and the caller applies the entry now instead. */
static int defer_entry(struct fsm *f, uint64_t index, const char *payload,
                       size_t len)
{
    struct fsm_pending *p;

    if (f->n_pending >= FSM_PENDING_MAX_ENTRIES ||
        len > FSM_PENDING_MAX_BYTES - f->pending_bytes) {
        return 1;
    }
    p = malloc(sizeof *p + len);
    if (p == NULL) {
        return 1;
    }
    p->next = NULL;
    p->index = index;
    p->len = len;
    memcpy(p->payload, payload, len);
    if (f->pending_tail != NULL) {
        f->pending_tail->next = p;
    } else {
        f->pending_head = p;
    }
    f->pending_tail = p;
    f->n_pending++;
    f->pending_bytes += len;
    f->entries_deferred++;
    return 0;
}

int fsm_apply_entry(struct fsm *f, uint64_t index, const char *payload,
                    size_t len)
{
    int rc;

    if (f->may_defer != NULL && f->may_defer(f->may_defer_data) &&
        defer_entry(f, index, payload, len) == 0) {
        /* No proposer waits on a follower: nothing to answer from. */
        f->n_results = 0;
        f->last_index = index;
        return 0;
    }
    rc = fsm_settle(f);
    if (rc != 0) {
        f->n_results = 0;
        return rc;
    }
    return apply_timed(f, index, payload, len);
}

static int fsm_raft_apply(struct raft_fsm *rf, const struct raft_buffer *buf,
                          void **result)
{
    struct fsm *f = rf->data;
    uint64_t index = raft_last_applied(f->raft) + 1;
    const char *payload = "";
    long long plen = fsm_entry_payload(buf->base, buf->len, &payload);
    /* A malformed frame decodes as an empty (undecodable) batch on every
     * replica alike: the index is recorded, nothing else. */
    int rc = fsm_apply_entry(f, index, payload, plen < 0 ? 0 : (size_t)plen);

    *result = f;
    return rc != 0 ? RAFT_IOERR : 0;
}

/* Snapshots are taken in three steps (raft_fsm version 3), so that dumping
 * a large store never blocks the loop (and with it heartbeats and every
 * request): fsm_raft_snapshot, on the loop, settles deferred entries and
 * pins a RocksDB snapshot at the applied index; fsm_raft_snapshot_async, on
 * a libuv worker thread, dumps from it; fsm_raft_snapshot_finalize, on the
 * loop again, frees the dump and unpins the view once raft has written the
 * snapshot (or failed to).  raft takes one snapshot at a time. */
static int fsm_raft_snapshot(struct raft_fsm *rf, struct raft_buffer *bufs[],
                             unsigned *n_bufs)
{
    struct fsm *f = rf->data;

    *bufs = NULL;
    *n_bufs = 0;
    if (f->snap_view != NULL) {
        return RAFT_BUSY; /* raft retries at the next threshold */
    }
    /* The snapshot is of everything raft has applied. */
    if (fsm_settle(f) != 0) {
        return RAFT_IOERR;
    }
    f->snap_view = store_view_take(f->store);
    if (f->snap_view == NULL) {
        return RAFT_NOMEM;
    }
    f->snap_index = store_applied_index(f->store);
    f->snap_err.code = 0;
    f->snap_err.msg[0] = '\0';
    f->snap_bytes = 0;
    return 0;
}

/* On a worker thread: touches only the pinned view and its own buffers. */
static int fsm_raft_snapshot_async(struct raft_fsm *rf,
                                   struct raft_buffer *bufs[],
                                   unsigned *n_bufs)
{
    struct fsm *f = rf->data;
    char *data = NULL;
    size_t len = 0;
    int rc;

    *bufs = raft_malloc(sizeof **bufs);
    if (*bufs == NULL) {
        gd_err_set(&f->snap_err, GD_ENOMEM, "out of memory");
        return RAFT_NOMEM;
    }
    rc = store_dump_view(f->store, f->snap_view, raft_malloc, &data, &len,
                         &f->snap_err);
    if (rc != 0) {
        if (data != NULL) {
            raft_free(data); /* a failed second pass leaves the buffer */
        }
        raft_free(*bufs);
        *bufs = NULL;
        return rc == GD_ENOMEM ? RAFT_NOMEM : RAFT_IOERR;
    }
    (*bufs)[0].base = data;
    (*bufs)[0].len = len;
    *n_bufs = 1;
    f->snap_bytes = len;
    return 0;
}

static int fsm_raft_snapshot_finalize(struct raft_fsm *rf,
                                      struct raft_buffer *bufs[],
                                      unsigned *n_bufs)
{
    struct fsm *f = rf->data;

    if (*bufs != NULL) {
        for (unsigned i = 0; i < *n_bufs; i++) {
            raft_free((*bufs)[i].base);
        }
        raft_free(*bufs);
        *bufs = NULL;
        *n_bufs = 0;
    }
    if (f->snap_view == NULL) {
        return 0;
    }
    store_view_release(f->store, f->snap_view);
    f->snap_view = NULL;
    if (f->snap_err.code != 0) {
        log_error("snapshot failed", "applied_index=%llu err=\"%s\"",
                  (unsigned long long)f->snap_index, f->snap_err.msg);
    } else {
        f->snapshots_taken++;
        log_info("snapshot taken", "applied_index=%llu bytes=%zu",
                 (unsigned long long)f->snap_index, f->snap_bytes);
    }
    return 0;
}

static int fsm_raft_restore(struct raft_fsm *rf, struct raft_buffer *buf)
{
    struct fsm *f = rf->data;
    struct gd_err err = {0, ""};
    uint64_t index = 0;
    int rc;

    if (fsm_settle(f) != 0) {
        return RAFT_IOERR;
    }
    rc = store_dump_index(buf->base, buf->len, &index, &err);
    if (rc != 0) {
        log_error("snapshot does not decode", "err=\"%s\"", err.msg);
        return RAFT_CORRUPT;
    }
    if (index <= store_applied_index(f->store)) {
        /* On start raft restores its newest snapshot first; the store
         * already holds that state or a newer one: never roll back. */
        log_info("snapshot older than store, kept store",
                 "snapshot_index=%llu applied_index=%llu",
                 (unsigned long long)index,
                 (unsigned long long)store_applied_index(f->store));
        raft_free(buf->base);
        return 0;
    }
    rc = store_load(f->store, buf->base, buf->len, &err);
    if (rc != 0) {
        log_error("snapshot restore failed", "err=\"%s\"", err.msg);
        return RAFT_CORRUPT;
    }
    f->snapshots_restored++;
    if (f->search != NULL && sr_engine_reload(f->search, &err) != 0) {
        log_error("search index reload failed", "err=\"%s\"", err.msg);
        return RAFT_CORRUPT;
    }
    log_info("snapshot restored", "applied_index=%llu",
             (unsigned long long)index);
    raft_free(buf->base);
    return 0;
}

int fsm_init(struct fsm *f, struct store *s, struct gd_err *err)
{
    int rc;

    memset(f, 0, sizeof *f);
    f->store = s;
    f->raft_fsm.version = 3;
    f->raft_fsm.data = f;
    f->raft_fsm.apply = fsm_raft_apply;
    f->raft_fsm.snapshot = fsm_raft_snapshot;
    f->raft_fsm.restore = fsm_raft_restore;
    f->raft_fsm.snapshot_finalize = fsm_raft_snapshot_finalize;
    f->raft_fsm.snapshot_async = fsm_raft_snapshot_async;
    if (results_reserve(f, 64) != 0) {
        return gd_err_set(err, GD_ENOMEM, "out of memory");
    }
    rc = sr_engine_open(s, &f->search, err);
    if (rc != 0) {
        free(f->results);
        f->results = NULL;
        f->search = NULL;
        return rc;
    }
    return 0;
}

void fsm_close(struct fsm *f)
{
    /* Deferred entries are in the raft log: written now if the store
     * takes them, else replayed on the next start. */
    if (fsm_settle(f) != 0) {
        log_warn("deferred entries left to replay", "entries=%zu",
                 f->n_pending);
    }
    while (f->pending_head != NULL) {
        struct fsm_pending *p = f->pending_head;
        f->pending_head = p->next;
        free(p);
    }
    f->pending_tail = NULL;
    f->n_pending = f->pending_bytes = 0;
    kept_free(f);
    /* raft has closed: no snapshot is in flight any more */
    store_view_release(f->store, f->snap_view);
    f->snap_view = NULL;
    sr_engine_close(f->search);
    f->search = NULL;
    free(f->results);
    f->results = NULL;
    f->cap_results = f->n_results = 0;
    store_batch_free(f->batch);
    f->batch = NULL;
    if (f->zone != NULL) {
        msgpack_zone_free(f->zone);
        f->zone = NULL;
    }
}
