/* Readers for `kb import`: turn a JSON Lines or CSV file into article
 * objects, one per row, each with the line of the file it starts on, and
 * hand them (or the reason a row cannot be an article) to a struct
 * kb_rows.  They stream: one line or CSV record is held at a time.  CSV is
 * parsed with libcsv (quoted fields may span lines, "" is a quote); the
 * header row names the columns, in English or as a spreadsheet of the
 * business would (标题, 分类, 故障描述, ...); a UTF-8 byte-order mark is
 * skipped; keywords cells split on ; ； | , ， and newlines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <csv.h>
#include <jansson.h>

#include "cli/cli.h"
#include "cli/kb.h"

/* ---------------------------------------------------------- JSON Lines */

static bool blank_line(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static int jsonl_row(struct kb_rows *r, const char *s, size_t n, long line)
{
    json_error_t je;
    json_t *a;
    char msg[300];
    int rc;

    if (blank_line(s, n))
        return 0;
    r->rows++;
    if (n > KB_ROW_MAX)
        return r->bad(r, line, "line longer than 8 MiB");
    a = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
    if (a == NULL) {
        size_t skip = strspn(s, " \t");
        if (skip < n && s[skip] == '[')
            return r->bad(r, line,
                          "a JSON array: kb import wants one "
                          "article object per line (JSON Lines)");
        snprintf(msg, sizeof msg, "bad JSON: %s (column %d)", je.text,
                 je.column);
        return r->bad(r, line, msg);
    }
    if (json_is_array(a)) {
        json_decref(a);
        return r->bad(r, line,
                      "a JSON array: kb import wants one article object "
                      "per line (JSON Lines)");
    }
    rc = r->article(r, a, line);
    json_decref(a);
    return rc;
}

int kb_read_jsonl(FILE *f, struct kb_rows *r)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    long line = 0;
    int rc = 0;

    while (rc == 0 && (got = getline(&buf, &cap, f)) >= 0) {
        const char *s = buf;
        size_t n = (size_t)got;

        line++;
        r->done += got;
        if (line == 1 && n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
            s += 3, n -= 3; /* a byte-order mark */
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
            n--;
        rc = jsonl_row(r, s, n, line);
        if ((line & 255) == 0 && r->tick != NULL)
            r->tick(r);
    }
    if (rc == 0 && ferror(f))
        rc = cli_err_set(r->err, CLI_ELOCAL, "reading %s: %s", r->name,
                         strerror(errno));
    free(buf);
    return rc;
}

/* ------------------------------------------------------------------ CSV */

enum csv_field {
    CF_NONE = -1, /* a column without a name: must stay empty */
    CF_ID,
    CF_TITLE,
    CF_CATEGORY,
    CF_FAULT,
    CF_CAUSE,
    CF_SOLUTION,
    CF_SCRIPT,
    CF_KEYWORDS,
    CF_STATUS,
    CF_REGION,
    CF_SOURCES,
    CF_NOTE,
    CF__COUNT
};

/* Column names (and the Chinese ones a spreadsheet may carry). */
static const struct {
    const char *name;
    enum csv_field field;
} csv_names[] = {
    {"id", CF_ID},
    {"编号", CF_ID},
    {"title", CF_TITLE},
    {"标题", CF_TITLE},
    {"category", CF_CATEGORY},
    {"分类", CF_CATEGORY},
    {"fault", CF_FAULT},
    {"故障描述", CF_FAULT},
    {"cause", CF_CAUSE},
    {"原因分析", CF_CAUSE},
    {"solution", CF_SOLUTION},
    {"解决方案", CF_SOLUTION},
    {"script", CF_SCRIPT},
    {"应答话术", CF_SCRIPT},
    {"keywords", CF_KEYWORDS},
    {"keyword", CF_KEYWORDS},
    {"关键词", CF_KEYWORDS},
    {"status", CF_STATUS},
    {"状态", CF_STATUS},
    {"region", CF_REGION},
    {"地区", CF_REGION},
    {"sources", CF_SOURCES},
    {"来源", CF_SOURCES},
    {"note", CF_NOTE},
};

/* JSON member of each field (CF_ order). */
static const char *const csv_members[CF__COUNT] = {
    "id",     "title",    "category", "fault",  "cause",   "solution",
    "script", "keywords", "status",   "region", "sources", "note",
};

struct csv_state {
    struct kb_rows *r;
    int rc; /* first error of a callback: stops the reading */
    struct csv_parser p;
    bool p_open;
    char **cells; /* the current record's fields */
    size_t *cell_len;
    size_t ncells, cap;
    bool failed; /* allocation failed inside a callback */
    /* The header. */
    bool have_header;
    enum csv_field *col;
    size_t ncols;
    /* Where the current record started. */
    long line, rec_line;
    bool rec_open;
    size_t rec_bytes;
};

static int cs_nomem(struct csv_state *cs)
{
    if (cs->rc == 0)
        cs->rc = cli_err_set(cs->r->err, CLI_ENOMEM, "out of memory");
    return cs->rc;
}

/* Reports the current record as a bad row. */
static int cs_bad(struct csv_state *cs, const char *msg)
{
    int rc = cs->r->bad(cs->r, cs->rec_line, msg);

    if (rc < 0 && cs->rc == 0)
        cs->rc = rc;
    return rc;
}

static void csv_cells_clear(struct csv_state *cs)
{
    size_t i;

    for (i = 0; i < cs->ncells; i++)
        free(cs->cells[i]);
    cs->ncells = 0;
}

static void on_field(void *data, size_t len, void *st)
{
    struct csv_state *cs = st;
    char *copy;

    if (cs->failed)
        return;
    if (cs->ncells == cs->cap) {
        size_t cap = cs->cap != 0 ? cs->cap * 2 : 16;
        char **c = reallocarray(cs->cells, cap, sizeof *c);
        size_t *l;
        if (c == NULL) {
            cs->failed = true;
            return;
        }
        cs->cells = c;
        l = reallocarray(cs->cell_len, cap, sizeof *l);
        if (l == NULL) {
            cs->failed = true;
            return;
        }
        cs->cell_len = l;
        cs->cap = cap;
    }
    copy = malloc(len + 1);
    if (copy == NULL) {
        cs->failed = true;
        return;
    }
    if (len > 0)
        memcpy(copy, data, len);
    copy[len] = '\0';
    cs->cells[cs->ncells] = copy;
    cs->cell_len[cs->ncells] = len;
    cs->ncells++;
}

/* s[0..n) without blanks around it: *start and the new length. */
static size_t trim(const char *s, size_t n, size_t *start)
{
    size_t a = 0;

    while (a < n &&
           (s[a] == ' ' || s[a] == '\t' || s[a] == '\r' || s[a] == '\n'))
        a++;
    while (n > a && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' ||
                     s[n - 1] == '\n'))
        n--;
    *start = a;
    return n - a;
}

/* The header record: maps each column to a field. */
static int csv_header(struct csv_state *cs)
{
    struct kb_rows *r = cs->r;
    bool seen[CF__COUNT] = {false};
    size_t i, j;

    cs->col = calloc(cs->ncells > 0 ? cs->ncells : 1, sizeof *cs->col);
    if (cs->col == NULL)
        return cs_nomem(cs);
    cs->ncols = cs->ncells;
    for (i = 0; i < cs->ncells; i++) {
        size_t a, n = trim(cs->cells[i], cs->cell_len[i], &a);
        const char *name = cs->cells[i] + a;

        if (i == 0 && n >= 3 && memcmp(name, "\xef\xbb\xbf", 3) == 0)
            name += 3, n -= 3; /* a byte-order mark */
        cs->col[i] = CF_NONE;
        if (n == 0)
            continue;
        for (j = 0; j < sizeof csv_names / sizeof csv_names[0]; j++)
            if (strlen(csv_names[j].name) == n &&
                strncasecmp(csv_names[j].name, name, n) == 0)
                break;
        if (j == sizeof csv_names / sizeof csv_names[0])
            return cs->rc = cli_err_set(
                       r->err, CLI_ELOCAL,
                       "%s line %ld: unknown column \"%.*s\" (columns: id, "
                       "title, category, fault, cause, solution, script, "
                       "keywords, status, region, sources, note)",
                       r->name, cs->rec_line, (int)(n > 60 ? 60 : n), name);
        if (seen[csv_names[j].field])
            return cs->rc = cli_err_set(r->err, CLI_ELOCAL,
                                        "%s line %ld: column \"%.*s\" appears "
                                        "twice",
                                        r->name, cs->rec_line, (int)n, name);
        seen[csv_names[j].field] = true;
        cs->col[i] = csv_names[j].field;
    }
    if (!seen[CF_TITLE] || !seen[CF_CATEGORY])
        return cs->rc = cli_err_set(r->err, CLI_ELOCAL,
                                    "%s line %ld: the header row needs the "
                                    "columns title and category",
                                    r->name, cs->rec_line);
    cs->have_header = true;
    return 0;
}

/* A "sources" cell: a JSON array, or TYPE:TITLE items split on ; ； | and
 * newlines.  Returns the array or NULL with msg filled. */
static json_t *csv_sources(const char *cell, char *msg, size_t n)
{
    json_t *arr;
    const char *p = cell;

    if (cell[strspn(cell, " \t")] == '[') {
        json_error_t je;
        arr = json_loads(cell, 0, &je);
        if (arr == NULL)
            snprintf(msg, n, "sources: bad JSON: %s", je.text);
        return arr;
    }
    arr = json_array();
    if (arr == NULL) {
        snprintf(msg, n, "out of memory");
        return NULL;
    }
    while (*p != '\0') {
        size_t len = 0, sep = 0;
        char *item;
        json_t *src;

        while (p[len] != '\0') {
            if (p[len] == ';' || p[len] == '|' || p[len] == '\n' ||
                p[len] == '\r') {
                sep = 1;
                break;
            }
            if (strncmp(p + len, "\xef\xbc\x9b", 3) == 0) {
                sep = 3;
                break;
            }
            len++;
        }
        item = strndup(p, len);
        if (item == NULL) {
            snprintf(msg, n, "out of memory");
            json_decref(arr);
            return NULL;
        }
        if (!blank_line(item, len)) {
            char why[200];
            if (kb_parse_source(item, &src, why, sizeof why) < 0 ||
                json_array_append_new(arr, src) != 0) {
                snprintf(msg, n, "sources: %s", why);
                free(item);
                json_decref(arr);
                return NULL;
            }
        }
        free(item);
        p += len + sep;
    }
    return arr;
}

/* One data record: builds the article and takes it. */
static int csv_row(struct csv_state *cs)
{
    char msg[300];
    json_t *a;
    size_t i;
    bool empty = true;
    int rc;

    for (i = 0; i < cs->ncells; i++)
        if (!blank_line(cs->cells[i], cs->cell_len[i]))
            empty = false;
    if (empty)
        return 0; /* a row of empty cells, as spreadsheets write */
    cs->r->rows++;
    if (cs->ncells > cs->ncols) {
        snprintf(msg, sizeof msg, "%zu fields, but the header has %zu",
                 cs->ncells, cs->ncols);
        return cs_bad(cs, msg);
    }
    a = json_object();
    if (a == NULL)
        return cs_nomem(cs);
    for (i = 0; i < cs->ncells; i++) {
        enum csv_field f = cs->col[i];
        size_t start, n = trim(cs->cells[i], cs->cell_len[i], &start);
        const char *cell = cs->cells[i] + start;
        json_t *v;

        if (n == 0)
            continue;
        if (f == CF_NONE) {
            snprintf(msg, sizeof msg,
                     "a value in column %zu, which has no "
                     "name in the header",
                     i + 1);
            goto bad;
        }
        if (f == CF_KEYWORDS) {
            v = json_array();
            if (v == NULL) {
                json_decref(a);
                return cs_nomem(cs);
            }
            cs->cells[i][start + n] = '\0';
            rc = kb_split_keywords(cell, v);
            if (rc == CLI_ENOMEM) {
                json_decref(v);
                json_decref(a);
                return cs_nomem(cs);
            }
            if (rc < 0) {
                json_decref(v);
                snprintf(msg, sizeof msg,
                         "column keywords is not valid "
                         "UTF-8 (save the file as UTF-8)");
                goto bad;
            }
        } else if (f == CF_SOURCES) {
            cs->cells[i][start + n] = '\0';
            v = csv_sources(cell, msg, sizeof msg);
            if (v == NULL)
                goto bad;
        } else {
            v = json_stringn(cell, n);
            if (v == NULL) {
                snprintf(msg, sizeof msg,
                         "column %s is not valid UTF-8 (save "
                         "the file as UTF-8)",
                         csv_members[f]);
                goto bad;
            }
        }
        if (json_object_set_new(a, csv_members[f], v) != 0) {
            json_decref(a);
            return cs_nomem(cs);
        }
    }
    rc = cs->r->article(cs->r, a, cs->rec_line);
    if (rc < 0 && cs->rc == 0)
        cs->rc = rc;
    json_decref(a);
    return rc;
bad:
    json_decref(a);
    return cs_bad(cs, msg);
}

static void on_record(int c, void *st)
{
    struct csv_state *cs = st;

    (void)c;
    if (cs->failed)
        return;
    if (cs->rc == 0) {
        if (!cs->have_header)
            csv_header(cs);
        else
            csv_row(cs);
    }
    csv_cells_clear(cs);
    cs->rec_open = false;
}

static int csv_open_parser(struct csv_state *cs)
{
    if (csv_init(&cs->p, CSV_APPEND_NULL) != 0)
        return cs_nomem(cs);
    cs->p_open = true;
    return 0;
}

/* Drops the record in progress (it was rejected) and starts over on the
 * next line. */
static int csv_restart(struct csv_state *cs)
{
    csv_free(&cs->p);
    cs->p_open = false;
    csv_cells_clear(cs);
    cs->rec_open = false;
    return csv_open_parser(cs);
}

int kb_read_csv(FILE *f, struct kb_rows *r)
{
    struct csv_state cs;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;

    memset(&cs, 0, sizeof cs);
    cs.r = r;
    if (csv_open_parser(&cs) < 0)
        return cs.rc;
    while (cs.rc == 0 && (got = getline(&buf, &cap, f)) >= 0) {
        const char *s = buf;
        size_t n = (size_t)got;

        cs.line++;
        r->done += got;
        if (!cs.rec_open && !blank_line(s, n)) {
            cs.rec_open = true;
            cs.rec_line = cs.line;
            cs.rec_bytes = 0;
        }
        cs.rec_bytes += n;
        if (csv_parse(&cs.p, s, n, on_field, on_record, &cs) != n) {
            /* Only allocation fails outside strict mode. */
            cs_nomem(&cs);
            break;
        }
        if (cs.failed) {
            cs_nomem(&cs);
            break;
        }
        if (cs.rec_open && cs.rec_bytes > KB_ROW_MAX) {
            r->rows++;
            cs_bad(&cs, "record longer than 8 MiB (a quote "
                        "that is never closed?)");
            if (csv_restart(&cs) < 0)
                break;
        }
        if ((cs.line & 255) == 0)
            if (r->tick != NULL)
                r->tick(r);
    }
    if (cs.rc == 0 && ferror(f))
        cs.rc = cli_err_set(r->err, CLI_ELOCAL, "reading %s: %s", r->name,
                            strerror(errno));
    if (cs.rc == 0) {
        /* At the end a quoted field still open is an error, not a row. */
        csv_set_opts(&cs.p, CSV_APPEND_NULL | CSV_STRICT | CSV_STRICT_FINI);
        if (csv_fini(&cs.p, on_field, on_record, &cs) != 0) {
            r->rows++;
            cs_bad(&cs, "a quoted field is never closed (it runs "
                        "to the end of the file)");
        } else if (cs.failed) {
            cs_nomem(&cs);
        }
    }
    if (cs.p_open)
        csv_free(&cs.p);
    csv_cells_clear(&cs);
    free(cs.cells);
    free(cs.cell_len);
    free(cs.col);
    free(buf);
    return cs.rc;
}
