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
	/* HTTPS can be served (obs_edge.tls_ready at plan time, edge_tls_ready
	 * at apply time): the TLS server blocks / routers are written, and HTTP
	 * redirects when site->tls.redirect. False: HTTP only. */
	bool tls_ready;
	/* nginx: "ip:port" of every container of each colour, so that one file
	 * serves either and a switch between them is a flag (edge-nginx-flag.c).
	 * NULL: taken from live_upstreams / preview_upstreams when that colour
	 * is live / the preview, else none. */
	const struct bg_strv *blue_upstreams;
	const struct bg_strv *green_upstreams;
};

/*
 * One execution setting of an edge, for the plan (plan.c exec_collect):
 * key and label are the plan's exec key (a fact of the token) and its text
 * label. value fills out with either argv (a command) or str + rel (a
 * path or a plain string, both borrowed from cfg; str NULL: unset). rel
 * says the path was written relative to the config directory, so the plan
 * shows it as "<config>/REST" (ADR 0008); a plain string has rel false.
 */
struct edge_exec_value {
	const char *str;
	bool rel;
	const struct bg_strv *argv;
};
struct edge_exec_row {
	const char *key;
	const char *label;
	void (*value)(const struct cfg *cfg, struct edge_exec_value *out);
};

struct json_object;

/* A host port range and where it is configured (key, value as written). */
struct edge_port_range {
	unsigned lo, hi;
	const char *key;   /* static, e.g. "edge.nginx.ports"; NULL when none */
	const char *value; /* borrowed from cfg; may be NULL */
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
	/* The directory the daemon watches for edits to our edge files
	 * (borrowed from cfg; traefik: dynamic_dir, nginx: conf_dir). */
	const char *(*watch_dir)(const struct cfg *cfg);
	/* Whether colour containers publish a host port that the edge file
	 * points at (nginx with upstream: ports). */
	bool (*publishes_ports)(const struct cfg *cfg);
	/* The host port range colour containers are published from, and the
	 * setting it comes from (for messages): false, and all zero, when this
	 * edge has none. */
	bool (*port_range)(const struct cfg *cfg, struct edge_port_range *r);
	/* Whether the edge file lists the colours' upstream addresses, so it
	 * must be rewritten when a container is recreated (nginx), rather than
	 * naming a colour the proxy resolves itself (traefik). */
	bool (*needs_upstreams)(const struct cfg *cfg);
	/* Add what this edge makes part of a colour container's spec to spec,
	 * the colour's spec object, after its "edge" key (nginx: "upstream").
	 * The keys and their place are part of the spec hash: never reorder. */
	void (*spec_add)(const struct cfg *cfg, const struct cfg_site *site,
			struct json_object *spec);
	/* The settings of this edge that change what apply executes or where
	 * it writes, in the order the plan lists them (after "edge.kind"). */
	const struct edge_exec_row *exec_rows;
	size_t n_exec_rows;
	/* Whether bluegreen itself gets the certificates of tls.mode auto
	 * sites for this edge (nginx: certbot, reconcilers/rec-cert.c), rather
	 * than the proxy (traefik's certresolver). */
	bool issues_certificates;
	/* Take a removed site off the edge (edge-remove.c): delete its file
	 * (only one with bluegreen's header) and what goes with it, and make
	 * the proxy forget it. No file is not an error. */
	int (*remove)(const struct cfg *cfg, const char *site, struct bg_diag *d);
	/*
	 * Optional (nginx; NULL: install): install content, a file rendered
	 * with both colours' upstreams, and make live (and preview, when not
	 * NULL) the colours served. When content is already the file and its
	 * flags are readable, that is a flag change alone (no test, no reload),
	 * confirmed by the probe; otherwise install, then the flags. Errors as
	 * install; a flag nginx does not follow is put back (BG_EEDGE).
	 */
	int (*route)(const struct cfg *cfg, const char *site, const char *live,
			const char *preview, const char *content, size_t len, struct bg_diag *d);
	/* Optional: why route cannot switch without a reload on this host and
	 * what to change (a plan note, a new string), NULL when it can. */
	char *(*route_note)(const struct cfg *cfg);
};

/*
 * The certificate and key files of a site (new strings, absolute): tls.mode
 * files: the configured ones, relative to the config directory; auto:
 * where certbot keeps its current files, ACME_DIR/certbot/live/bluegreen-
 * SITE/{fullchain,privkey}.pem. BG_ENOT_FOUND (both NULL) with tls off.
 */
int edge_tls_paths(const struct cfg *cfg, const struct cfg_site *site, char **cert,
		char **key);

/*
 * True when the site's HTTPS can be served now: tls.mode files or (nginx)
 * auto, with both files of edge_tls_paths present as regular files (stat:
 * certbot's live/ names are links into its archive); Traefik with auto
 * asks its certresolver itself, so true without files. False with tls off.
 * Asked by edge_observe (obs_edge.tls_ready) and again by the edge
 * reconciler when it writes the file, so a certificate that vanished
 * between plan and apply gives an HTTP-only file rather than one nginx
 * refuses.
 */
bool edge_tls_ready(const struct cfg *cfg, const struct cfg_site *site);

/* The edge implementation cfg configures (never NULL: config knows no other kind). */
const struct edge_impl *edge_for(const struct cfg *cfg);

extern const struct edge_impl edge_traefik_impl;
extern const struct edge_impl edge_nginx_impl;

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
 * The same for a site that is no longer configured (its site file was
 * removed): its edge file, when there is one, is added to o (call
 * obs_finish). Nothing is added when the file is missing or the name is
 * one bluegreen never writes a file for.
 */
int edge_observe_removed(const struct cfg *cfg, const char *site, struct obs *o);

/*
 * Bounds on the proxy-side steps of install, in milliseconds. Defaults:
 * 30000 for each nginx `test` and `reload` run, 3000 for the Traefik API
 * confirmation. Process-wide tunables; tests shorten them.
 */
extern uint64_t edge_cmd_timeout_ms;
extern uint64_t edge_confirm_timeout_ms;

#endif /* BG_RECONCILERS_EDGE_H */
