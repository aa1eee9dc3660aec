/*
 * t-cfg: the config module against real files and real libyaml. Good
 * configurations (layering, site_defaults, modules, explain with its
 * provenance and redaction), every error category with its exact
 * file:line:col text, the parser defences (billion laughs, nesting, size,
 * garbage), env_file parsing and secrecy, the `bluegreen validate` binary
 * end to end, and the agreement between the C validator and the JSON
 * Schemas in schema/ (checked with python3-jsonschema through
 * test/unit/cfg-schema-check.py) on test/fixtures/config/{good,bad}.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "bg-util.h"
#include "cfg.h"
#include "cfg-int.h"
#include "th.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ---- */

/* Every diagnostic, one formatted line each. A new string. */
static char *diag_text(const struct bg_diag *d)
{
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < d->n; i++) {
		char line[1024];
		bg_diag_item_format(&d->items[i], line, sizeof(line));
		bg_buf_addf(&b, "%s\n", line);
	}
	return bg_buf_detach(&b, NULL);
}

/* The first error line, or "" (a new string). */
static char *first_error(const struct bg_diag *d)
{
	for (size_t i = 0; i < d->n; i++) {
		if (d->items[i].sev == BG_SEV_ERROR) {
			char line[1024];
			bg_diag_item_format(&d->items[i], line, sizeof(line));
			return bg_xstrdup(line);
		}
	}
	return bg_xstrdup("");
}

struct loaded {
	struct cfg *c;
	struct bg_diag d;
	char *text;
	int err;
};

static void load(struct loaded *l, const char *dir)
{
	bg_diag_init(&l->d);
	l->c = NULL;
	l->err = cfg_load(&l->c, dir, 0, &l->d);
	l->text = diag_text(&l->d);
}

static void loaded_release(struct loaded *l)
{
	cfg_destroy(l->c);
	bg_diag_release(&l->d);
	free(l->text);
}

static char *explain(const struct cfg *c)
{
	struct bg_buf b = BG_BUF_INIT;
	assert_int_equal(cfg_explain(c, &b), 0);
	return bg_buf_detach(&b, NULL);
}

/* cfg_check_buffer on a string; returns the diagnostics text. */
static char *check(const char *kind, const char *name, const char *doc, int *err)
{
	struct bg_diag d;
	bg_diag_init(&d);
	*err = cfg_check_buffer(kind, name, doc, strlen(doc), &d);
	char *t = diag_text(&d);
	bg_diag_release(&d);
	return t;
}

static const char *const minimal_global =
	"install_mode: staging\n"
	"edge:\n"
	"  traefik:\n"
	"    dynamic_dir: dyn\n";

/* ---- good configurations ---- */

static void test_layering(void **state)
{
	char *dir = th_tmpdir("cfg");
	th_write(dir, "profiles/agency.conf",
			"# a local profile\n"
			"modules: [cockpit, wordpress]\n"
			"state_dir: /var/lib/agency\n"
			"edge:\n"
			"  traefik:\n"
			"    entrypoints: [web]\n"
			"site_defaults:\n"
			"  port: 3000\n"
			"  health:\n"
			"    retries: 7\n"
			"    path: /up\n"
			"  env: {TZ: UTC, LANG: C}\n"
			"  strategy:\n"
			"    drain: 1m\n");
	th_write(dir, "global.conf",
			"install_mode: production\n"
			"profile: agency\n"
			"modules: [-wordpress, wp-plugins-standard]\n"
			"state_dir: state/./x/../y\n"
			"edge:\n"
			"  traefik:\n"
			"    dynamic_dir: /etc/traefik/dynamic\n"
			"    certresolver: le\n"
			"site_defaults:\n"
			"  health:\n"
			"    retries: 9\n"
			"  env: {LANG: en_US.UTF-8}\n");
	th_write(dir, "sites/shop.conf",
			"site: shop\n"
			"domains: [shop.example.com]\n"
			"image: nginx:1.27\n"
			"health:\n"
			"  interval: 250ms\n"
			"env:\n"
			"  NODE_ENV: production\n"
			"  PORT: 8080\n"
			"modules: [wordpress]\n");
	th_write(dir, "sites/blog.conf",
			"site: blog\n"
			"domains: [blog.example.com]\n"
			"image: ghost:5\n"
			"port: 2368\n"
			"strategy: {promote: auto, keep_previous: false}\n");
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, 0);
	const struct cfg *c = l.c;
	assert_int_equal(c->g.install_mode, CFG_MODE_PRODUCTION);
	assert_string_equal(c->g.profile, "agency");
	/* modules accumulate; "-wordpress" removes the profile's */
	assert_int_equal(c->g.modules.n, 2);
	assert_string_equal(c->g.modules.v[0], "cockpit");
	assert_string_equal(c->g.modules.v[1], "wp-plugins-standard");
	char *want = bg_xasprintf("%s/state/y", c->dir);
	assert_string_equal(c->g.state_dir, want);
	free(want);
	assert_string_equal(c->g.traefik.dynamic_dir, "/etc/traefik/dynamic");
	assert_string_equal(c->g.traefik.staging_dir, "/etc/traefik/dynamic.staging");
	assert_int_equal(c->g.traefik.entrypoints.n, 1);
	assert_string_equal(c->g.traefik.entrypoints.v[0], "web");
	assert_string_equal(c->g.traefik.certresolver, "le");
	assert_null(c->g.traefik.api);
	assert_string_equal(c->g.docker_socket, "/var/run/docker.sock");
	assert_string_equal(c->g.edge_network, "bluegreen-edge");
	assert_int_equal(c->g.edge_kind, CFG_EDGE_TRAEFIK);
	assert_int_equal(c->g.nginx.reload.n, 3);
	assert_string_equal(c->g.nginx.listen, "80");
	assert_int_equal(c->g.redact.n, 29);

	/* sites sorted by name */
	assert_int_equal(c->n_sites, 2);
	assert_string_equal(c->sites[0].name, "blog");
	assert_string_equal(c->sites[1].name, "shop");
	const struct cfg_site *shop = cfg_site_find(c, "shop");
	assert_non_null(shop);
	assert_null(cfg_site_find(c, "nope"));
	assert_string_equal(shop->path, "sites/shop.conf");
	assert_int_equal(shop->port, 3000);             /* profile site_defaults */
	assert_int_equal(shop->health.retries, 9);      /* global site_defaults over profile */
	assert_string_equal(shop->health.path, "/up");  /* profile */
	assert_int_equal(shop->health.interval_ms, 250); /* site */
	assert_int_equal(shop->health.timeout_ms, 2000); /* default */
	assert_int_equal(shop->health.status, 200);
	assert_int_equal(shop->drain_ms, 60000);
	assert_int_equal(shop->stop_timeout_ms, 10000);
	assert_string_equal(shop->stop_signal, "SIGTERM");
	assert_int_equal(shop->replicas, 1);
	assert_true(shop->keep_previous);
	assert_int_equal(shop->promote, CFG_PROMOTE_MANUAL);
	assert_null(shop->preview);
	assert_null(shop->confirm);
	/* env maps merge key by key, sorted, the scalar text as written */
	assert_int_equal(shop->env.n, 4);
	assert_string_equal(shop->env.v[0].key, "LANG");
	assert_string_equal(shop->env.v[0].value, "en_US.UTF-8");
	assert_string_equal(shop->env.v[1].key, "NODE_ENV");
	assert_string_equal(shop->env.v[2].key, "PORT");
	assert_string_equal(shop->env.v[2].value, "8080");
	assert_string_equal(shop->env.v[3].key, "TZ");
	assert_int_equal(shop->modules.n, 1);
	assert_string_equal(shop->modules.v[0], "wordpress");
	const struct cfg_site *blog = &c->sites[0];
	assert_int_equal(blog->port, 2368);
	assert_int_equal(blog->promote, CFG_PROMOTE_AUTO);
	assert_false(blog->keep_previous);
	assert_int_equal(blog->modules.n, 0);

	/* warnings: each module not built, once, where it was enabled */
	th_assert_contains(l.text, "profiles/agency.conf:2:11: warning: module 'cockpit' is not "
			"built yet in bluegreen 0.1.0: it is accepted but has no effect\n");
	/* wp-plugins-standard is built (issue 16, plugin sets): no warning either */
	th_assert_not_contains(l.text, "module 'wp-plugins-standard' is not built yet");
	/* wordpress is built (issue 16): enabled without a warning */
	th_assert_not_contains(l.text, "module 'wordpress' is not built yet");
	th_assert_not_contains(l.text, "profiles/agency.conf:2:20");
	assert_int_equal(l.d.n_errors, 0);
	assert_int_equal(th_count(l.text, "\n"), 1); /* 2 before wp-plugins-standard was built */
	loaded_release(&l);
	th_rm_rf(dir);
	free(dir);
}

/* alerts: (issue 14) bind, sorted by name, defaults, and the webhook URL
 * (it may hold a secret) never shown by --explain or by cfg_url_redact. */
static void test_alerts_promotion(void **state)
{
	(void)state;
	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf",
			"install_mode: staging\n"
			"edge: {kind: nginx, nginx: {conf_dir: /etc/nginx/conf.d}}\n"
			"alerts:\n"
			"  zz-ops:\n"
			"    webhook: \"https://u:pw-77@hooks.example.com:8443/T0/B0/sekrit?token=tk-99\"\n"
			"    events: [gate-failed, drift]\n"
			"  pager:\n"
			"    command: [/usr/bin/logger, -t, bg]\n");
	th_write(dir, "sites/shop.conf",
			"site: shop\n"
			"domains: [shop.example.com]\n"
			"image: nginx:1.27\n"
			"port: 80\n"
			"promotion: {require: staging, trust: [keys/a.pub]}\n");
	struct loaded l;
	load(&l, dir);
	assert_string_equal(l.text, "");
	assert_int_equal(l.err, 0);
	const struct cfg_global *g = &l.c->g;
	assert_int_equal(g->n_alerts, 2);
	assert_string_equal(g->alerts[0].name, "pager");
	assert_null(g->alerts[0].webhook);
	assert_int_equal(g->alerts[0].command.n, 3);
	assert_int_equal(g->alerts[0].events.n, CFG_ALERT_N_EVENTS); /* default: all */
	assert_int_equal(g->alerts[0].timeout_ms, 5000);
	assert_int_equal(g->alerts[0].retries, 3);
	assert_string_equal(g->alerts[1].name, "zz-ops");
	assert_int_equal(g->alerts[1].events.n, 2);
	const struct cfg_site *s = cfg_site_find(l.c, "shop");
	assert_int_equal(s->promotion.require, CFG_PROMOTION_STAGING);
	assert_string_equal(s->promotion.trust.v[0], "keys/a.pub");
	assert_null(s->promotion.attestations);
	char *ex = explain(l.c);
	th_assert_contains(ex, "alerts.zz-ops.webhook = <redacted>    # global.conf:5\n");
	th_assert_contains(ex, "alerts.pager.events = [gate-failed, verify-failed, auto-revert, "
			"drift, backup-failed]    # default\n");
	th_assert_contains(ex, "sites.shop.promotion.require = staging    # sites/shop.conf:5\n");
	th_assert_not_contains(ex, "pw-77");
	th_assert_not_contains(ex, "sekrit");
	char *r = cfg_url_redact(g->alerts[1].webhook);
	assert_string_equal(r, "https://hooks.example.com:8443/...");
	free(r);
	r = cfg_url_redact("http://127.0.0.1:9/");
	assert_string_equal(r, "http://127.0.0.1:9");
	free(r);
	r = cfg_url_redact("file:///etc/passwd");
	assert_string_equal(r, "<invalid url>");
	free(r);
	assert_int_equal(cfg_alert_event_parse("auto-revert"), CFG_ALERT_AUTO_REVERT);
	assert_int_equal(cfg_alert_event_parse("auto_revert"), -1);
	free(ex);
	loaded_release(&l);
	/* promotion.attestations: an https URL is kept as written (not a path under
	 * the config directory); a relative directory still becomes absolute. */
	th_write(dir, "sites/shop.conf",
			"site: shop\n"
			"domains: [shop.example.com]\n"
			"image: nginx:1.27\n"
			"port: 80\n"
			"promotion: {require: staging, trust: [keys/a.pub],\n"
			"  attestations: \"https://attest.example.com/{image_id}.json\"}\n");
	load(&l, dir);
	assert_int_equal(l.err, 0);
	s = cfg_site_find(l.c, "shop");
	assert_string_equal(s->promotion.attestations, "https://attest.example.com/{image_id}.json");
	assert_false(s->promotion.attestations_rel);
	ex = explain(l.c);
	th_assert_contains(ex, "sites.shop.promotion.attestations = "
			"\"https://attest.example.com/{image_id}.json\"    # sites/shop.conf:6\n");
	free(ex);
	loaded_release(&l);
	th_write(dir, "sites/shop.conf",
			"site: shop\n"
			"domains: [shop.example.com]\n"
			"image: nginx:1.27\n"
			"port: 80\n"
			"promotion: {require: staging, trust: [keys/a.pub], attestations: att}\n");
	load(&l, dir);
	assert_int_equal(l.err, 0);
	s = cfg_site_find(l.c, "shop");
	char *want = bg_xasprintf("%s/att", l.c->dir);
	assert_string_equal(s->promotion.attestations, want);
	assert_true(s->promotion.attestations_rel);
	free(want);
	loaded_release(&l);
	th_rm_rf(dir);
	free(dir);
}

static void test_explain(void **state)
{
	char *dir = th_tmpdir("cfg");
	th_write(dir, "profiles/p.conf",
			"site_defaults:\n"
			"  health:\n"
			"    retries: 7\n");
	th_write(dir, "global.conf",
			"install_mode: development\n"
			"profile: p\n"
			"edge:\n"
			"  kind: nginx\n"
			"  nginx:\n"
			"    conf_dir: /etc/nginx/conf.d\n"
			"    listen: 8080\n"
			"redact: [\"*PASS*\"]\n");
	th_write(dir, "sites/shop.conf",
			"site: shop\n"
			"domains: [shop.example.com]\n"
			"image: nginx:1.27\n"
			"port: 80\n"
			"env:\n"
			"  DB_PASS: hunter2-in-env\n"
			"  MODE: \"a b\"\n"
			"env_file: shop.env\n"
			"volumes: {data: /data}\n"
			"services:\n"
			"  db:\n"
			"    image: postgres:16\n"
			"    command: [postgres, -c, \"x=1\"]\n");
	th_write(dir, "shop.env", "# secrets\nAPI_TOKEN=tok-from-file-123\n");
	char *envp = bg_xasprintf("%s/shop.env", dir);
	chmod(envp, 0600);
	free(envp);
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, 0);
	assert_string_equal(l.text, "");
	char *ex = explain(l.c);
	char *again = explain(l.c);
	assert_string_equal(ex, again); /* deterministic */
	const char *want =
		"install_mode = development    # global.conf:1\n"
		"profile = p    # global.conf:2\n"
		"modules = []    # default\n"
		"state_dir = /var/lib/bluegreen    # default\n"
		"secrets_dir = null    # default\n"
		"docker.socket = /var/run/docker.sock    # default\n"
		"docker.mode = engine    # default\n"
		"edge.kind = nginx    # global.conf:4\n"
		"edge.network = bluegreen-edge    # default\n"
		"edge.traefik.dynamic_dir = null    # default\n"
		"edge.traefik.staging_dir = null    # default\n"
		"edge.traefik.entrypoints = [websecure]    # default\n"
		"edge.traefik.certresolver = null    # default\n"
		"edge.traefik.http_entrypoint = null    # default\n"
		"edge.traefik.api = null    # default\n"
		"edge.nginx.conf_dir = /etc/nginx/conf.d    # global.conf:6\n"
		"edge.nginx.reload = [nginx, -s, reload]    # default\n"
		"edge.nginx.test = [nginx, -t]    # default\n"
		"edge.nginx.listen = \"8080\"    # global.conf:7\n"
		"edge.nginx.probe = true    # default\n"
		"edge.nginx.upstream = ports    # default\n"
		"edge.nginx.ports = 20000-29999    # default\n"
		"edge.nginx.listen_tls = \"443\"    # default\n"
		"edge.nginx.real_ip_from = []    # default\n"
		"edge.nginx.group = www-data    # default\n"
		"edge.nginx.auth_dir = /etc/nginx/bluegreen-auth    # default\n"
		"acme.email = null    # default\n"
		"acme.directory = https://acme-v02.api.letsencrypt.org/directory    # default\n"
		"acme.staging = false    # default\n"
		"acme.ca_bundle = null    # default\n"
		"acme.certbot = [certbot]    # default\n"
		"acme.renew_days = 30    # default\n"
		"acme.dir = /var/lib/bluegreen-acme    # default\n"
		"redact = [\"*PASS*\", \"*SECRET*\", \"*PASSWORD*\", \"*PASSWD*\", \"*PASSPHRASE*\", "
		"\"*PGPASS*\", \"*TOKEN*\", \"*KEY*\", \"*CREDENTIAL*\", PASS, PASS_*, \"PASS[0-9]*\", "
		"\"*_PASS\", \"*_PASS_*\", \"*_PASS[0-9]*\", \"*PWD*\", PW, PW_*, \"*_PW\", \"*_PW_*\", "
		"\"*_PW[0-9]*\", AUTH, \"AUTH[!O]*\", \"*_AUTH\", \"*_AUTH[!O]*\", \"*AUTHORIZATION*\", "
		"\"*AUTHPASS*\", \"*PRIVATE*\", \"*SALT*\", \"*DSN*\"]"
		"    # global.conf:8\n"
		/* issue 15: the cockpit: key's defaults */
		"cockpit.listen = 127.0.0.1:8077    # default\n"
		"cockpit.mode = safe    # default\n"
		"cockpit.users = null    # default\n"
		"cockpit.tls.cert = null    # default\n"
		"cockpit.tls.key = null    # default\n"
		"cockpit.trusted_proxies = []    # default\n"
		"cockpit.publish_dir = null    # default\n" /* issue 15 (P) */
		"cockpit.group = null    # default\n"
		"sites.shop.domains = [shop.example.com]    # sites/shop.conf:2\n"
		"sites.shop.preview = null    # default\n"
		"sites.shop.image = nginx:1.27    # sites/shop.conf:3\n"
		"sites.shop.port = 80    # sites/shop.conf:4\n"
		"sites.shop.command = []    # default\n"
		"sites.shop.env.API_TOKEN = <redacted>    # shop.env:2\n"
		"sites.shop.env.DB_PASS = <redacted>    # sites/shop.conf:6\n"
		"sites.shop.env.MODE = \"a b\"    # sites/shop.conf:7\n"
		"sites.shop.env_file = shop.env    # sites/shop.conf:8\n"
		"sites.shop.replicas = 1    # default\n"
		"sites.shop.health.path = /    # default\n"
		"sites.shop.health.status = 200    # default\n"
		"sites.shop.health.interval = 1s    # default\n"
		"sites.shop.health.timeout = 2s    # default\n"
		"sites.shop.health.retries = 7    # profiles/p.conf:3\n"
		"sites.shop.volumes.data = /data    # sites/shop.conf:9\n"
		"sites.shop.services.db.image = postgres:16    # sites/shop.conf:12\n"
		"sites.shop.services.db.command = [postgres, -c, x=1]    # sites/shop.conf:13\n"
		"sites.shop.services.db.env_file = null    # default\n"
		"sites.shop.services.db.backup.preset = custom    # default\n"
		"sites.shop.services.db.backup.command = []    # default\n"
		"sites.shop.services.db.backup.restore = []    # default\n"
		"sites.shop.services.db.health.tcp = 0    # default\n"
		"sites.shop.services.db.health.command = []    # default\n"
		"sites.shop.services.db.health.interval = 1s    # default\n"
		"sites.shop.services.db.health.timeout = 2s    # default\n"
		"sites.shop.services.db.health.retries = 60    # default\n"
		"sites.shop.services.db.resources.memory = null    # default\n"
		"sites.shop.services.db.resources.cpus = null    # default\n"
		"sites.shop.services.db.resources.pids = 0    # default\n"
		"sites.shop.depends_on = []    # default\n"
		"sites.shop.strategy.promote = manual    # default\n"
		"sites.shop.strategy.keep_previous = true    # default\n"
		"sites.shop.strategy.drain = 5s    # default\n"
		"sites.shop.stop_timeout = 10s    # default\n"
		"sites.shop.stop_signal = SIGTERM    # default\n"
		"sites.shop.confirm = null    # default\n"
		"sites.shop.modules = []    # default\n"
		"sites.shop.tls.mode = off    # default\n"
		"sites.shop.tls.cert = null    # default\n"
		"sites.shop.tls.key = null    # default\n"
		"sites.shop.tls.hsts = 0    # default\n"
		"sites.shop.tls.redirect = true    # default\n"
		"sites.shop.redirect_to = null    # default\n"
		"sites.shop.edge.max_body = 64m    # default\n"
		"sites.shop.edge.read_timeout = 1m    # default\n"
		"sites.shop.edge.send_timeout = 1m    # default\n"
		"sites.shop.preview_auth.user = null    # default\n"
		"sites.shop.preview_auth.password_file = null    # default\n"
		"sites.shop.preview_allow = [127.0.0.1/32, \"::1/128\"]    # default\n"
		"sites.shop.backup.before_switch = false    # default\n"
		"sites.shop.backup.keep = 10    # default\n"
		"sites.shop.backup.max_age = 30d    # default\n"
		"sites.shop.resources.memory = null    # default\n"
		"sites.shop.resources.cpus = null    # default\n"
		"sites.shop.resources.pids = 0    # default\n"
		"sites.shop.promotion.require = none    # default\n"
		"sites.shop.promotion.trust = []    # default\n"
		"sites.shop.promotion.attestations = null    # default\n"
		"sites.shop.kind = null    # default\n"
		"sites.shop.wordpress.version = null    # default\n"
		"sites.shop.wordpress.image = null    # default\n"
		"sites.shop.wordpress.db_image = null    # default\n"
		"sites.shop.wordpress.plugins = none    # default\n"
		"sites.shop.wordpress.install = auto    # default\n"
		"sites.shop.wordpress.title = null    # default\n"
		"sites.shop.wordpress.admin_user = null    # default\n"
		"sites.shop.wordpress.admin_email = null    # default\n"
		"sites.shop.wordpress.add_plugins = []    # default\n"
		"sites.shop.wordpress.allow_plugins = []    # default\n"
		"sites.shop.wordpress.plugin_source = null    # default\n"
		"sites.shop.verify.window = 0ms    # default\n"
		"sites.shop.verify.compare = true    # default\n"
		"sites.shop.verify.on_failure = alert    # default\n"
		"sites.shop.verify.interval = 1s    # default\n"
		"sites.shop.verify.timeout = 2s    # default\n"
		"sites.shop.verify.error_rate = 10    # default\n"
		"sites.shop.verify.min_requests = 5    # default\n"
		"sites.shop.verify.latency_slack = 20ms    # default\n"
		"sites.shop.secrets.as = env    # default\n"
		"sites.shop.secrets.uid = 0    # default\n"
		"sites.shop.secrets.gid = 0    # default\n"
		"sites.shop.secrets.mode = \"0400\"    # default\n";
	assert_string_equal(ex, want);
	/* secrets appear nowhere */
	th_assert_not_contains(ex, "hunter2");
	th_assert_not_contains(ex, "tok-from-file");
	const struct cfg_site *s = cfg_site_find(l.c, "shop");
	assert_true(s->env.v[0].secret); /* API_TOKEN: from the env_file */
	assert_true(s->env.v[1].secret); /* DB_PASS: matches redact */
	assert_false(s->env.v[2].secret);
	assert_true(cfg_key_is_secret(l.c, "db_password"));
	/* A configured list adds to the defaults: *TOKEN* still applies. */
	assert_true(cfg_key_is_secret(l.c, "API_TOKEN"));
	assert_false(cfg_key_is_secret(l.c, "NODE_ENV"));
	free(ex);
	free(again);
	loaded_release(&l);
	th_rm_rf(dir);
	free(dir);
}

static void test_builtin_profile(void **state)
{
	char *dir = th_tmpdir("cfg");
	char *pdir = th_tmpdir("cfgprof");
	th_write(dir, "global.conf", "install_mode: staging\nprofile: pro\n"
			"edge: {traefik: {dynamic_dir: dyn}}\n");
	th_write(dir, "sites/a.conf", "site: a\ndomains: [a.example.com]\nimage: nginx\nport: 80\n");
	unsetenv("BLUEGREEN_PROFILES_DIR");
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, 0);
	/* the source tree's profiles/pro.conf: test programs run from the build tree */
	char *pro = th_src_path("profiles/pro.conf");
	char *warn = bg_xasprintf("%s:8:11: warning: module 'cockpit' is not built yet", pro);
	th_assert_contains(l.text, warn);
	assert_int_equal(l.c->sites[0].drain_ms, 10000);
	assert_int_equal(l.c->sites[0].stop_timeout_ms, 20000);
	assert_int_equal(l.c->g.modules.n, 1);
	char *ex = explain(l.c);
	char *line = bg_xasprintf("sites.a.strategy.drain = 10s    # %s:", pro);
	th_assert_contains(ex, line);
	free(line);
	free(ex);
	free(warn);
	loaded_release(&l);

	/* $BLUEGREEN_PROFILES_DIR comes before the built-in directory... */
	th_write(pdir, "pro.conf", "site_defaults: {stop_timeout: 3s}\n");
	setenv("BLUEGREEN_PROFILES_DIR", pdir, 1);
	load(&l, dir);
	assert_int_equal(l.err, 0);
	assert_int_equal(l.c->sites[0].stop_timeout_ms, 3000);
	assert_int_equal(l.c->g.modules.n, 0);
	loaded_release(&l);
	/* ...and the config directory's profiles/ before both */
	th_write(dir, "profiles/pro.conf", "site_defaults: {stop_timeout: 4s}\n");
	load(&l, dir);
	assert_int_equal(l.err, 0);
	assert_int_equal(l.c->sites[0].stop_timeout_ms, 4000);
	loaded_release(&l);
	unsetenv("BLUEGREEN_PROFILES_DIR");

	/* every built-in profile is valid on its own and in use */
	const char *names[] = {"infra-only", "pro", "wordpress"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(names); i++) {
		char *rel = bg_xasprintf("profiles/%s.conf", names[i]);
		char *p = th_src_path(rel);
		char *data = th_read(p);
		int err;
		char *t = check("profile", rel, data, &err);
		assert_int_equal(err, 0);
		th_assert_not_contains(t, "error");
		free(t);
		char *g = bg_xasprintf("install_mode: staging\nprofile: %s\n"
				"edge: {traefik: {dynamic_dir: dyn}}\n", names[i]);
		char *d2 = th_tmpdir("cfgp");
		th_write(d2, "global.conf", g);
		th_write(d2, "sites/a.conf", "site: a\ndomains: [a.example.com]\nimage: nginx\nport: 80\n");
		load(&l, d2);
		assert_int_equal(l.err, 0);
		assert_true(l.c->sites[0].keep_previous);
		if (strcmp(names[i], "infra-only") == 0) {
			assert_int_equal(l.c->g.modules.n, 0);
		} else if (strcmp(names[i], "wordpress") == 0) {
			assert_int_equal(l.c->g.modules.n, 3);
			assert_int_equal(l.c->sites[0].port, 80);
		}
		loaded_release(&l);
		th_rm_rf(d2);
		free(d2);
		free(g);
		free(data);
		free(p);
		free(rel);
	}
	free(pro);
	th_rm_rf(dir);
	th_rm_rf(pdir);
	free(dir);
	free(pdir);
}

static void test_profile_missing(void **state)
{
	char *dir = th_tmpdir("cfg");
	unsetenv("BLUEGREEN_PROFILES_DIR");
	th_write(dir, "global.conf", "install_mode: staging\nprofile: pr\n"
			"edge: {traefik: {dynamic_dir: dyn}}\n");
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, BG_ECONFIG);
	assert_null(l.c);
	th_assert_contains(l.text, "global.conf:2:10: error: profile 'pr' not found in ");
	th_assert_contains(l.text, "/profiles, ");
	th_assert_contains(l.text, "(did you mean 'pro'?)\n");
	loaded_release(&l);
	th_rm_rf(dir);
	free(dir);
}

static void test_single_file_form(void **state)
{
	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf", minimal_global);
	th_write(dir, "site.conf", "site: solo\ndomains: [solo.example.com]\nimage: nginx\nport: 80\n");
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, 0);
	assert_int_equal(l.c->n_sites, 1);
	assert_string_equal(l.c->sites[0].name, "solo");
	assert_string_equal(l.c->sites[0].path, "site.conf");
	loaded_release(&l);
	th_write(dir, "sites/other.conf", "site: other\ndomains: [o.example.com]\nimage: nginx\n"
			"port: 80\n");
	load(&l, dir);
	assert_int_equal(l.err, BG_ECONFIG);
	th_assert_contains(l.text, "site.conf: error: site.conf and sites/ cannot both exist: "
			"move site.conf to sites/NAME.conf\n");
	loaded_release(&l);
	th_rm_rf(dir);
	free(dir);
}

static void test_partial(void **state)
{
	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf", "edge: {traefik: {dynamic_dir: dyn}}\n");
	th_write(dir, "sites/a.conf", "site: a\ndomains: [a.example.com]\nimage: nginx\nport: 80\n");
	struct cfg *c = NULL;
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(cfg_load(&c, dir, CFG_LOAD_PARTIAL, &d), BG_ECONFIG);
	assert_non_null(c);
	assert_int_equal(c->g.install_mode, CFG_MODE_UNSET);
	assert_string_equal(cfg_install_mode_name(c->g.install_mode), "unset");
	assert_int_equal(c->n_sites, 1);
	char *t = diag_text(&d);
	assert_string_equal(t, "global.conf:1:1: error: missing required key 'install_mode'\n");
	free(t);
	cfg_destroy(c);
	bg_diag_release(&d);
	cfg_destroy(NULL); /* NULL-safe */
	th_rm_rf(dir);
	free(dir);
}

static void test_relative_paths(void **state)
{
	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf", "install_mode: staging\nstate_dir: ./st\n"
			"edge:\n  kind: nginx\n  nginx: {conf_dir: ../conf.d/}\n");
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, 0);
	char *st = bg_xasprintf("%s/st", l.c->dir);
	assert_string_equal(l.c->g.state_dir, st);
	char *parent = bg_xstrdup(l.c->dir);
	*strrchr(parent, '/') = '\0';
	char *conf = bg_xasprintf("%s/conf.d", parent);
	assert_string_equal(l.c->g.nginx.conf_dir, conf);
	assert_int_equal(l.c->g.edge_kind, CFG_EDGE_NGINX);
	assert_string_equal(cfg_edge_kind_name(l.c->g.edge_kind), "nginx");
	assert_null(l.c->g.traefik.staging_dir);
	assert_int_equal(l.c->n_sites, 0);
	free(st);
	free(parent);
	free(conf);
	loaded_release(&l);
	th_rm_rf(dir);
	free(dir);
}

/* ---- errors ---- */

static void test_three_errors(void **state)
{
	int err;
	char *t = check("site", "sites/shop.conf",
			"site: shop\n"
			"domains: [shop.example.com]\n"
			"image: nginx\n"
			"port: http\n"
			"health:\n"
			"  path: /healthz\n"
			"  retries: ten\n"
			"imgae: x\n", &err);
	assert_int_equal(err, BG_ECONFIG);
	assert_string_equal(t,
			"sites/shop.conf:4:7: error: port must be an integer in 1..65535 (got \"http\")\n"
			"sites/shop.conf:7:12: error: health.retries must be an integer >= 1 (got \"ten\")\n"
			"sites/shop.conf:8:1: error: unknown key 'imgae' (did you mean 'image'?)\n");
	free(t);
}

static void test_many_errors_capped(void **state)
{
	struct bg_buf b = BG_BUF_INIT;
	bg_buf_adds(&b, "site: shop\ndomains: [a.example.com]\nimage: nginx\n");
	for (int i = 0; i < 1000; i++) {
		bg_buf_addf(&b, "unknown%d: 1\n", i);
	}
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(cfg_check_buffer("site", "big.conf", b.data, b.len, &d), BG_ECONFIG);
	assert_int_equal(d.n_errors, 1000);
	assert_int_equal(d.n, CFG_MAX_DIAGS);
	assert_int_equal(d.n_dropped, 1000 - CFG_MAX_DIAGS);
	bg_diag_release(&d);
	bg_buf_release(&b);
}

static void test_yaml_errors(void **state)
{
	struct {
		const char *doc, *want;
	} cases[] = {
		{"", "x.conf:1:1: error: the file is empty: expected a mapping of settings such as "
			"'site: shop'\n"},
		{"# only a comment\n\n", "x.conf:1:1: error: the file is empty"},
		{"---\n", "x.conf:1:1: error: the file is empty"},
		{"site: a\nhealth:\n\tpath: /\n", "x.conf:3:1: error: tab characters cannot indent "
			"YAML: use spaces\n"},
		{"site: a\nsite: b\n", "x.conf:2:1: error: duplicate key 'site' (first defined at line 1)\n"},
		{"site: [a\n", "x.conf:2:1: error: invalid YAML: did not find expected ',' or ']' "
			"(while parsing a flow sequence that starts at line 1)\n"},
		{"a: b: c\n", "x.conf:1:5: error: invalid YAML: mapping values are not allowed in "
			"this context\n"},
		{"site: a\nimage: \"\\x00\"\n", "x.conf:2:8: error: NUL characters are not allowed "
			"in values\n"},
		{"site: a\nimage: ok\nx: \xc3\x28\n", "x.conf:3:5: error: invalid UTF-8 (invalid trailing UTF-8 octet, byte 0x28)"},
		{"site: a\n\x01\x02\x03", "x.conf:2:1: error: control characters are not allowed "
			"(byte 0x01): is this a text file?\n"},
		{"site: *nope\n", "x.conf:1:7: error: unknown anchor 'nope'"},
		{"a: &x [*x]\n", "x.conf:1:8: error: unknown anchor 'x'"},
		{"site: !!str a\n", "x.conf:1:7: error: YAML tags are not supported (found "
			"'tag:yaml.org,2002:str')\n"},
		{"health:\n  <<: {path: /}\n", "x.conf:2:3: error: merge keys ('<<') are not supported"},
		{"a: 1\n---\nb: 2\n", "x.conf:2:1: error: only one YAML document is allowed per file\n"},
		{"[1, 2]\n", "x.conf:1:1: error: the top level must be a mapping of settings such as "
			"'site: shop' (got a list)\n"},
		{"just text\n", "(got \"just text\")"},
		{"{[a]: b}\n", "x.conf:1:2: error: a mapping key must be a plain string, not a list\n"},
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		struct bg_diag d;
		bg_diag_init(&d);
		int err = cfg_check_buffer("site", "x.conf", cases[i].doc, strlen(cases[i].doc), &d);
		assert_int_equal(err, BG_ECONFIG);
		char *t = diag_text(&d);
		if (!strstr(t, cases[i].want)) {
			fail_msg("case %zu: want \"%s\" in:\n%s", i, cases[i].want, t);
		}
		free(t);
		bg_diag_release(&d);
	}
}

static void test_garbage(void **state)
{
	/* Fixed-seed garbage, with and without NUL bytes: a located error, no crash. */
	unsigned seed = 12345;
	for (int round = 0; round < 200; round++) {
		char buf[512];
		size_t n = 1 + (size_t)(round * 7) % sizeof(buf);
		for (size_t i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (char)(seed >> 16);
		}
		struct bg_diag d;
		bg_diag_init(&d);
		int err = cfg_check_buffer(round % 2 ? "global" : "site", "bin.conf", buf, n, &d);
		assert_int_equal(err, BG_ECONFIG);
		assert_true(d.n_errors >= 1);
		assert_non_null(d.items[0].file);
		bg_diag_release(&d);
	}
	int err;
	char *t = check("site", "bin.conf", "\xff\xfe\x00s\x00i\x00t\x00e", &err);
	assert_int_equal(err, BG_ECONFIG);
	th_assert_contains(t, "bin.conf:1:1: error: invalid UTF-8");
	free(t);
}

static void test_billion_laughs(void **state)
{
	const char *doc =
		"a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
		"h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
		"i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
	int64_t t0 = bg_mono_ms();
	int err;
	char *t = check("site", "lol.conf", doc, &err);
	int64_t ms = bg_mono_ms() - t0;
	assert_int_equal(err, BG_ECONFIG);
	assert_string_equal(t, "lol.conf:6:8: error: document is too large: more than 100000 "
			"values once aliases are expanded\n");
	if (ms > th_time_limit(200)) {
		fail_msg("billion laughs took %lld ms", (long long)ms);
	}
	free(t);
	/* Below the limit, aliases work and are values like any other. */
	t = check("site", "ok.conf", "site: a\ndomains: &d [a.example.com]\nimage: &i nginx\n"
			"services:\n  x: {image: *i}\n  y: {image: *i}\n", &err);
	assert_int_equal(err, 0);
	assert_string_equal(t, "");
	free(t);
}

static void test_deep_and_huge(void **state)
{
	size_t n = 200000;
	char *deep = bg_xmalloc(n + 1);
	memset(deep, '[', n);
	deep[n] = '\0';
	int64_t t0 = bg_mono_ms();
	int err;
	char *t = check("site", "deep.conf", deep, &err);
	assert_int_equal(err, BG_ECONFIG);
	assert_string_equal(t, "deep.conf:1:33: error: nesting is too deep (more than 32 levels)\n");
	assert_true(bg_mono_ms() - t0 < th_time_limit(1000));
	free(t);
	free(deep);

	/* 31 levels under the root mapping are fine, 32 are not */
	struct bg_buf b = BG_BUF_INIT;
	bg_buf_adds(&b, "env: ");
	for (int i = 0; i < 30; i++) {
		bg_buf_addch(&b, '[');
	}
	for (int i = 0; i < 30; i++) {
		bg_buf_addch(&b, ']');
	}
	t = check("site", "d.conf", b.data, &err);
	th_assert_not_contains(t, "nesting");
	th_assert_contains(t, "env must be a mapping");
	free(t);
	bg_buf_release(&b);

	/* over CFG_MAX_FILE_BYTES: refused before parsing */
	size_t big = CFG_MAX_FILE_BYTES + 1;
	char *huge = bg_xmalloc(big + 1);
	memset(huge, '#', big);
	huge[big] = '\0';
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(cfg_check_buffer("site", "huge.conf", huge, big, &d), BG_ECONFIG);
	t = diag_text(&d);
	assert_string_equal(t, "huge.conf: error: file is too large (1048577 bytes, the limit "
			"is 1048576)\n");
	free(t);
	bg_diag_release(&d);

	/* the same through cfg_load */
	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf", minimal_global);
	th_write(dir, "sites/huge.conf", huge);
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, BG_ECONFIG);
	assert_string_equal(l.text, "sites/huge.conf: error: file is too large (over 1048576 bytes)\n");
	loaded_release(&l);
	th_rm_rf(dir);
	free(dir);
	free(huge);
}

/* Near-limit files full of repeats: no check may be quadratic. */
static void test_large_inputs(void **state)
{
	struct bg_buf b = BG_BUF_INIT;
	bg_buf_adds(&b, "site: a\nimage: x\ndomains: [");
	for (int i = 0; i < 50000; i++) {
		bg_buf_adds(&b, i ? ", a.example.com" : "a.example.com");
	}
	bg_buf_adds(&b, "]\nvolumes:\n");
	for (int i = 0; i < 10000; i++) {
		bg_buf_addf(&b, "  v%d: /data\n", i);
	}
	assert_true(b.len < CFG_MAX_FILE_BYTES);
	struct bg_diag d;
	bg_diag_init(&d);
	int64_t t0 = bg_mono_ms();
	assert_int_equal(cfg_check_buffer("site", "big.conf", b.data, b.len, &d), BG_ECONFIG);
	int64_t ms = bg_mono_ms() - t0;
	assert_int_equal(d.n_errors, 49999 + 9999);
	char *t = first_error(&d);
	assert_string_equal(t, "big.conf:3:26: error: domains[1] repeats 'a.example.com' "
			"(already at line 3)");
	free(t);
	if (ms > th_time_limit(5000)) {
		fail_msg("50000 repeated domains took %lld ms", (long long)ms);
	}
	bg_diag_release(&d);
	bg_buf_release(&b);

	/* a profile and a global.conf of 20000 keys each: the merge is not quadratic */
	char *dir = th_tmpdir("cfgbig");
	struct bg_buf p = BG_BUF_INIT, g = BG_BUF_INIT;
	bg_buf_adds(&p, "site_defaults:\n  env:\n");
	bg_buf_addf(&g, "%sprofile: big\nsite_defaults:\n  env:\n", minimal_global);
	for (int i = 0; i < 20000; i++) {
		bg_buf_addf(&p, "    P%d: x\n", i);
		bg_buf_addf(&g, "    G%d: y\n", i);
	}
	th_write(dir, "profiles/big.conf", p.data);
	th_write(dir, "global.conf", g.data);
	th_write(dir, "sites/a.conf", "site: a\ndomains: [a.example.com]\nimage: nginx\nport: 80\n"
			"env: {P1: site}\n");
	t0 = bg_mono_ms();
	struct loaded l;
	load(&l, dir);
	ms = bg_mono_ms() - t0;
	assert_int_equal(l.err, 0);
	assert_int_equal(l.c->sites[0].env.n, 40000);
	const struct cfg_env *env = &l.c->sites[0].env;
	for (size_t i = 0; i < env->n; i++) {
		if (strcmp(env->v[i].key, "P1") == 0) {
			assert_string_equal(env->v[i].value, "site");
		}
	}
	if (ms > th_time_limit(5000)) {
		fail_msg("merging 2 x 20000 keys took %lld ms", (long long)ms);
	}
	loaded_release(&l);
	bg_buf_release(&p);
	bg_buf_release(&g);
	th_rm_rf(dir);
	free(dir);
}

static void test_scalar_types(void **state)
{
	struct {
		const char *line, *want; /* want NULL: valid */
	} cases[] = {
		{"port: 010", NULL},          /* YAML 1.2: decimal 10, not octal */
		{"port: +80", NULL},
		{"port: 0x1F90", "port must be an integer in 1..65535 (got 0x1F90)"},
		{"port: 0o17", "port must be an integer in 1..65535 (got 0o17)"},
		{"port: 80.0", "port must be an integer in 1..65535 (got 80.0)"},
		{"port: 1e3", "port must be an integer in 1..65535 (got 1e3)"},
		{"port: 99999999999999999999999", "port must be an integer in 1..65535"},
		{"port: ~", "port must be an integer in 1..65535 (got ~)"},
		{"port:", "port must be an integer in 1..65535 (got nothing)"},
		{"strategy: {keep_previous: TRUE}", NULL},
		{"strategy: {keep_previous: on}", "strategy.keep_previous must be true or false "
			"(got \"on\")"},
		{"strategy: {keep_previous: \"true\"}", "(got the string \"true\")"},
		{"stop_timeout: 1000000000s", "stop_timeout must be a duration"},
		{"stop_timeout: 999999999ms", NULL},
		{"image: 1.5", "image must be a docker image reference such as "
			"registry.example.com/shop:1.4.2 (got 1.5)"},
		{"image: \"1.5\"", NULL},
		{"command: [sleep, 10, 1.5, .inf]", NULL},
		{"command: [10, x]", "command[0] must be a program name (a non-empty string) (got 10)"},
		{"command: [\"\"]", "command[0] must be a program name"},
		{"command: [a, null]", "command[1] must be a string or a number (got null)"},
		{"env: {A: yes, B: 010, C: 1.5, D: true, E: ''}", NULL},
		{"env: {1A: x}", "invalid variable name '1A' in env"},
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		char *doc = bg_xasprintf("site: a\ndomains: [a.example.com]\nimage: nginx\n%s\n",
				cases[i].line);
		int err;
		if (strncmp(cases[i].line, "image:", 6) == 0) {
			free(doc);
			doc = bg_xasprintf("site: a\ndomains: [a.example.com]\n%s\n", cases[i].line);
		}
		char *t = check("site", "s.conf", doc, &err);
		if (!cases[i].want) {
			if (err != 0) {
				fail_msg("case %zu (%s) should be valid:\n%s", i, cases[i].line, t);
			}
		} else if (err != BG_ECONFIG || !strstr(t, cases[i].want)) {
			fail_msg("case %zu (%s): want \"%s\" in:\n%s", i, cases[i].line, cases[i].want, t);
		}
		free(t);
		free(doc);
	}
}

static void test_semantic_single_file(void **state)
{
	int err;
	char *t = check("site", "s.conf",
			"site: shop\n"
			"domains: [shop.example.com, www.shop.example.com]\n"
			"preview: www.shop.example.com\n"
			"image: nginx\n"
			"volumes: {a: /data, b: /data}\n"
			"services:\n"
			"  db:\n"
			"    image: postgres:16\n"
			"    volumes: {x: /v, y: /v}\n"
			"depends_on: [db, dbb, cache]\n", &err);
	assert_int_equal(err, BG_ECONFIG);
	assert_string_equal(t,
			"s.conf:3:10: error: preview 'www.shop.example.com' is also in domains (line 2): "
			"the preview host must differ from the live ones\n"
			"s.conf:5:24: error: volumes.b mounts on '/data', already used by volume 'a' at "
			"line 5\n"
			"s.conf:9:25: error: services.db.volumes.y mounts on '/v', already used by volume "
			"'x' at line 9\n"
			"s.conf:10:18: error: depends_on[1] names 'dbb', which is not a service of this "
			"site (did you mean 'db'?)\n"
			"s.conf:10:23: error: depends_on[2] names 'cache', which is not a service of this "
			"site\n");
	free(t);
	assert_int_equal(cfg_check_buffer("nope", "x", "", 0, NULL), BG_EUSAGE);
}

static void test_site_names(void **state)
{
	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf", minimal_global);
	th_write(dir, "sites/shop.conf", "site: shop2\ndomains: [shop.example.com]\nimage: nginx\n"
			"port: 80\n");
	th_write(dir, "sites/Bad_Name.conf", "site: bad\ndomains: [bad.example.com]\nimage: nginx\n"
			"port: 80\n");
	th_write(dir, "sites/evil.conf", "site: ../../etc\ndomains: [evil.example.com]\n"
			"image: nginx\nport: 80\n");
	th_write(dir, "sites/notes.yaml", "whatever\n");
	th_write(dir, "sites/shop.env", "A=b\n");
	th_write(dir, "sites/.shop.conf.swp", "\x01\x02");
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, BG_ECONFIG);
	assert_string_equal(l.text,
			"sites/Bad_Name.conf: error: 'Bad_Name' is not a valid site name: a site file is "
			"sites/NAME.conf, NAME made of lowercase letters, digits and '-' (at most 40)\n"
			"sites/evil.conf:1:7: error: site must be a name of lowercase letters, digits and "
			"'-', starting with a letter or digit, at most 40 characters (got \"../../etc\")\n"
			"sites/notes.yaml: warning: ignored: site files are named sites/NAME.conf\n"
			"sites/shop.conf:1:7: error: site 'shop2' does not match its file name "
			"sites/shop.conf (expected 'site: shop')\n");
	loaded_release(&l);
	assert_true(cfg_name_valid("a"));
	assert_true(cfg_name_valid("shop-2"));
	assert_false(cfg_name_valid("-shop"));
	assert_false(cfg_name_valid("../x"));
	assert_false(cfg_name_valid("a/b"));
	assert_false(cfg_name_valid(""));
	assert_false(cfg_name_valid(NULL));
	assert_false(cfg_name_valid("a1234567890123456789012345678901234567890"));
	assert_true(cfg_name_valid("a123456789012345678901234567890123456789"));
	th_rm_rf(dir);
	free(dir);
}

static void test_duplicate_domains(void **state)
{
	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf", minimal_global);
	th_write(dir, "sites/a.conf", "site: a\ndomains: [a.example.com, shared.example.com]\n"
			"preview: pre.example.com\nimage: nginx\nport: 80\n");
	th_write(dir, "sites/b.conf", "site: b\ndomains:\n  - shared.example.com\n"
			"  - pre.example.com\nimage: nginx\nport: 80\n");
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, BG_ECONFIG);
	assert_string_equal(l.text,
			"sites/b.conf:3:5: error: host 'shared.example.com' is already used by site 'a' "
			"(sites/a.conf:2:26)\n"
			"sites/b.conf:4:5: error: host 'pre.example.com' is already used by site 'a' "
			"(sites/a.conf:3:10)\n");
	loaded_release(&l);
	th_rm_rf(dir);
	free(dir);
}

static void test_required_after_merge(void **state)
{
	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf", "install_mode: production\nedge:\n  kind: nginx\n");
	th_write(dir, "sites/a.conf", "# no port here\nsite: a\ndomains: [a.example.com]\n"
			"image: nginx\n");
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, BG_ECONFIG);
	assert_string_equal(l.text,
			"global.conf:3:9: error: edge.nginx.conf_dir is required when edge.kind is nginx\n"
			"sites/a.conf:2:1: error: missing required key 'port' (set it in sites/a.conf or "
			"in site_defaults)\n");
	loaded_release(&l);
	th_write(dir, "global.conf", "install_mode: production\n");
	load(&l, dir);
	th_assert_contains(l.text, "global.conf:1:1: error: edge.traefik.dynamic_dir is required "
			"when edge.kind is traefik\n");
	loaded_release(&l);
	/* port from site_defaults satisfies the site */
	th_write(dir, "global.conf", "install_mode: production\nedge: {traefik: {dynamic_dir: d}}\n"
			"site_defaults: {port: 8080}\n");
	load(&l, dir);
	assert_int_equal(l.err, 0);
	assert_int_equal(l.c->sites[0].port, 8080);
	loaded_release(&l);
	/* no global.conf, no directory */
	char *empty = th_tmpdir("cfgempty");
	load(&l, empty);
	assert_int_equal(l.err, BG_ECONFIG);
	th_assert_contains(l.text, "global.conf: error: not found in ");
	loaded_release(&l);
	char *gone = bg_xasprintf("%s/does-not-exist", empty);
	load(&l, gone);
	assert_int_equal(l.err, BG_ECONFIG);
	th_assert_contains(l.text, "error: cannot use config directory '");
	loaded_release(&l);
	free(gone);
	th_rm_rf(empty);
	free(empty);
	th_rm_rf(dir);
	free(dir);
}

/*
 * backup:, health: and resources: (ADR 0016): refusals at their own
 * file:line:col; presets fill command and restore; before_switch follows
 * install_mode unless written; sizes and CPUs become numbers.
 */
static void test_backup_health_resources(void **state)
{
	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf", "install_mode: production\n"
			"edge: {kind: traefik, traefik: {dynamic_dir: dyn}}\n");
	th_write(dir, "sites/a.conf", "site: a\ndomains: [a.example.com]\nimage: nginx\nport: 80\n"
			"services:\n  db:\n    image: mariadb\n    backup:\n      preset: mariadb\n"
			"      command: [x]\n");
	th_write(dir, "sites/b.conf", "site: b\ndomains: [b.example.com]\nimage: nginx\nport: 80\n"
			"services:\n  db:\n    image: mariadb\n    backup: {command: [dump]}\n"
			"    health: {tcp: 3306, command: [ping]}\n");
	th_write(dir, "sites/c.conf", "site: c\ndomains: [c.example.com]\nimage: nginx\nport: 80\n"
			"resources: {memory: 1.5g, cpus: \"0.0001\"}\n");
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, BG_ECONFIG);
	assert_string_equal(l.text,
			"sites/a.conf:9:7: error: service db: backup.preset and backup.command/restore "
			"cannot both be set\n"
			"sites/b.conf:8:13: error: service db: backup needs both command (the dump) and "
			"restore (reads it back), or a preset\n"
			"sites/b.conf:9:13: error: service db: health is either tcp or command, not both\n"
			"sites/c.conf:5:21: error: resources.memory must be a size such as 512m or 2g "
			"(got \"1.5g\")\n"
			"sites/c.conf:5:33: error: resources.cpus must be a number of CPUs such as 1, "
			"0.5 or 1.5 (got the string \"0.0001\")\n");
	loaded_release(&l);

	th_write(dir, "sites/a.conf", "site: a\ndomains: [a.example.com]\nimage: nginx\nport: 80\n"
			"resources: {memory: 512m, cpus: \"1.5\", pids: 100}\n"
			"services:\n  db:\n    image: mariadb\n    backup: {preset: mariadb}\n"
			"    health: {tcp: 3306}\n    resources: {cpus: 0.25}\n");
	th_write(dir, "sites/b.conf", "site: b\ndomains: [b.example.com]\nimage: nginx\nport: 80\n"
			"backup: {before_switch: false, keep: 3, max_age: 7d}\n");
	th_write(dir, "sites/c.conf", "site: c\ndomains: [c.example.com]\nimage: nginx\nport: 80\n");
	load(&l, dir);
	assert_int_equal(l.err, 0);
	const struct cfg_site *a = cfg_site_find(l.c, "a");
	assert_true(a->backup.before_switch);
	assert_int_equal(a->resources.memory_bytes, 512ull << 20);
	assert_int_equal(a->resources.nano_cpus, 1500000000ull);
	assert_int_equal(a->resources.pids, 100);
	assert_int_equal(a->services[0].resources.nano_cpus, 250000000ull);
	assert_int_equal(a->services[0].health.tcp, 3306);
	assert_string_equal(a->services[0].backup.command.v[0], "mariadb-dump");
	assert_string_equal(a->services[0].backup.restore.v[0], "mariadb");
	const struct cfg_site *b = cfg_site_find(l.c, "b");
	assert_false(b->backup.before_switch);
	assert_int_equal(b->backup.keep, 3);
	assert_int_equal(b->backup.max_age_ms, 7ull * 24 * 3600 * 1000);
	assert_int_equal(cfg_site_find(l.c, "c")->backup.max_age_ms, 30ull * 24 * 3600 * 1000);
	loaded_release(&l);

	/* staging: off unless written */
	th_write(dir, "global.conf", "install_mode: staging\n"
			"edge: {kind: traefik, traefik: {dynamic_dir: dyn}}\n");
	load(&l, dir);
	assert_int_equal(l.err, 0);
	assert_false(cfg_site_find(l.c, "a")->backup.before_switch);
	loaded_release(&l);
	th_rm_rf(dir);
	free(dir);
	(void)state;
}

/*
 * The edge keys that depend on each other or on global.conf (cfg.c
 * site_edge_requirements): each refusal names the key it is about, at
 * its own file:line:col.
 */
static void test_edge_requirements(void **state)
{
	static const char *const nginx_global =
		"install_mode: staging\n"
		"edge:\n"
		"  kind: nginx\n"
		"  nginx:\n"
		"    conf_dir: conf.d\n";
	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf", nginx_global);
	th_write(dir, "sites/a.conf", "site: a\ndomains: [a.example.com]\nimage: nginx\n"
			"tls:\n  mode: files\n  key: tls/a.key\nport: 80\n");
	th_write(dir, "sites/b.conf", "site: b\ndomains: [b.example.com]\nimage: nginx\n"
			"tls: {mode: auto}\nport: 80\n");
	th_write(dir, "sites/c.conf", "site: c\ndomains: [c.example.com, www.c.example.com]\n"
			"image: nginx\nredirect_to: c.example.org\nport: 80\n");
	th_write(dir, "sites/d.conf", "site: d\ndomains: [d.example.com]\n"
			"preview: preview.d.example.com\nimage: nginx\n"
			"preview_auth:\n  user: bob\nport: 80\n");
	th_write(dir, "sites/e.conf", "site: e\ndomains: [e.example.com]\nimage: nginx\n"
			"preview_auth: {user: bob, password_file: e.pass}\nport: 80\n");
	th_write(dir, "e.pass", "correct horse\n");
	char *pass = bg_xasprintf("%s/e.pass", dir);
	assert_int_equal(chmod(pass, 0600), 0);
	free(pass);
	th_write(dir, "sites/f.conf", "site: f\ndomains: [f.example.com]\nimage: nginx\n"
			"tls:\n  key: tls/f.key\nport: 80\n");
	th_write(dir, "sites/g.conf", "site: g\ndomains: [g.example.com]\nimage: nginx\n"
			"tls:\n  mode: files\n  cert: tls/g.crt\nport: 80\n");
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, BG_ECONFIG);
	assert_string_equal(l.text,
			"sites/a.conf:5:9: error: tls.mode files needs tls.cert and tls.key\n"
			"sites/b.conf:4:13: error: tls.mode auto needs acme.email in global.conf "
			"(the ACME account's contact)\n"
			"sites/c.conf:4:14: error: redirect_to 'c.example.org' must be one of the "
			"site's domains\n"
			"sites/d.conf:6:3: error: preview_auth needs both user and password_file\n"
			"sites/e.conf:4:15: error: preview_auth is set but the site has no preview "
			"host\n"
			"sites/f.conf:5:3: error: tls.cert and tls.key are only used with tls.mode files\n"
			"sites/g.conf:5:9: error: tls.mode files needs tls.cert and tls.key\n");
	th_assert_not_contains(l.text, "correct horse");
	loaded_release(&l);

	/* All of it right: loads, with the values where the edge reads them. */
	th_write(dir, "global.conf", "install_mode: staging\nedge:\n  kind: nginx\n"
			"  nginx:\n    conf_dir: conf.d\nacme: {email: ops@example.com}\n");
	th_write(dir, "sites/a.conf", "site: a\ndomains: [a.example.com]\nimage: nginx\n"
			"tls:\n  mode: files\n  cert: tls/a.crt\n  key: tls/a.key\n  hsts: 600\nport: 80\n");
	th_write(dir, "sites/c.conf", "site: c\ndomains: [c.example.com, www.c.example.com]\n"
			"image: nginx\nredirect_to: c.example.com\n"
			"edge: {max_body: 512k, read_timeout: 1500ms, send_timeout: 2m}\nport: 80\n");
	th_write(dir, "sites/d.conf", "site: d\ndomains: [d.example.com]\n"
			"preview: preview.d.example.com\nimage: nginx\n"
			"preview_auth:\n  user: bob\n  password_file: e.pass\nport: 80\n");
	for (const char *const *g = (const char *const[]){"e", "f", "g", NULL}; *g; g++) {
		char *p = bg_xasprintf("%s/sites/%s.conf", dir, *g);
		assert_int_equal(unlink(p), 0);
		free(p);
	}
	load(&l, dir);
	if (l.err) {
		th_print_error("%s", l.text);
	}
	assert_int_equal(l.err, 0);
	const struct cfg_site *a = cfg_site_find(l.c, "a");
	assert_int_equal(a->tls.mode, CFG_TLS_FILES);
	assert_int_equal(a->tls.hsts, 600);
	assert_true(a->tls.redirect);
	const struct cfg_site *c = cfg_site_find(l.c, "c");
	assert_string_equal(c->redirect_to, "c.example.com");
	assert_string_equal(c->edge.max_body, "512k");
	assert_int_equal(cfg_size_bytes(c->edge.max_body), 512 * 1024);
	assert_int_equal(c->edge.read_timeout_ms, 1500);
	assert_int_equal(c->edge.send_timeout_ms, 120000);
	const struct cfg_site *b = cfg_site_find(l.c, "b");
	assert_int_equal(b->tls.mode, CFG_TLS_AUTO);
	assert_string_equal(b->edge.max_body, "64m"); /* the defaults */
	assert_int_equal(b->edge.read_timeout_ms, 60000);
	assert_int_equal(b->preview_allow.n, 2);
	loaded_release(&l);

	/* Traefik: auto needs the certresolver that requests it, not acme.email. */
	th_write(dir, "global.conf", minimal_global);
	load(&l, dir);
	assert_int_equal(l.err, BG_ECONFIG);
	assert_string_equal(l.text,
			"sites/b.conf:4:13: error: tls.mode auto needs edge.traefik.certresolver in "
			"global.conf (Traefik requests the certificate)\n");
	loaded_release(&l);

	/* Prefix lengths past the address family's bits (JSON Schema's pattern
	 * cannot tell; the C check can). */
	int err;
	char *t = check("site", "s.conf", "site: s\ndomains: [s.example.com]\nimage: nginx\n"
			"port: 80\npreview: p.example.com\npreview_allow: [10.0.0.0/8, 10.1.0.0/33, "
			"\"fd00::/128\", \"::1/129\"]\n", &err);
	assert_int_equal(err, BG_ECONFIG);
	assert_string_equal(t,
			"s.conf:6:29: error: preview_allow[1] must be a network such as 10.0.0.0/8 "
			"(got \"10.1.0.0/33\")\n"
			"s.conf:6:56: error: preview_allow[3] must be a network such as 10.0.0.0/8 "
			"(got \"::1/129\")\n");
	free(t);
	t = check("global", "g.conf", "install_mode: staging\nedge:\n  kind: nginx\n  nginx:\n"
			"    conf_dir: c\n    real_ip_from: [1.2.3, 10.0.0.0/8]\n"
			"acme: {email: \"a@b\"}\n", &err);
	assert_int_equal(err, BG_ECONFIG);
	assert_string_equal(t,
			"g.conf:6:20: error: edge.nginx.real_ip_from[0] must be a network such as "
			"10.0.0.0/8 (got \"1.2.3\")\n"
			"g.conf:7:15: error: acme.email must be an e-mail address such as "
			"ops@example.com (got \"a@b\")\n");
	free(t);
	th_rm_rf(dir);
	free(dir);
}

static void test_modules(void **state)
{
	int err;
	char *t = check("global", "global.conf", "install_mode: staging\n"
			"modules: [cockpit, wordpres, nope]\n", &err);
	assert_int_equal(err, BG_ECONFIG);
	assert_string_equal(t,
			"global.conf:2:11: warning: module 'cockpit' is not built yet in bluegreen "
			"0.1.0: it is accepted but has no effect\n"
			"global.conf:2:20: error: unknown module 'wordpres' in modules (did you mean "
			"'wordpress'?)\n"
			"global.conf:2:30: error: unknown module 'nope' in modules (known: cockpit, "
			"landing, wordpress, wp-plugins-standard)\n");
	free(t);
	assert_true(cfg_module_known("wp-plugins-standard"));
	assert_false(cfg_module_known("wp"));
	assert_false(cfg_module_built("cockpit"));

	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf", "install_mode: staging\nmodules: [-cockpit]\n"
			"edge: {traefik: {dynamic_dir: d}}\n");
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, 0);
	assert_string_equal(l.text, "global.conf:2:11: warning: '-cockpit' has no effect: no lower "
			"layer enables module 'cockpit'\n");
	loaded_release(&l);
	th_rm_rf(dir);
	free(dir);
}

static void test_did_you_mean(void **state)
{
	struct {
		const char *kind, *doc, *want;
	} cases[] = {
		{"site", "site: a\ndomains: [a.example.com]\nimage: x\nhealth: {retires: 3}\n",
			"x.conf:4:10: error: unknown key 'health.retires' (did you mean 'health.retries'?)"},
		{"site", "site: a\ndomains: [a.example.com]\nimage: x\nretries: 3\n",
			"x.conf:4:1: error: unknown key 'retries' (did you mean 'health.retries'?)"},
		{"site", "site: a\ndomain: [a.example.com]\nimage: x\n",
			"x.conf:2:1: error: unknown key 'domain' (did you mean 'domains'?)"},
		{"site", "site: a\ndomains: [a.example.com]\nimage: x\nzzzz: 1\n",
			"x.conf:4:1: error: unknown key 'zzzz'\n"},
		{"global", "install_mod: staging\n",
			"x.conf:1:1: error: unknown key 'install_mod' (did you mean 'install_mode'?)"},
		{"global", "install_mode: staging\nedge: {nginx: {relaod: [x]}}\n",
			"error: unknown key 'edge.nginx.relaod' (did you mean 'edge.nginx.reload'?)"},
		{"profile", "site_defaults: {domains: [a.example.com]}\n",
			"x.conf:1:17: error: site_defaults cannot set 'domains': it belongs in each site file"},
		{"profile", "site_defaults: {imag: x}\n", "error: unknown key 'site_defaults.imag'\n"},
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		int err;
		char *t = check(cases[i].kind, "x.conf", cases[i].doc, &err);
		assert_int_equal(err, BG_ECONFIG);
		if (!strstr(t, cases[i].want)) {
			fail_msg("case %zu: want \"%s\" in:\n%s", i, cases[i].want, t);
		}
		free(t);
	}
}

/* ---- env_file and secrets ---- */

static void test_env_file(void **state)
{
	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf", minimal_global);
	th_write(dir, "sites/a.conf",
			"site: a\ndomains: [a.example.com]\nimage: nginx\nport: 80\n"
			"env: {PLAIN: one, OVERRIDDEN: from-env}\n"
			"env_file: secrets/a.env\n");
	th_write(dir, "secrets/a.env",
			"# comment\n"
			"\n"
			"  DB_URL=postgres://u:s3cr3t-db@db/x?a=b\r\n"
			"EMPTY=\n"
			"OVERRIDDEN=from-file\n"
			"SPACES= keep  them \n");
	char *envp = bg_xasprintf("%s/secrets/a.env", dir);
	chmod(envp, 0600);
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, 0);
	assert_string_equal(l.text, "");
	const struct cfg_site *s = &l.c->sites[0];
	assert_string_equal(s->env_file, "secrets/a.env");
	assert_int_equal(s->env.n, 5);
	assert_string_equal(s->env.v[0].key, "DB_URL");
	assert_string_equal(s->env.v[0].value, "postgres://u:s3cr3t-db@db/x?a=b");
	assert_true(s->env.v[0].secret);
	assert_string_equal(s->env.v[0].loc.file, "secrets/a.env");
	assert_int_equal(s->env.v[0].loc.line, 3);
	assert_string_equal(s->env.v[1].key, "EMPTY");
	assert_string_equal(s->env.v[1].value, "");
	assert_string_equal(s->env.v[2].key, "OVERRIDDEN");
	assert_string_equal(s->env.v[2].value, "from-env"); /* env: wins over env_file */
	assert_false(s->env.v[2].secret);
	assert_string_equal(s->env.v[3].key, "PLAIN");
	assert_string_equal(s->env.v[4].key, "SPACES");
	assert_string_equal(s->env.v[4].value, " keep  them ");
	char *ex = explain(l.c);
	th_assert_contains(ex, "sites.a.env.DB_URL = <redacted>    # secrets/a.env:3\n");
	th_assert_not_contains(ex, "s3cr3t");
	th_assert_not_contains(ex, "keep  them");
	free(ex);
	loaded_release(&l);

	/* group-readable: a warning; malformed lines: errors at the env file's
	 * lines, never quoting the line (values are secret) */
	th_write(dir, "secrets/a.env",
			"GOOD=fine\n"
			"this-line-has-s3cr3t-but-no-equals\n"
			"bad key=s3cr3t-value\n"
			"=s3cr3t-nokey\n"
			"GOOD=s3cr3t-again\n");
	chmod(envp, 0644);
	load(&l, dir);
	assert_int_equal(l.err, BG_ECONFIG);
	assert_string_equal(l.text,
			"secrets/a.env:2:1: error: malformed line: expected KEY=VALUE\n"
			"secrets/a.env:3:1: error: malformed line: invalid variable name before '=' "
			"(letters, digits and '_', not starting with a digit)\n"
			"secrets/a.env:4:1: error: malformed line: invalid variable name before '=' "
			"(letters, digits and '_', not starting with a digit)\n"
			"secrets/a.env:5:1: error: variable 'GOOD' is set twice (first at line 1)\n"
			"sites/a.conf:6:11: warning: env_file 'secrets/a.env' is readable by group or "
			"others (mode 0644): it holds secrets, chmod 600 it\n");
	th_assert_not_contains(l.text, "s3cr3t");
	loaded_release(&l);

	/* missing env_file */
	unlink(envp);
	load(&l, dir);
	assert_int_equal(l.err, BG_ECONFIG);
	th_assert_contains(l.text, "sites/a.conf:6:11: error: env_file 'secrets/a.env' not found "
			"(looked for /");
	loaded_release(&l);
	free(envp);
	th_rm_rf(dir);
	free(dir);
}

/*
 * An env_file stays inside the configuration directory: an absolute path,
 * a ../ path or a link out is a located error, and nothing of the file it
 * names is read or printed.
 */
static void test_env_file_confined(void **state)
{
	char *dir = th_tmpdir("cfg");
	char *cfg = bg_xasprintf("%s/cfg", dir);
	char *outside = bg_xasprintf("%s/other/secret.env", dir);
	th_write(dir, "other/secret.env", "OTHER_SITE_PASSWORD=s3cr3t-other\n");
	chmod(outside, 0600);
	th_write(cfg, "global.conf", minimal_global);
	th_write(cfg, "secrets/mine.env", "MINE=ok\n");
	char *link = bg_xasprintf("%s/secrets/link.env", cfg);
	assert_int_equal(symlink(outside, link), 0);
	char *ldir = bg_xasprintf("%s/outdir", cfg);
	assert_int_equal(symlink("../other", ldir), 0);
	const struct {
		const char *ref, *want;
	} cases[] = {
		{"../other/secret.env", "sites/a.conf:2:11: error: env_file '../other/secret.env' "
				"must be inside the configuration directory"},
		{outside, "sites/a.conf:2:11: error: env_file '"},
		{"secrets/link.env", "sites/a.conf:2:11: error: env_file 'secrets/link.env': not a "
				"regular file (symbolic link, not followed)"},
		{"outdir/secret.env", "sites/a.conf:2:11: error: env_file 'outdir/secret.env': a "
				"directory on the way is a symbolic link (not followed)"},
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		char *site = bg_xasprintf("site: a\nenv_file: %s\ndomains: [a.example.com]\n"
				"image: nginx\nport: 80\n", cases[i].ref);
		th_write(cfg, "sites/a.conf", site);
		struct loaded l;
		load(&l, cfg);
		assert_int_equal(l.err, BG_ECONFIG);
		th_assert_contains(l.text, cases[i].want);
		th_assert_not_contains(l.text, "s3cr3t");
		th_assert_not_contains(l.text, "OTHER_SITE");
		loaded_release(&l);
		free(site);
	}
	/* The same file inside is fine. */
	th_write(cfg, "sites/a.conf", "site: a\nenv_file: ./secrets/mine.env\n"
			"domains: [a.example.com]\nimage: nginx\nport: 80\n");
	char *mine = bg_xasprintf("%s/secrets/mine.env", cfg);
	chmod(mine, 0600);
	struct loaded l;
	load(&l, cfg);
	assert_int_equal(l.err, 0);
	loaded_release(&l);
	free(mine);
	free(ldir);
	free(link);
	free(outside);
	free(cfg);
	th_rm_rf(dir);
	free(dir);
}

/* Load cfg with one site whose env_file is ref; the diagnostics. */
static char *load_env_ref(const char *cfg, const char *ref, int want_err)
{
	char *site = bg_xasprintf("site: a\nenv_file: %s\ndomains: [a.example.com]\n"
			"image: nginx\nport: 80\n", ref);
	th_write(cfg, "sites/a.conf", site);
	struct loaded l;
	load(&l, cfg);
	if (l.err != want_err) {
		fail_msg("env_file %s: %d, wanted %d: %s", ref, l.err, want_err, l.text);
	}
	char *text = bg_xstrdup(l.text);
	th_assert_not_contains(text, "s3cr3t");
	loaded_release(&l);
	free(site);
	return text;
}

/*
 * secrets_dir: an absolute env_file is read beneath it (no link, no ..),
 * anything else absolute is refused, and without it the message names it.
 */
static void test_env_file_secrets_dir(void **state)
{
	char *dir = th_tmpdir("cfg");
	char *cfg = bg_xasprintf("%s/cfg", dir);
	char *sd = bg_xasprintf("%s/secrets", dir);
	th_write(dir, "secrets/shop.env", "API_TOKEN=s3cr3t-shop\n");
	th_write(dir, "other/x.env", "OTHER=s3cr3t-other\n");
	th_write(dir, "secrets/sub/y.env", "Y=s3cr3t-y\n");
	assert_int_equal(chmod(sd, 0700), 0);
	char *f = bg_xasprintf("%s/shop.env", sd);
	assert_int_equal(chmod(f, 0600), 0);
	char *lnk = bg_xasprintf("%s/link.env", sd), *ldir = bg_xasprintf("%s/ldir", sd);
	assert_int_equal(symlink("../other/x.env", lnk), 0);
	assert_int_equal(symlink("../other", ldir), 0);

	/* No secrets_dir: refused, and the way out is named. */
	th_write(cfg, "global.conf", minimal_global);
	char *t = load_env_ref(cfg, f, BG_ECONFIG);
	th_assert_contains(t, "sites/a.conf:2:11: error: env_file '");
	th_assert_contains(t, "global.conf sets no secrets_dir");
	free(t);

	char *g = bg_xasprintf("%ssecrets_dir: %s/\n", minimal_global, sd);
	th_write(cfg, "global.conf", g);
	struct loaded l;
	char *site = bg_xasprintf("site: a\nenv_file: %s\ndomains: [a.example.com]\n"
			"image: nginx\nport: 80\n", f);
	th_write(cfg, "sites/a.conf", site);
	load(&l, cfg);
	assert_int_equal(l.err, 0);
	assert_int_equal(l.c->sites[0].env.n, 1);
	assert_string_equal(l.c->sites[0].env.v[0].value, "s3cr3t-shop");
	assert_true(l.c->sites[0].env.v[0].secret);
	loaded_release(&l);

	char *out = bg_xasprintf("%s/other/x.env", dir);
	char *dots = bg_xasprintf("%s/../other/x.env", sd);
	char *y = bg_xasprintf("%s/ldir/x.env", sd);
	const struct {
		const char *ref, *want;
	} cases[] = {
		{out, "must be inside secrets_dir"},
		{dots, "'..' leads outside the directory"},
		{lnk, "not a regular file (symbolic link, not followed)"},
		{y, "a directory on the way is a symbolic link (not followed)"},
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		t = load_env_ref(cfg, cases[i].ref, BG_ECONFIG);
		th_assert_contains(t, "sites/a.conf:2:11: error: env_file '");
		th_assert_contains(t, cases[i].want);
		free(t);
	}
	/* A relative env_file is still beneath the config directory. */
	t = load_env_ref(cfg, "../secrets/shop.env", BG_ECONFIG);
	th_assert_contains(t, "must be inside the configuration directory");
	free(t);

	/* secrets_dir itself: trusted, existing, not a link, absolute. */
	assert_int_equal(chmod(sd, 0770), 0);
	t = load_env_ref(cfg, f, BG_ECONFIG);
	th_assert_contains(t, "global.conf:5:14: error: secrets_dir ");
	th_assert_contains(t, "writable");
	th_assert_contains(t, "secrets_dir ");
	free(t);
	assert_int_equal(chmod(sd, 0700), 0);
	char *sdl = bg_xasprintf("%s/secrets-link", dir);
	assert_int_equal(symlink(sd, sdl), 0);
	free(g);
	g = bg_xasprintf("%ssecrets_dir: %s\n", minimal_global, sdl);
	th_write(cfg, "global.conf", g);
	free(f);
	f = bg_xasprintf("%s/shop.env", sdl);
	t = load_env_ref(cfg, f, BG_ECONFIG);
	th_assert_contains(t, "global.conf:5:14: error: secrets_dir ");
	th_assert_contains(t, "is a symbolic link");
	free(t);
	free(g);
	g = bg_xasprintf("%ssecrets_dir: %s/none\n", minimal_global, dir);
	th_write(cfg, "global.conf", g);
	t = load_env_ref(cfg, "x.env", BG_ECONFIG);
	th_assert_contains(t, "global.conf:5:14: error: secrets_dir ");
	th_assert_contains(t, "does not exist");
	free(t);
	th_write(cfg, "global.conf", "install_mode: staging\nsecrets_dir: secrets\n"
			"edge: {traefik: {dynamic_dir: dyn}}\n");
	t = load_env_ref(cfg, "x.env", BG_ECONFIG);
	th_assert_contains(t, "global.conf:2:14: error: secrets_dir must be an absolute path");
	free(t);

	free(sdl);
	free(site);
	free(y);
	free(dots);
	free(out);
	free(g);
	free(ldir);
	free(lnk);
	free(f);
	free(sd);
	free(cfg);
	th_rm_rf(dir);
	free(dir);
}

/*
 * A sites/ or profiles/ directory that is a symbolic link is refused: it
 * made bluegreen read files from anywhere and quote them in its errors.
 */
static void test_linked_config_dirs(void **state)
{
	char *dir = th_tmpdir("cfg");
	char *cfg = bg_xasprintf("%s/cfg", dir);
	th_write(dir, "secretdir/a.conf", "site: hunter2SECRET\ndomains: [a.example.com]\n"
			"image: nginx\nport: 80\n");
	th_write(dir, "secretprof/p.conf", "unknown_hunter2SECRET: 1\n");
	th_write(cfg, "global.conf", minimal_global);
	char *sites = bg_xasprintf("%s/sites", cfg), *target = bg_xasprintf("%s/secretdir", dir);
	assert_int_equal(symlink(target, sites), 0);
	struct loaded l;
	load(&l, cfg);
	assert_int_equal(l.err, BG_ECONFIG);
	th_assert_contains(l.text, "sites/: error: sites/ is a symbolic link, which is not "
			"followed");
	th_assert_not_contains(l.text, "hunter2");
	loaded_release(&l);
	assert_int_equal(unlink(sites), 0);

	/* A local profiles/ link, when a profile is named. */
	th_write(cfg, "sites/a.conf", "site: a\ndomains: [a.example.com]\nimage: nginx\nport: 80\n");
	char *g = bg_xasprintf("profile: p\n%s", minimal_global);
	th_write(cfg, "global.conf", g);
	char *prof = bg_xasprintf("%s/profiles", cfg), *ptarget = bg_xasprintf("%s/secretprof", dir);
	assert_int_equal(symlink(ptarget, prof), 0);
	load(&l, cfg);
	assert_int_equal(l.err, BG_ECONFIG);
	th_assert_contains(l.text, "profiles/: error: profiles/ is a symbolic link");
	th_assert_not_contains(l.text, "hunter2");
	loaded_release(&l);

	free(ptarget);
	free(prof);
	free(g);
	free(target);
	free(sites);
	free(cfg);
	th_rm_rf(dir);
	free(dir);
}

/*
 * A FIFO as env_file (or as a site file) is refused at once with a
 * located error: `validate` used to block forever opening it.
 */
static void test_special_files_refused(void **state)
{
	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf", minimal_global);
	th_write(dir, "sites/a.conf", "site: a\nenv_file: secrets/a.env\n"
			"domains: [a.example.com]\nimage: nginx\nport: 80\n");
	char *fifo = bg_xasprintf("%s/secrets/a.env", dir);
	char *sdir = bg_xasprintf("%s/secrets", dir);
	assert_int_equal(mkdir(sdir, 0700), 0);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	const char *bin = getenv("BG_BINARY");
	char *argv[] = {(char *)bin, "-c", dir, "validate", NULL};
	char *env[] = {"NO_COLOR=1", NULL};
	struct th_run r;
	th_run_argv_ex(argv, env, 10000 * th_time_scale(), &r);
	assert_false(r.timed_out);
	assert_int_equal(r.status, BG_EXIT_ERROR);
	th_assert_contains(r.err, "sites/a.conf:2:11: error: env_file 'secrets/a.env': not a "
			"regular file (fifo)");
	th_run_release(&r);

	/* A site file that is a FIFO: the file's own name, no line. */
	unlink(fifo);
	th_write(dir, "secrets/a.env", "A=1\n");
	chmod(fifo, 0600);
	char *site_fifo = bg_xasprintf("%s/sites/b.conf", dir);
	assert_int_equal(mkfifo(site_fifo, 0600), 0);
	th_run_argv_ex(argv, env, 10000 * th_time_scale(), &r);
	assert_false(r.timed_out);
	assert_int_equal(r.status, BG_EXIT_ERROR);
	th_assert_contains(r.err, "sites/b.conf: error: cannot read '");
	th_assert_contains(r.err, "not a regular file (fifo)");
	th_run_release(&r);

	/* A FIFO given as `plan --observed` snapshot: refused, not waited on. */
	unlink(site_fifo);
	char *snap = bg_xasprintf("%s/snap.json", dir);
	assert_int_equal(mkfifo(snap, 0600), 0);
	char *pargv[] = {(char *)bin, "-c", dir, "plan", "--observed", snap, NULL};
	th_run_argv_ex(pargv, env, 10000 * th_time_scale(), &r);
	assert_false(r.timed_out);
	assert_int_equal(r.status, BG_EXIT_ERROR);
	th_assert_contains(r.err, "snap.json: not a regular file (fifo)");
	th_run_release(&r);
	free(snap);
	free(site_fifo);
	free(sdir);
	free(fifo);
	th_rm_rf(dir);
	free(dir);
}

static void test_secret_never_in_diagnostics(void **state)
{
	int err;
	char *t = check("site", "s.conf",
			"site: a\ndomains: [a.example.com]\nimage: nginx\n"
			"env:\n"
			"  API_TOKEN: [s3cr3t-list]\n"
			"  DB_PASSWORD: {v: s3cr3t-map}\n"
			"  OK_PASSWORD: s3cr3t-fine\n", &err);
	assert_int_equal(err, BG_ECONFIG);
	assert_string_equal(t,
			"s.conf:5:14: error: env.API_TOKEN must be a string, number or boolean (got a list; "
			"write \"\" for an empty value)\n"
			"s.conf:6:16: error: env.DB_PASSWORD must be a string, number or boolean (got a "
			"mapping; write \"\" for an empty value)\n");
	free(t);
	/* confirm phrases are not echoed either */
	t = check("site", "s.conf", "site: a\ndomains: [a.example.com]\nimage: nginx\n"
			"confirm: [PHRASE-XYZ]\n", &err);
	th_assert_contains(t, "confirm must be a phrase of 1 to 200 characters (got a list)");
	free(t);
}

/* ---- the directory and the binary ---- */

static void test_dir_resolve(void **state)
{
	char *out = NULL;
	char *cwd = getcwd(NULL, 0);
	char *dir = th_tmpdir("cfg");
	assert_int_equal(cfg_dir_resolve("/x/y", &out), 0);
	assert_string_equal(out, "/x/y");
	free(out);
	setenv("BLUEGREEN_CONFIG", "/from/env", 1);
	assert_int_equal(cfg_dir_resolve(NULL, &out), 0);
	assert_string_equal(out, "/from/env");
	free(out);
	unsetenv("BLUEGREEN_CONFIG");
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(cfg_dir_resolve(NULL, &out), 0);
	assert_string_equal(out, "/etc/bluegreen");
	free(out);
	th_write(dir, "global.conf", minimal_global);
	setenv("BLUEGREEN_CONFIG", "", 1); /* empty counts as unset */
	assert_int_equal(cfg_dir_resolve(NULL, &out), 0);
	char *real = realpath(dir, NULL);
	assert_string_equal(out, real);
	free(real);
	free(out);
	unsetenv("BLUEGREEN_CONFIG");
	assert_int_equal(chdir(cwd), 0);
	free(cwd);
	th_rm_rf(dir);
	free(dir);
}

static void test_examples(void **state)
{
	char *root = th_src_path("examples");
	struct dirent **list = NULL;
	int n = scandir(root, &list, NULL, alphasort);
	size_t checked = 0;
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		char *dir = bg_xasprintf("%s/%s", root, list[i]->d_name);
		char *g = bg_xasprintf("%s/global.conf", dir);
		struct stat st;
		if (list[i]->d_name[0] != '.' && stat(g, &st) == 0) {
			struct loaded l;
			load(&l, dir);
			if (l.err) {
				fail_msg("example %s is invalid:\n%s", list[i]->d_name, l.text);
			}
			assert_true(l.c->n_sites >= 1);
			loaded_release(&l);
			struct th_run r;
			th_bg(&r, "-c", dir, "validate", NULL);
			if (r.status != 0) {
				fail_msg("bluegreen -c %s validate: exit %d\n%s%s", dir, r.status, r.out, r.err);
			}
			th_assert_contains(r.out, ": valid (");
			th_run_release(&r);
			checked++;
		}
		free(g);
		free(dir);
		free(list[i]);
	}
	free(list);
	free(root);
	assert_true(checked >= 2);
}

/*
 * The default redaction list (issue 9): common names of secrets are
 * hidden without any configuration, while look-alikes an operator needs
 * to see (PASSPORT_COUNTRY, AUTHOR_NAME) stay visible.
 */
static void test_redact_defaults(void **state)
{
	static const char *const secret[] = {"DB_PASS", "MYSQL_PASS", "SMTP_PASS", "PASS",
		"PASS_FILE", "REDIS_PASS_PHRASE", "db_pass", "DB_PWD", "DBPWD", "BASIC_AUTH",
		"SMTP_AUTH_USER", "AUTH", "AUTH_SALT", "HTTP_AUTHORIZATION", "GPG_PRIVATE",
		"PRIVATE_KEY_PEM", "LOGGED_IN_SALT", "SENTRY_DSN", "DB_PASSWORD", "API_TOKEN",
		"AWS_SECRET_ACCESS_KEY", "GIT_CREDENTIALS", "SSH_PASSPHRASE", "DB_PASS2", "PASS1",
		"PGPASS", "PGPASSFILE", "SMTP_PW", "PW", "PW_HASH", "SMTP_PW_OLD", "LDAP_PW2",
		"REDIS_AUTHPASS", "authpass", "MY_AUTHKEY", "AUTHTYPE", "X_AUTHN_SECRET_SALT",
		"AUTHORIZATION", "GIT_AUTHOR_AUTH", NULL};
	static const char *const visible[] = {"PASSPORT_COUNTRY", "BYPASS_CACHE", "COMPASS_MODE",
		"AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "git_author_name", "AUTHORS_FILE", "NODE_ENV",
		"PORT", "DATABASE_HOST", "POWER_LEVEL", "NPW_MODE", "PASSENGER_COUNT",
		"OAUTHLIB_INSECURE", NULL};
	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf", minimal_global);
	th_write(dir, "sites/shop.conf",
			"site: shop\n"
			"domains: [shop.example.com]\n"
			"image: nginx\n"
			"port: 80\n"
			"env: {DB_PASS: hunter2, PASSPORT_COUNTRY: fr, SSH_PASSPHRASE: hunter3, "
			"DB_PASS2: hunter4, PGPASS: hunter5, SMTP_PW: hunter6, REDIS_AUTHPASS: hunter7, "
			"AUTHOR_NAME: ann}\n");
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, 0);
	for (size_t i = 0; secret[i]; i++) {
		if (!cfg_key_is_secret(l.c, secret[i])) {
			fail_msg("'%s' should be secret by default", secret[i]);
		}
	}
	for (size_t i = 0; visible[i]; i++) {
		if (cfg_key_is_secret(l.c, visible[i])) {
			fail_msg("'%s' should not be secret by default", visible[i]);
		}
	}
	char *ex = explain(l.c);
	th_assert_contains(ex, "sites.shop.env.DB_PASS = <redacted>    # sites/shop.conf:5\n");
	th_assert_contains(ex, "sites.shop.env.PASSPORT_COUNTRY = fr    # sites/shop.conf:5\n");
	th_assert_not_contains(ex, "hunter");
	th_assert_contains(ex, "sites.shop.env.AUTHOR_NAME = ann    # sites/shop.conf:5\n");
	free(ex);
	loaded_release(&l);
	th_rm_rf(dir);
	free(dir);
}

/* validate --explain never shows the confirm phrase (it is marked no-echo). */
static void test_explain_hides_confirm(void **state)
{
	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf", minimal_global);
	th_write(dir, "sites/shop.conf",
			"site: shop\n"
			"domains: [shop.example.com]\n"
			"image: nginx\n"
			"port: 80\n"
			"confirm: \"DEPLOY SHOP PHRASE-4711\"\n");
	struct loaded l;
	load(&l, dir);
	assert_int_equal(l.err, 0);
	assert_string_equal(cfg_site_find(l.c, "shop")->confirm, "DEPLOY SHOP PHRASE-4711");
	char *ex = explain(l.c);
	th_assert_contains(ex, "sites.shop.confirm = <redacted>    # sites/shop.conf:5\n");
	th_assert_not_contains(ex, "PHRASE-4711");
	free(ex);
	loaded_release(&l);

	struct th_run r;
	th_bg(&r, "-c", dir, "validate", "--explain", NULL);
	assert_int_equal(r.status, 0);
	th_assert_contains(r.out, "sites.shop.confirm = <redacted>");
	th_assert_not_contains(r.out, "PHRASE-4711");
	th_assert_not_contains(r.err, "PHRASE-4711");
	th_run_release(&r);
	th_bg(&r, "-c", dir, "--json", "validate", "--explain", NULL);
	assert_int_equal(r.status, 0);
	th_assert_contains(r.out, "sites.shop.confirm = <redacted>");
	th_assert_not_contains(r.out, "PHRASE-4711");
	th_run_release(&r);
	th_rm_rf(dir);
	free(dir);
}

static void test_binary_validate(void **state)
{
	char *dir = th_tmpdir("cfg");
	th_write(dir, "global.conf", minimal_global);
	th_write(dir, "sites/shop.conf",
			"site: shop\n"
			"domains: [shop.example.com]\n"
			"image: nginx\n"
			"port: 80\n"
			"env: {API_KEY: do-not-print-me}\n");
	struct th_run r;
	th_bg(&r, "-c", dir, "validate", "--explain", NULL);
	assert_int_equal(r.status, 0);
	th_assert_contains(r.out, "install_mode = staging    # global.conf:1\n");
	th_assert_contains(r.out, "sites.shop.env.API_KEY = <redacted>    # sites/shop.conf:5\n");
	th_assert_contains(r.out, "sites.shop.port = 80    # sites/shop.conf:4\n");
	th_assert_contains(r.out, ": valid (1 site, install_mode staging)\n");
	th_assert_not_contains(r.out, "do-not-print-me");
	th_assert_not_contains(r.err, "do-not-print-me");
	th_run_release(&r);

	th_write(dir, "sites/shop.conf",
			"site: shop\n"
			"domains: [shop.example.com]\n"
			"image: nginx\n"
			"port: http\n"
			"health:\n"
			"  retries: ten\n"
			"env: {API_KEY: do-not-print-me}\n");
	th_bg(&r, "-c", dir, "validate", NULL);
	assert_int_equal(r.status, 1);
	th_assert_contains(r.err, "sites/shop.conf:4:7: error: port must be an integer in "
			"1..65535 (got \"http\")\n");
	th_assert_contains(r.err, "sites/shop.conf:6:12: error: health.retries must be an "
			"integer >= 1 (got \"ten\")\n");
	th_assert_contains(r.err, ": invalid: 2 errors\n");
	th_assert_not_contains(r.err, "do-not-print-me");
	th_run_release(&r);

	th_bg(&r, "-c", dir, "validate", "--json", NULL);
	assert_int_equal(r.status, 1);
	th_assert_contains(r.out, "\"valid\":false");
	th_assert_contains(r.out, "\"file\":\"sites/shop.conf\",\"line\":4,\"col\":7");
	th_run_release(&r);

	/* BLUEGREEN_CONFIG is honoured by the binary */
	char *envv = bg_xasprintf("BLUEGREEN_CONFIG=%s", dir);
	const char *bin = getenv("BG_BINARY");
	char *argv[] = {(char *)(bin && *bin ? bin : "bluegreen"), "validate", NULL};
	char *env[] = {envv, NULL};
	th_run_argv(argv, env, &r);
	assert_int_equal(r.status, 1);
	th_assert_contains(r.err, "sites/shop.conf:4:7: error:");
	th_run_release(&r);
	free(envv);
	th_rm_rf(dir);
	free(dir);
}

/* ---- schema agreement ---- */

static char *corpus_files(const char *sub, struct bg_strv *files)
{
	char *rel = bg_xasprintf("test/fixtures/config/%s", sub);
	char *dir = th_src_path(rel);
	struct dirent **list = NULL;
	int n = scandir(dir, &list, NULL, alphasort);
	assert_true(n > 0);
	for (int i = 0; i < n; i++) {
		if (bg_str_has_suffix(list[i]->d_name, ".yaml")) {
			bg_strv_push_take(files, bg_xasprintf("%s/%s", dir, list[i]->d_name));
		}
		free(list[i]);
	}
	free(list);
	free(rel);
	return dir;
}

static const char *kind_of(const char *path)
{
	const char *base = strrchr(path, '/') + 1;
	if (bg_str_has_prefix(base, "global-")) {
		return "global";
	}
	if (bg_str_has_prefix(base, "profile-")) {
		return "profile";
	}
	assert_true(bg_str_has_prefix(base, "site-"));
	return "site";
}

/* The python verdict for one file: "valid NAME" / "invalid NAME: ..." lines. */
static bool py_valid(const char *out, const char *name)
{
	char *v = bg_xasprintf("\nvalid %s\n", name);
	char *inv = bg_xasprintf("\ninvalid %s: ", name);
	char *full = bg_xasprintf("\n%s", out);
	bool valid = strstr(full, v) != NULL;
	bool invalid = strstr(full, inv) != NULL;
	if (valid == invalid) {
		fail_msg("python gave no single verdict for %s:\n%s", name, out);
	}
	free(v);
	free(inv);
	free(full);
	return valid;
}

static void test_schema_agreement(void **state)
{
	struct bg_strv good, bad, argv;
	bg_strv_init(&good);
	bg_strv_init(&bad);
	bg_strv_init(&argv);
	char *gdir = corpus_files("good", &good);
	char *bdir = corpus_files("bad", &bad);
	assert_true(good.n >= 12);
	assert_true(bad.n >= 35);

	char *script = th_src_path("test/unit/cfg-schema-check.py");
	char *schema = th_src_path("schema");
	bg_strv_push(&argv, "/usr/bin/python3");
	bg_strv_push(&argv, script);
	bg_strv_push(&argv, "check");
	bg_strv_push(&argv, schema);
	bg_strv_copy(&argv, &good);
	bg_strv_copy(&argv, &bad);
	struct th_run r;
	th_run_argv(argv.v, NULL, &r);
	if (r.status != 0) {
		fail_msg("cfg-schema-check.py failed (%d):\n%s%s", r.status, r.out, r.err);
	}
	size_t disagreements = 0;
	for (size_t i = 0; i < good.n + bad.n; i++) {
		bool is_good = i < good.n;
		const char *path = is_good ? good.v[i] : bad.v[i - good.n];
		const char *name = strrchr(path, '/') + 1;
		char *data = th_read(path);
		struct bg_diag d;
		bg_diag_init(&d);
		int err = cfg_check_buffer(kind_of(path), name, data, strlen(data), &d);
		bool c_valid = err == 0;
		bool p_valid = py_valid(r.out, name);
		if (c_valid != is_good || p_valid != is_good) {
			char *t = diag_text(&d);
			th_print_error("# %s: expected %s, C says %s, jsonschema says %s\n# %s",
					name, is_good ? "valid" : "invalid", c_valid ? "valid" : "invalid",
					p_valid ? "valid" : "invalid", t);
			free(t);
			disagreements++;
		}
		if (!is_good) {
			/* the .err file holds the first diagnostic line exactly */
			char *errp = bg_xstrndup(path, strlen(path) - 5);
			char *ep = bg_xasprintf("%s.err", errp);
			char *want = th_read(ep);
			char *nl = strchr(want, '\n');
			if (nl) {
				*nl = '\0';
			}
			char *got = first_error(&d);
			char first[1024] = "";
			if (d.n) {
				bg_diag_item_format(&d.items[0], first, sizeof(first));
			}
			if (strcmp(got, want) != 0 || strcmp(first, want) != 0) {
				th_print_error("# %s: first error\n#   want: %s\n#   got:  %s\n", name, want, got);
				disagreements++;
			}
			free(got);
			free(want);
			free(ep);
			free(errp);
		}
		bg_diag_release(&d);
		free(data);
	}
	assert_int_equal(disagreements, 0);
	th_run_release(&r);

	/* every key of the C table is in the schema with the same type and
	 * default, and the other way round */
	const char *kinds[] = {"global", "site", "profile"};
	const enum cfg__kind ck[] = {CFG__GLOBAL, CFG__SITE, CFG__PROFILE};
	for (size_t i = 0; i < 3; i++) {
		char *kargv[] = {"/usr/bin/python3", script, "keys", schema, (char *)kinds[i], NULL};
		th_run_argv(kargv, NULL, &r);
		assert_int_equal(r.status, 0);
		struct bg_buf b = BG_BUF_INIT;
		cfg__schema_dump(ck[i], &b);
		assert_string_equal(b.data, r.out);
		assert_true(b.len > 200);
		bg_buf_release(&b);
		th_run_release(&r);
	}
	free(script);
	free(schema);
	free(gdir);
	free(bdir);
	bg_strv_release(&good);
	bg_strv_release(&bad);
	bg_strv_release(&argv);
}

/* The checker itself must be able to say "invalid": a file it must refuse
 * for each YAML-level rule it mirrors. */
static void test_schema_checker_refuses(void **state)
{
	char *dir = th_tmpdir("cfgpy");
	const struct {
		const char *name, *doc;
	} cases[] = {
		{"site-dup.yaml", "site: a\nsite: b\ndomains: [a.example.com]\nimage: x\n"},
		{"site-merge.yaml", "site: a\ndomains: [a.example.com]\nimage: x\nenv:\n  <<: {A: b}\n"},
		{"site-tag.yaml", "site: !!str a\ndomains: [a.example.com]\nimage: x\n"},
		{"site-yes.yaml", "site: a\ndomains: [a.example.com]\nimage: x\n"
			"strategy: {keep_previous: yes}\n"},
		/* YAML 1.1 would read 0101 as octal 65 and 1_0 as 10: both valid */
		{"site-octal.yaml", "site: a\ndomains: [a.example.com]\nimage: x\nreplicas: 0101\n"},
		{"site-underscore.yaml", "site: a\ndomains: [a.example.com]\nimage: x\nreplicas: 1_0\n"},
	};
	char *script = th_src_path("test/unit/cfg-schema-check.py");
	char *schema = th_src_path("schema");
	struct bg_strv argv;
	bg_strv_init(&argv);
	bg_strv_push(&argv, "/usr/bin/python3");
	bg_strv_push(&argv, script);
	bg_strv_push(&argv, "check");
	bg_strv_push(&argv, schema);
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		th_write(dir, cases[i].name, cases[i].doc);
		bg_strv_push_take(&argv, bg_xasprintf("%s/%s", dir, cases[i].name));
	}
	struct th_run r;
	th_run_argv(argv.v, NULL, &r);
	assert_int_equal(r.status, 0);
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		assert_false(py_valid(r.out, cases[i].name));
		int err;
		char *t = check("site", cases[i].name, cases[i].doc, &err);
		assert_int_equal(err, BG_ECONFIG);
		free(t);
	}
	th_run_release(&r);
	bg_strv_release(&argv);
	free(script);
	free(schema);
	th_rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layering),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_alerts_promotion),
		cmocka_unit_test(test_redact_defaults),
		cmocka_unit_test(test_explain_hides_confirm),
		cmocka_unit_test(test_builtin_profile),
		cmocka_unit_test(test_profile_missing),
		cmocka_unit_test(test_single_file_form),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_three_errors),
		cmocka_unit_test(test_many_errors_capped),
		cmocka_unit_test(test_yaml_errors),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_billion_laughs),
		cmocka_unit_test(test_deep_and_huge),
		cmocka_unit_test(test_large_inputs),
		cmocka_unit_test(test_scalar_types),
		cmocka_unit_test(test_semantic_single_file),
		cmocka_unit_test(test_site_names),
		cmocka_unit_test(test_duplicate_domains),
		cmocka_unit_test(test_required_after_merge),
		cmocka_unit_test(test_modules),
		cmocka_unit_test(test_edge_requirements),
		cmocka_unit_test(test_backup_health_resources),
		cmocka_unit_test(test_did_you_mean),
		cmocka_unit_test(test_env_file),
		cmocka_unit_test(test_env_file_confined),
		cmocka_unit_test(test_env_file_secrets_dir),
		cmocka_unit_test(test_linked_config_dirs),
		cmocka_unit_test(test_special_files_refused),
		cmocka_unit_test(test_secret_never_in_diagnostics),
		cmocka_unit_test(test_dir_resolve),
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_binary_validate),
		cmocka_unit_test(test_schema_agreement),
		cmocka_unit_test(test_schema_checker_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
