'use strict';

// native-memwatch/testing: assertions on native memory for test suites.
// Guide: docs/testing.md; reference: docs/api.md#testing; types: testing/index.d.ts.
//
// Native counts are exact, so the verdicts that rest on them are exact too: a
// function whose outstanding native bytes, blocks and live finalizers return to
// the same values after each round never fails assertNoLeak, however often it
// runs. Only the V8 heap signal (opt-in) is noisy; it needs growth in every round
// above a tolerance.

const assert = require('assert');
const mw = require('../index.js');
const binding = require('../binding.js');
const { countersAt } = require('../stats.js');
const { resolveTag } = require('../validate.js');
const { parseSize, formatSize, formatLimit, bytesText, grouped, decimal, BYTES } = require('./size.js');
const {
  validateFunction,
  validatePositiveInteger,
  leakOptions,
  eachTestOptions,
  limitOptions,
} = require('./options.js');
const sample = require('./sample.js');

// ---- running the function under test ----

function isThenable(value) {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function';
}

// Calls fn once and waits for the promise it returns, if any. What fn throws or
// rejects with propagates as it is.
async function runOnce(fn) {
  const result = fn();
  if (isThenable(result)) await result;
}

// n calls in a row; a synchronous fn costs no promise turn per call.
async function runTimes(fn, n) {
  for (let i = 0; i < n; i++) {
    const result = fn();
    if (isThenable(result)) await result;
  }
}

function failure(message, stackStartFn, details) {
  // operator 'fail': Jest prints the message of an assert.fail() as it is.
  const err = new assert.AssertionError({ message, stackStartFn, operator: 'fail' });
  Object.defineProperty(err, 'details', { value: details, enumerable: false, writable: true, configurable: true });
  return err;
}

// ---- message pieces ----

function plural(n, one, many = `${one}s`) {
  return `${grouped(n)} ${Math.abs(n) === 1 ? one : many}`;
}

function where(row) {
  if (row.file === null) return '(no call site)';
  return `${row.file}:${row.line} in ${row.function === null ? '?' : `${row.function}()`}`;
}

function signed(text) {
  return text.startsWith('-') ? text : `+${text}`;
}

// 'x bytes in n blocks' for a size that may be fractional (per iteration).
function amount(bytes, blocks, unit) {
  const b = Number.isInteger(bytes) ? formatSize(bytes, unit) : `${decimal(bytes)} bytes`;
  const k = Number.isInteger(blocks) ? plural(blocks, 'block') : `${decimal(blocks)} blocks`;
  return `${b} in ${k}`;
}

function count(n) {
  return Number.isInteger(n) ? grouped(n) : decimal(n);
}

// ---- assertNoLeak ----

// Per-key growth over the rounds, kept as the samples come: only the first and
// the previous values are held, so the bookkeeping does not grow with the rounds
// (with the heap signal on, it would otherwise read as growth itself).
class GrowthTracker {
  constructor(first, tolerance) {
    this.tolerance = tolerance;
    this.rounds = 0;
    this.keys = new Map();
    for (const [key, v] of first) this.keys.set(key, { firstBytes: v.bytes, firstBlocks: v.blocks, prevBytes: v.bytes, prevBlocks: v.blocks, grows: true });
  }

  // A round grew when bytes rose above the tolerance or, with no tolerance,
  // blocks rose while bytes did not fall.
  grew(dBytes, dBlocks) {
    return dBytes > this.tolerance || (this.tolerance === 0 && dBytes === 0 && dBlocks > 0);
  }

  add(current) {
    this.rounds += 1;
    for (const [key, st] of this.keys) {
      const v = current.get(key);
      const bytes = v === undefined ? 0 : v.bytes;
      const blocks = v === undefined ? 0 : v.blocks;
      st.grows = st.grows && this.grew(bytes - st.prevBytes, blocks - st.prevBlocks);
      st.prevBytes = bytes;
      st.prevBlocks = blocks;
    }
    for (const [key, v] of current) {
      if (this.keys.has(key)) continue;
      // New since the first sample: 0 in every earlier sample.
      this.keys.set(key, {
        firstBytes: 0,
        firstBlocks: 0,
        prevBytes: v.bytes,
        prevBlocks: v.blocks,
        grows: this.rounds === 1 && this.grew(v.bytes, v.blocks),
      });
    }
  }

  // [{key, bytes, blocks}] of the keys that grew in every round.
  growing() {
    const out = [];
    if (this.rounds === 0) return out;
    for (const [key, st] of this.keys) {
      if (st.grows) out.push({ key, bytes: st.prevBytes - st.firstBytes, blocks: st.prevBlocks - st.firstBlocks });
    }
    out.sort((a, b) => b.bytes - a.bytes || b.blocks - a.blocks || (a.key < b.key ? -1 : 1));
    return out;
  }
}

// Finalizer counts as {bytes: live, blocks: 0} for the tracker.
function asCounts(liveByTag) {
  const out = new Map();
  for (const [tag, live] of liveByTag) out.set(tag, { bytes: live, blocks: 0 });
  return out;
}

// True when values[i] - values[i-1] > tolerance for every i >= 1.
function growsEveryRound(values, tolerance) {
  for (let i = 1; i < values.length; i++) if (!(values[i] - values[i - 1] > tolerance)) return false;
  return values.length > 1;
}

// The V8 heap's samples in preallocated arrays (no growth of our own).
class HeapSeries {
  constructor(maxSamples) {
    const first = sample.heapUsed();
    this.spaceNames = [...first.spaces.keys()];
    this.used = new Float64Array(maxSamples);
    this.spaces = new Float64Array(maxSamples * this.spaceNames.length);
    this.length = 0;
    this.push(first);
  }

  push(h) {
    const i = this.length;
    this.used[i] = h.used;
    this.spaceNames.forEach((name, j) => {
      this.spaces[i * this.spaceNames.length + j] = h.spaces.get(name) || 0;
    });
    this.length += 1;
  }

  // The last rounds + 1 values.
  recent(rounds) {
    return Array.from(this.used.subarray(Math.max(0, this.length - rounds - 1), this.length));
  }
}

function finalizerGrowth(before, after, tag) {
  const out = [];
  for (const [key, row] of after) {
    if (row.tag !== tag) continue;
    const old = before.get(key);
    const diff = row.count - (old ? old.count : 0);
    if (diff > 0) out.push({ ...row, diff });
  }
  out.sort((a, b) => b.diff - a.diff || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) || (a.line - b.line));
  return out;
}

function finalizerSiteText(row) {
  return `${row.kind} at ${where(row)}`;
}

// The constructors that grew, from mw.HeapDiff when this build has it
// (memwatch's shape: new HeapDiff(); hd.end() -> {change: {details: [{what,
// size_bytes, '+', '-'}]}}), over one more round of iterations.
async function heapDiffLines(fn, opts) {
  if (typeof mw.HeapDiff !== 'function') return null;
  const hd = new mw.HeapDiff();
  await runTimes(fn, opts.iterations);
  await mw.settle();
  const diff = hd.end();
  const details = (diff && diff.change && Array.isArray(diff.change.details) ? diff.change.details : [])
    .filter((d) => d['+'] - d['-'] > 0 || d.size_bytes > 0)
    .sort((a, b) => b.size_bytes - a.size_bytes || b['+'] - b['-'] - (a['+'] - a['-']))
    .slice(0, opts.topSites);
  return details.map(
    (d) => `      ${d.what}: ${signed(plural(d['+'] - d['-'], 'object'))}, ${signed(bytesText(d.size_bytes))}`,
  );
}

// The heap may grow by this much per round, whatever the tolerance: V8's own
// growth (feedback vectors, compiled code, our samples) measured up to ~5 KiB.
const HEAP_ROUND_FLOOR = 16 * 1024;

function heapRoundTolerance(opts) {
  return Math.max(opts.heapTolerance.bytes * opts.iterations, HEAP_ROUND_FLOOR);
}

// Rounds i in [from, to] of the series that grew by more than the tolerance.
function heapRoundsGrown(series, from, to, tolerance) {
  let n = 0;
  for (let i = from; i <= to; i++) if (series.used[i] - series.used[i - 1] > tolerance) n += 1;
  return n;
}

// The heap leaks when it grew in each of the first `rounds` rounds; or, over the
// 2 x rounds run when only some of those grew, in more than half of them and by
// more than the tolerance per round on the whole (V8 moves by hundreds of KiB
// now and then: compaction, pretenuring, array growth).
function heapLeaking(series, rounds, tolerance) {
  const run = series.length - 1;
  if (run >= rounds && heapRoundsGrown(series, 1, rounds, tolerance) === rounds) return { from: 0, to: rounds, grown: rounds };
  if (run < 2 * rounds) return null;
  const grown = heapRoundsGrown(series, 1, run, tolerance);
  if (grown * 2 > run && series.used[run] - series.used[0] > run * tolerance) return { from: 0, to: run, grown };
  return null;
}

async function heapVerdict(series, opts, fn) {
  const found = heapLeaking(series, opts.rounds, heapRoundTolerance(opts));
  if (found === null) return null;
  const n = series.spaceNames.length;
  const spaces = [];
  series.spaceNames.forEach((name, j) => {
    const diff = series.spaces[found.to * n + j] - series.spaces[found.from * n + j];
    if (diff > 0) spaces.push({ name, diff });
  });
  spaces.sort((a, b) => b.diff - a.diff || (a.name < b.name ? -1 : 1));
  return {
    bytes: series.used[found.to] - series.used[found.from],
    roundsRun: found.to - found.from,
    roundsGrown: found.grown,
    spaces,
    constructors: await heapDiffLines(fn, opts),
  };
}

function leakMessage(found, opts, who) {
  const { rounds, iterations, warmup } = opts;
  const unit = opts.tolerance.unit;
  const runs = rounds * iterations;
  const tol = opts.tolerance.bytes > 0 ? `, tolerance ${formatLimit(opts.tolerance)} per iteration` : '';
  const lines = [
    `${who}: memory kept growing over ${plural(rounds, 'round')} of ${plural(iterations, 'iteration')} ` +
      `(after ${plural(warmup, 'warm-up iteration')}; mw.settle() after each round${tol}):`,
  ];
  for (const n of found.native) {
    lines.push(
      `  native memory of tag ${JSON.stringify(n.tag)}: ${signed(amount(n.bytes, n.blocks, unit))} over ${plural(rounds, 'round')} ` +
        `(${amount(n.bytes / rounds, n.blocks / rounds, unit)} per round, ${amount(n.bytes / runs, n.blocks / runs, unit)} per iteration)`,
    );
    for (const s of n.sites) lines.push(`    ${signed(amount(s.bytesDiff, s.blocksDiff, unit))} at ${where(s)}`);
    if (n.moreSites > 0) lines.push(`    ... and ${plural(n.moreSites, 'more call site')}`);
  }
  for (const f of found.finalizers) {
    lines.push(
      `  live finalizers of tag ${JSON.stringify(f.tag)}: +${grouped(f.live)} over ${plural(rounds, 'round')} ` +
        `(${count(f.live / rounds)} per round, ${count(f.live / runs)} per iteration)`,
    );
    for (const s of f.sites) lines.push(`    +${grouped(s.diff)} ${finalizerSiteText(s)}`);
    if (f.moreSites > 0) lines.push(`    ... and ${plural(f.moreSites, 'more call site')}`);
  }
  if (found.heap) {
    const h = found.heap;
    lines.push(
      `  V8 heap (used_heap_size after gc()): ${signed(bytesText(h.bytes))} over ${plural(h.roundsRun, 'round')}` +
        `${h.roundsGrown === h.roundsRun ? '' : `, growing in ${grouped(h.roundsGrown)} of them`} ` +
        `(${bytesText(Math.round(h.bytes / h.roundsRun))} per round, ${decimal(h.bytes / (h.roundsRun * iterations))} bytes per iteration; ` +
        `tolerance ${formatLimit(opts.heapTolerance)} per iteration, at least 16 KiB per round)`,
    );
    if (h.spaces.length > 0) {
      lines.push(`    heap spaces that grew: ${h.spaces.map((s) => `${s.name} ${signed(bytesText(s.diff))}`).join(', ')}`);
    }
    if (h.constructors === null) {
      lines.push('    (constructors that grew: not listed, this build of native-memwatch has no mw.HeapDiff)');
    } else if (h.constructors.length > 0) {
      lines.push(`    constructors that grew (mw.HeapDiff over ${plural(iterations, 'more iteration')}):`, ...h.constructors);
    } else {
      lines.push(`    constructors that grew (mw.HeapDiff over ${plural(iterations, 'more iteration')}): none`);
    }
  }
  return lines.join('\n');
}

/**
 * Runs fn for opts.warmup calls, then opts.rounds rounds of opts.iterations calls
 * with mw.settle() after each, and reports what kept growing.
 * -> {leaked, message, report}.
 */
async function measureLeak(fn, opts, who) {
  const keep = sample.tagFilter(opts.tags, opts.exclude);
  const withNative = opts.signals.has('native');
  const withFinalizers = opts.signals.has('finalizers');
  const withHeap = opts.signals.has('heap');
  await runTimes(fn, opts.warmup);
  await mw.settle();
  const firstSites = withNative ? sample.nativeBySite(keep) : null;
  const firstFinalizerSites = withFinalizers ? sample.finalizersBySite(keep) : null;
  const native = withNative ? new GrowthTracker(sample.nativeByTag(keep), opts.tolerance.bytes * opts.iterations) : null;
  const finalizers = withFinalizers ? new GrowthTracker(asCounts(sample.finalizersByTag(keep)), 0) : null;
  // V8 ages out bytecode over several GCs: let that happen before the heap's
  // first sample, so it does not read as shrinkage.
  if (withHeap) for (let i = 0; i < 8; i++) mw.gc();
  const heap = withHeap ? new HeapSeries(2 * opts.rounds + 1) : null;
  for (let r = 1; r <= opts.rounds; r++) {
    await runTimes(fn, opts.iterations);
    await mw.settle();
    if (native) native.add(sample.nativeByTag(keep));
    if (finalizers) finalizers.add(asCounts(sample.finalizersByTag(keep)));
    if (heap) heap.push(sample.heapUsed());
  }
  const lastSites = withNative ? sample.nativeBySite(keep) : null;
  const lastFinalizerSites = withFinalizers ? sample.finalizersBySite(keep) : null;
  // The heap is noisy (one-time compilation, bytecode flushing, array growth):
  // when some recent rounds grew but not all, up to opts.rounds more rounds
  // decide. The native and finalizer verdicts use the first rounds only.
  if (heap) {
    const tolerance = heapRoundTolerance(opts);
    const grown = heapRoundsGrown(heap, 1, opts.rounds, tolerance);
    if (grown > 0 && grown < opts.rounds) {
      for (let r = 1; r <= opts.rounds; r++) {
        await runTimes(fn, opts.iterations);
        await mw.settle();
        heap.push(sample.heapUsed());
      }
    }
  }
  const found = { native: [], finalizers: [], heap: null };
  if (native) {
    const growth = sample.siteGrowth(firstSites, lastSites);
    found.native = native.growing().map((g) => {
      const sites = growth.filter((s) => s.tag === g.key);
      return { tag: g.key, bytes: g.bytes, blocks: g.blocks, sites: sites.slice(0, opts.topSites), moreSites: Math.max(0, sites.length - opts.topSites) };
    });
  }
  if (finalizers) {
    found.finalizers = finalizers.growing().map((g) => {
      const sites = finalizerGrowth(firstFinalizerSites, lastFinalizerSites, g.key);
      return { tag: g.key, live: g.bytes, sites: sites.slice(0, opts.topSites), moreSites: Math.max(0, sites.length - opts.topSites) };
    });
  }
  if (heap) found.heap = await heapVerdict(heap, opts, fn);
  const leaked = found.native.length > 0 || found.finalizers.length > 0 || found.heap !== null;
  const report = {
    leaked,
    iterations: opts.iterations,
    rounds: opts.rounds,
    warmup: opts.warmup,
    native: found.native.map((n) => ({
      tag: n.tag,
      bytes: n.bytes,
      blocks: n.blocks,
      sites: n.sites.map((s) => ({ file: s.file, line: s.line, function: s.function, bytes: s.bytesDiff, blocks: s.blocksDiff })),
    })),
    finalizers: found.finalizers.map((f) => ({
      tag: f.tag,
      live: f.live,
      sites: f.sites.map((s) => ({ kind: s.kind, file: s.file, line: s.line, function: s.function, live: s.diff })),
    })),
    heap: found.heap === null ? null : { bytes: found.heap.bytes, rounds: found.heap.roundsRun, roundsGrown: found.heap.roundsGrown },
  };
  return { leaked, message: leaked ? leakMessage(found, opts, who) : null, report };
}

/**
 * Rejects with an AssertionError when native bytes or blocks per tag, live
 * finalizers per tag or (signals: ['heap', ...]) the V8 heap grew in every round.
 * Resolves to the report (leaked: false) otherwise.
 */
async function assertNoLeak(fn, options) {
  validateFunction(fn, 'fn');
  const opts = leakOptions(options, 'options');
  const result = await measureLeak(fn, opts, 'assertNoLeak');
  if (result.leaked) throw failure(result.message, assertNoLeak, result.report);
  return result.report;
}

// ---- limitMemory ----

function siteAllocations(before, after) {
  const out = [];
  for (const [key, row] of after) {
    const old = before.get(key);
    const bytes = row.allocatedBytes - (old ? old.allocatedBytes : 0);
    const blocks = row.allocs - (old ? old.allocs : 0);
    if (bytes > 0 || blocks > 0) out.push({ ...row, bytesDiff: bytes, blocksDiff: blocks });
  }
  out.sort(sample.bySizeThenSite((r) => r.bytesDiff, (r) => r.blocksDiff));
  return out;
}

function tagCounters(id) {
  return countersAt(binding.counters(), id + 1);
}

/** Runs fn once and measures the peak of native bytes above the start. */
async function measureMemory(limit, fn, opts, who) {
  const keep = opts.tag === null ? () => true : (name) => name === opts.tag;
  const before = sample.nativeBySite(keep);
  let region = null;
  let id = -1;
  let start = { currBytes: 0, currBlocks: 0 };
  if (opts.tag === null) {
    region = mw.region();
  } else {
    id = binding.tagLookup(opts.tag);
    if (id >= 0) {
      binding.resetPeak(id);
      start = tagCounters(id);
    }
  }
  let peakBytes;
  let peakBlocks;
  try {
    await runOnce(fn);
  } finally {
    if (region !== null) {
      const d = region.delta();
      region.close();
      peakBytes = d.maxBytes;
      peakBlocks = d.maxBlocks;
    } else {
      if (id < 0) id = binding.tagLookup(opts.tag);
      const c = id >= 0 ? tagCounters(id) : { peakBytes: 0, peakBlocks: 0 };
      peakBytes = Math.max(0, c.peakBytes - start.currBytes);
      peakBlocks = Math.max(0, c.peakBlocks - start.currBlocks);
    }
  }
  const exceeded = peakBytes > limit.bytes;
  const result = { peakBytes, peakBlocks, limit: limit.bytes };
  if (!exceeded) return { exceeded, result, message: null, passMessage: `${who}: native memory${opts.tag === null ? '' : ` of tag ${JSON.stringify(opts.tag)}`} peaked at ${formatSize(peakBytes, limit.unit)}, within the limit of ${formatLimit(limit)}` };
  const sites = siteAllocations(before, sample.nativeBySite(keep));
  const lines = [
    `${who}: native memory${opts.tag === null ? '' : ` of tag ${JSON.stringify(opts.tag)}`} peaked at ${formatSize(peakBytes, limit.unit)} ` +
      `in ${plural(peakBlocks, 'block')} while fn ran, above the limit of ${formatLimit(limit)}`,
  ];
  if (sites.length > 0) {
    lines.push(
      sites.length > opts.topSites
        ? `top ${opts.topSites} of ${grouped(sites.length)} call sites by bytes allocated while fn ran:`
        : 'call sites by bytes allocated while fn ran:',
    );
    for (const s of sites.slice(0, opts.topSites)) {
      lines.push(`  - ${amount(s.bytesDiff, s.blocksDiff, limit.unit)} allocated at ${where(s)} [tag ${JSON.stringify(s.tag)}]`);
    }
  }
  return { exceeded, result, message: lines.join('\n') };
}

/**
 * The peak of tracked native bytes (all tags, or options.tag) while fn runs,
 * above what was outstanding when it started, must be at most `limit`.
 * Resolves to {peakBytes, peakBlocks, limit}.
 */
async function limitMemory(limit, fn, options) {
  const parsed = parseSize(limit, 'limit');
  validateFunction(fn, 'fn');
  const opts = limitOptions(options, 'options');
  const m = await measureMemory(parsed, fn, opts, 'limitMemory');
  if (m.exceeded) throw failure(m.message, limitMemory, m.result);
  return m.result;
}

// ---- limitLeaks ----

/**
 * Bytes still outstanding after fn and mw.settle(), summed over the call sites
 * that hold more than before (or, with options.perSite, at each call site), must
 * be at most `limit`. Resolves to {bytes, blocks, sites: [{file, line, function,
 * tag, bytes, blocks}]}.
 */
async function limitLeaks(limit, fn, options) {
  const parsed = parseSize(limit, 'limit');
  validateFunction(fn, 'fn');
  const opts = limitOptions(options, 'options', { perSite: true });
  const keep = opts.tag === null ? () => true : (name) => name === opts.tag;
  await mw.settle();
  const before = sample.nativeBySite(keep);
  await runOnce(fn);
  await mw.settle();
  const growth = sample.siteGrowth(before, sample.nativeBySite(keep));
  const result = {
    bytes: growth.reduce((sum, s) => sum + s.bytesDiff, 0),
    blocks: growth.reduce((sum, s) => sum + s.blocksDiff, 0),
    sites: growth.map((s) => ({ file: s.file, line: s.line, function: s.function, tag: s.tag, bytes: s.bytesDiff, blocks: s.blocksDiff })),
    limit: parsed.bytes,
  };
  const unit = parsed.unit;
  const scope = opts.tag === null ? '' : ` of tag ${JSON.stringify(opts.tag)}`;
  const siteLine = (s) => `  - ${amount(s.bytesDiff, s.blocksDiff, unit)} at ${where(s)} [tag ${JSON.stringify(s.tag)}]`;
  if (opts.perSite) {
    const over = growth.filter((s) => s.bytesDiff > parsed.bytes);
    if (over.length === 0) return result;
    const lines = [
      `limitLeaks: ${over.length === 1 ? '1 call site still holds' : `${grouped(over.length)} call sites still hold`} native memory${scope} ` +
        `above the limit of ${formatLimit(parsed)} per call site after fn and mw.settle():`,
      ...over.slice(0, opts.topSites).map(siteLine),
    ];
    if (over.length > opts.topSites) lines.push(`  ... and ${plural(over.length - opts.topSites, 'more call site')}`);
    throw failure(lines.join('\n'), limitLeaks, result);
  }
  if (result.bytes <= parsed.bytes) return result;
  const lines = [
    `limitLeaks: ${amount(result.bytes, result.blocks, unit)} of native memory${scope} still outstanding after fn and mw.settle(), ` +
      `above the limit of ${formatLimit(parsed)}`,
    'call sites still holding memory:',
    ...growth.slice(0, opts.topSites).map(siteLine),
  ];
  if (growth.length > opts.topSites) lines.push(`  ... and ${plural(growth.length - opts.topSites, 'more call site')}`);
  throw failure(lines.join('\n'), limitLeaks, result);
}

// ---- allocsPerRun, outstanding ----

/**
 * Go's testing.AllocsPerRun: one warm-up call, then n calls; resolves to the
 * integer averages {blocks, bytes} of native blocks and bytes allocated per call.
 */
async function allocsPerRun(n, fn) {
  validatePositiveInteger(n, 'n');
  validateFunction(fn, 'fn');
  await runOnce(fn);
  const region = mw.region();
  let d;
  try {
    await runTimes(fn, n);
  } finally {
    d = region.delta();
    region.close();
  }
  return { blocks: Math.floor(d.totalBlocks / n), bytes: Math.floor(d.totalBytes / n) };
}

/** {bytes, blocks} outstanding now: of every tag, or of `tag` (a name or an id). */
function outstanding(tag) {
  const values = binding.counters();
  const row = tag === undefined ? 0 : resolveTag(binding, tag, 'tag') + 1;
  const c = countersAt(values, row);
  return { bytes: c.currBytes, blocks: c.currBlocks };
}

// ---- checkEachTest ----

function takeEachSample(opts, keep) {
  const s = {};
  if (opts.signals.has('native')) {
    s.native = sample.nativeByTag(keep);
    s.sites = sample.nativeBySite(keep);
  }
  if (opts.signals.has('finalizers')) {
    s.finalizers = sample.finalizersByTag(keep);
    s.finalizerSites = sample.finalizersBySite(keep);
  }
  if (opts.signals.has('handles')) s.handles = sample.handles(opts.ignoreHandles);
  return s;
}

function eachTestMessage(before, after, opts, name) {
  const unit = opts.tolerance.unit;
  const lines = [];
  if (before.native) {
    const grown = [];
    for (const [tag, now] of after.native) {
      const then = before.native.get(tag) || { bytes: 0, blocks: 0 };
      const bytes = now.bytes - then.bytes;
      const blocks = now.blocks - then.blocks;
      if (bytes > opts.tolerance.bytes || (opts.tolerance.bytes === 0 && bytes === 0 && blocks > 0)) grown.push({ tag, bytes, blocks });
    }
    grown.sort((a, b) => b.bytes - a.bytes || b.blocks - a.blocks || (a.tag < b.tag ? -1 : 1));
    const sites = sample.siteGrowth(before.sites, after.sites);
    for (const g of grown) {
      lines.push(`  native memory of tag ${JSON.stringify(g.tag)}: ${signed(amount(g.bytes, g.blocks, unit))}`);
      const mine = sites.filter((s) => s.tag === g.tag);
      for (const s of mine.slice(0, opts.topSites)) lines.push(`    ${signed(amount(s.bytesDiff, s.blocksDiff, unit))} at ${where(s)}`);
      if (mine.length > opts.topSites) lines.push(`    ... and ${plural(mine.length - opts.topSites, 'more call site')}`);
    }
  }
  if (before.finalizers) {
    const grown = [];
    for (const [tag, live] of after.finalizers) {
      const diff = live - (before.finalizers.get(tag) || 0);
      if (diff > 0) grown.push({ tag, diff });
    }
    grown.sort((a, b) => b.diff - a.diff || (a.tag < b.tag ? -1 : 1));
    for (const g of grown) {
      lines.push(`  live finalizers of tag ${JSON.stringify(g.tag)}: +${grouped(g.diff)}`);
      const mine = finalizerGrowth(before.finalizerSites, after.finalizerSites, g.tag);
      for (const s of mine.slice(0, opts.topSites)) lines.push(`    +${grouped(s.diff)} ${finalizerSiteText(s)}`);
    }
  }
  if (before.handles) {
    const grown = [];
    for (const [type, n] of after.handles) {
      const diff = n - (before.handles.get(type) || 0);
      if (diff > 0) grown.push(`+${grouped(diff)} ${type}`);
    }
    if (grown.length > 0) lines.push(`  active handles (process.getActiveResourcesInfo()): ${grown.join(', ')}`);
  }
  if (lines.length === 0) return null;
  const who = name === null ? 'a test' : `test ${JSON.stringify(name)}`;
  return [`checkEachTest: ${who} left memory outstanding after it ended and mw.settle() ran:`, ...lines].join('\n');
}

function currentTestName(self, arg) {
  try {
    if (arg && arg.task && typeof arg.task.name === 'string') return arg.task.name; // Vitest
    if (arg && typeof arg.name === 'string' && arg.name !== '') return arg.name; // node:test
    if (self && self.currentTest && typeof self.currentTest.fullTitle === 'function') return self.currentTest.fullTitle(); // Mocha
    const expect = globalThis.expect;
    if (expect && typeof expect.getState === 'function') {
      const state = expect.getState(); // Jest
      if (state && typeof state.currentTestName === 'string') return state.currentTestName;
    }
  } catch {
    // A runner that throws from these getters: no name.
  }
  return null;
}

/**
 * Installs a beforeEach and an afterEach hook with the runner's own functions:
 * every test after which native bytes, live finalizers or handles are still
 * outstanding (after mw.settle()) fails with an AssertionError.
 */
function checkEachTest(hooks, options) {
  if (hooks === null || typeof hooks !== 'object' && typeof hooks !== 'function') {
    validateFunction(hooks, 'hooks'); // throws the TypeError naming hooks
  }
  validateFunction(hooks.beforeEach, 'hooks.beforeEach');
  validateFunction(hooks.afterEach, 'hooks.afterEach');
  const opts = eachTestOptions(options, 'options');
  const keep = sample.tagFilter(opts.tags, opts.exclude);
  let before = null;
  // No declared parameters: Mocha and Jest treat a hook with one as taking a
  // done callback. node:test and Vitest pass the test context as arguments[0].
  hooks.beforeEach(async function nativeMemwatchBeforeEach() {
    await mw.settle();
    before = takeEachSample(opts, keep);
  });
  hooks.afterEach(async function nativeMemwatchAfterEach() {
    const name = currentTestName(this, arguments[0]);
    if (before === null) return;
    const then = before;
    before = null;
    await mw.settle();
    const message = eachTestMessage(then, takeEachSample(opts, keep), opts, name);
    if (message !== null) throw failure(message, nativeMemwatchAfterEach, { test: name });
  });
}

// ---- matchers (Jest and Vitest: expect.extend(matchers)) ----

function receivedFunction(received, matcher) {
  if (typeof received !== 'function') {
    validateFunction(received, `expect(received).${matcher}(): received`);
  }
  return received;
}

const matchers = {
  /** expect(fn).not.toLeak(options): assertNoLeak as a matcher (await it). */
  async toLeak(received, options) {
    const fn = receivedFunction(received, 'toLeak');
    const opts = leakOptions(options, 'options');
    const r = await measureLeak(fn, opts, 'expect(fn).not.toLeak()');
    return {
      pass: r.leaked,
      message: () =>
        r.leaked
          ? r.message
          : `expected fn to leak, but nothing kept growing in ${plural(opts.rounds, 'round')} of ${plural(opts.iterations, 'iteration')} (signals: ${[...opts.signals].join(', ')})`,
    };
  },
  /** expect(fn).toAllocateAtMost(limit, {tag}): limitMemory as a matcher (await it). */
  async toAllocateAtMost(received, limit, options) {
    const parsed = parseSize(limit, 'limit');
    const fn = receivedFunction(received, 'toAllocateAtMost');
    const opts = limitOptions(options, 'options');
    const m = await measureMemory(parsed, fn, opts, 'expect(fn).toAllocateAtMost()');
    return {
      pass: !m.exceeded,
      message: () => (m.exceeded ? m.message : `expected fn to allocate more than the limit, but ${m.passMessage.replace(/^[^:]*: /, '')}`),
    };
  },
};

module.exports = {
  assertNoLeak,
  limitMemory,
  limitLeaks,
  allocsPerRun,
  outstanding,
  checkEachTest,
  matchers,
  parseSize: (value) => parseSize(value, 'value').bytes,
};
Object.defineProperty(module.exports, 'default', { value: module.exports, enumerable: false });
