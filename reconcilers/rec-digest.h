/*
 * rec-digest: after a switch (or a rollback) made a version live, keep
 * the registry digest of its image in the journal (hist-live.h), so that
 * `rollback --to` can pull exactly that build back once the local image
 * is gone. Called from rec-edge.c's after hook.
 */
#ifndef BG_RECONCILERS_REC_DIGEST_H
#define BG_RECONCILERS_REC_DIGEST_H

#include "rec.h"

/*
 * Journal the digest of the image the site's colour runs (the one whose
 * repository matches its reference, else the first the engine reports);
 * nothing when the engine reports none (a local build). Each switch to a
 * version records it again (the newest entry wins). Failures are logged, not returned:
 * the switch already happened.
 */
void rec_digest_keep(struct rec_apply_ctx *ctx, const struct plan_action *a);

#endif /* BG_RECONCILERS_REC_DIGEST_H */
