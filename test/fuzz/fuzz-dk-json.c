/*
 * fuzz-dk-json: what the Docker engine sends, from a hostile or broken
 * engine. The input goes three ways: as a whole document through json-c
 * into the container inspect, network list, volume list, version and
 * event parsers; and as a byte stream (the /events body and pull
 * progress) through dk_stream, cut at a position taken from the input
 * itself, so values split across reads are fuzzed too. Nothing may crash,
 * leak or read out of bounds; errors are fine.
 */
#include "bg.h"
#include "dk.h"
#include "dk-json.h"

static int on_value(struct json_object *v, void *arg)
{
	struct dk_event e;
	struct obs_container c;

	if (dk_parse_event(v, &e, NULL) == 0) {
		(void)dk_event_in_scope(&e);
	}
	memset(&c, 0, sizeof(c));
	if (dk_parse_container_inspect(v, &c, NULL) == 0) {
		obs_container_release(&c);
	}
	(*(size_t *)arg)++;
	return 0;
}

static void whole(const char *text, size_t len)
{
	struct json_object *j = NULL;
	struct obs_container c;
	struct bg_diag d;
	struct obs o;
	char *engine = NULL, *api = NULL;

	if (dk__json_parse(text, len, &j) != 0) {
		return;
	}
	bg_diag_init(&d);
	memset(&c, 0, sizeof(c));
	if (dk_parse_container_inspect(j, &c, &d) == 0) {
		(void)obs_container_ip(&c, "bridge");
		obs_container_release(&c);
	}
	obs_init(&o);
	dk_parse_networks(j, &o, &d);
	dk_parse_volumes(j, &o, &d);
	obs_release(&o);
	if (dk_parse_version(j, &engine, &api, &d) == 0) {
		free(engine);
		free(api);
	}
	bg_diag_release(&d);
	json_object_put(j);
}

static void streamed(const char *text, size_t len, size_t cut)
{
	struct dk_stream s;
	size_t n = 0;

	dk_stream_init(&s, 64 * 1024, on_value, &n);
	if (dk_stream_feed(&s, text, cut, NULL) == 0) {
		dk_stream_feed(&s, text + cut, len - cut, NULL);
	}
	dk_stream_finish(&s, NULL);
	dk_stream_release(&s);
	dk_parse_pull_stream(text, len, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A NUL-terminated copy: dk__json_parse reads data[len]. */
	char *text = malloc(size + 1);
	if (!text) {
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	whole(text, size);
	streamed(text, size, size ? (size_t)data[0] * 131 % (size + 1) : 0);
	free(text);
	return 0;
}
