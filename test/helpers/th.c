/*
 * th: see th.h. Processes are run with posix_spawn and argv only, like the
 * product itself.
 */
#include "bg.h"
#include "th.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

const char *th_srcdir(void)
{
	const char *s = getenv("BG_SRCDIR");
	return s && *s ? s : ".";
}

char *th_src_path(const char *rel)
{
	return bg_xasprintf("%s/%s", th_srcdir(), rel);
}

char *th_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *tmpl = bg_xasprintf("%s/bgtest-%s-XXXXXX", base && *base ? base : "/tmp",
			tag ? tag : "x");
	if (!mkdtemp(tmpl)) {
		fail_msg("mkdtemp %s: %s", tmpl, strerror(errno));
	}
	return tmpl;
}

int th_rm_rf(const char *path)
{
	if (!path || strlen(path) < 6) {
		return -1;
	}
	char *argv[] = {"rm", "-rf", "--", (char *)path, NULL};
	int st = 0;
	bg_spawn_capture(argv, NULL, 60000, &st, NULL);
	return st;
}

void th_write(const char *dir, const char *rel, const char *content)
{
	char *path = bg_xasprintf("%s/%s", dir, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	assert_int_equal(bg_mkdir_p(path, 0755), 0);
	*slash = '/';
	FILE *f = fopen(path, "w");
	if (!f) {
		fail_msg("open %s: %s", path, strerror(errno));
	}
	fputs(content, f);
	fclose(f);
	free(path);
}

char *th_read(const char *path)
{
	char *data = NULL;
	int err = bg_file_read(path, 64 * 1024 * 1024, &data, NULL);
	if (err) {
		fail_msg("read %s: %d", path, err);
	}
	return data;
}

void th_copy_tree(const char *from, const char *to)
{
	char *src = bg_xasprintf("%s/.", from);
	char *argv[] = {"cp", "-a", "--", src, (char *)to, NULL};
	int st = -1;
	bg_mkdir_p(to, 0755);
	bg_spawn_capture(argv, NULL, 60000, &st, NULL);
	free(src);
	assert_int_equal(st, 0);
}

void th_run_release(struct th_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

static void drain(int fd, char **buf, size_t *n, size_t *cap, bool *open_)
{
	char chunk[8192];
	ssize_t k = read(fd, chunk, sizeof(chunk));
	if (k <= 0) {
		if (k < 0 && errno == EINTR) {
			return;
		}
		*open_ = false;
		return;
	}
	BG_GROW(*buf, *cap, *n + (size_t)k + 1);
	memcpy(*buf + *n, chunk, (size_t)k);
	*n += (size_t)k;
	(*buf)[*n] = '\0';
}

int th_run_argv(char *const argv[], char *const env_extra[], struct th_run *r)
{
	int po[2], pe[2];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	struct bg_strv env;

	memset(r, 0, sizeof(*r));
	bg_strv_init(&env);
	for (char **e = environ; *e; e++) {
		bool overridden = false;
		for (size_t i = 0; env_extra && env_extra[i]; i++) {
			const char *eq = strchr(env_extra[i], '=');
			size_t kl = eq ? (size_t)(eq - env_extra[i]) : strlen(env_extra[i]);
			if (strncmp(*e, env_extra[i], kl) == 0 && (*e)[kl] == '=') {
				overridden = true;
			}
		}
		if (!overridden) {
			bg_strv_push(&env, *e);
		}
	}
	for (size_t i = 0; env_extra && env_extra[i]; i++) {
		if (strchr(env_extra[i], '=')) {
			bg_strv_push(&env, env_extra[i]);
		}
	}
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		fail_msg("pipe: %s", strerror(errno));
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env.v);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	bg_strv_release(&env);
	if (rc != 0) {
		close(po[0]);
		close(pe[0]);
		fail_msg("spawn %s: %s", argv[0], strerror(rc));
	}
	size_t no = 0, co = 0, ne = 0, ce = 0;
	bool oo = true, oe = true;
	r->out = bg_xstrdup("");
	r->err = bg_xstrdup("");
	co = ce = 1;
	while (oo || oe) {
		struct pollfd p[2] = {{.fd = oo ? po[0] : -1, .events = POLLIN},
				{.fd = oe ? pe[0] : -1, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR) {
				continue;
			}
			break;
		}
		if (p[0].revents) {
			drain(po[0], &r->out, &no, &co, &oo);
		}
		if (p[1].revents) {
			drain(pe[0], &r->err, &ne, &ce, &oe);
		}
	}
	close(po[0]);
	close(pe[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return r->status;
}

int th_bgv(struct th_run *r, char *const args[])
{
	const char *bin = getenv("BG_BINARY");
	struct bg_strv argv;
	bg_strv_init(&argv);
	bg_strv_push(&argv, bin && *bin ? bin : "bluegreen");
	for (size_t i = 0; args[i]; i++) {
		bg_strv_push(&argv, args[i]);
	}
	char *env[] = {"NO_COLOR=1", "BLUEGREEN_CONFIG=", NULL};
	int st = th_run_argv(argv.v, env, r);
	bg_strv_release(&argv);
	return st;
}

static int run_va(struct th_run *r, const char *prog, const char *arg0, va_list ap)
{
	struct bg_strv argv;
	bg_strv_init(&argv);
	for (const char *a = arg0; a; a = va_arg(ap, const char *)) {
		bg_strv_push(&argv, a);
	}
	int st;
	if (prog) {
		struct bg_strv full;
		bg_strv_init(&full);
		bg_strv_push(&full, prog);
		bg_strv_copy(&full, &argv);
		char *env[] = {"NO_COLOR=1", NULL};
		st = th_run_argv(full.v, env, r);
		bg_strv_release(&full);
	} else {
		char *empty[] = {NULL};
		st = th_bgv(r, argv.v ? argv.v : empty);
	}
	bg_strv_release(&argv);
	return st;
}

int th_bg(struct th_run *r, const char *arg0, ...)
{
	va_list ap;
	va_start(ap, arg0);
	int st = run_va(r, NULL, arg0, ap);
	va_end(ap);
	return st;
}

int th_docker(struct th_run *r, const char *arg0, ...)
{
	va_list ap;
	va_start(ap, arg0);
	int st = run_va(r, "docker", arg0, ap);
	va_end(ap);
	return st;
}

void th__assert_contains(const char *haystack, const char *needle, bool want,
		const char *file, int line)
{
	bool has = haystack && strstr(haystack, needle) != NULL;
	if (has != want) {
		_fail(file, line);
		print_error("%s:%d: expected %s\"%s\" in:\n%s\n", file, line,
				want ? "" : "no ", needle, haystack ? haystack : "(null)");
	}
}

const char *th_docker_sock(void)
{
	const char *s = getenv("BG_DOCKER_SOCK");
	return s && *s ? s : "/var/run/docker.sock";
}

const char *th_run_id(void)
{
	static char id[16];
	if (!id[0]) {
		char hex[65];
		char seed[64];
		snprintf(seed, sizeof(seed), "%ld-%lld", (long)getpid(),
				(long long)bg_now_ms());
		bg_sha256_hex(seed, strlen(seed), hex);
		snprintf(id, sizeof(id), "t%.6s", hex);
	}
	return id;
}

void th_docker_preamble(void)
{
	struct th_run r;
	char *argv[] = {"curl", "-sS", "--max-time", "5", "--unix-socket",
			(char *)th_docker_sock(), "http://localhost/_ping", NULL};
	th_run_argv(argv, NULL, &r);
	bool up = r.status == 0 && strcmp(r.out, "OK") == 0;
	th_run_release(&r);
	if (!up) {
		const char *ci = getenv("CI");
		if (ci && (strcmp(ci, "true") == 0 || strcmp(ci, "1") == 0)) {
			printf("Bail out! docker daemon socket %s does not answer (CI must start dockerd)\n",
					th_docker_sock());
			exit(1);
		}
		printf("1..0 # SKIP no docker daemon socket (%s)\n", th_docker_sock());
		exit(0);
	}
	char *script = th_src_path("test/images/build.sh");
	char *bargv[] = {script, NULL};
	th_run_argv(bargv, NULL, &r);
	if (r.status != 0) {
		printf("Bail out! test/images/build.sh failed: %s%s\n", r.out, r.err);
		exit(1);
	}
	th_run_release(&r);
	free(script);
}

void th_docker_cleanup_site(const char *site)
{
	struct th_run r;
	char *filter = bg_xasprintf("label=io.bluegreen.site=%s", site);
	th_docker(&r, "ps", "-aq", "--filter", filter, NULL);
	char *save = NULL;
	for (char *id = strtok_r(r.out, "\n", &save); id; id = strtok_r(NULL, "\n", &save)) {
		struct th_run r2;
		th_docker(&r2, "rm", "-f", id, NULL);
		th_run_release(&r2);
	}
	th_run_release(&r);
	th_docker(&r, "network", "ls", "-q", "--filter", filter, NULL);
	save = NULL;
	for (char *id = strtok_r(r.out, "\n", &save); id; id = strtok_r(NULL, "\n", &save)) {
		struct th_run r2;
		th_docker(&r2, "network", "rm", id, NULL);
		th_run_release(&r2);
	}
	th_run_release(&r);
	th_docker(&r, "volume", "ls", "-q", "--filter", filter, NULL);
	save = NULL;
	for (char *id = strtok_r(r.out, "\n", &save); id; id = strtok_r(NULL, "\n", &save)) {
		struct th_run r2;
		th_docker(&r2, "volume", "rm", "-f", id, NULL);
		th_run_release(&r2);
	}
	th_run_release(&r);
	free(filter);
}

void th_docker_rm_network(const char *name)
{
	struct th_run r;
	th_docker(&r, "network", "rm", name, NULL);
	th_run_release(&r);
}

int th_http_get(const char *url, char **body)
{
	struct th_run r;
	char *argv[] = {"curl", "-sS", "--max-time", "5", "-o", "-", "-w",
			"\n%{http_code}", (char *)url, NULL};
	th_run_argv(argv, NULL, &r);
	int code = -1;
	char *nl = strrchr(r.out, '\n');
	if (r.status == 0 && nl) {
		code = atoi(nl + 1);
		*nl = '\0';
		if (body) {
			*body = bg_xstrdup(r.out);
		}
	} else if (body) {
		*body = NULL;
	}
	th_run_release(&r);
	return code;
}

int th_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	socklen_t len = sizeof(a);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

char *th_nginx_edge_yaml(int port)
{
	return bg_xasprintf(
		"  nginx:\n"
		"    conf_dir: nginx/conf.d\n"
		"    listen: \"127.0.0.1:%d\"\n"
		"    test: [nginx, -p, nginx/, -c, nginx.conf, -t, -q]\n"
		"    reload: [nginx, -p, nginx/, -c, nginx.conf, -s, reload]\n", port);
}

void th_nginx_start(const char *dir, int port)
{
	char *conf = bg_xasprintf(
		"worker_processes 1;\n"
		"pid nginx.pid;\n"
		"error_log error.log warn;\n"
		"events { worker_connections 1024; }\n"
		"http {\n"
		"\taccess_log off;\n"
		"\tclient_body_temp_path tmp/body;\n"
		"\tproxy_temp_path tmp/proxy;\n"
		"\tfastcgi_temp_path tmp/fastcgi;\n"
		"\tuwsgi_temp_path tmp/uwsgi;\n"
		"\tscgi_temp_path tmp/scgi;\n"
		"\tserver { listen 127.0.0.1:%d default_server; return 404 \"no site\\n\"; }\n"
		"\tinclude conf.d/*.conf;\n"
		"}\n", port);
	th_write(dir, "nginx/nginx.conf", conf);
	th_write(dir, "nginx/conf.d/.keep", "");
	th_write(dir, "nginx/tmp/.keep", "");
	free(conf);
	char *prefix = bg_xasprintf("%s/nginx/", dir);
	struct th_run r;
	char *argv[] = {"nginx", "-p", prefix, "-c", "nginx.conf", NULL};
	th_run_argv(argv, NULL, &r);
	if (r.status != 0) {
		fail_msg("nginx did not start: %s%s", r.out, r.err);
	}
	th_run_release(&r);
	char *url = bg_xasprintf("http://127.0.0.1:%d/", port);
	int code = -1;
	for (int i = 0; i < 50 && code != 404; i++) {
		code = th_http_get(url, NULL);
		if (code != 404) {
			usleep(100 * 1000);
		}
	}
	assert_int_equal(code, 404);
	free(url);
	free(prefix);
}

void th_nginx_stop(const char *dir)
{
	char *prefix = bg_xasprintf("%s/nginx/", dir);
	char *pidf = bg_xasprintf("%s/nginx/nginx.pid", dir);
	struct th_run r;
	char *argv[] = {"nginx", "-p", prefix, "-c", "nginx.conf", "-s", "quit", NULL};
	th_run_argv(argv, NULL, &r);
	th_run_release(&r);
	/* Wait for the master to go, so no nginx outlives its test. */
	for (int i = 0; i < 50 && access(pidf, F_OK) == 0; i++) {
		usleep(100 * 1000);
	}
	free(pidf);
	free(prefix);
}

char *th_plan_token(const char *out)
{
	const char *p = out ? strstr(out, "bluegreen apply ") : NULL;
	if (!p) {
		return NULL;
	}
	p += strlen("bluegreen apply ");
	size_t n = strspn(p, "0123456789abcdef");
	return n ? bg_xstrndup(p, n) : NULL;
}

pid_t th_spawn_bg(char *const argv[], char *const env_extra[], const char *out_path)
{
	posix_spawn_file_actions_t fa;
	struct bg_strv env;
	pid_t pid = -1;
	bg_strv_init(&env);
	for (char **e = environ; *e; e++) {
		bg_strv_push(&env, *e);
	}
	for (size_t i = 0; env_extra && env_extra[i]; i++) {
		bg_strv_push(&env, env_extra[i]);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env.v);
	posix_spawn_file_actions_destroy(&fa);
	bg_strv_release(&env);
	if (rc != 0) {
		fail_msg("spawn %s: %s", argv[0], strerror(rc));
	}
	return pid;
}

int th_wait(pid_t pid)
{
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
