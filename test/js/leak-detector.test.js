'use strict';
// The detector's core (lib/leak-detector.js) fed synthetic series: a pure
// function of its samples, so these verdicts are exact and need no clock.

const test = require('node:test');
const assert = require('node:assert/strict');
const { LeakDetector, DEFAULTS, validateLeakOptions, mannKendall, theilSen, median, normalQuantile } = require('../../lib/leak-detector.js');

const MB = 1024 * 1024;

// A reproducible noise source.
function lcg(seed) {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
}

// Feeds f(seconds, rand) every second from 4 s (the warm-up) to `secs`, all
// readings exact (no confirmation); returns the seconds at which events fired.
function fired(f, { secs = 120, kind = 'heap', options } = {}) {
  const d = new LeakDetector(options);
  const rand = lcg(12345);
  const at = [];
  for (let t = 4000; t <= secs * 1000; t += 1000) {
    if (d.add('s', kind, null, t, f(t / 1000, rand), { exact: true }) === null) continue;
    const v = d.evaluate('s', { needsConfirm: false });
    if (v && v.verdict === 'leak') at.push(t / 1000);
  }
  return at;
}

test('statistics: median, Theil-Sen, Mann-Kendall, normal quantile', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(theilSen([0, 1, 2, 3, 4], [0, 2, 4, 6, 100]), 2, 'one outlier does not move the slope');
  const mk = mannKendall([1, 2, 3, 4, 5]);
  assert.equal(mk.s, 10);
  assert.equal(mk.variance, (5 * 4 * 15) / 18);
  assert.equal(mannKendall([1, 1, 1, 1]).z, 0);
  assert.equal(mannKendall([5, 4, 3, 2, 1]).s, -10);
  assert.ok(Math.abs(normalQuantile(0.99) - 2.326348) < 1e-5);
  assert.ok(Math.abs(normalQuantile(0.5)) < 1e-9);
});

test('healthy shapes raise nothing', () => {
  assert.deepEqual(fired((s, r) => 100 * MB + r() * 200e3), [], 'flat with noise');
  assert.deepEqual(fired((s, r) => 50 * MB + 30 * MB * (1 - Math.exp(-s / 6)) + r() * 100e3), [], 'warm-up that plateaus');
  assert.deepEqual(fired((s, r) => 50 * MB + Math.min(s, 12) * MB + r() * 100e3), [], 'a cache that fills in 12 s');
  assert.deepEqual(fired((s, r) => 50 * MB + (s >= 40 ? 50 * MB : 0) + r() * 100e3), [], 'one large allocation kept');
  assert.deepEqual(fired((s, r) => 50 * MB + (s % 6) * 2 * MB + r() * 100e3), [], 'sawtooth');
  assert.deepEqual(fired((s, r) => 50 * MB + (s % 10 < 1 ? 30 * MB : 0) + r() * 100e3), [], 'periodic burst');
  assert.deepEqual(fired((s, r) => 100 + Math.floor(r() * 50), { kind: 'handles' }), [], 'handles that come and go');
});

test('leaks fire after a full span, then re-arm on the new base', () => {
  // 1 KiB x 200 per second over 100 MiB.
  const at = fired((s, r) => 100 * MB + s * 200 * 1024 + r() * 200e3);
  assert.equal(at[0], 22, 'the first 9 windows of 2 s after the 4 s warm-up');
  assert.ok(at.length >= 5, 'fires again while the growth goes on');
  for (let i = 1; i < at.length; i++) assert.ok(at[i] - at[i - 1] >= 16, 'not again for the same growth: a new span from the new base');
  const late = fired((s, r) => 100 * MB + Math.max(0, s - 60) * 100e3 + r() * 100e3, { secs: 150 });
  assert.ok(late[0] > 60 && late[0] - 60 <= 30, `late leak: ${late}`);
  assert.equal(fired((s) => 3 + Math.floor(s * 5), { kind: 'handles' })[0], 22);
});

test('a leak under the threshold is not reported; the threshold is the larger of minGrowth and minFraction', () => {
  assert.deepEqual(fired((s) => 100 * MB + s * 20e3), [], '20 KB/s: 320 KB per span');
  const options = { minGrowth: 100 * 1024 };
  assert.ok(fired((s) => 1 * MB + s * 20e3, { options }).length > 0);
  assert.deepEqual(fired((s) => 100 * MB + s * 20e3, { options }), [], '1% of 100 MiB still applies');
});

test('confirmation: a suspect needs two exact readings, growing', () => {
  const d = new LeakDetector();
  let t = 0;
  for (; t <= 18000; t += 1000) d.add('h', 'heap', null, t, 10 * MB + t * 100, { exact: t === 0 });
  d.add('h', 'heap', null, t, 10 * MB + t * 100);
  const v = d.evaluate('h');
  assert.equal(v.verdict, 'suspect');
  assert.equal(d.evaluate('h').verdict, 'suspect', 'until confirmed');
  const c1 = d.confirm('h', t, 10 * MB + t * 100);
  assert.equal(c1.verdict, 'confirming');
  assert.equal(d.due('h'), t + 4000, 'a quarter of the span (16 s) later');
  assert.equal(d.evaluate('h'), null, 'not tested again while confirming');
  const leak = d.confirm('h', t + 6000, 10 * MB + (t + 6000) * 100);
  assert.equal(leak.verdict, 'leak');
  assert.equal(leak.evidence.growth, (t + 6000) * 100);
  assert.equal(d.get('h').windows.length, 0, 're-armed');
});

test('confirmation: garbage (the exact value is back at the base) or growth that stopped clears the series', () => {
  const feed = (d) => {
    for (let t = 0; t <= 19000; t += 1000) d.add('h', 'heap', null, t, 10 * MB + t * 100, { exact: t === 0 });
    assert.equal(d.evaluate('h').verdict, 'suspect');
  };
  const a = new LeakDetector();
  feed(a);
  assert.equal(a.confirm('h', 19000, 10 * MB + 1000).verdict, 'cleared');
  assert.equal(a.get('h').windows.length, 0);
  assert.equal(a.get('h').open.exact, true, 'restarts on the exact value');
  const b = new LeakDetector();
  feed(b);
  assert.equal(b.confirm('h', 19000, 12 * MB).verdict, 'confirming');
  assert.equal(b.confirm('h', 25000, 12 * MB + 10).verdict, 'cleared', 'the growth stopped');
  // A cache that filled early in the span: 12 MB up to the first confirmation
  // (0.63 MB/s), then 240 KB in 6 s (40 KB/s): above half the threshold's rate
  // (32 KB/s) but far below half the rate seen before: cleared (once a false
  // alarm of the bounded-cache scenario on a loaded machine).
  const c = new LeakDetector();
  feed(c);
  assert.equal(c.confirm('h', 19000, 22 * MB).verdict, 'confirming');
  assert.equal(c.confirm('h', 25000, 22 * MB + 240 * 1024).verdict, 'cleared', 'the growth slowed down to a trickle');
  // The same trickle after growth at that pace all along is a leak going on.
  const e = new LeakDetector();
  feed(e);
  assert.equal(e.confirm('h', 19000, 10 * MB + 19000 * 100).verdict, 'confirming');
  assert.equal(e.confirm('h', 25000, 10 * MB + 25000 * 100).verdict, 'leak');
});

test('options: defaults, merging and errors naming the option', () => {
  assert.equal(DEFAULTS.interval, 1000);
  assert.equal(DEFAULTS.window, 2000);
  assert.equal(DEFAULTS.samples, 9);
  const o = validateLeakOptions({ minGrowth: 4096, kinds: ['heap', 'heap'] });
  assert.equal(o.minGrowth, 4096);
  assert.deepEqual([...o.kinds], ['heap']);
  assert.equal(o.interval, 1000);
  const bad = [
    [{ interval: '1' }, TypeError, 'options.leak.interval'],
    [{ interval: 5 }, RangeError, 'options.leak.interval'],
    [{ interval: 1.5 }, RangeError, 'options.leak.interval'],
    [{ window: 500 }, RangeError, 'options.leak.window'],
    [{ samples: 5 }, RangeError, 'options.leak.samples'],
    [{ samples: null }, TypeError, 'options.leak.samples'],
    [{ warmup: -1 }, RangeError, 'options.leak.warmup'],
    [{ minGrowth: 0 }, RangeError, 'options.leak.minGrowth'],
    [{ minCount: 1n }, TypeError, 'options.leak.minCount'],
    [{ minFraction: 2 }, RangeError, 'options.leak.minFraction'],
    [{ minFraction: NaN }, RangeError, 'options.leak.minFraction'],
    [{ confidence: 1 }, RangeError, 'options.leak.confidence'],
    [{ forceGc: 1 }, TypeError, 'options.leak.forceGc'],
    [{ workers: 'yes' }, TypeError, 'options.leak.workers'],
    [{ kinds: 'heap' }, TypeError, 'options.leak.kinds'],
    [{ kinds: ['rss'] }, RangeError, 'options.leak.kinds[0]'],
    [{ heapSnapshot: 1 }, TypeError, 'options.leak.heapSnapshot'],
    [{ heapSnapshot: '' }, RangeError, 'options.leak.heapSnapshot'],
    [{ nope: 1 }, TypeError, 'options.leak.nope'],
    [5, TypeError, 'options.leak'],
  ];
  for (const [value, E, name] of bad) {
    assert.throws(() => validateLeakOptions(value), (err) => err instanceof E && err.message.includes(name), JSON.stringify(String(value && Object.keys(value))));
  }
});
