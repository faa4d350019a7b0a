/*
 * heapsnap_graph.c: what is computed from a parsed heap snapshot.
 *
 *   digests   the nodes reachable from the root, memwatch's way (through every
 *             edge, not entering its own HeapDiff objects), as id-sorted
 *             columns of (id, class, self size): 16 bytes a node, enough to
 *             diff two snapshots after their graphs are freed;
 *   diffs     a merge of two id-sorted digests: freed and allocated nodes,
 *             per class (memwatch's "what"), with evenly spread sample ids;
 *   paths     a breadth-first search from the root over non-weak edges: one
 *             shortest retainer path to any node.
 */
#include "heapsnap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void nmw_hs_graph_free(nmw_hs_graph *g) {
  if (g == NULL) return;
  free(g->node_type);
  free(g->node_name);
  free(g->node_id);
  free(g->node_size);
  free(g->edge_first);
  free(g->edge_type);
  free(g->edge_name);
  free(g->edge_to);
  free(g->string_off);
  free(g->string_pool);
  for (uint32_t i = 0; i < NMW_HS_MAX_TYPES; i++) {
    free(g->node_type_names[i]);
    free(g->edge_type_names[i]);
  }
  free(g);
}

const char *nmw_hs_graph_string(const nmw_hs_graph *g, uint32_t i) {
  if (i >= g->string_count || g->string_off[i] == UINT32_MAX) return NULL;
  return g->string_pool + g->string_off[i];
}

static const char *const kind_names[] = {
    NULL, "Array", "String", NULL, "Code", "Closure", "RegExp", "Number", "Native",
};

const char *nmw_hs_graph_what(const nmw_hs_graph *g, uint32_t i) {
  uint8_t kind = g->node_kind[g->node_type[i]];
  if (kind == NMW_HS_KIND_OBJECT) {
    const char *s = nmw_hs_graph_string(g, g->node_name[i]);
    return s != NULL ? s : "";
  }
  return kind_names[kind];
}

/* ---- sorting ---- */

/* Sorts keys (id << 32 | payload) by id: two 16-bit radix passes. */
static bool sort_by_id(uint64_t *keys, uint64_t n) {
  uint64_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
  uint32_t *count = malloc(65536 * sizeof *count);
  if (tmp == NULL || count == NULL) {
    free(tmp);
    free(count);
    return false;
  }
  uint64_t *src = keys, *dst = tmp;
  for (int shift = 32; shift < 64; shift += 16) {
    memset(count, 0, 65536 * sizeof *count);
    for (uint64_t i = 0; i < n; i++) count[(src[i] >> shift) & 0xFFFF]++;
    uint32_t sum = 0;
    for (uint32_t b = 0; b < 65536; b++) {
      uint32_t c = count[b];
      count[b] = sum;
      sum += c;
    }
    for (uint64_t i = 0; i < n; i++) dst[count[(src[i] >> shift) & 0xFFFF]++] = src[i];
    uint64_t *t = src;
    src = dst;
    dst = t;
  }
  /* Two passes: the result is back in keys. */
  free(tmp);
  free(count);
  return true;
}

/* ---- class names: an open-addressing table of strings ---- */

typedef struct {
  uint32_t *slot; /* class index + 1, 0 empty */
  uint32_t mask;
  uint32_t count, cap;
  uint32_t *off;
  char *pool;
  uint64_t pool_len, pool_cap;
} name_table;

static uint32_t hash_str(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
  return h;
}

static bool names_init(name_table *t) {
  memset(t, 0, sizeof *t);
  t->mask = 1023;
  t->slot = calloc(t->mask + 1, sizeof *t->slot);
  return t->slot != NULL;
}

static void names_free(name_table *t) {
  free(t->slot);
  free(t->off);
  free(t->pool);
}

static bool names_rehash(name_table *t) {
  uint32_t mask = t->mask * 2 + 1;
  uint32_t *slot = calloc((size_t)mask + 1, sizeof *slot);
  if (slot == NULL) return false;
  for (uint32_t i = 0; i < t->count; i++) {
    uint32_t h = hash_str(t->pool + t->off[i]) & mask;
    while (slot[h]) h = (h + 1) & mask;
    slot[h] = i + 1;
  }
  free(t->slot);
  t->slot = slot;
  t->mask = mask;
  return true;
}

/* The index of name, added when absent; UINT32_MAX when out of memory. */
static uint32_t names_intern(name_table *t, const char *name) {
  uint32_t h = hash_str(name) & t->mask;
  while (t->slot[h]) {
    uint32_t i = t->slot[h] - 1;
    if (strcmp(t->pool + t->off[i], name) == 0) return i;
    h = (h + 1) & t->mask;
  }
  size_t len = strlen(name) + 1;
  if (t->count == t->cap) {
    uint32_t cap = t->cap ? t->cap * 2 : 256;
    uint32_t *off = realloc(t->off, cap * sizeof *off);
    if (off == NULL) return UINT32_MAX;
    t->off = off;
    t->cap = cap;
  }
  if (t->pool_len + len > t->pool_cap) {
    uint64_t cap = t->pool_cap ? t->pool_cap * 2 : 4096;
    while (cap < t->pool_len + len) cap *= 2;
    char *pool = realloc(t->pool, cap);
    if (pool == NULL) return UINT32_MAX;
    t->pool = pool;
    t->pool_cap = cap;
  }
  memcpy(t->pool + t->pool_len, name, len);
  t->off[t->count] = (uint32_t)t->pool_len;
  t->pool_len += len;
  t->slot[h] = ++t->count;
  if (t->count * 2 > t->mask && !names_rehash(t)) return UINT32_MAX;
  return t->count - 1;
}

/* ---- digests ---- */

/* Marks the strings equal to skip_name (object nodes so named are not entered). */
static uint8_t *skip_strings(const nmw_hs_graph *g, const char *skip_name) {
  uint8_t *skip = calloc(g->string_count ? g->string_count : 1, 1);
  if (skip == NULL || skip_name == NULL) return skip;
  for (uint32_t i = 0; i < g->string_count; i++) {
    const char *s = nmw_hs_graph_string(g, i);
    if (s != NULL && strcmp(s, skip_name) == 0) skip[i] = 1;
  }
  return skip;
}

static bool skipped(const nmw_hs_graph *g, const uint8_t *skip, uint32_t n) {
  return g->node_kind[g->node_type[n]] == NMW_HS_KIND_OBJECT && g->node_name[n] < g->string_count &&
         skip[g->node_name[n]];
}

/* A snapshot written with numeric values exposed (v8.writeHeapSnapshot(file,
 * {exposeNumericValues: true}), the inspector's captureNumericValue) has two
 * kinds of nodes a default one has not: a "smi number" node (type number,
 * self size 0) for every Smi-valued field, and a "value" string node (type
 * string, self size 0) under every number node, smi or heap, holding its
 * value as text. Both are leaves V8 makes up while writing (fresh ids each
 * snapshot), not heap objects: the digest neither enters nor counts them, so
 * it is the same as a default snapshot's. Heap numbers (self size > 0) are in
 * both and stay. A default snapshot has no number node of size 0 and no edge
 * from a number node to a string of size 0, so nothing changes for it. */
static bool numeric_extra(const nmw_hs_graph *g, bool from_number, uint32_t t) {
  if (g->node_size[t] != 0) return false;
  uint8_t kind = g->node_kind[g->node_type[t]];
  return kind == NMW_HS_KIND_NUMBER || (from_number && kind == NMW_HS_KIND_STRING);
}

/* How many nodes numeric_extra leaves out of the whole snapshot. */
static uint32_t numeric_extras(const nmw_hs_graph *g) {
  uint32_t extras = 0;
  for (uint32_t v = 0; v < g->node_count; v++) {
    if (g->node_kind[g->node_type[v]] != NMW_HS_KIND_NUMBER) continue;
    if (g->node_size[v] == 0) extras++;
    for (uint32_t e = g->edge_first[v]; e < g->edge_first[v + 1]; e++) {
      uint32_t t = g->edge_to[e];
      if (g->node_size[t] == 0 && g->node_kind[g->node_type[t]] == NMW_HS_KIND_STRING) extras++;
    }
  }
  return extras;
}

void nmw_hs_digest_free(nmw_hs_digest *d) {
  if (d == NULL) return;
  free(d->id);
  free(d->cls);
  free(d->size);
  free(d->class_off);
  free(d->class_pool);
  free(d->class_nodes);
  free(d->class_bytes);
  free(d);
}

const char *nmw_hs_digest_class(const nmw_hs_digest *d, uint32_t cls) {
  return cls < d->class_count ? d->class_pool + d->class_off[cls] : NULL;
}

/* The digest, or with full false only its counts (see nmw_hs_summary_new). */
static nmw_hs_digest *digest_build(const nmw_hs_graph *g, const char *skip_name, bool full) {
  uint32_t n = g->node_count;
  nmw_hs_digest *d = calloc(1, sizeof *d);
  uint8_t *skip = skip_strings(g, skip_name);
  uint8_t *seen = calloc((size_t)n / 8 + 1, 1);
  uint32_t *stack = malloc(((size_t)n + 1) * sizeof *stack);
  uint64_t *keys = NULL;
  uint32_t *class_of_string = NULL;
  uint32_t kind_class[16];
  name_table names;
  bool names_ok = names_init(&names);
  if (d == NULL || skip == NULL || seen == NULL || stack == NULL || !names_ok) goto fail;

  /* Depth-first from the root; a node is marked when pushed, so the stack
   * never holds more than n entries. Without a skipped name in the strings,
   * no node is skipped: the check is left out of the loop. */
  bool any_skip = false;
  for (uint32_t i = 0; skip_name != NULL && i < g->string_count && !any_skip; i++) any_skip = skip[i] != 0;
  uint32_t top = 0, count = 0;
  uint64_t bytes = 0;
  d->node_count = n - numeric_extras(g);
  if (n > 0 && !skipped(g, skip, 0)) {
    seen[0] = 1;
    stack[top++] = 0;
  }
  while (top > 0) {
    uint32_t v = stack[--top];
    count++;
    bytes += g->node_size[v];
    bool from_number = g->node_kind[g->node_type[v]] == NMW_HS_KIND_NUMBER;
    for (uint32_t e = g->edge_first[v]; e < g->edge_first[v + 1]; e++) {
      uint32_t t = g->edge_to[e];
      if (seen[t >> 3] & (1u << (t & 7))) continue;
      if (any_skip && skipped(g, skip, t)) continue;
      if (numeric_extra(g, from_number, t)) continue;
      seen[t >> 3] |= (uint8_t)(1u << (t & 7));
      stack[top++] = t;
    }
  }
  free(stack);
  stack = NULL;
  d->count = count;
  d->size_bytes = bytes;

  /* Classes: one per memwatch name, interned once. */
  class_of_string = malloc(((size_t)g->string_count + 1) * sizeof *class_of_string);
  if (class_of_string == NULL) goto fail;
  memset(class_of_string, 0xFF, ((size_t)g->string_count + 1) * sizeof *class_of_string);
  memset(kind_class, 0xFF, sizeof kind_class);

  if (!full) {
    /* Counts only: the classes in node order, no per-node columns, no sort. */
    uint32_t cap = 0;
    for (uint32_t v = 0; v < n; v++) {
      if (!(seen[v >> 3] & (1u << (v & 7)))) continue;
      uint8_t kind = g->node_kind[g->node_type[v]];
      uint32_t cls;
      uint32_t *slot;
      const char *name;
      if (kind == NMW_HS_KIND_SKIP) continue;
      if (kind == NMW_HS_KIND_OBJECT) {
        uint32_t str = g->node_name[v] < g->string_count ? g->node_name[v] : g->string_count;
        slot = &class_of_string[str];
        name = str < g->string_count ? nmw_hs_graph_string(g, str) : NULL;
      } else {
        slot = &kind_class[kind];
        name = kind_names[kind];
      }
      cls = *slot;
      if (cls == UINT32_MAX) {
        cls = names_intern(&names, name != NULL ? name : "");
        if (cls == UINT32_MAX) goto fail;
        *slot = cls;
        if (cls >= cap) {
          uint32_t ncap = cap ? cap * 2 : 256;
          uint64_t *cn = realloc(d->class_nodes, ncap * sizeof *cn);
          if (cn == NULL) goto fail;
          d->class_nodes = cn;
          uint64_t *cb = realloc(d->class_bytes, ncap * sizeof *cb);
          if (cb == NULL) goto fail;
          d->class_bytes = cb;
          memset(cn + cap, 0, (ncap - cap) * sizeof *cn);
          memset(cb + cap, 0, (ncap - cap) * sizeof *cb);
          cap = ncap;
        }
      }
      d->class_nodes[cls]++;
      d->class_bytes[cls] += g->node_size[v];
    }
    free(seen);
    seen = NULL;
    free(class_of_string);
    class_of_string = NULL;
    if (d->class_nodes == NULL) {
      d->class_nodes = calloc(1, sizeof *d->class_nodes);
      d->class_bytes = calloc(1, sizeof *d->class_bytes);
      if (d->class_nodes == NULL || d->class_bytes == NULL) goto fail;
    }
    d->class_count = names.count;
    d->class_off = names.off;
    d->class_pool = names.pool;
    names.off = NULL;
    names.pool = NULL;
    names_free(&names);
    free(skip);
    return d;
  }

  keys = malloc(((size_t)count + 1) * sizeof *keys);
  d->cls = malloc(((size_t)count + 1) * sizeof *d->cls);
  d->id = malloc(((size_t)count + 1) * sizeof *d->id);
  d->size = malloc(((size_t)count + 1) * sizeof *d->size);
  if (keys == NULL || d->cls == NULL || d->id == NULL || d->size == NULL) goto fail;
  uint32_t k = 0;
  for (uint32_t v = 0; v < n; v++) {
    if (seen[v >> 3] & (1u << (v & 7))) keys[k++] = (uint64_t)g->node_id[v] << 32 | v;
  }
  free(seen);
  seen = NULL;
  if (!sort_by_id(keys, count)) goto fail;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t v = (uint32_t)keys[i];
    uint8_t kind = g->node_kind[g->node_type[v]];
    uint32_t cls = UINT32_MAX;
    if (kind == NMW_HS_KIND_OBJECT) {
      uint32_t s = g->node_name[v] < g->string_count ? g->node_name[v] : g->string_count;
      cls = class_of_string[s];
      if (cls == UINT32_MAX) {
        const char *name = s < g->string_count ? nmw_hs_graph_string(g, s) : NULL;
        cls = names_intern(&names, name != NULL ? name : "");
        if (cls == UINT32_MAX) goto fail;
        class_of_string[s] = cls;
      }
    } else if (kind != NMW_HS_KIND_SKIP) {
      cls = kind_class[kind];
      if (cls == UINT32_MAX) {
        cls = names_intern(&names, kind_names[kind]);
        if (cls == UINT32_MAX) goto fail;
        kind_class[kind] = cls;
      }
    }
    d->id[i] = (uint32_t)(keys[i] >> 32);
    d->cls[i] = cls;
    d->size[i] = g->node_size[v];
  }
  free(keys);
  keys = NULL;
  free(class_of_string);
  class_of_string = NULL;

  d->class_count = names.count;
  d->class_nodes = calloc(names.count + 1, sizeof *d->class_nodes);
  d->class_bytes = calloc(names.count + 1, sizeof *d->class_bytes);
  if (d->class_nodes == NULL || d->class_bytes == NULL) goto fail;
  for (uint32_t i = 0; i < count; i++) {
    if (d->cls[i] == UINT32_MAX) continue;
    d->class_nodes[d->cls[i]]++;
    d->class_bytes[d->cls[i]] += d->size[i];
  }
  d->class_off = names.off;
  d->class_pool = names.pool;
  names.off = NULL;
  names.pool = NULL;
  names_free(&names);
  free(skip);
  return d;

fail:
  free(skip);
  free(seen);
  free(stack);
  free(keys);
  free(class_of_string);
  if (names_ok) names_free(&names);
  nmw_hs_digest_free(d);
  return NULL;
}

nmw_hs_digest *nmw_hs_digest_new(const nmw_hs_graph *g, const char *skip_name) {
  return digest_build(g, skip_name, true);
}

nmw_hs_digest *nmw_hs_summary_new(const nmw_hs_graph *g, const char *skip_name) {
  return digest_build(g, skip_name, false);
}

/* ---- diffs ---- */

void nmw_hs_diff_free(nmw_hs_diff *d) {
  if (d == NULL) return;
  for (uint32_t i = 0; i < d->change_count; i++) free(d->changes[i].sample_ids);
  free(d->changes);
  free(d);
}

static int compare_changes(const void *a, const void *b) {
  return strcmp(((const nmw_hs_change *)a)->what, ((const nmw_hs_change *)b)->what);
}

/* Calls visit(ctx, side, index) for each node only in before (side 0) or only
 * in after (side 1), in id order. */
typedef void (*merge_fn)(void *ctx, int side, uint32_t index);
static void merge(const nmw_hs_digest *a, const nmw_hs_digest *b, merge_fn visit, void *ctx) {
  uint32_t i = 0, j = 0;
  while (i < a->count || j < b->count) {
    if (j == b->count || (i < a->count && a->id[i] < b->id[j])) {
      visit(ctx, 0, i++);
    } else if (i == a->count || b->id[j] < a->id[i]) {
      visit(ctx, 1, j++);
    } else {
      i++;
      j++;
    }
  }
}

typedef struct {
  const nmw_hs_digest *d[2];
  uint32_t *map[2]; /* digest class -> change index */
  nmw_hs_diff *diff;
  uint64_t *seen_added; /* per change, during the sampling pass */
  uint64_t *stride;
  uint32_t samples;
} diff_ctx;

static void count_change(void *arg, int side, uint32_t index) {
  diff_ctx *c = arg;
  if (side == 0) c->diff->freed_nodes++;
  else c->diff->allocated_nodes++;
  uint32_t cls = c->d[side]->cls[index];
  if (cls == UINT32_MAX) return;
  nmw_hs_change *ch = &c->diff->changes[c->map[side][cls]];
  int64_t size = (int64_t)c->d[side]->size[index];
  if (side == 0) {
    ch->released++;
    ch->size_bytes -= size;
  } else {
    ch->added++;
    ch->size_bytes += size;
  }
}

static void sample_change(void *arg, int side, uint32_t index) {
  diff_ctx *c = arg;
  if (side == 0) return;
  uint32_t cls = c->d[1]->cls[index];
  if (cls == UINT32_MAX) return;
  uint32_t x = c->map[1][cls];
  nmw_hs_change *ch = &c->diff->changes[x];
  uint64_t k = c->seen_added[x]++;
  if (k % c->stride[x] == 0 && ch->sample_count < c->samples) ch->sample_ids[ch->sample_count++] = c->d[1]->id[index];
}

nmw_hs_diff *nmw_hs_diff_new(const nmw_hs_digest *before, const nmw_hs_digest *after, uint32_t samples) {
  diff_ctx c;
  memset(&c, 0, sizeof c);
  c.d[0] = before;
  c.d[1] = after;
  c.samples = samples;
  name_table names;
  if (!names_init(&names)) return NULL;
  nmw_hs_diff *diff = calloc(1, sizeof *diff);
  c.map[0] = malloc(((size_t)before->class_count + 1) * sizeof(uint32_t));
  c.map[1] = malloc(((size_t)after->class_count + 1) * sizeof(uint32_t));
  if (diff == NULL || c.map[0] == NULL || c.map[1] == NULL) goto fail;
  c.diff = diff;
  for (int side = 0; side < 2; side++) {
    for (uint32_t k = 0; k < c.d[side]->class_count; k++) {
      c.map[side][k] = names_intern(&names, nmw_hs_digest_class(c.d[side], k));
      if (c.map[side][k] == UINT32_MAX) goto fail;
    }
  }
  /* Every class starts with a row; rows without change are dropped below. */
  diff->changes = calloc(names.count + 1, sizeof *diff->changes);
  if (diff->changes == NULL) goto fail;
  diff->change_count = names.count;
  merge(before, after, count_change, &c);
  diff->size_bytes = (int64_t)after->size_bytes - (int64_t)before->size_bytes;

  if (samples > 0) {
    c.seen_added = calloc(names.count + 1, sizeof *c.seen_added);
    c.stride = calloc(names.count + 1, sizeof *c.stride);
    if (c.seen_added == NULL || c.stride == NULL) goto fail;
    for (uint32_t x = 0; x < names.count; x++) {
      nmw_hs_change *ch = &diff->changes[x];
      c.stride[x] = ch->added <= samples ? 1 : (ch->added + samples - 1) / samples;
      if (ch->added == 0) continue;
      ch->sample_ids = malloc((ch->added < samples ? ch->added : samples) * sizeof *ch->sample_ids);
      if (ch->sample_ids == NULL) goto fail;
    }
    merge(before, after, sample_change, &c);
  }

  /* Names point into the digests' pools, which outlive the diff's use. */
  uint32_t kept = 0;
  for (int side = 0; side < 2; side++)
    for (uint32_t k = 0; k < c.d[side]->class_count; k++)
      diff->changes[c.map[side][k]].what = nmw_hs_digest_class(c.d[side], k);
  for (uint32_t x = 0; x < names.count; x++) {
    nmw_hs_change ch = diff->changes[x];
    if (ch.added == 0 && ch.released == 0) {
      free(ch.sample_ids);
      continue;
    }
    diff->changes[kept++] = ch;
  }
  diff->change_count = kept;
  qsort(diff->changes, kept, sizeof *diff->changes, compare_changes);
  free(c.map[0]);
  free(c.map[1]);
  free(c.seen_added);
  free(c.stride);
  names_free(&names);
  return diff;

fail:
  free(c.map[0]);
  free(c.map[1]);
  free(c.seen_added);
  free(c.stride);
  names_free(&names);
  nmw_hs_diff_free(diff);
  return NULL;
}

/* ---- retainer paths ---- */

struct nmw_hs_paths {
  const nmw_hs_graph *g;
  uint32_t *parent_edge; /* UINT32_MAX: not reached; the root has UINT32_MAX - 1 */
  uint32_t *parent_node;
  uint32_t *by_id; /* node indexes sorted by id */
};

void nmw_hs_paths_free(nmw_hs_paths *p) {
  if (p == NULL) return;
  free(p->parent_edge);
  free(p->parent_node);
  free(p->by_id);
  free(p);
}

nmw_hs_paths *nmw_hs_paths_new(const nmw_hs_graph *g, const char *skip_name) {
  uint32_t n = g->node_count;
  nmw_hs_paths *p = calloc(1, sizeof *p);
  uint8_t *skip = skip_strings(g, skip_name);
  uint32_t *queue = malloc(((size_t)n + 1) * sizeof *queue);
  uint64_t *keys = malloc(((size_t)n + 1) * sizeof *keys);
  if (p == NULL || skip == NULL || queue == NULL || keys == NULL) goto fail;
  p->g = g;
  p->parent_edge = malloc(((size_t)n + 1) * sizeof *p->parent_edge);
  p->parent_node = malloc(((size_t)n + 1) * sizeof *p->parent_node);
  p->by_id = malloc(((size_t)n + 1) * sizeof *p->by_id);
  if (p->parent_edge == NULL || p->parent_node == NULL || p->by_id == NULL) goto fail;
  memset(p->parent_edge, 0xFF, (size_t)n * sizeof *p->parent_edge);
  /* Two rounds: first from every root but the transient ones (the stack and
   * handle scopes, where a snapshot taken from JS finds its caller's locals),
   * then from those for what is left. A path through a global or a module
   * says more about a leak than one through the frame that took the snapshot. */
  uint8_t *deferred = calloc((size_t)n / 8 + 1, 1);
  uint8_t *pending_mark = calloc((size_t)n / 8 + 1, 1);
  uint32_t *pending = malloc(((size_t)n + 1) * sizeof *pending);
  if (deferred == NULL || pending == NULL || pending_mark == NULL) {
    free(deferred);
    free(pending_mark);
    free(pending);
    goto fail;
  }
  for (uint32_t v = 0; v < n; v++) {
    const char *type = g->node_type_names[g->node_type[v]];
    const char *name = nmw_hs_graph_string(g, g->node_name[v]);
    if (type != NULL && strcmp(type, "synthetic") == 0 && name != NULL &&
        (strncmp(name, "(Stack roots", 12) == 0 || strncmp(name, "(Handle scope", 13) == 0))
      deferred[v >> 3] |= (uint8_t)(1u << (v & 7));
  }
  uint32_t head = 0, tail = 0, npending = 0;
  if (n > 0) {
    p->parent_edge[0] = UINT32_MAX - 1;
    p->parent_node[0] = 0;
    queue[tail++] = 0;
  }
  for (int round = 0; round < 2; round++) {
    if (round == 1) {
      for (uint32_t k = 0; k < npending; k++) {
        uint32_t t = pending[k];
        if (p->parent_edge[t] != UINT32_MAX) continue;
        p->parent_edge[t] = p->by_id[t]; /* the edge that found it in round 0 */
        queue[tail++] = t;
      }
    }
    while (head < tail) {
      uint32_t v = queue[head++];
      for (uint32_t e = g->edge_first[v]; e < g->edge_first[v + 1]; e++) {
        uint32_t t = g->edge_to[e];
        if (p->parent_edge[t] != UINT32_MAX || g->edge_is_weak[g->edge_type[e]] || skipped(g, skip, t)) continue;
        if (round == 0 && (deferred[t >> 3] & (1u << (t & 7)))) {
          /* Remember the first way to it; parent_node holds it until round 1. */
          bool seen_before = (pending_mark[t >> 3] & (1u << (t & 7))) != 0;
          if (!seen_before) {
            pending_mark[t >> 3] |= (uint8_t)(1u << (t & 7));
            pending[npending++] = t;
            p->parent_node[t] = v;
            p->by_id[t] = e; /* by_id is filled later; borrowed as scratch */
          }
          continue;
        }
        p->parent_edge[t] = e;
        p->parent_node[t] = v;
        queue[tail++] = t;
      }
    }
  }
  free(deferred);
  free(pending_mark);
  free(pending);
  for (uint32_t v = 0; v < n; v++) keys[v] = (uint64_t)g->node_id[v] << 32 | v;
  if (!sort_by_id(keys, n)) goto fail;
  for (uint32_t v = 0; v < n; v++) p->by_id[v] = (uint32_t)keys[v];
  free(skip);
  free(queue);
  free(keys);
  return p;

fail:
  free(skip);
  free(queue);
  free(keys);
  nmw_hs_paths_free(p);
  return NULL;
}

uint32_t nmw_hs_paths_find(const nmw_hs_paths *p, uint32_t id) {
  uint32_t lo = 0, hi = p->g->node_count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    uint32_t mid_id = p->g->node_id[p->by_id[mid]];
    if (mid_id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < p->g->node_count && p->g->node_id[p->by_id[lo]] == id ? p->by_id[lo] : UINT32_MAX;
}

uint32_t nmw_hs_paths_get(const nmw_hs_paths *p, uint32_t node, uint32_t *nodes, uint32_t *edges, uint32_t max) {
  if (node >= p->g->node_count || p->parent_edge[node] == UINT32_MAX) return 0;
  uint32_t len = 1;
  for (uint32_t v = node; p->parent_edge[v] != UINT32_MAX - 1; v = p->parent_node[v]) len++;
  /* Fill from the end (the node) back to the root, writing only indexes < max. */
  uint32_t pos = len - 1, v = node;
  for (;;) {
    if (pos < max) nodes[pos] = v;
    if (p->parent_edge[v] == UINT32_MAX - 1) break;
    if (max > 0 && pos - 1 < max - 1) edges[pos - 1] = p->parent_edge[v];
    v = p->parent_node[v];
    pos--;
  }
  return len;
}
