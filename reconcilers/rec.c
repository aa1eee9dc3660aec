/*
 * rec: the reconciler registry, the observe walk over it (every kind into
 * one snapshot) and the helpers the reconcilers share. The diff walk, the
 * planner, is rec-plan.c.
 */
#include "bg.h"
#include "bg-log.h"
#include "edge.h"
#include "rec.h"
#include "hist-live.h"

#include <time.h>

static int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

const struct rec_impl *const rec_registry[] = {
	&rec_network_impl,
	&rec_volume_impl,
	&rec_service_impl,
	&rec_image_impl, /* after service, before colour: observe order as before the split */
	&rec_colour_impl,
	/* after the colours: a backup step comes before the site's switch */
	&rec_backup_impl,
	/* after the backup: its install and upgrade steps go before the switch
	 * and a database upgrade makes sure a backup step comes first */
	&rec_wordpress_impl,
	/* after the colours: it needs the site's live colour after the plan */
	&rec_cert_impl,
	&rec_edge_impl,
};
const size_t rec_registry_len = BG_ARRAY_SIZE(rec_registry);

const struct rec_impl *rec_for_kind(enum plan_kind kind)
{
	for (size_t i = 0; i < rec_registry_len; i++) {
		if (rec_registry[i]->handles && rec_registry[i]->handles(kind)) {
			return rec_registry[i];
		}
	}
	return NULL;
}

int rec_observe(struct rt *rt, const struct cfg *cfg, struct hist *h,
		struct obs *o, unsigned flags, struct bg_diag *d)
{
	int err = rt_negotiate(rt, d);
	if (err) {
		return err;
	}
	free(o->engine_version);
	free(o->api_version);
	free(o->edge_kind);
	o->engine_version = bg_xstrdup(rt_engine_version(rt));
	o->api_version = bg_xstrdup(rt_api_version(rt));
	o->edge_kind = bg_xstrdup(edge_for(cfg)->kind);
	/* Containers first: the service and colour kinds both need them. */
	if (!(flags & REC_OBSERVE_NO_CONTAINERS)) {
		err = rt_observe(rt, o, RT_CONTAINERS, d);
		if (err) {
			return err;
		}
	}
	obs_finish(o);
	for (size_t i = 0; i < rec_registry_len; i++) {
		err = rec_registry[i]->observe ? rec_registry[i]->observe(rt, cfg, o, d) : 0;
		if (err) {
			return err;
		}
	}
	if (h) {
		err = hist_observe(h, o);
		if (err) {
			bg_diag_error(d, NULL, "cannot read the history: %s", bg_strerror(err));
			return err;
		}
		/* Which versions ever went live (issue 13: never-live colours). */
		err = hist_live_observe(h, o);
		if (err) {
			bg_diag_error(d, NULL, "cannot read the history: %s", bg_strerror(err));
			return err;
		}
		/* The backups a restore or a rollback plan needs (issue 12). */
		err = rec_backup_observe_hist(h, o, d);
		if (err) {
			return err;
		}
	}
	if (cfg->g.state_dir) {
		des_secrets_observe(cfg->g.state_dir, &o->secrets);
	}
	obs_finish(o);
	return 0;
}

/* Is name among the managed objects of kind that o holds (sorted)? */
static bool observed_managed(const struct obs *o, const char *kind, const char *name)
{
	if (strcmp(kind, "container") == 0) {
		return obs_container_find(o, name) != NULL;
	}
	if (strcmp(kind, "network") == 0) {
		return obs_network_find(o, name) != NULL;
	}
	return strcmp(kind, "volume") == 0 && obs_volume_find(o, name) != NULL;
}

int rec_observe_conflicts(struct rt *rt, struct obs *o, const char *kind,
		const struct bg_strv *names, struct bg_diag *d)
{
	struct bg_strv ask, taken;
	int err = 0;

	bg_strv_init(&ask);
	bg_strv_init(&taken);
	for (size_t i = 0; i < names->n; i++) {
		if (!observed_managed(o, kind, names->v[i])) {
			bg_strv_push(&ask, names->v[i]);
		}
	}
	/* One list call per kind, not one request per name; none if all are ours. */
	if (ask.n) {
		err = rt_list_unmanaged(rt, kind, &taken, d);
	}
	for (size_t i = 0; !err && i < ask.n; i++) {
		/* taken.v is NULL when nothing is taken: bsearch(NULL, 0) is still UB. */
		if (taken.n && bsearch(&ask.v[i], taken.v, taken.n, sizeof(*taken.v), strp_cmp)) {
			obs_conflict_add(o, kind, ask.v[i]);
		}
	}
	bg_strv_release(&taken);
	bg_strv_release(&ask);
	return err;
}

bool rec_conflict(const struct obs *o, const char *kind, const char *name)
{
	return obs_conflict_has(o, kind, name);
}

static int container_name_cmp(const void *key, const void *elem)
{
	return strcmp(key, (*(const struct obs_container *const *)elem)->name);
}

const struct obs_container *rec_site_container(const struct rec_diff_ctx *ctx,
		const char *name)
{
	if (ctx->n_cs == 0) {
		return NULL; /* ctx->cs may be NULL: bsearch(NULL, 0) is still UB */
	}
	const struct obs_container *const *hit = bsearch(name, ctx->cs, ctx->n_cs,
			sizeof(*ctx->cs), container_name_cmp);
	return hit ? *hit : NULL;
}

bool rec_publishes_ports(const struct cfg *cfg)
{
	return edge_for(cfg)->publishes_ports(cfg);
}

int rec_edge_read(const struct cfg *cfg, struct obs *o)
{
	struct bg_diag d;

	bg_diag_init(&d);
	int err = edge_observe(cfg, o, &d);
	bg_diag_release(&d);
	if (!err) {
		obs_finish(o);
	}
	return err;
}

void rec_fact_container(struct plan *p, const struct obs_container *c)
{
	struct bg_buf ips = BG_BUF_INIT;
	for (size_t i = 0; i < c->n_nets; i++) {
		bg_buf_addf(&ips, "%s%s=%s", i ? "," : "", c->nets[i].network,
				c->nets[i].ip ? c->nets[i].ip : "");
	}
	const char *hp = obs_labels_get(&c->labels, BG_LABEL_HOSTPORT);
	plan_fact_add(p, "container %s id=%s state=%s health=%s spec=%s version=%u ips=%s port=%s",
			c->name, c->id ? c->id : "", obs_cstate_name(c->state),
			obs_health_name(c->health), c->spec ? c->spec : "", c->version, ips.data,
			hp ? hp : "");
	bg_buf_release(&ips);
}

void rec_progress(struct rec_apply_ctx *ctx, bool transient, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *line = bg_xvasprintf(fmt, ap);
	va_end(ap);
	if (ctx->progress) {
		ctx->progress(ctx->progress_arg, line, transient);
	} else if (!transient) {
		bg_log(BG_LOG_INFO, "%s", line);
	}
	free(line);
}

int rec_pause_ms(struct rec_apply_ctx *ctx, uint64_t ms)
{
	int64_t end = bg_mono_ms() + (int64_t)ms;
	for (;;) {
		if (ctx->cancel && *ctx->cancel) {
			return BG_ECANCELLED;
		}
		int64_t left = end - bg_mono_ms();
		if (left <= 0) {
			return 0;
		}
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (left > 100 ? 100 : left) * 1000000L};
		nanosleep(&ts, NULL);
	}
}
