/*
 * logsreq: see logsreq.h. The loop picks the containers and copies what
 * the read needs (ids, labels, secret values) into the job, so the job
 * touches nothing of the daemon's while it runs in the pool: not the
 * configuration (a reload may replace it meanwhile), not the snapshot,
 * not the apply worker's runtime client. Its own client is opened on the
 * loop (rt_open does no I/O) and destroyed after the read.
 */
#include "bg.h"
#include "bg-log.h"
#include "logsreq.h"
#include "cfg.h"
#include "desired.h"
#include "obs.h"
#include "rt.h"

/* Reads in the pool now (the loop's only: no lock). */
static unsigned logsreq_running;

void logsreq_target_init(struct logsreq_target *t)
{
	bg_strv_init(&t->ids);
	bg_strv_init(&t->labels);
	bg_strv_init(&t->secrets);
}

void logsreq_target_release(struct logsreq_target *t)
{
	if (!t) {
		return;
	}
	for (size_t i = 0; i < t->secrets.n; i++) {
		explicit_bzero(t->secrets.v[i], strlen(t->secrets.v[i]));
	}
	bg_strv_release(&t->ids);
	bg_strv_release(&t->labels);
	bg_strv_release(&t->secrets);
	logsreq_target_init(t);
}

/* ---- which containers ---- */

static bool colour_has_spec(const struct obs *o, const char *site, const char *colour,
		const char *spec)
{
	for (size_t i = 0; i < o->n_containers; i++) {
		const struct obs_container *c = &o->containers[i];
		if (c->site && strcmp(c->site, site) == 0 && c->role &&
				strcmp(c->role, "colour") == 0 && c->colour &&
				strcmp(c->colour, colour) == 0 && c->spec && strcmp(c->spec, spec) == 0) {
			return true;
		}
	}
	return false;
}

/* The colour other than live that runs the configured spec, or NULL (cmd-logs.c's rule). */
static const char *candidate_of(const struct cfg *cfg, const struct obs *o, const char *site,
		const char *live)
{
	static const char *const colours[] = {"blue", "green"};
	struct desired des;
	struct bg_diag d;
	const char *found = NULL;

	memset(&des, 0, sizeof(des));
	bg_diag_init(&d);
	if (des_build(&des, cfg, o, &d) == 0) {
		const struct des_site *s = des_site_find(&des, site);
		for (size_t i = 0; s && i < 2 && !found; i++) {
			if ((!live || strcmp(live, colours[i]) != 0) &&
					colour_has_spec(o, site, colours[i], s->spec)) {
				found = colours[i];
			}
		}
	}
	des_release(&des);
	bg_diag_release(&d);
	return found;
}

/* The colour's containers in replica order ("-10" sorts before "-2" by name). */
static void add_colour(struct logsreq_target *t, const struct obs *o, const char *site,
		const char *colour, const char *role)
{
	for (unsigned want = 1; want <= 1000; want++) {
		bool more = false;
		for (size_t i = 0; i < o->n_containers; i++) {
			const struct obs_container *c = &o->containers[i];
			if (!c->site || strcmp(c->site, site) != 0 || !c->role ||
					strcmp(c->role, "colour") != 0 || !c->colour ||
					strcmp(c->colour, colour) != 0) {
				continue;
			}
			more |= c->replica > want;
			if (c->replica == want) {
				bg_strv_push(&t->ids, c->id);
				bg_strv_push_take(&t->labels, bg_xasprintf("%s.%u (%s)", colour, want, role));
			}
		}
		if (!more) {
			break;
		}
	}
}

static void add_secrets(struct bg_strv *out, const struct cfg_env *env)
{
	for (size_t i = 0; i < env->n; i++) {
		const struct cfg_env_var *v = &env->v[i];
		if (v->secret && v->value && strlen(v->value) >= LOGSREQ_REDACT_MIN) {
			bg_strv_push(out, v->value);
		}
	}
}

int logsreq_pick(const struct cfg *cfg, const struct obs *o, const char *site,
		struct logsreq_target *t, char **why)
{
	const struct cfg_site *s = cfg_name_valid(site) ? cfg_site_find(cfg, site) : NULL;
	const struct obs_edge *e;
	const char *live, *cand;

	*why = NULL;
	if (!s) {
		*why = bg_xstrdup("logs: no site by that name in the configuration the daemon runs");
		return BG_ENOT_FOUND;
	}
	e = obs_edge_find(o, site);
	live = e ? e->live : NULL;
	cand = candidate_of(cfg, o, site, live);
	if (live) {
		add_colour(t, o, site, live, "live");
	}
	if (cand) {
		add_colour(t, o, site, cand, "candidate");
	}
	if (t->ids.n == 0) {
		*why = bg_xasprintf("logs: site '%s' has no live or candidate containers (see "
				"`bluegreen status`)", site);
		return BG_ENOT_FOUND;
	}
	add_secrets(&t->secrets, &s->env);
	for (size_t i = 0; i < s->n_services; i++) {
		add_secrets(&t->secrets, &s->services[i].env);
	}
	return 0;
}

/* ---- the lines ---- */

void logsreq_acc_init(struct logsreq_acc *a, size_t n, const struct bg_strv *secrets)
{
	a->n = n;
	a->lines = bg_xcalloc(n ? n : 1, sizeof(*a->lines));
	for (size_t i = 0; i < n; i++) {
		bg_strv_init(&a->lines[i]);
	}
	a->secrets = secrets;
}

void logsreq_acc_release(struct logsreq_acc *a)
{
	if (!a) {
		return;
	}
	for (size_t i = 0; a->lines && i < a->n; i++) {
		bg_strv_release(&a->lines[i]);
	}
	free(a->lines);
	memset(a, 0, sizeof(*a));
}

void logsreq_acc_line(struct logsreq_acc *a, size_t index, const char *line, size_t len)
{
	struct bg_buf b = BG_BUF_INIT;

	if (index >= a->n) {
		return;
	}
	/* Redacted whole first, so a cut never leaves half a secret behind. */
	bg_buf_add_redacted(&b, line, len, a->secrets ? (const char *const *)a->secrets->v : NULL,
			a->secrets ? a->secrets->n : 0);
	if (b.len > LOGSREQ_LINE_MAX) {
		b.len = LOGSREQ_LINE_MAX;
		b.data[b.len] = '\0';
		bg_buf_adds(&b, " [line cut]");
	}
	for (size_t i = 0; i < b.len; i++) {
		unsigned char ch = (unsigned char)b.data[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
			b.data[i] = '?'; /* a NUL, a terminal escape: never raw */
		}
	}
	bg_strv_push_take(&a->lines[index], bg_buf_detach(&b, NULL));
}

char *logsreq_render(const struct logsreq_acc *a, const struct bg_strv *labels)
{
	struct bg_buf b = BG_BUF_INIT;
	size_t budget = a->n ? LOGSREQ_BYTES_MAX / a->n : 0;

	for (size_t i = 0; i < a->n && i < labels->n; i++) {
		const struct bg_strv *v = &a->lines[i];
		size_t used = 0, first = v->n;
		/* Newest first until the container's share is spent. */
		while (first > 0) {
			size_t cost = strlen(labels->v[i]) + 3 + strlen(v->v[first - 1]) + 1;
			if (used + cost > budget) {
				break;
			}
			used += cost;
			first--;
		}
		bg_buf_addf(&b, "== %s: %zu line%s", labels->v[i], v->n - first,
				v->n - first == 1 ? "" : "s");
		if (first) {
			bg_buf_addf(&b, "; %zu earlier line%s not shown (%u KiB limit)", first,
					first == 1 ? "" : "s", LOGSREQ_BYTES_MAX / 1024);
		}
		bg_buf_addch(&b, '\n');
		for (size_t k = first; k < v->n; k++) {
			bg_buf_addf(&b, "%s | %s\n", labels->v[i], v->v[k]);
		}
	}
	return bg_buf_detach(&b, NULL);
}

/* ---- the read, in the pool ---- */

struct logs_job {
	uv_work_t work;
	struct ctls_conn *conn;
	struct rt *rt;
	char *site;
	unsigned tail;
	struct logsreq_target t;
	struct logsreq_acc acc;
	struct bg_diag d;
	int err;
	char *text;
};

static void on_line(void *arg, size_t index, enum dk_log_stream s, const char *line, size_t len)
{
	(void)s; /* stdout and stderr alike: the tail shows both, as `docker logs` does */
	logsreq_acc_line(arg, index, line, len);
}

/* Worker thread: reads only the job. */
static void logs_work(uv_work_t *w)
{
	struct logs_job *j = w->data;
	struct dk_logs_opts opts = {.tail = j->tail};

	j->err = rt_logs_stream(j->rt, j->t.ids.v, j->t.ids.n, &opts, on_line, &j->acc, &j->d);
	if (!j->err) {
		j->text = logsreq_render(&j->acc, &j->t.labels);
	}
}

static void logs_job_free(struct logs_job *j)
{
	rt_destroy(j->rt);
	free(j->site);
	logsreq_acc_release(&j->acc);
	logsreq_target_release(&j->t);
	bg_diag_release(&j->d);
	free(j->text);
	free(j);
}

/* Loop thread: answer and let go. Engine messages name containers, never values. */
static void logs_after(uv_work_t *w, int status)
{
	struct logs_job *j = w->data;

	(void)status;
	logsreq_running--;
	if (j->err) {
		for (size_t i = 0; i < j->d.n; i++) {
			ctls_conn_sendf(j->conn, CTLS_ERR, "bluegreen: error: %s", j->d.items[i].msg);
		}
		ctls_conn_sendf(j->conn, CTLS_ERR, "bluegreen: error: logs of site '%s': %s",
				j->site, bg_strerror(j->err));
		ctls_conn_finish(j->conn, BG_EXIT_ERROR);
	} else {
		if (j->text[0]) {
			ctls_conn_send(j->conn, CTLS_OUT, j->text);
		}
		ctls_conn_finish(j->conn, BG_EXIT_OK);
	}
	logs_job_free(j);
}

static void refuse(struct ctls_conn *conn, const char *msg)
{
	ctls_conn_sendf(conn, CTLS_ERR, "bluegreen: error: %s", msg);
	ctls_conn_finish(conn, BG_EXIT_ERROR);
}

void logsreq_serve(uv_loop_t *loop, const struct cfg *cfg, const struct obs *view, bool have,
		bool stopping, struct ctls_conn *conn, const struct ctls_request *req)
{
	struct logs_job *j;
	char *why = NULL;
	int err;

	if (stopping) {
		refuse(conn, "the watch daemon is stopping: ask for the logs again later");
		return;
	}
	if (!have) {
		refuse(conn, "the watch daemon has not observed the containers yet: ask again "
				"in a moment");
		return;
	}
	if (logsreq_running >= LOGSREQ_RUNNING_MAX) {
		refuse(conn, "the watch daemon is already reading logs for other clients: ask "
				"again in a moment");
		return;
	}
	j = bg_xcalloc(1, sizeof(*j));
	j->conn = conn;
	j->site = bg_xstrdup(req->logs_site);
	j->tail = req->logs_tail ? req->logs_tail : LOGSREQ_TAIL_DEFAULT;
	j->work.data = j;
	logsreq_target_init(&j->t);
	bg_diag_init(&j->d);
	err = logsreq_pick(cfg, view, req->logs_site, &j->t, &why);
	if (!err) {
		logsreq_acc_init(&j->acc, j->t.ids.n, &j->t.secrets);
		err = rt_open(&j->rt, &cfg->g);
		if (err) {
			why = bg_xasprintf("logs: no runtime client: %s", bg_strerror(err));
		}
	}
	if (!err) {
		err = uv_queue_work(loop, &j->work, logs_work, logs_after);
		if (err) {
			why = bg_xasprintf("logs: cannot start the read: %s", uv_strerror(err));
		}
	}
	if (err) {
		refuse(conn, why);
		free(why);
		logs_job_free(j);
		return;
	}
	logsreq_running++;
}
