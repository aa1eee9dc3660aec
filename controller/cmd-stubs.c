/*
 * cmd-stubs: verbs whose implementation has not landed yet. Each says so
 * and exits 1; none pretends to have worked. Removed verb by verb as the
 * real cmd-<verb>.c files land.
 */
#include "bg.h"
#include "cli.h"

#define STUB(verb)                                                            \
	int cmd_##verb(int argc, char **argv, struct cli *cli)                \
	{                                                                     \
		return cli_usage_error(cli, "'%s' is not implemented yet", #verb); \
	}
STUB(watch)
