/*
 * weir-statistics-gen — TFX's StatisticsGen: statistics of every split of
 * an Examples artifact, as TFDV computes them.
 *
 * Reads every file in <examples>/Split-<split>/ (gzip TFRecord of tf.Example) for each
 * split named in the artifact's split_names property (less exclude_splits)
 * and writes <statistics>/Split-<split>/FeatureStats.pb, a serialized
 * DatasetFeatureStatisticsList as TFX writes it (tfdv.load_stats_binary
 * reads it), and the same proto as Split-<split>/stats_tfrecord, a
 * one-record TFRecord that tfdv.load_statistics reads.
 *
 * Params (all optional, TFDV's defaults): exclude_splits, num_histogram_buckets,
 * num_quantiles_histogram_buckets, num_top_values, sample_rate. The optional
 * schema input marks INT features as categorical (int_domain.is_categorical).
 *
 * Run by the engine as: weir-statistics-gen --executor-input URI
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tfmd.h"
#include "weir/io.h"
#include "weir/pipeline.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int excluded(const cJSON *ex, const char *split) {
    const cJSON *it;
    cJSON_ArrayForEach(it, ex) {
        if (cJSON_IsString(it) && strcmp(it->valuestring, split) == 0) return 1;
    }
    return 0;
}

static weir_status param_u32(const weir_executor_input_t *in, const char *name, uint32_t dflt,
                             uint32_t *out) {
    int64_t v;
    weir_status rc = weir_executor_input_param_int(in, name, dflt, &v);
    if (rc) return rc;
    if (v < 1 || v > 1000000)
        return weir_errorf(WEIR_ERANGE, "params.%s must be between 1 and 1000000, got %lld", name,
                           (long long)v);
    *out = (uint32_t)v;
    return WEIR_OK;
}

/*
 * The same proto once more as Split-<split>/stats_tfrecord, a one-record
 * TFRecord: what TFX wrote before FeatureStats.pb, and the form
 * tfdv.load_statistics() reads (it takes a one-record TFRecord or text, not
 * the binary file; TFX's own readers use load_stats_binary on
 * FeatureStats.pb).
 */
static weir_status write_stats_tfrecord(const char *stats_uri, const char *split,
                                        const uint8_t *buf, size_t len) {
    char rel[512];
    snprintf(rel, sizeof rel, "Split-%s/stats_tfrecord", split);
    char *dst = weir_io_join(stats_uri, rel);
    if (!dst) return weir_errorf(WEIR_ENOMEM, "out of memory");
    weir_tfrecord_writer_t *w = NULL;
    weir_status rc = weir_tfrecord_writer_open(dst, WEIR_TFRECORD_NONE, 0, &w);
    if (!rc) rc = weir_tfrecord_writer_write(w, buf, len);
    if (!rc) rc = weir_tfrecord_writer_close(w);
    else if (w) weir_tfrecord_writer_abort(w);
    free(dst);
    return rc;
}

static weir_status run(const weir_executor_input_t *in, weir_executor_output_t *out) {
    weir_status rc;
    weir_stats_opts o;
    weir_stats_opts_default(&o);
    weir_tfmd_schema *schema = NULL;
    char **splits = NULL;
    size_t nsplits = 0;
    cJSON *done = NULL;
    char *done_text = NULL;
    weir_artifact_ref ex;
    const char *stats_uri;
    if ((rc = param_u32(in, "num_histogram_buckets", 10, &o.num_histogram_buckets)) ||
        (rc = param_u32(in, "num_quantiles_histogram_buckets", 10,
                        &o.num_quantiles_histogram_buckets)) ||
        (rc = param_u32(in, "num_top_values", 20, &o.num_top_values)) ||
        (rc = weir_executor_input_param_double(in, "sample_rate", 1.0, &o.sample_rate)))
        goto out;
    if (!(o.sample_rate > 0 && o.sample_rate <= 1)) {
        rc = weir_errorf(WEIR_ERANGE, "params.sample_rate must be in (0, 1], got %g", o.sample_rate);
        goto out;
    }
    const cJSON *exclude = weir_executor_input_param(in, "exclude_splits");
    if ((rc = weir_executor_input_artifact(in, "examples", 0, &ex)) ||
        (rc = weir_executor_input_output_uri(in, "statistics", &stats_uri)))
        goto out;
    if (weir_executor_input_count(in, "schema") > 0) {
        const char *schema_uri;
        if ((rc = weir_executor_input_uri(in, "schema", &schema_uri))) goto out;
        char *file = weir_io_join(schema_uri, "schema.pbtxt");
        if (!file) {
            rc = weir_errorf(WEIR_ENOMEM, "out of memory");
            goto out;
        }
        rc = weir_schema_load(file, &schema);
        free(file);
        if (rc) goto out;
        o.schema = schema;
    }
    const cJSON *sn = ex.properties ? cJSON_GetObjectItemCaseSensitive(ex.properties, "split_names")
                                    : NULL;
    if (!cJSON_IsString(sn)) {
        rc = weir_errorf(WEIR_EINVAL,
                         "input examples (%s) has no split_names property; StatisticsGen needs "
                         "an Examples artifact from an ExampleGen",
                         ex.uri);
        goto out;
    }
    if ((rc = weir_tfmd_split_names(sn->valuestring, &splits, &nsplits))) goto out;
    done = cJSON_CreateArray();
    if (!done) {
        rc = weir_errorf(WEIR_ENOMEM, "out of memory");
        goto out;
    }
    uint64_t total_examples = 0;
    for (size_t i = 0; i < nsplits; i++) {
        if (excluded(exclude, splits[i])) continue;
        char rel[512];
        snprintf(rel, sizeof rel, "Split-%s", splits[i]);
        char *dir = weir_io_join(ex.uri, rel);
        snprintf(rel, sizeof rel, "Split-%s/FeatureStats.pb", splits[i]);
        char *dst = weir_io_join(stats_uri, rel);
        weir_tfmd_dataset_stats *ds = NULL;
        uint8_t *buf = NULL;
        size_t len = 0;
        uint64_t bytes = 0;
        double t0 = now_s();
        if (!dir || !dst)
            rc = weir_errorf(WEIR_ENOMEM, "out of memory");
        else
            rc = weir_stats_for_dir(dir, &o, 0, &ds, &bytes);
        if (!rc) rc = weir_stats_serialize(ds, &buf, &len);
        if (!rc) rc = weir_io_write_all(dst, buf, len);
        if (!rc) rc = write_stats_tfrecord(stats_uri, splits[i], buf, len);
        double secs = now_s() - t0;
        if (!rc) {
            char key[300];
            total_examples += ds->num_examples;
            snprintf(key, sizeof key, "num_examples_%s", splits[i]);
            rc = weir_executor_output_execution_set_int(out, key, (int64_t)ds->num_examples);
            printf("statistics of split %s: %llu examples, %zu features, %.1f MB in %.2f s\n",
                   splits[i], (unsigned long long)ds->num_examples, ds->n_features,
                   (double)bytes / 1e6, secs);
            if (!cJSON_AddItemToArray(done, cJSON_CreateString(splits[i])))
                rc = weir_errorf(WEIR_ENOMEM, "out of memory");
        } else {
            weir_error_prefix(rc, "split %s: ", splits[i]);
        }
        free(buf);
        if (ds) protobuf_c_message_free_unpacked(&ds->base, NULL);
        free(dir);
        free(dst);
        if (rc) goto out;
    }
    done_text = cJSON_PrintUnformatted(done);
    if (!done_text) {
        rc = weir_errorf(WEIR_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = weir_executor_output_artifact_set_string(out, "statistics", 0, 0, "split_names",
                                                       done_text)) ||
        (rc = weir_executor_output_execution_set_int(out, "num_examples",
                                                     (int64_t)total_examples)))
        goto out;
out:
    free(done_text);
    cJSON_Delete(done);
    weir_tfmd_split_names_free(splits, nsplits);
    if (schema) protobuf_c_message_free_unpacked(&schema->base, NULL);
    return rc;
}

int main(int argc, char **argv) {
    return weir_component_main(argc, argv, "weir-statistics-gen",
        "Runs as one node of a weir pipeline: reads the executor input document at\n"
        "URI (docs/executor-contract.md) and writes its outputs and\n"
        "executor_output.json where that document says.\n", run);
}
