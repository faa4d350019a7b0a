/*
 * procmem.h: what the C library and Linux say about this process's memory, for
 * mw.explain() (lib/explain.js). Plain C11, no Node-API.
 *
 * Two sources, each read without allocating:
 *   - the malloc heap, from glibc's mallinfo2() (glibc 2.33 or newer): bytes the
 *     arenas took from the system, the part handed out, the part held free, and
 *     the blocks mmapped on their own;
 *   - the resident set, from /proc/self/status: VmRSS and its split RssAnon,
 *     RssFile, RssShmem, and VmStk (the main thread's stack mapping).
 * A source that this platform does not have leaves its `have_` flag false.
 */
#ifndef NMW_PROCMEM_H
#define NMW_PROCMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nmw_malloc_info {
  bool have;            /* mallinfo2() was available and called */
  uint64_t arena_bytes; /* mallinfo2.arena: bytes of the arenas (sbrk and heaps) */
  uint64_t in_use;      /* mallinfo2.uordblks: of which handed out */
  uint64_t free_held;   /* mallinfo2.fordblks: of which free, held by malloc */
  uint64_t mmapped;     /* mallinfo2.hblkhd: blocks mmapped on their own */
  uint64_t mmapped_count; /* mallinfo2.hblks */
  uint64_t releasable;  /* mallinfo2.keepcost: free at the top, trimmable */
} nmw_malloc_info_t;

typedef struct nmw_status_info {
  bool have;          /* /proc/self/status was read and had VmRSS */
  uint64_t rss;       /* VmRSS */
  uint64_t rss_anon;  /* RssAnon */
  uint64_t rss_file;  /* RssFile: resident pages of mapped files (code, libraries) */
  uint64_t rss_shmem; /* RssShmem */
  uint64_t vm_stack;  /* VmStk: size of the main thread's stack mapping */
  uint64_t vm_hwm;    /* VmHWM: the resident set's high-water mark */
} nmw_status_info_t;

/* Fills *out from mallinfo2(); out->have is false without it. */
void nmw_procmem_malloc(nmw_malloc_info_t *out);

/* Parses the text of a /proc/<pid>/status file (len bytes, not necessarily
 * NUL-terminated): the "Key:   N kB" lines it knows, in bytes. Returns true when
 * VmRSS was found. Unknown lines are skipped; a malformed number leaves 0. */
bool nmw_procmem_parse_status(const char *text, size_t len, nmw_status_info_t *out);

/* Reads /proc/self/status into *out; out->have is false when it cannot. */
void nmw_procmem_status(nmw_status_info_t *out);

#endif /* NMW_PROCMEM_H */
