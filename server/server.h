/*
 * server.h — what weir-server's files share: the configuration, one
 * request's context and how a handler answers, the JSON writer, and the
 * handlers of each part of the API (docs/server.md).
 *
 * http.c owns libmicrohttpd (bodies, auth, CORS, static files, sending);
 * api_meta.c the ML-Metadata resources and writes; api_runs.c runs, nodes
 * and logs; preview.c artifact previews; json.c the JSON writer.
 * Not for: anything another binary needs (that goes to lib/).
 */
#ifndef WEIR_SERVER_H
#define WEIR_SERVER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/core.h"
#include "weir/io.h"
#include "weir/meta.h"

struct cJSON;

typedef struct srv_config {
    const char *store;          /* path of a SQLite store (or sqlite:PATH) */
    const char *listen;         /* ADDRESS:PORT */
    const char *token_file;     /* NULL: writes are refused */
    int read_auth;              /* reads need the token too */
    const char *cors_origin;    /* NULL: no CORS headers */
    size_t max_body;            /* request body cap */
    const char *static_dir;     /* NULL: no static files */
    unsigned threads;           /* HTTP worker threads */
    unsigned store_connections; /* store handles in the pool */
} srv_config;

typedef struct srv {
    srv_config cfg;
    char *token;                /* NULL: none configured */
    char *static_real;          /* realpath of static_dir */
    weir_store_t *store;        /* the first handle (what /healthz names) */
    /* The pool: --store-connections handles, each used by one request at a
     * time; requests wait on `freed` when all are out. */
    weir_store_t **idle;
    size_t nidle, nstores;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    struct MHD_Daemon *d;
    int port;                   /* the bound port */
} srv;

/* ------------------------------------------------------------ JSON writer */

/* Appends JSON with the commas placed for the caller. Errors are sticky:
 * the first failed append (the cap of `b`) sets rc and later calls do
 * nothing. */
#define SRV_JW_DEPTH 48
typedef struct srv_jw {
    weir_buf b;
    weir_status rc;
    int depth;
    int after_key;
    int typed;      /* values as MLMD Value objects (?values=typed) */
    unsigned char first[SRV_JW_DEPTH];
} srv_jw;

void srv_jw_init(srv_jw *w, size_t max);
void srv_jw_free(srv_jw *w);
void srv_jw_obj(srv_jw *w);
void srv_jw_end_obj(srv_jw *w);
void srv_jw_arr(srv_jw *w);
void srv_jw_end_arr(srv_jw *w);
void srv_jw_key(srv_jw *w, const char *k);
void srv_jw_str(srv_jw *w, const char *s);            /* NULL: null */
void srv_jw_strn(srv_jw *w, const char *s, size_t n); /* invalid UTF-8 -> U+FFFD */
void srv_jw_int(srv_jw *w, int64_t v);
void srv_jw_uint(srv_jw *w, uint64_t v);
void srv_jw_dbl(srv_jw *w, double v);                 /* NaN, inf: null */
void srv_jw_bool(srv_jw *w, int v);
void srv_jw_null(srv_jw *w);
void srv_jw_raw(srv_jw *w, const char *json, size_t n); /* one valid JSON value */
void srv_jw_b64(srv_jw *w, const void *p, size_t n);  /* {"b64": "..."} */
void srv_jw_cjson(srv_jw *w, const struct cJSON *v);
void srv_jw_kstr(srv_jw *w, const char *k, const char *s);
void srv_jw_kint(srv_jw *w, const char *k, int64_t v);
void srv_jw_kdbl(srv_jw *w, const char *k, double v);
void srv_jw_kbool(srv_jw *w, const char *k, int v);

/* ---------------------------------------------------------------- request */

typedef struct srv_req {
    srv *s;
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    const char *body;           /* NUL-terminated; NULL when none */
    size_t body_len;
    weir_arena_t *arena;        /* per request, capped */
    weir_store_t *store;        /* this request's handle, from the pool */
    srv_jw w;                   /* the JSON answer */
    const char *ctype;          /* of a streamed answer */
    weir_io_reader_t *stream;   /* set: the body is read from it (owned) */
    int fd;                     /* >= 0: the body is this file (owned) */
    uint64_t fd_size;
    weir_status err_status;     /* set by srv_error_status for srv_error */
    /* type id -> name cache */
    int64_t type_ids[32];
    const char *type_names[32];
    size_t ntypes;
} srv_req;

/* Query argument, or NULL. */
const char *srv_arg(srv_req *r, const char *name);
/* Integer query argument in [lo, hi]; `dflt` when absent. Returns 0, or
 * the HTTP code of an error it has written (400). */
unsigned srv_arg_int(srv_req *r, const char *name, int64_t dflt, int64_t lo, int64_t hi,
                     int64_t *out);
/* Writes {"error": msg} as the answer and returns `code`. */
unsigned srv_error(srv_req *r, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The answer for a failed weir call: its message, with the code its status
 * maps to (404 for WEIR_ENOENT, 400 for bad input, 409 conflicts, ...). */
unsigned srv_error_status(srv_req *r, weir_status rc, const char *what);
/* The type name for a type id ("?" when unknown), cached per request. */
const char *srv_type_name(srv_req *r, int64_t type_id);

/* ------------------------------------------------------------- handlers */

/* Each returns the HTTP status of the answer it has written; `rest` is the
 * path after the prefix that routed to it. r->store is theirs alone for the
 * request. */
unsigned srv_api_meta(srv_req *r, const char *rest);
unsigned srv_api_runs(srv_req *r, const char *rest);
unsigned srv_api_preview(srv_req *r, const weir_meta_artifact *a);

/* JSON of MLMD objects (json.c). */
void srv_jw_value(srv_jw *w, const weir_meta_value *v);
void srv_jw_props(srv_jw *w, const weir_meta_prop *p, size_t n);
void srv_jw_artifact(srv_req *r, const weir_meta_artifact *a);
void srv_jw_execution(srv_req *r, const weir_meta_execution *e);
void srv_jw_context(srv_req *r, const weir_meta_context *c);
void srv_jw_event(srv_jw *w, const weir_meta_event *e);

/* A string custom property, or dflt. */
const char *srv_prop_str(const weir_meta_prop *p, size_t n, const char *name, const char *dflt);

/* http.c */
weir_status srv_start(srv *s);
void srv_stop(srv *s);

#endif
