/*
 * core.h: the tracking allocator's internal API, plain C11 with no Node-API.
 *
 * Used by the addon glue (src/addon) and the cmocka tests (test/c). The public
 * header include/native_memwatch.h gives other addons the same allocator
 * through a function table whose entries are these functions.
 */
#ifndef NMW_CORE_H
#define NMW_CORE_H

#define NMW_NO_NODE_API
#include "../../include/native_memwatch.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits ---- */
#define NMW_SLOT_MAX 65536 /* (site, tag) pairs, the first NMW_TAG_MAX reserved */

/* ---- tags (tags.c) ---- */
int nmw_core_tag_register(const char *name, unsigned flags, nmw_tag_t *out);
int nmw_core_tag_lookup(const char *name, nmw_tag_t *out); /* NMW_ENOENT if absent */
int nmw_core_tag_set_limit(nmw_tag_t tag, uint64_t limit_bytes);
int nmw_core_tag_set_flags(nmw_tag_t tag, unsigned flags);
/* Number of registered tags (ids are 0 .. count-1). */
uint32_t nmw_core_tag_count(void);
/* NULL for an unregistered id. The string lives for the life of the process. */
const char *nmw_core_tag_name(nmw_tag_t tag);
unsigned nmw_core_tag_flags(nmw_tag_t tag);
uint64_t nmw_core_tag_limit(nmw_tag_t tag);
/* Checks a name: 1..NMW_TAG_NAME_MAX characters of [A-Za-z0-9._:/-]. */
bool nmw_core_tag_name_valid(const char *name);

/* ---- the allocator (alloc.c): the table's entries ---- */
void *nmw_core_malloc(size_t size, nmw_tag_t tag, nmw_site_t *site);
void *nmw_core_calloc(size_t count, size_t size, nmw_tag_t tag, nmw_site_t *site);
void *nmw_core_realloc(void *ptr, size_t size, nmw_tag_t tag, nmw_site_t *site);
void nmw_core_free(void *ptr, nmw_tag_t tag, nmw_site_t *site);
char *nmw_core_strdup(const char *s, nmw_tag_t tag, nmw_site_t *site);
void *nmw_core_aligned_alloc(size_t alignment, size_t size, nmw_tag_t tag, nmw_site_t *site);
size_t nmw_core_block_size(const void *ptr);
/* The tag of a live tracked block, or NMW_ANY_TAG for anything else. */
nmw_tag_t nmw_core_block_tag(const void *ptr);

/* ---- memory allocated elsewhere (track.c) ---- */
/* 0 on success; NMW_EINVAL for NULL. Tracking a pointer that is already tracked
 * replaces its record and counts a "track_twice" misuse. */
int nmw_core_track(void *ptr, size_t size, nmw_tag_t tag, nmw_site_t *site);
/* 0 on success; NMW_ENOENT (and an "untrack_unknown" misuse) when not tracked. */
int nmw_core_untrack(void *ptr, nmw_site_t *site);

/* ---- counters ---- */
typedef struct nmw_counters {
  uint64_t allocs;          /* blocks allocated (malloc, calloc, strdup, aligned, track) */
  uint64_t frees;           /* blocks freed (free, untrack, realloc to 0) */
  uint64_t reallocs;        /* successful reallocs of an existing block */
  uint64_t bytes_allocated; /* sizes allocated, plus growth by realloc */
  uint64_t bytes_freed;     /* sizes freed, plus shrinkage by realloc */
  int64_t curr_bytes;       /* bytes_allocated - bytes_freed */
  int64_t curr_blocks;      /* allocs - frees */
  int64_t peak_bytes;       /* highest curr_bytes since the last peak reset */
  int64_t peak_blocks;      /* highest curr_blocks since the last peak reset */
  uint64_t limit_denied;    /* allocations refused by the tag's limit */
  /* How far below the true peak the peaks above can be (0: exact). Nonzero only
   * when more than one thread has grown the tag (the total: anything); strict-peaks
   * tags are always 0 (docs/architecture.md#peaks). */
  int64_t peak_error_bytes, peak_error_blocks;
} nmw_counters_t;

/* Per tag; false for an unregistered tag. */
bool nmw_core_tag_counters(nmw_tag_t tag, nmw_counters_t *out);
/* Every tag at once (cheaper than one call per tag): fills out[0 .. n) for tag
 * ids 0 .. n-1 and returns n = min(cap, tag count). */
size_t nmw_core_all_tag_counters(nmw_counters_t *out, size_t cap);
/* All tags together. */
void nmw_core_total_counters(nmw_counters_t *out);

/* One (site, tag) slot. file/func/line are NULL/0 for allocations with no site. */
typedef struct nmw_slot_row {
  uint32_t slot;
  nmw_tag_t tag;
  const char *file;
  const char *func;
  uint32_t line;
  uint64_t allocs, frees, reallocs, bytes_allocated, bytes_freed;
  int64_t curr_bytes, curr_blocks;
} nmw_slot_row_t;

/* Slots that can hold counters: one "no site" slot per registered tag plus every
 * (site, tag) pair seen. An upper bound of the rows nmw_core_slot_rows returns
 * (it leaves out slots that never allocated). */
uint32_t nmw_core_slot_count(void);
/* Fills up to cap rows with every slot that ever allocated; returns the count. */
size_t nmw_core_slot_rows(nmw_slot_row_t *rows, size_t cap);

/* Peaks: reset one tag (NMW_ANY_TAG: every tag and the total) to its current value. */
void nmw_core_reset_peak(nmw_tag_t tag);

/* ---- regions: counters since a point, with the peak reached in between ---- */
typedef struct nmw_region {
  int open; /* internal: 1 from begin to end */
  uint64_t start_allocs, start_bytes_allocated;
  int64_t start_curr_bytes, start_curr_blocks;
  /* internal, under the peak lock (region.c): the open regions in the order they
   * began, and the highest total seen from this region's begin to the next one's
   * (plus the segments of regions closed in between). */
  struct nmw_region *prev, *next;
  int64_t seg_peak_bytes, seg_peak_blocks;
} nmw_region_t;

typedef struct nmw_region_delta {
  uint64_t total_blocks, total_bytes; /* allocated since the start */
  int64_t curr_blocks, curr_bytes;    /* net change since the start */
  int64_t max_blocks, max_bytes;      /* highest net change reached since the start */
} nmw_region_delta_t;

/* Any number of regions can be open: each is a node the caller owns (no table).
 * begin and end are O(1); delta is O(regions begun after r and still open). */
int nmw_core_region_begin(nmw_region_t *r);
int nmw_core_region_delta(const nmw_region_t *r, nmw_region_delta_t *out);
void nmw_core_region_end(nmw_region_t *r);

/* ---- misuse (misuse.c) ---- */
typedef enum nmw_misuse_kind {
  NMW_MISUSE_DOUBLE_FREE = 0,  /* free/realloc of a block already freed */
  NMW_MISUSE_FOREIGN_FREE,     /* free/realloc of a pointer the tracker did not allocate */
  NMW_MISUSE_OVERRUN,          /* the canary past the end of a block was overwritten */
  NMW_MISUSE_TAG_MISMATCH,     /* free/realloc named another tag than the block's */
  NMW_MISUSE_BAD_TAG,          /* an unregistered tag id; the block goes to "untagged" */
  NMW_MISUSE_UNTRACK_UNKNOWN,  /* untrack of a pointer that is not tracked */
  NMW_MISUSE_TRACK_TWICE,      /* track of a pointer that is already tracked */
  NMW_MISUSE_EXTERNAL_BELOW_ZERO, /* an explicit external adjustment went below zero */
  NMW_MISUSE_DOUBLE_REPORTED,  /* external-tagged memory handed to V8 as an external buffer */
  NMW_MISUSE_DOUBLE_FINALIZE,  /* a finalizer trampoline ran for a record already finished */
  NMW_MISUSE_FINALIZE_AFTER_TEARDOWN, /* a finalizer ran after its environment was gone */
  NMW_MISUSE_KIND_COUNT
} nmw_misuse_kind_t;

/* "double_free", "foreign_free", ... */
const char *nmw_core_misuse_name(nmw_misuse_kind_t kind);
uint64_t nmw_core_misuse_count(nmw_misuse_kind_t kind);

typedef struct nmw_misuse_row {
  const char *file; /* NULL for calls without a site */
  const char *func;
  uint32_t line;
  uint64_t counts[NMW_MISUSE_KIND_COUNT];
} nmw_misuse_row_t;
size_t nmw_core_misuse_rows(nmw_misuse_row_t *rows, size_t cap);

/* Where the one-line report of each (site, kind) goes; NULL restores stderr. The
 * message has no trailing newline. */
typedef void (*nmw_report_fn)(const char *message, void *data);
void nmw_core_set_report(nmw_report_fn fn, void *data);

/* ---- the tracker's own memory ---- */
typedef struct nmw_overhead {
  uint64_t block_bytes;    /* headers, canaries and alignment padding of live blocks */
  uint64_t metadata_bytes; /* shards, counter arrays in use, tables */
  uint64_t total_bytes;    /* block + metadata + cache */
  uint64_t cache_bytes;    /* freed blocks kept by the threads' caches (asked of libc) */
} nmw_overhead_t;
void nmw_core_overhead(nmw_overhead_t *out);
/* Allocations kept out of circulation because libc placed them on a page start
 * (the placement rule), since the process started. */
uint64_t nmw_core_cache_rejects(void);

/* Number of per-thread shards ever created (they are recycled, never freed). */
uint32_t nmw_core_shard_count(void);


/* ---- environments ("owners") (owner.c) ----
 * An owner is one Node environment (the main thread or a worker), identified by
 * the addon when it loads there. Ids carry a generation, so a slot can be reused
 * by a later environment and stale ids are recognised. Id 0 means "no owner". */
typedef uint32_t nmw_owner_t;
#define NMW_OWNER_MAX 256 /* slots; slot 0 is "unattributed" */

typedef struct nmw_owner_hooks {
  /* Any thread: ask the owner's JS thread to flush soon (e.g. uv_async_send). Called
   * under the owner's lock, so it cannot race with the owner's teardown. */
  void (*wake)(void *data);
  /* The owner's JS thread: flush now (report to V8); with min_growth > 0 only when
   * what is owed exceeds what was reported by at least that much. May re-enter the
   * allocator. */
  void (*flush)(void *data, int64_t min_growth);
  void *data;
} nmw_owner_hooks_t;

typedef enum nmw_owner_state { NMW_OWNER_FREE = 0, NMW_OWNER_LIVE, NMW_OWNER_TORN_DOWN } nmw_owner_state_t;

/* On the environment's JS thread. Binds the calling thread to the owner. */
int nmw_core_owner_open(const nmw_owner_hooks_t *hooks, nmw_owner_t *out);
/* On the JS thread at environment teardown: stops reporting, drops and counts what
 * was pending, records what was still reported. The slot is reused later. */
void nmw_core_owner_teardown(nmw_owner_t owner);
/* Maps a napi_env (used only as a key) to an owner: any thread may then name the
 * owner by that env. */
int nmw_core_owner_map_env(const void *env, nmw_owner_t owner);
nmw_owner_t nmw_core_owner_of_env(const void *env); /* 0 when unknown or torn down */
nmw_owner_t nmw_core_owner_current(void);           /* the calling JS thread's owner, or 0 */
nmw_owner_state_t nmw_core_owner_state(nmw_owner_t owner); /* FREE for a stale id */
bool nmw_core_owner_on_own_thread(nmw_owner_t owner);
/* The owner's audit hooks for finalizers (finalizers.c) live beside it. */

/* ---- external memory (external.c) ----
 * Bytes of tags flagged NMW_TAG_EXTERNAL are owed to V8 by the owner of each block
 * (the environment whose JS thread allocated it, or the env an _env variant named).
 * Deltas accumulate per thread and are reported on the owner's JS thread. */
#define NMW_EXT_TAG_MAX 64 /* tags that can be external at once */
#define NMW_EXT_DEFAULT_THRESHOLD (1024 * 1024)

void *nmw_core_malloc_env(size_t size, nmw_tag_t tag, const void *env, nmw_site_t *site);
void *nmw_core_calloc_env(size_t count, size_t size, nmw_tag_t tag, const void *env, nmw_site_t *site);
void *nmw_core_aligned_alloc_env(size_t alignment, size_t size, nmw_tag_t tag, const void *env,
                                 nmw_site_t *site);
char *nmw_core_strdup_env(const char *s, nmw_tag_t tag, const void *env, nmw_site_t *site);
/* Memory the tracker did not allocate: add delta (may be negative) to what the
 * env's owner (NULL env: the calling JS thread's) owes V8 under an external tag.
 * A change that would take the tag's explicit amount below zero is clamped at zero,
 * counted, and reported as misuse. NMW_EINVAL for a tag that is not external. */
int nmw_core_external_adjust(const void *env, nmw_tag_t tag, int64_t delta, nmw_site_t *site);

void nmw_core_external_set_threshold(int64_t bytes); /* >= 1 */
int64_t nmw_core_external_threshold(void);

/* Reports the owner's pending change to V8 through adjust (JS thread only): any
 * change with min_growth 0, else only a growth of at least min_growth bytes (a
 * growth that undoes an unreported fall needs no call). adjust returns 0 on
 * success. Returns the delta reported (0 when nothing was reported). */
typedef int (*nmw_adjust_fn)(void *ctx, int64_t delta);
int64_t nmw_core_external_flush(nmw_owner_t owner, nmw_adjust_fn adjust, void *ctx,
                                int64_t min_growth);

typedef struct nmw_ext_tag_audit {
  nmw_tag_t tag;
  int64_t owed;          /* tracked blocks + explicit adjustments */
  int64_t explicit_owed; /* the explicit part */
  int64_t reported;      /* reported to V8 at the last flush */
  int64_t pending;       /* owed - reported */
  uint64_t explicit_calls, below_zero;
} nmw_ext_tag_audit_t;

typedef struct nmw_owner_audit {
  nmw_owner_t id;
  nmw_owner_state_t state;
  int64_t owed, reported, pending;
  uint64_t adjust_calls;     /* napi_adjust_external_memory calls made */
  uint64_t off_thread_calls; /* flushes refused because not on the JS thread (must be 0) */
  uint64_t flushes;
  size_t ntags;
  nmw_ext_tag_audit_t tags[NMW_EXT_TAG_MAX];
} nmw_owner_audit_t;

int nmw_core_owner_audit(nmw_owner_t owner, nmw_owner_audit_t *out);
/* Ids of the live owners; returns the count. */
size_t nmw_core_owner_list(nmw_owner_t *out, size_t cap);

typedef struct nmw_ext_global {
  int64_t threshold;
  uint32_t owners_live, owner_slots_used, owner_slots; /* slots used: ever opened, max NMW_OWNER_MAX-1 */
  int64_t unattributed_bytes;                           /* external bytes with no owner */
  uint64_t envs_torn_down;
  int64_t teardown_reported_bytes; /* still reported to V8 when their env went away */
  int64_t teardown_dropped_bytes;  /* pending (never reported) when their env went away */
  int64_t freed_after_teardown_bytes;
  uint64_t freed_after_teardown_blocks;
  uint64_t double_reported; /* external-tagged blocks handed to V8 as external buffers */
} nmw_ext_global_t;
void nmw_core_external_global(nmw_ext_global_t *out);

/* ---- finalizer audit (finalizers.c) ----
 * One record per Node-API finalizer registered through the header's twins
 * (nmw_wrap, nmw_add_finalizer, nmw_create_external, ...). Records live in
 * per-thread pools of slots reused through a bitmap, so memory follows the peak
 * number of live records. A record's id (slot index and the slot's generation)
 * is the finalize_hint the addon's trampoline receives: a stale id means the
 * finalizer ran twice. Counters are kept per environment (owner) and tag; ages
 * and listings of live records scan the pools when asked. None calls Node-API
 * or JS. Every call is thread-safe; registration and finalization take no lock
 * on the thread that registered the record (Node-API runs finalizers there).
 * Cancellation by key or reference (cancel_key, cancel_ref, find_key, find_ref)
 * and set_ref see only the calling thread's records: Node-API removes wraps and
 * deletes references on the thread that made them. */
typedef enum nmw_fin_kind {
  NMW_FIN_WRAP = 0,               /* napi_wrap */
  NMW_FIN_FINALIZER,              /* napi_add_finalizer */
  NMW_FIN_EXTERNAL,               /* napi_create_external */
  NMW_FIN_EXTERNAL_ARRAYBUFFER,   /* napi_create_external_arraybuffer */
  NMW_FIN_EXTERNAL_BUFFER,        /* napi_create_external_buffer */
  NMW_FIN_INSTANCE_DATA,          /* napi_set_instance_data */
  NMW_FIN_KIND_COUNT
} nmw_fin_kind_t;
/* "wrap", "finalizer", "external", "external_arraybuffer", "external_buffer",
 * "instance_data". */
const char *nmw_core_fin_kind_name(nmw_fin_kind_t kind);

/* A record id: never 0, below 2^53 (it crosses to JS as a number). */
typedef uint64_t nmw_fin_id_t;

/* The clock of registration times (*_ns fields below): monotonic nanoseconds of
 * a coarse clock (a scheduler tick) where there is one, else uv_hrtime(). */
uint64_t nmw_core_fin_now(void);

/* Finalizer durations: bucket b counts durations d (ns) with 2^(b-1) < d <= 2^b
 * (bucket 0: d <= 1); the last bucket holds everything above 2^39 ns. */
#define NMW_FIN_HIST_BUCKETS 41

typedef struct nmw_fin_stats {
  uint64_t registered;
  uint64_t finalized_gc;       /* ran while the environment was live */
  uint64_t finalized_teardown; /* ran while (or after) the environment was torn down */
  uint64_t cancelled;          /* remove_wrap, reference deleted, instance data replaced */
  uint64_t live;               /* registered, not run, not cancelled */
  uint64_t never_run;          /* live at process exit (after nmw_core_fin_set_exit) */
  uint64_t hist[NMW_FIN_HIST_BUCKETS];
  uint64_t max_ns, total_ns;
  uint64_t oldest_ns; /* nmw_core_fin_now() at registration of the oldest live record; 0: none */
} nmw_fin_stats_t;

typedef struct nmw_fin_tag_stats {
  nmw_tag_t tag;
  nmw_fin_stats_t s;
} nmw_fin_tag_stats_t;

typedef struct nmw_fin_reg {
  nmw_owner_t owner; /* the registering environment (0: unattributed) */
  nmw_fin_kind_t kind;
  nmw_tag_t tag;
  nmw_site_t *site;
  nmw_finalize_fn cb; /* the author's finalizer (may be NULL) */
  void *data, *hint;
  const void *key; /* the napi_env of instance data (what replacing it finds it
                      by); unused otherwise: a wrap is found by data, its native object */
  char *stack;     /* malloc'd JS stack or NULL; the record owns it (freed on failure too) */
  const void *env; /* when not NULL: the napi_env whose owner registers (owner is then
                      ignored; nmw_core_owner_of_env(env), which the core caches) */
} nmw_fin_reg_t;

/* Records a registration (before the napi call). NMW_OK, NMW_EINVAL (bad kind),
 * NMW_ENOSPC (table full), NMW_ENOMEM. */
int nmw_core_fin_register(const nmw_fin_reg_t *reg, nmw_fin_id_t *out);
/* The same, with the finalize_hint for the napi call in *hint: the id, and (on
 * 64-bit targets) the record's class in its top 12 bits, so that the trampoline's
 * begin and end read nothing of the record but its state word. Every call that
 * takes an id also takes a hint. */
int nmw_core_fin_register_hint(const nmw_fin_reg_t *reg, nmw_fin_id_t *out, uint64_t *hint);
/* Undoes a registration whose napi call failed: as if it never happened. */
void nmw_core_fin_unregister(nmw_fin_id_t id);
/* The napi_ref the call returned (wrap/add_finalizer with a result), for cancellation. */
void nmw_core_fin_set_ref(nmw_fin_id_t id, const void *ref);

/* Cancels the live record of owner with that kind and key (a tag other than
 * NMW_ANY_TAG is preferred when several match). True when one was cancelled. */
bool nmw_core_fin_cancel_key(nmw_owner_t owner, nmw_fin_kind_t kind, const void *key,
                             nmw_tag_t tag);
/* Cancels the live record that holds ref. True when one was cancelled. */
bool nmw_core_fin_cancel_ref(const void *ref);
/* The id of the live record that holds ref, or 0. */
nmw_fin_id_t nmw_core_fin_find_ref(const void *ref);
/* The id of owner's live record with that kind and key, or 0. */
nmw_fin_id_t nmw_core_fin_find_key(nmw_owner_t owner, nmw_fin_kind_t kind, const void *key);
/* Cancels a live record by id. True when it was live. */
bool nmw_core_fin_cancel(nmw_fin_id_t id);

/* The trampoline: begin hands back the author's finalizer and marks the record
 * running, at teardown when its owner is no longer live, else by GC; end records
 * the duration (at_teardown: the caller found the environment stopping although
 * its owner was still live) and frees the slot. begin returns NMW_ENOENT for a
 * record that is not live (it ran already: "double_finalize" misuse, the
 * finalizer must not be called). A record whose owner is gone (FREE or reused) is
 * counted at teardown and reported as "finalize_after_teardown"; its finalizer is
 * still called. */
typedef struct nmw_fin_call {
  nmw_finalize_fn cb; /* call it with Node's env and data, and this hint */
  void *hint;
  nmw_fin_kind_t kind;
  bool at_teardown; /* as begin classified it */
  const void *ref;  /* the reference set by nmw_core_fin_set_ref, or NULL */
  /* begin's own, for nmw_core_fin_end_call */
  nmw_fin_id_t id_;
  void *chunk_;
  const void *class_;
  uint32_t off_;
} nmw_fin_call_t;
int nmw_core_fin_begin(nmw_fin_id_t id, nmw_fin_call_t *out);
void nmw_core_fin_end(nmw_fin_id_t id, uint64_t duration_ns, bool at_teardown);
/* end for the call begin filled (no second lookup). */
void nmw_core_fin_end_call(const nmw_fin_call_t *call, uint64_t duration_ns, bool at_teardown);

/* The addon's trampoline, all but what needs Node-API: begin for the hint, the
 * author's finalizer called with env, data and its own hint and timed, end.
 * stopping (may be NULL) is asked, for external (array) buffers only and unless
 * begin already counted the call at teardown, whether env's environment is
 * stopping. Returns begin's result: NMW_ENOENT for a record that is not live
 * (the finalizer is not called). */
typedef bool (*nmw_fin_stopping_fn)(void *env);
int nmw_core_fin_trampoline(void *env, void *data, nmw_fin_id_t hint, nmw_fin_stopping_fn stopping);
/* On the calling thread, inside a finalizer that nmw_core_fin_trampoline runs:
 * how many are running (nested), and the reference of the innermost one's record. */
int nmw_core_fin_running(void);
const void *nmw_core_fin_running_ref(void);
/* Finalizer durations: nanoseconds from the invariant TSC where the CPU has one
 * (x86-64), calibrated against uv_hrtime over the first 50 ms after this call
 * (until then, and elsewhere, uv_hrtime). */
void nmw_core_fin_clock_init(void);

/* Per-tag counters of one owner (all: every owner, summed per tag). Fills up to
 * cap rows (cap 0: rows may be NULL) and returns how many there are; total (may
 * be NULL) gets the sum. */
size_t nmw_core_fin_tag_stats(nmw_owner_t owner, bool all, nmw_fin_tag_stats_t *rows, size_t cap,
                              nmw_fin_stats_t *total);
/* The counters of one owner summed over its tags, without oldest_ns (no table scan). */
void nmw_core_fin_totals(nmw_owner_t owner, nmw_fin_stats_t *out);

typedef struct nmw_fin_env_row {
  nmw_owner_t owner;
  nmw_owner_state_t state; /* FREE: the environment is gone and its slot reused */
  int64_t thread_id;       /* as set by nmw_core_fin_set_thread_id, -1 unknown */
} nmw_fin_env_row_t;
/* Environments that registered anything (including torn-down ones whose counters
 * are still kept). Returns the count; fills up to cap. */
size_t nmw_core_fin_envs(nmw_fin_env_row_t *rows, size_t cap);
/* A label for listings: the worker_threads threadId of the environment. */
void nmw_core_fin_set_thread_id(nmw_owner_t owner, int64_t thread_id);
/* The environment emitted process 'exit': the loop will not run again, so every
 * finalizer from now on runs at teardown (Node drains the queue of finalizers a
 * GC found while it closes handles, before any env cleanup hook). */
void nmw_core_fin_mark_exiting(nmw_owner_t owner);

typedef struct nmw_fin_live_row {
  nmw_fin_id_t id;
  nmw_owner_t owner;
  nmw_fin_kind_t kind;
  nmw_tag_t tag;
  const char *file, *func; /* NULL without a site */
  uint32_t line;
  uint64_t registered_ns;
  char *stack; /* a malloc'd copy when asked for, else NULL: the caller frees it */
} nmw_fin_live_row_t;
/* Live records of owner (all: of every environment), oldest first, of one tag
 * (NMW_ANY_TAG: any) registered at or before registered_before_ns (UINT64_MAX: any).
 * Fills up to cap rows and returns the number filled. */
size_t nmw_core_fin_live(nmw_owner_t owner, bool all, nmw_tag_t tag, uint64_t registered_before_ns,
                         bool with_stacks, nmw_fin_live_row_t *rows, size_t cap);

typedef struct nmw_fin_site_row {
  nmw_owner_t owner;
  nmw_tag_t tag;
  nmw_fin_kind_t kind;
  const char *file, *func;
  uint32_t line;
  uint64_t count;
  uint64_t oldest_ns;
} nmw_fin_site_row_t;
/* Live records grouped by (owner, tag, kind, site). Returns the number of groups;
 * fills up to cap. */
size_t nmw_core_fin_live_sites(nmw_owner_t owner, bool all, nmw_fin_site_row_t *rows, size_t cap);

/* From now on the process is exiting and nothing more will run (final): live
 * records are reported as never_run. */
void nmw_core_fin_set_exit(bool final);
bool nmw_core_fin_exit_final(void);

typedef struct nmw_fin_global {
  uint64_t record_bytes; /* the slot table */
  uint64_t hash_bytes;   /* lookup tables for cancellation */
  uint64_t env_bytes;    /* per-environment counters */
  uint64_t stack_bytes;  /* captured JS stacks */
  uint64_t total_bytes;  /* the sum (all included in nmw_core_overhead's metadata) */
  uint64_t capacity;     /* record slots allocated */
  uint64_t live;         /* records live or running, every environment */
  uint64_t peak_live;    /* the pools' peaks summed: exact with one registering thread */
  uint64_t orphans;      /* live records whose environment slot was reused */
  uint64_t register_failed; /* registrations refused (table full, no memory) */
  uint64_t pools;        /* record pools (one per thread that registered, reused) */
  uint64_t classes;      /* distinct (finalizer, hint, site, owner, tag, kind) in use */
} nmw_fin_global_t;
void nmw_core_fin_global(nmw_fin_global_t *out);

/* Counts a "double_reported" misuse at site when ptr is a live block flagged as
 * external (its bytes reported to V8) handed to V8 as an external (array) buffer,
 * which V8 counts again. True when it was. */
bool nmw_core_note_double_reported(const void *ptr, nmw_site_t *site);

#endif /* NMW_CORE_H */
