/*
 * test_tfmd.c — TensorFlow Metadata protos, the pbtxt printer/parser, and
 * the statistics / schema inference / validation behind StatisticsGen,
 * SchemaGen and ExampleValidator.
 *
 * Fixtures: data/tfmd/churn_schema.pbtxt was written by TFDV 1.16.1
 * (tfdv.write_schema_text(tfdv.infer_schema(...)) on wa_churn.csv converted
 * by `weir convert csv`), so printing what we parse must give its bytes back.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../components/statistics_gen/tfmd.h"
#include "weir/core.h"
#include "weir/data.h"
#include "weir/pbtxt.h"

typedef Tensorflow__Metadata__V0__Schema schema_t;

static ProtobufCMessage *parse_ok(const char *text, const ProtobufCMessageDescriptor *d) {
    ProtobufCMessage *m = NULL;
    weir_status rc = weir_pbtxt_parse("t.pbtxt", text, strlen(text), d, NULL, &m);
    if (rc) fprintf(stderr, "parse failed: %s\n", weir_error_message());
    assert_int_equal(rc, WEIR_OK);
    return m;
}

static char *print(const ProtobufCMessage *m) {
    weir_buf b;
    weir_buf_init(&b, 1 << 24);
    assert_int_equal(weir_pbtxt_print(m, &b), WEIR_OK);
    assert_int_equal(weir_buf_append_byte(&b, 0), WEIR_OK);
    return (char *)weir_buf_detach(&b, NULL);
}

/* ----------------------------------------------------------------- pbtxt */

static void test_pbtxt_tfdv_fixture_round_trip(void **state) {
    (void)state;
    weir_buf f;
    weir_buf_init(&f, 1 << 20);
    assert_int_equal(weir_file_read_all("data/tfmd/churn_schema.pbtxt", &f), WEIR_OK);
    ProtobufCMessage *m = NULL;
    assert_int_equal(weir_pbtxt_parse("churn_schema.pbtxt", (const char *)f.data, f.len,
                                      &tensorflow__metadata__v0__schema__descriptor, NULL, &m),
                     WEIR_OK);
    const schema_t *s = (const schema_t *)m;
    assert_int_equal(s->n_feature, 20);
    assert_string_equal(s->feature[0]->name, "churn");
    assert_int_equal(s->feature[0]->type, TENSORFLOW__METADATA__V0__FEATURE_TYPE__BYTES);
    assert_int_equal(s->feature[0]->domain_info_case,
                     TENSORFLOW__METADATA__V0__FEATURE__DOMAIN_INFO_DOMAIN);
    assert_true(s->feature[0]->presence->has_min_fraction);
    assert_true(s->feature[0]->presence->min_fraction == 1.0);
    assert_int_equal(s->feature[0]->shape->dim[0]->size, 1);
    char *again = print(m);
    assert_int_equal(strlen(again), f.len);
    assert_memory_equal(again, f.data, f.len);
    free(again);
    /* binary round trip through protobuf-c keeps everything */
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *pb = malloc(n);
    protobuf_c_message_pack(m, pb);
    ProtobufCMessage *m2 = protobuf_c_message_unpack(&tensorflow__metadata__v0__schema__descriptor,
                                                     NULL, n, pb);
    assert_non_null(m2);
    char *t2 = print(m2);
    assert_memory_equal(t2, f.data, f.len);
    free(t2);
    free(pb);
    protobuf_c_message_free_unpacked(m2, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
    weir_buf_free(&f);
}

static void test_pbtxt_syntax_variants(void **state) {
    (void)state;
    const char *text =
        "# a comment line\n"
        "feature <            # angle brackets\n"
        "  name: 'sin' \"gle\"  # adjacent literals, both quotes\n"
        "  type: 2;\n"
        "  int_domain: { min: -0x10, max: 017 }\n"
        "  presence { min_fraction: .5 min_count: 3 }\n"
        ">\n"
        "feature { name: \"esc\\t\\\"q\\\"\\101\\x42\\u00e9\" type: FLOAT\n"
        "  float_domain { min: -inf max: 1.5e3f }\n"
        "  not_in_environment: [\"SERVING\", \"X\"]\n"
        "}\n"
        "default_environment: []\n"
        "generate_legacy_feature_spec: false\n";
    ProtobufCMessage *m = parse_ok(text, &tensorflow__metadata__v0__schema__descriptor);
    const schema_t *s = (const schema_t *)m;
    assert_int_equal(s->n_feature, 2);
    assert_string_equal(s->feature[0]->name, "single");
    assert_int_equal(s->feature[0]->type, TENSORFLOW__METADATA__V0__FEATURE_TYPE__INT);
    assert_int_equal(s->feature[0]->int_domain->min, -16);
    assert_int_equal(s->feature[0]->int_domain->max, 15);
    assert_true(s->feature[0]->presence->min_fraction == 0.5);
    assert_int_equal(s->feature[0]->presence->min_count, 3);
    assert_string_equal(s->feature[1]->name, "esc\t\"q\"AB\xc3\xa9");
    assert_true(isinf(s->feature[1]->float_domain->min) && s->feature[1]->float_domain->min < 0);
    assert_true(s->feature[1]->float_domain->max == 1500.0f);
    assert_int_equal(s->feature[1]->n_not_in_environment, 2);
    assert_string_equal(s->feature[1]->not_in_environment[1], "X");
    assert_true(s->has_generate_legacy_feature_spec && !s->generate_legacy_feature_spec);
    char *out = print(m);
    /* printed as Python's text_format: field-number order, octal escapes */
    assert_non_null(strstr(out, "  name: \"esc\\t\\\"q\\\"AB\\303\\251\"\n  type: FLOAT\n"));
    assert_non_null(strstr(out, "  int_domain {\n    min: -16\n    max: 15\n  }\n"));
    assert_non_null(strstr(out, "    min: -inf\n    max: 1500.0\n"));
    assert_non_null(strstr(out, "generate_legacy_feature_spec: false\n"));
    /* and reads back to the same text */
    ProtobufCMessage *m2 = parse_ok(out, &tensorflow__metadata__v0__schema__descriptor);
    char *out2 = print(m2);
    assert_string_equal(out, out2);
    free(out);
    free(out2);
    protobuf_c_message_free_unpacked(m2, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void expect_error(const char *text, weir_status want, const char *where,
                         const char *what) {
    ProtobufCMessage *m = NULL;
    weir_status rc = weir_pbtxt_parse("x.pbtxt", text, strlen(text),
                                      &tensorflow__metadata__v0__schema__descriptor, NULL, &m);
    assert_int_equal(rc, want);
    assert_null(m);
    const char *msg = weir_error_message();
    if (!strstr(msg, where) || !strstr(msg, what)) fail_msg("message was: %s", msg);
}

static void test_pbtxt_errors(void **state) {
    (void)state;
    expect_error("feature {\n  name: \"a\"\n  nmae: \"b\"\n}\n", WEIR_EPARSE, "x.pbtxt:3:3",
                 "Feature has no field named \"nmae\"");
    expect_error("feature { type: WORD }", WEIR_EPARSE, "x.pbtxt:1:17", "no value named \"WORD\"");
    expect_error("feature { name: \"open\n}", WEIR_EPARSE, "x.pbtxt:1:17", "not terminated");
    expect_error("feature { name: \"a\" name: \"b\" }", WEIR_EPARSE, "x.pbtxt:1:21", "given twice");
    expect_error("feature { int_domain {} float_domain {} }", WEIR_EPARSE, "x.pbtxt:1:25",
                 "another member of its oneof");
    expect_error("feature { value_count { min: 99999999999999999999 } }", WEIR_ERANGE,
                 "x.pbtxt:1:30", "out of range");
    expect_error("feature { name: \"a\"", WEIR_EPARSE, "x.pbtxt:1:20", "expected '}'");
    expect_error("[ext.x] { }", WEIR_EUNSUPPORTED, "x.pbtxt:1:1", "not supported");
    expect_error("feature { presence: 3 }", WEIR_EPARSE, "x.pbtxt:1:21", "expected '{'");
    /* nesting limit */
    char deep[4096] = "";
    for (int i = 0; i < 150; i++) strcat(deep, "struct_domain { feature { ");
    ProtobufCMessage *m = NULL;
    char text[8192];
    snprintf(text, sizeof text, "feature { %s", deep);
    weir_pbtxt_limits lim = {.max_depth = 20};
    assert_int_equal(weir_pbtxt_parse("d", text, strlen(text),
                                      &tensorflow__metadata__v0__schema__descriptor, &lim, &m),
                     WEIR_ELIMIT);
}

static void test_pbtxt_numbers(void **state) {
    (void)state;
    char b[32];
    struct {
        double v;
        const char *want;
    } d[] = {{1.0, "1.0"},        {0.1, "0.1"},         {1e-05, "1e-05"}, {0.0001, "0.0001"},
             {1e16, "1e+16"},     {123456789.0, "123456789.0"},          {-2.5, "-2.5"},
             {704.3, "704.3"},    {1.5e300, "1.5e+300"}, {0.0, "0.0"},  {NAN, "nan"},
             {-INFINITY, "-inf"}, {32.37114865824224, "32.37114865824224"}};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) {
        weir_pbtxt_format_double(d[i].v, b);
        assert_string_equal(b, d[i].want);
    }
    weir_pbtxt_format_float(0.1f, b);
    assert_string_equal(b, "0.1");
    weir_pbtxt_format_float(1.0f / 3.0f, b); /* 6 digits do not read back */
    assert_string_equal(b, "0.33333334");
    weir_pbtxt_format_float(16777217.0f, b);
    assert_string_equal(b, "16777216.0");
    weir_pbtxt_format_float(3.14159274f, b);
    assert_string_equal(b, "3.1415927");
    weir_pbtxt_format_float(0.5f, b);
    assert_string_equal(b, "0.5");
}

/* ------------------------------------------------------------ statistics */

typedef struct ex_builder {
    weir_feature f[3];
    size_t n;
} ex_builder;

static void add_examples(weir_stats_acc_t *a) {
    /* x: 1,2,3,4 in four examples, missing in the fifth; y: floats with a
     * zero and two values in one example; s: "a","b","a" and "hello". */
    static const int64_t xs[4] = {1, 2, 3, 4};
    static const float ys[5] = {0.0f, 1.5f, -1.5f, 3.0f, 4.0f};
    static const weir_bytes ss[4] = {{(const uint8_t *)"a", 1},
                                     {(const uint8_t *)"b", 1},
                                     {(const uint8_t *)"a", 1},
                                     {(const uint8_t *)"hello", 5}};
    for (int i = 0; i < 5; i++) {
        weir_feature f[3];
        size_t n = 0;
        memset(f, 0, sizeof f);
        if (i < 4) {
            f[n].name = "x";
            f[n].kind = WEIR_FEATURE_INT64;
            f[n].count = 1;
            f[n].v.ints = &xs[i];
            n++;
        }
        f[n].name = "y";
        f[n].kind = WEIR_FEATURE_FLOAT;
        f[n].count = i == 0 ? 2 : (i == 4 ? 0 : 1); /* example 4: empty list, still present */
        f[n].v.floats = i == 0 ? &ys[0] : &ys[i + 1 > 4 ? 4 : i + 1];
        n++;
        if (i < 3) {
            f[n].name = "s";
            f[n].kind = WEIR_FEATURE_BYTES;
            f[n].count = i == 2 ? 2 : 1;
            f[n].v.bytes = i == 2 ? &ss[2] : &ss[i];
            n++;
        }
        weir_example ex = {f, n};
        assert_int_equal(weir_stats_acc_add(a, &ex), WEIR_OK);
    }
}

static const weir_tfmd_feature_stats *feat(const weir_tfmd_dataset_stats *ds, const char *name) {
    const weir_tfmd_feature_stats *f = weir_tfmd_find_feature(ds, name);
    assert_non_null(f);
    return f;
}

static weir_tfmd_dataset_stats *small_stats(void) {
    weir_stats_acc_t *a = NULL;
    assert_int_equal(weir_stats_acc_new(NULL, &a), WEIR_OK);
    add_examples(a);
    weir_tfmd_dataset_stats *ds = NULL;
    assert_int_equal(weir_stats_acc_finish(a, &ds), WEIR_OK);
    weir_stats_acc_free(a);
    return ds;
}

static void test_statistics_by_hand(void **state) {
    (void)state;
    weir_tfmd_dataset_stats *ds = small_stats();
    assert_int_equal(ds->num_examples, 5);
    assert_int_equal(ds->n_features, 3);
    /* sorted by name */
    assert_string_equal(weir_tfmd_feature_name(ds->features[0]), "s");
    const weir_tfmd_feature_stats *x = feat(ds, "x");
    assert_int_equal(x->type, TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__TYPE__INT);
    const Tensorflow__Metadata__V0__NumericStatistics *n = x->num_stats;
    assert_int_equal(n->common_stats->num_non_missing, 4);
    assert_int_equal(n->common_stats->num_missing, 1);
    assert_int_equal(n->common_stats->tot_num_values, 4);
    assert_true(n->mean == 2.5);
    assert_true(fabs(n->std_dev - sqrt(1.25)) < 1e-15); /* population */
    assert_true(n->min == 1 && n->max == 4 && n->num_zeros == 0);
    assert_true(n->median == 2.0); /* value at rank n/2 of 1001 quantiles */
    assert_int_equal(n->n_histograms, 2);
    const Tensorflow__Metadata__V0__Histogram *h = n->histograms[0];
    assert_int_equal(h->type, TENSORFLOW__METADATA__V0__HISTOGRAM__HISTOGRAM_TYPE__STANDARD);
    assert_int_equal(h->n_buckets, 10);
    assert_true(h->buckets[0]->low_value == 1.0 && fabs(h->buckets[0]->high_value - 1.3) < 1e-12);
    double tot = 0;
    for (size_t i = 0; i < h->n_buckets; i++) tot += h->buckets[i]->sample_count;
    assert_true(fabs(tot - 4) < 1e-9);
    const Tensorflow__Metadata__V0__Histogram *q = n->histograms[1];
    assert_int_equal(q->type, TENSORFLOW__METADATA__V0__HISTOGRAM__HISTOGRAM_TYPE__QUANTILES);
    assert_int_equal(q->n_buckets, 10);
    tot = 0;
    for (size_t i = 0; i < q->n_buckets; i++) tot += q->buckets[i]->sample_count;
    assert_true(fabs(tot - 4) < 1e-9);
    /* num_values histogram: every present example has one value */
    assert_int_equal(n->common_stats->num_values_histogram->n_buckets, 10);
    assert_true(fabs(n->common_stats->num_values_histogram->buckets[3]->sample_count - 0.4) < 1e-12);

    const weir_tfmd_feature_stats *y = feat(ds, "y");
    const Tensorflow__Metadata__V0__CommonStatistics *cy = y->num_stats->common_stats;
    assert_int_equal(cy->num_non_missing, 5); /* an empty list is present */
    assert_int_equal(cy->min_num_values, 0);
    assert_int_equal(cy->max_num_values, 2);
    assert_int_equal(cy->tot_num_values, 5);
    assert_true(fabs(cy->avg_num_values - 1.0f) < 1e-7);
    assert_int_equal(y->num_stats->num_zeros, 1);
    assert_true(y->num_stats->min == -1.5 && y->num_stats->max == 4.0);
    assert_true(fabs(y->num_stats->mean - (0 + 1.5 - 1.5 + 3 + 4) / 5.0) < 1e-15);

    const weir_tfmd_feature_stats *s = feat(ds, "s");
    assert_int_equal(s->type, TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__TYPE__STRING);
    const Tensorflow__Metadata__V0__StringStatistics *ss = s->string_stats;
    assert_int_equal(ss->common_stats->num_non_missing, 3);
    assert_int_equal(ss->common_stats->num_missing, 2);
    assert_int_equal(ss->unique, 3);
    assert_true(fabs(ss->avg_length - 8.0f / 4.0f) < 1e-7);
    assert_int_equal(ss->n_top_values, 3);
    assert_string_equal(ss->top_values[0]->value, "a");
    assert_true(ss->top_values[0]->frequency == 2);
    /* ties: larger value first */
    assert_string_equal(ss->top_values[1]->value, "hello");
    assert_string_equal(ss->top_values[2]->value, "b");
    assert_int_equal(ss->rank_histogram->n_buckets, 3);
    assert_int_equal(ss->rank_histogram->buckets[2]->low_rank, 2);
    assert_string_equal(ss->rank_histogram->buckets[2]->label, "b");

    /* the serialized list parses back */
    uint8_t *buf;
    size_t len;
    assert_int_equal(weir_stats_serialize(ds, &buf, &len), WEIR_OK);
    weir_tfmd_stats_list *l =
        tensorflow__metadata__v0__dataset_feature_statistics_list__unpack(NULL, len, buf);
    assert_non_null(l);
    assert_int_equal(l->n_datasets, 1);
    assert_int_equal(l->datasets[0]->n_features, 3);
    protobuf_c_message_free_unpacked(&l->base, NULL);
    free(buf);
    protobuf_c_message_free_unpacked(&ds->base, NULL);
}

static void test_statistics_merge_equals_single(void **state) {
    (void)state;
    weir_stats_acc_t *a = NULL, *b = NULL;
    assert_int_equal(weir_stats_acc_new(NULL, &a), WEIR_OK);
    assert_int_equal(weir_stats_acc_new(NULL, &b), WEIR_OK);
    add_examples(a);
    add_examples(b);
    assert_int_equal(weir_stats_acc_merge(a, b), WEIR_OK);
    weir_tfmd_dataset_stats *ds = NULL;
    assert_int_equal(weir_stats_acc_finish(a, &ds), WEIR_OK);
    assert_int_equal(ds->num_examples, 10);
    const weir_tfmd_feature_stats *x = feat(ds, "x");
    assert_int_equal(x->num_stats->common_stats->num_non_missing, 8);
    assert_true(x->num_stats->mean == 2.5);
    assert_true(fabs(x->num_stats->std_dev - sqrt(1.25)) < 1e-12);
    assert_true(feat(ds, "s")->string_stats->top_values[0]->frequency == 4);
    protobuf_c_message_free_unpacked(&ds->base, NULL);
    weir_stats_acc_free(a);
    weir_stats_acc_free(b);
}

static void test_statistics_type_change_fails(void **state) {
    (void)state;
    weir_stats_acc_t *a = NULL;
    assert_int_equal(weir_stats_acc_new(NULL, &a), WEIR_OK);
    int64_t i = 1;
    float f = 1;
    weir_feature fi = {.name = "v", .kind = WEIR_FEATURE_INT64, .count = 1, .v.ints = &i};
    weir_feature ff = {.name = "v", .kind = WEIR_FEATURE_FLOAT, .count = 1, .v.floats = &f};
    weir_example e1 = {&fi, 1}, e2 = {&ff, 1};
    assert_int_equal(weir_stats_acc_add(a, &e1), WEIR_OK);
    assert_int_equal(weir_stats_acc_add(a, &e2), WEIR_ETYPE);
    assert_non_null(strstr(weir_error_message(), "feature 'v'"));
    weir_stats_acc_free(a);
}

static void test_sketch_rank_error_bound(void **state) {
    (void)state;
    weir_stats_opts o;
    weir_stats_opts_default(&o);
    o.sketch_k = 64; /* small, to force many compactions */
    weir_stats_acc_t *a = NULL;
    assert_int_equal(weir_stats_acc_new(&o, &a), WEIR_OK);
    const int N = 200000;
    for (int i = 0; i < N; i++) {
        /* a permutation of 0..N-1 */
        int64_t v = (int64_t)(((uint64_t)i * 7919u) % (uint64_t)N);
        weir_feature f = {.name = "v", .kind = WEIR_FEATURE_INT64, .count = 1, .v.ints = &v};
        weir_example e = {&f, 1};
        assert_int_equal(weir_stats_acc_add(a, &e), WEIR_OK);
    }
    weir_tfmd_dataset_stats *ds = NULL;
    assert_int_equal(weir_stats_acc_finish(a, &ds), WEIR_OK);
    const Tensorflow__Metadata__V0__NumericStatistics *n = feat(ds, "v")->num_stats;
    double bound = weir_stats_rank_error(&o, (uint64_t)N) * N;
    assert_true(bound > 0);
    /* value v has rank v in 0..N-1 */
    assert_true(fabs(n->median - N / 2.0) <= bound + 1);
    assert_true(n->min == 0 && n->max == N - 1);
    assert_true(fabs(n->mean - (N - 1) / 2.0) < 1e-6);
    const Tensorflow__Metadata__V0__Histogram *q = n->histograms[1];
    for (size_t i = 1; i < q->n_buckets; i++)
        assert_true(fabs(q->buckets[i]->low_value - (double)N * i / 10.0) <= bound + 1);
    assert_true(weir_stats_rank_error(&o, 10) == 0);
    protobuf_c_message_free_unpacked(&ds->base, NULL);
    weir_stats_acc_free(a);
}

/* -------------------------------------------------- schema and anomalies */

static void test_schema_inference(void **state) {
    (void)state;
    weir_tfmd_dataset_stats *ds = small_stats();
    schema_t *s = NULL;
    assert_int_equal(weir_schema_infer(ds, NULL, &s), WEIR_OK);
    char *text = NULL;
    size_t len;
    assert_int_equal(weir_schema_to_text(s, &text, &len), WEIR_OK);
    const char *want =
        /* field-number order: value_count (5) comes before type (6) */
        "feature {\n  name: \"s\"\n  value_count {\n    min: 1\n  }\n  type: BYTES\n"
        "  domain: \"s\"\n  presence {\n    min_count: 1\n  }\n}\n"
        "feature {\n  name: \"x\"\n  value_count {\n    min: 1\n    max: 1\n  }\n"
        "  type: INT\n  presence {\n    min_count: 1\n  }\n}\n"
        "feature {\n  name: \"y\"\n  type: FLOAT\n  presence {\n    min_fraction: 1.0\n"
        "    min_count: 1\n  }\n}\n"
        "string_domain {\n  name: \"s\"\n  value: \"a\"\n  value: \"b\"\n  value: \"hello\"\n}\n";
    assert_string_equal(text, want);
    free(text);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    protobuf_c_message_free_unpacked(&ds->base, NULL);
}

static const Tensorflow__Metadata__V0__AnomalyInfo *anomaly(const weir_tfmd_anomalies *a,
                                                            const char *name) {
    for (size_t i = 0; i < a->n_anomaly_info; i++)
        if (strcmp(a->anomaly_info[i]->key, name) == 0) return a->anomaly_info[i]->value;
    return NULL;
}

static void test_validation(void **state) {
    (void)state;
    weir_tfmd_dataset_stats *ds = small_stats();
    const char *schema_text =
        "feature { name: \"s\" type: BYTES domain: \"s\" presence { min_count: 1 } }\n"
        "feature { name: \"x\" type: INT presence { min_fraction: 1.0 min_count: 1 }\n"
        "  int_domain { min: 2 max: 3 } }\n"
        "feature { name: \"y\" type: BYTES }\n"
        "feature { name: \"gone\" type: INT presence { min_count: 1 } }\n"
        "feature { name: \"optional\" type: INT presence { min_count: 0 } }\n"
        "string_domain { name: \"s\" value: \"a\" }\n";
    schema_t *s = (schema_t *)parse_ok(schema_text, &tensorflow__metadata__v0__schema__descriptor);
    weir_tfmd_anomalies *a = NULL;
    assert_int_equal(weir_validate(ds, s, NULL, &a), WEIR_OK);
    const Tensorflow__Metadata__V0__AnomalyInfo *i;
    assert_non_null(i = anomaly(a, "s"));
    assert_int_equal(i->n_reason, 1);
    assert_int_equal(i->reason[0]->type,
                     TENSORFLOW__METADATA__V0__ANOMALY_INFO__TYPE__ENUM_TYPE_UNEXPECTED_STRING_VALUES);
    assert_string_equal(i->description,
                        "Examples contain values missing from the schema: b (~25%), hello (~25%). ");
    assert_string_equal(i->short_description, "Unexpected string values");
    assert_non_null(i = anomaly(a, "x"));
    assert_int_equal(i->n_reason, 3); /* presence, small, large */
    assert_string_equal(i->short_description, "Multiple errors");
    assert_non_null(strstr(i->description, "Unexpectedly small value: 1."));
    assert_non_null(strstr(i->description, "Unexpectedly large value: 4."));
    assert_non_null(strstr(i->description, "minimum fraction = 1.000000, actual = 0.800000"));
    assert_non_null(i = anomaly(a, "y"));
    assert_int_equal(i->reason[0]->type,
                     TENSORFLOW__METADATA__V0__ANOMALY_INFO__TYPE__UNEXPECTED_DATA_TYPE);
    assert_string_equal(i->description, "Expected data of type: BYTES but got FLOAT");
    assert_non_null(i = anomaly(a, "gone"));
    assert_int_equal(i->reason[0]->type,
                     TENSORFLOW__METADATA__V0__ANOMALY_INFO__TYPE__SCHEMA_MISSING_COLUMN);
    assert_null(anomaly(a, "optional"));
    assert_int_equal(a->n_anomaly_info, 4);
    assert_non_null(a->baseline);
    protobuf_c_message_free_unpacked(&a->base, NULL);

    /* a feature the schema does not know */
    schema_t *s2 = (schema_t *)parse_ok("feature { name: \"x\" type: INT }",
                                        &tensorflow__metadata__v0__schema__descriptor);
    assert_int_equal(weir_validate(ds, s2, NULL, &a), WEIR_OK);
    assert_non_null(i = anomaly(a, "y"));
    assert_int_equal(i->reason[0]->type, TENSORFLOW__METADATA__V0__ANOMALY_INFO__TYPE__SCHEMA_NEW_COLUMN);
    assert_int_equal(a->n_anomaly_info, 2);
    protobuf_c_message_free_unpacked(&a->base, NULL);
    protobuf_c_message_free_unpacked(&s2->base, NULL);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    protobuf_c_message_free_unpacked(&ds->base, NULL);
}

/* Statistics of four examples whose feature s is "a". */
static weir_tfmd_dataset_stats *all_a_stats(void) {
    weir_stats_acc_t *acc = NULL;
    assert_int_equal(weir_stats_acc_new(NULL, &acc), WEIR_OK);
    weir_bytes a1 = {(const uint8_t *)"a", 1};
    for (int k = 0; k < 4; k++) {
        weir_feature f = {.name = "s", .kind = WEIR_FEATURE_BYTES, .count = 1, .v.bytes = &a1};
        weir_example e = {&f, 1};
        assert_int_equal(weir_stats_acc_add(acc, &e), WEIR_OK);
    }
    weir_tfmd_dataset_stats *ds = NULL;
    assert_int_equal(weir_stats_acc_finish(acc, &ds), WEIR_OK);
    weir_stats_acc_free(acc);
    return ds;
}

static void test_drift_linf(void **state) {
    (void)state;
    weir_tfmd_dataset_stats *cur = small_stats();
    weir_tfmd_dataset_stats *prev = all_a_stats(); /* previous: s is all "a" */
    schema_t *s = (schema_t *)parse_ok(
        "feature { name: \"s\" type: BYTES drift_comparator { infinity_norm { threshold: 0.1 } } }\n"
        "feature { name: \"x\" type: INT }\nfeature { name: \"y\" type: FLOAT }\n",
        &tensorflow__metadata__v0__schema__descriptor);
    weir_tfmd_anomalies *a = NULL;
    assert_int_equal(weir_validate(cur, s, prev, &a), WEIR_OK);
    const Tensorflow__Metadata__V0__AnomalyInfo *i = anomaly(a, "s");
    assert_non_null(i);
    assert_int_equal(i->reason[0]->type,
                     TENSORFLOW__METADATA__V0__ANOMALY_INFO__TYPE__COMPARATOR_L_INFTY_HIGH);
    assert_non_null(strstr(i->description, " is 0.5 ")); /* a: 1.0 -> 0.5 */
    assert_non_null(strstr(i->description, "above the threshold 0.1. "));
    assert_non_null(strstr(i->description, "The feature value with maximum difference is: a"));
    assert_string_equal(i->short_description,
                        "High Linfty distance between current and previous");
    protobuf_c_message_free_unpacked(&a->base, NULL);
    /* without previous statistics, no drift is checked */
    assert_int_equal(weir_validate(cur, s, NULL, &a), WEIR_OK);
    assert_null(anomaly(a, "s"));
    protobuf_c_message_free_unpacked(&a->base, NULL);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    protobuf_c_message_free_unpacked(&prev->base, NULL);
    protobuf_c_message_free_unpacked(&cur->base, NULL);
}

static void test_skew_linf(void **state) {
    (void)state;
    weir_tfmd_dataset_stats *train = small_stats();
    weir_tfmd_dataset_stats *serving = all_a_stats(); /* serving: s is all "a" */
    schema_t *s = (schema_t *)parse_ok(
        "feature { name: \"s\" type: BYTES skew_comparator { infinity_norm { threshold: 0.1 } } }\n"
        "feature { name: \"x\" type: INT }\nfeature { name: \"y\" type: FLOAT }\n",
        &tensorflow__metadata__v0__schema__descriptor);
    weir_tfmd_anomalies *a = NULL;
    assert_int_equal(weir_validate_ex(train, s, NULL, serving, &a), WEIR_OK);
    const Tensorflow__Metadata__V0__AnomalyInfo *i = anomaly(a, "s");
    assert_non_null(i);
    assert_int_equal(i->reason[0]->type,
                     TENSORFLOW__METADATA__V0__ANOMALY_INFO__TYPE__COMPARATOR_L_INFTY_HIGH);
    assert_string_equal(i->short_description, "High Linfty distance between training and serving");
    assert_non_null(strstr(i->description, "between training and serving is 0.5 "));
    protobuf_c_message_free_unpacked(&a->base, NULL);
    /* a drift comparator is not a skew comparator: serving alone finds nothing */
    schema_t *d = (schema_t *)parse_ok(
        "feature { name: \"s\" type: BYTES drift_comparator { infinity_norm { threshold: 0.1 } } }\n"
        "feature { name: \"x\" type: INT }\nfeature { name: \"y\" type: FLOAT }\n",
        &tensorflow__metadata__v0__schema__descriptor);
    assert_int_equal(weir_validate_ex(train, d, NULL, serving, &a), WEIR_OK);
    assert_null(anomaly(a, "s"));
    protobuf_c_message_free_unpacked(&a->base, NULL);
    /* the same data on both sides: no skew */
    assert_int_equal(weir_validate_ex(train, s, NULL, train, &a), WEIR_OK);
    assert_null(anomaly(a, "s"));
    protobuf_c_message_free_unpacked(&a->base, NULL);
    protobuf_c_message_free_unpacked(&d->base, NULL);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    protobuf_c_message_free_unpacked(&serving->base, NULL);
    protobuf_c_message_free_unpacked(&train->base, NULL);
}

static void test_split_names(void **state) {
    (void)state;
    char **v;
    size_t n;
    assert_int_equal(weir_tfmd_split_names("[\"train\",\"eval\"]", &v, &n), WEIR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[1], "eval");
    weir_tfmd_split_names_free(v, n);
    assert_int_equal(weir_tfmd_split_names("[\"../x\"]", &v, &n), WEIR_EPARSE);
    assert_int_equal(weir_tfmd_split_names("{}", &v, &n), WEIR_EPARSE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pbtxt_tfdv_fixture_round_trip),
        cmocka_unit_test(test_pbtxt_syntax_variants),
        cmocka_unit_test(test_pbtxt_errors),
        cmocka_unit_test(test_pbtxt_numbers),
        cmocka_unit_test(test_statistics_by_hand),
        cmocka_unit_test(test_statistics_merge_equals_single),
        cmocka_unit_test(test_statistics_type_change_fails),
        cmocka_unit_test(test_sketch_rank_error_bound),
        cmocka_unit_test(test_schema_inference),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_drift_linf),
        cmocka_unit_test(test_skew_linf),
        cmocka_unit_test(test_split_names),
    };
    return cmocka_run_group_tests_name("tfmd", tests, NULL, NULL);
}
