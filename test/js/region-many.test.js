'use strict';

// Regions without a fixed table (issue 7, item 5). A Region dropped without
// close() was closed only by its finalizer, so synchronous code opening regions
// in a loop hit "too many open regions (at most 256 in the process)" even with
// gc() in between. Now any number can be open; Symbol.dispose closes one
// deterministically, and `using` does where the runtime has it.

const test = require('node:test');
const assert = require('node:assert/strict');

const mw = require('../../');
const { buildFixture } = require('../helpers/build.js');
const { freshTag } = require('../helpers/common.js');
const { runNode } = require('../helpers/child.js');

const fx = require(buildFixture());

test('10,000 regions dropped without close() in a synchronous loop', () => {
  const id = mw.tag(freshTag('many-regions'));
  const outer = mw.region();
  for (let i = 0; i < 10000; i++) {
    const r = mw.region();
    if (i === 9999) {
      const h = fx.alloc(id, 100);
      assert.deepEqual(r.delta(), { totalBlocks: 1, totalBytes: 100, currBlocks: 1, currBytes: 100, maxBlocks: 1, maxBytes: 100 });
      fx.free(h, id);
    }
  }
  assert.deepEqual(outer.delta(), { totalBlocks: 1, totalBytes: 100, currBlocks: 0, currBytes: 0, maxBlocks: 1, maxBytes: 100 });
  outer.close();
});

test('10,000 regions held open at once all count', () => {
  const id = mw.tag(freshTag('open-regions'));
  const regions = Array.from({ length: 10000 }, () => mw.region());
  const h = fx.alloc(id, 64);
  fx.free(h, id);
  const want = { totalBlocks: 1, totalBytes: 64, currBlocks: 0, currBytes: 0, maxBlocks: 1, maxBytes: 64 };
  assert.deepEqual(regions[0].delta(), want);
  assert.deepEqual(regions[9999].delta(), want);
  for (const r of regions) r.close();
  assert.equal(regions.every((r) => r.closed), true);
});

test('Symbol.dispose closes the region', () => {
  const r = mw.region();
  assert.equal(typeof r[Symbol.dispose], 'function');
  r[Symbol.dispose]();
  assert.equal(r.closed, true);
  assert.throws(() => r.delta(), { code: 'ERR_NMW_REGION_CLOSED' });
  r[Symbol.dispose](); // again: nothing
});

test('`using` closes the region at the end of its block (where the runtime has `using`)', async (t) => {
  let supported = true;
  try {
    new Function('{ using x = null; }'); // eslint-disable-line no-new-func
  } catch {
    supported = false;
  }
  if (!supported) {
    t.skip(`this Node (${process.version}) has no \`using\` declarations`);
    return;
  }
  const r = await runNode(`
    const mw = require(process.env.NMW_ROOT);
    let seen;
    { using region = mw.region(); seen = region; }
    console.log(JSON.stringify({ closed: seen.closed }));
  `);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { closed: true });
});
