/*
 * test_attach_registry.c: the live-block registry of attached addons
 * (src/core/attach_registry.c): exact counts for local and remote frees,
 * foreign pointers never touched, tables rehashed while other threads free
 * their blocks, tables of exited threads adopted, call-site interning.
 *
 * The "blocks" are real malloc'd memory (as an attached addon's are); the
 * registry never reads them.
 */
#include "test_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/attach_registry.h"

static void test_add_remove_exact(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("reg-basic");
  uint64_t live0 = nmw_attach_block_count();
  void *p[100];
  for (int i = 0; i < 100; i++) {
    p[i] = malloc(10 + i);
    assert_int_equal(nmw_attach_block_add(p[i], 10 + (size_t)i, tag, NULL), NMW_OK);
  }
  uint64_t size = 0;
  assert_true(nmw_attach_block_known(p[7], &size));
  assert_int_equal(size, 17);
  assert_int_equal(nmw_attach_block_count(), live0 + 100);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("after 100 adds", &c, 100, 0, 0, 100 * 10 + 99 * 100 / 2, 0);
  for (int i = 0; i < 100; i++) {
    assert_true(nmw_attach_block_remove(p[i]));
    assert_false(nmw_attach_block_remove(p[i])); /* not ours any more */
    free(p[i]);
  }
  c = test_tag_counters(tag);
  EXPECT_COUNTS("after 100 removes", &c, 100, 100, 0, 5950, 5950);
  assert_int_equal(nmw_attach_block_count(), live0);
}

static void test_foreign_untouched(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("reg-foreign");
  char local;
  /* Addresses that are not blocks, even unmapped ones: never dereferenced. */
  assert_false(nmw_attach_block_remove(&local));
  assert_false(nmw_attach_block_remove((void *)(uintptr_t)0x10));
  assert_false(nmw_attach_block_remove((void *)(uintptr_t)0xdead0000));
  assert_false(nmw_attach_block_remove(NULL));
  assert_false(nmw_attach_block_known((void *)(uintptr_t)0xdead0000, NULL));
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("nothing counted", &c, 0, 0, 0, 0, 0);
}

static void test_realloc_protocol(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("reg-realloc");
  void *p = malloc(8);
  assert_int_equal(nmw_attach_block_add(p, 8, tag, NULL), NMW_OK);
  uint64_t size;
  nmw_tag_t t;
  uint32_t slot;
  assert_true(nmw_attach_block_take(p, &size, &t, &slot));
  assert_int_equal(size, 8);
  assert_int_equal(t, tag);
  /* A failed realloc puts it back uncounted. */
  nmw_attach_block_put_back(p, size, t, slot);
  assert_true(nmw_attach_block_take(p, &size, &t, &slot));
  void *q = realloc(p, 100);
  nmw_attach_block_moved(q, size, 100, t, slot);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("moved", &c, 1, 0, 1, 100, 0);
  assert_true(nmw_attach_block_remove(q));
  free(q);
  c = test_tag_counters(tag);
  EXPECT_COUNTS("freed", &c, 1, 1, 1, 100, 100);
}

/* A record whose free was never seen (freed by code that was not attached):
 * the next block at that address replaces it. */
static void test_stale_record_replaced(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("reg-stale");
  void *p = malloc(32);
  assert_int_equal(nmw_attach_block_add(p, 32, tag, NULL), NMW_OK);
  assert_int_equal(nmw_attach_block_add(p, 48, tag, NULL), NMW_OK);
  nmw_counters_t c = test_tag_counters(tag);
  EXPECT_COUNTS("replaced", &c, 2, 1, 0, 80, 32);
  assert_true(nmw_attach_block_remove(p));
  free(p);
  c = test_tag_counters(tag);
  assert_int_equal(c.curr_bytes, 0);
  assert_int_equal(c.curr_blocks, 0);
}

/* ---- threads ---- */

#define PER_THREAD 20000

typedef struct share {
  nmw_tag_t tag;
  void **blocks;
  size_t n;
  _Atomic size_t next; /* the next block a freer takes */
  _Atomic int done_adding;
} share_t;

static void *adder(void *arg) {
  share_t *s = arg;
  for (size_t i = 0; i < s->n; i++) {
    void *p = malloc(16);
    assert_int_equal(nmw_attach_block_add(p, 16, s->tag, NULL), NMW_OK);
    /* Publish for the remote freers as we go: frees race with our rehashes. */
    atomic_store_explicit((_Atomic(void *) *)&s->blocks[i], p, memory_order_release);
  }
  atomic_store(&s->done_adding, 1);
  return NULL;
}

static void *remote_freer(void *arg) {
  share_t *s = arg;
  for (;;) {
    size_t i = atomic_fetch_add(&s->next, 1);
    if (i >= s->n) return NULL;
    void *p;
    while ((p = atomic_load_explicit((_Atomic(void *) *)&s->blocks[i], memory_order_acquire)) == NULL) {
    }
    assert_true(nmw_attach_block_remove(p));
    free(p);
  }
}

/* One thread adds (its table grows: rehashes) while two others free those
 * blocks remotely: every free is found exactly once. */
static void test_remote_frees_during_rehash(void **state) {
  (void)state;
  share_t s = {.tag = test_new_tag("reg-remote"), .n = PER_THREAD};
  s.blocks = calloc(s.n, sizeof *s.blocks);
  pthread_t a, f1, f2;
  pthread_create(&a, NULL, adder, &s);
  pthread_create(&f1, NULL, remote_freer, &s);
  pthread_create(&f2, NULL, remote_freer, &s);
  pthread_join(a, NULL);
  pthread_join(f1, NULL);
  pthread_join(f2, NULL);
  nmw_counters_t c = test_tag_counters(s.tag);
  EXPECT_COUNTS("all freed remotely", &c, PER_THREAD, PER_THREAD, 0, 16 * PER_THREAD, 16 * PER_THREAD);
  free(s.blocks);
}

static void *add_and_exit(void *arg) {
  share_t *s = arg;
  for (size_t i = 0; i < s->n; i++) {
    s->blocks[i] = malloc(24);
    assert_int_equal(nmw_attach_block_add(s->blocks[i], 24, s->tag, NULL), NMW_OK);
  }
  return NULL;
}

static void *free_half(void *arg) {
  share_t *s = arg;
  for (size_t i = 0; i < s->n / 2; i++) {
    assert_true(nmw_attach_block_remove(s->blocks[i]));
    free(s->blocks[i]);
  }
  /* and allocate a few in the (possibly adopted) table */
  for (size_t i = 0; i < 10; i++) {
    void *p = malloc(8);
    assert_int_equal(nmw_attach_block_add(p, 8, s->tag, NULL), NMW_OK);
    assert_true(nmw_attach_block_remove(p));
    free(p);
  }
  return NULL;
}

/* Blocks of an exited thread stay findable; a later thread adopts the table. */
static void test_exited_thread_table(void **state) {
  (void)state;
  share_t s = {.tag = test_new_tag("reg-exited"), .n = 1000};
  s.blocks = calloc(s.n, sizeof *s.blocks);
  pthread_t t;
  pthread_create(&t, NULL, add_and_exit, &s);
  pthread_join(t, NULL);
  pthread_create(&t, NULL, free_half, &s);
  pthread_join(t, NULL);
  for (size_t i = s.n / 2; i < s.n; i++) {
    assert_true(nmw_attach_block_remove(s.blocks[i]));
    free(s.blocks[i]);
  }
  nmw_counters_t c = test_tag_counters(s.tag);
  EXPECT_COUNTS("exited", &c, 1010, 1010, 0, 24 * 1000 + 80, 24 * 1000 + 80);
  free(s.blocks);
}

static void test_sites_interned_and_resolved(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("reg-sites");
  uint32_t before = nmw_attach_site_count();
  nmw_site_t *a = nmw_attach_site((void *)(uintptr_t)0x1234, tag);
  nmw_site_t *b = nmw_attach_site((void *)(uintptr_t)0x1234, tag);
  nmw_site_t *c = nmw_attach_site((void *)(uintptr_t)0x5678, tag);
  assert_non_null(a);
  assert_ptr_equal(a, b);
  assert_ptr_not_equal(a, c);
  assert_null(nmw_attach_site(NULL, tag));
  assert_int_equal(nmw_attach_site_count(), before + 2);
  assert_string_equal(a->file, "reg-sites");
  assert_null(a->func);
  void *p = malloc(5);
  assert_int_equal(nmw_attach_block_add(p, 5, tag, a), NMW_OK);
  assert_true(nmw_attach_block_remove(p));
  free(p);
  EXPECT_ROW(a, tag, 1, 1, 0, 5, 5);
}

static void name_it(const void *ra, char *buf, size_t cap) { snprintf(buf, cap, "fn@%p", ra); }

static void test_resolve_lazily_once(void **state) {
  (void)state;
  nmw_tag_t tag = test_new_tag("reg-resolve");
  nmw_site_t *s = nmw_attach_site((void *)(uintptr_t)0x9abc, tag);
  assert_true(nmw_attach_resolve_sites(name_it) >= 1);
  assert_string_equal(s->func, "fn@0x9abc");
  assert_int_equal(nmw_attach_resolve_sites(name_it), 0); /* each site once */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_add_remove_exact),
      cmocka_unit_test(test_foreign_untouched),
      cmocka_unit_test(test_realloc_protocol),
      cmocka_unit_test(test_stale_record_replaced),
      cmocka_unit_test(test_remote_frees_during_rehash),
      cmocka_unit_test(test_exited_thread_table),
      cmocka_unit_test(test_sites_interned_and_resolved),
      cmocka_unit_test(test_resolve_lazily_once),
  };
  return cmocka_run_group_tests_name("attach_registry", tests, NULL, NULL);
}
