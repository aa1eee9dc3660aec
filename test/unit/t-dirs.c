/*
 * t-dirs: the directories bluegreen trusts, through the real binary. A
 * global.conf in the current directory decides which configuration (and
 * so which state directory) is used: the command says so on stderr, and a
 * state directory or configuration directory that someone else owns or
 * can write is refused with how to fix it, never chmod'ed (issue 9, item
 * 5). The owner is really another uid (chown to 65534: the unit suite
 * runs as root, as CI does; without root the program skips as a whole).
 */
#include "bg.h"
#include "th.h"

#include <sys/stat.h>
#include <unistd.h>

#define OTHER_UID 65534

static char *root, *cfg, *state, *old_cwd;

static int setup(void **st)
{
	root = th_tmpdir("dirs");
	cfg = bg_xasprintf("%s/cfg", root);
	state = bg_xasprintf("%s/state", root);
	char *g = bg_xasprintf("install_mode: development\nstate_dir: %s\ndocker:\n  socket: "
			"%s/no-docker.sock\nedge:\n  traefik:\n    dynamic_dir: %s/dynamic\n",
			state, root, root);
	th_write(cfg, "global.conf", g);
	free(g);
	old_cwd = getcwd(NULL, 0);
	return 0;
}

static int teardown(void **st)
{
	if (old_cwd && chdir(old_cwd) != 0) {
		th_print_error("cannot go back to %s\n", old_cwd);
	}
	th_rm_rf(root);
	free(root);
	free(cfg);
	free(state);
	free(old_cwd);
	return 0;
}

/* state_dir: an existing 0755 directory of another user. */
static void foreign_state(void)
{
	struct stat st;
	th_rm_rf(state);
	assert_int_equal(mkdir(state, 0755), 0);
	assert_int_equal(chmod(state, 0755), 0);
	assert_int_equal(chown(state, OTHER_UID, OTHER_UID), 0);
	assert_int_equal(stat(state, &st), 0);
}

static void assert_state_untouched(void)
{
	struct stat st;
	assert_int_equal(stat(state, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	assert_int_equal(st.st_uid, OTHER_UID);
}

static void assert_refused_state(const struct th_run *r)
{
	char *want = bg_xasprintf("state directory %s is owned by uid %d", state, OTHER_UID);
	assert_int_equal(r->status, BG_EXIT_ERROR);
	th_assert_contains(r->err, want);
	th_assert_contains(r->err, "chown");
	th_assert_contains(r->err, "nothing was read or changed");
	free(want);
}

/* `plan` from a directory holding global.conf: which config, and no chmod. */
static void t_plan_in_cwd_foreign_state(void **st)
{
	struct th_run r;
	foreign_state();
	assert_int_equal(chdir(cfg), 0);
	th_bg(&r, "plan", NULL);
	assert_int_equal(chdir(old_cwd), 0);
	assert_refused_state(&r);
	char *note = bg_xasprintf("bluegreen: using the configuration in %s (global.conf in "
			"the current directory", cfg);
	th_assert_contains(r.err, note);
	assert_int_equal(th_count(r.err, "using the configuration in"), 1);
	free(note);
	assert_state_untouched();
	th_run_release(&r);
}

/* `log -f` used to chmod the state directory to 0700 and follow it. */
static void t_log_follow_foreign_state(void **st)
{
	struct th_run r;
	foreign_state();
	const char *bin = getenv("BG_BINARY");
	char *argv[] = {(char *)(bin && *bin ? bin : "bluegreen"), "-c", cfg, "log", "-f", NULL};
	char *env[] = {"NO_COLOR=1", "BLUEGREEN_CONFIG=", NULL};
	th_run_argv_ex(argv, env, th_time_limit(5000), &r);
	assert_false(r.timed_out);
	assert_refused_state(&r);
	/* Chosen with -c: nothing to say about the current directory. */
	th_assert_not_contains(r.err, "using the configuration in");
	assert_state_untouched();
	th_run_release(&r);
}

static void t_group_writable_config_dir(void **st)
{
	struct th_run r;
	th_rm_rf(state);
	assert_int_equal(chmod(cfg, 0775), 0);
	th_bg(&r, "-c", cfg, "history", NULL);
	assert_int_equal(chmod(cfg, 0755), 0);
	assert_int_equal(r.status, BG_EXIT_ERROR);
	char *want = bg_xasprintf("configuration directory %s is writable by its group "
			"(mode 0775)", cfg);
	th_assert_contains(r.err, want);
	th_assert_contains(r.err, "chmod go-w");
	free(want);
	/* Nothing was created either. */
	assert_int_equal(access(state, F_OK), -1);
	th_run_release(&r);

	/* Another user's configuration directory: refused the same way. */
	assert_int_equal(chown(cfg, OTHER_UID, OTHER_UID), 0);
	th_bg(&r, "-c", cfg, "history", NULL);
	assert_int_equal(chown(cfg, 0, 0), 0);
	assert_int_equal(r.status, BG_EXIT_ERROR);
	th_assert_contains(r.err, "is owned by uid 65534");
	th_run_release(&r);
}

/*
 * Verbs that execute nothing (validate, plan --observed: a CI job whose
 * checkout belongs to another uid, a umask-002 tree) only warn about an
 * untrusted configuration directory, and never look at the state directory.
 */
static void t_offline_verbs_warn(void **st)
{
	struct th_run r;
	char *snap = bg_xasprintf("%s/test/release/empty-host.json", getenv("BG_SRCDIR"));
	foreign_state();
	assert_int_equal(chmod(cfg, 0775), 0);
	assert_int_equal(chown(cfg, OTHER_UID, OTHER_UID), 0);
	th_bg(&r, "-c", cfg, "validate", NULL);
	assert_int_equal(r.status, 0);
	th_assert_contains(r.err, "bluegreen: warning: configuration directory");
	th_assert_contains(r.err, "nothing is executed");
	th_run_release(&r);
	th_bg(&r, "-c", cfg, "plan", "--observed", snap, NULL);
	assert_int_equal(r.status, 0);
	th_assert_contains(r.err, "bluegreen: warning: configuration directory");
	th_assert_not_contains(r.err, "refusing");
	th_assert_contains(r.out, "Nothing to do");
	th_run_release(&r);
	/* A live plan from the same directory is refused, with advice that keeps it its owner's. */
	th_bg(&r, "-c", cfg, "plan", NULL);
	assert_int_equal(chown(cfg, 0, 0), 0);
	assert_int_equal(chmod(cfg, 0755), 0);
	assert_int_equal(r.status, BG_EXIT_ERROR);
	th_assert_contains(r.err, "refusing the configuration");
	th_assert_contains(r.err, "sudo -u nobody bluegreen");
	th_run_release(&r);
	assert_state_untouched();
	free(snap);
}

/* Trusted directories: the command runs, and still names the config it took from cwd. */
static void t_cwd_note_when_fine(void **st)
{
	struct th_run r;
	th_rm_rf(state);
	assert_int_equal(chdir(cfg), 0);
	th_bg(&r, "history", NULL);
	assert_int_equal(chdir(old_cwd), 0);
	assert_int_equal(r.status, 0);
	char *note = bg_xasprintf("bluegreen: using the configuration in %s (", cfg);
	th_assert_contains(r.err, note);
	free(note);
	th_run_release(&r);
	/* An existing state directory of ours, 0755: used as it is, not chmod'ed. */
	assert_int_equal(mkdir(state, 0755), 0);
	assert_int_equal(chmod(state, 0755), 0);
	th_bg(&r, "-c", cfg, "log", NULL);
	th_assert_not_contains(r.err, "using the configuration in");
	struct stat sb;
	assert_int_equal(stat(state, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0755);
	th_run_release(&r);
}

int main(void)
{
	if (geteuid() != 0) {
		if (th_ci()) {
			printf("Bail out! t-dirs needs root (chown to another uid)\n");
			return 1;
		}
		printf("1..0 # SKIP needs root (chown to another uid)\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_plan_in_cwd_foreign_state),
		cmocka_unit_test(t_log_follow_foreign_state),
		cmocka_unit_test(t_group_writable_config_dir),
		cmocka_unit_test(t_offline_verbs_warn),
		cmocka_unit_test(t_cwd_note_when_fine),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
