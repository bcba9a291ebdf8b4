/*
 * churn_features.c — user code for a Transform, as TFX's preprocessing_fn
 * is: features that need arithmetic or logic across raw columns. The
 * Transform's spec then scales, buckets or looks them up like raw ones, and
 * the same function runs wherever the graph is applied (training and
 * serving alike).
 *
 * Build: it is built with weir (build/lib/libchurn_features.so); a user
 * builds theirs with
 *   cc -shared -fPIC -I include churn_features.c -o churn_features.so
 *
 * Adds:
 *   charges_per_month  total_charges / max(tenure, 1)   (absent if either is)
 *   streams            1 if streaming_tv or streaming_movies is "Yes", else 0
 *   services           how many of the six add-on services are "Yes"
 */
#include <string.h>

#include "weir/transform.h"

static const weir_feature *find(const weir_example *ex, const char *name) {
    return weir_example_find(ex, name);
}

static double num(const weir_feature *f, int *ok) {
    *ok = f && f->count == 1 && (f->kind == WEIR_FEATURE_FLOAT || f->kind == WEIR_FEATURE_INT64);
    if (!*ok) return 0;
    return f->kind == WEIR_FEATURE_FLOAT ? (double)f->v.floats[0] : (double)f->v.ints[0];
}

static int yes(const weir_example *ex, const char *name) {
    const weir_feature *f = find(ex, name);
    return f && f->kind == WEIR_FEATURE_BYTES && f->count == 1 && f->v.bytes[0].n == 3 &&
           memcmp(f->v.bytes[0].p, "Yes", 3) == 0;
}

weir_status weir_preprocessing_fn(const weir_example *raw, weir_arena_t *arena, weir_feature *out,
                                  size_t cap, size_t *n);

weir_status weir_preprocessing_fn(const weir_example *raw, weir_arena_t *arena, weir_feature *out,
                                  size_t cap, size_t *n) {
    *n = 0;
    if (cap < 3) return weir_errorf(WEIR_ELIMIT, "churn_features needs room for 3 features");
    int ok1, ok2;
    double total = num(find(raw, "total_charges"), &ok1);
    double tenure = num(find(raw, "tenure"), &ok2);
    if (ok1 && ok2) {
        float *v = weir_arena_alloc(arena, sizeof *v);
        if (!v) return weir_errorf(WEIR_ENOMEM, "out of memory");
        v[0] = (float)(total / (tenure > 1 ? tenure : 1));
        out[(*n)++] = (weir_feature){.name = "charges_per_month", .kind = WEIR_FEATURE_FLOAT,
                                     .count = 1, .v.floats = v};
    }
    int64_t *s = weir_arena_alloc(arena, 2 * sizeof *s);
    if (!s) return weir_errorf(WEIR_ENOMEM, "out of memory");
    s[0] = yes(raw, "streaming_tv") || yes(raw, "streaming_movies");
    static const char *const addons[] = {"online_security", "online_backup", "device_protection",
                                         "tech_support", "streaming_tv", "streaming_movies"};
    s[1] = 0;
    for (size_t i = 0; i < sizeof addons / sizeof addons[0]; i++) s[1] += yes(raw, addons[i]);
    out[(*n)++] = (weir_feature){.name = "streams", .kind = WEIR_FEATURE_INT64, .count = 1,
                                 .v.ints = &s[0]};
    out[(*n)++] = (weir_feature){.name = "services", .kind = WEIR_FEATURE_INT64, .count = 1,
                                 .v.ints = &s[1]};
    return WEIR_OK;
}
