'use strict';

// native-memwatch/testing: limitMemory and the matchers. Peaks are exact when one
// thread allocates (docs/architecture.md#peaks); after other threads have
// freed memory they can be under-reported by up to 256 KiB per such thread, so
// this file checks exact peaks before any thread-pool work, and the one test
// that uses the pool comes last.

const test = require('node:test');
const assert = require('node:assert');
const mw = require('../..');
const { limitMemory, matchers } = require('native-memwatch/testing');
const { loadFixture } = require('../helpers/build.js');
const { freshTag, siteLine } = require('../helpers/common.js');

let c;
test.before(() => {
  c = loadFixture();
});

const FN = { leak: 'work_leak', alloc: 'work_alloc', allocMany: 'work_alloc_many' };
const at = (name) => `../src/work.c:${siteLine(name)} in ${FN[name]}()`;

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected a rejection');
}

// ---- limitMemory ----

test('limitMemory: the peak while fn runs, with the call sites, in the unit asked for', async () => {
  const tag = freshTag('peak');
  const id = mw.tag(tag);
  const burst = () => {
    const big = c.allocMany(id, 1_000_000, 2);
    c.free(c.alloc(id, 500_000));
    c.freeMany(big);
  };
  assert.deepStrictEqual(await limitMemory('3 MB', burst), { peakBytes: 2_500_000, peakBlocks: 3, limit: 3_000_000 });
  assert.deepStrictEqual(await limitMemory('2.5 MB', burst, { tag }), { peakBytes: 2_500_000, peakBlocks: 3, limit: 2_500_000 });
  const err = await rejection(limitMemory('2 MiB', burst));
  assert.strictEqual(
    err.message,
    [
      'limitMemory: native memory peaked at 2.38 MiB (2,500,000 bytes) in 3 blocks while fn ran, above the limit of 2 MiB (2,097,152 bytes; 1 MiB = 2^20 bytes)',
      'call sites by bytes allocated while fn ran:',
      `  - 1.91 MiB (2,000,000 bytes) in 2 blocks allocated at ${at('allocMany')} [tag "${tag}"]`,
      `  - 0.48 MiB (500,000 bytes) in 1 block allocated at ${at('alloc')} [tag "${tag}"]`,
    ].join('\n'),
  );
  const err2 = await rejection(limitMemory(2_000_000, burst, { tag, topSites: 1 }));
  assert.strictEqual(
    err2.message,
    [
      `limitMemory: native memory of tag "${tag}" peaked at 2,500,000 bytes in 3 blocks while fn ran, above the limit of 2,000,000 bytes`,
      'top 1 of 2 call sites by bytes allocated while fn ran:',
      `  - 2,000,000 bytes in 2 blocks allocated at ${at('allocMany')} [tag "${tag}"]`,
    ].join('\n'),
  );
  assert.deepStrictEqual(err2.details, { peakBytes: 2_500_000, peakBlocks: 3, limit: 2_000_000 });
  // What was outstanding before fn does not count.
  const kept = c.alloc(id, 4_000_000);
  assert.strictEqual((await limitMemory('1 MB', () => c.free(c.alloc(id, 300_000)))).peakBytes, 300_000);
  assert.strictEqual((await limitMemory('1 MB', () => c.free(c.alloc(id, 300_000)), { tag })).peakBytes, 300_000);
  c.free(kept);
});

// ---- matchers ----

test('matchers: toLeak and toAllocateAtMost, both ways', async () => {
  const tag = freshTag('match');
  const id = mw.tag(tag);
  const clean = await matchers.toLeak(() => c.free(c.alloc(id, 8)), { iterations: 10 });
  assert.strictEqual(clean.pass, false);
  assert.strictEqual(clean.message(), 'expected fn to leak, but nothing kept growing in 3 rounds of 10 iterations (signals: native, finalizers)');
  const leaky = await matchers.toLeak(() => c.leak(id, 64, 1), { iterations: 10 });
  assert.strictEqual(leaky.pass, true);
  assert.strictEqual(
    leaky.message(),
    [
      'expect(fn).not.toLeak(): memory kept growing over 3 rounds of 10 iterations (after 10 warm-up iterations; mw.settle() after each round):',
      `  native memory of tag "${tag}": +1,920 bytes in 30 blocks over 3 rounds (640 bytes in 10 blocks per round, 64 bytes in 1 block per iteration)`,
      `    +1,920 bytes in 30 blocks at ${at('leak')}`,
    ].join('\n'),
  );
  const small = await matchers.toAllocateAtMost(() => c.free(c.alloc(id, 1000)), '1 KB');
  assert.strictEqual(small.pass, true);
  assert.strictEqual(
    small.message(),
    'expected fn to allocate more than the limit, but native memory peaked at 1 KB (1,000 bytes), within the limit of 1 KB (1,000 bytes; 1 KB = 10^3 bytes)',
  );
  const big = await matchers.toAllocateAtMost(() => c.free(c.alloc(id, 1001)), '1 KB', { tag });
  assert.strictEqual(big.pass, false);
  assert.strictEqual(
    big.message(),
    [
      `expect(fn).toAllocateAtMost(): native memory of tag "${tag}" peaked at 1 KB (1,001 bytes) in 1 block while fn ran, above the limit of 1 KB (1,000 bytes; 1 KB = 10^3 bytes)`,
      'call sites by bytes allocated while fn ran:',
      `  - 1 KB (1,001 bytes) in 1 block allocated at ${at('alloc')} [tag "${tag}"]`,
    ].join('\n'),
  );
});

test('limitMemory awaits an async fn (allocations on the thread pool)', async () => {
  const id = mw.tag(freshTag('async'));
  const kept = c.alloc(id, 4_000_000);
  assert.strictEqual((await limitMemory('1 MB', async () => c.freeAsync(await c.allocAsync(id, 100_000, 3)))).peakBytes, 300_000);
  c.free(kept);
});

