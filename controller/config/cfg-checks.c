/*
 * cfg-checks: a site's `checks:` (issue 14), a mapping of check names to
 * checks, like the global `alerts:`. A mapping rather than a list so each
 * check has a name failures and the plan can quote, and so layers merge
 * key by key (ADR 0002): site_defaults can give every site a `no-debug`
 * check and one site can replace it by name. Each entry has a phase and
 * exactly one kind key (http, forbidden, latency, tcp, command, log); the
 * key rows live here with their value languages (a log pattern must
 * compile with regcomp), and the rules across keys that a row cannot say
 * (one kind, phase required) are reported with the entry's place. Also
 * the one-line description the plan prints and the canonical JSON the
 * plan's token covers.
 */
#include "bg.h"
#include "bg-util.h"
#include "cfg-int.h"

#include <regex.h>

/* The seeds' eight phases, in controller/probe/checks.h's order (t-checks
 * asserts the two lists agree). */
static const char *const phase_names[] = {
	"infrastructure", "container", "application", "functional",
	"ui", "integration", "performance", "security", NULL,
};

static const char *const kind_names[CFG_CHECK_N_KINDS] = {
	"http", "forbidden", "latency", "tcp", "command", "log",
};

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS",
	"PATCH", NULL};
static const char *const targets[] = {"containers", "preview", NULL};

const char *cfg_check_kind_name(enum cfg_check_kind k)
{
	return (unsigned)k < CFG_CHECK_N_KINDS ? kind_names[k] : "?";
}

bool cfg__check_name_valid(const char *s)
{
	return cfg_name_valid(s);
}

static bool printable(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) {
			return false;
		}
	}
	return true;
}

static bool path_valid(const char *s)
{
	if (s[0] != '/') {
		return false;
	}
	for (; *s; s++) {
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f) {
			return false;
		}
	}
	return true;
}

static bool text_valid(const char *s)
{
	return s[0] && printable(s);
}

/* "Name" or "Name: value": a token of header characters, then anything printable. */
static bool header_valid(const char *s)
{
	size_t n = strcspn(s, ":");
	if (!n) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;\\\"/[]?={}", c)) {
			return false;
		}
	}
	return printable(s);
}

static bool regex_valid(const char *s)
{
	regex_t re;
	if (!s[0] || !printable(s) || regcomp(&re, s, REG_EXTENDED | REG_NOSUB) != 0) {
		return false;
	}
	regfree(&re);
	return true;
}

#define C(field) offsetof(struct cfg_check, field)

static const struct cfg__key http_keys[] = {
	{.name = "path", .type = K_STR, .off = C(http.path), .def = "/", .check = path_valid,
		.expect = "a URL path starting with '/' such as /healthz",
		.doc = "path asked (query allowed)"},
	{.name = "method", .type = K_ENUM, .flags = F_ENUM_STR, .off = C(http.method),
		.defs = methods, .def = "GET", .doc = "HTTP method"},
	{.name = "status", .type = K_INT, .off = C(http.status), .min = 100, .max = 599,
		.doc = "status the answer must have; unset: any 2xx"},
	{.name = "body_contains", .type = K_STR, .off = C(http.body_contains),
		.check = text_valid, .expect = "a non-empty text",
		.doc = "text the body must contain"},
	{.name = "body_not_contains", .type = K_STR, .off = C(http.body_not_contains),
		.check = text_valid, .expect = "a non-empty text",
		.doc = "text the body must not contain"},
	{.name = "header", .type = K_STR, .off = C(http.header), .check = header_valid,
		.expect = "a header such as \"X-Backend: shop\" (the value a substring) or a "
			  "name alone",
		.doc = "a header the answer must carry"},
	{.name = "max_ms", .type = K_INT, .off = C(http.max_ms), .min = 1, .max = 3600000,
		.doc = "time budget of the answer in milliseconds; unset: none"},
	{.name = "target", .type = K_ENUM, .off = C(http.target), .defs = targets,
		.def = "containers",
		.doc = "containers: each replica's address; preview: the same with the preview "
		       "domain as Host"},
	{0},
};

static const struct cfg__key latency_keys[] = {
	{.name = "path", .type = K_STR, .off = C(latency.path), .def = "/", .check = path_valid,
		.expect = "a URL path starting with '/' such as /", .doc = "path asked"},
	{.name = "requests", .type = K_INT, .off = C(latency.requests), .def = "20", .min = 1,
		.max = 10000, .doc = "requests sent, one after another"},
	{.name = "p95_ms", .type = K_INT, .off = C(latency.p95_ms), .min = 1, .max = 3600000,
		.doc = "budget of the 95th percentile in milliseconds (required)"},
	{.name = "target", .type = K_ENUM, .off = C(latency.target), .defs = targets,
		.def = "containers", .doc = "containers or preview, as http.target"},
	{0},
};

static const struct cfg__key tcp_keys[] = {
	{.name = "service", .type = K_STR, .off = C(tcp.service),
		.check = cfg__service_name_valid, .expect = "the name of one of the site's services",
		.doc = "a service of the site; unset: the candidate's containers"},
	{.name = "port", .type = K_INT, .off = C(tcp.port), .min = 1, .max = 65535,
		.doc = "port that must accept a connection; unset: the site's port"},
	{0},
};

const struct cfg__key cfg__check_keys[] = {
	{.name = "phase", .type = K_ENUM, .off = C(phase), .defs = phase_names,
		.doc = "which of the eight validation phases the check belongs to (required)"},
	{.name = "http", .type = K_MAP, .sub = http_keys,
		.doc = "an HTTP request and what its answer must be"},
	{.name = "forbidden", .type = K_STRLIST, .flags = F_NONEMPTY, .off = C(forbidden),
		.check = path_valid,
		.expect = "a URL path such as /.git/ or /server-status",
		.doc = "paths that must not answer 2xx"},
	{.name = "latency", .type = K_MAP, .sub = latency_keys,
		.doc = "a latency budget over a number of requests"},
	{.name = "tcp", .type = K_MAP, .sub = tcp_keys,
		.doc = "a port that must accept a TCP connection"},
	{.name = "command", .type = K_ARGV, .flags = F_NONEMPTY, .off = C(command),
		.expect = "[/app/bin/selftest, --quick]",
		.doc = "argv run in each candidate container (exec, never a shell); exit 0 passes"},
	{.name = "log", .type = K_STR, .off = C(log), .check = regex_valid,
		.expect = "a POSIX extended regular expression such as \"FATAL|panic\"",
		.doc = "a candidate log line matching this during the gate fails the check"},
	{.name = "timeout", .type = K_DURATION, .flags = F_POSITIVE, .off = C(timeout_ms),
		.def = "5s", .doc = "time limit of one request, connection or command"},
	{0},
};

_Static_assert(sizeof(enum cfg_check_target) == sizeof(int), "enum as int");

/* The kind keys present in entry, as a bit set of enum cfg_check_kind. */
static unsigned kinds_present(const struct cfg__node *entry)
{
	unsigned set = 0;
	for (int k = 0; k < CFG_CHECK_N_KINDS; k++) {
		if (cfg__map_get(entry, kind_names[k])) {
			set |= 1u << k;
		}
	}
	return set;
}

void cfg__check_check(const struct cfg__node *entry, const char *path, struct bg_diag *d)
{
	unsigned set = kinds_present(entry);
	if (!cfg__map_get(entry, "phase")) {
		bg_diag_error(d, &entry->loc, "%s needs a phase: one of infrastructure, container, "
				"application, functional, ui, integration, performance, security",
				path);
	}
	if (!set) {
		bg_diag_error(d, &entry->loc, "%s needs one kind: http, forbidden, latency, tcp, "
				"command or log", path);
		return;
	}
	if (set & (set - 1)) {
		int first = __builtin_ctz(set);
		int second = __builtin_ctz(set & (set - 1));
		const struct cfg__pair *p = cfg__map_pair(entry, kind_names[second]);
		bg_diag_error(d, &p->key->loc, "%s has both %s and %s: one kind per check (add a "
				"second check for the other)", path, kind_names[first],
				kind_names[second]);
	}
	const struct cfg__node *lat = cfg__map_get(entry, "latency");
	if (lat && lat->kind == CFG__MAP && !cfg__map_get(lat, "p95_ms")) {
		bg_diag_error(d, &lat->loc, "%s.latency needs p95_ms: the budget in milliseconds",
				path);
	}
}

void cfg__check_finish(struct cfg_check *c, const struct cfg__node *entry)
{
	unsigned set = kinds_present(entry);
	c->kind = set ? (enum cfg_check_kind)__builtin_ctz(set) : CFG_CHECK_HTTP;
}

/* ---- what the plan shows, and what the token covers ---- */

static void add_quoted(struct bg_buf *b, const char *s)
{
	bg_buf_add_json_str(b, s);
}

static void describe_http(struct bg_buf *b, const struct cfg_check *c)
{
	bg_buf_addf(b, "%s %s", c->http.method ? c->http.method : "GET",
			c->http.path ? c->http.path : "/");
	if (c->http.status) {
		bg_buf_addf(b, " -> %u", c->http.status);
	} else {
		bg_buf_adds(b, " -> 2xx");
	}
	if (c->http.body_contains) {
		bg_buf_adds(b, ", body contains ");
		add_quoted(b, c->http.body_contains);
	}
	if (c->http.body_not_contains) {
		bg_buf_adds(b, ", body lacks ");
		add_quoted(b, c->http.body_not_contains);
	}
	if (c->http.header) {
		bg_buf_adds(b, ", header ");
		add_quoted(b, c->http.header);
	}
	if (c->http.max_ms) {
		bg_buf_addf(b, ", within %u ms", c->http.max_ms);
	}
	if (c->http.target == CFG_CHECK_PREVIEW) {
		bg_buf_adds(b, " (as the preview host)");
	}
}

char *cfg_check_describe(const struct cfg_check *c)
{
	struct bg_buf b = BG_BUF_INIT;
	switch (c->kind) {
	case CFG_CHECK_HTTP:
		describe_http(&b, c);
		break;
	case CFG_CHECK_FORBIDDEN:
		for (size_t i = 0; i < c->forbidden.n; i++) {
			bg_buf_addf(&b, "%s%s", i ? ", " : "", c->forbidden.v[i]);
		}
		bg_buf_adds(&b, " must not answer 2xx");
		break;
	case CFG_CHECK_LATENCY:
		bg_buf_addf(&b, "p95 of %u GET %s within %u ms", c->latency.requests,
				c->latency.path ? c->latency.path : "/", c->latency.p95_ms);
		break;
	case CFG_CHECK_TCP:
		bg_buf_addf(&b, "%s%s port ", c->tcp.service ? "service " : "candidate",
				c->tcp.service ? c->tcp.service : "");
		if (c->tcp.port) {
			bg_buf_addf(&b, "%u", c->tcp.port);
		} else {
			bg_buf_adds(&b, "(the site's)");
		}
		bg_buf_adds(&b, " accepts a connection");
		break;
	case CFG_CHECK_COMMAND:
		bg_buf_adds(&b, "exec [");
		for (size_t i = 0; i < c->command.n; i++) {
			bg_buf_addf(&b, "%s%s", i ? ", " : "", c->command.v[i]);
		}
		bg_buf_adds(&b, "] in each candidate container exits 0");
		break;
	case CFG_CHECK_LOG:
		bg_buf_adds(&b, "no candidate log line matches ");
		add_quoted(&b, c->log ? c->log : "");
		break;
	case CFG_CHECK_N_KINDS:
		break;
	}
	return bg_buf_detach(&b, NULL);
}

static void json_strv(struct bg_buf *b, const struct bg_strv *sv)
{
	bg_buf_addch(b, '[');
	for (size_t i = 0; i < sv->n; i++) {
		if (i) {
			bg_buf_addch(b, ',');
		}
		bg_buf_add_json_str(b, sv->v[i]);
	}
	bg_buf_addch(b, ']');
}

static void json_str_or_null(struct bg_buf *b, const char *s)
{
	if (s) {
		bg_buf_add_json_str(b, s);
	} else {
		bg_buf_adds(b, "null");
	}
}

/* Every field, whatever the kind: two checks that differ anywhere differ here. */
static void canonical_one(struct bg_buf *b, const struct cfg_check *c)
{
	bg_buf_adds(b, "{\"name\":");
	bg_buf_add_json_str(b, c->name);
	bg_buf_addf(b, ",\"phase\":%d,\"kind\":\"%s\",\"timeout_ms\":%" PRIu64, c->phase,
			cfg_check_kind_name(c->kind), c->timeout_ms);
	bg_buf_adds(b, ",\"http\":{\"method\":");
	json_str_or_null(b, c->http.method);
	bg_buf_adds(b, ",\"path\":");
	json_str_or_null(b, c->http.path);
	bg_buf_addf(b, ",\"status\":%u,\"body_contains\":", c->http.status);
	json_str_or_null(b, c->http.body_contains);
	bg_buf_adds(b, ",\"body_not_contains\":");
	json_str_or_null(b, c->http.body_not_contains);
	bg_buf_adds(b, ",\"header\":");
	json_str_or_null(b, c->http.header);
	bg_buf_addf(b, ",\"max_ms\":%u,\"target\":%d},\"forbidden\":", c->http.max_ms,
			(int)c->http.target);
	json_strv(b, &c->forbidden);
	bg_buf_adds(b, ",\"latency\":{\"path\":");
	json_str_or_null(b, c->latency.path);
	bg_buf_addf(b, ",\"requests\":%u,\"p95_ms\":%u,\"target\":%d},\"tcp\":"
			"{\"service\":", c->latency.requests, c->latency.p95_ms,
			(int)c->latency.target);
	json_str_or_null(b, c->tcp.service);
	bg_buf_addf(b, ",\"port\":%u},\"command\":", c->tcp.port);
	json_strv(b, &c->command);
	bg_buf_adds(b, ",\"log\":");
	json_str_or_null(b, c->log);
	bg_buf_addch(b, '}');
}

char *cfg_checks_canonical(const struct cfg_site *s)
{
	if (!s || !s->n_checks) {
		return NULL;
	}
	struct bg_buf b = BG_BUF_INIT;
	bg_buf_addch(&b, '[');
	for (size_t i = 0; i < s->n_checks; i++) {
		if (i) {
			bg_buf_addch(&b, ',');
		}
		canonical_one(&b, &s->checks[i]);
	}
	bg_buf_addch(&b, ']');
	return bg_buf_detach(&b, NULL);
}

void cfg__checks_release(struct cfg_check *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++) {
		free(c[i].name);
		free(c[i].http.method);
		free(c[i].http.path);
		free(c[i].http.body_contains);
		free(c[i].http.body_not_contains);
		free(c[i].http.header);
		bg_strv_release(&c[i].forbidden);
		free(c[i].latency.path);
		free(c[i].tcp.service);
		bg_strv_release(&c[i].command);
		free(c[i].log);
	}
	free(c);
}

static char *dup_or_null(const char *s)
{
	return s ? bg_xstrdup(s) : NULL;
}

size_t cfg_checks_copy(struct cfg_check **out, const struct cfg_check *c, size_t n,
		unsigned kinds)
{
	size_t k = 0;
	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		k += (kinds >> c[i].kind) & 1u;
	}
	if (!k) {
		return 0;
	}
	struct cfg_check *o = bg_xcalloc(k, sizeof(*o));
	k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!((kinds >> c[i].kind) & 1u)) {
			continue;
		}
		struct cfg_check *d = &o[k++];
		*d = c[i]; /* numbers and enums; every string is copied below */
		d->loc = (struct bg_loc){0}; /* its file name belongs to the config */
		d->name = dup_or_null(c[i].name);
		d->http.method = dup_or_null(c[i].http.method);
		d->http.path = dup_or_null(c[i].http.path);
		d->http.body_contains = dup_or_null(c[i].http.body_contains);
		d->http.body_not_contains = dup_or_null(c[i].http.body_not_contains);
		d->http.header = dup_or_null(c[i].http.header);
		bg_strv_init(&d->forbidden);
		bg_strv_copy(&d->forbidden, &c[i].forbidden);
		d->latency.path = dup_or_null(c[i].latency.path);
		d->tcp.service = dup_or_null(c[i].tcp.service);
		bg_strv_init(&d->command);
		bg_strv_copy(&d->command, &c[i].command);
		d->log = dup_or_null(c[i].log);
	}
	*out = o;
	return k;
}

void cfg_checks_free(struct cfg_check *c, size_t n)
{
	cfg__checks_release(c, n);
}
