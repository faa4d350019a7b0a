/*
 * instructions.c: instructions per 64-byte allocation+free pair of an
 * external-tagged block against a plain-tagged one, counted by callgrind
 * (bench/callgrind.js builds it with the core). An owner is open on this thread,
 * as on a JS thread; the pattern is bench/alloc's: batches of 32 blocks, freed in
 * reverse. Each function runs ROUNDS rounds of 32 pairs.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../src/core/core.h"

#define ROUNDS 3000
#define BATCH 32

static nmw_tag_t plain_tag, ext_tag;

static void wake(void *data) { (void)data; }
static void flush(void *data, int64_t min_growth) {
  (void)data;
  (void)min_growth;
}

__attribute__((noinline)) static void plain_pairs(size_t rounds) {
  void *b[BATCH];
  for (size_t r = 0; r < rounds; r++) {
    for (int i = 0; i < BATCH; i++) b[i] = nmw_core_malloc(64, plain_tag, NMW_SITE());
    for (int i = 0; i < BATCH; i++) ((volatile char *)b[i])[0] = 1;
    for (int i = BATCH - 1; i >= 0; i--) nmw_core_free(b[i], plain_tag, NMW_SITE());
  }
}

__attribute__((noinline)) static void external_pairs(size_t rounds) {
  void *b[BATCH];
  for (size_t r = 0; r < rounds; r++) {
    for (int i = 0; i < BATCH; i++) b[i] = nmw_core_malloc(64, ext_tag, NMW_SITE());
    for (int i = 0; i < BATCH; i++) ((volatile char *)b[i])[0] = 1;
    for (int i = BATCH - 1; i >= 0; i--) nmw_core_free(b[i], ext_tag, NMW_SITE());
  }
}

int main(void) {
  nmw_owner_hooks_t hooks = {wake, flush, NULL};
  nmw_owner_t owner;
  if (nmw_core_tag_register("bench.instructions.plain", 0, &plain_tag) != NMW_OK ||
      nmw_core_tag_register("bench.instructions.external", NMW_TAG_EXTERNAL, &ext_tag) != NMW_OK ||
      nmw_core_owner_open(&hooks, &owner) != NMW_OK) {
    fprintf(stderr, "setup failed\n");
    return 1;
  }
  plain_pairs(10); /* warm both: first-use paths are not what is measured */
  external_pairs(10);
  plain_pairs(ROUNDS);
  external_pairs(ROUNDS);
  nmw_core_owner_teardown(owner);
  return 0;
}
