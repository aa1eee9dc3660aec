/*
 * edge: the part of the edge that does not depend on the proxy. It picks
 * the implementation for the configured kind, reads every site's edge file
 * back into the observed state (the live colour is what the file says, not
 * what we remember writing), and holds the input checks both renderers
 * share: an edge file is a security boundary (a path component, Traefik's
 * Go templates, nginx's directive syntax), so it checks its own inputs
 * rather than trusting that the config loader already did.
 */
#include "bg.h"
#include "edge-int.h"

#include "bg-log.h"
#include "bg-util.h"

#include <sys/stat.h>

uint64_t edge_cmd_timeout_ms = 30000;
uint64_t edge_confirm_timeout_ms = 3000;

/* The one place that maps the configured kind to its driver. */
const struct edge_impl *edge_for(const struct cfg *cfg)
{
	switch (cfg->g.edge_kind) {
	case CFG_EDGE_TRAEFIK:
		return &edge_traefik_impl;
	case CFG_EDGE_NGINX:
		return &edge_nginx_impl;
	}
	BG_BUG("edge: kind %d is not one config produces", (int)cfg->g.edge_kind);
}

static char *abs_in(const char *dir, const char *p)
{
	return p[0] == '/' ? bg_xstrdup(p) : bg_xasprintf("%s/%s", dir, p);
}

int edge_tls_paths(const struct cfg *cfg, const struct cfg_site *site, char **cert,
		char **key)
{
	*cert = *key = NULL;
	switch (site->tls.mode) {
	case CFG_TLS_FILES:
		if (!site->tls.cert || !site->tls.key) {
			return BG_ENOT_FOUND;
		}
		*cert = abs_in(cfg->dir, site->tls.cert);
		*key = abs_in(cfg->dir, site->tls.key);
		return 0;
	case CFG_TLS_AUTO:
		*cert = bg_xasprintf("%s/certbot/live/bluegreen-%s/fullchain.pem", cfg->g.acme.dir,
				site->name);
		*key = bg_xasprintf("%s/certbot/live/bluegreen-%s/privkey.pem", cfg->g.acme.dir,
				site->name);
		return 0;
	case CFG_TLS_OFF:
	default:
		return BG_ENOT_FOUND;
	}
}

static bool regular_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool edge_tls_ready(const struct cfg *cfg, const struct cfg_site *site)
{
	char *cert = NULL, *key = NULL;

	if (site->tls.mode == CFG_TLS_OFF) {
		return false;
	}
	if (site->tls.mode == CFG_TLS_AUTO && cfg->g.edge_kind == CFG_EDGE_TRAEFIK) {
		return true;
	}
	if (site->tls.mode == CFG_TLS_AUTO && !cfg->g.acme.dir) {
		return false; /* a config built by hand: nowhere to look */
	}
	bool ok = edge_tls_paths(cfg, site, &cert, &key) == 0 && regular_file(cert) &&
			regular_file(key);
	free(cert);
	free(key);
	return ok;
}

int edge__read_back(const char *path, const char *content, size_t len, struct bg_diag *d)
{
	char *back = NULL;
	size_t back_len = 0;
	const char *why = NULL;
	int err = bg_file_read_safe(NULL, path, EDGE_MAX_FILE_BYTES, &back, &back_len, NULL, &why);
	if (err || back_len != len || memcmp(back, content, len) != 0) {
		bg_diag_error(d, NULL, "'%s' does not read back as written: %s", path,
				err ? why : "content differs (another writer?)");
		err = BG_EEDGE;
	}
	free(back);
	return err;
}

unsigned edge__file_mode(const char *content, size_t len)
{
	static const char *const marks[] = {"$apr1$", "# bluegreen-auth:"};
	for (size_t i = 0; content && i < BG_ARRAY_SIZE(marks); i++) {
		if (memmem(content, len, marks[i], strlen(marks[i]))) {
			return 0640;
		}
	}
	return 0644;
}

bool edge__site_name_valid(const char *s)
{
	size_t n = 0;

	if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9'))) {
		return false;
	}
	for (; s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			return false;
		}
	}
	return n <= 40;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool edge__host_valid(const char *s)
{
	size_t n = 0, label = 0;

	if (!s || !*s) {
		return false;
	}
	for (; s[n]; n++) {
		char c = s[n];
		if (c == '.') {
			/* No empty labels, no leading or trailing dot. */
			if (label == 0 || s[n + 1] == '\0') {
				return false;
			}
			label = 0;
			continue;
		}
		if (!is_alnum(c) && c != '-' && c != '_') {
			return false;
		}
		if (++label > 63) {
			return false;
		}
	}
	return n <= 253;
}

bool edge__ident_valid(const char *s)
{
	size_t n = 0;

	if (!s || !*s) {
		return false;
	}
	for (; s[n]; n++) {
		char c = s[n];
		if (!is_alnum(c) && c != '.' && c != '_' && c != '-') {
			return false;
		}
	}
	return n <= 128;
}

bool edge__colour_valid(const char *s)
{
	return s && (strcmp(s, "blue") == 0 || strcmp(s, "green") == 0);
}

const char *edge__preview_colour(const struct edge_view *v)
{
	if (!v->site->preview) {
		return NULL;
	}
	return v->preview ? v->preview : v->live;
}

int edge__view_check(const struct edge_view *v)
{
	const struct cfg_site *s = v ? v->site : NULL;

	if (!s || !edge__site_name_valid(s->name) || !edge__colour_valid(v->live)) {
		return BG_ECONFIG;
	}
	if (v->preview && !edge__colour_valid(v->preview)) {
		return BG_ECONFIG;
	}
	if (s->domains.n == 0) {
		return BG_ECONFIG;
	}
	for (size_t i = 0; i < s->domains.n; i++) {
		if (!edge__host_valid(s->domains.v[i])) {
			return BG_ECONFIG;
		}
	}
	if (s->preview && !edge__host_valid(s->preview)) {
		return BG_ECONFIG;
	}
	return 0;
}

void edge__obs_reset(struct obs_edge *e)
{
	free(e->live);
	free(e->preview);
	free(e->error);
	e->live = e->preview = e->error = NULL;
	bg_strv_release(&e->upstreams);
}

int edge__obs_fail(struct obs_edge *e, const char *fmt, ...)
{
	va_list ap;

	edge__obs_reset(e);
	va_start(ap, fmt);
	e->error = bg_xvasprintf(fmt, ap);
	va_end(ap);
	return BG_EPARSE;
}

/* One site: a missing file is a fact, not an error; anything else we
 * cannot read is recorded on the edge so the planner rewrites the file. */
static void observe_site(const struct cfg *cfg, const struct edge_impl *impl,
		const struct cfg_site *site, struct obs *o, struct bg_diag *d)
{
	struct obs_edge *e = obs_edge_add(o);
	char *data = NULL;
	size_t len = 0;
	char hex[65];
	int err;

	e->site = bg_xstrdup(site->name);
	e->path = impl->path(cfg, site->name);
	const char *why = NULL;
	err = bg_file_read_safe(NULL, e->path, EDGE_MAX_FILE_BYTES, &data, &len, NULL, &why);
	if (err == BG_ERRNO(ENOENT)) {
		e->exists = false;
		goto out;
	}
	e->exists = true;
	if (err == BG_ETOO_BIG) {
		edge__obs_fail(e, "'%s' is larger than %u bytes: not a file bluegreen wrote",
				e->path, (unsigned)EDGE_MAX_FILE_BYTES);
		goto out;
	}
	if (err) {
		edge__obs_fail(e, "cannot read '%s': %s", e->path, why);
		bg_diag_warn(d, NULL, "cannot read edge file '%s': %s", e->path, why);
		goto out;
	}
	bg_sha256_hex(data, len, hex);
	e->content_sha = bg_xstrdup(hex);
	if (impl->parse(cfg, site->name, data, len, e) != 0) {
		bg_trace(EDGE, "edge file '%s': %s", e->path, e->error ? e->error : "?");
	}
out:
	/* A fact of the disk, whatever the file says: the next file may use it. */
	e->tls_ready = edge_tls_ready(cfg, site);
	free(data);
}

int edge_observe(const struct cfg *cfg, struct obs *o, struct bg_diag *d)
{
	const struct edge_impl *impl = edge_for(cfg);

	if (!o->edge_kind) {
		o->edge_kind = bg_xstrdup(impl->kind);
	}
	for (size_t i = 0; i < cfg->n_sites; i++) {
		observe_site(cfg, impl, &cfg->sites[i], o, d);
	}
	return 0;
}

void edge__header_render(struct bg_buf *b, const char *site, const char *live,
		const char *preview, unsigned version)
{
	bg_buf_addf(b, EDGE_HEADER_MARKER " This file is replaced whole on every\n"
			"# change; bluegreen reads it back as the edge's state.\n"
			"# bluegreen-site: %s\n# bluegreen-live: %s\n", site, live);
	if (preview) {
		bg_buf_addf(b, "# bluegreen-preview: %s\n", preview);
	}
	bg_buf_addf(b, "# bluegreen-version: %u\n\n", version);
}

#define TRAILER_PREFIX "# bluegreen-sha256: "

void edge__trailer_render(struct bg_buf *b)
{
	char hex[65];

	bg_sha256_hex(b->data, b->len, hex);
	bg_buf_addf(b, TRAILER_PREFIX "%s\n", hex);
}

/* The last line must be our trailer and match the bytes before it. */
static int trailer_check(const char *content, size_t len, size_t *start,
		struct obs_edge *e)
{
	size_t pl = strlen(TRAILER_PREFIX), ls;
	char hex[65];

	if (len == 0 || content[len - 1] != '\n') {
		return edge__obs_fail(e, "truncated (no bluegreen trailer)");
	}
	ls = len - 1;
	while (ls > 0 && content[ls - 1] != '\n') {
		ls--;
	}
	if (len - 1 - ls != pl + 64 || memcmp(content + ls, TRAILER_PREFIX, pl) != 0) {
		return edge__obs_fail(e, "truncated (no bluegreen trailer)");
	}
	bg_sha256_hex(content, ls, hex);
	if (memcmp(content + ls + pl, hex, 64) != 0) {
		return edge__obs_fail(e, "edited by hand (checksum does not match)");
	}
	*start = ls;
	return 0;
}

void edge__header_release(struct edge__header *h)
{
	if (!h) {
		return;
	}
	free(h->site);
	free(h->live);
	free(h->preview);
	free(h->flags);
	h->site = h->live = h->preview = h->flags = NULL;
}

/* "PREFIX value" on [p, p+n) -> value (a new string), NULL otherwise. */
static char *header_value(const char *p, size_t n, const char *prefix)
{
	size_t pl = strlen(prefix);

	if (n <= pl || memcmp(p, prefix, pl) != 0) {
		return NULL;
	}
	return bg_xstrndup(p + pl, n - pl);
}

int edge__header_parse(const char *site, const char *content, size_t len,
		struct edge__header *h, struct obs_edge *e)
{
	const char *pos = content, *end;
	size_t ml = strlen(EDGE_HEADER_MARKER);
	int err = 0;

	memset(h, 0, sizeof(*h));
	if (memchr(content, '\0', len)) {
		return edge__obs_fail(e, "binary content (NUL byte)");
	}
	if (len < ml || memcmp(content, EDGE_HEADER_MARKER, ml) != 0) {
		return edge__obs_fail(e, "not a file bluegreen wrote (no bluegreen header)");
	}
	err = trailer_check(content, len, &h->body_end, e);
	if (err) {
		return err;
	}
	end = content + h->body_end;
	/* The header is the leading run of '#' lines. */
	while (pos < end && *pos == '#') {
		const char *nl = memchr(pos, '\n', (size_t)(end - pos));
		size_t n = nl ? (size_t)(nl - pos) : (size_t)(end - pos);
		char **slot = NULL, *val = NULL;

		while (n && pos[n - 1] == '\r') {
			n--;
		}
		if ((val = header_value(pos, n, "# bluegreen-site: "))) {
			slot = &h->site;
		} else if ((val = header_value(pos, n, "# bluegreen-live: "))) {
			slot = &h->live;
		} else if ((val = header_value(pos, n, "# bluegreen-preview: "))) {
			slot = &h->preview;
		} else if ((val = header_value(pos, n, "# bluegreen-flags: "))) {
			slot = &h->flags;
		}
		if (slot && *slot) {
			free(val);
			err = edge__obs_fail(e, "header line repeated: '%.*s'",
					(int)(n > 80 ? 80 : n), pos);
			goto out;
		}
		if (slot) {
			*slot = val;
		}
		pos = nl ? nl + 1 : end;
	}
	h->body = (size_t)(pos - content);
	/* A file switched by flags (nginx) names no colour: the flags do. */
	if (h->flags && (h->live || h->preview)) {
		err = edge__obs_fail(e, "bluegreen header names both flags and a colour");
	} else if (!h->site || (!h->live && !h->flags)) {
		err = edge__obs_fail(e, "bluegreen header without site or live colour");
	} else if (strcmp(h->site, site) != 0) {
		err = edge__obs_fail(e, "header names site '%.64s', expected '%s'", h->site, site);
	} else if ((h->live && !edge__colour_valid(h->live)) ||
			(h->preview && !edge__colour_valid(h->preview))) {
		err = edge__obs_fail(e, "header names an unknown colour");
	}
out:
	if (err) {
		edge__header_release(h);
	}
	return err;
}

int edge__parse_begin_flags(const char *site, const char *content, size_t len,
		struct edge__header *h, struct obs_edge *e)
{
	memset(h, 0, sizeof(*h));
	edge__obs_reset(e);
	if (!edge__site_name_valid(site)) {
		return edge__obs_fail(e, "invalid site name");
	}
	return edge__header_parse(site, content, len, h, e);
}

int edge__parse_begin(const char *site, const char *content, size_t len,
		struct edge__header *h, struct obs_edge *e)
{
	int err = edge__parse_begin_flags(site, content, len, h, e);
	if (!err && !h->live) {
		/* Only nginx switches by flags: here a colour is required. */
		edge__header_release(h);
		err = edge__obs_fail(e, "bluegreen header without a live colour");
	}
	return err;
}
