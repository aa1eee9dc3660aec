/*
 * rec-backup: backups as steps of a plan (issue 12, ADR 0016): the
 * `backup` step a production switch or service change takes first, and
 * the steps of a restore (plan --restore SITE@ID). Placeholder until
 * helper B2 writes it: it claims the backup kind and plans nothing.
 */
#include "bg.h"
#include "bk.h"
#include "rec.h"

#include <errno.h>

static bool backup_handles(enum plan_kind kind)
{
	return kind == PLAN_KIND_BACKUP;
}

static int backup_apply(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	bg_diag_error(d, NULL, "backup steps are not built yet");
	return BG_ERRNO(ENOTSUP);
}

const struct rec_impl rec_backup_impl = {
	.kind = "backup",
	.apply = backup_apply,
	.handles = backup_handles,
};
