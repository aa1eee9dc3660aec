/*
 * edge-traefik: the Traefik edge. Container labels (fixed at creation)
 * declare one service per colour and a colour-pinned router on the
 * internal entrypoint; the routers that carry the public hostnames live in
 * one file per site in the file provider's directory, DYNAMIC_DIR/SITE.yml,
 * rewritten whole on every switch: SITE-live -> SITE-<colour>@docker, and
 * SITE-preview when the site has a preview domain. The file is emitted by
 * libyaml (deterministic, only keys the published schemas know) and read
 * back strictly; installing it is edge-traefik-run.c's
 * (docs/adr/0004-traefik-edge.md).
 */
#include "bg.h"
#include "edge-int.h"
#include "edge-traefik-int.h"

#include "bg-log.h"
#include "bg-util.h"

#include <strings.h>
#include <yaml.h>

char *edge__traefik_path(const struct cfg *cfg, const char *site)
{
	return bg_xasprintf("%s/%s.yml", cfg->g.traefik.dynamic_dir, site);
}

/* ---- render ---- */

struct emit {
	yaml_emitter_t em;
	bool ok;
};

static int emit_write(void *data, unsigned char *buf, size_t size)
{
	return bg_buf_add(data, buf, size) == 0;
}

/* The emitter owns the event once yaml_emitter_emit has been called, even
 * when it fails; after a failure later events are only freed. */
static void emit_ev(struct emit *e, yaml_event_t *ev, int made)
{
	if (!made) {
		e->ok = false;
		return;
	}
	if (!e->ok) {
		yaml_event_delete(ev);
		return;
	}
	if (!yaml_emitter_emit(&e->em, ev)) {
		e->ok = false;
	}
}

/*
 * Plain style only for words that a YAML 1.1 or 1.2 reader (Traefik uses
 * Go's) cannot take for a boolean, null or number: they start with a
 * letter and are not one of the keyword spellings. Everything else is
 * double-quoted. libyaml still quotes a plain request it finds unsafe.
 */
static yaml_scalar_style_t scalar_style(const char *s)
{
	static const char *const words[] = {"y", "n", "yes", "no", "on", "off",
			"true", "false", "null"};
	char c = *s;

	if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
		return YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(words); i++) {
		if (strcasecmp(s, words[i]) == 0) {
			return YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		}
	}
	return YAML_PLAIN_SCALAR_STYLE;
}

static void emit_str(struct emit *e, const char *s)
{
	yaml_event_t ev;
	int made = yaml_scalar_event_initialize(&ev, NULL, NULL, (const yaml_char_t *)s,
			(int)strlen(s), 1, 1, scalar_style(s));
	emit_ev(e, &ev, made);
}

static void emit_map_start(struct emit *e)
{
	yaml_event_t ev;
	emit_ev(e, &ev, yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
			YAML_BLOCK_MAPPING_STYLE));
}

static void emit_map_end(struct emit *e)
{
	yaml_event_t ev;
	emit_ev(e, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void emit_router(struct emit *e, const struct cfg *cfg, const char *name,
		const char *rule, const char *service)
{
	const struct bg_strv *eps = &cfg->g.traefik.entrypoints;
	yaml_event_t ev;

	emit_str(e, name);
	emit_map_start(e);
	if (eps->n) {
		emit_str(e, "entryPoints");
		emit_ev(e, &ev, yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
				YAML_BLOCK_SEQUENCE_STYLE));
		for (size_t i = 0; i < eps->n; i++) {
			emit_str(e, eps->v[i]);
		}
		emit_ev(e, &ev, yaml_sequence_end_event_initialize(&ev));
	}
	emit_str(e, "rule");
	emit_str(e, rule);
	emit_str(e, "service");
	emit_str(e, service);
	if (cfg->g.traefik.certresolver) {
		emit_str(e, "tls");
		emit_map_start(e);
		emit_str(e, "certResolver");
		emit_str(e, cfg->g.traefik.certresolver);
		emit_map_end(e);
	}
	emit_map_end(e);
}

/* Host(`a`) || Host(`b`): the form both Traefik v2 and v3 accept (v3
 * dropped the multi-argument Host). Hosts are checked: no backquote. */
static char *host_rule(const char *const *hosts, size_t n)
{
	struct bg_buf b = BG_BUF_INIT;

	for (size_t i = 0; i < n; i++) {
		bg_buf_addf(&b, "%sHost(`%s`)", i ? " || " : "", hosts[i]);
	}
	return bg_buf_detach(&b, NULL);
}

/* Entrypoints and the cert resolver reach the file as names: checked too. */
static int traefik_view_check(const struct cfg *cfg, const struct edge_view *v)
{
	const struct cfg_traefik *t = &cfg->g.traefik;
	int err = edge__view_check(v);

	for (size_t i = 0; !err && i < t->entrypoints.n; i++) {
		if (!edge__ident_valid(t->entrypoints.v[i])) {
			err = BG_ECONFIG;
		}
	}
	if (!err && t->certresolver && !edge__ident_valid(t->certresolver)) {
		err = BG_ECONFIG;
	}
	return err;
}

/* The routers of one file: name, rule and service of each (owned). */
struct routers {
	char *live_name, *live_rule, *live_svc;
	char *pv_name, *pv_rule, *pv_svc; /* NULL without a preview */
};

static void routers_release(struct routers *r)
{
	free(r->live_name);
	free(r->live_rule);
	free(r->live_svc);
	free(r->pv_name);
	free(r->pv_rule);
	free(r->pv_svc);
}

/* The YAML document (http.routers) after the header, appended to b. */
static int emit_routers(struct bg_buf *b, const struct cfg *cfg, const struct routers *r)
{
	struct emit e = {.ok = true};
	yaml_event_t ev;

	if (!yaml_emitter_initialize(&e.em)) {
		return BG_ERRNO(ENOMEM);
	}
	yaml_emitter_set_output(&e.em, emit_write, b);
	yaml_emitter_set_unicode(&e.em, 1);
	yaml_emitter_set_width(&e.em, -1); /* never fold a long rule */
	yaml_emitter_set_indent(&e.em, 2);
	emit_ev(&e, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	emit_ev(&e, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	emit_map_start(&e);
	emit_str(&e, "http");
	emit_map_start(&e);
	emit_str(&e, "routers");
	emit_map_start(&e);
	emit_router(&e, cfg, r->live_name, r->live_rule, r->live_svc);
	if (r->pv_name) {
		emit_router(&e, cfg, r->pv_name, r->pv_rule, r->pv_svc);
	}
	emit_map_end(&e);
	emit_map_end(&e);
	emit_map_end(&e);
	emit_ev(&e, &ev, yaml_document_end_event_initialize(&ev, 1));
	emit_ev(&e, &ev, yaml_stream_end_event_initialize(&ev));
	if (e.ok && !yaml_emitter_flush(&e.em)) {
		e.ok = false;
	}
	yaml_emitter_delete(&e.em);
	return e.ok ? 0 : BG_ETOO_BIG; /* the only way our output handler fails */
}

static int traefik_render(const struct cfg *cfg, const struct edge_view *v, struct bg_buf *out)
{
	struct bg_buf b = BG_BUF_INIT;
	struct routers r = {0};
	const char *preview;
	int err;

	err = traefik_view_check(cfg, v);
	if (err) {
		return err;
	}
	const struct cfg_site *s = v->site;
	preview = edge__preview_colour(v);
	r.live_name = bg_xasprintf("%s-live", s->name);
	r.live_rule = host_rule((const char *const *)s->domains.v, s->domains.n);
	r.live_svc = bg_xasprintf("%s-%s@docker", s->name, v->live);
	if (preview) {
		r.pv_name = bg_xasprintf("%s-preview", s->name);
		r.pv_rule = host_rule((const char *const *)&s->preview, 1);
		r.pv_svc = bg_xasprintf("%s-%s@docker", s->name, preview);
	}

	edge__header_render(&b, s->name, v->live, preview, v->live_version);
	err = emit_routers(&b, cfg, &r);
	if (err) {
		goto out;
	}
	edge__trailer_render(&b);
	/* The inputs were checked, so this cannot trigger; it stays as the
	 * last line of defence, since Traefik runs the file through Go
	 * templates before parsing it. */
	if (strstr(b.data, "{{")) {
		err = BG_ECONFIG;
		goto out;
	}
	err = bg_buf_add(out, b.data, b.len);
out:
	bg_buf_release(&b);
	routers_release(&r);
	return err;
}

/* ---- labels ---- */

static void traefik_container_labels(const struct cfg *cfg, const struct cfg_site *site,
		const char *colour, struct obs_labels *labels)
{
	char *k, *v;
	char port[16];

	if (!edge__site_name_valid(site->name) || !edge__colour_valid(colour)) {
		bg_log(BG_LOG_ERROR, "no traefik labels for site '%s' colour '%s': invalid name",
				site->name ? site->name : "", colour ? colour : "");
		return;
	}
	obs_labels_set(labels, "traefik.enable", "true");
	obs_labels_set(labels, "traefik.docker.network",
			cfg->g.edge_network ? cfg->g.edge_network : "bluegreen-edge");
	snprintf(port, sizeof(port), "%u", site->port);
	k = bg_xasprintf("traefik.http.services.%s-%s.loadbalancer.server.port", site->name,
			colour);
	obs_labels_set(labels, k, port);
	free(k);
	/*
	 * A colour-pinned router on the internal entrypoint: with a router of
	 * its own, Traefik creates no default router for the container, and
	 * the colour can be reached for checks without any public hostname.
	 * Labels never change after creation, so they must never carry the
	 * live or preview hostnames.
	 */
	k = bg_xasprintf("traefik.http.routers.%s-%s.rule", site->name, colour);
	v = bg_xasprintf("Host(`%s-%s.internal`)", site->name, colour);
	obs_labels_set(labels, k, v);
	free(k);
	free(v);
	k = bg_xasprintf("traefik.http.routers.%s-%s.entrypoints", site->name, colour);
	obs_labels_set(labels, k, "internal");
	free(k);
	k = bg_xasprintf("traefik.http.routers.%s-%s.service", site->name, colour);
	v = bg_xasprintf("%s-%s", site->name, colour);
	obs_labels_set(labels, k, v);
	free(k);
	free(v);
}

/* ---- what the rest of bluegreen asks of this edge ---- */

static const char *traefik_watch_dir(const struct cfg *cfg)
{
	return cfg->g.traefik.dynamic_dir;
}

/* Traefik reaches containers on the edge network by their labels: it
 * needs no published port, no range and no addresses in the file. */
static bool traefik_publishes_ports(const struct cfg *cfg)
{
	(void)cfg;
	return false;
}

static bool traefik_port_range(const struct cfg *cfg, struct edge_port_range *r)
{
	(void)cfg;
	*r = (struct edge_port_range){0};
	return false;
}

static bool traefik_needs_upstreams(const struct cfg *cfg)
{
	(void)cfg;
	return false;
}

static void traefik_spec_add(const struct cfg *cfg, const struct cfg_site *site,
		struct json_object *spec)
{
	/* The labels follow from the site, which the spec already holds. */
	(void)cfg;
	(void)site;
	(void)spec;
}

static void x_dynamic_dir(const struct cfg *cfg, struct edge_exec_value *out)
{
	out->str = cfg->g.traefik.dynamic_dir;
	out->rel = cfg->g.traefik.dynamic_dir_rel;
}

static void x_staging_dir(const struct cfg *cfg, struct edge_exec_value *out)
{
	out->str = cfg->g.traefik.staging_dir;
	out->rel = cfg->g.traefik.staging_dir_rel;
}

static void x_api(const struct cfg *cfg, struct edge_exec_value *out)
{
	out->str = cfg->g.traefik.api; /* a URL, never "<config>/..." */
}

static const struct edge_exec_row traefik_exec_rows[] = {
	{"edge.traefik.dynamic_dir", "traefik dynamic directory", x_dynamic_dir},
	{"edge.traefik.staging_dir", "traefik staging directory", x_staging_dir},
	{"edge.traefik.api", "traefik API", x_api},
};

const struct edge_impl edge_traefik_impl = {
	.kind = "traefik",
	.path = edge__traefik_path,
	.render = traefik_render,
	.parse = edge__traefik_parse,
	.install = edge__traefik_install,
	.container_labels = traefik_container_labels,
	.watch_dir = traefik_watch_dir,
	.publishes_ports = traefik_publishes_ports,
	.port_range = traefik_port_range,
	.needs_upstreams = traefik_needs_upstreams,
	.spec_add = traefik_spec_add,
	.exec_rows = traefik_exec_rows,
	.n_exec_rows = BG_ARRAY_SIZE(traefik_exec_rows),
};
