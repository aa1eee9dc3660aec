/*
 * dk-svc: see dk-svc.h. The exec's start answer is not JSON: the engine
 * takes the connection over and writes the process's output as a
 * multiplexed stream (an 8-byte header per frame: stream, 0, 0, 0, then
 * the length big-endian) until it exits, then closes. libcurl reads that as
 * a body without a length, so one ordinary request suffices; its frames
 * are split here. The exit code comes from the exec's inspect afterwards.
 */
#include "bg.h"
#include "dk.h"
#include "dk-int.h"
#include "dk-svc.h"
#include "rt.h"
#include "dk-svc-rt.h"

static uint64_t juint(struct json_object *o, const char *key)
{
	int64_t v = 0;
	return o && dk__jint(o, key, &v) && v > 0 ? (uint64_t)v : 0;
}

void dk_parse_stats(struct json_object *j, struct dk_stats *st)
{
	memset(st, 0, sizeof(*st));
	struct json_object *mem = dk__jget(j, "memory_stats", json_type_object);
	struct json_object *ms = dk__jget(mem, "stats", json_type_object);
	/* `docker stats` leaves the page cache out: inactive_file (cgroup v2)
	 * or total_inactive_file (v1). */
	uint64_t cache = juint(ms, "inactive_file");
	if (!cache) {
		cache = juint(ms, "total_inactive_file");
	}
	st->mem_usage = juint(mem, "usage");
	st->mem_usage = st->mem_usage > cache ? st->mem_usage - cache : st->mem_usage;
	st->mem_limit = juint(mem, "limit");
	struct json_object *pids = dk__jget(j, "pids_stats", json_type_object);
	st->pids = juint(pids, "current");
	st->pids_limit = juint(pids, "limit");
	struct json_object *cpu = dk__jget(j, "cpu_stats", json_type_object);
	struct json_object *pre = dk__jget(j, "precpu_stats", json_type_object);
	uint64_t c1 = juint(dk__jget(cpu, "cpu_usage", json_type_object), "total_usage");
	uint64_t c0 = juint(dk__jget(pre, "cpu_usage", json_type_object), "total_usage");
	uint64_t s1 = juint(cpu, "system_cpu_usage"), s0 = juint(pre, "system_cpu_usage");
	uint64_t ncpu = juint(cpu, "online_cpus");
	if (s1 > s0 && c1 >= c0 && s0 && ncpu) {
		st->cpu_percent = (double)(c1 - c0) / (double)(s1 - s0) * (double)ncpu * 100.0;
		st->has_cpu = true;
	}
}

int dk_container_stats(struct dk_client *dk, const char *id, struct dk_stats *st,
		struct bg_diag *d)
{
	struct json_object *j = NULL;
	char *esc = dk__url_escape(id);
	char *path = bg_xasprintf("/containers/%s/stats?stream=false", esc);
	int err = dk__guard_managed(dk, id, d);

	memset(st, 0, sizeof(*st));
	if (!err) {
		err = dk__get_json(dk, path, json_type_object, &j, d);
	}
	if (!err) {
		dk_parse_stats(j, st);
	}
	json_object_put(j);
	free(path);
	free(esc);
	return err;
}

/* Append the payload of the multiplexed frames in raw to out, up to max. */
static void demux(const struct bg_buf *raw, struct bg_buf *out)
{
	const unsigned char *p = (const unsigned char *)raw->data;
	size_t n = raw->len, i = 0;
	while (i + 8 <= n) {
		size_t len = (size_t)p[i + 4] << 24 | (size_t)p[i + 5] << 16 |
			     (size_t)p[i + 6] << 8 | p[i + 7];
		size_t take = len < n - i - 8 ? len : n - i - 8;
		size_t room = out->len < DK_CHECK_OUTPUT_MAX ? DK_CHECK_OUTPUT_MAX - out->len : 0;
		bg_buf_add(out, p + i + 8, take < room ? take : room);
		i += 8 + take;
	}
}

/* POST /exec/{eid}/start and keep the raw answer (not JSON) in out. */
static int exec_start(struct dk_client *dk, const char *eid, uint64_t timeout_ms,
		struct bg_buf *out, struct bg_diag *d)
{
	struct dk__req r;
	char *path = bg_xasprintf("/exec/%s/start", eid);
	int err;

	dk__req_init(&r);
	err = dk__req_prepare(&r, dk->easy, dk->socket, dk->api_version, "POST", path,
			"{\"Detach\":false,\"Tty\":false}", timeout_ms);
	if (err) {
		dk__error(d, "libcurl cannot talk to a unix socket (%s)", r.errbuf);
		goto out;
	}
	err = dk__req_result(&r, curl_easy_perform(dk->easy), NULL, NULL, d);
	if (out) {
		demux(&r.resp, out);
	}
out:
	dk__req_release(&r);
	free(path);
	return err;
}

int dk_exec_check(struct dk_client *dk, const char *id, char *const *argv,
		uint64_t timeout_ms, int *exit_code, struct bg_buf *out, struct bg_diag *d)
{
	struct json_object *body = json_object_new_object(), *cmd = json_object_new_array();
	struct json_object *j = NULL;
	char *esc = dk__url_escape(id), *path = NULL, *eid = NULL;
	int err;

	*exit_code = -1;
	for (size_t i = 0; argv && argv[i]; i++) {
		json_object_array_add(cmd, json_object_new_string(argv[i]));
	}
	json_object_object_add(body, "AttachStdout", json_object_new_boolean(1));
	json_object_object_add(body, "AttachStderr", json_object_new_boolean(1));
	json_object_object_add(body, "Cmd", cmd);
	err = dk__ensure_api(dk, d);
	if (!err) {
		err = dk__guard_managed(dk, id, d);
	}
	if (err) {
		goto out;
	}
	path = bg_xasprintf("/containers/%s/exec", esc);
	err = dk__call(dk, "POST", path, json_object_to_json_string_ext(body,
			JSON_C_TO_STRING_PLAIN), dk->timeout_ms, NULL, &j, d);
	const char *s = err ? NULL : dk__jstr(j, "Id");
	if (!err && !s) {
		dk__error(d, "exec in '%s': the engine's answer has no Id", id);
		err = BG_EPARSE;
	}
	if (err) {
		goto out;
	}
	eid = dk__url_escape(s);
	err = exec_start(dk, eid, timeout_ms ? timeout_ms : 2000, out, d);
	if (err) {
		goto out;
	}
	json_object_put(j);
	j = NULL;
	free(path);
	path = bg_xasprintf("/exec/%s/json", eid);
	err = dk__get_json(dk, path, json_type_object, &j, d);
	int64_t code = -1;
	if (!err && !dk__jint(j, "ExitCode", &code)) {
		dk__error(d, "exec in '%s': the engine's answer has no ExitCode", id);
		err = BG_EPARSE;
	}
	*exit_code = (int)code;
out:
	json_object_put(body);
	json_object_put(j);
	free(eid);
	free(path);
	free(esc);
	return err;
}

/* ---- the runtime members (dk-svc-rt.h) ---- */

int dk__rt_stats(struct rt *rt, const char *id, struct dk_stats *st, struct bg_diag *d)
{
	return dk_container_stats(rt__docker_client(rt), id, st, d);
}

int dk__rt_exec_check(struct rt *rt, const char *id, char *const *argv, uint64_t timeout_ms,
		int *exit_code, struct bg_buf *out, struct bg_diag *d)
{
	return dk_exec_check(rt__docker_client(rt), id, argv, timeout_ms, exit_code, out, d);
}
