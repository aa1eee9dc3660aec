/*
 * t-edge: the edge files, both kinds, without any proxy running. Golden
 * files pin the exact bytes we render for a spread of views; everything we
 * render parses back to the view it came from; truncated, flipped, edited
 * or garbage files give an error, never a crash or a half-understood
 * colour; hostile names never reach a file (no `{{` for Traefik's Go
 * templates); the container labels are exactly the colour's own.
 *
 * Traefik cannot run here, so its contract is checked at two named seams:
 * every Traefik file is validated against Traefik's published JSON Schemas
 * (test/data/traefik/, by test/unit/traefik-validate.py with
 * /usr/bin/python3), and the API confirmation talks to
 * test/unit/traefik-api-fake.py, a stand-in for Traefik's API that answers
 * from the file provider directory. Installs are real file operations:
 * atomicity is checked by a concurrent reader, EXDEV across two real
 * filesystems (found, or a tmpfs mounted in a private namespace).
 *
 * BG_UPDATE_GOLDEN=1 rewrites test/fixtures/edge/ from the current output
 * (refused under CI=true: the goldens would then check themselves).
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "bg-util.h"
#include "cfg.h"
#include "edge-int.h"
#include "edge-traefik-int.h"
#include "obs.h"
#include "th.h"

#include <dirent.h>
#include <json-c/json.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- fixtures: a config and a site filled by hand ---- */

struct gcase {
	const char *name;
	const char *site;
	const char *domains[4];
	const char *preview_domain;
	const char *live;
	const char *preview;
	unsigned version;
	unsigned replicas;
	const char *live_ups[5];
	const char *preview_ups[4];
	const char *certresolver;
	const char *entrypoints[3];
	const char *listen;
};

static const struct gcase cases[] = {
	{.name = "live-blue", .site = "shop", .domains = {"shop.example.com"},
			.live = "blue", .version = 1, .replicas = 1,
			.live_ups = {"172.20.0.2:8080"}, .certresolver = "letsencrypt",
			.entrypoints = {"websecure"}},
	{.name = "live-green", .site = "shop", .domains = {"shop.example.com"},
			.live = "green", .version = 2, .replicas = 1,
			.live_ups = {"172.20.0.3:8080"}, .certresolver = "letsencrypt",
			.entrypoints = {"websecure"}},
	{.name = "preview-candidate", .site = "shop", .domains = {"shop.example.com"},
			.preview_domain = "preview.shop.example.com", .live = "blue",
			.preview = "green", .version = 3, .replicas = 1,
			.live_ups = {"172.20.0.2:8080"}, .preview_ups = {"172.20.0.5:8080"},
			.certresolver = "letsencrypt", .entrypoints = {"websecure"}},
	{.name = "preview-no-candidate", .site = "shop", .domains = {"shop.example.com"},
			.preview_domain = "preview.shop.example.com", .live = "green",
			.version = 4, .replicas = 1, .live_ups = {"172.20.0.3:8080"},
			.certresolver = "letsencrypt", .entrypoints = {"websecure"}},
	{.name = "replicas", .site = "shop", .domains = {"shop.example.com"},
			.live = "green", .version = 5, .replicas = 3,
			.live_ups = {"172.20.0.9:8080", "172.20.0.10:8080", "172.20.0.11:8080",
					"172.20.0.9:8080"},
			.certresolver = "letsencrypt", .entrypoints = {"websecure"}},
	{.name = "no-certresolver", .site = "blog", .domains = {"blog.example.com"},
			.live = "blue", .version = 1, .replicas = 1,
			.live_ups = {"172.20.0.4:3000"}, .entrypoints = {"web"},
			.listen = "127.0.0.1:8080"},
	{.name = "multi-domain", .site = "shop", .domains = {"shop.example.com",
			"www.shop.example.com", "shop.example.org"},
			.preview_domain = "preview.shop.example.com", .live = "blue",
			.preview = "blue", .version = 7, .replicas = 2,
			.live_ups = {"172.20.0.2:8080", "172.20.0.6:8080"},
			.certresolver = "letsencrypt", .entrypoints = {"web", "websecure"}},
	{.name = "empty-upstream", .site = "shop", .domains = {"shop.example.com"},
			.preview_domain = "preview.shop.example.com", .live = "blue",
			.preview = "green", .version = 8, .replicas = 1,
			.certresolver = "letsencrypt", .entrypoints = {"websecure"}},
	{.name = "digit-site", .site = "1-shop-2", .domains = {"1.example.com"},
			.live = "green", .version = 9, .replicas = 1,
			.live_ups = {"[fd00::5]:8080"}, .certresolver = "le",
			.entrypoints = {"websecure"}},
};

struct fx {
	struct cfg cfg;
	struct cfg_site site;
	struct bg_strv live_ups, preview_ups;
	struct edge_view v;
	char *dir;
};

static void strv_from(struct bg_strv *sv, const char *const *items, size_t max)
{
	bg_strv_init(sv);
	for (size_t i = 0; i < max && items[i]; i++) {
		bg_strv_push(sv, items[i]);
	}
}

static void fx_init(struct fx *f, const struct gcase *c, enum cfg_edge_kind kind,
		const char *dir)
{
	memset(f, 0, sizeof(*f));
	f->dir = bg_xstrdup(dir ? dir : "/nonexistent");
	f->cfg.dir = bg_xstrdup(f->dir);
	f->cfg.g.edge_kind = kind;
	f->cfg.g.edge_network = bg_xstrdup("bluegreen-edge");
	f->cfg.g.traefik.dynamic_dir = bg_xasprintf("%s/dynamic", f->dir);
	f->cfg.g.traefik.staging_dir = bg_xasprintf("%s/dynamic.staging", f->dir);
	strv_from(&f->cfg.g.traefik.entrypoints, c->entrypoints, 3);
	f->cfg.g.traefik.certresolver = bg_xstrdup(c->certresolver);
	f->cfg.g.nginx.conf_dir = bg_xasprintf("%s/conf.d", f->dir);
	f->cfg.g.nginx.listen = bg_xstrdup(c->listen ? c->listen : "80");
	bg_strv_push(&f->cfg.g.nginx.reload, "true");
	f->site.name = bg_xstrdup(c->site);
	strv_from(&f->site.domains, c->domains, 4);
	f->site.preview = bg_xstrdup(c->preview_domain);
	f->site.port = 8080;
	f->site.replicas = c->replicas;
	/* The loader's defaults for the edge keys of a site (cfg-keys.c). */
	f->site.tls.redirect = true;
	f->site.edge.max_body = bg_xstrdup("64m");
	f->site.edge.read_timeout_ms = f->site.edge.send_timeout_ms = 60000;
	bg_strv_push(&f->site.preview_allow, "127.0.0.1/32");
	bg_strv_push(&f->site.preview_allow, "::1/128");
	f->cfg.sites = &f->site;
	f->cfg.n_sites = 1;
	strv_from(&f->live_ups, c->live_ups, 5);
	strv_from(&f->preview_ups, c->preview_ups, 4);
	f->v.site = &f->site;
	f->v.live = c->live;
	f->v.live_version = c->version;
	f->v.preview = c->preview;
	f->v.live_upstreams = &f->live_ups;
	f->v.preview_upstreams = &f->preview_ups;
}

static void fx_release(struct fx *f)
{
	free(f->cfg.dir);
	free(f->cfg.g.edge_network);
	free(f->cfg.g.traefik.dynamic_dir);
	free(f->cfg.g.traefik.staging_dir);
	free(f->cfg.g.traefik.api);
	bg_strv_release(&f->cfg.g.traefik.entrypoints);
	free(f->cfg.g.traefik.certresolver);
	free(f->cfg.g.nginx.conf_dir);
	free(f->cfg.g.nginx.listen);
	bg_strv_release(&f->cfg.g.nginx.reload);
	bg_strv_release(&f->cfg.g.nginx.test);
	free(f->site.name);
	bg_strv_release(&f->site.domains);
	free(f->site.preview);
	free(f->site.tls.cert);
	free(f->site.tls.key);
	free(f->site.redirect_to);
	free(f->site.edge.max_body);
	free(f->site.preview_auth.user);
	free(f->site.preview_auth.password_file);
	free(f->site.preview_auth.password);
	bg_strv_release(&f->site.preview_allow);
	bg_strv_release(&f->live_ups);
	bg_strv_release(&f->preview_ups);
	free(f->dir);
}

static const struct edge_impl *kind_impl(enum cfg_edge_kind k)
{
	struct cfg c = {0};
	c.g.edge_kind = k;
	const struct edge_impl *impl = edge_for(&c);
	assert_non_null(impl);
	return impl;
}

static char *render_case(const struct gcase *c, enum cfg_edge_kind kind)
{
	struct fx f;
	struct bg_buf out = BG_BUF_INIT;

	fx_init(&f, c, kind, NULL);
	assert_int_equal(kind_impl(kind)->render(&f.cfg, &f.v, &out), 0);
	fx_release(&f);
	return bg_buf_detach(&out, NULL);
}

static char *golden_path(const struct gcase *c, enum cfg_edge_kind kind)
{
	return bg_xasprintf("%s/test/fixtures/edge/%s/%s.%s", th_srcdir(),
			kind == CFG_EDGE_TRAEFIK ? "traefik" : "nginx", c->name,
			kind == CFG_EDGE_TRAEFIK ? "yml" : "conf");
}

static bool update_golden(void)
{
	const char *u = getenv("BG_UPDATE_GOLDEN");
	return u && strcmp(u, "1") == 0;
}

static const enum cfg_edge_kind kinds[] = {CFG_EDGE_TRAEFIK, CFG_EDGE_NGINX};

/* ---- golden files and round trips ---- */

static void test_golden(void **state)
{
	for (size_t k = 0; k < BG_ARRAY_SIZE(kinds); k++) {
		for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
			char *got = render_case(&cases[i], kinds[k]);
			char *again = render_case(&cases[i], kinds[k]);
			char *path = golden_path(&cases[i], kinds[k]);
			/* Deterministic: the same view gives the same bytes. */
			assert_string_equal(got, again);
			if (update_golden()) {
				assert_int_equal(bg_file_write_atomic(path, NULL, got,
						strlen(got), 0644), 0);
			}
			char *want = th_read(path);
			if (strcmp(got, want) != 0) {
				th_print_error("golden mismatch for %s:\n--- want\n%s--- got\n%s",
						path, want, got);
			}
			assert_string_equal(got, want);
			free(want);
			free(path);
			free(again);
			free(got);
		}
	}
}

/* nginx: the flags a file names, as bluegreen sets them (edge-nginx-flag.c). */
static void write_flags(const char *flag_dir, const char *site, const char *live,
		const char *preview)
{
	char *n = bg_xasprintf("%s.live-%s", site, live);
	th_write(flag_dir, n, "");
	free(n);
	if (preview) {
		n = bg_xasprintf("%s.preview-%s", site, preview);
		th_write(flag_dir, n, "");
		free(n);
	}
}

/* nginx: text (rendered for /nonexistent) naming flag_dir instead, re-signed. */
static char *flags_moved(const char *text, const char *flag_dir);

static void expect_parse(const struct gcase *c, enum cfg_edge_kind kind, const char *text)
{
	struct fx f;
	struct obs_edge e;
	char *tmp = NULL, *moved = NULL;

	memset(&e, 0, sizeof(e));
	fx_init(&f, c, kind, NULL);
	if (kind == CFG_EDGE_NGINX) {
		/* The colours are the flags': set them as the case says. */
		tmp = th_tmpdir("edge-flags");
		write_flags(tmp, c->site, c->live,
				c->preview_domain ? (c->preview ? c->preview : c->live) : NULL);
		moved = flags_moved(text, tmp);
		text = moved;
	}
	assert_int_equal(kind_impl(kind)->parse(&f.cfg, c->site, text, strlen(text), &e), 0);
	assert_null(e.error);
	assert_string_equal(e.live, c->live);
	if (c->preview_domain) {
		assert_non_null(e.preview);
		assert_string_equal(e.preview, c->preview ? c->preview : c->live);
	} else {
		assert_null(e.preview);
	}
	if (kind == CFG_EDGE_NGINX) {
		/* The live upstream's servers, sorted and without duplicates. */
		struct bg_strv want;
		bg_strv_init(&want);
		for (size_t i = 0; i < f.live_ups.n; i++) {
			if (!bg_strv_contains(&want, f.live_ups.v[i])) {
				bg_strv_push(&want, f.live_ups.v[i]);
			}
		}
		bg_strv_sort(&want);
		assert_int_equal(e.upstreams.n, want.n);
		for (size_t i = 0; i < want.n; i++) {
			assert_string_equal(e.upstreams.v[i], want.v[i]);
		}
		bg_strv_release(&want);
	} else {
		assert_int_equal(e.upstreams.n, 0);
	}
	edge__obs_reset(&e);
	fx_release(&f);
	if (tmp) {
		th_rm_rf(tmp);
	}
	free(tmp);
	free(moved);
}

static void test_roundtrip(void **state)
{
	for (size_t k = 0; k < BG_ARRAY_SIZE(kinds); k++) {
		for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
			char *text = render_case(&cases[i], kinds[k]);
			expect_parse(&cases[i], kinds[k], text);
			free(text);
		}
	}
}

/* ---- damaged files ---- */

static char *replace(const char *text, const char *from, const char *to);

static char *flags_moved(const char *text, const char *flag_dir)
{
	struct bg_buf b = BG_BUF_INIT;
	const char *old = "/nonexistent/conf.d/.bluegreen-live", *p = text, *q;
	while ((q = strstr(p, old))) {
		bg_buf_add(&b, p, (size_t)(q - p));
		bg_buf_adds(&b, flag_dir);
		p = q + strlen(old);
	}
	bg_buf_adds(&b, p);
	char *raw = bg_buf_detach(&b, NULL);
	char *out = replace(raw, "# bluegreen-sha256", "# bluegreen-sha256");
	free(raw);
	return out;
}

static int parse_text(enum cfg_edge_kind kind, const char *site, const char *text,
		size_t len, struct obs_edge *e)
{
	struct fx f;
	fx_init(&f, &cases[0], kind, NULL);
	int err = kind_impl(kind)->parse(&f.cfg, site, text, len, e);
	fx_release(&f);
	return err;
}

static void expect_bad(enum cfg_edge_kind kind, const char *site, const char *text,
		size_t len, const char *why)
{
	struct obs_edge e;

	memset(&e, 0, sizeof(e));
	e.live = bg_xstrdup("stale"); /* parse must release what was there */
	int err = parse_text(kind, site, text, len, &e);
	if (err != BG_EPARSE) {
		th_print_error("%s: expected BG_EPARSE, got %d (live=%s) for:\n%.*s\n", why, err,
				e.live ? e.live : "(null)", (int)len, text);
	}
	assert_int_equal(err, BG_EPARSE);
	assert_non_null(e.error);
	assert_null(e.live);
	assert_null(e.preview);
	assert_int_equal(e.upstreams.n, 0);
	edge__obs_reset(&e);
}

/* Replace the trailer with a correct one: an editor who knows the format. */
static char *resign(const char *text)
{
	struct bg_buf b = BG_BUF_INIT;
	const char *t = strstr(text, "# bluegreen-sha256: ");
	assert_non_null(t);
	bg_buf_add(&b, text, (size_t)(t - text));
	edge__trailer_render(&b);
	return bg_buf_detach(&b, NULL);
}

static char *replace(const char *text, const char *from, const char *to)
{
	struct bg_buf b = BG_BUF_INIT;
	const char *p = strstr(text, from);
	assert_non_null(p);
	bg_buf_add(&b, text, (size_t)(p - text));
	bg_buf_adds(&b, to);
	bg_buf_adds(&b, p + strlen(from));
	char *raw = bg_buf_detach(&b, NULL);
	char *out = resign(raw);
	free(raw);
	return out;
}

static void test_truncated_and_flipped(void **state)
{
	for (size_t k = 0; k < BG_ARRAY_SIZE(kinds); k++) {
		for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
			char *text = render_case(&cases[i], kinds[k]);
			size_t len = strlen(text);
			/* Every proper prefix is a truncated file. */
			for (size_t n = 0; n < len; n++) {
				expect_bad(kinds[k], cases[i].site, text, n, "truncated");
			}
			/* Every single changed byte is an edit. */
			char *copy = bg_xstrdup(text);
			for (size_t n = 0; n < len; n++) {
				char was = copy[n];
				copy[n] = was == 'x' ? 'y' : 'x';
				expect_bad(kinds[k], cases[i].site, copy, len, "byte changed");
				copy[n] = was;
			}
			/* The right file for another site is not this site's. */
			expect_bad(kinds[k], "other", text, len, "other site");
			free(copy);
			free(text);
		}
	}
}

static void test_hand_edited(void **state)
{
	const struct gcase *pc = &cases[2]; /* preview-candidate: live blue, preview green */
	char *ty = render_case(pc, CFG_EDGE_TRAEFIK);
	/* nginx: the damage below is to a file of the previous form (upstream
	 * `live`, colours in the header), which is still read; the form with
	 * flags has its own cases after it. */
	char *ngpath = bg_xasprintf("%s/test/fixtures/edge/nginx/previous-form-preview-"
			"candidate.conf", th_srcdir());
	char *ng = th_read(ngpath);
	free(ngpath);
	char *ngf = render_case(pc, CFG_EDGE_NGINX);
	struct {
		enum cfg_edge_kind kind;
		const char *from, *to, *why;
	} edits[] = {
		{CFG_EDGE_TRAEFIK, "service: shop-blue@docker", "service: shop-green@docker",
				"router flipped, header not"},
		{CFG_EDGE_TRAEFIK, "service: shop-blue@docker", "service: shop-blue@file",
				"service from another provider"},
		{CFG_EDGE_TRAEFIK, "service: shop-blue@docker", "service: shop-red@docker",
				"unknown colour"},
		{CFG_EDGE_TRAEFIK, "service: shop-blue@docker", "service: other-blue@docker",
				"another site's service"},
		{CFG_EDGE_TRAEFIK, "    shop-live:", "    shop-old:", "no live router"},
		{CFG_EDGE_TRAEFIK, "    shop-preview:", "    shop-extra:", "unknown router"},
		{CFG_EDGE_TRAEFIK, "      rule: Host(`shop.example.com`)\n",
				"      rule: Host(`shop.example.com`)\n      foo: bar\n",
				"unknown router key"},
		{CFG_EDGE_TRAEFIK, "      rule: Host(`shop.example.com`)\n", "",
				"router without rule"},
		{CFG_EDGE_TRAEFIK, "      rule: Host(`shop.example.com`)\n",
				"      rule: Host(`shop.example.com`)\n"
				"      service: shop-blue@docker\n",
				"duplicate key"},
		{CFG_EDGE_TRAEFIK, "  routers:\n", "  middlewares: {}\n  routers:\n",
				"unknown http section"},
		{CFG_EDGE_TRAEFIK, "  routers:\n", "  services: {}\n  routers:\n",
				"unknown http section"},
		{CFG_EDGE_TRAEFIK, "http:\n", "tcp: {}\nhttp:\n", "unknown top-level key"},
		{CFG_EDGE_TRAEFIK, "# bluegreen-sha256", "---\nhttp: {}\n# bluegreen-sha256",
				"second document"},
		{CFG_EDGE_TRAEFIK, "      entryPoints:\n      - websecure\n",
				"      entryPoints: websecure\n", "entryPoints not a list"},
		{CFG_EDGE_TRAEFIK, "http:\n", "http: [\n", "YAML syntax error"},
		{CFG_EDGE_TRAEFIK, "http:\n", "http: !!binary aGk=\nx:\n", "not a mapping"},
		{CFG_EDGE_TRAEFIK, "# bluegreen-live: blue", "# bluegreen-live: green",
				"header flipped, router not"},
		{CFG_EDGE_TRAEFIK, "# bluegreen-site: shop", "# bluegreen-site: other",
				"another site's header"},
		{CFG_EDGE_TRAEFIK, "# bluegreen-preview: green\n", "", "preview router, no header"},
		{CFG_EDGE_TRAEFIK, "# Managed by bluegreen", "# Managed by hand",
				"no marker"},
		{CFG_EDGE_TRAEFIK, "# bluegreen-live: blue\n",
				"# bluegreen-live: blue\n# bluegreen-live: blue\n",
				"header repeated"},
		{CFG_EDGE_NGINX, "upstream bluegreen_shop_live {", "upstream other {",
				"no live upstream"},
		{CFG_EDGE_NGINX, "\tserver 172.20.0.2:8080;", "\tserver evil.example.com:80;",
				"server not an address"},
		{CFG_EDGE_NGINX, "\tserver 172.20.0.2:8080;", "\tserver 172.20.0.2:8080 backup;",
				"server with parameters"},
		{CFG_EDGE_NGINX, "\tkeepalive 16;\n}\n\nupstream bluegreen_shop_preview",
				"\tkeepalive 16;\n\nupstream bluegreen_shop_preview",
				"unbalanced braces"},
		{CFG_EDGE_NGINX, "# bluegreen-live: blue", "# bluegreen-live: red",
				"unknown colour"},
		{CFG_EDGE_NGINX, "# bluegreen-live: blue\n", "", "no live line"},
		{CFG_EDGE_NGINX, "# bluegreen-site: shop", "# bluegreen-site: other",
				"another site's header"},
		{CFG_EDGE_NGINX, "}\n\nupstream bluegreen_shop_preview",
				"}\nupstream bluegreen_shop_live {\n\tserver 10.0.0.1:80;\n}\n"
				"upstream bluegreen_shop_preview",
				"live upstream twice"},
	};
	/* The form with flags (whose flags do not exist here: that is an
	 * error too, never a guess; these fail before the flags are read). */
	static const struct {
		const char *from, *to, *why;
	} fedits[] = {
		{"upstream bluegreen_shop_blue {", "upstream other {", "no blue upstream"},
		{"upstream bluegreen_shop_green {", "upstream other {", "no green upstream"},
		{"# bluegreen-flags: live+preview ", "# bluegreen-flags: bogus ", "odd flags line"},
		{"# bluegreen-flags: live+preview /", "# bluegreen-flags: live+preview rel/",
				"relative flag directory"},
		{"# bluegreen-site: shop\n", "# bluegreen-site: shop\n# bluegreen-live: blue\n",
				"flags and a colour"},
		{"\tserver 172.20.0.2:8080;", "\tserver evil.example.com:80;",
				"server not an address"},
		{"", "", "flags missing"},
	};

	for (size_t i = 0; i < BG_ARRAY_SIZE(edits); i++) {
		const char *src = edits[i].kind == CFG_EDGE_TRAEFIK ? ty : ng;
		char *t = replace(src, edits[i].from, edits[i].to);
		expect_bad(edits[i].kind, "shop", t, strlen(t), edits[i].why);
		free(t);
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(fedits); i++) {
		char *t = replace(ngf, fedits[i].from, fedits[i].to);
		expect_bad(CFG_EDGE_NGINX, "shop", t, strlen(t), fedits[i].why);
		free(t);
	}
	/* The same file with its flags in place parses; with both flags of a
	 * role, or neither, it does not. */
	char *fd = th_tmpdir("edge-flags");
	char *moved = flags_moved(ngf, fd);
	struct obs_edge fe;
	memset(&fe, 0, sizeof(fe));
	write_flags(fd, "shop", "green", "blue");
	assert_int_equal(parse_text(CFG_EDGE_NGINX, "shop", moved, strlen(moved), &fe), 0);
	assert_string_equal(fe.live, "green");
	assert_string_equal(fe.preview, "blue");
	edge__obs_reset(&fe);
	write_flags(fd, "shop", "blue", NULL);
	expect_bad(CFG_EDGE_NGINX, "shop", moved, strlen(moved), "both live flags");
	char *gone = bg_xasprintf("%s/shop.live-blue", fd);
	unlink(gone);
	free(gone);
	gone = bg_xasprintf("%s/shop.live-green", fd);
	unlink(gone);
	free(gone);
	expect_bad(CFG_EDGE_NGINX, "shop", moved, strlen(moved), "no live flag");
	free(moved);
	th_rm_rf(fd);
	free(fd);
	free(ngf);
	/* Without re-signing, any edit is caught by the checksum alone. */
	expect_bad(CFG_EDGE_TRAEFIK, "shop", "", 0, "empty file");
	/* A consistent edit that re-signs is a file in our format: it parses,
	 * and says what it says. */
	char *t1 = replace(ty, "service: shop-blue@docker", "service: shop-green@docker");
	char *t2 = replace(t1, "# bluegreen-live: blue", "# bluegreen-live: green");
	struct obs_edge e;
	memset(&e, 0, sizeof(e));
	assert_int_equal(parse_text(CFG_EDGE_TRAEFIK, "shop", t2, strlen(t2), &e), 0);
	assert_string_equal(e.live, "green");
	assert_string_equal(e.preview, "green");
	edge__obs_reset(&e);
	free(t2);
	free(t1);
	/* Extra keys Traefik knows and an operator may add are accepted
	 * structurally (priority, middlewares). */
	t1 = replace(ty, "      rule: Host(`shop.example.com`)\n",
			"      rule: Host(`shop.example.com`)\n      priority: 10\n"
			"      middlewares:\n      - compress@file\n");
	assert_int_equal(parse_text(CFG_EDGE_TRAEFIK, "shop", t1, strlen(t1), &e), 0);
	assert_string_equal(e.live, "blue");
	edge__obs_reset(&e);
	free(t1);
	free(ng);
	free(ty);
}

/* Deterministic pseudo-random garbage, with and without a valid trailer
 * and header, so the structural checks see garbage too. */
static void test_garbage(void **state)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	static const char alphabet[] = "abc:- \n\t{}[]&*!|>'\"%@`#,?0123456789"
				       "httprouterservice_live;upstream";
	for (int round = 0; round < 3000; round++) {
		struct bg_buf b = BG_BUF_INIT;
		size_t n = (size_t)(round % 200);
		if (round % 3 == 0) {
			edge__header_render(&b, "shop", "blue", NULL, 1);
		}
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			char c = round % 5 == 0 ? (char)(x & 0xff)
						: alphabet[x % (sizeof(alphabet) - 1)];
			bg_buf_addch(&b, c);
		}
		if (round % 2 == 0) {
			edge__trailer_render(&b);
		}
		for (size_t k = 0; k < BG_ARRAY_SIZE(kinds); k++) {
			struct obs_edge e;
			memset(&e, 0, sizeof(e));
			int err = parse_text(kinds[k], "shop", b.data, b.len, &e);
			/* Garbage may not be understood; whatever happens, the
			 * result is consistent. */
			assert_true(err == 0 || err == BG_EPARSE);
			assert_true((err == 0) == (e.error == NULL));
			assert_true(err != 0 || edge__colour_valid(e.live));
			edge__obs_reset(&e);
		}
		bg_buf_release(&b);
	}
}

/* ---- hostile input never reaches a file ---- */

static void test_no_template(void **state)
{
	static const char *const bad_sites[] = {"{{.Env.HOME}}", "a{{b", "shop}}", "Shop",
			"-shop", "shop_1", "shop.x", "../etc", "", "shop\n", "a b",
			"x23456789012345678901234567890123456789012"};
	static const char *const bad_hosts[] = {"x{{y}}.com", "{{", "a`b.com",
			"a b.com", "a;b.com", "a\nb.com", "*.example.com", "", ".a.com", "a..com",
			"a.com.", "a\"b.com", "a$b.com", "a{b.com", "a}b.com", "a#b.com",
			"a/b.com", "a'b.com"};
	static const char *const bad_idents[] = {"{{x}}", "web secure", "a:b", "a`b", ""};
	static const char *const bad_listen[] = {"80; include /etc/passwd", "80 {", "8{{0",
			"80\n", "$port", "80 # x"};
	static const char *const bad_ups[] = {"1.2.3.4:80; x", "1.2.3.4", "host:80",
			"1.2.3.4:0", "1.2.3.4:65536", "[::1]80", "{{x}}:80", "1.2.3.4:8a",
			"[1.2.3.4]:80", ":80"};

	for (size_t k = 0; k < BG_ARRAY_SIZE(kinds); k++) {
		const struct edge_impl *impl = kind_impl(kinds[k]);
		struct bg_buf out = BG_BUF_INIT;
		struct fx f;

		for (size_t i = 0; i < BG_ARRAY_SIZE(bad_sites); i++) {
			fx_init(&f, &cases[2], kinds[k], NULL);
			free(f.site.name);
			f.site.name = bg_xstrdup(bad_sites[i]);
			assert_int_equal(impl->render(&f.cfg, &f.v, &out), BG_ECONFIG);
			assert_int_equal(out.len, 0);
			fx_release(&f);
		}
		for (size_t i = 0; i < BG_ARRAY_SIZE(bad_hosts); i++) {
			for (int where = 0; where < 2; where++) {
				fx_init(&f, &cases[2], kinds[k], NULL);
				char **slot = where ? &f.site.preview : &f.site.domains.v[0];
				free(*slot);
				*slot = bg_xstrdup(bad_hosts[i]);
				assert_int_equal(impl->render(&f.cfg, &f.v, &out), BG_ECONFIG);
				assert_int_equal(out.len, 0);
				fx_release(&f);
			}
		}
		static const char *const bad_colours[] = {"red", "{{", "", "Blue"};
		for (size_t i = 0; i < BG_ARRAY_SIZE(bad_colours); i++) {
			fx_init(&f, &cases[2], kinds[k], NULL);
			f.v.live = bad_colours[i];
			assert_int_equal(impl->render(&f.cfg, &f.v, &out), BG_ECONFIG);
			f.v.live = "blue";
			f.v.preview = bad_colours[i];
			assert_int_equal(impl->render(&f.cfg, &f.v, &out), BG_ECONFIG);
			assert_int_equal(out.len, 0);
			fx_release(&f);
		}
		fx_init(&f, &cases[2], kinds[k], NULL);
		bg_strv_release(&f.site.domains);
		assert_int_equal(impl->render(&f.cfg, &f.v, &out), BG_ECONFIG);
		fx_release(&f);
		bg_buf_release(&out);
	}
	/* Traefik-only inputs. */
	for (size_t i = 0; i < BG_ARRAY_SIZE(bad_idents); i++) {
		struct bg_buf out = BG_BUF_INIT;
		struct fx f;
		fx_init(&f, &cases[2], CFG_EDGE_TRAEFIK, NULL);
		bg_strv_push(&f.cfg.g.traefik.entrypoints, bad_idents[i]);
		assert_int_equal(edge_traefik_impl.render(&f.cfg, &f.v, &out), BG_ECONFIG);
		fx_release(&f);
		fx_init(&f, &cases[2], CFG_EDGE_TRAEFIK, NULL);
		free(f.cfg.g.traefik.certresolver);
		f.cfg.g.traefik.certresolver = bg_xstrdup(bad_idents[i]);
		assert_int_equal(edge_traefik_impl.render(&f.cfg, &f.v, &out), BG_ECONFIG);
		assert_int_equal(out.len, 0);
		fx_release(&f);
		bg_buf_release(&out);
	}
	/* nginx-only inputs. */
	for (size_t i = 0; i < BG_ARRAY_SIZE(bad_listen); i++) {
		struct bg_buf out = BG_BUF_INIT;
		struct fx f;
		fx_init(&f, &cases[2], CFG_EDGE_NGINX, NULL);
		free(f.cfg.g.nginx.listen);
		f.cfg.g.nginx.listen = bg_xstrdup(bad_listen[i]);
		assert_int_equal(edge_nginx_impl.render(&f.cfg, &f.v, &out), BG_ECONFIG);
		assert_int_equal(out.len, 0);
		fx_release(&f);
		bg_buf_release(&out);
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(bad_ups); i++) {
		for (int where = 0; where < 2; where++) {
			struct bg_buf out = BG_BUF_INIT;
			struct fx f;
			fx_init(&f, &cases[2], CFG_EDGE_NGINX, NULL);
			bg_strv_push(where ? &f.preview_ups : &f.live_ups, bad_ups[i]);
			assert_int_equal(edge_nginx_impl.render(&f.cfg, &f.v, &out), BG_ECONFIG);
			assert_int_equal(out.len, 0);
			fx_release(&f);
			bg_buf_release(&out);
		}
	}
	/* And nothing we render for valid views contains `{{`. */
	for (size_t k = 0; k < BG_ARRAY_SIZE(kinds); k++) {
		for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
			char *text = render_case(&cases[i], kinds[k]);
			th_assert_not_contains(text, "{{");
			free(text);
		}
	}
	/* Labels: a hostile name gets no labels at all. */
	struct fx f;
	struct obs_labels l = {0};
	fx_init(&f, &cases[0], CFG_EDGE_TRAEFIK, NULL);
	free(f.site.name);
	f.site.name = bg_xstrdup("{{x}}");
	edge_traefik_impl.container_labels(&f.cfg, &f.site, "blue", &l);
	assert_int_equal(l.n, 0);
	free(f.site.name);
	f.site.name = bg_xstrdup("shop");
	edge_traefik_impl.container_labels(&f.cfg, &f.site, "red", &l);
	assert_int_equal(l.n, 0);
	fx_release(&f);
	obs_labels_release(&l);
}

/* ---- container labels ---- */

static void test_labels(void **state)
{
	struct fx f;
	struct obs_labels l = {0};
	static const char *const want[][2] = {
		{"traefik.docker.network", "bluegreen-edge"},
		{"traefik.enable", "true"},
		{"traefik.http.routers.shop-green.entrypoints", "internal"},
		{"traefik.http.routers.shop-green.rule", "Host(`shop-green.internal`)"},
		{"traefik.http.routers.shop-green.service", "shop-green"},
		{"traefik.http.services.shop-green.loadbalancer.server.port", "8080"},
	};

	fx_init(&f, &cases[6], CFG_EDGE_TRAEFIK, NULL); /* multi-domain with preview */
	edge_traefik_impl.container_labels(&f.cfg, &f.site, "green", &l);
	assert_int_equal(l.n, BG_ARRAY_SIZE(want));
	for (size_t i = 0; i < BG_ARRAY_SIZE(want); i++) {
		assert_string_equal(l.v[i].key, want[i][0]);
		assert_string_equal(l.v[i].value, want[i][1]);
	}
	/* Labels are fixed at creation: no public hostname may be in them. */
	for (size_t i = 0; i < l.n; i++) {
		for (size_t d = 0; d < f.site.domains.n; d++) {
			th_assert_not_contains(l.v[i].value, f.site.domains.v[d]);
			th_assert_not_contains(l.v[i].key, f.site.domains.v[d]);
		}
		th_assert_not_contains(l.v[i].value, f.site.preview);
		th_assert_not_contains(l.v[i].value, "live");
		th_assert_not_contains(l.v[i].key, "live");
		th_assert_not_contains(l.v[i].value, "{{");
	}
	obs_labels_release(&l);
	memset(&l, 0, sizeof(l));
	edge_nginx_impl.container_labels(&f.cfg, &f.site, "green", &l);
	assert_int_equal(l.n, 0);
	fx_release(&f);
	obs_labels_release(&l);
}

/* ---- Traefik's published schema (the named seam) ---- */

static int validate(const char *schema, char *const *files, struct th_run *r)
{
	struct bg_strv argv;
	char *script = th_src_path("test/unit/traefik-validate.py");
	char *sp = bg_xasprintf("%s/test/data/traefik/%s", th_srcdir(), schema);

	bg_strv_init(&argv);
	bg_strv_push(&argv, "/usr/bin/python3");
	bg_strv_push(&argv, script);
	bg_strv_push(&argv, sp);
	for (size_t i = 0; files[i]; i++) {
		bg_strv_push(&argv, files[i]);
	}
	int st = th_run_argv(argv.v, NULL, r);
	bg_strv_release(&argv);
	free(sp);
	free(script);
	return st;
}

static void test_schema(void **state)
{
	char *dir = th_tmpdir("edge-schema");
	struct bg_strv files;
	struct th_run r;

	bg_strv_init(&files);
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		char *text = render_case(&cases[i], CFG_EDGE_TRAEFIK);
		char *rel = bg_xasprintf("%s.yml", cases[i].name);
		th_write(dir, rel, text);
		bg_strv_push_take(&files, bg_xasprintf("%s/%s", dir, rel));
		free(rel);
		free(text);
	}
	static const char *const schemas[] = {"traefik-v3-file-provider.json",
			"traefik-v2-file-provider.json"};
	for (size_t s = 0; s < BG_ARRAY_SIZE(schemas); s++) {
		validate(schemas[s], files.v, &r);
		if (r.status != 0) {
			th_print_error("%s%s", r.out, r.err);
		}
		assert_int_equal(r.status, 0);
		th_run_release(&r);
	}
	/* The validator can fail: an unknown router key, a router without a
	 * service, a Go template action, an empty file. */
	th_write(dir, "bad1.yml", "http:\n  routers:\n    x:\n      rule: Host(`a`)\n"
			"      service: s\n      bogus: 1\n");
	th_write(dir, "bad2.yml", "http:\n  routers:\n    x:\n      rule: Host(`a`)\n");
	th_write(dir, "bad3.yml", "http:\n  routers:\n    x:\n      rule: Host(`{{ .X }}`)\n"
			"      service: s\n");
	th_write(dir, "bad4.yml", "# nothing\n");
	for (int i = 1; i <= 4; i++) {
		char *p = bg_xasprintf("%s/bad%d.yml", dir, i);
		char *one[] = {p, NULL};
		validate("traefik-v3-file-provider.json", one, &r);
		assert_int_equal(r.status, 1);
		th_run_release(&r);
		free(p);
	}
	/* The static configuration we recommend. */
	char *example = th_src_path("examples/traefik/traefik.yml");
	char *ex[] = {example, NULL};
	static const char *const static_schemas[] = {"traefik-v3.json", "traefik-v2.json"};
	for (size_t s = 0; s < BG_ARRAY_SIZE(static_schemas); s++) {
		validate(static_schemas[s], ex, &r);
		if (r.status != 0) {
			th_print_error("%s%s", r.out, r.err);
		}
		assert_int_equal(r.status, 0);
		th_run_release(&r);
	}
	char *text = th_read(example);
	th_assert_contains(text, "providersThrottleDuration: 500ms");
	th_assert_contains(text, "exposedByDefault: false");
	th_assert_contains(text, "internal:\n    address: \"127.0.0.1:");
	/* HTTPS: web falls back to a permanent redirect (a site's own HTTP
	 * router wins), uploads get time, the resolver answers on web. */
	th_assert_contains(text, "  web:\n    address: \":80\"\n");
	th_assert_contains(text, "          to: websecure\n          scheme: https\n"
			"          permanent: true\n          priority: 1\n");
	th_assert_contains(text, "  websecure:\n    address: \":443\"\n");
	th_assert_contains(text, "        readTimeout: 600s\n");
	th_assert_contains(text, "    responseHeaderTimeout: 60s\n");
	th_assert_contains(text, "  letsencrypt:\n    acme:\n");
	th_assert_contains(text, "      httpChallenge:\n        entryPoint: web\n");
	free(text);
	th_write(dir, "static-bad.yml", "entryPoints:\n  web:\n    adress: \":80\"\n");
	char *sb = bg_xasprintf("%s/static-bad.yml", dir);
	char *sbv[] = {sb, NULL};
	validate("traefik-v3.json", sbv, &r);
	assert_int_equal(r.status, 1);
	th_run_release(&r);
	free(sb);
	free(example);
	bg_strv_release(&files);
	th_rm_rf(dir);
	free(dir);
}

/* ---- Traefik: HTTPS, redirects, preview protection ---- */

static char *dyn_file(struct fx *f);

/*
 * Sites with the keys of a real site (tls, redirect_to, preview_allow...).
 * http_ep is the entrypoint of the HTTP routers, passed to
 * edge__traefik_render_http as config will once it has the key.
 */
struct tcase {
	const char *name, *site;
	const char *domains[3];
	const char *preview_domain, *live, *preview;
	const char *certresolver, *entrypoints[3], *http_ep;
	enum cfg_tls_mode mode;
	bool not_ready, no_redirect;
	unsigned hsts;
	const char *redirect_to;
	const char *allow[3]; /* replaces the default [127.0.0.1/32, ::1/128] */
	bool allow_none;      /* preview_allow: [] */
	const char *cert, *key;
	const char *auth_user, *auth_password; /* preview_auth, the password as loaded */
};

static const struct tcase tcases[] = {
	{.name = "tls-auto", .site = "shop",
			.domains = {"shop.example.com", "www.shop.example.com"},
			.preview_domain = "preview.shop.example.com", .live = "blue",
			.preview = "green", .certresolver = "letsencrypt",
			.entrypoints = {"websecure"}, .http_ep = "web", .mode = CFG_TLS_AUTO,
			.hsts = 31536000, .redirect_to = "shop.example.com"},
	{.name = "tls-auto-no-http-entrypoint", .site = "shop",
			.domains = {"shop.example.com"}, .live = "green",
			.certresolver = "letsencrypt", .entrypoints = {"websecure"},
			.mode = CFG_TLS_AUTO},
	{.name = "tls-files", .site = "blog", .domains = {"www.blog.example.com",
			"blog.example.com", "blog.example.org"},
			.preview_domain = "preview.blog.example.com", .live = "green",
			.entrypoints = {"websecure"}, .http_ep = "web", .mode = CFG_TLS_FILES,
			.hsts = 600, .redirect_to = "blog.example.com",
			.allow = {"10.0.0.0/8", "fd00::/8"}, .cert = "certs/blog.pem",
			.key = "/etc/ssl/private/blog.key"},
	{.name = "tls-files-not-ready", .site = "blog", .domains = {"blog.example.com",
			"www.blog.example.com"}, .preview_domain = "preview.blog.example.com",
			.live = "green", .preview = "blue", .entrypoints = {"websecure"},
			.http_ep = "web", .mode = CFG_TLS_FILES, .not_ready = true, .hsts = 600,
			.redirect_to = "blog.example.com", .cert = "certs/blog.pem",
			.key = "certs/blog.key"},
	{.name = "tls-no-redirect", .site = "shop", .domains = {"shop.example.com"},
			.preview_domain = "preview.shop.example.com", .live = "blue",
			.certresolver = "le", .entrypoints = {"websecure"}, .http_ep = "web",
			.mode = CFG_TLS_AUTO, .no_redirect = true, .allow = {"192.168.1.0/24"}},
	{.name = "redirect-to-http-only", .site = "site2", .domains = {"example.com",
			"www.example.com"}, .live = "blue", .entrypoints = {"web"},
			.http_ep = "web", .redirect_to = "www.example.com"},
	{.name = "preview-closed", .site = "shop", .domains = {"shop.example.com"},
			.preview_domain = "preview.shop.example.com", .live = "blue",
			.preview = "green", .certresolver = "letsencrypt",
			.entrypoints = {"websecure"}, .allow_none = true},
	{.name = "preview-auth", .site = "shop", .domains = {"shop.example.com"},
			.preview_domain = "preview.shop.example.com", .live = "blue",
			.preview = "green", .certresolver = "letsencrypt",
			.entrypoints = {"websecure"}, .http_ep = "web", .mode = CFG_TLS_AUTO,
			.hsts = 31536000, .auth_user = "review",
			.auth_password = "correct horse battery staple"},
	{.name = "preview-auth-http-only", .site = "wiki", .domains = {"wiki.example.com"},
			.preview_domain = "preview.wiki.example.com", .live = "green",
			.preview = "blue", .entrypoints = {"web"}, .http_ep = "web",
			.auth_user = "qa@example.com", .auth_password = "s3cret-but-long-enough"},
};

static void tfx_init(struct fx *f, const struct tcase *c)
{
	struct gcase g = {.name = c->name, .site = c->site, .preview_domain = c->preview_domain,
			.live = c->live, .preview = c->preview, .version = 3, .replicas = 1,
			.certresolver = c->certresolver};

	for (size_t i = 0; i < BG_ARRAY_SIZE(c->domains); i++) {
		g.domains[i] = c->domains[i];
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(c->entrypoints); i++) {
		g.entrypoints[i] = c->entrypoints[i];
	}
	fx_init(f, &g, CFG_EDGE_TRAEFIK, NULL);
	f->site.tls.mode = c->mode;
	f->site.tls.hsts = c->hsts;
	f->site.tls.redirect = !c->no_redirect;
	f->site.tls.cert = c->cert ? bg_xstrdup(c->cert) : NULL;
	f->site.tls.key = c->key ? bg_xstrdup(c->key) : NULL;
	f->site.redirect_to = c->redirect_to ? bg_xstrdup(c->redirect_to) : NULL;
	if (c->allow[0] || c->allow_none) {
		bg_strv_release(&f->site.preview_allow);
		strv_from(&f->site.preview_allow, c->allow, BG_ARRAY_SIZE(c->allow));
	}
	if (c->auth_user) {
		f->site.preview_auth.user = bg_xstrdup(c->auth_user);
		f->site.preview_auth.password_file = bg_xstrdup("preview.pass");
		f->site.preview_auth.password = bg_xstrdup(c->auth_password);
	}
	f->v.tls_ready = !c->not_ready;
}

static char *render_tcase(const struct tcase *c)
{
	struct fx f;
	struct bg_buf out = BG_BUF_INIT;

	tfx_init(&f, c);
	assert_int_equal(edge__traefik_render_http(&f.cfg, &f.v, c->http_ep, &out), 0);
	fx_release(&f);
	return bg_buf_detach(&out, NULL);
}

static void expect_tparse(const struct tcase *c, const char *text)
{
	struct obs_edge e;

	memset(&e, 0, sizeof(e));
	assert_int_equal(edge_traefik_impl.parse(NULL, c->site, text, strlen(text), &e), 0);
	assert_null(e.error);
	assert_string_equal(e.live, c->live);
	if (c->preview_domain) {
		assert_string_equal(e.preview, c->preview ? c->preview : c->live);
	} else {
		assert_null(e.preview);
	}
	edge__obs_reset(&e);
}

/* Golden files, determinism, round trips, never `{{`. */
static void test_tls_golden(void **state)
{
	for (size_t i = 0; i < BG_ARRAY_SIZE(tcases); i++) {
		char *got = render_tcase(&tcases[i]);
		char *again = render_tcase(&tcases[i]);
		char *path = bg_xasprintf("%s/test/fixtures/edge/traefik/%s.yml", th_srcdir(),
				tcases[i].name);
		assert_string_equal(got, again);
		if (update_golden()) {
			assert_int_equal(bg_file_write_atomic(path, NULL, got, strlen(got), 0644), 0);
		}
		char *want = th_read(path);
		if (strcmp(got, want) != 0) {
			th_print_error("golden mismatch for %s:\n--- want\n%s--- got\n%s", path,
					want, got);
		}
		assert_string_equal(got, want);
		expect_tparse(&tcases[i], got);
		th_assert_not_contains(got, "{{");
		free(want);
		free(path);
		free(again);
		free(got);
	}
}

/* What each feature puts in the file, said in words rather than bytes. */
static void test_tls_content(void **state)
{
	char *t = render_tcase(&tcases[0]); /* auto, http entrypoint, hsts, www -> apex */
	th_assert_contains(t, "    shop-live:\n      entryPoints:\n      - websecure\n");
	th_assert_contains(t, "      middlewares:\n      - shop-hsts\n      - shop-canonical\n"
			"      tls:\n        certResolver: letsencrypt\n");
	th_assert_contains(t, "      middlewares:\n      - shop-hsts\n      - shop-preview-allow\n");
	/* HTTP redirects to HTTPS, and asks for nothing on the way. */
	th_assert_contains(t, "    shop-live-http:\n      entryPoints:\n      - web\n");
	th_assert_contains(t, "    shop-preview-http:\n      entryPoints:\n      - web\n"
			"      rule: Host(`preview.shop.example.com`)\n"
			"      service: shop-green@docker\n      middlewares:\n      - shop-https\n");
	th_assert_contains(t, "      redirectScheme:\n        scheme: https\n        permanent: true\n");
	th_assert_contains(t, "      headers:\n        stsSeconds: 31536000\n");
	th_assert_contains(t, "regex: \"(?i)^(https?)://(?:www\\\\.shop\\\\.example\\\\.com)"
			"(:[0-9]+)?(.*)$\"\n");
	th_assert_contains(t, "replacement: \"${1}://shop.example.com${2}${3}\"\n");
	free(t);
	/* files: tls: {} and the certificate, paths absolute. */
	t = render_tcase(&tcases[2]);
	th_assert_contains(t, "      tls: {}\n");
	th_assert_contains(t, "tls:\n  certificates:\n  - certFile: \"/nonexistent/certs/blog.pem\"\n"
			"    keyFile: \"/etc/ssl/private/blog.key\"\n");
	th_assert_contains(t, "(?:www\\\\.blog\\\\.example\\\\.com|blog\\\\.example\\\\.org)");
	th_assert_contains(t, "        sourceRange:\n        - \"10.0.0.0/8\"\n        - fd00::/8\n");
	th_assert_not_contains(t, "certResolver");
	free(t);
	/* files not there yet: HTTP only, no redirect, no HSTS, protection kept. */
	t = render_tcase(&tcases[3]);
	th_assert_not_contains(t, "tls");
	th_assert_not_contains(t, "shop-https");
	th_assert_not_contains(t, "hsts");
	th_assert_contains(t, "    blog-preview-http:\n      entryPoints:\n      - web\n"
			"      rule: Host(`preview.blog.example.com`)\n      service: blog-blue@docker\n"
			"      middlewares:\n      - blog-preview-allow\n");
	free(t);
	/* redirect: false serves HTTP as HTTPS, protection and canonical host kept. */
	t = render_tcase(&tcases[4]);
	th_assert_not_contains(t, "redirectScheme");
	th_assert_contains(t, "    shop-preview-http:\n      entryPoints:\n      - web\n"
			"      rule: Host(`preview.shop.example.com`)\n      service: shop-blue@docker\n"
			"      middlewares:\n      - shop-preview-allow\n");
	free(t);
	/* preview_allow: [] lets nobody in without credentials. */
	t = render_tcase(&tcases[6]);
	th_assert_contains(t, "        sourceRange:\n        - \"255.255.255.255/32\"\n");
	free(t);
}

/*
 * tls.mode off keeps the files as they were before sites had tls: the
 * global certresolver still puts every router on TLS, and no HTTP router
 * is written even with an HTTP entrypoint. Only the preview's protection
 * (default: loopback only) is new.
 */
static void test_tls_off_unchanged(void **state)
{
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		struct fx f;
		struct bg_buf a = BG_BUF_INIT, b = BG_BUF_INIT;
		fx_init(&f, &cases[i], CFG_EDGE_TRAEFIK, NULL);
		assert_int_equal(edge_traefik_impl.render(&f.cfg, &f.v, &a), 0);
		assert_int_equal(edge__traefik_render_http(&f.cfg, &f.v, "web", &b), 0);
		assert_string_equal(a.data, b.data);
		f.v.tls_ready = true;
		f.site.tls.hsts = 0;
		bg_buf_reset(&b);
		assert_int_equal(edge__traefik_render_http(&f.cfg, &f.v, "web", &b), 0);
		assert_string_equal(a.data, b.data);
		if (!cases[i].preview_domain) {
			th_assert_not_contains(a.data, "middlewares");
		}
		th_assert_not_contains(a.data, "-http:");
		bg_buf_release(&a);
		bg_buf_release(&b);
		fx_release(&f);
	}
}

static void expect_render_bad(struct fx *f, const char *http_ep, const char *why)
{
	struct bg_buf out = BG_BUF_INIT;
	int err = edge__traefik_render_http(&f->cfg, &f->v, http_ep, &out);

	if (err != BG_ECONFIG) {
		th_print_error("%s: expected BG_ECONFIG, got %d:\n%s\n", why, err,
				out.data ? out.data : "");
	}
	assert_int_equal(err, BG_ECONFIG);
	assert_int_equal(out.len, 0);
	bg_buf_release(&out);
}

/* A hostile value in one of the new keys never reaches the file. */
static void test_tls_hostile(void **state)
{
	static const char *const bad_redirect[] = {"evil.example.com", "a{{b}}.com",
			"shop.example.com\n", "*.example.com", "shop.example.com`)"};
	static const char *const bad_cidr[] = {"10.0.0.0/33", "10.0.0.0/8\"", "{{x}}", "",
			"::1/129", "1.2.3.4/8 ", "a.b.c.d", "10.0.0.0/08x", "10.0.0.0/",
			"1.2.3.4\n- 0.0.0.0/0", "0.0.0.0/0 #"};
	static const char *const bad_paths[] = {"/etc/ssl/a b.pem", "/etc/ssl/\"x.pem",
			"/etc/{{x}}.pem", "/etc/a\nb", "/etc/$x", "/etc/`x`", "/etc/#x", "/"};
	static const char *const bad_idents[] = {"{{x}}", "web secure", "a:b", "a`b", ""};
	struct fx f;

	for (size_t i = 0; i < BG_ARRAY_SIZE(bad_redirect); i++) {
		tfx_init(&f, &tcases[0]);
		free(f.site.redirect_to);
		f.site.redirect_to = bg_xstrdup(bad_redirect[i]);
		expect_render_bad(&f, "web", bad_redirect[i]);
		fx_release(&f);
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(bad_cidr); i++) {
		tfx_init(&f, &tcases[0]);
		bg_strv_push(&f.site.preview_allow, bad_cidr[i]);
		expect_render_bad(&f, "web", bad_cidr[i]);
		fx_release(&f);
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(bad_paths); i++) {
		for (int which = 0; which < 2; which++) {
			tfx_init(&f, &tcases[2]);
			char **slot = which ? &f.site.tls.key : &f.site.tls.cert;
			free(*slot);
			*slot = bg_xstrdup(bad_paths[i]);
			expect_render_bad(&f, "web", bad_paths[i]);
			fx_release(&f);
		}
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(bad_idents); i++) {
		tfx_init(&f, &tcases[0]);
		expect_render_bad(&f, bad_idents[i], bad_idents[i]);
		fx_release(&f);
	}
	/* auto needs a resolver; files needs both files once they exist. */
	tfx_init(&f, &tcases[0]);
	free(f.cfg.g.traefik.certresolver);
	f.cfg.g.traefik.certresolver = NULL;
	expect_render_bad(&f, "web", "auto without certresolver");
	fx_release(&f);
	tfx_init(&f, &tcases[2]);
	free(f.site.tls.key);
	f.site.tls.key = NULL;
	expect_render_bad(&f, "web", "files without key");
	fx_release(&f);
}

/*
 * preview_auth: basicAuth alone on the preview (Traefik cannot OR it with
 * the allow list), the htpasswd line edge__htpasswd_line makes, never the
 * password; over HTTP the preview redirects before asking. The hash is the
 * one `openssl passwd -apr1` computes, which Traefik checks like Apache.
 */
static void test_preview_auth(void **state)
{
	const struct tcase *c = &tcases[7];
	struct fx f;
	struct th_run r;

	tfx_init(&f, c);
	char *line = edge__htpasswd_line(&f.site);
	assert_non_null(line);
	char *t = render_tcase(c);
	char *want = bg_xasprintf("    shop-preview-auth:\n      basicAuth:\n        users:\n"
			"        - %s\n        removeHeader: true\n", line);
	th_assert_contains(t, want);
	th_assert_contains(t, "      middlewares:\n      - shop-hsts\n      - shop-preview-auth\n"
			"      tls:\n");
	th_assert_contains(t, "    shop-preview-http:\n      entryPoints:\n      - web\n"
			"      rule: Host(`preview.shop.example.com`)\n"
			"      service: shop-green@docker\n      middlewares:\n      - shop-https\n");
	th_assert_not_contains(t, c->auth_password);
	th_assert_not_contains(t, "preview-allow");
	th_assert_not_contains(t, "ipAllowList");
	/* review:$apr1$SALT$HASH */
	const char *salt = line + strlen("review:$apr1$");
	const char *end = strchr(salt, '$');
	assert_non_null(end);
	char *salt_s = bg_xasprintf("%.*s", (int)(end - salt), salt);
	char *argv[] = {"openssl", "passwd", "-apr1", "-salt", salt_s,
			(char *)c->auth_password, NULL};
	assert_int_equal(th_run_argv(argv, NULL, &r), 0);
	assert_int_equal(r.status, 0);
	char *apr1 = bg_xasprintf("review:%s", r.out);
	apr1[strcspn(apr1, "\n")] = '\0';
	assert_string_equal(apr1, line);
	th_run_release(&r);
	free(apr1);
	free(salt_s);
	free(want);
	free(t);
	free(line);
	fx_release(&f);
	/* Without TLS, the preview asks for credentials on its HTTP router. */
	t = render_tcase(&tcases[8]);
	th_assert_contains(t, "    wiki-preview:\n      entryPoints:\n      - web\n"
			"      rule: Host(`preview.wiki.example.com`)\n      service: wiki-blue@docker\n"
			"      middlewares:\n      - wiki-preview-auth\n");
	th_assert_contains(t, "        - qa@example.com:$apr1$");
	th_assert_not_contains(t, tcases[8].auth_password);
	free(t);
	/* No line can be made (no password loaded, a user nginx or Traefik
	 * would split): an error, never an open preview. */
	tfx_init(&f, c);
	free(f.site.preview_auth.password);
	f.site.preview_auth.password = NULL;
	expect_render_bad(&f, "web", "preview_auth without a password");
	free(f.site.preview_auth.password);
	f.site.preview_auth.password = bg_xstrdup("pw");
	free(f.site.preview_auth.user);
	f.site.preview_auth.user = bg_xstrdup("a:b");
	expect_render_bad(&f, "web", "user with a colon");
	fx_release(&f);
}

/* Every truncation and changed byte of the new files, and hand edits of
 * their new parts: all errors, never a half-understood colour. */
static void test_tls_damaged(void **state)
{
	for (size_t i = 0; i < BG_ARRAY_SIZE(tcases); i++) {
		char *text = render_tcase(&tcases[i]);
		size_t len = strlen(text);
		char *copy = bg_xstrdup(text);
		for (size_t n = 0; n < len; n++) {
			expect_bad(CFG_EDGE_TRAEFIK, tcases[i].site, text, n, "truncated");
			char was = copy[n];
			copy[n] = was == 'x' ? 'y' : 'x';
			expect_bad(CFG_EDGE_TRAEFIK, tcases[i].site, copy, len, "byte changed");
			copy[n] = was;
		}
		free(copy);
		free(text);
	}
	char *t = render_tcase(&tcases[2]); /* blog: files, every section */
	static const struct {
		const char *from, *to, *why;
	} edits[] = {
		{"    blog-https:", "    other-https:", "another site's middleware"},
		{"    blog-https:", "    blog-compress:", "unknown middleware"},
		{"      redirectScheme:\n", "      redirectRegex:\n", "middleware of another type"},
		{"        scheme: https\n", "", "redirectScheme without scheme"},
		{"        scheme: https\n", "        scheme: https\n        foo: bar\n",
				"unknown middleware key"},
		{"      headers:\n", "      headers:\n        stsPreload: true\n",
				"headers key we do not write"},
		{"        stsSeconds: 600\n", "        stsSeconds: [600]\n", "stsSeconds a list"},
		{"        sourceRange:\n        - \"10.0.0.0/8\"\n        - fd00::/8\n",
				"        sourceRange: \"10.0.0.0/8\"\n", "sourceRange not a list"},
		{"        sourceRange:\n        - \"10.0.0.0/8\"\n        - fd00::/8\n",
				"        sourceRange: []\n", "sourceRange empty"},
		{"      ipAllowList:\n", "      ipAllowList:\n        ipStrategy: {depth: 1}\n",
				"ipStrategy we do not write"},
		{"    blog-live-http:", "    blog-live-https:", "unknown router"},
		{"      service: blog-green@docker\n      middlewares:\n      - blog-https\n",
				"      service: blog-blue@docker\n      middlewares:\n      - blog-https\n",
				"HTTP router serving another colour"},
		{"tls:\n  certificates:", "tls:\n  options: {}\n  certificates:", "tls options"},
		{"    keyFile: \"/etc/ssl/private/blog.key\"\n", "", "certificate without key"},
		{"  certificates:\n  - certFile", "  stores: {}\n  certificates:\n  - certFile",
				"tls stores"},
		{"      tls: {}\n", "      tls: {options: modern}\n", "router tls options"},
		{"  middlewares:\n    blog-https:", "  services: {}\n  middlewares:\n    blog-https:",
				"http.services"},
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(edits); i++) {
		char *e = replace(t, edits[i].from, edits[i].to);
		expect_bad(CFG_EDGE_TRAEFIK, "blog", e, strlen(e), edits[i].why);
		free(e);
	}
	/* basicAuth as render writes it, nothing else (usersFile would make
	 * Traefik read credentials from elsewhere). */
	char *pa = render_tcase(&tcases[7]);
	static const struct {
		const char *from, *to, *why;
	} auth_edits[] = {
		{"        removeHeader: true\n", "        removeHeader: true\n"
				"        usersFile: /etc/passwd\n", "usersFile"},
		{"        users:\n        - review:", "        users: []\n        x:\n        - review:",
				"users empty"},
		{"      basicAuth:\n", "      digestAuth:\n", "another auth type"},
		{"    shop-preview-auth:", "    shop-preview-auth2:", "unknown middleware name"},
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(auth_edits); i++) {
		char *e = replace(pa, auth_edits[i].from, auth_edits[i].to);
		expect_bad(CFG_EDGE_TRAEFIK, "shop", e, strlen(e), auth_edits[i].why);
		free(e);
	}
	free(pa);
	/* Sections render never writes empty. */
	char *lb = render_case(&cases[0], CFG_EDGE_TRAEFIK);
	char *e1 = replace(lb, "  routers:\n", "  middlewares: {}\n  routers:\n");
	expect_bad(CFG_EDGE_TRAEFIK, "shop", e1, strlen(e1), "empty middlewares");
	free(e1);
	e1 = replace(lb, "http:\n", "tls: {}\nhttp:\n");
	expect_bad(CFG_EDGE_TRAEFIK, "shop", e1, strlen(e1), "empty tls");
	free(e1);
	free(lb);
	/* certificates: [] */
	const char *at = strstr(t, "tls:\n  certificates:\n");
	assert_non_null(at);
	char *cut = bg_xasprintf("%.*stls:\n  certificates: []\n# bluegreen-sha256: \n",
			(int)(at - t), t);
	char *e = resign(cut);
	expect_bad(CFG_EDGE_TRAEFIK, "blog", e, strlen(e), "no certificates");
	free(e);
	free(cut);
	free(t);
}

/*
 * examples/traefik as the loader reads it (tls auto, HSTS, redirect_to, a
 * preview allow list): each site's file, with and without an HTTP
 * entrypoint, is valid Traefik configuration (v3 and v2) and reads back.
 */
static void test_tls_example_sites(void **state)
{
	char *conf = th_src_path("examples/traefik");
	char *dir = th_tmpdir("edge-tls-example");
	struct cfg *cfg = NULL;
	struct bg_diag d;
	struct bg_strv files;
	struct th_run r;

	bg_diag_init(&d);
	assert_int_equal(cfg_load(&cfg, conf, 0, &d), 0);
	assert_true(cfg->n_sites >= 2);
	bg_strv_init(&files);
	for (size_t i = 0; i < cfg->n_sites; i++) {
		for (int with_http = 0; with_http < 2; with_http++) {
			struct edge_view v = {.site = &cfg->sites[i], .live = "blue",
					.live_version = 1, .preview = "green", .tls_ready = true};
			struct bg_buf out = BG_BUF_INIT;
			struct obs_edge e;
			assert_int_equal(edge__traefik_render_http(cfg, &v, with_http ? "web" : NULL,
					&out), 0);
			th_assert_contains(out.data, "certResolver: letsencrypt");
			memset(&e, 0, sizeof(e));
			assert_int_equal(edge_traefik_impl.parse(cfg, v.site->name, out.data,
					out.len, &e), 0);
			assert_string_equal(e.live, "blue");
			edge__obs_reset(&e);
			char *rel = bg_xasprintf("%s-%d.yml", v.site->name, with_http);
			th_write(dir, rel, out.data);
			bg_strv_push_take(&files, bg_xasprintf("%s/%s", dir, rel));
			free(rel);
			bg_buf_release(&out);
		}
	}
	static const char *const schemas[] = {"traefik-v3-file-provider.json",
			"traefik-v2-file-provider.json"};
	for (size_t s = 0; s < BG_ARRAY_SIZE(schemas); s++) {
		validate(schemas[s], files.v, &r);
		if (r.status != 0) {
			th_print_error("%s%s", r.out, r.err);
		}
		assert_int_equal(r.status, 0);
		th_run_release(&r);
	}
	bg_strv_release(&files);
	cfg_destroy(cfg);
	bg_diag_release(&d);
	th_rm_rf(dir);
	free(dir);
	free(conf);
}

/* install refuses what our reader rejects: every new file must pass. */
static void test_tls_install(void **state)
{
	char *dir = th_tmpdir("edge-tls-inst");

	for (size_t i = 0; i < BG_ARRAY_SIZE(tcases); i++) {
		struct fx f;
		struct bg_diag d;
		struct bg_buf out = BG_BUF_INIT;
		tfx_init(&f, &tcases[i]);
		free(f.cfg.g.traefik.dynamic_dir);
		free(f.cfg.g.traefik.staging_dir);
		f.cfg.g.traefik.dynamic_dir = bg_xasprintf("%s/dynamic", dir);
		f.cfg.g.traefik.staging_dir = bg_xasprintf("%s/dynamic.staging", dir);
		assert_int_equal(bg_mkdir_p(f.cfg.g.traefik.dynamic_dir, 0755), 0);
		assert_int_equal(edge__traefik_render_http(&f.cfg, &f.v, tcases[i].http_ep, &out), 0);
		bg_diag_init(&d);
		assert_int_equal(edge_traefik_impl.install(&f.cfg, f.site.name, out.data, out.len,
				&d), 0);
		char *path = dyn_file(&f);
		char *back = th_read(path);
		assert_string_equal(back, out.data);
		/* A file with a password's hash is not for every local user. */
		struct stat st;
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 07777, tcases[i].auth_password ? 0640 : 0644);
		free(back);
		free(path);
		bg_diag_release(&d);
		bg_buf_release(&out);
		fx_release(&f);
	}
	th_rm_rf(dir);
	free(dir);
}

/* Every new file is valid Traefik configuration, v3 and v2 (2.11). */
static void test_tls_schema(void **state)
{
	char *dir = th_tmpdir("edge-tls-schema");
	struct bg_strv files;
	struct th_run r;
	static const char *const schemas[] = {"traefik-v3-file-provider.json",
			"traefik-v2-file-provider.json"};

	bg_strv_init(&files);
	for (size_t i = 0; i < BG_ARRAY_SIZE(tcases); i++) {
		char *text = render_tcase(&tcases[i]);
		char *rel = bg_xasprintf("%s.yml", tcases[i].name);
		th_write(dir, rel, text);
		bg_strv_push_take(&files, bg_xasprintf("%s/%s", dir, rel));
		free(rel);
		free(text);
	}
	for (size_t s = 0; s < BG_ARRAY_SIZE(schemas); s++) {
		validate(schemas[s], files.v, &r);
		if (r.status != 0) {
			th_print_error("%s%s", r.out, r.err);
		}
		assert_int_equal(r.status, 0);
		th_run_release(&r);
	}
	/* The schema sees the new parts: a middleware of no known type, a
	 * boolean written as a string, an unknown tls key. */
	th_write(dir, "bad1.yml", "http:\n  middlewares:\n    x:\n      redirectSchem:\n"
			"        scheme: https\n");
	th_write(dir, "bad2.yml", "http:\n  middlewares:\n    x:\n      redirectScheme:\n"
			"        scheme: https\n        permanent: \"true\"\n");
	th_write(dir, "bad3.yml", "tls:\n  certificate:\n  - certFile: /a\n");
	th_write(dir, "bad4.yml", "http:\n  middlewares:\n    x:\n      headers:\n"
			"        stsSeconds: \"600\"\n");
	for (int i = 1; i <= 4; i++) {
		char *p = bg_xasprintf("%s/bad%d.yml", dir, i);
		char *one[] = {p, NULL};
		for (size_t s = 0; s < BG_ARRAY_SIZE(schemas); s++) {
			validate(schemas[s], one, &r);
			assert_int_equal(r.status, 1);
			th_run_release(&r);
		}
		free(p);
	}
	bg_strv_release(&files);
	th_rm_rf(dir);
	free(dir);
}

/* ---- Traefik install ---- */

static char *dyn_file(struct fx *f)
{
	return edge_traefik_impl.path(&f->cfg, f->site.name);
}

struct reader {
	const char *path;
	const char *a, *b;
	atomic_bool stop;
	unsigned long reads, bad, missing;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	while (!atomic_load(&r->stop)) {
		char *data = NULL;
		int err = bg_file_read(r->path, 1 << 20, &data, NULL);
		if (err == BG_ERRNO(ENOENT)) {
			r->missing++;
		} else if (err || (strcmp(data, r->a) != 0 && strcmp(data, r->b) != 0)) {
			r->bad++;
		}
		r->reads++;
		free(data);
	}
	return NULL;
}

static void list_dir(const char *dir, struct bg_strv *names)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	assert_non_null(d);
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			bg_strv_push(names, de->d_name);
		}
	}
	closedir(d);
}

static void test_install_atomic(void **state)
{
	char *dir = th_tmpdir("edge-inst");
	struct fx fa, fb;
	struct bg_diag d;
	struct stat st;

	fx_init(&fa, &cases[0], CFG_EDGE_TRAEFIK, dir); /* live blue */
	fx_init(&fb, &cases[1], CFG_EDGE_TRAEFIK, dir); /* live green */
	char *a = render_case(&cases[0], CFG_EDGE_TRAEFIK);
	char *b = render_case(&cases[1], CFG_EDGE_TRAEFIK);
	char *path = dyn_file(&fa);
	bg_diag_init(&d);

	/* No dynamic_dir: Traefik's configuration names it, we do not invent
	 * it (nor the staging directory next to it). */
	assert_int_equal(edge_traefik_impl.install(&fa.cfg, "shop", a, strlen(a), &d),
			BG_ERRNO(ENOENT));
	th_assert_contains(d.items[0].msg, "dynamic_dir");
	assert_int_equal(stat(fa.cfg.g.traefik.staging_dir, &st), -1);
	bg_diag_release(&d);
	bg_diag_init(&d);
	assert_int_equal(bg_mkdir_p(fa.cfg.g.traefik.dynamic_dir, 0755), 0);

	/* The staging directory does not exist yet: install creates it. */
	assert_int_equal(stat(fa.cfg.g.traefik.staging_dir, &st), -1);
	assert_int_equal(edge_traefik_impl.install(&fa.cfg, "shop", a, strlen(a), &d), 0);
	assert_int_equal(d.n_errors, 0);
	assert_int_equal(stat(fa.cfg.g.traefik.staging_dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	mode_t mask = umask(022);
	umask(mask);
	assert_int_equal(st.st_mode & 0777, 0755 & ~mask);
	char *got = th_read(path);
	assert_string_equal(got, a);
	free(got);

	/* A reader racing the installs only ever sees a whole old or a whole
	 * new file (Traefik's watcher reads at any moment). */
	struct reader rd = {.path = path, .a = a, .b = b};
	atomic_init(&rd.stop, false);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, reader_main, &rd), 0);
	for (int i = 0; i < 300; i++) {
		const char *c = i % 2 ? a : b;
		assert_int_equal(edge_traefik_impl.install(&fa.cfg, "shop", c, strlen(c), &d), 0);
	}
	atomic_store(&rd.stop, true);
	pthread_join(th, NULL);
	print_message("# concurrent reader: %lu reads, %lu partial, %lu missing\n", rd.reads,
			rd.bad, rd.missing);
	assert_true(rd.reads > 0);
	assert_int_equal(rd.bad, 0);
	assert_int_equal(rd.missing, 0);
	assert_int_equal(d.n_errors, 0);

	/* Nothing but our file in the watched directory, nothing left in
	 * staging. */
	struct bg_strv names;
	bg_strv_init(&names);
	list_dir(fa.cfg.g.traefik.dynamic_dir, &names);
	assert_int_equal(names.n, 1);
	assert_string_equal(names.v[0], "shop.yml");
	bg_strv_release(&names);
	list_dir(fa.cfg.g.traefik.staging_dir, &names);
	assert_int_equal(names.n, 0);
	bg_strv_release(&names);

	/* Content our own reader rejects never reaches the directory: one bad
	 * file would block Traefik's file provider for every site. */
	got = th_read(path);
	const char *garbage = "http:\n  routers: [\n";
	assert_int_equal(edge_traefik_impl.install(&fa.cfg, "shop", garbage, strlen(garbage),
			&d), BG_EEDGE);
	char *tpl = replace(a, "Host(`shop.example.com`)", "Host(`{{ env \"X\" }}`)");
	assert_int_equal(edge_traefik_impl.install(&fa.cfg, "shop", tpl, strlen(tpl), &d),
			BG_EEDGE);
	assert_int_equal(edge_traefik_impl.install(&fa.cfg, "other", a, strlen(a), &d),
			BG_EEDGE);
	assert_int_equal(edge_traefik_impl.install(&fa.cfg, "../x", a, strlen(a), &d),
			BG_ECONFIG);
	char *after = th_read(path);
	assert_string_equal(after, got);
	assert_true(d.n_errors >= 4);
	free(after);
	free(tpl);
	free(got);

	bg_diag_release(&d);
	free(path);
	free(a);
	free(b);
	fx_release(&fa);
	fx_release(&fb);
	th_rm_rf(dir);
	free(dir);
}

/*
 * A writable directory on another filesystem than `dir`, a new string
 * (NULL when there is none): /dev/shm, /run, /tmp, /var/tmp, the build
 * directory or $HOME; as root, failing those, a tmpfs mounted in a private
 * mount namespace of this process (*mounted is set: umount it).
 */
static char *other_filesystem(const char *dir, bool *mounted)
{
	struct stat s1, s2;
	*mounted = false;
	if (stat(dir, &s1) < 0) {
		return NULL;
	}
	const char *cands[] = {"/dev/shm", "/run", "/tmp", "/var/tmp", getenv("BG_BUILDDIR"),
			getenv("HOME")};
	for (size_t i = 0; i < BG_ARRAY_SIZE(cands); i++) {
		if (!cands[i] || !*cands[i] || stat(cands[i], &s2) < 0 || s2.st_dev == s1.st_dev ||
				access(cands[i], W_OK) != 0) {
			continue;
		}
		char *p = bg_xasprintf("%s/bgtest-edge-exdev-%ld", cands[i], (long)getpid());
		if (bg_mkdir_p(p, 0700) == 0 && stat(p, &s2) == 0 && s2.st_dev != s1.st_dev) {
			return p;
		}
		th_rm_rf(p);
		free(p);
	}
	if (geteuid() != 0 || unshare(CLONE_NEWNS) != 0 ||
			mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		return NULL;
	}
	char *p = bg_xasprintf("%s.other", dir);
	if (bg_mkdir_p(p, 0700) != 0 || mount("bgtest", p, "tmpfs", 0, "size=4m") != 0 ||
			stat(p, &s2) != 0 || s2.st_dev == s1.st_dev) {
		th_rm_rf(p);
		free(p);
		return NULL;
	}
	*mounted = true;
	return p;
}

static void test_install_exdev(void **state)
{
	char *dir = th_tmpdir("edge-exdev");
	struct fx f;
	struct bg_diag d;
	bool mounted = false;

	/* The condition is made, never skipped: two filesystems. */
	char *other = other_filesystem(dir, &mounted);
	if (!other) {
		th_rm_rf(dir);
		fail_msg("no second writable filesystem next to %s (tried /dev/shm, /run, /tmp, "
				"/var/tmp, the build dir, $HOME, and a tmpfs mount as root): set "
				"TMPDIR to another filesystem than one of those", dir);
	}
	print_message("# EXDEV between %s and %s%s\n", dir, other,
			mounted ? " (a tmpfs mounted for the test)" : "");
	fx_init(&f, &cases[0], CFG_EDGE_TRAEFIK, dir);
	free(f.cfg.g.traefik.staging_dir);
	f.cfg.g.traefik.staging_dir = bg_xasprintf("%s/staging", other);
	assert_int_equal(bg_mkdir_p(f.cfg.g.traefik.dynamic_dir, 0755), 0);
	bg_diag_init(&d);
	char *a = render_case(&cases[0], CFG_EDGE_TRAEFIK);
	assert_int_equal(edge_traefik_impl.install(&f.cfg, "shop", a, strlen(a), &d),
			BG_ERRNO(EXDEV));
	assert_int_equal(d.n_errors, 1);
	th_assert_contains(d.items[0].msg, "different filesystems");
	th_assert_contains(d.items[0].msg, "EXDEV");
	char *p = dyn_file(&f);
	assert_int_equal(access(p, F_OK), -1);
	free(p);
	free(a);
	bg_diag_release(&d);
	fx_release(&f);
	if (mounted) {
		umount2(other, MNT_DETACH);
	}
	th_rm_rf(other);
	free(other);
	th_rm_rf(dir);
	free(dir);
}

/* ---- Traefik API confirmation, against the named stand-in ---- */

static pid_t fake_pid = -1;

static pid_t fake_api_start(const char *dyn, const char *mode, int delay_ms,
		const char *routers, int *port, const char *tmp)
{
	char *script = th_src_path("test/unit/traefik-api-fake.py");
	char *pf = bg_xasprintf("%s/api.port", tmp);
	char delay[16];
	pid_t pid;
	posix_spawn_file_actions_t fa;

	snprintf(delay, sizeof(delay), "%d", delay_ms);
	char *argv[] = {"/usr/bin/python3", script, "--dir", (char *)dyn, "--mode",
			(char *)mode, "--delay-ms", delay, "--port-file", pf, "--routers",
			(char *)routers, NULL};
	unlink(pf);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	fake_pid = pid; /* killed by the teardown if an assertion fails first */
	*port = 0;
	for (int i = 0; i < 100 && *port == 0; i++) {
		char *s = NULL;
		if (bg_file_read(pf, 64, &s, NULL) == 0) {
			*port = atoi(s);
			free(s);
		} else {
			usleep(50 * 1000);
		}
	}
	assert_true(*port > 0);
	free(pf);
	free(script);
	return pid;
}

static void fake_api_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
	fake_pid = -1;
}

static int fake_api_teardown(void **state)
{
	fake_api_stop(fake_pid);
	edge_confirm_timeout_ms = 3000;
	return 0;
}

static void test_api_confirm(void **state)
{
	char *dir = th_tmpdir("edge-api");
	struct fx f;
	struct bg_diag d;
	int port;

	fx_init(&f, &cases[0], CFG_EDGE_TRAEFIK, dir);
	assert_int_equal(bg_mkdir_p(f.cfg.g.traefik.dynamic_dir, 0755), 0);
	char *a = render_case(&cases[0], CFG_EDGE_TRAEFIK); /* blue */
	char *b = render_case(&cases[1], CFG_EDGE_TRAEFIK); /* green */
	char *path = dyn_file(&f);
	bg_diag_init(&d);
	edge_confirm_timeout_ms = 3000;

	/* First deploy, API answering 404 until the throttle passes. */
	pid_t pid = fake_api_start(f.cfg.g.traefik.dynamic_dir, "follow", 400, "shop-live",
			&port, dir);
	f.cfg.g.traefik.api = bg_xasprintf("http://user:secret@127.0.0.1:%d/", port);
	int64_t t0 = bg_mono_ms();
	assert_int_equal(edge_traefik_impl.install(&f.cfg, "shop", a, strlen(a), &d), 0);
	int64_t took = bg_mono_ms() - t0;
	print_message("# first install confirmed through the API in %" PRId64 " ms\n", took);
	assert_true(took >= 350); /* it did wait for the API, not just the file */
	assert_int_equal(d.n, 0);

	/* A switch, confirmed once the stand-in has "loaded" it. */
	t0 = bg_mono_ms();
	assert_int_equal(edge_traefik_impl.install(&f.cfg, "shop", b, strlen(b), &d), 0);
	took = bg_mono_ms() - t0;
	print_message("# switch confirmed through the API in %" PRId64 " ms\n", took);
	assert_true(took >= 350);
	assert_int_equal(d.n, 0);
	fake_api_stop(pid);

	/* A Traefik that keeps routing to the old colour: BG_EEDGE after the
	 * bound, and the file says green again (what Traefik still serves). */
	pid = fake_api_start(f.cfg.g.traefik.dynamic_dir, "stuck", 0, "shop-live", &port, dir);
	free(f.cfg.g.traefik.api);
	f.cfg.g.traefik.api = bg_xasprintf("http://user:secret@127.0.0.1:%d", port);
	edge_confirm_timeout_ms = 1000;
	t0 = bg_mono_ms();
	assert_int_equal(edge_traefik_impl.install(&f.cfg, "shop", a, strlen(a), &d), BG_EEDGE);
	took = bg_mono_ms() - t0;
	assert_true(took >= 900 && took < th_time_limit(5000));
	assert_int_equal(d.n_errors, 1);
	th_assert_contains(d.items[0].msg, "did not take router 'shop-live@file'");
	th_assert_contains(d.items[0].msg, "shop-blue@docker");
	th_assert_contains(d.items[0].msg, "service 'shop-green@docker'");
	th_assert_not_contains(d.items[0].msg, "secret");
	char *now = th_read(path);
	assert_string_equal(now, b);
	free(now);
	fake_api_stop(pid);
	bg_diag_release(&d);

	/* An API that answers something else than Traefik's answers: warned
	 * about, and the read-back confirms. */
	bg_diag_init(&d);
	pid = fake_api_start(f.cfg.g.traefik.dynamic_dir, "broken", 0, "", &port, dir);
	free(f.cfg.g.traefik.api);
	f.cfg.g.traefik.api = bg_xasprintf("http://127.0.0.1:%d", port);
	assert_int_equal(edge_traefik_impl.install(&f.cfg, "shop", a, strlen(a), &d), 0);
	assert_int_equal(d.n_errors, 0);
	assert_int_equal(d.n, 1);
	th_assert_contains(d.items[0].msg, "answered HTTP 500");
	now = th_read(path);
	assert_string_equal(now, a);
	free(now);
	fake_api_stop(pid);
	bg_diag_release(&d);

	/* The API configured but nothing listening: the read-back confirms,
	 * with a warning, at once. */
	bg_diag_init(&d);
	free(f.cfg.g.traefik.api);
	f.cfg.g.traefik.api = bg_xstrdup("http://user:secret@127.0.0.1:9/");
	t0 = bg_mono_ms();
	assert_int_equal(edge_traefik_impl.install(&f.cfg, "shop", a, strlen(a), &d), 0);
	assert_true(bg_mono_ms() - t0 < th_time_limit(2000));
	assert_int_equal(d.n_errors, 0);
	assert_int_equal(d.n, 1);
	th_assert_contains(d.items[0].msg, "unreachable");
	th_assert_contains(d.items[0].msg, "http://127.0.0.1:9/");
	th_assert_not_contains(d.items[0].msg, "secret");
	now = th_read(path);
	assert_string_equal(now, a);
	free(now);
	bg_diag_release(&d);

	edge_confirm_timeout_ms = 3000;
	free(path);
	free(a);
	free(b);
	fx_release(&f);
	th_rm_rf(dir);
	free(dir);
}

/* ---- observe ---- */

static void test_observe(void **state)
{
	for (size_t k = 0; k < BG_ARRAY_SIZE(kinds); k++) {
		char *dir = th_tmpdir("edge-obs");
		struct fx f;
		struct cfg_site sites[4];
		static const char *const names[] = {"a", "b", "c", "d"};
		struct obs o;
		struct bg_diag d;

		fx_init(&f, &cases[0], kinds[k], dir);
		const struct edge_impl *impl = kind_impl(kinds[k]);
		memset(sites, 0, sizeof(sites));
		for (size_t i = 0; i < 4; i++) {
			sites[i] = f.site;
			sites[i].name = (char *)names[i];
		}
		f.cfg.sites = sites;
		f.cfg.n_sites = 4;
		/* a: ours (live green); b: missing; c: garbage; d: too big. */
		struct edge_view v = f.v;
		v.site = &sites[0];
		v.live = "green";
		struct bg_buf text = BG_BUF_INIT;
		assert_int_equal(impl->render(&f.cfg, &v, &text), 0);
		char *pa = impl->path(&f.cfg, "a");
		char *pc = impl->path(&f.cfg, "c");
		char *pd = impl->path(&f.cfg, "d");
		char *slash = strrchr(pa, '/');
		*slash = '\0';
		assert_int_equal(bg_mkdir_p(pa, 0755), 0);
		*slash = '/';
		assert_int_equal(bg_file_write_atomic(pa, NULL, text.data, text.len, 0644), 0);
		if (kinds[k] == CFG_EDGE_NGINX) {
			char *fdir = bg_xasprintf("%s/.bluegreen-live", f.cfg.g.nginx.conf_dir);
			write_flags(fdir, "a", "green", NULL);
			free(fdir);
		}
		assert_int_equal(bg_file_write_atomic(pc, NULL, "hello\n", 6, 0644), 0);
		char *big = bg_xmalloc(EDGE_MAX_FILE_BYTES + 10);
		memset(big, '#', EDGE_MAX_FILE_BYTES + 10);
		assert_int_equal(bg_file_write_atomic(pd, NULL, big, EDGE_MAX_FILE_BYTES + 10,
				0644), 0);
		free(big);

		obs_init(&o);
		bg_diag_init(&d);
		assert_int_equal(edge_observe(&f.cfg, &o, &d), 0);
		assert_string_equal(o.edge_kind, impl->kind);
		assert_int_equal(o.n_edges, 4);
		char hex[65];
		bg_sha256_hex(text.data, text.len, hex);
		assert_string_equal(o.edges[0].site, "a");
		assert_string_equal(o.edges[0].path, pa);
		assert_true(o.edges[0].exists);
		assert_string_equal(o.edges[0].content_sha, hex);
		assert_string_equal(o.edges[0].live, "green");
		assert_null(o.edges[0].error);
		if (kinds[k] == CFG_EDGE_NGINX) {
			assert_int_equal(o.edges[0].upstreams.n, 1);
			assert_string_equal(o.edges[0].upstreams.v[0], "172.20.0.2:8080");
		}
		assert_string_equal(o.edges[1].site, "b");
		assert_false(o.edges[1].exists);
		assert_null(o.edges[1].live);
		assert_null(o.edges[1].content_sha);
		assert_null(o.edges[1].error);
		assert_true(o.edges[2].exists);
		assert_null(o.edges[2].live);
		assert_non_null(o.edges[2].error);
		bg_sha256_hex("hello\n", 6, hex);
		assert_string_equal(o.edges[2].content_sha, hex);
		assert_true(o.edges[3].exists);
		assert_null(o.edges[3].live);
		th_assert_contains(o.edges[3].error, "larger than");
		obs_release(&o);
		bg_diag_release(&d);
		bg_buf_release(&text);
		free(pa);
		free(pc);
		free(pd);
		f.cfg.sites = &f.site;
		f.cfg.n_sites = 1;
		fx_release(&f);
		th_rm_rf(dir);
		free(dir);
	}
	struct cfg kc = {0};
	kc.g.edge_kind = CFG_EDGE_TRAEFIK;
	assert_ptr_equal(edge_for(&kc), &edge_traefik_impl);
	kc.g.edge_kind = CFG_EDGE_NGINX;
	assert_ptr_equal(edge_for(&kc), &edge_nginx_impl);
}

static void test_paths(void **state)
{
	struct fx f;
	fx_init(&f, &cases[0], CFG_EDGE_TRAEFIK, "/srv");
	char *p = edge_traefik_impl.path(&f.cfg, "shop");
	assert_string_equal(p, "/srv/dynamic/shop.yml");
	free(p);
	p = edge_nginx_impl.path(&f.cfg, "shop");
	assert_string_equal(p, "/srv/conf.d/bluegreen-shop.conf");
	free(p);
	fx_release(&f);
}

/* What the rest of bluegreen asks of an edge, per kind: the answers the
 * kind tests outside reconcilers/edge/ used to compute (ADR 0014). */
static void test_interface(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, &cases[0], CFG_EDGE_TRAEFIK, "/srv");
	f.cfg.g.nginx.port_lo = 20000;
	f.cfg.g.nginx.port_hi = 29999;
	const struct edge_impl *t = edge_for(&f.cfg);
	assert_ptr_equal(t, &edge_traefik_impl);
	assert_string_equal(t->watch_dir(&f.cfg), "/srv/dynamic");
	assert_false(t->publishes_ports(&f.cfg));
	assert_false(t->needs_upstreams(&f.cfg));
	struct edge_port_range pr = {.lo = 1, .hi = 2, .key = "x"};
	assert_false(t->port_range(&f.cfg, &pr));
	assert_true(pr.lo == 0 && pr.hi == 0 && !pr.key && !pr.value);
	struct json_object *spec = json_object_new_object();
	t->spec_add(&f.cfg, &f.site, spec);
	assert_string_equal(json_object_to_json_string(spec), "{ }");
	assert_int_equal(t->n_exec_rows, 3);
	assert_string_equal(t->exec_rows[0].key, "edge.traefik.dynamic_dir");
	assert_string_equal(t->exec_rows[2].key, "edge.traefik.api");

	f.cfg.g.edge_kind = CFG_EDGE_NGINX;
	const struct edge_impl *n = edge_for(&f.cfg);
	assert_ptr_equal(n, &edge_nginx_impl);
	assert_string_equal(n->watch_dir(&f.cfg), "/srv/conf.d");
	assert_true(n->needs_upstreams(&f.cfg));
	f.cfg.g.nginx.ports = "20000-29999";
	assert_true(n->port_range(&f.cfg, &pr));
	assert_true(pr.lo == 20000 && pr.hi == 29999);
	assert_string_equal(pr.key, "edge.nginx.ports");
	assert_string_equal(pr.value, "20000-29999");
	f.cfg.g.nginx.upstream = CFG_UPSTREAM_PORTS;
	assert_true(n->publishes_ports(&f.cfg));
	n->spec_add(&f.cfg, &f.site, spec);
	assert_string_equal(json_object_to_json_string(spec), "{ \"upstream\": \"ports\" }");
	json_object_put(spec);
	spec = json_object_new_object();
	f.cfg.g.nginx.upstream = CFG_UPSTREAM_ADDRESSES;
	assert_false(n->publishes_ports(&f.cfg));
	n->spec_add(&f.cfg, &f.site, spec);
	assert_string_equal(json_object_to_json_string(spec), "{ \"upstream\": \"addresses\" }");
	json_object_put(spec);
	assert_int_equal(n->n_exec_rows, 3);
	struct edge_exec_value v = {0};
	n->exec_rows[1].value(&f.cfg, &v);
	assert_string_equal(n->exec_rows[1].key, "edge.nginx.test");
	assert_ptr_equal(v.argv, &f.cfg.g.nginx.test);
	fx_release(&f);
}

int main(void)
{
	/* A golden compared with itself proves nothing: never in CI. */
	if (update_golden() && th_ci()) {
		printf("Bail out! BG_UPDATE_GOLDEN=1 under CI=true: the golden files would be "
				"rewritten from the output they are meant to check\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_truncated_and_flipped),
		cmocka_unit_test(test_hand_edited),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_no_template),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_tls_golden),
		cmocka_unit_test(test_tls_content),
		cmocka_unit_test(test_tls_off_unchanged),
		cmocka_unit_test(test_preview_auth),
		cmocka_unit_test(test_tls_hostile),
		cmocka_unit_test(test_tls_damaged),
		cmocka_unit_test(test_tls_schema),
		cmocka_unit_test(test_tls_install),
		cmocka_unit_test(test_tls_example_sites),
		cmocka_unit_test(test_install_atomic),
		cmocka_unit_test(test_install_exdev),
		cmocka_unit_test_teardown(test_api_confirm, fake_api_teardown),
		cmocka_unit_test(test_observe),
		cmocka_unit_test(test_interface),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
