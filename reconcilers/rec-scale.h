/*
 * rec-scale: a change of `replicas` alone applies to the live colour in
 * place, without a switch (issue 13). The colour diff (rec-colour.c) asks
 * rec_scale_fits whether the live colour is the desired revision but for
 * its count (the spec-base label, desired.h); if so rec_scale_plan emits
 * the steps: scale up creates, starts and gates the extra replicas, then
 * one edge write names them; scale down writes the edge without the
 * extras first (the install waits for nginx's old workers, as a switch
 * does), drains, then stops and removes them. A scale is not a new
 * version: new replicas carry the live colour's version label and the
 * history records nothing (rec-colour-apply.c).
 */
#ifndef BG_REC_SCALE_H
#define BG_REC_SCALE_H

#include "rec.h"

/* The live colour slot as the colour diff sees it (borrowed). */
struct rec_scale_live {
	const char *colour;
	const struct obs_container *const *rep; /* [1..max]: replica r, NULL if missing */
	unsigned max;                           /* last index of rep */
	const struct obs_container *const *extra; /* beyond the desired count, or duplicates */
	size_t n_extra;
	unsigned version;                       /* the live colour's version label */
};

/*
 * Is every container of the live colour the desired revision but for the
 * replica count (same spec-base label, same secret values), with at least
 * one present? (For a pinned site, rollback --to: is the live colour that
 * version?)
 */
/* A container action of colour's replica (c: the observed container, or NULL
 * for one to create), named and described as the colour diff names them
 * (rec-colour.c; shared with the scale). */
struct plan_action *rec_colour_container_action(struct rec_diff_ctx *ctx, enum plan_op op,
		const char *colour, unsigned replica, const struct obs_container *c,
		const char *fmt, ...) BG_PRINTF(6, 7);

bool rec_scale_fits(const struct rec_diff_ctx *ctx, const struct rec_scale_live *lv);

/*
 * The scale steps for a live colour that fits: create/start/gate missing
 * replicas and add them to the edge, or take extras off the edge, drain
 * and remove them; a stopped replica is started and gated. Nothing when
 * the count already matches and all run (the next plan after a scale is
 * empty).
 */
void rec_scale_plan(struct rec_diff_ctx *ctx, const struct rec_scale_live *lv);

#endif
