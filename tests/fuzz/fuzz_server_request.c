/* fuzz_server_request.c — libFuzzer target: arbitrary bytes as the body of
 * a POST to weir-server's write API (srv_api_meta in server/api_meta.c),
 * against a SQLite store in a temporary directory that holds an artifact
 * type "Examples" (INT "span"), an execution type "Trainer", a context type
 * "pipeline" and one node of each (artifact 1, execution 1, contexts 1 and
 * 2), so that the seeds' events, attributions and parent links find what
 * they name in whatever order they run. The first byte picks the endpoint
 * (modulo 8, so a seed may start with a digit), the rest is the body. The
 * answer must be a code the write API may give (201, 400, 404, 409, 413,
 * 500, 501, 503) and, unless the answer's own cap was hit, one JSON object.
 * Accepted writes stay in the store; it is recreated every RESET_EVERY
 * inputs so that it stays small. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"
#include "weir/core.h"
#include "weir/meta.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_BODY ((size_t)1 << 20)
#define MAX_ANSWER ((size_t)1 << 20)
#define MAX_ARENA ((size_t)64 << 20)
#define RESET_EVERY 5000

static const char *const endpoints[] = {"types",        "artifacts",       "executions", "contexts",
                                        "events",       "attributions",    "parent_contexts",
                                        "publish"};
#define NENDPOINTS (sizeof endpoints / sizeof endpoints[0])

static srv s;
static char dir[64];
static char path[96];
static unsigned long runs;

static void die(const char *what) {
    fprintf(stderr, "fuzz_server_request: %s: %s\n", what, weir_error_message());
    abort();
}

/* The store file and SQLite's companions. */
static void remove_store(void) {
    static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        char p[128];
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        (void)unlink(p);
    }
}

static void open_store(void) {
    static const weir_meta_type_prop span[] = {{"span", WEIR_META_INT}};
    const weir_meta_type types[] = {
        {.kind = WEIR_META_ARTIFACT_TYPE, .name = "Examples", .props = span, .nprops = 1},
        {.kind = WEIR_META_EXECUTION_TYPE, .name = "Trainer"},
        {.kind = WEIR_META_CONTEXT_TYPE, .name = "pipeline"},
    };
    remove_store();
    if (weir_store_open(path, 0, &s.store)) die("weir_store_open");
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        int64_t id = 0;
        if (weir_store_put_type(s.store, &types[i], 0, &id)) die("weir_store_put_type");
    }
    const weir_meta_artifact a = {.type_name = "Examples", .uri = "file:///seed"};
    const weir_meta_execution x = {.type_name = "Trainer"};
    const weir_meta_context c[2] = {{.type_name = "pipeline", .name = "seed-parent"},
                                    {.type_name = "pipeline", .name = "seed-child"}};
    int64_t ids[2];
    if (weir_store_put_artifacts(s.store, &a, 1, ids) || weir_store_put_executions(s.store, &x, 1, ids) ||
        weir_store_put_contexts(s.store, c, 2, ids))
        die("putting the seed nodes");
}

static void cleanup(void) {
    weir_store_close(s.store);
    s.store = NULL;
    if (dir[0]) {
        remove_store();
        (void)rmdir(dir);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof dir, "/tmp/weir-fuzz-server-XXXXXX");
    if (!mkdtemp(dir)) die("mkdtemp");
    snprintf(path, sizeof path, "%s/store.sqlite", dir);
    s.cfg.max_body = MAX_BODY; /* also the JSON parse limit of a body */
    open_store();
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size - 1 > MAX_BODY) return 0; /* http.c answers 413 before parsing */
    if (++runs % RESET_EVERY == 0) {
        weir_store_close(s.store);
        s.store = NULL;
        open_store();
    }
    const char *rest = endpoints[data[0] % NENDPOINTS];
    char url[64];
    snprintf(url, sizeof url, "/api/v1/%s", rest);
    char *body = malloc(size);
    if (!body) return 0;
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';

    /* as http.c's route() does with a handle from its pool */
    srv_req r = {.s = &s, .conn = NULL, .method = "POST", .url = url, .body = body,
                 .body_len = size - 1, .store = s.store, .fd = -1};
    if (weir_arena_new(64 * 1024, MAX_ARENA, &r.arena)) die("weir_arena_new");
    srv_jw_init(&r.w, MAX_ANSWER);
    weir_error_clear();
    unsigned code = srv_api_meta(&r, rest);
    switch (code) {
    case 201: case 400: case 404: case 409: case 413: case 500: case 501: case 503: break;
    default:
        fprintf(stderr, "fuzz_server_request: POST %s answered %u\n", url, code);
        abort();
    }
    /* a POST never streams a file */
    if (r.stream || r.fd >= 0) abort();
    if (r.w.rc == WEIR_OK) {
        cJSON *j = cJSON_ParseWithLength((const char *)r.w.b.data, r.w.b.len);
        if (!cJSON_IsObject(j)) {
            fprintf(stderr, "fuzz_server_request: POST %s answered %u with not one JSON object: %.*s\n",
                    url, code, (int)r.w.b.len, (const char *)r.w.b.data);
            abort();
        }
        cJSON_Delete(j);
    }
    srv_jw_free(&r.w);
    weir_arena_free(r.arena);
    free(body);
    return 0;
}
