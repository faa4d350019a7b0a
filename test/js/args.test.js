'use strict';

// Bad arguments to every public function: wrong types throw TypeError, values
// out of range throw RangeError, and the message names the argument.

const test = require('node:test');
const assert = require('node:assert/strict');

const mw = require('../../');
const { freshTag } = require('../helpers/common.js');

const KNOWN = freshTag('args');
const KNOWN_ID = mw.tag(KNOWN);

// assert.throws with the error class and the argument's name in the message.
function throwsArg(fn, ErrorClass, argName) {
  const nameRe = new RegExp(`(^|[^A-Za-z])${argName.replace('.', '\\.')}([^A-Za-z]|$)`);
  assert.throws(fn, (err) => {
    assert.equal(err.constructor, ErrorClass, `${err.constructor.name}: ${err.message}`);
    assert.match(err.message, nameRe);
    return true;
  });
}

async function rejectsArg(fn, ErrorClass, argName) {
  const nameRe = new RegExp(`(^|[^A-Za-z])${argName.replace('.', '\\.')}([^A-Za-z]|$)`);
  await assert.rejects(fn, (err) => {
    assert.equal(err.constructor, ErrorClass, `${err.constructor.name}: ${err.message}`);
    assert.match(err.message, nameRe);
    return true;
  });
}

// Every exported function must have a case below.
const COVERED = new Set([
  'tag',
  'tags',
  'setLimit',
  'stats',
  'sites',
  'snapshot',
  'resetPeak',
  'region',
  'gc',
  'settle',
  'configure',
  'flushExternal',
  'setExternal',
  'finalizers',
  'attach',
  'attached',
  'explain',
  'HeapDiff',
  'summarizeHeapSnapshot',
  'diffHeapSnapshots',
  'writeHeapSnapshot',
  'heapSnapshotOnSignal',
  'heapSnapshotNearLimit',
  'SamplingProfile',
  'Snapshot',
  'Region',
  'format',
  'table',
  // Events (issue 14): the EventEmitter methods that are own exports.
  'on',
  'once',
  'off',
  'addListener',
  'removeListener',
  'removeAllListeners',
  'listenerCount',
]);

test('every exported function is covered here', () => {
  const functions = Object.keys(mw).filter((key) => typeof mw[key] === 'function');
  assert.deepEqual(functions.filter((key) => !COVERED.has(key)), []);
});

test('tag(name, options)', () => {
  throwsArg(() => mw.tag(), TypeError, 'name');
  throwsArg(() => mw.tag(42), TypeError, 'name');
  throwsArg(() => mw.tag(null), TypeError, 'name');
  throwsArg(() => mw.tag(Symbol('x')), TypeError, 'name');
  throwsArg(() => mw.tag(''), RangeError, 'name');
  throwsArg(() => mw.tag('x'.repeat(65)), RangeError, 'name');
  throwsArg(() => mw.tag('has space'), RangeError, 'name');
  throwsArg(() => mw.tag('caf\u00e9'), RangeError, 'name');
  throwsArg(() => mw.tag('nul\u0000byte'), RangeError, 'name');
  assert.equal(typeof mw.tag('x'.repeat(64)), 'number', '64 characters are allowed');
  assert.equal(typeof mw.tag('A-z0.9_:/-'), 'number', 'every allowed character');

  throwsArg(() => mw.tag(freshTag('a'), 5), TypeError, 'options');
  throwsArg(() => mw.tag(freshTag('a'), null), TypeError, 'options');
  throwsArg(() => mw.tag(freshTag('a'), 'external'), TypeError, 'options');
  throwsArg(() => mw.tag(freshTag('a'), { external: 1 }), TypeError, 'options.external');
  throwsArg(() => mw.tag(freshTag('a'), { external: 'yes' }), TypeError, 'options.external');
  throwsArg(() => mw.tag(freshTag('a'), { limit: '100' }), TypeError, 'options.limit');
  throwsArg(() => mw.tag(freshTag('a'), { limit: 10n }), TypeError, 'options.limit');
  throwsArg(() => mw.tag(freshTag('a'), { limit: -1 }), RangeError, 'options.limit');
  throwsArg(() => mw.tag(freshTag('a'), { limit: 1.5 }), RangeError, 'options.limit');
  throwsArg(() => mw.tag(freshTag('a'), { limit: NaN }), RangeError, 'options.limit');
  throwsArg(() => mw.tag(freshTag('a'), { limit: Infinity }), RangeError, 'options.limit');
  throwsArg(() => mw.tag(freshTag('a'), { limit: 2 ** 53 }), RangeError, 'options.limit');
});

test('a rejected tag() registers nothing', () => {
  const name = freshTag('not-made');
  assert.throws(() => mw.tag(name, { limit: -1 }), RangeError);
  assert.equal(mw.tags().some((t) => t.name === name), false);
});

test('tag() with other flags than the existing tag', () => {
  const name = freshTag('conflict');
  const id = mw.tag(name);
  assert.throws(
    () => mw.tag(name, { external: true }),
    (err) => err instanceof Error && err.id === id && /external/.test(err.message),
  );
});

test('tags(), stats(), snapshot(), region(), gc() take no arguments', () => {
  assert.ok(Array.isArray(mw.tags()));
  assert.equal(typeof mw.stats().total.currBytes, 'number');
  assert.ok(mw.snapshot() instanceof mw.Snapshot);
  const r = mw.region();
  assert.ok(r instanceof mw.Region);
  r.close();
  assert.equal(mw.gc(), undefined);
});

test('setLimit(tag, bytes)', () => {
  throwsArg(() => mw.setLimit(), TypeError, 'tag');
  throwsArg(() => mw.setLimit({}, 1), TypeError, 'tag');
  throwsArg(() => mw.setLimit(null, 1), TypeError, 'tag');
  throwsArg(() => mw.setLimit(1n, 1), TypeError, 'tag');
  throwsArg(() => mw.setLimit(freshTag('unknown'), 1), RangeError, 'tag');
  throwsArg(() => mw.setLimit('bad name', 1), RangeError, 'tag');
  throwsArg(() => mw.setLimit(1e6, 1), RangeError, 'tag');
  throwsArg(() => mw.setLimit(-1, 1), RangeError, 'tag');
  throwsArg(() => mw.setLimit(1.5, 1), RangeError, 'tag');
  throwsArg(() => mw.setLimit(NaN, 1), RangeError, 'tag');

  throwsArg(() => mw.setLimit(KNOWN_ID), TypeError, 'bytes');
  throwsArg(() => mw.setLimit(KNOWN_ID, '1'), TypeError, 'bytes');
  throwsArg(() => mw.setLimit(KNOWN_ID, 1n), TypeError, 'bytes');
  throwsArg(() => mw.setLimit(KNOWN_ID, {}), TypeError, 'bytes');
  throwsArg(() => mw.setLimit(KNOWN_ID, -1), RangeError, 'bytes');
  throwsArg(() => mw.setLimit(KNOWN_ID, 0.5), RangeError, 'bytes');
  throwsArg(() => mw.setLimit(KNOWN_ID, NaN), RangeError, 'bytes');
  throwsArg(() => mw.setLimit(KNOWN_ID, Infinity), RangeError, 'bytes');
  throwsArg(() => mw.setLimit(KNOWN_ID, 2 ** 53), RangeError, 'bytes');
  assert.equal(mw.stats().tags[KNOWN].limit, null, 'the failed calls set nothing');
  mw.setLimit(KNOWN, 0);
  mw.setLimit(KNOWN_ID, 2 ** 53 - 1);
  mw.setLimit(KNOWN_ID, null);
  assert.equal(mw.stats().tags[KNOWN].limit, null);
});

test('sites(options)', () => {
  throwsArg(() => mw.sites(5), TypeError, 'options');
  throwsArg(() => mw.sites(null), TypeError, 'options');
  throwsArg(() => mw.sites('currBytes'), TypeError, 'options');
  throwsArg(() => mw.sites({ tag: {} }), TypeError, 'options.tag');
  throwsArg(() => mw.sites({ tag: true }), TypeError, 'options.tag');
  throwsArg(() => mw.sites({ tag: freshTag('unknown') }), RangeError, 'options.tag');
  throwsArg(() => mw.sites({ tag: 1e6 }), RangeError, 'options.tag');
  throwsArg(() => mw.sites({ limit: '3' }), TypeError, 'options.limit');
  throwsArg(() => mw.sites({ limit: 0 }), RangeError, 'options.limit');
  throwsArg(() => mw.sites({ limit: -1 }), RangeError, 'options.limit');
  throwsArg(() => mw.sites({ limit: 2.5 }), RangeError, 'options.limit');
  throwsArg(() => mw.sites({ limit: NaN }), RangeError, 'options.limit');
  throwsArg(() => mw.sites({ sortBy: 1 }), TypeError, 'options.sortBy');
  throwsArg(() => mw.sites({ sortBy: 'size' }), RangeError, 'options.sortBy');
  throwsArg(() => mw.sites({ sortBy: 'currbytes' }), RangeError, 'options.sortBy');
  assert.ok(Array.isArray(mw.sites()));
  assert.ok(Array.isArray(mw.sites({ tag: KNOWN, limit: Infinity, sortBy: 'totalBlocks' })));
});

test('snapshot().compareTo(older, options) and statistics(groupBy)', () => {
  const snap = mw.snapshot();
  throwsArg(() => snap.compareTo(), TypeError, 'older');
  throwsArg(() => snap.compareTo({}), TypeError, 'older');
  throwsArg(() => snap.compareTo({ rows: [] }), TypeError, 'older');
  throwsArg(() => snap.compareTo(snap, 5), TypeError, 'options');
  throwsArg(() => snap.compareTo(snap, null), TypeError, 'options');
  throwsArg(() => snap.compareTo(snap, { groupBy: 1 }), TypeError, 'options.groupBy');
  throwsArg(() => snap.compareTo(snap, { groupBy: 'file' }), RangeError, 'options.groupBy');
  throwsArg(() => snap.statistics(1), TypeError, 'groupBy');
  throwsArg(() => snap.statistics('lineno'), RangeError, 'groupBy');
  assert.ok(Array.isArray(snap.compareTo(snap, { groupBy: 'site' })));
  assert.throws(() => new mw.Snapshot(), TypeError);
  assert.throws(() => new mw.Region(), TypeError);
});

test('resetPeak(tag)', () => {
  throwsArg(() => mw.resetPeak({}), TypeError, 'tag');
  throwsArg(() => mw.resetPeak(null), TypeError, 'tag');
  throwsArg(() => mw.resetPeak(true), TypeError, 'tag');
  throwsArg(() => mw.resetPeak(freshTag('unknown')), RangeError, 'tag');
  throwsArg(() => mw.resetPeak(''), RangeError, 'tag');
  throwsArg(() => mw.resetPeak(1e6), RangeError, 'tag');
  throwsArg(() => mw.resetPeak(-1), RangeError, 'tag');
  throwsArg(() => mw.resetPeak(0.5), RangeError, 'tag');
  mw.resetPeak(KNOWN);
  mw.resetPeak(KNOWN_ID);
});

test('settle(options)', async () => {
  await rejectsArg(() => mw.settle(5), TypeError, 'options');
  await rejectsArg(() => mw.settle(null), TypeError, 'options');
  await rejectsArg(() => mw.settle({ maxRounds: '2' }), TypeError, 'options.maxRounds');
  await rejectsArg(() => mw.settle({ maxRounds: 0 }), RangeError, 'options.maxRounds');
  await rejectsArg(() => mw.settle({ maxRounds: 1.5 }), RangeError, 'options.maxRounds');
  await rejectsArg(() => mw.settle({ maxRounds: -1 }), RangeError, 'options.maxRounds');
});

test('configure(options)', () => {
  throwsArg(() => mw.configure(5), TypeError, 'options');
  throwsArg(() => mw.configure(null), TypeError, 'options');
  assert.throws(() => mw.configure({ noSuchOption: 1 }), /noSuchOption/);
  throwsArg(() => mw.configure({ external: 5 }), TypeError, 'options.external');
  throwsArg(() => mw.configure({ external: { threshold: 0 } }), RangeError, 'options.external.threshold');
  throwsArg(() => mw.configure({ external: { threshold: 1.5 } }), RangeError, 'options.external.threshold');
  throwsArg(() => mw.configure({ external: { threshold: '1' } }), TypeError, 'options.external.threshold');
  assert.throws(() => mw.configure({ external: { nope: 1 } }), /options\.external\.nope is not a supported option/);
  const before = mw.configure().external.threshold;
  const { leak, ...rest } = mw.configure({ external: { threshold: 4096 } });
  assert.deepEqual(rest, {
    external: { threshold: 4096 },
    finalizers: { captureStacks: false },
  });
  assert.equal(leak.interval, 1000); // issue 14's options: configure({leak}) below
  throwsArg(() => mw.configure({ finalizers: 5 }), TypeError, 'options.finalizers');
  throwsArg(() => mw.configure({ finalizers: { captureStacks: 'yes' } }), TypeError, 'options.finalizers.captureStacks');
  mw.configure({ external: { threshold: before } });
  assert.equal(mw.configure().external.threshold, before);
});

test('finalizers(options), finalizers.live(options), finalizers.onExit(listener)', () => {
  throwsArg(() => mw.finalizers(5), TypeError, 'options');
  throwsArg(() => mw.finalizers({ environment: {} }), TypeError, 'options.environment');
  throwsArg(() => mw.finalizers({ environment: -1 }), RangeError, 'options.environment');
  throwsArg(() => mw.finalizers.live('x'), TypeError, 'options');
  throwsArg(() => mw.finalizers.live({ tag: 'no-such-tag-x' }), RangeError, 'options.tag');
  throwsArg(() => mw.finalizers.live({ olderThanMs: NaN }), RangeError, 'options.olderThanMs');
  throwsArg(() => mw.finalizers.live({ limit: 0 }), RangeError, 'options.limit');
  throwsArg(() => mw.finalizers.onExit(null), TypeError, 'listener');
  assert.deepEqual(mw.finalizers.live({ tag: KNOWN_ID }), []);
});

test('flushExternal()', () => {
  // It takes no arguments; a flush reports everything pending, so a second one at
  // once has nothing left to report.
  mw.flushExternal();
  assert.equal(mw.flushExternal(), 0);
  assert.equal(mw.stats().external.environment.pending, 0);
});

test('setExternal(tag, external)', () => {
  throwsArg(() => mw.setExternal(), TypeError, 'tag');
  throwsArg(() => mw.setExternal({}), TypeError, 'tag');
  throwsArg(() => mw.setExternal(freshTag('never-registered')), RangeError, 'tag');
  const name = freshTag('ext');
  mw.tag(name);
  throwsArg(() => mw.setExternal(name), TypeError, 'external');
  throwsArg(() => mw.setExternal(name, 1), TypeError, 'external');
  mw.setExternal(name, true);
  assert.equal(mw.tags().find((t) => t.name === name).external, true);
  assert.equal(mw.tag(name), mw.tag(name), 'without options.external an existing tag is returned as it is');
  mw.setExternal(name, false);
  assert.equal(mw.tags().find((t) => t.name === name).external, false);
});

test('format(x, options), table(x, options)', () => {
  for (const fn of [mw.format, mw.table]) {
    throwsArg(() => fn(), TypeError, 'x');
    throwsArg(() => fn(null), TypeError, 'x');
    throwsArg(() => fn('stats'), TypeError, 'x');
    throwsArg(() => fn({ a: 1 }), TypeError, 'x');
    throwsArg(() => fn([1, 2]), TypeError, 'x');
    throwsArg(() => fn(mw.stats(), 5), TypeError, 'options');
    throwsArg(() => fn(mw.stats(), { limit: '3' }), TypeError, 'options.limit');
    throwsArg(() => fn(mw.stats(), { limit: 0 }), RangeError, 'options.limit');
    throwsArg(() => fn(mw.stats(), { limit: 1.5 }), RangeError, 'options.limit');
    throwsArg(() => fn(mw.stats(), { lines: 3 }), TypeError, 'options.lines');
  }
});

test('attach(pathOrOptions), attached()', { skip: !(process.platform === 'linux' && ['x64', 'arm64'].includes(process.arch)) }, () => {
  // Only refused calls here: a valid attach() would instrument this process.
  throwsArg(() => mw.attach(5), TypeError, 'options');
  throwsArg(() => mw.attach(null), TypeError, 'options');
  throwsArg(() => mw.attach([]), TypeError, 'options');
  throwsArg(() => mw.attach(''), TypeError, 'path');
  throwsArg(() => mw.attach({ addons: 'x' }), TypeError, 'options.addons');
  throwsArg(() => mw.attach({ addons: [1] }), TypeError, 'options.addons');
  throwsArg(() => mw.attach({ exclude: [''] }), TypeError, 'options.exclude');
  throwsArg(() => mw.attach({ addons: new Array(65).fill('x') }), RangeError, 'options.addons');
  throwsArg(() => mw.attach({ only: [] }), TypeError, 'options.only');
  assert.throws(() => mw.attach('/nonexistent/none.node'), { code: 'ERR_NMW_ATTACH_NOT_LOADED' });
  const state = mw.attached();
  assert.equal(state.enabled, false);
  assert.deepEqual(state.addons, {});
});

test('explain(options)', () => {
  throwsArg(() => mw.explain(5), TypeError, 'options');
  throwsArg(() => mw.explain({ parts: true }), TypeError, 'options.parts');
});

// Only refused calls: each is checked before a snapshot is taken or a handler set.
test('HeapDiff(options), hd.end(options)', () => {
  assert.throws(() => mw.HeapDiff(), TypeError, 'without new');
  throwsArg(() => new mw.HeapDiff(5), TypeError, 'options');
  throwsArg(() => new mw.HeapDiff(null), TypeError, 'options');
  throwsArg(() => new mw.HeapDiff({ native: true }), TypeError, 'options.native');
  throwsArg(() => new mw.HeapDiff({ includeNative: 1 }), TypeError, 'options.includeNative');
  const hd = new mw.HeapDiff();
  throwsArg(() => hd.end('x'), TypeError, 'options');
  throwsArg(() => hd.end({ retainer: true }), TypeError, 'options.retainer');
  throwsArg(() => hd.end({ retainers: 'yes' }), TypeError, 'options.retainers');
  throwsArg(() => hd.end({ retainers: { top: 0 } }), RangeError, 'options.retainers.top');
  throwsArg(() => hd.end({ retainers: { samples: 1.5 } }), RangeError, 'options.retainers.samples');
  throwsArg(() => hd.end({ retainers: { depth: 3 } }), TypeError, 'options.retainers.depth');
  // A refused end() leaves the diff usable.
  assert.equal(typeof hd.end().change.size_bytes, 'number');
});

test('summarizeHeapSnapshot(path), diffHeapSnapshots(pathA, pathB, options)', async () => {
  await rejectsArg(() => mw.summarizeHeapSnapshot(), TypeError, 'path');
  await rejectsArg(() => mw.summarizeHeapSnapshot(''), TypeError, 'path');
  await rejectsArg(() => mw.summarizeHeapSnapshot(7), TypeError, 'path');
  await rejectsArg(() => mw.diffHeapSnapshots(null, 'b'), TypeError, 'pathA');
  await rejectsArg(() => mw.diffHeapSnapshots('a', {}), TypeError, 'pathB');
  await rejectsArg(() => mw.diffHeapSnapshots('a', 'b', 1), TypeError, 'options');
  await rejectsArg(() => mw.diffHeapSnapshots('a', 'b', { retain: true }), TypeError, 'options.retain');
  await rejectsArg(() => mw.diffHeapSnapshots('a', 'b', { retainers: { top: -1 } }), RangeError, 'options.retainers.top');
  await assert.rejects(() => mw.summarizeHeapSnapshot('/nonexistent/x.heapsnapshot'), { code: 'ENOENT' });
});

test('writeHeapSnapshot(path), heapSnapshotOnSignal(signal, options), heapSnapshotNearLimit(options)', () => {
  throwsArg(() => mw.writeHeapSnapshot(''), TypeError, 'path');
  throwsArg(() => mw.writeHeapSnapshot(3), TypeError, 'path');
  throwsArg(() => mw.heapSnapshotOnSignal(15), TypeError, 'signal');
  throwsArg(() => mw.heapSnapshotOnSignal('SIGNOPE'), RangeError, 'signal');
  throwsArg(() => mw.heapSnapshotOnSignal('SIGUSR1'), RangeError, 'signal');
  throwsArg(() => mw.heapSnapshotOnSignal('SIGUSR2', 'dir'), TypeError, 'options');
  throwsArg(() => mw.heapSnapshotOnSignal('SIGUSR2', { folder: '.' }), TypeError, 'options.folder');
  throwsArg(() => mw.heapSnapshotOnSignal('SIGUSR2', { dir: '' }), TypeError, 'options.dir');
  throwsArg(() => mw.heapSnapshotOnSignal('SIGUSR2', { onSnapshot: 'log' }), TypeError, 'options.onSnapshot');
  throwsArg(() => mw.heapSnapshotNearLimit(2), TypeError, 'options');
  throwsArg(() => mw.heapSnapshotNearLimit({ count: '2' }), TypeError, 'options.count');
  throwsArg(() => mw.heapSnapshotNearLimit({ count: 0 }), RangeError, 'options.count');
  throwsArg(() => mw.heapSnapshotNearLimit({ count: 1001 }), RangeError, 'options.count');
  throwsArg(() => mw.heapSnapshotNearLimit({ dir: 5 }), TypeError, 'options.dir');
  throwsArg(() => mw.heapSnapshotNearLimit({ when: 1 }), TypeError, 'options.when');
});

test('sampling.start(options), SamplingProfile: profile.top(limit), profile.compareTo(older)', () => {
  throwsArg(() => new mw.SamplingProfile({ head: {} }, 1), TypeError, 'SamplingProfile');
  throwsArg(() => mw.sampling.start(1), TypeError, 'options');
  throwsArg(() => mw.sampling.start({ interval: 1 }), TypeError, 'options.interval');
  throwsArg(() => mw.sampling.start({ intervalBytes: 0 }), RangeError, 'options.intervalBytes');
  throwsArg(() => mw.sampling.start({ intervalBytes: 2 ** 31 }), RangeError, 'options.intervalBytes');
  throwsArg(() => mw.sampling.start({ stackDepth: 1025 }), RangeError, 'options.stackDepth');
  throwsArg(() => mw.sampling.start({ includeCollected: 1 }), TypeError, 'options.includeCollected');
  assert.throws(() => mw.sampling.profile(), { code: 'ERR_NMW_SAMPLING_NOT_STARTED' });
  assert.equal(mw.sampling.isStarted(), false, 'a refused start() starts nothing');
  mw.sampling.start();
  try {
    const p = mw.sampling.profile();
    throwsArg(() => p.top(0), RangeError, 'limit');
    throwsArg(() => p.top('3'), TypeError, 'limit');
    throwsArg(() => p.compareTo({}), TypeError, 'older');
    throwsArg(() => p.compareTo(null), TypeError, 'older');
  } finally {
    mw.sampling.stop();
  }
});

// ---- events (issue 14) ----

test('on/once/off/addListener/removeListener(event, listener), removeAllListeners(event), listenerCount(event)', () => {
  const fn = () => {};
  for (const name of ['on', 'once', 'off', 'addListener', 'removeListener']) {
    throwsArg(() => mw[name]('leak'), TypeError, 'listener');
    throwsArg(() => mw[name]('leak', 'fn'), TypeError, 'listener');
    throwsArg(() => mw[name](undefined, fn), TypeError, 'event');
    throwsArg(() => mw[name](42, fn), TypeError, 'event');
    throwsArg(() => mw[name]({}, fn), TypeError, 'event');
  }
  throwsArg(() => mw.removeAllListeners(null), TypeError, 'event');
  throwsArg(() => mw.removeAllListeners(1), TypeError, 'event');
  throwsArg(() => mw.listenerCount(), TypeError, 'event');
  throwsArg(() => mw.listenerCount('gc', 5), TypeError, 'listener');
  assert.equal(mw.listenerCount('args-none'), 0);
});

test('configure({leak})', () => {
  throwsArg(() => mw.configure({ leak: 'on' }), TypeError, 'options.leak');
  throwsArg(() => mw.configure({ leak: { interval: 'fast' } }), TypeError, 'options.leak.interval');
  throwsArg(() => mw.configure({ leak: { interval: 0 } }), RangeError, 'options.leak.interval');
  throwsArg(() => mw.configure({ leak: { window: 2 ** 31 } }), RangeError, 'options.leak.window');
  throwsArg(() => mw.configure({ leak: { samples: 2.5 } }), RangeError, 'options.leak.samples');
  throwsArg(() => mw.configure({ leak: { minGrowth: -1 } }), RangeError, 'options.leak.minGrowth');
  throwsArg(() => mw.configure({ leak: { minFraction: '1%' } }), TypeError, 'options.leak.minFraction');
  throwsArg(() => mw.configure({ leak: { confidence: 0 } }), RangeError, 'options.leak.confidence');
  throwsArg(() => mw.configure({ leak: { kinds: ['heap', 7] } }), TypeError, 'options.leak.kinds');
  throwsArg(() => mw.configure({ leak: { heapSnapshot: true } }), TypeError, 'options.leak.heapSnapshot');
  throwsArg(() => mw.configure({ leak: { other: true } }), TypeError, 'options.leak.other');
});

test('tag(name, {strictPeaks})', () => {
  throwsArg(() => mw.tag(freshTag('strict'), { strictPeaks: 1 }), TypeError, 'options.strictPeaks');
  throwsArg(() => mw.tag(freshTag('strict'), { strictPeaks: 'yes' }), TypeError, 'options.strictPeaks');
  throwsArg(() => mw.tag(freshTag('strict'), { strictPeaks: null }), TypeError, 'options.strictPeaks');
  const name = freshTag('strict');
  const id = mw.tag(name, { strictPeaks: true });
  assert.equal(mw.tag(name), id, 'without the option an existing tag is returned as it is');
  assert.equal(mw.tag(name, { strictPeaks: true }), id);
  assert.throws(
    () => mw.tag(name, { strictPeaks: false }),
    (err) => err.code === 'ERR_NMW_TAG_CONFLICT' && err.id === id && err.strictPeaks === true &&
      /strictPeaks: true/.test(err.message),
  );
});
