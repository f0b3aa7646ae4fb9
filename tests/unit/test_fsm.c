/* FSM apply: one entry → one WriteBatch with the applied index; replays
 * are skipped; a refused command writes nothing; two replicas applying the
 * same entries hold byte-identical state, also when one of them defers
 * (follower) and settles later. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "consensus/fsm.h"
#include "core/command.h"
#include "core/util.h"
#include "storage/records.h"
#include "storage/tickets.h"
#include "tests/unit/same_store.h"

#define T0 ((uint64_t)1763870400000ULL << 16) /* 2025-11-23 04:00 UTC */

struct fx {
    char dir[64];
    struct store *s;
    struct fsm f;
};

static struct fx *fx_new(void)
{
    struct fx *x = calloc(1, sizeof *x);
    struct gd_err err;
    assert_non_null(x);
    snprintf(x->dir, sizeof x->dir, "/tmp/gd-fsm-XXXXXX");
    assert_non_null(mkdtemp(x->dir));
    assert_int_equal(store_open(x->dir, &x->s, &err), 0);
    assert_int_equal(fsm_init(&x->f, x->s, &err), 0);
    return x;
}

static void fx_free(struct fx *x)
{
    char cmd[128];
    fsm_close(&x->f);
    store_close(x->s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", x->dir);
    assert_int_equal(system(cmd), 0);
    free(x);
}

static void mk_create(struct command *c, uint64_t hlc, const char *customer,
                      const char *cls)
{
    command_init(c);
    c->type = CMD_TICKET;
    c->ev.type = EVENT_TICKET_CREATE;
    snprintf(c->ev.id.origin, sizeof c->ev.id.origin, "n1");
    c->ev.id.hlc = hlc;
    gd_strdup(&c->ev.actor, "agent1");
    gd_strdup(&c->ev.channel, "hotline");
    gd_strdup(&c->ev.node, "n1");
    gd_strdup(&c->ev.customer, customer);
    gd_strdup(&c->ev.cls, cls);
    gd_strdup(&c->ev.summary, "停电");
    gd_strdup(&c->ev.description, "");
}

static void mk_event(struct command *c, uint64_t hlc, const char *id,
                     int type, const char *status)
{
    command_init(c);
    c->type = CMD_TICKET;
    c->ev.type = type;
    snprintf(c->ev.id.origin, sizeof c->ev.id.origin, "n2");
    c->ev.id.hlc = hlc;
    gd_strdup(&c->ev.entity, id);
    gd_strdup(&c->ev.actor, "agent2");
    gd_strdup(&c->ev.node, "n2");
    if (type == EVENT_TICKET_ACCEPT) {
        gd_strdup(&c->ev.owner, "agent2");
    }
    if (status != NULL) {
        gd_strdup(&c->ev.status, status);
    }
}

/* Encodes cmds as one entry and hands it to fn (fsm_apply_batch, or
 * fsm_apply_entry, which may defer: it keeps its own copy). */
static void apply_via(int (*fn)(struct fsm *, uint64_t, const char *, size_t),
                      struct fx *x, uint64_t index, struct command *cmds,
                      size_t n)
{
    char *buf;
    size_t len;
    assert_int_equal(cmd_batch_encode(cmds, n, &buf, &len), 0);
    assert_int_equal(fn(&x->f, index, buf, len), 0);
    free(buf);
}

static void apply(struct fx *x, uint64_t index, struct command *cmds,
                  size_t n)
{
    apply_via(fsm_apply_batch, x, index, cmds, n);
}

static void test_create_then_events_in_one_entry(void **state)
{
    struct fx *x = fx_new();
    struct command cmds[3];
    struct ticket t;
    struct gd_err err;

    mk_create(&cmds[0], T0, "C1", "fault_repair");
    /* Later commands of the same entry see the earlier ones. */
    mk_event(&cmds[1], T0 + 1, "GD-20251123-0001", EVENT_TICKET_ACCEPT, NULL);
    mk_event(&cmds[2], T0 + 2, "GD-20251123-0001", EVENT_TICKET_STATUS,
             "in_progress");
    apply(x, 7, cmds, 3);
    assert_int_equal(x->f.n_results, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(x->f.results[i].code, 0);
        command_clear(&cmds[i]);
    }
    assert_string_equal(x->f.results[0].entity, "GD-20251123-0001");
    assert_int_equal(store_applied_index(x->s), 7);
    ticket_init(&t);
    assert_int_equal(store_ticket_get(x->s, "GD-20251123-0001", &t, &err), 0);
    assert_int_equal(t.status, TICKET_IN_PROGRESS);
    assert_string_equal(t.owner, "agent2");
    assert_int_equal(t.n_events, 3);
    ticket_clear(&t);
    fx_free(x);
}

static void test_replay_is_skipped(void **state)
{
    struct fx *x = fx_new();
    struct command c;

    mk_create(&c, T0, "C1", "complaint");
    apply(x, 5, &c, 1);
    /* The same entry again (restart replay) and an older one: no-ops. */
    apply(x, 5, &c, 1);
    apply(x, 3, &c, 1);
    command_clear(&c);
    assert_int_equal(x->f.entries_skipped, 2);
    assert_int_equal(store_ticket_count(x->s), 1);
    assert_int_equal(store_applied_index(x->s), 5);
    fx_free(x);
}

static void test_refused_command_writes_nothing(void **state)
{
    struct fx *x = fx_new();
    struct command cmds[3];
    struct ticket t;
    struct gd_err err;

    mk_create(&cmds[0], T0, "C1", "complaint");
    apply(x, 1, cmds, 1);
    command_clear(&cmds[0]);
    /* closed is not allowed from accepted; unknown ticket; bad class. */
    mk_event(&cmds[0], T0 + 5, "GD-20251123-0001", EVENT_TICKET_ACCEPT, NULL);
    mk_event(&cmds[1], T0 + 6, "GD-20251123-0001", EVENT_TICKET_STATUS,
             "new");
    mk_event(&cmds[2], T0 + 7, "GD-20251123-0999", EVENT_TICKET_COMMENT,
             NULL);
    apply(x, 2, cmds, 3);
    assert_int_equal(x->f.results[0].code, 0);
    assert_int_equal(x->f.results[1].code, GD_ECONFLICT);
    assert_int_equal(x->f.results[2].code, GD_ENOTFOUND);
    for (int i = 0; i < 3; i++) {
        command_clear(&cmds[i]);
    }
    ticket_init(&t);
    assert_int_equal(store_ticket_get(x->s, "GD-20251123-0001", &t, &err), 0);
    assert_int_equal(t.status, TICKET_ACCEPTED);
    assert_int_equal(t.n_events, 2); /* create + accept, nothing else */
    ticket_clear(&t);
    assert_int_equal(store_applied_index(x->s), 2);

    mk_create(&cmds[0], T0 + 9, "C2", "no_such_class");
    apply(x, 3, cmds, 1);
    command_clear(&cmds[0]);
    assert_int_equal(x->f.results[0].code, GD_EINVAL);
    assert_int_equal(store_ticket_count(x->s), 1);
    assert_int_equal(store_applied_index(x->s), 3);
    fx_free(x);
}

/* What the proposer's callback answers from: the ticket an entry created,
 * with exactly the events stored for it (a refused one left out), the same
 * as reading the store back; nothing for a ticket the entry did not create,
 * nor after the next apply. */
static void test_created_ticket_matches_store(void **state)
{
    struct fx *x = fx_new();
    struct command cmds[4];
    const struct event *evs[8];
    const struct ticket *ct;
    struct event *stored = NULL;
    struct ticket t;
    struct gd_err err;
    size_t n, ns;

    mk_create(&cmds[0], T0, "C1", "fault_repair");
    mk_event(&cmds[1], T0 + 1, "GD-20251123-0001", EVENT_TICKET_ACCEPT, NULL);
    mk_event(&cmds[2], T0 + 2, "GD-20251123-0001", EVENT_TICKET_STATUS,
             "new"); /* refused: accepted -> new */
    mk_event(&cmds[3], T0 + 3, "GD-20251123-0001", EVENT_TICKET_STATUS,
             "in_progress");
    apply(x, 1, cmds, 4);
    for (int i = 0; i < 4; i++) {
        command_clear(&cmds[i]);
    }
    assert_int_equal(x->f.results[2].code, GD_ECONFLICT);
    ct = fsm_created_ticket(&x->f, "GD-20251123-0001", evs, 8, &n);
    assert_non_null(ct);
    ticket_init(&t);
    assert_int_equal(store_ticket_get(x->s, "GD-20251123-0001", &t, &err), 0);
    assert_string_equal(ct->id, t.id);
    assert_int_equal(ct->status, t.status);
    assert_int_equal(ct->n_events, t.n_events);
    assert_int_equal(ct->updated_hlc, t.updated_hlc);
    assert_int_equal(store_ticket_events(x->s, t.id, &stored, &ns, &err), 0);
    assert_int_equal(n, ns);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        char *a, *b;
        size_t alen, blen;
        assert_int_equal(event_encode(evs[i], &a, &alen), 0);
        assert_int_equal(event_encode(&stored[i], &b, &blen), 0);
        assert_int_equal(alen, blen);
        assert_memory_equal(a, b, alen);
        free(a);
        free(b);
    }
    store_events_free(stored, ns);
    ticket_clear(&t);
    /* fewer slots than events: ask the store */
    assert_null(fsm_created_ticket(&x->f, "GD-20251123-0001", evs, 2, &n));

    /* An entry that only changes the ticket did not create it. */
    mk_event(&cmds[0], T0 + 9, "GD-20251123-0001", EVENT_TICKET_COMMENT, NULL);
    gd_strdup(&cmds[0].ev.text, "customer called back");
    apply(x, 2, cmds, 1);
    command_clear(&cmds[0]);
    assert_int_equal(x->f.results[0].code, 0);
    assert_null(fsm_created_ticket(&x->f, "GD-20251123-0001", evs, 8, &n));
    fx_free(x);
}

static void test_garbage_entry_records_index_only(void **state)
{
    struct fx *x = fx_new();
    static const char junk[] = "\x92\x01\xc1garbage";

    assert_int_equal(fsm_apply_batch(&x->f, 4, junk, sizeof junk - 1), 0);
    assert_int_equal(x->f.n_results, 0);
    assert_int_equal(store_applied_index(x->s), 4);
    assert_int_equal(store_ticket_count(x->s), 0);
    fx_free(x);
}

static void test_replicas_identical(void **state)
{
    struct fx *a = fx_new(), *b = fx_new();
    uint64_t idx = 1;

    for (int round = 0; round < 20; round++) {
        struct command cmds[4];
        char id[32];
        mk_create(&cmds[0], T0 + round * 10, round % 2 ? "C1" : "C2",
                  "fault_repair");
        mk_create(&cmds[1], T0 + round * 10 + 1, "C3", "consultation");
        snprintf(id, sizeof id, "GD-20251123-%04d", round * 2 + 1);
        /* A stamp behind the ticket's newest event: apply reorders it the
         * same way on every replica. */
        mk_event(&cmds[2], T0, id, EVENT_TICKET_ACCEPT, NULL);
        mk_event(&cmds[3], T0 + round * 10 + 3, id, EVENT_TICKET_COMMENT,
                 NULL);
        gd_strdup(&cmds[3].ev.text, "回访");
        apply(a, idx, cmds, 4);
        apply(b, idx, cmds, 4);
        idx++;
        for (int i = 0; i < 4; i++) {
            command_clear(&cmds[i]);
        }
    }
    assert_same_store(a->s, b->s);
    assert_int_equal(store_ticket_count(a->s), 40);
    fx_free(a);
    fx_free(b);
}

/* Deferred apply (followers): fsm_apply_entry only queues while may_defer
 * says so; the store moves when fsm_settle runs, or before anything that
 * applies at once, snapshots or restores. */
static int defer_flag;

static int may_defer_test(void *data)
{
    (void)data;
    return defer_flag;
}

static void apply_entry(struct fx *x, uint64_t index, struct command *cmds,
                        size_t n)
{
    apply_via(fsm_apply_entry, x, index, cmds, n);
    for (size_t i = 0; i < n; i++) {
        command_clear(&cmds[i]);
    }
}

static void test_deferred_apply_waits_for_settle(void **state)
{
    struct fx *x = fx_new();
    struct command c;

    x->f.may_defer = may_defer_test;
    defer_flag = 1;
    mk_create(&c, T0, "C1", "fault_repair");
    apply_entry(x, 1, &c, 1);
    mk_create(&c, T0 + 1, "C2", "complaint");
    apply_entry(x, 2, &c, 1);
    assert_int_equal(x->f.n_pending, 2);
    assert_int_equal(x->f.n_results, 0);
    assert_int_equal(store_applied_index(x->s), 0);
    assert_int_equal(store_ticket_count(x->s), 0);

    assert_int_equal(fsm_settle(&x->f), 0);
    assert_int_equal(x->f.n_pending, 0);
    assert_int_equal(x->f.pending_bytes, 0);
    assert_int_equal(store_applied_index(x->s), 2);
    assert_int_equal(store_ticket_count(x->s), 2);
    assert_int_equal(x->f.entries_deferred, 2);
    /* Nothing left: settling again changes nothing. */
    assert_int_equal(fsm_settle(&x->f), 0);
    assert_int_equal(store_applied_index(x->s), 2);
    fx_free(x);
}

static void test_immediate_apply_settles_first(void **state)
{
    struct fx *x = fx_new();
    struct command c;
    struct ticket t;
    struct gd_err err;

    x->f.may_defer = may_defer_test;
    defer_flag = 1;
    mk_create(&c, T0, "C1", "fault_repair");
    apply_entry(x, 1, &c, 1);
    /* Leader now: the accept needs the deferred create before it. */
    defer_flag = 0;
    mk_event(&c, T0 + 1, "GD-20251123-0001", EVENT_TICKET_ACCEPT, NULL);
    apply_entry(x, 2, &c, 1);
    assert_int_equal(x->f.n_pending, 0);
    assert_int_equal(x->f.n_results, 1);
    assert_int_equal(x->f.results[0].code, 0);
    assert_int_equal(store_applied_index(x->s), 2);
    ticket_init(&t);
    assert_int_equal(store_ticket_get(x->s, "GD-20251123-0001", &t, &err), 0);
    assert_int_equal(t.status, TICKET_ACCEPTED);
    ticket_clear(&t);
    fx_free(x);
}

static void test_snapshot_and_queue_limit_settle(void **state)
{
    struct fx *x = fx_new();
    struct raft_buffer *bufs = NULL;
    unsigned n_bufs = 0;
    uint64_t idx = 0;
    struct gd_err err;
    struct command c;

    x->f.may_defer = may_defer_test;
    defer_flag = 1;
    for (int i = 0; i < 3; i++) {
        mk_create(&c, T0 + (uint64_t)i, "C1", "consultation");
        apply_entry(x, (uint64_t)i + 1, &c, 1);
    }
    assert_int_equal(x->f.raft_fsm.snapshot(&x->f.raft_fsm, &bufs, &n_bufs),
                     0);
    assert_int_equal(x->f.n_pending, 0); /* settled first */
    assert_int_equal(x->f.raft_fsm.snapshot_async(&x->f.raft_fsm, &bufs,
                                                  &n_bufs),
                     0);
    assert_int_equal(n_bufs, 1);
    assert_int_equal(store_dump_index(bufs[0].base, bufs[0].len, &idx, &err),
                     0);
    assert_int_equal(idx, 3); /* the snapshot holds the deferred entries */
    assert_int_equal(x->f.raft_fsm.snapshot_finalize(&x->f.raft_fsm, &bufs,
                                                     &n_bufs),
                     0);
    assert_null(bufs);

    /* A full queue: the next entry is applied at once, after the queue. */
    for (uint64_t i = 4; i <= 4 + FSM_PENDING_MAX_ENTRIES; i++) {
        static const char junk[] = "\xc1";
        assert_int_equal(fsm_apply_entry(&x->f, i, junk, 1), 0);
    }
    assert_int_equal(x->f.n_pending, 0);
    assert_int_equal(store_applied_index(x->s), 4 + FSM_PENDING_MAX_ENTRIES);
    assert_int_equal(store_ticket_count(x->s), 3);
    fx_free(x);
}

/* raft_fsm version 3: snapshot pins the store at the applied index on the
 * loop, snapshot_async dumps on another thread while the loop applies
 * more, finalize frees everything.  The dump is of the pinned point. */
struct async_arg {
    struct fx *x;
    struct raft_buffer *bufs;
    unsigned n_bufs;
    int rc;
};

static void *run_async(void *p)
{
    struct async_arg *a = p;
    a->rc = a->x->f.raft_fsm.snapshot_async(&a->x->f.raft_fsm, &a->bufs,
                                            &a->n_bufs);
    return NULL;
}

static void test_snapshot_async_is_point_in_time(void **state)
{
    struct fx *x = fx_new(), *y;
    struct async_arg a = {0};
    struct command c;
    pthread_t th;
    uint64_t idx = 0;
    struct gd_err err;
    struct raft_buffer *again = NULL;
    unsigned n_again = 0;

    for (uint64_t i = 1; i <= 3; i++) {
        mk_create(&c, T0 + i, "C1", "fault_repair");
        apply_entry(x, i, &c, 1);
    }
    a.x = x;
    assert_int_equal(x->f.raft_fsm.snapshot(&x->f.raft_fsm, &a.bufs,
                                            &a.n_bufs),
                     0);
    assert_null(a.bufs);
    /* one snapshot at a time */
    assert_int_equal(x->f.raft_fsm.snapshot(&x->f.raft_fsm, &again,
                                            &n_again),
                     RAFT_BUSY);
    assert_int_equal(pthread_create(&th, NULL, run_async, &a), 0);
    for (uint64_t i = 4; i <= 40; i++) { /* the loop goes on */
        mk_create(&c, T0 + i, "C2", "complaint");
        apply_entry(x, i, &c, 1);
    }
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(a.rc, 0);
    assert_int_equal(a.n_bufs, 1);
    assert_int_equal(
        store_dump_index(a.bufs[0].base, a.bufs[0].len, &idx, &err), 0);
    assert_int_equal(idx, 3);
    /* restored elsewhere: exactly the three tickets of entries 1..3 */
    y = fx_new();
    {
        struct raft_buffer copy;
        copy.len = a.bufs[0].len;
        copy.base = raft_malloc(copy.len);
        assert_non_null(copy.base);
        memcpy(copy.base, a.bufs[0].base, copy.len);
        assert_int_equal(y->f.raft_fsm.restore(&y->f.raft_fsm, &copy), 0);
    }
    assert_int_equal(store_applied_index(y->s), 3);
    assert_int_equal(store_ticket_count(y->s), 3);
    assert_int_equal(store_ticket_count(x->s), 40);

    assert_int_equal(x->f.raft_fsm.snapshot_finalize(&x->f.raft_fsm, &a.bufs,
                                                     &a.n_bufs),
                     0);
    assert_null(a.bufs);
    assert_int_equal(x->f.snapshots_taken, 1);
    assert_null(x->f.snap_view);
    fx_free(y);
    fx_free(x);
}

static void test_deferred_replica_identical(void **state)
{
    struct fx *a = fx_new(), *b = fx_new();

    b->f.may_defer = may_defer_test;
    for (uint64_t idx = 1; idx <= 30; idx++) {
        struct command ca[2], cb[2];
        char id[32];
        snprintf(id, sizeof id, "GD-20251123-%04llu",
                 (unsigned long long)(idx + 1) / 2);
        for (int k = 0; k < 2; k++) {
            struct command *c = k ? cb : ca;
            if (idx % 2) {
                mk_create(&c[0], T0 + idx * 10, "C1", "fault_repair");
            } else {
                mk_event(&c[0], T0 + idx * 10, id, EVENT_TICKET_ACCEPT, NULL);
            }
            mk_event(&c[1], T0 + idx * 10 + 1, id, EVENT_TICKET_COMMENT, NULL);
            gd_strdup(&c[1].ev.text, "回访");
        }
        defer_flag = 0;
        apply_entry(a, idx, ca, 2);
        /* b: deferred in runs of varying length, settled now and then,
         * sometimes applied at once. */
        defer_flag = idx % 7 != 0;
        apply_entry(b, idx, cb, 2);
        if (idx % 5 == 0) {
            assert_int_equal(fsm_settle(&b->f), 0);
        }
    }
    assert_int_equal(fsm_settle(&b->f), 0);
    assert_same_store(a->s, b->s);
    assert_int_equal(store_ticket_count(b->s), 15);
    fx_free(a);
    fx_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_then_events_in_one_entry),
        cmocka_unit_test(test_replay_is_skipped),
        cmocka_unit_test(test_refused_command_writes_nothing),
        cmocka_unit_test(test_created_ticket_matches_store),
        cmocka_unit_test(test_garbage_entry_records_index_only),
        cmocka_unit_test(test_replicas_identical),
        cmocka_unit_test(test_deferred_apply_waits_for_settle),
        cmocka_unit_test(test_immediate_apply_settles_first),
        cmocka_unit_test(test_snapshot_and_queue_limit_settle),
        cmocka_unit_test(test_deferred_replica_identical),
        cmocka_unit_test(test_snapshot_async_is_point_in_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
