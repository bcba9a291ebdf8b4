/*
 * lib/data/qsketch.c — a deterministic quantile sketch for doubles.
 *
 * For: one pass over a stream of numbers in bounded memory, merging sketches
 * built by threads, and reading back equal-weight quantile boundaries with
 * their cumulative counts (StatisticsGen's histograms, Transform's
 * bucketize analyzer).
 * Not for: exact counts of distinct values (a hash table does that), NaN
 * (callers count NaN themselves), weighted input.
 *
 * The structure is a KLL-style compactor without randomness: levels of
 * buffers, an item at level h standing for 2^h values. When level h holds 2k
 * items it is sorted and every other item moves up to level h+1, the offset
 * alternating between 0 and 1 on successive compactions of that level. A
 * compaction keeps half the weight of 2k items of equal weight, so the total
 * weight always equals the number of values added.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "weir/data.h"

/* With k >= 1, level 47 is reached only after 2^47 * k values. */
#define QS_MAX_LEVELS 48

struct weir_qsketch {
    uint32_t k;
    uint32_t nlevels;
    double *buf[QS_MAX_LEVELS]; /* 2k doubles each, allocated on first use */
    uint32_t len[QS_MAX_LEVELS];
    uint8_t flip[QS_MAX_LEVELS]; /* offset of the next compaction of the level */
    uint64_t n;
    double min, max;
};

static void qs_clear(weir_qsketch_t *s, uint32_t k) {
    memset(s, 0, sizeof *s);
    s->k = k;
    s->min = INFINITY;
    s->max = -INFINITY;
}

weir_status weir_qsketch_new(uint32_t k, weir_qsketch_t **out) {
    if (k == 0) return weir_errorf(WEIR_EINVAL, "quantile sketch: k must be at least 1, got 0");
    weir_qsketch_t *s = malloc(sizeof *s);
    if (!s) return weir_errorf(WEIR_ENOMEM, "quantile sketch: out of memory");
    qs_clear(s, k);
    *out = s;
    return WEIR_OK;
}

void weir_qsketch_reset(weir_qsketch_t *s) {
    for (uint32_t i = 0; i < QS_MAX_LEVELS; i++) free(s->buf[i]);
    qs_clear(s, s->k);
}

void weir_qsketch_free(weir_qsketch_t *s) {
    if (!s) return;
    for (uint32_t i = 0; i < QS_MAX_LEVELS; i++) free(s->buf[i]);
    free(s);
}

uint64_t weir_qsketch_count(const weir_qsketch_t *s) {
    return s->n;
}

uint32_t weir_qsketch_k(const weir_qsketch_t *s) {
    return s->k;
}

double weir_qsketch_min(const weir_qsketch_t *s) {
    return s->min;
}

double weir_qsketch_max(const weir_qsketch_t *s) {
    return s->max;
}

double weir_qsketch_rank_error_for(uint32_t k, uint64_t n) {
    double kk = k ? k : 1;
    if ((double)n < 2 * kk) return 0;
    return ceil(log2((double)n / kk)) / kk;
}

double weir_qsketch_rank_error(const weir_qsketch_t *s) {
    return weir_qsketch_rank_error_for(s->k, s->n);
}

/* Sorts doubles (no NaN) ascending: quicksort with median-of-three and
 * insertion sort for short ranges, comparisons inlined (qsort's callback
 * was a third of StatisticsGen's time). */
static void sort_doubles(double *a, size_t n) {
    while (n > 16) {
        size_t mid = n / 2;
        double x = a[0], y = a[mid], z = a[n - 1];
        double pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        size_t i = 0, j = n - 1;
        for (;;) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i >= j) break;
            double t = a[i];
            a[i] = a[j];
            a[j] = t;
            i++;
            j--;
        }
        /* [0, j] <= pivot <= [j+1, n): recurse on the smaller side */
        size_t left = j + 1;
        if (left < n - left) {
            sort_doubles(a, left);
            a += left;
            n -= left;
        } else {
            sort_doubles(a + left, n - left);
            n = left;
        }
    }
    for (size_t i = 1; i < n; i++) {
        double v = a[i];
        size_t j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static weir_status qs_push(weir_qsketch_t *s, uint32_t h, double v);

static weir_status qs_compact(weir_qsketch_t *s, uint32_t h) {
    if (h + 1 >= QS_MAX_LEVELS)
        return weir_errorf(WEIR_ELIMIT, "quantile sketch overflow: more than 2^%d * k values",
                           QS_MAX_LEVELS - 1);
    sort_doubles(s->buf[h], s->len[h]);
    uint32_t off = s->flip[h];
    s->flip[h] ^= 1;
    uint32_t n = s->len[h];
    s->len[h] = 0;
    /* pushing may compact level h+1 (and above) only, never level h */
    for (uint32_t i = off; i < n; i += 2) {
        weir_status rc = qs_push(s, h + 1, s->buf[h][i]);
        if (rc) return rc;
    }
    /* n is always 2k (even): compaction runs exactly when a level fills */
    return WEIR_OK;
}

static weir_status qs_push(weir_qsketch_t *s, uint32_t h, double v) {
    if (!s->buf[h]) {
        s->buf[h] = malloc(2 * (size_t)s->k * sizeof(double));
        if (!s->buf[h]) return weir_errorf(WEIR_ENOMEM, "quantile sketch: out of memory");
        if (h + 1 > s->nlevels) s->nlevels = h + 1;
    }
    s->buf[h][s->len[h]++] = v;
    if (s->len[h] >= 2 * s->k) return qs_compact(s, h);
    return WEIR_OK;
}

weir_status weir_qsketch_add(weir_qsketch_t *s, double v) {
    WEIR_ASSERT(!isnan(v));
    s->n++;
    if (v < s->min) s->min = v;
    if (v > s->max) s->max = v;
    return qs_push(s, 0, v);
}

weir_status weir_qsketch_merge(weir_qsketch_t *s, const weir_qsketch_t *other) {
    WEIR_ASSERT(s != other);
    if (s->k != other->k)
        return weir_errorf(WEIR_EINVAL, "quantile sketch merge: k differs (%u and %u)", s->k,
                           other->k);
    for (uint32_t h = 0; h < other->nlevels; h++)
        for (uint32_t i = 0; i < other->len[h]; i++) {
            weir_status rc = qs_push(s, h, other->buf[h][i]);
            if (rc) return rc;
        }
    s->n += other->n;
    if (other->min < s->min) s->min = other->min;
    if (other->max > s->max) s->max = other->max;
    return WEIR_OK;
}

typedef struct wv {
    double v;
    double w;
} wv;

static int cmp_wv(const void *a, const void *b) {
    double x = ((const wv *)a)->v, y = ((const wv *)b)->v;
    return x < y ? -1 : x > y;
}

weir_status weir_qsketch_cdf(const weir_qsketch_t *s, const double *exact_values,
                             const uint64_t *exact_counts, size_t nexact, uint32_t num_buckets,
                             double *bounds, double *cum) {
    uint32_t nb = num_buckets;
    if (nb == 0) return weir_errorf(WEIR_EINVAL, "quantiles: num_buckets must be at least 1");
    double sn = 0;
    for (size_t i = 0; i < nexact; i++) sn += (double)exact_counts[i];
    if (s->n == 0 && sn == 0)
        return weir_errorf(WEIR_EINVAL, "quantiles of an empty sketch: add values first");
    size_t total = nexact;
    for (uint32_t h = 0; h < s->nlevels; h++) total += s->len[h];
    wv *items = malloc(total * sizeof *items);
    if (!items) return weir_errorf(WEIR_ENOMEM, "quantiles: out of memory");
    size_t m = 0;
    /* the caller's exact (value, count) pairs, then the sketch's items */
    double smin = INFINITY, smax = -INFINITY;
    for (size_t i = 0; i < nexact; i++) {
        if (!exact_counts[i]) continue;
        double v = exact_values[i];
        WEIR_ASSERT(!isnan(v));
        items[m].v = v;
        items[m].w = (double)exact_counts[i];
        if (v < smin) smin = v;
        if (v > smax) smax = v;
        m++;
    }
    for (uint32_t h = 0; h < s->nlevels; h++)
        for (uint32_t i = 0; i < s->len[h]; i++) {
            items[m].v = s->buf[h][i];
            items[m].w = ldexp(1.0, (int)h);
            m++;
        }
    qsort(items, m, sizeof *items, cmp_wv);
    /* collapse equal values */
    size_t u = 0;
    for (size_t i = 0; i < m; i++) {
        if (u && items[u - 1].v == items[i].v)
            items[u - 1].w += items[i].w;
        else
            items[u++] = items[i];
    }
    double acc = 0;
    for (size_t i = 0; i < u; i++) {
        acc += items[i].w;
        items[i].w = acc; /* now cumulative */
    }
    /* the sketch's weight equals its n (levels compact in pairs) */
    double N = (double)s->n + sn;
    double vmin = s->n && s->min < smin ? s->min : smin;
    double vmax = s->n && s->max > smax ? s->max : smax;
    size_t j = 0;
    for (uint32_t i = 0; i <= nb; i++) {
        if (i == 0) {
            bounds[i] = vmin;
            cum[i] = items[0].w;
            continue;
        }
        if (i == nb) {
            bounds[i] = vmax;
            cum[i] = N;
            continue;
        }
        double target = N * (double)i / (double)nb;
        while (j + 1 < u && items[j].w < target - 1e-9) j++;
        bounds[i] = items[j].v;
        cum[i] = items[j].w;
    }
    free(items);
    return WEIR_OK;
}

weir_status weir_qsketch_quantiles(const weir_qsketch_t *s, uint32_t num_buckets,
                                   double *bounds) {
    if (num_buckets == 0)
        return weir_errorf(WEIR_EINVAL, "quantiles: num_buckets must be at least 1");
    double *q = malloc(2 * ((size_t)num_buckets + 1) * sizeof *q);
    if (!q) return weir_errorf(WEIR_ENOMEM, "quantiles: out of memory");
    weir_status rc = weir_qsketch_cdf(s, NULL, NULL, 0, num_buckets, q, q + num_buckets + 1);
    if (!rc && num_buckets > 1) memcpy(bounds, q + 1, (num_buckets - 1) * sizeof *q);
    free(q);
    return rc;
}
