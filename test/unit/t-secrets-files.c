/*
 * t-secrets-files: a site's `secrets.as: files` (issue 17, pure): refused
 * with its place on one engine; on a Swarm the create request carries
 * KEY_FILE=/run/secrets/KEY instead of the value, lists the secret keys,
 * and names each secret bg-SITE-KEY-HASH12 by a keyed hash (a new value
 * or another installation key is a new name, the same value the same
 * name, no key no name, never a plain hash of the value, at most 64
 * characters). The spec hash changes with the key's setting only when it
 * is files (a site without it keeps its hash), and the value is in no
 * spec. sw_secrets_observe marks a service whose references were changed.
 */
#include "bg.h"
#include "cfg.h"
#include "desired.h"
#include "obs.h"
#include "sw.h"
#include "th.h"

#include <json-c/json.h>

#define SECRET "s3cr3t-value-never-printed"
#define SECRET2 "an0ther-s3cret-today"

static struct cfg *load(const char *mode, const char *secrets_line, const char *value,
		struct bg_diag *d, int *err)
{
	char *dir = th_tmpdir("secf");
	char *g = bg_xasprintf("install_mode: development\nstate_dir: state\ndocker: {mode: %s}\n"
			"edge:\n  kind: nginx\n  network: bgt-edge\n  nginx:\n    conf_dir: nginx\n"
			"    reload: [\"true\"]\n    test: []\n", mode);
	char *s = bg_xasprintf("site: shop\ndomains: [shop.example.com]\n"
			"image: bluegreen-test/web:v1\nport: 8080\nenv:\n  NODE_ENV: production\n"
			"  API_TOKEN: %s\n%s", value, secrets_line);
	th_write(dir, "global.conf", g);
	th_write(dir, "sites/shop.conf", s);
	struct cfg *c = NULL;
	*err = cfg_load(&c, dir, 0, d);
	th_rm_rf(dir);
	free(dir);
	free(g);
	free(s);
	return c;
}

static void key_obs(struct obs *o, uint8_t fill)
{
	obs_init(o);
	o->secrets.state = OBS_SECRETS_OK;
	memset(o->secrets.key, fill, sizeof(o->secrets.key));
	obs_finish(o);
}

static void test_engine_refuses_files(void **state)
{
	struct bg_diag d;
	int err = 0;
	bg_diag_init(&d);
	struct cfg *c = load("engine", "secrets:\n  as: files\n", SECRET, &d, &err);
	assert_int_not_equal(err, 0);
	char *msg = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&msg, &len);
	bg_diag_print(&d, f);
	fclose(f);
	th_assert_contains(msg, "sites/shop.conf:9:7: error: secrets.as files needs docker.mode "
			"swarm");
	th_assert_not_contains(msg, SECRET);
	free(msg);
	cfg_destroy(c);
	bg_diag_release(&d);
	(void)state;
}

/* The create request of shop's blue colour under cfg, with obs's key. */
static void create(struct cfg *c, struct obs *o, struct desired *des, struct des_create *dc)
{
	struct bg_diag d;
	bg_diag_init(&d);
	assert_int_equal(des_build(des, c, o, &d), 0);
	assert_int_equal(des_colour_create(des, &des->sites[0], "blue", 1, NULL, dc), 0);
	bg_diag_release(&d);
}

static void test_files_in_the_create_request(void **state)
{
	struct bg_diag d;
	int err = 0;
	struct obs o;
	struct desired des;
	struct des_create dc;
	bg_diag_init(&d);
	struct cfg *c = load("swarm", "secrets: {as: files, uid: 33, gid: 33}\n", SECRET, &d,
			&err);
	assert_int_equal(err, 0);
	key_obs(&o, 7);
	create(c, &o, &des, &dc);
	assert_true(bg_strv_contains(&dc.env, "API_TOKEN_FILE=/run/secrets/API_TOKEN"));
	assert_true(bg_strv_contains(&dc.env, "NODE_ENV=production"));
	for (size_t i = 0; i < dc.env.n; i++) {
		th_assert_not_contains(dc.env.v[i], SECRET);
	}
	assert_non_null(dc.spec.secret_keys);
	assert_string_equal(dc.spec.secret_keys[0], "API_TOKEN");
	assert_null(dc.spec.secret_keys[1]);
	assert_int_equal(dc.spec.n_secrets, 1);
	const struct dk_secret *s = &dc.spec.secrets[0];
	assert_string_equal(s->file, "API_TOKEN");
	assert_string_equal(s->value, SECRET);
	assert_int_equal(s->uid, 33);
	assert_int_equal(s->gid, 33);
	assert_int_equal(s->mode, 0400);
	assert_true(bg_str_has_prefix(s->name, "bg-shop-API_TOKEN-"));
	assert_int_equal(strlen(s->name), strlen("bg-shop-API_TOKEN-") + 12);
	/* Not a plain hash of the value (ADR 0010). */
	char plain[65];
	bg_sha256_hex(SECRET, strlen(SECRET), plain);
	plain[12] = '\0';
	th_assert_not_contains(s->name, plain);
	th_assert_not_contains(des.sites[0].spec_json, SECRET);
	th_assert_contains(des.sites[0].spec_json, "\"secrets\":{\"as\":\"files\"");
	char *name1 = bg_xstrdup(s->name), spec1[65];
	memcpy(spec1, des.sites[0].spec, 65);
	des_create_release(&dc);
	des_release(&des);

	/* The same value: the same name. */
	create(c, &o, &des, &dc);
	assert_string_equal(dc.spec.secrets[0].name, name1);
	des_create_release(&dc);
	des_release(&des);
	/* Another installation key: another name. */
	obs_release(&o);
	key_obs(&o, 8);
	create(c, &o, &des, &dc);
	assert_string_not_equal(dc.spec.secrets[0].name, name1);
	des_create_release(&dc);
	des_release(&des);
	/* No key: no name (the runtime refuses, never a plain hash instead). */
	obs_release(&o);
	obs_init(&o);
	obs_finish(&o);
	create(c, &o, &des, &dc);
	assert_null(dc.spec.secrets[0].name);
	des_create_release(&dc);
	des_release(&des);
	cfg_destroy(c);

	/* A new value: a new name, the same spec hash (values are in the mac). */
	obs_release(&o);
	key_obs(&o, 7);
	c = load("swarm", "secrets: {as: files, uid: 33, gid: 33}\n", SECRET2, &d, &err);
	assert_int_equal(err, 0);
	create(c, &o, &des, &dc);
	assert_string_not_equal(dc.spec.secrets[0].name, name1);
	assert_string_equal(des.sites[0].spec, spec1);
	des_create_release(&dc);
	des_release(&des);
	cfg_destroy(c);
	obs_release(&o);
	free(name1);
	bg_diag_release(&d);
	(void)state;
}

static void spec_of(const char *mode, const char *line, char out[65], struct des_create *dc)
{
	struct bg_diag d;
	int err = 0;
	struct obs o;
	struct desired des;
	bg_diag_init(&d);
	struct cfg *c = load(mode, line, SECRET, &d, &err);
	assert_int_equal(err, 0);
	key_obs(&o, 7);
	create(c, &o, &des, dc);
	memcpy(out, des.sites[0].spec, 65);
	des_release(&des);
	obs_release(&o);
	cfg_destroy(c);
	bg_diag_release(&d);
}

static void test_env_mode_and_the_hash(void **state)
{
	char none[65], env[65], files[65], files0444[65];
	struct des_create dc;
	spec_of("engine", "", none, &dc);
	/* Today's behaviour: the value in the env, the key listed, nothing mounted. */
	assert_true(bg_strv_contains(&dc.env, "API_TOKEN=" SECRET));
	assert_string_equal(dc.spec.secret_keys[0], "API_TOKEN");
	assert_int_equal(dc.spec.n_secrets, 0);
	des_create_release(&dc);
	spec_of("swarm", "secrets: {as: env}\n", env, &dc);
	des_create_release(&dc);
	spec_of("swarm", "secrets: {as: files}\n", files, &dc);
	des_create_release(&dc);
	spec_of("swarm", "secrets: {as: files, mode: \"0444\"}\n", files0444, &dc);
	assert_int_equal(dc.spec.secrets[0].mode, 0444);
	des_create_release(&dc);
	assert_string_equal(none, env);
	assert_string_not_equal(env, files);
	assert_string_not_equal(files, files0444);
	(void)state;
}

static void test_long_key_name_fits(void **state)
{
	struct obs o;
	key_obs(&o, 1);
	char *n = des_secret_name("a-forty-character-site-name-0123456789ab",
			"A_VERY_LONG_SECRET_KEY_NAME_THAT_GOES_ON", "v", &o.secrets);
	assert_true(strlen(n) <= 64);
	assert_true(bg_str_has_prefix(n, "bg-a-forty-character-site-name-0123456789ab-"));
	free(n);
	obs_release(&o);
	(void)state;
}

static void test_observe_marks_changed_references(void **state)
{
	const char *svc_json = "{\"Spec\":{\"TaskTemplate\":{\"ContainerSpec\":{\"Labels\":"
			"{\"io.bluegreen.swarm.secrets\":\"bg-shop-A-0123456789ab\"},\"Secrets\":["
			"{\"SecretName\":\"%s\",\"SecretID\":\"x\"}]}}}}";
	for (int changed = 0; changed < 2; changed++) {
		char *t = bg_xasprintf(svc_json, changed ? "bg-shop-A-ffffffffffff"
				: "bg-shop-A-0123456789ab");
		struct json_object *svc = json_tokener_parse(t);
		struct obs o;
		obs_init(&o);
		struct obs_container *c = obs_container_add(&o);
		c->name = bg_xstrdup("shop-blue");
		obs_labels_set(&c->labels, BG_LABEL_SECRETS, "abc");
		sw_secrets_observe(svc, &o, 0);
		assert_string_equal(obs_labels_get(&o.containers[0].labels, BG_LABEL_SECRETS),
				changed ? "swarm-secret-references-changed" : "abc");
		obs_release(&o);
		json_object_put(svc);
		free(t);
	}
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_refuses_files),
		cmocka_unit_test(test_files_in_the_create_request),
		cmocka_unit_test(test_env_mode_and_the_hash),
		cmocka_unit_test(test_long_key_name_fits),
		cmocka_unit_test(test_observe_marks_changed_references),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
