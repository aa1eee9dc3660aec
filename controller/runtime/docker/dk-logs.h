/*
 * dk-logs: a container's own stdout and stderr through the Engine API
 * (GET /containers/{id}/logs). Without a TTY the engine multiplexes both
 * streams into frames (an 8-byte header: stream type, three zero bytes, a
 * big-endian payload length); with a TTY it sends the bytes raw, both
 * streams already mixed by the terminal. The demultiplexer and the line
 * splitter are pure functions over bytes (unit-tested on their own); the
 * requests read one or several containers at once over curl multi, so that
 * `bluegreen logs -f` can merge replicas in one thread and stop on a tick.
 */
#ifndef BG_CONTROLLER_DK_LOGS_H
#define BG_CONTROLLER_DK_LOGS_H

#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "dk.h"

/* The stream a piece of output came from (the engine's frame types). */
enum dk_log_stream {
	DK_LOG_STDIN = 0,
	DK_LOG_STDOUT = 1,
	DK_LOG_STDERR = 2,
};

/* ---- the framing (pure) ---- */

/* Payload bytes of one stream, borrowed for the call. */
typedef void (*dk_logs_emit_cb)(void *arg, enum dk_log_stream s, const char *data,
		size_t len);

struct dk_logs_demux {
	bool tty;                  /* raw: everything is DK_LOG_STDOUT */
	unsigned char hdr[8];
	size_t hlen;               /* header bytes collected so far */
	size_t left;               /* payload bytes still to come in this frame */
	enum dk_log_stream stream; /* of the current frame */
	int err;                   /* sticky: BG_EPARSE on a bad header */
};

void dk_logs_demux_init(struct dk_logs_demux *dm, bool tty);
/*
 * Feed bytes as they arrive (a frame may be split anywhere across calls):
 * payload goes to emit as soon as it is in, without waiting for the end of
 * its frame. A header whose stream type is not 0-2 or whose padding is not
 * zero is BG_EPARSE (sticky; nothing more is emitted).
 */
int dk_logs_demux_feed(struct dk_logs_demux *dm, const char *data, size_t len,
		dk_logs_emit_cb emit, void *arg);
/* At the end of the input: BG_EPARSE when it stopped inside a frame. */
int dk_logs_demux_finish(const struct dk_logs_demux *dm);

/* One whole line, without its '\n' (borrowed for the call). */
typedef void (*dk_logs_line_cb)(void *arg, size_t index, enum dk_log_stream s,
		const char *line, size_t len);

/* Longer lines are cut into pieces of this size (a runaway binary dump). */
#define DK_LOG_LINE_MAX (64u * 1024)

/* Splits one stream's bytes into lines. */
struct dk_logs_lines {
	struct bg_buf buf; /* the line begun and not yet ended */
};

void dk_logs_lines_init(struct dk_logs_lines *l);
void dk_logs_lines_release(struct dk_logs_lines *l); /* NULL-safe */
/* Hand every complete line of data to cb, without its "\n" or "\r\n"
 * (a TTY ends lines with "\r\n"). */
void dk_logs_lines_feed(struct dk_logs_lines *l, const char *data, size_t len,
		dk_logs_line_cb cb, void *arg, size_t index, enum dk_log_stream s);
/* The last line, if it had no '\n'. */
void dk_logs_lines_flush(struct dk_logs_lines *l, dk_logs_line_cb cb, void *arg,
		size_t index, enum dk_log_stream s);

/* ---- the requests ---- */

/* Called about every 200 ms while streaming: true stops every stream (the
 * call then returns 0). */
typedef bool (*dk_logs_tick_cb)(void *arg);

struct dk_logs_opts {
	bool follow;        /* keep streaming until the container stops */
	int64_t since;      /* unix seconds; 0: from the start */
	size_t tail;        /* the last N lines only; 0: all */
	bool timestamps;    /* the engine puts an RFC 3339 time before each line */
	dk_logs_tick_cb tick; /* may be NULL */
	void *tick_arg;
};

/*
 * Stream the logs of n managed containers (ids or names) at once, each
 * line to on_line with its container's index in ids and its stream (a TTY
 * container's lines are all DK_LOG_STDOUT). Returns when every stream has
 * ended (at once without follow, when the container stops with it) or
 * tick asked to stop. A container that is not managed, or gone, is an
 * error before anything is streamed; a stream that fails later is
 * reported in d after the others end, and its code returned.
 */
int dk_container_logs_stream(struct dk_client *dk, char *const *ids, size_t n,
		const struct dk_logs_opts *opts, dk_logs_line_cb on_line, void *arg,
		struct bg_diag *d);
/*
 * The last `tail` lines (0: all) of one managed container's stdout and
 * stderr, interleaved as the engine sent them, appended to out as text,
 * one '\n' per line.
 */
int dk_container_logs(struct dk_client *dk, const char *id, size_t tail,
		struct bg_buf *out, struct bg_diag *d);

#endif /* BG_CONTROLLER_DK_LOGS_H */
