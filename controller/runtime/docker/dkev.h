/*
 * dkev: the Docker engine under the daemon's libuv loop. One curl multi
 * handle, driven by libuv (a uv_poll_t per socket curl opens, one
 * uv_timer_t for curl's timeouts: nothing polls on a clock), carries two
 * kinds of traffic:
 *
 * - the GET /events stream, parsed incrementally (objects split across
 *   reads, or several in one read) and filtered to bluegreen's scope
 *   (managed containers; networks and volumes). When the stream ends or
 *   fails, dkev says "disconnected" once, with the reason, and reconnects
 *   with a backoff (100 ms doubling to 5 s, back to 100 ms after a
 *   connection that stayed up 30 s); it never gives up and never spins.
 *   Every successful (re)connection says "connected" again: events were
 *   possibly lost in between, so the caller re-lists then.
 * - one-shot requests (dkev_request), the async twin of dk_request.
 *
 * The API version is negotiated (GET /version) before the first request and
 * again on every reconnection, since a new engine may be behind the socket.
 *
 * Callbacks are never called from inside libcurl, and every one of them may
 * call dkev_request or dkev_close.
 */
#ifndef BG_CONTROLLER_DKEV_H
#define BG_CONTROLLER_DKEV_H

#include "bg.h"
#include "dk.h"

#include <uv.h>

#define DKEV_BACKOFF_INITIAL_MS 100
#define DKEV_BACKOFF_MAX_MS 5000
/* A connection that lasted this long was healthy: the backoff starts over. */
#define DKEV_HEALTHY_MS 30000

struct dkev;

enum dkev_state {
	DKEV_DISCONNECTED = 0,
	DKEV_CONNECTED,
};

/* One event in scope. e and its strings are borrowed for the call. */
typedef void (*dkev_event_cb)(struct dkev *ev, const struct dk_event *e, void *arg);
/*
 * The stream's state changed. For DKEV_DISCONNECTED, err (< 0) and reason
 * (borrowed, e.g. "cannot reach the Docker engine at /var/run/docker.sock:
 * connection refused (is dockerd running?)") say why; for DKEV_CONNECTED
 * they are 0 and NULL. Reported on transitions only: a failed first attempt
 * says disconnected once, retries that keep failing say nothing more.
 */
typedef void (*dkev_state_cb)(struct dkev *ev, enum dkev_state state, int err,
		const char *reason, void *arg);
/*
 * A request's outcome: status is the HTTP status (0 without an answer),
 * body the parsed JSON (borrowed for the call: json_object_get() it to keep
 * it; NULL when empty, not JSON, or on error), err 0 or a code as
 * dk_request returns them (BG_ECANCELLED if dkev was closed first), msg
 * the human detail (borrowed; NULL on success).
 */
typedef void (*dkev_request_cb)(struct dkev *ev, long status,
		struct json_object *body, int err, const char *msg, void *arg);
typedef void (*dkev_closed_cb)(struct dkev *ev, void *arg);

/*
 * Create the client on loop for the engine at socket (NULL:
 * DK_DEFAULT_SOCKET). No I/O yet. on_event and on_state may be NULL (a
 * client for requests only); arg is passed to them and to the closed
 * callback. Must be closed with dkev_close (it holds uv handles).
 */
int dkev_create(struct dkev **out, uv_loop_t *loop, const char *socket,
		dkev_event_cb on_event, dkev_state_cb on_state, void *arg);
/* Start streaming events (and keep reconnecting). Returns 0, or < 0 when
 * called twice or after dkev_close. */
int dkev_start(struct dkev *ev);
/*
 * Close: the stream stops, pending requests are cancelled (their callbacks
 * run with BG_ECANCELLED, before closed), every handle is closed, and
 * closed_cb (may be NULL) runs from the loop once everything is freed
 * but ev itself, which is freed right after it returns. NULL-safe; a
 * second call does nothing.
 */
void dkev_close(struct dkev *ev, dkev_closed_cb closed_cb);

/*
 * Async request (see dk_request for method, path, body; body is copied).
 * The async contract: returns < 0 and never calls cb, or returns 0 and
 * calls cb exactly once, later, from the loop.
 */
int dkev_request(struct dkev *ev, const char *method, const char *path,
		const char *body, dkev_request_cb cb, void *arg);

/*
 * A container inspect's outcome: on success (err 0) oc is the parsed
 * container (GET /containers/{id}/json through dk_parse_container_inspect,
 * labels unchecked), lent for the call: the callback may move its contents
 * out (leaving it zeroed), dkev releases whatever is left. On failure oc is
 * NULL, err is as dkev_request_cb's (BG_ENOT_FOUND: no such container) or
 * BG_EPARSE for an answer that is not an inspect document, and msg says why
 * (borrowed; "unreadable answer" for BG_EPARSE).
 */
typedef void (*dkev_inspect_cb)(struct dkev *ev, struct obs_container *oc, int err,
		const char *msg, void *arg);
/*
 * Inspect container id (a name or an id, any prefix the engine accepts)
 * asynchronously, with dkev_request's async contract: returns < 0 and never
 * calls cb, or returns 0 and calls cb exactly once, later, from the loop.
 */
int dkev_container_inspect(struct dkev *ev, const char *id, dkev_inspect_cb cb, void *arg);

/* Total time of a request (default DK_DEFAULT_TIMEOUT_MS); the stream has none. */
void dkev_set_timeout(struct dkev *ev, uint64_t ms);
/* Tune the reconnect policy (0 keeps a value). */
void dkev_set_backoff(struct dkev *ev, uint64_t initial_ms, uint64_t max_ms,
		uint64_t healthy_ms);
bool dkev_connected(const struct dkev *ev);
/* Negotiated versions (borrowed), NULL until a /version answer came. */
const char *dkev_api_version(const struct dkev *ev);
const char *dkev_engine_version(const struct dkev *ev);
const char *dkev_socket(const struct dkev *ev);

/*
 * A runtime's own event scope (issue 17, rt.h's struct rt_watch_rule):
 * query (static, "?filters=...") replaces dk_events_query() from the next
 * (re)connection on, and accept replaces dk_event_in_scope. accept gets
 * the raw event (borrowed), its parse e (which it may rewrite: type, name,
 * id, change) and buf[len] to keep the strings it points e at for the
 * call; it answers whether e reaches on_event. Call before dkev_start.
 */
typedef bool (*dkev_accept_fn)(struct json_object *raw, struct dk_event *e, char *buf,
		size_t len);
void dkev_set_scope(struct dkev *ev, const char *query, dkev_accept_fn accept);

#endif /* BG_CONTROLLER_DKEV_H */
