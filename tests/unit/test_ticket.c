/* Unit tests for core/ticket and core/catalog: every allowed and refused
 * transition, ticket_check and ticket_fold agreeing on every (state, event)
 * pair, fold determinism over permutations and repetitions of an event
 * set, the ticket codec on good and malformed input, and ticket ids around
 * the +08:00 day boundary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "core/catalog.h"
#include "core/error.h"
#include "core/event.h"
#include "core/hlc.h"
#include "core/ticket.h"
#include "core/util.h"

#define TID "ZQ-20261122-0042"

/* ---- helpers --------------------------------------------------------- */

static char **field(struct event *e, const char *name)
{
    static const struct {
        const char *name;
        size_t off;
    } map[] = {
        {"entity", offsetof(struct event, entity)},
        {"actor", offsetof(struct event, actor)},
        {"channel", offsetof(struct event, channel)},
        {"node", offsetof(struct event, node)},
        {"customer", offsetof(struct event, customer)},
        {"cls", offsetof(struct event, cls)},
        {"summary", offsetof(struct event, summary)},
        {"description", offsetof(struct event, description)},
        {"owner", offsetof(struct event, owner)},
        {"text", offsetof(struct event, text)},
        {"status", offsetof(struct event, status)},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].name, name) == 0)
            return (char **)((char *)e + map[i].off);
    fail_msg("no field %s", name);
    return NULL;
}

/* Sets e (initialised) to an event of type at (origin, hlc, counter 0) with
 * entity TID, actor "a1", then name/value pairs (value NULL unsets),
 * terminated by NULL. */
static void mk(struct event *e, int type, const char *origin, uint64_t hlc, ...)
{
    va_list ap;
    const char *name;
    event_clear(e);
    e->type = type;
    strcpy(e->id.origin, origin);
    e->id.hlc = hlc;
    assert_int_equal(gd_strdup(&e->entity, TID), 0);
    assert_int_equal(gd_strdup(&e->actor, "a1"), 0);
    va_start(ap, hlc);
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        assert_int_equal(gd_strdup(field(e, name), v), 0);
    }
    va_end(ap);
}

static void mk_create(struct event *e, const char *origin, uint64_t hlc)
{
    mk(e, EVENT_TICKET_CREATE, origin, hlc, "channel", "hall", "node",
       "ZQ-DH01", "customer", "0301234567", "cls", "fault_repair", "summary",
       "整栋楼停电", "description", "变压器有异响", NULL);
}

static char *enc(const struct ticket *t, size_t *len)
{
    char *buf;
    assert_int_equal(ticket_encode(t, &buf, len), 0);
    return buf;
}

static void assert_tickets_equal(const struct ticket *a, const struct ticket *b)
{
    size_t la, lb;
    char *ba = enc(a, &la), *bb = enc(b, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    free(ba);
    free(bb);
}

/* Folds events into t asserting each is applied. */
static void fold_ok(struct ticket *t, struct event *e)
{
    int rc = ticket_fold(t, e);
    if (rc != TICKET_FOLD_APPLIED)
        fail_msg("fold %s @%llu: %d", event_type_name(e->type),
                 (unsigned long long)e->id.hlc, rc);
}

/* A ticket in the given status, owned by a1 unless from new/closed-early.
 * Uses hlc 100..500; later events should use hlc > 1000. */
static void ticket_at(struct ticket *t, int status)
{
    struct event e;
    event_init(&e);
    ticket_init(t);
    mk_create(&e, "n1", 100);
    fold_ok(t, &e);
    if (status >= TICKET_ACCEPTED) {
        mk(&e, EVENT_TICKET_ACCEPT, "n1", 200, NULL);
        fold_ok(t, &e);
    }
    if (status >= TICKET_IN_PROGRESS) {
        mk(&e, EVENT_TICKET_STATUS, "n1", 300, "status", "in_progress", NULL);
        fold_ok(t, &e);
    }
    if (status >= TICKET_RESOLVED) {
        mk(&e, EVENT_TICKET_STATUS, "n1", 400, "status", "resolved", NULL);
        fold_ok(t, &e);
    }
    if (status >= TICKET_CLOSED) {
        mk(&e, EVENT_TICKET_STATUS, "n1", 500, "status", "closed", NULL);
        fold_ok(t, &e);
    }
    assert_int_equal(t->status, status);
    event_clear(&e);
}

static int check_code(const struct ticket *cur, struct event *e, char *msg,
                      size_t cap)
{
    struct gd_err err = {0, ""};
    int rc = ticket_check(cur, e, &err);
    if (rc != 0) {
        assert_int_equal(err.code, rc);
        assert_true(err.msg[0] != '\0');
        assert_true(gd_utf8_valid(err.msg, strlen(err.msg)));
    }
    if (msg != NULL)
        snprintf(msg, cap, "%s", rc != 0 ? err.msg : "");
    return rc;
}

/* ---- statuses, transitions, catalogue -------------------------------- */

static void test_status_names(void **state)
{
    (void)state;
    static const char *const names[] = {"new", "accepted", "in_progress",
                                        "resolved", "closed"};
    for (int s = 0; s < 5; s++) {
        assert_string_equal(ticket_status_name(s), names[s]);
        assert_int_equal(ticket_status_parse(names[s]), s);
    }
    assert_string_equal(ticket_status_name(5), "unknown");
    assert_string_equal(ticket_status_name(-1), "unknown");
    assert_int_equal(ticket_status_parse("New"), GD_EINVAL);
    assert_int_equal(ticket_status_parse("in progress"), GD_EINVAL);
    assert_int_equal(ticket_status_parse(""), GD_EINVAL);
    assert_int_equal(ticket_status_parse(NULL), GD_EINVAL);
}

static void test_transition_matrix(void **state)
{
    (void)state;
    /* allowed[from][to] */
    static const int allowed[5][5] = {
        /* new */ {0, 1, 0, 0, 1},
        /* accepted */ {0, 0, 1, 1, 0},
        /* in_progress */ {0, 0, 0, 1, 0},
        /* resolved */ {0, 0, 0, 0, 1},
        /* closed */ {0, 0, 0, 0, 0},
    };
    for (int f = -1; f <= 5; f++)
        for (int t = -1; t <= 5; t++) {
            int want = f >= 0 && f < 5 && t >= 0 && t < 5 && allowed[f][t];
            if (ticket_transition_allowed(f, t) != want)
                fail_msg("%d -> %d", f, t);
        }
}

/* Every status event from every status: check agrees with the matrix, the
 * refusal says "cannot go from X to Y", fold applies or counts a conflict. */
static void test_status_events_every_pair(void **state)
{
    (void)state;
    struct event e;
    char msg[GD_ERR_MSG_MAX];
    event_init(&e);
    for (int f = 0; f < 5; f++)
        for (int to = 0; to < 5; to++) {
            struct ticket t;
            ticket_at(&t, f);
            mk(&e, EVENT_TICKET_STATUS, "n2", 2000, "status",
               ticket_status_name(to), "text", "note", NULL);
            int rc = check_code(&t, &e, msg, sizeof msg);
            int fr = ticket_fold(&t, &e);
            if (ticket_transition_allowed(f, to)) {
                assert_int_equal(rc, 0);
                assert_int_equal(fr, TICKET_FOLD_APPLIED);
                assert_int_equal(t.status, to);
                assert_int_equal(t.updated_hlc, 2000);
            } else {
                char want[80];
                snprintf(want, sizeof want, "cannot go from %s to %s",
                         ticket_status_name(f), ticket_status_name(to));
                assert_int_equal(rc, GD_ECONFLICT);
                assert_string_equal(msg, want);
                assert_int_equal(fr, TICKET_FOLD_CONFLICT);
                assert_int_equal(t.status, f);
                assert_int_equal(t.n_conflicts, 1);
            }
            ticket_clear(&t);
        }
    event_clear(&e);
}

static void test_catalog(void **state)
{
    (void)state;
    static const char *const codes[] = {
        "complaint",  "fault_repair", "service_request", "consultation",
        "suggestion", "opinion",      "praise"};
    size_t n;
    const struct catalog_class *all = catalog_classes(&n);
    assert_int_equal(n, 7);
    for (size_t i = 0; i < 7; i++) {
        const struct catalog_class *c = catalog_class_find(codes[i]);
        assert_non_null(c);
        assert_string_equal(c->code, codes[i]);
        assert_true(c->priority >= 1 && c->priority <= 4);
        assert_true(c->response_min > 0);
        assert_true(c->complete_min >= c->response_min);
        assert_true(gd_utf8_valid(c->name_zh, strlen(c->name_zh)));
        assert_true(c >= all && c < all + n);
    }
    const struct catalog_class *fr = catalog_class_find("fault_repair");
    assert_int_equal(fr->priority, 1);
    assert_int_equal(fr->arrival_min, 45);
    assert_string_equal(fr->name_zh, "故障报修");
    assert_string_equal(catalog_class_find("complaint")->name_zh, "投诉");
    assert_int_equal(catalog_class_find("complaint")->arrival_min, 0);
    assert_null(catalog_class_find("Complaint"));
    assert_null(catalog_class_find(""));
    assert_null(catalog_class_find(NULL));

    static const char *const ch[] = {"hotline", "hall", "web",  "app",
                                     "wechat",  "sms",  "field"};
    for (size_t i = 0; i < 7; i++) {
        assert_true(catalog_channel_valid(ch[i]));
        assert_string_equal(catalog_channels()[i], ch[i]);
    }
    assert_null(catalog_channels()[7]);
    assert_false(catalog_channel_valid("email"));
    assert_false(catalog_channel_valid("Hall"));
    assert_false(catalog_channel_valid(""));
    assert_false(catalog_channel_valid(NULL));
}

/* ---- check ----------------------------------------------------------- */

static void test_check_create(void **state)
{
    (void)state;
    struct event e;
    char msg[GD_ERR_MSG_MAX];
    char big[TICKET_DESCRIPTION_MAX + 2];
    event_init(&e);
    mk_create(&e, "n1", 100);
    assert_int_equal(check_code(NULL, &e, msg, sizeof msg), 0);
    /* the id may be unassigned while the command is checked */
    free(e.entity);
    e.entity = NULL;
    assert_int_equal(check_code(NULL, &e, msg, sizeof msg), 0);
    /* each bad field is named */
    static const struct {
        const char *field, *value, *names;
    } bad[] = {
        {"customer", NULL, "customer"},
        {"customer", "", "customer"},
        {"customer",
         "01234567890123456789012345678901234567890123456789012345678901234",
         "customer"},
        {"cls", NULL, "cls"},
        {"cls", "repair", "cls"},
        {"channel", NULL, "channel"},
        {"channel", "email", "channel"},
        {"summary", NULL, "summary"},
        {"summary", "", "summary"},
        {"actor", NULL, "actor"},
        {"actor", "", "actor"},
        {"summary", "\xff", "summary"},
        {"node", "\xc3", "node"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mk_create(&e, "n1", 100);
        assert_int_equal(gd_strdup(field(&e, bad[i].field), bad[i].value), 0);
        if (check_code(NULL, &e, msg, sizeof msg) != GD_EINVAL)
            fail_msg("case %zu accepted", i);
        if (strncmp(msg, bad[i].names, strlen(bad[i].names)) != 0)
            fail_msg("case %zu: message \"%s\" does not name %s", i, msg,
                     bad[i].names);
    }
    /* limits are exact: 200 bytes of summary pass, 201 do not */
    mk_create(&e, "n1", 100);
    memset(big, 'x', sizeof big);
    big[TICKET_SUMMARY_MAX] = '\0';
    assert_int_equal(gd_strdup(&e.summary, big), 0);
    assert_int_equal(check_code(NULL, &e, NULL, 0), 0);
    big[TICKET_SUMMARY_MAX] = 'x';
    big[TICKET_SUMMARY_MAX + 1] = '\0';
    assert_int_equal(gd_strdup(&e.summary, big), 0);
    assert_int_equal(check_code(NULL, &e, msg, sizeof msg), GD_EINVAL);
    assert_non_null(strstr(msg, "summary"));
    /* 200 bytes is 66 Chinese characters (3 bytes each) */
    mk_create(&e, "n1", 100);
    char zh[256] = "";
    for (int i = 0; i < 66; i++)
        strcat(zh, "停");
    assert_int_equal(gd_strdup(&e.summary, zh), 0);
    assert_int_equal(check_code(NULL, &e, NULL, 0), 0);
    strcat(zh, "电");
    assert_int_equal(gd_strdup(&e.summary, zh), 0);
    assert_int_equal(check_code(NULL, &e, NULL, 0), GD_EINVAL);
    /* description 8000 passes, 8001 does not */
    mk_create(&e, "n1", 100);
    memset(big, 'd', sizeof big);
    big[TICKET_DESCRIPTION_MAX] = '\0';
    assert_int_equal(gd_strdup(&e.description, big), 0);
    assert_int_equal(check_code(NULL, &e, NULL, 0), 0);
    big[TICKET_DESCRIPTION_MAX] = 'd';
    big[TICKET_DESCRIPTION_MAX + 1] = '\0';
    assert_int_equal(gd_strdup(&e.description, big), 0);
    assert_int_equal(check_code(NULL, &e, msg, sizeof msg), GD_EINVAL);
    assert_non_null(strstr(msg, "description"));
    /* every class of the catalogue and every channel is accepted */
    size_t n;
    const struct catalog_class *cl = catalog_classes(&n);
    for (size_t i = 0; i < n; i++) {
        mk_create(&e, "n1", 100);
        assert_int_equal(gd_strdup(&e.cls, cl[i].code), 0);
        assert_int_equal(check_code(NULL, &e, NULL, 0), 0);
    }
    for (const char *const *c = catalog_channels(); *c != NULL; c++) {
        mk_create(&e, "n1", 100);
        assert_int_equal(gd_strdup(&e.channel, *c), 0);
        assert_int_equal(check_code(NULL, &e, NULL, 0), 0);
    }
    /* create on an existing ticket */
    struct ticket t;
    ticket_at(&t, TICKET_NEW);
    mk_create(&e, "n2", 2000);
    assert_int_equal(check_code(&t, &e, msg, sizeof msg), GD_ECONFLICT);
    assert_non_null(strstr(msg, "already exists"));
    /* unknown type */
    e.type = 9;
    assert_int_equal(check_code(&t, &e, NULL, 0), GD_EINVAL);
    assert_int_equal(check_code(NULL, &e, NULL, 0), GD_EINVAL);
    ticket_clear(&t);
    event_clear(&e);
}

static void test_check_changes(void **state)
{
    (void)state;
    struct event e;
    struct ticket t;
    char msg[GD_ERR_MSG_MAX];
    event_init(&e);

    /* no ticket: not found, for every non-create type */
    for (int type = EVENT_TICKET_ACCEPT; type <= EVENT_TICKET_REOPEN; type++) {
        mk(&e, type, "n1", 2000, "text", "x", "status", "accepted", NULL);
        assert_int_equal(check_code(NULL, &e, msg, sizeof msg), GD_ENOTFOUND);
        assert_non_null(strstr(msg, TID));
    }

    /* accept: first agent keeps it */
    ticket_at(&t, TICKET_NEW);
    mk(&e, EVENT_TICKET_ACCEPT, "n1", 2000, "actor", "a2", NULL);
    assert_int_equal(check_code(&t, &e, NULL, 0), 0);
    fold_ok(&t, &e);
    assert_string_equal(t.owner, "a2");
    assert_int_equal(t.status, TICKET_ACCEPTED);
    mk(&e, EVENT_TICKET_ACCEPT, "n2", 3000, "actor", "a3", NULL);
    assert_int_equal(check_code(&t, &e, msg, sizeof msg), GD_ECONFLICT);
    assert_non_null(strstr(msg, "a2"));
    assert_int_equal(ticket_fold(&t, &e), TICKET_FOLD_CONFLICT);
    assert_string_equal(t.owner, "a2");
    ticket_clear(&t);
    /* accept on behalf of someone: owner field; oversized owner refused */
    ticket_at(&t, TICKET_NEW);
    mk(&e, EVENT_TICKET_ACCEPT, "n1", 2000, "owner", "lead-assigned", NULL);
    fold_ok(&t, &e);
    assert_string_equal(t.owner, "lead-assigned");
    ticket_clear(&t);
    ticket_at(&t, TICKET_NEW);
    mk(&e, EVENT_TICKET_ACCEPT, "n1", 2000, "owner",
       "01234567890123456789012345678901234567890123456789012345678901234",
       NULL);
    assert_int_equal(check_code(&t, &e, msg, sizeof msg), GD_EINVAL);
    assert_non_null(strstr(msg, "owner"));
    mk(&e, EVENT_TICKET_ACCEPT, "n1", 2000, "owner", "", NULL);
    assert_int_equal(check_code(&t, &e, NULL, 0), GD_EINVAL);
    ticket_clear(&t);

    /* comment: in every status; text required and bounded */
    for (int s = 0; s < 5; s++) {
        ticket_at(&t, s);
        mk(&e, EVENT_TICKET_COMMENT, "n1", 2000, "text", "客户来电催办", NULL);
        assert_int_equal(check_code(&t, &e, NULL, 0), 0);
        mk(&e, EVENT_TICKET_COMMENT, "n1", 2000, NULL);
        assert_int_equal(check_code(&t, &e, msg, sizeof msg), GD_EINVAL);
        assert_non_null(strstr(msg, "text"));
        mk(&e, EVENT_TICKET_COMMENT, "n1", 2000, "text", "", NULL);
        assert_int_equal(check_code(&t, &e, NULL, 0), GD_EINVAL);
        ticket_clear(&t);
    }
    char big[TICKET_TEXT_MAX + 2];
    memset(big, 't', sizeof big);
    big[TICKET_TEXT_MAX + 1] = '\0';
    ticket_at(&t, TICKET_NEW);
    mk(&e, EVENT_TICKET_COMMENT, "n1", 2000, "text", big, NULL);
    assert_int_equal(check_code(&t, &e, NULL, 0), GD_EINVAL);
    big[TICKET_TEXT_MAX] = '\0';
    mk(&e, EVENT_TICKET_COMMENT, "n1", 2000, "text", big, NULL);
    assert_int_equal(check_code(&t, &e, NULL, 0), 0);

    /* status: unknown name, missing name */
    mk(&e, EVENT_TICKET_STATUS, "n1", 2000, "status", "archived", NULL);
    assert_int_equal(check_code(&t, &e, msg, sizeof msg), GD_EINVAL);
    assert_non_null(strstr(msg, "status"));
    mk(&e, EVENT_TICKET_STATUS, "n1", 2000, NULL);
    assert_int_equal(check_code(&t, &e, NULL, 0), GD_EINVAL);
    /* status note over limit */
    mk(&e, EVENT_TICKET_STATUS, "n1", 2000, "status", "closed", "text", big,
       NULL);
    assert_int_equal(check_code(&t, &e, NULL, 0), 0);
    big[TICKET_TEXT_MAX] = 't';
    mk(&e, EVENT_TICKET_STATUS, "n1", 2000, "status", "closed", "text", big,
       NULL);
    assert_int_equal(check_code(&t, &e, NULL, 0), GD_EINVAL);

    /* event for another ticket */
    mk(&e, EVENT_TICKET_COMMENT, "n1", 2000, "text", "x", "entity",
       "ZQ-20261122-0043", NULL);
    assert_int_equal(check_code(&t, &e, msg, sizeof msg), GD_EINVAL);
    assert_non_null(strstr(msg, "entity"));
    /* bad channel on a change; good channel fine */
    mk(&e, EVENT_TICKET_COMMENT, "n1", 2000, "text", "x", "channel", "fax",
       NULL);
    assert_int_equal(check_code(&t, &e, NULL, 0), GD_EINVAL);
    mk(&e, EVENT_TICKET_COMMENT, "n1", 2000, "text", "x", "channel", "wechat",
       NULL);
    assert_int_equal(check_code(&t, &e, NULL, 0), 0);
    /* missing actor */
    mk(&e, EVENT_TICKET_COMMENT, "n1", 2000, "text", "x", "actor", NULL, NULL);
    assert_int_equal(check_code(&t, &e, msg, sizeof msg), GD_EINVAL);
    assert_non_null(strstr(msg, "actor"));
    ticket_clear(&t);
    event_clear(&e);
}

static void test_reopen(void **state)
{
    (void)state;
    struct event e;
    struct ticket t;
    char msg[GD_ERR_MSG_MAX];
    event_init(&e);
    for (int s = 0; s < 5; s++) {
        ticket_at(&t, s);
        mk(&e, EVENT_TICKET_REOPEN, "n1", 2000, "text", "客户反映仍未修好",
           NULL);
        int rc = check_code(&t, &e, msg, sizeof msg);
        if (s == TICKET_RESOLVED || s == TICKET_CLOSED) {
            assert_int_equal(rc, 0);
            fold_ok(&t, &e);
            assert_int_equal(t.status, TICKET_ACCEPTED);
            assert_int_equal(t.n_reopens, 1);
            assert_string_equal(t.owner, "a1"); /* owner keeps it */
        } else {
            assert_int_equal(rc, GD_ECONFLICT);
            assert_non_null(strstr(msg, "reopen"));
            assert_int_equal(ticket_fold(&t, &e), TICKET_FOLD_CONFLICT);
            assert_int_equal(t.status, s);
            assert_int_equal(t.n_reopens, 0);
        }
        /* a reason is required */
        ticket_clear(&t);
        ticket_at(&t, TICKET_CLOSED);
        mk(&e, EVENT_TICKET_REOPEN, "n1", 2000, NULL);
        assert_int_equal(check_code(&t, &e, msg, sizeof msg), GD_EINVAL);
        assert_non_null(strstr(msg, "reason"));
        ticket_clear(&t);
    }
    event_clear(&e);
}

/* ---- fold ------------------------------------------------------------ */

static void test_fold_lifecycle(void **state)
{
    (void)state;
    struct event e;
    struct ticket t;
    event_init(&e);
    ticket_init(&t);
    mk_create(&e, "ZQ-DH01", hlc_pack(1795306530123ULL, 0));
    fold_ok(&t, &e);
    assert_string_equal(t.id, TID);
    assert_string_equal(t.customer, "0301234567");
    assert_string_equal(t.cls, "fault_repair");
    assert_string_equal(t.channel, "hall");
    assert_string_equal(t.summary, "整栋楼停电");
    assert_string_equal(t.description, "变压器有异响");
    assert_string_equal(t.created_by, "a1");
    assert_string_equal(t.node, "ZQ-DH01");
    assert_null(t.owner);
    assert_int_equal(t.status, TICKET_NEW);
    assert_int_equal(t.created_hlc, hlc_pack(1795306530123ULL, 0));
    assert_int_equal(t.updated_hlc, t.created_hlc);
    assert_int_equal(t.n_events, 1);
    /* duplicate: no-op */
    assert_int_equal(ticket_fold(&t, &e), TICKET_FOLD_DUPLICATE);
    assert_int_equal(t.n_events, 1);
    assert_int_equal(t.n_conflicts, 0);

    uint64_t h = t.created_hlc;
    mk(&e, EVENT_TICKET_ACCEPT, "n1", h + 1, "actor", "a7", NULL);
    fold_ok(&t, &e);
    mk(&e, EVENT_TICKET_COMMENT, "n1", h + 2, "text", "已派工", NULL);
    fold_ok(&t, &e);
    mk(&e, EVENT_TICKET_STATUS, "n1", h + 3, "status", "in_progress", NULL);
    fold_ok(&t, &e);
    mk(&e, EVENT_TICKET_STATUS, "n1", h + 4, "status", "resolved", NULL);
    fold_ok(&t, &e);
    mk(&e, EVENT_TICKET_STATUS, "n1", h + 5, "status", "closed", NULL);
    fold_ok(&t, &e);
    mk(&e, EVENT_TICKET_REOPEN, "n1", h + 6, "text", "又停了", NULL);
    fold_ok(&t, &e);
    assert_int_equal(t.status, TICKET_ACCEPTED);
    assert_string_equal(t.owner, "a7");
    assert_int_equal(t.n_events, 7);
    assert_int_equal(t.n_reopens, 1);
    assert_int_equal(t.updated_hlc, h + 6);
    assert_int_equal(t.created_hlc, h);
    assert_int_equal(t.last_event.hlc, h + 6);
    /* an older event arriving late is treated as already folded */
    mk(&e, EVENT_TICKET_COMMENT, "n0", h + 2, "text", "late", NULL);
    assert_int_equal(ticket_fold(&t, &e), TICKET_FOLD_DUPLICATE);
    ticket_clear(&t);
    event_clear(&e);
}

static void test_fold_before_create(void **state)
{
    (void)state;
    struct event e;
    struct ticket t;
    event_init(&e);
    ticket_init(&t);
    /* a comment for a ticket we have no create for: visible conflict */
    mk(&e, EVENT_TICKET_COMMENT, "n1", 50, "text", "x", NULL);
    assert_int_equal(ticket_fold(&t, &e), TICKET_FOLD_CONFLICT);
    assert_int_equal(t.n_conflicts, 1);
    assert_int_equal(t.n_events, 0);
    assert_null(t.id);
    assert_int_equal(ticket_fold(&t, &e), TICKET_FOLD_DUPLICATE);
    assert_int_equal(t.n_conflicts, 1);
    mk_create(&e, "n1", 100);
    fold_ok(&t, &e);
    assert_string_equal(t.id, TID);
    /* a second create (same id from elsewhere) conflicts */
    mk_create(&e, "n2", 200);
    free(e.summary);
    e.summary = NULL;
    assert_int_equal(gd_strdup(&e.summary, "other"), 0);
    assert_int_equal(ticket_fold(&t, &e), TICKET_FOLD_CONFLICT);
    assert_string_equal(t.summary, "整栋楼停电");
    assert_int_equal(t.n_conflicts, 2);
    assert_int_equal(t.last_event.hlc, 200);
    assert_int_equal(t.updated_hlc, 100); /* conflicts do not update */
    ticket_clear(&t);
    event_clear(&e);
}

static void test_status_accepted_sets_owner(void **state)
{
    (void)state;
    struct event e;
    struct ticket t;
    event_init(&e);
    ticket_at(&t, TICKET_NEW);
    mk(&e, EVENT_TICKET_STATUS, "n1", 2000, "status", "accepted", "actor", "a9",
       NULL);
    fold_ok(&t, &e);
    assert_int_equal(t.status, TICKET_ACCEPTED);
    assert_string_equal(t.owner, "a9");
    ticket_clear(&t);
    /* new -> closed, reopen: accepted without owner; accept then works and
     * does not change the status */
    ticket_at(&t, TICKET_NEW);
    mk(&e, EVENT_TICKET_STATUS, "n1", 2000, "status", "closed", "text",
       "重复工单", NULL);
    fold_ok(&t, &e);
    assert_null(t.owner);
    mk(&e, EVENT_TICKET_REOPEN, "n1", 2001, "text", "不是重复", NULL);
    fold_ok(&t, &e);
    assert_int_equal(t.status, TICKET_ACCEPTED);
    assert_null(t.owner);
    mk(&e, EVENT_TICKET_ACCEPT, "n1", 2002, "actor", "a4", NULL);
    fold_ok(&t, &e);
    assert_int_equal(t.status, TICKET_ACCEPTED);
    assert_string_equal(t.owner, "a4");
    ticket_clear(&t);
    event_clear(&e);
}

/* A spread of candidate events, good and bad, to try on every state. */
static void candidate(struct event *e, int i, uint64_t hlc)
{
    static const char *const statuses[] = {
        "new", "accepted", "in_progress", "resolved", "closed", "bogus"};
    switch (i) {
    case 0: mk_create(e, "n2", hlc); break;
    case 1: mk(e, EVENT_TICKET_CREATE, "n2", hlc, NULL); break;
    case 2: mk(e, EVENT_TICKET_ACCEPT, "n2", hlc, "actor", "b1", NULL); break;
    case 3: mk(e, EVENT_TICKET_ACCEPT, "n2", hlc, "owner", "", NULL); break;
    case 4: mk(e, EVENT_TICKET_COMMENT, "n2", hlc, "text", "c", NULL); break;
    case 5: mk(e, EVENT_TICKET_COMMENT, "n2", hlc, NULL); break;
    case 6: mk(e, EVENT_TICKET_REOPEN, "n2", hlc, "text", "r", NULL); break;
    case 7: mk(e, EVENT_TICKET_REOPEN, "n2", hlc, NULL); break;
    case 8:
        mk(e, EVENT_TICKET_COMMENT, "n2", hlc, "text", "c", "entity", "other",
           NULL);
        break;
    case 9: mk(e, EVENT_TICKET_COMMENT, "n2", hlc, "actor", NULL, NULL); break;
    case 10:
        mk(e, EVENT_TICKET_COMMENT, "n2", hlc, "text", "c", "channel", "x",
           NULL);
        break;
    case 11: mk(e, 9, "n2", hlc, NULL); break;
    case 12: mk(e, EVENT_TICKET_STATUS, "n2", hlc, NULL); break;
    default:
        mk(e, EVENT_TICKET_STATUS, "n2", hlc, "status", statuses[i - 13], NULL);
        break;
    }
}
#define N_CANDIDATES 19

/* ticket_check and ticket_fold agree on every (state, event) pair, and a
 * refused event changes nothing but the conflict count and last_event. */
static void test_check_fold_consistency(void **state)
{
    (void)state;
    struct event e;
    event_init(&e);
    /* states: none, each status, and closed/accepted without owner */
    for (int s = -1; s < 7; s++) {
        for (int c = 0; c < N_CANDIDATES; c++) {
            struct ticket t, before;
            ticket_init(&before);
            if (s >= 0 && s < 5) {
                ticket_at(&t, s);
            } else {
                ticket_init(&t);
                if (s >= 5) {
                    struct event x;
                    event_init(&x);
                    mk_create(&x, "n1", 100);
                    fold_ok(&t, &x);
                    mk(&x, EVENT_TICKET_STATUS, "n1", 200, "status", "closed",
                       NULL);
                    fold_ok(&t, &x);
                    if (s == 6) {
                        mk(&x, EVENT_TICKET_REOPEN, "n1", 300, "text", "r",
                           NULL);
                        fold_ok(&t, &x);
                    }
                    event_clear(&x);
                }
            }
            candidate(&e, c, 5000);
            assert_int_equal(ticket_copy(&before, &t), 0);
            int rc = ticket_check(t.n_events > 0 ? &t : NULL, &e, NULL);
            int fr = ticket_fold(&t, &e);
            if (rc == 0) {
                if (fr != TICKET_FOLD_APPLIED)
                    fail_msg("state %d cand %d: check ok, fold %d", s, c, fr);
                assert_int_equal(t.n_events, before.n_events + 1);
                assert_int_equal(t.updated_hlc, 5000);
            } else {
                if (fr != TICKET_FOLD_CONFLICT)
                    fail_msg("state %d cand %d: check %d, fold %d", s, c, rc,
                             fr);
                assert_int_equal(t.n_conflicts, before.n_conflicts + 1);
                assert_int_equal(t.last_event.hlc, 5000);
                /* put the two bookkeeping fields back: the rest is equal */
                t.n_conflicts--;
                t.last_event = before.last_event;
                assert_tickets_equal(&t, &before);
            }
            ticket_clear(&t);
            ticket_clear(&before);
        }
    }
    event_clear(&e);
}

/* ---- fold_all determinism ------------------------------------------- */

/* A week in the life of one ticket, with concurrent conflicting work at
 * the hall (offline) and the centre. */
#define N_SCENARIO 8
static void scenario(struct event *ev)
{
    for (int i = 0; i < N_SCENARIO; i++)
        event_init(&ev[i]);
    mk_create(&ev[0], "ZQ-DH01", 100);
    mk(&ev[1], EVENT_TICKET_ACCEPT, "n1", 200, "actor", "centre-a1", NULL);
    mk(&ev[2], EVENT_TICKET_ACCEPT, "ZQ-DH01", 200, "actor", "hall-h1",
       NULL); /* same hlc, other origin: a conflict either way */
    mk(&ev[3], EVENT_TICKET_COMMENT, "ZQ-DH01", 300, "text", "现场查看", NULL);
    mk(&ev[4], EVENT_TICKET_STATUS, "n1", 400, "status", "in_progress", NULL);
    mk(&ev[5], EVENT_TICKET_STATUS, "ZQ-DH01", 400, "status", "closed",
       NULL); /* closed at the hall while in progress at the centre */
    mk(&ev[6], EVENT_TICKET_STATUS, "n1", 500, "status", "resolved", NULL);
    mk(&ev[7], EVENT_TICKET_REOPEN, "n2", 600, "text", "回访不满意", NULL);
}

static void swap_ev(struct event *a, struct event *b)
{
    struct event t = *a;
    *a = *b;
    *b = t;
}

/* Heap's algorithm over all permutations. */
static void permute(struct event *ev, int k, const char *want, size_t wlen,
                    unsigned *count)
{
    if (k == 1) {
        struct ticket t;
        size_t len;
        ticket_init(&t);
        assert_int_equal(ticket_fold_all(&t, ev, N_SCENARIO), 0);
        char *buf = enc(&t, &len);
        assert_int_equal(len, wlen);
        assert_memory_equal(buf, want, len);
        free(buf);
        ticket_clear(&t);
        (*count)++;
        return;
    }
    for (int i = 0; i < k - 1; i++) {
        permute(ev, k - 1, want, wlen, count);
        swap_ev(&ev[k % 2 == 0 ? i : 0], &ev[k - 1]);
    }
    permute(ev, k - 1, want, wlen, count);
}

static void test_fold_all_every_permutation(void **state)
{
    (void)state;
    struct event ev[N_SCENARIO];
    struct ticket ref, seq;
    size_t wlen;
    unsigned count = 0;
    scenario(ev);
    ticket_init(&ref);
    assert_int_equal(ticket_fold_all(&ref, ev, N_SCENARIO), 0);
    /* what the scenario folds to, spelled out */
    /* equal hlc: "ZQ-DH01" < "n1" in strcmp, so the hall's accept wins and
     * the hall's close (accepted -> closed) is the conflict */
    assert_string_equal(ref.owner, "hall-h1");
    assert_int_equal(ref.status, TICKET_ACCEPTED);
    assert_int_equal(ref.n_events, 6);
    assert_int_equal(ref.n_conflicts, 2);
    assert_int_equal(ref.n_reopens, 1);
    assert_int_equal(ref.last_event.hlc, 600);
    /* equal to folding in id order by hand */
    ticket_init(&seq);
    int order[] = {0, 2, 1, 3, 5, 4, 6, 7};
    int want_rc[] = {0, 0, 2, 0, 2, 0, 0, 0};
    for (int i = 0; i < N_SCENARIO; i++)
        assert_int_equal(ticket_fold(&seq, &ev[order[i]]), want_rc[i]);
    char *want = enc(&ref, &wlen);
    assert_tickets_equal(&ref, &seq);
    permute(ev, N_SCENARIO, want, wlen, &count);
    assert_int_equal(count, 40320);
    free(want);
    ticket_clear(&ref);
    ticket_clear(&seq);
    for (int i = 0; i < N_SCENARIO; i++)
        event_clear(&ev[i]);
}

static void test_fold_all_repetitions(void **state)
{
    (void)state;
    struct event ev[N_SCENARIO], big[64];
    struct ticket ref, t;
    size_t wlen;
    uint64_t seed = 7;
    scenario(ev);
    ticket_init(&ref);
    ticket_init(&t);
    assert_int_equal(ticket_fold_all(&ref, ev, N_SCENARIO), 0);
    char *want = enc(&ref, &wlen);
    for (int trial = 0; trial < 3000; trial++) {
        /* every event at least once, then random repeats, shuffled */
        size_t n = N_SCENARIO;
        for (int i = 0; i < N_SCENARIO; i++)
            big[i] = ev[i];
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t extra = (size_t)(seed >> 33) % (64 - N_SCENARIO);
        for (size_t i = 0; i < extra; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            big[n++] = ev[(seed >> 33) % N_SCENARIO];
        }
        for (size_t i = n - 1; i > 0; i--) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t j = (size_t)(seed >> 33) % (i + 1);
            struct event x = big[i];
            big[i] = big[j];
            big[j] = x;
        }
        /* big[] holds shallow copies; fold_all only reads */
        assert_int_equal(ticket_fold_all(&t, big, n), 0);
        size_t len;
        char *buf = enc(&t, &len);
        assert_int_equal(len, wlen);
        assert_memory_equal(buf, want, len);
        free(buf);
    }
    /* a subset gives a different, but equally deterministic, state */
    assert_int_equal(ticket_fold_all(&t, ev + 1, N_SCENARIO - 1), 0);
    assert_int_equal(t.n_events, 0); /* no create: all conflicts */
    assert_int_equal(t.n_conflicts, N_SCENARIO - 1);
    /* empty set: empty ticket */
    assert_int_equal(ticket_fold_all(&t, NULL, 0), 0);
    struct ticket empty;
    ticket_init(&empty);
    assert_tickets_equal(&t, &empty);
    free(want);
    ticket_clear(&ref);
    ticket_clear(&t);
    for (int i = 0; i < N_SCENARIO; i++)
        event_clear(&ev[i]);
}

/* Two different events wrongly given the same id resolve the same way
 * whatever the order. */
static void test_fold_all_id_collision(void **state)
{
    (void)state;
    struct event ev[3], rev[3];
    struct ticket a, b;
    for (int i = 0; i < 3; i++)
        event_init(&ev[i]);
    mk_create(&ev[0], "n1", 100);
    mk(&ev[1], EVENT_TICKET_ACCEPT, "n1", 200, "actor", "x1", NULL);
    mk(&ev[2], EVENT_TICKET_ACCEPT, "n1", 200, "actor", "x2", NULL);
    rev[0] = ev[2];
    rev[1] = ev[1];
    rev[2] = ev[0];
    ticket_init(&a);
    ticket_init(&b);
    assert_int_equal(ticket_fold_all(&a, ev, 3), 0);
    assert_int_equal(ticket_fold_all(&b, rev, 3), 0);
    assert_tickets_equal(&a, &b);
    assert_string_equal(a.owner, "x1"); /* the smaller content wins */
    ticket_clear(&a);
    ticket_clear(&b);
    for (int i = 0; i < 3; i++)
        event_clear(&ev[i]);
}

/* ---- codec ----------------------------------------------------------- */

static void test_ticket_codec_roundtrip(void **state)
{
    (void)state;
    struct ticket t, u, c;
    struct gd_err err = {0, ""};
    size_t len;
    ticket_at(&t, TICKET_CLOSED);
    t.n_conflicts = 3;
    t.n_reopens = UINT32_MAX;
    t.created_hlc = UINT64_MAX;
    ticket_init(&u);
    char *buf = enc(&t, &len);
    assert_int_equal(ticket_decode(buf, len, &u, &err), 0);
    assert_tickets_equal(&t, &u);
    assert_string_equal(u.summary, "整栋楼停电");
    assert_int_equal(u.n_reopens, UINT32_MAX);
    /* decoding into a used ticket replaces it */
    assert_int_equal(ticket_decode(buf, len, &u, &err), 0);
    assert_tickets_equal(&t, &u);
    /* copy */
    ticket_init(&c);
    assert_int_equal(ticket_copy(&c, &t), 0);
    assert_tickets_equal(&t, &c);
    assert_ptr_not_equal(c.summary, t.summary);
    assert_int_equal(ticket_copy(&c, &u), 0); /* old contents freed */
    free(buf);
    /* empty ticket round trip */
    ticket_clear(&t);
    buf = enc(&t, &len);
    assert_int_equal(ticket_decode(buf, len, &u, &err), 0);
    assert_tickets_equal(&t, &u);
    free(buf);
    /* encode refuses what decode would */
    t.status = 5;
    assert_int_equal(ticket_encode(&t, &buf, &len), GD_EINVAL);
    t.status = 0;
    strcpy(t.last_event.origin, "a/b");
    assert_int_equal(ticket_encode(&t, &buf, &len), GD_EINVAL);
    ticket_clear(&t);
    ticket_clear(&u);
    ticket_clear(&c);
}

static void assert_ticket_cleared(const struct ticket *t)
{
    struct ticket z;
    ticket_init(&z);
    assert_memory_equal(t, &z, sizeof z);
}

static int ticket_decode_corrupt(const char *buf, size_t len)
{
    struct ticket t;
    struct gd_err err = {0, ""};
    ticket_at(&t, TICKET_RESOLVED); /* must be freed by a failing decode */
    int rc = ticket_decode(buf, len, &t, &err);
    if (rc != GD_ECORRUPT) {
        ticket_clear(&t);
        return rc == 0 ? 1 : rc;
    }
    assert_ticket_cleared(&t);
    assert_true(err.msg[0] != '\0');
    return 0;
}

static void test_ticket_codec_malformed(void **state)
{
    (void)state;
    struct ticket t;
    size_t len;
    ticket_at(&t, TICKET_RESOLVED);
    char *buf = enc(&t, &len);
    /* truncated at every offset */
    for (size_t cut = 0; cut < len; cut++) {
        char *p = malloc(cut ? cut : 1);
        memcpy(p, buf, cut);
        if (ticket_decode_corrupt(cut ? p : NULL, cut) != 0)
            fail_msg("truncated at %zu decoded", cut);
        free(p);
    }
    /* trailing bytes */
    char *p = malloc(len + 1);
    memcpy(p, buf, len);
    p[len] = 0;
    assert_int_equal(ticket_decode_corrupt(p, len + 1), 0);
    free(p);
    /* element by element: replace each with wrong-typed values */
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, buf, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    uint32_t n = u.data.via.array.size;
    assert_int_equal(n, 17);
    for (uint32_t k = 0; k < n; k++) {
        for (int variant = 0; variant < 3; variant++) {
            msgpack_sbuffer sb;
            msgpack_packer pk;
            msgpack_sbuffer_init(&sb);
            msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
            msgpack_pack_array(&pk, n);
            for (uint32_t i = 0; i < n; i++) {
                if (i != k) {
                    msgpack_pack_object(&pk, u.data.via.array.ptr[i]);
                } else if (variant == 0) {
                    msgpack_pack_double(&pk, 1.5);
                } else if (variant == 1) {
                    msgpack_pack_int(&pk, -1);
                } else {
                    msgpack_pack_array(&pk, 0);
                }
            }
            if (ticket_decode_corrupt(sb.data, sb.size) != 0)
                fail_msg("element %u variant %d decoded", k, variant);
            msgpack_sbuffer_destroy(&sb);
        }
    }
    msgpack_unpacked_destroy(&u);
    /* specific bad values: version 2, status 5, 16 and 18 elements */
    static const unsigned char v2[] = {0xdc, 0x00, 0x11, 0x02};
    assert_int_equal(ticket_decode_corrupt((const char *)v2, sizeof v2), 0);
    char *q = malloc(len);
    memcpy(q, buf, len);
    assert_int_equal((unsigned char)q[0], 0xdc); /* array16: 17 elements */
    assert_int_equal(q[3], 1);
    q[3] = 0x02; /* the version */
    assert_int_equal(ticket_decode_corrupt(q, len), 0);
    free(q);
    free(buf);
    ticket_clear(&t);
    /* status out of range */
    {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, 17);
        msgpack_pack_uint32(&pk, 1);
        for (int i = 0; i < 9; i++)
            msgpack_pack_nil(&pk);
        msgpack_pack_uint32(&pk, 5);
        msgpack_pack_uint64(&pk, 0);
        msgpack_pack_uint64(&pk, 0);
        msgpack_pack_array(&pk, 3);
        msgpack_pack_str(&pk, 0);
        msgpack_pack_uint64(&pk, 0);
        msgpack_pack_uint32(&pk, 0);
        for (int i = 0; i < 3; i++)
            msgpack_pack_uint32(&pk, 0);
        assert_int_equal(ticket_decode_corrupt(sb.data, sb.size), 0);
        /* the same with status 4 decodes: the template is right */
        struct ticket ok;
        ticket_init(&ok);
        ((char *)sb.data)[13] = 4; /* 3 header + version + 9 nils */
        assert_int_equal(ticket_decode(sb.data, sb.size, &ok, NULL), 0);
        assert_int_equal(ok.status, TICKET_CLOSED);
        ticket_clear(&ok);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* ---- ids ------------------------------------------------------------- */

static void test_ticket_id_format(void **state)
{
    (void)state;
    char out[64];
    /* 2026-11-22 00:00:00.000 +08:00 is 2026-11-21T16:00:00Z */
    const uint64_t midnight = 1795276800000ULL;
    ticket_id_format(out, sizeof out, "ZQ", hlc_pack(midnight, 3), 42);
    assert_string_equal(out, "ZQ-20261122-0042");
    ticket_id_format(out, sizeof out, "ZQ", hlc_pack(midnight - 1, 0xffff), 42);
    assert_string_equal(out, "ZQ-20261121-0042");
    /* 23:59 UTC is already the next day in Beijing */
    ticket_id_format(out, sizeof out, "ZQ-DH01",
                     hlc_pack(midnight + 8 * 3600000ULL - 60000, 0), 1);
    assert_string_equal(out, "ZQ-DH01-20261122-0001");
    ticket_id_format(out, sizeof out, "n1", hlc_pack(midnight, 0), 12345);
    assert_string_equal(out, "n1-20261122-12345");
    ticket_id_format(out, sizeof out, "n1", 0, 0);
    assert_string_equal(out, "n1-19700101-0000");
    ticket_id_format(out, sizeof out, "n1", UINT64_MAX, UINT32_MAX);
    assert_non_null(strstr(out, "-4294967295"));
    /* truncation is safe */
    char small[6];
    ticket_id_format(small, sizeof small, "ZQ", hlc_pack(midnight, 0), 42);
    assert_string_equal(small, "ZQ-20");
    ticket_id_format(small, 0, "ZQ", 0, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_transition_matrix),
        cmocka_unit_test(test_status_events_every_pair),
        cmocka_unit_test(test_catalog),
        cmocka_unit_test(test_check_create),
        cmocka_unit_test(test_check_changes),
        cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_fold_lifecycle),
        cmocka_unit_test(test_fold_before_create),
        cmocka_unit_test(test_status_accepted_sets_owner),
        cmocka_unit_test(test_check_fold_consistency),
        cmocka_unit_test(test_fold_all_every_permutation),
        cmocka_unit_test(test_fold_all_repetitions),
        cmocka_unit_test(test_fold_all_id_collision),
        cmocka_unit_test(test_ticket_codec_roundtrip),
        cmocka_unit_test(test_ticket_codec_malformed),
        cmocka_unit_test(test_ticket_id_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
