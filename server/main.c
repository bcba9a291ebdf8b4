/*
 * main.c — weir-server: the REST/JSON API over an ML-Metadata store
 * (docs/server.md): metadata resources and lineage, runs and node logs,
 * artifact previews, writes for publishers, and a dashboard's static files.
 *
 *   weir-server --store PATH_OR_URL [--listen 127.0.0.1:8080] [--token-file F]
 *               [--read-auth] [--cors-origin O] [--max-body-bytes N]
 *               [--static-dir DIR]
 *
 * Not for: running pipelines (the engine) or serving models (weir-serving).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

#ifndef WEIR_VERSION_STRING
#define WEIR_VERSION_STRING "0"
#endif

static const char usage[] =
    "usage: weir-server --store PATH_OR_URL [--listen ADDRESS:PORT] [--token-file FILE]\n"
    "                   [--read-auth] [--cors-origin ORIGIN] [--max-body-bytes N]\n"
    "                   [--static-dir DIR] [--store-connections N]\n"
    "\n"
    "The metadata store's REST API (docs/server.md) on http://ADDRESS:PORT/api/v1/.\n"
    "  --store          a SQLite file (PATH, sqlite:PATH) or postgresql://USER@HOST/DB\n"
    "  --listen         default 127.0.0.1:8080; port 0 picks a free one\n"
    "  --token-file     a file holding the Bearer token that writes need\n"
    "                   (without it every write is refused)\n"
    "  --read-auth      reads need the token too (not /healthz)\n"
    "  --cors-origin    answer browsers from ORIGIN (default: no CORS headers)\n"
    "  --max-body-bytes request body cap (default 1048576)\n"
    "  --static-dir     serve DIR's files at / (index.html for a directory)\n"
    "  --store-connections  store handles serving requests at once (default 4)\n";

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

/* The token: the file's first line, surrounding whitespace removed. */
static weir_status load_token(const char *path, char **out) {
    weir_buf b;
    weir_buf_init(&b, 64 * 1024);
    weir_status rc = weir_file_read_all(path, &b);
    if (rc) {
        weir_buf_free(&b);
        return weir_error_prefix(rc, "--token-file %s", path);
    }
    char *t = b.data ? (char *)b.data : "";
    t[strcspn(t, "\r\n")] = '\0';
    while (*t == ' ' || *t == '\t') t++;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t')) t[--n] = '\0';
    if (n < 8) {
        weir_buf_free(&b);
        return weir_errorf(WEIR_EINVAL, "--token-file %s: the token is empty or shorter than 8 "
                           "characters; put a long random string on its first line", path);
    }
    *out = strdup(t);
    weir_buf_free(&b);
    return *out ? WEIR_OK : weir_errorf(WEIR_ENOMEM, "out of memory");
}

/* PATH, sqlite:PATH, sqlite://PATH, or a postgresql:// URL (lib/meta's
 * weir_store_open() decides by the form, as `weir run --store` does). */
static weir_status open_store(const char *spec, weir_store_t **out) {
    const char *path = spec;
    if (!strncmp(path, "sqlite://", 9)) path += 9;
    else if (!strncmp(path, "sqlite:", 7)) path += 7;
    weir_status rc = weir_store_open(path, 0, out);
    if (!rc) return WEIR_OK;
    char *shown = weir_store_redact(spec);
    rc = weir_error_prefix(rc, "--store %s", shown ? shown : "(store)");
    free(shown);
    return rc;
}

int main(int argc, char **argv) {
    if (weir_log_init_from_env()) {
        fprintf(stderr, "weir-server: %s\n", weir_error_message());
        return 2;
    }
    srv s;
    memset(&s, 0, sizeof s);
    s.cfg.listen = "127.0.0.1:8080";
    s.cfg.max_body = 1u << 20;
    s.cfg.store_connections = 4;
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'},      {"listen", required_argument, NULL, 'l'},
        {"token-file", required_argument, NULL, 't'}, {"read-auth", no_argument, NULL, 'r'},
        {"cors-origin", required_argument, NULL, 'c'}, {"max-body-bytes", required_argument, NULL, 'm'},
        {"static-dir", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'},
        {"store-connections", required_argument, NULL, 'n'},
        {"version", no_argument, NULL, 'V'},          {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': s.cfg.store = optarg; break;
        case 'l': s.cfg.listen = optarg; break;
        case 't': s.cfg.token_file = optarg; break;
        case 'r': s.cfg.read_auth = 1; break;
        case 'c': s.cfg.cors_origin = *optarg ? optarg : NULL; break;
        case 'd': s.cfg.static_dir = optarg; break;
        case 'm': {
            char *end = NULL;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (!end || *end || v == 0 || v > (1ull << 31)) {
                fprintf(stderr, "weir-server: --max-body-bytes '%s': give a byte count from 1 to 2^31\n%s",
                        optarg, usage);
                return 2;
            }
            s.cfg.max_body = (size_t)v;
            break;
        }
        case 'n': {
            char *end = NULL;
            unsigned long v = strtoul(optarg, &end, 10);
            if (!end || *end || v == 0 || v > 64) {
                fprintf(stderr, "weir-server: --store-connections '%s': give 1 to 64\n%s", optarg, usage);
                return 2;
            }
            s.cfg.store_connections = (unsigned)v;
            break;
        }
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("weir-server %s\n", WEIR_VERSION_STRING); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind != argc || !s.cfg.store) {
        fprintf(stderr, "weir-server: %s\n%s", optind != argc ? "unexpected argument" : "give --store",
                usage);
        return 2;
    }
    if (s.cfg.read_auth && !s.cfg.token_file) {
        fprintf(stderr, "weir-server: --read-auth needs --token-file\n");
        return 2;
    }
    int ret = 1;
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.freed, NULL);
    if (s.cfg.token_file && load_token(s.cfg.token_file, &s.token)) goto out;
    if (s.cfg.static_dir) {
        char real[PATH_MAX];
        if (!realpath(s.cfg.static_dir, real)) {
            weir_errorf(WEIR_ENOENT, "--static-dir %s: no such directory", s.cfg.static_dir);
            goto out;
        }
        if (!(s.static_real = strdup(real))) goto out;
    }
    if (strstr(s.cfg.store, "://") && (!strncmp(s.cfg.store, "http://", 7) || !strncmp(s.cfg.store, "https://", 8))) {
        weir_errorf(WEIR_EINVAL, "--store: give a SQLite path or a postgresql:// URL; an http:// URL "
                    "is another weir-server, which serves its store itself");
        goto out;
    }
    /* the pool: requests read and write at once, the database ordering
     * the transactions (SQLite's WAL and busy wait, PostgreSQL's locks) */
    if (!(s.idle = calloc(s.cfg.store_connections, sizeof *s.idle))) goto out;
    for (unsigned i = 0; i < s.cfg.store_connections; i++) {
        if (open_store(s.cfg.store, &s.idle[i])) goto out;
        s.nstores = s.nidle = i + 1;
    }
    s.store = s.idle[0];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* the HTTP threads inherit a mask without SIGINT/SIGTERM, so the signal
     * wakes sigsuspend() here */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    if (srv_start(&s)) goto out;
    char host[64];
    const char *colon = strrchr(s.cfg.listen, ':');
    if (colon && colon != s.cfg.listen)
        snprintf(host, sizeof host, "%.*s", (int)(colon - s.cfg.listen), s.cfg.listen);
    else
        snprintf(host, sizeof host, "0.0.0.0");
    char *shown = weir_store_redact(s.cfg.store);
    fprintf(stderr, "weir-server: %s store %s; listening on http://%s:%d/ (API under /api/v1/%s%s)\n",
            weir_store_backend(s.store), shown ? shown : "(store)", host, s.port,
            s.token ? "; writes need the token" : "; writes disabled",
            s.static_real ? "; static files at /" : "");
    free(shown);
    while (!g_stop) sigsuspend(&old);
    fprintf(stderr, "weir-server: stopping\n");
    ret = 0;
out:
    if (ret) fprintf(stderr, "weir-server: %s\n", weir_error_message());
    srv_stop(&s);
    /* srv_stop has finished every request: all handles are idle */
    for (size_t i = 0; i < s.nidle; i++) weir_store_close(s.idle[i]);
    free(s.idle);
    free(s.token);
    free(s.static_real);
    pthread_cond_destroy(&s.freed);
    pthread_mutex_destroy(&s.lock);
    return ret;
}
