/*
 * edge-traefik: the Traefik edge. Container labels (fixed at creation)
 * declare one service per colour and a colour-pinned router on the
 * internal entrypoint; the routers that carry the public hostnames live in
 * one file per site in the file provider's directory, DYNAMIC_DIR/SITE.yml,
 * rewritten whole on every switch: SITE-live -> SITE-<colour>@docker, and
 * SITE-preview when the site has a preview domain; for HTTPS, the routers'
 * tls section (the certresolver, or the site's own certificate files),
 * SITE-live-http and SITE-preview-http on the HTTP entrypoint redirecting
 * to HTTPS, and the site's own middlewares (HSTS, the redirect to the
 * canonical domain, the preview's protection). The file is emitted by
 * libyaml (deterministic, only keys the published schemas know) and read
 * back strictly (edge-traefik-parse.c); installing it is
 * edge-traefik-run.c's (docs/adr/0004-traefik-edge.md, docs/edge.md).
 */
#include "bg.h"
#include "edge-int.h"
#include "edge-traefik-int.h"

#include "bg-log.h"
#include "bg-util.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <strings.h>
#include <yaml.h>

char *edge__traefik_path(const struct cfg *cfg, const char *site)
{
	return bg_xasprintf("%s/%s.yml", cfg->g.traefik.dynamic_dir, site);
}

/* ---- render ---- */

struct emit {
	yaml_emitter_t em;
	bool ok;
};

static int emit_write(void *data, unsigned char *buf, size_t size)
{
	return bg_buf_add(data, buf, size) == 0;
}

/* The emitter owns the event once yaml_emitter_emit has been called, even
 * when it fails; after a failure later events are only freed. */
static void emit_ev(struct emit *e, yaml_event_t *ev, int made)
{
	if (!made) {
		e->ok = false;
		return;
	}
	if (!e->ok) {
		yaml_event_delete(ev);
		return;
	}
	if (!yaml_emitter_emit(&e->em, ev)) {
		e->ok = false;
	}
}

/*
 * Plain style only for words that a YAML 1.1 or 1.2 reader (Traefik uses
 * Go's) cannot take for a boolean, null or number: they start with a
 * letter and are not one of the keyword spellings. Everything else is
 * double-quoted. libyaml still quotes a plain request it finds unsafe.
 */
static yaml_scalar_style_t scalar_style(const char *s)
{
	static const char *const words[] = {"y", "n", "yes", "no", "on", "off",
			"true", "false", "null"};
	char c = *s;

	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
		return YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(words); i++) {
		if (strcasecmp(s, words[i]) == 0) {
			return YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		}
	}
	return YAML_PLAIN_SCALAR_STYLE;
}

static void emit_str(struct emit *e, const char *s)
{
	yaml_event_t ev;
	int made = yaml_scalar_event_initialize(&ev, NULL, NULL, (const yaml_char_t *)s,
			(int)strlen(s), 1, 1, scalar_style(s));
	emit_ev(e, &ev, made);
}

/* A number or a boolean, unquoted: the schema wants an integer or a
 * boolean there, not a string. Only our own literals and numbers. */
static void emit_plain(struct emit *e, const char *s)
{
	yaml_event_t ev;
	int made = yaml_scalar_event_initialize(&ev, NULL, NULL, (const yaml_char_t *)s,
			(int)strlen(s), 1, 0, YAML_PLAIN_SCALAR_STYLE);
	emit_ev(e, &ev, made);
}

static void emit_map_start(struct emit *e)
{
	yaml_event_t ev;
	emit_ev(e, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
			YAML_BLOCK_MAPPING_STYLE));
}

static void emit_map_end(struct emit *e)
{
	yaml_event_t ev;
	emit_ev(e, &ev, yaml_mapping_end_event_initialize(&ev));
}

/* key: followed by a block sequence of the n strings of v. */
static void emit_list(struct emit *e, const char *key, const char *const *v, size_t n)
{
	yaml_event_t ev;

	emit_str(e, key);
	emit_ev(e, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
			YAML_BLOCK_SEQUENCE_STYLE));
	for (size_t i = 0; i < n; i++) {
		emit_str(e, v[i]);
	}
	emit_ev(e, &ev, yaml_sequence_end_event_initialize(&ev));
}

/* Host(`a`) || Host(`b`): the form both Traefik v2 and v3 accept (v3
 * dropped the multi-argument Host). Hosts are checked: no backquote. */
static char *host_rule(const char *const *hosts, size_t n)
{
	struct bg_buf b = BG_BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		bg_buf_addf(&b, "%sHost(`%s`)", i ? " || " : "", hosts[i]);
	}
	return bg_buf_detach(&b, NULL);
}

/*
 * How the site's routers are served. The global certresolver predates the
 * site's tls key: it used to put every router on TLS, and a site whose
 * tls.mode is off (the default) keeps exactly that, so existing files do
 * not change. auto and files are the site's own choice.
 */
enum tls_kind {
	TLS_NONE,     /* no tls section: plain HTTP */
	TLS_RESOLVER, /* tls.certResolver: Traefik requests the certificate */
	TLS_FILES,    /* tls: {}, and the site's files in tls.certificates */
};

/* One router of the file; everything borrowed from its struct site_file. */
struct router {
	const char *name, *rule, *service;
	const char *const *eps;
	size_t n_eps;
	const char *mws[2];
	size_t n_mws;
	bool tls;
};

/*
 * What one site's file holds. Names follow SITE-ROLE with suffixes that
 * are never the tail of one another, so two sites' routers or middlewares
 * (one namespace per provider in Traefik) cannot collide. Owned strings;
 * a middleware name is NULL when the file does not use it.
 */
struct site_file {
	enum tls_kind tls;
	const char *resolver; /* TLS_RESOLVER */
	char *cert, *key;     /* TLS_FILES */
	const char *http_ep;  /* entrypoint of the HTTP routers; NULL: none */
	char *live_name, *live_rule, *live_svc, *live_http;
	char *pv_name, *pv_rule, *pv_svc, *pv_http; /* NULL without a preview */
	char *mw_https, *mw_hsts, *mw_canonical, *mw_auth, *mw_allow;
	char *hsts, *canonical_re, *canonical_to;
	char *auth_line; /* "USER:$apr1$SALT$HASH": a hash, never the password */
	const struct bg_strv *allow;
	struct router routers[4];
	size_t n_routers;
};

static void site_file_release(struct site_file *f)
{
	if (f->auth_line) {
		OPENSSL_cleanse(f->auth_line, strlen(f->auth_line));
	}
	char **owned[] = {&f->auth_line, &f->mw_auth, &f->cert, &f->key, &f->live_name, &f->live_rule, &f->live_svc,
			&f->live_http, &f->pv_name, &f->pv_rule, &f->pv_svc, &f->pv_http,
			&f->mw_https, &f->mw_hsts, &f->mw_canonical, &f->mw_allow, &f->hsts,
			&f->canonical_re, &f->canonical_to};
	for (size_t i = 0; i < BG_ARRAY_SIZE(owned); i++) {
		free(*owned[i]);
		*owned[i] = NULL;
	}
}

/* A certificate or key path: absolute, printable, nothing YAML, Go
 * templates or a reader of the file could take for syntax. */
static bool cert_path_valid(const char *p)
{
	size_t n = p ? strlen(p) : 0;

	if (n < 2 || n > 4096 || p[0] != '/') {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= 0x20 || c >= 0x7f || strchr("\"\\{}`$'#", c)) {
			return false;
		}
	}
	return true;
}

static int tls_plan(const struct cfg *cfg, const struct edge_view *v, struct site_file *f)
{
	const struct cfg_site *s = v->site;
	const char *resolver = cfg->g.traefik.certresolver;

	switch (s->tls.mode) {
	case CFG_TLS_AUTO:
		/* Traefik requests the certificate when a router asks for it,
		 * so there is nothing to wait for (edge_view.tls_ready). */
		if (!resolver) {
			return BG_ECONFIG;
		}
		f->tls = TLS_RESOLVER;
		f->resolver = resolver;
		return 0;
	case CFG_TLS_FILES:
		if (!v->tls_ready) {
			f->tls = TLS_NONE; /* HTTP only until the files exist */
			return 0;
		}
		if (edge_tls_paths(cfg, s, &f->cert, &f->key) != 0 ||
				!cert_path_valid(f->cert) || !cert_path_valid(f->key)) {
			return BG_ECONFIG;
		}
		f->tls = TLS_FILES;
		return 0;
	case CFG_TLS_OFF:
	default:
		f->tls = resolver ? TLS_RESOLVER : TLS_NONE;
		f->resolver = resolver;
		return 0;
	}
}

/* Requests for the site's other domains go to redirect_to (permanent),
 * same scheme, port and path. RE2 has no look-ahead, so the other domains
 * are listed; (?i): Host matching is case-insensitive in Traefik. */
static int canonical_plan(const struct cfg_site *s, struct site_file *f)
{
	struct bg_buf re = BG_BUF_INIT;
	size_t others = 0;

	if (!s->redirect_to) {
		return 0;
	}
	if (!edge__host_valid(s->redirect_to) || !bg_strv_contains(&s->domains, s->redirect_to)) {
		return BG_ECONFIG;
	}
	bg_buf_adds(&re, "(?i)^(https?)://(?:");
	for (size_t i = 0; i < s->domains.n; i++) {
		if (strcmp(s->domains.v[i], s->redirect_to) == 0) {
			continue;
		}
		bg_buf_adds(&re, others++ ? "|" : "");
		for (const char *c = s->domains.v[i]; *c; c++) {
			bg_buf_adds(&re, *c == '.' ? "\\." : (char[]){*c, '\0'});
		}
	}
	bg_buf_adds(&re, ")(:[0-9]+)?(.*)$");
	if (others) {
		f->mw_canonical = bg_xasprintf("%s-canonical", s->name);
		f->canonical_re = bg_buf_detach(&re, NULL);
		f->canonical_to = bg_xasprintf("${1}://%s${2}${3}", s->redirect_to);
	}
	bg_buf_release(&re);
	return 0;
}

/* USER:$apr1$SALT$HASH as edge__htpasswd_line makes it: user of
 * [A-Za-z0-9_.@-], salt and hash of the crypt alphabet. */
static bool htpasswd_line_valid(const char *line)
{
	static const char crypt64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "abcdefghijklmnopqrstuvwxyz";
	size_t user = strspn(line, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				   "0123456789_.@-");
	const char *p = line + user;

	if (user == 0 || user > 64 || strncmp(p, ":$apr1$", 7) != 0) {
		return false;
	}
	p += 7;
	size_t salt = strspn(p, crypt64);
	if (salt == 0 || salt > 8 || p[salt] != '$') {
		return false;
	}
	p += salt + 1;
	return strspn(p, crypt64) == 22 && p[22] == '\0';
}

/*
 * Who may see the preview. Traefik cannot OR two middlewares, so unlike
 * nginx's "listed networks, or credentials" it is one or the other
 * (ADR 0015): with preview_auth, basicAuth with the site's htpasswd line
 * (a hash; the Authorization header is not passed on to the candidate);
 * a line that cannot be made is an error, never an open preview. Without
 * it, ipAllowList with preview_allow (Traefik v2.11 and v3; v2's older
 * ipWhiteList is not written). No network listed: nobody, as with nginx's
 * deny all; Traefik refuses an empty sourceRange, so the limited broadcast
 * address, never a client's, stands for none.
 */
static int preview_plan(const struct cfg_site *s, struct site_file *f)
{
	if (s->preview_auth.user) {
		f->auth_line = edge__htpasswd_line(s);
		if (!f->auth_line || !htpasswd_line_valid(f->auth_line)) {
			return BG_ECONFIG;
		}
		f->mw_auth = bg_xasprintf("%s-preview-auth", s->name);
		return 0;
	}
	for (size_t i = 0; i < s->preview_allow.n; i++) {
		if (!bg_cidr_valid(s->preview_allow.v[i])) {
			return BG_ECONFIG;
		}
	}
	f->mw_allow = bg_xasprintf("%s-preview-allow", s->name);
	f->allow = &s->preview_allow;
	return 0;
}

/* A router on eps, or on the HTTP entrypoint when eps is NULL; returns it
 * for its middlewares. */
static struct router *router_add(struct site_file *f, const char *name, const char *rule,
		const char *svc, const struct bg_strv *eps, bool tls)
{
	struct router *r = &f->routers[f->n_routers++];

	*r = (struct router){.name = name, .rule = rule, .service = svc, .tls = tls};
	if (eps) {
		r->eps = (const char *const *)eps->v;
		r->n_eps = eps->n;
	} else {
		r->eps = &f->http_ep;
		r->n_eps = 1;
	}
	return r;
}

static void router_mw(struct router *r, const char *mw)
{
	if (mw) {
		r->mws[r->n_mws++] = mw;
	}
}

/*
 * The routers: SITE-live and SITE-preview on the configured entrypoints
 * (TLS when the site is served over HTTPS), and for a site with tls auto
 * or files, SITE-live-http and SITE-preview-http on the HTTP entrypoint,
 * which redirect to HTTPS once it is served (or serve plain HTTP until
 * then, or when tls.redirect is false). The redirect router carries
 * nothing else: credentials are never asked for over plain HTTP when
 * HTTPS is there.
 */
static void routers_plan(const struct cfg *cfg, const struct cfg_site *s, struct site_file *f)
{
	const struct bg_strv *eps = &cfg->g.traefik.entrypoints;
	bool https = f->tls != TLS_NONE;
	bool http = f->http_ep && s->tls.mode != CFG_TLS_OFF;
	bool redirect = https && s->tls.redirect;
	struct router *r;

	r = router_add(f, f->live_name, f->live_rule, f->live_svc, eps, https);
	router_mw(r, f->mw_hsts);
	router_mw(r, f->mw_canonical);
	if (f->pv_name) {
		r = router_add(f, f->pv_name, f->pv_rule, f->pv_svc, eps, https);
		router_mw(r, f->mw_hsts);
		router_mw(r, f->mw_auth ? f->mw_auth : f->mw_allow);
	}
	if (!http) {
		return;
	}
	if (redirect) {
		f->mw_https = bg_xasprintf("%s-https", s->name);
	}
	r = router_add(f, f->live_http, f->live_rule, f->live_svc, NULL, false);
	router_mw(r, redirect ? f->mw_https : f->mw_canonical);
	if (f->pv_name) {
		r = router_add(f, f->pv_http, f->pv_rule, f->pv_svc, NULL, false);
		router_mw(r, redirect ? f->mw_https : f->mw_auth ? f->mw_auth : f->mw_allow);
	}
}

/* Everything of v and cfg that reaches the file is checked here first. */
static int site_file_plan(const struct cfg *cfg, const struct edge_view *v,
		const char *http_ep, struct site_file *f)
{
	const struct cfg_traefik *t = &cfg->g.traefik;
	const struct cfg_site *s = v->site;
	int err = edge__view_check(v);

	for (size_t i = 0; !err && i < t->entrypoints.n; i++) {
		if (!edge__ident_valid(t->entrypoints.v[i])) {
			err = BG_ECONFIG;
		}
	}
	if (!err && ((t->certresolver && !edge__ident_valid(t->certresolver)) ||
			(http_ep && !edge__ident_valid(http_ep)))) {
		err = BG_ECONFIG;
	}
	if (!err) {
		f->http_ep = http_ep;
		err = tls_plan(cfg, v, f);
	}
	if (!err) {
		err = canonical_plan(s, f);
	}
	if (!err && s->preview) {
		err = preview_plan(s, f);
	}
	if (err) {
		return err;
	}
	const char *preview = edge__preview_colour(v);
	f->live_name = bg_xasprintf("%s-live", s->name);
	f->live_http = bg_xasprintf("%s-live-http", s->name);
	f->live_rule = host_rule((const char *const *)s->domains.v, s->domains.n);
	f->live_svc = bg_xasprintf("%s-%s@docker", s->name, v->live);
	if (preview) {
		f->pv_name = bg_xasprintf("%s-preview", s->name);
		f->pv_http = bg_xasprintf("%s-preview-http", s->name);
		f->pv_rule = host_rule((const char *const *)&s->preview, 1);
		f->pv_svc = bg_xasprintf("%s-%s@docker", s->name, preview);
	}
	if (f->tls != TLS_NONE && s->tls.hsts > 0) {
		f->mw_hsts = bg_xasprintf("%s-hsts", s->name);
		f->hsts = bg_xasprintf("%u", s->tls.hsts);
	}
	routers_plan(cfg, s, f);
	return 0;
}

static void emit_router(struct emit *e, const struct site_file *f, const struct router *r)
{
	emit_str(e, r->name);
	emit_map_start(e);
	if (r->n_eps) {
		emit_list(e, "entryPoints", r->eps, r->n_eps);
	}
	emit_str(e, "rule");
	emit_str(e, r->rule);
	emit_str(e, "service");
	emit_str(e, r->service);
	if (r->n_mws) {
		emit_list(e, "middlewares", r->mws, r->n_mws);
	}
	if (r->tls) {
		emit_str(e, "tls");
		emit_map_start(e); /* empty (TLS_FILES): libyaml writes {} */
		if (f->tls == TLS_RESOLVER) {
			emit_str(e, "certResolver");
			emit_str(e, f->resolver);
		}
		emit_map_end(e);
	}
	emit_map_end(e);
}

/* NAME: {TYPE: {...}}: opens the inner mapping; mw_close closes both. */
static void mw_open(struct emit *e, const char *name, const char *type)
{
	emit_str(e, name);
	emit_map_start(e);
	emit_str(e, type);
	emit_map_start(e);
}

static void mw_close(struct emit *e)
{
	emit_map_end(e);
	emit_map_end(e);
}

static void emit_middlewares(struct emit *e, const struct site_file *f)
{
	static const char *const nobody[] = {"255.255.255.255/32"};

	if (!f->mw_https && !f->mw_hsts && !f->mw_canonical && !f->mw_auth && !f->mw_allow) {
		return;
	}
	emit_str(e, "middlewares");
	emit_map_start(e);
	if (f->mw_https) {
		mw_open(e, f->mw_https, "redirectScheme");
		emit_str(e, "scheme");
		emit_str(e, "https");
		emit_str(e, "permanent");
		emit_plain(e, "true");
		mw_close(e);
	}
	if (f->mw_hsts) {
		mw_open(e, f->mw_hsts, "headers");
		emit_str(e, "stsSeconds");
		emit_plain(e, f->hsts);
		mw_close(e);
	}
	if (f->mw_canonical) {
		mw_open(e, f->mw_canonical, "redirectRegex");
		emit_str(e, "regex");
		emit_str(e, f->canonical_re);
		emit_str(e, "replacement");
		emit_str(e, f->canonical_to);
		emit_str(e, "permanent");
		emit_plain(e, "true");
		mw_close(e);
	}
	if (f->mw_auth) {
		mw_open(e, f->mw_auth, "basicAuth");
		emit_list(e, "users", (const char *const *)&f->auth_line, 1);
		emit_str(e, "removeHeader");
		emit_plain(e, "true");
		mw_close(e);
	}
	if (f->mw_allow) {
		mw_open(e, f->mw_allow, "ipAllowList");
		if (f->allow->n) {
			emit_list(e, "sourceRange", (const char *const *)f->allow->v, f->allow->n);
		} else {
			emit_list(e, "sourceRange", nobody, 1);
		}
		mw_close(e);
	}
	emit_map_end(e);
}

/* tls.certificates: the site's own files (tls.mode files). */
static void emit_certificates(struct emit *e, const struct site_file *f)
{
	yaml_event_t ev;

	if (f->tls != TLS_FILES) {
		return;
	}
	emit_str(e, "tls");
	emit_map_start(e);
	emit_str(e, "certificates");
	emit_ev(e, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
			YAML_BLOCK_SEQUENCE_STYLE));
	emit_map_start(e);
	emit_str(e, "certFile");
	emit_str(e, f->cert);
	emit_str(e, "keyFile");
	emit_str(e, f->key);
	emit_map_end(e);
	emit_ev(e, &ev, yaml_sequence_end_event_initialize(&ev));
	emit_map_end(e);
}

/* The YAML document after the header, appended to b. */
static int emit_file(struct bg_buf *b, const struct site_file *f)
{
	struct emit e = {.ok = true};
	yaml_event_t ev;

	if (!yaml_emitter_initialize(&e.em)) {
		return BG_ERRNO(ENOMEM);
	}
	yaml_emitter_set_output(&e.em, emit_write, b);
	yaml_emitter_set_unicode(&e.em, 1);
	yaml_emitter_set_width(&e.em, -1); /* never fold a long rule */
	yaml_emitter_set_indent(&e.em, 2);
	emit_ev(&e, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	emit_ev(&e, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	emit_map_start(&e);
	emit_str(&e, "http");
	emit_map_start(&e);
	emit_str(&e, "routers");
	emit_map_start(&e);
	for (size_t i = 0; i < f->n_routers; i++) {
		emit_router(&e, f, &f->routers[i]);
	}
	emit_map_end(&e);
	emit_middlewares(&e, f);
	emit_map_end(&e);
	emit_certificates(&e, f);
	emit_map_end(&e);
	emit_ev(&e, &ev, yaml_document_end_event_initialize(&ev, 1));
	emit_ev(&e, &ev, yaml_stream_end_event_initialize(&ev));
	if (e.ok && !yaml_emitter_flush(&e.em)) {
		e.ok = false;
	}
	yaml_emitter_delete(&e.em);
	return e.ok ? 0 : BG_ETOO_BIG; /* the only way our output handler fails */
}

int edge__traefik_render_http(const struct cfg *cfg, const struct edge_view *v,
		const char *http_ep, struct bg_buf *out)
{
	struct bg_buf b = BG_BUF_INIT;
	struct site_file f = {0};
	int err;

	err = site_file_plan(cfg, v, http_ep, &f);
	if (err) {
		goto out;
	}
	edge__header_render(&b, v->site->name, v->live, edge__preview_colour(v),
			v->live_version);
	err = emit_file(&b, &f);
	if (err) {
		goto out;
	}
	edge__trailer_render(&b);
	/* The inputs were checked, so this cannot trigger; it stays as the
	 * last line of defence, since Traefik runs the file through Go
	 * templates before parsing it. */
	if (strstr(b.data, "{{")) {
		err = BG_ECONFIG;
		goto out;
	}
	err = bg_buf_add(out, b.data, b.len);
out:
	bg_buf_release(&b);
	site_file_release(&f);
	return err;
}

/*
 * The entrypoint of the HTTP routers: edge.traefik.http_entrypoint. Unset:
 * no HTTP router is written and HTTP is left to the static configuration
 * (examples/traefik/traefik.yml redirects the web entrypoint to HTTPS).
 */
static const char *http_entrypoint(const struct cfg *cfg)
{
	return cfg->g.traefik.http_entrypoint;
}

static int traefik_render(const struct cfg *cfg, const struct edge_view *v, struct bg_buf *out)
{
	return edge__traefik_render_http(cfg, v, http_entrypoint(cfg), out);
}

/* ---- labels ---- */

static void traefik_container_labels(const struct cfg *cfg, const struct cfg_site *site,
		const char *colour, struct obs_labels *labels)
{
	char *k, *v;
	char port[16];

	if (!edge__site_name_valid(site->name) || !edge__colour_valid(colour)) {
		bg_log(BG_LOG_ERROR, "no traefik labels for site '%s' colour '%s': invalid name",
				site->name ? site->name : "", colour ? colour : "");
		return;
	}
	obs_labels_set(labels, "traefik.enable", "true");
	obs_labels_set(labels, "traefik.docker.network",
			cfg->g.edge_network ? cfg->g.edge_network : "bluegreen-edge");
	snprintf(port, sizeof(port), "%u", site->port);
	k = bg_xasprintf("traefik.http.services.%s-%s.loadbalancer.server.port", site->name,
			colour);
	obs_labels_set(labels, k, port);
	free(k);
	/*
	 * A colour-pinned router on the internal entrypoint: with a router of
	 * its own, Traefik creates no default router for the container, and
	 * the colour can be reached for checks without any public hostname.
	 * Labels never change after creation, so they must never carry the
	 * live or preview hostnames.
	 */
	k = bg_xasprintf("traefik.http.routers.%s-%s.rule", site->name, colour);
	v = bg_xasprintf("Host(`%s-%s.internal`)", site->name, colour);
	obs_labels_set(labels, k, v);
	free(k);
	free(v);
	k = bg_xasprintf("traefik.http.routers.%s-%s.entrypoints", site->name, colour);
	obs_labels_set(labels, k, "internal");
	free(k);
	k = bg_xasprintf("traefik.http.routers.%s-%s.service", site->name, colour);
	v = bg_xasprintf("%s-%s", site->name, colour);
	obs_labels_set(labels, k, v);
	free(k);
	free(v);
}

/* ---- what the rest of bluegreen asks of this edge ---- */

static const char *traefik_watch_dir(const struct cfg *cfg)
{
	return cfg->g.traefik.dynamic_dir;
}

/* Traefik reaches containers on the edge network by their labels: it
 * needs no published port, no range and no addresses in the file. */
static bool traefik_publishes_ports(const struct cfg *cfg)
{
	(void)cfg;
	return false;
}

static bool traefik_port_range(const struct cfg *cfg, struct edge_port_range *r)
{
	(void)cfg;
	*r = (struct edge_port_range){0};
	return false;
}

static bool traefik_needs_upstreams(const struct cfg *cfg)
{
	(void)cfg;
	return false;
}

static void traefik_spec_add(const struct cfg *cfg, const struct cfg_site *site,
		struct json_object *spec)
{
	/* The labels follow from the site, which the spec already holds. */
	(void)cfg;
	(void)site;
	(void)spec;
}

static void x_dynamic_dir(const struct cfg *cfg, struct edge_exec_value *out)
{
	out->str = cfg->g.traefik.dynamic_dir;
	out->rel = cfg->g.traefik.dynamic_dir_rel;
}

static void x_staging_dir(const struct cfg *cfg, struct edge_exec_value *out)
{
	out->str = cfg->g.traefik.staging_dir;
	out->rel = cfg->g.traefik.staging_dir_rel;
}

static void x_api(const struct cfg *cfg, struct edge_exec_value *out)
{
	out->str = cfg->g.traefik.api; /* a URL, never "<config>/..." */
}

static const struct edge_exec_row traefik_exec_rows[] = {
	{"edge.traefik.dynamic_dir", "traefik dynamic directory", x_dynamic_dir},
	{"edge.traefik.staging_dir", "traefik staging directory", x_staging_dir},
	{"edge.traefik.api", "traefik API", x_api},
};

const struct edge_impl edge_traefik_impl = {
	.kind = "traefik",
	.path = edge__traefik_path,
	.render = traefik_render,
	.parse = edge__traefik_parse,
	.install = edge__traefik_install,
	.remove = edge__traefik_remove,
	.container_labels = traefik_container_labels,
	.watch_dir = traefik_watch_dir,
	.publishes_ports = traefik_publishes_ports,
	.port_range = traefik_port_range,
	.needs_upstreams = traefik_needs_upstreams,
	.spec_add = traefik_spec_add,
	.exec_rows = traefik_exec_rows,
	.n_exec_rows = BG_ARRAY_SIZE(traefik_exec_rows),
	.issues_certificates = false,
};
