/*
 * dk-exec: the Docker calls that stream bytes rather than JSON, for
 * backups (controller/backup, ADR 0016): an exec whose stdout goes to a
 * sink and whose stdin comes from a source (the dump and its restore),
 * the archive endpoint of a container read into a sink or written from a
 * source (volume tars), and the short-lived helper container that mounts
 * the volumes those archives are taken from. Bodies are never held whole
 * in memory; only stderr is kept, up to a limit, for messages.
 */
#ifndef BG_CONTROLLER_DK_EXEC_H
#define BG_CONTROLLER_DK_EXEC_H

#include "bg.h"
#include "bg-buf.h"
#include "bg-err.h"
#include "obs.h"

#include <sys/types.h>

struct dk_client;

/* Takes len bytes; < 0 stops the transfer with that code. */
typedef int (*dk_sink_fn)(void *arg, const void *buf, size_t len);
/* Fills up to cap bytes: > 0 how many, 0 the end, < 0 an error code. */
typedef ssize_t (*dk_source_fn)(void *arg, void *buf, size_t cap);

/* Stderr of an exec kept for messages (the rest is dropped). */
#define DK_EXEC_STDERR_MAX (16u * 1024)
/* An exec or an archive transfer that moves no byte for this long fails. */
#define DK_STREAM_STALL_S 600

struct dk_exec {
	char *const *argv;       /* NULL-terminated, argv[0] looked up in PATH */
	dk_source_fn in;         /* stdin; NULL: none (the process sees EOF) */
	void *in_arg;
	dk_sink_fn out;          /* stdout; NULL: dropped */
	void *out_arg;
	struct bg_buf *err;      /* stderr up to DK_EXEC_STDERR_MAX; NULL: dropped */
	int exit_code;           /* set on success (0 returned) */
};

/*
 * Run argv in the running managed container id (POST /exec, then the
 * start request on a raw connection to the socket, upgraded to a plain
 * stream: stdin is written to it and half-closed at its end, the
 * multiplexed answer split into stdout and stderr). Returns 0 when the
 * process ran, whatever its exit code (x->exit_code); an error when it
 * could not be run or a byte could not be moved.
 */
int dk_exec_run(struct dk_client *dk, const char *id, struct dk_exec *x, struct bg_diag *d);

/* GET /containers/{id}/archive?path=PATH: the tar stream into sink. */
int dk_archive_get(struct dk_client *dk, const char *id, const char *path, dk_sink_fn sink,
		void *arg, struct bg_diag *d);
/* PUT /containers/{id}/archive?path=PATH: a tar stream from source
 * (extracted over what is there; the directory must exist). */
int dk_archive_put(struct dk_client *dk, const char *id, const char *path,
		dk_source_fn source, void *arg, struct bg_diag *d);

/* A short-lived container for moving volume data (never a site's). */
struct dk_helper {
	const char *name;                /* unique, ours */
	const char *image;               /* present locally */
	char *const *argv;               /* entrypoint + args, NULL-terminated */
	const struct obs_labels *labels; /* must include io.bluegreen.managed=true */
	const char *const *binds;        /* "VOLUME:/PATH[:ro]", NULL-terminated */
};
/* Create it (no network, not started); *id a new string. */
int dk_helper_create(struct dk_client *dk, const struct dk_helper *h, char **id,
		struct bg_diag *d);
/* Remove a managed container with its anonymous volumes (named ones stay). */
int dk_helper_remove(struct dk_client *dk, const char *id, struct bg_diag *d);
/* POST /containers/{id}/wait: its exit code once it stopped. */
int dk_container_wait(struct dk_client *dk, const char *id, int *exit_code,
		struct bg_diag *d);
/* A volume's size as the engine counts it (GET /system/df); -1: unknown. */
int dk_volume_usage(struct dk_client *dk, const char *name, int64_t *bytes,
		struct bg_diag *d);

#endif /* BG_CONTROLLER_DK_EXEC_H */
