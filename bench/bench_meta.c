/*
 * bench_meta.c — how fast weir's metadata store (lib/meta, SQLite in
 * ML-Metadata's layout) answers the two questions a pipeline run asks most:
 * "is there a COMPLETE execution with this cache key?" and "record this
 * execution with its outputs", in a store that already holds 100,000
 * executions; optionally next to ml-metadata's own Python API doing the same
 * work on the same machine (bench/bench_mlmd.py).
 *
 * Figures:
 * Rates are medians over 5 rounds (load: one round).
 *   load        executions inserted per second, 1,000 per transaction
 *   lookup      cache lookups per second; keys drawn at random, half of them
 *               present (1 in 10 of those FAILED, so no hit), half absent;
 *               every answer is checked
 *   publish     put_execution calls per second, each one transaction with
 *               1 input and 2 new output artifacts, 3 events with paths and 3
 *               contexts reused by name; "artifacts/s" counts the outputs.
 *               Run with synchronous=NORMAL (weir's default in WAL mode) and
 *               synchronous=FULL (an fsync per commit, as ml-metadata's
 *               default rollback journal does).
 *   through weir-server (--server BIN): the same lookups and publishes
 *               through weir-server's API (the http:// store the operator
 *               uses on a cluster), a server started on the same file;
 *               the ratio to the direct calls is what HTTP and JSON cost
 *
 * usage: bench_meta [--dir DIR] [--executions N] [--lookups N] [--publish N]
 *                   [--compare PYTHON [--script bench/bench_mlmd.py]]
 *                   [--server build/bin/weir-server]
 *   DIR      where the store files go (default /tmp; same disk for both)
 *   PYTHON   a Python with ml-metadata installed, e.g.
 *            ~/.cache/weir/venv-interop/bin/python; prints ratios weir/MLMD
 * Not a test: it checks its answers and prints; it asserts nothing on speed.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "weir/core.h"
#include "weir/meta.h"

#define BATCH 1000
#define ROUNDS 5

struct figures {
    double load_per_s, lookups_per_s, publish_per_s, artifacts_per_s;
    double publish_full_per_s, artifacts_full_per_s;
    long lookups, publish;
    double http_lookups_per_s, http_publish_per_s;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of the per-round rates; a shared VM's disk and CPU are noisy. */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *what) {
    fprintf(stderr, "bench_meta: %s: %s\n", what, weir_error_message());
    exit(1);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void) { /* xorshift64 */
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void remove_store(const char *path) {
    char p[1200];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* One publish: 1 input, 2 outputs, 3 events, 3 contexts by name. */
static void publish(weir_store_t *s, int64_t input_id, long i) {
    char key[48], uri[2][96];
    weir_meta_prop out_props[2][2], note[1], eprops[1], ecustom[1];
    weir_meta_artifact out[2];
    weir_meta_step p_in[2] = {{"examples", 0}, {NULL, 0}};
    weir_meta_step p_out[2][2] = {{{"model", 0}, {NULL, 0}}, {{"model", 0}, {NULL, 1}}};
    weir_meta_artifact_event items[3];
    weir_meta_context ctx[3] = {{.type_name = "pipeline", .name = "bench"},
                                {.type_name = "run", .name = "bench-run-1"},
                                {.type_name = "node", .name = "bench.trainer"}};
    int64_t eid, aids[3], cids[3];
    snprintf(key, sizeof key, "publish-%ld", i);
    note[0] = (weir_meta_prop){"note", weir_meta_string("published by bench_meta")};
    for (int k = 0; k < 2; k++) {
        snprintf(uri[k], sizeof uri[k], "file:///bench/trainer/model/%ld/%d/", i, k);
        out_props[k][0] = (weir_meta_prop){"accuracy", weir_meta_double(0.5 + 0.001 * k)};
        out_props[k][1] = (weir_meta_prop){"span", weir_meta_int(i)};
        out[k] = (weir_meta_artifact){.type_name = "Model", .uri = uri[k],
                                      .state = WEIR_META_ARTIFACT_LIVE,
                                      .props = out_props[k], .nprops = 2,
                                      .custom = note, .ncustom = 1};
    }
    items[0] = (weir_meta_artifact_event){NULL, input_id, WEIR_META_EVENT_INPUT, p_in, 2};
    items[1] = (weir_meta_artifact_event){&out[0], 0, WEIR_META_EVENT_OUTPUT, p_out[0], 2};
    items[2] = (weir_meta_artifact_event){&out[1], 0, WEIR_META_EVENT_OUTPUT, p_out[1], 2};
    eprops[0] = (weir_meta_prop){"steps", weir_meta_int(100)};
    ecustom[0] = (weir_meta_prop){WEIR_META_CACHE_KEY, weir_meta_string(key)};
    weir_meta_execution e = {.type_name = "Trainer", .state = WEIR_META_EXEC_COMPLETE,
                             .props = eprops, .nprops = 1, .custom = ecustom, .ncustom = 1};
    if (weir_store_put_execution(s, &e, items, 3, ctx, 3, &eid, aids, cids)) die("put_execution");
}

/* npublish publishes in ROUNDS rounds; the rate of each into rate[]. */
static void publish_rounds(weir_store_t *s, int64_t input_id, long first, long npublish,
                           double *rate) {
    long i = first;
    for (int r = 0; r < ROUNDS; r++) {
        long n = npublish / ROUNDS + (r < npublish % ROUNDS);
        double t0 = now_s();
        for (long k = 0; k < n; k++) publish(s, input_id, i++);
        rate[r] = (double)n / (now_s() - t0);
    }
}

/* nlookups cache lookups in ROUNDS rounds, each answer checked against
 * ids (the executions loaded; every tenth FAILED); rates into rate[]. */
static long lookup_rounds(weir_store_t *s, long nexec, long nlookups, int64_t tid,
                          const int64_t *ids, double *rate) {
    long hits = 0;
    for (int r = 0; r < ROUNDS; r++) {
        long n = nlookups / ROUNDS + (r < nlookups % ROUNDS);
        double t0 = now_s();
        for (long k = 0; k < n; k++) {
            long i = (long)(next_rand() % (uint64_t)(2 * nexec));
            char key[32];
            int64_t hit = -1, want = i < nexec && i % 10 != 0 ? ids[i] : 0;
            snprintf(key, sizeof key, "cache-%08ld", i);
            if (weir_store_find_cached_execution(s, key, tid, &hit)) die("lookup");
            if (hit != want) {
                fprintf(stderr, "bench_meta: lookup of %s gave %lld, expected %lld\n", key,
                        (long long)hit, (long long)want);
                exit(1);
            }
            hits += hit != 0;
        }
        rate[r] = (double)n / (now_s() - t0);
    }
    return hits;
}

/* Starts `bin` on the store at `path` (stderr to path.server.log); its URL
 * into url, its pid returned. */
static pid_t server_start(const char *bin, const char *path, char *url, size_t urlsz) {
    char log[1200], tok[1200], line[512];
    snprintf(log, sizeof log, "%s.server.log", path);
    snprintf(tok, sizeof tok, "%s.token", path);
    FILE *f = fopen(tok, "w");
    if (!f || fputs("bench-meta-token-0123\n", f) < 0 || fclose(f)) {
        perror("bench_meta: token file");
        exit(1);
    }
    setenv("WEIR_METADATA_TOKEN", "bench-meta-token-0123", 1);
    unlink(log);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(log, "w", stderr)) _exit(127);
        execl(bin, bin, "--store", path, "--listen", "127.0.0.1:0", "--token-file", tok, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; pid > 0 && i < 500; i++) {
        int port = 0;
        const char *at = NULL;
        if ((f = fopen(log, "r"))) {
            if (fgets(line, sizeof line, f)) at = strstr(line, "listening on http://");
            fclose(f);
        }
        if (at && sscanf(at, "listening on http://127.0.0.1:%d/", &port) == 1) {
            snprintf(url, urlsz, "http://127.0.0.1:%d", port);
            return pid;
        }
        usleep(10000);
    }
    fprintf(stderr, "bench_meta: %s did not start; see %s\n", bin, log);
    exit(1);
}

static void bench_weir(const char *dir, long nexec, long nlookups, long npublish,
                       const char *server_bin, struct figures *f) {
    char path[1024];
    weir_store_t *s = NULL;
    weir_store_sqlite_opts full = {.sync_full = 1};
    weir_meta_type_prop tp_exec[] = {{"steps", WEIR_META_INT}};
    weir_meta_type_prop tp_model[] = {{"accuracy", WEIR_META_DOUBLE}, {"span", WEIR_META_INT}};
    weir_meta_type types[] = {
        {0, WEIR_META_EXECUTION_TYPE, "Trainer", NULL, NULL, tp_exec, 1},
        {0, WEIR_META_ARTIFACT_TYPE, "Examples", NULL, NULL, NULL, 0},
        {0, WEIR_META_ARTIFACT_TYPE, "Model", NULL, NULL, tp_model, 2},
        {0, WEIR_META_CONTEXT_TYPE, "pipeline", NULL, NULL, NULL, 0},
        {0, WEIR_META_CONTEXT_TYPE, "run", NULL, NULL, NULL, 0},
        {0, WEIR_META_CONTEXT_TYPE, "node", NULL, NULL, NULL, 0}};
    int64_t tids[6], input_id = 0, *ids = calloc((size_t)nexec, sizeof *ids);
    weir_meta_execution *batch = calloc(BATCH, sizeof *batch);
    weir_meta_prop *props = calloc(2 * BATCH, sizeof *props);
    char (*keys)[32] = calloc(BATCH, sizeof *keys);
    double t0, t1, rate[ROUNDS];
    long hits = 0;
    struct stat st;

    if (!ids || !batch || !props || !keys) {
        fprintf(stderr, "bench_meta: out of memory\n");
        exit(1);
    }
    snprintf(path, sizeof path, "%s/bench_meta_weir.sqlite", dir);
    remove_store(path);
    if (weir_store_open_sqlite(path, &s)) die("open");
    for (int i = 0; i < 6; i++)
        if (weir_store_put_type(s, &types[i], 0, &tids[i])) die("put_type");

    /* load */
    t0 = now_s();
    for (long base = 0; base < nexec; base += BATCH) {
        long n = nexec - base < BATCH ? nexec - base : BATCH;
        for (long j = 0; j < n; j++) {
            long i = base + j;
            snprintf(keys[j], sizeof keys[j], "cache-%08ld", i);
            props[2 * j] = (weir_meta_prop){"steps", weir_meta_int(i)};
            props[2 * j + 1] = (weir_meta_prop){WEIR_META_CACHE_KEY, weir_meta_string(keys[j])};
            batch[j] = (weir_meta_execution){
                .type_id = tids[0],
                .state = i % 10 == 0 ? WEIR_META_EXEC_FAILED : WEIR_META_EXEC_COMPLETE,
                .props = &props[2 * j], .nprops = 1, .custom = &props[2 * j + 1], .ncustom = 1};
        }
        if (weir_store_put_executions(s, batch, (size_t)n, &ids[base])) die("load");
    }
    t1 = now_s();
    f->load_per_s = (double)nexec / (t1 - t0);

    /* lookups, in ROUNDS rounds */
    hits = lookup_rounds(s, nexec, nlookups, tids[0], ids, rate);
    f->lookups_per_s = median(rate, ROUNDS);
    f->lookups = nlookups;

    /* publish */
    weir_meta_artifact input = {.type_id = tids[1], .uri = "file:///bench/examples/1/",
                                .state = WEIR_META_ARTIFACT_LIVE};
    if (weir_store_put_artifacts(s, &input, 1, &input_id)) die("input artifact");
    publish_rounds(s, input_id, 0, npublish, rate);
    f->publish_per_s = median(rate, ROUNDS);
    f->artifacts_per_s = 2 * f->publish_per_s;
    f->publish = npublish;
    weir_store_close(s);

    if (weir_store_open_sqlite_ex(path, &full, &s)) die("reopen");
    publish_rounds(s, input_id, npublish, npublish, rate);
    f->publish_full_per_s = median(rate, ROUNDS);
    f->artifacts_full_per_s = 2 * f->publish_full_per_s;
    weir_store_close(s);

    if (server_bin) {
        char url[64];
        pid_t pid = server_start(server_bin, path, url, sizeof url);
        if (weir_store_open(url, 0, &s)) die("opening the store through weir-server");
        hits += lookup_rounds(s, nexec, nlookups, tids[0], ids, rate);
        f->http_lookups_per_s = median(rate, ROUNDS);
        publish_rounds(s, input_id, 2 * npublish, npublish, rate);
        f->http_publish_per_s = median(rate, ROUNDS);
        weir_store_close(s);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        nlookups *= 2;
    }

    stat(path, &st);
    printf("weir store: %s (%.1f MB), %ld executions, %ld of %ld lookups hit\n", path,
           (double)st.st_size / 1e6, nexec + (server_bin ? 3 : 2) * npublish, hits, nlookups);
    free(ids);
    free(batch);
    free(props);
    free(keys);
}

static int run_mlmd(const char *python, const char *script, const char *dir, long nexec,
                    long nlookups, long npublish, struct figures *f) {
    char cmd[4096], line[8192], last[8192] = "";
    FILE *p;
    cJSON *j;
    snprintf(cmd, sizeof cmd, "'%s' '%s' --dir '%s' --executions %ld --lookups %ld --publish %ld",
             python, script, dir, nexec, nlookups, npublish);
    p = popen(cmd, "r");
    if (!p) {
        perror("bench_meta: popen");
        return -1;
    }
    while (fgets(line, sizeof line, p)) {
        if (line[0] == '{') snprintf(last, sizeof last, "%s", line);
        else fputs(line, stdout);
    }
    if (pclose(p) != 0 || !last[0]) {
        fprintf(stderr, "bench_meta: %s failed\n", cmd);
        return -1;
    }
    j = cJSON_Parse(last);
    if (!j) {
        fprintf(stderr, "bench_meta: bad JSON from %s: %s\n", script, last);
        return -1;
    }
#define GET(name) (cJSON_GetNumberValue(cJSON_GetObjectItem(j, #name)))
    f->load_per_s = GET(load_per_s);
    f->lookups_per_s = GET(lookups_per_s);
    f->publish_per_s = GET(publish_per_s);
    f->artifacts_per_s = GET(artifacts_per_s);
    f->lookups = (long)GET(lookups);
    f->publish = (long)GET(publish);
#undef GET
    cJSON_Delete(j);
    return 0;
}

static void row(const char *name, const char *unit, double weir, double mlmd, int have_mlmd) {
    printf("%-34s %12.0f %-14s", name, weir, unit);
    if (have_mlmd && mlmd > 0) printf(" %12.0f   %7.1fx", mlmd, weir / mlmd);
    printf("\n");
}

int main(int argc, char **argv) {
    const char *dir = "/tmp", *python = NULL, *script = "bench/bench_mlmd.py", *server = NULL;
    long nexec = 100000, nlookups = 20000, npublish = 2000;
    struct figures w = {0}, m = {0};
    int have_mlmd = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) dir = argv[++i];
        else if (strcmp(argv[i], "--executions") == 0 && i + 1 < argc) nexec = atol(argv[++i]);
        else if (strcmp(argv[i], "--lookups") == 0 && i + 1 < argc) nlookups = atol(argv[++i]);
        else if (strcmp(argv[i], "--publish") == 0 && i + 1 < argc) npublish = atol(argv[++i]);
        else if (strcmp(argv[i], "--compare") == 0 && i + 1 < argc) python = argv[++i];
        else if (strcmp(argv[i], "--script") == 0 && i + 1 < argc) script = argv[++i];
        else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) server = argv[++i];
        else {
            fprintf(stderr, "usage: bench_meta [--dir DIR] [--executions N] [--lookups N] "
                            "[--publish N] [--compare PYTHON [--script bench/bench_mlmd.py]] "
                            "[--server WEIR_SERVER_BIN]\n");
            return 2;
        }
    }
    if (nexec < 1 || nlookups < ROUNDS || npublish < ROUNDS) {
        fprintf(stderr, "bench_meta: --executions must be >= 1, --lookups and --publish >= 5\n");
        return 2;
    }
    bench_weir(dir, nexec, nlookups, npublish, server, &w);
    if (python) have_mlmd = run_mlmd(python, script, dir, nexec, nlookups, npublish, &m) == 0;

    printf("\n%-34s %12s %-14s", "", "weir", "");
    if (have_mlmd) printf(" %12s   %8s", "ml-metadata", "weir/MLMD");
    printf("\n");
    row("load (1,000 per transaction)", "executions/s", w.load_per_s, m.load_per_s, have_mlmd);
    row("cache lookup", "lookups/s", w.lookups_per_s, m.lookups_per_s, have_mlmd);
    row("publish, synchronous=NORMAL (WAL)", "executions/s", w.publish_per_s, 0, 0);
    row("publish, synchronous=NORMAL (WAL)", "artifacts/s", w.artifacts_per_s, 0, 0);
    row("publish, synchronous=FULL", "executions/s", w.publish_full_per_s, m.publish_per_s,
        have_mlmd);
    row("publish, synchronous=FULL", "artifacts/s", w.artifacts_full_per_s, m.artifacts_per_s,
        have_mlmd);
    if (server) {
        printf("\n%-34s %12s %-14s %12s   %8s\n", "through weir-server (HTTP + JSON)", "weir", "",
               "direct", "http/direct");
        printf("%-34s %12.0f %-14s %12.0f   %7.2fx\n", "cache lookup", w.http_lookups_per_s,
               "lookups/s", w.lookups_per_s, w.http_lookups_per_s / w.lookups_per_s);
        printf("%-34s %12.0f %-14s %12.0f   %7.2fx\n", "publish, synchronous=NORMAL (WAL)",
               w.http_publish_per_s, "executions/s", w.publish_per_s,
               w.http_publish_per_s / w.publish_per_s);
    }
    if (have_mlmd)
        printf("(ml-metadata: %ld lookups, %ld publishes through its Python API, default SQLite "
               "settings: rollback journal, synchronous=FULL)\n", m.lookups, m.publish);
    return 0;
}
