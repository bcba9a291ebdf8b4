/*
 * weir/launcher.h — "run it": the interface between the pipeline engine,
 * which decides what runs (weir/pipeline.h), and whatever runs a node: a
 * local child process here, a pod in the operator.
 *
 * Part of lib/pipeline; a header of its own because components and the
 * operator need it without the rest of the engine.
 *
 * A launcher starts nodes and reports each one's end exactly once. It owns
 * timeouts (a node past its deadline is killed and reported timed_out) and
 * cancellation. It does not publish metadata, retry, or read outputs: the
 * engine does.
 */
#ifndef WEIR_LAUNCHER_H
#define WEIR_LAUNCHER_H

#include <stdint.h>

#include "weir/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weir_launch_req {
    const char *node;               /* node name, for messages */
    const char *const *argv;        /* NULL-terminated; argv[0] is looked up in PATH
                                       when it has no '/' */
    const char *const *env;         /* extra "KEY=VALUE" entries, NULL-terminated, or NULL */
    const char *log_path;           /* stdout and stderr are appended here (a local path) */
    const char *workdir;            /* NULL: the engine's */
    double timeout_s;               /* 0: no deadline */
    /* What a launcher that runs nodes elsewhere (pods) needs too; the local
     * launcher ignores these. */
    const char *log_uri;            /* where the attempt's log is kept */
    const char *image;              /* the node's own image, or NULL */
    const char *component_image;    /* the standard component's image repository
                                       ("weir-statistics-gen"), NULL for Executable */
    uint32_t gpu;                   /* whole GPUs, 0 = none */
    const char *cpu, *memory;       /* Kubernetes quantities, or NULL */
    uint32_t attempt;               /* 1, 2, ... */
    int64_t execution_id;
} weir_launch_req;

typedef struct weir_launch_result {
    uint64_t handle;
    int exit_code;      /* valid when signal == 0 */
    int signal;         /* the signal that ended it, 0 if it exited */
    int timed_out;      /* killed at its deadline */
    int cancelled;      /* killed by weir_launcher cancel */
    double elapsed_s;
    char message[512];  /* the launcher's own account of an abnormal end
                           ("the pod was deleted", "image pull failed: ..."),
                           or empty */
} weir_launch_result;

struct weir_launcher_i {
    const char *name;
    /* Starts a node; *handle identifies it in later calls. A command that
     * cannot be started at all (not found, not executable) fails here with
     * a message naming it. WEIR_EAGAIN means "not now" (the launcher is at
     * its capacity): the engine tries again later without counting an
     * attempt. */
    weir_status (*start)(void *ctx, const weir_launch_req *req, uint64_t *handle);
    /* Waits up to timeout_ms (-1: forever) for any started node to end.
     * WEIR_ETIMEDOUT when none ended in time, WEIR_ENOENT when none is
     * running. */
    weir_status (*wait_any)(void *ctx, int timeout_ms, weir_launch_result *out);
    /* Asks a node to stop (SIGTERM to its whole process group, SIGKILL after
     * a grace period); its end is still reported by wait_any. */
    void (*cancel)(void *ctx, uint64_t handle);
    /* Number of nodes started and not yet reported. */
    int (*running)(void *ctx);
    /* Kills whatever still runs and frees the launcher. */
    void (*destroy)(void *ctx);
};

typedef struct weir_launcher {
    const struct weir_launcher_i *vt;
    void *ctx;
} weir_launcher;

/*
 * The local launcher: each node is a child process in its own process group
 * (killed as a group on timeout, cancel or destroy, so nothing is orphaned),
 * stdin from /dev/null, stdout+stderr appended to req->log_path.
 * grace_s: seconds between SIGTERM and SIGKILL (0: 5 s).
 */
weir_status weir_launcher_local_new(double grace_s, weir_launcher *out);

#ifdef __cplusplus
}
#endif
#endif
