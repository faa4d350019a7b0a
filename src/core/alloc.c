/*
 * alloc.c: the tracked twins of malloc, calloc, realloc, free, strdup and
 * aligned_alloc.
 *
 * A block is [padding][header 32 B][user bytes][canary 8 B]. The header names the
 * (site, tag) slot to credit when the block is freed, whichever thread frees it,
 * and carries a check word derived from the block's address: LIVE while the block
 * is allocated, DEAD once freed, PLAIN for blocks made by the public header's
 * fallback. The check word sits at the end of the header, which glibc's tcache
 * leaves alone when the chunk is freed, so a second free right after the first
 * is still recognised.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NMW_OVERHEAD (NMW_HEADER_SIZE + NMW_CANARY_SIZE)
#define NMW_ALIGN_MAX (1u << 20)

typedef enum block_state { BLOCK_LIVE, BLOCK_DEAD, BLOCK_PLAIN, BLOCK_FOREIGN } block_state_t;

static inline nmw_block_header_t *header(void *user) {
  return (nmw_block_header_t *)((unsigned char *)user - NMW_HEADER_SIZE);
}

static inline uint64_t canary_of(const nmw_block_header_t *h) { return h->check ^ NMW_CANARY_XOR; }

static inline void write_canary(nmw_block_header_t *h, void *user) {
  uint64_t c = canary_of(h);
  memcpy((unsigned char *)user + h->size, &c, sizeof c);
}

static inline bool canary_intact(const nmw_block_header_t *h, const void *user) {
  uint64_t c;
  memcpy(&c, (const unsigned char *)user + h->size, sizeof c);
  return c == canary_of(h);
}

/* Aligned blocks carry log2(alignment) in the upper byte of the header flags. */
static inline uint16_t aligned_flags(size_t alignment) {
  uint16_t log2 = 0;
  while (((size_t)1 << log2) < alignment) log2++;
  return (uint16_t)(NMW_BLOCK_ALIGNED | (log2 << 8));
}

/* Extra bytes a block took beyond header, data and canary. */
static inline size_t padding_of(const nmw_block_header_t *h) {
  return ((h->flags & NMW_BLOCK_ALIGNED) ? (size_t)1 << (h->flags >> 8) : 0) +
         ((h->flags & NMW_BLOCK_SLACK) ? 32 : 0);
}

NMW_INLINE block_state_t classify(const void *user) {
  const nmw_block_header_t *h = nmw__header_of(user);
  if (!h) return BLOCK_FOREIGN;
  uint64_t check = nmw__read_check(h), mix = NMW__MIX(user);
  if (check == (mix ^ NMW_MAGIC_LIVE)) return BLOCK_LIVE;
  if (check == (mix ^ NMW_MAGIC_DEAD)) return BLOCK_DEAD;
  if (check == (mix ^ NMW__MAGIC_PLAIN)) return BLOCK_PLAIN;
  return BLOCK_FOREIGN;
}

static nmw_tag_t checked_tag(nmw_tag_t tag, nmw_site_t *site) {
  if (NMW_LIKELY(tag < atomic_load_explicit(&nmw__g.tag_count, memory_order_acquire))) return tag;
  char detail[96];
  snprintf(detail, sizeof detail, "unknown tag id %u; credited to 'untagged'", (unsigned)tag);
  nmw__misuse(NMW_MISUSE_BAD_TAG, site, detail);
  return NMW_UNTAGGED;
}

/* Reports a bad pointer passed to free/realloc; returns true when the caller must
 * stop (the pointer is not a live block of ours). */
static bool refuse_bad_pointer(block_state_t state, const char *call, void *ptr, nmw_site_t *site) {
  char detail[128];
  if (state == BLOCK_DEAD) {
    snprintf(detail, sizeof detail, "%s(%p): block already freed; left alone", call, ptr);
    nmw__misuse(NMW_MISUSE_DOUBLE_FREE, site, detail);
    return true;
  }
  if (state == BLOCK_FOREIGN) {
    snprintf(detail, sizeof detail, "%s(%p): pointer not allocated by native-memwatch; left alone",
             call, ptr);
    nmw__misuse(NMW_MISUSE_FOREIGN_FREE, site, detail);
    return true;
  }
  return false;
}

/* Reports a free/realloc that named another tag than the block's (callers test). */
static void report_tag_mismatch(const nmw_block_header_t *h, nmw_tag_t tag, const char *call,
                                nmw_site_t *site) {
  char detail[192];
  const char *named = nmw_core_tag_name(tag);
  snprintf(detail, sizeof detail, "%s: block has tag '%s', the call named '%s'", call,
           nmw_core_tag_name(h->tag), named ? named : "(unknown)");
  nmw__misuse(NMW_MISUSE_TAG_MISMATCH, site, detail);
}

static void check_canary(const nmw_block_header_t *h, const void *user) {
  if (NMW_LIKELY(canary_intact(h, user))) return;
  nmw_site_t *alloc_site;
  nmw_tag_t tag;
  nmw__slot_info(h->slot, &alloc_site, &tag);
  char detail[160];
  snprintf(detail, sizeof detail, "write past the end of a %llu-byte block (tag '%s'), found at free",
           (unsigned long long)h->size, nmw_core_tag_name(h->tag));
  nmw__misuse(NMW_MISUSE_OVERRUN, alloc_site, detail);
}

/* Limited tags: the check and the credit happen under one lock, so concurrent
 * allocations cannot together pass the limit. Returns false when refused. */
static bool limit_admits(nmw_tag_t tag, uint64_t growth) {
  nmw_tag_state_t *t = &nmw__tags[tag];
  int64_t bytes, blocks;
  nmw__current(tag, &bytes, &blocks);
  uint64_t limit = atomic_load(&t->limit);
  if (growth == 0 || (bytes >= 0 && (uint64_t)bytes <= limit && growth <= limit - (uint64_t)bytes))
    return true;
  atomic_fetch_add_explicit(&t->limit_denied, 1, memory_order_relaxed);
  return false;
}

/* Allocates total bytes from libc and picks where the block starts, keeping the
 * placement rule of the public header (NMW__BAD_SPOT): about 1 in 128 fresh
 * addresses would put the header on the previous page; those are re-placed with
 * 32 bytes of slack. Returns the raw allocation, *user the block. */
static unsigned char *place(size_t total, size_t pad, size_t alignment, bool zero, void **user,
                            bool *slack) {
  *slack = false;
  unsigned char *raw = zero ? calloc(1, total) : malloc(total);
  if (NMW_UNLIKELY(raw == NULL)) return NULL;
  uintptr_t u = (uintptr_t)raw + NMW_HEADER_SIZE;
  if (pad) {
    u = (u + alignment - 1) & ~(uintptr_t)(alignment - 1);
  } else if (NMW_UNLIKELY(NMW__BAD_SPOT(u))) {
    unsigned char *wider = total <= SIZE_MAX - 32 ? (zero ? calloc(1, total + 32) : malloc(total + 32)) : NULL;
    free(raw);
    if (!wider) return NULL;
    raw = wider;
    u = (uintptr_t)raw + NMW_HEADER_SIZE;
    if (NMW__BAD_SPOT(u)) u += 32;
    *slack = true;
  }
  *user = (void *)u;
  return raw;
}

/* Who owns the external bytes of a block: the calling JS thread's environment, or
 * the one an _env variant named. */
#define OWNER_OF_THREAD UINT32_MAX

static inline nmw_owner_t resolve_owner(nmw_owner_t hint) {
  nmw_owner_t owner = hint == OWNER_OF_THREAD ? nmw__tls_owner : hint;
  return nmw__owner_live(owner) ? owner : 0;
}

/* Makes a block of size bytes aligned to alignment (16 or more) and credits it. */
static void *alloc_block(size_t alignment, size_t size, bool zero, nmw_tag_t tag, nmw_site_t *site,
                         nmw_owner_t owner_hint) {
  nmw_shard_t *sh = nmw__shard();
  tag = checked_tag(tag, site);
  size_t pad = alignment > 16 ? alignment : 0;
  if (NMW_UNLIKELY(size > SIZE_MAX - NMW_OVERHEAD - pad)) {
    errno = ENOMEM;
    return NULL;
  }
  size_t total = NMW_OVERHEAD + size + pad;
  void *user = NULL;
  unsigned tag_flags = atomic_load_explicit(&nmw__tags[tag].flags, memory_order_relaxed);
  bool limited = tag_flags & NMW_TAGF_LIMITED;
  if (NMW_UNLIKELY(limited)) {
    uv_mutex_lock(&nmw__g.limit_lock);
    if (!limit_admits(tag, size)) {
      uv_mutex_unlock(&nmw__g.limit_lock);
      errno = ENOMEM;
      return NULL;
    }
  }
  bool slack;
  unsigned char *raw = place(total, pad, alignment, zero, &user, &slack);
  if (NMW_LIKELY(raw != NULL)) {
    uintptr_t u = (uintptr_t)user;
    uint32_t slot = nmw__slot_for(site, tag);
    nmw_block_header_t *h = header(user);
    h->size = size;
    h->slot = slot;
    h->owner = 0;
    h->offset = (uint32_t)(u - (uintptr_t)raw);
    h->tag = (uint16_t)tag;
    h->flags = pad ? aligned_flags(pad) : slack ? NMW_BLOCK_SLACK : 0;
    h->check = NMW__MIX(user) ^ NMW_MAGIC_LIVE;
    write_canary(h, user);
    if (NMW_UNLIKELY(pad || slack))
      NMW_ADD(sh->padding_bytes, (int64_t)(pad + (slack ? 32 : 0)));
    nmw__credit_alloc(sh, slot, tag, size);
    if (tag_flags & NMW_TAG_EXTERNAL) {
      h->owner = resolve_owner(owner_hint);
      h->flags |= NMW_BLOCK_EXTERNAL;
    }
  }
  if (NMW_UNLIKELY(limited)) uv_mutex_unlock(&nmw__g.limit_lock);
  /* After the limit lock: crediting may report to V8 at once, which can run a GC
   * and finalizers that allocate again. */
  if (user && (tag_flags & NMW_TAG_EXTERNAL))
    nmw__ext_add(sh, header(user)->owner, NMW_TAGF_EXT_INDEX(tag_flags), (int64_t)size);
  return user;
}

static nmw_owner_t owner_of(const void *env) {
  return env ? nmw_core_owner_of_env(env) : OWNER_OF_THREAD;
}

static void *calloc_block(size_t count, size_t size, nmw_tag_t tag, nmw_site_t *site,
                          nmw_owner_t owner) {
  if (size != 0 && count > SIZE_MAX / size) {
    errno = ENOMEM;
    return NULL;
  }
  return alloc_block(16, count * size, true, tag, site, owner);
}

static char *strdup_block(const char *s, nmw_tag_t tag, nmw_site_t *site, nmw_owner_t owner) {
  if (s == NULL) {
    errno = EINVAL;
    return NULL;
  }
  size_t n = strlen(s) + 1;
  char *copy = alloc_block(16, n, false, tag, site, owner);
  if (copy) memcpy(copy, s, n);
  return copy;
}

static void *aligned_block(size_t alignment, size_t size, nmw_tag_t tag, nmw_site_t *site,
                           nmw_owner_t owner) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > NMW_ALIGN_MAX) {
    errno = EINVAL;
    return NULL;
  }
  return alloc_block(alignment < 16 ? 16 : alignment, size, false, tag, site, owner);
}

void *nmw_core_malloc(size_t size, nmw_tag_t tag, nmw_site_t *site) {
  return alloc_block(16, size, false, tag, site, OWNER_OF_THREAD);
}

void *nmw_core_calloc(size_t count, size_t size, nmw_tag_t tag, nmw_site_t *site) {
  return calloc_block(count, size, tag, site, OWNER_OF_THREAD);
}

char *nmw_core_strdup(const char *s, nmw_tag_t tag, nmw_site_t *site) {
  return strdup_block(s, tag, site, OWNER_OF_THREAD);
}

void *nmw_core_aligned_alloc(size_t alignment, size_t size, nmw_tag_t tag, nmw_site_t *site) {
  return aligned_block(alignment, size, tag, site, OWNER_OF_THREAD);
}

void *nmw_core_malloc_env(size_t size, nmw_tag_t tag, const void *env, nmw_site_t *site) {
  return alloc_block(16, size, false, tag, site, owner_of(env));
}

void *nmw_core_calloc_env(size_t count, size_t size, nmw_tag_t tag, const void *env,
                          nmw_site_t *site) {
  return calloc_block(count, size, tag, site, owner_of(env));
}

char *nmw_core_strdup_env(const char *s, nmw_tag_t tag, const void *env, nmw_site_t *site) {
  return strdup_block(s, tag, site, owner_of(env));
}

void *nmw_core_aligned_alloc_env(size_t alignment, size_t size, nmw_tag_t tag, const void *env,
                                 nmw_site_t *site) {
  return aligned_block(alignment, size, tag, site, owner_of(env));
}

void nmw_core_free(void *ptr, nmw_tag_t tag, nmw_site_t *site) {
  if (ptr == NULL) return;
  block_state_t state = classify(ptr);
  if (NMW_UNLIKELY(state != BLOCK_LIVE)) {
    if (state == BLOCK_PLAIN) {
      nmw__plain_free(ptr); /* made by the fallback before tracking was on */
      return;
    }
    refuse_bad_pointer(state, "free", ptr, site);
    return;
  }
  nmw_block_header_t *h = header(ptr);
  if (NMW_UNLIKELY(tag != NMW_ANY_TAG && tag != h->tag)) report_tag_mismatch(h, tag, "free", site);
  check_canary(h, ptr);
  nmw_shard_t *sh = nmw__shard();
  nmw__credit_free(sh, h->slot, h->tag, h->size);
  if (NMW_UNLIKELY(h->flags & NMW_BLOCK_EXTERNAL))
    nmw__ext_credit(sh, h->owner, NMW_TAGF_EXT_INDEX(atomic_load(&nmw__tags[h->tag].flags)),
                    -(int64_t)h->size);
  if (NMW_UNLIKELY(h->flags & (NMW_BLOCK_ALIGNED | NMW_BLOCK_SLACK)))
    NMW_ADD(sh->padding_bytes, -(int64_t)padding_of(h));
  h->check = NMW__MIX(ptr) ^ NMW_MAGIC_DEAD;
  free((unsigned char *)ptr - h->offset);
}

void *nmw_core_realloc(void *ptr, size_t size, nmw_tag_t tag, nmw_site_t *site) {
  /* NMW_ANY_TAG skips the tag check on an existing block; a new one is untagged. */
  if (ptr == NULL) return nmw_core_malloc(size, tag == NMW_ANY_TAG ? NMW_UNTAGGED : tag, site);
  block_state_t state = classify(ptr);
  if (state == BLOCK_PLAIN && size == 0) {
    nmw__plain_free(ptr);
    return NULL;
  }
  if (state == BLOCK_PLAIN) {
    /* A fallback block becomes a tracked one. */
    const nmw_block_header_t *plain = nmw__header_of(ptr);
    size_t old = plain->size, alignment = nmw__plain_alignment(plain);
    nmw_tag_t new_tag = tag == NMW_ANY_TAG ? NMW_UNTAGGED : tag;
    void *fresh = alignment ? aligned_block(alignment, size, new_tag, site, OWNER_OF_THREAD)
                            : nmw_core_malloc(size, new_tag, site);
    if (!fresh) return NULL;
    memcpy(fresh, ptr, old < size ? old : size);
    nmw__plain_free(ptr);
    return fresh;
  }
  if (refuse_bad_pointer(state, "realloc", ptr, site)) return NULL;
  nmw_block_header_t *h = header(ptr);
  if (tag != NMW_ANY_TAG && tag != h->tag) report_tag_mismatch(h, tag, "realloc", site);
  if (size == 0) {
    nmw_core_free(ptr, NMW_ANY_TAG, site);
    return NULL;
  }
  check_canary(h, ptr);
  nmw_tag_t btag = h->tag;
  uint32_t slot = h->slot;
  uint64_t old_size = h->size;
  bool aligned = h->flags & NMW_BLOCK_ALIGNED;
  size_t pad = aligned ? padding_of(h) : 0;
  if (size > SIZE_MAX - NMW_OVERHEAD - pad) {
    errno = ENOMEM;
    return NULL;
  }
  bool limited = atomic_load(&nmw__tags[btag].flags) & NMW_TAGF_LIMITED;
  if (limited) {
    uv_mutex_lock(&nmw__g.limit_lock);
    if (!limit_admits(btag, size > old_size ? size - old_size : 0)) {
      uv_mutex_unlock(&nmw__g.limit_lock);
      errno = ENOMEM;
      return NULL;
    }
  }
  void *user = NULL;
  nmw_shard_t *sh = nmw__shard();
  if (!aligned) {
    /* libc realloc, with 32 bytes of slack so that the block can be moved by 32
     * bytes inside its allocation when libc puts it where the placement rule
     * forbids. The old header is marked dead first (if libc moves the block the
     * old address must read as freed) and restored if libc fails. */
    size_t offset = h->offset;
    bool had_slack = h->flags & NMW_BLOCK_SLACK;
    h->check = NMW__MIX(ptr) ^ NMW_MAGIC_DEAD;
    unsigned char *raw = realloc((unsigned char *)ptr - offset, NMW_OVERHEAD + 32 + size);
    if (!raw) {
      h->check = NMW__MIX(ptr) ^ NMW_MAGIC_LIVE;
    } else {
      size_t at = offset;
      if (NMW__BAD_SPOT(raw + at)) at = at == NMW_HEADER_SIZE ? NMW_HEADER_SIZE + 32 : NMW_HEADER_SIZE;
      if (at != offset)
        memmove(raw + at - NMW_HEADER_SIZE, raw + offset - NMW_HEADER_SIZE,
                NMW_HEADER_SIZE + (old_size < size ? old_size : size));
      user = raw + at;
      h = header(user);
      h->offset = (uint32_t)at;
      h->flags |= NMW_BLOCK_SLACK;
      if (!had_slack) NMW_ADD(sh->padding_bytes, 32);
    }
  } else {
    unsigned char *raw = malloc(NMW_OVERHEAD + size + pad);
    if (raw) {
      uintptr_t u = ((uintptr_t)raw + NMW_HEADER_SIZE + pad - 1) & ~(uintptr_t)(pad - 1);
      user = (void *)u;
      memcpy(header(user), h, sizeof *h);
      memcpy(user, ptr, old_size < size ? old_size : size);
      h->check = NMW__MIX(ptr) ^ NMW_MAGIC_DEAD;
      free((unsigned char *)ptr - h->offset);
      h = header(user);
      h->offset = (uint32_t)(u - (uintptr_t)raw);
    }
  }
  if (user) {
    h->size = size;
    h->check = NMW__MIX(user) ^ NMW_MAGIC_LIVE;
    write_canary(h, user);
    nmw__credit_realloc(sh, slot, btag, old_size, size);
  }
  if (limited) uv_mutex_unlock(&nmw__g.limit_lock);
  if (user && (h->flags & NMW_BLOCK_EXTERNAL)) {
    /* After the limit lock, as in alloc_block: this may report to V8 at once. */
    unsigned ei = NMW_TAGF_EXT_INDEX(atomic_load(&nmw__tags[btag].flags));
    if (h->owner != 0 && !nmw__owner_live(h->owner)) {
      /* Its environment is gone: the old bytes die with it, the block is re-homed. */
      nmw__ext_credit(sh, h->owner, ei, -(int64_t)old_size);
      h->owner = resolve_owner(OWNER_OF_THREAD);
      nmw__ext_credit(sh, h->owner, ei, (int64_t)size);
    } else {
      nmw__ext_credit(sh, h->owner, ei, (int64_t)size - (int64_t)old_size);
    }
  }
  return user;
}

size_t nmw_core_block_size(const void *ptr) {
  if (ptr == NULL) return 0;
  block_state_t state = classify(ptr);
  if (state != BLOCK_LIVE && state != BLOCK_PLAIN) return 0;
  return (size_t)nmw__header_of(ptr)->size;
}

nmw_tag_t nmw_core_block_tag(const void *ptr) {
  if (ptr == NULL || classify(ptr) != BLOCK_LIVE) return NMW_ANY_TAG;
  return nmw__header_of(ptr)->tag;
}
