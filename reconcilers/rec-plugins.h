/*
 * rec-plugins: the wordpress plugin sets' derived images (issue 16). The
 * configuration made the colour's image bluegreen-plugins/SITE:HASH16
 * (controller/config/cfg-plugins.c); when it is not here, the image
 * reconciler's rec_image_need asks this file for a build step instead of
 * a pull, and its apply runs rec_plugins_build.
 */
#ifndef BG_RECONCILERS_REC_PLUGINS_H
#define BG_RECONCILERS_REC_PLUGINS_H

#include "rec.h"

/* Is ref site's derived image (a plugin set), rather than a pullable one? */
bool rec_plugins_derived(const struct cfg_site *site, const char *ref);

/*
 * The build of site's derived image, planned at this point of the plan
 * (after a pull of its base when the base is not here): the step names
 * the base, and one note per plugin names its slug, version, sha256 and
 * URL, so the token covers the set. Returns the build step (borrowed).
 */
struct plan_action *rec_plugins_need(struct rec_diff_ctx *ctx, const struct cfg_site *site,
		const char *why);

/*
 * The build step: download every zip (libcurl), check each sha256 before
 * anything else (a mismatch stops here, naming the slug, the expected and
 * the found hash), unpack them with libarchive into one tree of SLUG/...
 * directories, and derive the image through the runtime (rt_image_derive).
 */
int rec_plugins_build(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d);

#endif /* BG_RECONCILERS_REC_PLUGINS_H */
