/* log.c -- timestamped log lines on stderr (see log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "server/base/base.h"

static int threshold = SRV_LOG_INFO;
static const char *names[] = {"error", "warn", "info", "debug"};

void srv_log_set_level(int level)
{
    threshold = level;
}

int srv_log_parse_level(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) return i;
    return -1;
}

void srv_log(int level, const char *fmt, ...)
{
    if (level > threshold) return;
    struct timeval tv;
    struct tm tm;
    char stamp[32];
    char line[1024];
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03dZ %-5s %s\n", stamp, (int)(tv.tv_usec / 1000),
            names[level], line);
}
