/*
 * edge-nginx: the nginx edge. Each site gets CONF_DIR/bluegreen-SITE.conf:
 * a header whose `# bluegreen-*` lines say what the file means (read back
 * as the observed state), an upstream per role listing the containers'
 * "ip:port" on the edge network, and server blocks for the site's domains
 * and its preview domain. This file renders and parses; installing (write,
 * test, reload, probe, put back on failure) is edge-nginx-run.c.
 */
#include "bg.h"
#include "edge-int.h"

#include <json-c/json.h>

#include "bg-log.h"
#include "bg-util.h"

#include <arpa/inet.h>

#define NGINX_KEEPALIVE 16

char *edge__nginx_path(const struct cfg *cfg, const char *site)
{
	return bg_xasprintf("%s/bluegreen-%s.conf", cfg->g.nginx.conf_dir, site);
}

/*
 * Upstream names come from the site name, which may contain '-' and start
 * with a digit; the fixed prefix and '-' -> '_' make a plain identifier.
 * Site names never contain '_', so the mapping cannot make two sites
 * collide.
 */
static void upstream_name(struct bg_buf *b, const char *site, const char *role)
{
	bg_buf_adds(b, "bluegreen_");
	for (const char *p = site; *p; p++) {
		bg_buf_addch(b, *p == '-' ? '_' : *p);
	}
	bg_buf_addf(b, "_%s", role);
}

/* "ipv4:port" or "[ipv6]:port", port 1..65535: nothing else may reach a
 * `server` line. */
static bool addr_valid(const char *s)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	unsigned char bin[16];
	size_t hl;
	int af = AF_INET;

	if (!colon || colon == s) {
		return false;
	}
	const char *h = s;
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']') {
			return false;
		}
		h = s + 1;
		hl -= 2;
		af = AF_INET6;
	}
	if (hl == 0 || hl >= sizeof(host)) {
		return false;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (inet_pton(af, host, bin) != 1) {
		return false;
	}
	const char *p = colon + 1;
	unsigned long port = 0;
	if (!*p || strlen(p) > 5) {
		return false;
	}
	for (; *p; p++) {
		if (*p < '0' || *p > '9') {
			return false;
		}
		port = port * 10 + (unsigned long)(*p - '0');
	}
	return port >= 1 && port <= 65535;
}

/* The listen value is operator-written; keep it to what a listen
 * directive's parameters are made of, so it cannot end the directive. */
static bool listen_valid(const char *s)
{
	if (!s || !*s || strlen(s) > 200) {
		return false;
	}
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				(c >= '0' && c <= '9') || strchr(".:[]_=- ", c))) {
			return false;
		}
	}
	return true;
}

static int check_upstreams(const struct bg_strv *u)
{
	for (size_t i = 0; u && i < u->n; i++) {
		if (!addr_valid(u->v[i])) {
			return BG_ECONFIG;
		}
	}
	return 0;
}

static void render_upstream(struct bg_buf *b, const char *site, const char *role,
		const struct bg_strv *servers)
{
	struct bg_strv sorted;

	bg_strv_init(&sorted);
	if (servers) {
		bg_strv_copy(&sorted, servers);
	}
	bg_strv_sort(&sorted);
	bg_buf_adds(b, "upstream ");
	upstream_name(b, site, role);
	bg_buf_adds(b, " {\n");
	for (size_t i = 0; i < sorted.n; i++) {
		if (i > 0 && strcmp(sorted.v[i], sorted.v[i - 1]) == 0) {
			continue;
		}
		bg_buf_addf(b, "\tserver %s;\n", sorted.v[i]);
	}
	if (sorted.n == 0) {
		/*
		 * nginx refuses an upstream without servers, and a refused
		 * file would take every site on this nginx down with it. A
		 * server marked `down` is never contacted, so requests get a
		 * 502 until a container runs; 127.0.0.1:9 (discard) makes the
		 * intent obvious to whoever reads the file.
		 */
		bg_buf_adds(b, "\t# no running container: nginx answers 502\n"
				"\tserver 127.0.0.1:9 down;\n");
	}
	bg_buf_addf(b, "\tkeepalive %d;\n}\n\n", NGINX_KEEPALIVE);
	bg_strv_release(&sorted);
}

/*
 * The Connection header sent upstream: "upgrade" for a WebSocket handshake
 * (a request with Upgrade), empty otherwise so the upstream keepalive pool
 * can reuse connections. A map is http-level and its variable global, so
 * it is named after the site like the upstreams.
 */
static void render_upgrade_map(struct bg_buf *b, const char *site)
{
	bg_buf_adds(b, "# WebSocket handshakes pass Upgrade on; other requests keep the\n"
			"# upstream connection alive (empty Connection header).\nmap $http_upgrade $");
	upstream_name(b, site, "connection");
	bg_buf_adds(b, " {\n\tdefault upgrade;\n\t\"\" \"\";\n}\n\n");
}

/* Replaced by the serial once the rest of the file is known. */
#define SERIAL_SLOT "@BLUEGREEN-SERIAL@"

/*
 * A file path for a directive (certificate, key, webroot), written quoted.
 * Absolute, printable ASCII, and neither a quote nor a backslash (which
 * would end or escape the string) nor '$' (these directives expand
 * variables): anything else gives BG_ECONFIG instead of a file that means
 * something else.
 */
static bool path_valid(const char *s)
{
	return s && s[0] == '/' && bg_quoted_path_valid(s);
}

/* A size as nginx writes it (client_max_body_size): digits, then
 * optionally k, m or g; "0" turns the check off. */
static bool size_valid(const char *s)
{
	size_t n = strspn(s, "0123456789");
	if (n == 0 || n > 12) {
		return false;
	}
	return s[n] == '\0' || (strchr("kKmMgG", s[n]) && s[n + 1] == '\0');
}

/* What every server block of one site shares, checked before rendering. */
struct nx {
	struct bg_buf *b;
	const struct cfg *cfg;
	const struct cfg_site *s;
	const char *listen;     /* HTTP */
	const char *listen_tls; /* HTTPS */
	char *cert, *key;       /* non-NULL: the HTTPS blocks are written */
	char *webroot;          /* tls auto: ACME_DIR/webroot, served on HTTP */
	char *flags;            /* the flag directory (edge-nginx-flag.c) */
	/* The workers cannot see the flags (edge-nginx-reach.c): each role's
	 * colour is written in the file, so every switch reloads. */
	bool fixed;
	const char *live, *preview;
	bool started;           /* a server block was written (blank line between) */
};

/* One server block: which role it proxies to, the names it answers, and
 * whether it only redirects them to the site's redirect_to. */
struct nx_server {
	const char *role; /* "live" | "preview" */
	const char *const *names;
	size_t n_names;
	bool others; /* the domains other than redirect_to: redirect only */
	bool tls;
};

static void render_probe(const struct nx *x)
{
	struct bg_buf *b = x->b;
	/*
	 * install asks for this after a reload, until nginx answers with this
	 * file's serial: only then is the switch done. Local only, and on
	 * HTTP (the listen address) whatever the TLS settings.
	 */
	bg_buf_adds(b, "\tlocation = " EDGE_NGINX_PROBE_PATH " {\n"
			"\t\tallow 127.0.0.1;\n"
			"\t\tallow ::1;\n"
			"\t\tdeny all;\n"
			"\t\tdefault_type text/plain;\n"
			"\t\treturn 200 \"" SERIAL_SLOT " $");
	/* The live colour too: after a flag change the probe waits for it. */
	upstream_name(b, x->s->name, "live");
	bg_buf_adds(b, "\\n\";\n\t}\n\n");
}

/*
 * The colour a server block proxies to: blue unless the role's flag for
 * green exists, looked up on every request (`set` inside `if`, the safe use
 * of if; open_file_cache off so that an operator's cache never serves an
 * old answer). A worker that cannot stat the flag gets blue: the switch's
 * probe sees that and undoes the switch.
 */
static void render_select(const struct nx *x, const char *role)
{
	struct bg_buf *b = x->b;
	if (x->fixed) {
		bg_buf_adds(b, "\tset $");
		upstream_name(b, x->s->name, role);
		bg_buf_addf(b, " %s;\n", strcmp(role, "live") == 0 ? x->live : x->preview);
		return;
	}
	bg_buf_adds(b, "\topen_file_cache off;\n\tset $");
	upstream_name(b, x->s->name, role);
	bg_buf_addf(b, " blue;\n\tif (-f \"%s/%s.%s-green\") {\n\t\tset $", x->flags, x->s->name,
			role);
	upstream_name(b, x->s->name, role);
	bg_buf_adds(b, " green;\n\t}\n");
}

/* http-01: the ACME server fetches the token over HTTP from anywhere, so
 * the location answers before any redirect and past the preview's access
 * rules. */
static void render_acme(const struct nx *x, bool open)
{
	bg_buf_addf(x->b, "\tlocation ^~ /.well-known/acme-challenge/ {\n"
			"\t\troot \"%s\";\n"
			"\t\tdefault_type text/plain;\n", x->webroot);
	if (open) {
		bg_buf_adds(x->b, "\t\tallow all;\n\t\tauth_basic off;\n");
	}
	bg_buf_adds(x->b, "\t}\n\n");
}

static void render_proxy(const struct nx *x, const char *role)
{
	struct bg_buf *b = x->b;
	const struct cfg_site_edge *e = &x->s->edge;

	bg_buf_adds(b, "\tlocation / {\n\t\tproxy_pass http://");
	upstream_name(b, x->s->name, "$");
	upstream_name(b, x->s->name, role);
	/* HTTP/1.1 and the mapped Connection header: keepalive to the
	 * containers for plain requests, Upgrade passed on for WebSockets. */
	bg_buf_adds(b, ";\n"
			"\t\tproxy_http_version 1.1;\n"
			"\t\tproxy_set_header Upgrade $http_upgrade;\n"
			"\t\tproxy_set_header Connection $");
	upstream_name(b, x->s->name, "connection");
	bg_buf_adds(b, ";\n"
			"\t\tproxy_set_header Host $host;\n"
			"\t\tproxy_set_header X-Real-IP $remote_addr;\n"
			"\t\tproxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
			"\t\tproxy_set_header X-Forwarded-Proto $scheme;\n"
			"\t\tproxy_set_header X-Forwarded-Host $host;\n");
	/* Unset (a view built by hand, not from config): nginx's defaults. */
	if (e->max_body) {
		bg_buf_addf(b, "\t\tclient_max_body_size %s;\n", e->max_body);
	}
	/* nginx times in whole seconds, rounded up: never shorter than asked. */
	if (e->read_timeout_ms) {
		bg_buf_addf(b, "\t\tproxy_read_timeout %" PRIu64 "s;\n",
				(e->read_timeout_ms + 999) / 1000);
	}
	if (e->send_timeout_ms) {
		bg_buf_addf(b, "\t\tproxy_send_timeout %" PRIu64 "s;\n",
				(e->send_timeout_ms + 999) / 1000);
	}
	bg_buf_adds(b, "\t}\n");
}

static void render_server(const struct nx *x, const struct nx_server *sv)
{
	struct bg_buf *b = x->b;
	const struct cfg_tls *tls = &x->s->tls;
	bool preview = strcmp(sv->role, "preview") == 0;
	/* HTTP goes to HTTPS (when it can be served and redirect is on). */
	bool to_https = !sv->tls && x->cert && tls->redirect;

	if (sv->tls) {
		bg_buf_addf(b, "server {\n\tlisten %s ssl;\n\tserver_name", x->listen_tls);
	} else {
		bg_buf_addf(b, "server {\n\tlisten %s;\n\tserver_name", x->listen);
	}
	for (size_t i = 0; i < sv->n_names; i++) {
		bg_buf_addf(b, " %s", sv->names[i]);
	}
	bg_buf_adds(b, ";\n");
	if (sv->tls) {
		bg_buf_addf(b, "\tssl_certificate \"%s\";\n\tssl_certificate_key \"%s\";\n"
				"\tssl_protocols TLSv1.2 TLSv1.3;\n", x->cert, x->key);
		if (tls->hsts) {
			bg_buf_addf(b, "\tadd_header Strict-Transport-Security \"max-age=%u\" "
					"always;\n", tls->hsts);
		}
	}
	edge__nginx_realip_render(b, x->cfg);
	if (preview) {
		edge__nginx_access_render(b, x->cfg, x->s);
	}
	if (!sv->others) {
		render_select(x, sv->role);
	}
	bg_buf_adds(b, "\n");
	if (!sv->tls && !preview) {
		render_probe(x);
	}
	if (!sv->tls && x->webroot) {
		render_acme(x, preview);
	}
	if (sv->others) {
		bg_buf_addf(b, "\tlocation / {\n\t\treturn 308 %s://%s$request_uri;\n\t}\n",
				sv->tls || to_https ? "https" : "$scheme", x->s->redirect_to);
	} else if (to_https) {
		bg_buf_adds(b, "\tlocation / {\n\t\treturn 308 https://$host$request_uri;\n\t}\n");
	} else {
		render_proxy(x, sv->role);
	}
	bg_buf_adds(b, "}\n");
}

/*
 * The server blocks of one role: HTTP, then HTTPS when the certificate
 * can be served; for the live role with redirect_to, the site's other
 * domains get blocks of their own that only redirect.
 */
static void render_role(struct nx *x, const char *role)
{
	const struct cfg_site *s = x->s;
	const char *const *doms = (const char *const *)s->domains.v;
	const char **others = bg_xcalloc(s->domains.n + 1, sizeof(*others));
	size_t n_others = 0;
	struct nx_server sv[4];
	size_t n = 0;

	if (strcmp(role, "preview") == 0) {
		sv[n++] = (struct nx_server){role, (const char *const *)&s->preview, 1, false,
				false};
	} else if (s->redirect_to) {
		for (size_t i = 0; i < s->domains.n; i++) {
			if (strcmp(doms[i], s->redirect_to) != 0) {
				others[n_others++] = doms[i];
			}
		}
		sv[n++] = (struct nx_server){role, (const char *const *)&s->redirect_to, 1, false,
				false};
		if (n_others) {
			sv[n++] = (struct nx_server){role, others, n_others, true, false};
		}
	} else {
		sv[n++] = (struct nx_server){role, doms, s->domains.n, false, false};
	}
	for (size_t i = 0, http = n; x->cert && i < http; i++) {
		sv[n] = sv[i];
		sv[n++].tls = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (x->started) {
			bg_buf_adds(x->b, "\n");
		}
		x->started = true;
		render_server(x, &sv[i]);
	}
	free(others);
}

/* Check and resolve the site's edge settings into x; BG_ECONFIG if any
 * would not stay in its syntactic place. */
static int nx_init(struct nx *x, const struct cfg *cfg, const struct edge_view *v)
{
	const struct cfg_site *s = v->site;

	x->cfg = cfg;
	x->s = s;
	x->listen = cfg->g.nginx.listen ? cfg->g.nginx.listen : "80";
	x->listen_tls = cfg->g.nginx.listen_tls ? cfg->g.nginx.listen_tls : "443";
	if (!cfg->g.nginx.conf_dir) {
		return BG_ECONFIG;
	}
	x->flags = edge__nginx_flag_dir(cfg);
	if (!path_valid(x->flags)) {
		return BG_ECONFIG;
	}
	if (!listen_valid(x->listen) || !listen_valid(x->listen_tls)) {
		return BG_ECONFIG;
	}
	if (s->edge.max_body && !size_valid(s->edge.max_body)) {
		return BG_ECONFIG;
	}
	if (s->redirect_to && (!edge__host_valid(s->redirect_to) ||
			!bg_strv_contains(&s->domains, s->redirect_to))) {
		return BG_ECONFIG;
	}
	if (s->tls.mode == CFG_TLS_AUTO) {
		if (!path_valid(cfg->g.acme.dir)) {
			return BG_ECONFIG;
		}
		x->webroot = bg_xasprintf("%s/webroot", cfg->g.acme.dir);
	}
	if (v->tls_ready && s->tls.mode != CFG_TLS_OFF) {
		if (edge_tls_paths(cfg, s, &x->cert, &x->key) != 0 || !path_valid(x->cert) ||
				!path_valid(x->key)) {
			return BG_ECONFIG;
		}
	}
	return 0;
}

static void nx_release(struct nx *x)
{
	free(x->cert);
	free(x->key);
	free(x->webroot);
	free(x->flags);
}

/* Every SERIAL_SLOT in b becomes "SITE SERIAL". */
static void serial_fill(struct bg_buf *b, const char *site, const char *hex)
{
	struct bg_buf c = BG_BUF_INIT;
	const char *p = b->data, *slot;

	while ((slot = strstr(p, SERIAL_SLOT))) {
		bg_buf_add(&c, p, (size_t)(slot - p));
		bg_buf_addf(&c, "%s %.*s", site, EDGE_NGINX_SERIAL_LEN, hex);
		p = slot + strlen(SERIAL_SLOT);
	}
	bg_buf_adds(&c, p);
	bg_buf_release(b);
	*b = c;
}

/* A colour's containers: given for both colours, or the live / preview ones. */
static const struct bg_strv *colour_upstreams(const struct edge_view *v, const char *colour)
{
	const struct bg_strv *given = strcmp(colour, "blue") == 0 ? v->blue_upstreams
								  : v->green_upstreams;
	if (given) {
		return given;
	}
	if (strcmp(colour, v->live) == 0) {
		return v->live_upstreams;
	}
	return v->preview && strcmp(colour, v->preview) == 0 ? v->preview_upstreams : NULL;
}

static int nginx_render(const struct cfg *cfg, const struct edge_view *v, struct bg_buf *out)
{
	const char *preview;
	struct bg_buf b = BG_BUF_INIT;
	struct nx x = {.b = &b};
	int err;

	err = edge__view_check(v);
	if (!err && (check_upstreams(v->live_upstreams) ||
			check_upstreams(v->preview_upstreams) ||
			check_upstreams(v->blue_upstreams) || check_upstreams(v->green_upstreams))) {
		err = BG_ECONFIG;
	}
	if (!err) {
		err = nx_init(&x, cfg, v);
	}
	if (err) {
		nx_release(&x);
		return err;
	}
	const struct cfg_site *s = v->site;
	preview = edge__preview_colour(v);

	x.fixed = !edge__nginx_flags_reachable(cfg, NULL);
	x.live = v->live;
	x.preview = preview;
	if (x.fixed) {
		edge__header_render(&b, s->name, v->live, preview, v->live_version);
	} else {
		/* No colour and no version in the file: the flags say what is
		 * live, so that a switch leaves the file as it is. */
		bg_buf_addf(&b, EDGE_HEADER_MARKER " This file is replaced whole on every\n"
				"# change; bluegreen reads it back, with the flags it names, as "
				"the\n# edge's state.\n# bluegreen-site: %s\n# bluegreen-flags: "
				"%s %s\n\n", s->name, preview ? "live+preview" : "live", x.flags);
	}
	render_upgrade_map(&b, s->name);
	render_upstream(&b, s->name, "blue", colour_upstreams(v, "blue"));
	render_upstream(&b, s->name, "green", colour_upstreams(v, "green"));
	render_role(&x, "live");
	if (preview) {
		render_role(&x, "preview");
	}
	/* The serial is a hash of everything else: it changes with any change. */
	char hex[65];
	bg_sha256_hex(b.data, b.len, hex);
	serial_fill(&b, s->name, hex);
	edge__trailer_render(&b);
	err = bg_buf_add(out, b.data, b.len);
	bg_buf_release(&b);
	nx_release(&x);
	return err;
}

/* ---- parse ---- */

struct line {
	const char *p;
	size_t n;
};

/* Next line of [*pos, end), without its newline; false at the end. */
static bool next_line(const char **pos, const char *end, struct line *l)
{
	if (*pos >= end) {
		return false;
	}
	const char *nl = memchr(*pos, '\n', (size_t)(end - *pos));
	l->p = *pos;
	l->n = nl ? (size_t)(nl - *pos) : (size_t)(end - *pos);
	*pos = nl ? nl + 1 : end;
	return true;
}

static void trim(struct line *l)
{
	while (l->n && (l->p[0] == ' ' || l->p[0] == '\t')) {
		l->p++;
		l->n--;
	}
	while (l->n && (l->p[l->n - 1] == ' ' || l->p[l->n - 1] == '\t' ||
			l->p[l->n - 1] == '\r')) {
		l->n--;
	}
}

static bool line_is(const struct line *l, const char *s)
{
	return l->n == strlen(s) && memcmp(l->p, s, l->n) == 0;
}

/* "PREFIX value" -> value (a new string), when the line starts with prefix. */
static char *line_value(const struct line *l, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (l->n <= pl || memcmp(l->p, prefix, pl) != 0) {
		return NULL;
	}
	return bg_xstrndup(l->p + pl, l->n - pl);
}

/*
 * Braces outside comments and quotes must balance and never go negative:
 * a cheap way to tell a truncated or mangled file from one we wrote.
 */
static bool braces_balanced(const char *s, size_t len)
{
	long depth = 0;
	bool comment = false;
	char quote = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (comment) {
			comment = c != '\n';
		} else if (quote) {
			if (c == '\\' && i + 1 < len) {
				i++;
			} else if (c == quote) {
				quote = 0;
			}
		} else if (c == '#') {
			comment = true;
		} else if (c == '"' || c == '\'') {
			quote = c;
		} else if (c == '{') {
			depth++;
		} else if (c == '}' && --depth < 0) {
			return false;
		}
	}
	return depth == 0 && !quote;
}

/*
 * The servers of upstream bluegreen_SITE_ROLE in [pos, end) into out
 * (sorted); BG_EPARSE (e->error) when it is missing, repeated or lists
 * anything but an address.
 */
static int parse_upstream(const char *site, const char *role, const char *pos,
		const char *end, struct bg_strv *out, struct obs_edge *e)
{
	struct bg_buf up = BG_BUF_INIT;
	struct line l;
	bool in_up = false, seen_up = false, closed_up = false;
	int err = 0;

	bg_buf_adds(&up, "upstream ");
	upstream_name(&up, site, role);
	bg_buf_adds(&up, " {");
	while (!err && next_line(&pos, end, &l)) {
		trim(&l);
		if (!in_up) {
			if (line_is(&l, up.data)) {
				if (seen_up) {
					err = edge__obs_fail(e, "%s upstream defined twice", role);
				}
				in_up = seen_up = true;
			}
			continue;
		}
		if (line_is(&l, "}")) {
			in_up = false;
			closed_up = true;
			continue;
		}
		char *addr = line_value(&l, "server ");
		if (!addr) {
			continue; /* keepalive, comments */
		}
		if (strcmp(addr, "127.0.0.1:9 down;") == 0) {
			free(addr); /* the empty-upstream placeholder */
			continue;
		}
		size_t al = strlen(addr);
		if (al < 2 || addr[al - 1] != ';' || (addr[al - 1] = '\0', !addr_valid(addr))) {
			free(addr);
			err = edge__obs_fail(e, "unexpected server line in the %s upstream", role);
			break;
		}
		bg_strv_push_take(out, addr);
	}
	if (!err && (!seen_up || !closed_up)) {
		err = edge__obs_fail(e, "no %s upstream '%s'", role, up.data);
	}
	bg_strv_sort(out);
	bg_buf_release(&up);
	return err;
}

/*
 * A file switched by flags: `# bluegreen-flags: live[+preview] DIR`. The
 * colours are the flags' (a missing or odd flag is an error, never a
 * guess: nginx would serve blue); the upstreams reported are the live
 * colour's.
 */
static int parse_flagged(const char *site, const char *flags, const char *pos,
		const char *end, struct obs_edge *e)
{
	struct bg_strv ups[2];
	static const char *const colours[] = {"blue", "green"};
	const char *sp = strchr(flags, ' ');
	bool preview = bg_str_has_prefix(flags, "live+preview ");
	const char *live = NULL, *pcol = NULL;
	char *why = NULL;
	int err = 0;

	bg_strv_init(&ups[0]);
	bg_strv_init(&ups[1]);
	if (!sp || sp[1] != '/' || (!preview && !bg_str_has_prefix(flags, "live "))) {
		err = edge__obs_fail(e, "unexpected bluegreen-flags header line");
	}
	for (size_t i = 0; i < 2 && !err; i++) {
		err = parse_upstream(site, colours[i], pos, end, &ups[i], e);
	}
	if (!err && edge__nginx_flag_read(sp + 1, site, "live", &live, &why) != 0) {
		err = edge__obs_fail(e, "live colour unknown: %s", why);
	}
	free(why);
	why = NULL;
	if (!err && preview && edge__nginx_flag_read(sp + 1, site, "preview", &pcol, &why) != 0) {
		err = edge__obs_fail(e, "preview colour unknown: %s", why);
	}
	free(why);
	if (!err) {
		e->live = bg_xstrdup(live);
		e->preview = pcol ? bg_xstrdup(pcol) : NULL;
		bg_strv_copy(&e->upstreams, &ups[strcmp(live, "blue") == 0 ? 0 : 1]);
	}
	bg_strv_release(&ups[0]);
	bg_strv_release(&ups[1]);
	return err;
}

static int nginx_parse(const struct cfg *cfg, const char *site, const char *content,
		size_t len, struct obs_edge *e)
{
	const char *pos, *end;
	struct edge__header h;
	int err;

	(void)cfg;
	err = edge__parse_begin_flags(site, content, len, &h, e);
	if (err) {
		return err;
	}
	pos = content + h.body;
	end = content + h.body_end;
	if (!braces_balanced(pos, (size_t)(end - pos))) {
		err = edge__obs_fail(e, "unbalanced braces: truncated or edited by hand");
		goto out;
	}
	if (h.flags) {
		err = parse_flagged(site, h.flags, pos, end, e);
		goto out;
	}
	/* Colours in the header: a file with fixed colours (both colours'
	 * upstreams, the workers cannot see flags) or of the previous form
	 * (upstream `live` is the live colour's; the next apply rewrites it). */
	struct bg_buf up = BG_BUF_INIT;
	bg_buf_adds(&up, "\nupstream ");
	upstream_name(&up, site, h.live);
	bg_buf_adds(&up, " {\n");
	bool fixed = memmem(pos, (size_t)(end - pos), up.data, up.len) != NULL;
	bg_buf_release(&up);
	err = parse_upstream(site, fixed ? h.live : "live", pos, end, &e->upstreams, e);
	if (err) {
		goto out;
	}
	e->live = h.live;
	e->preview = h.preview;
	h.live = h.preview = NULL;
out:
	edge__header_release(&h);
	return err;
}

static void nginx_container_labels(const struct cfg *cfg, const struct cfg_site *site,
		const char *colour, struct obs_labels *labels)
{
	/* nginx reaches containers by IP on the edge network: no labels. */
}

/* ---- what the rest of bluegreen asks of this edge ---- */

static const char *nginx_watch_dir(const struct cfg *cfg)
{
	return cfg->g.nginx.conf_dir;
}

static bool nginx_publishes_ports(const struct cfg *cfg)
{
	return cfg->g.nginx.upstream == CFG_UPSTREAM_PORTS;
}

static bool nginx_port_range(const struct cfg *cfg, struct edge_port_range *r)
{
	r->lo = cfg->g.nginx.port_lo;
	r->hi = cfg->g.nginx.port_hi;
	r->key = "edge.nginx.ports";
	r->value = cfg->g.nginx.ports;
	return true;
}

static bool nginx_needs_upstreams(const struct cfg *cfg)
{
	(void)cfg;
	return true; /* the file lists "ip:port" of each container */
}

static void nginx_spec_add(const struct cfg *cfg, const struct cfg_site *site,
		struct json_object *spec)
{
	(void)site;
	/* How nginx reaches the container is part of the container (a published port or not). */
	json_object_object_add(spec, "upstream", json_object_new_string(
			cfg->g.nginx.upstream == CFG_UPSTREAM_PORTS ? "ports" : "addresses"));
}

static void x_conf_dir(const struct cfg *cfg, struct edge_exec_value *out)
{
	out->str = cfg->g.nginx.conf_dir;
	out->rel = cfg->g.nginx.conf_dir_rel;
}

static void x_test(const struct cfg *cfg, struct edge_exec_value *out)
{
	out->argv = &cfg->g.nginx.test;
}

static void x_reload(const struct cfg *cfg, struct edge_exec_value *out)
{
	out->argv = &cfg->g.nginx.reload;
}

static const struct edge_exec_row nginx_exec_rows[] = {
	{"edge.nginx.conf_dir", "nginx config directory", x_conf_dir},
	{"edge.nginx.test", "edge test command", x_test},
	{"edge.nginx.reload", "edge reload command", x_reload},
};

const struct edge_impl edge_nginx_impl = {
	.kind = "nginx",
	.path = edge__nginx_path,
	.render = nginx_render,
	.parse = nginx_parse,
	.install = edge__nginx_install,
	.remove = edge__nginx_remove,
	.container_labels = nginx_container_labels,
	.watch_dir = nginx_watch_dir,
	.publishes_ports = nginx_publishes_ports,
	.port_range = nginx_port_range,
	.needs_upstreams = nginx_needs_upstreams,
	.spec_add = nginx_spec_add,
	.exec_rows = nginx_exec_rows,
	.n_exec_rows = BG_ARRAY_SIZE(nginx_exec_rows),
	.issues_certificates = true,
	.route = edge__nginx_route,
	.route_note = edge__nginx_route_note,
};
