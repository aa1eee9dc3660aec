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
#include "th.h"

#define BK_ID "20261206T221500Z-3f2a"

struct fx {
	char *dir;
	struct cfg *cfg;
	struct obs obs;
};

/* mode: install_mode; dump: the db service has the mariadb preset; extra: site lines. */
static void fx_load(struct fx *f, const char *mode, bool dump, const char *extra)
{
	struct bg_diag d;
	bg_diag_init(&d);
	f->dir = th_tmpdir("plan-backup");
	char *g = bg_xasprintf("install_mode: %s\nstate_dir: state\nedge:\n  kind: nginx\n"
			"  network: bgt-edge\n  nginx:\n    conf_dir: nginx\n"
			"    reload: [\"true\"]\n    test: []\n    upstream: addresses\n", mode);
	th_write(f->dir, "global.conf", g);
	free(g);
	char *sc = bg_xasprintf("site: shop\ndomains: [shop.example.com]\n"
			"image: bluegreen-test/web:v2\nport: 8080\n"
			"volumes: {uploads: /app/uploads}\nservices:\n  db:\n"
			"    image: bluegreen-test/db:1\n    volumes: {pgdata: /data}\n%s"
			"depends_on: [db]\nconfirm: \"RESTORE SHOP\"\n%s",
			dump ? "    backup: {preset: mariadb}\n" : "", extra ? extra : "");
	th_write(f->dir, "sites/shop.conf", sc);
	free(sc);
	int err = cfg_load(&f->cfg, f->dir, 0, &d);
	if (err) {
		bg_diag_print(&d, stderr);
	}
	assert_int_equal(err, 0);
	bg_diag_release(&d);
	obs_init(&f->obs);
	f->obs.engine_version = bg_xstrdup("20.10.24");
	f->obs.api_version = bg_xstrdup("1.41");
	f->obs.edge_kind = bg_xstrdup("nginx");
	const char *refs[] = {"bluegreen-test/web:v2", "bluegreen-test/db:1"};
	for (size_t i = 0; i < 2; i++) {
		struct obs_image *im = obs_image_add(&f->obs);
		im->ref = bg_xstrdup(refs[i]);
		im->id = bg_xasprintf("sha256:%zu", i);
	}
	obs_finish(&f->obs);
}

static void fx_release(struct fx *f)
{
	obs_release(&f->obs);
	cfg_destroy(f->cfg);
	th_rm_rf(f->dir);
	free(f->dir);
}

/* The desired spec of shop (colour, or its db service). */
static char *spec_of(struct fx *f, bool service)
{
	struct desired des;
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(des_build(&des, f->cfg, &f->obs, &d), 0);
	char *spec = bg_xstrdup(service ? des.sites[0].services[0].spec : des.sites[0].spec);
	des_release(&des);
	bg_diag_release(&d);
	return spec;
}

static void add_container(struct fx *f, const char *name, const char *colour,
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
static void add_infra(struct fx *f)
{
	const char *nets[] = {"bgt-edge", "shop-net"};
	for (size_t i = 0; i < 2; i++) {
		struct obs_network *n = obs_network_add(&f->obs);
		n->name = bg_xstrdup(nets[i]);
		n->id = bg_xasprintf("net%zu", i);
		obs_labels_set(&n->labels, BG_LABEL_MANAGED, "true");
	}
	const char *vols[] = {"shop-pgdata", "shop-uploads"};
	for (size_t i = 0; i < 2; i++) {
		struct obs_volume *v = obs_volume_add(&f->obs);
		v->name = bg_xstrdup(vols[i]);
		obs_labels_set(&v->labels, BG_LABEL_MANAGED, "true");
		obs_labels_set(&v->labels, BG_LABEL_SITE, "shop");
	}
	char *ss = spec_of(f, true);
	add_container(f, "shop-db", NULL, ss, 0, NULL);
	free(ss);
}

static void add_edge(struct fx *f, const char *live, unsigned version, const char *upstream)
{
	struct bg_strv lu;
	struct bg_buf content = BG_BUF_INIT;
	char sha[65];
	bg_strv_init(&lu);
	bg_strv_push(&lu, upstream);
	struct edge_view v = {.site = &f->cfg->sites[0], .live = live, .live_version = version,
			.live_upstreams = &lu};
	assert_int_equal(edge_nginx_impl.render(f->cfg, &v, &content), 0);
	bg_sha256_hex(content.data, content.len, sha);
	struct obs_edge *e = obs_edge_add(&f->obs);
	e->site = bg_xstrdup("shop");
	e->path = edge_nginx_impl.path(f->cfg, "shop");
	e->exists = true;
	e->live = bg_xstrdup(live);
	e->content_sha = bg_xstrdup(sha);
	bg_strv_copy(&e->upstreams, &lu);
	bg_strv_release(&lu);
	bg_buf_release(&content);
}

/* blue v1 live (an older spec), green absent: the plan builds green and switches. */
static void live_v1(struct fx *f)
{
	add_infra(f);
	add_container(f, "shop-blue", "blue", "oldspec", 1, "10.0.0.2");
	add_edge(f, "blue", 1, "10.0.0.2:8080");
}

/* A recorded backup of site taken while v`version` was live: both volumes and db's dump. */
static void add_backup(struct fx *f, const char *id, const char *site, unsigned version,
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

static void plan_ok(struct fx *f, const struct plan_args *args, struct plan *p)
{
	struct bg_diag d;
	struct plan_args none;
	bg_diag_init(&d);
	plan_args_init(&none);
	obs_finish(&f->obs);
	int err = rec_plan_build(p, f->cfg, &f->obs, args ? args : &none, &d);
	if (err) {
		bg_diag_print(&d, stderr);
	}
	assert_int_equal(err, 0);
	plan_args_release(&none);
	bg_diag_release(&d);
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
	struct fx f;
	struct plan p;
	fx_load(&f, "production", true, "strategy: {promote: auto}\n");
	live_v1(&f);
	plan_ok(&f, NULL, &p);
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
	fx_release(&f);
}

/* Staging (default off) and before_switch: false take no backup. */
static void test_no_backup_when_off(void **state)
{
	struct fx f;
	struct plan p;
	const char *cases[][2] = {
		{"staging", "strategy: {promote: auto}\n"},
		{"production", "strategy: {promote: auto}\nbackup: {before_switch: false}\n"},
	};
	for (size_t i = 0; i < BG_ARRAY_SIZE(cases); i++) {
		fx_load(&f, cases[i][0], true, cases[i][1]);
		live_v1(&f);
		plan_ok(&f, NULL, &p);
		assert_ops(&p,
			"1 create container shop-green\n"
			"1 start container shop-green\n"
			"1 health container shop-green\n"
			"2 switch edge EDGE\n");
		assert_false(has_fact(&p, "backup shop"));
		plan_release(&p);
		fx_release(&f);
	}
	/* staging with before_switch: true asked for it. */
	fx_load(&f, "staging", true, "strategy: {promote: auto}\nbackup: {before_switch: true}\n");
	live_v1(&f);
	plan_ok(&f, NULL, &p);
	assert_int_equal(p.actions[3].op, PLAN_OP_BACKUP);
	plan_release(&p);
	fx_release(&f);
}

/* A first deploy (nothing live, nothing observed) has nothing to save. */
static void test_first_deploy_no_backup(void **state)
{
	struct fx f;
	struct plan p;
	fx_load(&f, "production", true, NULL);
	plan_ok(&f, NULL, &p);
	for (size_t i = 0; i < p.n_actions; i++) {
		assert_int_not_equal(p.actions[i].op, PLAN_OP_BACKUP);
	}
	assert_true(p.n_actions > 0);
	plan_release(&p);
	fx_release(&f);
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
	struct fx f;
	struct plan p, q;
	struct plan_args args;
	fx_load(&f, "production", true, NULL);
	add_infra(&f);
	char *spec = spec_of(&f, false);
	add_container(&f, "shop-blue", "blue", spec, 1, "10.0.0.2");
	add_edge(&f, "blue", 1, "10.0.0.2:8080");
	add_backup(&f, BK_ID, "shop", 1, "aa");
	restore_args(&args, PLAN_RESTORE, BK_ID);
	plan_ok(&f, &args, &p);
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
	fx_release(&f);
	fx_load(&f, "production", true, NULL);
	add_infra(&f);
	add_container(&f, "shop-blue", "blue", spec, 1, "10.0.0.2");
	add_edge(&f, "blue", 1, "10.0.0.2:8080");
	add_backup(&f, BK_ID, "shop", 1, "a0");
	plan_ok(&f, &args, &q);
	assert_string_not_equal(p.token, q.token);
	plan_release(&q);
	plan_release(&p);
	plan_args_release(&args);
	free(spec);
	fx_release(&f);
}

/* Without a dump the service is stopped around its volume's restore. */
static void test_restore_plan_no_dump(void **state)
{
	struct fx f;
	struct plan p;
	struct plan_args args;
	fx_load(&f, "staging", false, NULL);
	add_infra(&f);
	char *spec = spec_of(&f, false);
	add_container(&f, "shop-blue", "blue", spec, 1, "10.0.0.2");
	add_container(&f, "shop-green", "green", "oldspec", 2, "10.0.0.3");
	add_edge(&f, "blue", 1, "10.0.0.2:8080");
	add_backup(&f, BK_ID, "shop", 1, "aa");
	/* This configuration has no dump: the backup's dump part is for a service
	 * that still exists but has no backup.command now; drop it. */
	struct obs_backup *b = &f.obs.backups[0];
	bg_strv_release(&b->parts);
	bg_strv_init(&b->parts);
	bg_strv_push(&b->parts, "volume pgdata bb volume-pgdata.tar.gz");
	bg_strv_push(&b->parts, "volume uploads aa volume-uploads.tar.gz");
	restore_args(&args, PLAN_RESTORE, BK_ID);
	plan_ok(&f, &args, &p);
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
	fx_release(&f);
}

/* A backup that is not recorded, or is another site's: the plan is blocked. */
static void test_restore_refused(void **state)
{
	struct fx f;
	struct plan p;
	struct plan_args args;
	fx_load(&f, "production", true, NULL);
	live_v1(&f);
	add_backup(&f, "20261206T000000Z-0000", "blog", 1, "aa");
	restore_args(&args, PLAN_RESTORE, "nope");
	plan_ok(&f, &args, &p);
	assert_int_equal(p.n_actions, 0);
	th_assert_contains(plan_site_find(&p, "shop")->blocked, "no backup 'nope'");
	plan_release(&p);
	plan_args_release(&args);
	restore_args(&args, PLAN_RESTORE, "20261206T000000Z-0000");
	plan_ok(&f, &args, &p);
	assert_int_equal(p.n_actions, 0);
	th_assert_contains(plan_site_find(&p, "shop")->blocked, "belongs to site 'blog'");
	plan_release(&p);
	plan_args_release(&args);
	fx_release(&f);
}

/* green v2 live, blue v1 warm: the rollback notes the backup, and restores only when asked. */
static void test_rollback_across_migration(void **state)
{
	struct fx f;
	struct plan p;
	struct plan_args args;
	fx_load(&f, "production", true, NULL);
	add_infra(&f);
	char *spec = spec_of(&f, false);
	add_container(&f, "shop-blue", "blue", "oldspec", 1, "10.0.0.2");
	add_container(&f, "shop-green", "green", spec, 2, "10.0.0.3");
	add_edge(&f, "green", 2, "10.0.0.3:8080");
	add_backup(&f, BK_ID, "shop", 1, "aa");
	plan_args_init(&args);
	args.kind = PLAN_ROLLBACK;
	bg_strv_push(&args.sites, "shop");
	plan_ok(&f, &args, &p);
	assert_ops(&p, "2 switch edge EDGE\n");
	assert_true(site_note_has(&p, "the database may have been migrated by v2"));
	assert_true(site_note_has(&p, "bluegreen plan --restore shop@" BK_ID " --rollback"));
	plan_release(&p);
	plan_args_release(&args);
	/* Asked: rollback + restore, the switch last; the live colour (green)
	 * stops first, the colour that will be live (blue) starts first. */
	restore_args(&args, PLAN_ROLLBACK, BK_ID);
	plan_ok(&f, &args, &p);
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
	fx_release(&f);
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
