/*
 * watch-relist: the daemon's events from a runtime whose containers are
 * presented rather than inspected (rt_watch_rule.relist, issue 17: a
 * Swarm's tasks as replicas). One container inspect cannot show what such
 * a container is made of (a service's spec, its task, its node), so every
 * container, service or node event asks for a re-list through the
 * runtime's observe (the scheduler's full re-list, one at a time however
 * many events come), and says why in the next plan's "why:" line. The
 * names are the planner's: the runtime's scope rewrote them (sw-events.c);
 * nothing here knows which runtime runs.
 */
#include "bg.h"
#include "rt.h"
#include "snap.h"
#include "watch-int.h"

/* A service or node event as a drift reason ("service shop-blue: replicas 3 -> 2"). */
static void why_cluster(struct snap *s, const struct dk_event *e, const char *kind)
{
	const char *name = e->name ? e->name : e->id ? e->id : "?";
	if (e->change) {
		snap_why_add(s, true, "drift: %s %s: %s outside bluegreen", kind, name, e->change);
	} else {
		snap_why_add(s, true, "drift: %s %s: %s outside bluegreen", kind, name, e->action);
	}
}

bool watch__relist_event(struct snap *s, const struct rt_watch_rule *rule,
		const struct dk_event *e, bool ours)
{
	char words[128];
	const char *name = e->name ? e->name : e->id ? e->id : "?";

	if (!rule || !rule->relist) {
		return false;
	}
	switch (e->type) {
	case DK_EVENT_CONTAINER:
		if (!ours) {
			snap_why_add(s, true, "drift: %s %s", name,
					snap_event_words(e, words, sizeof(words)));
		}
		break;
	case DK_EVENT_SERVICE:
		/* Someone else's service is no drift: only one the snapshot
		 * presents (its id is the prefix of its replicas' ids). */
		if (!ours && e->id && snap_container_find(s, e->id)) {
			why_cluster(s, e, "service");
		}
		break;
	case DK_EVENT_NODE:
		/* Only a change a person would read (not a heartbeat's update). */
		if (!ours && e->change) {
			why_cluster(s, e, "node");
		}
		break;
	default:
		return false; /* networks and volumes: as on one engine */
	}
	s->need_full = true;
	return true;
}
