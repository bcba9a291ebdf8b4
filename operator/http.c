/*
 * http.c — the operator's /metrics (Prometheus text format 0.0.4),
 * /healthz and /readyz, on libmicrohttpd's own thread.
 *
 * /healthz: the process answers. /readyz: the informers have synced (a
 * standby replica that waits for the lease is ready too: it can take over).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "operator.h"

static struct MHD_Daemon *g_daemon;
static weir_op *g_hop;

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code, const char *ctype,
                             char *body) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body,
                                                             MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

static char *metrics_text(weir_op *op) {
    weir_buf b;
    weir_buf_init(&b, 1u << 20);
    weir_op_metrics *m = &op->m;
#define COUNTER(name, help, v)                                                                   \
    weir_buf_printf(&b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,    \
                    (unsigned long long)(v))
#define GAUGE(name, help, v)                                                                     \
    weir_buf_printf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name, help, name, name,      \
                    (long long)(v))
    COUNTER("weir_operator_reconciles_total", "Reconciles done.", atomic_load(&m->reconciles));
    COUNTER("weir_operator_reconcile_errors_total", "Reconciles that failed and were retried.",
            atomic_load(&m->reconcile_errors));
    COUNTER("weir_operator_pods_created_total", "Node pods created.", atomic_load(&m->pods_created));
    COUNTER("weir_operator_pods_finished_total", "Node pods seen to end.", atomic_load(&m->pods_finished));
    COUNTER("weir_operator_pods_failed_total", "Node pods that ended in failure.", atomic_load(&m->pods_failed));
    COUNTER("weir_operator_logs_copied_total", "Pod logs stored at the pipeline root.",
            atomic_load(&m->logs_copied));
    COUNTER("weir_operator_runs_started_total", "Runs whose engine was opened (resumes included).",
            atomic_load(&m->runs_started));
    COUNTER("weir_operator_runs_succeeded_total", "Runs that succeeded.", atomic_load(&m->runs_succeeded));
    COUNTER("weir_operator_runs_failed_total", "Runs that failed.", atomic_load(&m->runs_failed));
    COUNTER("weir_operator_status_writes_total", "Status subresource writes.", atomic_load(&m->status_writes));
    COUNTER("weir_operator_events_total", "Kubernetes Events recorded.", atomic_load(&m->events_written));
    GAUGE("weir_operator_runs_active", "Runs in progress.", atomic_load(&m->runs_active));
    GAUGE("weir_operator_pods_active", "Node pods running or waiting to be seen ending.",
          atomic_load(&m->pods_active));
    GAUGE("weir_operator_workqueue_depth", "Keys ready to reconcile.",
          op->q ? (long long)weir_kube_workqueue_len(op->q) : 0);
    GAUGE("weir_operator_leader", "1 when this replica is the leader.", atomic_load(&op->leading));
    static const char *const le[8] = {"0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1", "10"};
    weir_buf_printf(&b, "# HELP weir_operator_reconcile_duration_seconds Time per reconcile.\n"
                        "# TYPE weir_operator_reconcile_duration_seconds histogram\n");
    unsigned long long cum = 0;
    for (int i = 0; i < 8; i++) {
        cum += atomic_load(&m->hist[i]);
        weir_buf_printf(&b, "weir_operator_reconcile_duration_seconds_bucket{le=\"%s\"} %llu\n", le[i], cum);
    }
    cum += atomic_load(&m->hist[8]);
    weir_buf_printf(&b, "weir_operator_reconcile_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    weir_buf_printf(&b, "weir_operator_reconcile_duration_seconds_sum %.6f\n",
                    (double)atomic_load(&m->reconcile_usec) / 1e6);
    weir_buf_printf(&b, "weir_operator_reconcile_duration_seconds_count %llu\n", cum);
#undef COUNTER
#undef GAUGE
    char *s = strndup(b.data ? (const char *)b.data : "", b.len);
    weir_buf_free(&b);
    return s;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls) {
    (void)cls; (void)version; (void)upload; (void)upload_size; (void)req_cls;
    weir_op *op = g_hop;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(conn, 405, "text/plain", strdup("only GET\n"));
    if (strcmp(url, "/healthz") == 0) return reply(conn, 200, "text/plain", strdup("ok\n"));
    if (strcmp(url, "/readyz") == 0) {
        int ready = atomic_load(&op->synced) || (op->cfg.leader_elect && !atomic_load(&op->leading));
        return ready ? reply(conn, 200, "text/plain", strdup("ok\n"))
                     : reply(conn, 503, "text/plain", strdup("informers not synced yet\n"));
    }
    if (strcmp(url, "/metrics") == 0) {
        char *t = metrics_text(op);
        if (!t) return MHD_NO;
        return reply(conn, 200, "text/plain; version=0.0.4", t);
    }
    return reply(conn, 404, "text/plain", strdup("not found: try /metrics, /healthz, /readyz\n"));
}

weir_status weir_op_http_start(weir_op *op) {
    const char *l = op->cfg.listen;
    if (!l || !*l) return WEIR_OK;
    g_hop = op;
    const char *colon = strrchr(l, ':');
    char *end = NULL;
    long port = strtol(colon ? colon + 1 : l, &end, 10);
    if (!end || *end || port < 0 || port > 65535)
        return weir_errorf(WEIR_EINVAL, "--listen: '%s' is not [ADDRESS]:PORT", l);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (colon && colon != l) {
        char host[64];
        snprintf(host, sizeof host, "%.*s", (int)(colon - l), l);
        if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
            return weir_errorf(WEIR_EINVAL, "--listen: '%s' is not an IPv4 address", host);
    } else {
        sin.sin_addr.s_addr = htonl(INADDR_ANY);
    }
    g_daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port,
                                NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR, &sin,
                                MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!g_daemon) return weir_errorf(WEIR_EIO, "--listen %s: cannot serve HTTP there (port in use?)", l);
    WEIR_INFO("serving /metrics, /healthz and /readyz on %s", l);
    return WEIR_OK;
}

void weir_op_http_stop(void) {
    if (g_daemon) MHD_stop_daemon(g_daemon);
    g_daemon = NULL;
}
