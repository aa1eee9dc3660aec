/*
 * cfg-schema: the key table (cfg-keys.c) dumped as the lines the schema
 * agreement test (t-cfg) compares with schema/site.schema.json and
 * schema/global.schema.json: every key's path, JSON type and default, so
 * the C table and the published schema cannot drift apart unnoticed.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-util.h"
#include "cfg-int.h"

static const char *json_type(const struct cfg__key *k)
{
	switch (k->type) {
	case K_MAP:
	case K_DEFAULTS:
	case K_ENV:
	case K_MOUNTS:
	case K_SERVICES:
	case K_ALERTS:
	case K_CHECKS:
		return "object";
	case K_INT:
		return "integer";
	case K_BOOL:
		return "boolean";
	case K_STRLIST:
	case K_ARGV:
	case K_MODULES:
		return "array";
	case K_LISTEN:
		return "integer|string";
	case K_STR:
		return (k->flags & F_NUMBER_OK) ? "number|string" : "string";
	default:
		return "string";
	}
}

static void dump_default(struct bg_buf *out, const struct cfg__key *k)
{
	if (k->type == K_STRLIST || k->type == K_ARGV || k->type == K_MODULES) {
		if (!k->defs) {
			bg_buf_adds(out, "-");
			return;
		}
		bg_buf_addch(out, '[');
		for (size_t i = 0; k->defs[i]; i++) {
			if (i) {
				bg_buf_addch(out, ',');
			}
			bg_buf_add_json_str(out, k->defs[i]);
		}
		bg_buf_addch(out, ']');
	} else if (!k->def) {
		bg_buf_adds(out, "-");
	} else if (k->type == K_INT || k->type == K_BOOL) {
		bg_buf_adds(out, k->def);
	} else {
		bg_buf_add_json_str(out, k->def);
	}
}

static void dump_table(struct bg_strv *lines, const struct cfg__key *table, const char *prefix,
		bool defaults, enum cfg__kind kind)
{
	for (const struct cfg__key *k = table; k->name; k++) {
		if (defaults && (k->flags & F_NO_DEFAULTS)) {
			continue;
		}
		if (kind == CFG__PROFILE && (k->flags & F_GLOBAL_ONLY)) {
			continue;
		}
		struct bg_buf line = BG_BUF_INIT;
		char *path = bg_xasprintf("%s%s", prefix, k->name);
		bg_buf_addf(&line, "%s\t%s\t", path, json_type(k));
		dump_default(&line, k);
		bg_strv_push_take(lines, bg_buf_detach(&line, NULL));
		char *sub = bg_xasprintf("%s.", path);
		if (k->type == K_MAP) {
			dump_table(lines, k->sub, sub, defaults, kind);
		} else if (k->type == K_SERVICES || k->type == K_ALERTS || k->type == K_CHECKS) {
			char *star = bg_xasprintf("%s*.", sub);
			bg_strv_push_take(lines, bg_xasprintf("%s*\tobject\t-", sub));
			dump_table(lines, k->sub, star, defaults, kind);
			free(star);
		} else if (k->type == K_ENV) {
			bg_strv_push_take(lines, bg_xasprintf("%s*\tboolean|integer|number|string\t-",
					sub));
		} else if (k->type == K_MOUNTS) {
			bg_strv_push_take(lines, bg_xasprintf("%s*\tstring\t-", sub));
		} else if (k->type == K_DEFAULTS) {
			dump_table(lines, k->sub, sub, true, kind);
		}
		free(sub);
		free(path);
	}
}

void cfg__schema_dump(enum cfg__kind kind, struct bg_buf *out)
{
	struct bg_strv lines;
	bg_strv_init(&lines);
	dump_table(&lines, cfg__keys_of(kind), "", false, kind);
	bg_strv_sort(&lines);
	for (size_t i = 0; i < lines.n; i++) {
		bg_buf_addf(out, "%s\n", lines.v[i]);
	}
	bg_strv_release(&lines);
}
