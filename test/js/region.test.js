'use strict';

// Regions (counters since a point, with the highest net amount reached in
// between) and resetPeak.

const test = require('node:test');
const assert = require('node:assert/strict');

const mw = require('../../');
const { loadFixture } = require('../helpers/build.js');
const { freshTag, tagCounters } = require('../helpers/common.js');

const fx = loadFixture();

function delta(values) {
  return { totalBlocks: 0, totalBytes: 0, currBlocks: 0, currBytes: 0, maxBlocks: 0, maxBytes: 0, ...values };
}

test('region: exact delta, with the peak reached in between', () => {
  const id = mw.tag(freshTag('region'));
  const r = mw.region();
  assert.deepEqual(r.delta(), delta());
  const a = fx.alloc(id, 1000);
  const b = fx.alloc(id, 500);
  assert.deepEqual(r.delta(), delta({ totalBlocks: 2, totalBytes: 1500, currBlocks: 2, currBytes: 1500, maxBlocks: 2, maxBytes: 1500 }));
  fx.free(a, id);
  const c = fx.alloc(id, 200);
  assert.deepEqual(r.delta(), delta({ totalBlocks: 3, totalBytes: 1700, currBlocks: 2, currBytes: 700, maxBlocks: 2, maxBytes: 1500 }));
  fx.freeMany([b, c]);
  assert.deepEqual(r.delta(), delta({ totalBlocks: 3, totalBytes: 1700, currBlocks: 0, currBytes: 0, maxBlocks: 2, maxBytes: 1500 }));
  r.close();
  assert.equal(r.closed, true);
  assert.throws(() => r.delta(), /closed/);
  r.close(); // a second close does nothing
});

test('region: frees of older blocks go below zero, the max stays 0', () => {
  const id = mw.tag(freshTag('region-neg'));
  const old = fx.alloc(id, 300);
  const r = mw.region();
  fx.free(old, id);
  assert.deepEqual(r.delta(), delta({ currBlocks: -1, currBytes: -300 }));
  const h = fx.alloc(id, 100);
  assert.deepEqual(r.delta(), delta({ totalBlocks: 1, totalBytes: 100, currBlocks: 0, currBytes: -200 }));
  fx.free(h, id);
  r.close();
});

test('region: realloc growth counts as bytes, not blocks', () => {
  const id = mw.tag(freshTag('region-realloc'));
  const r = mw.region();
  const h = fx.alloc(id, 100);
  const g = fx.realloc(h, 300, id);
  assert.deepEqual(r.delta(), delta({ totalBlocks: 1, totalBytes: 300, currBlocks: 1, currBytes: 300, maxBlocks: 1, maxBytes: 300 }));
  const s = fx.realloc(g, 50, id);
  assert.deepEqual(r.delta(), delta({ totalBlocks: 1, totalBytes: 300, currBlocks: 1, currBytes: 50, maxBlocks: 1, maxBytes: 300 }));
  fx.free(s, id);
  r.close();
});

test('region: nested regions each see their own span', () => {
  const id = mw.tag(freshTag('region-nested'));
  const outer = mw.region();
  const a = fx.alloc(id, 100);
  const inner = mw.region();
  const b = fx.alloc(id, 50);
  fx.free(a, id);
  assert.deepEqual(inner.delta(), delta({ totalBlocks: 1, totalBytes: 50, currBlocks: 0, currBytes: -50, maxBlocks: 1, maxBytes: 50 }));
  assert.deepEqual(outer.delta(), delta({ totalBlocks: 2, totalBytes: 150, currBlocks: 1, currBytes: 50, maxBlocks: 2, maxBytes: 150 }));
  inner.close();
  fx.free(b, id);
  assert.deepEqual(outer.delta(), delta({ totalBlocks: 2, totalBytes: 150, currBlocks: 0, currBytes: 0, maxBlocks: 2, maxBytes: 150 }));
  outer.close();
});

test('region: allocations and frees on pool threads', async () => {
  const id = mw.tag(freshTag('region-pool'));
  const r = mw.region();
  const handles = await fx.allocAsync(id, 10, 4);
  assert.deepEqual(r.delta(), delta({ totalBlocks: 4, totalBytes: 40, currBlocks: 4, currBytes: 40, maxBlocks: 4, maxBytes: 40 }));
  await fx.freeAsync(handles);
  assert.deepEqual(r.delta(), delta({ totalBlocks: 4, totalBytes: 40, currBlocks: 0, currBytes: 0, maxBlocks: 4, maxBytes: 40 }));
  r.close();
});

test('region: tracked memory counts too', () => {
  const id = mw.tag(freshTag('region-track'));
  const r = mw.region();
  const h = fx.trackMalloc(id, 64);
  assert.deepEqual(r.delta(), delta({ totalBlocks: 1, totalBytes: 64, currBlocks: 1, currBytes: 64, maxBlocks: 1, maxBytes: 64 }));
  fx.untrackFree(h);
  assert.deepEqual(r.delta(), delta({ totalBlocks: 1, totalBytes: 64, maxBlocks: 1, maxBytes: 64 }));
  r.close();
});

test('resetPeak(tag) resets that tag only; resetPeak() resets every tag and the total', () => {
  const nameA = freshTag('peak-a');
  const nameB = freshTag('peak-b');
  const a = mw.tag(nameA);
  const b = mw.tag(nameB);
  fx.free(fx.alloc(a, 1000), a); // A: peak 1000 / 1, curr 0
  const keep = fx.alloc(b, 500);
  fx.free(fx.alloc(b, 300), b); // B: peak 800 / 2, curr 500 / 1

  let ca = tagCounters(mw, nameA);
  let cb = tagCounters(mw, nameB);
  assert.equal(ca.peakBytes, 1000);
  assert.equal(ca.peakBlocks, 1);
  assert.equal(cb.peakBytes, 800);
  assert.equal(cb.peakBlocks, 2);

  mw.resetPeak(a);
  ca = tagCounters(mw, nameA);
  cb = tagCounters(mw, nameB);
  assert.equal(ca.peakBytes, 0);
  assert.equal(ca.peakBlocks, 0);
  assert.equal(ca.allocs, 1, 'only the peak changes');
  assert.equal(ca.bytesAllocated, 1000);
  assert.equal(cb.peakBytes, 800);
  assert.equal(cb.peakBlocks, 2);

  // By name as well; the peak then follows new allocations.
  const h = fx.alloc(a, 40);
  mw.resetPeak(nameA);
  assert.equal(tagCounters(mw, nameA).peakBytes, 40);
  fx.free(h, a);
  assert.equal(tagCounters(mw, nameA).peakBytes, 40);

  mw.resetPeak();
  ca = tagCounters(mw, nameA);
  cb = tagCounters(mw, nameB);
  assert.equal(ca.peakBytes, 0);
  assert.equal(cb.peakBytes, 500);
  assert.equal(cb.peakBlocks, 1);
  const total = mw.stats().total;
  assert.equal(total.peakBytes, total.currBytes);
  assert.equal(total.peakBlocks, total.currBlocks);

  fx.free(keep, b);
});

test('the peaks are exact after cross-thread frees', async () => {
  const name = freshTag('peak-threads');
  const id = mw.tag(name);
  // Blocks allocated on a pool thread and freed on the JS thread: each thread's
  // own share of the counts is now off by 500 B / 5 blocks, in opposite ways.
  fx.freeMany(await fx.allocAsync(id, 100, 5));
  mw.resetPeak();
  const base = mw.stats().total;
  assert.equal(base.peakBytes, base.currBytes);
  const r = mw.region();
  const first = await fx.allocAsync(id, 10, 4); // +40 B / 4 on a pool thread
  await fx.freeAsync(first);
  fx.free(fx.alloc(id, 64), id); // +64 B / 1 on the JS thread
  const total = mw.stats().total;
  const row = tagCounters(mw, name);
  assert.deepEqual(
    {
      totalPeak: [total.peakBytes - base.currBytes, total.peakBlocks - base.currBlocks],
      tagPeak: [row.peakBytes, row.peakBlocks],
      region: r.delta(),
    },
    {
      totalPeak: [64, 4],
      tagPeak: [64, 4],
      region: delta({ totalBlocks: 5, totalBytes: 104, maxBlocks: 4, maxBytes: 64 }),
    },
  );
  r.close();
});
