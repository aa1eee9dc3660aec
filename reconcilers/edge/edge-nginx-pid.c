/*
 * edge-nginx-pid: which pid file `nginx [-p P] [-c C] [-e E] -s reload`
 * would read, so that edge-nginx-run.c can send the master the SIGHUP that
 * command would, without starting an nginx (ADR 0015, "The nginx reload by
 * signal"). Moved out of edge-nginx-run.c to keep that file in bounds.
 */
#include "bg.h"
#include "edge-int.h"
#include "edge-nginx-run.h"

#include "bg-util.h"

/* The main context's `pid` value in an nginx configuration text (NULL: none,
 * or with escapes or a variable). Only statements at brace depth 0 count:
 * `pid` is main-only, and a second one (an include) is nginx's "duplicate"
 * error, which the probe then reports like any refused reload. */
static char *conf_main_pid(const char *s)
{
	int depth = 0;
	bool start = true;
	while (*s) {
		size_t n;
		if (*s == '#') {
			s += strcspn(s, "\n");
		} else if (strchr(" \t\r\n", *s)) {
			s++;
		} else if (*s == '{' || *s == '}' || *s == ';') {
			depth += *s == '{' ? 1 : *s == '}' ? -1 : 0;
			start = true;
			s++;
		} else if (*s == '"' || *s == '\'') {
			const char *end = strchr(s + 1, *s);
			if (!end) {
				return NULL;
			}
			s = end + 1;
			start = false;
		} else {
			n = strcspn(s, " \t\r\n;{}#\"'");
			if (depth == 0 && start && n == 3 && strncmp(s, "pid", 3) == 0) {
				s += 3 + strspn(s + 3, " \t\r\n");
				char q = *s == '"' || *s == '\'' ? *s : 0;
				s += q != 0;
				n = q ? strcspn(s, q == '"' ? "\"" : "'") : strcspn(s, " \t\r\n;{}#");
				if (!n || memchr(s, '$', n) || memchr(s, '\\', n)) {
					return NULL;
				}
				return bg_xstrndup(s, n);
			}
			s += n;
			start = false;
		}
	}
	return NULL;
}

/* path as nginx resolves a relative one against base ("" or NULL: cannot). */
static char *nginx_full(const char *base, const char *path)
{
	if (path[0] == '/') {
		return bg_xstrdup(path);
	}
	if (!base || !base[0]) {
		return NULL;
	}
	size_t n = strlen(base);
	return bg_xasprintf("%s%s%s", base, base[n - 1] == '/' ? "" : "/", path);
}

/*
 * edge-nginx-run.h. The pid file `reload` (nginx's own `nginx ARGS -s
 * reload`, ARGS only -p, -c and -e pairs) would signal: the main configuration's `pid`,
 * relative to the prefix. cwd is the config directory (run_step's).
 * NULL where this cannot be known without nginx itself (-g, which may set
 * it; no `pid` directive: nginx's compiled-in default).
 */
char *edge__nginx_reload_pid_file(const char *cwd, const struct bg_strv *reload)
{
	const char *prefix = NULL, *conf = NULL;
	size_t n = reload->n;
	for (size_t i = 1; i + 2 < n; i += 2) {
		const char *o = reload->v[i];
		if (strcmp(o, "-p") && strcmp(o, "-c") && strcmp(o, "-e")) {
			return NULL;
		}
		prefix = strcmp(o, "-p") == 0 ? reload->v[i + 1] : prefix;
		conf = strcmp(o, "-c") == 0 ? reload->v[i + 1] : conf;
	}
	if (n % 2 == 0) {
		return NULL; /* an option without its value */
	}
	char *pfx = prefix ? nginx_full(cwd, prefix) : NULL;
	/* Without -c: Debian's compiled-in configuration path. */
	char *main_conf = nginx_full(pfx, conf ? conf : "/etc/nginx/nginx.conf");
	char *text = NULL, *pid = NULL, *file = NULL;
	if (main_conf && bg_file_read(main_conf, 1 << 20, &text, NULL) == 0 &&
			(pid = conf_main_pid(text)) != NULL) {
		file = nginx_full(pfx, pid);
	}
	free(pid);
	free(text);
	free(main_conf);
	free(pfx);
	return file;
}
