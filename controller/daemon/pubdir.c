/*
 * pubdir: see pubdir.h (ADR "cockpit publish directory"). Loop thread only,
 * like the plan it follows. The journal's counters and each site's last
 * switch are kept here and brought up to date from the entries added since
 * the last publish (the first one walks the journal once), so a publish
 * costs a few bounded reads of the history, never a full walk.
 */
#include "pubdir.h"

#include "bg-buf.h"
#include "bg-log.h"
#include "bg-util.h"
#include "cfg.h"
#include "hist.h"
#include "obs.h"

#include <fcntl.h>
#include <grp.h>
#include <json-c/json.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

struct pd_count {
	char *action, *result;
	uint64_t n;
};

struct pd_switch {
	char *site;
	char *json; /* the entry, as hist_entry_to_json writes it */
};

/* What was published, and the digest of the journal (one daemon per process). */
static struct {
	char *dir;          /* the directory the state below was published to */
	uint64_t seq;       /* journal entries digested (and published) up to */
	uint64_t walked;    /* journal entries digested up to */
	struct pd_count *counts;
	size_t n_counts, cap_counts;
	struct pd_switch *sw;
	size_t n_sw, cap_sw;
	int last_err;
} pd;

static void pd_count_add(const char *action, const char *result)
{
	result = result ? result : "none";
	for (size_t i = 0; i < pd.n_counts; i++) {
		if (strcmp(pd.counts[i].action, action) == 0 && strcmp(pd.counts[i].result, result) == 0) {
			pd.counts[i].n++;
			return;
		}
	}
	BG_GROW(pd.counts, pd.cap_counts, pd.n_counts + 1);
	pd.counts[pd.n_counts++] = (struct pd_count){bg_xstrdup(action), bg_xstrdup(result), 1};
}

static void pd_switch_note(const struct hist_entry *e)
{
	struct bg_buf b = BG_BUF_INIT;
	if (hist_entry_to_json(e, &b) != 0) {
		bg_buf_release(&b);
		return;
	}
	for (size_t i = 0; i < pd.n_sw; i++) {
		if (strcmp(pd.sw[i].site, e->site) == 0) {
			free(pd.sw[i].json);
			pd.sw[i].json = bg_buf_detach(&b, NULL);
			return;
		}
	}
	BG_GROW(pd.sw, pd.cap_sw, pd.n_sw + 1);
	pd.sw[pd.n_sw++] = (struct pd_switch){bg_xstrdup(e->site), bg_buf_detach(&b, NULL)};
}

static int pd_digest_cb(const struct hist_entry *e, void *arg)
{
	(void)arg;
	if (e->action) {
		pd_count_add(e->action, e->result);
		/* The cockpit's "last switch": an ok switch or rollback of the site. */
		if (e->site && e->result && strcmp(e->result, "ok") == 0 &&
				(strcmp(e->action, "switch") == 0 || strcmp(e->action, "rollback") == 0)) {
			pd_switch_note(e);
		}
	}
	pd.walked = e->seq;
	return 0;
}

/* ---- journal.json ---- */

static int pd_entry_add(const struct hist_entry *e, void *arg)
{
	struct json_object *by_seq = arg; /* "seq" -> entry: each entry once */
	struct bg_buf b = BG_BUF_INIT;
	char key[24];
	snprintf(key, sizeof(key), "%020" PRIu64, e->seq);
	if (!json_object_object_get_ex(by_seq, key, NULL) && hist_entry_to_json(e, &b) == 0) {
		struct json_object *o = json_tokener_parse(b.data);
		if (o) {
			json_object_object_add(by_seq, key, o);
		}
	}
	bg_buf_release(&b);
	return 0;
}

static struct json_object *pd_strv_json(const struct bg_strv *v)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; i < v->n; i++) {
		json_object_array_add(a, json_object_new_string(v->v[i]));
	}
	return a;
}

/* The versions the history gave each site (the cockpit's site page). */
static struct json_object *pd_versions_json(const struct obs *o)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; o && i < o->n_hist; i++) {
		const struct obs_hist_site *hs = &o->hist[i];
		struct json_object *s = json_object_new_object();
		json_object_object_add(s, "site", json_object_new_string(hs->site));
		json_object_object_add(s, "last_version", json_object_new_int64(hs->last_version));
		json_object_object_add(s, "spec_versions", pd_strv_json(&hs->spec_versions));
		json_object_object_add(s, "rejected", pd_strv_json(&hs->rejected));
		json_object_array_add(a, s);
	}
	return a;
}

/* journal.json's text (a new string): entries oldest first, each once. */
static char *pd_journal_render(const struct cfg *cfg, struct hist *h, const struct obs *o,
		uint64_t last)
{
	struct json_object *by_seq = json_object_new_object(), *root = json_object_new_object();
	struct json_object *entries = json_object_new_array(), *counts = json_object_new_array();
	hist_foreach(h, NULL, 0, PUBDIR_ENTRIES, pd_entry_add, by_seq);
	for (size_t i = 0; i < cfg->n_sites; i++) {
		hist_foreach(h, cfg->sites[i].name, 0, PUBDIR_SITE_ENTRIES, pd_entry_add, by_seq);
	}
	for (size_t i = 0; i < pd.n_sw; i++) {
		struct json_object *e = json_tokener_parse(pd.sw[i].json), *v = NULL;
		if (e && json_object_object_get_ex(e, "seq", &v)) {
			char key[24];
			snprintf(key, sizeof(key), "%020" PRId64, json_object_get_int64(v));
			if (!json_object_object_get_ex(by_seq, key, NULL)) {
				json_object_object_add(by_seq, key, json_object_get(e));
			}
		}
		json_object_put(e);
	}
	/* The keys are zero-padded: sorting them sorts by seq. */
	struct bg_strv keys;
	bg_strv_init(&keys);
	json_object_object_foreach(by_seq, k, val) {
		(void)val;
		bg_strv_push(&keys, k);
	}
	bg_strv_sort(&keys);
	for (size_t i = 0; i < keys.n; i++) {
		struct json_object *e = NULL;
		json_object_object_get_ex(by_seq, keys.v[i], &e);
		json_object_array_add(entries, json_object_get(e));
	}
	bg_strv_release(&keys);
	for (size_t i = 0; i < pd.n_counts; i++) {
		struct json_object *c = json_object_new_object();
		json_object_object_add(c, "action", json_object_new_string(pd.counts[i].action));
		json_object_object_add(c, "result", json_object_new_string(pd.counts[i].result));
		json_object_object_add(c, "n", json_object_new_int64((int64_t)pd.counts[i].n));
		json_object_array_add(counts, c);
	}
	json_object_object_add(root, "format", json_object_new_int(PUBDIR_FORMAT));
	json_object_object_add(root, "written_at_ms", json_object_new_int64(bg_now_ms()));
	json_object_object_add(root, "last_seq", json_object_new_int64((int64_t)last));
	json_object_object_add(root, "entries", entries);
	json_object_object_add(root, "counts", counts);
	json_object_object_add(root, "versions", pd_versions_json(o));
	char *text = bg_xstrdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
			JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	json_object_put(by_seq);
	return text;
}

/* ---- the directory and its files ---- */

static int pd_gid(const char *group, gid_t *gid, const char **why)
{
	if (!group) {
		*gid = getegid();
		return 0;
	}
	if (strspn(group, "0123456789") == strlen(group)) {
		*gid = (gid_t)strtoul(group, NULL, 10);
		return 0;
	}
	struct group gr, *res = NULL;
	char buf[4096];
	if (getgrnam_r(group, &gr, buf, sizeof(buf), &res) != 0 || !res) {
		*why = "cockpit.group names no group of this system";
		return BG_ERRNO(ENOENT);
	}
	*gid = res->gr_gid;
	return 0;
}

/*
 * The directory, created 0750 when missing; it must be a directory (not a
 * link), owned by us or root, writable by its owner alone. Ours: its group
 * and mode are set. Returns a descriptor or <0 with *why.
 */
static int pd_dir_open(const char *dir, gid_t gid, const char **why)
{
	struct stat st;
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		*why = "cannot create it (does its parent exist?)";
		return BG_ERRNO(errno);
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*why = errno == ELOOP || errno == ENOTDIR ? "not a directory (or a link)" : "cannot open it";
		return BG_ERRNO(errno);
	}
	int err = 0;
	if (fstat(fd, &st) != 0) {
		err = BG_ERRNO(errno);
		*why = "cannot stat it";
	} else if (st.st_uid != geteuid() && st.st_uid != 0) {
		err = BG_EREFUSED;
		*why = "owned by another user: whoever owns it decides what the cockpit shows";
	} else if (st.st_uid == geteuid() && ((st.st_gid != gid && fchown(fd, (uid_t)-1, gid) != 0) ||
			((st.st_mode & 07777) != 0750 && fchmod(fd, 0750) != 0))) {
		err = BG_ERRNO(errno);
		*why = "cannot give it mode 0750 and cockpit.group";
	} else if (st.st_uid != geteuid() && (st.st_mode & 022)) {
		err = BG_EREFUSED;
		*why = "writable by group or others";
	}
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/* name in dfd, atomically: a new temporary file, 0640 and gid, fsync, rename, fsync. */
static int pd_write(int dfd, const char *name, const char *data, size_t len, gid_t gid,
		const char **why)
{
	unsigned rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		rnd = (unsigned)bg_now_ms() ^ (unsigned)getpid();
	}
	char tmp[96];
	snprintf(tmp, sizeof(tmp), ".%s.%08x.tmp", name, rnd);
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*why = "cannot create a temporary file";
		return BG_ERRNO(errno);
	}
	int err = 0;
	size_t off = 0;
	while (!err && off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno != EINTR) {
			err = BG_ERRNO(errno);
			*why = "cannot write";
		}
		off += n > 0 ? (size_t)n : 0;
	}
	if (!err && ((fchown(fd, (uid_t)-1, gid) != 0 || fchmod(fd, 0640) != 0))) {
		err = BG_ERRNO(errno);
		*why = "cannot give the file mode 0640 and cockpit.group";
	}
	if (!err && fsync(fd) != 0) {
		err = BG_ERRNO(errno);
		*why = "cannot fsync";
	}
	close(fd);
	if (!err && renameat(dfd, tmp, dfd, name) != 0) {
		err = BG_ERRNO(errno);
		*why = "cannot rename over it";
	}
	if (err) {
		unlinkat(dfd, tmp, 0);
		return err;
	}
	fsync(dfd);
	return 0;
}

int pubdir_publish(const struct cfg *cfg, struct hist *h, const struct obs *o,
		const char *status, size_t len, bool status_changed)
{
	const char *dir = cfg ? cfg->g.cockpit.publish_dir : NULL, *why = NULL;
	if (!dir) {
		return 0;
	}
	bool moved = !pd.dir || strcmp(pd.dir, dir) != 0;
	uint64_t last = h ? hist_last_seq(h) : 0;
	if (!moved && !status_changed && last == pd.seq) {
		return 0;
	}
	gid_t gid;
	int dfd = -1, err = pd_gid(cfg->g.cockpit.group, &gid, &why);
	if (!err && (dfd = pd_dir_open(dir, gid, &why)) < 0) {
		err = dfd;
	}
	if (!err) {
		err = pd_write(dfd, PUBDIR_STATUS, status, len, gid, &why);
	}
	if (!err && h) {
		if (last > pd.walked) {
			hist_foreach(h, NULL, pd.walked, 0, pd_digest_cb, NULL);
		}
		char *text = pd_journal_render(cfg, h, o, pd.walked);
		err = pd_write(dfd, PUBDIR_JOURNAL, text, strlen(text), gid, &why);
		free(text);
	}
	if (dfd >= 0) {
		close(dfd);
	}
	if (!err) {
		free(pd.dir);
		pd.dir = bg_xstrdup(dir);
		pd.seq = pd.walked;
	} else if (err != pd.last_err) {
		/* Once per kind of failure: the daemon's log is not a flood. */
		bg_log(BG_LOG_WARN, "cockpit.publish_dir %s: cannot publish for the cockpit: %s: %s",
				dir, why ? why : "error", bg_strerror(err));
	}
	pd.last_err = err;
	return err;
}
