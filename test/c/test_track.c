/*
 * test_track.c: nmw_core_track/untrack, which account for memory allocated
 * elsewhere (plain malloc) without owning it.
 */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

static nmw_site_t *site_track(void) { return NMW_SITE(); }
static nmw_site_t *site_untrack(void) { return NMW_SITE(); }

static void test_track_and_untrack(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.track.basic");
  nmw_counters_t total_before = test_total_counters();
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  char *mem = malloc(300);
  assert_non_null(mem);
  assert_int_equal(nmw_core_track(mem, 300, tag, site_track()), 0);
  assert_int_equal(nmw_core_track(mem + 100, 0, tag, site_track()), 0); /* size 0 is fine */
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("tracked", &c, 2, 0, 0, 300, 0);
  EXPECT_ROW(site_track(), tag, 2, 0, 0, 300, 0);

  /* Untracked at another site: credited to the site that tracked it. */
  assert_int_equal(nmw_core_untrack(mem, site_untrack()), 0);
  assert_int_equal(nmw_core_untrack(mem + 100, NULL), 0);
  c = test_tag_counters(tag);
  EXPECT_COUNTS("untracked", &c, 2, 2, 0, 300, 300);
  EXPECT_ROW(site_track(), tag, 2, 2, 0, 300, 300);
  EXPECT_NO_ROW(site_untrack(), tag);
  nmw_counters_t total_after = test_total_counters();
  nmw_counters_t d = test_counters_sub(&total_after, &total_before);
  EXPECT_COUNTS("total delta", &d, 2, 2, 0, 300, 300);
  EXPECT_MISUSE_DELTA(misuse, -1);
  free(mem);
}

static void test_track_null(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.track.null");
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  assert_int_equal(nmw_core_track(NULL, 10, tag, site_track()), NMW_EINVAL);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("nothing tracked", &c, 0, 0, 0, 0, 0);
  EXPECT_MISUSE_DELTA(misuse, -1);
}

static void test_track_twice_replaces(void **state) {
  (void)state;
  nmw_tag_t first = test_new_tag("t.track.twice1");
  nmw_tag_t second = test_new_tag("t.track.twice2");
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  char *mem = malloc(64);
  assert_non_null(mem);
  assert_int_equal(nmw_core_track(mem, 100, first, NULL), 0);
  assert_int_equal(nmw_core_track(mem, 250, second, NULL), 0);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_TRACK_TWICE, 1, -1);
  nmw_counters_t c = test_tag_counters(first);
  EXPECT_COUNTS("old record freed", &c, 1, 1, 0, 100, 100);
  c = test_tag_counters(second);
  EXPECT_COUNTS("new record", &c, 1, 0, 0, 250, 0);
  /* Untrack ends the new record, under the new tag. */
  assert_int_equal(nmw_core_untrack(mem, NULL), 0);
  c = test_tag_counters(second);
  EXPECT_COUNTS("new record untracked", &c, 1, 1, 0, 250, 250);
  c = test_tag_counters(first);
  EXPECT_COUNTS("old tag unchanged", &c, 1, 1, 0, 100, 100);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_TRACK_TWICE, 1, -1);
  free(mem);
}

static void test_untrack_unknown(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.track.unknown");
  nmw_counters_t total_before = test_total_counters();
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  char *mem = malloc(16);
  assert_non_null(mem);
  assert_int_equal(nmw_core_untrack(mem, site_untrack()), NMW_ENOENT);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_UNTRACK_UNKNOWN, 1, -1);
  /* Untracking twice: the second is unknown too. */
  assert_int_equal(nmw_core_track(mem, 16, tag, NULL), 0);
  assert_int_equal(nmw_core_untrack(mem, NULL), 0);
  assert_int_equal(nmw_core_untrack(mem, NULL), NMW_ENOENT);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_UNTRACK_UNKNOWN, 2, -1);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("tag", &c, 1, 1, 0, 16, 16);
  nmw_counters_t total_after = test_total_counters();
  nmw_counters_t d = test_counters_sub(&total_after, &total_before);
  EXPECT_COUNTS("total delta", &d, 1, 1, 0, 16, 16);
  free(mem);
}

/* ---- four threads tracking and untracking disjoint pointers at once ---- */

enum { TRACK_THREADS = 4, TRACK_PTRS = 20000, TRACK_ROUNDS = 3 };

static nmw_site_t *track_site0(void) { return NMW_SITE(); }
static nmw_site_t *track_site1(void) { return NMW_SITE(); }
static nmw_site_t *track_site2(void) { return NMW_SITE(); }
static nmw_site_t *track_site3(void) { return NMW_SITE(); }

typedef struct track_worker {
  int index;
  nmw_tag_t own_tag, shared_tag;
  nmw_site_t *site;
  char *buffer; /* TRACK_PTRS distinct addresses, owned by this thread */
  /* What this thread did, per tag (0 = shared, 1 = own). */
  uint64_t allocs[2], bytes[2];
  uint64_t errors;
} track_worker_t;

static void track_worker_run(void *arg) {
  track_worker_t *w = arg;
  test_rng_t rng = {(uint64_t)w->index * 1000003u + 17};
  for (int round = 0; round < TRACK_ROUNDS; round++) {
    /* Track every address, untrack the odd ones, track those again with a
     * new size, then untrack everything. */
    for (int pass = 0; pass < 2; pass++) {
      for (int i = 0; i < TRACK_PTRS; i++) {
        if (pass == 1 && (i & 1) == 0) continue;
        int which = (int)test_rng_below(&rng, 2);
        size_t size = (size_t)test_rng_below(&rng, 5000);
        nmw_tag_t tag = which ? w->own_tag : w->shared_tag;
        if (nmw_core_track(w->buffer + i, size, tag, w->site) != 0) w->errors++;
        w->allocs[which]++;
        w->bytes[which] += size;
      }
      if (pass == 0)
        for (int i = 1; i < TRACK_PTRS; i += 2)
          if (nmw_core_untrack(w->buffer + i, NULL) != 0) w->errors++;
    }
    for (int i = 0; i < TRACK_PTRS; i++)
      if (nmw_core_untrack(w->buffer + i, w->site) != 0) w->errors++;
  }
}

static void test_track_threads(void **state) {
  (void)state;
  nmw_tag_t shared = test_new_tag("t.track.threads.shared");
  nmw_site_t *sites[TRACK_THREADS] = {track_site0(), track_site1(), track_site2(),
                                      track_site3()};
  track_worker_t workers[TRACK_THREADS];
  uv_thread_t threads[TRACK_THREADS];
  nmw_counters_t total_before = test_total_counters();
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  char name[64];
  for (int t = 0; t < TRACK_THREADS; t++) {
    memset(&workers[t], 0, sizeof workers[t]);
    workers[t].index = t;
    snprintf(name, sizeof name, "t.track.threads.own%d", t);
    workers[t].own_tag = test_new_tag(name);
    workers[t].shared_tag = shared;
    workers[t].site = sites[t];
    workers[t].buffer = malloc(TRACK_PTRS);
    assert_non_null(workers[t].buffer);
  }
  for (int t = 0; t < TRACK_THREADS; t++)
    assert_int_equal(uv_thread_create(&threads[t], track_worker_run, &workers[t]), 0);
  for (int t = 0; t < TRACK_THREADS; t++) assert_int_equal(uv_thread_join(&threads[t]), 0);

  uint64_t all_allocs = 0, all_bytes = 0, shared_allocs = 0, shared_bytes = 0;
  for (int t = 0; t < TRACK_THREADS; t++) {
    track_worker_t *w = &workers[t];
    assert_int_equal(w->errors, 0);
    nmw_counters_t c = test_tag_counters(w->own_tag);
    EXPECT_COUNTS("own tag", &c, w->allocs[1], w->allocs[1], 0, w->bytes[1], w->bytes[1]);
    EXPECT_ROW(w->site, w->own_tag, w->allocs[1], w->allocs[1], 0, w->bytes[1], w->bytes[1]);
    EXPECT_ROW(w->site, shared, w->allocs[0], w->allocs[0], 0, w->bytes[0], w->bytes[0]);
    shared_allocs += w->allocs[0];
    shared_bytes += w->bytes[0];
    all_allocs += w->allocs[0] + w->allocs[1];
    all_bytes += w->bytes[0] + w->bytes[1];
    free(w->buffer);
  }
  /* 1.5 tracks per address per round. */
  assert_int_equal(all_allocs, (uint64_t)TRACK_THREADS * TRACK_ROUNDS * (TRACK_PTRS * 3 / 2));
  nmw_counters_t c = test_tag_counters(shared);
  EXPECT_COUNTS("shared tag", &c, shared_allocs, shared_allocs, 0, shared_bytes, shared_bytes);
  nmw_counters_t total_after = test_total_counters();
  nmw_counters_t d = test_counters_sub(&total_after, &total_before);
  EXPECT_COUNTS("total delta", &d, all_allocs, all_allocs, 0, all_bytes, all_bytes);
  EXPECT_MISUSE_DELTA(misuse, -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_track_and_untrack),
      cmocka_unit_test(test_track_null),
      cmocka_unit_test(test_track_twice_replaces),
      cmocka_unit_test(test_untrack_unknown),
      cmocka_unit_test(test_track_threads),
  };
  return cmocka_run_group_tests_name("track", tests, NULL, NULL);
}
