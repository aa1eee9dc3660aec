/*
 * rec-service-health: when a backing service counts as healthy, so that the
 * colours that depend on it start only then (ADR 0016). In order of
 * preference: the service's `health.command`, run in its container through
 * the runtime's exec (argv, never a shell; exit 0 = healthy); its
 * `health.tcp`, a TCP connect to the service's address on the site
 * network, from where the runtime reaches it (rt_tcp_check: the host on
 * one engine, whose site network is an ordinary bridge, whatever
 * edge.nginx.upstream says; the task's own network namespace on Swarm,
 * ADR 0031; a remote or rootless engine reaches neither: use `command`);
 * the image's own HEALTHCHECK as the engine reports it; else "running".
 * A container that exits fails at once, with its exit code.
 */
#include "bg.h"
#include "bg-log.h"
#include "rec-service-int.h"

unsigned rec_service_downtime_s(const struct des_service *sv)
{
	/* 30: the stop grace services are created with (des_service_create). */
	uint64_t ms = 30000 + 1000 + sv->cfg->health.interval_ms;
	return (unsigned)((ms + 999) / 1000);
}

/* The check's output for a message: its last line, printable, at most 200 bytes. */
static char *output_tail(const struct bg_buf *b)
{
	size_t end = b->len;
	while (end && (b->data[end - 1] == '\n' || b->data[end - 1] == '\r' ||
			b->data[end - 1] == ' ')) {
		end--;
	}
	size_t start = end;
	while (start && b->data[start - 1] != '\n' && end - start < 200) {
		start--;
	}
	char *s = bg_xstrndup(b->data + start, end - start);
	for (char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
			*p = '?';
		}
	}
	return s;
}

/* One check of the `health:` command; *ok, and *last says what it saw. */
static int check_command(struct rec_apply_ctx *ctx, const struct obs_container *c,
		const struct cfg_service_health *h, bool *ok, char **last, struct bg_diag *d)
{
	struct bg_buf out;
	struct bg_diag dd;
	int code = -1;
	bg_buf_init(&out, 0);
	bg_diag_init(&dd);
	int err = rt_exec_check(ctx->rt, c->id, h->command.v, h->timeout_ms, &code, &out, &dd);
	if (err == BG_ETIMEOUT) {
		*last = bg_xasprintf("%s did not finish within %" PRIu64 " ms", h->command.v[0],
				h->timeout_ms);
		err = 0;
	} else if (!err) {
		char *tail = output_tail(&out);
		*ok = code == 0;
		*last = bg_xasprintf("%s exited with %d%s%s", h->command.v[0], code,
				*tail ? ": " : "", tail);
		free(tail);
	} else if (err == BG_EDOCKER) {
		/* The exec could not run (not found in the image...): an answer, not a failure of bluegreen. */
		*last = bg_xstrdup(dd.n ? dd.items[dd.n - 1].msg : bg_strerror(err));
		err = 0;
	} else {
		bg_diag_merge(d, &dd);
	}
	bg_diag_release(&dd);
	bg_buf_release(&out);
	return err;
}

/* One check of `health.tcp`, where the runtime reaches the service from
 * (the host, or its task's own network on Swarm: ADR 0031). Not being
 * allowed there (not root) is bluegreen's failure, not the service's. */
static int check_tcp(struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct obs_container *c, const struct cfg_service_health *h, bool *ok,
		char **last, struct bg_diag *d)
{
	char *why = NULL;
	int err = rt_tcp_check(ctx->rt, c, s->network, h->tcp, h->timeout_ms, &why);
	*ok = err == 0;
	if (err == 0 || err == BG_EHEALTH) {
		const char *ip = obs_container_ip(c, s->network);
		*last = err ? bg_xasprintf("tcp %s", why)
			    : bg_xasprintf("tcp %s:%u: open", ip ? ip : "?", h->tcp);
		err = 0;
	} else {
		bg_diag_error(d, NULL, "tcp check of %s: %s", c->name, why);
	}
	free(why);
	return err;
}

/* One check of sv's container; *ok when healthy, *last what was seen. */
static int check_once(struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct des_service *sv, bool *ok, char **last, struct bg_diag *d)
{
	const struct cfg_service_health *h = &sv->cfg->health;
	struct obs_container c = {0};
	struct bg_diag dd;
	bg_diag_init(&dd);
	int err = rt_inspect(ctx->rt, sv->container, &c, &dd);
	*ok = false;
	free(*last);
	*last = NULL;
	if (err) {
		bg_diag_merge(d, &dd);
	} else if (c.state == OBS_CSTATE_EXITED || c.state == OBS_CSTATE_DEAD) {
		bg_diag_error(d, NULL, "service %s of site %s exited (code %d) before it became "
				"healthy", sv->cfg->name, s->name, c.exit_code);
		err = BG_EHEALTH;
	} else if (c.state != OBS_CSTATE_RUNNING) {
		*last = bg_xasprintf("container %s is %s", c.name, obs_cstate_name(c.state));
	} else if (h->command.n) {
		err = check_command(ctx, &c, h, ok, last, d);
	} else if (h->tcp) {
		err = check_tcp(ctx, s, &c, h, ok, last, d);
	} else if (c.health != OBS_HEALTH_NONE) {
		*ok = c.health == OBS_HEALTH_HEALTHY;
		*last = bg_xasprintf("docker health %s", obs_health_name(c.health));
	} else {
		*ok = true;
		*last = bg_xstrdup("running");
	}
	obs_container_release(&c);
	bg_diag_release(&dd);
	return err;
}

int rec_service_health(struct rec_apply_ctx *ctx, const struct des_site *s,
		const struct des_service *sv, struct bg_diag *d)
{
	const struct cfg_service_health *h = &sv->cfg->health;
	unsigned tries = h->retries ? h->retries : 1;
	char *last = NULL;
	int64_t t0 = bg_mono_ms();
	int err = 0;
	bool ok = false;

	for (unsigned i = 0; i < tries && !ok; i++) {
		if (i) {
			err = rec_pause_ms(ctx, h->interval_ms);
		}
		if (!err) {
			err = check_once(ctx, s, sv, &ok, &last, d);
		}
		if (err) {
			goto out;
		}
	}
	if (ok) {
		bg_log(BG_LOG_INFO, "service %s of site %s is healthy after %" PRId64 " ms (%s)",
				sv->cfg->name, s->name, bg_mono_ms() - t0, last);
	} else {
		bg_diag_error(d, NULL, "service %s of site %s is not healthy after %" PRIu64 " s: %s",
				sv->cfg->name, s->name, (tries * h->interval_ms + 999) / 1000,
				last ? last : "no check ran");
		err = BG_EHEALTH;
	}
out:
	free(last);
	return err;
}
