/* Default service catalogue.  The limits follow the State Grid 95598
 * practice as published in the "供电服务十项承诺" (ten service commitments)
 * and the 95598 work-order rules: repair crews on site within 45 minutes in
 * cities (90 rural, 120 remote: the urban figure is the default, the SLA
 * module can widen it per region), supply restored within 3 hours (urban);
 * complaints contacted within 1 working day and answered within 5; business
 * requests done within 3 working days; opinions and suggestions answered
 * within 10.  Working days are approximated by calendar days (1 day = 1440
 * minutes) here; a working calendar belongs to the SLA module. */
#include "core/catalog.h"

#include <string.h>

#define HOURS(h) ((h)*60u)
#define DAYS(d) ((d)*1440u)

static const struct catalog_class classes[] = {
    /* Outage or unsafe supply: dispatched at once, crew on site, restore. */
    {"fault_repair", "故障报修", 1, 5, 45, HOURS(3)},
    /* Contact the customer within 1 working day, answer within 5. */
    {"complaint", "投诉", 2, DAYS(1), 0, DAYS(5)},
    /* New connection, meter check, capacity change...: 3 working days. */
    {"service_request", "服务申请", 3, DAYS(1), 0, DAYS(3)},
    /* Most are answered on the call; a ticket is a follow-up: 1 day. */
    {"consultation", "业务咨询", 3, HOURS(4), 0, DAYS(1)},
    /* Opinions on the service: answered like a mild complaint. */
    {"opinion", "意见", 3, DAYS(1), 0, DAYS(10)},
    {"suggestion", "建议", 4, DAYS(1), 0, DAYS(10)},
    /* Recorded and passed on to the praised staff or office. */
    {"praise", "表扬", 4, DAYS(1), 0, DAYS(5)},
};

static const char *const channels[] = {
    "hotline", "hall", "web", "app", "wechat", "sms", "field", NULL,
};

const struct catalog_class *catalog_class_find(const char *code)
{
    if (code == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
        if (strcmp(classes[i].code, code) == 0)
            return &classes[i];
    return NULL;
}

const struct catalog_class *catalog_classes(size_t *n)
{
    *n = sizeof classes / sizeof classes[0];
    return classes;
}

int catalog_channel_valid(const char *code)
{
    if (code == NULL)
        return 0;
    for (size_t i = 0; channels[i] != NULL; i++)
        if (strcmp(channels[i], code) == 0)
            return 1;
    return 0;
}

const char *const *catalog_channels(void)
{
    return channels;
}
