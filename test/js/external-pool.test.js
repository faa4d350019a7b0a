'use strict';

// External memory under load from the libuv pool: four async works at once (the
// pool's default size) allocate and free external-tagged blocks with the _env
// variants, naming this environment. Their deltas are batched per thread and
// reported on the JS thread only; at the end what was reported to V8 must equal
// what is owed, to the byte, and no report may ever have been attempted off the
// JS thread (the core refuses such a flush and counts it in offThreadCalls).

const test = require('node:test');
const assert = require('node:assert/strict');

const mw = require('../../');
const { loadFixture } = require('../helpers/build.js');
const { freshTag, isSite } = require('../helpers/common.js');
const { turn, envAudit, tagAudit, MiB } = require('../helpers/external.js');

const fx = loadFixture();

const THREADS = 4; // UV_THREADPOOL_SIZE defaults to 4: four works run at once
const PAIRS = 250_000; // per work: 1,000,000 alloc/free pairs in total
const SIZE = 32 * 1024; // blocks of 16..48 KiB
const KEEP = 64; // a ring of 64 live blocks per work: about 2 MiB that swings to 0

const sum = (xs) => xs.reduce((a, b) => a + b, 0);

test('4 pool threads, 1,000,000 alloc/free pairs with the _env variants: reported equals owed exactly', async () => {
  const name = freshTag('ext-pool');
  const id = mw.tag(name, { external: true });
  assert.equal(mw.stats().external.threshold, MiB, 'the default threshold');
  const before = envAudit(mw);
  const misuseBefore = mw.stats().misuse.total;

  // The JS thread allocates too, meanwhile: 2 MiB blocks cross the threshold and
  // are reported synchronously, between the flushes the pool threads ask for.
  let done = false;
  let jsRounds = 0;
  const jsChurn = (async () => {
    while (!done) {
      const h = fx.alloc(id, 2 * MiB);
      fx.free(h, id);
      jsRounds += 1;
      await new Promise(setImmediate);
    }
  })();

  const works = [];
  for (let i = 0; i < THREADS; i++) works.push(fx.churnEnvAsync(id, SIZE, PAIRS, KEEP));
  const rings = await Promise.all(works);
  done = true;
  await jsChurn;

  const survivors = rings.flat().filter((h) => h !== null);
  const liveBytes = sum(survivors.map((h) => fx.blockSize(h)));
  assert.equal(survivors.length, THREADS * KEEP, 'every ring is full at the end');
  assert.ok(liveBytes >= THREADS * KEEP * (SIZE / 2), 'the survivors are the ring blocks');

  // The next loop turn reports what the last wake-ups left pending.
  await turn();
  const counters = mw.stats().tags[name];
  assert.equal(counters.allocs, THREADS * PAIRS + jsRounds);
  assert.equal(counters.currBytes, liveBytes);
  const row = tagAudit(mw, name);
  assert.deepEqual(
    { owed: row.owed, reported: row.reported, pending: row.pending },
    { owed: liveBytes, reported: liveBytes, pending: 0 },
    'the tag: reported equals owed after the flush of the next loop turn',
  );
  const env = envAudit(mw);
  assert.equal(env.id, before.id);
  assert.equal(env.reported, env.owed);
  assert.equal(env.pending, 0);
  assert.equal(env.offThreadCalls, 0, 'no flush was ever attempted off the JS thread');
  assert.ok(env.adjustCalls > before.adjustCalls, 'the churn was reported');
  // Batched: far fewer reports than the 2,000,000 allocations and frees.
  assert.ok(env.adjustCalls - before.adjustCalls < (THREADS * PAIRS) / 10);

  // The call sites of the _env variant carry the allocations.
  const site = mw.sites({ tag: name, limit: Infinity }).find((r) => isSite(r, 'envChurnAlloc'));
  assert.ok(site, 'the envChurnAlloc site is listed');
  assert.equal(site.totalBlocks, THREADS * PAIRS);

  // Freed from pool threads without naming any env: each free credits the
  // environment recorded in its block.
  await fx.freeAsync(survivors);
  await turn();
  const after = tagAudit(mw, name);
  assert.deepEqual(
    { owed: after.owed, reported: after.reported, pending: after.pending },
    { owed: 0, reported: 0, pending: 0 },
  );
  const envAfter = envAudit(mw);
  assert.equal(envAfter.reported, envAfter.owed);
  assert.equal(envAfter.offThreadCalls, 0);
  assert.equal(mw.stats().tags[name].currBytes, 0);
  assert.equal(mw.stats().misuse.total, misuseBefore, 'no misuse');
  assert.equal(mw.stats().external.unattributedBytes, 0, 'every block had an owner');
});

test('flushExternal() reports the pending amount at once and returns it', async () => {
  const name = freshTag('ext-flush');
  const id = mw.tag(name, { external: true });
  await turn();
  const start = envAudit(mw);
  assert.equal(start.pending, 0);
  // Below the threshold, on the JS thread: nothing is reported yet. (Not from a
  // pool thread: awaiting its result turns the loop, where a wake left by an
  // earlier test may flush the new bytes too; it failed so once under Node 24.)
  const handles = fx.allocMany(id, 1000, 10);
  const mid = tagAudit(mw, name);
  assert.deepEqual(
    { owed: mid.owed, reported: mid.reported, pending: mid.pending },
    { owed: 10_000, reported: 0, pending: 10_000 },
  );
  assert.equal(mw.flushExternal(), 10_000);
  assert.equal(mw.flushExternal(), 0, 'nothing left to report');
  const row = tagAudit(mw, name);
  assert.equal(row.reported, 10_000);
  assert.equal(row.pending, 0);
  assert.equal(envAudit(mw).adjustCalls, start.adjustCalls + 1);
  fx.freeMany(handles);
  assert.equal(mw.flushExternal(), -10_000);
  assert.equal(tagAudit(mw, name).reported, 0);
  assert.equal(envAudit(mw).offThreadCalls, 0);
});
