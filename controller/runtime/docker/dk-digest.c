/*
 * dk-digest: the registry digests of a local image (the engine's
 * RepoDigests, "repo@sha256:..."), for the rt member image_digests. The
 * history keeps one with a version when it goes live, so that `rollback
 * --to` can pull exactly that build back by digest once the local image
 * is gone (issue 13). An image that never came from or went to a registry
 * has none; an absent image is an empty answer, not an error.
 */
#include "bg.h"
#include "dk.h"
#include "dk-int.h"
#include "dk-json.h"
#include "rt.h"
#include "dk-svc-rt.h"
#include "dk-digest-rt.h"

#include <json-c/json.h>

int dk__rt_image_digests(struct rt *rt, const char *ref, struct bg_strv *out,
		struct bg_diag *d)
{
	struct dk_client *dk = rt__docker_client(rt);
	struct json_object *j = NULL;
	char *esc = dk__url_escape_path(ref);
	char *path = bg_xasprintf("/images/%s/json", esc);
	struct bg_diag tmp;

	bg_diag_init(&tmp);
	int err = dk__get_json(dk, path, json_type_object, &j, &tmp);
	if (err == BG_ENOT_FOUND) {
		err = 0;
		goto out;
	}
	if (err) {
		goto out;
	}
	struct json_object *a = dk__jget(j, "RepoDigests", json_type_array);
	size_t n = a ? json_object_array_length(a) : 0;
	for (size_t i = 0; i < n; i++) {
		struct json_object *v = json_object_array_get_idx(a, i);
		const char *s = json_object_is_type(v, json_type_string)
			? json_object_get_string(v) : NULL;
		/* Only what a pull by digest can use: NAME@sha256:HEX. */
		if (s && strstr(s, "@sha256:") && !strpbrk(s, " \t\r\n")) {
			bg_strv_push(out, s);
		}
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
