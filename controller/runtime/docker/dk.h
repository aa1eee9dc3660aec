/*
 * dk: the Docker Engine API client. HTTP over the engine's unix socket with
 * libcurl (CURLOPT_UNIX_SOCKET_PATH), JSON through json-c. The API version
 * is negotiated once from GET /_ping's headers (the engine's ApiVersion, capped at
 * the newest version we speak, never below 1.41). Every call has a
 * timeout. When the engine answers with an error, its own message ("No
 * such image: bars/web:9") reaches the caller's diagnostics, never a bare
 * status code; a socket that cannot be reached is named in the message.
 *
 * A request is built and its response parsed separately from how it is
 * transported: one-shot commands perform it blocking (curl easy), the
 * watch daemon drives the same requests through curl multi under libuv
 * (dk-int.h and dkev.h). Every typed call below is built on dk_request.
 *
 * Scope (SPEC §4): the list calls return only objects labelled
 * io.bluegreen.managed=true. The only way to learn about anything else is
 * dk_name_taken(), which answers yes/no for a name and nothing more.
 *
 * Every `struct bg_diag *d` below may be NULL (the message is then lost);
 * messages are added as errors, in the engine's own words when it gave any.
 * Nothing here ever logs a request body (it may carry environment values).
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
/* Connecting to a local socket is instant or never: do not wait long. */
#define DK_CONNECT_TIMEOUT_MS 5000
/* Stop: the engine waits timeout_s for the container, then kills it. */
#define DK_STOP_MARGIN_MS 30000
/* Pull: a whole image may take long; a stalled one is cut sooner. */
#define DK_PULL_TIMEOUT_MS (30u * 60 * 1000)
#define DK_PULL_STALL_S 120
/* One JSON value of a stream (/events, pull progress) may not exceed this. */
#define DK_STREAM_VALUE_MAX (1024u * 1024)

struct dk_client;

/*
 * Create a client for the engine at socket_path (NULL: DK_DEFAULT_SOCKET).
 * Does no I/O: the version is negotiated on first use (or explicitly by
 * dk_client_negotiate).
 */
int dk_client_create(struct dk_client **out, const char *socket_path);
void dk_client_destroy(struct dk_client *dk); /* NULL-safe */
const char *dk_client_socket(const struct dk_client *dk);
/* Total time of an ordinary request (default DK_DEFAULT_TIMEOUT_MS). */
void dk_client_set_timeout(struct dk_client *dk, uint64_t ms);

/*
 * GET /_ping (its Api-Version and Server headers; /version when they are
 * missing): the API version is the engine's ApiVersion capped at
 * DK_API_MAX; an engine below DK_API_MIN is refused (BG_EDOCKER) with a
 * message naming both versions. The strings are borrowed and live as long
 * as dk; NULL before a successful negotiation.
 */
int dk_client_negotiate(struct dk_client *dk, struct bg_diag *d);
const char *dk_client_engine_version(const struct dk_client *dk);
const char *dk_client_api_version(const struct dk_client *dk);

/*
 * One request. method "GET"/"POST"/"DELETE"; path without the version
 * prefix ("/containers/json?all=1"), already URL-encoded; body is JSON text
 * or NULL. Negotiates the version first if that was not done yet. On
 * return, *status (may be NULL) is the HTTP status (0 if there was none)
 * and *out (may be NULL) the parsed JSON body (a new reference: the caller
 * puts it; NULL when the body is empty or not JSON, and on any error).
 * A transport failure returns BG_EDOCKER_UNREACHABLE / BG_ETIMEOUT with a
 * message naming the socket; a response beyond DK_RESPONSE_MAX returns
 * BG_ETOO_BIG. HTTP errors (>= 400) return BG_EDOCKER (BG_ENOT_FOUND for
 * 404, BG_ECONFLICT for 409) with the engine's "message" in d. 1xx-3xx
 * statuses (304 included) return 0: the caller decides what they mean.
 */
int dk_request(struct dk_client *dk, const char *method, const char *path,
		const char *body, long *status, struct json_object **out,
		struct bg_diag *d);

/* ---- observation (labelled objects only) ---- */

/*
 * The engine part of a snapshot: negotiates (again: a new engine may be
 * behind the socket), then sets o->engine_version and o->api_version. The
 * objects come from the *_observe calls below.
 */
int dk_engine_observe(struct dk_client *dk, struct obs *o, struct bg_diag *d);
/*
 * List + inspect every managed container into o (obs_container_add), each
 * with obs_container_derive() applied. A container that vanishes between
 * the list and its inspect is left out.
 */
int dk_containers_observe(struct dk_client *dk, struct obs *o, struct bg_diag *d);
/* Inspect one container by id or name into *c (zeroed by the caller; the
 * caller releases it with obs_container_release on success; on error it
 * is left zeroed). Managed only: an unlabelled container answers
 * BG_ENOT_FOUND, exactly like a missing one. */
int dk_container_inspect(struct dk_client *dk, const char *id_or_name,
		struct obs_container *c, struct bg_diag *d);
int dk_networks_observe(struct dk_client *dk, struct obs *o, struct bg_diag *d);
int dk_volumes_observe(struct dk_client *dk, struct obs *o, struct bg_diag *d);
/* Resolve a reference to a local image id ("sha256:..."), a new string;
 * *id NULL (and 0 returned) when the image is absent. */
int dk_image_id(struct dk_client *dk, const char *ref, char **id, struct bg_diag *d);
/*
 * Whether an object of kind ("container", "network", "volume") with exactly
 * this name exists; *managed says whether it carries our label. Used only to
 * refuse name collisions with objects we must not touch. (Docker's name
 * filters match substrings or regular expressions: this compares exactly.)
 */
int dk_name_taken(struct dk_client *dk, const char *kind, const char *name,
		bool *exists, bool *managed, struct bg_diag *d);

/*
 * The names held by objects of kind ("container", "network", "volume") that
 * do NOT carry our label, sorted, from one list call: the planner needs only
 * to know which of its names are taken by someone else (never touched).
 */
int dk_names_unmanaged(struct dk_client *dk, const char *kind, struct bg_strv *out,
		struct bg_diag *d);
/*
 * Every local image tag ("repo:tag", as the engine spells it) and its image
 * id, in two parallel lists, from one GET /images/json. A reference written
 * differently (docker.io/library/..., a digest) is not found here: callers
 * fall back to dk_image_id for those.
 */
int dk_image_tags(struct dk_client *dk, struct bg_strv *tags, struct bg_strv *ids,
		struct bg_diag *d);

/* ---- actions (callers pass only managed names/ids) ---- */

struct dk_mount {
	const char *volume; /* full volume name */
	const char *target;
};

/* One secret mounted as a file (issue 17): value never printed. */
struct dk_secret {
	const char *key;   /* the env key, e.g. DB_PASSWORD */
	const char *name;  /* bg-SITE-KEY-HASH12 (keyed hash of the value); NULL: no key */
	const char *value; /* the secret itself: never print or log it */
	const char *file;  /* the file name under /run/secrets (the key) */
	unsigned uid, gid, mode;
};

struct dk_container_spec {
	const char *name;
	const char *image;
	char *const *cmd;  /* NULL-terminated, NULL: image default */
	char *const *env;  /* "KEY=VALUE", NULL-terminated, may be NULL */
	const struct obs_labels *labels; /* must include io.bluegreen.managed=true */
	const char *network;             /* joined at create (EndpointsConfig), may be NULL */
	char *const *aliases;            /* DNS aliases on `network`, may be NULL */
	const struct dk_mount *mounts;
	size_t n_mounts;
	const char *restart_policy;      /* e.g. "unless-stopped", NULL: engine default */
	const char *stop_signal;         /* e.g. "SIGTERM", NULL: image default */
	int stop_timeout_s;              /* 0: engine default */
	unsigned expose_port;            /* 0: none; else ExposedPorts "<port>/tcp" */
	/*
	 * Publish expose_port on publish_ip:publish_port (HostConfig.PortBindings);
	 * 0: not published. Docker keeps a binding across restarts, which is why
	 * the nginx edge points at it rather than at an address that can move.
	 */
	const char *publish_ip;
	unsigned publish_port;
	/* Limits (HostConfig Memory, NanoCpus, PidsLimit); 0: none. */
	uint64_t memory_bytes;
	uint64_t nano_cpus;
	unsigned pids_limit;
	/*
	 * Issue 17: the env keys whose values are secret (NULL-terminated, may
	 * be NULL), and with the site's secrets.as files the secrets to mount
	 * instead (their env holds KEY_FILE, not KEY). Only the Swarm runtime
	 * mounts them (sw-secrets.c); the engine runtime ignores both (a
	 * config with files is refused unless docker.mode is swarm).
	 */
	char *const *secret_keys;
	const struct dk_secret *secrets;
	size_t n_secrets;
};

/*
 * POST /containers/create?name=...; *id gets the new id (a new string).
 * Labels without io.bluegreen.managed=true are refused (BG_EREFUSED)
 * before anything is sent. A taken name answers BG_ECONFLICT, a missing
 * image BG_ENOT_FOUND, each with the engine's message.
 */
int dk_container_create(struct dk_client *dk, const struct dk_container_spec *spec,
		char **id, struct bg_diag *d);
/*
 * start, stop and remove first check that the container carries our label
 * (an unmanaged one answers BG_ECONFLICT and is not touched). Starting a
 * running container is success (304).
 */
int dk_container_start(struct dk_client *dk, const char *id, struct bg_diag *d);
/* Stop with the container's own signal and a grace of timeout_s. Stopping a
 * stopped container is success (idempotent). */
int dk_container_stop(struct dk_client *dk, const char *id, int timeout_s,
		struct bg_diag *d);
/* Remove (force stops if running). Removing a missing container is success.
 * Anonymous volumes are kept (they may hold data: SPEC §4). */
int dk_container_remove(struct dk_client *dk, const char *id, struct bg_diag *d);
/* Connect a container to a network with DNS aliases (may be NULL). Already
 * connected is success. */
int dk_network_connect(struct dk_client *dk, const char *network, const char *id,
		char *const *aliases, struct bg_diag *d);

/* Create if missing (idempotent); labels must include the managed label.
 * A network or volume of that name without our label answers BG_ECONFLICT
 * with a message naming it. */
int dk_network_create(struct dk_client *dk, const char *name,
		const struct obs_labels *labels, bool internal, struct bg_diag *d);
int dk_volume_create(struct dk_client *dk, const char *name,
		const struct obs_labels *labels, struct bg_diag *d);
/* Remove a managed volume; a missing one is success, an unmanaged one is
 * BG_ECONFLICT (not touched), one in use BG_ECONFLICT (engine's message). */
int dk_volume_remove(struct dk_client *dk, const char *name, struct bg_diag *d);
/* POST /images/create?fromImage=...&tag=...: pull (a reference without tag
 * pulls ":latest", never every tag). The engine reports failures either as
 * an HTTP error or as {"error": ...} inside a 200 progress stream; both
 * reach d. No registry credentials are sent. */
int dk_image_pull(struct dk_client *dk, const char *ref, struct bg_diag *d);

/* ---- pure parsers, shared with the event loop, the tests and the fuzzer ---- */

/*
 * Parse one container inspect document (GET /containers/{id}/json) into c,
 * which must be zeroed; obs_container_derive() is applied. On error
 * (BG_EPARSE, with the missing or mistyped field in d) c stays zeroed. j is
 * borrowed. Labels are copied whatever they are: scope checks are the
 * caller's (dk_container_inspect does it).
 */
int dk_parse_container_inspect(struct json_object *j, struct obs_container *c,
		struct bg_diag *d);
/* GET /networks and GET /volumes bodies: appends the managed ones to o.
 * Borrowed j. BG_EPARSE on a malformed document (o keeps what was added). */
int dk_parse_networks(struct json_object *j, struct obs *o, struct bg_diag *d);
int dk_parse_volumes(struct json_object *j, struct obs *o, struct bg_diag *d);
/*
 * The array of a list answer of kind ("container", "network", "volume"; a
 * volume list wraps it in "Volumes"): *list is borrowed from j. 1 with
 * *list NULL when the engine has no volumes at all (it says null, not []),
 * BG_EPARSE when the answer is not a list.
 */
int dk_parse_kind_list(struct json_object *j, const char *kind, struct json_object **list,
		struct bg_diag *d);
/*
 * GET /version body: *engine (e.g. "20.10.24+dfsg1") and *api (the version
 * to speak: the engine's ApiVersion capped at DK_API_MAX) are new strings.
 * BG_EDOCKER when the engine is older than DK_API_MIN, BG_EPARSE when the
 * document says nothing usable.
 */
int dk_parse_version(struct json_object *j, char **engine, char **api,
		struct bg_diag *d);
/* A whole pull progress stream: BG_EDOCKER with the engine's error if one
 * of its objects is {"error": ...}, BG_EPARSE if it is not a JSON stream. */
int dk_parse_pull_stream(const char *data, size_t len, struct bg_diag *d);

/* Does this label set carry io.bluegreen.managed=true? (borrowed j, NULL ok) */
bool dk_labels_managed(struct json_object *labels);

/*
 * A stream of concatenated JSON values (the /events body, pull progress),
 * split across reads in any way: values may span several feeds and one
 * feed may hold several values. cb gets each complete value (borrowed: it
 * is put after cb returns) and may return < 0 to stop the stream with that
 * code. A value larger than max_value is BG_ETOO_BIG. Errors are sticky.
 */
typedef int (*dk_stream_cb)(struct json_object *value, void *arg);
struct dk_stream {
	struct json_tokener *tok;
	size_t cur;       /* bytes of the value being parsed, 0 between values */
	size_t max_value;
	dk_stream_cb cb;
	void *arg;
	int err;          /* sticky: 0 or the error that stopped the stream */
};
void dk_stream_init(struct dk_stream *s, size_t max_value, dk_stream_cb cb, void *arg);
void dk_stream_release(struct dk_stream *s); /* NULL-safe, also half-built */
int dk_stream_feed(struct dk_stream *s, const char *data, size_t len,
		struct bg_diag *d);
/* At the end of the input: BG_EPARSE if a value was cut off. */
int dk_stream_finish(struct dk_stream *s, struct bg_diag *d);

/* ---- events (GET /events) ---- */

enum dk_event_type {
	DK_EVENT_OTHER = 0,
	DK_EVENT_CONTAINER,
	DK_EVENT_NETWORK,
	DK_EVENT_VOLUME,
	/* Swarm's (issue 17), set by the swarm runtime's event scope (rt.h,
	 * rt_watch_rule): dk_parse_event leaves them DK_EVENT_OTHER. */
	DK_EVENT_SERVICE,
	DK_EVENT_NODE,
};

/*
 * One event. Strings are borrowed from the parsed JSON value (or from the
 * struct itself for action) and live as long as it does: copy what you
 * keep. Docker 20.10 puts a container's labels into Actor.Attributes, but
 * gives network and volume events no labels at all (only name, type,
 * driver, and the container for connect/disconnect).
 */
struct dk_event {
	enum dk_event_type type;
	char action[32];       /* "start", "die", "health_status" (before any ": ") */
	const char *detail;    /* after ": " ("healthy" for health_status), or NULL */
	const char *id;        /* Actor.ID: container id, network id, volume name */
	const char *name;      /* container/network name, volume name */
	const char *container; /* network connect/disconnect: the container id */
	bool managed;          /* container: io.bluegreen.managed=true */
	const char *site;      /* container labels, NULL when absent */
	const char *colour;
	const char *role;
	int exit_code;         /* die: exitCode; -1 otherwise */
	int64_t time_ms;       /* UTC, from timeNano when present */
	/* service and node events: what changed ("replicas 3 -> 2"), NULL if
	 * the event says nothing a person would read (set by a scope's accept). */
	const char *change;
};

/* Parse one /events object (borrowed j) into e. BG_EPARSE if it is not an
 * event (no Type/Action). */
int dk_parse_event(struct json_object *j, struct dk_event *e, struct bg_diag *d);
/* bluegreen's scope, applied client side where the engine cannot filter:
 * managed containers; networks and volumes (no labels in their events: the
 * caller re-lists with the label filter); nothing else. */
bool dk_event_in_scope(const struct dk_event *e);
/* The /events query ("?filters=..."): the types and actions bluegreen
 * reacts to (no exec_* noise from health checks). A static string. */
const char *dk_events_query(void);

/* ---- building blocks shared with the event loop (dkev) ---- */

/* The versioned URL for a path ("http://localhost/v1.41/..."), a new string.
 * Before negotiation it uses DK_API_MIN. */
char *dk_client_url(const struct dk_client *dk, const char *path);
/* Configure a curl easy handle (CURL *) for this client: socket, no proxy,
 * http only, connect and total timeouts. */
void dk_client_setup_easy(const struct dk_client *dk, void *curl_easy);

#endif /* BG_CONTROLLER_DK_H */
