/*
 * test_finalizers.c: the finalizer audit's record table (src/core/finalizers.c),
 * driven the way the addon's twins and trampoline drive it: register before the
 * napi call, begin/end around the author's finalizer, cancel by key or ref.
 */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

static nmw_site_t *site_a(void) { return NMW_SITE(); }
static nmw_site_t *site_b(void) { return NMW_SITE(); }
static nmw_site_t *site_late(void) { return NMW_SITE(); }
static nmw_site_t *site_twice(void) { return NMW_SITE(); }

static _Atomic int calls; /* atomic: the threaded test runs finalizers on four threads */
static _Thread_local void *last_data, *last_hint;
static void count_cb(void *env, void *data, void *hint) {
  (void)env;
  calls++;
  last_data = data;
  last_hint = hint;
}

static nmw_owner_t open_owner(void) {
  nmw_owner_t owner = 0;
  assert_int_equal(nmw_core_owner_open(NULL, &owner), NMW_OK);
  return owner;
}

static nmw_fin_id_t reg(nmw_owner_t owner, nmw_fin_kind_t kind, nmw_tag_t tag, nmw_site_t *site,
                        const void *key) {
  /* A wrap's data is its native object, which is also its key. */
  void *data = kind == NMW_FIN_WRAP ? (void *)(uintptr_t)key : (void *)0x1234;
  nmw_fin_reg_t r = {owner, kind, tag, site, count_cb, data, (void *)0x5678, key, NULL, NULL};
  nmw_fin_id_t id = 0;
  assert_int_equal(nmw_core_fin_register(&r, &id), NMW_OK);
  assert_true(id != 0);
  assert_true(id < (UINT64_C(1) << 53));
  return id;
}

/* Runs a record's finalizer as the addon's trampoline does (Node passes the
 * data; here the test's own, as reg() made it); NMW_OK or not. */
static int run_with(nmw_fin_id_t id, void *data, uint64_t duration_ns) {
  nmw_fin_call_t call;
  int rc = nmw_core_fin_begin(id, &call);
  if (rc != NMW_OK) return rc;
  if (call.cb) call.cb(NULL, data, call.hint);
  nmw_core_fin_end_call(&call, duration_ns, false);
  return NMW_OK;
}

static int run(nmw_fin_id_t id, uint64_t duration_ns) {
  return run_with(id, (void *)0x1234, duration_ns);
}

/* The counters of one (owner, tag). */
static nmw_fin_stats_t tag_stats(nmw_owner_t owner, nmw_tag_t tag) {
  nmw_fin_tag_stats_t rows[64];
  size_t n = nmw_core_fin_tag_stats(owner, false, rows, 64, NULL);
  assert_true(n <= 64);
  for (size_t i = 0; i < n; i++)
    if (rows[i].tag == tag) return rows[i].s;
  nmw_fin_stats_t none;
  memset(&none, 0, sizeof none);
  return none;
}

#define EXPECT_STATE(s, reg_, gc_, td_, cancelled_, live_, never_) \
  do {                                                             \
    assert_int_equal((s).registered, (reg_));                      \
    assert_int_equal((s).finalized_gc, (gc_));                     \
    assert_int_equal((s).finalized_teardown, (td_));               \
    assert_int_equal((s).cancelled, (cancelled_));                 \
    assert_int_equal((s).live, (live_));                           \
    assert_int_equal((s).never_run, (never_));                     \
  } while (0)

static void test_gc_then_teardown(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("f.lifecycle");
  nmw_owner_t owner = open_owner();
  nmw_fin_id_t ids[5];
  for (int i = 0; i < 5; i++) ids[i] = reg(owner, NMW_FIN_WRAP, tag, site_a(), &ids[i]);
  EXPECT_STATE(tag_stats(owner, tag), 5, 0, 0, 0, 5, 0);

  calls = 0;
  assert_int_equal(run_with(ids[0], &ids[0], 10), NMW_OK);
  assert_int_equal(run_with(ids[1], &ids[1], 10), NMW_OK);
  assert_int_equal(calls, 2);
  assert_ptr_equal(last_data, &ids[1]);
  assert_ptr_equal(last_hint, (void *)0x5678);
  EXPECT_STATE(tag_stats(owner, tag), 5, 2, 0, 0, 3, 0);

  /* The environment's cleanup hook ran: later finalizers ran at teardown. */
  nmw_core_owner_teardown(owner);
  assert_int_equal(run(ids[2], 10), NMW_OK);
  assert_int_equal(run(ids[3], 10), NMW_OK);
  nmw_fin_stats_t s = tag_stats(owner, tag);
  EXPECT_STATE(s, 5, 2, 2, 0, 1, 0);
  assert_true(s.oldest_ns != 0);

  /* The process exits for good: what is live never ran. */
  nmw_core_fin_set_exit(true);
  EXPECT_STATE(tag_stats(owner, tag), 5, 2, 2, 0, 0, 1);
  nmw_core_fin_set_exit(false);
  assert_int_equal(run(ids[4], 10), NMW_OK);
  s = tag_stats(owner, tag);
  EXPECT_STATE(s, 5, 2, 3, 0, 0, 0);
  assert_int_equal(s.oldest_ns, 0);
  assert_int_equal(s.total_ns, 50);
  assert_int_equal(calls, 5);
}

static void test_cancel_paths(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("f.cancel");
  nmw_tag_t other = test_new_tag("f.cancel.other");
  nmw_owner_t owner = open_owner();
  int native_a, native_b, env_key;
  int ref_a;
  nmw_fin_id_t wrap_a = reg(owner, NMW_FIN_WRAP, tag, site_a(), &native_a);
  nmw_fin_id_t wrap_b = reg(owner, NMW_FIN_WRAP, tag, site_a(), &native_b);
  nmw_fin_id_t fin = reg(owner, NMW_FIN_FINALIZER, tag, site_b(), NULL);
  nmw_fin_id_t inst = reg(owner, NMW_FIN_INSTANCE_DATA, other, site_b(), &env_key);
  nmw_core_fin_set_ref(fin, &ref_a);

  assert_int_equal(nmw_core_fin_find_key(owner, NMW_FIN_WRAP, &native_b), wrap_b);
  assert_int_equal(nmw_core_fin_find_key(owner, NMW_FIN_FINALIZER, &native_b), 0);
  assert_int_equal(nmw_core_fin_find_key(owner + 1, NMW_FIN_WRAP, &native_b), 0);
  /* remove_wrap */
  assert_true(nmw_core_fin_cancel_key(owner, NMW_FIN_WRAP, &native_a, tag));
  assert_false(nmw_core_fin_cancel_key(owner, NMW_FIN_WRAP, &native_a, tag));
  /* delete_reference */
  assert_true(nmw_core_fin_cancel_ref(&ref_a));
  assert_false(nmw_core_fin_cancel_ref(&ref_a));
  /* instance data replaced */
  assert_int_equal(nmw_core_fin_find_key(owner, NMW_FIN_INSTANCE_DATA, &env_key), inst);
  assert_true(nmw_core_fin_cancel_key(owner, NMW_FIN_INSTANCE_DATA, &env_key, NMW_ANY_TAG));
  EXPECT_STATE(tag_stats(owner, tag), 3, 0, 0, 2, 1, 0);
  EXPECT_STATE(tag_stats(owner, other), 1, 0, 0, 1, 0, 0);

  /* A cancelled record's trampoline would be a double finalization. */
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  calls = 0;
  assert_int_equal(run(wrap_a, 1), NMW_ENOENT);
  assert_int_equal(calls, 0);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_DOUBLE_FINALIZE, 1, -1);

  /* A running record cannot be cancelled (its finalizer may delete its own ref). */
  int ref_b;
  nmw_core_fin_set_ref(wrap_b, &ref_b);
  nmw_fin_call_t call;
  assert_int_equal(nmw_core_fin_begin(wrap_b, &call), NMW_OK);
  assert_false(nmw_core_fin_cancel_ref(&ref_b));
  assert_false(nmw_core_fin_cancel_key(owner, NMW_FIN_WRAP, &native_b, tag));
  assert_false(nmw_core_fin_cancel(wrap_b));
  nmw_core_fin_end(wrap_b, 5, false);
  EXPECT_STATE(tag_stats(owner, tag), 3, 1, 0, 2, 0, 0);

  /* unregister: a napi call that failed leaves no trace. */
  nmw_fin_id_t failed = reg(owner, NMW_FIN_EXTERNAL, tag, site_a(), NULL);
  nmw_core_fin_unregister(failed);
  EXPECT_STATE(tag_stats(owner, tag), 3, 1, 0, 2, 0, 0);
  nmw_core_owner_teardown(owner);
}

static void test_cancel_prefers_tag(void **state) {
  (void)state;
  nmw_tag_t t1 = test_new_tag("f.prefer1");
  nmw_tag_t t2 = test_new_tag("f.prefer2");
  nmw_owner_t owner = open_owner();
  int native; /* one native object wrapped twice, under two tags */
  reg(owner, NMW_FIN_WRAP, t1, site_a(), &native);
  reg(owner, NMW_FIN_WRAP, t2, site_a(), &native);
  assert_true(nmw_core_fin_cancel_key(owner, NMW_FIN_WRAP, &native, t2));
  EXPECT_STATE(tag_stats(owner, t1), 1, 0, 0, 0, 1, 0);
  EXPECT_STATE(tag_stats(owner, t2), 1, 0, 0, 1, 0, 0);
  assert_true(nmw_core_fin_cancel_key(owner, NMW_FIN_WRAP, &native, t2)); /* falls back */
  EXPECT_STATE(tag_stats(owner, t1), 1, 0, 0, 1, 0, 0);
  nmw_core_owner_teardown(owner);
}

static void test_double_finalize_site(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("f.twice");
  nmw_owner_t owner = open_owner();
  nmw_fin_id_t id = reg(owner, NMW_FIN_EXTERNAL, tag, site_twice(), NULL);
  assert_int_equal(run(id, 3), NMW_OK);
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  calls = 0;
  assert_int_equal(run(id, 3), NMW_ENOENT);
  assert_int_equal(run(id, 3), NMW_ENOENT);
  assert_int_equal(calls, 0);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_DOUBLE_FINALIZE, 2, -1);
  /* The slot was not reused yet: the misuse is charged to the registering site. */
  assert_int_equal(test_misuse_at(site_twice(), NMW_MISUSE_DOUBLE_FINALIZE), 2);
  EXPECT_STATE(tag_stats(owner, tag), 1, 1, 0, 0, 0, 0);
  /* Ids that never existed. */
  assert_int_equal(run(0, 1), NMW_ENOENT);
  assert_int_equal(run(UINT64_C(0xfffff00000000), 1), NMW_ENOENT);
  nmw_core_owner_teardown(owner);
}

static void test_histogram(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("f.hist");
  nmw_owner_t owner = open_owner();
  const uint64_t durations[] = {0, 1, 2, 3, 4, 5, 1000, 5000000, (UINT64_C(1) << 39) + 1};
  const unsigned buckets[] = {0, 0, 1, 2, 2, 3, 10, 23, 40};
  uint64_t total = 0;
  for (size_t i = 0; i < sizeof durations / sizeof *durations; i++) {
    assert_int_equal(run(reg(owner, NMW_FIN_FINALIZER, tag, NULL, NULL), durations[i]), NMW_OK);
    total += durations[i];
  }
  nmw_fin_stats_t s = tag_stats(owner, tag);
  uint64_t want[NMW_FIN_HIST_BUCKETS] = {0};
  for (size_t i = 0; i < sizeof buckets / sizeof *buckets; i++) want[buckets[i]]++;
  for (int b = 0; b < NMW_FIN_HIST_BUCKETS; b++) assert_int_equal(s.hist[b], want[b]);
  assert_int_equal(s.max_ns, (UINT64_C(1) << 39) + 1);
  assert_int_equal(s.total_ns, total);
  assert_int_equal(s.finalized_gc, 9);
  nmw_core_owner_teardown(owner);
}

static void test_live_listing(void **state) {
  (void)state;
  nmw_tag_t a = test_new_tag("f.live.a");
  nmw_tag_t b = test_new_tag("f.live.b");
  nmw_owner_t owner = open_owner();
  nmw_fin_id_t ids[6];
  const nmw_tag_t tags[6] = {a, b, a, b, a, a};
  for (int i = 0; i < 6; i++) {
    ids[i] = reg(owner, i % 2 ? NMW_FIN_EXTERNAL : NMW_FIN_FINALIZER, tags[i],
                 i < 4 ? site_a() : site_b(), NULL);
    uv_sleep(2);
  }
  assert_true(nmw_core_fin_cancel(ids[2]));
  nmw_fin_live_row_t rows[16];
  size_t n = nmw_core_fin_live(owner, false, NMW_ANY_TAG, UINT64_MAX, false, rows, 16);
  assert_int_equal(n, 5);
  const int order[5] = {0, 1, 3, 4, 5};
  for (int i = 0; i < 5; i++) {
    assert_int_equal(rows[i].id, ids[order[i]]);
    assert_int_equal(rows[i].owner, owner);
    assert_int_equal(rows[i].tag, tags[order[i]]);
    if (i > 0) assert_true(rows[i].registered_ns > rows[i - 1].registered_ns);
  }
  assert_string_equal(rows[0].func, "site_a");
  assert_int_equal(rows[0].line, site_a()->line);
  assert_int_equal(rows[1].kind, NMW_FIN_EXTERNAL);
  assert_null(rows[0].stack);
  /* One tag, a limit, an age. */
  n = nmw_core_fin_live(owner, false, a, UINT64_MAX, false, rows, 2);
  assert_int_equal(n, 2);
  assert_int_equal(rows[0].id, ids[0]);
  assert_int_equal(rows[1].id, ids[4]);
  uint64_t cut = rows[1].registered_ns; /* ids[4] and older */
  n = nmw_core_fin_live(owner, false, NMW_ANY_TAG, cut, false, rows, 16);
  assert_int_equal(n, 4);
  /* Grouped by site. */
  nmw_fin_site_row_t sites[16];
  n = nmw_core_fin_live_sites(owner, false, sites, 16);
  assert_int_equal(n, 4); /* a: (finalizer, site_a), (finalizer, site_b), (external, site_b); b:
                             (external, site_a) x2 */
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) total += sites[i].count;
  assert_int_equal(total, 5);
  /* Stacks are copied for the caller. */
  char *stack = malloc(32);
  strcpy(stack, "at f (x.js:1:1)");
  nmw_fin_reg_t r = {owner, NMW_FIN_WRAP, b, site_b(), NULL, NULL, NULL, &stack, stack, NULL};
  nmw_fin_id_t with_stack;
  nmw_fin_global_t g0, g1;
  nmw_core_fin_global(&g0);
  assert_int_equal(nmw_core_fin_register(&r, &with_stack), NMW_OK);
  nmw_core_fin_global(&g1);
  assert_int_equal(g1.stack_bytes - g0.stack_bytes, strlen("at f (x.js:1:1)") + 1);
  n = nmw_core_fin_live(owner, false, b, UINT64_MAX, true, rows, 16);
  assert_int_equal(n, 3);
  assert_string_equal(rows[2].stack, "at f (x.js:1:1)");
  for (size_t i = 0; i < n; i++) free(rows[i].stack);
  assert_true(nmw_core_fin_cancel(with_stack));
  nmw_core_fin_global(&g1);
  assert_int_equal(g1.stack_bytes, g0.stack_bytes);
  nmw_core_owner_teardown(owner);
}

/* Churn: the table grows to the peak of live records, then is reused. */
static void test_bounded_memory(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("f.churn");
  nmw_owner_t owner = open_owner();
  enum { N = 50000 };
  nmw_fin_id_t *ids = malloc(N * sizeof *ids);
  static int natives[N];
  nmw_fin_global_t before, after;
  uint64_t meta_before = 0;
  for (int round = 0; round < 4; round++) {
    if (round == 3) {
      nmw_core_fin_global(&before);
      meta_before = test_overhead().metadata_bytes;
    }
    for (int i = 0; i < N; i++) ids[i] = reg(owner, NMW_FIN_WRAP, tag, site_a(), &natives[i]);
    for (int i = 0; i < N; i++) {
      if (i % 3 == 0)
        assert_true(nmw_core_fin_cancel_key(owner, NMW_FIN_WRAP, &natives[i], tag));
      else
        assert_int_equal(run(ids[i], 100), NMW_OK);
    }
  }
  nmw_core_fin_global(&after);
  assert_int_equal(after.total_bytes, before.total_bytes);
  assert_int_equal(after.capacity, before.capacity);
  assert_int_equal(test_overhead().metadata_bytes, meta_before);
  assert_true(after.capacity >= N && after.capacity < 2 * N + 8192);
  nmw_fin_stats_t s = tag_stats(owner, tag);
  const uint64_t cancelled = 4 * ((N + 2) / 3);
  EXPECT_STATE(s, 4 * N, 4 * N - cancelled, 0, cancelled, 0, 0);
  free(ids);
  nmw_core_owner_teardown(owner);
}

/* An environment gone for good (its slot reused): its late finalizers are misuse,
 * and its live records are orphaned once the new owner registers. */
static void test_after_teardown(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("f.late");
  nmw_owner_t old = open_owner();
  nmw_fin_id_t late = reg(old, NMW_FIN_EXTERNAL, tag, site_late(), NULL);
  nmw_fin_id_t orphan = reg(old, NMW_FIN_EXTERNAL, tag, site_late(), NULL);
  nmw_core_owner_teardown(old);
  /* Open (and close) owners until the old slot is reused. */
  nmw_owner_t fresh = 0;
  for (int i = 0; i < 2 * NMW_OWNER_MAX; i++) {
    fresh = open_owner();
    if ((fresh & 0xffu) == (old & 0xffu)) break;
    nmw_core_owner_teardown(fresh);
  }
  assert_int_equal(fresh & 0xffu, old & 0xffu);
  assert_int_equal(nmw_core_owner_state(old), NMW_OWNER_FREE);

  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  calls = 0;
  assert_int_equal(run(late, 7), NMW_OK); /* still called: the author's memory is freed */
  assert_int_equal(calls, 1);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_FINALIZE_AFTER_TEARDOWN, 1, -1);
  assert_int_equal(test_misuse_at(site_late(), NMW_MISUSE_FINALIZE_AFTER_TEARDOWN), 1);
  EXPECT_STATE(tag_stats(old, tag), 2, 0, 1, 0, 1, 0);

  /* The new owner registers: the old counters go, the live record is an orphan. */
  nmw_fin_global_t g;
  nmw_core_fin_global(&g);
  uint64_t orphans = g.orphans;
  nmw_fin_id_t mine = reg(fresh, NMW_FIN_EXTERNAL, tag, site_a(), NULL);
  nmw_core_fin_global(&g);
  assert_int_equal(g.orphans, orphans + 1);
  EXPECT_STATE(tag_stats(fresh, tag), 1, 0, 0, 0, 1, 0);
  test_misuse_snapshot(misuse);
  assert_int_equal(run(orphan, 7), NMW_OK);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_FINALIZE_AFTER_TEARDOWN, 1, -1);
  nmw_core_fin_global(&g);
  assert_int_equal(g.orphans, orphans);
  EXPECT_STATE(tag_stats(fresh, tag), 1, 0, 0, 0, 1, 0);
  assert_int_equal(run(mine, 7), NMW_OK);
  EXPECT_STATE(tag_stats(fresh, tag), 1, 1, 0, 0, 0, 0);
  /* A registration for the gone owner does not take the slot back from the live
   * one: the live one's counters stay. */
  nmw_fin_id_t stale = reg(old, NMW_FIN_EXTERNAL, tag, site_late(), NULL);
  EXPECT_STATE(tag_stats(fresh, tag), 1, 1, 0, 0, 0, 0);
  test_misuse_snapshot(misuse);
  assert_int_equal(run(stale, 7), NMW_OK);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_FINALIZE_AFTER_TEARDOWN, 1, -1);
  EXPECT_STATE(tag_stats(fresh, tag), 1, 1, 0, 0, 0, 0);
  nmw_core_owner_teardown(fresh);
}

/* Environments on four threads register, run and cancel at once. */
typedef struct thread_arg {
  nmw_tag_t tag;
  nmw_owner_t owner;
  int64_t thread_id;
} thread_arg_t;

enum { T_N = 20000 };

static void worker(void *p) {
  thread_arg_t *arg = p;
  arg->owner = open_owner();
  nmw_core_fin_set_thread_id(arg->owner, arg->thread_id);
  static _Thread_local int natives[T_N];
  nmw_fin_id_t *ids = malloc(T_N * sizeof *ids);
  for (int i = 0; i < T_N; i++)
    ids[i] = reg(arg->owner, NMW_FIN_WRAP, arg->tag, site_a(), &natives[i]);
  for (int i = 0; i < T_N; i += 2) run(ids[i], 1);
  for (int i = 1; i < T_N; i += 4)
    nmw_core_fin_cancel_key(arg->owner, NMW_FIN_WRAP, &natives[i], arg->tag);
  nmw_core_owner_teardown(arg->owner);
  for (int i = 3; i < T_N; i += 4) run(ids[i], 1);
  free(ids);
}

static void test_threads(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("f.threads");
  thread_arg_t args[4];
  uv_thread_t threads[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (thread_arg_t){tag, 0, 100 + i};
    assert_int_equal(uv_thread_create(&threads[i], worker, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) uv_thread_join(&threads[i]);
  nmw_fin_env_row_t envs[NMW_OWNER_MAX];
  size_t n = nmw_core_fin_envs(envs, NMW_OWNER_MAX);
  for (int i = 0; i < 4; i++) {
    EXPECT_STATE(tag_stats(args[i].owner, tag), T_N, T_N / 2, T_N / 4, T_N / 4, 0, 0);
    bool found = false;
    for (size_t k = 0; k < n; k++)
      if (envs[k].owner == args[i].owner) {
        found = true;
        assert_int_equal(envs[k].thread_id, 100 + i);
        assert_int_equal(envs[k].state, NMW_OWNER_TORN_DOWN);
      }
    assert_true(found);
  }
  /* Summed over every environment. */
  nmw_fin_tag_stats_t rows[NMW_TAG_MAX];
  nmw_fin_stats_t total;
  size_t nt = nmw_core_fin_tag_stats(0, true, rows, NMW_TAG_MAX, &total);
  bool found = false;
  for (size_t i = 0; i < nt; i++)
    if (rows[i].tag == tag) {
      found = true;
      EXPECT_STATE(rows[i].s, 4 * T_N, 2 * T_N, T_N, T_N, 0, 0);
    }
  assert_true(found);
}

/* ---- pools, classes, hints, other threads (src/core/finalizers.c's pools) ---- */

static nmw_fin_id_t reg_hint(nmw_owner_t owner, nmw_tag_t tag, void *hint, uint64_t *handle) {
  nmw_fin_reg_t r = {owner, NMW_FIN_EXTERNAL, tag, site_b(), count_cb, (void *)0x1234, hint, NULL,
                     NULL, NULL};
  nmw_fin_id_t id = 0;
  assert_int_equal(nmw_core_fin_register_hint(&r, &id, handle), NMW_OK);
  return id;
}

static uint64_t global_classes(void) {
  nmw_fin_global_t g;
  nmw_core_fin_global(&g);
  return g.classes;
}

/* The hint a twin gives Node: the id plus the record's class; both work. */
static void test_hints(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("f.hints");
  nmw_owner_t owner = open_owner();
  uint64_t h1, h2;
  nmw_fin_id_t a = reg_hint(owner, tag, (void *)0x77, &h1);
  nmw_fin_id_t b = reg_hint(owner, tag, (void *)0x77, &h2);
  assert_true(a < (UINT64_C(1) << 52) && b < (UINT64_C(1) << 52));
#if UINTPTR_MAX > 0xffffffffu
  /* The same class: the same top bits, and the id below them. */
  assert_true((h1 >> 52) != 0);
  assert_int_equal(h1 >> 52, h2 >> 52);
#endif
  assert_int_equal(h1 & ((UINT64_C(1) << 52) - 1), a);
  assert_int_equal(h2 & ((UINT64_C(1) << 52) - 1), b);
  /* Listings give the plain id. */
  nmw_fin_live_row_t rows[4];
  assert_int_equal(nmw_core_fin_live(owner, false, tag, UINT64_MAX, false, rows, 4), 2);
  assert_int_equal(rows[0].id, a);
  calls = 0;
  last_hint = NULL;
  assert_int_equal(run(h1, 5), NMW_OK); /* by hint */
  assert_ptr_equal(last_hint, (void *)0x77);
  /* Class bits that name no class: the record's own class is used. */
  uint64_t bogus = b | (UINT64_C(4095) << 52);
  last_hint = NULL;
  assert_int_equal(run(sizeof(void *) > 4 ? bogus : b, 5), NMW_OK);
  assert_ptr_equal(last_hint, (void *)0x77);
  assert_int_equal(calls, 2);
  /* A hint run twice is a double finalization, as an id is. */
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  assert_int_equal(run(h1, 5), NMW_ENOENT);
  assert_int_equal(run(a, 5), NMW_ENOENT);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_DOUBLE_FINALIZE, 2, -1);
  EXPECT_STATE(tag_stats(owner, tag), 2, 2, 0, 0, 0, 0);

  /* Registered by napi_env (what the twins do): the env's owner, cached, and
   * unattributed once the owner is gone. */
  static int env_a;
  assert_int_equal(nmw_core_owner_map_env(&env_a, owner), NMW_OK);
  nmw_fin_reg_t r = {0, NMW_FIN_EXTERNAL, tag, site_b(), count_cb, NULL, NULL, NULL, NULL, &env_a};
  nmw_fin_id_t ids[3];
  for (int i = 0; i < 3; i++) assert_int_equal(nmw_core_fin_register(&r, &ids[i]), NMW_OK);
  EXPECT_STATE(tag_stats(owner, tag), 5, 2, 0, 0, 3, 0);
  for (int i = 0; i < 3; i++) assert_int_equal(run(ids[i], 5), NMW_OK);
  nmw_core_owner_teardown(owner);
  assert_int_equal(nmw_core_fin_register(&r, &ids[0]), NMW_OK);
  EXPECT_STATE(tag_stats(0, tag), 1, 0, 0, 0, 1, 0);
  assert_int_equal(run(ids[0], 5), NMW_OK);
  EXPECT_STATE(tag_stats(0, tag), 1, 1, 0, 0, 0, 0);
  EXPECT_STATE(tag_stats(owner, tag), 5, 5, 0, 0, 0, 0);
}

/* A fresh thread's pool: classes shared by registrations that share (finalizer,
 * hint, site, owner, tag, kind), one per record with per-object hints, released
 * when their slots are reused; the pool goes to the next thread. */
enum { C_N = 1000 };
typedef struct class_arg {
  nmw_tag_t tag;
  uint64_t base_classes, base_pools;
} class_arg_t;

static void class_worker(void *p) {
  class_arg_t *arg = p;
  nmw_owner_t owner = open_owner();
  nmw_fin_id_t *ids = malloc(2 * C_N * sizeof *ids);
  for (int i = 0; i < C_N; i++) ids[i] = reg_hint(owner, arg->tag, (void *)0x99, NULL);
  nmw_fin_global_t g;
  nmw_core_fin_global(&g);
  assert_int_equal(g.pools, arg->base_pools + 1); /* no pool was waiting: a new one */
  assert_int_equal(g.classes, arg->base_classes + 1);
  for (int i = 0; i < C_N; i++)
    ids[C_N + i] = reg_hint(owner, arg->tag, (void *)(uintptr_t)(0x1000 + i), NULL);
  assert_int_equal(global_classes(), arg->base_classes + 1 + C_N);
  for (int i = 0; i < 2 * C_N; i++) assert_int_equal(run(ids[i], 1), NMW_OK);
  /* A freed slot keeps its class (a late finalization still finds its site)... */
  assert_int_equal(global_classes(), arg->base_classes + 1 + C_N);
  /* ...until the slot is reused: lowest first, the same 2 * C_N slots. */
  for (int i = 0; i < 2 * C_N; i++) ids[i] = reg_hint(owner, arg->tag, (void *)0x99, NULL);
  assert_int_equal(global_classes(), arg->base_classes + 1);
  for (int i = 0; i < 2 * C_N; i++) assert_int_equal(run(ids[i], 1), NMW_OK);
  nmw_core_owner_teardown(owner);
  free(ids);
}

static void reuse_worker(void *p) {
  class_arg_t *arg = p;
  nmw_owner_t owner = open_owner();
  nmw_fin_global_t g0, g1;
  nmw_core_fin_global(&g0);
  assert_int_equal(run(reg_hint(owner, arg->tag, (void *)0x99, NULL), 1), NMW_OK);
  nmw_core_fin_global(&g1);
  assert_int_equal(g1.pools, g0.pools); /* the exited thread's pool */
  assert_int_equal(g1.capacity, g0.capacity);
  nmw_core_owner_teardown(owner);
}

static void test_pool_classes(void **state) {
  (void)state;
  class_arg_t arg = {test_new_tag("f.classes"), 0, 0};
  nmw_fin_global_t g;
  nmw_core_fin_global(&g);
  arg.base_classes = g.classes;
  arg.base_pools = g.pools;
  uv_thread_t t;
  assert_int_equal(uv_thread_create(&t, class_worker, &arg), 0);
  uv_thread_join(&t);
  assert_int_equal(uv_thread_create(&t, reuse_worker, &arg), 0);
  uv_thread_join(&t);
  nmw_core_fin_global(&g);
  assert_int_equal(g.pools, arg.base_pools + 1);
  nmw_fin_tag_stats_t rows[NMW_TAG_MAX];
  size_t n = nmw_core_fin_tag_stats(0, true, rows, NMW_TAG_MAX, NULL);
  bool found = false;
  for (size_t i = 0; i < n; i++)
    if (rows[i].tag == arg.tag) {
      found = true;
      EXPECT_STATE(rows[i].s, 4 * C_N + 1, 4 * C_N + 1, 0, 0, 0, 0);
    }
  assert_true(found);
}

/* Calls from a thread that does not own the records (the C API allows them):
 * claimed by compare-and-swap, counted in the caller's rows, the slots handed
 * back to the owning pool. Exact counts; TSan checks the hand-offs. */
enum { R_N = 2000 };
typedef struct remote_arg {
  nmw_tag_t tag;
  nmw_owner_t owner;
  nmw_fin_id_t ids[R_N];
  uv_sem_t registered, churned, done;
  uint64_t capacity;
} remote_arg_t;

static void remote_owner(void *p) {
  remote_arg_t *arg = p;
  arg->owner = open_owner();
  for (int i = 0; i < R_N; i++) arg->ids[i] = reg_hint(arg->owner, arg->tag, NULL, NULL);
  nmw_fin_global_t g;
  nmw_core_fin_global(&g);
  arg->capacity = g.capacity;
  uv_sem_post(&arg->registered);
  /* Meanwhile another thread ends most of them; this one keeps registering and
   * running its own records, on other slots. */
  for (int round = 0; round < 20; round++) {
    nmw_fin_id_t mine[64];
    for (int i = 0; i < 64; i++) mine[i] = reg_hint(arg->owner, arg->tag, NULL, NULL);
    for (int i = 0; i < 64; i++) assert_int_equal(run(mine[i], 3), NMW_OK);
  }
  uv_sem_post(&arg->churned);
  uv_sem_wait(&arg->done);
  /* The slots released elsewhere come back: R_N more fit in what there is. */
  for (int i = 0; i < R_N; i++) arg->ids[i] = reg_hint(arg->owner, arg->tag, NULL, NULL);
  nmw_core_fin_global(&g);
  assert_int_equal(g.capacity, arg->capacity);
  for (int i = 0; i < R_N; i++) assert_int_equal(run(arg->ids[i], 2), NMW_OK);
  nmw_core_owner_teardown(arg->owner);
}

static void test_remote_calls(void **state) {
  (void)state;
  remote_arg_t *arg = calloc(1, sizeof *arg);
  arg->tag = test_new_tag("f.remote");
  uv_sem_init(&arg->registered, 0);
  uv_sem_init(&arg->churned, 0);
  uv_sem_init(&arg->done, 0);
  int calls0 = calls;
  uv_thread_t t;
  assert_int_equal(uv_thread_create(&t, remote_owner, arg), 0);
  uv_sem_wait(&arg->registered);
  /* Here: another thread than the records' own. */
  for (int i = 0; i < R_N / 2; i++) assert_int_equal(run(arg->ids[i], 7), NMW_OK);
  for (int i = R_N / 2; i < R_N / 2 + R_N / 4; i++) assert_true(nmw_core_fin_cancel(arg->ids[i]));
  for (int i = R_N / 2 + R_N / 4; i < R_N - 1; i++) nmw_core_fin_unregister(arg->ids[i]);
  /* Not live any more, wherever asked. */
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  assert_int_equal(run(arg->ids[0], 7), NMW_ENOENT);
  assert_false(nmw_core_fin_cancel(arg->ids[R_N / 2]));
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_DOUBLE_FINALIZE, 1, -1);
  uv_sem_wait(&arg->churned);
  /* Counted in this thread's rows, summed with the owner's. */
  const uint64_t regs = R_N - (R_N / 4 - 1) + 20 * 64;
  EXPECT_STATE(tag_stats(arg->owner, arg->tag), regs, R_N / 2 + 20 * 64, 0, R_N / 4, 1, 0);
  uv_sem_post(&arg->done);
  uv_thread_join(&t);
  assert_int_equal(calls - calls0, R_N / 2 + 20 * 64 + R_N); /* here, there, there */
  nmw_fin_stats_t s = tag_stats(arg->owner, arg->tag);
  /* The last of the first batch was never run: its owner's later run of the
   * reused slots does not touch it. */
  EXPECT_STATE(s, regs + R_N, R_N / 2 + 20 * 64 + R_N, 0, R_N / 4, 1, 0);
  assert_int_equal(s.hist[3], R_N / 2); /* 7 ns: 4 < d <= 8 */
  uv_sem_destroy(&arg->registered);
  uv_sem_destroy(&arg->churned);
  uv_sem_destroy(&arg->done);
  free(arg);
}

/* Readers on another thread while two threads churn: every row a reader copies
 * is consistent (registered = finalized + cancelled + live, the row's sequence
 * counter), and the totals are exact at the end. */
#ifdef NMW_TEST_TSAN
enum { S_READS = 8 }; /* each read scans every chunk, slow under TSan */
#else
enum { S_READS = 400 };
#endif
typedef struct churn_arg {
  nmw_tag_t tag;
  nmw_owner_t owner;
  uint64_t rounds;
  uv_sem_t ready;
} churn_arg_t;
static _Atomic bool stop_churn;

static void churner(void *p) {
  churn_arg_t *arg = p;
  arg->owner = open_owner();
  static _Thread_local int natives[256];
  nmw_fin_id_t ids[256];
  for (uint64_t round = 0; !stop_churn; round++) {
    for (int i = 0; i < 256; i++) ids[i] = reg(arg->owner, NMW_FIN_WRAP, arg->tag, site_a(), &natives[i]);
    for (int i = 0; i < 256; i++) {
      if (i % 4 == 0)
        assert_true(nmw_core_fin_cancel_key(arg->owner, NMW_FIN_WRAP, &natives[i], arg->tag));
      else
        assert_int_equal(run(ids[i], (uint64_t)i), NMW_OK);
    }
    arg->rounds = round + 1;
    if (round == 0) uv_sem_post(&arg->ready);
  }
}

static void test_concurrent_readers(void **state) {
  (void)state;
  churn_arg_t args[2];
  uv_thread_t t[2];
  stop_churn = false;
  for (int i = 0; i < 2; i++) {
    args[i].tag = test_new_tag(i ? "f.readers.b" : "f.readers.a");
    uv_sem_init(&args[i].ready, 0);
    assert_int_equal(uv_thread_create(&t[i], churner, &args[i]), 0);
  }
  for (int i = 0; i < 2; i++) uv_sem_wait(&args[i].ready); /* both churning */
  nmw_fin_tag_stats_t *rows = malloc(NMW_TAG_MAX * sizeof *rows);
  nmw_fin_live_row_t live[64];
  nmw_fin_site_row_t sites[64];
  uint64_t snapshots = 0;
  for (int read = 0; read < S_READS; read++) {
    for (int i = 0; i < 2; i++) {
      nmw_fin_stats_t total;
      size_t n = nmw_core_fin_tag_stats(args[i].owner, false, rows, NMW_TAG_MAX, &total);
      for (size_t k = 0; k < n; k++) {
        const nmw_fin_stats_t *s = &rows[k].s;
        assert_int_equal(s->registered,
                         s->finalized_gc + s->finalized_teardown + s->cancelled + s->live);
        snapshots++;
      }
      size_t nl = nmw_core_fin_live(args[i].owner, false, NMW_ANY_TAG, UINT64_MAX, false, live, 64);
      for (size_t k = 0; k < nl; k++) assert_int_equal(live[k].owner, args[i].owner);
      nmw_core_fin_live_sites(0, true, sites, 64);
    }
    nmw_fin_global_t g;
    nmw_core_fin_global(&g);
  }
  stop_churn = true;
  for (int i = 0; i < 2; i++) uv_thread_join(&t[i]);
  assert_int_equal(snapshots, 2 * S_READS);
  for (int i = 0; i < 2; i++) {
    const uint64_t n = args[i].rounds * 256;
    EXPECT_STATE(tag_stats(args[i].owner, args[i].tag), n, n - n / 4, 0, n / 4, 0, 0);
    nmw_core_owner_teardown(args[i].owner);
    uv_sem_destroy(&args[i].ready);
  }
  free(rows);
}

/* nmw_core_fin_trampoline: what the addon's trampoline does, but the Node-API
 * probe (stopping), which is asked for external (array) buffers only. */
static int tramp_stopping_calls;
static bool tramp_stopping_answer;
static bool tramp_stopping(void *env) {
  (void)env;
  tramp_stopping_calls++;
  return tramp_stopping_answer;
}
static int tramp_calls, tramp_depth_seen;
static const void *tramp_ref_seen;
static void *tramp_env_seen, *tramp_data_seen, *tramp_hint_seen;
static uint64_t tramp_inner; /* a hint the finalizer runs in turn (nested), or 0 */
static void tramp_cb(void *env, void *data, void *hint) {
  tramp_calls++;
  tramp_env_seen = env;
  tramp_data_seen = data;
  tramp_hint_seen = hint;
  tramp_depth_seen = nmw_core_fin_running();
  tramp_ref_seen = nmw_core_fin_running_ref();
  uint64_t inner = tramp_inner;
  tramp_inner = 0;
  if (inner) assert_int_equal(nmw_core_fin_trampoline(env, data, inner, tramp_stopping), NMW_OK);
}

static uint64_t reg_tramp(nmw_owner_t owner, nmw_fin_kind_t kind, nmw_tag_t tag) {
  nmw_fin_reg_t r = {owner, kind, tag, site_a(), tramp_cb, (void *)0x42, (void *)0x43, NULL, NULL,
                     NULL};
  nmw_fin_id_t id;
  uint64_t hint;
  assert_int_equal(nmw_core_fin_register_hint(&r, &id, &hint), NMW_OK);
  return hint;
}

static void test_trampoline(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("f.trampoline");
  nmw_owner_t owner = open_owner();
  int env, data, ref;
  tramp_calls = tramp_stopping_calls = 0;
  /* A wrap by GC: called with Node's env and data and the author's hint; inside,
   * running() and running_ref() tell the addon a finalizer runs. */
  uint64_t w = reg_tramp(owner, NMW_FIN_WRAP, tag);
  nmw_core_fin_set_ref(w, &ref);
  assert_int_equal(nmw_core_fin_trampoline(&env, &data, w, tramp_stopping), NMW_OK);
  assert_int_equal(tramp_calls, 1);
  assert_ptr_equal(tramp_env_seen, &env);
  assert_ptr_equal(tramp_data_seen, &data);
  assert_ptr_equal(tramp_hint_seen, (void *)0x43);
  assert_int_equal(tramp_depth_seen, 1);
  assert_ptr_equal(tramp_ref_seen, &ref);
  assert_int_equal(nmw_core_fin_running(), 0);
  assert_null(nmw_core_fin_running_ref());
  assert_int_equal(tramp_stopping_calls, 0); /* not a buffer */
  /* External buffers: the probe decides; said stopping, counted at teardown. */
  uint64_t b1 = reg_tramp(owner, NMW_FIN_EXTERNAL_BUFFER, tag);
  uint64_t b2 = reg_tramp(owner, NMW_FIN_EXTERNAL_ARRAYBUFFER, tag);
  tramp_stopping_answer = true;
  assert_int_equal(nmw_core_fin_trampoline(&env, &data, b1, tramp_stopping), NMW_OK);
  tramp_stopping_answer = false;
  assert_int_equal(nmw_core_fin_trampoline(&env, &data, b2, tramp_stopping), NMW_OK);
  assert_int_equal(tramp_stopping_calls, 2);
  EXPECT_STATE(tag_stats(owner, tag), 3, 2, 1, 0, 0, 0);
  /* Nested: a finalizer that runs another record's trampoline. */
  uint64_t outer = reg_tramp(owner, NMW_FIN_EXTERNAL, tag);
  tramp_inner = reg_tramp(owner, NMW_FIN_FINALIZER, tag);
  assert_int_equal(nmw_core_fin_trampoline(&env, &data, outer, NULL), NMW_OK);
  assert_int_equal(tramp_depth_seen, 2); /* the inner ran inside the outer */
  assert_int_equal(tramp_calls, 5);
  assert_int_equal(nmw_core_fin_running(), 0);
  /* Twice: refused, counted as misuse, the finalizer not called. */
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  assert_int_equal(nmw_core_fin_trampoline(&env, &data, w, tramp_stopping), NMW_ENOENT);
  assert_int_equal(nmw_core_fin_trampoline(&env, &data, outer, tramp_stopping), NMW_ENOENT);
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_DOUBLE_FINALIZE, 2, -1);
  assert_int_equal(tramp_calls, 5);
  /* The environment emitted 'exit': from then on at teardown, also for a tag
   * (a counter row) first used after it. */
  nmw_tag_t tag2 = test_new_tag("f.trampoline.exiting");
  uint64_t e1 = reg_tramp(owner, NMW_FIN_WRAP, tag);
  nmw_core_fin_mark_exiting(owner);
  uint64_t e2 = reg_tramp(owner, NMW_FIN_WRAP, tag2);
  assert_int_equal(nmw_core_fin_trampoline(&env, &data, e1, tramp_stopping), NMW_OK);
  assert_int_equal(nmw_core_fin_trampoline(&env, &data, e2, tramp_stopping), NMW_OK);
  EXPECT_STATE(tag_stats(owner, tag), 6, 4, 2, 0, 0, 0);
  EXPECT_STATE(tag_stats(owner, tag2), 1, 0, 1, 0, 0, 0);
  /* After teardown, by the trampoline too: at teardown. */
  uint64_t late = reg_tramp(owner, NMW_FIN_WRAP, tag);
  nmw_core_owner_teardown(owner);
  assert_int_equal(nmw_core_fin_trampoline(&env, &data, late, tramp_stopping), NMW_OK);
  nmw_fin_stats_t s = tag_stats(owner, tag);
  EXPECT_STATE(s, 7, 4, 3, 0, 0, 0);
  uint64_t timed = 0;
  for (int b = 0; b < NMW_FIN_HIST_BUCKETS; b++) timed += s.hist[b];
  assert_int_equal(timed, 7); /* every run timed */
}

/* A slot's generation runs 1 .. 2^20 - 1 and starts again at 1 (64-bit ids): the
 * id of the run before is still refused after the wrap. */
static void test_generation_wrap(void **state) {
  (void)state;
#if UINTPTR_MAX > 0xffffffffu && !defined(NMW_TEST_TSAN) /* 2^20 runs: no threads here */
  nmw_tag_t tag = test_new_tag("f.generations");
  nmw_owner_t owner = open_owner();
  const uint64_t gen_max = 0xfffff;
  nmw_fin_id_t id = reg(owner, NMW_FIN_EXTERNAL, tag, site_a(), NULL), first = id;
  uint64_t prev_gen = id >> 32;
  bool wrapped = false;
  /* The slot is reused each time (lowest first): its generation moves by one. */
  for (uint64_t i = 0; i < gen_max + 2; i++) {
    assert_int_equal(run(id, 1), NMW_OK);
    nmw_fin_id_t next = reg(owner, NMW_FIN_EXTERNAL, tag, site_a(), NULL);
    assert_int_equal(next & 0xffffffffu, first & 0xffffffffu);
    uint64_t gen = next >> 32;
    if (prev_gen == gen_max) {
      assert_int_equal(gen, 1);
      wrapped = true;
      assert_int_equal(run(id, 1), NMW_ENOENT); /* the run before the wrap: refused */
    } else {
      assert_int_equal(gen, prev_gen + 1);
    }
    prev_gen = gen;
    id = next;
  }
  assert_true(wrapped);
  assert_int_equal(run(id, 1), NMW_OK);
  EXPECT_STATE(tag_stats(owner, tag), gen_max + 3, gen_max + 3, 0, 0, 0, 0);
  nmw_core_owner_teardown(owner);
#endif
}

static void test_double_reported(void **state) {
  (void)state;
  nmw_tag_t ext = NMW_ANY_TAG;
  assert_int_equal(nmw_core_tag_register("f.ext", NMW_TAG_EXTERNAL, &ext), NMW_OK);
  nmw_tag_t plain = test_new_tag("f.ext.plain");
  void *a = nmw_core_malloc(100, ext, site_a());
  void *b = nmw_core_malloc(100, plain, site_a());
  void *c = malloc(100);
  uint64_t misuse[NMW_MISUSE_KIND_COUNT];
  test_misuse_snapshot(misuse);
  assert_true(nmw_core_note_double_reported(a, site_b()));
  assert_false(nmw_core_note_double_reported(b, site_b()));
  assert_false(nmw_core_note_double_reported(c, site_b()));
  assert_false(nmw_core_note_double_reported(NULL, site_b()));
  EXPECT_MISUSE_DELTA(misuse, NMW_MISUSE_DOUBLE_REPORTED, 1, -1);
  nmw_core_free(a, ext, NULL);
  nmw_core_free(b, plain, NULL);
  assert_false(nmw_core_note_double_reported(a, site_b())); /* freed */
  free(c);
}

static void test_names(void **state) {
  (void)state;
  assert_string_equal(nmw_core_fin_kind_name(NMW_FIN_WRAP), "wrap");
  assert_string_equal(nmw_core_fin_kind_name(NMW_FIN_EXTERNAL_ARRAYBUFFER), "external_arraybuffer");
  assert_string_equal(nmw_core_fin_kind_name(NMW_FIN_INSTANCE_DATA), "instance_data");
  assert_string_equal(nmw_core_fin_kind_name(NMW_FIN_KIND_COUNT), "unknown");
  assert_string_equal(nmw_core_misuse_name(NMW_MISUSE_DOUBLE_FINALIZE), "double_finalize");
  assert_string_equal(nmw_core_misuse_name(NMW_MISUSE_FINALIZE_AFTER_TEARDOWN),
                      "finalize_after_teardown");
  nmw_fin_reg_t r = {0, NMW_FIN_KIND_COUNT, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  nmw_fin_id_t id;
  assert_int_equal(nmw_core_fin_register(&r, &id), NMW_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gc_then_teardown),
      cmocka_unit_test(test_cancel_paths),
      cmocka_unit_test(test_cancel_prefers_tag),
      cmocka_unit_test(test_double_finalize_site),
      cmocka_unit_test(test_histogram),
      cmocka_unit_test(test_live_listing),
      cmocka_unit_test(test_bounded_memory),
      cmocka_unit_test(test_after_teardown),
      cmocka_unit_test(test_hints),
      cmocka_unit_test(test_trampoline),
      cmocka_unit_test(test_generation_wrap),
      cmocka_unit_test(test_pool_classes),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_remote_calls),
      cmocka_unit_test(test_concurrent_readers),
      cmocka_unit_test(test_double_reported),
      cmocka_unit_test(test_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
