/*
 * fuzz_heapsnap.c: libFuzzer target for the heap snapshot parser and the
 * analyses that run on what it accepts. The input is split into chunks at
 * positions drawn from its first byte, so chunk boundaries are fuzzed too.
 * Every input is also parsed whole, in 61-byte chunks and one byte at a time:
 * the three outcomes must be the same (the fast paths change nothing).
 * Built and run by scripts/fuzz.sh (clang, -fsanitize=fuzzer,address,undefined).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/heapsnap.h"

/* FNV-1a over the outcome of a parse fed in steps of `step` bytes: the error
 * message and offset, or every column and kept string of the graph. */
static uint64_t mix(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

static uint64_t outcome(const char *data, size_t size, size_t step, const nmw_hs_options *o) {
  nmw_hs_parser *p = nmw_hs_parser_new(o);
  if (p == NULL) abort();
  int rc = 0;
  for (size_t i = 0; i < size && rc == 0; i += step)
    rc = nmw_hs_parser_feed(p, data + i, size - i < step ? size - i : step);
  if (rc == 0) rc = nmw_hs_parser_finish(p);
  uint64_t h = 14695981039346656037ull;
  if (rc != 0) {
    uint64_t off = 0;
    const char *err = nmw_hs_parser_error(p, &off);
    h = mix(mix(h, err, strlen(err)), &off, sizeof off);
  } else {
    nmw_hs_graph *g = nmw_hs_parser_take_graph(p);
    h = mix(h, &g->node_count, 4);
    h = mix(h, &g->edge_count, 4);
    h = mix(h, g->node_type, g->node_count);
    h = mix(h, g->node_name, 4ull * g->node_count);
    h = mix(h, g->node_id, 4ull * g->node_count);
    h = mix(h, g->node_size, 8ull * g->node_count);
    h = mix(h, g->edge_first, 4ull * (g->node_count + 1));
    h = mix(h, g->edge_type, g->edge_count);
    h = mix(h, g->edge_name, 4ull * g->edge_count);
    h = mix(h, g->edge_to, 4ull * g->edge_count);
    for (uint32_t i = 0; i < g->string_count; i++) {
      const char *str = nmw_hs_graph_string(g, i);
      h = str ? mix(h, str, strlen(str) + 1) : mix(h, "\xff", 1);
    }
    nmw_hs_graph_free(g);
  }
  nmw_hs_parser_free(p);
  return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  size_t step = (size_t)data[0] % 17 + 1; /* 1..17-byte chunks, or the rest at once */
  data++;
  size--;
  nmw_hs_options o = {0};
  o.max_nodes = 1u << 16;
  o.max_edges = 1u << 18;
  o.max_string_bytes = 1u << 20;
  o.keep_all_names = step & 1;
  nmw_hs_parser *p = nmw_hs_parser_new(&o);
  if (p == NULL) return 0;
  int rc = 0;
  if (step == 17) {
    rc = nmw_hs_parser_feed(p, (const char *)data, size);
  } else {
    for (size_t i = 0; i < size && rc == 0; i += step)
      rc = nmw_hs_parser_feed(p, (const char *)data + i, size - i < step ? size - i : step);
  }
  if (rc == 0 && nmw_hs_parser_finish(p) == 0) {
    nmw_hs_graph *g = nmw_hs_parser_take_graph(p);
    for (uint32_t i = 0; i < g->node_count; i++) (void)nmw_hs_graph_what(g, i);
    nmw_hs_digest *d = nmw_hs_digest_new(g, "HeapDiff");
    nmw_hs_digest *sum = nmw_hs_summary_new(g, "HeapDiff");
    if (d != NULL && sum != NULL && (sum->count != d->count || sum->size_bytes != d->size_bytes ||
                                     sum->class_count != d->class_count))
      abort(); /* the counts-only digest counts the same */
    nmw_hs_digest_free(sum);
    if (d != NULL) {
      nmw_hs_diff *diff = nmw_hs_diff_new(d, d, 2);
      nmw_hs_diff_free(diff);
    }
    nmw_hs_paths *paths = nmw_hs_paths_new(g, "HeapDiff");
    if (paths != NULL && g->node_count > 0) {
      uint32_t nodes[8], edges[8];
      nmw_hs_paths_get(paths, g->node_count - 1, nodes, edges, 8);
      nmw_hs_paths_find(paths, g->node_id[g->node_count - 1]);
    }
    nmw_hs_paths_free(paths);
    nmw_hs_digest_free(d);
    nmw_hs_graph_free(g);
  } else {
    uint64_t off;
    const char *err = nmw_hs_parser_error(p, &off);
    if (err == NULL || off > size) abort(); /* every failure has a message and an offset in the input */
  }
  nmw_hs_parser_free(p);
  /* The fast paths (whole records, strings, integer runs read straight from
   * a chunk) must not change anything: one byte at a time, where none of
   * them can run, gives the same outcome as the whole input at once and as
   * 61-byte chunks (records cut at every place). */
  uint64_t ref = outcome((const char *)data, size, 1, &o);
  if (outcome((const char *)data, size, size, &o) != ref || outcome((const char *)data, size, 61, &o) != ref) abort();
  return 0;
}
