/*
 * elf_patch.c: relocation rewriting of loaded objects (see elf_patch.h).
 *
 * The object is read through its PT_DYNAMIC entries: DT_SYMTAB, DT_STRTAB,
 * DT_STRSZ, DT_JMPREL/DT_PLTRELSZ/DT_PLTREL and DT_RELA/DT_RELASZ. glibc's
 * loader has already added the load bias to these pointers in the in-memory
 * dynamic section; a value below the bias is taken as unrelocated and the bias
 * is added (other loaders, and the synthetic objects of the tests).
 *
 * Patching is two-phase: the first pass checks every table and collects every
 * slot to write; only when all checks passed and every RELRO page could be made
 * writable does the second pass write. That is what "never half-patched" means.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "elf_patch.h"

#include <stdio.h>
#include <string.h>

#if defined(__linux__)
#define NMW_OS "linux"
#elif defined(__APPLE__)
#define NMW_OS "darwin"
#elif defined(_WIN32)
#define NMW_OS "win32"
#elif defined(__FreeBSD__)
#define NMW_OS "freebsd"
#else
#define NMW_OS "unknown-os"
#endif

#if defined(__x86_64__)
#define NMW_ARCH "x64"
#elif defined(__aarch64__)
#define NMW_ARCH "arm64"
#elif defined(__i386__)
#define NMW_ARCH "ia32"
#elif defined(__arm__)
#define NMW_ARCH "arm"
#else
#define NMW_ARCH "unknown-arch"
#endif

#if defined(__GLIBC__)
#define NMW_LIBC "-glibc"
#elif defined(__linux__)
#define NMW_LIBC "-musl"
#else
#define NMW_LIBC ""
#endif

const char *nmw_elf_platform(void) { return NMW_OS "-" NMW_ARCH NMW_LIBC; }

#if NMW_ELF_PATCH_SUPPORTED

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)
#define R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define R_GLOB_DAT R_X86_64_GLOB_DAT
#else
#define R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define R_GLOB_DAT R_AARCH64_GLOB_DAT
#endif

#define ELF_R_SYM_ ELF64_R_SYM
#define ELF_R_TYPE_ ELF64_R_TYPE

static pthread_mutex_t patch_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- finding objects ---- */

typedef struct find_ctx {
  const char *real; /* realpath of the wanted file, or NULL */
  uintptr_t addr;   /* an address inside the wanted object, or 0 */
  bool want_exe;
  nmw_elf_object_t *out;
  bool found;
} find_ctx_t;

static bool contains(const struct dl_phdr_info *info, uintptr_t addr) {
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *p = &info->dlpi_phdr[i];
    if (p->p_type != PT_LOAD) continue;
    uintptr_t lo = info->dlpi_addr + p->p_vaddr;
    if (addr >= lo && addr - lo < p->p_memsz) return true;
  }
  return false;
}

static void fill(const struct dl_phdr_info *info, nmw_elf_object_t *out) {
  out->base = info->dlpi_addr;
  out->phdr = info->dlpi_phdr;
  out->phnum = info->dlpi_phnum;
  snprintf(out->path, sizeof out->path, "%s", info->dlpi_name ? info->dlpi_name : "");
}

static int find_cb(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  find_ctx_t *c = data;
  bool match = false;
  if (c->want_exe) {
    match = true; /* the first entry is the executable */
  } else if (c->addr) {
    match = contains(info, c->addr);
  } else if (c->real && info->dlpi_name && info->dlpi_name[0]) {
    char real[PATH_MAX];
    match = realpath(info->dlpi_name, real) && strcmp(real, c->real) == 0;
  }
  if (!match) return 0;
  fill(info, c->out);
  c->found = true;
  return 1;
}

int nmw_elf_find_path(const char *path, nmw_elf_object_t *out) {
  char real[PATH_MAX];
  if (!path || !realpath(path, real)) return NMW_ELF_ENOTFOUND;
  find_ctx_t c = {real, 0, false, out, false};
  dl_iterate_phdr(find_cb, &c);
  return c.found ? NMW_ELF_OK : NMW_ELF_ENOTFOUND;
}

int nmw_elf_find_addr(const void *addr, nmw_elf_object_t *out) {
  find_ctx_t c = {NULL, (uintptr_t)addr, addr == NULL, out, false};
  dl_iterate_phdr(find_cb, &c);
  return c.found ? NMW_ELF_OK : NMW_ELF_ENOTFOUND;
}

/* ---- reading an object's tables, checked ---- */

typedef struct tables {
  const ElfW(Sym) *symtab;
  const char *strtab;
  size_t strsz;
  const ElfW(Rela) *jmprel;
  size_t jmprel_count;
  const ElfW(Rela) *rela;
  size_t rela_count;
  uintptr_t relro_lo, relro_hi; /* page-aligned, as the loader protects it; 0 = none */
} tables_t;

/* True when [addr, addr + len) lies inside one loaded segment (writable ones only
 * when writable is set). */
static bool in_load(const nmw_elf_object_t *o, uintptr_t addr, size_t len, bool writable) {
  for (uint16_t i = 0; i < o->phnum; i++) {
    const ElfW(Phdr) *p = &o->phdr[i];
    if (p->p_type != PT_LOAD) continue;
    if (writable && !(p->p_flags & PF_W)) continue;
    uintptr_t lo = o->base + p->p_vaddr;
    if (addr >= lo && len <= p->p_memsz && addr - lo <= p->p_memsz - len) return true;
  }
  return false;
}

static uintptr_t reloc_ptr(const nmw_elf_object_t *o, ElfW(Addr) v) {
  return v < o->base ? o->base + v : v;
}

static int fail(nmw_elf_report_t *r, const char *why) {
  snprintf(r->reason, sizeof r->reason, "%s", why);
  return NMW_ELF_EUNSAFE;
}

static int read_tables(const nmw_elf_object_t *o, tables_t *t, nmw_elf_report_t *r) {
  memset(t, 0, sizeof *t);
  const ElfW(Dyn) *dyn = NULL;
  size_t dyn_size = 0;
  long pagesz = sysconf(_SC_PAGESIZE);
  if (!o->phdr || o->phnum == 0) return fail(r, "no program headers");
  for (uint16_t i = 0; i < o->phnum; i++) {
    const ElfW(Phdr) *p = &o->phdr[i];
    if (p->p_type == PT_DYNAMIC) {
      dyn = (const ElfW(Dyn) *)(o->base + p->p_vaddr);
      dyn_size = p->p_memsz;
    } else if (p->p_type == PT_GNU_RELRO) {
      uintptr_t lo = (o->base + p->p_vaddr) & ~(uintptr_t)(pagesz - 1);
      uintptr_t hi = (o->base + p->p_vaddr + p->p_memsz) & ~(uintptr_t)(pagesz - 1);
      if (hi > lo) {
        t->relro_lo = lo;
        t->relro_hi = hi;
      }
    }
  }
  if (!dyn) return fail(r, "no PT_DYNAMIC segment");
  if (!in_load(o, (uintptr_t)dyn, dyn_size, false)) return fail(r, "PT_DYNAMIC outside the loaded segments");
  ElfW(Addr) symtab = 0, strtab = 0, jmprel = 0, rela = 0;
  size_t strsz = 0, pltrelsz = 0, relasz = 0, relaent = sizeof(ElfW(Rela)), syment = sizeof(ElfW(Sym));
  long pltrel = DT_RELA;
  bool have_rel = false;
  size_t ndyn = dyn_size / sizeof *dyn;
  for (size_t i = 0; i < ndyn && dyn[i].d_tag != DT_NULL; i++) {
    switch (dyn[i].d_tag) {
      case DT_SYMTAB: symtab = dyn[i].d_un.d_ptr; break;
      case DT_STRTAB: strtab = dyn[i].d_un.d_ptr; break;
      case DT_STRSZ: strsz = dyn[i].d_un.d_val; break;
      case DT_SYMENT: syment = dyn[i].d_un.d_val; break;
      case DT_JMPREL: jmprel = dyn[i].d_un.d_ptr; break;
      case DT_PLTRELSZ: pltrelsz = dyn[i].d_un.d_val; break;
      case DT_PLTREL: pltrel = (long)dyn[i].d_un.d_val; break;
      case DT_RELA: rela = dyn[i].d_un.d_ptr; break;
      case DT_RELASZ: relasz = dyn[i].d_un.d_val; break;
      case DT_RELAENT: relaent = dyn[i].d_un.d_val; break;
      case DT_REL: have_rel = true; break;
      default: break;
    }
  }
  if (have_rel) return fail(r, "REL (not RELA) relocations are not supported on this platform");
  if (!symtab || !strtab || !strsz) return fail(r, "no dynamic symbol or string table");
  if (syment != sizeof(ElfW(Sym)) || relaent != sizeof(ElfW(Rela))) return fail(r, "unexpected entry sizes");
  if (jmprel && pltrel != DT_RELA) return fail(r, "DT_PLTREL is not DT_RELA");
  t->symtab = (const ElfW(Sym) *)reloc_ptr(o, symtab);
  t->strtab = (const char *)reloc_ptr(o, strtab);
  t->strsz = strsz;
  if (!in_load(o, (uintptr_t)t->symtab, sizeof(ElfW(Sym)), false)) return fail(r, "DT_SYMTAB outside the loaded segments");
  if (!in_load(o, (uintptr_t)t->strtab, strsz, false)) return fail(r, "DT_STRTAB outside the loaded segments");
  if (jmprel) {
    if (pltrelsz % sizeof(ElfW(Rela))) return fail(r, "DT_PLTRELSZ is not a whole number of entries");
    t->jmprel = (const ElfW(Rela) *)reloc_ptr(o, jmprel);
    t->jmprel_count = pltrelsz / sizeof(ElfW(Rela));
    if (!in_load(o, (uintptr_t)t->jmprel, pltrelsz, false)) return fail(r, "DT_JMPREL outside the loaded segments");
  }
  if (rela) {
    if (relasz % sizeof(ElfW(Rela))) return fail(r, "DT_RELASZ is not a whole number of entries");
    t->rela = (const ElfW(Rela) *)reloc_ptr(o, rela);
    t->rela_count = relasz / sizeof(ElfW(Rela));
    if (!in_load(o, (uintptr_t)t->rela, relasz, false)) return fail(r, "DT_RELA outside the loaded segments");
  }
  return NMW_ELF_OK;
}

/* The name of a relocation's symbol, checked; NULL with reason set when unsafe. */
static const char *sym_name(const nmw_elf_object_t *o, const tables_t *t, const ElfW(Rela) *rel,
                            const ElfW(Sym) **sym_out) {
  size_t idx = ELF_R_SYM_(rel->r_info);
  const ElfW(Sym) *sym = t->symtab + idx;
  if (idx == 0 || (uintptr_t)sym < (uintptr_t)t->symtab ||
      !in_load(o, (uintptr_t)sym, sizeof *sym, false))
    return NULL;
  if (sym->st_name >= t->strsz) return NULL;
  /* The string must end inside the table. */
  if (!memchr(t->strtab + sym->st_name, '\0', t->strsz - sym->st_name)) return NULL;
  *sym_out = sym;
  return t->strtab + sym->st_name;
}

typedef struct pending {
  void **slot;
  void *value;
} pending_t;

/* Walks one relocation table; collects the writes (when w is not NULL) and
 * fills the report. Returns NMW_ELF_OK or NMW_ELF_EUNSAFE. */
static int scan(const nmw_elf_object_t *o, const tables_t *t, const ElfW(Rela) *rels, size_t n,
                const nmw_elf_hook_t *hooks, size_t nhooks, void **originals, pending_t *w,
                size_t *nw, size_t wcap, nmw_elf_report_t *r) {
  for (size_t i = 0; i < n; i++) {
    const ElfW(Rela) *rel = &rels[i];
    unsigned type = (unsigned)ELF_R_TYPE_(rel->r_info);
    if (type != R_JUMP_SLOT && type != R_GLOB_DAT) continue;
    const ElfW(Sym) *sym = NULL;
    const char *name = sym_name(o, t, rel, &sym);
    if (!name) return fail(r, "a relocation names a symbol outside the symbol or string table");
    size_t h = 0;
    while (h < nhooks && strcmp(hooks[h].name, name) != 0) h++;
    if (h == nhooks) continue;
    r->relocs++;
    uintptr_t slot = o->base + rel->r_offset;
    if (slot % sizeof(void *)) return fail(r, "a relocation slot is misaligned");
    bool relro = t->relro_hi && slot >= t->relro_lo && slot < t->relro_hi;
    if (relro ? !in_load(o, slot, sizeof(void *), false) : !in_load(o, slot, sizeof(void *), true))
      return fail(r, "a relocation slot lies outside the writable segments");
    if (sym->st_shndx != SHN_UNDEF) {
      r->defined++;
      continue;
    }
    void *current = *(void *volatile *)slot;
    if (current == hooks[h].replacement) {
      r->already++;
      if (type == R_JUMP_SLOT) r->jump_slots++; else r->glob_dats++;
      if (h < 64) r->hooked_mask |= UINT64_C(1) << h;
      continue;
    }
    if (!originals[h]) {
      /* A slot that points back into the object is not bound yet (lazy PLT). */
      void *target = current;
      if (!target || in_load(o, (uintptr_t)target, 1, false)) target = dlsym(RTLD_DEFAULT, name);
      if (!target || target == hooks[h].replacement) {
        r->unresolved++;
        continue;
      }
      originals[h] = target;
    }
    if (w) {
      if (*nw >= wcap) return fail(r, "too many relocation slots");
      w[*nw].slot = (void **)slot;
      w[*nw].value = hooks[h].replacement;
      (*nw)++;
    }
    if (relro) r->relro_slots++;
    if (type == R_JUMP_SLOT) r->jump_slots++; else r->glob_dats++;
    if (h < 64) r->hooked_mask |= UINT64_C(1) << h;
  }
  return NMW_ELF_OK;
}

int nmw_elf_patch(const nmw_elf_object_t *obj, const nmw_elf_hook_t *hooks, size_t nhooks,
                  nmw_elf_report_t *report) {
  nmw_elf_report_t local;
  nmw_elf_report_t *r = report ? report : &local;
  memset(r, 0, sizeof *r);
  pthread_mutex_lock(&patch_lock);
  tables_t t;
  int rc = read_tables(obj, &t, r);
  void **originals = NULL;
  pending_t *writes = NULL;
  size_t nw = 0, cap = t.jmprel_count + t.rela_count;
  if (rc != NMW_ELF_OK) goto out;
  originals = calloc(nhooks ? nhooks : 1, sizeof *originals);
  writes = calloc(cap ? cap : 1, sizeof *writes);
  if (!originals || !writes) {
    rc = fail(r, "out of memory");
    goto out;
  }
  /* Pass 1: check everything, collect the writes. */
  rc = scan(obj, &t, t.jmprel, t.jmprel_count, hooks, nhooks, originals, writes, &nw, cap, r);
  if (rc == NMW_ELF_OK)
    rc = scan(obj, &t, t.rela, t.rela_count, hooks, nhooks, originals, writes, &nw, cap, r);
  if (rc != NMW_ELF_OK) {
    memset(&r->relocs, 0, offsetof(nmw_elf_report_t, reason));
    goto out;
  }
  /* Pass 2: publish the originals first (a call may arrive through a slot the
   * moment it is written), open the RELRO range if a write lands there, write,
   * close it. */
  bool opened = false;
  if (r->relro_slots) {
    if (mprotect((void *)t.relro_lo, t.relro_hi - t.relro_lo, PROT_READ | PROT_WRITE) != 0) {
      snprintf(r->reason, sizeof r->reason, "mprotect of the RELRO range failed: %s", strerror(errno));
      memset(&r->relocs, 0, offsetof(nmw_elf_report_t, reason));
      rc = NMW_ELF_EPROTECT;
      goto out;
    }
    opened = true;
  }
  for (size_t h = 0; h < nhooks; h++)
    if (hooks[h].original && originals[h])
      __atomic_store_n(hooks[h].original, originals[h], __ATOMIC_RELEASE);
  for (size_t i = 0; i < nw; i++)
    __atomic_store_n(writes[i].slot, writes[i].value, __ATOMIC_RELEASE);
  r->patched = (uint32_t)nw;
  if (opened) mprotect((void *)t.relro_lo, t.relro_hi - t.relro_lo, PROT_READ);
out:
  pthread_mutex_unlock(&patch_lock);
  free(originals);
  free(writes);
  return rc;
}

void *nmw_elf_slot_value(const nmw_elf_object_t *obj, const char *name) {
  nmw_elf_report_t r;
  memset(&r, 0, sizeof r);
  tables_t t;
  if (read_tables(obj, &t, &r) != NMW_ELF_OK) return NULL;
  const ElfW(Rela) *tabs[2] = {t.jmprel, t.rela};
  size_t counts[2] = {t.jmprel_count, t.rela_count};
  for (int k = 0; k < 2; k++) {
    for (size_t i = 0; i < counts[k]; i++) {
      const ElfW(Rela) *rel = &tabs[k][i];
      unsigned type = (unsigned)ELF_R_TYPE_(rel->r_info);
      if (type != R_JUMP_SLOT && type != R_GLOB_DAT) continue;
      const ElfW(Sym) *sym;
      const char *n = sym_name(obj, &t, rel, &sym);
      if (n && strcmp(n, name) == 0) return *(void *volatile *)(obj->base + rel->r_offset);
    }
  }
  return NULL;
}

#endif /* NMW_ELF_PATCH_SUPPORTED */
