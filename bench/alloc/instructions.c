/*
 * instructions.c: instructions per 64-byte allocation+free pair, glibc against the
 * core's allocator, counted by callgrind (repeatable, unlike time on a shared
 * machine). Same pattern as run.js: batches of 32 blocks, freed in reverse.
 *
 *   gcc -std=c11 -D_GNU_SOURCE -O2 -g bench/alloc/instructions.c src/core/*.c \
 *       -luv -pthread -o /tmp/nmw-instructions
 *   valgrind --tool=callgrind --callgrind-out-file=/tmp/nmw.cg /tmp/nmw-instructions
 *   callgrind_annotate --inclusive=yes /tmp/nmw.cg | grep -E '(glibc|ours)_pairs \['
 *
 * Each function below runs ROUNDS rounds of 32 pairs: divide its inclusive count
 * by ROUNDS * 32.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../src/core/core.h"

#define ROUNDS 3000
#define BATCH 32

static nmw_tag_t tag;

__attribute__((noinline)) static void glibc_pairs(size_t rounds) {
  void *b[BATCH];
  for (size_t r = 0; r < rounds; r++) {
    for (int i = 0; i < BATCH; i++) b[i] = malloc(64);
    for (int i = 0; i < BATCH; i++) ((volatile char *)b[i])[0] = 1;
    for (int i = BATCH - 1; i >= 0; i--) free(b[i]);
  }
}

__attribute__((noinline)) static void ours_pairs(size_t rounds) {
  void *b[BATCH];
  for (size_t r = 0; r < rounds; r++) {
    for (int i = 0; i < BATCH; i++) b[i] = nmw_core_malloc(64, tag, NMW_SITE());
    for (int i = 0; i < BATCH; i++) ((volatile char *)b[i])[0] = 1;
    for (int i = BATCH - 1; i >= 0; i--) nmw_core_free(b[i], tag, NMW_SITE());
  }
}

/* The placement rule's slow path: every size up to 4 KiB in rounds of 32, as in
 * the study's bad layouts; prints the share of allocations that took it. */
static void placement_pairs(void) {
  void *b[BATCH];
  uint64_t before = nmw_core_cache_rejects(), pairs = 0;
  for (size_t size = 0; size <= 4096; size += 8)
    for (int r = 0; r < 20; r++) {
      for (int i = 0; i < BATCH; i++) b[i] = nmw_core_malloc(size, tag, NMW_SITE());
      for (int i = BATCH - 1; i >= 0; i--) nmw_core_free(b[i], tag, NMW_SITE());
      pairs += BATCH;
    }
  printf("placement_slow_fraction %.6f\n", (double)(nmw_core_cache_rejects() - before) / (double)pairs);
}

int main(void) {
  nmw_core_tag_register("bench.instructions", 0, &tag);
  glibc_pairs(10); /* warm both: first-use paths are not what is measured */
  ours_pairs(10);
  glibc_pairs(ROUNDS);
  ours_pairs(ROUNDS);
  placement_pairs();
  return 0;
}
