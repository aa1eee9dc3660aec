/*
 * edge-verify: where the edge answers plain HTTP on this host, for the
 * daemon's watch window after a switch (issue 14, controller/daemon/
 * verify.c), which samples the live colour the way users reach it. Only
 * the edge drivers may ask which edge is configured, so the answer lives
 * here: nginx listens where edge.nginx.listen says; Traefik's entrypoint
 * addresses are in Traefik's own configuration, which bluegreen does not
 * read, so there is no answer for it.
 */
#ifndef BG_RECONCILERS_EDGE_VERIFY_H
#define BG_RECONCILERS_EDGE_VERIFY_H

#include "bg.h"
#include "cfg.h"

/*
 * "http://127.0.0.1:8080" (a new string) for the configured edge, or NULL
 * when it cannot be reached by TCP from here (Traefik; nginx listening on
 * a unix socket).
 */
char *edge_http_base(const struct cfg *cfg);

#endif /* BG_RECONCILERS_EDGE_VERIFY_H */
