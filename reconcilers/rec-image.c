/*
 * rec-image: the images the sites' colours and backing services run.
 * observe resolves each reference to a local image id: a few references
 * are inspected one by one (about 2 ms each), many are answered by one
 * listing of the local tags (which costs the engine 20 ms and more on a
 * host with many images, on every command's path, issue 11); only those
 * the listing cannot answer, another spelling, a digest, an absent image,
 * are inspected then. apply pulls. It has
 * no diff of its own: an image is needed only where a container is about
 * to be created, which the colour and service diffs decide, so they ask
 * for the pull through rec_image_need at that very point of the plan.
 */
#include "bg.h"
#include "rec.h"
#include "rec-plugins.h"

/* The sites' image references (colours and services), sorted, with repeats. */
static void refs_collect(struct bg_strv *refs, const struct cfg *cfg)
{
	for (size_t i = 0; i < cfg->n_sites; i++) {
		const struct cfg_site *s = &cfg->sites[i];
		bg_strv_push(refs, s->image);
		if (s->wordpress.base_image) { /* a plugin set's image is built from it */
			bg_strv_push(refs, s->wordpress.base_image);
		}
		for (size_t k = 0; k < s->n_services; k++) {
			bg_strv_push(refs, s->services[k].image);
		}
	}
	bg_strv_sort(refs);
}

/* The tag a reference names locally: as written, or NAME:latest (a new string). */
static char *ref_tag(const char *ref)
{
	const char *last = strrchr(ref, '/');
	if (strchr(last ? last : ref, ':') || strchr(ref, '@')) {
		return bg_xstrdup(ref);
	}
	return bg_xasprintf("%s:latest", ref);
}

/* bsearch order of a tag (the key) against a "TAG\037ID" pair. */
static int tag_pair_cmp(const void *key, const void *elem)
{
	const char *tag = key;
	const char *pair = *(char *const *)elem;
	size_t tl = strlen(tag);
	int c = strncmp(tag, pair, tl);
	if (c || pair[tl] == '\037') {
		return c;
	}
	/* '\037' sorts before every printable character, like the end of tag. */
	return (unsigned char)pair[tl] < 037 ? 1 : -1;
}

/* The id of a tag in sorted "TAG\037ID" pairs (a new string), NULL if absent. */
static char *tag_lookup(const struct bg_strv *pairs, const char *tag)
{
	if (pairs->n == 0) {
		return NULL; /* pairs->v may be NULL: bsearch(NULL, 0) is still UB */
	}
	char *const *hit = bsearch(tag, pairs->v, pairs->n, sizeof(*pairs->v), tag_pair_cmp);
	return hit ? bg_xstrdup(*hit + strlen(tag) + 1) : NULL;
}

/* Up to this many distinct references, inspecting each beats listing every image. */
#define IMAGE_INSPECT_MAX 8

static size_t refs_distinct(const struct bg_strv *refs)
{
	size_t n = 0;
	for (size_t i = 0; i < refs->n; i++) {
		n += !i || strcmp(refs->v[i], refs->v[i - 1]) != 0;
	}
	return n;
}

/* The local tags as sorted "TAG\037ID" pairs (nothing asked when no site has an
 * image, or so few that each is inspected instead). */
static int tags_list(struct rt *rt, const struct bg_strv *refs, struct bg_strv *pairs,
		struct bg_diag *d)
{
	struct bg_strv tags, ids;
	int err = 0;

	bg_strv_init(&tags);
	bg_strv_init(&ids);
	if (refs_distinct(refs) > IMAGE_INSPECT_MAX) {
		err = rt_image_tags(rt, &tags, &ids, d);
	}
	for (size_t k = 0; k < tags.n; k++) {
		bg_strv_push_take(pairs, bg_xasprintf("%s\037%s", tags.v[k], ids.v[k]));
	}
	bg_strv_sort(pairs);
	bg_strv_release(&tags);
	bg_strv_release(&ids);
	return err;
}

static int image_observe(struct rt *rt, const struct cfg *cfg, struct obs *o,
		struct bg_diag *d)
{
	struct bg_strv refs, pairs;
	int err;

	bg_strv_init(&refs);
	bg_strv_init(&pairs);
	refs_collect(&refs, cfg);
	err = tags_list(rt, &refs, &pairs, d);
	for (size_t i = 0; i < refs.n && !err; i++) {
		if (i && strcmp(refs.v[i], refs.v[i - 1]) == 0) {
			continue;
		}
		char *full = ref_tag(refs.v[i]);
		char *id = tag_lookup(&pairs, full);
		free(full);
		if (!id) {
			err = rt_image_id(rt, refs.v[i], &id, d);
		}
		if (!err) {
			struct obs_image *im = obs_image_add(o);
			im->ref = bg_xstrdup(refs.v[i]);
			im->id = id;
		}
	}
	bg_strv_release(&pairs);
	bg_strv_release(&refs);
	return err;
}

struct plan_action *rec_image_need(struct rec_diff_ctx *ctx, const char *ref,
		const char *why_fmt, ...)
{
	const struct obs_image *im = obs_image_find(ctx->obs, ref);
	if (im && im->id) {
		return NULL;
	}
	va_list ap;
	va_start(ap, why_fmt);
	char *why = bg_xvasprintf(why_fmt, ap);
	va_end(ap);
	if (ctx->site && rec_plugins_derived(ctx->site->cfg, ref)) {
		/* A plugin set's image is built, never pulled (rec-plugins.c). */
		struct plan_action *b = rec_plugins_need(ctx, ctx->site->cfg, why);
		free(why);
		return b;
	}
	struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_PULL, PLAN_KIND_IMAGE,
			ctx->site->name, ref, "%s", why);
	free(why);
	return a;
}

/*
 * After a pull, the image is part of what the next steps build: record its
 * id in the observation and rebuild the desired state from it. Part of the
 * pull step itself (not an `after` hook): a failed refresh fails the step.
 */
static int image_refresh(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	struct obs *obs = ctx->obs;
	const char *ref = a->name;
	char *id = NULL;
	int err = rt_image_id(ctx->rt, ref, &id, d);
	if (err) {
		return err;
	}
	bool found = false;
	for (size_t i = 0; i < obs->n_images && !found; i++) {
		if (strcmp(obs->images[i].ref, ref) == 0) {
			free(obs->images[i].id);
			obs->images[i].id = id;
			found = true;
		}
	}
	if (!found) {
		struct obs_image *im = obs_image_add(obs);
		im->ref = bg_xstrdup(ref);
		im->id = id;
		obs_finish(obs);
	}
	des_release(ctx->des);
	/* A rollback --to plan keeps its recorded site (des_build_args). */
	return des_build_args(ctx->des, ctx->cfg, obs, ctx->plan ? &ctx->plan->args : NULL,
			d);
}

static int image_apply(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	if (!des_site_find(ctx->des, a->site)) {
		bg_diag_error(d, NULL, "site '%s' is no longer configured", a->site);
		return BG_ECONFIG;
	}
	bool build = a->op == PLAN_OP_BUILD;
	int err = build ? rec_plugins_build(ctx, a, d) : rt_image_pull(ctx->rt, a->name, d);
	return err || (a->op != PLAN_OP_PULL && !build) ? err : image_refresh(ctx, a, d);
}

static bool image_handles(enum plan_kind kind)
{
	return kind == PLAN_KIND_IMAGE;
}

const struct rec_impl rec_image_impl = {
	.kind = "image",
	.observe = image_observe,
	.apply = image_apply,
	.handles = image_handles,
};
