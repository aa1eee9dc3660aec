/*
 * dk-act: the Docker client's actions (dk.h "actions"): create, start,
 * stop and remove containers, connect them to networks, create networks
 * and volumes, remove volumes, pull images. Every destructive call checks
 * first that its target carries io.bluegreen.managed=true; every create
 * refuses labels without it.
 */
#include "bg.h"
#include "dk.h"
#include "dk-int.h"
#include "bg-log.h"
#include "bg-util.h"

/* ---- actions ---- */

static bool labels_have_managed(const struct obs_labels *l)
{
	const char *v = l ? obs_labels_get(l, BG_LABEL_MANAGED) : NULL;
	return v && strcmp(v, "true") == 0;
}

static struct json_object *labels_json(const struct obs_labels *l)
{
	struct json_object *o = json_object_new_object();
	for (size_t i = 0; l && i < l->n; i++) {
		json_object_object_add(o, l->v[i].key,
				json_object_new_string(l->v[i].value));
	}
	return o;
}

static struct json_object *strv_json(char *const *v)
{
	struct json_object *a = json_object_new_array();
	for (size_t i = 0; v && v[i]; i++) {
		json_object_array_add(a, json_object_new_string(v[i]));
	}
	return a;
}

/* Serialise and drop the object: a new string. */
static char *json_take_string(struct json_object *o)
{
	char *s = bg_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* Resource limits: only when set, so a request without them is byte for
 * byte what it was before limits existed. */
static void host_limits_add(struct json_object *host, const struct dk_container_spec *s)
{
	if (s->memory_bytes) {
		json_object_object_add(host, "Memory", json_object_new_int64((int64_t)s->memory_bytes));
	}
	if (s->nano_cpus) {
		json_object_object_add(host, "NanoCpus", json_object_new_int64((int64_t)s->nano_cpus));
	}
	if (s->pids_limit) {
		json_object_object_add(host, "PidsLimit", json_object_new_int64(s->pids_limit));
	}
}

static char *container_body(const struct dk_container_spec *s)
{
	struct json_object *o = json_object_new_object();
	struct json_object *host = json_object_new_object();

	json_object_object_add(o, "Image", json_object_new_string(s->image));
	if (s->cmd) {
		json_object_object_add(o, "Cmd", strv_json(s->cmd));
	}
	if (s->env) {
		json_object_object_add(o, "Env", strv_json(s->env));
	}
	json_object_object_add(o, "Labels", labels_json(s->labels));
	if (s->expose_port) {
		struct json_object *ports = json_object_new_object();
		char key[32];
		snprintf(key, sizeof(key), "%u/tcp", s->expose_port);
		json_object_object_add(ports, key, json_object_new_object());
		json_object_object_add(o, "ExposedPorts", ports);
	}
	if (s->stop_signal) {
		json_object_object_add(o, "StopSignal", json_object_new_string(s->stop_signal));
	}
	if (s->stop_timeout_s > 0) {
		json_object_object_add(o, "StopTimeout", json_object_new_int(s->stop_timeout_s));
	}
	if (s->expose_port && s->publish_port) {
		struct json_object *pb = json_object_new_object();
		struct json_object *list = json_object_new_array();
		struct json_object *bind = json_object_new_object();
		char key[32], port[16];
		snprintf(key, sizeof(key), "%u/tcp", s->expose_port);
		snprintf(port, sizeof(port), "%u", s->publish_port);
		json_object_object_add(bind, "HostIp", json_object_new_string(
				s->publish_ip ? s->publish_ip : "127.0.0.1"));
		json_object_object_add(bind, "HostPort", json_object_new_string(port));
		json_object_array_add(list, bind);
		json_object_object_add(pb, key, list);
		json_object_object_add(host, "PortBindings", pb);
	}
	if (s->restart_policy) {
		struct json_object *rp = json_object_new_object();
		json_object_object_add(rp, "Name", json_object_new_string(s->restart_policy));
		json_object_object_add(host, "RestartPolicy", rp);
	}
	if (s->n_mounts) {
		struct json_object *mounts = json_object_new_array();
		for (size_t i = 0; i < s->n_mounts; i++) {
			struct json_object *m = json_object_new_object();
			json_object_object_add(m, "Type", json_object_new_string("volume"));
			json_object_object_add(m, "Source",
					json_object_new_string(s->mounts[i].volume));
			json_object_object_add(m, "Target",
					json_object_new_string(s->mounts[i].target));
			json_object_array_add(mounts, m);
		}
		json_object_object_add(host, "Mounts", mounts);
	}
	if (s->network) {
		/* API 1.41 attaches at create to one network only, and only if
		 * NetworkMode names it too (what the docker CLI sends). */
		struct json_object *nc = json_object_new_object();
		struct json_object *eps = json_object_new_object();
		struct json_object *ep = json_object_new_object();
		json_object_object_add(host, "NetworkMode", json_object_new_string(s->network));
		if (s->aliases) {
			json_object_object_add(ep, "Aliases", strv_json(s->aliases));
		}
		json_object_object_add(eps, s->network, ep);
		json_object_object_add(nc, "EndpointsConfig", eps);
		json_object_object_add(o, "NetworkingConfig", nc);
	}
	host_limits_add(host, s);
	json_object_object_add(o, "HostConfig", host);
	return json_take_string(o);
}

int dk_container_create(struct dk_client *dk, const struct dk_container_spec *spec,
		char **id, struct bg_diag *d)
{
	struct json_object *j = NULL;
	char *body = NULL, *esc, *path;
	const char *s;
	int err;

	*id = NULL;
	if (!labels_have_managed(spec->labels)) {
		dk__error(d, "refusing to create container '%s' without the label "
				BG_LABEL_MANAGED "=true", spec->name);
		return BG_EREFUSED;
	}
	esc = dk__url_escape(spec->name);
	path = bg_xasprintf("/containers/create?name=%s", esc);
	body = container_body(spec);
	err = dk__call(dk, "POST", path, body, dk->timeout_ms, NULL, &j, d);
	if (err) {
		goto out;
	}
	s = dk__jstr(j, "Id");
	if (!s) {
		dk__error(d, "container '%s': the engine's answer has no Id", spec->name);
		err = BG_EPARSE;
		goto out;
	}
	*id = bg_xstrdup(s);
	struct json_object *warn = dk__jget(j, "Warnings", json_type_array);
	for (size_t i = 0; warn && i < json_object_array_length(warn); i++) {
		struct json_object *w = json_object_array_get_idx(warn, i);
		if (json_object_is_type(w, json_type_string)) {
			bg_log(BG_LOG_WARN, "container '%s': %s", spec->name,
					json_object_get_string(w));
		}
	}
out:
	json_object_put(j);
	free(body);
	free(path);
	free(esc);
	return err;
}

static int container_post(struct dk_client *dk, const char *id, const char *what,
		const char *query, uint64_t timeout_ms, struct bg_diag *d)
{
	char *esc = dk__url_escape(id);
	char *path = bg_xasprintf("/containers/%s/%s%s", esc, what, query ? query : "");
	long status = 0;
	int err = dk__guard_managed(dk, id, d);

	if (!err) {
		/* 304: already in that state, which is what we wanted. */
		err = dk__call(dk, "POST", path, NULL, timeout_ms, &status, NULL, d);
	}
	free(path);
	free(esc);
	return err;
}

int dk_container_start(struct dk_client *dk, const char *id, struct bg_diag *d)
{
	return container_post(dk, id, "start", NULL, dk->timeout_ms, d);
}

int dk_container_stop(struct dk_client *dk, const char *id, int timeout_s,
		struct bg_diag *d)
{
	char query[32];
	if (timeout_s < 0) {
		timeout_s = 0;
	}
	snprintf(query, sizeof(query), "?t=%d", timeout_s);
	return container_post(dk, id, "stop", query,
			(uint64_t)timeout_s * 1000 + DK_STOP_MARGIN_MS, d);
}

int dk_container_remove(struct dk_client *dk, const char *id, struct bg_diag *d)
{
	struct bg_diag tmp;
	char *esc, *path;
	int err;

	bg_diag_init(&tmp);
	err = dk__guard_managed(dk, id, &tmp);
	if (err == BG_ENOT_FOUND) {
		err = 0; /* already gone */
		goto out;
	}
	if (err) {
		goto out;
	}
	esc = dk__url_escape(id);
	/* v=0: anonymous volumes may hold data; never dropped implicitly. */
	path = bg_xasprintf("/containers/%s?force=1&v=0", esc);
	err = dk__call(dk, "DELETE", path, NULL, dk->timeout_ms + DK_STOP_MARGIN_MS,
			NULL, NULL, &tmp);
	if (err == BG_ENOT_FOUND) {
		err = 0;
	}
	free(path);
	free(esc);
out:
	if (err && d) {
		bg_diag_merge(d, &tmp);
	}
	bg_diag_release(&tmp);
	return err;
}

/* Is container id attached to network (by name or id)? */
static bool container_on_network(struct dk_client *dk, const char *id,
		const char *network)
{
	struct json_object *j = NULL;
	bool on = false;

	if (dk__inspect_json(dk, id, &j, NULL) == 0) {
		struct json_object *nets = dk__jget(dk__jget(j, "NetworkSettings",
				json_type_object), "Networks", json_type_object);
		if (nets) {
			json_object_object_foreach(nets, name, ep) {
				const char *nid = dk__jstr(ep, "NetworkID");
				if (strcmp(name, network) == 0 ||
						(nid && strcmp(nid, network) == 0)) {
					on = true;
				}
			}
		}
	}
	json_object_put(j);
	return on;
}

int dk_network_connect(struct dk_client *dk, const char *network, const char *id,
		char *const *aliases, struct bg_diag *d)
{
	struct json_object *o = json_object_new_object();
	struct json_object *ep = json_object_new_object();
	struct bg_diag tmp;
	char *esc = dk__url_escape(network);
	char *path = bg_xasprintf("/networks/%s/connect", esc);
	char *body;
	int err;

	json_object_object_add(o, "Container", json_object_new_string(id));
	if (aliases) {
		json_object_object_add(ep, "Aliases", strv_json(aliases));
	}
	json_object_object_add(o, "EndpointConfig", ep);
	body = json_take_string(o);
	bg_diag_init(&tmp);
	err = dk__call(dk, "POST", path, body, dk->timeout_ms, NULL, NULL, &tmp);
	/* 20.10 answers 403 "endpoint with name ... already exists in
	 * network ...": already connected is what we asked for. */
	if (err == BG_EDOCKER && container_on_network(dk, id, network)) {
		err = 0;
	}
	if (err && d) {
		bg_diag_merge(d, &tmp);
	}
	bg_diag_release(&tmp);
	free(body);
	free(path);
	free(esc);
	return err;
}

int dk_network_create(struct dk_client *dk, const char *name,
		const struct obs_labels *labels, bool internal, struct bg_diag *d)
{
	struct json_object *o;
	struct bg_diag tmp;
	char *body;
	int err;

	if (!labels_have_managed(labels)) {
		dk__error(d, "refusing to create network '%s' without the label "
				BG_LABEL_MANAGED "=true", name);
		return BG_EREFUSED;
	}
	o = json_object_new_object();
	json_object_object_add(o, "Name", json_object_new_string(name));
	json_object_object_add(o, "CheckDuplicate", json_object_new_boolean(1));
	json_object_object_add(o, "Driver", json_object_new_string("bridge"));
	json_object_object_add(o, "Internal", json_object_new_boolean(internal));
	json_object_object_add(o, "Labels", labels_json(labels));
	body = json_take_string(o);
	bg_diag_init(&tmp);
	err = dk__call(dk, "POST", "/networks/create", body, dk->timeout_ms, NULL, NULL,
			&tmp);
	if (err == BG_ECONFLICT) {
		/* "network with name x already exists": ours or not? */
		bool exists = false, managed = false;
		bg_diag_release(&tmp);
		err = dk_name_taken(dk, "network", name, &exists, &managed, &tmp);
		if (!err && exists && managed) {
			goto out; /* ours already: nothing to do */
		}
		if (!err && exists) {
			dk__error(&tmp, "network '%s' already exists and is not managed "
					"by bluegreen (no label " BG_LABEL_MANAGED "=true); "
					"rename or remove it", name);
		} else if (!err) {
			dk__error(&tmp, "network '%s': the engine reports a conflict, "
					"but lists no network of that name", name);
		}
		if (!err) {
			err = BG_ECONFLICT;
		}
	}
out:
	if (err && d) {
		bg_diag_merge(d, &tmp);
	}
	bg_diag_release(&tmp);
	free(body);
	return err;
}

int dk_volume_create(struct dk_client *dk, const char *name,
		const struct obs_labels *labels, struct bg_diag *d)
{
	struct json_object *o, *j = NULL, *got = NULL;
	char *body;
	int err;

	if (!labels_have_managed(labels)) {
		dk__error(d, "refusing to create volume '%s' without the label "
				BG_LABEL_MANAGED "=true", name);
		return BG_EREFUSED;
	}
	o = json_object_new_object();
	json_object_object_add(o, "Name", json_object_new_string(name));
	json_object_object_add(o, "Labels", labels_json(labels));
	body = json_take_string(o);
	/* The engine answers 201 with the existing volume, labels and all,
	 * when the name is taken: that answer is the check. */
	err = dk__call(dk, "POST", "/volumes/create", body, dk->timeout_ms, NULL, &j, d);
	if (err) {
		goto out;
	}
	json_object_object_get_ex(j, "Labels", &got);
	if (!dk_labels_managed(got)) {
		dk__error(d, "volume '%s' already exists and is not managed by "
				"bluegreen (no label " BG_LABEL_MANAGED "=true); rename or "
				"remove it", name);
		err = BG_ECONFLICT;
	}
out:
	json_object_put(j);
	free(body);
	return err;
}

int dk_volume_remove(struct dk_client *dk, const char *name, struct bg_diag *d)
{
	struct json_object *j = NULL, *labels = NULL;
	struct bg_diag tmp;
	char *esc = dk__url_escape(name);
	char *path = bg_xasprintf("/volumes/%s", esc);
	int err;

	bg_diag_init(&tmp);
	err = dk__get_json(dk, path, json_type_object, &j, &tmp);
	if (err == BG_ENOT_FOUND) {
		err = 0;
		goto out;
	}
	if (err) {
		goto out;
	}
	json_object_object_get_ex(j, "Labels", &labels);
	if (!dk_labels_managed(labels)) {
		dk__error(&tmp, "volume '%s' is not managed by bluegreen (no label "
				BG_LABEL_MANAGED "=true); not touching it", name);
		err = BG_ECONFLICT;
		goto out;
	}
	err = dk__call(dk, "DELETE", path, NULL, dk->timeout_ms, NULL, NULL, &tmp);
	if (err == BG_ENOT_FOUND) {
		err = 0;
	}
out:
	if (err && d) {
		bg_diag_merge(d, &tmp);
	}
	bg_diag_release(&tmp);
	json_object_put(j);
	free(path);
	free(esc);
	return err;
}

/*
 * "registry:5000/a/b:tag" -> ("registry:5000/a/b", "tag"); a digest
 * ("name@sha256:...") goes in tag too; no tag means "latest", because an
 * empty tag would make the engine pull every tag of the repository.
 */
static void ref_split(const char *ref, char **name, char **tag)
{
	const char *at = strchr(ref, '@');
	const char *slash = strrchr(ref, '/');
	const char *colon = strrchr(ref, ':');

	if (at) {
		*name = bg_xstrndup(ref, (size_t)(at - ref));
		*tag = bg_xstrdup(at + 1);
	} else if (colon && (!slash || colon > slash)) {
		*name = bg_xstrndup(ref, (size_t)(colon - ref));
		*tag = bg_xstrdup(colon + 1);
	} else {
		*name = bg_xstrdup(ref);
		*tag = bg_xstrdup("latest");
	}
}

int dk_image_pull(struct dk_client *dk, const char *ref, struct bg_diag *d)
{
	struct dk__pull_state ps = {0};
	struct dk_stream s;
	struct dk__req r;
	char *name, *tag, *ename, *etag, *path;
	int err;

	err = dk__ensure_api(dk, d);
	if (err) {
		return err;
	}
	ref_split(ref, &name, &tag);
	ename = dk__url_escape(name);
	etag = dk__url_escape(tag);
	path = bg_xasprintf("/images/create?fromImage=%s&tag=%s", ename, etag);
	dk_stream_init(&s, DK_STREAM_VALUE_MAX, dk__pull_value, &ps);
	dk__req_init(&r);
	err = dk__req_prepare(&r, dk->easy, dk->socket, dk->api_version, "POST",
			path, NULL, DK_PULL_TIMEOUT_MS);
	if (err) {
		dk__error(d, "libcurl cannot talk to a unix socket (%s)", r.errbuf);
		goto out;
	}
	/* Progress flows while layers download. */
	err = dk__req_stream(&r, dk->easy, &s, d);
	if (!err && ps.error) {
		/* The failure came inside a 200 progress stream. */
		dk__error(d, "%s", ps.error);
		err = BG_EDOCKER;
	}
out:
	dk__req_release(&r);
	dk_stream_release(&s);
	free(ps.error);
	free(path);
	free(etag);
	free(ename);
	free(tag);
	free(name);
	return err;
}

