'use strict';

// mw.sampling: V8's sampling heap profiler through the in-process inspector.
// The workload retains 100 arrays of 16,384 elements (131,088 bytes each,
// 13,108,800 bytes in all), far above the 4 KiB sampling interval, so V8
// samples each of them (a sample's weight is 1 / (1 - e^(-size/interval)), 1
// for these sizes): the ranking and the estimate do not depend on chance or
// on timing. Also: start twice, profile/stop before start, the profile
// object's fields, and argument checks.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');

const mw = require('../..');

const { sampling, SamplingProfile } = mw;
const ARRAYS = 100;
const ELEMENTS = 16384;
const ARRAY_BYTES = ELEMENTS * 8 + 16; // a FixedArray of Smis: header + 8 bytes a slot
const RETAINED = ARRAYS * ARRAY_BYTES;

// The arrays live in a module-level holder so that releasing them is explicit.
const holder = { big: [] };

function retainBig(n) {
  for (let i = 0; i < n; i++) holder.big.push(new Array(ELEMENTS).fill(i));
}

function outerCaller() {
  retainBig(ARRAYS);
}

// Where V8 says a function is: its line (1-based) and the column of its '('.
function whereIs(name) {
  const lines = fs.readFileSync(__filename, 'utf8').split('\n');
  const line = lines.findIndex((l) => l.startsWith(`function ${name}(`));
  return { line: line + 1, column: lines[line].indexOf('(') + 1 };
}

test.afterEach(() => {
  if (sampling.isStarted()) sampling.stop();
});

test('the function that retains the most ranks first in compareTo, with its stack, and is gone after it frees', () => {
  sampling.start({ intervalBytes: 4096 });
  const before = sampling.profile();
  outerCaller();
  const after = sampling.profile();
  const rows = after.compareTo(before);
  const top = rows[0];
  assert.equal(top.function, 'retainBig');
  assert.equal(top.file, __filename);
  const at = whereIs('retainBig');
  assert.equal(top.line, at.line);
  assert.equal(top.column, at.column);
  assert.equal(top.bytesBefore, 0);
  assert.equal(top.growth, top.bytes - top.bytesBefore);
  // Each array is sampled; a stray small sample of the loop may add a few KiB.
  assert.ok(top.growth >= RETAINED && top.growth < RETAINED * 1.01, `estimated ${top.growth} of ${RETAINED} bytes`);
  // The stack, leaf first: retainBig called by outerCaller.
  assert.deepEqual(top.stack.slice(0, 2).map((f) => f.function), ['retainBig', 'outerCaller']);
  assert.deepEqual(top.stack[1], { function: 'outerCaller', file: __filename, ...whereIs('outerCaller') });
  // Every other site grew by less (the profiler's own bookkeeping, a few KiB).
  for (const r of rows.slice(1)) assert.ok(r.growth < RETAINED / 10, `${r.function} grew ${r.growth}`);
  // Sorted by growth, descending.
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].growth >= rows[i].growth);
  // top(): the same site first, by live bytes.
  assert.equal(after.top(1)[0].function, 'retainBig');
  assert.equal(after.top(1).length, 1);

  holder.big = [];
  mw.gc();
  const freed = sampling.profile();
  const shrink = freed.compareTo(after).find((r) => r.function === 'retainBig' && r.line === at.line);
  assert.ok(shrink.growth <= -RETAINED, `retainBig's live bytes went down by ${-shrink.growth}`);
  assert.ok(shrink.bytes < RETAINED / 100, `${shrink.bytes} bytes left`);
  // Sites that shrank come after those that grew.
  const growths = freed.compareTo(after).map((r) => r.growth);
  assert.deepEqual(growths, [...growths].sort((a, b) => b - a));
});

test('stop() returns the final profile; start twice throws; profile and stop need a start', () => {
  assert.equal(sampling.isStarted(), false);
  assert.throws(() => sampling.profile(), { name: 'Error', code: 'ERR_NMW_SAMPLING_NOT_STARTED', message: 'sampling.profile(): sampling is not started (call sampling.start())' });
  assert.throws(() => sampling.stop(), { code: 'ERR_NMW_SAMPLING_NOT_STARTED', message: 'sampling.stop(): sampling is not started (call sampling.start())' });
  sampling.start({ intervalBytes: 8192, stackDepth: 8 });
  assert.equal(sampling.isStarted(), true);
  assert.throws(() => sampling.start(), { name: 'Error', code: 'ERR_NMW_SAMPLING_STARTED', message: 'sampling is already started in this thread' });
  assert.throws(() => sampling.start({ intervalBytes: 1024 }), { code: 'ERR_NMW_SAMPLING_STARTED' });
  assert.equal(sampling.isStarted(), true, 'a refused start leaves sampling on');
  retainBig(2);
  const last = sampling.stop();
  assert.equal(sampling.isStarted(), false);
  assert.ok(last instanceof SamplingProfile);
  assert.deepEqual(Object.keys(last), ['time', 'intervalBytes', 'totalBytes']);
  assert.equal(last.intervalBytes, 8192);
  assert.equal(typeof last.time, 'number');
  assert.ok(last.totalBytes >= 2 * ARRAY_BYTES, `${last.totalBytes} bytes`);
  assert.ok(Object.isFrozen(last));
  // stackDepth 8: no stack is deeper.
  for (const s of last.top(1000)) assert.ok(s.stack.length <= 8, `${s.function}: ${s.stack.length} frames`);
  assert.throws(() => sampling.stop(), { code: 'ERR_NMW_SAMPLING_NOT_STARTED' });
  holder.big = [];

  // Default interval: 512 KiB. A new start after stop is allowed.
  sampling.start();
  const p = sampling.profile();
  assert.equal(p.intervalBytes, 512 * 1024);
  assert.equal(sampling.stop().intervalBytes, 512 * 1024);
});

test('options and arguments are checked', () => {
  assert.throws(() => sampling.start(5), { name: 'TypeError', message: /options must be an object/ });
  assert.throws(() => sampling.start({ interval: 1 }), { name: 'TypeError', message: 'options.interval is not a supported option' });
  assert.throws(() => sampling.start({ intervalBytes: '4096' }), { name: 'TypeError', message: 'options.intervalBytes must be a positive integer (received type string ("4096"))' });
  assert.throws(() => sampling.start({ intervalBytes: 0 }), { name: 'RangeError', message: 'options.intervalBytes must be a positive integer (received 0)' });
  assert.throws(() => sampling.start({ intervalBytes: 1.5 }), { name: 'RangeError' });
  assert.throws(() => sampling.start({ intervalBytes: 2 ** 31 }), { name: 'RangeError', message: 'options.intervalBytes must be below 2^31' });
  assert.throws(() => sampling.start({ stackDepth: 129 }), { name: 'RangeError', message: 'options.stackDepth must be at most 128 (V8 records at most 128 frames)' });
  assert.throws(() => sampling.start({ includeCollected: 1 }), { name: 'TypeError', message: /options\.includeCollected/ });
  assert.equal(sampling.isStarted(), false, 'a rejected start does not start');
  assert.throws(() => new SamplingProfile(), { name: 'TypeError', code: 'ERR_ILLEGAL_CONSTRUCTOR' });
  sampling.start({ intervalBytes: 65536 });
  const p = sampling.profile();
  assert.throws(() => p.compareTo({}), { name: 'TypeError', message: 'older must be a SamplingProfile (from sampling.profile())' });
  assert.throws(() => p.compareTo(null), { name: 'TypeError' });
  assert.throws(() => p.top(0), { name: 'RangeError', message: 'limit must be a positive integer (received 0)' });
  assert.throws(() => p.top('3'), { name: 'TypeError' });
  assert.deepEqual(p.compareTo(p).filter((r) => r.growth !== 0), []);
  assert.ok(Object.isFrozen(sampling));
});

test('methods called on anything but their object: ERR_INVALID_THIS', () => {
  const { top, compareTo } = SamplingProfile.prototype;
  for (const self of [undefined, null, 1, {}, Object.create(SamplingProfile.prototype)]) {
    assert.throws(() => top.call(self), { name: 'TypeError', code: 'ERR_INVALID_THIS', message: /^SamplingProfile#top: this must be a SamplingProfile/ });
    assert.throws(() => compareTo.call(self, self), { name: 'TypeError', code: 'ERR_INVALID_THIS', message: /^SamplingProfile#compareTo: this must be a SamplingProfile/ });
  }
  const { end } = mw.HeapDiff.prototype;
  for (const self of [undefined, null, 'x', {}, Object.create(mw.HeapDiff.prototype)]) {
    assert.throws(() => end.call(self), { name: 'TypeError', code: 'ERR_INVALID_THIS', message: /^HeapDiff#end: this must be a HeapDiff/ });
  }
});
