/*
 * weir-schema-gen — TFX's SchemaGen and ImportSchemaGen (one program; the
 * executor input's component.type picks).
 *
 * SchemaGen reads <statistics>/Split-<split>/FeatureStats.pb for each split
 * of its statistics input (less exclude_splits), infers a schema from the
 * first split and widens it with the others, as TFX does with
 * tfdv.infer_schema and tfdv.update_schema, and writes
 * <schema>/schema.pbtxt in protobuf text format (tfdv.load_schema_text
 * reads it). Params: infer_feature_shape (default true), exclude_splits.
 *
 * ImportSchemaGen copies the user's schema file (param schema_file, a path
 * or URI) to <schema>/schema.pbtxt byte for byte, after checking that it
 * parses as a Schema (errors name line and column).
 *
 * Run by the engine as: weir-schema-gen --executor-input URI
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfmd.h"
#include "weir/io.h"
#include "weir/pbtxt.h"
#include "weir/pipeline.h"

static int excluded(const cJSON *ex, const char *split) {
    const cJSON *it;
    cJSON_ArrayForEach(it, ex) {
        if (cJSON_IsString(it) && strcmp(it->valuestring, split) == 0) return 1;
    }
    return 0;
}

static weir_status import_schema(const weir_executor_input_t *in, const char *dst) {
    const char *src;
    weir_status rc = weir_executor_input_param_string(in, "schema_file", NULL, &src);
    if (rc) return rc;
    if (!src || !*src)
        return weir_errorf(WEIR_EINVAL, "ImportSchemaGen needs params.schema_file, the path or "
                                        "URI of a schema.pbtxt");
    weir_buf b;
    weir_buf_init(&b, (size_t)64 << 20);
    ProtobufCMessage *m = NULL;
    rc = weir_io_read_all(src, &b);
    if (!rc)
        rc = weir_pbtxt_parse(src, b.data ? (const char *)b.data : "", b.len,
                              &tensorflow__metadata__v0__schema__descriptor, NULL, &m);
    if (!rc) {
        const weir_tfmd_schema *s = (const weir_tfmd_schema *)m;
        printf("imported %s: %zu features\n", src, s->n_feature);
        rc = weir_io_write_all(dst, b.data ? b.data : (const uint8_t *)"", b.len);
    }
    if (m) protobuf_c_message_free_unpacked(m, NULL);
    weir_buf_free(&b);
    return rc;
}

static weir_status infer_schema(const weir_executor_input_t *in, const char *dst) {
    weir_infer_opts o;
    weir_infer_opts_default(&o);
    weir_status rc = weir_executor_input_param_bool(in, "infer_feature_shape", 1,
                                                    &o.infer_feature_shape);
    if (rc) return rc;
    const cJSON *exclude = weir_executor_input_param(in, "exclude_splits");
    weir_artifact_ref st;
    if ((rc = weir_executor_input_artifact(in, "statistics", 0, &st))) return rc;
    const cJSON *sn = st.properties ? cJSON_GetObjectItemCaseSensitive(st.properties, "split_names")
                                    : NULL;
    if (!cJSON_IsString(sn))
        return weir_errorf(WEIR_EINVAL, "input statistics (%s) has no split_names property",
                           st.uri);
    char **splits = NULL;
    size_t nsplits = 0;
    if ((rc = weir_tfmd_split_names(sn->valuestring, &splits, &nsplits))) return rc;
    weir_tfmd_schema *schema = NULL;
    char *text = NULL;
    size_t len = 0, used = 0;
    for (size_t i = 0; i < nsplits && !rc; i++) {
        if (excluded(exclude, splits[i])) continue;
        char rel[512];
        snprintf(rel, sizeof rel, "Split-%s/FeatureStats.pb", splits[i]);
        char *file = weir_io_join(st.uri, rel);
        weir_tfmd_stats_list *l = NULL;
        if (!file) {
            rc = weir_errorf(WEIR_ENOMEM, "out of memory");
            break;
        }
        rc = weir_stats_load(file, &l);
        free(file);
        if (rc) break;
        for (size_t d = 0; d < l->n_datasets && !rc; d++) {
            if (!schema)
                rc = weir_schema_infer(l->datasets[d], &o, &schema);
            else
                rc = weir_schema_update(schema, l->datasets[d], &o);
        }
        used++;
        protobuf_c_message_free_unpacked(&l->base, NULL);
    }
    if (!rc && !schema)
        rc = weir_errorf(WEIR_EINVAL, "no split left to infer a schema from (all excluded?)");
    if (!rc) rc = weir_schema_to_text(schema, &text, &len);
    if (!rc) rc = weir_io_write_all(dst, text, len);
    if (!rc) printf("inferred a schema of %zu features from %zu split(s)\n", schema->n_feature, used);
    free(text);
    if (schema) protobuf_c_message_free_unpacked(&schema->base, NULL);
    weir_tfmd_split_names_free(splits, nsplits);
    return rc;
}

static weir_status run(const weir_executor_input_t *in, weir_executor_output_t *out) {
    (void)out;
    const char *schema_uri;
    weir_status rc = weir_executor_input_output_uri(in, "schema", &schema_uri);
    if (rc) return rc;
    char *dst = weir_io_join(schema_uri, "schema.pbtxt");
    if (!dst) return weir_errorf(WEIR_ENOMEM, "out of memory");
    if (strcmp(weir_executor_input_component_type(in), "ImportSchemaGen") == 0)
        rc = import_schema(in, dst);
    else
        rc = infer_schema(in, dst);
    free(dst);
    return rc;
}

int main(int argc, char **argv) {
    return weir_component_main(argc, argv, "weir-schema-gen",
        "Runs as one node of a weir pipeline: reads the executor input document at\n"
        "URI (docs/executor-contract.md) and writes its outputs and\n"
        "executor_output.json where that document says.\n", run);
}
