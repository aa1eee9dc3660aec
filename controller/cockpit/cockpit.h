/*
 * cockpit: `bluegreen cockpit`, the web view of the sites (issue 15,
 * docs/cockpit.md). This round has safe mode only: a process with no
 * power at all. It reads the status snapshot the watch daemon publishes
 * (pubsnap.h) and the history through a read-only LMDB handle; it never
 * opens the Docker socket nor the daemon's control socket, and every
 * request that is not GET or HEAD is answered 403 and written to a
 * refusal log (ADR "cockpit safe mode"). With a publish directory
 * (issue 15, cockpit-pub.c) it reads only what the daemon publishes there,
 * so it can run as an unprivileged user. HTTP is libmicrohttpd's; the
 * pages are rendered by a dispatcher (cockpit_handle) that knows nothing
 * of sockets, so the routes are tested without a server.
 */
#ifndef BG_CONTROLLER_COCKPIT_H
#define BG_CONTROLLER_COCKPIT_H

#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"

struct hist;
struct cfg_cockpit;
struct cfg;
struct bg_strv;
struct cockpit_act;

#define COCKPIT_LISTEN_DEFAULT "127.0.0.1:8077"
/* The refusal log's name in the state directory (JSON lines, 0600). */
#define COCKPIT_REFUSED_FILE "cockpit-refused.log"
/* issue 15 (P): the journal window in a publish directory (pubdir.h's PUBDIR_JOURNAL). */
#define COCKPIT_PUB_JOURNAL "journal.json"

struct cockpit_opts {
	const char *snapshot_path; /* STATE_DIR/status.json (pubsnap.h) */
	const char *refusal_log;   /* where refused requests are logged; NULL: none */
	struct hist *hist;         /* read-only (HIST_RDONLY), borrowed */
	const char *listen;        /* "ADDR:PORT" or "[V6]:PORT"; NULL: the default */
	bool allow_remote;         /* bind a non-loopback address (no auth yet) */
	/* The server runs until this is set (a signal handler sets it). */
	volatile int *stop;
	/* Called once listening, with the bound port (tests listen on port 0). */
	void (*on_listen)(unsigned port, void *arg);
	void *on_listen_arg;
	/* issue 15 (E): global.conf's `cockpit:` (cfg.h); NULL: defaults. The
	 * flags above win: listen overrides conf->listen. TLS and the trusted
	 * proxies come from here only. */
	const struct cfg_cockpit *conf;
	/* ---- issue 15, users and admin mode (cockpit-login.c, cockpit-admin.c) ---- */
	/* The users file (cockpit-auth.h); NULL: no login, loopback safe mode as before. */
	const char *users_path;
	bool cookie_secure;    /* served over TLS: the session cookie gets Secure */
	const struct cfg *cfg; /* the sites' confirm phrases (admin mode); borrowed */
	/*
	 * Admin mode: hand an approval or a rollback to the watch daemon, as the
	 * CLI does (cmd-cockpit.c, ctls_client_apply), or (issue 15) ask it for
	 * a site's container logs; the daemon's answer goes to out. NULL: safe
	 * mode, no route can change anything, and no logs are shown.
	 */
	int (*act)(void *arg, const struct cockpit_act *a, struct bg_buf *out, int *exit_code);
	void *act_arg;
	/*
	 * issue 15 (P): the publish directory (cockpit.publish_dir): the journal
	 * comes from its journal.json instead of hist (which is then NULL), and
	 * snapshot_path names its status.json. NULL: the history is read.
	 */
	const char *publish_dir;
};

/* What admin mode asks the daemon: exactly one of token, rollback_site and logs_site. */
struct cockpit_act {
	const char *token;
	const char *rollback_site;
	const struct bg_strv *confirms;
	const char *actor; /* "cockpit:USER", journaled by the daemon */
	/* issue 15: a read of the site's container logs ("logs SITE", logsreq.h);
	 * logs_tail lines a container, 0: the daemon's default. Journaled nowhere. */
	const char *logs_site;
	unsigned logs_tail;
};

struct cockpit;

/* NULL-safe teardown. */
struct cockpit *cockpit_new(const struct cockpit_opts *o);
void cockpit_free(struct cockpit *ck);

/* One answer: status, content type (static) and body. */
struct ck_scope;
struct cockpit_reply {
	unsigned status;
	const char *ctype;
	struct bg_buf body;
	/* issue 15: headers to send (new strings, may be NULL), and who asked. */
	char *set_cookie, *location;
	struct ck_scope *scope; /* the logged-in user; NULL: no login in use */
	bool admin; /* issue 15 (P): served by a cockpit in admin mode (the pages' footer) */
	char *set_cookie2; /* issue 15: a second Set-Cookie (the login form's cookie), may be NULL */
};
void cockpit_reply_init(struct cockpit_reply *r);
void cockpit_reply_release(struct cockpit_reply *r);

/*
 * Answer one request: method ("GET"...), path (no query), query (the raw
 * part after '?', may be NULL), peer (for the refusal log, may be NULL).
 * Never fails: errors are replies (404, 403, 500, 503).
 */
void cockpit_handle(struct cockpit *ck, const char *method, const char *path,
		const char *query, const char *peer, struct cockpit_reply *r);

/* One request with what login needs: its session cookie and its POST form. */
struct cockpit_req {
	const char *method, *path, *query, *peer;
	const char *cookie;                       /* CK_COOKIE_NAME's value, NULL if none */
	const struct bg_strv *form_keys, *form_vals; /* urlencoded POST fields, NULL if none */
	bool secure; /* the browser's channel is HTTPS (our TLS or a trusted proxy's) */
	/* issue 15: the login form's cookies (cockpit-auth.h), NULL if none:
	 * CK_LOGIN_COOKIE's value and CK_LOGIN_COOKIE_HOST's (used over HTTPS). */
	const char *login_cookie, *login_cookie_host;
};
void cockpit_handle_req(struct cockpit *ck, const struct cockpit_req *rq,
		struct cockpit_reply *r);

/*
 * "ADDR:PORT" into a socket address (numeric only, no lookup). Returns 0,
 * BG_EUSAGE with *why when it is not one, BG_EREFUSED when it is not a
 * loopback address and allow_remote is false.
 */
struct sockaddr_storage;
int cockpit_listen_parse(const char *s, bool allow_remote, struct sockaddr_storage *ss,
		unsigned *len, const char **why);

/* Serve until *o->stop (libmicrohttpd, its own polling thread). */
int cockpit_serve(const struct cockpit_opts *o, struct bg_diag *d);

/* HTML-escape s (& < > " ') onto out. */
void cockpit_html_esc(struct bg_buf *out, const char *s);

#endif /* BG_CONTROLLER_COCKPIT_H */
