/*
 * test_model.c: a long random run checked against a reference model.
 *
 * 200,000 random operations (malloc, calloc, strdup, aligned_alloc, realloc
 * that grows, shrinks or goes to 0, free, track, untrack) over 8 tags and 5
 * sites (4 records and NULL). The model keeps every counter per tag (peaks
 * included) and per (site, tag) row; the core must match it exactly every
 * 1,000 operations and at the end. The seed is fixed, so a failure repeats.
 *
 * Two choices keep the model to what the core specifies: a realloc is always
 * made at the block's allocating site (the brief does not say which row a
 * realloc from another site goes to), while free and untrack use any site
 * (a block freed elsewhere is credited to its allocating site).
 */
#include "test_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  MODEL_OPS = 200000,
  CHECK_EVERY = 1000,
  MODEL_TAGS = 8,
  MODEL_SITES = 5, /* index 4 is the NULL site */
  MAX_LIVE = 2500,
  PHASE_OPS = 25000, /* alternate between growing and shrinking the live set */
};

static nmw_site_t *model_site0(void) { return NMW_SITE(); }
static nmw_site_t *model_site1(void) { return NMW_SITE(); }
static nmw_site_t *model_site2(void) { return NMW_SITE(); }
static nmw_site_t *model_site3(void) { return NMW_SITE(); }

typedef struct model_row {
  uint64_t allocs, frees, reallocs, bytes_allocated, bytes_freed;
  int64_t curr_bytes, curr_blocks;
  int used; /* the pair ever allocated: the core must have a row for it */
} model_row_t;

typedef struct live_block {
  unsigned char *ptr;
  size_t size;
  size_t alignment; /* 0 for unaligned blocks */
  int tag_index, site_index;
  int tracked; /* plain malloc memory made known with nmw_core_track */
  unsigned char pattern;
} live_block_t;

typedef struct model {
  nmw_tag_t tags[MODEL_TAGS];
  nmw_site_t *sites[MODEL_SITES];
  nmw_counters_t tag[MODEL_TAGS];
  model_row_t row[MODEL_SITES][MODEL_TAGS];
  live_block_t live[MAX_LIVE];
  int live_count;
  nmw_counters_t total_before;
  uint64_t misuse_before[NMW_MISUSE_KIND_COUNT];
  test_rng_t rng;
  uint64_t op; /* for messages */
  uint64_t op_counts[10];
} model_t;

static model_t model; /* large: keep it off the stack */

/* ---- the model's bookkeeping ---- */

static void model_add(int t, int s, size_t size) {
  nmw_counters_t *c = &model.tag[t];
  c->allocs++;
  c->bytes_allocated += size;
  c->curr_bytes += (int64_t)size;
  c->curr_blocks++;
  if (c->curr_bytes > c->peak_bytes) c->peak_bytes = c->curr_bytes;
  if (c->curr_blocks > c->peak_blocks) c->peak_blocks = c->curr_blocks;
  model_row_t *r = &model.row[s][t];
  r->used = 1;
  r->allocs++;
  r->bytes_allocated += size;
  r->curr_bytes += (int64_t)size;
  r->curr_blocks++;
}

static void model_remove(int t, int s, size_t size) {
  nmw_counters_t *c = &model.tag[t];
  c->frees++;
  c->bytes_freed += size;
  c->curr_bytes -= (int64_t)size;
  c->curr_blocks--;
  model_row_t *r = &model.row[s][t];
  r->frees++;
  r->bytes_freed += size;
  r->curr_bytes -= (int64_t)size;
  r->curr_blocks--;
}

static void model_resize(int t, int s, size_t old_size, size_t new_size) {
  nmw_counters_t *c = &model.tag[t];
  model_row_t *r = &model.row[s][t];
  c->reallocs++;
  r->reallocs++;
  if (new_size > old_size) {
    c->bytes_allocated += new_size - old_size;
    r->bytes_allocated += new_size - old_size;
  } else {
    c->bytes_freed += old_size - new_size;
    r->bytes_freed += old_size - new_size;
  }
  c->curr_bytes += (int64_t)new_size - (int64_t)old_size;
  r->curr_bytes += (int64_t)new_size - (int64_t)old_size;
  if (c->curr_bytes > c->peak_bytes) c->peak_bytes = c->curr_bytes;
}

/* ---- contents: each block holds its pattern byte everywhere ---- */

static void paint(live_block_t *b) {
  if (!b->tracked) memset(b->ptr, b->pattern, b->size);
}

/* Checks the first, the last and some middle bytes: cheap, and enough to see
 * a block whose contents were lost or that overlaps another. */
static int intact(const live_block_t *b, size_t upto) {
  if (b->tracked || upto == 0) return 1;
  size_t probes[5] = {0, upto - 1, upto / 2, upto / 3, upto / 7};
  for (int i = 0; i < 5; i++)
    if (b->ptr[probes[i]] != b->pattern) return 0;
  return 1;
}

/* ---- random choices ---- */

static size_t random_size(void) {
  uint64_t r = test_rng_below(&model.rng, 100);
  if (r < 2) return 65536 + (size_t)test_rng_below(&model.rng, 64); /* some 64 KiB blocks */
  if (r < 20) return (size_t)test_rng_below(&model.rng, 33);        /* many small ones, 0 too */
  return (size_t)test_rng_below(&model.rng, 4097);
}

static int random_site(void) { return (int)test_rng_below(&model.rng, MODEL_SITES); }

/* The tag argument of free/realloc: the block's own tag, or "any". */
static nmw_tag_t tag_argument(int t) {
  return test_rng_below(&model.rng, 2) ? model.tags[t] : NMW_ANY_TAG;
}

static void check_alignment(const live_block_t *b) {
  size_t a = b->alignment > 16 ? b->alignment : 16;
  if (((uintptr_t)b->ptr & (a - 1)) != 0) {
    print_error("op %" PRIu64 ": %p not aligned to %zu\n", model.op, (void *)b->ptr, a);
    fail();
  }
}

/* ---- operations ---- */

static void op_allocate(void) {
  live_block_t *b = &model.live[model.live_count];
  memset(b, 0, sizeof *b);
  b->tag_index = (int)test_rng_below(&model.rng, MODEL_TAGS);
  b->site_index = random_site();
  b->pattern = (unsigned char)test_rng_next(&model.rng);
  nmw_tag_t tag = model.tags[b->tag_index];
  nmw_site_t *site = model.sites[b->site_index];
  uint64_t kind = test_rng_below(&model.rng, 5);
  model.op_counts[kind]++;
  switch (kind) {
    case 0:
      b->size = random_size();
      b->ptr = nmw_core_malloc(b->size, tag, site);
      break;
    case 1: {
      size_t count = (size_t)test_rng_below(&model.rng, 65);
      size_t each = count ? random_size() / count : (size_t)test_rng_below(&model.rng, 100);
      b->size = count * each;
      b->ptr = nmw_core_calloc(count, each, tag, site);
      assert_non_null(b->ptr);
      for (size_t i = 0; i < b->size; i++) assert_int_equal(b->ptr[i], 0);
      break;
    }
    case 2: {
      static char text[300];
      size_t len = (size_t)test_rng_below(&model.rng, sizeof text);
      memset(text, 'a' + (int)(len % 26), len);
      text[len] = '\0';
      b->size = len + 1;
      b->ptr = (unsigned char *)nmw_core_strdup(text, tag, site);
      assert_non_null(b->ptr);
      assert_memory_equal(b->ptr, text, len + 1);
      break;
    }
    case 3:
      b->alignment = (size_t)1 << test_rng_below(&model.rng, 13); /* 1 .. 4096 */
      b->size = random_size();
      b->ptr = nmw_core_aligned_alloc(b->alignment, b->size, tag, site);
      break;
    default:
      b->tracked = 1;
      b->size = random_size();
      b->ptr = malloc(1); /* the tracker never reads tracked memory */
      assert_non_null(b->ptr);
      assert_int_equal(nmw_core_track(b->ptr, b->size, tag, site), 0);
      break;
  }
  assert_non_null(b->ptr);
  check_alignment(b);
  paint(b);
  model_add(b->tag_index, b->site_index, b->size);
  model.live_count++;
}

static void forget(int index) {
  model.live[index] = model.live[--model.live_count];
}

static void op_free(int index) {
  live_block_t *b = &model.live[index];
  if (!intact(b, b->size)) {
    print_error("op %" PRIu64 ": block %p (size %zu) lost its contents\n", model.op,
                (void *)b->ptr, b->size);
    fail();
  }
  nmw_site_t *site = model.sites[random_site()];
  if (b->tracked) {
    model.op_counts[6]++;
    assert_int_equal(nmw_core_untrack(b->ptr, site), 0);
    free(b->ptr);
  } else {
    model.op_counts[5]++;
    nmw_core_free(b->ptr, tag_argument(b->tag_index), site);
  }
  model_remove(b->tag_index, b->site_index, b->size);
  forget(index);
}

static void op_realloc(int index) {
  live_block_t *b = &model.live[index];
  if (b->tracked) {
    op_free(index);
    return;
  }
  nmw_site_t *site = model.sites[b->site_index];
  uint64_t r = test_rng_below(&model.rng, 10);
  size_t new_size = r == 0 ? 0 : random_size();
  if (new_size == 0) {
    model.op_counts[7]++;
    assert_true(intact(b, b->size));
    assert_null(nmw_core_realloc(b->ptr, 0, tag_argument(b->tag_index), site));
    model_remove(b->tag_index, b->site_index, b->size);
    forget(index);
    return;
  }
  model.op_counts[8]++;
  unsigned char *p = nmw_core_realloc(b->ptr, new_size, tag_argument(b->tag_index), site);
  assert_non_null(p);
  b->ptr = p;
  size_t kept = new_size < b->size ? new_size : b->size;
  if (!intact(b, kept)) {
    print_error("op %" PRIu64 ": realloc %zu -> %zu lost the contents\n", model.op, b->size,
                new_size);
    fail();
  }
  check_alignment(b);
  model_resize(b->tag_index, b->site_index, b->size, new_size);
  b->size = new_size;
  paint(b);
}

/* ---- comparison with the core ---- */

static void check_against_core(void) {
  char what[96];
  nmw_counters_t sum;
  memset(&sum, 0, sizeof sum);
  for (int t = 0; t < MODEL_TAGS; t++) {
    nmw_counters_t c = test_tag_counters(model.tags[t]);
    snprintf(what, sizeof what, "op %" PRIu64 " tag %d", model.op, t);
    EXPECT_SAME(what, &c, &model.tag[t]);
    sum.allocs += model.tag[t].allocs;
    sum.frees += model.tag[t].frees;
    sum.reallocs += model.tag[t].reallocs;
    sum.bytes_allocated += model.tag[t].bytes_allocated;
    sum.bytes_freed += model.tag[t].bytes_freed;
    for (int s = 0; s < MODEL_SITES; s++) {
      const model_row_t *r = &model.row[s][t];
      if (!r->used) {
        EXPECT_NO_ROW(model.sites[s], model.tags[t]);
        continue;
      }
      test_expect_row(__FILE__, __LINE__, model.sites[s], model.tags[t], r->allocs, r->frees,
                      r->reallocs, r->bytes_allocated, r->bytes_freed);
    }
  }
  nmw_counters_t total = test_total_counters();
  nmw_counters_t d = test_counters_sub(&total, &model.total_before);
  snprintf(what, sizeof what, "op %" PRIu64 " total delta", model.op);
  EXPECT_COUNTS(what, &d, sum.allocs, sum.frees, sum.reallocs, sum.bytes_allocated,
                sum.bytes_freed);
  EXPECT_MISUSE_DELTA(model.misuse_before, -1);
  /* Every live block knows its size and tag. */
  for (int i = 0; i < model.live_count; i++) {
    const live_block_t *b = &model.live[i];
    if (b->tracked) continue;
    assert_int_equal(nmw_core_block_size(b->ptr), b->size);
    assert_int_equal(nmw_core_block_tag(b->ptr), model.tags[b->tag_index]);
  }
}

static void test_reference_model(void **state) {
  (void)state;
  memset(&model, 0, sizeof model);
  model.rng.state = UINT64_C(20240229);
  char name[32];
  for (int t = 0; t < MODEL_TAGS; t++) {
    snprintf(name, sizeof name, "t.model.%d", t);
    model.tags[t] = test_new_tag(name);
  }
  model.sites[0] = model_site0();
  model.sites[1] = model_site1();
  model.sites[2] = model_site2();
  model.sites[3] = model_site3();
  model.sites[4] = NULL;
  model.total_before = test_total_counters();
  test_misuse_snapshot(model.misuse_before);

  for (model.op = 1; model.op <= MODEL_OPS; model.op++) {
    int growing = (model.op / PHASE_OPS) % 2 == 0;
    uint64_t r = test_rng_below(&model.rng, 100);
    int allocate = model.live_count == 0 ||
                   (model.live_count < MAX_LIVE && r < (uint64_t)(growing ? 55 : 30));
    if (allocate) {
      op_allocate();
    } else {
      int index = (int)test_rng_below(&model.rng, (uint64_t)model.live_count);
      if (r < 75)
        op_realloc(index);
      else
        op_free(index);
    }
    if (model.op % CHECK_EVERY == 0) check_against_core();
  }
  model.op = MODEL_OPS;
  check_against_core();

  /* Free everything; every tag and row comes back to zero current use. */
  while (model.live_count > 0) op_free(model.live_count - 1);
  check_against_core();
  for (int t = 0; t < MODEL_TAGS; t++) {
    nmw_counters_t c = test_tag_counters(model.tags[t]);
    assert_int_equal(c.curr_bytes, 0);
    assert_int_equal(c.curr_blocks, 0);
    /* The run must have exercised every tag, and peaks well above zero. */
    assert_true(c.allocs > 1000);
    assert_true(c.peak_blocks > 50);
  }
  nmw_counters_t total = test_total_counters();
  nmw_counters_t d = test_counters_sub(&total, &model.total_before);
  assert_int_equal(d.curr_bytes, 0);
  assert_int_equal(d.curr_blocks, 0);
  /* Every kind of operation ran many times. */
  for (int k = 0; k < 9; k++) assert_true(model.op_counts[k] > 1000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reference_model),
  };
  return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
