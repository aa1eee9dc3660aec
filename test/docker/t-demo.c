/*
 * t-demo: `./run.sh demo` tells the whole story (issue 4). It runs
 * examples/demo/demo.sh exactly as shipped (BG_BINARY points it at this
 * build) from a copy of the tree's examples/demo and test/images/build.sh
 * in a temporary root, so its work directory (ROOT/.bg-demo) is not the
 * developer's. It checks the story's key lines in order (v1 live, v2 on
 * the preview host, v2 live, the rollback to v1, status and history
 * printed, every plan applied by its token), then that `demo.sh --clean`
 * leaves nothing: no container of the site, no network, no nginx, no work
 * directory.
 *
 * The demo's names are fixed (site `hello`, networks hello-net and
 * bluegreen-demo-edge, 127.0.0.1:18080). When any of them is in use
 * (a developer's own demo), the test cannot run without destroying it:
 * it says so with "1..0 # SKIP", and under CI=true that is a failure
 * ("Bail out!"), since CI machines run nothing else.
 *
 * Needs: dockerd, nginx, curl, sh; images from test/images/build.sh.
 */
#include "bg.h"
#include "th.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEMO_SITE "hello"
#define DEMO_PORT 18080

static char *root;     /* the temporary root demo.sh runs from */
static long nginx_pid; /* the demo's nginx master, once seen */

static bool port_free(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0) {
		close(fd);
	}
	return ok;
}

/* What of the demo's fixed names exists now ("" when nothing), a new string. */
static char *demo_objects(void)
{
	struct th_run r;
	char *out = bg_xstrdup("");
	th_docker(&r, "ps", "-a", "--filter", "label=io.bluegreen.site=" DEMO_SITE, "--format",
			"container {{.Names}}", NULL);
	assert_int_equal(r.status, 0);
	char *t = bg_xasprintf("%s%s", out, r.out);
	free(out);
	out = t;
	th_run_release(&r);
	const char *nets[] = {DEMO_SITE "-net", "bluegreen-demo-edge"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(nets); i++) {
		if (th_docker(&r, "network", "inspect", (char *)nets[i], NULL) == 0) {
			t = bg_xasprintf("%snetwork %s\n", out, nets[i]);
			free(out);
			out = t;
		}
		th_run_release(&r);
	}
	return out;
}

static int demo_run(struct th_run *r, const char *arg)
{
	char *script = bg_xasprintf("%s/examples/demo/demo.sh", root);
	char *argv[] = {"sh", script, (char *)arg, NULL};
	char *env[] = {"NO_COLOR=1", NULL};
	int st = th_run_argv(argv, env, r);
	free(script);
	return st;
}

static void demo_clean(void)
{
	struct th_run r;
	if (root) {
		demo_run(&r, "--clean");
		th_run_release(&r);
	}
	/* An nginx the clean did not stop (it was ours: we started the demo). */
	if (nginx_pid > 1 && kill((pid_t)nginx_pid, 0) == 0) {
		kill((pid_t)nginx_pid, SIGKILL);
	}
}

static int teardown(void **state)
{
	demo_clean();
	th_rm_rf(root);
	return 0;
}

/* Each needle found after the previous one: the story's order. */
static void assert_in_order(const char *text, const char *const needles[], size_t n)
{
	const char *at = text;
	for (size_t i = 0; i < n; i++) {
		const char *p = strstr(at, needles[i]);
		if (!p) {
			th_print_error("demo output:\n%s\n", text);
			fail_msg("the demo's story lacks, at its place, \"%s\"", needles[i]);
		}
		at = p + strlen(needles[i]);
	}
}

static void test_demo_story_and_clean(void **state)
{
	struct th_run r;
	demo_clean(); /* before: a copy of ours killed earlier, if any */
	int st = demo_run(&r, NULL);
	if (st != 0) {
		th_print_error("demo.sh exited %d:\n%s\n%s\n", st, r.out, r.err);
	}
	assert_int_equal(st, 0);
	char *pidf = bg_xasprintf("%s/.bg-demo/nginx/nginx.pid", root);
	char *pid = th_read(pidf);
	nginx_pid = atol(pid);
	free(pid);
	free(pidf);
	const char *story[] = {
		"== 1. Check the configuration",
		"== 2. First deploy",
		"$ bluegreen plan",
		"$ bluegreen apply ",
		"http://" DEMO_SITE ".localhost/ -> v1",
		"== 3. A new version",
		"$ bluegreen apply ",
		"http://" DEMO_SITE ".localhost/ -> v1",
		"http://preview." DEMO_SITE ".localhost/ -> v2",
		"== 4. The switch",
		"$ bluegreen apply ",
		"http://" DEMO_SITE ".localhost/ -> v2",
		"== 5. Rollback",
		"$ bluegreen rollback " DEMO_SITE " --yes",
		"rollback of " DEMO_SITE " took",
		"http://" DEMO_SITE ".localhost/ -> v1",
		"== 6. What happened",
		"$ bluegreen status",
		"$ bluegreen history",
		"rollback",
		"v2 marked rejected",
		"The convergence log",
	};
	assert_in_order(r.out, story, BG_ARRAY_SIZE(story));
	/* Each of the three plans was printed whole and applied by its token. */
	assert_int_equal(th_count(r.out, "To apply exactly this plan"), 3);
	assert_true(th_count(r.out, "$ bluegreen apply ") >= 3);
	/* The state really is what the story ends with: v1 live, v2 rejected. */
	char *work = bg_xasprintf("%s/.bg-demo", root);
	char *bin = getenv("BG_BINARY");
	char *sargv[] = {bin, "-c", work, "status", NULL};
	char *env[] = {"NO_COLOR=1", NULL};
	struct th_run s;
	assert_int_equal(th_run_argv(sargv, env, &s), 0);
	th_assert_contains(s.out, "blue");
	th_assert_contains(s.out, "rejected green v2");
	th_run_release(&s);
	th_run_release(&r);

	/* --clean leaves nothing behind. */
	assert_int_equal(demo_run(&r, "--clean"), 0);
	th_assert_contains(r.out, "demo: cleaned up");
	th_run_release(&r);
	char *left = demo_objects();
	if (*left) {
		fail_msg("demo --clean left:\n%s", left);
	}
	free(left);
	for (int i = 0; i < 50 && kill((pid_t)nginx_pid, 0) == 0; i++) {
		usleep(100 * 1000);
	}
	if (kill((pid_t)nginx_pid, 0) == 0) {
		fail_msg("demo --clean left its nginx running (pid %ld)", nginx_pid);
	}
	assert_true(port_free(DEMO_PORT));
	assert_int_not_equal(access(work, F_OK), 0);
	free(work);
}

/* A copy of what demo.sh uses from the tree, in a fresh root. */
static void make_root(void)
{
	root = th_tmpdir("demo");
	char *from = th_src_path("examples/demo");
	char *to = bg_xasprintf("%s/examples/demo", root);
	th_copy_tree(from, to);
	free(to);
	free(from);
	from = th_src_path("test/images");
	to = bg_xasprintf("%s/test/images", root);
	th_copy_tree(from, to);
	free(to);
	free(from);
}

int main(void)
{
	th_docker_preamble();
	/* The demo's fixed names must be free: never destroy someone's demo. */
	char *busy = demo_objects();
	bool port = port_free(DEMO_PORT);
	if (*busy || !port) {
		char *why = bg_xasprintf("the demo's names are in use (%s%s%s): stop that demo "
				"first (./run.sh demo --clean)", port ? "" : "127.0.0.1:18080 is taken",
				!port && *busy ? "; " : "", busy);
		for (char *p = why; *p; p++) {
			*p = *p == '\n' ? ' ' : *p;
		}
		bool ci = th_ci();
		printf(ci ? "Bail out! %s\n" : "1..0 # SKIP %s\n", why);
		free(why);
		free(busy);
		return ci ? 1 : 0;
	}
	free(busy);
	make_root();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_demo_story_and_clean, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
