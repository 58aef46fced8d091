/* log.h -- the server's one log: lines on stderr, with time and level.
 *
 * Only server/ logs (ot/ and storage/ return codes). Levels: error, warn,
 * info, debug; --log-level or CHORUS_LOG picks the threshold. */
#ifndef CHORUS_SERVER_LOG_H
#define CHORUS_SERVER_LOG_H

enum { SRV_LOG_ERROR = 0, SRV_LOG_WARN, SRV_LOG_INFO, SRV_LOG_DEBUG };

void srv_log_set_level(int level);
/* Parse "error", "warn", "info" or "debug"; -1 when unknown. */
int srv_log_parse_level(const char *name);
void srv_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define srv_err(...) srv_log(SRV_LOG_ERROR, __VA_ARGS__)
#define srv_warn(...) srv_log(SRV_LOG_WARN, __VA_ARGS__)
#define srv_info(...) srv_log(SRV_LOG_INFO, __VA_ARGS__)
#define srv_debug(...) srv_log(SRV_LOG_DEBUG, __VA_ARGS__)

#endif
