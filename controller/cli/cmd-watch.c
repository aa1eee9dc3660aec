/*
 * cmd-watch: `bluegreen watch [--debounce MS]`, the reconciling daemon
 * (watch.h). It runs in the foreground, prints plans and convergence on
 * stdout (journald or a terminal), and exits 0 on SIGTERM or SIGINT; see
 * docs/watch.md and examples/systemd/bluegreen.service.
 *
 * The daemon prints through the struct watch_printer made here from the
 * CLI's own functions, so that what it prints (diagnostics, plans, the
 * answer to a control-socket client) is byte for byte what the verbs print.
 */
#include "bg.h"
#include "bg-buf.h"
#include "apply.h"
#include "cli.h"
#include "watch.h"

static void print_diag(void *arg, const struct bg_diag *d)
{
	cli_print_diag(arg, d);
}

static void print_plan(void *arg, const struct cfg *cfg, struct hist *h, struct plan *p)
{
	cli_plan_exec_compare(arg, h, p);
	cli_plan_print(arg, cfg, p);
}

/* Close a memory stream and move what it holds into to (*data and *len are final only now). */
static void stream_take(FILE *f, char **data, size_t *len, struct bg_buf *to)
{
	fclose(f);
	bg_buf_add(to, *data, *len);
	free(*data);
	*data = NULL;
}

/*
 * What `bluegreen apply` would have printed had it converged itself
 * (cli_converge), rendered with the same functions over a struct cli
 * whose streams are memory, with the client's --json and colour.
 */
static void print_reply(void *arg, const struct cfg *cfg, const struct apply_outcome *o,
		const struct bg_diag *d, bool json, bool color, struct bg_buf *out,
		struct bg_buf *err)
{
	char *obuf = NULL, *ebuf = NULL;
	size_t olen = 0, elen = 0;
	FILE *mo = open_memstream(&obuf, &olen);
	FILE *me = open_memstream(&ebuf, &elen);

	(void)arg;
	if (!mo || !me) {
		BG_BUG("open_memstream: out of memory");
	}
	struct cli mc = {.out = mo, .err = me, .json = json, .color = color};
	if (o->exit == BG_EXIT_OK) {
		fprintf(mo, "%s\n", o->message ? o->message : "done");
	} else {
		cli_print_diag(&mc, d);
		fprintf(me, "bluegreen: %s\n", o->message ? o->message : "failed");
		if (o->exit == BG_EXIT_TOKEN && o->have_plan) {
			fputc('\n', mo);
			cli_plan_print(&mc, cfg, &o->plan);
		}
	}
	stream_take(mo, &obuf, &olen, out);
	stream_take(me, &ebuf, &elen, err);
}

int cmd_watch(int argc, char **argv, struct cli *cli)
{
	struct watch_opts opts = {0};

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--debounce") == 0 && i + 1 < argc) {
			char *end = NULL;
			unsigned long long ms = strtoull(argv[++i], &end, 10);
			if (!end || *end || ms < 1 || ms > 60000) {
				return cli_usage_error(cli, "watch: --debounce takes milliseconds in "
						"1..60000, not '%s'", argv[i]);
			}
			opts.debounce_ms = ms;
		} else if (strcmp(argv[i], "--json") == 0) {
			return cli_usage_error(cli, "watch: --json is not supported: the daemon "
					"prints text (plans as `bluegreen plan` shows them); use "
					"`bluegreen plan --json` or `bluegreen history --json`");
		} else {
			return cli_usage_error(cli, "watch: unexpected argument '%s' (usage: "
					"bluegreen watch [--debounce MS])", argv[i]);
		}
	}
	if (cli->json) {
		return cli_usage_error(cli, "watch: --json is not supported: the daemon prints "
				"text; use `bluegreen plan --json` or `bluegreen history --json`");
	}
	const struct watch_printer pr = {
		.arg = cli, .out = cli->out, .err = cli->err,
		.diag = print_diag, .plan = print_plan, .reply = print_reply,
	};
	char *dir = NULL;
	int rc = cli_config_dir(cli, &dir);
	if (rc == 0) {
		rc = watch_run(&opts, dir, &pr);
	}
	free(dir);
	return rc;
}
