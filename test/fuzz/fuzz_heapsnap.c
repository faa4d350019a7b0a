/*
 * fuzz_heapsnap.c: libFuzzer target for the heap snapshot parser and the
 * analyses that run on what it accepts. The input is split into chunks at
 * positions drawn from its first byte, so chunk boundaries are fuzzed too.
 * Built and run by scripts/fuzz.sh (clang, -fsanitize=fuzzer,address,undefined).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../src/core/heapsnap.h"

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
  return 0;
}
