/*
 * rec-promote: see rec-promote.h. The keys are loaded and the directory
 * read for every plan of a site that requires promotion: plans are rare
 * and the files small, and caching would let a revoked key linger.
 */
#include "bg.h"
#include "rec-promote.h"
#include "attest.h"
#include "attest-url.h"

/* path as written: relative to the config directory. A new string. */
static char *cfg_rel(const struct cfg *cfg, const char *path)
{
	return path[0] == '/' ? bg_xstrdup(path) : bg_xasprintf("%s/%s", cfg->dir, path);
}

/* promotion.attestations written as a URL (issue 14; the config keeps
 * it as written), or NULL. A new string. */
static char *attestations_url(const struct cfg_promotion *pr)
{
	const char *a = pr->attestations;
	bool url = a && (bg_str_has_prefix(a, "https://") || bg_str_has_prefix(a, "http://"));
	return url ? bg_xstrdup(a) : NULL;
}

/* A colour of this site already holds the desired spec. */
static bool spec_deployed(const struct rec_diff_ctx *ctx)
{
	for (size_t i = 0; i < ctx->n_cs; i++) {
		const char *spec = ctx->cs[i]->spec;
		if (ctx->cs[i]->colour && spec && strcmp(spec, ctx->site->spec) == 0) {
			return true;
		}
	}
	return false;
}

/* Load every trusted key; on the first failure, why (a new string). */
static char *keys_load(const struct cfg *cfg, const struct cfg_promotion *pr,
		struct attest_key **keys, size_t *n)
{
	for (size_t i = 0; i < pr->trust.n; i++) {
		char *path = cfg_rel(cfg, pr->trust.v[i]);
		char *why = NULL;
		int err = attest_pubkey_load(path, &keys[*n], &why);
		free(path);
		if (err) {
			char *msg = bg_xasprintf("promotion.require: staging, but trusted key %s "
					"cannot be used: %s", pr->trust.v[i], why);
			free(why);
			return msg;
		}
		(*n)++;
	}
	return NULL;
}

char *rec_promote_check(struct rec_diff_ctx *ctx)
{
	const struct des_site *s = ctx->site;
	const struct cfg_promotion *pr = &s->cfg->promotion;
	struct attest_claim c;
	char *why = NULL, *msg = NULL;
	size_t n = 0;

	if (pr->require != CFG_PROMOTION_STAGING || ctx->args->kind != PLAN_CONVERGE ||
			spec_deployed(ctx)) {
		return NULL;
	}
	if (!s->image_id) {
		return bg_xasprintf("promotion.require: staging: image %s is not on this host, "
				"so its image ID cannot be matched with a staging attestation; pull "
				"it (docker pull %s) and plan again", s->cfg->image, s->cfg->image);
	}
	struct attest_key **keys = bg_xcalloc(pr->trust.n + 1, sizeof(*keys));
	char *dir = pr->attestations ? bg_xstrdup(pr->attestations)
			: bg_xasprintf("%s/%s", ctx->cfg->dir, ATTEST_DIR);
	attest_claim_init(&c);
	msg = keys_load(ctx->cfg, pr, keys, &n);
	if (msg) {
		goto out;
	}
	char *url = attestations_url(pr);
	int found = url ? attest_url_find(url, keys, n, s->image_id, &c, &why)
			: attest_find(dir, keys, n, NULL, s->image_id, 0, &c, NULL, &why);
	free(url);
	if (found != 0) {
		msg = bg_xasprintf("promotion.require: staging: no attestation signed by a "
				"trusted key (%zu in promotion.trust) covers image %s (ID %.19s); "
				"%s. Deploy it on staging, then copy `bluegreen attest export SITE` "
				"there", n, s->cfg->image, s->image_id, why);
		goto out;
	}
	struct bg_buf checks = BG_BUF_INIT;
	for (size_t i = 0; i < c.checks.n; i++) {
		bg_buf_addf(&checks, "%s%s", i ? ", " : "", c.checks.v[i]);
	}
	plan_note_add(ctx->plan, ctx->ps, "promotion: image %.19s attested by %s (%s) as %s "
			"v%u, checks passed: %s, at %s (key %s)", s->image_id, c.host, c.mode, c.site,
			c.version, checks.len ? checks.data : "none", c.time, c.key_id);
	bg_buf_release(&checks);
out:
	for (size_t i = 0; i < n; i++) {
		attest_key_destroy(keys[i]);
	}
	free(keys);
	free(dir);
	free(why);
	attest_claim_release(&c);
	return msg;
}
