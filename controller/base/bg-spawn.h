/*
 * bg-spawn: running an argv (posix_spawn, never a shell) with its output
 * captured, and an argv joined for display.
 */
#ifndef BG_CONTROLLER_BG_SPAWN_H
#define BG_CONTROLLER_BG_SPAWN_H

#include "bg.h"

/*
 * Run argv[0] (looked up in PATH) with argv, without a shell, in directory
 * cwd (NULL: ours). stdout and stderr are captured together into *output
 * (may be NULL to discard), at most 64 KiB. *status gets the exit status
 * (or 128+signal). Kills the child and returns BG_ETIMEOUT after
 * timeout_ms (0 = no limit).
 */
int bg_spawn_capture(char *const argv[], const char *cwd, uint64_t timeout_ms,
		int *status, char **output);

/*
 * bg_spawn_capture with an environment of our own plus set ("KEY=VALUE"
 * entries, NULL-terminated; they replace variables of the same name).
 */
int bg_spawn_capture_env(char *const argv[], char *const set[], const char *cwd,
		uint64_t timeout_ms, int *status, char **output);

/* Join argv for display only (never executed): words quoted when needed. */
char *bg_argv_display(char *const argv[]);

#endif /* BG_CONTROLLER_BG_SPAWN_H */
