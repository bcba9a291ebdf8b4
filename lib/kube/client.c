/*
 * client.c — REST calls to the Kubernetes API over libcurl.
 *
 * For: building resource paths, one HTTP exchange with TLS and auth, capped
 * response bodies, mapping Kubernetes Status objects to weir_status, the
 * client-side QPS/burst token bucket, and the typed verbs of kube.h.
 * Not for: watches and informers (watch.c), work queues (workqueue.c),
 * leases (leader.c).
 *
 * Idle curl easy handles are kept in a small pool so connections (and their
 * TLS sessions) are reused; each call takes one handle for itself, so the
 * client is safe to share between threads.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kube_internal.h"

#define POOL_MAX 8

struct weir_kube_client {
    weir_kube_config cfg;           /* deep copy; owned */
    weir_kube_client_opts opts;
    const weir_kube_clock *clock;
    char *user_agent;
    pthread_mutex_t mu;             /* guards pool, bucket and token */
    CURL *pool[POOL_MAX];
    int npool;
    double tokens;
    int64_t last_refill_ms;
    char *file_token;               /* current contents of cfg.token_file */
    struct timespec token_mtime;
    off_t token_size;
};

const weir_kube_resource weir_kube_configmaps = {"", "v1", "configmaps", 1};
const weir_kube_resource weir_kube_pods = {"", "v1", "pods", 1};
const weir_kube_resource weir_kube_secrets = {"", "v1", "secrets", 1};
const weir_kube_resource weir_kube_namespaces = {"", "v1", "namespaces", 0};
const weir_kube_resource weir_kube_leases = {"coordination.k8s.io", "v1", "leases", 1};
const weir_kube_resource weir_kube_crds = {"apiextensions.k8s.io", "v1",
                                           "customresourcedefinitions", 0};

/* ----------------------------------------------------------------- clock */

int64_t weir__kube_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t real_now(void *ctx) {
    (void)ctx;
    return weir__kube_mono_ms();
}

static void real_sleep(void *ctx, int64_t ms) {
    (void)ctx;
    if (ms <= 0) return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static const weir_kube_clock real_clock = {real_now, real_sleep, NULL};

const weir_kube_clock *weir_kube_clock_real(void) { return &real_clock; }

int64_t weir__kube_now(const weir_kube_clock *clk) {
    if (!clk) clk = &real_clock;
    return clk->now_ms(clk->ctx);
}

void weir__kube_sleep(const weir_kube_clock *clk, int64_t ms) {
    if (!clk) clk = &real_clock;
    clk->sleep_ms(clk->ctx, ms);
}

void weir__kube_deadline(struct timespec *ts, int64_t ms) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    if (ms < 0) ms = 0;
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int weir__kube_cond_init(pthread_cond_t *cv) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    int e = pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
    return e;
}

/* ------------------------------------------------------------ last error */

static _Thread_local int last_http;
static _Thread_local char last_reason[64];

int weir_kube_last_http_code(void) { return last_http; }
const char *weir_kube_last_reason(void) { return last_reason; }

static void set_last(long http, const char *reason) {
    last_http = (int)http;
    snprintf(last_reason, sizeof last_reason, "%s", reason ? reason : "");
}

weir_status weir__kube_status_error(const char *verb, const char *what, long http,
                                    const cJSON *status, const char *raw) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(status, "message");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(status, "reason");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(status, "code");
    const char *reason = cJSON_IsString(r) ? r->valuestring : "";
    const char *msg = cJSON_IsString(m) ? m->valuestring : (raw ? raw : "");
    if (http == 0 && cJSON_IsNumber(code)) http = (long)code->valuedouble;
    set_last(http, reason);
    weir_status rc;
    switch (http) {
    case 404: rc = WEIR_ENOENT; break;
    case 409: rc = strcmp(reason, "AlreadyExists") == 0 ? WEIR_EEXIST : WEIR_ECONFLICT; break;
    case 410: rc = WEIR_ERANGE; break;
    case 401:
    case 403: rc = WEIR_EPERM; break;
    case 400:
    case 422: rc = WEIR_EINVAL; break;
    case 504: rc = WEIR_ETIMEDOUT; break;
    case 429:
    case 500:
    case 502:
    case 503: rc = WEIR_EAGAIN; break;
    default: rc = WEIR_EIO; break;
    }
    const char *hint = rc == WEIR_ECONFLICT ? " (re-read the object and retry)"
                       : rc == WEIR_ERANGE  ? " (resourceVersion too old: list again)"
                       : rc == WEIR_EPERM   ? " (check the RBAC rules of this identity)"
                                            : "";
    return weir_errorf(rc, "kube: %s %s: HTTP %ld%s%s: %.600s%s", verb, what, http,
                       reason[0] ? " " : "", reason, msg, hint);
}

/* ---------------------------------------------------------------- client */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static weir_status dupz(char **dst, const char *src) {
    if (!src) return WEIR_OK;
    *dst = strdup(src);
    return *dst ? WEIR_OK : weir_errorf(WEIR_ENOMEM, "kube: out of memory");
}

static weir_status read_pem(const char *path, const char *what, char **out) {
    weir_buf b = {0};
    weir_buf_init(&b, 4u << 20);
    weir_status rc = weir_file_read_all(path, &b);
    if (rc) {
        weir_buf_free(&b);
        return weir_error_prefix(rc, "kube: reading the %s: ", what);
    }
    size_t n;
    *out = (char *)weir_buf_detach(&b, &n);
    if (!*out) *out = strdup("");
    return *out ? WEIR_OK : weir_errorf(WEIR_ENOMEM, "kube: out of memory");
}

void weir_kube_client_free(weir_kube_client_t *c) {
    if (!c) return;
    for (int i = 0; i < c->npool; i++) curl_easy_cleanup(c->pool[i]);
    pthread_mutex_destroy(&c->mu);
    free(c->cfg.server);
    free(c->cfg.namespace_);
    free(c->cfg.token);
    free(c->cfg.token_file);
    free(c->cfg.ca_pem);
    free(c->cfg.ca_file);
    free(c->cfg.cert_pem);
    free(c->cfg.cert_file);
    free(c->cfg.key_pem);
    free(c->cfg.key_file);
    free(c->cfg.username);
    free(c->cfg.password);
    free(c->cfg.context);
    free(c->user_agent);
    free(c->file_token);
    free(c);
}

weir_status weir_kube_client_new(const weir_kube_config *cfg, const weir_kube_client_opts *opts,
                                 weir_kube_client_t **out) {
    weir_status rc = WEIR_OK;
    if (!cfg || !cfg->server || !out)
        return weir_errorf(WEIR_EINVAL, "kube: client needs a config with a server URL");
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return weir_errorf(WEIR_EIO, "kube: curl_global_init failed: %s", curl_easy_strerror(curl_init_rc));
    weir_kube_client_t *c = calloc(1, sizeof *c);
    if (!c) return weir_errorf(WEIR_ENOMEM, "kube: out of memory");
    pthread_mutex_init(&c->mu, NULL);
    if ((rc = dupz(&c->cfg.server, cfg->server)) || (rc = dupz(&c->cfg.namespace_, cfg->namespace_)) ||
        (rc = dupz(&c->cfg.token, cfg->token)) || (rc = dupz(&c->cfg.token_file, cfg->token_file)) ||
        (rc = dupz(&c->cfg.ca_pem, cfg->ca_pem)) || (rc = dupz(&c->cfg.cert_pem, cfg->cert_pem)) ||
        (rc = dupz(&c->cfg.key_pem, cfg->key_pem)) || (rc = dupz(&c->cfg.ca_file, cfg->ca_file)) ||
        (rc = dupz(&c->cfg.username, cfg->username)) || (rc = dupz(&c->cfg.password, cfg->password)) ||
        (rc = dupz(&c->cfg.context, cfg->context)))
        goto out;
    c->cfg.insecure_skip_tls_verify = cfg->insecure_skip_tls_verify;
    if (!c->cfg.namespace_ && (rc = dupz(&c->cfg.namespace_, "default"))) goto out;
    /* Certificate and key files are read now, so a bad path fails here and
     * not on the first request. The CA file is handed to curl as a path
     * (it may be a large system bundle). */
    if (!c->cfg.cert_pem && cfg->cert_file && (rc = read_pem(cfg->cert_file, "client certificate", &c->cfg.cert_pem)))
        goto out;
    if (!c->cfg.key_pem && cfg->key_file && (rc = read_pem(cfg->key_file, "client key", &c->cfg.key_pem)))
        goto out;
    if (opts) c->opts = *opts;
    if (c->opts.qps == 0) c->opts.qps = 50;
    if (c->opts.burst <= 0) c->opts.burst = 100;
    if (c->opts.max_body_bytes == 0) c->opts.max_body_bytes = 64u << 20;
    if (c->opts.timeout_ms <= 0) c->opts.timeout_ms = 30000;
    if (c->opts.connect_timeout_ms <= 0) c->opts.connect_timeout_ms = 10000;
    c->clock = c->opts.clock ? c->opts.clock : &real_clock;
    c->opts.clock = c->clock;
    if ((rc = dupz(&c->user_agent, c->opts.user_agent ? c->opts.user_agent : "weir/0.1"))) goto out;
    c->opts.user_agent = c->user_agent;
    c->tokens = c->opts.burst;
    c->last_refill_ms = weir__kube_now(c->clock);
    *out = c;
    c = NULL;
out:
    weir_kube_client_free(c);
    return rc;
}

const char *weir_kube_client_namespace(const weir_kube_client_t *c) { return c->cfg.namespace_; }
size_t weir__kube_max_body(const weir_kube_client_t *c) { return c->opts.max_body_bytes; }

/* Token bucket: waits (on the client's clock) until a token is free. */
static void rate_limit(weir_kube_client_t *c) {
    if (c->opts.qps < 0) return;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        int64_t now = weir__kube_now(c->clock);
        c->tokens += (double)(now - c->last_refill_ms) * c->opts.qps / 1000.0;
        if (c->tokens > c->opts.burst) c->tokens = c->opts.burst;
        c->last_refill_ms = now;
        if (c->tokens >= 1.0) {
            c->tokens -= 1.0;
            pthread_mutex_unlock(&c->mu);
            return;
        }
        int64_t wait = (int64_t)ceil((1.0 - c->tokens) * 1000.0 / c->opts.qps);
        pthread_mutex_unlock(&c->mu);
        weir__kube_sleep(c->clock, wait < 1 ? 1 : wait);
    }
}

/* The bearer token, re-read from token_file when its mtime or size changes
 * (projected ServiceAccount tokens rotate). Returns a malloc'd copy. */
static weir_status current_token(weir_kube_client_t *c, char **out) {
    *out = NULL;
    if (c->cfg.token) return dupz(out, c->cfg.token);
    if (!c->cfg.token_file) return WEIR_OK;
    weir_status rc = WEIR_OK;
    struct stat st;
    pthread_mutex_lock(&c->mu);
    if (stat(c->cfg.token_file, &st) != 0) {
        if (!c->file_token)
            rc = weir_errorf(WEIR_EIO, "kube: token file %s: %s", c->cfg.token_file, strerror(errno));
    } else if (!c->file_token || st.st_mtim.tv_sec != c->token_mtime.tv_sec ||
               st.st_mtim.tv_nsec != c->token_mtime.tv_nsec || st.st_size != c->token_size) {
        weir_buf b = {0};
        weir_buf_init(&b, 1u << 20);
        rc = weir_file_read_all(c->cfg.token_file, &b);
        if (!rc) {
            while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' ||
                                 b.data[b.len - 1] == ' '))
                b.data[--b.len] = '\0';
            free(c->file_token);
            size_t n;
            c->file_token = (char *)weir_buf_detach(&b, &n);
            if (!c->file_token) c->file_token = strdup("");
            c->token_mtime = st.st_mtim;
            c->token_size = st.st_size;
        } else if (c->file_token) {
            rc = WEIR_OK; /* keep using the previous token */
        }
        weir_buf_free(&b);
    }
    if (!rc && c->file_token) rc = dupz(out, c->file_token);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static CURL *take_handle(weir_kube_client_t *c) {
    CURL *h = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->npool > 0) h = c->pool[--c->npool];
    pthread_mutex_unlock(&c->mu);
    if (h) curl_easy_reset(h); /* keeps its connection cache */
    else h = curl_easy_init();
    return h;
}

static void give_handle(weir_kube_client_t *c, CURL *h) {
    pthread_mutex_lock(&c->mu);
    if (c->npool < POOL_MAX) {
        c->pool[c->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (h) curl_easy_cleanup(h);
}

typedef struct sink {
    weir_buf body;
    const weir__kube_call *call;
    CURL *h;
    int over_cap;
    int aborted;
} sink;

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud) {
    sink *s = ud;
    size_t n = size * nmemb;
    long http = 0;
    if (s->call->on_data)
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &http);
    if (s->call->on_data && http >= 200 && http <= 299) { /* errors are collected below */
        if (s->call->on_data(s->call->ctx, p, n)) {
            s->aborted = 1;
            return 0;
        }
        return n;
    }
    if (weir_buf_append(&s->body, p, n) != WEIR_OK) {
        s->over_cap = 1;
        return 0;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c2, curl_off_t d) {
    (void)a, (void)b, (void)c2, (void)d;
    const sink *s = ud;
    return s->call->stop && *s->call->stop ? 1 : 0;
}

weir_status weir__kube_do(weir_kube_client_t *c, const weir__kube_call *call, cJSON **out) {
    weir_status rc = WEIR_OK;
    CURL *h = NULL;
    struct curl_slist *hdr = NULL;
    char *tok = NULL, *url = NULL, *authz = NULL;
    sink s = {.call = call};
    weir_buf_init(&s.body, c->opts.max_body_bytes);
    if (out) *out = NULL;
    set_last(0, "");

    rate_limit(c);
    if ((rc = current_token(c, &tok))) goto out;
    h = take_handle(c);
    if (!h) { rc = weir_errorf(WEIR_ENOMEM, "kube: curl_easy_init failed"); goto out; }
    s.h = h;
    if (asprintf(&url, "%s%s", c->cfg.server, call->path) < 0) {
        url = NULL;
        rc = weir_errorf(WEIR_ENOMEM, "kube: out of memory");
        goto out;
    }
    hdr = curl_slist_append(hdr, "Accept: application/json");
    if (call->content_type) {
        char ct[128];
        snprintf(ct, sizeof ct, "Content-Type: %s", call->content_type);
        hdr = curl_slist_append(hdr, ct);
    }
    if (tok && tok[0]) {
        if (asprintf(&authz, "Authorization: Bearer %s", tok) < 0) {
            authz = NULL;
            rc = weir_errorf(WEIR_ENOMEM, "kube: out of memory");
            goto out;
        }
        hdr = curl_slist_append(hdr, authz);
    }
    if (!hdr) { rc = weir_errorf(WEIR_ENOMEM, "kube: out of memory"); goto out; }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->opts.connect_timeout_ms);
    long tmo = call->timeout_ms == 0 ? c->opts.timeout_ms : call->timeout_ms;
    if (tmo > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, tmo);
    if (strcmp(call->method, "GET") != 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
    if (call->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(call->body));
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    if (call->stop) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, &s);
    }
    if (c->cfg.insecure_skip_tls_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (c->cfg.ca_pem) {
        struct curl_blob blob = {c->cfg.ca_pem, strlen(c->cfg.ca_pem), CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
    } else if (c->cfg.ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, c->cfg.ca_file);
    }
    if (c->cfg.cert_pem && c->cfg.key_pem) {
        struct curl_blob cb = {c->cfg.cert_pem, strlen(c->cfg.cert_pem), CURL_BLOB_COPY};
        struct curl_blob kb = {c->cfg.key_pem, strlen(c->cfg.key_pem), CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
    }
    if (c->cfg.username && !tok) {
        curl_easy_setopt(h, CURLOPT_USERNAME, c->cfg.username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->cfg.password ? c->cfg.password : "");
    }

    CURLcode cr = curl_easy_perform(h);
    long http = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
    if (cr != CURLE_OK) {
        if (s.aborted || (cr == CURLE_ABORTED_BY_CALLBACK && call->stop && *call->stop)) {
            rc = WEIR_OK; /* the caller (or its callback, which set any error) stopped it */
            goto out;
        }
        set_last(http, "");
        if (s.over_cap) {
            rc = weir_errorf(WEIR_ELIMIT, "kube: %s %s: response body over the %zu-byte cap",
                             call->verb, call->what, c->opts.max_body_bytes);
        } else if (cr == CURLE_OPERATION_TIMEDOUT) {
            rc = weir_errorf(WEIR_ETIMEDOUT, "kube: %s %s: %s %s: %s", call->verb, call->what,
                             call->method, url, curl_easy_strerror(cr));
        } else {
            rc = weir_errorf(WEIR_EIO, "kube: %s %s: %s %s: %s", call->verb, call->what,
                             call->method, url, curl_easy_strerror(cr));
        }
        goto out;
    }
    if (http < 200 || http > 299) {
        cJSON *st = cJSON_ParseWithLength((const char *)s.body.data, s.body.len);
        rc = weir__kube_status_error(call->verb, call->what, http, st,
                                     s.body.len ? (const char *)s.body.data : "");
        cJSON_Delete(st);
        goto out;
    }
    if (out && !call->on_data && s.body.len) {
        rc = weir_json_parse(call->what, (const char *)s.body.data, s.body.len, NULL, out);
        if (rc) rc = weir_error_prefix(rc, "kube: %s %s: response: ", call->verb, call->what);
    }
out:
    if (h) give_handle(c, h);
    curl_slist_free_all(hdr);
    free(url);
    free(authz);
    free(tok);
    weir_buf_free(&s.body);
    return rc;
}

/* ------------------------------------------------------------ paths */

weir_status weir__kube_query(weir_buf *b, const char *key, const char *value) {
    char *esc = curl_easy_escape(NULL, value, 0);
    if (!esc) return weir_errorf(WEIR_ENOMEM, "kube: out of memory");
    weir_status rc = weir_buf_printf(b, "%c%s=%s", strchr((const char *)b->data, '?') ? '&' : '?',
                                     key, esc);
    curl_free(esc);
    return rc;
}

static int valid_segment(const char *s) {
    if (!s || !s[0]) return 0;
    for (; *s; s++)
        if (*s == '/' || *s == '?' || *s == '#' || *s == '%' || (unsigned char)*s < 0x21) return 0;
    return 1;
}

weir_status weir__kube_path(weir_buf *b, weir_kube_client_t *c, const weir_kube_resource *r,
                            const char *ns, const char *name, const char *sub) {
    weir_status rc;
    if (!r || !valid_segment(r->version) || !valid_segment(r->plural))
        return weir_errorf(WEIR_EINVAL, "kube: resource needs a version and a plural");
    if (r->group && r->group[0]) rc = weir_buf_printf(b, "/apis/%s/%s", r->group, r->version);
    else rc = weir_buf_printf(b, "/api/%s", r->version);
    if (rc) return rc;
    if (r->namespaced) {
        if (!ns) ns = c->cfg.namespace_;
        if (ns[0]) {
            if (!valid_segment(ns)) return weir_errorf(WEIR_EINVAL, "kube: bad namespace '%s'", ns);
            if ((rc = weir_buf_printf(b, "/namespaces/%s", ns))) return rc;
        }
    }
    if ((rc = weir_buf_printf(b, "/%s", r->plural))) return rc;
    if (name) {
        if (!valid_segment(name)) return weir_errorf(WEIR_EINVAL, "kube: bad object name '%s'", name);
        if ((rc = weir_buf_printf(b, "/%s", name))) return rc;
    }
    if (sub && (rc = weir_buf_printf(b, "/%s", sub))) return rc;
    return WEIR_OK;
}

static void describe(char *buf, size_t n, weir_kube_client_t *c, const weir_kube_resource *r,
                     const char *ns, const char *name, const char *sub) {
    const char *g = r->group && r->group[0] ? r->group : NULL;
    if (r->namespaced && !ns) ns = c->cfg.namespace_;
    snprintf(buf, n, "%s%s%s%s%s%s%s%s%s", r->plural, g ? "." : "", g ? g : "",
             (r->namespaced && ns && ns[0]) || name ? " " : "",
             r->namespaced && ns && ns[0] ? ns : "", r->namespaced && ns && ns[0] && name ? "/" : "",
             name ? name : "", sub ? "/" : "", sub ? sub : "");
}

/* ------------------------------------------------------------ typed verbs */

static weir_status verb(weir_kube_client_t *c, const char *vname, const char *method,
                        const weir_kube_resource *r, const char *ns, const char *name,
                        const char *sub, const char *ctype, const char *body,
                        const weir_kube_list_opts *lo, const char *extra_q, const char *extra_v,
                        cJSON **out) {
    weir_buf p = {0};
    char what[512];
    weir_buf_init(&p, 8192);
    weir_status rc = weir__kube_path(&p, c, r, ns, name, sub);
    if (!rc && lo) {
        char num[32];
        if (lo->label_selector) rc = weir__kube_query(&p, "labelSelector", lo->label_selector);
        if (!rc && lo->field_selector) rc = weir__kube_query(&p, "fieldSelector", lo->field_selector);
        if (!rc && lo->limit > 0) {
            snprintf(num, sizeof num, "%ld", lo->limit);
            rc = weir__kube_query(&p, "limit", num);
        }
        if (!rc && lo->continue_token) rc = weir__kube_query(&p, "continue", lo->continue_token);
        if (!rc && lo->resource_version) rc = weir__kube_query(&p, "resourceVersion", lo->resource_version);
    }
    if (!rc && extra_q) rc = weir__kube_query(&p, extra_q, extra_v);
    if (rc) goto out;
    describe(what, sizeof what, c, r, ns, name, sub);
    weir__kube_call call = {.verb = vname, .what = what, .method = method,
                            .path = (const char *)p.data, .content_type = ctype, .body = body};
    rc = weir__kube_do(c, &call, out);
out:
    weir_buf_free(&p);
    return rc;
}

weir_status weir_kube_get(weir_kube_client_t *c, const weir_kube_resource *r, const char *ns,
                          const char *name, cJSON **out) {
    return verb(c, "get", "GET", r, ns, name, NULL, NULL, NULL, NULL, NULL, NULL, out);
}

weir_status weir_kube_get_status(weir_kube_client_t *c, const weir_kube_resource *r,
                                 const char *ns, const char *name, cJSON **out) {
    return verb(c, "get", "GET", r, ns, name, "status", NULL, NULL, NULL, NULL, NULL, out);
}

weir_status weir_kube_list(weir_kube_client_t *c, const weir_kube_resource *r, const char *ns,
                           const weir_kube_list_opts *opts, cJSON **out) {
    weir_kube_list_opts none = {0};
    return verb(c, "list", "GET", r, ns, NULL, NULL, NULL, NULL, opts ? opts : &none, NULL, NULL, out);
}

static weir_status with_body(weir_kube_client_t *c, const char *vname, const char *method,
                             const weir_kube_resource *r, const char *ns, const char *name,
                             const char *sub, const cJSON *obj, cJSON **out) {
    if (!obj) return weir_errorf(WEIR_EINVAL, "kube: %s %s: no object given", vname, r->plural);
    char *body = cJSON_PrintUnformatted(obj);
    if (!body) return weir_errorf(WEIR_ENOMEM, "kube: out of memory");
    weir_status rc = verb(c, vname, method, r, ns, name, sub, "application/json", body, NULL,
                          NULL, NULL, out);
    free(body);
    return rc;
}

weir_status weir_kube_create(weir_kube_client_t *c, const weir_kube_resource *r, const char *ns,
                             const cJSON *obj, cJSON **out) {
    return with_body(c, "create", "POST", r, ns, NULL, NULL, obj, out);
}

static weir_status put(weir_kube_client_t *c, const weir_kube_resource *r, const char *ns,
                       const cJSON *obj, const char *sub, cJSON **out) {
    const char *name = weir_kube_object_meta(obj, "name");
    if (!name)
        return weir_errorf(WEIR_EINVAL, "kube: update %s: the object has no metadata.name", r->plural);
    return with_body(c, "update", "PUT", r, ns, name, sub, obj, out);
}

weir_status weir_kube_update(weir_kube_client_t *c, const weir_kube_resource *r, const char *ns,
                             const cJSON *obj, cJSON **out) {
    return put(c, r, ns, obj, NULL, out);
}

weir_status weir_kube_update_status(weir_kube_client_t *c, const weir_kube_resource *r,
                                    const char *ns, const cJSON *obj, cJSON **out) {
    return put(c, r, ns, obj, "status", out);
}

static const char *patch_ctype(weir_kube_patch_type t) {
    switch (t) {
    case WEIR_KUBE_PATCH_JSON: return "application/json-patch+json";
    case WEIR_KUBE_PATCH_STRATEGIC: return "application/strategic-merge-patch+json";
    default: return "application/merge-patch+json";
    }
}

weir_status weir_kube_patch(weir_kube_client_t *c, const weir_kube_resource *r, const char *ns,
                            const char *name, weir_kube_patch_type type, const char *patch,
                            cJSON **out) {
    if (!patch) return weir_errorf(WEIR_EINVAL, "kube: patch %s: no patch given", r->plural);
    return verb(c, "patch", "PATCH", r, ns, name, NULL, patch_ctype(type), patch, NULL, NULL,
                NULL, out);
}

weir_status weir_kube_patch_status(weir_kube_client_t *c, const weir_kube_resource *r,
                                   const char *ns, const char *name, weir_kube_patch_type type,
                                   const char *patch, cJSON **out) {
    if (!patch) return weir_errorf(WEIR_EINVAL, "kube: patch %s: no patch given", r->plural);
    return verb(c, "patch", "PATCH", r, ns, name, "status", patch_ctype(type), patch, NULL, NULL,
                NULL, out);
}

weir_status weir_kube_delete(weir_kube_client_t *c, const weir_kube_resource *r, const char *ns,
                             const char *name, weir_kube_propagation propagation) {
    const char *pp = propagation == WEIR_KUBE_PROPAGATE_BACKGROUND   ? "Background"
                     : propagation == WEIR_KUBE_PROPAGATE_FOREGROUND ? "Foreground"
                     : propagation == WEIR_KUBE_PROPAGATE_ORPHAN     ? "Orphan"
                                                                     : NULL;
    return verb(c, "delete", "DELETE", r, ns, name, NULL, NULL, NULL, NULL,
                pp ? "propagationPolicy" : NULL, pp, NULL);
}

weir_status weir_kube_request(weir_kube_client_t *c, const char *method, const char *path,
                              const char *content_type, const char *body, cJSON **out) {
    if (!method || !path || path[0] != '/')
        return weir_errorf(WEIR_EINVAL, "kube: request needs a method and a path starting with '/'");
    weir__kube_call call = {.verb = method, .what = path, .method = method, .path = path,
                            .content_type = content_type, .body = body};
    return weir__kube_do(c, &call, out);
}

/* --------------------------------------------------------------- objects */

const char *weir_kube_object_meta(const cJSON *obj, const char *field) {
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, field);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

char *weir_kube_object_key(const cJSON *obj) {
    const char *name = weir_kube_object_meta(obj, "name");
    const char *ns = weir_kube_object_meta(obj, "namespace");
    char *k = NULL;
    if (!name) return NULL;
    if (ns && ns[0]) {
        if (asprintf(&k, "%s/%s", ns, name) < 0) k = NULL;
    } else {
        k = strdup(name);
    }
    return k;
}

/* ------------------------------------------------------------ pod logs */

const weir_kube_resource weir_kube_events = {"", "v1", "events", 1};

struct log_sink {
    weir_buf *out;
    weir_status rc;
};

static int log_data(void *ctx, const char *p, size_t n) {
    struct log_sink *s = ctx;
    s->rc = weir_buf_append(s->out, p, n);
    return s->rc != WEIR_OK;
}

weir_status weir_kube_pod_log(weir_kube_client_t *c, const char *ns, const char *name,
                              const char *container, size_t limit_bytes, weir_buf *out) {
    weir_buf path;
    weir_buf_init(&path, 4096);
    char what[512], lim[32];
    snprintf(what, sizeof what, "pods/log %s/%s", ns ? ns : c->cfg.namespace_, name);
    weir_status rc = weir__kube_path(&path, c, &weir_kube_pods, ns, name, "log");
    if (!rc && container) rc = weir__kube_query(&path, "container", container);
    if (!rc && limit_bytes) {
        snprintf(lim, sizeof lim, "%zu", limit_bytes);
        rc = weir__kube_query(&path, "limitBytes", lim);
    }
    if (rc) goto out;
    struct log_sink s = {.out = out};
    weir__kube_call call = {.verb = "get", .what = what, .method = "GET",
                            .path = (const char *)path.data, .on_data = log_data, .ctx = &s};
    rc = weir__kube_do(c, &call, NULL);
    if (!rc && s.rc) rc = s.rc;
out:
    weir_buf_free(&path);
    return rc;
}
