/* Cluster upkeep on a node: the cluster-init command (first leader), the
 * member records that map Raft ids to HTTP addresses (each node announces
 * its own), clients to peers, the cached cluster secret, and the --join
 * handshake of a new node. */
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/command.h"
#include "core/log.h"
#include "core/util.h"
#include "node/node.h"
#include "storage/records.h"

#define MAINT_MS 300
#define JOIN_ATTEMPTS 40

int cluster_load_secret(struct gd_node *n)
{
    struct cluster_rec cr;
    struct gd_err err;
    int rc;

    memset(&cr, 0, sizeof cr);
    rc = store_cluster_get(n->store, &cr, &err);
    if (rc == 0) {
        memcpy(n->secret, cr.secret, sizeof n->secret);
        memset(&n->tokens, 0, sizeof n->tokens); /* checked with the old */
        snprintf(n->cluster_id, sizeof n->cluster_id, "%s",
                 cr.cluster_id ? cr.cluster_id : "");
        n->have_secret = 1;
    }
    cluster_rec_clear(&cr);
    return rc;
}

static int split_hostport(const char *addr, char *host, size_t cap, int *port)
{
    const char *colon = strrchr(addr, ':');
    size_t hl;
    char *end;
    long p;

    if (colon == NULL) {
        return GD_EINVAL;
    }
    hl = (size_t)(colon - addr);
    if (hl == 0 || hl >= cap) {
        return GD_EINVAL;
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || p <= 0 || p > 65535) {
        return GD_EINVAL;
    }
    *port = (int)p;
    return 0;
}

struct http_client *cluster_peer_client(struct gd_node *n, uint64_t id)
{
    struct member_rec *recs = NULL;
    size_t nrecs = 0;
    const char *http = NULL;
    struct node_peer *slot = NULL;
    char host[NODE_ADDR_MAX];
    int port;

    if (store_member_list(n->store, &recs, &nrecs) != 0) {
        return NULL;
    }
    for (size_t i = 0; i < nrecs; i++) {
        if (recs[i].id == id) {
            http = recs[i].http;
        }
    }
    for (int i = 0; http != NULL && i < NODE_PEERS_MAX; i++) {
        struct node_peer *p = &n->peers[i];
        if (p->client != NULL && p->id == id) {
            if (strcmp(p->http, http) == 0) {
                store_members_free(recs, nrecs);
                return p->client;
            }
            http_client_free(p->client); /* address changed */
            p->client = NULL;
        }
        if (p->client == NULL && slot == NULL) {
            slot = p;
        }
    }
    if (http == NULL || slot == NULL ||
        split_hostport(http, host, sizeof host, &port) != 0 ||
        http_client_new(n->loop, host, port, 32, &slot->client) != 0) {
        store_members_free(recs, nrecs);
        return NULL;
    }
    slot->id = id;
    snprintf(slot->http, sizeof slot->http, "%s", http);
    store_members_free(recs, nrecs);
    return slot->client;
}

void cluster_peers_close(struct gd_node *n)
{
    for (int i = 0; i < NODE_PEERS_MAX; i++) {
        if (n->peers[i].client != NULL) {
            http_client_free(n->peers[i].client);
            n->peers[i].client = NULL;
        }
    }
}

/* Whether the replicated record of this node matches its addresses. */
static int own_record_current(struct gd_node *n)
{
    struct member_rec *recs = NULL;
    size_t nrecs = 0;
    int ok = 0;

    if (store_member_list(n->store, &recs, &nrecs) != 0) {
        return 0;
    }
    for (size_t i = 0; i < nrecs; i++) {
        if (recs[i].id == n->id && recs[i].http && recs[i].raft &&
            strcmp(recs[i].http, n->http_addr) == 0 &&
            strcmp(recs[i].raft, n->raft_addr) == 0) {
            ok = 1;
        }
    }
    store_members_free(recs, nrecs);
    return ok;
}

static void init_cb(void *data, int code, const char *msg, const char *entity,
                    uint64_t index)
{
    struct gd_node *n = data;

    n->init_inflight = 0;
    if (code != 0) {
        if (code != GD_ECONFLICT) {
            log_warn("cluster init not applied", "err=\"%s\"", msg);
        }
        return;
    }
    cluster_load_secret(n);
    log_info("cluster initialised", "cluster_id=%s region=%s index=%llu",
             n->cluster_id, n->region, (unsigned long long)index);
    if (n->admin_password_generated[0] != '\0') {
        /* Printed once, by the node whose init was applied. */
        fprintf(stderr,
                "\n  gridesk: created user 'admin' with password: %s\n"
                "  (set GRIDESK_ADMIN_PASSWORD to choose it; this is shown "
                "only once)\n\n",
                n->admin_password_generated);
    }
}

static void propose_init(struct gd_node *n)
{
    struct command cmd;
    char cid[40];
    int rc;

    if (n->admin_pwhash == NULL) {
        return;
    }
    command_init(&cmd);
    cmd.type = CMD_CLUSTER_INIT;
    auth_random_hex(cid, 16);
    auth_random(cmd.cluster.secret, sizeof cmd.cluster.secret);
    rc = gd_strdup(&cmd.cluster.cluster_id, cid);
    if (rc == 0) rc = gd_strdup(&cmd.cluster.region, n->region);
    if (rc == 0) rc = gd_strdup(&cmd.user.name, "admin");
    if (rc == 0) rc = gd_strdup(&cmd.user.role, "admin");
    if (rc == 0) rc = gd_strdup(&cmd.user.pwhash, n->admin_pwhash);
    if (rc != 0) {
        command_clear(&cmd);
        return;
    }
    if (rnode_propose(n->rn, &cmd, init_cb, n) == 0) {
        n->init_inflight = 1;
    }
}

static void announce_cb(void *data, int code, const char *msg,
                        const char *entity, uint64_t index)
{
    struct gd_node *n = data;
    n->announce_inflight = 0;
    if (code != 0) {
        log_warn("member record not saved", "err=\"%s\"", msg);
    }
}

static void propose_own_record(struct gd_node *n)
{
    struct command cmd;
    int rc;

    command_init(&cmd);
    cmd.type = CMD_MEMBER_PUT;
    cmd.member.id = n->id;
    rc = gd_strdup(&cmd.member.raft, n->raft_addr);
    if (rc == 0) rc = gd_strdup(&cmd.member.http, n->http_addr);
    if (rc != 0) {
        command_clear(&cmd);
        return;
    }
    if (rnode_propose(n->rn, &cmd, announce_cb, n) == 0) {
        n->announce_inflight = 1;
    }
}

static void announce_http_cb(void *data, int status, const char *ctype,
                             const char *body, size_t len)
{
    struct gd_node *n = data;
    n->announce_inflight = 0;
    if (status < 200 || status >= 300) {
        log_debug("announce refused", "status=%d", status);
    }
}

/* A follower tells the leader its HTTP address with a node token. */
static void announce_to_leader(struct gd_node *n)
{
    uint64_t lid = rnode_leader(n->rn, NULL);
    struct http_client *cl;
    char token[AUTH_TOKEN_MAX], hdr[AUTH_TOKEN_MAX + 64], body[512];
    char user[32];
    int len;

    if (lid == 0 || lid == n->id || !n->have_secret) {
        return;
    }
    cl = cluster_peer_client(n, lid);
    if (cl == NULL) {
        return;
    }
    snprintf(user, sizeof user, "node-%llu", (unsigned long long)n->id);
    if (auth_token_make(n->secret, user, "node", (uint64_t)time(NULL) + 60,
                        token, sizeof token) != 0) {
        return;
    }
    snprintf(hdr, sizeof hdr,
             "Authorization: Bearer %s\r\nContent-Type: application/json\r\n",
             token);
    len = snprintf(body, sizeof body,
                   "{\"id\":%llu,\"raft\":\"%s\",\"http\":\"%s\"}",
                   (unsigned long long)n->id, n->raft_addr, n->http_addr);
    if (http_client_request(cl, "POST", "/v1/cluster/announce", hdr, body,
                            (size_t)len, 2000, announce_http_cb, n) == 0) {
        n->announce_inflight = 1;
    }
}

static void maint_cb(uv_timer_t *t)
{
    struct gd_node *n = t->data;
    int leader = rnode_is_leader(n->rn);

    if (n->stopping) {
        return;
    }
    if (!n->have_secret && cluster_load_secret(n) == 0) {
        char *stored = NULL;
        if (store_meta_get(n->store, "cluster_id", &stored) != 0) {
            store_meta_put(n->store, "cluster_id", n->cluster_id);
        }
        free(stored);
    }
    if (leader && !n->have_secret && !n->init_inflight) {
        propose_init(n);
    }
    if (!n->announce_inflight && !own_record_current(n)) {
        if (leader) {
            propose_own_record(n);
        } else {
            announce_to_leader(n);
        }
    }
}

void cluster_on_leader(void *data, int is_leader)
{
    struct gd_node *n = data;
    if (is_leader) {
        maint_cb(&n->maint); /* act at once rather than at the next tick */
    }
}

void cluster_maint_start(struct gd_node *n)
{
    uv_timer_init(n->loop, &n->maint);
    n->maint.data = n;
    uv_timer_start(&n->maint, maint_cb, 50, MAINT_MS);
}

/* ---- --join -------------------------------------------------------------- */

static void join_try(struct gd_node *n);

static struct http_client *join_client;
static char join_token[AUTH_TOKEN_MAX];
static uv_timer_t join_timer;

static void join_fail(struct gd_node *n, const char *why)
{
    fprintf(stderr, "grideskd: cannot join %s: %s\n", n->join_target, why);
    n->exit_code = 2;
    raise(SIGTERM);
}

static void join_retry_cb(uv_timer_t *t)
{
    join_try(t->data);
}

static void join_again(struct gd_node *n, const char *why)
{
    if (++n->join_attempts >= JOIN_ATTEMPTS) {
        join_fail(n, why);
        return;
    }
    log_info("join: retrying", "why=\"%s\" attempt=%d", why,
             n->join_attempts);
    uv_timer_start(&join_timer, join_retry_cb, 250, 0);
}

static void join_done_cb(void *data, int status, const char *ctype,
                         const char *body, size_t len)
{
    struct gd_node *n = data;
    json_t *v;
    const char *cid;
    char *stored = NULL;

    if (status < 0 || status == 503) {
        join_again(n, status < 0 ? "node unreachable" : "cluster busy");
        return;
    }
    if (status != 200 && status != 201) {
        char why[300];
        snprintf(why, sizeof why, "HTTP %d %.*s", status,
                 (int)(len > 200 ? 200 : len), body);
        join_fail(n, why);
        return;
    }
    v = json_loadb(body, len, 0, NULL);
    cid = v ? json_string_value(json_object_get(v, "cluster_id")) : NULL;
    if (cid != NULL && store_meta_get(n->store, "cluster_id", &stored) == 0 &&
        strcmp(stored, cid) != 0) {
        fprintf(stderr,
                "grideskd: data dir belongs to cluster %s, not %s; refusing\n",
                stored, cid);
        free(stored);
        json_decref(v);
        n->exit_code = 2;
        raise(SIGTERM);
        return;
    }
    free(stored);
    log_info("joined cluster", "via=%s cluster_id=%s", n->join_target,
             cid ? cid : "?");
    json_decref(v);
}

static void join_send(struct gd_node *n)
{
    char hdr[AUTH_TOKEN_MAX + 64], body[512];
    int len;

    snprintf(hdr, sizeof hdr,
             "Authorization: Bearer %s\r\nContent-Type: application/json\r\n",
             join_token);
    len = snprintf(body, sizeof body,
                   "{\"id\":%llu,\"raft\":\"%s\",\"http\":\"%s\"}",
                   (unsigned long long)n->id, n->raft_addr, n->http_addr);
    if (http_client_request(join_client, "POST", "/v1/cluster/members", hdr,
                            body, (size_t)len, 60000, join_done_cb, n) != 0) {
        join_again(n, "cannot send");
    }
}

static void join_login_cb(void *data, int status, const char *ctype,
                          const char *body, size_t len)
{
    struct gd_node *n = data;
    json_t *v;
    const char *tok;

    if (status < 0 || status == 503) {
        join_again(n, status < 0 ? "node unreachable" : "cluster busy");
        return;
    }
    v = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    tok = v ? json_string_value(json_object_get(v, "token")) : NULL;
    if (tok == NULL || strlen(tok) >= sizeof join_token) {
        json_decref(v);
        join_fail(n, "login as admin refused (check GRIDESK_ADMIN_PASSWORD)");
        return;
    }
    snprintf(join_token, sizeof join_token, "%s", tok);
    json_decref(v);
    join_send(n);
}

static void join_try(struct gd_node *n)
{
    const char *token = getenv("GRIDESK_TOKEN");
    const char *pw = getenv("GRIDESK_ADMIN_PASSWORD");

    if (token != NULL && *token) {
        snprintf(join_token, sizeof join_token, "%s", token);
        join_send(n);
        return;
    }
    {
        json_t *b = json_pack("{s:s,s:s}", "user", "admin", "password",
                              pw ? pw : "");
        char *s = b ? json_dumps(b, JSON_COMPACT) : NULL;
        json_decref(b);
        if (s == NULL ||
            http_client_request(join_client, "POST", "/v1/login",
                                "Content-Type: application/json\r\n", s,
                                strlen(s), 10000, join_login_cb, n) != 0) {
            free(s);
            join_again(n, "cannot send");
            return;
        }
        free(s);
    }
}

void cluster_join_start(struct gd_node *n)
{
    char host[NODE_ADDR_MAX];
    int port;

    if (getenv("GRIDESK_TOKEN") == NULL &&
        getenv("GRIDESK_ADMIN_PASSWORD") == NULL) {
        join_fail(n, "set GRIDESK_ADMIN_PASSWORD (admin's password) or "
                     "GRIDESK_TOKEN (an admin token)");
        return;
    }
    if (split_hostport(n->join_target, host, sizeof host, &port) != 0 ||
        http_client_new(n->loop, host, port, 2, &join_client) != 0) {
        join_fail(n, "bad address (want HOST:PORT)");
        return;
    }
    uv_timer_init(n->loop, &join_timer);
    join_timer.data = n;
    join_try(n);
}

void cluster_join_close(void)
{
    if (join_client != NULL) {
        http_client_free(join_client);
        join_client = NULL;
        uv_close((uv_handle_t *)&join_timer, NULL);
    }
}
