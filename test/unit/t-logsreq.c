/*
 * t-logsreq: the pure parts of the daemon's "logs SITE" (issue 15,
 * logsreq.h): which containers are read (the live colour's by replica,
 * then the candidate's, labelled; never another site's, a service's or
 * the old colour's; an unknown site or one with nothing running refused),
 * which secret values are redacted, and the answer's bounds and shape
 * (a line cut at LOGSREQ_LINE_MAX, control characters replaced, the
 * 64 KiB budget dropping the oldest lines and saying so, every log line
 * behind its label so none can pass for a header). The read itself runs
 * against a real engine in t-cockpit-admin.
 */
#include "bg.h"
#include "cfg.h"
#include "desired.h"
#include "logsreq.h"
#include "obs.h"
#include "th.h"

#define SECRET "s3cr3t-value-never-printed"

static const char *global_conf =
	"install_mode: staging\n"
	"state_dir: state\n"
	"edge:\n"
	"  kind: nginx\n"
	"  network: bgt-edge\n"
	"  nginx:\n"
	"    conf_dir: nginx\n"
	"    reload: [\"true\"]\n"
	"    test: []\n";

struct fx {
	char *dir;
	struct cfg *cfg;
	struct obs obs;
	char spec[65]; /* the configured spec of shop */
};

static void add_container(struct obs *o, const char *name, const char *site, const char *role,
		const char *colour, unsigned replica, const char *spec)
{
	struct obs_container *c = obs_container_add(o);
	c->id = bg_xasprintf("id-%s", name);
	c->name = bg_xstrdup(name);
	obs_labels_set(&c->labels, BG_LABEL_MANAGED, "true");
	obs_labels_set(&c->labels, BG_LABEL_SITE, site);
	obs_labels_set(&c->labels, BG_LABEL_ROLE, role);
	if (colour) {
		obs_labels_set(&c->labels, BG_LABEL_COLOUR, colour);
		char *r = bg_xasprintf("%u", replica);
		obs_labels_set(&c->labels, BG_LABEL_REPLICA, r);
		free(r);
	} else {
		obs_labels_set(&c->labels, BG_LABEL_SERVICE, "db");
	}
	obs_labels_set(&c->labels, BG_LABEL_SPEC, spec);
	obs_container_derive(c);
}

/* shop (3 replicas, API_TOKEN secret, a db service) and other; live is given (NULL: none). */
static void fx_load(struct fx *f, const char *live, bool candidate)
{
	struct bg_diag d;
	struct desired des;

	memset(f, 0, sizeof(*f));
	bg_diag_init(&d);
	f->dir = th_tmpdir("logsreq");
	th_write(f->dir, "global.conf", global_conf);
	th_write(f->dir, "sites/shop.conf", "site: shop\ndomains: [shop.example.com]\n"
			"image: bluegreen-test/web:v1\nport: 8080\nreplicas: 3\nenv:\n"
			"  API_TOKEN: " SECRET "\n  SHORT_TOKEN: abc\n"
			"services:\n  db:\n    image: bluegreen-test/web:v1\n");
	th_write(f->dir, "sites/other.conf", "site: other\ndomains: [other.example.com]\n"
			"image: bluegreen-test/web:v1\nport: 8080\n");
	if (cfg_load(&f->cfg, f->dir, 0, &d) != 0) {
		bg_diag_print(&d, stderr);
		fail_msg("config does not load");
	}
	obs_init(&f->obs);
	struct obs_image *im = obs_image_add(&f->obs);
	im->ref = bg_xstrdup("bluegreen-test/web:v1");
	im->id = bg_xstrdup("sha256:111");
	obs_finish(&f->obs);
	assert_int_equal(des_build(&des, f->cfg, &f->obs, &d), 0);
	memcpy(f->spec, des_site_find(&des, "shop")->spec, 65);
	des_release(&des);
	bg_diag_release(&d);

	const char *old = "0000000000000000000000000000000000000000000000000000000000000000";
	const char *other = live && strcmp(live, "blue") == 0 ? "green" : "blue";
	/* Names sort "-10" before "-2": the replicas must come out by number anyway. */
	add_container(&f->obs, "shop-blue-3", "shop", "colour", "blue", 3, live ? old : f->spec);
	add_container(&f->obs, "shop-blue-1", "shop", "colour", "blue", 1, live ? old : f->spec);
	add_container(&f->obs, "shop-blue-2", "shop", "colour", "blue", 2, live ? old : f->spec);
	add_container(&f->obs, "shop-green-1", "shop", "colour", "green", 1,
			candidate ? f->spec : old);
	add_container(&f->obs, "shop-db", "shop", "service", NULL, 0, old);
	add_container(&f->obs, "other-blue-1", "other", "colour", "blue", 1, old);
	(void)other;
	if (live) {
		struct obs_edge *e = obs_edge_add(&f->obs);
		e->site = bg_xstrdup("shop");
		e->live = bg_xstrdup(live);
		e->exists = true;
		bg_strv_init(&e->upstreams);
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

static void test_pick_live_and_candidate(void **state)
{
	struct fx f;
	struct logsreq_target t;
	char *why = NULL;

	fx_load(&f, "blue", true);
	logsreq_target_init(&t);
	assert_int_equal(logsreq_pick(f.cfg, &f.obs, "shop", &t, &why), 0);
	assert_null(why);
	assert_int_equal(t.ids.n, 4);
	assert_string_equal(t.ids.v[0], "id-shop-blue-1");
	assert_string_equal(t.ids.v[1], "id-shop-blue-2");
	assert_string_equal(t.ids.v[2], "id-shop-blue-3");
	assert_string_equal(t.ids.v[3], "id-shop-green-1");
	assert_string_equal(t.labels.v[0], "blue.1 (live)");
	assert_string_equal(t.labels.v[2], "blue.3 (live)");
	assert_string_equal(t.labels.v[3], "green.1 (candidate)");
	/* The secret is redacted; a value shorter than 4 would redact ordinary words. */
	assert_true(bg_strv_contains(&t.secrets, SECRET));
	assert_false(bg_strv_contains(&t.secrets, "abc"));
	logsreq_target_release(&t);
	fx_release(&f);
}

static void test_pick_no_candidate_and_refusals(void **state)
{
	struct fx f;
	struct logsreq_target t;
	char *why = NULL;

	/* green runs an old spec: not a candidate, not read. */
	fx_load(&f, "blue", false);
	logsreq_target_init(&t);
	assert_int_equal(logsreq_pick(f.cfg, &f.obs, "shop", &t, &why), 0);
	assert_int_equal(t.ids.n, 3);
	assert_false(bg_strv_contains(&t.ids, "id-shop-green-1"));
	assert_false(bg_strv_contains(&t.ids, "id-shop-db"));
	logsreq_target_release(&t);

	/* Not configured (or not a name): refused, nothing picked. */
	const char *bad[] = {"nosuch", "../shop", "", "shop\n"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(bad); i++) {
		assert_int_equal(logsreq_pick(f.cfg, &f.obs, bad[i], &t, &why), BG_ENOT_FOUND);
		th_assert_contains(why, "no site by that name");
		assert_int_equal(t.ids.n, 0);
		free(why);
	}
	/* Configured, but nothing of it runs. */
	assert_int_equal(logsreq_pick(f.cfg, &f.obs, "other", &t, &why), BG_ENOT_FOUND);
	th_assert_contains(why, "no live or candidate containers");
	free(why);
	logsreq_target_release(&t);
	fx_release(&f);

	/* Nothing live yet: the candidate alone (a first deploy waiting for its switch). */
	fx_load(&f, NULL, false);
	logsreq_target_init(&t);
	assert_int_equal(logsreq_pick(f.cfg, &f.obs, "shop", &t, &why), 0);
	assert_int_equal(t.ids.n, 3);
	assert_string_equal(t.labels.v[0], "blue.1 (candidate)");
	logsreq_target_release(&t);
	fx_release(&f);
}

static void test_lines_redacted_cut_cleaned(void **state)
{
	struct bg_strv secrets, labels;
	struct logsreq_acc a;

	bg_strv_init(&secrets);
	bg_strv_init(&labels);
	bg_strv_push(&secrets, SECRET);
	bg_strv_push(&labels, "blue.1 (live)");
	bg_strv_push(&labels, "green.1 (candidate)");
	logsreq_acc_init(&a, 2, &secrets);
	logsreq_acc_line(&a, 0, "token=" SECRET " ok", strlen("token=" SECRET " ok"));
	logsreq_acc_line(&a, 0, "bell\a esc\x1b[31m nul\0x", 20);
	logsreq_acc_line(&a, 1, "== blue.1 (live): 99 lines", 26); /* a container's own text */
	logsreq_acc_line(&a, 7, "out of range", 12);                /* ignored */
	char *big = bg_xmalloc(LOGSREQ_LINE_MAX + 100);
	memset(big, 'x', LOGSREQ_LINE_MAX + 100);
	memcpy(big + LOGSREQ_LINE_MAX - 5, SECRET, strlen(SECRET)); /* across the cut */
	logsreq_acc_line(&a, 1, big, LOGSREQ_LINE_MAX + 100);
	free(big);

	char *text = logsreq_render(&a, &labels);
	th_assert_not_contains(text, SECRET);
	th_assert_not_contains(text, "s3cr3t");
	th_assert_contains(text, "== blue.1 (live): 2 lines\n"
			"blue.1 (live) | token=<redacted> ok\n"
			"blue.1 (live) | bell? esc?[31m nul?x\n"
			"== green.1 (candidate): 2 lines\n"
			"green.1 (candidate) | == blue.1 (live): 99 lines\n");
	th_assert_contains(text, "xxx<reda [line cut]\n"); /* the secret went before the cut */
	th_assert_not_contains(text, "out of range");
	/* The cut line keeps LOGSREQ_LINE_MAX bytes after redaction, no more. */
	const char *cut = strstr(text, "green.1 (candidate) | xxx");
	assert_non_null(cut);
	assert_int_equal(strcspn(cut, "\n"), strlen("green.1 (candidate) | ") + LOGSREQ_LINE_MAX +
			strlen(" [line cut]"));
	free(text);
	logsreq_acc_release(&a);
	bg_strv_release(&secrets);
	bg_strv_release(&labels);
}

static void test_budget_drops_oldest(void **state)
{
	struct bg_strv labels;
	struct logsreq_acc a;

	bg_strv_init(&labels);
	bg_strv_push(&labels, "blue.1 (live)");
	bg_strv_push(&labels, "blue.2 (live)");
	logsreq_acc_init(&a, 2, NULL);
	/* 200 lines of 1000 bytes each per container: far over 64 KiB. */
	char line[1001];
	for (int i = 0; i < 200; i++) {
		memset(line, 'a' + i % 26, 1000);
		int n = snprintf(line, sizeof(line), "line %03d ", i);
		line[n] = ' ';
		line[1000] = '\0';
		logsreq_acc_line(&a, 0, line, 1000);
		logsreq_acc_line(&a, 1, line, 1000);
	}
	logsreq_acc_line(&a, 1, "tiny", 4);
	char *text = logsreq_render(&a, &labels);
	size_t logged = 0;
	for (char *p = text; *p;) {
		char *nl = strchr(p, '\n');
		assert_non_null(nl);
		if (strncmp(p, "== ", 3) != 0) {
			logged += (size_t)(nl - p) + 1;
		}
		p = nl + 1;
	}
	assert_true(logged <= LOGSREQ_BYTES_MAX);
	assert_true(logged > LOGSREQ_BYTES_MAX - 2 * 1100); /* what fits is shown */
	/* Each container keeps its newest lines and says how many went. */
	th_assert_contains(text, "line 199 ");
	th_assert_not_contains(text, "line 000 ");
	th_assert_contains(text, "earlier lines not shown (64 KiB limit)\n");
	th_assert_contains(text, "blue.2 (live) | tiny\n");
	free(text);
	logsreq_acc_release(&a);

	/* Nothing read: the headers alone, "0 lines". */
	logsreq_acc_init(&a, 2, NULL);
	text = logsreq_render(&a, &labels);
	assert_string_equal(text, "== blue.1 (live): 0 lines\n== blue.2 (live): 0 lines\n");
	free(text);
	logsreq_acc_release(&a);
	bg_strv_release(&labels);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_live_and_candidate),
		cmocka_unit_test(test_pick_no_candidate_and_refusals),
		cmocka_unit_test(test_lines_redacted_cut_cleaned),
		cmocka_unit_test(test_budget_drops_oldest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
