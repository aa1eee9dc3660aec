/*
 * rec-service-int: what rec-service.c (plan and apply of backing services)
 * shares with rec-service-health.c (when a service counts as healthy).
 */
#ifndef BG_REC_SERVICE_INT_H
#define BG_REC_SERVICE_INT_H

#include "rec.h"

/*
 * Wait until service sv of site s is healthy (ADR 0016): its `health:`
 * command run in the container (exit 0), or a TCP connect to its address
 * on the site network, else the image's HEALTHCHECK, else running. At
 * most retries checks, interval apart. BG_EHEALTH with "service db of
 * site shop is not healthy after 60 s: <last check>" when it does not
 * become healthy, at once when the container exits.
 */
int rec_service_health(struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct des_service *sv, struct bg_diag *d);

/* The downtime of recreating sv, in whole seconds, as the plan states it:
 * its stop grace, about a second to create and start it, one health
 * interval (the first check). */
unsigned rec_service_downtime_s(const struct des_service *sv);

#endif /* BG_REC_SERVICE_INT_H */
