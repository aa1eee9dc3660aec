/*
 * cfg-schema: the one table of every configuration key (its type, default,
 * limits and doc line) and the walkers that use it. validate reports, for
 * one file's tree, everything the JSON Schemas in schema/ reject, with the
 * same verdict (test/unit/t-cfg.c checks both on a corpus), plus the few
 * single-file rules a schema cannot say. bind fills the typed structs of
 * cfg.h from a merged tree without reporting (validation already did):
 * a missing or invalid value becomes the default, so a partial load still
 * yields something usable. explain prints each leaf with its origin.
 * Because all three walk the same table, a key cannot be checked but not
 * bound, or bound but not explained.
 */
#include "bg.h"
#include "bg-util.h"
#include "cfg-int.h"

#include <ctype.h>
#include <limits.h>

enum ktype {
	K_MAP,      /* nested keys, bound into the same struct */
	K_STR,      /* char *, checked by key->check */
	K_PATH,     /* char *, made absolute against the config dir; bool at off2 (when
	             * not 0): whether it was written relative */
	K_INT,      /* unsigned, min..max */
	K_BOOL,     /* bool */
	K_DURATION, /* uint64_t milliseconds */
	K_ENUM,     /* int: index in key->defs + key->min; or char * (F_ENUM_STR) */
	K_STRLIST,  /* struct bg_strv of checked strings, no repeats */
	K_ARGV,     /* struct bg_strv: a program and its arguments */
	K_MODULES,  /* struct bg_strv: effective modules ("-x" removes) */
	K_ENV,      /* struct cfg_env */
	K_MOUNTS,   /* struct cfg_mount * at off, size_t count at off2 */
	K_SERVICES, /* struct cfg_service * at off, size_t count at off2 */
	K_DEFAULTS, /* site_defaults: site keys, merged under each site by cfg.c */
	K_LISTEN,   /* char *: a port (integer) or host:port */
};

enum kflags {
	F_REQUIRED = 1 << 0,    /* must be in the file itself */
	F_GLOBAL_ONLY = 1 << 1, /* global.conf only, not in a profile */
	F_NO_DEFAULTS = 1 << 2, /* a site's identity: not under site_defaults */
	F_POSITIVE = 1 << 3,    /* durations: more than zero */
	F_NONEMPTY = 1 << 4,    /* lists: at least one item */
	F_NOECHO = 1 << 5,      /* never quote the value in a message */
	F_ENUM_STR = 1 << 6,    /* K_ENUM stored as a string */
};

struct key {
	const char *name;
	enum ktype type;
	unsigned flags;
	size_t off, off2;
	const struct key *sub;     /* K_MAP, K_SERVICES */
	const char *def;           /* default, as text (NULL: none) */
	const char *const *defs;   /* list default or enum choices, NULL-terminated */
	long long min, max;        /* K_INT */
	bool (*check)(const char *s); /* K_STR, K_STRLIST items */
	const char *expect;        /* "a host name such as ..." */
	const char *doc;
};

/* ---- value checks (the same languages as the patterns in schema/) ---- */

static bool in_range(char c, const char *set)
{
	return c && strchr(set, c) != NULL;
}

#define LOWER_DIGIT "abcdefghijklmnopqrstuvwxyz0123456789"
#define ALNUM LOWER_DIGIT "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

/* first char from `first`, then up to max-1 from `rest` */
static bool word_valid(const char *s, const char *first, const char *rest, size_t max)
{
	if (!in_range(*s, first)) {
		return false;
	}
	size_t n = 1 + strspn(s + 1, rest);
	return s[n] == '\0' && n <= max;
}

bool cfg_name_valid(const char *name)
{
	return name && word_valid(name, LOWER_DIGIT, LOWER_DIGIT "-", 40);
}

static bool service_name_valid(const char *s)
{
	return cfg_name_valid(s) && !bg_str_has_prefix(s, "blue") &&
			!bg_str_has_prefix(s, "green");
}

static bool volume_name_valid(const char *s)
{
	return word_valid(s, LOWER_DIGIT, LOWER_DIGIT "_.-", 40);
}

bool cfg__env_key_valid(const char *s)
{
	return word_valid(s, ALNUM "_", ALNUM "_.-", SIZE_MAX) && !isdigit((unsigned char)*s);
}

bool cfg__hostname_valid(const char *s)
{
	size_t total = strlen(s);
	if (total == 0 || total > 253) {
		return false;
	}
	for (;;) {
		size_t n = strspn(s, LOWER_DIGIT "-");
		if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-') {
			return false;
		}
		if (s[n] == '\0') {
			return true;
		}
		if (s[n] != '.') {
			return false;
		}
		s += n + 1;
	}
}

static bool image_path_valid(const char *p, size_t len)
{
	/* component ("/" component)*, component = [a-z0-9]+ (sep [a-z0-9]+)* */
	size_t i = 0;
	for (;;) {
		size_t run = 0;
		while (i < len && in_range(p[i], LOWER_DIGIT)) {
			i++;
			run++;
		}
		if (!run) {
			return false;
		}
		if (i == len) {
			return true;
		}
		if (p[i] == '/') {
			i++;
			continue;
		}
		/* separator: ".", "_", "__" or "-"+ */
		if (p[i] == '.') {
			i++;
		} else if (p[i] == '_') {
			i += (i + 1 < len && p[i + 1] == '_') ? 2 : 1;
		} else if (p[i] == '-') {
			while (i < len && p[i] == '-') {
				i++;
			}
		} else {
			return false;
		}
	}
}

/* name[:tag][@sha256:hex], where name has no registry part */
static bool image_rest_valid(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len);
	if (at) {
		const char *dg = at + 1;
		size_t dl = len - (size_t)(dg - s);
		if (dl != 7 + 64 || memcmp(dg, "sha256:", 7) != 0) {
			return false;
		}
		for (size_t i = 7; i < dl; i++) {
			if (!in_range(dg[i], "0123456789abcdef")) {
				return false;
			}
		}
		len = (size_t)(at - s);
	}
	const char *colon = memchr(s, ':', len);
	if (colon) {
		const char *tag = colon + 1;
		size_t tl = len - (size_t)(tag - s);
		if (tl < 1 || tl > 128 || !in_range(tag[0], ALNUM "_")) {
			return false;
		}
		for (size_t i = 1; i < tl; i++) {
			if (!in_range(tag[i], ALNUM "_.-")) {
				return false;
			}
		}
		len = (size_t)(colon - s);
	}
	return image_path_valid(s, len);
}

static bool image_valid(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 512) {
		return false;
	}
	if (image_rest_valid(s, len)) {
		return true;
	}
	/* With a registry: host[:port]/rest */
	const char *slash = strchr(s, '/');
	if (!slash) {
		return false;
	}
	size_t hl = (size_t)(slash - s);
	size_t name = strspn(s, ALNUM ".-");
	if (name == 0) {
		return false;
	}
	if (name < hl) {
		if (s[name] != ':') {
			return false;
		}
		size_t port = strspn(s + name + 1, "0123456789");
		if (port == 0 || name + 1 + port != hl) {
			return false;
		}
	} else if (name != hl) {
		return false;
	}
	return image_rest_valid(slash + 1, len - hl - 1);
}

static bool printable_ascii(const char *s)
{
	for (; *s; s++) {
		if (*s < '!' || *s > '~') {
			return false;
		}
	}
	return true;
}

static bool mount_target_valid(const char *s)
{
	return s[0] == '/' && s[1] && !strpbrk(s, ":,");
}

static bool url_path_valid(const char *s)
{
	return s[0] == '/' && printable_ascii(s);
}

static bool abs_path_valid(const char *s)
{
	return s[0] == '/';
}

static bool nonempty(const char *s)
{
	return s[0] != '\0';
}

static bool glob_valid(const char *s)
{
	return s[0] && printable_ascii(s);
}

static bool network_valid(const char *s)
{
	return word_valid(s, ALNUM, ALNUM "_.-", 128);
}

static bool ident_valid(const char *s)
{
	return word_valid(s, ALNUM, ALNUM "_.-", 64);
}

/* 1..65535 written without leading zeros */
static bool port_text_valid(const char *s, size_t len)
{
	if (len == 0 || len > 5 || s[0] == '0') {
		return false;
	}
	unsigned v = 0;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i])) {
			return false;
		}
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v <= 65535;
}

static bool api_url_valid(const char *s)
{
	const char *p;
	if (bg_str_has_prefix(s, "http://")) {
		p = s + 7;
	} else if (bg_str_has_prefix(s, "https://")) {
		p = s + 8;
	} else {
		return false;
	}
	size_t host = strspn(p, ALNUM ".-");
	if (!host) {
		return false;
	}
	p += host;
	if (*p == ':') {
		size_t port = strspn(p + 1, "0123456789");
		if (port < 1 || port > 5) {
			return false;
		}
		p += 1 + port;
	}
	return *p == '\0' || (*p == '/' && printable_ascii(p));
}

/* "LO-HI", two ports, LO <= HI. */
static bool port_range_valid(const char *s)
{
	const char *dash = strchr(s, '-');
	if (!dash || !port_text_valid(s, (size_t)(dash - s)) ||
			!port_text_valid(dash + 1, strlen(dash + 1))) {
		return false;
	}
	return strtoul(s, NULL, 10) <= strtoul(dash + 1, NULL, 10);
}

static bool listen_text_valid(const char *s)
{
	const char *colon = strrchr(s, ':');
	if (!colon) {
		return port_text_valid(s, strlen(s));
	}
	size_t hl = (size_t)(colon - s);
	if (!port_text_valid(colon + 1, strlen(colon + 1)) || hl == 0) {
		return false;
	}
	if (s[0] == '[') {
		/* [v6]:port */
		if (hl < 3 || s[hl - 1] != ']') {
			return false;
		}
		size_t n = strspn(s + 1, "0123456789abcdefABCDEF:");
		return n == hl - 2;
	}
	return strspn(s, ALNUM ".-") == hl;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++) {
		n += ((unsigned char)*s & 0xc0) != 0x80;
	}
	return n;
}

static bool confirm_valid(const char *s)
{
	size_t n = utf8_chars(s);
	return n >= 1 && n <= 200;
}

static bool known_module_entry(const char *s)
{
	return cfg_module_known(s[0] == '-' ? s + 1 : s);
}

/* ---- the tables ---- */

static const char *const modes[] = {"production", "staging", "development", NULL};
static const char *const edge_kinds[] = {"traefik", "nginx", NULL};
static const char *const promotes[] = {"manual", "auto", NULL};
static const char *const signals[] = {"SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP",
		"SIGUSR1", "SIGUSR2", "SIGWINCH", NULL};
static const char *const def_entrypoints[] = {"websecure", NULL};
static const char *const def_reload[] = {"nginx", "-s", "reload", NULL};
static const char *const def_test[] = {"nginx", "-t", NULL};
static const char *const upstreams[] = {"ports", "addresses", NULL};
/*
 * Env keys whose values are secret by default (docs/config.md, "Secrets"),
 * as shell globs (fnmatch, case-insensitive). PASS, PW and AUTH are
 * matched as words between '_' (DB_PASS, DB_PASS2, PASS_FILE, SMTP_PW,
 * BASIC_AUTH, AUTH_SALT), not as substrings, so PASSPORT_COUNTRY or
 * POWER_LEVEL stay visible; "AUTH[!O]" keeps AUTHOR_NAME and GIT_AUTHOR_EMAIL
 * visible while AUTH_TOKEN, AUTHPASS or REDIS_AUTHKEY are hidden. PWD,
 * PRIVATE, SALT, DSN, PASSPHRASE and PGPASS are rare enough inside other
 * words to match anywhere. Hiding too much only hides a value from plans
 * and history; hiding too little leaks it.
 */
static const char *const def_redact[] = {"*SECRET*", "*PASSWORD*", "*PASSWD*",
		"*PASSPHRASE*", "*PGPASS*", "*TOKEN*", "*KEY*", "*CREDENTIAL*", "PASS", "PASS_*",
		"PASS[0-9]*", "*_PASS", "*_PASS_*", "*_PASS[0-9]*", "*PWD*", "PW", "PW_*", "*_PW",
		"*_PW_*", "*_PW[0-9]*", "AUTH", "AUTH[!O]*", "*_AUTH", "*_AUTH[!O]*",
		"*AUTHORIZATION*", "*AUTHPASS*", "*PRIVATE*", "*SALT*", "*DSN*", NULL};
static const char *const def_empty[] = {NULL};

#define HOSTNAME_EXPECT "a lowercase host name such as shop.example.com (no wildcards)"
#define IMAGE_EXPECT "a docker image reference such as registry.example.com/shop:1.4.2"
#define NAME_EXPECT "a name of lowercase letters, digits and '-', starting with a " \
	"letter or digit, at most 40 characters"

#define G(field) offsetof(struct cfg_global, field)
#define S(field) offsetof(struct cfg_site, field)
#define V(field) offsetof(struct cfg_service, field)

static const struct key docker_keys[] = {
	{.name = "socket", .type = K_STR, .off = G(docker_socket),
		.def = "/var/run/docker.sock", .check = abs_path_valid,
		.expect = "an absolute path such as /var/run/docker.sock",
		.doc = "Docker Engine API socket"},
	{0},
};

static const struct key traefik_keys[] = {
	{.name = "dynamic_dir", .type = K_PATH, .off = G(traefik.dynamic_dir),
		.off2 = G(traefik.dynamic_dir_rel),
		.doc = "Traefik file-provider directory (watch: true); required with edge.kind traefik"},
	{.name = "staging_dir", .type = K_PATH, .off = G(traefik.staging_dir),
		.off2 = G(traefik.staging_dir_rel),
		.doc = "where edge files are prepared; same filesystem, not watched; "
			"default <dynamic_dir>.staging"},
	{.name = "entrypoints", .type = K_STRLIST, .flags = F_NONEMPTY,
		.off = G(traefik.entrypoints), .defs = def_entrypoints, .check = ident_valid,
		.expect = "an entrypoint name such as websecure",
		.doc = "Traefik entrypoints the live and preview routers listen on"},
	{.name = "certresolver", .type = K_STR, .off = G(traefik.certresolver),
		.check = ident_valid, .expect = "a certificate resolver name such as letsencrypt",
		.doc = "certificate resolver for automatic HTTPS; unset: no TLS section"},
	{.name = "api", .type = K_STR, .off = G(traefik.api), .check = api_url_valid,
		.expect = "an http(s) URL such as http://127.0.0.1:8080",
		.doc = "Traefik API base URL, used to confirm that a switch was taken"},
	{0},
};

static const struct key nginx_keys[] = {
	{.name = "conf_dir", .type = K_PATH, .off = G(nginx.conf_dir),
		.off2 = G(nginx.conf_dir_rel),
		.doc = "directory nginx includes; required with edge.kind nginx"},
	{.name = "reload", .type = K_ARGV, .flags = F_NONEMPTY, .off = G(nginx.reload),
		.defs = def_reload, .expect = "[nginx, -s, reload]",
		.doc = "argv run to make nginx load new files (never a shell string)"},
	{.name = "test", .type = K_ARGV, .off = G(nginx.test), .defs = def_test,
		.expect = "[nginx, -t]",
		.doc = "argv run before reload to check the files; [] disables"},
	{.name = "listen", .type = K_LISTEN, .off = G(nginx.listen), .def = "80",
		.expect = "a port or host:port such as 80 or 127.0.0.1:8080",
		.doc = "value of the listen directive of the generated server blocks"},
	{.name = "probe", .type = K_BOOL, .off = G(nginx.probe), .def = "true",
		.doc = "after a reload, ask nginx (from this host, at the listen address) "
		       "until it serves the new file; false when nginx is not reachable here"},
	{.name = "upstream", .type = K_ENUM, .off = G(nginx.upstream), .defs = upstreams,
		.def = "ports",
		.doc = "how nginx reaches colours: ports (each publishes its port on 127.0.0.1, "
		       "stable across restarts) or addresses (their address on the edge network, "
		       "for an nginx running in Docker on that network)"},
	{.name = "ports", .type = K_STR, .off = G(nginx.ports), .def = "20000-29999",
		.check = port_range_valid, .expect = "a range of ports such as 20000-29999",
		.doc = "host ports bluegreen publishes colours on (upstream: ports), on 127.0.0.1"},
	{0},
};

static const struct key edge_keys[] = {
	{.name = "kind", .type = K_ENUM, .off = G(edge_kind), .defs = edge_kinds,
		.def = "traefik", .doc = "the edge proxy: traefik or nginx"},
	{.name = "network", .type = K_STR, .off = G(edge_network), .def = "bluegreen-edge",
		.check = network_valid, .expect = "a docker network name such as bluegreen-edge",
		.doc = "docker network the edge reaches containers on"},
	{.name = "traefik", .type = K_MAP, .sub = traefik_keys, .doc = "Traefik settings"},
	{.name = "nginx", .type = K_MAP, .sub = nginx_keys, .doc = "nginx settings"},
	{0},
};

static const struct key health_keys[] = {
	{.name = "path", .type = K_STR, .off = S(health.path), .def = "/",
		.check = url_path_valid, .expect = "a URL path starting with '/' such as /healthz",
		.doc = "HTTP path probed on each container"},
	{.name = "status", .type = K_INT, .off = S(health.status), .def = "200",
		.min = 100, .max = 599, .doc = "expected HTTP status"},
	{.name = "interval", .type = K_DURATION, .flags = F_POSITIVE,
		.off = S(health.interval_ms), .def = "1s", .doc = "time between probes"},
	{.name = "timeout", .type = K_DURATION, .flags = F_POSITIVE,
		.off = S(health.timeout_ms), .def = "2s", .doc = "time limit of one probe"},
	{.name = "retries", .type = K_INT, .off = S(health.retries), .def = "30",
		.min = 1, .max = UINT32_MAX, .doc = "probes before the candidate is declared unhealthy"},
	{0},
};

static const struct key strategy_keys[] = {
	{.name = "promote", .type = K_ENUM, .off = S(promote), .defs = promotes,
		.def = "manual",
		.doc = "manual: a separate plan switches; auto: the apply switches once healthy"},
	{.name = "keep_previous", .type = K_BOOL, .off = S(keep_previous), .def = "true",
		.doc = "keep the previous colour running for instant rollback"},
	{.name = "drain", .type = K_DURATION, .off = S(drain_ms), .def = "5s",
		.doc = "wait after a switch before stopping the old colour"},
	{0},
};

static const struct key service_keys[] = {
	{.name = "image", .type = K_STR, .flags = F_REQUIRED, .off = V(image),
		.check = image_valid, .expect = IMAGE_EXPECT, .doc = "docker image of the service"},
	{.name = "command", .type = K_ARGV, .off = V(command), .defs = def_empty,
		.expect = "[postgres, -c, max_connections=200]",
		.doc = "argv overriding the image's command; [] keeps the image's"},
	{.name = "env", .type = K_ENV, .off = V(env), .doc = "environment variables"},
	{.name = "env_file", .type = K_STR, .off = V(env_file), .check = nonempty,
		.expect = "a file name relative to the config directory",
		.doc = "KEY=VALUE file (docker --env-file format); its values are secret"},
	{.name = "volumes", .type = K_MOUNTS, .off = V(mounts), .off2 = V(n_mounts),
		.doc = "named volumes: name -> absolute path in the container"},
	{0},
};

static const struct key site_keys[] = {
	{.name = "site", .type = K_STR, .flags = F_REQUIRED | F_NO_DEFAULTS, .off = S(name),
		.check = cfg_name_valid, .expect = NAME_EXPECT,
		.doc = "the site's name; must match the file name sites/NAME.conf"},
	{.name = "domains", .type = K_STRLIST, .flags = F_REQUIRED | F_NO_DEFAULTS | F_NONEMPTY,
		.off = S(domains), .check = cfg__hostname_valid, .expect = HOSTNAME_EXPECT,
		.doc = "host names served by the live colour"},
	{.name = "preview", .type = K_STR, .flags = F_NO_DEFAULTS, .off = S(preview),
		.check = cfg__hostname_valid, .expect = HOSTNAME_EXPECT,
		.doc = "host name routed to the candidate colour"},
	{.name = "image", .type = K_STR, .flags = F_REQUIRED | F_NO_DEFAULTS, .off = S(image),
		.check = image_valid, .expect = IMAGE_EXPECT, .doc = "docker image of the site"},
	{.name = "port", .type = K_INT, .off = S(port), .min = 1, .max = 65535,
		.doc = "port the container listens on; required (here or in site_defaults)"},
	{.name = "command", .type = K_ARGV, .off = S(command), .defs = def_empty,
		.expect = "[./server, --port, \"8080\"]",
		.doc = "argv overriding the image's command; [] keeps the image's"},
	{.name = "env", .type = K_ENV, .off = S(env), .doc = "environment variables"},
	{.name = "env_file", .type = K_STR, .off = S(env_file), .check = nonempty,
		.expect = "a file name relative to the config directory",
		.doc = "KEY=VALUE file (docker --env-file format); its values are secret"},
	{.name = "replicas", .type = K_INT, .off = S(replicas), .def = "1", .min = 1,
		.max = 100, .doc = "containers per colour"},
	{.name = "health", .type = K_MAP, .sub = health_keys,
		.doc = "health gate a candidate must pass before it may go live"},
	{.name = "volumes", .type = K_MOUNTS, .flags = F_NO_DEFAULTS, .off = S(mounts),
		.off2 = S(n_mounts), .doc = "named volumes shared by both colours"},
	{.name = "services", .type = K_SERVICES, .flags = F_NO_DEFAULTS, .off = S(services),
		.off2 = S(n_services), .sub = service_keys,
		.doc = "backing services (database, cache): not coloured"},
	{.name = "depends_on", .type = K_STRLIST, .flags = F_NO_DEFAULTS, .off = S(depends_on),
		.defs = def_empty, .check = cfg_name_valid, .expect = "a service name of this site",
		.doc = "services that must run before the site's containers start"},
	{.name = "strategy", .type = K_MAP, .sub = strategy_keys, .doc = "how a candidate goes live"},
	{.name = "stop_timeout", .type = K_DURATION, .off = S(stop_timeout_ms), .def = "10s",
		.doc = "grace period between stop_signal and SIGKILL"},
	{.name = "stop_signal", .type = K_ENUM, .flags = F_ENUM_STR, .off = S(stop_signal),
		.defs = signals, .def = "SIGTERM", .doc = "signal that asks a container to stop"},
	{.name = "confirm", .type = K_STR, .flags = F_NOECHO, .off = S(confirm),
		.check = confirm_valid, .expect = "a phrase of 1 to 200 characters",
		.doc = "phrase that must accompany the token in install_mode production"},
	{.name = "modules", .type = K_MODULES, .off = S(modules), .defs = def_empty,
		.doc = "site-level modules; \"-name\" removes one a lower layer enabled"},
	{0},
};

static const struct key global_keys[] = {
	{.name = "install_mode", .type = K_ENUM, .flags = F_REQUIRED | F_GLOBAL_ONLY,
		.off = G(install_mode), .defs = modes, .min = 1,
		.doc = "production, staging or development; no default"},
	{.name = "profile", .type = K_STR, .flags = F_GLOBAL_ONLY, .off = G(profile),
		.check = cfg_name_valid, .expect = "a profile name such as pro",
		.doc = "profile whose defaults lie under this file (profiles/NAME.conf)"},
	{.name = "modules", .type = K_MODULES, .off = G(modules), .defs = def_empty,
		.doc = "modules to enable; adds to the profile's, \"-name\" removes one"},
	{.name = "state_dir", .type = K_PATH, .off = G(state_dir), .def = "/var/lib/bluegreen",
		.off2 = G(state_dir_rel),
		.doc = "history, locks and plans; created with mode 0700"},
	{.name = "secrets_dir", .type = K_STR, .flags = F_GLOBAL_ONLY, .off = G(secrets_dir),
		.check = abs_path_valid, .expect = "an absolute path such as /run/secrets",
		.doc = "directory outside the config directory that an absolute env_file may "
		       "name; unset: env_file stays inside the config directory"},
	{.name = "docker", .type = K_MAP, .sub = docker_keys, .doc = "Docker Engine access"},
	{.name = "edge", .type = K_MAP, .sub = edge_keys, .doc = "the edge proxy"},
	{.name = "redact", .type = K_STRLIST, .off = G(redact), .defs = def_redact,
		.check = glob_valid, .expect = "a glob such as *SECRET*",
		.doc = "extra env keys whose values are never printed (case-insensitive shell "
		       "globs: *, ?, [0-9], [!O]); added to the defaults, which always apply"},
	{.name = "site_defaults", .type = K_DEFAULTS, .sub = site_keys,
		.doc = "site keys applied under every site file"},
	{0},
};

_Static_assert(sizeof(enum cfg_install_mode) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum cfg_edge_kind) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum cfg_promote) == sizeof(int), "enum as int");

static const struct key *table_of(enum cfg__kind kind)
{
	return kind == CFG__SITE ? site_keys : global_keys;
}

static const struct key *table_find(const struct key *t, const char *name)
{
	for (; t->name; t++) {
		if (strcmp(t->name, name) == 0) {
			return t;
		}
	}
	return NULL;
}

/* ---- validate ---- */

struct vctx {
	struct bg_diag *d;
	enum cfg__kind kind;
	bool defaults; /* under site_defaults */
};

static char *path_join(const char *prefix, const char *name)
{
	char *q = cfg__quote(name);
	char *p = prefix && *prefix ? bg_xasprintf("%s.%s", prefix, q) : bg_xstrdup(q);
	free(q);
	return p;
}

static bool key_allowed(const struct vctx *v, const struct key *k)
{
	if (v->defaults && (k->flags & F_NO_DEFAULTS)) {
		return false;
	}
	if (v->kind == CFG__PROFILE && !v->defaults && (k->flags & F_GLOBAL_ONLY)) {
		return false;
	}
	return true;
}

static unsigned suggest_limit(const char *s)
{
	size_t n = strlen(s);
	return n <= 3 ? 1 : n <= 8 ? 2 : 3;
}

static void unknown_key(struct vctx *v, const struct key *table,
		const struct cfg__node *key, const char *prefix)
{
	const char *best = NULL;
	char *best_path = NULL;
	unsigned best_d = suggest_limit(key->str) + 1;

	for (const struct key *k = table; k->name; k++) {
		if (!key_allowed(v, k)) {
			continue;
		}
		unsigned dist = bg_str_distance(key->str, k->name, best_d - 1);
		if (dist < best_d) {
			best_d = dist;
			best = k->name;
		}
	}
	if (best) {
		best_path = path_join(prefix, best);
	} else {
		/* Written one level too high: `retries: 5` meant health.retries. */
		for (const struct key *k = table; k->name && !best_path; k++) {
			if (k->type == K_MAP && key_allowed(v, k) && table_find(k->sub, key->str)) {
				char *mid = path_join(prefix, k->name);
				best_path = path_join(mid, key->str);
				free(mid);
			}
		}
	}
	char *path = path_join(prefix, key->str);
	if (best_path) {
		bg_diag_error(v->d, &key->loc, "unknown key '%s' (did you mean '%s'?)", path,
				best_path);
	} else {
		bg_diag_error(v->d, &key->loc, "unknown key '%s'", path);
	}
	free(path);
	free(best_path);
}

static void type_error(struct vctx *v, const struct key *k, const struct cfg__node *n,
		const char *path, const char *expect)
{
	if (k && (k->flags & F_NOECHO) && n->kind == CFG__SCALAR) {
		bg_diag_error(v->d, &n->loc, "%s must be %s", path, expect);
		return;
	}
	char *got = cfg__describe(n);
	bg_diag_error(v->d, &n->loc, "%s must be %s (got %s)", path, expect, got);
	free(got);
}

static bool is_string(const struct cfg__node *n)
{
	return n->kind == CFG__SCALAR && cfg__scalar_type(n) == CFG__S_STR;
}

/* Decimal integers only (YAML's 0x/0o forms and floats are refused). */
static bool parse_int(const struct cfg__node *n, long long min, long long max,
		long long *out)
{
	if (n->kind != CFG__SCALAR || cfg__scalar_type(n) != CFG__S_INT) {
		return false;
	}
	const char *s = n->str;
	bool neg = false;
	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	if (!*s || strspn(s, "0123456789") != strlen(s)) {
		return false;
	}
	unsigned long long v = 0;
	for (; *s; s++) {
		if (v > (ULLONG_MAX - 9) / 10) {
			return false;
		}
		v = v * 10 + (unsigned long long)(*s - '0');
	}
	if (v > (unsigned long long)LLONG_MAX) {
		return false;
	}
	long long r = neg ? -(long long)v : (long long)v;
	if (r < min || r > max) {
		return false;
	}
	*out = r;
	return true;
}

static bool parse_bool(const struct cfg__node *n, bool *out)
{
	if (n->kind != CFG__SCALAR || cfg__scalar_type(n) != CFG__S_BOOL) {
		return false;
	}
	*out = n->str[0] == 't' || n->str[0] == 'T';
	return true;
}

static bool parse_duration(const struct cfg__node *n, bool positive, uint64_t *out)
{
	if (!is_string(n)) {
		return false;
	}
	/* The schema's pattern: at most 9 digits, then a unit. */
	if (strspn(n->str, "0123456789") > 9) {
		return false;
	}
	uint64_t ms;
	if (bg_duration_parse(n->str, &ms) != 0 || (positive && ms == 0)) {
		return false;
	}
	*out = ms;
	return true;
}

static int parse_enum(const struct key *k, const struct cfg__node *n)
{
	if (!is_string(n)) {
		return -1;
	}
	for (int i = 0; k->defs[i]; i++) {
		if (strcmp(k->defs[i], n->str) == 0) {
			return i;
		}
	}
	return -1;
}

static bool parse_listen(const struct cfg__node *n, char **out)
{
	if (n->kind != CFG__SCALAR) {
		return false;
	}
	long long port;
	if (cfg__scalar_type(n) == CFG__S_INT) {
		if (!parse_int(n, 1, 65535, &port)) {
			return false;
		}
		if (out) {
			*out = bg_xasprintf("%lld", port);
		}
		return true;
	}
	if (!is_string(n) || !listen_text_valid(n->str)) {
		return false;
	}
	if (out) {
		*out = bg_xstrdup(n->str);
	}
	return true;
}

static bool str_ok(const struct key *k, const struct cfg__node *n)
{
	if (!is_string(n)) {
		return false;
	}
	if (k->type == K_PATH) {
		return n->str[0] != '\0';
	}
	return !k->check || k->check(n->str);
}

static char *int_expect(const struct key *k)
{
	if (k->max == UINT32_MAX) {
		return bg_xasprintf("an integer >= %lld", k->min);
	}
	return bg_xasprintf("an integer in %lld..%lld", k->min, k->max);
}

static char *enum_expect(const struct key *k)
{
	struct bg_buf b = BG_BUF_INIT;
	bg_buf_adds(&b, "one of ");
	for (size_t i = 0; k->defs[i]; i++) {
		bg_buf_addf(&b, "%s%s", i ? ", " : "", k->defs[i]);
	}
	return bg_buf_detach(&b, NULL);
}

static void validate_map(struct vctx *v, const struct key *table,
		const struct cfg__node *map, const char *prefix);

/* Which string items of a sequence repeat an earlier one (cfg__repeats). */
static size_t *item_repeats(const struct cfg__node *seq)
{
	const char **strs = bg_xcalloc(seq->n_items ? seq->n_items : 1, sizeof(*strs));
	for (size_t i = 0; i < seq->n_items; i++) {
		strs[i] = is_string(seq->items[i]) ? seq->items[i]->str : NULL;
	}
	size_t *first = cfg__repeats(strs, seq->n_items);
	free(strs);
	return first;
}

static void repeat_error(struct vctx *v, const struct cfg__node *it, const char *path,
		const struct cfg__node *first)
{
	char *q = cfg__quote(it->str);
	bg_diag_error(v->d, &it->loc, "%s repeats '%s' (already at line %u)", path, q,
			first->loc.line);
	free(q);
}

static void check_strlist(struct vctx *v, const struct key *k, const struct cfg__node *n,
		const char *path)
{
	if (n->kind != CFG__SEQ) {
		char *ex = k->defs && k->defs[0] ? bg_xasprintf("a list such as [%s]", k->defs[0])
				: bg_xstrdup("a list");
		if (strcmp(k->name, "domains") == 0) {
			free(ex);
			ex = bg_xstrdup("a list of host names such as [shop.example.com]");
		}
		type_error(v, k, n, path, ex);
		free(ex);
		return;
	}
	if ((k->flags & F_NONEMPTY) && n->n_items == 0) {
		bg_diag_error(v->d, &n->loc, "%s must not be empty", path);
		return;
	}
	size_t *first = item_repeats(n);
	for (size_t i = 0; i < n->n_items; i++) {
		const struct cfg__node *it = n->items[i];
		char *ip = bg_xasprintf("%s[%zu]", path, i);
		if (!is_string(it) || (k->check && !k->check(it->str))) {
			type_error(v, k, it, ip, k->expect);
		} else if (first[i]) {
			repeat_error(v, it, ip, n->items[first[i] - 1]);
		}
		free(ip);
	}
	free(first);
}

static bool argv_item_ok(const struct cfg__node *it)
{
	if (it->kind != CFG__SCALAR) {
		return false;
	}
	enum cfg__stype t = cfg__scalar_type(it);
	return t == CFG__S_STR || t == CFG__S_INT || t == CFG__S_FLOAT;
}

static void check_argv(struct vctx *v, const struct key *k, const struct cfg__node *n,
		const char *path)
{
	if (n->kind != CFG__SEQ) {
		char *ex = bg_xasprintf("a list (argv) such as %s", k->expect);
		if (is_string(n)) {
			char *q = cfg__quote(n->str);
			bg_diag_error(v->d, &n->loc, "%s must be %s, never a shell string "
					"(got \"%s\")", path, ex, q);
			free(q);
		} else {
			type_error(v, k, n, path, ex);
		}
		free(ex);
		return;
	}
	if ((k->flags & F_NONEMPTY) && n->n_items == 0) {
		bg_diag_error(v->d, &n->loc, "%s must not be empty: give at least the program to run",
				path);
		return;
	}
	for (size_t i = 0; i < n->n_items; i++) {
		const struct cfg__node *it = n->items[i];
		char *ip = bg_xasprintf("%s[%zu]", path, i);
		if (i == 0 && (!is_string(it) || !it->str[0])) {
			type_error(v, k, it, ip, "a program name (a non-empty string)");
		} else if (!argv_item_ok(it)) {
			type_error(v, k, it, ip, "a string or a number");
		}
		free(ip);
	}
}

static void check_modules(struct vctx *v, const struct key *k, const struct cfg__node *n,
		const char *path)
{
	static const char *const known[] = {"cockpit", "wordpress", "wp-plugins-standard"};
	if (n->kind != CFG__SEQ) {
		type_error(v, k, n, path, "a list of module names such as [cockpit]");
		return;
	}
	size_t *first = item_repeats(n);
	for (size_t i = 0; i < n->n_items; i++) {
		const struct cfg__node *it = n->items[i];
		char *ip = bg_xasprintf("%s[%zu]", path, i);
		if (!is_string(it)) {
			type_error(v, k, it, ip, "a module name such as cockpit");
		} else if (!known_module_entry(it->str)) {
			const char *name = it->str[0] == '-' ? it->str + 1 : it->str;
			const char *best = NULL;
			unsigned best_d = suggest_limit(name) + 1;
			for (size_t j = 0; j < BG_ARRAY_SIZE(known); j++) {
				unsigned dist = bg_str_distance(name, known[j], best_d - 1);
				if (dist < best_d) {
					best_d = dist;
					best = known[j];
				}
			}
			char *q = cfg__quote(it->str);
			if (best) {
				bg_diag_error(v->d, &it->loc, "unknown module '%s' in %s (did you mean '%s%s'?)",
						q, path, it->str[0] == '-' ? "-" : "", best);
			} else {
				bg_diag_error(v->d, &it->loc, "unknown module '%s' in %s (known: cockpit, "
						"wordpress, wp-plugins-standard)", q, path);
			}
			free(q);
		} else if (first[i]) {
			repeat_error(v, it, ip, n->items[first[i] - 1]);
		}
		free(ip);
	}
	free(first);
}

static void check_env(struct vctx *v, const struct key *k, const struct cfg__node *n,
		const char *path)
{
	if (n->kind != CFG__MAP) {
		type_error(v, k, n, path, "a mapping of variable names to values such as "
				"{NODE_ENV: production}");
		return;
	}
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		char *q = cfg__quote(p->key->str);
		if (!cfg__env_key_valid(p->key->str)) {
			bg_diag_error(v->d, &p->key->loc, "invalid variable name '%s' in %s: use "
					"letters, digits and '_' (and '.' or '-' after the first "
					"character), not starting with a digit", q, path);
		} else if (!argv_item_ok(p->val) && !(p->val->kind == CFG__SCALAR &&
				cfg__scalar_type(p->val) == CFG__S_BOOL)) {
			/* Never quote an env value: it may be a secret. Scalars are
			 * always valid here, so only their kind is ever named. */
			char *ip = path_join(path, p->key->str);
			const char *got = p->val->kind == CFG__MAP ? "a mapping"
					: p->val->kind == CFG__SEQ ? "a list"
					: p->val->str[0] ? "null" : "nothing";
			bg_diag_error(v->d, &p->val->loc, "%s must be a string, number or boolean "
					"(got %s; write \"\" for an empty value)", ip, got);
			free(ip);
		}
		free(q);
	}
}

static void check_mounts(struct vctx *v, const struct key *k, const struct cfg__node *n,
		const char *path)
{
	if (n->kind != CFG__MAP) {
		type_error(v, k, n, path, "a mapping of volume names to container paths such "
				"as {uploads: /app/uploads}");
		return;
	}
	const char **targets = bg_xcalloc(n->n_pairs ? n->n_pairs : 1, sizeof(*targets));
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		bool ok = volume_name_valid(p->key->str) && is_string(p->val) &&
				mount_target_valid(p->val->str);
		targets[i] = ok ? p->val->str : NULL;
	}
	size_t *first = cfg__repeats(targets, n->n_pairs);
	free(targets);
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		if (!volume_name_valid(p->key->str)) {
			char *q = cfg__quote(p->key->str);
			bg_diag_error(v->d, &p->key->loc, "invalid volume name '%s' in %s: use "
					"lowercase letters, digits, '_', '.' and '-', starting with "
					"a letter or digit, at most 40 characters", q, path);
			free(q);
			continue;
		}
		char *ip = path_join(path, p->key->str);
		if (!is_string(p->val) || !mount_target_valid(p->val->str)) {
			type_error(v, k, p->val, ip, "an absolute path in the container such as "
					"/app/uploads (no ':' or ',')");
		} else if (first[i]) {
			/* Not in the schema: two volumes on one target. */
			const struct cfg__pair *o = &n->pairs[first[i] - 1];
			char *q = cfg__quote(p->val->str);
			char *oq = cfg__quote(o->key->str);
			bg_diag_error(v->d, &p->val->loc, "%s mounts on '%s', already used by "
					"volume '%s' at line %u", ip, q, oq, o->key->loc.line);
			free(q);
			free(oq);
		}
		free(ip);
	}
	free(first);
}

static void check_services(struct vctx *v, const struct key *k, const struct cfg__node *n,
		const char *path)
{
	if (n->kind != CFG__MAP) {
		type_error(v, k, n, path, "a mapping of service names to settings such as "
				"{db: {image: postgres:16}}");
		return;
	}
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		char *ip = path_join(path, p->key->str);
		if (!service_name_valid(p->key->str)) {
			char *q = cfg__quote(p->key->str);
			bg_diag_error(v->d, &p->key->loc, "invalid service name '%s': use %s, "
					"not starting with 'blue' or 'green'", q, NAME_EXPECT);
			free(q);
		} else if (p->val->kind != CFG__MAP) {
			type_error(v, k, p->val, ip, "a mapping of service settings such as "
					"{image: postgres:16}");
		} else {
			validate_map(v, k->sub, p->val, ip);
		}
		free(ip);
	}
}

static void validate_value(struct vctx *v, const struct key *k, const struct cfg__node *n,
		const char *path)
{
	long long iv;
	bool bv;
	uint64_t dv;
	char *ex;

	switch (k->type) {
	case K_MAP:
		if (n->kind != CFG__MAP) {
			type_error(v, k, n, path, "a mapping");
		} else {
			validate_map(v, k->sub, n, path);
		}
		break;
	case K_DEFAULTS:
		if (n->kind != CFG__MAP) {
			type_error(v, k, n, path, "a mapping of site settings");
		} else {
			struct vctx sub = *v;
			sub.defaults = true;
			validate_map(&sub, k->sub, n, path);
		}
		break;
	case K_STR:
		if (!str_ok(k, n)) {
			type_error(v, k, n, path, k->expect);
		}
		break;
	case K_PATH:
		if (!str_ok(k, n)) {
			type_error(v, k, n, path, "a path (relative to the config directory or absolute)");
		}
		break;
	case K_INT:
		if (!parse_int(n, k->min, k->max, &iv)) {
			ex = int_expect(k);
			type_error(v, k, n, path, ex);
			free(ex);
		}
		break;
	case K_BOOL:
		if (!parse_bool(n, &bv)) {
			type_error(v, k, n, path, "true or false");
		}
		break;
	case K_DURATION:
		if (!parse_duration(n, k->flags & F_POSITIVE, &dv)) {
			type_error(v, k, n, path, k->flags & F_POSITIVE
					? "a duration above zero such as 500ms, 1s, 2m or 1h"
					: "a duration such as 500ms, 1s, 2m or 1h");
		}
		break;
	case K_ENUM:
		if (parse_enum(k, n) < 0) {
			ex = enum_expect(k);
			type_error(v, k, n, path, ex);
			free(ex);
		}
		break;
	case K_LISTEN:
		if (!parse_listen(n, NULL)) {
			type_error(v, k, n, path, k->expect);
		}
		break;
	case K_STRLIST:
		check_strlist(v, k, n, path);
		break;
	case K_ARGV:
		check_argv(v, k, n, path);
		break;
	case K_MODULES:
		check_modules(v, k, n, path);
		break;
	case K_ENV:
		check_env(v, k, n, path);
		break;
	case K_MOUNTS:
		check_mounts(v, k, n, path);
		break;
	case K_SERVICES:
		check_services(v, k, n, path);
		break;
	}
}

static void validate_map(struct vctx *v, const struct key *table,
		const struct cfg__node *map, const char *prefix)
{
	for (size_t i = 0; i < map->n_pairs; i++) {
		const struct cfg__pair *p = &map->pairs[i];
		const struct key *k = table_find(table, p->key->str);
		if (!k) {
			unknown_key(v, table, p->key, prefix);
			continue;
		}
		char *path = path_join(prefix, k->name);
		if (v->defaults && (k->flags & F_NO_DEFAULTS)) {
			bg_diag_error(v->d, &p->key->loc, "site_defaults cannot set '%s': it belongs "
					"in each site file", k->name);
		} else if (!key_allowed(v, k)) {
			bg_diag_error(v->d, &p->key->loc, "'%s' can only be set in global.conf, "
					"not in a profile", path);
		} else {
			validate_value(v, k, p->val, path);
		}
		free(path);
	}
	if (v->defaults) {
		return;
	}
	for (const struct key *k = table; k->name; k++) {
		if ((k->flags & F_REQUIRED) && key_allowed(v, k) && !cfg__map_pair(map, k->name)) {
			char *path = path_join(prefix, k->name);
			bg_diag_error(v->d, &map->loc, "missing required key '%s'", path);
			free(path);
		}
	}
}

/* Single-file rules of a site that no JSON Schema can say. */
static void site_semantics(struct vctx *v, const struct cfg__node *root)
{
	const struct cfg__node *domains = cfg__map_get(root, "domains");
	const struct cfg__node *preview = cfg__map_get(root, "preview");
	const struct cfg__node *deps = cfg__map_get(root, "depends_on");
	const struct cfg__node *svcs = cfg__map_get(root, "services");

	if (preview && is_string(preview) && domains && domains->kind == CFG__SEQ) {
		for (size_t i = 0; i < domains->n_items; i++) {
			if (is_string(domains->items[i]) &&
					strcmp(domains->items[i]->str, preview->str) == 0) {
				char *q = cfg__quote(preview->str);
				bg_diag_error(v->d, &preview->loc, "preview '%s' is also in domains "
						"(line %u): the preview host must differ from the live ones",
						q, domains->items[i]->loc.line);
				free(q);
				break;
			}
		}
	}
	if (!deps || deps->kind != CFG__SEQ) {
		return;
	}
	const struct cfg__pair **sorted = cfg__pairs_sorted(svcs);
	size_t n_svcs = svcs && svcs->kind == CFG__MAP ? svcs->n_pairs : 0;
	for (size_t i = 0; i < deps->n_items; i++) {
		const struct cfg__node *it = deps->items[i];
		if (!is_string(it) || !cfg_name_valid(it->str)) {
			continue;
		}
		if (cfg__pairs_find(sorted, n_svcs, it->str)) {
			continue;
		}
		char *q = cfg__quote(it->str);
		const char *best = NULL;
		unsigned best_d = suggest_limit(it->str) + 1;
		/* Suggestions are for humans: skip them in absurdly large files. */
		for (size_t j = 0; n_svcs <= 1000 && j < n_svcs; j++) {
			unsigned dist = bg_str_distance(it->str, svcs->pairs[j].key->str, best_d - 1);
			if (dist < best_d) {
				best_d = dist;
				best = svcs->pairs[j].key->str;
			}
		}
		if (best) {
			char *bq = cfg__quote(best);
			bg_diag_error(v->d, &it->loc, "depends_on[%zu] names '%s', which is not a "
					"service of this site (did you mean '%s'?)", i, q, bq);
			free(bq);
		} else {
			bg_diag_error(v->d, &it->loc, "depends_on[%zu] names '%s', which is not a "
					"service of this site", i, q);
		}
		free(q);
	}
	free(sorted);
}

void cfg__validate(enum cfg__kind kind, const struct cfg__node *root,
		const struct bg_loc *file_loc, struct bg_diag *d)
{
	struct vctx v = {.d = d, .kind = kind};
	static const char *const hint[] = {
		[CFG__GLOBAL] = "install_mode: production",
		[CFG__SITE] = "site: shop",
		[CFG__PROFILE] = "modules: [cockpit]",
	};

	if (!root || (root->kind == CFG__SCALAR && root->plain && !*root->str)) {
		struct bg_loc loc = {.file = file_loc->file, .line = 1, .col = 1};
		bg_diag_error(d, &loc, "the file is empty: expected a mapping of settings "
				"such as '%s'", hint[kind]);
		return;
	}
	if (root->kind != CFG__MAP) {
		char *got = cfg__describe(root);
		bg_diag_error(d, &root->loc, "the top level must be a mapping of settings such "
				"as '%s' (got %s)", hint[kind], got);
		free(got);
		return;
	}
	validate_map(&v, table_of(kind), root, "");
	if (kind == CFG__SITE) {
		site_semantics(&v, root);
	}
}

/* ---- modules ---- */

void cfg__modset_release(struct cfg__modset *m)
{
	if (!m) {
		return;
	}
	bg_strv_release(&m->names);
	free(m->locs);
	m->locs = NULL;
	m->cap_locs = 0;
}

void cfg__modset_apply(struct cfg__modset *m, const struct cfg__node *seq,
		struct bg_diag *d)
{
	if (!seq || seq->kind != CFG__SEQ) {
		return;
	}
	for (size_t i = 0; i < seq->n_items; i++) {
		const struct cfg__node *it = seq->items[i];
		if (!is_string(it) || !known_module_entry(it->str)) {
			continue;
		}
		bool remove = it->str[0] == '-';
		const char *name = remove ? it->str + 1 : it->str;
		size_t at = m->names.n;
		for (size_t j = 0; j < m->names.n; j++) {
			if (strcmp(m->names.v[j], name) == 0) {
				at = j;
			}
		}
		if (remove && at < m->names.n) {
			free(m->names.v[at]);
			memmove(&m->names.v[at], &m->names.v[at + 1],
					(m->names.n - at) * sizeof(*m->names.v));
			memmove(&m->locs[at], &m->locs[at + 1],
					(m->names.n - at - 1) * sizeof(*m->locs));
			m->names.n--;
		} else if (remove && d) {
			bg_diag_warn(d, &it->loc, "'-%s' has no effect: no lower layer enables "
					"module '%s'", name, name);
		} else if (!remove && at == m->names.n) {
			bg_strv_push(&m->names, name);
			BG_GROW(m->locs, m->cap_locs, m->names.n);
			m->locs[m->names.n - 1] = it->loc;
		}
	}
	/* Sorted, with locations following their names. */
	for (size_t i = 1; i < m->names.n; i++) {
		for (size_t j = i; j > 0 && strcmp(m->names.v[j - 1], m->names.v[j]) > 0; j--) {
			char *t = m->names.v[j];
			m->names.v[j] = m->names.v[j - 1];
			m->names.v[j - 1] = t;
			struct bg_loc l = m->locs[j];
			m->locs[j] = m->locs[j - 1];
			m->locs[j - 1] = l;
		}
	}
}

void cfg__modset_warn(const struct cfg__modset *m, struct bg_diag *d)
{
	for (size_t i = 0; i < m->names.n; i++) {
		if (!cfg_module_built(m->names.v[i])) {
			bg_diag_warn(d, &m->locs[i], "module '%s' is not built yet in bluegreen %s: "
					"it is accepted but has no effect", m->names.v[i], BG_VERSION_STRING);
		}
	}
}

/* ---- bind ---- */

struct bctx {
	const char *dir;
	const struct cfg_global *g; /* NULL while binding the global itself */
};

#define AT(base, off, type) ((type *)(void *)((char *)(base) + (off)))

/* Lexical clean-up: "/a/./b//../c" -> "/a/c"; the result is absolute. */
static char *path_absolute(const char *dir, const char *p)
{
	char *full = p[0] == '/' ? bg_xstrdup(p) : bg_xasprintf("%s/%s", dir, p);
	struct bg_strv parts;
	struct bg_buf out = BG_BUF_INIT;
	char *save = NULL;

	bg_strv_init(&parts);
	for (char *s = strtok_r(full, "/", &save); s; s = strtok_r(NULL, "/", &save)) {
		if (strcmp(s, ".") == 0) {
			continue;
		}
		if (strcmp(s, "..") == 0) {
			if (parts.n) {
				free(parts.v[--parts.n]);
				parts.v[parts.n] = NULL;
			}
			continue;
		}
		bg_strv_push(&parts, s);
	}
	for (size_t i = 0; i < parts.n; i++) {
		bg_buf_addf(&out, "/%s", parts.v[i]);
	}
	if (!parts.n) {
		bg_buf_addch(&out, '/');
	}
	bg_strv_release(&parts);
	free(full);
	return bg_buf_detach(&out, NULL);
}

static void strv_from_defs(struct bg_strv *sv, const char *const *defs)
{
	for (size_t i = 0; defs && defs[i]; i++) {
		bg_strv_push(sv, defs[i]);
	}
}

static int env_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_env_var *)a)->key, ((const struct cfg_env_var *)b)->key);
}

static void bind_env(const struct bctx *b, struct cfg_env *env, const struct cfg__node *n)
{
	if (!n || n->kind != CFG__MAP) {
		return;
	}
	env->v = bg_xcalloc(n->n_pairs ? n->n_pairs : 1, sizeof(*env->v));
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		if (!cfg__env_key_valid(p->key->str) || p->val->kind != CFG__SCALAR ||
				cfg__scalar_type(p->val) == CFG__S_NULL) {
			continue;
		}
		struct cfg_env_var *e = &env->v[env->n++];
		e->key = bg_xstrdup(p->key->str);
		e->value = bg_xstrdup(p->val->str);
		e->loc = p->key->loc;
		for (size_t j = 0; b->g && j < b->g->redact.n; j++) {
			if (bg_glob_match_ci(b->g->redact.v[j], e->key)) {
				e->secret = true;
			}
		}
	}
	qsort(env->v, env->n, sizeof(*env->v), env_cmp);
}

static int mount_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_mount *)a)->volume, ((const struct cfg_mount *)b)->volume);
}

static void bind_mounts(struct cfg_mount **out, size_t *n_out, const struct cfg__node *n)
{
	if (!n || n->kind != CFG__MAP) {
		return;
	}
	struct cfg_mount *m = bg_xcalloc(n->n_pairs ? n->n_pairs : 1, sizeof(*m));
	size_t k = 0;
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		if (!volume_name_valid(p->key->str) || !is_string(p->val) ||
				!mount_target_valid(p->val->str)) {
			continue;
		}
		m[k].volume = bg_xstrdup(p->key->str);
		m[k].target = bg_xstrdup(p->val->str);
		m[k].loc = p->key->loc;
		k++;
	}
	qsort(m, k, sizeof(*m), mount_cmp);
	*out = m;
	*n_out = k;
}

static void bind_map(const struct bctx *b, const struct key *table,
		const struct cfg__node *map, void *base);

static int service_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_service *)a)->name, ((const struct cfg_service *)b)->name);
}

static void bind_services(const struct bctx *b, const struct key *k,
		struct cfg_service **out, size_t *n_out, const struct cfg__node *n)
{
	if (!n || n->kind != CFG__MAP) {
		return;
	}
	struct cfg_service *s = bg_xcalloc(n->n_pairs ? n->n_pairs : 1, sizeof(*s));
	size_t c = 0;
	for (size_t i = 0; i < n->n_pairs; i++) {
		const struct cfg__pair *p = &n->pairs[i];
		if (!service_name_valid(p->key->str) || p->val->kind != CFG__MAP) {
			continue;
		}
		s[c].name = bg_xstrdup(p->key->str);
		s[c].loc = p->key->loc;
		bind_map(b, k->sub, p->val, &s[c]);
		c++;
	}
	qsort(s, c, sizeof(*s), service_cmp);
	*out = s;
	*n_out = c;
}

static bool list_ok(const struct key *k, const struct cfg__node *n)
{
	if (!n || n->kind != CFG__SEQ || ((k->flags & F_NONEMPTY) && !n->n_items)) {
		return false;
	}
	for (size_t i = 0; i < n->n_items; i++) {
		const struct cfg__node *it = n->items[i];
		if (k->type == K_ARGV) {
			if (!argv_item_ok(it) || (i == 0 && (!is_string(it) || !it->str[0]))) {
				return false;
			}
		} else if (!is_string(it) || (k->check && !k->check(it->str))) {
			return false;
		}
	}
	return true;
}

static void bind_value(const struct bctx *b, const struct key *k,
		const struct cfg__node *n, void *base)
{
	long long iv;
	bool bv;
	uint64_t dv;
	int ev;

	switch (k->type) {
	case K_MAP:
		bind_map(b, k->sub, n && n->kind == CFG__MAP ? n : NULL, base);
		break;
	case K_DEFAULTS:
		break;
	case K_STR:
		*AT(base, k->off, char *) = bg_xstrdup(n && str_ok(k, n) ? n->str : k->def);
		break;
	case K_PATH: {
		const char *p = n && str_ok(k, n) ? n->str : k->def;
		*AT(base, k->off, char *) = p ? path_absolute(b->dir, p) : NULL;
		if (k->off2) {
			*AT(base, k->off2, bool) = p && p[0] != '/';
		}
		break;
	}
	case K_INT:
		if (!n || !parse_int(n, k->min, k->max, &iv)) {
			iv = k->def ? atoll(k->def) : 0;
		}
		*AT(base, k->off, unsigned) = (unsigned)iv;
		break;
	case K_BOOL:
		if (!n || !parse_bool(n, &bv)) {
			bv = k->def && strcmp(k->def, "true") == 0;
		}
		*AT(base, k->off, bool) = bv;
		break;
	case K_DURATION:
		if (!n || !parse_duration(n, k->flags & F_POSITIVE, &dv)) {
			dv = 0;
			if (k->def) {
				bg_duration_parse(k->def, &dv);
			}
		}
		*AT(base, k->off, uint64_t) = dv;
		break;
	case K_ENUM:
		ev = n ? parse_enum(k, n) : -1;
		if (ev < 0 && k->def) {
			for (ev = 0; strcmp(k->defs[ev], k->def) != 0; ev++) {
			}
		}
		if (k->flags & F_ENUM_STR) {
			*AT(base, k->off, char *) = bg_xstrdup(ev >= 0 ? k->defs[ev] : NULL);
		} else {
			/* No valid value and no default: 0 (CFG_MODE_UNSET). */
			*AT(base, k->off, int) = ev >= 0 ? ev + (int)k->min : 0;
		}
		break;
	case K_LISTEN: {
		char *s = NULL;
		if (!n || !parse_listen(n, &s)) {
			s = bg_xstrdup(k->def);
		}
		*AT(base, k->off, char *) = s;
		break;
	}
	case K_STRLIST:
	case K_ARGV: {
		struct bg_strv *sv = AT(base, k->off, struct bg_strv);
		if (list_ok(k, n)) {
			for (size_t i = 0; i < n->n_items; i++) {
				bg_strv_push(sv, n->items[i]->str);
			}
		} else {
			strv_from_defs(sv, k->defs);
		}
		break;
	}
	case K_MODULES: {
		struct cfg__modset m = {0};
		cfg__modset_apply(&m, n, NULL);
		*AT(base, k->off, struct bg_strv) = m.names;
		free(m.locs);
		break;
	}
	case K_ENV:
		bind_env(b, AT(base, k->off, struct cfg_env), n);
		break;
	case K_MOUNTS:
		bind_mounts(AT(base, k->off, struct cfg_mount *), AT(base, k->off2, size_t), n);
		break;
	case K_SERVICES:
		bind_services(b, k, AT(base, k->off, struct cfg_service *),
				AT(base, k->off2, size_t), n);
		break;
	}
}

static void bind_map(const struct bctx *b, const struct key *table,
		const struct cfg__node *map, void *base)
{
	for (const struct key *k = table; k->name; k++) {
		bind_value(b, k, cfg__map_get(map, k->name), base);
	}
}

void cfg__bind_global(struct cfg_global *g, const struct cfg__node *root, const char *dir)
{
	struct bctx b = {.dir = dir};
	const struct cfg__node *im = cfg__map_get(root, "install_mode");

	bind_map(&b, global_keys, root && root->kind == CFG__MAP ? root : NULL, g);
	if (im) {
		g->install_mode_loc = im->loc;
	}
	if (!g->traefik.staging_dir && g->traefik.dynamic_dir) {
		g->traefik.staging_dir = bg_xasprintf("%s.staging", g->traefik.dynamic_dir);
		g->traefik.staging_dir_rel = g->traefik.dynamic_dir_rel;
	}
	if (g->nginx.ports && port_range_valid(g->nginx.ports)) {
		g->nginx.port_lo = (unsigned)strtoul(g->nginx.ports, NULL, 10);
		g->nginx.port_hi = (unsigned)strtoul(strchr(g->nginx.ports, '-') + 1, NULL, 10);
	}
	/*
	 * The redaction list only grows: a configured list adds to the
	 * defaults, so adding one pattern can never un-hide *PASSWORD*.
	 */
	for (size_t i = 0; def_redact[i]; i++) {
		if (!bg_strv_contains(&g->redact, def_redact[i])) {
			bg_strv_push(&g->redact, def_redact[i]);
		}
	}
}

void cfg__bind_site(struct cfg_site *s, const struct cfg__node *root, const char *dir,
		const struct cfg_global *g)
{
	struct bctx b = {.dir = dir, .g = g};
	const struct cfg__pair *site = cfg__map_pair(root, "site");

	bind_map(&b, site_keys, root && root->kind == CFG__MAP ? root : NULL, s);
	if (site) {
		s->loc = site->key->loc;
	}
}

void cfg__env_release(struct cfg_env *e)
{
	if (!e) {
		return;
	}
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].key);
		free(e->v[i].value);
	}
	free(e->v);
	e->v = NULL;
	e->n = 0;
}

static void mounts_release(struct cfg_mount *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].volume);
		free(m[i].target);
	}
	free(m);
}

void cfg__global_release(struct cfg_global *g)
{
	if (!g) {
		return;
	}
	free(g->profile);
	bg_strv_release(&g->modules);
	free(g->state_dir);
	free(g->secrets_dir);
	free(g->docker_socket);
	free(g->edge_network);
	free(g->traefik.dynamic_dir);
	free(g->traefik.staging_dir);
	bg_strv_release(&g->traefik.entrypoints);
	free(g->traefik.certresolver);
	free(g->traefik.api);
	free(g->nginx.conf_dir);
	bg_strv_release(&g->nginx.reload);
	bg_strv_release(&g->nginx.test);
	free(g->nginx.listen);
	free(g->nginx.ports);
	bg_strv_release(&g->redact);
	memset(g, 0, sizeof(*g));
}

void cfg__site_release(struct cfg_site *s)
{
	if (!s) {
		return;
	}
	free(s->name);
	free(s->path);
	bg_strv_release(&s->domains);
	free(s->preview);
	free(s->image);
	bg_strv_release(&s->command);
	cfg__env_release(&s->env);
	free(s->env_file);
	free(s->health.path);
	mounts_release(s->mounts, s->n_mounts);
	for (size_t i = 0; i < s->n_services; i++) {
		struct cfg_service *v = &s->services[i];
		free(v->name);
		free(v->image);
		bg_strv_release(&v->command);
		cfg__env_release(&v->env);
		free(v->env_file);
		mounts_release(v->mounts, v->n_mounts);
	}
	free(s->services);
	bg_strv_release(&s->depends_on);
	free(s->stop_signal);
	free(s->confirm);
	bg_strv_release(&s->modules);
	memset(s, 0, sizeof(*s));
}

/* ---- explain ---- */

static bool plain_safe(const char *s)
{
	if (!*s || cfg__text_type(s) != CFG__S_STR || strchr("-?:,[]{}#&*!|>'\"%@`~", s[0])) {
		return s[0] == '-' && s[1] && strspn(s, ALNUM "_./:@+=%-") == strlen(s) &&
				cfg__text_type(s) == CFG__S_STR;
	}
	return strspn(s, ALNUM "_./:@+=%*-") == strlen(s);
}

static void add_scalar(struct bg_buf *out, const char *s)
{
	if (!s) {
		bg_buf_adds(out, "null");
	} else if (plain_safe(s)) {
		bg_buf_adds(out, s);
	} else {
		bg_buf_add_json_str(out, s);
	}
}

static void add_list(struct bg_buf *out, const struct bg_strv *sv)
{
	bg_buf_addch(out, '[');
	for (size_t i = 0; i < sv->n; i++) {
		if (i) {
			bg_buf_adds(out, ", ");
		}
		add_scalar(out, sv->v[i]);
	}
	bg_buf_addch(out, ']');
}

static void add_origin(struct bg_buf *out, const struct bg_loc *loc)
{
	if (loc && loc->file) {
		bg_buf_addf(out, "    # %s:%u\n", loc->file, loc->line);
	} else {
		bg_buf_adds(out, "    # default\n");
	}
}

static void explain_map(struct bg_buf *out, const struct key *table,
		const struct cfg__node *map, const void *base, const char *prefix);

static void explain_env(struct bg_buf *out, const char *path, const struct cfg_env *env)
{
	for (size_t i = 0; i < env->n; i++) {
		const struct cfg_env_var *e = &env->v[i];
		bg_buf_addf(out, "%s.%s = ", path, e->key);
		if (e->secret) {
			bg_buf_adds(out, "<redacted>");
		} else {
			add_scalar(out, e->value);
		}
		add_origin(out, &e->loc);
	}
}

static void explain_value(struct bg_buf *out, const struct key *k, const struct cfg__node *n,
		const void *base, const char *path)
{
	const struct bg_loc *loc = n ? &n->loc : NULL;
	char dur[32];

	switch (k->type) {
	case K_MAP: {
		char *sub = bg_xasprintf("%s.", path);
		explain_map(out, k->sub, n && n->kind == CFG__MAP ? n : NULL, base, sub);
		free(sub);
		return;
	}
	case K_DEFAULTS:
		return;
	case K_ENV:
		explain_env(out, path, AT(base, k->off, const struct cfg_env));
		return;
	case K_MOUNTS: {
		const struct cfg_mount *m = *AT(base, k->off, struct cfg_mount *const);
		size_t c = *AT(base, k->off2, const size_t);
		for (size_t i = 0; i < c; i++) {
			bg_buf_addf(out, "%s.%s = ", path, m[i].volume);
			add_scalar(out, m[i].target);
			add_origin(out, &m[i].loc);
		}
		return;
	}
	case K_SERVICES: {
		const struct cfg_service *s = *AT(base, k->off, struct cfg_service *const);
		size_t c = *AT(base, k->off2, const size_t);
		const struct cfg__pair **sorted = cfg__pairs_sorted(n);
		size_t np = n && n->kind == CFG__MAP ? n->n_pairs : 0;
		for (size_t i = 0; i < c; i++) {
			char *sub = bg_xasprintf("%s.%s.", path, s[i].name);
			const struct cfg__pair *p = cfg__pairs_find(sorted, np, s[i].name);
			explain_map(out, k->sub, p ? p->val : NULL, &s[i], sub);
			free(sub);
		}
		free(sorted);
		return;
	}
	case K_MODULES: {
		struct cfg__modset m = {0};
		cfg__modset_apply(&m, n, NULL);
		bg_buf_addf(out, "%s = ", path);
		add_list(out, &m.names);
		if (!m.names.n) {
			add_origin(out, loc); /* `modules: []` written somewhere, or the default */
		} else {
			bg_buf_adds(out, "    #");
			for (size_t i = 0; i < m.names.n; i++) {
				bg_buf_addf(out, "%s %s:%u", i ? "," : "", m.locs[i].file, m.locs[i].line);
			}
			bg_buf_addch(out, '\n');
		}
		cfg__modset_release(&m);
		return;
	}
	default:
		break;
	}
	bg_buf_addf(out, "%s = ", path);
	if ((k->flags & F_NOECHO) && k->type == K_STR && *AT(base, k->off, char *const)) {
		/* The confirm phrase is what an apply must type: never shown. */
		bg_buf_adds(out, "<redacted>");
		add_origin(out, loc);
		return;
	}
	switch (k->type) {
	case K_STR:
	case K_PATH:
	case K_LISTEN:
		add_scalar(out, *AT(base, k->off, char *const));
		break;
	case K_INT:
		bg_buf_addf(out, "%u", *AT(base, k->off, const unsigned));
		break;
	case K_BOOL:
		bg_buf_adds(out, *AT(base, k->off, const bool) ? "true" : "false");
		break;
	case K_DURATION:
		bg_duration_format(*AT(base, k->off, const uint64_t), dur);
		bg_buf_adds(out, dur);
		break;
	case K_ENUM:
		if (k->flags & F_ENUM_STR) {
			add_scalar(out, *AT(base, k->off, char *const));
		} else {
			int v = *AT(base, k->off, const int) - (int)k->min;
			add_scalar(out, v >= 0 ? k->defs[v] : NULL);
		}
		break;
	case K_STRLIST:
	case K_ARGV:
		add_list(out, AT(base, k->off, const struct bg_strv));
		break;
	default:
		break;
	}
	add_origin(out, loc);
}

static void explain_map(struct bg_buf *out, const struct key *table,
		const struct cfg__node *map, const void *base, const char *prefix)
{
	for (const struct key *k = table; k->name; k++) {
		char *path = bg_xasprintf("%s%s", prefix, k->name);
		explain_value(out, k, cfg__map_get(map, k->name), base, path);
		free(path);
	}
}

void cfg__explain_global(const struct cfg_global *g, const struct cfg__node *root,
		struct bg_buf *out)
{
	explain_map(out, global_keys, root, g, "");
}

void cfg__explain_site(const struct cfg_global *g, const struct cfg_site *s,
		const struct cfg__node *root, struct bg_buf *out)
{
	char *prefix = bg_xasprintf("sites.%s.", s->name);
	for (const struct key *k = site_keys; k->name; k++) {
		if (strcmp(k->name, "site") == 0) {
			continue; /* it is the name in the prefix */
		}
		char *path = bg_xasprintf("%s%s", prefix, k->name);
		explain_value(out, k, cfg__map_get(root, k->name), s, path);
		free(path);
	}
	free(prefix);
	(void)g;
}

/* ---- schema dump (for the agreement test) ---- */

static const char *json_type(const struct key *k)
{
	switch (k->type) {
	case K_MAP:
	case K_DEFAULTS:
	case K_ENV:
	case K_MOUNTS:
	case K_SERVICES:
		return "object";
	case K_INT:
		return "integer";
	case K_BOOL:
		return "boolean";
	case K_STRLIST:
	case K_ARGV:
	case K_MODULES:
		return "array";
	case K_LISTEN:
		return "integer|string";
	default:
		return "string";
	}
}

static void dump_default(struct bg_buf *out, const struct key *k)
{
	if (k->type == K_STRLIST || k->type == K_ARGV || k->type == K_MODULES) {
		if (!k->defs) {
			bg_buf_adds(out, "-");
			return;
		}
		bg_buf_addch(out, '[');
		for (size_t i = 0; k->defs[i]; i++) {
			if (i) {
				bg_buf_addch(out, ',');
			}
			bg_buf_add_json_str(out, k->defs[i]);
		}
		bg_buf_addch(out, ']');
	} else if (!k->def) {
		bg_buf_adds(out, "-");
	} else if (k->type == K_INT || k->type == K_BOOL) {
		bg_buf_adds(out, k->def);
	} else {
		bg_buf_add_json_str(out, k->def);
	}
}

static void dump_table(struct bg_strv *lines, const struct key *table, const char *prefix,
		bool defaults, enum cfg__kind kind)
{
	for (const struct key *k = table; k->name; k++) {
		if (defaults && (k->flags & F_NO_DEFAULTS)) {
			continue;
		}
		if (kind == CFG__PROFILE && (k->flags & F_GLOBAL_ONLY)) {
			continue;
		}
		struct bg_buf line = BG_BUF_INIT;
		char *path = bg_xasprintf("%s%s", prefix, k->name);
		bg_buf_addf(&line, "%s\t%s\t", path, json_type(k));
		dump_default(&line, k);
		bg_strv_push_take(lines, bg_buf_detach(&line, NULL));
		char *sub = bg_xasprintf("%s.", path);
		if (k->type == K_MAP) {
			dump_table(lines, k->sub, sub, defaults, kind);
		} else if (k->type == K_SERVICES) {
			char *star = bg_xasprintf("%s*.", sub);
			bg_strv_push_take(lines, bg_xasprintf("%s*\tobject\t-", sub));
			dump_table(lines, k->sub, star, defaults, kind);
			free(star);
		} else if (k->type == K_ENV) {
			bg_strv_push_take(lines, bg_xasprintf("%s*\tboolean|integer|number|string\t-",
					sub));
		} else if (k->type == K_MOUNTS) {
			bg_strv_push_take(lines, bg_xasprintf("%s*\tstring\t-", sub));
		} else if (k->type == K_DEFAULTS) {
			dump_table(lines, k->sub, sub, true, kind);
		}
		free(sub);
		free(path);
	}
}

void cfg__schema_dump(enum cfg__kind kind, struct bg_buf *out)
{
	struct bg_strv lines;
	bg_strv_init(&lines);
	dump_table(&lines, table_of(kind), "", false, kind);
	bg_strv_sort(&lines);
	for (size_t i = 0; i < lines.n; i++) {
		bg_buf_addf(out, "%s\n", lines.v[i]);
	}
	bg_strv_release(&lines);
}
