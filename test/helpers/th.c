/*
 * th: see th.h. Processes are run with posix_spawn and argv only, like the
 * product itself.
 */
#include "bg.h"
#include "th.h"
#include "bg-buf.h"
#include "bg-fs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <signal.h>
#include <dirent.h>
#include <time.h>
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

int64_t th_cmd_timeout_ms(void)
{
	const char *s = getenv("BG_TEST_CMD_TIMEOUT");
	long v = s && *s ? strtol(s, NULL, 10) : 0;
	return (v > 0 ? v : 180) * 1000;
}

void th_print_error(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
}

bool th_ci(void)
{
	const char *ci = getenv("CI");
	return ci && (strcmp(ci, "true") == 0 || strcmp(ci, "1") == 0);
}

bool th_under_valgrind(void)
{
	const char *pre = getenv("LD_PRELOAD");
	return pre && strstr(pre, "vgpreload") != NULL;
}

long th_time_scale(void)
{
	const char *s = getenv("BG_TEST_TIME_SCALE");
	long k = s && *s ? strtol(s, NULL, 10) : 1;
	return k > 1 ? k : 1;
}

int64_t th_time_limit(int64_t ms)
{
	return ms * th_time_scale() * (th_under_valgrind() ? 50 : 1);
}

size_t th_count(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);
	for (const char *p = hay; len && (p = strstr(p, needle)); p += len) {
		n++;
	}
	return n;
}

/* environ with env_extra's entries replacing (or adding) theirs. */
static void env_build(struct bg_strv *env, char *const env_extra[])
{
	bg_strv_init(env);
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
			bg_strv_push(env, *e);
		}
	}
	for (size_t i = 0; env_extra && env_extra[i]; i++) {
		if (strchr(env_extra[i], '=')) {
			bg_strv_push(env, env_extra[i]);
		}
	}
}

int th_run_argv_ex(char *const argv[], char *const env_extra[], int64_t timeout_ms,
		struct th_run *r)
{
	int po[2], pe[2];
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	pid_t pid;
	struct bg_strv env;

	memset(r, 0, sizeof(*r));
	env_build(&env, env_extra);
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		fail_msg("pipe: %s", strerror(errno));
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	/* Its own process group: a timeout kills what it started as well. */
	posix_spawnattr_init(&at);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&at, 0);
	int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, env.v);
	posix_spawnattr_destroy(&at);
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
	bool oo = true, oe = true, exited = false;
	int st = 0;
	int64_t deadline = timeout_ms > 0 ? bg_mono_ms() + timeout_ms : 0;
	int64_t linger_until = 0;
	r->out = bg_xstrdup("");
	r->err = bg_xstrdup("");
	co = ce = 1;
	/*
	 * Until both pipes are closed; a child that exited while something it
	 * started still holds them (a daemonising server) is not waited for
	 * beyond 2 s, and nothing is waited for beyond the deadline.
	 */
	while ((oo || oe) && !(exited && bg_mono_ms() >= linger_until)) {
		int64_t now = bg_mono_ms();
		if (deadline && now >= deadline && !r->timed_out) {
			r->timed_out = true;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			/* What is still buffered is read for the report, briefly. */
			deadline = now + 2000;
			continue;
		}
		if (deadline && now >= deadline) {
			break;
		}
		if (!exited) {
			pid_t w = waitpid(pid, &st, WNOHANG);
			if (w == pid) {
				exited = true;
				linger_until = bg_mono_ms() + 2000;
			}
		}
		int wait_ms = 100;
		struct pollfd p[2] = {{.fd = oo ? po[0] : -1, .events = POLLIN},
				{.fd = oe ? pe[0] : -1, .events = POLLIN}};
		if (poll(p, 2, wait_ms) < 0) {
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
	if (!exited) {
		if (r->timed_out) {
			kill(pid, SIGKILL);
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
		}
	}
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return r->status;
}

int th_run_argv(char *const argv[], char *const env_extra[], struct th_run *r)
{
	int64_t limit = th_cmd_timeout_ms();
	int st = th_run_argv_ex(argv, env_extra, limit, r);
	if (r->timed_out) {
		char *cmd = bg_argv_display(argv);
		/* Printed first: cmocka's fail longjmps and would lose it. */
		th_print_error("command timed out after %" PRId64 " s (BG_TEST_CMD_TIMEOUT), killed: "
				"%s\n--- its stdout:\n%s\n--- its stderr:\n%s\n", limit / 1000, cmd,
				r->out, r->err);
		th_run_release(r);
		fail_msg("command timed out after %" PRId64 " s: %s", limit / 1000, cmd);
	}
	return st;
}

int th_run_pty(char *const argv[], char *const env_extra[], struct th_run *r)
{
	char *cmd = bg_argv_display(argv);
	char *sargv[] = {"script", "-q", "-e", "-c", cmd, "/dev/null", NULL};
	int st = th_run_argv(sargv, env_extra, r);
	free(cmd);
	return st;
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
		/* First the message: _fail() longjmps out of the test. */
		th_print_error("%s:%d: expected %s\"%s\" in:\n%s\n", file, line,
				want ? "" : "no ", needle, haystack ? haystack : "(null)");
		_fail(file, line);
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

/* ---- runs alive and leftovers of runs that are gone ---- */

#define RUNS_DIR "/tmp/bluegreen-test-runs"

static char *run_lock_path(const char *id)
{
	return bg_xasprintf("%s/%s.lock", RUNS_DIR, id);
}

/* Hold an flock on RUNS_DIR/RUNID.lock for as long as this process lives. */
static void run_mark_alive(void)
{
	static int fd = -1;
	if (fd >= 0) {
		return;
	}
	bg_mkdir_p(RUNS_DIR, 0755);
	char *p = run_lock_path(th_run_id());
	/* CLOEXEC: a daemonised child (nginx) must not keep a dead run "alive". */
	fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
		char pid[32];
		int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (ftruncate(fd, 0) != 0 || write(fd, pid, (size_t)n) != n) {
			/* Diagnostics only: the lock is what matters. */
		}
		/*
		 * Not removed at exit: the file says "this run existed", so a
		 * later sweep knows at once that its leftovers (a teardown that
		 * could not finish) belong to a run that is gone.
		 */
	}
	free(p);
}

/* 1: alive, 0: gone (its lock file is not held), -1: no lock file. */
static int run_alive(const char *id)
{
	char *p = run_lock_path(id);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	int alive = -1;
	if (fd >= 0) {
		alive = flock(fd, LOCK_SH | LOCK_NB) == 0 ? 0 : 1;
		close(fd);
	}
	free(p);
	return alive;
}

static bool is_run_id(const char *s, size_t n)
{
	if (n != 7 || s[0] != 't') {
		return false;
	}
	for (size_t i = 1; i < 7; i++) {
		if (!strchr("0123456789abcdef", s[i])) {
			return false;
		}
	}
	return true;
}

/* The run id a name or label value starts with ("tXXXXXX-..." or exactly "tXXXXXX"). */
static bool run_of(const char *s, char id[8])
{
	if (!s || strlen(s) < 7 || !is_run_id(s, 7) || (s[7] != '-' && s[7] != '\0')) {
		return false;
	}
	memcpy(id, s, 7);
	id[7] = '\0';
	return true;
}

/* Seconds since the epoch from docker's "2006-01-02 15:04:05.999 +0000 UTC" or RFC 3339. */
static int64_t docker_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	int n = 0;
	if (sscanf(s, "%d-%d-%d%*c%d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			&tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6) {
		return -1;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	int64_t t = (int64_t)timegm(&tm);
	const char *p = s + n;
	p += strspn(p, ".0123456789");
	p += strspn(p, " ");
	if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int hh = 0, mm = 0;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) == 2 || sscanf(p + 1, "%2d%2d", &hh, &mm) == 2) {
			t -= sign * (hh * 3600 + mm * 60);
		}
	}
	return t;
}

struct sweep {
	char current[8];
	int64_t max_age_s;
	struct bg_strv dead;  /* run ids known gone */
	struct bg_strv alive; /* run ids known alive */
	unsigned removed;
};

/* Should objects of run `id`, created at `created` (-1: unknown), go? */
static bool sweep_run_gone(struct sweep *sw, const char *id, int64_t created)
{
	if (strcmp(id, sw->current) == 0 || bg_strv_contains(&sw->alive, id)) {
		return false;
	}
	if (bg_strv_contains(&sw->dead, id)) {
		return true;
	}
	int a = run_alive(id);
	if (a == 1) {
		bg_strv_push(&sw->alive, id);
		return false;
	}
	if (a == 0) {
		bg_strv_push(&sw->dead, id);
		return true;
	}
	/* No lock file: only by age, so a run of older helpers is never hit. */
	return created > 0 && (int64_t)time(NULL) - created > sw->max_age_s;
}

static void sweep_rm(struct sweep *sw, const char *what, const char *id, const char *name)
{
	struct th_run r;
	if (strcmp(what, "container") == 0) {
		th_docker(&r, "rm", "-f", id, NULL);
	} else if (strcmp(what, "network") == 0) {
		th_docker(&r, "network", "rm", id, NULL);
	} else {
		th_docker(&r, "volume", "rm", "-f", id, NULL);
	}
	if (r.status == 0) {
		sw->removed++;
		printf("# swept a leftover of a killed test run: %s %s\n", what, name);
	}
	th_run_release(&r);
}

/* `docker ... --format` lines "ID\tNAME\tSITE\tTEST\tCREATED", one object each. */
static void sweep_kind(struct sweep *sw, const char *what, char *const list_argv[])
{
	struct th_run r;
	th_run_argv(list_argv, NULL, &r);
	if (r.status != 0) {
		printf("# sweep: listing %ss failed: %s", what, r.err);
		th_run_release(&r);
		return;
	}
	char *save = NULL;
	for (char *l = strtok_r(r.out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *f[5] = {NULL};
		char *p = l;
		for (int i = 0; i < 5; i++) {
			f[i] = p;
			p = p ? strchr(p, '\t') : NULL;
			if (p) {
				*p++ = '\0';
			}
		}
		const char *id = f[0], *name = f[1] ? f[1] : "", *site = f[2], *test = f[3];
		char run[8];
		bool ours = run_of(site, run) || run_of(test, run) ||
				(strcmp(what, "network") == 0 && run_of(name, run) &&
						bg_str_has_suffix(name, "-edge"));
		if (!ours || !id || !*id) {
			continue;
		}
		int64_t created = f[4] && *f[4] ? docker_time(f[4]) : -1;
		if (created < 0 && strcmp(what, "volume") == 0 &&
				!bg_strv_contains(&sw->dead, run) && !bg_strv_contains(&sw->alive, run) &&
				strcmp(run, sw->current) != 0) {
			struct th_run ri;
			th_docker(&ri, "volume", "inspect", "-f", "{{.CreatedAt}}", id, NULL);
			created = ri.status == 0 ? docker_time(ri.out) : -1;
			th_run_release(&ri);
		}
		if (sweep_run_gone(sw, run, created)) {
			sweep_rm(sw, what, id, name);
		}
	}
	th_run_release(&r);
}

void th_docker_sweep(void)
{
	struct sweep sw;
	memset(&sw, 0, sizeof(sw));
	snprintf(sw.current, sizeof(sw.current), "%s", th_run_id());
	const char *age = getenv("BG_TEST_SWEEP_AGE");
	long min = age && *age ? strtol(age, NULL, 10) : 30;
	sw.max_age_s = (min > 0 ? min : 30) * 60;
	bg_strv_init(&sw.dead);
	bg_strv_init(&sw.alive);
	const char *fmt = "{{.ID}}\t{{.Names}}\t{{.Label \"io.bluegreen.site\"}}\t"
			  "{{.Label \"bluegreen.test\"}}\t{{.CreatedAt}}";
	char *cargv[] = {"docker", "ps", "-a", "--no-trunc", "--format", (char *)fmt, NULL};
	sweep_kind(&sw, "container", cargv);
	/* Containers first: a network or volume in use cannot go. */
	const char *nfmt = "{{.ID}}\t{{.Name}}\t{{.Label \"io.bluegreen.site\"}}\t"
			   "{{.Label \"bluegreen.test\"}}\t{{.CreatedAt}}";
	char *nargv[] = {"docker", "network", "ls", "--no-trunc", "--format", (char *)nfmt, NULL};
	sweep_kind(&sw, "network", nargv);
	const char *vfmt = "{{.Name}}\t{{.Name}}\t{{.Label \"io.bluegreen.site\"}}\t"
			   "{{.Label \"bluegreen.test\"}}\t";
	char *vargv[] = {"docker", "volume", "ls", "--format", (char *)vfmt, NULL};
	sweep_kind(&sw, "volume", vargv);
	/* The lock files of runs that are gone, now that their objects are. */
	DIR *d = opendir(RUNS_DIR);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n != 12 || !bg_str_has_suffix(de->d_name, ".lock") ||
				!is_run_id(de->d_name, 7)) {
			continue;
		}
		char id[8];
		memcpy(id, de->d_name, 7);
		id[7] = '\0';
		if (strcmp(id, sw.current) != 0 && run_alive(id) == 0) {
			char *p = run_lock_path(id);
			unlink(p);
			free(p);
		}
	}
	if (d) {
		closedir(d);
	}
	bg_strv_release(&sw.dead);
	bg_strv_release(&sw.alive);
}

void th_docker_preamble(void)
{
	struct th_run r;
	char *argv[] = {"curl", "-sS", "--max-time", "5", "--unix-socket",
			(char *)th_docker_sock(), "http://localhost/_ping", NULL};
	th_run_argv_ex(argv, NULL, 30000, &r);
	bool up = r.status == 0 && strcmp(r.out, "OK") == 0;
	th_run_release(&r);
	if (!up) {
		if (th_ci()) {
			printf("Bail out! docker daemon socket %s does not answer (CI must start dockerd)\n",
					th_docker_sock());
			exit(1);
		}
		printf("1..0 # SKIP no docker daemon socket (%s)\n", th_docker_sock());
		exit(0);
	}
	run_mark_alive();
	th_docker_sweep();
	char *script = th_src_path("test/images/build.sh");
	char *bargv[] = {script, NULL};
	th_run_argv_ex(bargv, NULL, 600000, &r);
	if (r.status != 0) {
		printf("Bail out! test/images/build.sh failed%s: %s%s\n",
				r.timed_out ? " (timed out after 600 s)" : "", r.out, r.err);
		exit(1);
	}
	th_run_release(&r);
	free(script);
}

void th_images_svc_build(void)
{
	char *script = th_src_path("test/images/build-svc.sh");
	char *argv[] = {"sh", script, NULL};
	struct th_run r;
	th_run_argv_ex(argv, NULL, 300000, &r);
	if (r.status != 0) {
		printf("Bail out! test/images/build-svc.sh failed: %s%s\n", r.out, r.err);
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

/* Start nginx on port; false (with nginx's error in *err) when it could not. */
static bool nginx_try_start(const char *dir, int port, char **err)
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
	free(prefix);
	*err = NULL;
	if (r.status != 0) {
		*err = bg_xasprintf("%s%s", r.out, r.err);
		th_run_release(&r);
		return false;
	}
	th_run_release(&r);
	char *url = bg_xasprintf("http://127.0.0.1:%d/", port);
	int code = -1;
	char *body = NULL;
	for (int i = 0; i < 50; i++) {
		free(body);
		code = th_http_get(url, &body);
		if (code == 404 && body && strstr(body, "no site")) {
			break;
		}
		usleep(100 * 1000);
	}
	bool ok = code == 404 && body && strstr(body, "no site");
	if (!ok) {
		*err = bg_xasprintf("nginx on port %d does not answer as ours (HTTP %d: %s)", port,
				code, body ? body : "-");
		th_nginx_stop(dir);
	}
	free(body);
	free(url);
	return ok;
}

int th_nginx_start_free(const char *dir)
{
	char *err = NULL;
	for (int attempt = 1; attempt <= 10; attempt++) {
		int port = th_free_port();
		if (nginx_try_start(dir, port, &err)) {
			return port;
		}
		bool race = strstr(err, "Address already in use") != NULL;
		print_message("# nginx on port %d: %s%s\n", port, err,
				race ? " (taken since th_free_port: another port)" : "");
		if (!race) {
			break;
		}
		free(err);
		err = NULL;
	}
	th_print_error("nginx did not start: %s\n", err ? err : "ports kept being taken");
	free(err);
	fail_msg("nginx did not start");
	return -1;
}

/* Child processes of pid (from /proc), for the workers of an nginx master. */
static void kill_children(pid_t parent)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9') {
			continue;
		}
		char path[300];
		char *st = NULL;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if (bg_file_read(path, 4096, &st, NULL) == 0) {
			const char *p = strrchr(st, ')');
			long ppid = 0;
			if (p && sscanf(p + 2, "%*c %ld", &ppid) == 1 && ppid == (long)parent) {
				kill((pid_t)atol(de->d_name), SIGKILL);
			}
		}
		free(st);
	}
	if (d) {
		closedir(d);
	}
}

void th_nginx_stop(const char *dir)
{
	char *prefix = bg_xasprintf("%s/nginx/", dir);
	char *pidf = bg_xasprintf("%s/nginx/nginx.pid", dir);
	char *pids = NULL;
	long master = 0;
	if (bg_file_read(pidf, 64, &pids, NULL) == 0) {
		master = atol(pids);
		free(pids);
	}
	struct th_run r;
	char *argv[] = {"nginx", "-p", prefix, "-c", "nginx.conf", "-s", "quit", NULL};
	th_run_argv_ex(argv, NULL, 30000, &r);
	th_run_release(&r);
	/* Wait for the master to go, so no nginx outlives its test. */
	for (int i = 0; i < 50 && access(pidf, F_OK) == 0; i++) {
		usleep(100 * 1000);
	}
	if (master > 1 && access(pidf, F_OK) == 0 && kill((pid_t)master, 0) == 0) {
		/* It did not quit (a worker stuck on a connection?): kill it, and its workers. */
		print_message("# nginx master %ld did not quit within 5 s: SIGKILL\n", master);
		kill_children((pid_t)master);
		kill((pid_t)master, SIGKILL);
		for (int i = 0; i < 50 && kill((pid_t)master, 0) == 0; i++) {
			usleep(100 * 1000);
		}
		unlink(pidf);
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
	env_build(&env, env_extra);
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
	int64_t limit = th_cmd_timeout_ms();
	int64_t deadline = bg_mono_ms() + limit;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid) {
			break;
		}
		if (w < 0 && errno != EINTR) {
			fail_msg("waitpid %ld: %s", (long)pid, strerror(errno));
		}
		if (bg_mono_ms() >= deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
			}
			fail_msg("background process %ld still running after %" PRId64 " s: killed",
					(long)pid, limit / 1000);
		}
		usleep(10 * 1000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool th_running(pid_t pid, int *status)
{
	int st = 0;
	pid_t w = waitpid(pid, &st, WNOHANG);
	if (w == pid) {
		if (status) {
			*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		return false;
	}
	return w == 0;
}

int th_unix_socket_at(const char *path, bool do_listen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (do_listen) {
		assert_int_equal(listen(fd, 8), 0);
	}
	return fd;
}

int th_run_stdin(char *const argv[], const char *input, char **out)
{
	int in[2], o[2];
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(o), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(o[1], 1);
		close(in[1]);
		close(o[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(o[1]);
	assert_int_equal(write(in[1], input, strlen(input)), (ssize_t)strlen(input));
	close(in[1]);
	struct bg_buf b = BG_BUF_INIT;
	char buf[4096];
	ssize_t n;
	while ((n = read(o[0], buf, sizeof(buf))) > 0) {
		bg_buf_add(&b, buf, (size_t)n);
	}
	close(o[0]);
	*out = bg_buf_detach(&b, NULL);
	return th_wait(pid);
}

char *th_wait_file(const char *path, const char *want, int ms)
{
	int64_t end = bg_mono_ms() + (int64_t)ms * th_time_scale();
	while (bg_mono_ms() < end) {
		char *s = NULL;
		if (bg_file_read(path, 1 << 20, &s, NULL) == 0 && strstr(s, want)) {
			return s;
		}
		free(s);
		usleep(100 * 1000);
	}
	return NULL;
}

void th_hey_result(const char *out, long *ok, long *failures)
{
	const char *p;
	*ok = 0;
	*failures = 0;
	p = strstr(out, "Status code distribution:");
	if (p) {
		for (p = strchr(p, '\n'); p && p[1] == ' '; p = strchr(p + 1, '\n')) {
			long code = 0, n = 0;
			if (sscanf(p + 1, " [%ld] %ld responses", &code, &n) == 2) {
				if (code >= 200 && code < 400) {
					*ok += n;
				} else {
					*failures += n;
				}
			}
		}
	}
	p = strstr(out, "Error distribution:");
	if (p) {
		for (p = strchr(p, '\n'); p && p[1] == ' '; p = strchr(p + 1, '\n')) {
			long n = 0;
			if (sscanf(p + 1, " [%ld]", &n) == 1) {
				*failures += n;
			}
		}
	}
}
