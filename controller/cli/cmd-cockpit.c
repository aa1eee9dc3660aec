/*
 * cmd-cockpit: `bluegreen cockpit --safe|--admin [--listen ADDR:PORT]
 * [--allow-remote] [--users FILE]`, the web view of the sites
 * (controller/cockpit, docs/cockpit.md), and `bluegreen cockpit user
 * add|del|list`, which keeps the users file (cockpit-auth.h).
 *
 * The mode is always asked for by name (ADR 0018): `--safe` holds no
 * power; `--admin` may approve the daemon's pending plan and roll a site
 * back, and does it only through the daemon's control socket with the
 * CLI's own client (ctls_client_apply), so the daemon checks and journals
 * it as it does `bluegreen apply`, with the actor "cockpit:USER". Neither
 * mode makes a runtime (no Docker). Admin mode needs a users file: an
 * action needs someone to journal.
 *
 * issue 15 (P): `--publish-dir DIR` (or cockpit.publish_dir) makes safe
 * mode read only what the daemon publishes there (pubdir.h): no history,
 * no state directory, so it can run as an unprivileged user.
 *
 * A password is read from stdin (without echo on a terminal, twice),
 * never from the arguments, and never printed; `user list` shows names,
 * roles and sites, never a hash.
 */
#include "bg.h"
#include "cli.h"
#include "cockpit.h"
#include "cockpit-auth.h"
#include "ctlsock.h"
#include "pubsnap.h"
#include "pubdir.h"

#include <libgen.h>

/* The cockpit reads what the daemon writes: one name for it. */
_Static_assert(sizeof(COCKPIT_PUB_JOURNAL) == sizeof(PUBDIR_JOURNAL),
		"the cockpit reads pubdir.h's journal.json");

#include <signal.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static volatile int cockpit_stop;

static void cockpit_on_signal(int sig)
{
	(void)sig;
	cockpit_stop = 1;
}

struct cockpit_args {
	bool safe, admin, allow_remote;
	const char *listen, *users;
	const char *publish_dir; /* issue 15 (P): --publish-dir, or cockpit.publish_dir in safe mode */
};

struct cockpit_listen_arg {
	struct cli *cli;
	bool admin;
};

static void cockpit_listening(unsigned port, void *arg)
{
	const struct cockpit_listen_arg *la = arg;
	/* The port is printed: a test (or an operator) passing port 0 learns it here. */
	fprintf(la->cli->out, "cockpit: %s, listening on port %u\n",
			la->admin ? "admin mode" : "safe mode (read-only)", port);
	fflush(la->cli->out);
}

static int cockpit_parse(int argc, char **argv, struct cli *cli, struct cockpit_args *a)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--safe") == 0) {
			a->safe = true;
		} else if (strcmp(argv[i], "--admin") == 0) {
			a->admin = true;
		} else if (strcmp(argv[i], "--allow-remote") == 0) {
			a->allow_remote = true;
		} else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			a->listen = argv[++i];
		} else if (bg_str_has_prefix(argv[i], "--listen=")) {
			a->listen = argv[i] + strlen("--listen=");
		} else if (strcmp(argv[i], "--users") == 0 && i + 1 < argc) {
			a->users = argv[++i];
		} else if (bg_str_has_prefix(argv[i], "--users=")) {
			a->users = argv[i] + strlen("--users=");
		} else if (strcmp(argv[i], "--publish-dir") == 0 && i + 1 < argc) {
			a->publish_dir = argv[++i];
		} else if (bg_str_has_prefix(argv[i], "--publish-dir=")) {
			a->publish_dir = argv[i] + strlen("--publish-dir=");
		} else {
			return cli_usage_error(cli, "cockpit: unknown argument '%s'", argv[i]);
		}
	}
	if (a->safe && a->admin) {
		return cli_usage_error(cli, "cockpit: --safe (read-only) and --admin (approve, "
				"roll back) exclude each other");
	}
	if (a->admin && a->publish_dir) {
		return cli_usage_error(cli, "cockpit: --publish-dir is for safe mode (an unprivileged "
				"reader); admin mode acts through the daemon's control socket");
	}
	return 0; /* neither: global.conf's cockpit.mode (default safe) decides */
}

/* ---- admin mode's one way to act: the CLI's control-socket client ---- */

static int cockpit_act(void *arg, const struct cockpit_act *a, struct bg_buf *out, int *exit_code)
{
	struct cli_env *env = arg;
	struct ctls_request req;
	char *text = NULL;
	size_t len = 0;
	char *path = bg_xasprintf("%s/%s", env->cfg->g.state_dir, CTLS_SOCKET_NAME);
	ctls_request_init(&req);
	req.token = bg_xstrdup(a->token);
	req.rollback_site = bg_xstrdup(a->rollback_site);
	req.actor = bg_xstrdup(a->actor);
	req.logs_site = bg_xstrdup(a->logs_site); /* issue 15: a read (logsreq.h) */
	req.logs_tail = a->logs_tail;
	if (a->confirms) {
		bg_strv_copy(&req.confirms, a->confirms);
	}
	FILE *f = open_memstream(&text, &len);
	int err = f ? ctls_client_apply(path, &req, f, f, exit_code) : BG_ERRNO(ENOMEM);
	if (f) {
		fclose(f);
	}
	bg_buf_add(out, text ? text : "", len);
	if (err) {
		bg_buf_addf(out, "cannot reach the watch daemon's control socket %s: %s: nothing "
				"was changed (is `bluegreen watch` running?)\n", path, bg_strerror(err));
		*exit_code = BG_EXIT_ERROR;
	}
	free(text);
	free(path);
	ctls_request_release(&req);
	return err;
}

/* --users, else global.conf's cockpit.users, else STATE_DIR/cockpit.users. */
static char *cockpit_users_path(const struct cli_env *env, const char *opt)
{
	const char *conf = env->cfg->g.cockpit.users;
	return opt ? bg_xstrdup(opt) : conf ? bg_xstrdup(conf)
			: bg_xasprintf("%s/%s", env->cfg->g.state_dir, CK_USERS_FILE);
}

/* The users file, when there is one: it must load (mode 0600, ours, good lines). */
static int cockpit_users_check(struct cli *cli, const char *path, bool *present)
{
	struct ck_users u;
	struct bg_diag d;
	ck_users_init(&u);
	bg_diag_init(&d);
	int err = ck_users_load(&u, path, &d);
	*present = err != BG_ERRNO(ENOENT);
	if (err == BG_ERRNO(ENOENT)) {
		err = 0;
	}
	cli_print_diag(cli, &d);
	bg_diag_release(&d);
	ck_users_release(&u);
	return err;
}

/*
 * issue 15 (P): what a cockpit reading a publish directory uses instead of
 * the state directory: the snapshot there; the users file only when named
 * (--users, cockpit.users; the state directory's is not its to read); the
 * refusal log beside the users file (its own directory), else none (stderr).
 */
static void cockpit_pub_paths(const struct cli_env *env, const struct cockpit_args *a,
		char **users, char **snap, char **refused)
{
	const char *u = a->users ? a->users : env->cfg->g.cockpit.users;
	*users = u ? bg_xstrdup(u) : NULL;
	*snap = bg_xasprintf("%s/%s", a->publish_dir, PUBSNAP_FILE);
	*refused = NULL;
	if (u) {
		char *copy = bg_xstrdup(u);
		*refused = bg_xasprintf("%s/%s", dirname(copy), COCKPIT_REFUSED_FILE);
		free(copy);
	}
}

static int cockpit_serve_mode(struct cli *cli, struct cli_env *env, const struct cockpit_args *a)
{
	struct bg_diag d;
	bool have_users = false;
	char *users, *snap, *refused;
	if (a->publish_dir) {
		cockpit_pub_paths(env, a, &users, &snap, &refused);
	} else {
		users = cockpit_users_path(env, a->users);
		snap = bg_xasprintf("%s/%s", env->cfg->g.state_dir, PUBSNAP_FILE);
		refused = bg_xasprintf("%s/%s", env->cfg->g.state_dir, COCKPIT_REFUSED_FILE);
	}
	int rc = BG_EXIT_ERROR;
	bg_diag_init(&d);
	if (users && cockpit_users_check(cli, users, &have_users) != 0) {
		goto out;
	}
	if (a->admin && !have_users) {
		fprintf(cli->err, "bluegreen: error: cockpit --admin needs a users file (%s): "
				"add an admin with `bluegreen cockpit user add NAME --role admin`\n", users);
		goto out;
	}
	struct cockpit_listen_arg la = {cli, a->admin};
	struct cockpit_opts o = {
		.snapshot_path = snap, .refusal_log = refused, .hist = env->hist,
		.listen = a->listen, .allow_remote = a->allow_remote, .stop = &cockpit_stop,
		.on_listen = cockpit_listening, .on_listen_arg = &la,
		.users_path = have_users ? users : NULL, .cfg = env->cfg,
		.act = a->admin ? cockpit_act : NULL, .act_arg = env,
		.conf = &env->cfg->g.cockpit, /* global.conf's cockpit: */
		.publish_dir = a->publish_dir, /* issue 15 (P) */
	};
	if (a->publish_dir) {
		fprintf(cli->err, "bluegreen: cockpit: reading the publish directory %s (uid %ld)\n",
				a->publish_dir, (long)geteuid());
	}
	struct sigaction sa = {.sa_handler = cockpit_on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = cockpit_serve(&o, &d) ? BG_EXIT_ERROR : BG_EXIT_OK;
	cli_print_diag(cli, &d);
out:
	bg_diag_release(&d);
	free(users);
	free(snap);
	free(refused);
	return rc;
}

/* ---- cockpit user add|del|list ---- */

/* One line of stdin, without its newline, echo off on a terminal; a new string. */
static char *cockpit_read_line(struct cli *cli, const char *prompt)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
	char *line = NULL;
	size_t cap = 0;
	if (tty) {
		fprintf(cli->err, "%s", prompt);
		fflush(cli->err);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	ssize_t n = getline(&line, &cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', cli->err);
	}
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
		line[--n] = '\0';
	}
	return line;
}

static void cockpit_forget(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* The new password: from stdin, twice on a terminal; a new string or NULL (said why). */
static char *cockpit_password(struct cli *cli)
{
	char *pw = cockpit_read_line(cli, "Password: ");
	if (!pw || !*pw || strlen(pw) > CK_PASSWORD_MAX) {
		fprintf(cli->err, "bluegreen: error: cockpit user add: give the password on stdin "
				"(one line, 1 to %u bytes)\n", CK_PASSWORD_MAX);
		cockpit_forget(pw);
		return NULL;
	}
	if (isatty(STDIN_FILENO)) {
		char *again = cockpit_read_line(cli, "Again: ");
		bool same = again && strcmp(again, pw) == 0;
		cockpit_forget(again);
		if (!same) {
			fprintf(cli->err, "bluegreen: error: the passwords differ: nothing changed\n");
			cockpit_forget(pw);
			return NULL;
		}
	}
	return pw;
}

static int cockpit_user_list(struct cli *cli, const struct ck_users *u)
{
	for (size_t i = 0; i < u->n; i++) {
		fprintf(cli->out, "%s %s ", u->v[i].name, ck_role_name(u->v[i].role));
		for (size_t k = 0; k < u->v[i].sites.n; k++) {
			fprintf(cli->out, "%s%s", k ? "," : "", u->v[i].sites.v[k]);
		}
		fprintf(cli->out, "%s\n", u->v[i].sites.n ? "" : "(all sites)");
	}
	return BG_EXIT_OK;
}

struct cockpit_user_args {
	const char *verb, *name, *role, *sites, *users;
};

static int cockpit_user_parse(int argc, char **argv, struct cli *cli, struct cockpit_user_args *a)
{
	a->verb = argc > 2 ? argv[2] : NULL;
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--role") == 0 && i + 1 < argc) {
			a->role = argv[++i];
		} else if (strcmp(argv[i], "--sites") == 0 && i + 1 < argc) {
			a->sites = argv[++i];
		} else if (strcmp(argv[i], "--users") == 0 && i + 1 < argc) {
			a->users = argv[++i];
		} else if (argv[i][0] != '-' && !a->name) {
			a->name = argv[i];
		} else {
			return cli_usage_error(cli, "cockpit user: unknown argument '%s' (a password "
					"is read from stdin, never from the arguments)", argv[i]);
		}
	}
	bool list = a->verb && strcmp(a->verb, "list") == 0;
	bool add = a->verb && strcmp(a->verb, "add") == 0;
	bool del = a->verb && strcmp(a->verb, "del") == 0;
	if (!(list || add || del) || (list == !!a->name) || (!add && (a->role || a->sites))) {
		return cli_usage_error(cli, "usage: bluegreen cockpit user add NAME --role viewer "
				"--sites a,b | add NAME --role admin | del NAME | list  [--users FILE]");
	}
	if (a->name && !ck_user_name_ok(a->name)) {
		return cli_usage_error(cli, "cockpit user: '%s' is not a user name "
				"([a-z0-9][a-z0-9._-], at most 32)", a->name);
	}
	return 0;
}

/* add: the role and sites checked, the password read, the file rewritten (0600). */
static int cockpit_user_add(struct cli *cli, struct ck_users *u, const struct cockpit_user_args *a,
		const char *path, struct bg_diag *d)
{
	enum ck_role role;
	struct bg_strv sites;
	bg_strv_init(&sites);
	int rc = BG_EXIT_ERROR;
	char *pw = NULL, *hash = NULL;
	if (!a->role || ck_role_parse(a->role, &role) != 0 || (role == CK_ROLE_VIEWER) != !!a->sites) {
		rc = cli_usage_error(cli, "cockpit user add: --role viewer --sites a,b, or --role admin "
				"(an admin sees every site)");
		goto out;
	}
	for (const char *p = a->sites; p && *p;) {
		size_t n = strcspn(p, ",");
		char *one = bg_xstrndup(p, n);
		if (!cfg_name_valid(one)) {
			fprintf(cli->err, "bluegreen: error: cockpit user add: '%s' is not a site name\n", one);
			free(one);
			goto out;
		}
		bg_strv_push_take(&sites, one);
		p += n + (p[n] == ',');
	}
	if (!(pw = cockpit_password(cli))) {
		goto out;
	}
	if (ck_password_hash(pw, &hash) != 0) {
		fprintf(cli->err, "bluegreen: error: cockpit user add: cannot hash the password\n");
		goto out;
	}
	ck_users_put(u, a->name, role, &sites, hash);
	if (ck_users_save(u, path, d) == 0) {
		fprintf(cli->out, "cockpit user %s (%s) saved in %s\n", a->name, ck_role_name(role), path);
		rc = BG_EXIT_OK;
	}
out:
	cockpit_forget(pw);
	cockpit_forget(hash);
	bg_strv_release(&sites);
	return rc;
}

static int cockpit_user(int argc, char **argv, struct cli *cli, struct cli_env *env)
{
	struct cockpit_user_args a = {0};
	struct ck_users u;
	struct bg_diag d;
	char *path = NULL;
	ck_users_init(&u);
	bg_diag_init(&d);
	int rc = cockpit_user_parse(argc, argv, cli, &a);
	/* issue 15: the users file needs no secret (run as the cockpit's user, who cannot read them). */
	if (rc || (rc = cli_env_load(cli, env, CFG_LOAD_NO_SECRETS)) != 0) {
		goto out;
	}
	rc = BG_EXIT_ERROR;
	path = cockpit_users_path(env, a.users);
	int err = ck_users_load(&u, path, &d);
	if (err && err != BG_ERRNO(ENOENT)) {
		goto out;
	}
	if (strcmp(a.verb, "list") == 0) {
		rc = cockpit_user_list(cli, &u);
	} else if (strcmp(a.verb, "add") == 0) {
		rc = cockpit_user_add(cli, &u, &a, path, &d);
	} else if (!ck_users_del(&u, a.name)) {
		fprintf(cli->err, "bluegreen: error: cockpit user del: no user '%s' in %s\n", a.name, path);
	} else if (ck_users_save(&u, path, &d) == 0) {
		fprintf(cli->out, "cockpit user %s removed (a running cockpit ends their sessions)\n",
				a.name);
		rc = BG_EXIT_OK;
	}
out:
	cli_print_diag(cli, &d);
	bg_diag_release(&d);
	ck_users_release(&u);
	free(path);
	return rc;
}

int cmd_cockpit(int argc, char **argv, struct cli *cli)
{
	struct cli_env env;
	struct cockpit_args a = {0};
	cli_env_init(&env);
	int rc;
	if (argc > 1 && strcmp(argv[1], "user") == 0) {
		rc = cockpit_user(argc, argv, cli, &env);
		goto out;
	}
	rc = cockpit_parse(argc, argv, cli, &a);
	/* issue 15 (P): a publish directory's reader never looks at the state directory. */
	cli->offline = !rc && a.publish_dir;
	/* issue 15: safe mode shows no secret, so it reads none (its user may not be able to). */
	if (!rc) {
		rc = cli_env_load(cli, &env, a.admin ? 0 : CFG_LOAD_NO_SECRETS);
	}
	if (!rc && !a.safe && !a.admin && env.cfg->g.cockpit.mode == CFG_COCKPIT_ADMIN) {
		a.admin = true; /* admin mode loads the configuration as every command does */
		cli_env_release(&env);
		rc = cli_env_load(cli, &env, 0);
	}
	if (!rc && !a.admin && !a.publish_dir) {
		a.publish_dir = env.cfg->g.cockpit.publish_dir; /* the key: safe mode only */
	}
	if (!rc && !a.publish_dir) {
		rc = cli_env_hist(cli, &env, HIST_RDONLY);
	}
	if (!rc) {
		rc = cockpit_serve_mode(cli, &env, &a);
	}
out:
	cli_env_release(&env);
	return rc;
}
