/*
 * weir-example-validator — TFX's ExampleValidator: checks each split's
 * statistics against the schema, as tfdv.validate_statistics does.
 *
 * Reads <statistics>/Split-<split>/FeatureStats.pb and <schema>/schema.pbtxt,
 * writes <anomalies>/Split-<split>/SchemaDiff.pb (a serialized Anomalies) for
 * every split (less exclude_splits). Execution custom properties:
 * anomalies_found (features with anomalies, all splits) and
 * anomalies_<split>. Anomalies are an output, not a failure, unless
 * params.fail_on_anomalies is true.
 *
 * With params.skew_split, each other split (training) is also compared with
 * that split (serving) for every feature whose schema entry has a
 * skew_comparator.
 *
 * With the optional input baseline_statistics (a previous span's
 * statistics), features whose schema entry has a drift_comparator are also
 * checked for drift against Split-<baseline_split>/FeatureStats.pb of the
 * baseline (default: the split being validated), as
 * tfdv.validate_statistics(..., previous_statistics=...) does.
 *
 * Run by the engine as: weir-example-validator --executor-input URI
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfmd.h"
#include "weir/io.h"
#include "weir/pipeline.h"

static int excluded(const cJSON *ex, const char *split) {
    const cJSON *it;
    cJSON_ArrayForEach(it, ex) {
        if (cJSON_IsString(it) && strcmp(it->valuestring, split) == 0) return 1;
    }
    return 0;
}

static int has_split(char **splits, size_t n, const char *split) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(splits[i], split) == 0) return 1;
    return 0;
}

/* The baseline statistics' data set for `split` (*out NULL when the
 * baseline has no such split and none was asked for by name). */
static weir_status load_baseline(const weir_artifact_ref *base, char **bsplits, size_t nbsplits,
                                 const char *named, const char *split,
                                 weir_tfmd_stats_list **out) {
    *out = NULL;
    const char *want = named ? named : split;
    if (bsplits && !has_split(bsplits, nbsplits, want)) {
        if (named)
            return weir_errorf(WEIR_EINVAL,
                               "params.baseline_split \"%s\" is not a split of "
                               "baseline_statistics (%s)",
                               named, base->uri);
        printf("split %s: baseline_statistics has no such split; drift not checked\n", split);
        return WEIR_OK;
    }
    char rel[512];
    snprintf(rel, sizeof rel, "Split-%s/FeatureStats.pb", want);
    char *src = weir_io_join(base->uri, rel);
    if (!src) return weir_errorf(WEIR_ENOMEM, "out of memory");
    weir_status rc = weir_stats_load(src, out);
    if (!rc && (*out)->n_datasets < 1) {
        rc = weir_errorf(WEIR_ECORRUPT, "%s holds no data set", src);
        protobuf_c_message_free_unpacked(&(*out)->base, NULL);
        *out = NULL;
    }
    free(src);
    return rc;
}

static weir_status run(const weir_executor_input_t *in, weir_executor_output_t *out,
                       int64_t *found, int *fail_on) {
    weir_status rc;
    weir_artifact_ref st, base;
    const char *schema_uri = NULL, *anom_uri = NULL, *bsplit = NULL, *skew = NULL;
    weir_tfmd_stats_list *serving = NULL;
    char **bsplits = NULL;
    size_t nbsplits = 0;
    int has_base = weir_executor_input_count(in, "baseline_statistics") > 0;
    weir_tfmd_schema *schema = NULL;
    char **splits = NULL;
    size_t nsplits = 0;
    cJSON *done = NULL;
    char *done_text = NULL;
    if ((rc = weir_executor_input_param_bool(in, "fail_on_anomalies", 0, fail_on)) ||
        (rc = weir_executor_input_artifact(in, "statistics", 0, &st)) ||
        (rc = weir_executor_input_uri(in, "schema", &schema_uri)) ||
        (rc = weir_executor_input_output_uri(in, "anomalies", &anom_uri)) ||
        (rc = weir_executor_input_param_string(in, "baseline_split", NULL, &bsplit)) ||
        (rc = weir_executor_input_param_string(in, "skew_split", NULL, &skew)))
        return rc;
    if (skew && !*skew) skew = NULL;
    if (bsplit && !*bsplit) bsplit = NULL;
    if (bsplit && (strchr(bsplit, '/') || strchr(bsplit, '\\') || strcmp(bsplit, ".") == 0 ||
                   strcmp(bsplit, "..") == 0 || strlen(bsplit) > 200))
        return weir_errorf(WEIR_EINVAL, "params.baseline_split \"%s\" is not a split name",
                           bsplit);
    if (has_base) {
        if ((rc = weir_executor_input_artifact(in, "baseline_statistics", 0, &base))) return rc;
        const cJSON *bn =
            base.properties ? cJSON_GetObjectItemCaseSensitive(base.properties, "split_names")
                            : NULL;
        if (cJSON_IsString(bn) &&
            (rc = weir_tfmd_split_names(bn->valuestring, &bsplits, &nbsplits)))
            return rc;
    } else {
        memset(&base, 0, sizeof base);
    }
    const cJSON *exclude = weir_executor_input_param(in, "exclude_splits");
    char *file = weir_io_join(schema_uri, "schema.pbtxt");
    if (!file) {
        rc = weir_errorf(WEIR_ENOMEM, "out of memory");
        goto out;
    }
    rc = weir_schema_load(file, &schema);
    free(file);
    if (rc) goto out;
    const cJSON *sn = st.properties ? cJSON_GetObjectItemCaseSensitive(st.properties, "split_names")
                                    : NULL;
    if (!cJSON_IsString(sn)) {
        rc = weir_errorf(WEIR_EINVAL, "input statistics (%s) has no split_names property", st.uri);
        goto out;
    }
    if ((rc = weir_tfmd_split_names(sn->valuestring, &splits, &nsplits))) goto out;
    if (skew) {
        /* the split that stands for serving: every other split is
         * training data compared with it (skew_comparator) */
        if (!has_split(splits, nsplits, skew)) {
            rc = weir_errorf(WEIR_EINVAL, "params.skew_split \"%s\" is not a split of the "
                             "statistics (%s); name the split that stands for serving data",
                             skew, sn->valuestring);
            goto out;
        }
        char rel[512];
        snprintf(rel, sizeof rel, "Split-%s/FeatureStats.pb", skew);
        char *sf = weir_io_join(st.uri, rel);
        rc = sf ? weir_stats_load(sf, &serving) : weir_errorf(WEIR_ENOMEM, "out of memory");
        free(sf);
        if (!rc && serving->n_datasets < 1)
            rc = weir_errorf(WEIR_ECORRUPT, "serving statistics of split %s hold no data set", skew);
        if (rc) goto out;
    }
    if (!(done = cJSON_CreateArray())) {
        rc = weir_errorf(WEIR_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nsplits && !rc; i++) {
        if (excluded(exclude, splits[i])) continue;
        char rel[512];
        snprintf(rel, sizeof rel, "Split-%s/FeatureStats.pb", splits[i]);
        char *src = weir_io_join(st.uri, rel);
        snprintf(rel, sizeof rel, "Split-%s/SchemaDiff.pb", splits[i]);
        char *dst = weir_io_join(anom_uri, rel);
        weir_tfmd_stats_list *l = NULL, *prev = NULL;
        weir_tfmd_anomalies *a = NULL;
        uint8_t *buf = NULL;
        if (!src || !dst) rc = weir_errorf(WEIR_ENOMEM, "out of memory");
        if (!rc) rc = weir_stats_load(src, &l);
        if (!rc && l->n_datasets < 1)
            rc = weir_errorf(WEIR_ECORRUPT, "%s holds no data set", src);
        if (!rc && has_base)
            rc = load_baseline(&base, bsplits, bsplits ? nbsplits : 0, bsplit, splits[i], &prev);
        if (!rc)
            rc = weir_validate_ex(l->datasets[0], schema, prev ? prev->datasets[0] : NULL,
                                  serving && strcmp(splits[i], skew) != 0 ? serving->datasets[0]
                                                                          : NULL,
                                  &a);
        if (!rc) {
            size_t n = tensorflow__metadata__v0__anomalies__get_packed_size(a);
            buf = malloc(n ? n : 1);
            if (!buf) rc = weir_errorf(WEIR_ENOMEM, "out of memory");
            if (!rc) {
                tensorflow__metadata__v0__anomalies__pack(a, buf);
                rc = weir_io_write_all(dst, buf, n);
            }
        }
        if (!rc) {
            char key[300];
            snprintf(key, sizeof key, "anomalies_%s", splits[i]);
            rc = weir_executor_output_execution_set_int(out, key, (int64_t)a->n_anomaly_info);
            *found += (int64_t)a->n_anomaly_info;
            printf("split %s: %zu feature(s) with anomalies\n", splits[i], a->n_anomaly_info);
            for (size_t k = 0; k < a->n_anomaly_info; k++)
                printf("  %s: %s\n", a->anomaly_info[k]->key,
                       a->anomaly_info[k]->value->description ? a->anomaly_info[k]->value->description
                                                              : "");
            if (!rc && !cJSON_AddItemToArray(done, cJSON_CreateString(splits[i])))
                rc = weir_errorf(WEIR_ENOMEM, "out of memory");
        }
        free(buf);
        if (a) protobuf_c_message_free_unpacked(&a->base, NULL);
        if (l) protobuf_c_message_free_unpacked(&l->base, NULL);
        if (prev) protobuf_c_message_free_unpacked(&prev->base, NULL);
        free(src);
        free(dst);
    }
    if (rc) goto out;
    if (!(done_text = cJSON_PrintUnformatted(done))) {
        rc = weir_errorf(WEIR_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = weir_executor_output_artifact_set_string(out, "anomalies", 0, 0, "split_names",
                                                       done_text)) ||
        (rc = weir_executor_output_execution_set_int(out, "anomalies_found", *found)))
        goto out;
out:
    free(done_text);
    cJSON_Delete(done);
    weir_tfmd_split_names_free(splits, nsplits);
    weir_tfmd_split_names_free(bsplits, nbsplits);
    if (schema) protobuf_c_message_free_unpacked(&schema->base, NULL);
    if (serving) protobuf_c_message_free_unpacked(&serving->base, NULL);
    return rc;
}

static weir_status run_and_judge(const weir_executor_input_t *in, weir_executor_output_t *out) {
    int fail_on = 0;
    int64_t found = 0;
    weir_status rc = run(in, out, &found, &fail_on);
    if (!rc && fail_on && found > 0)
        rc = weir_errorf(WEIR_EINVAL,
                         "%lld feature(s) have anomalies and params.fail_on_anomalies is true; see "
                         "SchemaDiff.pb in the anomalies output",
                         (long long)found);
    return rc;
}

int main(int argc, char **argv) {
    return weir_component_main(argc, argv, "weir-example-validator",
        "Runs as one node of a weir pipeline: reads the executor input document at\n"
        "URI (docs/executor-contract.md) and writes its outputs and\n"
        "executor_output.json where that document says.\n", run_and_judge);
}
