/*
 * operator.h — what weir-operator's files share.
 *
 * The operator is lib/pipeline's engine with a launcher that runs each node
 * as a pod (pod_launcher.c), driven by a level-based reconcile of
 * PipelineRun objects (reconcile.c) from a rate-limited workqueue fed by
 * informers (main.c). /metrics, /healthz and /readyz are served by http.c.
 */
#ifndef WEIR_OPERATOR_H
#define WEIR_OPERATOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/core.h"
#include "weir/engine.h"
#include "weir/kube.h"
#include "weir/launcher.h"
#include "weir/meta.h"
#include "weir/pipeline.h"

#define WEIR_OP_FINALIZER "weir.dev/log-copy"
#define WEIR_OP_MANAGED_BY "weir-operator"
#define WEIR_OP_MAX_LIST 16

extern const weir_kube_resource weir_op_pipelineruns;
extern const weir_kube_resource weir_op_pipelines;

typedef struct weir_op_config {
    const char *kubeconfig;        /* NULL: in-cluster, then $KUBECONFIG */
    const char *namespace_;        /* watched namespace; "" = all */
    const char *metadata;          /* SQLite file */
    const char *image_registry;    /* "" = none */
    const char *image_tag;
    const char *image_pull_policy;
    const char *listen;            /* "[host]:port" */
    int leader_elect;
    const char *lease_name;
    const char *lease_namespace;   /* NULL: the client's namespace */
    const char *identity;
    int max_runs;                  /* runs with an engine open at once */
    int max_pods;                  /* node pods running at once, all runs */
    int workers;
    const char *s3_secret;         /* NULL: none */
    const char *pod_service_account;
    const char *gpu_node_selector[WEIR_OP_MAX_LIST];
    size_t ngpu_node_selector;
    const char *gpu_toleration[WEIR_OP_MAX_LIST];
    size_t ngpu_toleration;
    double qps;
    int burst;
    double retry_backoff_s;
} weir_op_config;

/* Counters for /metrics (relaxed atomics; read without locks). */
typedef struct weir_op_metrics {
    atomic_ullong reconciles, reconcile_errors, reconcile_usec;
    atomic_ullong pods_created, pods_finished, pods_failed, logs_copied;
    atomic_ullong runs_started, runs_succeeded, runs_failed;
    atomic_ullong status_writes, events_written;
    atomic_int runs_active, pods_active;
    /* reconcile duration histogram, seconds: le 0.001 .. 10, +Inf */
    atomic_ullong hist[9];
} weir_op_metrics;

struct run_entry;

typedef struct weir_op {
    weir_op_config cfg;
    weir_kube_client_t *kc;
    weir_kube_informer_t *runs, *pipelines, *pods;
    weir_kube_workqueue_t *q;
    weir_store_t *store;
    pthread_mutex_t mu;            /* the runs table and the waiting list only: each run's
                                      engine is used by one worker at a time (the workqueue
                                      never hands a key to two), on that worker's own
                                      connection to the store */
    struct run_entry **table;
    size_t ntable, cap;
    size_t opening;                /* runs being opened (count toward --max-runs) */
    char **waiting;                /* runs queued for --max-runs, oldest first */
    size_t nwaiting, capwaiting;
    weir_op_metrics m;
    atomic_int synced, leading, stopping;
    char hostname[128];
} weir_op;

/* The calling worker's connection to the metadata store. */
extern _Thread_local weir_store_t *weir_op_store;

/* reconcile.c */
/* Handles one key ("run/NS/NAME" or "pod/NS/NAME"); *requeue_ms > 0 asks for
 * the key again after that long. */
weir_status weir_op_reconcile(weir_op *op, const char *key, int64_t *requeue_ms);
void weir_op_shutdown_runs(weir_op *op);

/* pod_launcher.c */
typedef struct weir_pod_launcher weir_pod_launcher;
weir_status weir_pod_launcher_new(weir_op *op, const char *ns, const char *run_name,
                                  const char *run_uid, weir_launcher *out,
                                  weir_pod_launcher **pl);
/*
 * Pods are created outside the engines' lock: start() only builds the pod;
 * with op->mu held, take_creates() hands over the pods to create (caller
 * owns them); without it, create() does the API call (sets c->error on
 * failure, frees c->pod); with it again, created() records the outcome
 * (a failure ends that attempt with c->error). The caller frees c->error.
 */
typedef struct weir_pod_create {
    uint64_t handle;
    struct cJSON *pod;
    char *error;
} weir_pod_create;
size_t weir_pod_launcher_take_creates(weir_pod_launcher *pl, weir_pod_create *out, size_t cap);
weir_status weir_pod_launcher_create(weir_op *op, const char *ns, weir_pod_create *c);
void weir_pod_launcher_created(weir_pod_launcher *pl, const weir_pod_create *c);
/* 1 when the launcher waits on the pod called pod_name. */
int weir_pod_launcher_owns(weir_pod_launcher *pl, const char *pod_name);
/* The pod of the node's current attempt ("" when none). */
const char *weir_pod_launcher_pod(weir_pod_launcher *pl, uint64_t handle);
/* Copies a finished or deleted pod's log to its weir.dev/log-uri and drops
 * the finalizer (idempotent). `pod` is the object as last seen. */
weir_status weir_op_release_pod(weir_op *op, const struct cJSON *pod);

/* http.c */
weir_status weir_op_http_start(weir_op *op);
void weir_op_http_stop(void);

/* helpers */
char *weir_op_fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
/* RFC 3339 UTC now, "2026-11-22T04:00:00Z". */
void weir_op_now_rfc3339(char out[32]);
/* Records a Kubernetes Event on `obj` (best effort: failures are logged). */
void weir_op_event(weir_op *op, const char *api_version, const char *kind, const char *ns,
                   const char *name, const char *uid, const char *type, const char *reason,
                   const char *message);

#endif
