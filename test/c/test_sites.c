/*
 * test_sites.c: per-(site, tag) rows. Each helper below expands NMW_SITE() once,
 * so it returns the same static record on every call, as a call site in an
 * addon would. The line of the expansion is captured in an enum on the same
 * line, so the test can check the row's line independently of the record.
 */
#include "test_util.h"

#include <string.h>
#include <uv.h>

static nmw_site_t *site_a(void) { return NMW_SITE(); } enum { SITE_A_LINE = __LINE__ };
static nmw_site_t *site_b(void) { return NMW_SITE(); } enum { SITE_B_LINE = __LINE__ };
static nmw_site_t *site_c(void) { return NMW_SITE(); } enum { SITE_C_LINE = __LINE__ };
static nmw_site_t *site_d(void) { return NMW_SITE(); }

static void test_site_record_identity(void **state) {
  (void)state;
  /* One static record per expansion: the same pointer on every call. */
  assert_ptr_equal(site_a(), site_a());
  assert_ptr_not_equal(site_a(), site_b());
  assert_string_equal(site_a()->file, __FILE__);
  assert_int_equal(site_a()->line, SITE_A_LINE);
}

static void test_row_has_file_func_line_and_counts(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.sites.row");
  EXPECT_NO_ROW(site_a(), tag);
  void *p1 = nmw_core_malloc(10, tag, site_a());
  void *p2 = nmw_core_calloc(2, 10, tag, site_a());
  char *p3 = nmw_core_strdup("twenty-nine characters long..", tag, site_a());
  assert_true(p1 && p2 && p3);
  nmw_core_free(p2, tag, site_a());

  nmw_slot_row_t row;
  assert_int_equal(test_find_row(site_a(), tag, &row), 1);
  assert_string_equal(row.file, __FILE__);
  assert_string_equal(row.func, "site_a");
  assert_int_equal(row.line, SITE_A_LINE);
  assert_int_equal(row.tag, tag);
  EXPECT_ROW(site_a(), tag, 3, 1, 0, 10 + 20 + 30, 20);

  p1 = nmw_core_realloc(p1, 15, tag, site_a());
  assert_non_null(p1);
  EXPECT_ROW(site_a(), tag, 3, 1, 1, 10 + 20 + 30 + 5, 20);
  nmw_core_free(p1, tag, site_a());
  nmw_core_free(p3, tag, site_a());
  EXPECT_ROW(site_a(), tag, 3, 3, 1, 65, 65);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("tag", &c, 3, 3, 1, 65, 65);
}

static void test_null_site_row(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.sites.null");
  void *p = nmw_core_malloc(7, tag, NULL);
  void *q = nmw_core_malloc(9, tag, NULL);
  assert_true(p && q);
  nmw_core_free(q, tag, NULL);
  nmw_slot_row_t row;
  assert_int_equal(test_find_row(NULL, tag, &row), 1);
  assert_null(row.file);
  assert_null(row.func);
  assert_int_equal(row.line, 0);
  EXPECT_ROW(NULL, tag, 2, 1, 0, 16, 9);
  nmw_core_free(p, tag, NULL);
  EXPECT_ROW(NULL, tag, 2, 2, 0, 16, 16);
}

static void test_site_with_two_tags_gives_two_rows(void **state) {
  (void)state;
  nmw_tag_t t1 = test_new_tag("t.sites.two1");
  nmw_tag_t t2 = test_new_tag("t.sites.two2");
  void *a = nmw_core_malloc(100, t1, site_b());
  void *b = nmw_core_malloc(200, t2, site_b());
  void *c = nmw_core_malloc(300, t2, site_b());
  assert_true(a && b && c);
  nmw_slot_row_t r1, r2;
  assert_int_equal(test_find_row(site_b(), t1, &r1), 1);
  assert_int_equal(test_find_row(site_b(), t2, &r2), 1);
  assert_int_not_equal(r1.slot, r2.slot);
  assert_int_equal(r2.line, SITE_B_LINE);
  EXPECT_ROW(site_b(), t1, 1, 0, 0, 100, 0);
  EXPECT_ROW(site_b(), t2, 2, 0, 0, 500, 0);
  nmw_core_free(a, NMW_ANY_TAG, site_b());
  nmw_core_free(b, NMW_ANY_TAG, site_b());
  nmw_core_free(c, NMW_ANY_TAG, site_b());
  EXPECT_ROW(site_b(), t1, 1, 1, 0, 100, 100);
  EXPECT_ROW(site_b(), t2, 2, 2, 0, 500, 500);
}

static void test_free_elsewhere_credits_allocating_site(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.sites.elsewhere");
  void *p = nmw_core_malloc(64, tag, site_c());
  void *q = nmw_core_malloc(32, tag, NULL);
  assert_true(p && q);
  nmw_core_free(p, tag, site_d()); /* freed at another site */
  nmw_core_free(q, tag, site_d()); /* freed at a site, allocated at none */
  EXPECT_ROW(site_c(), tag, 1, 1, 0, 64, 64);
  EXPECT_ROW(NULL, tag, 1, 1, 0, 32, 32);
  EXPECT_NO_ROW(site_d(), tag); /* site d never allocated under tag */
  nmw_slot_row_t row;
  assert_int_equal(test_find_row(site_c(), tag, &row), 1);
  assert_int_equal(row.line, SITE_C_LINE);
}

/* A block freed on another thread is credited to its allocating site. */
static void free_on_thread(void *arg) {
  void **blocks = arg;
  for (int i = 0; i < 10; i++) nmw_core_free(blocks[i], NMW_ANY_TAG, site_d());
}

static void test_free_on_other_thread_credits_allocating_site(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.sites.thread");
  void *blocks[10];
  for (int i = 0; i < 10; i++) {
    blocks[i] = nmw_core_malloc((size_t)i + 1, tag, site_c());
    assert_non_null(blocks[i]);
  }
  uv_thread_t thread;
  assert_int_equal(uv_thread_create(&thread, free_on_thread, blocks), 0);
  assert_int_equal(uv_thread_join(&thread), 0);
  EXPECT_ROW(site_c(), tag, 10, 10, 0, 55, 55);
  EXPECT_NO_ROW(site_d(), tag);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("tag", &c, 10, 10, 0, 55, 55);
}

static void test_slot_rows_and_count_agree(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.sites.count");
  uint32_t before = nmw_core_slot_count();
  void *p = nmw_core_malloc(1, tag, site_a());
  assert_non_null(p);
  nmw_core_free(p, tag, NULL);
  /* (site_a, tag) is a new pair: exactly one more slot. */
  assert_int_equal(nmw_core_slot_count(), before + 1);
  /* The count sizes the buffer: every row fits in it. (Slots that never
   * allocated, such as a fresh tag's no-site slot, are counted but have no row.) */
  const nmw_slot_row_t *rows;
  size_t n = test_slot_rows(&rows);
  assert_true(n <= nmw_core_slot_count());
  assert_int_equal(test_find_row(site_a(), tag, NULL), 1);
  /* Every row is a distinct slot. */
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) assert_int_not_equal(rows[i].slot, rows[j].slot);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_site_record_identity),
      cmocka_unit_test(test_row_has_file_func_line_and_counts),
      cmocka_unit_test(test_null_site_row),
      cmocka_unit_test(test_site_with_two_tags_gives_two_rows),
      cmocka_unit_test(test_free_elsewhere_credits_allocating_site),
      cmocka_unit_test(test_free_on_other_thread_credits_allocating_site),
      cmocka_unit_test(test_slot_rows_and_count_agree),
  };
  return cmocka_run_group_tests_name("sites", tests, NULL, NULL);
}
