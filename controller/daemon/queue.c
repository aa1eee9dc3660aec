/*
 * queue: see queue.h. Runs on the loop thread only; the request being
 * applied has left the queue (the worker holds it, job.h), which is why
 * the functions that must consider it too take it as `running`.
 */
#include "bg.h"
#include "bg-buf.h"
#include "queue.h"
#include "apply.h"
#include "approve.h"
#include "cfg.h"
#include "plan.h"
#include "hist.h"
#include "watch-int.h"

void queue_init(struct queue *q, struct hist *h, const struct watch_printer *pr)
{
	q->head = NULL;
	q->tail = &q->head;
	q->hist = h;
	q->pr = pr;
}

void queue_release(struct queue *q)
{
	struct queue_req *r;
	while (q && (r = queue_pop(q))) {
		queue_req_free(r);
	}
}

void queue_req_free(struct queue_req *r)
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

struct queue_req *queue_req_from_client(struct ctls_conn *conn, const struct ctls_request *req,
		char *actor)
{
	struct queue_req *r = bg_xcalloc(1, sizeof(*r));
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
	return r;
}

struct queue_req *queue_req_from_approval(struct approve_item *ap)
{
	struct queue_req *r = bg_xcalloc(1, sizeof(*r));
	r->token = ap->token;
	r->label = bg_xstrdup(ap->token);
	ap->token = NULL;
	r->confirms = ap->confirms;
	bg_strv_init(&ap->confirms);
	r->source = bg_xasprintf("approve file line %u", ap->line);
	r->from_approve = true;
	return r;
}

static void journal_request(struct queue *q, const struct queue_req *r)
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
	int err = hist_append(q->hist, &e, NULL);
	if (err) {
		watch__complain(q->pr, "warning", "cannot journal the approval of %s: %s",
				valid ? r->token : r->label, bg_strerror(err));
	}
}

void queue_push(struct queue *q, struct queue_req *r, bool busy)
{
	size_t ahead = busy ? 1 : 0;
	for (struct queue_req *w = q->head; w; w = w->next) {
		ahead++;
	}
	*q->tail = r;
	q->tail = &r->next;
	journal_request(q, r);
	watch__note(q->pr, "%s%s requested (%s)%s", r->token ? "apply " : "", r->label, r->source,
			ahead ? ": queued behind the apply in progress" : "");
	if (r->conn && ahead) {
		ctls_conn_sendf(r->conn, CTLS_ERR, "bluegreen: the watch daemon is busy with "
				"another apply; this one starts when it is done (%zu ahead)", ahead);
	}
}

void queue_push_front(struct queue *q, struct queue_req *r)
{
	r->next = q->head;
	if (!q->head) {
		q->tail = &r->next;
	}
	q->head = r;
}

struct queue_req *queue_pop(struct queue *q)
{
	struct queue_req *r = q->head;
	if (r) {
		q->head = r->next;
		if (!q->head) {
			q->tail = &q->head;
		}
		r->next = NULL;
	}
	return r;
}

/*
 * Journal what became of a request apply_run never saw (dropped, refused),
 * so that each "received" entry has an outcome and each refusal a trace.
 */
static void journal_outcome(struct queue *q, const char *token, const char *site,
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
	int err = hist_append(q->hist, &e, NULL);
	if (err) {
		watch__complain(q->pr, "warning", "cannot journal that %s%s was %s: %s",
				site ? "rollback " : "apply ", site ? site : valid ? token : "(invalid token)",
				result, bg_strerror(err));
	}
}

void queue_refuse(struct queue *q, struct queue_req *r, const char *result, int code,
		const struct bg_diag *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = bg_xvasprintf(fmt, ap);
	va_end(ap);
	char *details = bg_xasprintf("%s (%s)", msg, r->source);
	journal_outcome(q, r->token, r->rollback_site, r->actor, result, details);
	free(details);
	if (r->conn) {
		if (d && d->n) {
			char *t = watch__diag_text(d);
			ctls_conn_send(r->conn, CTLS_ERR, t);
			free(t);
		}
		ctls_conn_sendf(r->conn, CTLS_ERR, "bluegreen: %s", msg);
		ctls_conn_finish(r->conn, code);
	}
	watch__note(q->pr, "%s%s not started (%s): exit %d: %s", r->token ? "apply " : "", r->label,
			r->source, code, msg);
	free(msg);
	queue_req_free(r);
}

void queue_prune(struct queue *q)
{
	struct queue_req **pp = &q->head;
	while (*pp) {
		struct queue_req *r = *pp;
		if (r->conn && !ctls_conn_alive(r->conn)) {
			*pp = r->next;
			r->next = NULL;
			queue_refuse(q, r, "dropped", BG_EXIT_ERROR, NULL, "dropped: its client "
					"went away before it started: nothing was changed");
			continue;
		}
		pp = &r->next;
	}
	q->tail = pp;
}

/* Does r ask for the same thing (queue_same)? */
static bool req_asks(const struct queue_req *r, const char *token, const char *site,
		const struct bg_strv *confirms)
{
	if (!token) {
		return bg_str_eq(r->rollback_site, site);
	}
	if (!bg_str_eq(r->token, token)) {
		return false;
	}
	char *a = approve_key(r->token, &r->confirms);
	char *b = approve_key(token, confirms);
	bool same = strcmp(a, b) == 0;
	free(a);
	free(b);
	return same;
}

const struct queue_req *queue_same(const struct queue *q,
		const struct queue_req *running, const char *token, const char *site,
		const struct bg_strv *confirms)
{
	if (running && req_asks(running, token, site, confirms)) {
		return running;
	}
	for (const struct queue_req *r = q->head; r; r = r->next) {
		if (req_asks(r, token, site, confirms)) {
			return r;
		}
	}
	return NULL;
}

size_t queue_length(const struct queue *q)
{
	size_t n = 0;
	for (const struct queue_req *r = q->head; r; r = r->next) {
		n++;
	}
	return n;
}

bool queue_refuse_request(struct queue *q, const struct queue_req *running,
		struct ctls_conn *conn, const struct ctls_request *req, const char *actor)
{
	const char *what = req->token ? "apply " : "rollback ";
	const char *name = req->token ? req->token : req->rollback_site;
	const struct queue_req *same = queue_same(q, running, req->token, req->rollback_site,
			&req->confirms);
	char *why;

	if (same) {
		const char *state = same == running ? "running" : "queued";
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
	} else if (queue_length(q) >= QUEUE_MAX) {
		why = bg_xasprintf("%d applies queued already", QUEUE_MAX);
		ctls_conn_sendf(conn, CTLS_ERR, "bluegreen: error: the watch daemon has %d applies "
				"queued already: try again when they are done; nothing was changed",
				QUEUE_MAX);
	} else {
		return false;
	}
	watch__note(q->pr, "%s%s requested%s (control socket: pid %ld, %s): %s: refused", what, name,
			same ? " again" : "", ctls_conn_pid(conn), actor, why);
	char *details = bg_xasprintf("%s (control socket: pid %ld, uid %ld)", why,
			ctls_conn_pid(conn), ctls_conn_uid(conn));
	journal_outcome(q, req->token, req->rollback_site, actor, "refused", details);
	free(details);
	free(why);
	ctls_conn_finish(conn, BG_EXIT_ERROR);
	return true;
}

bool queue_refuse_invalid(const struct cfg *cfg, bool stopping, struct ctls_conn *conn,
		const struct ctls_request *req)
{
	if (stopping) {
		ctls_conn_send(conn, CTLS_ERR, "bluegreen: error: the watch daemon is stopping: "
				"nothing was changed; run the apply again");
		ctls_conn_finish(conn, BG_EXIT_ERROR);
		return true;
	}
	if (req->rollback_site) {
		if (!cfg_name_valid(req->rollback_site) ||
				!cfg_site_find(cfg, req->rollback_site)) {
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

void queue_tell_waiting(struct queue *q, const char *reason)
{
	for (struct queue_req *r = q->head; r; r = r->next) {
		if (r->conn && !r->told_wait) {
			ctls_conn_sendf(r->conn, CTLS_ERR, "bluegreen: waiting for the Docker engine "
					"(%s); the apply starts when it is back", reason ? reason
					: "not connected yet");
			r->told_wait = true;
		}
	}
}

void queue_finish(struct queue *q, struct queue_req *r, const struct cfg *cfg,
		const struct apply_outcome *o, const struct bg_diag *d, int64_t t0)
{
	struct bg_buf out = BG_BUF_INIT, err = BG_BUF_INIT;

	/*
	 * What `bluegreen apply` would have printed had it converged itself
	 * (cli_converge), rendered with the same functions, for the client.
	 */
	q->pr->reply(q->pr->arg, cfg, o, d, r->json, r->color, &out, &err);
	if (o->exit == BG_EXIT_TOKEN && o->have_plan) {
		/* The plan shown is journaled like any printed plan (cli_converge). */
		watch__journal_plan(q->hist, q->pr, &o->plan, "plan", "shown after a refused apply");
	}
	if (r->conn) {
		if (err.len) {
			ctls_conn_send(r->conn, CTLS_ERR, err.data);
		}
		if (out.len) {
			ctls_conn_send(r->conn, CTLS_OUT, out.data);
		}
		ctls_conn_finish(r->conn, o->exit);
		r->conn = NULL;
	}
	if (o->exit != BG_EXIT_OK) {
		watch__diag(q->pr, d);
	}
	watch__note(q->pr, "%s%s (%s) finished in %" PRId64 "ms: exit %d: %s",
			r->token ? "apply " : "", r->label, r->source,
			bg_mono_ms() - t0, o->exit, o->message ? o->message : "");
	bg_buf_release(&out);
	bg_buf_release(&err);
}
