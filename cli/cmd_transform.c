/*
 * cmd_transform.c — `weir transform apply`: the transform runtime on its
 * own, one raw example at a time, as a model server or BulkInferrer runs it.
 *
 *   weir transform apply GRAPH INPUT... [--out FILE] [--compare FILE...]
 *
 * GRAPH is a TransformGraph artifact (the directory holding
 * transform_graph.json); INPUT are TFRecord files of raw tf.Example. With
 * --out the transformed examples go to FILE (plain TFRecord); with
 * --compare the transformed bytes of every example are compared with the
 * records of the given files, in order — what the Transform component wrote
 * offline — and any difference is reported with its position: the check
 * that training and serving compute the same features.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "weir/io.h"
#include "weir/transform.h"

static const char usage[] =
    "usage: weir transform apply GRAPH INPUT... [--out FILE] [--compare FILE...]\n"
    "  GRAPH      a TransformGraph directory (with transform_graph.json)\n"
    "  INPUT      TFRecord files of raw tf.Example (plain or gzip)\n"
    "  --out F    write the transformed examples to F (TFRecord)\n"
    "  --compare  compare each transformed example, byte for byte, with the\n"
    "             records of these files in order (the Transform component's output)\n";

struct cmp_stream {
    char **files;
    size_t nfiles, at;
    weir_tfrecord_reader_t *r;
};

static weir_status cmp_next(struct cmp_stream *c, const uint8_t **p, size_t *n) {
    for (;;) {
        if (!c->r) {
            if (c->at >= c->nfiles) return WEIR_EOF_;
            weir_status rc = weir_tfrecord_reader_open(c->files[c->at++], WEIR_TFRECORD_AUTO, 0, &c->r);
            if (rc) return rc;
        }
        weir_status rc = weir_tfrecord_reader_next(c->r, p, n);
        if (rc != WEIR_EOF_) return rc;
        weir_tfrecord_reader_close(c->r);
        c->r = NULL;
    }
}

int weir_cmd_transform(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "apply") != 0) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            fputs(usage, stdout);
            return 0;
        }
        fputs(usage, stderr);
        return 2;
    }
    const char *graph_uri = NULL, *out_file = NULL;
    char **inputs = calloc((size_t)argc, sizeof *inputs);
    char **cmp = calloc((size_t)argc, sizeof *cmp);
    size_t nin = 0, ncmp = 0;
    int in_cmp = 0, ret = 1;
    if (!inputs || !cmp) {
        fprintf(stderr, "weir: out of memory\n");
        free(inputs);
        free(cmp);
        return 1;
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage, stdout);
            free(inputs);
            free(cmp);
            return 0;
        } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            out_file = argv[++i];
            in_cmp = 0;
        } else if (!strcmp(argv[i], "--compare")) {
            in_cmp = 1;
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "weir transform apply: unknown option %s\n%s", argv[i], usage);
            free(inputs);
            free(cmp);
            return 2;
        } else if (!graph_uri) {
            graph_uri = argv[i];
        } else if (in_cmp) {
            cmp[ncmp++] = argv[i];
        } else {
            inputs[nin++] = argv[i];
        }
    }
    if (!graph_uri || !nin) {
        fputs(usage, stderr);
        free(inputs);
        free(cmp);
        return 2;
    }
    weir_transform_t *t = NULL;
    weir_tfrecord_writer_t *w = NULL;
    weir_arena_t *a = NULL;
    weir_buf enc;
    weir_buf_init(&enc, 256u << 20);
    struct cmp_stream cs = {.files = cmp, .nfiles = ncmp};
    uint64_t n = 0, same = 0, differ = 0;
    weir_status rc = weir_transform_load(graph_uri, &t);
    if (!rc) rc = weir_arena_new(64 * 1024, 0, &a);
    if (!rc && out_file) rc = weir_tfrecord_writer_open(out_file, WEIR_TFRECORD_NONE, 0, &w);
    for (size_t f = 0; !rc && f < nin; f++) {
        weir_tfrecord_reader_t *r = NULL;
        if ((rc = weir_tfrecord_reader_open(inputs[f], WEIR_TFRECORD_AUTO, 0, &r))) break;
        for (;;) {
            const uint8_t *p;
            size_t len;
            rc = weir_tfrecord_reader_next(r, &p, &len);
            if (rc == WEIR_EOF_) { rc = WEIR_OK; break; }
            if (rc) break;
            weir_arena_reset(a);
            weir_example ex, o;
            if ((rc = weir_example_decode(p, len, a, &ex))) break;
            if ((rc = weir_transform_apply(t, &ex, a, &o))) {
                rc = weir_error_prefix(rc, "%s, example %llu: ", inputs[f], (unsigned long long)n + 1);
                break;
            }
            enc.len = 0;
            if ((rc = weir_example_encode(&o, &enc))) break;
            n++;
            if (w && (rc = weir_tfrecord_writer_write(w, enc.data, enc.len))) break;
            if (ncmp) {
                const uint8_t *q;
                size_t qn;
                weir_status c2 = cmp_next(&cs, &q, &qn);
                if (c2 == WEIR_EOF_) {
                    fprintf(stderr, "example %llu: the compared files have fewer records\n",
                            (unsigned long long)n);
                    differ++;
                } else if (c2) {
                    rc = c2;
                    break;
                } else if (qn == enc.len && memcmp(q, enc.data, qn) == 0) {
                    same++;
                } else {
                    if (differ < 10)
                        fprintf(stderr, "example %llu (%s): transformed bytes differ from the "
                                "compared record\n", (unsigned long long)n, inputs[f]);
                    differ++;
                }
            }
        }
        weir_tfrecord_reader_close(r);
    }
    if (!rc && ncmp) {
        const uint8_t *q;
        size_t qn;
        weir_status c2 = cmp_next(&cs, &q, &qn);
        if (c2 == WEIR_OK) {
            fprintf(stderr, "the compared files have more records than the inputs\n");
            differ++;
        } else if (c2 != WEIR_EOF_) {
            rc = c2;
        }
    }
    if (!rc && w) {
        rc = weir_tfrecord_writer_close(w);
        w = NULL;
    }
    if (rc) {
        fprintf(stderr, "weir transform apply: %s\n", weir_error_message());
    } else {
        printf("%llu examples transformed", (unsigned long long)n);
        if (ncmp) printf("; %llu identical to the compared records, %llu different", (unsigned long long)same,
                         (unsigned long long)differ);
        printf("\n");
        ret = ncmp && differ ? 1 : 0;
    }
    if (w) weir_tfrecord_writer_abort(w);
    if (cs.r) weir_tfrecord_reader_close(cs.r);
    weir_buf_free(&enc);
    weir_arena_free(a);
    weir_transform_free(t);
    free(inputs);
    free(cmp);
    return ret;
}
