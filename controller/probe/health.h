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

/*
 * 0 when the URL answered want_status within timeout_ms; otherwise
 * BG_EHEALTH, and *detail (a new string, may be NULL) says what happened:
 * "status 404", "connection refused", "timed out after 2000ms".
 */
int health_http_check(const char *url, uint64_t timeout_ms, unsigned want_status,
		char **detail);

#endif /* BG_CONTROLLER_HEALTH_H */
