/*
 * cockpit-sse: live updates for the cockpit's pages, as Server-Sent Events
 * on GET /events (docs/cockpit.md "Live updates"). One hub thread watches
 * the journal and status.json (a bounded poll: both are written by another
 * process, and the journal's LMDB pages change without a write(2) that
 * inotify could see); it turns new journal entries into framed events in
 * a ring and the snapshot into a status event. Each stream only copies
 * frames out of the hub, so 200 streams cost one journal reader, not 200
 * (LMDB has 126 reader slots). Every event's id is a journal position:
 * a browser that reconnects with Last-Event-ID is sent what it missed.
 */
#ifndef BG_CONTROLLER_COCKPIT_SSE_H
#define BG_CONTROLLER_COCKPIT_SSE_H

#include "cockpit.h"

/* Streams open at once; one more is answered 503 (Retry-After). */
#define CK_SSE_MAX_STREAMS 256
/* A comment line is sent when a stream was silent this long. */
#define CK_SSE_KEEPALIVE_MS 15000
/* How often the hub looks at the journal and status.json. */
#define CK_SSE_POLL_MS 200
/* How often a waiting stream looks whether its client hung up. */
#define CK_SSE_PEER_CHECK_MS 500
/* Journal events kept for replay to a reconnecting browser. */
#define CK_SSE_RING 512

struct ck_sse_hub;
struct ck_sse_stream;

/*
 * Which sites a stream may hear of (users and roles, cockpit-auth): allow
 * returns true for a site the viewer may see; site is NULL for an entry
 * that names no site. A NULL allow lets everything through.
 */
struct ck_sse_scope {
	bool (*allow)(const char *site, void *arg);
	void *arg;
};

/* Start the hub's thread (reads ck's history and snapshot). NULL-safe stop. */
struct ck_sse_hub *ck_sse_hub_start(struct cockpit *ck);
/* Wake every stream and end it, then join the thread (before MHD_stop_daemon). */
void ck_sse_hub_stop(struct ck_sse_hub *hub);
/* Let streams end (MHD joins their threads after this). */
void ck_sse_hub_shutdown(struct ck_sse_hub *hub);
void ck_sse_hub_free(struct ck_sse_hub *hub);

struct ck_sse_counts {
	unsigned open;       /* streams open now */
	uint64_t opened;     /* streams ever opened */
	uint64_t reconnects; /* of those, opened with a Last-Event-ID */
	uint64_t refused;    /* answered 503: too many streams */
};
void ck_sse_counts_get(struct ck_sse_hub *hub, struct ck_sse_counts *out);

/*
 * Open a stream. last_event_id: the Last-Event-ID header (NULL: a first
 * connection, which gets the current status and no replay). Returns NULL
 * when CK_SSE_MAX_STREAMS are open. scope may be NULL (all sites).
 */
struct ck_sse_stream *ck_sse_stream_open(struct ck_sse_hub *hub, const char *last_event_id,
		const struct ck_sse_scope *scope);
/*
 * The client's socket (libmicrohttpd's MHD_CONNECTION_INFO_CONNECTION_FD),
 * borrowed: a waiting read polls it (never reads it) and ends the stream
 * when the client hung up. Without it a gone client is noticed only when
 * a write fails, at the latest the keep-alive's.
 */
void ck_sse_stream_watch_peer(struct ck_sse_stream *s, int fd);

#define CK_SSE_READ_STOPPED (-1) /* the hub stops */
#define CK_SSE_READ_GONE (-2)    /* the watched client hung up */
/*
 * Fill buf with up to max bytes of the stream: waits (on a condition, in
 * slices of at most a second, or CK_SSE_PEER_CHECK_MS with a watched
 * socket, never longer than the keep-alive) until there is something to
 * send. Returns the byte count, CK_SSE_READ_STOPPED or CK_SSE_READ_GONE.
 * Called by libmicrohttpd's content reader, in the connection's own
 * thread.
 */
ssize_t ck_sse_stream_read(struct ck_sse_stream *s, char *buf, size_t max);
void ck_sse_stream_close(struct ck_sse_stream *s);

/*
 * One event in the text/event-stream framing onto out: "id: ID" (when
 * id_set), "event: NAME" (when name), one "data: " line per line of data
 * (a CR, LF or CRLF in data starts a new line, so no data can forge a
 * field), then a blank line.
 */
void ck_sse_frame(struct bg_buf *out, bool id_set, uint64_t id, const char *name,
		const char *data);

/* The script the pages load (/static/cockpit.js). */
extern const char ck_sse_js[];

#endif /* BG_CONTROLLER_COCKPIT_SSE_H */
