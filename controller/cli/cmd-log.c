/*
 * cmd-log: `bluegreen log [-f] [--lines N]`: the convergence log
 * (STATE_DIR/converge.log). With -f it follows: a libuv fs_event watch
 * (inotify) on the state directory wakes it when the file grows or is
 * rotated, with no polling; SIGINT/SIGTERM end it with exit 0.
 */
#include "bg.h"
#include "cli.h"
#include "clog.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

struct follow {
	struct cli *cli;
	char *path;
	int fd;
	ino_t ino;
	off_t off;
	uv_fs_event_t ev;
	uv_signal_t sigint, sigterm;
};

/* The log is opened like every file bluegreen reads: no link, no FIFO. */
static int log_open(const char *path)
{
	int fd = bg_file_open_regular(path, NULL, NULL);
	return fd < 0 ? -1 : fd;
}

static void drain(struct follow *f)
{
	char buf[8192];
	struct stat st;
	/* Rotated (new inode) or truncated: start again from the top of the new file. */
	if (stat(f->path, &st) == 0 && (st.st_ino != f->ino || st.st_size < f->off)) {
		if (f->fd >= 0) {
			close(f->fd);
		}
		f->fd = log_open(f->path);
		f->ino = st.st_ino;
		f->off = 0;
	}
	if (f->fd < 0) {
		f->fd = log_open(f->path);
		if (f->fd < 0) {
			return;
		}
		if (fstat(f->fd, &st) == 0) {
			f->ino = st.st_ino;
		}
	}
	for (;;) {
		ssize_t n = pread(f->fd, buf, sizeof(buf), f->off);
		if (n <= 0) {
			break;
		}
		fwrite(buf, 1, (size_t)n, f->cli->out);
		f->off += n;
	}
	fflush(f->cli->out);
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
	struct follow *f = h->data;
	if (status == 0 && (!filename || strncmp(filename, CLOG_NAME, strlen(CLOG_NAME)) == 0)) {
		drain(f);
	}
}

static void on_signal(uv_signal_t *h, int signum)
{
	uv_stop(h->loop);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h)) {
		uv_close(h, NULL);
	}
}

/* Print the last `lines` lines of the file and return the offset after it. */
static off_t print_tail(struct cli *cli, const char *path, size_t lines)
{
	char *data = NULL;
	size_t len = 0;
	if (bg_file_read(path, 512u * 1024 * 1024, &data, &len) != 0) {
		return 0;
	}
	size_t start = 0;
	if (lines) {
		/* Back from the end, past the final newline, to the lines-th newline. */
		size_t i = len, seen = 0;
		if (i && data[i - 1] == '\n') {
			i--;
		}
		while (i > 0) {
			if (data[i - 1] == '\n' && ++seen == lines) {
				break;
			}
			i--;
		}
		start = i;
	}
	fwrite(data + start, 1, len - start, cli->out);
	fflush(cli->out);
	free(data);
	return (off_t)len;
}

/* -f and --lines N into *follow and *lines; BG_EXIT_ERROR after printing. */
static int parse_args(int argc, char **argv, struct cli *cli, bool *follow, size_t *lines)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0) {
			*follow = true;
		} else if ((strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--lines") == 0) && i + 1 < argc) {
			*lines = (size_t)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--json") == 0) {
			continue;
		} else {
			return cli_usage_error(cli, "log: unexpected argument '%s' (usage: bluegreen log "
					"[-f] [-n LINES])", argv[i]);
		}
	}
	return 0;
}

/*
 * Watch dir (the state directory) and print what the log gains until
 * SIGINT/SIGTERM; every handle is closed before it returns. Returns
 * BG_EXIT_OK, or BG_EXIT_ERROR after printing why dir cannot be watched.
 */
static int follow_run(struct follow *f, const char *dir)
{
	int rc = BG_EXIT_OK;
	uv_loop_t loop;
	uv_loop_init(&loop);
	uv_fs_event_init(&loop, &f->ev);
	f->ev.data = f;
	int err = uv_fs_event_start(&f->ev, on_fs_event, dir, 0);
	if (err) {
		fprintf(f->cli->err, "bluegreen: error: cannot watch %s: %s\n", dir, uv_strerror(err));
		rc = BG_EXIT_ERROR;
	} else {
		uv_signal_init(&loop, &f->sigint);
		uv_signal_init(&loop, &f->sigterm);
		uv_signal_start(&f->sigint, on_signal, SIGINT);
		uv_signal_start(&f->sigterm, on_signal, SIGTERM);
		drain(f);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	uv_walk(&loop, close_walk, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return rc;
}

/*
 * -f after the tail: f->off is where the tail ended. Opens the log when it
 * exists (f->fd, closed by the caller) and follows it from there.
 */
static int log_follow(struct follow *f, const char *state_dir)
{
	struct stat st;
	if (stat(f->path, &st) == 0) {
		f->ino = st.st_ino;
		f->fd = log_open(f->path);
	}
	/*
	 * inotify needs the directory: create it when missing (as the first
	 * converger would), but never change an existing one (cli_env_load
	 * already refused one that is not trustworthy).
	 */
	struct bg_diag d;
	bg_diag_init(&d);
	if (bg_state_dir_prepare(state_dir, &d) != 0) {
		cli_print_diag(f->cli, &d);
		fprintf(f->cli->err, "bluegreen: error: cannot watch %s\n", state_dir);
		bg_diag_release(&d);
		return BG_EXIT_ERROR;
	}
	bg_diag_release(&d);
	return follow_run(f, state_dir);
}

int cmd_log(int argc, char **argv, struct cli *cli)
{
	struct cli_env env;
	struct follow f = {.cli = cli, .fd = -1};
	bool follow = false;
	size_t lines = 0;
	int rc;

	cli_env_init(&env);
	rc = parse_args(argc, argv, cli, &follow, &lines);
	if (rc) {
		goto out;
	}
	rc = cli_env_load(cli, &env, 0);
	if (rc) {
		goto out;
	}
	f.path = clog_path(env.cfg->g.state_dir);
	if (access(f.path, R_OK) != 0 && !follow) {
		fprintf(cli->err, "bluegreen: no convergence log yet (%s)\n", f.path);
		goto out;
	}
	f.off = print_tail(cli, f.path, lines);
	if (follow) {
		rc = log_follow(&f, env.cfg->g.state_dir);
	}
out:
	if (f.fd >= 0) {
		close(f.fd);
	}
	free(f.path);
	cli_env_release(&env);
	return rc;
}
