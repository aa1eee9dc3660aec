/*
 * edge: the two edge proxies behind one interface (curl's vtls, redis'
 * ConnectionType). Each implementation renders the per-site file we own,
 * parses it back (the observed live colour is read from the edge, never
 * assumed), installs it atomically and makes the proxy take it.
 *
 *   traefik (edge-traefik.c): DYNAMIC_DIR/SITE.yml, file provider; router
 *     SITE-live -> SITE-<colour>@docker, router SITE-preview; per-colour
 *     labels on containers (docs/edge.md, ADR 0004).
 *   nginx (edge-nginx.c): CONF_DIR/bluegreen-SITE.conf; upstream = the live
 *     colour's containers; `test` argv then `reload` argv, never a shell
 *     (docs/edge.md, ADR 0005).
 */
#ifndef BG_RECONCILERS_EDGE_H
#define BG_RECONCILERS_EDGE_H

#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "cfg.h"
#include "obs.h"

/*
 * Edge files are a few hundred bytes; anything much bigger was not written
 * by us, so observe and install read at most this much and call the rest
 * an error instead of loading it.
 */
#define EDGE_MAX_FILE_BYTES (256 * 1024)

/*
 * What a site's edge file must say. Everything borrowed.
 *
 * The preview router (traefik) or preview server block (nginx) exists
 * exactly when the site has a preview domain (site->preview). It serves
 * `preview` when set, otherwise the live colour (no candidate: the preview
 * domain shows what is live rather than a 404). A `preview` colour on a
 * site without a preview domain is ignored.
 */
struct edge_view {
	const struct cfg_site *site;
	const char *live;      /* "blue" | "green" */
	unsigned live_version; /* for the header comment */
	const char *preview;   /* colour behind the preview domain; NULL: the live colour */
	/* nginx: "ip:port" of the live colour's containers (NULL: none). */
	const struct bg_strv *live_upstreams;
	/* nginx: the same for the preview colour (NULL: none). When preview is
	 * NULL or equals live, live_upstreams is used instead. */
	const struct bg_strv *preview_upstreams;
};

struct edge_impl {
	const char *kind; /* "traefik" | "nginx" */
	/* The file bluegreen owns for this site (a new string). */
	char *(*path)(const struct cfg *cfg, const char *site);
	/*
	 * Pure: the full file content for v, appended to out. Deterministic
	 * (no time, no environment). Every value that reaches the file is
	 * checked first (site name, domains, colours, entrypoints, upstream
	 * addresses): anything that could break out of its syntactic place or
	 * reach Traefik's Go templates (`{{`) gives BG_ECONFIG and out is left
	 * as it was.
	 */
	int (*render)(const struct cfg *cfg, const struct edge_view *v, struct bg_buf *out);
	/* Pure: read back a file we wrote (or someone edited) into e->live,
	 * e->preview, e->upstreams (previous values are released first); sets
	 * e->error (and returns BG_EPARSE) when the content cannot be
	 * understood, leaving live/preview NULL and upstreams empty. */
	int (*parse)(const struct cfg *cfg, const char *site, const char *content,
			size_t len, struct obs_edge *e);
	/*
	 * Install content as the site's file and make the proxy use it: write
	 * atomically (temp + fsync + rename + fsync dir), then for nginx run
	 * `test` and `reload` (on failure, the previous file is put back and
	 * reloaded, so the proxy keeps serving what it served), then read the
	 * file back and check it says what was written. Traefik: the content is
	 * parsed first and refused (BG_EEDGE) if our own parser rejects it, as
	 * one bad file in the watched directory blocks every site; with
	 * g.traefik.api set, the flip is confirmed through Traefik's API (the
	 * previous file is put back when Traefik does not take it in time; an
	 * unreachable API falls back to the read-back with a warning).
	 * Errors: BG_EEDGE (with the proxy's own output in d), BG_ECONFIG,
	 * negative errno (EXDEV: staging and dynamic dirs on two filesystems).
	 */
	int (*install)(const struct cfg *cfg, const char *site, const char *content,
			size_t len, struct bg_diag *d);
	/* Labels a colour container needs for this edge (traefik: the service
	 * and colour-pinned router; nginx: none). Adds to *labels. */
	void (*container_labels)(const struct cfg *cfg, const struct cfg_site *site,
			const char *colour, struct obs_labels *labels);
};

/* nginx: the local-only location that answers the file's serial. */
#define EDGE_NGINX_PROBE_PATH "/.well-known/bluegreen-edge"
#define EDGE_NGINX_SERIAL_LEN 16

extern const struct edge_impl edge_traefik_impl;
extern const struct edge_impl edge_nginx_impl;

const struct edge_impl *edge_impl_get(enum cfg_edge_kind kind);

/*
 * Read every configured site's edge file into o (obs_edge_add), parsing it
 * with the configured edge. A missing file is exists=false; a file that
 * cannot be read or parsed gets error set (ADR 0001: the planner then
 * blocks that site rather than guess what is live). Sets o->edge_kind
 * when it is NULL. Pure file reads: no proxy is asked. Sites are added in
 * cfg order (sorted by name).
 */
int edge_observe(const struct cfg *cfg, struct obs *o, struct bg_diag *d);

/*
 * Bounds on the proxy-side steps of install, in milliseconds. Defaults:
 * 30000 for each nginx `test` and `reload` run, 3000 for the Traefik API
 * confirmation. Process-wide tunables; tests shorten them.
 */
extern uint64_t edge_cmd_timeout_ms;
extern uint64_t edge_confirm_timeout_ms;

/* ---- shared by edge.c, edge-nginx.c and edge-traefik.c (not API) ---- */

/* [a-z0-9][a-z0-9-]{0,39}: edge files use it as a path component, a YAML
 * key, a Traefik service name and (with '-' mapped) an nginx identifier. */
bool edge__site_name_valid(const char *s);
/* A DNS name: labels of [A-Za-z0-9-] (and '_'), dots between, <= 253. */
bool edge__host_valid(const char *s);
/* An identifier such as an entrypoint or resolver name: [A-Za-z0-9._-]+. */
bool edge__ident_valid(const char *s);
bool edge__colour_valid(const char *s);
/* Checks everything of v that render puts in a file; BG_ECONFIG if bad. */
int edge__view_check(const struct edge_view *v);
/* The colour behind the preview domain, NULL when the site has none. */
const char *edge__preview_colour(const struct edge_view *v);
/* Release live, preview, upstreams and error of e. */
void edge__obs_reset(struct obs_edge *e);
/* nginx: PIDs of the workers taking new connections on listen (edge-nginx.c). */
void edge__nginx_accepting_workers(const char *listen, struct bg_strv *pids);
/* nginx: wait (until deadline, bg_mono_ms) for none of pids to accept any more. */
void edge__nginx_wait_workers(const struct bg_strv *pids, int64_t deadline);
/* Reset e and record why its file cannot be understood; returns BG_EPARSE. */
int edge__obs_fail(struct obs_edge *e, const char *fmt, ...) BG_PRINTF(2, 3);

/*
 * The header both formats start with (both use '#' comments):
 *   # Managed by bluegreen: do not edit. ...   (first line, the marker)
 *   # bluegreen-site: SITE
 *   # bluegreen-live: COLOUR
 *   # bluegreen-preview: COLOUR                (when there is a preview)
 *   # bluegreen-version: N
 * followed by one blank line, and the trailer every file ends with:
 *   # bluegreen-sha256: HEX                    (over every byte before it)
 * so a truncated file or one edited by hand is recognised as such instead
 * of being half-understood.
 */
#define EDGE_HEADER_MARKER "# Managed by bluegreen: do not edit."
void edge__header_render(struct bg_buf *b, const char *site, const char *live,
		const char *preview, unsigned version);
/* Append the trailer to b, which holds the whole file so far. */
void edge__trailer_render(struct bg_buf *b);
struct edge__header {
	char *site, *live, *preview; /* owned; preview NULL when absent */
	size_t body;                 /* offset of the first line after the header */
	size_t body_end;             /* offset of the trailer line */
};
/* Parse the leading comment block and check the trailer; on failure
 * e->error says why (BG_EPARSE). Checks the marker, the checksum, that site
 * matches and that the colours are known. */
int edge__header_parse(const char *site, const char *content, size_t len,
		struct edge__header *h, struct obs_edge *e);
void edge__header_release(struct edge__header *h);

#endif /* BG_RECONCILERS_EDGE_H */
