/*
 * json.c — weir-server's JSON writer (commas placed for the caller, a
 * capped buffer, sticky errors) and the JSON form of ML-Metadata objects
 * that every endpoint shares (docs/server.md, "Objects").
 *
 * Not for: parsing request bodies (cJSON through weir_json_parse).
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "weir/data.h"

void srv_jw_init(srv_jw *w, size_t max) {
    memset(w, 0, sizeof *w);
    weir_buf_init(&w->b, max);
}

void srv_jw_free(srv_jw *w) { weir_buf_free(&w->b); }

static void put(srv_jw *w, const void *p, size_t n) {
    if (!w->rc) w->rc = weir_buf_append(&w->b, p, n);
}

static void puts_(srv_jw *w, const char *s) { put(w, s, strlen(s)); }

/* Before a value (or a key): the comma, unless it follows a key or opens
 * a container. */
static void sep(srv_jw *w) {
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth > 0) {
        if (!w->first[w->depth]) put(w, ",", 1);
        w->first[w->depth] = 0;
    }
}

static void open_(srv_jw *w, char c) {
    sep(w);
    put(w, &c, 1);
    if (w->depth + 1 >= SRV_JW_DEPTH) {
        if (!w->rc) w->rc = WEIR_ELIMIT;
        return;
    }
    w->first[++w->depth] = 1;
}

static void close_(srv_jw *w, char c) {
    put(w, &c, 1);
    if (w->depth > 0) w->depth--;
}

void srv_jw_obj(srv_jw *w) { open_(w, '{'); }
void srv_jw_end_obj(srv_jw *w) { close_(w, '}'); }
void srv_jw_arr(srv_jw *w) { open_(w, '['); }
void srv_jw_end_arr(srv_jw *w) { close_(w, ']'); }

static void str_body(srv_jw *w, const char *s, size_t n) {
    put(w, "\"", 1);
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < n && !w->rc) {
        size_t run = i;
        while (run < n && p[run] >= 0x20 && p[run] != '"' && p[run] != '\\' && p[run] < 0x80) run++;
        if (run > i) {
            put(w, p + i, run - i);
            i = run;
            continue;
        }
        uint8_t c = p[i];
        if (c >= 0x80) {
            /* look at most one code point ahead: linear time on long strings */
            size_t ok = weir_utf8_valid_prefix(p + i, n - i < 4 ? n - i : 4);
            if (ok) {
                /* copy the valid multi-byte prefix up to the next ASCII byte */
                size_t end = i;
                while (end < i + ok && p[end] >= 0x80) end++;
                put(w, p + i, end - i);
                i = end;
            } else {
                puts_(w, "\\ufffd");
                i++;
            }
            continue;
        }
        char esc[8];
        switch (c) {
        case '"': puts_(w, "\\\""); break;
        case '\\': puts_(w, "\\\\"); break;
        case '\n': puts_(w, "\\n"); break;
        case '\r': puts_(w, "\\r"); break;
        case '\t': puts_(w, "\\t"); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            puts_(w, esc);
        }
        i++;
    }
    put(w, "\"", 1);
}

void srv_jw_key(srv_jw *w, const char *k) {
    sep(w);
    str_body(w, k, strlen(k));
    put(w, ":", 1);
    w->after_key = 1;
}

void srv_jw_strn(srv_jw *w, const char *s, size_t n) {
    sep(w);
    str_body(w, s, n);
}

void srv_jw_str(srv_jw *w, const char *s) {
    if (!s) {
        srv_jw_null(w);
        return;
    }
    srv_jw_strn(w, s, strlen(s));
}

void srv_jw_int(srv_jw *w, int64_t v) {
    char t[32];
    sep(w);
    snprintf(t, sizeof t, "%lld", (long long)v);
    puts_(w, t);
}

void srv_jw_uint(srv_jw *w, uint64_t v) {
    char t[32];
    sep(w);
    snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    puts_(w, t);
}

void srv_jw_dbl(srv_jw *w, double v) {
    if (!isfinite(v)) {
        srv_jw_null(w);
        return;
    }
    char t[40];
    sep(w);
    /* the shortest of %.15g / %.17g that reads back the same */
    snprintf(t, sizeof t, "%.15g", v);
    if (strtod(t, NULL) != v) snprintf(t, sizeof t, "%.17g", v);
    puts_(w, t);
}

void srv_jw_bool(srv_jw *w, int v) {
    sep(w);
    puts_(w, v ? "true" : "false");
}

void srv_jw_null(srv_jw *w) {
    sep(w);
    puts_(w, "null");
}

void srv_jw_raw(srv_jw *w, const char *json, size_t n) {
    sep(w);
    put(w, json, n);
}

void srv_jw_b64(srv_jw *w, const void *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *s = p;
    srv_jw_obj(w);
    srv_jw_key(w, "b64");
    sep(w);
    put(w, "\"", 1);
    for (size_t i = 0; i < n && !w->rc; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        if (i + 1 < n) v |= (uint32_t)s[i + 1] << 8;
        if (i + 2 < n) v |= s[i + 2];
        char o[4] = {tab[(v >> 18) & 63], tab[(v >> 12) & 63], i + 1 < n ? tab[(v >> 6) & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        put(w, o, 4);
    }
    put(w, "\"", 1);
    srv_jw_end_obj(w);
}

void srv_jw_cjson(srv_jw *w, const cJSON *v) {
    if (!v) {
        srv_jw_null(w);
        return;
    }
    if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
        int obj = cJSON_IsObject(v);
        obj ? srv_jw_obj(w) : srv_jw_arr(w);
        for (const cJSON *c = v->child; c && !w->rc; c = c->next) {
            if (obj) srv_jw_key(w, c->string ? c->string : "");
            srv_jw_cjson(w, c);
        }
        obj ? srv_jw_end_obj(w) : srv_jw_end_arr(w);
    } else if (cJSON_IsString(v)) {
        srv_jw_str(w, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d == (double)(int64_t)d && fabs(d) < 9e15) srv_jw_int(w, (int64_t)d);
        else srv_jw_dbl(w, d);
    } else if (cJSON_IsBool(v)) {
        srv_jw_bool(w, cJSON_IsTrue(v));
    } else {
        srv_jw_null(w);
    }
}

void srv_jw_kstr(srv_jw *w, const char *k, const char *s) {
    srv_jw_key(w, k);
    srv_jw_str(w, s);
}
void srv_jw_kint(srv_jw *w, const char *k, int64_t v) {
    srv_jw_key(w, k);
    srv_jw_int(w, v);
}
void srv_jw_kdbl(srv_jw *w, const char *k, double v) {
    srv_jw_key(w, k);
    srv_jw_dbl(w, v);
}
void srv_jw_kbool(srv_jw *w, const char *k, int v) {
    srv_jw_key(w, k);
    srv_jw_bool(w, v);
}

/* ------------------------------------------------------------ MLMD objects */

const char *srv_prop_str(const weir_meta_prop *p, size_t n, const char *name, const char *dflt) {
    const weir_meta_prop *x = weir_meta_prop_find(p, n, name);
    return x && x->value.type == WEIR_META_STRING ? x->value.s : dflt;
}

/* A property value: INT a number, DOUBLE a number (null when not finite),
 * STRING a string, BOOLEAN true/false, STRUCT and PROTO {"b64": wire bytes}.
 * Typed (w->typed, for clients that write back what they read, like the
 * store over HTTP): MLMD's Value as proto3 JSON says it, {"int_value":
 * "123"} (a string: int64 does not fit a JSON number), {"double_value": x}
 * ("NaN", "Infinity", "-Infinity" when not finite), {"string_value": ..},
 * {"bool_value": ..}, {"struct_value"|"proto_value": {"b64": ..}}. */
void srv_jw_value(srv_jw *w, const weir_meta_value *v) {
    if (w->typed) {
        char t[32];
        srv_jw_obj(w);
        switch (v->type) {
        case WEIR_META_INT:
            snprintf(t, sizeof t, "%lld", (long long)v->i);
            srv_jw_kstr(w, "int_value", t);
            break;
        case WEIR_META_DOUBLE:
            if (isfinite(v->d)) srv_jw_kdbl(w, "double_value", v->d);
            else srv_jw_kstr(w, "double_value", isnan(v->d) ? "NaN" : v->d > 0 ? "Infinity" : "-Infinity");
            break;
        case WEIR_META_STRING: srv_jw_kstr(w, "string_value", v->s ? v->s : ""); break;
        case WEIR_META_BOOLEAN: srv_jw_kbool(w, "bool_value", v->i != 0); break;
        case WEIR_META_STRUCT:
        case WEIR_META_PROTO:
            srv_jw_key(w, v->type == WEIR_META_STRUCT ? "struct_value" : "proto_value");
            srv_jw_b64(w, v->s, v->len);
            break;
        default: break;
        }
        srv_jw_end_obj(w);
        return;
    }
    switch (v->type) {
    case WEIR_META_INT: srv_jw_int(w, v->i); break;
    case WEIR_META_DOUBLE: srv_jw_dbl(w, v->d); break;
    case WEIR_META_STRING: srv_jw_str(w, v->s ? v->s : ""); break;
    case WEIR_META_BOOLEAN: srv_jw_bool(w, v->i != 0); break;
    case WEIR_META_STRUCT:
    case WEIR_META_PROTO: srv_jw_b64(w, v->s, v->len); break;
    default: srv_jw_null(w); break;
    }
}

void srv_jw_props(srv_jw *w, const weir_meta_prop *p, size_t n) {
    srv_jw_obj(w);
    for (size_t i = 0; i < n; i++) {
        srv_jw_key(w, p[i].name);
        srv_jw_value(w, &p[i].value);
    }
    srv_jw_end_obj(w);
}

static void common(srv_req *r, int64_t id, int64_t type_id, const char *name, const char *ext) {
    srv_jw *w = &r->w;
    srv_jw_kint(w, "id", id);
    srv_jw_kint(w, "type_id", type_id);
    srv_jw_kstr(w, "type", srv_type_name(r, type_id));
    srv_jw_kstr(w, "name", name);
    srv_jw_kstr(w, "external_id", ext);
}

void srv_jw_artifact(srv_req *r, const weir_meta_artifact *a) {
    srv_jw *w = &r->w;
    srv_jw_obj(w);
    common(r, a->id, a->type_id, a->name, a->external_id);
    srv_jw_kstr(w, "uri", a->uri);
    srv_jw_kstr(w, "state", weir_meta_artifact_state_name(a->state));
    srv_jw_key(w, "properties");
    srv_jw_props(w, a->props, a->nprops);
    srv_jw_key(w, "custom_properties");
    srv_jw_props(w, a->custom, a->ncustom);
    srv_jw_kint(w, "create_time_ms", a->create_time_ms);
    srv_jw_kint(w, "update_time_ms", a->update_time_ms);
    srv_jw_end_obj(w);
}

void srv_jw_execution(srv_req *r, const weir_meta_execution *e) {
    srv_jw *w = &r->w;
    srv_jw_obj(w);
    common(r, e->id, e->type_id, e->name, e->external_id);
    srv_jw_kstr(w, "state", weir_meta_execution_state_name(e->state));
    srv_jw_key(w, "properties");
    srv_jw_props(w, e->props, e->nprops);
    srv_jw_key(w, "custom_properties");
    srv_jw_props(w, e->custom, e->ncustom);
    srv_jw_kint(w, "create_time_ms", e->create_time_ms);
    srv_jw_kint(w, "update_time_ms", e->update_time_ms);
    srv_jw_end_obj(w);
}

void srv_jw_context(srv_req *r, const weir_meta_context *c) {
    srv_jw *w = &r->w;
    srv_jw_obj(w);
    common(r, c->id, c->type_id, c->name, c->external_id);
    srv_jw_key(w, "properties");
    srv_jw_props(w, c->props, c->nprops);
    srv_jw_key(w, "custom_properties");
    srv_jw_props(w, c->custom, c->ncustom);
    srv_jw_kint(w, "create_time_ms", c->create_time_ms);
    srv_jw_kint(w, "update_time_ms", c->update_time_ms);
    srv_jw_end_obj(w);
}

void srv_jw_event(srv_jw *w, const weir_meta_event *e) {
    srv_jw_obj(w);
    srv_jw_kint(w, "artifact_id", e->artifact_id);
    srv_jw_kint(w, "execution_id", e->execution_id);
    srv_jw_kstr(w, "type", weir_meta_event_type_name(e->type));
    srv_jw_key(w, "path");
    srv_jw_arr(w);
    for (size_t i = 0; i < e->npath; i++) {
        srv_jw_obj(w);
        if (e->path[i].key) srv_jw_kstr(w, "key", e->path[i].key);
        else srv_jw_kint(w, "index", e->path[i].index);
        srv_jw_end_obj(w);
    }
    srv_jw_end_arr(w);
    srv_jw_kint(w, "time_ms", e->time_ms);
    srv_jw_end_obj(w);
}
