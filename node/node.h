/* The state of one grideskd process: its store, its Raft member, its HTTP
 * server and the clients it uses to reach other members.  main.c builds
 * it; api.c serves requests from it; cluster.c keeps the replicated
 * membership and cluster records in step with what this node knows. */
#ifndef GD_NODE_H
#define GD_NODE_H

#include <stdint.h>
#include <uv.h>

#include "consensus/rnode.h"
#include "node/auth.h"
#include "node/http_client.h"
#include "node/http_server.h"
#include "node/metrics.h"
#include "storage/store.h"

#define NODE_ADDR_MAX 128
#define NODE_PEERS_MAX 16

struct node_peer {
    uint64_t id;
    char http[NODE_ADDR_MAX];
    struct http_client *client;
};

struct gd_node {
    uv_loop_t *loop;
    struct store *store;
    struct rnode *rn;
    struct http_server http;
    uint64_t id;
    char http_addr[NODE_ADDR_MAX];
    char raft_addr[NODE_ADDR_MAX];
    char origin[GD_ORIGIN_MAX + 1];  /* event origin: "n<id>" */
    char region[GD_ORIGIN_MAX + 1];  /* ticket id prefix at cluster init */
    size_t max_body;
    struct metrics metrics;
    uint64_t started_ms;

    /* The replicated cluster record, cached once applied. */
    int have_secret;
    unsigned char secret[AUTH_SECRET_BYTES];
    struct auth_cache tokens; /* tokens already checked */
    char cluster_id[64];

    /* Cluster init material, prepared at start-up (argon2 is slow). */
    char *admin_pwhash;
    char admin_password_generated[40]; /* "" when taken from the env */
    int init_inflight, announce_inflight;

    /* Clients to other members, by id (the leader's is used to forward). */
    struct node_peer peers[NODE_PEERS_MAX];

    /* --join */
    const char *join_target;
    int join_attempts;
    int exit_code;

    /* Forwarded writes waiting until this follower has applied them, so a
     * client reads its own writes on the node it wrote through. */
    struct fwd_waiter *waiters;
    uv_check_t waiters_check;
    uv_timer_t waiters_timer;

    uv_timer_t maint;
    uv_signal_t sigterm, sigint;
    int stopping;
};

/* HTTP entry point (api.c). */
void api_handle(struct http_server *srv, struct http_request *req);
/* Maps a GD_ code to an HTTP status, the one place that does. */
int api_status_for(int code);
/* Starts/stops the follower read-your-writes waiters (api.c). */
void api_waiters_start(struct gd_node *n);
void api_waiters_stop(struct gd_node *n);

/* Cluster upkeep (cluster.c): periodic timer, leader-change hook. */
void cluster_maint_start(struct gd_node *n);
void cluster_on_leader(void *data, int is_leader);
/* The HTTP client of member id (created on first use), or NULL when the
 * member's HTTP address is not known yet. */
struct http_client *cluster_peer_client(struct gd_node *n, uint64_t id);
/* Loads the cluster secret once the cluster-init command is applied. */
int cluster_load_secret(struct gd_node *n);
/* Starts the --join handshake. */
void cluster_join_start(struct gd_node *n);
void cluster_peers_close(struct gd_node *n);
void cluster_join_close(void);

#endif
