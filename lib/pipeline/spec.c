/*
 * spec.c — the pipeline file: parse, substitute parameters, validate, and
 * plan the DAG (upstream/downstream lists, topological order).
 *
 * For: turning YAML/JSON into a weir_pipeline, reporting every problem of a
 * file at once with file:line:column, the offending name and what to do
 * (docs/pipeline-spec.md is the user-facing description of all of it).
 * Not for: running nodes, resolving artifacts, metadata (the engine).
 *
 * Positions: the YAML loader records one weir_doc_pos per node it creates,
 * in creation order, including mapping keys (whose nodes are freed once they
 * become member names, so their addresses may be reused by later nodes). A
 * node's position is therefore the *last* entry with its address, and the
 * key of an object member is the entry just before its value's: the loader
 * always emits the key scalar immediately before the value.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "weir/pipeline.h"
#include "weir/transform.h"

#define DEFAULT_MAX_BYTES (4u << 20)
#define DEFAULT_MAX_DEPTH 64
#define DEFAULT_MAX_NODES 200000
#define DEFAULT_MAX_DIAGS 100
#define MAX_NAME 63
#define MAX_RETRIES 100
#define MAX_GPU 64
#define MAX_TIMEOUT_S (30ull * 24 * 3600)
#define MAX_SUBST_BYTES (1u << 20)
#define MAX_INT_EXACT 9007199254740992.0 /* 2^53 */

static const char *const top_keys[] = {"pipeline"};
static const char *const pipeline_keys[] = {"name", "root", "description", "parameters",
                                            "components"};
static const char *const component_keys[] = {"name", "type", "description", "inputs",
                                             "params", "resources", "retries", "timeout",
                                             "cache", "command", "outputs", "input_types",
                                             "image"};
static const char *const resource_keys[] = {"gpu", "cpu", "memory"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ context */

struct posent {
    const cJSON *node;
    size_t idx;
};

/* What the validator remembers about one component besides its node. */
struct nsrc {
    const cJSON *obj;          /* the component mapping (NULL if not a mapping) */
    const cJSON *name_node;
    const cJSON *inputs_node;
    const cJSON *input_types;  /* Executable: slot -> type (NULL if absent) */
    const cJSON **input_src;   /* per node->inputs[i]: its value node */
    int named;                 /* has a usable name for lookups */
    char label[80];            /* "component 'trainer'" or "component #3" */
};

struct named {
    const char *name;
    size_t idx;
};

struct ctx {
    const char *file;
    const weir_doc_pos *pos;
    size_t npos;
    struct posent *sorted;
    size_t nsorted;
    weir_diags *d;
    size_t start;              /* first diag of this call */
    size_t errors;
    size_t max_diags;
    int full;
    int oom;
    weir_arena_t *arena;
    const weir_pipeline_options *opt;
    cJSON *params;             /* declared parameter -> value (NULL value = none) */
    const cJSON *params_node;  /* `parameters` mapping, for positions */
    const cJSON *pipeline_node;
    weir_pipeline *p;
    struct nsrc *src;
    struct named *by_name;     /* named nodes sorted by name, first of each name */
    size_t nby_name;
};

/* ---------------------------------------------------------- positions */

static int posent_cmp(const void *a, const void *b) {
    const struct posent *x = a, *y = b;
    uintptr_t px = (uintptr_t)x->node, py = (uintptr_t)y->node;
    if (px != py) return px < py ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int pos_index(const struct ctx *c, const cJSON *n, size_t *idx) {
    if (!n || !c->sorted) return 0;
    size_t lo = 0, hi = c->nsorted;
    uintptr_t key = (uintptr_t)n;
    while (lo < hi) { /* first entry with node > n */
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)c->sorted[mid].node <= key) lo = mid + 1;
        else hi = mid;
    }
    if (lo == 0 || c->sorted[lo - 1].node != n) return 0;
    *idx = c->sorted[lo - 1].idx;
    return 1;
}

/* Position of node n; with at_key, of the key naming n in its mapping. */
static void where(const struct ctx *c, const cJSON *n, int at_key, uint32_t *line,
                  uint32_t *col) {
    size_t i;
    *line = 0;
    *col = 0;
    if (!pos_index(c, n, &i)) return;
    if (at_key && n->string && i > 0 && c->pos[i - 1].line <= c->pos[i].line) i--;
    *line = c->pos[i].line;
    *col = c->pos[i].column;
}

/* -------------------------------------------------------- diagnostics */

void weir_diags_free(weir_diags *d) {
    if (!d) return;
    for (size_t i = 0; i < d->count; i++) {
        free(d->items[i].file);
        free(d->items[i].name);
        free(d->items[i].message);
    }
    free(d->items);
    memset(d, 0, sizeof *d);
}

size_t weir_diags_find(const weir_diags *d, const char *code, const char *name) {
    for (size_t i = 0; d && i < d->count; i++) {
        if (strcmp(d->items[i].code, code) != 0) continue;
        if (name && (!d->items[i].name || strcmp(d->items[i].name, name) != 0)) continue;
        return i;
    }
    return d ? d->count : 0;
}

static void diag_add(struct ctx *c, weir_diag_severity sev, const char *code, const char *name,
                     uint32_t line, uint32_t col, const char *body) {
    if (sev == WEIR_DIAG_ERROR) c->errors++;
    if (c->full) return;
    weir_diags *d = c->d;
    if (d->count - c->start + 1 >= c->max_diags) {
        c->full = 1;
        body = "too many problems; fix these and run again";
        code = "too-many";
        name = NULL;
        sev = WEIR_DIAG_ERROR;
        line = col = 0;
    }
    if (d->count == d->cap) {
        size_t nc = d->cap ? d->cap * 2 : 16;
        weir_diag *ni = realloc(d->items, nc * sizeof *ni);
        if (!ni) { c->oom = 1; return; }
        d->items = ni;
        d->cap = nc;
    }
    weir_buf b;
    weir_buf_init(&b, 8192);
    weir_status rc;
    if (line) rc = weir_buf_printf(&b, "%s:%u:%u: %s", c->file, line, col, body);
    else rc = weir_buf_printf(&b, "%s: %s", c->file, body);
    if (rc == WEIR_ELIMIT) rc = weir_buf_printf(&b, "%s:%u: (message too long)", c->file, line);
    weir_diag *g = &d->items[d->count];
    memset(g, 0, sizeof *g);
    g->severity = sev;
    g->code = code;
    g->line = line;
    g->column = col;
    g->file = strdup(c->file);
    g->name = name ? strdup(name) : NULL;
    g->message = rc ? NULL : (char *)weir_buf_detach(&b, NULL);
    weir_buf_free(&b);
    if (!g->file || (name && !g->name) || !g->message) {
        free(g->file);
        free(g->name);
        free(g->message);
        c->oom = 1;
        return;
    }
    d->count++;
    if (sev == WEIR_DIAG_ERROR) d->nerrors++;
}

__attribute__((format(printf, 7, 8)))
static void report(struct ctx *c, weir_diag_severity sev, const cJSON *at, int at_key,
                   const char *code, const char *name, const char *fmt, ...) {
    if (c->full) {
        if (sev == WEIR_DIAG_ERROR) c->errors++;
        return;
    }
    char body[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    uint32_t line, col;
    where(c, at, at_key, &line, &col);
    diag_add(c, sev, code, name, line, col, body);
}

#define ERR(c, at, at_key, code, name, ...) report(c, WEIR_DIAG_ERROR, at, at_key, code, name, __VA_ARGS__)
#define WARN(c, at, at_key, code, name, ...) report(c, WEIR_DIAG_WARNING, at, at_key, code, name, __VA_ARGS__)

/* ------------------------------------------------------------ helpers */

static char *astrdup(struct ctx *c, const char *s) {
    if (!s) return NULL;
    char *r = weir_arena_strndup(c->arena, s, strlen(s));
    if (!r) c->oom = 1;
    return r;
}

static void *acalloc(struct ctx *c, size_t n, size_t size) {
    if (n == 0) return NULL;
    void *r = weir_arena_calloc(c->arena, n, size);
    if (!r) c->oom = 1;
    return r;
}

/* A short description of a value for messages: "string \"abc\"", "-1". */
static void describe(const cJSON *v, char *buf, size_t n) {
    if (!v) snprintf(buf, n, "nothing");
    else if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        if (strlen(s) > 40) snprintf(buf, n, "string \"%.37s...\"", s);
        else snprintf(buf, n, "string \"%s\"", s);
    } else if (cJSON_IsNumber(v)) {
        char num[32];
        weir_json_number_canonical(v->valuedouble, num);
        snprintf(buf, n, "%s", num);
    } else if (cJSON_IsBool(v)) snprintf(buf, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
    else if (cJSON_IsNull(v)) snprintf(buf, n, "null (empty)");
    else if (cJSON_IsArray(v)) snprintf(buf, n, "a list");
    else if (cJSON_IsObject(v)) snprintf(buf, n, "a mapping");
    else snprintf(buf, n, "an invalid value");
}

static int is_whole(double x) {
    return isfinite(x) && floor(x) == x && fabs(x) <= MAX_INT_EXACT;
}

static const char *type_class(const cJSON *v) {
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsArray(v)) return "a list";
    if (cJSON_IsObject(v)) return "a mapping";
    return "null";
}

/* Lists `names` joined by ", " into buf (truncated with "..."). */
static void join_names(const char *const *names, size_t n, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= cap - used) {
            if (cap > 4) strcpy(buf + cap - 4, "...");
            return;
        }
        used += (size_t)w;
    }
}

/* Checks an object's keys against `allowed`; reports unknown and
 * (JSON-only) duplicate keys. */
static void check_keys(struct ctx *c, const cJSON *obj, const char *const *allowed, size_t n,
                       const char *where_label) {
    for (const cJSON *m = obj ? obj->child : NULL; m; m = m->next) {
        int ok = 0;
        for (size_t i = 0; i < n; i++)
            if (strcmp(m->string, allowed[i]) == 0) ok = 1;
        for (const cJSON *e = obj->child; e != m; e = e->next)
            if (strcmp(e->string, m->string) == 0) {
                ERR(c, m, 1, "duplicate-key", m->string, "key '%s' appears twice in %s; keep one",
                    m->string, where_label);
                ok = 1;
                break;
            }
        if (ok) continue;
        if (c->full) { /* still counted, but no more work on messages */
            c->errors++;
            continue;
        }
        const char *near = weir_suggest(m->string, allowed, n);
        if (near) {
            ERR(c, m, 1, "unknown-key", m->string, "unknown key '%s' in %s; did you mean '%s'?",
                m->string, where_label, near);
        } else {
            char list[256];
            join_names(allowed, n, list, sizeof list);
            ERR(c, m, 1, "unknown-key", m->string, "unknown key '%s' in %s; valid keys are: %s",
                m->string, where_label, list);
        }
    }
}

/* Node and pipeline names: they become pod names and label values. */
static int name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > MAX_NAME) return 0;
    if (!(s[0] >= 'a' && s[0] <= 'z')) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
            return 0;
    }
    char last = s[n - 1];
    return (last >= 'a' && last <= 'z') || (last >= '0' && last <= '9');
}

/* A valid name close to s: lowercased, other characters to '_'. */
static void name_fix(const char *s, char out[MAX_NAME + 1]) {
    size_t j = 0;
    for (size_t i = 0; s[i] && j < MAX_NAME; i++) {
        char ch = (char)tolower((unsigned char)s[i]);
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
            ch = '_';
        if (j == 0 && !(ch >= 'a' && ch <= 'z')) continue;
        out[j++] = ch;
    }
    while (j > 0 && (out[j - 1] == '_' || out[j - 1] == '-')) j--;
    out[j] = '\0';
    if (j == 0) strcpy(out, "node");
}

static void check_name(struct ctx *c, const cJSON *at, const char *what, const char *s) {
    if (name_ok(s)) return;
    char fix[MAX_NAME + 1];
    name_fix(s, fix);
    ERR(c, at, 0, "bad-name", s,
        "%s name '%.80s' is not allowed: names become Kubernetes pod names, so use lowercase "
        "letters, digits, '-' and '_' (start with a letter, end with a letter or digit, at "
        "most %d characters); e.g. '%s'",
        what, s, MAX_NAME, fix);
}

static int ident_ok(const char *s) {
    if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
    size_t n = 0;
    for (; s[n]; n++)
        if (!(isalnum((unsigned char)s[n]) || s[n] == '_')) return 0;
    return n <= 128;
}

static int param_name_ok(const char *s) {
    if (!s || !(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
    size_t n = 0;
    for (; s[n]; n++)
        if (!(isalnum((unsigned char)s[n]) || s[n] == '_' || s[n] == '-')) return 0;
    return n <= 128;
}

void weir_pipeline_pod_name(const char *node_name, char out[64]) {
    size_t j = 0;
    for (; node_name && node_name[j] && j < 63; j++) out[j] = node_name[j] == '_' ? '-' : node_name[j];
    out[j] = '\0';
}

/* ----------------------------------------------------------- parameters */

/* Canonical text of a scalar for embedding in a longer string; 0 if it
 * cannot be embedded. */
static int scalar_text(const cJSON *v, weir_buf *b) {
    if (cJSON_IsString(v)) return weir_buf_append_str(b, v->valuestring) == WEIR_OK;
    if (cJSON_IsNumber(v)) {
        char num[32];
        weir_json_number_canonical(v->valuedouble, num);
        return weir_buf_append_str(b, num) == WEIR_OK;
    }
    if (cJSON_IsBool(v)) return weir_buf_append_str(b, cJSON_IsTrue(v) ? "true" : "false") == WEIR_OK;
    return 0;
}

/*
 * Substitutes {{param.NAME}} references in `s` (a string found at node `at`,
 * or the root override when at is the pipeline). Returns a new node: a copy
 * of the parameter's value when `s` is exactly one reference, else a string.
 * On a problem it reports, sets *bad and returns a copy of s.
 */
static cJSON *subst_string(struct ctx *c, const cJSON *at, const char *what, const char *s,
                           int *bad) {
    weir_buf b;
    weir_buf_init(&b, MAX_SUBST_BYTES);
    const char *p = s;
    cJSON *res = NULL;
    for (;;) {
        const char *q = strstr(p, "{{");
        if (!q) {
            if (weir_buf_append_str(&b, p)) goto too_long;
            break;
        }
        if (weir_buf_append(&b, p, (size_t)(q - p))) goto too_long;
        const char *r = q + 2;
        while (*r == ' ') r++;
        if (strncmp(r, "param.", 6) != 0) { /* not ours: keep the braces */
            if (weir_buf_append(&b, "{{", 2)) goto too_long;
            p = q + 2;
            continue;
        }
        r += 6;
        const char *name = r;
        while (isalnum((unsigned char)*r) || *r == '_' || *r == '-') r++;
        size_t nlen = (size_t)(r - name);
        while (*r == ' ') r++;
        if (nlen == 0 || strncmp(r, "}}", 2) != 0) {
            ERR(c, at, 0, "bad-parameter-ref", s,
                "%s: malformed parameter reference in \"%.60s\"; write {{param.NAME}} with a "
                "declared parameter NAME", what, s);
            goto bad_out;
        }
        char pname[129];
        if (nlen >= sizeof pname) nlen = sizeof pname - 1;
        memcpy(pname, name, nlen);
        pname[nlen] = '\0';
        const cJSON *v = c->params ? cJSON_GetObjectItemCaseSensitive(c->params, pname) : NULL;
        if (!v) {
            const char *names[64];
            size_t nn = 0;
            for (const cJSON *m = c->params ? c->params->child : NULL; m && nn < 64; m = m->next)
                names[nn++] = m->string;
            const char *near = weir_suggest(pname, names, nn);
            if (near)
                ERR(c, at, 0, "unknown-parameter", pname,
                    "%s refers to parameter '%s', which the pipeline does not declare; did you "
                    "mean '%s'?", what, pname, near);
            else
                ERR(c, at, 0, "unknown-parameter", pname,
                    "%s refers to parameter '%s', which the pipeline does not declare; add it "
                    "under pipeline.parameters with a default value", what, pname);
            goto bad_out;
        }
        if (cJSON_IsNull(v)) {
            ERR(c, at, 0, "parameter-no-value", pname,
                "%s uses parameter '%s', which has no default and was not given; pass "
                "--param %s=VALUE or give it a default under pipeline.parameters",
                what, pname, pname);
            goto bad_out;
        }
        r += 2;
        if (q == s && *r == '\0') { /* the whole string: keep the value's type */
            res = cJSON_Duplicate(v, 1);
            if (!res) c->oom = 1;
            weir_buf_free(&b);
            return res;
        }
        if (!scalar_text(v, &b)) {
            if (b.len >= b.max) goto too_long;
            ERR(c, at, 0, "bad-parameter-ref", pname,
                "%s embeds parameter '%s' in a longer string, but its value is %s; only "
                "strings, numbers and booleans can be embedded (use the reference alone as "
                "the whole value to pass a list or mapping)", what, pname, type_class(v));
            goto bad_out;
        }
        p = r;
    }
    res = cJSON_CreateString(b.data ? (const char *)b.data : "");
    if (!res) c->oom = 1;
    weir_buf_free(&b);
    return res;
too_long:
    ERR(c, at, 0, "bad-parameter-ref", what, "%s: the value after substituting parameters is "
        "longer than %u bytes", what, MAX_SUBST_BYTES);
bad_out:
    *bad = 1;
    weir_buf_free(&b);
    res = cJSON_CreateString(s);
    if (!res) c->oom = 1;
    return res;
}

/* Deep copy of v with parameters substituted in every string value. */
static cJSON *subst_tree(struct ctx *c, const cJSON *v, const char *what, int *bad) {
    if (c->oom) return NULL;
    if (cJSON_IsString(v)) return subst_string(c, v, what, v->valuestring, bad);
    if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        cJSON *r = cJSON_IsArray(v) ? cJSON_CreateArray() : cJSON_CreateObject();
        if (!r) { c->oom = 1; return NULL; }
        for (const cJSON *m = v->child; m; m = m->next) {
            cJSON *k = subst_tree(c, m, what, bad);
            if (!k) { cJSON_Delete(r); return NULL; }
            if (cJSON_IsArray(v)) cJSON_AddItemToArray(r, k);
            else cJSON_AddItemToObject(r, m->string, k);
        }
        return r;
    }
    cJSON *r = cJSON_Duplicate(v, 0);
    if (!r) c->oom = 1;
    return r;
}

static const cJSON *find_nonfinite(const cJSON *v) {
    if (cJSON_IsNumber(v) && !isfinite(v->valuedouble)) return v;
    for (const cJSON *m = v->child; m; m = m->next) {
        const cJSON *r = find_nonfinite(m);
        if (r) return r;
    }
    return NULL;
}

/* Reports NaN/infinity anywhere under v (they have no JSON form). */
static void check_finite(struct ctx *c, const cJSON *v, const cJSON *at, const char *what) {
    const cJSON *bad = v ? find_nonfinite(v) : NULL;
    if (bad)
        ERR(c, at, 0, "bad-number", what, "%s contains %s, which is not a finite number; "
            "write a number or quote it as a string", what,
            isnan(bad->valuedouble) ? ".nan" : "an infinity");
}

/* Reads an override's text the way the file would have read it. */
static cJSON *override_value(struct ctx *c, const char *text, const cJSON *dflt, int *bad) {
    if (cJSON_IsString(dflt) || !*text) return cJSON_CreateString(text);
    cJSON *v = NULL;
    weir_doc_limits lim = {64 * 1024, 32, 10000};
    if (text[0] == '[' || text[0] == '{') {
        if (weir_json_parse("--param", text, strlen(text), &lim, &v) != WEIR_OK) {
            *bad = 1;
            return NULL;
        }
        return v;
    }
    if (weir_yaml_parse("--param", text, strlen(text), &lim, &v, NULL, NULL) != WEIR_OK ||
        cJSON_IsArray(v) || cJSON_IsObject(v) || cJSON_IsNull(v)) {
        cJSON_Delete(v);
        return cJSON_CreateString(text);
    }
    return v;
}

static int same_class(const cJSON *a, const cJSON *b) {
    return strcmp(type_class(a), type_class(b)) == 0;
}

static void apply_override(struct ctx *c, const cJSON *at, const char *shown, const char *name,
                           cJSON *value) {
    cJSON *cur = cJSON_GetObjectItemCaseSensitive(c->params, name);
    if (!cur) {
        const char *names[64];
        size_t nn = 0;
        for (const cJSON *m = c->params->child; m && nn < 64; m = m->next) names[nn++] = m->string;
        const char *near = weir_suggest(name, names, nn);
        if (near)
            ERR(c, at, 1, "unknown-parameter", name, "%s: the pipeline declares no parameter "
                "'%s'; did you mean '%s'?", shown, name, near);
        else
            ERR(c, at, 1, "unknown-parameter", name, "%s: the pipeline declares no parameter "
                "'%s'; declare it under pipeline.parameters first", shown, name);
        cJSON_Delete(value);
        return;
    }
    if (!cJSON_IsNull(cur) && !same_class(cur, value)) {
        char d[96];
        describe(cur, d, sizeof d);
        ERR(c, at, 1, "override-type", name, "%s: parameter '%s' is %s (default %s); give %s",
            shown, name, type_class(cur), d, type_class(cur));
        cJSON_Delete(value);
        return;
    }
    check_finite(c, value, at, shown);
    cJSON_ReplaceItemInObjectCaseSensitive(c->params, name, value);
}

static void parse_parameters(struct ctx *c, const cJSON *pl) {
    c->params = cJSON_CreateObject();
    if (!c->params) { c->oom = 1; return; }
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(pl, "parameters");
    c->params_node = ps;
    if (ps && !cJSON_IsNull(ps) && !cJSON_IsObject(ps)) {
        ERR(c, ps, 1, "wrong-type", "parameters", "pipeline.parameters must be a mapping of "
            "parameter name to default value, e.g. {train_steps: 1000}");
        ps = NULL;
    }
    for (const cJSON *m = ps ? ps->child : NULL; m; m = m->next) {
        if (!param_name_ok(m->string)) {
            ERR(c, m, 1, "bad-parameter-name", m->string, "parameter name '%.80s' is not "
                "allowed; use letters, digits, '_' and '-', starting with a letter", m->string);
            continue;
        }
        if (cJSON_GetObjectItemCaseSensitive(c->params, m->string)) continue; /* dup: check_keys */
        check_finite(c, m, m, m->string);
        cJSON *v = cJSON_Duplicate(m, 1);
        if (!v) { c->oom = 1; return; }
        cJSON_AddItemToObject(c->params, m->string, v);
    }
    const cJSON *at = ps ? ps : pl;
    const weir_pipeline_options *o = c->opt;
    for (size_t i = 0; o && i < o->nparams; i++) {
        const char *kv = o->params[i];
        char shown[160];
        snprintf(shown, sizeof shown, "--param %.140s", kv ? kv : "");
        const char *eq = kv ? strchr(kv, '=') : NULL;
        if (!eq || eq == kv) {
            ERR(c, at, 1, "bad-override", kv ? kv : "", "%s: write NAME=VALUE", shown);
            continue;
        }
        char name[129];
        size_t nlen = (size_t)(eq - kv);
        if (nlen >= sizeof name) nlen = sizeof name - 1;
        memcpy(name, kv, nlen);
        name[nlen] = '\0';
        int bad = 0;
        const cJSON *cur = cJSON_GetObjectItemCaseSensitive(c->params, name);
        cJSON *v = override_value(c, eq + 1, cur, &bad);
        if (bad) {
            ERR(c, at, 1, "bad-override", name, "%s: the value is not valid JSON: %s", shown,
                weir_error_message());
            continue;
        }
        if (!v) { c->oom = 1; return; }
        apply_override(c, at, shown, name, v);
    }
    if (o && o->param_values) {
        if (!cJSON_IsObject(o->param_values)) {
            ERR(c, at, 1, "bad-override", "params", "run parameters must be a mapping of "
                "name to value");
        } else {
            for (const cJSON *m = o->param_values->child; m; m = m->next) {
                char shown[160];
                snprintf(shown, sizeof shown, "run parameter %.140s", m->string);
                cJSON *v = cJSON_Duplicate(m, 1);
                if (!v) { c->oom = 1; return; }
                apply_override(c, at, shown, m->string, v);
            }
        }
    }
}

/* ----------------------------------------------------- value checks */

/* Kubernetes quantity: digits[.digits][suffix]. *scaled = value * 1000 for
 * cpu (millicores) or in bytes for memory. Returns 0 when malformed. */
static int parse_quantity(const char *s, int cpu, uint64_t *scaled) {
    const char *p = s;
    double v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9') { v = v * 10 + (*p - '0'); p++; digits++; }
    if (*p == '.') {
        double f = 0.1;
        p++;
        while (*p >= '0' && *p <= '9') { v += (*p - '0') * f; f /= 10; p++; digits++; }
    }
    if (!digits || digits > 18) return 0;
    static const struct { const char *suf; double mul; } sufs[] = {
        {"", 1}, {"m", 0.001}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"P", 1e15},
        {"E", 1e18}, {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0},
        {"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0},
    };
    for (size_t i = 0; i < N(sufs); i++) {
        if (strcmp(p, sufs[i].suf) != 0) continue;
        double x = v * sufs[i].mul * (cpu ? 1000.0 : 1.0);
        if (!cpu && sufs[i].mul < 1) return 0; /* milli-bytes */
        if (!(x >= 1) || x > 1.8e19) return 0;
        *scaled = (uint64_t)x;
        return 1;
    }
    return 0;
}

static void parse_resources(struct ctx *c, weir_pipeline_node *n, const cJSON *r,
                            const char *label) {
    if (!r || cJSON_IsNull(r)) return;
    if (!cJSON_IsObject(r)) {
        ERR(c, r, 1, "wrong-type", "resources", "resources of %s must be a mapping like {gpu: 1, "
            "cpu: \"4\", memory: 8Gi}", label);
        return;
    }
    char where_label[128];
    snprintf(where_label, sizeof where_label, "resources of %s", label);
    check_keys(c, r, resource_keys, N(resource_keys), where_label);
    char d[96];
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(r, "gpu");
    if (g) {
        if (!cJSON_IsNumber(g) || !is_whole(g->valuedouble) || g->valuedouble < 0 ||
            g->valuedouble > MAX_GPU) {
            describe(g, d, sizeof d);
            ERR(c, g, 0, "bad-resource", "gpu", "resources.gpu of %s must be a whole number of "
                "GPUs from 0 to %d, got %s", label, MAX_GPU, d);
        } else {
            n->resources.gpu = (uint32_t)g->valuedouble;
        }
    }
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(r, "cpu");
    if (cpu) {
        char text[64] = "";
        uint64_t m = 0;
        int ok = 0;
        if (cJSON_IsNumber(cpu) && isfinite(cpu->valuedouble) && cpu->valuedouble > 0 &&
            cpu->valuedouble < 1e6) {
            weir_json_number_canonical(cpu->valuedouble, text);
            ok = parse_quantity(text, 1, &m);
        } else if (cJSON_IsString(cpu) && strlen(cpu->valuestring) < sizeof text) {
            snprintf(text, sizeof text, "%s", cpu->valuestring);
            ok = parse_quantity(text, 1, &m);
        }
        if (!ok) {
            describe(cpu, d, sizeof d);
            ERR(c, cpu, 0, "bad-resource", "cpu", "resources.cpu of %s must be a CPU quantity "
                "such as 4, 0.5 or \"500m\", got %s", label, d);
        } else {
            n->resources.cpu = astrdup(c, text);
            n->resources.cpu_millis = m;
        }
    }
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(r, "memory");
    if (mem) {
        char text[64] = "";
        uint64_t bytes = 0;
        int ok = 0;
        if (cJSON_IsNumber(mem) && is_whole(mem->valuedouble) && mem->valuedouble >= 1) {
            weir_json_number_canonical(mem->valuedouble, text);
            ok = parse_quantity(text, 0, &bytes);
        } else if (cJSON_IsString(mem) && strlen(mem->valuestring) < sizeof text) {
            snprintf(text, sizeof text, "%s", mem->valuestring);
            ok = parse_quantity(text, 0, &bytes);
        }
        if (!ok) {
            describe(mem, d, sizeof d);
            size_t tl = strlen(text);
            if (tl >= 2 && text[tl - 1] == 'B' && strchr("kKMGTPE", text[tl - 2]))
                ERR(c, mem, 0, "bad-resource", "memory", "resources.memory of %s is %s, which "
                    "is not a Kubernetes quantity; write %.*si (binary units) or %.*s "
                    "(decimal units)", label, d, (int)(tl - 1), text, (int)(tl - 1), text);
            else
                ERR(c, mem, 0, "bad-resource", "memory", "resources.memory of %s must be a "
                    "number of bytes or a quantity such as 512Mi or 8Gi, got %s", label, d);
        } else {
            n->resources.memory = astrdup(c, text);
            n->resources.memory_bytes = bytes;
        }
    }
}

/* "90", "90s", "30m", "2h", "1h30m", "1d". */
static int parse_duration(const char *s, uint64_t *out) {
    uint64_t total = 0;
    const char *p = s;
    int parts = 0;
    char last_unit = 0;
    static const char units[] = "dhms";
    while (*p) {
        uint64_t v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            v = v * 10 + (uint64_t)(*p - '0');
            p++;
            if (++digits > 9) return 0;
        }
        if (!digits) return 0;
        uint64_t mul;
        char u = *p;
        switch (u) {
        case 'd': mul = 86400; break;
        case 'h': mul = 3600; break;
        case 'm': mul = 60; break;
        case 's': mul = 1; break;
        case '\0':
            if (parts) return 0; /* "1h30" is ambiguous */
            mul = 1;
            break;
        default: return 0;
        }
        if (u) {
            /* units in decreasing order, each once */
            if (last_unit && strchr(units, u) <= strchr(units, last_unit)) return 0;
            last_unit = u;
            p++;
        }
        total += v * mul;
        parts++;
    }
    if (!parts || total == 0) return 0;
    *out = total;
    return 1;
}

static void check_param_value(struct ctx *c, const weir_param_def *pd, const cJSON *v,
                              const cJSON *at, const char *label, const char *type) {
    char d[96];
    describe(v, d, sizeof d);
    const char *need = NULL;
    switch (pd->kind) {
    case WEIR_PARAM_ANY: return;
    case WEIR_PARAM_STRING:
        if (!cJSON_IsString(v) || !*v->valuestring) need = "a non-empty string";
        break;
    case WEIR_PARAM_BOOL:
        if (!cJSON_IsBool(v)) need = "true or false";
        break;
    case WEIR_PARAM_INT:
        if (!cJSON_IsNumber(v) || !is_whole(v->valuedouble)) need = "a whole number";
        break;
    case WEIR_PARAM_POS_INT:
        if (!cJSON_IsNumber(v) || !is_whole(v->valuedouble) || v->valuedouble < 1)
            need = "a positive whole number";
        break;
    case WEIR_PARAM_NONNEG_INT:
        if (!cJSON_IsNumber(v) || !is_whole(v->valuedouble) || v->valuedouble < 0)
            need = "a whole number >= 0";
        break;
    case WEIR_PARAM_POS_NUMBER:
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble <= 0)
            need = "a number > 0";
        break;
    case WEIR_PARAM_FRACTION:
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble <= 0 ||
            v->valuedouble > 1)
            need = "a number in (0, 1]";
        break;
    case WEIR_PARAM_OBJECT:
        if (!cJSON_IsObject(v)) need = "a mapping";
        break;
    case WEIR_PARAM_LIST:
        if (!cJSON_IsArray(v)) need = "a list";
        break;
    case WEIR_PARAM_STRING_LIST:
        if (!cJSON_IsArray(v)) {
            need = "a list of strings";
            break;
        }
        for (const cJSON *e = v->child; e; e = e->next)
            if (!cJSON_IsString(e) || !*e->valuestring) {
                describe(e, d, sizeof d);
                need = "a list of non-empty strings";
                break;
            }
        break;
    case WEIR_PARAM_SPLITS:
        if (!cJSON_IsObject(v) || !v->child) {
            ERR(c, at, 0, "bad-param", pd->name, "params.%s of %s must be a mapping of split "
                "name to a positive whole number of hash buckets, e.g. {train: 4, eval: 1}; "
                "got %s", pd->name, label, d);
            return;
        }
        for (const cJSON *e = v->child; e; e = e->next) {
            const char *sn = e->string;
            int name_good = *sn != '\0';
            for (const char *q = sn; *q; q++)
                if (!(isalnum((unsigned char)*q) || *q == '_' || *q == '-')) name_good = 0;
            if (!name_good) {
                ERR(c, at, 0, "bad-param", sn, "params.%s of %s: split name '%.60s' may only "
                    "use letters, digits, '_' and '-' (it becomes a directory Split-<name>)",
                    pd->name, label, sn);
                return;
            }
            if (!cJSON_IsNumber(e) || !is_whole(e->valuedouble) || e->valuedouble < 1) {
                describe(e, d, sizeof d);
                ERR(c, at, 0, "bad-param", pd->name, "params.%s of %s: split '%s' must be a "
                    "positive whole number of hash buckets, got %s; e.g. {train: 4, eval: 1}",
                    pd->name, label, sn, d);
                return;
            }
        }
        return;
    }
    if (need)
        ERR(c, at, 0, "bad-param", pd->name, "params.%s of %s (%s) must be %s (%s), got %s",
            pd->name, label, type, need, pd->help, d);
}

/* ------------------------------------------------------------ components */

static const char *req_string(struct ctx *c, const cJSON *obj, const char *key,
                              const char *label, const char *example) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        ERR(c, obj, 0, "missing-field", key, "%s has no '%s'; add e.g. %s: %s", label, key, key,
            example);
        return NULL;
    }
    if (!cJSON_IsString(v) || !*v->valuestring) {
        char d[96];
        describe(v, d, sizeof d);
        ERR(c, v, 0, "wrong-type", key, "'%s' of %s must be a non-empty string, got %s", key,
            label, d);
        return NULL;
    }
    return v->valuestring;
}

struct input_tmp {
    weir_pipeline_input in;
    const cJSON *src;
};

static int input_cmp(const void *a, const void *b) {
    return strcmp(((const struct input_tmp *)a)->in.slot, ((const struct input_tmp *)b)->in.slot);
}

static void parse_inputs(struct ctx *c, weir_pipeline_node *n, struct nsrc *s,
                         const cJSON *inputs) {
    if (!inputs || cJSON_IsNull(inputs)) return;
    if (!cJSON_IsObject(inputs)) {
        ERR(c, inputs, 1, "wrong-type", "inputs", "inputs of %s must be a mapping of slot to "
            "PRODUCER.OUTPUT, e.g. {examples: example_gen.examples}", s->label);
        return;
    }
    s->inputs_node = inputs;
    size_t count = 0;
    for (const cJSON *m = inputs->child; m; m = m->next) count++;
    struct input_tmp *tmp = calloc(count ? count : 1, sizeof *tmp);
    if (!tmp) { c->oom = 1; return; }
    size_t k = 0;
    const weir_component_def *def = n->def;
    for (const cJSON *m = inputs->child; m; m = m->next) {
        const char *slot = m->string;
        int dup = 0;
        for (size_t j = 0; j < k; j++)
            if (strcmp(tmp[j].in.slot, slot) == 0) dup = 1;
        if (dup) {
            ERR(c, m, 1, "duplicate-key", slot, "inputs of %s has slot '%s' twice; keep one",
                s->label, slot);
            continue;
        }
        if (def && def->kind == WEIR_COMPONENT_STANDARD) {
            const weir_slot_def *sd = weir_component_input(def, slot);
            if (!sd) {
                const char *names[16];
                size_t nn = 0;
                for (size_t j = 0; j < def->ninputs && nn < 16; j++) names[nn++] = def->inputs[j].name;
                const char *near = weir_suggest(slot, names, nn);
                char list[256];
                join_names(names, nn, list, sizeof list);
                if (near)
                    ERR(c, m, 1, "unknown-input-slot", slot, "%s (%s) has no input slot '%s'; "
                        "did you mean '%s'? Its inputs: %s", s->label, def->type, slot, near,
                        nn ? list : "none");
                else
                    ERR(c, m, 1, "unknown-input-slot", slot, "%s (%s) has no input slot '%s'; "
                        "its inputs: %s", s->label, def->type, slot, nn ? list : "none");
                continue;
            }
        } else if (def && !ident_ok(slot)) {
            ERR(c, m, 1, "bad-slot-name", slot, "input slot name '%.80s' of %s must be an "
                "identifier (letters, digits, '_')", slot, s->label);
            continue;
        }
        if (!cJSON_IsString(m)) {
            char d[96];
            describe(m, d, sizeof d);
            ERR(c, m, 0, "bad-reference", slot, "input '%s' of %s must be one PRODUCER.OUTPUT "
                "string such as example_gen.examples, got %s", slot, s->label, d);
            continue;
        }
        const char *ref = m->valuestring;
        const char *dot = strchr(ref, '.');
        if (!dot || dot == ref || !dot[1] || strchr(dot + 1, '.')) {
            ERR(c, m, 0, "bad-reference", slot, "input '%s' of %s is \"%.80s\"; write "
                "PRODUCER.OUTPUT, the producing component's name and one of its outputs, "
                "e.g. example_gen.examples", slot, s->label, ref);
            continue;
        }
        struct input_tmp *t = &tmp[k++];
        t->src = m;
        t->in.slot = astrdup(c, slot);
        t->in.producer = weir_arena_strndup(c->arena, ref, (size_t)(dot - ref));
        t->in.output = astrdup(c, dot + 1);
        if (!t->in.producer) c->oom = 1;
        t->in.producer_index = (size_t)-1;
        if (def && def->kind == WEIR_COMPONENT_STANDARD) {
            const weir_slot_def *sd = weir_component_input(def, slot);
            t->in.type = astrdup(c, sd->type);
            t->in.optional = sd->optional;
        }
        if (c->oom) break;
    }
    if (!c->oom && k) {
        qsort(tmp, k, sizeof *tmp, input_cmp);
        n->inputs = acalloc(c, k, sizeof *n->inputs);
        s->input_src = acalloc(c, k, sizeof *s->input_src);
        if (n->inputs && s->input_src) {
            for (size_t j = 0; j < k; j++) {
                n->inputs[j] = tmp[j].in;
                s->input_src[j] = tmp[j].src;
            }
            n->ninputs = k;
        }
    }
    free(tmp);
}

static void parse_exec_outputs(struct ctx *c, weir_pipeline_node *n, struct nsrc *s,
                               const cJSON *outs) {
    if (!cJSON_IsObject(outs)) {
        ERR(c, outs, 1, "wrong-type", "outputs", "outputs of %s must be a mapping of output "
            "name to artifact type, e.g. {model: Model}", s->label);
        return;
    }
    size_t count = 0;
    for (const cJSON *m = outs->child; m; m = m->next) count++;
    n->outputs = acalloc(c, count, sizeof *n->outputs);
    if (count && !n->outputs) return;
    for (const cJSON *m = outs->child; m; m = m->next) {
        if (!ident_ok(m->string)) {
            ERR(c, m, 1, "bad-slot-name", m->string, "output name '%.80s' of %s must be an "
                "identifier (letters, digits, '_')", m->string, s->label);
            continue;
        }
        int dup = 0;
        for (size_t j = 0; j < n->noutputs; j++)
            if (strcmp(n->outputs[j].name, m->string) == 0) dup = 1;
        if (dup) continue;
        if (!cJSON_IsString(m) || !ident_ok(m->valuestring)) {
            char d[96];
            describe(m, d, sizeof d);
            ERR(c, m, 0, "bad-artifact-type", m->string, "output '%s' of %s must name an "
                "artifact type such as Examples or Model, got %s", m->string, s->label, d);
            continue;
        }
        if (!weir_artifact_type_known(m->valuestring)) {
            static const char *const known[] = {
                "Examples", "ExampleStatistics", "ExampleAnomalies", "Schema",
                "TransformGraph", "TransformCache", "HyperParameters", "Model", "ModelRun",
                "ModelEvaluation", "ModelBlessing", "InfraBlessing", "PushedModel",
                "InferenceResult"};
            const char *near = weir_suggest(m->valuestring, known, N(known));
            if (near)
                WARN(c, m, 0, "unknown-artifact-type", m->valuestring, "output '%s' of %s has "
                     "artifact type '%s', which is not a standard type; did you mean '%s'?",
                     m->string, s->label, m->valuestring, near);
        }
        weir_pipeline_output *o = &n->outputs[n->noutputs++];
        o->name = astrdup(c, m->string);
        o->type = astrdup(c, m->valuestring);
    }
}

static void parse_component(struct ctx *c, size_t idx, const cJSON *obj) {
    weir_pipeline_node *n = &c->p->nodes[idx];
    struct nsrc *s = &c->src[idx];
    n->cache = 1;
    snprintf(s->label, sizeof s->label, "component #%zu", idx + 1);
    uint32_t l, col;
    where(c, obj, 0, &l, &col);
    n->line = l;
    n->column = col;
    if (!cJSON_IsObject(obj)) {
        ERR(c, obj, 0, "wrong-type", "components", "component #%zu must be a mapping with at "
            "least name and type", idx + 1);
        return;
    }
    s->obj = obj;
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(obj, "name");
    if (cJSON_IsString(nm) && *nm->valuestring)
        snprintf(s->label, sizeof s->label, "component '%.60s'", nm->valuestring);
    check_keys(c, obj, component_keys, N(component_keys), s->label);

    const char *name = req_string(c, obj, "name", s->label, "trainer");
    if (name) {
        s->name_node = nm;
        s->named = 1;
        n->name = astrdup(c, name);
        check_name(c, nm, "component", name);
    }
    const char *type = req_string(c, obj, "type", s->label, "StatisticsGen");
    if (type) {
        n->type = astrdup(c, type);
        const weir_component_def *def = NULL;
        if (weir_registry_find(type, &def) != WEIR_OK) {
            const cJSON *tn = cJSON_GetObjectItemCaseSensitive(obj, "type");
            const char *names[32];
            size_t nn = 0;
            for (size_t i = 0; i < weir_registry_count() && nn < 32; i++)
                names[nn++] = weir_registry_at(i)->type;
            const char *near = weir_suggest(type, names, nn);
            if (near)
                ERR(c, tn, 0, "unknown-type", type, "%s has unknown type '%.80s'; did you mean "
                    "'%s'?", s->label, type, near);
            else
                ERR(c, tn, 0, "unknown-type", type, "%s has unknown type '%.80s'; use a "
                    "standard component (CsvExampleGen, StatisticsGen, SchemaGen, Trainer, "
                    "...) or Executable for your own program", s->label, type);
        } else {
            n->def = def;
            n->version = def->version;
        }
    }
    const weir_component_def *def = n->def;
    int is_exec = def && def->kind == WEIR_COMPONENT_EXECUTABLE;

    /* outputs */
    const cJSON *outs = cJSON_GetObjectItemCaseSensitive(obj, "outputs");
    if (def && !is_exec) {
        if (outs)
            ERR(c, outs, 1, "not-allowed", "outputs", "%s: 'outputs' is only for type "
                "Executable; %s's outputs are fixed (%s%s)", s->label, def->type,
                def->noutputs ? def->outputs[0].name : "none", def->noutputs > 1 ? ", ..." : "");
        n->outputs = acalloc(c, def->noutputs, sizeof *n->outputs);
        for (size_t i = 0; n->outputs && i < def->noutputs; i++) {
            n->outputs[i].name = astrdup(c, def->outputs[i].name);
            n->outputs[i].type = astrdup(c, def->outputs[i].type);
            n->outputs[i].optional = def->outputs[i].optional;
        }
        if (n->outputs) n->noutputs = def->noutputs;
    } else if (is_exec && outs && !cJSON_IsNull(outs)) {
        parse_exec_outputs(c, n, s, outs);
    }

    /* inputs and declared input types */
    parse_inputs(c, n, s, cJSON_GetObjectItemCaseSensitive(obj, "inputs"));
    const cJSON *itypes = cJSON_GetObjectItemCaseSensitive(obj, "input_types");
    if (itypes && def && !is_exec) {
        ERR(c, itypes, 1, "not-allowed", "input_types", "%s: 'input_types' is only for type "
            "Executable; %s's input types are fixed", s->label, def->type);
    } else if (itypes && is_exec && !cJSON_IsNull(itypes)) {
        if (!cJSON_IsObject(itypes)) {
            ERR(c, itypes, 1, "wrong-type", "input_types", "input_types of %s must be a mapping "
                "of input slot to artifact type, e.g. {examples: Examples}", s->label);
        } else {
            s->input_types = itypes;
            const cJSON *ins = cJSON_GetObjectItemCaseSensitive(obj, "inputs");
            for (const cJSON *m = itypes->child; m; m = m->next) {
                if (!cJSON_IsString(m) || !ident_ok(m->valuestring)) {
                    char d[96];
                    describe(m, d, sizeof d);
                    ERR(c, m, 0, "bad-artifact-type", m->string, "input_types.%s of %s must "
                        "name an artifact type such as Examples, got %s", m->string, s->label, d);
                } else if (!cJSON_IsObject(ins) ||
                           !cJSON_GetObjectItemCaseSensitive(ins, m->string)) {
                    ERR(c, m, 1, "unknown-input-slot", m->string, "input_types names slot '%s', "
                        "but %s has no such input; list it under inputs", m->string, s->label);
                }
            }
        }
    }

    /* command */
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(obj, "command");
    if (cmd && def && !is_exec) {
        ERR(c, cmd, 1, "not-allowed", "command", "%s: 'command' is only for type Executable; "
            "%s runs weir's program %s", s->label, def->type, def->binary);
    } else if (is_exec) {
        if (!cmd) {
            ERR(c, obj, 0, "missing-field", "command", "%s is an Executable but has no "
                "'command'; add the program and its arguments, e.g. command: [python3, "
                "train.py]", s->label);
        } else if (!cJSON_IsArray(cmd) || !cmd->child) {
            ERR(c, cmd, 0, "wrong-type", "command", "command of %s must be a non-empty list of "
                "strings, e.g. [python3, train.py]", s->label);
        } else {
            size_t count = 0;
            int ok = 1;
            for (const cJSON *e = cmd->child; e; e = e->next, count++)
                if (!cJSON_IsString(e)) {
                    char d[96];
                    describe(e, d, sizeof d);
                    ERR(c, e, 0, "wrong-type", "command", "command of %s must be a list of "
                        "strings; element %zu is %s (quote it)", s->label, count + 1, d);
                    ok = 0;
                }
            if (ok) {
                n->command = acalloc(c, count, sizeof *n->command);
                size_t i = 0;
                for (const cJSON *e = cmd->child; n->command && e; e = e->next, i++) {
                    int bad = 0;
                    char what[120];
                    snprintf(what, sizeof what, "command of %s", s->label);
                    cJSON *v = subst_string(c, e, what, e->valuestring, &bad);
                    if (!v) return;
                    if (!cJSON_IsString(v)) {
                        char buf[64];
                        if (cJSON_IsNumber(v)) weir_json_number_canonical(v->valuedouble, buf);
                        else if (cJSON_IsBool(v)) strcpy(buf, cJSON_IsTrue(v) ? "true" : "false");
                        else {
                            ERR(c, e, 0, "bad-parameter-ref", "command", "command of %s: a "
                                "parameter used as a command argument must be a string, number "
                                "or boolean, not %s", s->label, type_class(v));
                            buf[0] = '\0';
                        }
                        n->command[i] = astrdup(c, buf);
                    } else {
                        n->command[i] = astrdup(c, v->valuestring);
                    }
                    cJSON_Delete(v);
                }
                if (n->command) n->ncommand = count;
            }
        }
    }

    /* image: where the operator finds the program; `weir run` ignores it */
    const cJSON *img = cJSON_GetObjectItemCaseSensitive(obj, "image");
    if (img && !cJSON_IsNull(img)) {
        if (!cJSON_IsString(img) || !img->valuestring[0] || strlen(img->valuestring) > 512 ||
            strpbrk(img->valuestring, " \t\r\n")) {
            ERR(c, img, 1, "wrong-type", "image", "image of %s must be a container image "
                "reference like registry.example/team/trainer:1.2 (no spaces, at most 512 "
                "characters)", s->label);
        } else {
            n->image = astrdup(c, img->valuestring);
        }
    }

    /* params */
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(obj, "params");
    if (params && !cJSON_IsNull(params) && !cJSON_IsObject(params)) {
        ERR(c, params, 1, "wrong-type", "params", "params of %s must be a mapping of parameter "
            "name to value", s->label);
        params = NULL;
    }
    int bad = 0;
    n->params = cJSON_CreateObject();
    if (!n->params) { c->oom = 1; return; }
    for (const cJSON *m = params && cJSON_IsObject(params) ? params->child : NULL; m; m = m->next) {
        char what[160];
        snprintf(what, sizeof what, "params.%.80s of %.60s", m->string, s->label);
        cJSON *v = subst_tree(c, m, what, &bad);
        if (!v) return;
        cJSON_AddItemToObject(n->params, m->string, v);
        check_finite(c, v, m, what);
        for (const cJSON *e = params->child; e != m; e = e->next)
            if (strcmp(e->string, m->string) == 0)
                ERR(c, m, 1, "duplicate-key", m->string, "params of %s has key '%s' twice; keep "
                    "one", s->label, m->string);
    }
    if (def && !is_exec && !bad) {
        for (size_t i = 0; i < def->nparams; i++) {
            const weir_param_def *pd = &def->params[i];
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(n->params, pd->name);
            const cJSON *at = params ? cJSON_GetObjectItemCaseSensitive(params, pd->name) : NULL;
            if (!v) {
                if (pd->required)
                    ERR(c, params ? params : obj, params ? 1 : 0, "missing-param", pd->name,
                        "%s (%s) needs params.%s: %s", s->label, def->type, pd->name, pd->help);
                continue;
            }
            check_param_value(c, pd, v, at ? at : obj, s->label, def->type);
        }
        for (const cJSON *m = params ? params->child : NULL; m && !c->full; m = m->next) {
            if (weir_component_param(def, m->string)) continue;
            const char *names[16];
            size_t nn = 0;
            for (size_t i = 0; i < def->nparams && nn < 16; i++) names[nn++] = def->params[i].name;
            const char *near = weir_suggest(m->string, names, nn);
            if (near)
                WARN(c, m, 1, "unknown-param", m->string, "%s: %s has no parameter '%s'; did "
                     "you mean '%s'? (passed to the component unchecked)", s->label, def->type,
                     m->string, near);
            else
                WARN(c, m, 1, "unknown-param", m->string, "%s: '%s' is not a parameter weir "
                     "knows for %s; it is passed to the component unchecked", s->label,
                     m->string, def->type);
        }
    }

    /* resources, retries, timeout, cache */
    parse_resources(c, n, cJSON_GetObjectItemCaseSensitive(obj, "resources"), s->label);
    const cJSON *rt = cJSON_GetObjectItemCaseSensitive(obj, "retries");
    if (rt) {
        if (!cJSON_IsNumber(rt) || !is_whole(rt->valuedouble) || rt->valuedouble < 0 ||
            rt->valuedouble > MAX_RETRIES) {
            char d[96];
            describe(rt, d, sizeof d);
            ERR(c, rt, 0, "bad-retries", "retries", "retries of %s must be a whole number from "
                "0 to %d (extra attempts after a failed one), got %s", s->label, MAX_RETRIES, d);
        } else {
            n->retries = (uint32_t)rt->valuedouble;
        }
    }
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(obj, "timeout");
    if (to && !cJSON_IsNull(to)) {
        uint64_t secs = 0;
        int ok = 0;
        if (cJSON_IsNumber(to)) {
            ok = is_whole(to->valuedouble) && to->valuedouble >= 1 &&
                 to->valuedouble <= (double)MAX_TIMEOUT_S;
            if (ok) secs = (uint64_t)to->valuedouble;
        } else if (cJSON_IsString(to)) ok = parse_duration(to->valuestring, &secs) &&
                                          secs <= MAX_TIMEOUT_S;
        if (!ok) {
            char d[96];
            describe(to, d, sizeof d);
            ERR(c, to, 0, "bad-timeout", "timeout", "timeout of %s must be a positive number of "
                "seconds (1800) or a duration like 90s, 30m, 2h or 1h30m, at most 30 days; "
                "got %s", s->label, d);
        } else {
            n->timeout_s = secs;
        }
    }
    const cJSON *ca = cJSON_GetObjectItemCaseSensitive(obj, "cache");
    if (ca) {
        if (!cJSON_IsBool(ca)) {
            char d[96];
            describe(ca, d, sizeof d);
            ERR(c, ca, 0, "wrong-type", "cache", "cache of %s must be true or false, got %s",
                s->label, d);
        } else {
            n->cache = cJSON_IsTrue(ca);
        }
    }
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(obj, "description");
    if (desc && !cJSON_IsString(desc))
        ERR(c, desc, 0, "wrong-type", "description", "description of %s must be a string",
            s->label);
}

/* ------------------------------------------------------------ the graph */

static int named_cmp(const void *a, const void *b) {
    const struct named *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    if (r) return r;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Index of the first node called name, or (size_t)-1. */
static size_t find_node(const struct ctx *c, const char *name) {
    size_t lo = 0, hi = c->nby_name;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(c->by_name[mid].name, name) < 0) lo = mid + 1;
        else hi = mid;
    }
    if (lo < c->nby_name && strcmp(c->by_name[lo].name, name) == 0) return c->by_name[lo].idx;
    return (size_t)-1;
}

struct podkey {
    char pod[64];
    size_t idx;
};

static int podkey_cmp(const void *a, const void *b) {
    const struct podkey *x = a, *y = b;
    int r = strcmp(x->pod, y->pod);
    if (r) return r;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void check_names(struct ctx *c) {
    weir_pipeline *p = c->p;
    c->by_name = calloc(p->nnodes ? p->nnodes : 1, sizeof *c->by_name);
    struct podkey *pk = calloc(p->nnodes ? p->nnodes : 1, sizeof *pk);
    if (!c->by_name || !pk) { c->oom = 1; free(pk); return; }
    size_t k = 0;
    for (size_t i = 0; i < p->nnodes; i++)
        if (c->src[i].named && p->nodes[i].name)
            c->by_name[k++] = (struct named){p->nodes[i].name, i};
    qsort(c->by_name, k, sizeof *c->by_name, named_cmp);
    /* duplicates: keep the first of each name in by_name for lookups */
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        size_t cur = c->by_name[i].idx;
        if (u && strcmp(c->by_name[u - 1].name, p->nodes[cur].name) == 0) {
            size_t first = c->by_name[u - 1].idx;
            ERR(c, c->src[cur].name_node, 0, "duplicate-name", p->nodes[cur].name,
                "component name '%s' is used twice (first at line %u); node names must be "
                "unique", p->nodes[cur].name, p->nodes[first].line);
            continue;
        }
        c->by_name[u++] = c->by_name[i];
    }
    c->nby_name = u;
    /* names that differ only by '_' vs '-' would share a pod name */
    for (size_t i = 0; i < u; i++) {
        weir_pipeline_pod_name(c->by_name[i].name, pk[i].pod);
        pk[i].idx = c->by_name[i].idx;
    }
    qsort(pk, u, sizeof *pk, podkey_cmp);
    for (size_t i = 1; i < u; i++) {
        if (strcmp(pk[i].pod, pk[i - 1].pod) != 0) continue;
        size_t a = pk[i - 1].idx, b = pk[i].idx;
        size_t later = a > b ? a : b, earlier = a > b ? b : a;
        ERR(c, c->src[later].name_node, 0, "name-collision", p->nodes[later].name,
            "component names '%s' and '%s' differ only in '-' versus '_', so both become pod "
            "name '%s'; rename one", p->nodes[earlier].name, p->nodes[later].name, pk[i].pod);
    }
    free(pk);
}

/* A node output of `type` other than on node `self`, for suggestions. */
static int find_output_of_type(const weir_pipeline *p, size_t self, const char *type,
                               size_t *node, size_t *out) {
    for (size_t i = 0; i < p->nnodes; i++) {
        if (i == self || !p->nodes[i].name) continue;
        for (size_t j = 0; j < p->nodes[i].noutputs; j++)
            if (strcmp(p->nodes[i].outputs[j].type, type) == 0) {
                *node = i;
                *out = j;
                return 1;
            }
    }
    return 0;
}

static void resolve_inputs(struct ctx *c, size_t idx) {
    weir_pipeline *p = c->p;
    weir_pipeline_node *n = &p->nodes[idx];
    struct nsrc *s = &c->src[idx];
    for (size_t i = 0; i < n->ninputs; i++) {
        weir_pipeline_input *in = &n->inputs[i];
        const cJSON *src = s->input_src[i];
        size_t pi = find_node(c, in->producer);
        if (pi == (size_t)-1) {
            const char *near = NULL;
            if (!c->full) {
                const char **names = calloc(c->nby_name ? c->nby_name : 1, sizeof *names);
                if (!names) { c->oom = 1; return; }
                for (size_t j = 0; j < c->nby_name; j++) names[j] = c->by_name[j].name;
                near = weir_suggest(in->producer, names, c->nby_name); /* borrowed: node names */
                free(names);
            }
            if (near)
                ERR(c, src, 0, "unknown-producer", in->producer, "input '%s' of %s comes from "
                    "'%s', but no component has that name; did you mean '%s'?", in->slot,
                    s->label, in->producer, near);
            else
                ERR(c, src, 0, "unknown-producer", in->producer, "input '%s' of %s comes from "
                    "'%s', but no component has that name; add it or fix the reference",
                    in->slot, s->label, in->producer);
            continue;
        }
        weir_pipeline_node *prod = &p->nodes[pi];
        if (!prod->def) continue; /* unknown type: reported already */
        in->producer_index = pi;
        const weir_pipeline_output *po = NULL;
        for (size_t j = 0; j < prod->noutputs; j++)
            if (strcmp(prod->outputs[j].name, in->output) == 0) po = &prod->outputs[j];
        if (!po) {
            const char *names[16];
            size_t nn = 0;
            for (size_t j = 0; j < prod->noutputs && nn < 16; j++) names[nn++] = prod->outputs[j].name;
            const char *near = weir_suggest(in->output, names, nn);
            char list[256];
            join_names(names, nn, list, sizeof list);
            if (near)
                ERR(c, src, 0, "unknown-output", in->output, "input '%s' of %s wants output "
                    "'%s' of '%s' (%s), which has no such output; did you mean '%s.%s'?",
                    in->slot, s->label, in->output, prod->name, prod->type, prod->name, near);
            else
                ERR(c, src, 0, "unknown-output", in->output, "input '%s' of %s wants output "
                    "'%s' of '%s' (%s), which has no such output; its outputs: %s", in->slot,
                    s->label, in->output, prod->name, prod->type, nn ? list : "none");
            in->producer_index = (size_t)-1;
            continue;
        }
        const char *want = in->type;
        if (!want && s->input_types) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(s->input_types, in->slot);
            if (cJSON_IsString(t) && ident_ok(t->valuestring)) want = t->valuestring;
        }
        if (want && strcmp(want, po->type) != 0) {
            size_t on = 0, oo = 0;
            char hint[200] = "";
            if (find_output_of_type(p, idx, want, &on, &oo))
                snprintf(hint, sizeof hint, " such as %s.%s", p->nodes[on].name,
                         p->nodes[on].outputs[oo].name);
            ERR(c, src, 0, "type-mismatch", in->slot, "input '%s' of %s takes %s, but %s.%s is "
                "%s; connect an output of type %s%s", in->slot, s->label, want, prod->name,
                po->name, po->type, want, hint);
            in->producer_index = (size_t)-1;
            continue;
        }
        if (!in->type) in->type = astrdup(c, po->type);
    }
    /* required inputs of standard components */
    const weir_component_def *def = n->def;
    if (!def || def->kind != WEIR_COMPONENT_STANDARD || !s->obj) return;
    for (size_t j = 0; j < def->ninputs; j++) {
        const weir_slot_def *sd = &def->inputs[j];
        if (sd->optional) continue;
        int have = 0;
        for (size_t i = 0; i < n->ninputs; i++)
            if (strcmp(n->inputs[i].slot, sd->name) == 0) have = 1;
        if (have) continue;
        /* present but broken, or a typo of it: already reported */
        int mentioned = 0;
        const char *names[16];
        size_t nn = 0;
        for (size_t k = 0; k < def->ninputs && nn < 16; k++) names[nn++] = def->inputs[k].name;
        for (const cJSON *m = s->inputs_node ? s->inputs_node->child : NULL; m; m = m->next)
            if (strcmp(m->string, sd->name) == 0 ||
                (!weir_component_input(def, m->string) &&
                 weir_suggest(m->string, names, nn) == sd->name))
                mentioned = 1;
        if (mentioned) continue;
        size_t on = 0, oo = 0;
        const cJSON *at = s->inputs_node ? s->inputs_node : s->obj;
        int at_key = s->inputs_node != NULL;
        if (find_output_of_type(p, idx, sd->type, &on, &oo))
            ERR(c, at, at_key, "missing-input", sd->name, "%s (%s) needs input '%s' (%s); add "
                "it, e.g. inputs: {%s: %s.%s}", s->label, def->type, sd->name, sd->type,
                sd->name, p->nodes[on].name, p->nodes[on].outputs[oo].name);
        else
            ERR(c, at, at_key, "missing-input", sd->name, "%s (%s) needs input '%s' (%s), and "
                "no component produces %s; add one that does and connect it", s->label,
                def->type, sd->name, sd->type, sd->type);
    }
}

static int size_cmp(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorted unique upstream lists, then downstream lists. */
static void build_edges(struct ctx *c) {
    weir_pipeline *p = c->p;
    size_t *ndown = calloc(p->nnodes ? p->nnodes : 1, sizeof *ndown);
    if (!ndown) { c->oom = 1; return; }
    for (size_t i = 0; i < p->nnodes && !c->oom; i++) {
        weir_pipeline_node *n = &p->nodes[i];
        size_t *up = acalloc(c, n->ninputs, sizeof *up);
        size_t k = 0;
        for (size_t j = 0; up && j < n->ninputs; j++)
            if (n->inputs[j].producer_index != (size_t)-1) up[k++] = n->inputs[j].producer_index;
        if (k) qsort(up, k, sizeof *up, size_cmp);
        size_t u = 0;
        for (size_t j = 0; j < k; j++)
            if (!u || up[u - 1] != up[j]) up[u++] = up[j];
        n->upstream = u ? up : NULL;
        n->nupstream = u;
        for (size_t j = 0; j < u; j++) ndown[up[j]]++;
    }
    for (size_t i = 0; i < p->nnodes && !c->oom; i++) {
        p->nodes[i].downstream = acalloc(c, ndown[i], sizeof(size_t));
        p->nodes[i].ndownstream = 0;
    }
    /* visiting consumers in index order keeps downstream lists ascending */
    for (size_t i = 0; i < p->nnodes && !c->oom; i++)
        for (size_t j = 0; j < p->nodes[i].nupstream; j++) {
            weir_pipeline_node *up = &p->nodes[p->nodes[i].upstream[j]];
            up->downstream[up->ndownstream++] = i;
        }
    free(ndown);
}

/* Min-heap of node indices: ready nodes leave in file order. */
static void heap_push(size_t *h, size_t *n, size_t v) {
    size_t i = (*n)++;
    h[i] = v;
    while (i && h[(i - 1) / 2] > h[i]) {
        size_t t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static size_t heap_pop(size_t *h, size_t *n) {
    size_t top = h[0];
    h[0] = h[--(*n)];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && h[l] < h[m]) m = l;
        if (r < *n && h[r] < h[m]) m = r;
        if (m == i) break;
        size_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
    return top;
}

/* Kahn's algorithm; nodes left over are on or below a cycle: name each
 * cycle by walking upstream among them until a node repeats. */
static void order_and_cycles(struct ctx *c) {
    weir_pipeline *p = c->p;
    size_t n = p->nnodes;
    size_t *indeg = calloc(n ? n : 1, sizeof *indeg);
    size_t *heap = calloc(n ? n : 1, sizeof *heap);
    size_t *order = acalloc(c, n ? n : 1, sizeof *order);
    size_t *stamp = calloc(n ? n : 1, sizeof *stamp);
    size_t *path = calloc(n ? n : 1, sizeof *path);
    size_t *at = calloc(n ? n : 1, sizeof *at);
    unsigned char *reported = calloc(n ? n : 1, 1);
    if (!indeg || !heap || !order || !stamp || !path || !at || !reported) {
        c->oom = 1;
        goto out;
    }
    size_t hn = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        indeg[i] = p->nodes[i].nupstream;
        if (!indeg[i]) heap_push(heap, &hn, i);
    }
    while (hn) {
        size_t v = heap_pop(heap, &hn);
        order[k++] = v;
        for (size_t j = 0; j < p->nodes[v].ndownstream; j++) {
            size_t w = p->nodes[v].downstream[j];
            if (--indeg[w] == 0) heap_push(heap, &hn, w);
        }
    }
    if (k == n) {
        p->order = order;
        goto out;
    }
    size_t walk = 0, ncycles = 0;
    for (size_t s = 0; s < n && ncycles < 10; s++) {
        if (!indeg[s] || reported[s]) continue;
        walk++;
        size_t len = 0, v = s;
        for (;;) {
            if (reported[v]) break; /* leads into a cycle already named */
            if (stamp[v] == walk) {
                /* path[at[v]..len-1] walked upstream: reverse for data flow */
                size_t from = at[v], clen = len - from;
                size_t lo = from;
                for (size_t i = from; i < len; i++)
                    if (path[i] < path[lo]) lo = i;
                weir_buf b;
                weir_buf_init(&b, 4096);
                /* start at the earliest node, follow data flow (backwards in path) */
                for (size_t t = 0; t <= clen; t++) {
                    size_t pos = from + (lo - from + clen - (t % clen)) % clen;
                    weir_buf_printf(&b, "%s%s", t ? " -> " : "", p->nodes[path[pos]].name);
                }
                for (size_t i = from; i < len; i++) reported[path[i]] = 1;
                size_t first = path[lo];
                ERR(c, c->src[first].name_node ? c->src[first].name_node : c->src[first].obj, 0,
                    "cycle", p->nodes[first].name, "components form a cycle: %s; a component "
                    "cannot depend on its own outputs, so remove one of these inputs",
                    b.data ? (const char *)b.data : "?");
                weir_buf_free(&b);
                ncycles++;
                break;
            }
            stamp[v] = walk;
            at[v] = len;
            path[len++] = v;
            size_t next = (size_t)-1;
            for (size_t j = 0; j < p->nodes[v].nupstream; j++)
                if (indeg[p->nodes[v].upstream[j]]) { next = p->nodes[v].upstream[j]; break; }
            if (next == (size_t)-1) break; /* cannot happen: leftovers have leftover producers */
            v = next;
        }
    }
    if (!ncycles) ERR(c, c->pipeline_node, 0, "cycle", "components", "components form a cycle");
out:
    free(indeg);
    free(heap);
    free(stamp);
    free(path);
    free(at);
    free(reported);
}

/* ------------------------------------------------------------- top level */

/* ------------------------------------------------- Transform specs */

/*
 * A Transform's spec is checked when the pipeline is loaded (`weir
 * validate`, `weir run`, the operator): its ops and arguments always, and
 * — when its examples come from a CsvExampleGen reading a local file —
 * every input feature's existence and type, from the CSV's header and
 * column types (inferred from its first 4 MiB, as ExampleGen types columns).
 * Otherwise the types are checked by the component against the Schema.
 */
struct tf_check {
    struct ctx *c;
    const cJSON *subst;          /* the node's substituted params */
    const cJSON *orig;           /* the same in the document, for positions */
    const char *label;
    weir_csv_schema cols;
    int have_cols;
};

/* The node of `orig` at the same place as `x` in `subst`. */
static const cJSON *same_place(const cJSON *subst, const cJSON *orig, const cJSON *x) {
    if (!subst || !orig) return NULL;
    if (subst == x) return orig;
    const cJSON *a = subst->child, *b = orig->child;
    for (; a && b; a = a->next, b = b->next) {
        const cJSON *o = b;
        if (cJSON_IsObject(subst) && a->string) o = cJSON_GetObjectItemCaseSensitive(orig, a->string);
        const cJSON *r = same_place(a, o, x);
        if (r) return r;
    }
    return NULL;
}

static void tf_report(void *ctx, const cJSON *at, const char *feature, const char *msg) {
    struct tf_check *k = ctx;
    const cJSON *where = same_place(k->subst, k->orig, at);
    ERR(k->c, where ? where : k->orig, where ? 0 : 1, "bad-transform", feature, "%s: %s",
        k->label, msg);
}

static weir_tf_type tf_col_type(void *ctx, const char *name) {
    struct tf_check *k = ctx;
    for (size_t i = 0; i < k->cols.count; i++) {
        if (strcmp(k->cols.names[i], name) != 0) continue;
        switch (k->cols.types[i]) {
        case WEIR_COL_INT:
        case WEIR_COL_FLOAT: return WEIR_TF_NUM;
        case WEIR_COL_STRING: return WEIR_TF_STR;
        default: return WEIR_TF_STR; /* all missing: ExampleGen writes bytes */
        }
    }
    return WEIR_TF_UNKNOWN;
}

/* The columns of the CSV a CsvExampleGen node reads, when it is one local
 * file; 0 when they cannot be known now. */
static int csv_columns(const weir_pipeline_node *eg, weir_csv_schema *out) {
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(eg->params, "input");
    if (!cJSON_IsString(in)) return 0;
    const char *path = in->valuestring;
    if (strncmp(path, "file://", 7) == 0) path += 7;
    else if (strstr(path, "://")) return 0;
    if (strpbrk(path, "*?[{")) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t cap = 4u << 20;
    char *buf = malloc(cap);
    size_t n = buf ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    if (!buf) return 0;
    if (n == cap) { /* whole lines only */
        while (n > 0 && buf[n - 1] != '\n') n--;
    }
    weir_csv_opts o;
    weir_csv_opts_default(&o);
    const char *miss[16];
    size_t nm = 0;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(eg->params, "missing"), *e;
    if (cJSON_IsArray(m)) {
        cJSON_ArrayForEach(e, m) if (cJSON_IsString(e) && nm < 16) miss[nm++] = e->valuestring;
    } else if (cJSON_IsString(m)) {
        miss[nm++] = m->valuestring;
    }
    if (nm) {
        o.missing = miss;
        o.nmissing = nm;
    }
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(eg->params, "delimiter");
    if (cJSON_IsString(d) && strlen(d->valuestring) == 1) o.delimiter = d->valuestring[0];
    weir_status rc = weir_csv_infer_mem(path, buf, n, &o, out);
    free(buf);
    return rc == WEIR_OK;
}

static void check_transforms(struct ctx *c) {
    weir_pipeline *p = c->p;
    for (size_t i = 0; i < p->nnodes && !c->full && !c->oom; i++) {
        weir_pipeline_node *n = &p->nodes[i];
        if (!n->def || strcmp(n->def->type, "Transform") != 0 || !n->params) continue;
        if (!cJSON_GetObjectItemCaseSensitive(n->params, "features") &&
            cJSON_GetObjectItemCaseSensitive(n->params, "module_file"))
            continue; /* all in user code */
        struct tf_check k = {.c = c, .subst = n->params, .label = c->src[i].label,
                             .orig = c->src[i].obj ? cJSON_GetObjectItemCaseSensitive(c->src[i].obj, "params") : NULL};
        if (!k.orig) k.orig = c->src[i].obj;
        for (size_t s = 0; s < n->ninputs; s++) {
            const weir_pipeline_input *in = &n->inputs[s];
            if (strcmp(in->slot, "examples") != 0 || in->producer_index >= p->nnodes) continue;
            const weir_pipeline_node *eg = &p->nodes[in->producer_index];
            if (eg->def && strcmp(eg->def->type, "CsvExampleGen") == 0)
                k.have_cols = csv_columns(eg, &k.cols);
        }
        weir_transform_t *t = NULL;
        /* user code adds input features nobody knows before it runs */
        int udf = cJSON_GetObjectItemCaseSensitive(n->params, "module_file") != NULL;
        (void)weir_transform_from_spec(n->params, k.have_cols && !udf ? tf_col_type : NULL, &k,
                                       tf_report, &k, &t);
        weir_transform_free(t);
        if (k.have_cols) weir_csv_schema_free(&k.cols);
    }
}

static void parse_doc(struct ctx *c, const cJSON *doc) {
    weir_pipeline *p = c->p;
    if (!cJSON_IsObject(doc)) {
        ERR(c, doc, 0, "wrong-type", "pipeline", "a pipeline file must be a mapping with one "
            "key, 'pipeline' (see docs/pipeline-spec.md)");
        return;
    }
    check_keys(c, doc, top_keys, N(top_keys), "the top level");
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(doc, "pipeline");
    if (!pl) {
        ERR(c, doc, 0, "missing-field", "pipeline", "no 'pipeline' key at the top level; the file "
            "must start with pipeline: {name, root, components}");
        return;
    }
    if (!cJSON_IsObject(pl)) {
        ERR(c, pl, 1, "wrong-type", "pipeline", "'pipeline' must be a mapping with name, root "
            "and components");
        return;
    }
    c->pipeline_node = pl;
    check_keys(c, pl, pipeline_keys, N(pipeline_keys), "pipeline");
    const char *name = req_string(c, pl, "name", "the pipeline", "flights");
    if (name) {
        check_name(c, cJSON_GetObjectItemCaseSensitive(pl, "name"), "pipeline", name);
        p->name = astrdup(c, name);
    }
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(pl, "description");
    if (desc && !cJSON_IsString(desc))
        ERR(c, desc, 0, "wrong-type", "description", "pipeline.description must be a string");
    else if (desc)
        p->description = astrdup(c, desc->valuestring);
    parse_parameters(c, pl);
    if (c->oom) return;

    /* root */
    const cJSON *rootn = cJSON_GetObjectItemCaseSensitive(pl, "root");
    const char *root_text = NULL;
    const cJSON *root_at = rootn;
    if (c->opt && c->opt->root) {
        root_text = c->opt->root;
        root_at = rootn ? rootn : pl;
    } else if (!rootn) {
        ERR(c, pl, 1, "missing-field", "root", "the pipeline has no 'root'; add where artifacts "
            "go, e.g. root: file:///var/weir/flights or s3://bucket/prefix");
    } else if (!cJSON_IsString(rootn) || !*rootn->valuestring) {
        char d[96];
        describe(rootn, d, sizeof d);
        ERR(c, rootn, 0, "wrong-type", "root", "pipeline.root must be a non-empty path or URI, "
            "got %s", d);
    } else {
        root_text = rootn->valuestring;
    }
    if (root_text) {
        int bad = 0;
        cJSON *r = subst_string(c, root_at, "root", root_text, &bad);
        if (!r) return;
        if (!cJSON_IsString(r) || !*r->valuestring) {
            if (!bad)
                ERR(c, root_at, 0, "wrong-type", "root", "pipeline.root must be a non-empty "
                    "string after substituting parameters");
        } else {
            p->root = astrdup(c, r->valuestring);
        }
        cJSON_Delete(r);
    }

    /* components */
    const cJSON *comps = cJSON_GetObjectItemCaseSensitive(pl, "components");
    if (!comps) {
        ERR(c, pl, 1, "missing-field", "components", "the pipeline has no 'components'; add a "
            "list of components, each with name and type");
        return;
    }
    if (!cJSON_IsArray(comps) || !comps->child) {
        ERR(c, comps, 1, "no-components", "components", "pipeline.components must be a "
            "non-empty list of components, each with name and type");
        return;
    }
    size_t count = 0;
    for (const cJSON *m = comps->child; m; m = m->next) count++;
    p->nodes = acalloc(c, count, sizeof *p->nodes);
    c->src = calloc(count, sizeof *c->src);
    if (!p->nodes || !c->src) { c->oom = 1; return; }
    p->nnodes = count;
    size_t i = 0;
    for (const cJSON *m = comps->child; m && !c->oom; m = m->next) parse_component(c, i++, m);
    if (c->oom) return;
    check_names(c);
    for (i = 0; i < p->nnodes && !c->oom; i++) resolve_inputs(c, i);
    if (!c->oom) check_transforms(c);
    if (c->oom) return;
    build_edges(c);
    if (c->oom) return;
    order_and_cycles(c);
}

void weir_pipeline_free(weir_pipeline *p) {
    if (!p) return;
    for (size_t i = 0; i < p->nnodes; i++) cJSON_Delete(p->nodes[i].params);
    cJSON_Delete(p->parameters);
    weir_arena_free(p->arena);
    free(p);
}

/* This call's diagnostics in file order (stable; no line first; the
 * "too many" note stays last). */
static void sort_diags(struct ctx *c) {
    weir_diags *d = c->d;
    size_t end = d->count;
    if (c->full && end > c->start) end--;
    for (size_t i = c->start + 1; i < end; i++) {
        weir_diag x = d->items[i];
        size_t j = i;
        while (j > c->start && (d->items[j - 1].line > x.line ||
                                (d->items[j - 1].line == x.line && d->items[j - 1].column > x.column))) {
            d->items[j] = d->items[j - 1];
            j--;
        }
        d->items[j] = x;
    }
}

/* The thread message: the single error, or a header and as many errors as
 * fit in the message buffer. */
static weir_status combined_message(struct ctx *c, weir_status rc) {
    weir_diags *d = c->d;
    size_t first = d->count, nerr = 0;
    for (size_t i = c->start; i < d->count; i++)
        if (d->items[i].severity == WEIR_DIAG_ERROR) {
            if (first == d->count) first = i;
            nerr++;
        }
    if (nerr == 0) return weir_errorf(rc, "%s: invalid pipeline", c->file);
    if (c->errors == 1) return weir_errorf(rc, "%s", d->items[first].message);
    weir_buf b;
    weir_buf_init(&b, 1000);
    weir_status wr = weir_buf_printf(&b, "%s: %zu problems in the pipeline spec:", c->file,
                                     c->errors);
    size_t shown = 0;
    for (size_t i = first; !wr && i < d->count; i++) {
        if (d->items[i].severity != WEIR_DIAG_ERROR) continue;
        size_t before = b.len;
        if (weir_buf_printf(&b, "\n  %s", d->items[i].message)) {
            b.len = before;
            if (b.data) b.data[before] = '\0';
            break;
        }
        shown++;
    }
    if (shown < c->errors) {
        size_t before = b.len;
        if (weir_buf_printf(&b, "\n  ... and %zu more", c->errors - shown)) {
            b.len = before;
            if (b.data) b.data[before] = '\0';
        }
    }
    weir_errorf(rc, "%s", b.data ? (const char *)b.data : c->file);
    weir_buf_free(&b);
    return rc;
}

weir_status weir_pipeline_from_doc(const char *name, const cJSON *doc, const weir_doc_pos *pos,
                                   size_t npos, const weir_pipeline_options *opt,
                                   weir_pipeline **out, weir_diags *diags) {
    weir_diags local = {0};
    struct ctx c = {0};
    weir_status rc = WEIR_OK;
    *out = NULL;
    c.file = name ? name : "pipeline";
    c.pos = pos;
    c.npos = npos;
    c.d = diags ? diags : &local;
    c.start = c.d->count;
    c.opt = opt;
    c.max_diags = opt && opt->max_diags ? opt->max_diags : DEFAULT_MAX_DIAGS;
    weir_pipeline *p = calloc(1, sizeof *p);
    if (!p) return weir_errorf(WEIR_ENOMEM, "%s: out of memory", c.file);
    c.p = p;
    rc = weir_arena_new(16 * 1024, 256u << 20, &p->arena);
    if (rc) goto out;
    c.arena = p->arena;
    p->file = astrdup(&c, c.file);
    if (pos && npos) {
        c.sorted = malloc(npos * sizeof *c.sorted);
        if (!c.sorted) { c.oom = 1; goto out; }
        for (size_t i = 0; i < npos; i++) c.sorted[i] = (struct posent){pos[i].node, i};
        qsort(c.sorted, npos, sizeof *c.sorted, posent_cmp);
        c.nsorted = npos;
    }
    parse_doc(&c, doc);
    if (c.oom) goto out;
    sort_diags(&c);
    p->parameters = c.params;
    c.params = NULL;
    if (c.errors) {
        rc = combined_message(&c, WEIR_EINVAL);
        goto out;
    }
    *out = p;
    p = NULL;
out:
    if (c.oom) rc = weir_errorf(WEIR_ENOMEM, "%s: out of memory while checking the pipeline",
                                c.file);
    cJSON_Delete(c.params);
    free(c.sorted);
    free(c.src);
    free(c.by_name);
    weir_pipeline_free(p);
    weir_diags_free(&local);
    return rc;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Records a load/parse failure (message already set) as a diagnostic. */
static weir_status load_failure(const char *name, weir_status rc, weir_diags *diags,
                                const char *code) {
    if (!diags) return rc;
    struct ctx c = {0};
    c.file = name;
    c.d = diags;
    c.start = diags->count;
    c.max_diags = DEFAULT_MAX_DIAGS;
    const char *msg = weir_error_message();
    uint32_t line = 0, col = 0;
    size_t nl = strlen(name);
    if (strncmp(msg, name, nl) == 0 && msg[nl] == ':') {
        unsigned l = 0, cc = 0;
        if (sscanf(msg + nl + 1, "%u:%u", &l, &cc) >= 1) {
            line = l;
            col = cc;
        }
    }
    char *copy = strdup(msg);
    if (!copy) return rc;
    size_t before = diags->count;
    diag_add(&c, WEIR_DIAG_ERROR, code, name, line, col, "");
    if (diags->count > before) { /* keep the loader's own text */
        free(diags->items[before].message);
        diags->items[before].message = copy;
    } else {
        free(copy);
    }
    weir_errorf(rc, "%s", diags->count > before ? diags->items[before].message : msg);
    return rc;
}

weir_status weir_pipeline_parse(const char *name, const char *text, size_t len,
                                const weir_pipeline_options *opt, weir_pipeline **out,
                                weir_diags *diags) {
    weir_doc_limits lim = {DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, DEFAULT_MAX_NODES};
    if (opt) {
        if (opt->limits.max_bytes) lim.max_bytes = opt->limits.max_bytes;
        if (opt->limits.max_depth) lim.max_depth = opt->limits.max_depth;
        if (opt->limits.max_nodes) lim.max_nodes = opt->limits.max_nodes;
    }
    *out = NULL;
    name = name ? name : "pipeline";
    cJSON *doc = NULL;
    weir_doc_pos *pos = NULL;
    size_t npos = 0;
    weir_status rc = weir_yaml_parse(name, text ? text : "", text ? len : 0, &lim, &doc, &pos,
                                     &npos);
    if (rc && rc != WEIR_ENOMEM && ends_with(name, ".json")) {
        /* JSON that YAML refuses (tabs in odd places...): no line numbers then */
        rc = weir_json_parse(name, text ? text : "", text ? len : 0, &lim, &doc);
    }
    if (rc) return load_failure(name, rc, diags, rc == WEIR_ELIMIT ? "too-large" : "syntax");
    rc = weir_pipeline_from_doc(name, doc, pos, npos, opt, out, diags);
    free(pos);
    cJSON_Delete(doc);
    return rc;
}

weir_status weir_pipeline_load_file(const char *path, const weir_pipeline_options *opt,
                                    weir_pipeline **out, weir_diags *diags) {
    size_t max = opt && opt->limits.max_bytes ? opt->limits.max_bytes : DEFAULT_MAX_BYTES;
    weir_buf b;
    weir_buf_init(&b, max + 1);
    *out = NULL;
    weir_status rc = weir_file_read_all(path, &b);
    if (rc) {
        weir_buf_free(&b);
        return load_failure(path, rc, diags, "read");
    }
    rc = weir_pipeline_parse(path, b.data ? (const char *)b.data : "", b.len, opt, out, diags);
    weir_buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------- DAG queries */

weir_status weir_pipeline_node_index(const weir_pipeline *p, const char *name, size_t *out) {
    for (size_t i = 0; i < p->nnodes; i++)
        if (p->nodes[i].name && name && strcmp(p->nodes[i].name, name) == 0) {
            *out = i;
            return WEIR_OK;
        }
    const char *names[64];
    size_t nn = 0;
    for (size_t i = 0; i < p->nnodes && nn < 64; i++) names[nn++] = p->nodes[i].name;
    const char *near = name ? weir_suggest(name, names, nn) : NULL;
    if (near)
        return weir_errorf(WEIR_ENOENT, "pipeline %s has no component '%s'; did you mean '%s'?",
                           p->name, name, near);
    return weir_errorf(WEIR_ENOENT, "pipeline %s has no component '%s'", p->name,
                       name ? name : "(null)");
}

/* Marks everything reachable from `node` along downstream (dir=1) or
 * upstream (dir=0) edges, then lists it in topological order. */
static weir_status reach(const weir_pipeline *p, size_t node, int down, size_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (node >= p->nnodes)
        return weir_errorf(WEIR_EINVAL, "node index %zu is out of range (pipeline %s has %zu)",
                           node, p->name, p->nnodes);
    unsigned char *mark = calloc(p->nnodes, 1);
    size_t *stack = calloc(p->nnodes, sizeof *stack);
    if (!mark || !stack) {
        free(mark);
        free(stack);
        return weir_errorf(WEIR_ENOMEM, "out of memory");
    }
    size_t sp = 0, count = 0;
    stack[sp++] = node;
    while (sp) {
        const weir_pipeline_node *v = &p->nodes[stack[--sp]];
        const size_t *next = down ? v->downstream : v->upstream;
        size_t nn = down ? v->ndownstream : v->nupstream;
        for (size_t j = 0; j < nn; j++)
            if (!mark[next[j]] && next[j] != node) {
                mark[next[j]] = 1;
                count++;
                stack[sp++] = next[j];
            }
    }
    free(stack);
    if (count) {
        size_t *r = malloc(count * sizeof *r), k = 0;
        if (!r) {
            free(mark);
            return weir_errorf(WEIR_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < p->nnodes; i++)
            if (mark[p->order[i]]) r[k++] = p->order[i];
        *out = r;
        *n = k;
    }
    free(mark);
    return WEIR_OK;
}

weir_status weir_pipeline_descendants(const weir_pipeline *p, size_t node, size_t **out,
                                      size_t *n) {
    return reach(p, node, 1, out, n);
}

weir_status weir_pipeline_ancestors(const weir_pipeline *p, size_t node, size_t **out,
                                    size_t *n) {
    return reach(p, node, 0, out, n);
}
