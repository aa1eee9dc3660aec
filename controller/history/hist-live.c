/*
 * hist-live: the versions of each site that went live, from the journal
 * (hist-live.h). One walk of the site's entries (the by-site index) per
 * observation; only ok switch and rollback entries count, and only the
 * version after the arrow, which is the one made live.
 */
#include "bg.h"
#include "hist-live.h"
#include "bg-util.h"

unsigned hist_live_version(const struct hist_entry *e)
{
	if (!e->action || !e->result || strcmp(e->result, "ok") != 0 ||
			(strcmp(e->action, "switch") != 0 && strcmp(e->action, "rollback") != 0)) {
		return 0;
	}
	const char *d = e->details;
	const char *p = d ? strstr(d, "-> ") : NULL;
	if (!p && d && bg_str_has_prefix(d, "first deploy: ")) {
		p = d;
	}
	p = p ? strstr(p, "(v") : NULL;
	if (!p || p[2] < '0' || p[2] > '9') {
		return 0;
	}
	unsigned long v = strtoul(p + 2, NULL, 10);
	return v > 0 && v <= 1000000000ul ? (unsigned)v : 0;
}

static int live_cb(const struct hist_entry *e, void *arg)
{
	struct bg_strv *sv = arg;
	unsigned v = hist_live_version(e);
	if (v) {
		char num[16];
		snprintf(num, sizeof(num), "%u", v);
		if (!bg_strv_contains(sv, num)) {
			bg_strv_push(sv, num);
		}
	}
	return 0;
}

int hist_live_observe(struct hist *h, struct obs *o)
{
	for (size_t i = 0; i < o->n_hist; i++) {
		struct obs_hist_site *hs = &o->hist[i];
		struct bg_strv sv;
		bg_strv_init(&sv);
		int err = hs->site ? hist_foreach(h, hs->site, 0, 0, live_cb, &sv) : 0;
		if (err) {
			bg_strv_release(&sv);
			return err;
		}
		bg_strv_sort(&sv);
		bg_strv_release(&hs->went_live);
		hs->went_live = sv;
		hs->live_known = true;
	}
	return 0;
}

#define DIGEST_MARK "registry digest "

char *hist_digest_details(unsigned version, const char *image, const char *image_id,
		const char *digest)
{
	return bg_xasprintf("v%u runs %s (id %.19s); " DIGEST_MARK "%s", version,
			image ? image : "?", image_id ? image_id : "?", digest);
}

bool hist_digest_parse(const struct hist_entry *e, unsigned *version, char **digest)
{
	*version = 0;
	*digest = NULL;
	if (!e->action || strcmp(e->action, HIST_DIGEST_ACTION) != 0 || !e->result ||
			strcmp(e->result, "ok") != 0 || !e->details || e->details[0] != 'v') {
		return false;
	}
	unsigned long v = strtoul(e->details + 1, NULL, 10);
	const char *p = strstr(e->details, DIGEST_MARK);
	if (!v || v > 1000000000ul || !p) {
		return false;
	}
	p += strlen(DIGEST_MARK);
	size_t n = strcspn(p, " \t\r\n");
	if (!n || !memchr(p, '@', n)) {
		return false;
	}
	*version = (unsigned)v;
	*digest = bg_xstrndup(p, n);
	return true;
}
