/*
 * weir/engine.h — running a validated pipeline: input resolution, caching,
 * retries, timeouts, and publishing to the metadata store as things happen.
 *
 * Part of lib/pipeline. The engine decides what runs and records it; a
 * launcher (weir/launcher.h) runs it. `weir run` uses the local launcher.
 *
 * What it records, in ML-Metadata terms (TFX's own conventions):
 *   contexts   "pipeline" (name = pipeline name), "pipeline_run" (name = run
 *              id, parent: the pipeline), "node" (name = "<pipeline>.<node>",
 *              parent: the pipeline);
 *   executions one per node run, type = component type; RUNNING, then
 *              COMPLETE / FAILED / CANCELED, or CACHED when an earlier
 *              COMPLETE execution with the same cache key is reused; custom
 *              properties cache_key, node, run_id, attempt, log_uri, error;
 *   artifacts  outputs at <root>/<node>/<output>/<execution_id>/, PENDING
 *              while the node runs, LIVE when it succeeded (ABANDONED when
 *              not), with custom property "fingerprint": SHA-256 over every
 *              file's relative path, size and content.
 *
 * Caching keys on content, not ids: the key holds each input artifact's
 * fingerprint, so a node re-executed with `cache: false` that writes the
 * same bytes keeps its consumers cached (KFP keys on names and cascades).
 */
#ifndef WEIR_ENGINE_H
#define WEIR_ENGINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/core.h"
#include "weir/launcher.h"
#include "weir/meta.h"
#include "weir/pipeline.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum weir_node_state {
    WEIR_NODE_PENDING = 0,   /* waiting for its inputs */
    WEIR_NODE_RUNNING,       /* launched (or waiting to retry) */
    WEIR_NODE_COMPLETE,
    WEIR_NODE_CACHED,
    WEIR_NODE_FAILED,
    WEIR_NODE_SKIPPED,       /* an upstream node failed */
    WEIR_NODE_CANCELED,      /* interrupted */
} weir_node_state;

const char *weir_node_state_name(weir_node_state s); /* "Complete", "Cached", ... */

/* What the engine tells its observer (progress display). Borrowed. */
typedef struct weir_run_event {
    size_t node;             /* index into pipeline->nodes */
    weir_node_state state;
    uint32_t attempt;
    double elapsed_s;        /* of this node so far */
    int64_t execution_id;
    const char *message;     /* failures: what happened; else NULL */
    const char *log_uri;     /* NULL when not launched */
} weir_run_event;

typedef struct weir_run_opts {
    const char *run_id;          /* NULL: "<pipeline>-<UTC yyyymmdd-hhmmss>-<hex>" */
    int parallelism;             /* nodes at once; 0: number of cores */
    int no_cache;                /* 1: look nothing up (still records keys) */
    const char *components_dir;  /* where weir-* component binaries are; NULL: $PATH */
    weir_launcher *launcher;     /* NULL: a local launcher made for this run */
    double retry_backoff_s;      /* first retry delay, doubled each time; 0: 1 s */
    /* Observer: called on every state change, from the engine's thread. */
    void (*on_event)(void *ctx, const weir_run_event *ev);
    /* Called about twice a second while nodes run (to redraw elapsed times). */
    void (*on_tick)(void *ctx);
    void *ctx;
    /* Set (to non-zero) from a signal handler to stop: running nodes are
     * killed and recorded CANCELED. */
    volatile sig_atomic_t *interrupted;
    /* 1 when the launcher runs nodes elsewhere (the operator's pods):
     * standard components are started by program name, not a local path,
     * and the launcher itself stores each attempt's log at its log URI. */
    int remote;
} weir_run_opts;

typedef struct weir_run_result {
    char *run_id;                 /* malloc'd */
    size_t nnodes;
    weir_node_state *states;      /* per node, malloc'd */
    int64_t *execution_ids;       /* per node (0: none), malloc'd */
    size_t failed;                /* nodes FAILED */
    size_t first_failed;          /* index of the first node that failed; nnodes if none */
    int interrupted;
} weir_run_result;

/*
 * Runs `p` to the end. Returns WEIR_OK when every node is COMPLETE or
 * CACHED; WEIR_EINTERNAL-free statuses otherwise: WEIR_EIO when a node
 * failed (the message names it and quotes its error), WEIR_EAGAIN when
 * interrupted. `res` is filled in either case (free with
 * weir_run_result_free()). Metadata problems stop the run with their status.
 */
weir_status weir_run_pipeline(const weir_pipeline *p, weir_store_t *store,
                              const weir_run_opts *opts, weir_run_result *res);
void weir_run_result_free(weir_run_result *res);

/*
 * The same run, one step at a time, for callers that own their loop (the
 * operator reconciles many runs on a few threads):
 *
 *   weir_engine_open()   metadata setup; reopening a run id that exists in
 *                        the store resumes it: its COMPLETE/CACHED nodes are
 *                        adopted as they are (same execution, nothing rerun)
 *                        when their cache key still matches, and executions
 *                        left RUNNING by a runner that died are recorded
 *                        CANCELED and run again;
 *   weir_engine_step()   starts what is ready, launches due retries, and
 *                        handles every node end the launcher reports within
 *                        timeout_ms (0: do not wait); *done = 1 when nothing
 *                        is left to run or wait for;
 *   weir_engine_cancel() asks running nodes to stop (steps then report them);
 *   weir_engine_close()  records the run's final state, fills `res` (may be
 *                        NULL) and frees; returns what weir_run_pipeline
 *                        returns.
 *
 * `p`, `store` and the launcher must outlive the engine; `opts` is copied
 * (its strings and pointers are borrowed). Not thread-safe: one thread at a
 * time per engine (and per store).
 */
typedef struct weir_engine weir_engine_t;

weir_status weir_engine_open(const weir_pipeline *p, weir_store_t *store,
                             const weir_run_opts *opts, weir_engine_t **out);
weir_status weir_engine_step(weir_engine_t *e, int timeout_ms, int *done);
void weir_engine_cancel(weir_engine_t *e);
/* The store the next calls use (a caller that moves an engine between
 * threads gives each thread its own connection to the same store). */
void weir_engine_set_store(weir_engine_t *e, weir_store_t *store);
weir_status weir_engine_close(weir_engine_t *e, weir_run_result *res);

typedef struct weir_node_info {
    weir_node_state state;
    uint32_t attempt;          /* attempts started so far */
    int64_t execution_id;      /* 0: none yet */
    int waiting_retry;         /* RUNNING but between attempts */
    int launched;              /* an attempt is running now */
    uint64_t handle;           /* its launcher handle when launched */
    double elapsed_s;
    const char *message;       /* the last message about it, or NULL */
    const char *log_uri;       /* the current attempt's log, or NULL */
} weir_node_info;

const char *weir_engine_run_id(const weir_engine_t *e);
/* Borrowed strings, valid until the next step. */
void weir_engine_node(const weir_engine_t *e, size_t node, weir_node_info *out);
/* URI of artifact m of output k (declaration order) of a node; NULL past
 * the end or before the node has outputs. */
const char *weir_engine_output_uri(const weir_engine_t *e, size_t node, size_t k, size_t m);

/* Content fingerprint of everything under `uri` (see above). */
weir_status weir_artifact_fingerprint(const char *uri, char out[WEIR_SHA256_HEX_LEN + 1]);

/* Context type names the engine uses. */
#define WEIR_CTX_PIPELINE "pipeline"
#define WEIR_CTX_RUN "pipeline_run"
#define WEIR_CTX_NODE "node"

#ifdef __cplusplus
}
#endif
#endif
