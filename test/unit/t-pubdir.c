/*
 * t-pubdir: the publish directory the daemon writes for an unprivileged
 * cockpit (issue 15, pubdir.h). With a real history of 1,200 entries:
 * the directory is made 0750 and the files 0640 with the group asked for,
 * by rename (no temporary file left); journal.json holds the newest 1,000
 * entries plus a quiet site's own entries and last switch (older than the
 * window), the counters of the whole journal and the versions; a directory
 * that is a symbolic link is refused and nothing is written through it;
 * nothing happens without cockpit.publish_dir.
 */
#include "bg.h"
#include "bg-buf.h"
#include "cfg.h"
#include "hist.h"
#include "obs.h"
#include "pubdir.h"
#include "th.h"

#include <dirent.h>
#include <json-c/json.h>
#include <sys/stat.h>
#include <unistd.h>

static void add(struct hist *h, const char *action, const char *site, const char *result)
{
	struct hist_entry e = {.action = (char *)action, .site = (char *)site, .result = (char *)result,
		.details = (char *)"d"};
	assert_int_equal(hist_append(h, &e, NULL), 0);
}

static void assert_mode(const char *path, unsigned mode, bool dir)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, mode);
	assert_int_equal(st.st_gid, getegid());
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	for (struct dirent *e; d && (e = readdir(d));) {
		n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	}
	if (d) {
		closedir(d);
	}
	return n;
}

static void test_publish(void **state)
{
	char *dir = th_tmpdir("pubdir");
	struct hist *h;
	assert_int_equal(hist_open(&h, dir, 0, NULL), 0);
	add(h, "switch", "quiet", "ok");
	add(h, "step", "quiet", "ok");
	for (int i = 0; i < 1200; i++) {
		add(h, "step", "noisy", "ok");
	}
	add(h, "apply-end", NULL, "ok");
	struct cfg_site sites[] = {{.name = "noisy"}, {.name = "quiet"}};
	struct cfg cfg = {.sites = sites, .n_sites = 2};
	struct obs o;
	obs_init(&o);
	struct obs_hist_site *hs = obs_hist_add(&o);
	hs->site = bg_xstrdup("quiet");
	hs->last_version = 1;
	bg_strv_push(&hs->spec_versions, "abc=1");
	obs_finish(&o);

	/* No publish_dir: nothing. */
	assert_int_equal(pubdir_publish(&cfg, h, &o, "{}", 2, true), 0);
	char *pub = bg_xasprintf("%s/pub", dir);
	assert_int_equal(access(pub, F_OK), -1);

	char *gid = bg_xasprintf("%u", (unsigned)getegid());
	cfg.g.cockpit.publish_dir = pub;
	cfg.g.cockpit.group = gid;
	assert_int_equal(pubdir_publish(&cfg, h, &o, "{\"format\": 1}", 13, true), 0);
	assert_mode(pub, 0750, true);
	char *st = bg_xasprintf("%s/status.json", pub), *jr = bg_xasprintf("%s/journal.json", pub);
	assert_mode(st, 0640, false);
	assert_mode(jr, 0640, false);
	assert_int_equal(count_entries(pub), 2); /* no temporary file left behind */
	char *text = th_read(st);
	assert_string_equal(text, "{\"format\": 1}");
	free(text);

	text = th_read(jr);
	struct json_object *root = json_tokener_parse(text), *v, *entries;
	assert_non_null(root);
	assert_true(json_object_object_get_ex(root, "last_seq", &v));
	assert_int_equal(json_object_get_int64(v), 1203);
	assert_true(json_object_object_get_ex(root, "entries", &entries));
	/* the newest 1,000, plus the quiet site's two entries (its switch is seq 1) */
	assert_int_equal(json_object_array_length(entries), 1002);
	struct json_object *first = json_object_array_get_idx(entries, 0);
	assert_true(json_object_object_get_ex(first, "seq", &v));
	assert_int_equal(json_object_get_int64(v), 1);
	th_assert_contains(text, "{\"action\":\"step\",\"result\":\"ok\",\"n\":1201}");
	th_assert_contains(text, "\"versions\":[{\"site\":\"quiet\",\"last_version\":1,"
			"\"spec_versions\":[\"abc=1\"]");
	json_object_put(root);
	free(text);

	/* A new entry: the journal is republished even when the status is the same. */
	add(h, "switch", "noisy", "ok");
	assert_int_equal(pubdir_publish(&cfg, h, &o, "{\"format\": 1}", 13, false), 0);
	text = th_read(jr);
	th_assert_contains(text, "\"last_seq\":1204");
	th_assert_contains(text, "{\"action\":\"switch\",\"result\":\"ok\",\"n\":2}");
	free(text);

	/* A directory that is a link: refused, nothing written where it points. */
	char *elsewhere = bg_xasprintf("%s/elsewhere", dir), *link = bg_xasprintf("%s/publink", dir);
	assert_int_equal(mkdir(elsewhere, 0750), 0);
	assert_int_equal(symlink(elsewhere, link), 0);
	cfg.g.cockpit.publish_dir = link;
	assert_true(pubdir_publish(&cfg, h, &o, "{}", 2, true) < 0);
	assert_int_equal(count_entries(elsewhere), 0);
	/* A group that does not exist: refused. */
	cfg.g.cockpit.publish_dir = pub;
	cfg.g.cockpit.group = "bgtest-no-such-group";
	assert_true(pubdir_publish(&cfg, h, &o, "{}", 2, true) < 0);

	obs_release(&o);
	hist_close(h);
	th_rm_rf(dir);
	free(elsewhere);
	free(link);
	free(st);
	free(jr);
	free(gid);
	free(pub);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
