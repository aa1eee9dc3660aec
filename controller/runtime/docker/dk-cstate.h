/*
 * dk-cstate: a container's run state as the health gate needs it between
 * probes (rec-colour-apply.c): the engine's state, the last exit code,
 * how many times the restart policy restarted it, whether the kernel's OOM
 * killer ended it and the engine's own error. One inspect, nothing kept
 * but these few fields, so it is cheap at the probe interval.
 */
#ifndef BG_CONTROLLER_DK_CSTATE_H
#define BG_CONTROLLER_DK_CSTATE_H

#include "bg.h"
#include "obs.h"

struct dk_client;
struct json_object;

struct dk_cstate {
	enum obs_cstate state;
	int exit_code;          /* State.ExitCode: the last exit (0 while running) */
	unsigned restart_count; /* RestartCount: restarts by the restart policy */
	bool oom_killed;        /* State.OOMKilled */
	int pid;                /* State.Pid: its first process on this host, 0 when none */
	char error[200];        /* State.Error (cut), "" when none: no release needed */
};

/* From an inspect document (pure; the unit tests use it). BG_EPARSE when
 * State or State.Status is missing; *st is zeroed first. */
int dk_parse_cstate(struct json_object *j, struct dk_cstate *st, struct bg_diag *d);

/* GET /containers/{id}/json, managed containers only (an unmanaged one
 * answers BG_ENOT_FOUND, as dk_container_inspect). */
int dk_container_cstate(struct dk_client *dk, const char *id_or_name, struct dk_cstate *st,
		struct bg_diag *d);

/* Both of one GET (issue 11: the gate's first probe asked twice): c as
 * dk_container_inspect, *st as dk_container_cstate, *st_err its parse. */
int dk_container_inspect_cstate(struct dk_client *dk, const char *id_or_name,
		struct obs_container *c, struct dk_cstate *st, int *st_err, struct bg_diag *d);

#endif /* BG_CONTROLLER_DK_CSTATE_H */
