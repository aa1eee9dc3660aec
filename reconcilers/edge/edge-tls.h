/*
 * edge-tls: whether a site's certificate can be served, asked by edge.c's
 * observe (obs_edge.tls_ready) and again by rec-edge.c when it writes the
 * file, so a certificate that vanished between plan and apply gives an
 * HTTP-only file rather than one nginx refuses. Its own header only until
 * edge.h, which another package owns in issue 11, declares it.
 */
#ifndef BG_RECONCILERS_EDGE_TLS_H
#define BG_RECONCILERS_EDGE_TLS_H

#include "edge.h"

/*
 * True when the site's HTTPS can be served now: tls.mode files or (nginx)
 * auto, with both files of edge_tls_paths present as regular files (stat:
 * certbot's live/ names are links into its archive); Traefik with auto
 * asks its certresolver itself, so true without files. False with tls off.
 */
bool edge_tls_ready(const struct cfg *cfg, const struct cfg_site *site);

#endif /* BG_RECONCILERS_EDGE_TLS_H */
