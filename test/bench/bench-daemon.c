/*
 * bench-daemon: the host, daemon, output reader, die listener and timed
 * trials that bench-watch and bench-cockpit share (see bench-daemon.h).
 * Moved here unchanged in what it measures, so that the two benchmarks'
 * figures stay comparable: the same sites, the same timing points.
 */
#include "bench-daemon.h"

#include "bg-buf.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- the daemon's output, timestamped as it is read ---- */

struct bd_line {
	int64_t t; /* bg_mono_ms() when read */
	char *text;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct bd_line *v;
	size_t n, cap;
	bool eof;
	int fd;
	FILE *copy; /* everything, for the operator reading the bench log */
	pthread_t th;
} rd = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void rd_lines_add(struct bg_buf *b, int64_t now)
{
	char *start = b->data, *nl;
	pthread_mutex_lock(&rd.mu);
	while ((nl = memchr(start, '\n', b->len - (size_t)(start - b->data)))) {
		*nl = '\0';
		BG_GROW(rd.v, rd.cap, rd.n + 1);
		rd.v[rd.n].t = now;
		rd.v[rd.n].text = bg_xstrdup(start);
		rd.n++;
		if (rd.copy) {
			fprintf(rd.copy, "%s\n", start);
		}
		start = nl + 1;
	}
	pthread_cond_broadcast(&rd.cv);
	pthread_mutex_unlock(&rd.mu);
	size_t rest = b->len - (size_t)(start - b->data);
	memmove(b->data, start, rest);
	b->len = rest;
	b->data[rest] = '\0';
}

static void *rd_main(void *arg)
{
	struct bg_buf b = BG_BUF_INIT;
	char chunk[8192];
	(void)arg;
	for (;;) {
		ssize_t n = read(rd.fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			break;
		}
		bg_buf_add(&b, chunk, (size_t)n);
		rd_lines_add(&b, bg_mono_ms());
	}
	pthread_mutex_lock(&rd.mu);
	rd.eof = true;
	pthread_cond_broadcast(&rd.cv);
	pthread_mutex_unlock(&rd.mu);
	bg_buf_release(&b);
	return NULL;
}

size_t bd_lines_now(void)
{
	pthread_mutex_lock(&rd.mu);
	size_t n = rd.n;
	pthread_mutex_unlock(&rd.mu);
	return n;
}

int64_t bd_plan_wait(size_t *from, const char *needle, int ms)
{
	int64_t deadline = bg_mono_ms() + ms, found = -1;
	pthread_mutex_lock(&rd.mu);
	while (found < 0) {
		for (size_t i = *from; i < rd.n; i++) {
			if (i > 0 && bg_str_has_prefix(rd.v[i].text, "why: ") &&
					bg_str_has_prefix(rd.v[i - 1].text, "=== plan ") &&
					strstr(rd.v[i].text, needle)) {
				found = rd.v[i].t;
				*from = i + 1;
				break;
			}
		}
		int64_t left = deadline - bg_mono_ms();
		if (found >= 0 || rd.eof || left <= 0) {
			break;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += left / 1000;
		ts.tv_nsec += (left % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&rd.cv, &rd.mu, &ts);
	}
	pthread_mutex_unlock(&rd.mu);
	return found;
}

/* ---- the engine's own "die" events, timestamped as they arrive ---- */

static struct {
	pthread_mutex_t mu;
	int64_t *t;
	size_t n, cap;
	char *name; /* container whose deaths are recorded */
	int fd;
	pthread_t th;
} dies = {.mu = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

static void dies_scan(struct bg_buf *b, const char *needle, int64_t now)
{
	char *nl;
	while ((nl = memchr(b->data, '\n', b->len))) {
		*nl = '\0';
		if (strstr(b->data, "\"Action\":\"die\"") && strstr(b->data, needle)) {
			pthread_mutex_lock(&dies.mu);
			BG_GROW(dies.t, dies.cap, dies.n + 1);
			dies.t[dies.n++] = now;
			pthread_mutex_unlock(&dies.mu);
		}
		size_t rest = b->len - (size_t)(nl + 1 - b->data);
		memmove(b->data, nl + 1, rest);
		b->len = rest;
		b->data[rest] = '\0';
	}
}

/*
 * A second /events client, beside the daemon's: the moment the engine
 * announces the death is the fair start for the daemon's share of the
 * kill figure (the engine may answer the kill before the container is
 * dead, or long after). HTTP/1.0, so the stream is not chunked.
 */
static void *dies_main(void *arg)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[65536];
	struct bg_buf b = BG_BUF_INIT;
	(void)arg;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", th_docker_sock());
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (fd >= 0) {
			close(fd);
		}
		return NULL;
	}
	dies.fd = fd;
	const char *req = "GET /v1.41/events?filters=%7B%22type%22%3A%5B%22container%22%5D%2C"
			"%22event%22%3A%5B%22die%22%5D%7D HTTP/1.0\r\nHost: docker\r\n\r\n";
	if (write(fd, req, strlen(req)) < 0) {
		return NULL;
	}
	char *needle = bg_xasprintf("\"name\":\"%s\"", dies.name);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0) {
			break;
		}
		bg_buf_add(&b, buf, (size_t)n);
		dies_scan(&b, needle, bg_mono_ms());
	}
	free(needle);
	bg_buf_release(&b);
	return NULL;
}

void bd_dies_start(struct bd_host *h, const char *cname)
{
	dies.name = bg_xstrdup(cname);
	h->listening = pthread_create(&dies.th, NULL, dies_main, NULL) == 0;
	usleep(300 * 1000); /* let the listener's stream start */
}

int64_t bd_dies_after(int64_t t0)
{
	int64_t found = -1;
	pthread_mutex_lock(&dies.mu);
	for (size_t i = 0; i < dies.n && found < 0; i++) {
		if (dies.t[i] >= t0) {
			found = dies.t[i];
		}
	}
	pthread_mutex_unlock(&dies.mu);
	return found;
}

void bd_dies_stop(struct bd_host *h)
{
	if (h->listening) {
		if (dies.fd >= 0) {
			shutdown(dies.fd, SHUT_RDWR);
		}
		pthread_join(dies.th, NULL);
		if (dies.fd >= 0) {
			close(dies.fd);
			dies.fd = -1;
		}
		h->listening = false;
	}
	free(dies.t);
	dies.t = NULL;
	dies.n = dies.cap = 0;
	free(dies.name);
	dies.name = NULL;
}

/* ---- the host ---- */

char *bd_binary_default(const char *argv0)
{
	const char *env = getenv("BG_BINARY");
	if (env && *env) {
		return bg_xstrdup(env);
	}
	char *d = bg_xstrdup(argv0);
	char *slash = strrchr(d, '/');
	char *p = slash ? (*slash = '\0', bg_xasprintf("%s/../bluegreen", d))
			: bg_xstrdup("../bluegreen");
	free(d);
	char real[PATH_MAX];
	if (realpath(p, real)) {
		free(p);
		return bg_xstrdup(real);
	}
	return p;
}

bool bd_docker_up(void)
{
	struct th_run r;
	char *argv[] = {"curl", "-sS", "--max-time", "5", "--unix-socket",
			(char *)th_docker_sock(), "http://localhost/_ping", NULL};
	th_run_argv(argv, NULL, &r);
	bool up = r.status == 0 && strcmp(r.out, "OK") == 0;
	th_run_release(&r);
	return up;
}

void bd_host_init(struct bd_host *h, const char *tag, const char *argv0)
{
	memset(h, 0, sizeof(*h));
	h->tag = tag;
	h->bin = bd_binary_default(argv0);
	h->rfd = -1;
}

int bd_host_run(struct bd_host *h, struct th_run *r, const char *a1, const char *a2)
{
	char *argv[] = {h->bin, "-c", h->dir, (char *)a1, (char *)a2, NULL};
	char *env[] = {"NO_COLOR=1", "BLUEGREEN_CONFIG=", NULL};
	return th_run_argv(argv, env, r);
}

void bd_site_write(struct bd_host *h, size_t i, const char *extra)
{
	char *rel = bg_xasprintf("sites/%s.conf", h->names[i]);
	char *conf = bg_xasprintf(
		"site: %s\n"
		"domains: [%s.localhost]\n"
		"image: bluegreen-test/web:v1\n"
		"port: 8080\n"
		"health: {path: /healthz, interval: 200ms, timeout: 1s, retries: 25}\n"
		"stop_timeout: 2s\n"
		"%s", h->names[i], h->names[i], extra ? extra : "");
	th_write(h->dir, rel, conf);
	free(conf);
	free(rel);
}

int bd_host_deploy(struct bd_host *h, const char *prefix, const char *global_extra,
		int64_t *apply_ms)
{
	struct th_run r;
	h->dir = th_tmpdir(h->tag);
	h->nginx_port = th_nginx_start_free(h->dir);
	h->edge_net = bg_xasprintf("%s%s-edge", prefix, th_run_id());
	for (size_t i = 0; i < BD_SITES; i++) {
		h->names[i] = bg_xasprintf("%s%s-s%02zu", prefix, th_run_id(), i + 1);
		bd_site_write(h, i, NULL);
	}
	char *ny = th_nginx_edge_yaml(h->nginx_port);
	char *g = bg_xasprintf("install_mode: development\nstate_dir: state\nedge:\n  kind: nginx\n"
			"  network: %s\n%s%s", h->edge_net, ny, global_extra ? global_extra : "");
	th_write(h->dir, "global.conf", g);
	free(g);
	free(ny);
	bd_host_run(h, &r, "plan", NULL);
	char *tok = th_plan_token(r.out);
	th_run_release(&r);
	int64_t t0 = bg_mono_ms();
	int rc = tok && bd_host_run(h, &r, "apply", tok) == 0 ? 0 : -1;
	*apply_ms = bg_mono_ms() - t0;
	if (rc) {
		printf("%s: deploying the %d sites failed:\n%s%s\n", h->tag, BD_SITES,
				tok ? r.out : "", tok ? r.err : "no token");
	}
	if (tok) {
		th_run_release(&r);
	}
	free(tok);
	return rc;
}

pid_t bd_host_spawn(struct bd_host *h, char *const *args, int fd_out, const char *file_out,
		const char *nice)
{
	posix_spawn_file_actions_t fa;
	struct bg_strv env, argv;
	pid_t pid = -1;
	bg_strv_init(&env);
	bg_strv_init(&argv);
	for (char **e = environ; *e; e++) {
		if (!bg_str_has_prefix(*e, "BLUEGREEN_CONFIG=") && !bg_str_has_prefix(*e, "NO_COLOR=")) {
			bg_strv_push(&env, *e);
		}
	}
	bg_strv_push(&env, "NO_COLOR=1");
	if (nice) {
		bg_strv_push(&argv, "nice");
		bg_strv_push(&argv, "-n");
		bg_strv_push(&argv, nice);
	}
	bg_strv_push(&argv, h->bin);
	bg_strv_push(&argv, "-c");
	bg_strv_push(&argv, h->dir);
	for (char *const *a = args; *a; a++) {
		bg_strv_push(&argv, *a);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (file_out) {
		posix_spawn_file_actions_addopen(&fa, 1, file_out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	} else {
		posix_spawn_file_actions_adddup2(&fa, fd_out, 1);
	}
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawnp(&pid, argv.v[0], &fa, NULL, argv.v, env.v) != 0) {
		pid = -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	bg_strv_release(&env);
	bg_strv_release(&argv);
	return pid;
}

int bd_daemon_start(struct bd_host *h)
{
	char *dargs[] = {"watch", NULL};
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		printf("%s: pipe: %s\n", h->tag, strerror(errno));
		return -1;
	}
	h->daemon_pid = bd_host_spawn(h, dargs, pfd[1], NULL, NULL);
	close(pfd[1]);
	h->rfd = pfd[0];
	h->log = bg_xasprintf("%s-daemon.log", h->dir);
	rd.copy = fopen(h->log, "w");
	rd.fd = pfd[0];
	h->reading = pthread_create(&rd.th, NULL, rd_main, NULL) == 0;
	if (h->daemon_pid < 0) {
		h->daemon_pid = 0;
		printf("%s: cannot start the daemon\n", h->tag);
		return -1;
	}
	size_t from = 0;
	if (!h->reading || bd_plan_wait(&from, "daemon started", 30000) < 0) {
		printf("%s: the daemon printed no first plan\n", h->tag);
		return -1;
	}
	return 0;
}

int bd_daemon_stop(struct bd_host *h)
{
	int st = -1;
	if (h->daemon_pid > 0) {
		kill(h->daemon_pid, SIGTERM);
		st = th_wait(h->daemon_pid);
		h->daemon_pid = 0;
	}
	if (h->reading) {
		pthread_join(rd.th, NULL);
		h->reading = false;
	}
	if (h->rfd >= 0) {
		close(h->rfd);
		h->rfd = -1;
	}
	if (rd.copy) {
		fclose(rd.copy);
		rd.copy = NULL;
	}
	return st;
}

/* ---- the timed trials ---- */

void bd_victim_init(struct bd_victim *v, const struct bd_host *h, size_t i)
{
	v->cname = bg_xasprintf("%s-blue", h->names[i]);
	v->kill_path = bg_xasprintf("/containers/%s/kill", v->cname);
	v->start_path = bg_xasprintf("/containers/%s/start", v->cname);
	v->died = bg_xasprintf("drift: %s stopped outside bluegreen", v->cname);
	v->started = bg_xasprintf("drift: %s started outside bluegreen", v->cname);
}

void bd_victim_release(struct bd_victim *v)
{
	free(v->cname);
	free(v->kill_path);
	free(v->start_path);
	free(v->died);
	free(v->started);
	memset(v, 0, sizeof(*v));
}

int64_t bd_edit_time(struct bd_host *h, int n, const char *why)
{
	char *extra = bg_xasprintf("env: {BENCH: \"%d\"}\n", n);
	size_t from = bd_lines_now();
	int64_t t0 = bg_mono_ms();
	bd_site_write(h, 0, extra);
	int64_t t1 = bd_plan_wait(&from, why, 10000);
	free(extra);
	usleep(300 * 1000);
	return t1 >= 0 ? t1 - t0 : -1;
}

int bd_kill_time(struct dk_client *dk, const struct bd_victim *v, struct bd_kill *k)
{
	struct bg_diag d;
	long status = 0;
	k->req = k->eng = k->die = -1;
	bg_diag_init(&d);
	size_t from = bd_lines_now();
	int64_t t0 = bg_mono_ms();
	int err = dk_request(dk, "POST", v->kill_path, NULL, &status, NULL, &d);
	if (err) {
		bg_diag_release(&d);
		return err;
	}
	int64_t t1 = bd_plan_wait(&from, v->died, 10000);
	int64_t dt = t1 >= 0 ? bd_dies_after(t0) : -1;
	if (t1 >= 0) {
		k->req = t1 - t0;
	}
	if (dt >= 0) {
		k->eng = dt - t0;
		k->die = t1 > dt ? t1 - dt : 0;
	}
	dk_request(dk, "POST", v->start_path, NULL, &status, NULL, &d);
	bd_plan_wait(&from, v->started, 10000);
	usleep(300 * 1000);
	bg_diag_release(&d);
	return 0;
}

void bd_host_cleanup(struct bd_host *h)
{
	bd_daemon_stop(h);
	bd_dies_stop(h);
	for (size_t i = 0; i < BD_SITES; i++) {
		if (h->names[i]) {
			th_docker_cleanup_site(h->names[i]);
		}
	}
	if (h->edge_net) {
		th_docker_rm_network(h->edge_net);
	}
	if (h->dir) {
		if (h->nginx_port) {
			th_nginx_stop(h->dir);
		}
		th_rm_rf(h->dir);
	}
	for (size_t i = 0; i < rd.n; i++) {
		free(rd.v[i].text);
	}
	free(rd.v);
	rd.v = NULL;
	rd.n = rd.cap = 0;
	for (size_t i = 0; i < BD_SITES; i++) {
		free(h->names[i]);
	}
	free(h->edge_net);
	free(h->dir);
	free(h->bin);
	free(h->log);
	memset(h, 0, sizeof(*h));
	h->rfd = -1;
}

/* ---- figures ---- */

static int i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

int64_t bd_pct(int64_t *v, size_t n, int q)
{
	if (!n) {
		return -1;
	}
	qsort(v, n, sizeof(*v), i64_cmp);
	size_t k = ((size_t)q * n + 99) / 100;
	return v[k ? k - 1 : 0];
}

struct bd_dist bd_dist_of(int64_t *v, size_t n, int q)
{
	struct bd_dist d = {-1, -1, -1, -1, n, q};
	if (n) {
		d.p50 = bd_pct(v, n, 50); /* sorts v */
		d.top = bd_pct(v, n, q);
		d.min = v[0];
		d.max = v[n - 1];
	}
	return d;
}

struct json_object *bd_dist_json(const struct bd_dist *d)
{
	char key[16];
	if (!d->n) {
		return NULL;
	}
	snprintf(key, sizeof(key), "p%d", d->q);
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "p50", json_object_new_int64(d->p50));
	json_object_object_add(o, key, json_object_new_int64(d->top));
	json_object_object_add(o, "min", json_object_new_int64(d->min));
	json_object_object_add(o, "max", json_object_new_int64(d->max));
	json_object_object_add(o, "trials", json_object_new_int64((int64_t)d->n));
	return o;
}

void bd_json_write(const char *tag, const char *path, struct json_object *root)
{
	char *tmp = bg_xasprintf("%s.tmp", path);
	if (json_object_to_file_ext(tmp, root,
			    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) != 0 ||
			rename(tmp, path) != 0) {
		fprintf(stderr, "%s: cannot write %s: %s\n", tag, path, strerror(errno));
		unlink(tmp);
	}
	free(tmp);
	json_object_put(root);
}
