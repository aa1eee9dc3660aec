/*
 * cmd-logs: `bluegreen logs SITE [--colour C] [--service NAME] [-f]
 * [--since DUR] [--tail N] [--timestamps]`: the containers' own stdout and
 * stderr through the runtime (rt_logs_stream), merged across replicas.
 * Lines from stdout go to our stdout and lines from stderr to our stderr,
 * so `2>/dev/null` keeps one of them, as with `docker logs`. Several
 * containers (or a follow of the live colour, whose containers change at a
 * switch) get a "blue.1 | " prefix; one container's lines come bare. The
 * values of the site's secret variables are replaced with <redacted>
 * wherever they appear in a line: bluegreen never prints a secret, even one
 * an application logs. With --colour live and -f the follow survives a
 * switch: the live colour is observed again every second, and when it
 * changes the new colour's containers are followed from that moment, after
 * a line saying so. SIGINT/SIGTERM end a follow with exit 0.
 */
#include "bg.h"
#include "cli.h"
#include "desired.h"
#include "bg-log.h"

#include <signal.h>
#include <time.h>

#define RECHECK_MS 1000 /* how often a follow of the live colour looks again */
#define REDACT_MIN 4    /* shorter secret values would redact ordinary words */

struct logs_args {
	const char *site;
	const char *colour;  /* "blue" | "green" | "live" | "candidate" */
	const char *service; /* NULL: the colour's containers */
	bool follow, timestamps;
	int64_t since;       /* unix seconds, 0: all */
	size_t tail;         /* 0: all */
};

struct logs_run {
	struct cli *cli;
	struct cli_env *env;
	const struct logs_args *a;
	char *colour;            /* the colour being shown (live resolved) */
	struct bg_strv ids;      /* containers, by replica */
	struct bg_strv labels;   /* their prefixes: "blue.1", "db" */
	bool prefix;
	struct bg_strv secrets;  /* values to redact */
	int64_t next_check_ms;   /* live follow: when to observe again */
	int64_t last_seen_s;     /* live follow: when the colour was last seen live */
	bool switched;           /* live follow: the live colour changed */
};

static volatile sig_atomic_t logs_stop;

static void on_signal(int sig)
{
	(void)sig;
	logs_stop = 1;
}

static int usage_error(struct cli *cli, const char *what, const char *arg)
{
	return cli_usage_error(cli, "logs: %s '%s' (usage: bluegreen logs SITE [--colour "
			"blue|green|live|candidate] [--service NAME] [-f] [--since DURATION] "
			"[--tail N] [--timestamps])", what, arg);
}

/* "--opt VALUE" or "--opt=VALUE"; *i moves past what was taken. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n) == 0 && argv[*i][n] == '=') {
		return argv[*i] + n + 1;
	}
	if (strcmp(argv[*i], name) == 0 && *i + 1 < argc) {
		return argv[++*i];
	}
	return NULL;
}

static int parse_number(const char *s, size_t *out)
{
	char *end = NULL;
	unsigned long long v;
	if (!*s || *s == '-' || *s == '+') {
		return -1;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > SIZE_MAX) {
		return -1;
	}
	*out = (size_t)v;
	return 0;
}

static int parse_option(int argc, char **argv, int *i, struct cli *cli, struct logs_args *a)
{
	const char *v;
	uint64_t ms;

	if (strcmp(argv[*i], "-f") == 0 || strcmp(argv[*i], "--follow") == 0) {
		a->follow = true;
	} else if (strcmp(argv[*i], "--timestamps") == 0) {
		a->timestamps = true;
	} else if ((v = opt_value(argc, argv, i, "--colour")) != NULL) {
		if (strcmp(v, "blue") && strcmp(v, "green") && strcmp(v, "live") &&
				strcmp(v, "candidate")) {
			return usage_error(cli, "--colour takes blue, green, live or candidate, not", v);
		}
		a->colour = v;
	} else if ((v = opt_value(argc, argv, i, "--service")) != NULL) {
		a->service = v;
	} else if ((v = opt_value(argc, argv, i, "--tail")) != NULL) {
		if (parse_number(v, &a->tail) != 0 || a->tail == 0) {
			return usage_error(cli, "--tail takes a number of lines (1 or more), not", v);
		}
	} else if ((v = opt_value(argc, argv, i, "--since")) != NULL) {
		if (bg_duration_parse(v, &ms) != 0 || ms == 0) {
			return usage_error(cli, "--since takes a duration such as 30s, 10m, 2h or 1d, "
					"not", v);
		}
		a->since = (int64_t)time(NULL) - (int64_t)(ms / 1000);
		a->since = a->since > 0 ? a->since : 1;
	} else {
		return usage_error(cli, argv[*i][0] == '-' ? "unknown option" : "unexpected argument",
				argv[*i]);
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct cli *cli, struct logs_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		int rc;
		if (argv[i][0] != '-' && !a->site) {
			a->site = argv[i];
			continue;
		}
		rc = parse_option(argc, argv, &i, cli, a);
		if (rc) {
			return rc;
		}
	}
	if (!a->site) {
		return cli_usage_error(cli, "logs: which site? (usage: bluegreen logs SITE ...)");
	}
	if (a->service && a->colour) {
		return cli_usage_error(cli, "logs: --service and --colour do not go together "
				"(a service has no colour)");
	}
	if (cli->json) {
		return cli_usage_error(cli, "logs: prints the containers' own text; --json is "
				"not supported");
	}
	if (!a->colour) {
		a->colour = "live";
	}
	return 0;
}

static const char *live_colour(const struct obs *o, const char *site)
{
	const struct obs_edge *e = obs_edge_find(o, site);
	return e ? e->live : NULL;
}

static bool colour_has_spec(const struct obs *o, const char *site, const char *colour,
		const char *spec)
{
	for (size_t i = 0; i < o->n_containers; i++) {
		const struct obs_container *c = &o->containers[i];
		if (c->site && strcmp(c->site, site) == 0 && c->role &&
				strcmp(c->role, "colour") == 0 && c->colour &&
				strcmp(c->colour, colour) == 0 && c->spec &&
				strcmp(c->spec, spec) == 0) {
			return true;
		}
	}
	return false;
}

/* The colour holding the desired spec that is not live, or NULL after saying why. */
static const char *candidate_colour(struct logs_run *r)
{
	struct desired des;
	struct bg_diag d;
	const char *live = live_colour(&r->env->obs, r->a->site);
	const char *found = NULL;

	memset(&des, 0, sizeof(des));
	bg_diag_init(&d);
	if (des_build(&des, r->env->cfg, &r->env->obs, &d) == 0) {
		const struct des_site *s = des_site_find(&des, r->a->site);
		static const char *const colours[] = {"blue", "green"};
		for (size_t i = 0; s && i < 2 && !found; i++) {
			if ((!live || strcmp(live, colours[i]) != 0) &&
					colour_has_spec(&r->env->obs, r->a->site, colours[i], s->spec)) {
				found = colours[i];
			}
		}
	}
	if (!found) {
		fprintf(r->cli->err, "bluegreen: error: site '%s' has no candidate: no colour "
				"other than the live one runs the configured spec\n", r->a->site);
	}
	des_release(&des);
	bg_diag_release(&d);
	return found;
}

/* Fill r->ids and r->labels for the colour (or service) asked. */
static void pick_containers(struct logs_run *r)
{
	const struct obs *o = &r->env->obs;

	bg_strv_release(&r->ids);
	bg_strv_release(&r->labels);
	bg_strv_init(&r->ids);
	bg_strv_init(&r->labels);
	/* Replicas in order: containers are sorted by name, and "-10" sorts
	 * before "-2", so collect by replica number. */
	for (unsigned want = 1; want <= 1000; want++) {
		bool more = false;
		for (size_t i = 0; i < o->n_containers; i++) {
			const struct obs_container *c = &o->containers[i];
			if (!c->site || strcmp(c->site, r->a->site) != 0 || !c->role) {
				continue;
			}
			if (r->a->service) {
				if (want == 1 && strcmp(c->role, "service") == 0 && c->service &&
						strcmp(c->service, r->a->service) == 0) {
					bg_strv_push(&r->ids, c->id);
					bg_strv_push(&r->labels, c->service);
				}
				continue;
			}
			if (strcmp(c->role, "colour") != 0 || !c->colour ||
					strcmp(c->colour, r->colour) != 0) {
				continue;
			}
			more |= c->replica > want;
			if (c->replica == want) {
				bg_strv_push(&r->ids, c->id);
				char *l = bg_xasprintf("%s.%u", c->colour, c->replica);
				bg_strv_push(&r->labels, l);
				free(l);
			}
		}
		if (!more) {
			break;
		}
	}
}

/* Resolve --colour (live, candidate) into r->colour and its containers.
 * Returns 0 or BG_EXIT_ERROR after printing why. */
static int resolve(struct logs_run *r)
{
	const char *c = r->a->colour;

	free(r->colour);
	r->colour = NULL;
	if (!r->a->service && strcmp(c, "live") == 0) {
		c = live_colour(&r->env->obs, r->a->site);
		if (!c) {
			fprintf(r->cli->err, "bluegreen: error: site '%s' has no live colour yet "
					"(nothing was switched live; try --colour candidate)\n",
					r->a->site);
			return BG_EXIT_ERROR;
		}
	} else if (!r->a->service && strcmp(c, "candidate") == 0) {
		c = candidate_colour(r);
		if (!c) {
			return BG_EXIT_ERROR;
		}
	}
	r->colour = bg_xstrdup(c);
	pick_containers(r);
	if (r->ids.n == 0) {
		if (r->a->service) {
			fprintf(r->cli->err, "bluegreen: error: site '%s' has no container for "
					"service '%s' (not applied yet?)\n", r->a->site, r->a->service);
		} else {
			fprintf(r->cli->err, "bluegreen: error: site '%s' has no %s containers%s\n",
					r->a->site, r->colour, strcmp(r->a->colour, r->colour) != 0 ?
					"" : " (see `bluegreen status`)");
		}
		return BG_EXIT_ERROR;
	}
	return 0;
}

static void add_secrets(struct bg_strv *out, const struct cfg_env *env)
{
	for (size_t i = 0; i < env->n; i++) {
		const struct cfg_env_var *v = &env->v[i];
		if (v->secret && v->value && strlen(v->value) >= REDACT_MIN) {
			bg_strv_push(out, v->value);
		}
	}
}

static void on_line(void *arg, size_t index, enum dk_log_stream s, const char *line,
		size_t len)
{
	struct logs_run *r = arg;
	FILE *f = s == DK_LOG_STDERR ? r->cli->err : r->cli->out;
	struct bg_buf b = BG_BUF_INIT;

	if (r->prefix && index < r->labels.n) {
		bg_buf_addf(&b, "%s | ", r->labels.v[index]);
	}
	bg_buf_add_redacted(&b, line, len, (const char *const *)r->secrets.v, r->secrets.n);
	bg_buf_addch(&b, '\n');
	fwrite(b.data, 1, b.len, f);
	if (r->a->follow) {
		fflush(f);
	}
	bg_buf_release(&b);
}

/* Called by the stream about every 200 ms: Ctrl-C, and a switch. */
static bool on_tick(void *arg)
{
	struct logs_run *r = arg;
	int64_t now = bg_mono_ms();
	const char *live;

	if (logs_stop) {
		return true;
	}
	if (r->a->service || strcmp(r->a->colour, "live") != 0 || now < r->next_check_ms) {
		return false;
	}
	int64_t seen = (int64_t)time(NULL);
	r->next_check_ms = now + RECHECK_MS;
	if (cli_env_observe(r->cli, r->env) != 0) {
		return false; /* said why; the streams go on, we look again */
	}
	live = live_colour(&r->env->obs, r->a->site);
	bg_trace(EDGE, "logs: %s is live (following %s)", live ? live : "nothing", r->colour);
	if (live && strcmp(live, r->colour) != 0) {
		r->switched = true;
		return true;
	}
	r->last_seen_s = seen;
	return false;
}

/* Stream until the streams end, Ctrl-C, or (following live) a switch;
 * then follow the new live colour from the moment it was last seen old. */
static int logs_loop(struct logs_run *r, struct dk_logs_opts *opts)
{
	struct bg_diag d;
	int err;

	for (;;) {
		r->prefix = r->ids.n > 1 || (r->a->follow && !r->a->service &&
				strcmp(r->a->colour, "live") == 0);
		r->switched = false;
		r->next_check_ms = bg_mono_ms() + RECHECK_MS;
		r->last_seen_s = (int64_t)time(NULL);
		bg_diag_init(&d);
		err = rt_logs_stream(r->env->rt, r->ids.v, r->ids.n, opts, on_line, r, &d);
		fflush(r->cli->out);
		fflush(r->cli->err);
		if (err && !logs_stop) {
			cli_print_diag(r->cli, &d);
			if (d.n_errors == 0) {
				fprintf(r->cli->err, "bluegreen: error: logs: %s\n", bg_strerror(err));
			}
			bg_diag_release(&d);
			return BG_EXIT_ERROR;
		}
		bg_diag_release(&d);
		if (logs_stop || !r->a->follow || !r->switched) {
			return BG_EXIT_OK;
		}
		char *was = bg_xstrdup(r->colour);
		int rc = resolve(r);
		if (rc) {
			free(was);
			return rc;
		}
		fprintf(r->cli->err, "bluegreen: %s is live now (was %s): following %s\n",
				r->colour, was, r->colour);
		free(was);
		/* From when the old colour was last seen live: no line of the new
		 * one after the switch is missed (a few before it may show). */
		opts->since = r->last_seen_s - 1;
		opts->tail = 0;
	}
}

static int logs_prepare(struct cli *cli, struct cli_env *env, struct logs_run *r)
{
	const struct cfg_site *site;
	int rc = cli_env_load(cli, env, 0);

	if (!rc) {
		rc = cli_env_hist(cli, env, HIST_RDONLY);
	}
	if (!rc) {
		site = cfg_site_find(env->cfg, r->a->site);
		if (!site) {
			fprintf(cli->err, "bluegreen: error: logs: no site named '%s'\n", r->a->site);
			return BG_EXIT_ERROR;
		}
		bool known = !r->a->service;
		add_secrets(&r->secrets, &site->env);
		for (size_t i = 0; i < site->n_services; i++) {
			add_secrets(&r->secrets, &site->services[i].env);
			known |= r->a->service && strcmp(site->services[i].name, r->a->service) == 0;
		}
		if (!known) {
			fprintf(cli->err, "bluegreen: error: logs: site '%s' has no service named "
					"'%s'\n", r->a->site, r->a->service);
			return BG_EXIT_ERROR;
		}
		rc = cli_env_observe(cli, env);
	}
	return rc ? rc : resolve(r);
}

int cmd_logs(int argc, char **argv, struct cli *cli)
{
	struct logs_args a;
	struct cli_env env;
	struct logs_run r = {.cli = cli, .env = &env, .a = &a};
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	struct dk_logs_opts opts = {0};
	int rc;

	cli_env_init(&env);
	bg_strv_init(&r.ids);
	bg_strv_init(&r.labels);
	bg_strv_init(&r.secrets);
	rc = parse_args(argc, argv, cli, &a);
	if (!rc) {
		rc = logs_prepare(cli, &env, &r);
	}
	if (rc) {
		goto out;
	}
	opts = (struct dk_logs_opts){.follow = a.follow, .since = a.since, .tail = a.tail,
		.timestamps = a.timestamps, .tick = on_tick, .tick_arg = &r};
	/* No SA_RESTART: the stream's poll wakes at once to see the flag. */
	logs_stop = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	rc = logs_loop(&r, &opts);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
out:
	free(r.colour);
	bg_strv_release(&r.ids);
	bg_strv_release(&r.labels);
	bg_strv_release(&r.secrets);
	cli_env_release(&env);
	return rc;
}
