/*
 * t-edge-nginx: the nginx edge against a real nginx. The test runs
 * /usr/sbin/nginx as its own master (daemon off, a child of this process)
 * with a generated nginx.conf in a temporary prefix that includes
 * every conf.d/NAME.conf and listens on a free 127.0.0.1 port, and two real
 * backends, `busybox httpd` serving "blue" and "green". No Docker.
 *
 * It checks: every golden nginx file passes `nginx -t` (the TLS ones with
 * a real self-signed pair); the goldens of this file (tls, hsts,
 * redirect_to, max_body) are the exact bytes rendered and parse back, and
 * hostile paths, sizes and names never reach a file; switching live
 * changes what nginx serves; a switch under concurrent load fails no
 * request; a failing `test` or `reload` argv leaves the previous file in
 * place and nginx serving what it served, with nginx's own output in the
 * diagnostics; the argvs run with cwd = the config directory; an empty
 * upstream answers 502; a real WebSocket handshake and echo pass through
 * nginx (and over HTTPS, wss://) while plain requests keep the upstream
 * keepalive; a body above
 * nginx's 1m default but under edge.max_body reaches the backend and one
 * above gets 413; edge.read_timeout gives 504 past it; HTTPS is served
 * with the site's certificate (files, and certbot's live/ links for auto),
 * HTTP answers 308 to https, the other domains redirect to redirect_to,
 * HSTS is sent when set, and the ACME challenge and the install probe
 * answer on HTTP; and nothing is left running at the end.
 *
 * Backends beyond busybox are test/unit/edge-backend.py (/usr/bin/python3,
 * python3-websockets). Needs /usr/sbin/nginx (Debian: nginx-light),
 * busybox and openssl; without nginx or busybox it prints a TAP SKIP with
 * the reason. run.sh and CI install all of them.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "bg-util.h"
#include "cfg.h"
#include "edge-int.h"
#include "obs.h"
#include "th.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define NGINX "/usr/sbin/nginx"
#define BUSYBOX "busybox"

struct env {
	char *dir; /* nginx prefix and cfg->dir */
	int port, blue_port, green_port;
	pid_t nginx, blue, green;
	pid_t py[4]; /* python backends (edge-backend.py) still running; 0: none */
	struct cfg cfg;
	struct cfg_site site;
	struct bg_strv blue_ups, green_ups, none;
};

static struct env E;

static pid_t spawn_bg(char *const argv[], const char *log)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return rc == 0 ? pid : -1;
}

static void stop_pid(pid_t *pid, int sig)
{
	if (*pid > 0) {
		kill(*pid, sig);
		waitpid(*pid, NULL, 0);
		*pid = -1;
	}
}

/* ---- a minimal HTTP/1.0 client (one connection per request) ---- */

struct resp {
	int status; /* -1: transport error */
	char body[256];
};

static void http_get(int port, const char *host, struct resp *r)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 5};
	char buf[4096], req[256];
	size_t n = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	r->status = -1;
	r->body[0] = '\0';
	if (fd < 0) {
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		snprintf(r->body, sizeof(r->body), "connect: %s", strerror(errno));
		goto out;
	}
	int rl = snprintf(req, sizeof(req), "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", host);
	/* With SO_RCVTIMEO/SO_SNDTIMEO a signal (the SIGCHLD of a reload this
	 * test ran) interrupts the call even under SA_RESTART (signal(7)). */
	ssize_t wr;
	do {
		wr = write(fd, req, (size_t)rl);
	} while (wr < 0 && errno == EINTR);
	if (wr != rl) {
		snprintf(r->body, sizeof(r->body), "write: %s", strerror(errno));
		goto out;
	}
	for (;;) {
		ssize_t k = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (k < 0 && errno == EINTR) {
			continue; /* as for the write */
		}
		if (k < 0) {
			snprintf(r->body, sizeof(r->body), "read after %zu bytes: %s", n,
					strerror(errno));
			goto out;
		}
		if (k == 0) {
			break;
		}
		n += (size_t)k;
		if (n == sizeof(buf) - 1) {
			break;
		}
	}
	buf[n] = '\0';
	const char *sp = strchr(buf, ' ');
	const char *body = strstr(buf, "\r\n\r\n");
	if (!sp || !body || strncmp(buf, "HTTP/1.", 7) != 0) {
		snprintf(r->body, sizeof(r->body), "not HTTP (%zu bytes)", n);
		goto out;
	}
	r->status = atoi(sp + 1);
	snprintf(r->body, sizeof(r->body), "%s", body + 4);
	size_t bl = strlen(r->body);
	while (bl && (r->body[bl - 1] == '\n' || r->body[bl - 1] == '\r')) {
		r->body[--bl] = '\0';
	}
out:
	close(fd);
}

/* Wait until nginx serves `want` for host: `nginx -s reload` only signals
 * the master, which starts new workers a moment later. */
static bool wait_serves(const char *host, int status, const char *want, int ms)
{
	int64_t deadline = bg_mono_ms() + ms;
	struct resp r;
	do {
		http_get(E.port, host, &r);
		if (r.status == status && (!want || strcmp(r.body, want) == 0)) {
			return true;
		}
		usleep(20 * 1000);
	} while (bg_mono_ms() < deadline);
	th_print_error("nginx serves %d '%s' for %s, expected %d '%s'\n", r.status, r.body,
			host, status, want ? want : "");
	return false;
}

/* Wait until nginx answers host with status and a body starting with
 * prefix (a new site's file, once the reload took it). */
static bool wait_prefix(const char *host, int status, const char *prefix, int ms)
{
	int64_t deadline = bg_mono_ms() + ms;
	struct resp r;
	do {
		http_get(E.port, host, &r);
		if (r.status == status && bg_str_has_prefix(r.body, prefix)) {
			return true;
		}
		usleep(20 * 1000);
	} while (bg_mono_ms() < deadline);
	th_print_error("nginx serves %d '%s' for %s, expected %d '%s...'\n", r.status, r.body,
			host, status, prefix);
	return false;
}

/* Stays serving `want` for a while (after a refused install). */
static void keeps_serving(const char *host, const char *want)
{
	for (int i = 0; i < 10; i++) {
		struct resp r;
		http_get(E.port, host, &r);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, want);
		usleep(30 * 1000);
	}
}

/* ---- the view and install ---- */

static int install(const char *live, const char *preview, const struct bg_strv *lu,
		const struct bg_strv *pu, struct bg_diag *d, char **content)
{
	struct edge_view v = {.site = &E.site, .live = live, .live_version = 1,
			.preview = preview, .live_upstreams = lu, .preview_upstreams = pu};
	struct bg_buf b = BG_BUF_INIT;
	assert_int_equal(edge_nginx_impl.render(&E.cfg, &v, &b), 0);
	/* As the edge reconciler does: the file and the flags (issue 11). */
	int err = edge_nginx_impl.route(&E.cfg, "shop", live, preview, b.data, b.len, d);
	if (content) {
		*content = bg_buf_detach(&b, NULL);
	}
	bg_buf_release(&b);
	return err;
}

static const struct bg_strv *ups(const char *colour)
{
	return strcmp(colour, "blue") == 0 ? &E.blue_ups : &E.green_ups;
}

static int install_live(const char *live, struct bg_diag *d)
{
	const char *other = strcmp(live, "blue") == 0 ? "green" : "blue";
	return install(live, other, ups(live), ups(other), d, NULL);
}

static char *conf_path(const char *site)
{
	return edge_nginx_impl.path(&E.cfg, site);
}

static void set_argv(struct bg_strv *sv, const char *const *argv)
{
	bg_strv_release(sv);
	for (size_t i = 0; argv && argv[i]; i++) {
		bg_strv_push(sv, argv[i]);
	}
}

/* Relative paths on purpose: they only resolve with cwd = cfg->dir. */
static const char *const real_test[] = {NGINX, "-t", "-q", "-p", ".", "-c", "nginx.conf",
		"-e", "error.log", NULL};
static const char *const real_reload[] = {NGINX, "-p", ".", "-c", "nginx.conf", "-e",
		"error.log", "-s", "reload", NULL};

static void use_real_argvs(void)
{
	set_argv(&E.cfg.g.nginx.test, real_test);
	set_argv(&E.cfg.g.nginx.reload, real_reload);
}

/* ---- setup and teardown ---- */

static int group_setup(void **state)
{
	char *p;

	memset(&E, 0, sizeof(E));
	E.nginx = E.blue = E.green = -1;
	E.dir = th_tmpdir("edge-nginx");
	/* Running as root, nginx's workers run as nobody: let them in. */
	chmod(E.dir, 0755);
	E.port = th_free_port();
	E.blue_port = th_free_port();
	E.green_port = th_free_port();
	th_write(E.dir, "blue/index.html", "blue\n");
	th_write(E.dir, "green/index.html", "green\n");
	th_write(E.dir, "conf.d/.keep", "");
	th_write(E.dir, "tmp/.keep", "");
	th_write(E.dir, "nginx.conf",
			"# t-edge-nginx: a private nginx, run in the foreground by the test.\n"
			"daemon off;\n"
			"pid nginx.pid;\n"
			"error_log error.log info;\n"
			"worker_processes 2;\n"
			"events { worker_connections 1024; }\n"
			"http {\n"
			"\taccess_log off;\n"
			"\tclient_body_temp_path tmp/body;\n"
			"\tproxy_temp_path tmp/proxy;\n"
			"\tfastcgi_temp_path tmp/fastcgi;\n"
			"\tuwsgi_temp_path tmp/uwsgi;\n"
			"\tscgi_temp_path tmp/scgi;\n"
			"\tinclude conf.d/*.conf;\n"
			"}\n");

	char *log = bg_xasprintf("%s/backends.log", E.dir);
	char addr[64], *root;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", E.blue_port);
	root = bg_xasprintf("%s/blue", E.dir);
	char *bb[] = {BUSYBOX, "httpd", "-f", "-p", addr, "-h", root, NULL};
	E.blue = spawn_bg(bb, log);
	free(root);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", E.green_port);
	root = bg_xasprintf("%s/green", E.dir);
	char *bg[] = {BUSYBOX, "httpd", "-f", "-p", addr, "-h", root, NULL};
	E.green = spawn_bg(bg, log);
	free(root);
	free(log);
	if (E.blue < 0 || E.green < 0) {
		return -1;
	}

	char *prefix = bg_xasprintf("%s/", E.dir);
	log = bg_xasprintf("%s/nginx.out", E.dir);
	char *ng[] = {NGINX, "-p", prefix, "-c", "nginx.conf", "-e", "error.log", NULL};
	E.nginx = spawn_bg(ng, log);
	free(log);
	free(prefix);
	p = bg_xasprintf("%s/nginx.pid", E.dir);
	for (int i = 0; i < 250 && access(p, F_OK) != 0; i++) {
		usleep(20 * 1000);
	}
	bool up = access(p, F_OK) == 0;
	free(p);
	if (E.nginx < 0 || !up) {
		return -1;
	}

	E.cfg.dir = bg_xstrdup(E.dir);
	E.cfg.g.edge_kind = CFG_EDGE_NGINX;
	E.cfg.g.nginx.conf_dir = bg_xasprintf("%s/conf.d", E.dir);
	E.cfg.g.nginx.listen = bg_xasprintf("127.0.0.1:%d", E.port);
	use_real_argvs();
	E.site.name = bg_xstrdup("shop");
	bg_strv_push(&E.site.domains, "shop.example.com");
	E.site.preview = bg_xstrdup("preview.shop.example.com");
	/* As the config default: the preview answers loopback (ADR 0015). */
	bg_strv_push(&E.site.preview_allow, "127.0.0.1/32");
	E.site.port = 8080;
	E.site.replicas = 1;
	E.cfg.sites = &E.site;
	E.cfg.n_sites = 1;
	bg_strv_push_take(&E.blue_ups, bg_xasprintf("127.0.0.1:%d", E.blue_port));
	bg_strv_push_take(&E.green_ups, bg_xasprintf("127.0.0.1:%d", E.green_port));
	return 0;
}

static void nginx_quit(void)
{
	if (E.nginx <= 0) {
		return;
	}
	char *argv[] = {NGINX, "-p", ".", "-c", "nginx.conf", "-e", "error.log", "-s", "quit",
			NULL};
	int st = -1;
	bg_spawn_capture(argv, E.dir, 10000, &st, NULL);
	/* Graceful: the master waits for its workers, then exits. */
	for (int i = 0; i < 500; i++) {
		if (waitpid(E.nginx, NULL, WNOHANG) == E.nginx) {
			E.nginx = -1;
			return;
		}
		usleep(10 * 1000);
	}
	stop_pid(&E.nginx, SIGKILL);
}

static int group_teardown(void **state)
{
	nginx_quit();
	stop_pid(&E.blue, SIGTERM);
	stop_pid(&E.green, SIGTERM);
	for (size_t i = 0; i < BG_ARRAY_SIZE(E.py); i++) {
		stop_pid(&E.py[i], SIGTERM);
	}
	free(E.cfg.dir);
	free(E.cfg.g.nginx.conf_dir);
	free(E.cfg.g.nginx.listen);
	free(E.cfg.g.nginx.listen_tls);
	bg_strv_release(&E.cfg.g.nginx.test);
	bg_strv_release(&E.cfg.g.nginx.reload);
	free(E.site.name);
	bg_strv_release(&E.site.domains);
	bg_strv_release(&E.site.preview_allow);
	free(E.site.preview);
	bg_strv_release(&E.blue_ups);
	bg_strv_release(&E.green_ups);
	if (E.dir) {
		th_rm_rf(E.dir);
		free(E.dir);
	}
	return 0;
}

/* ---- tests ---- */

/* ---- HTTPS, redirects and limits: goldens of this file, and real TLS ---- */

/*
 * The nginx-only goldens: what the site's tls, redirect_to and edge keys
 * make of the file. Rendered with the config directory /etc/bluegreen and
 * acme.dir /var/lib/bluegreen-acme; test_goldens_pass_nginx_t points those
 * at a real self-signed pair. BG_UPDATE_GOLDEN=1 rewrites them (not under
 * CI=true).
 */
struct ngcase {
	const char *name;
	const char *domains[3];
	const char *preview;
	enum cfg_tls_mode tls;
	bool ready, no_redirect;
	unsigned hsts;
	const char *redirect_to, *max_body;
	uint64_t read_ms, send_ms;
};

static const struct ngcase ngcases[] = {
	{.name = "tls-files", .domains = {"shop.example.com"},
			.preview = "preview.shop.example.com", .tls = CFG_TLS_FILES, .ready = true,
			.max_body = "64m", .read_ms = 60000, .send_ms = 60000},
	{.name = "tls-files-no-redirect", .domains = {"shop.example.com"},
			.tls = CFG_TLS_FILES, .ready = true, .no_redirect = true,
			.max_body = "64m", .read_ms = 60000, .send_ms = 60000},
	{.name = "tls-auto", .domains = {"shop.example.com"},
			.preview = "preview.shop.example.com", .tls = CFG_TLS_AUTO, .ready = true,
			.max_body = "64m", .read_ms = 60000, .send_ms = 60000},
	{.name = "tls-auto-pending", .domains = {"shop.example.com"},
			.preview = "preview.shop.example.com", .tls = CFG_TLS_AUTO,
			.max_body = "64m", .read_ms = 60000, .send_ms = 60000},
	{.name = "hsts", .domains = {"shop.example.com"}, .tls = CFG_TLS_FILES, .ready = true,
			.hsts = 31536000, .max_body = "64m", .read_ms = 60000, .send_ms = 60000},
	{.name = "redirect-to", .domains = {"www.example.com", "example.com"},
			.redirect_to = "example.com", .max_body = "64m", .read_ms = 60000,
			.send_ms = 60000},
	{.name = "redirect-to-tls", .domains = {"example.com", "www.example.com",
			"example.org"}, .preview = "preview.example.com", .tls = CFG_TLS_AUTO,
			.ready = true, .hsts = 600, .redirect_to = "example.com", .max_body = "64m",
			.read_ms = 60000, .send_ms = 60000},
	{.name = "max-body", .domains = {"shop.example.com"}, .max_body = "1g",
			.read_ms = 1500, .send_ms = 300000},
};

static void ngcase_site(const struct ngcase *c, struct cfg_site *s)
{
	memset(s, 0, sizeof(*s));
	s->name = "shop";
	for (size_t i = 0; i < BG_ARRAY_SIZE(c->domains) && c->domains[i]; i++) {
		bg_strv_push(&s->domains, c->domains[i]);
	}
	s->preview = (char *)c->preview;
	s->port = 8080;
	s->replicas = 1;
	s->tls.mode = c->tls;
	if (c->tls == CFG_TLS_FILES) {
		s->tls.cert = "tls/shop.crt";
		s->tls.key = "tls/shop.key";
	}
	s->tls.hsts = c->hsts;
	s->tls.redirect = !c->no_redirect;
	s->redirect_to = (char *)c->redirect_to;
	s->edge.max_body = (char *)c->max_body;
	s->edge.read_timeout_ms = c->read_ms;
	s->edge.send_timeout_ms = c->send_ms;
}

static char *ngcase_render(const struct ngcase *c)
{
	struct cfg cfg = {0};
	struct cfg_site s;
	struct bg_strv lu, pu;
	struct bg_buf b = BG_BUF_INIT;

	ngcase_site(c, &s);
	bg_strv_init(&lu);
	bg_strv_init(&pu);
	bg_strv_push(&lu, "127.0.0.1:20001");
	bg_strv_push(&pu, "127.0.0.1:20002");
	cfg.dir = "/etc/bluegreen";
	cfg.g.edge_kind = CFG_EDGE_NGINX;
	cfg.g.nginx.conf_dir = "/etc/nginx/conf.d";
	cfg.g.nginx.listen = "80";
	cfg.g.nginx.listen_tls = "443";
	cfg.g.acme.dir = "/var/lib/bluegreen-acme";
	cfg.sites = &s;
	cfg.n_sites = 1;
	struct edge_view v = {.site = &s, .live = "blue", .live_version = 3,
			.preview = c->preview ? "green" : NULL, .live_upstreams = &lu,
			.preview_upstreams = &pu, .tls_ready = c->ready};
	assert_int_equal(edge_nginx_impl.render(&cfg, &v, &b), 0);
	bg_strv_release(&s.domains);
	bg_strv_release(&lu);
	bg_strv_release(&pu);
	return bg_buf_detach(&b, NULL);
}

static char *ngcase_path(const char *name)
{
	return bg_xasprintf("%s/test/fixtures/edge/nginx/%s.conf", th_srcdir(), name);
}

/* A golden (flags under /etc/nginx/conf.d) naming E.dir/flags instead, with
 * flags live blue and preview green there; re-signed. A new string. */
static char *flags_here(const char *text)
{
	const char *old = "/etc/nginx/conf.d/.bluegreen-live", *p = text, *q;
	char *dir = bg_xasprintf("%s/flags", E.dir);
	struct bg_buf b = BG_BUF_INIT;
	th_write(dir, "shop.live-blue", "");
	th_write(dir, "shop.preview-green", "");
	while ((q = strstr(p, old))) {
		bg_buf_add(&b, p, (size_t)(q - p));
		bg_buf_adds(&b, dir);
		p = q + strlen(old);
	}
	const char *t = strstr(p, "# bluegreen-sha256: ");
	assert_non_null(t);
	bg_buf_add(&b, p, (size_t)(t - p));
	edge__trailer_render(&b);
	free(dir);
	return bg_buf_detach(&b, NULL);
}

static void test_tls_goldens(void **state)
{
	const char *u = getenv("BG_UPDATE_GOLDEN");
	bool update = u && strcmp(u, "1") == 0 && !th_ci();

	for (size_t i = 0; i < BG_ARRAY_SIZE(ngcases); i++) {
		const struct ngcase *c = &ngcases[i];
		char *got = ngcase_render(c);
		char *again = ngcase_render(c);
		char *path = ngcase_path(c->name);
		assert_string_equal(got, again);
		if (update) {
			assert_int_equal(bg_file_write_atomic(path, NULL, got, strlen(got), 0644), 0);
		}
		char *want = th_read(path);
		if (strcmp(got, want) != 0) {
			th_print_error("golden mismatch for %s:\n--- want\n%s--- got\n%s", path, want,
					got);
		}
		assert_string_equal(got, want);
		/* Read back: the live colour (its flag) and its upstream, whatever
		 * else is there. The flags live where the file says: here, a
		 * directory of the test's, the file re-signed for it. */
		struct obs_edge e;
		memset(&e, 0, sizeof(e));
		char *moved = flags_here(got);
		assert_int_equal(edge_nginx_impl.parse(&E.cfg, "shop", moved, strlen(moved), &e), 0);
		free(moved);
		assert_string_equal(e.live, "blue");
		assert_int_equal(e.upstreams.n, 1);
		assert_string_equal(e.upstreams.v[0], "127.0.0.1:20001");
		if (c->preview) {
			assert_string_equal(e.preview, "green");
		} else {
			assert_null(e.preview);
		}
		edge__obs_reset(&e);
		free(want);
		free(path);
		free(again);
		free(got);
	}
}

/*
 * A file written before issue 11 (no WebSocket map, no limits, no TLS):
 * still understood, so upgrading bluegreen reads what is live from it and
 * plans one rewrite rather than calling the edge unreadable.
 */
static void test_legacy_file_parses(void **state)
{
	char *path = ngcase_path("legacy-preview-candidate");
	char *text = th_read(path);
	struct obs_edge e;
	memset(&e, 0, sizeof(e));
	assert_int_equal(edge_nginx_impl.parse(&E.cfg, "shop", text, strlen(text), &e), 0);
	assert_null(e.error);
	assert_string_equal(e.live, "blue");
	assert_string_equal(e.preview, "green");
	assert_int_equal(e.upstreams.n, 1);
	assert_string_equal(e.upstreams.v[0], "172.20.0.2:8080");
	th_assert_not_contains(text, "map $http_upgrade");
	edge__obs_reset(&e);
	free(text);
	free(path);
}

/* Values that would leave their syntactic place never reach a file. */
static void test_tls_inputs_refused(void **state)
{
	struct cfg cfg = {0};
	struct cfg_site s;
	struct bg_strv lu;
	struct bg_buf b = BG_BUF_INIT;
	const struct ngcase *c = &ngcases[0]; /* tls-files, ready */

	bg_strv_init(&lu);
	bg_strv_push(&lu, "127.0.0.1:20001");
	cfg.dir = "/etc/bluegreen";
	cfg.g.edge_kind = CFG_EDGE_NGINX;
	cfg.g.nginx.conf_dir = "/etc/nginx/conf.d";
	cfg.g.nginx.listen = "80";
	cfg.g.acme.dir = "/var/lib/bluegreen-acme";
	struct edge_view v = {.site = &s, .live = "blue", .live_version = 1,
			.live_upstreams = &lu, .tls_ready = true};
	static const char *const bad_paths[] = {"tls/a\".crt", "tls/$host.crt", "tls/a\\b",
			"tls/a\nb", "tls/\x7f"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(bad_paths); i++) {
		ngcase_site(c, &s);
		s.tls.cert = (char *)bad_paths[i];
		assert_int_equal(edge_nginx_impl.render(&cfg, &v, &b), BG_ECONFIG);
		s.tls.cert = "tls/shop.crt";
		s.tls.key = (char *)bad_paths[i];
		assert_int_equal(edge_nginx_impl.render(&cfg, &v, &b), BG_ECONFIG);
		bg_strv_release(&s.domains);
	}
	/* tls off: the paths are not used, so not checked. */
	ngcase_site(c, &s);
	s.tls.mode = CFG_TLS_OFF;
	s.tls.cert = "tls/$x";
	assert_int_equal(edge_nginx_impl.render(&cfg, &v, &b), 0);
	bg_buf_reset(&b);
	/* files without a key, even when called ready */
	s.tls.mode = CFG_TLS_FILES;
	s.tls.cert = "tls/shop.crt";
	s.tls.key = NULL;
	assert_int_equal(edge_nginx_impl.render(&cfg, &v, &b), BG_ECONFIG);
	s.tls.key = "tls/shop.key";
	/* auto: the ACME directory reaches `root` and the certificate paths */
	s.tls.mode = CFG_TLS_AUTO;
	cfg.g.acme.dir = "/var/lib/acme$x";
	assert_int_equal(edge_nginx_impl.render(&cfg, &v, &b), BG_ECONFIG);
	cfg.g.acme.dir = "relative/acme";
	assert_int_equal(edge_nginx_impl.render(&cfg, &v, &b), BG_ECONFIG);
	cfg.g.acme.dir = NULL;
	assert_int_equal(edge_nginx_impl.render(&cfg, &v, &b), BG_ECONFIG);
	cfg.g.acme.dir = "/var/lib/bluegreen-acme";
	/* listen_tls, redirect_to, max_body */
	cfg.g.nginx.listen_tls = "443 ssl; include /etc/passwd";
	assert_int_equal(edge_nginx_impl.render(&cfg, &v, &b), BG_ECONFIG);
	cfg.g.nginx.listen_tls = NULL; /* default 443 */
	s.redirect_to = "elsewhere.example.com";
	assert_int_equal(edge_nginx_impl.render(&cfg, &v, &b), BG_ECONFIG);
	s.redirect_to = "shop.example.com;";
	assert_int_equal(edge_nginx_impl.render(&cfg, &v, &b), BG_ECONFIG);
	s.redirect_to = "shop.example.com";
	static const char *const bad_sizes[] = {"64mb", "", "m", "1;", "-1", "1234567890123"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(bad_sizes); i++) {
		s.edge.max_body = (char *)bad_sizes[i];
		assert_int_equal(edge_nginx_impl.render(&cfg, &v, &b), BG_ECONFIG);
	}
	assert_int_equal(b.len, 0); /* nothing was appended by any refusal */
	s.edge.max_body = "0";
	assert_int_equal(edge_nginx_impl.render(&cfg, &v, &b), 0);
	th_assert_contains(b.data, "\t\tclient_max_body_size 0;\n");
	th_assert_contains(b.data, "\tlisten 443 ssl;\n");
	bg_buf_release(&b);
	bg_strv_release(&s.domains);
	bg_strv_release(&lu);
}

/* A self-signed certificate for names (the first is the CN) in dir:
 * NAME.crt and NAME.key, with openssl (argv). */
static void make_cert(const char *dir, const char *name, const char *const *names)
{
	char *crt = bg_xasprintf("%s/%s.crt", dir, name);
	char *key = bg_xasprintf("%s/%s.key", dir, name);
	char *subj = bg_xasprintf("/CN=%s", names[0]);
	struct bg_buf san = BG_BUF_INIT;
	bg_buf_adds(&san, "subjectAltName=");
	for (size_t i = 0; names[i]; i++) {
		bg_buf_addf(&san, "%sDNS:%s", i ? "," : "", names[i]);
	}
	bg_mkdir_p(dir, 0755);
	char *argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
			"ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt,
			"-days", "2", "-subj", subj, "-addext", san.data, NULL};
	int st = -1;
	char *out = NULL;
	assert_int_equal(bg_spawn_capture(argv, NULL, 30000, &st, &out), 0);
	if (st != 0) {
		th_print_error("openssl req failed:\n%s\n", out);
	}
	assert_int_equal(st, 0);
	free(out);
	bg_buf_release(&san);
	free(subj);
	free(key);
	free(crt);
}

/* text with every "from" replaced by "to" (a new string). */
static char *replace_all(const char *text, const char *from, const char *to)
{
	struct bg_buf b = BG_BUF_INIT;
	const char *p = text, *hit;
	while ((hit = strstr(p, from))) {
		bg_buf_add(&b, p, (size_t)(hit - p));
		bg_buf_adds(&b, to);
		p = hit + strlen(from);
	}
	bg_buf_adds(&b, p);
	return bg_buf_detach(&b, NULL);
}

/*
 * For nginx -t: a golden's certificate paths pointed at a real pair in
 * scratch (/etc/bluegreen/tls/shop.{crt,key}, and certbot's live/ names
 * under the ACME directory), so nginx loads them as it would in use.
 */
static char *golden_for_nginx_t(const char *scratch, const char *text)
{
	char *etc = bg_xasprintf("%s/etc-bluegreen", scratch);
	char *acme = bg_xasprintf("%s/acme", scratch);
	char *live = bg_xasprintf("%s/certbot/live/bluegreen-shop", acme);
	char *tls = bg_xasprintf("%s/tls", etc);
	static const char *const names[] = {"shop.example.com", NULL};
	struct stat st;
	if (stat(tls, &st) != 0) {
		make_cert(tls, "shop", names);
		bg_mkdir_p(live, 0755);
		char *c = bg_xasprintf("%s/shop.crt", tls), *k = bg_xasprintf("%s/shop.key", tls);
		char *lc = bg_xasprintf("%s/fullchain.pem", live);
		char *lk = bg_xasprintf("%s/privkey.pem", live);
		assert_int_equal(symlink(c, lc), 0);
		assert_int_equal(symlink(k, lk), 0);
		free(lc);
		free(lk);
		free(c);
		free(k);
	}
	char *etc_to = bg_xasprintf("%s/", etc), *acme_to = bg_xasprintf("%s/", acme);
	char *a = replace_all(text, "/etc/bluegreen/", etc_to);
	char *b = replace_all(a, "/var/lib/bluegreen-acme/", acme_to);
	free(a);
	a = b;
	free(etc_to);
	free(acme_to);
	free(tls);
	free(live);
	free(acme);
	free(etc);
	return a;
}

/* Every golden file is configuration nginx accepts as it is. */
static void test_goldens_pass_nginx_t(void **state)
{
	static const char *const names[] = {"live-blue", "live-green", "preview-candidate",
			"preview-no-candidate", "replicas", "no-certresolver", "multi-domain",
			"empty-upstream", "digit-site", "tls-files", "tls-files-no-redirect",
			"tls-auto", "tls-auto-pending", "hsts", "redirect-to", "redirect-to-tls",
			"max-body", "legacy-preview-candidate"};
	char *scratch = th_tmpdir("edge-nginx-t");
	chmod(scratch, 0755);
	th_write(scratch, "nginx.conf", "pid nginx.pid;\nevents {}\nhttp {\n"
			"\tclient_body_temp_path tmp/body;\n\tproxy_temp_path tmp/proxy;\n"
			"\tfastcgi_temp_path tmp/fastcgi;\n\tuwsgi_temp_path tmp/uwsgi;\n"
			"\tscgi_temp_path tmp/scgi;\n\tinclude conf.d/*.conf;\n}\n");
	th_write(scratch, "tmp/.keep", "");
	for (size_t i = 0; i < BG_ARRAY_SIZE(names); i++) {
		char *src = bg_xasprintf("%s/test/fixtures/edge/nginx/%s.conf", th_srcdir(),
				names[i]);
		char *golden = th_read(src);
		char *text = golden_for_nginx_t(scratch, golden);
		free(golden);
		char *rel = bg_xasprintf("conf.d/bluegreen-%s.conf", names[i]);
		th_write(scratch, rel, text);
		struct bg_strv argv;
		bg_strv_init(&argv);
		for (size_t k = 0; real_test[k]; k++) {
			bg_strv_push(&argv, real_test[k]);
		}
		int st = -1;
		char *out = NULL;
		assert_int_equal(bg_spawn_capture(argv.v, scratch, 30000, &st, &out), 0);
		if (st != 0) {
			th_print_error("nginx -t rejects %s:\n%s\n", src, out);
		}
		assert_int_equal(st, 0);
		/* One file at a time: several goldens share server names. */
		char *abs = bg_xasprintf("%s/%s", scratch, rel);
		unlink(abs);
		free(abs);
		free(out);
		bg_strv_release(&argv);
		free(rel);
		free(text);
		free(src);
	}
	th_rm_rf(scratch);
	free(scratch);
}

static void test_switch(void **state)
{
	struct bg_diag d;
	char *content = NULL;

	bg_diag_init(&d);
	use_real_argvs();
	assert_int_equal(install("blue", "green", &E.blue_ups, &E.green_ups, &d, &content), 0);
	assert_int_equal(d.n_errors, 0);
	assert_true(wait_serves("shop.example.com", 200, "blue", 5000));
	assert_true(wait_serves("preview.shop.example.com", 200, "green", 5000));

	/* What observe will read back is what was installed. */
	char *path = conf_path("shop");
	char *text = th_read(path);
	assert_string_equal(text, content);
	struct obs_edge e;
	memset(&e, 0, sizeof(e));
	assert_int_equal(edge_nginx_impl.parse(&E.cfg, "shop", text, strlen(text), &e), 0);
	assert_string_equal(e.live, "blue");
	assert_string_equal(e.preview, "green");
	assert_int_equal(e.upstreams.n, 1);
	assert_string_equal(e.upstreams.v[0], E.blue_ups.v[0]);
	edge__obs_reset(&e);
	free(text);
	free(content);

	assert_int_equal(install_live("green", &d), 0);
	assert_true(wait_serves("shop.example.com", 200, "green", 5000));
	assert_true(wait_serves("preview.shop.example.com", 200, "blue", 5000));
	assert_int_equal(install_live("blue", &d), 0);
	assert_true(wait_serves("shop.example.com", 200, "blue", 5000));
	assert_int_equal(d.n_errors, 0);

	/* No temporary file is left in conf.d. */
	char *tmp = bg_xasprintf("%s/conf.d/.bluegreen-shop.conf.%ld.tmp", E.dir,
			(long)getpid());
	assert_int_equal(access(tmp, F_OK), -1);
	free(tmp);
	free(path);
	bg_diag_release(&d);
}

struct load {
	atomic_bool stop;
	atomic_ulong total, failed, blue, green;
	char last_failure[300];
};

static void *load_main(void *arg)
{
	struct load *l = arg;
	while (!atomic_load(&l->stop)) {
		struct resp r;
		http_get(E.port, "shop.example.com", &r);
		atomic_fetch_add(&l->total, 1);
		if (r.status == 200 && strcmp(r.body, "blue") == 0) {
			atomic_fetch_add(&l->blue, 1);
		} else if (r.status == 200 && strcmp(r.body, "green") == 0) {
			atomic_fetch_add(&l->green, 1);
		} else {
			atomic_fetch_add(&l->failed, 1);
			snprintf(l->last_failure, sizeof(l->last_failure), "%d '%s'", r.status,
					r.body);
		}
	}
	return NULL;
}

/*
 * Switch back and forth under concurrent requests: none may fail. Each
 * request uses its own connection (HTTP/1.0): nginx closes idle client
 * keep-alive connections of old workers on reload, and a client that
 * sends on one at that instant must retry (browsers do, load tools do not).
 * That race is nginx's, the same for any reload, not the switch's.
 */
static void test_switch_under_load(void **state)
{
	struct load l;
	struct bg_diag d;
	pthread_t th[4];
	int flips = 12;

	memset(&l, 0, sizeof(l));
	atomic_init(&l.stop, false);
	bg_diag_init(&d);
	use_real_argvs();
	assert_int_equal(install_live("blue", &d), 0);
	assert_true(wait_serves("shop.example.com", 200, "blue", 5000));
	for (size_t i = 0; i < BG_ARRAY_SIZE(th); i++) {
		assert_int_equal(pthread_create(&th[i], NULL, load_main, &l), 0);
	}
	int64_t t0 = bg_mono_ms();
	for (int i = 0; i < flips; i++) {
		const char *c = i % 2 ? "blue" : "green";
		assert_int_equal(install_live(c, &d), 0);
		assert_true(wait_serves("shop.example.com", 200, c, 5000));
		usleep(50 * 1000);
	}
	int64_t took = bg_mono_ms() - t0;
	atomic_store(&l.stop, true);
	for (size_t i = 0; i < BG_ARRAY_SIZE(th); i++) {
		pthread_join(th[i], NULL);
	}
	print_message("# %d switches in %" PRId64 " ms under load: %lu requests "
			"(%lu blue, %lu green), %lu failed%s%s\n", flips, took,
			atomic_load(&l.total), atomic_load(&l.blue), atomic_load(&l.green),
			atomic_load(&l.failed),
			l.last_failure[0] ? ", last: " : "",
			l.last_failure);
	assert_int_equal(atomic_load(&l.failed), 0);
	assert_true(atomic_load(&l.blue) > 0 && atomic_load(&l.green) > 0);
	assert_true(atomic_load(&l.total) >= 100);
	assert_int_equal(d.n_errors, 0);
	bg_diag_release(&d);
}

static void test_failing_test_restores(void **state)
{
	/* The reload path: this switch would otherwise be a flag change. */
	setenv("BLUEGREEN_EDGE_FORCE_RELOAD", "1", 1);
	struct bg_diag d;
	char *path = conf_path("shop");

	bg_diag_init(&d);
	use_real_argvs();
	assert_int_equal(install_live("blue", &d), 0);
	assert_true(wait_serves("shop.example.com", 200, "blue", 5000));
	char *before = th_read(path);

	/* A `test` argv that fails: the previous file comes back. */
	static const char *const fails[] = {"false", NULL};
	set_argv(&E.cfg.g.nginx.test, fails);
	assert_int_equal(install_live("green", &d), BG_EEDGE);
	assert_true(d.n_errors >= 1);
	th_assert_contains(d.items[0].msg, "nginx test 'false' failed (exit 1)");
	char *now = th_read(path);
	assert_string_equal(now, before);
	free(now);
	keeps_serving("shop.example.com", "blue");
	bg_diag_release(&d);

	/* The real `nginx -t` refusing a broken file: its own words reach d. */
	bg_diag_init(&d);
	use_real_argvs();
	const char *broken = "server { bogus_directive on; }\n";
	assert_int_equal(edge_nginx_impl.install(&E.cfg, "shop", broken, strlen(broken), &d),
			BG_EEDGE);
	th_assert_contains(d.items[0].msg, "nginx test");
	th_assert_contains(d.items[0].msg, "unknown directive \"bogus_directive\"");
	now = th_read(path);
	assert_string_equal(now, before);
	free(now);
	keeps_serving("shop.example.com", "blue");
	bg_diag_release(&d);
	free(before);
	free(path);
	unsetenv("BLUEGREEN_EDGE_FORCE_RELOAD");
}

static void test_failing_reload_restores(void **state)
{
	/* The reload path: this switch would otherwise be a flag change. */
	setenv("BLUEGREEN_EDGE_FORCE_RELOAD", "1", 1);
	struct bg_diag d;
	char *path = conf_path("shop");

	bg_diag_init(&d);
	use_real_argvs();
	assert_int_equal(install_live("blue", &d), 0);
	assert_true(wait_serves("shop.example.com", 200, "blue", 5000));
	char *before = th_read(path);

	/* No `test` step: `nginx -s reload` parses the file itself and
	 * refuses; the previous file is put back and reloaded. */
	bg_strv_release(&E.cfg.g.nginx.test);
	const char *broken = "server { bogus_directive on; }\n";
	assert_int_equal(edge_nginx_impl.install(&E.cfg, "shop", broken, strlen(broken), &d),
			BG_EEDGE);
	assert_int_equal(d.n_errors, 1); /* the reload after restoring worked */
	th_assert_contains(d.items[0].msg, "nginx reload");
	th_assert_contains(d.items[0].msg, "unknown directive \"bogus_directive\"");
	char *now = th_read(path);
	assert_string_equal(now, before);
	free(now);
	keeps_serving("shop.example.com", "blue");
	bg_diag_release(&d);

	/* A reload argv that always fails: restored, and the failed second
	 * reload is reported too. */
	bg_diag_init(&d);
	static const char *const fails[] = {"false", NULL};
	use_real_argvs();
	set_argv(&E.cfg.g.nginx.reload, fails);
	assert_int_equal(install_live("green", &d), BG_EEDGE);
	assert_int_equal(d.n_errors, 2);
	th_assert_contains(d.items[1].msg, "after restoring the previous file");
	now = th_read(path);
	assert_string_equal(now, before);
	free(now);
	keeps_serving("shop.example.com", "blue");
	bg_diag_release(&d);

	/* A reload that hangs is bounded. */
	bg_diag_init(&d);
	static const char *const hangs[] = {"sleep", "30", NULL};
	set_argv(&E.cfg.g.nginx.reload, hangs);
	bg_strv_release(&E.cfg.g.nginx.test);
	uint64_t saved = edge_cmd_timeout_ms;
	edge_cmd_timeout_ms = 300;
	int64_t t0 = bg_mono_ms();
	assert_int_equal(install_live("green", &d), BG_EEDGE);
	assert_true(bg_mono_ms() - t0 < 5000);
	edge_cmd_timeout_ms = saved;
	th_assert_contains(d.items[0].msg, "timed out after 300 ms");
	now = th_read(path);
	assert_string_equal(now, before);
	free(now);
	keeps_serving("shop.example.com", "blue");
	bg_diag_release(&d);

	use_real_argvs();
	free(before);
	free(path);
	unsetenv("BLUEGREEN_EDGE_FORCE_RELOAD");
}

static void test_cwd_is_config_dir(void **state)
{
	/* The reload path: this switch would otherwise be a flag change. */
	setenv("BLUEGREEN_EDGE_FORCE_RELOAD", "1", 1);
	struct bg_diag d;
	char *cwd = getcwd(NULL, 0);

	bg_diag_init(&d);
	/* Our own cwd is elsewhere; the argvs must still find cfg->dir's
	 * files by relative path. */
	assert_int_equal(chdir("/"), 0);
	th_write(E.dir, "cwd-marker", "x");
	static const char *const marker[] = {"test", "-f", "cwd-marker", NULL};
	set_argv(&E.cfg.g.nginx.test, marker);
	assert_int_equal(install_live("green", &d), 0);
	assert_true(wait_serves("shop.example.com", 200, "green", 5000));
	assert_int_equal(d.n_errors, 0);
	char *m = bg_xasprintf("%s/cwd-marker", E.dir);
	unlink(m);
	free(m);
	assert_int_equal(install_live("blue", &d), BG_EEDGE);
	keeps_serving("shop.example.com", "green");
	bg_diag_release(&d);
	/* And the real nginx argvs (-p . -c nginx.conf) are relative too. */
	bg_diag_init(&d);
	use_real_argvs();
	assert_int_equal(install_live("blue", &d), 0);
	assert_true(wait_serves("shop.example.com", 200, "blue", 5000));
	bg_diag_release(&d);
	assert_int_equal(chdir(cwd), 0);
	free(cwd);
	unsetenv("BLUEGREEN_EDGE_FORCE_RELOAD");
}

static void test_first_install_failure_removes(void **state)
{
	struct bg_diag d;
	char *path = conf_path("other");
	struct cfg_site other = E.site;
	struct bg_strv doms;
	struct bg_buf b = BG_BUF_INIT;

	bg_diag_init(&d);
	bg_strv_init(&doms);
	bg_strv_push(&doms, "other.example.com");
	other.name = "other";
	other.domains = doms;
	other.preview = NULL;
	struct edge_view v = {.site = &other, .live = "blue", .live_version = 1,
			.live_upstreams = &E.blue_ups};
	assert_int_equal(edge_nginx_impl.render(&E.cfg, &v, &b), 0);
	static const char *const fails[] = {"false", NULL};
	use_real_argvs();
	set_argv(&E.cfg.g.nginx.test, fails);
	assert_int_equal(edge_nginx_impl.install(&E.cfg, "other", b.data, b.len, &d), BG_EEDGE);
	assert_int_equal(access(path, F_OK), -1); /* removed: there was none */
	keeps_serving("shop.example.com", "blue");
	use_real_argvs();
	/* Refusals that never touch the disk. */
	assert_int_equal(edge_nginx_impl.install(&E.cfg, "../x", b.data, b.len, &d),
			BG_ECONFIG);
	bg_buf_release(&b);
	bg_strv_release(&doms);
	bg_diag_release(&d);
	free(path);
}

static void test_empty_upstream_502(void **state)
{
	struct bg_diag d;

	bg_diag_init(&d);
	use_real_argvs();
	assert_int_equal(install("blue", NULL, &E.none, NULL, &d, NULL), 0);
	assert_int_equal(d.n_errors, 0);
	assert_true(wait_serves("shop.example.com", 502, NULL, 5000));
	/* The preview domain follows live when there is no candidate. */
	assert_true(wait_serves("preview.shop.example.com", 502, NULL, 5000));
	assert_int_equal(install_live("blue", &d), 0);
	assert_true(wait_serves("shop.example.com", 200, "blue", 5000));
	assert_true(wait_serves("preview.shop.example.com", 200, "green", 5000));
	bg_diag_release(&d);
}

/* curl's status for the preview host, with user:password or none. */
static int preview_status(const char *userpw)
{
	char url[64];
	struct th_run r;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", E.port);
	char *const with[] = {"curl", "-s", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}",
			"-H", "Host: preview.shop.example.com", "-u", (char *)userpw, url, NULL};
	char *const without[] = {"curl", "-s", "--noproxy", "*", "-o", "/dev/null", "-w", "%{http_code}",
			"-H", "Host: preview.shop.example.com", url, NULL};
	assert_int_equal(th_run_argv(userpw ? with : without, NULL, &r), 0);
	int code = atoi(r.out);
	th_run_release(&r);
	return code;
}

/*
 * Install with preview_auth: the password file is written before the site
 * file that names it (0640, the workers' group), the site file is 0640 as
 * it holds the credentials' tag, nginx asks for them, and the password file
 * goes once the site no longer has preview_auth.
 */
static void test_install_preview_auth(void **state)
{
	struct bg_diag d;
	struct stat st;
	struct group *gr = getgrnam("nogroup");
	if (!gr) {
		skip(); /* Debian's nobody/nogroup: what these workers run as */
	}
	bg_diag_init(&d);
	use_real_argvs();
	/* install returns once nginx serves the new file: the checks below at once */
	E.cfg.g.nginx.probe = true;
	E.cfg.g.nginx.group = bg_xstrdup("nogroup");
	E.cfg.g.nginx.auth_dir = bg_xasprintf("%s/auth", E.dir);
	E.site.preview_auth.user = bg_xstrdup("bob");
	E.site.preview_auth.password = bg_xstrdup("s3cret horse");
	bg_strv_release(&E.site.preview_allow);
	bg_strv_push(&E.site.preview_allow, "10.0.0.0/8");
	assert_int_equal(install_live("blue", &d), 0);
	char *htp = bg_xasprintf("%s/auth/shop.htpasswd", E.dir);
	assert_int_equal(stat(htp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_gid, gr->gr_gid);
	char *conf = conf_path("shop");
	assert_int_equal(stat(conf, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	char *text = th_read(conf);
	th_assert_not_contains(text, "s3cret");
	free(text);
	assert_int_equal(preview_status(NULL), 401);
	assert_int_equal(preview_status("bob:wrong"), 401);
	assert_int_equal(preview_status("bob:s3cret horse"), 200);

	/* Without preview_auth: the file goes, the site file is 0644 again. */
	free(E.site.preview_auth.user);
	free(E.site.preview_auth.password);
	E.site.preview_auth.user = E.site.preview_auth.password = NULL;
	bg_strv_release(&E.site.preview_allow);
	bg_strv_push(&E.site.preview_allow, "127.0.0.1/32");
	assert_int_equal(install_live("blue", &d), 0);
	assert_int_equal(d.n_errors, 0);
	assert_int_equal(stat(htp, &st), -1);
	assert_int_equal(stat(conf, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(preview_status(NULL), 200);
	free(conf);
	free(htp);
	free(E.cfg.g.nginx.group);
	free(E.cfg.g.nginx.auth_dir);
	E.cfg.g.nginx.group = E.cfg.g.nginx.auth_dir = NULL;
	E.cfg.g.nginx.probe = false;
	bg_diag_release(&d);
}

/*
 * The probe: with it, install returns only once nginx serves the new file,
 * so a request right after sees the new colour; and a conf_dir nginx does
 * not include (a classic misconfiguration) fails the install instead of
 * reporting a switch that never happened.
 */
static void test_probe(void **state)
{
	struct bg_diag d;
	bg_diag_init(&d);
	use_real_argvs();
	E.cfg.g.nginx.probe = true;
	uint64_t saved = edge_confirm_timeout_ms;
	edge_confirm_timeout_ms = 800;
	for (int i = 0; i < 4; i++) {
		const char *want = i % 2 ? "blue" : "green";
		assert_int_equal(install_live(want, &d), 0);
		struct resp r;
		http_get(E.port, "shop.example.com", &r);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, want);
	}
	assert_int_equal(d.n_errors, 0);

	char *real = E.cfg.g.nginx.conf_dir;
	char *lost = bg_xasprintf("%s/not-included", E.dir);
	bg_mkdir_p(lost, 0755);
	E.cfg.g.nginx.conf_dir = lost;
	int64_t t0 = bg_mono_ms();
	assert_int_equal(install_live("green", &d), BG_EEDGE);
	assert_true(bg_mono_ms() - t0 >= 700);
	assert_true(d.n_errors > 0);
	th_assert_contains(d.items[d.n - 1].msg, "does not serve the new file");
	char *f = bg_xasprintf("%s/bluegreen-shop.conf", lost);
	assert_int_equal(access(f, F_OK), -1); /* first install there: removed again */
	free(f);
	E.cfg.g.nginx.conf_dir = real;
	free(lost);
	edge_confirm_timeout_ms = saved;
	E.cfg.g.nginx.probe = false;
	bg_diag_release(&d);
}

/* A process titled like an nginx worker, holding fd (inherited): its pid. */
static pid_t fake_worker(const char *title, int fd)
{
	char *argv[] = {(char *)title, "30", NULL};
	pid_t pid;
	int fl = fcntl(fd, F_GETFD);
	fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
	/* Not on our stdout: a test that fails must not wait for it to exit. */
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	int rc = posix_spawn(&pid, "/bin/sleep", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	fcntl(fd, F_SETFD, fl);
	assert_int_equal(rc, 0);
	/* Until it has exec'd, its cmdline is still ours. */
	char *path = bg_xasprintf("/proc/%ld/cmdline", (long)pid);
	for (int i = 0; i < 200; i++) {
		char *cmd = NULL;
		bool done = bg_file_read(path, 4096, &cmd, NULL) == 0 && strcmp(cmd, title) == 0;
		free(cmd);
		if (done) {
			break;
		}
		usleep(5 * 1000);
	}
	free(path);
	return pid;
}

static int listening_socket(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void *kill_later_main(void *arg)
{
	pid_t *pid = arg;
	usleep(400 * 1000);
	kill(*pid, SIGKILL);
	waitpid(*pid, NULL, 0);
	return NULL;
}

/*
 * After a reload, old and new nginx workers share the listening socket
 * until the master's QUIT reaches the old ones, so a probe answered by the
 * new file does not prove the next request will be (the demo showed it on
 * a busy host). The probe therefore also waits for the workers that
 * accepted before the reload to stop accepting. Which processes count is
 * decided from /proc; the wait is checked here with processes titled like
 * workers, holding a real listening socket, so it is deterministic.
 */
static void test_old_workers_detected_and_waited_for(void **state)
{
	int port, other_port;
	int fd = listening_socket(&port);
	int other = listening_socket(&other_port);
	pid_t w = fake_worker("nginx: worker process", fd);
	pid_t quitting = fake_worker("nginx: worker process is shutting down", fd);
	pid_t elsewhere = fake_worker("nginx: worker process", other);
	char *listen = bg_xasprintf("127.0.0.1:%d", port);
	char *wpid = bg_xasprintf("%ld", (long)w);
	struct bg_strv pids;
	bg_strv_init(&pids);
	edge__nginx_accepting_workers(listen, &pids);
	/* The worker on this port, not the one shutting down, not the other port's. */
	assert_int_equal(pids.n, 1);
	assert_string_equal(pids.v[0], wpid);
	/* Another address on the same port is another nginx: not ours to wait for. */
	char *listen2 = bg_xasprintf("127.0.0.2:%d", port);
	struct bg_strv none;
	bg_strv_init(&none);
	edge__nginx_accepting_workers(listen2, &none);
	assert_int_equal(none.n, 0);

	/* Still accepting at the deadline: the wait ends there. */
	int64_t t0 = bg_mono_ms();
	edge__nginx_wait_workers(&pids, t0 + 200);
	int64_t took = bg_mono_ms() - t0;
	assert_true(took >= 200 && took < th_time_limit(1500));
	/* Gone 400 ms later: the wait ends then, well before its deadline. */
	pthread_t th;
	t0 = bg_mono_ms();
	assert_int_equal(pthread_create(&th, NULL, kill_later_main, &w), 0);
	edge__nginx_wait_workers(&pids, t0 + 5000);
	took = bg_mono_ms() - t0;
	pthread_join(th, NULL);
	print_message("# waited %" PRId64 " ms for a worker that stopped after 400 ms\n", took);
	assert_true(took >= 400 && took < th_time_limit(3000));

	kill(quitting, SIGKILL);
	kill(elsewhere, SIGKILL);
	waitpid(quitting, NULL, 0);
	waitpid(elsewhere, NULL, 0);
	close(fd);
	close(other);
	bg_strv_release(&pids);
	bg_strv_release(&none);
	free(wpid);
	free(listen2);
	free(listen);
}

/*
 * With the real nginx: its two workers are found (children of our
 * master), and when a probed install returns, none of the workers that
 * accepted before the reload still does.
 */
static void test_switch_returns_after_old_workers(void **state)
{
	/* The reload path: this switch would otherwise be a flag change. */
	setenv("BLUEGREEN_EDGE_FORCE_RELOAD", "1", 1);
	struct bg_diag d;
	struct bg_strv old, now;
	bg_diag_init(&d);
	bg_strv_init(&old);
	bg_strv_init(&now);
	use_real_argvs();
	E.cfg.g.nginx.probe = true;
	assert_int_equal(install_live("blue", &d), 0);
	edge__nginx_accepting_workers(E.cfg.g.nginx.listen, &old);
	assert_int_equal(old.n, 2); /* worker_processes 2 */
	for (size_t i = 0; i < old.n; i++) {
		char *stat = NULL;
		char *path = bg_xasprintf("/proc/%s/stat", old.v[i]);
		assert_int_equal(bg_file_read(path, 4096, &stat, NULL), 0);
		long ppid = 0;
		assert_int_equal(sscanf(strrchr(stat, ')') + 2, "%*c %ld", &ppid), 1);
		assert_int_equal(ppid, (long)E.nginx);
		free(stat);
		free(path);
	}
	assert_int_equal(install_live("green", &d), 0);
	edge__nginx_accepting_workers(E.cfg.g.nginx.listen, &now);
	for (size_t i = 0; i < old.n; i++) {
		if (bg_strv_contains(&now, old.v[i])) {
			fail_msg("old worker %s still accepts after the switch returned", old.v[i]);
		}
	}
	assert_int_equal(now.n, 2);
	struct resp r;
	http_get(E.port, "shop.example.com", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "green");
	E.cfg.g.nginx.probe = false;
	bg_strv_release(&old);
	bg_strv_release(&now);
	bg_diag_release(&d);
	unsetenv("BLUEGREEN_EDGE_FORCE_RELOAD");
}

/* The PIDs of nginx's workers (children of the master) in *out, sorted. */
static void nginx_workers(struct bg_strv *out)
{
	char *path = bg_xasprintf("/proc/%ld/task/%ld/children", (long)E.nginx, (long)E.nginx);
	char *text = NULL;
	assert_int_equal(bg_file_read(path, 4096, &text, NULL), 0);
	for (char *p = text; *p;) {
		size_t n = strcspn(p, " \n");
		if (n) {
			bg_strv_push_take(out, bg_xstrndup(p, n));
		}
		p += n + (p[n] ? 1 : 0);
	}
	bg_strv_sort(out);
	free(text);
	free(path);
}

/* Right after a switch returned: n fresh connections, every one answered by want. */
static void all_served(const char *want, int n)
{
	for (int i = 0; i < n; i++) {
		struct resp r;
		http_get(E.port, "shop.example.com", &r);
		if (r.status != 200 || strcmp(r.body, want) != 0) {
			fail_msg("request %d after the switch: %d '%s', expected '%s'", i + 1,
					r.status, r.body, want);
		}
	}
}

/*
 * Issue 11: a switch between two colours the file already lists is the
 * flag alone. nginx is not reloaded (the master keeps the same workers, the
 * file the same bytes), and when the switch returns, 20 fresh connections
 * in a row all get the new colour; the preview flag follows.
 */
static void test_switch_by_flag_no_reload(void **state)
{
	struct bg_diag d;
	struct bg_strv before, after;
	char *path = conf_path("shop");
	bg_diag_init(&d);
	bg_strv_init(&before);
	bg_strv_init(&after);
	use_real_argvs();
	E.cfg.g.nginx.probe = true;
	assert_int_equal(install_live("blue", &d), 0);
	assert_true(wait_serves("shop.example.com", 200, "blue", 5000));
	/* The workers that serve this file (a reload's old ones gone). */
	for (int i = 0; i < 200; i++) {
		bg_strv_release(&before);
		bg_strv_init(&before);
		nginx_workers(&before);
		if (before.n == 2) {
			break;
		}
		usleep(10 * 1000);
	}
	assert_int_equal(before.n, 2);
	char *file = th_read(path);
	const char *const order[] = {"green", "blue", "green", "blue"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(order); i++) {
		const char *other = strcmp(order[i], "blue") == 0 ? "green" : "blue";
		assert_int_equal(install_live(order[i], &d), 0);
		all_served(order[i], 20);
		assert_true(wait_serves("preview.shop.example.com", 200, other, 2000));
		bg_strv_release(&after);
		bg_strv_init(&after);
		nginx_workers(&after);
		if (!bg_strv_equal(&before, &after)) {
			fail_msg("switch %zu to %s: nginx's workers changed (a reload)", i + 1,
					order[i]);
		}
		char *now = th_read(path);
		assert_string_equal(now, file);
		free(now);
		/* Observe reads the flag: the live colour is the one switched to. */
		struct obs_edge e;
		memset(&e, 0, sizeof(e));
		assert_int_equal(edge_nginx_impl.parse(&E.cfg, "shop", file, strlen(file), &e), 0);
		assert_string_equal(e.live, order[i]);
		assert_string_equal(e.preview, other);
		edge__obs_reset(&e);
	}
	assert_int_equal(d.n_errors, 0);
	free(file);
	free(path);
	E.cfg.g.nginx.probe = false;
	bg_strv_release(&before);
	bg_strv_release(&after);
	bg_diag_release(&d);
}

/*
 * A file written by the previous version (upstreams live/preview, colours
 * in its header, no flags) keeps serving until the next switch, which
 * rewrites it into the form with flags (one reload) and serves the new
 * colour; the switch after that is a flag change.
 */
static void test_previous_form_rewritten(void **state)
{
	struct bg_diag d;
	char *path = conf_path("shop");
	char *fx = bg_xasprintf("%s/test/fixtures/edge/nginx/previous-form-preview-candidate.conf",
			th_srcdir());
	char *text = th_read(fx);
	char listen[64];
	snprintf(listen, sizeof(listen), "listen %s;", E.cfg.g.nginx.listen);
	char *a = replace_all(text, "172.20.0.2:8080", E.blue_ups.v[0]);
	char *b = replace_all(a, "172.20.0.5:8080", E.green_ups.v[0]);
	char *c = replace_all(b, "listen 80;", listen);
	struct bg_buf signed_text = BG_BUF_INIT;
	bg_buf_add(&signed_text, c, (size_t)(strstr(c, "# bluegreen-sha256: ") - c));
	edge__trailer_render(&signed_text);
	bg_diag_init(&d);
	use_real_argvs();
	E.cfg.g.nginx.probe = true;
	edge__nginx_flags_remove(&E.cfg, "shop");
	assert_int_equal(edge_nginx_impl.install(&E.cfg, "shop", signed_text.data, signed_text.len,
			&d), 0);
	assert_true(wait_serves("shop.example.com", 200, "blue", 5000));
	struct obs_edge e;
	memset(&e, 0, sizeof(e));
	char *on_disk = th_read(path);
	assert_int_equal(edge_nginx_impl.parse(&E.cfg, "shop", on_disk, strlen(on_disk), &e), 0);
	assert_string_equal(e.live, "blue");
	edge__obs_reset(&e);
	free(on_disk);

	assert_int_equal(install_live("green", &d), 0);
	all_served("green", 20);
	on_disk = th_read(path);
	th_assert_contains(on_disk, "# bluegreen-flags: live+preview ");
	assert_int_equal(edge_nginx_impl.parse(&E.cfg, "shop", on_disk, strlen(on_disk), &e), 0);
	assert_string_equal(e.live, "green");
	assert_string_equal(e.preview, "blue");
	edge__obs_reset(&e);
	free(on_disk);
	assert_int_equal(install_live("blue", &d), 0);
	all_served("blue", 20);
	assert_int_equal(d.n_errors, 0);
	E.cfg.g.nginx.probe = false;
	bg_buf_release(&signed_text);
	free(a);
	free(b);
	free(c);
	free(text);
	free(fx);
	free(path);
	bg_diag_release(&d);
}

/*
 * A flag directory nginx's workers cannot search (root only; the workers
 * run as nobody), as under a 0700 mkdtemp (./run.sh demo): a switch by
 * flag would never be served. The renderer sees that (edge-nginx-reach.c):
 * the file gets its colours fixed, the switch reloads nginx and succeeds,
 * observe reads the colours from the file, and the plan's note names the
 * directory. Searchable again: the next switch rewrites the file with
 * flags (one reload) and the one after is a flag change (same workers).
 */
static void test_flag_unreachable_reloads(void **state)
{
	struct bg_diag d;
	struct bg_strv before, after;
	char *dir = bg_xasprintf("%s/conf.d/.bluegreen-live", E.dir);
	char *path = conf_path("shop");
	bg_diag_init(&d);
	bg_strv_init(&before);
	bg_strv_init(&after);
	use_real_argvs();
	E.cfg.g.nginx.probe = true;
	assert_int_equal(install_live("blue", &d), 0);
	assert_null(edge__nginx_route_note(&E.cfg));
	assert_int_equal(chmod(dir, 0700), 0);
	char *note = edge__nginx_route_note(&E.cfg);
	assert_non_null(note);
	th_assert_contains(note, dir);
	free(note);
	nginx_workers(&before);
	if (install_live("green", &d) != 0) {
		fail_msg("switch with unreachable flags: %s", d.n ? d.items[0].msg : "?");
	}
	all_served("green", 20);
	nginx_workers(&after);
	assert_false(bg_strv_equal(&before, &after)); /* a reload */
	char *on_disk = th_read(path);
	th_assert_contains(on_disk, "# bluegreen-live: green\n");
	assert_null(strstr(on_disk, "bluegreen-flags"));
	struct obs_edge e;
	memset(&e, 0, sizeof(e));
	assert_int_equal(edge_nginx_impl.parse(&E.cfg, "shop", on_disk, strlen(on_disk), &e), 0);
	assert_string_equal(e.live, "green");
	assert_string_equal(e.preview, "blue");
	assert_int_equal(e.upstreams.n, 1);
	assert_string_equal(e.upstreams.v[0], E.green_ups.v[0]);
	edge__obs_reset(&e);
	free(on_disk);
	assert_int_equal(install_live("blue", &d), 0);
	all_served("blue", 20);

	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(install_live("green", &d), 0);
	all_served("green", 20);
	on_disk = th_read(path);
	th_assert_contains(on_disk, "# bluegreen-flags: live+preview ");
	free(on_disk);
	for (int i = 0; i < 200; i++) { /* the reload's old workers gone */
		bg_strv_release(&before);
		bg_strv_init(&before);
		nginx_workers(&before);
		if (before.n == 2) {
			break;
		}
		usleep(10 * 1000);
	}
	assert_int_equal(install_live("blue", &d), 0);
	all_served("blue", 20);
	bg_strv_release(&after);
	bg_strv_init(&after);
	nginx_workers(&after);
	assert_true(bg_strv_equal(&before, &after)); /* by flag: no reload */
	assert_int_equal(d.n_errors, 0);
	E.cfg.g.nginx.probe = false;
	bg_strv_release(&before);
	bg_strv_release(&after);
	free(path);
	free(dir);
	bg_diag_release(&d);
}

/* ---- real backends for a real site: WebSockets, keepalive, uploads ---- */

#define PYTHON "/usr/bin/python3"

/* /usr/bin/python3 with python3-websockets (Debian), as run.sh installs it. */
static bool have_websockets(void)
{
	char *argv[] = {PYTHON, "-c", "import websockets", NULL};
	int st = -1;
	return bg_spawn_capture(argv, NULL, 30000, &st, NULL) == 0 && st == 0;
}

static bool port_open(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0) {
		close(fd);
	}
	return ok;
}

/* test/unit/edge-backend.py MODE on a free port, up and listening. */
static pid_t backend_start(const char *mode, int *port)
{
	char *script = th_src_path("test/unit/edge-backend.py");
	char *log = bg_xasprintf("%s/backends.log", E.dir);
	char ps[16];
	*port = th_free_port();
	snprintf(ps, sizeof(ps), "%d", *port);
	char *argv[] = {PYTHON, script, (char *)mode, ps, NULL};
	pid_t pid = spawn_bg(argv, log);
	assert_true(pid > 0);
	for (size_t i = 0; i < BG_ARRAY_SIZE(E.py); i++) {
		if (E.py[i] <= 0) {
			E.py[i] = pid;
			break;
		}
	}
	for (int i = 0; i < 500 && !port_open(*port); i++) {
		usleep(10 * 1000);
	}
	assert_true(port_open(*port));
	free(log);
	free(script);
	return pid;
}

static void backend_stop(pid_t pid)
{
	for (size_t i = 0; i < BG_ARRAY_SIZE(E.py); i++) {
		if (E.py[i] == pid) {
			stop_pid(&E.py[i], SIGTERM);
		}
	}
}

/* A site of its own (name, one domain) whose live colour is backend addr. */
struct xsite {
	struct cfg_site s;
	struct bg_strv ups;
};

static void xsite_init(struct xsite *x, const char *name, const char *domain, int port)
{
	memset(x, 0, sizeof(*x));
	x->s.name = bg_xstrdup(name);
	bg_strv_push(&x->s.domains, domain);
	x->s.port = 8080;
	x->s.replicas = 1;
	x->s.tls.redirect = true;
	bg_strv_push_take(&x->ups, bg_xasprintf("127.0.0.1:%d", port));
}

static void xsite_release(struct xsite *x)
{
	char *path = conf_path(x->s.name);
	unlink(path);
	free(path);
	free(x->s.name);
	bg_strv_release(&x->s.domains);
	free(x->s.preview);
	free(x->s.redirect_to);
	free(x->s.edge.max_body);
	free(x->s.tls.cert);
	free(x->s.tls.key);
	bg_strv_release(&x->ups);
}

static void xsite_install(struct xsite *x, bool tls_ready)
{
	struct edge_view v = {.site = &x->s, .live = "blue", .live_version = 1,
			.live_upstreams = &x->ups, .tls_ready = tls_ready};
	struct bg_buf b = BG_BUF_INIT;
	struct bg_diag d;
	bg_diag_init(&d);
	use_real_argvs();
	assert_int_equal(edge_nginx_impl.render(&E.cfg, &v, &b), 0);
	/* With the probe (it finds the site in cfg): install returns once
	 * nginx serves the new file and no old worker accepts any more. */
	struct cfg_site *sites = E.cfg.sites;
	E.cfg.sites = &x->s;
	E.cfg.g.nginx.probe = true;
	int err = edge_nginx_impl.install(&E.cfg, x->s.name, b.data, b.len, &d);
	E.cfg.g.nginx.probe = false;
	E.cfg.sites = sites;
	if (err) {
		th_print_error("install of %s: %s\n", x->s.name, d.n ? d.items[0].msg : "?");
	}
	assert_int_equal(err, 0);
	bg_buf_release(&b);
	bg_diag_release(&d);
}

static int connect_local(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t k = write(fd, c, n);
		if (k < 0 && errno == EINTR) {
			continue;
		}
		assert_true(k > 0);
		c += k;
		n -= (size_t)k;
	}
}

static void read_exact(int fd, void *p, size_t n)
{
	char *c = p;
	while (n) {
		ssize_t k = read(fd, c, n);
		if (k < 0 && errno == EINTR) {
			continue;
		}
		if (k <= 0) {
			fail_msg("connection ended with %zu bytes still expected", n);
		}
		c += k;
		n -= (size_t)k;
	}
}

/*
 * A WebSocket handshake through nginx, spoken by hand (RFC 6455): the
 * answer must be nginx passing on the backend's 101 with the accept key
 * of the RFC's own example, and a masked text frame must come back
 * unmasked from the echo server behind it.
 */
static void ws_roundtrip(int port, const char *host, const char *msg)
{
	int fd = connect_local(port);
	char req[512], head[2048];
	size_t n = 0;
	int rl = snprintf(req, sizeof(req), "GET /chat HTTP/1.1\r\nHost: %s\r\n"
			"Upgrade: websocket\r\nConnection: Upgrade\r\n"
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			"Sec-WebSocket-Version: 13\r\n\r\n", host);
	write_all(fd, req, (size_t)rl);
	/* The head, byte by byte: the frame follows it on the same stream. */
	while (n < sizeof(head) - 1 && (n < 4 || memcmp(head + n - 4, "\r\n\r\n", 4) != 0)) {
		read_exact(fd, head + n, 1);
		n++;
	}
	head[n] = '\0';
	if (strncmp(head, "HTTP/1.1 101 ", 13) != 0) {
		fail_msg("no WebSocket upgrade through nginx:\n%s", head);
	}
	th_assert_contains(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");

	size_t ml = strlen(msg);
	unsigned char frame[140], mask[4] = {0x12, 0x34, 0x56, 0x78};
	assert_true(ml < 126);
	frame[0] = 0x81; /* FIN, text */
	frame[1] = (unsigned char)(0x80 | ml);
	memcpy(frame + 2, mask, 4);
	for (size_t i = 0; i < ml; i++) {
		frame[6 + i] = (unsigned char)msg[i] ^ mask[i % 4];
	}
	write_all(fd, frame, 6 + ml);
	unsigned char hdr[2], got[126];
	read_exact(fd, hdr, 2);
	assert_int_equal(hdr[0], 0x81);
	assert_int_equal(hdr[1], ml); /* from the server: not masked */
	read_exact(fd, got, ml);
	assert_memory_equal(got, msg, ml);
	close(fd);
}

static void test_websocket(void **state)
{
	if (!have_websockets()) {
		print_message("# SKIP " PYTHON " without python3-websockets\n");
		skip();
	}
	int port;
	pid_t ws = backend_start("ws", &port);
	struct xsite x;
	xsite_init(&x, "chat", "chat.example.com", port);
	xsite_install(&x, false);
	/* A plain GET: the WebSocket server asks for an upgrade. */
	assert_true(wait_prefix("chat.example.com", 426, "", 5000));
	ws_roundtrip(E.port, "chat.example.com", "hello through nginx");
	ws_roundtrip(E.port, "chat.example.com", "and again");
	xsite_release(&x);
	backend_stop(ws);
}

/*
 * Plain requests still reuse upstream connections: the backend counts the
 * requests it served on one TCP connection and echoes the Connection
 * header it got, which must be absent (a "close" would end each one).
 */
static void test_keepalive_kept(void **state)
{
	int port;
	pid_t be = backend_start("http", &port);
	struct xsite x;
	xsite_init(&x, "ka", "ka.example.com", port);
	xsite_install(&x, false);
	assert_true(wait_prefix("ka.example.com", 200, "requests=", 5000));
	int most = 0;
	for (int i = 0; i < 20; i++) {
		struct resp r;
		http_get(E.port, "ka.example.com", &r);
		assert_int_equal(r.status, 200);
		int served = 0;
		char conn[64] = "";
		assert_int_equal(sscanf(r.body, "requests=%d connection=%63s", &served, conn), 2);
		assert_string_equal(conn, "-");
		most = served > most ? served : most;
	}
	print_message("# at most %d requests on one upstream connection\n", most);
	assert_true(most >= 2);
	xsite_release(&x);
	backend_stop(be);
}

/* The stopped workers, continued by a thread after a delay. */
struct cont_later {
	struct bg_strv *pids;
	int ms;
};

static void *cont_later_main(void *arg)
{
	struct cont_later *c = arg;
	usleep((useconds_t)c->ms * 1000);
	for (size_t i = 0; i < c->pids->n; i++) {
		kill((pid_t)atol(c->pids->v[i]), SIGCONT);
	}
	return NULL;
}

/*
 * ADR 0030, "A flag after a reload": a switch that also rewrites the file
 * flips the flag only once the previous file's workers have exited. They
 * read the flag too, with the previous file's upstreams, where the new
 * colour is a `down` placeholder (502, "no live upstreams"). Made
 * deterministic: a fresh connection is accepted by a worker of the first
 * file (green has no container there), the workers are stopped, the
 * request is sent, and the switch to green (new addresses: a reload)
 * starts; the old workers are continued after the wait for them to stop
 * accepting has given up (edge_confirm_timeout_ms, 1 s here) and before
 * the wait for their exit does. The request they then handle must get
 * blue, its file's live colour, not a 502; the next connections get green.
 */
static void test_flag_after_reload_waits_for_old_workers(void **state)
{
	struct bg_diag d;
	struct bg_strv old;
	uint64_t timeout = edge_confirm_timeout_ms;
	bg_diag_init(&d);
	bg_strv_init(&old);
	use_real_argvs();
	E.cfg.g.nginx.probe = true;
	edge_confirm_timeout_ms = 1000;
	assert_int_equal(install("blue", NULL, ups("blue"), NULL, &d, NULL), 0);
	assert_true(wait_serves("shop.example.com", 200, "blue", 5000));
	for (int i = 0; i < 200 && old.n != 2; i++) { /* a reload's old ones gone */
		bg_strv_release(&old);
		bg_strv_init(&old);
		nginx_workers(&old);
		usleep(10 * 1000);
	}
	assert_int_equal(old.n, 2);
	int fd = connect_local(E.port);
	usleep(200 * 1000); /* accepted by one of them */
	for (size_t i = 0; i < old.n; i++) {
		assert_int_equal(kill((pid_t)atol(old.v[i]), SIGSTOP), 0);
	}
	const char req[] = "GET / HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n";
	write_all(fd, req, sizeof(req) - 1);
	struct cont_later c = {.pids = &old, .ms = 1500};
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, cont_later_main, &c), 0);
	int err = install_live("green", &d);
	pthread_join(t, NULL);
	char buf[4096];
	size_t n = 0;
	for (ssize_t k; n < sizeof(buf) - 1 && (k = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0;) {
		n += (size_t)k;
	}
	buf[n] = 0;
	close(fd);
	print_message("# the old worker's answer: %.40s\n", buf);
	assert_int_equal(err, 0);
	th_assert_contains(buf, "HTTP/1.1 200");
	th_assert_contains(buf, "\r\n\r\nblue"); /* its body: the colour of its file */
	all_served("green", 10);
	edge_confirm_timeout_ms = timeout;
	E.cfg.g.nginx.probe = false;
	bg_strv_release(&old);
	bg_diag_release(&d);
}

/* ---- libcurl: POSTs and HTTPS ---- */

static size_t curl_body(char *ptr, size_t size, size_t n, void *arg)
{
	bg_buf_add(arg, ptr, size * n);
	return size * n;
}

static size_t curl_header(char *ptr, size_t size, size_t n, void *arg)
{
	bg_buf_add(arg, ptr, size * n);
	return size * n;
}

struct cresp {
	long status; /* 0: transport error */
	char *body, *headers;
};

static void cresp_release(struct cresp *r)
{
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

/*
 * One request with libcurl: url on 127.0.0.1 (host names resolved there),
 * a POST of body_len bytes when body_len > 0, trusting cafile for HTTPS.
 */
static void curl_request(const char *url, const char *resolve, size_t body_len,
		const char *cafile, struct cresp *r)
{
	CURL *h = curl_easy_init();
	struct curl_slist *res = resolve ? curl_slist_append(NULL, resolve) : NULL;
	struct bg_buf body = BG_BUF_INIT, head = BG_BUF_INIT;
	char *data = NULL;

	memset(r, 0, sizeof(*r));
	assert_non_null(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, curl_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &head);
	if (res) {
		curl_easy_setopt(h, CURLOPT_RESOLVE, res);
	}
	if (cafile) {
		curl_easy_setopt(h, CURLOPT_CAINFO, cafile);
	}
	if (body_len) {
		data = bg_xmalloc(body_len);
		memset(data, 'x', body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	}
	CURLcode rc = curl_easy_perform(h);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	} else {
		bg_buf_reset(&body);
		bg_buf_addf(&body, "curl: %s", curl_easy_strerror(rc));
	}
	bg_buf_addch(&body, '\0');
	bg_buf_addch(&head, '\0');
	r->body = bg_buf_detach(&body, NULL);
	r->headers = bg_buf_detach(&head, NULL);
	free(data);
	curl_slist_free_all(res);
	curl_easy_cleanup(h);
}

/*
 * edge.max_body: a body above nginx's own 1m default but under the site's
 * limit reaches the backend whole; one above the limit gets 413 from nginx.
 */
static void test_upload_limit(void **state)
{
	int port;
	pid_t be = backend_start("http", &port);
	struct xsite x;
	xsite_init(&x, "up", "up.example.com", port);
	x.s.edge.max_body = bg_xstrdup("3m");
	x.s.edge.read_timeout_ms = 60000;
	x.s.edge.send_timeout_ms = 60000;
	xsite_install(&x, false);
	assert_true(wait_prefix("up.example.com", 200, "requests=", 5000));
	char *url = bg_xasprintf("http://up.example.com:%d/upload", E.port);
	char *resolve = bg_xasprintf("up.example.com:%d:127.0.0.1", E.port);
	struct cresp r;
	curl_request(url, resolve, 2u << 20, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "bytes=2097152");
	cresp_release(&r);
	curl_request(url, resolve, 4u << 20, NULL, &r);
	assert_int_equal(r.status, 413);
	cresp_release(&r);
	free(resolve);
	free(url);
	xsite_release(&x);
	backend_stop(be);
}

/* Whether headers (as libcurl collected them) hold line, case-insensitively. */
static bool has_header(const char *headers, const char *line)
{
	return strcasestr(headers, line) != NULL;
}

/*
 * HTTPS served by the real nginx with tls.mode files: a self-signed pair
 * the client trusts (CAINFO), the live colour over HTTPS with HSTS, HTTP
 * answering 308 to https, the site's other domain redirected to
 * redirect_to on both schemes, and the local probe still on HTTP. Until
 * the certificate can be served (tls_ready false) the same site is plain
 * HTTP.
 */
static void test_https_files(void **state)
{
	static const char *const names[] = {"sec.example.com", "www.sec.example.com", NULL};
	char *tlsdir = bg_xasprintf("%s/tls", E.dir);
	make_cert(tlsdir, "sec", names);
	int tport = th_free_port();
	free(E.cfg.g.nginx.listen_tls);
	E.cfg.g.nginx.listen_tls = bg_xasprintf("127.0.0.1:%d", tport);
	struct xsite x;
	xsite_init(&x, "sec", "sec.example.com", E.blue_port);
	bg_strv_push(&x.s.domains, "www.sec.example.com");
	x.s.redirect_to = bg_xstrdup("sec.example.com");
	x.s.tls.mode = CFG_TLS_FILES;
	x.s.tls.cert = bg_xstrdup("tls/sec.crt"); /* relative: to cfg->dir */
	x.s.tls.key = bg_xstrdup("tls/sec.key");
	x.s.tls.hsts = 600;

	/* Not ready: HTTP only, serving the live colour. */
	xsite_install(&x, false);
	assert_true(wait_serves("sec.example.com", 200, "blue", 5000));

	xsite_install(&x, true);
	char *ca = bg_xasprintf("%s/sec.crt", tlsdir);
	char *res_tls = bg_xasprintf("sec.example.com:%d:127.0.0.1", tport);
	char *url = bg_xasprintf("https://sec.example.com:%d/", tport);
	struct cresp r = {0};
	int64_t deadline = bg_mono_ms() + 5000;
	do {
		cresp_release(&r);
		curl_request(url, res_tls, 0, ca, &r);
	} while (r.status != 200 && bg_mono_ms() < deadline && usleep(20 * 1000) == 0);
	if (r.status != 200) {
		th_print_error("https: %ld %s\n", r.status, r.body);
	}
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "blue\n");
	assert_true(has_header(r.headers, "\nStrict-Transport-Security: max-age=600\r\n"));
	cresp_release(&r);

	/* HTTP: 308 to https, path and query kept. */
	char *res_http = bg_xasprintf("sec.example.com:%d:127.0.0.1", E.port);
	char *hurl = bg_xasprintf("http://sec.example.com:%d/a/b?c=d", E.port);
	curl_request(hurl, res_http, 0, NULL, &r);
	assert_int_equal(r.status, 308);
	assert_true(has_header(r.headers, "\nLocation: https://sec.example.com/a/b?c=d\r\n"));
	assert_false(has_header(r.headers, "Strict-Transport-Security"));
	cresp_release(&r);

	/* The other domain: straight to redirect_to over HTTPS, from both. */
	char *wres_http = bg_xasprintf("www.sec.example.com:%d:127.0.0.1", E.port);
	char *wurl = bg_xasprintf("http://www.sec.example.com:%d/x", E.port);
	curl_request(wurl, wres_http, 0, NULL, &r);
	assert_int_equal(r.status, 308);
	assert_true(has_header(r.headers, "\nLocation: https://sec.example.com/x\r\n"));
	cresp_release(&r);
	char *wres_tls = bg_xasprintf("www.sec.example.com:%d:127.0.0.1", tport);
	char *wsurl = bg_xasprintf("https://www.sec.example.com:%d/y", tport);
	curl_request(wsurl, wres_tls, 0, ca, &r);
	assert_int_equal(r.status, 308);
	assert_true(has_header(r.headers, "\nLocation: https://sec.example.com/y\r\n"));
	assert_true(has_header(r.headers, "\nStrict-Transport-Security: max-age=600\r\n"));
	cresp_release(&r);

	/* The install probe keeps working on HTTP, before the redirect. */
	char *purl = bg_xasprintf("http://sec.example.com:%d" EDGE_NGINX_PROBE_PATH, E.port);
	curl_request(purl, res_http, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(bg_str_has_prefix(r.body, "sec "));
	cresp_release(&r);

	/* Without the CA the client refuses: the certificate is what is served. */
	curl_request(url, res_tls, 0, "/nonexistent-ca.pem", &r);
	assert_int_equal(r.status, 0);
	cresp_release(&r);

	free(purl);
	free(wsurl);
	free(wres_tls);
	free(wurl);
	free(wres_http);
	free(hurl);
	free(res_http);
	free(url);
	free(res_tls);
	free(ca);
	xsite_release(&x);
	free(tlsdir);
}

/* As the edge reconciler does for x: render, then route (file and flags). */
static void xsite_route(struct xsite *x, bool tls_ready)
{
	struct edge_view v = {.site = &x->s, .live = "blue", .live_version = 1,
			.live_upstreams = &x->ups, .tls_ready = tls_ready};
	struct bg_buf b = BG_BUF_INIT;
	struct bg_diag d;
	bg_diag_init(&d);
	use_real_argvs();
	assert_int_equal(edge_nginx_impl.render(&E.cfg, &v, &b), 0);
	struct cfg_site *sites = E.cfg.sites;
	E.cfg.sites = &x->s;
	E.cfg.g.nginx.probe = true;
	int err = edge_nginx_impl.route(&E.cfg, x->s.name, "blue", NULL, b.data, b.len, &d);
	E.cfg.g.nginx.probe = false;
	E.cfg.sites = sites;
	if (err) {
		th_print_error("route of %s: %s\n", x->s.name, d.n ? d.items[0].msg : "?");
	}
	assert_int_equal(err, 0);
	bg_buf_release(&b);
	bg_diag_release(&d);
}

/* HTTPS status of url (resolved by res) with cafile as the only CA, once
 * it is want or after ms. */
static long https_status(const char *url, const char *res, const char *cafile, long want,
		int ms)
{
	struct cresp r = {0};
	int64_t deadline = bg_mono_ms() + ms;
	do {
		cresp_release(&r);
		curl_request(url, res, 0, cafile, &r);
	} while (r.status != want && bg_mono_ms() < deadline && usleep(20 * 1000) == 0);
	long st = r.status;
	cresp_release(&r);
	return st;
}

/*
 * Issue 11: a certificate renewed at the same path (what certbot's renewal
 * does) leaves the site's file as it was. The route must still reload, or
 * nginx keeps serving the old certificate until something else reloads
 * it: after the route the new one is served (a client trusting only the
 * new self-signed certificate gets 200). The same for the key alone is
 * implied (both are rewritten here).
 */
static void test_https_renewed_same_path(void **state)
{
	static const char *const names[] = {"ren.example.com", NULL};
	char *tlsdir = bg_xasprintf("%s/tls", E.dir);
	make_cert(tlsdir, "ren", names);
	int tport = th_free_port();
	free(E.cfg.g.nginx.listen_tls);
	E.cfg.g.nginx.listen_tls = bg_xasprintf("127.0.0.1:%d", tport);
	struct xsite x;
	xsite_init(&x, "ren", "ren.example.com", E.blue_port);
	x.s.tls.mode = CFG_TLS_FILES;
	x.s.tls.cert = bg_xstrdup("tls/ren.crt");
	x.s.tls.key = bg_xstrdup("tls/ren.key");
	char *ca = bg_xasprintf("%s/ren.crt", tlsdir);
	char *res = bg_xasprintf("ren.example.com:%d:127.0.0.1", tport);
	char *url = bg_xasprintf("https://ren.example.com:%d/", tport);

	xsite_route(&x, true);
	assert_int_equal(https_status(url, res, ca, 200, 5000), 200);
	/* A second route of the same file and files: the flag path. */
	xsite_route(&x, true);
	assert_int_equal(https_status(url, res, ca, 200, 5000), 200);

	make_cert(tlsdir, "ren", names); /* renewed: new key and certificate */
	/* nginx has not read them yet: the new CA does not verify what it serves. */
	assert_int_equal(https_status(url, res, ca, 0, 1000), 0);
	xsite_route(&x, true);
	long st = https_status(url, res, ca, 200, 5000);
	if (st != 200) {
		fail_msg("after the renewal and a route of the unchanged file nginx still "
				"serves the old certificate (status %ld)", st);
	}
	free(url);
	free(res);
	free(ca);
	xsite_release(&x);
	free(tlsdir);
}

/*
 * tls.mode auto: certbot's files (here a self-signed pair where certbot
 * keeps its live/ links) are served over HTTPS, and the http-01 challenge
 * directory answers on HTTP before the redirect, as it must for the ACME
 * server to validate. edge_tls_ready follows the files.
 */
static void test_https_auto(void **state)
{
	static const char *const names[] = {"auto.example.com", NULL};
	char *acme = bg_xasprintf("%s/acme", E.dir);
	char *archive = bg_xasprintf("%s/certbot/archive/bluegreen-auto", acme);
	char *live = bg_xasprintf("%s/certbot/live/bluegreen-auto", acme);
	make_cert(archive, "auto", names);
	bg_mkdir_p(live, 0755);
	char *crt = bg_xasprintf("%s/auto.crt", archive);
	char *key = bg_xasprintf("%s/auto.key", archive);
	char *lcrt = bg_xasprintf("%s/fullchain.pem", live);
	char *lkey = bg_xasprintf("%s/privkey.pem", live);
	th_write(acme, "webroot/.well-known/acme-challenge/tok-123", "tok-123.thumbprint");
	int tport = th_free_port();
	free(E.cfg.g.nginx.listen_tls);
	E.cfg.g.nginx.listen_tls = bg_xasprintf("127.0.0.1:%d", tport);
	E.cfg.g.acme.dir = acme;
	struct xsite x;
	xsite_init(&x, "auto", "auto.example.com", E.green_port);
	x.s.tls.mode = CFG_TLS_AUTO;

	/* No certificate yet: not ready, HTTP only with the challenge. */
	assert_false(edge_tls_ready(&E.cfg, &x.s));
	xsite_install(&x, edge_tls_ready(&E.cfg, &x.s));
	assert_true(wait_serves("auto.example.com", 200, "green", 5000));
	char *res = bg_xasprintf("auto.example.com:%d:127.0.0.1", E.port);
	char *curl_ch = bg_xasprintf("http://auto.example.com:%d/.well-known/acme-challenge/"
			"tok-123", E.port);
	struct cresp r;
	curl_request(curl_ch, res, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "tok-123.thumbprint");
	cresp_release(&r);

	/* Issued (links into the archive, as certbot makes them): HTTPS. */
	assert_int_equal(symlink(crt, lcrt), 0);
	assert_false(edge_tls_ready(&E.cfg, &x.s)); /* the key is still missing */
	assert_int_equal(symlink(key, lkey), 0);
	assert_true(edge_tls_ready(&E.cfg, &x.s));
	xsite_install(&x, edge_tls_ready(&E.cfg, &x.s));
	char *res_tls = bg_xasprintf("auto.example.com:%d:127.0.0.1", tport);
	char *url = bg_xasprintf("https://auto.example.com:%d/", tport);
	int64_t deadline = bg_mono_ms() + 5000;
	memset(&r, 0, sizeof(r));
	do {
		cresp_release(&r);
		curl_request(url, res_tls, 0, crt, &r);
	} while (r.status != 200 && bg_mono_ms() < deadline && usleep(20 * 1000) == 0);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "green\n");
	assert_false(has_header(r.headers, "Strict-Transport-Security")); /* hsts 0 */
	cresp_release(&r);
	/* The challenge still answers on HTTP; everything else goes to https. */
	curl_request(curl_ch, res, 0, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "tok-123.thumbprint");
	cresp_release(&r);
	char *other = bg_xasprintf("http://auto.example.com:%d/page", E.port);
	curl_request(other, res, 0, NULL, &r);
	assert_int_equal(r.status, 308);
	assert_true(has_header(r.headers, "\nLocation: https://auto.example.com/page\r\n"));
	cresp_release(&r);

	/* A dangling link or a directory is no certificate. */
	unlink(key);
	assert_false(edge_tls_ready(&E.cfg, &x.s));
	x.s.tls.mode = CFG_TLS_OFF;
	assert_false(edge_tls_ready(&E.cfg, &x.s));
	/* Traefik gets auto certificates itself: ready without files. */
	x.s.tls.mode = CFG_TLS_AUTO;
	E.cfg.g.edge_kind = CFG_EDGE_TRAEFIK;
	assert_true(edge_tls_ready(&E.cfg, &x.s));
	E.cfg.g.edge_kind = CFG_EDGE_NGINX;

	xsite_release(&x);
	E.cfg.g.acme.dir = NULL;
	free(other);
	free(url);
	free(res_tls);
	free(curl_ch);
	free(res);
	free(lkey);
	free(lcrt);
	free(key);
	free(crt);
	free(live);
	free(archive);
	free(acme);
}

/*
 * edge.read_timeout: nginx gives up on a container that has not answered
 * within it (504), and waits for one that answers in time. 1500 ms is
 * written as 2s (rounded up, never shorter than asked).
 */
static void test_read_timeout(void **state)
{
	int port;
	pid_t be = backend_start("http", &port);
	struct xsite x;
	xsite_init(&x, "slow", "slow.example.com", port);
	x.s.edge.read_timeout_ms = 1500;
	xsite_install(&x, false);
	assert_true(wait_prefix("slow.example.com", 200, "requests=", 5000));
	char *resolve = bg_xasprintf("slow.example.com:%d:127.0.0.1", E.port);
	char *fast = bg_xasprintf("http://slow.example.com:%d/slow?ms=1700", E.port);
	char *slow = bg_xasprintf("http://slow.example.com:%d/slow?ms=4000", E.port);
	struct cresp r;
	curl_request(fast, resolve, 0, NULL, &r);
	assert_int_equal(r.status, 200); /* 1.7 s: inside 2s */
	assert_string_equal(r.body, "slow");
	cresp_release(&r);
	int64_t t0 = bg_mono_ms();
	curl_request(slow, resolve, 0, NULL, &r);
	int64_t took = bg_mono_ms() - t0;
	print_message("# 504 after %" PRId64 " ms (proxy_read_timeout 2s)\n", took);
	assert_int_equal(r.status, 504);
	assert_true(took >= 1900 && took < 3900);
	cresp_release(&r);
	free(slow);
	free(fast);
	free(resolve);
	xsite_release(&x);
	backend_stop(be);
}

/*
 * A WebSocket over HTTPS (wss://, what a browser on an HTTPS page opens):
 * the TLS server block proxies the upgrade like the HTTP one. The client
 * is python3-websockets checking the certificate against our CA.
 */
static void test_wss(void **state)
{
	if (!have_websockets()) {
		print_message("# SKIP " PYTHON " without python3-websockets\n");
		skip();
	}
	static const char *const names[] = {"wss.example.com", NULL};
	char *tlsdir = bg_xasprintf("%s/tls", E.dir);
	make_cert(tlsdir, "wss", names);
	int tport = th_free_port();
	free(E.cfg.g.nginx.listen_tls);
	E.cfg.g.nginx.listen_tls = bg_xasprintf("127.0.0.1:%d", tport);
	int port;
	pid_t ws = backend_start("ws", &port);
	struct xsite x;
	xsite_init(&x, "wss", "wss.example.com", port);
	x.s.tls.mode = CFG_TLS_FILES;
	x.s.tls.cert = bg_xstrdup("tls/wss.crt");
	x.s.tls.key = bg_xstrdup("tls/wss.key");
	xsite_install(&x, true);

	char *script = th_src_path("test/unit/edge-backend.py");
	char *url = bg_xasprintf("wss://wss.example.com:%d/chat", tport);
	char *ca = bg_xasprintf("%s/wss.crt", tlsdir);
	char *argv[] = {PYTHON, script, "client", url, ca, "hello over TLS", NULL};
	int st = -1;
	char *out = NULL;
	assert_int_equal(bg_spawn_capture(argv, NULL, 30000, &st, &out), 0);
	if (st != 0) {
		th_print_error("wss client (exit %d):\n%s\n", st, out);
	}
	assert_int_equal(st, 0);
	assert_string_equal(out, "hello over TLS\n");
	free(out);
	/* The plain ws:// URL is redirected, not served: HTTP goes to HTTPS. */
	struct resp r;
	http_get(E.port, "wss.example.com", &r);
	assert_int_equal(r.status, 308);

	free(ca);
	free(url);
	free(script);
	xsite_release(&x);
	backend_stop(ws);
	free(tlsdir);
}

/* Last: nginx stops cleanly, and nothing we started is left running. */
static void test_stop(void **state)
{
	pid_t pids[3] = {E.nginx, E.blue, E.green};
	nginx_quit();
	assert_int_equal(E.nginx, -1);
	stop_pid(&E.blue, SIGTERM);
	stop_pid(&E.green, SIGTERM);
	for (size_t i = 0; i < BG_ARRAY_SIZE(pids); i++) {
		assert_int_equal(kill(pids[i], 0), -1);
		assert_int_equal(errno, ESRCH);
	}
	struct resp r;
	http_get(E.port, "shop.example.com", &r);
	assert_int_equal(r.status, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_goldens),
		cmocka_unit_test(test_tls_inputs_refused),
		cmocka_unit_test(test_legacy_file_parses),
		cmocka_unit_test(test_goldens_pass_nginx_t),
		cmocka_unit_test(test_switch),
		cmocka_unit_test(test_switch_under_load),
		cmocka_unit_test(test_failing_test_restores),
		cmocka_unit_test(test_failing_reload_restores),
		cmocka_unit_test(test_cwd_is_config_dir),
		cmocka_unit_test(test_first_install_failure_removes),
		cmocka_unit_test(test_empty_upstream_502),
		cmocka_unit_test(test_install_preview_auth),
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_old_workers_detected_and_waited_for),
		cmocka_unit_test(test_switch_returns_after_old_workers),
		cmocka_unit_test(test_switch_by_flag_no_reload),
		cmocka_unit_test(test_flag_after_reload_waits_for_old_workers),
		cmocka_unit_test(test_flag_unreachable_reloads),
		cmocka_unit_test(test_previous_form_rewritten),
		cmocka_unit_test(test_websocket),
		cmocka_unit_test(test_keepalive_kept),
		cmocka_unit_test(test_upload_limit),
		cmocka_unit_test(test_read_timeout),
		cmocka_unit_test(test_https_files),
		cmocka_unit_test(test_https_renewed_same_path),
		cmocka_unit_test(test_https_auto),
		cmocka_unit_test(test_wss),
		cmocka_unit_test(test_stop),
	};
	if (access(NGINX, X_OK) != 0) {
		printf("1..0 # SKIP " NGINX " not installed (Debian package nginx-light)\n");
		return 0;
	}
	char *probe[] = {BUSYBOX, "true", NULL};
	int st = -1;
	if (bg_spawn_capture(probe, NULL, 10000, &st, NULL) != 0 || st != 0) {
		printf("1..0 # SKIP busybox not installed (Debian package busybox-static)\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
