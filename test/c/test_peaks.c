/*
 * test_peaks.c: peaks under true concurrency and strict peaks.
 *
 * The per-thread rooms (internal.h) make a peak exact on one thread and bound
 * its error under concurrency by the reported peak_error_*: these tests keep a
 * linearizable model of the tag (one atomic counter, added to after each
 * allocation returns and taken from before each free, so it never exceeds what
 * the tracker holds) and check the reported peak against it within the reported
 * bound, on 2 and 4 threads. Strict-peaks tags must be exact: their test runs in
 * barrier-separated phases, so the true peak is known whatever the scheduling.
 * Nothing here depends on timing: the assertions hold for every interleaving.
 */
#include "test_util.h"

#include <stdatomic.h>
#include <string.h>
#include <uv.h>

#include "../../src/core/internal.h"

#define MAX_THREADS 4
#define HELD 48       /* blocks a worker holds at most */
#define STEPS 40000   /* operations per worker */
#define MAX_SIZE 512

typedef struct model {
  _Atomic int64_t bytes, blocks, peak_bytes, peak_blocks;
} model_t;

static void model_max(_Atomic int64_t *peak, int64_t v) {
  int64_t seen = atomic_load(peak);
  while (v > seen && !atomic_compare_exchange_weak(peak, &seen, v)) {
  }
}

static void model_add(model_t *m, int64_t bytes) {
  model_max(&m->peak_bytes, atomic_fetch_add(&m->bytes, bytes) + bytes);
  model_max(&m->peak_blocks, atomic_fetch_add(&m->blocks, 1) + 1);
}

static void model_sub(model_t *m, int64_t bytes) {
  atomic_fetch_sub(&m->bytes, bytes);
  atomic_fetch_sub(&m->blocks, 1);
}

typedef struct worker {
  nmw_tag_t tag;
  model_t *model;
  uv_barrier_t *start;
  unsigned seed;
  int failed;
} worker_t;

static unsigned next_rand(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (*s >> 16) & 0x7fffu;
}

/* Random walk: allocate or free (more allocations while few are held), sizes
 * 1..MAX_SIZE, frees of a random held block. */
static void random_worker(void *arg) {
  worker_t *w = arg;
  void *held[HELD];
  size_t sizes[HELD];
  int n = 0;
  /* Take a shard before the barrier: every worker then has its own, whichever
   * finishes first (an exited thread's shard goes to the next new thread). */
  nmw_core_free(nmw_core_malloc(1, NMW_UNTAGGED, NULL), NMW_UNTAGGED, NULL);
  uv_barrier_wait(w->start);
  for (int step = 0; step < STEPS; step++) {
    unsigned r = next_rand(&w->seed);
    bool alloc = n == 0 || (n < HELD && (r % 100) < (unsigned)(n < HELD / 2 ? 70 : 45));
    if (alloc) {
      size_t size = 1 + next_rand(&w->seed) % MAX_SIZE;
      void *p = nmw_core_malloc(size, w->tag, NULL);
      if (!p) {
        w->failed = 1;
        break;
      }
      model_add(w->model, (int64_t)size);
      held[n] = p;
      sizes[n++] = size;
    } else {
      int i = (int)(r % (unsigned)n);
      model_sub(w->model, (int64_t)sizes[i]);
      nmw_core_free(held[i], w->tag, NULL);
      held[i] = held[--n];
      sizes[i] = sizes[n];
    }
  }
  while (n > 0) {
    n--;
    model_sub(w->model, (int64_t)sizes[n]);
    nmw_core_free(held[n], w->tag, NULL);
  }
}

static void run_random(const char *name, int nthreads) {
  nmw_tag_t tag = test_new_tag(name);
  static model_t model;
  memset(&model, 0, sizeof model);
  uv_barrier_t start;
  assert_int_equal(uv_barrier_init(&start, (unsigned)nthreads), 0);
  worker_t workers[MAX_THREADS];
  uv_thread_t threads[MAX_THREADS];
  for (int i = 0; i < nthreads; i++) {
    workers[i] = (worker_t){.tag = tag, .model = &model, .start = &start, .seed = 7u + 31u * (unsigned)i};
    assert_int_equal(uv_thread_create(&threads[i], random_worker, &workers[i]), 0);
  }
  for (int i = 0; i < nthreads; i++) assert_int_equal(uv_thread_join(&threads[i]), 0);
  uv_barrier_destroy(&start);
  for (int i = 0; i < nthreads; i++) assert_false(workers[i].failed);

  nmw_counters_t c = test_tag_counters(tag);
  assert_int_equal(c.curr_bytes, 0);
  assert_int_equal(c.curr_blocks, 0);
  int64_t mb = atomic_load(&model.peak_bytes), mk = atomic_load(&model.peak_blocks);
  /* The bound: one room's growth and one fall per other thread that grew the tag. */
  assert_int_equal(c.peak_error_bytes, (int64_t)(nthreads - 1) * NMW_PEAK_ERROR_BYTES);
  assert_int_equal(c.peak_error_blocks, (int64_t)(nthreads - 1) * NMW_PEAK_ERROR_BLOCKS);
  print_message("%s: model peak %lld B / %lld blocks, reported %lld B / %lld blocks, bound %lld B / "
                "%lld blocks\n",
                name, (long long)mb, (long long)mk, (long long)c.peak_bytes,
                (long long)c.peak_blocks, (long long)c.peak_error_bytes,
                (long long)c.peak_error_blocks);
  /* Never more than the bound below the model (the model is never above the
   * tracker's true count). */
  assert_true(c.peak_bytes >= mb - c.peak_error_bytes);
  assert_true(c.peak_blocks >= mk - c.peak_error_blocks);
  /* Above the model at most by the blocks in flight (allocated, not yet counted
   * by the model: one per thread) and sums read while other shards fold. */
  assert_true(c.peak_bytes <= mb + (int64_t)nthreads * MAX_SIZE + c.peak_error_bytes);
  assert_true(c.peak_blocks <= mk + nthreads + c.peak_error_blocks);
}

static void test_peak_bound_2_threads(void **state) {
  (void)state;
  run_random("t.peaks.random2", 2);
}

static void test_peak_bound_4_threads(void **state) {
  (void)state;
  run_random("t.peaks.random4", 4);
}

/* Regions begin and end while two threads grow and shrink a tag: a sync raises
 * the total's peak without the lock only while no region is open, and a region
 * that begins meanwhile must leave the watermark at the lowest peak watched. Run
 * under ThreadSanitizer too. Afterwards, with no region open, the watermark is the
 * total's peak, and the tag's counts are exact. */
static void test_regions_during_growth(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.peaks.regions");
  static model_t model;
  memset(&model, 0, sizeof model);
  uv_barrier_t start;
  assert_int_equal(uv_barrier_init(&start, 3), 0);
  worker_t workers[2];
  uv_thread_t threads[2];
  for (int i = 0; i < 2; i++) {
    workers[i] = (worker_t){.tag = tag, .model = &model, .start = &start, .seed = 11u + 17u * (unsigned)i};
    assert_int_equal(uv_thread_create(&threads[i], random_worker, &workers[i]), 0);
  }
  uv_barrier_wait(&start);
  for (int i = 0; i < 2000; i++) {
    nmw_region_t r;
    assert_int_equal(nmw_core_region_begin(&r), NMW_OK);
    nmw_region_delta_t d;
    assert_int_equal(nmw_core_region_delta(&r, &d), NMW_OK);
    nmw_core_region_end(&r);
  }
  for (int i = 0; i < 2; i++) assert_int_equal(uv_thread_join(&threads[i]), 0);
  uv_barrier_destroy(&start);
  for (int i = 0; i < 2; i++) assert_false(workers[i].failed);
  nmw_counters_t c = test_tag_counters(tag);
  assert_int_equal(c.curr_bytes, 0);
  assert_int_equal(c.curr_blocks, 0);
  assert_int_equal(atomic_load(&nmw__total.regions_open), 0);
  assert_int_equal(atomic_load(&nmw__total.watermark_bytes), atomic_load(&nmw__total.peak_bytes));
  assert_int_equal(atomic_load(&nmw__total.watermark_blocks), atomic_load(&nmw__total.peak_blocks));
}

/* One thread: the bound is 0 and the peak exact, also after a peak reset and a
 * region's begin (both lower what the rooms were set against). */
static void test_one_thread_exact(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("t.peaks.one");
  void *b[100];
  for (int i = 0; i < 100; i++) b[i] = nmw_core_malloc(100, tag, NULL);
  for (int i = 0; i < 100; i++) nmw_core_free(b[i], tag, NULL);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_PEAKS("100 blocks", &c, 10000, 100);
  assert_int_equal(c.peak_error_bytes, 0);
  assert_int_equal(c.peak_error_blocks, 0);
  nmw_core_reset_peak(tag);
  for (int i = 0; i < 3; i++) b[i] = nmw_core_malloc(100, tag, NULL);
  for (int i = 0; i < 3; i++) nmw_core_free(b[i], tag, NULL);
  c = test_tag_counters(tag);
  EXPECT_PEAKS("after a reset", &c, 300, 3);
  nmw_region_t r;
  nmw_core_region_begin(&r);
  for (int i = 0; i < 5; i++) b[i] = nmw_core_malloc(10, tag, NULL);
  for (int i = 0; i < 5; i++) nmw_core_free(b[i], tag, NULL);
  nmw_region_delta_t d;
  assert_int_equal(nmw_core_region_delta(&r, &d), NMW_OK);
  assert_int_equal(d.max_bytes, 50);
  assert_int_equal(d.max_blocks, 5);
  nmw_core_region_end(&r);
}

/* ---- strict peaks ---- */

#define PHASE_BLOCKS 200
#define PHASES 30

typedef struct phase_worker {
  nmw_tag_t strict_tag, plain_tag;
  uv_barrier_t *barrier;
  int index;
  int failed;
} phase_worker_t;

/* Phase p: every worker allocates PHASE_BLOCKS blocks of (index + 1) * (p + 1)
 * bytes of both tags, waits for all, frees them, waits again. The true peak is
 * the sum over workers at the highest phase. */
static void phase_run(void *arg) {
  phase_worker_t *w = arg;
  void *s[PHASE_BLOCKS], *q[PHASE_BLOCKS];
  for (int p = 0; p < PHASES; p++) {
    size_t size = (size_t)(w->index + 1) * (size_t)(p + 1);
    for (int i = 0; i < PHASE_BLOCKS; i++) {
      s[i] = nmw_core_malloc(size, w->strict_tag, NULL);
      q[i] = nmw_core_malloc(size, w->plain_tag, NULL);
      if (!s[i] || !q[i]) w->failed = 1;
    }
    uv_barrier_wait(w->barrier);
    for (int i = 0; i < PHASE_BLOCKS; i++) {
      nmw_core_free(s[i], w->strict_tag, NULL);
      nmw_core_free(q[i], w->plain_tag, NULL);
    }
    uv_barrier_wait(w->barrier);
  }
}

static void test_strict_peaks_exact(void **state) {
  (void)state;
  nmw_tag_t strict, plain;
  assert_int_equal(nmw_core_tag_register("t.peaks.strict", NMW_TAG_STRICT_PEAKS, &strict), NMW_OK);
  assert_int_equal(nmw_core_tag_flags(strict), NMW_TAG_STRICT_PEAKS);
  plain = test_new_tag("t.peaks.strict-plain");
  enum { N = 4 };
  uv_barrier_t barrier;
  assert_int_equal(uv_barrier_init(&barrier, N), 0);
  phase_worker_t w[N];
  uv_thread_t t[N];
  for (int i = 0; i < N; i++) {
    w[i] = (phase_worker_t){.strict_tag = strict, .plain_tag = plain, .barrier = &barrier, .index = i};
    assert_int_equal(uv_thread_create(&t[i], phase_run, &w[i]), 0);
  }
  for (int i = 0; i < N; i++) assert_int_equal(uv_thread_join(&t[i]), 0);
  uv_barrier_destroy(&barrier);
  for (int i = 0; i < N; i++) assert_false(w[i].failed);
  /* Highest phase: sum over workers of PHASE_BLOCKS * (i + 1) * PHASES bytes. */
  const int64_t peak_bytes = (int64_t)PHASE_BLOCKS * PHASES * (1 + 2 + 3 + 4);
  const int64_t peak_blocks = (int64_t)PHASE_BLOCKS * N;
  nmw_counters_t c = test_tag_counters(strict);
  EXPECT_COUNTS("strict", &c, (uint64_t)PHASE_BLOCKS * N * PHASES, (uint64_t)PHASE_BLOCKS * N * PHASES,
                0, (uint64_t)PHASE_BLOCKS * (PHASES * (PHASES + 1) / 2) * 10,
                (uint64_t)PHASE_BLOCKS * (PHASES * (PHASES + 1) / 2) * 10);
  EXPECT_PEAKS("strict, 4 threads", &c, peak_bytes, peak_blocks);
  assert_int_equal(c.peak_error_bytes, 0);
  assert_int_equal(c.peak_error_blocks, 0);
  /* The plain tag saw the same: within its bound. */
  nmw_counters_t p = test_tag_counters(plain);
  assert_int_equal(p.curr_bytes, 0);
  assert_true(p.peak_bytes <= peak_bytes + p.peak_error_bytes);
  assert_true(p.peak_bytes >= peak_bytes - p.peak_error_bytes);
  assert_true(p.peak_blocks >= peak_blocks - p.peak_error_blocks);

  /* Strict peaks are chosen at registration: not changed by set_flags, and a
   * registration with the other value conflicts. */
  assert_int_equal(nmw_core_tag_set_flags(strict, 0), NMW_EINVAL);
  assert_int_equal(nmw_core_tag_set_flags(strict, NMW_TAG_STRICT_PEAKS | NMW_TAG_EXTERNAL), NMW_OK);
  assert_int_equal(nmw_core_tag_set_flags(strict, NMW_TAG_STRICT_PEAKS), NMW_OK);
  assert_int_equal(nmw_core_tag_set_flags(plain, NMW_TAG_STRICT_PEAKS), NMW_EINVAL);
  nmw_tag_t again;
  assert_int_equal(nmw_core_tag_register("t.peaks.strict", 0, &again), NMW_ECONFLICT);
  assert_int_equal(again, strict);
}

/* A strict tag's blocks through every path: realloc in place and moving, calloc,
 * aligned, free of a cached-size block; counts and the peak stay exact and the
 * block keeps its strictness across reallocs (its free still lowers the tag). */
static void test_strict_paths(void **state) {
  (void)state;
  nmw_tag_t tag;
  assert_int_equal(nmw_core_tag_register("t.peaks.strict-paths", NMW_TAG_STRICT_PEAKS, &tag), NMW_OK);
  void *a = nmw_core_malloc(40, tag, NULL);
  void *b = nmw_core_calloc(3, 10, tag, NULL);
  void *c = nmw_core_aligned_alloc(64, 100, tag, NULL);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(c);
  a = nmw_core_realloc(a, 44, tag, NULL);   /* same class */
  a = nmw_core_realloc(a, 2000, tag, NULL); /* across the cache's sizes */
  b = nmw_core_realloc(b, 500, tag, NULL);
  nmw_counters_t k = test_tag_counters(tag);
  assert_int_equal(k.curr_bytes, 2000 + 500 + 100);
  EXPECT_PEAKS("strict paths", &k, 2600, 3);
  nmw_core_free(a, tag, NULL);
  nmw_core_free(b, NMW_ANY_TAG, NULL);
  nmw_core_free(c, tag, NULL);
  k = test_tag_counters(tag);
  assert_int_equal(k.curr_bytes, 0);
  assert_int_equal(k.curr_blocks, 0);
  /* The tag's folded value is the exact current value. */
  int64_t bytes, blocks;
  nmw__current(tag, &bytes, &blocks);
  assert_int_equal(bytes, 0);
  assert_int_equal(blocks, 0);
  nmw_core_reset_peak(tag);
  void *d = nmw_core_malloc(8, tag, NULL);
  k = test_tag_counters(tag);
  EXPECT_PEAKS("strict after reset", &k, 8, 1);
  nmw_core_free(d, tag, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_one_thread_exact),
      cmocka_unit_test(test_peak_bound_2_threads),
      cmocka_unit_test(test_peak_bound_4_threads),
      cmocka_unit_test(test_regions_during_growth),
      cmocka_unit_test(test_strict_peaks_exact),
      cmocka_unit_test(test_strict_paths),
  };
  return cmocka_run_group_tests_name("peaks", tests, NULL, NULL);
}
