/*
 * test_plain.c: blocks made by the public header's fallback (native-memwatch
 * not loaded yet) reach the core once it is loaded. The core must free them
 * without complaint and adopt them on realloc. LeakSanitizer (run-sanitize)
 * checks that the freed plain blocks really went back to libc.
 */
#include "test_util.h"

#include <string.h>

static void test_free_plain_block(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.plain.free");
  nmw_counters_t total_before = test_total_counters();
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  size_t alignments[] = {0, 64, 4096};
  for (size_t i = 0; i < 3; i++) {
    void *p = nmw__plain_alloc(alignments[i], 100, (int)(i & 1));
    assert_non_null(p);
    assert_true(nmw__is_plain(p));
    memset(p, 0x33, 100);
    nmw_core_free(p, tag, NULL);
  }
  void *z = nmw__plain_alloc(0, 0, 0);
  assert_non_null(z);
  nmw_core_free(z, NMW_ANY_TAG, NULL);
  EXPECT_MISUSE_DELTA(misuse, -1);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("tag", &c, 0, 0, 0, 0, 0);
  nmw_counters_t total_after = test_total_counters();
  nmw_counters_t d = test_counters_sub(&total_after, &total_before);
  EXPECT_COUNTS("total delta", &d, 0, 0, 0, 0, 0);
}

static void test_realloc_adopts_plain_block(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.plain.realloc");
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  unsigned char *p = nmw__plain_alloc(0, 100, 0);
  assert_non_null(p);
  for (int i = 0; i < 100; i++) p[i] = (unsigned char)i;
  p = nmw_core_realloc(p, 300, tag, NULL);
  assert_non_null(p);
  for (int i = 0; i < 100; i++) assert_int_equal(p[i], i);
  assert_false(nmw__is_plain(p));
  assert_int_equal(nmw_core_block_size(p), 300);
  assert_int_equal(nmw_core_block_tag(p), tag);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("adopted (grow)", &c, 1, 0, 0, 300, 0);

  /* A shrinking realloc adopts too, with the contents that fit. */
  unsigned char *q = nmw__plain_alloc(64, 100, 0);
  assert_non_null(q);
  for (int i = 0; i < 100; i++) q[i] = (unsigned char)(200 - i);
  q = nmw_core_realloc(q, 40, tag, NULL);
  assert_non_null(q);
  for (int i = 0; i < 40; i++) assert_int_equal(q[i], 200 - i);
  c = test_tag_counters(tag);
  EXPECT_COUNTS("adopted (shrink)", &c, 2, 0, 0, 340, 0);

  EXPECT_MISUSE_DELTA(misuse, -1);
  nmw_core_free(p, tag, NULL);
  nmw_core_free(q, tag, NULL);
  c = test_tag_counters(tag);
  EXPECT_COUNTS("freed", &c, 2, 2, 0, 340, 340);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_free_plain_block),
      cmocka_unit_test(test_realloc_adopts_plain_block),
  };
  return cmocka_run_group_tests_name("plain", tests, NULL, NULL);
}
