/*
 * reconcile.c — the level-based reconcile of PipelineRuns and of the pods
 * they own.
 *
 * Key "run/NS/NAME": read the run from the informer's cache (not found or
 * being deleted: stop its engine, its pods go with it through their owner
 * reference); a finished run needs nothing; otherwise make sure an engine
 * exists for it (opening one for a run the store already knows resumes it:
 * nodes that finished are adopted, not rerun), let the engine act on what
 * the pods say (start ready nodes, handle ends, retry), rebuild the status
 * from that and write it through the status subresource when it changed,
 * record Events for what happened, and ask to be called again.
 *
 * Key "pod/NS/NAME": a pod of ours that ended or is being deleted gets its
 * log copied to its log URI and then its finalizer removed; the run's
 * engine counts the pod's end only after that (pod_launcher.c).
 *
 * Every engine call happens with op->mu held: the engines share one
 * metadata store.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "operator.h"

#define REQUEUE_IDLE_MS 5000
#define REQUEUE_BUSY_MS 1000
#define REQUEUE_FULL_MS 30000   /* fallback: a finished run wakes the next */
#define MAX_EVENTS 64
#define MAX_CREATES 32

const weir_kube_resource weir_op_pipelineruns = {"weir.dev", "v1alpha1", "pipelineruns", 1};
const weir_kube_resource weir_op_pipelines = {"weir.dev", "v1alpha1", "pipelines", 1};

struct run_entry {
    char *key, *ns, *name, *uid, *run_id;
    weir_pipeline *p;
    weir_engine_t *eng;
    weir_launcher launcher;
    weir_pod_launcher *pl;
    weir_node_state *seen;   /* per node, for events */
    uint32_t *seen_attempt;
    char **pod;              /* per node: the last pod it ran in */
    char start_time[32];
    char *last_status;       /* what was written last (to skip no-op writes) */
    int64_t generation;
};

struct pending_event {
    const char *type, *reason;
    char *message;
};

char *weir_op_fmt(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0) s = NULL;
    va_end(ap);
    return s;
}

void weir_op_now_rfc3339(char out[32]) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void weir_op_event(weir_op *op, const char *api_version, const char *kind, const char *ns,
                   const char *name, const char *uid, const char *type, const char *reason,
                   const char *message) {
    char now[32], gen[300];
    weir_op_now_rfc3339(now);
    snprintf(gen, sizeof gen, "%.200s.", name);
    cJSON *ev = cJSON_CreateObject();
    if (!ev) return;
    cJSON_AddStringToObject(ev, "apiVersion", "v1");
    cJSON_AddStringToObject(ev, "kind", "Event");
    cJSON *md = cJSON_AddObjectToObject(ev, "metadata");
    cJSON_AddStringToObject(md, "generateName", gen);
    cJSON_AddStringToObject(md, "namespace", ns);
    cJSON *io = cJSON_AddObjectToObject(ev, "involvedObject");
    cJSON_AddStringToObject(io, "apiVersion", api_version);
    cJSON_AddStringToObject(io, "kind", kind);
    cJSON_AddStringToObject(io, "namespace", ns);
    cJSON_AddStringToObject(io, "name", name);
    if (uid) cJSON_AddStringToObject(io, "uid", uid);
    cJSON_AddStringToObject(ev, "type", type);
    cJSON_AddStringToObject(ev, "reason", reason);
    /* Events carry at most 1 KiB of message in practice; keep the head. */
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", message ? message : "");
    cJSON_AddStringToObject(ev, "message", msg);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(ev, "source"), "component", WEIR_OP_MANAGED_BY);
    cJSON_AddStringToObject(ev, "reportingComponent", "weir.dev/operator");
    cJSON_AddStringToObject(ev, "reportingInstance", op->hostname);
    cJSON_AddStringToObject(ev, "firstTimestamp", now);
    cJSON_AddStringToObject(ev, "lastTimestamp", now);
    cJSON_AddNumberToObject(ev, "count", 1);
    WEIR_DEBUG("event %s on %s %s/%s: %s", reason, kind, ns, name, msg);
    if (weir_kube_create(op->kc, &weir_kube_events, ns, ev, NULL))
        WEIR_WARN("recording event %s on %s %s/%s: %s", reason, kind, ns, name, weir_error_message());
    else
        atomic_fetch_add(&op->m.events_written, 1);
    cJSON_Delete(ev);
}

/* ------------------------------------------------------------ table */

static struct run_entry *find_entry(weir_op *op, const char *key) {
    for (size_t i = 0; i < op->ntable; i++)
        if (strcmp(op->table[i]->key, key) == 0) return op->table[i];
    return NULL;
}

static void free_entry(struct run_entry *re) {
    if (!re) return;
    if (re->p) {
        for (size_t i = 0; re->pod && i < re->p->nnodes; i++) free(re->pod[i]);
    }
    free(re->pod);
    free(re->seen);
    free(re->seen_attempt);
    weir_pipeline_free(re->p);
    free(re->key);
    free(re->ns);
    free(re->name);
    free(re->uid);
    free(re->run_id);
    free(re->last_status);
    free(re);
}

/* Runs waiting for a free slot (--max-runs), oldest first; op->mu held. */
static void wait_for_slot(weir_op *op, const char *key) {
    for (size_t i = 0; i < op->nwaiting; i++)
        if (strcmp(op->waiting[i], key) == 0) return;
    if (op->nwaiting == op->capwaiting) {
        size_t nc = op->capwaiting ? op->capwaiting * 2 : 64;
        char **nw = realloc(op->waiting, nc * sizeof *nw);
        if (!nw) return; /* the fallback requeue still comes */
        op->waiting = nw;
        op->capwaiting = nc;
    }
    char *k = strdup(key);
    if (k) op->waiting[op->nwaiting++] = k;
}

static void forget_waiting(weir_op *op, const char *key) {
    for (size_t i = 0; i < op->nwaiting; i++) {
        if (strcmp(op->waiting[i], key) != 0) continue;
        free(op->waiting[i]);
        memmove(&op->waiting[i], &op->waiting[i + 1], (op->nwaiting - i - 1) * sizeof *op->waiting);
        op->nwaiting--;
        return;
    }
}

/* A slot came free: the oldest waiting run is reconciled now. */
static void wake_next(weir_op *op) {
    if (!op->nwaiting) return;
    char *k = op->waiting[0];
    memmove(&op->waiting[0], &op->waiting[1], (op->nwaiting - 1) * sizeof *op->waiting);
    op->nwaiting--;
    char key[600];
    snprintf(key, sizeof key, "run/%s", k);
    (void)weir_kube_workqueue_add(op->q, key);
    free(k);
}

_Thread_local weir_store_t *weir_op_store;

/* Closes a run's engine and forgets the run (takes op->mu itself). */
static void drop_entry(weir_op *op, struct run_entry *re) {
    pthread_mutex_lock(&op->mu);
    for (size_t i = 0; i < op->ntable; i++) {
        if (op->table[i] != re) continue;
        op->table[i] = op->table[--op->ntable];
        break;
    }
    wake_next(op);
    pthread_mutex_unlock(&op->mu);
    if (re->eng) {
        weir_engine_set_store(re->eng, weir_op_store);
        (void)weir_engine_close(re->eng, NULL);
        re->eng = NULL;
        atomic_fetch_sub(&op->m.runs_active, 1);
    }
    if (re->launcher.vt) re->launcher.vt->destroy(re->launcher.ctx);
    free_entry(re);
}

static struct run_entry *lookup(weir_op *op, const char *key) {
    pthread_mutex_lock(&op->mu);
    struct run_entry *re = find_entry(op, key);
    pthread_mutex_unlock(&op->mu);
    return re;
}

/* ------------------------------------------------------------ helpers */

static const char *sget(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *phase_of(const cJSON *run) {
    return sget(cJSON_GetObjectItemCaseSensitive(run, "status"), "phase");
}

static const char *state_word(weir_node_state s) {
    switch (s) {
    case WEIR_NODE_PENDING: return "Pending";
    case WEIR_NODE_RUNNING: return "Running";
    case WEIR_NODE_COMPLETE: return "Succeeded";
    case WEIR_NODE_CACHED: return "Cached";
    case WEIR_NODE_FAILED: return "Failed";
    case WEIR_NODE_SKIPPED: return "Skipped";
    case WEIR_NODE_CANCELED: return "Canceled";
    }
    return "Unknown";
}

/* Writes {"status": st} through the status subresource when it differs from
 * what was written last. Takes st. */
static weir_status write_status(weir_op *op, const char *ns, const char *name, cJSON *st,
                                char **last) {
    char *cur = cJSON_PrintUnformatted(st);
    if (!cur) {
        cJSON_Delete(st);
        return weir_errorf(WEIR_ENOMEM, "out of memory");
    }
    if (last && *last && strcmp(*last, cur) == 0) {
        free(cur);
        cJSON_Delete(st);
        return WEIR_OK;
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "status", st);
    char *txt = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    if (!txt) {
        free(cur);
        return weir_errorf(WEIR_ENOMEM, "out of memory");
    }
    WEIR_DEBUG("status of %s/%s: %s", ns, name, txt);
    weir_status rc = weir_kube_patch_status(op->kc, &weir_op_pipelineruns, ns, name,
                                            WEIR_KUBE_PATCH_MERGE, txt, NULL);
    free(txt);
    if (rc == WEIR_OK) {
        atomic_fetch_add(&op->m.status_writes, 1);
        if (last) {
            free(*last);
            *last = cur;
            cur = NULL;
        }
    }
    free(cur);
    if (rc == WEIR_ENOENT) rc = WEIR_OK; /* deleted meanwhile: the next reconcile sees it */
    return rc;
}

static cJSON *condition(const char *status, const char *reason, const char *message,
                        const char *since, int64_t generation) {
    cJSON *arr = cJSON_CreateArray();
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToArray(arr, c);
    cJSON_AddStringToObject(c, "type", "Succeeded");
    cJSON_AddStringToObject(c, "status", status);
    cJSON_AddStringToObject(c, "reason", reason);
    if (message) cJSON_AddStringToObject(c, "message", message);
    cJSON_AddStringToObject(c, "lastTransitionTime", since);
    cJSON_AddNumberToObject(c, "observedGeneration", (double)generation);
    return arr;
}

/* A run that cannot start (bad spec, missing Pipeline): Failed, with why. */
static weir_status fail_run(weir_op *op, const cJSON *run, const char *reason, const char *why) {
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(run, "metadata");
    const char *ns = sget(md, "namespace"), *name = sget(md, "name"), *uid = sget(md, "uid");
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(md, "generation");
    int64_t gen = cJSON_IsNumber(g) ? (int64_t)g->valuedouble : 0;
    char now[32];
    weir_op_now_rfc3339(now);
    cJSON *st = cJSON_CreateObject();
    cJSON_AddStringToObject(st, "phase", "Failed");
    cJSON_AddStringToObject(st, "message", why);
    cJSON_AddStringToObject(st, "completionTime", now);
    cJSON_AddNumberToObject(st, "observedGeneration", (double)gen);
    cJSON_AddItemToObject(st, "conditions", condition("False", reason, why, now, gen));
    weir_status rc = write_status(op, ns, name, st, NULL);
    weir_op_event(op, "weir.dev/v1alpha1", "PipelineRun", ns, name, uid, "Warning", reason, why);
    atomic_fetch_add(&op->m.runs_failed, 1);
    return rc;
}

/* The pipeline a run executes: inline spec.pipeline or the Pipeline named
 * by spec.pipelineRef, with spec.params and spec.root applied. */
static weir_status load_pipeline(weir_op *op, const cJSON *run, weir_pipeline **out,
                                 const char **reason) {
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(run, "metadata");
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(run, "spec");
    const char *ns = sget(md, "namespace"), *name = sget(md, "name");
    const cJSON *inl = cJSON_GetObjectItemCaseSensitive(spec, "pipeline");
    const cJSON *ref = cJSON_GetObjectItemCaseSensitive(spec, "pipelineRef");
    cJSON *owned = NULL;
    char src[600];
    *reason = "InvalidPipeline";
    if (!inl && ref) {
        const char *pname = sget(ref, "name");
        char key[512];
        snprintf(key, sizeof key, "%s/%s", ns, pname ? pname : "");
        if (!pname || weir_kube_informer_get(op->pipelines, key, &owned)) {
            *reason = "PipelineNotFound";
            return weir_errorf(WEIR_ENOENT, "spec.pipelineRef names Pipeline %s, which does not "
                               "exist in namespace %s; create it or fix the name",
                               pname ? pname : "(none)", ns);
        }
        inl = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(owned, "spec"),
                                               "pipeline");
        snprintf(src, sizeof src, "Pipeline %s/%s", ns, pname);
    } else {
        snprintf(src, sizeof src, "PipelineRun %s/%s spec", ns, name);
    }
    if (!cJSON_IsObject(inl)) {
        cJSON_Delete(owned);
        return weir_errorf(WEIR_EINVAL, "%s has no pipeline to run", src);
    }
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddItemToObject(doc, "pipeline", cJSON_Duplicate(inl, 1));
    weir_pipeline_options po = {0};
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(spec, "params");
    if (cJSON_IsObject(params)) po.param_values = params;
    po.root = sget(spec, "root");
    weir_diags diags = {0};
    weir_status rc = weir_pipeline_from_doc(src, doc, NULL, 0, &po, out, &diags);
    weir_diags_free(&diags);
    cJSON_Delete(doc);
    cJSON_Delete(owned);
    return rc;
}

/* Pods a previous operator left for this run: the ones still running are
 * stopped (their executions are recorded CANCELED and run again), the ones
 * that ended get their logs kept. */
static void sweep_old_pods(weir_op *op, const char *ns, const char *uid) {
    char sel[128];
    snprintf(sel, sizeof sel, "weir.dev/run-uid=%s", uid);
    weir_kube_list_opts lo = {.label_selector = sel};
    cJSON *list = NULL;
    if (weir_kube_list(op->kc, &weir_kube_pods, ns, &lo, &list)) {
        WEIR_WARN("listing old pods of run %s: %s", uid, weir_error_message());
        return;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "items")) {
        const char *ph = sget(cJSON_GetObjectItemCaseSensitive(it, "status"), "phase");
        const char *pn = sget(cJSON_GetObjectItemCaseSensitive(it, "metadata"), "name");
        if (ph && (strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0)) {
            (void)weir_op_release_pod(op, it);
        } else if (pn) {
            WEIR_INFO("pod %s/%s belongs to an earlier operator's attempt; deleting it", ns, pn);
            (void)weir_kube_delete(op->kc, &weir_kube_pods, ns, pn, WEIR_KUBE_PROPAGATE_BACKGROUND);
        }
    }
    cJSON_Delete(list);
}

static weir_status open_entry(weir_op *op, const cJSON *run, const char *key,
                              struct run_entry **out, const char **reason) {
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(run, "metadata");
    const char *ns = sget(md, "namespace"), *name = sget(md, "name"), *uid = sget(md, "uid");
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(md, "generation");
    *reason = "InternalError";
    struct run_entry *re = calloc(1, sizeof *re);
    if (!re) return weir_errorf(WEIR_ENOMEM, "out of memory");
    re->key = strdup(key);
    re->ns = strdup(ns);
    re->name = strdup(name);
    re->uid = strdup(uid);
    re->run_id = weir_op_fmt("%s-%.8s", name, uid);
    re->generation = cJSON_IsNumber(g) ? (int64_t)g->valuedouble : 0;
    if (!re->key || !re->ns || !re->name || !re->uid || !re->run_id) {
        free_entry(re);
        return weir_errorf(WEIR_ENOMEM, "out of memory");
    }
    weir_status rc = load_pipeline(op, run, &re->p, reason);
    if (rc) {
        free_entry(re);
        return rc;
    }
    size_t n = re->p->nnodes ? re->p->nnodes : 1;
    re->seen = calloc(n, sizeof *re->seen);
    re->seen_attempt = calloc(n, sizeof *re->seen_attempt);
    re->pod = calloc(n, sizeof *re->pod);
    if (!re->seen || !re->seen_attempt || !re->pod) {
        free_entry(re);
        return weir_errorf(WEIR_ENOMEM, "out of memory");
    }
    const char *st = sget(cJSON_GetObjectItemCaseSensitive(run, "status"), "startTime");
    if (st) snprintf(re->start_time, sizeof re->start_time, "%s", st);
    else weir_op_now_rfc3339(re->start_time);
    /* a run that already has a status was started by an earlier operator:
     * its pods may still be around */
    if (sget(cJSON_GetObjectItemCaseSensitive(run, "status"), "phase")) sweep_old_pods(op, ns, uid);
    rc = weir_pod_launcher_new(op, ns, name, uid, &re->launcher, &re->pl);
    if (rc) {
        free_entry(re);
        return rc;
    }
    weir_run_opts ro = {.run_id = re->run_id, .launcher = &re->launcher, .remote = 1,
                        .retry_backoff_s = op->cfg.retry_backoff_s,
                        .parallelism = 64};
    *reason = "MetadataError";
    rc = weir_engine_open(re->p, weir_op_store, &ro, &re->eng);
    if (rc) {
        re->launcher.vt->destroy(re->launcher.ctx);
        free_entry(re);
        return rc;
    }
    pthread_mutex_lock(&op->mu);
    if (op->ntable == op->cap) {
        size_t nc = op->cap ? op->cap * 2 : 64;
        struct run_entry **nt = realloc(op->table, nc * sizeof *nt);
        if (!nt) {
            pthread_mutex_unlock(&op->mu);
            (void)weir_engine_close(re->eng, NULL);
            re->launcher.vt->destroy(re->launcher.ctx);
            free_entry(re);
            return weir_errorf(WEIR_ENOMEM, "out of memory");
        }
        op->table = nt;
        op->cap = nc;
    }
    op->table[op->ntable++] = re;
    pthread_mutex_unlock(&op->mu);
    atomic_fetch_add(&op->m.runs_active, 1);
    atomic_fetch_add(&op->m.runs_started, 1);
    *out = re;
    return WEIR_OK;
}

/* Events for what changed since the last look (node starts, ends,
 * retries). */
static size_t collect_events(struct run_entry *re, struct pending_event *ev, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < re->p->nnodes && n < cap; i++) {
        weir_node_info in;
        weir_engine_node(re->eng, i, &in);
        if (in.launched && in.handle) {
            const char *pod = weir_pod_launcher_pod(re->pl, in.handle);
            if (pod[0] && (!re->pod[i] || strcmp(re->pod[i], pod) != 0)) {
                free(re->pod[i]);
                re->pod[i] = strdup(pod);
            }
        }
        const char *node = re->p->nodes[i].name;
        if (in.state == re->seen[i] && in.attempt == re->seen_attempt[i]) continue;
        /* No event per pod start: the pod has its own (Scheduled, Started)
         * and the status names it; events say what the run decided. */
        if (in.state == WEIR_NODE_RUNNING && in.waiting_retry && in.message) {
            ev[n++] = (struct pending_event){"Warning", "NodeRetrying",
                weir_op_fmt("node %s: %s", node, in.message)};
        } else if (in.state == WEIR_NODE_COMPLETE || in.state == WEIR_NODE_CACHED) {
            ev[n++] = (struct pending_event){"Normal", in.state == WEIR_NODE_CACHED ? "NodeCached"
                                                                                    : "NodeSucceeded",
                weir_op_fmt("node %s: %s (execution %lld)", node, state_word(in.state),
                            (long long)in.execution_id)};
        } else if (in.state == WEIR_NODE_FAILED) {
            ev[n++] = (struct pending_event){"Warning", "NodeFailed",
                weir_op_fmt("node %s failed: %s", node, in.message ? in.message : "")};
        }
        re->seen[i] = in.state;
        re->seen_attempt[i] = in.attempt;
    }
    return n;
}

/* Status from the engine's view of the run. */
static cJSON *build_status(struct run_entry *re, const char *phase, const char *message,
                           const char *completion) {
    cJSON *st = cJSON_CreateObject();
    size_t fin = 0;
    int waiting = 0;
    cJSON *nodes = cJSON_CreateObject();
    for (size_t i = 0; i < re->p->nnodes; i++) {
        weir_node_info in;
        weir_engine_node(re->eng, i, &in);
        const weir_pipeline_node *nd = &re->p->nodes[i];
        if (in.state != WEIR_NODE_PENDING && in.state != WEIR_NODE_RUNNING) fin++;
        if (in.waiting_retry) waiting = 1;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "state", in.waiting_retry ? "Retrying" : state_word(in.state));
        if (re->pod[i]) cJSON_AddStringToObject(o, "pod", re->pod[i]);
        cJSON_AddNumberToObject(o, "attempts", in.attempt);
        if (in.execution_id) cJSON_AddNumberToObject(o, "execution", (double)in.execution_id);
        if (in.state == WEIR_NODE_COMPLETE || in.state == WEIR_NODE_CACHED) {
            cJSON *outs = cJSON_AddObjectToObject(o, "outputs");
            for (size_t k = 0; k < nd->noutputs; k++) {
                const char *u = weir_engine_output_uri(re->eng, i, k, 0);
                if (u) cJSON_AddStringToObject(outs, nd->outputs[k].name, u);
            }
        }
        if (in.message) {
            char msg[4096];
            snprintf(msg, sizeof msg, "%s", in.message);
            cJSON_AddStringToObject(o, "message", msg);
        } else {
            cJSON_AddNullToObject(o, "message"); /* a merge patch removes it */
        }
        cJSON_AddItemToObject(nodes, nd->name, o);
    }
    char prog[48];
    snprintf(prog, sizeof prog, "%zu/%zu", fin, re->p->nnodes);
    cJSON_AddStringToObject(st, "phase", phase);
    cJSON_AddStringToObject(st, "progress", prog);
    cJSON_AddStringToObject(st, "runId", re->run_id);
    cJSON_AddStringToObject(st, "startTime", re->start_time);
    if (completion) cJSON_AddStringToObject(st, "completionTime", completion);
    else cJSON_AddNullToObject(st, "completionTime");
    if (message) cJSON_AddStringToObject(st, "message", message);
    else cJSON_AddNullToObject(st, "message");
    cJSON_AddNumberToObject(st, "observedGeneration", (double)re->generation);
    cJSON_AddItemToObject(st, "nodes", nodes);
    const char *cs = strcmp(phase, "Succeeded") == 0 ? "True"
                     : strcmp(phase, "Failed") == 0  ? "False" : "Unknown";
    cJSON_AddItemToObject(st, "conditions",
                          condition(cs, phase, message, completion ? completion : re->start_time,
                                    re->generation));
    (void)waiting;
    return st;
}

static int any_waiting_retry(struct run_entry *re) {
    for (size_t i = 0; i < re->p->nnodes; i++) {
        weir_node_info in;
        weir_engine_node(re->eng, i, &in);
        if (in.waiting_retry) return 1;
    }
    return 0;
}

static weir_status reconcile_run(weir_op *op, const char *key, int64_t *requeue_ms) {
    cJSON *run = NULL;
    weir_status rc = weir_kube_informer_get(op->runs, key, &run);
    if (rc && rc != WEIR_ENOENT) return rc;
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(run, "metadata");
    const char *uid = sget(md, "uid");
    int gone = !run || cJSON_GetObjectItemCaseSensitive(md, "deletionTimestamp") != NULL;

    /* This worker alone handles this key until it returns: the entry and
     * its engine are ours; op->mu guards only the table. */
    struct run_entry *re = lookup(op, key);
    if (re) weir_engine_set_store(re->eng, weir_op_store);
    if (re && (gone || !uid || strcmp(re->uid, uid) != 0)) {
        /* deleted (or deleted and created again): stop what runs; the pods
         * go with the run through their owner reference */
        WEIR_INFO("run %s was deleted; stopping it", key);
        weir_engine_cancel(re->eng);
        int done = 0;
        (void)weir_engine_step(re->eng, 0, &done);
        drop_entry(op, re);
        re = NULL;
    }
    if (gone) {
        pthread_mutex_lock(&op->mu);
        forget_waiting(op, key);
        pthread_mutex_unlock(&op->mu);
        cJSON_Delete(run);
        return WEIR_OK;
    }
    const char *phase = phase_of(run);
    if (!re && phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)) {
        cJSON_Delete(run);
        return WEIR_OK; /* finished: nothing to do */
    }
    if (!re) {
        pthread_mutex_lock(&op->mu);
        if (op->cfg.max_runs > 0 && (int)(op->ntable + op->opening) >= op->cfg.max_runs) {
            wait_for_slot(op, key);
            pthread_mutex_unlock(&op->mu);
            if (!phase) {
                cJSON *st = cJSON_CreateObject();
                cJSON_AddStringToObject(st, "phase", "Pending");
                char *m = weir_op_fmt("waiting: %d runs are active (the operator's --max-runs)",
                                      op->cfg.max_runs);
                cJSON_AddStringToObject(st, "message", m ? m : "waiting");
                free(m);
                (void)write_status(op, sget(md, "namespace"), sget(md, "name"), st, NULL);
            }
            cJSON_Delete(run);
            *requeue_ms = REQUEUE_FULL_MS;
            return WEIR_OK;
        }
        const char *reason = NULL;
        forget_waiting(op, key);
        op->opening++;
        pthread_mutex_unlock(&op->mu);
        rc = open_entry(op, run, key, &re, &reason);
        pthread_mutex_lock(&op->mu);
        op->opening--;
        if (rc) wake_next(op);
        pthread_mutex_unlock(&op->mu);
        if (rc) {
            char *why = strdup(weir_error_message());
            if (rc == WEIR_ENOMEM) {
                free(why);
                cJSON_Delete(run);
                return rc;
            }
            if (rc == WEIR_ENOENT && strcmp(reason, "PipelineNotFound") == 0) {
                /* it may be created next: say so and look again later */
                cJSON *st = cJSON_CreateObject();
                cJSON_AddStringToObject(st, "phase", "Pending");
                cJSON_AddStringToObject(st, "message", why ? why : "pipeline not found");
                (void)write_status(op, sget(md, "namespace"), sget(md, "name"), st, NULL);
                *requeue_ms = REQUEUE_IDLE_MS;
                rc = WEIR_OK;
            } else {
                WEIR_WARN("run %s cannot start: %s", key, why ? why : "?");
                rc = fail_run(op, run, reason, why ? why : "the run could not start");
            }
            free(why);
            cJSON_Delete(run);
            return rc;
        }
        WEIR_INFO("run %s: started (run id %s, %zu nodes)", key, re->run_id, re->p->nnodes);
    }

    int done = 0;
    weir_status src = weir_engine_step(re->eng, 0, &done);
    /* a step that handled the last ends learns it is done only on the next */
    if (!src && !done) src = weir_engine_step(re->eng, 0, &done);
    struct pending_event ev[MAX_EVENTS];
    size_t nev = collect_events(re, ev, MAX_EVENTS);
    weir_pod_create creates[MAX_CREATES];
    size_t ncreates = done ? 0 : weir_pod_launcher_take_creates(re->pl, creates, MAX_CREATES);
    cJSON *st;
    char *ns = strdup(re->ns), *name = strdup(re->name), *ruid = strdup(re->uid);
    char *last = re->last_status ? strdup(re->last_status) : NULL;
    int finished = 0;
    if (done) {
        char now[32];
        weir_op_now_rfc3339(now);
        weir_run_result res;
        const char *ph;
        char *msg = NULL;
        /* build the status before close frees the engine */
        weir_status crc;
        if (src) {
            msg = weir_op_fmt("the operator could not go on with this run: %s", weir_error_message());
        }
        size_t failed = 0, first = re->p->nnodes;
        for (size_t i = 0; i < re->p->nnodes; i++) {
            weir_node_info in;
            weir_engine_node(re->eng, i, &in);
            if (in.state == WEIR_NODE_FAILED) {
                if (first == re->p->nnodes) first = i;
                failed++;
            }
        }
        if (!msg && failed) {
            weir_node_info in;
            weir_engine_node(re->eng, first, &in);
            msg = weir_op_fmt("node %s failed%s: %s", re->p->nodes[first].name,
                              failed > 1 ? " (and others)" : "", in.message ? in.message : "");
        }
        ph = src || failed ? "Failed" : "Succeeded";
        st = build_status(re, ph, msg ? msg : "all nodes succeeded", now);
        crc = weir_engine_close(re->eng, &res);
        re->eng = NULL;
        atomic_fetch_sub(&op->m.runs_active, 1);
        if (crc == WEIR_OK) atomic_fetch_add(&op->m.runs_succeeded, 1);
        else atomic_fetch_add(&op->m.runs_failed, 1);
        weir_run_result_free(&res);
        ev[nev < MAX_EVENTS ? nev++ : MAX_EVENTS - 1] = (struct pending_event){
            strcmp(ph, "Succeeded") == 0 ? "Normal" : "Warning",
            strcmp(ph, "Succeeded") == 0 ? "RunSucceeded" : "RunFailed",
            weir_op_fmt("%s", msg ? msg : "all nodes succeeded")};
        free(msg);
        drop_entry(op, re);
        re = NULL;
        finished = 1;
    } else {
        st = build_status(re, "Running", NULL, NULL);
        *requeue_ms = any_waiting_retry(re) ? REQUEUE_BUSY_MS : REQUEUE_IDLE_MS;
    }

    /* Pods first (the run's key is ours alone until we return, so the
     * launcher stays put), then the outcome back under the lock. */
    if (ncreates) {
        int failed = 0;
        for (size_t i = 0; i < ncreates; i++)
            if (weir_pod_launcher_create(op, ns, &creates[i])) failed = 1;
        pthread_mutex_lock(&op->mu);
        struct run_entry *again = find_entry(op, key);
        for (size_t i = 0; i < ncreates; i++) {
            if (again) weir_pod_launcher_created(again->pl, &creates[i]);
            free(creates[i].error);
        }
        pthread_mutex_unlock(&op->mu);
        if (failed || ncreates == MAX_CREATES) *requeue_ms = 1; /* report it / create the rest */
    }

    /* API writes without the lock; `last` is what was written before */
    rc = write_status(op, ns, name, st, &last);
    if (!finished && last) {
        pthread_mutex_lock(&op->mu);
        struct run_entry *again = find_entry(op, key);
        if (again && (!again->last_status || strcmp(again->last_status, last) != 0)) {
            free(again->last_status);
            again->last_status = last;
            last = NULL;
        }
        pthread_mutex_unlock(&op->mu);
    }
    free(last);
    for (size_t i = 0; i < nev; i++) {
        if (ev[i].message)
            weir_op_event(op, "weir.dev/v1alpha1", "PipelineRun", ns, name, ruid, ev[i].type,
                          ev[i].reason, ev[i].message);
        free(ev[i].message);
    }
    if (finished) WEIR_INFO("run %s: finished", key);
    free(ns);
    free(name);
    free(ruid);
    cJSON_Delete(run);
    return rc;
}

static weir_status reconcile_pod(weir_op *op, const char *key) {
    cJSON *pod = NULL;
    weir_status rc = weir_kube_informer_get(op->pods, key, &pod);
    if (rc == WEIR_ENOENT) return WEIR_OK;
    if (rc) return rc;
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
    const char *ph = sget(cJSON_GetObjectItemCaseSensitive(pod, "status"), "phase");
    int deleting = cJSON_GetObjectItemCaseSensitive(md, "deletionTimestamp") != NULL;
    int ended = ph && (strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0);
    if (!deleting && !ended) {
        cJSON_Delete(pod);
        return WEIR_OK;
    }
    rc = weir_op_release_pod(op, pod);
    cJSON_Delete(pod);
    return rc;
}

weir_status weir_op_reconcile(weir_op *op, const char *key, int64_t *requeue_ms) {
    *requeue_ms = 0;
    if (strncmp(key, "run/", 4) == 0) return reconcile_run(op, key + 4, requeue_ms);
    if (strncmp(key, "pod/", 4) == 0) return reconcile_pod(op, key + 4);
    return weir_errorf(WEIR_EINVAL, "unknown work item %s", key);
}

void weir_op_shutdown_runs(weir_op *op) {
    /* Engines are closed without cancelling: their pods keep running and
     * the next leader resumes the runs. */
    pthread_mutex_lock(&op->mu);
    while (op->ntable) {
        struct run_entry *re = op->table[op->ntable - 1];
        op->ntable--;
        if (re->eng) {
            weir_engine_set_store(re->eng, op->store); /* the workers' are closed */
            (void)weir_engine_close(re->eng, NULL);
            re->eng = NULL;
        }
        if (re->launcher.vt) re->launcher.vt->destroy(re->launcher.ctx);
        free_entry(re);
    }
    free(op->table);
    op->table = NULL;
    op->cap = 0;
    for (size_t i = 0; i < op->nwaiting; i++) free(op->waiting[i]);
    free(op->waiting);
    op->waiting = NULL;
    op->nwaiting = op->capwaiting = 0;
    pthread_mutex_unlock(&op->mu);
}
