/*
 * procmem.c: the malloc heap (glibc mallinfo2) and the resident set
 * (/proc/self/status) of this process. See procmem.h.
 */
#include "procmem.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define NMW_HAVE_MALLINFO2 1
#endif

void nmw_procmem_malloc(nmw_malloc_info_t *out) {
  memset(out, 0, sizeof *out);
#ifdef NMW_HAVE_MALLINFO2
  struct mallinfo2 mi = mallinfo2();
  out->have = true;
  out->arena_bytes = (uint64_t)mi.arena;
  out->in_use = (uint64_t)mi.uordblks;
  out->free_held = (uint64_t)mi.fordblks;
  out->mmapped = (uint64_t)mi.hblkhd;
  out->mmapped_count = (uint64_t)mi.hblks;
  out->releasable = (uint64_t)mi.keepcost;
#endif
}

/* The value of a "Key:<spaces>N kB" line in bytes; false when not a number. */
static bool parse_kb(const char *p, const char *end, uint64_t *bytes) {
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  if (p == end || *p < '0' || *p > '9') return false;
  uint64_t v = 0;
  while (p < end && *p >= '0' && *p <= '9') {
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + (uint64_t)(*p - '0');
    p++;
  }
  while (p < end && *p == ' ') p++;
  /* Every memory line of status is in kB; refuse another unit rather than guess. */
  if (end - p < 2 || p[0] != 'k' || p[1] != 'B') return false;
  if (v > UINT64_MAX / 1024) return false;
  *bytes = v * 1024;
  return true;
}

bool nmw_procmem_parse_status(const char *text, size_t len, nmw_status_info_t *out) {
  static const struct {
    const char *key;
    size_t offset;
  } keys[] = {
      {"VmRSS:", offsetof(nmw_status_info_t, rss)},
      {"RssAnon:", offsetof(nmw_status_info_t, rss_anon)},
      {"RssFile:", offsetof(nmw_status_info_t, rss_file)},
      {"RssShmem:", offsetof(nmw_status_info_t, rss_shmem)},
      {"VmStk:", offsetof(nmw_status_info_t, vm_stack)},
      {"VmHWM:", offsetof(nmw_status_info_t, vm_hwm)},
  };
  memset(out, 0, sizeof *out);
  bool found_rss = false;
  const char *p = text, *end = text + len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (eol == NULL) eol = end;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
      size_t klen = strlen(keys[i].key);
      if ((size_t)(eol - p) >= klen && memcmp(p, keys[i].key, klen) == 0) {
        uint64_t bytes = 0;
        bool ok = parse_kb(p + klen, eol, &bytes);
        *(uint64_t *)((char *)out + keys[i].offset) = ok ? bytes : 0;
        if (ok && i == 0) found_rss = true;
        break;
      }
    }
    p = eol + 1;
  }
  out->have = found_rss;
  return found_rss;
}

void nmw_procmem_status(nmw_status_info_t *out) {
  memset(out, 0, sizeof *out);
#ifdef __linux__
  /* status is about 1.5 KB; 8 KB leaves room for kernels that add lines. */
  char buf[8192];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, buf + len, sizeof buf - len);
    if (n <= 0) break;
    len += (size_t)n;
    if (len == sizeof buf) break;
  }
  close(fd);
  nmw_procmem_parse_status(buf, len, out);
#endif
}
