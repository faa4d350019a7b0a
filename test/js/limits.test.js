'use strict';

// Per-tag limits: an allocation that would take a tag's current bytes over its
// limit returns NULL and counts limitDenied; reaching the limit exactly is allowed.

const test = require('node:test');
const assert = require('node:assert/strict');

const mw = require('../../');
const { loadFixture } = require('../helpers/build.js');
const { freshTag, tagCounters } = require('../helpers/common.js');

const fx = loadFixture();

test('setLimit: allocations past the limit return null and count limitDenied', () => {
  const name = freshTag('limit');
  const id = mw.tag(name);
  assert.equal(mw.stats().tags[name].limit, null);
  mw.setLimit(id, 1000);
  assert.equal(mw.stats().tags[name].limit, 1000);
  assert.equal(mw.tags().find((t) => t.id === id).limit, 1000);

  const a = fx.alloc(id, 600);
  const b = fx.alloc(id, 400); // exactly at the limit
  assert.notEqual(a, null);
  assert.notEqual(b, null);
  assert.equal(fx.alloc(id, 1), null);
  let row = tagCounters(mw, name);
  assert.equal(row.currBytes, 1000);
  assert.equal(row.allocs, 2);
  assert.equal(row.limitDenied, 1);

  fx.free(b, id);
  // Every allocating call is limited: calloc, strdup, aligned, realloc growth.
  assert.equal(fx.calloc(id, 401, 1), null);
  assert.equal(fx.strdup(id, 'x'.repeat(400)), null); // 401 bytes
  assert.equal(fx.aligned(id, 64, 401), null);
  assert.equal(fx.realloc(a, 1001, id), null);
  assert.equal(fx.blockSize(a), 600, 'a refused realloc leaves the block alone');
  row = tagCounters(mw, name);
  assert.equal(row.limitDenied, 5);
  assert.equal(row.currBytes, 600);
  assert.equal(row.allocs, 2);
  assert.equal(row.reallocs, 0);

  const grown = fx.realloc(a, 1000, id); // growth of 400: fits exactly
  assert.notEqual(grown, null);
  const shrunk = fx.realloc(grown, 10, id); // shrinking is always allowed
  assert.notEqual(shrunk, null);
  const s = fx.strdup(id, 'x'.repeat(989)); // 990 bytes: 1000 in all
  assert.notEqual(s, null);
  row = tagCounters(mw, name);
  assert.equal(row.currBytes, 1000);
  assert.equal(row.reallocs, 2);
  assert.equal(row.limitDenied, 5);

  mw.setLimit(id, null);
  assert.equal(mw.stats().tags[name].limit, null);
  const big = fx.alloc(id, 100000);
  assert.notEqual(big, null);
  fx.freeMany([shrunk, s, big]);
  row = tagCounters(mw, name);
  assert.equal(row.currBytes, 0);
  assert.equal(row.limitDenied, 5);
});

test('setLimit by tag name; a limit below the current bytes refuses any growth', () => {
  const name = freshTag('limit-name');
  const id = mw.tag(name);
  const h = fx.alloc(id, 500);
  mw.setLimit(name, 100);
  assert.equal(mw.stats().tags[name].limit, 100);
  assert.equal(fx.alloc(id, 1), null);
  assert.equal(tagCounters(mw, name).limitDenied, 1);
  fx.free(h, id);
  const small = fx.alloc(id, 100);
  assert.notEqual(small, null);
  fx.free(small, id);
  mw.setLimit(name, null);
});

test('a limit given at registration', () => {
  const name = freshTag('limit-reg');
  const id = mw.tag(name, { limit: 100 });
  assert.equal(mw.stats().tags[name].limit, 100);
  assert.equal(fx.alloc(id, 101), null);
  const h = fx.alloc(id, 100);
  assert.notEqual(h, null);
  assert.equal(tagCounters(mw, name).limitDenied, 1);
  fx.free(h, id);
});

test('limits apply only to their own tag', () => {
  const limited = freshTag('limit-own');
  const free = freshTag('limit-free');
  const a = mw.tag(limited);
  const b = mw.tag(free);
  mw.setLimit(a, 0);
  assert.equal(fx.alloc(a, 1), null);
  const h = fx.alloc(b, 5000);
  assert.notEqual(h, null);
  assert.equal(tagCounters(mw, limited).limitDenied, 1);
  assert.equal(tagCounters(mw, free).limitDenied, 0);
  fx.free(h, b);
  mw.setLimit(a, null);
});

test('the C API sets the same limit (NMW_NO_LIMIT removes it)', () => {
  const name = freshTag('limit-c');
  const id = fx.tag(name);
  assert.equal(fx.setLimit(id, 50), 0);
  assert.equal(mw.stats().tags[name].limit, 50);
  assert.equal(fx.alloc(id, 51), null);
  assert.equal(fx.setLimit(id, -1), 0);
  assert.equal(mw.stats().tags[name].limit, null);
  const h = fx.alloc(id, 51);
  assert.notEqual(h, null);
  fx.free(h, id);
  assert.equal(tagCounters(mw, name).limitDenied, 1);
});

test('limits hold on libuv pool threads', async () => {
  const name = freshTag('limit-pool');
  const id = mw.tag(name);
  mw.setLimit(id, 250);
  const handles = await fx.allocAsync(id, 100, 5);
  assert.equal(handles.filter((h) => h !== null).length, 2);
  assert.deepEqual(handles.slice(2), [null, null, null]);
  const row = tagCounters(mw, name);
  assert.equal(row.limitDenied, 3);
  assert.equal(row.currBytes, 200);
  assert.equal(row.allocs, 2);
  fx.freeMany(handles.filter((h) => h !== null));
  mw.setLimit(id, null);
});

test('concurrent allocations cannot together pass a limit', async () => {
  const name = freshTag('limit-race');
  const id = mw.tag(name);
  mw.setLimit(id, 64 * 100);
  const batches = await Promise.all([1, 2, 3, 4].map(() => fx.allocAsync(id, 64, 50)));
  const granted = batches.flat().filter((h) => h !== null);
  assert.equal(granted.length, 100);
  const row = tagCounters(mw, name);
  assert.equal(row.currBytes, 6400);
  assert.equal(row.limitDenied, 100);
  fx.freeMany(granted);
  mw.setLimit(id, null);
});
