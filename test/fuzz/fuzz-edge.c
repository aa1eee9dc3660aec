/*
 * fuzz-edge: both edge-file parsers fed arbitrary bytes. The first byte
 * picks the parser (bit 0: 0 traefik, 1 nginx) and whether the rest is
 * first given a valid bluegreen trailer (bit 1): every file we write ends
 * with a checksum of what precedes it, so without re-signing nearly every
 * mutation would stop at the checksum and the YAML and nginx readers
 * behind it would never be reached. The corpus is seeded from
 * test/fixtures/edge/ with both settings.
 *
 * Besides memory safety (ASan), it checks the parse contract: success
 * means a known live colour and no error; failure means an error message
 * and nothing half-filled.
 */
#include "bg.h"
#include "bg-buf.h"
#include "cfg.h"
#include "edge-int.h"
#include "obs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cfg cfg;
	struct obs_edge e;
	struct bg_buf b = BG_BUF_INIT;
	const struct edge_impl *impl;

	if (size == 0 || size > EDGE_MAX_FILE_BYTES) {
		return 0;
	}
	memset(&cfg, 0, sizeof(cfg));
	memset(&e, 0, sizeof(e));
	cfg.g.traefik.dynamic_dir = "/nonexistent";
	cfg.g.nginx.conf_dir = "/nonexistent";
	impl = (data[0] & 1) ? &edge_nginx_impl : &edge_traefik_impl;
	bg_buf_add(&b, data + 1, size - 1);
	if (data[0] & 2) {
		edge__trailer_render(&b);
	}
	int err = impl->parse(&cfg, "shop", b.data, b.len, &e);
	if (err == 0) {
		if (e.error || !edge__colour_valid(e.live) ||
				(e.preview && !edge__colour_valid(e.preview))) {
			abort();
		}
	} else if (err != BG_EPARSE || !e.error || e.live || e.preview || e.upstreams.n) {
		abort();
	}
	edge__obs_reset(&e);
	bg_buf_release(&b);
	return 0;
}
