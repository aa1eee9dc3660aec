/*
 * edge-nginx-run: how the nginx edge makes nginx take a file (the
 * rendering and parsing are edge-nginx.c). Writes the site's file
 * atomically, runs the configured `test` then `reload` argv (never a
 * shell, cwd = the config directory), then asks nginx, from this host,
 * for the probe location until it answers with the new file's serial and
 * the workers that accepted before the reload stopped accepting (Linux
 * /proc). When any step fails, the previous file is put back and nginx
 * reloaded, so it keeps serving what it served (docs/adr/0005).
 */
#include "bg.h"
#include "edge-int.h"

#include <curl/curl.h>
#include <time.h>

#include "bg-log.h"
#include "bg-util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <unistd.h>

/* ---- install ---- */

/* Run one argv with cwd = the config directory; false (with the output in
 * d) when it does not exit 0 in time. */
static bool run_step(const struct cfg *cfg, const char *what,
		const struct bg_strv *argv, struct bg_diag *d)
{
	char *out = NULL, *shown = bg_argv_display(argv->v);
	int status = -1;
	bool ok = false;

	int err = bg_spawn_capture(argv->v, cfg->dir, edge_cmd_timeout_ms, &status, &out);
	if (err == BG_ETIMEOUT) {
		bg_diag_error(d, NULL, "nginx %s '%s' timed out after %" PRIu64 " ms: %s",
				what, shown, edge_cmd_timeout_ms, out ? out : "");
	} else if (err) {
		bg_diag_error(d, NULL, "nginx %s '%s' could not run: %s", what, shown,
				bg_strerror(err));
	} else if (status != 0) {
		bg_diag_error(d, NULL, "nginx %s '%s' failed (exit %d): %s", what, shown,
				status, out ? out : "");
	} else {
		bg_trace(EDGE, "nginx %s '%s' ok", what, shown);
		ok = true;
	}
	free(out);
	free(shown);
	return ok;
}

/* The address to ask nginx on, from the listen value; NULL: not reachable by TCP. */
static char *probe_base(const char *listen)
{
	size_t n = strcspn(listen, " \t");
	char *l = bg_xstrndup(listen, n);
	char *url = NULL;
	if (strspn(l, "0123456789") == n) {
		url = bg_xasprintf("http://127.0.0.1:%s", l);
	} else if (l[0] == '[') {
		char *end = strchr(l, ']');
		if (end && end[1] == ':') {
			*end = '\0';
			const char *host = strcmp(l + 1, "::") == 0 ? "::1" : l + 1;
			url = bg_xasprintf("http://[%s]:%s", host, end + 2);
		}
	} else if (!bg_str_has_prefix(l, "unix:")) {
		char *colon = strrchr(l, ':');
		if (colon) {
			*colon = '\0';
			const char *host = strcmp(l, "0.0.0.0") == 0 || strcmp(l, "*") == 0
						   ? "127.0.0.1" : l;
			url = bg_xasprintf("http://%s:%s", host, colon + 1);
		}
	}
	free(l);
	return url;
}

#define PROBE_IN_A_ROW 3

/* ---- nginx workers still accepting on the listen port (Linux /proc) ---- */

/*
 * Where a listen value binds: its port (0: none, e.g. a unix socket) and,
 * for an IPv4 address, the address as /proc/net/tcp prints it ("0100007F"
 * for 127.0.0.1; "00000000" for "80" or "*:80"). Empty hex: any address
 * of tcp and tcp6 (an IPv6 address or a host name).
 */
static unsigned listen_where(const char *listen, char hex[9])
{
	size_t n = strcspn(listen, " \t");
	char *l = bg_xstrndup(listen, n);
	char *colon = strrchr(l, ':');
	const char *num = bg_str_has_prefix(l, "unix:") ? NULL : colon ? colon + 1 : l;
	unsigned port = 0;
	hex[0] = '\0';
	if (num && *num && strspn(num, "0123456789") == strlen(num) && strlen(num) <= 5) {
		port = (unsigned)atoi(num);
	}
	struct in_addr a4;
	if (!colon) {
		snprintf(hex, 9, "00000000");
	} else {
		*colon = '\0';
		if (strcmp(l, "*") == 0) {
			snprintf(hex, 9, "00000000");
		} else if (inet_pton(AF_INET, l, &a4) == 1) {
			/* The kernel prints the address's 32 bits as a host-order integer. */
			snprintf(hex, 9, "%08X", (unsigned)a4.s_addr);
		}
	}
	free(l);
	return port <= 65535 ? port : 0;
}

/* "socket:[INODE]" of every TCP socket listening where listen binds (/proc/net/tcp{,6}). */
static void listen_sockets(const char *listen, struct bg_strv *out)
{
	char hex[9];
	unsigned port = listen_where(listen, hex);
	const char *files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
	for (size_t f = 0; port && f < BG_ARRAY_SIZE(files); f++) {
		char *data = NULL;
		if ((hex[0] && f == 1) || bg_file_read(files[f], 16 << 20, &data, NULL) != 0) {
			continue;
		}
		char *save = NULL;
		for (char *l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			char local[64];
			unsigned st = 0;
			unsigned long inode = 0;
			/* sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode */
			if (sscanf(l, " %*s %63s %*s %x %*s %*s %*s %*s %*s %lu", local, &st,
					&inode) != 3 || st != 0x0A || !inode) {
				continue;
			}
			char *c = strrchr(local, ':');
			if (!c || strtoul(c + 1, NULL, 16) != port) {
				continue;
			}
			*c = '\0';
			if (!hex[0] || strcmp(local, hex) == 0) {
				bg_strv_push_take(out, bg_xasprintf("socket:[%lu]", inode));
			}
		}
		free(data);
	}
}

/* Does /proc/PID say "nginx: worker process" (not "... is shutting down")? */
static bool accepting_title(const char *pid)
{
	char path[64], *cmd = NULL;
	snprintf(path, sizeof(path), "/proc/%.20s/cmdline", pid);
	bool yes = bg_file_read(path, 4096, &cmd, NULL) == 0 &&
			strcmp(cmd, "nginx: worker process") == 0;
	free(cmd);
	return yes;
}

static bool holds_socket(const char *pid, const struct bg_strv *socks)
{
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/%.20s/fd", pid);
	DIR *d = opendir(path);
	struct dirent *de;
	bool yes = false;
	while (d && !yes && (de = readdir(d))) {
		char fdp[128];
		snprintf(fdp, sizeof(fdp), "%s/%.20s", path, de->d_name);
		ssize_t n = readlink(fdp, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = '\0';
			yes = bg_strv_contains(socks, link);
		}
	}
	if (d) {
		closedir(d);
	}
	return yes;
}

/*
 * PIDs of the nginx workers that take new connections on port: title
 * "nginx: worker process" and one of the port's listening sockets open.
 * A worker told to quit by a reload renames itself "... is shutting down"
 * as it closes its listening sockets. Empty where /proc cannot tell (not
 * Linux, or workers of another user whose fds we may not read).
 */
void edge__nginx_accepting_workers(const char *listen, struct bg_strv *pids)
{
	struct bg_strv socks;
	bg_strv_init(&socks);
	listen_sockets(listen, &socks);
	DIR *d = socks.n ? opendir("/proc") : NULL;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (strspn(de->d_name, "0123456789") != strlen(de->d_name) ||
				!accepting_title(de->d_name) || !holds_socket(de->d_name, &socks)) {
			continue;
		}
		bg_strv_push(pids, de->d_name);
	}
	if (d) {
		closedir(d);
	}
	bg_strv_release(&socks);
}

/*
 * Wait until none of `old` (workers that accepted before the reload) still
 * accepts. Until the master's QUIT reaches an old worker, old and new
 * workers share the listening socket: a probe answered by the new file
 * does not prove the next connection will be. Bounded by deadline; past
 * it the switch stands (the new file is served) with a warning.
 */
void edge__nginx_wait_workers(const struct bg_strv *old, int64_t deadline)
{
	for (size_t i = 0; i < old->n; i++) {
		while (accepting_title(old->v[i])) {
			if (bg_mono_ms() >= deadline) {
				bg_log(BG_LOG_WARN, "nginx worker %s still accepts after the reload: "
						"a few requests may reach the previous file", old->v[i]);
				return;
			}
			struct timespec ts = {.tv_sec = 0, .tv_nsec = 5 * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
}

static size_t probe_body(char *ptr, size_t size, size_t n, void *arg)
{
	struct bg_buf *b = arg;
	return bg_buf_add(b, ptr, size * n) == 0 ? size * n : 0;
}

/*
 * Ask nginx for the probe location until it answers with the serial of the
 * content just installed: `nginx -s reload` returns before the new workers
 * run, and a conf_dir nginx does not include would never be served.
 */
static int probe_serves(const struct cfg *cfg, const char *site, const char *content,
		const struct bg_strv *old_workers, struct bg_diag *d)
{
	const struct cfg_site *cs = cfg_site_find(cfg, site);
	const char *mark = strstr(content, "location = " EDGE_NGINX_PROBE_PATH " {");
	const char *ret = mark ? strstr(mark, "return 200 \"") : NULL;
	char *base = probe_base(cfg->g.nginx.listen ? cfg->g.nginx.listen : "80");
	char *want = NULL, *url = NULL, *host = NULL, *last = NULL;
	struct bg_buf body = BG_BUF_INIT;
	int err = 0;

	if (!ret || !cs || !cs->domains.n || !base) {
		/* Nothing to ask (unix socket listen, or no live server block). */
		bg_trace(EDGE, "nginx probe skipped for '%s'", site);
		free(base);
		return 0;
	}
	ret += strlen("return 200 \"");
	want = bg_xstrndup(ret, strcspn(ret, "\\\""));
	url = bg_xasprintf("%s%s", base, EDGE_NGINX_PROBE_PATH);
	host = bg_xasprintf("Host: %s", cs->domains.v[0]);
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = curl_slist_append(NULL, host);
	int64_t deadline = bg_mono_ms() + (int64_t)edge_confirm_timeout_ms;
	int in_a_row = 0;
	for (;;) {
		long status = 0;
		bg_buf_reset(&body);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, probe_body);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
		CURLcode rc = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (rc == CURLE_OK && status == 200 && bg_str_has_prefix(body.data, want)) {
			/*
			 * Old and new workers both accept for the few milliseconds
			 * until the master's QUIT reaches the old ones: only several
			 * fresh connections in a row answered by the new file mean
			 * the old workers stopped taking requests.
			 */
			if (++in_a_row >= PROBE_IN_A_ROW) {
				edge__nginx_wait_workers(old_workers, deadline);
				break;
			}
			struct timespec ts = {.tv_sec = 0, .tv_nsec = 10 * 1000000L};
			nanosleep(&ts, NULL);
			continue;
		}
		in_a_row = 0;
		free(last);
		last = rc != CURLE_OK ? bg_xstrdup(curl_easy_strerror(rc))
				      : bg_xasprintf("status %ld, '%.60s'", status, body.data);
		if (bg_mono_ms() >= deadline) {
			bg_diag_error(d, NULL, "nginx reloaded but does not serve the new file for '%s' "
					"within %" PRIu64 " ms at %s (last answer: %s): check that "
					"nginx includes %s and listens on '%s' (edge.nginx.probe: "
					"false if nginx cannot be reached from this host)", site,
					edge_confirm_timeout_ms, base, last, cfg->g.nginx.conf_dir,
					cfg->g.nginx.listen ? cfg->g.nginx.listen : "80");
			err = BG_EEDGE;
			break;
		}
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000000L};
		nanosleep(&ts, NULL);
	}
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	bg_buf_release(&body);
	free(last);
	free(want);
	free(url);
	free(host);
	free(base);
	return err;
}

int edge__nginx_install(const struct cfg *cfg, const char *site, const char *content,
		size_t len, struct bg_diag *d)
{
	char *path = NULL, *prev = NULL, *back = NULL;
	size_t prev_len = 0, back_len = 0;
	bool had_prev = false;
	struct bg_strv old_workers;
	const char *why = NULL;
	int err;

	bg_strv_init(&old_workers);
	if (!edge__site_name_valid(site) || !cfg->g.nginx.conf_dir) {
		bg_diag_error(d, NULL, "nginx edge: invalid site name or no conf_dir");
		return BG_ECONFIG;
	}
	if (cfg->g.nginx.reload.n == 0) {
		bg_diag_error(d, NULL, "nginx edge: edge.nginx.reload is empty, nginx would "
				"never load the new file");
		return BG_ECONFIG;
	}
	path = edge__nginx_path(cfg, site);
	/* The previous content stays in memory: it is what we put back. */
	err = bg_file_read_safe(NULL, path, EDGE_MAX_FILE_BYTES, &prev, &prev_len, NULL, &why);
	if (err == 0) {
		had_prev = true;
	} else if (err != BG_ERRNO(ENOENT)) {
		bg_diag_error(d, NULL, "cannot read '%s': %s", path, why);
		goto out;
	}
	/* The temporary file is `.bluegreen-SITE.conf.RANDOM.tmp` in conf_dir:
	 * it never matches `*.conf`, so an unrelated reload cannot load it. */
	err = bg_file_write_atomic_why(path, NULL, content, len, 0644, &why);
	if (err) {
		bg_diag_error(d, NULL, "cannot write '%s': %s", path, why);
		goto out;
	}
	if (cfg->g.nginx.probe) {
		/* Who accepts now, so the probe can wait for them to stop. */
		edge__nginx_accepting_workers(cfg->g.nginx.listen ? cfg->g.nginx.listen : "80",
				&old_workers);
	}
	if ((cfg->g.nginx.test.n && !run_step(cfg, "test", &cfg->g.nginx.test, d)) ||
			!run_step(cfg, "reload", &cfg->g.nginx.reload, d) ||
			(cfg->g.nginx.probe &&
					probe_serves(cfg, site, content, &old_workers, d) != 0)) {
		why = NULL;
		int rerr = had_prev ? bg_file_write_atomic_why(path, NULL, prev, prev_len, 0644, &why)
				    : (unlink(path) < 0 ? BG_ERRNO(errno) : 0);
		if (rerr) {
			bg_diag_error(d, NULL, "cannot restore '%s': %s", path,
					why ? why : bg_strerror(rerr));
		} else if (!run_step(cfg, "reload (after restoring the previous file)",
				&cfg->g.nginx.reload, d)) {
			bg_log(BG_LOG_WARN, "nginx reload after restoring '%s' failed", path);
		}
		bg_log(BG_LOG_WARN, "nginx refused '%s'; %s", path,
				had_prev ? "previous file restored" : "new file removed");
		err = BG_EEDGE;
		goto out;
	}
	err = bg_file_read_safe(NULL, path, EDGE_MAX_FILE_BYTES, &back, &back_len, NULL, &why);
	if (err || back_len != len || memcmp(back, content, len) != 0) {
		bg_diag_error(d, NULL, "'%s' does not read back as written: %s", path,
				err ? why : "content differs (another writer?)");
		err = BG_EEDGE;
		goto out;
	}
	bg_trace(EDGE, "installed '%s' (%zu bytes)", path, len);
out:
	bg_strv_release(&old_workers);
	free(back);
	free(prev);
	free(path);
	return err;
}
