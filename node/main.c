/* grideskd: one gridesk node.  Parses flags, opens the store, starts the
 * Raft member and the HTTP agent API on one libuv loop, and shuts down
 * cleanly on SIGTERM/SIGINT (a leader hands leadership over first). */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "node/node.h"
#include "storage/records.h"

#define DEFAULT_MAX_BODY (1024 * 1024)
#define EXIT_USAGE 2

static const char usage[] =
    "usage: grideskd [flags]\n"
    "\n"
    "  --id N                 this node's id (default 1)\n"
    "  --data DIR             data directory (default ./gridesk-data)\n"
    "  --http HOST:PORT       agent API address (default 127.0.0.1:8080)\n"
    "  --raft HOST:PORT       Raft address (default: HTTP port + 1000)\n"
    "  --cluster ID=HOST:PORT,...\n"
    "                         bootstrap members by Raft address (all first\n"
    "                         members start with the same list)\n"
    "  --join HOST:PORT       join a running cluster through any member's\n"
    "                         HTTP address (needs GRIDESK_ADMIN_PASSWORD or\n"
    "                         GRIDESK_TOKEN)\n"
    "  --region CODE          ticket id prefix set at cluster creation\n"
    "                         (default GD)\n"
    "  --election-timeout MS  Raft election timeout (default 400)\n"
    "  --heartbeat MS         Raft heartbeat (default election timeout / 10)\n"
    "  --snapshot-threshold N entries between snapshots (default 65536)\n"
    "  --snapshot-trailing N  entries kept after a snapshot (default 8192)\n"
    "  --segment-size MB      Raft log segment size (default 64)\n"
    "  --segment-fill MODE    zero: write new Raft log segments with zeros so\n"
    "                         appends are plain overwrites (default);\n"
    "                         allocate: fallocate only (btrfs, ZFS)\n"
    "  --max-body BYTES       largest request body accepted (default "
    "1048576)\n"
    "  --log-level LEVEL      debug, info, warn, error (default info)\n"
    "  -h, --help             this text\n"
    "\n"
    "With no --cluster and no --join, a single-node cluster is started.\n"
    "Environment: GRIDESK_ADMIN_PASSWORD sets the password of user 'admin'\n"
    "when a new cluster is created (otherwise one is generated and printed\n"
    "once).  Exit codes: 0 clean stop, 1 runtime failure, 2 bad flags or\n"
    "unusable address/data directory.\n";

struct opts {
    uint64_t id;
    const char *data;
    const char *http;
    const char *raft;
    const char *cluster;
    const char *join;
    const char *region;
    unsigned election_timeout, heartbeat, snap_threshold, snap_trailing;
    unsigned segment_mb;
    enum rnode_segment_fill segment_fill;
    size_t max_body;
    int log_level;
};

static void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die_usage(const char *fmt, ...)
{
    va_list ap;
    fputs("grideskd: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see grideskd --help)\n", stderr);
    exit(EXIT_USAGE);
}

static unsigned long long parse_num(const char *flag, const char *v,
                                    unsigned long long min,
                                    unsigned long long max)
{
    char *end;
    unsigned long long x;

    errno = 0;
    if (v[0] == '-' || v[0] == '\0') {
        die_usage("%s wants a number, got \"%s\"", flag, v);
    }
    x = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || x < min || x > max) {
        die_usage("%s wants a number in %llu..%llu, got \"%s\"", flag, min,
                  max, v);
    }
    return x;
}

/* HOST:PORT with a numeric IPv4 host (or "localhost"). */
static void check_addr(const char *flag, const char *v)
{
    const char *colon = strrchr(v, ':');
    char host[128];
    struct sockaddr_in sa;
    size_t hl;

    if (colon == NULL || colon == v) {
        die_usage("%s wants HOST:PORT, got \"%s\"", flag, v);
    }
    hl = (size_t)(colon - v);
    if (hl >= sizeof host) {
        die_usage("%s: host too long", flag);
    }
    memcpy(host, v, hl);
    host[hl] = '\0';
    parse_num(flag, colon + 1, 1, 65535);
    if (strcmp(host, "localhost") != 0 && uv_ip4_addr(host, 0, &sa) != 0) {
        die_usage("%s: \"%s\" is not a numeric IPv4 address", flag, host);
    }
}

/* Every flag grideskd knows; each takes a value. */
static const char *const known_flags[] = {
    "--id",         "--data",       "--http",
    "--raft",       "--cluster",    "--join",
    "--region",     "--election-timeout", "--heartbeat",
    "--snapshot-threshold", "--snapshot-trailing", "--segment-size",
    "--segment-fill", "--max-body",
    "--log-level",  NULL};

static void parse_opts(int argc, char **argv, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->id = 1;
    o->data = "./gridesk-data";
    o->http = "127.0.0.1:8080";
    o->region = "GD";
    o->election_timeout = 400;
    o->max_body = DEFAULT_MAX_BODY;
    o->log_level = GD_LOG_INFO;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        char name[64];
        const char *eq;

        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0) {
            die_usage("unexpected argument \"%s\"", a);
        }
        eq = strchr(a, '=');
        if (eq != NULL) {
            snprintf(name, sizeof name, "%.*s", (int)(eq - a), a);
            v = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", a);
        }
        {
            int known = 0;
            for (const char *const *f = known_flags; *f && !known; f++) {
                known = strcmp(*f, name) == 0;
            }
            if (!known) {
                die_usage("unknown flag %s", name);
            }
        }
        if (eq == NULL) {
            if (i + 1 >= argc) {
                die_usage("%s needs a value", a);
            }
            v = argv[++i];
        }
        if (strcmp(name, "--id") == 0) {
            o->id = parse_num(name, v, 1, 1000000);
        } else if (strcmp(name, "--data") == 0) {
            o->data = v;
        } else if (strcmp(name, "--http") == 0) {
            check_addr(name, v);
            o->http = v;
        } else if (strcmp(name, "--raft") == 0) {
            check_addr(name, v);
            o->raft = v;
        } else if (strcmp(name, "--cluster") == 0) {
            o->cluster = v;
        } else if (strcmp(name, "--join") == 0) {
            check_addr(name, v);
            o->join = v;
        } else if (strcmp(name, "--region") == 0) {
            size_t l = strlen(v);
            if (l == 0 || l > 16 || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789-") != l) {
                die_usage("--region wants 1-16 of A-Z 0-9 -, got \"%s\"", v);
            }
            o->region = v;
        } else if (strcmp(name, "--election-timeout") == 0) {
            o->election_timeout = (unsigned)parse_num(name, v, 50, 60000);
        } else if (strcmp(name, "--heartbeat") == 0) {
            o->heartbeat = (unsigned)parse_num(name, v, 5, 10000);
        } else if (strcmp(name, "--snapshot-threshold") == 0) {
            o->snap_threshold = (unsigned)parse_num(name, v, 4, 100000000);
        } else if (strcmp(name, "--snapshot-trailing") == 0) {
            o->snap_trailing = (unsigned)parse_num(name, v, 1, 100000000);
        } else if (strcmp(name, "--segment-size") == 0) {
            o->segment_mb = (unsigned)parse_num(name, v, 1, 1024);
        } else if (strcmp(name, "--segment-fill") == 0) {
            if (strcmp(v, "zero") == 0) {
                o->segment_fill = RNODE_SEGMENT_FILL_ZERO;
            } else if (strcmp(v, "allocate") == 0) {
                o->segment_fill = RNODE_SEGMENT_FILL_ALLOCATE;
            } else {
                die_usage("--segment-fill wants zero|allocate, got \"%s\"",
                          v);
            }
        } else if (strcmp(name, "--max-body") == 0) {
            o->max_body = parse_num(name, v, 1024, 256ULL << 20);
        } else if (strcmp(name, "--log-level") == 0) {
            o->log_level = gd_log_level_parse(v);
            if (o->log_level < 0) {
                die_usage("--log-level wants debug|info|warn|error");
            }
        } else {
            die_usage("unknown flag %s", name);
        }
    }
    if (o->cluster != NULL && o->join != NULL) {
        die_usage("--cluster and --join exclude each other");
    }
}

/* Parses "1=H:P,2=H:P" into members; exits 2 on junk. */
static size_t parse_cluster(const char *spec, struct rnode_member *m,
                            size_t max)
{
    char buf[4096];
    char *save = NULL, *tok;
    size_t n = 0;

    if (strlen(spec) >= sizeof buf) {
        die_usage("--cluster list too long");
    }
    snprintf(buf, sizeof buf, "%s", spec);
    for (tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL || n == max) {
            die_usage("--cluster wants ID=HOST:PORT,..., got \"%s\"", tok);
        }
        *eq = '\0';
        m[n].id = parse_num("--cluster id", tok, 1, 1000000);
        check_addr("--cluster", eq + 1);
        snprintf(m[n].raft, sizeof m[n].raft, "%s", eq + 1);
        for (size_t k = 0; k < n; k++) {
            if (m[k].id == m[n].id) {
                die_usage("--cluster lists id %llu twice",
                          (unsigned long long)m[n].id);
            }
        }
        n++;
    }
    if (n == 0) {
        die_usage("--cluster is empty");
    }
    return n;
}

static void log_sink_stderr(int level, const char *line, void *data)
{
    struct timespec ts;
    struct tm tm;
    char when[40];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "ts=%s.%03ldZ node=%s %s\n", when, ts.tv_nsec / 1000000,
            (const char *)data, line);
}

static struct gd_node node;
static uv_timer_t hard_stop;

static void all_closed(void *data)
{
    struct gd_node *n = data;
    cluster_peers_close(n);
    cluster_join_close();
    uv_close((uv_handle_t *)&n->sigterm, NULL);
    uv_close((uv_handle_t *)&n->sigint, NULL);
    uv_close((uv_handle_t *)&hard_stop, NULL);
}

static void http_stopped(struct http_server *srv)
{
    (void)srv;
}

static void hard_stop_cb(uv_timer_t *t)
{
    log_error("shutdown took too long; stopping the loop", "%s", "");
    uv_stop(t->loop);
}

static void begin_shutdown(struct gd_node *n)
{
    if (n->stopping) {
        return;
    }
    n->stopping = 1;
    log_info("shutting down", "%s", "");
    uv_timer_stop(&n->maint);
    uv_close((uv_handle_t *)&n->maint, NULL);
    uv_timer_start(&hard_stop, hard_stop_cb, 10000, 0);
    api_waiters_stop(n);
    uv_unref((uv_handle_t *)&hard_stop);
    http_server_stop(&n->http, http_stopped);
    rnode_close(n->rn, all_closed, n);
}

static void signal_cb(uv_signal_t *h, int signum)
{
    begin_shutdown(h->data);
}

int main(int argc, char **argv)
{
    struct opts o;
    struct gd_err err = {0, ""};
    struct rnode_member members[32];
    struct rnode_config cfg;
    char raft_default[NODE_ADDR_MAX], dbdir[4096], raftdir[4096];
    char origin_buf[32];
    char *stored = NULL;
    int record_id = 0;
    struct cluster_rec cr;
    char host[NODE_ADDR_MAX];
    const char *colon;
    int rc, port;
    uv_loop_t *loop = uv_default_loop();

    signal(SIGPIPE, SIG_IGN);
    parse_opts(argc, argv, &o);
    snprintf(origin_buf, sizeof origin_buf, "n%llu", (unsigned long long)o.id);
    gd_log_setup(log_sink_stderr, origin_buf, o.log_level);
    if (auth_init() != 0) {
        fprintf(stderr, "grideskd: libsodium failed to initialise\n");
        return 1;
    }
    if (o.raft == NULL) {
        colon = strrchr(o.http, ':');
        port = atoi(colon + 1) + 1000;
        if (port > 65535) {
            die_usage("no default --raft for HTTP port %d; give --raft",
                      port - 1000);
        }
        snprintf(raft_default, sizeof raft_default, "%.*s:%d",
                 (int)(colon - o.http), o.http, port);
        o.raft = raft_default;
    }

    memset(&node, 0, sizeof node);
    node.loop = loop;
    node.id = o.id;
    node.max_body = o.max_body;
    node.join_target = o.join;
    snprintf(node.http_addr, sizeof node.http_addr, "%s", o.http);
    snprintf(node.raft_addr, sizeof node.raft_addr, "%s", o.raft);
    snprintf(node.origin, sizeof node.origin, "%s", origin_buf);
    snprintf(node.region, sizeof node.region, "%s", o.region);
    metrics_init(&node.metrics);

    if (mkdir(o.data, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "grideskd: cannot create data dir %s: %s\n", o.data,
                strerror(errno));
        return EXIT_USAGE;
    }
    snprintf(dbdir, sizeof dbdir, "%s/db", o.data);
    snprintf(raftdir, sizeof raftdir, "%s/raft", o.data);
    rc = store_open(dbdir, &node.store, &err);
    if (rc != 0) {
        fprintf(stderr, "grideskd: cannot open store in %s: %s\n", dbdir,
                err.msg);
        return EXIT_USAGE;
    }
    /* A data directory remembers the node it belongs to. */
    if (store_meta_get(node.store, "node_id", &stored) == 0) {
        if (strtoull(stored, NULL, 10) != o.id) {
            fprintf(stderr,
                    "grideskd: data dir %s belongs to node %s, not --id %llu; "
                    "refusing to start\n",
                    o.data, stored, (unsigned long long)o.id);
            free(stored);
            store_close(node.store);
            return EXIT_USAGE;
        }
        free(stored);
    } else {
        /* Recorded once the node has started: a start refused for a bad
         * flag or address leaves the directory unclaimed. */
        record_id = 1;
    }
    memset(&cr, 0, sizeof cr);
    if (store_cluster_get(node.store, &cr, &err) == 0) {
        cluster_load_secret(&node);
    } else if (o.join == NULL) {
        /* A new cluster may be created by this node: prepare admin. */
        const char *pw = getenv("GRIDESK_ADMIN_PASSWORD");
        if (pw == NULL || *pw == '\0') {
            auth_random_hex(node.admin_password_generated, 8);
            pw = node.admin_password_generated;
        }
        if (auth_hash_password(pw, &node.admin_pwhash) != 0) {
            fprintf(stderr, "grideskd: cannot hash the admin password\n");
            return 1;
        }
    }
    cluster_rec_clear(&cr);

    memset(&cfg, 0, sizeof cfg);
    cfg.id = o.id;
    cfg.raft_addr = o.raft;
    cfg.dir = raftdir;
    cfg.origin = node.origin;
    cfg.election_timeout_ms = o.election_timeout;
    cfg.heartbeat_ms = o.heartbeat;
    cfg.snapshot_threshold = o.snap_threshold;
    cfg.snapshot_trailing = o.snap_trailing;
    cfg.segment_mb = o.segment_mb;
    cfg.segment_fill = o.segment_fill;
    if (o.cluster != NULL) {
        int self = 0;
        cfg.n_bootstrap = parse_cluster(o.cluster, members, 32);
        for (size_t i = 0; i < cfg.n_bootstrap; i++) {
            if (members[i].id == o.id) {
                self = 1;
                if (strcmp(members[i].raft, o.raft) != 0) {
                    die_usage("--cluster gives node %llu raft address %s but "
                              "--raft is %s",
                              (unsigned long long)o.id, members[i].raft,
                              o.raft);
                }
            }
        }
        if (!self) {
            die_usage("--cluster does not list this node's --id %llu",
                      (unsigned long long)o.id);
        }
        cfg.bootstrap = members;
    } else if (o.join == NULL) {
        members[0].id = o.id;
        snprintf(members[0].raft, sizeof members[0].raft, "%s", o.raft);
        cfg.bootstrap = members;
        cfg.n_bootstrap = 1;
    }

    colon = strrchr(o.http, ':');
    snprintf(host, sizeof host, "%.*s", (int)(colon - o.http), o.http);
    rc = http_server_start(&node.http, loop, host, atoi(colon + 1),
                           o.max_body, api_handle, &node, &err);
    if (rc != 0) {
        fprintf(stderr, "grideskd: cannot serve HTTP on %s: %s\n", o.http,
                err.msg);
        store_close(node.store);
        return EXIT_USAGE;
    }
    rc = rnode_start(&node.rn, loop, node.store, &cfg, &err);
    if (rc != 0) {
        fprintf(stderr, "grideskd: %s\n", err.msg);
        store_close(node.store);
        return EXIT_USAGE;
    }
    if (record_id) {
        char idbuf[32];
        snprintf(idbuf, sizeof idbuf, "%llu", (unsigned long long)o.id);
        if (store_meta_put(node.store, "node_id", idbuf) != 0) {
            log_warn("cannot record the node id in the data dir", "id=%s",
                     idbuf);
        }
    }
    rnode_on_leader_change(node.rn, cluster_on_leader, &node);
    cluster_maint_start(&node);
    api_waiters_start(&node);

    uv_signal_init(loop, &node.sigterm);
    uv_signal_init(loop, &node.sigint);
    node.sigterm.data = node.sigint.data = &node;
    uv_signal_start(&node.sigterm, signal_cb, SIGTERM);
    uv_signal_start(&node.sigint, signal_cb, SIGINT);
    uv_timer_init(loop, &hard_stop);

    log_info("grideskd started", "id=%llu http=%s raft=%s data=%s mode=%s",
             (unsigned long long)o.id, o.http, o.raft, o.data,
             o.cluster ? "bootstrap" : o.join ? "join" : "single");
    if (o.join != NULL && rnode_configuration(node.rn)->n == 0) {
        cluster_join_start(&node);
    }

    uv_run(loop, UV_RUN_DEFAULT);

    rnode_free(node.rn);
    store_flush(node.store);
    store_close(node.store);
    free(node.admin_pwhash);
    metrics_close(&node.metrics);
    uv_loop_close(loop);
    log_info("stopped", "exit_code=%d", node.exit_code);
    return node.exit_code;
}
