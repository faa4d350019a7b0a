/* The header's foreign-pointer probe must never fault: nmw_free and
 * nmw_block_size of pointers that are not blocks (after a PROT_NONE guard page,
 * at the start of an mmapped region, on the stack, in static storage, inside a
 * block) are refused and the process goes on. Run without native-memwatch, so
 * the header's own fallback does the checking. Prints one line per case and
 * exits 0 only when every case behaved. */
#define NMW_NO_NODE_API
#include "native_memwatch.h"

#include <sys/mman.h>
#include <unistd.h>

static int failures;

static void expect(int ok, const char *what) {
  printf("%s - %s\n", ok ? "ok" : "not ok", what);
  if (!ok) failures++;
}

static void refused(void *p, const char *what) {
  nmw_free(p, NMW_UNTAGGED); /* must return without faulting or freeing */
  expect(nmw_block_size(p) == 0, what);
}

static char static_buffer[8192] __attribute__((aligned(4096)));

int main(void) {
  long page = sysconf(_SC_PAGESIZE);
  /* [guard PROT_NONE][readable][guard PROT_NONE] */
  unsigned char *m = (unsigned char *)mmap(0, (size_t)page * 3, PROT_READ | PROT_WRITE,
                                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return 2;
  if (mprotect(m, (size_t)page, PROT_NONE) != 0) return 2;
  if (mprotect(m + 2 * page, (size_t)page, PROT_NONE) != 0) return 2;
  refused(m + page, "page after a PROT_NONE guard page");
  refused(m + page + 8, "8 bytes into the page after a guard page");
  refused(m + page + 64, "64 bytes into the page after a guard page");
  /* [unmapped][readable] */
  unsigned char *u = (unsigned char *)mmap(0, (size_t)page * 2, PROT_READ | PROT_WRITE,
                                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (u == MAP_FAILED || munmap(u, (size_t)page) != 0) return 2;
  refused(u + page, "page after an unmapped page");
  /* A page-aligned pointer whose previous page is readable garbage. */
  memset(m + page, 0xab, (size_t)page);
  unsigned char *two = (unsigned char *)mmap(0, (size_t)page * 2, PROT_READ | PROT_WRITE,
                                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (two == MAP_FAILED) return 2;
  memset(two, 0xcd, (size_t)page * 2);
  refused(two + page, "page-aligned pointer after a readable page");
  char stack_buffer[256];
  memset(stack_buffer, 0x5a, sizeof stack_buffer);
  refused(stack_buffer + 64, "stack buffer");
  refused(static_buffer, "page-aligned static buffer");
  refused(static_buffer + 4096, "static buffer, second page");
  refused(static_buffer + 100, "static buffer interior");
  char *block = (char *)nmw_malloc(100, NMW_UNTAGGED);
  expect(block && nmw_block_size(block) == 100, "a fallback block has its size");
  refused(block + 16, "interior pointer of a block");
  refused(block + 1, "misaligned interior pointer");
  nmw_free(block, NMW_UNTAGGED);
  void *aligned = nmw_aligned_alloc(4096, 100, NMW_UNTAGGED);
  expect(aligned && ((uintptr_t)aligned & 4095u) == 0 && nmw_block_size(aligned) == 100,
         "a page-aligned fallback block is recognised");
  nmw_free(aligned, NMW_UNTAGGED);
  printf("%d failed\n", failures);
  return failures ? 1 : 0;
}
