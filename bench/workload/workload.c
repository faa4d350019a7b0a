/*
 * workload.c: a tree of small nodes built from JS, node by node, then walked and
 * freed in C. Built three times (binding.gyp): tracked through native_memwatch.h;
 * with plain malloc (-DWORKLOAD_PLAIN); and with plain malloc asked for the bytes
 * the tracker asks libc for (-DWORKLOAD_PADDED: the 16-byte header, the size
 * class's capacity and the 8-byte canary), which separates what the larger
 * chunks cost glibc from what the tracker's own code costs. The same code otherwise.
 *
 *   init() -> "ok" | import status      node(value) -> BigInt handle (a node: 32 B,
 *   a label strdup'd, ~12 B)            link(parent, child): appends to the parent's
 *   children (realloc'd array, doubling)  sum(root) -> number of nodes
 *   destroy(root): frees the tree
 */
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(WORKLOAD_PADDED)
/* What the tracker asks libc for, for a block of n bytes (docs/architecture.md). */
static size_t padded(size_t n) {
  size_t cap = n <= 1024 ? 16 * (n ? (n + 15) / 16 : 1) : n;
  return 16 + cap + 8;
}
static char *padded_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *c = malloc(padded(n));
  if (c) memcpy(c, s, n);
  return c;
}
#define WORKLOAD_PLAIN
#define W_MALLOC(n) malloc(padded(n))
#define W_REALLOC(p, n) realloc(p, padded(n))
#define W_STRDUP(s) padded_strdup(s)
#define W_FREE(p) free(p)
#elif defined(WORKLOAD_PLAIN)
#define W_MALLOC(n) malloc(n)
#define W_REALLOC(p, n) realloc(p, n)
#define W_STRDUP(s) strdup(s)
#define W_FREE(p) free(p)
#else
#include "native_memwatch.h"
static nmw_tag_t tag;
#define W_MALLOC(n) nmw_malloc((n), tag)
#define W_REALLOC(p, n) nmw_realloc((p), (n), tag)
#define W_STRDUP(s) nmw_strdup((s), tag)
#define W_FREE(p) nmw_free((p), tag)
#endif

typedef struct node {
  struct node **kids;
  char *label;
  uint32_t n, cap;
  int64_t value;
} node_t;

static napi_value init(napi_env env, napi_callback_info info) {
  (void)info;
  const char *status = "ok";
#ifndef WORKLOAD_PLAIN
  int rc = nmw_import(env);
  if (rc != NMW_OK) status = "import failed";
  else tag = nmw_tag("bench.workload");
#endif
  napi_value out;
  napi_create_string_utf8(env, status, NAPI_AUTO_LENGTH, &out);
  return out;
}

static node_t *arg_node(napi_env env, napi_value v) {
  uint64_t u = 0;
  bool lossless;
  napi_get_value_bigint_uint64(env, v, &u, &lossless);
  return (node_t *)(uintptr_t)u;
}

static napi_value make_node(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t value = 0;
  napi_get_value_int64(env, argv[0], &value);
  node_t *n = W_MALLOC(sizeof *n);
  if (!n) return NULL;
  char label[24];
  snprintf(label, sizeof label, "n%lld", (long long)value);
  *n = (node_t){.kids = NULL, .label = W_STRDUP(label), .n = 0, .cap = 0, .value = value};
  napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)n, &out);
  return out;
}

static napi_value link_nodes(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  node_t *p = arg_node(env, argv[0]), *c = arg_node(env, argv[1]);
  if (p->n == p->cap) {
    uint32_t cap = p->cap ? p->cap * 2 : 2;
    node_t **kids = W_REALLOC(p->kids, cap * sizeof *kids);
    if (!kids) return NULL;
    p->kids = kids;
    p->cap = cap;
  }
  p->kids[p->n++] = c;
  return NULL;
}

static double count(const node_t *n) {
  double s = 1;
  for (uint32_t i = 0; i < n->n; i++) s += count(n->kids[i]);
  return s;
}

static napi_value sum(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_create_double(env, count(arg_node(env, argv[0])), &out);
  return out;
}

static void destroy_node(node_t *n) {
  for (uint32_t i = 0; i < n->n; i++) destroy_node(n->kids[i]);
  W_FREE(n->kids);
  W_FREE(n->label);
  W_FREE(n);
}

static napi_value destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  destroy_node(arg_node(env, argv[0]));
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"init", NULL, init, NULL, NULL, NULL, napi_default, NULL},
      {"node", NULL, make_node, NULL, NULL, NULL, napi_default, NULL},
      {"link", NULL, link_nodes, NULL, NULL, NULL, napi_default, NULL},
      {"sum", NULL, sum, NULL, NULL, NULL, napi_default, NULL},
      {"destroy", NULL, destroy, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
