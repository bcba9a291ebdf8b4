/*
 * weir-transform — TFX's Transform: full-pass analyzers over the analysis
 * splits, then the same transform applied to every split.
 *
 * Reads <examples>/Split-<split>/ (gzip TFRecord of tf.Example) and
 * <schema>/schema.pbtxt (input types: the spec is checked against them
 * before any data is read); writes
 *   <transform_graph>/transform_graph.json   the spec with every analyzer
 *                                            result (weir.transform/v1)
 *   <transform_graph>/vocabularies/<f>.txt   one token per line, most
 *                                            frequent first
 *   <transformed_examples>/Split-<split>/data_tfrecord-NNNNN-of-MMMMM.gz
 * The examples are transformed by the graph as reloaded from its JSON: the
 * very code and numbers the Trainer and the model server use.
 *
 * Params: features, label, passthrough (docs/components/transform.md);
 * splits_config {analyze: [train], transform: [train, eval]} (TFX's
 * default: analyze train, transform every split).
 */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tfmd.h"
#include "weir/io.h"
#include "weir/pipeline.h"
#include "weir/transform.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static weir_tf_type schema_type(void *ctx, const char *name) {
    const weir_tfmd_schema *s = ctx;
    for (size_t i = 0; i < s->n_feature; i++) {
        if (strcmp(s->feature[i]->name, name) != 0) continue;
        switch (s->feature[i]->type) {
        case TENSORFLOW__METADATA__V0__FEATURE_TYPE__INT:
        case TENSORFLOW__METADATA__V0__FEATURE_TYPE__FLOAT:
            return WEIR_TF_NUM;
        case TENSORFLOW__METADATA__V0__FEATURE_TYPE__BYTES:
            return WEIR_TF_STR;
        default:
            return WEIR_TF_UNKNOWN;
        }
    }
    return WEIR_TF_UNKNOWN;
}

static void print_problem(void *ctx, const cJSON *at, const char *feature, const char *msg) {
    (void)ctx;
    (void)at;
    (void)feature;
    fprintf(stderr, "weir-transform: %s\n", msg);
}

static int in_list(const cJSON *list, const char *s) {
    const cJSON *e;
    cJSON_ArrayForEach(e, list) if (cJSON_IsString(e) && strcmp(e->valuestring, s) == 0) return 1;
    return 0;
}

/* Data files of a split directory (hidden ones skipped). */
static weir_status split_files(const char *examples_uri, const char *split, weir_io_list_result *l) {
    char rel[300];
    snprintf(rel, sizeof rel, "Split-%s", split);
    char *dir = weir_io_join(examples_uri, rel);
    if (!dir) return weir_errorf(WEIR_ENOMEM, "out of memory");
    weir_status rc = weir_io_list(dir, 0, l);
    if (rc) rc = weir_error_prefix(rc, "examples of split %s: ", split);
    free(dir);
    return rc;
}

/*
 * Records go through in batches: the reading thread collects a batch, then
 * `threads` workers share it — decoding split by example; the analysis
 * split by output feature (each analyzer is fed by one thread, in input
 * order); apply (decode, transform, encode) split by example, each result
 * in its own slot, written in input order — so the output is the same
 * whatever the thread count.
 */
#define BATCH 1024
#define MAX_THREADS 16

struct batch {
    weir_bytes raw[BATCH];          /* serialized records (the reader's arena) */
    weir_example ex[BATCH];         /* decoded, for the analysis */
    const char *file[BATCH];        /* for messages */
    size_t n;
};

enum { JOB_DECODE, JOB_ANALYZE, JOB_APPLY };

struct job {
    int mode;
    int apply;                      /* 0: analyze, 1: apply */
    weir_transform_t *spec;         /* analyze */
    const weir_transform_t *graph;  /* apply */
    struct batch *b;
    weir_buf *enc;                  /* apply: one buffer per batch slot */
    size_t id, n;                   /* this thread, of n */
    weir_arena_t *arena;            /* per example */
    weir_arena_t *decoded;          /* this thread's decoded examples, per batch */
    weir_status rc;
    char err[512];
};

static weir_status decode_one(struct batch *b, size_t e, weir_arena_t *a, weir_example *out) {
    weir_status rc = weir_example_decode(b->raw[e].p, b->raw[e].n, a, out);
    return rc ? weir_error_prefix(rc, "%s: ", b->file[e]) : WEIR_OK;
}

static void *job_run(void *arg) {
    struct job *j = arg;
    j->rc = WEIR_OK;
    struct batch *b = j->b;
    if (j->mode == JOB_DECODE) { /* examples id, id+n, ... */
        weir_arena_reset(j->decoded);
        for (size_t e = j->id; e < b->n && !j->rc; e += j->n)
            j->rc = decode_one(b, e, j->decoded, &b->ex[e]);
    } else if (j->mode == JOB_ANALYZE) { /* every example, features id, id+n, ... */
        for (size_t e = 0; e < b->n && !j->rc; e++) {
            weir_arena_reset(j->arena);
            j->rc = weir_transform_analyze_part(j->spec, &b->ex[e], j->arena, j->id, j->n);
        }
    } else { /* examples id, id+n, ...: decode, transform, encode */
        for (size_t e = j->id; e < b->n && !j->rc; e += j->n) {
            weir_arena_reset(j->arena);
            weir_example in, o;
            j->rc = decode_one(b, e, j->arena, &in);
            if (!j->rc) j->rc = weir_transform_apply(j->graph, &in, j->arena, &o);
            j->enc[e].len = 0;
            if (!j->rc) j->rc = weir_example_encode(&o, &j->enc[e]);
        }
    }
    if (j->rc) snprintf(j->err, sizeof j->err, "%s", weir_error_message());
    return NULL;
}

struct pool {
    struct job jobs[MAX_THREADS];
    size_t n;
};

static weir_status run_jobs(struct pool *p) {
    pthread_t th[MAX_THREADS];
    size_t started = 0;
    for (size_t i = 1; i < p->n; i++)
        if (pthread_create(&th[i], NULL, job_run, &p->jobs[i]) == 0) started = i;
        else break;
    job_run(&p->jobs[0]);
    for (size_t i = started + 1; i < p->n; i++) job_run(&p->jobs[i]); /* not started: here */
    for (size_t i = 1; i <= started; i++) pthread_join(th[i], NULL);
    for (size_t i = 0; i < p->n; i++)
        if (p->jobs[i].rc) return weir_errorf(p->jobs[i].rc, "%s", p->jobs[i].err);
    return WEIR_OK;
}

typedef weir_status (*batch_fn)(void *ctx, struct batch *b);

static weir_status each_batch(const weir_io_list_result *l, weir_arena_t *a, struct batch *b,
                              batch_fn fn, void *ctx, uint64_t *rows) {
    weir_status rc = WEIR_OK;
    b->n = 0;
    weir_arena_reset(a);
    for (size_t i = 0; i < l->count && !rc; i++) {
        const char *base = strrchr(l->entries[i].uri, '/');
        if (l->entries[i].st.is_dir || (base && base[1] == '.')) continue;
        weir_tfrecord_reader_t *r = NULL;
        if ((rc = weir_tfrecord_reader_open(l->entries[i].uri, WEIR_TFRECORD_AUTO, 0, &r))) break;
        for (;;) {
            const uint8_t *p;
            size_t n;
            rc = weir_tfrecord_reader_next(r, &p, &n);
            if (rc == WEIR_EOF_) { rc = WEIR_OK; break; }
            if (rc) break;
            uint8_t *copy = weir_arena_alloc(a, n ? n : 1); /* the batch outlives the record */
            if (!copy) { rc = weir_errorf(WEIR_ENOMEM, "out of memory"); break; }
            memcpy(copy, p, n);
            b->raw[b->n] = (weir_bytes){copy, n};
            b->file[b->n] = l->entries[i].uri;
            if (++b->n == BATCH) {
                if ((rc = fn(ctx, b))) break;
                *rows += b->n;
                b->n = 0;
                weir_arena_reset(a);
            }
        }
        weir_tfrecord_reader_close(r);
    }
    if (!rc && b->n) {
        rc = fn(ctx, b);
        if (!rc) *rows += b->n;
        b->n = 0;
    }
    return rc;
}

static weir_status analyze_batch(void *ctx, struct batch *b) {
    struct pool *p = ctx;
    for (size_t i = 0; i < p->n; i++) {
        p->jobs[i].b = b;
        p->jobs[i].mode = JOB_DECODE;
    }
    weir_status rc = run_jobs(p);
    for (size_t i = 0; i < p->n; i++) p->jobs[i].mode = JOB_ANALYZE;
    return rc ? rc : run_jobs(p);
}

struct apply_ctx {
    struct pool *p;
    weir_buf *enc;
    weir_tfrecord_shards_t *out;
};

static weir_status apply_batch(void *ctx, struct batch *b) {
    struct apply_ctx *c = ctx;
    for (size_t i = 0; i < c->p->n; i++) c->p->jobs[i].b = b;
    weir_status rc = run_jobs(c->p);
    for (size_t e = 0; e < b->n && !rc; e++)
        rc = weir_tfrecord_shards_write(c->out, c->enc[e].data, c->enc[e].len);
    return rc;
}

/* How many threads: cores (WEIR_THREADS overrides), one with user code
 * (it would run once per thread). */
static size_t thread_count(const weir_transform_t *t) {
    const char *env = getenv("WEIR_THREADS");
    long n = env && *env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1 || weir_transform_has_module(t)) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    return (size_t)n;
}

static weir_status pool_init(struct pool *p, size_t n, int apply, weir_transform_t *spec,
                             const weir_transform_t *graph, weir_buf *enc) {
    memset(p, 0, sizeof *p);
    p->n = n;
    for (size_t i = 0; i < n; i++) {
        p->jobs[i] = (struct job){.mode = apply ? JOB_APPLY : JOB_ANALYZE, .apply = apply,
                                  .spec = spec, .graph = graph, .enc = enc, .id = i, .n = n};
        weir_status rc = weir_arena_new(16 * 1024, 0, &p->jobs[i].arena);
        if (!rc) rc = weir_arena_new(256 * 1024, 0, &p->jobs[i].decoded);
        if (rc) return rc;
    }
    return WEIR_OK;
}

static void pool_free(struct pool *p) {
    for (size_t i = 0; i < p->n; i++) {
        weir_arena_free(p->jobs[i].arena);
        weir_arena_free(p->jobs[i].decoded);
    }
}

static weir_status write_vocabularies(const weir_transform_t *t, const char *graph_uri) {
    for (size_t i = 0; i < weir_transform_vocab_count(t); i++) {
        const char *feature;
        const weir_bytes *tok;
        const uint64_t *cnt;
        size_t n;
        weir_status rc = weir_transform_vocab_at(t, i, &feature, &tok, &cnt, &n);
        if (rc) return rc;
        weir_buf b;
        weir_buf_init(&b, 1u << 30);
        for (size_t k = 0; k < n && !rc; k++) {
            rc = weir_buf_append(&b, tok[k].p, tok[k].n);
            if (!rc) rc = weir_buf_append(&b, "\n", 1);
        }
        char rel[300];
        snprintf(rel, sizeof rel, "vocabularies/%s.txt", feature);
        char *path = weir_io_join(graph_uri, rel);
        if (!rc && !path) rc = weir_errorf(WEIR_ENOMEM, "out of memory");
        if (!rc) rc = weir_io_write_all(path, b.data ? b.data : (const uint8_t *)"", b.len);
        free(path);
        weir_buf_free(&b);
        if (rc) return rc;
    }
    return WEIR_OK;
}

static weir_status run(const weir_executor_input_t *in, weir_executor_output_t *out) {
    weir_status rc;
    weir_artifact_ref ex, sc;
    const char *graph_uri = NULL, *tex_uri = NULL;
    weir_tfmd_schema *schema = NULL;
    weir_transform_t *spec = NULL, *graph = NULL;
    char **splits = NULL;
    size_t nsplits = 0;
    weir_arena_t *a = NULL;
    char *json = NULL;
    cJSON *done = NULL;
    char *done_text = NULL;
    struct batch *batch = NULL;
    if ((rc = weir_executor_input_artifact(in, "examples", 0, &ex)) ||
        (rc = weir_executor_input_artifact(in, "schema", 0, &sc)) ||
        (rc = weir_executor_input_output_uri(in, "transform_graph", &graph_uri)))
        goto out;
    if (weir_executor_input_output_uri(in, "transformed_examples", &tex_uri)) tex_uri = NULL;
    {
        char *file = weir_io_join(sc.uri, "schema.pbtxt");
        rc = file ? weir_schema_load(file, &schema) : weir_errorf(WEIR_ENOMEM, "out of memory");
        free(file);
        if (rc) goto out;
    }
    const cJSON *params = weir_executor_input_params(in);
    /* with user code, its features are inputs the schema does not know */
    rc = weir_transform_from_spec(params,
                                  cJSON_GetObjectItemCaseSensitive(params, "module_file") ? NULL : schema_type,
                                  schema, print_problem, NULL, &spec);
    if (!rc) rc = weir_transform_open_module(spec);
    if (rc) {
        rc = weir_error_prefix(rc, "the transform spec does not fit the schema at %s: ", sc.uri);
        goto out;
    }
    const cJSON *sn = ex.properties ? cJSON_GetObjectItemCaseSensitive(ex.properties, "split_names") : NULL;
    if (!cJSON_IsString(sn)) {
        rc = weir_errorf(WEIR_EINVAL, "examples at %s have no split_names property", ex.uri);
        goto out;
    }
    if ((rc = weir_tfmd_split_names(sn->valuestring, &splits, &nsplits))) goto out;
    const cJSON *sc_cfg = cJSON_GetObjectItemCaseSensitive(params, "splits_config");
    const cJSON *an_list = cJSON_GetObjectItemCaseSensitive(sc_cfg, "analyze");
    const cJSON *tr_list = cJSON_GetObjectItemCaseSensitive(sc_cfg, "transform");
    if ((rc = weir_arena_new(64 * 1024, 0, &a))) goto out;

    /* analysis, one pass per phase */
    double t0 = now_s();
    uint64_t analyzed = 0;
    size_t nthreads = thread_count(spec);
    batch = calloc(1, sizeof *batch);
    if (!batch) { rc = weir_errorf(WEIR_ENOMEM, "out of memory"); goto out; }
    for (unsigned ph = 0; ph < weir_transform_phases(spec); ph++) {
        if ((rc = weir_transform_analyze_begin(spec, ph))) goto out;
        analyzed = 0;
        int any = 0;
        for (size_t i = 0; i < nsplits; i++) {
            int want = an_list ? in_list(an_list, splits[i]) : strcmp(splits[i], "train") == 0;
            if (!want) continue;
            any = 1;
            weir_io_list_result l = {0};
            if ((rc = split_files(ex.uri, splits[i], &l))) goto out;
            struct pool p = {0};
            rc = pool_init(&p, nthreads, 0, spec, NULL, NULL);
            if (!rc) rc = each_batch(&l, a, batch, analyze_batch, &p, &analyzed);
            pool_free(&p);
            weir_io_list_free(&l);
            if (rc) goto out;
        }
        if (!any) {
            rc = weir_errorf(WEIR_EINVAL, "no split to analyze: the examples have splits %s and "
                             "splits_config.analyze names none of them (default: train)",
                             sn->valuestring);
            goto out;
        }
        if ((rc = weir_transform_analyze_end(spec))) goto out;
    }
    double t_an = now_s() - t0;

    /* the graph: written, then read back — the runtime uses what others load */
    if ((rc = weir_transform_to_json(spec, &json))) goto out;
    char *gpath = weir_io_join(graph_uri, "transform_graph.json");
    if (!gpath) { rc = weir_errorf(WEIR_ENOMEM, "out of memory"); goto out; }
    rc = weir_io_write_all(gpath, json, strlen(json));
    free(gpath);
    if (rc) goto out;
    if ((rc = write_vocabularies(spec, graph_uri))) goto out;
    if ((rc = weir_transform_load(graph_uri, &graph))) goto out;

    done = cJSON_CreateArray();
    double t1 = now_s();
    uint64_t total = 0;
    for (size_t i = 0; tex_uri && i < nsplits; i++) {
        if (tr_list && !in_list(tr_list, splits[i])) continue;
        weir_io_list_result l = {0};
        if ((rc = split_files(ex.uri, splits[i], &l))) goto out;
        unsigned nshards = 0;
        for (size_t k = 0; k < l.count; k++) nshards += !l.entries[k].st.is_dir;
        char rel[300];
        snprintf(rel, sizeof rel, "Split-%s", splits[i]);
        char *dir = weir_io_join(tex_uri, rel);
        struct pool p = {0};
        struct apply_ctx c = {.p = &p, .enc = calloc(BATCH, sizeof *c.enc)};
        for (size_t e = 0; c.enc && e < BATCH; e++) weir_buf_init(&c.enc[e], 256u << 20);
        rc = c.enc ? pool_init(&p, nthreads, 1, NULL, graph, c.enc)
                   : weir_errorf(WEIR_ENOMEM, "out of memory");
        if (!rc)
            rc = dir ? weir_tfrecord_shards_open(dir, "data_tfrecord", nshards ? nshards : 1,
                                                 WEIR_TFRECORD_GZIP, 6, &c.out)
                     : weir_errorf(WEIR_ENOMEM, "out of memory");
        uint64_t rows = 0;
        if (!rc) rc = each_batch(&l, a, batch, apply_batch, &c, &rows);
        if (!rc) rc = weir_tfrecord_shards_close(c.out);
        else if (c.out) weir_tfrecord_shards_abort(c.out);
        pool_free(&p);
        for (size_t e = 0; c.enc && e < BATCH; e++) weir_buf_free(&c.enc[e]);
        free(c.enc);
        free(dir);
        weir_io_list_free(&l);
        if (rc) goto out;
        total += rows;
        char key[300];
        snprintf(key, sizeof key, "rows_%s", splits[i]);
        weir_executor_output_execution_set_int(out, key, (int64_t)rows);
        cJSON_AddItemToArray(done, cJSON_CreateString(splits[i]));
        printf("transformed split %s: %llu examples\n", splits[i], (unsigned long long)rows);
    }
    double t_ap = now_s() - t1;
    printf("analyzed %llu examples in %u pass(es), %.2f s; applied to %llu in %.2f s; "
           "%zu thread(s)\n", (unsigned long long)analyzed, weir_transform_phases(spec), t_an,
           (unsigned long long)total, t_ap, nthreads);
    weir_executor_output_execution_set_int(out, "analyzed_examples", (int64_t)analyzed);
    weir_executor_output_execution_set_int(out, "analysis_passes", weir_transform_phases(spec));
    weir_executor_output_execution_set_int(out, "output_features", (int64_t)weir_transform_outputs(spec));
    if (tex_uri) {
        done_text = cJSON_PrintUnformatted(done);
        if (!done_text) { rc = weir_errorf(WEIR_ENOMEM, "out of memory"); goto out; }
        rc = weir_executor_output_artifact_set_string(out, "transformed_examples", 0, 0,
                                                      "split_names", done_text);
    }
out:
    free(batch);
    free(done_text);
    cJSON_Delete(done);
    free(json);
    weir_arena_free(a);
    weir_transform_free(spec);
    weir_transform_free(graph);
    weir_tfmd_split_names_free(splits, nsplits);
    if (schema) protobuf_c_message_free_unpacked(&schema->base, NULL);
    return rc;
}

int main(int argc, char **argv) {
    return weir_component_main(argc, argv, "weir-transform",
        "TFX's Transform: analyzes the train split, writes the TransformGraph\n"
        "(docs/components/transform.md) and the transformed examples.\n", run);
}
