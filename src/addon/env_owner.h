/*
 * env_owner.h: attaching napi_envs to the owner of their Node environment
 * (env_owner.c), shared by the addon's own init and the C API's env_attach.
 */
#ifndef NMW_ADDON_ENV_OWNER_H
#define NMW_ADDON_ENV_OWNER_H

#include <node_api.h>

#include "../core/core.h"

/* On the env's JS thread: opens the environment's owner if it has none yet, maps
 * env to it and watches for teardown. NMW_OK, or a negative NMW_E* code. */
int nmw__env_attach(napi_env env);

#endif /* NMW_ADDON_ENV_OWNER_H */
