/*
 * wp-e2e: what the WordPress docker tests (t-wordpress, t-wp-plugins)
 * share: the stand-in images built once per test program, the site file
 * of a `kind: wordpress` site with those images, GET through the edge
 * with a path, and `docker exec` for a container's output. One copy, so
 * that both tests deploy the same site the same way.
 */
#ifndef BG_TEST_WP_E2E_H
#define BG_TEST_WP_E2E_H

#include "e2e.h"

/*
 * test/images/wordpress/build-wordpress.sh (and build-wordpress-v3.sh
 * when v3), in a temporary dir tagged tag; 0, or 1 after a "Bail out!"
 * line (the TAP plan's abort).
 */
int wp_e2e_images_build(const char *tag, bool v3);

/*
 * sites/SITE.conf: kind wordpress, the stand-in images (wordpress at
 * image_tag, wp-mariadb:v1), wp_fields appended inside `wordpress: {}`
 * (", key: value" pairs, or ""), strategy.drain drain.
 */
void wp_e2e_site_write(struct e2e *e, const char *image_tag, const char *wp_fields,
		const char *drain);

/* GET path with Host: host through nginx; its HTTP status; *body (may be NULL) the body. */
int wp_e2e_get(struct e2e *e, const char *host, const char *path, char **body);

/* `docker exec container a1..a4` (NULL ends): its stdout, a new string; else the test fails. */
char *wp_e2e_exec(const char *container, const char *a1, const char *a2, const char *a3,
		const char *a4);

#endif
