/*
 * hist-confirm: the confirm phrase of each site, kept in the history so
 * that removing a site whose file is gone (and purging its volumes) can
 * still require the phrase that was configured for it (issue 13). Never
 * the phrase in clear: a salted PBKDF2-HMAC-SHA256 of it, in the meta
 * database under "confirm:SITE", compared in constant time.
 */
#ifndef BG_CONTROLLER_HIST_CONFIRM_H
#define BG_CONTROLLER_HIST_CONFIRM_H

#include "hist.h"

/*
 * Keep phrase as site's confirm phrase (NULL: forget any kept one). A
 * phrase already kept is not rewritten. Errors: BG_ERRNO(EINVAL) for a bad site
 * name, BG_ERRNO(EROFS) on a read-only history, LMDB errors mapped.
 */
int hist_confirm_keep(struct hist *h, const char *site, const char *phrase);
/*
 * Is given the phrase kept for site? *ok is false when it is not;
 * BG_ENOT_FOUND when no phrase is kept for the site.
 */
int hist_confirm_check(struct hist *h, const char *site, const char *given, bool *ok);

#endif /* BG_CONTROLLER_HIST_CONFIRM_H */
