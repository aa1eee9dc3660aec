/*
 * cockpit-sse: the hub and the streams of GET /events (cockpit-sse.h).
 * The hub thread is the only reader of the journal and of status.json for
 * the streams: every CK_SSE_POLL_MS it frames the new journal entries
 * (event "journal", id = the entry's seq, data = `history --json`'s object)
 * into a ring and, when status.json changed, renders one status event
 * (event "status", data = {"written_at_ms", "sites"}: the snapshot's). A
 * stream copies frames out under the hub's lock and waits on its
 * condition with a timeout, so no libmicrohttpd thread ever sleeps
 * without a bound, and stopping the hub ends every stream within a
 * second. A waiting stream also looks at its client's socket every
 * CK_SSE_PEER_CHECK_MS: libmicrohttpd sees the socket only between our
 * reads, so a client that went while nothing happened would otherwise
 * hold its slot until the keep-alive's write failed (up to 15 s).
 */
#include "cockpit-sse.h"
#include "cockpit-int.h"

#include "bg-log.h"
#include "hist.h"

#include <poll.h>
#include <sys/stat.h>
#include <time.h>

struct ck_ring_ev {
	uint64_t seq;
	char *site;  /* NULL: the entry names no site */
	char *frame; /* the whole event, id included */
};

struct ck_sse_hub {
	struct cockpit *ck;
	pthread_t thr;
	bool thr_started;
	pthread_mutex_t mu; /* everything below */
	pthread_cond_t cv;  /* broadcast on news and on stop */
	bool stopping;
	struct ck_ring_ev ring[CK_SSE_RING];
	size_t ring_head, ring_n; /* oldest at ring_head */
	uint64_t ring_last;       /* newest journal seq seen */
	char *status;             /* data of the status event */
	uint64_t status_ver;
	struct stat snap_st; /* of status.json when last read */
	bool snap_seen;
	struct ck_sse_counts counts;
};

struct ck_sse_stream {
	struct ck_sse_hub *hub;
	struct ck_sse_scope scope;
	uint64_t sent_seq;       /* journal position the browser has */
	uint64_t status_sent;    /* status_ver sent; 0: none yet */
	struct bg_buf pending;
	size_t off;
	int64_t last_write_ms;
	int peer_fd; /* the client's socket, looked at for a hang-up; -1: none */
};

/* ---- framing ---- */

void ck_sse_frame(struct bg_buf *out, bool id_set, uint64_t id, const char *name,
		const char *data)
{
	if (id_set) {
		bg_buf_addf(out, "id: %" PRIu64 "\n", id);
	}
	if (name) {
		bg_buf_addf(out, "event: %s\n", name);
	}
	const char *p = data ? data : "";
	do {
		size_t n = strcspn(p, "\r\n");
		bg_buf_adds(out, "data: ");
		bg_buf_add(out, p, n);
		bg_buf_addch(out, '\n');
		p += n;
		if (*p == '\r' && p[1] == '\n') {
			p++;
		}
	} while (*p && *++p);
	bg_buf_addch(out, '\n');
}

/* ---- the hub ---- */

struct ck_new_evs {
	struct ck_ring_ev *v;
	size_t n, cap;
};

static int ck_sse_journal_cb(const struct hist_entry *e, void *arg)
{
	struct ck_new_evs *nv = arg;
	struct bg_buf data = BG_BUF_INIT, frame = BG_BUF_INIT;
	if (hist_entry_to_json(e, &data) == 0) {
		ck_sse_frame(&frame, true, e->seq, "journal", data.data);
	}
	BG_GROW(nv->v, nv->cap, nv->n + 1);
	nv->v[nv->n++] = (struct ck_ring_ev){e->seq, e->site ? bg_xstrdup(e->site) : NULL,
		bg_buf_detach(&frame, NULL)};
	bg_buf_release(&data);
	return 0;
}

static void ck_ring_ev_release(struct ck_ring_ev *ev)
{
	free(ev->site);
	free(ev->frame);
	memset(ev, 0, sizeof(*ev));
}

/* New journal entries into the ring; true when there were any. */
static bool ck_sse_poll_journal(struct ck_sse_hub *hub)
{
	struct ck_new_evs nv = {0};
	uint64_t last = ck_hist_last_seq(hub->ck); /* issue 15 (P): or the publish dir */
	if (last <= hub->ring_last) {
		return false;
	}
	/* A long gap (the first poll, a burst) keeps only what the ring can hold. */
	ck_hist_foreach(hub->ck, NULL, hub->ring_last, last - hub->ring_last > CK_SSE_RING ? CK_SSE_RING : 0,
			ck_sse_journal_cb, &nv);
	pthread_mutex_lock(&hub->mu);
	for (size_t i = 0; i < nv.n; i++) {
		size_t at = (hub->ring_head + hub->ring_n) % CK_SSE_RING;
		if (hub->ring_n == CK_SSE_RING) {
			ck_ring_ev_release(&hub->ring[hub->ring_head]);
			hub->ring_head = (hub->ring_head + 1) % CK_SSE_RING;
			hub->ring_n--;
		}
		hub->ring[at] = nv.v[i];
		hub->ring_n++;
		hub->ring_last = nv.v[i].seq;
	}
	pthread_mutex_unlock(&hub->mu);
	free(nv.v);
	return nv.n > 0;
}

/* The status event's data: the snapshot's sites, or why there are none. */
static char *ck_sse_status_render(struct cockpit *ck)
{
	struct ck_snap s;
	struct json_object *o = json_object_new_object();
	ck_snap_load(ck, NULL, &s);
	json_object_object_add(o, "written_at_ms", json_object_new_int64(s.written_at_ms));
	json_object_object_add(o, "sites", s.sites ? json_object_get(s.sites)
			: json_object_new_array());
	if (!s.root) {
		json_object_object_add(o, "error", json_object_new_string(s.why));
	}
	char *text = bg_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
			JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	ck_snap_release(&s);
	return text;
}

static bool ck_stat_same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_size == b->st_size &&
			a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
			a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* A changed status.json (renamed over, so a new inode) becomes a new status. */
static bool ck_sse_poll_status(struct ck_sse_hub *hub)
{
	struct stat st;
	memset(&st, 0, sizeof(st));
	if (!hub->ck->o.snapshot_path || stat(hub->ck->o.snapshot_path, &st) != 0) {
		memset(&st, 0, sizeof(st));
	}
	if (hub->snap_seen && ck_stat_same(&st, &hub->snap_st)) {
		return false;
	}
	char *text = ck_sse_status_render(hub->ck);
	pthread_mutex_lock(&hub->mu);
	free(hub->status);
	hub->status = text;
	hub->status_ver++;
	hub->snap_st = st;
	hub->snap_seen = true;
	pthread_mutex_unlock(&hub->mu);
	return true;
}

static void *ck_sse_hub_main(void *arg)
{
	struct ck_sse_hub *hub = arg;
	for (;;) {
		pthread_mutex_lock(&hub->mu);
		bool stop = hub->stopping;
		pthread_mutex_unlock(&hub->mu);
		if (stop) {
			break;
		}
		bool news = ck_sse_poll_journal(hub);
		news = ck_sse_poll_status(hub) || news;
		if (news) {
			pthread_mutex_lock(&hub->mu);
			pthread_cond_broadcast(&hub->cv);
			pthread_mutex_unlock(&hub->mu);
		}
		struct timespec ts = {0, CK_SSE_POLL_MS * 1000L * 1000L};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

struct ck_sse_hub *ck_sse_hub_start(struct cockpit *ck)
{
	struct ck_sse_hub *hub = bg_xcalloc(1, sizeof(*hub));
	pthread_condattr_t ca;
	hub->ck = ck;
	pthread_mutex_init(&hub->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&hub->cv, &ca);
	pthread_condattr_destroy(&ca);
	/* A first look before any stream can open: replays work from the start. */
	ck_sse_poll_journal(hub);
	ck_sse_poll_status(hub);
	if (pthread_create(&hub->thr, NULL, ck_sse_hub_main, hub) != 0) {
		bg_log(BG_LOG_ERROR, "cockpit: cannot start the event hub: live updates are off");
	} else {
		hub->thr_started = true;
	}
	return hub;
}

void ck_sse_hub_shutdown(struct ck_sse_hub *hub)
{
	if (!hub) {
		return;
	}
	pthread_mutex_lock(&hub->mu);
	hub->stopping = true;
	pthread_cond_broadcast(&hub->cv);
	pthread_mutex_unlock(&hub->mu);
}

void ck_sse_hub_stop(struct ck_sse_hub *hub)
{
	if (!hub) {
		return;
	}
	ck_sse_hub_shutdown(hub);
	if (hub->thr_started) {
		pthread_join(hub->thr, NULL);
		hub->thr_started = false;
	}
}

void ck_sse_hub_free(struct ck_sse_hub *hub)
{
	if (!hub) {
		return;
	}
	ck_sse_hub_stop(hub);
	for (size_t i = 0; i < hub->ring_n; i++) {
		ck_ring_ev_release(&hub->ring[(hub->ring_head + i) % CK_SSE_RING]);
	}
	free(hub->status);
	pthread_cond_destroy(&hub->cv);
	pthread_mutex_destroy(&hub->mu);
	free(hub);
}

void ck_sse_counts_get(struct ck_sse_hub *hub, struct ck_sse_counts *out)
{
	memset(out, 0, sizeof(*out));
	if (!hub) {
		return;
	}
	pthread_mutex_lock(&hub->mu);
	*out = hub->counts;
	pthread_mutex_unlock(&hub->mu);
}

/* ---- streams ---- */

struct ck_sse_stream *ck_sse_stream_open(struct ck_sse_hub *hub, const char *last_event_id,
		const struct ck_sse_scope *scope)
{
	char *end = NULL;
	unsigned long long id = 0;
	bool have_id = last_event_id && *last_event_id;
	if (have_id) {
		id = strtoull(last_event_id, &end, 10);
		have_id = *end == '\0';
	}
	pthread_mutex_lock(&hub->mu);
	if (hub->counts.open >= CK_SSE_MAX_STREAMS || hub->stopping) {
		hub->counts.refused++;
		pthread_mutex_unlock(&hub->mu);
		return NULL;
	}
	struct ck_sse_stream *s = bg_xcalloc(1, sizeof(*s));
	s->hub = hub;
	s->peer_fd = -1;
	if (scope) {
		s->scope = *scope;
	}
	/* An id from the future (another store) replays nothing rather than waiting for it. */
	s->sent_seq = have_id && id < hub->ring_last ? id : hub->ring_last;
	hub->counts.open++;
	hub->counts.opened++;
	hub->counts.reconnects += have_id;
	pthread_mutex_unlock(&hub->mu);
	bg_buf_init(&s->pending, 0);
	/* The browser's reconnect delay, then whatever was missed and the status. */
	bg_buf_adds(&s->pending, "retry: 2000\n\n");
	return s;
}

void ck_sse_stream_watch_peer(struct ck_sse_stream *s, int fd)
{
	s->peer_fd = fd;
}

/*
 * The client hung up: a reset or an error (POLLHUP, POLLERR), or its end
 * closed (POLLRDHUP: the browser or proxy closed the socket; an event
 * stream's client never sends after its request, so a half-close is a
 * close, as nginx takes it too). Data it sent (POLLIN) is not a hang-up.
 */
static bool ck_sse_peer_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

void ck_sse_stream_close(struct ck_sse_stream *s)
{
	if (!s) {
		return;
	}
	pthread_mutex_lock(&s->hub->mu);
	s->hub->counts.open--;
	pthread_mutex_unlock(&s->hub->mu);
	bg_buf_release(&s->pending);
	free(s);
}

/* The status data with only the sites the scope allows (a new string). */
static char *ck_sse_status_scoped(const struct ck_sse_stream *s, const char *status)
{
	struct json_object *o = json_tokener_parse(status), *sites, *keep;
	if (!o || !json_object_object_get_ex(o, "sites", &sites)) {
		json_object_put(o);
		return bg_xstrdup("{\"sites\": []}");
	}
	keep = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(sites); i++) {
		struct json_object *site = json_object_array_get_idx(sites, i);
		if (s->scope.allow(ck_jstr(site, "site"), s->scope.arg)) {
			json_object_array_add(keep, json_object_get(site));
		}
	}
	json_object_object_add(o, "sites", keep);
	char *text = bg_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
			JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

/* What the hub has that this stream has not sent (hub->mu held). */
static void ck_sse_collect(struct ck_sse_stream *s)
{
	struct ck_sse_hub *hub = s->hub;
	for (size_t i = 0; i < hub->ring_n; i++) {
		const struct ck_ring_ev *ev = &hub->ring[(hub->ring_head + i) % CK_SSE_RING];
		if (ev->seq <= s->sent_seq || !ev->frame) {
			continue;
		}
		if (!s->scope.allow || s->scope.allow(ev->site, s->scope.arg)) {
			bg_buf_adds(&s->pending, ev->frame);
		}
	}
	if (hub->ring_last > s->sent_seq) {
		s->sent_seq = hub->ring_last;
	}
	if (hub->status && s->status_sent != hub->status_ver) {
		char *scoped = s->scope.allow ? ck_sse_status_scoped(s, hub->status) : NULL;
		ck_sse_frame(&s->pending, true, s->sent_seq, "status", scoped ? scoped : hub->status);
		free(scoped);
		s->status_sent = hub->status_ver;
	}
}

static void ck_deadline(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

ssize_t ck_sse_stream_read(struct ck_sse_stream *s, char *buf, size_t max)
{
	struct ck_sse_hub *hub = s->hub;
	pthread_mutex_lock(&hub->mu);
	if (!s->last_write_ms) {
		s->last_write_ms = bg_now_ms();
	}
	while (s->off >= s->pending.len) {
		bg_buf_reset(&s->pending);
		s->off = 0;
		if (hub->stopping) {
			pthread_mutex_unlock(&hub->mu);
			return CK_SSE_READ_STOPPED;
		}
		/* A poll that does not wait: cheap enough to make under the lock. */
		if (s->peer_fd >= 0 && ck_sse_peer_gone(s->peer_fd)) {
			pthread_mutex_unlock(&hub->mu);
			return CK_SSE_READ_GONE;
		}
		ck_sse_collect(s);
		if (s->pending.len) {
			break;
		}
		int64_t quiet = bg_now_ms() - s->last_write_ms;
		if (quiet >= CK_SSE_KEEPALIVE_MS) {
			bg_buf_adds(&s->pending, ": keep-alive\n\n");
			break;
		}
		/* Bounded: a stop, a keep-alive or a gone client is never late. */
		struct timespec ts;
		int64_t left = CK_SSE_KEEPALIVE_MS - quiet;
		int64_t slice = s->peer_fd >= 0 ? CK_SSE_PEER_CHECK_MS : 1000;
		ck_deadline(&ts, left < slice ? left : slice);
		pthread_cond_timedwait(&hub->cv, &hub->mu, &ts);
	}
	size_t n = s->pending.len - s->off;
	n = n < max ? n : max;
	memcpy(buf, s->pending.data + s->off, n);
	s->off += n;
	s->last_write_ms = bg_now_ms();
	pthread_mutex_unlock(&hub->mu);
	return (ssize_t)n;
}
