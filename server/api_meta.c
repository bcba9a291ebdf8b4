/*
 * api_meta.c — the ML-Metadata resources of weir-server (docs/server.md):
 *
 *   GET  /api/v1/types?kind=artifact|execution|context[&name=&version=]   /api/v1/types/{id}
 *   GET  /api/v1/artifacts?type=|type_id=&uri=&context=&state=&order=&page_size=&page_token=
 *   GET  /api/v1/artifacts?id=1,2,3
 *   GET  /api/v1/artifacts/{id}            .../lineage?direction=&depth=   .../preview
 *   GET  /api/v1/executions?type=&context=&state=&...|id=   /api/v1/executions/{id}
 *   GET  /api/v1/contexts?type=&name=|artifact=|execution=|parent=|child=|id=
 *   GET  /api/v1/contexts/{id}
 *   GET  /api/v1/events?artifact_id=|execution_id=(ids)&page_size=&page_token=
 *   GET  /api/v1/cache?key=&type_id=
 *   POST /api/v1/types | artifacts | executions | contexts | events |
 *        attributions | parent_contexts | publish
 *
 * With ?values=typed, property values are MLMD Value objects that read
 * back exactly (json.c); the store over HTTP (lib/meta/rest.c) asks so.
 * Lists page by id (page_token: the last id of the previous page, opaque to
 * clients); filters the store cannot apply are applied while scanning, up
 * to a bounded number of rows per request. Every answer is built in a
 * capped buffer; no list is unbounded.
 * Not for: runs (api_runs.c), file contents (preview.c).
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server.h"

#define PAGE_DEFAULT 50
#define PAGE_MAX 1000
#define SCAN_MAX 20000       /* rows looked at per list request */
#define LINEAGE_MAX 5000     /* nodes per lineage answer */

enum kind { K_ART, K_EXE, K_CTX };
static const char *const kind_word[] = {"artifacts", "executions", "contexts"};
static const weir_meta_type_kind kind_type[] = {WEIR_META_ARTIFACT_TYPE, WEIR_META_EXECUTION_TYPE,
                                                 WEIR_META_CONTEXT_TYPE};

/* One row of any kind, by id. */
typedef struct item {
    int64_t id;
    const void *p;
} item;

static int cmp_asc(const void *a, const void *b) {
    int64_t x = ((const item *)a)->id, y = ((const item *)b)->id;
    return (x > y) - (x < y);
}
static int cmp_desc(const void *a, const void *b) { return -cmp_asc(a, b); }

static weir_status wrap(srv_req *r, enum kind k, const void *arr, size_t n, item **out, size_t *nout) {
    item *it = weir_arena_calloc(r->arena, n ? n : 1, sizeof *it);
    if (!it) return weir_errorf(WEIR_ELIMIT, "this request's memory cap was reached");
    for (size_t i = 0; i < n; i++) {
        if (k == K_ART) it[i] = (item){((const weir_meta_artifact *)arr)[i].id, (const weir_meta_artifact *)arr + i};
        else if (k == K_EXE) it[i] = (item){((const weir_meta_execution *)arr)[i].id, (const weir_meta_execution *)arr + i};
        else it[i] = (item){((const weir_meta_context *)arr)[i].id, (const weir_meta_context *)arr + i};
    }
    *out = it;
    *nout = n;
    return WEIR_OK;
}

/* Up to l->limit rows after l->cursor, of one type, or of one context
 * (artifacts and executions), in id order. */
static weir_status fetch_one(srv_req *r, enum kind k, int64_t type_id, int64_t ctx_id,
                             const weir_meta_list *l, item **out, size_t *n) {
    weir_store_t *s = r->store;
    void *arr = NULL;
    size_t cnt = 0;
    weir_status rc;
    if (k == K_ART)
        rc = ctx_id ? weir_store_get_artifacts_by_context(s, ctx_id, l, r->arena, (weir_meta_artifact **)&arr, &cnt)
                    : weir_store_get_artifacts_by_type(s, type_id, l, r->arena, (weir_meta_artifact **)&arr, &cnt);
    else if (k == K_EXE)
        rc = ctx_id ? weir_store_get_executions_by_context(s, ctx_id, l, r->arena, (weir_meta_execution **)&arr, &cnt)
                    : weir_store_get_executions_by_type(s, type_id, l, r->arena, (weir_meta_execution **)&arr, &cnt);
    else
        rc = weir_store_get_contexts_by_type(s, type_id, l, r->arena, (weir_meta_context **)&arr, &cnt);
    return rc ? rc : wrap(r, k, arr, cnt, out, n);
}

/* The same over every type of the kind: each type's next rows, merged. */
static weir_status fetch_all(srv_req *r, enum kind k, const weir_meta_type *types, size_t ntypes,
                             const weir_meta_list *l, item **out, size_t *n) {
    item *all = NULL;
    size_t nall = 0, cap = 0;
    for (size_t t = 0; t < ntypes; t++) {
        item *it = NULL;
        size_t ni = 0;
        weir_status rc = fetch_one(r, k, types[t].id, 0, l, &it, &ni);
        if (rc) return rc;
        if (nall + ni > cap) {
            size_t nc = (nall + ni) * 2;
            item *g = weir_arena_alloc(r->arena, nc * sizeof *g);
            if (!g) return weir_errorf(WEIR_ELIMIT, "this request's memory cap was reached");
            if (nall) memcpy(g, all, nall * sizeof *g);
            all = g;
            cap = nc;
        }
        if (ni) memcpy(all + nall, it, ni * sizeof *it);
        nall += ni;
    }
    if (nall) qsort(all, nall, sizeof *all, l->newest_first ? cmp_desc : cmp_asc);
    if (l->limit && nall > l->limit) nall = l->limit;
    *out = all;
    *n = nall;
    return WEIR_OK;
}

static int64_t parse_id(const char *s, const char **rest) {
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0) return 0;
    *rest = end;
    return v;
}

/* ------------------------------------------------------------------ lists */

typedef struct filters {
    const char *uri;
    int state;              /* -1: any */
    int64_t type_id;        /* 0: any */
} filters;

static int matches(enum kind k, const item *it, const filters *f) {
    if (k == K_ART) {
        const weir_meta_artifact *a = it->p;
        if (f->uri && (!a->uri || strcmp(a->uri, f->uri))) return 0;
        if (f->state >= 0 && (int)a->state != f->state) return 0;
        if (f->type_id && a->type_id != f->type_id) return 0;
    } else if (k == K_EXE) {
        const weir_meta_execution *e = it->p;
        if (f->state >= 0 && (int)e->state != f->state) return 0;
        if (f->type_id && e->type_id != f->type_id) return 0;
    } else {
        const weir_meta_context *c = it->p;
        if (f->type_id && c->type_id != f->type_id) return 0;
    }
    return 1;
}

static int state_of(enum kind k, const char *s) {
    for (int i = 0; i < 8; i++) {
        const char *n = k == K_ART ? weir_meta_artifact_state_name((weir_meta_artifact_state)i)
                                   : weir_meta_execution_state_name((weir_meta_execution_state)i);
        if (strcasecmp(n, s) == 0) return i;
    }
    return -1;
}

static void write_item(srv_req *r, enum kind k, const item *it) {
    if (k == K_ART) srv_jw_artifact(r, it->p);
    else if (k == K_EXE) srv_jw_execution(r, it->p);
    else srv_jw_context(r, it->p);
}

/* A query argument holding ids "1,2,3" (at most PAGE_MAX): 0, or the
 * HTTP code of the error written. *n is 0 when the argument is absent. */
static unsigned arg_ids(srv_req *r, const char *name, int64_t **out, size_t *n) {
    const char *v = srv_arg(r, name);
    *out = NULL;
    *n = 0;
    if (!v) return 0;
    size_t cnt = 1;
    for (const char *p = v; *p; p++) cnt += *p == ',';
    if (cnt > PAGE_MAX) return srv_error(r, 400, "%s= lists %zu ids; at most %d per request", name, cnt, PAGE_MAX);
    int64_t *ids = weir_arena_calloc(r->arena, cnt, sizeof *ids);
    if (!ids) return srv_error(r, 500, "out of memory");
    const char *p = v;
    for (size_t i = 0; i < cnt; i++) {
        char *end = NULL;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (errno || end == p || x <= 0 || (*end && *end != ','))
            return srv_error(r, 400, "%s='%s': give positive integer ids separated by commas", name, v);
        ids[i] = x;
        p = *end ? end + 1 : end;
    }
    *out = ids;
    *n = cnt;
    return 0;
}

static unsigned write_list(srv_req *r, enum kind k, const void *arr, size_t n) {
    srv_jw *w = &r->w;
    srv_jw_obj(w);
    srv_jw_key(w, kind_word[k]);
    srv_jw_arr(w);
    for (size_t i = 0; i < n; i++) {
        if (k == K_ART) srv_jw_artifact(r, (const weir_meta_artifact *)arr + i);
        else if (k == K_EXE) srv_jw_execution(r, (const weir_meta_execution *)arr + i);
        else srv_jw_context(r, (const weir_meta_context *)arr + i);
    }
    srv_jw_end_arr(w);
    srv_jw_end_obj(w);
    return 200;
}

/* GET /{kind}?id=1,2,3: those nodes, as the store returns them (missing
 * ids are left out). */
static unsigned nodes_by_ids(srv_req *r, enum kind k, const int64_t *ids, size_t nids) {
    void *arr = NULL;
    size_t n = 0;
    weir_store_t *st = r->store;
    weir_status rc = k == K_ART ? weir_store_get_artifacts_by_ids(st, ids, nids, r->arena, (weir_meta_artifact **)&arr, &n)
                   : k == K_EXE ? weir_store_get_executions_by_ids(st, ids, nids, r->arena, (weir_meta_execution **)&arr, &n)
                                : weir_store_get_contexts_by_ids(st, ids, nids, r->arena, (weir_meta_context **)&arr, &n);
    if (rc) return srv_error_status(r, rc, "reading the store");
    return write_list(r, k, arr, n);
}

/* GET /contexts?artifact=ID | execution=ID | child=ID (its parents) |
 * parent=ID (its children); `which` as the store's related-contexts call. */
static unsigned related_contexts(srv_req *r, int which, int64_t id) {
    weir_meta_context *c = NULL;
    size_t n = 0;
    weir_store_t *st = r->store;
    weir_status rc = which == 0 ? weir_store_get_contexts_by_artifact(st, id, r->arena, &c, &n)
                   : which == 1 ? weir_store_get_contexts_by_execution(st, id, r->arena, &c, &n)
                   : which == 2 ? weir_store_get_parent_contexts(st, id, r->arena, &c, &n)
                                : weir_store_get_child_contexts(st, id, r->arena, &c, &n);
    if (rc) return srv_error_status(r, rc, "reading contexts");
    return write_list(r, K_CTX, c, n);
}

static unsigned list_nodes(srv_req *r, enum kind k) {
    int64_t page_size, token, ctx_id;
    unsigned e;
    if ((e = srv_arg_int(r, "page_size", PAGE_DEFAULT, 1, PAGE_MAX, &page_size))) return e;
    if ((e = srv_arg_int(r, "page_token", 0, 0, INT64_MAX, &token))) return e;
    if ((e = srv_arg_int(r, "context", 0, 0, INT64_MAX, &ctx_id))) return e;
    const char *type = srv_arg(r, "type"), *uri = srv_arg(r, "uri"), *st = srv_arg(r, "state");
    const char *order = srv_arg(r, "order");
    int desc = order && !strcmp(order, "desc");
    if (order && !desc && strcmp(order, "asc")) return srv_error(r, 400, "order='%s': give asc or desc", order);
    int64_t *ids = NULL, type_id = 0;
    size_t nids = 0;
    if ((e = arg_ids(r, "id", &ids, &nids))) return e;
    if (nids) return nodes_by_ids(r, k, ids, nids);
    if ((e = srv_arg_int(r, "type_id", 0, 0, INT64_MAX, &type_id))) return e;
    if (type && type_id) return srv_error(r, 400, "give type= (a name) or type_id=, not both");
    if (k == K_CTX) {
        static const char *const rel[] = {"artifact", "execution", "child", "parent"};
        for (int i = 0; i < 4; i++) {
            int64_t rid;
            if ((e = srv_arg_int(r, rel[i], 0, 0, INT64_MAX, &rid))) return e;
            if (rid) return related_contexts(r, i, rid);
        }
    }
    const char *name = srv_arg(r, "name");
    if (name && (k != K_CTX || (!type && !type_id)))
        return srv_error(r, 400, "name= looks up a context by type and name: give /contexts?type=T&name=N");
    if (k == K_CTX && (ctx_id || uri || st))
        return srv_error(r, 400, "contexts are filtered by type, name, artifact, execution, parent or child");
    if (k != K_ART && uri) return srv_error(r, 400, "only artifacts have a uri");
    filters f = {.uri = uri, .state = -1};
    if (st && (f.state = state_of(k, st)) < 0) return srv_error(r, 400, "state='%s' is not a state of %s", st, kind_word[k]);
    weir_meta_type *types = NULL;
    size_t ntypes = 0;
    weir_status rc;
    if (type || type_id) {
        weir_meta_type *t = NULL;
        rc = type ? weir_store_get_type(r->store, kind_type[k], type, NULL, r->arena, &t)
                  : weir_store_get_type_by_id(r->store, type_id, r->arena, &t);
        if (rc == WEIR_OK && t->kind != kind_type[k]) rc = WEIR_ENOENT;
        if (rc == WEIR_OK && name) {
            weir_meta_context *c = NULL;
            rc = weir_store_get_context_by_type_and_name(r->store, t->id, name, r->arena, &c);
            if (rc == WEIR_ENOENT) return write_list(r, K_CTX, NULL, 0);
            if (rc) return srv_error_status(r, rc, "reading the context");
            return write_list(r, K_CTX, c, 1);
        }
        if (rc == WEIR_ENOENT) {
            /* no such type: nothing of it */
            srv_jw_obj(&r->w);
            srv_jw_key(&r->w, kind_word[k]);
            srv_jw_arr(&r->w);
            srv_jw_end_arr(&r->w);
            srv_jw_end_obj(&r->w);
            return 200;
        }
        if (rc) return srv_error_status(r, rc, "reading the type");
        f.type_id = t->id;
        types = t;
        ntypes = 1;
    } else if (!ctx_id && !uri) {
        rc = weir_store_get_types(r->store, kind_type[k], r->arena, &types, &ntypes);
        if (rc) return srv_error_status(r, rc, "reading the types");
    }
    size_t want = (size_t)page_size + 1, got = 0;
    item *page = weir_arena_calloc(r->arena, want, sizeof *page);
    if (!page) return srv_error(r, 500, "out of memory");
    int64_t cursor = token, scanned_to = 0;
    int exhausted = 0;
    if (uri && !ctx_id) {
        weir_meta_artifact *a = NULL;
        size_t na = 0;
        rc = weir_store_get_artifacts_by_uri(r->store, uri, r->arena, &a, &na);
        if (rc) return srv_error_status(r, rc, "reading artifacts");
        item *it = NULL;
        size_t ni = 0;
        if ((rc = wrap(r, K_ART, a, na, &it, &ni))) return srv_error_status(r, rc, "reading artifacts");
        if (ni) qsort(it, ni, sizeof *it, desc ? cmp_desc : cmp_asc);
        for (size_t i = 0; i < ni && got < want; i++) {
            if (token && (desc ? it[i].id >= token : it[i].id <= token)) continue;
            if (matches(k, &it[i], &f)) page[got++] = it[i];
        }
        exhausted = 1;
    } else {
        size_t scanned = 0, batch = want < 200 ? 200 : want;
        while (got < want && scanned < SCAN_MAX) {
            weir_meta_list l = {.cursor = cursor, .limit = batch, .newest_first = desc};
            item *it = NULL;
            size_t ni = 0;
            rc = ctx_id ? fetch_one(r, k, 0, ctx_id, &l, &it, &ni)
                        : fetch_all(r, k, types, ntypes, &l, &it, &ni);
            if (rc) return srv_error_status(r, rc, "reading the store");
            for (size_t i = 0; i < ni && got < want; i++)
                if (matches(k, &it[i], &f)) page[got++] = it[i];
            scanned += ni;
            if (ni) cursor = it[ni - 1].id;
            if (ni < batch) {
                exhausted = 1;
                break;
            }
        }
        scanned_to = cursor;
    }
    srv_jw *w = &r->w;
    srv_jw_obj(w);
    srv_jw_key(w, kind_word[k]);
    srv_jw_arr(w);
    size_t shown = got > (size_t)page_size ? (size_t)page_size : got;
    for (size_t i = 0; i < shown; i++) write_item(r, k, &page[i]);
    srv_jw_end_arr(w);
    char tok[32];
    if (got > (size_t)page_size) {
        snprintf(tok, sizeof tok, "%lld", (long long)page[shown - 1].id);
        srv_jw_kstr(w, "next_page_token", tok);
    } else if (!exhausted && scanned_to) {
        /* the scan budget ran out before the page filled: go on from there */
        snprintf(tok, sizeof tok, "%lld", (long long)scanned_to);
        srv_jw_kstr(w, "next_page_token", tok);
    }
    srv_jw_end_obj(w);
    return 200;
}

static void write_type(srv_jw *w, const weir_meta_type *t) {
    srv_jw_obj(w);
    srv_jw_kint(w, "id", t->id);
    srv_jw_kstr(w, "kind", weir_meta_kind_name(t->kind));
    srv_jw_kstr(w, "name", t->name);
    srv_jw_kstr(w, "version", t->version);
    srv_jw_kstr(w, "description", t->description);
    srv_jw_key(w, "properties");
    srv_jw_obj(w);
    for (size_t j = 0; j < t->nprops; j++)
        srv_jw_kstr(w, t->props[j].name, weir_meta_value_type_name(t->props[j].type));
    srv_jw_end_obj(w);
    srv_jw_end_obj(w);
}

/* GET /types?kind=K[&name=N[&version=V]]: the types of a kind, or the one
 * called N (an empty list when there is none). */
static unsigned list_types(srv_req *r) {
    const char *k = srv_arg(r, "kind"), *name = srv_arg(r, "name"), *version = srv_arg(r, "version");
    int kind = !k || !strcmp(k, "artifact") ? 0 : !strcmp(k, "execution") ? 1 : !strcmp(k, "context") ? 2 : -1;
    if (kind < 0) return srv_error(r, 400, "kind='%s': give artifact, execution or context", k);
    if (version && !name) return srv_error(r, 400, "version= needs name=");
    weir_meta_type *t = NULL;
    size_t n = 0;
    weir_status rc;
    if (name) {
        rc = weir_store_get_type(r->store, kind_type[kind], name, version, r->arena, &t);
        if (rc == WEIR_ENOENT) rc = WEIR_OK;
        else n = rc ? 0 : 1;
    } else {
        rc = weir_store_get_types(r->store, kind_type[kind], r->arena, &t, &n);
    }
    if (rc) return srv_error_status(r, rc, "reading types");
    srv_jw *w = &r->w;
    srv_jw_obj(w);
    srv_jw_key(w, "types");
    srv_jw_arr(w);
    for (size_t i = 0; i < n; i++) write_type(w, &t[i]);
    srv_jw_end_arr(w);
    srv_jw_end_obj(w);
    return 200;
}

static unsigned get_type(srv_req *r, int64_t id) {
    weir_meta_type *t = NULL;
    weir_status rc = weir_store_get_type_by_id(r->store, id, r->arena, &t);
    if (rc) return srv_error_status(r, rc, "reading the type");
    srv_jw_obj(&r->w);
    srv_jw_key(&r->w, "type");
    write_type(&r->w, t);
    srv_jw_end_obj(&r->w);
    return 200;
}

/* ------------------------------------------------------------------ events */

/* GET /events?artifact_id=1,2|execution_id=3,4: the events of those
 * nodes, paged by offset. */
static unsigned list_events(srv_req *r) {
    int64_t *aid = NULL, *eid = NULL, page_size, token;
    size_t na = 0, ne = 0;
    unsigned e;
    if ((e = arg_ids(r, "artifact_id", &aid, &na))) return e;
    if ((e = arg_ids(r, "execution_id", &eid, &ne))) return e;
    if ((e = srv_arg_int(r, "page_size", PAGE_MAX, 1, PAGE_MAX, &page_size))) return e;
    if ((e = srv_arg_int(r, "page_token", 0, 0, INT64_MAX, &token))) return e;
    if (!na == !ne) return srv_error(r, 400, "give artifact_id or execution_id (one of them; ids separated by commas)");
    weir_meta_event *ev = NULL;
    size_t n = 0;
    weir_status rc = na ? weir_store_get_events_by_artifact_ids(r->store, aid, na, r->arena, &ev, &n)
                        : weir_store_get_events_by_execution_ids(r->store, eid, ne, r->arena, &ev, &n);
    if (rc) return srv_error_status(r, rc, "reading events");
    /* events have no id of their own: the token is an offset */
    size_t from = (size_t)token < n ? (size_t)token : n, to = from + (size_t)page_size;
    if (to > n) to = n;
    srv_jw *w = &r->w;
    srv_jw_obj(w);
    srv_jw_key(w, "events");
    srv_jw_arr(w);
    for (size_t i = from; i < to; i++) srv_jw_event(w, &ev[i]);
    srv_jw_end_arr(w);
    if (to < n) {
        char tok[32];
        snprintf(tok, sizeof tok, "%zu", to);
        srv_jw_kstr(w, "next_page_token", tok);
    }
    srv_jw_end_obj(w);
    return 200;
}

/* ------------------------------------------------------------------ lineage */

static int is_output(weir_meta_event_type t) {
    return t == WEIR_META_EVENT_OUTPUT || t == WEIR_META_EVENT_DECLARED_OUTPUT ||
           t == WEIR_META_EVENT_INTERNAL_OUTPUT || t == WEIR_META_EVENT_PENDING_OUTPUT;
}
static int is_input(weir_meta_event_type t) {
    return t == WEIR_META_EVENT_INPUT || t == WEIR_META_EVENT_DECLARED_INPUT ||
           t == WEIR_META_EVENT_INTERNAL_INPUT;
}

typedef struct idset {
    int64_t *v;
    size_t n, cap;
} idset;

static int idset_has(const idset *s, int64_t id) {
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i] == id) return 1;
    return 0;
}

static weir_status idset_add(srv_req *r, idset *s, int64_t id) {
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        int64_t *g = weir_arena_alloc(r->arena, nc * sizeof *g);
        if (!g) return weir_errorf(WEIR_ELIMIT, "this request's memory cap was reached");
        if (s->n) memcpy(g, s->v, s->n * sizeof *g);
        s->v = g;
        s->cap = nc;
    }
    s->v[s->n++] = id;
    return WEIR_OK;
}

/*
 * Upstream: artifact <-OUTPUT- execution <-INPUT- artifact ... (what
 * produced it, from what). Downstream: artifact -INPUT-> execution
 * -OUTPUT-> artifact ... (what consumed it, and what that made). One hop of
 * `depth` is one execution.
 */
/* The edges a lineage walk collects (arena memory). */
typedef struct edgeset {
    weir_meta_event **v;
    size_t n, cap;
} edgeset;

/*
 * One half-step of a lineage walk: from artifacts to the executions that
 * wrote them (upstream) or read them (downstream) when to_exec, else from
 * executions to the artifacts they read (upstream) or wrote (downstream).
 * Each event taken is an edge; a node not seen before joins `seen` and
 * `next`, until `nodes` (artifacts + executions so far) reaches the cap.
 */
static weir_status follow(srv_req *r, weir_meta_event *ev, size_t nev, int up, int to_exec,
                          edgeset *e, idset *seen, idset *next, size_t nodes, int *truncated) {
    weir_status rc;
    for (size_t i = 0; i < nev; i++) {
        int out = is_output(ev[i].type), in = is_input(ev[i].type);
        if (!(up == to_exec ? out : in)) continue;
        if (e->n == e->cap) {
            size_t nc = e->cap ? e->cap * 2 : 32;
            weir_meta_event **g = weir_arena_alloc(r->arena, nc * sizeof *g);
            if (!g) return weir_errorf(WEIR_ELIMIT, "memory cap");
            if (e->n) memcpy(g, e->v, e->n * sizeof *g);
            e->v = g;
            e->cap = nc;
        }
        e->v[e->n++] = &ev[i];
        int64_t id = to_exec ? ev[i].execution_id : ev[i].artifact_id;
        if (idset_has(seen, id)) continue;
        if (nodes >= LINEAGE_MAX) {
            *truncated = 1;
            break;
        }
        if ((rc = idset_add(r, seen, id)) || (rc = idset_add(r, next, id))) return rc;
        nodes++;
    }
    return WEIR_OK;
}

static unsigned lineage(srv_req *r, int64_t id) {
    const char *dir = srv_arg(r, "direction");
    int up = !dir || !strcmp(dir, "upstream");
    if (dir && !up && strcmp(dir, "downstream"))
        return srv_error(r, 400, "direction='%s': give upstream or downstream", dir);
    int64_t depth;
    unsigned e;
    if ((e = srv_arg_int(r, "depth", 10, 1, 100, &depth))) return e;
    weir_store_t *s = r->store;
    weir_meta_artifact *root = NULL;
    size_t nroot = 0;
    weir_status rc = weir_store_get_artifacts_by_ids(s, &id, 1, r->arena, &root, &nroot);
    if (rc) return srv_error_status(r, rc, "reading the artifact");
    if (!nroot) return srv_error(r, 404, "no artifact %lld", (long long)id);
    idset arts = {0}, exes = {0}, front = {0};
    edgeset edges = {0};
    size_t *level_art = weir_arena_calloc(r->arena, (size_t)depth + 2, sizeof *level_art);
    size_t *level_exe = weir_arena_calloc(r->arena, (size_t)depth + 2, sizeof *level_exe);
    if (!level_art || !level_exe) return srv_error(r, 500, "out of memory");
    if ((rc = idset_add(r, &arts, id)) || (rc = idset_add(r, &front, id))) goto fail;
    level_art[0] = 1;
    int truncated = 0;
    int64_t d = 0;
    for (d = 1; d <= depth && front.n && !truncated; d++) {
        weir_meta_event *ev = NULL;
        size_t nev = 0;
        if ((rc = weir_store_get_events_by_artifact_ids(s, front.v, front.n, r->arena, &ev, &nev))) goto fail;
        idset newexe = {0};
        if ((rc = follow(r, ev, nev, up, 1, &edges, &exes, &newexe, arts.n + exes.n, &truncated))) goto fail;
        level_exe[d] = newexe.n;
        front.n = 0;
        if (!newexe.n) break;
        if ((rc = weir_store_get_events_by_execution_ids(s, newexe.v, newexe.n, r->arena, &ev, &nev))) goto fail;
        if ((rc = follow(r, ev, nev, up, 0, &edges, &arts, &front, arts.n + exes.n, &truncated))) goto fail;
        level_art[d] = front.n;
    }
    int more = front.n > 0 && d > depth;  /* stopped by depth with nodes left to follow */
    weir_meta_artifact *a = NULL;
    weir_meta_execution *x = NULL;
    size_t na = 0, nx = 0;
    if ((rc = weir_store_get_artifacts_by_ids(s, arts.v, arts.n, r->arena, &a, &na))) goto fail;
    if (exes.n && (rc = weir_store_get_executions_by_ids(s, exes.v, exes.n, r->arena, &x, &nx))) goto fail;
    srv_jw *w = &r->w;
    srv_jw_obj(w);
    srv_jw_kint(w, "artifact_id", id);
    srv_jw_kstr(w, "direction", up ? "upstream" : "downstream");
    srv_jw_kint(w, "depth", depth);
    srv_jw_kbool(w, "truncated", truncated);
    srv_jw_kbool(w, "more", more);
    /* BFS order: levels[i] says how many of each list belong to hop i */
    srv_jw_key(w, "levels");
    srv_jw_arr(w);
    for (int64_t i = 0; i <= depth && (i == 0 || level_exe[i] || level_art[i]); i++) {
        srv_jw_obj(w);
        srv_jw_kint(w, "hop", i);
        srv_jw_kint(w, "executions", (int64_t)level_exe[i]);
        srv_jw_kint(w, "artifacts", (int64_t)level_art[i]);
        srv_jw_end_obj(w);
    }
    srv_jw_end_arr(w);
    srv_jw_key(w, "artifacts");
    srv_jw_arr(w);
    for (size_t i = 0; i < na; i++) srv_jw_artifact(r, &a[i]);
    srv_jw_end_arr(w);
    srv_jw_key(w, "executions");
    srv_jw_arr(w);
    for (size_t i = 0; i < nx; i++) srv_jw_execution(r, &x[i]);
    srv_jw_end_arr(w);
    srv_jw_key(w, "edges");
    srv_jw_arr(w);
    for (size_t i = 0; i < edges.n; i++) {
        const weir_meta_event *ev = edges.v[i];
        if (!idset_has(&arts, ev->artifact_id) || !idset_has(&exes, ev->execution_id)) continue;
        srv_jw_event(w, ev);
    }
    srv_jw_end_arr(w);
    srv_jw_end_obj(w);
    return 200;
fail:
    return srv_error_status(r, rc, "following lineage");
}

/* --------------------------------------------------------------- one node */

static unsigned get_artifact(srv_req *r, int64_t id, const char *rest) {
    weir_meta_artifact *a = NULL;
    size_t n = 0;
    weir_status rc = weir_store_get_artifacts_by_ids(r->store, &id, 1, r->arena, &a, &n);
    if (rc) return srv_error_status(r, rc, "reading the artifact");
    if (!n) return srv_error(r, 404, "no artifact %lld", (long long)id);
    if (!strcmp(rest, "/lineage")) return lineage(r, id);
    if (!strcmp(rest, "/preview")) return srv_api_preview(r, a);
    if (*rest) return srv_error(r, 404, "unknown path: try /artifacts/%lld, .../lineage or .../preview", (long long)id);
    weir_meta_context *c = NULL;
    size_t nc = 0;
    if ((rc = weir_store_get_contexts_by_artifact(r->store, id, r->arena, &c, &nc)))
        return srv_error_status(r, rc, "reading the artifact's contexts");
    srv_jw *w = &r->w;
    srv_jw_obj(w);
    srv_jw_key(w, "artifact");
    srv_jw_artifact(r, a);
    srv_jw_key(w, "contexts");
    srv_jw_arr(w);
    for (size_t i = 0; i < nc; i++) srv_jw_context(r, &c[i]);
    srv_jw_end_arr(w);
    srv_jw_end_obj(w);
    return 200;
}

static unsigned get_execution(srv_req *r, int64_t id, const char *rest) {
    if (*rest) return srv_error(r, 404, "unknown path under /executions/%lld", (long long)id);
    weir_meta_execution *x = NULL;
    size_t n = 0;
    weir_status rc = weir_store_get_executions_by_ids(r->store, &id, 1, r->arena, &x, &n);
    if (rc) return srv_error_status(r, rc, "reading the execution");
    if (!n) return srv_error(r, 404, "no execution %lld", (long long)id);
    weir_meta_event *ev = NULL;
    weir_meta_context *c = NULL;
    size_t nev = 0, nc = 0;
    if ((rc = weir_store_get_events_by_execution_ids(r->store, &id, 1, r->arena, &ev, &nev)) ||
        (rc = weir_store_get_contexts_by_execution(r->store, id, r->arena, &c, &nc)))
        return srv_error_status(r, rc, "reading the execution's events");
    srv_jw *w = &r->w;
    srv_jw_obj(w);
    srv_jw_key(w, "execution");
    srv_jw_execution(r, x);
    srv_jw_key(w, "events");
    srv_jw_arr(w);
    for (size_t i = 0; i < nev; i++) srv_jw_event(w, &ev[i]);
    srv_jw_end_arr(w);
    srv_jw_key(w, "contexts");
    srv_jw_arr(w);
    for (size_t i = 0; i < nc; i++) srv_jw_context(r, &c[i]);
    srv_jw_end_arr(w);
    srv_jw_end_obj(w);
    return 200;
}

static unsigned get_context(srv_req *r, int64_t id, const char *rest) {
    if (*rest) return srv_error(r, 404, "unknown path under /contexts/%lld: list its members with "
                                "/artifacts?context=%lld or /executions?context=%lld",
                                (long long)id, (long long)id, (long long)id);
    weir_meta_context *c = NULL, *par = NULL, *ch = NULL;
    size_t n = 0, np = 0, nch = 0;
    weir_status rc = weir_store_get_contexts_by_ids(r->store, &id, 1, r->arena, &c, &n);
    if (rc) return srv_error_status(r, rc, "reading the context");
    if (!n) return srv_error(r, 404, "no context %lld", (long long)id);
    if ((rc = weir_store_get_parent_contexts(r->store, id, r->arena, &par, &np)) ||
        (rc = weir_store_get_child_contexts(r->store, id, r->arena, &ch, &nch)))
        return srv_error_status(r, rc, "reading related contexts");
    srv_jw *w = &r->w;
    srv_jw_obj(w);
    srv_jw_key(w, "context");
    srv_jw_context(r, c);
    srv_jw_key(w, "parent_ids");
    srv_jw_arr(w);
    for (size_t i = 0; i < np; i++) srv_jw_int(w, par[i].id);
    srv_jw_end_arr(w);
    srv_jw_key(w, "child_ids");
    srv_jw_arr(w);
    for (size_t i = 0; i < nch; i++) srv_jw_int(w, ch[i].id);
    srv_jw_end_arr(w);
    srv_jw_end_obj(w);
    return 200;
}

/* ------------------------------------------------------------------ writes */

typedef struct wctx {
    srv_req *r;
    char where[160];
} wctx;

static unsigned bad(srv_req *r, const char *where, const char *what) {
    return srv_error(r, 400, "%s: %s", where, what);
}

static const cJSON *field(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

static unsigned opt_str(srv_req *r, const cJSON *o, const char *k, const char *where, const char **out) {
    const cJSON *v = field(o, k);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v)) return srv_error(r, 400, "%s: '%s' must be a string", where, k);
    *out = v->valuestring;
    return 0;
}

static unsigned opt_id(srv_req *r, const cJSON *o, const char *k, const char *where, int64_t *out) {
    const cJSON *v = field(o, k);
    *out = 0;
    if (!v || cJSON_IsNull(v)) return 0;
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (d < 0 || d != floor(d) || d > 9e15) return srv_error(r, 400, "%s: '%s' must be a positive integer id", where, k);
    *out = (int64_t)d;
    return 0;
}

/* A property value: a JSON string, bool or number, or MLMD's Value JSON
 * ({"int_value"|"intValue": ..}, double_value, string_value, bool_value).
 * A bare number is INT when integral and the type does not declare it
 * DOUBLE. */
static unsigned parse_value(srv_req *r, const cJSON *v, weir_meta_value_type declared, const char *where,
                            weir_meta_value *out) {
    if (cJSON_IsObject(v) && v->child && !v->child->next && v->child->string) {
        const char *k = v->child->string;
        const cJSON *x = v->child;
        if (!strcmp(k, "int_value") || !strcmp(k, "intValue")) {
            /* a string carries all 64 bits (proto3 JSON writes int64 so) */
            if (cJSON_IsString(x)) {
                char *end = NULL;
                errno = 0;
                long long iv = strtoll(x->valuestring, &end, 10);
                if (errno || end == x->valuestring || *end) return bad(r, where, "int_value must be an integer");
                *out = weir_meta_int(iv);
                return 0;
            }
            double d = x->valuedouble;
            if (!cJSON_IsNumber(x) || d != floor(d) || fabs(d) > 9.2e18) return bad(r, where, "int_value must be an integer");
            *out = weir_meta_int((int64_t)d);
            return 0;
        }
        if (!strcmp(k, "double_value") || !strcmp(k, "doubleValue")) {
            if (cJSON_IsString(x)) {
                const char *t = x->valuestring;
                if (!strcmp(t, "NaN")) *out = weir_meta_double(NAN);
                else if (!strcmp(t, "Infinity")) *out = weir_meta_double(INFINITY);
                else if (!strcmp(t, "-Infinity")) *out = weir_meta_double(-INFINITY);
                else return bad(r, where, "double_value is a number, \"NaN\", \"Infinity\" or \"-Infinity\"");
                return 0;
            }
            if (!cJSON_IsNumber(x)) return bad(r, where, "double_value must be a number");
            *out = weir_meta_double(x->valuedouble);
            return 0;
        }
        if (!strcmp(k, "string_value") || !strcmp(k, "stringValue")) {
            if (!cJSON_IsString(x)) return bad(r, where, "string_value must be a string");
            *out = weir_meta_string(x->valuestring);
            return 0;
        }
        if (!strcmp(k, "bool_value") || !strcmp(k, "boolValue")) {
            if (!cJSON_IsBool(x)) return bad(r, where, "bool_value must be true or false");
            *out = weir_meta_bool(cJSON_IsTrue(x));
            return 0;
        }
        int is_struct = !strcmp(k, "struct_value") || !strcmp(k, "structValue");
        if (is_struct || !strcmp(k, "proto_value") || !strcmp(k, "protoValue")) {
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(x, "b64");
            if (!cJSON_IsString(b))
                return bad(r, where, "struct_value and proto_value are {\"b64\": \"...\"} (the serialized message)");
            const char *bytes = NULL;
            size_t len = 0;
            weir_status rc = weir_b64_decode(where, b->valuestring, strlen(b->valuestring), r->arena, &bytes, &len);
            if (rc) return srv_error_status(r, rc, "reading a property");
            *out = is_struct ? weir_meta_struct(bytes, len) : weir_meta_proto(bytes, len);
            return 0;
        }
        return bad(r, where, "a value object holds one of int_value, double_value, string_value, "
                   "bool_value, struct_value, proto_value");
    }
    if (cJSON_IsString(v)) *out = weir_meta_string(v->valuestring);
    else if (cJSON_IsBool(v)) *out = weir_meta_bool(cJSON_IsTrue(v));
    else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (declared != WEIR_META_DOUBLE && d == floor(d) && fabs(d) < 9e15) *out = weir_meta_int((int64_t)d);
        else *out = weir_meta_double(d);
    } else {
        return bad(r, where, "a property value is a string, number, bool or {\"int_value\": ..}-style object");
    }
    return 0;
}

static unsigned parse_props(srv_req *r, const cJSON *o, const char *k, const weir_meta_type *t,
                            const char *where, weir_meta_prop **out, size_t *n) {
    const cJSON *p = field(o, k);
    *out = NULL;
    *n = 0;
    if (!p || cJSON_IsNull(p)) return 0;
    if (!cJSON_IsObject(p)) return srv_error(r, 400, "%s: '%s' must be an object", where, k);
    size_t cnt = (size_t)cJSON_GetArraySize(p);
    weir_meta_prop *props = weir_arena_calloc(r->arena, cnt ? cnt : 1, sizeof *props);
    if (!props) return srv_error(r, 500, "out of memory");
    size_t i = 0;
    for (const cJSON *c = p->child; c; c = c->next, i++) {
        weir_meta_value_type declared = WEIR_META_UNKNOWN;
        if (t)
            for (size_t j = 0; j < t->nprops; j++)
                if (!strcmp(t->props[j].name, c->string)) declared = t->props[j].type;
        char w2[256];
        snprintf(w2, sizeof w2, "%s, %s.%s", where, k, c->string);
        unsigned e = parse_value(r, c, declared, w2, &props[i].value);
        if (e) return e;
        props[i].name = c->string;
    }
    *out = props;
    *n = i;
    return 0;
}

/* Common fields of a node: id, type (name) or type_id, name, external_id,
 * properties, custom_properties. The type is looked up to type bare
 * numbers of declared properties. */
typedef struct node_in {
    int64_t id, type_id;
    const char *type_name, *name, *external_id;
    weir_meta_prop *props, *custom;
    size_t nprops, ncustom;
} node_in;

static unsigned parse_node(srv_req *r, enum kind k, const cJSON *o, const char *where, node_in *n) {
    unsigned e;
    memset(n, 0, sizeof *n);
    if (!cJSON_IsObject(o)) return bad(r, where, "must be an object");
    if ((e = opt_id(r, o, "id", where, &n->id)) || (e = opt_id(r, o, "type_id", where, &n->type_id)) ||
        (e = opt_str(r, o, "type", where, &n->type_name)) || (e = opt_str(r, o, "name", where, &n->name)) ||
        (e = opt_str(r, o, "external_id", where, &n->external_id)))
        return e;
    if (!n->type_id && !n->type_name) return bad(r, where, "give 'type' (a type name) or 'type_id'");
    weir_meta_type *t = NULL;
    weir_status rc = n->type_id ? weir_store_get_type_by_id(r->store, n->type_id, r->arena, &t)
                                : weir_store_get_type(r->store, kind_type[k], n->type_name, NULL, r->arena, &t);
    if (rc == WEIR_ENOENT)
        return srv_error(r, 404, "%s: no %s type '%s': create it with POST /api/v1/types", where,
                         weir_meta_kind_name(kind_type[k]), n->type_name ? n->type_name : "(by id)");
    if (rc) return srv_error_status(r, rc, where);
    /* a type of another kind: the store refuses it, naming both kinds */
    n->type_id = t->id;
    if ((e = parse_props(r, o, "properties", t, where, &n->props, &n->nprops)) ||
        (e = parse_props(r, o, "custom_properties", NULL, where, &n->custom, &n->ncustom)))
        return e;
    return 0;
}

static unsigned parse_enum(srv_req *r, const cJSON *o, const char *k, const char *where,
                           const char *(*name)(int), int n, int dflt, int *out) {
    const cJSON *v = field(o, k);
    *out = dflt;
    if (!v || cJSON_IsNull(v)) return 0;
    if (cJSON_IsString(v))
        for (int i = 0; i < n; i++)
            if (!strcasecmp(name(i), v->valuestring)) {
                *out = i;
                return 0;
            }
    return srv_error(r, 400, "%s: '%s' is not a valid %s", where, cJSON_IsString(v) ? v->valuestring : "?", k);
}

static const char *art_state_name(int i) { return weir_meta_artifact_state_name((weir_meta_artifact_state)i); }
static const char *exe_state_name(int i) { return weir_meta_execution_state_name((weir_meta_execution_state)i); }
static const char *event_name(int i) { return weir_meta_event_type_name((weir_meta_event_type)i); }

static unsigned parse_artifact(srv_req *r, const cJSON *o, const char *where, weir_meta_artifact *a) {
    node_in n;
    unsigned e = parse_node(r, K_ART, o, where, &n);
    int state;
    const char *uri;
    if (e || (e = opt_str(r, o, "uri", where, &uri)) ||
        (e = parse_enum(r, o, "state", where, art_state_name, 7, WEIR_META_ARTIFACT_UNKNOWN, &state)))
        return e;
    *a = (weir_meta_artifact){.id = n.id, .type_id = n.type_id, .uri = uri, .state = (weir_meta_artifact_state)state,
                              .name = n.name, .external_id = n.external_id, .props = n.props, .nprops = n.nprops,
                              .custom = n.custom, .ncustom = n.ncustom};
    return 0;
}

static unsigned parse_execution(srv_req *r, const cJSON *o, const char *where, weir_meta_execution *x) {
    node_in n;
    unsigned e = parse_node(r, K_EXE, o, where, &n);
    int state;
    if (e || (e = parse_enum(r, o, "state", where, exe_state_name, 7, WEIR_META_EXEC_UNKNOWN, &state))) return e;
    *x = (weir_meta_execution){.id = n.id, .type_id = n.type_id, .state = (weir_meta_execution_state)state,
                               .name = n.name, .external_id = n.external_id, .props = n.props, .nprops = n.nprops,
                               .custom = n.custom, .ncustom = n.ncustom};
    return 0;
}

static unsigned parse_context(srv_req *r, const cJSON *o, const char *where, weir_meta_context *c) {
    node_in n;
    unsigned e = parse_node(r, K_CTX, o, where, &n);
    if (e) return e;
    if (!n.name) return bad(r, where, "a context needs a 'name'");
    *c = (weir_meta_context){.id = n.id, .type_id = n.type_id, .name = n.name, .external_id = n.external_id,
                             .props = n.props, .nprops = n.nprops, .custom = n.custom, .ncustom = n.ncustom};
    return 0;
}

static unsigned parse_path(srv_req *r, const cJSON *o, const char *where, weir_meta_step **out, size_t *n) {
    const cJSON *p = field(o, "path");
    *out = NULL;
    *n = 0;
    if (!p || cJSON_IsNull(p)) return 0;
    if (!cJSON_IsArray(p)) return bad(r, where, "'path' must be a list of {\"key\": ..} or {\"index\": ..}");
    size_t cnt = (size_t)cJSON_GetArraySize(p), i = 0;
    weir_meta_step *st = weir_arena_calloc(r->arena, cnt ? cnt : 1, sizeof *st);
    if (!st) return srv_error(r, 500, "out of memory");
    for (const cJSON *c = p->child; c; c = c->next, i++) {
        const cJSON *k = field(c, "key"), *ix = field(c, "index");
        if (cJSON_IsString(k)) st[i].key = k->valuestring;
        else if (cJSON_IsNumber(ix) && ix->valuedouble == floor(ix->valuedouble) && fabs(ix->valuedouble) <= 9e15)
            st[i].index = (int64_t)ix->valuedouble;
        else return bad(r, where, "each path step is {\"key\": \"...\"} or {\"index\": N} (an integer)");
    }
    *out = st;
    *n = cnt;
    return 0;
}

/* The list under `key`, or the body itself as a one-item list. */
static const cJSON *items_of(const cJSON *body, const char *key, int *single) {
    const cJSON *l = field(body, key);
    *single = !l;
    return l;
}

static unsigned post_nodes(srv_req *r, enum kind k, const cJSON *body) {
    int single;
    const cJSON *l = items_of(body, kind_word[k], &single);
    if (!single && !cJSON_IsArray(l)) return srv_error(r, 400, "'%s' must be a list", kind_word[k]);
    size_t n = single ? 1 : (size_t)cJSON_GetArraySize(l);
    if (n == 0) return srv_error(r, 400, "'%s' is empty", kind_word[k]);
    size_t sz = k == K_ART ? sizeof(weir_meta_artifact) : k == K_EXE ? sizeof(weir_meta_execution) : sizeof(weir_meta_context);
    void *arr = weir_arena_calloc(r->arena, n, sz);
    int64_t *ids = weir_arena_calloc(r->arena, n, sizeof *ids);
    if (!arr || !ids) return srv_error(r, 500, "out of memory");
    size_t i = 0;
    for (const cJSON *c = single ? body : l->child; c && i < n; c = single ? NULL : c->next, i++) {
        char where[64];
        snprintf(where, sizeof where, "%s[%zu]", kind_word[k], i);
        unsigned e = k == K_ART ? parse_artifact(r, c, where, (weir_meta_artifact *)arr + i)
                   : k == K_EXE ? parse_execution(r, c, where, (weir_meta_execution *)arr + i)
                                : parse_context(r, c, where, (weir_meta_context *)arr + i);
        if (e) return e;
    }
    weir_status rc = k == K_ART ? weir_store_put_artifacts(r->store, arr, n, ids)
                   : k == K_EXE ? weir_store_put_executions(r->store, arr, n, ids)
                                : weir_store_put_contexts(r->store, arr, n, ids);
    if (rc) return srv_error_status(r, rc, "writing to the store");
    srv_jw_obj(&r->w);
    srv_jw_key(&r->w, "ids");
    srv_jw_arr(&r->w);
    for (i = 0; i < n; i++) srv_jw_int(&r->w, ids[i]);
    srv_jw_end_arr(&r->w);
    srv_jw_end_obj(&r->w);
    return 201;
}

static unsigned post_events(srv_req *r, const cJSON *body) {
    int single;
    const cJSON *l = items_of(body, "events", &single);
    if (!single && !cJSON_IsArray(l)) return srv_error(r, 400, "'events' must be a list");
    size_t n = single ? 1 : (size_t)cJSON_GetArraySize(l), i = 0;
    if (!n) return srv_error(r, 400, "'events' is empty");
    weir_meta_event *ev = weir_arena_calloc(r->arena, n, sizeof *ev);
    if (!ev) return srv_error(r, 500, "out of memory");
    for (const cJSON *c = single ? body : l->child; c && i < n; c = single ? NULL : c->next, i++) {
        char where[64];
        snprintf(where, sizeof where, "events[%zu]", i);
        int type;
        weir_meta_step *path;
        unsigned e;
        if ((e = opt_id(r, c, "artifact_id", where, &ev[i].artifact_id)) ||
            (e = opt_id(r, c, "execution_id", where, &ev[i].execution_id)) ||
            (e = parse_enum(r, c, "type", where, event_name, 8, 0, &type)) ||
            (e = parse_path(r, c, where, &path, &ev[i].npath)) ||
            (e = opt_id(r, c, "time_ms", where, &ev[i].time_ms)))
            return e;
        if (!ev[i].artifact_id || !ev[i].execution_id || !type)
            return bad(r, where, "an event needs artifact_id, execution_id and type (INPUT, OUTPUT, ...)");
        ev[i].type = (weir_meta_event_type)type;
        ev[i].path = path;
    }
    weir_status rc = weir_store_put_events(r->store, ev, n);
    if (rc) return srv_error_status(r, rc, "writing events");
    srv_jw_obj(&r->w);
    srv_jw_kint(&r->w, "count", (int64_t)n);
    srv_jw_end_obj(&r->w);
    return 201;
}

static unsigned post_attributions(srv_req *r, const cJSON *body) {
    const cJSON *at = field(body, "attributions"), *as = field(body, "associations");
    if ((at && !cJSON_IsArray(at)) || (as && !cJSON_IsArray(as)) || (!at && !as))
        return srv_error(r, 400, "give 'attributions': [{context_id, artifact_id}] and/or "
                         "'associations': [{context_id, execution_id}]");
    size_t nat = at ? (size_t)cJSON_GetArraySize(at) : 0, nas = as ? (size_t)cJSON_GetArraySize(as) : 0;
    weir_meta_attribution *a = weir_arena_calloc(r->arena, nat + 1, sizeof *a);
    weir_meta_association *s = weir_arena_calloc(r->arena, nas + 1, sizeof *s);
    if (!a || !s) return srv_error(r, 500, "out of memory");
    size_t i = 0;
    for (const cJSON *c = at ? at->child : NULL; c; c = c->next, i++) {
        unsigned e;
        if ((e = opt_id(r, c, "context_id", "attributions", &a[i].context_id)) ||
            (e = opt_id(r, c, "artifact_id", "attributions", &a[i].artifact_id)))
            return e;
        if (!a[i].context_id || !a[i].artifact_id) return bad(r, "attributions", "each needs context_id and artifact_id");
    }
    i = 0;
    for (const cJSON *c = as ? as->child : NULL; c; c = c->next, i++) {
        unsigned e;
        if ((e = opt_id(r, c, "context_id", "associations", &s[i].context_id)) ||
            (e = opt_id(r, c, "execution_id", "associations", &s[i].execution_id)))
            return e;
        if (!s[i].context_id || !s[i].execution_id) return bad(r, "associations", "each needs context_id and execution_id");
    }
    weir_status rc = weir_store_put_attributions_associations(r->store, a, nat, s, nas);
    if (rc) return srv_error_status(r, rc, "writing attributions");
    srv_jw_obj(&r->w);
    srv_jw_kint(&r->w, "attributions", (int64_t)nat);
    srv_jw_kint(&r->w, "associations", (int64_t)nas);
    srv_jw_end_obj(&r->w);
    return 201;
}

static unsigned post_parent_contexts(srv_req *r, const cJSON *body) {
    const cJSON *l = field(body, "parent_contexts");
    if (!cJSON_IsArray(l) || !cJSON_GetArraySize(l))
        return srv_error(r, 400, "give 'parent_contexts': [{\"child_id\": C, \"parent_id\": P}, ...]");
    size_t n = (size_t)cJSON_GetArraySize(l), i = 0;
    weir_meta_parent_context *pc = weir_arena_calloc(r->arena, n, sizeof *pc);
    if (!pc) return srv_error(r, 500, "out of memory");
    for (const cJSON *c = l->child; c; c = c->next, i++) {
        char where[64];
        unsigned e;
        snprintf(where, sizeof where, "parent_contexts[%zu]", i);
        if ((e = opt_id(r, c, "child_id", where, &pc[i].child_id)) ||
            (e = opt_id(r, c, "parent_id", where, &pc[i].parent_id)))
            return e;
        if (!pc[i].child_id || !pc[i].parent_id) return bad(r, where, "needs child_id and parent_id");
    }
    weir_status rc = weir_store_put_parent_contexts(r->store, pc, n);
    if (rc) return srv_error_status(r, rc, "writing parent contexts");
    srv_jw_obj(&r->w);
    srv_jw_kint(&r->w, "count", (int64_t)n);
    srv_jw_end_obj(&r->w);
    return 201;
}

static unsigned post_type(srv_req *r, const cJSON *body) {
    const char *kind = NULL, *name = NULL, *version = NULL, *desc = NULL;
    unsigned e;
    if ((e = opt_str(r, body, "kind", "type", &kind)) || (e = opt_str(r, body, "name", "type", &name)) ||
        (e = opt_str(r, body, "version", "type", &version)) || (e = opt_str(r, body, "description", "type", &desc)))
        return e;
    int k = !kind ? -1 : !strcmp(kind, "artifact") ? 0 : !strcmp(kind, "execution") ? 1 : !strcmp(kind, "context") ? 2 : -1;
    if (k < 0 || !name) return srv_error(r, 400, "a type needs 'kind' (artifact, execution or context) and 'name'");
    const cJSON *p = field(body, "properties");
    if (p && !cJSON_IsObject(p)) return srv_error(r, 400, "type: 'properties' maps names to INT, DOUBLE, STRING, STRUCT, PROTO or BOOLEAN");
    size_t np = p ? (size_t)cJSON_GetArraySize(p) : 0, i = 0;
    weir_meta_type_prop *tp = weir_arena_calloc(r->arena, np + 1, sizeof *tp);
    if (!tp) return srv_error(r, 500, "out of memory");
    for (const cJSON *c = p ? p->child : NULL; c; c = c->next, i++) {
        int vt = 0;
        for (int j = 1; j <= 6 && cJSON_IsString(c); j++)
            if (!strcasecmp(c->valuestring, weir_meta_value_type_name((weir_meta_value_type)j))) vt = j;
        if (!vt) return srv_error(r, 400, "type property '%s': give INT, DOUBLE, STRING, STRUCT, PROTO or BOOLEAN", c->string);
        tp[i] = (weir_meta_type_prop){c->string, (weir_meta_value_type)vt};
    }
    weir_meta_type t = {.kind = kind_type[k], .name = name, .version = version, .description = desc,
                        .props = tp, .nprops = np};
    unsigned flags = cJSON_IsTrue(field(body, "can_add_fields")) ? WEIR_META_TYPE_CAN_ADD_FIELDS : 0;
    if (cJSON_IsTrue(field(body, "can_omit_fields"))) flags |= WEIR_META_TYPE_CAN_OMIT_FIELDS;
    int64_t id = 0;
    weir_status rc = weir_store_put_type(r->store, &t, flags, &id);
    if (rc) return srv_error_status(r, rc, "writing the type");
    srv_jw_obj(&r->w);
    srv_jw_kint(&r->w, "id", id);
    srv_jw_end_obj(&r->w);
    return 201;
}

/* MLMD's PutExecution: the execution, its artifacts with their events, and
 * its contexts, in one transaction. */
static unsigned post_publish(srv_req *r, const cJSON *body) {
    weir_meta_execution x;
    const cJSON *xo = field(body, "execution"), *al = field(body, "artifacts"), *cl = field(body, "contexts");
    if (!xo) return srv_error(r, 400, "give 'execution', and optionally 'artifacts' and 'contexts'");
    if ((al && !cJSON_IsArray(al)) || (cl && !cJSON_IsArray(cl)))
        return srv_error(r, 400, "'artifacts' and 'contexts' must be lists");
    unsigned e = parse_execution(r, xo, "execution", &x);
    if (e) return e;
    size_t na = al ? (size_t)cJSON_GetArraySize(al) : 0, nc = cl ? (size_t)cJSON_GetArraySize(cl) : 0, i = 0;
    weir_meta_artifact_event *items = weir_arena_calloc(r->arena, na + 1, sizeof *items);
    weir_meta_artifact *arts = weir_arena_calloc(r->arena, na + 1, sizeof *arts);
    weir_meta_context *ctxs = weir_arena_calloc(r->arena, nc + 1, sizeof *ctxs);
    int64_t *aids = weir_arena_calloc(r->arena, na + 1, sizeof *aids);
    int64_t *cids = weir_arena_calloc(r->arena, nc + 1, sizeof *cids);
    if (!items || !arts || !ctxs || !aids || !cids) return srv_error(r, 500, "out of memory");
    for (const cJSON *c = al ? al->child : NULL; c; c = c->next, i++) {
        char where[64];
        snprintf(where, sizeof where, "artifacts[%zu]", i);
        const cJSON *ao = field(c, "artifact");
        if (ao) {
            if ((e = parse_artifact(r, ao, where, &arts[i]))) return e;
            items[i].artifact = &arts[i];
        } else if ((e = opt_id(r, c, "artifact_id", where, &items[i].artifact_id))) {
            return e;
        }
        if (!ao && !items[i].artifact_id) return bad(r, where, "give 'artifact' (an object) or 'artifact_id'");
        int type;
        weir_meta_step *path;
        if ((e = parse_enum(r, c, "event", where, event_name, 8, 0, &type)) ||
            (e = parse_path(r, c, where, &path, &items[i].npath)))
            return e;
        items[i].event_type = (weir_meta_event_type)type;
        items[i].path = path;
    }
    i = 0;
    for (const cJSON *c = cl ? cl->child : NULL; c; c = c->next, i++) {
        char where[64];
        snprintf(where, sizeof where, "contexts[%zu]", i);
        if ((e = parse_context(r, c, where, &ctxs[i]))) return e;
    }
    int64_t xid = 0;
    weir_status rc = weir_store_put_execution(r->store, &x, items, na, ctxs, nc, &xid, aids, cids);
    if (rc) return srv_error_status(r, rc, "publishing the execution");
    srv_jw *w = &r->w;
    srv_jw_obj(w);
    srv_jw_kint(w, "execution_id", xid);
    srv_jw_key(w, "artifact_ids");
    srv_jw_arr(w);
    for (i = 0; i < na; i++) srv_jw_int(w, aids[i]);
    srv_jw_end_arr(w);
    srv_jw_key(w, "context_ids");
    srv_jw_arr(w);
    for (i = 0; i < nc; i++) srv_jw_int(w, cids[i]);
    srv_jw_end_arr(w);
    srv_jw_end_obj(w);
    return 201;
}

static unsigned post(srv_req *r, const char *rest) {
    if (strcmp(r->method, "POST")) return srv_error(r, 405, "writes use POST");
    if (!r->body) return srv_error(r, 400, "give a JSON body");
    cJSON *body = NULL;
    weir_doc_limits lim = {.max_bytes = r->s->cfg.max_body, .max_depth = 32};
    weir_status rc = weir_json_parse("request body", r->body, r->body_len, &lim, &body);
    if (rc) return srv_error_status(r, rc, "reading the request");
    unsigned code;
    if (!cJSON_IsObject(body)) code = srv_error(r, 400, "the body must be a JSON object");
    else if (!strcmp(rest, "types")) code = post_type(r, body);
    else if (!strcmp(rest, "artifacts")) code = post_nodes(r, K_ART, body);
    else if (!strcmp(rest, "executions")) code = post_nodes(r, K_EXE, body);
    else if (!strcmp(rest, "contexts")) code = post_nodes(r, K_CTX, body);
    else if (!strcmp(rest, "events")) code = post_events(r, body);
    else if (!strcmp(rest, "attributions")) code = post_attributions(r, body);
    else if (!strcmp(rest, "parent_contexts")) code = post_parent_contexts(r, body);
    else if (!strcmp(rest, "publish")) code = post_publish(r, body);
    else code = srv_error(r, 404, "nothing to POST at /api/v1/%s: try types, artifacts, executions, "
                          "contexts, events, attributions, parent_contexts or publish", rest);
    cJSON_Delete(body);
    return code;
}

/* GET /cache?key=K[&type_id=T]: the execution a run may reuse (the
 * engine's cache lookup); execution_id 0 when there is none. */
static unsigned cache_lookup(srv_req *r) {
    const char *key = srv_arg(r, "key");
    int64_t type_id, id = 0;
    unsigned e;
    if (!key) return srv_error(r, 400, "give key= (an execution's cache key)");
    if ((e = srv_arg_int(r, "type_id", 0, 0, INT64_MAX, &type_id))) return e;
    weir_status rc = weir_store_find_cached_execution(r->store, key, type_id, &id);
    if (rc) return srv_error_status(r, rc, "looking up the cache");
    srv_jw_obj(&r->w);
    srv_jw_kint(&r->w, "execution_id", id);
    srv_jw_end_obj(&r->w);
    return 200;
}

/* ------------------------------------------------------------------ route */

unsigned srv_api_meta(srv_req *r, const char *rest) {
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) return post(r, rest);
    static const char *const pre[] = {"artifacts", "executions", "contexts"};
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(pre[k]);
        if (strncmp(rest, pre[k], n)) continue;
        if (rest[n] == '\0') return list_nodes(r, (enum kind)k);
        if (rest[n] != '/') break;
        const char *tail = NULL;
        int64_t id = parse_id(rest + n + 1, &tail);
        if (!id) return srv_error(r, 404, "/api/v1/%s/ID: the id is a positive integer", pre[k]);
        if (k == K_ART) return get_artifact(r, id, tail);
        if (k == K_EXE) return get_execution(r, id, tail);
        return get_context(r, id, tail);
    }
    if (!strcmp(rest, "events")) return list_events(r);
    if (!strcmp(rest, "types")) return list_types(r);
    if (!strncmp(rest, "types/", 6)) {
        const char *tail = NULL;
        int64_t id = parse_id(rest + 6, &tail);
        if (!id || *tail) return srv_error(r, 404, "/api/v1/types/ID: the id is a positive integer");
        return get_type(r, id);
    }
    if (!strcmp(rest, "cache")) return cache_lookup(r);
    return srv_error(r, 404, "unknown path /api/v1/%s: try runs, artifacts, executions, contexts, "
                     "events, types or cache", rest);
}
