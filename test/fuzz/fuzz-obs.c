/*
 * fuzz-obs: the snapshot parser (`plan --observed FILE` reads files from
 * CI and code review: untrusted). Any input must give 0 or an error with a
 * message, never a crash or a leak; what parses must serialise and parse
 * again to the same bytes.
 */
#include "bg.h"
#include "obs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct obs o, o2;
	struct bg_diag d;
	obs_init(&o);
	obs_init(&o2);
	bg_diag_init(&d);
	if (obs_from_json(&o, (const char *)data, size, &d) == 0) {
		struct bg_buf a = BG_BUF_INIT, b = BG_BUF_INIT;
		obs_to_json(&o, &a);
		if (obs_from_json(&o2, a.data, a.len, &d) != 0) {
			abort();
		}
		obs_to_json(&o2, &b);
		if (strcmp(a.data, b.data) != 0) {
			abort();
		}
		bg_buf_release(&a);
		bg_buf_release(&b);
	} else if (d.n == 0) {
		abort();
	}
	obs_release(&o);
	obs_release(&o2);
	bg_diag_release(&d);
	return 0;
}
