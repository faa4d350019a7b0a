/*
 * test_tags.c: tag registration, names, flags and lookup.
 *
 * Exhausting the tag table is in test_tag_exhaust.c, its own process, because
 * a full table cannot be emptied again.
 */
#include "test_util.h"

#include <stdio.h>
#include <string.h>

static void test_untagged_is_preregistered(void **state) {
  (void)state;
  nmw_tag_t tag = 1234;
  assert_int_equal(nmw_core_tag_register("untagged", 0, &tag), NMW_OK);
  assert_int_equal(tag, NMW_UNTAGGED);
  assert_string_equal(nmw_core_tag_name(NMW_UNTAGGED), "untagged");
  tag = 1234;
  assert_int_equal(nmw_core_tag_lookup("untagged", &tag), NMW_OK);
  assert_int_equal(tag, 0);
  assert_true(nmw_core_tag_count() >= 1);
  nmw_counters_t c;
  assert_true(nmw_core_tag_counters(NMW_UNTAGGED, &c));
}

static void test_valid_names(void **state) {
  (void)state;
  char longest[NMW_TAG_NAME_MAX + 1];
  memset(longest, 'x', NMW_TAG_NAME_MAX);
  longest[NMW_TAG_NAME_MAX] = '\0';
  const char *names[] = {"a", "t.tags.Az09._:/-", longest};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    assert_true(nmw_core_tag_name_valid(names[i]));
    uint32_t before = nmw_core_tag_count();
    nmw_tag_t tag = NMW_ANY_TAG;
    assert_int_equal(nmw_core_tag_register(names[i], 0, &tag), NMW_OK);
    /* Ids are dense: a new tag gets the next one. */
    assert_int_equal(tag, before);
    assert_int_equal(nmw_core_tag_count(), before + 1);
    assert_string_equal(nmw_core_tag_name(tag), names[i]);
    assert_int_equal(nmw_core_tag_flags(tag), 0);
    assert_true(nmw_core_tag_limit(tag) == NMW_NO_LIMIT);
  }
}

static void test_invalid_names(void **state) {
  (void)state;
  char too_long[NMW_TAG_NAME_MAX + 2];
  memset(too_long, 'y', NMW_TAG_NAME_MAX + 1);
  too_long[NMW_TAG_NAME_MAX + 1] = '\0';
  const char *names[] = {"", too_long, "a b", "\xc3\xa9" /* é */, "t.tags.caf\xc3\xa9",
                         "tab\t", "semi;colon", "new\nline"};
  uint32_t before = nmw_core_tag_count();
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    assert_false(nmw_core_tag_name_valid(names[i]));
    nmw_tag_t tag = 77;
    assert_int_equal(nmw_core_tag_register(names[i], 0, &tag), NMW_EINVAL);
  }
  assert_false(nmw_core_tag_name_valid(NULL));
  nmw_tag_t tag = 77;
  assert_int_equal(nmw_core_tag_register(NULL, 0, &tag), NMW_EINVAL);
  /* A refused name registers nothing. */
  assert_int_equal(nmw_core_tag_count(), before);
}

static void test_register_is_idempotent(void **state) {
  (void)state;
  nmw_tag_t first = test_new_tag("t.tags.idem");
  uint32_t count = nmw_core_tag_count();
  nmw_tag_t again = NMW_ANY_TAG;
  assert_int_equal(nmw_core_tag_register("t.tags.idem", 0, &again), NMW_OK);
  assert_int_equal(again, first);
  assert_int_equal(nmw_core_tag_count(), count);

  nmw_tag_t ext = NMW_ANY_TAG;
  assert_int_equal(nmw_core_tag_register("t.tags.ext", NMW_TAG_EXTERNAL, &ext), NMW_OK);
  assert_int_equal(nmw_core_tag_flags(ext), NMW_TAG_EXTERNAL);
  nmw_tag_t ext_again = NMW_ANY_TAG;
  assert_int_equal(nmw_core_tag_register("t.tags.ext", NMW_TAG_EXTERNAL, &ext_again), NMW_OK);
  assert_int_equal(ext_again, ext);
}

static void test_register_conflicting_flags(void **state) {
  (void)state;
  nmw_tag_t plain = test_new_tag("t.tags.conflict");
  uint32_t count = nmw_core_tag_count();
  nmw_tag_t out = NMW_ANY_TAG;
  assert_int_equal(nmw_core_tag_register("t.tags.conflict", NMW_TAG_EXTERNAL, &out),
                   NMW_ECONFLICT);
  assert_int_equal(out, plain); /* *out still names the existing tag */
  assert_int_equal(nmw_core_tag_flags(plain), 0); /* and its flags did not change */
  assert_int_equal(nmw_core_tag_count(), count);

  nmw_tag_t ext = NMW_ANY_TAG;
  assert_int_equal(nmw_core_tag_register("t.tags.conflict2", NMW_TAG_EXTERNAL, &ext), NMW_OK);
  out = NMW_ANY_TAG;
  assert_int_equal(nmw_core_tag_register("t.tags.conflict2", 0, &out), NMW_ECONFLICT);
  assert_int_equal(out, ext);
  assert_int_equal(nmw_core_tag_flags(ext), NMW_TAG_EXTERNAL);
}

static void test_register_unknown_flags(void **state) {
  (void)state;
  uint32_t count = nmw_core_tag_count();
  unsigned bad_flags[] = {0x4u, 0x8u, NMW_TAG_EXTERNAL | 0x4u, 0x80000000u};
  for (size_t i = 0; i < sizeof bad_flags / sizeof bad_flags[0]; i++) {
    nmw_tag_t tag = 77;
    assert_int_equal(nmw_core_tag_register("t.tags.badflags", bad_flags[i], &tag), NMW_EINVAL);
  }
  assert_int_equal(nmw_core_tag_count(), count);
  nmw_tag_t tag;
  assert_int_equal(nmw_core_tag_lookup("t.tags.badflags", &tag), NMW_ENOENT);
}

static void test_lookup_and_name(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.tags.lookup");
  nmw_tag_t found = NMW_ANY_TAG;
  assert_int_equal(nmw_core_tag_lookup("t.tags.lookup", &found), NMW_OK);
  assert_int_equal(found, tag);
  assert_int_equal(nmw_core_tag_lookup("t.tags.absent", &found), NMW_ENOENT);
  /* Lookup is exact: no prefix or case folding. */
  assert_int_equal(nmw_core_tag_lookup("t.tags.looku", &found), NMW_ENOENT);
  assert_int_equal(nmw_core_tag_lookup("T.TAGS.LOOKUP", &found), NMW_ENOENT);

  uint32_t count = nmw_core_tag_count();
  assert_null(nmw_core_tag_name(count)); /* the first unregistered id */
  assert_null(nmw_core_tag_name(4000));
  assert_null(nmw_core_tag_name(NMW_TAG_MAX));
  assert_null(nmw_core_tag_name(NMW_ANY_TAG));
  nmw_counters_t c;
  assert_false(nmw_core_tag_counters(4000, &c));
  assert_false(nmw_core_tag_counters(NMW_ANY_TAG, &c));
}

static void test_set_flags(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.tags.setflags");
  assert_int_equal(nmw_core_tag_set_flags(tag, NMW_TAG_EXTERNAL), NMW_OK);
  assert_int_equal(nmw_core_tag_flags(tag), NMW_TAG_EXTERNAL);
  assert_int_equal(nmw_core_tag_set_flags(tag, 0x2u), NMW_EINVAL);
  assert_int_equal(nmw_core_tag_flags(tag), NMW_TAG_EXTERNAL);
}

/* The table must hold at least 1024 tags, each with its own counters. */
static void test_many_tags(void **state) {
  (void)state;
  enum { MANY = 1024 };
  static nmw_tag_t tags[MANY];
  static void *blocks[MANY];
  char name[32];
  for (int i = 0; i < MANY; i++) {
    snprintf(name, sizeof name, "t.tags.many.%d", i);
    tags[i] = test_new_tag(name);
    for (int j = 0; j < i; j += 97) assert_int_not_equal(tags[i], tags[j]);
  }
  for (int i = 0; i < MANY; i++) {
    snprintf(name, sizeof name, "t.tags.many.%d", i);
    nmw_tag_t found = NMW_ANY_TAG;
    assert_int_equal(nmw_core_tag_lookup(name, &found), NMW_OK);
    assert_int_equal(found, tags[i]);
    assert_string_equal(nmw_core_tag_name(tags[i]), name);
    /* i + 1 bytes, so a tag that shares counters with another shows. */
    blocks[i] = nmw_core_malloc((size_t)i + 1, tags[i], NULL);
    assert_non_null(blocks[i]);
  }
  for (int i = 0; i < MANY; i++) {
    nmw_counters_t c = test_tag_counters(tags[i]);
    EXPECT_COUNTS(name, &c, 1, 0, 0, (uint64_t)i + 1, 0);
    assert_int_equal(nmw_core_block_tag(blocks[i]), tags[i]);
    nmw_core_free(blocks[i], tags[i], NULL);
    c = test_tag_counters(tags[i]);
    EXPECT_COUNTS(name, &c, 1, 1, 0, (uint64_t)i + 1, (uint64_t)i + 1);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_untagged_is_preregistered),
      cmocka_unit_test(test_valid_names),
      cmocka_unit_test(test_invalid_names),
      cmocka_unit_test(test_register_is_idempotent),
      cmocka_unit_test(test_register_conflicting_flags),
      cmocka_unit_test(test_register_unknown_flags),
      cmocka_unit_test(test_lookup_and_name),
      cmocka_unit_test(test_set_flags),
      cmocka_unit_test(test_many_tags),
  };
  return cmocka_run_group_tests_name("tags", tests, NULL, NULL);
}
