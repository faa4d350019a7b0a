/*
 * js_heapsnap.c: the heap snapshot parser and its analyses (src/core/heapsnap.h)
 * for lib/heap-snapshot.js and lib/heapdiff.js.
 *
 * Parsers, graphs and digests are type-tagged externals. Each can be freed
 * early with hsFree (a graph of millions of nodes should not wait for the GC);
 * the finalizer frees whatever is left. Parse errors are thrown as Errors with
 * code ERR_NMW_HEAP_SNAPSHOT and an `offset` property (the byte in the input).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/heapsnap.h"
#include "addon.h"
#include "napi_util.h"

static const napi_type_tag nmw__hs_type_tag = {UINT64_C(0x6e6d772d68656170), UINT64_C(0x736e61702d686e64)};

typedef enum { HS_PARSER = 1, HS_GRAPH, HS_DIGEST } nmw_hs_kind_t;

typedef struct {
  nmw_hs_kind_t kind;
  void *ptr; /* NULL once freed */
  char *scratch; /* parsers: a chunk's UTF-8 copy */
  size_t scratch_cap;
} nmw_hs_handle_t;

static void nmw__hs_release(nmw_hs_handle_t *h) {
  switch (h->kind) {
  case HS_PARSER: nmw_hs_parser_free(h->ptr); break;
  case HS_GRAPH: nmw_hs_graph_free(h->ptr); break;
  case HS_DIGEST: nmw_hs_digest_free(h->ptr); break;
  }
  h->ptr = NULL;
  free(h->scratch);
  h->scratch = NULL;
  h->scratch_cap = 0;
}

static void nmw__hs_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  nmw__hs_release(data);
  free(data);
}

static napi_value nmw__hs_wrap(napi_env env, nmw_hs_kind_t kind, void *ptr) {
  nmw_hs_handle_t *h = calloc(1, sizeof *h);
  napi_value out;
  if (h == NULL) {
    switch (kind) {
    case HS_PARSER: nmw_hs_parser_free(ptr); break;
    case HS_GRAPH: nmw_hs_graph_free(ptr); break;
    case HS_DIGEST: nmw_hs_digest_free(ptr); break;
    }
    return nmw__throw(env, "Error", "ERR_NMW_NO_MEMORY", "heap snapshot: out of memory");
  }
  h->kind = kind;
  h->ptr = ptr;
  if (napi_create_external(env, h, nmw__hs_finalize, NULL, &out) != napi_ok) {
    nmw__hs_release(h);
    free(h);
    nmw__throw_last_error(env, "napi_create_external");
    return NULL;
  }
  NMW_CALL(env, napi_type_tag_object(env, out, &nmw__hs_type_tag));
  return out;
}

/* The live handle of that kind behind value, or NULL with a TypeError thrown. */
static nmw_hs_handle_t *nmw__hs_of(napi_env env, napi_value value, nmw_hs_kind_t kind, const char *what) {
  napi_valuetype type;
  bool tagged = false;
  void *data = NULL;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external ||
      napi_check_object_type_tag(env, value, &nmw__hs_type_tag, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, value, &data) != napi_ok || data == NULL ||
      (kind != 0 && ((nmw_hs_handle_t *)data)->kind != kind)) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a heap snapshot %s handle", what,
             kind == HS_PARSER ? "parser" : kind == HS_GRAPH ? "graph" : kind == HS_DIGEST ? "digest" : "");
    nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", msg);
    return NULL;
  }
  nmw_hs_handle_t *h = data;
  if (h->ptr == NULL) {
    nmw__throw(env, "Error", "ERR_NMW_HEAP_SNAPSHOT_FREED", "heap snapshot handle was already freed");
    return NULL;
  }
  return h;
}

/* Throws the parser's error: "heap snapshot: <message> at byte <offset>". */
static napi_value nmw__hs_throw_parse(napi_env env, nmw_hs_parser *p) {
  uint64_t off = 0;
  const char *err = nmw_hs_parser_error(p, &off);
  char msg[320];
  snprintf(msg, sizeof msg, "heap snapshot: %s at byte %llu", err ? err : "unknown error", (unsigned long long)off);
  napi_value text, code, error, offset;
  NMW_CALL(env, napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text));
  NMW_CALL(env, napi_create_string_utf8(env, "ERR_NMW_HEAP_SNAPSHOT", NAPI_AUTO_LENGTH, &code));
  NMW_CALL(env, napi_create_error(env, code, text, &error));
  NMW_CALL(env, napi_create_double(env, (double)off, &offset));
  NMW_CALL(env, napi_set_named_property(env, error, "offset", offset));
  NMW_CALL(env, napi_set_named_property(env, error, "reason", text));
  if (err != NULL) {
    napi_value reason;
    NMW_CALL(env, napi_create_string_utf8(env, err, NAPI_AUTO_LENGTH, &reason));
    NMW_CALL(env, napi_set_named_property(env, error, "reason", reason));
  }
  NMW_CALL(env, napi_throw(env, error));
  return NULL;
}

static bool nmw__hs_get_limit(napi_env env, napi_value v, const char *what, uint64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok || !(d >= 0) || d > 9007199254740992.0 || d != (double)(uint64_t)d) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a non-negative integer", what);
    nmw__throw(env, "RangeError", "ERR_OUT_OF_RANGE", msg);
    return false;
  }
  *out = (uint64_t)d;
  return true;
}

/* hsParserNew(keepAllNames, maxNodes, maxStringBytes) -> parser (0: default limits) */
static napi_value nmw__js_hs_parser_new(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 3, argv);
  nmw_hs_options o = {0};
  bool keep = false;
  NMW_CALL(env, napi_get_value_bool(env, argv[0], &keep));
  if (!nmw__hs_get_limit(env, argv[1], "maxNodes", &o.max_nodes) ||
      !nmw__hs_get_limit(env, argv[2], "maxStringBytes", &o.max_string_bytes))
    return NULL;
  o.keep_all_names = keep;
  nmw_hs_parser *p = nmw_hs_parser_new(&o);
  if (p == NULL) return nmw__throw(env, "Error", "ERR_NMW_NO_MEMORY", "heap snapshot: out of memory");
  return nmw__hs_wrap(env, HS_PARSER, p);
}

/* hsFeed(parser, chunk: string | ArrayBufferView[, length]) */
static napi_value nmw__js_hs_feed(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 3, argv);
  nmw_hs_handle_t *h = nmw__hs_of(env, argv[0], HS_PARSER, "parser");
  if (h == NULL) return NULL;
  napi_valuetype type;
  NMW_CALL(env, napi_typeof(env, argv[1], &type));
  const char *data = NULL;
  size_t len = 0;
  if (type == napi_string) {
    NMW_CALL(env, napi_get_value_string_utf8(env, argv[1], NULL, 0, &len));
    if (len + 1 > h->scratch_cap) {
      size_t cap = len + 1 < 65536 ? 65536 : len + 1;
      char *s = realloc(h->scratch, cap);
      if (s == NULL) return nmw__throw(env, "Error", "ERR_NMW_NO_MEMORY", "heap snapshot: out of memory");
      h->scratch = s;
      h->scratch_cap = cap;
    }
    NMW_CALL(env, napi_get_value_string_utf8(env, argv[1], h->scratch, h->scratch_cap, &len));
    data = h->scratch;
  } else {
    bool is_typed = false;
    NMW_CALL(env, napi_is_typedarray(env, argv[1], &is_typed));
    if (!is_typed) return nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", "chunk must be a string or a Uint8Array");
    napi_typedarray_type tt;
    size_t count;
    void *ptr;
    NMW_CALL(env, napi_get_typedarray_info(env, argv[1], &tt, &count, &ptr, NULL, NULL));
    if (tt != napi_uint8_array) return nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", "chunk must be a string or a Uint8Array");
    data = ptr;
    len = count;
    NMW_CALL(env, napi_typeof(env, argv[2], &type));
    if (type == napi_number) {
      uint64_t n;
      if (!nmw__hs_get_limit(env, argv[2], "length", &n)) return NULL;
      if (n > count) return nmw__throw(env, "RangeError", "ERR_OUT_OF_RANGE", "length is larger than the chunk");
      len = (size_t)n;
    }
  }
  if (nmw_hs_parser_feed(h->ptr, data, len) != 0) return nmw__hs_throw_parse(env, h->ptr);
  return NULL;
}

/* hsFinish(parser) -> graph (the parser is freed) */
static napi_value nmw__js_hs_finish(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 1, argv);
  nmw_hs_handle_t *h = nmw__hs_of(env, argv[0], HS_PARSER, "parser");
  if (h == NULL) return NULL;
  if (nmw_hs_parser_finish(h->ptr) != 0) return nmw__hs_throw_parse(env, h->ptr);
  nmw_hs_graph *g = nmw_hs_parser_take_graph(h->ptr);
  nmw__hs_release(h);
  if (g == NULL) return nmw__throw(env, "Error", "ERR_NMW_HEAP_SNAPSHOT", "heap snapshot: no graph");
  return nmw__hs_wrap(env, HS_GRAPH, g);
}

/* hsFree(handle): frees a parser, graph or digest now. */
static napi_value nmw__js_hs_free(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 1, argv);
  napi_valuetype type;
  bool tagged = false;
  void *data = NULL;
  NMW_CALL(env, napi_typeof(env, argv[0], &type));
  if (type != napi_external || napi_check_object_type_tag(env, argv[0], &nmw__hs_type_tag, &tagged) != napi_ok ||
      !tagged || napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL)
    return nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", "handle must be a heap snapshot handle");
  nmw__hs_release(data);
  return NULL;
}

static bool nmw__hs_string_arg(napi_env env, napi_value v, char *buf, size_t cap, bool *present) {
  napi_valuetype type;
  *present = false;
  if (napi_typeof(env, v, &type) != napi_ok) return false;
  if (type != napi_string) return true;
  size_t len;
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return false;
  *present = true;
  return true;
}

/* hsDigest(graph, skipName | null[, countsOnly]) -> digest; countsOnly: a
 * summary's counts without the per-node columns (hsDigestInfo only, no hsDiff) */
static napi_value nmw__js_hs_digest(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 3, argv);
  nmw_hs_handle_t *h = nmw__hs_of(env, argv[0], HS_GRAPH, "graph");
  if (h == NULL) return NULL;
  char skip[256];
  bool has_skip;
  if (!nmw__hs_string_arg(env, argv[1], skip, sizeof skip, &has_skip)) return NULL;
  bool counts_only = false;
  napi_valuetype t3;
  NMW_CALL(env, napi_typeof(env, argv[2], &t3));
  if (t3 == napi_boolean) NMW_CALL(env, napi_get_value_bool(env, argv[2], &counts_only));
  nmw_hs_digest *d = counts_only ? nmw_hs_summary_new(h->ptr, has_skip ? skip : NULL)
                                 : nmw_hs_digest_new(h->ptr, has_skip ? skip : NULL);
  if (d == NULL) return nmw__throw(env, "Error", "ERR_NMW_NO_MEMORY", "heap snapshot: out of memory");
  return nmw__hs_wrap(env, HS_DIGEST, d);
}

/* hsDigestInfo(digest) -> {nodes, reachable, size_bytes, classes: [{what, count, size_bytes}]} */
static napi_value nmw__js_hs_digest_info(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 1, argv);
  nmw_hs_handle_t *h = nmw__hs_of(env, argv[0], HS_DIGEST, "digest");
  if (h == NULL) return NULL;
  nmw_hs_digest *d = h->ptr;
  napi_value out, classes;
  NMW_CALL(env, napi_create_object(env, &out));
  if (!nmw__set_double(env, out, "nodes", d->node_count) || !nmw__set_double(env, out, "reachable", d->count) ||
      !nmw__set_double(env, out, "size_bytes", (double)d->size_bytes))
    return NULL;
  NMW_CALL(env, napi_create_array_with_length(env, d->class_count, &classes));
  for (uint32_t c = 0; c < d->class_count; c++) {
    napi_value row;
    NMW_CALL(env, napi_create_object(env, &row));
    if (!nmw__set_string(env, row, "what", nmw_hs_digest_class(d, c)) ||
        !nmw__set_double(env, row, "count", (double)d->class_nodes[c]) ||
        !nmw__set_double(env, row, "size_bytes", (double)d->class_bytes[c]))
      return NULL;
    NMW_CALL(env, napi_set_element(env, classes, c, row));
  }
  if (!nmw__set_value(env, out, "classes", classes)) return NULL;
  return out;
}

/* hsDiff(before, after, samples) -> {freed_nodes, allocated_nodes, size_bytes,
 * details: [{what, size_bytes, '+', '-', sampleIds?}]} */
static napi_value nmw__js_hs_diff(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 3, argv);
  nmw_hs_handle_t *a = nmw__hs_of(env, argv[0], HS_DIGEST, "before");
  if (a == NULL) return NULL;
  nmw_hs_handle_t *b = nmw__hs_of(env, argv[1], HS_DIGEST, "after");
  if (b == NULL) return NULL;
  if (((nmw_hs_digest *)a->ptr)->id == NULL || ((nmw_hs_digest *)b->ptr)->id == NULL)
    return nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", "hsDiff needs full digests, not counts-only ones");
  uint32_t samples;
  NMW_CALL(env, napi_get_value_uint32(env, argv[2], &samples));
  if (samples > 100000) return nmw__throw(env, "RangeError", "ERR_OUT_OF_RANGE", "samples must be at most 100000");
  nmw_hs_diff *d = nmw_hs_diff_new(a->ptr, b->ptr, samples);
  if (d == NULL) return nmw__throw(env, "Error", "ERR_NMW_NO_MEMORY", "heap snapshot: out of memory");
  napi_value out = NULL, details;
  bool ok = napi_create_object(env, &out) == napi_ok && nmw__set_double(env, out, "freed_nodes", (double)d->freed_nodes) &&
            nmw__set_double(env, out, "allocated_nodes", (double)d->allocated_nodes) &&
            nmw__set_double(env, out, "size_bytes", (double)d->size_bytes) &&
            napi_create_array_with_length(env, d->change_count, &details) == napi_ok;
  for (uint32_t i = 0; ok && i < d->change_count; i++) {
    nmw_hs_change *c = &d->changes[i];
    napi_value row;
    ok = napi_create_object(env, &row) == napi_ok && nmw__set_string(env, row, "what", c->what) &&
         nmw__set_double(env, row, "size_bytes", (double)c->size_bytes) &&
         nmw__set_double(env, row, "+", (double)c->added) && nmw__set_double(env, row, "-", (double)c->released);
    if (ok && samples > 0) {
      napi_value ids;
      ok = napi_create_array_with_length(env, c->sample_count, &ids) == napi_ok;
      for (uint32_t k = 0; ok && k < c->sample_count; k++) {
        napi_value id;
        ok = napi_create_uint32(env, c->sample_ids[k], &id) == napi_ok && napi_set_element(env, ids, k, id) == napi_ok;
      }
      ok = ok && nmw__set_value(env, row, "sampleIds", ids);
    }
    ok = ok && napi_set_element(env, details, i, row) == napi_ok;
  }
  ok = ok && nmw__set_value(env, out, "details", details);
  nmw_hs_diff_free(d);
  if (!ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) nmw__throw_last_error(env, "hsDiff");
    return NULL;
  }
  return out;
}

#define NMW_HS_MAX_PATH 64

/* One step of a path: the node and the edge that leads to it (none for the root). */
static bool nmw__hs_path_step(napi_env env, const nmw_hs_graph *g, uint32_t node, int64_t edge, napi_value *out) {
  if (napi_create_object(env, out) != napi_ok) return false;
  const char *name = nmw_hs_graph_string(g, g->node_name[node]);
  if (!nmw__set_string(env, *out, "what", nmw_hs_graph_what(g, node)) ||
      !nmw__set_string(env, *out, "type", g->node_type_names[g->node_type[node]]) ||
      !nmw__set_string(env, *out, "name", name) || !nmw__set_double(env, *out, "id", g->node_id[node]) ||
      !nmw__set_double(env, *out, "self_size", (double)g->node_size[node]))
    return false;
  if (edge < 0) return true;
  uint32_t e = (uint32_t)edge;
  uint8_t et = g->edge_type[e];
  if (!nmw__set_string(env, *out, "edgeType", g->edge_type_names[et])) return false;
  if (g->edge_is_index[et]) return nmw__set_double(env, *out, "edge", g->edge_name[e]);
  return nmw__set_string(env, *out, "edge", nmw_hs_graph_string(g, g->edge_name[e]));
}

/* hsPaths(graph, ids: number[], skipName | null) -> Array<null | step[]>: one
 * shortest retainer path from the root per id (at most 64 steps shown; longer
 * paths keep their first 63 steps and the node itself). */
static napi_value nmw__js_hs_paths(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 3, argv);
  nmw_hs_handle_t *h = nmw__hs_of(env, argv[0], HS_GRAPH, "graph");
  if (h == NULL) return NULL;
  bool is_array = false;
  NMW_CALL(env, napi_is_array(env, argv[1], &is_array));
  if (!is_array) return nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", "ids must be an array");
  char skip[256];
  bool has_skip;
  if (!nmw__hs_string_arg(env, argv[2], skip, sizeof skip, &has_skip)) return NULL;
  uint32_t count;
  NMW_CALL(env, napi_get_array_length(env, argv[1], &count));
  const nmw_hs_graph *g = h->ptr;
  nmw_hs_paths *paths = nmw_hs_paths_new(g, has_skip ? skip : NULL);
  if (paths == NULL) return nmw__throw(env, "Error", "ERR_NMW_NO_MEMORY", "heap snapshot: out of memory");
  napi_value out = NULL;
  bool ok = napi_create_array_with_length(env, count, &out) == napi_ok;
  uint32_t nodes[NMW_HS_MAX_PATH], edges[NMW_HS_MAX_PATH];
  for (uint32_t i = 0; ok && i < count; i++) {
    napi_value v, path;
    uint32_t id = 0;
    ok = napi_get_element(env, argv[1], i, &v) == napi_ok && napi_get_value_uint32(env, v, &id) == napi_ok;
    if (!ok) break;
    uint32_t node = nmw_hs_paths_find(paths, id);
    uint32_t len = node == UINT32_MAX ? 0 : nmw_hs_paths_get(paths, node, nodes, edges, NMW_HS_MAX_PATH);
    if (len == 0) {
      ok = napi_get_null(env, &path) == napi_ok && napi_set_element(env, out, i, path) == napi_ok;
      continue;
    }
    uint32_t shown = len <= NMW_HS_MAX_PATH ? len : NMW_HS_MAX_PATH;
    ok = napi_create_array_with_length(env, shown, &path) == napi_ok;
    for (uint32_t k = 0; ok && k < shown; k++) {
      napi_value step;
      bool last = k == shown - 1 && shown < len; /* the node itself, after a cut */
      uint32_t nd = last ? node : nodes[k];
      int64_t edge = k == 0 ? -1 : last ? -1 : (int64_t)edges[k - 1];
      ok = nmw__hs_path_step(env, g, nd, edge, &step) && napi_set_element(env, path, k, step) == napi_ok;
    }
    ok = ok && napi_set_element(env, out, i, path) == napi_ok;
  }
  nmw_hs_paths_free(paths);
  if (!ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) nmw__throw_last_error(env, "hsPaths");
    return NULL;
  }
  return out;
}

napi_status nmw__init_heapsnap(napi_env env, napi_value exports) {
  static const nmw_method_t methods[] = {
      {"hsParserNew", nmw__js_hs_parser_new}, {"hsFeed", nmw__js_hs_feed},
      {"hsFinish", nmw__js_hs_finish},        {"hsFree", nmw__js_hs_free},
      {"hsDigest", nmw__js_hs_digest},        {"hsDigestInfo", nmw__js_hs_digest_info},
      {"hsDiff", nmw__js_hs_diff},            {"hsPaths", nmw__js_hs_paths},
  };
  return nmw__define_methods(env, exports, methods, sizeof methods / sizeof methods[0]);
}
