/*
 * rec-colour-apply: the execution half of the colour reconciler (see
 * rec-colour.c for the state machine that plans it). It allocates a
 * loopback port when the edge publishes colour ports, creates and starts
 * a colour's replicas, runs the health gate (then, on a candidate, the
 * site's checks: issue 14) and drains. Split from rec-colour.c so the
 * planner and the executor are separate files.
 */
#include "bg.h"
#include "bg-log.h"
#include "edge.h"
#include "health.h"
#include "rec.h"
#include "rec-checks.h"
#include "rec-colour-int.h"
#include "rec-orphan.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* How many lines of a failing replica's log a failed gate shows (issue 13). */
#define GATE_LOG_LINES 20

/* Is 127.0.0.1:port free right now? (A listening socket anywhere makes bind fail.) */
static bool port_free(unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0) {
		close(fd);
	}
	return ok;
}

/*
 * A host port for a new colour container: the lowest of edge.nginx.ports
 * that no managed container holds (stopped ones included: their binding
 * comes back with them), that this apply has not handed out, and that
 * nothing on the host listens on.
 */
static int uint_cmp(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return (x > y) - (x < y);
}

static unsigned port_alloc(struct rec_apply_ctx *ctx, struct bg_diag *d)
{
	struct edge_port_range r = {0};
	size_t cap = ctx->obs->n_containers + ctx->ports.n + 1, k = 0;
	unsigned *used = bg_xcalloc(cap, sizeof(*used));
	unsigned got = 0;

	/* Every port held, sorted once: a scan of the range then skips them in order. */
	for (size_t i = 0; i < ctx->obs->n_containers; i++) {
		const char *hp = obs_labels_get(&ctx->obs->containers[i].labels, BG_LABEL_HOSTPORT);
		if (hp) {
			used[k++] = (unsigned)strtoul(hp, NULL, 10);
		}
	}
	for (size_t i = 0; i < ctx->ports.n; i++) {
		used[k++] = (unsigned)strtoul(ctx->ports.v[i], NULL, 10);
	}
	qsort(used, k, sizeof(*used), uint_cmp);
	size_t u = 0;
	edge_for(ctx->cfg)->port_range(ctx->cfg, &r); /* false: lo = hi = 0, none */
	for (unsigned p = r.lo; p && p <= r.hi; p++) {
		while (u < k && used[u] < p) {
			u++;
		}
		if ((u < k && used[u] == p) || !port_free(p)) {
			continue;
		}
		char buf[16];
		snprintf(buf, sizeof(buf), "%u", p);
		bg_strv_push(&ctx->ports, buf);
		got = p;
		break;
	}
	free(used);
	if (!got) {
		bg_diag_error(d, NULL, "no free host port left in %s (%s) for a new colour "
				"container", r.key ? r.key : "the edge's port range",
				r.value ? r.value : "?");
	}
	return got;
}

/*
 * A replica that a scale adds to the live colour (rec-scale.c): planned
 * at the live colour's version, which is not the desired spec's. It is
 * not a new version: nothing is recorded in the history and the replica
 * carries the live version's label, so `versions` and `rollback --to`
 * see the live version unchanged.
 */
static bool scale_create(const struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct plan_action *a)
{
	const struct plan_site *ps = ctx->plan ? plan_site_find(ctx->plan, a->site) : NULL;
	return ps && ps->live_before && ps->live_after && a->colour && !s->pinned_from &&
			strcmp(ps->live_before, a->colour) == 0 &&
			strcmp(ps->live_after, a->colour) == 0 && a->version &&
			a->version != s->version;
}

static int colour_create(struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct plan_action *a, struct bg_diag *d)
{
	struct des_create dc;
	struct des_site scaled;
	char *id = NULL;
	int err;

	if (scale_create(ctx, s, a)) {
		scaled = *s; /* a shallow copy, read only: the label's version differs */
		scaled.version = a->version;
		s = &scaled;
	} else if (ctx->hist) {
		unsigned v = 0;
		err = hist_version_record(ctx->hist, s->name, s->spec, s->spec_json, ctx->token, &v);
		if (err) {
			bg_diag_error(d, NULL, "cannot record version of '%s': %s", s->name,
					bg_strerror(err));
			return err;
		}
		if (v != s->version) {
			/* The history moved since the plan; the history is the truth. */
			bg_log(BG_LOG_WARN, "%s: version is v%u in the history, planned as v%u",
					s->name, v, s->version);
			((struct des_site *)s)->version = v;
		}
	}
	des_colour_create(ctx->des, s, a->colour, a->replica, ctx->token, &dc);
	if (rec_publishes_ports(ctx->cfg)) {
		char buf[16];
		unsigned port = port_alloc(ctx, d);
		if (!port) {
			des_create_release(&dc);
			return BG_EEDGE;
		}
		snprintf(buf, sizeof(buf), "%u", port);
		obs_labels_set(&dc.labels, BG_LABEL_HOSTPORT, buf);
		dc.spec.publish_ip = "127.0.0.1";
		dc.spec.publish_port = port;
	}
	/* A leftover with this name (a crash between create and start) goes first. */
	err = rt_create(ctx->rt, &dc.spec, &id, d);
	if (err == BG_ECONFLICT) {
		struct obs_container old = {0};
		struct bg_diag dd;
		bg_diag_init(&dd);
		/* Only our own leftover of this very slot goes: same site, role, colour. */
		if (rt_inspect(ctx->rt, dc.name, &old, &dd) == 0 && old.site &&
				strcmp(old.site, s->name) == 0 && old.role &&
				strcmp(old.role, "colour") == 0 && old.colour &&
				strcmp(old.colour, a->colour) == 0) {
			bg_diag_release(d);
			bg_diag_init(d);
			err = rt_remove(ctx->rt, old.id, d);
			if (!err) {
				err = rt_create(ctx->rt, &dc.spec, &id, d);
			}
		}
		obs_container_release(&old);
		bg_diag_release(&dd);
	}
	if (!err && dc.extra_network) {
		err = rt_network_connect(ctx->rt, dc.extra_network, id, dc.aliases.v, d);
	}
	free(id);
	des_create_release(&dc);
	return err;
}

/* What the gate keeps per replica between its rounds. */
struct gate_replica {
	bool ok;              /* passed */
	bool seen;            /* restarts holds the count first seen */
	unsigned restarts;
};

/* "candidate green.1 (web-green)": how the gate names a replica. */
static char *replica_words(struct rec_apply_ctx *ctx, const struct plan_action *a,
		unsigned r, const char *name)
{
	const struct plan_site *ps = ctx->plan ? plan_site_find(ctx->plan, a->site) : NULL;
	bool live = ps && ps->live_before && strcmp(ps->live_before, a->colour) == 0;
	return bg_xasprintf("%s %s.%u (%s)", live ? "live" : "candidate", a->colour, r, name);
}

/*
 * Fail fast: a replica that exited, waits for its next restart, or whose
 * restart count keeps growing will not become healthy; say so now with
 * its exit code rather than probe it until the tries run out. st is the
 * run state read with the probe's inspect (one request); a runtime without
 * it (NULL) leaves this to the inspect's state.
 */
static int crash_check(struct rec_apply_ctx *ctx, const struct plan_action *a, unsigned r,
		const char *name, struct gate_replica *g, const struct dk_cstate *st0,
		struct bg_diag *d)
{
	if (!st0) {
		return 0;
	}
	struct dk_cstate st = *st0;
	int err = 0;
	if (!g->seen) {
		g->seen = true;
		g->restarts = st.restart_count;
	}
	/*
	 * Restarts grew while it runs: the engine clears the exit code on each
	 * start, so look again for a second, briefly, to catch it down and
	 * say how it exited.
	 */
	for (int i = 0; i < 20 && st.state == OBS_CSTATE_RUNNING &&
			st.restart_count >= g->restarts + HEALTH_RESTARTS_MAX; i++) {
		struct dk_cstate again;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000000L};
		nanosleep(&ts, NULL);
		if (rt_cstate(ctx->rt, name, &again, NULL) == 0 &&
				again.state != OBS_CSTATE_RUNNING) {
			st = again;
		}
	}
	char *who = replica_words(ctx, a, r, name);
	char *why = health_crash_reason(who, st.state, st.exit_code, st.restart_count,
			g->restarts, st.oom_killed);
	if (why) {
		bg_diag_error(d, NULL, "%s%s%s", why, st.error[0] ? ": " : "", st.error);
		err = BG_EHEALTH;
	}
	free(why);
	free(who);
	return err;
}

/*
 * One probe of replica r: the image's own HEALTHCHECK status if it has one,
 * else an HTTP GET on its address on the edge network (or the site's), or
 * where the runtime says this host reaches it (RT_LABEL_PROBE: a Swarm
 * task's published port on its node, once Swarm reports it running).
 * *last says what was seen. A replica that exited or keeps restarting
 * fails the gate at once.
 */
static int probe_replica(struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct plan_action *a, unsigned r, struct gate_replica *g, char **last,
		struct bg_diag *d)
{
	const struct cfg_site *cs = s->cfg;
	char *name = des_colour_container_name(s->name, a->colour, r);
	struct obs_container c = {0};
	struct dk_cstate st;
	struct bg_diag dd;
	int st_err, err;

	bg_diag_init(&dd);
	/* One request for both (issue 11: the switch's gate asked twice). */
	err = rt_inspect_cstate(ctx->rt, name, &c, &st, &st_err, &dd);
	if (st_err && st_err != BG_ERRNO(ENOTSUP)) {
		bg_diag_merge(d, &dd);
		err = st_err;
		goto out;
	}
	err = err ? err : crash_check(ctx, a, r, name, g, st_err ? NULL : &st, d);
	if (err) {
		bg_diag_merge(d, &dd);
		goto out;
	}
	if (c.state == OBS_CSTATE_EXITED || c.state == OBS_CSTATE_DEAD) {
		bg_diag_error(d, NULL, "%s exited (code %d) before it became healthy", name,
				c.exit_code);
		err = BG_EHEALTH;
		goto out;
	}
	free(*last);
	if (c.health != OBS_HEALTH_NONE) {
		g->ok = c.health == OBS_HEALTH_HEALTHY;
		*last = bg_xasprintf("%s: docker health %s", name, obs_health_name(c.health));
		goto out;
	}
	const char *ip = obs_container_ip(&c, ctx->des->edge_network);
	if (!ip || !*ip) {
		ip = obs_container_ip(&c, s->network);
	}
	/* Where the runtime says this host reaches it (a Swarm task's port). */
	const char *at = obs_labels_get(&c.labels, RT_LABEL_PROBE);
	char *detail = NULL;
	if (at && !*at) {
		detail = bg_xstrdup("not running yet");
	} else if (at || (ip && *ip)) {
		char *url = at ? bg_xasprintf("http://%s%s", at, cs->health.path)
			       : bg_xasprintf("http://%s:%u%s", ip, cs->port, cs->health.path);
		g->ok = health_http_check(url, cs->health.timeout_ms, cs->health.status,
				&detail) == 0;
		free(url);
	} else {
		detail = bg_xstrdup("no address yet");
	}
	*last = bg_xasprintf("%s%s%s: %s", name, at && *at ? " at " : "", at && *at ? at : "",
			detail ? detail : "?");
	free(detail);
out:
	bg_diag_release(&dd);
	obs_container_release(&c);
	free(name);
	return err;
}

/*
 * The log tail of a replica that failed the gate, appended to the gate's
 * error (the first item of d: the apply prints it and rec-exec journals
 * it as the step's details), secrets redacted. Logs that cannot be read
 * are said, and the failure stands as it is.
 */
static void log_tail_add(struct rec_apply_ctx *ctx, const struct des_site *s,
		const char *name, struct bg_diag *d)
{
	struct bg_buf b = BG_BUF_INIT;
	struct bg_diag dd;
	char *text = NULL;

	bg_diag_init(&dd);
	int err = rt_logs(ctx->rt, name, GATE_LOG_LINES, &b, &dd);
	if (err) {
		text = bg_xasprintf("(logs unavailable: %s)", dd.n ? dd.items[0].msg
				: bg_strerror(err));
	} else {
		char *tail = health_log_tail(b.data, b.len, &s->cfg->env, GATE_LOG_LINES);
		text = *tail ? bg_xasprintf("last %u lines of %s's log (secrets redacted):\n%s",
				GATE_LOG_LINES, name, tail)
			     : bg_xasprintf("%s's log is empty", name);
		free(tail);
	}
	for (size_t i = 0; i < d->n; i++) {
		if (d->items[i].sev == BG_SEV_ERROR) {
			char *msg = bg_xasprintf("%s\n%s", d->items[i].msg, text);
			free(d->items[i].msg);
			d->items[i].msg = msg;
			break;
		}
	}
	free(text);
	bg_buf_release(&b);
	bg_diag_release(&dd);
}

/*
 * The site's checks on a healthy candidate (issue 14), before any switch:
 * the plan listed them under this step and its token covers them
 * (plan_action_checks). Every check runs, and a failure names each one
 * that failed with what it expected and what it saw; the step then fails
 * as a failed health gate does (BG_EHEALTH: exit 5, the candidate stopped
 * by rec_colour__failed, the live colour untouched, gate-failed alerted).
 * Log checks judge the lines since the gate began.
 */
static int colour_checks(struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct plan_action *a, int64_t since, struct bg_diag *d)
{
	struct chk_report rep;
	rec_progress(ctx, false, "%s-%s: running %zu check%s before the switch", s->name,
			a->colour, s->cfg->n_checks, s->cfg->n_checks == 1 ? "" : "s");
	int err = rec_checks_colour(ctx->rt, ctx->des, s, a->colour, -1, since, NULL, NULL, &rep,
			d);
	if (err == BG_EHEALTH) {
		char *lines = chk_report_failures(&rep, "  ");
		bg_diag_error(d, NULL, "%s-%s v%u failed %zu of %zu checks before the switch; the "
				"live colour was not touched:\n%s", s->name, a->colour, a->version,
				rep.n_fail, rep.n_run, lines);
		rec_journal(ctx, "checks", a->site, "failed", "%s-%s v%u: %zu of %zu failed:\n%s",
				a->site, a->colour, a->version, rep.n_fail, rep.n_run, lines);
		free(lines);
	} else if (!err) {
		struct bg_buf names = BG_BUF_INIT;
		for (size_t i = 0; i < rep.passed.n; i++) {
			bg_buf_addf(&names, "%s%s", i ? ", " : "", rep.passed.v[i]);
		}
		rec_progress(ctx, false, "%s-%s: %zu check%s passed", s->name, a->colour, rep.n_run,
				rep.n_run == 1 ? "" : "s");
		rec_journal(ctx, "checks", a->site, "ok", "%s-%s v%u: %zu passed: %s", a->site,
				a->colour, a->version, rep.n_run, names.data ? names.data : "");
		bg_buf_release(&names);
	}
	chk_report_release(&rep);
	return err;
}

/*
 * The health gate: every replica of the colour must answer (HTTP GET on
 * its address on the edge network, or the image's own HEALTHCHECK status)
 * within the configured tries, interval apart. A replica that exits or
 * keeps restarting fails the gate at once: waiting would only delay the
 * bad news. A failed gate shows the failing replica's last log lines.
 */
static int colour_health(struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct plan_action *a, struct bg_diag *d)
{
	const struct cfg_site *cs = s->cfg;
	unsigned n = cs->replicas;
	struct gate_replica g[MAX_REPLICAS + 1];
	unsigned healthy = 0, failing = 1;
	char *last = NULL;
	int err = 0;
	char iv[32];

	int64_t since = (int64_t)time(NULL); /* log checks judge what the gate saw */
	memset(g, 0, sizeof(g));
	bg_duration_format(cs->health.interval_ms, iv);
	for (unsigned attempt = 1; attempt <= cs->health.retries; attempt++) {
		/* One round: each replica not yet healthy is probed once. */
		for (unsigned r = 1; r <= n; r++) {
			if (g[r].ok) {
				continue;
			}
			failing = r;
			err = probe_replica(ctx, s, a, r, &g[r], &last, d);
			if (err) {
				goto out;
			}
			healthy += g[r].ok;
		}
		if (healthy == n) {
			rec_progress(ctx, false, "%s-%s: healthy %u/%u (v%u)", s->name, a->colour,
					healthy, n, a->version);
			if (ctx->plan && plan_action_checks(ctx->plan, a, ctx->cfg)) {
				free(last); /* a failed check names its own evidence, not a log tail */
				return colour_checks(ctx, s, a, since, d);
			}
			goto out;
		}
		for (unsigned r = n; r >= 1; r--) {
			failing = g[r].ok ? failing : r; /* the first one not healthy */
		}
		if (attempt == cs->health.retries) {
			break;
		}
		rec_progress(ctx, true, "%s-%s: healthy %u/%u, try %u/%u, waiting %s (%s)",
				s->name, a->colour, healthy, n, attempt, cs->health.retries, iv,
				last ? last : "");
		err = rec_pause_ms(ctx, cs->health.interval_ms);
		if (err) {
			goto out;
		}
	}
	bg_diag_error(d, NULL, "%s-%s did not become healthy: %u/%u replicas after %u tries "
			"(last: %s)", s->name, a->colour, healthy, n, cs->health.retries,
			last ? last : "?");
	err = BG_EHEALTH;
out:
	if (err == BG_EHEALTH) {
		char *name = des_colour_container_name(s->name, a->colour, failing);
		log_tail_add(ctx, s, name, d);
		free(name);
	}
	free(last);
	return err;
}

int rec_colour__apply(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	const struct des_site *s = des_site_find(ctx->des, a->site);
	const char *target = a->target_id ? a->target_id : a->name;

	if (rec_orphan_owns(ctx, a)) { /* a removed site (issue 13, helper D4) */
		return rec_orphan_container_apply(ctx, a, d);
	}
	if (!s) {
		bg_diag_error(d, NULL, "site '%s' is no longer configured", a->site);
		return BG_ECONFIG;
	}
	switch (a->op) {
	case PLAN_OP_CREATE:
		return colour_create(ctx, s, a, d);
	case PLAN_OP_START: {
		int err = rt_start(ctx->rt, target, d);
		/*
		 * Its host port was taken between the choice and the start (another
		 * installation on this host, a process): recreate it on the next
		 * free port and start again. Never for the live colour.
		 */
		const struct plan_site *ps = ctx->plan ? plan_site_find(ctx->plan, a->site) : NULL;
		for (int tries = 0; err && tries < 5 && rec_publishes_ports(ctx->cfg) && d->n &&
				a->colour && ps &&
				(!ps->live_before || strcmp(ps->live_before, a->colour) != 0) &&
				(strstr(d->items[d->n - 1].msg, "port is already allocated") ||
				 strstr(d->items[d->n - 1].msg, "address already in use"));
				tries++) {
			struct bg_diag dd;
			bg_diag_init(&dd);
			rec_progress(ctx, false, "%s: its host port was taken meanwhile: recreated on "
					"another port", a->name);
			err = rt_remove(ctx->rt, a->name, &dd);
			if (!err) {
				err = colour_create(ctx, s, a, &dd);
			}
			if (!err) {
				err = rt_start(ctx->rt, a->name, &dd);
			}
			bg_diag_release(d);
			bg_diag_init(d);
			bg_diag_merge(d, &dd);
			bg_diag_release(&dd);
		}
		return err;
	}
	case PLAN_OP_STOP:
		return rt_stop(ctx->rt, target,
				des_stop_timeout_s(s->cfg->stop_timeout_ms), d);
	case PLAN_OP_REMOVE: {
		/* Stop gracefully first: remove would SIGKILL a running container. */
		int err = rt_stop(ctx->rt, target,
				des_stop_timeout_s(s->cfg->stop_timeout_ms), d);
		if (err && err != BG_ENOT_FOUND) {
			return err;
		}
		return rt_remove(ctx->rt, target, d);
	}
	case PLAN_OP_HEALTH:
		return colour_health(ctx, s, a, d);
	case PLAN_OP_DRAIN:
		rec_progress(ctx, false, "%s-%s: draining for %" PRIu64 "ms", s->name, a->colour,
				a->ms);
		return rec_pause_ms(ctx, a->ms);
	default:
		BG_BUG("colour: unexpected op %s", plan_op_name(a->op));
	}
}


int rec_colour__after(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	if (a->op != PLAN_OP_HEALTH || !a->colour) {
		return 0;
	}
	const struct plan_site *ps = plan_site_find(ctx->plan, a->site);
	if (ps && ps->candidate_after && strcmp(ps->candidate_after, a->colour) == 0) {
		rec_journal(ctx, "candidate", a->site, "healthy", "%s-%s v%u is healthy and waits "
				"for the switch (promote: manual)", a->site, a->colour, a->version);
	}
	return 0;
}

/*
 * Did this apply create or start the colour before step `upto`? Only such a
 * colour is stopped when its gate fails: one that was running before (a
 * re-check before a switch) may be serving through an edge we cannot see.
 */
static bool started_here(const struct plan *p, size_t upto, const char *site,
		const char *colour)
{
	for (size_t i = 0; i < upto; i++) {
		const struct plan_action *a = &p->actions[i];
		if (a->kind == PLAN_KIND_CONTAINER && a->site && strcmp(a->site, site) == 0 &&
				a->colour && strcmp(a->colour, colour) == 0 &&
				(a->op == PLAN_OP_CREATE || a->op == PLAN_OP_START)) {
			return true;
		}
	}
	return false;
}

/*
 * The live colour's gate failed after a scale up created replicas in it:
 * only those are stopped (the edge does not name them yet; the replicas
 * that serve are left alone). Stopped, the next plan starts and gates them
 * again before any edge write names them; running, the edge reconciler
 * would add them without a gate.
 */
static void scale_failed(struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct plan_action *gate)
{
	unsigned n = 0;
	for (size_t i = 0; i < ctx->step; i++) {
		const struct plan_action *a = &ctx->plan->actions[i];
		if (a->op != PLAN_OP_CREATE || a->kind != PLAN_KIND_CONTAINER || !a->site ||
				strcmp(a->site, gate->site) != 0 || !a->colour ||
				strcmp(a->colour, gate->colour) != 0 || !scale_create(ctx, s, a)) {
			continue;
		}
		struct bg_diag dd;
		bg_diag_init(&dd);
		rt_stop(ctx->rt, a->name, 2, &dd);
		bg_diag_release(&dd);
		n++;
	}
	if (n) {
		rec_journal(ctx, "scale", gate->site, "failed", "%u new replica%s of live %s-%s "
				"failed the health gate and %s stopped; the edge was not changed", n,
				n == 1 ? "" : "s", gate->site, gate->colour, n == 1 ? "was" : "were");
	}
}

/*
 * A candidate that failed its gate is stopped: it serves nothing, and the
 * next plan then proposes to start and gate it again instead of a switch.
 */
void rec_colour__failed(struct rec_apply_ctx *ctx, const struct plan_action *a, int err)
{
	if (a->op != PLAN_OP_HEALTH || !a->colour || err != BG_EHEALTH ||
			!started_here(ctx->plan, ctx->step, a->site, a->colour)) {
		return;
	}
	const struct des_site *s = des_site_find(ctx->des, a->site);
	const struct plan_site *ps = plan_site_find(ctx->plan, a->site);
	if (s && ps && ps->live_before && strcmp(ps->live_before, a->colour) == 0) {
		scale_failed(ctx, s, a);
		return;
	}
	/* Never stop what serves: only a colour that is not live. */
	if (!s || !ps) {
		return;
	}
	for (unsigned r = 1; r <= s->cfg->replicas; r++) {
		char *name = des_colour_container_name(s->name, a->colour, r);
		struct bg_diag dd;
		bg_diag_init(&dd);
		rt_stop(ctx->rt, name, 2, &dd);
		bg_diag_release(&dd);
		free(name);
	}
	rec_journal(ctx, "candidate", a->site, "failed", "%s-%s v%u failed its health gate and "
			"was stopped", a->site, a->colour, a->version);
}
