/*
 * bk: placeholder bodies of the contract in bk.h, so that the plan's
 * backup reconciler links while the engine is written (issue 12, helper
 * B1 replaces this file). Every function refuses with ENOTSUP and says so.
 */
#include "bg.h"
#include "bk.h"

#include <errno.h>

static int bk_not_yet(struct bg_diag *d)
{
	bg_diag_error(d, NULL, "backups are not built yet");
	return BG_ERRNO(ENOTSUP);
}

void bk_manifest_release(struct bk_manifest *m)
{
	if (!m) {
		return;
	}
	free(m->id);
	free(m->site);
	free(m->why);
	free(m->actor);
	free(m->live_colour);
	free(m->compression);
	for (size_t i = 0; i < m->n_parts; i++) {
		free(m->parts[i].file);
		free(m->parts[i].kind);
		free(m->parts[i].object);
	}
	free(m->parts);
	memset(m, 0, sizeof(*m));
}

void bk_manifests_free(struct bk_manifest *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		bk_manifest_release(&v[i]);
	}
	free(v);
}

int bk_create(struct rt *rt, const struct cfg *cfg, const struct cfg_site *site,
		const struct obs *o, struct hist *h, const struct bk_opts *opts,
		struct bk_manifest *out, struct bg_diag *d)
{
	return bk_not_yet(d);
}

int bk_list(struct hist *h, const char *site, struct bk_manifest **out, size_t *n,
		struct bg_diag *d)
{
	*out = NULL;
	*n = 0;
	return bk_not_yet(d);
}

int bk_get(struct hist *h, const char *id, struct bk_manifest *out, struct bg_diag *d)
{
	return bk_not_yet(d);
}

int bk_verify(const struct cfg *cfg, struct hist *h, const char *id, struct bg_diag *d)
{
	return bk_not_yet(d);
}

int bk_restore_volume(struct rt *rt, const struct cfg *cfg, const struct bk_manifest *m,
		const char *volume, struct bg_diag *d)
{
	return bk_not_yet(d);
}

int bk_restore_dump(struct rt *rt, const struct cfg *cfg, const struct cfg_site *site,
		const struct obs *o, const struct bk_manifest *m, const char *service,
		struct bg_diag *d)
{
	return bk_not_yet(d);
}

int bk_prune(const struct cfg *cfg, const struct cfg_site *site, struct hist *h,
		size_t *removed, struct bg_diag *d)
{
	return bk_not_yet(d);
}
