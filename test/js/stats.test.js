'use strict';

// Counters and call sites after the consumer fixture's allocations: every block
// counts the size asked for, frees are credited to the tag and site that
// allocated, whichever thread frees, and realloc counts reallocs.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const mw = require('../../');
const { loadFixture } = require('../helpers/build.js');
const { freshTag, tagCounters, counters, isSite, site } = require('../helpers/common.js');

const fx = loadFixture();

function siteRows(tag, options = {}) {
  return mw.sites({ tag, limit: 1000, ...options });
}

function findSite(rows, name) {
  const found = rows.filter((row) => isSite(row, name));
  assert.equal(found.length, 1, `one row for site ${name} in ${JSON.stringify(rows, null, 1)}`);
  return found[0];
}

test('the fixture imports the table of the loaded native-memwatch', () => {
  assert.equal(fx.importStatus, 'ok');
  // reimport() in the same environment is tested in a child (fallback.test.js).
  const name = freshTag('import');
  const id = mw.tag(name);
  assert.equal(typeof id, 'number');
  assert.equal(fx.tag(name), id, 'C and JS registration give the same id');
  assert.equal(mw.tag(name), id, 'registration is idempotent');
  assert.ok(mw.tags().some((t) => t.name === name && t.id === id));
});

test('alloc and free count the sizes asked for', () => {
  const name = freshTag('alloc');
  const id = mw.tag(name);
  assert.deepEqual(tagCounters(mw, name), counters());

  const a = fx.alloc(id, 100);
  const b = fx.alloc(id, 28);
  assert.equal(typeof a, 'bigint');
  assert.equal(fx.blockSize(a), 100);
  assert.equal(fx.blockSize(b), 28);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ currBytes: 128, currBlocks: 2, peakBytes: 128, peakBlocks: 2, allocs: 2, bytesAllocated: 128 }),
  );

  fx.free(a, id);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({
      currBytes: 28,
      currBlocks: 1,
      peakBytes: 128,
      peakBlocks: 2,
      allocs: 2,
      frees: 1,
      bytesAllocated: 128,
      bytesFreed: 100,
    }),
  );

  fx.free(b); // NMW_ANY_TAG
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ peakBytes: 128, peakBlocks: 2, allocs: 2, frees: 2, bytesAllocated: 128, bytesFreed: 128 }),
  );

  // A zero-byte block is a block.
  const z = fx.alloc(id, 0);
  assert.notEqual(z, null);
  assert.equal(fx.blockSize(z), 0);
  const row = tagCounters(mw, name);
  assert.equal(row.currBlocks, 1);
  assert.equal(row.currBytes, 0);
  assert.equal(row.allocs, 3);
  fx.free(z, id);
  assert.equal(tagCounters(mw, name).currBlocks, 0);
});

test('the total and the overhead move with one block', () => {
  const id = mw.tag(freshTag('total'));
  const before = mw.stats();
  const h = fx.alloc(id, 1000);
  const mid = mw.stats();
  assert.equal(mid.total.currBytes - before.total.currBytes, 1000);
  assert.equal(mid.total.currBlocks - before.total.currBlocks, 1);
  assert.equal(mid.total.allocs - before.total.allocs, 1);
  assert.equal(mid.total.bytesAllocated - before.total.bytesAllocated, 1000);
  // 16-byte header and 8-byte canary per block.
  assert.equal(mid.overhead.blockBytes - before.overhead.blockBytes, 24);
  assert.equal(
    mid.overhead.totalBytes,
    mid.overhead.blockBytes + mid.overhead.metadataBytes + mid.overhead.cacheBytes,
  );

  const a = fx.aligned(id, 64, 10);
  const aligned = mw.stats();
  // Header, canary, the 8-byte prefix and twice the alignment (room to move off a
  // page start).
  assert.equal(aligned.overhead.blockBytes - mid.overhead.blockBytes, 24 + 8 + 2 * 64);
  fx.free(a, id);

  fx.free(h, id);
  const after = mw.stats();
  assert.equal(after.total.currBytes, before.total.currBytes);
  assert.equal(after.total.currBlocks, before.total.currBlocks);
  assert.equal(after.total.frees - before.total.frees, 2);
  assert.equal(after.overhead.blockBytes, before.overhead.blockBytes);
});

test('stats() has the documented shape', () => {
  const s = mw.stats();
  assert.equal(typeof s.time, 'number');
  for (const key of Object.keys(counters())) assert.equal(typeof s.total[key], 'number', `total.${key}`);
  const untagged = s.tags.untagged;
  assert.ok(untagged, 'tag 0 is "untagged"');
  assert.equal(untagged.id, 0);
  assert.equal(untagged.external, false);
  assert.equal(untagged.limit, null);
  for (const key of ['blockBytes', 'metadataBytes', 'totalBytes', 'cacheBytes']) assert.equal(typeof s.overhead[key], 'number');
  for (const key of [
    'doubleFree',
    'foreignFree',
    'overrun',
    'tagMismatch',
    'badTag',
    'untrackUnknown',
    'trackTwice',
    'total',
  ]) {
    assert.equal(typeof s.misuse[key], 'number', `misuse.${key}`);
  }
  assert.ok(Array.isArray(s.misuse.sites));
  assert.equal(typeof s.threads, 'number');
  assert.equal(typeof s.heap.total_heap_size, 'number');
  assert.equal(typeof s.heap.used_heap_size, 'number');
  assert.equal(typeof s.memoryUsage.rss, 'number');
  assert.equal(typeof s.memoryUsage.heapUsed, 'number');

  const name = freshTag('shape');
  const id = mw.tag(name, { external: true, limit: 4096 });
  const row = mw.stats().tags[name];
  assert.equal(row.id, id);
  assert.equal(row.external, true);
  assert.equal(row.limit, 4096);
});

test('calloc counts count * size and zeroes', () => {
  const name = freshTag('calloc');
  const id = mw.tag(name);
  const h = fx.calloc(id, 10, 12); // the fixture checks the zeroes
  assert.equal(fx.blockSize(h), 120);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ currBytes: 120, currBlocks: 1, peakBytes: 120, peakBlocks: 1, allocs: 1, bytesAllocated: 120 }),
  );
  fx.free(h, id);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ peakBytes: 120, peakBlocks: 1, allocs: 1, frees: 1, bytesAllocated: 120, bytesFreed: 120 }),
  );
});

test('realloc grows and shrinks a block, keeping its tag', () => {
  const name = freshTag('realloc');
  const id = mw.tag(name);
  const other = freshTag('realloc-other');
  mw.tag(other);

  const h = fx.alloc(id, 100);
  const grown = fx.realloc(h, 300); // no tag: NMW_ANY_TAG
  assert.notEqual(grown, null);
  assert.equal(fx.blockSize(grown), 300);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ currBytes: 300, currBlocks: 1, peakBytes: 300, peakBlocks: 1, allocs: 1, reallocs: 1, bytesAllocated: 300 }),
  );

  const shrunk = fx.realloc(grown, 50, id);
  assert.equal(fx.blockSize(shrunk), 50);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({
      currBytes: 50,
      currBlocks: 1,
      peakBytes: 300,
      peakBlocks: 1,
      allocs: 1,
      reallocs: 2,
      bytesAllocated: 300,
      bytesFreed: 250,
    }),
  );

  // realloc to 0 frees; realloc of NULL allocates.
  assert.equal(fx.realloc(shrunk, 0, id), null);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ peakBytes: 300, peakBlocks: 1, allocs: 1, frees: 1, reallocs: 2, bytesAllocated: 300, bytesFreed: 300 }),
  );
  const fresh = fx.realloc(null, 40, id);
  assert.equal(fx.blockSize(fresh), 40);
  const row = tagCounters(mw, name);
  assert.equal(row.allocs, 2);
  assert.equal(row.currBytes, 40);
  fx.free(fresh, id);
  assert.deepEqual(tagCounters(mw, other), counters(), 'the other tag saw nothing');
});

test('realloc of an aligned block keeps its alignment and counts', () => {
  const name = freshTag('realloc-aligned');
  const id = mw.tag(name);
  const h = fx.aligned(id, 256, 10);
  assert.equal(h % 256n, 0n);
  const g = fx.realloc(h, 5000, id);
  assert.equal(g % 256n, 0n);
  assert.equal(fx.blockSize(g), 5000);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ currBytes: 5000, currBlocks: 1, peakBytes: 5000, peakBlocks: 1, allocs: 1, reallocs: 1, bytesAllocated: 5000 }),
  );
  fx.free(g, id);
  assert.equal(tagCounters(mw, name).currBytes, 0);
});

test('strdup counts the string and its NUL', () => {
  const name = freshTag('strdup');
  const id = mw.tag(name);
  const a = fx.strdup(id, 'hello'); // 6
  const b = fx.strdup(id, 'h\u00e9llo'); // é is 2 bytes in UTF-8: 7
  const c = fx.strdup(id, ''); // 1
  assert.equal(fx.blockSize(a), 6);
  assert.equal(fx.blockSize(b), 7);
  assert.equal(fx.blockSize(c), 1);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ currBytes: 14, currBlocks: 3, peakBytes: 14, peakBlocks: 3, allocs: 3, bytesAllocated: 14 }),
  );
  fx.freeMany([a, b, c]);
  assert.equal(tagCounters(mw, name).currBytes, 0);
  assert.equal(tagCounters(mw, name).frees, 3);
});

test('aligned allocations are aligned and count the size asked for', () => {
  const name = freshTag('aligned');
  const id = mw.tag(name);
  const handles = [];
  for (const alignment of [8, 16, 32, 64, 4096]) {
    const h = fx.aligned(id, alignment, 100);
    assert.notEqual(h, null, `alignment ${alignment}`);
    assert.equal(h % BigInt(alignment), 0n, `alignment ${alignment}`);
    assert.equal(fx.blockSize(h), 100);
    handles.push(h);
  }
  // Not a power of two: refused, nothing counted.
  assert.equal(fx.aligned(id, 24, 100), null);
  assert.equal(fx.aligned(id, 0, 100), null);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ currBytes: 500, currBlocks: 5, peakBytes: 500, peakBlocks: 5, allocs: 5, bytesAllocated: 500 }),
  );
  fx.freeMany(handles);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ peakBytes: 500, peakBlocks: 5, allocs: 5, frees: 5, bytesAllocated: 500, bytesFreed: 500 }),
  );
});

test('leaked blocks stay counted', () => {
  const name = freshTag('leak');
  const id = mw.tag(name);
  fx.leak(id, 33, 3);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ currBytes: 99, currBlocks: 3, peakBytes: 99, peakBlocks: 3, allocs: 3, bytesAllocated: 99 }),
  );
});

test('sites() lists the fixture call sites with exact counts and sort orders', () => {
  const name = freshTag('sites');
  const id = mw.tag(name);
  // alloc: 3 x 100, one freed.       curr 200 B / 2, total 300 B / 3
  const a = [fx.alloc(id, 100), fx.alloc(id, 100), fx.alloc(id, 100)];
  fx.free(a[0], id);
  // calloc: 1 x 1000.                curr 1000 B / 1, total 1000 B / 1
  fx.calloc(id, 1, 1000);
  // strdup: 4 x "abc".               curr 16 B / 4, total 16 B / 4
  for (let i = 0; i < 4; i++) fx.strdup(id, 'abc');
  // allocMany: 6 x 10, one freed.    curr 50 B / 5, total 60 B / 6
  const many = fx.allocMany(id, 10, 6);
  assert.equal(many.length, 6);
  fx.freeMany([many[0]]);

  const rows = siteRows(id);
  assert.equal(rows.length, 4, JSON.stringify(rows));
  for (const row of rows) {
    assert.equal(row.tag, name);
    assert.equal(path.basename(row.file), 'work.c');
  }
  const expectSite = (siteName, values) => {
    const row = findSite(rows, siteName);
    assert.equal(row.function, site(siteName).function);
    assert.equal(row.line, site(siteName).line);
    for (const [key, value] of Object.entries(values)) assert.equal(row[key], value, `${siteName}.${key}`);
  };
  expectSite('alloc', { currBytes: 200, currBlocks: 2, totalBytes: 300, totalBlocks: 3, frees: 1, reallocs: 0, bytesFreed: 100 });
  expectSite('calloc', { currBytes: 1000, currBlocks: 1, totalBytes: 1000, totalBlocks: 1, frees: 0, reallocs: 0, bytesFreed: 0 });
  expectSite('strdup', { currBytes: 16, currBlocks: 4, totalBytes: 16, totalBlocks: 4, frees: 0, reallocs: 0, bytesFreed: 0 });
  expectSite('allocMany', { currBytes: 50, currBlocks: 5, totalBytes: 60, totalBlocks: 6, frees: 1, reallocs: 0, bytesFreed: 10 });

  const order = (sortBy) =>
    siteRows(id, { sortBy }).map((row) => ['alloc', 'calloc', 'strdup', 'allocMany'].find((s) => isSite(row, s)));
  assert.deepEqual(order('currBytes'), ['calloc', 'alloc', 'allocMany', 'strdup']);
  assert.deepEqual(order('currBlocks'), ['allocMany', 'strdup', 'alloc', 'calloc']);
  assert.deepEqual(order('totalBytes'), ['calloc', 'alloc', 'allocMany', 'strdup']);
  assert.deepEqual(order('totalBlocks'), ['allocMany', 'strdup', 'alloc', 'calloc']);
  // The default order is currBytes; limit cuts the list.
  assert.deepEqual(
    mw.sites({ tag: id, limit: 2 }).map((row) => row.currBytes),
    [1000, 200],
  );
  // By name as well as by id.
  assert.equal(mw.sites({ tag: name, limit: 100 }).length, 4);
});

test('a realloc is credited to the site that allocated the block', () => {
  const name = freshTag('realloc-site');
  const id = mw.tag(name);
  const h = fx.alloc(id, 100);
  const g = fx.realloc(h, 400, id);
  const rows = siteRows(id);
  assert.equal(rows.length, 1, JSON.stringify(rows));
  const row = findSite(rows, 'alloc');
  assert.equal(row.currBytes, 400);
  assert.equal(row.currBlocks, 1);
  assert.equal(row.totalBytes, 400);
  assert.equal(row.totalBlocks, 1);
  assert.equal(row.reallocs, 1);
  fx.free(g, id);
});

test('allocations on a libuv pool thread, freed there', async () => {
  const name = freshTag('pool');
  const id = mw.tag(name);
  const handles = await fx.allocAsync(id, 64, 10);
  assert.equal(handles.length, 10);
  for (const h of handles) assert.equal(fx.blockSize(h), 64);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ currBytes: 640, currBlocks: 10, peakBytes: 640, peakBlocks: 10, allocs: 10, bytesAllocated: 640 }),
  );
  const row = findSite(siteRows(id), 'poolAlloc');
  assert.equal(row.totalBlocks, 10);

  await fx.freeAsync(handles);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ peakBytes: 640, peakBlocks: 10, allocs: 10, frees: 10, bytesAllocated: 640, bytesFreed: 640 }),
  );
  const rows = siteRows(id);
  assert.equal(rows.length, 1, 'the frees are credited to the allocating site');
  assert.equal(findSite(rows, 'poolAlloc').frees, 10);
  assert.equal(findSite(rows, 'poolAlloc').currBytes, 0);
});

test('allocated on the JS thread, freed on a pool thread', async () => {
  const name = freshTag('js-to-pool');
  const id = mw.tag(name);
  const handles = fx.allocMany(id, 48, 20);
  await fx.freeAsync(handles);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ peakBytes: 960, peakBlocks: 20, allocs: 20, frees: 20, bytesAllocated: 960, bytesFreed: 960 }),
  );
  const rows = siteRows(id);
  assert.equal(rows.length, 1);
  const row = findSite(rows, 'allocMany');
  assert.equal(row.frees, 20);
  assert.equal(row.bytesFreed, 960);
  assert.equal(row.currBlocks, 0);
});

test('allocated on a pool thread, freed on the JS thread', async () => {
  const name = freshTag('pool-to-js');
  const id = mw.tag(name);
  const handles = await fx.allocAsync(id, 24, 30);
  fx.freeMany(handles);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ peakBytes: 720, peakBlocks: 30, allocs: 30, frees: 30, bytesAllocated: 720, bytesFreed: 720 }),
  );
  const rows = siteRows(id);
  assert.equal(rows.length, 1);
  const row = findSite(rows, 'poolAlloc');
  assert.equal(row.frees, 30);
  assert.equal(row.currBytes, 0);
});

test('alloc/free churn on a pool thread', async () => {
  const name = freshTag('churn');
  const id = mw.tag(name);
  await fx.churnAsync(id, 32, 1000);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ peakBytes: 32, peakBlocks: 1, allocs: 1000, frees: 1000, bytesAllocated: 32000, bytesFreed: 32000 }),
  );
  const row = findSite(siteRows(id), 'churnAlloc');
  assert.equal(row.totalBlocks, 1000);
  assert.equal(row.frees, 1000);
});

test('churn on four pool threads at once', async () => {
  const name = freshTag('churn4');
  const id = mw.tag(name);
  const kept = fx.allocMany(id, 7, 3);
  await Promise.all([1, 2, 3, 4].map(() => fx.churnAsync(id, 16, 5000)));
  const row = tagCounters(mw, name);
  assert.equal(row.allocs, 3 + 20000);
  assert.equal(row.frees, 20000);
  assert.equal(row.bytesAllocated, 21 + 320000);
  assert.equal(row.bytesFreed, 320000);
  assert.equal(row.currBytes, 21);
  assert.equal(row.currBlocks, 3);
  fx.freeMany(kept);
  assert.equal(tagCounters(mw, name).currBytes, 0);
});

test('track and untrack count memory from libc', () => {
  const name = freshTag('track');
  const id = mw.tag(name);
  const h = fx.trackMalloc(id, 500);
  const g = fx.trackMalloc(id, 12);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ currBytes: 512, currBlocks: 2, peakBytes: 512, peakBlocks: 2, allocs: 2, bytesAllocated: 512 }),
  );
  const rows = siteRows(id);
  assert.equal(rows.length, 1);
  const row = findSite(rows, 'track');
  assert.equal(row.currBytes, 512);
  assert.equal(row.totalBlocks, 2);

  assert.equal(fx.untrackFree(h), 0);
  assert.equal(fx.untrackFree(g), 0);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ peakBytes: 512, peakBlocks: 2, allocs: 2, frees: 2, bytesAllocated: 512, bytesFreed: 512 }),
  );
  assert.equal(findSite(siteRows(id), 'track').frees, 2);
});

test('a block owned by a JS object is freed by its finalizer', async () => {
  const name = freshTag('finalizer');
  const id = mw.tag(name);
  (() => {
    for (let i = 0; i < 50; i++) fx.finalizable(id, 20);
  })();
  assert.equal(tagCounters(mw, name).currBytes, 1000);
  await new Promise((resolve) => setImmediate(resolve));
  mw.gc();
  await mw.settle();
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ peakBytes: 1000, peakBlocks: 50, allocs: 50, frees: 50, bytesAllocated: 1000, bytesFreed: 1000 }),
  );
});

test('the fixture refuses wrong argument types without crashing', () => {
  assert.throws(() => fx.alloc('1', 10), TypeError);
  assert.throws(() => fx.alloc(0, -1), RangeError);
  assert.throws(() => fx.alloc(0, 1.5), RangeError);
  assert.throws(() => fx.free(123), TypeError);
  assert.throws(() => fx.freeMany([1n, 'x']), TypeError);
  assert.throws(() => fx.freeMany('x'), TypeError);
  assert.throws(() => fx.strdup(0, 5), TypeError);
  assert.throws(() => fx.tag(5), TypeError);
  assert.throws(() => fx.tag('bad name'), RangeError);
  assert.throws(() => fx.setLimit(0, 'x'), TypeError);
  assert.throws(() => fx.allocAsync(0, 1), TypeError);
  assert.throws(() => fx.untrackFree(null), TypeError);
});
