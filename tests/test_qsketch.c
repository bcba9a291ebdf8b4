/*
 * tests/test_qsketch.c — the quantile sketch (lib/data/qsketch.c).
 *
 * Exact answers while the sketch holds every value, computed here from a
 * sorted copy; beyond that, every boundary's true rank checked against the
 * stated bound on 10^6 values from a fixed-seed generator, for one sketch
 * and for merged ones; determinism; empty and invalid use.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "weir/data.h"

/* ------------------------------------------------------------ helpers */

/* xorshift64*, fixed seed: the same stream on every run and platform */
static uint64_t rng_state;

static void rng_seed(uint64_t s) {
    rng_state = s ? s : 1;
}

static uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static double rng_unit(void) {
    return (double)(rng_next() >> 11) * 0x1.0p-53;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static weir_qsketch_t *sketch_of(uint32_t k, const double *v, size_t n) {
    weir_qsketch_t *s = NULL;
    assert_int_equal(weir_qsketch_new(k, &s), WEIR_OK);
    for (size_t i = 0; i < n; i++) assert_int_equal(weir_qsketch_add(s, v[i]), WEIR_OK);
    return s;
}

/* Count of sorted[0..n) < x, and <= x. */
static size_t count_below(const double *sorted, size_t n, double x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t count_upto(const double *sorted, size_t n, double x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* While exact, boundary i is the value at 1-based rank ceil(i * n / nb). */
static void expect_exact(const weir_qsketch_t *s, const double *sorted, size_t n, uint32_t nb) {
    double *b = calloc(nb, sizeof *b);
    assert_non_null(b);
    assert_int_equal(weir_qsketch_quantiles(s, nb, b), WEIR_OK);
    for (uint32_t i = 1; i < nb; i++) {
        size_t rank = ((size_t)i * n + nb - 1) / nb;
        assert_true(b[i - 1] == sorted[rank - 1]);
    }
    free(b);
}

/*
 * Every interior boundary of nb buckets: the true ranks the value occupies,
 * [count(< b) + 1, count(<= b)], lie within bound * n + 1 of i * n / nb.
 * Returns the largest distance seen, in ranks.
 */
static double check_bound(const weir_qsketch_t *s, const double *sorted, size_t n, uint32_t nb) {
    double bound = weir_qsketch_rank_error(s) * (double)n;
    double *b = calloc(nb, sizeof *b);
    assert_non_null(b);
    assert_int_equal(weir_qsketch_quantiles(s, nb, b), WEIR_OK);
    double worst = 0;
    for (uint32_t i = 1; i < nb; i++) {
        double target = (double)n * i / nb;
        double lo = (double)count_below(sorted, n, b[i - 1]) + 1;
        double hi = (double)count_upto(sorted, n, b[i - 1]);
        assert_true(hi >= lo); /* the boundary is one of the values */
        double d = target < lo ? lo - target : target > hi ? target - hi : 0;
        if (d > worst) worst = d;
        assert_true(d <= bound + 1);
        if (i > 1) assert_true(b[i - 2] <= b[i - 1]);
    }
    free(b);
    return worst;
}

/* --------------------------------------------------------------- exact */

static void test_exact_small(void **state) {
    (void)state;
    enum { N = 1000 };
    double v[N], sorted[N];
    for (size_t i = 0; i < N; i++) v[i] = (double)((i * 389 + 17) % N + 1); /* 1..N, shuffled */
    for (size_t i = 0; i < N; i++) sorted[i] = (double)(i + 1);
    /* k = 512: 2k = 1024 > N, nothing is compacted */
    weir_qsketch_t *s = sketch_of(512, v, N);
    assert_int_equal(weir_qsketch_count(s), N);
    assert_true(weir_qsketch_rank_error(s) == 0);
    assert_true(weir_qsketch_min(s) == 1 && weir_qsketch_max(s) == N);
    static const uint32_t nbs[] = {1, 2, 3, 4, 7, 10, 100, 999, 1000, 1001, 3000};
    for (size_t j = 0; j < sizeof nbs / sizeof *nbs; j++) expect_exact(s, sorted, N, nbs[j]);
    /* the definition, spelled out for four buckets of 1..1000 */
    double q[3];
    assert_int_equal(weir_qsketch_quantiles(s, 4, q), WEIR_OK);
    assert_true(q[0] == 250 && q[1] == 500 && q[2] == 750);
    assert_int_equal(weir_qsketch_quantiles(s, 3, q), WEIR_OK);
    assert_true(q[0] == 334 && q[1] == 667); /* ranks ceil(333.3), ceil(666.7) */
    weir_qsketch_free(s);
}

static void test_exact_duplicates(void **state) {
    (void)state;
    enum { N = 1000 };
    double v[N], sorted[N];
    /* 0..9 a hundred times each, plus a run of 2.5 and negatives */
    for (size_t i = 0; i < N; i++) v[i] = (double)(i % 10);
    for (size_t i = 0; i < 50; i++) v[i * 7] = 2.5;
    for (size_t i = 0; i < 30; i++) v[i * 11 + 3] = -1;
    memcpy(sorted, v, sizeof v);
    qsort(sorted, N, sizeof *sorted, cmp_double);
    weir_qsketch_t *s = sketch_of(8192, v, N);
    static const uint32_t nbs[] = {2, 3, 5, 10, 16, 100, 1000};
    for (size_t j = 0; j < sizeof nbs / sizeof *nbs; j++) expect_exact(s, sorted, N, nbs[j]);

    /* cdf: both ends exact, cum = count <= boundary */
    enum { NB = 10 };
    double b[NB + 1], cum[NB + 1];
    assert_int_equal(weir_qsketch_cdf(s, NULL, NULL, 0, NB, b, cum), WEIR_OK);
    assert_true(b[0] == -1 && b[NB] == 9);
    assert_true(cum[0] == (double)count_upto(sorted, N, -1));
    assert_true(cum[NB] == N);
    for (size_t i = 1; i < NB; i++) assert_true(cum[i] == (double)count_upto(sorted, N, b[i]));

    /* all values equal: every boundary is that value */
    weir_qsketch_t *c = NULL;
    assert_int_equal(weir_qsketch_new(4, &c), WEIR_OK);
    for (int i = 0; i < 5; i++) assert_int_equal(weir_qsketch_add(c, 42), WEIR_OK);
    double q[9];
    assert_int_equal(weir_qsketch_quantiles(c, 10, q), WEIR_OK);
    for (size_t i = 0; i < 9; i++) assert_true(q[i] == 42);
    weir_qsketch_free(c);
    weir_qsketch_free(s);
}

static void test_cdf_exact_pairs(void **state) {
    (void)state;
    /* 0 x3, 1 x0 (skipped), 2 x5 as pairs; 10, 20 in the sketch: n = 10 */
    static const double xv[] = {0, 1, 2};
    static const uint64_t xc[] = {3, 0, 5};
    weir_qsketch_t *s = NULL;
    assert_int_equal(weir_qsketch_new(8192, &s), WEIR_OK);
    assert_int_equal(weir_qsketch_add(s, 20), WEIR_OK);
    assert_int_equal(weir_qsketch_add(s, 10), WEIR_OK);
    double b[6], cum[6];
    assert_int_equal(weir_qsketch_cdf(s, xv, xc, 3, 5, b, cum), WEIR_OK);
    /* ranks 2, 4, 6, 8 of 0 0 0 2 2 2 2 2 10 20 */
    static const double eb[] = {0, 0, 2, 2, 2, 20};
    static const double ec[] = {3, 3, 8, 8, 8, 10};
    for (size_t i = 0; i < 6; i++) {
        assert_true(b[i] == eb[i]);
        assert_true(cum[i] == ec[i]);
    }
    /* pairs alone, empty sketch */
    weir_qsketch_t *e = NULL;
    assert_int_equal(weir_qsketch_new(16, &e), WEIR_OK);
    assert_int_equal(weir_qsketch_cdf(e, xv, xc, 3, 2, b, cum), WEIR_OK);
    assert_true(b[0] == 0 && b[1] == 2 && b[2] == 2);
    assert_true(cum[0] == 3 && cum[1] == 8 && cum[2] == 8);
    weir_qsketch_free(e);
    weir_qsketch_free(s);
}

/* ---------------------------------------------------------- the bound */

static void test_rank_error_formula(void **state) {
    (void)state;
    assert_true(weir_qsketch_rank_error_for(8192, 0) == 0);
    assert_true(weir_qsketch_rank_error_for(8192, 16383) == 0);
    assert_true(weir_qsketch_rank_error_for(8192, 16384) == 1.0 / 8192);
    assert_true(weir_qsketch_rank_error_for(8192, 16385) == 2.0 / 8192);
    assert_true(weir_qsketch_rank_error_for(8192, 100000000) == 14.0 / 8192);
    assert_true(weir_qsketch_rank_error_for(64, 200000) == 12.0 / 64);
}

enum { BIG = 1000000 };

static double *big_stream(uint64_t seed) {
    double *v = malloc(BIG * sizeof *v);
    assert_non_null(v);
    rng_seed(seed);
    /* skewed, with ties: exponential-ish, every tenth value rounded */
    for (size_t i = 0; i < BIG; i++) {
        double u = rng_unit();
        double x = -log1p(-u) * 100;
        v[i] = i % 10 == 0 ? floor(x) : x;
    }
    return v;
}

static double *sorted_copy(const double *v, size_t n) {
    double *s = malloc(n * sizeof *s);
    assert_non_null(s);
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    return s;
}

static void test_bound_1e6(void **state) {
    (void)state;
    double *v = big_stream(20240601);
    double *sorted = sorted_copy(v, BIG);
    static const uint32_t ks[] = {64, 1024, 8192};
    for (size_t j = 0; j < sizeof ks / sizeof *ks; j++) {
        weir_qsketch_t *s = sketch_of(ks[j], v, BIG);
        assert_int_equal(weir_qsketch_count(s), BIG);
        assert_true(weir_qsketch_min(s) == sorted[0]);
        assert_true(weir_qsketch_max(s) == sorted[BIG - 1]);
        double bound = weir_qsketch_rank_error(s);
        assert_true(bound > 0 && bound == weir_qsketch_rank_error_for(ks[j], BIG));
        check_bound(s, sorted, BIG, 100);
        check_bound(s, sorted, BIG, 1000);
        check_bound(s, sorted, BIG, 7);
        weir_qsketch_free(s);
    }
    free(sorted);
    free(v);
}

static void test_merge_bound(void **state) {
    (void)state;
    double *v = big_stream(77);
    /* halves from different distributions: shift the second half up */
    for (size_t i = BIG / 2; i < BIG; i++) v[i] = v[i] * 3 + 50;
    double *sorted = sorted_copy(v, BIG);
    weir_qsketch_t *a = sketch_of(1024, v, BIG / 2);
    weir_qsketch_t *b = sketch_of(1024, v + BIG / 2, BIG / 2);
    assert_int_equal(weir_qsketch_merge(a, b), WEIR_OK);
    assert_int_equal(weir_qsketch_count(a), BIG);
    assert_int_equal(weir_qsketch_count(b), BIG / 2); /* other is unchanged */
    assert_true(weir_qsketch_min(a) == sorted[0] && weir_qsketch_max(a) == sorted[BIG - 1]);
    check_bound(a, sorted, BIG, 100);
    check_bound(a, sorted, BIG, 1000);

    /* eight parts, uneven sizes, merged in order */
    weir_qsketch_t *m = NULL;
    assert_int_equal(weir_qsketch_new(1024, &m), WEIR_OK);
    size_t at = 0;
    for (int p = 0; p < 8; p++) {
        size_t len = p == 7 ? BIG - at : (size_t)(BIG / 16) * (size_t)(p % 3 + 1);
        weir_qsketch_t *part = sketch_of(1024, v + at, len);
        assert_int_equal(weir_qsketch_merge(m, part), WEIR_OK);
        weir_qsketch_free(part);
        at += len;
    }
    assert_int_equal(weir_qsketch_count(m), BIG);
    check_bound(m, sorted, BIG, 100);

    /* an empty sketch merges as nothing */
    weir_qsketch_t *e = NULL;
    assert_int_equal(weir_qsketch_new(1024, &e), WEIR_OK);
    double q1[99], q2[99];
    assert_int_equal(weir_qsketch_quantiles(a, 100, q1), WEIR_OK);
    assert_int_equal(weir_qsketch_merge(a, e), WEIR_OK);
    assert_int_equal(weir_qsketch_quantiles(a, 100, q2), WEIR_OK);
    assert_memory_equal(q1, q2, sizeof q1);
    assert_int_equal(weir_qsketch_count(a), BIG);

    weir_qsketch_free(e);
    weir_qsketch_free(m);
    weir_qsketch_free(b);
    weir_qsketch_free(a);
    free(sorted);
    free(v);
}

/* --------------------------------------------------- determinism, use */

static void test_deterministic(void **state) {
    (void)state;
    double *v = big_stream(5);
    enum { NB = 1000 };
    double q[2][NB - 1], cum[2][NB + 1], b[2][NB + 1];
    for (int r = 0; r < 2; r++) {
        weir_qsketch_t *s = sketch_of(256, v, BIG / 2);
        weir_qsketch_t *t = sketch_of(256, v + BIG / 2, BIG / 2);
        assert_int_equal(weir_qsketch_merge(s, t), WEIR_OK);
        assert_int_equal(weir_qsketch_quantiles(s, NB, q[r]), WEIR_OK);
        assert_int_equal(weir_qsketch_cdf(s, NULL, NULL, 0, NB, b[r], cum[r]), WEIR_OK);
        weir_qsketch_free(t);
        weir_qsketch_free(s);
    }
    assert_memory_equal(q[0], q[1], sizeof q[0]);
    assert_memory_equal(b[0], b[1], sizeof b[0]);
    assert_memory_equal(cum[0], cum[1], sizeof cum[0]);
    /* quantiles() are cdf()'s interior boundaries */
    assert_memory_equal(q[0], b[0] + 1, sizeof q[0]);
    free(v);
}

static void test_empty_and_invalid(void **state) {
    (void)state;
    weir_qsketch_t *s = NULL;
    assert_int_equal(weir_qsketch_new(0, &s), WEIR_EINVAL);
    assert_null(s);
    assert_int_equal(weir_qsketch_new(16, &s), WEIR_OK);
    assert_int_equal(weir_qsketch_k(s), 16);
    assert_int_equal(weir_qsketch_count(s), 0);
    assert_true(weir_qsketch_min(s) == INFINITY && weir_qsketch_max(s) == -INFINITY);
    assert_true(weir_qsketch_rank_error(s) == 0);
    double q[3] = {7, 7, 7}, cum[5];
    assert_int_equal(weir_qsketch_quantiles(s, 4, q), WEIR_EINVAL);
    assert_non_null(strstr(weir_error_message(), "empty"));
    assert_true(q[0] == 7 && q[1] == 7 && q[2] == 7); /* untouched */
    double b[5];
    assert_int_equal(weir_qsketch_cdf(s, NULL, NULL, 0, 4, b, cum), WEIR_EINVAL);
    static const double xv[] = {1};
    static const uint64_t xc[] = {0};
    assert_int_equal(weir_qsketch_cdf(s, xv, xc, 1, 4, b, cum), WEIR_EINVAL);

    assert_int_equal(weir_qsketch_add(s, 3), WEIR_OK);
    assert_int_equal(weir_qsketch_quantiles(s, 0, q), WEIR_EINVAL);
    assert_int_equal(weir_qsketch_quantiles(s, 1, q), WEIR_OK); /* no interior */
    assert_true(q[0] == 7);
    assert_int_equal(weir_qsketch_quantiles(s, 4, q), WEIR_OK);
    assert_true(q[0] == 3 && q[1] == 3 && q[2] == 3);

    /* merge needs the same k */
    weir_qsketch_t *o = NULL;
    assert_int_equal(weir_qsketch_new(32, &o), WEIR_OK);
    assert_int_equal(weir_qsketch_add(o, 1), WEIR_OK);
    assert_int_equal(weir_qsketch_merge(s, o), WEIR_EINVAL);
    assert_non_null(strstr(weir_error_message(), "k differs"));
    assert_int_equal(weir_qsketch_count(s), 1);

    /* reset empties and keeps k; the sketch is usable again */
    for (int i = 0; i < 1000; i++) assert_int_equal(weir_qsketch_add(s, i), WEIR_OK);
    weir_qsketch_reset(s);
    assert_int_equal(weir_qsketch_count(s), 0);
    assert_int_equal(weir_qsketch_k(s), 16);
    assert_true(weir_qsketch_min(s) == INFINITY);
    assert_int_equal(weir_qsketch_quantiles(s, 4, q), WEIR_EINVAL);
    for (int i = 1; i <= 8; i++) assert_int_equal(weir_qsketch_add(s, i), WEIR_OK);
    assert_int_equal(weir_qsketch_quantiles(s, 4, q), WEIR_OK);
    assert_true(q[0] == 2 && q[1] == 4 && q[2] == 6);

    weir_qsketch_free(o);
    weir_qsketch_free(s);
    weir_qsketch_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_small),
        cmocka_unit_test(test_exact_duplicates),
        cmocka_unit_test(test_cdf_exact_pairs),
        cmocka_unit_test(test_rank_error_formula),
        cmocka_unit_test(test_bound_1e6),
        cmocka_unit_test(test_merge_bound),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_empty_and_invalid),
    };
    return cmocka_run_group_tests_name("qsketch", tests, NULL, NULL);
}
