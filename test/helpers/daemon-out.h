/*
 * daemon-out: reading a daemon's output that a docker test sends to a
 * file (th_spawn_bg), while the daemon still writes it: its text so far,
 * its length (a mark to search from), and waiting for a needle after a
 * mark. Shared by the tests that run `bluegreen watch` (t-handoff,
 * t-swarm), so they poll the same way.
 */
#ifndef BG_TEST_DAEMON_OUT_H
#define BG_TEST_DAEMON_OUT_H

#include <stddef.h>

/* The file's text so far, a new string ("" when it cannot be read yet). */
char *dout_text_read(const char *path);

/* The length of that text: a mark for dout_wait. */
size_t dout_len_get(const char *path);

/*
 * The position of needle in the text at or after from, or -1 after ms
 * (scaled by th_time_scale); polls every 50 ms.
 */
long dout_needle_wait(const char *path, size_t from, const char *needle, int ms);

#endif
