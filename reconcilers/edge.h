/*
 * edge: the two edge proxies behind one interface (curl's vtls, redis'
 * ConnectionType). Each implementation renders the per-site file we own,
 * parses it back (the observed live colour is read from the edge, never
 * assumed), installs it atomically and makes the proxy take it.
 *
 *   traefik (edge-traefik.c): DYNAMIC_DIR/SITE.yml, file provider; router
 *     SITE-live -> SITE-<colour>@docker, router SITE-preview; per-colour
 *     labels on containers (docs: ../traefik NOTES, ADR 0004).
 *   nginx (edge-nginx.c): CONF_DIR/bluegreen-SITE.conf; upstream = the live
 *     colour's containers; `test` argv then `reload` argv, never a shell.
 */
#ifndef BG_RECONCILERS_EDGE_H
#define BG_RECONCILERS_EDGE_H

#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "cfg.h"
#include "obs.h"

/* What a site's edge file must say. Everything borrowed. */
struct edge_view {
	const struct cfg_site *site;
	const char *live;            /* "blue" | "green" */
	unsigned live_version;       /* for the header comment */
	const char *preview;         /* colour behind the preview domain; NULL: no preview router */
	const struct bg_strv *live_upstreams;    /* nginx: "ip:port" of live containers */
	const struct bg_strv *preview_upstreams; /* nginx: same for the preview colour */
};

struct edge_impl {
	const char *kind; /* "traefik" | "nginx" */
	/* The file bluegreen owns for this site (a new string). */
	char *(*path)(const struct cfg *cfg, const char *site);
	/* Pure: the full file content for v. Deterministic. */
	int (*render)(const struct cfg *cfg, const struct edge_view *v, struct bg_buf *out);
	/* Pure: read back a file we wrote (or someone edited) into e->live,
	 * e->preview, e->upstreams; sets e->error (and returns BG_EPARSE) when
	 * the content cannot be understood. */
	int (*parse)(const struct cfg *cfg, const char *site, const char *content,
			size_t len, struct obs_edge *e);
	/*
	 * Install content as the site's file and make the proxy use it: write
	 * atomically (temp + fsync + rename + fsync dir), then for nginx run
	 * `test` and `reload` (on failure, the previous file is put back and
	 * reloaded, so the proxy keeps serving what it served), then read the
	 * file back and check it says what was written.
	 */
	int (*install)(const struct cfg *cfg, const char *site, const char *content,
			size_t len, struct bg_diag *d);
	/* Labels a colour container needs for this edge (traefik: the service
	 * and colour-pinned router; nginx: none). Adds to *labels. */
	void (*container_labels)(const struct cfg *cfg, const struct cfg_site *site,
			const char *colour, struct obs_labels *labels);
};

extern const struct edge_impl edge_traefik_impl;
extern const struct edge_impl edge_nginx_impl;

const struct edge_impl *edge_impl_get(enum cfg_edge_kind kind);

/*
 * Read every configured site's edge file into o (obs_edge_add), parsing it
 * with the configured edge. A missing file is exists=false; a file that
 * cannot be parsed gets error set (the planner will rewrite it).
 */
int edge_observe(const struct cfg *cfg, struct obs *o, struct bg_diag *d);

#endif /* BG_RECONCILERS_EDGE_H */
