/*
 * meta_internal.h — what lib/meta's backends share and nothing outside
 * lib/meta sees: the handle every backend's store begins with, and the
 * backend-independent helpers of common.c.
 */
#ifndef WEIR_META_INTERNAL_H
#define WEIR_META_INTERNAL_H

#include "weir/meta.h"

/* The first member of every backend's handle. */
struct weir_store {
    const struct weir_store_i *vt;
};

/* The SQL text of the SQLite backend's cache lookup (with an execution type),
 * so a test can ask SQLite for its query plan. */
extern const char weir__meta_sqlite_cache_sql[];

/* rest.c: the store through weir-server's API (http:// or https://). */
weir_status weir__meta_open_rest(const char *url, int readonly, weir_store_t **out);

/* postgres.c; without WEIR_POSTGRES, store.c's version that answers
 * WEIR_EUNSUPPORTED saying how to build with it. */
weir_status weir__meta_open_postgres(const char *url, int readonly, weir_store_t **out);

/* ------------------------------------------------------------------------
 * common.c: what both backends (sqlite.c, postgres.c) do the same way,
 * whatever the database: the generic node, the type cache, validation of
 * types and properties, the value encodings MLMD uses in its columns, and
 * the texts of the errors that do not depend on the database. `where` is
 * how a backend names its store in messages (the path, or the URL).
 * ------------------------------------------------------------------------ */

#include <stddef.h>
#include <stdint.h>

/* The three node kinds, in the order of the backends' statement tables. */
enum weir__meta_node_kind { WEIR__META_NK_ART, WEIR__META_NK_EXEC, WEIR__META_NK_CTX };

/* "artifact", "execution", "context" and their type kinds, by node kind. */
extern const char *const weir__meta_node_word[3];
extern const weir_meta_type_kind weir__meta_node_type_kind[3];

/* A google.protobuf.Struct in string_value: this prefix, then base64. */
#define WEIR__META_STRUCT_PREFIX "mlmd-struct::"

/* The generic node that the three public structs map onto. */
struct weir__meta_node {
    int64_t id, type_id;
    const char *type_name, *uri, *name, *external_id;
    int state;
    const weir_meta_prop *props, *custom;
    size_t nprops, ncustom;
    int64_t ctime, mtime;
};

/* Views of the public structs as nodes; they borrow x's strings. */
struct weir__meta_node weir__meta_node_of_artifact(const weir_meta_artifact *x);
struct weir__meta_node weir__meta_node_of_execution(const weir_meta_execution *x);
struct weir__meta_node weir__meta_node_of_context(const weir_meta_context *x);

/* Nodes read by a backend into public structs in the arena (the strings
 * stay where they are). Take ownership of the malloc'd `v` and free it. */
weir_status weir__meta_nodes_to_artifacts(struct weir__meta_node *v, size_t cnt, weir_arena_t *a,
                                          weir_meta_artifact **out, size_t *n);
weir_status weir__meta_nodes_to_executions(struct weir__meta_node *v, size_t cnt,
                                           weir_arena_t *a, weir_meta_execution **out,
                                           size_t *n);
weir_status weir__meta_nodes_to_contexts(struct weir__meta_node *v, size_t cnt, weir_arena_t *a,
                                         weir_meta_context **out, size_t *n);

/* A declared property of a type: its name (malloc'd) and value type. */
struct weir__meta_tprop {
    char *name;
    int type;
};

/* A type as validation needs it, cached on the handle (types are few and
 * only grow). */
struct weir__meta_tcache {
    int64_t id;
    int kind;
    char *name;
    struct weir__meta_tprop *props;
    size_t nprops;
};

/* The cache of types a handle keeps; all zero is empty. */
struct weir__meta_types {
    struct weir__meta_tcache *v;
    size_t n, cap;
};

/* Frees a malloc'd array of declared properties and their names. */
void weir__meta_tprops_free(struct weir__meta_tprop *v, size_t n);
void weir__meta_tcache_entry_free(struct weir__meta_tcache *t);
/* The cached type `id`, or NULL. */
const struct weir__meta_tcache *weir__meta_types_find(const struct weir__meta_types *c,
                                                      int64_t id);
/* Adds `t` (taking ownership: freed on failure) and points *out at it. */
weir_status weir__meta_types_add(struct weir__meta_types *c, struct weir__meta_tcache *t,
                                 const struct weir__meta_tcache **out);
/* Forgets type `id` (it changed in the database). */
void weir__meta_types_drop(struct weir__meta_types *c, int64_t id);
void weir__meta_types_free(struct weir__meta_types *c);

const struct weir__meta_tprop *weir__meta_tprop_find(const struct weir__meta_tprop *p, size_t n,
                                                     const char *name);

/* Checks a type definition before it is put. */
weir_status weir__meta_type_check_def(const weir_meta_type *t);

/* Declares property `p` on type `id` (named type_name) in the database. */
typedef weir_status (*weir__meta_prop_add_fn)(void *ctx, int64_t id, const weir_meta_type_prop *p,
                                              const char *type_name);

/* Compares definition `t` with the properties `have` that type `id` has in
 * the database: a property of another value type, or (without the flags)
 * an added or an omitted one, is a WEIR_ECONFLICT; each added one is
 * declared with add(ctx, ...), in t's order. */
weir_status weir__meta_type_merge(const char *where, const weir_meta_type *t, unsigned flags,
                                  int64_t id, const struct weir__meta_tprop *have, size_t nhave,
                                  weir__meta_prop_add_fn add, void *ctx);

/* Copies declared properties into t->props (arena) and frees `props`. */
weir_status weir__meta_type_props_fill(weir_arena_t *a, struct weir__meta_tprop *props, size_t n,
                                       weir_meta_type *t);

/* Checks n properties of a node of `kind` against its type t; custom ones
 * only for form. *undeclared is set when a declared property is missing
 * from t or of another type (t may be stale: reload it and check again).
 * A proto value over INT_MAX bytes is refused naming `proto_limit_db` when
 * that is not NULL. */
weir_status weir__meta_props_check(const char *where, int kind, const struct weir__meta_tcache *t,
                                   const weir_meta_prop *p, size_t n, int custom,
                                   const char *proto_limit_db, int *undeclared);

/* The type id a node names, by id or (through find) by name. */
typedef weir_status (*weir__meta_type_find_fn)(void *ctx, weir_meta_type_kind kind,
                                               const char *name, const char *version,
                                               int64_t *id);
weir_status weir__meta_node_type_id(const char *where, int kind, const struct weir__meta_node *n,
                                    size_t idx, weir__meta_type_find_fn find, void *ctx,
                                    int64_t *type_id);

/* Checks node #idx of `kind` with type type_id before it is put: the type
 * (cached in c, loaded through get) is of the node's kind, the state is
 * one of its kind, the properties fit the type (reloading the type once
 * when they do not). *out is the type. */
typedef weir_status (*weir__meta_type_get_fn)(void *ctx, int64_t id,
                                              const struct weir__meta_tcache **out);
weir_status weir__meta_node_check(const char *where, int kind, const struct weir__meta_node *n,
                                  size_t idx, int64_t type_id, struct weir__meta_types *c,
                                  weir__meta_type_get_fn get, void *ctx,
                                  const char *proto_limit_db,
                                  const struct weir__meta_tcache **out);

/* Checks an event's type and path before it is put. */
weir_status weir__meta_event_check(int64_t artifact_id, int64_t execution_id,
                                   weir_meta_event_type type, const weir_meta_step *path,
                                   size_t npath, size_t idx);

/* Milliseconds since the epoch, as MLMD stores times. */
int64_t weir__meta_now_ms(void);

/* Decodes m bytes of base64 text already padded to a multiple of 4 into
 * the arena, NUL-terminated; WEIR_ECORRUPT (no message) when malformed. */
weir_status weir__meta_b64_decode_padded(weir_arena_t *a, const unsigned char *t, size_t m,
                                         const char **out, size_t *outlen);
/* b = STRUCT_PREFIX + base64 of the value's bytes (b reset first). */
weir_status weir__meta_struct_encode(weir_buf *b, const weir_meta_value *v);
/* Does a string_value of len bytes hold a Struct (the prefix)? */
int weir__meta_is_struct(const char *t, size_t len);

/* A property row with no value in any column; one with bad base64. */
weir_status weir__meta_err_prop_empty(const char *where, const char *name, int kind, int64_t id);
weir_status weir__meta_err_prop_base64(const char *where, const char *name, int kind, int64_t id);

/* Paging of a list: which way, the first cursor, the limit (-1: none). */
void weir__meta_list_page(const weir_meta_list *l, int *desc, int64_t *cursor, int64_t *limit);

/* MLMDEnv's schema_version (-1: no row, -2: several) against ours;
 * `fresh` says what else to use ("a fresh path"). */
weir_status weir__meta_check_version(const char *where, int64_t version, const char *fresh);

/* What the writing calls below need of a backend; `be` is its handle. */
struct weir__meta_ops {
    weir_status (*tx_begin)(void *be);
    weir_status (*tx_commit)(void *be);
    void (*tx_rollback)(void *be);
    /* Inserts (id 0) or updates node #idx of `kind` with its properties. */
    weir_status (*node_put)(void *be, int kind, const struct weir__meta_node *n, size_t idx,
                            int64_t now, int64_t *out_id);
    /* WEIR_ENOENT naming `role` when node `id` of `kind` does not exist. */
    weir_status (*node_must_exist)(void *be, int kind, int64_t id, const char *role);
    /* The type id a node names (weir__meta_node_type_id). */
    weir_status (*node_type_id)(void *be, int kind, const struct weir__meta_node *n, size_t idx,
                                int64_t *type_id);
    /* The id of the context of type type_id named `name`; 0 when none. */
    weir_status (*ctx_find)(void *be, int64_t type_id, const char *name, int64_t *id);
    /* Inserts event #idx with its path (the nodes are checked). */
    weir_status (*event_put)(void *be, int64_t artifact_id, int64_t execution_id,
                             weir_meta_event_type type, const weir_meta_step *path,
                             size_t npath, int64_t time_ms, size_t idx);
    /* Links context ctx with artifact (attribution) or execution `other`. */
    weir_status (*link_put)(void *be, int attribution, int64_t ctx, int64_t other);
    /* Nodes of `kind` by id (missing ones skipped) into a malloc'd array;
     * strings and properties in the arena. */
    weir_status (*nodes_read)(void *be, int kind, const int64_t *ids, size_t nids,
                              weir_arena_t *a, struct weir__meta_node **out, size_t *nout);
    /* Appends to `ids` the ids of one page of nodes of `kind` by type or
     * (by_ctx) by context `key`. */
    weir_status (*list_ids)(void *be, int kind, int by_ctx, int64_t key, const weir_meta_list *l,
                            weir_buf *ids);
    /* Type id by (kind, name, version); 0 when there is none. */
    weir_status (*type_find)(void *be, weir_meta_type_kind kind, const char *name,
                             const char *version, int64_t *id);
    /* Type `id` into *t and the arena; WEIR_ENOENT when there is none. */
    weir_status (*type_read)(void *be, int64_t id, weir_arena_t *a, weir_meta_type *t);
};

/* The store calls put_events, put_attributions_associations and
 * put_execution, each one transaction, on any backend. */
weir_status weir__meta_put_events(const struct weir__meta_ops *ops, void *be,
                                  const weir_meta_event *ev, size_t n);
weir_status weir__meta_put_links(const struct weir__meta_ops *ops, void *be,
                                 const weir_meta_attribution *at, size_t nat,
                                 const weir_meta_association *as, size_t nas);
weir_status weir__meta_put_execution(const struct weir__meta_ops *ops, void *be,
                                     const weir_meta_execution *e,
                                     const weir_meta_artifact_event *items, size_t nitems,
                                     const weir_meta_context *contexts, size_t ncontexts,
                                     int64_t *execution_id, int64_t *artifact_ids,
                                     int64_t *context_ids);

/* Reads by id (nodes_read, then weir__meta_nodes_to_*). */
weir_status weir__meta_read_artifacts(const struct weir__meta_ops *ops, void *be,
                                      const int64_t *ids, size_t nids, weir_arena_t *a,
                                      weir_meta_artifact **out, size_t *n);
weir_status weir__meta_read_executions(const struct weir__meta_ops *ops, void *be,
                                       const int64_t *ids, size_t nids, weir_arena_t *a,
                                       weir_meta_execution **out, size_t *n);
weir_status weir__meta_read_contexts(const struct weir__meta_ops *ops, void *be,
                                     const int64_t *ids, size_t nids, weir_arena_t *a,
                                     weir_meta_context **out, size_t *n);
/* One page by type or (by_ctx) by context `key` (list_ids, then a read). */
weir_status weir__meta_list_artifacts(const struct weir__meta_ops *ops, void *be, int by_ctx,
                                      int64_t key, const weir_meta_list *l, weir_arena_t *a,
                                      weir_meta_artifact **out, size_t *n);
weir_status weir__meta_list_executions(const struct weir__meta_ops *ops, void *be, int by_ctx,
                                       int64_t key, const weir_meta_list *l, weir_arena_t *a,
                                       weir_meta_execution **out, size_t *n);
weir_status weir__meta_list_contexts(const struct weir__meta_ops *ops, void *be, int by_ctx,
                                     int64_t key, const weir_meta_list *l, weir_arena_t *a,
                                     weir_meta_context **out, size_t *n);
/* The context of type type_id named `name` (ctx_find, then a read). */
weir_status weir__meta_get_context_by_name(const struct weir__meta_ops *ops, void *be,
                                           const char *where, int64_t type_id, const char *name,
                                           weir_arena_t *a, weir_meta_context **out);

/* get_type_by_id and get_type on any backend (type_find, type_read). */
weir_status weir__meta_get_type_by_id(const struct weir__meta_ops *ops, void *be, int64_t id,
                                      weir_arena_t *a, weir_meta_type **out);
weir_status weir__meta_get_type(const struct weir__meta_ops *ops, void *be, const char *where,
                                weir_meta_type_kind kind, const char *name, const char *version,
                                weir_arena_t *a, weir_meta_type **out);

/* The hint after a unique-constraint error. */
extern const char weir__meta_hint_unique[];

#endif
