/*
 * watch.c — streaming watches and informers.
 *
 * For: one watch request read as newline-delimited JSON events as they
 * arrive (curl write callback), and an informer: list (paged), then watch
 * from the list's resourceVersion with bookmarks, keeping a local cache keyed
 * by namespace/name and calling add/update/delete handlers; relist on 410
 * Gone, reconnect with exponential backoff, all on its own thread.
 * Not for: resync timers, indexers beyond namespace/name, shared informers.
 * Cached objects lack metadata.managedFields (see slim()).
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "kube_internal.h"

const char *weir_kube_event_name(weir_kube_event_type t) {
    switch (t) {
    case WEIR_KUBE_ADDED: return "ADDED";
    case WEIR_KUBE_MODIFIED: return "MODIFIED";
    case WEIR_KUBE_DELETED: return "DELETED";
    case WEIR_KUBE_BOOKMARK: return "BOOKMARK";
    }
    return "?";
}

/* ----------------------------------------------------------------- watch */

typedef struct watch_state {
    weir_buf line;
    weir_kube_watch_fn fn;
    void *ctx;
    const char *what;
    weir_status rc;      /* set when the stream itself reports an error */
    int ended;           /* the callback asked to stop */
} watch_state;

static int handle_line(watch_state *w, const char *p, size_t n) {
    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' ')) n--;
    if (n == 0) return 0;
    cJSON *ev = cJSON_ParseWithLength(p, n);
    if (!ev) {
        w->rc = weir_errorf(WEIR_EPARSE, "kube: watch %s: malformed event line: %.120s", w->what, p);
        return 1;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(ev, "type");
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
    int stop = 0;
    const char *ts = cJSON_IsString(t) ? t->valuestring : "";
    weir_kube_event_type et;
    if (strcmp(ts, "ERROR") == 0) {
        w->rc = weir__kube_status_error("watch", w->what, 0, obj, NULL);
        if (w->rc == WEIR_OK) w->rc = WEIR_EIO;
        stop = 1;
    } else if (!cJSON_IsObject(obj)) {
        w->rc = weir_errorf(WEIR_EPARSE, "kube: watch %s: event without an object", w->what);
        stop = 1;
    } else {
        if (strcmp(ts, "ADDED") == 0) et = WEIR_KUBE_ADDED;
        else if (strcmp(ts, "MODIFIED") == 0) et = WEIR_KUBE_MODIFIED;
        else if (strcmp(ts, "DELETED") == 0) et = WEIR_KUBE_DELETED;
        else if (strcmp(ts, "BOOKMARK") == 0) et = WEIR_KUBE_BOOKMARK;
        else {
            cJSON_Delete(ev);
            return 0; /* a type from the future: skip */
        }
        if (w->fn(w->ctx, et, obj)) {
            w->ended = 1;
            stop = 1;
        }
    }
    cJSON_Delete(ev);
    return stop;
}

static int on_watch_data(void *ctx, const char *p, size_t n) {
    watch_state *w = ctx;
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (weir_buf_append(&w->line, p, take) != WEIR_OK) {
            w->rc = weir_errorf(WEIR_ELIMIT, "kube: watch %s: an event is over the %zu-byte cap",
                                w->what, w->line.max);
            return 1;
        }
        if (!nl) break;
        int stop = handle_line(w, (const char *)w->line.data, w->line.len);
        weir_buf_reset(&w->line);
        if (stop) return 1;
        p = nl + 1;
        n -= take + 1;
    }
    return 0;
}

weir_status weir_kube_watch(weir_kube_client_t *c, const weir_kube_resource *r, const char *ns,
                            const weir_kube_watch_opts *opts, weir_kube_watch_fn fn, void *ctx) {
    weir_kube_watch_opts none = {0};
    weir_buf p = {0};
    char what[256];
    watch_state w = {.fn = fn, .ctx = ctx};
    if (!opts) opts = &none;
    if (!fn) return weir_errorf(WEIR_EINVAL, "kube: watch needs a callback");
    weir_buf_init(&p, 8192);
    weir_buf_init(&w.line, weir__kube_max_body(c));
    weir_status rc = weir__kube_path(&p, c, r, ns, NULL, NULL);
    if (!rc) rc = weir__kube_query(&p, "watch", "1");
    if (!rc && opts->resource_version) rc = weir__kube_query(&p, "resourceVersion", opts->resource_version);
    if (!rc && opts->allow_bookmarks) rc = weir__kube_query(&p, "allowWatchBookmarks", "true");
    if (!rc && opts->label_selector) rc = weir__kube_query(&p, "labelSelector", opts->label_selector);
    if (!rc && opts->field_selector) rc = weir__kube_query(&p, "fieldSelector", opts->field_selector);
    if (!rc && opts->timeout_seconds > 0) {
        char num[32];
        snprintf(num, sizeof num, "%ld", opts->timeout_seconds);
        rc = weir__kube_query(&p, "timeoutSeconds", num);
    }
    if (rc) goto out;
    snprintf(what, sizeof what, "%s%s%s%s%s", r->plural, r->group && r->group[0] ? "." : "",
             r->group ? r->group : "", r->namespaced && ns && ns[0] ? " in " : "",
             r->namespaced && ns ? ns : "");
    w.what = what;
    /* The server ends the watch after timeoutSeconds; the client-side limit
     * only catches a peer that went silent. */
    long tmo = opts->timeout_seconds > 0 ? (opts->timeout_seconds + 30) * 1000 : -1;
    weir__kube_call call = {.verb = "watch", .what = what, .method = "GET",
                            .path = (const char *)p.data, .timeout_ms = tmo,
                            .on_data = on_watch_data, .ctx = &w, .stop = opts->stop};
    rc = weir__kube_do(c, &call, NULL);
    if (w.rc) rc = w.rc;   /* an ERROR event or a bad line ends the stream */
    else if (w.ended) rc = WEIR_OK;
    else if (rc == WEIR_OK && w.line.len) handle_line(&w, (const char *)w.line.data, w.line.len);
    if (!rc && w.rc) rc = w.rc;
out:
    weir_buf_free(&p);
    weir_buf_free(&w.line);
    return rc;
}

/* ----------------------------------------------------------------- cache */

typedef struct entry {
    char *key;
    cJSON *obj;
    struct entry *next;
} entry;

typedef struct table {
    entry **b;
    size_t nb, n;
} table;

static size_t hash(const char *s) {
    size_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static weir_status table_init(table *t) {
    t->nb = 64;
    t->n = 0;
    t->b = calloc(t->nb, sizeof *t->b);
    return t->b ? WEIR_OK : weir_errorf(WEIR_ENOMEM, "kube informer: out of memory");
}

static void table_free(table *t) {
    for (size_t i = 0; t->b && i < t->nb; i++) {
        entry *e = t->b[i];
        while (e) {
            entry *nx = e->next;
            free(e->key);
            cJSON_Delete(e->obj);
            free(e);
            e = nx;
        }
    }
    free(t->b);
    t->b = NULL;
    t->n = t->nb = 0;
}

static entry *table_find(const table *t, const char *key) {
    if (!t->b) return NULL;
    for (entry *e = t->b[hash(key) % t->nb]; e; e = e->next)
        if (strcmp(e->key, key) == 0) return e;
    return NULL;
}

/* Puts obj under key (taking ownership of both); *old gets the previous
 * object (caller deletes) or NULL. */
static weir_status table_put(table *t, char *key, cJSON *obj, cJSON **old) {
    *old = NULL;
    entry *e = table_find(t, key);
    if (e) {
        *old = e->obj;
        e->obj = obj;
        free(key);
        return WEIR_OK;
    }
    if (t->n + 1 > t->nb * 2) {
        size_t nb = t->nb * 4;
        entry **b = calloc(nb, sizeof *b);
        if (b) {
            for (size_t i = 0; i < t->nb; i++) {
                entry *x = t->b[i];
                while (x) {
                    entry *nx = x->next;
                    size_t h = hash(x->key) % nb;
                    x->next = b[h];
                    b[h] = x;
                    x = nx;
                }
            }
            free(t->b);
            t->b = b;
            t->nb = nb;
        }
    }
    e = malloc(sizeof *e);
    if (!e) {
        free(key);
        cJSON_Delete(obj);
        return weir_errorf(WEIR_ENOMEM, "kube informer: out of memory");
    }
    size_t h = hash(key) % t->nb;
    e->key = key;
    e->obj = obj;
    e->next = t->b[h];
    t->b[h] = e;
    t->n++;
    return WEIR_OK;
}

/* Removes key; returns its object (caller deletes) or NULL. */
static cJSON *table_remove(table *t, const char *key) {
    if (!t->b) return NULL;
    entry **pp = &t->b[hash(key) % t->nb];
    for (; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->key, key) == 0) {
            entry *e = *pp;
            cJSON *o = e->obj;
            *pp = e->next;
            free(e->key);
            free(e);
            t->n--;
            return o;
        }
    }
    return NULL;
}

/* -------------------------------------------------------------- informer */

struct weir_kube_informer {
    weir_kube_client_t *c;
    const weir_kube_resource *r;
    char *ns;
    char *label_selector, *field_selector, *first_watch_rv;
    weir_kube_informer_opts opts;
    weir_kube_handlers h;
    pthread_t thread;
    int started;
    volatile int stop;
    pthread_mutex_t mu;          /* guards cache, synced, lists */
    pthread_cond_t cv;           /* synced changes; stop wakes sleeps */
    table cache;
    int synced;
    unsigned lists;
    char rv[64];                 /* last resourceVersion seen (thread only) */
};

/* The cache keeps objects without metadata.managedFields: server-side
 * apply bookkeeping no controller reads, often a third of a pod's size. */
static cJSON *slim(const struct weir_kube_informer *inf, cJSON *obj) {
    cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    if (md) cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
    if (obj && inf->opts.prune) inf->opts.prune(obj);
    return obj;
}


static void set_rv(weir_kube_informer_t *inf, const cJSON *obj) {
    const char *rv = weir_kube_object_meta(obj, "resourceVersion");
    if (rv) snprintf(inf->rv, sizeof inf->rv, "%s", rv);
}

static const char *rv_of(const cJSON *o) {
    const char *rv = weir_kube_object_meta(o, "resourceVersion");
    return rv ? rv : "";
}

/* Lists all pages into a fresh table, swaps it in and calls the handlers
 * for the differences with the old cache. */
static weir_status relist(weir_kube_informer_t *inf) {
    table fresh = {0}, old;
    cJSON *page = NULL;
    char *cont = NULL;
    weir_status rc = table_init(&fresh);
    if (rc) return rc;
    do {
        weir_kube_list_opts lo = {.label_selector = inf->label_selector,
                                  .field_selector = inf->field_selector,
                                  .limit = inf->opts.page_size, .continue_token = cont};
        rc = weir_kube_list(inf->c, inf->r, inf->ns, &lo, &page);
        free(cont);
        cont = NULL;
        if (rc) goto out;
        cJSON *items = cJSON_GetObjectItemCaseSensitive(page, "items"), *it;
        cJSON_ArrayForEach(it, items) {
            char *key = weir_kube_object_key(it);
            if (!key) continue;
            cJSON *copy = slim(inf, cJSON_Duplicate(it, 1)), *prev;
            if (!copy) { free(key); rc = weir_errorf(WEIR_ENOMEM, "kube informer: out of memory"); goto out; }
            if ((rc = table_put(&fresh, key, copy, &prev))) goto out;
            cJSON_Delete(prev);
        }
        const char *c2 = weir_kube_object_meta(page, "continue");
        if (c2 && c2[0] && !(cont = strdup(c2))) { rc = weir_errorf(WEIR_ENOMEM, "out of memory"); goto out; }
        if (!cont) set_rv(inf, page);
        cJSON_Delete(page);
        page = NULL;
    } while (cont);

    pthread_mutex_lock(&inf->mu);
    old = inf->cache;
    inf->cache = fresh;
    fresh = (table){0};
    pthread_mutex_unlock(&inf->mu);
    /* The new table is only read from here on, by us and by _get(). */
    for (size_t i = 0; i < inf->cache.nb; i++) {
        for (entry *e = inf->cache.b[i]; e; e = e->next) {
            entry *o = table_find(&old, e->key);
            if (!o) {
                if (inf->h.on_add) inf->h.on_add(inf->h.ctx, e->obj);
            } else if (strcmp(rv_of(o->obj), rv_of(e->obj)) != 0) {
                if (inf->h.on_update) inf->h.on_update(inf->h.ctx, o->obj, e->obj);
            }
        }
    }
    for (size_t i = 0; i < old.nb; i++)
        for (entry *e = old.b[i]; e; e = e->next)
            if (!table_find(&inf->cache, e->key) && inf->h.on_delete) inf->h.on_delete(inf->h.ctx, e->obj);
    table_free(&old);
    pthread_mutex_lock(&inf->mu);
    inf->lists++;
    inf->synced = 1;
    pthread_cond_broadcast(&inf->cv);
    pthread_mutex_unlock(&inf->mu);
out:
    free(cont);
    cJSON_Delete(page);
    table_free(&fresh);
    return rc;
}

static int on_event(void *ctx, weir_kube_event_type t, const cJSON *obj) {
    weir_kube_informer_t *inf = ctx;
    set_rv(inf, obj);
    if (t == WEIR_KUBE_BOOKMARK) return 0;
    char *key = weir_kube_object_key(obj);
    if (!key) return 0;
    if (t == WEIR_KUBE_DELETED) {
        pthread_mutex_lock(&inf->mu);
        cJSON *old = table_remove(&inf->cache, key);
        pthread_mutex_unlock(&inf->mu);
        if (inf->h.on_delete) inf->h.on_delete(inf->h.ctx, old ? old : obj);
        cJSON_Delete(old);
        free(key);
        return 0;
    }
    cJSON *copy = slim(inf, cJSON_Duplicate(obj, 1)), *old = NULL;
    if (!copy) {
        free(key);
        return 0;
    }
    pthread_mutex_lock(&inf->mu);
    weir_status rc = table_put(&inf->cache, key, copy, &old);
    pthread_mutex_unlock(&inf->mu);
    if (rc) {
        WEIR_WARN("kube informer %s: %s", inf->r->plural, weir_error_message());
        return 0;
    }
    if (old) {
        if (inf->h.on_update) inf->h.on_update(inf->h.ctx, old, copy);
    } else if (inf->h.on_add) {
        inf->h.on_add(inf->h.ctx, copy);
    }
    cJSON_Delete(old);
    return 0;
}

/* Sleeps up to ms, waking early on stop. */
static void informer_sleep(weir_kube_informer_t *inf, int64_t ms) {
    struct timespec ts;
    weir__kube_deadline(&ts, ms);
    pthread_mutex_lock(&inf->mu);
    while (!inf->stop && pthread_cond_timedwait(&inf->cv, &inf->mu, &ts) == 0) {
    }
    pthread_mutex_unlock(&inf->mu);
}

static void *informer_main(void *arg) {
    weir_kube_informer_t *inf = arg;
    int need_list = 1, first_watch = 1;
    int64_t backoff = inf->opts.backoff_min_ms;
    while (!inf->stop) {
        weir_status rc;
        if (need_list) {
            rc = relist(inf);
            if (rc) {
                WEIR_WARN("kube informer %s: list failed, retrying in %lld ms: %s", inf->r->plural,
                          (long long)backoff, weir_error_message());
                informer_sleep(inf, backoff);
                backoff = backoff * 2 > inf->opts.backoff_max_ms ? inf->opts.backoff_max_ms : backoff * 2;
                continue;
            }
            need_list = 0;
        }
        const char *rv = inf->rv;
        if (first_watch && inf->first_watch_rv) rv = inf->first_watch_rv;
        first_watch = 0;
        weir_kube_watch_opts wo = {.resource_version = rv[0] ? rv : NULL,
                                   .label_selector = inf->label_selector,
                                   .field_selector = inf->field_selector, .allow_bookmarks = 1,
                                   .timeout_seconds = inf->opts.watch_timeout_s, .stop = &inf->stop};
        rc = weir_kube_watch(inf->c, inf->r, inf->ns, &wo, on_event, inf);
        if (inf->stop) break;
        if (rc == WEIR_ERANGE) {
            WEIR_INFO("kube informer %s: resourceVersion %s too old, listing again", inf->r->plural, rv);
            need_list = 1;
            backoff = inf->opts.backoff_min_ms;
        } else if (rc) {
            WEIR_WARN("kube informer %s: watch failed, reconnecting in %lld ms: %s", inf->r->plural,
                      (long long)backoff, weir_error_message());
            informer_sleep(inf, backoff);
            backoff = backoff * 2 > inf->opts.backoff_max_ms ? inf->opts.backoff_max_ms : backoff * 2;
        } else {
            backoff = inf->opts.backoff_min_ms; /* the server ended the watch: resume */
        }
    }
    return NULL;
}

void weir_kube_informer_free(weir_kube_informer_t *inf) {
    if (!inf) return;
    weir_kube_informer_stop(inf);
    table_free(&inf->cache);
    pthread_mutex_destroy(&inf->mu);
    pthread_cond_destroy(&inf->cv);
    free(inf->ns);
    free(inf->label_selector);
    free(inf->field_selector);
    free(inf->first_watch_rv);
    free(inf);
}

static weir_status dupz(char **d, const char *s) {
    if (!s) return WEIR_OK;
    *d = strdup(s);
    return *d ? WEIR_OK : weir_errorf(WEIR_ENOMEM, "kube informer: out of memory");
}

weir_status weir_kube_informer_new(weir_kube_client_t *c, const weir_kube_resource *r,
                                   const char *ns, const weir_kube_informer_opts *opts,
                                   const weir_kube_handlers *h, weir_kube_informer_t **out) {
    weir_status rc;
    if (!c || !r || !out) return weir_errorf(WEIR_EINVAL, "kube informer: needs a client and a resource");
    weir_kube_informer_t *inf = calloc(1, sizeof *inf);
    if (!inf) return weir_errorf(WEIR_ENOMEM, "kube informer: out of memory");
    pthread_mutex_init(&inf->mu, NULL);
    weir__kube_cond_init(&inf->cv);
    inf->c = c;
    inf->r = r;
    if (opts) inf->opts = *opts;
    if (h) inf->h = *h;
    if (inf->opts.page_size <= 0) inf->opts.page_size = 500;
    if (inf->opts.watch_timeout_s <= 0) inf->opts.watch_timeout_s = 300;
    if (inf->opts.backoff_min_ms <= 0) inf->opts.backoff_min_ms = 100;
    if (inf->opts.backoff_max_ms <= 0) inf->opts.backoff_max_ms = 10000;
    if ((rc = dupz(&inf->ns, ns)) || (rc = dupz(&inf->label_selector, opts ? opts->label_selector : NULL)) ||
        (rc = dupz(&inf->field_selector, opts ? opts->field_selector : NULL)) ||
        (rc = dupz(&inf->first_watch_rv, opts ? opts->first_watch_rv : NULL)) ||
        (rc = table_init(&inf->cache))) {
        weir_kube_informer_free(inf);
        return rc;
    }
    inf->opts.label_selector = inf->opts.field_selector = inf->opts.first_watch_rv = NULL;
    *out = inf;
    return WEIR_OK;
}

weir_status weir_kube_informer_start(weir_kube_informer_t *inf) {
    if (inf->started) return weir_errorf(WEIR_EINVAL, "kube informer: already started");
    inf->stop = 0;
    int e = pthread_create(&inf->thread, NULL, informer_main, inf);
    if (e) return weir_errorf(WEIR_EIO, "kube informer: pthread_create: %s", strerror(e));
    inf->started = 1;
    return WEIR_OK;
}

weir_status weir_kube_informer_wait_synced(weir_kube_informer_t *inf, long timeout_ms) {
    struct timespec ts;
    weir__kube_deadline(&ts, timeout_ms);
    pthread_mutex_lock(&inf->mu);
    int e = 0;
    while (!inf->synced && e == 0) e = pthread_cond_timedwait(&inf->cv, &inf->mu, &ts);
    int ok = inf->synced;
    pthread_mutex_unlock(&inf->mu);
    return ok ? WEIR_OK
              : weir_errorf(WEIR_ETIMEDOUT, "kube informer %s: not synced after %ld ms",
                            inf->r->plural, timeout_ms);
}

void weir_kube_informer_stop(weir_kube_informer_t *inf) {
    if (!inf || !inf->started) return;
    pthread_mutex_lock(&inf->mu);
    inf->stop = 1;
    pthread_cond_broadcast(&inf->cv);
    pthread_mutex_unlock(&inf->mu);
    pthread_join(inf->thread, NULL);
    inf->started = 0;
}

weir_status weir_kube_informer_get(weir_kube_informer_t *inf, const char *key, cJSON **out) {
    weir_status rc = WEIR_OK;
    pthread_mutex_lock(&inf->mu);
    entry *e = table_find(&inf->cache, key);
    if (!e) rc = weir_errorf(WEIR_ENOENT, "kube informer %s: '%s' not in the cache", inf->r->plural, key);
    else if (!(*out = cJSON_Duplicate(e->obj, 1))) rc = weir_errorf(WEIR_ENOMEM, "out of memory");
    pthread_mutex_unlock(&inf->mu);
    return rc;
}

size_t weir_kube_informer_len(weir_kube_informer_t *inf) {
    pthread_mutex_lock(&inf->mu);
    size_t n = inf->cache.n;
    pthread_mutex_unlock(&inf->mu);
    return n;
}

unsigned weir_kube_informer_lists(weir_kube_informer_t *inf) {
    pthread_mutex_lock(&inf->mu);
    unsigned n = inf->lists;
    pthread_mutex_unlock(&inf->mu);
    return n;
}
