/*
 * chk-site: a site's checks run against one colour (see checks.h). Each
 * check asks every replica (or the edge, when the caller says so) and
 * fails on the first replica that does not pass, naming it: a gate must
 * say which container is wrong, and one bad replica of three is enough to
 * refuse the switch. Whatever a container said (a command's output, a log
 * line) goes through health_log_tail before it is kept, so the values of
 * the site's secret variables never reach a report, the terminal or the
 * journal. TCP checks connect with a deadline (bg_tcp_connect), never
 * the kernel's minutes-long default.
 */
#include "bg.h"
#include "checks.h"
#include "health.h"
#include "bg-util.h"
#include "bg-net.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <unistd.h>

/* Lines of a failing command's output a report keeps. */
#define CMD_LINES 5

int chk_tcp_run(const char *addr, unsigned port, uint64_t timeout_ms, char **why)
{
	int err = bg_tcp_connect(addr, port, timeout_ms, -1, why);
	return err && err != BG_EHEALTH ? BG_EHEALTH : err; /* a check's answer */
}

/* Where HTTP checks go: each replica's address, or the one base URL. */
struct http_bases {
	size_t n;
	char **urls;
	const char **who; /* names the replica in a failure, "" for the edge */
};

static void bases_build(const struct chk_target *t, struct http_bases *b)
{
	memset(b, 0, sizeof(*b));
	size_t n = t->base_url ? 1 : t->n;
	b->urls = bg_xcalloc(n ? n : 1, sizeof(*b->urls));
	b->who = bg_xcalloc(n ? n : 1, sizeof(*b->who));
	if (t->base_url) {
		b->urls[0] = bg_xstrdup(t->base_url);
		b->who[0] = "";
		b->n = 1;
		return;
	}
	for (size_t i = 0; i < t->n; i++) {
		const char *a = t->addrs ? t->addrs[i] : NULL;
		const char *at = t->http_at ? t->http_at[i] : NULL;
		if (at && *at) {
			b->urls[i] = bg_xasprintf("http://%s", at);
		} else {
			b->urls[i] = a && *a ? bg_xasprintf(strchr(a, ':') ? "http://[%s]:%u"
					: "http://%s:%u", a, t->port) : NULL;
		}
		b->who[i] = t->names[i];
	}
	b->n = t->n;
}

static void bases_release(struct http_bases *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->urls[i]);
	}
	free(b->urls);
	free(b->who);
}

static const char *host_of(const struct chk_target *t, enum cfg_check_target tg)
{
	if (tg == CFG_CHECK_PREVIEW && t->preview_host) {
		return t->preview_host;
	}
	return t->base_url ? t->host : NULL;
}

/* "web-green: WHY" (a replica) or WHY (the edge); takes why. */
static char *who_said(const char *who, char *why)
{
	char *r = who && *who ? bg_xasprintf("%s: %s", who, why ? why : "?")
			      : bg_xstrdup(why ? why : "?");
	free(why);
	return r;
}

static char *run_http_kind(const struct cfg_check *c, const struct chk_target *t)
{
	struct http_bases b;
	char *seen = NULL;

	bases_build(t, &b);
	for (size_t i = 0; i < b.n && !seen; i++) {
		char *why = NULL;
		if (!b.urls[i]) {
			seen = who_said(b.who[i], bg_xstrdup("no address on the network"));
			break;
		}
		if (c->kind == CFG_CHECK_HTTP) {
			struct chk_http h = {.method = c->http.method, .path = c->http.path,
				.status = c->http.status, .body_contains = c->http.body_contains,
				.body_not_contains = c->http.body_not_contains,
				.header = c->http.header, .max_ms = c->http.max_ms};
			chk_http_run(&h, b.urls[i], host_of(t, c->http.target), c->timeout_ms, &why);
		} else if (c->kind == CFG_CHECK_FORBIDDEN) {
			for (size_t k = 0; k < c->forbidden.n && !why; k++) {
				chk_forbidden_run(c->forbidden.v[k], b.urls[i], host_of(t,
						CFG_CHECK_CONTAINERS), c->timeout_ms, &why);
			}
		} else {
			chk_latency_run(c->latency.path, c->latency.requests, c->latency.p95_ms,
					b.urls[i], host_of(t, c->latency.target), c->timeout_ms,
					NULL, &why);
		}
		if (why) {
			seen = who_said(b.who[i], why);
		}
	}
	bases_release(&b);
	return seen;
}

static char *run_tcp(const struct cfg_check *c, const struct chk_target *t)
{
	unsigned port = c->tcp.port ? c->tcp.port : t->port;
	char *why = NULL;
	if (c->tcp.service) {
		for (size_t i = 0; i < t->n_svc; i++) {
			if (strcmp(t->svc_names[i], c->tcp.service) == 0) {
				chk_tcp_run(t->svc_addrs[i], port, c->timeout_ms, &why);
				return why ? who_said(c->tcp.service, why) : NULL;
			}
		}
		return bg_xasprintf("the site has no running service '%s'", c->tcp.service);
	}
	for (size_t i = 0; i < t->n; i++) {
		chk_tcp_run(t->addrs ? t->addrs[i] : NULL, port, c->timeout_ms, &why);
		if (why) {
			return who_said(t->names[i], why);
		}
	}
	return NULL;
}

static char *run_command(const struct cfg_check *c, const struct chk_target *t)
{
	if (!t->exec) {
		return bg_xstrdup("this runtime cannot run a command in a container");
	}
	for (size_t i = 0; i < t->n; i++) {
		struct bg_buf out = BG_BUF_INIT;
		char *why = NULL;
		int code = -1;
		int err = t->exec(t->arg, t->names[i], c->command.v, c->timeout_ms, &code, &out, &why);
		char *seen = NULL;
		if (err) {
			seen = who_said(t->names[i], why);
			why = NULL;
		} else if (code != 0) {
			char *tail = health_log_tail(out.data, out.len, t->env, CMD_LINES);
			for (char *p = tail; (p = strchr(p, '\n'));) {
				*p = '|'; /* one line per failure in a report */
			}
			seen = bg_xasprintf("%s: exit %d%s%s", t->names[i], code,
					*tail ? ", output: " : ", no output", tail);
			free(tail);
		}
		free(why);
		bg_buf_release(&out);
		if (seen) {
			return seen;
		}
	}
	return NULL;
}

/* The first line of text[0..len) that re matches, as it may be shown, or NULL. */
static char *first_match(const regex_t *re, const char *text, size_t len,
		const struct cfg_env *env)
{
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t l = nl ? (size_t)(nl - text - i) : len - i;
		char *line = bg_xstrndup(text + i, l);
		bool hit = regexec(re, line, 0, NULL, 0) == 0;
		free(line);
		if (hit) {
			return health_log_tail(text + i, l, env, 1);
		}
		i += l + 1;
	}
	return NULL;
}

static char *run_log(const struct cfg_check *c, const struct chk_target *t)
{
	regex_t re;
	char *seen = NULL;

	if (!t->logs) {
		return bg_xstrdup("this runtime cannot read a container's log");
	}
	if (regcomp(&re, c->log, REG_EXTENDED | REG_NOSUB) != 0) {
		return bg_xstrdup("the pattern does not compile"); /* validate refuses it first */
	}
	for (size_t i = 0; i < t->n && !seen; i++) {
		struct bg_buf out = BG_BUF_INIT;
		char *why = NULL;
		if (t->logs(t->arg, t->names[i], t->log_since, &out, &why) != 0) {
			seen = who_said(t->names[i], why);
		} else {
			char *line = first_match(&re, out.data ? out.data : "", out.len, t->env);
			seen = line ? bg_xasprintf("%s logged: %s", t->names[i], line) : NULL;
			free(line);
			free(why);
		}
		bg_buf_release(&out);
	}
	regfree(&re);
	return seen;
}

static char *run_one(const struct cfg_check *c, const struct chk_target *t)
{
	switch (c->kind) {
	case CFG_CHECK_HTTP:
	case CFG_CHECK_FORBIDDEN:
	case CFG_CHECK_LATENCY:
		return run_http_kind(c, t);
	case CFG_CHECK_TCP:
		return run_tcp(c, t);
	case CFG_CHECK_COMMAND:
		return run_command(c, t);
	case CFG_CHECK_LOG:
		return run_log(c, t);
	case CFG_CHECK_N_KINDS:
		break;
	}
	return bg_xstrdup("unknown kind of check");
}

int chk_site_run(const struct cfg_site *s, int phase, const struct chk_target *t,
		struct chk_report *out)
{
	memset(out, 0, sizeof(*out));
	bg_strv_init(&out->passed);
	out->fail = bg_xcalloc(s->n_checks ? s->n_checks : 1, sizeof(*out->fail));
	/* Phase order, then name (checks are sorted by name): log checks last
	 * within the run, so they judge every line the other checks caused. */
	for (int pass = 0; pass < 2; pass++) {
		for (int ph = 0; ph < CHK_PHASE_COUNT; ph++) {
			for (size_t i = 0; i < s->n_checks; i++) {
				const struct cfg_check *c = &s->checks[i];
				if (c->phase != ph || (phase >= 0 && c->phase != phase) ||
						(c->kind == CFG_CHECK_LOG) != (pass == 1)) {
					continue;
				}
				out->n_run++;
				char *seen = run_one(c, t);
				if (!seen) {
					bg_strv_push(&out->passed, c->name);
					continue;
				}
				struct chk_failure *f = &out->fail[out->n_fail++];
				f->name = bg_xstrdup(c->name);
				f->phase = (enum chk_phase)c->phase;
				f->kind = cfg_check_kind_name(c->kind);
				f->expected = cfg_check_describe(c);
				f->seen = seen;
			}
		}
	}
	return out->n_fail ? BG_EHEALTH : 0;
}

void chk_report_release(struct chk_report *r)
{
	if (!r) {
		return;
	}
	for (size_t i = 0; i < r->n_fail; i++) {
		free(r->fail[i].name);
		free(r->fail[i].expected);
		free(r->fail[i].seen);
	}
	free(r->fail);
	bg_strv_release(&r->passed);
	memset(r, 0, sizeof(*r));
}

char *chk_report_failures(const struct chk_report *r, const char *indent)
{
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < r->n_fail; i++) {
		const struct chk_failure *f = &r->fail[i];
		bg_buf_addf(&b, "%s%scheck %s (phase %s, %s): expected %s; seen %s", i ? "\n" : "",
				indent, f->name, chk_phase_name(f->phase), f->kind, f->expected,
				f->seen);
	}
	return bg_buf_detach(&b, NULL);
}
