/* Saved login state: see session.h.  The token file is kept apart from
 * session.json so that scripts can read it with `cat`, and both are
 * private to the user (0600 in a 0700 directory). */
#include "cli/session.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/strbuf.h"

#define TOKEN_MAX 8192

/* Appends the configuration directory to sb. */
static int config_dir(struct strbuf *sb, struct cli_err *err)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");

    if (xdg != NULL && xdg[0] == '/') {
        strbuf_printf(sb, "%s/gridesk", xdg);
    } else {
        if (home == NULL || home[0] == '\0') {
            struct passwd *pw = getpwuid(getuid());
            home = pw != NULL ? pw->pw_dir : NULL;
        }
        if (home == NULL || home[0] == '\0')
            return cli_err_set(err, CLI_ELOCAL,
                               "cannot find a config directory: set HOME or "
                               "XDG_CONFIG_HOME");
        strbuf_printf(sb, "%s/.config/gridesk", home);
    }
    if (!strbuf_ok(sb))
        return cli_err_set(err, CLI_ENOMEM, "out of memory");
    return 0;
}

/* mkdir -p, each new directory 0700; the last one is made 0700 even if it
 * existed. */
static int make_dir(char *path, struct cli_err *err)
{
    struct stat stt;
    char *p;

    for (p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            int e = errno;
            *p = '/';
            return cli_err_set(err, CLI_ELOCAL, "cannot create %s: %s", path,
                               strerror(e));
        }
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return cli_err_set(err, CLI_ELOCAL, "cannot create %s: %s", path,
                           strerror(errno));
    if (stat(path, &stt) != 0 || !S_ISDIR(stt.st_mode))
        return cli_err_set(err, CLI_ELOCAL, "%s is not a directory", path);
    if ((stt.st_mode & 0777) != 0700 && chmod(path, 0700) != 0)
        return cli_err_set(err, CLI_ELOCAL, "cannot chmod %s: %s", path,
                           strerror(errno));
    return 0;
}

/* Replaces dir/name with data atomically, mode 0600. */
static int write_private(const char *dir, const char *name, const char *data,
                         size_t len, struct cli_err *err)
{
    struct strbuf tmp, dst;
    int fd = -1, rc = 0;
    size_t off = 0;

    strbuf_init(&tmp);
    strbuf_init(&dst);
    strbuf_printf(&tmp, "%s/.%s.XXXXXX", dir, name);
    strbuf_printf(&dst, "%s/%s", dir, name);
    if (!strbuf_ok(&tmp) || !strbuf_ok(&dst)) {
        rc = cli_err_set(err, CLI_ENOMEM, "out of memory");
        goto out;
    }
    fd = mkostemp(tmp.buf, O_CLOEXEC); /* creates it 0600 */
    if (fd < 0) {
        rc = cli_err_set(err, CLI_ELOCAL, "cannot write in %s: %s", dir,
                         strerror(errno));
        goto out;
    }
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = cli_err_set(err, CLI_ELOCAL, "cannot write %s: %s", tmp.buf,
                             strerror(n < 0 ? errno : EIO));
            goto out;
        }
        off += (size_t)n;
    }
    if (fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
        rc = cli_err_set(err, CLI_ELOCAL, "cannot write %s: %s", tmp.buf,
                         strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = cli_err_set(err, CLI_ELOCAL, "cannot write %s: %s", tmp.buf,
                         strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp.buf, dst.buf) != 0)
        rc = cli_err_set(err, CLI_ELOCAL, "cannot replace %s: %s", dst.buf,
                         strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0 && tmp.buf != NULL)
        unlink(tmp.buf);
    strbuf_close(&tmp);
    strbuf_close(&dst);
    return rc;
}

/* Reads the token file: its first line without surrounding blanks. */
static int read_token(const char *dir, char **token, struct cli_err *err)
{
    struct strbuf path;
    char buf[TOKEN_MAX];
    size_t n, start = 0;
    FILE *f;

    strbuf_init(&path);
    strbuf_printf(&path, "%s/token", dir);
    if (!strbuf_ok(&path))
        return cli_err_set(err, CLI_ENOMEM, "out of memory");
    f = fopen(path.buf, "re");
    if (f == NULL) {
        int e = errno;
        strbuf_close(&path);
        if (e == ENOENT)
            return 0;
        return cli_err_set(err, CLI_ELOCAL, "cannot read %s/token: %s", dir,
                           strerror(e));
    }
    strbuf_close(&path);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = '\0';
    while (buf[start] == ' ' || buf[start] == '\t')
        start++;
    if (buf[start] == '\0')
        return 0;
    *token = strdup(buf + start);
    explicit_bzero(buf, sizeof buf);
    return *token != NULL ? 0 : cli_err_set(err, CLI_ENOMEM, "out of memory");
}

/* Copies string member key of obj into *dst (NULL when absent). */
static int copy_member(json_t *obj, const char *key, char **dst,
                       struct cli_err *err)
{
    const char *v = json_string_value(json_object_get(obj, key));

    if (v == NULL || v[0] == '\0')
        return 0;
    *dst = strdup(v);
    return *dst != NULL ? 0 : cli_err_set(err, CLI_ENOMEM, "out of memory");
}

int session_load(struct session *s, struct cli_err *err)
{
    struct strbuf dir, path;
    json_error_t jerr;
    json_t *doc;
    int rc;

    memset(s, 0, sizeof *s);
    strbuf_init(&dir);
    strbuf_init(&path);
    rc = config_dir(&dir, err);
    if (rc < 0)
        goto out;
    rc = read_token(dir.buf, &s->token, err);
    if (rc < 0)
        goto out;
    strbuf_printf(&path, "%s/session.json", dir.buf);
    if (!strbuf_ok(&path)) {
        rc = cli_err_set(err, CLI_ENOMEM, "out of memory");
        goto out;
    }
    if (access(path.buf, F_OK) != 0)
        goto out;
    doc = json_load_file(path.buf, 0, &jerr);
    if (!json_is_object(doc)) {
        fprintf(stderr, "gridesk: ignoring %s: %s\n", path.buf,
                doc == NULL ? jerr.text : "not a JSON object");
        json_decref(doc);
        goto out;
    }
    rc = copy_member(doc, "node", &s->node, err);
    if (rc == 0)
        rc = copy_member(doc, "user", &s->user, err);
    json_decref(doc);
out:
    strbuf_close(&dir);
    strbuf_close(&path);
    if (rc < 0)
        session_close(s);
    return rc;
}

int session_save(const struct session *s, struct cli_err *err)
{
    struct strbuf dir, tok;
    json_t *doc;
    char *text = NULL;
    int rc;

    strbuf_init(&dir);
    strbuf_init(&tok);
    rc = config_dir(&dir, err);
    if (rc < 0)
        goto out;
    rc = make_dir(dir.buf, err);
    if (rc < 0)
        goto out;
    strbuf_printf(&tok, "%s\n", s->token != NULL ? s->token : "");
    doc = json_pack("{s:s?, s:s?}", "node", s->node, "user", s->user);
    text = doc != NULL ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    if (text == NULL || !strbuf_ok(&tok)) {
        rc = cli_err_set(err, CLI_ENOMEM, "out of memory");
        goto out;
    }
    rc = write_private(dir.buf, "token", tok.buf, tok.len, err);
    if (rc == 0)
        rc = write_private(dir.buf, "session.json", text, strlen(text), err);
out:
    if (tok.buf != NULL)
        explicit_bzero(tok.buf, tok.len);
    strbuf_close(&tok);
    strbuf_close(&dir);
    free(text);
    return rc;
}

void session_close(struct session *s)
{
    if (s->token != NULL)
        explicit_bzero(s->token, strlen(s->token));
    free(s->node);
    free(s->user);
    free(s->token);
    memset(s, 0, sizeof *s);
}
