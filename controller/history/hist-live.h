/*
 * hist-live: which versions of a site ever went live, read from the
 * journal's switch and rollback entries (rec-edge.c writes one each time
 * a switch, a promote or a rollback makes a colour live). A colour whose
 * version never went live is a failed or waiting candidate: status does
 * not call it previous, the plan does not keep it warm, and a rollback
 * never switches to it (issue 13). The journal already holds this fact,
 * also for histories written by older releases, so no new record is kept.
 */
#ifndef BG_CONTROLLER_HIST_LIVE_H
#define BG_CONTROLLER_HIST_LIVE_H

#include "bg.h"
#include "hist.h"
#include "obs.h"

/*
 * The version an entry made live: an ok "switch" ("first deploy: blue (v1)
 * is live", "live blue (v1) -> green (v2)") or "rollback" ("live green (v2)
 * -> blue (v1); ..."); 0 for any other entry.
 */
unsigned hist_live_version(const struct hist_entry *e);

/*
 * For every site o->hist holds (call after hist_observe): went_live, the
 * versions that ever went live, and live_known. A history that cannot be
 * read leaves live_known false and returns the error.
 */
int hist_live_observe(struct hist *h, struct obs *o);

/*
 * The registry digest of a version's image, kept in the journal when the
 * version goes live (action HIST_DIGEST_ACTION, result "ok"): the details
 * text for it (a new string), and its reading back: *version and *digest
 * (a new string, "repo@sha256:HEX"); false for any other entry.
 */
#define HIST_DIGEST_ACTION "image"
char *hist_digest_details(unsigned version, const char *image, const char *image_id,
		const char *digest);
bool hist_digest_parse(const struct hist_entry *e, unsigned *version, char **digest);

#endif /* BG_CONTROLLER_HIST_LIVE_H */
