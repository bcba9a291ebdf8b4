/*
 * weir/core.h — the ground every weir library stands on.
 *
 * For: the project-wide status type and per-thread error message, logging,
 * an arena allocator, capped growable byte buffers, SHA-256, CRC32C, and a
 * JSON/YAML loader that shares one tree type (cJSON) with limits on size,
 * depth and alias expansion.
 * Not for: anything that knows about files, URIs or ML formats (lib/io,
 * lib/data).
 */
#ifndef WEIR_CORE_H
#define WEIR_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- status */

/*
 * X(name, number, text). Numbers are never reused: retire a code by leaving
 * its line here with "(retired)" in the text.
 */
#define WEIR_STATUS_MAP(X)                                                     \
    X(OK, 0, "success")                                                        \
    X(ENOMEM, -1, "out of memory")                                             \
    X(EINVAL, -2, "invalid argument")                                          \
    X(EIO, -3, "input/output error")                                           \
    X(ENOENT, -4, "not found")                                                 \
    X(EEXIST, -5, "already exists")                                            \
    X(ECORRUPT, -6, "corrupt data")                                            \
    X(ELIMIT, -7, "size limit exceeded")                                       \
    X(EPARSE, -8, "malformed input")                                           \
    X(ETYPE, -9, "wrong type")                                                 \
    X(ERANGE, -10, "value out of range")                                       \
    X(EUNSUPPORTED, -11, "not supported")                                      \
    X(EOF_, -12, "end of input")                                               \
    X(EPERM, -13, "permission denied")                                         \
    X(ECONFLICT, -14, "conflict")                                              \
    X(ETIMEDOUT, -15, "timed out")                                             \
    X(EAGAIN, -16, "temporarily unavailable, try again")                       \
    X(EINTERNAL, -17, "internal error")

typedef enum weir_status {
#define WEIR__STATUS_ENUM(name, num, text) WEIR_##name = (num),
    WEIR_STATUS_MAP(WEIR__STATUS_ENUM)
#undef WEIR__STATUS_ENUM
} weir_status;

/* Short fixed text for a status ("corrupt data"); never NULL. */
const char *weir_strerror(weir_status rc);

/* Symbolic name for a status ("WEIR_ECORRUPT"); never NULL. */
const char *weir_status_name(weir_status rc);

/*
 * The per-thread message of the last failing call: what failed, where
 * (file, line, field, URI, byte offset) and what to do. Functions that return
 * an error status set it with weir_errorf(); success does not clear it.
 * The returned string is owned by the thread and valid until the next
 * weir_errorf() on that thread. Empty string when none was set.
 */
const char *weir_error_message(void);

/* Sets the thread's message (printf-style) and returns rc, so callers write
 * `return weir_errorf(WEIR_EPARSE, "CSV %s line %zu: ...", ...)`. Messages
 * longer than 1023 bytes are truncated. */
weir_status weir_errorf(weir_status rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current thread's message with more context ("reading X: ")
 * and returns rc. */
weir_status weir_error_prefix(weir_status rc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void weir_error_clear(void);

/* Programmer errors only (a broken invariant), never bad input: aborts with
 * file and line. */
#define WEIR_ASSERT(cond)                                                      \
    do {                                                                       \
        if (!(cond)) weir__assert_fail(#cond, __FILE__, __LINE__);             \
    } while (0)
_Noreturn void weir__assert_fail(const char *expr, const char *file, int line);

/* --------------------------------------------------------------- logging */

typedef enum weir_log_level {
    WEIR_LOG_DEBUG = 0,
    WEIR_LOG_INFO = 1,
    WEIR_LOG_WARN = 2,
    WEIR_LOG_ERROR = 3,
} weir_log_level;

typedef enum weir_log_format {
    WEIR_LOG_TEXT = 0,  /* "2026-11-22T01:02:03.123Z INFO  msg key=value" */
    WEIR_LOG_JSON = 1,  /* one JSON object per line */
} weir_log_format;

/*
 * Process-wide logging configuration. Defaults: level INFO, text format,
 * stderr. weir_log_init_from_env() reads WEIR_LOG_LEVEL (debug|info|warn|
 * error) and WEIR_LOG_FORMAT (text|json). The stream is borrowed.
 */
void weir_log_configure(weir_log_level level, weir_log_format format, FILE *out);
weir_status weir_log_init_from_env(void);
weir_status weir_log_level_parse(const char *s, weir_log_level *out);
int weir_log_enabled(weir_log_level level);

/*
 * Logs one line. `kv` is NULL or a NULL-terminated list of key, value string
 * pairs, printed as key=value (text) or JSON members (json).
 * Thread-safe: each line is written with one fwrite under a lock.
 */
void weir_log(weir_log_level level, const char *const *kv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define WEIR_DEBUG(...) weir_log(WEIR_LOG_DEBUG, NULL, __VA_ARGS__)
#define WEIR_INFO(...) weir_log(WEIR_LOG_INFO, NULL, __VA_ARGS__)
#define WEIR_WARN(...) weir_log(WEIR_LOG_WARN, NULL, __VA_ARGS__)
#define WEIR_ERROR(...) weir_log(WEIR_LOG_ERROR, NULL, __VA_ARGS__)

/* ----------------------------------------------------------------- arena */

/*
 * A bump allocator for per-step and per-request memory: allocations are freed
 * together by weir_arena_reset() or weir_arena_free(). Blocks grow as needed;
 * `max_bytes` (0 = unlimited) caps the total the arena may hold, and an
 * allocation past it fails with NULL *and* the thread's error message set
 * to WEIR_ELIMIT; check with the _ex form when the cap matters.
 */
typedef struct weir_arena weir_arena_t;

weir_status weir_arena_new(size_t block_bytes, size_t max_bytes, weir_arena_t **out);
void weir_arena_free(weir_arena_t *a);
/* Keeps the first block, releases the rest; all pointers become invalid. */
void weir_arena_reset(weir_arena_t *a);
/* 16-byte aligned; NULL when out of memory or over the cap. */
void *weir_arena_alloc(weir_arena_t *a, size_t n);
weir_status weir_arena_alloc_ex(weir_arena_t *a, size_t n, void **out);
void *weir_arena_calloc(weir_arena_t *a, size_t count, size_t size);
char *weir_arena_strndup(weir_arena_t *a, const char *s, size_t n);
size_t weir_arena_used(const weir_arena_t *a);

/* ---------------------------------------------------------------- buffer */

/*
 * A growable byte buffer with a hard cap (`max`), like curl's dynbuf. The
 * contents are always NUL-terminated one past `len` (not counted in len), so
 * text can be used as a C string. Zero-initialise, then weir_buf_init().
 */
typedef struct weir_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max;
} weir_buf;

void weir_buf_init(weir_buf *b, size_t max);
void weir_buf_free(weir_buf *b);
void weir_buf_reset(weir_buf *b);               /* len = 0, keeps memory */
/* Makes room for `extra` more bytes; WEIR_ELIMIT past max, WEIR_ENOMEM. */
weir_status weir_buf_reserve(weir_buf *b, size_t extra);
weir_status weir_buf_append(weir_buf *b, const void *p, size_t n);
weir_status weir_buf_append_str(weir_buf *b, const char *s);
weir_status weir_buf_append_byte(weir_buf *b, uint8_t c);
weir_status weir_buf_printf(weir_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hands the memory to the caller (free()), leaving the buffer empty. */
uint8_t *weir_buf_detach(weir_buf *b, size_t *len);

/* Base64 (RFC 4648, standard alphabet, '=' padding): appends the text of
 * p[0..n) to b; decodes n characters of padded text into the arena,
 * NUL-terminated one past *outlen. Decoding answers WEIR_EPARSE (with a
 * message naming `what`) for text that is not base64. */
weir_status weir_b64_append(weir_buf *b, const void *p, size_t n);
weir_status weir_b64_decode(const char *what, const char *t, size_t n, weir_arena_t *a,
                            const char **out, size_t *outlen);

/* ---------------------------------------------------------------- hashes */

#define WEIR_SHA256_LEN 32
#define WEIR_SHA256_HEX_LEN 64

typedef struct weir_sha256 {
    void *ctx; /* EVP_MD_CTX */
} weir_sha256;

weir_status weir_sha256_init(weir_sha256 *h);
weir_status weir_sha256_update(weir_sha256 *h, const void *p, size_t n);
/* Writes the digest and releases the context. */
weir_status weir_sha256_final(weir_sha256 *h, uint8_t out[WEIR_SHA256_LEN]);
/* Releases the context without a digest (error paths); safe to repeat. */
void weir_sha256_discard(weir_sha256 *h);
weir_status weir_sha256_hex(const void *p, size_t n, char out[WEIR_SHA256_HEX_LEN + 1]);
void weir_hex_encode(const uint8_t *p, size_t n, char *out /* 2n+1 */);

/*
 * CRC-32C (Castagnoli), as used by TFRecord. Uses the SSE4.2 instruction when
 * the CPU has it, a slicing-by-8 table otherwise. weir_crc32c_extend(0, p, n)
 * is the CRC of p.
 */
uint32_t weir_crc32c_extend(uint32_t crc, const void *p, size_t n);
static inline uint32_t weir_crc32c(const void *p, size_t n) {
    return weir_crc32c_extend(0, p, n);
}
/* The portable path, always; for tests and benchmarks. */
uint32_t weir_crc32c_extend_portable(uint32_t crc, const void *p, size_t n);
/* 1 when the hardware path is in use. */
int weir_crc32c_hw(void);

/* TensorFlow's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8. */
static inline uint32_t weir_crc32c_mask(uint32_t crc) {
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}
static inline uint32_t weir_crc32c_unmask(uint32_t masked) {
    uint32_t rot = masked - 0xa282ead8u;
    return (rot >> 17) | (rot << 15);
}

/* ------------------------------------------------------------ JSON, YAML */

/*
 * Both formats load into a cJSON tree (the caller frees it with
 * cJSON_Delete). Limits apply to untrusted input; zero fields take the
 * defaults below. YAML anchors/aliases are expanded, and the total number of
 * nodes created (counting every expansion) is capped, so "billion laughs"
 * fails cleanly with WEIR_ELIMIT. YAML scalars get JSON types by YAML 1.2's
 * core schema: null/~ -> null, true/false -> bool, ints/floats -> number,
 * quoted -> string. Only the first document of a YAML stream is read.
 */
typedef struct weir_doc_limits {
    size_t max_bytes;  /* default 16 MiB */
    size_t max_depth;  /* default 64 */
    size_t max_nodes;  /* default 1,000,000 (after alias expansion) */
} weir_doc_limits;

struct cJSON;

/* Each node created by the YAML loader remembers where it came from, so
 * a validator can name file:line. Lines are 1-based; 0 when unknown (JSON). */
typedef struct weir_doc_pos {
    const struct cJSON *node;
    uint32_t line;
    uint32_t column;
} weir_doc_pos;

/*
 * `name` (a file name or URI) is used only in error messages. On failure the
 * message names it with line and column. *out is untouched on failure.
 * `positions` may be NULL; when given, it receives a malloc'd array of the
 * YAML node positions (caller frees) and its count.
 */
weir_status weir_json_parse(const char *name, const char *text, size_t len,
                            const weir_doc_limits *lim, struct cJSON **out);
weir_status weir_yaml_parse(const char *name, const char *text, size_t len,
                            const weir_doc_limits *lim, struct cJSON **out,
                            weir_doc_pos **positions, size_t *npositions);
/* Reads a whole local file (capped at lim->max_bytes) and parses it as YAML
 * (which accepts JSON too). */
weir_status weir_doc_load_file(const char *path, const weir_doc_limits *lim,
                               struct cJSON **out);

/* Reads a whole local file into `out` (weir_buf_init'd by the caller; its
 * max applies). Error names the path. */
weir_status weir_file_read_all(const char *path, weir_buf *out);

#ifdef __cplusplus
}
#endif
#endif
