'use strict';

// The leak detector's core: a pure function of the samples it is fed (no clock,
// no timers, no V8). lib/events.js feeds it readings and acts on its verdicts
// (forced-GC confirmations, 'leak' events). The algorithm, and why: docs/leak-detection.md.
//
// Per series (one kind + tag), readings are grouped into windows of `window` ms;
// each window keeps its MINIMUM reading (garbage and bursts only ever add to a
// reading, so the minimum is the best upper bound of what is retained). Over the
// last `samples` window minima the series is a leak when all of these hold:
//   1. Mann-Kendall: the minima trend upwards, one-sided, at `confidence`;
//   2. Theil-Sen: the median pairwise slope, over the span, grows by at least
//      max(minGrowth, minFraction * base) (minCount for counts);
//   3. sustained: in each third of the span the Theil-Sen slope is positive and
//      at least half the span's (a plateau, a step, a decelerating warm-up fail);
//   4. spread: no single step between consecutive minima carries more than half
//      of the growth (one large allocation kept is not a trend).
// Minima read without a full GC just before are upper bounds, so for GC-sensitive
// series a passing test is a *suspect*: the caller forces a full GC and calls
// confirm() with the exact value, twice: the first must be above the span's first
// minimum by the threshold (a lower bound of the true growth), the second, a
// quarter of a span later, must show the growth going on. A failed confirmation
// restarts the series on the exact value.

const { typeError, rangeError, describe, validateOptions } = require('./validate.js');

const KINDS = ['heap', 'native', 'finalizers', 'external', 'handles'];
const COUNT_KINDS = new Set(['finalizers', 'handles']);

const DEFAULTS = Object.freeze({
  interval: 1000,
  window: 2000,
  warmup: 4000,
  samples: 9,
  minGrowth: 1024 * 1024,
  minCount: 64,
  minFraction: 0.01,
  confidence: 0.99,
  forceGc: true,
  kinds: KINDS,
  heapSnapshot: false,
  workers: false,
});

// ---- statistics ----

function median(values) {
  const a = Float64Array.from(values).sort();
  const n = a.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? a[(n - 1) / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
}

/** Theil-Sen: the median of the pairwise slopes (y per x unit). */
function theilSen(xs, ys) {
  const slopes = [];
  for (let i = 0; i < xs.length; i++) {
    for (let j = i + 1; j < xs.length; j++) {
      const dx = xs[j] - xs[i];
      if (dx !== 0) slopes.push((ys[j] - ys[i]) / dx);
    }
  }
  return slopes.length === 0 ? 0 : median(slopes);
}

// Standard normal upper quantile (Acklam's rational approximation, |error| < 1.2e-9).
function normalQuantile(p) {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  let q;
  let r;
  if (p < lo) {
    q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) {
    q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  q = p - 0.5;
  r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/**
 * Mann-Kendall trend test on ys (in order): S, its variance with the tie
 * correction, and the continuity-corrected Z. Differences within `tolerance`
 * count as ties.
 */
function mannKendall(ys, tolerance = 0) {
  const n = ys.length;
  let s = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const d = ys[j] - ys[i];
      if (d > tolerance) s++;
      else if (d < -tolerance) s--;
    }
  }
  // Ties: groups of values within tolerance of each other (sorted, chained).
  const sorted = Float64Array.from(ys).sort();
  let tieTerm = 0;
  let run = 1;
  for (let i = 1; i <= n; i++) {
    if (i < n && sorted[i] - sorted[i - 1] <= tolerance) run++;
    else {
      if (run > 1) tieTerm += run * (run - 1) * (2 * run + 5);
      run = 1;
    }
  }
  const variance = (n * (n - 1) * (2 * n + 5) - tieTerm) / 18;
  let z = 0;
  if (variance > 0) {
    if (s > 0) z = (s - 1) / Math.sqrt(variance);
    else if (s < 0) z = (s + 1) / Math.sqrt(variance);
  }
  return { s, variance, z };
}

// ---- options ----

function isPlainObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function positiveInteger(value, name, { min = 1, max = Number.MAX_SAFE_INTEGER } = {}) {
  if (typeof value !== 'number') throw typeError(`${name} must be an integer (received ${describe(value)})`);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw rangeError(`${name} must be an integer from ${min} to ${max} (received ${value})`);
  }
  return value;
}

function fraction(value, name, { openLow, openHigh }) {
  if (typeof value !== 'number') throw typeError(`${name} must be a number (received ${describe(value)})`);
  const low = openLow ? value > 0 : value >= 0;
  const high = openHigh ? value < 1 : value <= 1;
  if (!Number.isFinite(value) || !low || !high) {
    throw rangeError(`${name} must be a number in ${openLow ? '(' : '['}0, 1${openHigh ? ')' : ']'} (received ${value})`);
  }
  return value;
}

/**
 * Checks mw.configure({leak}) and returns the full option set it gives when
 * merged over `current`. Throws TypeError/RangeError naming the option.
 */
function validateLeakOptions(value, name = 'options.leak', current = DEFAULTS) {
  const opts = validateOptions(value, name);
  const out = { ...current };
  for (const key of Object.keys(opts)) {
    if (!Object.prototype.hasOwnProperty.call(DEFAULTS, key)) {
      throw typeError(`${name}.${key} is not a supported option`, 'ERR_INVALID_ARG_VALUE');
    }
  }
  const at = (key) => `${name}.${key}`;
  if (opts.interval !== undefined) out.interval = positiveInteger(opts.interval, at('interval'), { min: 10, max: 2 ** 31 - 1 });
  if (opts.window !== undefined) out.window = positiveInteger(opts.window, at('window'), { min: 10, max: 2 ** 31 - 1 });
  if (opts.warmup !== undefined) out.warmup = positiveInteger(opts.warmup, at('warmup'), { min: 0, max: 2 ** 31 - 1 });
  if (opts.samples !== undefined) out.samples = positiveInteger(opts.samples, at('samples'), { min: 6, max: 1000 });
  if (opts.minGrowth !== undefined) out.minGrowth = positiveInteger(opts.minGrowth, at('minGrowth'));
  if (opts.minCount !== undefined) out.minCount = positiveInteger(opts.minCount, at('minCount'));
  if (opts.minFraction !== undefined) out.minFraction = fraction(opts.minFraction, at('minFraction'), { openLow: false, openHigh: false });
  if (opts.confidence !== undefined) out.confidence = fraction(opts.confidence, at('confidence'), { openLow: true, openHigh: true });
  if (opts.forceGc !== undefined) {
    if (typeof opts.forceGc !== 'boolean') throw typeError(`${at('forceGc')} must be a boolean (received ${describe(opts.forceGc)})`);
    out.forceGc = opts.forceGc;
  }
  if (opts.workers !== undefined) {
    if (typeof opts.workers !== 'boolean') throw typeError(`${at('workers')} must be a boolean (received ${describe(opts.workers)})`);
    out.workers = opts.workers;
  }
  if (opts.kinds !== undefined) {
    if (!Array.isArray(opts.kinds)) {
      throw typeError(`${at('kinds')} must be an array of ${KINDS.map((k) => `'${k}'`).join(', ')} (received ${describe(opts.kinds)})`);
    }
    for (const [i, k] of opts.kinds.entries()) {
      if (typeof k !== 'string') throw typeError(`${at('kinds')}[${i}] must be a string (received ${describe(k)})`);
      if (!KINDS.includes(k)) {
        throw rangeError(`${at('kinds')}[${i}] must be one of ${KINDS.map((x) => `'${x}'`).join(', ')} (received ${JSON.stringify(k)})`, 'ERR_INVALID_ARG_VALUE');
      }
    }
    out.kinds = Object.freeze([...new Set(opts.kinds)]);
  }
  if (opts.heapSnapshot !== undefined) {
    const v = opts.heapSnapshot;
    if (v !== false && typeof v !== 'string') {
      throw typeError(`${at('heapSnapshot')} must be a directory (string) or false (received ${describe(v)})`);
    }
    if (typeof v === 'string' && (v.length === 0 || v.includes('\u0000'))) {
      throw rangeError(`${at('heapSnapshot')} must be a non-empty path without NUL (received ${JSON.stringify(v)})`, 'ERR_INVALID_ARG_VALUE');
    }
    out.heapSnapshot = v;
  }
  if (out.window < out.interval) {
    throw rangeError(`${at('window')} (${out.window}) must be at least ${at('interval')} (${out.interval})`);
  }
  return Object.freeze(out);
}

// ---- the detector ----

class Series {
  constructor(key, kind, tag) {
    this.key = key;
    this.kind = kind;
    this.tag = tag;
    this.reset();
  }

  reset() {
    this.windows = []; // closed: {start, end, min, minAt, exact, aux}
    this.open = null; // the window being filled
    this.suspect = null; // the test passed on upper bounds: first exact reading due
    this.anchor = null; // first exact reading done: {t, value, evidence, due}
  }
}

class LeakDetector {
  constructor(options = DEFAULTS) {
    this.options = options === DEFAULTS ? DEFAULTS : validateLeakOptions(options, 'options', DEFAULTS);
    this.series = new Map();
    this.z = normalQuantile(this.options.confidence);
  }

  setOptions(options) {
    this.options = options;
    this.z = normalQuantile(options.confidence);
  }

  get(key) {
    return this.series.get(key);
  }

  /** Forgets every series (the next readings start afresh). */
  clear() {
    this.series.clear();
  }

  /**
   * One reading of series `key` at time t (ms). exact: read right after a full
   * GC (or a series GC cannot change). aux: kept with the window's minimum
   * (heap space sizes for `top`). Returns the window it closed, if any.
   */
  add(key, kind, tag, t, value, { exact = false, aux = null } = {}) {
    let s = this.series.get(key);
    if (s === undefined) {
      s = new Series(key, kind, tag);
      this.series.set(key, s);
    }
    let closed = null;
    if (s.open !== null && t >= s.open.start + this.options.window) {
      closed = s.open;
      s.windows.push(closed);
      const keep = this.options.samples;
      if (s.windows.length > keep) s.windows.splice(0, s.windows.length - keep);
      s.open = null;
    }
    if (s.open === null) s.open = { start: t, end: t, min: value, minAt: t, exact, aux, readings: 0 };
    const w = s.open;
    w.end = t;
    w.readings++;
    if (value < w.min || (value === w.min && exact && !w.exact)) {
      w.min = value;
      w.minAt = t;
      w.exact = exact;
      w.aux = aux;
    }
    return closed;
  }

  threshold(kind, base) {
    const o = this.options;
    const abs = COUNT_KINDS.has(kind) ? o.minCount : o.minGrowth;
    return Math.max(abs, o.minFraction * Math.max(0, base));
  }

  /**
   * The trend test on the closed windows of `key`: null when it does not pass,
   * else {start, end, base, growth, samples, slope} (growth from the Theil-Sen line).
   */
  test(key) {
    const s = this.series.get(key);
    if (s === undefined) return null;
    const n = s.windows.length;
    if (n < this.options.samples) return null;
    const ws = s.windows;
    const xs = ws.map((w) => w.minAt);
    const ys = ws.map((w) => w.min);
    // An exact reading bounds the minima before it: if the series only grows (the
    // hypothesis under test), nothing retained earlier exceeded it. Clamping
    // removes the garbage a later full GC showed up (natural GCs in between).
    let cap = Infinity;
    for (let i = n - 1; i >= 0; i--) {
      if (ws[i].exact) cap = Math.min(cap, ys[i]);
      else if (ys[i] > cap) ys[i] = cap;
    }
    const span = xs[n - 1] - xs[0];
    if (!(span > 0)) return null;
    const base = median(ys.slice(0, 3));
    const need = this.threshold(s.kind, base);
    // 1. Mann-Kendall, with differences below 1/(4n) of the threshold as ties.
    const mk = mannKendall(ys, need / (4 * n));
    if (mk.z < this.z) return null;
    // 2. Theil-Sen growth over the span.
    const slope = theilSen(xs, ys);
    const growth = slope * span;
    if (!(growth >= need)) return null;
    // 3. Sustained: each third grows, at half the span's slope or more.
    const third = Math.floor(n / 3);
    const cuts = [0, third, n - third, n];
    // Thirds: [0, third), [third, n - third), [n - third, n); the middle is the rest.
    for (let k = 0; k < 3; k++) {
      const a = cuts[k];
      const b = cuts[k + 1];
      if (b - a < 2) return null;
      const seg = theilSen(xs.slice(a, b), ys.slice(a, b));
      if (!(seg > 0) || seg < slope / 2) return null;
    }
    // 4. Spread: no single step carries half the growth.
    const total = ys[n - 1] - ys[0];
    let maxStep = 0;
    for (let i = 1; i < n; i++) maxStep = Math.max(maxStep, ys[i] - ys[i - 1]);
    if (total <= 0 || maxStep > total / 2) return null;
    return { start: xs[0], end: xs[n - 1], base, growth, need, samples: n, slope, first: ws[0], lastThird: ws[n - third] };
  }

  /**
   * After a window closed: 'leak' (with the evidence), 'suspect' (the test passed
   * on minima that are upper bounds: confirm with full GCs) or null. A series in
   * confirmation is not tested again until it ends.
   */
  evaluate(key, { needsConfirm = true } = {}) {
    const s = this.series.get(key);
    if (s === undefined || s.anchor !== null) return null;
    const r = this.test(key);
    if (r === null) return null;
    const last = s.windows[s.windows.length - 1];
    if (!needsConfirm) return this.fire(s, r, last.min, last.minAt);
    s.suspect = r;
    return { verdict: 'suspect', series: s, evidence: r };
  }

  /** When the confirmation of `key` wants its second exact reading (ms), or null. */
  due(key) {
    const s = this.series.get(key);
    return s === undefined || s.anchor === null ? null : s.anchor.due;
  }

  /**
   * An exact value, read right after a forced full GC, for a suspect series.
   * First reading: the growth since the span's first minimum (an upper bound of
   * what was retained then, so this is a lower bound of the growth) must reach
   * the threshold; then a second reading a quarter of a span later must show the
   * growth still going on, at half the threshold's rate or more (a cache that
   * filled, a warm-up that ended, stop here). A failure restarts the series on
   * the exact value.
   */
  confirm(key, t, value) {
    const s = this.series.get(key);
    if (s === undefined) return null;
    if (s.anchor === null) {
      if (s.suspect === null) return null;
      const r = s.suspect;
      s.suspect = null;
      if (value - r.first.min < r.need) return this.clear(s, t, value);
      const span = r.end - r.start;
      s.anchor = { t, value, evidence: r, due: t + Math.max(this.options.window, Math.ceil(span / 4)) };
      return { verdict: 'confirming', series: s, due: s.anchor.due };
    }
    const a = s.anchor;
    const r = a.evidence;
    const span = r.end - r.start;
    const rate = t > a.t ? (value - a.value) / (t - a.t) : 0;
    // At half the rate seen so far or more: the threshold's over the span, and
    // the exact growth from the span's first minimum to the first confirmation
    // (a lower bound of the true rate, the minimum being an upper bound). Growth
    // that stopped early in the span (a cache that filled) shows a high rate
    // up to the first confirmation and next to none after it.
    const before = a.t > r.first.minAt ? (a.value - r.first.min) / (a.t - r.first.minAt) : 0;
    if (!(rate >= 0.5 * Math.max(r.need / span, before))) return this.clear(s, t, value);
    return this.fire(s, { ...r, end: t, growth: value - r.first.min }, value, t);
  }

  clear(s, t, value) {
    s.reset();
    this.add(s.key, s.kind, s.tag, t, value, { exact: true });
    return { verdict: 'cleared', series: s };
  }

  fire(s, r, current, t) {
    const evidence = { ...r, current, end: t, growth: current - r.first.min };
    // Re-arm on the new base: the next event needs a new span of growth.
    s.reset();
    this.add(s.key, s.kind, s.tag, t, current, { exact: true });
    return { verdict: 'leak', series: s, evidence };
  }

  /** Drops series not seen since `t` (tags gone, resource types gone). */
  prune(seen) {
    for (const key of [...this.series.keys()]) if (!seen.has(key)) this.series.delete(key);
  }
}

module.exports = {
  KINDS,
  COUNT_KINDS,
  DEFAULTS,
  LeakDetector,
  validateLeakOptions,
  mannKendall,
  theilSen,
  median,
  normalQuantile,
};
