/*
 * stats.c — feature statistics of tf.Example data, computed as TFDV's
 * BasicStatsGenerator and TopKUniquesStatsGenerator compute them.
 *
 * For: one pass over the examples of a split with bounded memory per
 * numeric feature (weir_qsketch, lib/data) and exact counts, sums,
 * means, standard deviations (Welford/Chan, population as TFDV) and exact
 * string value counts; merging accumulators from threads; building the
 * DatasetFeatureStatistics proto with TFDV's histogram construction
 * (quantiles at 100x the bucket count, equal-width histogram by linear
 * interpolation over them, quantiles histogram by rebinning).
 * Not for: reading artifacts' executor input (main.c), schemas (infer.c).
 *
 * Definitions (TFDV's): an example "has" a feature when the feature is
 * present with a value kind, even an empty list (Arrow: a non-null list);
 * num_values counts values per example; mean/std_dev/min/max/num_zeros are
 * over all non-NaN values; string statistics count value occurrences;
 * top_values and the rank histogram sort by count, then value, descending.
 * The string value map is exact, so its memory grows with the number of
 * distinct values (as TFDV's Beam combiner does).
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tfmd.h"
#include "weir/io.h"

#define NEW(T, init, var)                                                                  \
    T *var = malloc(sizeof(T));                                                            \
    if (var) {                                                                             \
        T tmp__ = init;                                                                    \
        *var = tmp__;                                                                      \
    }

void weir_stats_opts_default(weir_stats_opts *o) {
    memset(o, 0, sizeof *o);
    o->num_histogram_buckets = 10;
    o->num_quantiles_histogram_buckets = 10;
    o->num_values_histogram_buckets = 10;
    o->num_top_values = 20;
    o->num_rank_histogram_buckets = 1000;
    o->sketch_k = 8192;
    o->sample_rate = 1.0;
}

double weir_stats_rank_error(const weir_stats_opts *o, uint64_t n) {
    return weir_qsketch_rank_error_for(o && o->sketch_k ? o->sketch_k : 8192, n);
}

/* ========================================================== hash tables */

typedef struct hslot {
    uint64_t hash;
    const uint8_t *key; /* in the arena; NULL = empty */
    uint32_t klen;
    uint64_t val;
} hslot;

typedef struct htab {
    hslot *slots;
    size_t cap; /* power of two */
    size_t count;
} htab;

static uint64_t hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static weir_status ht_grow(htab *t) {
    size_t ncap = t->cap ? t->cap * 2 : 16;
    hslot *ns = calloc(ncap, sizeof *ns);
    if (!ns) return weir_errorf(WEIR_ENOMEM, "statistics: out of memory");
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i].key) continue;
        size_t j = t->slots[i].hash & (ncap - 1);
        while (ns[j].key) j = (j + 1) & (ncap - 1);
        ns[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = ns;
    t->cap = ncap;
    return WEIR_OK;
}

/* Finds or inserts `key`; *slot points at its entry (val 0 when new,
 * *is_new set). The key is copied into `arena` on insert. */
static weir_status ht_upsert(htab *t, weir_arena_t *arena, const uint8_t *key, size_t klen,
                             hslot **slot, int *is_new) {
    if (klen > UINT32_MAX) return weir_errorf(WEIR_ELIMIT, "statistics: value too long");
    if ((t->count + 1) * 4 > t->cap * 3) {
        weir_status rc = ht_grow(t);
        if (rc) return rc;
    }
    uint64_t h = hash_bytes(key, klen);
    size_t j = h & (t->cap - 1);
    while (t->slots[j].key) {
        if (t->slots[j].hash == h && t->slots[j].klen == klen &&
            memcmp(t->slots[j].key, key, klen) == 0) {
            *slot = &t->slots[j];
            if (is_new) *is_new = 0;
            return WEIR_OK;
        }
        j = (j + 1) & (t->cap - 1);
    }
    uint8_t *copy = weir_arena_alloc(arena, klen + 1);
    if (!copy) return weir_errorf(WEIR_ENOMEM, "statistics: out of memory");
    memcpy(copy, key, klen);
    copy[klen] = 0;
    t->slots[j].hash = h;
    t->slots[j].key = copy;
    t->slots[j].klen = (uint32_t)klen;
    t->slots[j].val = 0;
    t->count++;
    *slot = &t->slots[j];
    if (is_new) *is_new = 1;
    return WEIR_OK;
}

/* ========================================================== accumulator */

#define NV_SMALL 64

typedef struct feat_acc {
    char *name;
    weir_feature_kind kind; /* first kind seen */
    int categorical;        /* INT treated as strings (schema says so) */
    uint64_t num_non_missing;
    uint64_t min_nv, max_nv, tot_nv;
    uint64_t nv_small[NV_SMALL]; /* examples with n values, n < NV_SMALL: exact */
    weir_qsketch_t *nv;          /* num values per example, n >= NV_SMALL */
    /* numeric */
    uint64_t count; /* non-NaN values */
    double mean, m2;
    uint64_t num_zeros, num_nan, pos_inf;
    double min, max, fmin, fmax;
    weir_qsketch_t *vals;
    /* strings */
    htab values;
    uint64_t total_len;
} feat_acc;

struct weir_stats_acc {
    weir_stats_opts o;
    uint64_t num_examples;
    uint64_t seen; /* before sampling */
    htab names;    /* name -> index+1 into feats */
    feat_acc *feats;
    size_t nfeats, capfeats;
    weir_arena_t *arena; /* keys of both tables */
    weir_arena_t *scratch; /* per-example decode */
};

weir_status weir_stats_acc_new(const weir_stats_opts *o, weir_stats_acc_t **out) {
    weir_stats_acc_t *a = calloc(1, sizeof *a);
    if (!a) return weir_errorf(WEIR_ENOMEM, "statistics: out of memory");
    if (o)
        a->o = *o;
    else
        weir_stats_opts_default(&a->o);
    if (!a->o.sketch_k) a->o.sketch_k = 8192;
    if (!a->o.num_histogram_buckets) a->o.num_histogram_buckets = 10;
    if (!a->o.num_quantiles_histogram_buckets) a->o.num_quantiles_histogram_buckets = 10;
    if (!a->o.num_values_histogram_buckets) a->o.num_values_histogram_buckets = 10;
    if (!a->o.num_rank_histogram_buckets) a->o.num_rank_histogram_buckets = 1000;
    if (!(a->o.sample_rate > 0 && a->o.sample_rate <= 1)) a->o.sample_rate = 1;
    weir_status rc = weir_arena_new(1 << 20, 0, &a->arena);
    if (!rc) rc = weir_arena_new(1 << 16, 0, &a->scratch);
    if (rc) {
        weir_stats_acc_free(a);
        return rc;
    }
    *out = a;
    return WEIR_OK;
}

static void feat_free(feat_acc *f) {
    free(f->name);
    weir_qsketch_free(f->nv);
    weir_qsketch_free(f->vals);
    free(f->values.slots);
}

void weir_stats_acc_free(weir_stats_acc_t *a) {
    if (!a) return;
    for (size_t i = 0; i < a->nfeats; i++) feat_free(&a->feats[i]);
    free(a->feats);
    free(a->names.slots);
    weir_arena_free(a->arena);
    weir_arena_free(a->scratch);
    free(a);
}

uint64_t weir_stats_acc_examples(const weir_stats_acc_t *a) {
    return a->num_examples;
}

static int schema_says_categorical(const weir_tfmd_schema *s, const char *name) {
    if (!s) return 0;
    for (size_t i = 0; i < s->n_feature; i++) {
        const Tensorflow__Metadata__V0__Feature *f = s->feature[i];
        if (f->name && strcmp(f->name, name) == 0)
            return f->domain_info_case == TENSORFLOW__METADATA__V0__FEATURE__DOMAIN_INFO_INT_DOMAIN &&
                   f->int_domain && f->int_domain->has_is_categorical &&
                   f->int_domain->is_categorical;
    }
    return 0;
}

static weir_status get_feat(weir_stats_acc_t *a, const char *name, size_t nlen, feat_acc **out) {
    hslot *slot;
    int is_new;
    weir_status rc = ht_upsert(&a->names, a->arena, (const uint8_t *)name, nlen, &slot, &is_new);
    if (rc) return rc;
    if (!is_new) {
        *out = &a->feats[slot->val - 1];
        return WEIR_OK;
    }
    if (a->nfeats == a->capfeats) {
        size_t nc = a->capfeats ? a->capfeats * 2 : 32;
        feat_acc *nf = realloc(a->feats, nc * sizeof *nf);
        if (!nf) return weir_errorf(WEIR_ENOMEM, "statistics: out of memory");
        a->feats = nf;
        a->capfeats = nc;
    }
    feat_acc *f = &a->feats[a->nfeats];
    memset(f, 0, sizeof *f);
    f->name = malloc(nlen + 1);
    if (!f->name) return weir_errorf(WEIR_ENOMEM, "statistics: out of memory");
    memcpy(f->name, name, nlen);
    f->name[nlen] = 0;
    if ((rc = weir_qsketch_new(a->o.sketch_k, &f->nv)) ||
        (rc = weir_qsketch_new(a->o.sketch_k, &f->vals))) {
        feat_free(f);
        return rc;
    }
    f->min_nv = UINT64_MAX;
    f->min = f->fmin = INFINITY;
    f->max = f->fmax = -INFINITY;
    f->categorical = schema_says_categorical(a->o.schema, f->name);
    slot->val = ++a->nfeats;
    *out = f;
    return WEIR_OK;
}

static weir_status add_number(feat_acc *f, double v) {
    if (isnan(v)) {
        f->num_nan++;
        return WEIR_OK;
    }
    f->count++;
    double d = v - f->mean;
    f->mean += d / (double)f->count;
    f->m2 += d * (v - f->mean);
    if (v == 0) f->num_zeros++;
    if (v < f->min) f->min = v;
    if (v > f->max) f->max = v;
    if (isfinite(v)) {
        if (v < f->fmin) f->fmin = v;
        if (v > f->fmax) f->fmax = v;
    } else if (v > 0) {
        f->pos_inf++;
    }
    return weir_qsketch_add(f->vals, v);
}

static weir_status add_string(weir_stats_acc_t *a, feat_acc *f, const uint8_t *p, size_t n) {
    hslot *slot;
    weir_status rc = ht_upsert(&f->values, a->arena, p, n, &slot, NULL);
    if (rc) return rc;
    slot->val++;
    f->total_len += n;
    return WEIR_OK;
}

static uint64_t splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

weir_status weir_stats_acc_add(weir_stats_acc_t *a, const weir_example *ex) {
    a->seen++;
    if (a->o.sample_rate < 1 &&
        (double)(splitmix(a->seen) >> 11) * 0x1.0p-53 >= a->o.sample_rate)
        return WEIR_OK;
    a->num_examples++;
    for (size_t i = 0; i < ex->count; i++) {
        const weir_feature *x = &ex->features[i];
        if (x->kind == WEIR_FEATURE_NONE) continue; /* no list: missing */
        size_t nlen = x->name_len ? x->name_len : strlen(x->name);
        feat_acc *f;
        weir_status rc = get_feat(a, x->name, nlen, &f);
        if (rc) return rc;
        if (f->kind == WEIR_FEATURE_NONE) {
            f->kind = x->kind;
        } else if (f->kind != x->kind) {
            static const char *kn[] = {"none", "bytes_list", "float_list", "int64_list"};
            return weir_errorf(WEIR_ETYPE,
                               "feature '%s' is a %s in one example and a %s in another; "
                               "a feature must keep one type",
                               f->name, kn[f->kind], kn[x->kind]);
        }
        uint64_t nv = x->count;
        f->num_non_missing++;
        if (nv < f->min_nv) f->min_nv = nv;
        if (nv > f->max_nv) f->max_nv = nv;
        f->tot_nv += nv;
        if (nv < NV_SMALL)
            f->nv_small[nv]++;
        else if ((rc = weir_qsketch_add(f->nv, (double)nv)))
            return rc;
        for (size_t k = 0; k < x->count; k++) {
            if (x->kind == WEIR_FEATURE_FLOAT) {
                rc = add_number(f, (double)x->v.floats[k]);
            } else if (x->kind == WEIR_FEATURE_INT64) {
                if (f->categorical) {
                    char t[32];
                    int len = snprintf(t, sizeof t, "%lld", (long long)x->v.ints[k]);
                    rc = add_string(a, f, (const uint8_t *)t, (size_t)len);
                } else {
                    rc = add_number(f, (double)x->v.ints[k]);
                }
            } else {
                rc = add_string(a, f, x->v.bytes[k].p, x->v.bytes[k].n);
            }
            if (rc) return rc;
        }
    }
    return WEIR_OK;
}

weir_status weir_stats_acc_add_serialized(weir_stats_acc_t *a, const uint8_t *p, size_t n) {
    weir_example ex;
    weir_arena_reset(a->scratch);
    weir_status rc = weir_example_decode(p, n, a->scratch, &ex);
    if (rc) return rc;
    return weir_stats_acc_add(a, &ex);
}

weir_status weir_stats_acc_merge(weir_stats_acc_t *a, weir_stats_acc_t *o) {
    a->num_examples += o->num_examples;
    a->seen += o->seen;
    weir_status rc = WEIR_OK;
    for (size_t i = 0; i < o->nfeats && !rc; i++) {
        feat_acc *g = &o->feats[i];
        feat_acc *f;
        rc = get_feat(a, g->name, strlen(g->name), &f);
        if (rc) break;
        if (f->kind == WEIR_FEATURE_NONE) {
            f->kind = g->kind;
        } else if (g->kind != WEIR_FEATURE_NONE && g->kind != f->kind) {
            rc = weir_errorf(WEIR_ETYPE, "feature '%s' has different types in different files",
                             f->name);
            break;
        }
        f->num_non_missing += g->num_non_missing;
        if (g->min_nv < f->min_nv) f->min_nv = g->min_nv;
        if (g->max_nv > f->max_nv) f->max_nv = g->max_nv;
        f->tot_nv += g->tot_nv;
        for (size_t k = 0; k < NV_SMALL; k++) f->nv_small[k] += g->nv_small[k];
        /* empty the other side's sketches as they go in, to hold memory down */
        if ((rc = weir_qsketch_merge(f->nv, g->nv))) break;
        weir_qsketch_reset(g->nv);
        if (g->count) { /* Chan et al. parallel variance */
            double n1 = (double)f->count, n2 = (double)g->count, n = n1 + n2;
            double d = g->mean - f->mean;
            f->mean += d * n2 / n;
            f->m2 += g->m2 + d * d * n1 * n2 / n;
            f->count += g->count;
        }
        f->num_zeros += g->num_zeros;
        f->num_nan += g->num_nan;
        f->pos_inf += g->pos_inf;
        if (g->min < f->min) f->min = g->min;
        if (g->max > f->max) f->max = g->max;
        if (g->fmin < f->fmin) f->fmin = g->fmin;
        if (g->fmax > f->fmax) f->fmax = g->fmax;
        if ((rc = weir_qsketch_merge(f->vals, g->vals))) break;
        weir_qsketch_reset(g->vals);
        for (size_t k = 0; k < g->values.cap && !rc; k++) {
            hslot *s = &g->values.slots[k];
            if (!s->key) continue;
            hslot *d;
            rc = ht_upsert(&f->values, a->arena, s->key, s->klen, &d, NULL);
            if (!rc) d->val += s->val;
        }
        f->total_len += g->total_len;
    }
    return rc;
}

/* ===================================================== building protos */

typedef Tensorflow__Metadata__V0__Histogram hist_t;
typedef Tensorflow__Metadata__V0__Histogram__Bucket bucket_t;

static hist_t *hist_new(Tensorflow__Metadata__V0__Histogram__HistogramType type) {
    NEW(hist_t, TENSORFLOW__METADATA__V0__HISTOGRAM__INIT, h);
    if (h) h->type = type;
    return h;
}

static weir_status hist_add(hist_t *h, double lo, double hi, double count) {
    bucket_t **nb = realloc(h->buckets, (h->n_buckets + 1) * sizeof *nb);
    if (!nb) return weir_errorf(WEIR_ENOMEM, "statistics: out of memory");
    h->buckets = nb;
    NEW(bucket_t, TENSORFLOW__METADATA__V0__HISTOGRAM__BUCKET__INIT, b);
    if (!b) return weir_errorf(WEIR_ENOMEM, "statistics: out of memory");
    b->low_value = lo;
    b->high_value = hi;
    b->sample_count = count;
    h->buckets[h->n_buckets++] = b;
    return WEIR_OK;
}

/* TFDV's _get_bin_weights: bin counts from cumulative weights, weight of
 * duplicated bins spread evenly, the mass at the first boundary added to
 * the leading run of identical bins. Fills lo/hi/w (n-1 entries). */
static void bin_weights(const double *q, const double *cum, size_t n, double *lo, double *hi,
                        double *w) {
    size_t nb = n - 1;
    for (size_t i = 0; i < nb; i++) {
        lo[i] = q[i];
        hi[i] = q[i + 1];
        w[i] = cum[i + 1] - cum[i];
    }
    size_t i = 0;
    while (i < nb) {
        size_t j;
        for (j = i + 1; j <= nb; j++) {
            if (j == nb) break;
            if (hi[i] != hi[j]) break;
        }
        if (j > i + 1) {
            double s = 0;
            for (size_t k = i; k < j; k++) s += w[k];
            for (size_t k = i; k < j; k++) w[k] = s / (double)(j - i);
        }
        i = j;
    }
    size_t k;
    for (k = 0; k <= nb; k++) {
        if (k == nb) break;
        if (lo[0] != lo[k] || hi[0] != hi[k]) break;
    }
    if (k > 0)
        for (size_t m = 0; m < k; m++) w[m] += cum[0] / (double)k;
}

static hist_t *quantiles_hist(const double *q, const double *cum, size_t n) {
    hist_t *h = hist_new(TENSORFLOW__METADATA__V0__HISTOGRAM__HISTOGRAM_TYPE__QUANTILES);
    if (!h) return NULL;
    size_t nb = n - 1;
    double *lo = malloc(3 * nb * sizeof(double));
    if (!lo) {
        protobuf_c_message_free_unpacked(&h->base, NULL);
        return NULL;
    }
    double *hi = lo + nb, *w = hi + nb;
    bin_weights(q, cum, n, lo, hi, w);
    for (size_t i = 0; i < nb; i++)
        if (hist_add(h, lo[i], hi[i], w[i])) {
            free(lo);
            protobuf_c_message_free_unpacked(&h->base, NULL);
            return NULL;
        }
    free(lo);
    return h;
}

/* TFDV's _overlap for a finite probe interval. */
static double overlap(double blo, double bhi, double lo, double hi, int first, int *precedes,
                      int *follows) {
    *precedes = *follows = 0;
    if (first && bhi == blo && blo == lo) return 1.0;
    if (!first && bhi == blo && blo == lo) {
        *precedes = 1;
        return 0;
    }
    if (bhi < lo) {
        *precedes = 1;
        return 0;
    }
    if (blo > hi) {
        *follows = 1;
        return 0;
    }
    if (lo <= blo && hi >= bhi) return 1.0;
    if (lo <= blo) return (hi - blo) / (bhi - blo);
    if (hi >= bhi) return (bhi - lo) / (bhi - blo);
    return (hi - lo) / (bhi - blo);
}

/* TFDV's generate_equi_width_histogram over finite data (infinite values
 * get their own end buckets, as TFDV adds them). */
static hist_t *equi_width_hist(const double *q, const double *cum, size_t n, double fmin,
                               double fmax, uint32_t nbuckets, double num_neg_inf,
                               double num_pos_inf) {
    hist_t *h = hist_new(TENSORFLOW__METADATA__V0__HISTOGRAM__HISTOGRAM_TYPE__STANDARD);
    if (!h) return NULL;
    if (!isfinite(fmin) && !isfinite(fmax)) {
        if (hist_add(h, fmin, fmax, cum[n - 1])) goto fail;
        return h;
    }
    /* drop quantile points at infinities */
    size_t s = 0, e = n;
    while (s < e && q[s] == -INFINITY) s++;
    while (e > s && q[e - 1] == INFINITY) e--;
    double base = s ? cum[s - 1] : 0;
    size_t m = e - s + (num_pos_inf > 0 ? 1 : 0);
    if (m < 2) m = 2;
    double *qq = calloc(2 * m, sizeof(double));
    if (!qq) goto fail;
    double *cc = qq + m;
    size_t k = 0;
    for (size_t i = s; i < e; i++, k++) {
        qq[k] = q[i];
        cc[k] = cum[i] - base;
    }
    if (num_pos_inf > 0) {
        qq[k] = fmax;
        cc[k] = cum[n - 1] - num_pos_inf - base;
        k++;
    }
    if (k < 2) {
        qq[1] = qq[0];
        cc[1] = cc[0];
        k = 2;
    }
    size_t nb = k - 1;
    double *lo = malloc(3 * nb * sizeof(double));
    if (!lo) {
        free(qq);
        goto fail;
    }
    double *hi = lo + nb, *w = hi + nb;
    bin_weights(qq, cc, k, lo, hi, w);
    uint32_t nbk = fmin == fmax ? 1 : nbuckets;
    if (num_neg_inf > 0 && hist_add(h, -INFINITY, -INFINITY, num_neg_inf)) goto fail2;
    size_t start = 0;
    for (uint32_t i = 0; i < nbk; i++) {
        double blo = fmin == fmax ? fmin : fmin + (fmax - fmin) * (double)i / nbk;
        double bhi = fmin == fmax ? fmax : (i + 1 == nbk ? fmax : fmin + (fmax - fmin) * (double)(i + 1) / nbk);
        double count = 0;
        for (size_t c = start; c < nb; c++) {
            int pre, fol;
            double ov = overlap(lo[c], hi[c], blo, bhi, i == 0, &pre, &fol);
            if (fol) break;
            if (pre) start = c;
            count += ov * w[c];
        }
        if (hist_add(h, blo, bhi, count)) goto fail2;
    }
    if (num_pos_inf > 0 && hist_add(h, INFINITY, INFINITY, num_pos_inf)) goto fail2;
    free(lo);
    free(qq);
    return h;
fail2:
    free(lo);
    free(qq);
fail:
    protobuf_c_message_free_unpacked(&h->base, NULL);
    return NULL;
}

static Tensorflow__Metadata__V0__CommonStatistics *common_proto(const weir_stats_acc_t *a,
                                                                 const feat_acc *f) {
    NEW(Tensorflow__Metadata__V0__CommonStatistics,
        TENSORFLOW__METADATA__V0__COMMON_STATISTICS__INIT, c);
    if (!c) return NULL;
    c->num_non_missing = f->num_non_missing;
    c->num_missing = a->num_examples - f->num_non_missing;
    c->tot_num_values = f->tot_nv;
    if (f->num_non_missing) {
        c->min_num_values = f->min_nv;
        c->max_num_values = f->max_nv;
        c->avg_num_values = (float)((double)f->tot_nv / (double)f->num_non_missing);
        uint32_t nb = a->o.num_values_histogram_buckets;
        double nv_values[NV_SMALL]; /* the values nv_small counts */
        for (size_t i = 0; i < NV_SMALL; i++) nv_values[i] = (double)i;
        double *q = malloc(2 * (nb + 1) * sizeof(double));
        if (!q) goto fail;
        if (weir_qsketch_cdf(f->nv, nv_values, f->nv_small, NV_SMALL, nb, q, q + nb + 1)) {
            free(q);
            goto fail;
        }
        c->num_values_histogram = quantiles_hist(q, q + nb + 1, nb + 1);
        free(q);
        if (!c->num_values_histogram) goto fail;
    }
    return c;
fail:
    protobuf_c_message_free_unpacked(&c->base, NULL);
    return NULL;
}

static Tensorflow__Metadata__V0__NumericStatistics *numeric_proto(const weir_stats_acc_t *a,
                                                                   const feat_acc *f) {
    NEW(Tensorflow__Metadata__V0__NumericStatistics,
        TENSORFLOW__METADATA__V0__NUMERIC_STATISTICS__INIT, s);
    if (!s) return NULL;
    if (!(s->common_stats = common_proto(a, f))) goto fail;
    if (f->count == 0) {
        if (f->num_nan) {
            s->histograms = calloc(2, sizeof *s->histograms);
            if (!s->histograms) goto fail;
            s->histograms[0] = hist_new(TENSORFLOW__METADATA__V0__HISTOGRAM__HISTOGRAM_TYPE__STANDARD);
            s->histograms[1] = hist_new(TENSORFLOW__METADATA__V0__HISTOGRAM__HISTOGRAM_TYPE__QUANTILES);
            s->n_histograms = 2;
            if (!s->histograms[0] || !s->histograms[1]) goto fail;
            s->histograms[0]->num_nan = s->histograms[1]->num_nan = f->num_nan;
        }
        return s;
    }
    s->mean = f->mean;
    s->std_dev = sqrt(fmax(0, f->m2 / (double)f->count));
    s->num_zeros = f->num_zeros;
    s->min = f->min;
    s->max = f->max;
    uint32_t nq = 100 * a->o.num_quantiles_histogram_buckets;
    double *q = malloc(2 * (nq + 1) * sizeof(double));
    if (!q) goto fail;
    double *cum = q + nq + 1;
    if (weir_qsketch_cdf(f->vals, NULL, NULL, 0, nq, q, cum)) {
        free(q);
        goto fail;
    }
    /* TFDV's find_median over the nq+1 boundaries */
    size_t nqs = nq + 1, mi = nqs / 2;
    s->median = nqs % 2 == 0 ? (q[mi - 1] + q[mi]) / 2.0 : q[mi];
    s->histograms = calloc(2, sizeof *s->histograms);
    if (!s->histograms) {
        free(q);
        goto fail;
    }
    double neg_inf = 0;
    if (f->min == -INFINITY) {
        for (size_t i = 0; i < nqs && q[i] == -INFINITY; i++) neg_inf = cum[i];
    }
    s->histograms[0] = equi_width_hist(q, cum, nqs, f->fmin, f->fmax, a->o.num_histogram_buckets,
                                       neg_inf, (double)f->pos_inf);
    s->n_histograms = 1;
    /* rebin by 100 */
    uint32_t nb = a->o.num_quantiles_histogram_buckets;
    double *rq = malloc(2 * (nb + 1) * sizeof(double));
    if (rq) {
        rq[0] = q[0];
        rq[nb + 1] = cum[0];
        for (uint32_t i = 1; i <= nb; i++) {
            rq[i] = q[i * 100];
            rq[nb + 1 + i] = cum[i * 100];
        }
        s->histograms[1] = quantiles_hist(rq, rq + nb + 1, nb + 1);
        s->n_histograms = 2;
        free(rq);
    }
    free(q);
    if (!s->histograms[0] || s->n_histograms < 2 || !s->histograms[1]) goto fail;
    s->histograms[0]->num_nan = s->histograms[1]->num_nan = f->num_nan;
    return s;
fail:
    protobuf_c_message_free_unpacked(&s->base, NULL);
    return NULL;
}

typedef struct valcount {
    const uint8_t *p;
    uint32_t n;
    uint64_t count;
} valcount;

static int cmp_valcount(const void *a, const void *b) {
    const valcount *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    /* larger value first on ties (TFDV sorts (count, value) descending) */
    size_t m = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->p, y->p, m);
    if (c) return -c;
    return x->n > y->n ? -1 : x->n < y->n;
}

static char *dup_n(const uint8_t *p, size_t n) {
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

static Tensorflow__Metadata__V0__StringStatistics *string_proto(const weir_stats_acc_t *a,
                                                                 const feat_acc *f) {
    NEW(Tensorflow__Metadata__V0__StringStatistics,
        TENSORFLOW__METADATA__V0__STRING_STATISTICS__INIT, s);
    if (!s) return NULL;
    valcount *vc = NULL;
    if (!(s->common_stats = common_proto(a, f))) goto fail;
    s->unique = f->values.count;
    if (f->tot_nv) s->avg_length = (float)((double)f->total_len / (double)f->tot_nv);
    size_t n = f->values.count;
    if (!n) return s;
    vc = malloc(n * sizeof *vc);
    if (!vc) goto fail;
    size_t m = 0;
    for (size_t i = 0; i < f->values.cap; i++)
        if (f->values.slots[i].key) {
            vc[m].p = f->values.slots[i].key;
            vc[m].n = f->values.slots[i].klen;
            vc[m].count = f->values.slots[i].val;
            m++;
        }
    qsort(vc, m, sizeof *vc, cmp_valcount);
    size_t ntop = m < a->o.num_top_values ? m : a->o.num_top_values;
    size_t nrank = m < a->o.num_rank_histogram_buckets ? m : a->o.num_rank_histogram_buckets;
    if (ntop) {
        s->top_values = calloc(ntop, sizeof *s->top_values);
        if (!s->top_values) goto fail;
        for (size_t i = 0; i < ntop; i++) {
            NEW(Tensorflow__Metadata__V0__StringStatistics__FreqAndValue,
                TENSORFLOW__METADATA__V0__STRING_STATISTICS__FREQ_AND_VALUE__INIT, fv);
            if (!fv) goto fail;
            s->top_values[s->n_top_values++] = fv;
            if (!(fv->value = dup_n(vc[i].p, vc[i].n))) goto fail;
            fv->frequency = (double)vc[i].count;
        }
    }
    if (nrank) {
        NEW(Tensorflow__Metadata__V0__RankHistogram, TENSORFLOW__METADATA__V0__RANK_HISTOGRAM__INIT,
            rh);
        if (!rh) goto fail;
        s->rank_histogram = rh;
        rh->buckets = calloc(nrank, sizeof *rh->buckets);
        if (!rh->buckets) goto fail;
        for (size_t i = 0; i < nrank; i++) {
            NEW(Tensorflow__Metadata__V0__RankHistogram__Bucket,
                TENSORFLOW__METADATA__V0__RANK_HISTOGRAM__BUCKET__INIT, b);
            if (!b) goto fail;
            rh->buckets[rh->n_buckets++] = b;
            b->low_rank = b->high_rank = i;
            if (!(b->label = dup_n(vc[i].p, vc[i].n))) goto fail;
            b->sample_count = (double)vc[i].count;
        }
    }
    free(vc);
    return s;
fail:
    free(vc);
    protobuf_c_message_free_unpacked(&s->base, NULL);
    return NULL;
}

static int cmp_feat_name(const void *a, const void *b) {
    return strcmp(((const feat_acc *)a)->name, ((const feat_acc *)b)->name);
}

weir_status weir_stats_acc_finish(weir_stats_acc_t *a, weir_tfmd_dataset_stats **out) {
    NEW(weir_tfmd_dataset_stats, TENSORFLOW__METADATA__V0__DATASET_FEATURE_STATISTICS__INIT, ds);
    if (!ds) return weir_errorf(WEIR_ENOMEM, "statistics: out of memory");
    ds->num_examples = a->num_examples;
    /* sort a copy of the feature order; the hash index stays valid because
     * we sort an index array, not the features */
    feat_acc *sorted = malloc((a->nfeats ? a->nfeats : 1) * sizeof *sorted);
    if (!sorted) goto oom;
    memcpy(sorted, a->feats, a->nfeats * sizeof *sorted);
    qsort(sorted, a->nfeats, sizeof *sorted, cmp_feat_name);
    ds->features = calloc(a->nfeats ? a->nfeats : 1, sizeof *ds->features);
    if (!ds->features) goto oom;
    for (size_t i = 0; i < a->nfeats; i++) {
        const feat_acc *f = &sorted[i];
        NEW(weir_tfmd_feature_stats, TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__INIT, fs);
        if (!fs) goto oom;
        ds->features[ds->n_features++] = fs;
        NEW(Tensorflow__Metadata__V0__Path, TENSORFLOW__METADATA__V0__PATH__INIT, path);
        if (!path) goto oom;
        fs->field_id_case = TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__FIELD_ID_PATH;
        fs->path = path;
        path->step = calloc(1, sizeof(char *));
        if (!path->step || !(path->step[0] = strdup(f->name))) goto oom;
        path->n_step = 1;
        int numeric = (f->kind == WEIR_FEATURE_FLOAT || f->kind == WEIR_FEATURE_INT64) &&
                      !f->categorical;
        if (numeric) {
            fs->type = f->kind == WEIR_FEATURE_FLOAT
                           ? TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__TYPE__FLOAT
                           : TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__TYPE__INT;
            fs->stats_case = TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__STATS_NUM_STATS;
            if (!(fs->num_stats = numeric_proto(a, f))) goto oom;
        } else {
            fs->type = f->kind == WEIR_FEATURE_INT64
                           ? TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__TYPE__INT
                           : TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__TYPE__STRING;
            fs->stats_case = TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__STATS_STRING_STATS;
            if (!(fs->string_stats = string_proto(a, f))) goto oom;
        }
    }
    free(sorted);
    *out = ds;
    return WEIR_OK;
oom:
    free(sorted);
    protobuf_c_message_free_unpacked(&ds->base, NULL);
    return weir_errorf(WEIR_ENOMEM, "statistics: out of memory building the proto");
}

/* ================================================================ files */

typedef struct dir_job {
    const weir_io_list_result *files;
    const weir_stats_opts *o;
    pthread_mutex_t mu;
    size_t next;
    weir_status rc;
    char err[1024];
    uint64_t bytes;
} dir_job;

typedef struct worker {
    dir_job *job;
    weir_stats_acc_t *acc;
} worker;

static weir_status read_file(weir_stats_acc_t *acc, const char *uri) {
    weir_tfrecord_reader_t *r = NULL;
    weir_status rc = weir_tfrecord_reader_open(uri, WEIR_TFRECORD_AUTO, 0, &r);
    if (rc) return rc;
    for (;;) {
        const uint8_t *p;
        size_t n;
        rc = weir_tfrecord_reader_next(r, &p, &n);
        if (rc == WEIR_EOF_) {
            rc = WEIR_OK;
            break;
        }
        if (rc) break;
        rc = weir_stats_acc_add_serialized(acc, p, n);
        if (rc) {
            weir_error_prefix(rc, "%s record at byte %llu: ", uri,
                              (unsigned long long)weir_tfrecord_reader_offset(r));
            break;
        }
    }
    weir_tfrecord_reader_close(r);
    return rc;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    dir_job *j = w->job;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        size_t i = j->next++;
        int stop = j->rc != WEIR_OK;
        pthread_mutex_unlock(&j->mu);
        if (stop) break;
        /* skip directories and hidden files */
        while (i < j->files->count) {
            const weir_io_entry *e = &j->files->entries[i];
            const char *base = strrchr(e->uri, '/');
            base = base ? base + 1 : e->uri;
            if (!e->st.is_dir && base[0] != '.' && base[0] != '_') break;
            pthread_mutex_lock(&j->mu);
            i = j->next++;
            pthread_mutex_unlock(&j->mu);
        }
        if (i >= j->files->count) break;
        weir_status rc = read_file(w->acc, j->files->entries[i].uri);
        pthread_mutex_lock(&j->mu);
        j->bytes += j->files->entries[i].st.size;
        if (rc && j->rc == WEIR_OK) {
            j->rc = rc;
            snprintf(j->err, sizeof j->err, "%s", weir_error_message());
        }
        pthread_mutex_unlock(&j->mu);
        if (rc) break;
    }
    return NULL;
}

weir_status weir_stats_for_dir(const char *dir_uri, const weir_stats_opts *o, unsigned threads,
                               weir_tfmd_dataset_stats **out, uint64_t *bytes_read) {
    weir_io_list_result files = {0};
    weir_status rc = weir_io_list(dir_uri, 0, &files);
    if (rc) return rc;
    size_t nfiles = 0;
    for (size_t i = 0; i < files.count; i++) nfiles += !files.entries[i].st.is_dir;
    if (threads == 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        threads = nc > 0 ? (unsigned)nc : 1;
    }
    if (threads > nfiles) threads = nfiles ? (unsigned)nfiles : 1;
    if (threads > 64) threads = 64;
    dir_job job = {.files = &files, .o = o, .rc = WEIR_OK};
    pthread_mutex_init(&job.mu, NULL);
    worker ws[64];
    pthread_t tids[64];
    unsigned started = 0;
    memset(ws, 0, sizeof ws);
    for (unsigned t = 0; t < threads; t++) {
        ws[t].job = &job;
        if ((rc = weir_stats_acc_new(o, &ws[t].acc))) goto out;
    }
    for (unsigned t = 1; t < threads; t++) {
        if (pthread_create(&tids[t], NULL, worker_main, &ws[t]) != 0) break;
        started = t;
    }
    worker_main(&ws[0]);
    for (unsigned t = 1; t <= started; t++) pthread_join(tids[t], NULL);
    if (job.rc) {
        rc = weir_errorf(job.rc, "%s", job.err);
        goto out;
    }
    for (unsigned t = 1; t < threads; t++)
        if ((rc = weir_stats_acc_merge(ws[0].acc, ws[t].acc))) goto out;
    rc = weir_stats_acc_finish(ws[0].acc, out);
    if (bytes_read) *bytes_read = job.bytes;
out:
    for (unsigned t = 0; t < threads; t++) weir_stats_acc_free(ws[t].acc);
    pthread_mutex_destroy(&job.mu);
    weir_io_list_free(&files);
    return rc;
}

weir_status weir_stats_serialize(const weir_tfmd_dataset_stats *ds, uint8_t **buf, size_t *len) {
    weir_tfmd_stats_list list = TENSORFLOW__METADATA__V0__DATASET_FEATURE_STATISTICS_LIST__INIT;
    weir_tfmd_dataset_stats *one = (weir_tfmd_dataset_stats *)ds;
    list.n_datasets = 1;
    list.datasets = &one;
    size_t n = tensorflow__metadata__v0__dataset_feature_statistics_list__get_packed_size(&list);
    uint8_t *p = malloc(n ? n : 1);
    if (!p) return weir_errorf(WEIR_ENOMEM, "statistics: out of memory");
    tensorflow__metadata__v0__dataset_feature_statistics_list__pack(&list, p);
    *buf = p;
    *len = n;
    return WEIR_OK;
}

weir_status weir_stats_load(const char *uri, weir_tfmd_stats_list **out) {
    weir_buf b;
    weir_buf_init(&b, (size_t)1 << 30);
    weir_status rc = weir_io_read_all(uri, &b);
    if (rc) {
        weir_buf_free(&b);
        return rc;
    }
    weir_tfmd_stats_list *l =
        tensorflow__metadata__v0__dataset_feature_statistics_list__unpack(NULL, b.len, b.data);
    weir_buf_free(&b);
    if (!l)
        return weir_errorf(WEIR_ECORRUPT,
                           "%s is not a serialized DatasetFeatureStatisticsList", uri);
    *out = l;
    return WEIR_OK;
}

weir_status weir_tfmd_split_names(const char *json, char ***names, size_t *n) {
    *names = NULL;
    *n = 0;
    cJSON *doc = NULL;
    weir_status rc = weir_json_parse("split_names", json, strlen(json), NULL, &doc);
    if (rc) return rc;
    if (!cJSON_IsArray(doc)) {
        cJSON_Delete(doc);
        return weir_errorf(WEIR_EPARSE, "split_names must be a JSON list of strings, got %s",
                           json);
    }
    size_t cnt = (size_t)cJSON_GetArraySize(doc);
    char **v = calloc(cnt ? cnt : 1, sizeof *v);
    if (!v) {
        cJSON_Delete(doc);
        return weir_errorf(WEIR_ENOMEM, "out of memory");
    }
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, doc) {
        if (!cJSON_IsString(it) || !it->valuestring[0] || strchr(it->valuestring, '/')) {
            weir_tfmd_split_names_free(v, i);
            cJSON_Delete(doc);
            return weir_errorf(WEIR_EPARSE, "split_names entry %zu is not a plain split name", i);
        }
        if (!(v[i] = strdup(it->valuestring))) {
            weir_tfmd_split_names_free(v, i);
            cJSON_Delete(doc);
            return weir_errorf(WEIR_ENOMEM, "out of memory");
        }
        i++;
    }
    cJSON_Delete(doc);
    *names = v;
    *n = i;
    return WEIR_OK;
}

void weir_tfmd_split_names_free(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

const char *weir_tfmd_feature_name(const weir_tfmd_feature_stats *f) {
    if (f->field_id_case == TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__FIELD_ID_NAME &&
        f->name)
        return f->name;
    if (f->field_id_case == TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__FIELD_ID_PATH &&
        f->path && f->path->n_step)
        return f->path->step[f->path->n_step - 1];
    return "";
}

const weir_tfmd_feature_stats *weir_tfmd_find_feature(const weir_tfmd_dataset_stats *ds,
                                                      const char *name) {
    for (size_t i = 0; i < ds->n_features; i++)
        if (strcmp(weir_tfmd_feature_name(ds->features[i]), name) == 0) return ds->features[i];
    return NULL;
}

const Tensorflow__Metadata__V0__CommonStatistics *weir_tfmd_common(
    const weir_tfmd_feature_stats *f) {
    switch (f->stats_case) {
    case TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__STATS_NUM_STATS:
        return f->num_stats ? f->num_stats->common_stats : NULL;
    case TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__STATS_STRING_STATS:
        return f->string_stats ? f->string_stats->common_stats : NULL;
    case TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__STATS_BYTES_STATS:
        return f->bytes_stats ? f->bytes_stats->common_stats : NULL;
    case TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__STATS_STRUCT_STATS:
        return f->struct_stats ? f->struct_stats->common_stats : NULL;
    default:
        return NULL;
    }
}
