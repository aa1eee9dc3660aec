/*
 * cfgwatch: the files the daemon reacts to, watched with inotify through
 * uv_fs_event (no polling): the configuration directory, its sites/ and
 * profiles/ subdirectories, and the edge directory (nginx conf_dir or
 * Traefik dynamic_dir), where a hand edit is drift, with the nginx edge's
 * flag directory in it (a flag changed by hand switches nginx: drift too).
 *
 * Editors save by writing a temporary file and renaming it over the old
 * one, and `git pull` touches many files at once, so events are not
 * delivered one by one: they are gathered into a batch that is handed over
 * once nothing has happened for `debounce_ms` (100 ms by default), or at
 * the latest `max_wait_ms` (1 s) after the batch's first event, so a stream
 * of edits that never pauses still re-plans about once a second instead of
 * never. A batch forced out that way may catch a file half written, so
 * it is always followed by one more batch (same names) once things are
 * quiet: the caller may ignore a half-read on a forced batch. Editor litter (hidden files, `*~`, `*.swp`, vim's `4913`) is
 * ignored, and so are names the caller asks to ignore (the state directory
 * when it sits in the configuration directory).
 *
 * A watched directory that is removed and created again (or appears after
 * start, like a first sites/) is picked up again: before each batch is
 * delivered, every watched path is checked and re-armed when its inode
 * changed.
 */
#ifndef BG_CONTROLLER_CFGWATCH_H
#define BG_CONTROLLER_CFGWATCH_H

#include "bg.h"
#include "bg-err.h"
#include "bg-util.h"

#include <uv.h>

#define CFGW_DEBOUNCE_MS 100
#define CFGW_MAX_WAIT_MS 1000
/* The nginx edge's flag directory in the edge directory (FLAG_DIR of
 * reconcilers/edge/edge-nginx-flag.c: the two must agree). Its files come
 * in edge_files as ".bluegreen-live/NAME". */
#define CFGW_EDGE_FLAG_DIR ".bluegreen-live"
/* The approval file's name in the configuration directory. */
#define CFGW_APPROVE_NAME "approve"

enum cfgw_kind {
	CFGW_CONFIG = 1 << 0,  /* global.conf, site files, profiles, env files */
	CFGW_APPROVE = 1 << 1, /* CONFIG_DIR/approve */
	CFGW_EDGE = 1 << 2,    /* a file in the edge directory */
};

/* What changed since the last batch. Borrowed for the callback only. */
struct cfgw_batch {
	unsigned kinds;              /* enum cfgw_kind bits */
	struct bg_strv config_files; /* "global.conf", "sites/shop.conf": sorted, unique */
	struct bg_strv edge_files;   /* names in the edge directory: sorted, unique */
	size_t n_events;             /* raw events folded into this batch */
	bool forced;                 /* delivered by max_wait while events kept coming */
	int64_t first_ms, last_ms;   /* bg_mono_ms() of its first and last event */
};

struct cfgw;
typedef void (*cfgw_cb)(struct cfgw *w, const struct cfgw_batch *b, void *arg);
typedef void (*cfgw_closed_cb)(struct cfgw *w, void *arg);

/* A watcher on loop; nothing is watched until cfgw_watch. Close with cfgw_close. */
int cfgw_create(struct cfgw **out, uv_loop_t *loop, cfgw_cb cb, void *arg);
/* 0 keeps a value. */
void cfgw_set_timing(struct cfgw *w, uint64_t debounce_ms, uint64_t max_wait_ms);
/* A name in the configuration directory that is not configuration (copied). */
void cfgw_ignore(struct cfgw *w, const char *name);

/*
 * Watch config_dir (and config_dir/sites, config_dir/profiles when they
 * exist) and edge_dir (NULL: none). Calling it again re-arms: a directory
 * whose path now names another inode is watched anew, one that appeared is
 * watched, one that vanished is dropped. Fails (with the path in d) only
 * when config_dir itself cannot be watched.
 */
int cfgw_watch(struct cfgw *w, const char *config_dir, const char *edge_dir,
		struct bg_diag *d);

/* Deliver the pending batch now (from the loop) rather than after the debounce. */
void cfgw_flush(struct cfgw *w);
bool cfgw_pending(const struct cfgw *w);

/*
 * Stop watching and close every handle; closed_cb (may be NULL) runs from
 * the loop once everything is closed, and w is freed right after it
 * returns. A pending batch is dropped. NULL-safe.
 */
void cfgw_close(struct cfgw *w, cfgw_closed_cb closed_cb);

/* Editor litter and temporary files, never a configuration change. */
bool cfgw_name_ignored(const char *name);

#endif /* BG_CONTROLLER_CFGWATCH_H */
