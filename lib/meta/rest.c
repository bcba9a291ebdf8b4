/*
 * rest.c — the metadata store over HTTP: every weir_store_i call as a
 * request to weir-server's /api/v1 (docs/server.md), so a process that may
 * not hold database credentials (the operator on a cluster, a pod) writes
 * and reads the same store through one server.
 *
 * Opened by weir_store_open("http://HOST:PORT[/PREFIX]") (or https://).
 * The bearer token for writes comes from $WEIR_METADATA_TOKEN_FILE (a file
 * holding it, as a mounted Secret does; read again when the server refuses
 * the token, so a rotated Secret is picked up) or $WEIR_METADATA_TOKEN.
 *
 * Each call that writes is one POST, which the server runs as one store
 * transaction, so the all-or-nothing promise of meta.h holds over HTTP.
 * Values travel as MLMD Value objects (?values=typed): int64 as strings,
 * doubles exactly, Struct and Proto bytes in base64. Errors come back with
 * the server's message and its weir_status name, mapped back exactly.
 * Reads that fail to connect, and writes whose connection was refused
 * (nothing was sent), are tried again a few times with backoff.
 *
 * For: the HTTP client side of the store. Not for: the server (server/),
 * SQL (sqlite.c, postgres.c).
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meta_internal.h"

#define ANSWER_MAX ((size_t)256 << 20) /* one response body */
#define PAGE 1000                      /* the server's largest page */
#define IDS_PER_GET 200                /* ids in one query string */
#define TRIES 5

struct rest {
    struct weir_store base;
    char *url;      /* base URL, no trailing '/' */
    char *where;    /* the URL as messages show it (no password) */
    char *auth;     /* "Authorization: Bearer ..." or NULL */
    char *token_file; /* $WEIR_METADATA_TOKEN_FILE at open, read again on a 401 */
    long code;      /* the last answer's HTTP status */
    int readonly;
    CURL *curl;
    weir_buf answer;
    char err[CURL_ERROR_SIZE];
};

static struct rest *R(weir_store_t *s) { return (struct rest *)s; }

/* ------------------------------------------------------------- exchange */

static size_t on_data(char *p, size_t size, size_t n, void *ctx) {
    weir_buf *b = ctx;
    return weir_buf_append(b, p, size * n) ? 0 : size * n;
}

static weir_status status_of(const char *name) {
#define WEIR__REST_STATUS(nm, num, text) \
    if (!strcmp(name, "WEIR_" #nm)) return WEIR_##nm;
    WEIR_STATUS_MAP(WEIR__REST_STATUS)
#undef WEIR__REST_STATUS
    return WEIR_EINTERNAL;
}

static weir_status status_of_http(long code) {
    switch (code) {
    case 400: return WEIR_EINVAL;
    case 401: case 403: return WEIR_EPERM;
    case 404: return WEIR_ENOENT;
    case 409: return WEIR_ECONFLICT;
    case 413: return WEIR_ELIMIT;
    case 501: return WEIR_EUNSUPPORTED;
    case 502: case 503: case 504: return WEIR_EAGAIN;
    default: return WEIR_EIO;
    }
}

/* The error a non-2xx answer carries: the server's message and status. */
static weir_status answer_error(struct rest *s, const char *method, const char *path, long code) {
    cJSON *j = cJSON_ParseWithLength((const char *)s->answer.data, s->answer.len);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");
    weir_status rc = cJSON_IsString(st) ? status_of(st->valuestring) : status_of_http(code);
    if (rc == WEIR_OK) rc = WEIR_EINTERNAL;
    if (cJSON_IsString(e)) {
        const char *hint = code == 401 || code == 403
                               ? "; give the server's token in $WEIR_METADATA_TOKEN_FILE "
                                 "(a file) or $WEIR_METADATA_TOKEN"
                               : "";
        weir_errorf(rc, "metadata server %s: %s%s", s->where, e->valuestring, hint);
    } else {
        weir_errorf(rc, "metadata server %s: %s %s answered HTTP %ld without a weir error; is "
                    "this URL a weir-server?", s->where, method, path, code);
    }
    cJSON_Delete(j);
    return rc;
}

/*
 * One request: `method` on /api/v1/`path` (which already holds its query),
 * with a JSON body for POST. A 2xx answer is parsed into *out (when out is
 * not NULL).
 */
static weir_status call_once(struct rest *s, const char *method, const char *path,
                             const char *body, cJSON **out) {
    int post = !strcmp(method, "POST");
    if (post && s->readonly)
        return weir_errorf(WEIR_EPERM, "metadata server %s: this store was opened read-only",
                           s->where);
    size_t ul = strlen(s->url) + strlen(path) + 32;
    char *url = malloc(ul);
    if (!url) return weir_errorf(WEIR_ENOMEM, "out of memory");
    snprintf(url, ul, "%s/api/v1/%s%svalues=typed", s->url, path, strchr(path, '?') ? "&" : "?");
    struct curl_slist *h = NULL, *h2;
    if (s->auth && (h2 = curl_slist_append(h, s->auth))) h = h2;
    if (post && (h2 = curl_slist_append(h, "Content-Type: application/json"))) h = h2;
    if ((h2 = curl_slist_append(h, "Expect:"))) h = h2;
    CURL *c = s->curl;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (post) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    } else {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    weir_status rc = WEIR_OK;
    long code = 0;
    for (int attempt = 0;; attempt++) {
        weir_buf_reset(&s->answer);
        s->err[0] = 0;
        CURLcode cc = curl_easy_perform(c);
        if (cc == CURLE_OK) {
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
            if (code == 503 && !post && attempt + 1 < TRIES) goto again;
            break;
        }
        /* a refused connection sent nothing: safe to repeat even a write */
        int retry = cc == CURLE_COULDNT_CONNECT || (!post && (cc == CURLE_OPERATION_TIMEDOUT ||
                                                              cc == CURLE_GOT_NOTHING ||
                                                              cc == CURLE_RECV_ERROR ||
                                                              cc == CURLE_SEND_ERROR));
        if (!retry || attempt + 1 >= TRIES) {
            rc = weir_errorf(cc == CURLE_OPERATION_TIMEDOUT ? WEIR_ETIMEDOUT
                             : cc == CURLE_WRITE_ERROR     ? WEIR_ELIMIT
                                                           : WEIR_EIO,
                             "metadata server %s: %s %s: %s; check the URL and that weir-server "
                             "is running there", s->where, method, path,
                             s->err[0] ? s->err : curl_easy_strerror(cc));
            goto done;
        }
    again: {
        struct timespec ts = {0, (long)(100000000L << attempt)};
        if (ts.tv_nsec >= 1000000000L) ts = (struct timespec){1, 600000000L};
        nanosleep(&ts, NULL);
    }
    }
    s->code = code;
    if (code < 200 || code > 299) {
        rc = answer_error(s, method, path, code);
        goto done;
    }
    if (out) {
        weir_doc_limits lim = {.max_bytes = ANSWER_MAX, .max_depth = 64};
        rc = weir_json_parse(s->where, (const char *)s->answer.data, s->answer.len, &lim, out);
    }
done:
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(h);
    free(url);
    return rc;
}

static char *token_header(const char *where, const char *file, const char *env, weir_status *rc);

/* One request; refused for its token (401) when the token came from a
 * file, the file is read again and, when it holds a new token (a rotated
 * Secret), the request is sent once more with it. */
static weir_status call(struct rest *s, const char *method, const char *path, const char *body,
                        cJSON **out) {
    s->code = 0;
    weir_status rc = call_once(s, method, path, body, out);
    if (rc != WEIR_EPERM || s->code != 401 || !s->token_file) return rc;
    weir_status rr;
    char *h = token_header(s->where, s->token_file, NULL, &rr);
    if (!h) return rc;
    if (s->auth && !strcmp(h, s->auth)) {
        free(h);
        return rc;
    }
    if (s->auth) {
        memset(s->auth, 0, strlen(s->auth));
        free(s->auth);
    }
    s->auth = h;
    return call_once(s, method, path, body, out);
}

/* POSTs the JSON of `body` (freed here). */
static weir_status post(struct rest *s, const char *path, cJSON *body, cJSON **out) {
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    if (!text) return weir_errorf(WEIR_ENOMEM, "out of memory building a request");
    weir_status rc = call(s, "POST", path, text, out);
    cJSON_free(text);
    return rc;
}

/* A query value, %-encoded into q (malloc'd), after "&key=" or "?key=". */
static weir_status qappend(struct rest *s, weir_buf *q, const char *key, const char *val) {
    char *e = curl_easy_escape(s->curl, val, 0);
    if (!e) return weir_errorf(WEIR_ENOMEM, "out of memory");
    weir_status rc = weir_buf_printf(q, "%s%s=%s", strchr((const char *)q->data, '?') ? "&" : "?",
                                     key, e);
    curl_free(e);
    return rc;
}

/* ------------------------------------------------------- JSON to structs */

static const char *adup(weir_arena_t *a, const char *t) {
    return weir_arena_strndup(a, t, strlen(t));
}

static const cJSON *F(const cJSON *o, const char *k) {
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *astr(weir_arena_t *a, const cJSON *o, const char *k) {
    const cJSON *v = F(o, k);
    return cJSON_IsString(v) ? adup(a, v->valuestring) : NULL;
}

static int64_t aint(const cJSON *o, const char *k) {
    const cJSON *v = F(o, k);
    return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static weir_status bad_answer(struct rest *s, const char *what) {
    return weir_errorf(WEIR_EPARSE, "metadata server %s: the answer's %s is not what weir-server "
                       "sends; is the server older or newer than this client?", s->where, what);
}

static weir_status read_value(struct rest *s, weir_arena_t *a, const cJSON *v,
                              weir_meta_value *out) {
    const cJSON *x = v ? v->child : NULL;
    if (!cJSON_IsObject(v) || !x || x->next) return bad_answer(s, "property value");
    const char *k = x->string;
    if (!strcmp(k, "int_value") && cJSON_IsString(x)) {
        *out = weir_meta_int(strtoll(x->valuestring, NULL, 10));
    } else if (!strcmp(k, "double_value")) {
        if (cJSON_IsNumber(x)) *out = weir_meta_double(x->valuedouble);
        else if (cJSON_IsString(x) && !strcmp(x->valuestring, "NaN")) *out = weir_meta_double(NAN);
        else if (cJSON_IsString(x) && !strcmp(x->valuestring, "Infinity")) *out = weir_meta_double(INFINITY);
        else if (cJSON_IsString(x) && !strcmp(x->valuestring, "-Infinity")) *out = weir_meta_double(-INFINITY);
        else return bad_answer(s, "double_value");
    } else if (!strcmp(k, "string_value") && cJSON_IsString(x)) {
        const char *t = adup(a, x->valuestring);
        if (!t) return weir_errorf(WEIR_ENOMEM, "metadata server %s: arena full", s->where);
        *out = weir_meta_string(t);
    } else if (!strcmp(k, "bool_value") && cJSON_IsBool(x)) {
        *out = weir_meta_bool(cJSON_IsTrue(x));
    } else if (!strcmp(k, "struct_value") || !strcmp(k, "proto_value")) {
        const cJSON *b = F(x, "b64");
        const char *bytes = NULL;
        size_t len = 0;
        if (!cJSON_IsString(b)) return bad_answer(s, k);
        weir_status rc = weir_b64_decode(s->where, b->valuestring, strlen(b->valuestring), a,
                                         &bytes, &len);
        if (rc) return rc;
        *out = k[0] == 's' ? weir_meta_struct(bytes, len) : weir_meta_proto(bytes, len);
    } else {
        return bad_answer(s, "property value");
    }
    return WEIR_OK;
}

static weir_status read_props(struct rest *s, weir_arena_t *a, const cJSON *o,
                              const weir_meta_prop **out, size_t *n) {
    size_t cnt = cJSON_IsObject(o) ? (size_t)cJSON_GetArraySize(o) : 0, i = 0;
    *out = NULL;
    *n = 0;
    if (!cnt) return WEIR_OK;
    weir_meta_prop *p = weir_arena_calloc(a, cnt, sizeof *p);
    if (!p) return weir_errorf(WEIR_ENOMEM, "metadata server %s: arena full", s->where);
    for (const cJSON *c = o->child; c; c = c->next, i++) {
        weir_status rc = read_value(s, a, c, &p[i].value);
        if (rc) return rc;
        if (!(p[i].name = adup(a, c->string)))
            return weir_errorf(WEIR_ENOMEM, "metadata server %s: arena full", s->where);
    }
    *out = p;
    *n = cnt;
    return WEIR_OK;
}

static int state_num(const char *name, int kind) {
    for (int i = 0; name && i < 8; i++) {
        const char *t = kind == WEIR__META_NK_ART
                            ? weir_meta_artifact_state_name((weir_meta_artifact_state)i)
                            : weir_meta_execution_state_name((weir_meta_execution_state)i);
        if (!strcmp(t, name)) return i;
    }
    return 0;
}

static weir_status read_node(struct rest *s, weir_arena_t *a, int kind, const cJSON *o,
                             struct weir__meta_node *n) {
    weir_status rc;
    memset(n, 0, sizeof *n);
    if (!cJSON_IsObject(o)) return bad_answer(s, weir__meta_node_word[kind]);
    n->id = aint(o, "id");
    n->type_id = aint(o, "type_id");
    n->type_name = astr(a, o, "type");
    n->uri = astr(a, o, "uri");
    n->name = astr(a, o, "name");
    n->external_id = astr(a, o, "external_id");
    const cJSON *st = F(o, "state");
    n->state = cJSON_IsString(st) ? state_num(st->valuestring, kind) : 0;
    n->ctime = aint(o, "create_time_ms");
    n->mtime = aint(o, "update_time_ms");
    if ((rc = read_props(s, a, F(o, "properties"), &n->props, &n->nprops)) ||
        (rc = read_props(s, a, F(o, "custom_properties"), &n->custom, &n->ncustom)))
        return rc;
    return WEIR_OK;
}

/* Nodes gathered over several answers, before they become public structs. */
typedef struct nodes {
    struct weir__meta_node *v;
    size_t n, cap;
} nodes;

static weir_status nodes_add_list(struct rest *s, weir_arena_t *a, int kind, const cJSON *l,
                                  nodes *out) {
    if (!cJSON_IsArray(l)) return bad_answer(s, "list");
    size_t cnt = (size_t)cJSON_GetArraySize(l);
    if (out->n + cnt > out->cap) {
        size_t nc = (out->n + cnt) * 2;
        struct weir__meta_node *g = realloc(out->v, nc * sizeof *g);
        if (!g) return weir_errorf(WEIR_ENOMEM, "out of memory");
        out->v = g;
        out->cap = nc;
    }
    for (const cJSON *c = l->child; c; c = c->next) {
        weir_status rc = read_node(s, a, kind, c, &out->v[out->n]);
        if (rc) return rc;
        out->n++;
    }
    return WEIR_OK;
}

/* Hands the gathered nodes to common.c, which owns and frees the vector. */
static weir_status nodes_finish(nodes *v, int kind, weir_arena_t *a, void *out, size_t *n) {
    if (kind == WEIR__META_NK_ART)
        return weir__meta_nodes_to_artifacts(v->v, v->n, a, (weir_meta_artifact **)out, n);
    if (kind == WEIR__META_NK_EXEC)
        return weir__meta_nodes_to_executions(v->v, v->n, a, (weir_meta_execution **)out, n);
    return weir__meta_nodes_to_contexts(v->v, v->n, a, (weir_meta_context **)out, n);
}

static const char *const list_key[3] = {"artifacts", "executions", "contexts"};

/*
 * GET `base` (a path with its query) page by page until the list `l` asks
 * for is complete, gathering nodes of `kind`.
 */
static weir_status get_pages(struct rest *s, const char *base, int kind, const weir_meta_list *l,
                             weir_arena_t *a, void *out, size_t *n) {
    nodes v = {0};
    weir_buf q;
    weir_status rc = WEIR_OK;
    int64_t cursor = l ? l->cursor : 0;
    size_t limit = l ? l->limit : 0;
    weir_buf_init(&q, 0);
    for (;;) {
        size_t want = limit ? limit - v.n : PAGE;
        if (want > PAGE) want = PAGE;
        weir_buf_reset(&q);
        rc = weir_buf_printf(&q, "%s%spage_size=%zu&order=%s", base, strchr(base, '?') ? "&" : "?",
                             want, l && l->newest_first ? "desc" : "asc");
        if (!rc && cursor) rc = weir_buf_printf(&q, "&page_token=%lld", (long long)cursor);
        cJSON *j = NULL;
        if (rc || (rc = call(s, "GET", (const char *)q.data, NULL, &j))) break;
        rc = nodes_add_list(s, a, kind, F(j, list_key[kind]), &v);
        const cJSON *tok = F(j, "next_page_token");
        int more = cJSON_IsString(tok) && !rc;
        if (more) cursor = strtoll(tok->valuestring, NULL, 10);
        cJSON_Delete(j);
        if (rc || !more || (limit && v.n >= limit)) break;
    }
    weir_buf_free(&q);
    if (rc) {
        free(v.v);
        return rc;
    }
    if (limit && v.n > limit) v.n = limit;
    return nodes_finish(&v, kind, a, out, n);
}

/* GET /KIND?id=... in chunks; the nodes that exist, in the server's order. */
static weir_status get_by_ids(struct rest *s, int kind, const int64_t *ids, size_t nids,
                              weir_arena_t *a, void *out, size_t *n) {
    nodes v = {0};
    weir_buf q;
    weir_status rc = WEIR_OK;
    weir_buf_init(&q, 0);
    for (size_t from = 0; from < nids && !rc; from += IDS_PER_GET) {
        size_t to = from + IDS_PER_GET < nids ? from + IDS_PER_GET : nids;
        weir_buf_reset(&q);
        rc = weir_buf_printf(&q, "%s?id=", list_key[kind]);
        for (size_t i = from; i < to && !rc; i++)
            rc = weir_buf_printf(&q, "%s%lld", i > from ? "," : "", (long long)ids[i]);
        cJSON *j = NULL;
        if (!rc && !(rc = call(s, "GET", (const char *)q.data, NULL, &j)))
            rc = nodes_add_list(s, a, kind, F(j, list_key[kind]), &v);
        cJSON_Delete(j);
    }
    weir_buf_free(&q);
    if (rc) {
        free(v.v);
        return rc;
    }
    return nodes_finish(&v, kind, a, out, n);
}

/* ------------------------------------------------------- structs to JSON */

static cJSON *value_json(const weir_meta_value *v) {
    cJSON *o = cJSON_CreateObject();
    char t[32];
    if (!o) return NULL;
    switch (v->type) {
    case WEIR_META_INT:
        snprintf(t, sizeof t, "%lld", (long long)v->i);
        cJSON_AddStringToObject(o, "int_value", t);
        break;
    case WEIR_META_DOUBLE:
        if (isfinite(v->d)) {
            /* cJSON prints a double to within an epsilon; 17 digits read
             * back exactly */
            snprintf(t, sizeof t, "%.17g", v->d);
            cJSON_AddRawToObject(o, "double_value", t);
        }
        else cJSON_AddStringToObject(o, "double_value", isnan(v->d) ? "NaN" : v->d > 0 ? "Infinity" : "-Infinity");
        break;
    case WEIR_META_STRING:
        /* NULL goes as null, for the server to refuse as the store would */
        if (v->s) cJSON_AddStringToObject(o, "string_value", v->s);
        else cJSON_AddNullToObject(o, "string_value");
        break;
    case WEIR_META_BOOLEAN: cJSON_AddBoolToObject(o, "bool_value", v->i != 0); break;
    case WEIR_META_STRUCT:
    case WEIR_META_PROTO: {
        weir_buf b;
        weir_buf_init(&b, 0);
        if (weir_b64_append(&b, v->s, v->len) == WEIR_OK) {
            cJSON *x = cJSON_AddObjectToObject(o, v->type == WEIR_META_STRUCT ? "struct_value" : "proto_value");
            if (x) cJSON_AddStringToObject(x, "b64", b.len ? (const char *)b.data : "");
        }
        weir_buf_free(&b);
        break;
    }
    default: break; /* left empty: the server names the property */
    }
    return o;
}

static void add_props(cJSON *o, const char *key, const weir_meta_prop *p, size_t n) {
    cJSON *m = cJSON_AddObjectToObject(o, key);
    for (size_t i = 0; m && i < n; i++) cJSON_AddItemToObject(m, p[i].name ? p[i].name : "", value_json(&p[i].value));
}

static void add_id(cJSON *o, const char *k, int64_t v) {
    if (v) cJSON_AddNumberToObject(o, k, (double)v);
}

static void add_str(cJSON *o, const char *k, const char *v) {
    if (v) cJSON_AddStringToObject(o, k, v);
}

static cJSON *node_json(int kind, const struct weir__meta_node *n) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    add_id(o, "id", n->id);
    add_id(o, "type_id", n->type_id);
    if (!n->type_id) add_str(o, "type", n->type_name);
    add_str(o, "name", n->name);
    add_str(o, "external_id", n->external_id);
    if (kind == WEIR__META_NK_ART) {
        add_str(o, "uri", n->uri);
        cJSON_AddStringToObject(o, "state", weir_meta_artifact_state_name((weir_meta_artifact_state)n->state));
    } else if (kind == WEIR__META_NK_EXEC) {
        cJSON_AddStringToObject(o, "state", weir_meta_execution_state_name((weir_meta_execution_state)n->state));
    }
    add_props(o, "properties", n->props, n->nprops);
    add_props(o, "custom_properties", n->custom, n->ncustom);
    return o;
}

static cJSON *path_json(const weir_meta_step *p, size_t n) {
    cJSON *l = cJSON_CreateArray();
    for (size_t i = 0; l && i < n; i++) {
        cJSON *st = cJSON_CreateObject();
        if (!st) break;
        if (p[i].key) cJSON_AddStringToObject(st, "key", p[i].key);
        else cJSON_AddNumberToObject(st, "index", (double)p[i].index);
        cJSON_AddItemToArray(l, st);
    }
    return l;
}

/* Reads {"ids": [..]} of n ids into ids (NULL: not wanted). */
static weir_status read_ids(struct rest *s, const cJSON *l, size_t n, int64_t *ids) {
    if (!cJSON_IsArray(l) || (size_t)cJSON_GetArraySize(l) != n) return bad_answer(s, "ids");
    size_t i = 0;
    for (const cJSON *c = l->child; c; c = c->next, i++)
        if (ids) ids[i] = (int64_t)c->valuedouble;
    return WEIR_OK;
}

static weir_status put_nodes(struct rest *s, int kind, const struct weir__meta_node *v, size_t n,
                             int64_t *ids) {
    cJSON *body = cJSON_CreateObject(), *l = body ? cJSON_AddArrayToObject(body, list_key[kind]) : NULL;
    for (size_t i = 0; l && i < n; i++) cJSON_AddItemToArray(l, node_json(kind, &v[i]));
    cJSON *j = NULL;
    weir_status rc = post(s, list_key[kind], body, &j);
    if (!rc) rc = read_ids(s, F(j, "ids"), n, ids);
    cJSON_Delete(j);
    return rc;
}

/* --------------------------------------------------------------- types */

static weir_status read_type(struct rest *s, weir_arena_t *a, const cJSON *o, weir_meta_type *t) {
    static const char *const kinds[] = {"execution", "artifact", "context"};
    const cJSON *k = F(o, "kind"), *p = F(o, "properties");
    memset(t, 0, sizeof *t);
    if (!cJSON_IsObject(o) || !cJSON_IsString(k)) return bad_answer(s, "type");
    for (int i = 0; i < 3; i++)
        if (!strcmp(k->valuestring, kinds[i])) t->kind = (weir_meta_type_kind)i;
    t->id = aint(o, "id");
    t->name = astr(a, o, "name");
    t->version = astr(a, o, "version");
    t->description = astr(a, o, "description");
    size_t np = cJSON_IsObject(p) ? (size_t)cJSON_GetArraySize(p) : 0, i = 0;
    weir_meta_type_prop *tp = np ? weir_arena_calloc(a, np, sizeof *tp) : NULL;
    if (np && !tp) return weir_errorf(WEIR_ENOMEM, "metadata server %s: arena full", s->where);
    for (const cJSON *c = np ? p->child : NULL; c; c = c->next, i++) {
        tp[i].name = adup(a, c->string);
        for (int vt = 1; vt <= 6 && cJSON_IsString(c); vt++)
            if (!strcmp(c->valuestring, weir_meta_value_type_name((weir_meta_value_type)vt)))
                tp[i].type = (weir_meta_value_type)vt;
        if (!tp[i].name || !tp[i].type) return bad_answer(s, "type property");
    }
    t->props = tp;
    t->nprops = np;
    return t->name ? WEIR_OK : bad_answer(s, "type name");
}

static weir_status rest_put_type(weir_store_t *st, const weir_meta_type *t, unsigned flags,
                                 int64_t *id) {
    struct rest *s = R(st);
    cJSON *b = cJSON_CreateObject();
    if (!b) return weir_errorf(WEIR_ENOMEM, "out of memory");
    cJSON_AddStringToObject(b, "kind", weir_meta_kind_name(t->kind));
    add_str(b, "name", t->name);
    add_str(b, "version", t->version);
    add_str(b, "description", t->description);
    cJSON *p = cJSON_AddObjectToObject(b, "properties");
    for (size_t i = 0; p && i < t->nprops; i++)
        cJSON_AddStringToObject(p, t->props[i].name ? t->props[i].name : "",
                                weir_meta_value_type_name(t->props[i].type));
    if (flags & WEIR_META_TYPE_CAN_ADD_FIELDS) cJSON_AddTrueToObject(b, "can_add_fields");
    if (flags & WEIR_META_TYPE_CAN_OMIT_FIELDS) cJSON_AddTrueToObject(b, "can_omit_fields");
    cJSON *j = NULL;
    weir_status rc = post(s, "types", b, &j);
    if (!rc) {
        int64_t v = aint(j, "id");
        if (v > 0) *id = v;
        else rc = bad_answer(s, "type id");
    }
    cJSON_Delete(j);
    return rc;
}

static weir_status get_types_q(struct rest *s, const char *q, weir_arena_t *a,
                               weir_meta_type **out, size_t *n) {
    cJSON *j = NULL;
    weir_status rc = call(s, "GET", q, NULL, &j);
    if (rc) return rc;
    const cJSON *l = F(j, "types");
    size_t cnt = cJSON_IsArray(l) ? (size_t)cJSON_GetArraySize(l) : 0, i = 0;
    weir_meta_type *t = weir_arena_calloc(a, cnt ? cnt : 1, sizeof *t);
    if (!cJSON_IsArray(l)) rc = bad_answer(s, "types");
    else if (!t) rc = weir_errorf(WEIR_ENOMEM, "metadata server %s: arena full", s->where);
    for (const cJSON *c = rc ? NULL : l->child; c && !rc; c = c->next, i++) rc = read_type(s, a, c, &t[i]);
    cJSON_Delete(j);
    if (rc) return rc;
    *out = t;
    *n = cnt;
    return WEIR_OK;
}

static weir_status rest_get_type(weir_store_t *st, weir_meta_type_kind kind, const char *name,
                                 const char *version, weir_arena_t *a, weir_meta_type **out) {
    struct rest *s = R(st);
    weir_buf q;
    weir_meta_type *t = NULL;
    size_t n = 0;
    weir_buf_init(&q, 0);
    weir_status rc = weir_buf_printf(&q, "types?kind=%s", weir_meta_kind_name(kind));
    if (!rc) rc = qappend(s, &q, "name", name);
    if (!rc && version) rc = qappend(s, &q, "version", version);
    if (!rc) rc = get_types_q(s, (const char *)q.data, a, &t, &n);
    weir_buf_free(&q);
    if (rc) return rc;
    if (!n)
        return weir_errorf(WEIR_ENOENT, "metadata store %s: no %s type '%s'%s%s", s->where,
                           weir_meta_kind_name(kind), name, version ? " version " : "",
                           version ? version : "");
    *out = t;
    return WEIR_OK;
}

static weir_status rest_get_type_by_id(weir_store_t *st, int64_t id, weir_arena_t *a,
                                       weir_meta_type **out) {
    struct rest *s = R(st);
    char q[64];
    cJSON *j = NULL;
    snprintf(q, sizeof q, "types/%lld", (long long)id);
    weir_status rc = call(s, "GET", q, NULL, &j);
    if (rc) return rc;
    weir_meta_type *t = weir_arena_calloc(a, 1, sizeof *t);
    rc = t ? read_type(s, a, F(j, "type"), t) : weir_errorf(WEIR_ENOMEM, "arena full");
    cJSON_Delete(j);
    if (!rc) *out = t;
    return rc;
}

static weir_status rest_get_types(weir_store_t *st, weir_meta_type_kind kind, weir_arena_t *a,
                                  weir_meta_type **out, size_t *n) {
    char q[64];
    snprintf(q, sizeof q, "types?kind=%s", weir_meta_kind_name(kind));
    return get_types_q(R(st), q, a, out, n);
}

/* --------------------------------------------------------------- writes */

/* Puts n public structs of `kind` (artifacts, executions or contexts). */
static weir_status put_structs(weir_store_t *st, int kind, const void *v, size_t n,
                               int64_t *ids) {
    struct weir__meta_node *nv = calloc(n ? n : 1, sizeof *nv);
    if (!nv) return weir_errorf(WEIR_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        nv[i] = kind == WEIR__META_NK_ART  ? weir__meta_node_of_artifact((const weir_meta_artifact *)v + i)
              : kind == WEIR__META_NK_EXEC ? weir__meta_node_of_execution((const weir_meta_execution *)v + i)
                                           : weir__meta_node_of_context((const weir_meta_context *)v + i);
    weir_status rc = put_nodes(R(st), kind, nv, n, ids);
    free(nv);
    return rc;
}

static weir_status rest_put_artifacts(weir_store_t *st, const weir_meta_artifact *a, size_t n,
                                      int64_t *ids) {
    return put_structs(st, WEIR__META_NK_ART, a, n, ids);
}

static weir_status rest_put_executions(weir_store_t *st, const weir_meta_execution *e, size_t n,
                                       int64_t *ids) {
    return put_structs(st, WEIR__META_NK_EXEC, e, n, ids);
}

static weir_status rest_put_contexts(weir_store_t *st, const weir_meta_context *c, size_t n,
                                     int64_t *ids) {
    return put_structs(st, WEIR__META_NK_CTX, c, n, ids);
}

static weir_status rest_put_events(weir_store_t *st, const weir_meta_event *ev, size_t n) {
    cJSON *b = cJSON_CreateObject(), *l = b ? cJSON_AddArrayToObject(b, "events") : NULL;
    for (size_t i = 0; l && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        add_id(o, "artifact_id", ev[i].artifact_id);
        add_id(o, "execution_id", ev[i].execution_id);
        cJSON_AddStringToObject(o, "type", weir_meta_event_type_name(ev[i].type));
        cJSON_AddItemToObject(o, "path", path_json(ev[i].path, ev[i].npath));
        add_id(o, "time_ms", ev[i].time_ms);
        cJSON_AddItemToArray(l, o);
    }
    return post(R(st), "events", b, NULL);
}

static weir_status rest_put_attributions_associations(weir_store_t *st,
                                                      const weir_meta_attribution *at, size_t nat,
                                                      const weir_meta_association *as, size_t nas) {
    if (!nat && !nas) return WEIR_OK;
    cJSON *b = cJSON_CreateObject();
    cJSON *l1 = b ? cJSON_AddArrayToObject(b, "attributions") : NULL;
    cJSON *l2 = b ? cJSON_AddArrayToObject(b, "associations") : NULL;
    for (size_t i = 0; l1 && i < nat; i++) {
        cJSON *o = cJSON_CreateObject();
        add_id(o, "context_id", at[i].context_id);
        add_id(o, "artifact_id", at[i].artifact_id);
        cJSON_AddItemToArray(l1, o);
    }
    for (size_t i = 0; l2 && i < nas; i++) {
        cJSON *o = cJSON_CreateObject();
        add_id(o, "context_id", as[i].context_id);
        add_id(o, "execution_id", as[i].execution_id);
        cJSON_AddItemToArray(l2, o);
    }
    return post(R(st), "attributions", b, NULL);
}

static weir_status rest_put_parent_contexts(weir_store_t *st, const weir_meta_parent_context *p,
                                            size_t n) {
    if (!n) return WEIR_OK;
    cJSON *b = cJSON_CreateObject(), *l = b ? cJSON_AddArrayToObject(b, "parent_contexts") : NULL;
    for (size_t i = 0; l && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        add_id(o, "child_id", p[i].child_id);
        add_id(o, "parent_id", p[i].parent_id);
        cJSON_AddItemToArray(l, o);
    }
    return post(R(st), "parent_contexts", b, NULL);
}

static weir_status rest_put_execution(weir_store_t *st, const weir_meta_execution *e,
                                      const weir_meta_artifact_event *items, size_t nitems,
                                      const weir_meta_context *contexts, size_t ncontexts,
                                      int64_t *execution_id, int64_t *artifact_ids,
                                      int64_t *context_ids) {
    struct rest *s = R(st);
    cJSON *b = cJSON_CreateObject();
    if (!b) return weir_errorf(WEIR_ENOMEM, "out of memory");
    struct weir__meta_node xn = weir__meta_node_of_execution(e);
    cJSON_AddItemToObject(b, "execution", node_json(WEIR__META_NK_EXEC, &xn));
    cJSON *al = cJSON_AddArrayToObject(b, "artifacts");
    for (size_t i = 0; al && i < nitems; i++) {
        cJSON *o = cJSON_CreateObject();
        if (!o) break;
        if (items[i].artifact) {
            struct weir__meta_node an = weir__meta_node_of_artifact(items[i].artifact);
            cJSON_AddItemToObject(o, "artifact", node_json(WEIR__META_NK_ART, &an));
        } else {
            add_id(o, "artifact_id", items[i].artifact_id);
        }
        if (items[i].event_type)
            cJSON_AddStringToObject(o, "event", weir_meta_event_type_name(items[i].event_type));
        cJSON_AddItemToObject(o, "path", path_json(items[i].path, items[i].npath));
        cJSON_AddItemToArray(al, o);
    }
    cJSON *cl = cJSON_AddArrayToObject(b, "contexts");
    for (size_t i = 0; cl && i < ncontexts; i++) {
        struct weir__meta_node cn = weir__meta_node_of_context(&contexts[i]);
        cJSON_AddItemToArray(cl, node_json(WEIR__META_NK_CTX, &cn));
    }
    cJSON *j = NULL;
    weir_status rc = post(s, "publish", b, &j);
    if (!rc) {
        int64_t xid = aint(j, "execution_id");
        if (xid <= 0) rc = bad_answer(s, "execution_id");
        if (!rc) rc = read_ids(s, F(j, "artifact_ids"), nitems, artifact_ids);
        if (!rc) rc = read_ids(s, F(j, "context_ids"), ncontexts, context_ids);
        if (!rc && execution_id) *execution_id = xid;
    }
    cJSON_Delete(j);
    return rc;
}

/* ---------------------------------------------------------------- reads */

static weir_status list_q(struct rest *s, int kind, const char *filter, int64_t id,
                          const weir_meta_list *l, weir_arena_t *a, void *out, size_t *n) {
    char q[96];
    snprintf(q, sizeof q, "%s?%s=%lld", list_key[kind], filter, (long long)id);
    return get_pages(s, q, kind, l, a, out, n);
}

static weir_status rest_get_artifacts_by_ids(weir_store_t *st, const int64_t *ids, size_t nids,
                                             weir_arena_t *a, weir_meta_artifact **out,
                                             size_t *n) {
    return get_by_ids(R(st), WEIR__META_NK_ART, ids, nids, a, out, n);
}

static weir_status rest_get_artifacts_by_type(weir_store_t *st, int64_t type_id,
                                              const weir_meta_list *l, weir_arena_t *a,
                                              weir_meta_artifact **out, size_t *n) {
    return list_q(R(st), WEIR__META_NK_ART, "type_id", type_id, l, a, out, n);
}

static weir_status rest_get_artifacts_by_uri(weir_store_t *st, const char *uri, weir_arena_t *a,
                                             weir_meta_artifact **out, size_t *n) {
    struct rest *s = R(st);
    weir_buf q;
    weir_buf_init(&q, 0);
    weir_status rc = weir_buf_append_str(&q, "artifacts");
    if (!rc) rc = qappend(s, &q, "uri", uri);
    if (!rc) rc = get_pages(s, (const char *)q.data, WEIR__META_NK_ART, NULL, a, out, n);
    weir_buf_free(&q);
    return rc;
}

static weir_status rest_get_artifacts_by_context(weir_store_t *st, int64_t ctx,
                                                 const weir_meta_list *l, weir_arena_t *a,
                                                 weir_meta_artifact **out, size_t *n) {
    return list_q(R(st), WEIR__META_NK_ART, "context", ctx, l, a, out, n);
}

static weir_status rest_get_executions_by_ids(weir_store_t *st, const int64_t *ids, size_t nids,
                                              weir_arena_t *a, weir_meta_execution **out,
                                              size_t *n) {
    return get_by_ids(R(st), WEIR__META_NK_EXEC, ids, nids, a, out, n);
}

static weir_status rest_get_executions_by_type(weir_store_t *st, int64_t type_id,
                                               const weir_meta_list *l, weir_arena_t *a,
                                               weir_meta_execution **out, size_t *n) {
    return list_q(R(st), WEIR__META_NK_EXEC, "type_id", type_id, l, a, out, n);
}

static weir_status rest_get_executions_by_context(weir_store_t *st, int64_t ctx,
                                                  const weir_meta_list *l, weir_arena_t *a,
                                                  weir_meta_execution **out, size_t *n) {
    return list_q(R(st), WEIR__META_NK_EXEC, "context", ctx, l, a, out, n);
}

static weir_status read_step(struct rest *s, weir_arena_t *a, const cJSON *c, weir_meta_step *st) {
    const cJSON *k = F(c, "key"), *ix = F(c, "index");
    if (cJSON_IsString(k)) {
        if (!(st->key = adup(a, k->valuestring)))
            return weir_errorf(WEIR_ENOMEM, "arena full");
    } else if (cJSON_IsNumber(ix)) {
        st->index = (int64_t)ix->valuedouble;
    } else {
        return bad_answer(s, "event path");
    }
    return WEIR_OK;
}

static weir_status rest_get_events(weir_store_t *st, int by_artifact, const int64_t *ids,
                                   size_t nids, weir_arena_t *a, weir_meta_event **out,
                                   size_t *n) {
    struct rest *s = R(st);
    weir_meta_event *v = NULL;
    size_t cnt = 0, cap = 0;
    weir_buf q;
    weir_status rc = WEIR_OK;
    weir_buf_init(&q, 0);
    for (size_t from = 0; from < nids && !rc; from += IDS_PER_GET) {
        size_t to = from + IDS_PER_GET < nids ? from + IDS_PER_GET : nids;
        long long token = 0;
        do {
            weir_buf_reset(&q);
            rc = weir_buf_printf(&q, "events?page_token=%lld&%s=", token,
                                 by_artifact ? "artifact_id" : "execution_id");
            for (size_t i = from; i < to && !rc; i++)
                rc = weir_buf_printf(&q, "%s%lld", i > from ? "," : "", (long long)ids[i]);
            cJSON *j = NULL;
            if (rc || (rc = call(s, "GET", (const char *)q.data, NULL, &j))) break;
            const cJSON *l = F(j, "events"), *tok = F(j, "next_page_token");
            if (!cJSON_IsArray(l)) rc = bad_answer(s, "events");
            size_t m = rc ? 0 : (size_t)cJSON_GetArraySize(l);
            if (cnt + m > cap) {
                size_t nc = (cnt + m) * 2;
                weir_meta_event *g = realloc(v, nc * sizeof *g);
                if (!g) rc = weir_errorf(WEIR_ENOMEM, "out of memory");
                else v = g, cap = nc;
            }
            for (const cJSON *c = rc ? NULL : l->child; c && !rc; c = c->next) {
                weir_meta_event *e = &v[cnt++];
                const cJSON *ty = F(c, "type"), *p = F(c, "path");
                memset(e, 0, sizeof *e);
                e->artifact_id = aint(c, "artifact_id");
                e->execution_id = aint(c, "execution_id");
                e->time_ms = aint(c, "time_ms");
                for (int t = 0; t < 8 && cJSON_IsString(ty); t++)
                    if (!strcmp(ty->valuestring, weir_meta_event_type_name((weir_meta_event_type)t)))
                        e->type = (weir_meta_event_type)t;
                size_t np = cJSON_IsArray(p) ? (size_t)cJSON_GetArraySize(p) : 0, i = 0;
                weir_meta_step *steps = np ? weir_arena_calloc(a, np, sizeof *steps) : NULL;
                if (np && !steps) rc = weir_errorf(WEIR_ENOMEM, "arena full");
                for (const cJSON *x = np && !rc ? p->child : NULL; x && !rc; x = x->next, i++)
                    rc = read_step(s, a, x, &steps[i]);
                e->path = steps;
                e->npath = np;
            }
            token = cJSON_IsString(tok) ? strtoll(tok->valuestring, NULL, 10) : 0;
            cJSON_Delete(j);
        } while (!rc && token);
    }
    weir_buf_free(&q);
    if (!rc) {
        weir_meta_event *r = weir_arena_calloc(a, cnt ? cnt : 1, sizeof *r);
        if (!r) rc = weir_errorf(WEIR_ENOMEM, "arena full");
        else {
            if (cnt) memcpy(r, v, cnt * sizeof *r);
            *out = r;
            *n = cnt;
        }
    }
    free(v);
    return rc;
}

static weir_status rest_get_contexts_by_ids(weir_store_t *st, const int64_t *ids, size_t nids,
                                            weir_arena_t *a, weir_meta_context **out,
                                            size_t *n) {
    return get_by_ids(R(st), WEIR__META_NK_CTX, ids, nids, a, out, n);
}

static weir_status rest_get_contexts_by_type(weir_store_t *st, int64_t type_id,
                                             const weir_meta_list *l, weir_arena_t *a,
                                             weir_meta_context **out, size_t *n) {
    return list_q(R(st), WEIR__META_NK_CTX, "type_id", type_id, l, a, out, n);
}

static weir_status rest_get_context_by_type_and_name(weir_store_t *st, int64_t type_id,
                                                     const char *name, weir_arena_t *a,
                                                     weir_meta_context **out) {
    struct rest *s = R(st);
    weir_buf q;
    weir_meta_context *c = NULL;
    size_t n = 0;
    weir_buf_init(&q, 0);
    weir_status rc = weir_buf_printf(&q, "contexts?type_id=%lld", (long long)type_id);
    if (!rc) rc = qappend(s, &q, "name", name);
    if (!rc) rc = get_pages(s, (const char *)q.data, WEIR__META_NK_CTX, NULL, a, &c, &n);
    weir_buf_free(&q);
    if (rc) return rc;
    if (!n)
        return weir_errorf(WEIR_ENOENT, "metadata store %s: no context named '%s' of type %lld",
                           s->where, name, (long long)type_id);
    *out = c;
    return WEIR_OK;
}

static weir_status rest_get_related_contexts(weir_store_t *st, int which, int64_t id,
                                             weir_arena_t *a, weir_meta_context **out,
                                             size_t *n) {
    static const char *const filter[] = {"artifact", "execution", "child", "parent"};
    if (which < 0 || which > 3) return weir_errorf(WEIR_EINVAL, "related contexts: which=%d", which);
    return list_q(R(st), WEIR__META_NK_CTX, filter[which], id, NULL, a, out, n);
}

static weir_status rest_find_cached_execution(weir_store_t *st, const char *cache_key,
                                              int64_t type_id, int64_t *execution_id) {
    struct rest *s = R(st);
    weir_buf q;
    cJSON *j = NULL;
    weir_buf_init(&q, 0);
    weir_status rc = weir_buf_printf(&q, "cache?type_id=%lld", (long long)type_id);
    if (!rc) rc = qappend(s, &q, "key", cache_key);
    if (!rc) rc = call(s, "GET", (const char *)q.data, NULL, &j);
    weir_buf_free(&q);
    if (rc) return rc;
    const cJSON *x = F(j, "execution_id");
    if (cJSON_IsNumber(x)) *execution_id = (int64_t)x->valuedouble;
    else rc = bad_answer(s, "execution_id");
    cJSON_Delete(j);
    return rc;
}

/* ---------------------------------------------------------------- open */

static void rest_close(weir_store_t *st) {
    struct rest *s = R(st);
    if (s->curl) curl_easy_cleanup(s->curl);
    weir_buf_free(&s->answer);
    free(s->url);
    free(s->where);
    free(s->token_file);
    if (s->auth) {
        memset(s->auth, 0, strlen(s->auth));
        free(s->auth);
    }
    free(s);
}

static const struct weir_store_i rest_vt = {
    .name = "weir-server",
    .close = rest_close,
    .put_type = rest_put_type,
    .get_type = rest_get_type,
    .get_type_by_id = rest_get_type_by_id,
    .get_types = rest_get_types,
    .put_artifacts = rest_put_artifacts,
    .put_executions = rest_put_executions,
    .put_contexts = rest_put_contexts,
    .put_events = rest_put_events,
    .put_attributions_associations = rest_put_attributions_associations,
    .put_parent_contexts = rest_put_parent_contexts,
    .put_execution = rest_put_execution,
    .get_artifacts_by_ids = rest_get_artifacts_by_ids,
    .get_artifacts_by_type = rest_get_artifacts_by_type,
    .get_artifacts_by_uri = rest_get_artifacts_by_uri,
    .get_artifacts_by_context = rest_get_artifacts_by_context,
    .get_executions_by_ids = rest_get_executions_by_ids,
    .get_executions_by_type = rest_get_executions_by_type,
    .get_executions_by_context = rest_get_executions_by_context,
    .get_events = rest_get_events,
    .get_contexts_by_ids = rest_get_contexts_by_ids,
    .get_contexts_by_type = rest_get_contexts_by_type,
    .get_context_by_type_and_name = rest_get_context_by_type_and_name,
    .get_related_contexts = rest_get_related_contexts,
    .find_cached_execution = rest_find_cached_execution,
};

/* The token from the file `file` (first) or the text `env`, as a header
 * (malloc'd); NULL when there is none, or with *rc set on a file that
 * cannot be read. */
static char *token_header(const char *where, const char *file, const char *env, weir_status *rc) {
    char buf[4096];
    size_t n = 0;
    *rc = WEIR_OK;
    if (file && *file) {
        FILE *f = fopen(file, "r");
        if (!f) {
            *rc = weir_errorf(WEIR_EIO, "metadata server %s: $WEIR_METADATA_TOKEN_FILE=%s: %s",
                              where, file, strerror(errno));
            return NULL;
        }
        n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
    } else if (env && *env) {
        n = strlen(env) < sizeof buf - 1 ? strlen(env) : sizeof buf - 1;
        memcpy(buf, env, n);
    } else {
        return NULL;
    }
    buf[n] = 0;
    char *t = buf;
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r') t++;
    for (n = strlen(t); n && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\n' ||
                             t[n - 1] == '\r'); n--)
        t[n - 1] = 0;
    char *h = NULL;
    if (*t && asprintf(&h, "Authorization: Bearer %s", t) < 0) h = NULL;
    memset(buf, 0, sizeof buf);
    if (*t && !h) *rc = weir_errorf(WEIR_ENOMEM, "out of memory");
    return h;
}

static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

weir_status weir__meta_open_rest(const char *url, int readonly, weir_store_t **out) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, curl_init_once);
    struct rest *s = calloc(1, sizeof *s);
    weir_status rc = WEIR_OK;
    if (!s || !(s->url = strdup(url)) || !(s->where = weir_store_redact(url))) {
        rc = weir_errorf(WEIR_ENOMEM, "out of memory opening a metadata store");
        goto fail;
    }
    for (size_t n = strlen(s->url); n && s->url[n - 1] == '/'; n--) s->url[n - 1] = 0;
    s->base.vt = &rest_vt;
    s->readonly = readonly;
    weir_buf_init(&s->answer, ANSWER_MAX);
    const char *tf = getenv("WEIR_METADATA_TOKEN_FILE");
    s->auth = token_header(s->where, tf, getenv("WEIR_METADATA_TOKEN"), &rc);
    if (rc) goto fail;
    if (tf && *tf && !(s->token_file = strdup(tf))) {
        rc = weir_errorf(WEIR_ENOMEM, "out of memory opening a metadata store");
        goto fail;
    }
    if (!(s->curl = curl_easy_init())) {
        rc = weir_errorf(WEIR_ENOMEM, "out of memory opening a metadata store");
        goto fail;
    }
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, &s->answer);
    curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->err);
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, 300000L);
    curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "weir-meta");
    curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    /* one request proves the URL is a weir-server and the token (if any)
     * is accepted for reads */
    cJSON *j = NULL;
    if ((rc = call(s, "GET", "types?kind=context", NULL, &j))) goto fail;
    cJSON_Delete(j);
    *out = &s->base;
    return WEIR_OK;
fail:
    if (s) {
        s->base.vt = &rest_vt;
        rest_close(&s->base);
    }
    return rc;
}
