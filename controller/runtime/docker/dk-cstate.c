/*
 * dk-cstate: see dk-cstate.h. Separate from dk_container_inspect because
 * obs_container has no restart count and the gate needs nothing else of
 * the document: parsing the networks and labels again at every probe
 * would be wasted. Where the gate needs both (its probe: the address and
 * the run state), dk_container_inspect_cstate parses both from one GET.
 */
#include "bg.h"
#include "dk-cstate.h"
#include "dk-int.h"
#include "dk-json.h"

#include <json-c/json.h>

static int clamp_int(int64_t v)
{
	return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int)v;
}

int dk_parse_cstate(struct json_object *j, struct dk_cstate *st, struct bg_diag *d)
{
	struct json_object *state = dk__jget(j, "State", json_type_object);
	struct json_object *oom = NULL;
	const char *status = dk__jstr(state, "Status");
	const char *error = dk__jstr(state, "Error");
	int64_t v = 0;

	memset(st, 0, sizeof(*st));
	if (!status) {
		dk__error(d, "container inspect: missing %s", state ? "State.Status" : "State");
		return BG_EPARSE;
	}
	st->state = obs_cstate_parse(status);
	if (dk__jint(state, "ExitCode", &v)) {
		st->exit_code = clamp_int(v);
	}
	if (dk__jint(state, "Pid", &v) && v > 0 && v <= INT32_MAX) {
		st->pid = (int)v;
	}
	if (dk__jint(j, "RestartCount", &v) && v > 0) {
		st->restart_count = v > UINT32_MAX ? UINT32_MAX : (unsigned)v;
	}
	if (state && json_object_object_get_ex(state, "OOMKilled", &oom) &&
			json_object_is_type(oom, json_type_boolean)) {
		st->oom_killed = json_object_get_boolean(oom);
	}
	snprintf(st->error, sizeof(st->error), "%s", error ? error : "");
	return 0;
}

int dk_container_cstate(struct dk_client *dk, const char *id_or_name, struct dk_cstate *st,
		struct bg_diag *d)
{
	struct json_object *j = NULL;
	int err = dk__inspect_ours(dk, id_or_name, &j, d);

	memset(st, 0, sizeof(*st));
	if (!err) {
		err = dk_parse_cstate(j, st, d);
	}
	json_object_put(j);
	return err;
}

int dk_container_inspect_cstate(struct dk_client *dk, const char *id_or_name,
		struct obs_container *c, struct dk_cstate *st, int *st_err, struct bg_diag *d)
{
	struct json_object *j = NULL;
	int err = dk__inspect_ours(dk, id_or_name, &j, d);

	memset(st, 0, sizeof(*st));
	*st_err = err;
	if (!err) {
		*st_err = dk_parse_cstate(j, st, d);
		err = dk_parse_container_inspect(j, c, d);
	}
	json_object_put(j);
	return err;
}
