/*
 * rec: the reconciler registry and the two walks over it: observe every
 * kind into one snapshot, and diff every kind into one plan (a shared pass
 * first, then each site in name order). Name conflicts with objects
 * bluegreen does not manage block a site here, before any kind diffs it,
 * so no reconciler can plan to touch someone else's object.
 */
#include "bg.h"
#include "bg-log.h"
#include "rec.h"

/* Declared in rec-colour.c: the rollback plan for one site. */
int rec_colour_rollback_diff(struct rec_diff_ctx *ctx);

static int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

const struct rec_impl *const rec_registry[] = {
	&rec_network_impl,
	&rec_volume_impl,
	&rec_service_impl,
	&rec_colour_impl,
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

int rec_observe(struct dk_client *dk, const struct cfg *cfg, struct hist *h,
		struct obs *o, unsigned flags, struct bg_diag *d)
{
	int err = dk_client_negotiate(dk, d);
	if (err) {
		return err;
	}
	free(o->engine_version);
	free(o->api_version);
	free(o->edge_kind);
	o->engine_version = bg_xstrdup(dk_client_engine_version(dk));
	o->api_version = bg_xstrdup(dk_client_api_version(dk));
	o->edge_kind = bg_xstrdup(cfg_edge_kind_name(cfg->g.edge_kind));
	/* Containers first: the service and colour kinds both need them. */
	if (!(flags & REC_OBSERVE_NO_CONTAINERS)) {
		err = dk_containers_observe(dk, o, d);
		if (err) {
			return err;
		}
	}
	obs_finish(o);
	for (size_t i = 0; i < rec_registry_len; i++) {
		err = rec_registry[i]->observe(dk, cfg, o, d);
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
	}
	obs_finish(o);
	return 0;
}

int rec_observe_all(struct dk_client *dk, const struct cfg *cfg, struct hist *h,
		struct obs *o, struct bg_diag *d)
{
	return rec_observe(dk, cfg, h, o, 0, d);
}

int rec_observe_conflicts(struct dk_client *dk, struct obs *o, const char *kind,
		const struct bg_strv *names, struct bg_diag *d)
{
	struct bg_strv taken;
	int err = 0;

	if (names->n == 0) {
		return 0;
	}
	/* One list call per kind, not one request per name. */
	bg_strv_init(&taken);
	err = dk_names_unmanaged(dk, kind, &taken, d);
	for (size_t i = 0; !err && i < names->n; i++) {
		/* taken.v is NULL when nothing is taken: bsearch(NULL, 0) is still UB. */
		if (taken.n && bsearch(&names->v[i], taken.v, taken.n, sizeof(*taken.v), strp_cmp)) {
			obs_conflict_add(o, kind, names->v[i]);
		}
	}
	bg_strv_release(&taken);
	return err;
}

bool rec_conflict(const struct obs *o, const char *kind, const char *name)
{
	return obs_conflict_has(o, kind, name);
}

const struct obs_container *rec_site_container(const struct rec_diff_ctx *ctx,
		const char *name)
{
	size_t lo = 0, hi = ctx->n_cs;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ctx->cs[mid]->name, name);
		if (c == 0) {
			return ctx->cs[mid];
		}
		if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return NULL;
}

bool rec_publishes_ports(const struct cfg *cfg)
{
	return cfg->g.edge_kind == CFG_EDGE_NGINX && cfg->g.nginx.upstream == CFG_UPSTREAM_PORTS;
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

/* Sites a plan covers: all, or the filter's (unknown names were refused earlier). */
static bool site_selected(const struct plan_args *args, const char *site)
{
	return args->sites.n == 0 || bg_strv_contains(&args->sites, site);
}

static const char *vol_site(const struct obs_volume *v)
{
	const char *s = obs_labels_get(&v->labels, BG_LABEL_SITE);
	return s ? s : "";
}

static int vol_site_cmp(const void *a, const void *b)
{
	const struct obs_volume *x = *(const struct obs_volume *const *)a;
	const struct obs_volume *y = *(const struct obs_volume *const *)b;
	int c = strcmp(vol_site(x), vol_site(y));
	return c ? c : strcmp(x->name, y->name);
}

static int cs_site_cmp(const void *a, const void *b)
{
	const struct obs_container *x = *(const struct obs_container *const *)a;
	const struct obs_container *y = *(const struct obs_container *const *)b;
	int c = strcmp(x->site ? x->site : "", y->site ? y->site : "");
	return c ? c : strcmp(x->name, y->name);
}

/* Managed, but labelled for another site (another installation on this host). */
static bool other_site(const struct obs_labels *l, const char *site)
{
	const char *owner = obs_labels_get(l, BG_LABEL_SITE);
	return owner && strcmp(owner, site) != 0;
}

/* A name of the site held by an object it must not use; adds to b. */
static void conflict_check(struct bg_buf *b, struct bg_buf *foreign, const struct obs *o,
		const char *kind, const char *name, const char *site)
{
	if (rec_conflict(o, kind, name)) {
		bg_buf_addf(b, "%s%s '%s'", b->len ? ", " : "", kind, name);
		return;
	}
	const struct obs_labels *l = NULL;
	if (strcmp(kind, "network") == 0) {
		const struct obs_network *n = obs_network_find(o, name);
		l = n ? &n->labels : NULL;
	} else if (strcmp(kind, "volume") == 0) {
		const struct obs_volume *v = obs_volume_find(o, name);
		l = v ? &v->labels : NULL;
	} else {
		const struct obs_container *c = obs_container_find(o, name);
		l = c ? &c->labels : NULL;
	}
	if (l && other_site(l, site)) {
		bg_buf_addf(foreign, "%s%s '%s' (site '%s')", foreign->len ? ", " : "", kind,
				name, obs_labels_get(l, BG_LABEL_SITE));
	}
}

/* Why the site cannot be planned because of names others hold, or NULL. */
static char *site_conflicts(const struct obs *o, const struct des_site *s)
{
	struct bg_buf b = BG_BUF_INIT, foreign = BG_BUF_INIT;
	static const char *const colours[] = {"blue", "green"};
	char *why = NULL;

	conflict_check(&b, &foreign, o, "network", s->network, s->name);
	for (size_t i = 0; i < s->volumes.n; i++) {
		conflict_check(&b, &foreign, o, "volume", s->volumes.v[i], s->name);
	}
	for (size_t c = 0; c < 2; c++) {
		for (unsigned r = 1; r <= s->cfg->replicas; r++) {
			char *n = des_colour_container_name(s->name, colours[c], r);
			conflict_check(&b, &foreign, o, "container", n, s->name);
			free(n);
		}
	}
	for (size_t i = 0; i < s->n_services; i++) {
		conflict_check(&b, &foreign, o, "container", s->services[i].container, s->name);
	}
	if (b.len) {
		bool many = strchr(b.data, ',') != NULL;
		why = bg_xasprintf("%s already exist%s and %s not managed by bluegreen (no "
				"io.bluegreen.managed label): bluegreen never touches objects it "
				"does not manage; rename or remove %s", b.data, many ? "" : "s",
				many ? "are" : "is", many ? "them" : "it");
	} else if (foreign.len) {
		why = bg_xasprintf("%s belong%s to another site managed by bluegreen (another "
				"installation on this host?): two sites must never share a Docker "
				"object; rename one of the sites", foreign.data,
				strchr(foreign.data, ',') ? "" : "s");
	}
	bg_buf_release(&b);
	bg_buf_release(&foreign);
	return why;
}

int rec_diff_all(struct plan *p, const struct cfg *cfg, const struct obs *obs,
		const struct desired *des, const struct plan_args *args)
{
	struct rec_diff_ctx ctx = {
		.cfg = cfg, .obs = obs, .des = des, .args = args, .plan = p,
	};
	const struct obs_container **idx = NULL;
	const struct obs_volume **vidx = NULL;
	size_t n_idx = 0, at = 0, vat = 0;
	int err = 0;

	plan_fact_add(p, "history tokens_used=%" PRIu64, obs->hist_tokens_used);
	if (args->kind == PLAN_CONVERGE) {
		for (size_t i = 0; i < rec_registry_len; i++) {
			err = rec_registry[i]->diff(&ctx);
			if (err) {
				goto out;
			}
		}
	}

	/*
	 * Index managed containers by site once: a per-site scan of every
	 * container would make planning quadratic in the number of sites.
	 */
	idx = bg_xcalloc(obs->n_containers ? obs->n_containers : 1, sizeof(*idx));
	for (size_t i = 0; i < obs->n_containers; i++) {
		if (obs->containers[i].site) {
			idx[n_idx++] = &obs->containers[i];
		}
	}
	if (n_idx > 1) {
		qsort(idx, n_idx, sizeof(*idx), cs_site_cmp);
	}
	/* The same for volumes, so a site's unused volumes are found without a scan. */
	vidx = bg_xcalloc(obs->n_volumes ? obs->n_volumes : 1, sizeof(*vidx));
	for (size_t i = 0; i < obs->n_volumes; i++) {
		vidx[i] = &obs->volumes[i];
	}
	if (obs->n_volumes > 1) {
		qsort(vidx, obs->n_volumes, sizeof(*vidx), vol_site_cmp);
	}

	for (size_t i = 0; i < des->n_sites; i++) {
		const struct des_site *s = &des->sites[i];
		while (at < n_idx && strcmp(idx[at]->site, s->name) < 0) {
			at++;
		}
		size_t end = at;
		while (end < n_idx && strcmp(idx[end]->site, s->name) == 0) {
			end++;
		}
		while (vat < obs->n_volumes && strcmp(vol_site(vidx[vat]), s->name) < 0) {
			vat++;
		}
		size_t vend = vat;
		while (vend < obs->n_volumes && strcmp(vol_site(vidx[vend]), s->name) == 0) {
			vend++;
		}
		ctx.vols = &vidx[vat];
		ctx.n_vols = vend - vat;
		vat = vend;
		if (!site_selected(args, s->name)) {
			at = end;
			continue;
		}
		ctx.site = s;
		ctx.cs = &idx[at];
		ctx.n_cs = end - at;
		ctx.switching = false;
		ctx.ps = plan_site_add(p, s->name, s->cfg->path);
		ctx.ps->first_action = p->n_actions;
		plan_fact_add(p, "desired %s spec=%s version=%u new=%d rejected=%d", s->name,
				s->spec, s->version, s->version_new, s->rejected);
		for (size_t k = 0; k < ctx.n_cs; k++) {
			rec_fact_container(p, ctx.cs[k]);
		}
		char *conflicts = site_conflicts(obs, s);
		if (conflicts) {
			ctx.ps->blocked = conflicts;
			plan_fact_add(p, "blocked %s: %s", s->name, conflicts);
		} else if (args->kind == PLAN_ROLLBACK) {
			err = rec_colour_rollback_diff(&ctx);
		} else {
			for (size_t k = 0; k < rec_registry_len && !err; k++) {
				err = rec_registry[k]->diff(&ctx);
			}
		}
		ctx.ps->n_actions = p->n_actions - ctx.ps->first_action;
		at = end;
		if (err) {
			goto out;
		}
	}

	/* Managed containers of sites nobody declares: said, never touched. */
	if (args->kind == PLAN_CONVERGE && args->sites.n == 0) {
		const char *last = NULL;
		for (size_t i = 0; i < n_idx; i++) {
			const char *site = idx[i]->site;
			if ((last && strcmp(last, site) == 0) || des_site_find(des, site)) {
				continue;
			}
			last = site;
			plan_note_add(p, NULL, "site '%s' has containers managed by bluegreen but "
					"no site file: they are left alone (restore sites/%s.conf, or "
					"remove them yourself)", site, site);
			plan_fact_add(p, "orphan %s", site);
		}
	}
out:
	free(idx);
	free(vidx);
	return err;
}
