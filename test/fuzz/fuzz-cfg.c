/*
 * fuzz-cfg: libFuzzer target for the config parser and validator. The
 * first byte picks the kind of file (global, site, profile), the rest is
 * the document, checked with cfg_check_buffer(); any crash, leak,
 * sanitizer report or slow input is a bug. Seeds come from
 * test/fixtures/config (see ci/fuzz.sh).
 */
#include "bg.h"
#include "bg-err.h"
#include "cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kinds[] = {"global", "site", "profile"};
	struct bg_diag d;

	if (size < 1) {
		return 0;
	}
	bg_diag_init(&d);
	cfg_check_buffer(kinds[data[0] % 3], "fuzz.conf", (const char *)data + 1, size - 1, &d);
	/* Format every message, as validate would print them. */
	for (size_t i = 0; i < d.n; i++) {
		char line[512];
		bg_diag_item_format(&d.items[i], line, sizeof(line));
	}
	bg_diag_release(&d);
	return 0;
}
