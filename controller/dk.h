/*
 * dk: the Docker Engine API client. HTTP over the engine's unix socket with
 * libcurl (CURLOPT_UNIX_SOCKET_PATH), JSON through json-c. The API version
 * is negotiated once from GET /version (the engine's ApiVersion, capped at
 * the newest version we speak, never below 1.41). Every call has a
 * timeout. When the engine answers with an error, its own message ("No
 * such image: bars/web:9") reaches the caller's diagnostics, never a bare
 * status code; a socket that cannot be reached is named in the message.
 *
 * A request is built and its response parsed separately from how it is
 * transported: one-shot commands perform it blocking (curl easy), the
 * watch daemon drives the same requests through curl multi under libuv
 * (dk_req_* and dkev.h). Every typed call below is built on dk_req.
 *
 * Scope (SPEC §4): the list calls return only objects labelled
 * io.bluegreen.managed=true. The only way to learn about anything else is
 * dk_name_taken(), which answers yes/no for a name and nothing more.
 */
#ifndef BG_CONTROLLER_DK_H
#define BG_CONTROLLER_DK_H

#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "obs.h"

#include <json-c/json.h>

#define DK_API_MIN "1.41"
#define DK_API_MAX "1.47"
#define DK_DEFAULT_SOCKET "/var/run/docker.sock"
#define DK_DEFAULT_TIMEOUT_MS 30000
#define DK_RESPONSE_MAX (64u * 1024 * 1024)

struct dk_client;

/*
 * Create a client for the engine at socket_path. Does no I/O: the version
 * is negotiated on first use (or explicitly by dk_client_negotiate).
 */
int dk_client_create(struct dk_client **out, const char *socket_path);
void dk_client_destroy(struct dk_client *dk); /* NULL-safe */
const char *dk_client_socket(const struct dk_client *dk);
void dk_client_set_timeout(struct dk_client *dk, uint64_t ms);

/* GET /version; fills engine and API versions (borrowed, live as long as dk). */
int dk_client_negotiate(struct dk_client *dk, struct bg_diag *d);
const char *dk_client_engine_version(const struct dk_client *dk);
const char *dk_client_api_version(const struct dk_client *dk);

/*
 * One request. method "GET"/"POST"/"DELETE"; path without the version
 * prefix ("/containers/json?all=1"); body is JSON text or NULL. On return,
 * *status is the HTTP status and *out (if not NULL) the parsed JSON body
 * (a new reference, NULL when the body is empty or not JSON). A transport
 * failure returns BG_EDOCKER_UNREACHABLE / BG_ETIMEOUT with a message in
 * d. HTTP errors (>= 400) return BG_EDOCKER (BG_ENOT_FOUND for 404,
 * BG_ECONFLICT for 409) with the engine's "message" in d.
 */
int dk_request(struct dk_client *dk, const char *method, const char *path,
		const char *body, long *status, struct json_object **out,
		struct bg_diag *d);

/* ---- observation (labelled objects only) ---- */

/* List + inspect every managed container into o (obs_container_add). */
int dk_containers_observe(struct dk_client *dk, struct obs *o, struct bg_diag *d);
/* Inspect one container by id or name into *c (caller releases). Managed only:
 * an unlabelled container answers BG_ENOT_FOUND. */
int dk_container_inspect(struct dk_client *dk, const char *id_or_name,
		struct obs_container *c, struct bg_diag *d);
int dk_networks_observe(struct dk_client *dk, struct obs *o, struct bg_diag *d);
int dk_volumes_observe(struct dk_client *dk, struct obs *o, struct bg_diag *d);
/* Resolve a reference to a local image id; *id NULL (and 0 returned) when absent. */
int dk_image_id(struct dk_client *dk, const char *ref, char **id, struct bg_diag *d);
/*
 * Whether an object of kind ("container", "network", "volume") with exactly
 * this name exists; *managed says whether it carries our label. Used only to
 * refuse name collisions with objects we must not touch.
 */
int dk_name_taken(struct dk_client *dk, const char *kind, const char *name,
		bool *exists, bool *managed, struct bg_diag *d);

/* ---- actions (callers pass only managed names/ids) ---- */

struct dk_mount {
	const char *volume; /* full volume name */
	const char *target;
};

struct dk_container_spec {
	const char *name;
	const char *image;
	char *const *cmd;  /* NULL-terminated, NULL: image default */
	char *const *env;  /* "KEY=VALUE", NULL-terminated, may be NULL */
	const struct obs_labels *labels; /* must include io.bluegreen.managed=true */
	const char *network;             /* joined at create (EndpointsConfig) */
	char *const *aliases;            /* DNS aliases on `network`, may be NULL */
	const struct dk_mount *mounts;
	size_t n_mounts;
	const char *restart_policy;      /* e.g. "unless-stopped" */
	const char *stop_signal;         /* e.g. "SIGTERM" */
	int stop_timeout_s;
	unsigned expose_port;            /* 0: none; else ExposedPorts "<port>/tcp" */
};

int dk_container_create(struct dk_client *dk, const struct dk_container_spec *spec,
		char **id, struct bg_diag *d);
int dk_container_start(struct dk_client *dk, const char *id, struct bg_diag *d);
/* Stop with the container's own signal and a grace of timeout_s. Stopping a
 * stopped container is success (idempotent). */
int dk_container_stop(struct dk_client *dk, const char *id, int timeout_s,
		struct bg_diag *d);
/* Remove (force stops if running). Removing a missing container is success. */
int dk_container_remove(struct dk_client *dk, const char *id, struct bg_diag *d);
int dk_network_connect(struct dk_client *dk, const char *network, const char *id,
		char *const *aliases, struct bg_diag *d);

/* Create if missing (idempotent); labels must include the managed label. */
int dk_network_create(struct dk_client *dk, const char *name,
		const struct obs_labels *labels, bool internal, struct bg_diag *d);
int dk_volume_create(struct dk_client *dk, const char *name,
		const struct obs_labels *labels, struct bg_diag *d);
int dk_volume_remove(struct dk_client *dk, const char *name, struct bg_diag *d);
/* POST /images/create?fromImage=...: pull; the engine's error reaches d. */
int dk_image_pull(struct dk_client *dk, const char *ref, struct bg_diag *d);

/* ---- building blocks shared with the event loop (dkev) ---- */

/*
 * Parse one container inspect document (GET /containers/{id}/json) into c.
 * Pure: the fuzz target and the event loop use it.
 */
int dk_parse_container_inspect(struct json_object *j, struct obs_container *c,
		struct bg_diag *d);
/* The versioned URL for a path ("http://localhost/v1.41/..."), a new string. */
char *dk_client_url(const struct dk_client *dk, const char *path);
/* Configure a curl easy handle for this client (socket, timeouts). */
void dk_client_setup_easy(const struct dk_client *dk, void *curl_easy);

#endif /* BG_CONTROLLER_DK_H */
