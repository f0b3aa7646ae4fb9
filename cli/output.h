/* Output for people and scripts: display width of UTF-8 text (CJK
 * characters take two columns), cleaning server text for the terminal,
 * aligned tables, and the JSON printer behind --json.  Needs an UTF-8
 * LC_CTYPE (main sets C.UTF-8). */
#ifndef GD_CLI_OUTPUT_H
#define GD_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/strbuf.h"

/* Appends s to sb made safe for one terminal line: control characters
 * (newlines, tabs, escapes) become spaces, invalid UTF-8 bytes '?'.  When
 * maxw > 0 and s is wider than maxw columns, it is cut to fit with "..."
 * at the end.  Returns the display width appended. */
size_t out_clean(struct strbuf *sb, const char *s, size_t maxw);

/* Display width of s once cleaned. */
size_t out_width(const char *s);

/* Terminal width of stdout, or 0 when stdout is not a terminal and
 * $COLUMNS is not set. */
size_t out_term_width(void);

/* Text of a JSON scalar for display: strings as they are, numbers in
 * decimal, true/false, and "-" for NULL, null or "".  Arrays and objects
 * are shown compact.  Writes into buf (n bytes) unless the result is a
 * string inside v, and returns a pointer valid while v and buf live. */
const char *out_scalar(const json_t *v, char *buf, size_t n);

/* Time for display: numbers are Unix time in seconds or, when large, in
 * milliseconds and are shown as local "YYYY-MM-DD HH:MM:SS"; strings are
 * shown as they are. */
const char *out_time(const json_t *v, char *buf, size_t n);

/* Prints a printf-style line on stdout, cleaned like out_clean() (so text
 * from the server cannot move the cursor), and a newline. */
void out_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints "label" padded to labelw columns, then value cleaned for the
 * terminal; a multi-line value continues on lines indented by labelw. */
void out_field(const char *label, int labelw, const char *value);

/* Appends a search snippet to sb for one terminal line.  html is the
 * server's HTML-escaped text with matches in <em>...</em>: entities are
 * decoded, control characters become spaces, and matches are shown in bold
 * (ANSI) when bold is true, else between 【 and 】.  Cut with "..." at maxw
 * display columns when maxw > 0; a bold run is always closed.  Returns the
 * display width appended. */
size_t out_snippet(struct strbuf *sb, const char *html, size_t maxw, bool bold);

/* True when matches should be shown in bold: stdout is a terminal and
 * $NO_COLOR is not set. */
bool out_use_bold(void);

/* Prints v on stdout as indented JSON and a newline (nothing for NULL).
 * Returns 0 or CLI_ELOCAL with err filled when stdout fails. */
int out_json(const json_t *v, struct cli_err *err);

/* An aligned text table: columns separated by two spaces, each as wide as
 * its widest cell.  One column may be "flexible": it is cut (with "...")
 * so that the table fits the terminal, or maxw when the width is unknown. */
struct table;

/* Makes a table with ncols columns named by headers (copied).  Returns
 * NULL when out of memory; free with table_free(). */
struct table *table_new(int ncols, const char *const *headers);
void table_free(struct table *t);

/* Caps column col at maxw display columns (0: no cap). */
void table_set_max(struct table *t, int col, size_t maxw);

/* Makes col the flexible column; it keeps at least minw columns and at
 * most maxw when the terminal width is unknown. */
void table_set_flex(struct table *t, int col, size_t minw, size_t maxw);

/* Appends a row of ncols cells (NULL means "-"); the text is cleaned and
 * copied.  Returns 0 or CLI_ENOMEM. */
int table_add(struct table *t, const char *const *cells);

/* Gives the last row added a line of its own, printed under it and
 * indented to the second column.  text is copied verbatim (the caller made
 * it safe, e.g. with out_snippet()) and does not count in column widths.
 * Returns 0 or CLI_ENOMEM. */
int table_set_note(struct table *t, const char *text);

/* Number of rows added. */
size_t table_rows(const struct table *t);

/* Prints header and rows to f.  Returns 0 or CLI_ENOMEM. */
int table_print(const struct table *t, FILE *f);

#endif
