/*
 * ctlsock: the daemon's control socket, STATE_DIR/control.sock (a unix
 * stream socket, mode 0600, in the 0700 state directory), and the client
 * that `bluegreen apply` uses to hand a token to a running daemon instead
 * of waiting for the state lock the daemon holds.
 *
 * The protocol is a few text lines each way (docs/watch.md):
 *
 *   client -> daemon                    daemon -> client
 *   bluegreen-control 1                 out TEXT      (a line for stdout)
 *   apply TOKEN | rollback SITE         err TEXT      (a line for stderr)
 *     | logs SITE                                     (issue 15: a read)
 *   tail N              (0 or 1; logs)
 *   confirm TEXT        (0 or more)     status TEXT   (transient progress)
 *   option json|color   (0 or more)     exit N        (the exit code; last)
 *   actor cockpit:USER  (0 or 1)
 *   go
 *
 * TEXT is percent-encoded where it would break the framing (only '%',
 * CR and LF are encoded), so any confirm phrase and any output line
 * travels intact. The daemon streams the same lines `bluegreen apply`
 * prints when it converges by itself, then the same exit code.
 *
 * The server follows the async contract; the client is blocking (it runs
 * in a one-shot command that has nothing else to do).
 *
 * Who and how much: only peers whose uid (SO_PEERCRED) is root's or the
 * daemon's own effective uid are served (root may do anything to the
 * daemon anyway; any other uid is refused with a message and logged), at
 * most CTLS_CONN_MAX connections are open at once, and a client has
 * CTLS_REQUEST_TIMEOUT_MS from connecting to sending "go".
 */
#ifndef BG_CONTROLLER_CTLSOCK_H
#define BG_CONTROLLER_CTLSOCK_H

#include "bg.h"
#include "bg-err.h"
#include "bg-buf.h"
#include "bg-util.h"

#include <uv.h>

#define CTLS_SOCKET_NAME "control.sock"
#define CTLS_HELLO "bluegreen-control 1"
/* Longest line either side accepts (a request is a handful of short lines). */
#define CTLS_LINE_MAX (64u * 1024)
/* Most lines in one request. */
#define CTLS_REQUEST_LINES_MAX 64
/*
 * Most connections open at once. Each waiting client holds one for as long
 * as its apply waits in the daemon's queue (QUEUE_MAX in queue.h, 16),
 * so this leaves room for that and for clients still sending, while a
 * client that opens connections in a loop cannot exhaust the daemon's
 * descriptors (RLIMIT_NOFILE is often 1024). Beyond it a client is told
 * so and closed.
 */
#define CTLS_CONN_MAX 32
/* The listen(2) backlog: connections not accepted yet (the kernel caps it). */
#define CTLS_BACKLOG 16
/*
 * From connect to "go": `bluegreen apply` writes its whole request at once,
 * so this is only reached by a client that stalls (connects and sends
 * nothing, or half a line) and would otherwise hold a connection forever.
 */
#define CTLS_REQUEST_TIMEOUT_MS 10000

enum ctls_chan {
	CTLS_OUT = 0,
	CTLS_ERR,
	CTLS_STATUS,
};

/* What a client asked for. */
struct ctls_request {
	char *token;         /* apply TOKEN, or */
	char *rollback_site; /* rollback SITE (rollback --yes): exactly one is set */
	struct bg_strv confirms;
	bool json;  /* render a plan shown on exit 3 as JSON */
	bool color; /* the client's stdout is a terminal */
	/*
	 * issue 15: "cockpit:USER", the cockpit user an admin-mode cockpit acts
	 * for, journaled as the actor instead of the peer's uid. Only peers the
	 * socket serves anyway (the daemon's uid, root) can send it.
	 */
	char *actor;
	/*
	 * issue 15: "logs SITE": the tail of the site's live (and candidate)
	 * containers, read through the daemon's runtime (logsreq.h); a read,
	 * journaled nowhere. Exclusive with token and rollback_site. logs_tail
	 * is "tail N" (1..CTLS_LOGS_TAIL_MAX), 0 when not sent.
	 */
	char *logs_site;
	unsigned logs_tail;
};
/* issue 15: most lines "tail N" may ask per container. */
#define CTLS_LOGS_TAIL_MAX 200u

void ctls_request_init(struct ctls_request *r);
void ctls_request_release(struct ctls_request *r);

/*
 * The request parser, fed the bytes a client sends (exposed for the fuzz
 * target and the tests). Lines end in "\n" (a "\r" before it is
 * dropped), at most CTLS_LINE_MAX bytes are buffered and
 * CTLS_REQUEST_LINES_MAX lines read; the first line is CTLS_HELLO.
 */
enum ctls_parse_rc {
	CTLS_PARSE_MORE = 0, /* nothing decided yet: feed more */
	CTLS_PARSE_DONE,     /* "go" seen: req is complete; later bytes are ignored */
	CTLS_PARSE_REFUSED,  /* a bad request: *why says why (a new string) */
};
struct ctls_parser {
	struct ctls_request req;
	struct bg_buf in; /* an incomplete line */
	unsigned n_lines;
	bool hello;
	enum ctls_parse_rc rc;
};
void ctls_parser_init(struct ctls_parser *p);
void ctls_parser_release(struct ctls_parser *p);
/* *why is set (a new string) exactly when the result is CTLS_PARSE_REFUSED. */
enum ctls_parse_rc ctls_parser_feed(struct ctls_parser *p, const char *data, size_t len,
		char **why);

struct ctls;
struct ctls_conn;

/*
 * A complete request arrived on conn. The connection now belongs to the
 * callee until it calls ctls_conn_finish (exactly once, at any later
 * time); req is borrowed for the call.
 */
typedef void (*ctls_request_cb)(struct ctls *s, struct ctls_conn *conn,
		const struct ctls_request *req, void *arg);
typedef void (*ctls_closed_cb)(struct ctls *s, void *arg);
/*
 * The client of a connection handed to the request callback and not
 * finished yet has gone (hung up): ctls_conn_alive is false from now on.
 * The connection is still the callee's to finish.
 */
typedef void (*ctls_gone_cb)(struct ctls *s, struct ctls_conn *conn, void *arg);

/*
 * Listen on path: a stale socket file left by a dead daemon is removed
 * first (the caller holds the state lock, so no live daemon owns it), the
 * socket is made 0600 before it accepts anything. A path longer than a
 * unix socket address holds is refused (ENAMETOOLONG) rather than
 * truncated. Errors are explained in d.
 */
int ctls_listen(struct ctls **out, uv_loop_t *loop, const char *path,
		ctls_request_cb cb, void *arg, struct bg_diag *d);
/*
 * Stop listening: the socket file is removed at once, open connections
 * are closed. Connections handed to the request callback and not finished
 * yet stay valid (their sends go nowhere) until ctls_conn_finish. closed_cb
 * (may be NULL) runs once the listening handle and every connection are
 * closed; s is freed right after. NULL-safe.
 */
void ctls_close(struct ctls *s, ctls_closed_cb closed_cb);
/* Be told when a client waiting for its answer goes (may be NULL: not told). */
void ctls_set_gone_cb(struct ctls *s, ctls_gone_cb cb);
/* The request deadline (CTLS_REQUEST_TIMEOUT_MS when 0); for tests. */
void ctls_set_request_timeout(struct ctls *s, uint64_t ms);

/* Queue one line (or several, split at newlines) for the client. */
void ctls_conn_send(struct ctls_conn *c, enum ctls_chan chan, const char *text);
void ctls_conn_sendf(struct ctls_conn *c, enum ctls_chan chan, const char *fmt, ...)
	BG_PRINTF(3, 4);
/* Send "exit N" and close once it is written. c must not be used after. */
void ctls_conn_finish(struct ctls_conn *c, int exit_code);
/* Whether the client is still there to read. */
bool ctls_conn_alive(const struct ctls_conn *c);
/* The peer's pid and uid (SO_PEERCRED), -1 when unknown. */
long ctls_conn_pid(const struct ctls_conn *c);
long ctls_conn_uid(const struct ctls_conn *c);

/* Framing helpers (exposed for tests): new strings. */
char *ctls_encode(const char *s);
char *ctls_decode(const char *s);

/*
 * The client: connect to path, send req, and copy the daemon's answer to
 * out and err (status lines only when err is a terminal, overwritten in
 * place like `bluegreen apply` does). Returns 0 with *exit_code set once
 * the request was handed over, whatever the outcome (a daemon that goes
 * away before saying "exit" gives exit code 1 and a message on err).
 * BG_ERRNO(ENOENT) or BG_ERRNO(ECONNREFUSED) mean no daemon listens: the
 * caller converges by itself. Other errors (EACCES, ...) are returned
 * with nothing printed.
 */
int ctls_client_apply(const char *path, const struct ctls_request *req, FILE *out,
		FILE *err, int *exit_code);

#endif /* BG_CONTROLLER_CTLSOCK_H */
