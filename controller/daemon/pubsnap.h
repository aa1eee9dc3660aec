/*
 * pubsnap: the status snapshot the watch daemon publishes for readers that
 * hold no power (the cockpit in safe mode, docs/cockpit.md). After each
 * plan the daemon writes STATE_DIR/status.json atomically (temporary file
 * in the same directory, fsync, rename; mode 0640): per site what
 * `bluegreen status --json` shows, plus the plan's pending changes. Never
 * a secret: no environment value, no token. A reader never needs the
 * Docker socket, the control socket or a write handle on the history.
 */
#ifndef BG_CONTROLLER_DAEMON_PUBSNAP_H
#define BG_CONTROLLER_DAEMON_PUBSNAP_H

#include "bg.h"
#include "bg-buf.h"

struct cfg;
struct obs;
struct plan;
struct hist;

/* The file's name in the state directory, and the format it carries. */
#define PUBSNAP_FILE "status.json"
#define PUBSNAP_FORMAT 1
/* Rewritten at least this often while the daemon plans, even unchanged,
 * so a reader can tell a stale file from a quiet one (written_at). */
#define PUBSNAP_REFRESH_MS (60u * 1000)

/*
 * The snapshot's JSON text into out: cfg's sites as o shows them, and
 * p's pending changes per site (p may be NULL: a plan that failed, the
 * counts are then null). now_ms: the written_at time. Returns 0 or <0.
 */
int pubsnap_render(const struct cfg *cfg, const struct obs *o, const struct plan *p,
		int64_t now_ms, struct bg_buf *out);
/*
 * Render and write STATE_DIR/status.json when its content changed or the
 * last write is older than PUBSNAP_REFRESH_MS. A failure is returned (and
 * logged once per kind); the daemon goes on, readers see the file age.
 * issue 15 (P): then the same text and a window of h's journal into
 * cockpit.publish_dir when it is set (pubdir.h); h may be NULL.
 */
int pubsnap_publish(const char *state_dir, const struct cfg *cfg, const struct obs *o,
		const struct plan *p, struct hist *h);

#endif /* BG_CONTROLLER_DAEMON_PUBSNAP_H */
