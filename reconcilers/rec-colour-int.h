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

#endif
