/*
 * addon.h: what the addon's files share (per-environment state and the
 * functions that fill the binding object).
 *
 * The binding is internal: lib/ is its only user. Its members, by file:
 *
 *   addon.c       abiVersion, tagMax, tagNameMax, slotMax (numbers),
 *                 apiPublished (boolean: this environment's globalThis carries
 *                 the C API table under Symbol.for('native-memwatch.api')),
 *                 envAttachStatus (0, or the NMW_E* code of attaching this
 *                 environment as an owner of external memory, env_owner.c)
 *   js_tags.c     tagRegister(name, flags) -> id, tagLookup(name) -> id | -1,
 *                 tagSetLimit(id, bytes | null), tagList() -> [{id, name,
 *                 external, limit}], tagCount() -> number
 *   js_stats.c    counterFields (string[]), counters() -> Float64Array with one
 *                 row of counterFields.length values for the total, then one per
 *                 tag id; total() -> Float64Array (the total row only);
 *                 slotRows() -> [{slot, tag, file, func, line, allocs, frees,
 *                 reallocs, bytesAllocated, bytesFreed, currBytes, currBlocks}];
 *                 resetPeak(id?) ; misuse() -> {kinds: string[], counts: number[],
 *                 sites: [{file, func, line, counts: number[]}]};
 *                 overhead() -> {blockBytes, metadataBytes, totalBytes};
 *                 shardCount() -> number; externalThreshold(bytes?) -> the
 *                 external-memory reporting threshold (set when bytes given)
 *   js_regions.c  regionBegin() -> handle (an external owning an nmw_region_t),
 *                 regionDelta(handle) -> {totalBlocks, totalBytes, currBlocks,
 *                 currBytes, maxBlocks, maxBytes}, regionClose(handle),
 *                 regionOpenCount() -> regions open in this environment
 *   finalizers.c  finInit(stackFn, threadId), finCaptureStacks(on?) -> bool,
 *                 finStats(scope) -> {rows, total}, finLive(scope, tag, olderThanMs,
 *                 limit, withStacks) -> rows, finEnvironments() -> rows,
 *                 finExiting(), finExit(kind, code, final),
 *                 finExitReport(phase) -> JSON,
 *                 finTotals() -> number[5], finGlobal() -> {...}, finHistBuckets,
 *                 _testing.finalizeAgain(id) (test-only); scope: -1 this
 *                 environment, -2 all, else an owner id
 *
 *   js_procmem.c  procmemFields (string[]), procmem() -> Float64Array: mallinfo2
 *                 and /proc/self/status (src/core/procmem.h)
 *   js_heapsnap.c hsParserNew(keepAllNames, maxNodes, maxStringBytes) -> parser,
 *                 hsFeed(parser, string | Uint8Array[, length]), hsFinish(parser)
 *                 -> graph, hsDigest(graph, skipName) -> digest, hsDigestInfo,
 *                 hsDiff(before, after, samples), hsPaths(graph, ids, skipName),
 *                 hsFree(handle) (see lib/heap-snapshot.js)
 *
 * Byte counts cross as doubles: exact up to 2^53.
 */
#ifndef NMW_ADDON_H
#define NMW_ADDON_H

#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

struct nmw_api;

/* State of one environment (main thread or worker), kept as instance data. */
typedef struct nmw_env_data {
  bool api_published;     /* this env's globalThis got the table from us */
  int attach_status;      /* nmw__env_attach (env_owner.c) result: NMW_OK or NMW_E* */
  uint32_t open_regions;  /* regions begun here and not yet closed or finalized */
} nmw_env_data_t;

/* This environment's state (NULL when it cannot be fetched). */
nmw_env_data_t *nmw__env_data(napi_env env);

/* Keeps the shared object that contains address loaded for the life of the
 * process (pin.c). False when it could not (or the platform cannot). */
bool nmw__pin_module(const void *address);

/* The static, immutable table of core functions (api_table.c). */
const struct nmw_api *nmw__addon_table(void);

/* Each fills exports with its functions; napi_ok or an exception is pending. */
napi_status nmw__init_tags(napi_env env, napi_value exports);
napi_status nmw__init_stats(napi_env env, napi_value exports);
napi_status nmw__init_regions(napi_env env, napi_value exports);
napi_status nmw__init_external(napi_env env, napi_value exports);
napi_status nmw__init_finalizers(napi_env env, napi_value exports);
/* attach.c: attachEnable, attachPath, attachList, attachResolveSites,
 * attachSupported, attachPlatform (lib/attach.js). */
napi_status nmw__init_attach(napi_env env, napi_value exports);
napi_status nmw__init_procmem(napi_env env, napi_value exports);
napi_status nmw__init_heapsnap(napi_env env, napi_value exports);

/* Defines the native functions of a table on exports. */
typedef struct nmw_method {
  const char *name;
  napi_callback fn;
} nmw_method_t;
napi_status nmw__define_methods(napi_env env, napi_value exports, const nmw_method_t *methods,
                                size_t count);

#endif /* NMW_ADDON_H */
