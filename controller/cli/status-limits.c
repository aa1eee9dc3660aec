/*
 * status-limits: see status-limits.h. Which container has a limit comes
 * from the configuration (the sample cannot tell "no limit" from a limit
 * as large as the host); the memory and pids limits shown are the ones
 * the engine enforces (from the sample), the CPU limit the configured one
 * (the sample does not carry it). A sample that fails says so on its line.
 */
#include "bg.h"
#include "status-limits.h"

/* The limits that apply to container c of site s, NULL if none. */
static const struct cfg_resources *limits_of(const struct des_site *s,
		const struct obs_container *c)
{
	const struct cfg_resources *r = NULL;
	if (c->role && strcmp(c->role, "colour") == 0) {
		r = &s->cfg->resources;
	} else if (c->role && strcmp(c->role, "service") == 0 && c->service) {
		for (size_t i = 0; i < s->cfg->n_services; i++) {
			if (strcmp(s->cfg->services[i].name, c->service) == 0) {
				r = &s->cfg->services[i].resources;
			}
		}
	}
	return r && (r->memory_bytes || r->nano_cpus || r->pids) ? r : NULL;
}

/* "81 MiB", "1.5 GiB": binary units, one decimal above MiB. */
static void size_words(uint64_t b, char *buf, size_t n)
{
	if (b >= (1ull << 30)) {
		snprintf(buf, n, "%.1f GiB", (double)b / (double)(1ull << 30));
	} else if (b >= (1ull << 20)) {
		snprintf(buf, n, "%" PRIu64 " MiB", b >> 20);
	} else {
		snprintf(buf, n, "%" PRIu64 " KiB", b >> 10);
	}
}

/* "memory 81 MiB / 512 MiB, cpu 2.0% / 1.5 CPUs, pids 3 / 512" (a new string). */
static char *usage_words(const struct cfg_resources *r, const struct dk_stats *st)
{
	struct bg_buf b = BG_BUF_INIT;
	char u[32], l[32];
	if (r->memory_bytes) {
		size_words(st->mem_usage, u, sizeof(u));
		size_words(st->mem_limit ? st->mem_limit : r->memory_bytes, l, sizeof(l));
		bg_buf_addf(&b, "memory %s / %s", u, l);
	}
	if (r->nano_cpus) {
		bg_buf_addf(&b, "%scpu ", b.len ? ", " : "");
		if (st->has_cpu) {
			bg_buf_addf(&b, "%.1f%%", st->cpu_percent);
		} else {
			bg_buf_addf(&b, "?");
		}
		bg_buf_addf(&b, " / %s CPUs", r->cpus ? r->cpus : "?");
	}
	if (r->pids) {
		bg_buf_addf(&b, "%spids %" PRIu64 " / %" PRIu64, b.len ? ", " : "", st->pids,
				st->pids_limit ? st->pids_limit : (uint64_t)r->pids);
	}
	return bg_buf_detach(&b, NULL);
}

/* Calls fn for each running limited container of s with its sample. */
typedef void (*limits_fn)(const struct obs_container *c, const struct cfg_resources *r,
		int err, const struct dk_stats *st, const char *msg, void *arg);

static void limits_each(struct rt *rt, const struct obs *o, const struct des_site *s,
		limits_fn fn, void *arg)
{
	for (size_t i = 0; rt && i < o->n_containers; i++) {
		const struct obs_container *c = &o->containers[i];
		if (!c->site || strcmp(c->site, s->name) != 0 || c->state != OBS_CSTATE_RUNNING) {
			continue;
		}
		const struct cfg_resources *r = limits_of(s, c);
		if (!r) {
			continue;
		}
		struct dk_stats st;
		struct bg_diag d;
		bg_diag_init(&d);
		int err = rt_stats(rt, c->id, &st, &d);
		fn(c, r, err, &st, err && d.n ? d.items[d.n - 1].msg : bg_strerror(err), arg);
		bg_diag_release(&d);
	}
}

static void print_one(const struct obs_container *c, const struct cfg_resources *r, int err,
		const struct dk_stats *st, const char *msg, void *arg)
{
	struct cli *cli = arg;
	if (err) {
		fprintf(cli->out, "%-16s limits: %s: no usage sample: %s\n", "", c->name, msg);
		return;
	}
	char *w = usage_words(r, st);
	fprintf(cli->out, "%-16s limits: %s: %s\n", "", c->name, w);
	free(w);
}

void status_limits_print(struct cli *cli, struct rt *rt, const struct obs *o,
		const struct des_site *s)
{
	limits_each(rt, o, s, print_one, cli);
}

static void json_one(const struct obs_container *c, const struct cfg_resources *r, int err,
		const struct dk_stats *st, const char *msg, void *arg)
{
	struct json_object *a = arg, *o = json_object_new_object();
	json_object_object_add(o, "container", json_object_new_string(c->name));
	json_object_object_add(o, "error", err ? json_object_new_string(msg) : NULL);
	if (r->memory_bytes) {
		json_object_object_add(o, "memory_bytes", err ? NULL
				: json_object_new_int64((int64_t)st->mem_usage));
		json_object_object_add(o, "memory_limit_bytes", json_object_new_int64(
				(int64_t)(st->mem_limit && !err ? st->mem_limit : r->memory_bytes)));
	}
	if (r->nano_cpus) {
		json_object_object_add(o, "cpu_percent", !err && st->has_cpu
				? json_object_new_double(st->cpu_percent) : NULL);
		json_object_object_add(o, "cpus_limit", json_object_new_double(
				(double)r->nano_cpus / 1e9));
	}
	if (r->pids) {
		json_object_object_add(o, "pids", err ? NULL : json_object_new_int64((int64_t)st->pids));
		json_object_object_add(o, "pids_limit", json_object_new_int64((int64_t)(
				st->pids_limit && !err ? st->pids_limit : r->pids)));
	}
	json_object_array_add(a, o);
}

struct json_object *status_limits_json(struct rt *rt, const struct obs *o,
		const struct des_site *s)
{
	struct json_object *a = json_object_new_array();
	limits_each(rt, o, s, json_one, a);
	if (json_object_array_length(a) == 0) {
		json_object_put(a);
		return NULL;
	}
	return a;
}
