/*
 * rec-wordpress-int: what rec-wordpress.c (observe, plan) and
 * rec-wordpress-apply.c (the install and the database upgrade) share.
 * Internal to reconcilers/.
 */
#ifndef BG_RECONCILERS_REC_WORDPRESS_INT_H
#define BG_RECONCILERS_REC_WORDPRESS_INT_H

#include "bg.h"
#include "rec.h"

/* The name of the module's database service (modules/wordpress/module.conf). */
#define WP_DB_SERVICE "db"

/* Is this a site of kind wordpress (expanded by the module)? */
bool wp_site_is(const struct cfg_site *cs);

/*
 * What the database says, read by an exec argv in the running db service
 * (`mariadb -N -B -e SELECT ...`, root by its socket as the backup preset;
 * no password anywhere). installed: 1 WordPress is installed, 0 not (no
 * options table, or no siteurl), -1 could not tell (*why says why, static).
 * *db_version 0 when unknown.
 */
struct wp_db_state {
	int installed;
	unsigned long db_version;
	const char *why;
};
int wp_db_read(struct rt *rt, const char *container_id, const struct cfg_site *cs,
		struct wp_db_state *st, struct bg_diag *d);

/*
 * The code of a running colour container: its wp-includes/version.php read
 * by an exec argv (cat). *db_version 0 and *wp_version NULL when unknown.
 */
int wp_code_read(struct rt *rt, const char *container_id, unsigned long *db_version,
		char **wp_version, struct bg_diag *d);

/* Pure: $wp_db_version and $wp_version of a version.php text (0 / NULL: absent). */
void wp_version_parse(const char *text, unsigned long *db_version, char **wp_version);

/* The install's title, admin user and e-mail, the site's keys or their defaults. */
const char *wp_title(const struct cfg_site *cs);
const char *wp_admin_user(const struct cfg_site *cs);
char *wp_admin_email(const struct cfg_site *cs);

/* The apply of an install or upgrade step (rec-wordpress-apply.c). */
int wp_apply(struct rec_apply_ctx *ctx, const struct plan_action *a, struct bg_diag *d);

#endif /* BG_RECONCILERS_REC_WORDPRESS_INT_H */
