/*
 * http.c — weir-server on libmicrohttpd: one thread per connection, request
 * bodies collected up to --max-body-bytes (413 past it), Bearer-token checks
 * (writes always, reads with --read-auth), CORS only with --cors-origin,
 * routing to the API handlers with a store handle from the pool, answers as JSON from a
 * capped buffer or streamed from a file (callback responses), and the
 * static files of --static-dir.
 *
 * Not for: what the endpoints say (api_meta.c, api_runs.c, preview.c).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server.h"

#define SRV_MAX_ANSWER (64u << 20)   /* one JSON answer */
#define SRV_MAX_ARENA (256u << 20)   /* one request's store results */

/* What MHD keeps for a request between its calls. */
typedef struct conn_state {
    weir_buf body;
    int too_big;
} conn_state;

/* ------------------------------------------------------------- helpers */

const char *srv_arg(srv_req *r, const char *name) {
    const char *v = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
    return v && *v ? v : NULL;
}

unsigned srv_arg_int(srv_req *r, const char *name, int64_t dflt, int64_t lo, int64_t hi,
                     int64_t *out) {
    const char *v = srv_arg(r, name);
    if (!v) {
        *out = dflt;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || !end || *end || x < lo || x > hi)
        return srv_error(r, 400, "query argument %s='%s': give an integer from %lld to %lld", name,
                         v, (long long)lo, (long long)hi);
    *out = x;
    return 0;
}

unsigned srv_error(srv_req *r, unsigned code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    srv_jw_free(&r->w);
    srv_jw_init(&r->w, 1u << 20);
    srv_jw_obj(&r->w);
    srv_jw_kstr(&r->w, "error", msg);
    /* which weir_status it was, so a client maps it back exactly */
    if (r->err_status) srv_jw_kstr(&r->w, "status", weir_status_name(r->err_status));
    srv_jw_end_obj(&r->w);
    r->err_status = WEIR_OK;
    if (r->stream) weir_io_close_read(r->stream);
    r->stream = NULL;
    if (code >= 500) WEIR_ERROR("%s %s: %u %s", r->method, r->url, code, msg);
    return code;
}

unsigned srv_error_status(srv_req *r, weir_status rc, const char *what) {
    unsigned code;
    switch (rc) {
    case WEIR_ENOENT: code = 404; break;
    case WEIR_EINVAL: case WEIR_EPARSE: case WEIR_ETYPE: case WEIR_ERANGE: code = 400; break;
    case WEIR_EEXIST: case WEIR_ECONFLICT: code = 409; break;
    case WEIR_ELIMIT: code = 413; break;
    case WEIR_EPERM: code = 403; break;
    case WEIR_EUNSUPPORTED: code = 501; break;
    case WEIR_EAGAIN: case WEIR_ETIMEDOUT: code = 503; break;
    default: code = 500; break;
    }
    const char *m = weir_error_message();
    r->err_status = rc;
    return srv_error(r, code, "%s: %s", what, m && *m ? m : weir_strerror(rc));
}

const char *srv_type_name(srv_req *r, int64_t type_id) {
    for (size_t i = 0; i < r->ntypes; i++)
        if (r->type_ids[i] == type_id) return r->type_names[i];
    weir_meta_type *t = NULL;
    const char *name = weir_store_get_type_by_id(r->store, type_id, r->arena, &t) ? "?" : t->name;
    if (r->ntypes < sizeof r->type_ids / sizeof r->type_ids[0]) {
        r->type_ids[r->ntypes] = type_id;
        r->type_names[r->ntypes++] = name;
    }
    return name;
}

/* Constant-time comparison of the presented token. */
static int token_ok(const srv *s, const char *auth) {
    if (!s->token || !auth || strncasecmp(auth, "Bearer ", 7) != 0) return 0;
    const char *t = auth + 7;
    while (*t == ' ') t++;
    size_t a = strlen(t), b = strlen(s->token);
    unsigned diff = (unsigned)(a ^ b);
    for (size_t i = 0; i < b; i++) diff |= (unsigned char)s->token[i] ^ (unsigned char)(i < a ? t[i] : 0);
    return diff == 0;
}

/* -------------------------------------------------------------- sending */

static void add_common_headers(srv *s, struct MHD_Response *resp) {
    if (s->cfg.cors_origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", s->cfg.cors_origin);
        MHD_add_response_header(resp, "Vary", "Origin");
    }
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    size_t got = 0;
    if (weir_io_read(cls, buf, max, &got)) {
        WEIR_WARN("streaming %s: %s", weir_io_reader_uri(cls), weir_error_message());
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return got ? (ssize_t)got : MHD_CONTENT_READER_END_OF_STREAM;
}

static void stream_free(void *cls) { weir_io_close_read(cls); }

static enum MHD_Result send_req(srv_req *r, unsigned code) {
    struct MHD_Response *resp = NULL;
    const char *ctype = "application/json";
    if (r->stream) {
        resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, stream_cb, r->stream,
                                                 stream_free);
        if (!resp) weir_io_close_read(r->stream);
        r->stream = NULL;
        ctype = r->ctype ? r->ctype : "application/octet-stream";
    } else if (r->fd >= 0) {
        resp = MHD_create_response_from_fd64(r->fd_size, r->fd);
        if (!resp) close(r->fd);
        r->fd = -1;
        ctype = r->ctype ? r->ctype : "application/octet-stream";
    } else {
        if (r->w.rc) {
            weir_status rc = r->w.rc;
            srv_error(r, rc == WEIR_ELIMIT ? 413 : 500,
                      "the answer is over the server's %u MiB cap: ask for a smaller page "
                      "(page_size) or fewer rows", SRV_MAX_ANSWER >> 20);
            code = rc == WEIR_ELIMIT ? 413 : 500;
        }
        weir_buf_append_byte(&r->w.b, '\n');
        size_t len = 0;
        uint8_t *p = weir_buf_detach(&r->w.b, &len);
        resp = MHD_create_response_from_buffer(len, p ? p : (uint8_t *)"",
                                               p ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (!resp) free(p);
    }
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", ctype);
    if (code == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"weir\"");
    if (code == 405 || code == 204) MHD_add_response_header(resp, "Allow", "GET, HEAD, POST, OPTIONS");
    add_common_headers(r->s, resp);
    if (code == 204 && r->s->cfg.cors_origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, HEAD, POST, OPTIONS");
        MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, code, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* --------------------------------------------------------- static files */

static const char *mime_of(const char *path) {
    static const char *const map[][2] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
        {".json", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
        {".ico", "image/x-icon"}, {".txt", "text/plain; charset=utf-8"}, {".map", "application/json"},
        {".woff2", "font/woff2"}, {".wasm", "application/wasm"}};
    const char *dot = strrchr(path, '.');
    if (dot && !strchr(dot, '/'))
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (strcasecmp(dot, map[i][0]) == 0) return map[i][1];
    return "application/octet-stream";
}

/*
 * A file under --static-dir. The URL (already %-decoded by MHD) must not
 * hold a ".." or "." segment, a backslash or a NUL; the resolved path
 * (symlinks followed) must stay inside the directory. Everything refused
 * is a plain 404, so probing learns nothing.
 */
static unsigned serve_static(srv_req *r) {
    srv *s = r->s;
    if (!s->static_real) return srv_error(r, 404, "not found: the API is under /api/v1/");
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD"))
        return srv_error(r, 405, "static files: use GET");
    const char *u = r->url;
    if (*u != '/' || strchr(u, '\\')) return srv_error(r, 404, "not found");
    for (const char *seg = u; seg; seg = strchr(seg + 1, '/')) {
        const char *p = seg + 1;
        size_t n = strcspn(p, "/");
        if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return srv_error(r, 404, "not found");
    }
    char path[PATH_MAX], real[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s%s%s", s->static_real, u,
                     u[strlen(u) - 1] == '/' ? "index.html" : "");
    if (n < 0 || (size_t)n >= sizeof path) return srv_error(r, 404, "not found");
    for (int tries = 0; tries < 2; tries++) {
        if (!realpath(path, real)) return srv_error(r, 404, "not found");
        size_t rl = strlen(s->static_real);
        if (strncmp(real, s->static_real, rl) != 0 || (real[rl] != '/' && real[rl] != '\0'))
            return srv_error(r, 404, "not found");
        struct stat st;
        if (stat(real, &st) != 0) return srv_error(r, 404, "not found");
        if (S_ISDIR(st.st_mode)) {
            n = snprintf(path, sizeof path, "%s/index.html", real);
            if (n < 0 || (size_t)n >= sizeof path) return srv_error(r, 404, "not found");
            continue;
        }
        if (!S_ISREG(st.st_mode)) return srv_error(r, 404, "not found");
        int fd = open(real, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return srv_error(r, 404, "not found");
        r->fd = fd;
        r->fd_size = (uint64_t)st.st_size;
        r->ctype = mime_of(real);
        return 200;
    }
    return srv_error(r, 404, "not found");
}

/* ---------------------------------------------------------------- route */

static unsigned route(srv_req *r) {
    srv *s = r->s;
    const char *m = r->method;
    int read = !strcmp(m, "GET") || !strcmp(m, "HEAD");
    if (!strcmp(m, "OPTIONS")) {
        if (!s->cfg.cors_origin) return srv_error(r, 405, "OPTIONS is only answered with --cors-origin");
        return 204;
    }
    if (!strcmp(r->url, "/healthz")) {
        if (!read) return srv_error(r, 405, "use GET");
        srv_jw_obj(&r->w);
        srv_jw_kstr(&r->w, "status", "ok");
        srv_jw_kstr(&r->w, "store", weir_store_backend(s->store));
        srv_jw_end_obj(&r->w);
        return 200;
    }
    if (strncmp(r->url, "/api/", 5) != 0) return serve_static(r);
    if (strncmp(r->url, "/api/v1/", 8) != 0) return srv_error(r, 404, "unknown API version: use /api/v1/");
    const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (!read) {
        if (strcmp(m, "POST") && strcmp(m, "PUT") && strcmp(m, "DELETE") && strcmp(m, "PATCH"))
            return srv_error(r, 405, "method %s is not used here", m);
        if (!s->token)
            return srv_error(r, 403, "writes are disabled: start weir-server with --token-file");
        if (!token_ok(s, auth))
            return srv_error(r, 401, "writes need 'Authorization: Bearer TOKEN' (the --token-file token)");
    } else if (s->cfg.read_auth && !token_ok(s, auth)) {
        return srv_error(r, 401, "this server needs 'Authorization: Bearer TOKEN' for reads too");
    }
    const char *rest = r->url + 8;
    const char *values = srv_arg(r, "values");
    if (values && strcmp(values, "typed") && strcmp(values, "plain"))
        return srv_error(r, 400, "values='%s': give typed or plain", values);
    r->w.typed = values && !strcmp(values, "typed");
    unsigned code;
    pthread_mutex_lock(&s->lock);
    while (!s->nidle) pthread_cond_wait(&s->freed, &s->lock);
    r->store = s->idle[--s->nidle];
    pthread_mutex_unlock(&s->lock);
    if (!strncmp(rest, "runs", 4) && (rest[4] == '\0' || rest[4] == '/'))
        code = srv_api_runs(r, rest + 4);
    else
        code = srv_api_meta(r, rest);
    pthread_mutex_lock(&s->lock);
    s->idle[s->nidle++] = r->store;
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->lock);
    r->store = NULL;
    return code;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls) {
    (void)version;
    srv *s = cls;
    conn_state *cs = *req_cls;
    if (!cs) {
        if (!(cs = calloc(1, sizeof *cs))) return MHD_NO;
        weir_buf_init(&cs->body, s->cfg.max_body);
        *req_cls = cs;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body) cs->too_big = 1;
        if (!cs->too_big) return MHD_YES;
        /* answered before the body is read (no 100 Continue is sent) */
    } else if (*upload_size) {
        if (!cs->too_big && weir_buf_append(&cs->body, upload, *upload_size)) {
            cs->too_big = 1;
            weir_buf_free(&cs->body);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    srv_req r = {.s = s, .conn = conn, .method = method, .url = url, .fd = -1};
    srv_jw_init(&r.w, SRV_MAX_ANSWER);
    unsigned code;
    if (cs->too_big) {
        code = srv_error(&r, 413, "the request body is over --max-body-bytes=%zu", s->cfg.max_body);
    } else if (weir_arena_new(64 * 1024, SRV_MAX_ARENA, &r.arena)) {
        code = srv_error(&r, 500, "out of memory");
    } else {
        if (cs->body.len) {
            r.body = (const char *)cs->body.data;
            r.body_len = cs->body.len;
        }
        weir_error_clear();
        code = route(&r);
    }
    enum MHD_Result ret = send_req(&r, code);
    srv_jw_free(&r.w);
    weir_arena_free(r.arena);
    if (r.stream) weir_io_close_read(r.stream);
    if (r.fd >= 0) close(r.fd);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)cls; (void)conn; (void)toe;
    conn_state *cs = *req_cls;
    if (!cs) return;
    weir_buf_free(&cs->body);
    free(cs);
    *req_cls = NULL;
}

weir_status srv_start(srv *s) {
    const char *l = s->cfg.listen;
    const char *colon = strrchr(l, ':');
    char *end = NULL;
    long port = strtol(colon ? colon + 1 : l, &end, 10);
    if (!end || *end || end == (colon ? colon + 1 : l) || port < 0 || port > 65535)
        return weir_errorf(WEIR_EINVAL, "--listen '%s': give ADDRESS:PORT, e.g. 127.0.0.1:8080", l);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (colon && colon != l) {
        char host[64];
        snprintf(host, sizeof host, "%.*s", (int)(colon - l), l);
        if (strcmp(host, "localhost") == 0) snprintf(host, sizeof host, "127.0.0.1");
        if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
            return weir_errorf(WEIR_EINVAL, "--listen: '%s' is not an IPv4 address", host);
    } else {
        sin.sin_addr.s_addr = htonl(INADDR_ANY);
    }
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_ITC | MHD_USE_ERROR_LOG,
                            (uint16_t)port, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, &sin,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    if (!s->d) return weir_errorf(WEIR_EIO, "--listen %s: cannot serve HTTP there (port in use?)", l);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? (int)di->port : (int)port;
    return WEIR_OK;
}

void srv_stop(srv *s) {
    if (s->d) MHD_stop_daemon(s->d);
    s->d = NULL;
}
