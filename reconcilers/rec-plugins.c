/*
 * rec-plugins: the wordpress plugin sets (issue 16, docs/modules.md). A
 * site that installs plugins runs a derived image per set,
 * bluegreen-plugins/SITE:HASH16, whose name the configuration computed
 * from the base image and every plugin's slug, version and sha256
 * (cfg-plugins.c). A colour is built with the set in its image, never
 * changed in place, so the live colour keeps its plugins while a
 * candidate gets the new set, and a rollback to the previous colour runs
 * the previous set exactly.
 *
 * Planning: when the derived image is not here, the colour's diff asks the
 * image reconciler for it (rec_image_need), which asks rec_plugins_need:
 * a pull of the base if needed, then one build step whose notes name each
 * plugin, its version, its sha256 and its URL (the token covers them).
 * Apply: every zip is downloaded (libcurl: http, https, file) and its
 * sha256 checked before anything else; a mismatch stops the apply there,
 * before any container is created, naming the slug, the expected and the
 * found hash. Each zip is unpacked with libarchive (only SLUG/... entries,
 * regular files and directories), and the tree goes to the runtime's
 * rt_image_derive, which adds it under the plugins directory.
 */
#include "bg.h"
#include "rec-plugins.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#define ZIP_MAX (64u * 1024 * 1024)   /* one plugin's zip */
#define TREE_MAX (256u * 1024 * 1024) /* all plugins unpacked */
#define DOWNLOAD_TIMEOUT_S 300L

bool rec_plugins_derived(const struct cfg_site *site, const char *ref)
{
	return site && site->wordpress.base_image && site->image && ref &&
		strcmp(site->image, ref) == 0;
}

struct plan_action *rec_plugins_need(struct rec_diff_ctx *ctx, const struct cfg_site *site,
		const char *why)
{
	const struct cfg_wordpress *w = &site->wordpress;
	struct plan *p = ctx->plan;
	size_t n0 = p->n_actions;
	rec_image_need(ctx, w->base_image, "base of the plugin set's image: not present locally");
	plan_action_add(p, PLAN_OP_BUILD, PLAN_KIND_IMAGE, site->name, site->image,
			"%s: %s with %zu plugin%s in %s", why, w->base_image, w->n_plugins,
			w->n_plugins == 1 ? "" : "s", CFG_WP_PLUGINS_DIR);
	/* First of the site's steps: the zips are downloaded and checked before
	 * anything of the site is removed or created (the slice is the plan's
	 * last part while its site is diffed). */
	size_t at = ctx->ps->first_action, k = p->n_actions - n0;
	struct plan_action moved[2];
	memcpy(moved, &p->actions[n0], k * sizeof(moved[0]));
	memmove(&p->actions[at + k], &p->actions[at], (n0 - at) * sizeof(p->actions[0]));
	memcpy(&p->actions[at], moved, k * sizeof(moved[0]));
	struct plan_action *a = &p->actions[at + k - 1];
	for (size_t i = 0; i < w->n_plugins; i++) {
		const struct cfg_plugin *pl = &w->plugin_list[i];
		plan_note_add(p, ctx->ps, "plugin %s %s (%s) sha256 %s from %s", pl->slug,
				pl->version, pl->from, pl->sha256, pl->url);
	}
	return a;
}

/* ---- download and check ---- */

static size_t dl_write(char *p, size_t size, size_t n, void *arg)
{
	struct bg_buf *b = arg;
	size_t len = size * n;
	if (b->len + len > ZIP_MAX || bg_buf_add(b, p, len) != 0) {
		return 0;
	}
	return len;
}

static int download(const struct cfg_plugin *p, struct bg_buf *out, struct bg_diag *d)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = curl_easy_init();
	if (!c) {
		bg_diag_error(d, NULL, "plugin %s: libcurl cannot start", p->slug);
		return BG_ERRNO(ENOMEM);
	}
	curl_easy_setopt(c, CURLOPT_URL, p->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, DOWNLOAD_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dl_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	CURLcode rc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		bg_diag_error(d, NULL, "plugin %s %s: cannot download %s: %s", p->slug, p->version,
				p->url, rc == CURLE_WRITE_ERROR ? "the zip is over 64 MiB"
				: errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return BG_ERRNO(EIO);
	}
	return 0;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < n && i < 32; i++) {
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	}
	out[64] = '\0';
}

/* Every zip of the set, each checked against its pin (zips[i] for plugin i). */
static int fetch_all(const struct cfg_site *s, struct bg_buf *zips, struct bg_diag *d)
{
	for (size_t i = 0; i < s->wordpress.n_plugins; i++) {
		const struct cfg_plugin *p = &s->wordpress.plugin_list[i];
		char found[65];
		int err = download(p, &zips[i], d);
		if (err) {
			return err;
		}
		sha256_hex(zips[i].data, zips[i].len, found);
		if (strcmp(found, p->sha256) != 0) {
			bg_diag_error(d, NULL, "plugin %s %s: sha256 mismatch: expected %s (%s), found "
					"%s in %s: refusing to install it; nothing was created", p->slug,
					p->version, p->sha256, strcmp(p->from, "allow_plugins") == 0
					? "wordpress.allow_plugins" : "the manifest", found, p->url);
			return BG_EREFUSED;
		}
	}
	return 0;
}

/* ---- unpack ---- */

static la_ssize_t tree_write(struct archive *a, void *arg, const void *buf, size_t n)
{
	struct bg_buf *b = arg;
	if (b->len + n > TREE_MAX || bg_buf_add(b, buf, n) != 0) {
		archive_set_error(a, EFBIG, "the plugins are over %u bytes unpacked", TREE_MAX);
		return -1;
	}
	return (la_ssize_t)n;
}

/* May a zip entry of plugin slug go into the tree? */
static bool entry_ok(const char *name, const char *slug)
{
	size_t sl = strlen(slug);
	return name && strncmp(name, slug, sl) == 0 && (name[sl] == '/' || name[sl] == '\0') &&
		!strstr(name, "/../") && !strstr(name, "\\") &&
		!(strlen(name) >= 3 && strcmp(name + strlen(name) - 3, "/..") == 0);
}

static int entry_copy(struct archive *r, struct archive *w, struct archive_entry *e,
		struct bg_buf *data)
{
	mode_t type = archive_entry_filetype(e);
	char buf[65536];
	la_ssize_t n = 0;
	data->len = 0;
	while (type == AE_IFREG && (n = archive_read_data(r, buf, sizeof(buf))) > 0) {
		if (data->len + (size_t)n > TREE_MAX || bg_buf_add(data, buf, (size_t)n) != 0) {
			return BG_ETOO_BIG;
		}
	}
	if (n < 0) {
		return BG_EPARSE;
	}
	struct archive_entry *o = archive_entry_new();
	archive_entry_set_pathname(o, archive_entry_pathname(e));
	archive_entry_set_filetype(o, type);
	archive_entry_set_perm(o, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_size(o, type == AE_IFREG ? (la_int64_t)data->len : 0);
	archive_entry_set_mtime(o, 0, 0);
	int rc = archive_write_header(w, o);
	if (rc == ARCHIVE_OK && data->len &&
			archive_write_data(w, data->data, data->len) != (la_ssize_t)data->len) {
		rc = ARCHIVE_FATAL;
	}
	archive_entry_free(o);
	return rc == ARCHIVE_OK ? 0 : BG_ERRNO(EIO);
}

/* One plugin's zip into the tree writer w. */
static int unzip_one(const struct cfg_plugin *p, const struct bg_buf *zip, struct archive *w,
		struct bg_diag *d)
{
	struct archive *r = archive_read_new();
	struct archive_entry *e;
	struct bg_buf data = BG_BUF_INIT;
	int err = 0, rc;
	size_t files = 0;

	archive_read_support_format_zip(r);
	rc = archive_read_open_memory(r, zip->data, zip->len);
	while (rc == ARCHIVE_OK && !err && (rc = archive_read_next_header(r, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		mode_t type = archive_entry_filetype(e);
		if (!entry_ok(name, p->slug) || (type != AE_IFREG && type != AE_IFDIR)) {
			bg_diag_error(d, NULL, "plugin %s %s: the zip holds '%s', which is not a file "
					"or directory under %s/: refusing it", p->slug, p->version,
					name ? name : "", p->slug);
			err = BG_EREFUSED;
			break;
		}
		files += type == AE_IFREG;
		err = entry_copy(r, w, e, &data);
	}
	if (!err && rc != ARCHIVE_EOF) {
		bg_diag_error(d, NULL, "plugin %s %s: cannot read the zip: %s", p->slug, p->version,
				archive_error_string(r) ? archive_error_string(r) : "not a zip");
		err = BG_EPARSE;
	} else if (!err && files == 0) {
		bg_diag_error(d, NULL, "plugin %s %s: the zip has no file under %s/", p->slug,
				p->version, p->slug);
		err = BG_EPARSE;
	} else if (err && err != BG_EREFUSED && err != BG_EPARSE) {
		bg_diag_error(d, NULL, "plugin %s %s: cannot unpack the zip: %s", p->slug,
				p->version, archive_error_string(w) ? archive_error_string(w)
				: bg_strerror(err));
	}
	bg_buf_release(&data);
	archive_read_free(r);
	return err;
}

/* Every zip into one tar of SLUG/... trees. */
static int tree_make(const struct cfg_site *s, const struct bg_buf *zips, struct bg_buf *tar,
		struct bg_diag *d)
{
	struct archive *w = archive_write_new();
	int err = 0;
	archive_write_set_format_pax_restricted(w);
	archive_write_set_bytes_in_last_block(w, 1);
	if (archive_write_open(w, tar, NULL, tree_write, NULL) != ARCHIVE_OK) {
		err = BG_ERRNO(EIO);
	}
	for (size_t i = 0; !err && i < s->wordpress.n_plugins; i++) {
		err = unzip_one(&s->wordpress.plugin_list[i], &zips[i], w, d);
	}
	if (!err && archive_write_close(w) != ARCHIVE_OK) {
		bg_diag_error(d, NULL, "cannot write the plugins' tree: %s",
				archive_error_string(w));
		err = BG_ERRNO(EIO);
	}
	archive_write_free(w);
	return err;
}

/* ---- the step ---- */

static void labels_make(const struct cfg_site *s, struct obs_labels *l)
{
	struct bg_buf list = BG_BUF_INIT;
	for (size_t i = 0; i < s->wordpress.n_plugins; i++) {
		const struct cfg_plugin *p = &s->wordpress.plugin_list[i];
		bg_buf_addf(&list, "%s%s@%s", i ? "," : "", p->slug, p->version);
	}
	obs_labels_set(l, "io.bluegreen.plugins.site", s->name);
	obs_labels_set(l, "io.bluegreen.plugins.base", s->wordpress.base_image);
	obs_labels_set(l, "io.bluegreen.plugins.hash", s->wordpress.plugin_hash);
	obs_labels_set(l, "io.bluegreen.plugins.list", list.data ? list.data : "");
	obs_labels_sort(l);
	bg_buf_release(&list);
}

int rec_plugins_build(struct rec_apply_ctx *ctx, const struct plan_action *a,
		struct bg_diag *d)
{
	const struct cfg_site *s = cfg_site_find(ctx->cfg, a->site);
	if (!rec_plugins_derived(s, a->name)) {
		bg_diag_error(d, NULL, "site '%s' no longer installs the plugin set of %s", a->site,
				a->name);
		return BG_ECONFIG;
	}
	size_t n = s->wordpress.n_plugins;
	struct bg_buf *zips = bg_xcalloc(n ? n : 1, sizeof(*zips));
	struct bg_buf tar = BG_BUF_INIT;
	struct obs_labels labels = {0};
	rec_progress(ctx, false, "%s: downloading %zu plugin%s", a->site, n, n == 1 ? "" : "s");
	int err = fetch_all(s, zips, d);
	if (!err) {
		err = tree_make(s, zips, &tar, d);
	}
	if (!err) {
		labels_make(s, &labels);
		struct rt_derive x = {.base = s->wordpress.base_image, .tag = s->image,
			.dir = CFG_WP_PLUGINS_DIR, .labels = &labels, .tar = tar.data,
			.tar_len = tar.len};
		rec_progress(ctx, false, "%s: building %s from %s", a->site, s->image,
				s->wordpress.base_image);
		err = rt_image_derive(ctx->rt, &x, d);
	}
	for (size_t i = 0; i < n; i++) {
		bg_buf_release(&zips[i]);
	}
	free(zips);
	bg_buf_release(&tar);
	obs_labels_release(&labels);
	return err;
}
