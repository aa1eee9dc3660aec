/*
 * cfgwatch: see cfgwatch.h. Five uv_fs_event handles (configuration
 * directory, sites/, profiles/, edge directory, its flag directory) and one
 * one-shot timer for the debounce; all six are created at once and live until cfgw_close, so
 * re-arming a watch is a stop and a start on the same handle, never a
 * close in the middle of the loop.
 */
#include "bg.h"
#include "bg-log.h"
#include "cfgwatch.h"

#include <sys/stat.h>

enum {
	W_ROOT = 0,
	W_SITES,
	W_PROFILES,
	W_EDGE,
	W_FLAGS, /* EDGE_DIR/CFGW_EDGE_FLAG_DIR: a flag switches nginx (issue 11) */
	W_COUNT,
};

struct watch {
	uv_fs_event_t h;
	struct cfgw *w;
	const char *prefix; /* prepended to names: "", "sites/", "profiles/" */
	char *path;         /* what is watched now (NULL: nothing) */
	bool active;
	dev_t dev;
	ino_t ino;
};

struct cfgw {
	uv_loop_t *loop;
	struct watch watches[W_COUNT];
	uv_timer_t timer;
	unsigned open_handles;
	bool closing;
	cfgw_cb cb;
	void *arg;
	cfgw_closed_cb closed_cb;
	uint64_t debounce_ms, max_wait_ms;
	char *config_dir, *edge_dir;
	struct bg_strv ignore;
	struct cfgw_batch batch;
	bool pending;
	bool clamped; /* the timer was cut short by max_wait: the batch is not quiet */
};

bool cfgw_name_ignored(const char *name)
{
	static const char *const suffixes[] = {"~", ".swp", ".swx", ".swo", ".tmp", ".part"};
	if (!name || !*name || name[0] == '.' || name[0] == '#' || strcmp(name, "4913") == 0) {
		return true;
	}
	for (size_t i = 0; i < BG_ARRAY_SIZE(suffixes); i++) {
		if (bg_str_has_suffix(name, suffixes[i])) {
			return true;
		}
	}
	return false;
}

static void batch_init(struct cfgw_batch *b)
{
	memset(b, 0, sizeof(*b));
	bg_strv_init(&b->config_files);
	bg_strv_init(&b->edge_files);
}

static void batch_release(struct cfgw_batch *b)
{
	bg_strv_release(&b->config_files);
	bg_strv_release(&b->edge_files);
	batch_init(b);
}

static void deliver(struct cfgw *w, bool forced);

static void on_timer(uv_timer_t *t)
{
	struct cfgw *w = t->data;
	deliver(w, w->clamped);
}

static void add_event(struct cfgw *w, unsigned kind, const char *prefix, const char *name)
{
	int64_t now = bg_mono_ms();
	struct cfgw_batch *b = &w->batch;

	if (!w->pending) {
		w->pending = true;
		b->first_ms = now;
	}
	b->last_ms = now;
	b->n_events++;
	b->kinds |= kind;
	if (name && (kind & (CFGW_CONFIG | CFGW_EDGE))) {
		char *full = bg_xasprintf("%s%s", prefix, name);
		struct bg_strv *list = kind == CFGW_EDGE ? &b->edge_files : &b->config_files;
		if (bg_strv_contains(list, full)) {
			free(full);
		} else {
			bg_strv_push_take(list, full);
		}
	}
	/*
	 * Trailing debounce, but never later than max_wait after the first
	 * event: a burst that never pauses is still delivered.
	 */
	uint64_t elapsed = (uint64_t)(now - b->first_ms);
	uint64_t due = w->debounce_ms;
	w->clamped = false;
	if (elapsed + due > w->max_wait_ms) {
		due = w->max_wait_ms > elapsed ? w->max_wait_ms - elapsed : 0;
		w->clamped = true;
	}
	uv_timer_start(&w->timer, on_timer, due, 0);
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
	struct watch *wa = h->data;
	struct cfgw *w = wa->w;

	if (w->closing) {
		return;
	}
	if (status < 0) {
		bg_trace(CFG, "watch %s: %s", wa->path ? wa->path : "?", uv_strerror(status));
		return;
	}
	/* The flag directory appearing (hidden, else ignored): the next
	 * batch's re-arm starts watching it. */
	if (wa == &w->watches[W_EDGE] && filename && strcmp(filename, CFGW_EDGE_FLAG_DIR) == 0) {
		add_event(w, CFGW_EDGE, "", filename);
		return;
	}
	if (filename && cfgw_name_ignored(filename)) {
		return;
	}
	if (wa == &w->watches[W_EDGE] || wa == &w->watches[W_FLAGS]) {
		add_event(w, CFGW_EDGE, wa->prefix, filename);
		return;
	}
	if (wa == &w->watches[W_ROOT] && filename) {
		if (strcmp(filename, CFGW_APPROVE_NAME) == 0) {
			add_event(w, CFGW_APPROVE, "", filename);
			return;
		}
		if (bg_strv_contains(&w->ignore, filename)) {
			return;
		}
	}
	bg_trace(CFG, "%s%s changed (events %d)", wa->prefix, filename ? filename : "?", events);
	/* No name (the kernel could not say): still a change, of something. */
	add_event(w, CFGW_CONFIG, wa->prefix, filename ? filename : "?");
}

/* Watch path with wa, or stop watching when path is NULL or gone. */
static int arm(struct watch *wa, const char *path)
{
	struct stat st;
	int err;

	if (!path || stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		if (wa->active) {
			uv_fs_event_stop(&wa->h);
			wa->active = false;
		}
		return path ? BG_ERRNO(ENOENT) : 0;
	}
	if (wa->active && wa->dev == st.st_dev && wa->ino == st.st_ino && wa->path &&
			strcmp(wa->path, path) == 0) {
		return 0;
	}
	if (wa->active) {
		uv_fs_event_stop(&wa->h);
		wa->active = false;
	}
	err = uv_fs_event_start(&wa->h, on_fs_event, path, 0);
	if (err) {
		return err;
	}
	free(wa->path);
	wa->path = bg_xstrdup(path);
	wa->dev = st.st_dev;
	wa->ino = st.st_ino;
	wa->active = true;
	return 0;
}

static int rearm(struct cfgw *w, struct bg_diag *d)
{
	char *sites = bg_xasprintf("%s/sites", w->config_dir);
	char *profiles = bg_xasprintf("%s/profiles", w->config_dir);
	int err = arm(&w->watches[W_ROOT], w->config_dir);
	if (err) {
		bg_diag_error(d, NULL, "cannot watch the configuration directory %s: %s",
				w->config_dir, bg_strerror(err));
	} else {
		/* Optional directories: absent is fine, they are armed when they appear. */
		arm(&w->watches[W_SITES], sites);
		arm(&w->watches[W_PROFILES], profiles);
		int e2 = arm(&w->watches[W_EDGE], w->edge_dir);
		if (e2 && w->edge_dir) {
			bg_trace(CFG, "edge directory %s not watched: %s", w->edge_dir,
					bg_strerror(e2));
		}
		/* Optional too: only nginx has one, made by its first switch. */
		char *flags = w->edge_dir ? bg_xasprintf("%s/" CFGW_EDGE_FLAG_DIR, w->edge_dir)
					  : NULL;
		arm(&w->watches[W_FLAGS], flags);
		free(flags);
	}
	free(sites);
	free(profiles);
	return err;
}

static void deliver(struct cfgw *w, bool forced)
{
	struct cfgw_batch b;

	if (!w->pending || w->closing) {
		return;
	}
	uv_timer_stop(&w->timer);
	/* A directory created or replaced since: watch it before anyone reads it. */
	rearm(w, NULL);
	b = w->batch;
	batch_init(&w->batch);
	w->pending = false;
	bg_strv_sort(&b.config_files);
	bg_strv_sort(&b.edge_files);
	b.forced = forced;
	if (forced) {
		/*
		 * Events were still coming: whatever was read may be half
		 * written. A follow-up batch with the same names comes once
		 * things have been quiet for debounce_ms (new events extend it).
		 */
		int64_t now = bg_mono_ms();
		w->pending = true;
		w->batch.kinds = b.kinds;
		w->batch.first_ms = w->batch.last_ms = now;
		bg_strv_copy(&w->batch.config_files, &b.config_files);
		bg_strv_copy(&w->batch.edge_files, &b.edge_files);
		w->clamped = false;
		uv_timer_start(&w->timer, on_timer, w->debounce_ms, 0);
	}
	w->cb(w, &b, w->arg);
	/* w may be closing now, but it is freed only from a close callback. */
	batch_release(&b);
}

int cfgw_create(struct cfgw **out, uv_loop_t *loop, cfgw_cb cb, void *arg)
{
	struct cfgw *w = bg_xcalloc(1, sizeof(*w));
	int err;

	w->loop = loop;
	w->cb = cb;
	w->arg = arg;
	w->debounce_ms = CFGW_DEBOUNCE_MS;
	w->max_wait_ms = CFGW_MAX_WAIT_MS;
	bg_strv_init(&w->ignore);
	batch_init(&w->batch);
	err = uv_timer_init(loop, &w->timer);
	if (err) {
		bg_strv_release(&w->ignore);
		free(w);
		return err;
	}
	w->timer.data = w;
	w->open_handles = 1;
	static const char *const prefixes[W_COUNT] = {"", "sites/", "profiles/", "",
			CFGW_EDGE_FLAG_DIR "/"};
	for (size_t i = 0; i < W_COUNT; i++) {
		struct watch *wa = &w->watches[i];
		wa->w = w;
		wa->prefix = prefixes[i];
		/* uv_fs_event_init cannot fail on Linux (it only zeroes the handle). */
		uv_fs_event_init(loop, &wa->h);
		wa->h.data = wa;
		w->open_handles++;
	}
	*out = w;
	return 0;
}

void cfgw_set_timing(struct cfgw *w, uint64_t debounce_ms, uint64_t max_wait_ms)
{
	if (debounce_ms) {
		w->debounce_ms = debounce_ms;
	}
	if (max_wait_ms) {
		w->max_wait_ms = max_wait_ms;
	}
	if (w->max_wait_ms < w->debounce_ms) {
		w->max_wait_ms = w->debounce_ms;
	}
}

void cfgw_ignore(struct cfgw *w, const char *name)
{
	if (!bg_strv_contains(&w->ignore, name)) {
		bg_strv_push(&w->ignore, name);
	}
}

int cfgw_watch(struct cfgw *w, const char *config_dir, const char *edge_dir,
		struct bg_diag *d)
{
	if (w->closing) {
		return BG_ECANCELLED;
	}
	if (!w->config_dir || strcmp(w->config_dir, config_dir) != 0) {
		free(w->config_dir);
		w->config_dir = bg_xstrdup(config_dir);
	}
	if (!edge_dir || !w->edge_dir || strcmp(w->edge_dir, edge_dir) != 0) {
		free(w->edge_dir);
		w->edge_dir = bg_xstrdup(edge_dir);
	}
	return rearm(w, d);
}

void cfgw_flush(struct cfgw *w)
{
	if (w && w->pending) {
		deliver(w, false);
	}
}

bool cfgw_pending(const struct cfgw *w)
{
	return w && w->pending;
}

static void on_closed(uv_handle_t *h)
{
	struct cfgw *w = h->data;
	if (h->type == UV_FS_EVENT) {
		w = ((struct watch *)h->data)->w;
	}
	if (--w->open_handles > 0) {
		return;
	}
	if (w->closed_cb) {
		w->closed_cb(w, w->arg);
	}
	for (size_t i = 0; i < W_COUNT; i++) {
		free(w->watches[i].path);
	}
	free(w->config_dir);
	free(w->edge_dir);
	bg_strv_release(&w->ignore);
	batch_release(&w->batch);
	free(w);
}

void cfgw_close(struct cfgw *w, cfgw_closed_cb closed_cb)
{
	if (!w || w->closing) {
		return;
	}
	w->closing = true;
	w->closed_cb = closed_cb;
	w->pending = false;
	uv_close((uv_handle_t *)&w->timer, on_closed);
	for (size_t i = 0; i < W_COUNT; i++) {
		uv_close((uv_handle_t *)&w->watches[i].h, on_closed);
	}
}
