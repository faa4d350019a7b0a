/*
 * attach.c: instrumenting addons we did not compile (docs/attach.md), and the
 * binding functions lib/attach.js uses.
 *
 * Addons loaded later are seen at the one place every addon load goes through:
 * the dlopen call of libuv's uv_dlopen inside the Node executable (or libnode).
 * That object's own "dlopen" relocation slot is patched like an addon's, so a
 * load on any thread (main, worker, any loader in JS) returns through
 * attach_dlopen, which patches the new object before Node calls its init.
 * Each attached object is pinned (RTLD_NODELETE): Node would unload an addon
 * only workers used when the last of them exits, and a reload must find the
 * same, already patched object. One patch per object, shared by every thread.
 *
 * State is process-wide (the objects are), under one mutex; the hooks read only
 * what attach_hooks.c keeps per slot.
 */
#include <node_api.h>

#include "addon.h"
#include "napi_util.h"

#include "../core/core.h"
#include "../core/elf_patch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if NMW_ELF_PATCH_SUPPORTED

#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>

#include "attach_hooks.h"

#define SKIPPED_MAX 64
#define PATTERNS_MAX 64

typedef struct addon {
  uintptr_t base;
  char path[PATH_MAX];
  char package[128];
  char file[128];
  char name[NMW_TAG_NAME_MAX + 1];
  nmw_tag_t tag;
  nmw_elf_report_t report;
  bool explicit_path; /* attach(path) */
} addon_t;

typedef struct skipped {
  char path[PATH_MAX];
  char reason[160];
} skipped_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static addon_t addons[NMW_ATTACH_MAX];
static _Atomic int addon_count;
static skipped_t skipped[SKIPPED_MAX];
static int skipped_count, skipped_dropped;
static _Atomic bool enabled;
static bool hook_installed;
static char hook_reason[256];
static char *includes[PATTERNS_MAX], *excludes[PATTERNS_MAX];
static int include_count = -1, exclude_count; /* include_count -1: every addon */
static void *(*real_dlopen)(const char *, int);
static char last_reason[200];

/* ---- names ---- */

static void copy_str(char *dst, size_t cap, const char *src, size_t n) {
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* The "name" of package.json at dir, or false. */
static bool package_json_name(const char *dir, char *out, size_t cap) {
  char pj[PATH_MAX];
  if ((size_t)snprintf(pj, sizeof pj, "%s/package.json", dir) >= sizeof pj) return false;
  FILE *f = fopen(pj, "r");
  if (!f) return false;
  char buf[8192];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *k = strstr(buf, "\"name\"");
  if (!k) return false;
  k = strchr(k + 6, ':');
  if (!k) return false;
  k = strchr(k, '"');
  if (!k) return false;
  char *e = strchr(k + 1, '"');
  if (!e || e == k + 1) return false;
  copy_str(out, cap, k + 1, (size_t)(e - k - 1));
  return true;
}

/* The package an addon file belongs to: the segment after the last
 * node_modules/ (two for a scope), else the nearest package.json's name, else
 * the parent directory's name. */
static void package_of(const char *path, char *out, size_t cap) {
  const char *nm = NULL, *p = path;
  while ((p = strstr(p, "/node_modules/")) != NULL) nm = p++;
  if (nm) {
    const char *s = nm + strlen("/node_modules/");
    const char *slash = strchr(s, '/');
    if (s[0] == '@' && slash) slash = strchr(slash + 1, '/');
    if (slash) {
      copy_str(out, cap, s, (size_t)(slash - s));
      return;
    }
  }
  char dir[PATH_MAX];
  copy_str(dir, sizeof dir, path, strlen(path));
  char *cut;
  while ((cut = strrchr(dir, '/')) != NULL && cut != dir) {
    *cut = '\0';
    if (package_json_name(dir, out, cap)) return;
  }
  copy_str(dir, sizeof dir, path, strlen(path));
  cut = strrchr(dir, '/');
  if (cut) *cut = '\0';
  const char *parent = strrchr(dir, '/');
  copy_str(out, cap, parent ? parent + 1 : dir, strlen(parent ? parent + 1 : dir));
}

/* Tag names allow [A-Za-z0-9._:/-]: a scope's '@' is dropped, anything else
 * becomes '_'. */
static void sanitize(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    char c = *r;
    if (c == '@' && r == s) continue;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
    *w++ = ok ? c : '_';
  }
  *w = '\0';
}

static void make_tag_name(const char *package, const char *file, char *out) {
  char pkg[128], fil[128];
  copy_str(pkg, sizeof pkg, package, strlen(package));
  copy_str(fil, sizeof fil, file, strlen(file));
  sanitize(pkg);
  sanitize(fil);
  size_t fl = strlen(fil);
  if (fl > NMW_TAG_NAME_MAX - 2) fil[fl = NMW_TAG_NAME_MAX - 2] = '\0';
  size_t room = NMW_TAG_NAME_MAX - fl - 1;
  if (strlen(pkg) > room) pkg[room] = '\0';
  snprintf(out, NMW_TAG_NAME_MAX + 1, "%s/%s", pkg, fil);
}

/* ---- filters ---- */

static bool pattern_matches(const char *pat, const addon_t *a) {
  return strcmp(pat, a->package) == 0 || strcmp(pat, a->name) == 0 || strcmp(pat, a->file) == 0 ||
         strcmp(pat, a->path) == 0;
}

static bool wanted(const addon_t *a) {
  for (int i = 0; i < exclude_count; i++)
    if (pattern_matches(excludes[i], a)) return false;
  if (include_count < 0) return true;
  for (int i = 0; i < include_count; i++)
    if (pattern_matches(includes[i], a)) return true;
  return false;
}

/* ---- attaching one object (lock held) ---- */

static void note_skipped(const char *path, const char *reason) {
  for (int i = 0; i < skipped_count; i++)
    if (strcmp(skipped[i].path, path) == 0) return;
  if (skipped_count >= SKIPPED_MAX) {
    skipped_dropped++;
    return;
  }
  copy_str(skipped[skipped_count].path, PATH_MAX, path, strlen(path));
  copy_str(skipped[skipped_count].reason, 160, reason, strlen(reason));
  skipped_count++;
}

static bool is_self(const nmw_elf_object_t *obj) {
  nmw_elf_object_t self;
  return nmw_elf_find_addr((const void *)nmw__addon_table, &self) == NMW_ELF_OK &&
         self.base == obj->base;
}

/* Returns the slot, or -1 with *why set (not wanted: why NULL). */
static int attach_object_locked(const nmw_elf_object_t *obj, bool explicit_path, const char **why) {
  *why = NULL;
  int n = atomic_load(&addon_count);
  for (int i = 0; i < n; i++)
    if (addons[i].base == obj->base) return i; /* attached already: harmless */
  if (is_self(obj)) {
    *why = "native-memwatch does not attach to itself";
    return -1;
  }
  addon_t cand;
  memset(&cand, 0, sizeof cand);
  cand.base = obj->base;
  char real[PATH_MAX];
  copy_str(cand.path, PATH_MAX, realpath(obj->path, real) ? real : obj->path,
           strlen(realpath(obj->path, real) ? real : obj->path));
  const char *base = strrchr(cand.path, '/');
  copy_str(cand.file, sizeof cand.file, base ? base + 1 : cand.path, strlen(base ? base + 1 : cand.path));
  package_of(cand.path, cand.package, sizeof cand.package);
  make_tag_name(cand.package, cand.file, cand.name);
  cand.explicit_path = explicit_path;
  if (!explicit_path && !wanted(&cand)) return -1;
  if (n >= NMW_ATTACH_MAX) {
    *why = "too many attached addons (64)";
    note_skipped(cand.path, *why);
    return -1;
  }
  /* Two copies of one package at two paths: the second gets ":2", ... */
  char name[NMW_TAG_NAME_MAX + 1];
  copy_str(name, sizeof name, cand.name, strlen(cand.name));
  for (int k = 2; k < 100; k++) {
    bool taken = false;
    for (int i = 0; i < n; i++) taken = taken || strcmp(addons[i].name, name) == 0;
    if (!taken) break;
    char suffix[8];
    snprintf(suffix, sizeof suffix, ":%d", k);
    size_t room = NMW_TAG_NAME_MAX - strlen(suffix);
    copy_str(name, sizeof name, cand.name, strlen(cand.name) > room ? room : strlen(cand.name));
    strcat(name, suffix);
  }
  copy_str(cand.name, sizeof cand.name, name, strlen(name));
  int rc = nmw_core_tag_register(cand.name, 0, &cand.tag);
  if (rc != NMW_OK && rc != NMW_ECONFLICT && nmw_core_tag_lookup(cand.name, &cand.tag) != NMW_OK) {
    *why = "the tag table is full";
    note_skipped(cand.path, *why);
    return -1;
  }
  if (rc == NMW_ECONFLICT) nmw_core_tag_lookup(cand.name, &cand.tag);
  int slot = n;
  nmw__attach_slot_init(slot, cand.tag);
  nmw_elf_hook_t hooks[NMW_ATTACH_NFUNCS];
  nmw__attach_hooks_of(slot, hooks);
  rc = nmw_elf_patch(obj, hooks, NMW_ATTACH_NFUNCS, &cand.report);
  if (rc != NMW_ELF_OK) {
    note_skipped(cand.path, cand.report.reason);
    snprintf(last_reason, sizeof last_reason, "skipped, nothing patched: %s", cand.report.reason);
    *why = last_reason;
    return -1;
  }
  addons[slot] = cand;
  atomic_store(&addon_count, n + 1);
  /* Keep it mapped: blocks, sites and the patch must outlive its last worker. */
  nmw__pin_module((const void *)(obj->base + obj->phdr[0].p_vaddr + 1));
  return slot;
}

static void *attach_dlopen(const char *file, int mode) {
  void *handle = real_dlopen(file, mode);
  if (!handle || !file || !atomic_load_explicit(&enabled, memory_order_acquire)) return handle;
  size_t len = strlen(file);
  if (len < 5 || strcmp(file + len - 5, ".node") != 0) return handle;
  struct link_map *lm = NULL;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm) return handle;
  nmw_elf_object_t obj;
  if (nmw_elf_find_addr((const void *)lm->l_ld, &obj) != NMW_ELF_OK) return handle;
  pthread_mutex_lock(&lock);
  const char *why;
  attach_object_locked(&obj, false, &why);
  pthread_mutex_unlock(&lock);
  return handle;
}

/* Patches the object that holds libuv's uv_dlopen (lock held). */
static bool install_dlopen_hook_locked(void) {
  if (hook_installed) return true;
  void *uv = dlsym(RTLD_DEFAULT, "uv_dlopen");
  nmw_elf_object_t host;
  if (!uv || nmw_elf_find_addr(uv, &host) != NMW_ELF_OK) {
    snprintf(hook_reason, sizeof hook_reason, "uv_dlopen not found in the process");
    return false;
  }
  void *original = NULL;
  nmw_elf_hook_t hook = {"dlopen", (void *)attach_dlopen, &original};
  nmw_elf_report_t rep;
  /* The original must be known before the slot is written. */
  real_dlopen = (void *(*)(const char *, int))nmw_elf_slot_value(&host, "dlopen");
  if (!real_dlopen) real_dlopen = (void *(*)(const char *, int))dlsym(RTLD_DEFAULT, "dlopen");
  int rc = nmw_elf_patch(&host, &hook, 1, &rep);
  if (rc != NMW_ELF_OK || rep.patched + rep.already == 0) {
    snprintf(hook_reason, sizeof hook_reason, "cannot hook dlopen in the Node executable: %s",
             rc != NMW_ELF_OK ? rep.reason : "no dlopen relocation");
    return false;
  }
  if (original) real_dlopen = (void *(*)(const char *, int))original;
  hook_installed = true;
  return true;
}

/* ---- binding ---- */

static bool get_string(napi_env env, napi_value v, char *buf, size_t cap) {
  size_t len;
  return napi_get_value_string_utf8(env, v, buf, cap, &len) == napi_ok && len < cap - 1;
}

/* Replaces a pattern list from a JS array of strings (null: unset). */
static bool set_patterns(napi_env env, napi_value v, char **list, int *count, bool null_is_all) {
  napi_valuetype t;
  NMW_CALL_BOOL(env, napi_typeof(env, v, &t));
  for (int i = 0; i < (*count > 0 ? *count : 0); i++) free(list[i]);
  *count = 0;
  if (t == napi_null || t == napi_undefined) {
    if (null_is_all) *count = -1;
    return true;
  }
  uint32_t n;
  NMW_CALL_BOOL(env, napi_get_array_length(env, v, &n));
  if (n > PATTERNS_MAX) n = PATTERNS_MAX;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    char buf[PATH_MAX];
    NMW_CALL_BOOL(env, napi_get_element(env, v, i, &e));
    if (!get_string(env, e, buf, sizeof buf)) continue;
    list[(*count)++] = strdup(buf);
  }
  return true;
}

/* attachEnable(includes | null, excludes | null) */
static napi_value js_attach_enable(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 2, argv);
  pthread_mutex_lock(&lock);
  bool ok = set_patterns(env, argv[0], includes, &include_count, true) &&
            set_patterns(env, argv[1], excludes, &exclude_count, false);
  bool hooked = ok && install_dlopen_hook_locked();
  if (hooked) atomic_store_explicit(&enabled, true, memory_order_release);
  pthread_mutex_unlock(&lock);
  if (!ok) return NULL;
  if (!hooked) return nmw__throw(env, "Error", "ERR_NMW_ATTACH_FAILED", hook_reason);
  napi_value r;
  NMW_CALL(env, napi_get_boolean(env, true, &r));
  return r;
}

/* attachPath(path) -> slot */
static napi_value js_attach_path(napi_env env, napi_callback_info info) {
  NMW_ARGS(env, info, 1, argv);
  char path[PATH_MAX];
  if (!get_string(env, argv[0], path, sizeof path))
    return nmw__throw(env, "TypeError", "ERR_INVALID_ARG_TYPE", "path must be a string");
  nmw_elf_object_t obj;
  if (nmw_elf_find_path(path, &obj) != NMW_ELF_OK) {
    char msg[PATH_MAX + 64];
    snprintf(msg, sizeof msg, "no loaded object is %s (load the addon first)", path);
    return nmw__throw(env, "Error", "ERR_NMW_ATTACH_NOT_LOADED", msg);
  }
  pthread_mutex_lock(&lock);
  const char *why;
  int slot = attach_object_locked(&obj, true, &why);
  char msg[PATH_MAX + 300];
  if (slot < 0) {
    snprintf(msg, sizeof msg, "%s is not attached: %s", path, why ? why : "excluded");
  }
  pthread_mutex_unlock(&lock);
  if (slot < 0) return nmw__throw(env, "Error", "ERR_NMW_ATTACH_SKIPPED", msg);
  napi_value r;
  NMW_CALL(env, napi_create_uint32(env, (uint32_t)slot, &r));
  return r;
}

static bool set_counters(napi_env env, napi_value o, nmw_tag_t tag) {
  nmw_counters_t c;
  memset(&c, 0, sizeof c);
  nmw_core_tag_counters(tag, &c);
  return nmw__set_double(env, o, "currBytes", (double)c.curr_bytes) &&
         nmw__set_double(env, o, "currBlocks", (double)c.curr_blocks) &&
         nmw__set_double(env, o, "peakBytes", (double)c.peak_bytes) &&
         nmw__set_double(env, o, "peakBlocks", (double)c.peak_blocks) &&
         nmw__set_double(env, o, "allocs", (double)c.allocs) &&
         nmw__set_double(env, o, "frees", (double)c.frees) &&
         nmw__set_double(env, o, "reallocs", (double)c.reallocs) &&
         nmw__set_double(env, o, "bytesAllocated", (double)c.bytes_allocated) &&
         nmw__set_double(env, o, "bytesFreed", (double)c.bytes_freed);
}

static bool set_finalizers(napi_env env, napi_value o, nmw_tag_t tag, nmw_fin_tag_stats_t *rows,
                           size_t nrows) {
  nmw_fin_stats_t s;
  memset(&s, 0, sizeof s);
  for (size_t i = 0; i < nrows; i++)
    if (rows[i].tag == tag) s = rows[i].s;
  napi_value f;
  NMW_CALL_BOOL(env, napi_create_object(env, &f));
  return nmw__set_double(env, f, "registered", (double)s.registered) &&
         nmw__set_double(env, f, "finalizedGc", (double)s.finalized_gc) &&
         nmw__set_double(env, f, "finalizedTeardown", (double)s.finalized_teardown) &&
         nmw__set_double(env, f, "cancelled", (double)s.cancelled) &&
         nmw__set_double(env, f, "live", (double)s.live) &&
         nmw__set_double(env, f, "neverRun", (double)s.never_run) &&
         nmw__set_value(env, o, "finalizers", f);
}

static bool set_hooked(napi_env env, napi_value o, const nmw_elf_report_t *r) {
  napi_value p;
  NMW_CALL_BOOL(env, napi_create_object(env, &p));
  return nmw__set_double(env, p, "slots", (double)(r->patched + r->already)) &&
         nmw__set_double(env, p, "jumpSlots", (double)r->jump_slots) &&
         nmw__set_double(env, p, "globDats", (double)r->glob_dats) &&
         nmw__set_double(env, p, "relroSlots", (double)r->relro_slots) &&
         nmw__set_double(env, p, "definedLeftAlone", (double)r->defined) &&
         nmw__set_value(env, o, "relocations", p);
}

/* attachList() -> {addons: [...], skipped: [{path, reason}], hooked, platform} */
static napi_value js_attach_list(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out, list, skip;
  NMW_CALL(env, napi_create_object(env, &out));
  NMW_CALL(env, napi_create_array(env, &list));
  NMW_CALL(env, napi_create_array(env, &skip));
  size_t nrows = nmw_core_fin_tag_stats(0, true, NULL, 0, NULL);
  nmw_fin_tag_stats_t *rows = calloc(nrows ? nrows : 1, sizeof *rows);
  if (!rows) return nmw__throw(env, "Error", "ERR_NMW_NO_MEMORY", "out of memory");
  nrows = nmw_core_fin_tag_stats(0, true, rows, nrows, NULL);
  pthread_mutex_lock(&lock);
  int n = atomic_load(&addon_count);
  bool ok = true;
  for (int i = 0; ok && i < n; i++) {
    const addon_t *a = &addons[i];
    nmw_attach_audit_t *au = nmw__attach_audit(i);
    napi_value o, ext;
    ok = napi_create_object(env, &o) == napi_ok && napi_create_object(env, &ext) == napi_ok &&
         nmw__set_string(env, o, "name", a->name) && nmw__set_string(env, o, "package", a->package) &&
         nmw__set_string(env, o, "file", a->file) && nmw__set_string(env, o, "path", a->path) &&
         nmw__set_uint32(env, o, "tag", a->tag) && set_counters(env, o, a->tag) &&
         nmw__set_double(env, o, "foreignFrees", (double)atomic_load(&au->foreign_frees)) &&
         set_finalizers(env, o, a->tag, rows, nrows) &&
         nmw__set_double(env, ext, "total", (double)atomic_load(&au->external_total)) &&
         nmw__set_double(env, ext, "calls", (double)atomic_load(&au->external_calls)) &&
         nmw__set_double(env, ext, "belowZero", (double)atomic_load(&au->external_below_zero)) &&
         nmw__set_double(env, ext, "offThread", (double)atomic_load(&au->external_off_thread)) &&
         nmw__set_value(env, o, "external", ext) && set_hooked(env, o, &a->report) &&
         nmw__set_bool(env, o, "explicit", a->explicit_path) &&
         napi_set_element(env, list, (uint32_t)i, o) == napi_ok;
  }
  for (int i = 0; ok && i < skipped_count; i++) {
    napi_value o;
    ok = napi_create_object(env, &o) == napi_ok &&
         nmw__set_string(env, o, "path", skipped[i].path) &&
         nmw__set_string(env, o, "reason", skipped[i].reason) &&
         napi_set_element(env, skip, (uint32_t)i, o) == napi_ok;
  }
  bool on = atomic_load(&enabled);
  pthread_mutex_unlock(&lock);
  free(rows);
  if (!ok) return NULL;
  if (!nmw__set_value(env, out, "addons", list) || !nmw__set_value(env, out, "skipped", skip) ||
      !nmw__set_bool(env, out, "enabled", on) ||
      !nmw__set_double(env, out, "liveBlocks", (double)nmw_attach_block_count()) ||
      !nmw__set_double(env, out, "registryBytes", (double)nmw_attach_registry_bytes()) ||
      !nmw__set_double(env, out, "sites", (double)nmw_attach_site_count()))
    return NULL;
  return out;
}

static void resolve_with_dladdr(const void *ra, char *buf, size_t cap) {
  Dl_info di;
  if (dladdr(ra, &di) && di.dli_sname && di.dli_saddr) {
    snprintf(buf, cap, "%s+0x%lx", di.dli_sname, (unsigned long)((uintptr_t)ra - (uintptr_t)di.dli_saddr));
  } else if (dladdr(ra, &di) && di.dli_fbase) {
    /* No symbol (stripped): the offset in the file, for addr2line. */
    snprintf(buf, cap, "+0x%lx", (unsigned long)((uintptr_t)ra - (uintptr_t)di.dli_fbase));
  } else {
    snprintf(buf, cap, "%p", ra);
  }
}

static napi_value js_attach_resolve_sites(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  NMW_CALL(env, napi_create_uint32(env, (uint32_t)nmw_attach_resolve_sites(resolve_with_dladdr), &r));
  return r;
}

/* attachMallinfo() -> bytes in use by glibc's malloc (mallinfo2: arenas plus
 * mmapped chunks): the independent count the tests compare the tags with. */
static napi_value js_attach_mallinfo(napi_env env, napi_callback_info info) {
  (void)info;
  struct mallinfo2 mi = mallinfo2();
  napi_value r;
  NMW_CALL(env, napi_create_double(env, (double)(mi.uordblks + mi.hblkhd), &r));
  return r;
}

static const bool supported = true;

#else /* !NMW_ELF_PATCH_SUPPORTED */

static const bool supported = false;

static napi_value js_unsupported(napi_env env, napi_callback_info info) {
  (void)info;
  char msg[160];
  snprintf(msg, sizeof msg, "attach() is not supported on %s (needs Linux with glibc on x64 or arm64)",
           nmw_elf_platform());
  return nmw__throw(env, "Error", "ERR_NMW_ATTACH_UNSUPPORTED", msg);
}
#define js_attach_enable js_unsupported
#define js_attach_path js_unsupported
#define js_attach_list js_unsupported
#define js_attach_resolve_sites js_unsupported
#define js_attach_mallinfo js_unsupported

#endif

napi_status nmw__init_attach(napi_env env, napi_value exports) {
  static const nmw_method_t methods[] = {
      {"attachEnable", js_attach_enable},
      {"attachPath", js_attach_path},
      {"attachList", js_attach_list},
      {"attachResolveSites", js_attach_resolve_sites},
      {"attachMallinfo", js_attach_mallinfo},
  };
  NMW_CALL_STATUS(env, nmw__define_methods(env, exports, methods, sizeof methods / sizeof methods[0]));
  napi_value v;
  NMW_CALL_STATUS(env, napi_get_boolean(env, supported, &v));
  NMW_CALL_STATUS(env, napi_set_named_property(env, exports, "attachSupported", v));
  NMW_CALL_STATUS(env, napi_create_string_utf8(env, nmw_elf_platform(), NAPI_AUTO_LENGTH, &v));
  NMW_CALL_STATUS(env, napi_set_named_property(env, exports, "attachPlatform", v));
  return napi_ok;
}
