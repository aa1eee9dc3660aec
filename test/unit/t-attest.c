/*
 * t-attest: staging attestations (issue 14): a key is made on first use
 * with mode 0600 and refused when others can read it; a signed claim
 * verifies and reads back; one changed byte of the payload, a wrong key,
 * a mangled signature and no attestation at all are each refused with a
 * reason; attest_find picks the newest trusted claim for an image ID.
 */
#include "bg.h"
#include "attest.h"
#include "attest-url.h"
#include "bg-fs.h"
#include "th.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define IMG "sha256:1111111111111111111111111111111111111111111111111111111111111111"

static void claim_fill(struct attest_claim *c, unsigned version, const char *image_id)
{
	attest_claim_init(c);
	c->site = bg_xstrdup("shop");
	c->version = version;
	c->image = bg_xstrdup("bluegreen-test/web:v1");
	c->image_id = bg_xstrdup(image_id);
	c->spec = bg_xstrdup("abcdef0123456789");
	bg_strv_push(&c->checks, "health");
	c->time = bg_xstrdup("2026-12-07T01:00:00.000Z");
	c->mode = bg_xstrdup("staging");
	c->host = bg_xstrdup("stage1");
}

static struct attest_key *key_in(const char *dir, bool *created)
{
	struct attest_key *k = NULL;
	char *why = NULL;
	int err = attest_key_open(dir, &k, created, &why);
	if (err) {
		fail_msg("attest_key_open: %s", why);
	}
	return k;
}

static void test_key_file(void **state)
{
	(void)state;
	char *dir = th_tmpdir("attest");
	bool created = false;
	struct attest_key *k = key_in(dir, &created);
	assert_true(created);
	char *path = bg_xasprintf("%s/%s", dir, ATTEST_KEY_FILE);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* The same key next time: same public PEM, not made again. */
	struct attest_key *k2 = key_in(dir, &created);
	assert_false(created);
	char *a = NULL, *b = NULL;
	assert_int_equal(attest_key_public_pem(k, &a), 0);
	assert_int_equal(attest_key_public_pem(k2, &b), 0);
	assert_string_equal(a, b);
	th_assert_contains(a, "-----BEGIN PUBLIC KEY-----");
	th_assert_not_contains(a, "PRIVATE");
	/* Readable by others: refused, with how to fix it. */
	chmod(path, 0644);
	struct attest_key *k3 = NULL;
	char *why = NULL;
	assert_int_equal(attest_key_open(dir, &k3, NULL, &why), BG_EREFUSED);
	th_assert_contains(why, "chmod 600");
	free(why);
	/* A symbolic link in its place is never followed. */
	unlink(path);
	char *other = bg_xasprintf("%s/elsewhere.pem", dir);
	th_write(dir, "elsewhere.pem", "x");
	assert_int_equal(symlink(other, path), 0);
	assert_int_not_equal(attest_key_open(dir, &k3, NULL, &why), 0);
	free(why);
	free(other);
	free(a);
	free(b);
	attest_key_destroy(k);
	attest_key_destroy(k2);
	free(path);
	th_rm_rf(dir);
	free(dir);
}

static void test_sign_verify_tamper(void **state)
{
	(void)state;
	char *d1 = th_tmpdir("attest"), *d2 = th_tmpdir("attest");
	struct attest_key *k = key_in(d1, NULL), *other = key_in(d2, NULL);
	struct attest_claim c, got;
	char *text = NULL, *why = NULL;

	claim_fill(&c, 3, IMG);
	assert_int_equal(attest_sign(k, &c, &text), 0);
	th_assert_contains(text, "\"format\":\"" ATTEST_FORMAT "\"");
	assert_int_equal(attest_verify(text, strlen(text), &k, 1, &got, &why), 0);
	assert_string_equal(got.site, "shop");
	assert_int_equal(got.version, 3);
	assert_string_equal(got.image_id, IMG);
	assert_string_equal(got.checks.v[0], "health");
	assert_string_equal(got.host, "stage1");
	char id[17];
	attest_key_id(k, id);
	assert_string_equal(got.key_id, id);
	attest_claim_release(&got);

	/* Wrong key: refused. */
	assert_int_equal(attest_verify(text, strlen(text), &other, 1, NULL, &why), BG_EREFUSED);
	th_assert_contains(why, "does not verify");
	free(why);
	/* Two keys, the right one second: accepted. */
	struct attest_key *both[] = {other, k};
	assert_int_equal(attest_verify(text, strlen(text), both, 2, NULL, &why), 0);
	free(why);

	/* One byte of the payload changed (the version 3 -> 4): refused. */
	char *t = bg_xstrdup(text);
	char *p = strstr(t, "\\\"version\\\":3");
	assert_non_null(p);
	p[strlen("\\\"version\\\":")] = '4';
	assert_int_equal(attest_verify(t, strlen(t), &k, 1, NULL, &why), BG_EREFUSED);
	free(why);
	free(t);
	/* A flipped signature character: refused. */
	t = bg_xstrdup(text);
	p = strstr(t, "\"signature\":\"") + strlen("\"signature\":\"");
	p[3] = p[3] == 'A' ? 'B' : 'A';
	assert_int_not_equal(attest_verify(t, strlen(t), &k, 1, NULL, &why), 0);
	free(why);
	free(t);
	/* Not an attestation at all. */
	assert_int_equal(attest_verify("{}", 2, &k, 1, NULL, &why), BG_EPARSE);
	free(why);
	free(text);
	attest_claim_release(&c);
	attest_key_destroy(k);
	attest_key_destroy(other);
	th_rm_rf(d1);
	th_rm_rf(d2);
	free(d1);
	free(d2);
}

static void test_store_find(void **state)
{
	(void)state;
	char *dir = th_tmpdir("attest");
	struct attest_key *k = key_in(dir, NULL);
	struct attest_claim c, got;
	char *text = NULL, *path = NULL, *why = NULL;
	char *adir = bg_xasprintf("%s/%s", dir, ATTEST_DIR);

	/* Missing: nothing there yet. */
	assert_int_equal(attest_find(adir, &k, 1, NULL, IMG, 0, &got, NULL, &why), BG_ENOT_FOUND);
	free(why);
	for (unsigned v = 1; v <= 2; v++) {
		claim_fill(&c, v, IMG);
		assert_int_equal(attest_sign(k, &c, &text), 0);
		assert_int_equal(attest_store(dir, &c, text, &path), 0);
		free(text);
		free(path);
		attest_claim_release(&c);
	}
	assert_int_equal(attest_find(adir, &k, 1, NULL, IMG, 0, &got, &path, &why), 0);
	assert_int_equal(got.version, 2); /* the newest */
	th_assert_contains(path, "shop-v2-111111111111.json");
	free(path);
	path = NULL;
	attest_claim_release(&got);
	assert_int_equal(attest_find(adir, &k, 1, "shop", NULL, 1, &got, &path, &why), 0);
	assert_int_equal(got.version, 1);
	free(path);
	attest_claim_release(&got);
	/* Another image: not covered; the reason counts what was looked at. */
	assert_int_equal(attest_find(adir, &k, 1, NULL, "sha256:22", 0, &got, NULL, &why),
			BG_ENOT_FOUND);
	th_assert_contains(why, "2 files looked at");
	free(why);
	/* A tampered file in the directory is skipped, never trusted. */
	char *f = bg_xasprintf("%s/shop-v2-111111111111.json", adir);
	char *t = th_read(f);
	char *p = strstr(t, "\\\"version\\\":2");
	p[strlen("\\\"version\\\":")] = '9';
	th_write(adir, "shop-v9-tampered.json", t);
	assert_int_equal(attest_find(adir, &k, 1, NULL, IMG, 9, &got, NULL, &why), BG_ENOT_FOUND);
	th_assert_contains(why, "1 not verified");
	free(why);
	free(t);
	free(f);
	free(adir);
	attest_key_destroy(k);
	th_rm_rf(dir);
	free(dir);
}

/*
 * Attestations from a URL (a real python HTTP server on loopback): one
 * named by {image_id} verifies like a file; a tampered one, one for
 * another image, a redirect to another scheme, an answer over the size
 * limit, a 404 and a non-https remote URL are refused with a reason.
 */
static void test_url(void **state)
{
	(void)state;
	char *kd = th_tmpdir("attest"), *www = th_tmpdir("attest-www");
	struct attest_key *k = key_in(kd, NULL);
	struct attest_claim c, got;
	char *text = NULL, *why = NULL;
	const char *hex = &IMG[strlen("sha256:")];

	claim_fill(&c, 4, IMG);
	assert_int_equal(attest_sign(k, &c, &text), 0);
	char *name = bg_xasprintf("%s.json", hex);
	th_write(www, name, text);
	char *bad = bg_xstrdup(text);
	char *p = strstr(bad, "stage1");
	assert_non_null(p);
	p[0] = 'S';
	th_write(www, "tampered.json", bad);
	char *portfile = bg_xasprintf("%s/port", kd);
	char *script = th_src_path("test/helpers/file-server.py");
	char *argv[] = {"python3", script, portfile, www, NULL};
	char *out = bg_xasprintf("%s/server.out", kd);
	pid_t pid = th_spawn_bg(argv, NULL, out);
	int64_t deadline = bg_mono_ms() + th_time_limit(10000);
	while (access(portfile, R_OK) != 0) {
		if (bg_mono_ms() > deadline) {
			fail_msg("file-server.py did not start");
		}
		usleep(20 * 1000);
	}
	char *port = th_read(portfile);
	char *base = bg_xasprintf("http://127.0.0.1:%s", port);

	char *url = bg_xasprintf("%s/{image_id}.json", base);
	assert_int_equal(attest_url_find(url, &k, 1, IMG, &got, &why), 0);
	assert_string_equal(got.host, "stage1");
	assert_int_equal(got.version, 4);
	attest_claim_release(&got);
	free(url);
	struct {
		const char *path, *image, *why;
	} refused[] = {
		{"/tampered.json", IMG, "the signature does not verify"},
		{"/{image_id}.json", "sha256:22", "HTTP 404"},
		{"/redirect", IMG, "HTTP 302 (redirects are not followed)"},
		{"/big", IMG, "answer larger than"},
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		url = bg_xasprintf("%s%s", base, refused[i].path);
		assert_int_equal(attest_url_find(url, &k, 1, refused[i].image, &got, &why),
				BG_ENOT_FOUND);
		th_assert_contains(why, refused[i].why);
		th_assert_not_contains(why, "tampered"); /* the path is not shown */
		free(why);
		free(url);
	}
	/* Another image's attestation, served under this image's name. */
	char *other = bg_xasprintf("%s/%.64s.json", base, "22222222222222222222222222222222"
			"22222222222222222222222222222222");
	char *other_name = bg_xasprintf("%.64s.json", "2222222222222222222222222222222222"
			"222222222222222222222222222222");
	th_write(www, other_name, text);
	assert_int_equal(attest_url_find(other, &k, 1, "sha256:2222222222222222222222222222"
			"222222222222222222222222222222222222", &got, &why), BG_ENOT_FOUND);
	th_assert_contains(why, "not this one");
	free(why);
	assert_false(attest_url_ok("http://example.com/a.json"));
	assert_false(attest_url_ok("file:///etc/passwd"));
	assert_true(attest_url_ok("https://example.com/a.json"));
	assert_int_equal(attest_url_find("http://example.com/{image_id}", &k, 1, IMG, &got, &why),
			BG_ENOT_FOUND);
	th_assert_contains(why, "only https://");
	free(why);

	kill(pid, SIGTERM);
	th_wait(pid);
	free(other);
	free(other_name);
	free(base);
	free(port);
	free(out);
	free(script);
	free(portfile);
	free(name);
	free(bad);
	free(text);
	attest_claim_release(&c);
	attest_key_destroy(k);
	th_rm_rf(kd);
	th_rm_rf(www);
	free(kd);
	free(www);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_sign_verify_tamper),
		cmocka_unit_test(test_store_find),
		cmocka_unit_test(test_url),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
