/*
 * edge-remove: taking a removed site off the edge (issue 13). Its file is
 * read into the observation like a configured site's (so the plan knows
 * it is there and what it serves), and the remove step deletes it and
 * makes the proxy forget it: nginx is tested and reloaded (on failure the
 * file is put back and nginx reloaded, so it keeps serving what it
 * served), then the preview password file goes; Traefik's file provider
 * drops the routers of a file that is gone. Only a file that carries our
 * header is removed: one that does not was not written by bluegreen.
 * Certificates stay where they are (they are not edge files, and a site
 * that comes back reuses them rather than spending an issuance).
 */
#include "bg.h"
#include "bg-fs.h"
#include "bg-log.h"
#include "bg-spawn.h"
#include "edge-int.h"
#include "edge-traefik-int.h"

#include <unistd.h>

int edge_observe_removed(const struct cfg *cfg, const char *site, struct obs *o)
{
	const struct edge_impl *impl = edge_for(cfg);
	char *data = NULL;
	size_t len = 0;
	char hex[65];

	if (!edge__site_name_valid(site) || obs_edge_find(o, site)) {
		return 0; /* not a name we ever wrote a file for, or already read */
	}
	char *path = impl->path(cfg, site);
	int err = bg_file_read_safe(NULL, path, EDGE_MAX_FILE_BYTES, &data, &len, NULL, NULL);
	if (err == BG_ERRNO(ENOENT)) {
		free(path);
		return 0;
	}
	struct obs_edge *e = obs_edge_add(o);
	e->site = bg_xstrdup(site);
	e->path = path;
	e->exists = true;
	if (err) {
		edge__obs_fail(e, "cannot read '%s': %s", path, bg_strerror(err));
	} else {
		bg_sha256_hex(data, len, hex);
		e->content_sha = bg_xstrdup(hex);
		if (impl->parse(cfg, site, data, len, e) != 0) {
			bg_trace(EDGE, "edge file '%s': %s", path, e->error ? e->error : "?");
		}
	}
	free(data);
	return 0;
}

static bool run_argv(const struct cfg *cfg, const char *what, const struct bg_strv *argv,
		struct bg_diag *d)
{
	char *out = NULL, *shown = bg_argv_display(argv->v);
	int status = -1;
	int err = bg_spawn_capture(argv->v, cfg->dir, edge_cmd_timeout_ms, &status, &out);
	if (err) {
		bg_diag_error(d, NULL, "nginx %s '%s' could not run: %s", what, shown,
				bg_strerror(err));
	} else if (status != 0) {
		bg_diag_error(d, NULL, "nginx %s '%s' failed (exit %d): %s", what, shown, status,
				out ? out : "");
	}
	free(out);
	free(shown);
	return !err && status == 0;
}

/*
 * Read path (ours only) into *prev; 1 when there is no file (nothing to
 * do), 0 when it is ours, BG_EEDGE (explained) when it is not.
 */
static int read_ours(const char *path, char **prev, size_t *len, struct bg_diag *d)
{
	const char *why = NULL;
	int err = bg_file_read_safe(NULL, path, EDGE_MAX_FILE_BYTES, prev, len, NULL, &why);
	if (err == BG_ERRNO(ENOENT)) {
		return 1;
	}
	if (err) {
		bg_diag_error(d, NULL, "cannot read '%s': %s", path, why ? why : bg_strerror(err));
		return err;
	}
	if (*len < strlen(EDGE_HEADER_MARKER) ||
			memcmp(*prev, EDGE_HEADER_MARKER, strlen(EDGE_HEADER_MARKER)) != 0) {
		bg_diag_error(d, NULL, "'%s' does not start with bluegreen's header: it was not "
				"written by bluegreen, so it is left alone", path);
		return BG_EEDGE;
	}
	return 0;
}

int edge__nginx_remove(const struct cfg *cfg, const char *site, struct bg_diag *d)
{
	char *prev = NULL;
	size_t len = 0;
	int err;

	if (!edge__site_name_valid(site) || !cfg->g.nginx.conf_dir) {
		bg_diag_error(d, NULL, "nginx edge: invalid site name or no conf_dir");
		return BG_ECONFIG;
	}
	char *path = edge__nginx_path(cfg, site);
	err = read_ours(path, &prev, &len, d);
	if (err == 1) {
		err = 0;
		goto auth;
	}
	if (err) {
		goto out;
	}
	if (unlink(path) < 0) {
		err = BG_ERRNO(errno);
		bg_diag_error(d, NULL, "cannot remove '%s': %s", path, bg_strerror(err));
		goto out;
	}
	const struct bg_strv *test = &cfg->g.nginx.test, *reload = &cfg->g.nginx.reload;
	if ((test->n && !run_argv(cfg, "test", test, d)) ||
			(reload->n && !run_argv(cfg, "reload", reload, d))) {
		/* Put it back: nginx keeps serving what it served. */
		const char *why = NULL;
		if (bg_file_write_atomic_why(path, NULL, prev, len, edge__file_mode(prev, len),
					&why) != 0) {
			bg_diag_error(d, NULL, "cannot restore '%s': %s", path, why ? why : "?");
		} else if (reload->n) {
			run_argv(cfg, "reload (after restoring the file)", reload, d);
		}
		err = BG_EEDGE;
		goto out;
	}
auth:
	/* The flags and the password file go once nginx no longer names them. */
	edge__nginx_flags_remove(cfg, site);
	err = edge__auth_remove(cfg, site, d);
out:
	free(prev);
	free(path);
	return err;
}

int edge__traefik_remove(const struct cfg *cfg, const char *site, struct bg_diag *d)
{
	char *prev = NULL;
	size_t len = 0;

	if (!edge__site_name_valid(site) || !cfg->g.traefik.dynamic_dir) {
		bg_diag_error(d, NULL, "traefik edge: invalid site name or no dynamic_dir");
		return BG_ECONFIG;
	}
	char *path = edge__traefik_path(cfg, site);
	int err = read_ours(path, &prev, &len, d);
	if (err == 0 && unlink(path) < 0) {
		err = BG_ERRNO(errno);
		bg_diag_error(d, NULL, "cannot remove '%s': %s", path, bg_strerror(err));
	}
	free(prev);
	free(path);
	return err == 1 ? 0 : err;
}
