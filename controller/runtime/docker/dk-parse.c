/*
 * dk-parse: the pure half of the Docker client: JSON helpers, JSON streams
 * and the parsers of what the engine answers (container inspect, network
 * and volume lists, /version, pull progress, events). No I/O and no
 * libcurl: this file is its own library (bgdkparse), which the unit tests
 * and the fuzzer link alone, and the rest of dk builds on it. Scope is
 * checked here too: the list parsers keep only managed objects.
 */
#include "bg.h"
#include "dk.h"
#include "dk-json.h"
#include "bg-util.h"

#include <ctype.h>

void dk__error(struct bg_diag *d, const char *fmt, ...)
{
	va_list ap;
	if (!d) {
		return;
	}
	va_start(ap, fmt);
	bg_diag_vadd(d, BG_SEV_ERROR, NULL, fmt, ap);
	va_end(ap);
}

/* ---- small JSON helpers (all results borrowed from o) ---- */

struct json_object *dk__jget(struct json_object *o, const char *key,
		enum json_type t)
{
	struct json_object *v = NULL;
	if (!o || !json_object_is_type(o, json_type_object)) {
		return NULL;
	}
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, t)) {
		return NULL;
	}
	return v;
}

/* json_object_get_string() would serialise a non-string: check the type. */
const char *dk__jstr(struct json_object *o, const char *key)
{
	struct json_object *v = dk__jget(o, key, json_type_string);
	return v ? json_object_get_string(v) : NULL;
}

bool dk__jint(struct json_object *o, const char *key, int64_t *out)
{
	struct json_object *v = dk__jget(o, key, json_type_int);
	if (!v) {
		return false;
	}
	*out = json_object_get_int64(v);
	return true;
}

bool dk_labels_managed(struct json_object *labels)
{
	const char *v = dk__jstr(labels, BG_LABEL_MANAGED);
	return v && strcmp(v, "true") == 0;
}

int dk__json_parse(const char *data, size_t len, struct json_object **out)
{
	struct json_tokener *tok;
	struct json_object *o;
	size_t end;

	*out = NULL;
	if (len > INT32_MAX - 1) {
		return BG_ETOO_BIG;
	}
	tok = json_tokener_new();
	if (!tok) {
		return BG_ERRNO(ENOMEM);
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
			JSON_TOKENER_ALLOW_TRAILING_CHARS | JSON_TOKENER_VALIDATE_UTF8);
	/* Passing the NUL too tells json-c the input ends there, so a bare
	 * number or literal is complete rather than "continue". */
	o = json_tokener_parse_ex(tok, data, (int)len + 1);
	end = json_tokener_get_parse_end(tok);
	if (!o && json_tokener_get_error(tok) == json_tokener_success) {
		/* A JSON null: valid, but never a useful answer. */
		json_tokener_free(tok);
		return BG_EPARSE;
	}
	json_tokener_free(tok);
	if (!o) {
		return BG_EPARSE;
	}
	for (size_t i = end; i < len; i++) {
		if (!isspace((unsigned char)data[i])) {
			json_object_put(o);
			return BG_EPARSE;
		}
	}
	*out = o;
	return 0;
}

/* ---- JSON streams ---- */

void dk_stream_init(struct dk_stream *s, size_t max_value, dk_stream_cb cb, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->max_value = max_value;
	s->cb = cb;
	s->arg = arg;
	s->tok = json_tokener_new();
	if (!s->tok) {
		s->err = BG_ERRNO(ENOMEM);
		return;
	}
	json_tokener_set_flags(s->tok, JSON_TOKENER_STRICT |
			JSON_TOKENER_ALLOW_TRAILING_CHARS | JSON_TOKENER_VALIDATE_UTF8);
}

void dk_stream_release(struct dk_stream *s)
{
	if (!s) {
		return;
	}
	if (s->tok) {
		json_tokener_free(s->tok);
	}
	s->tok = NULL;
}

static int stream_fail(struct dk_stream *s, int err, struct bg_diag *d,
		const char *what)
{
	s->err = err;
	if (err == BG_ETOO_BIG) {
		dk__error(d, "a JSON value from the Docker engine exceeds %zu bytes",
				s->max_value);
	} else {
		dk__error(d, "malformed JSON from the Docker engine: %s", what);
	}
	return err;
}

int dk_stream_feed(struct dk_stream *s, const char *data, size_t len,
		struct bg_diag *d)
{
	if (s->err) {
		return s->err;
	}
	while (len > 0) {
		if (s->cur == 0) {
			/* Between values: skip the newlines the engine puts after
			 * each one, so "cur" only ever counts a real value. */
			while (len > 0 && isspace((unsigned char)*data)) {
				data++;
				len--;
			}
			if (len == 0) {
				break;
			}
		}
		size_t chunk = len > (1u << 30) ? (1u << 30) : len;
		struct json_object *o = json_tokener_parse_ex(s->tok, data, (int)chunk);
		enum json_tokener_error jerr = json_tokener_get_error(s->tok);
		if (jerr == json_tokener_continue) {
			s->cur += chunk;
			data += chunk;
			len -= chunk;
			if (s->cur > s->max_value) {
				return stream_fail(s, BG_ETOO_BIG, d, NULL);
			}
			continue;
		}
		if (jerr != json_tokener_success) {
			return stream_fail(s, BG_EPARSE, d, json_tokener_error_desc(jerr));
		}
		size_t used = json_tokener_get_parse_end(s->tok);
		json_tokener_reset(s->tok);
		if (used == 0 || used > chunk) {
			json_object_put(o);
			return stream_fail(s, BG_EPARSE, d, "no progress");
		}
		if (s->cur + used > s->max_value) {
			json_object_put(o);
			return stream_fail(s, BG_ETOO_BIG, d, NULL);
		}
		data += used;
		len -= used;
		s->cur = 0;
		int rc = 0;
		if (o && s->cb) {
			rc = s->cb(o, s->arg);
		}
		json_object_put(o);
		if (rc < 0) {
			s->err = rc;
			return rc;
		}
	}
	return 0;
}

int dk_stream_finish(struct dk_stream *s, struct bg_diag *d)
{
	if (s->err) {
		return s->err;
	}
	if (s->cur) {
		return stream_fail(s, BG_EPARSE, d, "the stream ends inside a value");
	}
	return 0;
}

/* ---- pure parsers ---- */

static int labels_parse(struct json_object *j, struct obs_labels *l,
		const char *what, struct bg_diag *d)
{
	if (!j || json_object_is_type(j, json_type_null)) {
		return 0;
	}
	if (!json_object_is_type(j, json_type_object)) {
		dk__error(d, "%s: Labels is not an object", what);
		return BG_EPARSE;
	}
	json_object_object_foreach(j, key, val) {
		if (!json_object_is_type(val, json_type_string)) {
			dk__error(d, "%s: label '%s' is not a string", what, key);
			return BG_EPARSE;
		}
		obs_labels_set(l, key, json_object_get_string(val));
	}
	obs_labels_sort(l);
	return 0;
}

static int netaddr_cmp(const void *a, const void *b)
{
	const struct obs_netaddr *x = a, *y = b;
	return strcmp(x->network, y->network);
}

static int nets_parse(struct json_object *j, struct obs_container *c,
		struct bg_diag *d)
{
	struct json_object *nets = dk__jget(dk__jget(j, "NetworkSettings", json_type_object),
			"Networks", json_type_object);
	size_t n;

	if (!nets) {
		return 0; /* "none" networking, or an older engine's shape */
	}
	n = (size_t)json_object_object_length(nets);
	if (n == 0) {
		return 0;
	}
	c->nets = bg_xcalloc(n, sizeof(*c->nets));
	json_object_object_foreach(nets, name, ep) {
		if (!json_object_is_type(ep, json_type_object)) {
			dk__error(d, "container inspect: network '%s' is not an object", name);
			return BG_EPARSE;
		}
		const char *ip = dk__jstr(ep, "IPAddress");
		c->nets[c->n_nets].network = bg_xstrdup(name);
		c->nets[c->n_nets].ip = bg_xstrdup(ip ? ip : "");
		c->n_nets++;
	}
	qsort(c->nets, c->n_nets, sizeof(*c->nets), netaddr_cmp);
	return 0;
}

int dk_parse_container_inspect(struct json_object *j, struct obs_container *c,
		struct bg_diag *d)
{
	struct obs_container t;
	struct json_object *config, *state, *health;
	const char *id, *name, *image, *image_id, *status, *hs;
	int64_t code = 0;
	int err = BG_EPARSE;

	memset(&t, 0, sizeof(t));
	if (!j || !json_object_is_type(j, json_type_object)) {
		dk__error(d, "container inspect: not a JSON object");
		goto out;
	}
	id = dk__jstr(j, "Id");
	name = dk__jstr(j, "Name");
	image_id = dk__jstr(j, "Image");
	config = dk__jget(j, "Config", json_type_object);
	state = dk__jget(j, "State", json_type_object);
	image = dk__jstr(config, "Image");
	status = dk__jstr(state, "Status");
	if (!id || !*id || !name || !image_id || !config || !image || !state || !status) {
		dk__error(d, "container inspect: missing %s",
				!id || !*id ? "Id" : !name ? "Name" : !image_id ? "Image"
				: !config ? "Config" : !image ? "Config.Image"
				: !state ? "State" : "State.Status");
		goto out;
	}
	t.id = bg_xstrdup(id);
	t.name = bg_xstrdup(name[0] == '/' ? name + 1 : name);
	t.image = bg_xstrdup(image);
	t.image_id = bg_xstrdup(image_id);
	t.state = obs_cstate_parse(status);
	health = dk__jget(state, "Health", json_type_object);
	hs = dk__jstr(health, "Status");
	t.health = hs ? obs_health_parse(hs) : OBS_HEALTH_NONE;
	if (dk__jint(state, "ExitCode", &code)) {
		t.exit_code = code > INT32_MAX ? INT32_MAX : code < INT32_MIN ? INT32_MIN
				: (int)code;
	}
	struct json_object *labels = NULL;
	json_object_object_get_ex(config, "Labels", &labels);
	err = labels_parse(labels, &t.labels, "container inspect", d);
	if (err) {
		goto out;
	}
	err = nets_parse(j, &t, d);
	if (err) {
		goto out;
	}
	obs_container_derive(&t);
	*c = t;
	memset(&t, 0, sizeof(t)); /* ownership moved to *c */
out:
	obs_container_release(&t);
	return err;
}

int dk_parse_networks(struct json_object *j, struct obs *o, struct bg_diag *d)
{
	if (!j || !json_object_is_type(j, json_type_array)) {
		dk__error(d, "network list: not a JSON array");
		return BG_EPARSE;
	}
	size_t n = json_object_array_length(j);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(j, i);
		struct json_object *labels = NULL;
		const char *id = dk__jstr(e, "Id"), *name = dk__jstr(e, "Name");
		if (!id || !name) {
			dk__error(d, "network list: entry %zu has no Id or Name", i);
			return BG_EPARSE;
		}
		json_object_object_get_ex(e, "Labels", &labels);
		if (!dk_labels_managed(labels)) {
			continue;
		}
		struct obs_labels l = {0};
		int err = labels_parse(labels, &l, "network list", d);
		if (err) {
			obs_labels_release(&l);
			return err;
		}
		struct obs_network *net = obs_network_add(o);
		net->id = bg_xstrdup(id);
		net->name = bg_xstrdup(name);
		net->labels = l;
	}
	return 0;
}

int dk_parse_volumes(struct json_object *j, struct obs *o, struct bg_diag *d)
{
	struct json_object *vols = NULL;

	if (!j || !json_object_is_type(j, json_type_object) ||
			!json_object_object_get_ex(j, "Volumes", &vols)) {
		dk__error(d, "volume list: no Volumes");
		return BG_EPARSE;
	}
	if (json_object_is_type(vols, json_type_null)) {
		return 0; /* the engine says null, not [], when there are none */
	}
	if (!json_object_is_type(vols, json_type_array)) {
		dk__error(d, "volume list: Volumes is not an array");
		return BG_EPARSE;
	}
	size_t n = json_object_array_length(vols);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(vols, i);
		struct json_object *labels = NULL;
		const char *name = dk__jstr(e, "Name");
		if (!name) {
			dk__error(d, "volume list: entry %zu has no Name", i);
			return BG_EPARSE;
		}
		json_object_object_get_ex(e, "Labels", &labels);
		if (!dk_labels_managed(labels)) {
			continue;
		}
		struct obs_labels l = {0};
		int err = labels_parse(labels, &l, "volume list", d);
		if (err) {
			obs_labels_release(&l);
			return err;
		}
		struct obs_volume *v = obs_volume_add(o);
		v->name = bg_xstrdup(name);
		v->labels = l;
	}
	return 0;
}

int dk_parse_kind_list(struct json_object *j, const char *kind, struct json_object **list,
		struct bg_diag *d)
{
	struct json_object *vols = NULL;
	bool volume = strcmp(kind, "volume") == 0;

	*list = j;
	if (volume) {
		*list = NULL;
		if (json_object_is_type(j, json_type_object) &&
				json_object_object_get_ex(j, "Volumes", &vols)) {
			if (!vols) {
				return 1; /* json-c gives a JSON null as NULL: no volumes at all */
			}
			*list = vols;
		}
	}
	if (!*list || !json_object_is_type(*list, json_type_array)) {
		*list = NULL;
		dk__error(d, "the Docker engine's %s list is not a JSON array", kind);
		return BG_EPARSE;
	}
	return 0;
}

/* "1.41" -> 1041; false if it is not MAJOR.MINOR. */
static bool api_num(const char *s, unsigned long *out)
{
	char *end;
	if (!s || !isdigit((unsigned char)s[0])) {
		return false;
	}
	unsigned long major = strtoul(s, &end, 10);
	if (*end != '.' || !isdigit((unsigned char)end[1]) || major > 1000) {
		return false;
	}
	unsigned long minor = strtoul(end + 1, &end, 10);
	if (*end || minor > 999) {
		return false;
	}
	*out = major * 1000 + minor;
	return true;
}

int dk_parse_version(struct json_object *j, char **engine, char **api,
		struct bg_diag *d)
{
	const char *ver = dk__jstr(j, "Version");
	const char *eapi = dk__jstr(j, "ApiVersion");
	const char *emin = dk__jstr(j, "MinAPIVersion");
	unsigned long have = 0, lo = 0, hi = 0, min = 0;

	*engine = NULL;
	*api = NULL;
	if (!api_num(eapi, &have)) {
		dk__error(d, "the Docker engine's /version has no usable ApiVersion");
		return BG_EPARSE;
	}
	api_num(DK_API_MIN, &lo);
	api_num(DK_API_MAX, &hi);
	if (have < lo) {
		dk__error(d, "the Docker engine (%s) speaks API %s; bluegreen needs "
				"API %s or newer (Docker 20.10 or later)",
				ver ? ver : "unknown version", eapi, DK_API_MIN);
		return BG_EDOCKER;
	}
	if (emin && api_num(emin, &min) && min > hi) {
		dk__error(d, "the Docker engine (%s) no longer speaks API %s or "
				"older (its minimum is %s); this bluegreen is too old for it",
				ver ? ver : "unknown version", DK_API_MAX, emin);
		return BG_EDOCKER;
	}
	*engine = bg_xstrdup(ver ? ver : "unknown");
	*api = bg_xstrdup(have > hi ? DK_API_MAX : eapi);
	return 0;
}

int dk__pull_value(struct json_object *v, void *arg)
{
	struct dk__pull_state *ps = arg;
	const char *e = dk__jstr(dk__jget(v, "errorDetail", json_type_object), "message");

	if (!e) {
		e = dk__jstr(v, "error");
	}
	if (e && !ps->error) {
		ps->error = bg_xstrdup(e);
	}
	return 0;
}

int dk_parse_pull_stream(const char *data, size_t len, struct bg_diag *d)
{
	struct dk__pull_state ps = {0};
	struct dk_stream s;
	int err;

	dk_stream_init(&s, DK_STREAM_VALUE_MAX, dk__pull_value, &ps);
	err = dk_stream_feed(&s, data, len, d);
	if (!err) {
		err = dk_stream_finish(&s, d);
	}
	dk_stream_release(&s);
	if (!err && ps.error) {
		dk__error(d, "%s", ps.error);
		err = BG_EDOCKER;
	}
	free(ps.error);
	return err;
}

int dk_parse_event(struct json_object *j, struct dk_event *e, struct bg_diag *d)
{
	const char *type = dk__jstr(j, "Type");
	const char *action = dk__jstr(j, "Action");
	struct json_object *actor = dk__jget(j, "Actor", json_type_object);
	struct json_object *attrs = dk__jget(actor, "Attributes", json_type_object);
	int64_t t = 0;

	memset(e, 0, sizeof(*e));
	e->exit_code = -1;
	if (!type || !action) {
		dk__error(d, "event: missing Type or Action");
		return BG_EPARSE;
	}
	if (strcmp(type, "container") == 0) {
		e->type = DK_EVENT_CONTAINER;
	} else if (strcmp(type, "network") == 0) {
		e->type = DK_EVENT_NETWORK;
	} else if (strcmp(type, "volume") == 0) {
		e->type = DK_EVENT_VOLUME;
	} else {
		e->type = DK_EVENT_OTHER;
	}
	/* "health_status: healthy", "exec_start: sh -c ...": the word before
	 * ": " is the action, the rest its detail. */
	const char *colon = strstr(action, ": ");
	size_t alen = colon ? (size_t)(colon - action) : strlen(action);
	if (alen >= sizeof(e->action)) {
		alen = sizeof(e->action) - 1;
	}
	memcpy(e->action, action, alen);
	e->action[alen] = '\0';
	e->detail = colon ? colon + 2 : NULL;
	e->id = dk__jstr(actor, "ID");
	e->name = dk__jstr(attrs, "name");
	if (e->type == DK_EVENT_VOLUME && !e->name) {
		e->name = e->id; /* a volume's ID is its name */
	}
	if (e->type == DK_EVENT_CONTAINER) {
		e->managed = dk_labels_managed(attrs);
		e->site = dk__jstr(attrs, BG_LABEL_SITE);
		e->colour = dk__jstr(attrs, BG_LABEL_COLOUR);
		e->role = dk__jstr(attrs, BG_LABEL_ROLE);
		const char *ec = dk__jstr(attrs, "exitCode");
		if (ec && strcmp(e->action, "die") == 0) {
			char *end;
			long v = strtol(ec, &end, 10);
			if (*ec && !*end && v >= 0 && v < 1000) {
				e->exit_code = (int)v;
			}
		}
	} else if (e->type == DK_EVENT_NETWORK) {
		e->container = dk__jstr(attrs, "container");
	}
	if (dk__jint(j, "timeNano", &t) && t > 0) {
		e->time_ms = t / 1000000;
	} else if (dk__jint(j, "time", &t) && t > 0 && t < INT64_MAX / 1000) {
		e->time_ms = t * 1000;
	}
	return 0;
}

bool dk_event_in_scope(const struct dk_event *e)
{
	switch (e->type) {
	case DK_EVENT_CONTAINER:
		return e->managed;
	case DK_EVENT_NETWORK:
	case DK_EVENT_VOLUME:
		return true;
	default:
		return false;
	}
}

const char *dk_events_query(void)
{
	/* {"type":["container","network","volume"],"event":["create","start",
	 * "restart","die","destroy","pause","unpause","rename","health_status",
	 * "oom","update","connect","disconnect"]}. No label filter: the
	 * engine ANDs it over all types and network/volume events carry no
	 * labels, so it would hide them (filtered here instead). Docker
	 * matches "health_status" as a prefix of "health_status: healthy". */
	return "?filters=%7B%22type%22%3A%5B%22container%22%2C%22network%22%2C"
	       "%22volume%22%5D%2C%22event%22%3A%5B%22create%22%2C%22start%22%2C"
	       "%22restart%22%2C%22die%22%2C%22destroy%22%2C%22pause%22%2C"
	       "%22unpause%22%2C%22rename%22%2C%22health_status%22%2C%22oom%22%2C"
	       "%22update%22%2C%22connect%22%2C%22disconnect%22%5D%7D";
}
