/*
 * weir/pipeline.h — deciding what runs: the pipeline spec, its DAG, the
 * component registry, the executor contract and cache keys.
 *
 * For: turning a pipeline file (YAML or JSON, docs/pipeline-spec.md) into
 * validated C structs with every problem reported at once; the order nodes
 * run in and who feeds whom; what each standard component consumes and
 * produces; the JSON documents a launcher hands to a component and gets
 * back (docs/executor-contract.md); the cache key of a node.
 * Not for: running anything (the engine and launchers sit on top of this),
 * talking to the metadata store (lib/meta), reading artifacts (lib/io).
 *
 * The engine calls, in order:
 *   weir_pipeline_load_file()           spec -> weir_pipeline (or diagnostics)
 *   walk weir_pipeline.order            nodes in topological order
 *   weir_cache_key()                    per node, from resolved input artifacts
 *   weir_pipeline_output_uri(),
 *   weir_pipeline_output_file_uri()     where outputs and executor_output go
 *   weir_executor_input_build()         the document the component reads
 *   weir_registry_binary_path()         which program to start (local launcher)
 *   weir_executor_output_read()         what the component reported
 *   weir_pipeline_descendants()         what to skip after a failure
 *   weir_pipeline_free()
 * A component calls weir_executor_input_load(), the accessors, then
 * weir_executor_output_new() ... _write().
 */
#ifndef WEIR_PIPELINE_H
#define WEIR_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "weir/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;

/* ============================================================== registry */

typedef enum weir_component_kind {
    WEIR_COMPONENT_STANDARD = 0,   /* a weir program implementing a TFX component */
    WEIR_COMPONENT_EXECUTABLE = 1, /* a user's command; slots declared in the spec */
} weir_component_kind;

/* One input or output slot of a component. */
typedef struct weir_slot_def {
    const char *name;      /* "examples" */
    const char *type;      /* artifact type name: "Examples" */
    int optional;          /* input: may be left unconnected;
                              output: the component may produce nothing there */
} weir_slot_def;

/* How a known parameter of a standard component is checked. */
typedef enum weir_param_kind {
    WEIR_PARAM_ANY = 0,
    WEIR_PARAM_STRING,      /* non-empty string */
    WEIR_PARAM_BOOL,
    WEIR_PARAM_INT,         /* integer, any sign */
    WEIR_PARAM_POS_INT,     /* integer >= 1 */
    WEIR_PARAM_NONNEG_INT,  /* integer >= 0 */
    WEIR_PARAM_POS_NUMBER,  /* finite number > 0 */
    WEIR_PARAM_FRACTION,    /* finite number in (0, 1] */
    WEIR_PARAM_OBJECT,      /* a mapping */
    WEIR_PARAM_LIST,        /* a list */
    WEIR_PARAM_STRING_LIST, /* a list of non-empty strings */
    WEIR_PARAM_SPLITS,      /* non-empty mapping split name -> integer >= 1 */
} weir_param_kind;

typedef struct weir_param_def {
    const char *name;
    weir_param_kind kind;
    int required;
    const char *help;       /* one line, used in messages */
} weir_param_def;

/*
 * A component type. Standard types follow tfx/types/standard_component_specs.py
 * for slot names, artifact types and optionality. Static data: never freed.
 */
typedef struct weir_component_def {
    const char *type;        /* "StatisticsGen" */
    const char *version;     /* part of the cache key: bump when outputs change */
    weir_component_kind kind;
    const char *binary;      /* "weir-statistics-gen"; NULL for Executable */
    const char *image;       /* container image repository, "weir-statistics-gen";
                                the operator adds registry and tag. NULL for Executable */
    const weir_slot_def *inputs;
    size_t ninputs;
    const weir_slot_def *outputs;
    size_t noutputs;
    const weir_param_def *params; /* known params; others are warned about */
    size_t nparams;
} weir_component_def;

/* Every registered type, Executable last. */
size_t weir_registry_count(void);
const weir_component_def *weir_registry_at(size_t i);
/* Exact (case-sensitive) lookup; WEIR_ENOENT with a message suggesting the
 * nearest known type when there is none. */
weir_status weir_registry_find(const char *type, const weir_component_def **out);
/* Slot lookups on a def; NULL when the def has no such slot. */
const weir_slot_def *weir_component_input(const weir_component_def *def, const char *slot);
const weir_slot_def *weir_component_output(const weir_component_def *def, const char *slot);
const weir_param_def *weir_component_param(const weir_component_def *def, const char *name);
/* 1 when `type` is one of TFX's standard artifact type names. */
int weir_artifact_type_known(const char *type);

/*
 * Finds the program for a standard component: `components_dir`/<binary> when
 * components_dir is non-NULL, else each directory of $PATH. The file must be
 * executable. *out is malloc'd (caller frees). WEIR_ENOENT names the program,
 * where it looked, and what to do; WEIR_EINVAL for an Executable (its
 * command[0] is resolved by the launcher).
 */
weir_status weir_registry_binary_path(const weir_component_def *def,
                                      const char *components_dir, char **out);

/*
 * The nearest of `candidates` to `word` (edit distance, ignoring case) when
 * it is close enough to be a likely typo; NULL otherwise. Borrowed from
 * candidates.
 */
const char *weir_suggest(const char *word, const char *const *candidates, size_t n);

/* ============================================================ diagnostics */

typedef enum weir_diag_severity {
    WEIR_DIAG_ERROR = 0,
    WEIR_DIAG_WARNING = 1,
} weir_diag_severity;

/*
 * One problem found in a pipeline file. `code` is a stable short identifier
 * ("unknown-type", "cycle", ...: docs/pipeline-spec.md lists them); `name` is
 * the offending name (node, key, slot, parameter, type); `message` is the
 * full line "FILE:LINE:COL: what is wrong; what to do". Line and column are
 * 1-based, 0 when unknown.
 */
typedef struct weir_diag {
    weir_diag_severity severity;
    const char *code;   /* static string */
    char *file;
    uint32_t line;
    uint32_t column;
    char *name;
    char *message;
} weir_diag;

typedef struct weir_diags {
    weir_diag *items;
    size_t count;
    size_t nerrors;
    size_t cap;
} weir_diags;

/* Zero-initialise a weir_diags before use; free with weir_diags_free(). */
void weir_diags_free(weir_diags *d);
/* Index of the first diagnostic with this code (and name, when non-NULL),
 * or d->count when none. */
size_t weir_diags_find(const weir_diags *d, const char *code, const char *name);

/* ============================================================== pipeline */

/* An input slot wired to a producer's output ("examples: example_gen.examples"). */
typedef struct weir_pipeline_input {
    char *slot;
    char *producer;          /* node name */
    char *output;            /* producer's output name */
    char *type;              /* artifact type the slot receives */
    size_t producer_index;   /* into weir_pipeline.nodes */
    int optional;            /* the slot is optional for the component */
} weir_pipeline_input;

typedef struct weir_pipeline_output {
    char *name;
    char *type;
    int optional;
} weir_pipeline_output;

typedef struct weir_resources {
    uint32_t gpu;            /* whole GPUs; 0 = none */
    char *cpu;               /* Kubernetes quantity as written ("4", "500m"); NULL = unset */
    uint64_t cpu_millis;     /* the same in millicores; 0 = unset */
    char *memory;            /* quantity as written ("8Gi"); NULL = unset */
    uint64_t memory_bytes;   /* 0 = unset */
} weir_resources;

typedef struct weir_pipeline_node {
    char *name;                        /* DNS-label-safe, see weir_pipeline_pod_name() */
    char *type;                        /* component type */
    const weir_component_def *def;     /* static registry entry */
    const char *version;               /* def->version */
    weir_pipeline_input *inputs;       /* sorted by slot */
    size_t ninputs;
    weir_pipeline_output *outputs;     /* registry order, or spec order for Executable */
    size_t noutputs;
    struct cJSON *params;              /* object, parameters substituted; owned */
    char *image;                       /* container image the operator runs it from;
                                          NULL: <registry>/<def->image>:<tag> (standard
                                          types); Executables on Kubernetes need it */
    char **command;                    /* Executable only, substituted; else NULL */
    size_t ncommand;
    weir_resources resources;
    uint32_t retries;                  /* extra attempts after the first */
    uint64_t timeout_s;                /* per attempt; 0 = no limit */
    int cache;                         /* 1 unless the spec says cache: false */
    uint32_t line, column;             /* where the component starts in the file */
    size_t *upstream;                  /* producers feeding this node, ascending */
    size_t nupstream;
    size_t *downstream;                /* consumers of this node's outputs, ascending */
    size_t ndownstream;
} weir_pipeline_node;

/* A validated pipeline. Read-only for callers; free with weir_pipeline_free(). */
typedef struct weir_pipeline {
    char *file;                  /* the name given to the loader */
    char *name;
    char *root;                  /* after substitution and the root override */
    char *description;           /* NULL when absent */
    struct cJSON *parameters;    /* object name -> final value (defaults + overrides) */
    weir_pipeline_node *nodes;   /* file order */
    size_t nnodes;
    size_t *order;               /* topological order: indices into nodes; among
                                    ready nodes the one earlier in the file first */
    weir_arena_t *arena;         /* private: strings and arrays live here */
} weir_pipeline;

typedef struct weir_pipeline_options {
    /* Parameter overrides "NAME=VALUE" (the CLI's --param). VALUE is read as
     * a YAML scalar (5000 -> number, true -> bool, text -> string), or as
     * JSON when it starts with '[' or '{'; a parameter whose default is a
     * string keeps VALUE as text. Borrowed. */
    const char *const *params;
    size_t nparams;
    /* Typed overrides (a PipelineRun's spec.params): object NAME -> value.
     * Applied after `params`. Borrowed; NULL for none. */
    const struct cJSON *param_values;
    /* Replaces pipeline.root when non-NULL (parameters are substituted in it). */
    const char *root;
    /* Loader limits; zero fields take 4 MiB, depth 64, 200,000 values. */
    weir_doc_limits limits;
    /* Stop collecting after this many diagnostics (0 = 100). */
    size_t max_diags;
} weir_pipeline_options;

/*
 * Loads, validates and plans a pipeline file (.json is read as JSON, anything
 * else as YAML). `opt` may be NULL. Diagnostics are appended to `diags` (may
 * be NULL). On success *out owns a weir_pipeline and `diags` got warnings,
 * if any. On failure *out is NULL,
 * `diags` holds every problem found (errors and warnings, in file order as
 * far as possible), the thread's message is one combined text naming the
 * file and each problem, and the status is WEIR_EINVAL for an invalid spec,
 * WEIR_EPARSE for a file that is not YAML/JSON, WEIR_ENOENT/EIO/ELIMIT for
 * reading problems, WEIR_ENOMEM.
 */
weir_status weir_pipeline_load_file(const char *path, const weir_pipeline_options *opt,
                                    weir_pipeline **out, weir_diags *diags);
/* The same for text in memory; `name` is used in messages and decides the
 * format the same way as a path. */
weir_status weir_pipeline_parse(const char *name, const char *text, size_t len,
                                const weir_pipeline_options *opt, weir_pipeline **out,
                                weir_diags *diags);
/*
 * The same for an already loaded document `doc` ({"pipeline": {...}}), e.g.
 * a custom resource's spec. `pos`/`npos` are the loader's positions (may be
 * NULL/0: messages then carry no line). Borrows doc; doc is not modified.
 */
weir_status weir_pipeline_from_doc(const char *name, const struct cJSON *doc,
                                   const weir_doc_pos *pos, size_t npos,
                                   const weir_pipeline_options *opt, weir_pipeline **out,
                                   weir_diags *diags);
void weir_pipeline_free(weir_pipeline *p);

/* Index of the node called `name`; WEIR_ENOENT (with a suggestion) if none. */
weir_status weir_pipeline_node_index(const weir_pipeline *p, const char *name, size_t *out);

/*
 * Every node downstream of `node` (not `node` itself), in topological order:
 * what to skip when `node` fails. *out is malloc'd (caller frees; NULL when
 * *n is 0).
 */
weir_status weir_pipeline_descendants(const weir_pipeline *p, size_t node, size_t **out,
                                      size_t *n);
/* The same upstream: every node `node` depends on, in topological order. */
weir_status weir_pipeline_ancestors(const weir_pipeline *p, size_t node, size_t **out,
                                    size_t *n);

/*
 * The node name as a DNS-1123 label fragment: '_' becomes '-'. Node names
 * are validated so that this mapping is one-to-one within a pipeline.
 * Writes at most 64 bytes including the NUL.
 */
void weir_pipeline_pod_name(const char *node_name, char out[64]);

/* Output URI, as TFX lays it out: "<root>/<node>/<output>/<execution_id>/".
 * Caller frees. WEIR_ENOMEM only. */
weir_status weir_pipeline_output_uri(const char *root, const char *node, const char *output,
                                     int64_t execution_id, char **out);
/* "<root>/<node>/.system/<execution_id>/executor_output.json". Caller frees. */
weir_status weir_pipeline_output_file_uri(const char *root, const char *node,
                                          int64_t execution_id, char **out);

/* ====================================================== executor contract */

#define WEIR_EXECUTOR_SCHEMA "weir.executor/v1"

/*
 * One artifact as the contract carries it. In documents read back, the
 * pointers are borrowed from the document and valid until it is freed or
 * modified.
 */
typedef struct weir_artifact_ref {
    int64_t id;                            /* metadata id; 0 = not registered (planned outputs) */
    const char *type;                      /* artifact type name */
    const char *uri;
    const struct cJSON *properties;        /* object or NULL */
    const struct cJSON *custom_properties; /* object or NULL */
} weir_artifact_ref;

/* The artifacts of one slot. */
typedef struct weir_slot_artifacts {
    const char *slot;
    const weir_artifact_ref *artifacts;
    size_t count;
} weir_slot_artifacts;

/* What the engine knows when it is about to launch a node. */
typedef struct weir_executor_request {
    const weir_pipeline *pipeline;
    size_t node;                          /* index into pipeline->nodes */
    const char *run_id;                   /* pipeline run id */
    int64_t execution_id;                 /* metadata execution id (>= 0) */
    uint32_t attempt;                     /* 1-based; 0 is read as 1 */
    const weir_slot_artifacts *inputs;    /* resolved input artifacts, per slot */
    size_t ninputs;
    /* planned outputs; NULL/0: one artifact per declared output at
     * weir_pipeline_output_uri(root, node, output, execution_id) */
    const weir_slot_artifacts *outputs;
    size_t noutputs;
    const char *output_file;              /* NULL: weir_pipeline_output_file_uri() */
} weir_executor_request;

/*
 * Builds the executor input document (docs/executor-input.schema.json) as
 * compact JSON; *json is malloc'd (caller frees). Checks that every input
 * slot named belongs to the node, that each required input has at least one
 * artifact, that artifact types match the slot, and that outputs name
 * declared outputs: WEIR_EINVAL with a message naming node and slot.
 */
weir_status weir_executor_input_build(const weir_executor_request *req, char **json);

typedef struct weir_executor_input weir_executor_input_t;

/*
 * Reads an executor input document from `source`: "-" for stdin, else a
 * path or URI read through lib/io. Validated against the contract; a
 * malformed document fails with WEIR_EPARSE/ECORRUPT naming the source and
 * the JSON path of the problem ("inputs.examples[0].uri"). Caller frees.
 */
weir_status weir_executor_input_load(const char *source, weir_executor_input_t **out);
weir_status weir_executor_input_parse(const char *name, const char *text, size_t len,
                                      weir_executor_input_t **out);
void weir_executor_input_free(weir_executor_input_t *in);

/* Borrowed strings, valid until free; "" for absent optional ones. */
const char *weir_executor_input_component_name(const weir_executor_input_t *in);
const char *weir_executor_input_component_type(const weir_executor_input_t *in);
const char *weir_executor_input_component_version(const weir_executor_input_t *in);
const char *weir_executor_input_run_id(const weir_executor_input_t *in);
const char *weir_executor_input_pipeline(const weir_executor_input_t *in);
const char *weir_executor_input_root(const weir_executor_input_t *in);
const char *weir_executor_input_output_file(const weir_executor_input_t *in);
int64_t weir_executor_input_execution_id(const weir_executor_input_t *in); /* -1 if absent */
/* The whole document and its params object (borrowed). */
const struct cJSON *weir_executor_input_doc(const weir_executor_input_t *in);
const struct cJSON *weir_executor_input_params(const weir_executor_input_t *in);

/*
 * Typed parameter lookups. An absent parameter gives `dflt` (WEIR_OK); a
 * present one of the wrong type fails with WEIR_ETYPE ("params.train_steps
 * must be an integer, got string \"ten\""). Strings are borrowed.
 */
weir_status weir_executor_input_param_string(const weir_executor_input_t *in, const char *name,
                                             const char *dflt, const char **out);
weir_status weir_executor_input_param_int(const weir_executor_input_t *in, const char *name,
                                          int64_t dflt, int64_t *out);
weir_status weir_executor_input_param_double(const weir_executor_input_t *in, const char *name,
                                             double dflt, double *out);
weir_status weir_executor_input_param_bool(const weir_executor_input_t *in, const char *name,
                                           int dflt, int *out);
/* Borrowed; NULL when absent (not an error: params are optional). */
const struct cJSON *weir_executor_input_param(const weir_executor_input_t *in, const char *name);

/* Input artifacts of a slot: count (0 for an unknown slot) and the i-th.
 * WEIR_ENOENT when there is no such slot/index, with a message. */
size_t weir_executor_input_count(const weir_executor_input_t *in, const char *slot);
weir_status weir_executor_input_artifact(const weir_executor_input_t *in, const char *slot,
                                         size_t i, weir_artifact_ref *out);
/* Planned output artifacts of a slot, the same way. */
size_t weir_executor_input_output_count(const weir_executor_input_t *in, const char *slot);
weir_status weir_executor_input_output(const weir_executor_input_t *in, const char *slot,
                                       size_t i, weir_artifact_ref *out);
/* Shortcuts: URI of the first input / planned output artifact of a slot;
 * WEIR_ENOENT (with a message naming the slot) when there is none. */
weir_status weir_executor_input_uri(const weir_executor_input_t *in, const char *slot,
                                    const char **uri);
weir_status weir_executor_input_output_uri(const weir_executor_input_t *in, const char *slot,
                                           const char **uri);
/* Slot names present in inputs / outputs, for iteration; NULL past the end. */
const char *weir_executor_input_slot_at(const weir_executor_input_t *in, size_t i);
const char *weir_executor_input_output_slot_at(const weir_executor_input_t *in, size_t i);

/* ---------------------------------------------------- executor output */

typedef struct weir_executor_output weir_executor_output_t;

/*
 * A new output report for the component run described by `in` (borrowed,
 * must outlive the report): every planned output artifact is listed, with
 * no properties yet. Caller frees with weir_executor_output_free().
 */
weir_status weir_executor_output_new(const weir_executor_input_t *in,
                                     weir_executor_output_t **out);
void weir_executor_output_free(weir_executor_output_t *o);

/*
 * Sets a property (custom = 0) or custom property (custom = 1) of the
 * index-th output artifact of `slot`. `value` is copied and must be a
 * string, a finite number, a boolean, a list or a mapping. WEIR_ENOENT for
 * an unknown slot/index, WEIR_EINVAL for a bad value.
 */
weir_status weir_executor_output_artifact_set(weir_executor_output_t *o, const char *slot,
                                              size_t index, int custom, const char *key,
                                              const struct cJSON *value);
weir_status weir_executor_output_artifact_set_string(weir_executor_output_t *o,
                                                     const char *slot, size_t index,
                                                     int custom, const char *key,
                                                     const char *value);
weir_status weir_executor_output_artifact_set_int(weir_executor_output_t *o, const char *slot,
                                                  size_t index, int custom, const char *key,
                                                  int64_t value);
weir_status weir_executor_output_artifact_set_double(weir_executor_output_t *o,
                                                     const char *slot, size_t index,
                                                     int custom, const char *key,
                                                     double value);
/* Declares that an optional output was not produced: its list becomes empty. */
weir_status weir_executor_output_drop(weir_executor_output_t *o, const char *slot);
/* Execution custom properties (metrics, counts, "blessed"). `value` copied. */
weir_status weir_executor_output_execution_set(weir_executor_output_t *o, const char *key,
                                               const struct cJSON *value);
weir_status weir_executor_output_execution_set_double(weir_executor_output_t *o,
                                                      const char *key, double value);
weir_status weir_executor_output_execution_set_int(weir_executor_output_t *o, const char *key,
                                                   int64_t value);
weir_status weir_executor_output_execution_set_string(weir_executor_output_t *o,
                                                      const char *key, const char *value);
/* Marks the run failed with a message (printf-style; replaces an earlier one). */
weir_status weir_executor_output_set_failure(weir_executor_output_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Writes the report atomically to the input's output_file (or `uri`), via
 * weir_io_write_all(). */
weir_status weir_executor_output_write(const weir_executor_output_t *o);

/*
 * The whole main() of a component program: --help (prints `about` after
 * the usage line), --executor-input URI, logging from the environment,
 * loading the input, run(), and executor_output.json written either way
 * (with the failure message when run() fails). Returns the exit status: 0,
 * 1 when run() fails, 2 for bad arguments or an unreadable input.
 */
int weir_component_main(int argc, char **argv, const char *prog, const char *about,
                        weir_status (*run)(const weir_executor_input_t *in,
                                           weir_executor_output_t *out));
weir_status weir_executor_output_write_to(const weir_executor_output_t *o, const char *uri);
/* The report as JSON text (caller frees). */
weir_status weir_executor_output_to_json(const weir_executor_output_t *o, char **json);

/*
 * The engine's side: reads and validates executor_output.json from `uri`
 * (capped at 4 MiB). When `in` is given, every output slot and URI must be
 * one the engine planned. WEIR_ENOENT when the file does not exist (a
 * component may skip writing it: then exit status alone decides);
 * WEIR_ECORRUPT for a malformed report, with a message naming the file and
 * the JSON path of the problem. Never crashes on bad bytes.
 */
weir_status weir_executor_output_read(const char *uri, const weir_executor_input_t *in,
                                      weir_executor_output_t **out);
weir_status weir_executor_output_parse(const char *name, const char *text, size_t len,
                                       const weir_executor_input_t *in,
                                       weir_executor_output_t **out);
/* 1 when the component reported failure; its message ("" when none). */
int weir_executor_output_failed(const weir_executor_output_t *o);
const char *weir_executor_output_error(const weir_executor_output_t *o);
/* Output artifacts as reported (planned ones the report did not mention are
 * included unchanged when the report was read with `in`). */
size_t weir_executor_output_count(const weir_executor_output_t *o, const char *slot);
weir_status weir_executor_output_artifact(const weir_executor_output_t *o, const char *slot,
                                          size_t i, weir_artifact_ref *out);
const char *weir_executor_output_slot_at(const weir_executor_output_t *o, size_t i);
/* Execution custom properties: an object (borrowed; never NULL). */
const struct cJSON *weir_executor_output_execution_properties(const weir_executor_output_t *o);

/* ============================================================= cache key */

#define WEIR_CACHE_FORMAT "weir.cache/v1"

/* One resolved input artifact: its metadata id and a content fingerprint
 * supplied by the caller (e.g. a hash of the artifact's files). */
typedef struct weir_cache_artifact {
    int64_t id;
    const char *fingerprint;
} weir_cache_artifact;

typedef struct weir_cache_slot {
    const char *slot;
    const weir_cache_artifact *artifacts;
    size_t count;
} weir_cache_slot;

/*
 * The cache key of `node` given its resolved inputs: lowercase SHA-256 hex of
 * the canonical JSON of {format, type, version, params, outputs, inputs, and
 * for Executable the command} (docs/pipeline-spec.md "Caching"). Slots with
 * no artifacts are left out; artifacts within a slot are sorted by id then
 * fingerprint. `canonical` (may be NULL) receives the hashed text (caller
 * frees). WEIR_EINVAL for a duplicate slot or a non-finite number.
 */
weir_status weir_cache_key(const weir_pipeline_node *node, const weir_cache_slot *inputs,
                           size_t ninputs, char out[WEIR_SHA256_HEX_LEN + 1], char **canonical);

/*
 * Canonical JSON: object keys sorted bytewise, no whitespace, integers
 * (|x| < 2^53) without a fraction, other numbers in the shortest form that
 * reads back to the same double, strings with the minimal JSON escapes.
 * Appends to `out`. WEIR_EINVAL for NaN/infinity or a key that appears
 * twice in one object.
 */
weir_status weir_json_canonical(const struct cJSON *v, weir_buf *out);
/* A number as canonical JSON writes it. buf: at least 32 bytes. */
void weir_json_number_canonical(double v, char buf[32]);

#ifdef __cplusplus
}
#endif
#endif
