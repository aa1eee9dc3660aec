/*
 * e2e: a disposable bluegreen installation for the docker suite: a config
 * directory with a unique site and edge network (so test programs never
 * collide with each other or with real sites), a private nginx on a free
 * loopback port (nginx edge) or a file-provider directory (traefik edge),
 * and helpers that run the real binary against it. e2e_release removes
 * every Docker object of the site and the edge network, stops nginx and
 * deletes the directory.
 */
#ifndef BG_TEST_E2E_H
#define BG_TEST_E2E_H

#include "th.h"

struct e2e {
	char *dir;      /* config directory */
	char *site;     /* unique site name */
	char *edge_net; /* unique edge network */
	char *domain;   /* SITE.localhost */
	char *preview;  /* preview.SITE.localhost */
	char *mode;     /* install_mode value, NULL: omitted */
	char *kind;     /* "nginx" | "traefik" */
	int port;       /* nginx port, 0 for traefik */
};

/* The traefik edge's global.conf settings: deliberately not the defaults. */
#define E2E_TRAEFIK_ENTRYPOINTS "bg-tls, bg-alt"
#define E2E_TRAEFIK_CERTRESOLVER "bgtest-acme"

/* kind "nginx" (starts nginx) or "traefik"; mode "development", "production" or NULL. */
void e2e_init(struct e2e *e, const char *tag, const char *kind, const char *mode);
/* (Re)write global.conf (e.g. after changing e->mode), with extra top-level YAML. */
void e2e_global(struct e2e *e, const char *extra);
/* The same, with extra lines under edge.nginx (each indented by four
 * spaces, e.g. "    listen_tls: ...\n"; NULL: none) after the test's own. */
void e2e_global_nginx(struct e2e *e, const char *nginx_extra, const char *extra);
/* (Re)write sites/SITE.conf with an image and extra YAML lines. */
void e2e_site(struct e2e *e, const char *image, const char *extra);
/* Run `bluegreen -c DIR ARGS...` (NULL-terminated). */
int e2e_bg(struct e2e *e, struct th_run *r, const char *arg0, ...);
/* Run `plan`; *status gets its exit code; returns the token (NULL if none). */
char *e2e_plan(struct e2e *e, int *status);
/* plan then apply the printed token; asserts the plan had changes; returns apply's exit. */
int e2e_plan_apply(struct e2e *e, struct th_run *apply_out);
/* GET / through nginx with Host: host; returns the status, *body trimmed. */
int e2e_get(struct e2e *e, const char *host, char **body);
/*
 * Run `curl -sS --max-time 60 -o - -w ... ARGS` (NULL-terminated; the URL
 * and any -H, -u, --data-binary, --cacert, --resolve among them); returns
 * the HTTP status (-1 when curl failed), *body (if not NULL) gets the body
 * without its trailing newlines, *location (if not NULL) the Location
 * header ("" when none). Both new strings; when curl failed, *location is
 * NULL and *body says why ("(curl exited 7: ...)").
 */
int e2e_curl(char *const args[], char **body, char **location);
/* Wait until GET / on host answers want (nginx reload is asynchronous). */
bool e2e_wait_body(struct e2e *e, const char *host, const char *want, int ms);
/* The container's state from `docker inspect` ("running", "exited", "" if absent). */
char *e2e_container_state(const char *name);
/* "# bluegreen-live: X" of the site's nginx file (a new string), NULL if none. */
char *e2e_edge_live(struct e2e *e);
/*
 * Forget the site entirely: its nginx file, the state directory, its
 * Docker objects and the edge network; nginx reloads so it forgets it too.
 */
void e2e_reset_site(struct e2e *e);
/*
 * After a killed converger: `status` exits 0, reports the interrupted
 * apply, and shows as live the colour the edge file names. Returns that
 * colour (a new string, NULL when there is no edge file).
 */
char *e2e_assert_interrupted(struct e2e *e);
/* `bluegreen backup SITE` must exit 0; returns the backup's ID (a new string). */
char *e2e_backup_now(struct e2e *e);
/* plan --restore SITE@ID (exit 2), then apply its token (exit 0; development: no phrase). */
void e2e_restore_through_plan(struct e2e *e, const char *id);
/*
 * `bluegreen cockpit user add NAME --role ROLE [--sites SITES] [--users
 * FILE]` with the password on stdin (users, sites: NULL to leave out);
 * asserts it succeeds and never prints the password.
 */
void e2e_cockpit_user_add(struct e2e *e, const char *users, const char *name,
		const char *pw, const char *role, const char *sites);
/*
 * Start `bluegreen -c DIR cockpit ARGS...` (NULL-terminated) with its
 * output in out and NO_COLOR set; waits for "listening on port", asserts
 * the first line names mode ("admin mode", "safe mode"); *pid gets the
 * process (the caller stops it). Returns the port.
 */
unsigned e2e_cockpit_start(struct e2e *e, const char *out, const char *mode, pid_t *pid,
		const char *arg0, ...);
void e2e_release(struct e2e *e);
/*
 * cmocka teardown: removes what the last e2e_init made (its directory, the
 * site's Docker objects, the edge network, nginx) even when an assertion
 * failed halfway, so a failing test leaves nothing behind. It works from
 * copies e2e_init keeps, never from the fixture (a local of a test
 * function whose frame is gone after a failed assertion).
 */
int e2e_teardown(void **state);

#endif /* BG_TEST_E2E_H */
