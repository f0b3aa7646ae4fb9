/* `gridesk kb import FILE`: bulk load of articles from JSON Lines or CSV.
 *
 * The file is streamed: each row is read, checked locally against the API's
 * rules (kb_article_check) and, when good, serialised straight into the
 * body of the next POST /v1/kb/import request; only that one batch (at most
 * IMPORT_BATCH_MAX articles and IMPORT_BODY_MAX bytes) is held, so memory
 * does not grow with the file.  Bad rows are reported by their line in the
 * file, never sent.  The node checks each article again and answers with
 * the 0-based index of those it refuses, which the batch maps back to the
 * line.  Reading the file (JSON Lines, CSV) is kb_read.c's.  A 413 (the node's
 * body limit is smaller than ours) splits the batch in halves; a 503 (no leader
 * for a moment) is retried, since a failed request changes nothing. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/api.h"
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/kb.h"
#include "cli/output.h"
#include "cli/strbuf.h"

#define IMPORT_BATCH_MAX 1000         /* articles per request (the API's) */
#define IMPORT_BODY_MAX (512u * 1024) /* bytes per request */
#define IMPORT_TIMEOUT_MS 120000      /* per request: a batch is big */
#define IMPORT_RETRIES 8              /* 503 answers before giving up */
#define IMPORT_RESENDS 2000           /* rows sent again after "unavailable" */

/* A request body is {"default_status":"S","articles":[...]}: head, the
 * articles joined by ',', tail.  The head is built once (struct importer). */
#define IMPORT_HEAD_MAX 64
static const char envelope_tail[] = "]}";

enum import_format { FMT_JSONL, FMT_CSV };

struct reject {
    long line;
    char *error;
};

struct importer {
    struct kb_rows src; /* the reader's view of us */
    struct cli_ctx *ctx;
    struct cli_err *err;
    struct api_conn conn;
    bool conn_open;
    bool dry_run;
    const char *default_status; /* --status: for new articles only */
    char head[IMPORT_HEAD_MAX]; /* the body up to the first article */
    const char *name;           /* the file, for messages */
    size_t batch_max;

    /* The batch being filled: body holds head and the articles
     * joined by ','; off/len locate each article in it, line its row. */
    struct strbuf body;
    size_t *off, *len;
    long *line;
    size_t n, cap;
    /* Rows of the batch to send again (outcome unknown; they have ids). */
    size_t *resend, nresend;
    long resends;
    bool *hasid; /* the row carries an id: sending it twice is safe */

    /* Outcome. */
    long valid, imported, created, updated, unchanged;
    struct reject *rej;
    size_t nrej, caprej;
    int rc; /* first fatal error (err filled), 0 while going */

    /* Progress on stderr. */
    bool progress;
    long long size; /* bytes of the file, 0 when unknown */
    double t0, drawn_at;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fatal_nomem(struct importer *im)
{
    if (im->rc == 0)
        im->rc = cli_err_set(im->err, CLI_ENOMEM, "out of memory");
    return im->rc;
}

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n, i;
    unsigned cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2, cp = s[0] & 0x1fu;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3, cp = s[0] & 0x0fu;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4, cp = s[0] & 0x07u;
    else
        return 0;
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0; /* also stops at the NUL */
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

/* A copy of msg with invalid UTF-8 bytes made '?': a message may quote a
 * piece of a bad row, and the --json report must stay valid JSON. */
static char *clean_dup(const char *msg)
{
    char *out = strdup(msg);
    size_t i = 0;

    while (out != NULL && out[i] != '\0') {
        size_t n = utf8_len((const unsigned char *)out + i);
        if (n == 0)
            out[i++] = '?';
        else
            i += n;
    }
    return out;
}

/* Records that row line is rejected for the reason in msg. */
static int reject(struct importer *im, long line, const char *msg)
{
    struct reject *r;

    if (im->nrej == im->caprej) {
        size_t cap = im->caprej != 0 ? im->caprej * 2 : 64;
        r = reallocarray(im->rej, cap, sizeof *r);
        if (r == NULL)
            return fatal_nomem(im);
        im->rej = r;
        im->caprej = cap;
    }
    r = &im->rej[im->nrej];
    r->line = line;
    r->error = clean_dup(msg);
    if (r->error == NULL)
        return fatal_nomem(im);
    im->nrej++;
    return 0;
}

static void progress_draw(struct importer *im)
{
    double t = now_s(), secs = t - im->t0;
    char bar[21];

    if (!im->progress || t - im->drawn_at < 0.1)
        return;
    im->drawn_at = t;
    if (im->size > 0) {
        int pct = (int)(100.0 * (double)im->src.done / (double)im->size);
        int fill = pct / 5;
        if (pct > 100)
            pct = 100, fill = 20;
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '.', (size_t)(20 - fill));
        bar[20] = '\0';
        fprintf(stderr, "\r\033[Kimporting [%s] %3d%%  %ld rows  %.0f rows/s",
                bar, pct, im->src.rows,
                secs > 0 ? (double)im->src.rows / secs : 0.0);
    } else {
        fprintf(stderr, "\r\033[Kimporting  %ld rows  %.0f rows/s",
                im->src.rows, secs > 0 ? (double)im->src.rows / secs : 0.0);
    }
    fflush(stderr);
}

static void progress_clear(struct importer *im)
{
    if (im->progress) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

/* ------------------------------------------------------------- sending */

static bool resendable(struct importer *im, const json_t *r);

/* Reads the node's answer for articles [lo, hi) of the batch. */
static int take_result(struct importer *im, const json_t *resp, size_t lo,
                       size_t hi)
{
    static const char *const counts[] = {"imported", "created", "updated",
                                         "unchanged"};
    long *dst[] = {&im->imported, &im->created, &im->updated, &im->unchanged};
    const json_t *rejected = json_object_get(resp, "rejected"), *r;
    size_t i;

    if (!json_is_object(resp) ||
        !json_is_integer(json_object_get(resp, "imported")) ||
        (rejected != NULL && !json_is_array(rejected)))
        return im->rc = cli_err_set(im->err, CLI_ENET,
                                    "%s answered an import without "
                                    "\"imported\" and \"rejected\"",
                                    im->conn.node);
    for (i = 0; i < 4; i++) {
        const json_t *v = json_object_get(resp, counts[i]);
        if (json_is_integer(v))
            *dst[i] += (long)json_integer_value(v);
    }
    json_array_foreach(rejected, i, r)
    {
        const json_t *idx = json_object_get(r, "index");
        const char *e = json_string_value(json_object_get(r, "error"));
        json_int_t k = json_is_integer(idx) ? json_integer_value(idx) : -1;

        if (k < 0 || (size_t)k >= hi - lo)
            return im->rc = cli_err_set(im->err, CLI_ENET,
                                        "%s rejected an article by an index "
                                        "outside the batch",
                                        im->conn.node);
        if (resendable(im, r)) {
            /* Leadership changed under the write: its outcome is unknown.
             * A row with an id is an upsert, so sending it again is safe
             * (it comes back "unchanged" if the first copy landed). */
            im->resend[im->nresend++] = lo + (size_t)k;
            continue;
        }
        if (reject(im, im->line[lo + (size_t)k],
                   e != NULL && e[0] != '\0' ? e : "refused by the node") < 0)
            return im->rc;
    }
    return 0;
}

/* A rejection that only says the node was unavailable, for a row with an
 * id, while the resend budget lasts. */
static bool resendable(struct importer *im, const json_t *r)
{
    const char *code = json_string_value(json_object_get(r, "code"));
    const char *id = json_string_value(json_object_get(r, "id"));

    return code != NULL && strcmp(code, "unavailable") == 0 && id != NULL &&
           id[0] != '\0' && im->resends < IMPORT_RESENDS &&
           im->nresend < im->cap;
}

/* Adds context to a failed request's message: which lines, how far. */
static int send_failed(struct importer *im, size_t lo, size_t hi, int rc)
{
    char msg[CLI_ERR_MSG_MAX];

    snprintf(msg, sizeof msg, "%s", im->err->msg);
    cli_err_set(im->err, rc,
                "%s: rows at lines %ld-%ld not imported: %s (%ld articles "
                "imported before them)",
                im->name, im->line[lo], im->line[hi - 1], msg, im->imported);
    return im->rc = rc;
}

static bool all_have_ids(const struct importer *im, size_t lo, size_t hi)
{
    for (size_t i = lo; i < hi; i++)
        if (!im->hasid[i])
            return false;
    return true;
}

/* Sends articles [lo, hi) of the batch as one request. */
static int send_range(struct importer *im, size_t lo, size_t hi)
{
    struct strbuf part;
    const char *text;
    size_t len, i;
    json_t *resp = NULL;
    int rc = 0, attempt;

    strbuf_init(&part);
    if (lo == 0 && hi == im->n) {
        strbuf_puts(&im->body, envelope_tail);
        text = strbuf_str(&im->body);
        len = im->body.len;
    } else {
        strbuf_puts(&part, im->head);
        for (i = lo; i < hi; i++) {
            if (i > lo)
                strbuf_putc(&part, ',');
            strbuf_append(&part, im->body.buf + im->off[i], im->len[i]);
        }
        strbuf_puts(&part, envelope_tail);
        text = strbuf_str(&part);
        len = part.len;
    }
    if (!strbuf_ok(&im->body) || !strbuf_ok(&part)) {
        strbuf_close(&part);
        return fatal_nomem(im);
    }
    for (attempt = 0;; attempt++) {
        rc = api_call_text(&im->conn, "POST", "/v1/kb/import", text, len, &resp,
                           im->err);
        if (rc == 0 || im->conn.status != 503 || attempt >= IMPORT_RETRIES)
            break;
        if (im->conn.outcome_unknown && !all_have_ids(im, lo, hi))
            break;
        /* No leader for a moment (nothing was written), or a forwarded
         * request the leader may have taken but every row has an id (an
         * upsert: safe to repeat).  Wait and retry. */
        usleep((useconds_t)(250000u << (attempt < 4 ? attempt : 4)));
    }
    strbuf_close(&part);
    if (lo == 0 && hi == im->n) {
        im->body.len -= strlen(envelope_tail);
        im->body.buf[im->body.len] = '\0';
    }
    if (rc == 0) {
        size_t first = im->nresend;
        rc = take_result(im, resp, lo, hi);
        json_decref(resp);
        /* Rows whose outcome is unknown (leadership changed), one by one,
         * after a pause for the election. */
        for (size_t j = first; rc == 0 && j < im->nresend; j++) {
            if (j == first)
                usleep(500000);
            im->resends++;
            rc = send_range(im, im->resend[j], im->resend[j] + 1);
        }
        im->nresend = first;
        return rc;
    }
    if (im->conn.status == 503 && im->conn.outcome_unknown) {
        /* The leader may have written part of the batch.  Rows with an id
         * go again one by one (safe); the others are reported, since
         * sending them again could make duplicates. */
        rc = 0;
        for (size_t r = lo; rc == 0 && r < hi; r++)
            rc = im->hasid[r]
                     ? send_range(im, r, r + 1)
                     : reject(im, im->line[r],
                              "outcome unknown: the node lost its leader "
                              "while writing; check whether the article "
                              "exists before importing this row again");
        return rc < 0 ? rc : 0;
    }
    if (im->conn.status == 413 && hi - lo > 1) {
        /* The node takes less than we send: halve until it fits. */
        size_t mid = lo + (hi - lo) / 2;
        rc = send_range(im, lo, mid);
        return rc < 0 ? rc : send_range(im, mid, hi);
    }
    if (im->conn.status == 413)
        return reject(im, im->line[lo],
                      "too large for the node's request limit (HTTP 413)");
    return send_failed(im, lo, hi, rc);
}

/* Sends the batch being filled, if any, and starts an empty one. */
static int flush_batch(struct importer *im)
{
    int rc = 0;

    if (im->n > 0)
        rc = send_range(im, 0, im->n);
    im->n = 0;
    im->body.len = 0;
    if (im->body.buf != NULL)
        im->body.buf[0] = '\0';
    progress_draw(im);
    return rc;
}

/* Makes room for more articles in the batch's index arrays. */
static int grow_batch(struct importer *im)
{
    size_t cap = im->cap != 0 ? im->cap * 2 : 256;
    size_t *o, *l;
    long *ln;

    if ((o = reallocarray(im->off, cap, sizeof *o)) == NULL)
        return fatal_nomem(im);
    im->off = o;
    if ((l = reallocarray(im->len, cap, sizeof *l)) == NULL)
        return fatal_nomem(im);
    im->len = l;
    if ((ln = reallocarray(im->line, cap, sizeof *ln)) == NULL)
        return fatal_nomem(im);
    im->line = ln;
    if ((o = reallocarray(im->resend, cap, sizeof *o)) == NULL)
        return fatal_nomem(im);
    im->resend = o;
    {
        bool *h = reallocarray(im->hasid, cap, sizeof *h);
        if (h == NULL)
            return fatal_nomem(im);
        im->hasid = h;
    }
    im->cap = cap;
    return 0;
}

/* Queues a checked article from row line: serialised into the batch (the
 * caller keeps a), which is sent first when the article would not fit. */
static int add_article(struct importer *im, json_t *a, long line)
{
    char *text;
    size_t len;
    int rc = 0;

    text = json_dumps(a, JSON_COMPACT);
    if (text == NULL)
        return fatal_nomem(im);
    len = strlen(text);
    if (len + strlen(im->head) + sizeof envelope_tail > IMPORT_BODY_MAX) {
        char msg[120];
        snprintf(msg, sizeof msg,
                 "article is %zu bytes of JSON, more than "
                 "one request may carry",
                 len);
        free(text);
        return reject(im, line, msg);
    }
    im->valid++;
    if (im->dry_run) {
        free(text);
        return 0;
    }
    if (im->n > 0 &&
        (im->n == im->batch_max ||
         im->body.len + 1 + len + sizeof envelope_tail > IMPORT_BODY_MAX))
        rc = flush_batch(im);
    if (rc < 0) {
        free(text);
        return rc;
    }
    if (im->n == im->cap && grow_batch(im) < 0) {
        free(text);
        return im->rc;
    }
    if (im->n == 0)
        strbuf_puts(&im->body, im->head);
    else
        strbuf_putc(&im->body, ',');
    im->off[im->n] = im->body.len;
    im->len[im->n] = len;
    im->line[im->n] = line;
    {
        const char *id = json_string_value(json_object_get(a, "id"));
        im->hasid[im->n] = id != NULL && id[0] != '\0';
    }
    strbuf_append(&im->body, text, len);
    free(text);
    if (!strbuf_ok(&im->body))
        return fatal_nomem(im);
    im->n++;
    return 0;
}

/* Checks a row's article and queues it, or rejects the row. */
static int take_article(struct importer *im, json_t *a, long line)
{
    char msg[300];
    int rc;

    if (!kb_article_check(a, msg, sizeof msg))
        rc = reject(im, line, msg);
    else
        rc = add_article(im, a, line);
    return rc;
}

/* The reader's callbacks. */
static struct importer *importer_of(struct kb_rows *r)
{
    return (struct importer *)((char *)r - offsetof(struct importer, src));
}

static int on_article(struct kb_rows *r, json_t *a, long line)
{
    return take_article(importer_of(r), a, line);
}

static int on_bad(struct kb_rows *r, long line, const char *msg)
{
    return reject(importer_of(r), line, msg);
}

static void on_tick(struct kb_rows *r)
{
    progress_draw(importer_of(r));
}

/* ------------------------------------------------------------ reporting */

static int by_line(const void *a, const void *b)
{
    const struct reject *x = a, *y = b;

    return x->line < y->line ? -1 : x->line > y->line;
}

static int report(struct importer *im, double secs)
{
    size_t i;

    if (im->nrej > 1)
        qsort(im->rej, im->nrej, sizeof *im->rej, by_line);
    if (im->ctx->json) {
        json_t *doc, *arr = json_array();
        int rc;

        if (arr == NULL)
            return fatal_nomem(im);
        for (i = 0; i < im->nrej; i++) {
            json_t *r =
                json_pack("{s:I, s:s}", "line", (json_int_t)im->rej[i].line,
                          "error", im->rej[i].error);
            if (r == NULL || json_array_append_new(arr, r) != 0) {
                json_decref(arr);
                return fatal_nomem(im);
            }
        }
        doc = json_pack(
            "{s:I, s:o, s:I, s:I, s:I}", "imported", (json_int_t)im->imported,
            "rejected", arr, "created", (json_int_t)im->created, "updated",
            (json_int_t)im->updated, "unchanged", (json_int_t)im->unchanged);
        if (doc != NULL && im->dry_run &&
            (json_object_set_new(doc, "valid", json_integer(im->valid)) != 0 ||
             json_object_set_new(doc, "dry_run", json_true()) != 0)) {
            json_decref(doc);
            doc = NULL;
        }
        if (doc == NULL)
            return fatal_nomem(im);
        rc = out_json(doc, im->err);
        json_decref(doc);
        if (rc < 0)
            return im->rc = rc;
    } else if (im->dry_run) {
        out_line("checked %ld rows: %ld good, %zu rejected (dry run: nothing "
                 "sent); %.1f s",
                 im->src.rows, im->valid, im->nrej, secs);
    } else {
        out_line("imported %ld of %ld rows (%ld created, %ld updated, %ld "
                 "unchanged), %zu rejected; %.1f s, %.0f rows/s",
                 im->imported, im->src.rows, im->created, im->updated,
                 im->unchanged, im->nrej, secs,
                 secs > 0 ? (double)im->src.rows / secs : 0.0);
    }
    if (!im->ctx->json)
        for (i = 0; i < im->nrej; i++)
            out_line("line %ld: %s", im->rej[i].line, im->rej[i].error);
    if (im->nrej > 0)
        return im->rc = cli_err_set(im->err, CLI_EREFUSED,
                                    "%zu of %ld rows rejected", im->nrej,
                                    im->src.rows);
    return 0;
}

/* ------------------------------------------------------------- command */

static int pick_format(const char *file, const char *flag,
                       enum import_format *fmt, struct cli_err *err)
{
    static const struct {
        const char *name;
        enum import_format fmt;
    } names[] = {{"jsonl", FMT_JSONL},
                 {"json", FMT_JSONL},
                 {"ndjson", FMT_JSONL},
                 {"jl", FMT_JSONL},
                 {"csv", FMT_CSV}};
    const char *ext = flag;
    size_t i;

    if (ext == NULL) {
        const char *slash = strrchr(file, '/');
        ext = strrchr(slash != NULL ? slash : file, '.');
        ext = ext != NULL ? ext + 1 : "";
    }
    for (i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(ext, names[i].name) == 0) {
            *fmt = names[i].fmt;
            return 0;
        }
    if (flag != NULL)
        return cli_err_set(err, CLI_EUSAGE,
                           "--format must be jsonl or csv, not '%s'", flag);
    return cli_err_set(err, CLI_EUSAGE,
                       "cannot tell the format of '%s' from its name: give "
                       "--format jsonl or --format csv",
                       file);
}

int cmd_kb_import(struct cli_ctx *ctx, int argc, char **argv,
                  struct cli_err *err)
{
    struct args_opt opts[] = {
        {"format", true, NULL},   {"status", true, NULL}, {"batch", true, NULL},
        {"dry-run", false, NULL}, {NULL, false, NULL},
    };
    const char *pos[1], *status;
    enum import_format fmt = FMT_JSONL;
    struct importer im;
    struct stat sb;
    FILE *f;
    long batch = IMPORT_BATCH_MAX;
    double secs;
    size_t i;
    int npos, rc;

    rc = args_parse(ctx, argc, argv, opts, pos, 1, &npos, err);
    if (rc < 0)
        return rc;
    if (npos < 1)
        return cli_err_set(err, CLI_EUSAGE, "kb import needs a FILE");
    if (strcmp(pos[0], "-") == 0 && args_get(opts, "format") == NULL)
        return cli_err_set(err, CLI_EUSAGE,
                           "kb import - (stdin) needs --format jsonl or csv");
    rc = pick_format(pos[0], args_get(opts, "format"), &fmt, err);
    if (rc < 0)
        return rc;
    status = args_get(opts, "status");
    if (status != NULL && !kb_status_valid(status))
        return cli_err_set(err, CLI_EUSAGE,
                           "--status must be draft, review, "
                           "published or retired");
    if (args_get(opts, "batch") != NULL &&
        kb_parse_count("--batch", args_get(opts, "batch"), 1, IMPORT_BATCH_MAX,
                       &batch, err) < 0)
        return CLI_EUSAGE;

    memset(&im, 0, sizeof im);
    im.ctx = ctx;
    im.err = err;
    im.name = pos[0];
    im.default_status = status;
    /* The node applies it to new articles whose row has no status; an
     * article that exists keeps its status unless the row gives one. */
    if (status != NULL)
        snprintf(im.head, sizeof im.head,
                 "{\"default_status\":\"%s\",\"articles\":[", status);
    else
        snprintf(im.head, sizeof im.head, "{\"articles\":[");
    im.batch_max = (size_t)batch;
    im.dry_run = args_get(opts, "dry-run") != NULL;
    strbuf_init(&im.body);

    f = strcmp(pos[0], "-") == 0 ? stdin : fopen(pos[0], "rb");
    if (f == NULL)
        return cli_err_set(err, CLI_ELOCAL, "cannot open %s: %s", pos[0],
                           strerror(errno));
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode))
        im.size = (long long)sb.st_size;
    if (!im.dry_run) {
        rc = api_open(&im.conn, ctx, 0, err);
        if (rc < 0) {
            if (f != stdin)
                fclose(f);
            return rc;
        }
        im.conn_open = true;
        im.conn.timeout_ms = IMPORT_TIMEOUT_MS;
    }
    im.progress = isatty(STDERR_FILENO);
    im.t0 = now_s();

    im.src.article = on_article;
    im.src.bad = on_bad;
    im.src.tick = on_tick;
    im.src.err = err;
    im.src.name = pos[0];
    rc = fmt == FMT_CSV ? kb_read_csv(f, &im.src) : kb_read_jsonl(f, &im.src);
    if (rc == 0)
        rc = flush_batch(&im);
    if (f != stdin)
        fclose(f);
    progress_clear(&im);
    secs = now_s() - im.t0;
    if (rc == 0)
        rc = report(&im, secs);

    if (im.conn_open)
        api_close(&im.conn);
    for (i = 0; i < im.nrej; i++)
        free(im.rej[i].error);
    free(im.rej);
    free(im.off);
    free(im.len);
    free(im.line);
    free(im.resend);
    free(im.hasid);
    strbuf_close(&im.body);
    return rc;
}
