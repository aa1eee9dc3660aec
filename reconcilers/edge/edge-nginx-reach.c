/*
 * edge-nginx-reach: can nginx's workers see the flags? A flag is looked up
 * by the workers on every request (`if (-f DIR/SITE.live-green)`), and
 * the workers run as an unprivileged user (nobody, www-data) where the
 * master reads its configuration, includes too, as root. A conf_dir below
 * a directory only root may search (a mkdtemp, a 0700 home) is fine for
 * the master and invisible to the workers: a switch by flag would never
 * be served. So before rendering, every component of the flag directory's
 * path is checked (stat modes and owners) for the workers' user: searchable
 * by others, or by the workers' uid or groups as /proc shows them for a
 * running worker. When not (or when it cannot be told), the file is
 * rendered with its colours fixed and every switch reloads nginx, as
 * before issue 11: slower, never failed. ADR "Flags the workers can reach".
 */
#include "bg.h"
#include "edge-int.h"

#include "bg-util.h"

#include <sys/stat.h>
#include <unistd.h>

#define MAX_GROUPS 64

/* Who nginx's workers are (their file-system ids). */
struct creds {
	bool known;
	uid_t uid;
	gid_t gids[MAX_GROUPS];
	size_t n_gids;
};

/* The first number after key in text ("Uid:\treal eff saved fs": the 4th). */
static bool status_ids(const char *text, const char *key, unsigned long *out, size_t max,
		size_t *n)
{
	const char *at = strstr(text, key);
	*n = 0;
	if (!at) {
		return false;
	}
	at += strlen(key);
	while (*n < max) {
		char *end = NULL;
		unsigned long v = strtoul(at, &end, 10);
		if (end == at) {
			break;
		}
		out[(*n)++] = v;
		at = end;
		if (*at == '\n') {
			break;
		}
	}
	return true;
}

/* The ids of a worker accepting on the listen address, from /proc. */
static void creds_load(const struct cfg *cfg, struct creds *c)
{
	struct bg_strv pids;
	char *text = NULL;
	bg_strv_init(&pids);
	edge__nginx_accepting_workers(cfg->g.nginx.listen ? cfg->g.nginx.listen : "80", &pids);
	char path[64];
	snprintf(path, sizeof(path), "/proc/%.20s/status", pids.n ? pids.v[0] : "none");
	unsigned long uid[4], gid[4], groups[MAX_GROUPS];
	size_t nu = 0, ng = 0, nx = 0;
	if (pids.n && bg_file_read(path, 1 << 14, &text, NULL) == 0 &&
			status_ids(text, "\nUid:", uid, 4, &nu) && nu == 4 &&
			status_ids(text, "\nGid:", gid, 4, &ng) && ng == 4) {
		status_ids(text, "\nGroups:", groups, MAX_GROUPS - 1, &nx);
		c->known = true;
		c->uid = (uid_t)uid[3];
		c->gids[c->n_gids++] = (gid_t)gid[3];
		for (size_t i = 0; i < nx; i++) {
			c->gids[c->n_gids++] = (gid_t)groups[i];
		}
	}
	free(text);
	bg_strv_release(&pids);
}

/* May c search a directory of st? */
static bool creds_search(const struct creds *c, const struct stat *st)
{
	if (c->uid == 0 || (st->st_mode & S_IXOTH)) {
		return true;
	}
	if (st->st_uid == c->uid) {
		return (st->st_mode & S_IXUSR) != 0;
	}
	for (size_t i = 0; i < c->n_gids; i++) {
		if (c->gids[i] == st->st_gid) {
			return (st->st_mode & S_IXGRP) != 0;
		}
	}
	return false;
}

bool edge__nginx_flags_reachable(const struct cfg *cfg, char **blocker)
{
	char *dir = cfg->g.nginx.conf_dir ? edge__nginx_flag_dir(cfg) : NULL;
	struct creds c = {0};
	bool loaded = false, ok = true;
	struct stat cst;
	if (blocker) {
		*blocker = NULL;
	}
	/* No conf_dir (yet): nothing nginx reads is there, and saying why it
	 * would not be served is the install's (and validate's) business. */
	if (!dir || stat(cfg->g.nginx.conf_dir, &cst) != 0) {
		free(dir);
		return true;
	}
	/* Each prefix of dir, "/" first: the workers need x on every one. */
	for (size_t i = 1, n = dir ? strlen(dir) : 0; ok && dir && i <= n; i++) {
		if (i < n && dir[i] != '/') {
			continue;
		}
		char *p = bg_xstrndup(dir, i == 1 ? 1 : i);
		struct stat st;
		if (stat(p, &st) != 0) {
			/* Missing: the flag directory, made 0755 by the first switch. */
			free(p);
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			ok = false;
		} else if (!(st.st_mode & S_IXOTH)) {
			if (!loaded) {
				creds_load(cfg, &c);
				loaded = true;
			}
			ok = c.known && creds_search(&c, &st);
		}
		if (!ok && blocker) {
			*blocker = bg_xstrdup(p);
		}
		free(p);
	}
	free(dir);
	return ok;
}

char *edge__nginx_route_note(const struct cfg *cfg)
{
	char *blocker = NULL;
	if (edge__nginx_flags_reachable(cfg, &blocker)) {
		return NULL;
	}
	char *note = bg_xasprintf("nginx's workers cannot search '%s' (on the way to the edge's "
			"flags under %s): every switch reloads nginx. Make it searchable "
			"by the workers' user (chmod o+x, or its group) for switches "
			"without a reload", blocker ? blocker : "?",
			cfg->g.nginx.conf_dir);
	free(blocker);
	return note;
}
