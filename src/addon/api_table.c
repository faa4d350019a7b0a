/*
 * api_table.c: the function table that other addons reach through
 * include/native_memwatch.h (nmw_import). One static, read-only table for the
 * whole process; every environment publishes a pointer to this same table, so an
 * addon sees the same accounting from any thread.
 */
#include "../core/core.h"
#include "addon.h"
#include "env_owner.h"
#include "finalizers.h"

/* nmw_import() calls this on the consumer's JS thread with its napi_env. The
 * caller is the consumer's own code (nmw_import is inline in the public header),
 * so its return address names the consumer: pin it, so that its site records stay
 * mapped while the core points at them (see pin.c). */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static int nmw__api_env_attach(void *env) {
#if defined(__GNUC__) || defined(__clang__)
  nmw__pin_module(__builtin_extract_return_addr(__builtin_return_address(0)));
#endif
  return nmw__env_attach((napi_env)env);
}

/* Sets or clears the external flag, keeping any other public flag. */
static int nmw__api_tag_set_external(nmw_tag_t tag, int external) {
  if (nmw_core_tag_name(tag) == NULL) return NMW_ENOENT;
  unsigned flags = nmw_core_tag_flags(tag);
  flags = external ? (flags | NMW_TAG_EXTERNAL) : (flags & ~(unsigned)NMW_TAG_EXTERNAL);
  return nmw_core_tag_set_flags(tag, flags);
}

static const nmw_api_t nmw__table = {
    .abi_version = NMW_ABI_VERSION,
    .size = (uint32_t)sizeof(nmw_api_t),
    .tag_register = nmw_core_tag_register,
    .tag_set_limit = nmw_core_tag_set_limit,
    .malloc = nmw_core_malloc,
    .calloc = nmw_core_calloc,
    .realloc = nmw_core_realloc,
    .free = nmw_core_free,
    .strdup = nmw_core_strdup,
    .aligned_alloc = nmw_core_aligned_alloc,
    .track = nmw_core_track,
    .untrack = nmw_core_untrack,
    .block_size = nmw_core_block_size,
    .env_attach = nmw__api_env_attach,
    .malloc_env = nmw_core_malloc_env,
    .calloc_env = nmw_core_calloc_env,
    .aligned_alloc_env = nmw_core_aligned_alloc_env,
    .strdup_env = nmw_core_strdup_env,
    .external_adjust = nmw_core_external_adjust,
    .tag_set_external = nmw__api_tag_set_external,
    .wrap = nmw__fin_wrap,
    .remove_wrap = nmw__fin_remove_wrap,
    .add_finalizer = nmw__fin_add_finalizer,
    .create_external = nmw__fin_create_external,
    .create_external_arraybuffer = nmw__fin_create_external_arraybuffer,
    .create_external_buffer = nmw__fin_create_external_buffer,
    .set_instance_data = nmw__fin_set_instance_data,
    .delete_reference = nmw__fin_delete_reference,
};

const struct nmw_api *nmw__addon_table(void) { return &nmw__table; }
