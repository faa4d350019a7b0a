'use strict';

// mw as an EventEmitter: 'gc' (one per GC, gc-stats' shape), 'stats' (after each
// full GC, memwatch's and @airbnb/node-memwatch's fields and ours) and 'leak'
// (the detector of lib/leak-detector.js over the heap, native tags, finalizers,
// external memory and handles). Nothing is installed while nobody listens: the
// PerformanceObserver, the GC profiler and the sampling timer come with the first
// listener of an event that needs them and go with the last.
// Reference: docs/api.md "Events"; the detector: docs/leak-detection.md.

const EventEmitter = require('node:events');
const fs = require('node:fs');
const path = require('node:path');
const v8 = require('node:v8');
const { PerformanceObserver, performance } = require('node:perf_hooks');
const { isMainThread, threadId } = require('node:worker_threads');
const binding = require('./binding.js');
const { gc } = require('./gc.js');
const { typeError, describe } = require('./validate.js');
const { LeakDetector, DEFAULTS, validateLeakOptions } = require('./leak-detector.js');

// ---- GC types ----

// V8's GCType (the perf entry's detail.kind) -> gc-stats' gctype.
const GCTYPE = { 1: 1, 2: 1, 4: 2, 8: 4, 16: 8 };
const KIND_NAME = { 1: 'scavenge', 2: 'minor-mark-sweep', 4: 'mark-sweep-compact', 8: 'incremental-marking', 16: 'weak-callbacks' };
const PROFILER_TYPE = { 1: 'Scavenge', 2: 'MinorMarkSweep', 4: 'MarkSweepCompact', 8: 'IncrementalMarking', 16: 'ProcessWeakCallbacks' };
const FULL = 4;
const FLAG_FORCED = 4;

// The ten heap fields gc-stats gives, as V8 names them.
const GC_HEAP_FIELDS = [
  'total_heap_size',
  'total_heap_size_executable',
  'used_heap_size',
  'heap_size_limit',
  'total_physical_size',
  'total_available_size',
  'malloced_memory',
  'peak_malloced_memory',
  'number_of_native_contexts',
  'number_of_detached_contexts',
];
// v8.GCProfiler's camelCase names of those it measures inside the GC.
const PROFILED = {
  total_heap_size: 'totalHeapSize',
  total_heap_size_executable: 'totalHeapSizeExecutable',
  used_heap_size: 'usedHeapSize',
  heap_size_limit: 'heapSizeLimit',
  total_physical_size: 'totalPhysicalSize',
  total_available_size: 'totalAvailableSize',
  malloced_memory: 'mallocedMemory',
  peak_malloced_memory: 'peakMallocedMemory',
};

// ---- the emitter ----

const RELEVANT = new Set(['gc', 'stats', 'leak']);
let target = null; // the exported mw object
let sync = () => {};

// Every way of adding or removing a listener ends in one of these, so the
// sources follow the listener counts whatever the caller used (once wrappers,
// removeAllListeners() with no argument included). 'newListener' and
// 'removeListener' listeners would not do: removeAllListeners() removes them too.
class MemwatchEmitter extends EventEmitter {}
for (const name of ['on', 'addListener', 'prependListener', 'prependOnceListener', 'once', 'removeListener', 'off', 'removeAllListeners']) {
  const base = EventEmitter.prototype[name];
  Object.defineProperty(MemwatchEmitter.prototype, name, {
    value: {
      [name](...args) {
        const r = base.apply(this, args);
        if (this === target) sync();
        return r;
      },
    }[name],
    writable: true,
    configurable: true,
  });
}

function checkEvent(event) {
  if (typeof event !== 'string' && typeof event !== 'symbol') {
    throw typeError(`event must be a string or a symbol (received ${describe(event)})`);
  }
}
function checkListener(listener) {
  if (typeof listener !== 'function') {
    throw typeError(`listener must be a function (received ${describe(listener)})`);
  }
}

// The exported functions (own properties of mw, so `import { on }` works too).
const LISTENER_METHODS = ['on', 'once', 'off', 'addListener', 'removeListener'];

function methods(mw) {
  const proto = MemwatchEmitter.prototype;
  const out = {};
  for (const name of LISTENER_METHODS) {
    out[name] = {
      [name](event, listener) {
        checkEvent(event);
        checkListener(listener);
        proto[name].call(mw, event, listener);
        return mw;
      },
    }[name];
  }
  return Object.assign(out, {
    removeAllListeners(event) {
      if (event !== undefined) checkEvent(event);
      if (event === undefined) proto.removeAllListeners.call(mw);
      else proto.removeAllListeners.call(mw, event);
      return mw;
    },
    listenerCount(event, listener) {
      checkEvent(event);
      if (listener !== undefined) checkListener(listener);
      return listener === undefined ? proto.listenerCount.call(mw, event) : proto.listenerCount.call(mw, event, listener);
    },
  });
}

// Calls each listener; one that throws does not stop the others or the caller:
// its error is rethrown on the next tick, an uncaught exception as from Node's
// own emitters.
function emitSafely(event, value) {
  const mw = target;
  if (mw === null || mw.listenerCount(event) === 0) return;
  for (const fn of mw.rawListeners(event)) {
    try {
      fn.call(mw, value);
    } catch (err) {
      process.nextTick(() => {
        throw err;
      });
    }
  }
}

// ---- the GC source: perf entries, with v8.GCProfiler for the inside-the-GC values ----

const counters = {
  scavenge: { count: 0, time: 0 },
  markSweepCompact: { count: 0, time: 0 },
  incrementalMarking: { count: 0, time: 0 },
  weakCallbacks: { count: 0, time: 0 },
  full: 0,
  other: 0,
  handlerNs: 0, // time spent in the observer's callback (bench/events)
};
// memwatch's base estimates, over the used heap after each full GC.
const base = { last: 0, recent: 0, ancient: 0, min: 0, max: 0, compactions: 0 };

let observer = null;
let profiler = null;
let profiled = []; // GCProfiler statistics not yet matched to an entry
let hrOffsetNs = 0;
let lastContexts = null;
let naturalHeapReadings = true;

function startObserver() {
  if (observer !== null) return;
  hrOffsetNs = Number(process.hrtime.bigint()) - performance.now() * 1e6;
  observer = new PerformanceObserver(onEntries);
  observer.observe({ entryTypes: ['gc'] });
}

function stopObserver() {
  if (observer === null) return;
  observer.disconnect();
  observer = null;
}

function startProfiler() {
  if (profiler !== null) return;
  profiler = new v8.GCProfiler();
  profiler.start();
  profiled = [];
}

function stopProfiler() {
  if (profiler === null) return;
  profiler.stop();
  profiler = null;
  profiled = [];
}

function heapFields(stats) {
  const out = {};
  for (const k of GC_HEAP_FIELDS) out[k] = stats[k];
  return out;
}

function snake(name) {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

// The GCProfiler record of the GC of `kind`: the queue is in GC order, like the entries.
function takeProfiled(kind) {
  const want = PROFILER_TYPE[kind];
  for (let i = 0; i < profiled.length; i++) {
    const type = profiled[i].gcType;
    if (type === want || (kind === 2 && /^Minor/.test(type))) {
      const rec = profiled[i];
      profiled.splice(0, i + 1);
      return rec;
    }
  }
  return null;
}

function updateBase(used) {
  // memwatch's recurrences (src/memwatch.cc), with the division it meant to do
  // in floating point: a damped start over the first 10 full GCs, then moving
  // averages over 10 (recent) and up to 120 (ancient) full GCs.
  base.last = used;
  base.compactions += 1;
  const n = base.compactions;
  if (n === 1) {
    base.recent = used;
    base.ancient = used;
  } else if (n < 10) {
    const dr = (n / 10) ** 2.5 * n;
    base.recent = (base.recent * dr + used) / (dr + 1);
    const da = (n / 10) ** 2.4 * n;
    base.ancient = (base.ancient * da + used) / (da + 1);
  } else {
    base.recent = (base.recent * 9 + used) / 10;
    const d = Math.min(120, n);
    base.ancient = (base.ancient * (d - 1) + used) / d;
  }
  if (n >= 3) {
    if (base.min === 0 || used < base.min) base.min = used;
    if (base.max === 0 || used > base.max) base.max = used;
  }
}

// mw.gc() with 'gc'/'stats' listeners: the loop stays alive until the GC's
// entry is delivered, so `memwatch.once('stats', ...); memwatch.gc()` gets its
// event as memwatch's did, even as the program's last act (at most 1 s).
let hold = null;

/** mw.gc(): a full GC, synchronous (memwatch's gc()). */
function userGc() {
  gc();
  if (observer !== null && target !== null && (target.listenerCount('gc') > 0 || target.listenerCount('stats') > 0)) {
    if (hold === null) hold = setTimeout(() => { hold = null; }, 1000);
  }
}

function onEntries(list) {
  const t0 = process.hrtime.bigint();
  try {
    handleEntries(list);
  } finally {
    counters.handlerNs += Number(process.hrtime.bigint() - t0);
  }
}

function handleEntries(list) {
  if (hold !== null) {
    clearTimeout(hold);
    hold = null;
  }
  const entries = list.getEntries();
  if (profiler !== null) {
    const r = profiler.stop();
    profiler.start();
    if (r && Array.isArray(r.statistics)) for (const s of r.statistics) profiled.push(s);
    if (profiled.length > 4096) profiled.splice(0, profiled.length - 4096);
  }
  const now = v8.getHeapStatistics();
  const wantGc = target !== null && target.listenerCount('gc') > 0;
  for (const entry of entries) {
    const detail = entry.detail || {};
    const kind = detail.kind;
    const gctype = GCTYPE[kind] || 0;
    const pause = Math.round(entry.duration * 1e6);
    if (gctype === 1) {
      counters.scavenge.count++;
      counters.scavenge.time += pause;
    } else if (gctype === 2) {
      counters.markSweepCompact.count++;
      counters.markSweepCompact.time += pause;
    } else if (gctype === 4) {
      counters.incrementalMarking.count++;
      counters.incrementalMarking.time += pause;
    } else if (gctype === 8) {
      counters.weakCallbacks.count++;
      counters.weakCallbacks.time += pause;
    }
    if (kind === FULL) counters.full++;
    else counters.other++;
    const rec = profiler !== null ? takeProfiled(kind) : null;
    let after;
    if (rec !== null) {
      after = {};
      for (const k of GC_HEAP_FIELDS) after[k] = PROFILED[k] ? rec.afterGC.heapStatistics[PROFILED[k]] : now[k];
    } else {
      after = heapFields(now);
    }
    if (kind === FULL) updateBase(after.used_heap_size);
    if (wantGc) {
      let before;
      if (rec !== null) {
        before = {};
        for (const k of GC_HEAP_FIELDS) {
          before[k] = PROFILED[k] ? rec.beforeGC.heapStatistics[PROFILED[k]] : lastContexts ? lastContexts[k] : now[k];
        }
      } else {
        before = { ...after };
      }
      const diff = {};
      for (const k of GC_HEAP_FIELDS) diff[k] = after[k] - before[k];
      const startTime = Math.round(hrOffsetNs + entry.startTime * 1e6);
      emitSafely('gc', {
        startTime,
        endTime: startTime + pause,
        pause,
        pauseMS: pause / 1e6,
        gctype,
        kind: KIND_NAME[kind] || String(kind),
        forced: (detail.flags & FLAG_FORCED) !== 0,
        flags: detail.flags || 0,
        measured: rec !== null ? 'gc' : 'after',
        before,
        after,
        diff,
      });
    }
    if (kind === FULL) {
      if (target !== null && target.listenerCount('stats') > 0) emitSafely('stats', buildStats(entry, after, now, pause));
      if (monitor.running && naturalHeapReadings) monitor.naturalFullGc();
    }
  }
  lastContexts = { number_of_native_contexts: now.number_of_native_contexts, number_of_detached_contexts: now.number_of_detached_contexts };
}

function nativeTotals() {
  const list = binding.tagList();
  const values = binding.counters();
  const width = binding.counterFields.length;
  const bytesAt = binding.counterFields.indexOf('currBytes');
  const blocksAt = binding.counterFields.indexOf('currBlocks');
  const tags = {};
  for (const t of list) {
    const row = (t.id + 1) * width;
    Object.defineProperty(tags, t.name, {
      value: { bytes: values[row + bytesAt] || 0, blocks: values[row + blocksAt] || 0 },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return { bytes: values[bytesAt], blocks: values[blocksAt], tags };
}

function finalizerLive() {
  const raw = binding.finStats(-1);
  const tags = {};
  for (const row of raw.rows) {
    Object.defineProperty(tags, row.name, { value: row.live, enumerable: true, writable: true, configurable: true });
  }
  return { live: raw.total.live, tags };
}

function buildStats(entry, after, now, pause) {
  const s = {
    // memwatch
    num_full_gc: counters.full,
    num_inc_gc: counters.other,
    heap_compactions: base.compactions,
    usage_trend: base.ancient ? Math.round(((base.recent - base.ancient) / base.ancient) * 1000) / 10 : 0,
    estimated_base: Math.round(base.recent),
    current_base: base.last,
    min: base.min,
    max: base.max,
    // @airbnb/node-memwatch
    gc_ts: Math.round((performance.timeOrigin + entry.startTime + entry.duration) * 1000),
    gcScavengeCount: counters.scavenge.count,
    gcScavengeTime: counters.scavenge.time,
    gcMarkSweepCompactCount: counters.markSweepCompact.count,
    gcMarkSweepCompactTime: counters.markSweepCompact.time,
    gcIncrementalMarkingCount: counters.incrementalMarking.count,
    gcIncrementalMarkingTime: counters.incrementalMarking.time,
    gcProcessWeakCallbacksCount: counters.weakCallbacks.count,
    gcProcessWeakCallbacksTime: counters.weakCallbacks.time,
  };
  // Every heap statistic in snake_case: read right after the GC, with the
  // values measured inside it where the profiler gave them.
  for (const k of Object.keys(now)) s[snake(k)] = now[k];
  for (const k of Object.keys(after)) s[k] = after[k];
  s.gc_time = pause;
  s.native = nativeTotals();
  s.finalizers = finalizerLive();
  const mu = process.memoryUsage();
  s.external = { v8: now.external_memory ?? mu.external, arrayBuffers: mu.arrayBuffers, reported: reportedExternal() };
  return s;
}

function reportedExternal() {
  const audit = binding.externalAudit();
  return audit === null ? 0 : audit.reported;
}

// ---- the leak monitor: samples on an unref'd timer, the detector, 'leak' ----

const GC_SENSITIVE = new Set(['heap', 'native', 'finalizers', 'external']);
let leakOptions = DEFAULTS;
let snapshotWritten = false;

function tagTop(kind, tag) {
  try {
    if (kind === 'native') {
      return require('./stats.js')
        .sites({ tag, limit: 3 })
        .map((r) => ({ file: r.file, line: r.line, function: r.function, bytes: r.currBytes, blocks: r.currBlocks }));
    }
    if (kind === 'finalizers') {
      const groups = new Map();
      for (const r of binding.finLive(-1, binding.tagLookup(tag), 0, -1, false)) {
        const key = `${r.file}\u0000${r.line}\u0000${r.function}\u0000${r.kind}`;
        const g = groups.get(key) || { file: r.file, line: r.line, function: r.function, kind: r.kind, count: 0 };
        g.count++;
        groups.set(key, g);
      }
      return [...groups.values()].sort((a, b) => b.count - a.count).slice(0, 3);
    }
  } catch {
    return [];
  }
  return [];
}

function niceBytes(n) {
  const a = Math.abs(n);
  if (a >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (a >= 2 ** 20) return `${(n / 2 ** 20).toFixed(2)} MiB`;
  if (a >= 2 ** 10) return `${(n / 2 ** 10).toFixed(2)} KiB`;
  return `${Math.round(n)} bytes`;
}

function niceDuration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7200000) return `${(ms / 60000).toFixed(1)} min`;
  return `${(ms / 3600000).toFixed(1)} h`;
}

const WHAT = {
  heap: () => 'the V8 heap (used after GC)',
  native: (tag) => `native memory of tag ${JSON.stringify(tag)}`,
  finalizers: (tag) => `live finalizer records of tag ${JSON.stringify(tag)}`,
  external: () => 'external memory known to V8',
  handles: (tag) => `active ${tag} resources`,
};

/** The reason string: what grew, by how much, over how long, at what rate (no division by zero). */
function reasonText(kind, tag, growth, ms, samples) {
  const count = kind === 'finalizers' || kind === 'handles';
  const amount = count ? `${growth}` : niceBytes(growth);
  const rate = ms > 0 ? Math.round((growth / ms) * 3600000) : null;
  const rateText = rate === null ? 'rate unknown' : count ? `${Math.round(rate)}/hr` : `${niceBytes(rate)}/hr`;
  return `${WHAT[kind](tag)} grew by ${amount} over ${niceDuration(ms)} (${samples} samples, growing in each third) - ${rateText}`;
}

class Monitor {
  constructor() {
    this.running = false;
    this.timer = null;
    this.detector = null;
    this.driven = null; // {now} when a test drives the clock
    this.lastForced = -Infinity;
    this.forcedGcs = 0;
    this.tickNs = 0; // time spent sampling, forcing and confirming (bench/events)
    this.busy = false;
    this.heapSpaces = null;
  }

  now() {
    return this.driven !== null ? this.driven.now : Date.now();
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.detector = new LeakDetector();
    this.detector.setOptions(leakOptions);
    this.lastForced = -Infinity;
    this.startedAt = this.now();
    this.based = false;
    if (this.driven === null) {
      this.timer = setInterval(() => {
        this.tick().catch((err) =>
          process.nextTick(() => {
            throw err;
          }),
        );
      }, leakOptions.interval);
      this.timer.unref();
    }
  }

  warm(t) {
    return t >= this.startedAt + leakOptions.warmup;
  }

  stop() {
    if (!this.running) return;
    this.running = false;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.detector = null;
  }

  restart() {
    if (!this.running) return;
    this.stop();
    this.start();
  }

  kinds() {
    return new Set(leakOptions.kinds);
  }

  // Every series' current value: key -> {kind, tag, value, aux}.
  read() {
    const kinds = this.kinds();
    const out = new Map();
    if (kinds.has('heap') || kinds.has('external')) {
      const h = v8.getHeapStatistics();
      if (kinds.has('heap')) {
        const sp = spaces();
        out.set('heap', { kind: 'heap', tag: null, value: heapValue(sp), aux: sp });
      }
      if (kinds.has('external')) {
        const ext = h.external_memory ?? process.memoryUsage().external;
        out.set('external', { kind: 'external', tag: null, value: ext, aux: null });
      }
    }
    if (kinds.has('native') && (isMainThread || leakOptions.workers)) {
      const n = nativeTotals();
      for (const name of Object.keys(n.tags)) {
        const v = n.tags[name].bytes;
        if (v > 0 || this.detector.get(`native:${name}`)) out.set(`native:${name}`, { kind: 'native', tag: name, value: v, aux: null });
      }
    }
    if (kinds.has('finalizers')) {
      const f = finalizerLive();
      for (const name of Object.keys(f.tags)) {
        const v = f.tags[name];
        if (v > 0 || this.detector.get(`finalizers:${name}`)) out.set(`finalizers:${name}`, { kind: 'finalizers', tag: name, value: v, aux: null });
      }
    }
    if (kinds.has('handles') && typeof process.getActiveResourcesInfo === 'function') {
      const counts = new Map();
      for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) || 0) + 1);
      for (const [key, s] of this.detector.series) {
        if (s.kind === 'handles' && !counts.has(s.tag)) counts.set(s.tag, 0);
        void key;
      }
      for (const [type, count] of counts) out.set(`handles:${type}`, { kind: 'handles', tag: type, value: count, aux: null });
    }
    return out;
  }

  // Feeds one reading of every series; returns the suspects.
  sample(t, exact) {
    const readings = this.read();
    const suspects = [];
    for (const [key, r] of readings) {
      const closed = this.detector.add(key, r.kind, r.tag, t, r.value, { exact: exact || !GC_SENSITIVE.has(r.kind), aux: r.aux });
      if (closed === null) continue;
      const v = this.detector.evaluate(key, { needsConfirm: leakOptions.forceGc && GC_SENSITIVE.has(r.kind) });
      if (v === null) continue;
      if (v.verdict === 'leak') this.report(v, readings.get(key));
      else if (v.verdict === 'suspect') suspects.push(key);
    }
    return suspects;
  }

  async tick(t = this.now()) {
    if (!this.running || this.busy || !this.warm(t)) return;
    this.busy = true;
    const t0 = process.hrtime.bigint();
    try {
      if (!this.based) {
        // The first reading of every series is exact: one full GC when sampling
        // starts (after the warm-up), so no span starts on garbage.
        this.based = true;
        if (leakOptions.forceGc && leakOptions.kinds.some((k) => GC_SENSITIVE.has(k))) await this.forceGc(t);
        if (this.running) this.sample(t, true);
        return;
      }
      const suspects = this.sample(t, false);
      const due = [];
      for (const key of this.detector.series.keys()) {
        const d = this.detector.due(key);
        if (d !== null && d <= t) due.push(key);
      }
      if ((suspects.length === 0 && due.length === 0) || !this.running) return;
      if (t - this.lastForced < leakOptions.window) return; // at most one forced GC per window
      await this.forceGc(t);
      if (!this.running) return;
      const readings = this.read();
      const confirming = new Set([...suspects, ...due]);
      for (const key of confirming) {
        const r = readings.get(key);
        const v = this.detector.confirm(key, t, r === undefined ? 0 : r.value);
        if (v !== null && v.verdict === 'leak') this.report(v, r);
        else if (v !== null && v.verdict === 'confirming' && r !== undefined) {
          this.detector.add(key, r.kind, r.tag, t, r.value, { exact: true, aux: r.aux });
        }
      }
      for (const [key, r] of readings) {
        if (!confirming.has(key)) this.detector.add(key, r.kind, r.tag, t, r.value, { exact: true, aux: r.aux });
      }
    } finally {
      this.busy = false;
      this.tickNs += Number(process.hrtime.bigint() - t0);
    }
  }

  async forceGc(t) {
    this.lastForced = t;
    this.forcedGcs++;
    gc();
    // Node-API finalizers queued by the GC run from a SetImmediate.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    // A second full GC: V8 releases dead ArrayBuffers' memory on a background
    // thread after a GC and finishes that at the start of the next one, and
    // what the finalizers above released is collected too; without it, on a
    // loaded machine, an exact reading of external memory could still hold
    // buffers that were already garbage (a false alarm of the buffer-churn
    // scenario once under Node 24, most likely this).
    gc();
  }

  naturalFullGc() {
    if (!this.running || !this.kinds().has('heap') || !this.warm(this.now()) || !this.based) return;
    const sp = spaces();
    this.detector.add('heap', 'heap', null, this.now(), heapValue(sp), { exact: true, aux: sp });
  }

  report(v, reading) {
    const s = v.series;
    const e = v.evidence;
    const ms = e.end - e.start;
    const growth = Math.round(e.growth);
    const info = {
      kind: s.kind,
      tag: s.tag,
      start: new Date(e.start),
      end: new Date(e.end),
      growth,
      reason: reasonText(s.kind, s.tag, growth, ms, e.samples),
      samples: e.samples,
      rate: ms > 0 ? (growth / ms) * 1000 : 0,
      unit: s.kind === 'finalizers' || s.kind === 'handles' ? 'count' : 'bytes',
      base: Math.round(e.first.min),
      current: Math.round(e.current),
      threadId,
      top: this.top(s, e, reading),
    };
    if (s.kind === 'heap' && leakOptions.heapSnapshot && !snapshotWritten) {
      snapshotWritten = true;
      try {
        const { writeHeapSnapshot } = require('./heap-snapshot.js');
        fs.mkdirSync(leakOptions.heapSnapshot, { recursive: true });
        info.heapSnapshot = writeHeapSnapshot(path.join(path.resolve(leakOptions.heapSnapshot), path.sep));
      } catch (err) {
        info.heapSnapshot = null;
        info.heapSnapshotError = err.message;
      }
    }
    emitSafely('leak', info);
  }

  top(s, e, reading) {
    if (s.kind === 'native' || s.kind === 'finalizers') return tagTop(s.kind, s.tag);
    if (s.kind === 'handles') return [{ type: s.tag, count: Math.round(e.current) }];
    if (s.kind === 'external') {
      const mu = process.memoryUsage();
      return [
        { what: 'arrayBuffers', bytes: mu.arrayBuffers },
        { what: 'other', bytes: Math.max(0, Math.round(e.current) - mu.arrayBuffers) },
      ].sort((a, b) => b.bytes - a.bytes);
    }
    // heap: the spaces that grew most since the span's first window.
    const now = (reading && reading.aux) || spaces();
    const then = e.first.aux || {};
    return Object.keys(now)
      .map((space) => ({ space, bytes: now[space] - (then[space] || 0) }))
      .filter((r) => r.bytes > 0)
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 3);
  }
}

// The heap series: V8's used_heap_size (memwatch's measure). Between full GCs it
// includes garbage, young and old: an upper bound of what is retained.
function heapValue(sp) {
  let sum = 0;
  for (const name of Object.keys(sp)) sum += sp[name];
  return sum;
}

function spaces() {
  const out = {};
  for (const sp of v8.getHeapSpaceStatistics()) out[sp.space_name] = sp.space_used_size;
  return out;
}

const monitor = new Monitor();

// ---- wiring ----

function syncSources() {
  const mw = target;
  const gcListeners = mw.listenerCount('gc');
  const statsListeners = mw.listenerCount('stats');
  const leakListeners = mw.listenerCount('leak');
  if (gcListeners + statsListeners + leakListeners > 0) startObserver();
  else stopObserver();
  // Inside-the-GC values are for 'gc' listeners (before/after of each GC).
  if (gcListeners > 0) startProfiler();
  else stopProfiler();
  if (leakListeners > 0) monitor.start();
  else monitor.stop();
}

/**
 * Makes `mw` (the exports object) an EventEmitter: its prototype becomes
 * MemwatchEmitter's, the emitter's own state is non-enumerable (the keys stay
 * the API), and on/once/off/... are added as own functions.
 */
function install(mw) {
  for (const key of ['_events', '_eventsCount', '_maxListeners']) {
    Object.defineProperty(mw, key, { value: undefined, writable: true, enumerable: false, configurable: true });
  }
  Object.setPrototypeOf(mw, MemwatchEmitter.prototype);
  EventEmitter.call(mw);
  target = mw;
  sync = syncSources;
  return methods(mw);
}

// ---- configure({leak}) ----

function configOption(value, name) {
  const next = validateLeakOptions(value, name, leakOptions);
  return () => {
    leakOptions = next;
    monitor.restart();
  };
}

function config() {
  return { ...leakOptions, kinds: [...leakOptions.kinds] };
}

// ---- for tests: drive the monitor's clock by hand (no timer, no natural GC readings) ----

const testing = {
  /**
   * Takes the sampling over: no timer; the clock starts at `start` (ms) and
   * advances by leak.interval at each tick(). Natural GC readings are ignored
   * unless naturalGc is true (they arrive when V8 decides: not reproducible).
   */
  drive({ start = Date.now(), naturalGc = false } = {}) {
    const wasRunning = monitor.running;
    monitor.stop();
    monitor.driven = { now: start };
    naturalHeapReadings = naturalGc;
    if (wasRunning) monitor.start();
    return {
      now: () => monitor.driven.now,
      async tick() {
        monitor.driven.now += leakOptions.interval;
        await monitor.tick(monitor.driven.now);
      },
    };
  },
  monitor,
  counters,
  /** Which sources are installed now. */
  sources: () => ({ observer: observer !== null, profiler: profiler !== null, monitor: monitor.running, timer: monitor.timer !== null }),
};

module.exports = { install, configOption, config, testing, gc: userGc, GC_HEAP_FIELDS, reasonText };
