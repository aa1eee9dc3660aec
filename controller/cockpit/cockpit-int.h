/*
 * cockpit-int: what the cockpit's files share: the snapshot as parsed, the
 * history digest (counters and last switches, kept up to date by walking
 * only the entries added since the last request), and the page renderers.
 */
#ifndef BG_CONTROLLER_COCKPIT_INT_H
#define BG_CONTROLLER_COCKPIT_INT_H

#include "cockpit.h"
#include "bg-util.h"

#include <json-c/json.h>
#include <pthread.h>

/* Counters by (action, result) over the whole journal. */
struct ck_count {
	char *action, *result;
	uint64_t n;
};

/* The last ok switch or rollback of a site. */
struct ck_switch {
	char *site;
	int64_t time_ms;
	char *details;
};

struct cockpit {
	struct cockpit_opts o;
	pthread_mutex_t mu; /* the digest below */
	uint64_t seen_seq;
	struct ck_count *counts;
	size_t n_counts;
	struct ck_switch *sw;
	size_t n_sw;
	/* issue 15 (E): live updates, TLS, durations for the histograms */
	struct ck_sse_hub *sse;   /* NULL: no server (unit tests) */
	bool tls;                 /* served over our own TLS */
	struct ck_durations *dur; /* apply and switch durations (cockpit-metrics.c) */
};

/* The snapshot: root object (NULL when absent/unreadable, *why says so). */
struct ck_snap {
	struct json_object *root;
	struct json_object *sites; /* array, borrowed from root */
	int64_t written_at_ms;
	const char *why;
};
void ck_snap_load(struct cockpit *ck, struct ck_snap *s);
void ck_snap_release(struct ck_snap *s);
/* The site object named name (borrowed), NULL if none. */
struct json_object *ck_snap_site(const struct ck_snap *s, const char *name);
/* A string member, NULL if absent or not a string. */
const char *ck_jstr(struct json_object *o, const char *key);

/* Bring the digest up to date with the journal (takes ck->mu). */
void ck_digest_update(struct cockpit *ck);
/* Copies out of the digest (ck->mu held by the caller). */
const struct ck_switch *ck_digest_switch(const struct cockpit *ck, const char *site);

/* A site name fit for a route: what config accepts (letters, digits, -). */
bool ck_site_name_ok(const char *name);

/* issue 15 (E): apply and switch durations from the journal (cockpit-metrics.c);
 * ck_dur_note is called for every entry the digest reads, ck->mu held. */
struct hist_entry;
void ck_dur_note(struct cockpit *ck, const struct hist_entry *e);
void ck_dur_free(struct ck_durations *d);

/* Pages (cockpit-html.c), API (cockpit-api.c), metrics (cockpit-metrics.c). */
void ck_page_overview(struct cockpit *ck, struct cockpit_reply *r);
void ck_page_site(struct cockpit *ck, const char *name, struct cockpit_reply *r);
void ck_page_error(struct cockpit_reply *r, unsigned status, const char *title, const char *text);
void ck_api_sites(struct cockpit *ck, struct cockpit_reply *r);
void ck_api_site(struct cockpit *ck, const char *name, struct cockpit_reply *r);
void ck_api_history(struct cockpit *ck, const char *query, struct cockpit_reply *r);
void ck_metrics(struct cockpit *ck, struct cockpit_reply *r);
/* One query parameter's value (a new string), NULL if absent. */
char *ck_query_get(const char *query, const char *key);

#endif /* BG_CONTROLLER_COCKPIT_INT_H */
