/* `gridesk cluster status|add|remove`: Raft membership as the node's API
 * shows it (/v1/cluster/...).  The CLI only checks the shape of ids and
 * addresses; the node decides whether a change is allowed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/api.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "cli/strbuf.h"

/* Parses a member id: a decimal number from 1 up. */
static int parse_member_id(const char *s, json_int_t *id, struct cli_err *err)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v <= 0)
        return cli_err_set(err, CLI_EUSAGE,
                           "member id '%s' is not a positive number", s);
    *id = (json_int_t)v;
    return 0;
}

/* Checks HOST:PORT (IPv6 as [ADDR]:PORT) with a port of 1-65535. */
static int check_hostport(const char *what, const char *s, struct cli_err *err)
{
    const char *colon = strrchr(s, ':');
    char *end;
    long port;

    if (colon == NULL || colon == s)
        goto bad;
    if (s[0] == '[' && colon[-1] != ']')
        goto bad;
    if (s[0] != '[' && memchr(s, ':', (size_t)(colon - s)) != NULL)
        goto bad; /* bare IPv6 address without brackets */
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
        port < 1 || port > 65535)
        goto bad;
    return 0;
bad:
    return cli_err_set(err, CLI_EUSAGE, "%s address '%s' is not HOST:PORT",
                       what, s);
}

int cmd_cluster_status(struct cli_ctx *ctx, int argc, char **argv,
                       struct cli_err *err)
{
    static const char *const headers[] = {"",     "ID",   "ROLE",
                                          "RAFT", "HTTP", "APPLIED"};
    const char *pos[1];
    char b1[64], b2[64], b3[64], b4[64];
    struct api_conn conn;
    struct table *t = NULL;
    json_t *resp = NULL, *members, *m, *leader;
    size_t i;
    int npos, rc;

    rc = args_parse(ctx, argc, argv, NULL, pos, 0, &npos, err);
    if (rc < 0)
        return rc;
    rc = api_open(&conn, ctx, 0, err);
    if (rc < 0)
        return rc;
    rc = api_call(&conn, "GET", "/v1/cluster/status", NULL, &resp, err);
    if (rc < 0)
        goto out;
    if (ctx->json) {
        rc = out_json(resp, err);
        goto out;
    }
    if (!json_is_object(resp)) {
        rc = cli_err_set(err, CLI_ENET, "%s sent no cluster status", conn.node);
        goto out;
    }
    leader = json_object_get(resp, "leader");
    out_line("cluster %s  leader %s  term %s  applied %s",
             out_scalar(json_object_get(resp, "id"), b1, sizeof b1),
             json_is_null(leader) || leader == NULL
                 ? "none"
                 : out_scalar(leader, b2, sizeof b2),
             out_scalar(json_object_get(resp, "term"), b3, sizeof b3),
             out_scalar(json_object_get(resp, "applied_index"), b4, sizeof b4));

    t = table_new(6, headers);
    if (t == NULL) {
        rc = cli_err_set(err, CLI_ENOMEM, "out of memory");
        goto out;
    }
    members = json_object_get(resp, "members");
    json_array_foreach(members, i, m)
    {
        char ib[64], lb[64], ab[64];
        const char *id = out_scalar(json_object_get(m, "id"), ib, sizeof ib);
        const char *role = json_string_value(json_object_get(m, "role"));
        bool is_leader = (leader != NULL && !json_is_null(leader) &&
                          strcmp(id, out_scalar(leader, lb, sizeof lb)) == 0) ||
                         (role != NULL && strcmp(role, "leader") == 0);
        const char *cells[6] = {
            is_leader ? "*" : "",
            id,
            role,
            json_string_value(json_object_get(m, "raft")),
            json_string_value(json_object_get(m, "http")),
            out_scalar(json_object_get(m, "applied_index"), ab, sizeof ab),
        };
        rc = table_add(t, cells);
        if (rc < 0) {
            cli_err_set(err, rc, "out of memory");
            goto out;
        }
    }
    if (table_rows(t) == 0) {
        printf("no members\n");
    } else {
        rc = table_print(t, stdout);
        if (rc < 0)
            cli_err_set(err, rc, "out of memory");
    }
out:
    table_free(t);
    json_decref(resp);
    api_close(&conn);
    return rc;
}

int cmd_cluster_add(struct cli_ctx *ctx, int argc, char **argv,
                    struct cli_err *err)
{
    const char *pos[3];
    struct api_conn conn;
    json_t *body, *resp = NULL;
    json_int_t id;
    int npos, rc;

    rc = args_parse(ctx, argc, argv, NULL, pos, 3, &npos, err);
    if (rc < 0)
        return rc;
    if (npos < 3)
        return cli_err_set(err, CLI_EUSAGE,
                           "cluster add needs ID RAFT_HOST:PORT "
                           "HTTP_HOST:PORT");
    if ((rc = parse_member_id(pos[0], &id, err)) < 0 ||
        (rc = check_hostport("raft", pos[1], err)) < 0 ||
        (rc = check_hostport("http", pos[2], err)) < 0)
        return rc;
    body =
        json_pack("{s:I, s:s, s:s}", "id", id, "raft", pos[1], "http", pos[2]);
    if (body == NULL)
        return cli_err_set(err, CLI_EUSAGE, "addresses must be valid UTF-8");
    rc = api_open(&conn, ctx, 0, err);
    if (rc == 0) {
        rc = api_call(&conn, "POST", "/v1/cluster/members", body, &resp, err);
        api_close(&conn);
    }
    json_decref(body);
    if (rc == 0 && ctx->json)
        rc = out_json(resp, err);
    else if (rc == 0)
        printf("added member %" JSON_INTEGER_FORMAT " (raft %s, http %s)\n", id,
               pos[1], pos[2]);
    json_decref(resp);
    return rc;
}

int cmd_cluster_remove(struct cli_ctx *ctx, int argc, char **argv,
                       struct cli_err *err)
{
    const char *pos[1];
    struct api_conn conn;
    struct strbuf path;
    json_t *resp = NULL;
    json_int_t id;
    int npos, rc;

    rc = args_parse(ctx, argc, argv, NULL, pos, 1, &npos, err);
    if (rc < 0)
        return rc;
    if (npos < 1)
        return cli_err_set(err, CLI_EUSAGE, "cluster remove needs ID");
    rc = parse_member_id(pos[0], &id, err);
    if (rc < 0)
        return rc;
    strbuf_init(&path);
    strbuf_printf(&path, "/v1/cluster/members/%" JSON_INTEGER_FORMAT, id);
    if (!strbuf_ok(&path))
        return cli_err_set(err, CLI_ENOMEM, "out of memory");
    rc = api_open(&conn, ctx, 0, err);
    if (rc == 0) {
        rc = api_call(&conn, "DELETE", path.buf, NULL, &resp, err);
        api_close(&conn);
    }
    strbuf_close(&path);
    if (rc == 0 && ctx->json)
        rc = out_json(resp, err);
    else if (rc == 0)
        printf("removed member %" JSON_INTEGER_FORMAT "\n", id);
    json_decref(resp);
    return rc;
}
