/*
 * health: one HTTP health probe (libcurl), used by the health gate in
 * rec-colour-apply.c: GET a URL with a total timeout and compare the status.
 * No redirects are followed, no proxy is used (the environment's
 * http_proxy must not intercept probes of container addresses), and
 * nothing of the body is kept.
 */
#ifndef BG_CONTROLLER_HEALTH_H
#define BG_CONTROLLER_HEALTH_H

#include "bg.h"
#include "cfg.h"
#include "obs.h"

/*
 * 0 when the URL answered want_status within timeout_ms; otherwise
 * BG_EHEALTH, and *detail (a new string, may be NULL) says what happened:
 * "status 404", "connection refused", "timed out after 2000ms".
 */
int health_http_check(const char *url, uint64_t timeout_ms, unsigned want_status,
		char **detail);

/*
 * Why a container under the health gate will not become healthy, from its
 * run state (a new string), or NULL while it may still: it exited or died
 * ("web-green exited with code 1 (restarted 3 times)"), it is between two
 * restarts of its restart policy, or its restart count grew by
 * HEALTH_RESTARTS_MAX or more since the gate first saw it (restarts_seen).
 * who names it in the message.
 */
#define HEALTH_RESTARTS_MAX 2
char *health_crash_reason(const char *who, enum obs_cstate state, int exit_code,
		unsigned restarts, unsigned restarts_seen, bool oom_killed);

/*
 * The last max_lines lines of a container's log text (len bytes) as they
 * may be printed and journaled (a new string, "" for no text): every value
 * of a secret variable of env (cfg_env_var.secret) replaced by
 * BG_REDACTED wherever it appears, before the cut so a value split by it cannot show,
 * and control characters other than newline and tab shown as '?', so a
 * log cannot drive the operator's terminal.
 */
char *health_log_tail(const char *text, size_t len, const struct cfg_env *env,
		size_t max_lines);

#endif /* BG_CONTROLLER_HEALTH_H */
