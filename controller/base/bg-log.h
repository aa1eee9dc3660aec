/*
 * bg-log: leveled logging to stderr or a sink. The macro checks the level
 * before formatting (curl's infof), and prefixes `[file:line]` only at
 * debug level, where it helps; operators see "warn: message". Per-subsystem
 * tracing (`--trace=dk,plan` or BLUEGREEN_TRACE) turns on debug lines for
 * one area at a time. Never log environment values or registry auth.
 */
#ifndef BG_CONTROLLER_BG_LOG_H
#define BG_CONTROLLER_BG_LOG_H

#include "bg.h"

enum bg_log_level {
	BG_LOG_SILENT = 0,
	BG_LOG_ERROR,
	BG_LOG_WARN,
	BG_LOG_INFO,
	BG_LOG_DEBUG,
};

typedef void (*bg_log_sink)(enum bg_log_level lvl, const char *subsys,
		const char *file, int line, const char *msg, void *arg);

extern enum bg_log_level bg_log_level_cur;
extern unsigned bg_log_trace_mask;

/* Trace areas: a bit each. */
#define BG_TRACE_MAP(XX) XX(DK, "dk") XX(PLAN, "plan") XX(APPLY, "apply") \
	XX(HIST, "hist") XX(EDGE, "edge") XX(LOOP, "loop") XX(CFG, "cfg")
enum bg_trace {
#define XX(n, s) BG_TRACE_BIT_##n,
	BG_TRACE_MAP(XX)
#undef XX
};

void bg_log_init(enum bg_log_level lvl, bg_log_sink sink, void *arg);
/* "dk,plan" or "all"; unknown names are returned as BG_EUSAGE. */
int bg_log_trace_parse(const char *spec);

void bg__log(enum bg_log_level lvl, const char *subsys, const char *file,
		int line, const char *fmt, ...) BG_PRINTF(5, 6);

#define bg_log(lvl, ...)                                                      \
	do {                                                                  \
		if ((lvl) <= bg_log_level_cur) {                              \
			bg__log((lvl), NULL, __FILE__, __LINE__, __VA_ARGS__); \
		}                                                             \
	} while (0)

#define bg_trace(area, ...)                                                   \
	do {                                                                  \
		if (bg_log_trace_mask & (1u << BG_TRACE_BIT_##area)) {        \
			bg__log(BG_LOG_DEBUG, #area, __FILE__, __LINE__,      \
					__VA_ARGS__);                         \
		}                                                             \
	} while (0)

#endif /* BG_CONTROLLER_BG_LOG_H */
