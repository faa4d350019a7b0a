/*
 * test_stress.c: the core under many threads at once, for ThreadSanitizer
 * (make run-tsan) as much as for its exact counts (issue 7, item 4).
 *
 * Four "environment" threads each open an owner and, round after round, allocate,
 * reallocate and free tagged blocks (plain and external-tagged), hand blocks to a
 * neighbour to free on its thread, make explicit external adjustments, flush them
 * through the owner's hook, register finalizer records and run, cancel or leave
 * them; then tear the owner down and open a new one in a second phase, so slots
 * are reused while other threads are still tearing theirs down. Two reader
 * threads meanwhile read everything that is shared: audits of every owner, tag
 * counters, finalizer statistics and live rows, the external globals.
 */
#include "test_util.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

enum { ENV_THREADS = 4, READERS = 2, PHASES = 2, ROUNDS = 1500, BATCH = 8 };

static nmw_site_t *site_stress(void) { return NMW_SITE(); }

static nmw_tag_t plain_tag, ext_tag, fin_tag;

/* Blocks handed from thread i to thread (i + 1) % ENV_THREADS, which frees them. */
typedef struct mailbox {
  uv_mutex_t lock;
  void *blocks[ROUNDS * BATCH];
  size_t count;
} mailbox_t;
static mailbox_t boxes[ENV_THREADS];

static _Atomic bool stop_readers;
static _Atomic uint64_t finalizers_run;

typedef struct env_thread {
  int index;
  nmw_owner_t owner;
  _Atomic uint64_t wakes;
  int64_t adjusted; /* the sum of what the flush hook reported, this phase */
  uint64_t flushes;
} env_thread_t;
static env_thread_t envs[ENV_THREADS];

static int adjust_cb(void *ctx, int64_t delta) {
  ((env_thread_t *)ctx)->adjusted += delta;
  return 0;
}
static void wake_hook(void *data) { atomic_fetch_add(&((env_thread_t *)data)->wakes, 1); }
static void flush_hook(void *data, int64_t min_growth) {
  env_thread_t *e = data;
  nmw_core_external_flush(e->owner, adjust_cb, e, min_growth);
}

static void fin_cb(void *env, void *data, void *hint) {
  (void)env;
  (void)data;
  (void)hint;
  atomic_fetch_add(&finalizers_run, 1);
}

static void post(int to, void *p) {
  uv_mutex_lock(&boxes[to].lock);
  boxes[to].blocks[boxes[to].count++] = p;
  uv_mutex_unlock(&boxes[to].lock);
}

static void drain(int me) {
  uv_mutex_lock(&boxes[me].lock);
  size_t n = boxes[me].count;
  boxes[me].count = 0;
  void *local[ROUNDS * BATCH];
  memcpy(local, boxes[me].blocks, n * sizeof *local);
  uv_mutex_unlock(&boxes[me].lock);
  for (size_t i = 0; i < n; i++) nmw_core_free(local[i], NMW_ANY_TAG, site_stress());
}

static void env_main(void *arg) {
  env_thread_t *e = arg;
  int next = (e->index + 1) % ENV_THREADS;
  static _Thread_local int keys[ROUNDS];
  for (int phase = 0; phase < PHASES; phase++) {
    nmw_owner_hooks_t hooks = {wake_hook, flush_hook, e};
    assert_int_equal(nmw_core_owner_open(&hooks, &e->owner), NMW_OK);
    e->adjusted = 0;
    for (int round = 0; round < ROUNDS; round++) {
      void *mine[BATCH];
      for (int k = 0; k < BATCH; k++) {
        nmw_tag_t tag = (k & 1) ? ext_tag : plain_tag;
        mine[k] = nmw_core_malloc(16 + (size_t)k * 8, tag, site_stress());
        assert_non_null(mine[k]);
      }
      for (int k = 0; k < BATCH; k += 2) {
        mine[k] = nmw_core_realloc(mine[k], 200, plain_tag, site_stress());
        assert_non_null(mine[k]);
      }
      /* Half freed here, half by the neighbour. */
      for (int k = 0; k < BATCH; k++) {
        if (k < BATCH / 2)
          nmw_core_free(mine[k], NMW_ANY_TAG, site_stress());
        else
          post(next, mine[k]);
      }
      assert_int_equal(nmw_core_external_adjust(NULL, ext_tag, 4096, site_stress()), NMW_OK);
      assert_int_equal(nmw_core_external_adjust(NULL, ext_tag, -4096, site_stress()), NMW_OK);

      nmw_fin_reg_t r = {e->owner, NMW_FIN_WRAP, fin_tag, site_stress(), fin_cb,
                         &keys[round], NULL, &keys[round], NULL, NULL};
      nmw_fin_id_t id = 0;
      assert_int_equal(nmw_core_fin_register(&r, &id), NMW_OK);
      if (round % 3 == 0) {
        nmw_fin_call_t call;
        assert_int_equal(nmw_core_fin_begin(id, &call), NMW_OK);
        call.cb(NULL, &keys[round], call.hint); /* Node passes the data */
        nmw_core_fin_end(id, 10, false);
      } else if (round % 3 == 1) {
        /* By id, on the first phase: cancelling by key turns the thread's wrap
         * index on, and later registrations enter it. */
        if (phase == 0)
          assert_true(nmw_core_fin_cancel(id));
        else
          assert_true(nmw_core_fin_cancel_key(e->owner, NMW_FIN_WRAP, &keys[round], fin_tag));
      } /* else: left live until the teardown */
      if (round % 64 == 0) {
        nmw_core_external_flush(e->owner, adjust_cb, e, 0);
        drain(e->index);
      }
    }
    nmw_core_external_flush(e->owner, adjust_cb, e, 0);
    nmw_owner_audit_t audit;
    assert_int_equal(nmw_core_owner_audit(e->owner, &audit), NMW_OK);
    assert_int_equal(audit.off_thread_calls, 0);
    for (size_t t = 0; t < audit.ntags; t++)
      if (audit.tags[t].tag == ext_tag) {
        assert_int_equal(audit.tags[t].explicit_owed, 0);
        assert_int_equal(audit.tags[t].explicit_calls, 2 * ROUNDS);
        assert_int_equal(audit.tags[t].below_zero, 0);
      }
    nmw_core_owner_teardown(e->owner);
    drain(e->index);
  }
}

static void reader_main(void *arg) {
  (void)arg;
  nmw_owner_audit_t *audit = malloc(sizeof *audit);
  nmw_fin_tag_stats_t *rows = malloc(NMW_TAG_MAX * sizeof *rows);
  nmw_fin_live_row_t live[64];
  assert_non_null(audit);
  assert_non_null(rows);
  while (!atomic_load(&stop_readers)) {
    nmw_owner_t ids[NMW_OWNER_MAX];
    size_t n = nmw_core_owner_list(ids, NMW_OWNER_MAX);
    for (size_t i = 0; i < n; i++) (void)nmw_core_owner_audit(ids[i], audit);
    nmw_fin_stats_t total;
    (void)nmw_core_fin_tag_stats(0, true, rows, NMW_TAG_MAX, &total);
    size_t nl = nmw_core_fin_live(0, true, fin_tag, UINT64_MAX, false, live, 64);
    for (size_t i = 0; i < nl; i++) free(live[i].stack);
    nmw_ext_global_t g;
    nmw_core_external_global(&g);
    nmw_counters_t c = test_tag_counters(ext_tag);
    (void)c;
    nmw_fin_global_t fg;
    nmw_core_fin_global(&fg);
  }
  free(rows);
  free(audit);
}

static void test_stress_threads(void **state) {
  (void)state;
  plain_tag = test_new_tag("stress.plain");
  assert_int_equal(nmw_core_tag_register("stress.ext", NMW_TAG_EXTERNAL, &ext_tag), NMW_OK);
  fin_tag = test_new_tag("stress.fin");
  /* A threshold small enough that the hooks run often. */
  nmw_core_external_set_threshold(512);
  for (int i = 0; i < ENV_THREADS; i++) uv_mutex_init(&boxes[i].lock);

  uv_thread_t readers[READERS], threads[ENV_THREADS];
  for (int i = 0; i < READERS; i++) assert_int_equal(uv_thread_create(&readers[i], reader_main, NULL), 0);
  for (int i = 0; i < ENV_THREADS; i++) {
    envs[i].index = i;
    assert_int_equal(uv_thread_create(&threads[i], env_main, &envs[i]), 0);
  }
  for (int i = 0; i < ENV_THREADS; i++) uv_thread_join(&threads[i]);
  atomic_store(&stop_readers, true);
  for (int i = 0; i < READERS; i++) uv_thread_join(&readers[i]);
  /* Blocks posted after a neighbour's last drain. */
  for (int i = 0; i < ENV_THREADS; i++) drain(i);

  const uint64_t per_phase = (uint64_t)ENV_THREADS * ROUNDS;
  const uint64_t runs = (uint64_t)ENV_THREADS * PHASES * ((ROUNDS + 2) / 3);
  /* Every block freed: BATCH/2 plain and BATCH/2 external per round, the even ones
   * reallocated (to the plain tag) once. */
  nmw_counters_t p = test_tag_counters(plain_tag), x = test_tag_counters(ext_tag);
  assert_int_equal(p.curr_blocks, 0);
  assert_int_equal(p.curr_bytes, 0);
  assert_int_equal(x.curr_blocks, 0);
  assert_int_equal(x.curr_bytes, 0);
  assert_int_equal(p.allocs, per_phase * PHASES * (BATCH / 2));
  assert_int_equal(x.allocs, per_phase * PHASES * (BATCH / 2));
  assert_int_equal(p.reallocs, per_phase * PHASES * (BATCH / 2));
  assert_int_equal(p.frees + x.frees, per_phase * PHASES * BATCH);

  nmw_fin_tag_stats_t rows[NMW_TAG_MAX];
  nmw_fin_stats_t total;
  size_t n = nmw_core_fin_tag_stats(0, true, rows, NMW_TAG_MAX, &total);
  bool found = false;
  for (size_t i = 0; i < n; i++) {
    if (rows[i].tag != fin_tag) continue;
    found = true;
    assert_int_equal(rows[i].s.registered, per_phase * PHASES);
    assert_int_equal(rows[i].s.finalized_gc, runs);
    assert_int_equal(rows[i].s.cancelled, (uint64_t)ENV_THREADS * PHASES * ((ROUNDS + 1) / 3));
    assert_int_equal(rows[i].s.live + rows[i].s.never_run,
                     per_phase * PHASES - runs - (uint64_t)ENV_THREADS * PHASES * ((ROUNDS + 1) / 3));
  }
  assert_true(found);
  assert_int_equal(atomic_load(&finalizers_run), runs);
  nmw_core_external_set_threshold(NMW_EXT_DEFAULT_THRESHOLD);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stress_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
