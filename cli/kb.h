/* Pieces shared by the knowledge-base commands (cmd_kb.c, cmd_kb_search.c,
 * cmd_kb_import.c) and `ticket suggest`: the limits of docs/API.md
 * "Knowledge base", the local article check that runs before an import,
 * request bodies built from the field flags, and the search listing. */
#ifndef GD_CLI_KB_H
#define GD_CLI_KB_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/strbuf.h"

/* Limits from docs/API.md, in bytes unless said otherwise. */
#define KB_ID_MAX 64
#define KB_TITLE_MAX 200
#define KB_CATEGORY_MAX 200
#define KB_BODY_MAX 16000  /* each of fault, cause, solution, script */
#define KB_KEYWORDS_MAX 32 /* keywords per article */
#define KB_KEYWORD_MAX 64
#define KB_SOURCES_MAX 16
#define KB_REGION_MAX 64 /* not in the contract: a sanity bound */

/* Width of the labels in `kb show` and `kb proposals ID`. */
#define KB_LABEL_W 11

/* The repeatable field flags (--keyword, --source), collected in order by
 * kb_flags_each() while the command line is parsed.  Embedded by the
 * caller, zeroed before use, released with kb_flags_close(). */
struct kb_flags {
    json_t *keywords; /* array of strings; NULL when no --keyword given */
    json_t *sources;  /* array of {"type","title"}; NULL when no --source */
};

/* An args_each_fn: collects --keyword and --source into data (a struct
 * kb_flags).  --keyword '' stands for "no keywords" (an empty list). */
int kb_flags_each(const struct args_opt *o, const char *value, void *data,
                  struct cli_err *err);
void kb_flags_close(struct kb_flags *f);

/* What a body is for: fields and --file handling differ. */
enum kb_body_kind {
    KB_BODY_ADD,     /* POST /v1/kb/articles */
    KB_BODY_EDIT,    /* PATCH /v1/kb/articles/{id} */
    KB_BODY_PROPOSE, /* POST /v1/kb/proposals */
};

/* Builds a request body from --file (an article or proposal as `--json`
 * prints it: fields the server manages are dropped) and then the field
 * flags in opts, which win.  Text flags (fault, cause, solution, script,
 * note, reason) take "@PATH" to read the text from a file ("@-": stdin,
 * "@@x": the literal "@x").  For KB_BODY_EDIT a "version" from the file is
 * kept as the optimistic-concurrency version and an "id" must be edit_id.
 * On success *out is an object the caller json_decref()s; returns 0,
 * CLI_EUSAGE, CLI_ELOCAL or CLI_ENOMEM with err filled. */
int kb_body_from_flags(enum kb_body_kind kind, const struct args_opt *opts,
                       const struct kb_flags *f, const char *edit_id,
                       json_t **out, struct cli_err *err);

/* The JSON string for the value of text flag --flag: "@PATH" reads the
 * file ("@-": stdin; one final newline dropped), "@@x" is the literal "@x".
 * Returns 0, CLI_EUSAGE (invalid UTF-8, too large) or CLI_ELOCAL. */
int kb_flag_text(const char *flag, const char *value, json_t **out,
                 struct cli_err *err);

/* Checks an article object as POST /v1/kb/import takes it (the rules of
 * docs/API.md: known fields only, types, required title and category, at
 * least one body field, lengths, id characters, status and source types)
 * and tidies it: null members and an empty id are dropped (the node
 * treats them as absent), keywords are trimmed and empty ones dropped.  Returns
 * true, or false with a one-line reason in msg. */
bool kb_article_check(json_t *a, char *msg, size_t n);

/* True for draft, review, published, retired. */
bool kb_status_valid(const char *s);

/* True for 1-64 characters of A-Z a-z 0-9 . _ - */
bool kb_id_valid(const char *s, size_t n);

/* Appends the keywords of one text cell to arr: split on ; ； | , ，
 * and newlines, trimmed, empty pieces skipped.  Returns 0, CLI_EUSAGE for
 * invalid UTF-8, CLI_ENOMEM. */
int kb_split_keywords(const char *cell, json_t *arr);

/* Parses "TYPE:TITLE" (or "TYPE：TITLE") into a new {"type","title"}
 * object in *out.  Returns 0 or CLI_EUSAGE with msg filled. */
int kb_parse_source(const char *text, json_t **out, char *msg, size_t n);

/* Appends "/v1/kb/COLLECTION/ID" + tail with ID percent-encoded.  Returns
 * 0, CLI_EUSAGE for an empty id, CLI_ENOMEM. */
int kb_path(struct strbuf *sb, const char *collection, const char *id,
            const char *tail, struct cli_err *err);

/* Opens the connection, sends one request and closes it. */
int kb_request(const struct cli_ctx *ctx, const char *method, const char *path,
               json_t *body, json_t **out, struct cli_err *err);

/* Checks a --limit style value: a decimal integer in [min, max]. */
int kb_parse_count(const char *flag, const char *s, long min, long max,
                   long *out, struct cli_err *err);

/* Prints a search-shaped result ({"items":[{"id","title","category",
 * "score","snippet",...}],"total","suggestion"}) as a ranked table with
 * each snippet under its row.  first_rank numbers the first item. */
int kb_print_hits(const json_t *resp, long first_rank, struct cli_err *err);

/* A command that GETs PREFIX + ID + TAIL [?limit=N] and prints the hits
 * with kb_print_hits(): `kb similar ID`, `ticket suggest ID`.  argv holds
 * ID and [--limit N]; what names the command in messages. */
int kb_hits_for(struct cli_ctx *ctx, int argc, char **argv, const char *prefix,
                const char *tail, const char *what, struct cli_err *err);

/* ------------------------------------------- kb_read.c: import readers */

/* Longest line (JSON Lines) or record (CSV) a reader takes as a row. */
#define KB_ROW_MAX (8u * 1024 * 1024)

/* Where a reader hands the rows of a file.  The caller sets the first
 * five members; the reader counts rows (non-blank lines, non-empty CSV
 * records) and bytes. */
struct kb_rows {
    /* A row that parsed as an object (not yet checked with
     * kb_article_check); the reader keeps its reference.  Returns 0, or a
     * negative code with err filled to stop the reading. */
    int (*article)(struct kb_rows *r, json_t *a, long line);
    /* A row that cannot be an article, and why.  Returns as article. */
    int (*bad)(struct kb_rows *r, long line, const char *msg);
    void (*tick)(struct kb_rows *r); /* now and then; may be NULL */
    struct cli_err *err;
    const char *name; /* the file, for messages */
    long rows;
    long long done; /* bytes read */
};

/* Read f to the end (or until a callback stops it).  Return 0, the
 * callback's code, CLI_ELOCAL (reading f; a CSV header with an unknown,
 * repeated or missing column) or CLI_ENOMEM, with r->err filled. */
int kb_read_jsonl(FILE *f, struct kb_rows *r);
int kb_read_csv(FILE *f, struct kb_rows *r);

/* ------------------------------------------------- kb_view.c: display */

/* Text of obj's member key for display (out_scalar). */
const char *kb_member(const json_t *obj, const char *key, char *buf, size_t n);

/* A printer for kb_request_show(): prints resp (an object) for people. */
typedef int (*kb_show_fn)(const json_t *resp, const void *arg,
                          struct cli_err *err);

/* Sends one request (kb_request) and prints the answer: its JSON with
 * --json, else through show(resp, arg, err); a non-object answer is
 * CLI_ENET for people. */
int kb_request_show(struct cli_ctx *ctx, const char *method, const char *path,
                    json_t *body, kb_show_fn show, const void *arg,
                    struct cli_err *err);

/* Appends "a, b, c" for an array of strings, or "type: title; ..." for
 * an array of sources. */
void kb_join_list(const json_t *arr, struct strbuf *sb);

/* Prints "label  value" for member key of obj (lists joined, "-" for
 * nothing); "label  TIME by WHO" from members at and by (nothing when at
 * is absent); the four body sections.  Return 0 or CLI_ENOMEM. */
int kb_show_member(const char *label, const json_t *obj, const char *key);
int kb_show_when_who(const char *label, const json_t *obj, const char *at,
                     const char *by);
int kb_show_body(const json_t *a);

/* title and category present and not empty in a request body, else
 * CLI_EUSAGE ("missing --title"). */
int kb_need_title_category(const json_t *body, struct cli_err *err);

/* The field options of add, edit and propose (each adds its own). */
#define KB_FIELD_OPTS                                                          \
    {"title", true, NULL}, {"category", true, NULL}, {"fault", true, NULL},    \
        {"cause", true, NULL}, {"solution", true, NULL},                       \
        {"script", true, NULL}, {"keyword", true, NULL},                       \
    {                                                                          \
        "file", true, NULL                                                     \
    }

struct table;

#include "cli/listing.h"

#endif
