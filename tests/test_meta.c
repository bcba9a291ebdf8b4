/*
 * tests/test_meta.c — lib/meta: the ML-Metadata store, on SQLite and, when
 * $WEIR_TEST_PG_URL names a PostgreSQL database (scripts/pg-test.sh starts
 * one) and the build has WEIR_POSTGRES, on PostgreSQL too; and through
 * weir-server on each.
 *
 * Round trips of every node kind and value type, state transitions, type
 * idempotency and conflicts, events with paths, contexts with attributions,
 * associations and parents, put_execution's atomicity, the cache lookup,
 * reopening, read-only use, and refusing stores weir must not touch.
 * Databases go under $WEIR_TEST_TMP/test_meta/ (ctest sets it); some tests
 * look at the database directly, as ml-metadata would (sql_int/sql_exec:
 * SQL both dialects read, identifiers double-quoted).
 *
 * Group "meta" runs every test on SQLite; group "meta_postgres" runs the
 * same store tests on PostgreSQL, each from an empty schema (weir_test_meta,
 * dropped and created again; the URL's search_path points there). Groups
 * "meta_rest" and "meta_rest_postgres" run them through a weir-server
 * started per test over a fresh SQLite file or that schema (the store's
 * http:// backend, lib/meta/rest.c). Tests of
 * SQLite files as such (WAL, query plans, text files, missing files) stay
 * SQLite-only; PostgreSQL has its own for schema creation and refusals.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#ifdef WEIR_HAVE_POSTGRES
#include <libpq-fe.h>
#endif

#include "weir/core.h"
#include "weir/meta.h"

#include "../lib/meta/meta_internal.h"

/* ---------------------------------------------------------------- helpers */

static char tmp_root[1024];
static char path_buf[1200];
static weir_arena_t *arena;

/* The backend of the group being run. */
enum { BK_SQLITE, BK_PG, BK_REST };
static int backend = BK_SQLITE;
/* Group "meta_rest": a weir-server (built beside this test) over a fresh
 * SQLite file per test, reached through the store's http:// backend. */
#define REST_TOKEN "test-token-7f3a"
static char rest_db[1200];      /* the file (or PostgreSQL URL) behind the server */
static int rest_pg;             /* meta_rest_postgres: the server on PostgreSQL */
static char rest_bin[1100];     /* bin/weir-server */
static pid_t rest_pid;
#ifdef WEIR_HAVE_POSTGRES
#define PG_SCHEMA "weir_test_meta"
static char pg_admin_url[1024];  /* $WEIR_TEST_PG_URL */
static char pg_url[1100];        /* the same with search_path = PG_SCHEMA */
#endif

static int setup_group(void **state) {
    const char *t = getenv("WEIR_TEST_TMP");
    char cwd[512];
    (void)state;
    if (!t || !t[0]) {
        if (!getcwd(cwd, sizeof cwd)) return -1;
        snprintf(tmp_root, sizeof tmp_root, "%s/tmp", cwd);
    } else {
        snprintf(tmp_root, sizeof tmp_root, "%s", t);
    }
    mkdir(tmp_root, 0755);
    strncat(tmp_root, "/test_meta", sizeof tmp_root - strlen(tmp_root) - 1);
    if (mkdir(tmp_root, 0755) != 0 && errno != EEXIST) return -1;
    return weir_arena_new(0, 0, &arena) == WEIR_OK ? 0 : -1;
}

static int teardown_group(void **state) {
    (void)state;
    weir_arena_free(arena);
    return 0;
}

#ifdef WEIR_HAVE_POSTGRES
static void pg_quiet(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

static PGconn *pg_connect(const char *url) {
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) fail_msg("connecting to %s: %s", url, PQerrorMessage(c));
    PQsetNoticeProcessor(c, pg_quiet, NULL); /* "drop cascades to ..." */
    return c;
}

static void pg_exec(const char *url, const char *sql) {
    PGconn *c = pg_connect(url);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
}

/* One integer (or boolean, as 0/1) from SQL; -1 when there is no row. */
static int64_t pg_int(const char *url, const char *sql) {
    PGconn *c = pg_connect(url);
    PGresult *r = PQexec(c, sql);
    int64_t v = -1;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", sql, PQerrorMessage(c));
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0)) {
        const char *t = PQgetvalue(r, 0, 0);
        v = t[0] == 't' ? 1 : t[0] == 'f' ? 0 : strtoll(t, NULL, 10);
    }
    PQclear(r);
    PQfinish(c);
    return v;
}

/* An empty test schema: what a fresh SQLite file is to the SQLite group. */
static void pg_reset_schema(void) {
    pg_exec(pg_admin_url, "DROP SCHEMA IF EXISTS " PG_SCHEMA " CASCADE");
    pg_exec(pg_admin_url, "CREATE SCHEMA " PG_SCHEMA);
}
#endif

/* Stops the server; 0 when it exited cleanly (a sanitizer build exits
 * non-zero on a leak or an error it reported into its log). */
static int rest_stop(void) {
    int st = 0;
    if (rest_pid > 0) {
        kill(rest_pid, SIGTERM);
        waitpid(rest_pid, &st, 0);
    }
    rest_pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Starts weir-server on the SQLite file `db` and puts its URL in path_buf. */
static void rest_start(const char *db, const char *name) {
    char log[1300], tok[1300], line[512];
    snprintf(log, sizeof log, "%s/%s.server.log", tmp_root, name);
    snprintf(tok, sizeof tok, "%s/token", tmp_root);
    FILE *f = fopen(tok, "w");
    assert_non_null(f);
    fputs(REST_TOKEN "\n", f);
    fclose(f);
    unlink(log);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 2);
        execl(rest_bin, rest_bin, "--store", db, "--listen", "127.0.0.1:0", "--token-file", tok,
              (char *)NULL);
        _exit(127);
    }
    rest_pid = pid;
    /* the first line says where it listens */
    for (int i = 0; i < 500; i++) {
        f = fopen(log, "r");
        const char *at = NULL;
        if (f) {
            if (fgets(line, sizeof line, f)) at = strstr(line, "listening on http://");
            fclose(f);
        }
        if (at) {
            int port = 0;
            assert_int_equal(sscanf(at, "listening on http://127.0.0.1:%d/", &port), 1);
            snprintf(path_buf, sizeof path_buf, "http://127.0.0.1:%d", port);
            return;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            rest_pid = 0;
            fail_msg("%s exited before listening; see %s", rest_bin, log);
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    fail_msg("%s did not say where it listens within 5 s; see %s", rest_bin, log);
}

/* A path for a fresh database file (any old one and its WAL removed); on
 * PostgreSQL the URL of an empty schema; for meta_rest a new weir-server
 * over a fresh file, and its URL. */
static const char *fresh_db(const char *name) {
    char p[1300];
    if (backend == BK_REST && rest_stop())
        fail_msg("weir-server (%s) did not exit cleanly; see its log in %s", rest_db, tmp_root);
#ifdef WEIR_HAVE_POSTGRES
    if (backend == BK_PG) {
        pg_reset_schema();
        snprintf(path_buf, sizeof path_buf, "%s", pg_url);
        return path_buf;
    }
    if (backend == BK_REST && rest_pg) {
        pg_reset_schema();
        snprintf(rest_db, sizeof rest_db, "%s", pg_url);
        rest_start(rest_db, name);
        return path_buf;
    }
#endif
    snprintf(path_buf, sizeof path_buf, "%s/%s.db", tmp_root, name);
    unlink(path_buf);
    snprintf(p, sizeof p, "%s-wal", path_buf);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path_buf);
    unlink(p);
    if (backend == BK_REST) {
        snprintf(rest_db, sizeof rest_db, "%s", path_buf);
        rest_start(rest_db, name);
    }
    return path_buf;
}

static void assert_msg_has(const char *needle) {
    const char *m = weir_error_message();
    if (!strstr(m, needle)) fail_msg("error message \"%s\" lacks \"%s\"", m, needle);
}

static weir_store_t *open_fresh(const char *name) {
    weir_store_t *s = NULL;
    assert_int_equal(weir_store_open(fresh_db(name), 0, &s), WEIR_OK);
    assert_non_null(s);
    return s;
}

/* One integer from SQL run on the file directly (a second connection). */
static int64_t sql_int(const char *path, const char *sql) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
#ifdef WEIR_HAVE_POSTGRES
    if (backend == BK_PG) return pg_int(path, sql);
    if (backend == BK_REST && rest_pg) return pg_int(rest_db, sql);
#endif
    if (backend == BK_REST) path = rest_db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void sql_exec(const char *path, const char *sql) {
    sqlite3 *db = NULL;
#ifdef WEIR_HAVE_POSTGRES
    if (backend == BK_PG || (backend == BK_REST && rest_pg)) {
        pg_exec(backend == BK_PG ? path : rest_db, sql);
        return;
    }
#endif
    if (backend == BK_REST) path = rest_db;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static int64_t put_type(weir_store_t *s, weir_meta_type_kind kind, const char *name,
                        const weir_meta_type_prop *p, size_t n) {
    weir_meta_type t = {0, kind, name, NULL, NULL, p, n};
    int64_t id = 0;
    assert_int_equal(weir_store_put_type(s, &t, 0, &id), WEIR_OK);
    assert_true(id > 0);
    return id;
}

static const weir_meta_type_prop no_props[1] = {{"unused", WEIR_META_INT}};

static int64_t put_exec(weir_store_t *s, int64_t type_id, weir_meta_execution_state st,
                        const char *cache_key) {
    weir_meta_prop custom[] = {{WEIR_META_CACHE_KEY, weir_meta_string(cache_key)}};
    weir_meta_execution e = {.type_id = type_id, .state = st, .custom = custom,
                             .ncustom = cache_key ? 1 : 0};
    int64_t id = 0;
    assert_int_equal(weir_store_put_executions(s, &e, 1, &id), WEIR_OK);
    return id;
}

static void assert_value_equal(const weir_meta_value *want, const weir_meta_value *got) {
    assert_int_equal(got->type, want->type);
    switch (want->type) {
    case WEIR_META_INT:
    case WEIR_META_BOOLEAN: assert_true(got->i == want->i); break;
    case WEIR_META_DOUBLE: assert_memory_equal(&got->d, &want->d, sizeof got->d); break;
    case WEIR_META_STRING: assert_string_equal(got->s, want->s); break;
    case WEIR_META_STRUCT:
    case WEIR_META_PROTO:
        assert_int_equal(got->len, want->len);
        assert_memory_equal(got->s, want->s, want->len);
        assert_int_equal(got->s[got->len], 0);
        break;
    default: fail_msg("unexpected value type %d", (int)want->type);
    }
}

static void assert_props_equal(const weir_meta_prop *want, size_t nwant,
                               const weir_meta_prop *got, size_t ngot) {
    assert_int_equal(ngot, nwant);
    for (size_t i = 0; i < nwant; i++) {
        const weir_meta_prop *g = weir_meta_prop_find(got, ngot, want[i].name);
        if (!g) fail_msg("property '%s' missing", want[i].name);
        assert_value_equal(&want[i].value, &g->value);
    }
}

/* ---------------------------------------------------------- open, schema */

static void test_open_creates_mlmd_schema(void **state) {
    const char *p = fresh_db("schema");
    weir_store_t *s = NULL;
    (void)state;
    assert_int_equal(weir_store_open_sqlite(p, &s), WEIR_OK);
    assert_string_equal(weir_store_backend(s), "sqlite");
    weir_store_close(s);
    assert_int_equal(sql_int(p, "SELECT schema_version FROM MLMDEnv"), 10);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM MLMDEnv"), 1);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN"
                                " ('Type','ParentType','TypeProperty','Artifact','ArtifactProperty',"
                                "'Execution','ExecutionProperty','Event','EventPath','MLMDEnv',"
                                "'Context','ContextProperty','ParentContext','Association',"
                                "'Attribution')"),
                     15);
    /* MLMD's own index for property lookups, which the cache lookup uses */
    assert_int_equal(sql_int(p, "SELECT count(*) FROM sqlite_master WHERE type='index' AND"
                                " name='idx_execution_property_string'"),
                     1);
    /* MLMD's simple types, so MLMD can open the store read-only */
    assert_int_equal(sql_int(p, "SELECT count(*) FROM Type WHERE name LIKE 'mlmd.%'"), 9);
    assert_int_equal(sql_int(p, "SELECT type_kind FROM Type WHERE name='mlmd.Train'"), 0);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode='wal'"),
                     1);
    /* opening again changes nothing */
    assert_int_equal(weir_store_open_sqlite(p, &s), WEIR_OK);
    weir_store_close(s);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM Type"), 9);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM MLMDEnv"), 1);
}

static void test_reopen_existing_store(void **state) {
    weir_store_t *s = open_fresh("reopen");
    char path[1200];
    weir_meta_type_prop tp[] = {{"span", WEIR_META_INT}};
    weir_meta_prop props[] = {{"span", weir_meta_int(42)}};
    weir_meta_artifact a = {.type_name = "Examples", .uri = "file:///r/1",
                            .state = WEIR_META_ARTIFACT_LIVE, .props = props, .nprops = 1};
    weir_meta_artifact *got = NULL;
    weir_meta_type *t = NULL;
    int64_t tid, aid = 0;
    size_t n = 0;
    (void)state;
    snprintf(path, sizeof path, "%s", path_buf);
    tid = put_type(s, WEIR_META_ARTIFACT_TYPE, "Examples", tp, 1);
    assert_int_equal(weir_store_put_artifacts(s, &a, 1, &aid), WEIR_OK);
    weir_store_close(s);

    assert_int_equal(weir_store_open(path, 0, &s), WEIR_OK);
    assert_int_equal(weir_store_get_type(s, WEIR_META_ARTIFACT_TYPE, "Examples", NULL, arena, &t),
                     WEIR_OK);
    assert_true(t->id == tid);
    assert_int_equal(t->nprops, 1);
    assert_int_equal(weir_store_get_artifacts_by_ids(s, &aid, 1, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(got[0].uri, "file:///r/1");
    assert_string_equal(got[0].type_name, "Examples");
    assert_props_equal(props, 1, got[0].props, got[0].nprops);
    /* the type put again after reopening is the same type */
    assert_true(put_type(s, WEIR_META_ARTIFACT_TYPE, "Examples", tp, 1) == tid);
    weir_store_close(s);
    weir_arena_reset(arena);
}

static void test_refuses_other_schema_versions(void **state) {
    weir_store_t *s = open_fresh("version");
    char path[1200];
    (void)state;
    snprintf(path, sizeof path, "%s", path_buf);
    weir_store_close(s);

    sql_exec(path, "UPDATE \"MLMDEnv\" SET schema_version = 9");
    s = NULL;
    assert_int_equal(weir_store_open(path, 0, &s), WEIR_EUNSUPPORTED);
    assert_null(s);
    assert_msg_has("schema version 9");
    assert_msg_has("older");
    assert_msg_has(path);

    sql_exec(path, "UPDATE \"MLMDEnv\" SET schema_version = 11");
    assert_int_equal(weir_store_open(path, 0, &s), WEIR_EUNSUPPORTED);
    assert_msg_has("newer");

    sql_exec(path, "DELETE FROM \"MLMDEnv\"");
    assert_int_equal(weir_store_open(path, 0, &s), WEIR_EAGAIN);
    assert_msg_has("no schema_version");

    sql_exec(path, "INSERT INTO \"MLMDEnv\" VALUES (10)");
    assert_int_equal(weir_store_open(path, 0, &s), WEIR_OK);
    weir_store_close(s);
}

static void test_refuses_foreign_databases(void **state) {
    const char *p = fresh_db("foreign");
    char path[1200];
    weir_store_t *s = NULL;
    FILE *f;
    (void)state;
    snprintf(path, sizeof path, "%s", p);
    sql_exec(path, "CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)");
    assert_int_equal(weir_store_open_sqlite(path, &s), WEIR_EUNSUPPORTED);
    assert_msg_has("not an ML-Metadata store");
    assert_null(s);
    /* nothing of MLMD's was added to it, not even the WAL journal mode */
    assert_int_equal(sql_int(path, "SELECT count(*) FROM sqlite_master WHERE name='Artifact'"), 0);
    assert_int_equal(sql_int(path, "SELECT count(*) FROM pragma_journal_mode"
                                   " WHERE journal_mode='wal'"), 0);

    /* an MLMDEnv that says 10 over tables missing a column */
    p = fresh_db("broken");
    snprintf(path, sizeof path, "%s", p);
    assert_int_equal(weir_store_open_sqlite(path, &s), WEIR_OK);
    weir_store_close(s);
    sql_exec(path, "DROP TABLE EventPath; CREATE TABLE EventPath (event_id INT)");
    assert_int_equal(weir_store_open_sqlite(path, &s), WEIR_ECORRUPT);
    assert_msg_has("step_key");

    /* not SQLite at all */
    p = fresh_db("text");
    f = fopen(p, "w");
    assert_non_null(f);
    fputs("this is a text file, not a database, and it is long enough to have a header\n", f);
    fclose(f);
    assert_int_equal(weir_store_open_sqlite(p, &s), WEIR_ECORRUPT);
    assert_msg_has(p);
}

static void test_readonly(void **state) {
    weir_store_sqlite_opts ro = {.readonly = 1};
    weir_store_t *s = NULL, *r = NULL;
    char path[1200];
    int64_t tid, id = 0;
    weir_meta_artifact *got = NULL;
    size_t n = 0;
    (void)state;
    /* a missing file, and an empty one, are no store to read */
    assert_int_equal(weir_store_open_sqlite_ex(fresh_db("ro_empty"), &ro, &r), WEIR_ENOENT);
    assert_msg_has("no such file");
    assert_null(r);
    sql_exec(path_buf, "PRAGMA user_version = 0");
    assert_int_equal(weir_store_open_sqlite_ex(path_buf, &ro, &r), WEIR_ENOENT);
    assert_msg_has("holds no store");

    s = open_fresh("ro");
    snprintf(path, sizeof path, "%s", path_buf);
    tid = put_type(s, WEIR_META_ARTIFACT_TYPE, "Data", NULL, 0);
    weir_meta_artifact a = {.type_id = tid, .uri = "u"};
    assert_int_equal(weir_store_put_artifacts(s, &a, 1, &id), WEIR_OK);
    /* a reader beside a writer (WAL) */
    assert_int_equal(weir_store_open_sqlite_ex(path, &ro, &r), WEIR_OK);
    assert_int_equal(weir_store_get_artifacts_by_type(r, tid, NULL, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(weir_store_put_artifacts(r, &a, 1, &id), WEIR_EPERM);
    assert_msg_has("read-only");
    /* the writer's next commit is visible to the open reader */
    assert_int_equal(weir_store_put_artifacts(s, &a, 1, &id), WEIR_OK);
    assert_int_equal(weir_store_get_artifacts_by_type(r, tid, NULL, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 2);
    weir_store_close(r);
    weir_store_close(s);
    weir_arena_reset(arena);
}

/* ----------------------------------------------------------------- types */

static void test_type_idempotent_and_conflicts(void **state) {
    weir_store_t *s = open_fresh("types");
    weir_meta_type_prop p2[] = {{"span", WEIR_META_INT}, {"names", WEIR_META_STRING}};
    weir_meta_type_prop p2_reordered[] = {{"names", WEIR_META_STRING}, {"span", WEIR_META_INT}};
    weir_meta_type_prop p2_wrong[] = {{"span", WEIR_META_DOUBLE}, {"names", WEIR_META_STRING}};
    weir_meta_type_prop p3[] = {{"span", WEIR_META_INT}, {"names", WEIR_META_STRING},
                                {"version", WEIR_META_INT}};
    weir_meta_type_prop p_dup[] = {{"a", WEIR_META_INT}, {"a", WEIR_META_INT}};
    weir_meta_type_prop p_bad[] = {{"a", (weir_meta_value_type)9}};
    weir_meta_type t = {0, WEIR_META_ARTIFACT_TYPE, "Examples", NULL, "desc", p2, 2};
    weir_meta_type *got = NULL, *all = NULL;
    int64_t id = 0, id2 = 0;
    size_t n = 0;
    (void)state;

    assert_int_equal(weir_store_put_type(s, &t, 0, &id), WEIR_OK);
    assert_true(id > 9); /* after MLMD's nine simple types */
    t.props = p2_reordered;
    assert_int_equal(weir_store_put_type(s, &t, 0, &id2), WEIR_OK);
    assert_true(id2 == id);

    t.props = p2_wrong;
    id2 = -1;
    assert_int_equal(weir_store_put_type(s, &t, WEIR_META_TYPE_CAN_ADD_FIELDS, &id2),
                     WEIR_ECONFLICT);
    assert_true(id2 == -1);
    assert_msg_has("'span'");
    assert_msg_has("INT");

    t.props = p3;
    t.nprops = 3;
    assert_int_equal(weir_store_put_type(s, &t, 0, &id2), WEIR_ECONFLICT);
    assert_msg_has("'version'");
    assert_int_equal(weir_store_put_type(s, &t, WEIR_META_TYPE_CAN_ADD_FIELDS, &id2), WEIR_OK);
    assert_true(id2 == id);
    assert_int_equal(weir_store_get_type_by_id(s, id, arena, &got), WEIR_OK);
    assert_int_equal(got->nprops, 3);
    assert_string_equal(got->name, "Examples");
    assert_string_equal(got->description, "desc");
    assert_null(got->version);
    assert_int_equal(got->kind, WEIR_META_ARTIFACT_TYPE);

    /* the stored type now has 3; declaring 2 omits one */
    t.props = p2;
    t.nprops = 2;
    assert_int_equal(weir_store_put_type(s, &t, 0, &id2), WEIR_ECONFLICT);
    assert_msg_has("lacks");
    assert_int_equal(weir_store_put_type(s, &t, WEIR_META_TYPE_CAN_OMIT_FIELDS, &id2), WEIR_OK);
    assert_true(id2 == id);

    /* same name, other kind or other version: another type */
    t.kind = WEIR_META_EXECUTION_TYPE;
    assert_int_equal(weir_store_put_type(s, &t, 0, &id2), WEIR_OK);
    assert_true(id2 != id);
    t.kind = WEIR_META_ARTIFACT_TYPE;
    t.version = "2";
    assert_int_equal(weir_store_put_type(s, &t, 0, &id2), WEIR_OK);
    assert_true(id2 != id);
    assert_int_equal(weir_store_get_type(s, WEIR_META_ARTIFACT_TYPE, "Examples", "2", arena, &got),
                     WEIR_OK);
    assert_true(got->id == id2);
    assert_string_equal(got->version, "2");

    /* bad definitions */
    weir_meta_type bad = {0, WEIR_META_ARTIFACT_TYPE, "Bad", NULL, NULL, p_dup, 2};
    assert_int_equal(weir_store_put_type(s, &bad, 0, &id2), WEIR_EINVAL);
    assert_msg_has("declared twice");
    bad.props = p_bad;
    bad.nprops = 1;
    assert_int_equal(weir_store_put_type(s, &bad, 0, &id2), WEIR_EINVAL);
    bad.name = "";
    bad.nprops = 0;
    assert_int_equal(weir_store_put_type(s, &bad, 0, &id2), WEIR_EINVAL);
    bad.name = "X";
    bad.kind = (weir_meta_type_kind)7;
    assert_int_equal(weir_store_put_type(s, &bad, 0, &id2), WEIR_EINVAL);

    assert_int_equal(weir_store_get_type(s, WEIR_META_CONTEXT_TYPE, "nope", NULL, arena, &got),
                     WEIR_ENOENT);
    assert_msg_has("'nope'");
    /* listings leave MLMD's simple types out, as MLMD's own do */
    assert_int_equal(weir_store_get_types(s, WEIR_META_ARTIFACT_TYPE, arena, &all, &n), WEIR_OK);
    assert_int_equal(n, 2);
    assert_string_equal(all[0].name, "Examples");
    assert_int_equal(weir_store_get_types(s, WEIR_META_EXECUTION_TYPE, arena, &all, &n), WEIR_OK);
    assert_int_equal(n, 1);
    weir_store_close(s);
    weir_arena_reset(arena);
}

/* ------------------------------------------------------------- artifacts */

static const unsigned char struct_bytes[] = {0x0a, 0x07, 0x0a, 0x01, 'k', 0x12, 0x02,
                                             0x20, 0x01, 0x00, 0xff, 0x00};
static const unsigned char any_bytes[] = "\x0a\x03t/x\x12\x03\x00\x01\x02";

static void test_artifact_round_trip_all_values(void **state) {
    weir_store_t *s = open_fresh("values");
    weir_meta_type_prop tp[] = {{"i", WEIR_META_INT},        {"d", WEIR_META_DOUBLE},
                                {"s", WEIR_META_STRING},     {"st", WEIR_META_STRUCT},
                                {"p", WEIR_META_PROTO},      {"b", WEIR_META_BOOLEAN},
                                {"empty", WEIR_META_STRING}, {"neg", WEIR_META_DOUBLE}};
    weir_meta_prop props[] = {
        {"i", weir_meta_int(INT64_MIN)},
        {"d", weir_meta_double(0.1 + 0.2)},
        {"s", weir_meta_string("caf\xc3\xa9 \"q\" 'x' ; DROP TABLE Artifact; --")},
        {"st", weir_meta_struct(struct_bytes, sizeof struct_bytes)},
        {"p", weir_meta_proto(any_bytes, sizeof any_bytes - 1)},
        {"b", weir_meta_bool(1)},
        {"empty", weir_meta_string("")},
        {"neg", weir_meta_double(-1e-300)}};
    weir_meta_prop custom[] = {
        {"max", weir_meta_int(INT64_MAX)},
        {"f", weir_meta_bool(0)},
        {"st", weir_meta_string("mlmd-structless")}, /* same name as a property: allowed */
        {"blob", weir_meta_proto("\x0a\x01z", 3)},
        {"s1", weir_meta_struct("", 0)}};
    weir_meta_artifact a = {.type_name = "All", .uri = "s3://bucket/p/1/", .state =
                            WEIR_META_ARTIFACT_LIVE, .name = "the-one", .external_id = "ext:1",
                            .props = props, .nprops = 8, .custom = custom, .ncustom = 5};
    weir_meta_artifact *got = NULL;
    int64_t tid, id = 0, ids[3];
    size_t n = 0;
    (void)state;
    tid = put_type(s, WEIR_META_ARTIFACT_TYPE, "All", tp, 8);
    assert_int_equal(weir_store_put_artifacts(s, &a, 1, &id), WEIR_OK);
    assert_true(id > 0);
    assert_int_equal(weir_store_get_artifacts_by_ids(s, &id, 1, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 1);
    assert_true(got[0].id == id);
    assert_true(got[0].type_id == tid);
    assert_string_equal(got[0].type_name, "All");
    assert_string_equal(got[0].uri, "s3://bucket/p/1/");
    assert_int_equal(got[0].state, WEIR_META_ARTIFACT_LIVE);
    assert_string_equal(got[0].name, "the-one");
    assert_string_equal(got[0].external_id, "ext:1");
    assert_true(got[0].create_time_ms > 1600000000000LL);
    assert_true(got[0].update_time_ms == got[0].create_time_ms);
    assert_props_equal(props, 8, got[0].props, got[0].nprops);
    assert_props_equal(custom, 5, got[0].custom, got[0].ncustom);

    /* stored as MLMD stores them */
    assert_int_equal(sql_int(path_buf, "SELECT count(*) FROM \"ArtifactProperty\" WHERE name='st'"
                                       " AND NOT is_custom_property"
                                       " AND string_value LIKE 'mlmd-struct::%'"),
                     1);
    /* an Any: base64 text on SQLite (as MLMD's SQLite source), raw bytes in
     * a BYTEA on PostgreSQL */
    assert_int_equal(sql_int(path_buf, backend != BK_PG && !rest_pg
                                           ? "SELECT count(*) FROM \"ArtifactProperty\" WHERE"
                                             " name='p' AND proto_value = 'CgN0L3gSAwABAg=='"
                                           : "SELECT count(*) FROM \"ArtifactProperty\" WHERE"
                                             " name='p' AND encode(proto_value, 'base64')"
                                             " = 'CgN0L3gSAwABAg=='"),
                     1);
    assert_int_equal(sql_int(path_buf, "SELECT bool_value FROM \"ArtifactProperty\" WHERE name='b'"),
                     1);

    /* by type, by uri; missing ids are skipped, order follows the ids */
    weir_meta_artifact b = {.type_id = tid, .uri = "s3://bucket/p/1/"};
    int64_t id_b = 0;
    assert_int_equal(weir_store_put_artifacts(s, &b, 1, &id_b), WEIR_OK);
    ids[0] = id_b;
    ids[1] = 9999;
    ids[2] = id;
    assert_int_equal(weir_store_get_artifacts_by_ids(s, ids, 3, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 2);
    assert_true(got[0].id == id_b && got[1].id == id);
    assert_null(got[0].name);
    assert_int_equal(got[0].nprops, 0);
    assert_int_equal(weir_store_get_artifacts_by_uri(s, "s3://bucket/p/1/", arena, &got, &n),
                     WEIR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(weir_store_get_artifacts_by_uri(s, "s3://other", arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(weir_store_get_artifacts_by_type(s, tid, NULL, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 2);
    weir_store_close(s);
    weir_arena_reset(arena);
}

static void test_property_validation(void **state) {
    weir_store_t *s = open_fresh("validation");
    weir_meta_type_prop tp[] = {{"span", WEIR_META_INT}};
    weir_meta_prop undeclared[] = {{"spam", weir_meta_int(1)}};
    weir_meta_prop wrong[] = {{"span", weir_meta_string("7")}};
    weir_meta_prop ok[] = {{"span", weir_meta_int(7)}};
    weir_meta_prop twice[] = {{"x", weir_meta_int(1)}, {"x", weir_meta_int(2)}};
    weir_meta_prop novalue[] = {{"x", {.type = WEIR_META_UNKNOWN}}};
    weir_meta_prop nullstr[] = {{"x", weir_meta_string(NULL)}};
    weir_meta_artifact arts[2] = {{.type_name = "Examples", .uri = "a", .props = ok, .nprops = 1},
                                  {.type_name = "Examples", .uri = "b", .props = undeclared,
                                   .nprops = 1}};
    weir_meta_artifact *got = NULL;
    int64_t tid, eid, ids[2] = {-1, -1};
    size_t n = 0;
    (void)state;
    tid = put_type(s, WEIR_META_ARTIFACT_TYPE, "Examples", tp, 1);
    eid = put_type(s, WEIR_META_EXECUTION_TYPE, "Run", NULL, 0);

    /* the second fails: the batch leaves nothing behind */
    assert_int_equal(weir_store_put_artifacts(s, arts, 2, ids), WEIR_EINVAL);
    assert_msg_has("'spam' is not declared by type 'Examples'");
    assert_true(ids[0] == -1);
    assert_int_equal(weir_store_get_artifacts_by_type(s, tid, NULL, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 0);

    arts[1].props = wrong;
    assert_int_equal(weir_store_put_artifacts(s, arts, 2, ids), WEIR_ETYPE);
    assert_msg_has("STRING");
    /* anything goes as a custom property */
    arts[1].props = NULL;
    arts[1].nprops = 0;
    arts[1].custom = undeclared;
    arts[1].ncustom = 1;
    assert_int_equal(weir_store_put_artifacts(s, arts, 2, ids), WEIR_OK);
    assert_true(ids[0] > 0 && ids[1] > ids[0]);

    arts[1].custom = twice;
    arts[1].ncustom = 2;
    assert_int_equal(weir_store_put_artifacts(s, &arts[1], 1, ids), WEIR_EINVAL);
    assert_msg_has("twice");
    arts[1].custom = novalue;
    arts[1].ncustom = 1;
    assert_int_equal(weir_store_put_artifacts(s, &arts[1], 1, ids), WEIR_EINVAL);
    arts[1].custom = nullstr;
    assert_int_equal(weir_store_put_artifacts(s, &arts[1], 1, ids), WEIR_EINVAL);

    /* type by a name that does not exist, by none, and of the wrong kind */
    weir_meta_artifact c = {.type_name = "Nope"};
    assert_int_equal(weir_store_put_artifacts(s, &c, 1, ids), WEIR_ENOENT);
    assert_msg_has("'Nope'");
    c.type_name = NULL;
    assert_int_equal(weir_store_put_artifacts(s, &c, 1, ids), WEIR_EINVAL);
    c.type_id = eid;
    assert_int_equal(weir_store_put_artifacts(s, &c, 1, ids), WEIR_ETYPE);
    assert_msg_has("execution type");
    c.type_id = 12345;
    assert_int_equal(weir_store_put_artifacts(s, &c, 1, ids), WEIR_ENOENT);
    c.type_id = tid;
    c.state = (weir_meta_artifact_state)42;
    assert_int_equal(weir_store_put_artifacts(s, &c, 1, ids), WEIR_EINVAL);
    assert_int_equal(weir_store_get_artifacts_by_type(s, tid, NULL, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 2);
    /* a NULL array with a count is a caller bug */
    assert_int_equal(weir_store_put_artifacts(s, NULL, 1, ids), WEIR_EINVAL);
    weir_store_close(s);
    weir_arena_reset(arena);
}

static void test_artifact_state_transitions(void **state) {
    weir_store_t *s = open_fresh("states");
    weir_meta_type_prop tp[] = {{"span", WEIR_META_INT}, {"note", WEIR_META_STRING}};
    weir_meta_prop p1[] = {{"span", weir_meta_int(1)}, {"note", weir_meta_string("first")}};
    weir_meta_prop p2[] = {{"span", weir_meta_int(2)}};
    weir_meta_artifact a = {.type_name = "Examples", .uri = "file:///x/",
                            .state = WEIR_META_ARTIFACT_PENDING, .name = "x",
                            .external_id = "e1", .props = p1, .nprops = 2};
    weir_meta_artifact *got = NULL;
    int64_t id = 0, id2 = 0, created;
    size_t n = 0;
    static const weir_meta_artifact_state order[] = {
        WEIR_META_ARTIFACT_LIVE, WEIR_META_ARTIFACT_MARKED_FOR_DELETION,
        WEIR_META_ARTIFACT_DELETED, WEIR_META_ARTIFACT_ABANDONED, WEIR_META_ARTIFACT_REFERENCE,
        WEIR_META_ARTIFACT_UNKNOWN};
    (void)state;
    put_type(s, WEIR_META_ARTIFACT_TYPE, "Examples", tp, 2);
    assert_int_equal(weir_store_put_artifacts(s, &a, 1, &id), WEIR_OK);
    assert_int_equal(weir_store_get_artifacts_by_ids(s, &id, 1, arena, &got, &n), WEIR_OK);
    assert_int_equal(got[0].state, WEIR_META_ARTIFACT_PENDING);
    created = got[0].create_time_ms;

    /* update: the properties are replaced; name and external id kept */
    usleep(2000);
    a.id = id;
    a.name = NULL;
    a.external_id = NULL;
    a.props = p2;
    a.nprops = 1;
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        a.state = order[i];
        assert_int_equal(weir_store_put_artifacts(s, &a, 1, &id2), WEIR_OK);
        assert_true(id2 == id);
        assert_int_equal(weir_store_get_artifacts_by_ids(s, &id, 1, arena, &got, &n), WEIR_OK);
        assert_int_equal(got[0].state, order[i]);
    }
    assert_true(got[0].create_time_ms == created);
    assert_true(got[0].update_time_ms > created);
    assert_string_equal(got[0].name, "x");
    assert_string_equal(got[0].external_id, "e1");
    assert_props_equal(p2, 1, got[0].props, got[0].nprops);

    /* updating an id that does not exist */
    a.id = id + 100;
    assert_int_equal(weir_store_put_artifacts(s, &a, 1, &id2), WEIR_ENOENT);
    assert_msg_has("id 0 to insert");
    /* names are unique within a type, external ids among artifacts */
    weir_meta_artifact dup = {.type_name = "Examples", .name = "x"};
    assert_int_equal(weir_store_put_artifacts(s, &dup, 1, &id2), WEIR_EEXIST);
    assert_msg_has("unique");
    dup.name = "y";
    dup.external_id = "e1";
    assert_int_equal(weir_store_put_artifacts(s, &dup, 1, &id2), WEIR_EEXIST);
    weir_store_close(s);
    weir_arena_reset(arena);
}

static void test_execution_states_round_trip(void **state) {
    weir_store_t *s = open_fresh("exec_states");
    weir_meta_type_prop tp[] = {{"steps", WEIR_META_INT}};
    weir_meta_prop p[] = {{"steps", weir_meta_int(100)}};
    weir_meta_prop c[] = {{"loss", weir_meta_double(0.25)}, {"ok", weir_meta_bool(1)}};
    weir_meta_execution e = {.type_name = "Trainer", .state = WEIR_META_EXEC_NEW, .name = "t1",
                             .props = p, .nprops = 1, .custom = c, .ncustom = 2};
    weir_meta_execution *got = NULL;
    int64_t tid, id = 0;
    size_t n = 0;
    (void)state;
    tid = put_type(s, WEIR_META_EXECUTION_TYPE, "Trainer", tp, 1);
    assert_int_equal(weir_store_put_executions(s, &e, 1, &id), WEIR_OK);
    e.id = id;
    for (int st = WEIR_META_EXEC_NEW; st <= WEIR_META_EXEC_CANCELED; st++) {
        e.state = (weir_meta_execution_state)st;
        assert_int_equal(weir_store_put_executions(s, &e, 1, &id), WEIR_OK);
        assert_int_equal(weir_store_get_executions_by_ids(s, &id, 1, arena, &got, &n), WEIR_OK);
        assert_int_equal(n, 1);
        assert_int_equal(got[0].state, st);
    }
    assert_string_equal(got[0].name, "t1");
    assert_string_equal(got[0].type_name, "Trainer");
    assert_props_equal(p, 1, got[0].props, got[0].nprops);
    assert_props_equal(c, 2, got[0].custom, got[0].ncustom);
    assert_int_equal(weir_store_get_executions_by_type(s, tid, NULL, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 1);
    e.state = (weir_meta_execution_state)7;
    assert_int_equal(weir_store_put_executions(s, &e, 1, &id), WEIR_EINVAL);
    assert_string_equal(weir_meta_execution_state_name(WEIR_META_EXEC_CACHED), "CACHED");
    assert_string_equal(weir_meta_artifact_state_name(WEIR_META_ARTIFACT_MARKED_FOR_DELETION),
                        "MARKED_FOR_DELETION");
    assert_string_equal(weir_meta_event_type_name(WEIR_META_EVENT_PENDING_OUTPUT),
                        "PENDING_OUTPUT");
    assert_string_equal(weir_meta_value_type_name(WEIR_META_PROTO), "PROTO");
    assert_string_equal(weir_meta_execution_state_name((weir_meta_execution_state)99), "?");
    weir_store_close(s);
    weir_arena_reset(arena);
}

static void test_list_paging(void **state) {
    weir_store_t *s = open_fresh("paging");
    weir_meta_execution *got = NULL;
    int64_t tid, ids[7];
    size_t n = 0;
    weir_meta_list l = {0, 3, 0};
    (void)state;
    tid = put_type(s, WEIR_META_EXECUTION_TYPE, "T", NULL, 0);
    put_type(s, WEIR_META_EXECUTION_TYPE, "Other", no_props, 1);
    for (int i = 0; i < 7; i++) ids[i] = put_exec(s, tid, WEIR_META_EXEC_COMPLETE, NULL);
    assert_int_equal(weir_store_get_executions_by_type(s, tid, &l, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 3);
    assert_true(got[0].id == ids[0] && got[2].id == ids[2]);
    l.cursor = got[2].id;
    assert_int_equal(weir_store_get_executions_by_type(s, tid, &l, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 3);
    assert_true(got[0].id == ids[3]);
    l.cursor = got[2].id;
    assert_int_equal(weir_store_get_executions_by_type(s, tid, &l, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 1);
    assert_true(got[0].id == ids[6]);
    l = (weir_meta_list){0, 2, 1};
    assert_int_equal(weir_store_get_executions_by_type(s, tid, &l, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 2);
    assert_true(got[0].id == ids[6] && got[1].id == ids[5]);
    l.cursor = got[1].id;
    assert_int_equal(weir_store_get_executions_by_type(s, tid, &l, arena, &got, &n), WEIR_OK);
    assert_true(n == 2 && got[0].id == ids[4]);
    weir_store_close(s);
    weir_arena_reset(arena);
}

/* ---------------------------------------------------------------- events */

static void test_events_with_paths(void **state) {
    weir_store_t *s = open_fresh("events");
    int64_t at, et, a[2], e = 0;
    weir_meta_artifact arts[2] = {{.type_name = "D", .uri = "a"}, {.type_name = "D", .uri = "b"}};
    weir_meta_step p_in[] = {{"examples", 0}, {NULL, 3}, {"", 0}};
    weir_meta_step p_out[] = {{NULL, -1}};
    weir_meta_event ev[2];
    weir_meta_event *got = NULL;
    size_t n = 0;
    (void)state;
    at = put_type(s, WEIR_META_ARTIFACT_TYPE, "D", NULL, 0);
    et = put_type(s, WEIR_META_EXECUTION_TYPE, "E", NULL, 0);
    (void)at;
    assert_int_equal(weir_store_put_artifacts(s, arts, 2, a), WEIR_OK);
    e = put_exec(s, et, WEIR_META_EXEC_RUNNING, NULL);
    ev[0] = (weir_meta_event){a[0], e, WEIR_META_EVENT_INPUT, p_in, 3, 0};
    ev[1] = (weir_meta_event){a[1], e, WEIR_META_EVENT_OUTPUT, p_out, 1, 1234567};
    assert_int_equal(weir_store_put_events(s, ev, 2), WEIR_OK);

    assert_int_equal(weir_store_get_events_by_execution_ids(s, &e, 1, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 2);
    assert_true(got[0].artifact_id == a[0] && got[0].execution_id == e);
    assert_int_equal(got[0].type, WEIR_META_EVENT_INPUT);
    assert_true(got[0].time_ms > 1600000000000LL);
    assert_int_equal(got[0].npath, 3);
    assert_string_equal(got[0].path[0].key, "examples");
    assert_null(got[0].path[1].key);
    assert_true(got[0].path[1].index == 3);
    assert_string_equal(got[0].path[2].key, ""); /* an empty key is still a key */
    assert_int_equal(got[1].type, WEIR_META_EVENT_OUTPUT);
    assert_true(got[1].time_ms == 1234567);
    assert_int_equal(got[1].npath, 1);
    assert_true(got[1].path[0].index == -1);

    assert_int_equal(weir_store_get_events_by_artifact_ids(s, &a[1], 1, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 1);
    assert_true(got[0].artifact_id == a[1]);

    /* unique per (artifact, execution, type); the batch is all or nothing */
    weir_meta_event again[2] = {{a[1], e, WEIR_META_EVENT_INPUT, NULL, 0, 0},
                                {a[0], e, WEIR_META_EVENT_INPUT, NULL, 0, 0}};
    assert_int_equal(weir_store_put_events(s, again, 2), WEIR_EEXIST);
    assert_int_equal(weir_store_get_events_by_artifact_ids(s, &a[1], 1, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 1);
    /* links to rows that do not exist, and typeless events */
    weir_meta_event bad = {a[0] + 50, e, WEIR_META_EVENT_OUTPUT, NULL, 0, 0};
    assert_int_equal(weir_store_put_events(s, &bad, 1), WEIR_ENOENT);
    assert_msg_has("artifact");
    bad = (weir_meta_event){a[0], e + 50, WEIR_META_EVENT_OUTPUT, NULL, 0, 0};
    assert_int_equal(weir_store_put_events(s, &bad, 1), WEIR_ENOENT);
    assert_msg_has("execution");
    bad = (weir_meta_event){a[0], e, WEIR_META_EVENT_UNKNOWN, NULL, 0, 0};
    assert_int_equal(weir_store_put_events(s, &bad, 1), WEIR_EINVAL);
    assert_int_equal(sql_int(path_buf, "SELECT count(*) FROM \"Event\""), 2);
    assert_int_equal(sql_int(path_buf, "SELECT count(*) FROM \"EventPath\""), 4);
    weir_store_close(s);
    weir_arena_reset(arena);
}

/* -------------------------------------------------------------- contexts */

static void test_contexts_and_parents(void **state) {
    weir_store_t *s = open_fresh("contexts");
    weir_meta_type_prop tp[] = {{"owner", WEIR_META_STRING}};
    weir_meta_prop props[] = {{"owner", weir_meta_string("ml-team")}};
    int64_t pt, rt, at, et, c[3], a = 0, e;
    weir_meta_context ctx[3] = {
        {.type_name = "pipeline", .name = "churn", .props = props, .nprops = 1},
        {.type_name = "run", .name = "churn-1"},
        {.type_name = "run", .name = "churn-2"}};
    weir_meta_context *got = NULL, *one = NULL;
    weir_meta_artifact *arts = NULL;
    weir_meta_execution *execs = NULL;
    size_t n = 0;
    (void)state;
    pt = put_type(s, WEIR_META_CONTEXT_TYPE, "pipeline", tp, 1);
    rt = put_type(s, WEIR_META_CONTEXT_TYPE, "run", NULL, 0);
    at = put_type(s, WEIR_META_ARTIFACT_TYPE, "D", NULL, 0);
    et = put_type(s, WEIR_META_EXECUTION_TYPE, "E", NULL, 0);
    assert_int_equal(weir_store_put_contexts(s, ctx, 3, c), WEIR_OK);
    assert_int_equal(weir_store_get_context_by_type_and_name(s, pt, "churn", arena, &one), WEIR_OK);
    assert_true(one->id == c[0]);
    assert_string_equal(one->type_name, "pipeline");
    assert_props_equal(props, 1, one->props, one->nprops);
    assert_int_equal(weir_store_get_context_by_type_and_name(s, rt, "churn", arena, &one),
                     WEIR_ENOENT);
    assert_msg_has("'churn'");
    /* a context needs a name, and the name is unique within its type */
    weir_meta_context noname = {.type_id = rt};
    int64_t x;
    assert_int_equal(weir_store_put_contexts(s, &noname, 1, &x), WEIR_EINVAL);
    assert_int_equal(weir_store_put_contexts(s, &ctx[1], 1, &x), WEIR_EEXIST);
    assert_int_equal(weir_store_get_contexts_by_type(s, rt, NULL, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 2);

    /* parents: idempotent, no cycles, both directions readable */
    weir_meta_parent_context pc[] = {{c[1], c[0]}, {c[2], c[0]}, {c[1], c[0]}};
    assert_int_equal(weir_store_put_parent_contexts(s, pc, 3), WEIR_OK);
    assert_int_equal(weir_store_get_parent_contexts(s, c[1], arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 1);
    assert_true(got[0].id == c[0]);
    assert_int_equal(weir_store_get_child_contexts(s, c[0], arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 2);
    assert_true(got[0].id == c[1] && got[1].id == c[2]);
    weir_meta_parent_context cycle = {c[0], c[1]};
    assert_int_equal(weir_store_put_parent_contexts(s, &cycle, 1), WEIR_EINVAL);
    assert_msg_has("cycle");
    weir_meta_parent_context self = {c[2], c[2]};
    assert_int_equal(weir_store_put_parent_contexts(s, &self, 1), WEIR_EINVAL);
    weir_meta_parent_context deep[] = {{c[2], c[1]}, {c[0], c[2]}}; /* 2->1 ok; 0->2 closes */
    assert_int_equal(weir_store_put_parent_contexts(s, deep, 2), WEIR_EINVAL);
    assert_int_equal(weir_store_get_parent_contexts(s, c[2], arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 1); /* the first of the failed batch was rolled back */
    weir_meta_parent_context missing = {c[0] + 100, c[0]};
    assert_int_equal(weir_store_put_parent_contexts(s, &missing, 1), WEIR_ENOENT);

    /* attributions and associations */
    weir_meta_artifact art = {.type_id = at, .uri = "u"};
    assert_int_equal(weir_store_put_artifacts(s, &art, 1, &a), WEIR_OK);
    e = put_exec(s, et, WEIR_META_EXEC_COMPLETE, NULL);
    weir_meta_attribution atr[] = {{c[1], a}, {c[0], a}, {c[1], a}};
    weir_meta_association asc[] = {{c[1], e}};
    assert_int_equal(weir_store_put_attributions_associations(s, atr, 3, asc, 1), WEIR_OK);
    assert_int_equal(weir_store_get_contexts_by_artifact(s, a, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(weir_store_get_contexts_by_execution(s, e, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(got[0].name, "churn-1");
    assert_int_equal(weir_store_get_artifacts_by_context(s, c[1], NULL, arena, &arts, &n), WEIR_OK);
    assert_true(n == 1 && arts[0].id == a);
    assert_int_equal(weir_store_get_executions_by_context(s, c[1], NULL, arena, &execs, &n),
                     WEIR_OK);
    assert_true(n == 1 && execs[0].id == e);
    assert_int_equal(weir_store_get_executions_by_context(s, c[2], NULL, arena, &execs, &n),
                     WEIR_OK);
    assert_int_equal(n, 0);
    weir_meta_attribution bad[] = {{c[2], a}, {c[2], a + 9}};
    assert_int_equal(weir_store_put_attributions_associations(s, bad, 2, NULL, 0), WEIR_ENOENT);
    assert_int_equal(weir_store_get_artifacts_by_context(s, c[2], NULL, arena, &arts, &n), WEIR_OK);
    assert_int_equal(n, 0);
    assert_int_equal(sql_int(path_buf, "SELECT count(*) FROM \"Attribution\""), 2);
    weir_store_close(s);
    weir_arena_reset(arena);
}

/* --------------------------------------------------------- put_execution */

static void test_put_execution(void **state) {
    weir_store_t *s = open_fresh("put_execution");
    weir_meta_type_prop ep[] = {{"steps", WEIR_META_INT}};
    int64_t dt, mt, et, ct, in_id = 0, eid = 0, aids[3], cids[2], eid2 = 0, aids2[1], cids2[2];
    weir_meta_artifact input = {.type_name = "Examples", .uri = "file:///in/",
                                .state = WEIR_META_ARTIFACT_LIVE};
    weir_meta_artifact model = {.type_name = "Model", .uri = "file:///model/1/",
                                .state = WEIR_META_ARTIFACT_PENDING};
    weir_meta_artifact blessing = {.type_name = "Model", .uri = "file:///model/bless/"};
    weir_meta_step p_in[] = {{"examples", 0}};
    weir_meta_step p_out[] = {{"model", 0}};
    weir_meta_step p_out2[] = {{"model", 1}};
    weir_meta_prop eprops[] = {{"steps", weir_meta_int(10)}};
    weir_meta_prop ecustom[] = {{WEIR_META_CACHE_KEY, weir_meta_string("k1")}};
    weir_meta_execution e = {.type_name = "Trainer", .state = WEIR_META_EXEC_COMPLETE,
                             .props = eprops, .nprops = 1, .custom = ecustom, .ncustom = 1};
    weir_meta_context ctx[2] = {{.type_name = "run", .name = "r1"},
                                {.type_name = "run", .name = "r-node"}};
    weir_meta_event *ev = NULL;
    weir_meta_artifact *arts = NULL;
    weir_meta_execution *execs = NULL;
    weir_meta_context *cs = NULL;
    size_t n = 0;
    (void)state;
    dt = put_type(s, WEIR_META_ARTIFACT_TYPE, "Examples", NULL, 0);
    mt = put_type(s, WEIR_META_ARTIFACT_TYPE, "Model", NULL, 0);
    et = put_type(s, WEIR_META_EXECUTION_TYPE, "Trainer", ep, 1);
    ct = put_type(s, WEIR_META_CONTEXT_TYPE, "run", NULL, 0);
    (void)dt;
    (void)mt;
    assert_int_equal(weir_store_put_artifacts(s, &input, 1, &in_id), WEIR_OK);

    weir_meta_artifact_event items[3] = {
        {NULL, in_id, WEIR_META_EVENT_INPUT, p_in, 1},
        {&model, 0, WEIR_META_EVENT_OUTPUT, p_out, 1},
        {&blessing, 0, WEIR_META_EVENT_UNKNOWN, NULL, 0}}; /* artifact, no event */
    assert_int_equal(weir_store_put_execution(s, &e, items, 3, ctx, 2, &eid, aids, cids), WEIR_OK);
    assert_true(eid > 0);
    assert_true(aids[0] == in_id);
    assert_true(aids[1] > in_id && aids[2] > aids[1]);
    assert_true(cids[0] > 0 && cids[1] > cids[0]);

    assert_int_equal(weir_store_get_events_by_execution_ids(s, &eid, 1, arena, &ev, &n), WEIR_OK);
    assert_int_equal(n, 2);
    assert_true(ev[0].artifact_id == in_id && ev[0].type == WEIR_META_EVENT_INPUT);
    assert_string_equal(ev[0].path[0].key, "examples");
    assert_true(ev[1].artifact_id == aids[1] && ev[1].type == WEIR_META_EVENT_OUTPUT);
    /* every artifact attributed to every context, the execution associated */
    for (int j = 0; j < 2; j++) {
        assert_int_equal(weir_store_get_artifacts_by_context(s, cids[j], NULL, arena, &arts, &n),
                         WEIR_OK);
        assert_int_equal(n, 3);
        assert_int_equal(weir_store_get_executions_by_context(s, cids[j], NULL, arena, &execs, &n),
                         WEIR_OK);
        assert_true(n == 1 && execs[0].id == eid);
    }
    assert_int_equal(weir_store_get_executions_by_ids(s, &eid, 1, arena, &execs, &n), WEIR_OK);
    assert_true(execs[0].type_id == et);
    assert_props_equal(ecustom, 1, execs[0].custom, execs[0].ncustom);

    /* a second execution: contexts without id are reused by type and name;
     * the model output is updated by id to LIVE */
    weir_meta_artifact model_live = model;
    model_live.id = aids[1];
    model_live.state = WEIR_META_ARTIFACT_LIVE;
    weir_meta_artifact_event items2[1] = {{&model_live, 0, WEIR_META_EVENT_INPUT, p_out2, 1}};
    weir_meta_execution e2 = e;
    e2.custom = NULL;
    e2.ncustom = 0;
    assert_int_equal(weir_store_put_execution(s, &e2, items2, 1, ctx, 2, &eid2, aids2, cids2),
                     WEIR_OK);
    assert_true(cids2[0] == cids[0] && cids2[1] == cids[1]);
    assert_true(aids2[0] == aids[1]);
    assert_int_equal(weir_store_get_artifacts_by_ids(s, aids2, 1, arena, &arts, &n), WEIR_OK);
    assert_int_equal(arts[0].state, WEIR_META_ARTIFACT_LIVE);
    assert_int_equal(weir_store_get_contexts_by_type(s, ct, NULL, arena, &cs, &n), WEIR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(weir_store_get_events_by_artifact_ids(s, &aids[1], 1, arena, &ev, &n), WEIR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ev[1].path[0].index, 0);
    assert_string_equal(ev[1].path[0].key, "model");

    /* no items, no contexts */
    assert_int_equal(weir_store_put_execution(s, &e2, NULL, 0, NULL, 0, &eid2, NULL, NULL), WEIR_OK);
    assert_int_equal(weir_store_get_executions_by_type(s, et, NULL, arena, &execs, &n), WEIR_OK);
    assert_int_equal(n, 3);
    weir_store_close(s);
    weir_arena_reset(arena);
}

static void test_put_execution_is_atomic(void **state) {
    weir_store_t *s = open_fresh("atomic");
    weir_meta_type_prop mp[] = {{"acc", WEIR_META_DOUBLE}};
    weir_meta_prop good[] = {{"acc", weir_meta_double(0.9)}};
    weir_meta_prop bad[] = {{"acc", weir_meta_string("high")}};
    weir_meta_artifact m1 = {.type_name = "Model", .uri = "file:///m/1", .props = good,
                             .nprops = 1};
    weir_meta_artifact m2 = {.type_name = "Model", .uri = "file:///m/2", .props = bad,
                             .nprops = 1};
    weir_meta_execution e = {.type_name = "Trainer", .state = WEIR_META_EXEC_COMPLETE};
    weir_meta_context ctx[2] = {{.type_name = "run", .name = "r1"},
                                {.type_name = "nosuchtype", .name = "n"}};
    weir_meta_artifact_event items[2] = {{&m1, 0, WEIR_META_EVENT_OUTPUT, NULL, 0},
                                         {&m2, 0, WEIR_META_EVENT_OUTPUT, NULL, 0}};
    int64_t eid = -7, aids[2] = {-7, -7}, cids[2] = {-7, -7};
    const char *tables[] = {"Artifact", "ArtifactProperty", "Execution", "Event", "Context",
                            "Attribution", "Association"};
    char sql[128];
    (void)state;
    put_type(s, WEIR_META_ARTIFACT_TYPE, "Model", mp, 1);
    put_type(s, WEIR_META_EXECUTION_TYPE, "Trainer", NULL, 0);
    put_type(s, WEIR_META_CONTEXT_TYPE, "run", NULL, 0);

    /* fails at the second artifact, after the first was written */
    assert_int_equal(weir_store_put_execution(s, &e, items, 2, ctx, 1, &eid, aids, cids),
                     WEIR_ETYPE);
    assert_msg_has("item 1");
    /* fails at the second context, after artifacts, execution, events, the
     * first context and its links were written */
    items[1].artifact = &m1;
    items[1].event_type = WEIR_META_EVENT_DECLARED_OUTPUT;
    assert_int_equal(weir_store_put_execution(s, &e, items, 2, ctx, 2, &eid, aids, cids),
                     WEIR_ENOENT);
    assert_msg_has("nosuchtype");
    /* fails at an event: the same (artifact, execution, type) twice */
    weir_meta_artifact_event twice[2] = {{&m1, 0, WEIR_META_EVENT_OUTPUT, NULL, 0},
                                         {NULL, 0, WEIR_META_EVENT_OUTPUT, NULL, 0}};
    assert_int_equal(weir_store_put_execution(s, &e, twice, 1, ctx, 1, &eid, aids, cids), WEIR_OK);
    twice[1].artifact_id = aids[0];
    e.id = eid;
    assert_int_equal(weir_store_put_execution(s, &e, twice, 2, NULL, 0, &eid, aids, cids),
                     WEIR_EEXIST);
    /* out-parameters untouched by the failure */
    assert_true(aids[1] == -7);
    weir_store_close(s);
    /* exactly what the one successful call wrote, nothing else */
    for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
        snprintf(sql, sizeof sql, "SELECT count(*) FROM \"%s\"", tables[i]);
        assert_int_equal(sql_int(path_buf, sql), 1);
    }
    assert_int_equal(sql_int(path_buf, "SELECT count(*) FROM \"Artifact\" WHERE uri='file:///m/2'"),
                     0);
}

/* ----------------------------------------------------------------- cache */

static void test_cache_lookup(void **state) {
    weir_store_t *s = open_fresh("cache");
    int64_t t1, t2, old_ok, new_ok, other_type, hit = -1;
    (void)state;
    t1 = put_type(s, WEIR_META_EXECUTION_TYPE, "Trainer", NULL, 0);
    t2 = put_type(s, WEIR_META_EXECUTION_TYPE, "Pusher", NULL, 0);
    assert_int_equal(weir_store_find_cached_execution(s, "k", 0, &hit), WEIR_OK);
    assert_true(hit == 0);

    old_ok = put_exec(s, t1, WEIR_META_EXEC_COMPLETE, "k");
    new_ok = put_exec(s, t1, WEIR_META_EXEC_COMPLETE, "k");
    put_exec(s, t1, WEIR_META_EXEC_FAILED, "k");    /* newest, but failed */
    put_exec(s, t1, WEIR_META_EXEC_CACHED, "k");    /* a cache hit is no source */
    put_exec(s, t1, WEIR_META_EXEC_RUNNING, "k");
    put_exec(s, t1, WEIR_META_EXEC_COMPLETE, "k2"); /* another key */
    put_exec(s, t1, WEIR_META_EXEC_COMPLETE, NULL);
    assert_int_equal(weir_store_find_cached_execution(s, "k", t1, &hit), WEIR_OK);
    assert_true(hit == new_ok);
    assert_true(hit != old_ok);
    assert_int_equal(weir_store_find_cached_execution(s, "k", 0, &hit), WEIR_OK);
    assert_true(hit == new_ok);
    /* within another type: none, until one exists there */
    assert_int_equal(weir_store_find_cached_execution(s, "k", t2, &hit), WEIR_OK);
    assert_true(hit == 0);
    other_type = put_exec(s, t2, WEIR_META_EXEC_COMPLETE, "k");
    assert_int_equal(weir_store_find_cached_execution(s, "k", t2, &hit), WEIR_OK);
    assert_true(hit == other_type);
    assert_int_equal(weir_store_find_cached_execution(s, "k", t1, &hit), WEIR_OK);
    assert_true(hit == new_ok);
    /* the key must be a custom property: a declared one named so is not it */
    weir_meta_type_prop kp[] = {{WEIR_META_CACHE_KEY, WEIR_META_STRING}};
    int64_t t3 = put_type(s, WEIR_META_EXECUTION_TYPE, "Declared", kp, 1), id = 0;
    weir_meta_prop p[] = {{WEIR_META_CACHE_KEY, weir_meta_string("k3")}};
    weir_meta_execution e = {.type_id = t3, .state = WEIR_META_EXEC_COMPLETE, .props = p,
                             .nprops = 1};
    assert_int_equal(weir_store_put_executions(s, &e, 1, &id), WEIR_OK);
    assert_int_equal(weir_store_find_cached_execution(s, "k3", 0, &hit), WEIR_OK);
    assert_true(hit == 0);
    /* a newer execution that fails later stops being a hit */
    weir_meta_prop c[] = {{WEIR_META_CACHE_KEY, weir_meta_string("k")}};
    weir_meta_execution upd = {.id = new_ok, .type_id = t1, .state = WEIR_META_EXEC_FAILED,
                               .custom = c, .ncustom = 1};
    assert_int_equal(weir_store_put_executions(s, &upd, 1, &id), WEIR_OK);
    assert_int_equal(weir_store_find_cached_execution(s, "k", t1, &hit), WEIR_OK);
    assert_true(hit == old_ok);
    weir_store_close(s);
}

/* The lookup must use MLMD's (name, is_custom_property, string_value) index,
 * not scan ExecutionProperty: ask SQLite for the plan of the very SQL the
 * store runs. */
static void test_cache_lookup_uses_index(void **state) {
    weir_store_t *s = open_fresh("cache_plan");
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char sql[2048], plan[2048] = "";
    (void)state;
    weir_store_close(s);
    snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", weir__meta_sqlite_cache_sql);
    assert_int_equal(sqlite3_open_v2(path_buf, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        strncat(plan, (const char *)sqlite3_column_text(st, 3), sizeof plan - strlen(plan) - 2);
        strcat(plan, "\n");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (!strstr(plan, "idx_execution_property_string")) fail_msg("plan without the index:\n%s", plan);
    if (strstr(plan, "SCAN P") || strstr(plan, "SCAN E")) fail_msg("plan scans a table:\n%s", plan);
}

/* Many executions sharing one type: the lookup still answers from the
 * index, with the right row, while unrelated keys abound. */
static void test_cache_lookup_many(void **state) {
    weir_store_t *s = open_fresh("cache_many");
    int64_t t, want = 0, hit = 0;
    char key[32];
    (void)state;
    t = put_type(s, WEIR_META_EXECUTION_TYPE, "T", NULL, 0);
    for (int i = 0; i < 2000; i++) {
        weir_meta_prop c[1];
        weir_meta_execution e = {.type_id = t, .custom = c, .ncustom = 1,
                                 .state = (i % 3) ? WEIR_META_EXEC_COMPLETE
                                                  : WEIR_META_EXEC_FAILED};
        int64_t id = 0;
        snprintf(key, sizeof key, "key-%d", i % 250);
        c[0] = (weir_meta_prop){WEIR_META_CACHE_KEY, weir_meta_string(key)};
        assert_int_equal(weir_store_put_executions(s, &e, 1, &id), WEIR_OK);
        if (i % 250 == 7 && e.state == WEIR_META_EXEC_COMPLETE) want = id;
    }
    assert_int_equal(weir_store_find_cached_execution(s, "key-7", t, &hit), WEIR_OK);
    assert_true(hit == want);
    assert_int_equal(weir_store_find_cached_execution(s, "key-250", t, &hit), WEIR_OK);
    assert_true(hit == 0);
    weir_store_close(s);
}

/* ------------------------------------------------------ choosing a backend */

/* weir_store_open() picks the backend by the text: URLs go to PostgreSQL
 * (and the message never repeats a password), the rest are SQLite paths. */
static void test_open_dispatches_by_url(void **state) {
    weir_store_t *s = NULL;
    (void)state;
    assert_int_equal(weir_store_open(fresh_db("dispatch"), 0, &s), WEIR_OK);
    assert_string_equal(weir_store_backend(s), "sqlite");
    weir_store_close(s);
    s = NULL;
#ifdef WEIR_HAVE_POSTGRES
    /* nothing listens on port 1 */
    assert_int_equal(weir_store_open("postgresql://weir:s3cret@127.0.0.1:1/none", 0, &s),
                     WEIR_EIO);
    assert_msg_has("cannot connect");
    assert_msg_has("weir:***@127.0.0.1:1");
    if (strstr(weir_error_message(), "s3cret")) fail_msg("password in: %s", weir_error_message());
    assert_int_equal(weir_store_open("postgres://127.0.0.1:1/none", 1, &s), WEIR_EIO);
#else
    assert_int_equal(weir_store_open("postgresql://weir:s3cret@127.0.0.1:1/none", 0, &s),
                     WEIR_EUNSUPPORTED);
    assert_msg_has("-DWEIR_POSTGRES=ON");
    if (strstr(weir_error_message(), "s3cret")) fail_msg("password in: %s", weir_error_message());
    assert_int_equal(weir_store_open_postgres("postgres://h/db", &s), WEIR_EUNSUPPORTED);
#endif
    assert_null(s);
}

/* What logs show of a store: a URL's password never. */
static void test_redact(void **state) {
    (void)state;
    static const char *const cases[][2] = {
        {"postgresql://weir:s3cret@db:5432/weir", "postgresql://weir:***@db:5432/weir"},
        {"postgres://u:p@h/d?sslmode=require", "postgres://u:***@h/d?sslmode=require"},
        {"postgresql://weir@db/weir", "postgresql://weir@db/weir"},
        {"postgresql://db:5432/weir", "postgresql://db:5432/weir"},
        {"/var/lib/weir/metadata.sqlite", "/var/lib/weir/metadata.sqlite"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *r = weir_store_redact(cases[i][0]);
        assert_non_null(r);
        assert_string_equal(r, cases[i][1]);
        free(r);
    }
}

/* A second handle opened read-only beside a writer: it reads, sees the
 * writer's commits, and refuses to write. */
static void test_readonly_beside_writer(void **state) {
    weir_store_t *s = open_fresh("ro_beside"), *r = NULL;
    char path[1200];
    int64_t tid, id = 0;
    weir_meta_artifact *got = NULL;
    size_t n = 0;
    (void)state;
    snprintf(path, sizeof path, "%s", path_buf);
    tid = put_type(s, WEIR_META_ARTIFACT_TYPE, "Data", NULL, 0);
    weir_meta_artifact a = {.type_id = tid, .uri = "u"};
    assert_int_equal(weir_store_put_artifacts(s, &a, 1, &id), WEIR_OK);
    assert_int_equal(weir_store_open(path, 1, &r), WEIR_OK);
    assert_int_equal(weir_store_get_artifacts_by_type(r, tid, NULL, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(weir_store_put_artifacts(r, &a, 1, &id), WEIR_EPERM);
    assert_msg_has("read-only");
    assert_int_equal(weir_store_put_artifacts(s, &a, 1, &id), WEIR_OK);
    assert_int_equal(weir_store_get_artifacts_by_type(r, tid, NULL, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 2);
    weir_store_close(r);
    weir_store_close(s);
    weir_arena_reset(arena);
}

#ifdef WEIR_HAVE_POSTGRES
/* -------------------------------------------------- PostgreSQL-only tests */

static void test_pg_open_creates_mlmd_schema(void **state) {
    const char *p = fresh_db("schema");
    weir_store_t *s = NULL;
    (void)state;
    assert_int_equal(weir_store_open_postgres(p, &s), WEIR_OK);
    assert_string_equal(weir_store_backend(s), "postgresql");
    weir_store_close(s);
    assert_int_equal(sql_int(p, "SELECT schema_version FROM \"MLMDEnv\""), 10);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM \"MLMDEnv\""), 1);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM information_schema.tables WHERE"
                                " table_schema = current_schema() AND table_name IN"
                                " ('Type','ParentType','TypeProperty','Artifact','ArtifactProperty',"
                                "'Execution','ExecutionProperty','Event','EventPath','MLMDEnv',"
                                "'Context','ContextProperty','ParentContext','Association',"
                                "'Attribution')"),
                     15);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM pg_indexes WHERE schemaname ="
                                " current_schema() AND indexname = 'idx_execution_property_string'"),
                     1);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM information_schema.columns WHERE"
                                " table_schema = current_schema() AND table_name = 'Artifact'"
                                " AND column_name = 'id' AND data_type = 'bigint'"),
                     1);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM \"Type\" WHERE name LIKE 'mlmd.%'"), 9);
    assert_int_equal(sql_int(p, "SELECT type_kind FROM \"Type\" WHERE name='mlmd.Train'"), 0);
    /* opening again (through the generic opener) changes nothing */
    assert_int_equal(weir_store_open(p, 0, &s), WEIR_OK);
    assert_string_equal(weir_store_backend(s), "postgresql");
    weir_store_close(s);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM \"Type\""), 9);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM \"MLMDEnv\""), 1);
    /* read-only on an empty schema: no store to read, nothing created */
    pg_reset_schema();
    s = NULL;
    assert_int_equal(weir_store_open(p, 1, &s), WEIR_ENOENT);
    assert_msg_has("holds no store");
    assert_null(s);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM information_schema.tables WHERE"
                                " table_schema = current_schema()"), 0);
}

static void test_pg_refuses_foreign_schemas(void **state) {
    const char *p = fresh_db("foreign");
    weir_store_t *s = NULL;
    (void)state;
    sql_exec(p, "CREATE TABLE orders (id BIGSERIAL PRIMARY KEY, total DOUBLE PRECISION)");
    assert_int_equal(weir_store_open(p, 0, &s), WEIR_EUNSUPPORTED);
    assert_msg_has("not an ML-Metadata store");
    assert_null(s);
    assert_int_equal(sql_int(p, "SELECT count(*) FROM information_schema.tables WHERE"
                                " table_schema = current_schema() AND table_name = 'Artifact'"),
                     0);

    /* an MLMDEnv that says 10 over tables missing a column */
    p = fresh_db("broken");
    assert_int_equal(weir_store_open(p, 0, &s), WEIR_OK);
    weir_store_close(s);
    s = NULL;
    sql_exec(p, "DROP TABLE \"EventPath\"");
    sql_exec(p, "CREATE TABLE \"EventPath\" (event_id BIGINT)");
    assert_int_equal(weir_store_open(p, 0, &s), WEIR_ECORRUPT);
    assert_msg_has("does not exist");
    assert_msg_has("ML-Metadata schema 10");
    assert_null(s);
}
#endif

/* ------------------------------------------------------ weir-server only */

/* What the http:// backend adds: the token, read-only handles, a server
 * that is not there, and values that JSON numbers cannot carry. */
static void test_rest_token_and_errors(void **state) {
    weir_store_t *s = open_fresh("rest_token"), *anon = NULL, *bad = NULL, *none = NULL;
    char url[1200];
    int64_t tid = 0;
    weir_meta_type t = {0, WEIR_META_ARTIFACT_TYPE, "Model", NULL, NULL, NULL, 0};
    (void)state;
    snprintf(url, sizeof url, "%s", path_buf);
    assert_string_equal(weir_store_backend(s), "weir-server");

    /* without a token: reads work, writes are refused with what to do */
    unsetenv("WEIR_METADATA_TOKEN");
    assert_int_equal(weir_store_open(url, 0, &anon), WEIR_OK);
    assert_int_equal(weir_store_put_type(anon, &t, 0, &tid), WEIR_EPERM);
    assert_msg_has("WEIR_METADATA_TOKEN");
    /* a wrong token likewise */
    setenv("WEIR_METADATA_TOKEN", "not-the-token", 1);
    assert_int_equal(weir_store_open(url, 0, &bad), WEIR_OK);
    assert_int_equal(weir_store_put_type(bad, &t, 0, &tid), WEIR_EPERM);
    assert_msg_has("Bearer");
    /* the token from a file, as a mounted Secret gives it */
    char tok[1300];
    snprintf(tok, sizeof tok, "%s/token", tmp_root);
    unsetenv("WEIR_METADATA_TOKEN");
    setenv("WEIR_METADATA_TOKEN_FILE", tok, 1);
    weir_store_close(bad);
    assert_int_equal(weir_store_open(url, 0, &bad), WEIR_OK);
    assert_int_equal(weir_store_put_type(bad, &t, 0, &tid), WEIR_OK);
    /* a rotated Secret: the file is read again when the server refuses it */
    char rot[1300];
    snprintf(rot, sizeof rot, "%s/rotated", tmp_root);
    FILE *f = fopen(rot, "w");
    assert_non_null(f);
    fputs("an-old-token-123\n", f);
    fclose(f);
    setenv("WEIR_METADATA_TOKEN_FILE", rot, 1);
    weir_store_t *rs = NULL;
    assert_int_equal(weir_store_open(url, 0, &rs), WEIR_OK);
    assert_int_equal(weir_store_put_type(rs, &t, 0, &tid), WEIR_EPERM);
    assert_non_null(f = fopen(rot, "w"));
    fputs(REST_TOKEN "\n", f);
    fclose(f);
    assert_int_equal(weir_store_put_type(rs, &t, 0, &tid), WEIR_OK);
    weir_store_close(rs);
    unsetenv("WEIR_METADATA_TOKEN_FILE");
    setenv("WEIR_METADATA_TOKEN", REST_TOKEN, 1);

    /* int64 extremes, non-finite doubles and bytes with NULs survive JSON */
    static const char bytes[] = {0, 1, 2, 0, (char)0xff};
    weir_meta_prop custom[] = {{"big", weir_meta_int(INT64_MAX)},
                               {"small", weir_meta_int(INT64_MIN)},
                               {"inf", weir_meta_double(-INFINITY)},
                               {"tiny", weir_meta_double(5e-324)},
                               {"raw", weir_meta_proto(bytes, sizeof bytes)},
                               {"quote", weir_meta_string("a\"b\\c\n\x01 \xc3\xa9")}};
    weir_meta_artifact a = {.type_id = tid, .uri = "file:///x?y=1&z=%20", .custom = custom,
                            .ncustom = 6};
    int64_t aid = 0;
    weir_meta_artifact *got = NULL;
    size_t n = 0;
    assert_int_equal(weir_store_put_artifacts(s, &a, 1, &aid), WEIR_OK);
    assert_int_equal(weir_store_get_artifacts_by_ids(anon, &aid, 1, arena, &got, &n), WEIR_OK);
    assert_int_equal(n, 1);
    assert_props_equal(custom, 6, got[0].custom, got[0].ncustom);
    assert_int_equal(weir_store_get_artifacts_by_uri(anon, "file:///x?y=1&z=%20", arena, &got, &n),
                     WEIR_OK);
    assert_int_equal(n, 1);

    /* a read-only handle refuses writes before sending them */
    weir_store_t *ro = NULL;
    assert_int_equal(weir_store_open(url, 1, &ro), WEIR_OK);
    assert_int_equal(weir_store_put_artifacts(ro, &a, 1, &aid), WEIR_EPERM);
    assert_msg_has("read-only");
    weir_store_close(ro);

    /* nobody listening: the URL and what to check */
    assert_int_equal(rest_stop(), 0);
    assert_int_equal(weir_store_open(url, 0, &none), WEIR_EIO);
    assert_null(none);
    assert_msg_has(url);
    assert_msg_has("weir-server is running");
    /* an open handle whose server went away says the same */
    assert_int_equal(weir_store_get_types(s, WEIR_META_ARTIFACT_TYPE, arena, &(weir_meta_type *){0},
                                          &n),
                     WEIR_EIO);
    weir_store_close(anon);
    weir_store_close(bad);
    weir_store_close(s);
    weir_arena_reset(arena);
}

static int setup_rest(void **state) {
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    backend = BK_REST;
    if (n <= 0) return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    snprintf(rest_bin, sizeof rest_bin, "%s/weir-server", self);
    if (access(rest_bin, X_OK) != 0) {
        fprintf(stderr, "meta_rest: %s is missing; build it (ninja weir-server)\n", rest_bin);
        return -1;
    }
    setenv("WEIR_METADATA_TOKEN", REST_TOKEN, 1);
    return setup_group(state);
}

static int teardown_rest(void **state) {
    int st = rest_stop();
    unsetenv("WEIR_METADATA_TOKEN");
    if (st) fprintf(stderr, "meta_rest: the last weir-server exited with %d; see its log in %s\n", st, tmp_root);
    return teardown_group(state) || st ? -1 : 0;
}

static int setup_sqlite(void **state) {
    backend = BK_SQLITE;
    return setup_group(state);
}

#ifdef WEIR_HAVE_POSTGRES
/* pg_admin_url from $WEIR_TEST_PG_URL, and pg_url: the same in PG_SCHEMA. */
static void pg_urls_from_env(void) {
    const char *u = getenv("WEIR_TEST_PG_URL");
    snprintf(pg_admin_url, sizeof pg_admin_url, "%s", u);
    snprintf(pg_url, sizeof pg_url, "%s%coptions=-csearch_path%%3D" PG_SCHEMA, u,
             strchr(u, '?') ? '&' : '?');
}

static int setup_pg(void **state) {
    backend = BK_PG;
    pg_urls_from_env();
    return setup_group(state);
}

static int teardown_pg(void **state) {
    pg_exec(pg_admin_url, "DROP SCHEMA IF EXISTS " PG_SCHEMA " CASCADE");
    return teardown_group(state);
}

/* meta_rest_postgres: weir-server on PostgreSQL, as the chart runs it with
 * postgresql.enabled; the store tests through it. */
static int setup_rest_pg(void **state) {
    int rc = setup_rest(state);
    rest_pg = 1;
    pg_urls_from_env();
    return rc;
}

static int teardown_rest_pg(void **state) {
    int rc = teardown_rest(state);
    rest_pg = 0;
    pg_exec(pg_admin_url, "DROP SCHEMA IF EXISTS " PG_SCHEMA " CASCADE");
    return rc;
}
#endif

/* The store tests every backend runs. */
#define STORE_TESTS                                                 \
    cmocka_unit_test(test_reopen_existing_store),                   \
    cmocka_unit_test(test_refuses_other_schema_versions),           \
    cmocka_unit_test(test_readonly_beside_writer),                  \
    cmocka_unit_test(test_type_idempotent_and_conflicts),           \
    cmocka_unit_test(test_artifact_round_trip_all_values),          \
    cmocka_unit_test(test_property_validation),                     \
    cmocka_unit_test(test_artifact_state_transitions),              \
    cmocka_unit_test(test_execution_states_round_trip),             \
    cmocka_unit_test(test_list_paging),                             \
    cmocka_unit_test(test_events_with_paths),                       \
    cmocka_unit_test(test_contexts_and_parents),                    \
    cmocka_unit_test(test_put_execution),                           \
    cmocka_unit_test(test_put_execution_is_atomic),                 \
    cmocka_unit_test(test_cache_lookup),                            \
    cmocka_unit_test(test_cache_lookup_many)

int main(void) {
    /* SQLite-only: files, WAL, SQLite's query planner */
    const struct CMUnitTest sqlite_tests[] = {
        cmocka_unit_test(test_open_creates_mlmd_schema),
        cmocka_unit_test(test_refuses_foreign_databases),
        cmocka_unit_test(test_readonly),
        cmocka_unit_test(test_cache_lookup_uses_index),
        cmocka_unit_test(test_open_dispatches_by_url),
        cmocka_unit_test(test_redact),
        STORE_TESTS,
    };
    /* through weir-server: the store tests that do not reopen or damage
     * the database under the server */
    const struct CMUnitTest rest_tests[] = {
        cmocka_unit_test(test_rest_token_and_errors),
        cmocka_unit_test(test_reopen_existing_store),
        cmocka_unit_test(test_readonly_beside_writer),
        cmocka_unit_test(test_type_idempotent_and_conflicts),
        cmocka_unit_test(test_artifact_round_trip_all_values),
        cmocka_unit_test(test_property_validation),
        cmocka_unit_test(test_artifact_state_transitions),
        cmocka_unit_test(test_execution_states_round_trip),
        cmocka_unit_test(test_list_paging),
        cmocka_unit_test(test_events_with_paths),
        cmocka_unit_test(test_contexts_and_parents),
        cmocka_unit_test(test_put_execution),
        cmocka_unit_test(test_put_execution_is_atomic),
        cmocka_unit_test(test_cache_lookup),
        cmocka_unit_test(test_cache_lookup_many),
    };
    const char *pg = getenv("WEIR_TEST_PG_URL");
    int failed = cmocka_run_group_tests_name("meta", sqlite_tests, setup_sqlite, teardown_group);
    failed += cmocka_run_group_tests_name("meta_rest", rest_tests, setup_rest, teardown_rest);
    if (!pg || !*pg) {
        printf("meta_postgres: skipped; set WEIR_TEST_PG_URL=postgresql://... (scripts/pg-test.sh "
               "does) to run the store tests on PostgreSQL\n");
        return failed;
    }
#ifdef WEIR_HAVE_POSTGRES
    const struct CMUnitTest pg_tests[] = {
        cmocka_unit_test(test_pg_open_creates_mlmd_schema),
        cmocka_unit_test(test_pg_refuses_foreign_schemas),
        STORE_TESTS,
    };
    failed += cmocka_run_group_tests_name("meta_postgres", pg_tests, setup_pg, teardown_pg);
    failed += cmocka_run_group_tests_name("meta_rest_postgres", rest_tests, setup_rest_pg,
                                          teardown_rest_pg);
#else
    printf("meta_postgres: skipped; WEIR_TEST_PG_URL is set but this build has no PostgreSQL "
           "store: configure with -DWEIR_POSTGRES=ON\n");
#endif
    return failed;
}
