/*
 * rec-digest: the registry digest of a version that went live, kept in
 * the journal (rec-digest.h). One image inspect per switch; a local build
 * (no RepoDigests) costs that inspect and writes nothing.
 */
#include "bg.h"
#include "rec-digest.h"
#include "bg-log.h"
#include "hist-live.h"

/* "reg:5000/a/b:tag" -> "reg:5000/a/b" (a new string): the name a digest starts with. */
static char *ref_repo(const char *ref)
{
	const char *at = strchr(ref, '@');
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(ref, ':');
	if (at) {
		return bg_xstrndup(ref, (size_t)(at - ref));
	}
	if (colon && (!slash || colon > slash)) {
		return bg_xstrndup(ref, (size_t)(colon - ref));
	}
	return bg_xstrdup(ref);
}

/* The digest whose repository is ref's, else the first; NULL if none. */
static const char *digest_pick(const struct bg_strv *ds, const char *ref)
{
	char *repo = ref ? ref_repo(ref) : NULL;
	const char *got = ds->n ? ds->v[0] : NULL;
	size_t rl = repo ? strlen(repo) : 0;
	for (size_t i = 0; repo && i < ds->n; i++) {
		if (strncmp(ds->v[i], repo, rl) == 0 && ds->v[i][rl] == '@') {
			got = ds->v[i];
			break;
		}
	}
	free(repo);
	return got;
}

void rec_digest_keep(struct rec_apply_ctx *ctx, const struct plan_action *a)
{
	const struct des_site *s = ctx->des && a->site ? des_site_find(ctx->des, a->site) : NULL;
	struct bg_strv ds;
	struct bg_diag d;

	if (!ctx->hist || !ctx->rt || !s || !s->image_id || !a->version) {
		return;
	}
	/* The desired site is what went live only when the switch names its version. */
	if (s->version != a->version) {
		return;
	}
	bg_strv_init(&ds);
	bg_diag_init(&d);
	int err = rt_image_digests(ctx->rt, s->image_id, &ds, &d);
	const char *dg = err ? NULL : digest_pick(&ds, s->cfg ? s->cfg->image : NULL);
	if (err) {
		bg_log(BG_LOG_WARN, "%s: cannot read the registry digest of v%u's image: %s",
				a->site, a->version, bg_strerror(err));
	} else if (dg) {
		char *det = hist_digest_details(a->version, s->cfg ? s->cfg->image : NULL,
				s->image_id, dg);
		rec_journal(ctx, HIST_DIGEST_ACTION, a->site, "ok", "%s", det);
		free(det);
	}
	bg_strv_release(&ds);
	bg_diag_release(&d);
}
