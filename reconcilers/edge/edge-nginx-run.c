/*
 * edge-nginx-run: how the nginx edge makes nginx take a file (the
 * rendering and parsing are edge-nginx.c). Writes the site's file
 * atomically, runs the configured `test` then `reload` argv (never a
 * shell, cwd = the config directory; nginx's own `-s reload` becomes the
 * SIGHUP it would send, ADR 0015 "Reload by signal"), waits for the new
 * workers, has the old ones stop accepting (Linux /proc), then asks nginx
 * for the probe location until it answers with the new file's serial.
 * When any step fails, the previous file is put back and nginx reloaded,
 * so it keeps serving what it served (docs/adr/0005).
 */
#include "bg.h"
#include "edge-int.h"
#include "edge-nginx-run.h"

#include <curl/curl.h>
#include <time.h>

#include "bg-log.h"
#include "bg-util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/syscall.h>
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

/* How often the switch looks again at nginx (a probe, a worker's title). */
#define EDGE_NGINX_POLL_MS 1
/* Without /proc: fresh connections in a row answered by the new file, and
 * the gap between them (enough for the master's QUIT to reach old workers). */
#define PROBE_IN_A_ROW 3
#define PROBE_GAP_MS 10

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

/* "socket:[INODE]" of every TCP socket listening on port at hex (listen_where), from
 * /proc/net/tcp{,6}: where the kernel has no socket diagnostics. */
static void listen_sockets_proc(unsigned port, const char *hex, struct bg_strv *out)
{
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

/*
 * The same, from the kernel's socket diagnostics (NETLINK_SOCK_DIAG): only
 * listening sockets are dumped, where /proc/net/tcp lists every socket of
 * the host, TIME_WAIT included (tens of thousands on a busy edge: 20 ms
 * to read). hex as listen_where; family AF_INET or AF_INET6. false: the
 * kernel would not answer (then /proc/net/tcp is read).
 */
static bool diag_listeners(int family, unsigned port, const char *hex, struct bg_strv *out)
{
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req = {
		.nlh = {.nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
		.r = {.sdiag_family = (uint8_t)family, .sdiag_protocol = IPPROTO_TCP,
		      .idiag_states = 1u << 10 /* TCP_LISTEN */},
	};
	bool done = false, ok = fd >= 0 && send(fd, &req, sizeof(req), 0) == (ssize_t)sizeof(req);
	long buf[8192 / sizeof(long)];
	while (ok && !done) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		ok = n > 0;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; ok && NLMSG_OK(h, (size_t)n);
				h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE) {
				done = true;
				break;
			}
			ok = h->nlmsg_type != NLMSG_ERROR;
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			char where[9];
			snprintf(where, sizeof(where), "%08X", (unsigned)m->id.idiag_src[0]);
			if (ok && ntohs(m->id.idiag_sport) == port && m->idiag_inode &&
					(!hex[0] || strcmp(where, hex) == 0)) {
				bg_strv_push_take(out, bg_xasprintf("socket:[%u]", m->idiag_inode));
			}
		}
	}
	if (fd >= 0) {
		close(fd);
	}
	return ok && done;
}

/* "socket:[INODE]" of every TCP socket listening where listen binds
 * (edge-nginx-run.h); from /proc/net/tcp{,6} only with from_proc. */
void edge__nginx_listen_sockets(const char *listen, bool from_proc, struct bg_strv *out)
{
	char hex[9];
	unsigned port = listen_where(listen, hex);
	if (!port) {
		return;
	}
	struct bg_strv diag;
	bg_strv_init(&diag);
	if (!from_proc && diag_listeners(AF_INET, port, hex, &diag) &&
			(hex[0] || diag_listeners(AF_INET6, port, hex, &diag))) {
		for (size_t i = 0; i < diag.n; i++) {
			bg_strv_push(out, diag.v[i]);
		}
		bg_strv_release(&diag);
		return;
	}
	bg_strv_release(&diag);
	listen_sockets_proc(port, hex, out);
}

/* Does /proc/PID say "nginx: worker process" (not "... is shutting down")? */
static bool accepting_title(const char *pid)
{
	/* One open and one read into the stack, no allocation: this runs for
	 * every process of the host before a reload, and every millisecond
	 * while old workers are waited for (system calls are not cheap in a VM). */
	static const char want[] = "nginx: worker process";
	char path[64], buf[sizeof(want) + 8];
	snprintf(path, sizeof(path), "/proc/%.20s/cmdline", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		return false;
	}
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	/* The title up to its terminating NUL (sizeof(want) counts it). */
	return n >= (ssize_t)sizeof(want) && memcmp(buf, want, sizeof(want)) == 0;
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
	edge__nginx_listen_sockets(listen, false, &socks);
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

/* A short pause between two looks at nginx (EINTR just ends it early). */
static void pause_ms(long ms)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
	nanosleep(&ts, NULL);
}

/*
 * Wait until none of `old` (workers that accepted before the reload) still
 * accepts. Until the master's QUIT reaches an old worker, old and new
 * workers share the listening socket: a probe answered by the new file
 * does not prove the next connection will be. A worker renames itself
 * "... is shutting down" and closes its listening sockets in the same
 * step, with no event handled in between, so the title is the moment it
 * stops accepting (it may run on for its requests in flight: waiting for
 * it to exit, e.g. with pidfd_open, would wait for those). /proc has no
 * notification for a title change: it is read every EDGE_NGINX_POLL_MS.
 * Bounded by deadline; past it the switch stands (the new file is served)
 * with a warning.
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
			pause_ms(EDGE_NGINX_POLL_MS);
		}
	}
}

static size_t probe_body(char *ptr, size_t size, size_t n, void *arg)
{
	struct bg_buf *b = arg;
	return bg_buf_add(b, ptr, size * n) == 0 ? size * n : 0;
}

/* The parent of PID (its nginx master), as a string in out; false if /proc cannot tell. */
static bool worker_master(const char *pid, char out[24])
{
	char path[64], *stat = NULL;
	long ppid = 0;
	snprintf(path, sizeof(path), "/proc/%.20s/stat", pid);
	/* "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses. */
	bool ok = bg_file_read(path, 4096, &stat, NULL) == 0 && strrchr(stat, ')') &&
			sscanf(strrchr(stat, ')') + 1, " %*c %ld", &ppid) == 1 && ppid > 1;
	free(stat);
	snprintf(out, 24, "%ld", ppid);
	return ok;
}

/* Does every PID of old still carry the accepting title? */
static bool all_accepting(const struct bg_strv *old)
{
	for (size_t i = 0; i < old->n; i++) {
		if (!accepting_title(old->v[i])) {
			return false;
		}
	}
	return true;
}

/*
 * Until as many new workers accept as old ones did: new ones are their
 * master's children that are not old and already carry the worker title
 * (/proc/PID/task/PID/children). nginx sets that title right after the
 * worker's init, which registers the listening sockets with its event
 * loop (ngx_worker_process_cycle), so a titled worker accepts. true then,
 * or once the master itself told an old worker to quit (a configuration
 * with fewer workers ends there, never later than nginx would); false at
 * until, or at once where /proc cannot tell.
 */
static bool wait_new_workers(const struct bg_strv *old, int64_t until)
{
	char master[24], path[96];
	if (!old->n || !worker_master(old->v[0], master)) {
		return false;
	}
	snprintf(path, sizeof(path), "/proc/%s/task/%s/children", master, master);
	for (;;) {
		char *kids = NULL, *save = NULL;
		size_t n = 0;
		if (bg_file_read(path, 1 << 16, &kids, NULL) != 0) {
			return false;
		}
		for (char *k = strtok_r(kids, " \n", &save); k; k = strtok_r(NULL, " \n", &save)) {
			n += !bg_strv_contains(old, k) && accepting_title(k);
		}
		free(kids);
		if (n >= old->n || !all_accepting(old)) {
			return true;
		}
		if (bg_mono_ms() >= until) {
			return false;
		}
		pause_ms(EDGE_NGINX_POLL_MS);
	}
}

/*
 * Tell the workers that accepted before the reload to shut down
 * gracefully once as many new workers accept (wait_new_workers). nginx's
 * master does this itself only 100 ms after starting the new workers
 * (ngx_msleep(100) in ngx_master_process_cycle, signals blocked). QUIT is
 * nginx's documented per-worker graceful shutdown: the worker stops
 * accepting at once and finishes its requests in flight, so nothing
 * fails. The master cannot respawn it: it reaps children only after that
 * sleep, once it has marked the old workers as exiting. A pidfd pins the
 * process while its title is checked, so a reused PID is never signalled;
 * without pidfds nothing is sent and the wait is nginx's own.
 */
static void quit_old_workers(const struct bg_strv *old)
{
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)
	for (size_t i = 0; i < old->n; i++) {
		int fd = (int)syscall(SYS_pidfd_open, (pid_t)atol(old->v[i]), 0);
		if (fd < 0) {
			continue;
		}
		if (accepting_title(old->v[i]) &&
				syscall(SYS_pidfd_send_signal, fd, SIGQUIT, NULL, 0) == 0) {
			bg_trace(EDGE, "nginx worker %s told to shut down gracefully", old->v[i]);
		}
		close(fd);
	}
#else
	(void)old;
#endif
}

/* One probe: asks nginx for the probe location on a fresh connection. */
struct probe {
	CURL *h;
	struct curl_slist *hdrs;
	char *url, *want, *last;
	struct bg_buf body;
	bool once; /* one answer is enough (a flag change: no old workers) */
};

/* Does nginx answer with the serial just installed? If not, p->last says what it said. */
static bool probe_once(struct probe *p)
{
	long status = 0;
	bg_buf_reset(&p->body);
	curl_easy_setopt(p->h, CURLOPT_URL, p->url);
	curl_easy_setopt(p->h, CURLOPT_HTTPHEADER, p->hdrs);
	curl_easy_setopt(p->h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(p->h, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(p->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->h, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(p->h, CURLOPT_WRITEFUNCTION, probe_body);
	curl_easy_setopt(p->h, CURLOPT_WRITEDATA, &p->body);
	CURLcode rc = curl_easy_perform(p->h);
	curl_easy_getinfo(p->h, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK && status == 200 && bg_str_has_prefix(p->body.data, p->want)) {
		return true;
	}
	free(p->last);
	p->last = rc != CURLE_OK ? bg_xstrdup(curl_easy_strerror(rc))
				 : bg_xasprintf("status %ld, '%.60s'", status, p->body.data);
	return false;
}

/*
 * Workers first: once the new workers accept, the old ones are told to
 * stop accepting; the listening socket is shared, so connections queue
 * for the new workers and none fails. Probing first waited for a probe to
 * win the accept race against the old worker (longest in the kernel's
 * wait queue, woken first) until nginx's own QUIT. Then a fresh
 * connection every EDGE_NGINX_POLL_MS until nginx answers with the new
 * serial: only new workers accept now, so every new connection gets that
 * file. No new workers (a refused file: the probe says so at the
 * deadline) or /proc cannot tell: probe, then workers. Without old
 * workers named (not Linux, fds we may not read), PROBE_IN_A_ROW answers
 * PROBE_GAP_MS apart stand in, only as good as the master's QUIT is quick.
 */
static int probe_wait(struct probe *p, const struct bg_strv *old_workers, int64_t deadline)
{
	int in_a_row = 0;
	if (old_workers->n && wait_new_workers(old_workers, deadline)) {
		quit_old_workers(old_workers);
		edge__nginx_wait_workers(old_workers, deadline);
	}
	for (;;) {
		if (probe_once(p)) {
			if (old_workers->n) {
				/* At once when the workers came first. */
				wait_new_workers(old_workers, deadline);
				quit_old_workers(old_workers);
				edge__nginx_wait_workers(old_workers, deadline);
				return 0;
			}
			if (p->once || ++in_a_row >= PROBE_IN_A_ROW) {
				return 0;
			}
			pause_ms(PROBE_GAP_MS);
			continue;
		}
		in_a_row = 0;
		if (bg_mono_ms() >= deadline) {
			return BG_EEDGE;
		}
		pause_ms(EDGE_NGINX_POLL_MS);
	}
}

/* Where content's probe location returns its serial; NULL: it has none. */
static const char *probe_serial(const char *content)
{
	const char *mark = strstr(content, "location = " EDGE_NGINX_PROBE_PATH " {");
	return mark ? strstr(mark, "return 200 \"") : NULL;
}

/* Will probe_serves ask nginx (not skip), so that a file the master refuses is seen? */
static bool probe_asks(const struct cfg *cfg, const char *site, const char *content)
{
	const struct cfg_site *cs = cfg_site_find(cfg, site);
	char *base = probe_base(cfg->g.nginx.listen ? cfg->g.nginx.listen : "80");
	bool yes = cfg->g.nginx.probe && probe_serial(content) && cs && cs->domains.n && base;
	free(base);
	return yes;
}

/*
 * Ask nginx for content's probe location until it answers the content's
 * serial (and, with colour, that colour: a file switched by flags answers
 * "SITE SERIAL $live"). 1: nothing to ask; BG_EEDGE with *last (a new
 * string) saying what nginx answered.
 */
static int probe_text(const struct cfg *cfg, const char *site, const char *content,
		const char *colour, const struct bg_strv *old_workers, bool once, char **last)
{
	const struct cfg_site *cs = cfg_site_find(cfg, site);
	const char *ret = probe_serial(content);
	char *base = probe_base(cfg->g.nginx.listen ? cfg->g.nginx.listen : "80");
	struct probe p = {.body = BG_BUF_INIT, .once = once};

	if (!ret || !cs || !cs->domains.n || !base) {
		/* Nothing to ask (unix socket listen, or no live server block). */
		bg_trace(EDGE, "nginx probe skipped for '%s'", site);
		free(base);
		return 1;
	}
	ret += strlen("return 200 \"");
	p.want = bg_xasprintf("%.*s%s", (int)strcspn(ret, "\\\"$"), ret, colour ? colour : "");
	p.url = bg_xasprintf("%s%s", base, EDGE_NGINX_PROBE_PATH);
	char *host = bg_xasprintf("Host: %s", cs->domains.v[0]);
	p.h = curl_easy_init();
	p.hdrs = curl_slist_append(NULL, host);
	int err = probe_wait(&p, old_workers, bg_mono_ms() + (int64_t)edge_confirm_timeout_ms);
	*last = err ? p.last : NULL;
	if (!err) {
		free(p.last);
	}
	curl_slist_free_all(p.hdrs);
	curl_easy_cleanup(p.h);
	bg_buf_release(&p.body);
	free(p.want);
	free(p.url);
	free(host);
	free(base);
	return err;
}

int edge__nginx_probe_colour(const struct cfg *cfg, const char *site, const char *content,
		const char *colour, char **last)
{
	struct bg_strv none;
	bg_strv_init(&none);
	int err = probe_text(cfg, site, content, colour, &none, true, last);
	return err == 1 ? 0 : err;
}

/*
 * Check that nginx serves the content just installed: a conf_dir nginx
 * does not include would never be served, and a master that refused the
 * new configuration keeps the old one. colour: see probe_text.
 */
static int probe_serves(const struct cfg *cfg, const char *site, const char *content,
		const char *colour, const struct bg_strv *old_workers, struct bg_diag *d)
{
	char *base = probe_base(cfg->g.nginx.listen ? cfg->g.nginx.listen : "80");
	struct probe p = {.body = BG_BUF_INIT};

	int err = probe_text(cfg, site, content, colour, old_workers, false, &p.last);
	if (err == 1) {
		err = 0;
	}
	if (err) {
		bg_diag_error(d, NULL, "nginx reloaded but does not serve the new file for '%s' "
				"within %" PRIu64 " ms at %s (last answer: %s): check that "
				"nginx includes %s and listens on '%s' (edge.nginx.probe: "
				"false if nginx cannot be reached from this host)", site,
				edge_confirm_timeout_ms, base, p.last ? p.last : "none",
				cfg->g.nginx.conf_dir,
				cfg->g.nginx.listen ? cfg->g.nginx.listen : "80");
	}
	free(p.last);
	free(base);
	return err;
}

/*
 * Is `reload` nginx's own signaller (`nginx ARGS -s reload`) on the very
 * configuration `test` checks (`nginx ARGS` plus -t and/or -q, the same
 * ARGS in the same order)? Then the reload is the test: `nginx -s reload`
 * parses every file the configuration includes, with the same parser and
 * the same module checks as `nginx -t` (ngx_init_cycle returns for the
 * signaller only after ngx_conf_parse and the core modules' init_conf),
 * and exits 1 with nginx's own message, before signalling anything, when
 * one is wrong. What only -t adds (creating the temp paths, opening the
 * log files, shared memory zones) the master checks on the reload itself,
 * keeping its old configuration when one fails; the probe then never sees
 * the new file and the install fails and restores, as after a failed
 * test. Anything else (systemctl, a wrapper script, -T, other ARGS) keeps
 * its separate test step.
 */
bool edge__nginx_reload_tests(const struct bg_strv *test, const struct bg_strv *reload)
{
	size_t n = reload->n, k = 0;
	const char *slash = n ? strrchr(reload->v[0], '/') : NULL;
	const char *prog = slash ? slash + 1 : n ? reload->v[0] : "";
	if (n < 3 || test->n < 2 || strcmp(reload->v[n - 2], "-s") != 0 ||
			strcmp(reload->v[n - 1], "reload") != 0 ||
			strcmp(prog, "nginx") != 0) {
		return false;
	}
	bool flag = false;
	for (size_t i = 0; i < test->n; i++) {
		if (strcmp(test->v[i], "-t") == 0 || strcmp(test->v[i], "-q") == 0) {
			flag |= strcmp(test->v[i], "-t") == 0;
			continue;
		}
		if (k >= n - 2 || strcmp(test->v[i], reload->v[k]) != 0) {
			return false;
		}
		k++;
	}
	return flag && k == n - 2;
}

/* ---- reloading by signal: what `nginx -s reload` does, minus one nginx start ---- */


/* Does /proc/PID's title say "nginx: master process"? */
static bool master_title(long pid)
{
	static const char want[] = "nginx: master process";
	char path[64], buf[sizeof(want) + 8];
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		return false;
	}
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	return n >= (ssize_t)sizeof(want) - 1 && memcmp(buf, want, sizeof(want) - 1) == 0;
}

/* The PID in the pid file `reload` would signal; 0: none, or not one number above 1. */
static long reload_pid(const struct cfg *cfg, const struct bg_strv *reload)
{
	char *file = edge__nginx_reload_pid_file(cfg->dir, reload), *text = NULL, *end = NULL;
	long pid = 0;
	if (file && bg_file_read(file, 64, &text, NULL) == 0) {
		pid = strtol(text, &end, 10);
		if (end == text || strspn(end, "\n") != strlen(end) || pid <= 1) {
			pid = 0;
		}
	}
	free(text);
	free(file);
	return pid;
}

/* The children of master pid that accept on listen (worker title, a listening
 * socket open), into out; false when there are none. */
static bool master_workers(long pid, const char *listen, struct bg_strv *out)
{
	struct bg_strv socks;
	char path[96], *kids = NULL, *save = NULL;
	bg_strv_init(&socks);
	edge__nginx_listen_sockets(listen, false, &socks);
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", pid, pid);
	if (socks.n && bg_file_read(path, 1 << 16, &kids, NULL) == 0) {
		for (char *k = strtok_r(kids, " \n", &save); k; k = strtok_r(NULL, " \n", &save)) {
			if (accepting_title(k) && holds_socket(k, &socks)) {
				bg_strv_push(out, k);
			}
		}
	}
	free(kids);
	bg_strv_release(&socks);
	return out->n > 0;
}

/* Who accepts now, so the probe can wait for them to stop: the children of
 * the pid file's master where the reload may go by signal (a few /proc
 * entries, not every process of the host), else or when none accepts
 * there (a stale pid file) the whole of /proc. */
static void list_old_workers(const struct cfg *cfg, struct bg_strv *out)
{
	const char *listen = cfg->g.nginx.listen ? cfg->g.nginx.listen : "80";
	long pid = edge__nginx_reload_tests(&cfg->g.nginx.test, &cfg->g.nginx.reload)
			   ? reload_pid(cfg, &cfg->g.nginx.reload) : 0;
	bg_strv_release(out);
	bg_strv_init(out);
	if (!pid || !master_workers(pid, listen, out)) {
		bg_strv_release(out);
		bg_strv_init(out);
		edge__nginx_accepting_workers(listen, out);
	}
}

/* Is a signal the master has not taken yet (SIGHUP of an earlier reload) pending? */
static bool master_hup_pending(long pid)
{
	char path[64], *st = NULL;
	bool pending = false;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if (bg_file_read(path, 1 << 14, &st, NULL) != 0) {
		return false;
	}
	const char *keys[] = {"\nShdPnd:", "\nSigPnd:"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(keys); i++) {
		const char *at = strstr(st, keys[i]);
		pending |= at && (strtoull(at + strlen(keys[i]), NULL, 16) & (1ull << (SIGHUP - 1)));
	}
	free(st);
	return pending;
}

/* Does every child of the master that accepts appear in old, with no reload pending? */
static bool master_settled(long pid, const struct bg_strv *old)
{
	char path[96], *kids = NULL, *save = NULL;
	bool settled = true;
	snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", pid, pid);
	if (bg_file_read(path, 1 << 16, &kids, NULL) != 0) {
		return true; /* cannot tell: as before */
	}
	for (char *k = strtok_r(kids, " \n", &save); k && settled; k = strtok_r(NULL, " \n", &save)) {
		settled = bg_strv_contains(old, k) || !accepting_title(k);
	}
	free(kids);
	return settled && !master_hup_pending(pid);
}

/* Before the signal: an earlier reload under way (SIGHUP not yet taken, or
 * workers started after old was listed) would leave workers that are
 * neither old nor new, serving the previous file after the switch returns.
 * Until the master is settled (1 ms polls, at most 1 s), old is listed again. */
static void master_settle(const struct cfg *cfg, long pid, struct bg_strv *old)
{
	int64_t until = bg_mono_ms() + 1000;
	while (!master_settled(pid, old) && bg_mono_ms() < until) {
		pause_ms(EDGE_NGINX_POLL_MS);
		list_old_workers(cfg, old);
	}
}

/*
 * SIGHUP to the master named by reload's pid file, as `nginx -s reload`
 * does after its parse (ngx_signal_process), which is left out: the master
 * parses again and keeps its old configuration when it is wrong, which the
 * probe sees (nginx_take then runs the test for nginx's words). Only when
 * the pid file (no link, regular) names the parent of the workers on the
 * listen address (old), titled "nginx: master process", pinned by a pidfd
 * from the checks to the signal; else false and the argv runs. ADR 0015 "Reload by signal".
 */
static bool reload_by_signal(const struct cfg *cfg, const struct bg_strv *reload,
		struct bg_strv *old)
{
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_send_signal)
	char master[24];
	bool sent = false;
	long pid = old->n ? reload_pid(cfg, reload) : 0;
	if (pid && worker_master(old->v[0], master) && atol(master) == pid) {
		int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
		if (fd >= 0) {
			master_settle(cfg, pid, old);
		}
		/* Pinned: the title and the worker's parent are checked again. */
		if (fd >= 0 && old->n && master_title(pid) && worker_master(old->v[0], master) &&
				atol(master) == pid &&
				syscall(SYS_pidfd_send_signal, fd, SIGHUP, NULL, 0) == 0) {
			bg_trace(EDGE, "nginx master %ld (its pid file's) told to reload", pid);
			sent = true;
		}
		if (fd >= 0) {
			close(fd);
		}
	}
	return sent;
#else
	(void)cfg, (void)reload, (void)old;
	return false;
#endif
}

/*
 * Test (unless the reload tests, above: one nginx start fewer on the
 * switch's path), reload, probe. false (d says why) when nginx did not
 * take the file. The skipped test runs after a failed probe, for nginx's
 * own words on why the master kept its old configuration.
 */
static bool nginx_take(const struct cfg *cfg, const char *site, const char *content,
		const char *colour, struct bg_strv *old_workers, struct bg_diag *d)
{
	const struct bg_strv *test = &cfg->g.nginx.test, *reload = &cfg->g.nginx.reload;
	bool probe = cfg->g.nginx.probe;
	bool skip_test = probe && edge__nginx_reload_tests(test, reload);

	if (test->n && !skip_test && !run_step(cfg, "test", test, d)) {
		return false;
	}
	if (skip_test) {
		bg_trace(EDGE, "nginx test skipped: the reload parses the same configuration");
	}
	/* The signal only where the reload would have been the test too, and
	 * the probe will see a file the master refused. */
	if (!(skip_test && probe_asks(cfg, site, content) &&
			    reload_by_signal(cfg, reload, old_workers)) &&
			!run_step(cfg, "reload", reload, d)) {
		return false;
	}
	if (probe && probe_serves(cfg, site, content, colour, old_workers, d) != 0) {
		if (skip_test) {
			run_step(cfg, "test", test, d);
		}
		return false;
	}
	return true;
}

/* Reload after the previous file was put back, and wait until nginx serves
 * it (`nginx -s reload` returns before the master acts: a next install would
 * meet this reload's workers). prev NULL: no file to wait for. */
static void restore_reload(const struct cfg *cfg, const char *site, const char *path,
		const char *prev, struct bg_diag *d)
{
	struct bg_strv before;
	bg_strv_init(&before);
	if (prev && cfg->g.nginx.probe) {
		edge__nginx_accepting_workers(cfg->g.nginx.listen ? cfg->g.nginx.listen : "80",
				&before);
	}
	if (!run_step(cfg, "reload (after restoring the previous file)", &cfg->g.nginx.reload,
			d)) {
		bg_log(BG_LOG_WARN, "nginx reload after restoring '%s' failed", path);
	} else if (prev && cfg->g.nginx.probe) {
		/* Its own diagnostics: the install's failure is already said. */
		struct bg_diag quiet;
		bg_diag_init(&quiet);
		if (probe_serves(cfg, site, prev, NULL, &before, &quiet) != 0) {
			bg_log(BG_LOG_WARN, "nginx does not serve the restored '%s' yet", path);
		}
		bg_diag_release(&quiet);
	}
	bg_strv_release(&before);
}

int edge__nginx_install(const struct cfg *cfg, const char *site, const char *content,
		size_t len, struct bg_diag *d)
{
	return edge__nginx_install_colour(cfg, site, content, len, NULL, NULL, d);
}

/* Is PID still an nginx worker, accepting or shutting down? A zombie (its
 * cmdline is empty) or a PID reused by another program is gone. */
static bool worker_alive(const char *pid)
{
	static const char want[] = "nginx: worker process"; /* either title's start */
	char path[64], buf[sizeof(want)];
	snprintf(path, sizeof(path), "/proc/%.20s/cmdline", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		return false;
	}
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n == (ssize_t)sizeof(want) - 1 && memcmp(buf, want, sizeof(want) - 1) == 0;
}

/* A pidfd pinning worker pid while it is still one; -1 when it is gone,
 * -2 when this kernel has no pidfds (before Linux 5.3). */
static int worker_pidfd(const char *pid)
{
#if defined(SYS_pidfd_open)
	int fd = (int)syscall(SYS_pidfd_open, (pid_t)atol(pid), 0);
	if (fd < 0) {
		return errno == ESRCH ? -1 : -2;
	}
	if (!worker_alive(pid)) { /* pinned after it went: another process */
		close(fd);
		return -1;
	}
	return fd;
#else
	(void)pid;
	return -2;
#endif
}

/* The kernel says when a pidfd's process exits (POLLIN): /proc is polled
 * only where there are no pidfds. */
void edge__nginx_wait_exit(const struct bg_strv *old, uint64_t timeout_ms)
{
	int64_t deadline = bg_mono_ms() + (int64_t)timeout_ms;
	struct pollfd *p = bg_xcalloc(old->n ? old->n : 1, sizeof(*p));
	size_t left = 0;
	for (size_t i = 0; i < old->n; i++) {
		p[i].fd = worker_pidfd(old->v[i]);
		p[i].events = POLLIN;
		while (p[i].fd == -2 && worker_alive(old->v[i]) && bg_mono_ms() < deadline) {
			pause_ms(EDGE_NGINX_POLL_MS);
		}
		left += p[i].fd >= 0 || (p[i].fd == -2 && worker_alive(old->v[i]));
		p[i].fd = p[i].fd < 0 ? -1 : p[i].fd; /* poll skips negative fds */
	}
	for (int64_t now = bg_mono_ms(); left && now < deadline; now = bg_mono_ms()) {
		if (poll(p, old->n, (int)(deadline - now)) <= 0) {
			continue; /* EINTR, or the deadline */
		}
		for (size_t i = 0; i < old->n; i++) {
			if (p[i].fd >= 0 && p[i].revents) {
				close(p[i].fd);
				p[i].fd = -1;
				left--;
			}
		}
	}
	if (left) {
		bg_log(BG_LOG_WARN, "%zu nginx worker(s) of the previous file still running "
				"after %" PRIu64 " ms: the flag changes now", left, timeout_ms);
	}
	for (size_t i = 0; i < old->n; i++) {
		if (p[i].fd >= 0) {
			close(p[i].fd);
		}
	}
	free(p);
}

int edge__nginx_install_colour(const struct cfg *cfg, const char *site, const char *content,
		size_t len, const char *colour, struct bg_strv *old, struct bg_diag *d)
{
	char *path = NULL, *prev = NULL;
	size_t prev_len = 0;
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
	/* The preview's password file first: the new file may name it. One
	 * the new file no longer names goes once nginx has stopped using it. */
	const struct cfg_site *cs = cfg_site_find(cfg, site);
	if (cs && cs->preview_auth.user && (err = edge__auth_sync(cfg, cs, d)) != 0) {
		goto out;
	}
	/* The temporary file is `.bluegreen-SITE.conf.RANDOM.tmp` in conf_dir:
	 * it never matches `*.conf`, so an unrelated reload cannot load it. */
	err = bg_file_write_atomic_why(path, NULL, content, len, edge__file_mode(content, len),
			&why);
	if (err) {
		bg_diag_error(d, NULL, "cannot write '%s': %s", path, why);
		goto out;
	}
	if (cfg->g.nginx.probe) {
		list_old_workers(cfg, &old_workers);
	}
	if (!nginx_take(cfg, site, content, colour, &old_workers, d)) {
		why = NULL;
		int rerr = had_prev ? bg_file_write_atomic_why(path, NULL, prev, prev_len,
						      edge__file_mode(prev, prev_len), &why)
				    : (unlink(path) < 0 ? BG_ERRNO(errno) : 0);
		if (rerr) {
			bg_diag_error(d, NULL, "cannot restore '%s': %s", path,
					why ? why : bg_strerror(rerr));
		} else {
			restore_reload(cfg, site, path, had_prev ? prev : NULL, d);
		}
		bg_log(BG_LOG_WARN, "nginx refused '%s'; %s", path,
				had_prev ? "previous file restored" : "new file removed");
		err = BG_EEDGE;
		goto out;
	}
	err = edge__read_back(path, content, len, d);
	if (err) {
		goto out;
	}
	if (cs && !cs->preview_auth.user) {
		err = edge__auth_remove(cfg, site, d);
	}
	bg_trace(EDGE, "installed '%s' (%zu bytes)", path, len);
	for (size_t i = 0; old && i < old_workers.n; i++) {
		bg_strv_push(old, old_workers.v[i]);
	}
out:
	bg_strv_release(&old_workers);
	free(prev);
	free(path);
	return err;
}
