/* The process logger: one line per record, key=value fields, levels.
 * core/ itself does no I/O: records go to a sink that main installs
 * (grideskd writes them to stderr).  With no sink, records are dropped. */
#ifndef GD_LOG_H
#define GD_LOG_H

enum gd_log_level { GD_LOG_DEBUG = 0, GD_LOG_INFO, GD_LOG_WARN, GD_LOG_ERROR };

typedef void (*gd_log_sink)(int level, const char *line, void *data);

/* Installs the sink and the minimum level; not thread-safe (call at start). */
void gd_log_setup(gd_log_sink sink, void *data, int min_level);
/* Parses "debug|info|warn|error"; returns the level or -1. */
int gd_log_level_parse(const char *name);
int gd_log_enabled(int level);

/* Writes `level=<lvl> msg="<msg>" <fields>`; fields is a printf format for
 * further key=value pairs (may be NULL).  The sink adds the time. */
void gd_log(int level, const char *msg, const char *fields, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...) gd_log(GD_LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...) gd_log(GD_LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) gd_log(GD_LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) gd_log(GD_LOG_ERROR, msg, __VA_ARGS__)

#endif
