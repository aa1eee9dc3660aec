/*
 * rec-orphan: what the planner does with managed objects no site file
 * declares (rec-orphan.c): a removed site's containers and edge file,
 * a purge of its volumes, and the notes for objects whose owner is not
 * clear. rec-plan.c calls these after the configured sites.
 */
#ifndef BG_RECONCILERS_REC_ORPHAN_H
#define BG_RECONCILERS_REC_ORPHAN_H

#include "rec.h"

/*
 * Plan site, which has no site file, from ctx->cs / ctx->vols (its
 * managed containers and volumes, set by the caller) and its edge file in
 * the observation. A converge plan removes the edge file first, then the
 * containers, and keeps the volumes (said, with the purge command); only
 * when the history knows the site (bluegreen deployed it here), else the
 * containers are listed and left alone. A purge (ctx->args->kind
 * PLAN_PURGE) also removes the volumes. Pure, like every diff.
 */
int rec_orphan_site(struct rec_diff_ctx *ctx, const char *site);

/*
 * A stop or remove of a container or service of a site with no site file:
 * the colour and service reconcilers' apply hands such a step here (a
 * graceful stop, docker's default 10 s, then remove; a container already
 * gone is a removal done).
 */
bool rec_orphan_owns(const struct rec_apply_ctx *ctx, const struct plan_action *a);
int rec_orphan_container_apply(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d);

/* Notes for managed containers that carry no site label: listed only. */
void rec_orphan_unlabelled(struct plan *p, const struct obs *obs);

#endif /* BG_RECONCILERS_REC_ORPHAN_H */
