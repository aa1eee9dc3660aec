/*
 * edge-nginx-flag: the nginx edge's switch without a reload (issue 11).
 * A site's file defines one upstream per colour and picks the live one per
 * request from a flag file (`if (-f DIR/SITE.live-green)`, the rewrite
 * module's `set`); the preview server block does the same with its own
 * flag. A switch between two colours the file already lists is then a
 * rename in the flag directory (atomic: one flag of a role exists at every
 * moment), no `nginx -t`, no SIGHUP; anything else (new upstream
 * addresses, domains, TLS...) writes the file and reloads as before
 * (edge-nginx-run.c), the flags following once nginx serves the new file.
 * Either way nginx's probe location must then answer the new live colour:
 * a worker that cannot stat the flag falls back to blue, and a switch that
 * nginx does not serve is undone, never reported as done.
 */
#include "bg.h"
#include "edge-int.h"

#include "bg-log.h"
#include "bg-util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define FLAG_DIR ".bluegreen-live"

/* BLUEGREEN_EDGE_FORCE_RELOAD=1: the bench's way to time the reload path
 * against the flag path in one run (docs/benchmarks.md); not a setting. */
#define FORCE_RELOAD_ENV "BLUEGREEN_EDGE_FORCE_RELOAD"

char *edge__nginx_flag_dir(const struct cfg *cfg)
{
	return bg_xasprintf("%s/" FLAG_DIR, cfg->g.nginx.conf_dir);
}

static const char *other_colour(const char *c)
{
	return strcmp(c, "blue") == 0 ? "green" : "blue";
}

/* SITE.ROLE-COLOUR (a new string). */
static char *flag_name(const char *site, const char *role, const char *colour)
{
	return bg_xasprintf("%s.%s-%s", site, role, colour);
}

/* 1: a regular file; 0: none; negative: anything else (a link, a dir, EACCES). */
static int flag_state(int dfd, const char *name)
{
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		return errno == ENOENT ? 0 : BG_ERRNO(errno);
	}
	return S_ISREG(st.st_mode) ? 1 : BG_EPARSE;
}

static int dir_open(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? BG_ERRNO(errno) : fd;
}

static int flag_read_fd(int dfd, const char *site, const char *role, const char **colour,
		char **why)
{
	char *b = flag_name(site, role, "blue"), *g = flag_name(site, role, "green");
	int sb = flag_state(dfd, b), sg = flag_state(dfd, g);
	int err = 0;

	*colour = NULL;
	if (sb == 1 && sg == 0) {
		*colour = "blue";
	} else if (sg == 1 && sb == 0) {
		*colour = "green";
	} else {
		*why = bg_xasprintf("flags %s and %s: %s", b, g,
				sb == 1 && sg == 1 ? "both exist"
				: sb == 0 && sg == 0 ? "neither exists"
						     : "not regular files (or cannot be read)");
		err = BG_EPARSE;
	}
	free(b);
	free(g);
	return err;
}

int edge__nginx_flag_read(const char *dir, const char *site, const char *role,
		const char **colour, char **why)
{
	*colour = NULL;
	*why = NULL;
	int dfd = dir_open(dir);
	if (dfd < 0) {
		*why = bg_xasprintf("cannot open the flag directory '%s': %s", dir,
				bg_strerror(dfd));
		return BG_EPARSE;
	}
	int err = flag_read_fd(dfd, site, role, colour, why);
	close(dfd);
	return err;
}

/*
 * Open (creating it 0755 if missing) the flag directory: ours, a real
 * directory (no link followed), writable by nobody else. Its mode is left
 * as found: one nginx's workers cannot search is caught by the probe.
 */
static int flag_dir_open(const struct cfg *cfg, struct bg_diag *d)
{
	char *dir = edge__nginx_flag_dir(cfg);
	struct stat st;
	if (mkdir(dir, 0755) == 0) {
		chmod(dir, 0755); /* past the umask: nginx's workers must search it */
	}
	int fd = dir_open(dir);
	if (fd < 0) {
		bg_diag_error(d, NULL, "cannot open the edge flag directory '%s': %s", dir,
				bg_strerror(fd));
	} else if (fstat(fd, &st) != 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
		bg_diag_error(d, NULL, "edge flag directory '%s' is not ours or is writable by "
				"others: left alone", dir);
		close(fd);
		fd = BG_EEDGE;
	}
	free(dir);
	return fd;
}

/* Make role's flag say colour: a rename from the other colour's flag
 * (atomic for nginx's stat), else a new empty file; then fsync the dir. */
static int flag_set(int dfd, const char *site, const char *role, const char *colour,
		struct bg_diag *d)
{
	char *want = flag_name(site, role, colour);
	char *other = flag_name(site, role, other_colour(colour));
	int sw = flag_state(dfd, want), so = flag_state(dfd, other);
	int err = 0;

	if (sw < 0 || so < 0) {
		err = BG_EEDGE;
	} else if (sw == 0 && so == 1) {
		err = renameat(dfd, other, dfd, want) < 0 ? BG_ERRNO(errno) : 0;
	} else if (sw == 0) {
		int fd = openat(dfd, want, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				0644);
		err = fd < 0 ? BG_ERRNO(errno) : 0;
		if (fd >= 0) {
			fchmod(fd, 0644);
			close(fd);
		}
	}
	if (!err && so == 1 && sw == 1) {
		err = unlinkat(dfd, other, 0) < 0 ? BG_ERRNO(errno) : 0;
	}
	if (!err && fsync(dfd) < 0) {
		err = BG_ERRNO(errno);
	}
	if (err) {
		bg_diag_error(d, NULL, "cannot set the edge flag %s: %s", want,
				err == BG_EEDGE ? "a flag is not a regular file" : bg_strerror(err));
	}
	free(want);
	free(other);
	return err;
}

void edge__nginx_flags_remove(const struct cfg *cfg, const char *site)
{
	char *dir = edge__nginx_flag_dir(cfg);
	int dfd = dir_open(dir);
	static const char *const names[][2] = {{"live", "blue"}, {"live", "green"},
			{"preview", "blue"}, {"preview", "green"}};
	for (size_t i = 0; dfd >= 0 && i < BG_ARRAY_SIZE(names); i++) {
		char *n = flag_name(site, names[i][0], names[i][1]);
		if (flag_state(dfd, n) == 1) {
			unlinkat(dfd, n, 0);
		}
		free(n);
	}
	if (dfd >= 0) {
		edge__nginx_refs_remove(dfd, site);
		fsync(dfd);
		close(dfd);
	}
	free(dir);
}

/* The flags as they are now (NULL: missing or odd). */
struct flags {
	const char *live, *preview;
};

static void flags_now(int dfd, const char *site, bool preview, struct flags *f)
{
	char *why = NULL;
	memset(f, 0, sizeof(*f));
	flag_read_fd(dfd, site, "live", &f->live, &why);
	free(why);
	why = NULL;
	if (preview) {
		flag_read_fd(dfd, site, "preview", &f->preview, &why);
		free(why);
	}
}

/*
 * Live flag to colour, then wait until nginx answers colour. On failure the
 * flag goes back to was (nginx keeps serving what it served) and d says why.
 */
static int flip_live(const struct cfg *cfg, int dfd, const char *site, const char *content,
		const char *colour, const char *was, struct bg_diag *d)
{
	char *last = NULL;
	int err = flag_set(dfd, site, "live", colour, d);
	if (!err && cfg->g.nginx.probe) {
		err = edge__nginx_probe_colour(cfg, site, content, colour, &last);
	}
	if (err && !last) {
		return err;
	}
	if (err) {
		char *dir = edge__nginx_flag_dir(cfg);
		bg_diag_error(d, NULL, "nginx does not serve %s for '%s' within %" PRIu64 " ms "
				"after its flag changed (last answer: %s): can nginx's workers "
				"read '%s'? The flag is put back to %s", colour, site,
				edge_confirm_timeout_ms, last, dir, was);
		free(dir);
		free(last);
		struct bg_diag quiet;
		bg_diag_init(&quiet);
		flag_set(dfd, site, "live", was, &quiet);
		bg_diag_release(&quiet);
	}
	return err ? BG_EEDGE : 0;
}

/* Does content leave colour without containers (the `down` placeholder)? */
static bool colour_empty(const char *content, const char *site, const char *colour)
{
	char *mark = bg_xasprintf("_%s {\n\t# no running container", colour);
	char *up = bg_xasprintf("upstream bluegreen_%s", site);
	for (char *p = up; *p; p++) {
		*p = *p == '-' ? '_' : *p;
	}
	const char *at = strstr(content, up);
	bool empty = false;
	while (at) {
		if (strncmp(at + strlen(up), mark, strlen(mark)) == 0) {
			empty = true;
		}
		at = strstr(at + 1, up);
	}
	free(mark);
	free(up);
	return empty;
}

/*
 * The file changes: install it (write, test, reload, probe) with the live
 * flag left as nginx serves it now, so the new file serves the same colour
 * first; then, once the previous file's workers have exited, flip. Flags
 * that are missing or odd (the previous file did
 * not use them), or that name a colour the new file has no container for,
 * are set to the target before the reload.
 */
static int route_reload(const struct cfg *cfg, int dfd, const char *site, const char *live,
		const char *preview, const char *content, size_t len, struct bg_diag *d)
{
	struct flags f;
	/* A file with its colours fixed (the workers cannot see the flags,
	 * edge-nginx-reach.c) serves live and preview once loaded: the flags
	 * only follow, for the file after it. */
	bool fixed = !memmem(content, len, "\n# bluegreen-flags: ", 20);
	flags_now(dfd, site, preview != NULL, &f);
	if (!f.live || fixed || colour_empty(content, site, f.live)) {
		int err = flag_set(dfd, site, "live", live, d);
		if (err) {
			return err;
		}
		f.live = live;
	}
	if (preview && (!f.preview || fixed || colour_empty(content, site, f.preview))) {
		int err = flag_set(dfd, site, "preview", preview, d);
		if (err) {
			return err;
		}
		f.preview = preview;
	}
	struct bg_strv old;
	bg_strv_init(&old);
	int err = edge__nginx_install_colour(cfg, site, content, len,
			cfg->g.nginx.probe ? f.live : NULL, &old, d);
	if (!err && strcmp(f.live, live) != 0) {
		/* The previous file's workers read the flag too, with that file's
		 * upstreams (the new colour's may be a `down` placeholder there):
		 * they finish their requests first. */
		edge__nginx_wait_exit(&old, edge_confirm_timeout_ms);
		err = flip_live(cfg, dfd, site, content, live, f.live, d);
	}
	bg_strv_release(&old);
	if (!err && preview && strcmp(f.preview, preview) != 0) {
		err = flag_set(dfd, site, "preview", preview, d);
	}
	return err;
}

int edge__nginx_route(const struct cfg *cfg, const char *site, const char *live,
		const char *preview, const char *content, size_t len, struct bg_diag *d)
{
	char *path = NULL, *prev = NULL;
	size_t prev_len = 0;
	const char *why = NULL;
	struct flags f;
	int err;

	if (!edge__site_name_valid(site) || !cfg->g.nginx.conf_dir ||
			!edge__colour_valid(live) || (preview && !edge__colour_valid(preview))) {
		bg_diag_error(d, NULL, "nginx edge: invalid site name, colour or no conf_dir");
		return BG_ECONFIG;
	}
	int dfd = flag_dir_open(cfg, d);
	if (dfd < 0) {
		return dfd;
	}
	path = edge__nginx_path(cfg, site);
	err = bg_file_read_safe(NULL, path, EDGE_MAX_FILE_BYTES, &prev, &prev_len, NULL, &why);
	flags_now(dfd, site, preview != NULL, &f);
	const char *force = getenv(FORCE_RELOAD_ENV);
	/* nginx reads certificates, keys and the htpasswd only on a reload:
	 * one renewed at the same path is a change the file's bytes hide. */
	char *refs = edge__nginx_refs_fingerprint(cfg, content, len);
	bool refs_same = edge__nginx_refs_same(dfd, site, refs);
	free(refs);
	if (err || prev_len != len || memcmp(prev, content, len) != 0 || !f.live ||
			(preview && !f.preview) || !refs_same ||
			(force && strcmp(force, "1") == 0)) {
		err = route_reload(cfg, dfd, site, live, preview, content, len, d);
		if (!err) {
			/* After the install: its htpasswd sync is part of what nginx read. */
			refs = edge__nginx_refs_fingerprint(cfg, content, len);
			edge__nginx_refs_store(dfd, site, refs);
			free(refs);
		} else {
			edge__nginx_refs_remove(dfd, site);
		}
		goto out;
	}
	/* The same file and the same files it names: the switch is the flags alone. */
	bg_trace(EDGE, "'%s' unchanged: live %s -> %s by flag, no reload", path, f.live, live);
	err = 0;
	if (strcmp(f.live, live) != 0) {
		err = flip_live(cfg, dfd, site, content, live, f.live, d);
	}
	if (!err && preview && strcmp(f.preview, preview) != 0) {
		err = flag_set(dfd, site, "preview", preview, d);
	}
out:
	close(dfd);
	free(prev);
	free(path);
	return err;
}
