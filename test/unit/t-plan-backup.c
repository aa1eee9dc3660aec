/*
 * t-plan-backup: backups as steps of the plan (issue 12), from fixtures:
 * a real configuration loaded by cfg_load and an observation built in
 * code, planned by the pure planner. A production switch takes one
 * backup step after the candidate's gate and before the switch (listed
 * and run there), staging and backup.before_switch: false take none, a
 * first deploy has nothing to save; a restore plan has its steps in the
 * order written in docs/backups.md and its token covers the backup's
 * hashes; a rollback across a backup says so and restores only when asked.
 */
#include "bg.h"
#include "cfg.h"
#include "desired.h"
#include "edge.h"
#include "obs.h"
#include "plan.h"
#include "rec.h"
#include "plan-fx.h"
#include "th.h"

#define BK_ID "20261206T221500Z-3f2a"

/* mode: install_mode; dump: the db service has the mariadb preset; extra: site lines. */
static void fx_load(struct pfx *f, const char *mode, bool dump, const char *extra)
{
	char *g = pfx_global_conf(mode);
	char *sc = bg_xasprintf("site: shop\ndomains: [shop.example.com]\n"
			"image: bluegreen-test/web:v2\nport: 8080\n"
			"volumes: {uploads: /app/uploads}\nservices:\n  db:\n"
			"    image: bluegreen-test/db:1\n    volumes: {pgdata: /data}\n%s"
			"depends_on: [db]\nconfirm: \"RESTORE SHOP\"\n%s",
			dump ? "    backup: {preset: mariadb}\n" : "", extra ? extra : "");
	pfx_load(f, "plan-backup", g, sc, NULL, 0);
	free(g);
	free(sc);
	/* This file's image ids: sha256:0, sha256:1. */
	const char *refs[] = {"bluegreen-test/web:v2", "bluegreen-test/db:1"};
	for (size_t i = 0; i < 2; i++) {
		struct obs_image *im = obs_image_add(&f->obs);
		im->ref = bg_xstrdup(refs[i]);
		im->id = bg_xasprintf("sha256:%zu", i);
	}
	obs_finish(&f->obs);
}

static void add_container(struct pfx *f, const char *name, const char *colour,
		const char *spec, unsigned version, const char *ip)
{
	struct obs_container *c = obs_container_add(&f->obs);
	c->name = bg_xstrdup(name);
	c->id = bg_xasprintf("id-%s", name);
	c->image = bg_xstrdup("bluegreen-test/web:v2");
	c->state = OBS_CSTATE_RUNNING;
	obs_labels_set(&c->labels, BG_LABEL_MANAGED, "true");
	obs_labels_set(&c->labels, BG_LABEL_SITE, "shop");
	obs_labels_set(&c->labels, BG_LABEL_SPEC, spec);
	if (colour) {
		char buf[16];
		obs_labels_set(&c->labels, BG_LABEL_ROLE, "colour");
		obs_labels_set(&c->labels, BG_LABEL_COLOUR, colour);
		obs_labels_set(&c->labels, BG_LABEL_REPLICA, "1");
		snprintf(buf, sizeof(buf), "%u", version);
		obs_labels_set(&c->labels, BG_LABEL_VERSION, buf);
		c->nets = bg_xcalloc(1, sizeof(*c->nets));
		c->nets[0].network = bg_xstrdup("bgt-edge");
		c->nets[0].ip = bg_xstrdup(ip);
		c->n_nets = 1;
	} else {
		obs_labels_set(&c->labels, BG_LABEL_ROLE, "service");
		obs_labels_set(&c->labels, BG_LABEL_SERVICE, "db");
	}
}

/* Networks, both volumes and the running db service. */
static void add_infra(struct pfx *f)
{
	pfx_add_shop_networks(f);
	const char *vols[] = {"shop-pgdata", "shop-uploads"};
	for (size_t i = 0; i < 2; i++) {
		struct obs_volume *v = obs_volume_add(&f->obs);
		v->name = bg_xstrdup(vols[i]);
		obs_labels_set(&v->labels, BG_LABEL_MANAGED, "true");
		obs_labels_set(&v->labels, BG_LABEL_SITE, "shop");
	}
	char *ss = pfx_spec(f, 0);
	add_container(f, "shop-db", NULL, ss, 0, NULL);
	free(ss);
}

/* blue v1 live (an older spec), green absent: the plan builds green and switches. */
static void live_v1(struct pfx *f)
{
	add_infra(f);
	add_container(f, "shop-blue", "blue", "oldspec", 1, "10.0.0.2");
	pfx_add_edge(f, "blue", NULL, 1, "10.0.0.2:8080", NULL);
}

/* A recorded backup of site taken while v`version` was live: both volumes and db's dump. */
static void add_backup(struct pfx *f, const char *id, const char *site, unsigned version,
		const char *uploads_sha)
{
	struct obs_backup *b = obs_backup_add(&f->obs);
	b->id = bg_xstrdup(id);
	b->site = bg_xstrdup(site);
	b->why = bg_xstrdup("before switch (token 0123456789abcdef)");
	b->live_version = version;
	b->live_colour = bg_xstrdup("blue");
	bg_strv_push_take(&b->parts, bg_xasprintf("volume uploads %s volume-uploads.tar.gz",
			uploads_sha));
	bg_strv_push(&b->parts, "volume pgdata " "bb" " volume-pgdata.tar.gz");
	bg_strv_push(&b->parts, "dump db cc dump-db.sql.gz");
	bg_strv_push(&b->parts, "config site dd config.json");
}

static char *ops(const struct plan *p)
{
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < p->n_actions; i++) {
		const struct plan_action *a = &p->actions[i];
		bg_buf_addf(&b, "%u %s %s %s\n", a->phase, plan_op_name(a->op),
				plan_kind_name(a->kind), a->kind == PLAN_KIND_EDGE ? "EDGE" : a->name);
	}
	return bg_buf_detach(&b, NULL);
}

#define assert_ops(p, expected)                                               \
	do {                                                                  \
		char *got_ = ops(p);                                          \
		assert_string_equal(got_, expected);                          \
		free(got_);                                                   \
	} while (0)

static bool has_fact(const struct plan *p, const char *prefix)
{
	for (size_t i = 0; i < p->facts.n; i++) {
		if (bg_str_has_prefix(p->facts.v[i], prefix)) {
			return true;
		}
	}
	return false;
}

static bool site_note_has(const struct plan *p, const char *needle)
{
	const struct plan_site *ps = plan_site_find(p, "shop");
	for (size_t i = 0; ps && i < ps->notes.n; i++) {
		if (strstr(ps->notes.v[i], needle)) {
			return true;
		}
	}
	return false;
}

/* Production: gate, then the backup, then the switch; what it saves in its reason. */
static void test_backup_before_switch(void **state)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, "production", true, "strategy: {promote: auto}\n");
	live_v1(&f);
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p,
		"1 create container shop-green\n"
		"1 start container shop-green\n"
		"1 health container shop-green\n"
		"1 backup backup shop\n"
		"2 switch edge EDGE\n");
	const struct plan_action *a = &p.actions[3];
	th_assert_contains(a->reason, "before the switch");
	th_assert_contains(a->reason, "volumes shop-pgdata, shop-uploads");
	th_assert_contains(a->reason, "dumps of service db");
	assert_string_equal(a->colour, "blue");
	assert_true(has_fact(&p, "backup shop saves="));
	/* Shown in the text and the JSON. */
	struct bg_buf t = BG_BUF_INIT, j = BG_BUF_INIT;
	assert_int_equal(plan_render_text(&p, f.cfg, false, &t), 0);
	th_assert_contains(t.data, "backup");
	assert_int_equal(plan_render_json(&p, f.cfg, &j), 0);
	th_assert_contains(j.data, "\"op\": \"backup\"");
	th_assert_contains(j.data, "\"kind\": \"backup\"");
	bg_buf_release(&t);
	bg_buf_release(&j);
	plan_release(&p);
	pfx_release(&f);
}

/* Staging (default off) and before_switch: false take no backup. */
static void test_no_backup_when_off(void **state)
{
	struct pfx f;
	struct plan p;
	const char *cases[][2] = {
		{"staging", "strategy: {promote: auto}\n"},
		{"production", "strategy: {promote: auto}\nbackup: {before_switch: false}\n"},
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		fx_load(&f, cases[i][0], true, cases[i][1]);
		live_v1(&f);
		pfx_plan_ok(&f, NULL, &p);
		assert_ops(&p,
			"1 create container shop-green\n"
			"1 start container shop-green\n"
			"1 health container shop-green\n"
			"2 switch edge EDGE\n");
		assert_false(has_fact(&p, "backup shop"));
		plan_release(&p);
		pfx_release(&f);
	}
	/* staging with before_switch: true asked for it. */
	fx_load(&f, "staging", true, "strategy: {promote: auto}\nbackup: {before_switch: true}\n");
	live_v1(&f);
	pfx_plan_ok(&f, NULL, &p);
	assert_int_equal(p.actions[3].op, PLAN_OP_BACKUP);
	plan_release(&p);
	pfx_release(&f);
}

/* A first deploy (nothing live, nothing observed) has nothing to save. */
static void test_first_deploy_no_backup(void **state)
{
	struct pfx f;
	struct plan p;
	fx_load(&f, "production", true, NULL);
	pfx_plan_ok(&f, NULL, &p);
	for (size_t i = 0; i < p.n_actions; i++) {
		assert_int_not_equal(p.actions[i].op, PLAN_OP_BACKUP);
	}
	assert_true(p.n_actions > 0);
	plan_release(&p);
	pfx_release(&f);
}

static void restore_args(struct plan_args *args, enum plan_kind_of_plan kind, const char *id)
{
	plan_args_init(args);
	args->kind = kind;
	bg_strv_push(&args->sites, "shop");
	args->restore_id = bg_xstrdup(id);
}

/*
 * The restore plan: fresh backup, colours stopped, volumes put back (the
 * dumped service's own volume comes back through its dump), dump fed to
 * the running service, colours started, gate, edge re-read.
 */
static void test_restore_plan(void **state)
{
	struct pfx f;
	struct plan p, q;
	struct plan_args args;
	fx_load(&f, "production", true, NULL);
	add_infra(&f);
	char *spec = pfx_spec(&f, -1);
	add_container(&f, "shop-blue", "blue", spec, 1, "10.0.0.2");
	pfx_add_edge(&f, "blue", NULL, 1, "10.0.0.2:8080", NULL);
	add_backup(&f, BK_ID, "shop", 1, "aa");
	restore_args(&args, PLAN_RESTORE, BK_ID);
	pfx_plan_ok(&f, &args, &p);
	assert_ops(&p,
		"1 backup backup shop\n"
		"1 stop container shop-blue\n"
		"1 restore backup shop-uploads\n"
		"1 restore backup shop-db\n"
		"1 start container shop-blue\n"
		"1 health container blue\n"
		"2 write edge EDGE\n");
	th_assert_contains(p.actions[0].reason, "then check every hash of backup " BK_ID);
	assert_string_equal(p.actions[3].service, "db");
	assert_null(p.actions[2].service);
	const struct plan_site *ps = plan_site_find(&p, "shop");
	assert_true(ps->needs_confirm);
	assert_string_equal(ps->live_after, "blue");
	assert_true(site_note_has(&p, "replaces volumes shop-uploads; databases of service db"));
	assert_true(site_note_has(&p, "volume shop-pgdata is not put back"));
	assert_true(has_fact(&p, "restore shop backup=" BK_ID));
	/* A changed part of the backup changes the token. */
	pfx_release(&f);
	fx_load(&f, "production", true, NULL);
	add_infra(&f);
	add_container(&f, "shop-blue", "blue", spec, 1, "10.0.0.2");
	pfx_add_edge(&f, "blue", NULL, 1, "10.0.0.2:8080", NULL);
	add_backup(&f, BK_ID, "shop", 1, "a0");
	pfx_plan_ok(&f, &args, &q);
	assert_string_not_equal(p.token, q.token);
	plan_release(&q);
	plan_release(&p);
	plan_args_release(&args);
	free(spec);
	pfx_release(&f);
}

/* Without a dump the service is stopped around its volume's restore. */
static void test_restore_plan_no_dump(void **state)
{
	struct pfx f;
	struct plan p;
	struct plan_args args;
	fx_load(&f, "staging", false, NULL);
	add_infra(&f);
	char *spec = pfx_spec(&f, -1);
	add_container(&f, "shop-blue", "blue", spec, 1, "10.0.0.2");
	add_container(&f, "shop-green", "green", "oldspec", 2, "10.0.0.3");
	pfx_add_edge(&f, "blue", NULL, 1, "10.0.0.2:8080", NULL);
	add_backup(&f, BK_ID, "shop", 1, "aa");
	/* This configuration has no dump: the backup's dump part is for a service
	 * that still exists but has no backup.command now; drop it. */
	struct obs_backup *b = &f.obs.backups[0];
	bg_strv_release(&b->parts);
	bg_strv_init(&b->parts);
	bg_strv_push(&b->parts, "volume pgdata bb volume-pgdata.tar.gz");
	bg_strv_push(&b->parts, "volume uploads aa volume-uploads.tar.gz");
	restore_args(&args, PLAN_RESTORE, BK_ID);
	pfx_plan_ok(&f, &args, &p);
	assert_ops(&p,
		"1 backup backup shop\n"
		"1 stop container shop-blue\n"
		"1 stop container shop-green\n"
		"1 stop backup shop-db\n"
		"1 restore backup shop-pgdata\n"
		"1 restore backup shop-uploads\n"
		"1 start backup shop-db\n"
		"1 start container shop-blue\n"
		"1 start container shop-green\n"
		"1 health container blue\n"
		"2 write edge EDGE\n");
	assert_false(plan_site_find(&p, "shop")->needs_confirm); /* staging */
	plan_release(&p);
	plan_args_release(&args);
	free(spec);
	pfx_release(&f);
}

/* A backup that is not recorded, or is another site's: the plan is blocked. */
static void test_restore_refused(void **state)
{
	struct pfx f;
	struct plan p;
	struct plan_args args;
	fx_load(&f, "production", true, NULL);
	live_v1(&f);
	add_backup(&f, "20261206T000000Z-0000", "blog", 1, "aa");
	restore_args(&args, PLAN_RESTORE, "nope");
	pfx_plan_ok(&f, &args, &p);
	assert_int_equal(p.n_actions, 0);
	th_assert_contains(plan_site_find(&p, "shop")->blocked, "no backup 'nope'");
	plan_release(&p);
	plan_args_release(&args);
	restore_args(&args, PLAN_RESTORE, "20261206T000000Z-0000");
	pfx_plan_ok(&f, &args, &p);
	assert_int_equal(p.n_actions, 0);
	th_assert_contains(plan_site_find(&p, "shop")->blocked, "belongs to site 'blog'");
	plan_release(&p);
	plan_args_release(&args);
	pfx_release(&f);
}

/* green v2 live, blue v1 warm: the rollback notes the backup, and restores only when asked. */
static void test_rollback_across_migration(void **state)
{
	struct pfx f;
	struct plan p;
	struct plan_args args;
	fx_load(&f, "production", true, NULL);
	add_infra(&f);
	char *spec = pfx_spec(&f, -1);
	add_container(&f, "shop-blue", "blue", "oldspec", 1, "10.0.0.2");
	add_container(&f, "shop-green", "green", spec, 2, "10.0.0.3");
	pfx_add_edge(&f, "green", NULL, 2, "10.0.0.3:8080", NULL);
	add_backup(&f, BK_ID, "shop", 1, "aa");
	plan_args_init(&args);
	args.kind = PLAN_ROLLBACK;
	bg_strv_push(&args.sites, "shop");
	pfx_plan_ok(&f, &args, &p);
	assert_ops(&p, "2 switch edge EDGE\n");
	assert_true(site_note_has(&p, "the database may have been migrated by v2"));
	assert_true(site_note_has(&p, "bluegreen plan --restore shop@" BK_ID " --rollback"));
	assert_true(site_note_has(&p, "bluegreen rollback shop --restore " BK_ID " "));
	plan_release(&p);
	plan_args_release(&args);
	/* Asked: rollback + restore, the switch last; the live colour (green)
	 * stops first, the colour that will be live (blue) starts first. */
	restore_args(&args, PLAN_ROLLBACK, BK_ID);
	pfx_plan_ok(&f, &args, &p);
	assert_ops(&p,
		"1 backup backup shop\n"
		"1 stop container shop-green\n"
		"1 stop container shop-blue\n"
		"1 restore backup shop-uploads\n"
		"1 restore backup shop-db\n"
		"1 start container shop-blue\n"
		"1 start container shop-green\n"
		"1 health container blue\n"
		"2 switch edge EDGE\n");
	assert_string_equal(plan_site_find(&p, "shop")->live_after, "blue");
	plan_release(&p);
	plan_args_release(&args);
	free(spec);
	pfx_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backup_before_switch),
		cmocka_unit_test(test_no_backup_when_off),
		cmocka_unit_test(test_first_deploy_no_backup),
		cmocka_unit_test(test_restore_plan),
		cmocka_unit_test(test_restore_plan_no_dump),
		cmocka_unit_test(test_restore_refused),
		cmocka_unit_test(test_rollback_across_migration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
