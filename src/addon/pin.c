/*
 * pin.c: keeping shared objects mapped for the life of the process.
 *
 * Node unloads (dlclose) an addon that only workers loaded once the last of
 * those workers exits. Two things must outlive that:
 *  - native-memwatch itself: consumers cache the table pointer for the life of
 *    the process, blocks allocated through it may be freed later, and the
 *    core's state is process-wide;
 *  - every consumer that imported the table: the core keeps pointers to its
 *    nmw_site_t records (static data in the consumer), read by sites() and
 *    snapshots. Unmapping them would leave dangling pointers (seen: a segfault in
 *    nmw_core_slot_rows after a worker that loaded a consumer exited).
 * Pinning marks the object RTLD_NODELETE; RTLD_NOLOAD makes sure nothing new is
 * loaded: the object mapped at that address is only promoted.
 */
#include "addon.h"

#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>

bool nmw__pin_module(const void *address) {
  Dl_info info;
  if (address == NULL || dladdr(address, &info) == 0 || info.dli_fname == NULL) return false;
  /* The handle is leaked on purpose: it is the reference that keeps the object. */
  return dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE) != NULL;
}
#else
bool nmw__pin_module(const void *address) {
  (void)address;
  return false; /* Windows: not yet (GetModuleHandleEx with ..._FLAG_PIN). */
}
#endif
