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

int cmd_log(int argc, char **argv, struct cli *cli)
{
	struct cli_env env;
	bool follow = false;
	size_t lines = 0;
	int rc;

	cli_env_init(&env);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--follow") == 0) {
			follow = true;
		} else if ((strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--lines") == 0) && i + 1 < argc) {
			lines = (size_t)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--json") == 0) {
			continue;
		} else {
			rc = cli_usage_error(cli, "log: unexpected argument '%s' (usage: bluegreen log "
					"[-f] [-n LINES])", argv[i]);
			goto out;
		}
	}
	rc = cli_env_load(cli, &env, 0);
	if (rc) {
		goto out;
	}
	char *path = clog_path(env.cfg->g.state_dir);
	struct follow f = {.cli = cli, .path = path, .fd = -1};
	if (access(path, R_OK) != 0 && !follow) {
		fprintf(cli->err, "bluegreen: no convergence log yet (%s)\n", path);
		free(path);
		goto out;
	}
	f.off = print_tail(cli, path, lines);
	if (!follow) {
		free(path);
		goto out;
	}
	struct stat st;
	if (stat(path, &st) == 0) {
		f.ino = st.st_ino;
		f.fd = log_open(path);
	}
	/*
	 * inotify needs the directory: create it when missing (as the first
	 * converger would), but never change an existing one (cli_env_load
	 * already refused one that is not trustworthy).
	 */
	struct bg_diag d;
	bg_diag_init(&d);
	if (bg_state_dir_prepare(env.cfg->g.state_dir, &d) != 0) {
		cli_print_diag(cli, &d);
		fprintf(cli->err, "bluegreen: error: cannot watch %s\n", env.cfg->g.state_dir);
		bg_diag_release(&d);
		free(path);
		rc = BG_EXIT_ERROR;
		goto out;
	}
	bg_diag_release(&d);
	uv_loop_t loop;
	uv_loop_init(&loop);
	uv_fs_event_init(&loop, &f.ev);
	f.ev.data = &f;
	int err = uv_fs_event_start(&f.ev, on_fs_event, env.cfg->g.state_dir, 0);
	if (err) {
		fprintf(cli->err, "bluegreen: error: cannot watch %s: %s\n", env.cfg->g.state_dir,
				uv_strerror(err));
		rc = BG_EXIT_ERROR;
	} else {
		uv_signal_init(&loop, &f.sigint);
		uv_signal_init(&loop, &f.sigterm);
		uv_signal_start(&f.sigint, on_signal, SIGINT);
		uv_signal_start(&f.sigterm, on_signal, SIGTERM);
		drain(&f);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	uv_walk(&loop, close_walk, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	if (f.fd >= 0) {
		close(f.fd);
	}
	free(path);
out:
	cli_env_release(&env);
	return rc;
}
