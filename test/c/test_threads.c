/*
 * test_threads.c: counting across threads.
 *
 * - Four threads allocate under a shared tag and their own, at a shared site
 *   and their own, and hand half their blocks to the next thread through a
 *   mutex-protected queue; that thread frees them. After the join every
 *   per-tag and per-site count must be exact.
 * - Threads that allocate and exit, leaving the main thread to free their
 *   blocks: the counts of dead threads' shards must stay right, and their
 *   shards must be recycled rather than piling up.
 *
 * cmocka's assertions are not thread-safe, so the workers only record errors;
 * the main thread asserts after the join.
 */
#include "test_util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

enum {
  WORKERS = 4,
  OPS_PER_WORKER = 120000,
  QUEUE_CAP = 1 << 17, /* above the blocks one worker ever hands on */
  LOCAL_KEEP = 64,     /* blocks a worker holds a while before freeing them itself */
};

static nmw_site_t *shared_site(void) { return NMW_SITE(); }
static nmw_site_t *worker_site0(void) { return NMW_SITE(); }
static nmw_site_t *worker_site1(void) { return NMW_SITE(); }
static nmw_site_t *worker_site2(void) { return NMW_SITE(); }
static nmw_site_t *worker_site3(void) { return NMW_SITE(); }
static nmw_site_t *consumer_site(void) { return NMW_SITE(); }

/* A ring of block pointers; the mutex makes the hand-over a real
 * happens-before edge between the allocating and the freeing thread. */
typedef struct queue {
  uv_mutex_t lock;
  void **items;
  size_t head, count;
} queue_t;

static int queue_push(queue_t *q, void *p) {
  int ok = 0;
  uv_mutex_lock(&q->lock);
  if (q->count < QUEUE_CAP) {
    q->items[(q->head + q->count) % QUEUE_CAP] = p;
    q->count++;
    ok = 1;
  }
  uv_mutex_unlock(&q->lock);
  return ok;
}

static void *queue_pop(queue_t *q) {
  void *p = NULL;
  uv_mutex_lock(&q->lock);
  if (q->count > 0) {
    p = q->items[q->head];
    q->head = (q->head + 1) % QUEUE_CAP;
    q->count--;
  }
  uv_mutex_unlock(&q->lock);
  return p;
}

typedef struct worker {
  int index;
  nmw_tag_t tags[2]; /* 0: shared, 1: own */
  nmw_site_t *sites[2]; /* 0: shared, 1: own */
  queue_t inbox;
  struct worker *next;
  /* Expected counts of the blocks this worker allocated, per [tag][site]. */
  /* Every block is freed by the end, so bytes freed (by realloc shrinkage and
   * by free) must equal bytes allocated: no separate count is needed. */
  uint64_t allocs[2][2], reallocs[2][2], bytes_allocated[2][2];
  uint64_t handed, freed_here, received;
  uint64_t errors;
  char first_error[160];
} worker_t;

static atomic_int producers_done;

static void worker_error(worker_t *w, const char *what, const void *p) {
  if (w->errors++ == 0)
    snprintf(w->first_error, sizeof w->first_error, "worker %d: %s (%p)", w->index, what, p);
}

/* Blocks carry their pattern in every byte; a 0-byte block has none. */
static void free_checked(worker_t *w, void *p, nmw_site_t *site) {
  size_t size = nmw_core_block_size(p);
  unsigned char *b = p;
  if (size > 0 && b[0] != b[size - 1]) worker_error(w, "block contents changed", p);
  if (nmw_core_block_tag(p) == NMW_ANY_TAG) worker_error(w, "block has no tag", p);
  nmw_core_free(p, NMW_ANY_TAG, site);
}

static void drain_inbox(worker_t *w, int limit) {
  for (int i = 0; i < limit; i++) {
    void *p = queue_pop(&w->inbox);
    if (!p) return;
    w->received++;
    free_checked(w, p, consumer_site());
  }
}

static void worker_run(void *arg) {
  worker_t *w = arg;
  test_rng_t rng = {UINT64_C(0xC0FFEE) + (uint64_t)w->index};
  void *keep[LOCAL_KEEP] = {0};
  for (int op = 0; op < OPS_PER_WORKER; op++) {
    int t = (int)test_rng_below(&rng, 2);
    int s = (int)test_rng_below(&rng, 2);
    size_t size = test_rng_below(&rng, 50) == 0 ? 8192 : (size_t)test_rng_below(&rng, 512);
    unsigned char pattern = (unsigned char)(op * 31 + w->index);
    unsigned char *p;
    switch (op % 3) {
      case 0: p = nmw_core_malloc(size, w->tags[t], w->sites[s]); break;
      case 1: p = nmw_core_calloc(1, size, w->tags[t], w->sites[s]); break;
      default: p = nmw_core_aligned_alloc(64, size, w->tags[t], w->sites[s]); break;
    }
    if (!p) {
      worker_error(w, "allocation failed", NULL);
      continue;
    }
    w->allocs[t][s]++;
    w->bytes_allocated[t][s] += size;
    memset(p, pattern, size);
    if (test_rng_below(&rng, 8) == 0) {
      /* Reallocs stay at the allocating site, as the model test does. */
      size_t new_size = (size_t)test_rng_below(&rng, 1024) + 1;
      unsigned char *q = nmw_core_realloc(p, new_size, NMW_ANY_TAG, w->sites[s]);
      if (!q) {
        worker_error(w, "realloc failed", p);
      } else {
        w->reallocs[t][s]++;
        if (new_size > size) w->bytes_allocated[t][s] += new_size - size;
        memset(q, pattern, new_size);
        p = q;
      }
    }
    if (op & 1) {
      if (queue_push(&w->next->inbox, p))
        w->handed++;
      else
        free_checked(w, p, w->sites[s]);
    } else {
      /* Hold it a while, freeing whatever held the slot before. */
      int slot = (int)test_rng_below(&rng, LOCAL_KEEP);
      if (keep[slot]) {
        free_checked(w, keep[slot], w->sites[1 - s]);
        w->freed_here++;
      }
      keep[slot] = p;
    }
    drain_inbox(w, 2);
  }
  for (int i = 0; i < LOCAL_KEEP; i++)
    if (keep[i]) {
      free_checked(w, keep[i], NULL);
      w->freed_here++;
    }
  atomic_fetch_add(&producers_done, 1);
  /* Once every producer is done, whatever is in the inbox is the rest. */
  for (;;) {
    int done = atomic_load(&producers_done);
    drain_inbox(w, 1 << 30);
    if (done == WORKERS) {
      drain_inbox(w, 1 << 30);
      break;
    }
    uv_sleep(1);
  }
}

static void test_cross_thread_frees(void **state) {
  (void)state;
  static worker_t workers[WORKERS];
  uv_thread_t threads[WORKERS];
  nmw_site_t *own_sites[WORKERS] = {worker_site0(), worker_site1(), worker_site2(),
                                    worker_site3()};
  nmw_tag_t shared = test_new_tag("t.threads.shared");
  char name[48];
  nmw_counters_t total_before = test_total_counters();
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  atomic_store(&producers_done, 0);
  for (int i = 0; i < WORKERS; i++) {
    worker_t *w = &workers[i];
    memset(w, 0, sizeof *w);
    w->index = i;
    snprintf(name, sizeof name, "t.threads.own%d", i);
    w->tags[0] = shared;
    w->tags[1] = test_new_tag(name);
    w->sites[0] = shared_site();
    w->sites[1] = own_sites[i];
    w->next = &workers[(i + 1) % WORKERS];
    assert_int_equal(uv_mutex_init(&w->inbox.lock), 0);
    w->inbox.items = calloc(QUEUE_CAP, sizeof(void *));
    assert_non_null(w->inbox.items);
  }
  for (int i = 0; i < WORKERS; i++)
    assert_int_equal(uv_thread_create(&threads[i], worker_run, &workers[i]), 0);
  for (int i = 0; i < WORKERS; i++) assert_int_equal(uv_thread_join(&threads[i]), 0);

  uint64_t handed = 0, received = 0;
  uint64_t all_allocs = 0, all_reallocs = 0, all_bytes = 0;
  /* The shared row (shared site, shared tag) sums all workers. */
  uint64_t sh_allocs = 0, sh_reallocs = 0, sh_bytes = 0;
  uint64_t tag_allocs = 0, tag_reallocs = 0, tag_bytes = 0;
  for (int i = 0; i < WORKERS; i++) {
    worker_t *w = &workers[i];
    if (w->errors) print_error("%s\n", w->first_error);
    assert_int_equal(w->errors, 0);
    assert_int_equal(w->inbox.count, 0);
    handed += w->handed;
    received += w->received;
    for (int t = 0; t < 2; t++)
      for (int s = 0; s < 2; s++) {
        all_allocs += w->allocs[t][s];
        all_reallocs += w->reallocs[t][s];
        all_bytes += w->bytes_allocated[t][s];
      }
    /* Own tag: its rows at the shared site and at the worker's site. */
    uint64_t own_allocs = w->allocs[1][0] + w->allocs[1][1];
    uint64_t own_reallocs = w->reallocs[1][0] + w->reallocs[1][1];
    uint64_t own_bytes = w->bytes_allocated[1][0] + w->bytes_allocated[1][1];
    nmw_counters_t c = test_tag_counters(w->tags[1]);
    EXPECT_COUNTS("own tag", &c, own_allocs, own_allocs, own_reallocs, own_bytes, own_bytes);
    EXPECT_ROW(w->sites[1], w->tags[1], w->allocs[1][1], w->allocs[1][1], w->reallocs[1][1],
               w->bytes_allocated[1][1], w->bytes_allocated[1][1]);
    EXPECT_ROW(w->sites[0], w->tags[1], w->allocs[1][0], w->allocs[1][0], w->reallocs[1][0],
               w->bytes_allocated[1][0], w->bytes_allocated[1][0]);
    /* Shared tag at the worker's own site. */
    EXPECT_ROW(w->sites[1], shared, w->allocs[0][1], w->allocs[0][1], w->reallocs[0][1],
               w->bytes_allocated[0][1], w->bytes_allocated[0][1]);
    sh_allocs += w->allocs[0][0];
    sh_reallocs += w->reallocs[0][0];
    sh_bytes += w->bytes_allocated[0][0];
    tag_allocs += w->allocs[0][0] + w->allocs[0][1];
    tag_reallocs += w->reallocs[0][0] + w->reallocs[0][1];
    tag_bytes += w->bytes_allocated[0][0] + w->bytes_allocated[0][1];
    uv_mutex_destroy(&w->inbox.lock);
    free(w->inbox.items);
  }
  assert_int_equal(handed, received);
  assert_true(handed > (uint64_t)WORKERS * OPS_PER_WORKER / 4); /* many cross-thread frees */
  assert_int_equal(all_allocs, (uint64_t)WORKERS * OPS_PER_WORKER);
  EXPECT_ROW(shared_site(), shared, sh_allocs, sh_allocs, sh_reallocs, sh_bytes, sh_bytes);
  EXPECT_NO_ROW(consumer_site(), shared); /* frees never create rows */
  nmw_counters_t c = test_tag_counters(shared);
  EXPECT_COUNTS("shared tag", &c, tag_allocs, tag_allocs, tag_reallocs, tag_bytes, tag_bytes);
  nmw_counters_t total_after = test_total_counters();
  nmw_counters_t d = test_counters_sub(&total_after, &total_before);
  EXPECT_COUNTS("total delta", &d, all_allocs, all_allocs, all_reallocs, all_bytes, all_bytes);
  EXPECT_MISUSE_DELTA(misuse, -1);
}

/* ---- threads that exit before their blocks are freed ---- */

enum { DEAD_BLOCKS = 1000, DEAD_FREED_BY_THREAD = 100, DEAD_ROUNDS = 20 };

static nmw_site_t *dead_site(void) { return NMW_SITE(); }

typedef struct dead_job {
  nmw_tag_t tag;
  void *blocks[DEAD_BLOCKS];
  int failed;
} dead_job_t;

/* Allocates sizes 1..DEAD_BLOCKS, frees the first DEAD_FREED_BY_THREAD itself,
 * and exits with the rest still live. */
static void dead_thread_run(void *arg) {
  dead_job_t *job = arg;
  for (int i = 0; i < DEAD_BLOCKS; i++) {
    job->blocks[i] = nmw_core_malloc((size_t)i + 1, job->tag, dead_site());
    if (!job->blocks[i]) job->failed = 1;
  }
  for (int i = 0; i < DEAD_FREED_BY_THREAD; i++) nmw_core_free(job->blocks[i], job->tag, NULL);
}

static void test_blocks_of_dead_threads(void **state) {
  (void)state;
  static dead_job_t job;
  nmw_tag_t tag = test_new_tag("t.threads.dead");
  const uint64_t all = (uint64_t)DEAD_BLOCKS * (DEAD_BLOCKS + 1) / 2;
  const uint64_t by_thread = (uint64_t)DEAD_FREED_BY_THREAD * (DEAD_FREED_BY_THREAD + 1) / 2;
  /* Create the first worker shard, then see that later threads reuse it. */
  uint32_t shards_before = 0;
  for (int round = 0; round < DEAD_ROUNDS; round++) {
    memset(&job, 0, sizeof job);
    job.tag = tag;
    uv_thread_t thread;
    assert_int_equal(uv_thread_create(&thread, dead_thread_run, &job), 0);
    assert_int_equal(uv_thread_join(&thread), 0);
    assert_false(job.failed);
    if (round == 0) shards_before = nmw_core_shard_count();
    uint64_t r = (uint64_t)round;
    nmw_counters_t c = test_tag_counters(tag);
    EXPECT_COUNTS("thread gone, blocks live", &c, (r + 1) * DEAD_BLOCKS,
                  r * DEAD_BLOCKS + DEAD_FREED_BY_THREAD, 0, (r + 1) * all, r * all + by_thread);
    EXPECT_ROW(dead_site(), tag, (r + 1) * DEAD_BLOCKS, r * DEAD_BLOCKS + DEAD_FREED_BY_THREAD,
               0, (r + 1) * all, r * all + by_thread);
    for (int i = DEAD_FREED_BY_THREAD; i < DEAD_BLOCKS; i++) {
      assert_int_equal(nmw_core_block_size(job.blocks[i]), i + 1);
      nmw_core_free(job.blocks[i], tag, NULL);
    }
    c = test_tag_counters(tag);
    EXPECT_COUNTS("freed by main", &c, (r + 1) * DEAD_BLOCKS, (r + 1) * DEAD_BLOCKS, 0,
                  (r + 1) * all, (r + 1) * all);
  }
  /* Twenty threads one after another: shards are recycled, not one per thread. */
  assert_true(nmw_core_shard_count() <= shards_before + 1);
}

/* Peaks with one thread working at a time, even if it is a different thread
 * each time: a thread allocates and exits, main frees. */
static void test_peaks_across_sequential_threads(void **state) {
  (void)state;
  static dead_job_t job;
  nmw_tag_t tag = test_new_tag("t.threads.dead-peaks");
  const int64_t all = (int64_t)DEAD_BLOCKS * (DEAD_BLOCKS + 1) / 2;
  for (int round = 0; round < 3; round++) {
    memset(&job, 0, sizeof job);
    job.tag = tag;
    uv_thread_t thread;
    assert_int_equal(uv_thread_create(&thread, dead_thread_run, &job), 0);
    assert_int_equal(uv_thread_join(&thread), 0);
    assert_false(job.failed);
    for (int i = DEAD_FREED_BY_THREAD; i < DEAD_BLOCKS; i++)
      nmw_core_free(job.blocks[i], tag, NULL);
    /* The tag never held more than one thread's DEAD_BLOCKS blocks. */
    nmw_counters_t c = test_tag_counters(tag);
    char what[48];
    snprintf(what, sizeof what, "sequential threads, round %d", round);
    EXPECT_PEAKS(what, &c, all, DEAD_BLOCKS);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cross_thread_frees),
      cmocka_unit_test(test_blocks_of_dead_threads),
      cmocka_unit_test(test_peaks_across_sequential_threads),
  };
  return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
