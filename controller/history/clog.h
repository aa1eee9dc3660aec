/*
 * clog: the convergence log, STATE_DIR/converge.log: one human line per
 * event of a convergence (step started, step done, health progress
 * summaries, switches), UTC-stamped. Each line is one write() on an
 * O_APPEND descriptor, so lines from several processes never interleave.
 * `bluegreen log [-f]` reads it; the history (LMDB) stays the record of
 * truth, this is the readable trail.
 */
#ifndef BG_CONTROLLER_CLOG_H
#define BG_CONTROLLER_CLOG_H

#include "bg.h"

#define CLOG_NAME "converge.log"
#define CLOG_ROTATE_BYTES (16u * 1024 * 1024)

/* A new string: STATE_DIR/converge.log. */
char *clog_path(const char *state_dir);
/* Append "TIME MESSAGE\n" (newlines in the message become spaces). */
int clog_append(const char *state_dir, const char *fmt, ...) BG_PRINTF(2, 3);

#endif /* BG_CONTROLLER_CLOG_H */
