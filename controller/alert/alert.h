/*
 * alert: telling someone when a release check fails (issue 14). The
 * global `alerts:` mapping names targets, each a webhook (a JSON POST
 * through libcurl) or a command (an argv run through bg_spawn, never a
 * shell), and the events each wants. An event is one JSON object:
 *
 *   {"event": "gate-failed", "site": "shop", "time": "2026-...Z",
 *    "install": {"mode": "production", "host": "web1"},
 *    "details": {"token": "...", "message": "..."}, "bluegreen": "0.1.0"}
 *
 * built only from what the journal may already hold: never an env value,
 * never a webhook URL. Delivery retries with backoff (250 ms, doubling)
 * on a connection error, a 5xx, 408 or 429, within the target's timeout,
 * which bounds the whole delivery. Logs name a webhook only as
 * cfg_url_redact shows it (scheme and host).
 *
 * Two ways to send: synchronous (the CLI, after the command's outcome is
 * known: bounded by the timeouts, and its result never changes an exit
 * code) and ALERT_ASYNC (the daemon: a detached thread per event that
 * owns a copy of everything it needs, so neither the loop nor a config
 * reload ever waits for a slow receiver).
 */
#ifndef BG_CONTROLLER_ALERT_H
#define BG_CONTROLLER_ALERT_H

#include "bg.h"
#include "cfg.h"

#include <json-c/json.h>

enum alert_flags {
	ALERT_ASYNC = 1 << 0, /* deliver in a thread of its own; return at once */
};

/* At most this many asynchronous deliveries at once; more are dropped (and logged). */
#define ALERT_MAX_IN_FLIGHT 16

/*
 * Send event ev about site (NULL: the whole install) to every target of
 * cfg that wants it. details is a JSON object (a new reference is taken;
 * NULL: {}); it must hold nothing secret. Returns how many targets could
 * not be reached (0 when none wants the event), or a negative error for a
 * bad argument; with ALERT_ASYNC, 0 once the thread is started (or
 * BG_EREFUSED when ALERT_MAX_IN_FLIGHT are running already).
 */
int alert_emit(const struct cfg *cfg, enum cfg_alert_event ev, const char *site,
		struct json_object *details, unsigned flags);

/*
 * alert_emit with details {"token": token, "message": message} (either
 * may be NULL): what an apply or the daemon knows of a failure.
 */
int alert_emit_text(const struct cfg *cfg, enum cfg_alert_event ev, const char *site,
		const char *token, const char *message, unsigned flags);

/* The JSON body of an event, as alert_emit sends it (a new string). */
char *alert_body(const struct cfg *cfg, enum cfg_alert_event ev, const char *site,
		struct json_object *details);

/*
 * Wait until no asynchronous delivery is running, at most timeout_ms.
 * Returns 0, or BG_ETIMEOUT with some still running (tests; the daemon
 * before it exits).
 */
int alert_wait_idle(uint64_t timeout_ms);

#endif /* BG_CONTROLLER_ALERT_H */
