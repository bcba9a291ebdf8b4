/*
 * tfmd.h — the TensorFlow Metadata logic behind weir's three data
 * components: statistics of tf.Example data (StatisticsGen), schema
 * inference (SchemaGen) and validation of statistics against a schema
 * (ExampleValidator). Built as the static library weir_tfmd, which the three
 * programs and tests/test_tfmd.c link.
 *
 * For: computing what TFDV computes (tfdv.generate_statistics_from_tfrecord,
 * tfdv.infer_schema, tfdv.validate_statistics) on the same definitions, and
 * reading/writing the TFX artifact files (FeatureStats.pb, schema.pbtxt,
 * SchemaDiff.pb).
 * Not for: the executor contract plumbing (each component's main.c).
 *
 * Every proto returned here is malloc'd the way protobuf_c_message_unpack()
 * lays it out: the caller frees it with protobuf_c_message_free_unpacked(
 * &msg->base, NULL).
 */
#ifndef WEIR_TFMD_H
#define WEIR_TFMD_H

#include <stddef.h>
#include <stdint.h>

#include "tensorflow_metadata/proto/v0/anomalies.pb-c.h"
#include "tensorflow_metadata/proto/v0/schema.pb-c.h"
#include "tensorflow_metadata/proto/v0/statistics.pb-c.h"
#include "weir/core.h"
#include "weir/data.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef Tensorflow__Metadata__V0__DatasetFeatureStatisticsList weir_tfmd_stats_list;
typedef Tensorflow__Metadata__V0__DatasetFeatureStatistics weir_tfmd_dataset_stats;
typedef Tensorflow__Metadata__V0__FeatureNameStatistics weir_tfmd_feature_stats;
typedef Tensorflow__Metadata__V0__Schema weir_tfmd_schema;
typedef Tensorflow__Metadata__V0__Anomalies weir_tfmd_anomalies;

/* ============================================================ statistics */

/*
 * Options, TFDV's StatsOptions defaults in brackets. Quantiles come from a
 * compactor sketch (KLL-style levels of capacity 2k, deterministic
 * alternating compaction): exact while a feature has fewer than 2k values;
 * beyond that, any rank it reports is within ceil(log2(n/k))/k * n of the
 * true rank (k = 8192: 0.16% of n at n = 10^8).
 */
typedef struct weir_stats_opts {
    uint32_t num_histogram_buckets;           /* [10] standard histogram */
    uint32_t num_quantiles_histogram_buckets; /* [10] */
    uint32_t num_values_histogram_buckets;    /* [10] */
    uint32_t num_top_values;                  /* [20] */
    uint32_t num_rank_histogram_buckets;      /* [1000] */
    uint32_t sketch_k;                        /* [8192] compactor size */
    double sample_rate;                       /* (0, 1]; 0 means 1 */
    /* INT features the schema marks categorical (int_domain.is_categorical)
     * get string statistics, as TFDV does; borrowed, may be NULL. */
    const weir_tfmd_schema *schema;
} weir_stats_opts;

void weir_stats_opts_default(weir_stats_opts *o);

/* The rank error bound the sketch guarantees for n values, as a fraction
 * of n (0 when exact). */
double weir_stats_rank_error(const weir_stats_opts *o, uint64_t n);

typedef struct weir_stats_acc weir_stats_acc_t;

/* An accumulator of one data set's statistics; `o` is copied (the schema
 * stays borrowed). Caller frees with weir_stats_acc_free(). */
weir_status weir_stats_acc_new(const weir_stats_opts *o, weir_stats_acc_t **out);
void weir_stats_acc_free(weir_stats_acc_t *a);
/* Adds one decoded example. A feature whose value type changes between
 * examples fails with WEIR_ETYPE naming the feature. */
weir_status weir_stats_acc_add(weir_stats_acc_t *a, const weir_example *ex);
/* Adds one serialized tf.Example. */
weir_status weir_stats_acc_add_serialized(weir_stats_acc_t *a, const uint8_t *p, size_t n);
/* Folds `other` into `a` (other is left empty but must still be freed). */
weir_status weir_stats_acc_merge(weir_stats_acc_t *a, weir_stats_acc_t *other);
uint64_t weir_stats_acc_examples(const weir_stats_acc_t *a);
/* The statistics so far, features sorted by name. Caller frees. */
weir_status weir_stats_acc_finish(weir_stats_acc_t *a, weir_tfmd_dataset_stats **out);

/*
 * Statistics of every TFRecord file (plain or gzip) directly under
 * `dir_uri` (a Split-<name>/ folder), read by up to `threads` threads (0 =
 * one per CPU, capped by the number of files). *bytes_read, if given,
 * receives the compressed bytes read. Caller frees *out.
 */
weir_status weir_stats_for_dir(const char *dir_uri, const weir_stats_opts *o, unsigned threads,
                               weir_tfmd_dataset_stats **out, uint64_t *bytes_read);

/* Wraps a data set's statistics in a DatasetFeatureStatisticsList and
 * serializes it (caller frees *buf). `ds` stays owned by the caller. */
weir_status weir_stats_serialize(const weir_tfmd_dataset_stats *ds, uint8_t **buf, size_t *len);
/* Reads a FeatureStats.pb (DatasetFeatureStatisticsList). Caller frees. */
weir_status weir_stats_load(const char *uri, weir_tfmd_stats_list **out);

/* Split names from an Examples artifact's split_names property (a JSON
 * list as a string, e.g. "[\"train\",\"eval\"]"). Caller frees each name
 * and the array. */
weir_status weir_tfmd_split_names(const char *json, char ***names, size_t *n);
void weir_tfmd_split_names_free(char **names, size_t n);

/* Finds a feature's statistics by name (or single-step path); NULL if none. */
const weir_tfmd_feature_stats *weir_tfmd_find_feature(const weir_tfmd_dataset_stats *ds,
                                                      const char *name);
/* The feature's name (name or the path's last step); "" if none. */
const char *weir_tfmd_feature_name(const weir_tfmd_feature_stats *f);
/* Common statistics of any feature kind; NULL if none. */
const Tensorflow__Metadata__V0__CommonStatistics *weir_tfmd_common(
    const weir_tfmd_feature_stats *f);

/* ================================================================ schema */

typedef struct weir_infer_opts {
    int infer_feature_shape;      /* [1] shape {dim {size: 1}} for always-present single values */
    uint32_t max_string_domain_size; /* [100] */
} weir_infer_opts;

void weir_infer_opts_default(weir_infer_opts *o);

/* Infers a schema from one data set's statistics, like tfdv.infer_schema.
 * Caller frees. */
weir_status weir_schema_infer(const weir_tfmd_dataset_stats *ds, const weir_infer_opts *o,
                              weir_tfmd_schema **out);
/* Widens `schema` so that `ds` (another split) conforms, like
 * tfdv.update_schema: new features are added, presence and value counts
 * relaxed, missing string values added to domains. */
weir_status weir_schema_update(weir_tfmd_schema *schema, const weir_tfmd_dataset_stats *ds,
                               const weir_infer_opts *o);
/* schema.pbtxt text (caller frees) / loading one (validates it parses). */
weir_status weir_schema_to_text(const weir_tfmd_schema *s, char **text, size_t *len);
weir_status weir_schema_load(const char *uri, weir_tfmd_schema **out);

/* ============================================================ validation */

/*
 * Validates statistics against a schema like tfdv.validate_statistics:
 * missing and new columns, type mismatches, presence, value counts,
 * string / int / float / bool domains, and — when `previous` is given and the
 * schema has drift comparators — L-infinity (categorical) and approximate
 * Jensen-Shannon (numeric) drift. *out has one anomaly_info entry per
 * anomalous feature. Caller frees.
 */
weir_status weir_validate(const weir_tfmd_dataset_stats *ds, const weir_tfmd_schema *schema,
                          const weir_tfmd_dataset_stats *previous, weir_tfmd_anomalies **out);
/* The same, also checking skew: each feature with a skew_comparator is
 * compared with its statistics in `serving` (may be NULL), as TFDV's
 * validate_statistics(serving_statistics=...) does. */
weir_status weir_validate_ex(const weir_tfmd_dataset_stats *ds, const weir_tfmd_schema *schema,
                             const weir_tfmd_dataset_stats *previous,
                             const weir_tfmd_dataset_stats *serving, weir_tfmd_anomalies **out);

/* Reads a SchemaDiff.pb (binary Anomalies). Caller frees. */
weir_status weir_anomalies_load(const char *uri, weir_tfmd_anomalies **out);

#ifdef __cplusplus
}
#endif
#endif
