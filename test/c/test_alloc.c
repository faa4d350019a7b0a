/*
 * test_alloc.c: the allocator entry points one by one: sizes, alignment,
 * contents, realloc's accounting, free's tag check, bad tags, and the
 * tracker's own per-block overhead.
 */
#include "test_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int is_aligned(const void *p, size_t alignment) {
  return ((uintptr_t)p & (alignment - 1)) == 0;
}

static void fill(void *p, size_t n, unsigned char seed) {
  unsigned char *b = p;
  for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(seed + i * 7);
}

static int filled(const void *p, size_t n, unsigned char seed) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++)
    if (b[i] != (unsigned char)(seed + i * 7)) return 0;
  return 1;
}

static void test_malloc_zero(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.alloc.zero");
  void *a = nmw_core_malloc(0, tag, NULL);
  void *b = nmw_core_malloc(0, tag, NULL);
  assert_non_null(a);
  assert_non_null(b);
  assert_ptr_not_equal(a, b);
  assert_true(is_aligned(a, 16) && is_aligned(b, 16));
  assert_int_equal(nmw_core_block_size(a), 0);
  assert_int_equal(nmw_core_block_tag(a), tag);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("after malloc(0) x2", &c, 2, 0, 0, 0, 0);
  nmw_core_free(a, tag, NULL);
  nmw_core_free(b, tag, NULL);
  c = test_tag_counters(tag);
  EXPECT_COUNTS("after free x2", &c, 2, 2, 0, 0, 0);
}

static void test_overflowing_sizes(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.alloc.overflow");
  void *keep = nmw_core_malloc(24, tag, NULL);
  assert_non_null(keep);
  fill(keep, 24, 3);
  nmw_counters_t tag_before = test_tag_counters(tag);
  nmw_counters_t total_before = test_total_counters();
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);

  assert_null(nmw_core_malloc(SIZE_MAX, tag, NULL));
  assert_null(nmw_core_malloc(SIZE_MAX - 8, tag, NULL));
  assert_null(nmw_core_malloc(SIZE_MAX - NMW_HEADER_SIZE, tag, NULL));
  assert_null(nmw_core_calloc(SIZE_MAX / 2, 3, tag, NULL));
  assert_null(nmw_core_calloc(3, SIZE_MAX / 2, tag, NULL));
  assert_null(nmw_core_calloc((SIZE_MAX >> 16) + 2, 1u << 16, tag, NULL));
  assert_null(nmw_core_aligned_alloc(64, SIZE_MAX, tag, NULL));
  assert_null(nmw_core_aligned_alloc(4096, SIZE_MAX - 100, tag, NULL));
  /* A failed realloc leaves the block as it was, like libc's. */
  assert_null(nmw_core_realloc(keep, SIZE_MAX, tag, NULL));
  assert_int_equal(nmw_core_block_size(keep), 24);
  assert_true(filled(keep, 24, 3));

  nmw_counters_t tag_after = test_tag_counters(tag);
  nmw_counters_t total_after = test_total_counters();
  EXPECT_SAME("tag after overflows", &tag_after, &tag_before);
  nmw_counters_t d = test_counters_sub(&total_after, &total_before);
  EXPECT_COUNTS("total delta", &d, 0, 0, 0, 0, 0);
  EXPECT_MISUSE_DELTA(misuse, -1);
  nmw_core_free(keep, tag, NULL);
}

static void test_alignment_16(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.alloc.align16");
  enum { N = 300 };
  static void *blocks[N];
  size_t total = 0;
  for (size_t i = 0; i < N; i++) {
    size_t size = i < 200 ? i : (i - 199) * 997; /* every small size, then large ones */
    blocks[i] = nmw_core_malloc(size, tag, NULL);
    assert_non_null(blocks[i]);
    assert_true(is_aligned(blocks[i], 16));
    assert_int_equal(nmw_core_block_size(blocks[i]), size);
    memset(blocks[i], 0x5a, size); /* the whole size is usable (ASan checks) */
    total += size;
  }
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("after mallocs", &c, N, 0, 0, total, 0);
  for (size_t i = 0; i < N; i++) nmw_core_free(blocks[i], tag, NULL);
  c = test_tag_counters(tag);
  EXPECT_COUNTS("after frees", &c, N, N, 0, total, total);
}

static void test_calloc_zeroes(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.alloc.calloc");
  /* Dirty some memory first so a calloc that forgets to clear is likely caught. */
  for (int i = 0; i < 8; i++) {
    void *dirty = nmw_core_malloc(700, tag, NULL);
    assert_non_null(dirty);
    memset(dirty, 0xee, 700);
    nmw_core_free(dirty, tag, NULL);
  }
  unsigned char *p = nmw_core_calloc(100, 7, tag, NULL);
  assert_non_null(p);
  assert_true(is_aligned(p, 16));
  for (size_t i = 0; i < 700; i++) assert_int_equal(p[i], 0);
  assert_int_equal(nmw_core_block_size(p), 700);
  void *none = nmw_core_calloc(0, 5, tag, NULL);
  assert_non_null(none);
  assert_int_equal(nmw_core_block_size(none), 0);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("after calloc", &c, 10, 8, 0, 8 * 700 + 700, 8 * 700);
  nmw_core_free(p, tag, NULL);
  nmw_core_free(none, tag, NULL);
}

static void test_strdup_copies(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.alloc.strdup");
  char *s = nmw_core_strdup("hello, memwatch", tag, NULL);
  assert_non_null(s);
  assert_string_equal(s, "hello, memwatch");
  assert_int_equal(nmw_core_block_size(s), strlen("hello, memwatch") + 1);
  char *empty = nmw_core_strdup("", tag, NULL);
  assert_non_null(empty);
  assert_string_equal(empty, "");
  assert_int_equal(nmw_core_block_size(empty), 1);
  assert_int_equal(nmw_core_block_tag(empty), tag);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("after strdup", &c, 2, 0, 0, 16 + 1, 0);
  nmw_core_free(s, tag, NULL);
  nmw_core_free(empty, tag, NULL);
  c = test_tag_counters(tag);
  EXPECT_COUNTS("after free", &c, 2, 2, 0, 17, 17);
}

static void test_aligned_alloc_valid(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.alloc.aligned");
  uint64_t bytes = 0, blocks = 0;
  for (size_t alignment = 1; alignment <= (1u << 20); alignment <<= 1) {
    size_t sizes[] = {0, 1, 100, 5000};
    for (size_t i = 0; i < 4; i++) {
      unsigned char *p = nmw_core_aligned_alloc(alignment, sizes[i], tag, NULL);
      assert_non_null(p);
      assert_true(is_aligned(p, alignment > 16 ? alignment : 16));
      assert_int_equal(nmw_core_block_size(p), sizes[i]);
      assert_int_equal(nmw_core_block_tag(p), tag);
      memset(p, 0x11, sizes[i]);
      bytes += sizes[i];
      blocks++;
      nmw_core_free(p, tag, NULL);
    }
  }
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("aligned allocs", &c, blocks, blocks, 0, bytes, bytes);
}

static void test_aligned_alloc_invalid(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.alloc.aligned-bad");
  nmw_counters_t total_before = test_total_counters();
  size_t bad[] = {0, 3, 24, 48, 1000, (1u << 20) + 16, 1u << 21, (size_t)1 << 40};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_null(nmw_core_aligned_alloc(bad[i], 64, tag, NULL));
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("tag", &c, 0, 0, 0, 0, 0);
  nmw_counters_t total_after = test_total_counters();
  nmw_counters_t d = test_counters_sub(&total_after, &total_before);
  EXPECT_COUNTS("total delta", &d, 0, 0, 0, 0, 0);
  assert_int_equal(c.limit_denied, 0);
}

static void test_block_size_and_tag_of_non_blocks(void **state) {
  (void)state;
  assert_int_equal(nmw_core_block_size(NULL), 0);
  assert_int_equal(nmw_core_block_tag(NULL), NMW_ANY_TAG);
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  void *foreign = malloc(64);
  assert_non_null(foreign);
  assert_int_equal(nmw_core_block_size(foreign), 0);
  assert_int_equal(nmw_core_block_tag(foreign), NMW_ANY_TAG);
  /* Asking about a pointer is not a misuse. */
  EXPECT_MISUSE_DELTA(misuse, -1);
  free(foreign);
}

static void test_realloc_null_is_malloc(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.alloc.realloc-null");
  void *p = nmw_core_realloc(NULL, 48, tag, NULL);
  assert_non_null(p);
  assert_true(is_aligned(p, 16));
  assert_int_equal(nmw_core_block_size(p), 48);
  assert_int_equal(nmw_core_block_tag(p), tag);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("realloc(NULL)", &c, 1, 0, 0, 48, 0);
  nmw_core_free(p, tag, NULL);

  /* NMW_ANY_TAG with no block to check against: an untagged block, no misuse. */
  uint64_t bad_tags = nmw_core_misuse_count(NMW_MISUSE_BAD_TAG);
  p = nmw_core_realloc(NULL, 16, NMW_ANY_TAG, NULL);
  assert_non_null(p);
  assert_int_equal(nmw_core_block_tag(p), NMW_UNTAGGED);
  assert_int_equal(nmw_core_misuse_count(NMW_MISUSE_BAD_TAG), bad_tags);
  nmw_core_free(p, NMW_ANY_TAG, NULL);
}

static void test_realloc_to_zero_frees(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.alloc.realloc-zero");
  void *p = nmw_core_malloc(80, tag, NULL);
  assert_non_null(p);
  assert_null(nmw_core_realloc(p, 0, tag, NULL));
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("realloc(p, 0)", &c, 1, 1, 0, 80, 80);
}

static void test_realloc_accounting(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.alloc.realloc");
  nmw_counters_t total_before = test_total_counters();
  unsigned char *p = nmw_core_malloc(100, tag, NULL);
  assert_non_null(p);
  fill(p, 100, 9);

  p = nmw_core_realloc(p, 5000, tag, NULL); /* grow: +4900 */
  assert_non_null(p);
  assert_true(is_aligned(p, 16));
  assert_true(filled(p, 100, 9));
  assert_int_equal(nmw_core_block_size(p), 5000);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("after grow", &c, 1, 0, 1, 5000, 0);

  fill(p, 5000, 21);
  p = nmw_core_realloc(p, 30, tag, NULL); /* shrink: -4970 */
  assert_non_null(p);
  assert_true(filled(p, 30, 21));
  assert_int_equal(nmw_core_block_size(p), 30);
  c = test_tag_counters(tag);
  EXPECT_COUNTS("after shrink", &c, 1, 0, 2, 5000, 4970);

  p = nmw_core_realloc(p, 30, NMW_ANY_TAG, NULL); /* same size, any tag */
  assert_non_null(p);
  assert_true(filled(p, 30, 21));
  c = test_tag_counters(tag);
  EXPECT_COUNTS("after same size", &c, 1, 0, 3, 5000, 4970);

  nmw_core_free(p, tag, NULL);
  c = test_tag_counters(tag);
  EXPECT_COUNTS("after free", &c, 1, 1, 3, 5000, 5000);
  nmw_counters_t total_after = test_total_counters();
  nmw_counters_t d = test_counters_sub(&total_after, &total_before);
  EXPECT_COUNTS("total delta", &d, 1, 1, 3, 5000, 5000);
}

static void test_realloc_other_tag_keeps_block_tag(void **state) {
  (void)state;
  nmw_tag_t owner = test_new_tag("t.alloc.realloc-owner");
  nmw_tag_t other = test_new_tag("t.alloc.realloc-other");
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  unsigned char *p = nmw_core_malloc(10, owner, NULL);
  assert_non_null(p);
  fill(p, 10, 1);
  p = nmw_core_realloc(p, 20, other, NULL);
  assert_non_null(p); /* the mismatch is reported, the realloc still happens */
  assert_true(filled(p, 10, 1));
  assert_int_equal(nmw_core_block_tag(p), owner);
  assert_int_equal(nmw_core_block_size(p), 20);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_TAG_MISMATCH, 1, -1);
  p = nmw_core_realloc(p, 40, NMW_ANY_TAG, NULL);
  assert_non_null(p);
  p = nmw_core_realloc(p, 35, owner, NULL);
  assert_non_null(p);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_TAG_MISMATCH, 1, -1);
  nmw_counters_t c = test_tag_counters(owner);
  EXPECT_COUNTS("owner", &c, 1, 0, 3, 40, 5);
  c = test_tag_counters(other);
  EXPECT_COUNTS("other", &c, 0, 0, 0, 0, 0);
  nmw_core_free(p, owner, NULL);
}

static void test_realloc_keeps_alignment(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.alloc.realloc-aligned");
  size_t alignments[] = {32, 256, 4096, 65536};
  for (size_t i = 0; i < 4; i++) {
    size_t a = alignments[i];
    unsigned char *p = nmw_core_aligned_alloc(a, 100, tag, NULL);
    assert_non_null(p);
    fill(p, 100, (unsigned char)i);
    p = nmw_core_realloc(p, 50000, tag, NULL);
    assert_non_null(p);
    assert_true(is_aligned(p, a));
    assert_true(filled(p, 100, (unsigned char)i));
    memset(p + 100, 0, 50000 - 100);
    p = nmw_core_realloc(p, 10, tag, NULL);
    assert_non_null(p);
    assert_true(is_aligned(p, a));
    assert_true(filled(p, 10, (unsigned char)i));
    assert_int_equal(nmw_core_block_size(p), 10);
    nmw_core_free(p, tag, NULL);
  }
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("aligned reallocs", &c, 4, 4, 8, 4 * 50000, 4 * 50000);
}

static void test_free_null(void **state) {
  (void)state;
  nmw_counters_t before = test_total_counters();
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  nmw_core_free(NULL, NMW_UNTAGGED, NULL);
  nmw_core_free(NULL, NMW_ANY_TAG, NULL);
  nmw_core_free(NULL, 4000, NULL);
  nmw_counters_t after = test_total_counters();
  nmw_counters_t d = test_counters_sub(&after, &before);
  EXPECT_COUNTS("total delta", &d, 0, 0, 0, 0, 0);
  EXPECT_MISUSE_DELTA(misuse, -1);
}

static void test_free_checks_tag(void **state) {
  (void)state;
  nmw_tag_t owner = test_new_tag("t.alloc.free-owner");
  nmw_tag_t other = test_new_tag("t.alloc.free-other");
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  void *a = nmw_core_malloc(11, owner, NULL);
  void *b = nmw_core_malloc(22, owner, NULL);
  void *c3 = nmw_core_malloc(33, owner, NULL);
  assert_true(a && b && c3);
  nmw_core_free(a, owner, NULL);
  nmw_core_free(b, NMW_ANY_TAG, NULL);
  EXPECT_MISUSE_DELTA(misuse, -1);
  nmw_core_free(c3, other, NULL); /* wrong tag: reported, still freed, to owner */
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_TAG_MISMATCH, 1, -1);
  nmw_counters_t c = test_tag_counters(owner);
  EXPECT_COUNTS("owner", &c, 3, 3, 0, 66, 66);
  c = test_tag_counters(other);
  EXPECT_COUNTS("other", &c, 0, 0, 0, 0, 0);
}

static void test_bad_tag_goes_untagged(void **state) {
  (void)state;
  assert_null(nmw_core_tag_name(4000)); /* this binary never registers that many */
  nmw_counters_t before = test_tag_counters(NMW_UNTAGGED);
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  void *a = nmw_core_malloc(40, 4000, NULL);
  void *b = nmw_core_malloc(50, NMW_ANY_TAG, NULL);
  void *c3 = nmw_core_calloc(2, 30, 4000, NULL);
  assert_true(a && b && c3);
  assert_int_equal(nmw_core_block_tag(a), NMW_UNTAGGED);
  assert_int_equal(nmw_core_block_tag(b), NMW_UNTAGGED);
  assert_int_equal(nmw_core_block_tag(c3), NMW_UNTAGGED);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_BAD_TAG, 3, -1);
  nmw_counters_t after = test_tag_counters(NMW_UNTAGGED);
  nmw_counters_t d = test_counters_sub(&after, &before);
  EXPECT_COUNTS("untagged delta", &d, 3, 0, 0, 150, 0);
  nmw_core_free(a, NMW_UNTAGGED, NULL);
  nmw_core_free(b, NMW_ANY_TAG, NULL);
  nmw_core_free(c3, NMW_UNTAGGED, NULL);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_BAD_TAG, 3, -1);
  after = test_tag_counters(NMW_UNTAGGED);
  d = test_counters_sub(&after, &before);
  EXPECT_COUNTS("untagged delta after frees", &d, 3, 3, 0, 150, 150);
}

static void test_total_is_sum_of_tags(void **state) {
  (void)state;
  nmw_tag_t t1 = test_new_tag("t.alloc.sum1");
  nmw_tag_t t2 = test_new_tag("t.alloc.sum2");
  void *a = nmw_core_malloc(100, t1, NULL);
  void *b = nmw_core_malloc(200, t2, NULL);
  b = nmw_core_realloc(b, 250, t2, NULL);
  assert_true(a && b);
  nmw_counters_t sum;
  memset(&sum, 0, sizeof sum);
  for (nmw_tag_t t = 0; t < nmw_core_tag_count(); t++) {
    nmw_counters_t c = test_tag_counters(t);
    sum.allocs += c.allocs;
    sum.frees += c.frees;
    sum.reallocs += c.reallocs;
    sum.bytes_allocated += c.bytes_allocated;
    sum.bytes_freed += c.bytes_freed;
  }
  nmw_counters_t total = test_total_counters();
  EXPECT_COUNTS("total vs sum of tags", &total, sum.allocs, sum.frees, sum.reallocs,
                sum.bytes_allocated, sum.bytes_freed);
  nmw_core_free(a, t1, NULL);
  nmw_core_free(b, t2, NULL);
}

/* Header (16 B) and canary (8 B) per block, plus 16 bytes for blocks above the
 * cache's 1 KiB (docs/architecture.md: the block). */
static uint64_t expected_overhead(void **blocks, int n) {
  uint64_t bytes = 0;
  for (int i = 0; i < n; i++)
    bytes += 24 + (nmw_core_block_size(blocks[i]) > 1024 ? 16 : 0);
  return bytes;
}

/* The placement rule: no block starts 1..15 bytes into a page (a pointer there is
 * refused as foreign without reading the memory before it), and no block that is
 * not aligned to a page starts on one (its header would be on the page before,
 * which frees would have to probe). Allocations libc places there are kept out
 * of circulation, so few allocations ever take that path. */
static void test_placement_rule(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.alloc.placement");
  enum { N = 20000 };
  static void *blocks[N];
  uint64_t rejects_before = nmw_core_cache_rejects();
  for (int i = 0; i < N; i++) {
    blocks[i] = nmw_core_malloc((size_t)(i % 200) * (i % 7 == 0 ? 20 : 1), tag, NULL);
    assert_non_null(blocks[i]);
    uintptr_t offset = (uintptr_t)blocks[i] & 4095u;
    assert_false(offset < 16);
  }
  uint64_t rejects = nmw_core_cache_rejects() - rejects_before;
  /* Far fewer than 1 in 32 allocations took the slow path of the rule. */
  assert_true(rejects * 32 < N);
  for (int i = 0; i < N; i++) nmw_core_free(blocks[i], tag, NULL);
  uint64_t before = nmw_core_misuse_count(NMW_MISUSE_FOREIGN_FREE);
  unsigned char *page = aligned_alloc(4096, 8192);
  nmw_core_free(page + 4096 + 8, tag, NULL);
  assert_int_equal(nmw_core_misuse_count(NMW_MISUSE_FOREIGN_FREE), before + 1);
  free(page);
}

/* No allocation pattern sends most blocks down the placement rule's slow path:
 * the same sizes allocated and freed over and over (where a chunk libc hands back
 * at once would be rejected every time) and every size up to 4 KiB. */
static void test_placement_patterns(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.alloc.placement-patterns");
  uint64_t before = nmw_core_cache_rejects();
  uint64_t pairs = 0;
  for (size_t size = 0; size <= 4096; size += 8) {
    void *batch[32];
    for (int round = 0; round < 20; round++) {
      for (int i = 0; i < 32; i++) {
        batch[i] = nmw_core_malloc(size, tag, NULL);
        assert_non_null(batch[i]);
        assert_false(((uintptr_t)batch[i] & 4095u) == 0);
      }
      for (int i = 31; i >= 0; i--) nmw_core_free(batch[i], tag, NULL);
      pairs += 32;
    }
  }
  uint64_t rejects = nmw_core_cache_rejects() - before;
  assert_true(rejects * 64 < pairs);
  nmw_counters_t c = test_tag_counters(tag);
  assert_int_equal(c.curr_blocks, 0);
  assert_int_equal(c.allocs, pairs);
}

static void test_overhead_per_block(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.alloc.overhead");
  enum { N = 10 };
  void *blocks[N];
  nmw_overhead_t before, mid, after;
  /* One warm-up allocation so any lazily created per-thread metadata exists. */
  nmw_core_free(nmw_core_malloc(1, tag, NULL), tag, NULL);
  nmw_core_overhead(&before);
  assert_true(before.metadata_bytes > 0);
  assert_true(before.total_bytes ==
              before.block_bytes + before.metadata_bytes + before.cache_bytes);
  for (int i = 0; i < N; i++) {
    switch (i % 4) {
      case 0: blocks[i] = nmw_core_malloc((size_t)i * 13, tag, NULL); break;
      case 1: blocks[i] = nmw_core_calloc((size_t)i, 3, tag, NULL); break;
      case 2: blocks[i] = nmw_core_strdup("overhead", tag, NULL); break;
      default: blocks[i] = nmw_core_realloc(NULL, 1000, tag, NULL); break;
    }
    assert_non_null(blocks[i]);
  }
  nmw_core_overhead(&mid);
  assert_int_equal(mid.block_bytes - before.block_bytes, expected_overhead(blocks, N));
  /* A realloc keeps one header and canary per block (plus the 16 bytes of blocks
   * above 1 KiB). */
  blocks[0] = nmw_core_realloc(blocks[0], 3000, tag, NULL);
  assert_non_null(blocks[0]);
  nmw_core_overhead(&mid);
  assert_int_equal(mid.block_bytes - before.block_bytes, expected_overhead(blocks, N));
  for (int i = 0; i < N; i++) nmw_core_free(blocks[i], tag, NULL);
  nmw_core_overhead(&after);
  assert_int_equal(after.block_bytes, before.block_bytes);

  /* Aligned blocks cost at least a header and canary, and give it all back. */
  void *aligned = nmw_core_aligned_alloc(4096, 10, tag, NULL);
  assert_non_null(aligned);
  nmw_core_overhead(&mid);
  assert_true(mid.block_bytes - before.block_bytes >= 24);
  nmw_core_free(aligned, tag, NULL);
  nmw_core_overhead(&after);
  assert_int_equal(after.block_bytes, before.block_bytes);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_malloc_zero),
      cmocka_unit_test(test_overflowing_sizes),
      cmocka_unit_test(test_alignment_16),
      cmocka_unit_test(test_calloc_zeroes),
      cmocka_unit_test(test_strdup_copies),
      cmocka_unit_test(test_aligned_alloc_valid),
      cmocka_unit_test(test_aligned_alloc_invalid),
      cmocka_unit_test(test_block_size_and_tag_of_non_blocks),
      cmocka_unit_test(test_realloc_null_is_malloc),
      cmocka_unit_test(test_realloc_to_zero_frees),
      cmocka_unit_test(test_realloc_accounting),
      cmocka_unit_test(test_realloc_other_tag_keeps_block_tag),
      cmocka_unit_test(test_realloc_keeps_alignment),
      cmocka_unit_test(test_free_null),
      cmocka_unit_test(test_free_checks_tag),
      cmocka_unit_test(test_bad_tag_goes_untagged),
      cmocka_unit_test(test_total_is_sum_of_tags),
      cmocka_unit_test(test_overhead_per_block),
      cmocka_unit_test(test_placement_rule),
      cmocka_unit_test(test_placement_patterns),
  };
  return cmocka_run_group_tests_name("alloc", tests, NULL, NULL);
}
