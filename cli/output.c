/* Display width, cleaning, tables and JSON output: see output.h.  Widths
 * come from wcwidth(3), so that a row of Chinese summaries lines up with
 * the ASCII ids beside it. */
#include "cli/output.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

/* One decoded character of s: its bytes (or a replacement), their length
 * and the display width. */
struct glyph {
    const char *bytes;
    size_t len;
    int width;
    size_t used; /* bytes of s consumed */
};

static void next_glyph(const char *s, size_t left, mbstate_t *st,
                       struct glyph *g)
{
    wchar_t wc;
    size_t n = mbrtowc(&wc, s, left, st);

    if (n == (size_t)-1 || n == (size_t)-2 || n == 0) {
        memset(st, 0, sizeof *st);
        *g = (struct glyph){"?", 1, 1, 1};
        return;
    }
    if (wc < 0x20 || wc == 0x7f || (wc >= 0x80 && wc < 0xa0)) {
        *g = (struct glyph){" ", 1, 1, n};
        return;
    }
    g->width = wcwidth(wc);
    if (g->width < 0) {
        *g = (struct glyph){"?", 1, 1, n};
        return;
    }
    g->bytes = s;
    g->len = n;
    g->used = n;
}

size_t out_width(const char *s)
{
    mbstate_t st;
    size_t left = strlen(s), w = 0;

    memset(&st, 0, sizeof st);
    while (left > 0) {
        struct glyph g;
        next_glyph(s, left, &st, &g);
        w += (size_t)g.width;
        s += g.used;
        left -= g.used;
    }
    return w;
}

size_t out_clean(struct strbuf *sb, const char *s, size_t maxw)
{
    static const char dots[] = "...";
    mbstate_t st;
    size_t left = strlen(s), w = 0;
    size_t fit_len = sb->len, fit_w = 0; /* last cut that leaves room */
    bool cut = maxw > 0 && out_width(s) > maxw;

    memset(&st, 0, sizeof st);
    while (left > 0) {
        struct glyph g;
        next_glyph(s, left, &st, &g);
        if (cut && w + (size_t)g.width > maxw)
            break;
        strbuf_append(sb, g.bytes, g.len);
        w += (size_t)g.width;
        s += g.used;
        left -= g.used;
        if (cut && w + 3 <= maxw) {
            fit_len = sb->len;
            fit_w = w;
        }
    }
    if (!cut)
        return w;
    /* Back up to the last point where "..." still fits. */
    if (sb->buf != NULL && strbuf_ok(sb)) {
        sb->len = fit_len;
        sb->buf[sb->len] = '\0';
    }
    if (maxw >= 3) {
        strbuf_puts(sb, dots);
        return fit_w + 3;
    }
    return fit_w;
}

size_t out_term_width(void)
{
    struct winsize ws;
    const char *cols = getenv("COLUMNS");

    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
        ws.ws_col > 0)
        return ws.ws_col;
    if (cols != NULL) {
        char *end;
        long n = strtol(cols, &end, 10);
        if (*end == '\0' && n > 0 && n < 10000)
            return (size_t)n;
    }
    return 0;
}

const char *out_scalar(const json_t *v, char *buf, size_t n)
{
    char *s;

    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_length(v) > 0 ? json_string_value(v) : "-";
    case JSON_INTEGER:
        snprintf(buf, n, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return buf;
    case JSON_REAL: snprintf(buf, n, "%g", json_real_value(v)); return buf;
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    case JSON_OBJECT:
    case JSON_ARRAY:
        s = json_dumps(v, JSON_COMPACT);
        snprintf(buf, n, "%s", s != NULL ? s : "?");
        free(s);
        return buf;
    default: return "-"; /* NULL pointer (absent) or null */
    }
}

const char *out_time(const json_t *v, char *buf, size_t n)
{
    double t;
    time_t secs;
    struct tm tm;

    if (json_is_integer(v))
        t = (double)json_integer_value(v);
    else if (json_is_real(v))
        t = json_real_value(v);
    else
        return out_scalar(v, buf, n);
    if (t > 1e11) /* past year 5138 in seconds: must be milliseconds */
        t /= 1000;
    secs = (time_t)t;
    if (localtime_r(&secs, &tm) == NULL ||
        strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        return out_scalar(v, buf, n);
    return buf;
}

void out_line(const char *fmt, ...)
{
    struct strbuf clean;
    va_list ap;
    int n;

    strbuf_init(&clean);
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0) {
        char *tmp = malloc((size_t)n + 1);
        if (tmp != NULL) {
            va_start(ap, fmt);
            vsnprintf(tmp, (size_t)n + 1, fmt, ap);
            va_end(ap);
            out_clean(&clean, tmp, 0);
            strbuf_putc(&clean, '\n');
            if (strbuf_ok(&clean))
                fputs(clean.buf, stdout);
            free(tmp);
        }
    }
    strbuf_close(&clean);
}

void out_field(const char *label, int labelw, const char *value)
{
    struct strbuf sb;
    const char *line = value;

    strbuf_init(&sb);
    strbuf_printf(&sb, "%-*s", labelw, label);
    for (;;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl != NULL ? (size_t)(nl - line) : strlen(line);
        char *one = strndup(line, n);
        if (one == NULL) {
            sb.failed = true;
            break;
        }
        out_clean(&sb, one, 0);
        free(one);
        strbuf_putc(&sb, '\n');
        if (nl == NULL)
            break;
        line = nl + 1;
        strbuf_printf(&sb, "%-*s", labelw, "");
    }
    if (strbuf_ok(&sb))
        fputs(sb.buf, stdout);
    strbuf_close(&sb);
}

bool out_use_bold(void)
{
    const char *no = getenv("NO_COLOR");

    return isatty(STDOUT_FILENO) && (no == NULL || no[0] == '\0');
}

/* The character an HTML entity at s stands for, as UTF-8 in out (at least
 * 5 bytes); returns the entity's length, or 0 when s is not one. */
static size_t html_entity(const char *s, char *out)
{
    static const struct {
        const char *name;
        const char *text;
    } named[] = {{"&lt;", "<"},    {"&gt;", ">"},   {"&amp;", "&"},
                 {"&quot;", "\""}, {"&apos;", "'"}, {"&nbsp;", " "}};
    const char *semi;
    unsigned long cp;
    char *end;
    size_t i;

    for (i = 0; i < sizeof named / sizeof named[0]; i++) {
        size_t n = strlen(named[i].name);
        if (strncmp(s, named[i].name, n) == 0) {
            strcpy(out, named[i].text);
            return n;
        }
    }
    if (s[1] != '#' || (semi = strchr(s, ';')) == NULL || semi - s > 10)
        return 0;
    errno = 0;
    if (s[2] == 'x' || s[2] == 'X')
        cp = strtoul(s + 3, &end, 16);
    else
        cp = strtoul(s + 2, &end, 10);
    if (end != semi || end == s + 2 || errno != 0 || cp == 0 || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = '\0';
    } else if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        out[2] = '\0';
    } else if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        out[3] = '\0';
    } else {
        out[0] = (char)(0xf0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        out[4] = '\0';
    }
    return (size_t)(semi - s) + 1;
}

/* The snippet as plain text (entities decoded, tags dropped) in plain, and
 * for each byte of plain whether a match starts or ends there. */
struct snippet_text {
    struct strbuf plain;
    struct strbuf mark; /* one byte per byte of plain: bit 1 open, 2 close */
};

static void snippet_decode(const char *html, struct snippet_text *st)
{
    unsigned char pending = 0; /* marks for the next byte of plain */
    int depth = 0;

    while (*html != '\0') {
        char ent[8];
        size_t n;

        if (strncmp(html, "<em>", 4) == 0) {
            if (depth++ == 0)
                pending |= 1;
            html += 4;
            continue;
        }
        if (strncmp(html, "</em>", 5) == 0) {
            if (depth > 0 && --depth == 0) {
                if (pending & 1)
                    pending &= (unsigned char)~1; /* empty match */
                else
                    pending |= 2;
            }
            html += 5;
            continue;
        }
        if (*html == '&' && (n = html_entity(html, ent)) > 0) {
            size_t k, len = strlen(ent);
            for (k = 0; k < len; k++) {
                strbuf_putc(&st->plain, ent[k]);
                strbuf_putc(&st->mark, (char)(k == 0 ? pending : 0));
            }
            pending = 0;
            html += n;
            continue;
        }
        strbuf_putc(&st->plain, *html++);
        strbuf_putc(&st->mark, (char)pending);
        pending = 0;
    }
    /* A match still open at the end is closed by out_snippet(). */
}

size_t out_snippet(struct strbuf *sb, const char *html, size_t maxw, bool bold)
{
    static const char on_bold[] = "\033[1m", off_bold[] = "\033[0m";
    const char *on = bold ? on_bold : "\xe3\x80\x90";   /* 【 */
    const char *off = bold ? off_bold : "\xe3\x80\x91"; /* 】 */
    size_t mark_w = bold ? 0 : 2;
    struct snippet_text st;
    struct strbuf probe;
    const char *s;
    size_t left, i = 0, w = 0, total;
    bool open = false, cut;
    mbstate_t mb;

    strbuf_init(&st.plain);
    strbuf_init(&st.mark);
    snippet_decode(html, &st);
    if (!strbuf_ok(&st.plain) || !strbuf_ok(&st.mark)) {
        sb->failed = true;
        goto out;
    }
    /* Width of the whole thing, markers included, decides the cut. */
    strbuf_init(&probe);
    total = out_clean(&probe, strbuf_str(&st.plain), 0);
    strbuf_close(&probe);
    for (i = 0; i < st.mark.len; i++)
        if (st.mark.buf[i] & 1)
            total += 2 * mark_w;
    cut = maxw > 0 && total > maxw;

    s = strbuf_str(&st.plain);
    left = strlen(s);
    memset(&mb, 0, sizeof mb);
    for (i = 0; left > 0;) {
        struct glyph g;
        unsigned char m = (unsigned char)st.mark.buf[i];
        size_t need;

        next_glyph(s, left, &mb, &g);
        if ((m & 2) && open) {
            strbuf_puts(sb, off);
            w += mark_w;
            open = false;
        }
        need = (size_t)g.width + ((m & 1) ? 2 * mark_w : 0);
        if (cut && w + need + (open ? mark_w : 0) + 3 > maxw)
            break;
        if (m & 1) {
            strbuf_puts(sb, on);
            w += mark_w;
            open = true;
        }
        strbuf_append(sb, g.bytes, g.len);
        w += (size_t)g.width;
        s += g.used;
        i += g.used;
        left -= g.used;
    }
    if (open) {
        strbuf_puts(sb, off);
        w += mark_w;
    }
    if (cut) {
        strbuf_puts(sb, "...");
        w += 3;
    }
out:
    strbuf_close(&st.plain);
    strbuf_close(&st.mark);
    return w;
}

int out_json(const json_t *v, struct cli_err *err)
{
    if (v == NULL)
        return 0;
    if (json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) != 0 ||
        putchar('\n') == EOF)
        return cli_err_set(err, CLI_ELOCAL, "writing to stdout: %s",
                           strerror(errno));
    return 0;
}

struct table {
    int ncols;
    char **headers;
    size_t *maxw; /* per column, 0 = no cap */
    int flex;     /* flexible column or -1 */
    size_t flex_min, flex_max;
    char **cells; /* rows * ncols cleaned strings */
    char **notes; /* per row: a line printed under it, or NULL */
    size_t rows, cap;
};

struct table *table_new(int ncols, const char *const *headers)
{
    struct table *t = calloc(1, sizeof *t);
    int i;

    if (t == NULL)
        return NULL;
    t->ncols = ncols;
    t->flex = -1;
    t->headers = calloc((size_t)ncols, sizeof *t->headers);
    t->maxw = calloc((size_t)ncols, sizeof *t->maxw);
    if (t->headers == NULL || t->maxw == NULL) {
        table_free(t);
        return NULL;
    }
    for (i = 0; i < ncols; i++) {
        t->headers[i] = strdup(headers[i]);
        if (t->headers[i] == NULL) {
            table_free(t);
            return NULL;
        }
    }
    return t;
}

void table_free(struct table *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; t->headers != NULL && i < (size_t)t->ncols; i++)
        free(t->headers[i]);
    for (i = 0; i < t->rows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    for (i = 0; t->notes != NULL && i < t->rows; i++)
        free(t->notes[i]);
    free(t->notes);
    free(t->headers);
    free(t->maxw);
    free(t->cells);
    free(t);
}

void table_set_max(struct table *t, int col, size_t maxw)
{
    t->maxw[col] = maxw;
}

void table_set_flex(struct table *t, int col, size_t minw, size_t maxw)
{
    t->flex = col;
    t->flex_min = minw;
    t->flex_max = maxw;
}

size_t table_rows(const struct table *t)
{
    return t->rows;
}

int table_add(struct table *t, const char *const *cells)
{
    size_t base = t->rows * (size_t)t->ncols;
    int i;

    if (t->rows == t->cap) {
        size_t cap = t->cap != 0 ? t->cap * 2 : 16;
        char **p = reallocarray(t->cells, cap * (size_t)t->ncols, sizeof *p);
        char **n;
        if (p == NULL)
            return CLI_ENOMEM;
        t->cells = p;
        n = reallocarray(t->notes, cap, sizeof *n);
        if (n == NULL)
            return CLI_ENOMEM;
        memset(n + t->cap, 0, (cap - t->cap) * sizeof *n);
        t->notes = n;
        t->cap = cap;
    }
    for (i = 0; i < t->ncols; i++) {
        struct strbuf sb;
        strbuf_init(&sb);
        out_clean(&sb, cells[i] != NULL ? cells[i] : "-", 0);
        t->cells[base + (size_t)i] = strbuf_take(&sb);
        if (t->cells[base + (size_t)i] == NULL) {
            while (i-- > 0)
                free(t->cells[base + (size_t)i]);
            return CLI_ENOMEM;
        }
    }
    t->rows++;
    return 0;
}

int table_set_note(struct table *t, const char *text)
{
    char *copy;

    if (t->rows == 0)
        return 0;
    copy = strdup(text);
    if (copy == NULL)
        return CLI_ENOMEM;
    free(t->notes[t->rows - 1]);
    t->notes[t->rows - 1] = copy;
    return 0;
}

/* Column widths for printing, honouring caps and the flexible column. */
static void table_widths(const struct table *t, size_t *w)
{
    size_t r, total = 0, term = out_term_width();
    int c;

    for (c = 0; c < t->ncols; c++) {
        w[c] = out_width(t->headers[c]);
        for (r = 0; r < t->rows; r++) {
            size_t cw = out_width(t->cells[r * (size_t)t->ncols + (size_t)c]);
            if (cw > w[c])
                w[c] = cw;
        }
        if (t->maxw[c] > 0 && w[c] > t->maxw[c])
            w[c] = t->maxw[c];
        if (c != t->flex)
            total += w[c] + 2;
    }
    if (t->flex >= 0) {
        size_t room = term > total + t->flex_min ? term - total : t->flex_min;
        if (term == 0)
            room = t->flex_max;
        if (w[t->flex] > room)
            w[t->flex] = room;
    }
}

static void table_line(const struct table *t, char *const *cells,
                       const size_t *w, struct strbuf *sb)
{
    int c;

    for (c = 0; c < t->ncols; c++) {
        size_t used = out_clean(sb, cells[c], w[c]);
        if (c == t->ncols - 1)
            break;
        while (used++ < w[c] + 2)
            strbuf_putc(sb, ' ');
    }
    /* Trailing blanks of empty last cells help nobody. */
    while (sb->len > 0 && sb->buf[sb->len - 1] == ' ')
        sb->buf[--sb->len] = '\0';
    strbuf_putc(sb, '\n');
}

int table_print(const struct table *t, FILE *f)
{
    size_t *w = calloc((size_t)t->ncols, sizeof *w);
    struct strbuf sb;
    size_t r;
    int rc = 0;

    if (w == NULL)
        return CLI_ENOMEM;
    strbuf_init(&sb);
    table_widths(t, w);
    table_line(t, t->headers, w, &sb);
    for (r = 0; r < t->rows; r++) {
        table_line(t, t->cells + r * (size_t)t->ncols, w, &sb);
        if (t->notes[r] != NULL && t->notes[r][0] != '\0')
            strbuf_printf(&sb, "%*s%s\n", t->ncols > 1 ? (int)w[0] + 2 : 0, "",
                          t->notes[r]);
    }
    if (!strbuf_ok(&sb))
        rc = CLI_ENOMEM;
    else
        fwrite(sb.buf, 1, sb.len, f);
    strbuf_close(&sb);
    free(w);
    return rc;
}
