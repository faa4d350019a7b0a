'use strict';

// Peaks beside their error bound, and strict-peaks tags (issue 8): exact values
// only, nothing here depends on scheduling.

const test = require('node:test');
const assert = require('node:assert/strict');

const mw = require('../../');
const { loadFixture } = require('../helpers/build.js');
const { freshTag } = require('../helpers/common.js');

const fx = loadFixture();
// One room's growth (64 KiB, 64 blocks) and one fall (twice that) per other
// thread that grew the tag (docs/architecture.md#peaks).
const PER_THREAD_BYTES = 3 * 64 * 1024;
const PER_THREAD_BLOCKS = 3 * 64;

test('a tag grown by one thread: its peaks are exact, the bound is 0', () => {
  const name = freshTag('peaks-one');
  const id = mw.tag(name);
  const handles = fx.allocMany(id, 100, 50);
  fx.freeMany(handles);
  const row = mw.stats().tags[name];
  assert.equal(row.peakBytes, 5000);
  assert.equal(row.peakBlocks, 50);
  assert.equal(row.peakErrorBound, 0);
  assert.equal(row.peakBlocksErrorBound, 0);
  const total = mw.stats().total;
  assert.equal(total.peakErrorBound % PER_THREAD_BYTES, 0);
  assert.equal(total.peakBlocksErrorBound, (total.peakErrorBound / PER_THREAD_BYTES) * PER_THREAD_BLOCKS);
});

test('a tag grown on pool threads: the bound counts the other threads', async () => {
  const name = freshTag('peaks-pool');
  const id = mw.tag(name);
  await fx.churnAsync(id, 32, 1000);
  const row = mw.stats().tags[name];
  assert.equal(row.currBytes, 0);
  assert.ok(row.peakBytes >= 32 && row.peakBytes <= 32 * 4, `peak ${row.peakBytes}`);
  assert.equal(row.peakErrorBound % PER_THREAD_BYTES, 0);
  assert.equal(row.peakBlocksErrorBound, (row.peakErrorBound / PER_THREAD_BYTES) * PER_THREAD_BLOCKS);
});

test('strictPeaks: tags() says so, peaks exact, bound 0, counted like any tag', () => {
  const name = freshTag('peaks-strict');
  const id = mw.tag(name, { strictPeaks: true });
  assert.equal(mw.tags().find((t) => t.id === id).strictPeaks, true);
  assert.equal(mw.tags().find((t) => t.name === 'untagged').strictPeaks, false);
  const a = fx.alloc(id, 100);
  const b = fx.realloc(fx.alloc(id, 50), 3000, id);
  let row = mw.stats().tags[name];
  assert.equal(row.currBytes, 3100);
  assert.equal(row.peakBytes, 3100);
  assert.equal(row.peakBlocks, 2);
  assert.equal(row.peakErrorBound, 0);
  assert.equal(row.peakBlocksErrorBound, 0);
  fx.free(a, id);
  fx.free(b, id);
  row = mw.stats().tags[name];
  assert.equal(row.currBytes, 0);
  assert.equal(row.currBlocks, 0);
  assert.equal(row.frees, 2);
  mw.resetPeak(name);
  assert.equal(mw.stats().tags[name].peakBytes, 0);
});
