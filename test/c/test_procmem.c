/*
 * test_procmem.c: the /proc/self/status parser and the mallinfo2 reader of
 * src/core/procmem.c.
 */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#include "../../src/core/procmem.h"

static const char STATUS_TEXT[] =
    "Name:\tnode\n"
    "VmPeak:\t 1200000 kB\n"
    "VmHWM:\t   61000 kB\n"
    "VmRSS:\t   50000 kB\n"
    "RssAnon:\t   30000 kB\n"
    "RssFile:\t   19000 kB\n"
    "RssShmem:\t    1000 kB\n"
    "VmStk:\t     132 kB\n"
    "Threads:\t7\n";

static void test_parse_status_fields(void **state) {
  (void)state;
  nmw_status_info_t s;
  assert_true(nmw_procmem_parse_status(STATUS_TEXT, strlen(STATUS_TEXT), &s));
  assert_true(s.have);
  assert_int_equal(s.rss, 50000ull * 1024);
  assert_int_equal(s.rss_anon, 30000ull * 1024);
  assert_int_equal(s.rss_file, 19000ull * 1024);
  assert_int_equal(s.rss_shmem, 1000ull * 1024);
  assert_int_equal(s.vm_stack, 132ull * 1024);
  assert_int_equal(s.vm_hwm, 61000ull * 1024);
}

static void test_parse_status_without_rss(void **state) {
  (void)state;
  static const char text[] = "Name:\tnode\nRssAnon:\t 10 kB\nVmRSS:\tgarbage\n";
  nmw_status_info_t s;
  assert_false(nmw_procmem_parse_status(text, strlen(text), &s));
  assert_false(s.have);
  assert_int_equal(s.rss, 0);
  assert_int_equal(s.rss_anon, 10ull * 1024);
}

static void test_parse_status_truncated_and_wrong_unit(void **state) {
  (void)state;
  /* The buffer ends inside a line with no newline; a unit other than kB is refused. */
  static const char text[] = "VmStk:\t 5 MB\nVmRSS:\t 77 kB";
  nmw_status_info_t s;
  assert_true(nmw_procmem_parse_status(text, strlen(text), &s));
  assert_int_equal(s.rss, 77ull * 1024);
  assert_int_equal(s.vm_stack, 0);
  /* Cut inside the number's unit: not a value. */
  assert_false(nmw_procmem_parse_status(text, strlen(text) - 1, &s));
}

static void test_status_of_this_process(void **state) {
  (void)state;
  nmw_status_info_t s;
  nmw_procmem_status(&s);
  assert_true(s.have);
  assert_true(s.rss > 0);
  /* The kernel's split adds up to VmRSS. */
  assert_int_equal(s.rss, s.rss_anon + s.rss_file + s.rss_shmem);
}

static void test_mallinfo2_sees_an_allocation(void **state) {
  (void)state;
#if defined(__SANITIZE_ADDRESS__)
  /* AddressSanitizer replaces malloc: glibc's arenas do not see these blocks. */
  skip();
#endif
  nmw_malloc_info_t before, after;
  nmw_procmem_malloc(&before);
  assert_true(before.have);
  /* 64 KiB blocks stay below glibc's mmap threshold: they land in the arena. */
  enum { N = 64, SIZE = 64 * 1024 };
  void *blocks[N];
  for (int i = 0; i < N; i++) {
    blocks[i] = malloc(SIZE);
    assert_non_null(blocks[i]);
    memset(blocks[i], i, SIZE);
  }
  nmw_procmem_malloc(&after);
  uint64_t grew = after.in_use - before.in_use;
  assert_true(grew >= (uint64_t)N * SIZE);
  assert_true(grew <= (uint64_t)N * (SIZE + 64));
  for (int i = 0; i < N; i++) free(blocks[i]);
  /* A block above the threshold is mmapped on its own. */
  void *big = malloc(64u << 20);
  assert_non_null(big);
  nmw_procmem_malloc(&after);
  assert_int_equal(after.mmapped_count, before.mmapped_count + 1);
  assert_true(after.mmapped >= before.mmapped + (64u << 20));
  free(big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_status_fields),
      cmocka_unit_test(test_parse_status_without_rss),
      cmocka_unit_test(test_parse_status_truncated_and_wrong_unit),
      cmocka_unit_test(test_status_of_this_process),
      cmocka_unit_test(test_mallinfo2_sees_an_allocation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
