/* Project-wide error codes and the error struct that carries a message to a
 * user.  Every module returns 0 or one of these negative codes; the HTTP layer
 * maps them to statuses in one place (node/api.c). */
#ifndef GD_ERROR_H
#define GD_ERROR_H

enum gd_code {
    GD_OK = 0,
    GD_EINVAL = -1,    /* bad input: 400 */
    GD_ENOTFOUND = -2, /* 404 */
    GD_ECONFLICT = -3, /* state does not allow it: 409 */
    GD_ENOMEM = -4,    /* 500 */
    GD_EIO = -5,       /* storage or network I/O: 500 */
    GD_ETOOBIG = -6,   /* over a documented limit: 413 */
    GD_EAUTH = -7,     /* no or bad credentials: 401 */
    GD_EPERM = -8,     /* authenticated but not allowed: 403 */
    GD_EUNAVAIL = -9,  /* no leader, shutting down, try again: 503 */
    GD_ECORRUPT = -10, /* stored or received bytes do not decode: 500 */
};

#define GD_ERR_MSG_MAX 200

/* Filled by a callee for a message a person can act on. */
struct gd_err {
    int code;
    char msg[GD_ERR_MSG_MAX];
};

/* Sets err (which may be NULL) to code and a printf-style message; returns
 * code so that callers can write `return gd_err_set(err, GD_EINVAL, ...)`. */
int gd_err_set(struct gd_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Stable machine name of a code, used as "code" in API errors:
 * "invalid_argument", "not_found", "conflict", "no_memory", "io_error",
 * "too_large", "unauthorized", "forbidden", "unavailable", "corrupt";
 * "internal" for anything else.  Never NULL. */
const char *gd_code_name(int code);

#endif
