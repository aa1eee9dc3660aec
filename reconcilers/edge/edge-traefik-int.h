/*
 * edge-traefik-int: what the two halves of the Traefik edge share and
 * t-edge tests directly: edge-traefik.c renders and parses the per-site
 * file, edge-traefik-run.c installs it (and parses it first, since one file
 * Traefik cannot read blocks its file provider for every site).
 */
#ifndef BG_RECONCILERS_EDGE_TRAEFIK_INT_H
#define BG_RECONCILERS_EDGE_TRAEFIK_INT_H

#include "edge.h"

/* DYNAMIC_DIR/SITE.yml (a new string): edge_traefik_impl.path. */
char *edge__traefik_path(const struct cfg *cfg, const char *site);
/*
 * edge_traefik_impl.render, with the HTTP routers of sites with tls auto
 * or files on http_ep (NULL: none). render passes the configured one;
 * t-edge passes its own until config has the key.
 */
int edge__traefik_render_http(const struct cfg *cfg, const struct edge_view *v,
		const char *http_ep, struct bg_buf *out);
/* edge_traefik_impl.parse. */
int edge__traefik_parse(const struct cfg *cfg, const char *site, const char *content,
		size_t len, struct obs_edge *e);
/* edge_traefik_impl.install (edge-traefik-run.c). */
int edge__traefik_install(const struct cfg *cfg, const char *site, const char *content,
		size_t len, struct bg_diag *d);

#endif /* BG_RECONCILERS_EDGE_TRAEFIK_INT_H */
