/*
 * rec-colour-int: what the two halves of the colour reconciler share
 * (rec-colour.c plans, rec-colour-apply.c executes). Not for other files.
 */
#ifndef BG_REC_COLOUR_INT_H
#define BG_REC_COLOUR_INT_H

#include "rec.h"

/* The schema caps replicas at 100 (schema/site.schema.json). */
#define MAX_REPLICAS 100

int rec_colour__apply(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d);

/*
 * Colour's `after`: a candidate that passed its health gate and waits for
 * a manual promote is journaled as healthy. Its home is
 * rec_colour_impl.after.
 */
int rec_colour__after(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d);
/*
 * Colour's `failed`: a candidate this apply started that failed its health
 * gate is stopped (never the live colour) and journaled. Its home is
 * rec_colour_impl.failed.
 */
void rec_colour__failed(struct rec_apply_ctx *ctx, const struct plan_action *a, int err);

#endif
