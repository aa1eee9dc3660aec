/*
 * checks: the release checks of issue 14, one request at a time. A check
 * asks a candidate something over HTTP (through its preview route with a
 * Host header, or at a container's address) and judges the answer: the
 * status, words the body must or must not contain, a response header, a
 * time budget. A forbidden path must not answer 2xx (a debug endpoint, a
 * .git directory). A latency check sends N requests and compares their
 * 95th percentile with a budget. Judging is pure (chk_*_judge,
 * chk_percentile) so the unit tests check it from fixtures; the runners
 * only fetch with libcurl and call the judge. Phases name where a check
 * belongs among the eight of the seeds' CI/CD rules (docs/checks.md).
 */
#ifndef BG_CONTROLLER_CHECKS_H
#define BG_CONTROLLER_CHECKS_H

#include "bg.h"
#include "bg-buf.h"
#include "cfg.h"

/* The seeds' eight validation phases, in their order. */
enum chk_phase {
	CHK_PHASE_INFRASTRUCTURE = 0,
	CHK_PHASE_CONTAINER,
	CHK_PHASE_APPLICATION,
	CHK_PHASE_FUNCTIONAL,
	CHK_PHASE_UI,
	CHK_PHASE_INTEGRATION,
	CHK_PHASE_PERFORMANCE,
	CHK_PHASE_SECURITY,
	CHK_PHASE_COUNT
};

const char *chk_phase_name(enum chk_phase ph);
/* The phase called name ("security"), or -1. */
int chk_phase_from_name(const char *name);

/* One HTTP check: what to ask and what the answer must be. */
struct chk_http {
	const char *method;            /* NULL: GET */
	const char *path;              /* "/healthz" (starts with '/') */
	unsigned status;               /* 0: any 2xx */
	const char *body_contains;     /* NULL: not checked */
	const char *body_not_contains; /* NULL: not checked */
	const char *header;            /* "Name: value" (value a substring), NULL: none */
	uint64_t max_ms;               /* 0: no time budget */
};

/* What came back (chk_fetch fills it; the judges only read it). */
struct chk_answer {
	long status;
	char *body;      /* NUL-terminated; at most CHK_BODY_MAX bytes kept */
	size_t body_len;
	bool truncated;  /* the body was longer than CHK_BODY_MAX */
	char *headers;   /* the raw header lines of the final answer */
	uint64_t ms;     /* total time */
};

#define CHK_BODY_MAX ((size_t)1 << 20)

/* Pure: NULL when the answer passes the check, else why not (a new string). */
char *chk_http_judge(const struct chk_http *c, const struct chk_answer *a);
/* Pure: NULL unless a forbidden path answered 2xx. */
char *chk_forbidden_judge(const char *path, const struct chk_answer *a);
/* Pure: the pct-th percentile (nearest rank) of ms[0..n); sorts ms. 0 when n is 0. */
uint64_t chk_percentile(uint64_t *ms, size_t n, unsigned pct);

/*
 * GET (or method) base_url + path, with "Host: host" when host is not
 * NULL, no redirects followed, no proxy, within timeout_ms. 0 with *a
 * filled (release it with chk_answer_release), or BG_EHEALTH with *why
 * (a new string) when no HTTP answer came at all.
 */
int chk_fetch(const char *base_url, const char *host, const char *method, const char *path,
		uint64_t timeout_ms, struct chk_answer *a, char **why);
void chk_answer_release(struct chk_answer *a);

/* Fetch and judge. 0 when the check passes; BG_EHEALTH with *why when not. */
int chk_http_run(const struct chk_http *c, const char *base_url, const char *host,
		uint64_t timeout_ms, char **why);
int chk_forbidden_run(const char *path, const char *base_url, const char *host,
		uint64_t timeout_ms, char **why);
/*
 * n GETs of path one after another; 0 when each answered 2xx and their
 * 95th percentile is within p95_ms. *p95 (may be NULL) gets the figure.
 */
int chk_latency_run(const char *path, unsigned n, uint64_t p95_ms, const char *base_url,
		const char *host, uint64_t timeout_ms, uint64_t *p95, char **why);

/*
 * ---- a site's checks (chk-site.c): every check of a site's `checks:`
 * (cfg.h struct cfg_check) run against one colour, each failure named.
 * The probe layer does not reach the engine: the caller passes what it
 * observed (container names and addresses) and two callbacks that exec
 * and read logs through its runtime (rec-checks.h wires rt in).
 */
struct chk_target {
	size_t n;                       /* replicas of the colour */
	const char *const *names;       /* their container names */
	const char *const *addrs;       /* their addresses (NULL or "": none known) */
	unsigned port;                  /* the site's port */
	/* Per replica, "host:port" where this host reaches its site port when
	 * the address above cannot be (a Swarm task's published port,
	 * RT_LABEL_PROBE); NULL or "": addrs and port. */
	const char *const *http_at;
	/*
	 * When set, http, forbidden and latency checks ask this base URL
	 * ("http://127.0.0.1:8080", the edge) once with Host host, instead
	 * of each replica's address: the post-switch window through the edge.
	 */
	const char *base_url;
	const char *host;
	const char *preview_host;       /* Host of target preview checks; NULL: none */
	size_t n_svc;                   /* the site's services, for tcp checks */
	const char *const *svc_names;
	const char *const *svc_addrs;
	int64_t log_since;              /* unix seconds: log lines from then on are judged */
	const struct cfg_env *env;      /* its secret values never appear in a report */
	/* Run argv in the container called name: 0 when it ran (*code its
	 * exit code, its output appended to out); else *why (a new string). */
	int (*exec)(void *arg, const char *name, char *const *argv, uint64_t timeout_ms,
			int *code, struct bg_buf *out, char **why);
	/* Append the log lines of name since `since` (unix s) to out. */
	int (*logs)(void *arg, const char *name, int64_t since, struct bg_buf *out, char **why);
	void *arg;
};

struct chk_failure {
	char *name;          /* the check's name */
	enum chk_phase phase;
	const char *kind;    /* "http", "forbidden", ... (static) */
	char *expected;      /* what the check asks (cfg_check_describe) */
	char *seen;          /* what was seen instead, secrets redacted */
};

struct chk_report {
	size_t n_run;            /* checks run */
	struct bg_strv passed;   /* names of those that passed, in run order */
	struct chk_failure *fail;
	size_t n_fail;
};

/*
 * Run every check of s whose phase is phase (-1: all), in the order of
 * the eight phases, then by name; every check runs even after a failure,
 * so a report names them all. out is initialised here (release it with
 * chk_report_release). 0 when all passed, BG_EHEALTH when one failed.
 */
int chk_site_run(const struct cfg_site *s, int phase, const struct chk_target *t,
		struct chk_report *out);
void chk_report_release(struct chk_report *r);
/* The report's failures, one line each ("check NAME (phase P, KIND):
 * expected ...; seen ..."), joined by "\n" + indent. A new string. */
char *chk_report_failures(const struct chk_report *r, const char *indent);

/* One TCP connection to addr:port within timeout_ms: 0, or BG_EHEALTH with *why. */
int chk_tcp_run(const char *addr, unsigned port, uint64_t timeout_ms, char **why);

#endif
