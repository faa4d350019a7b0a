/* tags.c: the process-wide tag registry and the core's one-time initialisation. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

nmw_globals_t nmw__g = {.once = UV_ONCE_INIT};
nmw_tag_state_t nmw__tags[NMW_TAG_MAX];
nmw_total_state_t nmw__total;

static uint32_t ext_indices_used; /* under tag_lock */

/* External tags get a permanent index into the per-owner counters the first time
 * they are made external. Returns the flags to store, or 0 with *rc set when all
 * NMW_EXT_TAG_MAX indices are taken. Called with tag_lock held. */
static unsigned with_ext_index(unsigned old, unsigned flags, int *rc) {
  unsigned merged = (old & ~NMW_TAGF_PUBLIC_MASK) | flags;
  if ((flags & NMW_TAG_EXTERNAL) && !(old & NMW_TAGF_HAS_EXT_INDEX)) {
    if (ext_indices_used >= NMW_EXT_TAG_MAX) {
      *rc = NMW_ENOSPC;
      return 0;
    }
    merged |= NMW_TAGF_HAS_EXT_INDEX | (ext_indices_used++ << NMW_TAGF_EXT_INDEX_SHIFT);
  }
  *rc = NMW_OK;
  return merged;
}

/* The gate's slow-path bits for these stored flags. */
static uint64_t gate_bits(unsigned flags) {
  return ((flags & NMW_TAGF_LIMITED) ? NMW_GATE_SLOW_LIMITED : 0) |
         ((flags & NMW_TAG_EXTERNAL) ? NMW_GATE_SLOW_EXTERNAL : 0) |
         ((flags & NMW_TAG_STRICT_PEAKS) ? NMW_GATE_SLOW_STRICT : 0);
}

/* Keeps the gate's flag bits in step with the stored flags (under tag_lock). */
static void gate_follow(nmw_tag_state_t *t) {
  uint64_t bits = gate_bits(atomic_load(&t->flags));
  uint64_t g = atomic_load(&t->gate);
  while (!atomic_compare_exchange_weak(&t->gate, &g, (g & ~NMW_GATE_SLOW_MASK) | bits)) {
  }
}

void nmw__gate_bump(nmw_tag_t tag) { atomic_fetch_add(&nmw__tags[tag].gate, NMW_GATE_EPOCH); }

void nmw__gate_bump_all(void) {
  uint32_t count = atomic_load_explicit(&nmw__g.tag_count, memory_order_acquire);
  for (uint32_t i = 0; i < count; i++) nmw__gate_bump(i);
}

static void init_tag(nmw_tag_t id, const char *name, unsigned flags) {
  nmw_tag_state_t *t = &nmw__tags[id];
  /* No allocation has seen the tag yet, so peaks start at zero. */
  atomic_store(&t->limit, NMW_NO_LIMIT);
  atomic_store(&t->limit_denied, 0);
  atomic_store(&t->folded_bytes, 0);
  atomic_store(&t->folded_blocks, 0);
  atomic_store(&t->peak_bytes, 0);
  atomic_store(&t->peak_blocks, 0);
  atomic_store(&t->shards_seen, 0);
  strcpy(t->name, name);
  atomic_store_explicit(&t->flags, flags, memory_order_release);
  atomic_store_explicit(&t->gate, NMW_GATE_EPOCH | gate_bits(flags), memory_order_release);
}

static void init_once(void) {
  uv_mutex_init(&nmw__g.tag_lock);
  uv_mutex_init(&nmw__g.shard_lock);
  uv_mutex_init(&nmw__g.slot_lock);
  uv_mutex_init(&nmw__g.peak_lock);
  uv_mutex_init(&nmw__g.limit_lock);
  for (uint32_t i = 0; i < NMW_TAG_MAX; i++) nmw__slot_tag[i] = (uint16_t)i;
  init_tag(NMW_UNTAGGED, "untagged", 0);
  atomic_store_explicit(&nmw__g.tag_count, 1, memory_order_release);
}

void nmw__init(void) { uv_once(&nmw__g.once, init_once); }

/* Tracker memory takes whole cache lines, so that a per-thread counter page never
 * shares a line with blocks another thread writes (false sharing). */
void *nmw__meta_calloc(size_t count, size_t size) {
  if (size != 0 && count > (SIZE_MAX - NMW_CACHE_LINE) / size) return NULL;
  size_t bytes = (count * size + NMW_CACHE_LINE - 1) & ~(size_t)(NMW_CACHE_LINE - 1);
  if (bytes == 0) bytes = NMW_CACHE_LINE;
  void *p = aligned_alloc(NMW_CACHE_LINE, bytes);
  if (!p) return NULL;
  memset(p, 0, bytes);
  atomic_fetch_add_explicit(&nmw__g.metadata_bytes, bytes, memory_order_relaxed);
  return p;
}

void nmw__meta_free(void *p, size_t count, size_t size) {
  if (!p) return;
  size_t bytes = (count * size + NMW_CACHE_LINE - 1) & ~(size_t)(NMW_CACHE_LINE - 1);
  atomic_fetch_sub_explicit(&nmw__g.metadata_bytes, bytes ? bytes : NMW_CACHE_LINE,
                            memory_order_relaxed);
  free(p);
}

bool nmw_core_tag_name_valid(const char *name) {
  if (name == NULL) return false;
  size_t n = 0;
  for (const char *c = name; *c; c++, n++) {
    bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '_' || *c == ':' || *c == '/' || *c == '-';
    if (!ok || n >= NMW_TAG_NAME_MAX) return false;
  }
  return n > 0;
}

/* Linear search: registration and look-up by name are rare, ids are the hot key. */
static int find_locked(const char *name, nmw_tag_t *out) {
  uint32_t count = atomic_load_explicit(&nmw__g.tag_count, memory_order_relaxed);
  for (uint32_t i = 0; i < count; i++) {
    if (strcmp(nmw__tags[i].name, name) == 0) {
      *out = i;
      return NMW_OK;
    }
  }
  return NMW_ENOENT;
}

int nmw_core_tag_register(const char *name, unsigned flags, nmw_tag_t *out) {
  nmw__init();
  if (!nmw_core_tag_name_valid(name) || (flags & ~NMW_TAGF_PUBLIC_MASK) != 0) return NMW_EINVAL;
  nmw_tag_t id;
  int rc;
  uv_mutex_lock(&nmw__g.tag_lock);
  if (find_locked(name, &id) == NMW_OK) {
    unsigned have = atomic_load(&nmw__tags[id].flags) & NMW_TAGF_PUBLIC_MASK;
    rc = have == flags ? NMW_OK : NMW_ECONFLICT;
  } else {
    id = atomic_load_explicit(&nmw__g.tag_count, memory_order_relaxed);
    if (id >= NMW_TAG_MAX) {
      uv_mutex_unlock(&nmw__g.tag_lock);
      return NMW_ENOSPC;
    }
    int ext_rc;
    unsigned stored = with_ext_index(0, flags, &ext_rc);
    if (ext_rc != NMW_OK) {
      uv_mutex_unlock(&nmw__g.tag_lock);
      return ext_rc;
    }
    init_tag(id, name, stored);
    /* Publish: allocations check ids against the count. */
    atomic_store_explicit(&nmw__g.tag_count, id + 1, memory_order_release);
    rc = NMW_OK;
  }
  uv_mutex_unlock(&nmw__g.tag_lock);
  if (out) *out = id;
  return rc;
}

int nmw_core_tag_lookup(const char *name, nmw_tag_t *out) {
  nmw__init();
  if (!nmw_core_tag_name_valid(name)) return NMW_EINVAL;
  uv_mutex_lock(&nmw__g.tag_lock);
  int rc = find_locked(name, out);
  uv_mutex_unlock(&nmw__g.tag_lock);
  return rc;
}

uint32_t nmw_core_tag_count(void) {
  nmw__init();
  return atomic_load_explicit(&nmw__g.tag_count, memory_order_acquire);
}

static bool valid_id(nmw_tag_t tag) { return tag < nmw_core_tag_count(); }

const char *nmw_core_tag_name(nmw_tag_t tag) { return valid_id(tag) ? nmw__tags[tag].name : NULL; }

unsigned nmw_core_tag_flags(nmw_tag_t tag) {
  return valid_id(tag) ? (atomic_load(&nmw__tags[tag].flags) & NMW_TAGF_PUBLIC_MASK) : 0;
}

uint64_t nmw_core_tag_limit(nmw_tag_t tag) {
  return valid_id(tag) ? atomic_load(&nmw__tags[tag].limit) : NMW_NO_LIMIT;
}

int nmw_core_tag_set_flags(nmw_tag_t tag, unsigned flags) {
  if (!valid_id(tag) || (flags & ~NMW_TAGF_PUBLIC_MASK) != 0) return NMW_EINVAL;
  uv_mutex_lock(&nmw__g.tag_lock);
  int rc;
  unsigned old = atomic_load(&nmw__tags[tag].flags);
  /* Strict peaks are chosen at registration, for good. */
  if ((old ^ flags) & NMW_TAG_STRICT_PEAKS) {
    uv_mutex_unlock(&nmw__g.tag_lock);
    return NMW_EINVAL;
  }
  unsigned stored = with_ext_index(old, flags, &rc);
  if (rc == NMW_OK) {
    atomic_store(&nmw__tags[tag].flags, stored);
    gate_follow(&nmw__tags[tag]);
  }
  uv_mutex_unlock(&nmw__g.tag_lock);
  return rc;
}

int nmw_core_tag_set_limit(nmw_tag_t tag, uint64_t limit_bytes) {
  if (!valid_id(tag)) return NMW_EINVAL;
  nmw_tag_state_t *t = &nmw__tags[tag];
  /* Taking the limit lock orders the change against limited allocations in flight. */
  uv_mutex_lock(&nmw__g.limit_lock);
  uv_mutex_lock(&nmw__g.tag_lock);
  atomic_store(&t->limit, limit_bytes);
  if (limit_bytes == NMW_NO_LIMIT)
    atomic_fetch_and(&t->flags, ~NMW_TAGF_LIMITED);
  else
    atomic_fetch_or(&t->flags, NMW_TAGF_LIMITED);
  gate_follow(t);
  uv_mutex_unlock(&nmw__g.tag_lock);
  uv_mutex_unlock(&nmw__g.limit_lock);
  return NMW_OK;
}
