/*
 * weir-operator — runs weir pipelines on Kubernetes.
 *
 * Watches PipelineRun (and Pipeline) objects and runs each node of a run as
 * a pod from its component's image, through the same engine as `weir run`
 * (lib/pipeline): same DAG, input resolution, caching and metadata. See
 * docs/operator.md for what it does and every flag.
 *
 * Threads: three informers (runs, pipelines, our pods) feed one workqueue;
 * --workers threads reconcile keys from it; the leader elector (with
 * --leader-elect) decides whether this replica works at all; libmicrohttpd
 * serves /metrics, /healthz and /readyz.
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "operator.h"

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f) {
    fputs("usage: weir-operator [options]\n"
          "  --kubeconfig PATH          kubeconfig (default: in-cluster, then $KUBECONFIG, ~/.kube/config)\n"
          "  --namespace NS             watch only NS (default: all namespaces)\n"
          "  --metadata PATH|URL        metadata store: SQLite path, postgresql:// URL, or a\n"
          "                             weir-server's http:// URL (its write token from\n"
          "                             $WEIR_METADATA_TOKEN_FILE or $WEIR_METADATA_TOKEN)\n"
          "                             (default /var/lib/weir/metadata.sqlite)\n"
          "  --image-registry REG       registry of the component images (default: none)\n"
          "  --image-tag TAG            tag of the component images (default " WEIR_VERSION_STRING ")\n"
          "  --image-pull-policy P      Always | IfNotPresent | Never (default IfNotPresent)\n"
          "  --listen ADDR:PORT         /metrics, /healthz, /readyz (default :8080; \"\" = off)\n"
          "  --leader-elect             run as one of several replicas; only the leader works\n"
          "  --lease-name NAME          Lease for leader election (default weir-operator)\n"
          "  --lease-namespace NS       its namespace (default: the client's namespace)\n"
          "  --identity ID              this replica's name in the Lease (default: hostname)\n"
          "  --max-runs N               runs in progress at once (default 256)\n"
          "  --max-pods N               node pods at once, all runs together (default 512)\n"
          "  --workers N                reconcile threads, each with its own store connection (default 16)\n"
          "  --s3-secret NAME           Secret given to node pods as environment (AWS_*)\n"
          "  --pod-service-account SA   ServiceAccount of node pods (default: namespace default)\n"
          "  --gpu-node-selector K=V    node selector for pods that ask for GPUs (repeatable)\n"
          "  --gpu-toleration K[=V]:EFFECT  toleration for GPU pods (repeatable)\n"
          "  --qps N --burst N          client-side API rate limit (default 200 / 400)\n"
          "  --retry-backoff S          first retry delay of a failed node in seconds (default 10)\n"
          "  --log-format text|json     (also WEIR_LOG_FORMAT)\n",
          f);
}

enum {
    O_KUBECONFIG = 256, O_NAMESPACE, O_METADATA, O_REGISTRY, O_TAG, O_PULL, O_LISTEN, O_LEADER,
    O_LEASE, O_LEASE_NS, O_IDENTITY, O_MAX_RUNS, O_MAX_PODS, O_WORKERS, O_S3, O_POD_SA, O_GPU_SEL,
    O_GPU_TOL, O_QPS, O_BURST, O_BACKOFF, O_LOG_FORMAT, O_HELP,
};

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out) {
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || !end || *end || x < lo || x > hi) {
        fprintf(stderr, "weir-operator: %s: '%s' is not a whole number from %d to %d\n", flag, v, lo, hi);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int parse_args(int argc, char **argv, weir_op_config *c) {
    static const struct option opts[] = {
        {"kubeconfig", required_argument, 0, O_KUBECONFIG},
        {"namespace", required_argument, 0, O_NAMESPACE},
        {"metadata", required_argument, 0, O_METADATA},
        {"image-registry", required_argument, 0, O_REGISTRY},
        {"image-tag", required_argument, 0, O_TAG},
        {"image-pull-policy", required_argument, 0, O_PULL},
        {"listen", required_argument, 0, O_LISTEN},
        {"leader-elect", no_argument, 0, O_LEADER},
        {"lease-name", required_argument, 0, O_LEASE},
        {"lease-namespace", required_argument, 0, O_LEASE_NS},
        {"identity", required_argument, 0, O_IDENTITY},
        {"max-runs", required_argument, 0, O_MAX_RUNS},
        {"max-pods", required_argument, 0, O_MAX_PODS},
        {"workers", required_argument, 0, O_WORKERS},
        {"s3-secret", required_argument, 0, O_S3},
        {"pod-service-account", required_argument, 0, O_POD_SA},
        {"gpu-node-selector", required_argument, 0, O_GPU_SEL},
        {"gpu-toleration", required_argument, 0, O_GPU_TOL},
        {"qps", required_argument, 0, O_QPS},
        {"burst", required_argument, 0, O_BURST},
        {"retry-backoff", required_argument, 0, O_BACKOFF},
        {"log-format", required_argument, 0, O_LOG_FORMAT},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    int ch, qps = 100;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case O_KUBECONFIG: c->kubeconfig = optarg; break;
        case O_NAMESPACE: c->namespace_ = optarg; break;
        case O_METADATA: c->metadata = optarg; break;
        case O_REGISTRY: c->image_registry = optarg; break;
        case O_TAG: c->image_tag = optarg; break;
        case O_PULL:
            if (strcmp(optarg, "Always") && strcmp(optarg, "IfNotPresent") && strcmp(optarg, "Never")) {
                fprintf(stderr, "weir-operator: --image-pull-policy: '%s' is not one of Always, "
                        "IfNotPresent, Never\n", optarg);
                return -1;
            }
            c->image_pull_policy = optarg;
            break;
        case O_LISTEN: c->listen = optarg; break;
        case O_LEADER: c->leader_elect = 1; break;
        case O_LEASE: c->lease_name = optarg; break;
        case O_LEASE_NS: c->lease_namespace = optarg; break;
        case O_IDENTITY: c->identity = optarg; break;
        case O_MAX_RUNS: if (parse_int("--max-runs", optarg, 1, 1000000, &c->max_runs)) return -1; break;
        case O_MAX_PODS: if (parse_int("--max-pods", optarg, 1, 1000000, &c->max_pods)) return -1; break;
        case O_WORKERS: if (parse_int("--workers", optarg, 1, 256, &c->workers)) return -1; break;
        case O_S3: c->s3_secret = optarg; break;
        case O_POD_SA: c->pod_service_account = optarg; break;
        case O_GPU_SEL:
            if (!strchr(optarg, '=') || c->ngpu_node_selector == WEIR_OP_MAX_LIST) {
                fprintf(stderr, "weir-operator: --gpu-node-selector: give KEY=VALUE (at most %d)\n",
                        WEIR_OP_MAX_LIST);
                return -1;
            }
            c->gpu_node_selector[c->ngpu_node_selector++] = optarg;
            break;
        case O_GPU_TOL:
            if (c->ngpu_toleration == WEIR_OP_MAX_LIST) {
                fprintf(stderr, "weir-operator: --gpu-toleration: at most %d\n", WEIR_OP_MAX_LIST);
                return -1;
            }
            c->gpu_toleration[c->ngpu_toleration++] = optarg;
            break;
        case O_QPS: if (parse_int("--qps", optarg, 1, 100000, &qps)) return -1; c->qps = qps; break;
        case O_BURST: if (parse_int("--burst", optarg, 1, 100000, &c->burst)) return -1; break;
        case O_BACKOFF: {
            char *end = NULL;
            c->retry_backoff_s = strtod(optarg, &end);
            if (!end || *end || c->retry_backoff_s < 0.01 || c->retry_backoff_s > 3600) {
                fprintf(stderr, "weir-operator: --retry-backoff: '%s' is not a number of seconds "
                        "from 0.01 to 3600\n", optarg);
                return -1;
            }
            break;
        }
        case O_LOG_FORMAT:
            if (strcmp(optarg, "text") && strcmp(optarg, "json")) {
                fprintf(stderr, "weir-operator: --log-format: '%s' is not one of text, json\n", optarg);
                return -1;
            }
            weir_log_configure(WEIR_LOG_INFO, strcmp(optarg, "json") == 0 ? WEIR_LOG_JSON : WEIR_LOG_TEXT,
                               stderr);
            break;
        case 'h': case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "weir-operator: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ informers */

static weir_op *g_op;

static void enqueue(weir_op *op, const char *prefix, const cJSON *obj) {
    const char *ns = weir_kube_object_meta(obj, "namespace");
    const char *name = weir_kube_object_meta(obj, "name");
    if (!ns || !name) return;
    char key[600];
    snprintf(key, sizeof key, "%s/%s/%s", prefix, ns, name);
    (void)weir_kube_workqueue_add(op->q, key);
}

static void run_add(void *ctx, const cJSON *o) { enqueue(ctx, "run", o); }
static void run_upd(void *ctx, const cJSON *a, const cJSON *b) {
    (void)a;
    enqueue(ctx, "run", b);
}
static void run_del(void *ctx, const cJSON *o) { enqueue(ctx, "run", o); }

/* A pod event: the pod itself (log and finalizer) and the run it belongs
 * to (the run's engine reads the pod's new state). */
static void pod_event(weir_op *op, const cJSON *pod) {
    enqueue(op, "pod", pod);
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
    const cJSON *an = cJSON_GetObjectItemCaseSensitive(md, "annotations");
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(an, "weir.dev/run");
    const char *ns = weir_kube_object_meta(pod, "namespace");
    if (cJSON_IsString(run) && ns) {
        char key[600];
        snprintf(key, sizeof key, "run/%s/%s", ns, run->valuestring);
        (void)weir_kube_workqueue_add(op->q, key);
    }
}
static void pod_add(void *ctx, const cJSON *o) { pod_event(ctx, o); }
static void pod_upd(void *ctx, const cJSON *a, const cJSON *b) {
    (void)a;
    pod_event(ctx, b);
}
static void pod_del(void *ctx, const cJSON *o) { pod_event(ctx, o); }
static void nop_add(void *ctx, const cJSON *o) { (void)ctx; (void)o; }

/* What the operator reads of a pod: metadata (names, annotations,
 * finalizers, deletion) and status (phase, container states). The spec,
 * the larger half, stays on the server. */
static void prune_pod(cJSON *pod) {
    cJSON_DeleteItemFromObjectCaseSensitive(pod, "spec");
    cJSON *st = cJSON_GetObjectItemCaseSensitive(pod, "status");
    if (st) {
        cJSON_DeleteItemFromObjectCaseSensitive(st, "conditions");
        cJSON_DeleteItemFromObjectCaseSensitive(st, "podIPs");
    }
}

/* ------------------------------------------------------------ workers */

static void observe(weir_op *op, double secs) {
    static const double le[8] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 10};
    size_t i = 0;
    while (i < 8 && secs > le[i]) i++;
    atomic_fetch_add(&op->m.hist[i], 1);
    atomic_fetch_add(&op->m.reconcile_usec, (unsigned long long)(secs * 1e6));
}

static void *worker(void *arg) {
    weir_op *op = arg;
    /* a connection of its own: engines of different runs write at once,
     * SQLite serializing only the commits */
    if (weir_store_open(op->cfg.metadata, 0, &weir_op_store)) {
        /* the message names the store (a URL without its password) */
        WEIR_ERROR("worker: %s; this worker uses the shared connection", weir_error_message());
        weir_op_store = NULL;
    }
    int own = weir_op_store != NULL;
    if (!own) weir_op_store = op->store;
    for (;;) {
        char *key = NULL;
        weir_status rc = weir_kube_workqueue_get(op->q, -1, &key);
        if (rc == WEIR_EOF_) break;
        if (rc) continue;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int64_t requeue = 0;
        rc = weir_op_reconcile(op, key, &requeue);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        WEIR_DEBUG("reconciled %s in %.1f ms (queue %zu)", key,
                   ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9) * 1e3,
                   weir_kube_workqueue_len(op->q));
        observe(op, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
        atomic_fetch_add(&op->m.reconciles, 1);
        if (rc) {
            atomic_fetch_add(&op->m.reconcile_errors, 1);
            WEIR_WARN("reconcile %s: %s (retrying with backoff)", key, weir_error_message());
            (void)weir_kube_workqueue_add_rate_limited(op->q, key);
        } else {
            weir_kube_workqueue_forget(op->q, key);
            if (requeue > 0) (void)weir_kube_workqueue_add_after(op->q, key, requeue);
        }
        weir_kube_workqueue_done(op->q, key);
        free(key);
    }
    if (own) weir_store_close(weir_op_store);
    weir_op_store = NULL;
    return NULL;
}

static void on_started_leading(void *ctx) {
    weir_op *op = ctx;
    WEIR_INFO("became the leader");
    atomic_store(&op->leading, 1);
}
static void on_stopped_leading(void *ctx) {
    weir_op *op = ctx;
    if (atomic_load(&op->leading)) {
        /* Another replica may take over at any moment: stop at once rather
         * than race it (Kubernetes restarts this one as a standby). */
        WEIR_ERROR("lost the leadership; exiting so that only one replica runs pipelines");
        _exit(1);
    }
}

int main(int argc, char **argv) {
    weir_op op_storage;
    memset(&op_storage, 0, sizeof op_storage);
    weir_op *op = &op_storage;
    g_op = op;
    weir_op_config *c = &op->cfg;
    c->namespace_ = "";
    c->metadata = "/var/lib/weir/metadata.sqlite";
    c->image_registry = "";
    c->image_tag = WEIR_VERSION_STRING;
    c->image_pull_policy = "IfNotPresent";
    c->listen = ":8080";
    c->lease_name = "weir-operator";
    c->max_runs = 256;
    c->max_pods = 512;
    c->workers = 16;
    c->qps = 200;
    c->burst = 400;
    c->retry_backoff_s = 10;
    if (weir_log_init_from_env()) {
        fprintf(stderr, "weir-operator: %s\n", weir_error_message());
        return 2;
    }
    if (parse_args(argc, argv, c)) return 2;
    if (gethostname(op->hostname, sizeof op->hostname - 1)) strcpy(op->hostname, "weir-operator");
    if (!c->identity) c->identity = op->hostname;

    /* Few malloc arenas: many threads, small objects; RSS over speed. */
    mallopt(M_ARENA_MAX, 2);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int exit_code = 1;
    weir_kube_config *kcfg = NULL;
    weir_kube_leader_t *le = NULL;
    pthread_t *workers = NULL;
    int nworkers = 0;
    pthread_mutex_init(&op->mu, NULL);

    weir_status rc = c->kubeconfig ? weir_kube_config_load_file(c->kubeconfig, NULL, &kcfg)
                                   : weir_kube_config_default(&kcfg);
    if (rc) {
        WEIR_ERROR("Kubernetes configuration: %s", weir_error_message());
        return 2;
    }
    weir_kube_client_opts ko = {.qps = c->qps, .burst = c->burst, .user_agent = "weir-operator/" WEIR_VERSION_STRING};
    rc = weir_kube_client_new(kcfg, &ko, &op->kc);
    if (rc) {
        WEIR_ERROR("Kubernetes client: %s", weir_error_message());
        goto out;
    }
    {
        /* a SQLite store's directory must exist (an emptyDir or a volume);
         * a postgresql:// URL has none */
        char *dir = strstr(c->metadata, "://") ? NULL : strdup(c->metadata);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (slash && slash != dir) {
            *slash = '\0';
            if (mkdir(dir, 0750) && errno != EEXIST)
                WEIR_WARN("creating %s: %s", dir, strerror(errno));
        }
        free(dir);
    }
    /* A store behind a network (weir-server, PostgreSQL) may come up after
     * the operator, as pods of one release do: wait for it a while rather
     * than crash-looping. Any other failure (a bad token, a refused
     * schema) is final. */
    for (int tries = 1;; tries++) {
        rc = weir_store_open(c->metadata, 0, &op->store);
        int transient = rc == WEIR_EIO || rc == WEIR_EAGAIN || rc == WEIR_ETIMEDOUT;
        if (!rc || !transient || tries >= 60 || !strstr(c->metadata, "://")) break;
        WEIR_WARN("waiting for the metadata store (try %d of 60, every 2 s): %s", tries,
                  weir_error_message());
        sleep(2);
    }
    if (rc) {
        WEIR_ERROR("%s", weir_error_message()); /* names the store, no password */
        goto out;
    }
    {
        char *shown = weir_store_redact(c->metadata);
        WEIR_INFO("metadata store: %s (%s)", shown ? shown : "?", weir_store_backend(op->store));
        free(shown);
    }
    rc = weir_kube_workqueue_new(NULL, &op->q);
    if (rc) goto fail;
    rc = weir_op_http_start(op);
    if (rc) {
        WEIR_ERROR("%s", weir_error_message());
        goto out;
    }

    if (c->leader_elect) {
        weir_kube_leader_opts lo = {.lease_namespace = c->lease_namespace, .lease_name = c->lease_name,
                                    .identity = c->identity, .release_on_stop = 1,
                                    .on_started_leading = on_started_leading,
                                    .on_stopped_leading = on_stopped_leading, .ctx = op};
        rc = weir_kube_leader_new(op->kc, &lo, &le);
        if (!rc) rc = weir_kube_leader_start(le);
        if (rc) goto fail;
        WEIR_INFO("waiting to become the leader (Lease %s, identity %s)", c->lease_name, c->identity);
        while (!g_stop && !atomic_load(&op->leading)) usleep(100 * 1000);
        if (g_stop) {
            exit_code = 0;
            goto out;
        }
    } else {
        atomic_store(&op->leading, 1);
    }

    weir_kube_handlers hr = {run_add, run_upd, run_del, op};
    weir_kube_handlers hp = {nop_add, NULL, NULL, op};
    weir_kube_handlers hpod = {pod_add, pod_upd, pod_del, op};
    weir_kube_informer_opts podo = {.label_selector = "app.kubernetes.io/managed-by=" WEIR_OP_MANAGED_BY,
                                    .prune = prune_pod};
    rc = weir_kube_informer_new(op->kc, &weir_op_pipelineruns, c->namespace_, NULL, &hr, &op->runs);
    if (!rc) rc = weir_kube_informer_new(op->kc, &weir_op_pipelines, c->namespace_, NULL, &hp, &op->pipelines);
    if (!rc) rc = weir_kube_informer_new(op->kc, &weir_kube_pods, c->namespace_, &podo, &hpod, &op->pods);
    if (rc) goto fail;
    /* pods and pipelines first, so that a run's first reconcile sees them */
    rc = weir_kube_informer_start(op->pods);
    if (!rc) rc = weir_kube_informer_start(op->pipelines);
    if (!rc) rc = weir_kube_informer_wait_synced(op->pods, 60000);
    if (!rc) rc = weir_kube_informer_wait_synced(op->pipelines, 60000);
    if (!rc) rc = weir_kube_informer_start(op->runs);
    if (!rc) rc = weir_kube_informer_wait_synced(op->runs, 60000);
    if (rc) goto fail;
    atomic_store(&op->synced, 1);
    WEIR_INFO("watching PipelineRuns in %s; %zu known, %zu pods of ours",
              c->namespace_[0] ? c->namespace_ : "all namespaces", weir_kube_informer_len(op->runs),
              weir_kube_informer_len(op->pods));

    workers = calloc((size_t)c->workers, sizeof *workers);
    if (!workers) goto fail;
    for (; nworkers < c->workers; nworkers++)
        if (pthread_create(&workers[nworkers], NULL, worker, op)) break;
    while (!g_stop) usleep(200 * 1000);
    WEIR_INFO("stopping");
    exit_code = 0;
    goto out;

fail:
    WEIR_ERROR("%s", weir_error_message());
out:
    atomic_store(&op->stopping, 1);
    if (op->q) weir_kube_workqueue_shutdown(op->q);
    for (int i = 0; i < nworkers; i++) pthread_join(workers[i], NULL);
    free(workers);
    if (op->runs) weir_kube_informer_stop(op->runs);
    if (op->pods) weir_kube_informer_stop(op->pods);
    if (op->pipelines) weir_kube_informer_stop(op->pipelines);
    weir_op_shutdown_runs(op);
    if (le) {
        atomic_store(&op->leading, 0); /* a clean stop, not a lost lease */
        weir_kube_leader_stop(le);
        weir_kube_leader_free(le);
    }
    weir_op_http_stop();
    weir_kube_informer_free(op->runs);
    weir_kube_informer_free(op->pods);
    weir_kube_informer_free(op->pipelines);
    weir_kube_workqueue_free(op->q);
    weir_store_close(op->store);
    weir_kube_client_free(op->kc);
    weir_kube_config_free(kcfg);
    pthread_mutex_destroy(&op->mu);
    return exit_code;
}
