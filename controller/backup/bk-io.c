/*
 * bk-io: the bytes of a backup on disk. A part is written as it streams
 * in from the engine, its sha256 computed over the bytes as stored (after
 * gzip when compressed), so that verify can recompute it from the file
 * alone; fsynced before close. Reading back goes through zlib's gz
 * reader, which also passes a plain file through unchanged. Files are
 * created O_EXCL and opened without following links; the directories are
 * flat and only ours.
 */
#include "bg.h"
#include "bk-int.h"
#include "bg-util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK 65536

struct bk__writer {
	int fd;
	bool gz;
	z_stream z;
	struct bg_sha256 *sha;
	uint64_t bytes;
	unsigned char out[CHUNK];
	char *path;
};

static int put(struct bk__writer *w, const void *buf, size_t len)
{
	const char *p = buf;

	bg_sha256_update(w->sha, buf, len);
	w->bytes += len;
	while (len) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return BG_ERRNO(errno);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int bk__writer_open(struct bk__writer **out, const char *dir, const char *file, bool gz,
		struct bg_diag *d)
{
	struct bk__writer *w = bg_xcalloc(1, sizeof(*w));

	w->path = bg_xasprintf("%s/%s", dir, file);
	w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (w->fd < 0) {
		int e = errno;
		bg_diag_error(d, NULL, "cannot create %s: %s", w->path, strerror(e));
		free(w->path);
		free(w);
		return BG_ERRNO(e);
	}
	w->gz = gz;
	/* 15 + 16: a gzip stream, which `gunzip` and `tar -z` read. Level 1:
	 * most of the gain of gzip for a fraction of its time. */
	if (gz && deflateInit2(&w->z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		close(w->fd);
		free(w->path);
		free(w);
		return BG_ERRNO(ENOMEM);
	}
	w->sha = bg_sha256_new();
	*out = w;
	return 0;
}

static int deflate_some(struct bk__writer *w, int flush)
{
	int zrc;
	do {
		w->z.next_out = w->out;
		w->z.avail_out = sizeof(w->out);
		zrc = deflate(&w->z, flush);
		if (zrc == Z_STREAM_ERROR) {
			return BG_ERRNO(EIO);
		}
		int err = put(w, w->out, sizeof(w->out) - w->z.avail_out);
		if (err) {
			return err;
		}
	} while (w->z.avail_out == 0 || (flush == Z_FINISH && zrc != Z_STREAM_END));
	return 0;
}

int bk__writer_sink(void *arg, const void *buf, size_t len)
{
	struct bk__writer *w = arg;

	if (!w->gz) {
		return put(w, buf, len);
	}
	w->z.next_in = (unsigned char *)buf;
	w->z.avail_in = (uInt)len;
	return deflate_some(w, Z_NO_FLUSH);
}

int bk__writer_close(struct bk__writer *w, uint64_t *bytes, char sha256[65],
		struct bg_diag *d)
{
	int err = 0;

	if (w->gz) {
		w->z.next_in = NULL;
		w->z.avail_in = 0;
		err = deflate_some(w, Z_FINISH);
		deflateEnd(&w->z);
		w->gz = false;
	}
	if (!err && fsync(w->fd) != 0) {
		err = BG_ERRNO(errno);
	}
	if (close(w->fd) != 0 && !err) {
		err = BG_ERRNO(errno);
	}
	w->fd = -1;
	bg_sha256_final_hex(w->sha, sha256);
	w->sha = NULL;
	*bytes = w->bytes;
	if (err) {
		bg_diag_error(d, NULL, "writing %s: %s", w->path, bg_strerror(err));
	}
	free(w->path);
	free(w);
	return err;
}

void bk__writer_abort(struct bk__writer *w)
{
	char hex[65];

	if (!w) {
		return;
	}
	if (w->gz) {
		deflateEnd(&w->z);
	}
	if (w->fd >= 0) {
		close(w->fd);
	}
	if (w->sha) {
		bg_sha256_final_hex(w->sha, hex);
	}
	free(w->path);
	free(w);
}

struct bk__reader {
	gzFile gz;
};

int bk__reader_open(struct bk__reader **out, const char *path, struct bg_diag *d)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		int e = fd < 0 ? errno : EINVAL;
		bg_diag_error(d, NULL, "cannot read %s: %s", path,
				fd < 0 ? strerror(e) : "not a regular file");
		if (fd >= 0) {
			close(fd);
		}
		return BG_ERRNO(e);
	}
	struct bk__reader *r = bg_xcalloc(1, sizeof(*r));
	r->gz = gzdopen(fd, "rb");
	if (!r->gz) {
		close(fd);
		free(r);
		return BG_ERRNO(ENOMEM);
	}
	gzbuffer(r->gz, CHUNK);
	*out = r;
	return 0;
}

ssize_t bk__reader_source(void *arg, void *buf, size_t cap)
{
	struct bk__reader *r = arg;
	int n = gzread(r->gz, buf, (unsigned)(cap > CHUNK ? CHUNK : cap));
	return n < 0 ? BG_ECORRUPT : n;
}

void bk__reader_close(struct bk__reader *r)
{
	if (r) {
		gzclose(r->gz);
		free(r);
	}
}

/*
 * pg_dumpall --clean writes "DROP ROLE IF EXISTS R;" and "CREATE ROLE R;"
 * for every role, the one it ran as too; run by that role, both fail
 * ("current user cannot be dropped", "already exists"), which stops a
 * restore under ON_ERROR_STOP. Only whole lines of the globals section
 * (roles and tablespaces come before the first \connect) are matched, so
 * table data, which comes after, is never looked at.
 */
struct bk__pg_filter {
	struct bk__reader *r;
	char *drop, *drop_if, *create; /* the lines left out, with their '\n' */
	bool globals;                  /* still before the first \connect */
	bool line_start;               /* line[] starts a line */
	char line[4096];
	size_t len, off;               /* line[off..len) not yet passed on */
};

struct bk__pg_filter *bk__pg_filter_new(struct bk__reader *r, const char *role)
{
	struct bk__pg_filter *f = bg_xcalloc(1, sizeof(*f));
	f->r = r;
	f->drop = bg_xasprintf("DROP ROLE %s;\n", role);
	f->drop_if = bg_xasprintf("DROP ROLE IF EXISTS %s;\n", role);
	f->create = bg_xasprintf("CREATE ROLE %s;\n", role);
	f->globals = true;
	f->line_start = true;
	return f;
}

/* The next line (or piece of a long one) of the globals section into f->line. */
static int pg_filter_next(struct bk__pg_filter *f)
{
	for (;;) {
		if (!gzgets(f->r->gz, f->line, (int)sizeof(f->line))) {
			int zerr = Z_OK;
			gzerror(f->r->gz, &zerr);
			return zerr == Z_OK || zerr == Z_STREAM_END ? 0 : BG_ECORRUPT;
		}
		size_t n = strlen(f->line);
		bool whole = f->line_start && n && f->line[n - 1] == '\n';
		bool starts = f->line_start;
		f->line_start = n && f->line[n - 1] == '\n';
		if (whole && (strcmp(f->line, f->drop) == 0 ||
					strcmp(f->line, f->drop_if) == 0 ||
					strcmp(f->line, f->create) == 0)) {
			continue;
		}
		if (starts && strncmp(f->line, "\\connect", 8) == 0) {
			f->globals = false;
		}
		f->len = n;
		f->off = 0;
		return 1;
	}
}

ssize_t bk__pg_filter_source(void *arg, void *buf, size_t cap)
{
	struct bk__pg_filter *f = arg;
	if (f->off == f->len) {
		if (!f->globals) {
			return bk__reader_source(f->r, buf, cap);
		}
		int got = pg_filter_next(f);
		if (got <= 0) {
			return got;
		}
	}
	size_t n = f->len - f->off < cap ? f->len - f->off : cap;
	memcpy(buf, f->line + f->off, n);
	f->off += n;
	return (ssize_t)n;
}

void bk__pg_filter_free(struct bk__pg_filter *f)
{
	if (f) {
		free(f->drop);
		free(f->drop_if);
		free(f->create);
		free(f);
	}
}

int bk__file_hash(const char *path, uint64_t *bytes, char sha256[65])
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct bg_sha256 *h;
	char *buf;
	ssize_t n;

	*bytes = 0;
	if (fd < 0) {
		return BG_ERRNO(errno);
	}
	h = bg_sha256_new();
	buf = bg_xmalloc(CHUNK);
	while ((n = read(fd, buf, CHUNK)) > 0 || (n < 0 && errno == EINTR)) {
		if (n > 0) {
			bg_sha256_update(h, buf, (size_t)n);
			*bytes += (uint64_t)n;
		}
	}
	int err = n < 0 ? BG_ERRNO(errno) : 0;
	bg_sha256_final_hex(h, sha256);
	free(buf);
	close(fd);
	return err;
}

char *bk__site_dir(const struct cfg *cfg, const char *site)
{
	return bg_xasprintf("%s/backups/%s", cfg->g.state_dir, site);
}

char *bk__dir(const struct cfg *cfg, const char *site, const char *id)
{
	return bg_xasprintf("%s/backups/%s/%s", cfg->g.state_dir, site, id);
}

int bk__dir_remove(const char *dir)
{
	DIR *dp = opendir(dir);
	struct dirent *e;
	int dfd;

	if (!dp) {
		return errno == ENOENT ? 0 : BG_ERRNO(errno);
	}
	dfd = dirfd(dp);
	while ((e = readdir(dp))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			unlinkat(dfd, e->d_name, 0);
		}
	}
	closedir(dp);
	return rmdir(dir) == 0 ? 0 : BG_ERRNO(errno);
}

char *bk__volume_name(const char *site, const char *vol)
{
	return bg_xasprintf("%s-%s", site, vol);
}

void bk__helper_labels(struct obs_labels *l, const char *site, const char *id)
{
	obs_labels_set(l, BG_LABEL_MANAGED, "true");
	obs_labels_set(l, BG_LABEL_ROLE, "backup");
	obs_labels_set(l, "io.bluegreen.backup", id);
	obs_labels_set(l, "io.bluegreen.backup-site", site);
}
