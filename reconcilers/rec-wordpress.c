/*
 * rec-wordpress: the wordpress module's own plan steps (issue 16, ADR
 * "Modules expand config": steps no site key can express go through the
 * reconciler interface). Two of them:
 *
 * - The first install (`wordpress.install: auto`, the default): when the
 *   database says WordPress is not installed, the plan runs the installer
 *   against the colour that goes live, after its gate and before the
 *   switch (rec-wordpress-apply.c: install.php through the colour's
 *   address; the admin password generated there, shown once, kept 0600).
 *   An installed database plans nothing. `wizard` leaves it to the operator.
 * - A database upgrade: a candidate whose WordPress has a higher
 *   $wp_db_version than the database is a one-way change for the shared
 *   database. The plan says so, makes sure a backup step comes before the
 *   switch, and runs wp-admin/upgrade.php at the switch. A rollback to code
 *   older than the database says so and names the restore of the backup
 *   taken before the upgrade (rollback + restore, rec-backup.c).
 *
 * The planner stays pure: observe reads what it needs into
 * obs.module_facts ("SITE KEY VALUE" lines) by exec argvs in the site's
 * running containers (never a shell, never a password): the database's
 * state and db_version from the db service, each running colour's
 * version.php. Every fact of a site is a fact of the plan, so its token
 * changes when the database or the code does.
 */
#include "bg.h"
#include "rec-wordpress-int.h"

#include <stdlib.h>

bool wp_site_is(const struct cfg_site *cs)
{
	return cs && cs->kind && strcmp(cs->kind, "wordpress") == 0;
}

const char *wp_title(const struct cfg_site *cs)
{
	return cs->wordpress.title ? cs->wordpress.title : cs->name;
}

const char *wp_admin_user(const struct cfg_site *cs)
{
	return cs->wordpress.admin_user ? cs->wordpress.admin_user : "admin";
}

char *wp_admin_email(const struct cfg_site *cs)
{
	if (cs->wordpress.admin_email) {
		return bg_xstrdup(cs->wordpress.admin_email);
	}
	return bg_xasprintf("admin@%s", cs->domains.n ? cs->domains.v[0] : "example.com");
}

static bool install_auto(const struct cfg_site *cs)
{
	return !cs->wordpress.install || strcmp(cs->wordpress.install, "wizard") != 0;
}

/* ---- observation ---- */

static void fact_push(struct obs *o, const char *site, const char *fmt, ...) BG_PRINTF(3, 4);
static void fact_push(struct obs *o, const char *site, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *v = bg_xvasprintf(fmt, ap);
	va_end(ap);
	bg_strv_push_take(&o->module_facts, bg_xasprintf("%s %s", site, v));
	free(v);
}

/* The value of fact KEY of site (borrowed), or NULL. */
static const char *fact(const struct obs *o, const char *site, const char *key)
{
	size_t sl = strlen(site), kl = strlen(key);
	for (size_t i = 0; i < o->module_facts.n; i++) {
		const char *f = o->module_facts.v[i];
		if (strncmp(f, site, sl) == 0 && f[sl] == ' ' && strncmp(f + sl + 1, key, kl) == 0 &&
				f[sl + 1 + kl] == ' ') {
			return f + sl + kl + 2;
		}
	}
	return NULL;
}

static const struct obs_container *site_db(const struct obs *o, const char *site)
{
	for (size_t i = 0; i < o->n_containers; i++) {
		const struct obs_container *c = &o->containers[i];
		if (c->site && strcmp(c->site, site) == 0 && c->role &&
				strcmp(c->role, "service") == 0 && c->service &&
				strcmp(c->service, WP_DB_SERVICE) == 0) {
			return c;
		}
	}
	return NULL;
}

/* The database's facts: db absent|stopped|unknown|ok, installed, db_version. */
static void observe_db(struct rt *rt, const struct cfg_site *cs, struct obs *o)
{
	const struct obs_container *db = site_db(o, cs->name);
	if (!db) {
		fact_push(o, cs->name, "db absent");
		return;
	}
	if (db->state != OBS_CSTATE_RUNNING) {
		fact_push(o, cs->name, "db stopped");
		return;
	}
	struct wp_db_state st;
	struct bg_diag dd;
	bg_diag_init(&dd);
	/* A failed exec is a fact (unknown), not a failed observation. */
	wp_db_read(rt, db->id, cs, &st, &dd);
	bg_diag_release(&dd);
	if (st.installed < 0) {
		fact_push(o, cs->name, "db unknown");
		return;
	}
	fact_push(o, cs->name, "db ok");
	fact_push(o, cs->name, "installed %d", st.installed);
	if (st.db_version) {
		fact_push(o, cs->name, "db_version %lu", st.db_version);
	}
}

/* Each running colour's code: "code.COLOUR SPEC DB_VERSION WP_VERSION". */
static void observe_code(struct rt *rt, const struct cfg_site *cs, struct obs *o)
{
	for (size_t i = 0; i < o->n_containers; i++) {
		const struct obs_container *c = &o->containers[i];
		if (!c->site || strcmp(c->site, cs->name) != 0 || !c->role ||
				strcmp(c->role, "colour") != 0 || !c->colour || c->replica != 1 ||
				c->state != OBS_CSTATE_RUNNING) {
			continue;
		}
		unsigned long dbv = 0;
		char *wpv = NULL;
		struct bg_diag dd;
		bg_diag_init(&dd);
		wp_code_read(rt, c->id, &dbv, &wpv, &dd);
		bg_diag_release(&dd);
		if (dbv) {
			fact_push(o, cs->name, "code.%s %s %lu %s", c->colour, c->spec ? c->spec : "-",
					dbv, wpv ? wpv : "?");
		}
		free(wpv);
	}
}

static int wp_observe(struct rt *rt, const struct cfg *cfg, struct obs *o, struct bg_diag *d)
{
	(void)d;
	for (size_t i = 0; i < cfg->n_sites; i++) {
		const struct cfg_site *cs = &cfg->sites[i];
		if (wp_site_is(cs)) {
			observe_db(rt, cs, o);
			observe_code(rt, cs, o);
		}
	}
	bg_strv_sort(&o->module_facts);
	return 0;
}

/* ---- plan ---- */

/* A colour's code fact: its spec, db_version and WordPress version (NULL: none). */
struct code {
	char spec[72];
	unsigned long db_version;
	char wp[40];
};

static bool code_of(const struct obs *o, const char *site, const char *colour, struct code *c)
{
	char key[32];
	snprintf(key, sizeof(key), "code.%s", colour);
	const char *v = fact(o, site, key);
	memset(c, 0, sizeof(*c));
	return v && sscanf(v, "%71s %lu %39s", c->spec, &c->db_version, c->wp) == 3;
}

static unsigned long db_version_of(const struct obs *o, const char *site)
{
	const char *v = fact(o, site, "db_version");
	return v ? strtoul(v, NULL, 10) : 0;
}

/* The site's facts in one plan fact: the token covers them. */
static void facts_to_plan(struct rec_diff_ctx *ctx)
{
	struct bg_buf b = BG_BUF_INIT;
	const char *site = ctx->site->name;
	size_t sl = strlen(site);
	for (size_t i = 0; i < ctx->obs->module_facts.n; i++) {
		const char *f = ctx->obs->module_facts.v[i];
		if (strncmp(f, site, sl) == 0 && f[sl] == ' ') {
			bg_buf_addf(&b, "%s%s", b.len ? "; " : "", f + sl + 1);
		}
	}
	plan_fact_add(ctx->plan, "wordpress %s %s", site, b.len ? b.data : "(nothing observed)");
	bg_buf_release(&b);
}

/* The switch action of the site's slice, or NULL. */
static const struct plan_action *site_switch(const struct rec_diff_ctx *ctx)
{
	for (size_t i = ctx->ps->first_action; i < ctx->plan->n_actions; i++) {
		const struct plan_action *a = &ctx->plan->actions[i];
		if (a->op == PLAN_OP_SWITCH && a->kind == PLAN_KIND_EDGE) {
			return a;
		}
	}
	return NULL;
}

/* Where a phase-1 step goes: before the slice's first later-phase step. */
static size_t build_end(const struct rec_diff_ctx *ctx)
{
	for (size_t i = ctx->ps->first_action; i < ctx->plan->n_actions; i++) {
		if (ctx->plan->actions[i].phase != PLAN_PHASE_BUILD) {
			return i;
		}
	}
	return ctx->plan->n_actions;
}

/* Move the plan's last action to index at. */
static void move_last(struct plan *p, size_t at)
{
	if (at >= p->n_actions - 1) {
		return;
	}
	struct plan_action last = p->actions[p->n_actions - 1];
	memmove(&p->actions[at + 1], &p->actions[at],
			(p->n_actions - 1 - at) * sizeof(p->actions[0]));
	p->actions[at] = last;
}

/* The colour the install runs against: the one switched to, else live, else the candidate. */
static const char *install_colour(const struct rec_diff_ctx *ctx)
{
	const struct plan_action *sw = site_switch(ctx);
	if (sw && sw->colour) {
		return sw->colour;
	}
	return ctx->ps->live_after ? ctx->ps->live_after : ctx->ps->candidate_after;
}

static void install_diff(struct rec_diff_ctx *ctx)
{
	const struct cfg_site *cs = ctx->site->cfg;
	const char *site = cs->name;
	const char *db = fact(ctx->obs, site, "db");
	const char *inst = fact(ctx->obs, site, "installed");
	if (inst && strcmp(inst, "1") == 0) {
		return;
	}
	if (!db || (strcmp(db, "absent") != 0 && strcmp(db, "ok") != 0)) {
		plan_note_add(ctx->plan, ctx->ps, "cannot tell whether WordPress is installed (the "
				"database service %s is %s): no install planned", WP_DB_SERVICE,
				db && strcmp(db, "stopped") == 0 ? "not running" : "not answering");
		return;
	}
	const char *colour = install_colour(ctx);
	if (!install_auto(cs)) {
		plan_note_add(ctx->plan, ctx->ps, "WordPress is not installed and wordpress.install "
				"is wizard: run the install at http://%s/wp-admin/install.php", cs->preview
				? cs->preview : cs->domains.v[0]);
		return;
	}
	if (!colour) {
		return; /* no colour runs after this plan: nothing to install through */
	}
	char *email = wp_admin_email(cs);
	struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_INSTALL, PLAN_KIND_WORDPRESS,
			site, site, "install WordPress: title %s, admin %s <%s> (through %s, before "
			"it goes live; the admin password is generated and shown once)",
			wp_title(cs), wp_admin_user(cs), email, colour);
	a->phase = PLAN_PHASE_BUILD;
	a->colour = bg_xstrdup(colour);
	plan_fact_add(ctx->plan, "wordpress %s install title=%s user=%s email=%s colour=%s", site,
			wp_title(cs), wp_admin_user(cs), email, colour);
	free(email);
	move_last(ctx->plan, build_end(ctx));
}

/* A backup step before the switch, unless rec-backup planned one already. */
static void backup_ensure(struct rec_diff_ctx *ctx, unsigned long from, unsigned long to)
{
	const char *site = ctx->site->name;
	for (size_t i = ctx->ps->first_action; i < ctx->plan->n_actions; i++) {
		if (ctx->plan->actions[i].op == PLAN_OP_BACKUP) {
			return;
		}
	}
	struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_BACKUP, PLAN_KIND_BACKUP, site,
			site, "back up before the database upgrade %lu -> %lu: the site's volumes and "
			"the dump of service %s (the apply stops here if it fails)", from, to,
			WP_DB_SERVICE);
	a->phase = PLAN_PHASE_BUILD;
	a->colour = ctx->ps->live_before ? bg_xstrdup(ctx->ps->live_before) : NULL;
	a->version = ctx->ps->version_before;
	plan_fact_add(ctx->plan, "backup %s before wordpress upgrade", site);
	move_last(ctx->plan, build_end(ctx));
}

/* The upgrade step, right before the switch (phase 2). */
static void upgrade_step(struct rec_diff_ctx *ctx, const struct plan_action *sw,
		unsigned long from, unsigned long to, const char *reason)
{
	const char *colour = sw->colour;
	size_t at = (size_t)(sw - ctx->plan->actions);
	struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_UPGRADE, PLAN_KIND_WORDPRESS,
			ctx->site->name, ctx->site->name, "%s", reason);
	a->phase = PLAN_PHASE_SWITCH;
	a->colour = bg_xstrdup(colour);
	a->version = (unsigned)to;        /* the db_version announced (0: not known yet) */
	a->reject_version = (unsigned)from;
	move_last(ctx->plan, at);
}

static void upgrade_diff(struct rec_diff_ctx *ctx)
{
	const char *site = ctx->site->name;
	const struct plan_action *sw = site_switch(ctx);
	const char *inst = fact(ctx->obs, site, "installed");
	unsigned long n = db_version_of(ctx->obs, site);
	if (!sw || !sw->colour || !inst || strcmp(inst, "1") != 0 || !n ||
			(ctx->ps->live_before && strcmp(ctx->ps->live_before, sw->colour) == 0)) {
		return;
	}
	struct code c;
	if (!code_of(ctx->obs, site, sw->colour, &c) || strcmp(c.spec, ctx->site->spec) != 0) {
		char *why = bg_xasprintf("at the switch: compare the db_version of %s's WordPress "
				"(not read when this plan was made: not running yet) with the database's (%lu); an "
				"upgrade this plan does not name stops the apply before the switch "
				"(plan again: it then names the upgrade and backs up first)", sw->colour, n);
		upgrade_step(ctx, sw, n, 0, why);
		free(why);
		return;
	}
	if (c.db_version < n) {
		plan_note_add(ctx->plan, ctx->ps, "%s's WordPress %s (db_version %lu) is older than "
				"the database (db_version %lu): the database is not changed", sw->colour,
				c.wp, c.db_version, n);
		return;
	}
	if (c.db_version == n) {
		return;
	}
	plan_note_add(ctx->plan, ctx->ps, "one-way: database upgrade %lu -> %lu (WordPress %s on "
			"%s): a backup is taken before the switch and upgrade.php runs at the switch; "
			"a later rollback to older code needs that backup restored", n, c.db_version,
			c.wp, sw->colour);
	backup_ensure(ctx, n, c.db_version);
	sw = site_switch(ctx); /* the backup step moved it */
	char *why = bg_xasprintf("one-way: database upgrade %lu -> %lu (wp-admin/upgrade.php "
			"through %s, right before it goes live)", n, c.db_version, sw->colour);
	upgrade_step(ctx, sw, n, c.db_version, why);
	free(why);
}

static int wp_diff(struct rec_diff_ctx *ctx)
{
	if (!ctx->site || ctx->ps->blocked || !wp_site_is(ctx->site->cfg) ||
			ctx->args->kind != PLAN_CONVERGE) {
		return 0;
	}
	facts_to_plan(ctx);
	size_t before = ctx->plan->n_actions;
	install_diff(ctx);
	if (ctx->plan->n_actions == before) {
		upgrade_diff(ctx); /* never in the plan that installs */
	}
	return 0;
}

/* ---- rollback across an upgrade ---- */

/* The newest backup of site taken while version was live, or NULL. */
static const struct obs_backup *backup_while_live(const struct obs *o, const char *site,
		unsigned version)
{
	const struct obs_backup *hit = NULL;
	for (size_t i = 0; version && i < o->n_backups; i++) {
		const struct obs_backup *b = &o->backups[i];
		if (strcmp(b->site, site) == 0 && b->live_version == version) {
			hit = b;
		}
	}
	return hit;
}

static int wp_rollback(struct rec_diff_ctx *ctx)
{
	struct plan_site *ps = ctx->ps;
	if (!ctx->site || ps->blocked || !wp_site_is(ctx->site->cfg) || !ps->live_after ||
			!ps->live_before || strcmp(ps->live_before, ps->live_after) == 0) {
		return 0;
	}
	const char *site = ctx->site->name;
	facts_to_plan(ctx);
	unsigned long n = db_version_of(ctx->obs, site);
	struct code c;
	if (!n || !code_of(ctx->obs, site, ps->live_after, &c) || c.db_version >= n) {
		return 0;
	}
	const struct obs_backup *b = backup_while_live(ctx->obs, site, ps->version_after);
	if (ctx->args->restore_id) {
		plan_note_add(ctx->plan, ps, "the database (db_version %lu) is newer than v%u's "
				"WordPress %s (db_version %lu): the restore of backup %s brings it back",
				n, ps->version_after, c.wp, c.db_version, ctx->args->restore_id);
	} else if (b) {
		plan_note_add(ctx->plan, ps, "the database is newer than the code rolled back to: "
				"db_version %lu (upgraded by v%u) > %lu (v%u's WordPress %s); this rollback "
				"switches the code only; to restore the database as it was before the "
				"upgrade (backup %s, taken while v%u was live): bluegreen rollback %s "
				"--restore %s", n, ps->version_before, c.db_version, ps->version_after,
				c.wp, b->id, ps->version_after, site, b->id);
	} else {
		plan_note_add(ctx->plan, ps, "the database is newer than the code rolled back to: "
				"db_version %lu > %lu (v%u's WordPress %s), and no backup taken while v%u "
				"was live is recorded (bluegreen backups %s lists them): this rollback "
				"switches the code only", n, c.db_version, ps->version_after, c.wp,
				ps->version_after, site);
	}
	return 0;
}

static bool wp_handles(enum plan_kind kind)
{
	return kind == PLAN_KIND_WORDPRESS;
}

const struct rec_impl rec_wordpress_impl = {
	.kind = "wordpress",
	.observe = wp_observe,
	.diff = wp_diff,
	.apply = wp_apply,
	.handles = wp_handles,
	.rollback = wp_rollback,
};
