/*
 * test_elf_patch.c: relocation rewriting (src/core/elf_patch.c) over real shared
 * objects built by the Makefile from fixtures/elf_fixture.c, plus synthetic
 * objects whose tables are broken on purpose. Needs only elf_patch.c, so the
 * same file is cross-built for aarch64 and run under qemu-user.
 *
 * The fixtures live in fixtures/ beside the test binary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dlfcn.h>
#include <elf.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/core/elf_patch.h"

/* An object that calls malloc and takes its address: on x86-64 the linker
 * routes the calls through the GLOB_DAT slot and makes no JUMP_SLOT for malloc;
 * on aarch64 it keeps both. calloc and free have one JUMP_SLOT each. */
#if defined(__x86_64__)
#define JUMP_SLOT R_X86_64_JUMP_SLOT
#define GLOB_DAT R_X86_64_GLOB_DAT
#define PLT_JUMP_SLOTS 2
#else
#define JUMP_SLOT R_AARCH64_JUMP_SLOT
#define GLOB_DAT R_AARCH64_GLOB_DAT
#define PLT_JUMP_SLOTS 3
#endif
#define PLT_SLOTS (PLT_JUMP_SLOTS + 1)

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void (*real_free)(void *);
static int malloc_calls, calloc_calls, free_calls, helper_calls;

static void *count_malloc(size_t n) {
  malloc_calls++;
  return real_malloc(n);
}
static void *count_calloc(size_t c, size_t n) {
  calloc_calls++;
  return real_calloc(c, n);
}
static void count_free(void *p) {
  free_calls++;
  real_free(p);
}
static int count_helper(int x) {
  helper_calls++;
  return x + 100;
}

static void reset_counts(void) { malloc_calls = calloc_calls = free_calls = helper_calls = 0; }

static char fixture_dir[PATH_MAX - 64];

static void find_fixture_dir(void) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  assert_true(n > 0);
  exe[n] = '\0';
  char *dir = dirname(exe);
  assert_true(strlen(dir) + sizeof "/fixtures" <= sizeof fixture_dir);
  memcpy(fixture_dir, dir, strlen(dir));
  memcpy(fixture_dir + strlen(dir), "/fixtures", sizeof "/fixtures");
}

static void *open_fixture(const char *name, int mode, char *path_out) {
  char path[PATH_MAX];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", fixture_dir, name) >= sizeof path) fail();
  void *h = dlopen(path, mode);
  if (!h) fail_msg("dlopen %s: %s", path, dlerror());
  if (path_out) strcpy(path_out, path);
  return h;
}

/* The permissions column of /proc/self/maps for the mapping holding addr. */
static void perms_of(const void *addr, char out[5]) {
  FILE *f = fopen("/proc/self/maps", "r");
  assert_non_null(f);
  char line[512];
  strcpy(out, "????");
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    char perms[5];
    if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && (uintptr_t)addr >= lo &&
        (uintptr_t)addr < hi) {
      memcpy(out, perms, 5);
      break;
    }
  }
  fclose(f);
}

static void *original_malloc, *original_calloc, *original_free, *original_helper;

static size_t alloc_hooks(nmw_elf_hook_t *hooks) {
  hooks[0] = (nmw_elf_hook_t){"malloc", (void *)count_malloc, &original_malloc};
  hooks[1] = (nmw_elf_hook_t){"calloc", (void *)count_calloc, &original_calloc};
  hooks[2] = (nmw_elf_hook_t){"free", (void *)count_free, &original_free};
  return 3;
}

static void test_platform_name(void **state) {
  (void)state;
#if defined(__x86_64__)
  assert_string_equal(nmw_elf_platform(), "linux-x64-glibc");
#else
  assert_string_equal(nmw_elf_platform(), "linux-arm64-glibc");
#endif
}

/* Lazy binding, partial RELRO: JUMP_SLOT entries still point into the PLT. */
static void test_lazy_unbound_slots(void **state) {
  (void)state;
  char path[PATH_MAX];
  void *h = open_fixture("libfix_lazy.so", RTLD_LAZY | RTLD_LOCAL, path);
  nmw_elf_object_t obj;
  assert_int_equal(nmw_elf_find_path(path, &obj), NMW_ELF_OK);
  nmw_elf_hook_t hooks[3];
  size_t n = alloc_hooks(hooks);
  nmw_elf_report_t rep;
  assert_int_equal(nmw_elf_patch(&obj, hooks, n, &rep), NMW_ELF_OK);
  assert_string_equal(rep.reason, "");
  assert_int_equal(rep.patched, PLT_SLOTS);
  assert_int_equal(rep.jump_slots, PLT_JUMP_SLOTS);
  assert_int_equal(rep.glob_dats, 1);
  assert_int_equal(rep.relro_slots, 0);
  assert_int_equal(rep.hooked_mask, 0x7);
  /* Unbound slots: the originals come from the global scope. */
  assert_ptr_equal(original_malloc, dlsym(RTLD_DEFAULT, "malloc"));
  assert_ptr_equal(original_free, dlsym(RTLD_DEFAULT, "free"));
  real_malloc = original_malloc;
  real_calloc = original_calloc;
  real_free = original_free;

  void *(*fix_alloc)(size_t) = (void *(*)(size_t))dlsym(h, "fix_alloc");
  void *(*fix_zalloc)(size_t) = (void *(*)(size_t))dlsym(h, "fix_zalloc");
  void (*fix_free)(void *) = (void (*)(void *))dlsym(h, "fix_free");
  reset_counts();
  void *a = fix_alloc(10), *b = fix_zalloc(20);
  assert_int_equal(((unsigned char *)b)[19], 0);
  fix_free(a);
  fix_free(b);
  assert_int_equal(malloc_calls, 1);
  assert_int_equal(calloc_calls, 1);
  assert_int_equal(free_calls, 2);
  /* Our own calls are not the object's: not counted. */
  free(malloc(8));
  assert_int_equal(malloc_calls, 1);

  /* Twice: nothing written, every slot found already hooked. */
  nmw_elf_report_t again;
  assert_int_equal(nmw_elf_patch(&obj, hooks, n, &again), NMW_ELF_OK);
  assert_int_equal(again.patched, 0);
  assert_int_equal(again.already, PLT_SLOTS);
  assert_ptr_equal(nmw_elf_slot_value(&obj, "malloc"), (void *)count_malloc);
  dlclose(h);
}

/* BIND_NOW + full RELRO: the slots are read-only until patched, and again after. */
static void test_full_relro(void **state) {
  (void)state;
  char path[PATH_MAX];
  void *h = open_fixture("libfix_now.so", RTLD_NOW | RTLD_LOCAL, path);
  nmw_elf_object_t obj;
  assert_int_equal(nmw_elf_find_path(path, &obj), NMW_ELF_OK);
  void **slot = NULL;
  /* The value is bound already: libc's malloc (or what the global scope gives). */
  assert_ptr_equal(nmw_elf_slot_value(&obj, "malloc"), dlsym(RTLD_DEFAULT, "malloc"));
  nmw_elf_hook_t hooks[3];
  size_t n = alloc_hooks(hooks);
  nmw_elf_report_t rep;
  assert_int_equal(nmw_elf_patch(&obj, hooks, n, &rep), NMW_ELF_OK);
  assert_int_equal(rep.patched, PLT_SLOTS);
  assert_int_equal(rep.relro_slots, PLT_SLOTS);
  assert_ptr_equal(original_malloc, dlsym(RTLD_DEFAULT, "malloc"));
  (void)slot;
  real_malloc = original_malloc;
  real_calloc = original_calloc;
  real_free = original_free;
  /* Protection restored: writing the GOT now would fault. Find a slot through
   * the public reader (its value) and the maps of the page that holds it. */
  void *(*fix_alloc)(size_t) = (void *(*)(size_t))dlsym(h, "fix_alloc");
  void (*fix_free)(void *) = (void (*)(void *))dlsym(h, "fix_free");
  reset_counts();
  fix_free(fix_alloc(33));
  assert_int_equal(malloc_calls, 1);
  assert_int_equal(free_calls, 1);
  dlclose(h);
}

/* -fno-plt: calls and address-taking go through GLOB_DAT slots. */
static void test_glob_dat(void **state) {
  (void)state;
  char path[PATH_MAX];
  void *h = open_fixture("libfix_noplt.so", RTLD_NOW | RTLD_LOCAL, path);
  nmw_elf_object_t obj;
  assert_int_equal(nmw_elf_find_path(path, &obj), NMW_ELF_OK);
  typedef void *(*malloc_fn)(size_t);
  malloc_fn (*addr_of)(void) = (malloc_fn(*)(void))dlsym(h, "fix_malloc_address");
  assert_ptr_equal((void *)addr_of(), dlsym(RTLD_DEFAULT, "malloc"));
  nmw_elf_hook_t hooks[3];
  size_t n = alloc_hooks(hooks);
  nmw_elf_report_t rep;
  assert_int_equal(nmw_elf_patch(&obj, hooks, n, &rep), NMW_ELF_OK);
  assert_int_equal(rep.jump_slots, 0);
  assert_int_equal(rep.glob_dats, 3);
  assert_int_equal(rep.patched, 3);
  real_malloc = original_malloc;
  real_calloc = original_calloc;
  real_free = original_free;
  /* Address-taking sees the replacement too, so a pointer handed on still counts. */
  assert_ptr_equal((void *)addr_of(), (void *)count_malloc);
  void *(*fix_alloc)(size_t) = (void *(*)(size_t))dlsym(h, "fix_alloc");
  void (*fix_free)(void *) = (void (*)(void *))dlsym(h, "fix_free");
  reset_counts();
  fix_free(fix_alloc(5));
  assert_int_equal(malloc_calls, 1);
  assert_int_equal(free_calls, 1);
  dlclose(h);
}

/* A symbol the object defines itself is left alone. */
static void test_defined_symbol_left_alone(void **state) {
  (void)state;
  char path[PATH_MAX];
  void *h = open_fixture("libfix_lazy.so", RTLD_NOW | RTLD_LOCAL, path);
  nmw_elf_object_t obj;
  assert_int_equal(nmw_elf_find_path(path, &obj), NMW_ELF_OK);
  nmw_elf_hook_t hook = {"fix_helper", (void *)count_helper, &original_helper};
  nmw_elf_report_t rep;
  assert_int_equal(nmw_elf_patch(&obj, &hook, 1, &rep), NMW_ELF_OK);
  assert_int_equal(rep.patched, 0);
  assert_int_equal(rep.defined, 1);
  assert_null(original_helper);
  int (*call_helper)(int) = (int (*)(int))dlsym(h, "fix_call_helper");
  reset_counts();
  assert_int_equal(call_helper(1), 2);
  assert_int_equal(helper_calls, 0);
  dlclose(h);
}

static void test_find(void **state) {
  (void)state;
  nmw_elf_object_t exe, self;
  assert_int_equal(nmw_elf_find_addr(NULL, &exe), NMW_ELF_OK);
  assert_string_equal(exe.path, "");
  assert_int_equal(nmw_elf_find_addr((void *)test_find, &self), NMW_ELF_OK);
  assert_int_equal(self.base, exe.base); /* this test is the executable */
  nmw_elf_object_t none;
  assert_int_equal(nmw_elf_find_path("/nonexistent/libx.so", &none), NMW_ELF_ENOTFOUND);
  char path[PATH_MAX];
  void *h = open_fixture("libfix_now.so", RTLD_NOW | RTLD_LOCAL, path);
  nmw_elf_object_t a, b;
  assert_int_equal(nmw_elf_find_path(path, &a), NMW_ELF_OK);
  assert_int_equal(nmw_elf_find_addr(dlsym(h, "fix_alloc"), &b), NMW_ELF_OK);
  assert_int_equal(a.base, b.base);
  assert_string_equal(a.path, path);
  dlclose(h);
}

/* ---- synthetic objects: one RW segment holding dynamic section, tables, slots ---- */

typedef struct synth {
  _Alignas(4096) unsigned char mem[8192];
  ElfW(Phdr) phdr[2];
  nmw_elf_object_t obj;
} synth_t;

enum { DYN_AT = 0, SYM_AT = 512, STR_AT = 1024, RELA_AT = 1536, SLOT_AT = 2048 };

/* Builds an object with symbols "malloc" (1) and "free" (2) and one JUMP_SLOT per
 * symbol; extra_dyn (tag, value) is appended to the dynamic section. */
static void synth_build(synth_t *s, int64_t extra_tag, uint64_t extra_val, size_t nrela) {
  memset(s, 0, sizeof *s);
  const char strs[] = "\0malloc\0free";
  memcpy(s->mem + STR_AT, strs, sizeof strs);
  ElfW(Sym) *sym = (ElfW(Sym) *)(s->mem + SYM_AT);
  sym[1].st_name = 1;
  sym[2].st_name = 8;
  ElfW(Rela) *rela = (ElfW(Rela) *)(s->mem + RELA_AT);
  for (size_t i = 0; i < nrela; i++) {
    rela[i].r_offset = SLOT_AT + 8 * i;
    rela[i].r_info = ELF64_R_INFO(1 + (i % 2), JUMP_SLOT);
  }
  ElfW(Dyn) *d = (ElfW(Dyn) *)(s->mem + DYN_AT);
  int k = 0;
  d[k].d_tag = DT_SYMTAB, d[k++].d_un.d_ptr = SYM_AT;
  d[k].d_tag = DT_STRTAB, d[k++].d_un.d_ptr = STR_AT;
  d[k].d_tag = DT_STRSZ, d[k++].d_un.d_val = sizeof strs;
  d[k].d_tag = DT_JMPREL, d[k++].d_un.d_ptr = RELA_AT;
  d[k].d_tag = DT_PLTRELSZ, d[k++].d_un.d_val = nrela * sizeof(ElfW(Rela));
  d[k].d_tag = DT_PLTREL, d[k++].d_un.d_val = DT_RELA;
  if (extra_tag) d[k].d_tag = extra_tag, d[k++].d_un.d_val = extra_val;
  d[k].d_tag = DT_NULL;
  s->phdr[0] = (ElfW(Phdr)){.p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_vaddr = 0,
                            .p_memsz = sizeof s->mem};
  s->phdr[1] = (ElfW(Phdr)){.p_type = PT_DYNAMIC, .p_flags = PF_R | PF_W, .p_vaddr = DYN_AT,
                            .p_memsz = 512};
  s->obj.base = (uintptr_t)s->mem;
  s->obj.phdr = s->phdr;
  s->obj.phnum = 2;
  s->obj.path[0] = '\0';
}

static void *slot_of(synth_t *s, size_t i) { return ((void **)(s->mem + SLOT_AT))[i]; }

static void test_synthetic_ok(void **state) {
  (void)state;
  static synth_t s;
  synth_build(&s, 0, 0, 2);
  nmw_elf_hook_t hooks[3];
  size_t n = alloc_hooks(hooks);
  original_calloc = NULL;
  nmw_elf_report_t rep;
  assert_int_equal(nmw_elf_patch(&s.obj, hooks, n, &rep), NMW_ELF_OK);
  assert_int_equal(rep.patched, 2);
  assert_ptr_equal(slot_of(&s, 0), (void *)count_malloc);
  assert_ptr_equal(slot_of(&s, 1), (void *)count_free);
  /* Empty slots count as unbound: originals from the global scope. */
  assert_ptr_equal(original_malloc, dlsym(RTLD_DEFAULT, "malloc"));
  assert_null(original_calloc);
}

/* Each broken table: EUNSAFE, the reason, and no slot written. */
static void expect_unsafe(synth_t *s, const char *reason) {
  nmw_elf_hook_t hooks[3];
  size_t n = alloc_hooks(hooks);
  original_malloc = NULL;
  nmw_elf_report_t rep;
  assert_int_equal(nmw_elf_patch(&s->obj, hooks, n, &rep), NMW_ELF_EUNSAFE);
  assert_string_equal(rep.reason, reason);
  assert_int_equal(rep.patched, 0);
  assert_int_equal(rep.relocs, 0);
  for (size_t i = 0; i < 4; i++) assert_null(slot_of(s, i));
  assert_null(original_malloc);
}

static void test_synthetic_rel_refused(void **state) {
  (void)state;
  static synth_t s;
  synth_build(&s, DT_REL, RELA_AT, 2);
  expect_unsafe(&s, "REL (not RELA) relocations are not supported on this platform");
}

static void test_synthetic_table_outside(void **state) {
  (void)state;
  static synth_t s;
  synth_build(&s, 0, 0, 2);
  ((ElfW(Dyn) *)(s.mem + DYN_AT))[4].d_un.d_val = 3000 * sizeof(ElfW(Rela)); /* DT_PLTRELSZ past the segment */
  expect_unsafe(&s, "DT_JMPREL outside the loaded segments");
}

/* The second entry is bad: the first, although fine, must not be written. */
static void test_synthetic_never_half_patched(void **state) {
  (void)state;
  static synth_t s;
  synth_build(&s, 0, 0, 3);
  ElfW(Rela) *rela = (ElfW(Rela) *)(s.mem + RELA_AT);
  rela[1].r_info = ELF64_R_INFO(100000, JUMP_SLOT); /* symbol index far outside */
  expect_unsafe(&s, "a relocation names a symbol outside the symbol or string table");
  synth_build(&s, 0, 0, 3);
  rela[2].r_offset = 64 * 1024; /* a slot outside the object */
  expect_unsafe(&s, "a relocation slot lies outside the writable segments");
  synth_build(&s, 0, 0, 3);
  rela[2].r_offset = SLOT_AT + 4; /* misaligned */
  expect_unsafe(&s, "a relocation slot is misaligned");
}

static void test_synthetic_read_only_segment(void **state) {
  (void)state;
  static synth_t s;
  synth_build(&s, 0, 0, 2);
  s.phdr[0].p_flags = PF_R; /* slots in a read-only segment outside RELRO */
  expect_unsafe(&s, "a relocation slot lies outside the writable segments");
}

static void test_relro_protection_restored(void **state) {
  (void)state;
  char path[PATH_MAX];
  void *h = open_fixture("libfix_now.so", RTLD_NOW | RTLD_LOCAL, path);
  nmw_elf_object_t obj;
  assert_int_equal(nmw_elf_find_path(path, &obj), NMW_ELF_OK);
  const ElfW(Phdr) *relro = NULL;
  for (int i = 0; i < obj.phnum; i++)
    if (obj.phdr[i].p_type == PT_GNU_RELRO) relro = &obj.phdr[i];
  assert_non_null(relro);
  void *page = (void *)(obj.base + relro->p_vaddr);
  char before[5], after[5];
  perms_of(page, before);
  assert_memory_equal(before, "r--", 3);
  nmw_elf_hook_t hooks[3];
  size_t n = alloc_hooks(hooks);
  nmw_elf_report_t rep;
  assert_int_equal(nmw_elf_patch(&obj, hooks, n, &rep), NMW_ELF_OK);
  assert_true(rep.relro_slots > 0);
  perms_of(page, after);
  assert_memory_equal(after, "r--", 3);
  dlclose(h);
}

int main(void) {
  find_fixture_dir();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_platform_name),
      cmocka_unit_test(test_lazy_unbound_slots),
      cmocka_unit_test(test_full_relro),
      cmocka_unit_test(test_glob_dat),
      cmocka_unit_test(test_defined_symbol_left_alone),
      cmocka_unit_test(test_find),
      cmocka_unit_test(test_synthetic_ok),
      cmocka_unit_test(test_synthetic_rel_refused),
      cmocka_unit_test(test_synthetic_table_outside),
      cmocka_unit_test(test_synthetic_never_half_patched),
      cmocka_unit_test(test_synthetic_read_only_segment),
      cmocka_unit_test(test_relro_protection_restored),
  };
  return cmocka_run_group_tests_name("elf_patch", tests, NULL, NULL);
}
