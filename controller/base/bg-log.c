/*
 * bg-log: see bg-log.h. The default sink writes one line to stderr.
 */
#include "bg.h"
#include "bg-log.h"
#include "bg-mem.h"

enum bg_log_level bg_log_level_cur = BG_LOG_WARN;
unsigned bg_log_trace_mask;

static bg_log_sink log_sink;
static void *log_sink_arg;

void bg_log_init(enum bg_log_level lvl, bg_log_sink sink, void *arg)
{
	bg_log_level_cur = lvl;
	log_sink = sink;
	log_sink_arg = arg;
}

int bg_log_trace_parse(const char *spec)
{
	char *copy = bg_xstrdup(spec), *save = NULL;
	int err = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok;
			tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "all") == 0) {
			bg_log_trace_mask = ~0u;
			continue;
		}
#define XX(n, s)                                                              \
	if (strcmp(tok, s) == 0) {                                            \
		bg_log_trace_mask |= 1u << BG_TRACE_BIT_##n;                  \
		continue;                                                     \
	}
		BG_TRACE_MAP(XX)
#undef XX
		err = BG_EUSAGE;
	}
	free(copy);
	return err;
}

static const char *level_name(enum bg_log_level lvl)
{
	switch (lvl) {
	case BG_LOG_ERROR:
		return "error";
	case BG_LOG_WARN:
		return "warn";
	case BG_LOG_INFO:
		return "info";
	case BG_LOG_DEBUG:
		return "debug";
	default:
		return "log";
	}
}

void bg__log(enum bg_log_level lvl, const char *subsys, const char *file,
		int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = bg_xvasprintf(fmt, ap);
	va_end(ap);
	if (log_sink) {
		log_sink(lvl, subsys, file, line, msg, log_sink_arg);
	} else if (lvl == BG_LOG_DEBUG) {
		fprintf(stderr, "debug: [%s%s%s:%d] %s\n", subsys ? subsys : "",
				subsys ? " " : "", file, line, msg);
	} else {
		fprintf(stderr, "%s: %s\n", level_name(lvl), msg);
	}
	free(msg);
}
