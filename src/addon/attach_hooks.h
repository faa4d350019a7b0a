/*
 * attach_hooks.h: the replacement functions written into attached addons'
 * relocation slots (attach_hooks.c), and the per-addon state they count into.
 * Linux/glibc on x86-64 and aarch64 only (NMW_ELF_PATCH_SUPPORTED).
 */
#ifndef NMW_ATTACH_HOOKS_H
#define NMW_ATTACH_HOOKS_H

#include <stdatomic.h>
#include <stdint.h>

#include "../core/attach_registry.h"
#include "../core/elf_patch.h"

/* The hooked functions, in table order: F_<name>. */
#define NMW_ATTACH_ALLOC_NAMES(X)                                                          \
  X(malloc) X(calloc) X(realloc) X(free) X(posix_memalign) X(aligned_alloc) X(memalign)    \
  X(strdup) X(strndup)                                                                     \
  X(_Znwm) X(_Znam) X(_ZnwmRKSt9nothrow_t) X(_ZnamRKSt9nothrow_t) X(_ZnwmSt11align_val_t)  \
  X(_ZnamSt11align_val_t) X(_ZnwmSt11align_val_tRKSt9nothrow_t)                            \
  X(_ZnamSt11align_val_tRKSt9nothrow_t)                                                    \
  X(_ZdlPv) X(_ZdaPv) X(_ZdlPvm) X(_ZdaPvm) X(_ZdlPvRKSt9nothrow_t) X(_ZdaPvRKSt9nothrow_t) \
  X(_ZdlPvSt11align_val_t) X(_ZdaPvSt11align_val_t) X(_ZdlPvmSt11align_val_t)              \
  X(_ZdaPvmSt11align_val_t) X(_ZdlPvSt11align_val_tRKSt9nothrow_t)                         \
  X(_ZdaPvSt11align_val_tRKSt9nothrow_t)
#define NMW_ATTACH_NAPI_NAMES(X)                                                           \
  X(napi_wrap) X(napi_remove_wrap) X(napi_add_finalizer) X(napi_create_external)           \
  X(napi_create_external_arraybuffer) X(napi_create_external_buffer)                       \
  X(napi_set_instance_data) X(napi_delete_reference) X(napi_adjust_external_memory)

#define NMW_ATTACH_ENUM(name) F_##name,
enum { NMW_ATTACH_ALLOC_NAMES(NMW_ATTACH_ENUM) NMW_ATTACH_NAPI_NAMES(NMW_ATTACH_ENUM) NMW_ATTACH_NFUNCS };
#undef NMW_ATTACH_ENUM

/* Per attached addon: counters the hooks keep besides the tag's. */
typedef struct nmw_attach_audit {
  _Atomic uint64_t foreign_frees;    /* frees/reallocs of pointers the addon did not get from us */
  _Atomic int64_t external_total;    /* sum of napi_adjust_external_memory changes */
  _Atomic uint64_t external_calls;
  _Atomic uint64_t external_below_zero; /* calls that would take the total below zero */
  _Atomic uint64_t external_off_thread; /* calls from a thread that is not a JS thread */
} nmw_attach_audit_t;

/* Sets up slot i: its tag, and the originals the patch found. */
void nmw__attach_slot_init(int i, nmw_tag_t tag);
nmw_attach_audit_t *nmw__attach_audit(int i);
/* The hook table of slot i for nmw_elf_patch (NMW_ATTACH_NFUNCS entries); the
 * originals are written into the slot's table. */
void nmw__attach_hooks_of(int i, nmw_elf_hook_t *hooks);

#endif /* NMW_ATTACH_HOOKS_H */
