/*
 * cmd-history: `bluegreen history [SITE] [--limit N] [--details]`: the
 * journal, oldest first so the newest entry is the last line (what a
 * terminal shows), one line per entry: the first line of its details, and
 * how many more there are (a failed gate's log tail); --details shows
 * them indented under the entry. --json prints one JSON object per line
 * (docs/history.md), details whole.
 *
 * `history --verify` checks the journal's hash chain and names the first
 * broken entry; `history --export [FILE|-]` writes the stored records
 * verbatim, one per line, for a copy kept off the host; and
 * `history --verify --from FILE|-` checks such a copy without a state
 * directory or a configuration. Exit 0: intact; 1: broken, not chained
 * yet, or not checked (an error says why).
 */
#include "bg.h"
#include "cli.h"
#include "bg-util.h"

#include <fcntl.h>
#include <unistd.h>

/* An export read back for --verify --from: 1 GiB is millions of entries. */
#define EXPORT_READ_MAX ((size_t)1 << 30)

struct hist_print {
	struct cli *cli;
	size_t n;
	bool details; /* --details: every line of an entry's details, indented */
};

/* The lines of details after the first, indented under the row (control characters shown as '?'). */
static void print_more(FILE *out, const char *more)
{
	while (more && *more) {
		size_t n = strcspn(more, "\n");
		fputs("        | ", out);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)more[i];
			fputc(c == '\t' || (c >= 0x20 && c != 0x7f) ? c : '?', out);
		}
		fputc('\n', out);
		more += n + (more[n] == '\n');
	}
}

/* How many lines follow the first one. */
static size_t lines_after(const char *nl)
{
	size_t n = 0;
	while (nl && nl[1]) {
		n++;
		nl = strchr(nl + 1, '\n');
	}
	return n;
}

static int print_entry(const struct hist_entry *e, void *arg)
{
	struct hist_print *hp = arg;
	struct cli *cli = hp->cli;
	hp->n++;
	if (cli->json) {
		struct bg_buf b = BG_BUF_INIT;
		hist_entry_to_json(e, &b);
		fprintf(cli->out, "%s\n", b.data);
		bg_buf_release(&b);
		return 0;
	}
	char ts[32];
	bg_time_format_utc(e->time_ms, ts);
	const char *details = e->details ? e->details : "";
	const char *nl = strchr(details, '\n');
	int dl = nl ? (int)(nl - details) : (int)strlen(details);
	size_t more = lines_after(nl);
	/* The table keeps one line per entry; the rest is said, and shown with --details. */
	char *hint = more && !hp->details ? bg_xasprintf(" (+%zu line%s: history --details)",
			more, more == 1 ? "" : "s") : NULL;
	/* The sudo user is a claim: shown as one, beside the real user. */
	char *actor = e->sudo_user ? bg_xasprintf("%s (sudo: %s, claimed)",
			e->actor ? e->actor : "", e->sudo_user) : NULL;
	fprintf(cli->out, "%6" PRIu64 "  %s  %-18s %-13s %-10s %-10s %.16s  %.*s%s\n", e->seq, ts,
			actor ? actor : e->actor ? e->actor : "", e->action ? e->action : "",
			e->site ? e->site : "-", e->result ? e->result : "",
			e->token ? e->token : "-", dl, details, hint ? hint : "");
	if (hp->details && more) {
		print_more(cli->out, nl + 1);
	}
	free(hint);
	free(actor);
	return 0;
}

/* ---- --verify and --export ---- */

static void verify_print_json(struct cli *cli, const struct hist_verify *v)
{
	struct bg_buf b = BG_BUF_INIT;
	bg_buf_addf(&b, "{\"intact\":%s,\"entries\":%" PRIu64 ",\"head_seq\":%" PRIu64
			",\"head_sha256\":", v->brk == HIST_INTACT ? "true" : "false", v->entries,
			v->head_seq);
	if (v->head_hash[0]) {
		bg_buf_add_json_str(&b, v->head_hash);
	} else {
		bg_buf_adds(&b, "null");
	}
	bg_buf_adds(&b, ",\"break\":");
	if (v->brk == HIST_INTACT) {
		bg_buf_adds(&b, "null");
	} else {
		bg_buf_addf(&b, "{\"seq\":%" PRIu64 ",\"line\":", v->bad_seq);
		if (v->bad_line) {
			bg_buf_addf(&b, "%zu", v->bad_line);
		} else {
			bg_buf_adds(&b, "null");
		}
		bg_buf_adds(&b, ",\"problem\":");
		bg_buf_add_json_str(&b, hist_break_name(v->brk));
		bg_buf_adds(&b, ",\"why\":");
		bg_buf_add_json_str(&b, v->why);
		bg_buf_adds(&b, "}");
	}
	fprintf(cli->out, "%s}\n", b.data);
	bg_buf_release(&b);
}

/* What a check found; file is the export's name (NULL: the store). */
static int verify_report(struct cli *cli, const struct hist_verify *v, const char *file)
{
	if (cli->json) {
		verify_print_json(cli, v);
	}
	if (v->brk == HIST_INTACT) {
		if (!cli->json) {
			fprintf(cli->out, "the journal%s%s is intact: %" PRIu64 " entr%s",
					file ? " in " : "", file ? file : "", v->entries,
					v->entries == 1 ? "y" : "ies");
			if (v->entries) {
				fprintf(cli->out, ", head entry %" PRIu64 " sha256:%s", v->head_seq,
						v->head_hash);
			}
			fputc('\n', cli->out);
		}
		return BG_EXIT_OK;
	}
	if (file && v->bad_line) {
		fprintf(cli->err, "%s:%zu:1: error: %s\n", file, v->bad_line, v->why);
	} else if (v->brk == HIST_BREAK_UNCHAINED) {
		fprintf(cli->err, "bluegreen: error: %s\n", v->why);
	} else {
		fprintf(cli->err, "bluegreen: error: the journal%s%s is broken: %s\n",
				file ? " in " : "", file ? file : "", v->why);
	}
	return BG_EXIT_ERROR;
}

/* The whole of fd 0, for `--from -`. */
static int read_stdin(char **out, size_t *len)
{
	struct bg_buf b = BG_BUF_INIT;
	char chunk[65536];
	bg_buf_init(&b, EXPORT_READ_MAX);
	for (;;) {
		ssize_t r = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			bg_buf_release(&b);
			return BG_ERRNO(errno);
		}
		if (r == 0) {
			break;
		}
		int err = bg_buf_add(&b, chunk, (size_t)r);
		if (err) {
			bg_buf_release(&b);
			return err;
		}
	}
	*out = bg_buf_detach(&b, len);
	return 0;
}

static int verify_file(struct cli *cli, const char *from)
{
	struct hist_verify v;
	char *data = NULL;
	size_t len = 0;
	bool is_stdin = strcmp(from, "-") == 0;
	int err = is_stdin ? read_stdin(&data, &len) :
			bg_file_read(from, EXPORT_READ_MAX, &data, &len);
	if (err) {
		fprintf(cli->err, "bluegreen: error: cannot read the export %s: %s\n",
				is_stdin ? "on stdin" : from, bg_strerror(err));
		return BG_EXIT_ERROR;
	}
	hist_export_verify(data, len, &v);
	free(data);
	return verify_report(cli, &v, is_stdin ? "<stdin>" : from);
}

struct export_ctx {
	FILE *f;            /* stdout, streamed */
	struct bg_buf buf;  /* a FILE: written atomically at the end */
	uint64_t bad_seq;   /* a record that cannot be one line */
};

static int export_record(uint64_t seq, const void *rec, size_t len, void *arg)
{
	struct export_ctx *x = arg;
	/* bluegreen never writes a raw newline (JSON escapes it in strings). */
	if (memchr(rec, '\n', len)) {
		x->bad_seq = seq;
		return BG_EPARSE;
	}
	if (x->f) {
		if (fwrite(rec, 1, len, x->f) != len || fputc('\n', x->f) == EOF) {
			return BG_ERRNO(errno ? errno : EIO);
		}
		return 0;
	}
	int err = bg_buf_add(&x->buf, rec, len);
	return err ? err : bg_buf_addch(&x->buf, '\n');
}

/*
 * A new file only (O_EXCL, no link followed): for a directory others may
 * write, such as /tmp, where replacing a file atomically is refused.
 */
static int export_write_new(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	int err = 0;
	if (fd < 0) {
		return BG_ERRNO(errno);
	}
	while (len > 0) {
		ssize_t w = write(fd, data, len);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w < 0) {
			err = BG_ERRNO(errno);
			break;
		}
		data += w;
		len -= (size_t)w;
	}
	if (!err && fsync(fd) < 0) {
		err = BG_ERRNO(errno);
	}
	if (close(fd) < 0 && !err) {
		err = BG_ERRNO(errno);
	}
	if (err) {
		unlink(path);
	}
	return err;
}

/* FILE replaced atomically in a directory of ours, else created anew. */
static int export_write(struct cli *cli, const char *to, const struct bg_buf *b)
{
	const char *why = NULL;
	int err = bg_file_write_atomic_why(to, NULL, b->data, b->len, 0600, &why);
	if (err == BG_EREFUSED) {
		err = export_write_new(to, b->data, b->len);
		if (err == BG_ERRNO(EEXIST)) {
			fprintf(cli->err, "bluegreen: error: cannot export the journal to %s: it "
					"exists, and its directory is not private (%s), so it is not "
					"replaced: name a new file, or use a directory of your own\n", to,
					why ? why : "refused");
			return BG_EXIT_ERROR;
		}
		why = NULL;
	}
	if (err) {
		fprintf(cli->err, "bluegreen: error: cannot export the journal to %s: %s\n", to,
				why ? why : bg_strerror(err));
		return BG_EXIT_ERROR;
	}
	return 0;
}

static int export_run(struct cli *cli, struct cli_env *env, const char *to)
{
	struct export_ctx x = {.buf = BG_BUF_INIT};
	struct hist_verify v;
	bool to_stdout = strcmp(to, "-") == 0;
	int err;

	x.f = to_stdout ? cli->out : NULL;
	err = hist_journal_verify(env->hist, export_record, &x, &v);
	if (!err && to_stdout && fflush(cli->out) == EOF) {
		err = BG_ERRNO(errno);
	}
	if (!err && !to_stdout) {
		int rc = export_write(cli, to, &x.buf);
		if (rc) {
			bg_buf_release(&x.buf);
			return rc;
		}
	}
	bg_buf_release(&x.buf);
	if (err == BG_EPARSE && x.bad_seq) {
		fprintf(cli->err, "bluegreen: error: entry %" PRIu64 " holds a line break, which "
				"bluegreen never writes: it was changed; nothing was exported (run "
				"`bluegreen history --verify`)\n", x.bad_seq);
		return BG_EXIT_ERROR;
	}
	if (err) {
		fprintf(cli->err, "bluegreen: error: cannot export the journal to %s: %s%s\n",
				to_stdout ? "stdout" : to, bg_strerror(err),
				to_stdout ? "" : " (nothing was written)");
		return BG_EXIT_ERROR;
	}
	fprintf(cli->err, "bluegreen: exported %" PRIu64 " entr%s%s%s", v.entries,
			v.entries == 1 ? "y" : "ies", to_stdout ? "" : " to ", to_stdout ? "" : to);
	if (v.entries) {
		fprintf(cli->err, "; head entry %" PRIu64 " sha256:%s (keep it apart from the "
				"copy: only the head shows a removed last line)", v.head_seq, v.head_hash);
	}
	fputc('\n', cli->err);
	if (v.brk != HIST_INTACT) {
		fprintf(cli->err, "bluegreen: warning: exported as found, but the journal is not "
				"intact at entry %" PRIu64 " (%s): %s\n", v.bad_seq,
				hist_break_name(v.brk), v.why);
		return BG_EXIT_ERROR;
	}
	return BG_EXIT_OK;
}

/* ---- the verb ---- */

struct hist_args {
	const char *site;
	size_t limit;
	bool verify;
	const char *from;   /* --verify --from */
	const char *export; /* --export: FILE or "-" */
	bool details;       /* --details */
};

static int args_parse(int argc, char **argv, struct cli *cli, struct hist_args *a)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			continue;
		} else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
			char *end = NULL;
			long v = strtol(argv[++i], &end, 10);
			if (!end || *end || v < 1) {
				return cli_usage_error(cli, "history: --limit needs a positive number");
			}
			a->limit = (size_t)v;
		} else if (strcmp(argv[i], "--verify") == 0) {
			a->verify = true;
		} else if (strcmp(argv[i], "--details") == 0) {
			a->details = true;
		} else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
			a->from = argv[++i];
		} else if (strcmp(argv[i], "--export") == 0) {
			/* FILE is optional: stdout unless the next word is one. */
			a->export = i + 1 < argc && (argv[i + 1][0] != '-' ||
					strcmp(argv[i + 1], "-") == 0) ? argv[++i] : "-";
		} else if (argv[i][0] == '-' || a->site) {
			return cli_usage_error(cli, "history: unexpected argument '%s' (usage: "
					"bluegreen history [SITE] [--limit N] [--details] | --verify "
					"[--from FILE] | --export [FILE])", argv[i]);
		} else {
			a->site = argv[i];
		}
	}
	if ((a->verify || a->export) && (a->site || a->limit || a->details)) {
		return cli_usage_error(cli, "history: --verify and --export cover the whole "
				"journal: no SITE, --limit or --details with them");
	}
	if (a->verify && a->export) {
		return cli_usage_error(cli, "history: --verify or --export, not both (an export "
				"reports the chain's state too)");
	}
	if (a->from && !a->verify) {
		return cli_usage_error(cli, "history: --from FILE goes with --verify");
	}
	return 0;
}

int cmd_history(int argc, char **argv, struct cli *cli)
{
	struct cli_env env;
	struct hist_args a = {0};
	int rc;

	cli_env_init(&env);
	rc = args_parse(argc, argv, cli, &a);
	if (rc) {
		goto out;
	}
	if (a.from) {
		/* Offline: an exported copy needs no configuration or state. */
		rc = verify_file(cli, a.from);
		goto out;
	}
	rc = cli_env_load(cli, &env, 0);
	if (!rc) {
		rc = cli_env_hist(cli, &env, HIST_RDONLY);
	}
	if (rc) {
		goto out;
	}
	if (a.verify || a.export) {
		struct hist_verify v;
		if (a.export) {
			rc = export_run(cli, &env, a.export);
			goto out;
		}
		int err = hist_journal_verify(env.hist, NULL, NULL, &v);
		if (err) {
			fprintf(cli->err, "bluegreen: error: reading the history: %s\n",
					bg_strerror(err));
			rc = BG_EXIT_ERROR;
		} else {
			rc = verify_report(cli, &v, NULL);
		}
		goto out;
	}
	cli_report_interrupted(cli, &env);
	struct hist_print hp = {.cli = cli, .details = a.details};
	int err = hist_foreach(env.hist, a.site, 0, a.limit, print_entry, &hp);
	if (err) {
		fprintf(cli->err, "bluegreen: error: reading the history: %s\n", bg_strerror(err));
		rc = BG_EXIT_ERROR;
	} else if (hp.n == 0 && !cli->json) {
		fprintf(cli->err, "bluegreen: the history%s%s is empty\n", a.site ? " of " : "",
				a.site ? a.site : "");
	}
out:
	cli_env_release(&env);
	return rc;
}
