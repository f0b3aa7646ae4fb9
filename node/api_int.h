/* Inside the agent API: the per-request context and the answer and
 * request-parsing helpers shared by node/api.c (tickets, cluster, login)
 * and node/api_kb.c (knowledge base and search). */
#ifndef GD_API_INT_H
#define GD_API_INT_H

#include <jansson.h>
#include <stddef.h>

#include "core/command.h"
#include "node/node.h"

/* One request in flight: lives from the handler to the response. */
struct ctx {
    struct gd_node *n;
    struct http_request *req;
    const char *route;
    char user[AUTH_NAME_MAX];
    char role[AUTH_NAME_MAX];
    char node_code[GD_ORIGIN_MAX + 1]; /* where the request was taken */
    /* per-route state */
    int created;                 /* 201 instead of 200 */
    struct member_rec member;    /* membership changes */
    json_t *status;              /* cluster status being gathered */
    int pending;                 /* peers still to answer */
};

/* Answers and frees c.  send_json steals v (NULL answers 500 no_memory). */
void send_raw(struct ctx *c, int status, const char *ctype, const char *body,
              size_t len);
void send_json(struct ctx *c, int status, json_t *v);
void send_error(struct ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The body as a JSON object, or NULL (answered 400). */
json_t *body_object(struct ctx *c);
/* Refuses keys not in allowed (NULL-terminated): 0, or -1 (answered). */
int only_keys(struct ctx *c, json_t *o, const char *const *allowed);
/* A string field (NULL when absent and optional): 0, or -1 (answered). */
int get_str(struct ctx *c, json_t *o, const char *key, int required,
            const char **out);

/* Knowledge-base routes (node/api_kb.c).  seg are the path segments after
 * "/v1" ("kb", "articles", id, ...), k their count. */
extern const char R_KB_ARTICLES[], R_KB_ARTICLE[], R_KB_ARTICLE_SUB[],
    R_KB_IMPORT[], R_KB_SEARCH[], R_KB_PROPOSALS[], R_KB_PROPOSAL[],
    R_KB_REVIEW[], R_TICKET_SUGGEST[], R_KB_CATEGORIES[];
/* The route name of a /v1/kb/... path (segments after "v1"), or NULL. */
const char *api_kb_route(char **seg, int k);
void api_kb_dispatch(struct ctx *c, char **seg, int k);
/* GET /v1/tickets/{id}/suggestions. */
void api_ticket_suggestions(struct ctx *c, const char *ticket_id);

#endif
