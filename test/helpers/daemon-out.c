/*
 * daemon-out: polling a daemon's output file (see daemon-out.h).
 */
#include "bg.h"
#include "daemon-out.h"
#include "th.h"

#include <unistd.h>

char *dout_text_read(const char *path)
{
	char *t = th_read(path);
	return t ? t : bg_xstrdup("");
}

size_t dout_len_get(const char *path)
{
	char *t = dout_text_read(path);
	size_t n = strlen(t);
	free(t);
	return n;
}

long dout_needle_wait(const char *path, size_t from, const char *needle, int ms)
{
	int64_t end = bg_mono_ms() + ms * th_time_scale();
	for (;;) {
		char *t = dout_text_read(path);
		const char *at = strlen(t) >= from ? strstr(t + from, needle) : NULL;
		long pos = at ? (long)(at - t) : -1;
		free(t);
		if (pos >= 0 || bg_mono_ms() > end) {
			return pos;
		}
		usleep(50 * 1000);
	}
}
