'use strict';

// What the testing toolkit measures, read straight from the core: native bytes
// and blocks per tag and per (call site, tag), live finalizers per tag and per
// (kind, call site), the V8 heap after a full GC, and active handles.

const v8 = require('v8');
const binding = require('../binding.js');
const { siteRows } = require('../rows.js');
const { countersAt } = require('../stats.js');
const finalizerAudit = require('../finalizers.js');
const { gc } = require('../gc.js');

/** Keeps a tag name? (options.tags: only these; options.exclude: not these). */
function tagFilter(include, exclude) {
  return (name) => (include === null || include.has(name)) && !(exclude !== null && exclude.has(name));
}

/** Map tag name -> {bytes, blocks} of every registered tag that passes `keep`. */
function nativeByTag(keep) {
  const list = binding.tagList();
  const values = binding.counters();
  const out = new Map();
  for (const t of list) {
    if (!keep(t.name)) continue;
    const c = countersAt(values, t.id + 1);
    out.set(t.name, { bytes: c.currBytes, blocks: c.currBlocks });
  }
  return out;
}

function siteKey(r) {
  return `${r.file}\u0001${r.line}\u0001${r.function}\u0001${r.tag}`;
}

/** Map site key -> row {file, line, function, tag, bytes, blocks, allocatedBytes, allocs}. */
function nativeBySite(keep) {
  const out = new Map();
  for (const r of siteRows(binding)) {
    if (!keep(r.tag)) continue;
    out.set(siteKey(r), {
      file: r.file,
      line: r.line,
      function: r.function,
      tag: r.tag,
      bytes: r.currBytes,
      blocks: r.currBlocks,
      allocatedBytes: r.bytesAllocated,
      allocs: r.allocs,
    });
  }
  return out;
}

/** Map tag name -> live finalizers in this environment. */
function finalizersByTag(keep) {
  const out = new Map();
  const { tags } = finalizerAudit.finalizers();
  for (const name of Object.keys(tags)) {
    if (keep(name)) out.set(name, tags[name].live);
  }
  return out;
}

/** Map "tag kind file line function" -> {tag, kind, file, line, function, count} of live records. */
function finalizersBySite(keep) {
  const out = new Map();
  for (const r of finalizerAudit.finalizers.live()) {
    if (!keep(r.tag)) continue;
    const key = `${r.tag}\u0001${r.kind}\u0001${r.file}\u0001${r.line}\u0001${r.function}`;
    const row = out.get(key);
    if (row) row.count += 1;
    else out.set(key, { tag: r.tag, kind: r.kind, file: r.file, line: r.line, function: r.function, count: 1 });
  }
  return out;
}

/** used_heap_size after two full GCs, and the used size of each heap space. */
function heapUsed() {
  gc();
  gc();
  const spaces = new Map();
  for (const s of v8.getHeapSpaceStatistics()) spaces.set(s.space_name, s.space_used_size);
  return { used: v8.getHeapStatistics().used_heap_size, spaces };
}

/** Map resource type -> count of process.getActiveResourcesInfo(), without `ignore`. */
function handles(ignore) {
  const out = new Map();
  const list = typeof process.getActiveResourcesInfo === 'function' ? process.getActiveResourcesInfo() : [];
  for (const type of list) {
    if (ignore.has(type)) continue;
    out.set(type, (out.get(type) || 0) + 1);
  }
  return out;
}

/** Rows of `after` that grew since `before`: [{...row, bytesDiff, blocksDiff}], largest first. */
function siteGrowth(before, after) {
  const out = [];
  for (const [key, row] of after) {
    const old = before.get(key);
    const bytesDiff = row.bytes - (old ? old.bytes : 0);
    const blocksDiff = row.blocks - (old ? old.blocks : 0);
    if (bytesDiff > 0 || (bytesDiff === 0 && blocksDiff > 0)) out.push({ ...row, bytesDiff, blocksDiff });
  }
  out.sort(bySizeThenSite((r) => r.bytesDiff, (r) => r.blocksDiff));
  return out;
}

function compareNullable(a, b) {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/** Descending by primary, then secondary; ties by file, line, tag, function. */
function bySizeThenSite(primary, secondary) {
  return (a, b) =>
    primary(b) - primary(a) ||
    secondary(b) - secondary(a) ||
    compareNullable(a.file, b.file) ||
    a.line - b.line ||
    compareNullable(a.tag, b.tag) ||
    compareNullable(a.function, b.function);
}

module.exports = {
  tagFilter,
  nativeByTag,
  nativeBySite,
  finalizersByTag,
  finalizersBySite,
  heapUsed,
  handles,
  siteGrowth,
  bySizeThenSite,
};
