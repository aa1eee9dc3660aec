/*
 * pubdir: the publish directory (cockpit.publish_dir, issue 15), what a
 * safe cockpit run as another, unprivileged user reads instead of the
 * state directory (which stays 0700). The watch daemon writes there, after
 * each plan, the status snapshot (the same text as STATE_DIR/status.json)
 * and a window of the journal (journal.json: the newest entries, each
 * site's newest entries and last switch, the counters by action and
 * result, the site versions). Directory 0750 and files 0640, group
 * cockpit.group; files written beside their final name, fsync'ed, chown'ed
 * and renamed over it, never through a link. Nothing secret: the journal
 * holds redacted text only (hist.h), the snapshot no environment value.
 */
#ifndef BG_CONTROLLER_DAEMON_PUBDIR_H
#define BG_CONTROLLER_DAEMON_PUBDIR_H

#include "bg.h"

struct cfg;
struct obs;
struct hist;

/* The files in the publish directory. */
#define PUBDIR_STATUS "status.json"
#define PUBDIR_JOURNAL "journal.json"
#define PUBDIR_FORMAT 1
/* The newest entries of all sites, and of each site, that journal.json holds. */
#define PUBDIR_ENTRIES 1000u
#define PUBDIR_SITE_ENTRIES 50u

/*
 * Publish into cfg's cockpit.publish_dir (nothing when it is unset): the
 * status text (always rewritten when status_changed), journal.json when the
 * journal grew or the status was rewritten. h may be NULL (no journal).
 * A failure is logged once per kind and returned; the daemon goes on.
 */
int pubdir_publish(const struct cfg *cfg, struct hist *h, const struct obs *o,
		const char *status, size_t len, bool status_changed);

#endif /* BG_CONTROLLER_DAEMON_PUBDIR_H */
