/*
 * pod_launcher.c — a weir_launcher that runs each node attempt as a pod.
 *
 * For: the operator's engines. start() creates the pod (image, command,
 * env, object-store Secret, resources, GPU limits, owner reference to the
 * PipelineRun, a finalizer that keeps the pod until its log is copied);
 * wait_any() reads pods from the operator's pod informer and reports those
 * that ended once their log is at the attempt's log URI (the pod's own
 * reconcile copies it and then drops the finalizer: a log always outlives
 * its pod); cancel() deletes the pod. The launcher keeps the deadline of each attempt itself (and sets
 * activeDeadlineSeconds a little later as a backstop).
 * Not for: deciding what runs (the engine) or publishing metadata.
 *
 * Every call happens with op->mu held (the engine's thread rules).
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "operator.h"
#include "weir/io.h"

#define LOG_LIMIT (64u << 20)
#define INFORMER_GRACE_MS 30000  /* a created pod may take this long to show up */

struct pod_slot {
    uint64_t handle;
    char name[64];
    char *node;
    char *log_path, *log_uri;
    int64_t created_ms, deadline_ms;
    int cancelled, reported;
    cJSON *to_create;        /* built by start(), created by weir_pod_launcher_create() */
    char *create_error;      /* the create call failed: the attempt ends with this */
};

struct weir_pod_launcher {
    weir_op *op;
    char *ns, *run, *uid;
    struct pod_slot *slots;
    size_t n;
    uint64_t next;
};

static int64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* DNS-1123 label fragment: lower-case alnum and '-', at most n chars, no
 * '-' at either end. */
static void label_part(const char *in, size_t n, char *out) {
    size_t k = 0;
    for (const char *p = in; *p && k < n; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) c = '-';
        if (c == '-' && (k == 0 || out[k - 1] == '-')) continue;
        out[k++] = c;
    }
    while (k > 0 && out[k - 1] == '-') k--;
    out[k] = '\0';
}

static struct pod_slot *slot_of(weir_pod_launcher *pl, uint64_t h) {
    for (size_t i = 0; i < pl->n; i++)
        if (pl->slots[i].handle == h) return &pl->slots[i];
    return NULL;
}

int weir_pod_launcher_owns(weir_pod_launcher *pl, const char *pod_name) {
    for (size_t i = 0; i < pl->n; i++)
        if (strcmp(pl->slots[i].name, pod_name) == 0) return 1;
    return 0;
}

const char *weir_pod_launcher_pod(weir_pod_launcher *pl, uint64_t handle) {
    struct pod_slot *s = slot_of(pl, handle);
    return s ? s->name : "";
}

static cJSON *env_var(const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq) return NULL;
    cJSON *e = cJSON_CreateObject();
    char *k = strndup(kv, (size_t)(eq - kv));
    if (!e || !k) { cJSON_Delete(e); free(k); return NULL; }
    cJSON_AddStringToObject(e, "name", k);
    cJSON_AddStringToObject(e, "value", eq + 1);
    free(k);
    return e;
}

/* "key=value:Effect" or "key:Effect" or "key=value" -> toleration. */
static cJSON *toleration(const char *spec) {
    cJSON *t = cJSON_CreateObject();
    char *s = strdup(spec);
    if (!t || !s) { cJSON_Delete(t); free(s); return NULL; }
    char *eff = strrchr(s, ':');
    if (eff) *eff++ = '\0';
    char *eq = strchr(s, '=');
    if (eq) *eq++ = '\0';
    cJSON_AddStringToObject(t, "key", s);
    cJSON_AddStringToObject(t, "operator", eq ? "Equal" : "Exists");
    if (eq) cJSON_AddStringToObject(t, "value", eq);
    if (eff && *eff) cJSON_AddStringToObject(t, "effect", eff);
    free(s);
    return t;
}

static cJSON *build_pod(weir_pod_launcher *pl, const weir_launch_req *req, const char *name,
                        const char *image) {
    const weir_op_config *cfg = &pl->op->cfg;
    cJSON *pod = cJSON_CreateObject();
    if (!pod) return NULL;
    cJSON_AddStringToObject(pod, "apiVersion", "v1");
    cJSON_AddStringToObject(pod, "kind", "Pod");
    cJSON *md = cJSON_AddObjectToObject(pod, "metadata");
    cJSON_AddStringToObject(md, "name", name);
    cJSON_AddStringToObject(md, "namespace", pl->ns);
    char run_label[64], node_label[64];
    label_part(pl->run, 63, run_label);
    label_part(req->node, 63, node_label);
    cJSON *lb = cJSON_AddObjectToObject(md, "labels");
    cJSON_AddStringToObject(lb, "app.kubernetes.io/managed-by", WEIR_OP_MANAGED_BY);
    cJSON_AddStringToObject(lb, "weir.dev/run", run_label);
    cJSON_AddStringToObject(lb, "weir.dev/run-uid", pl->uid);
    cJSON_AddStringToObject(lb, "weir.dev/node", node_label);
    cJSON *an = cJSON_AddObjectToObject(md, "annotations");
    char num[32];
    cJSON_AddStringToObject(an, "weir.dev/run", pl->run);
    cJSON_AddStringToObject(an, "weir.dev/node", req->node);
    if (req->log_uri) cJSON_AddStringToObject(an, "weir.dev/log-uri", req->log_uri);
    snprintf(num, sizeof num, "%lld", (long long)req->execution_id);
    cJSON_AddStringToObject(an, "weir.dev/execution", num);
    snprintf(num, sizeof num, "%u", req->attempt);
    cJSON_AddStringToObject(an, "weir.dev/attempt", num);
    cJSON *fin = cJSON_AddArrayToObject(md, "finalizers");
    cJSON_AddItemToArray(fin, cJSON_CreateString(WEIR_OP_FINALIZER));
    cJSON *owners = cJSON_AddArrayToObject(md, "ownerReferences");
    cJSON *ow = cJSON_CreateObject();
    cJSON_AddItemToArray(owners, ow);
    cJSON_AddStringToObject(ow, "apiVersion", "weir.dev/v1alpha1");
    cJSON_AddStringToObject(ow, "kind", "PipelineRun");
    cJSON_AddStringToObject(ow, "name", pl->run);
    cJSON_AddStringToObject(ow, "uid", pl->uid);
    cJSON_AddBoolToObject(ow, "controller", 1);
    cJSON_AddBoolToObject(ow, "blockOwnerDeletion", 1);

    cJSON *spec = cJSON_AddObjectToObject(pod, "spec");
    cJSON_AddStringToObject(spec, "restartPolicy", "Never");
    if (cfg->pod_service_account && *cfg->pod_service_account)
        cJSON_AddStringToObject(spec, "serviceAccountName", cfg->pod_service_account);
    cJSON_AddBoolToObject(spec, "automountServiceAccountToken", 0);
    cJSON_AddBoolToObject(spec, "enableServiceLinks", 0);
    if (req->timeout_s > 0)
        cJSON_AddNumberToObject(spec, "activeDeadlineSeconds", (double)(int64_t)req->timeout_s + 30);
    cJSON *psc = cJSON_AddObjectToObject(spec, "securityContext");
    cJSON_AddBoolToObject(psc, "runAsNonRoot", 1);
    cJSON_AddNumberToObject(psc, "runAsUser", 65532);
    cJSON_AddNumberToObject(psc, "runAsGroup", 65532);
    cJSON_AddNumberToObject(psc, "fsGroup", 65532);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(psc, "seccompProfile"), "type", "RuntimeDefault");

    cJSON *ctrs = cJSON_AddArrayToObject(spec, "containers");
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToArray(ctrs, c);
    cJSON_AddStringToObject(c, "name", "main");
    cJSON_AddStringToObject(c, "image", image);
    if (cfg->image_pull_policy && *cfg->image_pull_policy)
        cJSON_AddStringToObject(c, "imagePullPolicy", cfg->image_pull_policy);
    cJSON *cmd = cJSON_AddArrayToObject(c, "command");
    for (size_t i = 0; req->argv[i]; i++) cJSON_AddItemToArray(cmd, cJSON_CreateString(req->argv[i]));
    cJSON *env = cJSON_AddArrayToObject(c, "env");
    for (size_t i = 0; req->env && req->env[i]; i++) {
        cJSON *e = env_var(req->env[i]);
        if (e) cJSON_AddItemToArray(env, e);
    }
    if (cfg->s3_secret && *cfg->s3_secret) {
        cJSON *ef = cJSON_AddArrayToObject(c, "envFrom");
        cJSON *sr = cJSON_CreateObject();
        cJSON_AddItemToArray(ef, sr);
        cJSON *ref = cJSON_AddObjectToObject(sr, "secretRef");
        cJSON_AddStringToObject(ref, "name", cfg->s3_secret);
    }
    cJSON *res = cJSON_AddObjectToObject(c, "resources");
    cJSON *rq = cJSON_AddObjectToObject(res, "requests");
    cJSON *lim = cJSON_AddObjectToObject(res, "limits");
    if (req->cpu) cJSON_AddStringToObject(rq, "cpu", req->cpu);
    if (req->memory) {
        cJSON_AddStringToObject(rq, "memory", req->memory);
        cJSON_AddStringToObject(lim, "memory", req->memory);
    }
    if (req->gpu) {
        snprintf(num, sizeof num, "%u", req->gpu);
        cJSON_AddStringToObject(lim, "nvidia.com/gpu", num);
        if (cfg->ngpu_node_selector) {
            cJSON *ns = cJSON_AddObjectToObject(spec, "nodeSelector");
            for (size_t i = 0; i < cfg->ngpu_node_selector; i++) {
                const char *kv = cfg->gpu_node_selector[i], *eq = strchr(kv, '=');
                if (!eq) continue;
                char *k = strndup(kv, (size_t)(eq - kv));
                if (k) cJSON_AddStringToObject(ns, k, eq + 1);
                free(k);
            }
        }
        cJSON *tol = cJSON_AddArrayToObject(spec, "tolerations");
        cJSON *nt = cJSON_CreateObject(); /* the device plugin's usual taint */
        cJSON_AddStringToObject(nt, "key", "nvidia.com/gpu");
        cJSON_AddStringToObject(nt, "operator", "Exists");
        cJSON_AddStringToObject(nt, "effect", "NoSchedule");
        cJSON_AddItemToArray(tol, nt);
        for (size_t i = 0; i < cfg->ngpu_toleration; i++) {
            cJSON *t = toleration(cfg->gpu_toleration[i]);
            if (t) cJSON_AddItemToArray(tol, t);
        }
    }
    cJSON *sc = cJSON_AddObjectToObject(c, "securityContext");
    cJSON_AddBoolToObject(sc, "readOnlyRootFilesystem", 1);
    cJSON_AddBoolToObject(sc, "allowPrivilegeEscalation", 0);
    cJSON *drop = cJSON_AddArrayToObject(cJSON_AddObjectToObject(sc, "capabilities"), "drop");
    cJSON_AddItemToArray(drop, cJSON_CreateString("ALL"));
    cJSON_AddStringToObject(c, "terminationMessagePolicy", "FallbackToLogsOnError");
    cJSON *vm = cJSON_CreateObject();
    cJSON_AddStringToObject(vm, "name", "tmp");
    cJSON_AddStringToObject(vm, "mountPath", "/tmp");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(c, "volumeMounts"), vm);
    cJSON *vol = cJSON_CreateObject();
    cJSON_AddStringToObject(vol, "name", "tmp");
    cJSON_AddObjectToObject(vol, "emptyDir");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(spec, "volumes"), vol);
    return pod;
}

static weir_status pl_start(void *ctx, const weir_launch_req *req, uint64_t *handle) {
    weir_pod_launcher *pl = ctx;
    weir_op *op = pl->op;
    if (op->cfg.max_pods > 0 && atomic_load(&op->m.pods_active) >= op->cfg.max_pods)
        return WEIR_EAGAIN;
    char *image = NULL;
    if (req->image) {
        image = strdup(req->image);
    } else if (req->component_image) {
        const char *reg = op->cfg.image_registry ? op->cfg.image_registry : "";
        image = weir_op_fmt("%s%s%s:%s", reg, *reg ? "/" : "", req->component_image,
                            op->cfg.image_tag);
    } else {
        return weir_errorf(WEIR_EINVAL, "node %s is an Executable without 'image': on Kubernetes "
                           "a custom component runs in the container image named by the node's "
                           "image field; add one (the image must contain %s)", req->node,
                           req->argv[0]);
    }
    if (!image) return weir_errorf(WEIR_ENOMEM, "out of memory");
    char runp[64], nodep[64], name[64];
    label_part(pl->run, 30, runp);
    label_part(req->node, 16, nodep);
    int nn = snprintf(name, sizeof name, "%.30s-%.16s-%lld-%u", runp, nodep,
                      (long long)req->execution_id, req->attempt);
    if (nn < 0 || nn >= (int)sizeof name)
        return weir_errorf(WEIR_EINVAL, "node %s: pod name too long", req->node);
    struct pod_slot *ns = realloc(pl->slots, (pl->n + 1) * sizeof *ns);
    if (!ns) { free(image); return weir_errorf(WEIR_ENOMEM, "out of memory"); }
    pl->slots = ns;
    struct pod_slot *s = &ns[pl->n];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->log_path = req->log_path ? strdup(req->log_path) : NULL;
    s->log_uri = req->log_uri ? strdup(req->log_uri) : NULL;
    s->node = strdup(req->node);
    s->to_create = build_pod(pl, req, name, image);
    free(image);
    if (!s->to_create || !s->node) {
        free(s->log_path);
        free(s->log_uri);
        free(s->node);
        cJSON_Delete(s->to_create);
        return weir_errorf(WEIR_ENOMEM, "out of memory");
    }
    /* created by weir_pod_launcher_create(), after the engine's step and
     * off its lock: API calls are the slow part of a reconcile */
    s->handle = ++pl->next;
    s->created_ms = mono_ms();
    s->deadline_ms = req->timeout_s > 0 ? s->created_ms + (int64_t)(req->timeout_s * 1000) : 0;
    pl->n++;
    *handle = s->handle;
    atomic_fetch_add(&op->m.pods_active, 1);
    return WEIR_OK;
}

size_t weir_pod_launcher_take_creates(weir_pod_launcher *pl, weir_pod_create *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < pl->n && n < cap; i++) {
        struct pod_slot *s = &pl->slots[i];
        if (!s->to_create) continue;
        out[n++] = (weir_pod_create){.handle = s->handle, .pod = s->to_create};
        s->to_create = NULL;
    }
    return n;
}

weir_status weir_pod_launcher_create(weir_op *op, const char *ns, weir_pod_create *c) {
    const char *name = weir_kube_object_meta(c->pod, "name");
    weir_status rc = weir_kube_create(op->kc, &weir_kube_pods, ns, c->pod, NULL);
    if (rc == WEIR_EEXIST) rc = WEIR_OK; /* created before a restart: the same attempt */
    if (rc) {
        char msg[768];
        snprintf(msg, sizeof msg, "creating pod %s/%s: %s", ns, name ? name : "?", weir_error_message());
        c->error = strdup(msg);
    } else {
        atomic_fetch_add(&op->m.pods_created, 1);
    }
    cJSON_Delete(c->pod);
    c->pod = NULL;
    return rc;
}

void weir_pod_launcher_created(weir_pod_launcher *pl, const weir_pod_create *c) {
    struct pod_slot *s = slot_of(pl, c->handle);
    if (!s) return;
    s->created_ms = mono_ms(); /* the informer's grace starts now */
    if (c->error) s->create_error = strdup(c->error);
}

static void remove_slot(weir_pod_launcher *pl, struct pod_slot *s) {
    free(s->log_path);
    free(s->log_uri);
    free(s->node);
    free(s->create_error);
    cJSON_Delete(s->to_create);
    size_t i = (size_t)(s - pl->slots);
    memmove(&pl->slots[i], &pl->slots[i + 1], (pl->n - i - 1) * sizeof *s);
    pl->n--;
    atomic_fetch_sub(&pl->op->m.pods_active, 1);
}

/* The main container's state, as "terminated"/"waiting" objects. */
static const cJSON *container_state(const cJSON *pod, const char *which) {
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(pod, "status");
    const cJSON *cs = cJSON_GetObjectItemCaseSensitive(st, "containerStatuses");
    const cJSON *c;
    cJSON_ArrayForEach(c, cs) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(c, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, "main") == 0) {
            const cJSON *state = cJSON_GetObjectItemCaseSensitive(c, "state");
            return cJSON_GetObjectItemCaseSensitive(state, which);
        }
    }
    return NULL;
}

static const char *str_at(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int has_finalizer(const cJSON *pod) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pod, "metadata"),
                                                      "finalizers");
    const cJSON *e;
    cJSON_ArrayForEach(e, f)
        if (cJSON_IsString(e) && strcmp(e->valuestring, WEIR_OP_FINALIZER) == 0) return 1;
    return 0;
}

/*
 * The log goes to the attempt's log URI (and `local`, when given, for the
 * engine's failure message), then the finalizer goes. A pod whose
 * container never started has no log: a line saying so is stored instead.
 */
static weir_status copy_log(weir_op *op, const cJSON *pod, const char *local) {
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
    const char *ns = str_at(md, "namespace"), *name = str_at(md, "name");
    const char *uri = str_at(cJSON_GetObjectItemCaseSensitive(md, "annotations"), "weir.dev/log-uri");
    if (!ns || !name) return WEIR_OK;
    weir_buf b;
    weir_buf_init(&b, LOG_LIMIT + 4096);
    int64_t t0 = mono_ms();
    weir_status rc = weir_kube_pod_log(op->kc, ns, name, "main", LOG_LIMIT, &b);
    WEIR_DEBUG("pod %s/%s: log read in %lld ms (%s)", ns, name, (long long)(mono_ms() - t0),
               rc ? weir_error_message() : "ok");
    if (rc) {
        b.len = 0;
        char line[768];
        snprintf(line, sizeof line, "(weir-operator: no log could be read from pod %s/%s: %s)\n",
                 ns, name, weir_error_message());
        weir_buf_append_str(&b, line);
    }
    weir_status wrc = WEIR_OK;
    if (uri) {
        wrc = weir_io_write_all(uri, b.data ? b.data : (const uint8_t *)"", b.len);
        if (wrc) WEIR_WARN("pod %s/%s: storing its log at %s: %s", ns, name, uri, weir_error_message());
        else atomic_fetch_add(&op->m.logs_copied, 1);
    }
    if (local) {
        FILE *f = fopen(local, "w");
        if (f) {
            if (b.len) fwrite(b.data, 1, b.len, f);
            fclose(f);
        }
    }
    weir_buf_free(&b);
    return wrc;
}

static weir_status drop_finalizer(weir_op *op, const cJSON *pod) {
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
    const char *ns = str_at(md, "namespace"), *name = str_at(md, "name");
    const char *rv = str_at(md, "resourceVersion");
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(md, "finalizers");
    cJSON *patch = cJSON_CreateObject();
    cJSON *pm = cJSON_AddObjectToObject(patch, "metadata");
    cJSON *keep = cJSON_AddArrayToObject(pm, "finalizers");
    const cJSON *e;
    cJSON_ArrayForEach(e, f)
        if (cJSON_IsString(e) && strcmp(e->valuestring, WEIR_OP_FINALIZER) != 0)
            cJSON_AddItemToArray(keep, cJSON_CreateString(e->valuestring));
    if (rv) cJSON_AddStringToObject(pm, "resourceVersion", rv);
    char *txt = cJSON_PrintUnformatted(patch);
    cJSON_Delete(patch);
    if (!txt) return weir_errorf(WEIR_ENOMEM, "out of memory");
    weir_status rc = weir_kube_patch(op->kc, &weir_kube_pods, ns, name, WEIR_KUBE_PATCH_MERGE, txt, NULL);
    free(txt);
    if (rc == WEIR_ENOENT) rc = WEIR_OK;
    return rc;
}

weir_status weir_op_release_pod(weir_op *op, const cJSON *pod) {
    if (!has_finalizer(pod)) return WEIR_OK;
    weir_status rc = copy_log(op, pod, NULL);
    if (rc) return rc; /* keep the finalizer: try again later */
    rc = drop_finalizer(op, pod);
    if (rc == WEIR_ECONFLICT) {
        /* changed meanwhile (often: someone else dropped it already) */
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
        cJSON *fresh = NULL;
        rc = weir_kube_get(op->kc, &weir_kube_pods, str_at(md, "namespace"), str_at(md, "name"), &fresh);
        if (rc == WEIR_ENOENT) return WEIR_OK;
        if (!rc && has_finalizer(fresh)) rc = drop_finalizer(op, fresh);
        cJSON_Delete(fresh);
    }
    return rc;
}

/* The stored log back into a local file (the engine quotes its tail). */
static void fetch_log_copy(const char *uri, const char *local) {
    weir_buf b;
    weir_buf_init(&b, LOG_LIMIT + 4096);
    if (weir_io_read_all(uri, &b) == WEIR_OK) {
        FILE *f = fopen(local, "w");
        if (f) {
            if (b.len) fwrite(b.data, 1, b.len, f);
            fclose(f);
        }
    }
    weir_buf_free(&b);
}

static void put_msg(weir_launch_result *out, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void put_msg(weir_launch_result *out, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    vsnprintf(out->message, sizeof out->message, f, ap);
    va_end(ap);
}

static int bad_waiting(const char *reason) {
    static const char *const bad[] = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                                      "CreateContainerConfigError", "CreateContainerError",
                                      "ErrImageNeverPull", "RunContainerError"};
    for (size_t i = 0; reason && i < sizeof bad / sizeof bad[0]; i++)
        if (strcmp(reason, bad[i]) == 0) return 1;
    return 0;
}

/* One look at slot s. 1 when it ended (out filled), 0 when still running. */
static int check_slot(weir_pod_launcher *pl, struct pod_slot *s, weir_launch_result *out) {
    weir_op *op = pl->op;
    int64_t now = mono_ms();
    memset(out, 0, sizeof *out);
    out->handle = s->handle;
    out->elapsed_s = (double)(now - s->created_ms) / 1000.0;
    char key[256];
    snprintf(key, sizeof key, "%s/%s", pl->ns, s->name);
    if (s->cancelled) {
        out->cancelled = 1;
        return 1;
    }
    if (s->create_error) {
        out->exit_code = -1;
        put_msg(out, "%s", s->create_error);
        return 1;
    }
    if (s->to_create) return 0; /* not created yet */
    cJSON *pod = NULL;
    weir_status rc = weir_kube_informer_get(op->pods, key, &pod);
    if (rc == WEIR_ENOENT) {
        if (now - s->created_ms < INFORMER_GRACE_MS) return 0;
        rc = weir_kube_get(op->kc, &weir_kube_pods, pl->ns, s->name, &pod);
        if (rc == WEIR_ENOENT) {
            out->exit_code = -1;
            put_msg(out, "pod %s was deleted before it finished", key);
            return 1;
        }
        if (rc) return 0;
    } else if (rc) {
        return 0;
    }
    int ended = 0;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(pod, "status");
    const char *phase = str_at(st, "phase");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(pod, "metadata");
    if (phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0)) {
        const cJSON *term = container_state(pod, "terminated");
        const cJSON *ec = cJSON_GetObjectItemCaseSensitive(term, "exitCode");
        const char *reason = str_at(term, "reason");
        if (!reason) reason = str_at(st, "reason");
        if (strcmp(phase, "Succeeded") == 0) {
            out->exit_code = 0;
        } else {
            out->exit_code = cJSON_IsNumber(ec) ? ec->valueint : 1;
            if (reason && strcmp(reason, "DeadlineExceeded") == 0) out->timed_out = 1;
            else if (reason && strcmp(reason, "OOMKilled") == 0)
                put_msg(out, "pod %s was killed for going over its memory limit (OOMKilled); "
                        "raise resources.memory", key);
            else if (!cJSON_IsNumber(ec))
                put_msg(out, "pod %s failed: %s%s%s", key, reason ? reason : "no reason given",
                        str_at(st, "message") ? ": " : "",
                        str_at(st, "message") ? str_at(st, "message") : "");
        }
        ended = 1;
    } else if (cJSON_GetObjectItemCaseSensitive(md, "deletionTimestamp")) {
        out->exit_code = -1;
        put_msg(out, "pod %s was deleted before it finished", key);
        ended = 1;
    } else {
        const cJSON *wait = container_state(pod, "waiting");
        const char *reason = str_at(wait, "reason");
        if (bad_waiting(reason)) {
            const char *msg = str_at(wait, "message");
            put_msg(out, "pod %s cannot start its container: %s%s%s", key, reason,
                    msg ? ": " : "", msg ? msg : "");
            out->exit_code = -1;
            (void)weir_kube_delete(op->kc, &weir_kube_pods, pl->ns, s->name,
                                   WEIR_KUBE_PROPAGATE_DEFAULT);
            ended = 1;
        } else if (s->deadline_ms && now >= s->deadline_ms) {
            out->timed_out = 1;
            (void)weir_kube_delete(op->kc, &weir_kube_pods, pl->ns, s->name,
                                   WEIR_KUBE_PROPAGATE_DEFAULT);
            ended = 1;
        }
    }
    if (ended) {
        /* The pod's own reconcile copies its log and then drops the
         * finalizer (off the engines' lock: reading a log is a slow call);
         * the end counts once that is done, so the log is always there. */
        if (has_finalizer(pod) && !cJSON_GetObjectItemCaseSensitive(md, "deletionTimestamp")) {
            cJSON_Delete(pod);
            return 0;
        }
        if ((out->exit_code != 0 || out->timed_out) && s->log_uri && s->log_path)
            fetch_log_copy(s->log_uri, s->log_path); /* for the failure message */
        atomic_fetch_add(&op->m.pods_finished, 1);
        if (out->exit_code != 0 || out->timed_out) atomic_fetch_add(&op->m.pods_failed, 1);
    }
    cJSON_Delete(pod);
    return ended;
}

static weir_status pl_wait_any(void *ctx, int timeout_ms, weir_launch_result *out) {
    weir_pod_launcher *pl = ctx;
    int64_t until = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (pl->n == 0) return WEIR_ENOENT;
        for (size_t i = 0; i < pl->n; i++) {
            struct pod_slot *s = &pl->slots[i];
            if (check_slot(pl, s, out)) {
                remove_slot(pl, s);
                return WEIR_OK;
            }
        }
        if (timeout_ms == 0 || (timeout_ms > 0 && mono_ms() >= until)) return WEIR_ETIMEDOUT;
        usleep(100 * 1000);
    }
}

static void pl_cancel(void *ctx, uint64_t handle) {
    weir_pod_launcher *pl = ctx;
    struct pod_slot *s = slot_of(pl, handle);
    if (!s || s->cancelled) return;
    s->cancelled = 1;
    if (s->to_create) { /* never created: nothing to delete */
        cJSON_Delete(s->to_create);
        s->to_create = NULL;
        return;
    }
    weir_status rc = weir_kube_delete(pl->op->kc, &weir_kube_pods, pl->ns, s->name,
                                      WEIR_KUBE_PROPAGATE_BACKGROUND);
    if (rc && rc != WEIR_ENOENT)
        WEIR_WARN("deleting pod %s/%s: %s", pl->ns, s->name, weir_error_message());
}

static int pl_running(void *ctx) {
    weir_pod_launcher *pl = ctx;
    return (int)pl->n;
}

static void pl_destroy(void *ctx) {
    weir_pod_launcher *pl = ctx;
    while (pl->n) remove_slot(pl, &pl->slots[pl->n - 1]);
    free(pl->slots);
    free(pl->ns);
    free(pl->run);
    free(pl->uid);
    free(pl);
}

static const struct weir_launcher_i pod_vt = {
    .name = "pod",
    .start = pl_start,
    .wait_any = pl_wait_any,
    .cancel = pl_cancel,
    .running = pl_running,
    .destroy = pl_destroy,
};

weir_status weir_pod_launcher_new(weir_op *op, const char *ns, const char *run_name,
                                  const char *run_uid, weir_launcher *out,
                                  weir_pod_launcher **plp) {
    weir_pod_launcher *pl = calloc(1, sizeof *pl);
    if (!pl) return weir_errorf(WEIR_ENOMEM, "out of memory");
    pl->op = op;
    pl->ns = strdup(ns);
    pl->run = strdup(run_name);
    pl->uid = strdup(run_uid);
    if (!pl->ns || !pl->run || !pl->uid) {
        pl_destroy(pl);
        return weir_errorf(WEIR_ENOMEM, "out of memory");
    }
    out->vt = &pod_vt;
    out->ctx = pl;
    *plp = pl;
    return WEIR_OK;
}
