/*
 * store.c — the public weir_store_* calls: argument checks shared by every
 * backend, then a call through the backend's vtable; and the enum names.
 *
 * For: what does not depend on a backend, and picking the backend from a
 * path or URL. Not for: SQL (sqlite.c, postgres.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta_internal.h"

const char *weir_meta_kind_name(weir_meta_type_kind k) {
    switch (k) {
    case WEIR_META_EXECUTION_TYPE: return "execution";
    case WEIR_META_ARTIFACT_TYPE: return "artifact";
    case WEIR_META_CONTEXT_TYPE: return "context";
    }
    return "?";
}

const char *weir_meta_value_type_name(weir_meta_value_type t) {
    static const char *const names[] = {"UNKNOWN", "INT",   "DOUBLE", "STRING",
                                        "STRUCT",  "PROTO", "BOOLEAN"};
    return (unsigned)t < sizeof names / sizeof *names ? names[t] : "?";
}

const char *weir_meta_artifact_state_name(weir_meta_artifact_state s) {
    static const char *const names[] = {"UNKNOWN", "PENDING",   "LIVE",     "MARKED_FOR_DELETION",
                                        "DELETED", "ABANDONED", "REFERENCE"};
    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}

const char *weir_meta_execution_state_name(weir_meta_execution_state s) {
    static const char *const names[] = {"UNKNOWN", "NEW",    "RUNNING", "COMPLETE",
                                        "FAILED",  "CACHED", "CANCELED"};
    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}

const char *weir_meta_event_type_name(weir_meta_event_type t) {
    static const char *const names[] = {"UNKNOWN",        "DECLARED_OUTPUT", "DECLARED_INPUT",
                                        "INPUT",          "OUTPUT",          "INTERNAL_INPUT",
                                        "INTERNAL_OUTPUT", "PENDING_OUTPUT"};
    return (unsigned)t < sizeof names / sizeof *names ? names[t] : "?";
}

const weir_meta_prop *weir_meta_prop_find(const weir_meta_prop *props, size_t n,
                                          const char *name) {
    for (size_t i = 0; props && name && i < n; i++)
        if (props[i].name && strcmp(props[i].name, name) == 0) return &props[i];
    return NULL;
}

/* ------------------------------------------------------------- opening */

static int is_postgres_url(const char *s) {
    return strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0;
}

weir_status weir_store_open(const char *path_or_url, int readonly, weir_store_t **out) {
    weir_store_sqlite_opts o = {0};
    if (!path_or_url || !*path_or_url || !out)
        return weir_errorf(WEIR_EINVAL, "weir_store_open: path_or_url and out must be set");
    if (is_postgres_url(path_or_url))
        return weir__meta_open_postgres(path_or_url, readonly, out);
    if (strncmp(path_or_url, "http://", 7) == 0 || strncmp(path_or_url, "https://", 8) == 0)
        return weir__meta_open_rest(path_or_url, readonly, out);
    o.readonly = readonly;
    return weir_store_open_sqlite_ex(path_or_url, &o, out);
}

weir_status weir_store_open_postgres(const char *url, weir_store_t **out) {
    return weir__meta_open_postgres(url, 0, out);
}

#ifndef WEIR_HAVE_POSTGRES
weir_status weir__meta_open_postgres(const char *url, int readonly, weir_store_t **out) {
    (void)url; /* may hold a password: not repeated */
    (void)readonly;
    (void)out;
    return weir_errorf(WEIR_EUNSUPPORTED, "PostgreSQL metadata store: this weir was built "
                       "without PostgreSQL support; rebuild with -DWEIR_POSTGRES=ON (needs "
                       "libpq), or use a SQLite path");
}
#endif

/* ------------------------------------------------------------ dispatch */

#define NEED(cond, what)                                                           \
    do {                                                                           \
        if (!(cond))                                                               \
            return weir_errorf(WEIR_EINVAL, "%s: %s (a bug in the caller)", __func__, \
                               what);                                              \
    } while (0)
#define NEED_STORE() NEED(s && s->vt, "store is NULL")
#define NEED_ARRAY(p, n) NEED((p) || (n) == 0, #p " is NULL but " #n " > 0")
#define NEED_OUT(a, out, n) \
    NEED((a) && (out) && (n), "arena and out-parameters must not be NULL")

void weir_store_close(weir_store_t *s) {
    if (s && s->vt) s->vt->close(s);
}

const char *weir_store_backend(const weir_store_t *s) {
    return s && s->vt ? s->vt->name : "?";
}

weir_status weir_store_put_type(weir_store_t *s, const weir_meta_type *type, unsigned flags,
                                int64_t *id) {
    NEED_STORE();
    NEED(type && id, "type and id must not be NULL");
    NEED_ARRAY(type->props, type->nprops);
    return s->vt->put_type(s, type, flags, id);
}

weir_status weir_store_get_type(weir_store_t *s, weir_meta_type_kind kind, const char *name,
                                const char *version, weir_arena_t *arena,
                                weir_meta_type **out) {
    NEED_STORE();
    NEED(name && arena && out, "name, arena and out must not be NULL");
    return s->vt->get_type(s, kind, name, version, arena, out);
}

weir_status weir_store_get_type_by_id(weir_store_t *s, int64_t id, weir_arena_t *arena,
                                      weir_meta_type **out) {
    NEED_STORE();
    NEED(arena && out, "arena and out must not be NULL");
    return s->vt->get_type_by_id(s, id, arena, out);
}

weir_status weir_store_get_types(weir_store_t *s, weir_meta_type_kind kind,
                                 weir_arena_t *arena, weir_meta_type **out, size_t *n) {
    NEED_STORE();
    NEED_OUT(arena, out, n);
    return s->vt->get_types(s, kind, arena, out, n);
}

weir_status weir_store_put_artifacts(weir_store_t *s, const weir_meta_artifact *a, size_t n,
                                     int64_t *ids) {
    NEED_STORE();
    NEED_ARRAY(a, n);
    NEED_ARRAY(ids, n);
    return s->vt->put_artifacts(s, a, n, ids);
}

weir_status weir_store_put_executions(weir_store_t *s, const weir_meta_execution *e,
                                      size_t n, int64_t *ids) {
    NEED_STORE();
    NEED_ARRAY(e, n);
    NEED_ARRAY(ids, n);
    return s->vt->put_executions(s, e, n, ids);
}

weir_status weir_store_put_contexts(weir_store_t *s, const weir_meta_context *c, size_t n,
                                    int64_t *ids) {
    NEED_STORE();
    NEED_ARRAY(c, n);
    NEED_ARRAY(ids, n);
    return s->vt->put_contexts(s, c, n, ids);
}

weir_status weir_store_put_events(weir_store_t *s, const weir_meta_event *ev, size_t n) {
    NEED_STORE();
    NEED_ARRAY(ev, n);
    return s->vt->put_events(s, ev, n);
}

weir_status weir_store_put_attributions_associations(weir_store_t *s,
                                                     const weir_meta_attribution *at, size_t nat,
                                                     const weir_meta_association *as,
                                                     size_t nas) {
    NEED_STORE();
    NEED_ARRAY(at, nat);
    NEED_ARRAY(as, nas);
    return s->vt->put_attributions_associations(s, at, nat, as, nas);
}

weir_status weir_store_put_parent_contexts(weir_store_t *s, const weir_meta_parent_context *p,
                                           size_t n) {
    NEED_STORE();
    NEED_ARRAY(p, n);
    return s->vt->put_parent_contexts(s, p, n);
}

weir_status weir_store_put_execution(weir_store_t *s, const weir_meta_execution *execution,
                                     const weir_meta_artifact_event *items, size_t nitems,
                                     const weir_meta_context *contexts, size_t ncontexts,
                                     int64_t *execution_id, int64_t *artifact_ids,
                                     int64_t *context_ids) {
    NEED_STORE();
    NEED(execution && execution_id, "execution and execution_id must not be NULL");
    NEED_ARRAY(items, nitems);
    NEED_ARRAY(artifact_ids, nitems);
    NEED_ARRAY(contexts, ncontexts);
    NEED_ARRAY(context_ids, ncontexts);
    return s->vt->put_execution(s, execution, items, nitems, contexts, ncontexts,
                                execution_id, artifact_ids, context_ids);
}

weir_status weir_store_get_artifacts_by_ids(weir_store_t *s, const int64_t *ids, size_t nids,
                                            weir_arena_t *arena, weir_meta_artifact **out,
                                            size_t *n) {
    NEED_STORE();
    NEED_ARRAY(ids, nids);
    NEED_OUT(arena, out, n);
    return s->vt->get_artifacts_by_ids(s, ids, nids, arena, out, n);
}

weir_status weir_store_get_artifacts_by_type(weir_store_t *s, int64_t type_id,
                                             const weir_meta_list *list, weir_arena_t *arena,
                                             weir_meta_artifact **out, size_t *n) {
    NEED_STORE();
    NEED_OUT(arena, out, n);
    return s->vt->get_artifacts_by_type(s, type_id, list, arena, out, n);
}

weir_status weir_store_get_artifacts_by_uri(weir_store_t *s, const char *uri,
                                            weir_arena_t *arena, weir_meta_artifact **out,
                                            size_t *n) {
    NEED_STORE();
    NEED(uri, "uri must not be NULL");
    NEED_OUT(arena, out, n);
    return s->vt->get_artifacts_by_uri(s, uri, arena, out, n);
}

weir_status weir_store_get_artifacts_by_context(weir_store_t *s, int64_t context_id,
                                                const weir_meta_list *list, weir_arena_t *arena,
                                                weir_meta_artifact **out, size_t *n) {
    NEED_STORE();
    NEED_OUT(arena, out, n);
    return s->vt->get_artifacts_by_context(s, context_id, list, arena, out, n);
}

weir_status weir_store_get_executions_by_ids(weir_store_t *s, const int64_t *ids, size_t nids,
                                             weir_arena_t *arena, weir_meta_execution **out,
                                             size_t *n) {
    NEED_STORE();
    NEED_ARRAY(ids, nids);
    NEED_OUT(arena, out, n);
    return s->vt->get_executions_by_ids(s, ids, nids, arena, out, n);
}

weir_status weir_store_get_executions_by_type(weir_store_t *s, int64_t type_id,
                                              const weir_meta_list *list, weir_arena_t *arena,
                                              weir_meta_execution **out, size_t *n) {
    NEED_STORE();
    NEED_OUT(arena, out, n);
    return s->vt->get_executions_by_type(s, type_id, list, arena, out, n);
}

weir_status weir_store_get_executions_by_context(weir_store_t *s, int64_t context_id,
                                                 const weir_meta_list *list,
                                                 weir_arena_t *arena, weir_meta_execution **out,
                                                 size_t *n) {
    NEED_STORE();
    NEED_OUT(arena, out, n);
    return s->vt->get_executions_by_context(s, context_id, list, arena, out, n);
}

weir_status weir_store_get_events_by_execution_ids(weir_store_t *s, const int64_t *ids,
                                                   size_t nids, weir_arena_t *arena,
                                                   weir_meta_event **out, size_t *n) {
    NEED_STORE();
    NEED_ARRAY(ids, nids);
    NEED_OUT(arena, out, n);
    return s->vt->get_events(s, 0, ids, nids, arena, out, n);
}

weir_status weir_store_get_events_by_artifact_ids(weir_store_t *s, const int64_t *ids,
                                                  size_t nids, weir_arena_t *arena,
                                                  weir_meta_event **out, size_t *n) {
    NEED_STORE();
    NEED_ARRAY(ids, nids);
    NEED_OUT(arena, out, n);
    return s->vt->get_events(s, 1, ids, nids, arena, out, n);
}

weir_status weir_store_get_contexts_by_ids(weir_store_t *s, const int64_t *ids, size_t nids,
                                           weir_arena_t *arena, weir_meta_context **out,
                                           size_t *n) {
    NEED_STORE();
    NEED_ARRAY(ids, nids);
    NEED_OUT(arena, out, n);
    return s->vt->get_contexts_by_ids(s, ids, nids, arena, out, n);
}

weir_status weir_store_get_contexts_by_type(weir_store_t *s, int64_t type_id,
                                            const weir_meta_list *list, weir_arena_t *arena,
                                            weir_meta_context **out, size_t *n) {
    NEED_STORE();
    NEED_OUT(arena, out, n);
    return s->vt->get_contexts_by_type(s, type_id, list, arena, out, n);
}

weir_status weir_store_get_context_by_type_and_name(weir_store_t *s, int64_t type_id,
                                                    const char *name, weir_arena_t *arena,
                                                    weir_meta_context **out) {
    NEED_STORE();
    NEED(name && arena && out, "name, arena and out must not be NULL");
    return s->vt->get_context_by_type_and_name(s, type_id, name, arena, out);
}

weir_status weir_store_get_contexts_by_artifact(weir_store_t *s, int64_t artifact_id,
                                                weir_arena_t *arena, weir_meta_context **out,
                                                size_t *n) {
    NEED_STORE();
    NEED_OUT(arena, out, n);
    return s->vt->get_related_contexts(s, 0, artifact_id, arena, out, n);
}

weir_status weir_store_get_contexts_by_execution(weir_store_t *s, int64_t execution_id,
                                                 weir_arena_t *arena, weir_meta_context **out,
                                                 size_t *n) {
    NEED_STORE();
    NEED_OUT(arena, out, n);
    return s->vt->get_related_contexts(s, 1, execution_id, arena, out, n);
}

weir_status weir_store_get_parent_contexts(weir_store_t *s, int64_t context_id,
                                           weir_arena_t *arena, weir_meta_context **out,
                                           size_t *n) {
    NEED_STORE();
    NEED_OUT(arena, out, n);
    return s->vt->get_related_contexts(s, 2, context_id, arena, out, n);
}

weir_status weir_store_get_child_contexts(weir_store_t *s, int64_t context_id,
                                          weir_arena_t *arena, weir_meta_context **out,
                                          size_t *n) {
    NEED_STORE();
    NEED_OUT(arena, out, n);
    return s->vt->get_related_contexts(s, 3, context_id, arena, out, n);
}

weir_status weir_store_find_cached_execution(weir_store_t *s, const char *cache_key,
                                             int64_t execution_type_id,
                                             int64_t *execution_id) {
    NEED_STORE();
    NEED(cache_key && execution_id, "cache_key and execution_id must not be NULL");
    return s->vt->find_cached_execution(s, cache_key, execution_type_id, execution_id);
}

char *weir_store_redact(const char *url) {
    const char *scheme = strstr(url, "://"), *at, *colon, *end;
    size_t n = strlen(url);
    if (!scheme) return strdup(url);
    scheme += 3;
    end = scheme + strcspn(scheme, "/?");
    at = memchr(scheme, '@', (size_t)(end - scheme));
    colon = at ? memchr(scheme, ':', (size_t)(at - scheme)) : NULL;
    if (!colon) return strdup(url);
    char *out = malloc(n + 4);
    if (!out) return NULL;
    snprintf(out, n + 4, "%.*s***%s", (int)(colon + 1 - url), url, at);
    return out;
}
