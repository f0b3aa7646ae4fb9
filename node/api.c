/* The agent API: routes, authentication, forwarding of writes to the
 * leader, and the mapping of GD_ codes to HTTP statuses.  Reads are served
 * from the local store; writes become commands proposed through Raft and
 * are answered once applied (rnode.h). */
#include <ctype.h>
#include <http_parser.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <time.h>

#include "consensus/segfill.h"
#include "core/catalog.h"
#include "core/command.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "core/ticket.h"
#include "core/util.h"
#include "node/api_int.h"
#include "node/jsonio.h"
#include "node/node.h"
#include "node/views.h"
#include "search/search.h"
#include "storage/records.h"
#include "storage/tickets.h"

#define TOKEN_TTL_S (12 * 3600)
#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 1000
#define FORWARD_TIMEOUT_MS 15000
#define STATUS_PEER_TIMEOUT_MS 500

/* Route templates: static strings, also the metrics' route label. */
static const char R_HEALTH[] = "/healthz";
static const char R_METRICS[] = "/metrics";
static const char R_LOGIN[] = "/v1/login";
static const char R_TICKETS[] = "/v1/tickets";
static const char R_TICKET[] = "/v1/tickets/{id}";
static const char R_EVENTS[] = "/v1/tickets/{id}/events";
static const char R_STATUS[] = "/v1/cluster/status";
static const char R_MEMBERS[] = "/v1/cluster/members";
static const char R_MEMBER[] = "/v1/cluster/members/{id}";
static const char R_ANNOUNCE[] = "/v1/cluster/announce";
static const char R_OTHER[] = "other";

static uint64_t now_unix(void)
{
    return (uint64_t)time(NULL);
}

int api_status_for(int code)
{
    switch (code) {
    case 0: return 200;
    case GD_EINVAL: return 400;
    case GD_EAUTH: return 401;
    case GD_EPERM: return 403;
    case GD_ENOTFOUND: return 404;
    case GD_ECONFLICT: return 409;
    case GD_ETOOBIG: return 413;
    case GD_EUNAVAIL: return 503;
    default: return 500;
    }
}

/* Sends a response, records it in the metrics and frees the context. */
void send_raw(struct ctx *c, int status, const char *ctype,
                     const char *body, size_t len)
{
    double s = (double)(uv_hrtime() - c->req->start_ns) / 1e9;
    metrics_observe(&c->n->metrics, c->route, status, s);
    http_respond(c->req, status, ctype, body, len, NULL);
    member_rec_clear(&c->member);
    json_decref(c->status);
    free(c);
}

/* Sends v (reference stolen) as JSON. */
void send_json(struct ctx *c, int status, json_t *v)
{
    struct strbuf b;

    strbuf_init(&b);
    strbuf_reserve(&b, 2048); /* a ticket with a few events, in one go */
    if (v == NULL || view_dump(v, &b) != 0) {
        static const char oom[] = "{\"error\":{\"code\":\"no_memory\","
                                  "\"message\":\"out of memory\"}}";
        send_raw(c, 500, "application/json", oom, sizeof oom - 1);
    } else {
        send_raw(c, status, "application/json", b.s, b.len);
    }
    strbuf_free(&b);
    json_decref(v);
}

void send_error(struct ctx *c, int code, const char *fmt, ...)
{
    char msg[GD_ERR_MSG_MAX + 64];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    send_json(c, api_status_for(code),
              json_pack("{s:{s:s,s:s}}", "error", "code", gd_code_name(code),
                        "message", msg));
}

/* ---- request parsing helpers ---------------------------------------- */

/* Parses the body as a JSON object; on failure answers 400, NULL. */
json_t *body_object(struct ctx *c)
{
    json_error_t jerr;
    json_t *v;

    if (c->req->body_len == 0) {
        send_error(c, GD_EINVAL, "request body must be a JSON object");
        return NULL;
    }
    v = jsonio_load(c->req->body, c->req->body_len, JSON_REJECT_DUPLICATES,
                    &jerr);
    if (v == NULL) {
        send_error(c, GD_EINVAL, "malformed JSON at line %d column %d: %s",
                   jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        send_error(c, GD_EINVAL, "request body must be a JSON object");
        return NULL;
    }
    return v;
}

/* Refuses keys not in allowed (NULL-terminated): 0, or -1 (answered). */
int only_keys(struct ctx *c, json_t *o, const char *const *allowed)
{
    const char *key;
    json_t *val;

    json_object_foreach(o, key, val)
    {
        int ok = 0;
        (void)val;
        for (const char *const *a = allowed; *a; a++) {
            if (strcmp(*a, key) == 0) {
                ok = 1;
                break;
            }
        }
        if (!ok) {
            send_error(c, GD_EINVAL, "unknown field \"%s\"", key);
            return -1;
        }
    }
    return 0;
}

/* A string field; *out NULL when absent/null and optional.  0, or -1
 * (answered 400: wrong type, missing, NUL inside). */
int get_str(struct ctx *c, json_t *o, const char *key, int required,
                   const char **out)
{
    json_t *v = json_object_get(o, key);

    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (required) {
            send_error(c, GD_EINVAL, "missing field \"%s\"", key);
            return -1;
        }
        return 0;
    }
    if (!json_is_string(v)) {
        send_error(c, GD_EINVAL, "field \"%s\" must be a string", key);
        return -1;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        send_error(c, GD_EINVAL, "field \"%s\" contains a NUL byte", key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* Parses a decimal id > 0 from a path segment; 0 when not one. */
static uint64_t parse_id(const char *s)
{
    char *end;
    unsigned long long v;

    if (s == NULL || !isdigit((unsigned char)s[0])) {
        return 0;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return 0;
    }
    return v;
}

/* Splits a path into up to max segments, NUL-terminated in buf.  Returns
 * the count, or -1 when the path is too long or has more segments. */
static int path_split(const char *path, char *buf, size_t cap, char **seg,
                      int max)
{
    size_t len = strlen(path);
    int k = 0;
    char *p;

    if (len >= cap) {
        return -1;
    }
    memcpy(buf, path, len + 1);
    p = buf;
    while (*p != '\0') {
        char *slash;
        while (*p == '/') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        if (k == max) {
            return -1;
        }
        seg[k++] = p;
        slash = strchr(p, '/');
        if (slash == NULL) {
            break;
        }
        *slash = '\0';
        p = slash + 1;
    }
    return k;
}

/* ---- authentication -------------------------------------------------- */

/* Fills c->user/role from the bearer token: 0, or -1 (answered). */
static int authenticate(struct ctx *c)
{
    struct gd_node *n = c->n;
    const char *h = http_request_header(c->req, "Authorization");

    if (!n->have_secret && cluster_load_secret(n) != 0) {
        send_error(c, GD_EUNAVAIL, "cluster not initialised yet (no leader "
                                   "has started it); retry");
        return -1;
    }
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
        send_error(c, GD_EAUTH, "missing \"Authorization: Bearer TOKEN\" "
                                "(get one with POST /v1/login)");
        return -1;
    }
    h += 7;
    while (*h == ' ') {
        h++;
    }
    if (auth_token_check_cached(&n->tokens, n->secret, h, now_unix(),
                                c->user, c->role) != 0) {
        send_error(c, GD_EAUTH, "invalid or expired token; log in again");
        return -1;
    }
    return 0;
}

static int require_admin(struct ctx *c)
{
    if (strcmp(c->role, "admin") != 0 && strcmp(c->role, "node") != 0) {
        send_error(c, GD_EPERM, "role %s may not change the cluster",
                   c->role);
        return -1;
    }
    return 0;
}

/* ---- forwarding to the leader ---------------------------------------- */

#define FWD_WAIT_MS 2000

struct fwd_waiter {
    struct ctx *c;
    uint64_t index;
    uint64_t deadline_ns;
    int status;
    char *ctype;
    char *body;
    size_t len;
    struct fwd_waiter *next;
};

static void waiter_release(struct fwd_waiter *w)
{
    send_raw(w->c, w->status, w->ctype, w->body, w->len);
    free(w->ctype);
    free(w->body);
    free(w);
}

/* Releases the waiters whose index is applied here (or that waited too
 * long: the write is committed either way; only visibility here lags). */
static void waiters_run(struct gd_node *n, int force)
{
    struct fwd_waiter **pp = &n->waiters;
    uint64_t applied, now = uv_hrtime();

    if (!force) {
        fsm_settle(rnode_fsm(n->rn)); /* entries a follower deferred */
    }
    applied = store_applied_index(n->store);

    while (*pp != NULL) {
        struct fwd_waiter *w = *pp;
        if (force || w->index <= applied || now >= w->deadline_ns) {
            *pp = w->next;
            waiter_release(w);
        } else {
            pp = &w->next;
        }
    }
    if (n->waiters == NULL) {
        uv_check_stop(&n->waiters_check);
        uv_timer_stop(&n->waiters_timer);
    }
}

static void waiters_check_cb(uv_check_t *h)
{
    waiters_run(h->data, 0);
}

static void waiters_timer_cb(uv_timer_t *t)
{
    waiters_run(t->data, 0);
}

void api_waiters_start(struct gd_node *n)
{
    uv_check_init(n->loop, &n->waiters_check);
    n->waiters_check.data = n;
    uv_timer_init(n->loop, &n->waiters_timer);
    n->waiters_timer.data = n;
}

void api_waiters_stop(struct gd_node *n)
{
    waiters_run(n, 1);
    uv_close((uv_handle_t *)&n->waiters_check, NULL);
    uv_close((uv_handle_t *)&n->waiters_timer, NULL);
}

/* The applied_index of a JSON answer from the leader, or 0. */
static uint64_t body_applied_index(const char *body, size_t len)
{
    json_t *v = json_loadb(body, len, 0, NULL);
    json_t *ai = v ? json_object_get(v, "applied_index") : NULL;
    uint64_t idx = json_is_integer(ai) ? (uint64_t)json_integer_value(ai) : 0;
    json_decref(v);
    return idx;
}

static void forward_cb(void *data, int status, const char *ctype,
                       const char *body, size_t len)
{
    struct ctx *c = data;
    struct gd_node *n = c->n;
    struct fwd_waiter *w;
    uint64_t idx;

    if (status < 0) {
        n->metrics.forward_errors++;
        /* The request may have reached the leader: say so in a field a
         * client can act on (send again only what is safe to repeat). */
        send_json(c, 503,
                  json_pack("{s:{s:s,s:s,s:s}}", "error", "code",
                            gd_code_name(GD_EUNAVAIL), "message",
                            "leader did not answer the forwarded request; the "
                            "write may or may not have happened, retry",
                            "outcome", "unknown"));
        return;
    }
    ctype = ctype ? ctype : "application/json";
    idx = (status >= 200 && status < 300) ? body_applied_index(body, len) : 0;
    if (idx == 0 || idx <= store_applied_index(n->store) || n->stopping) {
        send_raw(c, status, ctype, body, len);
        return;
    }
    w = calloc(1, sizeof *w);
    if (w == NULL || (w->ctype = strdup(ctype)) == NULL ||
        (w->body = malloc(len + 1)) == NULL) {
        if (w != NULL) {
            free(w->ctype);
            free(w);
        }
        send_raw(c, status, ctype, body, len);
        return;
    }
    memcpy(w->body, body, len);
    w->body[len] = '\0';
    w->len = len;
    w->c = c;
    w->status = status;
    w->index = idx;
    w->deadline_ns = uv_hrtime() + (uint64_t)FWD_WAIT_MS * 1000000;
    w->next = n->waiters;
    n->waiters = w;
    uv_check_start(&n->waiters_check, waiters_check_cb);
    if (!uv_is_active((uv_handle_t *)&n->waiters_timer)) {
        uv_timer_start(&n->waiters_timer, waiters_timer_cb, 20, 20);
    }
}

/* Sends the request to the leader and relays its answer. */
static void forward(struct ctx *c)
{
    struct gd_node *n = c->n;
    const char *auth = http_request_header(c->req, "Authorization");
    const char *ctype = http_request_header(c->req, "Content-Type");
    struct http_client *cl;
    uint64_t lid;
    struct strbuf h;
    int rc;

    if (http_request_header(c->req, "X-Gridesk-Forwarded") != NULL) {
        send_error(c, GD_EUNAVAIL, "leadership is changing; retry");
        return;
    }
    lid = rnode_leader(n->rn, NULL);
    if (lid == 0) {
        send_error(c, GD_EUNAVAIL, "no leader elected yet; retry");
        return;
    }
    cl = cluster_peer_client(n, lid);
    if (cl == NULL) {
        send_error(c, GD_EUNAVAIL,
                   "the leader's HTTP address is not known yet; retry");
        return;
    }
    strbuf_init(&h);
    if (auth != NULL) {
        strbuf_printf(&h, "Authorization: %s\r\n", auth);
    }
    if (ctype != NULL) {
        strbuf_printf(&h, "Content-Type: %s\r\n", ctype);
    }
    strbuf_printf(&h, "X-Gridesk-Forwarded: %s\r\n", n->origin);
    if (h.oom) {
        strbuf_free(&h);
        send_error(c, GD_ENOMEM, "out of memory");
        return;
    }
    n->metrics.forwarded++;
    rc = http_client_request(cl, c->req->method_name, c->req->url,
                             strbuf_cstr(&h), c->req->body, c->req->body_len,
                             FORWARD_TIMEOUT_MS, forward_cb, c);
    strbuf_free(&h);
    if (rc != 0) {
        n->metrics.forward_errors++;
        send_error(c, GD_EUNAVAIL, "cannot reach the leader; retry");
    }
}

/* ---- health and metrics ---------------------------------------------- */

static void handle_health(struct ctx *c)
{
    struct gd_node *n = c->n;
    uint64_t lid = rnode_leader(n->rn, NULL);
    json_t *v = json_pack(
        "{s:s,s:I,s:s,s:o,s:I,s:I,s:I}", "status", "ok", "id",
        (json_int_t)n->id, "role", rnode_state_name(n->rn), "leader",
        lid ? json_integer((json_int_t)lid) : json_null(), "term",
        (json_int_t)rnode_term(n->rn), "applied_index",
        (json_int_t)store_applied_index(n->store), "commit_index",
        (json_int_t)rnode_commit_index(n->rn));
    send_json(c, 200, v);
}

static void handle_metrics(struct ctx *c)
{
    struct gd_node *n = c->n;
    struct rnode_stats st;
    struct fsm *f = rnode_fsm(n->rn);
    const char *state = rnode_state_name(n->rn);
    struct strbuf b;

    rnode_stats(n->rn, &st);
    strbuf_init(&b);
    strbuf_printf(
        &b,
        "# TYPE gridesk_raft_term gauge\ngridesk_raft_term %llu\n"
        "# HELP gridesk_raft_role 1 for the role this node has now.\n"
        "# TYPE gridesk_raft_role gauge\n"
        "gridesk_raft_role{role=\"leader\"} %d\n"
        "gridesk_raft_role{role=\"follower\"} %d\n"
        "gridesk_raft_role{role=\"candidate\"} %d\n"
        "# TYPE gridesk_raft_commit_index gauge\n"
        "gridesk_raft_commit_index %llu\n"
        "# TYPE gridesk_raft_applied_index gauge\n"
        "gridesk_raft_applied_index %llu\n"
        "# TYPE gridesk_raft_last_index gauge\n"
        "gridesk_raft_last_index %llu\n"
        "# HELP gridesk_entries_applied_total Raft command entries applied "
        "to the store.\n"
        "# TYPE gridesk_entries_applied_total counter\n"
        "gridesk_entries_applied_total %llu\n"
        "# TYPE gridesk_commands_applied_total counter\n"
        "gridesk_commands_applied_total %llu\n"
        "# TYPE gridesk_entries_skipped_total counter\n"
        "gridesk_entries_skipped_total %llu\n"
        "# TYPE gridesk_snapshots_taken_total counter\n"
        "gridesk_snapshots_taken_total %llu\n"
        "# TYPE gridesk_snapshots_restored_total counter\n"
        "gridesk_snapshots_restored_total %llu\n"
        "# HELP gridesk_proposals_total Commands proposed by this node as "
        "leader.\n"
        "# TYPE gridesk_proposals_total counter\n"
        "gridesk_proposals_total %llu\n"
        "# TYPE gridesk_entries_proposed_total counter\n"
        "gridesk_entries_proposed_total %llu\n"
        "# TYPE gridesk_batch_max gauge\ngridesk_batch_max %llu\n"
        "# HELP gridesk_apply_seconds_total Time spent applying entries.\n"
        "# TYPE gridesk_apply_seconds_total counter\n"
        "gridesk_apply_seconds_total %.6f\n"
        "# TYPE gridesk_apply_seconds_max gauge\n"
        "gridesk_apply_seconds_max %.6f\n"
        "# HELP gridesk_slow_applies_total Entries whose apply took 100 ms "
        "or more.\n"
        "# TYPE gridesk_slow_applies_total counter\n"
        "gridesk_slow_applies_total %llu\n",
        (unsigned long long)rnode_term(n->rn), strcmp(state, "leader") == 0,
        strcmp(state, "follower") == 0, strcmp(state, "candidate") == 0,
        (unsigned long long)rnode_commit_index(n->rn),
        (unsigned long long)store_applied_index(n->store),
        (unsigned long long)rnode_last_index(n->rn),
        (unsigned long long)f->entries_applied,
        (unsigned long long)f->commands_applied,
        (unsigned long long)f->entries_skipped,
        (unsigned long long)f->snapshots_taken,
        (unsigned long long)f->snapshots_restored,
        (unsigned long long)st.proposals,
        (unsigned long long)st.entries_proposed,
        (unsigned long long)st.max_batch, (double)f->apply_us_total / 1e6,
        (double)f->apply_us_max / 1e6, (unsigned long long)f->slow_applies);
    strbuf_printf(&b,
                  "# HELP gridesk_entries_deferred_total Entries a follower "
                  "applied after answering the leader.\n"
                  "# TYPE gridesk_entries_deferred_total counter\n"
                  "gridesk_entries_deferred_total %llu\n",
                  (unsigned long long)f->entries_deferred);
    {
        struct segfill_stats sf;
        segfill_stats(&sf);
        strbuf_printf(&b,
                      "# HELP gridesk_raft_segments_zero_filled_total Raft "
                      "log segments written with zeros before use.\n"
                      "# TYPE gridesk_raft_segments_zero_filled_total "
                      "counter\n"
                      "gridesk_raft_segments_zero_filled_total %llu\n"
                      "# TYPE gridesk_raft_segments_fill_paced_total "
                      "counter\n"
                      "gridesk_raft_segments_fill_paced_total %llu\n"
                      "# TYPE gridesk_raft_segment_fill_bytes_total counter\n"
                      "gridesk_raft_segment_fill_bytes_total %llu\n"
                      "# TYPE gridesk_raft_segment_fill_seconds_total "
                      "counter\n"
                      "gridesk_raft_segment_fill_seconds_total %.6f\n",
                      (unsigned long long)sf.segments,
                      (unsigned long long)sf.paced,
                      (unsigned long long)sf.bytes, sf.seconds);
    }
    if (f->search != NULL) {
        struct sr_stats ss;
        sr_engine_stats(f->search, &ss);
        strbuf_printf(
            &b,
            "# HELP gridesk_kb_docs Knowledge-base articles in the search "
            "index.\n"
            "# TYPE gridesk_kb_docs gauge\ngridesk_kb_docs %llu\n"
            "# TYPE gridesk_search_queries_total counter\n"
            "gridesk_search_queries_total %llu\n"
            "# TYPE gridesk_search_cache_hits_total counter\n"
            "gridesk_search_cache_hits_total %llu\n"
            "# TYPE gridesk_search_cache_misses_total counter\n"
            "gridesk_search_cache_misses_total %llu\n"
            "# TYPE gridesk_search_cache_bytes gauge\n"
            "gridesk_search_cache_bytes %llu\n",
            (unsigned long long)ss.docs, (unsigned long long)ss.queries,
            (unsigned long long)ss.cache_hits,
            (unsigned long long)ss.cache_misses,
            (unsigned long long)ss.cache_bytes);
    }
    metrics_render(&n->metrics, &b);
    if (b.oom) {
        strbuf_free(&b);
        send_error(c, GD_ENOMEM, "out of memory");
        return;
    }
    send_raw(c, 200, "text/plain; version=0.0.4", strbuf_cstr(&b), b.len);
    strbuf_free(&b);
}

/* ---- login ------------------------------------------------------------ */

struct login_work {
    uv_work_t w;
    struct ctx *c;
    char *hash;
    char *password;
    int ok;
};

static void login_work_cb(uv_work_t *w)
{
    struct login_work *lw = w->data;
    lw->ok = auth_verify_password(lw->hash, lw->password);
}

static void login_done_cb(uv_work_t *w, int status)
{
    struct login_work *lw = w->data;
    struct ctx *c = lw->c;
    char token[AUTH_TOKEN_MAX];
    uint64_t exp = now_unix() + TOKEN_TTL_S;

    if (status != 0 || !lw->ok) {
        log_warn("login refused", "user=\"%s\"", c->user);
        send_error(c, GD_EAUTH, "wrong user or password");
    } else if (auth_token_make(c->n->secret, c->user, c->role, exp, token,
                               sizeof token) != 0) {
        send_error(c, GD_EINVAL, "user name too long for a token");
    } else {
        char at[40];
        gd_time_format(exp * 1000, at, sizeof at);
        log_info("login", "user=\"%s\" role=%s", c->user, c->role);
        send_json(c, 200,
                  json_pack("{s:s,s:s,s:s,s:s}", "token", token, "user",
                            c->user, "role", c->role, "expires_at", at));
    }
    sodium_memzero(lw->password, strlen(lw->password));
    free(lw->password);
    free(lw->hash);
    free(lw);
}

static void handle_login(struct ctx *c)
{
    static const char *const keys[] = {"user", "password", NULL};
    struct gd_node *n = c->n;
    struct user_rec u;
    struct gd_err err;
    const char *user, *pw;
    struct login_work *lw;
    json_t *o = body_object(c);

    if (o == NULL) {
        return;
    }
    if (only_keys(c, o, keys) != 0 || get_str(c, o, "user", 1, &user) != 0 ||
        get_str(c, o, "password", 1, &pw) != 0) {
        json_decref(o);
        return;
    }
    if (!n->have_secret && cluster_load_secret(n) != 0) {
        json_decref(o);
        send_error(c, GD_EUNAVAIL, "cluster not initialised yet; retry");
        return;
    }
    memset(&u, 0, sizeof u);
    if (strlen(user) >= AUTH_NAME_MAX ||
        store_user_get(n->store, user, &u, &err) != 0) {
        user_rec_clear(&u);
        json_decref(o);
        send_error(c, GD_EAUTH, "wrong user or password");
        return;
    }
    lw = calloc(1, sizeof *lw);
    if (lw == NULL || (lw->password = strdup(pw)) == NULL) {
        free(lw);
        user_rec_clear(&u);
        json_decref(o);
        send_error(c, GD_ENOMEM, "out of memory");
        return;
    }
    snprintf(c->user, sizeof c->user, "%s", user);
    snprintf(c->role, sizeof c->role, "%s", u.role ? u.role : "agent");
    lw->hash = u.pwhash;
    u.pwhash = NULL;
    user_rec_clear(&u);
    json_decref(o);
    lw->c = c;
    lw->w.data = lw;
    if (lw->hash == NULL ||
        uv_queue_work(n->loop, &lw->w, login_work_cb, login_done_cb) != 0) {
        free(lw->hash);
        free(lw->password);
        free(lw);
        send_error(c, GD_EAUTH, "wrong user or password");
    }
}

/* ---- tickets ----------------------------------------------------------- */

/* Answers with the ticket as stored now, plus the applied index. */
static void send_ticket(struct ctx *c, const char *id, int status)
{
    struct ticket t;
    struct gd_err err = {0, ""};
    json_t *v;
    int rc;

    ticket_init(&t);
    rc = store_ticket_get(c->n->store, id, &t, &err);
    if (rc != 0) {
        ticket_clear(&t);
        if (rc == GD_ENOTFOUND) {
            send_error(c, rc, "no ticket %s", id);
        } else {
            send_error(c, rc, "cannot read ticket %s: %s", id, err.msg);
        }
        return;
    }
    v = view_ticket(c->n->store, &t, 1);
    ticket_clear(&t);
    if (v != NULL) {
        json_object_set_new(
            v, "applied_index",
            json_integer((json_int_t)store_applied_index(c->n->store)));
    }
    send_json(c, status, v);
}

/* Events a just-created ticket may have for its answer to be built from the
 * applied entry; more go through the store. */
#define CREATED_EVENTS_MAX 8

static void ticket_applied_cb(void *data, int code, const char *msg,
                              const char *entity, uint64_t index)
{
    struct ctx *c = data;
    const struct event *evs[CREATED_EVENTS_MAX];
    const struct ticket *t;
    size_t n;
    json_t *v;

    if (code != 0) {
        send_error(c, code, "%s", msg && *msg ? msg : gd_code_name(code));
        return;
    }
    /* A ticket this entry created is answered from what the entry applied
     * (the same records the store now holds), without reading them back. */
    t = fsm_created_ticket(rnode_fsm(c->n->rn), entity, evs, CREATED_EVENTS_MAX,
                           &n);
    if (t == NULL) {
        send_ticket(c, entity, c->created ? 201 : 200);
        return;
    }
    /* Written straight from the structs; the json_t view only if that
     * fails (it then fails the same way, or answers in full). */
    struct strbuf b;
    strbuf_init(&b);
    strbuf_reserve(&b, 2048);
    if (index <= (uint64_t)INT64_MAX &&
        view_ticket_events_write(t, evs, n, (long long)index, &b) == 0) {
        send_raw(c, c->created ? 201 : 200, "application/json", b.s, b.len);
        strbuf_free(&b);
        return;
    }
    strbuf_free(&b);
    v = view_ticket_events(t, evs, n);
    if (v != NULL) {
        json_object_set_new(v, "applied_index", json_integer((json_int_t)index));
    }
    send_json(c, c->created ? 201 : 200, v);
}

/* Fills the event fields every ticket command carries. */
static int event_common(struct ctx *c, struct event *ev, const char *channel)
{
    int rc = gd_strdup(&ev->actor, c->user);
    if (rc == 0) {
        rc = gd_strdup(&ev->node, c->node_code);
    }
    if (rc == 0 && channel != NULL) {
        rc = gd_strdup(&ev->channel, channel);
    }
    return rc;
}

static void propose_ticket(struct ctx *c, struct command *cmd)
{
    int rc = rnode_propose(c->n->rn, cmd, ticket_applied_cb, c);
    if (rc != 0) {
        send_error(c, rc, rc == GD_EUNAVAIL ? "not the leader any more; retry"
                                            : "cannot propose the write");
    }
}

static void handle_ticket_create(struct ctx *c)
{
    static const char *const keys[] = {"customer", "class",   "channel",
                                       "summary",  "description", NULL};
    const char *customer, *cls, *channel, *summary, *description;
    struct command cmd;
    struct gd_err err = {0, ""};
    json_t *o = body_object(c);
    int rc;

    if (o == NULL) {
        return;
    }
    if (only_keys(c, o, keys) != 0 ||
        get_str(c, o, "customer", 1, &customer) != 0 ||
        get_str(c, o, "class", 1, &cls) != 0 ||
        get_str(c, o, "channel", 1, &channel) != 0 ||
        get_str(c, o, "summary", 1, &summary) != 0 ||
        get_str(c, o, "description", 0, &description) != 0) {
        json_decref(o);
        return;
    }
    command_init(&cmd);
    cmd.type = CMD_TICKET;
    cmd.ev.type = EVENT_TICKET_CREATE;
    rc = event_common(c, &cmd.ev, channel);
    if (rc == 0) rc = gd_strdup(&cmd.ev.customer, customer);
    if (rc == 0) rc = gd_strdup(&cmd.ev.cls, cls);
    if (rc == 0) rc = gd_strdup(&cmd.ev.summary, summary);
    if (rc == 0) rc = gd_strdup(&cmd.ev.description, description ? description : "");
    json_decref(o);
    if (rc != 0) {
        command_clear(&cmd);
        send_error(c, rc, "out of memory");
        return;
    }
    /* Refuse bad input before it costs a Raft round; apply checks again. */
    rc = ticket_check(NULL, &cmd.ev, &err);
    if (rc != 0) {
        command_clear(&cmd);
        send_error(c, rc, "%s", err.msg);
        return;
    }
    c->created = 1;
    propose_ticket(c, &cmd);
}

static void handle_ticket_event(struct ctx *c, const char *id)
{
    static const char *const keys[] = {"type", "owner", "text", "status",
                                       "note", "reason", "channel", NULL};
    const char *type, *owner, *text, *status, *note, *reason, *channel;
    struct command cmd;
    struct ticket cur;
    struct gd_err err = {0, ""};
    json_t *o = body_object(c);
    int rc, t;

    if (o == NULL) {
        return;
    }
    if (only_keys(c, o, keys) != 0 || get_str(c, o, "type", 1, &type) != 0 ||
        get_str(c, o, "owner", 0, &owner) != 0 ||
        get_str(c, o, "text", 0, &text) != 0 ||
        get_str(c, o, "status", 0, &status) != 0 ||
        get_str(c, o, "note", 0, &note) != 0 ||
        get_str(c, o, "reason", 0, &reason) != 0 ||
        get_str(c, o, "channel", 0, &channel) != 0) {
        json_decref(o);
        return;
    }
    t = event_type_parse(type);
    if (t < 0 || t == EVENT_TICKET_CREATE) {
        send_error(c, GD_EINVAL,
                   "unknown event type \"%s\" (accept, comment, status, "
                   "reopen)",
                   type);
        json_decref(o); /* type points into o */
        return;
    }
    if (t == EVENT_TICKET_COMMENT && (text == NULL || *text == '\0')) {
        json_decref(o);
        send_error(c, GD_EINVAL, "a comment needs \"text\"");
        return;
    }
    if (t == EVENT_TICKET_STATUS && status == NULL) {
        json_decref(o);
        send_error(c, GD_EINVAL, "a status event needs \"status\"");
        return;
    }
    command_init(&cmd);
    cmd.type = CMD_TICKET;
    cmd.ev.type = t;
    rc = event_common(c, &cmd.ev, channel);
    if (rc == 0) rc = gd_strdup(&cmd.ev.entity, id);
    if (rc == 0 && t == EVENT_TICKET_ACCEPT)
        rc = gd_strdup(&cmd.ev.owner, owner ? owner : c->user);
    if (rc == 0 && t == EVENT_TICKET_COMMENT) rc = gd_strdup(&cmd.ev.text, text);
    if (rc == 0 && t == EVENT_TICKET_STATUS) {
        rc = gd_strdup(&cmd.ev.status, status);
        if (rc == 0 && note) rc = gd_strdup(&cmd.ev.text, note);
    }
    if (rc == 0 && t == EVENT_TICKET_REOPEN)
        rc = gd_strdup(&cmd.ev.text, reason ? reason
                                     : text ? text
                                            : "(no reason given)");
    json_decref(o);
    if (rc != 0) {
        command_clear(&cmd);
        send_error(c, rc, "out of memory");
        return;
    }
    /* Check against the leader's current state first (fast 404/409). */
    ticket_init(&cur);
    rc = store_ticket_get(c->n->store, id, &cur, &err);
    if (rc == 0) {
        rc = ticket_check(&cur, &cmd.ev, &err);
    } else if (rc == GD_ENOTFOUND) {
        snprintf(err.msg, sizeof err.msg, "no ticket %s", id);
    }
    ticket_clear(&cur);
    if (rc != 0) {
        command_clear(&cmd);
        send_error(c, rc, "%s", err.msg);
        return;
    }
    propose_ticket(c, &cmd);
}

static void handle_ticket_get(struct ctx *c, const char *id)
{
    send_ticket(c, id, 200);
}

static void handle_ticket_events_get(struct ctx *c, const char *id)
{
    struct event *evs = NULL;
    struct ticket t;
    size_t n = 0;
    struct gd_err err = {0, ""};
    json_t *arr;
    int rc;

    ticket_init(&t);
    rc = store_ticket_get(c->n->store, id, &t, &err);
    ticket_clear(&t);
    if (rc != 0) {
        send_error(c, rc, rc == GD_ENOTFOUND ? "no ticket %s" : "%s",
                   rc == GD_ENOTFOUND ? id : err.msg);
        return;
    }
    rc = store_ticket_events(c->n->store, id, &evs, &n, &err);
    if (rc != 0) {
        send_error(c, rc, "%s", err.msg);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++) {
        if (json_array_append_new(arr, view_event(&evs[i])) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    store_events_free(evs, n);
    send_json(c, 200, arr ? json_pack("{s:o}", "items", arr) : NULL);
}

static void handle_ticket_list(struct ctx *c)
{
    const char *status = http_request_query(c->req, "status");
    const char *customer = http_request_query(c->req, "customer");
    const char *limit_s = http_request_query(c->req, "limit");
    const char *after = http_request_query(c->req, "after");
    struct ticket *items = NULL;
    size_t n = 0, limit = LIST_LIMIT_DEFAULT;
    char *next = NULL;
    struct gd_err err = {0, ""};
    json_t *arr, *v;
    int rc;

    if (status != NULL && *status == '\0') status = NULL;
    if (customer != NULL && *customer == '\0') customer = NULL;
    if (after != NULL && *after == '\0') after = NULL;
    if (status != NULL && ticket_status_parse(status) < 0) {
        send_error(c, GD_EINVAL,
                   "unknown status \"%s\" (new, accepted, in_progress, "
                   "resolved, closed)",
                   status);
        return;
    }
    if (limit_s != NULL && *limit_s != '\0') {
        char *end;
        long l = strtol(limit_s, &end, 10);
        if (*end != '\0' || l < 1 || l > LIST_LIMIT_MAX) {
            send_error(c, GD_EINVAL, "limit must be 1..%d", LIST_LIMIT_MAX);
            return;
        }
        limit = (size_t)l;
    }
    rc = store_ticket_list(c->n->store, status, customer, after, limit,
                           &items, &n, &next, &err);
    if (rc != 0) {
        send_error(c, rc, "%s", err.msg);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++) {
        if (json_array_append_new(arr, view_ticket(c->n->store, &items[i],
                                                   0)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    store_tickets_free(items, n);
    v = arr ? json_pack("{s:o,s:o,s:I}", "items", arr, "next",
                        next ? json_string(next) : json_null(),
                        "applied_index",
                        (json_int_t)store_applied_index(c->n->store))
            : NULL;
    free(next);
    send_json(c, 200, v);
}

/* ---- cluster ------------------------------------------------------------ */

static json_t *member_json(struct gd_node *n, uint64_t id, const char *raft,
                           int role, const struct member_rec *rec,
                           uint64_t leader)
{
    const char *r = id == leader ? "leader" : rnode_role_name(role);
    return json_pack("{s:I,s:s,s:o,s:s,s:o}", "id", (json_int_t)id, "raft",
                     raft, "http",
                     rec && rec->http ? json_string(rec->http) : json_null(),
                     "role", r, "applied_index", json_null());
}

static void status_finish(struct ctx *c)
{
    send_json(c, 200, json_incref(c->status));
}

struct status_probe {
    struct ctx *c;
    size_t index;
};

static void status_peer_cb(void *data, int status, const char *ctype,
                           const char *body, size_t len)
{
    struct status_probe *p = data;
    struct ctx *c = p->c;
    json_t *members = json_object_get(c->status, "members");
    json_t *m = json_array_get(members, p->index);

    if (m != NULL) {
        json_t *h = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
        json_t *ai = h ? json_object_get(h, "applied_index") : NULL;
        json_object_set_new(m, "reachable", json_boolean(h != NULL));
        if (ai != NULL) {
            json_object_set(m, "applied_index", ai);
        }
        json_decref(h);
    }
    free(p);
    if (--c->pending == 0) {
        status_finish(c);
    }
}

static void handle_cluster_status(struct ctx *c)
{
    struct gd_node *n = c->n;
    const struct raft_configuration *conf = rnode_configuration(n->rn);
    struct member_rec *recs = NULL;
    size_t nrecs = 0;
    uint64_t leader = rnode_leader(n->rn, NULL);
    json_t *members = json_array();

    store_member_list(n->store, &recs, &nrecs);
    for (unsigned i = 0; members && i < conf->n; i++) {
        const struct member_rec *rec = NULL;
        for (size_t k = 0; k < nrecs; k++) {
            if (recs[k].id == conf->servers[i].id) {
                rec = &recs[k];
            }
        }
        json_array_append_new(members,
                              member_json(n, conf->servers[i].id,
                                          conf->servers[i].address,
                                          conf->servers[i].role, rec, leader));
    }
    store_members_free(recs, nrecs);
    c->status = json_pack(
        "{s:I,s:o,s:I,s:I,s:s,s:s,s:o}", "id", (json_int_t)n->id, "leader",
        leader ? json_integer((json_int_t)leader) : json_null(), "term",
        (json_int_t)rnode_term(n->rn), "applied_index",
        (json_int_t)store_applied_index(n->store), "role",
        rnode_state_name(n->rn), "cluster_id", n->cluster_id, "members",
        members ? members : json_array());
    if (c->status == NULL) {
        send_error(c, GD_ENOMEM, "out of memory");
        return;
    }
    /* Ask every member for its applied index, in parallel, briefly. */
    c->pending = 1;
    for (size_t i = 0; i < json_array_size(members); i++) {
        json_t *m = json_array_get(members, i);
        uint64_t id = (uint64_t)json_integer_value(json_object_get(m, "id"));
        struct http_client *cl;
        struct status_probe *p;

        if (id == n->id) {
            json_object_set_new(
                m, "applied_index",
                json_integer((json_int_t)store_applied_index(n->store)));
            json_object_set_new(m, "reachable", json_true());
            continue;
        }
        cl = cluster_peer_client(n, id);
        p = cl ? malloc(sizeof *p) : NULL;
        if (p == NULL) {
            json_object_set_new(m, "reachable", json_false());
            continue;
        }
        p->c = c;
        p->index = i;
        c->pending++;
        if (http_client_request(cl, "GET", "/healthz", NULL, NULL, 0,
                                STATUS_PEER_TIMEOUT_MS, status_peer_cb,
                                p) != 0) {
            c->pending--;
            free(p);
            json_object_set_new(m, "reachable", json_false());
        }
    }
    if (--c->pending == 0) {
        status_finish(c);
    }
}

static void member_put_cb(void *data, int code, const char *msg,
                          const char *entity, uint64_t index)
{
    struct ctx *c = data;

    if (code != 0) {
        send_error(c, code, "member record not saved: %s", msg);
        return;
    }
    send_json(c, c->created ? 201 : 200,
              json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)c->member.id,
                        "raft", c->member.raft, "http", c->member.http,
                        "cluster_id", c->n->cluster_id));
}

/* Proposes the member record held in c->member. */
static void propose_member(struct ctx *c)
{
    struct command cmd;
    int rc;

    command_init(&cmd);
    cmd.type = CMD_MEMBER_PUT;
    cmd.member.id = c->member.id;
    rc = gd_strdup(&cmd.member.raft, c->member.raft);
    if (rc == 0) rc = gd_strdup(&cmd.member.http, c->member.http);
    if (rc != 0) {
        command_clear(&cmd);
        send_error(c, rc, "out of memory");
        return;
    }
    rc = rnode_propose(c->n->rn, &cmd, member_put_cb, c);
    if (rc != 0) {
        send_error(c, rc, "not the leader any more; retry");
    }
}

static void member_added_cb(void *data, int code, const char *msg)
{
    struct ctx *c = data;

    if (code != 0) {
        send_error(c, code, "cannot add member %llu: %s",
                   (unsigned long long)c->member.id, msg);
        return;
    }
    log_info("member joined", "id=%llu raft=%s http=%s",
             (unsigned long long)c->member.id, c->member.raft,
             c->member.http);
    propose_member(c);
}

/* Reads {"id","raft","http"} into c->member: 0 or -1 (answered). */
static int member_body(struct ctx *c)
{
    static const char *const keys[] = {"id", "raft", "http", NULL};
    const char *raft, *http;
    json_t *o = body_object(c), *id;
    int rc;

    if (o == NULL) {
        return -1;
    }
    if (only_keys(c, o, keys) != 0 || get_str(c, o, "raft", 1, &raft) != 0 ||
        get_str(c, o, "http", 1, &http) != 0) {
        json_decref(o);
        return -1;
    }
    id = json_object_get(o, "id");
    if (!json_is_integer(id) || json_integer_value(id) <= 0) {
        json_decref(o);
        send_error(c, GD_EINVAL, "field \"id\" must be a positive integer");
        return -1;
    }
    if (strchr(raft, ':') == NULL || strchr(http, ':') == NULL ||
        strlen(raft) >= NODE_ADDR_MAX || strlen(http) >= NODE_ADDR_MAX) {
        json_decref(o);
        send_error(c, GD_EINVAL, "\"raft\" and \"http\" must be HOST:PORT");
        return -1;
    }
    c->member.id = (uint64_t)json_integer_value(id);
    rc = gd_strdup(&c->member.raft, raft);
    if (rc == 0) rc = gd_strdup(&c->member.http, http);
    json_decref(o);
    if (rc != 0) {
        send_error(c, rc, "out of memory");
        return -1;
    }
    return 0;
}

static void handle_member_add(struct ctx *c)
{
    const struct raft_configuration *conf;
    int rc;

    if (require_admin(c) != 0 || member_body(c) != 0) {
        return;
    }
    conf = rnode_configuration(c->n->rn);
    for (unsigned i = 0; i < conf->n; i++) {
        if (conf->servers[i].id != c->member.id) {
            continue;
        }
        if (strcmp(conf->servers[i].address, c->member.raft) != 0) {
            send_error(c, GD_ECONFLICT,
                       "member %llu already exists with raft address %s",
                       (unsigned long long)c->member.id,
                       conf->servers[i].address);
            return;
        }
        /* Already in: (re)record its HTTP address; idempotent joins. */
        propose_member(c);
        return;
    }
    c->created = 1;
    rc = rnode_add(c->n->rn, c->member.id, c->member.raft, member_added_cb,
                   c);
    if (rc != 0) {
        send_error(c, rc, "cannot add member %llu (%s)",
                   (unsigned long long)c->member.id, gd_code_name(rc));
    }
}

static void handle_announce(struct ctx *c)
{
    if (require_admin(c) != 0 || member_body(c) != 0) {
        return;
    }
    propose_member(c);
}

static void member_deleted_cb(void *data, int code, const char *msg,
                              const char *entity, uint64_t index)
{
    struct ctx *c = data;
    if (code != 0) {
        send_error(c, code, "%s", msg);
        return;
    }
    send_json(c, 200,
              json_pack("{s:I}", "removed", (json_int_t)c->member.id));
}

static void member_removed_cb(void *data, int code, const char *msg)
{
    struct ctx *c = data;
    struct command cmd;
    int rc;

    if (code != 0) {
        send_error(c, code, "cannot remove member %llu: %s",
                   (unsigned long long)c->member.id, msg);
        return;
    }
    log_info("member removed", "id=%llu", (unsigned long long)c->member.id);
    command_init(&cmd);
    cmd.type = CMD_MEMBER_DEL;
    cmd.member.id = c->member.id;
    rc = rnode_propose(c->n->rn, &cmd, member_deleted_cb, c);
    if (rc != 0) {
        /* The configuration change is done; the record goes with the next
         * leader's upkeep. */
        send_json(c, 200,
                  json_pack("{s:I}", "removed", (json_int_t)c->member.id));
    }
}

static void handle_member_remove(struct ctx *c, const char *ids)
{
    uint64_t id = parse_id(ids);
    int rc;

    if (require_admin(c) != 0) {
        return;
    }
    if (id == 0) {
        send_error(c, GD_EINVAL, "member id must be a positive integer");
        return;
    }
    c->member.id = id;
    rc = rnode_remove(c->n->rn, id, member_removed_cb, c);
    if (rc != 0) {
        send_error(c, rc, rc == GD_ENOTFOUND ? "no member %llu"
                                             : "cannot remove member %llu",
                   (unsigned long long)id);
    }
}

/* ---- dispatch ------------------------------------------------------------ */

/* Runs the handler of an authenticated request on this node. */
static void dispatch(struct ctx *c)
{
    struct http_request *req = c->req;
    char buf[512];
    char *seg[6];
    int m = req->method;
    int k = path_split(req->path, buf, sizeof buf, seg, 6);

    if (c->route == R_TICKETS) {
        if (m == HTTP_POST) handle_ticket_create(c);
        else if (m == HTTP_GET) handle_ticket_list(c);
        else send_error(c, GD_EINVAL, "use GET or POST %s", req->path);
    } else if (c->route == R_TICKET) {
        if (m == HTTP_GET) handle_ticket_get(c, seg[2]);
        else send_error(c, GD_EINVAL, "use GET %s", req->path);
    } else if (c->route == R_EVENTS) {
        if (m == HTTP_POST) handle_ticket_event(c, seg[2]);
        else if (m == HTTP_GET) handle_ticket_events_get(c, seg[2]);
        else send_error(c, GD_EINVAL, "use GET or POST %s", req->path);
    } else if (c->route == R_STATUS) {
        if (m == HTTP_GET) handle_cluster_status(c);
        else send_error(c, GD_EINVAL, "use GET %s", req->path);
    } else if (c->route == R_MEMBERS) {
        if (m == HTTP_POST) handle_member_add(c);
        else send_error(c, GD_EINVAL, "use POST %s", req->path);
    } else if (c->route == R_MEMBER) {
        if (m == HTTP_DELETE) handle_member_remove(c, seg[3]);
        else send_error(c, GD_EINVAL, "use DELETE %s", req->path);
    } else if (c->route == R_ANNOUNCE) {
        if (m == HTTP_POST) handle_announce(c);
        else send_error(c, GD_EINVAL, "use POST %s", req->path);
    } else if (c->route == R_TICKET_SUGGEST) {
        if (m == HTTP_GET) api_ticket_suggestions(c, seg[2]);
        else send_error(c, GD_EINVAL, "use GET %s", req->path);
    } else {
        api_kb_dispatch(c, seg, k);
    }
}

static void strong_read_cb(void *data, int code, const char *msg)
{
    struct ctx *c = data;
    if (code != 0) {
        send_error(c, code, "cannot confirm leadership for a strong read: %s",
                   msg);
        return;
    }
    dispatch(c);
}

void api_handle(struct http_server *srv, struct http_request *req)
{
    struct gd_node *n = http_server_data(srv);
    struct ctx *c;
    char buf[512];
    char *seg[6];
    int k, m = req->method;
    const char *fwd;

    c = calloc(1, sizeof *c);
    if (c == NULL) {
        http_respond(req, 500, "application/json",
                     "{\"error\":{\"code\":\"no_memory\",\"message\":\"out "
                     "of memory\"}}",
                     56, NULL);
        return;
    }
    c->n = n;
    c->req = req;
    c->route = R_OTHER;
    req->data = c;
    fwd = http_request_header(req, "X-Gridesk-Forwarded");
    snprintf(c->node_code, sizeof c->node_code, "%s",
             fwd != NULL && event_origin_valid(fwd) ? fwd : n->origin);

    if (n->stopping) {
        send_error(c, GD_EUNAVAIL, "node is shutting down");
        return;
    }
    /* A request sees every entry raft has applied here, including those a
     * follower deferred earlier in this loop iteration. */
    fsm_settle(rnode_fsm(n->rn));
    k = path_split(req->path, buf, sizeof buf, seg, 6);
    if (k < 0) {
        send_error(c, GD_ENOTFOUND, "no such route");
        return;
    }
    if (k == 1 && strcmp(seg[0], "healthz") == 0 && m == HTTP_GET) {
        c->route = R_HEALTH;
        handle_health(c);
        return;
    }
    if (k == 1 && strcmp(seg[0], "metrics") == 0 && m == HTTP_GET) {
        c->route = R_METRICS;
        handle_metrics(c);
        return;
    }
    if (k < 2 || strcmp(seg[0], "v1") != 0) {
        send_error(c, GD_ENOTFOUND, "no such route: %s %s", req->method_name,
                   req->path);
        return;
    }
    if (k == 2 && strcmp(seg[1], "login") == 0) {
        c->route = R_LOGIN;
        if (m != HTTP_POST) {
            send_error(c, GD_EINVAL, "use POST %s", req->path);
            return;
        }
        handle_login(c);
        return;
    }

    /* Everything else needs a token. */
    if (strcmp(seg[1], "tickets") == 0 && k <= 4) {
        c->route = k == 2 ? R_TICKETS : k == 3 ? R_TICKET : R_EVENTS;
        if (k == 4 && strcmp(seg[3], "suggestions") == 0) {
            c->route = R_TICKET_SUGGEST;
        } else if (k == 4 && strcmp(seg[3], "events") != 0) {
            c->route = R_OTHER;
            send_error(c, GD_ENOTFOUND, "no such route: %s", req->path);
            return;
        }
    } else if (strcmp(seg[1], "kb") == 0) {
        const char *r = api_kb_route(seg, k);
        c->route = r != NULL ? r : R_OTHER;
    } else if (strcmp(seg[1], "cluster") == 0 && k >= 3) {
        if (k == 3 && strcmp(seg[2], "status") == 0) c->route = R_STATUS;
        else if (k == 3 && strcmp(seg[2], "members") == 0) c->route = R_MEMBERS;
        else if (k == 4 && strcmp(seg[2], "members") == 0) c->route = R_MEMBER;
        else if (k == 3 && strcmp(seg[2], "announce") == 0) c->route = R_ANNOUNCE;
    }
    if (c->route == R_OTHER) {
        send_error(c, GD_ENOTFOUND, "no such route: %s %s", req->method_name,
                   req->path);
        return;
    }
    if (authenticate(c) != 0) {
        return;
    }
    {
        int write = m == HTTP_POST || m == HTTP_PATCH || m == HTTP_DELETE ||
                    m == HTTP_PUT;
        const char *cons = http_request_query(req, "consistency");
        int strong = cons != NULL && strcmp(cons, "strong") == 0;
        if ((write || strong) && !rnode_is_leader(n->rn)) {
            forward(c);
            return;
        }
        if (strong && !write) {
            /* Linearizable read: a barrier proves leadership and that every
             * earlier write is applied here. */
            int rc = rnode_barrier(n->rn, strong_read_cb, c);
            if (rc != 0) {
                send_error(c, rc, "not the leader any more; retry");
            }
            return;
        }
    }
    dispatch(c);
}
