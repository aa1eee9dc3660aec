/*
 * queue: the watch daemon's apply requests (docs/watch.md). A request
 * comes from a line of the approval file or from a `bluegreen apply` /
 * `rollback --yes` client on the control socket; requests run one at a
 * time, in order. Every request is journaled as "received" when queued,
 * and every one that never reaches apply_run (dropped, refused) gets an
 * outcome entry, so the history has an answer for each. A client waiting
 * in the queue is told why it waits, and answered when its request ends.
 */
#ifndef BG_CONTROLLER_DAEMON_QUEUE_H
#define BG_CONTROLLER_DAEMON_QUEUE_H

#include "bg.h"
#include "bg-err.h"
#include "bg-util.h"
#include "ctlsock.h"

struct apply_outcome;
struct approve_item;
struct cfg;
struct hist;
struct watch_printer;

/*
 * Most applies waiting in the queue for control-socket clients (the one
 * running is not counted). Applies run one at a time and each takes
 * seconds to minutes: a longer queue is somebody scripting `bluegreen
 * apply` in a loop, and each waiting client holds a connection
 * (CTLS_CONN_MAX). Beyond it a client is refused with exit 1.
 */
#define QUEUE_MAX 16

/* One apply waiting for (or holding) the worker. */
struct queue_req {
	struct queue_req *next;
	char *token;            /* apply TOKEN, or */
	char *rollback_site;    /* rollback SITE --yes handed over */
	char *label;            /* "3f2a..." or "rollback SITE": what notes call it */
	struct bg_strv confirms;
	bool json, color;
	char *source;           /* for humans: "approve file line 3" */
	char *actor;            /* the client's user@host; NULL (approve file): ours */
	bool from_approve;
	struct ctls_conn *conn; /* NULL: nobody waits for the answer */
	bool told_wait;
};

struct queue {
	struct queue_req *head, **tail;
	struct hist *hist;               /* borrowed: where requests are journaled */
	const struct watch_printer *pr;  /* borrowed */
};

/* An empty queue journaling into h (may be set later, before the first push). */
void queue_init(struct queue *q, struct hist *h, const struct watch_printer *pr);
/* Free what is left, silently (queue_refuse answers and journals). NULL-safe. */
void queue_release(struct queue *q);
/* NULL-safe. */
void queue_req_free(struct queue_req *r);

/*
 * A request from a control-socket client (token, or rollback site, and
 * its options from req; actor taken: the client's user@host), or from a
 * line of the approval file (its token and phrases taken from ap).
 */
struct queue_req *queue_req_from_client(struct ctls_conn *conn, const struct ctls_request *req,
		char *actor);
struct queue_req *queue_req_from_approval(struct approve_item *ap);

size_t queue_length(const struct queue *q);
/*
 * Append r (taken), journal it as received and say so; a client is told
 * how many are ahead of it. busy: an apply is running (it counts as ahead).
 */
void queue_push(struct queue *q, struct queue_req *r, bool busy);
/* Put r (taken) ahead of every waiting request, unjournaled: the daemon's
 * own work that restores service (an auto-revert journals itself). */
void queue_push_front(struct queue *q, struct queue_req *r);
/* The first request (now the caller's), or NULL. */
struct queue_req *queue_pop(struct queue *q);
/*
 * Answer a request that never reached apply_run; result: "dropped" or
 * "refused". It is journaled, its client (if any) gets d and "bluegreen:
 * MESSAGE" and exit code, a note says so, and r is freed.
 */
void queue_refuse(struct queue *q, struct queue_req *r, const char *result, int code,
		const struct bg_diag *d, const char *fmt, ...) BG_PRINTF(6, 7);
/*
 * Drop the queued requests whose client has gone (Ctrl-C, a killed
 * script): nobody waits for them, and the person who gave up may well run
 * something else instead. An apply already started is not in the queue and
 * runs to its end; approval-file requests have no client and always stay.
 */
void queue_prune(struct queue *q);
/*
 * The queued request, or running (may be NULL), that asks for the same
 * thing: the same rollback, or the same token with the same --confirm
 * phrases (in any order). A token with other phrases is new input, as in
 * the approval file (approve_key): a corrected phrase is not refused
 * because the phrase-less request still waits. NULL if none.
 */
const struct queue_req *queue_same(const struct queue *q, const struct queue_req *running,
		const char *token, const char *site, const struct bg_strv *confirms);
/*
 * Refuse (answer, note and journal) a client request that asks again for
 * what is queued or running, or that finds the queue full. Returns whether
 * it did (then conn is finished).
 */
bool queue_refuse_request(struct queue *q, const struct queue_req *running,
		struct ctls_conn *conn, const struct ctls_request *req, const char *actor);
/*
 * Answer a client request that cannot be queued as it stands: the daemon
 * is stopping, the site is unknown to cfg or the token malformed. Returns
 * whether it did (then conn is finished). Nothing is journaled: nothing was
 * asked of this installation.
 */
bool queue_refuse_invalid(const struct cfg *cfg, bool stopping, struct ctls_conn *conn,
		const struct ctls_request *req);
/* Tell each waiting client, once, that the engine is away (reason). */
void queue_tell_waiting(struct queue *q, const char *reason);
/*
 * An apply of r ended with o (and diagnostics d), t0 its bg_mono_ms start:
 * answer its client as `bluegreen apply` would have printed, journal the
 * plan shown after a refused token, print d and note how it ended.
 * r stays the caller's (its conn is finished and cleared).
 */
void queue_finish(struct queue *q, struct queue_req *r, const struct cfg *cfg,
		const struct apply_outcome *o, const struct bg_diag *d, int64_t t0);

#endif /* BG_CONTROLLER_DAEMON_QUEUE_H */
