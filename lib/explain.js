'use strict';

// mw.explain(): the resident set (RSS) of this process split into parts that add
// up to it, each with the source of its number, and the remainder nobody
// accounts for stated as `unexplained`. Guide: docs/api.md#process-memory.

const v8 = require('v8');
const binding = require('./binding.js');
const { defineOwn } = require('./rows.js');
const { validateOptions, typeError } = require('./validate.js');

const PROCMEM = Object.fromEntries(binding.procmemFields.map((name, i) => [name, i]));
const COUNTER_WIDTH = binding.counterFields.length;
const CURR_BYTES = binding.counterFields.indexOf('currBytes');

// The parts, in the order they are listed and stacked in charts.
const PARTS = Object.freeze([
  'v8HeapUsed',
  'v8HeapFree',
  'arrayBuffers',
  'externalOther',
  'native',
  'mallocOther',
  'mallocFree',
  'files',
  'shmem',
  'stack',
  'unexplained',
]);

const SOURCES = Object.freeze({
  v8HeapUsed: 'v8.getHeapStatistics().used_heap_size',
  v8HeapFree: 'v8.getHeapStatistics(): total_physical_size - used_heap_size (committed heap pages not in use)',
  arrayBuffers: 'process.memoryUsage().arrayBuffers (Buffers and ArrayBuffers, in the malloc heap)',
  externalOther:
    'process.memoryUsage().external - arrayBuffers - external memory native-memwatch reported (other addons, external strings)',
  native: 'native-memwatch counters: live tracked blocks (nmw_malloc & co.) plus the tracker\'s own overhead',
  mallocOther:
    'glibc mallinfo2(): uordblks + hblkhd (malloc in use) - native - arrayBuffers - externalOther (Node, V8 and libraries)',
  mallocFree: 'glibc mallinfo2().fordblks (freed, held by malloc; not all of it need be resident)',
  files: '/proc/self/status RssFile (resident pages of node, shared libraries and mapped files)',
  shmem: '/proc/self/status RssShmem',
  stack: '/proc/self/status VmStk (the main thread\'s stack mapping)',
  unexplained: 'RSS minus the parts above (thread stacks, other mmaps; negative when a part counted pages that are not resident)',
});

let tagNameCache = { count: -1, names: [] };
function tagNames() {
  const count = binding.tagCount();
  if (count !== tagNameCache.count) {
    const names = [];
    for (const t of binding.tagList()) names[t.id] = t.name;
    tagNameCache = { count: names.length, names };
  }
  return tagNameCache.names;
}

function part(bytes, source, extra) {
  return extra ? { bytes, source, ...extra } : { bytes, source };
}

/**
 * The breakdown. Every part has {bytes, source}; `native` adds `tags` (live
 * bytes by tag name, tags with none left out) and `overheadBytes`. Parts that
 * this platform cannot measure have bytes 0 and say so in source.
 */
function explain(options) {
  const opts = validateOptions(options, 'options');
  for (const key of Object.keys(opts)) {
    throw typeError(`options.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
  }
  const time = Date.now();
  const pm = binding.procmem();
  const heap = v8.getHeapStatistics();
  const mu = process.memoryUsage();
  const haveMalloc = pm[PROCMEM.mallocHave] === 1;
  const haveStatus = pm[PROCMEM.statusHave] === 1;
  const rss = haveStatus ? pm[PROCMEM.rss] : mu.rss;

  const names = tagNames();
  const counters = binding.counters();
  const tags = {};
  for (let id = 0; (id + 2) * COUNTER_WIDTH <= counters.length; id++) {
    const bytes = counters[(id + 1) * COUNTER_WIDTH + CURR_BYTES];
    if (bytes !== 0 && names[id] !== undefined) defineOwn(tags, names[id], bytes);
  }
  const tracked = counters[CURR_BYTES];
  const overhead = binding.overhead().totalBytes;
  const audit = binding.externalAudit();
  const reported = audit ? audit.reported : 0;

  const used = Math.min(heap.used_heap_size, heap.total_physical_size);
  const parts = {};
  parts.v8HeapUsed = part(used, SOURCES.v8HeapUsed);
  parts.v8HeapFree = part(heap.total_physical_size - used, SOURCES.v8HeapFree);
  parts.arrayBuffers = part(mu.arrayBuffers, SOURCES.arrayBuffers);
  parts.externalOther = part(Math.max(0, mu.external - mu.arrayBuffers - reported), SOURCES.externalOther);
  parts.native = part(tracked + overhead, SOURCES.native, { tags, overheadBytes: overhead });
  let malloc = null;
  if (haveMalloc) {
    malloc = {
      arenaBytes: pm[PROCMEM.arena],
      inUseBytes: pm[PROCMEM.inUse],
      freeBytes: pm[PROCMEM.freeHeld],
      mmappedBytes: pm[PROCMEM.mmapped],
      mmappedBlocks: pm[PROCMEM.mmappedCount],
      releasableBytes: pm[PROCMEM.releasable],
    };
    const inUse = malloc.inUseBytes + malloc.mmappedBytes;
    const known = parts.native.bytes + parts.arrayBuffers.bytes + parts.externalOther.bytes;
    parts.mallocOther = part(Math.max(0, inUse - known), SOURCES.mallocOther);
    parts.mallocFree = part(malloc.freeBytes, SOURCES.mallocFree);
  } else {
    parts.mallocOther = part(0, 'unavailable: mallinfo2() needs glibc 2.33 or newer');
    parts.mallocFree = part(0, 'unavailable: mallinfo2() needs glibc 2.33 or newer');
  }
  let status = null;
  if (haveStatus) {
    status = {
      rssBytes: rss,
      rssAnonBytes: pm[PROCMEM.rssAnon],
      rssFileBytes: pm[PROCMEM.rssFile],
      rssShmemBytes: pm[PROCMEM.rssShmem],
      vmStackBytes: pm[PROCMEM.vmStack],
      vmHwmBytes: pm[PROCMEM.vmHwm],
    };
    parts.files = part(status.rssFileBytes, SOURCES.files);
    parts.shmem = part(status.rssShmemBytes, SOURCES.shmem);
    parts.stack = part(status.vmStackBytes, SOURCES.stack);
  } else {
    for (const name of ['files', 'shmem', 'stack']) parts[name] = part(0, 'unavailable: no /proc/self/status');
  }
  let sum = 0;
  for (const name of PARTS) if (name !== 'unexplained') sum += parts[name].bytes;
  parts.unexplained = part(rss - sum, SOURCES.unexplained);
  return {
    time,
    rss,
    rssSource: haveStatus ? '/proc/self/status VmRSS' : 'process.memoryUsage().rss',
    parts,
    malloc,
    status,
  };
}

explain.parts = PARTS;

module.exports = { explain, PARTS };
