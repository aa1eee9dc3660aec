/*
 * wp-e2e: helpers of the WordPress docker tests (see wp-e2e.h). Test
 * code: a failed step fails the running cmocka test.
 */
#include "bg.h"
#include "wp-e2e.h"

#include <stdio.h>

/* One builder script; 0, or 1 after the Bail out! line. */
static int wp_e2e_script_run(const char *rel, const char *work)
{
	struct th_run r;
	char *script = th_src_path(rel);
	char *bargv[] = {"sh", script, (char *)work, NULL};
	int rc = 0;
	th_run_argv_ex(bargv, NULL, 1800000, &r);
	if (r.status != 0) {
		printf("Bail out! %s failed: %s%s\n", script, r.out, r.err);
		rc = 1;
	}
	th_run_release(&r);
	free(script);
	return rc;
}

int wp_e2e_images_build(const char *tag, bool v3)
{
	char *work = th_tmpdir(tag);
	int rc = wp_e2e_script_run("test/images/wordpress/build-wordpress.sh", work);
	if (rc == 0 && v3) {
		rc = wp_e2e_script_run("test/images/wordpress/build-wordpress-v3.sh", work);
	}
	if (rc == 0) {
		th_rm_rf(work);
	}
	free(work);
	return rc;
}

void wp_e2e_site_write(struct e2e *e, const char *image_tag, const char *wp_fields,
		const char *drain)
{
	char *path = bg_xasprintf("sites/%s.conf", e->site);
	char *text = bg_xasprintf("site: %s\n"
			"kind: wordpress\n"
			"domains: [%s]\n"
			"preview: %s\n"
			"wordpress: {version: \"6.1\", image: \"bluegreen-test/wordpress:%s\", "
			"db_image: \"bluegreen-test/wp-mariadb:v1\"%s}\n"
			"strategy: {drain: %s}\n", e->site, e->domain, e->preview, image_tag,
			wp_fields, drain);
	th_write(e->dir, path, text);
	free(text);
	free(path);
}

int wp_e2e_get(struct e2e *e, const char *host, const char *path, char **body)
{
	char *url = bg_xasprintf("http://127.0.0.1:%d%s", e->port, path);
	char *hdr = bg_xasprintf("Host: %s", host);
	char *args[] = {"-H", hdr, url, NULL};
	char *b = NULL, *loc = NULL;
	int st = e2e_curl(args, &b, &loc);
	if (body) {
		*body = b;
	} else {
		free(b);
	}
	free(loc);
	free(hdr);
	free(url);
	return st;
}

char *wp_e2e_exec(const char *container, const char *a1, const char *a2, const char *a3,
		const char *a4)
{
	struct th_run r;
	if (th_docker(&r, "exec", container, a1, a2, a3, a4, NULL) != 0) {
		fail_msg("docker exec %s %s: %s", container, a1, r.err);
	}
	char *out = bg_xstrdup(r.out);
	th_run_release(&r);
	return out;
}
