/*
 * native_memwatch.h: the public C API of native-memwatch for other addons.
 *
 * An addon includes this header, calls nmw_import(env) once per environment in
 * its init, and then allocates with the nmw_* twins of the libc functions. When
 * native-memwatch is loaded in the process, every block is credited to a tag and
 * to the call site that allocated it. When it is not, the same calls fall back to
 * plain libc allocation, so they can be shipped unconditionally.
 *
 * The implementation is reached at run time through a versioned function table
 * that native-memwatch publishes as a type-tagged napi_external on
 * globalThis[Symbol.for('native-memwatch.api')]. There is no link-time
 * dependency. The header works from C (C99 or later) and C++.
 *
 * Full reference: docs/c-api.md.
 */
#ifndef NATIVE_MEMWATCH_H
#define NATIVE_MEMWATCH_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
/* The probe of a page-aligned pointer's header (nmw__header_of) asks the kernel
 * to copy the header with process_vm_readv, which fails with EFAULT instead of
 * faulting on a PROT_NONE or unmapped page. syscall() and mincore() are not
 * declared under strict -std=c11 (no _DEFAULT_SOURCE); these are glibc's and
 * musl's own declarations, valid in C and C++. */
#include <sys/syscall.h>
#include <sys/uio.h>
#if defined(__GLIBC__)
#include <sys/cdefs.h>
#define NMW__THROW __THROW
#else
#define NMW__THROW
#endif
#ifdef __cplusplus
extern "C" long syscall(long __sysno, ...) NMW__THROW;
extern "C" int mincore(void *__start, size_t __len, unsigned char *__vec) NMW__THROW;
#else
extern long syscall(long __sysno, ...) NMW__THROW;
extern int mincore(void *__start, size_t __len, unsigned char *__vec) NMW__THROW;
#endif
#endif

#ifndef NMW_NO_NODE_API
#include <node_api.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI version: the layout of nmw_api_t and of plain blocks. A provider
 * with another abi_version is refused; newer providers of the same version may
 * only append to the table, which the size field shows. */
#define NMW_ABI_VERSION 1
#define NMW_API_SYMBOL "native-memwatch.api"

/* Return codes. NMW_ENOTLOADED is not an error: the calls work as plain allocation. */
#define NMW_OK 0
#define NMW_ENOTLOADED 1
#define NMW_EINVAL (-1)   /* an argument is invalid (name, tag, alignment, pointer) */
#define NMW_ENOSPC (-2)   /* a fixed table is full (tags, sites) */
#define NMW_ENOENT (-3)   /* no such tag or tracked pointer */
#define NMW_ECONFLICT (-4) /* the tag exists with other flags; *out still names it */
#define NMW_EVERSION (-5) /* the provider's ABI does not match this header */
#define NMW_ENAPI (-6)    /* a Node-API call failed during nmw_import */
#define NMW_ENOMEM (-7)   /* out of memory */

/* Tags: process-wide, named, idempotent. Tag 0 is "untagged". */
typedef uint32_t nmw_tag_t;
#define NMW_UNTAGGED ((nmw_tag_t)0)
#define NMW_ANY_TAG ((nmw_tag_t)0xffffffffu) /* for nmw_free/realloc: skip the tag check */
#define NMW_TAG_MAX 4096                      /* tags, including "untagged" */
#define NMW_TAG_NAME_MAX 64                   /* characters of [A-Za-z0-9._:/-] */
#define NMW_TAG_EXTERNAL 0x1u                 /* report this tag's bytes to V8 */
/* Linearizable peaks for this tag (one shared atomic add per allocation and free
 * of the tag: it costs under contention). Registration only; a provider older
 * than this flag answers NMW_EINVAL (unknown flag), as it does for any. */
#define NMW_TAG_STRICT_PEAKS 0x2u
#define NMW_NO_LIMIT UINT64_MAX

/* A call site. The NMW_SITE() macro makes one static record per call site; the
 * implementation owns the impl field (it caches the site's counter slot). */
typedef struct nmw_site {
  const char *file;
  const char *func;
  uint32_t line;
  uint32_t reserved;
  uint64_t impl;
} nmw_site_t;

#define NMW_SITE_INIT(file, line, func) {(file), (func), (uint32_t)(line), 0, 0}
#if defined(__GNUC__) || defined(__clang__)
#define NMW_SITE()                                                                  \
  __extension__({                                                                   \
    static nmw_site_t nmw__site_here = NMW_SITE_INIT(__FILE__, __LINE__, __func__); \
    &nmw__site_here;                                                                \
  })
#else
#define NMW_SITE() ((nmw_site_t *)0) /* no statement expressions: no per-site records */
#endif

/* The layout of a "plain" block, made by the fallback below (native-memwatch not
 * loaded): this header 32 bytes before the pointer returned to the caller, then
 * the caller's bytes and an 8-byte canary. The tracker recognises plain blocks by
 * their check word and frees them correctly once it is loaded. Its own blocks
 * have a smaller layout of their own (docs/c-api.md: block layout), with their
 * check word in the same place, right before the block, and never "plain"; no
 * code in this header reads them. */
typedef struct nmw_block_header {
  uint64_t size;   /* bytes asked for */
  uint32_t slot;   /* implementation: the (site, tag) counter slot */
  uint32_t owner;  /* implementation: the environment that owns external bytes */
  uint32_t offset; /* bytes from the start of the underlying allocation to the block */
  uint16_t tag;
  uint16_t flags;
  uint64_t check; /* the block's address mixed with a magic: live, freed or plain */
} nmw_block_header_t;

#define NMW_HEADER_SIZE 32
#define NMW_CANARY_SIZE 8
#define NMW__MIX(p) ((uint64_t)(uintptr_t)(p) * UINT64_C(0x9E3779B97F4A7C15))
#define NMW__MAGIC_PLAIN UINT64_C(0x6e6d772d706c6e21) /* "nmw-pln!" */

/* A Node-API finalizer (napi_finalize) as the table sees it: the table is
 * declared without Node-API types, so napi_env and napi_value are void * here. */
typedef void (*nmw_finalize_fn)(void *env, void *data, void *hint);

/* The function table. Members are only ever appended. */
typedef struct nmw_api {
  uint32_t abi_version;
  uint32_t size; /* sizeof(nmw_api_t) of the provider */
  int (*tag_register)(const char *name, unsigned flags, nmw_tag_t *out);
  int (*tag_set_limit)(nmw_tag_t tag, uint64_t limit_bytes);
  void *(*malloc)(size_t size, nmw_tag_t tag, nmw_site_t *site);
  void *(*calloc)(size_t count, size_t size, nmw_tag_t tag, nmw_site_t *site);
  void *(*realloc)(void *ptr, size_t size, nmw_tag_t tag, nmw_site_t *site);
  void (*free)(void *ptr, nmw_tag_t tag, nmw_site_t *site);
  char *(*strdup)(const char *s, nmw_tag_t tag, nmw_site_t *site);
  void *(*aligned_alloc)(size_t alignment, size_t size, nmw_tag_t tag, nmw_site_t *site);
  int (*track)(void *ptr, size_t size, nmw_tag_t tag, nmw_site_t *site);
  int (*untrack)(void *ptr, nmw_site_t *site);
  size_t (*block_size)(const void *ptr);
  /* External memory. env is a napi_env, used only as a key off its JS thread. */
  int (*env_attach)(void *env); /* JS thread: nmw_import() calls it */
  void *(*malloc_env)(size_t size, nmw_tag_t tag, const void *env, nmw_site_t *site);
  void *(*calloc_env)(size_t count, size_t size, nmw_tag_t tag, const void *env,
                      nmw_site_t *site);
  void *(*aligned_alloc_env)(size_t alignment, size_t size, nmw_tag_t tag, const void *env,
                             nmw_site_t *site);
  char *(*strdup_env)(const char *s, nmw_tag_t tag, const void *env, nmw_site_t *site);
  int (*external_adjust)(const void *env, nmw_tag_t tag, int64_t delta, nmw_site_t *site);
  int (*tag_set_external)(nmw_tag_t tag, int external);
  /* Finalizer audit: the Node-API calls (napi_env, napi_value and napi_ref as
   * void *), returning a napi_status; see nmw_wrap() and the others below. */
  int (*wrap)(void *env, void *js_object, void *native_object, nmw_finalize_fn finalize_cb,
              void *finalize_hint, void **result, nmw_tag_t tag, nmw_site_t *site);
  int (*remove_wrap)(void *env, void *js_object, void **result, nmw_tag_t tag, nmw_site_t *site);
  int (*add_finalizer)(void *env, void *js_object, void *finalize_data, nmw_finalize_fn finalize_cb,
                       void *finalize_hint, void **result, nmw_tag_t tag, nmw_site_t *site);
  int (*create_external)(void *env, void *data, nmw_finalize_fn finalize_cb, void *finalize_hint,
                         void **result, nmw_tag_t tag, nmw_site_t *site);
  int (*create_external_arraybuffer)(void *env, void *external_data, size_t byte_length,
                                     nmw_finalize_fn finalize_cb, void *finalize_hint,
                                     void **result, nmw_tag_t tag, nmw_site_t *site);
  int (*create_external_buffer)(void *env, size_t length, void *data, nmw_finalize_fn finalize_cb,
                                void *finalize_hint, void **result, nmw_tag_t tag,
                                nmw_site_t *site);
  int (*set_instance_data)(void *env, void *data, nmw_finalize_fn finalize_cb, void *finalize_hint,
                           nmw_tag_t tag, nmw_site_t *site);
  int (*delete_reference)(void *env, void *ref, nmw_tag_t tag, nmw_site_t *site);
  /* Appended members of later versions follow. */
} nmw_api_t;

/* ---- the table pointer shared by all translation units of one addon ---- */

#if defined(__GNUC__) || defined(__clang__)
__attribute__((weak, visibility("hidden"))) const nmw_api_t *nmw__api_table = 0;
#define NMW__LOAD_API() __atomic_load_n(&nmw__api_table, __ATOMIC_ACQUIRE)
#define NMW__STORE_API(p) __atomic_store_n(&nmw__api_table, (p), __ATOMIC_RELEASE)
#else
static const nmw_api_t *nmw__api_table = 0; /* one per translation unit */
#define NMW__LOAD_API() (nmw__api_table)
#define NMW__STORE_API(p) (nmw__api_table = (p))
#endif

/* The table in use, or NULL while calls fall back to plain allocation. */
static inline const nmw_api_t *nmw_api(void) { return NMW__LOAD_API(); }

/* ---- the plain fallback (same block layout, no accounting) ---- */

#if defined(__GNUC__) || defined(__clang__)
#define NMW__NO_ASAN __attribute__((no_sanitize_address, no_sanitize_thread))
#else
#define NMW__NO_ASAN
#endif

/* Placement rule (part of the ABI): a block is never placed so that its header
 * starts on the page before the block, unless the block is page aligned. So a
 * pointer 1..31 bytes into a page is never a block, without reading memory, and
 * only page-aligned pointers need a probe of the page before. */
#define NMW__PAGE_OFFSET(p) ((uintptr_t)(p) & 4095u)
#define NMW__BAD_SPOT(user) (NMW__PAGE_OFFSET(user) < NMW_HEADER_SIZE)

#if defined(__GNUC__) || defined(__clang__)
/* Hides where an address came from, so that the compiler does not judge reads
 * before a pointer it saw come from malloc() (GCC 12 -O3 -Warray-bounds). */
#define NMW__LAUNDER(p) __asm__("" : "+r"(p))
#else
#define NMW__LAUNDER(p) ((void)0)
#endif

#if defined(__linux__)
/* True when the len bytes at p can be read. Never faults: the kernel copies them
 * (process_vm_readv on this process) and reports EFAULT for a PROT_NONE guard
 * page or an unmapped one. Where the call is refused (a seccomp filter: ENOSYS
 * or EPERM), mincore() says whether the page is mapped, which is what the
 * header did before; only page-aligned pointers ever get here. */
static inline int nmw__readable(uintptr_t p, size_t len) {
#if defined(SYS_process_vm_readv) && defined(SYS_getpid)
  unsigned char copy[64];
  struct iovec local, remote;
  if (len > sizeof copy) return 0;
  local.iov_base = copy;
  local.iov_len = len;
  remote.iov_base = (void *)p;
  remote.iov_len = len;
  long pid = syscall(SYS_getpid);
  long n = syscall(SYS_process_vm_readv, pid, &local, 1UL, &remote, 1UL, 0UL);
  if (n == (long)len) return 1;
  if (n >= 0) return 0;
  int err = errno;
  if (err != ENOSYS && err != EPERM) return 0;
#endif
  {
    unsigned char vec;
    return mincore((void *)(p & ~(uintptr_t)4095u), 1, &vec) == 0;
  }
}
#endif

/* The header of a block, or NULL when ptr cannot be one (misaligned, in the first
 * bytes of a page, or with a page-aligned pointer whose header cannot be read).
 * Reading before a foreign pointer is the point of the check, hence no ASan. */
static inline NMW__NO_ASAN const nmw_block_header_t *nmw__header_of(const void *ptr) {
  uintptr_t p = (uintptr_t)ptr;
  NMW__LAUNDER(p);
  if (p < 4096 + NMW_HEADER_SIZE || (p & 7u) != 0) return 0;
  if (NMW__BAD_SPOT(p)) {
    if (NMW__PAGE_OFFSET(p) != 0) return 0;
#if defined(__linux__)
    /* A page-aligned block: its header is at the end of the page before. */
    if (!nmw__readable(p - NMW_HEADER_SIZE, NMW_HEADER_SIZE)) return 0;
#endif
  }
  return (const nmw_block_header_t *)(p - NMW_HEADER_SIZE);
}

static inline NMW__NO_ASAN uint64_t nmw__read_check(const nmw_block_header_t *h) {
  return h->check;
}

static inline void *nmw__plain_alloc(size_t alignment, size_t size, int zero) {
  size_t pad = alignment > 16 ? alignment : 0;
  if (size > SIZE_MAX - NMW_HEADER_SIZE - NMW_CANARY_SIZE - pad - 32) return 0;
  size_t total = NMW_HEADER_SIZE + size + NMW_CANARY_SIZE + pad;
  unsigned char *raw = (unsigned char *)(zero ? calloc(1, total) : malloc(total));
  if (!raw) return 0;
  uintptr_t user = (uintptr_t)raw + NMW_HEADER_SIZE;
  if (pad) {
    user = (user + alignment - 1) & ~(uintptr_t)(alignment - 1);
  } else if (NMW__BAD_SPOT(user)) {
    /* Keep the placement rule: take 32 more bytes and move past the page start. */
    unsigned char *wider = (unsigned char *)(zero ? calloc(1, total + 32) : malloc(total + 32));
    free(raw);
    if (!wider) return 0;
    raw = wider;
    user = (uintptr_t)raw + NMW_HEADER_SIZE;
    if (NMW__BAD_SPOT(user)) user += 32;
  }
  nmw_block_header_t *h = (nmw_block_header_t *)(user - NMW_HEADER_SIZE);
  memset(h, 0, sizeof *h);
  h->size = size;
  h->offset = (uint32_t)(user - (uintptr_t)raw);
  if (pad) {
    /* As the tracker records it: aligned, log2(alignment) in the upper byte. */
    uint16_t log2 = 0;
    while (((size_t)1 << log2) < alignment) log2++;
    h->flags = (uint16_t)(0x1u | (log2 << 8));
  }
  h->check = NMW__MIX(user) ^ NMW__MAGIC_PLAIN;
  return (void *)user;
}

/* The alignment a plain block was made with (0: the default 16). */
static inline size_t nmw__plain_alignment(const nmw_block_header_t *h) {
  return (h->flags & 0x1u) ? (size_t)1 << (h->flags >> 8) : 0;
}

static inline int nmw__is_plain(const void *ptr) {
  const nmw_block_header_t *h = nmw__header_of(ptr);
  return h && nmw__read_check(h) == (NMW__MIX(ptr) ^ NMW__MAGIC_PLAIN);
}

static inline void nmw__plain_free(void *ptr) {
  if (!ptr) return;
  if (!nmw__is_plain(ptr)) {
    /* Not a block of ours: freeing it could corrupt the heap, so leave it. Said once
     * per translation unit; the tracker, when loaded, counts every one. */
    static int said;
    if (!said++)
      fprintf(stderr, "native-memwatch: nmw_free(%p): not allocated by nmw_*; ignored\n", ptr);
    return;
  }
  uintptr_t at = (uintptr_t)ptr - NMW_HEADER_SIZE;
  NMW__LAUNDER(at);
  nmw_block_header_t *h = (nmw_block_header_t *)at;
  h->check = 0;
  free((void *)((uintptr_t)h + NMW_HEADER_SIZE - h->offset));
}

static inline void *nmw__plain_realloc(void *ptr, size_t size) {
  if (!ptr) return nmw__plain_alloc(0, size, 0);
  if (!nmw__is_plain(ptr)) {
    static int said;
    if (!said++)
      fprintf(stderr, "native-memwatch: nmw_realloc(%p): not allocated by nmw_*; refused\n", ptr);
    return 0;
  }
  if (size == 0) {
    /* As with tracking on: realloc to 0 frees. */
    nmw__plain_free(ptr);
    return 0;
  }
  uintptr_t at = (uintptr_t)ptr - NMW_HEADER_SIZE;
  NMW__LAUNDER(at);
  nmw_block_header_t *h = (nmw_block_header_t *)at;
  void *fresh = nmw__plain_alloc(nmw__plain_alignment(h), size, 0);
  if (!fresh) return 0;
  memcpy(fresh, ptr, h->size < size ? (size_t)h->size : size);
  nmw__plain_free(ptr);
  return fresh;
}

/* ---- the allocator twins: the libc arguments, then the tag ---- */

static inline void *nmw_malloc_at(size_t size, nmw_tag_t tag, nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  return api ? api->malloc(size, tag, site) : nmw__plain_alloc(0, size, 0);
}

static inline void *nmw_calloc_at(size_t count, size_t size, nmw_tag_t tag, nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  if (api) return api->calloc(count, size, tag, site);
  if (size != 0 && count > SIZE_MAX / size) return 0;
  return nmw__plain_alloc(0, count * size, 1);
}

static inline void *nmw_realloc_at(void *ptr, size_t size, nmw_tag_t tag, nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  return api ? api->realloc(ptr, size, tag, site) : nmw__plain_realloc(ptr, size);
}

static inline void nmw_free_at(void *ptr, nmw_tag_t tag, nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  if (api)
    api->free(ptr, tag, site);
  else
    nmw__plain_free(ptr);
}

static inline char *nmw_strdup_at(const char *s, nmw_tag_t tag, nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  if (api) return api->strdup(s, tag, site);
  if (!s) return 0;
  size_t n = strlen(s) + 1;
  char *copy = (char *)nmw__plain_alloc(0, n, 0);
  if (copy) memcpy(copy, s, n);
  return copy;
}

static inline void *nmw_aligned_alloc_at(size_t alignment, size_t size, nmw_tag_t tag,
                                         nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  if (api) return api->aligned_alloc(alignment, size, tag, site);
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > (1u << 20)) return 0;
  return nmw__plain_alloc(alignment, size, 0);
}

static inline int nmw_track_at(void *ptr, size_t size, nmw_tag_t tag, nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  return api ? api->track(ptr, size, tag, site) : NMW_ENOTLOADED;
}

static inline int nmw_untrack_at(void *ptr, nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  return api ? api->untrack(ptr, site) : NMW_ENOTLOADED;
}

/* ---- external memory: blocks owned by an environment ----
 * A block of an external tag allocated on a JS thread belongs to that thread's
 * environment; its bytes are reported to V8 there (batched) until it is freed,
 * from any thread. Threads without an environment (the libuv pool) name the owner
 * with the _env variants; the env is only used as a key there, never called. */

static inline void *nmw_malloc_env_at(size_t size, nmw_tag_t tag, const void *env,
                                      nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  return api ? api->malloc_env(size, tag, env, site) : nmw__plain_alloc(0, size, 0);
}

static inline void *nmw_calloc_env_at(size_t count, size_t size, nmw_tag_t tag, const void *env,
                                      nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  if (api) return api->calloc_env(count, size, tag, env, site);
  if (size != 0 && count > SIZE_MAX / size) return 0;
  return nmw__plain_alloc(0, count * size, 1);
}

static inline void *nmw_aligned_alloc_env_at(size_t alignment, size_t size, nmw_tag_t tag,
                                             const void *env, nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  if (api) return api->aligned_alloc_env(alignment, size, tag, env, site);
  return nmw_aligned_alloc_at(alignment, size, tag, site);
}

static inline char *nmw_strdup_env_at(const char *s, nmw_tag_t tag, const void *env,
                                      nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  return api ? api->strdup_env(s, tag, env, site) : nmw_strdup_at(s, tag, site);
}

/* For memory the tracker did not allocate (a third-party library's buffers):
 * adds delta bytes (negative to give back) to what env's environment owes V8
 * under an external tag (env NULL: the calling JS thread's). Audited per tag: a
 * change that would go below zero is clamped at zero, counted and reported.
 * Returns NMW_OK, NMW_EINVAL for a tag that is not external, NMW_ENOTLOADED. */
static inline int nmw_external_adjust_at(const void *env, nmw_tag_t tag, int64_t delta,
                                         nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  return api ? api->external_adjust(env, tag, delta, site) : NMW_ENOTLOADED;
}

#define nmw_malloc_env(size, tag, env) nmw_malloc_env_at((size), (tag), (env), NMW_SITE())
#define nmw_calloc_env(count, size, tag, env) \
  nmw_calloc_env_at((count), (size), (tag), (env), NMW_SITE())
#define nmw_aligned_alloc_env(alignment, size, tag, env) \
  nmw_aligned_alloc_env_at((alignment), (size), (tag), (env), NMW_SITE())
#define nmw_strdup_env(s, tag, env) nmw_strdup_env_at((s), (tag), (env), NMW_SITE())
#define nmw_external_adjust(env, tag, delta) \
  nmw_external_adjust_at((env), (tag), (delta), NMW_SITE())

#define nmw_malloc(size, tag) nmw_malloc_at((size), (tag), NMW_SITE())
#define nmw_calloc(count, size, tag) nmw_calloc_at((count), (size), (tag), NMW_SITE())
#define nmw_realloc(ptr, size, tag) nmw_realloc_at((ptr), (size), (tag), NMW_SITE())
#define nmw_free(ptr, tag) nmw_free_at((ptr), (tag), NMW_SITE())
#define nmw_strdup(s, tag) nmw_strdup_at((s), (tag), NMW_SITE())
#define nmw_aligned_alloc(alignment, size, tag) \
  nmw_aligned_alloc_at((alignment), (size), (tag), NMW_SITE())
#define nmw_track(ptr, size, tag) nmw_track_at((ptr), (size), (tag), NMW_SITE())
#define nmw_untrack(ptr) nmw_untrack_at((ptr), NMW_SITE())

/* The size asked for when the block was allocated (0 for NULL or a foreign pointer). */
static inline size_t nmw_block_size(const void *ptr) {
  const nmw_api_t *api = nmw_api();
  if (api) return api->block_size(ptr);
  return nmw__is_plain(ptr) ? (size_t)nmw__header_of(ptr)->size : 0;
}

/* ---- tags ---- */

/* Registers (or finds) the tag called name. Without native-memwatch, *out is
 * NMW_UNTAGGED and the result NMW_ENOTLOADED. */
static inline int nmw_tag_register(const char *name, unsigned flags, nmw_tag_t *out) {
  const nmw_api_t *api = nmw_api();
  if (api) return api->tag_register(name, flags, out);
  if (out) *out = NMW_UNTAGGED;
  return NMW_ENOTLOADED;
}

/* The tag called name, or NMW_UNTAGGED when it cannot be registered. */
static inline nmw_tag_t nmw_tag(const char *name) {
  nmw_tag_t tag = NMW_UNTAGGED;
  int rc = nmw_tag_register(name, 0, &tag);
  return (rc == NMW_OK || rc == NMW_ECONFLICT) ? tag : NMW_UNTAGGED;
}

/* Marks a tag as external (its bytes are reported to V8) or not. Blocks keep what
 * they were when allocated. */
static inline int nmw_tag_set_external(nmw_tag_t tag, int external) {
  const nmw_api_t *api = nmw_api();
  return api ? api->tag_set_external(tag, external) : NMW_ENOTLOADED;
}

/* Allocations under tag that would take its current bytes over limit_bytes
 * return NULL. NMW_NO_LIMIT removes the limit. */
static inline int nmw_tag_set_limit(nmw_tag_t tag, uint64_t limit_bytes) {
  const nmw_api_t *api = nmw_api();
  return api ? api->tag_set_limit(tag, limit_bytes) : NMW_ENOTLOADED;
}

/* ---- import ---- */

#ifndef NMW_NO_NODE_API
/* The type tag of the external that carries the table (static, by design). */
static const napi_type_tag nmw__api_type_tag = {UINT64_C(0x6e61746976652d6d),
                                                UINT64_C(0x656d77617463682e)};

/* Finds native-memwatch's table in this environment. Call once per environment
 * from the addon's init, on the JS thread. Returns NMW_OK when tracking is on,
 * NMW_ENOTLOADED when native-memwatch is not loaded (the calls then work as plain
 * allocation), NMW_EVERSION for a provider of another ABI, NMW_ENAPI when a
 * Node-API call failed. Never leaves a JS exception pending. Once a table has been
 * found it stays in use for the life of the process, in every environment. */
static inline int nmw_import(napi_env env) {
  napi_value global, symbol_ctor, symbol_for, key_name, key, value;
  napi_valuetype type;
  bool tagged = false;
  void *data = 0;
  int rc = NMW_ENAPI;
  if (napi_get_global(env, &global) != napi_ok ||
      napi_get_named_property(env, global, "Symbol", &symbol_ctor) != napi_ok ||
      napi_get_named_property(env, symbol_ctor, "for", &symbol_for) != napi_ok ||
      napi_create_string_utf8(env, NMW_API_SYMBOL, NAPI_AUTO_LENGTH, &key_name) != napi_ok ||
      napi_call_function(env, symbol_ctor, symbol_for, 1, &key_name, &key) != napi_ok ||
      napi_get_property(env, global, key, &value) != napi_ok ||
      napi_typeof(env, value, &type) != napi_ok)
    goto done;
  if (type != napi_external) {
    rc = nmw_api() ? NMW_OK : NMW_ENOTLOADED;
    goto done;
  }
  if (napi_check_object_type_tag(env, value, &nmw__api_type_tag, &tagged) != napi_ok ||
      !tagged || napi_get_value_external(env, value, &data) != napi_ok || !data)
    goto done;
  {
    const nmw_api_t *api = (const nmw_api_t *)data;
    if (api->abi_version != NMW_ABI_VERSION || api->size < sizeof(nmw_api_t)) {
      rc = nmw_api() ? NMW_OK : NMW_EVERSION;
      goto done;
    }
    NMW__STORE_API(api);
    rc = NMW_OK;
  }
done:
  /* Let native-memwatch know this environment (for external memory and finalizer
   * audits), also when the table was found in an earlier environment. Tracking is
   * on either way; an environment that cannot be attached (more than 255 live at
   * once) only misses the per-environment audits. */
  if (rc == NMW_OK) (void)nmw_api()->env_attach(env);
  if (rc == NMW_ENAPI) {
    bool pending = false;
    napi_value ignored;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending)
      napi_get_and_clear_last_exception(env, &ignored);
  }
  return rc;
}

/* ---- finalizer audit: the Node-API calls that register a finalizer ----
 * The same arguments as the Node-API function, then the tag. Each records the
 * finalizer (its kind, tag and call site, optionally the JS stack) and routes it
 * through native-memwatch's trampoline, which times it and records how it ended:
 * by GC, at environment teardown, cancelled, or never (docs/finalizers.md). The
 * finalizer is called with the same env, data and hint as without the twin. When
 * the Node-API call fails nothing is recorded. Without native-memwatch they are
 * the plain Node-API calls. Call them on the env's JS thread, as Node-API requires. */

static inline napi_status nmw_wrap_at(napi_env env, napi_value js_object, void *native_object,
                                      napi_finalize finalize_cb, void *finalize_hint,
                                      napi_ref *result, nmw_tag_t tag, nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  if (!api) return napi_wrap(env, js_object, native_object, finalize_cb, finalize_hint, result);
  void *ref = 0;
  napi_status status = (napi_status)api->wrap((void *)env, (void *)js_object, native_object,
                                              (nmw_finalize_fn)finalize_cb, finalize_hint,
                                              result ? &ref : 0, tag, site);
  if (status == napi_ok && result) *result = (napi_ref)ref;
  return status;
}

/* napi_remove_wrap: the wrap's finalizer will not run, so its record is
 * "cancelled" (tag: the wrap's, to choose among wraps of one native object). */
static inline napi_status nmw_remove_wrap_at(napi_env env, napi_value js_object, void **result,
                                             nmw_tag_t tag, nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  if (!api) return napi_remove_wrap(env, js_object, result);
  return (napi_status)api->remove_wrap((void *)env, (void *)js_object, result, tag, site);
}

#if NAPI_VERSION >= 5
static inline napi_status nmw_add_finalizer_at(napi_env env, napi_value js_object,
                                               void *finalize_data, napi_finalize finalize_cb,
                                               void *finalize_hint, napi_ref *result,
                                               nmw_tag_t tag, nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  if (!api)
    return napi_add_finalizer(env, js_object, finalize_data, finalize_cb, finalize_hint, result);
  void *ref = 0;
  napi_status status = (napi_status)api->add_finalizer(
      (void *)env, (void *)js_object, finalize_data, (nmw_finalize_fn)finalize_cb, finalize_hint,
      result ? &ref : 0, tag, site);
  if (status == napi_ok && result) *result = (napi_ref)ref;
  return status;
}
#endif

static inline napi_status nmw_create_external_at(napi_env env, void *data,
                                                 napi_finalize finalize_cb, void *finalize_hint,
                                                 napi_value *result, nmw_tag_t tag,
                                                 nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  if (!api) return napi_create_external(env, data, finalize_cb, finalize_hint, result);
  void *value = 0;
  napi_status status = (napi_status)api->create_external(
      (void *)env, data, (nmw_finalize_fn)finalize_cb, finalize_hint, &value, tag, site);
  if (status == napi_ok && result) *result = (napi_value)value;
  return status;
}

#ifndef NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED
/* Also counts a "double_reported" misuse when external_data is a block of an
 * external tag: V8 already counts the bytes of external (array) buffers. */
static inline napi_status nmw_create_external_arraybuffer_at(
    napi_env env, void *external_data, size_t byte_length, napi_finalize finalize_cb,
    void *finalize_hint, napi_value *result, nmw_tag_t tag, nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  if (!api)
    return napi_create_external_arraybuffer(env, external_data, byte_length, finalize_cb,
                                            finalize_hint, result);
  void *value = 0;
  napi_status status = (napi_status)api->create_external_arraybuffer(
      (void *)env, external_data, byte_length, (nmw_finalize_fn)finalize_cb, finalize_hint, &value,
      tag, site);
  if (status == napi_ok && result) *result = (napi_value)value;
  return status;
}

static inline napi_status nmw_create_external_buffer_at(napi_env env, size_t length, void *data,
                                                        napi_finalize finalize_cb,
                                                        void *finalize_hint, napi_value *result,
                                                        nmw_tag_t tag, nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  if (!api)
    return napi_create_external_buffer(env, length, data, finalize_cb, finalize_hint, result);
  void *value = 0;
  napi_status status = (napi_status)api->create_external_buffer(
      (void *)env, length, data, (nmw_finalize_fn)finalize_cb, finalize_hint, &value, tag, site);
  if (status == napi_ok && result) *result = (napi_value)value;
  return status;
}
#endif /* NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED */

#if NAPI_VERSION >= 6
/* Replacing instance data set by this twin cancels the previous record: Node
 * drops the old finalizer without calling it. */
static inline napi_status nmw_set_instance_data_at(napi_env env, void *data,
                                                   napi_finalize finalize_cb, void *finalize_hint,
                                                   nmw_tag_t tag, nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  if (!api) return napi_set_instance_data(env, data, finalize_cb, finalize_hint);
  return (napi_status)api->set_instance_data((void *)env, data, (nmw_finalize_fn)finalize_cb,
                                             finalize_hint, tag, site);
}
#endif

/* napi_delete_reference: when ref is the reference a wrap or add_finalizer twin
 * returned and the finalizer has not run, it never will: the record is
 * "cancelled". Any other reference is just deleted. */
static inline napi_status nmw_delete_reference_at(napi_env env, napi_ref ref, nmw_tag_t tag,
                                                  nmw_site_t *site) {
  const nmw_api_t *api = nmw_api();
  if (!api) return napi_delete_reference(env, ref);
  return (napi_status)api->delete_reference((void *)env, (void *)ref, tag, site);
}

#define nmw_wrap(env, js_object, native_object, finalize_cb, finalize_hint, result, tag) \
  nmw_wrap_at((env), (js_object), (native_object), (finalize_cb), (finalize_hint), (result), \
              (tag), NMW_SITE())
#define nmw_remove_wrap(env, js_object, result, tag) \
  nmw_remove_wrap_at((env), (js_object), (result), (tag), NMW_SITE())
#define nmw_add_finalizer(env, js_object, finalize_data, finalize_cb, finalize_hint, result, tag) \
  nmw_add_finalizer_at((env), (js_object), (finalize_data), (finalize_cb), (finalize_hint),      \
                       (result), (tag), NMW_SITE())
#define nmw_create_external(env, data, finalize_cb, finalize_hint, result, tag) \
  nmw_create_external_at((env), (data), (finalize_cb), (finalize_hint), (result), (tag), NMW_SITE())
#define nmw_create_external_arraybuffer(env, external_data, byte_length, finalize_cb,         \
                                        finalize_hint, result, tag)                            \
  nmw_create_external_arraybuffer_at((env), (external_data), (byte_length), (finalize_cb),    \
                                     (finalize_hint), (result), (tag), NMW_SITE())
#define nmw_create_external_buffer(env, length, data, finalize_cb, finalize_hint, result, tag) \
  nmw_create_external_buffer_at((env), (length), (data), (finalize_cb), (finalize_hint),      \
                                (result), (tag), NMW_SITE())
#define nmw_set_instance_data(env, data, finalize_cb, finalize_hint, tag) \
  nmw_set_instance_data_at((env), (data), (finalize_cb), (finalize_hint), (tag), NMW_SITE())
#define nmw_delete_reference(env, ref, tag) \
  nmw_delete_reference_at((env), (ref), (tag), NMW_SITE())
#endif /* NMW_NO_NODE_API */

#ifdef __cplusplus
}
#endif

#endif /* NATIVE_MEMWATCH_H */
