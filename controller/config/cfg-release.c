/*
 * cfg-release: the configuration of release checks (issue 14): the global
 * `alerts:` mapping (name -> a webhook or a command, the events it wants)
 * and a site's `promotion:` (which attestations a candidate needs). The
 * key rows live here, next to their value languages, and cfg-keys.c's
 * tables point at them; cfg-check.c, cfg-bind.c and cfg-explain.c walk
 * them like any other row. Also the rules across keys that no row can say
 * (a webhook and a command together; require without trust) and the URL
 * redaction every log line about a webhook goes through.
 */
#include "bg.h"
#include "bg-util.h"
#include "cfg-int.h"

#include <ctype.h>

static const char *const event_names[] = {
#define XX(n, s) s,
	CFG_ALERT_EVENT_MAP(XX)
#undef XX
	NULL,
};

const char *cfg_alert_event_name(enum cfg_alert_event e)
{
	return (unsigned)e < CFG_ALERT_N_EVENTS ? event_names[e] : "unknown";
}

int cfg_alert_event_parse(const char *name)
{
	for (int i = 0; name && event_names[i]; i++) {
		if (strcmp(event_names[i], name) == 0) {
			return i;
		}
	}
	return -1;
}

static bool event_valid(const char *s)
{
	return cfg_alert_event_parse(s) >= 0;
}

bool cfg__alert_name_valid(const char *s)
{
	return cfg_name_valid(s);
}

/* Where the host part of an http(s) URL starts and ends (after any user
 * info); false when url is not one. */
static bool url_split(const char *url, size_t *scheme_len, const char **host, size_t *host_len,
		const char **rest)
{
	size_t sl = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
	if (!sl) {
		return false;
	}
	const char *auth = url + sl;
	size_t alen = strcspn(auth, "/?#");
	const char *at = memrchr(auth, '@', alen);
	const char *h = at ? at + 1 : auth;
	size_t hl = (size_t)(auth + alen - h);
	if (!hl) {
		return false;
	}
	for (size_t i = 0; i < hl; i++) {
		unsigned char c = (unsigned char)h[i];
		if (!isalnum(c) && !strchr(".-:[]", c)) {
			return false;
		}
	}
	*scheme_len = sl;
	*host = h;
	*host_len = hl;
	*rest = auth + alen;
	return true;
}

static bool webhook_valid(const char *s)
{
	size_t sl, hl;
	const char *h, *rest;

	if (!s || strlen(s) > 2048) {
		return false;
	}
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			return false;
		}
	}
	return url_split(s, &sl, &h, &hl, &rest);
}

char *cfg_url_redact(const char *url)
{
	size_t sl, hl;
	const char *h, *rest;

	if (!url || !url_split(url, &sl, &h, &hl, &rest)) {
		return bg_xstrdup("<invalid url>");
	}
	bool more = rest[0] && strcmp(rest, "/") != 0;
	return bg_xasprintf("%.*s%.*s%s", (int)sl, url, (int)hl, h, more ? "/..." : "");
}

static bool nonempty(const char *s)
{
	return s && *s;
}

static const char *const def_events[] = {
#define XX(n, s) s,
	CFG_ALERT_EVENT_MAP(XX)
#undef XX
	NULL,
};
static const char *const def_empty[] = {NULL};
static const char *const requires[] = {"none", "staging", NULL};

#define A(field) offsetof(struct cfg_alert, field)
#define S(field) offsetof(struct cfg_site, field)

const struct cfg__key cfg__alert_keys[] = {
	{.name = "webhook", .type = K_STR, .flags = F_NOECHO, .off = A(webhook),
		.check = webhook_valid, .expect = "an http:// or https:// URL",
		.doc = "URL the event is POSTed to as JSON; logs show only its scheme and host"},
	{.name = "command", .type = K_ARGV, .flags = F_NONEMPTY, .off = A(command),
		.expect = "[/usr/local/bin/page-oncall, --team, ops]",
		.doc = "argv run for the event (never a shell); the event JSON is in "
		       "$BLUEGREEN_ALERT"},
	{.name = "events", .type = K_STRLIST, .flags = F_NONEMPTY, .off = A(events),
		.defs = def_events, .check = event_valid,
		.expect = "one of gate-failed, verify-failed, auto-revert, drift, backup-failed",
		.doc = "events sent to this target"},
	{.name = "timeout", .type = K_DURATION, .flags = F_POSITIVE, .off = A(timeout_ms),
		.def = "5s", .doc = "time limit of one delivery, retries included"},
	{.name = "retries", .type = K_INT, .off = A(retries), .def = "3", .min = 0, .max = 10,
		.doc = "attempts after a failed first one, with backoff"},
	{0},
};

const struct cfg__key cfg__promotion_keys[] = {
	{.name = "require", .type = K_ENUM, .off = S(promotion.require), .defs = requires,
		.def = "none",
		.doc = "staging: plan a candidate only when a trusted staging attestation "
		       "covers its image"},
	{.name = "trust", .type = K_STRLIST, .off = S(promotion.trust), .defs = def_empty,
		.check = nonempty, .expect = "a public key file such as keys/staging.pub",
		.doc = "public key files (PEM, from `bluegreen attest key`) whose attestations "
		       "count; relative to the config directory"},
	{.name = "attestations", .type = K_PATH, .flags = F_URL_OK,
		.off = S(promotion.attestations), .off2 = S(promotion.attestations_rel),
		.doc = "directory of attestation files (`bluegreen attest export`), or an "
		       "https URL ({image_id} filled in); unset: attestations/ in the config "
		       "directory"},
	{0},
};

_Static_assert(sizeof(enum cfg_promotion_require) == sizeof(int), "enum as int");

void cfg__alert_check(const struct cfg__node *entry, const char *path, struct bg_diag *d)
{
	const struct cfg__pair *wh = cfg__map_pair(entry, "webhook");
	const struct cfg__pair *cmd = cfg__map_pair(entry, "command");
	if (wh && cmd) {
		bg_diag_error(d, &cmd->key->loc, "%s has both webhook (line %u) and command: "
				"use one target per entry (add a second entry for the other)", path,
				wh->key->loc.line);
	} else if (!wh && !cmd) {
		bg_diag_error(d, &entry->loc, "%s needs a webhook (an http(s) URL) or a command "
				"(an argv list)", path);
	}
}

void cfg__promotion_check(const struct cfg__node *promo, struct bg_diag *d)
{
	const struct cfg__node *req = cfg__map_get(promo, "require");
	const struct cfg__node *trust = cfg__map_get(promo, "trust");

	if (!req || !cfg__is_string(req) || strcmp(req->str, "staging") != 0) {
		return;
	}
	if (!trust || trust->kind != CFG__SEQ || !trust->n_items) {
		bg_diag_error(d, &req->loc, "promotion.require: staging needs promotion.trust: "
				"the public key files of the staging installs to trust (bluegreen "
				"attest key prints one)");
	}
}

void cfg__alerts_release(struct cfg_alert *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].name);
		if (a[i].webhook) {
			explicit_bzero(a[i].webhook, strlen(a[i].webhook));
			free(a[i].webhook);
		}
		bg_strv_release(&a[i].command);
		bg_strv_release(&a[i].events);
	}
	free(a);
}
