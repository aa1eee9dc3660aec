/*
 * dk-derive: the Docker runtime's image_derive (rt.h; issue 16, the
 * wordpress plugin sets). A derived image is the local base image with a
 * tree of files added under one directory, tagged with the content hash
 * the configuration chose and labelled io.bluegreen.*. The engine's own
 * image builder makes it (POST /build, the classic builder, pull=0): the
 * build context is a tar archive holding a two-line Dockerfile (FROM the
 * base, COPY the tree to the directory) and the caller's tree under
 * layer/, re-written entry by entry with libarchive (names checked:
 * relative, no "..", regular files and directories only). COPY rather
 * than a container commit, because the official wordpress image declares
 * /var/www/html a VOLUME: files put into a created container there land in
 * its anonymous volume and a commit would drop them. Nothing runs in a
 * container and no shell is involved; intermediate containers are the
 * engine's own (rm=1, forcerm=1).
 */
#include "bg.h"
#include "dk.h"
#include "dk-int.h"
#include "dk-json.h"
#include "rt.h"
#include "dk-exec-rt.h"
#include "dk-derive-rt.h"

#include <archive.h>
#include <archive_entry.h>
#include <json-c/json.h>

/* The largest build context bluegreen sends (plugin sets are a few MB). */
#define DERIVE_CONTEXT_MAX (512u * 1024 * 1024)

static bool ref_chars_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 512 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
			"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:@") == n;
}

static bool dir_ok(const char *s)
{
	size_t n = strlen(s);
	return s[0] == '/' && n <= 1024 && !strstr(s, "..") &&
		strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") == n;
}

/* A name from the caller's tar that may go into the context. */
static bool name_ok(const char *s)
{
	return s && s[0] && s[0] != '/' && strcmp(s, "..") != 0 && !bg_str_has_prefix(s, "../") &&
		!strstr(s, "/../") && !strpbrk(s, "\\\n\r");
}

static la_ssize_t ctx_write(struct archive *a, void *arg, const void *buf, size_t n)
{
	struct bg_buf *b = arg;
	if (b->len + n > DERIVE_CONTEXT_MAX || bg_buf_add(b, buf, n) != 0) {
		archive_set_error(a, EFBIG, "the build context is over %u bytes",
				DERIVE_CONTEXT_MAX);
		return -1;
	}
	return (la_ssize_t)n;
}

static int entry_add(struct archive *w, const char *name, mode_t type, mode_t perm,
		const void *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, perm);
	archive_entry_set_size(e, type == AE_IFREG ? (la_int64_t)len : 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, 0, 0); /* the same tree makes the same context */
	int rc = archive_write_header(w, e);
	if (rc == ARCHIVE_OK && type == AE_IFREG && len &&
			archive_write_data(w, data, len) != (la_ssize_t)len) {
		rc = ARCHIVE_FATAL;
	}
	archive_entry_free(e);
	return rc == ARCHIVE_OK ? 0 : BG_ERRNO(EIO);
}

/* The caller's tree, entry by entry, under layer/. */
static int tree_copy(struct archive *w, const struct rt_derive *x, struct bg_diag *d)
{
	struct archive *r = archive_read_new();
	struct archive_entry *e;
	struct bg_buf data = BG_BUF_INIT;
	int err = 0, rc;

	archive_read_support_format_tar(r);
	if (archive_read_open_memory(r, x->tar, x->tar_len) != ARCHIVE_OK) {
		dk__error(d, "the image's files are not a tar archive: %s", archive_error_string(r));
		err = BG_EPARSE;
		goto out;
	}
	while (!err && (rc = archive_read_next_header(r, &e)) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		mode_t type = archive_entry_filetype(e);
		if (!name_ok(name) || (type != AE_IFREG && type != AE_IFDIR)) {
			dk__error(d, "refusing '%s' in an image's files: only relative names of "
					"regular files and directories", name ? name : "");
			err = BG_EREFUSED;
			break;
		}
		data.len = 0;
		char buf[65536];
		la_ssize_t n;
		while (type == AE_IFREG && (n = archive_read_data(r, buf, sizeof(buf))) > 0) {
			if (data.len + (size_t)n > DERIVE_CONTEXT_MAX || bg_buf_add(&data, buf, (size_t)n)) {
				n = -1;
				break;
			}
		}
		char *to = bg_xasprintf("layer/%s", name);
		err = type == AE_IFREG && n < 0 ? BG_ERRNO(EIO)
			: entry_add(w, to, type, archive_entry_perm(e) & 0755, data.data, data.len);
		free(to);
	}
	if (!err && rc != ARCHIVE_EOF) {
		dk__error(d, "reading the image's files: %s", archive_error_string(r));
		err = BG_EPARSE;
	}
out:
	bg_buf_release(&data);
	archive_read_free(r);
	return err;
}

/* The build context: Dockerfile + layer/. */
static int context_make(const struct rt_derive *x, struct bg_buf *out, struct bg_diag *d)
{
	struct archive *w = archive_write_new();
	char *df = bg_xasprintf("FROM %s\nCOPY layer/ %s/\n", x->base, x->dir);
	int err = 0;

	archive_write_set_format_pax_restricted(w);
	archive_write_set_bytes_in_last_block(w, 1);
	if (archive_write_open(w, out, NULL, ctx_write, NULL) != ARCHIVE_OK) {
		err = BG_ERRNO(EIO);
	}
	if (!err) {
		err = entry_add(w, "Dockerfile", AE_IFREG, 0644, df, strlen(df));
	}
	if (!err) {
		err = entry_add(w, "layer", AE_IFDIR, 0755, NULL, 0);
	}
	if (!err) {
		err = tree_copy(w, x, d);
	}
	if (!err && archive_write_close(w) != ARCHIVE_OK) {
		err = BG_ERRNO(EIO);
	}
	if (err == BG_ERRNO(EIO)) {
		dk__error(d, "cannot make the build context of %s: %s", x->tag,
				archive_error_string(w) ? archive_error_string(w) : "write error");
	}
	archive_write_free(w);
	free(df);
	return err;
}

/* /build?t=TAG&labels=JSON&pull=0&rm=1&forcerm=1&q=1 (a new string). */
static char *build_path(const struct rt_derive *x)
{
	struct json_object *l = json_object_new_object();
	for (size_t i = 0; x->labels && i < x->labels->n; i++) {
		json_object_object_add(l, x->labels->v[i].key,
				json_object_new_string(x->labels->v[i].value));
	}
	char *et = dk__url_escape(x->tag);
	char *el = dk__url_escape(json_object_to_json_string_ext(l, JSON_C_TO_STRING_PLAIN));
	char *path = bg_xasprintf("/build?t=%s&labels=%s&pull=0&rm=1&forcerm=1&q=1", et, el);
	free(el);
	free(et);
	json_object_put(l);
	return path;
}

static int build_post(struct dk_client *dk, const struct rt_derive *x, const struct bg_buf *ctx,
		struct bg_diag *d)
{
	struct dk__pull_state ps = {0};
	struct dk_stream s;
	struct dk__req r;
	char *path = build_path(x);
	int err;

	dk_stream_init(&s, DK_STREAM_VALUE_MAX, dk__pull_value, &ps);
	dk__req_init(&r);
	err = dk__req_prepare(&r, dk->easy, dk->socket, dk->api_version, "POST", path, NULL,
			DK_PULL_TIMEOUT_MS);
	r.headers = curl_slist_append(r.headers, "Content-Type: application/x-tar");
	if (!err && (!r.headers || curl_easy_setopt(dk->easy, CURLOPT_HTTPHEADER, r.headers) ||
			curl_easy_setopt(dk->easy, CURLOPT_POSTFIELDS, ctx->data) ||
			curl_easy_setopt(dk->easy, CURLOPT_POSTFIELDSIZE_LARGE,
				(curl_off_t)ctx->len))) {
		err = BG_EDOCKER;
	}
	if (err) {
		dk__error(d, "libcurl cannot send a build context (%s)", r.errbuf);
		goto out;
	}
	err = dk__req_stream(&r, dk->easy, &s, d);
	if (!err && ps.error) {
		/* The builder's failure comes inside a 200 stream. */
		dk__error(d, "building %s from %s: %s", x->tag, x->base, ps.error);
		err = BG_EDOCKER;
	}
out:
	dk__req_release(&r);
	dk_stream_release(&s);
	free(ps.error);
	free(path);
	return err;
}

int dk__rt_image_derive(struct rt *rt, const struct rt_derive *x, struct bg_diag *d)
{
	struct dk_client *dk = rt__docker_client(rt);
	struct bg_buf ctx = BG_BUF_INIT;

	if (!ref_chars_ok(x->base) || !ref_chars_ok(x->tag) || !dir_ok(x->dir)) {
		dk__error(d, "refusing to derive image '%s' from '%s' at '%s': unexpected "
				"characters", x->tag, x->base, x->dir);
		return BG_EREFUSED;
	}
	for (size_t i = 0; x->labels && i < x->labels->n; i++) {
		if (!bg_str_has_prefix(x->labels->v[i].key, "io.bluegreen.")) {
			dk__error(d, "refusing image label '%s': only io.bluegreen.* labels",
					x->labels->v[i].key);
			return BG_EREFUSED;
		}
	}
	int err = dk__ensure_api(dk, d);
	if (!err) {
		err = context_make(x, &ctx, d);
	}
	if (!err) {
		err = build_post(dk, x, &ctx, d);
	}
	bg_buf_release(&ctx);
	return err;
}
