/*
 * api_runs.c — runs as the engine records them (weir/engine.h: a
 * "pipeline_run" context per run, one execution per node attempt with
 * custom properties node, run_id, attempt, log_uri, error, cache_key):
 *
 *   GET /api/v1/runs?pipeline=&state=&page_size=&page_token=   newest first
 *   GET /api/v1/runs/{run_id}                                  nodes in detail
 *   GET /api/v1/runs/{run_id}/nodes/{node}/log?attempt=N       streamed text
 *
 * What `weir runs`, `weir runs show` and `weir logs` print, as JSON.
 * Not for: the generic metadata resources (api_meta.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"

#define CTX_RUN "pipeline_run"   /* WEIR_CTX_RUN of weir/engine.h */

/* A run still RUNNING whose runner process is gone was interrupted (as
 * `weir runs` decides; only meaningful on the machine that ran it). */
static const char *run_state(const weir_meta_context *c) {
    const char *st = srv_prop_str(c->custom, c->ncustom, "state", "UNKNOWN");
    if (strcmp(st, "RUNNING") == 0) {
        const char *pid = srv_prop_str(c->custom, c->ncustom, "runner_pid", NULL);
        long v = pid ? strtol(pid, NULL, 10) : 0;
        if (v > 0 && kill((pid_t)v, 0) != 0 && errno == ESRCH) return "INTERRUPTED";
    }
    return st;
}

/* The engine's node state name (weir_node_state_name) for an execution. */
static const char *node_state(weir_meta_execution_state s) {
    switch (s) {
    case WEIR_META_EXEC_NEW: return "Pending";
    case WEIR_META_EXEC_RUNNING: return "Running";
    case WEIR_META_EXEC_COMPLETE: return "Complete";
    case WEIR_META_EXEC_FAILED: return "Failed";
    case WEIR_META_EXEC_CACHED: return "Cached";
    case WEIR_META_EXEC_CANCELED: return "Canceled";
    default: return "Unknown";
    }
}

static weir_status run_type(srv_req *r, int64_t *id) {
    weir_meta_type *t = NULL;
    weir_status rc = weir_store_get_type(r->store, WEIR_META_CONTEXT_TYPE, CTX_RUN, NULL, r->arena, &t);
    if (!rc) *id = t->id;
    return rc;
}

/* The executions of a run, and for each node the index of its latest one
 * (a resumed or retried node has several). */
typedef struct run_nodes {
    weir_meta_execution *ex;
    size_t n;
} run_nodes;

static int is_latest(const run_nodes *rn, size_t k) {
    const char *node = srv_prop_str(rn->ex[k].custom, rn->ex[k].ncustom, "node", "");
    for (size_t j = k + 1; j < rn->n; j++)
        if (!strcmp(srv_prop_str(rn->ex[j].custom, rn->ex[j].ncustom, "node", ""), node)) return 0;
    return 1;
}

static void write_run_summary(srv_req *r, const weir_meta_context *c, const run_nodes *rn) {
    srv_jw *w = &r->w;
    size_t cnt[8] = {0}, nodes = 0;
    for (size_t k = 0; k < rn->n; k++)
        if (is_latest(rn, k)) {
            cnt[rn->ex[k].state & 7]++;
            nodes++;
        }
    srv_jw_kstr(w, "run_id", c->name);
    srv_jw_kint(w, "context_id", c->id);
    srv_jw_kstr(w, "pipeline", srv_prop_str(c->custom, c->ncustom, "pipeline", NULL));
    srv_jw_kstr(w, "pipeline_file", srv_prop_str(c->custom, c->ncustom, "pipeline_file", NULL));
    srv_jw_kstr(w, "state", run_state(c));
    srv_jw_kint(w, "create_time_ms", c->create_time_ms);
    srv_jw_kint(w, "update_time_ms", c->update_time_ms);
    srv_jw_key(w, "nodes");
    srv_jw_obj(w);
    srv_jw_kint(w, "total", (int64_t)nodes);
    srv_jw_kint(w, "complete", (int64_t)cnt[WEIR_META_EXEC_COMPLETE]);
    srv_jw_kint(w, "cached", (int64_t)cnt[WEIR_META_EXEC_CACHED]);
    srv_jw_kint(w, "failed", (int64_t)cnt[WEIR_META_EXEC_FAILED]);
    srv_jw_kint(w, "running", (int64_t)cnt[WEIR_META_EXEC_RUNNING]);
    srv_jw_kint(w, "canceled", (int64_t)cnt[WEIR_META_EXEC_CANCELED]);
    srv_jw_end_obj(w);
}

static unsigned list_runs(srv_req *r) {
    int64_t page_size, token, tid = 0;
    unsigned e;
    if ((e = srv_arg_int(r, "page_size", 20, 1, 500, &page_size))) return e;
    if ((e = srv_arg_int(r, "page_token", 0, 0, INT64_MAX, &token))) return e;
    const char *pipeline = srv_arg(r, "pipeline"), *state = srv_arg(r, "state");
    srv_jw *w = &r->w;
    weir_status rc = run_type(r, &tid);
    if (rc && rc != WEIR_ENOENT) return srv_error_status(r, rc, "reading the run type");
    srv_jw_obj(w);
    srv_jw_key(w, "runs");
    srv_jw_arr(w);
    int64_t cursor = token, last_shown = 0;
    size_t shown = 0, scanned = 0;
    int more = 0, exhausted = !tid;
    while (tid && !more && scanned < 20000) {
        weir_meta_list l = {.cursor = cursor, .limit = 200, .newest_first = 1};
        weir_meta_context *c = NULL;
        size_t n = 0;
        if ((rc = weir_store_get_contexts_by_type(r->store, tid, &l, r->arena, &c, &n)))
            return srv_error_status(r, rc, "listing runs");
        for (size_t i = 0; i < n; i++) {
            if (pipeline && strcmp(srv_prop_str(c[i].custom, c[i].ncustom, "pipeline", ""), pipeline)) continue;
            if (state && strcasecmp(run_state(&c[i]), state)) continue;
            if (shown == (size_t)page_size) {
                more = 1;  /* a further match exists */
                break;
            }
            run_nodes rn = {0};
            if ((rc = weir_store_get_executions_by_context(r->store, c[i].id, NULL, r->arena, &rn.ex, &rn.n)))
                return srv_error_status(r, rc, "reading a run's executions");
            srv_jw_obj(w);
            write_run_summary(r, &c[i], &rn);
            srv_jw_end_obj(w);
            shown++;
            last_shown = c[i].id;
        }
        scanned += n;
        if (n) cursor = c[n - 1].id;
        if (n < 200) exhausted = 1;
        if (exhausted) break;
    }
    srv_jw_end_arr(w);
    char tok[32];
    if (more || !exhausted) {
        /* more matches follow, or the scan budget ran out: go on from there */
        snprintf(tok, sizeof tok, "%lld", (long long)(more ? last_shown : cursor));
        srv_jw_kstr(w, "next_page_token", tok);
    }
    srv_jw_end_obj(w);
    return 200;
}

static unsigned find_run(srv_req *r, const char *run, weir_meta_context **out) {
    int64_t tid = 0;
    weir_status rc = run_type(r, &tid);
    if (rc == WEIR_ENOENT) return srv_error(r, 404, "the store has no runs yet");
    if (rc) return srv_error_status(r, rc, "reading the run type");
    rc = weir_store_get_context_by_type_and_name(r->store, tid, run, r->arena, out);
    if (rc == WEIR_ENOENT) return srv_error(r, 404, "no run called '%s' (GET /api/v1/runs lists them)", run);
    if (rc) return srv_error_status(r, rc, "reading the run");
    return 0;
}

/* Inputs or outputs of an execution: {"key": [{id, type, uri, state}]}. */
static weir_status write_io(srv_req *r, const weir_meta_event *ev, size_t nev, int outputs) {
    srv_jw *w = &r->w;
    srv_jw_obj(w);
    /* events come in insertion order; group by key, keys in first-seen order */
    for (size_t i = 0; i < nev; i++) {
        int want = outputs ? ev[i].type == WEIR_META_EVENT_OUTPUT : ev[i].type == WEIR_META_EVENT_INPUT;
        if (!want) continue;
        const char *key = ev[i].npath && ev[i].path[0].key ? ev[i].path[0].key : "";
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) {
            int w2 = outputs ? ev[j].type == WEIR_META_EVENT_OUTPUT : ev[j].type == WEIR_META_EVENT_INPUT;
            const char *k2 = ev[j].npath && ev[j].path[0].key ? ev[j].path[0].key : "";
            seen = w2 && !strcmp(k2, key);
        }
        if (seen) continue;
        srv_jw_key(w, key);
        srv_jw_arr(w);
        for (size_t j = i; j < nev; j++) {
            int w2 = outputs ? ev[j].type == WEIR_META_EVENT_OUTPUT : ev[j].type == WEIR_META_EVENT_INPUT;
            const char *k2 = ev[j].npath && ev[j].path[0].key ? ev[j].path[0].key : "";
            if (!w2 || strcmp(k2, key)) continue;
            weir_meta_artifact *a = NULL;
            size_t na = 0;
            weir_status rc = weir_store_get_artifacts_by_ids(r->store, &ev[j].artifact_id, 1, r->arena, &a, &na);
            if (rc) return rc;
            srv_jw_obj(w);
            srv_jw_kint(w, "id", ev[j].artifact_id);
            if (na) {
                srv_jw_kstr(w, "type", srv_type_name(r, a->type_id));
                srv_jw_kstr(w, "uri", a->uri);
                srv_jw_kstr(w, "state", weir_meta_artifact_state_name(a->state));
            }
            srv_jw_end_obj(w);
        }
        srv_jw_end_arr(w);
    }
    srv_jw_end_obj(w);
    return WEIR_OK;
}

/* What the component reported: custom properties other than the engine's. */
static void write_reported(srv_jw *w, const weir_meta_execution *e) {
    static const char *const own[] = {"cache_key", "node", "run_id", "component_version",
                                      "attempt", "log_uri", "error", NULL};
    srv_jw_obj(w);
    for (size_t i = 0; i < e->ncustom; i++) {
        int skip = 0;
        for (const char *const *o = own; *o && !skip; o++) skip = !strcmp(e->custom[i].name, *o);
        if (skip) continue;
        srv_jw_key(w, e->custom[i].name);
        srv_jw_value(w, &e->custom[i].value);
    }
    srv_jw_end_obj(w);
}

static unsigned show_run(srv_req *r, const char *run) {
    weir_meta_context *c = NULL;
    unsigned e = find_run(r, run, &c);
    if (e) return e;
    run_nodes rn = {0};
    weir_status rc = weir_store_get_executions_by_context(r->store, c->id, NULL, r->arena, &rn.ex, &rn.n);
    if (rc) return srv_error_status(r, rc, "reading the run's executions");
    srv_jw *w = &r->w;
    srv_jw_obj(w);
    write_run_summary(r, c, &rn);
    srv_jw_key(w, "node_list");
    srv_jw_arr(w);
    for (size_t k = 0; k < rn.n; k++) {
        const weir_meta_execution *x = &rn.ex[k];
        if (!is_latest(&rn, k)) continue;
        const weir_meta_prop *att = weir_meta_prop_find(x->custom, x->ncustom, "attempt");
        srv_jw_obj(w);
        srv_jw_kstr(w, "node", srv_prop_str(x->custom, x->ncustom, "node", "?"));
        srv_jw_kstr(w, "component_type", srv_type_name(r, x->type_id));
        srv_jw_kstr(w, "state", node_state(x->state));
        srv_jw_kint(w, "execution_id", x->id);
        srv_jw_kstr(w, "execution_state", weir_meta_execution_state_name(x->state));
        srv_jw_kbool(w, "cache_hit", x->state == WEIR_META_EXEC_CACHED);
        srv_jw_key(w, "attempt");
        if (att && att->value.type == WEIR_META_INT) srv_jw_int(w, att->value.i);
        else srv_jw_null(w);
        srv_jw_kint(w, "start_time_ms", x->create_time_ms);
        srv_jw_kint(w, "update_time_ms", x->update_time_ms);
        srv_jw_kdbl(w, "duration_s", (double)(x->update_time_ms - x->create_time_ms) / 1000.0);
        srv_jw_kstr(w, "cache_key", srv_prop_str(x->custom, x->ncustom, "cache_key", NULL));
        srv_jw_kstr(w, "error", srv_prop_str(x->custom, x->ncustom, "error", NULL));
        srv_jw_kstr(w, "log_uri", srv_prop_str(x->custom, x->ncustom, "log_uri", NULL));
        srv_jw_key(w, "reported");
        write_reported(w, x);
        weir_meta_event *ev = NULL;
        size_t nev = 0;
        if ((rc = weir_store_get_events_by_execution_ids(r->store, &x->id, 1, r->arena, &ev, &nev)))
            return srv_error_status(r, rc, "reading events");
        srv_jw_key(w, "inputs");
        if ((rc = write_io(r, ev, nev, 0))) return srv_error_status(r, rc, "reading inputs");
        srv_jw_key(w, "outputs");
        if ((rc = write_io(r, ev, nev, 1))) return srv_error_status(r, rc, "reading outputs");
        srv_jw_end_obj(w);
    }
    srv_jw_end_arr(w);
    srv_jw_end_obj(w);
    return 200;
}

/* The log of a node's last attempt (or ?attempt=N), where `weir logs`
 * finds it: the execution's log_uri, attempt-N.log beside it. */
static unsigned node_log(srv_req *r, const char *run, const char *node) {
    int64_t attempt;
    unsigned e;
    if ((e = srv_arg_int(r, "attempt", 0, 0, 1000000, &attempt))) return e;
    weir_meta_context *c = NULL;
    if ((e = find_run(r, run, &c))) return e;
    weir_meta_execution *ex = NULL;
    size_t ne = 0;
    weir_status rc = weir_store_get_executions_by_context(r->store, c->id, NULL, r->arena, &ex, &ne);
    if (rc) return srv_error_status(r, rc, "reading the run's executions");
    const weir_meta_execution *found = NULL;
    for (size_t k = 0; k < ne; k++)
        if (!strcmp(srv_prop_str(ex[k].custom, ex[k].ncustom, "node", ""), node)) found = &ex[k];
    if (!found) return srv_error(r, 404, "run %s has no execution of node '%s'", run, node);
    const char *log = srv_prop_str(found->custom, found->ncustom, "log_uri", NULL);
    if (found->state == WEIR_META_EXEC_CACHED || !log)
        return srv_error(r, 404, "node %s did not run in %s (%s): its outputs came from the cache, "
                         "so there is no log for this run", node, run,
                         weir_meta_execution_state_name(found->state));
    char *uri = NULL;
    if (attempt > 0) {
        const char *slash = strrchr(log, '/');
        if (!slash || asprintf(&uri, "%.*s/attempt-%lld.log", (int)(slash - log), log, (long long)attempt) < 0)
            return srv_error(r, 500, "out of memory");
    }
    rc = weir_io_open_read(uri ? uri : log, &r->stream);
    free(uri);
    if (rc) return srv_error_status(r, rc == WEIR_EIO ? WEIR_ENOENT : rc, "opening the log");
    r->ctype = "text/plain; charset=utf-8";
    return 200;
}

unsigned srv_api_runs(srv_req *r, const char *rest) {
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
        return srv_error(r, 405, "runs are read-only here: the engine records them");
    if (!*rest || !strcmp(rest, "/")) return list_runs(r);
    rest++;
    const char *slash = strchr(rest, '/');
    char run[512];
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n == 0 || n >= sizeof run) return srv_error(r, 404, "give /api/v1/runs/RUN_ID");
    memcpy(run, rest, n);
    run[n] = '\0';
    if (!slash) return show_run(r, run);
    if (!strncmp(slash, "/nodes/", 7)) {
        const char *node = slash + 7;
        const char *end = strchr(node, '/');
        if (end && !strcmp(end, "/log")) {
            char nb[256];
            size_t nn = (size_t)(end - node);
            if (nn == 0 || nn >= sizeof nb) return srv_error(r, 404, "give /api/v1/runs/RUN/nodes/NODE/log");
            memcpy(nb, node, nn);
            nb[nn] = '\0';
            return node_log(r, run, nb);
        }
    }
    return srv_error(r, 404, "unknown path: try /api/v1/runs/RUN or /api/v1/runs/RUN/nodes/NODE/log");
}
