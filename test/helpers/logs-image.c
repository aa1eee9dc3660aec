/*
 * logs-image: the image of the logs tests (see logs-image.h).
 */
#include "bg.h"
#include "logs-image.h"
#include "th.h"

#include <sys/stat.h>
#include <unistd.h>

static const char logdemo[] =
	"#!/bin/sh\n"
	"echo \"out start $MARK\"\n"
	"echo \"err start $MARK\" >&2\n"
	"echo \"token $APP_SECRET\"\n"
	"while true; do echo \"tick $MARK\"; echo \"etick $MARK\" >&2; sleep 1; done &\n"
	"exec /bin/busybox httpd -f -p 8080 -h /www\n";

void logs_image_build(void)
{
	struct th_run r = {0};
	if (th_docker(&r, "image", "inspect", LOGS_IMAGE, NULL) == 0) {
		th_run_release(&r);
		return;
	}
	th_run_release(&r);
	char *dir = th_tmpdir("logsimg");
	char *root = bg_xasprintf("%s/root", dir);
	char *tar = bg_xasprintf("%s/root.tar", dir);
	th_write(root, "www/index.html", "logs\n");
	th_write(root, "www/healthz", "ok\n");
	th_write(root, "bin/logdemo", logdemo);
	th_write(root, "tmp/.keep", "");
	char *bb = bg_xasprintf("%s/bin/busybox", root);
	char *cp[] = {"cp", "/bin/busybox", bb, NULL};
	assert_int_equal(th_run_argv(cp, NULL, &r), 0);
	th_run_release(&r);
	char *ld = bg_xasprintf("%s/bin/logdemo", root);
	assert_int_equal(chmod(ld, 0755), 0);
	char *sh = bg_xasprintf("%s/bin/sh", root);
	assert_int_equal(symlink("busybox", sh), 0);
	char *tarv[] = {"tar", "-C", root, "-cf", tar, ".", NULL};
	assert_int_equal(th_run_argv(tarv, NULL, &r), 0);
	th_run_release(&r);
	assert_int_equal(th_docker(&r, "import", "--change", "CMD [\"/bin/logdemo\"]",
			"--change", "LABEL bluegreen-test.inputs=d1a", tar, LOGS_IMAGE, NULL), 0);
	th_run_release(&r);
	th_rm_rf(dir);
	free(dir), free(root), free(tar), free(bb), free(ld), free(sh);
}
