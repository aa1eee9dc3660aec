/*
 * rec-promote: staging before production (issue 14). A site whose config
 * says `promotion: {require: staging, trust: [KEY.pub]}` gets a candidate
 * planned only when an attestation (attest.h) in promotion.attestations,
 * signed by one of the trusted keys, covers the image ID of the site's
 * image. Otherwise the site is blocked in the plan with what is missing.
 *
 * Unlike the other diff steps this reads files (the keys and the
 * attestations, a few KiB): the plan must show what a production apply
 * would refuse, and the files are part of the configuration (GitOps).
 */
#ifndef BG_RECONCILERS_REC_PROMOTE_H
#define BG_RECONCILERS_REC_PROMOTE_H

#include "rec.h"

/*
 * Why ctx->site may not get a candidate (a new string for plan_site's
 * blocked), or NULL when it may: no promotion required, not a converge
 * plan (a rollback brings back what was live), a colour already holds the
 * desired spec (its attestation was checked when it was planned), or a
 * trusted attestation covers the image. When one does, a plan note says
 * which.
 */
char *rec_promote_check(struct rec_diff_ctx *ctx);

#endif /* BG_RECONCILERS_REC_PROMOTE_H */
