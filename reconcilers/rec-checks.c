/*
 * rec-checks: see rec-checks.h. Addresses come from one inspect per
 * container, taken right before the checks run (a replica restarted by
 * its policy may have a new one). A service that is not running has no
 * address, and a tcp check on it fails saying so.
 */
#include "bg.h"
#include "rec-checks.h"

#include "bg-util.h"

static int exec_cb(void *arg, const char *name, char *const *argv, uint64_t timeout_ms,
		int *code, struct bg_buf *out, char **why)
{
	struct bg_diag d;
	bg_diag_init(&d);
	int err = rt_exec_check(arg, name, argv, timeout_ms, code, out, &d);
	if (err) {
		*why = err == BG_ETIMEOUT ? bg_xasprintf("did not finish within %" PRIu64 " ms",
				timeout_ms)
			: bg_xstrdup(d.n ? d.items[0].msg : bg_strerror(err));
	}
	bg_diag_release(&d);
	return err;
}

static void line_cb(void *arg, size_t index, enum dk_log_stream s, const char *line,
		size_t len)
{
	(void)index;
	(void)s;
	bg_buf_add(arg, line, len);
	bg_buf_addch(arg, '\n');
}

static int logs_cb(void *arg, const char *name, int64_t since, struct bg_buf *out, char **why)
{
	struct dk_logs_opts o = {.since = since > 0 ? since : 1};
	char *ids[] = {(char *)name, NULL};
	struct bg_diag d;
	bg_diag_init(&d);
	int err = rt_logs_stream(arg, ids, 1, &o, line_cb, out, &d);
	if (err) {
		*why = bg_xasprintf("cannot read its log: %s", d.n ? d.items[0].msg
				: bg_strerror(err));
	}
	bg_diag_release(&d);
	return err;
}

/* The address of the container called name on net (else net2), or NULL;
 * *at (when asked) where the runtime says this host reaches it instead
 * (RT_LABEL_PROBE: a Swarm task's published port), or NULL. */
static char *addr_of(struct rt *rt, const char *name, const char *net, const char *net2,
		char **at)
{
	struct obs_container c = {0};
	struct bg_diag d;
	char *ip = NULL;

	bg_diag_init(&d);
	if (rt_inspect(rt, name, &c, &d) == 0 && c.state == OBS_CSTATE_RUNNING) {
		const char *a = obs_container_ip(&c, net);
		if ((!a || !*a) && net2) {
			a = obs_container_ip(&c, net2);
		}
		ip = a && *a ? bg_xstrdup(a) : NULL;
		const char *p = obs_labels_get(&c.labels, RT_LABEL_PROBE);
		if (at && p && *p) {
			*at = bg_xstrdup(p);
		}
	}
	obs_container_release(&c);
	bg_diag_release(&d);
	return ip;
}

int rec_checks_colour(struct rt *rt, const struct desired *des, const struct des_site *s,
		const char *colour, int phase, int64_t log_since, const char *base_url,
		const char *host, struct chk_report *out, struct bg_diag *d)
{
	const struct cfg_site *cs = s->cfg;
	size_t n = cs->replicas, m = s->n_services;
	char **names = bg_xcalloc(n + 1, sizeof(*names));
	char **addrs = bg_xcalloc(n + 1, sizeof(*addrs));
	char **at = bg_xcalloc(n + 1, sizeof(*at));
	const char **svn = bg_xcalloc(m + 1, sizeof(*svn));
	char **sva = bg_xcalloc(m + 1, sizeof(*sva));

	(void)d;
	for (size_t r = 0; r < n; r++) {
		names[r] = des_colour_container_name(s->name, colour, (unsigned)r + 1);
		addrs[r] = addr_of(rt, names[r], des->edge_network, s->network, &at[r]);
	}
	for (size_t i = 0; i < m; i++) {
		svn[i] = s->services[i].cfg->name;
		sva[i] = addr_of(rt, s->services[i].container, s->network, NULL, NULL);
	}
	struct chk_target t = {
		.n = n, .names = (const char *const *)names, .addrs = (const char *const *)addrs,
		.port = cs->port, .http_at = (const char *const *)at, .base_url = base_url, .host = host,
		.preview_host = cs->preview, .n_svc = m, .svc_names = svn,
		.svc_addrs = (const char *const *)sva, .log_since = log_since, .env = &cs->env,
		.exec = exec_cb, .logs = logs_cb, .arg = rt,
	};
	int err = chk_site_run(cs, phase, &t, out);
	for (size_t r = 0; r < n; r++) {
		free(names[r]);
		free(addrs[r]);
		free(at[r]);
	}
	for (size_t i = 0; i < m; i++) {
		free(sva[i]);
	}
	free(names);
	free(addrs);
	free(at);
	free(svn);
	free(sva);
	return err;
}
