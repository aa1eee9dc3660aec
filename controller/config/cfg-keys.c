/*
 * cfg-keys: the one table of every configuration key (its type, default,
 * limits and doc line) and the value languages it names, the same as the
 * patterns in schema/: host names, image references, paths, ports. The
 * walkers over the table live beside it: cfg-check.c reports, cfg-bind.c
 * fills the typed structs of cfg.h, cfg-explain.c prints each leaf with
 * its origin. Because all three walk the same table, a key cannot be
 * checked but not bound, or bound but not explained. Also here: reading a
 * node as a key's type (shared by check and bind). The module list is in
 * cfg-module.c, the schema dump in cfg-schema.c.
 */
#include "bg.h"
#include "bg-util.h"
#include "cfg-int.h"

#include <ctype.h>
#include <limits.h>

/* ---- value checks (the same languages as the patterns in schema/) ---- */

static bool in_range(char c, const char *set)
{
	return c && strchr(set, c) != NULL;
}


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
	return name && word_valid(name, CFG__LOWER_DIGIT, CFG__LOWER_DIGIT "-", 40);
}

bool cfg__service_name_valid(const char *s)
{
	return cfg_name_valid(s) && !bg_str_has_prefix(s, "blue") &&
			!bg_str_has_prefix(s, "green");
}

bool cfg__volume_name_valid(const char *s)
{
	return word_valid(s, CFG__LOWER_DIGIT, CFG__LOWER_DIGIT "_.-", 40);
}

bool cfg__env_key_valid(const char *s)
{
	return word_valid(s, CFG__ALNUM "_", CFG__ALNUM "_.-", SIZE_MAX) && !isdigit((unsigned char)*s);
}

bool cfg__hostname_valid(const char *s)
{
	size_t total = strlen(s);
	if (total == 0 || total > 253) {
		return false;
	}
	for (;;) {
		size_t n = strspn(s, CFG__LOWER_DIGIT "-");
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
		while (i < len && in_range(p[i], CFG__LOWER_DIGIT)) {
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
		if (tl < 1 || tl > 128 || !in_range(tag[0], CFG__ALNUM "_")) {
			return false;
		}
		for (size_t i = 1; i < tl; i++) {
			if (!in_range(tag[i], CFG__ALNUM "_.-")) {
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
	size_t name = strspn(s, CFG__ALNUM ".-");
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

bool cfg__mount_target_valid(const char *s)
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
	return word_valid(s, CFG__ALNUM, CFG__ALNUM "_.-", 128);
}

static bool ident_valid(const char *s)
{
	return word_valid(s, CFG__ALNUM, CFG__ALNUM "_.-", 64);
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
	size_t host = strspn(p, CFG__ALNUM ".-");
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
bool cfg__port_range_valid(const char *s)
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
	return strspn(s, CFG__ALNUM ".-") == hl;
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

/* A directory nginx reads a file of as one unquoted word (auth_dir). */
static bool word_path_valid(const char *s)
{
	return s[0] && strlen(s) <= 1024 && strspn(s, CFG__ALNUM "/._+@-") == strlen(s);
}

/* A size as nginx writes it: digits, then optionally k, m or g (either case). */
static bool size_valid(const char *s)
{
	size_t n = strspn(s, "0123456789");
	if (n == 0 || n > 12) {
		return false;
	}
	return s[n] == '\0' || (strchr("kKmMgG", s[n]) && s[n + 1] == '\0');
}

uint64_t cfg_size_bytes(const char *s)
{
	if (!s || !size_valid(s)) {
		return 0;
	}
	char *end = NULL;
	uint64_t v = strtoull(s, &end, 10);
	switch (*end) {
	case 'k': case 'K': return v << 10;
	case 'm': case 'M': return v << 20;
	case 'g': case 'G': return v << 30;
	default: return v;
	}
}

/* A number of CPUs as Docker takes it: digits, optionally '.' and up to 3
 * more ("1", "0.5", "1.25"), above zero and at most 1024. */
static bool cpus_valid(const char *s)
{
	return cfg_cpus_nano(s) != 0;
}

uint64_t cfg_cpus_nano(const char *s)
{
	size_t n = s ? strspn(s, "0123456789") : 0;
	if (n == 0 || n > 4) {
		return 0;
	}
	uint64_t v = strtoull(s, NULL, 10) * 1000000000ull;
	if (s[n] == '.') {
		size_t f = strspn(s + n + 1, "0123456789");
		if (f == 0 || f > 3 || s[n + 1 + f] != '\0') {
			return 0;
		}
		uint64_t frac = strtoull(s + n + 1, NULL, 10);
		for (size_t i = f; i < 9; i++) {
			frac *= 10;
		}
		v += frac;
	} else if (s[n] != '\0') {
		return 0;
	}
	return v <= 1024 * 1000000000ull ? v : 0;
}

/* An e-mail address for an ACME account: one '@', no spaces or quotes. */
static bool email_valid(const char *s)
{
	const char *at = strchr(s, '@');
	return at && at != s && at[1] && !strchr(at + 1, '@') && strchr(at + 1, '.') &&
			printable_ascii(s) && !strpbrk(s, " \"'<>,;");
}

/* A user name for basic auth: no ':' (the htpasswd separator), no spaces. */
static bool auth_user_valid(const char *s)
{
	return word_valid(s, CFG__ALNUM, CFG__ALNUM "_.@-", 64);
}

bool cfg__module_entry_known(const char *s)
{
	return cfg_module_known(s[0] == '-' ? s + 1 : s);
}

/* ---- reading a node as a key's type (cfg-check.c reports, cfg-bind.c binds) ---- */

bool cfg__is_string(const struct cfg__node *n)
{
	return n->kind == CFG__SCALAR && cfg__scalar_type(n) == CFG__S_STR;
}

bool cfg__is_url(const char *s)
{
	return bg_str_has_prefix(s, "https://") || bg_str_has_prefix(s, "http://");
}

/* Decimal integers only (YAML's 0x/0o forms and floats are refused). */
bool cfg__parse_int(const struct cfg__node *n, long long min, long long max,
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

bool cfg__parse_bool(const struct cfg__node *n, bool *out)
{
	if (n->kind != CFG__SCALAR || cfg__scalar_type(n) != CFG__S_BOOL) {
		return false;
	}
	*out = n->str[0] == 't' || n->str[0] == 'T';
	return true;
}

bool cfg__parse_duration(const struct cfg__node *n, bool positive, uint64_t *out)
{
	if (!cfg__is_string(n)) {
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

int cfg__parse_enum(const struct cfg__key *k, const struct cfg__node *n)
{
	if (!cfg__is_string(n)) {
		return -1;
	}
	for (int i = 0; k->defs[i]; i++) {
		if (strcmp(k->defs[i], n->str) == 0) {
			return i;
		}
	}
	return -1;
}

bool cfg__parse_listen(const struct cfg__node *n, char **out)
{
	if (n->kind != CFG__SCALAR) {
		return false;
	}
	long long port;
	if (cfg__scalar_type(n) == CFG__S_INT) {
		if (!cfg__parse_int(n, 1, 65535, &port)) {
			return false;
		}
		if (out) {
			*out = bg_xasprintf("%lld", port);
		}
		return true;
	}
	if (!cfg__is_string(n) || !listen_text_valid(n->str)) {
		return false;
	}
	if (out) {
		*out = bg_xstrdup(n->str);
	}
	return true;
}

bool cfg__str_ok(const struct cfg__key *k, const struct cfg__node *n)
{
	bool number = (k->flags & F_NUMBER_OK) && n && n->kind == CFG__SCALAR &&
			(cfg__scalar_type(n) == CFG__S_INT || cfg__scalar_type(n) == CFG__S_FLOAT);
	if (!cfg__is_string(n) && !number) {
		return false;
	}
	if (k->type == K_PATH && n->str[0] == '\0') {
		return false;
	}
	return !k->check || k->check(n->str);
}

bool cfg__argv_item_ok(const struct cfg__node *it)
{
	if (it->kind != CFG__SCALAR) {
		return false;
	}
	enum cfg__stype t = cfg__scalar_type(it);
	return t == CFG__S_STR || t == CFG__S_INT || t == CFG__S_FLOAT;
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
const char *const cfg__def_redact[] = {"*SECRET*", "*PASSWORD*", "*PASSWD*",
		"*PASSPHRASE*", "*PGPASS*", "*TOKEN*", "*KEY*", "*CREDENTIAL*", "PASS", "PASS_*",
		"PASS[0-9]*", "*_PASS", "*_PASS_*", "*_PASS[0-9]*", "*PWD*", "PW", "PW_*", "*_PW",
		"*_PW_*", "*_PW[0-9]*", "AUTH", "AUTH[!O]*", "*_AUTH", "*_AUTH[!O]*",
		"*AUTHORIZATION*", "*AUTHPASS*", "*PRIVATE*", "*SALT*", "*DSN*", NULL};
static const char *const def_empty[] = {NULL};
static const char *const tls_modes[] = {"off", "auto", "files", NULL};
static const char *const def_certbot[] = {"certbot", NULL};
static const char *const backup_presets[] = {"custom", "mariadb", "mysql", "postgres", NULL};
static const char *const def_preview_allow[] = {"127.0.0.1/32", "::1/128", NULL};

#define HOSTNAME_EXPECT "a lowercase host name such as shop.example.com (no wildcards)"
#define IMAGE_EXPECT "a docker image reference such as registry.example.com/shop:1.4.2"

#define G(field) offsetof(struct cfg_global, field)
#define S(field) offsetof(struct cfg_site, field)
#define V(field) offsetof(struct cfg_service, field)

static const char *const docker_modes[] = {"engine", "swarm", NULL}; /* issue 17 */

static const struct cfg__key docker_keys[] = {
	{.name = "socket", .type = K_STR, .off = G(docker_socket),
		.def = "/var/run/docker.sock", .check = abs_path_valid,
		.expect = "an absolute path such as /var/run/docker.sock",
		.doc = "Docker Engine API socket"},
	/* issue 17 */
	{.name = "mode", .type = K_ENUM, .off = G(docker_mode), .defs = docker_modes,
		.def = "engine",
		.doc = "engine (containers on this engine) or swarm (each colour a Swarm "
		       "service with its replicas as tasks; the engine must be a swarm manager)"},
	{0},
};

static const struct cfg__key traefik_keys[] = {
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
		.doc = "certificate resolver for sites with tls.mode auto; also puts every router "
		       "of a site whose tls is off on TLS, as before sites had tls; unset: such "
		       "routers get no TLS section"},
	{.name = "http_entrypoint", .type = K_STR, .off = G(traefik.http_entrypoint),
		.check = ident_valid, .expect = "an entrypoint name such as web",
		.doc = "plain-HTTP entrypoint where sites with tls auto or files get their own "
		       "HTTP routers (redirect to HTTPS, or HTTP with tls.redirect false); "
		       "unset: none, HTTP is left to Traefik's static configuration"},
	{.name = "api", .type = K_STR, .off = G(traefik.api), .check = api_url_valid,
		.expect = "an http(s) URL such as http://127.0.0.1:8080",
		.doc = "Traefik API base URL, used to confirm that a switch was taken"},
	{0},
};

static const struct cfg__key nginx_keys[] = {
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
		.check = cfg__port_range_valid, .expect = "a range of ports such as 20000-29999",
		.doc = "host ports bluegreen publishes colours on (upstream: ports), on 127.0.0.1"},
	{.name = "listen_tls", .type = K_LISTEN, .off = G(nginx.listen_tls), .def = "443",
		.expect = "a port or host:port such as 443 or 127.0.0.1:8443",
		.doc = "value of the listen directive of the HTTPS server blocks"},
	{.name = "real_ip_from", .type = K_STRLIST, .off = G(nginx.real_ip_from),
		.defs = def_empty, .check = bg_cidr_valid, .expect = "a network such as 10.0.0.0/8",
		.doc = "trusted proxies in front of nginx (load balancer): the client address "
		       "is taken from their X-Forwarded-For; [] trusts none"},
	{.name = "group", .type = K_STR, .off = G(nginx.group), .def = "www-data",
		.check = ident_valid, .expect = "a group name such as www-data",
		.doc = "group of the nginx workers: the preview password files are written "
		       "0640 to this group"},
	{.name = "auth_dir", .type = K_PATH, .off = G(nginx.auth_dir), .off2 = G(nginx.auth_dir_rel),
		.def = "/etc/nginx/bluegreen-auth", .check = word_path_valid,
		.expect = "a path of letters, digits, '/', '.', '_', '+', '@' or '-'",
		.doc = "where the preview password files (htpasswd) are written; not conf_dir, "
		       "which nginx may load as configuration"},
	{0},
};

static const struct cfg__key acme_keys[] = {
	{.name = "email", .type = K_STR, .off = G(acme.email), .check = email_valid,
		.expect = "an e-mail address such as ops@example.com",
		.doc = "ACME account contact (expiry notices); required by tls.mode auto"},
	{.name = "directory", .type = K_STR, .off = G(acme.directory),
		.def = "https://acme-v02.api.letsencrypt.org/directory", .check = api_url_valid,
		.expect = "an https URL such as https://acme-v02.api.letsencrypt.org/directory",
		.doc = "ACME directory URL"},
	{.name = "staging", .type = K_BOOL, .off = G(acme.staging), .def = "false",
		.doc = "use Let's Encrypt's staging directory (untrusted certificates, "
		       "higher rate limits) instead of directory"},
	{.name = "ca_bundle", .type = K_PATH, .off = G(acme.ca_bundle), .off2 = G(acme.ca_bundle_rel),
		.check = bg_quoted_path_valid, .expect = "a path without '\"', '\\' or '$'",
		.doc = "CA certificates that the ACME directory's own certificate is checked "
		       "against (a test CA); unset: the system's"},
	{.name = "certbot", .type = K_ARGV, .flags = F_NONEMPTY, .off = G(acme.certbot),
		.defs = def_certbot, .expect = "[certbot]",
		.doc = "argv that runs certbot (never a shell string)"},
	{.name = "renew_days", .type = K_INT, .off = G(acme.renew_days), .def = "30",
		.min = 1, .max = 3650, .doc = "renew a certificate when fewer days are left"},
	{.name = "dir", .type = K_PATH, .off = G(acme.dir), .off2 = G(acme.dir_rel),
		.def = "/var/lib/bluegreen-acme", .check = bg_quoted_path_valid,
		.expect = "a path without '\"', '\\' or '$'",
		.doc = "certificates, certbot's state and the challenge webroot nginx serves"},
	{0},
};

static const struct cfg__key edge_keys[] = {
	{.name = "kind", .type = K_ENUM, .off = G(edge_kind), .defs = edge_kinds,
		.def = "traefik", .doc = "the edge proxy: traefik or nginx"},
	{.name = "network", .type = K_STR, .off = G(edge_network), .def = "bluegreen-edge",
		.check = network_valid, .expect = "a docker network name such as bluegreen-edge",
		.doc = "docker network the edge reaches containers on"},
	{.name = "traefik", .type = K_MAP, .sub = traefik_keys, .doc = "Traefik settings"},
	{.name = "nginx", .type = K_MAP, .sub = nginx_keys, .doc = "nginx settings"},
	{0},
};

static const struct cfg__key health_keys[] = {
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

static const struct cfg__key strategy_keys[] = {
	{.name = "promote", .type = K_ENUM, .off = S(promote), .defs = promotes,
		.def = "manual",
		.doc = "manual: a separate plan switches; auto: the apply switches once healthy"},
	{.name = "keep_previous", .type = K_BOOL, .off = S(keep_previous), .def = "true",
		.doc = "keep the previous colour running for instant rollback"},
	{.name = "drain", .type = K_DURATION, .off = S(drain_ms), .def = "5s",
		.doc = "wait after a switch before stopping the old colour"},
	{0},
};

static const struct cfg__key tls_keys[] = {
	{.name = "mode", .type = K_ENUM, .off = S(tls.mode), .defs = tls_modes, .def = "off",
		.doc = "off (HTTP only), auto (ACME) or files (cert and key given here)"},
	{.name = "cert", .type = K_STR, .off = S(tls.cert), .check = bg_quoted_path_valid,
		.expect = "a file name relative to the config directory, or absolute, without "
			  "'\"', '\\' or '$'",
		.doc = "mode files: certificate chain (PEM)"},
	{.name = "key", .type = K_STR, .off = S(tls.key), .check = bg_quoted_path_valid,
		.expect = "a file name relative to the config directory, or absolute, without "
			  "'\"', '\\' or '$'",
		.doc = "mode files: private key (PEM); its content is never read by bluegreen"},
	{.name = "hsts", .type = K_INT, .off = S(tls.hsts), .def = "0", .min = 0,
		.max = 63072000, .doc = "Strict-Transport-Security max-age in seconds; 0: no header"},
	{.name = "redirect", .type = K_BOOL, .off = S(tls.redirect), .def = "true",
		.doc = "redirect HTTP to HTTPS (308) once the certificate exists"},
	{0},
};

static const struct cfg__key site_edge_keys[] = {
	{.name = "max_body", .type = K_STR, .off = S(edge.max_body), .def = "64m",
		.check = size_valid, .expect = "a size such as 64m, 512k or 1g",
		.doc = "largest request body the edge passes on (uploads)"},
	{.name = "read_timeout", .type = K_DURATION, .flags = F_POSITIVE,
		.off = S(edge.read_timeout_ms), .def = "60s",
		.doc = "how long the edge waits for the container's answer"},
	{.name = "send_timeout", .type = K_DURATION, .flags = F_POSITIVE,
		.off = S(edge.send_timeout_ms), .def = "60s",
		.doc = "how long the edge waits while sending the request to the container"},
	{0},
};

static const struct cfg__key preview_auth_keys[] = {
	{.name = "user", .type = K_STR, .off = S(preview_auth.user), .check = auth_user_valid,
		.expect = "a user name of letters, digits, '.', '_', '@' or '-'",
		.doc = "user name asked on the preview host"},
	{.name = "password_file", .type = K_STR, .off = S(preview_auth.password_file),
		.check = nonempty, .expect = "a file name relative to the config directory",
		.doc = "file holding the password (first line); read like env_file, never printed"},
	{0},
};

static const struct cfg__key site_resources_keys[] = {
	{.name = "memory", .type = K_STR, .off = S(resources.memory), .check = size_valid,
		.expect = "a size such as 512m or 2g", .doc = "memory limit of each container (hard)"},
	{.name = "cpus", .type = K_STR, .flags = F_NUMBER_OK, .off = S(resources.cpus),
		.check = cpus_valid,
		.expect = "a number of CPUs such as 1, 0.5 or 1.5",
		.doc = "CPU limit of each container"},
	{.name = "pids", .type = K_INT, .off = S(resources.pids), .def = "0", .min = 0,
		.max = 4194304, .doc = "process limit of each container; 0: none"},
	{0},
};

static const struct cfg__key service_resources_keys[] = {
	{.name = "memory", .type = K_STR, .off = V(resources.memory), .check = size_valid,
		.expect = "a size such as 512m or 2g", .doc = "memory limit of the container (hard)"},
	{.name = "cpus", .type = K_STR, .flags = F_NUMBER_OK, .off = V(resources.cpus),
		.check = cpus_valid,
		.expect = "a number of CPUs such as 1, 0.5 or 1.5", .doc = "CPU limit of the container"},
	{.name = "pids", .type = K_INT, .off = V(resources.pids), .def = "0", .min = 0,
		.max = 4194304, .doc = "process limit of the container; 0: none"},
	{0},
};

static const struct cfg__key service_backup_keys[] = {
	{.name = "preset", .type = K_ENUM, .off = V(backup.preset), .defs = backup_presets,
		.def = "custom",
		.doc = "mariadb, mysql or postgres: ready-made command and restore; custom: as written"},
	{.name = "command", .type = K_ARGV, .off = V(backup.command), .defs = def_empty,
		.expect = "[mariadb-dump, --all-databases, --single-transaction]",
		.doc = "argv run in the service's container; writes the dump on stdout"},
	{.name = "restore", .type = K_ARGV, .off = V(backup.restore), .defs = def_empty,
		.expect = "[mariadb]",
		.doc = "argv run in the service's container; reads the dump on stdin"},
	{0},
};

static const struct cfg__key service_health_keys[] = {
	{.name = "tcp", .type = K_INT, .off = V(health.tcp), .def = "0", .min = 0, .max = 65535,
		.doc = "port that accepts a TCP connection once the service is ready; 0: none"},
	{.name = "command", .type = K_ARGV, .off = V(health.command), .defs = def_empty,
		.expect = "[mariadb-admin, ping]",
		.doc = "argv run in the service's container; exit 0 means ready"},
	{.name = "interval", .type = K_DURATION, .flags = F_POSITIVE,
		.off = V(health.interval_ms), .def = "1s", .doc = "time between checks"},
	{.name = "timeout", .type = K_DURATION, .flags = F_POSITIVE,
		.off = V(health.timeout_ms), .def = "2s", .doc = "time limit of one check"},
	{.name = "retries", .type = K_INT, .off = V(health.retries), .def = "60",
		.min = 1, .max = UINT32_MAX, .doc = "checks before the service is declared unhealthy"},
	{0},
};

static const struct cfg__key site_backup_keys[] = {
	{.name = "before_switch", .type = K_BOOL, .off = S(backup.before_switch),
		.doc = "back up before a switch or a service change; default true in "
		       "install_mode production, false otherwise"},
	{.name = "keep", .type = K_INT, .off = S(backup.keep), .def = "10", .min = 1,
		.max = 10000, .doc = "newest complete backups kept"},
	{.name = "max_age", .type = K_DURATION, .off = S(backup.max_age_ms), .def = "30d",
		.doc = "backups older than this are pruned (never the last good one); 0s: no limit"},
	{0},
};

static const struct cfg__key service_keys[] = {
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
	{.name = "backup", .type = K_MAP, .sub = service_backup_keys,
		.doc = "how the service's data is dumped and restored"},
	{.name = "health", .type = K_MAP, .sub = service_health_keys,
		.doc = "when the service counts as ready for the site's containers"},
	{.name = "resources", .type = K_MAP, .sub = service_resources_keys,
		.doc = "limits of the service's container"},
	{0},
};


/* Issue 14: `verify:`, the watch window after a switch (docs/checks.md). */
static const char *const verify_failures[] = {"alert", "revert", NULL};

static const struct cfg__key verify_keys[] = {
	{.name = "window", .type = K_DURATION, .off = S(verify.window_ms), .def = "0s",
		.doc = "how long the daemon watches the live colour after a switch; 0: no window"},
	{.name = "compare", .type = K_BOOL, .off = S(verify.compare), .def = "true",
		.doc = "fail when the live colour's p95 latency is more than 20 % above the "
		       "previous colour's, measured the same way at the same time"},
	{.name = "on_failure", .type = K_ENUM, .off = S(verify.on_failure),
		.defs = verify_failures, .def = "alert",
		.doc = "alert: alert, and the next plan proposes the rollback; revert: the "
		       "daemon switches back at once (auto-revert)"},
	{.name = "interval", .type = K_DURATION, .flags = F_POSITIVE,
		.off = S(verify.interval_ms), .def = "1s", .doc = "time between two samples"},
	{.name = "timeout", .type = K_DURATION, .flags = F_POSITIVE,
		.off = S(verify.timeout_ms), .def = "2s",
		.doc = "time limit of one request; slower is an error"},
	{.name = "error_rate", .type = K_INT, .off = S(verify.error_rate), .def = "10",
		.min = 0, .max = 100,
		.doc = "percent of the samples through the edge that may fail (5xx, no answer)"},
	{.name = "min_requests", .type = K_INT, .off = S(verify.min_requests), .def = "5",
		.min = 1, .max = 100000,
		.doc = "samples needed before the error rate can fail the window early"},
	{.name = "latency_slack", .type = K_DURATION, .off = S(verify.slack_ms), .def = "20ms",
		.doc = "a p95 degradation also needs this many milliseconds (timer noise)"},
	{0},
};

static const struct cfg__key site_keys[] = {
	{.name = "site", .type = K_STR, .flags = F_REQUIRED | F_NO_DEFAULTS, .off = S(name),
		.check = cfg_name_valid, .expect = CFG__NAME_EXPECT,
		.doc = "the site's name; must match the file name sites/NAME.conf"},
	{.name = "domains", .type = K_STRLIST, .flags = F_REQUIRED | F_NO_DEFAULTS | F_NONEMPTY,
		.off = S(domains), .check = cfg__hostname_valid, .expect = HOSTNAME_EXPECT,
		.doc = "host names served by the live colour"},
	{.name = "preview", .type = K_STR, .flags = F_NO_DEFAULTS, .off = S(preview),
		.check = cfg__hostname_valid, .expect = HOSTNAME_EXPECT,
		.doc = "host name routed to the candidate colour"},
	{.name = "image", .type = K_STR, .flags = F_REQUIRED | F_NO_DEFAULTS | F_UNLESS_KIND,
		.off = S(image),
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
	{.name = "tls", .type = K_MAP, .sub = tls_keys, .doc = "HTTPS for the site's domains"},
	{.name = "redirect_to", .type = K_STR, .flags = F_NO_DEFAULTS, .off = S(redirect_to),
		.check = cfg__hostname_valid, .expect = HOSTNAME_EXPECT,
		.doc = "one of domains: requests for the others are redirected to it (308), "
		       "e.g. www to apex"},
	{.name = "edge", .type = K_MAP, .sub = site_edge_keys,
		.doc = "request limits at the edge (body size, timeouts)"},
	{.name = "preview_auth", .type = K_MAP, .sub = preview_auth_keys,
		.doc = "basic auth on the preview host"},
	{.name = "preview_allow", .type = K_STRLIST, .off = S(preview_allow),
		.defs = def_preview_allow, .check = bg_cidr_valid,
		.expect = "a network such as 10.0.0.0/8",
		.doc = "networks the preview host answers without credentials; others get "
		       "403, or are asked for preview_auth when it is set"},
	{.name = "backup", .type = K_MAP, .sub = site_backup_keys,
		.doc = "backups before a switch, and how many are kept"},
	{.name = "resources", .type = K_MAP, .sub = site_resources_keys,
		.doc = "limits of each colour container"},
	{.name = "promotion", .type = K_MAP, .sub = cfg__promotion_keys,
		.doc = "attestations a candidate's image needs before it is planned"},
	{.name = "checks", .type = K_CHECKS, .off = S(checks), .off2 = S(n_checks),
		.sub = cfg__check_keys,
		.doc = "release checks the gate runs on a candidate before the switch (issue 14)"},
	/* issue 16: modules (cfg-module.c) */
	{.name = "kind", .type = K_STR, .flags = F_NO_DEFAULTS, .off = S(kind),
		.check = cfg__site_kind_valid, .expect = "a site kind such as wordpress",
		.doc = "a module's site kind: the module expands the site (docs/modules.md)"},
	{.name = "wordpress", .type = K_MAP, .sub = cfg__wordpress_keys,
		.doc = "kind wordpress: version and images (docs/modules.md)"},
	{.name = "verify", .type = K_MAP, .sub = verify_keys,
		.doc = "the watch window after a switch, and what a failed one does"},
	{.name = "secrets", .type = K_MAP, .sub = cfg__secrets_keys, /* issue 17 */
		.doc = "secret env values as env, or as Swarm secret files (docker.mode swarm)"},
	{0},
};

static const struct cfg__key global_keys[] = {
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
	{.name = "acme", .type = K_MAP, .sub = acme_keys,
		.doc = "certificates for sites with tls.mode auto (nginx edge: certbot)"},
	{.name = "redact", .type = K_STRLIST, .off = G(redact), .defs = cfg__def_redact,
		.check = glob_valid, .expect = "a glob such as *SECRET*",
		.doc = "extra env keys whose values are never printed (case-insensitive shell "
		       "globs: *, ?, [0-9], [!O]); added to the defaults, which always apply"},
	{.name = "alerts", .type = K_ALERTS, .off = G(alerts), .off2 = G(n_alerts),
		.sub = cfg__alert_keys,
		.doc = "where events (gate-failed, drift, ...) are sent: name -> webhook or command"},
	{.name = "cockpit", .type = K_MAP, .flags = F_GLOBAL_ONLY, .sub = cfg__cockpit_keys,
		.doc = "the web cockpit (issue 15): listen address, mode, users, TLS, proxies"},
	{.name = "site_defaults", .type = K_DEFAULTS, .sub = site_keys,
		.doc = "site keys applied under every site file"},
	{0},
};

_Static_assert(sizeof(enum cfg_install_mode) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum cfg_edge_kind) == sizeof(int), "enum as int");
_Static_assert(sizeof(enum cfg_promote) == sizeof(int), "enum as int");

const struct cfg__key *cfg__keys_of(enum cfg__kind kind)
{
	return kind == CFG__SITE ? site_keys : global_keys;
}

const struct cfg__key *cfg__key_find(const struct cfg__key *t, const char *name)
{
	for (; t->name; t++) {
		if (strcmp(t->name, name) == 0) {
			return t;
		}
	}
	return NULL;
}
