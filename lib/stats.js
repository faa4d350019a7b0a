'use strict';

// tags(), stats() and sites(): the current counters, read from the core.

const v8 = require('v8');
const binding = require('./binding.js');
const { defineOwn, siteRows, compareSites } = require('./rows.js');
const { externalStats } = require('./external.js');
const { withInspect } = require('./format.js');
const {
  validateOptions,
  validatePositiveInteger,
  validateOneOf,
  resolveTag,
} = require('./validate.js');

const FIELDS = binding.counterFields;
const WIDTH = FIELDS.length;
const COLUMN = Object.fromEntries(FIELDS.map((name, i) => [name, i]));

// The Counters object of row `row` of a binding counters array (keys in the
// documented order).
function countersAt(values, row) {
  const base = row * WIDTH;
  const at = (name) => (values.length >= base + WIDTH ? values[base + COLUMN[name]] : 0);
  return {
    currBytes: at('currBytes'),
    currBlocks: at('currBlocks'),
    peakBytes: at('peakBytes'),
    peakBlocks: at('peakBlocks'),
    allocs: at('allocs'),
    frees: at('frees'),
    reallocs: at('reallocs'),
    bytesAllocated: at('bytesAllocated'),
    bytesFreed: at('bytesFreed'),
    limitDenied: at('limitDenied'),
    peakErrorBound: at('peakErrorBound'),
    peakBlocksErrorBound: at('peakBlocksErrorBound'),
  };
}

function tags() {
  return binding.tagList().map((t) => ({
    id: t.id,
    name: t.name,
    external: t.external,
    limit: t.limit,
    strictPeaks: t.strictPeaks,
  }));
}

function camelCase(name) {
  return name.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
}

function misuse() {
  const raw = binding.misuse();
  const keys = raw.kinds.map(camelCase);
  const counts = (values) => {
    const out = {};
    let total = 0;
    keys.forEach((key, i) => {
      out[key] = values[i];
      total += values[i];
    });
    out.total = total;
    return out;
  };
  const result = counts(raw.counts);
  result.sites = raw.sites.map((s) => ({
    file: s.file,
    line: s.line,
    function: s.func,
    ...counts(s.counts),
  }));
  return result;
}

function stats() {
  const time = Date.now();
  // The tag list first: a tag registered in between is left for the next call.
  const list = binding.tagList();
  const values = binding.counters();
  const byName = {};
  for (const t of list) {
    defineOwn(byName, t.name, {
      id: t.id,
      ...countersAt(values, t.id + 1),
      external: t.external,
      limit: t.limit,
    });
  }
  return withInspect({
    time,
    total: countersAt(values, 0),
    tags: byName,
    overhead: binding.overhead(),
    misuse: misuse(),
    threads: binding.shardCount(),
    external: externalStats(),
    addons: require('./attach.js').addonStats(),
    heap: v8.getHeapStatistics(),
    memoryUsage: process.memoryUsage(),
  });
}

const SORT_KEYS = ['currBytes', 'currBlocks', 'totalBytes', 'totalBlocks'];

function sites(options) {
  const opts = validateOptions(options, 'options');
  const tagId = opts.tag === undefined ? undefined : resolveTag(binding, opts.tag, 'options.tag');
  const limit =
    opts.limit === undefined
      ? 10
      : validatePositiveInteger(opts.limit, 'options.limit', { allowInfinity: true });
  const sortBy =
    opts.sortBy === undefined ? 'currBytes' : validateOneOf(opts.sortBy, 'options.sortBy', SORT_KEYS);

  let rows = siteRows(binding);
  if (tagId !== undefined) rows = rows.filter((r) => r.tagId === tagId);
  const out = rows.map((r) => ({
    file: r.file,
    line: r.line,
    function: r.function,
    tag: r.tag,
    currBytes: r.currBytes,
    currBlocks: r.currBlocks,
    totalBytes: r.bytesAllocated,
    totalBlocks: r.allocs,
    frees: r.frees,
    reallocs: r.reallocs,
    bytesFreed: r.bytesFreed,
  }));
  out.sort((a, b) => b[sortBy] - a[sortBy] || compareSites(a, b));
  return withInspect(limit === Infinity ? out : out.slice(0, limit), 'sites');
}

module.exports = { tags, stats, sites, misuse, countersAt };
