/*
 * dk-int: what the files of the Docker client (dk.c, dk-http.c, dk-act.c)
 * share with each other and with dkev.c, and nobody else. A struct dk__req
 * is one HTTP exchange with the engine, independent of how it is carried:
 * dk__req_prepare() sets up a curl easy handle (URL, method, body, socket,
 * timeouts, where the answer goes), the transport runs it (curl_easy_perform
 * in dk-http.c, curl multi under libuv in dkev.c), and dk__req_result() maps the
 * CURLcode and HTTP status to bluegreen's error codes and human messages.
 */
#ifndef BG_CONTROLLER_DK_INT_H
#define BG_CONTROLLER_DK_INT_H

#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "dk.h"
#include "dk-json.h"

#include <curl/curl.h>

/* The blocking client (dk.c, dk-http.c, dk-act.c; dkev has its own). */
struct dk_client {
	char *socket;
	CURL *easy; /* reused, so the connection to the engine is kept alive */
	uint64_t timeout_ms;
	char *engine_version;
	char *api_version;
};

struct dk__req {
	CURL *easy;              /* not owned: the caller creates and cleans it */
	char *socket;
	char *method;
	char *path;              /* for messages: as given, filters elided */
	char *url;
	char *body;              /* NULL: no body */
	uint64_t timeout_ms;     /* 0: no total limit (the event stream) */
	struct curl_slist *headers;
	struct bg_buf resp;      /* the body, limited to DK_RESPONSE_MAX */
	struct dk_stream *stream; /* if set, 2xx bodies are fed here instead */
	long status;             /* HTTP status once the headers are in */
	bool headers_done;       /* the final header block has arrived */
	bool too_big;
	int abort_err;           /* why a callback stopped the transfer */
	char *abort_msg;
	int64_t start_ms;        /* monotonic, for the trace line */
	char errbuf[CURL_ERROR_SIZE];
	void *owner;             /* the transport's own pointer (dkev) */
};

void dk__req_init(struct dk__req *r);
/* NULL-safe; does not touch r->easy. */
void dk__req_release(struct dk__req *r);
/*
 * Build the request on `easy` (curl_easy_reset first, so a reused handle
 * carries nothing over). api NULL means an unversioned path (/version).
 * All strings are copied. Returns 0 or BG_EDOCKER if curl refuses an
 * option (a libcurl without unix sockets).
 */
int dk__req_prepare(struct dk__req *r, CURL *easy, const char *socket,
		const char *api, const char *method, const char *path,
		const char *body, uint64_t timeout_ms);
/*
 * Map the outcome: rc is what curl_easy_perform (or the multi's
 * CURLMSG_DONE) said. *status (may be NULL) gets the HTTP status, *out
 * (may be NULL) the parsed body on success (a new reference). See
 * dk_request() for the codes. Messages go to d (NULL-safe).
 */
int dk__req_result(struct dk__req *r, CURLcode rc, long *status,
		struct json_object **out, struct bg_diag *d);
/*
 * Run a prepared request whose 2xx body is a progress stream (a pull, a
 * build) into s: silence of DK_PULL_STALL_S seconds means a stuck engine
 * or registry whatever the total budget says; then the stream is
 * finished. A failure the engine reports inside the stream is the
 * stream's consumer's to check.
 */
int dk__req_stream(struct dk__req *r, CURL *easy, struct dk_stream *s, struct bg_diag *d);

/*
 * Percent-encode s for a URL with libcurl (curl_easy_escape): everything
 * but the unreserved characters. The _path form keeps '/' (an image
 * reference in a path). New strings.
 */
char *dk__url_escape(const char *s);
char *dk__url_escape_path(const char *s);

/* ---- the blocking client's requests (dk-http.c) ---- */

/* One blocking exchange on dk->easy; api NULL for the unversioned /version.
 * stream (may be NULL) takes 2xx bodies. See dk_request for the rest. */
int dk__perform(struct dk_client *dk, const char *api, const char *method,
		const char *path, const char *body, uint64_t timeout_ms,
		struct dk_stream *stream, long *status, struct json_object **out,
		struct bg_diag *d);
/* Negotiate the version unless that was done. */
int dk__ensure_api(struct dk_client *dk, struct bg_diag *d);
/* dk_request with its own total timeout. */
int dk__call(struct dk_client *dk, const char *method, const char *path,
		const char *body, uint64_t timeout_ms, long *status,
		struct json_object **out, struct bg_diag *d);
/*
 * n GETs at once (issue 11: an observation's inspects, one after the other,
 * were a round trip each), each on a connection of its own (curl multi):
 * out[i] the answer's JSON (NULL if none), errs[i] its outcome as
 * dk__req_result says it, its message in ds[i] (n diags the caller
 * initialised). Returns the first error of the exchange itself (API
 * negotiation, curl), not the requests'.
 */
int dk__get_many(struct dk_client *dk, char *const *paths, size_t n,
		struct json_object **out, int *errs, struct bg_diag *ds, struct bg_diag *d);
/* GET path and insist on a JSON body of type t (BG_EPARSE otherwise). */
int dk__get_json(struct dk_client *dk, const char *path, enum json_type t,
		struct json_object **out, struct bg_diag *d);

/* ---- shared by observation and the actions' scope guards (dk.c) ---- */

/* GET /containers/{id_or_name}/json as a JSON object (a new reference). */
int dk__inspect_json(struct dk_client *dk, const char *id_or_name,
		struct json_object **out, struct bg_diag *d);
/* Does an inspect document carry io.bluegreen.managed=true? */
bool dk__inspect_managed(struct json_object *j);
/*
 * The inspect document of a managed container into *out (a new reference;
 * out may be NULL). A container without our label is answered as a
 * missing one (BG_ENOT_FOUND, for readers: its details are never copied
 * anywhere, SPEC §4), and its document is not kept.
 */
int dk__inspect_ours(struct dk_client *dk, const char *id_or_name,
		struct json_object **out, struct bg_diag *d);
/* The scope guard of destructive calls and execs: 0 for a managed
 * container, BG_ENOT_FOUND if it is not there, BG_ECONFLICT (a message
 * naming it) if it is not ours. Its id never changes, so the answer stays
 * true for the call that follows. */
int dk__guard_managed(struct dk_client *dk, const char *id, struct bg_diag *d);

#endif /* BG_CONTROLLER_DK_INT_H */
