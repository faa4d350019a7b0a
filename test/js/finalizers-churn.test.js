'use strict';

// 1,000,000 wraps and 1,000,000 externals made and dropped in rounds of 50,000
// each, with mw.settle() between rounds: counts exact, and the tracker's own
// memory (the record table and all its metadata) the same after the last round
// as before it: slots are reused, so memory follows the peak of live records.

const test = require('node:test');
const assert = require('node:assert/strict');

const mw = require('../../');
const { buildFinalizerFixture } = require('../helpers/finalizer-fixture.js');
const { freshTag } = require('../helpers/common.js');

const fx = require(buildFinalizerFixture());

const ROUNDS = 20;
const PER_ROUND = 50_000;

test('1,000,000 wraps and 1,000,000 externals churned: exact counts, no growth', async () => {
  const wrapName = freshTag('churn-wrap');
  const extName = freshTag('churn-ext');
  const wrapTag = fx.tag(wrapName);
  const extTag = fx.tag(extName);
  await mw.settle();
  const ranBefore = fx.counts().finalized;
  let before = null;
  for (let round = 0; round < ROUNDS; round++) {
    if (round === ROUNDS - 1) {
      before = { table: mw.finalizers().overhead, metadata: mw.stats().overhead.metadataBytes };
    }
    fx.churn(0, PER_ROUND, wrapTag, true);
    fx.churn(1, PER_ROUND, extTag, true);
    await mw.settle();
    const { tags } = mw.finalizers();
    const done = (round + 1) * PER_ROUND;
    for (const name of [wrapName, extName]) {
      const t = tags[name];
      assert.deepEqual(
        [t.registered, t.finalized, t.finalizedAtTeardown, t.cancelled, t.live, t.neverRun],
        [done, done, 0, 0, 0, 0],
        `${name} after round ${round}`,
      );
    }
  }
  const total = ROUNDS * PER_ROUND;
  assert.equal(fx.counts().finalized - ranBefore, 2 * total);
  const { tags, overhead } = mw.finalizers();
  assert.equal(tags[wrapName].durations.histogram.reduce((n, b) => n + b.count, 0), total);
  assert.equal(tags[extName].oldestLiveMs, null);
  // The tracker's memory after the last round is what it was before it.
  assert.equal(overhead.live, before.table.live);
  assert.equal(overhead.totalBytes, before.table.totalBytes);
  assert.equal(overhead.capacity, before.table.capacity);
  assert.equal(mw.stats().overhead.metadataBytes, before.metadata);
  // Bounded by the peak of live records (about one round), not by the 2,000,000.
  assert.ok(overhead.capacity < 4 * PER_ROUND, `capacity ${overhead.capacity}`);
  assert.ok(overhead.peakLive <= 2 * PER_ROUND + 1000, `peakLive ${overhead.peakLive}`);
});
