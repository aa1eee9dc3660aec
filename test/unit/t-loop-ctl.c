/*
 * t-loop-ctl: the daemon's apply queue as control-socket clients meet it
 * (issue 9, item 7), through the real `bluegreen watch` and its real
 * socket. The daemon is given a Docker socket that does not exist, so
 * nothing ever starts: every request stays queued ("waiting for the Docker
 * engine"), which is exactly the state these rules are about:
 *
 * - the same token twice runs once: the second client is refused at once,
 *   told that it is already queued; the same token with other --confirm
 *   phrases is new input (as in the approval file) and waits too;
 * - a queued request whose client has gone is dropped at once (and says
 *   so), so its token can be asked for again;
 * - at most QUEUE_MAX (16) requests wait; the next client is refused;
 * - SIGTERM answers every waiting client and the daemon exits 0;
 * - the journal has an outcome for every request it received (dropped,
 *   refused) and one for each refusal, and names as actor the client's
 *   user (its SO_PEERCRED uid), never the daemon's $SUDO_USER claim.
 *
 * What runs once an apply has started (the client leaving does not stop
 * it) is t-ctlsock's t_held_conn_survives_close_order and t-watch's.
 *
 * The stop flag the loop thread sets for the apply running in the thread
 * pool (issue 9, item 9) must be a C11 atomic, not a volatile int: checked
 * at compile time below, for apply_opts and for the reconcilers' context.
 */
#include "bg.h"
#include "bg-buf.h"
#include "apply.h"
#include "cfg.h"
#include "ctlsock.h"
#include "hist.h"
#include "watch.h"
#include "rec.h"
#include "th.h"

#include <stdatomic.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <pwd.h>
#include <unistd.h>

_Static_assert(_Generic(((struct apply_opts *)0)->cancel, atomic_int *: 1, default: 0),
		"apply_opts.cancel is shared between threads: it must be an atomic_int *");
_Static_assert(_Generic(((struct rec_apply_ctx *)0)->cancel, atomic_int *: 1, default: 0),
		"rec_apply_ctx.cancel is shared between threads: it must be an atomic_int *");

#define QUEUE_MAX 16 /* QUEUE_MAX in controller/daemon/queue.h */
#define HELLO "bluegreen-control 1"
#define WAITING "waiting for the Docker engine"

static char *root, *cfg, *sock, *log_path;
static pid_t daemon_pid;

static const char *bin(void)
{
	const char *b = getenv("BG_BINARY");
	return b && *b ? b : "bluegreen";
}

static char *tok(unsigned i)
{
	return bg_xasprintf("%016x", 0xa0000000u + i);
}

/* Everything the daemon printed so far. */
static char *daemon_log(void)
{
	char *data = NULL;
	if (bg_file_read(log_path, 16u * 1024 * 1024, &data, NULL) != 0) {
		return bg_xstrdup("");
	}
	return data;
}

static bool wait_log(const char *want, int64_t ms)
{
	int64_t end = bg_mono_ms() + th_time_limit(ms);
	while (bg_mono_ms() < end) {
		char *l = daemon_log();
		bool found = strstr(l, want) != NULL;
		free(l);
		if (found) {
			return true;
		}
		usleep(20000);
	}
	return false;
}

/*
 * Connect and send a request for token; read until the answer holds
 * `until` or ends (EOF, or nothing for a few seconds). Returns the socket,
 * still open; *answer gets what was read.
 */
static int request_c(const char *token, const char *const *confirms, const char *until,
		char **answer)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, sock, strlen(sock) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct timeval tv = {.tv_sec = 3 * th_time_scale()};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct bg_buf q = BG_BUF_INIT;
	bg_buf_addf(&q, HELLO "\napply %s\n", token);
	for (size_t i = 0; confirms && confirms[i]; i++) {
		char *enc = ctls_encode(confirms[i]);
		bg_buf_addf(&q, "confirm %s\n", enc);
		free(enc);
	}
	bg_buf_adds(&q, "go\n");
	assert_int_equal(send(fd, q.data, q.len, MSG_NOSIGNAL), (ssize_t)q.len);
	bg_buf_release(&q);
	struct bg_buf b = BG_BUF_INIT;
	char buf[4096];
	ssize_t n;
	while (!strstr(b.data, until) && (n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		bg_buf_add(&b, buf, (size_t)n);
	}
	*answer = bg_buf_detach(&b, NULL);
	return fd;
}

static int request(const char *token, const char *until, char **answer)
{
	return request_c(token, NULL, until, answer);
}

static int setup(void **state)
{
	root = th_tmpdir("loopctl");
	cfg = bg_xasprintf("%s/cfg", root);
	sock = bg_xasprintf("%s/state/control.sock", root);
	log_path = bg_xasprintf("%s/watch.out", root);
	char *g = bg_xasprintf("install_mode: development\nstate_dir: %s/state\ndocker:\n  "
			"socket: %s/no-docker.sock\nedge:\n  traefik:\n    dynamic_dir: %s/dynamic\n",
			root, root, root);
	th_write(cfg, "global.conf", g);
	free(g);
	char *argv[] = {(char *)bin(), "-c", cfg, "watch", NULL};
	/* A claim of the daemon's own environment: it says nothing about its clients. */
	char *env[] = {"NO_COLOR=1", "BLUEGREEN_CONFIG=", "SUDO_USER=mallory", NULL};
	daemon_pid = th_spawn_bg(argv, env, log_path);
	if (!wait_log("watch: started", 10000) || !wait_log("docker disconnected", 10000)) {
		char *l = daemon_log();
		th_print_error("the daemon did not start:\n%s\n", l);
		free(l);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	if (daemon_pid > 0 && th_running(daemon_pid, NULL)) {
		kill(daemon_pid, SIGKILL);
		th_wait(daemon_pid);
	}
	th_rm_rf(root);
	free(root);
	free(cfg);
	free(sock);
	free(log_path);
	return 0;
}

/* What the test reads back from the journal. */
struct jent {
	char *actor, *action, *token, *result, *details, *sudo_user;
};

struct jlist {
	struct jent v[128];
	size_t n;
};

static int jlist_add(const struct hist_entry *e, void *arg)
{
	struct jlist *l = arg;
	assert_true(l->n < BG_ARRAY_SIZE(l->v));
	struct jent *j = &l->v[l->n++];
	j->actor = bg_xstrdup(e->actor);
	j->action = bg_xstrdup(e->action);
	j->token = bg_xstrdup(e->token);
	j->result = bg_xstrdup(e->result);
	j->details = bg_xstrdup(e->details);
	j->sudo_user = bg_xstrdup(e->sudo_user);
	return 0;
}

static void jlist_release(struct jlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct jent *j = &l->v[i];
		free(j->actor);
		free(j->action);
		free(j->token);
		free(j->result);
		free(j->details);
		free(j->sudo_user);
	}
	l->n = 0;
}

static void jlist_read(const char *state_dir, struct jlist *l)
{
	struct hist *h = NULL;
	l->n = 0;
	assert_int_equal(hist_open(&h, state_dir, HIST_RDONLY, NULL), 0);
	assert_int_equal(hist_foreach(h, NULL, 0, 0, jlist_add, l), 0);
	hist_close(h);
}

/* The first entry from index `from` on with this token and result (NULL: none). */
static struct jent *jfind(struct jlist *l, size_t from, const char *token, const char *result,
		const char *details)
{
	for (size_t i = from; i < l->n; i++) {
		struct jent *j = &l->v[i];
		if (j->token && strcmp(j->token, token) == 0 && strcmp(j->result, result) == 0 &&
				(!details || (j->details && strstr(j->details, details)))) {
			return j;
		}
	}
	return NULL;
}

/*
 * After t_queue_rules: every "received" entry has an outcome after it,
 * the refusals are journaled, and the client (this process) is the actor
 * of all of them, with no claim beside it (the daemon's SUDO_USER is
 * mallory).
 */
static void check_journal(const char *a0, const char *over)
{
	char *state = bg_xasprintf("%s/state", root);
	char *me = bg_actor_of_uid((long)getuid());
	struct jlist *l = bg_xcalloc(1, sizeof(*l));
	jlist_read(state, l);
	size_t received = 0;
	bool used[BG_ARRAY_SIZE(l->v)] = {false};
	for (size_t i = 0; i < l->n; i++) {
		struct jent *j = &l->v[i];
		if (strcmp(j->result, "received") == 0) {
			received++;
			assert_string_equal(j->action, "approve");
			/* Its outcome: a later apply entry of that token not yet matched. */
			size_t k = i + 1;
			while (k < l->n && (used[k] || !l->v[k].token ||
					strcmp(l->v[k].token, j->token) != 0 ||
					strcmp(l->v[k].action, "apply") != 0)) {
				k++;
			}
			if (k == l->n) {
				fail_msg("journal: apply %s was received (entry %zu) and has no outcome",
						j->token, i + 1);
			}
			used[k] = true;
			assert_true(strcmp(l->v[k].result, "dropped") == 0 ||
					strcmp(l->v[k].result, "refused") == 0);
		}
		if (strcmp(j->action, "apply") == 0 || strcmp(j->action, "approve") == 0) {
			assert_string_equal(j->actor, me);
			assert_null(j->sudo_user);
		}
	}
	/* a0, a0 again, a0 with phrases, tokens 1..14. */
	assert_int_equal(received, QUEUE_MAX + 1);
	assert_non_null(jfind(l, 0, a0, "dropped", "its client went away before it started"));
	assert_non_null(jfind(l, 0, a0, "refused", "already queued (control socket: pid "));
	assert_non_null(jfind(l, 0, over, "refused", "16 applies queued already"));
	assert_non_null(jfind(l, 0, a0, "dropped", "the watch daemon stopped before"));
	jlist_release(l);
	free(l);
	free(me);
	free(state);
}

static void t_queue_rules(void **state)
{
	char *a0 = tok(0), *ans = NULL;
	int fds[QUEUE_MAX];
	size_t n_fds = 0;

	/* Queued: told it waits for the engine. */
	int first = request(a0, WAITING, &ans);
	th_assert_contains(ans, WAITING);
	free(ans);

	/* The same token again: refused at once, the first one untouched. */
	int dup = request(a0, "exit ", &ans);
	th_assert_contains(ans, "err bluegreen: error: apply ");
	th_assert_contains(ans, " is already queued in the watch daemon (control socket: pid ");
	th_assert_contains(ans, "it runs once");
	th_assert_contains(ans, "exit 1\n");
	th_assert_not_contains(ans, WAITING);
	free(ans);
	close(dup);
	assert_true(wait_log("requested again", 5000));

	/*
	 * Its client goes: dropped at once (nothing else happens meanwhile),
	 * and the same token can be asked for again.
	 */
	close(first);
	char *want = bg_xasprintf("apply %s not started (control socket: pid", a0);
	assert_true(wait_log(want, 5000));
	assert_true(wait_log("dropped: its client went away before it started", 5000));
	free(want);
	fds[n_fds++] = request(a0, WAITING, &ans);
	th_assert_contains(ans, WAITING);
	th_assert_not_contains(ans, "already queued");
	free(ans);

	/*
	 * The same token with --confirm phrases is a corrected request, not
	 * the same one: it waits too. The same phrases again (in any order)
	 * are the same request: refused.
	 */
	const char *ph[] = {"Ship It", "of course", NULL};
	const char *ph_swapped[] = {"of course", "Ship It", NULL};
	fds[n_fds++] = request_c(a0, ph, WAITING, &ans);
	th_assert_contains(ans, WAITING);
	th_assert_not_contains(ans, "already queued");
	free(ans);
	dup = request_c(a0, ph_swapped, "exit ", &ans);
	th_assert_contains(ans, " is already queued in the watch daemon (control socket: pid ");
	th_assert_contains(ans, "exit 1\n");
	free(ans);
	close(dup);

	/* Up to QUEUE_MAX wait; the next is refused. */
	for (unsigned i = 1; n_fds < QUEUE_MAX; i++) {
		char *t = tok(i);
		fds[n_fds++] = request(t, WAITING, &ans);
		th_assert_contains(ans, WAITING);
		free(ans);
		free(t);
	}
	char *over = tok(QUEUE_MAX);
	int o = request(over, "exit ", &ans);
	th_assert_contains(ans, "err bluegreen: error: the watch daemon has 16 applies queued "
			"already");
	th_assert_contains(ans, "exit 1\n");
	free(ans);
	close(o);

	/* Stopping answers every waiting client. */
	assert_int_equal(kill(daemon_pid, SIGTERM), 0);
	for (size_t i = 0; i < n_fds; i++) {
		char buf[4096];
		struct bg_buf b = BG_BUF_INIT;
		ssize_t n;
		while ((n = recv(fds[i], buf, sizeof(buf), 0)) > 0) {
			bg_buf_add(&b, buf, (size_t)n);
		}
		th_assert_contains(b.data, "exit 1\n");
		bg_buf_release(&b);
		close(fds[i]);
	}
	assert_int_equal(th_wait(daemon_pid), 0);
	daemon_pid = 0;
	check_journal(a0, over);
	free(over);
	free(a0);
}

/*
 * The actor of a client's request: its uid's user on our host, as
 * bg_actor() names ours; "uid N" for a uid with no name.
 */
static void t_peer_actor(void **state)
{
	char host[128] = "localhost";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	/* Our own uid: by name, as the passwd file has it (bg_actor is the same). */
	struct passwd *pw = getpwuid(getuid());
	assert_non_null(pw);
	char *me = bg_actor_of_uid((long)getuid());
	char *mine = bg_xasprintf("%s@%s", pw->pw_name, host);
	assert_string_equal(me, mine);
	assert_string_equal(bg_actor(), mine);
	free(mine);
	free(me);
	char *r = bg_actor_of_uid(0);
	char *want = bg_xasprintf("root@%s", host);
	assert_string_equal(r, want);
	free(want);
	free(r);
	char *none = bg_actor_of_uid(3999999);
	want = bg_xasprintf("uid 3999999@%s", host);
	assert_string_equal(none, want);
	free(want);
	free(none);
	char *unknown = bg_actor_of_uid(-1);
	want = bg_xasprintf("unknown uid@%s", host);
	assert_string_equal(unknown, want);
	free(want);
	free(unknown);
}

/*
 * apply_run journals as apply_opts.actor when one is given (the daemon
 * passes its client's), with no $SUDO_USER claim beside it; as ours
 * otherwise. A configuration without install_mode is refused before any
 * Docker call, which is all this needs.
 */
static void t_apply_run_actor(void **state)
{
	char *dir = th_tmpdir("applyactor");
	char *sd = bg_xasprintf("%s/state", dir);
	assert_int_equal(mkdir(sd, 0700), 0);
	struct hist *h = NULL;
	assert_int_equal(hist_open(&h, sd, 0, NULL), 0);
	struct cfg c;
	memset(&c, 0, sizeof(c));
	c.g.state_dir = sd;
	const char *actors[] = {"alice@elsewhere", NULL};
	for (size_t i = 0; i < BG_ARRAY_SIZE(actors); i++) {
		struct apply_opts o = {.token = "ab12ab12ab12ab12", .actor = actors[i]};
		struct apply_outcome out;
		struct bg_diag d;
		apply_outcome_init(&out);
		bg_diag_init(&d);
		apply_run(&c, NULL, h, &o, &out, &d);
		assert_int_equal(out.exit, BG_EXIT_REFUSED);
		apply_outcome_release(&out);
		bg_diag_release(&d);
	}
	hist_close(h);
	struct jlist *l = bg_xcalloc(1, sizeof(*l));
	jlist_read(sd, l);
	assert_int_equal(l->n, 2);
	assert_string_equal(l->v[0].result, "refused");
	assert_string_equal(l->v[0].actor, "alice@elsewhere");
	assert_null(l->v[0].sudo_user);
	assert_string_equal(l->v[1].actor, bg_actor());
	jlist_release(l);
	free(l);
	th_rm_rf(dir);
	free(sd);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_queue_rules),
		cmocka_unit_test(t_peer_actor),
		cmocka_unit_test(t_apply_run_actor),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
