/*
 * weir/meta.h — the ML-Metadata (MLMD) data model and the store that keeps
 * it: types, artifacts, executions, events, contexts and the edges between
 * them, as ml_metadata/proto/metadata_store.proto defines them.
 *
 * For: recording what a pipeline ran and produced, answering lineage
 * questions (which executions read or wrote an artifact, which run a node
 * belongs to), and the cache lookup of lib/pipeline. The SQLite store keeps
 * the data in ML-Metadata's own tables (schema version 10, the one the
 * `ml-metadata` 1.17.1 package writes), so ml_metadata's MetadataStore opens
 * a weir store and weir opens one it wrote.
 * Not for: computing cache keys or deciding what to run (lib/pipeline), the
 * REST API (server/), artifact contents (lib/io).
 *
 * The store is an interface (struct weir_store_i) over an opaque handle, so
 * the PostgreSQL backend plugs in behind the same calls; SQL dialect details
 * stay inside each backend.
 *
 * Conventions
 * - Ids are positive; 0 means "none" or "new" (ids start at 1).
 * - Inputs are borrowed for the duration of the call. Results of get calls
 *   are allocated from the caller's arena (strings, arrays, property lists)
 *   and live until the arena is reset or freed; nothing needs freeing alone.
 * - Every call that writes runs as one transaction: it writes all or nothing.
 * - On failure the out-parameters are left untouched and the thread's error
 *   message (weir_error_message()) says what failed, where and what to do.
 * - A store handle is used by one thread at a time. Several processes may
 *   open the same SQLite file: writers take turns (busy timeout), readers
 *   never block writers (WAL).
 */
#ifndef WEIR_META_H
#define WEIR_META_H

#include <stddef.h>
#include <stdint.h>

#include "weir/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The MLMDEnv.schema_version weir reads and writes (ml-metadata 1.17.1). */
#define WEIR_META_SCHEMA_VERSION 10

/* The custom property (a string) of an execution that holds its cache key;
 * see weir_store_find_cached_execution(). */
#define WEIR_META_CACHE_KEY "cache_key"

/* ------------------------------------------------------------- the model */

/* Type.type_kind in MLMD's table. */
typedef enum weir_meta_type_kind {
    WEIR_META_EXECUTION_TYPE = 0,
    WEIR_META_ARTIFACT_TYPE = 1,
    WEIR_META_CONTEXT_TYPE = 2,
} weir_meta_type_kind;

/* MLMD's PropertyType; also which member of weir_meta_value is set. */
typedef enum weir_meta_value_type {
    WEIR_META_UNKNOWN = 0,
    WEIR_META_INT = 1,
    WEIR_META_DOUBLE = 2,
    WEIR_META_STRING = 3,
    WEIR_META_STRUCT = 4,  /* a serialized google.protobuf.Struct */
    WEIR_META_PROTO = 5,   /* a serialized google.protobuf.Any */
    WEIR_META_BOOLEAN = 6,
} weir_meta_value_type;

/* Artifact.State */
typedef enum weir_meta_artifact_state {
    WEIR_META_ARTIFACT_UNKNOWN = 0,
    WEIR_META_ARTIFACT_PENDING = 1,
    WEIR_META_ARTIFACT_LIVE = 2,
    WEIR_META_ARTIFACT_MARKED_FOR_DELETION = 3,
    WEIR_META_ARTIFACT_DELETED = 4,
    WEIR_META_ARTIFACT_ABANDONED = 5,
    WEIR_META_ARTIFACT_REFERENCE = 6,
} weir_meta_artifact_state;

/* Execution.State (MLMD's last_known_state) */
typedef enum weir_meta_execution_state {
    WEIR_META_EXEC_UNKNOWN = 0,
    WEIR_META_EXEC_NEW = 1,
    WEIR_META_EXEC_RUNNING = 2,
    WEIR_META_EXEC_COMPLETE = 3,
    WEIR_META_EXEC_FAILED = 4,
    WEIR_META_EXEC_CACHED = 5,
    WEIR_META_EXEC_CANCELED = 6,
} weir_meta_execution_state;

/* Event.Type */
typedef enum weir_meta_event_type {
    WEIR_META_EVENT_UNKNOWN = 0,
    WEIR_META_EVENT_DECLARED_OUTPUT = 1,
    WEIR_META_EVENT_DECLARED_INPUT = 2,
    WEIR_META_EVENT_INPUT = 3,
    WEIR_META_EVENT_OUTPUT = 4,
    WEIR_META_EVENT_INTERNAL_INPUT = 5,
    WEIR_META_EVENT_INTERNAL_OUTPUT = 6,
    WEIR_META_EVENT_PENDING_OUTPUT = 7,
} weir_meta_event_type;

/* Upper-case proto names ("LIVE", "COMPLETE", "OUTPUT", "STRING"); never
 * NULL ("?" for a number outside the enum). */
const char *weir_meta_kind_name(weir_meta_type_kind k);          /* "artifact" */
const char *weir_meta_value_type_name(weir_meta_value_type t);
const char *weir_meta_artifact_state_name(weir_meta_artifact_state s);
const char *weir_meta_execution_state_name(weir_meta_execution_state s);
const char *weir_meta_event_type_name(weir_meta_event_type t);

/*
 * A property value. Exactly the member named by `type` is meaningful:
 *   INT, BOOLEAN (0 or 1)  -> i
 *   DOUBLE                 -> d
 *   STRING                 -> s, NUL-terminated
 *   STRUCT, PROTO          -> s and len: protobuf wire bytes (may hold NULs)
 * Values read back always have s NUL-terminated one past len.
 */
typedef struct weir_meta_value {
    weir_meta_value_type type;
    int64_t i;
    double d;
    const char *s;
    size_t len;
} weir_meta_value;

static inline weir_meta_value weir_meta_int(int64_t v) {
    weir_meta_value x = {WEIR_META_INT, v, 0, NULL, 0};
    return x;
}
static inline weir_meta_value weir_meta_double(double v) {
    weir_meta_value x = {WEIR_META_DOUBLE, 0, v, NULL, 0};
    return x;
}
static inline weir_meta_value weir_meta_string(const char *v) {
    weir_meta_value x = {WEIR_META_STRING, 0, 0, v, 0};
    return x;
}
static inline weir_meta_value weir_meta_bool(int v) {
    weir_meta_value x = {WEIR_META_BOOLEAN, v ? 1 : 0, 0, NULL, 0};
    return x;
}
static inline weir_meta_value weir_meta_struct(const void *bytes, size_t len) {
    weir_meta_value x = {WEIR_META_STRUCT, 0, 0, (const char *)bytes, len};
    return x;
}
static inline weir_meta_value weir_meta_proto(const void *bytes, size_t len) {
    weir_meta_value x = {WEIR_META_PROTO, 0, 0, (const char *)bytes, len};
    return x;
}

typedef struct weir_meta_prop {
    const char *name;
    weir_meta_value value;
} weir_meta_prop;

/* Returns the property called `name`, or NULL. */
const weir_meta_prop *weir_meta_prop_find(const weir_meta_prop *props, size_t n,
                                          const char *name);

typedef struct weir_meta_type_prop {
    const char *name;
    weir_meta_value_type type;
} weir_meta_type_prop;

/* ArtifactType / ExecutionType / ContextType. */
typedef struct weir_meta_type {
    int64_t id;                        /* read back; ignored on put */
    weir_meta_type_kind kind;
    const char *name;
    const char *version;               /* NULL: unversioned (the usual) */
    const char *description;           /* NULL allowed */
    const weir_meta_type_prop *props;  /* declared properties */
    size_t nprops;
} weir_meta_type;

/*
 * Nodes. On put: id 0 inserts, a positive id updates that row (its type,
 * uri, state, external id and all properties are replaced; name and
 * external id are only ever set, never cleared). type_id 0 with type_name
 * set names the type instead. Non-custom properties must be declared by the
 * type with the same value type; custom properties are free. Times are in
 * milliseconds since the epoch and are set by the store.
 */
typedef struct weir_meta_artifact {
    int64_t id;
    int64_t type_id;
    const char *type_name;
    const char *uri;                   /* NULL allowed */
    weir_meta_artifact_state state;
    const char *name;                  /* NULL, or unique within its type */
    const char *external_id;           /* NULL, or unique among artifacts */
    const weir_meta_prop *props;
    size_t nprops;
    const weir_meta_prop *custom;
    size_t ncustom;
    int64_t create_time_ms;
    int64_t update_time_ms;
} weir_meta_artifact;

typedef struct weir_meta_execution {
    int64_t id;
    int64_t type_id;
    const char *type_name;
    weir_meta_execution_state state;   /* MLMD's last_known_state */
    const char *name;
    const char *external_id;
    const weir_meta_prop *props;
    size_t nprops;
    const weir_meta_prop *custom;
    size_t ncustom;
    int64_t create_time_ms;
    int64_t update_time_ms;
} weir_meta_execution;

typedef struct weir_meta_context {
    int64_t id;
    int64_t type_id;
    const char *type_name;
    const char *name;                  /* required; unique within its type */
    const char *external_id;
    const weir_meta_prop *props;
    size_t nprops;
    const weir_meta_prop *custom;
    size_t ncustom;
    int64_t create_time_ms;
    int64_t update_time_ms;
} weir_meta_context;

/* One step of an event's path: a key step (key != NULL) or an index step. */
typedef struct weir_meta_step {
    const char *key;
    int64_t index;
} weir_meta_step;

typedef struct weir_meta_event {
    int64_t artifact_id;
    int64_t execution_id;
    weir_meta_event_type type;
    const weir_meta_step *path;
    size_t npath;
    int64_t time_ms;                   /* 0 on put: now */
} weir_meta_event;

typedef struct weir_meta_attribution {   /* artifact belongs to context */
    int64_t context_id;
    int64_t artifact_id;
} weir_meta_attribution;

typedef struct weir_meta_association {   /* execution belongs to context */
    int64_t context_id;
    int64_t execution_id;
} weir_meta_association;

typedef struct weir_meta_parent_context {
    int64_t child_id;
    int64_t parent_id;
} weir_meta_parent_context;

/* One entry of weir_store_put_execution(): an artifact to insert or update
 * (or an existing one by id) and the event linking it to the execution. */
typedef struct weir_meta_artifact_event {
    const weir_meta_artifact *artifact; /* NULL: refer to artifact_id */
    int64_t artifact_id;
    weir_meta_event_type event_type;    /* UNKNOWN: no event, artifact only */
    const weir_meta_step *path;
    size_t npath;
} weir_meta_artifact_event;

/* Paging for list calls. NULL means everything, oldest (lowest id) first. */
typedef struct weir_meta_list {
    int64_t cursor;     /* 0, or the last id of the previous page */
    size_t limit;       /* 0: no limit */
    int newest_first;   /* order by id descending */
} weir_meta_list;

/* -------------------------------------------------------------- the store */

typedef struct weir_store weir_store_t;

typedef struct weir_store_sqlite_opts {
    int readonly;          /* open an existing store without writing */
    int sync_full;         /* PRAGMA synchronous=FULL (default NORMAL: a
                              crash of the process loses nothing; a power
                              loss may lose the last commits) */
    int busy_timeout_ms;   /* waiting for another writer; 0: 10000 */
} weir_store_sqlite_opts;

/*
 * Opens (and when the file is new or empty, creates) an ML-Metadata store in
 * the SQLite file at `path`: WAL journal, busy timeout, MLMD's tables and
 * indexes, an MLMDEnv row with schema version 10, and MLMD's built-in
 * "simple types" (mlmd.Dataset, ...), as ml-metadata itself would.
 * Refuses (WEIR_EUNSUPPORTED) a store of another schema version and a
 * database that holds other tables. Caller closes with weir_store_close().
 * `opts` may be NULL.
 */
weir_status weir_store_open_sqlite(const char *path, weir_store_t **out);
weir_status weir_store_open_sqlite_ex(const char *path, const weir_store_sqlite_opts *opts,
                                      weir_store_t **out);

/*
 * Opens (and when the schema is empty, creates) an ML-Metadata store in the
 * PostgreSQL database at `url` ("postgresql://USER[:PASSWORD]@HOST[:PORT]/DB",
 * or any libpq connection string), in the connection's current schema:
 * MLMD's tables (schema version 10) in PostgreSQL types, MLMDEnv, MLMD's
 * simple types; the same data model and semantics as the SQLite store.
 * Refuses (WEIR_EUNSUPPORTED) a store of another schema version and a schema
 * that holds other tables; WEIR_EIO when the server cannot be reached.
 * Messages name the URL without its password. A build without
 * -DWEIR_POSTGRES=ON returns WEIR_EUNSUPPORTED saying so.
 */
weir_status weir_store_open_postgres(const char *url, weir_store_t **out);

/*
 * Opens a store by what `path_or_url` looks like: "postgresql://..." and
 * "postgres://..." open PostgreSQL; "http://HOST:PORT" and "https://..."
 * reach a store through weir-server's API (writes need its token, read from
 * $WEIR_METADATA_TOKEN_FILE or $WEIR_METADATA_TOKEN; docs/server.md);
 * anything else is a SQLite file path.
 * `readonly`: open an existing store without writing (writes then fail with
 * WEIR_EPERM). What --store and $WEIR_STORE take.
 */
/* The store's path or URL fit for logs: a URL's password becomes "***".
 * Caller frees; NULL when out of memory. */
char *weir_store_redact(const char *path_or_url);
weir_status weir_store_open(const char *path_or_url, int readonly, weir_store_t **out);

/* Closes the store; NULL is fine. */
void weir_store_close(weir_store_t *s);

/* "sqlite", "postgresql", ... */
const char *weir_store_backend(const weir_store_t *s);

/* ---- types */

/* weir_store_put_type() flags (MLMD's can_add_fields / can_omit_fields). */
#define WEIR_META_TYPE_CAN_ADD_FIELDS 1u   /* add properties the stored type lacks */
#define WEIR_META_TYPE_CAN_OMIT_FIELDS 2u  /* accept a subset of the stored ones */

/*
 * Idempotent by (kind, name, version): a type that exists with the same
 * properties returns its id; one whose properties differ fails with
 * WEIR_ECONFLICT unless the flags allow the difference. A property declared
 * with a different value type always conflicts.
 */
weir_status weir_store_put_type(weir_store_t *s, const weir_meta_type *type, unsigned flags,
                                int64_t *id);
/* WEIR_ENOENT when there is none. `version` NULL: the unversioned type. */
weir_status weir_store_get_type(weir_store_t *s, weir_meta_type_kind kind, const char *name,
                                const char *version, weir_arena_t *arena,
                                weir_meta_type **out);
weir_status weir_store_get_type_by_id(weir_store_t *s, int64_t id, weir_arena_t *arena,
                                      weir_meta_type **out);
weir_status weir_store_get_types(weir_store_t *s, weir_meta_type_kind kind,
                                 weir_arena_t *arena, weir_meta_type **out, size_t *n);

/* ---- nodes: insert or update; `ids` receives one id per node (n of them) */

weir_status weir_store_put_artifacts(weir_store_t *s, const weir_meta_artifact *a, size_t n,
                                     int64_t *ids);
weir_status weir_store_put_executions(weir_store_t *s, const weir_meta_execution *e,
                                      size_t n, int64_t *ids);
weir_status weir_store_put_contexts(weir_store_t *s, const weir_meta_context *c, size_t n,
                                    int64_t *ids);

/* ---- edges. Events must name existing artifacts and executions and are
 * unique per (artifact, execution, type). Attributions, associations and
 * parent links are idempotent; a parent link that would make a cycle fails
 * with WEIR_EINVAL. */

weir_status weir_store_put_events(weir_store_t *s, const weir_meta_event *ev, size_t n);
weir_status weir_store_put_attributions_associations(weir_store_t *s,
                                                     const weir_meta_attribution *at, size_t nat,
                                                     const weir_meta_association *as, size_t nas);
weir_status weir_store_put_parent_contexts(weir_store_t *s, const weir_meta_parent_context *p,
                                           size_t n);

/*
 * What MLMD's PutExecution does, in one transaction: inserts or updates the
 * artifacts of `items` (ids into artifact_ids[i]; an item without artifact
 * reports its artifact_id), inserts or updates the execution
 * (*execution_id), inserts one event per item that has an event_type, then
 * for each context — updated when it has an id, else reused when one of that
 * type and name exists, else inserted (ids into context_ids[j]) — associates
 * the execution and attributes every artifact of `items`.
 * artifact_ids may be NULL when nitems is 0, context_ids when ncontexts is 0.
 */
weir_status weir_store_put_execution(weir_store_t *s, const weir_meta_execution *execution,
                                     const weir_meta_artifact_event *items, size_t nitems,
                                     const weir_meta_context *contexts, size_t ncontexts,
                                     int64_t *execution_id, int64_t *artifact_ids,
                                     int64_t *context_ids);

/* ---- reads. Ids that do not exist are skipped; results keep the order of
 * `ids`. Arrays, strings and properties come from `arena`. */

weir_status weir_store_get_artifacts_by_ids(weir_store_t *s, const int64_t *ids, size_t nids,
                                            weir_arena_t *arena, weir_meta_artifact **out,
                                            size_t *n);
weir_status weir_store_get_artifacts_by_type(weir_store_t *s, int64_t type_id,
                                             const weir_meta_list *list, weir_arena_t *arena,
                                             weir_meta_artifact **out, size_t *n);
weir_status weir_store_get_artifacts_by_uri(weir_store_t *s, const char *uri,
                                            weir_arena_t *arena, weir_meta_artifact **out,
                                            size_t *n);
weir_status weir_store_get_artifacts_by_context(weir_store_t *s, int64_t context_id,
                                                const weir_meta_list *list, weir_arena_t *arena,
                                                weir_meta_artifact **out, size_t *n);

weir_status weir_store_get_executions_by_ids(weir_store_t *s, const int64_t *ids, size_t nids,
                                             weir_arena_t *arena, weir_meta_execution **out,
                                             size_t *n);
weir_status weir_store_get_executions_by_type(weir_store_t *s, int64_t type_id,
                                              const weir_meta_list *list, weir_arena_t *arena,
                                              weir_meta_execution **out, size_t *n);
weir_status weir_store_get_executions_by_context(weir_store_t *s, int64_t context_id,
                                                 const weir_meta_list *list,
                                                 weir_arena_t *arena, weir_meta_execution **out,
                                                 size_t *n);

/* Events in insertion order, each with its path. */
weir_status weir_store_get_events_by_execution_ids(weir_store_t *s, const int64_t *ids,
                                                   size_t nids, weir_arena_t *arena,
                                                   weir_meta_event **out, size_t *n);
weir_status weir_store_get_events_by_artifact_ids(weir_store_t *s, const int64_t *ids,
                                                  size_t nids, weir_arena_t *arena,
                                                  weir_meta_event **out, size_t *n);

weir_status weir_store_get_contexts_by_ids(weir_store_t *s, const int64_t *ids, size_t nids,
                                           weir_arena_t *arena, weir_meta_context **out,
                                           size_t *n);
weir_status weir_store_get_contexts_by_type(weir_store_t *s, int64_t type_id,
                                            const weir_meta_list *list, weir_arena_t *arena,
                                            weir_meta_context **out, size_t *n);
/* WEIR_ENOENT when there is none. */
weir_status weir_store_get_context_by_type_and_name(weir_store_t *s, int64_t type_id,
                                                    const char *name, weir_arena_t *arena,
                                                    weir_meta_context **out);
weir_status weir_store_get_contexts_by_artifact(weir_store_t *s, int64_t artifact_id,
                                                weir_arena_t *arena, weir_meta_context **out,
                                                size_t *n);
weir_status weir_store_get_contexts_by_execution(weir_store_t *s, int64_t execution_id,
                                                 weir_arena_t *arena, weir_meta_context **out,
                                                 size_t *n);
weir_status weir_store_get_parent_contexts(weir_store_t *s, int64_t context_id,
                                           weir_arena_t *arena, weir_meta_context **out,
                                           size_t *n);
weir_status weir_store_get_child_contexts(weir_store_t *s, int64_t context_id,
                                          weir_arena_t *arena, weir_meta_context **out,
                                          size_t *n);

/*
 * The cache lookup: the newest (latest create time, then highest id)
 * execution in state COMPLETE whose custom string property "cache_key"
 * equals `cache_key`, of type `execution_type_id` (0: any type).
 * *execution_id is 0 when there is none; that is not an error.
 * Uses an index: O(log n + executions sharing that key).
 */
weir_status weir_store_find_cached_execution(weir_store_t *s, const char *cache_key,
                                             int64_t execution_type_id,
                                             int64_t *execution_id);

/* ------------------------------------------------------------ backends */

/*
 * What a backend implements. The weir_store_* functions above check their
 * arguments (non-NULL handles and out-parameters, counts with arrays) and
 * then call these; a backend checks what only it can know (that a type or
 * an artifact exists). Every handle a backend returns starts with a
 * `struct weir_store` (lib/meta's private header) whose vt points here.
 */
struct weir_store_i {
    const char *name;
    void (*close)(weir_store_t *s);
    weir_status (*put_type)(weir_store_t *s, const weir_meta_type *t, unsigned flags,
                            int64_t *id);
    weir_status (*get_type)(weir_store_t *s, weir_meta_type_kind kind, const char *name,
                            const char *version, weir_arena_t *a, weir_meta_type **out);
    weir_status (*get_type_by_id)(weir_store_t *s, int64_t id, weir_arena_t *a,
                                  weir_meta_type **out);
    weir_status (*get_types)(weir_store_t *s, weir_meta_type_kind kind, weir_arena_t *a,
                             weir_meta_type **out, size_t *n);
    weir_status (*put_artifacts)(weir_store_t *s, const weir_meta_artifact *a, size_t n,
                                 int64_t *ids);
    weir_status (*put_executions)(weir_store_t *s, const weir_meta_execution *e, size_t n,
                                  int64_t *ids);
    weir_status (*put_contexts)(weir_store_t *s, const weir_meta_context *c, size_t n,
                                int64_t *ids);
    weir_status (*put_events)(weir_store_t *s, const weir_meta_event *ev, size_t n);
    weir_status (*put_attributions_associations)(weir_store_t *s,
                                                 const weir_meta_attribution *at, size_t nat,
                                                 const weir_meta_association *as, size_t nas);
    weir_status (*put_parent_contexts)(weir_store_t *s, const weir_meta_parent_context *p,
                                       size_t n);
    weir_status (*put_execution)(weir_store_t *s, const weir_meta_execution *e,
                                 const weir_meta_artifact_event *items, size_t nitems,
                                 const weir_meta_context *contexts, size_t ncontexts,
                                 int64_t *execution_id, int64_t *artifact_ids,
                                 int64_t *context_ids);
    weir_status (*get_artifacts_by_ids)(weir_store_t *s, const int64_t *ids, size_t nids,
                                        weir_arena_t *a, weir_meta_artifact **out, size_t *n);
    weir_status (*get_artifacts_by_type)(weir_store_t *s, int64_t type_id,
                                         const weir_meta_list *list, weir_arena_t *a,
                                         weir_meta_artifact **out, size_t *n);
    weir_status (*get_artifacts_by_uri)(weir_store_t *s, const char *uri, weir_arena_t *a,
                                        weir_meta_artifact **out, size_t *n);
    weir_status (*get_artifacts_by_context)(weir_store_t *s, int64_t context_id,
                                            const weir_meta_list *list, weir_arena_t *a,
                                            weir_meta_artifact **out, size_t *n);
    weir_status (*get_executions_by_ids)(weir_store_t *s, const int64_t *ids, size_t nids,
                                         weir_arena_t *a, weir_meta_execution **out,
                                         size_t *n);
    weir_status (*get_executions_by_type)(weir_store_t *s, int64_t type_id,
                                          const weir_meta_list *list, weir_arena_t *a,
                                          weir_meta_execution **out, size_t *n);
    weir_status (*get_executions_by_context)(weir_store_t *s, int64_t context_id,
                                             const weir_meta_list *list, weir_arena_t *a,
                                             weir_meta_execution **out, size_t *n);
    weir_status (*get_events)(weir_store_t *s, int by_artifact, const int64_t *ids,
                              size_t nids, weir_arena_t *a, weir_meta_event **out, size_t *n);
    weir_status (*get_contexts_by_ids)(weir_store_t *s, const int64_t *ids, size_t nids,
                                       weir_arena_t *a, weir_meta_context **out, size_t *n);
    weir_status (*get_contexts_by_type)(weir_store_t *s, int64_t type_id,
                                        const weir_meta_list *list, weir_arena_t *a,
                                        weir_meta_context **out, size_t *n);
    weir_status (*get_context_by_type_and_name)(weir_store_t *s, int64_t type_id,
                                                const char *name, weir_arena_t *a,
                                                weir_meta_context **out);
    /* which: 0 contexts of artifact `id`, 1 of execution `id`, 2 parents of
     * context `id`, 3 children of context `id` */
    weir_status (*get_related_contexts)(weir_store_t *s, int which, int64_t id,
                                        weir_arena_t *a, weir_meta_context **out, size_t *n);
    weir_status (*find_cached_execution)(weir_store_t *s, const char *cache_key,
                                         int64_t execution_type_id, int64_t *execution_id);
};

#ifdef __cplusplus
}
#endif
#endif
