/*
 * elf_patch.h: rewriting the relocation entries of a loaded ELF object
 * (Linux/glibc, x86-64 and aarch64), so that its calls to named functions go
 * somewhere else. Plain C, no Node-API, no libuv (it is also cross-built and
 * tested for aarch64 on its own).
 *
 * What is rewritten: the object's own GOT slots named by its JUMP_SLOT (calls
 * through the PLT) and GLOB_DAT (calls and address-taking through the GOT)
 * relocations whose symbol is undefined in the object. Nothing else: plain data
 * relocations (R_X86_64_64, R_AARCH64_ABS64) are left alone, and so are symbols
 * the object defines itself (a statically linked allocator stays its own).
 *
 * Safety: every table and every slot is checked to lie inside the object's
 * loaded segments before anything is written; an object that fails a check is
 * skipped whole, with the reason, and no slot of it is written. Slots in the
 * read-only-after-relocation range (PT_GNU_RELRO) are written after mprotect
 * and the protection is restored. One process-wide lock serialises patching.
 */
#ifndef NMW_ELF_PATCH_H
#define NMW_ELF_PATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__linux__) && defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__))
#define NMW_ELF_PATCH_SUPPORTED 1
#include <link.h>
#else
#define NMW_ELF_PATCH_SUPPORTED 0
#endif

/* The platform as a short string ("linux-x64-glibc", "darwin-arm64", ...), for
 * messages of the unsupported case. */
const char *nmw_elf_platform(void);

#define NMW_ELF_OK 0
#define NMW_ELF_ENOTFOUND (-2)    /* no loaded object matches */
#define NMW_ELF_EUNSAFE (-3)      /* the object's tables failed a check: skipped whole */
#define NMW_ELF_EPROTECT (-4)     /* mprotect refused: skipped whole */
#define NMW_ELF_EUNSUPPORTED (-5) /* not Linux/glibc on x86-64 or aarch64 */

#if NMW_ELF_PATCH_SUPPORTED

/* A loaded object: its load bias and program headers (as dl_iterate_phdr gives
 * them). Tests may build one by hand over synthetic headers. */
typedef struct nmw_elf_object {
  uintptr_t base;
  const ElfW(Phdr) *phdr;
  uint16_t phnum;
  char path[4096]; /* "" for the main executable */
} nmw_elf_object_t;

/* Finds the loaded object whose file is path (compared after realpath). */
int nmw_elf_find_path(const char *path, nmw_elf_object_t *out);
/* Finds the loaded object that contains addr (the executable when addr is NULL). */
int nmw_elf_find_addr(const void *addr, nmw_elf_object_t *out);

typedef struct nmw_elf_hook {
  const char *name;  /* the symbol, e.g. "malloc", "_Znwm" */
  void *replacement; /* what the slots will hold */
  /* Out, on success only, and before any slot is written: where the object's
   * calls went before (the first slot's bound value, or dlsym(RTLD_DEFAULT) for
   * a slot not bound yet). Left as it is when the object has no slot for the
   * name, or every slot held the replacement already (patching twice never
   * clears an original a hook is using). May itself be NULL. */
  void **original;
} nmw_elf_hook_t;

typedef struct nmw_elf_report {
  uint32_t relocs;       /* JUMP_SLOT/GLOB_DAT entries examined */
  uint32_t patched;      /* slots rewritten now */
  uint32_t already;      /* slots that held their replacement already */
  uint32_t jump_slots;   /* of patched + already: JUMP_SLOT */
  uint32_t glob_dats;    /*                       GLOB_DAT */
  uint32_t relro_slots;  /* written under mprotect (read-only after relocation) */
  uint32_t defined;      /* entries left alone: the object defines the symbol */
  uint32_t unresolved;   /* entries left alone: not bound and dlsym found nothing */
  uint64_t hooked_mask;  /* bit i: hooks[i] has at least one slot (i < 64) */
  char reason[160];      /* why an object was skipped ("" on success) */
} nmw_elf_report_t;

/* Rewrites the object's slots of the named symbols. Returns NMW_ELF_OK (also
 * when there was nothing to do), or NMW_ELF_EUNSAFE / NMW_ELF_EPROTECT with
 * report->reason, and then nothing was written. Patching twice is harmless. */
int nmw_elf_patch(const nmw_elf_object_t *obj, const nmw_elf_hook_t *hooks, size_t nhooks,
                  nmw_elf_report_t *report);

/* Reads, without writing, the value the object's slot for name holds (the first
 * one found; JUMP_SLOT first). NULL when there is none or the object is unsafe. */
void *nmw_elf_slot_value(const nmw_elf_object_t *obj, const char *name);

#endif /* NMW_ELF_PATCH_SUPPORTED */
#endif /* NMW_ELF_PATCH_H */
