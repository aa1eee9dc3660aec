/*
 * cockpit-logs: the container logs tail for admins (issue 15). The cockpit
 * never opens the Docker socket: it asks the watch daemon ("logs SITE" on
 * the control socket, through the CLI's own client, o->act) and shows what
 * the daemon answered, HTML-escaped in a <pre>, or as JSON. The daemon
 * picks the containers (the live colour's and the candidate's, ours only),
 * bounds the answer and redacts the site's secrets (logsreq.h); a read is
 * journaled nowhere. Only an admin of an admin-mode cockpit gets here:
 * anyone else gets the 404 of an unknown site on the JSON route and no
 * logs section on the page, so a viewer cannot even learn that logs exist.
 */
#include "cockpit-int.h"
#include "cockpit-admin.h"

#include "bg-log.h"
#include "cfg.h"

#define CK_API_SITES "/api/v1/sites/"

/* "/api/v1/sites/NAME/logs" with a name fit for a route. */
bool ck_logs_path(const char *path)
{
	size_t pl = strlen(CK_API_SITES), sl = strlen(CK_ROUTE_LOGS), n = strlen(path);
	if (!bg_str_has_prefix(path, CK_API_SITES) || n <= pl + sl ||
			strcmp(path + n - sl, CK_ROUTE_LOGS) != 0) {
		return false;
	}
	char *name = bg_xstrndup(path + pl, n - pl - sl);
	bool ok = ck_site_name_ok(name);
	free(name);
	return ok;
}

/* Hand "logs SITE" to the daemon: 0 with its answer in out and *code, or the client's error. */
static int ck_logs_fetch(struct cockpit *ck, const char *site, unsigned tail, struct bg_buf *out,
		int *code)
{
	struct cockpit_act act = {.logs_site = site, .logs_tail = tail};
	*code = BG_EXIT_ERROR;
	if (!ck->o.act) {
		bg_buf_adds(out, "this cockpit runs in safe mode: it does not talk to the daemon\n");
		return BG_ERRNO(ENOTSUP);
	}
	return ck->o.act(ck->o.act_arg, &act, out, code);
}

static bool ck_site_configured(const struct cockpit *ck, const char *site)
{
	for (size_t i = 0; ck->o.cfg && i < ck->o.cfg->n_sites; i++) {
		if (strcmp(ck->o.cfg->sites[i].name, site) == 0) {
			return true;
		}
	}
	return false;
}

void ck_logs_section(struct cockpit *ck, struct cockpit_reply *r, const char *site)
{
	struct bg_buf out = BG_BUF_INIT;
	int code = BG_EXIT_ERROR;
	int err = ck_logs_fetch(ck, site, 0, &out, &code);

	bg_buf_adds(&r->body, "<h2>Container logs</h2>\n");
	if (!err && code == 0) {
		bg_buf_adds(&r->body, "<p class=\"muted\">The last lines of the live and candidate "
				"containers, read by the watch daemon (secret values redacted; admins "
				"only).</p>\n<pre id=\"ck-logs\">");
	} else {
		bg_buf_addf(&r->body, "<p class=\"note\">The watch daemon could not read the logs "
				"(exit %d):</p>\n<pre id=\"ck-logs-error\">", err ? BG_EXIT_ERROR : code);
	}
	cockpit_html_esc(&r->body, out.data);
	bg_buf_adds(&r->body, "</pre>\n");
	bg_buf_release(&out);
}

/* ---- JSON ---- */

/* "blue.1 (live)" into its container and role (new strings). */
static void ck_logs_label(const char *label, size_t n, char **container, char **role)
{
	const char *open = memchr(label, '(', n);
	if (open && open > label + 1 && open[-1] == ' ' && label[n - 1] == ')') {
		*container = bg_xstrndup(label, (size_t)(open - 1 - label));
		*role = bg_xstrndup(open + 1, (size_t)(label + n - 1 - (open + 1)));
	} else {
		*container = bg_xstrndup(label, n);
		*role = bg_xstrdup("");
	}
}

/* A header "== LABEL: N lines[; ...]" opens a container. */
static struct json_object *ck_logs_header(const char *line, char **prefix)
{
	const char *label = line + 3, *colon = strstr(label, ": ");
	size_t n = colon ? (size_t)(colon - label) : strlen(label);
	char *container, *role;
	struct json_object *c = json_object_new_object();

	ck_logs_label(label, n, &container, &role);
	json_object_object_add(c, "container", json_object_new_string(container));
	json_object_object_add(c, "role", json_object_new_string(role));
	json_object_object_add(c, "summary", json_object_new_string(colon ? colon + 2 : ""));
	json_object_object_add(c, "lines", json_object_new_array());
	free(*prefix);
	*prefix = bg_xasprintf("%.*s | ", (int)n, label);
	free(container);
	free(role);
	return c;
}

struct json_object *ck_logs_json(const char *site, const char *text)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();
	struct json_object *cur = NULL;
	char *copy = bg_xstrdup(text ? text : ""), *save = NULL, *prefix = NULL;

	json_object_object_add(o, "site", json_object_new_string(site));
	json_object_object_add(o, "containers", arr);
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (bg_str_has_prefix(line, "== ")) {
			cur = ck_logs_header(line, &prefix);
			json_object_array_add(arr, cur);
		} else if (cur && prefix && bg_str_has_prefix(line, prefix)) {
			struct json_object *lines = NULL;
			json_object_object_get_ex(cur, "lines", &lines);
			json_object_array_add(lines, json_object_new_string(line + strlen(prefix)));
		}
	}
	free(prefix);
	free(copy);
	return o;
}

static void ck_logs_reply(struct cockpit_reply *r, unsigned status, struct json_object *o)
{
	r->status = status;
	r->ctype = "application/json";
	bg_buf_adds(&r->body, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
			JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	bg_buf_addch(&r->body, '\n');
	json_object_put(o);
}

/* GET /api/v1/sites/NAME/logs[?tail=N]: an admin's (ck_admin_route). */
bool ck_logs_route(struct cockpit *ck, const struct cockpit_req *rq, struct cockpit_reply *r)
{
	size_t pl = strlen(CK_API_SITES), sl = strlen(CK_ROUTE_LOGS), n = strlen(rq->path);
	char *site = bg_xstrndup(rq->path + pl, n - pl - sl);
	char *tq = ck_query_get(rq->query, "tail");
	unsigned long tail = 0;
	char *end = NULL;

	if (!ck_site_configured(ck, site) || !ck_scope_sees(r->scope, site)) {
		ck_api_no_site(r);
		goto out;
	}
	if (tq) {
		errno = 0;
		tail = strtoul(tq, &end, 10);
		if (!tq[0] || *end || errno || tail == 0 || tail > CK_LOGS_TAIL_MAX) {
			struct json_object *e = json_object_new_object();
			json_object_object_add(e, "error", json_object_new_string(
					"tail takes a number of lines, 1 to 200"));
			ck_logs_reply(r, 400, e);
			goto out;
		}
	}
	struct bg_buf text = BG_BUF_INIT;
	int code = BG_EXIT_ERROR;
	int err = ck_logs_fetch(ck, site, (unsigned)tail, &text, &code);
	if (!err && code == 0) {
		ck_logs_reply(r, 200, ck_logs_json(site, text.data));
	} else {
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "error", json_object_new_string(text.data));
		json_object_object_add(e, "exit", json_object_new_int(err ? BG_EXIT_ERROR : code));
		ck_logs_reply(r, err ? 503 : 502, e);
	}
	bg_buf_release(&text);
out:
	free(tq);
	free(site);
	return true;
}
