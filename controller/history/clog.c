/*
 * clog: see clog.h. Rotation keeps one previous file (converge.log.1);
 * the history keeps everything forever anyway.
 */
#include "bg.h"
#include "bg-util.h"
#include "clog.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

char *clog_path(const char *state_dir)
{
	return bg_xasprintf("%s/%s", state_dir, CLOG_NAME);
}

int clog_append(const char *state_dir, const char *fmt, ...)
{
	char ts[32];
	va_list ap;
	char *path = clog_path(state_dir);
	int err = 0;

	va_start(ap, fmt);
	char *msg = bg_xvasprintf(fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++) {
		if (*p == '\n' || *p == '\r') {
			*p = ' ';
		}
	}
	bg_time_format_utc(bg_now_ms(), ts);
	char *line = bg_xasprintf("%s %s\n", ts, msg);

	struct stat st;
	if (stat(path, &st) == 0 && (uint64_t)st.st_size > CLOG_ROTATE_BYTES) {
		char *old = bg_xasprintf("%s.1", path);
		rename(path, old);
		free(old);
	}
	/* No link followed, no FIFO waited on: only a regular file is appended to. */
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
			0600);
	if (fd < 0) {
		err = BG_ERRNO(errno);
	} else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		err = BG_EREFUSED;
		close(fd);
	} else {
		size_t len = strlen(line);
		ssize_t n = write(fd, line, len);
		if (n < 0 || (size_t)n != len) {
			err = n < 0 ? BG_ERRNO(errno) : BG_ERRNO(EIO);
		}
		close(fd);
	}
	free(line);
	free(msg);
	free(path);
	return err;
}
