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
/* edge_traefik_impl.parse. */
int edge__traefik_parse(const struct cfg *cfg, const char *site, const char *content,
		size_t len, struct obs_edge *e);
/* edge_traefik_impl.install (edge-traefik-run.c). */
int edge__traefik_install(const struct cfg *cfg, const char *site, const char *content,
		size_t len, struct bg_diag *d);

#endif /* BG_RECONCILERS_EDGE_TRAEFIK_INT_H */
