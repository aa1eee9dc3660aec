/*
 * e2e: see e2e.h. Sites are tuned for tests: a fast health gate (200 ms
 * interval), a short drain and a short stop timeout, so a whole
 * deploy-candidate-switch-rollback story takes seconds.
 */
#include "bg.h"
#include "bg-buf.h"
#include "e2e.h"

#include <sys/stat.h>

#include <unistd.h>

void e2e_global(struct e2e *e, const char *extra)
{
	e2e_global_nginx(e, NULL, extra);
}

void e2e_global_nginx(struct e2e *e, const char *nginx_extra, const char *extra)
{
	struct bg_buf b = BG_BUF_INIT;
	if (e->mode) {
		bg_buf_addf(&b, "install_mode: %s\n", e->mode);
	}
	bg_buf_addf(&b, "state_dir: state\nedge:\n  kind: %s\n  network: %s\n", e->kind,
			e->edge_net);
	if (e->port) {
		char *y = th_nginx_edge_yaml(e->port);
		bg_buf_adds(&b, y);
		free(y);
		if (nginx_extra) {
			bg_buf_adds(&b, nginx_extra);
		}
	} else {
		/* Not the defaults, so a test sees they are the ones used. */
		bg_buf_addf(&b, "  traefik:\n    dynamic_dir: traefik/dynamic\n"
				"    entrypoints: [%s]\n    certresolver: %s\n",
				E2E_TRAEFIK_ENTRYPOINTS, E2E_TRAEFIK_CERTRESOLVER);
	}
	if (extra) {
		bg_buf_adds(&b, extra);
	}
	th_write(e->dir, "global.conf", b.data);
	bg_buf_release(&b);
}

/*
 * What the teardown must remove, copied at e2e_init: the fixture itself is
 * usually a local of the test function, and once an assertion has
 * longjmp'd out of that function its frame is gone (the teardown runs on
 * the same stack and may overwrite it). So the teardown never reads it.
 */
static struct {
	bool armed;
	char *dir, *site, *edge_net;
	int port;
} pending;

static void pending_clear(void)
{
	free(pending.dir);
	free(pending.site);
	free(pending.edge_net);
	memset(&pending, 0, sizeof(pending));
}

static void cleanup(const char *dir, const char *site, const char *edge_net, int port)
{
	if (port) {
		th_nginx_stop(dir);
	}
	th_docker_cleanup_site(site);
	th_docker_rm_network(edge_net);
	th_rm_rf(dir);
}

int e2e_teardown(void **state)
{
	(void)state;
	if (pending.armed) {
		cleanup(pending.dir, pending.site, pending.edge_net, pending.port);
	}
	pending_clear();
	return 0;
}

void e2e_init(struct e2e *e, const char *tag, const char *kind, const char *mode)
{
	memset(e, 0, sizeof(*e));
	e->dir = th_tmpdir(tag);
	/* nginx's workers (nobody) look up the edge's flag files under
	 * nginx/conf.d (issue 11): they must be able to search the way there,
	 * as they can /etc/nginx/conf.d. The state directory stays 0700. */
	chmod(e->dir, 0755);
	e->site = bg_xasprintf("%s-%s", th_run_id(), tag);
	e->edge_net = bg_xasprintf("%s-%s-edge", th_run_id(), tag);
	pending_clear();
	pending.armed = true;
	pending.dir = bg_xstrdup(e->dir);
	pending.site = bg_xstrdup(e->site);
	pending.edge_net = bg_xstrdup(e->edge_net);
	e->domain = bg_xasprintf("%s.localhost", e->site);
	e->preview = bg_xasprintf("preview.%s.localhost", e->site);
	e->mode = mode ? bg_xstrdup(mode) : NULL;
	e->kind = bg_xstrdup(kind);
	if (strcmp(kind, "nginx") == 0) {
		e->port = th_nginx_start_free(e->dir);
		pending.port = e->port;
	} else {
		th_write(e->dir, "traefik/dynamic/.keep", "");
	}
	e2e_global(e, NULL);
}

void e2e_site(struct e2e *e, const char *image, const char *extra)
{
	char *rel = bg_xasprintf("sites/%s.conf", e->site);
	/* The fast default gate, unless the test brings its own. */
	bool own_health = extra && strstr(extra, "health:");
	char *conf = bg_xasprintf(
		"site: %s\n"
		"domains: [%s]\n"
		"preview: %s\n"
		"image: %s\n"
		"port: 8080\n"
		"%s"
		"stop_timeout: 2s\n"
		"%s",
		e->site, e->domain, e->preview, image,
		own_health ? "" : "health: {path: /healthz, interval: 200ms, timeout: 1s, retries: 25}\n",
		extra ? extra : "");
	th_write(e->dir, rel, conf);
	free(conf);
	free(rel);
}

int e2e_bg(struct e2e *e, struct th_run *r, const char *arg0, ...)
{
	struct bg_strv args;
	va_list ap;
	bg_strv_init(&args);
	bg_strv_push(&args, "-c");
	bg_strv_push(&args, e->dir);
	va_start(ap, arg0);
	for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
		bg_strv_push(&args, a);
	}
	va_end(ap);
	int st = th_bgv(r, args.v);
	bg_strv_release(&args);
	return st;
}

char *e2e_plan(struct e2e *e, int *status)
{
	struct th_run r;
	int st = e2e_bg(e, &r, "plan", NULL);
	if (status) {
		*status = st;
	}
	char *tok = th_plan_token(r.out);
	if (st != 0 && st != 2) {
		th_print_error("plan exited %d:\n%s\n%s\n", st, r.out, r.err);
	}
	th_run_release(&r);
	return tok;
}

int e2e_plan_apply(struct e2e *e, struct th_run *out)
{
	int st = 0;
	char *tok = e2e_plan(e, &st);
	assert_int_equal(st, 2);
	assert_non_null(tok);
	struct th_run local;
	struct th_run *r = out ? out : &local;
	int rc = e2e_bg(e, r, "apply", tok, NULL);
	if (rc != 0 && !out) {
		th_print_error("apply %s exited %d:\n%s\n%s\n", tok, rc, r->out, r->err);
	}
	if (!out) {
		th_run_release(&local);
	}
	free(tok);
	return rc;
}

int e2e_get(struct e2e *e, const char *host, char **body)
{
	char *url = bg_xasprintf("http://127.0.0.1:%d/", e->port);
	char *hdr = bg_xasprintf("Host: %s", host);
	struct th_run r;
	char *argv[] = {"curl", "-sS", "--max-time", "5", "-H", hdr, "-o", "-", "-w",
			"\n%{http_code}", url, NULL};
	th_run_argv(argv, NULL, &r);
	int code = -1;
	char *nl = strrchr(r.out, '\n');
	if (body) {
		*body = NULL;
	}
	if (r.status == 0 && nl) {
		code = atoi(nl + 1);
		*nl = '\0';
		size_t n = strlen(r.out);
		while (n && (r.out[n - 1] == '\n' || r.out[n - 1] == '\r')) {
			r.out[--n] = '\0';
		}
		if (body) {
			*body = bg_xstrdup(r.out);
		}
	}
	th_run_release(&r);
	free(hdr);
	free(url);
	return code;
}

int e2e_curl(char *const args[], char **body, char **location)
{
	struct bg_strv argv;
	bg_strv_init(&argv);
	const char *fixed[] = {"curl", "-sS", "--max-time", "60", "-o", "-", "-w",
			"\n%{http_code} %{redirect_url}"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(fixed); i++) {
		bg_strv_push(&argv, fixed[i]);
	}
	for (size_t i = 0; args[i]; i++) {
		bg_strv_push(&argv, args[i]);
	}
	struct th_run r;
	th_run_argv(argv.v, NULL, &r);
	bg_strv_release(&argv);
	int code = -1;
	char *nl = strrchr(r.out, '\n');
	if (body) {
		*body = NULL;
	}
	if (location) {
		*location = NULL;
	}
	if (r.status == 0 && nl) {
		char *sp = NULL;
		code = (int)strtol(nl + 1, &sp, 10);
		if (location) {
			*location = bg_xstrdup(*sp == ' ' ? sp + 1 : "");
		}
		*nl = '\0';
		size_t n = strlen(r.out);
		while (n && (r.out[n - 1] == '\n' || r.out[n - 1] == '\r')) {
			r.out[--n] = '\0';
		}
		if (body) {
			*body = bg_xstrdup(r.out);
		}
	} else if (body) {
		/* Said once by the caller's failure, not on every retry. */
		*body = bg_xasprintf("(curl exited %d: %s)", r.status, r.err);
		size_t n = strlen(*body);
		while (n > 1 && (*body)[n - 2] == '\n') {
			(*body)[n - 2] = ')';
			(*body)[--n] = '\0';
		}
	}
	th_run_release(&r);
	return code;
}

bool e2e_wait_body(struct e2e *e, const char *host, const char *want, int ms)
{
	for (int waited = 0; waited <= ms; waited += 50) {
		char *body = NULL;
		int code = e2e_get(e, host, &body);
		bool ok = code == 200 && body && strcmp(body, want) == 0;
		free(body);
		if (ok) {
			return true;
		}
		usleep(50 * 1000);
	}
	return false;
}

char *e2e_container_state(const char *name)
{
	struct th_run r;
	th_docker(&r, "inspect", "-f", "{{.State.Status}}", name, NULL);
	char *s = bg_xstrdup(r.status == 0 ? r.out : "");
	th_run_release(&r);
	char *nl = strchr(s, '\n');
	if (nl) {
		*nl = '\0';
	}
	return s;
}

void e2e_release(struct e2e *e)
{
	if (!e->dir) {
		return;
	}
	if (pending.armed && strcmp(pending.dir, e->dir) == 0) {
		pending_clear();
	}
	cleanup(e->dir, e->site, e->edge_net, e->port);
	free(e->dir);
	free(e->site);
	free(e->edge_net);
	free(e->domain);
	free(e->preview);
	free(e->mode);
	free(e->kind);
	memset(e, 0, sizeof(*e));
}

char *e2e_edge_live(struct e2e *e)
{
	char *path = bg_xasprintf("%s/nginx/conf.d/bluegreen-%s.conf", e->dir, e->site);
	char *data = NULL, *live = NULL;
	if (bg_file_read(path, 1 << 20, &data, NULL) == 0) {
		const char *p = strstr(data, "# bluegreen-live: ");
		if (p) { /* a file of the previous form names its colour */
			p += strlen("# bluegreen-live: ");
			live = bg_xstrndup(p, strcspn(p, "\n"));
		}
	}
	/* Since the switch by flag (issue 11) the live colour is a flag file. */
	static const char *const colours[] = {"blue", "green"};
	for (size_t i = 0; data && !live && i < BG_ARRAY_SIZE(colours); i++) {
		char *flag = bg_xasprintf("%s/nginx/conf.d/.bluegreen-live/%s.live-%s", e->dir,
				e->site, colours[i]);
		if (access(flag, F_OK) == 0) {
			live = bg_xstrdup(colours[i]);
		}
		free(flag);
	}
	free(data);
	free(path);
	return live;
}

void e2e_reset_site(struct e2e *e)
{
	char *path = bg_xasprintf("%s/nginx/conf.d/bluegreen-%s.conf", e->dir, e->site);
	char *st = bg_xasprintf("%s/state", e->dir);
	unlink(path);
	static const char *const flags[] = {"live-blue", "live-green", "preview-blue",
		"preview-green"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(flags); i++) {
		char *flag = bg_xasprintf("%s/nginx/conf.d/.bluegreen-live/%s.%s", e->dir,
				e->site, flags[i]);
		unlink(flag);
		free(flag);
	}
	th_rm_rf(st);
	th_docker_cleanup_site(e->site);
	th_docker_rm_network(e->edge_net);
	if (e->port) {
		char *prefix = bg_xasprintf("%s/nginx/", e->dir);
		struct th_run r;
		char *argv[] = {"nginx", "-p", prefix, "-c", "nginx.conf", "-s", "reload", NULL};
		th_run_argv(argv, NULL, &r);
		th_run_release(&r);
		free(prefix);
	}
	free(st);
	free(path);
}

char *e2e_assert_interrupted(struct e2e *e)
{
	struct th_run r;
	assert_int_equal(e2e_bg(e, &r, "status", NULL), 0);
	th_assert_contains(r.err, "was interrupted");
	char *live = e2e_edge_live(e);
	char *line = bg_xasprintf("%-16s %-6s", e->site, live ? live : "-");
	th_assert_contains(r.out, line);
	free(line);
	th_run_release(&r);
	return live;
}

char *e2e_backup_now(struct e2e *e)
{
	struct th_run r;
	int st = e2e_bg(e, &r, "backup", e->site, NULL);
	if (st != 0) {
		fail_msg("bluegreen backup %s: exit %d: %s%s", e->site, st, r.out, r.err);
	}
	const char *p = strstr(r.out, "backup ");
	assert_non_null(p);
	p += strlen("backup ");
	char *id = bg_xstrndup(p, strcspn(p, " "));
	th_run_release(&r);
	return id;
}

void e2e_restore_through_plan(struct e2e *e, const char *id)
{
	struct th_run r;
	char *arg = bg_xasprintf("%s@%s", e->site, id);
	int st = e2e_bg(e, &r, "plan", "--restore", arg, NULL);
	if (st != 2) {
		fail_msg("plan --restore %s: exit %d: %s%s", arg, st, r.out, r.err);
	}
	th_assert_contains(r.out, "restore");
	char *tok = th_plan_token(r.out);
	assert_non_null(tok);
	th_run_release(&r);
	st = e2e_bg(e, &r, "apply", tok, NULL);
	if (st != 0) {
		fail_msg("apply %s (restore %s): exit %d: %s%s", tok, id, st, r.out, r.err);
	}
	th_run_release(&r);
	free(tok);
	free(arg);
}

void e2e_cockpit_user_add(struct e2e *e, const char *users, const char *name,
		const char *pw, const char *role, const char *sites)
{
	char *input = bg_xasprintf("%s\n", pw);
	const char *argv[14] = {getenv("BG_BINARY"), "-c", e->dir, "cockpit", "user", "add", name,
		"--role", role};
	size_t n = 9;
	if (users) {
		argv[n++] = "--users";
		argv[n++] = users;
	}
	if (sites) {
		argv[n++] = "--sites";
		argv[n++] = sites;
	}
	argv[n] = NULL;
	char *out = NULL;
	if (th_run_stdin((char *const *)argv, input, &out) != 0) {
		fail_msg("cockpit user add %s failed:\n%s", name, out);
	}
	th_assert_not_contains(out, pw);
	free(out);
	free(input);
}

unsigned e2e_cockpit_start(struct e2e *e, const char *out, const char *mode, pid_t *pid,
		const char *arg0, ...)
{
	struct bg_strv args;
	va_list ap;
	char *env[] = {"NO_COLOR=1", NULL};
	bg_strv_init(&args);
	bg_strv_push(&args, getenv("BG_BINARY"));
	bg_strv_push(&args, "-c");
	bg_strv_push(&args, e->dir);
	bg_strv_push(&args, "cockpit");
	va_start(ap, arg0);
	for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
		bg_strv_push(&args, a);
	}
	va_end(ap);
	*pid = th_spawn_bg(args.v, env, out);
	bg_strv_release(&args);
	char *t = th_wait_file(out, "listening on port ", 30000);
	if (!t) {
		char *o = th_read(out);
		fail_msg("the cockpit did not start:\n%s", o ? o : "");
	}
	th_assert_contains(t, mode);
	unsigned port = (unsigned)strtoul(strstr(t, "listening on port ") + 18, NULL, 10);
	free(t);
	return port;
}
