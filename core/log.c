/* Logger front end: formats records and hands them to the installed sink. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static gd_log_sink log_sink;
static void *log_sink_data;
static int log_min_level = GD_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void gd_log_setup(gd_log_sink sink, void *data, int min_level)
{
    log_sink = sink;
    log_sink_data = data;
    log_min_level = min_level;
}

int gd_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

int gd_log_enabled(int level)
{
    return log_sink != NULL && level >= log_min_level;
}

void gd_log(int level, const char *msg, const char *fields, ...)
{
    char line[1024];
    int n;

    if (!gd_log_enabled(level)) {
        return;
    }
    if (level < GD_LOG_DEBUG || level > GD_LOG_ERROR) {
        level = GD_LOG_ERROR;
    }
    n = snprintf(line, sizeof line, "level=%s msg=\"%s\"", level_names[level],
                 msg);
    if (n > 0 && (size_t)n < sizeof line && fields != NULL && *fields) {
        va_list ap;
        line[n++] = ' ';
        line[n] = '\0';
        va_start(ap, fields);
        vsnprintf(line + n, sizeof line - (size_t)n, fields, ap);
        va_end(ap);
    }
    log_sink(level, line, log_sink_data);
}
