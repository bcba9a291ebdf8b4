/*
 * validate.c — statistics checked against a schema, as
 * tfdv.validate_statistics checks them (TFDV's anomalies/schema.cc,
 * feature_util.cc, string/int/float/bool_domain_util.cc, metrics.cc), with
 * TFDV's anomaly types, short descriptions and descriptions.
 *
 * For: per feature — column dropped (in the schema, required, absent from the
 * data), new column, unexpected data type, presence (min_count,
 * min_fraction), value_count / shape, string domain (values missing from the
 * schema with their share), int / float domain bounds, bool domain, int
 * domain on strings; drift against previous statistics with the schema's
 * drift_comparator (L-infinity distance for categorical features, approximate
 * Jensen-Shannon divergence over histograms for numeric ones).
 * Not for: sparse / weighted / struct features, environments, dataset-level
 * constraints, which are not checked.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tfmd.h"
#include "weir/io.h"

typedef Tensorflow__Metadata__V0__Feature feature_t;
typedef Tensorflow__Metadata__V0__AnomalyInfo info_t;
typedef Tensorflow__Metadata__V0__AnomalyInfo__Reason reason_t;
typedef Tensorflow__Metadata__V0__Anomalies__AnomalyInfoEntry entry_t;

#define T(x) TENSORFLOW__METADATA__V0__ANOMALY_INFO__TYPE__##x

static weir_status oom(void) {
    return weir_errorf(WEIR_ENOMEM, "validation: out of memory");
}

/* Reasons gathered for one feature. */
typedef struct reasons {
    reason_t **r;
    size_t n;
} reasons;

static weir_status add_reason(reasons *rs, int type, const char *shortd, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static weir_status add_reason(reasons *rs, int type, const char *shortd, const char *fmt, ...) {
    reason_t *r = malloc(sizeof *r);
    if (!r) return oom();
    reason_t init = TENSORFLOW__METADATA__V0__ANOMALY_INFO__REASON__INIT;
    *r = init;
    r->has_type = 1;
    r->type = type;
    r->short_description = strdup(shortd);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    r->description = malloc((size_t)n + 1);
    if (r->description) {
        va_start(ap, fmt);
        vsnprintf(r->description, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    reason_t **g = realloc(rs->r, (rs->n + 1) * sizeof *g);
    if (!g || !r->short_description || !r->description) {
        protobuf_c_message_free_unpacked(&r->base, NULL);
        if (g) rs->r = g;
        return oom();
    }
    rs->r = g;
    rs->r[rs->n++] = r;
    return WEIR_OK;
}

static void reasons_free(reasons *rs) {
    for (size_t i = 0; i < rs->n; i++) protobuf_c_message_free_unpacked(&rs->r[i]->base, NULL);
    free(rs->r);
    rs->r = NULL;
    rs->n = 0;
}

/* Moves the reasons into a new anomaly_info entry of `a` keyed by name. */
static weir_status emit(weir_tfmd_anomalies *a, const char *name, reasons *rs) {
    if (!rs->n) return WEIR_OK;
    entry_t *e = malloc(sizeof *e);
    info_t *info = malloc(sizeof *info);
    Tensorflow__Metadata__V0__Path *path = malloc(sizeof *path);
    entry_t **g = realloc(a->anomaly_info, (a->n_anomaly_info + 1) * sizeof *g);
    if (g) a->anomaly_info = g;
    if (!e || !info || !path || !g) {
        free(e);
        free(info);
        free(path);
        reasons_free(rs);
        return oom();
    }
    entry_t einit = TENSORFLOW__METADATA__V0__ANOMALIES__ANOMALY_INFO_ENTRY__INIT;
    info_t iinit = TENSORFLOW__METADATA__V0__ANOMALY_INFO__INIT;
    Tensorflow__Metadata__V0__Path pinit = TENSORFLOW__METADATA__V0__PATH__INIT;
    *e = einit;
    *info = iinit;
    *path = pinit;
    a->anomaly_info[a->n_anomaly_info++] = e;
    e->value = info;
    info->path = path;
    e->key = strdup(name);
    path->step = malloc(sizeof(char *));
    if (path->step) {
        path->step[0] = strdup(name);
        path->n_step = 1;
    }
    info->has_severity = 1;
    info->severity = TENSORFLOW__METADATA__V0__ANOMALY_INFO__SEVERITY__ERROR;
    info->reason = rs->r;
    info->n_reason = rs->n;
    rs->r = NULL;
    rs->n = 0;
    if (info->n_reason == 1) {
        info->short_description = strdup(info->reason[0]->short_description);
        info->description = strdup(info->reason[0]->description);
    } else {
        size_t len = 1;
        for (size_t i = 0; i < info->n_reason; i++) len += strlen(info->reason[i]->description) + 1;
        info->short_description = strdup("Multiple errors");
        info->description = malloc(len);
        if (info->description) {
            info->description[0] = 0;
            for (size_t i = 0; i < info->n_reason; i++) {
                if (i) strcat(info->description, " ");
                strcat(info->description, info->reason[i]->description);
            }
        }
    }
    if (!e->key || !path->step || !path->step[0] || !info->short_description || !info->description)
        return oom();
    return WEIR_OK;
}

static const char *stats_type_name(int t) {
    switch (t) {
    case 0: return "INT";
    case 1: return "FLOAT";
    case 2: return "STRING";
    case 3: return "BYTES";
    case 4: return "STRUCT";
    }
    return "unknown";
}

static const char *schema_type_name(int t) {
    switch (t) {
    case 0: return "TYPE_UNKNOWN";
    case 1: return "BYTES";
    case 2: return "INT";
    case 3: return "FLOAT";
    case 4: return "STRUCT";
    }
    return "unknown";
}

static int types_match(const weir_tfmd_feature_stats *fs, const feature_t *f) {
    int st = fs->type, t = f->has_type ? (int)f->type : 0;
    switch (t) {
    case TENSORFLOW__METADATA__V0__FEATURE_TYPE__INT:
        return st == TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__TYPE__INT;
    case TENSORFLOW__METADATA__V0__FEATURE_TYPE__FLOAT:
        return st == TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__TYPE__FLOAT;
    case TENSORFLOW__METADATA__V0__FEATURE_TYPE__BYTES:
        return st == TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__TYPE__STRING ||
               st == TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__TYPE__BYTES;
    case TENSORFLOW__METADATA__V0__FEATURE_TYPE__STRUCT:
        return st == TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__TYPE__STRUCT;
    default:
        return 1;
    }
}

/* (value, count) pairs of a string feature: the rank histogram, else the
 * top values. Borrowed pointers. */
typedef struct vc {
    const char *v;
    double c;
} vc;

static size_t value_counts(const weir_tfmd_feature_stats *fs, vc **out) {
    *out = NULL;
    if (fs->stats_case != TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__STATS_STRING_STATS ||
        !fs->string_stats)
        return 0;
    const Tensorflow__Metadata__V0__StringStatistics *s = fs->string_stats;
    size_t n = s->rank_histogram ? s->rank_histogram->n_buckets : s->n_top_values;
    vc *v = calloc(n ? n : 1, sizeof *v);
    if (!v) return 0;
    for (size_t i = 0; i < n; i++) {
        if (s->rank_histogram) {
            v[i].v = s->rank_histogram->buckets[i]->label;
            v[i].c = s->rank_histogram->buckets[i]->sample_count;
        } else {
            v[i].v = s->top_values[i]->value;
            v[i].c = s->top_values[i]->frequency;
        }
    }
    *out = v;
    return n;
}

static int cmp_vc_value(const void *a, const void *b) {
    return strcmp(((const vc *)a)->v, ((const vc *)b)->v);
}

static const Tensorflow__Metadata__V0__StringDomain *string_domain_of(const weir_tfmd_schema *s,
                                                                      const feature_t *f) {
    if (f->domain_info_case == TENSORFLOW__METADATA__V0__FEATURE__DOMAIN_INFO_STRING_DOMAIN)
        return f->string_domain;
    if (f->domain_info_case == TENSORFLOW__METADATA__V0__FEATURE__DOMAIN_INFO_DOMAIN && f->domain)
        for (size_t i = 0; i < s->n_string_domain; i++)
            if (s->string_domain[i]->name && strcmp(s->string_domain[i]->name, f->domain) == 0)
                return s->string_domain[i];
    return NULL;
}

/* TFDV's PercentageAsString. */
static void percent(double count, double total, char out[32]) {
    if (total == 0) {
        snprintf(out, 32, "?");
        return;
    }
    double p = 100 * count / total;
    if (p < 1.0)
        snprintf(out, 32, "<1%%");
    else
        snprintf(out, 32, "~%d%%", (int)floor(p));
}

/* Appends s with C escapes for non-printable bytes (absl::Utf8SafeCEscape). */
static weir_status append_escaped(weir_buf *b, const char *s) {
    weir_status rc = WEIR_OK;
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        switch (*p) {
        case '\n': rc = weir_buf_append_str(b, "\\n"); break;
        case '\r': rc = weir_buf_append_str(b, "\\r"); break;
        case '\t': rc = weir_buf_append_str(b, "\\t"); break;
        case '"': rc = weir_buf_append_str(b, "\\\""); break;
        case '\'': rc = weir_buf_append_str(b, "\\'"); break;
        case '\\': rc = weir_buf_append_str(b, "\\\\"); break;
        default:
            if (*p < 32 || *p == 127)
                rc = weir_buf_printf(b, "\\%03o", *p);
            else
                rc = weir_buf_append_byte(b, *p);
        }
    }
    return rc;
}

static weir_status check_string_domain(const weir_tfmd_schema *s, const feature_t *f,
                                       const weir_tfmd_feature_stats *fs, reasons *rs) {
    const Tensorflow__Metadata__V0__StringDomain *sd = string_domain_of(s, f);
    if (!sd) return WEIR_OK;
    vc *v;
    size_t n = value_counts(fs, &v);
    if (!n) {
        free(v);
        return WEIR_OK;
    }
    qsort(v, n, sizeof *v, cmp_vc_value);
    double missing = 0;
    size_t nmiss = 0;
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (size_t k = 0; k < sd->n_value && !found; k++) found = strcmp(sd->value[k], v[i].v) == 0;
        if (found) {
            v[i].v = NULL;
        } else {
            missing += v[i].c;
            nmiss++;
        }
    }
    const Tensorflow__Metadata__V0__CommonStatistics *c = weir_tfmd_common(fs);
    double total = c ? (double)c->tot_num_values : 0;
    double max_off = 0;
    if (f->distribution_constraints && f->distribution_constraints->has_min_domain_mass)
        max_off = 1.0 - f->distribution_constraints->min_domain_mass;
    weir_status rc = WEIR_OK;
    if ((total > 0 && missing / total > max_off) || (max_off == 0 && nmiss)) {
        weir_buf b;
        weir_buf_init(&b, 1 << 20);
        rc = weir_buf_append_str(&b, "Examples contain values missing from the schema: ");
        size_t k = 0;
        for (size_t i = 0; i < n && !rc; i++) {
            if (!v[i].v) continue;
            char pc[32];
            percent(v[i].c, total, pc);
            if (k++) rc = weir_buf_append_str(&b, ", ");
            if (!rc) rc = append_escaped(&b, v[i].v);
            if (!rc) rc = weir_buf_printf(&b, " (%s)", pc);
        }
        if (!rc) rc = weir_buf_append_str(&b, ". ");
        if (!rc)
            rc = add_reason(rs, T(ENUM_TYPE_UNEXPECTED_STRING_VALUES), "Unexpected string values",
                            "%s", (const char *)b.data);
        weir_buf_free(&b);
    }
    free(v);
    return rc;
}

static weir_status check_domains(const weir_tfmd_schema *s, const feature_t *f,
                                 const weir_tfmd_feature_stats *fs, reasons *rs) {
    weir_status rc = check_string_domain(s, f, fs, rs);
    if (rc) return rc;
    int is_num = fs->stats_case == TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__STATS_NUM_STATS &&
                 fs->num_stats && fs->num_stats->common_stats &&
                 fs->num_stats->common_stats->tot_num_values > 0;
    const Tensorflow__Metadata__V0__NumericStatistics *ns = fs->num_stats;
    if (f->domain_info_case == TENSORFLOW__METADATA__V0__FEATURE__DOMAIN_INFO_INT_DOMAIN &&
        f->int_domain) {
        const Tensorflow__Metadata__V0__IntDomain *d = f->int_domain;
        if (is_num && fs->type == TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__TYPE__INT) {
            if (d->has_min && (double)d->min > ns->min &&
                (rc = add_reason(rs, T(INT_TYPE_SMALL_INT), "Out-of-range values",
                                 "Unexpectedly small value: %lld.", (long long)ns->min)))
                return rc;
            if (d->has_max && (double)d->max < ns->max &&
                (rc = add_reason(rs, T(INT_TYPE_BIG_INT), "Out-of-range values",
                                 "Unexpectedly large value: %lld.", (long long)ns->max)))
                return rc;
        } else if (fs->type == TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__TYPE__STRING) {
            vc *v;
            size_t n = value_counts(fs, &v);
            for (size_t i = 0; i < n; i++) {
                char *end;
                (void)strtoll(v[i].v, &end, 10);
                if (!*v[i].v || *end) {
                    rc = add_reason(rs, T(INT_TYPE_NOT_INT_STRING), "Invalid values",
                                    "String values that were not ints were found, such as \"%s\".",
                                    v[i].v);
                    break;
                }
            }
            free(v);
            if (rc) return rc;
        }
    }
    if (f->domain_info_case == TENSORFLOW__METADATA__V0__FEATURE__DOMAIN_INFO_FLOAT_DOMAIN &&
        f->float_domain && is_num) {
        const Tensorflow__Metadata__V0__FloatDomain *d = f->float_domain;
        if (d->has_min && ns->min < d->min &&
            (rc = add_reason(rs, T(FLOAT_TYPE_SMALL_FLOAT), "Out-of-range values",
                             "Unexpectedly low values: %.6g<%.6g(upto six significant digits)",
                             ns->min, (double)d->min)))
            return rc;
        if (d->has_max && ns->max > d->max &&
            (rc = add_reason(rs, T(FLOAT_TYPE_BIG_FLOAT), "Out-of-range values",
                             "Unexpectedly high value: %.6g>%.6g(upto six significant digits)",
                             ns->max, (double)d->max)))
            return rc;
    }
    if (f->domain_info_case == TENSORFLOW__METADATA__V0__FEATURE__DOMAIN_INFO_BOOL_DOMAIN &&
        f->bool_domain) {
        const Tensorflow__Metadata__V0__BoolDomain *d = f->bool_domain;
        if (is_num && fs->type == TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__TYPE__INT) {
            if (ns->max > 1 &&
                (rc = add_reason(rs, T(BOOL_TYPE_BIG_INT), "Non-boolean values",
                                 "Integers (such as %lld) not in {0, 1}: converting to an integer.",
                                 (long long)ns->max)))
                return rc;
            if (ns->min < 0 &&
                (rc = add_reason(rs, T(BOOL_TYPE_SMALL_INT), "Non-boolean values",
                                 "Integers (such as %lld) not in {0, 1}: converting to an integer.",
                                 (long long)ns->min)))
                return rc;
        } else if (fs->type == TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__TYPE__STRING) {
            vc *v;
            size_t n = value_counts(fs, &v);
            for (size_t i = 0; i < n; i++) {
                int ok = (d->true_value && strcmp(v[i].v, d->true_value) == 0) ||
                         (d->false_value && strcmp(v[i].v, d->false_value) == 0);
                if (!ok) {
                    rc = add_reason(rs, T(BOOL_TYPE_UNEXPECTED_STRING), "Non-boolean values",
                                    "Saw value \"%s\", not a boolean value from the schema.",
                                    v[i].v);
                    break;
                }
            }
            free(v);
            if (rc) return rc;
        }
    }
    return WEIR_OK;
}

static weir_status check_counts(const feature_t *f, const weir_tfmd_feature_stats *fs,
                                uint64_t num_examples, reasons *rs) {
    const Tensorflow__Metadata__V0__CommonStatistics *c = weir_tfmd_common(fs);
    if (!c) return WEIR_OK;
    weir_status rc = WEIR_OK;
    if (f->shape_type_case == TENSORFLOW__METADATA__V0__FEATURE__SHAPE_TYPE_VALUE_COUNT &&
        f->value_count && c->num_non_missing) {
        const Tensorflow__Metadata__V0__ValueCount *v = f->value_count;
        if (v->has_min && (int64_t)c->min_num_values < v->min &&
            (rc = add_reason(rs, T(FEATURE_TYPE_LOW_NUMBER_VALUES), "Missing values",
                             "Some examples have fewer values than expected.")))
            return rc;
        if (v->has_max && (int64_t)c->max_num_values > v->max &&
            (rc = add_reason(rs, T(FEATURE_TYPE_HIGH_NUMBER_VALUES), "Superfluous values",
                             "Some examples have more values than expected.")))
            return rc;
    }
    if (f->shape_type_case == TENSORFLOW__METADATA__V0__FEATURE__SHAPE_TYPE_SHAPE && f->shape) {
        int64_t want = 1;
        for (size_t i = 0; i < f->shape->n_dim; i++) want *= f->shape->dim[i]->size;
        if (c->num_missing || c->min_num_values != c->max_num_values ||
            (int64_t)c->min_num_values != want)
            if ((rc = add_reason(rs, T(INVALID_FEATURE_SHAPE), "Invalid shape",
                                 "The feature has a shape, but it's not always present or "
                                 "its value lengths vary (expected %lld values in every "
                                 "example).",
                                 (long long)want)))
                return rc;
    }
    if (f->presence_constraints_case ==
            TENSORFLOW__METADATA__V0__FEATURE__PRESENCE_CONSTRAINTS_PRESENCE &&
        f->presence) {
        const Tensorflow__Metadata__V0__FeaturePresence *p = f->presence;
        if (p->has_min_count && (int64_t)c->num_non_missing < p->min_count &&
            (rc = add_reason(rs, T(FEATURE_TYPE_LOW_NUMBER_PRESENT), "Column dropped",
                             "The feature was present in fewer examples than expected: minimum "
                             "count = %lld, actual = %lld",
                             (long long)p->min_count, (long long)c->num_non_missing)))
            return rc;
        if (p->has_min_fraction && num_examples) {
            double frac = (double)c->num_non_missing / (double)num_examples;
            double minf = p->min_fraction;
            if (frac < minf) {
                rc = add_reason(rs, T(FEATURE_TYPE_LOW_FRACTION_PRESENT), "Column dropped",
                                "The feature was present in fewer examples than expected: "
                                "minimum fraction = %f, actual = %f",
                                (double)(float)minf, frac);
                minf = frac;
            }
            if (!rc && minf == 1.0 && c->num_missing)
                rc = add_reason(rs, T(FEATURE_TYPE_LOW_FRACTION_PRESENT), "Column dropped",
                                "The feature was expected everywhere, but was missing in %llu "
                                "examples.",
                                (unsigned long long)c->num_missing);
            if (rc) return rc;
        }
    }
    return WEIR_OK;
}

/* ---------------------------------------------------------------- drift */

/* L-infinity distance between the normalized value counts of two string
 * features (TFDV's metrics.cc LInftyDistance); *argmax (borrowed from a or
 * b, "" when none) is the value with the largest difference, the greatest
 * such value on ties (TFDV's GetLInftyNorm keeps the last maximum, >=, of
 * the sorted union of values). */
static void consider(const char *v, double d, double *best, const char **argmax) {
    if (d > *best || (d == *best && strcmp(v, *argmax) > 0)) {
        *best = d;
        *argmax = v;
    }
}

static double linf(const weir_tfmd_feature_stats *a, const weir_tfmd_feature_stats *b,
                   const char **argmax) {
    vc *x = NULL, *y = NULL;
    size_t nx = value_counts(a, &x), ny = value_counts(b, &y);
    double sx = 0, sy = 0, best = 0;
    *argmax = "";
    for (size_t i = 0; i < nx; i++) sx += x[i].c;
    for (size_t i = 0; i < ny; i++) sy += y[i].c;
    for (size_t i = 0; i < nx; i++) {
        double cy = 0;
        for (size_t k = 0; k < ny; k++)
            if (strcmp(x[i].v, y[k].v) == 0) cy = y[k].c;
        consider(x[i].v, fabs((sx ? x[i].c / sx : 0) - (sy ? cy / sy : 0)), &best, argmax);
    }
    for (size_t k = 0; k < ny; k++) {
        int in_x = 0;
        for (size_t i = 0; i < nx && !in_x; i++) in_x = strcmp(x[i].v, y[k].v) == 0;
        if (!in_x) consider(y[k].v, sy ? y[k].c / sy : 0, &best, argmax);
    }
    free(x);
    free(y);
    return best;
}

static const Tensorflow__Metadata__V0__Histogram *std_hist(const weir_tfmd_feature_stats *fs) {
    if (fs->stats_case != TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__STATS_NUM_STATS ||
        !fs->num_stats)
        return NULL;
    for (size_t i = 0; i < fs->num_stats->n_histograms; i++)
        if (fs->num_stats->histograms[i]->type ==
            TENSORFLOW__METADATA__V0__HISTOGRAM__HISTOGRAM_TYPE__STANDARD)
            return fs->num_stats->histograms[i];
    return NULL;
}

/* Mass of histogram h inside [lo, hi), spreading each bucket uniformly. */
static double mass_in(const Tensorflow__Metadata__V0__Histogram *h, double lo, double hi) {
    double m = 0;
    for (size_t i = 0; i < h->n_buckets; i++) {
        const Tensorflow__Metadata__V0__Histogram__Bucket *b = h->buckets[i];
        double w = b->high_value - b->low_value;
        if (w <= 0) {
            if (b->low_value >= lo && b->low_value < hi) m += b->sample_count;
            continue;
        }
        double a = fmax(lo, b->low_value), z = fmin(hi, b->high_value);
        if (z > a) m += b->sample_count * (z - a) / w;
    }
    return m;
}

/* Approximate Jensen-Shannon divergence (base 2) of two standard
 * histograms, re-bucketed onto the union of their boundaries. */
static double jsd(const Tensorflow__Metadata__V0__Histogram *a,
                  const Tensorflow__Metadata__V0__Histogram *b) {
    size_t n = 2 * (a->n_buckets + b->n_buckets);
    double *edges = malloc((n ? n : 1) * sizeof(double));
    if (!edges) return 0;
    size_t k = 0;
    for (size_t i = 0; i < a->n_buckets; i++) {
        edges[k++] = a->buckets[i]->low_value;
        edges[k++] = a->buckets[i]->high_value;
    }
    for (size_t i = 0; i < b->n_buckets; i++) {
        edges[k++] = b->buckets[i]->low_value;
        edges[k++] = b->buckets[i]->high_value;
    }
    for (size_t i = 1; i < k; i++) /* insertion sort: small */
        for (size_t j = i; j > 0 && edges[j - 1] > edges[j]; j--) {
            double t = edges[j];
            edges[j] = edges[j - 1];
            edges[j - 1] = t;
        }
    double ta = 0, tb = 0;
    for (size_t i = 0; i < a->n_buckets; i++) ta += a->buckets[i]->sample_count;
    for (size_t i = 0; i < b->n_buckets; i++) tb += b->buckets[i]->sample_count;
    double js = 0;
    for (size_t i = 0; i + 1 < k; i++) {
        if (edges[i + 1] <= edges[i]) continue;
        double hi = i + 2 == k ? nextafter(edges[i + 1], INFINITY) : edges[i + 1];
        double p = ta ? mass_in(a, edges[i], hi) / ta : 0;
        double q = tb ? mass_in(b, edges[i], hi) / tb : 0;
        double m = (p + q) / 2;
        if (p > 0) js += 0.5 * p * log2(p / m);
        if (q > 0) js += 0.5 * q * log2(q / m);
    }
    free(edges);
    return js;
}

/* Drift (current vs previous span, the schema's drift_comparator) and skew
 * (training vs serving, its skew_comparator) are the same comparison with
 * other names, as in TFDV. */
static weir_status check_compare(const Tensorflow__Metadata__V0__FeatureComparator *c,
                                 const char *cur_name, const char *prev_name,
                                 const weir_tfmd_feature_stats *cur,
                                 const weir_tfmd_feature_stats *prev, reasons *rs) {
    if (!c || !prev) return WEIR_OK;
    if (c->infinity_norm && c->infinity_norm->has_threshold &&
        cur->stats_case == TENSORFLOW__METADATA__V0__FEATURE_NAME_STATISTICS__STATS_STRING_STATS) {
        const char *val = "";
        double d = linf(cur, prev, &val);
        if (d > c->infinity_norm->threshold) {
            char shortd[128];
            snprintf(shortd, sizeof shortd, "High Linfty distance between %s and %s", cur_name,
                     prev_name);
            weir_status rc = add_reason(
                rs, T(COMPARATOR_L_INFTY_HIGH), shortd,
                "The Linfty distance between %s and %s is %.6g (up to six significant "
                "digits), above the threshold %.6g. The feature value with maximum difference "
                "is: %s",
                cur_name, prev_name, d, c->infinity_norm->threshold, val);
            if (rc) return rc;
        }
    }
    if (c->jensen_shannon_divergence && c->jensen_shannon_divergence->has_threshold) {
        const Tensorflow__Metadata__V0__Histogram *ha = std_hist(cur), *hb = std_hist(prev);
        if (ha && hb) {
            double d = jsd(ha, hb);
            if (d > c->jensen_shannon_divergence->threshold) {
                char shortd[128];
                snprintf(shortd, sizeof shortd,
                         "High approximate Jensen-Shannon divergence between %s and %s", cur_name,
                         prev_name);
                weir_status rc = add_reason(
                    rs, T(COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH), shortd,
                    "The approximate Jensen-Shannon divergence between %s and %s is "
                    "%.6g (up to six significant digits), above the threshold %.6g.",
                    cur_name, prev_name, d, c->jensen_shannon_divergence->threshold);
                if (rc) return rc;
            }
        }
    }
    return WEIR_OK;
}

static int required(const feature_t *f) {
    if (f->presence_constraints_case !=
            TENSORFLOW__METADATA__V0__FEATURE__PRESENCE_CONSTRAINTS_PRESENCE ||
        !f->presence)
        return 0;
    return (f->presence->has_min_count && f->presence->min_count > 0) ||
           (f->presence->has_min_fraction && f->presence->min_fraction > 0);
}

/* Feature.deprecated is itself deprecated in TFMD (lifecycle_stage
 * replaces it), but TFDV still honours it. */
static int deprecated_flag(const feature_t *f) {
    return f->has_deprecated && f->deprecated;
}

static int deprecated(const feature_t *f) {
    return deprecated_flag(f) ||
           (f->has_lifecycle_stage &&
            (f->lifecycle_stage == TENSORFLOW__METADATA__V0__LIFECYCLE_STAGE__DEPRECATED ||
             f->lifecycle_stage == TENSORFLOW__METADATA__V0__LIFECYCLE_STAGE__DISABLED ||
             f->lifecycle_stage == TENSORFLOW__METADATA__V0__LIFECYCLE_STAGE__PLANNED ||
             f->lifecycle_stage == TENSORFLOW__METADATA__V0__LIFECYCLE_STAGE__ALPHA ||
             f->lifecycle_stage == TENSORFLOW__METADATA__V0__LIFECYCLE_STAGE__DEBUG_ONLY));
}

weir_status weir_validate(const weir_tfmd_dataset_stats *ds, const weir_tfmd_schema *schema,
                          const weir_tfmd_dataset_stats *previous, weir_tfmd_anomalies **out) {
    return weir_validate_ex(ds, schema, previous, NULL, out);
}

weir_status weir_validate_ex(const weir_tfmd_dataset_stats *ds, const weir_tfmd_schema *schema,
                             const weir_tfmd_dataset_stats *previous,
                             const weir_tfmd_dataset_stats *serving, weir_tfmd_anomalies **out) {
    weir_tfmd_anomalies *a = malloc(sizeof *a);
    if (!a) return oom();
    weir_tfmd_anomalies init = TENSORFLOW__METADATA__V0__ANOMALIES__INIT;
    *a = init;
    a->has_anomaly_name_format = 1;
    a->anomaly_name_format = TENSORFLOW__METADATA__V0__ANOMALIES__ANOMALY_NAME_FORMAT__SERIALIZED_PATH;
    weir_status rc = WEIR_OK;
    reasons rs = {0};
    /* the baseline: a copy of the schema, as TFDV reports it */
    size_t plen = tensorflow__metadata__v0__schema__get_packed_size(schema);
    uint8_t *pb = malloc(plen ? plen : 1);
    if (!pb) {
        rc = oom();
        goto out;
    }
    tensorflow__metadata__v0__schema__pack(schema, pb);
    a->baseline = tensorflow__metadata__v0__schema__unpack(NULL, plen, pb);
    free(pb);
    if (!a->baseline) {
        rc = oom();
        goto out;
    }
    a->baseline_schema_case = TENSORFLOW__METADATA__V0__ANOMALIES__BASELINE_SCHEMA_BASELINE;
    if (ds->num_examples == 0) {
        a->has_data_missing = 1;
        a->data_missing = 1;
    }
    for (size_t i = 0; i < schema->n_feature && !rc; i++) {
        const feature_t *f = schema->feature[i];
        if (!f->name || deprecated(f)) continue;
        const weir_tfmd_feature_stats *fs = weir_tfmd_find_feature(ds, f->name);
        if (!fs) {
            if (required(f) && ds->num_examples > 0)
                rc = add_reason(&rs, T(SCHEMA_MISSING_COLUMN), "Column dropped",
                                "Column is completely missing");
            if (!rc) rc = emit(a, f->name, &rs);
            continue;
        }
        if (!types_match(fs, f)) {
            rc = add_reason(&rs, T(UNEXPECTED_DATA_TYPE), "Unexpected data type",
                            "Expected data of type: %s but got %s",
                            schema_type_name(f->has_type ? (int)f->type : 0),
                            stats_type_name(fs->type));
            if (!rc) rc = check_counts(f, fs, ds->num_examples, &rs);
            if (!rc) rc = emit(a, f->name, &rs);
            continue;
        }
        rc = check_counts(f, fs, ds->num_examples, &rs);
        if (!rc) rc = check_domains(schema, f, fs, &rs);
        if (!rc && previous)
            rc = check_compare(f->drift_comparator, "current", "previous", fs,
                               weir_tfmd_find_feature(previous, f->name), &rs);
        if (!rc && serving)
            rc = check_compare(f->skew_comparator, "training", "serving", fs,
                               weir_tfmd_find_feature(serving, f->name), &rs);
        if (!rc) rc = emit(a, f->name, &rs);
    }
    for (size_t i = 0; i < ds->n_features && !rc; i++) {
        const char *name = weir_tfmd_feature_name(ds->features[i]);
        int known = 0;
        for (size_t k = 0; k < schema->n_feature && !known; k++)
            known = schema->feature[k]->name && strcmp(schema->feature[k]->name, name) == 0;
        if (known) continue;
        rc = add_reason(&rs, T(SCHEMA_NEW_COLUMN), "New column",
                        "New column (column in data but not in schema)");
        if (!rc) rc = emit(a, name, &rs);
    }
out:
    reasons_free(&rs);
    if (rc) {
        protobuf_c_message_free_unpacked(&a->base, NULL);
        return rc;
    }
    *out = a;
    return WEIR_OK;
}

weir_status weir_anomalies_load(const char *uri, weir_tfmd_anomalies **out) {
    weir_buf b;
    weir_buf_init(&b, (size_t)256 << 20);
    weir_status rc = weir_io_read_all(uri, &b);
    if (rc) {
        weir_buf_free(&b);
        return rc;
    }
    weir_tfmd_anomalies *a = tensorflow__metadata__v0__anomalies__unpack(NULL, b.len, b.data);
    weir_buf_free(&b);
    if (!a) return weir_errorf(WEIR_ECORRUPT, "%s is not a serialized Anomalies", uri);
    *out = a;
    return WEIR_OK;
}
