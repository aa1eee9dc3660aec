/*
 * t-plan-wordpress: the wordpress module's own plan steps (issue 16,
 * reconcilers/rec-wordpress.c), from fixtures: a `kind: wordpress` site
 * loaded by cfg_load (the module expands it) and an observation built in
 * code, with the facts rec-wordpress's observe would have read
 * (obs.module_facts). A first deploy installs before the switch, an
 * installed database installs nothing, `wizard` only says where; a
 * candidate with a higher db_version gets a backup and the upgrade right
 * before the switch; a candidate not running yet gets a check step; a
 * rollback to older code names the restore of the pre-upgrade backup; a
 * snapshot (plan --observed) keeps the facts.
 */
#include "bg.h"
#include "cfg.h"
#include "obs.h"
#include "plan.h"
#include "rec.h"
#include "plan-fx.h"
#include "rec-wordpress-int.h"
#include "th.h"

#define BK_ID "20261207T080000Z-3f2a"

/* extra: keys inside the site's wordpress: mapping; site_extra: more site lines. */
static void fx_load(struct pfx *f, const char *extra, const char *site_extra)
{
	char *g0 = pfx_global_conf("development");
	char *g = bg_xasprintf("%smodules: [wordpress]\n", g0);
	char *sc = bg_xasprintf("site: shop\nkind: wordpress\ndomains: [shop.example.com]\n"
			"wordpress: {image: \"bluegreen-test/web:v2\", db_image: "
			"\"bluegreen-test/db:1\"%s}\n%s", extra ? extra : "",
			site_extra ? site_extra : "");
	const char *refs[] = {"bluegreen-test/web:v2", "bluegreen-test/db:1"};
	pfx_load(f, "plan-wordpress", g, sc, refs, 2);
	obs_finish(&f->obs);
	free(g0);
	free(g);
	free(sc);
}

static void facts(struct pfx *f, const char *const *lines)
{
	for (size_t i = 0; lines[i]; i++) {
		bg_strv_push(&f->obs.module_facts, lines[i]);
	}
	bg_strv_sort(&f->obs.module_facts);
}

/* The site's network, volumes and the running db service. */
static void infra(struct pfx *f)
{
	pfx_add_shop_networks(f);
	const char *vols[] = {"shop-db", "shop-uploads"};
	for (size_t i = 0; i < 2; i++) {
		struct obs_volume *v = obs_volume_add(&f->obs);
		v->name = bg_xstrdup(vols[i]);
		obs_labels_set(&v->labels, BG_LABEL_MANAGED, "true");
		obs_labels_set(&v->labels, BG_LABEL_SITE, "shop");
	}
	char *ss = pfx_spec(f, 0);
	pfx_add_container(f, "shop-db", "service", NULL, 0, ss, 0, "running", NULL);
	free(ss);
}

static char *ops(const struct plan *p)
{
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < p->n_actions; i++) {
		const struct plan_action *a = &p->actions[i];
		if (a->kind == PLAN_KIND_CONTAINER || a->kind == PLAN_KIND_EDGE ||
				a->kind == PLAN_KIND_BACKUP || a->kind == PLAN_KIND_WORDPRESS) {
			bg_buf_addf(&b, "%u %s %s %s\n", a->phase, plan_op_name(a->op),
					plan_kind_name(a->kind),
					a->kind == PLAN_KIND_EDGE ? "EDGE" : a->name);
		}
	}
	return bg_buf_detach(&b, NULL);
}

#define assert_ops(p, expected)                                               \
	do {                                                                  \
		char *got_ = ops(p);                                          \
		assert_string_equal(got_, expected);                          \
		free(got_);                                                   \
	} while (0)

static const struct plan_action *find_op(const struct plan *p, enum plan_op op)
{
	for (size_t i = 0; i < p->n_actions; i++) {
		if (p->actions[i].op == op && p->actions[i].kind == PLAN_KIND_WORDPRESS) {
			return &p->actions[i];
		}
	}
	return NULL;
}

static bool note_has(const struct plan *p, const char *needle)
{
	const struct plan_site *ps = plan_site_find(p, "shop");
	for (size_t i = 0; ps && i < ps->notes.n; i++) {
		if (strstr(ps->notes.v[i], needle)) {
			return true;
		}
	}
	return false;
}

/* First deploy: the install runs through the new colour after its gate, before it goes live. */
static void test_first_deploy_installs(void **state)
{
	struct pfx f;
	struct plan p;
	(void)state;
	fx_load(&f, ", title: \"My Shop\", admin_email: a@shop.example.com", NULL);
	facts(&f, (const char *const[]){"shop db absent", NULL});
	pfx_plan_ok(&f, NULL, &p);
	assert_ops(&p,
		"1 create container shop-blue\n"
		"1 start container shop-blue\n"
		"1 health container shop-blue\n"
		"1 install wordpress shop\n"
		"2 switch edge EDGE\n");
	const struct plan_action *a = find_op(&p, PLAN_OP_INSTALL);
	th_assert_contains(a->reason, "install WordPress: title My Shop, admin admin "
			"<a@shop.example.com>");
	assert_string_equal(a->colour, "blue");
	/* Shown in the text and the JSON, with no password in either. */
	struct bg_buf t = BG_BUF_INIT, j = BG_BUF_INIT;
	assert_int_equal(plan_render_text(&p, f.cfg, false, &t), 0);
	th_assert_contains(t.data, "install WordPress: title My Shop");
	assert_int_equal(plan_render_json(&p, f.cfg, &j), 0);
	th_assert_contains(j.data, "\"op\": \"install\"");
	th_assert_contains(j.data, "\"kind\": \"wordpress\"");
	th_assert_not_contains(t.data, "password:");
	bg_buf_release(&t);
	bg_buf_release(&j);
	plan_release(&p);
	pfx_release(&f);
}

/* Installed: nothing; not installed and live: install through live; wizard: a note only. */
static void test_installed_or_wizard(void **state)
{
	struct pfx f;
	struct plan p;
	(void)state;
	fx_load(&f, NULL, NULL);
	infra(&f);
	char *spec = pfx_spec(&f, -1);
	pfx_add_container(&f, "shop-blue", "colour", "blue", 1, spec, 1, "running", "10.0.0.2");
	pfx_add_edge(&f, "blue", NULL, 1, "10.0.0.2:80", NULL);
	facts(&f, (const char *const[]){"shop db ok", "shop installed 1", "shop db_version 100",
		NULL});
	pfx_plan_ok(&f, NULL, &p);
	assert_null(find_op(&p, PLAN_OP_INSTALL));
	plan_release(&p);
	pfx_release(&f);

	fx_load(&f, NULL, NULL);
	infra(&f);
	pfx_add_container(&f, "shop-blue", "colour", "blue", 1, spec, 1, "running", "10.0.0.2");
	pfx_add_edge(&f, "blue", NULL, 1, "10.0.0.2:80", NULL);
	facts(&f, (const char *const[]){"shop db ok", "shop installed 0", NULL});
	pfx_plan_ok(&f, NULL, &p);
	const struct plan_action *a = find_op(&p, PLAN_OP_INSTALL);
	assert_non_null(a);
	assert_string_equal(a->colour, "blue");
	th_assert_contains(a->reason, "title shop, admin admin <admin@shop.example.com>");
	plan_release(&p);
	pfx_release(&f);

	fx_load(&f, ", install: wizard", NULL);
	facts(&f, (const char *const[]){"shop db absent", NULL});
	pfx_plan_ok(&f, NULL, &p);
	assert_null(find_op(&p, PLAN_OP_INSTALL));
	assert_true(note_has(&p, "wordpress.install is wizard: run the install at "
			"http://shop.example.com/wp-admin/install.php"));
	plan_release(&p);
	pfx_release(&f);

	/* A database that does not answer: no install, said. */
	fx_load(&f, NULL, NULL);
	facts(&f, (const char *const[]){"shop db unknown", NULL});
	pfx_plan_ok(&f, NULL, &p);
	assert_null(find_op(&p, PLAN_OP_INSTALL));
	assert_true(note_has(&p, "cannot tell whether WordPress is installed"));
	plan_release(&p);
	pfx_release(&f);
	free(spec);
}

/* blue v1 live; green holds the desired spec and runs newer code: backup, upgrade, switch. */
static void test_upgrade_at_switch(void **state)
{
	struct pfx f;
	struct plan p;
	(void)state;
	fx_load(&f, NULL, NULL);
	infra(&f);
	char *spec = pfx_spec(&f, -1);
	pfx_add_container(&f, "shop-blue", "colour", "blue", 1, "oldspec", 1, "running",
			"10.0.0.2");
	pfx_add_container(&f, "shop-green", "colour", "green", 1, spec, 2, "running", "10.0.0.3");
	pfx_add_edge(&f, "blue", NULL, 1, "10.0.0.2:80", NULL);
	char *code = bg_xasprintf("shop code.green %s 200 6.8.1", spec);
	facts(&f, (const char *const[]){"shop db ok", "shop installed 1", "shop db_version 100",
		"shop code.blue oldspec 100 6.1.1", code, NULL});
	pfx_plan_ok(&f, NULL, &p);
	char *got = ops(&p);
	th_assert_contains(got, "1 backup backup shop\n2 upgrade wordpress shop\n2 switch edge EDGE\n");
	free(got);
	assert_true(note_has(&p, "one-way: database upgrade 100 -> 200 (WordPress 6.8.1 on green)"));
	const struct plan_action *a = find_op(&p, PLAN_OP_UPGRADE);
	assert_int_equal(a->version, 200);
	assert_int_equal(a->reject_version, 100);
	assert_string_equal(a->colour, "green");
	plan_release(&p);
	pfx_release(&f);
	free(code);

	/* The same code: no upgrade, no backup in development. */
	fx_load(&f, NULL, NULL);
	infra(&f);
	pfx_add_container(&f, "shop-blue", "colour", "blue", 1, "oldspec", 1, "running",
			"10.0.0.2");
	pfx_add_container(&f, "shop-green", "colour", "green", 1, spec, 2, "running", "10.0.0.3");
	pfx_add_edge(&f, "blue", NULL, 1, "10.0.0.2:80", NULL);
	code = bg_xasprintf("shop code.green %s 100 6.1.2", spec);
	facts(&f, (const char *const[]){"shop db ok", "shop installed 1", "shop db_version 100",
		code, NULL});
	pfx_plan_ok(&f, NULL, &p);
	assert_null(find_op(&p, PLAN_OP_UPGRADE));
	got = ops(&p);
	th_assert_not_contains(got, "backup");
	free(got);
	plan_release(&p);
	pfx_release(&f);
	free(code);
	free(spec);
}

/* The candidate is built in this plan: its code is unknown, the step only checks. */
static void test_upgrade_unknown_code(void **state)
{
	struct pfx f;
	struct plan p;
	(void)state;
	fx_load(&f, NULL, "strategy: {promote: auto}\n");
	infra(&f);
	pfx_add_container(&f, "shop-blue", "colour", "blue", 1, "oldspec", 1, "running",
			"10.0.0.2");
	pfx_add_edge(&f, "blue", NULL, 1, "10.0.0.2:80", NULL);
	facts(&f, (const char *const[]){"shop db ok", "shop installed 1", "shop db_version 100",
		"shop code.blue oldspec 100 6.1.1", NULL});
	pfx_plan_ok(&f, NULL, &p);
	const struct plan_action *a = find_op(&p, PLAN_OP_UPGRADE);
	assert_non_null(a);
	assert_int_equal(a->version, 0);
	assert_int_equal(a->phase, PLAN_PHASE_SWITCH);
	th_assert_contains(a->reason, "an upgrade this plan does not name stops the apply");
	plan_release(&p);
	pfx_release(&f);
}

/* green (upgraded) live, blue v1 warm: the rollback names the restore of the backup. */
static void test_rollback_names_restore(void **state)
{
	struct pfx f;
	struct plan p;
	struct plan_args args;
	(void)state;
	fx_load(&f, NULL, NULL);
	infra(&f);
	char *spec = pfx_spec(&f, -1);
	pfx_add_container(&f, "shop-blue", "colour", "blue", 1, "oldspec", 1, "running",
			"10.0.0.2");
	pfx_add_container(&f, "shop-green", "colour", "green", 1, spec, 2, "running", "10.0.0.3");
	pfx_add_edge(&f, "green", NULL, 2, "10.0.0.3:80", NULL);
	char *code = bg_xasprintf("shop code.green %s 200 6.8.1", spec);
	facts(&f, (const char *const[]){"shop db ok", "shop installed 1", "shop db_version 200",
		"shop code.blue oldspec 100 6.1.1", code, NULL});
	struct obs_backup *b = obs_backup_add(&f.obs);
	b->id = bg_xstrdup(BK_ID);
	b->site = bg_xstrdup("shop");
	b->why = bg_xstrdup("before switch (token 0123456789abcdef)");
	b->live_version = 1;
	b->live_colour = bg_xstrdup("blue");
	bg_strv_push(&b->parts, "dump db cc dump-db.sql.gz");
	plan_args_init(&args);
	args.kind = PLAN_ROLLBACK;
	bg_strv_push(&args.sites, "shop");
	pfx_plan_ok(&f, &args, &p);
	assert_true(note_has(&p, "the database is newer than the code rolled back to: "
			"db_version 200 (upgraded by v2) > 100 (v1's WordPress 6.1.1)"));
	assert_true(note_has(&p, "bluegreen rollback shop --restore " BK_ID));
	plan_release(&p);
	plan_args_release(&args);
	pfx_release(&f);
	free(code);
	free(spec);
}

/* version.php: the doc comments name both variables before their assignments. */
static void test_version_parse(void **state)
{
	unsigned long v = 0;
	char *wp = NULL;
	(void)state;
	wp_version_parse("<?php\n/**\n * @global string $wp_version\n */\n$wp_version = '6.8.1';\n"
			"/**\n * @global int $wp_db_version\n */\n$wp_db_version = 60421;\n", &v, &wp);
	assert_int_equal(v, 60421);
	assert_string_equal(wp, "6.8.1");
	free(wp);
	wp_version_parse("<?php\n$wp_version = 'x y';\n", &v, &wp);
	assert_int_equal(v, 0);
	assert_null(wp);
}

/* A snapshot keeps the facts: planned from it, an installed site installs nothing. */
static void test_snapshot_keeps_facts(void **state)
{
	struct pfx f;
	struct plan p;
	(void)state;
	fx_load(&f, NULL, NULL);
	infra(&f);
	char *spec = pfx_spec(&f, -1);
	pfx_add_container(&f, "shop-blue", "colour", "blue", 1, spec, 1, "running", "10.0.0.2");
	pfx_add_edge(&f, "blue", NULL, 1, "10.0.0.2:80", NULL);
	facts(&f, (const char *const[]){"shop db ok", "shop installed 1", NULL});
	struct bg_buf j = BG_BUF_INIT;
	assert_int_equal(obs_to_json(&f.obs, &j), 0);
	th_assert_contains(j.data, "\"module_facts\"");
	struct obs back;
	struct bg_diag d;
	bg_diag_init(&d);
	obs_init(&back);
	assert_int_equal(obs_from_json(&back, j.data, j.len, &d), 0);
	assert_int_equal(back.module_facts.n, 2);
	assert_string_equal(back.module_facts.v[1], "shop installed 1");
	obs_release(&f.obs);
	f.obs = back; /* pfx_release frees it */
	pfx_plan_ok(&f, NULL, &p);
	assert_null(find_op(&p, PLAN_OP_INSTALL));
	plan_release(&p);
	bg_diag_release(&d);
	bg_buf_release(&j);
	free(spec);
	pfx_release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_deploy_installs),
		cmocka_unit_test(test_installed_or_wizard),
		cmocka_unit_test(test_upgrade_at_switch),
		cmocka_unit_test(test_upgrade_unknown_code),
		cmocka_unit_test(test_rollback_names_restore),
		cmocka_unit_test(test_version_parse),
		cmocka_unit_test(test_snapshot_keeps_facts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
