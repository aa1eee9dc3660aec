/*
 * bench-bk-restore: time bluegreen's restore of one backup's volume and
 * dump (bk_restore_volume, bk_restore_dump), for test/bench/bench-backup.sh
 * until `plan --restore` exists to be timed whole. Writers must be stopped
 * by the caller.
 *
 *   bench-bk-restore CONFIG_DIR ID SITE VOLUME SERVICE
 *
 * Prints "volume MS" and "dump MS"; exit 1 on any failure.
 */
#include "bg.h"
#include "bk.h"
#include "bg-util.h"

static int fail(struct bg_diag *d, const char *what)
{
	for (size_t i = 0; i < d->n; i++) {
		fprintf(stderr, "%s\n", d->items[i].msg);
	}
	fprintf(stderr, "bench-bk-restore: %s failed\n", what);
	return 1;
}

int main(int argc, char **argv)
{
	struct cfg *cfg = NULL;
	struct rt *rt = NULL;
	struct hist *h = NULL;
	struct bk_manifest m;
	struct obs o;
	struct bg_diag d;

	if (argc != 6) {
		fprintf(stderr, "usage: bench-bk-restore CONFIG_DIR ID SITE VOLUME SERVICE\n");
		return 2;
	}
	bg_diag_init(&d);
	obs_init(&o);
	if (cfg_load(&cfg, argv[1], 0, &d) || rt_docker_create(&rt, cfg->g.docker_socket) ||
			hist_open(&h, cfg->g.state_dir, HIST_RDONLY, &d) ||
			bk_get(h, argv[2], &m, &d)) {
		return fail(&d, "loading");
	}
	int64_t t0 = bg_mono_ms();
	if (bk_restore_volume(rt, cfg, &m, argv[4], &d)) {
		return fail(&d, "the volume's restore");
	}
	printf("volume %" PRId64 "\n", bg_mono_ms() - t0);
	if (rt_observe(rt, &o, RT_OBSERVE_ALL, &d)) {
		return fail(&d, "observing");
	}
	t0 = bg_mono_ms();
	if (bk_restore_dump(rt, cfg, cfg_site_find(cfg, argv[3]), &o, &m, argv[5], &d)) {
		return fail(&d, "the dump's restore");
	}
	printf("dump %" PRId64 "\n", bg_mono_ms() - t0);
	bk_manifest_release(&m);
	obs_release(&o);
	hist_close(h);
	rt_destroy(rt);
	cfg_destroy(cfg);
	bg_diag_release(&d);
	return 0;
}
