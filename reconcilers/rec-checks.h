/*
 * rec-checks: a site's `checks:` (issue 14) run on one colour through the
 * runtime. The probe layer (controller/probe/checks.h, chk_site_run) does
 * the asking and judging and cannot reach Docker; this file gives it what
 * it needs from the engine: each replica's name and address, the site's
 * services' addresses (tcp checks), an exec (command checks) and the log
 * lines since a time (log checks). The gate before a switch calls it
 * (rec-colour-apply.c); the post-switch watch window may call it too.
 */
#ifndef BG_REC_CHECKS_H
#define BG_REC_CHECKS_H

#include "checks.h"
#include "desired.h"
#include "rt.h"

/*
 * Run the checks of s (phase: one phase, -1: all) on its colour's
 * replicas. log_since: unix seconds from which log lines are judged.
 * base_url/host: NULL to ask each replica's address; or the edge
 * ("http://127.0.0.1:8080") and the Host to send, for http, forbidden
 * and latency checks. *out is always initialised (chk_report_release).
 * 0 when every check passed, BG_EHEALTH when one failed (each named in
 * out), another error (in d) when the colour could not be looked at.
 */
int rec_checks_colour(struct rt *rt, const struct desired *des, const struct des_site *s,
		const char *colour, int phase, int64_t log_since, const char *base_url,
		const char *host, struct chk_report *out, struct bg_diag *d);

#endif /* BG_REC_CHECKS_H */
