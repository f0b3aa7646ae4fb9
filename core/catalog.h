/* The default service catalogue (DESIGN §2): ticket classes with their
 * default priority and time limits, and the contact channels.  Static,
 * read-only data; the SLA module derives due times from it. */
#ifndef GD_CATALOG_H
#define GD_CATALOG_H

#include <stddef.h>

/* One ticket class.  Times are minutes from ticket creation; 0 means the
 * stage does not apply.  Strings are static. */
struct catalog_class {
    const char *code;      /* API code, e.g. "fault_repair" */
    const char *name_zh;   /* e.g. "故障报修" */
    int priority;          /* 1 highest .. 4 lowest */
    unsigned response_min; /* first contact with the customer / dispatch */
    unsigned arrival_min;  /* on-site arrival (repairs), 0 = n/a */
    unsigned complete_min; /* resolution */
};

/* The class with this code, or NULL (also for NULL). Static, never freed. */
const struct catalog_class *catalog_class_find(const char *code);

/* All classes (static array) and their number in *n. */
const struct catalog_class *catalog_classes(size_t *n);

/* 1 if code is a channel: hotline hall web app wechat sms field; else 0. */
int catalog_channel_valid(const char *code);

/* All channel codes (static, NULL-terminated). */
const char *const *catalog_channels(void);

#endif
