/*
 * attach_hooks.c: what an attached addon calls instead of malloc, operator new,
 * napi_wrap, ... (see docs/attach.md).
 *
 * Each attached addon gets a slot (0 .. NMW_ATTACH_MAX-1) and its own copy of
 * every replacement function, generated below, so a hook knows which addon
 * called it without looking the caller up: the slot is a constant in its code.
 * The copies forward to one generic body per function with the slot, the
 * return address (the call site) and the original function the addon's slot
 * held before it was patched.
 *
 * Allocation: the original is called (the block keeps libc's layout) and the
 * block is recorded in the live-block registry; free/delete of a pointer the
 * registry does not hold is passed on untouched and counted as foreign.
 * Node-API: the finalizer-audit twins (finalizers.c) with the addon's tag.
 */
#include "attach_hooks.h"

#if NMW_ELF_PATCH_SUPPORTED

#include <dlfcn.h>
#include <errno.h>
#include <node_api.h>
#include <stddef.h>
#include <string.h>

#include "../core/core.h"
#include "finalizers.h"

static nmw_tag_t slot_tag[NMW_ATTACH_MAX];
static void *originals[NMW_ATTACH_MAX][NMW_ATTACH_NFUNCS];
static nmw_attach_audit_t audits[NMW_ATTACH_MAX];

#define NAME_STR(name) #name,
static const char *const func_names[NMW_ATTACH_NFUNCS] = {
    NMW_ATTACH_ALLOC_NAMES(NAME_STR) NMW_ATTACH_NAPI_NAMES(NAME_STR)};
#undef NAME_STR

#define ORIG(i, f) __atomic_load_n(&originals[i][F_##f], __ATOMIC_ACQUIRE)
#define RA() __builtin_return_address(0)

nmw_attach_audit_t *nmw__attach_audit(int i) { return &audits[i]; }

void nmw__attach_slot_init(int i, nmw_tag_t tag) { slot_tag[i] = tag; }

static inline void record(int i, void *p, size_t n, void *ra) {
  if (p) nmw_attach_block_add(p, n, slot_tag[i], nmw_attach_site(ra, slot_tag[i]));
}

static inline bool release(int i, void *p) {
  if (!p) return false;
  if (nmw_attach_block_remove(p)) return true;
  atomic_fetch_add_explicit(&audits[i].foreign_frees, 1, memory_order_relaxed);
  return false;
}

/* ---- generic bodies ---- */

typedef void *(*size_fn)(size_t);
typedef void *(*size2_fn)(size_t, size_t);
typedef void *(*size_ptr_fn)(size_t, const void *);
typedef void *(*size2_ptr_fn)(size_t, size_t, const void *);
typedef void (*ptr_fn)(void *);
typedef void (*ptr_size_fn)(void *, size_t);
typedef void (*ptr_ptr_fn)(void *, const void *);
typedef void (*ptr_size2_fn)(void *, size_t, size_t);
typedef void (*ptr_size_ptr_fn)(void *, size_t, const void *);

static inline void *hk_size(int i, void *ra, int f, size_t n) {
  void *p = ((size_fn)__atomic_load_n(&originals[i][f], __ATOMIC_ACQUIRE))(n);
  record(i, p, n, ra);
  return p;
}
static inline void *hk_size2(int i, void *ra, int f, size_t a, size_t n) {
  /* aligned_alloc, memalign, aligned operator new: (alignment, size) or (size, alignment). */
  void *p = ((size2_fn)__atomic_load_n(&originals[i][f], __ATOMIC_ACQUIRE))(a, n);
  record(i, p, f == F_aligned_alloc || f == F_memalign ? n : a, ra);
  return p;
}
static inline void *hk_size_ptr(int i, void *ra, int f, size_t n, const void *tag) {
  void *p = ((size_ptr_fn)__atomic_load_n(&originals[i][f], __ATOMIC_ACQUIRE))(n, tag);
  record(i, p, n, ra);
  return p;
}
static inline void *hk_size2_ptr(int i, void *ra, int f, size_t n, size_t al, const void *tag) {
  void *p = ((size2_ptr_fn)__atomic_load_n(&originals[i][f], __ATOMIC_ACQUIRE))(n, al, tag);
  record(i, p, n, ra);
  return p;
}
static inline void hk_ptr(int i, int f, void *p) {
  release(i, p);
  ((ptr_fn)__atomic_load_n(&originals[i][f], __ATOMIC_ACQUIRE))(p);
}
static inline void hk_ptr_size(int i, int f, void *p, size_t n) {
  release(i, p);
  ((ptr_size_fn)__atomic_load_n(&originals[i][f], __ATOMIC_ACQUIRE))(p, n);
}
static inline void hk_ptr_ptr(int i, int f, void *p, const void *t) {
  release(i, p);
  ((ptr_ptr_fn)__atomic_load_n(&originals[i][f], __ATOMIC_ACQUIRE))(p, t);
}
static inline void hk_ptr_size2(int i, int f, void *p, size_t n, size_t al) {
  release(i, p);
  ((ptr_size2_fn)__atomic_load_n(&originals[i][f], __ATOMIC_ACQUIRE))(p, n, al);
}
static inline void hk_ptr_size_ptr(int i, int f, void *p, size_t al, const void *t) {
  release(i, p);
  ((ptr_size_ptr_fn)__atomic_load_n(&originals[i][f], __ATOMIC_ACQUIRE))(p, al, t);
}

static inline void *hk_realloc(int i, void *ra, void *p, size_t n) {
  void *(*f)(void *, size_t) = ORIG(i, realloc);
  if (!p) {
    void *q = f(NULL, n);
    record(i, q, n, ra);
    return q;
  }
  uint64_t old;
  nmw_tag_t tag;
  uint32_t slot;
  if (!nmw_attach_block_take(p, &old, &tag, &slot)) {
    atomic_fetch_add_explicit(&audits[i].foreign_frees, 1, memory_order_relaxed);
    return f(p, n); /* not ours: untouched, and what it returns is not ours either */
  }
  void *q = f(p, n);
  if (q) {
    nmw_attach_block_moved(q, old, n, tag, slot);
  } else {
    nmw_attach_block_put_back(p, old, tag, slot);
    if (n == 0) nmw_attach_block_remove(p); /* glibc: realloc(p, 0) freed p */
  }
  return q;
}

static inline int hk_posix_memalign(int i, void *ra, void **out, size_t al, size_t n) {
  int (*f)(void **, size_t, size_t) = ORIG(i, posix_memalign);
  int rc = f(out, al, n);
  if (rc == 0) record(i, *out, n, ra);
  return rc;
}

static inline char *hk_strdup(int i, void *ra, const char *s) {
  char *(*f)(const char *) = ORIG(i, strdup);
  char *p = f(s);
  if (p) record(i, p, strlen(p) + 1, ra);
  return p;
}

static inline char *hk_strndup(int i, void *ra, const char *s, size_t n) {
  char *(*f)(const char *, size_t) = ORIG(i, strndup);
  char *p = f(s, n);
  if (p) record(i, p, strlen(p) + 1, ra);
  return p;
}

/* ---- Node-API ---- */

/* The attached addon has its own napi_env: name it after the owner of the
 * calling JS thread (the environment native-memwatch knows there). */
static inline void *env_of(napi_env env) {
  if (env && nmw_core_owner_of_env(env) == 0) {
    nmw_owner_t owner = nmw_core_owner_current();
    if (owner) nmw_core_owner_map_env(env, owner);
  }
  return env;
}

#define TAG_SITE(i, ra) slot_tag[i], nmw_attach_site(ra, slot_tag[i])

static inline napi_status hk_napi_wrap(int i, void *ra, napi_env env, napi_value js, void *native,
                                       napi_finalize cb, void *hint, napi_ref *result) {
  return (napi_status)nmw__fin_wrap(env_of(env), js, native, (nmw_finalize_fn)cb, hint,
                                    (void **)result, TAG_SITE(i, ra));
}
static inline napi_status hk_napi_remove_wrap(int i, void *ra, napi_env env, napi_value js,
                                              void **result) {
  return (napi_status)nmw__fin_remove_wrap(env_of(env), js, result, TAG_SITE(i, ra));
}
static inline napi_status hk_napi_add_finalizer(int i, void *ra, napi_env env, napi_value js,
                                                void *data, napi_finalize cb, void *hint,
                                                napi_ref *result) {
  return (napi_status)nmw__fin_add_finalizer(env_of(env), js, data, (nmw_finalize_fn)cb, hint,
                                             (void **)result, TAG_SITE(i, ra));
}
static inline napi_status hk_napi_create_external(int i, void *ra, napi_env env, void *data,
                                                  napi_finalize cb, void *hint,
                                                  napi_value *result) {
  return (napi_status)nmw__fin_create_external(env_of(env), data, (nmw_finalize_fn)cb, hint,
                                               (void **)result, TAG_SITE(i, ra));
}
static inline napi_status hk_napi_create_external_arraybuffer(int i, void *ra, napi_env env,
                                                              void *data, size_t len,
                                                              napi_finalize cb, void *hint,
                                                              napi_value *result) {
  return (napi_status)nmw__fin_create_external_arraybuffer(
      env_of(env), data, len, (nmw_finalize_fn)cb, hint, (void **)result, TAG_SITE(i, ra));
}
static inline napi_status hk_napi_create_external_buffer(int i, void *ra, napi_env env, size_t len,
                                                         void *data, napi_finalize cb, void *hint,
                                                         napi_value *result) {
  return (napi_status)nmw__fin_create_external_buffer(env_of(env), len, data, (nmw_finalize_fn)cb,
                                                      hint, (void **)result, TAG_SITE(i, ra));
}
static inline napi_status hk_napi_set_instance_data(int i, void *ra, napi_env env, void *data,
                                                    napi_finalize cb, void *hint) {
  return (napi_status)nmw__fin_set_instance_data(env_of(env), data, (nmw_finalize_fn)cb, hint,
                                                 TAG_SITE(i, ra));
}
static inline napi_status hk_napi_delete_reference(int i, void *ra, napi_env env, napi_ref ref) {
  return (napi_status)nmw__fin_delete_reference(env_of(env), ref, TAG_SITE(i, ra));
}
static inline napi_status hk_napi_adjust_external_memory(int i, void *ra, napi_env env,
                                                         int64_t change, int64_t *result) {
  (void)ra;
  nmw_attach_audit_t *a = &audits[i];
  atomic_fetch_add_explicit(&a->external_calls, 1, memory_order_relaxed);
  int64_t before = atomic_fetch_add_explicit(&a->external_total, change, memory_order_relaxed);
  if (change < 0 && before + change < 0)
    atomic_fetch_add_explicit(&a->external_below_zero, 1, memory_order_relaxed);
  /* The env is named after its JS thread's environment the first time the addon
   * makes a Node-API call there (env_of); a call from any other thread is off
   * the JS thread. An env never seen on a thread where native-memwatch is
   * loaded (a worker that did not load it) cannot be judged and is not counted. */
  nmw_owner_t owner = nmw_core_owner_of_env(env_of(env));
  if (owner != 0 && !nmw_core_owner_on_own_thread(owner))
    atomic_fetch_add_explicit(&a->external_off_thread, 1, memory_order_relaxed);
  /* Passed on unchanged: the audit observes, it does not correct. */
  return napi_adjust_external_memory(env, change, result);
}

/* ---- one copy of every replacement per slot ---- */

#define STUBS(i)                                                                                  \
  static void *malloc_##i(size_t n) { return hk_size(i, RA(), F_malloc, n); }                     \
  static void *calloc_##i(size_t c, size_t n) {                                                   \
    void *p = ((size2_fn)ORIG(i, calloc))(c, n);                                                  \
    record(i, p, c * n, RA());                                                                    \
    return p;                                                                                     \
  }                                                                                               \
  static void *realloc_##i(void *p, size_t n) { return hk_realloc(i, RA(), p, n); }               \
  static void free_##i(void *p) { hk_ptr(i, F_free, p); }                                         \
  static int posix_memalign_##i(void **o, size_t a, size_t n) {                                   \
    return hk_posix_memalign(i, RA(), o, a, n);                                                   \
  }                                                                                               \
  static void *aligned_alloc_##i(size_t a, size_t n) { return hk_size2(i, RA(), F_aligned_alloc, a, n); } \
  static void *memalign_##i(size_t a, size_t n) { return hk_size2(i, RA(), F_memalign, a, n); }   \
  static char *strdup_##i(const char *s) { return hk_strdup(i, RA(), s); }                        \
  static char *strndup_##i(const char *s, size_t n) { return hk_strndup(i, RA(), s, n); }         \
  static void *_Znwm_##i(size_t n) { return hk_size(i, RA(), F__Znwm, n); }                       \
  static void *_Znam_##i(size_t n) { return hk_size(i, RA(), F__Znam, n); }                       \
  static void *_ZnwmRKSt9nothrow_t_##i(size_t n, const void *t) {                                 \
    return hk_size_ptr(i, RA(), F__ZnwmRKSt9nothrow_t, n, t);                                     \
  }                                                                                               \
  static void *_ZnamRKSt9nothrow_t_##i(size_t n, const void *t) {                                 \
    return hk_size_ptr(i, RA(), F__ZnamRKSt9nothrow_t, n, t);                                     \
  }                                                                                               \
  static void *_ZnwmSt11align_val_t_##i(size_t n, size_t a) {                                     \
    return hk_size2(i, RA(), F__ZnwmSt11align_val_t, n, a);                                       \
  }                                                                                               \
  static void *_ZnamSt11align_val_t_##i(size_t n, size_t a) {                                     \
    return hk_size2(i, RA(), F__ZnamSt11align_val_t, n, a);                                       \
  }                                                                                               \
  static void *_ZnwmSt11align_val_tRKSt9nothrow_t_##i(size_t n, size_t a, const void *t) {        \
    return hk_size2_ptr(i, RA(), F__ZnwmSt11align_val_tRKSt9nothrow_t, n, a, t);                  \
  }                                                                                               \
  static void *_ZnamSt11align_val_tRKSt9nothrow_t_##i(size_t n, size_t a, const void *t) {        \
    return hk_size2_ptr(i, RA(), F__ZnamSt11align_val_tRKSt9nothrow_t, n, a, t);                  \
  }                                                                                               \
  static void _ZdlPv_##i(void *p) { hk_ptr(i, F__ZdlPv, p); }                                     \
  static void _ZdaPv_##i(void *p) { hk_ptr(i, F__ZdaPv, p); }                                     \
  static void _ZdlPvm_##i(void *p, size_t n) { hk_ptr_size(i, F__ZdlPvm, p, n); }                 \
  static void _ZdaPvm_##i(void *p, size_t n) { hk_ptr_size(i, F__ZdaPvm, p, n); }                 \
  static void _ZdlPvRKSt9nothrow_t_##i(void *p, const void *t) {                                  \
    hk_ptr_ptr(i, F__ZdlPvRKSt9nothrow_t, p, t);                                                  \
  }                                                                                               \
  static void _ZdaPvRKSt9nothrow_t_##i(void *p, const void *t) {                                  \
    hk_ptr_ptr(i, F__ZdaPvRKSt9nothrow_t, p, t);                                                  \
  }                                                                                               \
  static void _ZdlPvSt11align_val_t_##i(void *p, size_t a) {                                      \
    hk_ptr_size(i, F__ZdlPvSt11align_val_t, p, a);                                                \
  }                                                                                               \
  static void _ZdaPvSt11align_val_t_##i(void *p, size_t a) {                                      \
    hk_ptr_size(i, F__ZdaPvSt11align_val_t, p, a);                                                \
  }                                                                                               \
  static void _ZdlPvmSt11align_val_t_##i(void *p, size_t n, size_t a) {                           \
    hk_ptr_size2(i, F__ZdlPvmSt11align_val_t, p, n, a);                                           \
  }                                                                                               \
  static void _ZdaPvmSt11align_val_t_##i(void *p, size_t n, size_t a) {                           \
    hk_ptr_size2(i, F__ZdaPvmSt11align_val_t, p, n, a);                                           \
  }                                                                                               \
  static void _ZdlPvSt11align_val_tRKSt9nothrow_t_##i(void *p, size_t a, const void *t) {         \
    hk_ptr_size_ptr(i, F__ZdlPvSt11align_val_tRKSt9nothrow_t, p, a, t);                           \
  }                                                                                               \
  static void _ZdaPvSt11align_val_tRKSt9nothrow_t_##i(void *p, size_t a, const void *t) {         \
    hk_ptr_size_ptr(i, F__ZdaPvSt11align_val_tRKSt9nothrow_t, p, a, t);                           \
  }                                                                                               \
  static napi_status napi_wrap_##i(napi_env e, napi_value o, void *n, napi_finalize cb, void *h,  \
                                   napi_ref *r) {                                                 \
    return hk_napi_wrap(i, RA(), e, o, n, cb, h, r);                                              \
  }                                                                                               \
  static napi_status napi_remove_wrap_##i(napi_env e, napi_value o, void **r) {                   \
    return hk_napi_remove_wrap(i, RA(), e, o, r);                                                 \
  }                                                                                               \
  static napi_status napi_add_finalizer_##i(napi_env e, napi_value o, void *d, napi_finalize cb,  \
                                            void *h, napi_ref *r) {                               \
    return hk_napi_add_finalizer(i, RA(), e, o, d, cb, h, r);                                     \
  }                                                                                               \
  static napi_status napi_create_external_##i(napi_env e, void *d, napi_finalize cb, void *h,     \
                                              napi_value *r) {                                    \
    return hk_napi_create_external(i, RA(), e, d, cb, h, r);                                      \
  }                                                                                               \
  static napi_status napi_create_external_arraybuffer_##i(napi_env e, void *d, size_t n,          \
                                                          napi_finalize cb, void *h,              \
                                                          napi_value *r) {                        \
    return hk_napi_create_external_arraybuffer(i, RA(), e, d, n, cb, h, r);                       \
  }                                                                                               \
  static napi_status napi_create_external_buffer_##i(napi_env e, size_t n, void *d,               \
                                                     napi_finalize cb, void *h, napi_value *r) {  \
    return hk_napi_create_external_buffer(i, RA(), e, n, d, cb, h, r);                            \
  }                                                                                               \
  static napi_status napi_set_instance_data_##i(napi_env e, void *d, napi_finalize cb, void *h) { \
    return hk_napi_set_instance_data(i, RA(), e, d, cb, h);                                       \
  }                                                                                               \
  static napi_status napi_delete_reference_##i(napi_env e, napi_ref r) {                          \
    return hk_napi_delete_reference(i, RA(), e, r);                                               \
  }                                                                                               \
  static napi_status napi_adjust_external_memory_##i(napi_env e, int64_t c, int64_t *r) {         \
    return hk_napi_adjust_external_memory(i, RA(), e, c, r);                                      \
  }

/* Generated list: one expansion per attach slot (0 .. NMW_ATTACH_MAX-1). */
#define NMW_ATTACH_EACH_SLOT(M) \
  M(0) \
  M(1) \
  M(2) \
  M(3) \
  M(4) \
  M(5) \
  M(6) \
  M(7) \
  M(8) \
  M(9) \
  M(10) \
  M(11) \
  M(12) \
  M(13) \
  M(14) \
  M(15) \
  M(16) \
  M(17) \
  M(18) \
  M(19) \
  M(20) \
  M(21) \
  M(22) \
  M(23) \
  M(24) \
  M(25) \
  M(26) \
  M(27) \
  M(28) \
  M(29) \
  M(30) \
  M(31) \
  M(32) \
  M(33) \
  M(34) \
  M(35) \
  M(36) \
  M(37) \
  M(38) \
  M(39) \
  M(40) \
  M(41) \
  M(42) \
  M(43) \
  M(44) \
  M(45) \
  M(46) \
  M(47) \
  M(48) \
  M(49) \
  M(50) \
  M(51) \
  M(52) \
  M(53) \
  M(54) \
  M(55) \
  M(56) \
  M(57) \
  M(58) \
  M(59) \
  M(60) \
  M(61) \
  M(62) \
  M(63)

NMW_ATTACH_EACH_SLOT(STUBS)

/* The table of slot i: every replacement, in F_ order. */
#define ROW_ENTRY_X(name, i) (void *)name##_##i,
#define ROW(i)                                                                                  \
  {ROW_ENTRY_X(malloc, i) ROW_ENTRY_X(calloc, i) ROW_ENTRY_X(realloc, i) ROW_ENTRY_X(free, i)   \
   ROW_ENTRY_X(posix_memalign, i) ROW_ENTRY_X(aligned_alloc, i) ROW_ENTRY_X(memalign, i)        \
   ROW_ENTRY_X(strdup, i) ROW_ENTRY_X(strndup, i) ROW_ENTRY_X(_Znwm, i) ROW_ENTRY_X(_Znam, i)   \
   ROW_ENTRY_X(_ZnwmRKSt9nothrow_t, i) ROW_ENTRY_X(_ZnamRKSt9nothrow_t, i)                      \
   ROW_ENTRY_X(_ZnwmSt11align_val_t, i) ROW_ENTRY_X(_ZnamSt11align_val_t, i)                    \
   ROW_ENTRY_X(_ZnwmSt11align_val_tRKSt9nothrow_t, i)                                           \
   ROW_ENTRY_X(_ZnamSt11align_val_tRKSt9nothrow_t, i) ROW_ENTRY_X(_ZdlPv, i)                    \
   ROW_ENTRY_X(_ZdaPv, i) ROW_ENTRY_X(_ZdlPvm, i) ROW_ENTRY_X(_ZdaPvm, i)                       \
   ROW_ENTRY_X(_ZdlPvRKSt9nothrow_t, i) ROW_ENTRY_X(_ZdaPvRKSt9nothrow_t, i)                    \
   ROW_ENTRY_X(_ZdlPvSt11align_val_t, i) ROW_ENTRY_X(_ZdaPvSt11align_val_t, i)                  \
   ROW_ENTRY_X(_ZdlPvmSt11align_val_t, i) ROW_ENTRY_X(_ZdaPvmSt11align_val_t, i)                \
   ROW_ENTRY_X(_ZdlPvSt11align_val_tRKSt9nothrow_t, i)                                          \
   ROW_ENTRY_X(_ZdaPvSt11align_val_tRKSt9nothrow_t, i) ROW_ENTRY_X(napi_wrap, i)                \
   ROW_ENTRY_X(napi_remove_wrap, i) ROW_ENTRY_X(napi_add_finalizer, i)                          \
   ROW_ENTRY_X(napi_create_external, i) ROW_ENTRY_X(napi_create_external_arraybuffer, i)        \
   ROW_ENTRY_X(napi_create_external_buffer, i) ROW_ENTRY_X(napi_set_instance_data, i)           \
   ROW_ENTRY_X(napi_delete_reference, i) ROW_ENTRY_X(napi_adjust_external_memory, i)},
static void *const stub_table[NMW_ATTACH_MAX][NMW_ATTACH_NFUNCS] = {NMW_ATTACH_EACH_SLOT(ROW)};

void nmw__attach_hooks_of(int i, nmw_elf_hook_t *hooks) {
  for (int f = 0; f < NMW_ATTACH_NFUNCS; f++)
    hooks[f] = (nmw_elf_hook_t){func_names[f], stub_table[i][f], &originals[i][f]};
}

#endif /* NMW_ELF_PATCH_SUPPORTED */
