/*
 * test_tag_exhaust.c: filling the tag table. A process of its own, because a
 * full table stays full for the life of the process.
 */
#include "test_util.h"

#include <stdio.h>

static void test_table_holds_tag_max_then_refuses(void **state) {
  (void)state;
  nmw_tag_t first = test_new_tag("t.full.first");
  nmw_tag_t ext = NMW_ANY_TAG;
  assert_int_equal(nmw_core_tag_register("t.full.ext", NMW_TAG_EXTERNAL, &ext), NMW_OK);

  char name[32];
  nmw_tag_t last = NMW_ANY_TAG;
  for (uint32_t id = nmw_core_tag_count(); id < NMW_TAG_MAX; id++) {
    snprintf(name, sizeof name, "t.full.%u", id);
    nmw_tag_t tag = NMW_ANY_TAG;
    assert_int_equal(nmw_core_tag_register(name, 0, &tag), NMW_OK);
    assert_int_equal(tag, id);
    last = tag;
  }
  assert_int_equal(last, NMW_TAG_MAX - 1);
  assert_int_equal(nmw_core_tag_count(), NMW_TAG_MAX);

  /* One more is refused and leaves no trace. */
  nmw_tag_t tag = 77;
  assert_int_equal(nmw_core_tag_register("t.full.one-too-many", 0, &tag), NMW_ENOSPC);
  assert_int_equal(nmw_core_tag_register("t.full.another", NMW_TAG_EXTERNAL, &tag), NMW_ENOSPC);
  assert_int_equal(nmw_core_tag_count(), NMW_TAG_MAX);
  assert_int_equal(nmw_core_tag_lookup("t.full.one-too-many", &tag), NMW_ENOENT);
  assert_null(nmw_core_tag_name(NMW_TAG_MAX));

  /* Existing names still resolve, idempotently or with a conflict. */
  tag = NMW_ANY_TAG;
  assert_int_equal(nmw_core_tag_register("t.full.first", 0, &tag), NMW_OK);
  assert_int_equal(tag, first);
  tag = NMW_ANY_TAG;
  assert_int_equal(nmw_core_tag_register("t.full.ext", 0, &tag), NMW_ECONFLICT);
  assert_int_equal(tag, ext);
  tag = NMW_ANY_TAG;
  assert_int_equal(nmw_core_tag_register("untagged", 0, &tag), NMW_OK);
  assert_int_equal(tag, NMW_UNTAGGED);

  /* The last id works as a tag; an id past the table is a bad tag. */
  void *p = nmw_core_malloc(33, last, NULL);
  assert_non_null(p);
  assert_int_equal(nmw_core_block_tag(p), last);
  nmw_counters_t c = test_tag_counters(last);
  EXPECT_COUNTS("last tag", &c, 1, 0, 0, 33, 0);
  nmw_core_free(p, last, NULL);

  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  p = nmw_core_malloc(5, NMW_TAG_MAX, NULL);
  assert_non_null(p);
  assert_int_equal(nmw_core_block_tag(p), NMW_UNTAGGED);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_BAD_TAG, 1, -1);
  nmw_core_free(p, NMW_ANY_TAG, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table_holds_tag_max_then_refuses),
  };
  return cmocka_run_group_tests_name("tag_exhaust", tests, NULL, NULL);
}
