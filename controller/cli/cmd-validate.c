/*
 * cmd-validate: `bluegreen validate [--explain]`. Loads the whole
 * configuration, prints every error and warning in file:line:col form
 * (all of them, not just the first), and exits 0 when valid, 1 when not.
 * --explain then prints each effective value and the file:line it came
 * from. --json gives {"valid":..., "diagnostics":[...]}.
 */
#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "cfg.h"
#include "cli.h"
#include "desired.h"

#include <json-c/json.h>

static void print_json(struct cli *cli, bool valid, const struct bg_diag *d,
		const char *dir, const char *explain)
{
	struct json_object *root = json_object_new_object();
	struct json_object *arr = json_object_new_array();
	json_object_object_add(root, "config_dir", json_object_new_string(dir ? dir : ""));
	json_object_object_add(root, "valid", json_object_new_boolean(valid));
	for (size_t i = 0; i < d->n; i++) {
		const struct bg_diag_item *it = &d->items[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "severity", json_object_new_string(
				it->sev == BG_SEV_ERROR ? "error"
				: it->sev == BG_SEV_WARNING ? "warning" : "note"));
		if (it->file) {
			json_object_object_add(o, "file", json_object_new_string(it->file));
			json_object_object_add(o, "line", json_object_new_int((int)it->line));
			json_object_object_add(o, "col", json_object_new_int((int)it->col));
		}
		json_object_object_add(o, "message", json_object_new_string(it->msg));
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "diagnostics", arr);
	if (explain) {
		json_object_object_add(root, "explain", json_object_new_string(explain));
	}
	fprintf(cli->out, "%s\n", json_object_to_json_string_ext(root,
			JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
}

int cmd_validate(int argc, char **argv, struct cli *cli)
{
	bool explain = false;
	char *dir = NULL;
	struct cfg *cfg = NULL;
	struct bg_diag d;
	struct bg_buf ex = BG_BUF_INIT;
	int rc = BG_EXIT_ERROR;

	bg_diag_init(&d);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--explain") == 0) {
			explain = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			continue;
		} else {
			return cli_usage_error(cli, "validate: unknown argument '%s'", argv[i]);
		}
	}
	/* The same resolution and "using" line as every other verb; validate
	 * executes nothing, so an untrusted directory is only a warning. */
	cli->offline = true;
	if (cli_config_dir(cli, &dir) != 0) {
		return BG_EXIT_ERROR;
	}
	int err = des_cfg_load(&cfg, dir, 0, &d);
	if (!err && explain) {
		cfg_explain(cfg, &ex);
	}
	if (cli->json) {
		print_json(cli, err == 0, &d, dir, explain && !err ? ex.data : NULL);
	} else {
		bg_diag_print(&d, cli->err);
		if (err) {
			fprintf(cli->err, "%s: invalid: %zu error%s\n", dir, d.n_errors,
					d.n_errors == 1 ? "" : "s");
		} else {
			if (explain) {
				fputs(ex.data, cli->out);
			}
			fprintf(cli->out, "%s: valid (%zu site%s, install_mode %s)\n", dir,
					cfg->n_sites, cfg->n_sites == 1 ? "" : "s",
					cfg_install_mode_name(cfg->g.install_mode));
		}
	}
	rc = err ? BG_EXIT_ERROR : BG_EXIT_OK;
	bg_buf_release(&ex);
	cfg_destroy(cfg);
	bg_diag_release(&d);
	free(dir);
	return rc;
}
