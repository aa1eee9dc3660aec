/*
 * edge-int: what edge.c, edge-nginx.c and edge-traefik.c share and nobody
 * else may use (the reconcilers reach the edge through edge.h only): the
 * input checks both renderers run, since an edge file is a security
 * boundary; the header and trailer every edge file carries; the parse
 * prologue both parsers start with; and nginx's worker helpers, which
 * t-edge-nginx tests directly.
 */
#ifndef BG_RECONCILERS_EDGE_INT_H
#define BG_RECONCILERS_EDGE_INT_H

#include "edge.h"

/* nginx: the local-only location that answers the file's serial. */
#define EDGE_NGINX_PROBE_PATH "/.well-known/bluegreen-edge"
#define EDGE_NGINX_SERIAL_LEN 16

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
/* nginx: CONF_DIR/bluegreen-SITE.conf (a new string). */
char *edge__nginx_path(const struct cfg *cfg, const char *site);
/* nginx: edge_impl.install (edge-nginx-run.c). */
int edge__nginx_install(const struct cfg *cfg, const char *site, const char *content,
		size_t len, struct bg_diag *d);
/* The same, and nginx's probe must answer colour too (a file switched by
 * flags answers "SITE SERIAL COLOUR"); NULL: the serial alone. old (NULL:
 * not wanted) gets the PIDs of the workers that served the previous file,
 * told to quit, for edge__nginx_wait_exit. */
int edge__nginx_install_colour(const struct cfg *cfg, const char *site, const char *content,
		size_t len, const char *colour, struct bg_strv *old, struct bg_diag *d);
/*
 * Wait until the workers of old have exited, at most timeout_ms (then a
 * warning). Such a worker still runs the previous file for the requests it
 * had; a flag flipped before it is gone is read by it too, with that file's
 * upstreams (ADR 0030, "A flag after a reload").
 */
void edge__nginx_wait_exit(const struct bg_strv *old, uint64_t timeout_ms);
/* Ask nginx (fresh connections, every 1 ms, edge_confirm_timeout_ms) until
 * content's probe answers colour; BG_EEDGE with *last (a new string: what
 * nginx answered). 0 at once when there is nothing to ask. */
int edge__nginx_probe_colour(const struct cfg *cfg, const char *site, const char *content,
		const char *colour, char **last);
/*
 * The flags (edge-nginx-flag.c): CONF_DIR/.bluegreen-live (0755, hidden so
 * that an include of the whole directory never reads it) holds SITE.ROLE-COLOUR, exactly one
 * per role ("live", "preview") of a site whose file is switched by flags.
 * edge__nginx_flag_dir: that path (a new string). edge__nginx_flag_read:
 * the colour of role (static "blue"/"green"); BG_EPARSE with *why (a new
 * string) when the flags are missing or odd (both, neither, not a regular
 * file, a link). edge__nginx_route: edge_impl.route.
 */
char *edge__nginx_flag_dir(const struct cfg *cfg);
int edge__nginx_flag_read(const char *dir, const char *site, const char *role,
		const char **colour, char **why);
int edge__nginx_route(const struct cfg *cfg, const char *site, const char *live,
		const char *preview, const char *content, size_t len, struct bg_diag *d);
/*
 * What the file makes nginx read at load time besides itself (edge-nginx-refs.c):
 * edge__nginx_refs_fingerprint: 64 hex over the identity and times of
 * every file named by include, ssl_certificate(_key), auth_basic_user_file
 * and the like (a new string). _same: does dfd (the flag directory) hold
 * print as SITE.refs? _store: keep print there (failure: none kept, so
 * the next switch reloads). _remove: forget it.
 */
char *edge__nginx_refs_fingerprint(const struct cfg *cfg, const char *content, size_t len);
bool edge__nginx_refs_same(int dfd, const char *site, const char *print);
void edge__nginx_refs_store(int dfd, const char *site, const char *print);
void edge__nginx_refs_remove(int dfd, const char *site);
/*
 * edge-nginx-reach.c: can nginx's workers search every directory on the way
 * to the flags (their user from a running worker's /proc status; unknown
 * counts as no)? false: *blocker (when not NULL; a new string) is the first
 * directory they cannot search, and the file is rendered with fixed
 * colours (every switch reloads). edge__nginx_route_note:
 * edge_impl.route_note.
 */
bool edge__nginx_flags_reachable(const struct cfg *cfg, char **blocker);
char *edge__nginx_route_note(const struct cfg *cfg);
/* Remove a site's flags (edge-remove.c); missing flags are no error. */
void edge__nginx_flags_remove(const struct cfg *cfg, const char *site);
/* Take a removed site's file off the edge (edge-remove.c, edge_impl.remove). */
int edge__nginx_remove(const struct cfg *cfg, const char *site, struct bg_diag *d);
int edge__traefik_remove(const struct cfg *cfg, const char *site, struct bg_diag *d);
/* nginx: the preview server block's access directives (edge-nginx-access.c). */
void edge__nginx_access_render(struct bg_buf *b, const struct cfg *cfg,
		const struct cfg_site *site);
/* nginx: the server-level real-IP directives (edge.nginx.real_ip_from). */
void edge__nginx_realip_render(struct bg_buf *b, const struct cfg *cfg);
/* nginx: BG_ECONFIG when what access/realip render cannot be written as
 * nginx words (a CIDR of preview_allow or real_ip_from, auth_dir with
 * preview_auth); 0 otherwise. The renderer's input check. */
int edge__nginx_access_check(const struct cfg *cfg, const struct cfg_site *site);
/* nginx: AUTH_DIR/SITE.htpasswd (a new string). */
char *edge__nginx_auth_path(const struct cfg *cfg, const char *site);
/* nginx: inside a location of the preview block that everyone must reach
 * (the ACME http-01 challenge): lift the block's allow list and password. */
void edge__nginx_access_open_render(struct bg_buf *b);
/*
 * The preview host's credentials (edge-auth.c). edge__apr1: the apr1
 * (Apache MD5-crypt) hash "$apr1$SALT$HASH" of password with salt (at most
 * 8 characters of [./0-9A-Za-z] are used). edge__htpasswd_line:
 * "USER:$apr1$SALT$HASH" with a salt derived from the credentials, NULL
 * when the site has no preview_auth (or no password was loaded).
 * edge__auth_tag: 16 hex of the line's SHA-256, for a rendered file to
 * change when the credentials do; NULL without a line. New strings.
 */
char *edge__apr1(const char *password, const char *salt);
char *edge__htpasswd_line(const struct cfg_site *site);
char *edge__auth_tag(const struct cfg_site *site);
/*
 * nginx (edge-nginx-access.c): make AUTH_DIR/SITE.htpasswd hold the
 * site's htpasswd line (mode 0640, group edge.nginx.group; AUTH_DIR
 * created 02750 root:group if missing), written atomically and only when
 * it differs; removed when the site has no preview_auth
 * (edge__auth_remove). Errors explained in d.
 */
int edge__auth_sync(const struct cfg *cfg, const struct cfg_site *site, struct bg_diag *d);
int edge__auth_remove(const struct cfg *cfg, const char *site, struct bg_diag *d);
/* nginx: PIDs of the workers taking new connections on listen (edge-nginx-run.c). */
void edge__nginx_accepting_workers(const char *listen, struct bg_strv *pids);
/* nginx: wait (until deadline, bg_mono_ms) for none of pids to accept any more. */
void edge__nginx_wait_workers(const struct bg_strv *pids, int64_t deadline);
/*
 * The mode an edge file is written with: 0640 when it holds something
 * derived from a preview password (Traefik's apr1 line, nginx's auth tag:
 * either lets whoever reads it test guesses offline), else 0644. The
 * proxy reads its files as root (nginx's master, Traefik in its container).
 */
unsigned edge__file_mode(const char *content, size_t len);
/* After an install: path must hold exactly content (another writer, or a
 * file system that lost it, is BG_EEDGE, explained in d). */
int edge__read_back(const char *path, const char *content, size_t len, struct bg_diag *d);
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
	/* `# bluegreen-flags: ROLES DIR` (nginx, owned): the colours are the
	 * flag files' (edge-nginx-flag.c); live and preview are then NULL. */
	char *flags;
	size_t body;                 /* offset of the first line after the header */
	size_t body_end;             /* offset of the trailer line */
};
/* Parse the leading comment block and check the trailer; on failure
 * e->error says why (BG_EPARSE). Checks the marker, the checksum, that site
 * matches and that the colours are known. */
int edge__header_parse(const char *site, const char *content, size_t len,
		struct edge__header *h, struct obs_edge *e);
void edge__header_release(struct edge__header *h);

/*
 * The prologue of every parse: reset e, check the site name, then parse
 * the header (edge__header_parse). On success h holds the header and the
 * caller releases it; on failure e->error says why and h is empty.
 */
int edge__parse_begin(const char *site, const char *content, size_t len,
		struct edge__header *h, struct obs_edge *e);
/* The same, also accepting a header whose colours are flags (h->flags set,
 * h->live NULL): nginx only. */
int edge__parse_begin_flags(const char *site, const char *content, size_t len,
		struct edge__header *h, struct obs_edge *e);

#endif /* BG_RECONCILERS_EDGE_INT_H */
