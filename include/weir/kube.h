/*
 * weir/kube.h — a small hand-written client for the Kubernetes API.
 *
 * For: what weir's operator needs: configuration from a kubeconfig or from
 * inside a pod, typed-by-path REST calls on JSON objects (get, list, create,
 * update, patch, delete, the status subresource), a streaming watch, an
 * informer (list + watch + local cache), a rate-limited workqueue and leader
 * election on a coordination.k8s.io/v1 Lease.
 * Not for: generated types per kind (objects are cJSON trees), protobuf, exec,
 * port-forward, server-side apply, auth plugins (exec/OIDC).
 *
 * Errors: every call returns weir_status and sets the thread's message
 * (weir_error_message()) naming verb, resource, namespace/name, the HTTP code
 * and the server's message. Kubernetes Status objects map to:
 *   404 NotFound            -> WEIR_ENOENT
 *   409 AlreadyExists       -> WEIR_EEXIST
 *   409 Conflict (stale resourceVersion) -> WEIR_ECONFLICT: re-read and retry
 *   410 Gone / Expired      -> WEIR_ERANGE (resourceVersion too old: relist)
 *   401, 403                -> WEIR_EPERM
 *   400, 422                -> WEIR_EINVAL
 *   429, 500, 503           -> WEIR_EAGAIN
 *   504, client timeouts    -> WEIR_ETIMEDOUT
 *   a response over the cap -> WEIR_ELIMIT; other transport errors -> WEIR_EIO
 * weir_kube_last_http_code() and weir_kube_last_reason() give the details of
 * the thread's last failed call, in the manner of weir_error_message().
 *
 * Threads: a client is safe to share between threads. Informers and the
 * leader elector run on their own thread; their callbacks run there.
 */
#ifndef WEIR_KUBE_H
#define WEIR_KUBE_H

#include <stdint.h>

#include "weir/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;

/* ----------------------------------------------------------------- clock */

/*
 * Where timing matters (rate limits, backoff, leases) the clock is
 * injected. A NULL clock means the process's monotonic clock and nanosleep.
 * now_ms must not go backwards. sleep_ms may return early.
 */
typedef struct weir_kube_clock {
    int64_t (*now_ms)(void *ctx);
    void (*sleep_ms)(void *ctx, int64_t ms);
    void *ctx;
} weir_kube_clock;

/* The real clock (CLOCK_MONOTONIC); never NULL, static storage. */
const weir_kube_clock *weir_kube_clock_real(void);

/* ---------------------------------------------------------------- config */

/*
 * Connection settings. All strings and blobs are owned by the config and
 * freed by weir_kube_config_free(). PEM blobs (ca_pem, cert_pem, key_pem)
 * are NUL-terminated; files are read when the client is made.
 */
typedef struct weir_kube_config {
    char *server;        /* "https://host:port", no trailing slash */
    char *namespace_;    /* default namespace; "default" when unset */
    char *token;         /* static bearer token, or NULL */
    char *token_file;    /* bearer token file, re-read when it changes, or NULL */
    char *ca_pem;        /* CA bundle, or NULL */
    char *ca_file;       /* CA bundle path, or NULL */
    char *cert_pem;      /* client certificate, or NULL */
    char *cert_file;
    char *key_pem;       /* client key, or NULL */
    char *key_file;
    char *username;      /* basic auth (rare), or NULL */
    char *password;
    int insecure_skip_tls_verify;
    char *context;       /* the kubeconfig context used, or NULL (in-cluster) */
} weir_kube_config;

/*
 * Reads a kubeconfig (YAML or JSON). `context` NULL uses current-context.
 * Relative file paths in it are resolved against the kubeconfig's directory.
 * Errors name the file and the missing or malformed field. Caller frees
 * *out with weir_kube_config_free().
 */
weir_status weir_kube_config_load_file(const char *path, const char *context,
                                       weir_kube_config **out);
/* Same, from text already in memory; `name` is used in messages and `dir`
 * (may be NULL) resolves relative paths. */
weir_status weir_kube_config_load_text(const char *name, const char *text, size_t len,
                                       const char *dir, const char *context,
                                       weir_kube_config **out);
/*
 * In-cluster: KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT and the
 * ServiceAccount files token, ca.crt and namespace under `sa_dir`
 * (NULL = /var/run/secrets/kubernetes.io/serviceaccount). The token is read
 * through token_file so rotated tokens are picked up.
 */
weir_status weir_kube_config_in_cluster(const char *sa_dir, weir_kube_config **out);
/* In-cluster when KUBERNETES_SERVICE_HOST is set, else $KUBECONFIG (first
 * entry), else ~/.kube/config. */
weir_status weir_kube_config_default(weir_kube_config **out);
void weir_kube_config_free(weir_kube_config *cfg);

/* ---------------------------------------------------------------- client */

typedef struct weir_kube_client weir_kube_client_t;

typedef struct weir_kube_client_opts {
    double qps;              /* token bucket refill per second; default 50; <0 = unlimited */
    int burst;               /* bucket size; default 100 */
    size_t max_body_bytes;   /* cap on a response body; default 64 MiB */
    long timeout_ms;         /* per request (not watches); default 30000 */
    long connect_timeout_ms; /* default 10000 */
    const char *user_agent;  /* default "weir/<version>" */
    const weir_kube_clock *clock; /* for the rate limiter; NULL = real */
} weir_kube_client_opts;

/* `cfg` is borrowed (copied). `opts` may be NULL. Caller frees with
 * weir_kube_client_free(). */
weir_status weir_kube_client_new(const weir_kube_config *cfg, const weir_kube_client_opts *opts,
                                 weir_kube_client_t **out);
void weir_kube_client_free(weir_kube_client_t *c);
/* The config's namespace ("default" when unset); owned by the client. */
const char *weir_kube_client_namespace(const weir_kube_client_t *c);

/* A resource type: group "" is the core group (/api/v1). Borrowed strings. */
typedef struct weir_kube_resource {
    const char *group;    /* "", "apps", "weir.dev" */
    const char *version;  /* "v1", "v1alpha1" */
    const char *plural;   /* "configmaps", "pipelineruns" */
    int namespaced;       /* 1 for namespaced kinds */
} weir_kube_resource;

extern const weir_kube_resource weir_kube_configmaps;
extern const weir_kube_resource weir_kube_pods;
extern const weir_kube_resource weir_kube_secrets;
extern const weir_kube_resource weir_kube_namespaces;
extern const weir_kube_resource weir_kube_leases;
extern const weir_kube_resource weir_kube_crds;
extern const weir_kube_resource weir_kube_events;

typedef struct weir_kube_list_opts {
    const char *label_selector;    /* NULL = all */
    const char *field_selector;
    long limit;                    /* 0 = server default (all) */
    const char *continue_token;    /* from a previous page's metadata.continue */
    const char *resource_version;  /* NULL = most recent */
} weir_kube_list_opts;

typedef enum weir_kube_patch_type {
    WEIR_KUBE_PATCH_MERGE = 0,     /* application/merge-patch+json (RFC 7386) */
    WEIR_KUBE_PATCH_JSON = 1,      /* application/json-patch+json (RFC 6902) */
    WEIR_KUBE_PATCH_STRATEGIC = 2, /* built-in kinds only */
} weir_kube_patch_type;

typedef enum weir_kube_propagation {
    WEIR_KUBE_PROPAGATE_DEFAULT = 0,
    WEIR_KUBE_PROPAGATE_BACKGROUND,
    WEIR_KUBE_PROPAGATE_FOREGROUND,
    WEIR_KUBE_PROPAGATE_ORPHAN,
} weir_kube_propagation;

/*
 * The calls. `ns` is ignored for cluster-scoped resources; NULL for a
 * namespaced one means the client's namespace (list: NULL = that namespace,
 * "" = all namespaces). Objects passed in are borrowed; objects returned
 * through `out` are new cJSON trees the caller frees with cJSON_Delete.
 * `out` may be NULL when the result is not wanted.
 */
weir_status weir_kube_get(weir_kube_client_t *c, const weir_kube_resource *r, const char *ns,
                          const char *name, struct cJSON **out);
weir_status weir_kube_list(weir_kube_client_t *c, const weir_kube_resource *r, const char *ns,
                           const weir_kube_list_opts *opts, struct cJSON **out);
weir_status weir_kube_create(weir_kube_client_t *c, const weir_kube_resource *r, const char *ns,
                             const struct cJSON *obj, struct cJSON **out);
/* PUT of the whole object; its metadata.name names it and its
 * metadata.resourceVersion makes it conditional (WEIR_ECONFLICT if stale). */
weir_status weir_kube_update(weir_kube_client_t *c, const weir_kube_resource *r, const char *ns,
                             const struct cJSON *obj, struct cJSON **out);
/* `patch` is JSON text: an object (merge) or an array of operations (JSON). */
weir_status weir_kube_patch(weir_kube_client_t *c, const weir_kube_resource *r, const char *ns,
                            const char *name, weir_kube_patch_type type, const char *patch,
                            struct cJSON **out);
weir_status weir_kube_delete(weir_kube_client_t *c, const weir_kube_resource *r, const char *ns,
                             const char *name, weir_kube_propagation propagation);

/* The status subresource (".../NAME/status"). */
weir_status weir_kube_get_status(weir_kube_client_t *c, const weir_kube_resource *r,
                                 const char *ns, const char *name, struct cJSON **out);
weir_status weir_kube_update_status(weir_kube_client_t *c, const weir_kube_resource *r,
                                    const char *ns, const struct cJSON *obj, struct cJSON **out);
weir_status weir_kube_patch_status(weir_kube_client_t *c, const weir_kube_resource *r,
                                   const char *ns, const char *name, weir_kube_patch_type type,
                                   const char *patch, struct cJSON **out);

/*
 * Any path ("/apis/weir.dev/v1alpha1/..." or "/readyz"), for what the typed
 * calls do not cover. `method` "GET", "POST", ...; `body` and `content_type`
 * may be NULL. With `out`, a 2xx body is parsed as JSON into *out (an empty
 * body leaves *out NULL; a non-JSON body is WEIR_EPARSE); pass out = NULL for
 * bodies that are not JSON, such as /readyz's "ok".
 */
weir_status weir_kube_request(weir_kube_client_t *c, const char *method, const char *path,
                              const char *content_type, const char *body, struct cJSON **out);

/*
 * A container's log (pods/NAME/log), appended to `out` as text. `container`
 * may be NULL for single-container pods; limit_bytes (0 = none) asks the
 * server to stop there, and out's own cap still applies (WEIR_ELIMIT).
 */
weir_status weir_kube_pod_log(weir_kube_client_t *c, const char *ns, const char *name,
                              const char *container, size_t limit_bytes, struct weir_buf *out);

/* The HTTP code (0 when the request never got a response) and the
 * Kubernetes Status reason ("Conflict", "NotFound", "" when none) of this
 * thread's last failed call. The string is valid until the next call. */
int weir_kube_last_http_code(void);
const char *weir_kube_last_reason(void);

/* "ns/name", or "name" for cluster-scoped objects; NULL if the object has no
 * metadata.name. Caller frees with free(). */
char *weir_kube_object_key(const struct cJSON *obj);
/* metadata.<field> as a string (borrowed from obj), NULL if absent. */
const char *weir_kube_object_meta(const struct cJSON *obj, const char *field);

/* ----------------------------------------------------------------- watch */

typedef enum weir_kube_event_type {
    WEIR_KUBE_ADDED = 0,
    WEIR_KUBE_MODIFIED,
    WEIR_KUBE_DELETED,
    WEIR_KUBE_BOOKMARK,
} weir_kube_event_type;

const char *weir_kube_event_name(weir_kube_event_type t);

/* Called once per event with the object (borrowed for the call). Return 0 to
 * go on, nonzero to end the watch (weir_kube_watch then returns WEIR_OK). */
typedef int (*weir_kube_watch_fn)(void *ctx, weir_kube_event_type type, const struct cJSON *obj);

typedef struct weir_kube_watch_opts {
    const char *resource_version;  /* start after this version; NULL = now */
    const char *label_selector;
    const char *field_selector;
    int allow_bookmarks;
    long timeout_seconds;          /* server-side end of the watch; 0 = server default */
    /* When non-NULL, checked about once a second (curl's progress
     * callback): nonzero ends the watch
     * with WEIR_OK (how informers stop). */
    const volatile int *stop;
} weir_kube_watch_opts;

/*
 * Streams events until the server ends the watch (WEIR_OK), the callback or
 * *stop asks to end (WEIR_OK), the resourceVersion is too old (WEIR_ERANGE,
 * relist) or an error. An ERROR event carrying a Status maps like an HTTP
 * error. Lines longer than max_body_bytes fail with WEIR_ELIMIT.
 */
weir_status weir_kube_watch(weir_kube_client_t *c, const weir_kube_resource *r, const char *ns,
                            const weir_kube_watch_opts *opts, weir_kube_watch_fn fn, void *ctx);

/* -------------------------------------------------------------- informer */

typedef struct weir_kube_informer weir_kube_informer_t;

/* Handlers run on the informer's thread; objects are borrowed for the call. */
typedef struct weir_kube_handlers {
    void (*on_add)(void *ctx, const struct cJSON *obj);
    void (*on_update)(void *ctx, const struct cJSON *old_obj, const struct cJSON *new_obj);
    void (*on_delete)(void *ctx, const struct cJSON *obj);
    void *ctx;
} weir_kube_handlers;

typedef struct weir_kube_informer_opts {
    const char *label_selector;
    const char *field_selector;
    long page_size;            /* list page size; default 500 */
    long watch_timeout_s;      /* each watch's server-side timeout; default 300 */
    int64_t backoff_min_ms;    /* reconnect backoff; default 100 */
    int64_t backoff_max_ms;    /* default 10000 */
    /* Tests only: the first watch starts from this resourceVersion instead of
     * the list's (an old one forces 410 Gone and a relist). */
    const char *first_watch_rv;
    /* Called on each object before it is cached (and handed to handlers):
     * drop what the caller never reads to keep the cache small. NULL: keep
     * all (metadata.managedFields is always dropped). */
    void (*prune)(struct cJSON *obj);
} weir_kube_informer_opts;

/* `c` and `r` are borrowed and must outlive the informer; opts strings and
 * handlers are copied. Caller frees with weir_kube_informer_free(). */
weir_status weir_kube_informer_new(weir_kube_client_t *c, const weir_kube_resource *r,
                                   const char *ns, const weir_kube_informer_opts *opts,
                                   const weir_kube_handlers *h, weir_kube_informer_t **out);
/* Starts the thread: list, then watch; relist on 410; reconnect with
 * exponential backoff on errors. */
weir_status weir_kube_informer_start(weir_kube_informer_t *inf);
/* Blocks until the first list has been delivered or timeout_ms passes
 * (WEIR_ETIMEDOUT). */
weir_status weir_kube_informer_wait_synced(weir_kube_informer_t *inf, long timeout_ms);
/* Stops and joins the thread (within about a second). Safe to
 * call twice or without start. */
void weir_kube_informer_stop(weir_kube_informer_t *inf);
void weir_kube_informer_free(weir_kube_informer_t *inf);
/* A copy of the cached object for "ns/name" (caller cJSON_Deletes), or
 * WEIR_ENOENT. */
weir_status weir_kube_informer_get(weir_kube_informer_t *inf, const char *key, struct cJSON **out);
size_t weir_kube_informer_len(weir_kube_informer_t *inf);
/* How many full lists the informer has done (1 after the first sync). */
unsigned weir_kube_informer_lists(weir_kube_informer_t *inf);

/* ------------------------------------------------------------- workqueue */

typedef struct weir_kube_workqueue weir_kube_workqueue_t;

typedef struct weir_kube_workqueue_opts {
    int64_t base_delay_ms;  /* first rate-limited retry; default 5 */
    int64_t max_delay_ms;   /* cap on the exponential delay; default 300000 */
    size_t max_keys;        /* queued + waiting + processing; default 100000 */
    const weir_kube_clock *clock; /* decides when delayed keys are due; NULL = real */
} weir_kube_workqueue_opts;

/*
 * Keys (usually "ns/name") are deduplicated: adding a key that is already
 * queued does nothing; adding one that a worker is processing queues it again
 * once that worker calls done(), so no key is handled by two workers at once.
 */
weir_status weir_kube_workqueue_new(const weir_kube_workqueue_opts *opts,
                                    weir_kube_workqueue_t **out);
void weir_kube_workqueue_free(weir_kube_workqueue_t *q);
/* WEIR_EOF_ after shutdown; WEIR_ELIMIT past max_keys. Keys are copied. */
weir_status weir_kube_workqueue_add(weir_kube_workqueue_t *q, const char *key);
weir_status weir_kube_workqueue_add_after(weir_kube_workqueue_t *q, const char *key,
                                          int64_t delay_ms);
/* add_after(base * 2^failures, capped at max), counting one more failure. */
weir_status weir_kube_workqueue_add_rate_limited(weir_kube_workqueue_t *q, const char *key);
/* Clears the key's failure count (call after a success). */
void weir_kube_workqueue_forget(weir_kube_workqueue_t *q, const char *key);
int weir_kube_workqueue_requeues(weir_kube_workqueue_t *q, const char *key);
/*
 * Takes the next key (caller frees with free() after done()). Waits up to
 * timeout_ms of real time (-1 = until a key or shutdown, 0 = do not wait);
 * due times of delayed keys follow the injected clock. WEIR_ETIMEDOUT when
 * nothing came, WEIR_EOF_ once shut down and drained of ready keys.
 */
weir_status weir_kube_workqueue_get(weir_kube_workqueue_t *q, long timeout_ms, char **key);
void weir_kube_workqueue_done(weir_kube_workqueue_t *q, const char *key);
/* Wakes all waiting get()s; they return WEIR_EOF_. Further adds fail. */
void weir_kube_workqueue_shutdown(weir_kube_workqueue_t *q);
/* Keys ready now (not delayed, not processing). */
size_t weir_kube_workqueue_len(weir_kube_workqueue_t *q);

/* ------------------------------------------------------- leader election */

typedef struct weir_kube_leader weir_kube_leader_t;

typedef struct weir_kube_leader_opts {
    const char *lease_namespace;   /* NULL = client's namespace */
    const char *lease_name;        /* required */
    const char *identity;          /* required, unique per candidate */
    int64_t lease_duration_ms;     /* default 15000; whole seconds on the wire */
    int64_t renew_deadline_ms;     /* default 10000; < lease_duration */
    int64_t retry_period_ms;       /* default 2000; < renew_deadline */
    int release_on_stop;           /* clear holderIdentity when stopped as leader */
    const weir_kube_clock *clock;  /* NULL = real */
    /* Called on the elector's thread. */
    void (*on_started_leading)(void *ctx);
    void (*on_stopped_leading)(void *ctx);
    void (*on_new_leader)(void *ctx, const char *identity);
    void *ctx;
} weir_kube_leader_opts;

/* `c` is borrowed and must outlive the elector; opts strings are copied. */
weir_status weir_kube_leader_new(weir_kube_client_t *c, const weir_kube_leader_opts *opts,
                                 weir_kube_leader_t **out);
/* One attempt to acquire or renew, on the caller's thread: *is_leader says
 * whether this candidate holds the lease afterwards. */
weir_status weir_kube_leader_try(weir_kube_leader_t *le, int *is_leader);
/* Runs the election loop on a thread: try every retry period; as leader,
 * renew, and give up leadership if no renewal succeeded for renew_deadline. */
weir_status weir_kube_leader_start(weir_kube_leader_t *le);
void weir_kube_leader_stop(weir_kube_leader_t *le);
void weir_kube_leader_free(weir_kube_leader_t *le);
int weir_kube_leader_is_leader(weir_kube_leader_t *le);
/* The holder last seen on the Lease, copied into buf (empty if none). */
void weir_kube_leader_holder(weir_kube_leader_t *le, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
