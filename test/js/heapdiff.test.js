'use strict';

// HeapDiff: memwatch's output shape and size strings, exact counts on small
// known heaps, end() twice, HeapDiff() without new, retainer paths, native tags.

const test = require('node:test');
const assert = require('node:assert/strict');

const mw = require('../..');
const { niceSize } = require('../../lib/heap-snapshot.js');

// Kept at module level (a context slot), so live across end() whatever the
// register allocator decides about locals.
const keep = { old: [], added: [] };

class Widget {
  constructor(i) {
    this.i = i;
    this.tag = 'w';
  }
}

function row(result, what) {
  return result.change.details.find((d) => d.what === what);
}

test('memwatch size strings, exactly as its niceSize (C++ iostream %g, round half away)', () => {
  // Expected values printed by memwatch's util.cc niceSize compiled with g++.
  const cases = {
    0: '0 bytes',
    1: '1 bytes',
    '-1': '-1 bytes',
    1024: '1024 bytes',
    1025: '1 kb',
    1536: '1.5 kb',
    '-1536': '-1.5 kb',
    1048576: '1024 kb',
    1048577: '1 mb',
    9070000: '8.65 mb',
    '-9070000': '-8.65 mb',
    2147483647: '2048 mb',
    1234567: '1.18 mb',
    999999: '976.56 kb',
    10485759: '10 mb',
    5000: '4.88 kb',
    1030: '1.01 kb',
    20971: '20.48 kb',
    2048000000: '1953.13 mb',
    '-2048000000': '-1953.13 mb',
  };
  for (const [bytes, text] of Object.entries(cases)) assert.equal(niceSize(Number(bytes)), text, `niceSize(${bytes})`);
  assert.equal(niceSize(1e15), '9.53674e+08 mb');
});

test('the result has memwatch\'s keys, in its order, with consistent size strings', () => {
  const hd = new mw.HeapDiff();
  for (let i = 0; i < 10; i++) keep.added.push(new Widget(i));
  const r = hd.end();
  assert.deepEqual(Object.keys(r), ['before', 'after', 'change']);
  for (const side of [r.before, r.after]) {
    assert.deepEqual(Object.keys(side), ['nodes', 'time', 'size_bytes', 'size']);
    assert.ok(side.time instanceof Date);
    assert.equal(side.size, niceSize(side.size_bytes));
    assert.ok(Number.isInteger(side.nodes) && side.nodes > 1000);
  }
  assert.ok(r.after.time >= r.before.time);
  assert.deepEqual(Object.keys(r.change), ['size_bytes', 'size', 'freed_nodes', 'allocated_nodes', 'details']);
  assert.equal(r.change.size_bytes, r.after.size_bytes - r.before.size_bytes);
  assert.equal(r.change.size, niceSize(r.change.size_bytes));
  for (const d of r.change.details) {
    assert.deepEqual(Object.keys(d), ['what', 'size_bytes', 'size', '+', '-']);
    assert.equal(d.size, niceSize(d.size_bytes));
    assert.ok(d['+'] + d['-'] > 0, `${d.what} has a change`);
  }
  // Rows sorted bytewise by name (memwatch's std::map).
  const names = r.change.details.map((d) => d.what);
  assert.deepEqual(names, [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  keep.added.length = 0;
});

test('exact counts: N instances added and M freed', () => {
  for (let i = 0; i < 50; i++) keep.old.push(new Widget(i));
  // The size of one Widget, from a diff that only adds 7.
  let hd = new mw.HeapDiff();
  for (let i = 0; i < 7; i++) keep.added.push(new Widget(i));
  let r = hd.end();
  const seven = row(r, 'Widget');
  assert.deepEqual([seven['+'], seven['-']], [7, 0]);
  assert.equal(seven.size_bytes % 7, 0);
  const each = seven.size_bytes / 7;
  assert.ok(each > 0);

  hd = new mw.HeapDiff();
  for (let i = 0; i < 30; i++) keep.added.push(new Widget(i));
  keep.old.splice(0, 20);
  r = hd.end();
  const w = row(r, 'Widget');
  assert.equal(w['+'], 30);
  assert.equal(w['-'], 20);
  assert.equal(w.size_bytes, 10 * each);
  assert.equal(w.size, niceSize(10 * each));
  assert.ok(r.change.allocated_nodes >= 30);
  assert.ok(r.change.freed_nodes >= 20);

  // Nothing of the class changes: no row.
  hd = new mw.HeapDiff();
  r = hd.end();
  assert.equal(row(r, 'Widget'), undefined);
  keep.old.length = 0;
  keep.added.length = 0;
});

test('end() twice throws; HeapDiff() without new throws', () => {
  const hd = new mw.HeapDiff();
  hd.end();
  assert.throws(() => hd.end(), { name: 'Error', code: 'ERR_NMW_HEAPDIFF_ENDED', message: 'attempt to end() a HeapDiff that was already ended' });
  assert.throws(() => mw.HeapDiff(), TypeError);
  assert.throws(() => new (mw.HeapDiff())(), TypeError);
});

test('options are checked', () => {
  assert.throws(() => new mw.HeapDiff(5), { name: 'TypeError', message: /options must be an object/ });
  assert.throws(() => new mw.HeapDiff({ bogus: 1 }), { name: 'TypeError', message: 'options.bogus is not a supported option' });
  assert.throws(() => new mw.HeapDiff({ includeNative: 'yes' }), { name: 'TypeError', message: /options.includeNative/ });
  const hd = new mw.HeapDiff();
  assert.throws(() => hd.end({ retainers: { top: 0 } }), { name: 'RangeError', message: /options.retainers.top/ });
  assert.throws(() => hd.end({ retainers: { depth: 1 } }), { message: 'options.retainers.depth is not a supported option' });
  hd.end(); // a rejected end() does not end it
});

class Gizmo {
  constructor() {
    this.x = 1;
  }
}
const holder = { gizmos: [] };

test('end({retainers}) gives sample ids and a shortest path from the root to each sample', () => {
  const hd = new mw.HeapDiff();
  for (let i = 0; i < 2000; i++) holder.gizmos.push(new Gizmo());
  const r = hd.end({ retainers: { top: 50, samples: 2 } });
  for (const d of r.change.details) {
    assert.ok(Array.isArray(d.sampleIds), `${d.what} has sampleIds`);
    assert.equal(d.sampleIds.length, Math.min(d['+'], 2));
  }
  const g = row(r, 'Gizmo');
  assert.equal(g['+'], 2000);
  assert.equal(g.retainers.length, 2);
  for (const { id, path, text } of g.retainers) {
    assert.ok(path.length >= 3);
    assert.equal(path[0].type, 'synthetic'); // the root
    const last = path[path.length - 1];
    assert.equal(last.id, id);
    assert.equal(last.what, 'Gizmo');
    // The array's element, the array under .gizmos, holder under its variable name.
    assert.equal(last.edgeType, 'element');
    assert.ok(path.some((s) => s.edgeType === 'property' && s.edge === 'gizmos'), text);
    assert.ok(path.some((s) => s.edge === 'holder'), text);
    assert.match(text, /^\(root\) @\d+ .* \.gizmos -> Array @\d+ \[\d+\] -> Gizmo @\d+$/);
  }
  holder.gizmos.length = 0;
});

test('includeNative adds the native tags\' change', () => {
  const hd = new mw.HeapDiff({ includeNative: true });
  const r = hd.end();
  assert.deepEqual(Object.keys(r), ['before', 'after', 'change', 'native']);
  assert.equal(typeof r.native.size_bytes, 'number');
  assert.ok(Array.isArray(r.native.details));
});

test('programs written for memwatch-next run unchanged', () => {
  // memwatch-next's README usage.
  const memwatch = mw;
  const hd = new memwatch.HeapDiff();
  const leak = [];
  for (let i = 0; i < 100; i++) leak.push(new Widget(i));
  const diff = hd.end();
  const report = diff.change.details.filter((d) => d.what === 'Widget')[0];
  assert.equal(report['+'] - report['-'], 100 + (leak.length - 100));
});
