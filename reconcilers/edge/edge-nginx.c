/*
 * edge-nginx: the nginx edge. Each site gets CONF_DIR/bluegreen-SITE.conf:
 * a header whose `# bluegreen-*` lines say what the file means (read back
 * as the observed state), an upstream per role listing the containers'
 * "ip:port" on the edge network, and server blocks for the site's domains
 * and its preview domain. Installing writes the file atomically, runs the
 * configured `test` argv then the `reload` argv (never a shell, cwd = the
 * config directory) and, when either fails, puts the previous file back
 * and reloads, so nginx keeps serving what it served (docs/adr/0005).
 */
#include "bg.h"
#include "edge-int.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <time.h>

#include "bg-log.h"
#include "bg-util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <unistd.h>

#define NGINX_KEEPALIVE 16

static char *nginx_path(const struct cfg *cfg, const char *site)
{
	return bg_xasprintf("%s/bluegreen-%s.conf", cfg->g.nginx.conf_dir, site);
}

/*
 * Upstream names come from the site name, which may contain '-' and start
 * with a digit; the fixed prefix and '-' -> '_' make a plain identifier.
 * Site names never contain '_', so the mapping cannot make two sites
 * collide.
 */
static void upstream_name(struct bg_buf *b, const char *site, const char *role)
{
	bg_buf_adds(b, "bluegreen_");
	for (const char *p = site; *p; p++) {
		bg_buf_addch(b, *p == '-' ? '_' : *p);
	}
	bg_buf_addf(b, "_%s", role);
}

/* "ipv4:port" or "[ipv6]:port", port 1..65535: nothing else may reach a
 * `server` line. */
static bool addr_valid(const char *s)
{
	const char *colon = strrchr(s, ':');
	char host[64];
	unsigned char bin[16];
	size_t hl;
	int af = AF_INET;

	if (!colon || colon == s) {
		return false;
	}
	const char *h = s;
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']') {
			return false;
		}
		h = s + 1;
		hl -= 2;
		af = AF_INET6;
	}
	if (hl == 0 || hl >= sizeof(host)) {
		return false;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (inet_pton(af, host, bin) != 1) {
		return false;
	}
	const char *p = colon + 1;
	unsigned long port = 0;
	if (!*p || strlen(p) > 5) {
		return false;
	}
	for (; *p; p++) {
		if (*p < '0' || *p > '9') {
			return false;
		}
		port = port * 10 + (unsigned long)(*p - '0');
	}
	return port >= 1 && port <= 65535;
}

/* The listen value is operator-written; keep it to what a listen
 * directive's parameters are made of, so it cannot end the directive. */
static bool listen_valid(const char *s)
{
	if (!s || !*s || strlen(s) > 200) {
		return false;
	}
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				(c >= '0' && c <= '9') || strchr(".:[]_=- ", c))) {
			return false;
		}
	}
	return true;
}

static int check_upstreams(const struct bg_strv *u)
{
	for (size_t i = 0; u && i < u->n; i++) {
		if (!addr_valid(u->v[i])) {
			return BG_ECONFIG;
		}
	}
	return 0;
}

static void render_upstream(struct bg_buf *b, const char *site, const char *role,
		const struct bg_strv *servers)
{
	struct bg_strv sorted;

	bg_strv_init(&sorted);
	if (servers) {
		bg_strv_copy(&sorted, servers);
	}
	bg_strv_sort(&sorted);
	bg_buf_adds(b, "upstream ");
	upstream_name(b, site, role);
	bg_buf_adds(b, " {\n");
	for (size_t i = 0; i < sorted.n; i++) {
		if (i > 0 && strcmp(sorted.v[i], sorted.v[i - 1]) == 0) {
			continue;
		}
		bg_buf_addf(b, "\tserver %s;\n", sorted.v[i]);
	}
	if (sorted.n == 0) {
		/*
		 * nginx refuses an upstream without servers, and a refused
		 * file would take every site on this nginx down with it. A
		 * server marked `down` is never contacted, so requests get a
		 * 502 until a container runs; 127.0.0.1:9 (discard) makes the
		 * intent obvious to whoever reads the file.
		 */
		bg_buf_adds(b, "\t# no running container: nginx answers 502\n"
				"\tserver 127.0.0.1:9 down;\n");
	}
	bg_buf_addf(b, "\tkeepalive %d;\n}\n\n", NGINX_KEEPALIVE);
	bg_strv_release(&sorted);
}

/* Replaced by the serial once the rest of the file is known. */
#define SERIAL_SLOT "@BLUEGREEN-SERIAL@"

static void render_server(struct bg_buf *b, const char *listen, const char *site,
		const char *role, const char *const *names, size_t n_names)
{
	bg_buf_addf(b, "server {\n\tlisten %s;\n\tserver_name", listen);
	for (size_t i = 0; i < n_names; i++) {
		bg_buf_addf(b, " %s", names[i]);
	}
	bg_buf_adds(b, ";\n\n");
	if (strcmp(role, "live") == 0) {
		/*
		 * install asks for this after a reload, until nginx answers with
		 * this file's serial: only then is the switch done. Local only.
		 */
		bg_buf_adds(b, "\tlocation = " EDGE_NGINX_PROBE_PATH " {\n"
				"\t\tallow 127.0.0.1;\n"
				"\t\tallow ::1;\n"
				"\t\tdeny all;\n"
				"\t\tdefault_type text/plain;\n"
				"\t\treturn 200 \"" SERIAL_SLOT "\\n\";\n"
				"\t}\n\n");
	}
	bg_buf_adds(b, "\tlocation / {\n\t\tproxy_pass http://");
	upstream_name(b, site, role);
	/* HTTP/1.1 and an empty Connection header let the upstream keepalive
	 * pool reuse connections to the containers. */
	bg_buf_adds(b, ";\n"
			"\t\tproxy_http_version 1.1;\n"
			"\t\tproxy_set_header Connection \"\";\n"
			"\t\tproxy_set_header Host $host;\n"
			"\t\tproxy_set_header X-Real-IP $remote_addr;\n"
			"\t\tproxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
			"\t\tproxy_set_header X-Forwarded-Proto $scheme;\n"
			"\t\tproxy_set_header X-Forwarded-Host $host;\n"
			"\t}\n}\n");
}

static int nginx_render(const struct cfg *cfg, const struct edge_view *v, struct bg_buf *out)
{
	const char *listen = cfg->g.nginx.listen ? cfg->g.nginx.listen : "80";
	const char *preview;
	const struct bg_strv *pup;
	struct bg_buf b = BG_BUF_INIT;
	int err;

	err = edge__view_check(v);
	if (!err && (!listen_valid(listen) || check_upstreams(v->live_upstreams) ||
			check_upstreams(v->preview_upstreams))) {
		err = BG_ECONFIG;
	}
	if (err) {
		return err;
	}
	const struct cfg_site *s = v->site;
	preview = edge__preview_colour(v);
	pup = v->live_upstreams;
	if (v->preview && strcmp(v->preview, v->live) != 0) {
		pup = v->preview_upstreams;
	}

	edge__header_render(&b, s->name, v->live, preview, v->live_version);
	render_upstream(&b, s->name, "live", v->live_upstreams);
	if (preview) {
		render_upstream(&b, s->name, "preview", pup);
	}
	render_server(&b, listen, s->name, "live", (const char *const *)s->domains.v,
			s->domains.n);
	if (preview) {
		bg_buf_adds(&b, "\n");
		render_server(&b, listen, s->name, "preview",
				(const char *const *)&s->preview, 1);
	}
	/* The serial is a hash of everything else: it changes with any change. */
	char hex[65];
	bg_sha256_hex(b.data, b.len, hex);
	char *slot = strstr(b.data, SERIAL_SLOT);
	if (slot) {
		struct bg_buf c = BG_BUF_INIT;
		bg_buf_add(&c, b.data, (size_t)(slot - b.data));
		bg_buf_addf(&c, "%s %.*s", s->name, EDGE_NGINX_SERIAL_LEN, hex);
		bg_buf_adds(&c, slot + strlen(SERIAL_SLOT));
		bg_buf_release(&b);
		b = c;
	}
	edge__trailer_render(&b);
	err = bg_buf_add(out, b.data, b.len);
	bg_buf_release(&b);
	return err;
}

/* ---- parse ---- */

struct line {
	const char *p;
	size_t n;
};

/* Next line of [*pos, end), without its newline; false at the end. */
static bool next_line(const char **pos, const char *end, struct line *l)
{
	if (*pos >= end) {
		return false;
	}
	const char *nl = memchr(*pos, '\n', (size_t)(end - *pos));
	l->p = *pos;
	l->n = nl ? (size_t)(nl - *pos) : (size_t)(end - *pos);
	*pos = nl ? nl + 1 : end;
	return true;
}

static void trim(struct line *l)
{
	while (l->n && (l->p[0] == ' ' || l->p[0] == '\t')) {
		l->p++;
		l->n--;
	}
	while (l->n && (l->p[l->n - 1] == ' ' || l->p[l->n - 1] == '\t' ||
			l->p[l->n - 1] == '\r')) {
		l->n--;
	}
}

static bool line_is(const struct line *l, const char *s)
{
	return l->n == strlen(s) && memcmp(l->p, s, l->n) == 0;
}

/* "PREFIX value" -> value (a new string), when the line starts with prefix. */
static char *line_value(const struct line *l, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (l->n <= pl || memcmp(l->p, prefix, pl) != 0) {
		return NULL;
	}
	return bg_xstrndup(l->p + pl, l->n - pl);
}

/*
 * Braces outside comments and quotes must balance and never go negative:
 * a cheap way to tell a truncated or mangled file from one we wrote.
 */
static bool braces_balanced(const char *s, size_t len)
{
	long depth = 0;
	bool comment = false;
	char quote = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (comment) {
			comment = c != '\n';
		} else if (quote) {
			if (c == '\\' && i + 1 < len) {
				i++;
			} else if (c == quote) {
				quote = 0;
			}
		} else if (c == '#') {
			comment = true;
		} else if (c == '"' || c == '\'') {
			quote = c;
		} else if (c == '{') {
			depth++;
		} else if (c == '}' && --depth < 0) {
			return false;
		}
	}
	return depth == 0 && !quote;
}

static int nginx_parse(const struct cfg *cfg, const char *site, const char *content,
		size_t len, struct obs_edge *e)
{
	const char *pos, *end;
	struct bg_buf up = BG_BUF_INIT;
	struct edge__header h;
	struct line l;
	bool in_up = false, seen_up = false, closed_up = false;
	int err;

	err = edge__parse_begin(site, content, len, &h, e);
	if (err) {
		return err;
	}
	pos = content + h.body;
	end = content + h.body_end;
	if (!braces_balanced(pos, (size_t)(end - pos))) {
		err = edge__obs_fail(e, "unbalanced braces: truncated or edited by hand");
		goto out;
	}
	bg_buf_adds(&up, "upstream ");
	upstream_name(&up, site, "live");
	bg_buf_adds(&up, " {");
	while (next_line(&pos, end, &l)) {
		trim(&l);
		if (!in_up) {
			if (line_is(&l, up.data)) {
				if (seen_up) {
					err = edge__obs_fail(e, "live upstream defined twice");
					goto out;
				}
				in_up = seen_up = true;
			}
			continue;
		}
		if (line_is(&l, "}")) {
			in_up = false;
			closed_up = true;
			continue;
		}
		char *addr = line_value(&l, "server ");
		if (!addr) {
			continue; /* keepalive, comments */
		}
		if (strcmp(addr, "127.0.0.1:9 down;") == 0) {
			free(addr); /* the empty-upstream placeholder */
			continue;
		}
		size_t al = strlen(addr);
		if (al < 2 || addr[al - 1] != ';') {
			free(addr);
			err = edge__obs_fail(e, "unexpected server line in the live upstream");
			goto out;
		}
		addr[al - 1] = '\0';
		if (!addr_valid(addr)) {
			free(addr);
			err = edge__obs_fail(e, "unexpected server line in the live upstream");
			goto out;
		}
		bg_strv_push_take(&e->upstreams, addr);
	}
	if (!seen_up || !closed_up) {
		err = edge__obs_fail(e, "no live upstream '%s'", up.data);
		goto out;
	}
	bg_strv_sort(&e->upstreams);
	e->live = h.live;
	e->preview = h.preview;
	h.live = h.preview = NULL;
out:
	edge__header_release(&h);
	bg_buf_release(&up);
	return err;
}

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

static int nginx_install(const struct cfg *cfg, const char *site, const char *content,
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
	path = nginx_path(cfg, site);
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

static void nginx_container_labels(const struct cfg *cfg, const struct cfg_site *site,
		const char *colour, struct obs_labels *labels)
{
	/* nginx reaches containers by IP on the edge network: no labels. */
}

/* ---- what the rest of bluegreen asks of this edge ---- */

static const char *nginx_watch_dir(const struct cfg *cfg)
{
	return cfg->g.nginx.conf_dir;
}

static bool nginx_publishes_ports(const struct cfg *cfg)
{
	return cfg->g.nginx.upstream == CFG_UPSTREAM_PORTS;
}

static bool nginx_port_range(const struct cfg *cfg, struct edge_port_range *r)
{
	r->lo = cfg->g.nginx.port_lo;
	r->hi = cfg->g.nginx.port_hi;
	r->key = "edge.nginx.ports";
	r->value = cfg->g.nginx.ports;
	return true;
}

static bool nginx_needs_upstreams(const struct cfg *cfg)
{
	(void)cfg;
	return true; /* the file lists "ip:port" of each container */
}

static void nginx_spec_add(const struct cfg *cfg, const struct cfg_site *site,
		struct json_object *spec)
{
	(void)site;
	/* How nginx reaches the container is part of the container (a published port or not). */
	json_object_object_add(spec, "upstream", json_object_new_string(
			cfg->g.nginx.upstream == CFG_UPSTREAM_PORTS ? "ports" : "addresses"));
}

static void x_conf_dir(const struct cfg *cfg, struct edge_exec_value *out)
{
	out->str = cfg->g.nginx.conf_dir;
	out->rel = cfg->g.nginx.conf_dir_rel;
}

static void x_test(const struct cfg *cfg, struct edge_exec_value *out)
{
	out->argv = &cfg->g.nginx.test;
}

static void x_reload(const struct cfg *cfg, struct edge_exec_value *out)
{
	out->argv = &cfg->g.nginx.reload;
}

static const struct edge_exec_row nginx_exec_rows[] = {
	{"edge.nginx.conf_dir", "nginx config directory", x_conf_dir},
	{"edge.nginx.test", "edge test command", x_test},
	{"edge.nginx.reload", "edge reload command", x_reload},
};

const struct edge_impl edge_nginx_impl = {
	.kind = "nginx",
	.path = nginx_path,
	.render = nginx_render,
	.parse = nginx_parse,
	.install = nginx_install,
	.container_labels = nginx_container_labels,
	.watch_dir = nginx_watch_dir,
	.publishes_ports = nginx_publishes_ports,
	.port_range = nginx_port_range,
	.needs_upstreams = nginx_needs_upstreams,
	.spec_add = nginx_spec_add,
	.exec_rows = nginx_exec_rows,
	.n_exec_rows = BG_ARRAY_SIZE(nginx_exec_rows),
};
