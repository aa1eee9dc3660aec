/*
 * sview: a site as `bluegreen status` shows it, from one observation and
 * the desired state: the live slot (colour, version, image, health), the
 * other slot and its role (candidate, previous, rejected, never-live),
 * whether the live colour runs the desired spec, and the TLS words. One
 * place for the words and the JSON object, so `status --json` and the
 * daemon's published status.json (pubsnap.c, read by the cockpit) cannot
 * drift apart.
 */
#ifndef BG_CONTROLLER_SVIEW_H
#define BG_CONTROLLER_SVIEW_H

#include "bg.h"
#include "desired.h"
#include "obs.h"

struct json_object;

/* The colour containers of one slot of a site. */
struct sview_slot {
	unsigned n, running, healthy, unhealthy;
	unsigned version;
	const char *image;
	const char *spec;
};

/* colour NULL: an empty slot. */
void sview_slot_fill(const struct obs *o, const char *site, const char *colour,
		struct sview_slot *si);
/* "healthy (2/2)", "down (1/2 running)", "no containers"... (a new string) */
char *sview_health_word(const struct sview_slot *si);

/* One site as status shows it: the live slot, the other slot and its role. */
struct sview {
	const struct des_site *s;
	const struct obs_edge *e;
	const struct obs_cert *cert; /* tls auto on an edge bluegreen gets certificates for */
	const char *live;       /* NULL: no edge file, or one not understood */
	const char *other;      /* the colour that is not live, NULL when none is */
	const char *other_role; /* "candidate", "rejected", "never-live" or "previous" */
	struct sview_slot li, oi;
	bool other_is_candidate;
	bool in_sync; /* the live slot runs the desired spec (or was scaled to it) */
	unsigned desired_version; /* the live version when in sync, else the desired spec's */
};

void sview_fill(struct sview *v, const struct obs *o, const struct desired *des,
		const struct des_site *s);
/* The site's object of `status --json` (a new reference). */
struct json_object *sview_site_json(const struct sview *v);
/* The site's TLS in words, "auto, certificate valid 89 days (until 2027-03-05)"
 * (a new string), NULL with tls off. c: the observed certificate, if any. */
char *sview_tls_words(const struct cfg_site *cs, const struct obs_cert *c);

#endif
