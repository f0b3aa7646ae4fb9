/* What `gridesk login` leaves behind for later commands, under
 * $XDG_CONFIG_HOME/gridesk (default ~/.config/gridesk, mode 0700):
 *   token         the bearer token and a newline, mode 0600
 *   session.json  {"node": URL, "user": NAME}, mode 0600
 * Files are replaced atomically (write a temporary file, then rename). */
#ifndef GD_CLI_SESSION_H
#define GD_CLI_SESSION_H

#include "cli/cli.h"

struct session {
    char *node;  /* saved node URL or NULL; owned */
    char *user;  /* saved user name or NULL; owned */
    char *token; /* saved token or NULL; owned */
};

/* Loads whatever was saved into s (embedded by the caller; release with
 * session_close()).  Missing files leave fields NULL and are not errors;
 * an unreadable session.json is reported on stderr and ignored.  Returns 0
 * or CLI_ENOMEM / CLI_ELOCAL with err filled. */
int session_load(struct session *s, struct cli_err *err);

/* Saves s->token to the token file and s->node, s->user to session.json,
 * creating the directory.  Returns 0 or CLI_ELOCAL with err filled. */
int session_save(const struct session *s, struct cli_err *err);

void session_close(struct session *s);

#endif
