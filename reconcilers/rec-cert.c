/*
 * rec-cert: the certificates of tls.mode auto sites on an edge whose
 * certificates bluegreen gets itself (edge_impl.issues_certificates:
 * nginx), with certbot in webroot mode (ADR 0015). observe reads the
 * certificate the edge serves (edge_tls_paths) with libcrypto: its names
 * and its end of validity. diff plans one `issue certificate` step when
 * there is none, when its names are not the site's domains (and preview
 * host), or when fewer than acme.renew_days days are left. The step runs
 * in the last phase, after every edge step of the plan: http-01 needs the
 * HTTP server block of each name first (a first deploy's switch writes
 * it, a new domain's edge write adds it). apply runs certbot (argv only),
 * then writes the site's edge file again through the edge reconciler, so
 * nginx serves the new files. A refused order never stops the apply: the
 * step journals "cert SITE failed" with certbot's words and the site
 * keeps serving what it served; the next plan proposes the request again.
 */
#include "bg.h"
#include "bg-fs.h"
#include "bg-log.h"
#include "bg-spawn.h"
#include "edge.h"
#include "rec.h"

#include <ctype.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CERT_FILE_MAX (256 * 1024)
/* certbot's own network timeouts are shorter; this only bounds a hang. */
#define CERT_CERTBOT_TIMEOUT_MS (10 * 60 * 1000)
/* How much of certbot's output a failed step keeps (its end says why). */
#define CERT_OUTPUT_KEEP 1500
#define CERT_LE_STAGING "https://acme-staging-v02.api.letsencrypt.org/directory"

static bool cert_managed(const struct cfg *cfg, const struct cfg_site *s)
{
	return s->tls.mode == CFG_TLS_AUTO && edge_for(cfg)->issues_certificates;
}

/* The names the site's certificate must hold: domains and preview host, sorted. */
static void cert_names_want(const struct cfg_site *s, struct bg_strv *out)
{
	for (size_t i = 0; i < s->domains.n; i++) {
		bg_strv_push(out, s->domains.v[i]);
	}
	if (s->preview && !bg_strv_contains(out, s->preview)) {
		bg_strv_push(out, s->preview);
	}
	bg_strv_sort(out);
}

static char *names_join(const struct bg_strv *names)
{
	struct bg_buf b = BG_BUF_INIT;
	for (size_t i = 0; i < names->n; i++) {
		bg_buf_addf(&b, "%s%s", i ? ", " : "", names->v[i]);
	}
	return bg_buf_detach(&b, NULL);
}

/*
 * Read the certificate file certbot keeps current: live/NAME/FILE is a
 * symbolic link into ../../archive/NAME/. The link is followed only when
 * it names a file directly in that archive directory, which is then
 * opened beneath it without following any link (bg_file_read_safe); a
 * plain file in live/ is read as it is, also without following links.
 */
static int cert_file_read(const char *path, const char *archive, char **pem, size_t *len,
		const char **why)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		*why = NULL;
		return BG_ERRNO(errno);
	}
	const char *slash = strrchr(path, '/');
	if (!S_ISLNK(st.st_mode)) {
		char *dir = bg_xstrndup(path, (size_t)(slash - path));
		int err = bg_file_read_safe(dir, slash + 1, CERT_FILE_MAX, pem, len, NULL, why);
		free(dir);
		return err;
	}
	char target[4096];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n < 0) {
		*why = NULL;
		return BG_ERRNO(errno);
	}
	target[n] = '\0';
	const char *base = strrchr(archive, '/');
	char *rel_form = bg_xasprintf("../../archive/%s/", base ? base + 1 : archive);
	char *abs_form = bg_xasprintf("%s/", archive);
	const char *file = NULL;
	if (bg_str_has_prefix(target, rel_form)) {
		file = target + strlen(rel_form);
	} else if (bg_str_has_prefix(target, abs_form)) {
		file = target + strlen(abs_form);
	}
	free(rel_form);
	free(abs_form);
	if (!file || !*file || strchr(file, '/') || strcmp(file, "..") == 0) {
		*why = "a link that leads outside certbot's archive directory of the site";
		return BG_EREFUSED;
	}
	return bg_file_read_safe(archive, file, CERT_FILE_MAX, pem, len, NULL, why);
}

/* The DNS names of x's subjectAltName into names (lower case). */
static void cert_san_names(X509 *x, struct bg_strv *names)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		if (g->type != GEN_DNS) {
			continue;
		}
		const unsigned char *p = ASN1_STRING_get0_data(g->d.dNSName);
		int l = ASN1_STRING_length(g->d.dNSName);
		char *s = bg_xstrndup((const char *)p, (size_t)l);
		bool ok = strlen(s) == (size_t)l;
		for (char *c = s; *c && ok; c++) {
			*c = (char)tolower((unsigned char)*c);
			ok = strchr("abcdefghijklmnopqrstuvwxyz0123456789-.*", *c) != NULL;
		}
		if (ok) {
			bg_strv_push_take(names, s);
		} else {
			free(s);
		}
	}
	GENERAL_NAMES_free(gens);
}

/* Parse the first certificate of pem into c (names, not_after, days_left, serial). */
static int cert_parse(const char *pem, size_t len, int64_t now, struct obs_cert *c)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	struct tm tm;
	int err = 0;

	if (!x || !ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm)) {
		err = BG_EPARSE;
		goto out;
	}
	c->not_after = (int64_t)timegm(&tm);
	int64_t left = c->not_after - now;
	c->days_left = left >= 0 ? left / 86400 : -((-left + 86399) / 86400);
	cert_san_names(x, &c->names);
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	c->serial = hex ? bg_xstrdup(hex) : NULL;
	OPENSSL_free(hex);
	BN_free(bn);
out:
	X509_free(x);
	BIO_free(bio);
	return err;
}

/* One site's certificate into o (an entry even when there is none yet). */
static void cert_observe_site(const struct cfg *cfg, const struct cfg_site *s, int64_t now,
		struct obs *o)
{
	char *cert = NULL, *key = NULL, *pem = NULL;
	const char *why = NULL;
	size_t len = 0;
	struct obs_cert *c = obs_cert_add(o);

	c->site = bg_xstrdup(s->name);
	edge_tls_paths(cfg, s, &cert, &key);
	c->path = cert;
	char *archive = bg_xasprintf("%s/certbot/archive/bluegreen-%s", cfg->g.acme.dir, s->name);
	int err = cert ? cert_file_read(cert, archive, &pem, &len, &why) : BG_ENOT_FOUND;
	if (err == BG_ERRNO(ENOENT) || err == BG_ENOT_FOUND) {
		goto out;
	}
	c->exists = true;
	c->denied = err == BG_ERRNO(EACCES) || err == BG_ERRNO(EPERM);
	if (!err) {
		err = cert_parse(pem, len, now, c);
		why = err ? "not a PEM certificate" : NULL;
	}
	if (err) {
		c->error = bg_xasprintf("%s: %s", cert, why ? why : bg_strerror(err));
	}
out:
	free(archive);
	free(pem);
	free(key);
}

static int cert_observe(struct rt *rt, const struct cfg *cfg, struct obs *o, struct bg_diag *d)
{
	(void)rt;
	(void)d;
	int64_t now = bg_now_ms() / 1000;
	for (size_t i = 0; i < cfg->n_sites && cfg->g.acme.dir; i++) {
		if (cert_managed(cfg, &cfg->sites[i])) {
			cert_observe_site(cfg, &cfg->sites[i], now, o);
		}
	}
	return 0;
}

/* The ACME directory certbot is sent to. */
static const char *cert_server(const struct cfg *cfg)
{
	return cfg->g.acme.staging ? CERT_LE_STAGING : cfg->g.acme.directory;
}

/*
 * The whole certbot command for a site, acme.certbot first: what the plan
 * puts in its token and what apply runs. renew forces a new certificate
 * (certbot would otherwise keep one that is not yet due by its own rule).
 */
static void cert_argv(const struct cfg *cfg, const struct cfg_site *s, bool renew,
		struct bg_strv *argv)
{
	const struct cfg_acme *a = &cfg->g.acme;
	struct bg_strv names;

	bg_strv_copy(argv, &a->certbot);
	const char *fixed[] = {"certonly", "--non-interactive", "--agree-tos", "-m", a->email,
		"--server", cert_server(cfg), "--webroot"};
	for (size_t i = 0; i < BG_ARRAY_SIZE(fixed); i++) {
		bg_strv_push(argv, fixed[i] ? fixed[i] : "");
	}
	bg_strv_push(argv, "-w");
	bg_strv_push_take(argv, bg_xasprintf("%s/webroot", a->dir));
	bg_strv_push(argv, "--cert-name");
	bg_strv_push_take(argv, bg_xasprintf("bluegreen-%s", s->name));
	bg_strv_init(&names);
	cert_names_want(s, &names);
	for (size_t i = 0; i < names.n; i++) {
		bg_strv_push(argv, "-d");
		bg_strv_push(argv, names.v[i]);
	}
	bg_strv_release(&names);
	const char *dirs[][2] = {{"--config-dir", "certbot"}, {"--work-dir", "work"},
		{"--logs-dir", "logs"}};
	for (size_t i = 0; i < BG_ARRAY_SIZE(dirs); i++) {
		bg_strv_push(argv, dirs[i][0]);
		bg_strv_push_take(argv, bg_xasprintf("%s/%s", a->dir, dirs[i][1]));
	}
	bg_strv_push(argv, renew ? "--force-renewal" : "--keep-until-expiring");
}

/* certbot's environment beyond ours: the CA bundle it trusts the directory with. */
static char *cert_env(const struct cfg *cfg)
{
	const char *ca = cfg->g.acme.ca_bundle;
	return ca ? bg_xasprintf("REQUESTS_CA_BUNDLE=%s", ca) : NULL;
}

/* Why a certificate must be requested (renew: a new one forced), NULL if not. */
static char *cert_why(const struct cfg *cfg, const struct obs_cert *c,
		const struct bg_strv *want, bool *renew)
{
	char *names = names_join(want);
	char *why = NULL;

	*renew = false;
	if (!c || !c->exists) {
		why = bg_xasprintf("certificate requested for %s via ACME http-01", names);
	} else if (c->error) {
		*renew = true;
		why = bg_xasprintf("certificate requested again for %s via ACME http-01: the "
				"current one cannot be read (%s)", names, c->error);
	} else if (!bg_strv_equal(&c->names, want)) {
		char *have = names_join(&c->names);
		*renew = true;
		why = bg_xasprintf("certificate requested for %s via ACME http-01 (the current "
				"one is for %s)", names, *have ? have : "no DNS name");
		free(have);
	} else if (c->days_left < 0) {
		*renew = true;
		why = bg_xasprintf("renew: expired %" PRId64 " days ago", -c->days_left);
	} else if (c->days_left < (int64_t)cfg->g.acme.renew_days) {
		*renew = true;
		why = bg_xasprintf("renew: %" PRId64 " day%s left", c->days_left,
				c->days_left == 1 ? "" : "s");
	}
	free(names);
	return why;
}

/* The certbot command as one fact line (JSON array): part of the token. */
static void cert_fact_argv(struct plan *p, const char *site, const struct bg_strv *argv,
		const char *env)
{
	struct bg_buf b = BG_BUF_INIT;
	bg_buf_addch(&b, '[');
	for (size_t i = 0; i < argv->n; i++) {
		if (i) {
			bg_buf_addch(&b, ',');
		}
		bg_buf_add_json_str(&b, argv->v[i]);
	}
	bg_buf_addch(&b, ']');
	plan_fact_add(p, "certificate %s exec env=%s argv=%s", site, env ? env : "", b.data);
	bg_buf_release(&b);
}

static int cert_diff(struct rec_diff_ctx *ctx)
{
	if (!ctx->site || ctx->ps->blocked || !ctx->ps->live_after ||
			!cert_managed(ctx->cfg, ctx->site->cfg)) {
		return 0; /* no HTTP site to answer the challenge: nothing to ask for yet */
	}
	const struct cfg_site *s = ctx->site->cfg;
	const struct obs_cert *c = obs_cert_find(ctx->obs, s->name);
	struct bg_strv want;
	bool renew;

	bg_strv_init(&want);
	cert_names_want(s, &want);
	char *have = c ? names_join(&c->names) : bg_xstrdup("");
	plan_fact_add(ctx->plan, "certificate %s exists=%d names=%s error=%s", s->name,
			c && c->exists, have, c && c->error ? c->error : "");
	free(have);
	if (c && c->denied) {
		/* Nothing is known: a renewal proposed here would be a guess. */
		plan_note_add(ctx->plan, ctx->ps, "cannot read the certificate (%s): plan as "
				"the user that applies to see whether it must be renewed", c->error);
		bg_strv_release(&want);
		return 0;
	}
	char *why = cert_why(ctx->cfg, c, &want, &renew);
	plan_fact_add(ctx->plan, "certificate %s due=%d renew=%d", s->name, why != NULL, renew);
	if (why) {
		struct bg_strv argv;
		bg_strv_init(&argv);
		cert_argv(ctx->cfg, s, renew, &argv);
		char *env = cert_env(ctx->cfg);
		cert_fact_argv(ctx->plan, s->name, &argv, env);
		free(env);
		bg_strv_release(&argv);
		char *name = bg_xasprintf("bluegreen-%s", s->name);
		struct plan_action *a = plan_action_add(ctx->plan, PLAN_OP_ISSUE, PLAN_KIND_CERT,
				s->name, name, "%s", why);
		/* After every edge step: the HTTP file answers the challenge. */
		a->phase = PLAN_PHASE_RETIRE;
		a->colour = bg_xstrdup(ctx->ps->live_after);
		/* The preview colour as the edge reconciler writes it. */
		const char *cand = ctx->ps->candidate_after;
		a->preview = s->preview ? bg_xstrdup(cand ? cand : ctx->ps->live_after) : NULL;
		a->version = ctx->ps->version_after;
		free(name);
	}
	free(why);
	bg_strv_release(&want);
	return 0;
}

/* ACME_DIR, its webroot (nginx reads it: 0755) and certbot's config (0700). */
static int cert_dirs(const struct cfg *cfg, struct bg_diag *d)
{
	const char *dir = cfg->g.acme.dir;
	static const struct {
		const char *sub;
		unsigned mode;
	} subs[] = {{"", 0755}, {"/webroot", 0755}, {"/certbot", 0700}};
	for (size_t i = 0; i < BG_ARRAY_SIZE(subs); i++) {
		char *p = bg_xasprintf("%s%s", dir, subs[i].sub);
		int err = bg_mkdir_p(p, subs[i].mode);
		if (err) {
			bg_diag_error(d, NULL, "cannot create %s: %s", p, bg_strerror(err));
		}
		free(p);
		if (err) {
			return err;
		}
	}
	return 0;
}

/* The end of certbot's output, on one line per line, without blank lines. */
static char *cert_output_tail(const char *out)
{
	size_t n = strlen(out);
	const char *from = n > CERT_OUTPUT_KEEP ? out + n - CERT_OUTPUT_KEEP : out;
	struct bg_buf b = BG_BUF_INIT;
	for (const char *p = from; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '\n') {
			if (b.len && b.data[b.len - 1] != ' ') {
				bg_buf_adds(&b, " | ");
			}
		} else if (ch >= 0x20 && ch != 0x7f) {
			bg_buf_addch(&b, (char)ch);
		}
	}
	return bg_buf_detach(&b, NULL);
}

/*
 * What the ACME server said of each name it refused, from certbot's
 * report ("  Domain: D", "  Type: T", "  Detail: X"): "D (T: X)", joined
 * with "; " (a new string), or NULL when certbot reported none.
 */
static char *cert_refusals(const char *out)
{
	struct bg_buf b = BG_BUF_INIT;
	const char *p = out;
	char *type = NULL;
	while (*p) {
		size_t l = strcspn(p, "\n");
		const char *t = p;
		while (t < p + l && (*t == ' ' || *t == '\t')) {
			t++;
		}
		size_t tl = l - (size_t)(t - p);
		if (tl > 8 && strncmp(t, "Domain: ", 8) == 0) {
			bg_buf_addf(&b, "%s%.*s", b.len ? "; " : "", (int)(tl - 8), t + 8);
		} else if (tl > 8 && strncmp(t, "Type:", 5) == 0 && b.len) {
			free(type);
			type = bg_xstrndup(t + 5 + strspn(t + 5, " "), tl - 5 - strspn(t + 5, " "));
		} else if (tl > 8 && strncmp(t, "Detail: ", 8) == 0 && b.len) {
			bg_buf_addf(&b, " (%s%s%.*s)", type ? type : "", type ? ": " : "",
					(int)(tl - 8), t + 8);
			free(type);
			type = NULL;
		}
		p += l + (p[l] == '\n');
	}
	free(type);
	if (!b.len) {
		bg_buf_release(&b);
		return NULL;
	}
	return bg_buf_detach(&b, NULL);
}

/* Run certbot for the site; 0, or an error with certbot's words in *why. */
static int cert_certbot(const struct cfg *cfg, const struct cfg_site *s, bool renew,
		char **why)
{
	struct bg_strv argv;
	char *env = cert_env(cfg), *out = NULL;
	char *set[] = {env, NULL};
	int status = 0;

	bg_strv_init(&argv);
	cert_argv(cfg, s, renew, &argv);
	int err = bg_spawn_capture_env(argv.v, set, NULL, CERT_CERTBOT_TIMEOUT_MS, &status, &out);
	if (!err && status != 0) {
		err = BG_ESPAWN;
	}
	if (err) {
		char *refused = cert_refusals(out ? out : "");
		char *tail = cert_output_tail(out ? out : "");
		if (refused) {
			*why = bg_xasprintf("the ACME server refused %s (certbot exited %d; its "
					"log: %s/logs/letsencrypt.log)", refused, status,
					cfg->g.acme.dir);
		} else if (err == BG_ESPAWN) {
			*why = bg_xasprintf("certbot exited %d: %s", status, tail);
		} else {
			*why = bg_xasprintf("certbot: %s%s%s", bg_strerror(err), *tail ? ": " : "",
					tail);
		}
		free(refused);
		free(tail);
	}
	free(out);
	free(env);
	bg_strv_release(&argv);
	return err;
}

/*
 * The new files are on disk; nginx serves them once its configuration is
 * loaded again. The site's edge file is written here through the edge
 * reconciler (the same render from a fresh inspection, test and reload;
 * every edge step of the plan ran before): after a first issuance it
 * gains its HTTPS server block, after a renewal it is unchanged and the
 * reload alone makes nginx take the new certificate.
 */
static int cert_edge_refresh(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	if (!a->colour) {
		return 0;
	}
	struct plan_action w = {
		.op = PLAN_OP_WRITE, .kind = PLAN_KIND_EDGE, .site = a->site, .name = a->name,
		.colour = a->colour, .preview = a->preview, .version = a->version,
		.phase = PLAN_PHASE_RETIRE, .reason = "serve the new certificate",
	};
	return rec_edge_impl.apply(ctx, &w, d);
}

static int cert_apply(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	const struct des_site *s = des_site_find(ctx->des, a->site);
	char *why = NULL;

	if (!s) {
		bg_diag_error(d, NULL, "site '%s' is no longer configured", a->site);
		return BG_ECONFIG;
	}
	int err = cert_dirs(ctx->cfg, d);
	if (err) {
		return err;
	}
	/* What the diff decided, from the same observation and configuration. */
	struct bg_strv want;
	bool renew = false;
	bg_strv_init(&want);
	cert_names_want(s->cfg, &want);
	free(cert_why(ctx->cfg, obs_cert_find(ctx->obs, s->name), &want, &renew));
	bg_strv_release(&want);
	rec_progress(ctx, true, "%s: certbot: %s", s->name, a->reason);
	if (cert_certbot(ctx->cfg, s->cfg, renew, &why) != 0) {
		/*
		 * Not a failed step: a refused order must neither stop the other
		 * sites' steps nor touch this site's HTTP file. Said and journaled
		 * as a failure, and once every other step ran the apply fails
		 * (ctx->not_done: exit 5); the next plan proposes it again.
		 */
		rec_progress(ctx, false, "%s: certificate FAILED (the site keeps serving as before): %s",
				s->name, why);
		rec_journal(ctx, "cert", s->name, "failed", "%s", why);
		bg_strv_push_take(&ctx->not_done, bg_xasprintf("certificate for %s", s->name));
		free(why);
		return 0;
	}
	rec_journal(ctx, "cert", s->name, "ok", "%s", a->reason);
	rec_progress(ctx, false, "%s: certificate %s", s->name,
			renew ? "renewed" : "issued");
	return cert_edge_refresh(ctx, a, d);
}

static bool cert_handles(enum plan_kind kind)
{
	return kind == PLAN_KIND_CERT;
}

const struct rec_impl rec_cert_impl = {
	.kind = "certificate",
	.observe = cert_observe,
	.diff = cert_diff,
	.apply = cert_apply,
	.handles = cert_handles,
};
