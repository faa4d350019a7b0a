/*
 * addon.c: module init. Runs once per environment (the main thread and every
 * worker): sets up the environment's instance data, publishes the C API table on
 * globalThis and fills the binding object for lib/.
 *
 * The public header is included WITH Node-API (no NMW_NO_NODE_API) and before
 * anything that includes core.h, so that nmw__api_type_tag, the one type tag
 * consumers check in nmw_import(), is the very same constant.
 */
#include "native_memwatch.h"

#include <stdlib.h>

#include "addon.h"
#include "env_owner.h"
#include "napi_util.h"

#include "../core/core.h"

static void nmw__env_data_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

nmw_env_data_t *nmw__env_data(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return (nmw_env_data_t *)data;
}

napi_status nmw__define_methods(napi_env env, napi_value exports, const nmw_method_t *methods,
                                size_t count) {
  for (size_t i = 0; i < count; i++) {
    napi_value fn;
    NMW_CALL_STATUS(env, napi_create_function(env, methods[i].name, NAPI_AUTO_LENGTH,
                                              methods[i].fn, NULL, &fn));
    NMW_CALL_STATUS(env, napi_set_named_property(env, exports, methods[i].name, fn));
  }
  return napi_ok;
}

/*
 * Defines globalThis[Symbol.for('native-memwatch.api')] = external(&table), type
 * tagged, non-enumerable, non-writable, non-configurable. When the property
 * already exists (another copy of native-memwatch got there first in this
 * environment) it is left alone. Sets *published to whether we defined it.
 */
static napi_status nmw__publish_api(napi_env env, bool *published) {
  napi_value global, symbol_ctor, symbol_for, key_name, key, external;
  bool exists = false;
  *published = false;
  NMW_CALL_STATUS(env, napi_get_global(env, &global));
  NMW_CALL_STATUS(env, napi_get_named_property(env, global, "Symbol", &symbol_ctor));
  NMW_CALL_STATUS(env, napi_get_named_property(env, symbol_ctor, "for", &symbol_for));
  NMW_CALL_STATUS(env,
                  napi_create_string_utf8(env, NMW_API_SYMBOL, NAPI_AUTO_LENGTH, &key_name));
  NMW_CALL_STATUS(env, napi_call_function(env, symbol_ctor, symbol_for, 1, &key_name, &key));
  NMW_CALL_STATUS(env, napi_has_own_property(env, global, key, &exists));
  if (exists) return napi_ok;

  /* No finalizer: the table is static. Consumers only read through the pointer,
   * so dropping const here is safe. */
  NMW_CALL_STATUS(env, napi_create_external(env, (void *)(uintptr_t)nmw__addon_table(), NULL,
                                            NULL, &external));
  NMW_CALL_STATUS(env, napi_type_tag_object(env, external, &nmw__api_type_tag));
  napi_property_descriptor desc = {NULL, key, NULL, NULL, NULL, external, napi_default, NULL};
  NMW_CALL_STATUS(env, napi_define_properties(env, global, 1, &desc));
  *published = true;
  return napi_ok;
}

static bool nmw__set_constants(napi_env env, napi_value exports, const nmw_env_data_t *data) {
  return nmw__set_uint32(env, exports, "abiVersion", NMW_ABI_VERSION) &&
         nmw__set_uint32(env, exports, "tagMax", NMW_TAG_MAX) &&
         nmw__set_uint32(env, exports, "tagNameMax", NMW_TAG_NAME_MAX) &&
         nmw__set_uint32(env, exports, "slotMax", NMW_SLOT_MAX) &&
         nmw__set_bool(env, exports, "apiPublished", data->api_published) &&
         nmw__set_double(env, exports, "envAttachStatus", data->attach_status);
}

NAPI_MODULE_INIT() {
  /* Never unloaded, even when only workers load it (see pin.c). */
  nmw__pin_module((const void *)nmw__addon_table);
  nmw_env_data_t *data = (nmw_env_data_t *)calloc(1, sizeof *data);
  if (data == NULL) {
    napi_throw_error(env, "ERR_NMW_NO_MEMORY", "native-memwatch: out of memory at load");
    return NULL;
  }
  if (napi_set_instance_data(env, data, nmw__env_data_finalize, NULL) != napi_ok) {
    free(data);
    nmw__throw_last_error(env, "napi_set_instance_data");
    return NULL;
  }

  /* Failing to publish (a frozen globalThis, say) must not stop the JS API from
   * loading: other addons then fall back to plain allocation. */
  bool published = false;
  if (nmw__publish_api(env, &published) != napi_ok) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
    published = false;
  }
  data->api_published = published;

  /* Make this environment an owner of external memory (reported to V8 on its
   * thread). Without it the JS API still works; external bytes of blocks
   * allocated here stay unattributed. */
  data->attach_status = nmw__env_attach(env);

  if (!nmw__set_constants(env, exports, data)) return NULL;
  if (nmw__init_tags(env, exports) != napi_ok) return NULL;
  if (nmw__init_stats(env, exports) != napi_ok) return NULL;
  if (nmw__init_regions(env, exports) != napi_ok) return NULL;
  if (nmw__init_external(env, exports) != napi_ok) return NULL;
  if (nmw__init_finalizers(env, exports) != napi_ok) return NULL;
  if (nmw__init_attach(env, exports) != napi_ok) return NULL;
  if (nmw__init_procmem(env, exports) != napi_ok) return NULL;
  if (nmw__init_heapsnap(env, exports) != napi_ok) return NULL;
  return exports;
}
