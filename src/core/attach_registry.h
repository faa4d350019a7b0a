/*
 * attach_registry.h: the core side of attach (instrumenting addons we did not
 * compile). Plain C, no Node-API.
 *
 * Attached addons keep calling libc's allocator: their blocks have no header and
 * keep libc's layout, so a block they hand to code we do not see (freed there)
 * cannot crash anything. Which pointers are ours is known from a registry of the
 * live blocks attached addons allocated: a hash table split into stripes, each
 * behind a spin lock, that never dereferences the pointers it is asked about.
 * A pointer it does not hold (allocated before attaching, or by another library)
 * is not ours: the hooks pass it to libc untouched.
 *
 * Call sites are interned by return address into nmw_site_t records whose file
 * is the addon's tag name and whose function is resolved (dladdr) only when
 * rows are read.
 */
#ifndef NMW_ATTACH_REGISTRY_H
#define NMW_ATTACH_REGISTRY_H

#include "core.h"

/* Attached addons (one per loaded object, process-wide). */
#define NMW_ATTACH_MAX 64
/* Distinct call sites interned; beyond, allocations count to the tag's no-site row. */
#define NMW_ATTACH_SITE_MAX 16384

/* Records a live block and credits the allocation to (site, tag). NMW_ENOMEM
 * when the registry cannot grow (the block is then not counted). */
int nmw_attach_block_add(void *ptr, size_t size, nmw_tag_t tag, nmw_site_t *site);
/* Removes a block and credits the free. False (and nothing counted) when ptr is
 * not a live block of the registry. */
bool nmw_attach_block_remove(void *ptr);
/* Removes a block without crediting; fills size/tag/slot. False when absent. */
bool nmw_attach_block_take(void *ptr, uint64_t *size, nmw_tag_t *tag, uint32_t *slot);
/* Puts back what take removed (the realloc failed), without crediting. */
void nmw_attach_block_put_back(void *ptr, uint64_t size, nmw_tag_t tag, uint32_t slot);
/* Records the block realloc moved or resized (after take) and credits the change. */
void nmw_attach_block_moved(void *ptr, uint64_t old_size, uint64_t size, nmw_tag_t tag,
                            uint32_t slot);
/* Whether ptr is a live registered block (for tests and diagnostics). */
bool nmw_attach_block_known(const void *ptr, uint64_t *size);
/* Live blocks in the registry, and the registry's own memory. */
uint64_t nmw_attach_block_count(void);
uint64_t nmw_attach_registry_bytes(void);

/* The site record of a return address (file = tag name). NULL when the site
 * table is full (NMW_ATTACH_SITE_MAX). */
nmw_site_t *nmw_attach_site(const void *return_address, nmw_tag_t tag);
/* Resolves the function names of sites not resolved yet; resolve(ra, buf, cap)
 * writes the name. Returns how many were resolved now. */
typedef void (*nmw_attach_resolve_fn)(const void *return_address, char *buf, size_t cap);
size_t nmw_attach_resolve_sites(nmw_attach_resolve_fn resolve);
uint32_t nmw_attach_site_count(void);

#endif /* NMW_ATTACH_REGISTRY_H */
