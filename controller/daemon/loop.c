/*
 * loop: see loop.h. Everything here runs on the loop thread except the
 * body of a job (job_work), which runs in libuv's thread pool: a full
 * observation, a partial one, or apply_run. Only one job exists at a time,
 * and while it runs the loop never touches what the job reads (the
 * configuration, the worker's Docker client): configuration reloads and
 * snapshot updates wait for the job to finish, and events meanwhile only
 * set flags. Every state change ends in schedule(), which decides what to
 * do next from those flags, in this order:
 *
 *   reload the configuration (debounced edits, SIGHUP, resync)
 *   read the approval file
 *   (nothing else while the engine is unreachable)
 *   start a queued apply            -> job
 *   full re-list (start, reconnect, after an apply, resync) -> job
 *   partial re-observe (config, networks, volumes changed) -> job
 *   re-inspect the containers events named (async, dkev)
 *   re-read the edge files (a plain file read)
 *   re-plan; print and journal the plan if its token changed
 *
 * The observation is kept in two parts: `cont`, the managed containers,
 * maintained from /events (one inspect per container event), and `rest`,
 * everything else (networks, volumes, image ids, name conflicts, edge
 * files, history facts), refreshed by jobs. Planning looks at both
 * through one struct obs that borrows the two parts' arrays.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-log.h"
#include "loop.h"
#include "apply.h"
#include "cfgwatch.h"
#include "cli.h"
#include "desired.h"
#include "ctlsock.h"
#include "dkev.h"
#include "edge.h"
#include "hist.h"
#include "lock.h"
#include "plan.h"
#include "rec.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reasons shown on a plan's "why:" line; more are counted, not listed. */
#define WHY_SHOWN 4
#define WHY_KEPT 64
#define APPROVE_MAX_BYTES (1024u * 1024)
/*
 * Most applies waiting in the queue for control-socket clients (the one
 * running is not counted). Applies run one at a time and each takes
 * seconds to minutes: a longer queue is somebody scripting `bluegreen
 * apply` in a loop, and each waiting client holds a connection
 * (CTLS_CONN_MAX). Beyond it a client is refused with exit 1.
 */
#define CTL_QUEUE_MAX 16

enum job_kind {
	JOB_FULL = 1, /* rec_observe_all */
	JOB_REST,     /* everything but the containers */
	JOB_APPLY,    /* apply_run */
};

/* One apply waiting for (or holding) the worker. */
struct ctl_req {
	struct ctl_req *next;
	char *token;            /* apply TOKEN, or */
	char *rollback_site;    /* rollback SITE --yes handed over */
	char *label;            /* "3f2a..." or "rollback SITE": what notes call it */
	struct bg_strv confirms;
	bool json, color;
	char *source;           /* for humans: "approve file line 3" */
	char *actor;            /* the client's user@host; NULL (approve file): ours */
	bool from_approve;
	struct ctls_conn *conn; /* NULL: nobody waits for the answer */
	bool told_wait;
};

struct ctl;

struct ctl_job {
	uv_work_t work;
	struct ctl *c;
	enum job_kind kind;
	const struct cfg *cfg; /* the loop keeps it alive and unchanged meanwhile */
	struct obs obs;
	struct bg_diag diag;
	int err;
	struct ctl_req *req;
	struct apply_outcome outcome;
	int64_t t0;
};

struct ctl {
	uv_loop_t loop;
	struct cli *cli;
	struct ctl_opts opts;
	char *dir;
	struct cfg *cfg;
	int64_t cfg_loaded_ms;
	char *state_dir, *docker_socket; /* fixed for the daemon's life */
	char *sock_path;
	struct bg_lock *lock;
	struct hist *hist;
	struct dk_client *wdk; /* the worker's blocking client */
	bool wdk_stale;
	struct dkev *ev;
	struct cfgw *cfgw;
	struct ctls *ctls;
	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t resync, retry;
	uv_async_t progress;
	uv_mutex_t pmu;
	struct bg_strv plines; /* progress lines from the worker, under pmu */
	bool handles_up;

	struct obs cont, rest;
	bool have_snapshot, connected, ever_connected, reconnected, note_unchanged;
	char *disconnect_reason;

	bool cfg_dirty, approve_dirty, need_full, need_rest, edge_dirty, want_plan;
	bool cfg_forced; /* the pending reload comes from a forced batch (cfgwatch.h) */
	bool retry_wait;
	uint64_t retry_ms;
	struct bg_strv cfg_files;
	char *reload_reason;
	struct bg_strv inspect, inflight;
	/*
	 * A die event already told what the inspect will say: plan now rather
	 * than wait for it (see die_predict).
	 */
	bool plan_early;
	struct bg_strv why;       /* reasons since the last printed plan: configuration, engine, applies */
	struct bg_strv why_drift; /* ... and drift, listed after them */
	size_t why_dropped;

	struct ctl_job *job;
	struct ctl_req *queue, **queue_tail;
	int64_t apply_end_ms;

	struct bg_strv seen;             /* approval tokens already handed to apply */
	struct bg_strv approve_reported; /* bad approval lines already reported */

	char last_token[PLAN_TOKEN_LEN + 1];
	char *last_cfg_diag;
	char *last_obs_error;

	atomic_int cancel; /* apply_opts.cancel of the running apply (apply.h) */
	bool stopping, shut, in_schedule, schedule_again;
	int exit_code;
};

static void schedule(struct ctl *c);

/* ---- output ---- */

static void note(struct ctl *c, const char *fmt, ...) BG_PRINTF(2, 3);

static void note(struct ctl *c, const char *fmt, ...)
{
	va_list ap;
	fputs("watch: ", c->cli->out);
	va_start(ap, fmt);
	vfprintf(c->cli->out, fmt, ap);
	va_end(ap);
	fputc('\n', c->cli->out);
	fflush(c->cli->out);
}

static void complain(struct ctl *c, const char *level, const char *fmt, ...) BG_PRINTF(3, 4);

static void complain(struct ctl *c, const char *level, const char *fmt, ...)
{
	va_list ap;
	fflush(c->cli->out);
	fprintf(c->cli->err, "watch: %s: ", level);
	va_start(ap, fmt);
	vfprintf(c->cli->err, fmt, ap);
	va_end(ap);
	fputc('\n', c->cli->err);
	fflush(c->cli->err);
}

static void print_diag(struct ctl *c, const struct bg_diag *d)
{
	fflush(c->cli->out);
	cli_print_diag(c->cli, d);
	fflush(c->cli->err);
}

static char *diag_text(const struct bg_diag *d)
{
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < d->n; i++) {
		int n = bg_diag_item_format(&d->items[i], NULL, 0);
		char *line = bg_xmalloc((size_t)n + 1);
		bg_diag_item_format(&d->items[i], line, (size_t)n + 1);
		bg_buf_addf(&b, "%s\n", line);
		free(line);
	}
	return bg_buf_detach(&b, NULL);
}

/* "a, b, c and 4 more" */
static char *join_some(const struct bg_strv *v, size_t shown, const char *sep)
{
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < v->n && i < shown; i++) {
		bg_buf_addf(&b, "%s%s", i ? sep : "", v->v[i]);
	}
	if (v->n > shown) {
		bg_buf_addf(&b, " and %zu more", v->n - shown);
	}
	return bg_buf_detach(&b, NULL);
}

static void strv_remove(struct bg_strv *v, const char *s)
{
	for (size_t i = 0; i < v->n; i++) {
		if (strcmp(v->v[i], s) == 0) {
			free(v->v[i]);
			memmove(&v->v[i], &v->v[i + 1], (v->n - i) * sizeof(v->v[0]));
			v->n--;
			return;
		}
	}
}

static void strv_add_unique(struct bg_strv *v, const char *s)
{
	if (!bg_strv_contains(v, s)) {
		bg_strv_push(v, s);
	}
}

/* ---- why a plan is printed ---- */

static void why_add(struct ctl *c, bool drift, const char *fmt, ...) BG_PRINTF(3, 4);

static void why_add(struct ctl *c, bool drift, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = bg_xvasprintf(fmt, ap);
	va_end(ap);
	struct bg_strv *list = drift ? &c->why_drift : &c->why;
	if (bg_strv_contains(&c->why, s) || bg_strv_contains(&c->why_drift, s)) {
		free(s);
	} else if (c->why.n + c->why_drift.n >= WHY_KEPT) {
		c->why_dropped++;
		free(s);
	} else {
		bg_strv_push_take(list, s);
	}
}

/*
 * What the operator did (or what happened to the engine) first, then
 * drift: when dockerd stops, the containers it kills are drift too, but
 * "docker reconnected" is the news.
 */
static char *why_text(struct ctl *c)
{
	if (!c->why.n && !c->why_drift.n) {
		return bg_xstrdup("re-observed");
	}
	struct bg_buf b = BG_BUF_INIT;
	size_t shown = 0, total = c->why.n + c->why_drift.n;
	for (size_t k = 0; k < 2; k++) {
		const struct bg_strv *l = k ? &c->why_drift : &c->why;
		for (size_t i = 0; i < l->n && shown < WHY_SHOWN; i++, shown++) {
			bg_buf_addf(&b, "%s%s", shown ? "; " : "", l->v[i]);
		}
	}
	if (total - shown + c->why_dropped) {
		bg_buf_addf(&b, "; and %zu more", total - shown + c->why_dropped);
	}
	return bg_buf_detach(&b, NULL);
}

static void why_clear(struct ctl *c)
{
	bg_strv_release(&c->why);
	bg_strv_release(&c->why_drift);
	c->why_dropped = 0;
}

/* ---- the approval file ---- */

void ctl_approvals_init(struct ctl_approvals *a)
{
	memset(a, 0, sizeof(*a));
}

void ctl_approvals_release(struct ctl_approvals *a)
{
	for (size_t i = 0; a && i < a->n; i++) {
		free(a->v[i].token);
		bg_strv_release(&a->v[i].confirms);
	}
	if (a) {
		free(a->v);
		ctl_approvals_init(a);
	}
}

/*
 * The next word of s from *pos: blanks separate words, "..." quotes
 * (with \" and \\), an unquoted '#' at the start of a word ends the line.
 * NULL at the end of the line; *bad set on an unterminated quote.
 */
static char *next_word(const char *s, size_t *pos, unsigned *col, bool *bad)
{
	struct bg_buf b = BG_BUF_INIT;
	size_t i = *pos;
	while (s[i] == ' ' || s[i] == '\t') {
		i++;
	}
	*col = (unsigned)i + 1;
	if (!s[i] || s[i] == '#') {
		*pos = i;
		return NULL;
	}
	while (s[i] && s[i] != ' ' && s[i] != '\t') {
		if (s[i] != '"') {
			bg_buf_addch(&b, s[i++]);
			continue;
		}
		for (i++; s[i] && s[i] != '"'; i++) {
			if (s[i] == '\\' && (s[i + 1] == '"' || s[i + 1] == '\\')) {
				i++;
			}
			bg_buf_addch(&b, s[i]);
		}
		if (s[i] != '"') {
			*bad = true;
			bg_buf_release(&b);
			*pos = i;
			return NULL;
		}
		i++;
	}
	*pos = i;
	return bg_buf_detach(&b, NULL);
}

static bool approve_line(const char *name, const char *line, unsigned lineno,
		struct ctl_approvals *out, struct bg_diag *d)
{
	struct bg_loc loc = {.file = name, .line = lineno};
	struct ctl_approval ap = {.line = lineno};
	size_t pos = 0;
	bool bad = false;
	char *w = next_word(line, &pos, &loc.col, &bad);

	if (!w) {
		if (bad) {
			bg_diag_error(d, &loc, "unterminated quote");
		}
		return !bad;
	}
	if (!apply_token_valid(w)) {
		/* Never the word itself: the file may not be what it claims (issue 9). */
		bg_diag_error(d, &loc, "not a plan token (%d lowercase hex characters, "
				"as printed by `bluegreen plan`)", PLAN_TOKEN_LEN);
		free(w);
		return false;
	}
	ap.token = w;
	bg_strv_init(&ap.confirms);
	while ((w = next_word(line, &pos, &loc.col, &bad))) {
		if (strcmp(w, "--confirm") == 0) {
			free(w);
			unsigned c0 = loc.col;
			w = next_word(line, &pos, &loc.col, &bad);
			if (!w) {
				loc.col = c0;
				bg_diag_error(d, &loc, bad ? "unterminated quote"
						: "--confirm needs the phrase after it");
				goto fail;
			}
			bg_strv_push_take(&ap.confirms, w);
		} else if (bg_str_has_prefix(w, "--confirm=")) {
			bg_strv_push(&ap.confirms, w + strlen("--confirm="));
			free(w);
		} else {
			bg_diag_error(d, &loc, "unexpected word (an approval is: TOKEN "
					"[--confirm TEXT]...)");
			free(w);
			goto fail;
		}
	}
	if (bad) {
		bg_diag_error(d, &loc, "unterminated quote");
		goto fail;
	}
	BG_GROW(out->v, out->cap, out->n + 1);
	out->v[out->n++] = ap;
	return true;
fail:
	free(ap.token);
	bg_strv_release(&ap.confirms);
	return false;
}

size_t ctl_approve_parse(const char *name, const char *data, size_t len,
		struct ctl_approvals *out, struct bg_diag *d)
{
	const char *p = data, *end = data + len;
	unsigned lineno = 0;
	size_t bad = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		char *line = bg_xstrndup(p, (size_t)(le - p));
		size_t n = strlen(line);
		lineno++;
		if (n && line[n - 1] == '\r') {
			line[n - 1] = '\0';
		}
		if (!approve_line(name, line, lineno, out, d)) {
			bad++;
		}
		free(line);
		p = nl ? nl + 1 : end;
	}
	return bad;
}

/* ---- approvals already taken (STATE_DIR/approve.seen) ---- */

/*
 * An approval is its token and its --confirm phrases: the same approval
 * is acted on once, ever (docs/watch.md), but a line whose phrases changed,
 * say a phrase added after a refusal for a missing one, is new input. The
 * journal keeps "TOKEN HASH", HASH being 16 hex digits of the SHA-256 of
 * the sorted phrases (never the phrases). A bare "TOKEN" line, as older
 * daemons wrote, covers every approval of that token.
 */
char *ctl_approval_key(const char *token, const struct bg_strv *confirms)
{
	struct bg_strv sorted;
	struct bg_sha256 *h = bg_sha256_new();
	char hex[65];

	bg_strv_init(&sorted);
	if (confirms && confirms->n) {
		bg_strv_copy(&sorted, confirms);
		bg_strv_sort(&sorted);
	}
	for (size_t i = 0; i < sorted.n; i++) {
		bg_sha256_update_str(h, sorted.v[i]);
	}
	bg_sha256_final_hex(h, hex);
	bg_strv_release(&sorted);
	return bg_xasprintf("%s %.16s", token, hex);
}

bool ctl_approval_seen(const struct bg_strv *seen, const char *token,
		const struct bg_strv *confirms)
{
	if (bg_strv_contains(seen, token)) {
		return true;
	}
	char *key = ctl_approval_key(token, confirms);
	bool yes = bg_strv_contains(seen, key);
	free(key);
	return yes;
}

static void seen_load(struct ctl *c)
{
	char *path = bg_xasprintf("%s/%s", c->state_dir, CTL_APPROVE_SEEN);
	char *data = NULL;
	if (bg_file_read(path, 64u * 1024 * 1024, &data, NULL) == 0) {
		char *save = NULL;
		for (char *t = strtok_r(data, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
			strv_add_unique(&c->seen, t);
		}
	}
	free(data);
	free(path);
}

/* Append line to path, a regular file of ours: never through a link or into a FIFO. */
static int seen_append(const char *path, const char *line)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
			0600);
	struct stat st;
	int err = 0;
	if (fd < 0) {
		return BG_ERRNO(errno);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err = BG_ERRNO(errno ? errno : EINVAL);
	} else if (write(fd, line, strlen(line)) != (ssize_t)strlen(line) || fsync(fd) != 0) {
		err = BG_ERRNO(errno ? errno : EIO);
	}
	close(fd);
	return err;
}

/*
 * Remember for good (before the apply starts, and before anything can
 * refuse it) that this approval was acted on.
 */
static void seen_add(struct ctl *c, const char *token, const struct bg_strv *confirms)
{
	char *path = bg_xasprintf("%s/%s", c->state_dir, CTL_APPROVE_SEEN);
	char *key = ctl_approval_key(token, confirms);
	char *line = bg_xasprintf("%s\n", key);
	strv_add_unique(&c->seen, key);
	errno = 0;
	int err = seen_append(path, line);
	if (err) {
		complain(c, "warning", "cannot record approval %s in %s (%s): after a restart "
				"it would be tried again (a used token is refused anyway)", token, path,
				bg_strerror(err));
	}
	free(line);
	free(key);
	free(path);
}

/* ---- the apply queue ---- */

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static void req_free(struct ctl_req *r)
{
	if (!r) {
		return;
	}
	free(r->token);
	free(r->rollback_site);
	free(r->label);
	bg_strv_release(&r->confirms);
	free(r->source);
	free(r->actor);
	free(r);
}

static void journal_request(struct ctl *c, const struct ctl_req *r)
{
	bool valid = r->token && apply_token_valid(r->token);
	struct hist_entry e = {
		.actor = r->actor,
		.action = r->rollback_site ? "rollback" : "approve",
		.site = r->rollback_site,
		.token = valid ? r->token : NULL,
		.result = "received",
		.details = r->source,
	};
	int err = hist_append(c->hist, &e, NULL);
	if (err) {
		complain(c, "warning", "cannot journal the approval of %s: %s",
				valid ? r->token : r->label, bg_strerror(err));
	}
}

static void enqueue(struct ctl *c, struct ctl_req *r)
{
	size_t ahead = c->job && c->job->kind == JOB_APPLY ? 1 : 0;
	for (struct ctl_req *q = c->queue; q; q = q->next) {
		ahead++;
	}
	*c->queue_tail = r;
	c->queue_tail = &r->next;
	journal_request(c, r);
	note(c, "%s%s requested (%s)%s", r->token ? "apply " : "", r->label, r->source,
			ahead ? ": queued behind the apply in progress" : "");
	if (r->conn && ahead) {
		ctls_conn_sendf(r->conn, CTLS_ERR, "bluegreen: the watch daemon is busy with "
				"another apply; this one starts when it is done (%zu ahead)", ahead);
	}
}

static struct ctl_req *dequeue(struct ctl *c)
{
	struct ctl_req *r = c->queue;
	if (r) {
		c->queue = r->next;
		if (!c->queue) {
			c->queue_tail = &c->queue;
		}
		r->next = NULL;
	}
	return r;
}

/*
 * Journal what became of a request apply_run never saw (dropped, refused),
 * so that each "received" entry has an outcome and each refusal a trace.
 */
static void journal_outcome(struct ctl *c, const char *token, const char *site,
		const char *actor, const char *result, const char *details)
{
	bool valid = token && apply_token_valid(token);
	struct hist_entry e = {
		.actor = (char *)actor,
		.action = site ? "rollback" : "apply",
		.site = (char *)site,
		.token = valid ? (char *)token : NULL,
		.result = (char *)result,
		.details = (char *)details,
	};
	int err = hist_append(c->hist, &e, NULL);
	if (err) {
		complain(c, "warning", "cannot journal that %s%s was %s: %s", site ? "rollback " :
				"apply ", site ? site : valid ? token : "(invalid token)", result,
				bg_strerror(err));
	}
}

/* Answer a request that never reached apply_run; result: "dropped" or "refused". */
static void req_refuse(struct ctl *c, struct ctl_req *r, const char *result, int code,
		const struct bg_diag *d, const char *fmt, ...) BG_PRINTF(6, 7);

static void req_refuse(struct ctl *c, struct ctl_req *r, const char *result, int code,
		const struct bg_diag *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = bg_xvasprintf(fmt, ap);
	va_end(ap);
	char *details = bg_xasprintf("%s (%s)", msg, r->source);
	journal_outcome(c, r->token, r->rollback_site, r->actor, result, details);
	free(details);
	if (r->conn) {
		if (d && d->n) {
			char *t = diag_text(d);
			ctls_conn_send(r->conn, CTLS_ERR, t);
			free(t);
		}
		ctls_conn_sendf(r->conn, CTLS_ERR, "bluegreen: %s", msg);
		ctls_conn_finish(r->conn, code);
	}
	note(c, "%s%s not started (%s): exit %d: %s", r->token ? "apply " : "", r->label,
			r->source, code, msg);
	free(msg);
	req_free(r);
}

/*
 * Queued requests whose client has gone (Ctrl-C, a killed script) are
 * dropped rather than run: nobody waits for them, and the person who
 * gave up may well run something else instead. An apply already started
 * is not in the queue and runs to its end; approval-file requests have no
 * client and always stay.
 */
static void queue_prune(struct ctl *c)
{
	struct ctl_req **pp = &c->queue;
	while (*pp) {
		struct ctl_req *r = *pp;
		if (r->conn && !ctls_conn_alive(r->conn)) {
			*pp = r->next;
			r->next = NULL;
			req_refuse(c, r, "dropped", BG_EXIT_ERROR, NULL, "dropped: its client "
					"went away before it started: nothing was changed");
			continue;
		}
		pp = &r->next;
	}
	c->queue_tail = pp;
}

/*
 * Does r ask for the same thing: the same rollback, or the same token with
 * the same --confirm phrases (in any order)? A token with other phrases is
 * new input, as in the approval file (ctl_approval_key): a corrected
 * phrase is not refused because the phrase-less request still waits.
 */
static bool req_asks(const struct ctl_req *r, const char *token, const char *site,
		const struct bg_strv *confirms)
{
	if (!token) {
		return str_eq(r->rollback_site, site);
	}
	if (!str_eq(r->token, token)) {
		return false;
	}
	char *a = ctl_approval_key(r->token, &r->confirms);
	char *b = ctl_approval_key(token, confirms);
	bool same = strcmp(a, b) == 0;
	free(a);
	free(b);
	return same;
}

/* The queued or running request that asks for the same thing, or NULL. */
static const struct ctl_req *req_same(struct ctl *c, const char *token, const char *site,
		const struct bg_strv *confirms)
{
	const struct ctl_req *run = c->job ? c->job->req : NULL;
	if (run && req_asks(run, token, site, confirms)) {
		return run;
	}
	for (const struct ctl_req *r = c->queue; r; r = r->next) {
		if (req_asks(r, token, site, confirms)) {
			return r;
		}
	}
	return NULL;
}

static size_t queue_length(const struct ctl *c)
{
	size_t n = 0;
	for (const struct ctl_req *r = c->queue; r; r = r->next) {
		n++;
	}
	return n;
}

/* ---- snapshot: containers from events ---- */

static void container_copy(struct obs_container *d, const struct obs_container *s)
{
	memset(d, 0, sizeof(*d));
	d->id = bg_xstrdup(s->id);
	d->name = bg_xstrdup(s->name);
	d->image = bg_xstrdup(s->image);
	d->image_id = bg_xstrdup(s->image_id);
	for (size_t i = 0; i < s->labels.n; i++) {
		obs_labels_set(&d->labels, s->labels.v[i].key, s->labels.v[i].value);
	}
	d->state = s->state;
	d->health = s->health;
	d->exit_code = s->exit_code;
	if (s->n_nets) {
		d->nets = bg_xcalloc(s->n_nets, sizeof(*d->nets));
		for (size_t i = 0; i < s->n_nets; i++) {
			d->nets[i].network = bg_xstrdup(s->nets[i].network);
			d->nets[i].ip = bg_xstrdup(s->nets[i].ip);
		}
		d->n_nets = s->n_nets;
	}
	obs_container_derive(d);
}

static ssize_t container_index(const struct obs *o, const char *id)
{
	for (size_t i = 0; i < o->n_containers; i++) {
		const char *cid = o->containers[i].id;
		/* Events carry full ids; accept a prefix as the engine does. */
		if (cid && (strcmp(cid, id) == 0 || bg_str_has_prefix(cid, id))) {
			return (ssize_t)i;
		}
	}
	return -1;
}

static void container_remove(struct ctl *c, const char *id)
{
	ssize_t i = container_index(&c->cont, id);
	if (i < 0) {
		return;
	}
	struct obs *o = &c->cont;
	obs_container_release(&o->containers[i]);
	memmove(&o->containers[i], &o->containers[i + 1],
			(o->n_containers - (size_t)i - 1) * sizeof(o->containers[0]));
	o->n_containers--;
}

/* Takes oc's contents. */
static void container_put(struct ctl *c, struct obs_container *oc)
{
	ssize_t i = container_index(&c->cont, oc->id);
	struct obs_container *slot;
	if (i >= 0) {
		slot = &c->cont.containers[i];
		obs_container_release(slot);
	} else {
		slot = obs_container_add(&c->cont);
	}
	*slot = *oc;
	memset(oc, 0, sizeof(*oc));
	obs_finish(&c->cont);
}

struct insp {
	struct ctl *c;
	char *id;
};

static void on_inspect(struct dkev *ev, long status, struct json_object *body, int err,
		const char *msg, void *arg)
{
	struct insp *q = arg;
	struct ctl *c = q->c;

	strv_remove(&c->inflight, q->id);
	if (err == BG_ECANCELLED || c->shut) {
		goto out;
	}
	if (err == BG_ENOT_FOUND) {
		container_remove(c, q->id);
		c->want_plan = true;
	} else if (err) {
		/* The engine went away: the reconnection re-lists everything anyway. */
		bg_trace(LOOP, "inspect %s: %s", q->id, msg ? msg : bg_strerror(err));
	} else {
		struct obs_container oc;
		struct bg_diag d;
		memset(&oc, 0, sizeof(oc));
		bg_diag_init(&d);
		if (dk_parse_container_inspect(body, &oc, &d) == 0) {
			const char *m = obs_labels_get(&oc.labels, BG_LABEL_MANAGED);
			if (m && strcmp(m, "true") == 0) {
				container_put(c, &oc);
			} else {
				container_remove(c, q->id);
				obs_container_release(&oc);
			}
			c->want_plan = true;
		} else {
			bg_trace(LOOP, "inspect %s: unreadable answer", q->id);
		}
		bg_diag_release(&d);
	}
out:
	free(q->id);
	free(q);
	schedule(c);
}

static void inspect_issue(struct ctl *c)
{
	struct bg_strv ids = c->inspect;
	bg_strv_init(&c->inspect);
	for (size_t i = 0; i < ids.n; i++) {
		char *esc = dk_url_escape(ids.v[i], false);
		char *path = bg_xasprintf("/containers/%s/json", esc);
		struct insp *q = bg_xcalloc(1, sizeof(*q));
		q->c = c;
		q->id = bg_xstrdup(ids.v[i]);
		if (dkev_request(c->ev, "GET", path, NULL, on_inspect, q) == 0) {
			bg_strv_push(&c->inflight, ids.v[i]);
		} else {
			free(q->id);
			free(q);
		}
		free(path);
		free(esc);
	}
	bg_strv_release(&ids);
}

/* ---- snapshot: the rest, from jobs ---- */

/*
 * rec_observe_all without the container list and inspects: the loop keeps
 * the containers up to date from events, and passes a copy in `o` so the
 * kinds that look for name conflicts see which names are ours.
 */
static void obs_take_containers(struct obs *dst, struct obs *src)
{
	for (size_t i = 0; i < dst->n_containers; i++) {
		obs_container_release(&dst->containers[i]);
	}
	free(dst->containers);
	dst->containers = src->containers;
	dst->n_containers = src->n_containers;
	dst->cap_containers = src->cap_containers;
	src->containers = NULL;
	src->n_containers = src->cap_containers = 0;
}

/*
 * Re-read the edge files (plain file reads, on the loop). A file whose
 * content differs from the last observation changed outside bluegreen:
 * our own writes happen inside applies, and every apply is followed by a
 * full observation that already holds them.
 */
static void edge_reread(struct ctl *c)
{
	struct obs t;
	struct bg_diag d;
	c->edge_dirty = false;
	obs_init(&t);
	bg_diag_init(&d);
	if (edge_observe(c->cfg, &t, &d) == 0) {
		obs_finish(&t);
		for (size_t i = 0; i < t.n_edges; i++) {
			const struct obs_edge *n = &t.edges[i];
			const struct obs_edge *o = obs_edge_find(&c->rest, n->site);
			if (o && o->exists == n->exists && str_eq(o->content_sha, n->content_sha)) {
				continue;
			}
			const char *slash = n->path ? strrchr(n->path, '/') : NULL;
			const char *name = slash ? slash + 1 : n->path ? n->path : n->site;
			why_add(c, true, "drift: edge file %s %s outside bluegreen", name,
					o && o->exists && !n->exists ? "removed" : "changed");
		}
		struct obs_edge *e = c->rest.edges;
		size_t n = c->rest.n_edges, cap = c->rest.cap_edges;
		c->rest.edges = t.edges;
		c->rest.n_edges = t.n_edges;
		c->rest.cap_edges = t.cap_edges;
		t.edges = e;
		t.n_edges = n;
		t.cap_edges = cap;
		obs_finish(&c->rest);
		c->want_plan = true;
	} else {
		print_diag(c, &d);
		c->need_rest = true;
	}
	bg_diag_release(&d);
	obs_release(&t);
}

/* ---- plans ---- */

static void journal_plan(struct ctl *c, const struct plan *p, const char *action,
		const char *why)
{
	struct bg_buf sum = BG_BUF_INIT;
	char *args = plan_args_to_json(&p->args);
	plan_render_summary(p, &sum);
	char *details = why ? bg_xasprintf("why: %s\n%s", why, sum.data) : bg_xstrdup(sum.data);
	struct hist_entry e = {
		.action = (char *)action,
		.token = (char *)p->token,
		.result = plan_changes(p) ? "pending" : "nothing-to-do",
		.details = details,
		.site = p->args.sites.n == 1 ? p->args.sites.v[0] : NULL,
	};
	int err = hist_plan_store(c->hist, p->token, args, sum.data);
	if (!err) {
		err = hist_append(c->hist, &e, NULL);
	}
	if (err) {
		complain(c, "warning", "plan %s was not journaled (%s): it can still be applied",
				p->token, bg_strerror(err));
	}
	free(details);
	free(args);
	bg_buf_release(&sum);
}

static void replan(struct ctl *c)
{
	struct plan_args args;
	struct plan p;
	struct bg_diag d;

	c->want_plan = false;
	c->plan_early = false;
	if (!c->have_snapshot) {
		return;
	}
	/* One view over both parts; plan_build only reads it. */
	struct obs view = c->rest;
	view.containers = c->cont.containers;
	view.n_containers = c->cont.n_containers;
	view.cap_containers = c->cont.cap_containers;

	plan_args_init(&args);
	plan_init(&p);
	bg_diag_init(&d);
	char *why = why_text(c);
	int err = plan_build(&p, c->cfg, &view, &args, &d);
	if (err) {
		print_diag(c, &d);
		complain(c, "error", "cannot plan (%s): %s", why, bg_strerror(err));
	} else if (strcmp(p.token, c->last_token) != 0) {
		char ts[32];
		bg_time_format_utc(bg_now_ms(), ts);
		fprintf(c->cli->out, "\n=== plan %s at %s\nwhy: %s\n", p.token, ts, why);
		cli_plan_exec_compare(c->cli, c->hist, &p);
		cli_plan_print(c->cli, c->cfg, &p);
		if (plan_changes(&p) > 0) {
			fprintf(c->cli->out, "  or approve it: echo %s >> %s/%s\n", p.token, c->dir,
					CFGW_APPROVE_NAME);
		}
		fflush(c->cli->out);
		/* Journaled as drift when only drift explains it. */
		journal_plan(c, &p, c->why_drift.n && !c->why.n ? "drift" : "plan", why);
		memcpy(c->last_token, p.token, sizeof(c->last_token));
	} else if (c->note_unchanged) {
		note(c, "plan unchanged (%s): %s", p.token, why);
	}
	c->note_unchanged = false;
	why_clear(c);
	free(why);
	bg_diag_release(&d);
	plan_release(&p);
	plan_args_release(&args);
}

/* ---- configuration ---- */

static const char *edge_dir_of(const struct cfg *cfg)
{
	return cfg->g.edge_kind == CFG_EDGE_NGINX ? cfg->g.nginx.conf_dir
						  : cfg->g.traefik.dynamic_dir;
}

static void rewatch(struct ctl *c)
{
	struct bg_diag d;
	bg_diag_init(&d);
	if (cfgw_watch(c->cfgw, c->dir, edge_dir_of(c->cfg), &d) != 0) {
		print_diag(c, &d);
	}
	bg_diag_release(&d);
}

/* Things a running daemon cannot change under its own feet. */
static const char *fixed_setting_changed(struct ctl *c, const struct cfg *n)
{
	if (strcmp(n->g.state_dir, c->state_dir) != 0) {
		return "state_dir";
	}
	if (strcmp(n->g.docker_socket, c->docker_socket) != 0) {
		return "docker.socket";
	}
	return NULL;
}

static void take_config(struct ctl *c, struct cfg *n)
{
	bool edge_moved = strcmp(edge_dir_of(n), edge_dir_of(c->cfg)) != 0;
	cfg_destroy(c->cfg);
	c->cfg = n;
	c->cfg_loaded_ms = bg_now_ms();
	if (c->cfg_files.n || c->reload_reason) {
		if (c->reload_reason) {
			why_add(c, false, "%s", c->reload_reason);
		}
		if (c->cfg_files.n) {
			char *files = join_some(&c->cfg_files, 3, ", ");
			why_add(c, false, "config changed: %s", files);
			free(files);
		}
	}
	bg_strv_release(&c->cfg_files);
	free(c->reload_reason);
	c->reload_reason = NULL;
	c->cfg_dirty = false;
	c->need_rest = true;
	if (edge_moved) {
		rewatch(c);
	}
}

/* Print diagnostics when they differ from the last ones printed (no repeats). */
static bool cfg_diag_show(struct ctl *c, const struct bg_diag *d)
{
	char *text = diag_text(d);
	bool changed = !c->last_cfg_diag || strcmp(text, c->last_cfg_diag) != 0;
	if (changed) {
		print_diag(c, d);
		free(c->last_cfg_diag);
		c->last_cfg_diag = text;
	} else {
		free(text);
	}
	return changed;
}

static void config_reload(struct ctl *c)
{
	struct cfg *n = NULL;
	struct bg_diag d;

	c->cfg_dirty = false;
	bg_diag_init(&d);
	int err = des_cfg_load(&n, c->dir, 0, &d);
	if (err && c->cfg_forced) {
		/* Maybe a file caught half written: the quiet batch that follows decides. */
		bg_trace(LOOP, "reload during a burst failed; waiting for quiet");
		c->cfg_forced = false;
		bg_diag_release(&d);
		return;
	}
	bool shown = cfg_diag_show(c, &d);
	if (err) {
		if (shown) {
			char ts[32];
			bg_time_format_utc(c->cfg_loaded_ms, ts);
			complain(c, "error", "configuration reload failed (%zu error%s): the "
					"configuration loaded at %s stays in use", d.n_errors,
					d.n_errors == 1 ? "" : "s", ts);
			struct hist_entry e = {
				.action = "error", .result = "config",
				.details = c->last_cfg_diag,
			};
			hist_append(c->hist, &e, NULL);
		}
		bg_strv_release(&c->cfg_files);
		free(c->reload_reason);
		c->reload_reason = NULL;
	} else if (fixed_setting_changed(c, n)) {
		complain(c, "error", "%s changed in the configuration: the running daemon "
				"keeps %s; restart it to use the new value (the previous configuration "
				"stays in use)", fixed_setting_changed(c, n),
				strcmp(fixed_setting_changed(c, n), "state_dir") == 0 ? c->state_dir
										  : c->docker_socket);
		cfg_destroy(n);
	} else {
		take_config(c, n);
	}
	bg_diag_release(&d);
}

/* ---- the approval file ---- */

/* SHA-256 of line lineno (1-based) of data: a bad line is reported again once changed. */
static void approve_line_hash(const char *data, size_t len, unsigned lineno, char hex[65])
{
	const char *p = data, *end = data + len;
	for (unsigned n = 1; n < lineno && p < end; n++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	bg_sha256_hex(p, (size_t)((nl ? nl : end) - p), hex);
}

/*
 * Read the approval file on the loop thread. That is safe because
 * bg_file_read_safe never blocks: O_NONBLOCK open, a regular file only
 * (a FIFO, device or socket is refused before any read), at most
 * APPROVE_MAX_BYTES, and no link followed (the file is committed, and git
 * stores links: one to a root-only file must not be read, nor printed).
 * Messages name line:col and never quote the file.
 */
static void approve_read(struct ctl *c)
{
	char *path = bg_xasprintf("%s/%s", c->dir, CFGW_APPROVE_NAME);
	char *data = NULL;
	size_t len = 0;
	const char *why = NULL;
	struct ctl_approvals a;
	struct bg_diag d;

	c->approve_dirty = false;
	int err = bg_file_read_safe(NULL, path, APPROVE_MAX_BYTES, &data, &len, NULL, &why);
	if (err) {
		if (err == BG_ETOO_BIG) {
			complain(c, "error", "%s: file is too large (over %u bytes): approvals "
					"ignored", path, APPROVE_MAX_BYTES);
		} else if (err != BG_ERRNO(ENOENT)) {
			complain(c, "error", "%s: %s: approvals ignored", path, why);
		}
		free(path);
		return;
	}
	ctl_approvals_init(&a);
	bg_diag_init(&d);
	ctl_approve_parse(CFGW_APPROVE_NAME, data, len, &a, &d);
	for (size_t i = 0; i < d.n; i++) {
		int n = bg_diag_item_format(&d.items[i], NULL, 0);
		char *line = bg_xmalloc((size_t)n + 1);
		char hex[65];
		bg_diag_item_format(&d.items[i], line, (size_t)n + 1);
		approve_line_hash(data, len, d.items[i].line, hex);
		char *key = bg_xasprintf("%s %s", line, hex);
		if (!bg_strv_contains(&c->approve_reported, key)) {
			fflush(c->cli->out);
			fprintf(c->cli->err, "%s (line skipped)\n", line);
			bg_strv_push(&c->approve_reported, key);
		}
		free(key);
		free(line);
	}
	for (size_t i = 0; i < a.n; i++) {
		struct ctl_approval *ap = &a.v[i];
		if (ctl_approval_seen(&c->seen, ap->token, &ap->confirms) ||
				req_same(c, ap->token, NULL, &ap->confirms)) {
			continue;
		}
		if (hist_token_used(c->hist, ap->token)) {
			seen_add(c, ap->token, &ap->confirms);
			note(c, "approve: line %u: token %s was already used: skipped", ap->line,
					ap->token);
			continue;
		}
		struct ctl_req *r = bg_xcalloc(1, sizeof(*r));
		r->token = ap->token;
		r->label = bg_xstrdup(ap->token);
		ap->token = NULL;
		r->confirms = ap->confirms;
		bg_strv_init(&ap->confirms);
		r->source = bg_xasprintf("approve file line %u", ap->line);
		r->from_approve = true;
		enqueue(c, r);
	}
	ctl_approvals_release(&a);
	bg_diag_release(&d);
	free(data);
	free(path);
}

/* ---- jobs ---- */

static void job_progress(void *arg, const char *line, bool transient)
{
	struct ctl *c = arg;
	char *entry = bg_xasprintf("%c%s", transient ? 'T' : 'L', line);
	uv_mutex_lock(&c->pmu);
	bg_strv_push_take(&c->plines, entry);
	uv_mutex_unlock(&c->pmu);
	uv_async_send(&c->progress);
}

static void progress_drain(struct ctl *c, struct ctl_job *j)
{
	struct bg_strv lines;
	uv_mutex_lock(&c->pmu);
	lines = c->plines;
	bg_strv_init(&c->plines);
	uv_mutex_unlock(&c->pmu);
	struct ctls_conn *conn = j && j->req ? j->req->conn : NULL;
	for (size_t i = 0; i < lines.n; i++) {
		bool transient = lines.v[i][0] == 'T';
		const char *text = lines.v[i] + 1;
		if (conn) {
			ctls_conn_send(conn, transient ? CTLS_STATUS : CTLS_OUT, text);
		}
		if (!transient) {
			fprintf(c->cli->out, "%s\n", text);
		}
	}
	fflush(c->cli->out);
	bg_strv_release(&lines);
}

static void on_progress(uv_async_t *h)
{
	struct ctl *c = h->data;
	progress_drain(c, c->job);
}

static void job_work(uv_work_t *w)
{
	struct ctl_job *j = w->data;
	struct ctl *c = j->c;

	switch (j->kind) {
	case JOB_FULL:
		j->err = rec_observe_all(c->wdk, j->cfg, c->hist, &j->obs, &j->diag);
		break;
	case JOB_REST:
		j->err = rec_observe(c->wdk, j->cfg, c->hist, &j->obs, REC_OBSERVE_NO_CONTAINERS,
				&j->diag);
		break;
	case JOB_APPLY: {
		struct apply_opts o = {
			.token = j->req->token,
			.rollback_site = j->req->rollback_site,
			.confirms = &j->req->confirms,
			.actor = j->req->actor,
			.progress = job_progress,
			.progress_arg = c,
			.cancel = &c->cancel,
		};
		apply_run(j->cfg, c->wdk, c->hist, &o, &j->outcome, &j->diag);
		break;
	}
	}
}

static void job_free(struct ctl_job *j)
{
	obs_release(&j->obs);
	bg_diag_release(&j->diag);
	apply_outcome_release(&j->outcome);
	req_free(j->req);
	free(j);
}

static void on_retry(uv_timer_t *t)
{
	struct ctl *c = t->data;
	c->retry_wait = false;
	schedule(c);
}

static void observe_failed(struct ctl *c, struct ctl_job *j)
{
	char *text = diag_text(&j->diag);
	if (!c->last_obs_error || strcmp(text, c->last_obs_error) != 0) {
		print_diag(c, &j->diag);
		complain(c, "error", "cannot observe (%s); the last observation stays in use "
				"and no plan is printed until this works", bg_strerror(j->err));
		free(c->last_obs_error);
		c->last_obs_error = text;
	} else {
		free(text);
	}
	if (j->kind == JOB_FULL) {
		c->need_full = true;
	} else {
		c->need_rest = true;
	}
	/* Never spin: a failing observation is retried with a backoff. */
	c->retry_ms = c->retry_ms ? c->retry_ms * 2 : CTL_RETRY_INITIAL_MS;
	if (c->retry_ms > CTL_RETRY_MAX_MS) {
		c->retry_ms = CTL_RETRY_MAX_MS;
	}
	c->retry_wait = true;
	uv_timer_start(&c->retry, on_retry, c->retry_ms, 0);
}

static void apply_finish(struct ctl *c, struct ctl_job *j)
{
	struct ctl_req *r = j->req;
	struct apply_outcome *o = &j->outcome;
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;

	c->apply_end_ms = bg_now_ms();
	/*
	 * What `bluegreen apply` would have printed had it converged itself
	 * (cli_converge), rendered with the same functions, for the client.
	 */
	FILE *mo = open_memstream(&obuf, &olen);
	FILE *me = open_memstream(&ebuf, &elen);
	if (!mo || !me) {
		BG_BUG("open_memstream: out of memory");
	}
	struct cli mc = {.out = mo, .err = me, .json = r->json, .color = r->color};
	if (o->exit == BG_EXIT_OK) {
		fprintf(mo, "%s\n", o->message ? o->message : "done");
	} else {
		cli_print_diag(&mc, &j->diag);
		fprintf(me, "bluegreen: %s\n", o->message ? o->message : "failed");
		if (o->exit == BG_EXIT_TOKEN && o->have_plan) {
			fputc('\n', mo);
			cli_plan_print(&mc, j->cfg, &o->plan);
			/* The plan shown is journaled like any printed plan (cli_converge). */
			journal_plan(c, &o->plan, "plan", "shown after a refused apply");
		}
	}
	fclose(mo);
	fclose(me);
	if (r->conn) {
		if (elen) {
			ctls_conn_send(r->conn, CTLS_ERR, ebuf);
		}
		if (olen) {
			ctls_conn_send(r->conn, CTLS_OUT, obuf);
		}
		ctls_conn_finish(r->conn, o->exit);
		r->conn = NULL;
	}
	if (o->exit != BG_EXIT_OK) {
		print_diag(c, &j->diag);
	}
	note(c, "%s%s (%s) finished in %" PRId64 "ms: exit %d: %s", r->token ? "apply " : "",
			r->label, r->source,
			bg_mono_ms() - j->t0, o->exit, o->message ? o->message : "");
	free(obuf);
	free(ebuf);
	/* apply_run observed and changed the world: see it afresh. */
	c->need_full = true;
	why_add(c, false, "after %s%s (exit %d)", r->token ? "apply " : "", r->label, o->exit);
}

static void job_after(uv_work_t *w, int status)
{
	struct ctl_job *j = w->data;
	struct ctl *c = j->c;

	c->job = NULL;
	progress_drain(c, j);
	switch (j->kind) {
	case JOB_FULL:
	case JOB_REST:
		if (j->err) {
			observe_failed(c, j);
			break;
		}
		if (j->kind == JOB_FULL) {
			obs_take_containers(&c->cont, &j->obs);
			obs_finish(&c->cont);
		} else {
			/* The copy it was given: the loop's own list is newer. */
			struct obs tmp;
			obs_init(&tmp);
			obs_take_containers(&tmp, &j->obs);
			obs_release(&tmp);
		}
		obs_release(&c->rest);
		c->rest = j->obs;
		obs_init(&j->obs);
		c->have_snapshot = true;
		c->want_plan = true;
		c->retry_ms = 0;
		free(c->last_obs_error);
		c->last_obs_error = NULL;
		if (j->kind == JOB_FULL && c->reconnected) {
			note(c, "docker: re-listed after the reconnection: %zu container%s, %zu "
					"network%s, %zu volume%s", c->cont.n_containers,
					c->cont.n_containers == 1 ? "" : "s", c->rest.n_networks,
					c->rest.n_networks == 1 ? "" : "s", c->rest.n_volumes,
					c->rest.n_volumes == 1 ? "" : "s");
			c->reconnected = false;
			c->note_unchanged = true;
		}
		break;
	case JOB_APPLY:
		apply_finish(c, j);
		break;
	}
	job_free(j);
	schedule(c);
}

static void job_start(struct ctl *c, enum job_kind kind, struct ctl_req *req)
{
	struct ctl_job *j = bg_xcalloc(1, sizeof(*j));
	j->c = c;
	j->kind = kind;
	j->cfg = c->cfg;
	j->req = req;
	j->t0 = bg_mono_ms();
	j->work.data = j;
	obs_init(&j->obs);
	bg_diag_init(&j->diag);
	apply_outcome_init(&j->outcome);

	if (c->wdk_stale) {
		/* A new engine may be behind the socket: start from a fresh client. */
		struct dk_client *n = NULL;
		if (dk_client_create(&n, c->docker_socket) == 0) {
			dk_client_destroy(c->wdk);
			c->wdk = n;
		}
		c->wdk_stale = false;
	}
	switch (kind) {
	case JOB_FULL:
		/* What it reads covers every partial refresh and event so far. */
		c->need_full = c->need_rest = c->edge_dirty = false;
		bg_strv_release(&c->inspect);
		break;
	case JOB_REST:
		c->need_rest = c->edge_dirty = false;
		for (size_t i = 0; i < c->cont.n_containers; i++) {
			container_copy(obs_container_add(&j->obs), &c->cont.containers[i]);
		}
		obs_finish(&j->obs);
		break;
	case JOB_APPLY:
		break;
	}
	int err = uv_queue_work(&c->loop, &j->work, job_work, job_after);
	if (err) {
		/* Cannot happen with a live loop; do not lose the request if it does. */
		complain(c, "error", "cannot start a worker: %s", uv_strerror(err));
		if (req) {
			j->req = NULL;
			req_refuse(c, req, "refused", BG_EXIT_ERROR, NULL, "the watch daemon "
					"cannot start a worker thread: nothing was changed");
		}
		job_free(j);
		return;
	}
	c->job = j;
}

static void apply_start(struct ctl *c)
{
	struct ctl_req *r = dequeue(c);
	struct cfg *n = NULL;
	struct bg_diag d;

	/*
	 * The configuration on disk, exactly as a one-shot apply would load it:
	 * a token is checked against what the files say now, not against
	 * whatever the debounce has let the daemon see.
	 */
	bg_diag_init(&d);
	/* Before any refusal: a refused approval is not retried (docs/watch.md). */
	if (r->from_approve && r->token) {
		seen_add(c, r->token, &r->confirms);
	}
	int err = des_cfg_load(&n, c->dir, CFG_LOAD_PARTIAL, &d);
	if (n && n->g.install_mode == CFG_MODE_UNSET) {
		req_refuse(c, r, "refused", BG_EXIT_REFUSED, &d, "refused: install_mode is not "
				"set in %s/global.conf (production, staging or development): bluegreen does "
				"not guess where it runs; nothing was changed", c->dir);
		cfg_destroy(n);
		goto out;
	}
	if (err || !n) {
		req_refuse(c, r, "refused", BG_EXIT_ERROR, &d, "%s: invalid configuration: "
				"nothing was changed", c->dir);
		cfg_destroy(n);
		goto out;
	}
	if (fixed_setting_changed(c, n)) {
		req_refuse(c, r, "refused", BG_EXIT_ERROR, NULL, "%s changed in the configuration "
				"and the watch daemon still uses the old one: restart it (`systemctl restart "
				"bluegreen`); nothing was changed", fixed_setting_changed(c, n));
		cfg_destroy(n);
		goto out;
	}
	/* Warnings are not sent: the client printed its own load's already. */
	take_config(c, n);
	char ts[32];
	bg_time_format_utc(bg_now_ms(), ts);
	fprintf(c->cli->out, "\n=== %s%s (%s) at %s\n", r->token ? "apply " : "", r->label,
			r->source, ts);
	fflush(c->cli->out);
	job_start(c, JOB_APPLY, r);
out:
	bg_diag_release(&d);
}

/* ---- events ---- */

static const char *container_words(const struct dk_event *e, char *buf, size_t len)
{
	const char *a = e->action;
	if (strcmp(a, "die") == 0) {
		snprintf(buf, len, "stopped outside bluegreen (exit code %d)", e->exit_code);
	} else if (strcmp(a, "start") == 0) {
		snprintf(buf, len, "started outside bluegreen");
	} else if (strcmp(a, "destroy") == 0) {
		snprintf(buf, len, "removed outside bluegreen");
	} else if (strcmp(a, "create") == 0) {
		snprintf(buf, len, "created outside bluegreen");
	} else if (strcmp(a, "health_status") == 0) {
		snprintf(buf, len, "is %s", e->detail ? e->detail : "unknown");
	} else if (strcmp(a, "oom") == 0) {
		snprintf(buf, len, "ran out of memory");
	} else {
		snprintf(buf, len, "%s outside bluegreen", a);
	}
	return buf;
}

/*
 * What an inspect of a container that just died will say, from the die
 * event alone: exited with the event's exit code, no address on any
 * network, and, if it has a HEALTHCHECK, unhealthy (what Docker 20.10 and
 * later report). The engine holds a dying container until its kill has
 * completed (with published ports, docker-proxy and the NAT rules go
 * first), so the inspect answers 60-300 ms after the event: planning from
 * the event puts the drift in front of the operator that much sooner. The
 * inspect still runs, and if it says something else, the token changes
 * and the corrected plan is printed.
 */
static void die_predict(struct ctl *c, const struct dk_event *e)
{
	ssize_t i = container_index(&c->cont, e->id);
	if (i < 0) {
		return;
	}
	struct obs_container *oc = &c->cont.containers[i];
	oc->state = OBS_CSTATE_EXITED;
	if (e->exit_code >= 0) {
		oc->exit_code = e->exit_code;
	}
	if (oc->health != OBS_HEALTH_NONE) {
		oc->health = OBS_HEALTH_UNHEALTHY;
	}
	for (size_t k = 0; k < oc->n_nets; k++) {
		free(oc->nets[k].ip);
		oc->nets[k].ip = bg_xstrdup("");
	}
	c->want_plan = true;
	c->plan_early = true;
}

static bool event_is_ours(struct ctl *c, int64_t when_ms)
{
	if (c->job && c->job->kind == JOB_APPLY) {
		return true;
	}
	/* Events of our own apply may arrive after it ended; their time says. */
	return c->apply_end_ms && when_ms && when_ms <= c->apply_end_ms;
}

static void on_docker_event(struct dkev *ev, const struct dk_event *e, void *arg)
{
	struct ctl *c = arg;
	char words[128];
	bool ours;
	const char *name = e->name ? e->name : e->id ? e->id : "?";

	if (c->stopping) {
		return;
	}
	ours = event_is_ours(c, e->time_ms);
	bg_trace(LOOP, "event %d %s %s", (int)e->type, e->action, name);
	switch (e->type) {
	case DK_EVENT_CONTAINER:
		if (!e->id) {
			return;
		}
		strv_add_unique(&c->inspect, e->id);
		if (!ours) {
			why_add(c, true, "drift: %s %s", name,
					container_words(e, words, sizeof(words)));
			if (strcmp(e->action, "die") == 0) {
				die_predict(c, e);
			}
		}
		break;
	case DK_EVENT_NETWORK:
		if (strcmp(e->action, "connect") == 0 || strcmp(e->action, "disconnect") == 0) {
			ssize_t i = e->container ? container_index(&c->cont, e->container) : -1;
			if (i < 0) {
				return; /* not one of ours (or not known yet: its create event comes) */
			}
			strv_add_unique(&c->inspect, e->container);
			if (!ours) {
				why_add(c, true, "drift: %s %s network %s outside bluegreen",
						c->cont.containers[i].name, strcmp(e->action, "connect") == 0
						? "connected to" : "disconnected from", name);
			}
			break;
		}
		c->need_rest = true;
		if (!ours) {
			why_add(c, true, "drift: network %s: %s outside bluegreen", name, e->action);
		}
		break;
	case DK_EVENT_VOLUME:
		c->need_rest = true;
		if (!ours) {
			why_add(c, true, "drift: volume %s: %s outside bluegreen", name, e->action);
		}
		break;
	default:
		return;
	}
	schedule(c);
}

static void on_docker_state(struct dkev *ev, enum dkev_state st, int err, const char *reason,
		void *arg)
{
	struct ctl *c = arg;

	if (c->stopping) {
		return;
	}
	if (st == DKEV_CONNECTED) {
		c->connected = true;
		note(c, "docker connected: engine %s, API %s at %s",
				dkev_engine_version(ev) ? dkev_engine_version(ev) : "?",
				dkev_api_version(ev) ? dkev_api_version(ev) : "?", c->docker_socket);
		/* Events may have been lost while away: re-list everything. */
		c->need_full = true;
		c->retry_wait = false;
		c->retry_ms = 0;
		uv_timer_stop(&c->retry);
		if (c->ever_connected) {
			c->wdk_stale = true;
			c->reconnected = true;
			why_add(c, false, "docker reconnected");
		}
		c->ever_connected = true;
		free(c->disconnect_reason);
		c->disconnect_reason = NULL;
	} else {
		c->connected = false;
		free(c->disconnect_reason);
		c->disconnect_reason = bg_xstrdup(reason ? reason : bg_strerror(err));
		note(c, "docker disconnected: %s; reconnecting with backoff (no plan until the "
				"engine is back)", c->disconnect_reason);
		bg_strv_release(&c->inspect);
	}
	schedule(c);
}

static void on_files(struct cfgw *w, const struct cfgw_batch *b, void *arg)
{
	struct ctl *c = arg;

	if (c->stopping) {
		return;
	}
	bg_trace(LOOP, "files: kinds %u, %zu events", b->kinds, b->n_events);
	if (b->kinds & CFGW_CONFIG) {
		c->cfg_dirty = true;
		c->cfg_forced = b->forced;
		for (size_t i = 0; i < b->config_files.n; i++) {
			strv_add_unique(&c->cfg_files, b->config_files.v[i]);
		}
	}
	if (b->kinds & CFGW_APPROVE) {
		c->approve_dirty = true;
	}
	if (b->kinds & CFGW_EDGE) {
		/* Whether it is drift is decided by content, in edge_reread. */
		c->edge_dirty = true;
	}
	schedule(c);
}

/*
 * user@host for the journal's actor of what a control-socket client asked
 * for: the user of its uid (SO_PEERCRED, which it cannot choose), by name,
 * else "uid N", on our host, as bg_actor() names ours. A $SUDO_USER of the
 * daemon's own environment says nothing about the client: none is kept.
 */
/*
 * Refuse (answer, note and journal) a request that asks again for what is
 * queued or running, or that finds the queue full. Returns whether it did.
 */
static bool request_refused(struct ctl *c, struct ctls_conn *conn,
		const struct ctls_request *req, const char *actor)
{
	const char *what = req->token ? "apply " : "rollback ";
	const char *name = req->token ? req->token : req->rollback_site;
	const struct ctl_req *same = req_same(c, req->token, req->rollback_site, &req->confirms);
	char *why;

	if (same) {
		const char *state = c->job && same == c->job->req ? "running" : "queued";
		/*
		 * The same token and phrases (or rollback) twice run once: the
		 * second would only be refused as used (or, for a rollback, undo
		 * the first). Its outcome goes to whoever asked first; this
		 * client is told where to look.
		 */
		why = bg_xasprintf("already %s (%s)", state, same->source);
		ctls_conn_sendf(conn, CTLS_ERR, "bluegreen: error: %s%s is already %s in the watch "
				"daemon (%s): it runs once; follow it with `bluegreen log -f`, its "
				"outcome with `bluegreen history`", what, name, state, same->source);
	} else if (queue_length(c) >= CTL_QUEUE_MAX) {
		why = bg_xasprintf("%d applies queued already", CTL_QUEUE_MAX);
		ctls_conn_sendf(conn, CTLS_ERR, "bluegreen: error: the watch daemon has %d applies "
				"queued already: try again when they are done; nothing was changed",
				CTL_QUEUE_MAX);
	} else {
		return false;
	}
	note(c, "%s%s requested%s (control socket: pid %ld, %s): %s: refused", what, name,
			same ? " again" : "", ctls_conn_pid(conn), actor, why);
	char *details = bg_xasprintf("%s (control socket: pid %ld, uid %ld)", why,
			ctls_conn_pid(conn), ctls_conn_uid(conn));
	journal_outcome(c, req->token, req->rollback_site, actor, "refused", details);
	free(details);
	free(why);
	ctls_conn_finish(conn, BG_EXIT_ERROR);
	return true;
}

/*
 * Answer a request that cannot be queued as it stands: the daemon is
 * stopping, the site is unknown or the token malformed. Returns whether
 * it did. Nothing is journaled: nothing was asked of this installation.
 */
static bool request_invalid(struct ctl *c, struct ctls_conn *conn,
		const struct ctls_request *req)
{
	if (c->stopping) {
		ctls_conn_send(conn, CTLS_ERR, "bluegreen: error: the watch daemon is stopping: "
				"nothing was changed; run the apply again");
		ctls_conn_finish(conn, BG_EXIT_ERROR);
		return true;
	}
	if (req->rollback_site) {
		if (!cfg_name_valid(req->rollback_site) ||
				!cfg_site_find(c->cfg, req->rollback_site)) {
			ctls_conn_sendf(conn, CTLS_ERR, "bluegreen: error: rollback: no site by that "
					"name in the configuration the daemon runs");
			ctls_conn_finish(conn, BG_EXIT_ERROR);
			return true;
		}
	} else if (!apply_token_valid(req->token)) {
		/*
		 * apply_run's own answer (exit 3), given here so that nothing a
		 * client sends reaches the daemon's output unsanitised.
		 */
		char shown[65];
		size_t n = 0;
		for (const char *p = req->token; *p && n < sizeof(shown) - 1; p++) {
			shown[n++] = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
		}
		shown[n] = '\0';
		ctls_conn_sendf(conn, CTLS_ERR, "bluegreen: '%s' is not a plan token (%d lowercase "
				"hex characters, as printed by `bluegreen plan`)", shown, PLAN_TOKEN_LEN);
		ctls_conn_finish(conn, BG_EXIT_TOKEN);
		return true;
	}
	return false;
}

static void on_request(struct ctls *s, struct ctls_conn *conn, const struct ctls_request *req,
		void *arg)
{
	struct ctl *c = arg;

	if (request_invalid(c, conn, req)) {
		return;
	}
	queue_prune(c);
	char *actor = bg_actor_of_uid(ctls_conn_uid(conn));
	if (request_refused(c, conn, req, actor)) {
		free(actor);
		return;
	}
	struct ctl_req *r = bg_xcalloc(1, sizeof(*r));
	r->token = bg_xstrdup(req->token);
	r->rollback_site = bg_xstrdup(req->rollback_site);
	r->label = req->rollback_site ? bg_xasprintf("rollback %s", req->rollback_site)
				      : bg_xstrdup(req->token);
	bg_strv_copy(&r->confirms, &req->confirms);
	r->json = req->json;
	r->color = req->color;
	r->conn = conn;
	r->actor = actor;
	r->source = bg_xasprintf("control socket: pid %ld, uid %ld %s", ctls_conn_pid(conn),
			ctls_conn_uid(conn), actor);
	enqueue(c, r);
	schedule(c);
}

/* A client waiting in the queue hung up: drop its request now (queue_prune). */
static void on_client_gone(struct ctls *s, struct ctls_conn *conn, void *arg)
{
	schedule(arg);
}

/* ---- signals and timers ---- */

static void on_stop_signal(uv_signal_t *h, int signum)
{
	struct ctl *c = h->data;
	const char *name = signum == SIGTERM ? "SIGTERM" : "SIGINT";
	if (c->stopping) {
		note(c, "%s: already stopping (waiting for the current step to finish)", name);
		return;
	}
	c->stopping = true;
	atomic_store(&c->cancel, 1);
	if (c->job && c->job->kind == JOB_APPLY) {
		note(c, "%s: stopping: apply %s stops at its next safe point (between steps, or "
				"inside a health wait or drain), then the daemon exits", name,
				c->job->req->label);
	} else {
		note(c, "%s: stopping", name);
	}
	schedule(c);
}

static void on_sighup(uv_signal_t *h, int signum)
{
	struct ctl *c = h->data;
	if (c->stopping) {
		return;
	}
	note(c, "SIGHUP: reloading the configuration");
	c->cfg_dirty = true;
	free(c->reload_reason);
	c->reload_reason = bg_xstrdup("configuration reloaded (SIGHUP)");
	rewatch(c);
	schedule(c);
}

static void on_resync(uv_timer_t *t)
{
	struct ctl *c = t->data;
	/* The safety net: anything an event could not tell (an image re-tagged). */
	c->need_full = true;
	c->cfg_dirty = true;
	free(c->reload_reason);
	c->reload_reason = bg_xstrdup("periodic resync");
	why_add(c, false, "periodic resync");
	rewatch(c);
	schedule(c);
}

/* ---- scheduling ---- */

static void close_handle(uv_handle_t *h)
{
	if (!uv_is_closing(h)) {
		uv_close(h, NULL);
	}
}

static void shutdown_now(struct ctl *c)
{
	struct ctl_req *r;
	c->shut = true;
	while ((r = dequeue(c))) {
		/* Not started: an approval line is tried again at the next start. */
		req_refuse(c, r, "dropped", BG_EXIT_ERROR, NULL, "error: the watch daemon stopped "
				"before this apply started: nothing was changed");
	}
	ctls_close(c->ctls, NULL);
	c->ctls = NULL;
	cfgw_close(c->cfgw, NULL);
	c->cfgw = NULL;
	dkev_close(c->ev, NULL);
	c->ev = NULL;
	close_handle((uv_handle_t *)&c->sigterm);
	close_handle((uv_handle_t *)&c->sigint);
	close_handle((uv_handle_t *)&c->sighup);
	close_handle((uv_handle_t *)&c->resync);
	close_handle((uv_handle_t *)&c->retry);
	close_handle((uv_handle_t *)&c->progress);
	note(c, "stopped");
}

static void tell_waiting(struct ctl *c)
{
	for (struct ctl_req *r = c->queue; r; r = r->next) {
		if (r->conn && !r->told_wait) {
			ctls_conn_sendf(r->conn, CTLS_ERR, "bluegreen: waiting for the Docker engine "
					"(%s); the apply starts when it is back", c->disconnect_reason
					? c->disconnect_reason : "not connected yet");
			r->told_wait = true;
		}
	}
}

static void step(struct ctl *c)
{
	/* Even while an apply runs: a client that gave up is answered now. */
	queue_prune(c);
	if (c->shut || c->job) {
		return;
	}
	if (c->stopping) {
		shutdown_now(c);
		return;
	}
	if (c->cfg_dirty) {
		config_reload(c);
	}
	if (c->approve_dirty) {
		approve_read(c);
	}
	if (!c->connected) {
		tell_waiting(c);
		return;
	}
	if (c->inflight.n) {
		return; /* inspects in flight: their answers come back here */
	}
	if (c->queue && (c->have_snapshot || c->retry_wait)) {
		apply_start(c);
		c->schedule_again = !c->job; /* refused before starting: look again */
		return;
	}
	if (c->retry_wait) {
		return;
	}
	if (c->need_full) {
		job_start(c, JOB_FULL, NULL);
		return;
	}
	if (c->need_rest) {
		job_start(c, JOB_REST, NULL);
		return;
	}
	if (c->inspect.n) {
		inspect_issue(c);
		/* Wait for the answers, unless a die event already said what they will. */
		if (c->inflight.n && !c->plan_early) {
			return;
		}
	}
	if (c->edge_dirty) {
		edge_reread(c);
		if (c->need_rest) {
			c->schedule_again = true;
			return;
		}
	}
	if (c->want_plan) {
		replan(c);
	}
}

static void schedule(struct ctl *c)
{
	/* Callbacks may nest (a request answered at once): run step() flat. */
	if (c->in_schedule) {
		c->schedule_again = true;
		return;
	}
	c->in_schedule = true;
	do {
		c->schedule_again = false;
		step(c);
	} while (c->schedule_again);
	c->in_schedule = false;
}

/* ---- start and end ---- */

static int start(struct ctl *c)
{
	struct bg_diag d;
	int err;

	bg_diag_init(&d);
	if (cli_config_dir(c->cli, &c->dir) != 0) {
		return BG_EXIT_ERROR;
	}
	/* A bad configuration is fatal at startup (STYLE B4); later, only logged. */
	err = des_cfg_load(&c->cfg, c->dir, 0, &d);
	cli_print_diag(c->cli, &d);
	c->last_cfg_diag = diag_text(&d);
	if (err) {
		fprintf(c->cli->err, "bluegreen: %s: invalid configuration (%zu error%s): watch "
				"not started\n", c->dir, d.n_errors, d.n_errors == 1 ? "" : "s");
		bg_diag_release(&d);
		return BG_EXIT_ERROR;
	}
	bg_diag_release(&d);
	c->cfg_loaded_ms = bg_now_ms();
	c->state_dir = bg_xstrdup(c->cfg->g.state_dir);
	c->docker_socket = bg_xstrdup(c->cfg->g.docker_socket);

	bg_diag_init(&d);
	err = bg_state_dir_prepare(c->state_dir, &d);
	if (err) {
		cli_print_diag(c->cli, &d);
		bg_diag_release(&d);
		fprintf(c->cli->err, "bluegreen: error: state directory %s: watch not started\n",
				c->state_dir);
		return BG_EXIT_ERROR;
	}
	bg_diag_release(&d);
	/*
	 * The daemon is the converger of this state directory, for its whole
	 * life. It waits a little: a `plan` takes the lock for a moment to
	 * journal interrupted applies, and must not stop a daemon from starting;
	 * a converger that really holds it is still refused after the wait.
	 */
	bg_diag_init(&d);
	err = lock_acquire(&c->lock, c->state_dir, "watch", 2000, &d);
	if (err) {
		cli_print_diag(c->cli, &d);
		bg_diag_release(&d);
		fprintf(c->cli->err, "bluegreen: error: another converger holds the state "
				"directory: watch not started\n");
		return BG_EXIT_ERROR;
	}
	err = hist_open(&c->hist, c->state_dir, 0, &d);
	if (err) {
		cli_print_diag(c->cli, &d);
		bg_diag_release(&d);
		fprintf(c->cli->err, "bluegreen: error: cannot open the history in %s: %s\n",
				c->state_dir, bg_strerror(err));
		return BG_EXIT_ERROR;
	}
	bg_diag_release(&d);
	char *report = NULL;
	if (apply_recover(c->hist, c->state_dir, &report)) {
		fprintf(c->cli->err, "bluegreen: warning: %s", report);
		free(report);
	}
	seen_load(c);
	err = dk_client_create(&c->wdk, c->docker_socket);
	if (err) {
		fprintf(c->cli->err, "bluegreen: error: docker client: %s\n", bg_strerror(err));
		return BG_EXIT_ERROR;
	}

	err = uv_loop_init(&c->loop);
	if (err) {
		fprintf(c->cli->err, "bluegreen: error: event loop: %s\n", uv_strerror(err));
		return BG_EXIT_ERROR;
	}
	uv_mutex_init(&c->pmu);
	uv_async_init(&c->loop, &c->progress, on_progress);
	c->progress.data = c;
	uv_signal_init(&c->loop, &c->sigterm);
	uv_signal_init(&c->loop, &c->sigint);
	uv_signal_init(&c->loop, &c->sighup);
	c->sigterm.data = c->sigint.data = c->sighup.data = c;
	uv_signal_start(&c->sigterm, on_stop_signal, SIGTERM);
	uv_signal_start(&c->sigint, on_stop_signal, SIGINT);
	uv_signal_start(&c->sighup, on_sighup, SIGHUP);
	uv_timer_init(&c->loop, &c->resync);
	uv_timer_init(&c->loop, &c->retry);
	c->resync.data = c->retry.data = c;
	uint64_t resync = c->opts.resync_ms ? c->opts.resync_ms : CTL_RESYNC_MS;
	uv_timer_start(&c->resync, on_resync, resync, resync);
	c->handles_up = true;

	err = cfgw_create(&c->cfgw, &c->loop, on_files, c);
	if (err) {
		fprintf(c->cli->err, "bluegreen: error: file watcher: %s\n", uv_strerror(err));
		return BG_EXIT_ERROR;
	}
	cfgw_set_timing(c->cfgw, c->opts.debounce_ms, 0);
	/* The state directory may live in the configuration directory (state_dir: state). */
	char *sd = bg_xstrdup(c->state_dir);
	char *slash = strrchr(sd, '/');
	if (slash && slash != sd) {
		*slash = '\0';
		if (strcmp(sd, c->dir) == 0) {
			cfgw_ignore(c->cfgw, slash + 1);
		}
	}
	free(sd);
	bg_diag_init(&d);
	err = cfgw_watch(c->cfgw, c->dir, edge_dir_of(c->cfg), &d);
	if (err) {
		cli_print_diag(c->cli, &d);
		bg_diag_release(&d);
		return BG_EXIT_ERROR;
	}
	c->sock_path = bg_xasprintf("%s/%s", c->state_dir, CTLS_SOCKET_NAME);
	err = ctls_listen(&c->ctls, &c->loop, c->sock_path, on_request, c, &d);
	if (err) {
		/* The approval file still works; `bluegreen apply` then waits for the lock. */
		cli_print_diag(c->cli, &d);
		complain(c, "warning", "no control socket: `bluegreen apply` cannot hand tokens to "
				"this daemon (use %s/%s)", c->dir, CFGW_APPROVE_NAME);
		c->ctls = NULL;
	} else {
		ctls_set_gone_cb(c->ctls, on_client_gone);
	}
	bg_diag_release(&d);
	err = dkev_create(&c->ev, &c->loop, c->docker_socket, on_docker_event, on_docker_state, c);
	if (!err) {
		err = dkev_start(c->ev);
	}
	if (err) {
		fprintf(c->cli->err, "bluegreen: error: docker event stream: %s\n", bg_strerror(err));
		return BG_EXIT_ERROR;
	}
	note(c, "started (pid %ld): config %s (%zu site%s), state %s, edge %s, approvals in %s/%s, "
			"control socket %s", (long)getpid(), c->dir, c->cfg->n_sites,
			c->cfg->n_sites == 1 ? "" : "s", c->state_dir, edge_dir_of(c->cfg), c->dir,
			CFGW_APPROVE_NAME, c->ctls ? c->sock_path : "(none)");
	c->approve_dirty = true;
	c->need_full = true;
	why_add(c, false, "daemon started");
	return 0;
}

static void walk_close(uv_handle_t *h, void *arg)
{
	close_handle(h);
}

int ctl_run(struct cli *cli, const struct ctl_opts *opts)
{
	struct ctl *c = bg_xcalloc(1, sizeof(*c));
	int rc;

	c->cli = cli;
	if (opts) {
		c->opts = *opts;
	}
	c->queue_tail = &c->queue;
	obs_init(&c->cont);
	obs_init(&c->rest);
	bg_strv_init(&c->plines);
	/* A client that hangs up must not kill the daemon with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	rc = start(c);
	if (rc == 0) {
		schedule(c);
		uv_run(&c->loop, UV_RUN_DEFAULT);
		rc = c->exit_code;
	} else if (c->handles_up || c->cfgw || c->ev || c->ctls) {
		/* A failure half way through start: close what was opened. */
		ctls_close(c->ctls, NULL);
		cfgw_close(c->cfgw, NULL);
		dkev_close(c->ev, NULL);
		uv_walk(&c->loop, walk_close, NULL);
		uv_run(&c->loop, UV_RUN_DEFAULT);
	}
	if (c->handles_up) {
		if (uv_loop_close(&c->loop) != 0) {
			bg_log(BG_LOG_WARN, "event loop closed with handles still open");
		}
		uv_mutex_destroy(&c->pmu);
	}
	hist_close(c->hist);
	lock_release(c->lock);
	dk_client_destroy(c->wdk);
	cfg_destroy(c->cfg);
	obs_release(&c->cont);
	obs_release(&c->rest);
	bg_strv_release(&c->plines);
	bg_strv_release(&c->cfg_files);
	bg_strv_release(&c->inspect);
	bg_strv_release(&c->inflight);
	bg_strv_release(&c->why);
	bg_strv_release(&c->why_drift);
	bg_strv_release(&c->seen);
	bg_strv_release(&c->approve_reported);
	free(c->reload_reason);
	free(c->disconnect_reason);
	free(c->last_cfg_diag);
	free(c->last_obs_error);
	free(c->sock_path);
	free(c->state_dir);
	free(c->docker_socket);
	free(c->dir);
	free(c);
	return rc;
}
