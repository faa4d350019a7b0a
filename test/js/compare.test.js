'use strict';

// snapshot().compareTo(older): rows sorted like tracemalloc's compare_to,
// descending by (|bytesDiff|, bytes, |blocksDiff|, blocks). The changes below
// are made so that each key of that order decides one pair:
//
//   row  before            after             |bytesDiff| bytes |blocksDiff| blocks
//   E    -                 5000 B / 1        5000        5000   1           1
//   C    -                 4 x 250 B         1000        1000   4           4
//   D    2x500 + 4x250 B   2 x 500 B         1000        1000   4           2
//   A    -                 1000 B / 1        1000        1000   1           1
//   B    1000 B / 1        -                 1000        0      1           0
//   F    300 B / 1         300 B / 1         0           300    0           1
//
// E first by |bytesDiff|; A before B by bytes; C before A by |blocksDiff|;
// C before D by blocks.

const test = require('node:test');
const assert = require('node:assert/strict');

const mw = require('../../');
const { loadFixture } = require('../helpers/build.js');
const { freshTag, isSite } = require('../helpers/common.js');

const fx = loadFixture();

test('compareTo groupBy tag: exact rows in tracemalloc order', () => {
  const names = {};
  const ids = {};
  for (const key of ['A', 'B', 'C', 'D', 'E', 'F']) {
    names[key] = freshTag(`cmp-${key}`);
    ids[key] = mw.tag(names[key]);
  }
  // Before the older snapshot.
  const dKeep = [fx.alloc(ids.D, 500), fx.alloc(ids.D, 500)];
  const dDrop = fx.allocMany(ids.D, 250, 4);
  const b = fx.alloc(ids.B, 1000);
  const f = fx.alloc(ids.F, 300);
  const older = mw.snapshot();

  const e = fx.alloc(ids.E, 5000);
  const c = fx.allocMany(ids.C, 250, 4);
  fx.freeMany(dDrop);
  const a = fx.alloc(ids.A, 1000);
  fx.free(b, ids.B);
  const newer = mw.snapshot();

  const byName = Object.fromEntries(Object.entries(names).map(([k, v]) => [v, k]));
  const rows = newer.compareTo(older, { groupBy: 'tag' }).filter((row) => row.tag in byName);
  assert.deepEqual(
    rows.map((row) => ({ ...row, tag: byName[row.tag] })),
    [
      { tag: 'E', bytes: 5000, bytesDiff: 5000, blocks: 1, blocksDiff: 1 },
      { tag: 'C', bytes: 1000, bytesDiff: 1000, blocks: 4, blocksDiff: 4 },
      { tag: 'D', bytes: 1000, bytesDiff: -1000, blocks: 2, blocksDiff: -4 },
      { tag: 'A', bytes: 1000, bytesDiff: 1000, blocks: 1, blocksDiff: 1 },
      { tag: 'B', bytes: 0, bytesDiff: -1000, blocks: 0, blocksDiff: -1 },
      { tag: 'F', bytes: 300, bytesDiff: 0, blocks: 1, blocksDiff: 0 },
    ],
  );
  // groupBy defaults to 'tag'.
  assert.deepEqual(
    newer.compareTo(older).filter((row) => row.tag in byName),
    newer.compareTo(older, { groupBy: 'tag' }).filter((row) => row.tag in byName),
  );
  // The whole list is sorted by the four keys.
  const all = newer.compareTo(older, { groupBy: 'tag' });
  const key = (r) => [Math.abs(r.bytesDiff), r.bytes, Math.abs(r.blocksDiff), r.blocks];
  for (let i = 1; i < all.length; i++) {
    const [p, q] = [key(all[i - 1]), key(all[i])];
    const cmp = p[0] - q[0] || p[1] - q[1] || p[2] - q[2] || p[3] - q[3];
    assert.ok(cmp >= 0, `rows ${i - 1} and ${i} out of order: ${JSON.stringify([all[i - 1], all[i]])}`);
  }

  fx.freeMany([e, a, f, ...c, ...dKeep]);
});

test('compareTo with a tag registered after the older snapshot', () => {
  const older = mw.snapshot();
  const name = freshTag('cmp-late');
  const id = mw.tag(name);
  const h = fx.alloc(id, 777);
  const rows = mw.snapshot().compareTo(older).filter((row) => row.tag === name);
  assert.deepEqual(rows, [{ tag: name, bytes: 777, bytesDiff: 777, blocks: 1, blocksDiff: 1 }]);
  fx.free(h, id);
});

test('compareTo groupBy site: exact rows in tracemalloc order', () => {
  const name = freshTag('cmp-site');
  const id = mw.tag(name);
  // Before: aligned 2x500 + 4x250 (D), strdup 1000 B (B), leak 300 B (F).
  const dKeep = [fx.aligned(id, 64, 500), fx.aligned(id, 64, 500)];
  const dDrop = [0, 1, 2, 3].map(() => fx.aligned(id, 64, 250));
  const b = fx.strdup(id, 'x'.repeat(999));
  fx.leak(id, 300, 1);
  const older = mw.snapshot();

  const e = fx.calloc(id, 1, 5000); // E: calloc +5000 / 1
  const c = fx.allocMany(id, 250, 4); // C: allocMany +1000 / 4
  fx.freeMany(dDrop); // D: aligned -1000 / -4, left 1000 / 2
  const a = fx.alloc(id, 1000); // A: alloc +1000 / 1
  fx.free(b, id); // B: strdup -1000 / -1, left 0
  const newer = mw.snapshot();

  const sites = ['calloc', 'allocMany', 'aligned', 'alloc', 'strdup', 'leak'];
  const rows = newer.compareTo(older, { groupBy: 'site' }).filter((row) => row.tag === name);
  const labelled = rows.map((row) => {
    const found = sites.filter((s) => isSite(row, s));
    assert.equal(found.length, 1, `a fixture site: ${JSON.stringify(row)}`);
    return {
      site: found[0],
      bytes: row.bytes,
      bytesDiff: row.bytesDiff,
      blocks: row.blocks,
      blocksDiff: row.blocksDiff,
    };
  });
  assert.deepEqual(labelled, [
    { site: 'calloc', bytes: 5000, bytesDiff: 5000, blocks: 1, blocksDiff: 1 },
    { site: 'allocMany', bytes: 1000, bytesDiff: 1000, blocks: 4, blocksDiff: 4 },
    { site: 'aligned', bytes: 1000, bytesDiff: -1000, blocks: 2, blocksDiff: -4 },
    { site: 'alloc', bytes: 1000, bytesDiff: 1000, blocks: 1, blocksDiff: 1 },
    { site: 'strdup', bytes: 0, bytesDiff: -1000, blocks: 0, blocksDiff: -1 },
    { site: 'leak', bytes: 300, bytesDiff: 0, blocks: 1, blocksDiff: 0 },
  ]);
  for (const row of rows) {
    assert.deepEqual(Object.keys(row).sort(), ['blocks', 'blocksDiff', 'bytes', 'bytesDiff', 'file', 'function', 'line', 'tag']);
  }

  fx.freeMany([e, a, ...c, ...dKeep]);
});

test('a snapshot does not change after it is taken', () => {
  const name = freshTag('cmp-frozen');
  const id = mw.tag(name);
  const before = mw.snapshot();
  const h = fx.alloc(id, 10);
  const mid = mw.snapshot();
  fx.free(h, id);
  const after = mw.snapshot();
  assert.deepEqual(
    mid.compareTo(before).filter((row) => row.tag === name),
    [{ tag: name, bytes: 10, bytesDiff: 10, blocks: 1, blocksDiff: 1 }],
  );
  assert.deepEqual(
    after.compareTo(mid).filter((row) => row.tag === name),
    [{ tag: name, bytes: 0, bytesDiff: -10, blocks: 0, blocksDiff: -1 }],
  );
});
