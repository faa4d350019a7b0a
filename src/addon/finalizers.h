/*
 * finalizers.h: the finalizer audit's entries of the C API table (finalizers.c),
 * for api_table.c. Node-API types are void * here, as in nmw_api_t; each returns
 * a napi_status.
 */
#ifndef NMW_ADDON_FINALIZERS_H
#define NMW_ADDON_FINALIZERS_H

#include <node_api.h>

#include "../core/core.h"

int nmw__fin_wrap(void *env, void *js_object, void *native_object, nmw_finalize_fn finalize_cb,
                  void *finalize_hint, void **result, nmw_tag_t tag, nmw_site_t *site);
int nmw__fin_remove_wrap(void *env, void *js_object, void **result, nmw_tag_t tag,
                         nmw_site_t *site);
int nmw__fin_add_finalizer(void *env, void *js_object, void *finalize_data,
                           nmw_finalize_fn finalize_cb, void *finalize_hint, void **result,
                           nmw_tag_t tag, nmw_site_t *site);
int nmw__fin_create_external(void *env, void *data, nmw_finalize_fn finalize_cb,
                             void *finalize_hint, void **result, nmw_tag_t tag, nmw_site_t *site);
int nmw__fin_create_external_arraybuffer(void *env, void *external_data, size_t byte_length,
                                         nmw_finalize_fn finalize_cb, void *finalize_hint,
                                         void **result, nmw_tag_t tag, nmw_site_t *site);
int nmw__fin_create_external_buffer(void *env, size_t length, void *data,
                                    nmw_finalize_fn finalize_cb, void *finalize_hint, void **result,
                                    nmw_tag_t tag, nmw_site_t *site);
int nmw__fin_set_instance_data(void *env, void *data, nmw_finalize_fn finalize_cb,
                               void *finalize_hint, nmw_tag_t tag, nmw_site_t *site);
int nmw__fin_delete_reference(void *env, void *ref, nmw_tag_t tag, nmw_site_t *site);

#endif /* NMW_ADDON_FINALIZERS_H */
