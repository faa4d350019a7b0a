/*
 * test_cache.c: the per-thread cache of freed blocks: reuse, double free of a
 * cached block, its bounds (per class and per thread), the flush at thread exit,
 * a producer/consumer pair of threads (one allocates, the other frees) with exact
 * counts, a cached block whose header was overwritten, and the classes of
 * external-tagged blocks (reuse with exact amounts owed, double free, calloc,
 * realloc, a free after the owner's teardown, frees on a thread with no owner).
 *
 * Each worker thread is its own shard and cache; the main thread stays idle while
 * they run, so the change of stats().overhead's cache bytes is theirs.
 */
#include "test_util.h"

#include <string.h>
#include <uv.h>

#include "../../src/core/internal.h"

static nmw_site_t *site_producer(void) { return NMW_SITE(); }

static uint64_t cache_bytes(void) { return test_overhead().cache_bytes; }

static void test_reuse_and_double_free(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.cache.double");
  void *p = nmw_core_malloc(64, tag, NULL);
  assert_non_null(p);
  nmw_core_free(p, tag, NULL);
  /* The cache hands the block straight back (last in, first out). */
  void *q = nmw_core_malloc(60, tag, NULL);
  assert_ptr_equal(p, q);
  assert_int_equal(nmw_core_block_size(q), 60);
  nmw_core_free(q, tag, NULL);
  nmw_counters_t after_free = test_tag_counters(tag);
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  /* The block sits in the cache with its DEAD mark: a second free is a double
   * free, not a foreign pointer, and changes nothing. */
  nmw_core_free(q, tag, NULL);
  assert_null(nmw_core_realloc(q, 10, tag, NULL));
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_DOUBLE_FREE, 2, -1);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_SAME("after the double free", &c, &after_free);
  assert_int_equal(nmw_core_block_size(q), 0);
  assert_int_equal(nmw_core_block_tag(q), NMW_ANY_TAG);
  /* And the block is still good for the next allocation. */
  void *r = nmw_core_malloc(64, tag, NULL);
  assert_ptr_equal(r, q);
  nmw_core_free(r, tag, NULL);
}

/* ---- bounds and thread exit ---- */

typedef struct bounds_job {
  nmw_tag_t tag;
  uint64_t before;
  uint64_t one_class, all_classes; /* cache bytes of this thread at two points */
  int failed;
} bounds_job_t;

enum { BOUNDS_BLOCKS = 4000 };

static void bounds_run(void *arg) {
  bounds_job_t *job = arg;
  static void *blocks[BOUNDS_BLOCKS];
  /* One class: far more blocks than a class keeps. */
  for (int i = 0; i < 1000; i++)
    if (!(blocks[i] = nmw_core_malloc(64, job->tag, NULL))) job->failed = 1;
  for (int i = 0; i < 1000; i++) nmw_core_free(blocks[i], job->tag, NULL);
  job->one_class = cache_bytes() - job->before;
  /* Every class: far more bytes than a thread keeps. */
  for (int i = 0; i < BOUNDS_BLOCKS; i++)
    if (!(blocks[i] = nmw_core_malloc((size_t)(i % (NMW_CACHE_MAX_SIZE + 1)), job->tag, NULL)))
      job->failed = 1;
  for (int i = 0; i < BOUNDS_BLOCKS; i++) nmw_core_free(blocks[i], job->tag, NULL);
  job->all_classes = cache_bytes() - job->before;
}

static void test_bounds_and_thread_exit(void **state) {
  (void)state;
  static bounds_job_t job;
  job.tag = test_new_tag("t.cache.bounds");
  job.before = cache_bytes();
  uv_thread_t thread;
  assert_int_equal(uv_thread_create(&thread, bounds_run, &job), 0);
  assert_int_equal(uv_thread_join(&thread), 0);
  assert_false(job.failed);
  /* At most NMW_CACHE_CLASS_BLOCKS blocks of the class (and of the class below,
   * which takes blocks moved off a page start). */
  assert_true(job.one_class > 0);
  assert_true(job.one_class <= NMW_CACHE_CLASS_BLOCKS * (NMW_CLASS_ALLOC(4) + NMW_CLASS_ALLOC(3)));
  assert_true(job.all_classes <= NMW_CACHE_THREAD_BYTES);
  /* The thread exited: its cache went back to libc. */
  assert_int_equal(cache_bytes(), job.before);
  nmw_counters_t c = test_tag_counters(job.tag);
  assert_int_equal(c.allocs, 1000 + BOUNDS_BLOCKS);
  assert_int_equal(c.frees, 1000 + BOUNDS_BLOCKS);
  assert_int_equal(c.curr_bytes, 0);
}

/* ---- a producer and a consumer ---- */

enum { PC_BATCH = 128, PC_ROUNDS = 200 };

typedef struct pc {
  nmw_tag_t tag;
  int rounds;
  void *slots[PC_BATCH];
  uv_sem_t full, empty;
  uint64_t bytes;
  nmw_owner_t owner;       /* the external test's producer's */
  uint64_t consumer_cache; /* the consumer's cache bytes at its end */
  int failed;
} pc_t;

static void producer_run(void *arg) {
  pc_t *pc = arg;
  for (int round = 0; round < PC_ROUNDS; round++) {
    uv_sem_wait(&pc->empty);
    for (int i = 0; i < PC_BATCH; i++) {
      size_t size = (size_t)((round * PC_BATCH + i) * 37 % 1500);
      pc->slots[i] = nmw_core_malloc(size, pc->tag, site_producer());
      if (!pc->slots[i]) pc->failed = 1;
      else memset(pc->slots[i], 0x5a, size);
      pc->bytes += size;
    }
    uv_sem_post(&pc->full);
  }
}

static void consumer_run(void *arg) {
  pc_t *pc = arg;
  for (int round = 0; round < pc->rounds; round++) {
    uv_sem_wait(&pc->full);
    for (int i = 0; i < PC_BATCH; i++) nmw_core_free(pc->slots[i], pc->tag, NULL);
    uv_sem_post(&pc->empty);
  }
  pc->consumer_cache = NMW_LOAD(nmw__tls_shard->cache_bytes);
}

static void test_producer_consumer(void **state) {
  (void)state;
  static pc_t pc;
  pc.tag = test_new_tag("t.cache.pc");
  pc.rounds = PC_ROUNDS;
  uint64_t before = cache_bytes();
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  assert_int_equal(uv_sem_init(&pc.full, 0), 0);
  assert_int_equal(uv_sem_init(&pc.empty, 1), 0);
  uv_thread_t producer, consumer;
  assert_int_equal(uv_thread_create(&producer, producer_run, &pc), 0);
  assert_int_equal(uv_thread_create(&consumer, consumer_run, &pc), 0);
  assert_int_equal(uv_thread_join(&producer), 0);
  assert_int_equal(uv_thread_join(&consumer), 0);
  uv_sem_destroy(&pc.full);
  uv_sem_destroy(&pc.empty);
  assert_false(pc.failed);
  const uint64_t n = (uint64_t)PC_BATCH * PC_ROUNDS;
  nmw_counters_t c = test_tag_counters(pc.tag);
  EXPECT_COUNTS("producer/consumer", &c, n, n, 0, pc.bytes, pc.bytes);
  EXPECT_ROW(site_producer(), pc.tag, n, n, 0, pc.bytes, pc.bytes);
  EXPECT_MISUSE_DELTA(misuse, -1);
  /* Both threads are gone, and so are their caches. */
  assert_int_equal(cache_bytes(), before);
}

/* A cached block whose header was overwritten (a write after free) is not handed
 * out again: its class is dropped and the damage reported. */
static void *volatile damaged_keep; /* the dropped block stays reachable (LeakSanitizer) */

/* One thread grows one size class to tens of thousands of live blocks, for every
 * small class: the chunks the placement rule rejects (on a page start) must not
 * go back to libc while the class is being allocated, or libc hands the same
 * chunks straight back and the allocation never ends (it did: 10,000 blocks of
 * 32 B). Counts stay exact. */
static void test_growth_of_one_class(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.cache.growth");
  enum { N = 20000 };
  void **blocks = malloc(N * sizeof *blocks);
  assert_non_null(blocks);
  for (size_t size = 16; size <= 1024; size += size < 128 ? 16 : 112) {
    for (size_t i = 0; i < N; i++) {
      blocks[i] = nmw_core_malloc(size, tag, NULL);
      assert_non_null(blocks[i]);
    }
    nmw_counters_t c = test_tag_counters(tag);
    assert_int_equal(c.curr_bytes, N * size);
    assert_int_equal(c.curr_blocks, N);
    for (size_t i = 0; i < N; i++) nmw_core_free(blocks[i], tag, NULL);
    c = test_tag_counters(tag);
    assert_int_equal(c.curr_bytes, 0);
    assert_int_equal(c.curr_blocks, 0);
  }
  free(blocks);
}

static void test_damaged_cache(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.cache.damaged");
  void *p = nmw_core_malloc(200, tag, NULL);
  assert_non_null(p);
  nmw_core_free(p, tag, NULL);
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  damaged_keep = (unsigned char *)p - 16;
  memset((unsigned char *)p - 8, 0x41, 8); /* the DEAD mark */
  void *q = nmw_core_malloc(200, tag, NULL);
  assert_non_null(q);
  assert_ptr_not_equal(p, q);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_OVERRUN, 1, -1);
  nmw_core_free(q, tag, NULL);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("after the damaged cache", &c, 2, 2, 0, 400, 400);
}

/* ---- external-tagged blocks ---- */

static int64_t owed_of(nmw_owner_t owner) {
  nmw_owner_audit_t a;
  if (nmw_core_owner_audit(owner, &a) != NMW_OK) return -1;
  return a.owed;
}

static uint64_t block_overhead(void) { return test_overhead().block_bytes; }

typedef struct ext_job {
  nmw_tag_t tag;
  int failed;
} ext_job_t;

#define EXT_CHECK(cond) \
  do {                  \
    if (!(cond)) {      \
      job->failed = __LINE__; \
      return;           \
    }                   \
  } while (0)

/* On a thread of its own, which opens an owner (its JS thread, as it were). */
static void ext_reuse_run(void *arg) {
  ext_job_t *job = arg;
  nmw_owner_t owner;
  EXT_CHECK(nmw_core_owner_open(NULL, &owner) == NMW_OK);
  uint64_t cached0 = cache_bytes(), blocks0 = block_overhead();
  void *p = nmw_core_malloc(64, job->tag, NULL);
  EXT_CHECK(p != NULL && owed_of(owner) == 64);
  /* Header and canary (24) and the prefixed layout's 40 bytes. */
  EXT_CHECK(block_overhead() - blocks0 == 64);
  nmw_core_free(p, job->tag, NULL);
  EXT_CHECK(owed_of(owner) == 0 && block_overhead() == blocks0);
  EXT_CHECK(cache_bytes() - cached0 == NMW_EXT_CLASS_ALLOC(4));
  /* The same block again, for another size of its class. */
  void *q = nmw_core_malloc(50, job->tag, NULL);
  EXT_CHECK(q == p && nmw_core_block_size(q) == 50 && owed_of(owner) == 50);
  EXT_CHECK(cache_bytes() == cached0);
  memset(q, 0xff, 50);
  nmw_core_free(q, job->tag, NULL);
  /* A second free of the cached block is a double free and changes nothing. */
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  nmw_counters_t before = test_tag_counters(job->tag);
  nmw_core_free(q, job->tag, NULL);
  uint64_t now[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(now);
  EXT_CHECK(now[NMW_MISUSE_DOUBLE_FREE] == misuse[NMW_MISUSE_DOUBLE_FREE] + 1);
  nmw_counters_t after = test_tag_counters(job->tag);
  EXT_CHECK(after.frees == before.frees && after.curr_bytes == 0 && owed_of(owner) == 0);
  /* calloc from the cache: zeroed. */
  unsigned char *z = nmw_core_calloc(1, 60, job->tag, NULL);
  EXT_CHECK(z == p && owed_of(owner) == 60);
  for (int i = 0; i < 60; i++) EXT_CHECK(z[i] == 0);
  /* realloc within and across classes keeps the block external. */
  unsigned char *r = nmw_core_realloc(z, 40, job->tag, NULL);
  EXT_CHECK(r != NULL && owed_of(owner) == 40);
  r = nmw_core_realloc(r, 700, job->tag, NULL);
  EXT_CHECK(r != NULL && owed_of(owner) == 700);
  nmw_tag_t tag;
  EXT_CHECK(nmw__block_external(r, &tag) && tag == job->tag);
  /* A block freed after its owner's teardown is counted as such. */
  nmw_ext_global_t g0, g1;
  nmw_core_external_global(&g0);
  nmw_core_owner_teardown(owner);
  nmw_core_free(r, job->tag, NULL);
  nmw_core_external_global(&g1);
  EXT_CHECK(g1.freed_after_teardown_bytes - g0.freed_after_teardown_bytes == 700);
  EXT_CHECK(g1.freed_after_teardown_blocks - g0.freed_after_teardown_blocks == 1);
  nmw_counters_t end = test_tag_counters(job->tag);
  EXT_CHECK(end.curr_bytes == 0 && end.curr_blocks == 0);
}

static void test_external_reuse(void **state) {
  (void)state;
  ext_job_t job = {.tag = test_new_tag("t.cache.ext")};
  assert_int_equal(nmw_core_tag_set_flags(job.tag, NMW_TAG_EXTERNAL), NMW_OK);
  uint64_t cached = cache_bytes();
  uv_thread_t thread;
  assert_int_equal(uv_thread_create(&thread, ext_reuse_run, &job), 0);
  assert_int_equal(uv_thread_join(&thread), 0);
  assert_int_equal(job.failed, 0);
  assert_int_equal(cache_bytes(), cached); /* flushed at thread exit */
}

/* An owner's thread allocates, a thread with no owner frees: the owner's amount
 * comes back to exactly 0, and the blocks land in the freeing thread's cache. */
enum { XT_ROUNDS = 50 };

static void ext_producer_run(void *arg) {
  pc_t *pc = arg;
  if (nmw_core_owner_open(NULL, &pc->owner) != NMW_OK) pc->failed = 1;
  int64_t want = 0;
  for (int i = 0; i < PC_BATCH; i++) want += (int64_t)(i * 9 % 1025);
  for (int round = 0; round < XT_ROUNDS; round++) {
    uv_sem_wait(&pc->empty);
    if (round > 0 && owed_of(pc->owner) != 0) pc->failed = 2;
    for (int i = 0; i < PC_BATCH; i++) {
      pc->slots[i] = nmw_core_malloc((size_t)(i * 9 % 1025), pc->tag, NULL);
      if (!pc->slots[i]) pc->failed = 3;
    }
    if (owed_of(pc->owner) != want) pc->failed = 4;
    uv_sem_post(&pc->full);
  }
  uv_sem_wait(&pc->empty);
  if (owed_of(pc->owner) != 0) pc->failed = 5;
  nmw_core_owner_teardown(pc->owner);
}

static void test_external_cross_thread(void **state) {
  (void)state;
  static pc_t pc;
  pc.tag = test_new_tag("t.cache.ext.pc");
  pc.rounds = XT_ROUNDS;
  assert_int_equal(nmw_core_tag_set_flags(pc.tag, NMW_TAG_EXTERNAL), NMW_OK);
  uv_sem_init(&pc.full, 0);
  uv_sem_init(&pc.empty, 1);
  uint64_t cached = cache_bytes();
  uv_thread_t a, b;
  assert_int_equal(uv_thread_create(&a, ext_producer_run, &pc), 0);
  assert_int_equal(uv_thread_create(&b, consumer_run, &pc), 0);
  assert_int_equal(uv_thread_join(&b), 0);
  assert_int_equal(uv_thread_join(&a), 0);
  assert_int_equal(pc.failed, 0);
  /* The consumer's cache held external blocks (its classes' bound or less). */
  assert_true(pc.consumer_cache > 0 && pc.consumer_cache <= NMW_CACHE_THREAD_BYTES);
  assert_int_equal(cache_bytes(), cached);
  nmw_counters_t c = test_tag_counters(pc.tag);
  assert_int_equal(c.allocs, PC_BATCH * XT_ROUNDS);
  assert_int_equal(c.frees, PC_BATCH * XT_ROUNDS);
  assert_int_equal(c.curr_bytes, 0);
  uv_sem_destroy(&pc.full);
  uv_sem_destroy(&pc.empty);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reuse_and_double_free),
      cmocka_unit_test(test_bounds_and_thread_exit),
      cmocka_unit_test(test_producer_consumer),
      cmocka_unit_test(test_damaged_cache),
      cmocka_unit_test(test_growth_of_one_class),
      cmocka_unit_test(test_external_reuse),
      cmocka_unit_test(test_external_cross_thread),
  };
  return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
