/*
 * common.c — what the metadata store's backends (sqlite.c, postgres.c) do
 * the same way whatever the database: the generic node and its mapping to
 * and from the public structs, the type cache, validation of types, nodes,
 * properties and events, the value encodings MLMD uses in its columns
 * (base64, the "mlmd-struct::" form), paging, and error texts that do not
 * depend on the database.
 *
 * For: code both backends would otherwise carry twice. Not for: anything
 * that runs a statement or knows a database's API (the backends), nor
 * argument checks done before the vtable is called (store.c).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "meta_internal.h"

const char *const weir__meta_node_word[3] = {"artifact", "execution", "context"};
const weir_meta_type_kind weir__meta_node_type_kind[3] = {
    WEIR_META_ARTIFACT_TYPE, WEIR_META_EXECUTION_TYPE, WEIR_META_CONTEXT_TYPE};

const char weir__meta_hint_unique[] =
    "; names are unique within a type and external ids unique per kind: "
    "pick another, or update the existing row by its id";

#define node_word weir__meta_node_word
#define node_type_kind weir__meta_node_type_kind

int64_t weir__meta_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ nodes */

struct weir__meta_node weir__meta_node_of_artifact(const weir_meta_artifact *x) {
    struct weir__meta_node n = {x->id,    x->type_id,     x->type_name,  x->uri,     x->name,
                                x->external_id, (int)x->state, x->props, x->custom, x->nprops,
                                x->ncustom, x->create_time_ms, x->update_time_ms};
    return n;
}

struct weir__meta_node weir__meta_node_of_execution(const weir_meta_execution *x) {
    struct weir__meta_node n = {x->id,    x->type_id,     x->type_name,  NULL,      x->name,
                                x->external_id, (int)x->state, x->props, x->custom, x->nprops,
                                x->ncustom, x->create_time_ms, x->update_time_ms};
    return n;
}

struct weir__meta_node weir__meta_node_of_context(const weir_meta_context *x) {
    struct weir__meta_node n = {x->id,    x->type_id,  x->type_name, NULL,      x->name,
                                x->external_id, 0,     x->props,     x->custom, x->nprops,
                                x->ncustom, x->create_time_ms, x->update_time_ms};
    return n;
}

/* The fields every kind has; the kind-specific ones are set by the caller. */
#define NODE_COMMON(r, v)                    \
    do {                                     \
        (r).id = (v).id;                     \
        (r).type_id = (v).type_id;           \
        (r).type_name = (v).type_name;       \
        (r).name = (v).name;                 \
        (r).external_id = (v).external_id;   \
        (r).props = (v).props;               \
        (r).nprops = (v).nprops;             \
        (r).custom = (v).custom;             \
        (r).ncustom = (v).ncustom;           \
        (r).create_time_ms = (v).ctime;      \
        (r).update_time_ms = (v).mtime;      \
    } while (0)

/* An array of cnt structs of `size` bytes in the arena; frees v on failure. */
static weir_status nodes_alloc(struct weir__meta_node *v, size_t cnt, size_t size,
                               weir_arena_t *a, const char *what, void **out) {
    *out = NULL;
    if (cnt && !(*out = weir_arena_calloc(a, cnt, size))) {
        free(v);
        return weir_errorf(WEIR_ENOMEM, "metadata store: arena full reading %s", what);
    }
    return WEIR_OK;
}

weir_status weir__meta_nodes_to_artifacts(struct weir__meta_node *v, size_t cnt, weir_arena_t *a,
                                          weir_meta_artifact **out, size_t *n) {
    weir_meta_artifact *r = NULL;
    weir_status ws = nodes_alloc(v, cnt, sizeof *r, a, "artifacts", (void **)&r);
    if (ws) return ws;
    for (size_t i = 0; i < cnt; i++) {
        NODE_COMMON(r[i], v[i]);
        r[i].uri = v[i].uri;
        r[i].state = (weir_meta_artifact_state)v[i].state;
    }
    free(v);
    *out = r;
    *n = cnt;
    return WEIR_OK;
}

weir_status weir__meta_nodes_to_executions(struct weir__meta_node *v, size_t cnt,
                                           weir_arena_t *a, weir_meta_execution **out,
                                           size_t *n) {
    weir_meta_execution *r = NULL;
    weir_status ws = nodes_alloc(v, cnt, sizeof *r, a, "executions", (void **)&r);
    if (ws) return ws;
    for (size_t i = 0; i < cnt; i++) {
        NODE_COMMON(r[i], v[i]);
        r[i].state = (weir_meta_execution_state)v[i].state;
    }
    free(v);
    *out = r;
    *n = cnt;
    return WEIR_OK;
}

weir_status weir__meta_nodes_to_contexts(struct weir__meta_node *v, size_t cnt, weir_arena_t *a,
                                         weir_meta_context **out, size_t *n) {
    weir_meta_context *r = NULL;
    weir_status ws = nodes_alloc(v, cnt, sizeof *r, a, "contexts", (void **)&r);
    if (ws) return ws;
    for (size_t i = 0; i < cnt; i++) NODE_COMMON(r[i], v[i]);
    free(v);
    *out = r;
    *n = cnt;
    return WEIR_OK;
}

weir_status weir__meta_node_type_id(const char *where, int kind, const struct weir__meta_node *n,
                                    size_t idx, weir__meta_type_find_fn find, void *ctx,
                                    int64_t *type_id) {
    weir_status ws;
    if (n->type_id > 0) {
        *type_id = n->type_id;
        return WEIR_OK;
    }
    if (!n->type_name || !*n->type_name)
        return weir_errorf(WEIR_EINVAL, "%s #%zu has neither type_id nor type_name; set one",
                           node_word[kind], idx);
    ws = find(ctx, node_type_kind[kind], n->type_name, NULL, type_id);
    if (ws) return ws;
    if (!*type_id)
        return weir_errorf(WEIR_ENOENT, "metadata store %s: %s #%zu names %s type '%s', which "
                           "does not exist; put the type first", where, node_word[kind], idx,
                           weir_meta_kind_name(node_type_kind[kind]), n->type_name);
    return WEIR_OK;
}

weir_status weir__meta_node_check(const char *where, int kind, const struct weir__meta_node *n,
                                  size_t idx, int64_t type_id, struct weir__meta_types *c,
                                  weir__meta_type_get_fn get, void *ctx,
                                  const char *proto_limit_db,
                                  const struct weir__meta_tcache **out) {
    const struct weir__meta_tcache *t = NULL;
    int undeclared = 0;
    weir_status ws = get(ctx, type_id, &t);
    if (ws) return weir_error_prefix(ws, "%s #%zu: ", node_word[kind], idx);
    if (t->kind != (int)node_type_kind[kind])
        return weir_errorf(WEIR_ETYPE, "%s #%zu: type %lld ('%s') is a%s %s type, not %s %s "
                           "type", node_word[kind], idx, (long long)type_id, t->name,
                           t->kind == WEIR_META_ARTIFACT_TYPE ? "n" : "",
                           weir_meta_kind_name((weir_meta_type_kind)t->kind),
                           kind == WEIR__META_NK_ART ? "an" : "a", node_word[kind]);
    if (kind == WEIR__META_NK_CTX && (!n->name || !*n->name))
        return weir_errorf(WEIR_EINVAL, "context #%zu of type '%s' has no name; contexts are "
                           "found by type and name", idx, t->name);
    if (kind == WEIR__META_NK_ART && (n->state < 0 || n->state > WEIR_META_ARTIFACT_REFERENCE))
        return weir_errorf(WEIR_EINVAL, "artifact #%zu: state %d is not an Artifact.State",
                           idx, n->state);
    if (kind == WEIR__META_NK_EXEC && (n->state < 0 || n->state > WEIR_META_EXEC_CANCELED))
        return weir_errorf(WEIR_EINVAL, "execution #%zu: state %d is not an Execution.State",
                           idx, n->state);
    ws = weir__meta_props_check(where, kind, t, n->props, n->nprops, 0, proto_limit_db,
                                &undeclared);
    if (ws && undeclared) {
        /* Another process may have added fields to the type: reload once. */
        weir__meta_types_drop(c, type_id);
        weir_status again = get(ctx, type_id, &t);
        if (again) return again;
        ws = weir__meta_props_check(where, kind, t, n->props, n->nprops, 0, proto_limit_db,
                                    &undeclared);
    }
    if (!ws)
        ws = weir__meta_props_check(where, kind, t, n->custom, n->ncustom, 1, proto_limit_db,
                                    &undeclared);
    if (ws) return ws;
    *out = t;
    return WEIR_OK;
}

weir_status weir__meta_event_check(int64_t artifact_id, int64_t execution_id,
                                   weir_meta_event_type type, const weir_meta_step *path,
                                   size_t npath, size_t idx) {
    if (type < WEIR_META_EVENT_DECLARED_OUTPUT || type > WEIR_META_EVENT_PENDING_OUTPUT)
        return weir_errorf(WEIR_EINVAL, "event #%zu (artifact %lld, execution %lld): type %d "
                           "is not an Event.Type; use INPUT, OUTPUT, ...", idx,
                           (long long)artifact_id, (long long)execution_id, (int)type);
    if (npath && !path)
        return weir_errorf(WEIR_EINVAL, "event #%zu: npath is %zu but path is NULL", idx, npath);
    return WEIR_OK;
}

void weir__meta_list_page(const weir_meta_list *l, int *desc, int64_t *cursor, int64_t *limit) {
    *desc = l && l->newest_first;
    *cursor = l && l->cursor > 0 ? l->cursor : (*desc ? INT64_MAX : 0);
    *limit = l && l->limit > 0 && l->limit < (size_t)INT64_MAX ? (int64_t)l->limit : -1;
}

/* ------------------------------------------------------------------ types */

void weir__meta_tprops_free(struct weir__meta_tprop *v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i].name);
    free(v);
}

void weir__meta_tcache_entry_free(struct weir__meta_tcache *t) {
    for (size_t i = 0; i < t->nprops; i++) free(t->props[i].name);
    free(t->props);
    free(t->name);
    memset(t, 0, sizeof *t);
}

const struct weir__meta_tcache *weir__meta_types_find(const struct weir__meta_types *c,
                                                      int64_t id) {
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].id == id) return &c->v[i];
    return NULL;
}

weir_status weir__meta_types_add(struct weir__meta_types *c, struct weir__meta_tcache *t,
                                 const struct weir__meta_tcache **out) {
    if (c->n == c->cap) {
        size_t nc = c->cap ? c->cap * 2 : 16;
        struct weir__meta_tcache *nv = realloc(c->v, nc * sizeof *nv);
        if (!nv) {
            int64_t id = t->id;
            weir__meta_tcache_entry_free(t);
            return weir_errorf(WEIR_ENOMEM, "out of memory caching type %lld", (long long)id);
        }
        c->v = nv;
        c->cap = nc;
    }
    c->v[c->n] = *t;
    *out = &c->v[c->n++];
    return WEIR_OK;
}

void weir__meta_types_drop(struct weir__meta_types *c, int64_t id) {
    for (size_t i = 0; i < c->n; i++) {
        if (c->v[i].id != id) continue;
        weir__meta_tcache_entry_free(&c->v[i]);
        c->v[i] = c->v[--c->n];
        return;
    }
}

void weir__meta_types_free(struct weir__meta_types *c) {
    for (size_t i = 0; i < c->n; i++) weir__meta_tcache_entry_free(&c->v[i]);
    free(c->v);
    memset(c, 0, sizeof *c);
}

const struct weir__meta_tprop *weir__meta_tprop_find(const struct weir__meta_tprop *p, size_t n,
                                                     const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].name, name) == 0) return &p[i];
    return NULL;
}

weir_status weir__meta_type_check_def(const weir_meta_type *t) {
    if (t->kind != WEIR_META_EXECUTION_TYPE && t->kind != WEIR_META_ARTIFACT_TYPE &&
        t->kind != WEIR_META_CONTEXT_TYPE)
        return weir_errorf(WEIR_EINVAL, "type '%s': kind %d is none of execution (0), "
                           "artifact (1), context (2)", t->name ? t->name : "", (int)t->kind);
    if (!t->name || !*t->name)
        return weir_errorf(WEIR_EINVAL, "%s type: the name is empty; every type needs a name",
                           weir_meta_kind_name(t->kind));
    for (size_t i = 0; i < t->nprops; i++) {
        const weir_meta_type_prop *p = &t->props[i];
        if (!p->name || !*p->name)
            return weir_errorf(WEIR_EINVAL, "type '%s': property #%zu has no name", t->name, i);
        if (p->type < WEIR_META_INT || p->type > WEIR_META_BOOLEAN)
            return weir_errorf(WEIR_EINVAL, "type '%s': property '%s' has value type %d; "
                               "use INT, DOUBLE, STRING, STRUCT, PROTO or BOOLEAN",
                               t->name, p->name, (int)p->type);
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->props[j].name, p->name) == 0)
                return weir_errorf(WEIR_EINVAL, "type '%s': property '%s' is declared twice",
                                   t->name, p->name);
    }
    return WEIR_OK;
}

weir_status weir__meta_type_merge(const char *where, const weir_meta_type *t, unsigned flags,
                                  int64_t id, const struct weir__meta_tprop *have, size_t nhave,
                                  weir__meta_prop_add_fn add, void *ctx) {
    weir_status ws;
    for (size_t i = 0; i < t->nprops; i++) {
        const weir_meta_type_prop *p = &t->props[i];
        const struct weir__meta_tprop *h = weir__meta_tprop_find(have, nhave, p->name);
        if (h && h->type != (int)p->type)
            return weir_errorf(WEIR_ECONFLICT, "metadata store %s: %s type '%s' exists with "
                               "property '%s' of type %s, not %s; give the new definition "
                               "another name or version", where,
                               weir_meta_kind_name(t->kind), t->name, p->name,
                               weir_meta_value_type_name((weir_meta_value_type)h->type),
                               weir_meta_value_type_name(p->type));
        if (h) continue;
        if (!(flags & WEIR_META_TYPE_CAN_ADD_FIELDS))
            return weir_errorf(WEIR_ECONFLICT, "metadata store %s: %s type '%s' exists "
                               "without property '%s'; pass WEIR_META_TYPE_CAN_ADD_FIELDS "
                               "to add it, or use another name or version", where,
                               weir_meta_kind_name(t->kind), t->name, p->name);
        ws = add(ctx, id, p, t->name);
        if (ws) return ws;
    }
    if (!(flags & WEIR_META_TYPE_CAN_OMIT_FIELDS)) {
        for (size_t i = 0; i < nhave; i++) {
            int found = 0;
            for (size_t j = 0; j < t->nprops && !found; j++)
                found = strcmp(t->props[j].name, have[i].name) == 0;
            if (!found)
                return weir_errorf(WEIR_ECONFLICT, "metadata store %s: %s type '%s' exists "
                                   "with property '%s' that the new definition lacks; pass "
                                   "WEIR_META_TYPE_CAN_OMIT_FIELDS, or use another name or "
                                   "version", where, weir_meta_kind_name(t->kind), t->name,
                                   have[i].name);
        }
    }
    return WEIR_OK;
}

weir_status weir__meta_type_props_fill(weir_arena_t *a, struct weir__meta_tprop *props, size_t n,
                                       weir_meta_type *t) {
    weir_status ws = WEIR_OK;
    if (n) {
        weir_meta_type_prop *tp = weir_arena_calloc(a, n, sizeof *tp);
        if (!tp) ws = weir_errorf(WEIR_ENOMEM, "metadata store: arena full reading a type");
        for (size_t i = 0; !ws && i < n; i++) {
            tp[i].name = weir_arena_strndup(a, props[i].name, strlen(props[i].name));
            tp[i].type = (weir_meta_value_type)props[i].type;
            if (!tp[i].name) ws = weir_errorf(WEIR_ENOMEM, "metadata store: arena full");
        }
        t->props = tp;
        t->nprops = n;
    }
    weir__meta_tprops_free(props, n);
    return ws;
}

/* ------------------------------------------------------------ properties */

weir_status weir__meta_props_check(const char *where, int kind, const struct weir__meta_tcache *t,
                                   const weir_meta_prop *p, size_t n, int custom,
                                   const char *proto_limit_db, int *undeclared) {
    *undeclared = 0;
    if (n && !p)
        return weir_errorf(WEIR_EINVAL, "%s of type '%s': %zu %sproperties at NULL",
                           node_word[kind], t->name, n, custom ? "custom " : "");
    for (size_t i = 0; i < n; i++) {
        const weir_meta_value *v = &p[i].value;
        const char *what = custom ? "custom property" : "property";
        if (!p[i].name || !*p[i].name)
            return weir_errorf(WEIR_EINVAL, "%s of type '%s': %s #%zu has no name",
                               node_word[kind], t->name, what, i);
        if (v->type < WEIR_META_INT || v->type > WEIR_META_BOOLEAN)
            return weir_errorf(WEIR_EINVAL, "%s of type '%s': %s '%s' has no value (type %d); "
                               "set value.type to INT, DOUBLE, STRING, STRUCT, PROTO or BOOLEAN",
                               node_word[kind], t->name, what, p[i].name, (int)v->type);
        if (v->type == WEIR_META_STRING && !v->s)
            return weir_errorf(WEIR_EINVAL, "%s of type '%s': string %s '%s' is NULL",
                               node_word[kind], t->name, what, p[i].name);
        if ((v->type == WEIR_META_STRUCT || v->type == WEIR_META_PROTO) && !v->s && v->len)
            return weir_errorf(WEIR_EINVAL, "%s of type '%s': %s '%s' has %zu bytes at NULL",
                               node_word[kind], t->name, what, p[i].name, v->len);
        if (v->type == WEIR_META_PROTO && v->len == 0)
            return weir_errorf(WEIR_EINVAL, "%s of type '%s': proto %s '%s' is empty; MLMD "
                               "needs a google.protobuf.Any with a type_url",
                               node_word[kind], t->name, what, p[i].name);
        if (proto_limit_db && v->type == WEIR_META_PROTO && v->len > INT_MAX)
            return weir_errorf(WEIR_ELIMIT, "%s of type '%s': proto %s '%s' has %zu bytes, "
                               "more than %s takes in one value", node_word[kind],
                               t->name, what, p[i].name, v->len, proto_limit_db);
        for (size_t j = 0; j < i; j++)
            if (strcmp(p[j].name, p[i].name) == 0)
                return weir_errorf(WEIR_EINVAL, "%s of type '%s': %s '%s' is given twice",
                                   node_word[kind], t->name, what, p[i].name);
        if (!custom) {
            const struct weir__meta_tprop *d = weir__meta_tprop_find(t->props, t->nprops, p[i].name);
            if (!d || d->type != (int)v->type) {
                *undeclared = 1;
                if (!d)
                    return weir_errorf(WEIR_EINVAL, "metadata store %s: %s property '%s' is not "
                                       "declared by type '%s'; declare it in the type or make "
                                       "it a custom property", where, node_word[kind],
                                       p[i].name, t->name);
                return weir_errorf(WEIR_ETYPE, "metadata store %s: %s property '%s' is %s but "
                                   "type '%s' declares it %s", where, node_word[kind],
                                   p[i].name, weir_meta_value_type_name(v->type), t->name,
                                   weir_meta_value_type_name((weir_meta_value_type)d->type));
            }
        }
    }
    return WEIR_OK;
}

/* ------------------------------------------------------------ encodings */

weir_status weir__meta_b64_decode_padded(weir_arena_t *a, const unsigned char *t, size_t m,
                                         const char **out, size_t *outlen) {
    size_t pad = 0;
    char *dst;
    int got;
    if (m > INT_MAX) return weir_errorf(WEIR_ELIMIT, "base64 value of %zu bytes is too large", m);
    while (pad < 2 && pad < m && t[m - 1 - pad] == '=') pad++;
    dst = weir_arena_alloc(a, m / 4 * 3 + 1);
    if (!dst) return weir_errorf(WEIR_ENOMEM, "metadata store: arena full decoding a value");
    got = EVP_DecodeBlock((unsigned char *)dst, t, (int)m);
    if (got < 0 || (size_t)got < pad) return WEIR_ECORRUPT;
    *outlen = (size_t)got - pad;
    dst[*outlen] = 0;
    *out = dst;
    return WEIR_OK;
}

weir_status weir__meta_struct_encode(weir_buf *b, const weir_meta_value *v) {
    weir_status ws;
    weir_buf_reset(b);
    ws = weir_buf_append_str(b, WEIR__META_STRUCT_PREFIX);
    if (!ws) ws = weir_b64_append(b, v->s, v->len);
    return ws;
}

int weir__meta_is_struct(const char *t, size_t len) {
    size_t pl = sizeof WEIR__META_STRUCT_PREFIX - 1;
    return t && len >= pl && memcmp(t, WEIR__META_STRUCT_PREFIX, pl) == 0;
}

/* ----------------------------------------------------------------- errors */

weir_status weir__meta_err_prop_empty(const char *where, const char *name, int kind, int64_t id) {
    return weir_errorf(WEIR_ECORRUPT, "metadata store %s: property '%s' of %s %lld has "
                       "no value in any *_value column; delete or rewrite that row",
                       where, name, node_word[kind], (long long)id);
}

weir_status weir__meta_err_prop_base64(const char *where, const char *name, int kind, int64_t id) {
    return weir_errorf(WEIR_ECORRUPT, "metadata store %s: property '%s' of %s %lld holds "
                       "malformed base64; rewrite the property", where, name,
                       node_word[kind], (long long)id);
}

weir_status weir__meta_check_version(const char *where, int64_t version, const char *fresh) {
    if (version == -1)
        return weir_errorf(WEIR_EAGAIN, "metadata store %s: MLMDEnv has no schema_version row; "
                           "another process may be creating the store: retry", where);
    if (version == -2)
        return weir_errorf(WEIR_ECORRUPT, "metadata store %s: MLMDEnv holds several "
                           "schema_version rows; keep only the right one", where);
    if (version < WEIR_META_SCHEMA_VERSION)
        return weir_errorf(WEIR_EUNSUPPORTED, "metadata store %s has ML-Metadata schema version "
                           "%lld, older than the %d that weir reads and writes; upgrade it by "
                           "opening it once with ml-metadata 1.17.1 (MetadataStore(config, "
                           "enable_upgrade_migration=True)), or use %s", where,
                           (long long)version, WEIR_META_SCHEMA_VERSION, fresh);
    if (version > WEIR_META_SCHEMA_VERSION)
        return weir_errorf(WEIR_EUNSUPPORTED, "metadata store %s has ML-Metadata schema version "
                           "%lld, newer than the %d that weir reads and writes; it was written "
                           "by a newer ml-metadata: downgrade it with that release, or use %s",
                           where, (long long)version, WEIR_META_SCHEMA_VERSION, fresh);
    return WEIR_OK;
}

/* ------------------------------------------------------ writing calls */

weir_status weir__meta_put_events(const struct weir__meta_ops *ops, void *be,
                                  const weir_meta_event *ev, size_t n) {
    int64_t now = weir__meta_now_ms();
    weir_status ws = ops->tx_begin(be);
    for (size_t i = 0; !ws && i < n; i++)
        ws = ops->event_put(be, ev[i].artifact_id, ev[i].execution_id, ev[i].type, ev[i].path,
                            ev[i].npath, ev[i].time_ms ? ev[i].time_ms : now, i);
    if (!ws) ws = ops->tx_commit(be);
    if (ws) ops->tx_rollback(be);
    return ws;
}

weir_status weir__meta_put_links(const struct weir__meta_ops *ops, void *be,
                                 const weir_meta_attribution *at, size_t nat,
                                 const weir_meta_association *as, size_t nas) {
    weir_status ws = ops->tx_begin(be);
    for (size_t i = 0; !ws && i < nat; i++) {
        ws = ops->node_must_exist(be, WEIR__META_NK_CTX, at[i].context_id, "an attribution");
        if (!ws)
            ws = ops->node_must_exist(be, WEIR__META_NK_ART, at[i].artifact_id, "an attribution");
        if (!ws) ws = ops->link_put(be, 1, at[i].context_id, at[i].artifact_id);
    }
    for (size_t i = 0; !ws && i < nas; i++) {
        ws = ops->node_must_exist(be, WEIR__META_NK_CTX, as[i].context_id, "an association");
        if (!ws)
            ws = ops->node_must_exist(be, WEIR__META_NK_EXEC, as[i].execution_id,
                                      "an association");
        if (!ws) ws = ops->link_put(be, 0, as[i].context_id, as[i].execution_id);
    }
    if (!ws) ws = ops->tx_commit(be);
    if (ws) ops->tx_rollback(be);
    return ws;
}

weir_status weir__meta_put_execution(const struct weir__meta_ops *ops, void *be,
                                     const weir_meta_execution *e,
                                     const weir_meta_artifact_event *items, size_t nitems,
                                     const weir_meta_context *contexts, size_t ncontexts,
                                     int64_t *execution_id, int64_t *artifact_ids,
                                     int64_t *context_ids) {
    int64_t now = weir__meta_now_ms(), eid = 0;
    int64_t *aids = NULL, *cids = NULL;
    weir_status ws = WEIR_OK;

    if ((nitems && !(aids = calloc(nitems, sizeof *aids))) ||
        (ncontexts && !(cids = calloc(ncontexts, sizeof *cids)))) {
        ws = weir_errorf(WEIR_ENOMEM, "out of memory putting an execution");
        goto out;
    }
    ws = ops->tx_begin(be);
    if (ws) {
        /* A begin may fail half way (PostgreSQL: BEGIN, then the lock). */
        ops->tx_rollback(be);
        goto out;
    }
    /* 1. artifacts */
    for (size_t i = 0; !ws && i < nitems; i++) {
        if (items[i].artifact) {
            struct weir__meta_node nd = weir__meta_node_of_artifact(items[i].artifact);
            ws = ops->node_put(be, WEIR__META_NK_ART, &nd, i, now, &aids[i]);
        } else {
            aids[i] = items[i].artifact_id;
            ws = ops->node_must_exist(be, WEIR__META_NK_ART, aids[i],
                                      "an artifact-and-event item");
        }
        if (ws) ws = weir_error_prefix(ws, "put_execution item %zu: ", i);
    }
    /* 2. the execution */
    if (!ws) {
        struct weir__meta_node nd = weir__meta_node_of_execution(e);
        ws = ops->node_put(be, WEIR__META_NK_EXEC, &nd, 0, now, &eid);
    }
    /* 3. events */
    for (size_t i = 0; !ws && i < nitems; i++) {
        if (items[i].event_type == WEIR_META_EVENT_UNKNOWN) continue;
        ws = ops->event_put(be, aids[i], eid, items[i].event_type, items[i].path, items[i].npath,
                            now, i);
    }
    /* 4. contexts, associations, attributions */
    for (size_t j = 0; !ws && j < ncontexts; j++) {
        struct weir__meta_node nd = weir__meta_node_of_context(&contexts[j]);
        if (!nd.id) {
            int64_t type_id = 0;
            ws = ops->node_type_id(be, WEIR__META_NK_CTX, &nd, j, &type_id);
            if (!ws) ws = ops->ctx_find(be, type_id, nd.name, &cids[j]);
            if (ws) break;
        }
        if (!cids[j]) ws = ops->node_put(be, WEIR__META_NK_CTX, &nd, j, now, &cids[j]);
        if (!ws) ws = ops->link_put(be, 0, cids[j], eid);
        for (size_t i = 0; !ws && i < nitems; i++) ws = ops->link_put(be, 1, cids[j], aids[i]);
    }
    if (!ws) ws = ops->tx_commit(be);
    if (ws) {
        ops->tx_rollback(be);
        goto out;
    }
    *execution_id = eid;
    if (nitems) memcpy(artifact_ids, aids, nitems * sizeof *aids);
    if (ncontexts) memcpy(context_ids, cids, ncontexts * sizeof *cids);
out:
    free(aids);
    free(cids);
    return ws;
}

/* ------------------------------------------------------------------ reads */

/* The cap of an id list, as the backends' own. */
#define VEC_MAX ((size_t)1 << 31)
#define IDS(buf) ((const int64_t *)(const void *)(buf).data)
#define NIDS(buf) ((buf).len / sizeof(int64_t))

weir_status weir__meta_read_artifacts(const struct weir__meta_ops *ops, void *be,
                                      const int64_t *ids, size_t nids, weir_arena_t *a,
                                      weir_meta_artifact **out, size_t *n) {
    struct weir__meta_node *v = NULL;
    size_t cnt = 0;
    weir_status ws = ops->nodes_read(be, WEIR__META_NK_ART, ids, nids, a, &v, &cnt);
    if (ws) return ws;
    return weir__meta_nodes_to_artifacts(v, cnt, a, out, n);
}

weir_status weir__meta_read_executions(const struct weir__meta_ops *ops, void *be,
                                       const int64_t *ids, size_t nids, weir_arena_t *a,
                                       weir_meta_execution **out, size_t *n) {
    struct weir__meta_node *v = NULL;
    size_t cnt = 0;
    weir_status ws = ops->nodes_read(be, WEIR__META_NK_EXEC, ids, nids, a, &v, &cnt);
    if (ws) return ws;
    return weir__meta_nodes_to_executions(v, cnt, a, out, n);
}

weir_status weir__meta_read_contexts(const struct weir__meta_ops *ops, void *be,
                                     const int64_t *ids, size_t nids, weir_arena_t *a,
                                     weir_meta_context **out, size_t *n) {
    struct weir__meta_node *v = NULL;
    size_t cnt = 0;
    weir_status ws = ops->nodes_read(be, WEIR__META_NK_CTX, ids, nids, a, &v, &cnt);
    if (ws) return ws;
    return weir__meta_nodes_to_contexts(v, cnt, a, out, n);
}

weir_status weir__meta_list_artifacts(const struct weir__meta_ops *ops, void *be, int by_ctx,
                                      int64_t key, const weir_meta_list *l, weir_arena_t *a,
                                      weir_meta_artifact **out, size_t *n) {
    weir_buf ids;
    weir_status ws;
    weir_buf_init(&ids, VEC_MAX);
    ws = ops->list_ids(be, WEIR__META_NK_ART, by_ctx, key, l, &ids);
    if (!ws) ws = weir__meta_read_artifacts(ops, be, IDS(ids), NIDS(ids), a, out, n);
    weir_buf_free(&ids);
    return ws;
}

weir_status weir__meta_list_executions(const struct weir__meta_ops *ops, void *be, int by_ctx,
                                       int64_t key, const weir_meta_list *l, weir_arena_t *a,
                                       weir_meta_execution **out, size_t *n) {
    weir_buf ids;
    weir_status ws;
    weir_buf_init(&ids, VEC_MAX);
    ws = ops->list_ids(be, WEIR__META_NK_EXEC, by_ctx, key, l, &ids);
    if (!ws) ws = weir__meta_read_executions(ops, be, IDS(ids), NIDS(ids), a, out, n);
    weir_buf_free(&ids);
    return ws;
}

weir_status weir__meta_list_contexts(const struct weir__meta_ops *ops, void *be, int by_ctx,
                                     int64_t key, const weir_meta_list *l, weir_arena_t *a,
                                     weir_meta_context **out, size_t *n) {
    weir_buf ids;
    weir_status ws;
    weir_buf_init(&ids, VEC_MAX);
    ws = ops->list_ids(be, WEIR__META_NK_CTX, by_ctx, key, l, &ids);
    if (!ws) ws = weir__meta_read_contexts(ops, be, IDS(ids), NIDS(ids), a, out, n);
    weir_buf_free(&ids);
    return ws;
}

weir_status weir__meta_get_context_by_name(const struct weir__meta_ops *ops, void *be,
                                           const char *where, int64_t type_id, const char *name,
                                           weir_arena_t *a, weir_meta_context **out) {
    weir_meta_context *v = NULL;
    size_t n = 0;
    int64_t id = 0;
    weir_status ws = ops->ctx_find(be, type_id, name, &id);
    if (ws) return ws;
    if (!id)
        return weir_errorf(WEIR_ENOENT, "metadata store %s: no context named '%s' of type %lld",
                           where, name, (long long)type_id);
    ws = weir__meta_read_contexts(ops, be, &id, 1, a, &v, &n);
    if (ws) return ws;
    if (n != 1)
        return weir_errorf(WEIR_EAGAIN, "metadata store %s: context '%s' vanished while read; "
                           "retry", where, name);
    *out = v;
    return WEIR_OK;
}

weir_status weir__meta_get_type_by_id(const struct weir__meta_ops *ops, void *be, int64_t id,
                                      weir_arena_t *a, weir_meta_type **out) {
    weir_meta_type *t = weir_arena_calloc(a, 1, sizeof *t);
    weir_status ws;
    if (!t) return weir_errorf(WEIR_ENOMEM, "metadata store: arena full");
    ws = ops->type_read(be, id, a, t);
    if (ws) return ws;
    *out = t;
    return WEIR_OK;
}

weir_status weir__meta_get_type(const struct weir__meta_ops *ops, void *be, const char *where,
                                weir_meta_type_kind kind, const char *name, const char *version,
                                weir_arena_t *a, weir_meta_type **out) {
    int64_t id = 0;
    weir_status ws = ops->type_find(be, kind, name, version, &id);
    if (ws) return ws;
    if (!id)
        return weir_errorf(WEIR_ENOENT, "metadata store %s: no %s type '%s'%s%s", where,
                           weir_meta_kind_name(kind), name, version ? " version " : "",
                           version ? version : "");
    return weir__meta_get_type_by_id(ops, be, id, a, out);
}
