'use strict';

// The fixture loaded in four worker threads at once, each after native-memwatch.
// The tracker is process-wide: the main thread sees every worker's blocks, under
// a tag they share and under tags of their own.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Worker } = require('node:worker_threads');
const { once } = require('node:events');

const mw = require('../../');
const { buildFixture, ROOT } = require('../helpers/build.js');
const { freshTag, tagCounters, counters, firstMessage } = require('../helpers/common.js');

const FIXTURE = buildFixture();

const WORKER_SOURCE = `
  const { parentPort, workerData } = require('node:worker_threads');
  const mw = require(workerData.root);
  const fx = require(workerData.fixture);
  const shared = mw.tag(workerData.shared);
  const own = fx.tag(workerData.own);
  const a = fx.allocMany(shared, workerData.size, workerData.count);
  const b = fx.allocMany(own, workerData.ownSize, workerData.ownCount);
  parentPort.postMessage({
    status: fx.importStatus,
    shared,
    sharedFromC: fx.tag(workerData.shared),
    own,
    ownFromJs: mw.tag(workerData.own),
    nulls: a.concat(b).filter((h) => h === null).length,
  });
  parentPort.once('message', async (msg) => {
    if (msg === 'free') {
      fx.freeMany(a);
      await fx.freeAsync(b); // the worker's own pool work
    }
    parentPort.postMessage('freed');
  });
`;

const WORKERS = 4;
const N = 250;
const S = 48;

test('four workers allocate at once; the main thread sees exact totals', async () => {
  const shared = freshTag('w-shared');
  const own = [0, 1, 2, 3].map((i) => freshTag(`w-own${i}`));
  const sharedId = mw.tag(shared);
  const before = mw.stats();
  const beforeMisuse = before.misuse.total;

  const workers = own.map(
    (ownName, i) =>
      new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: {
          root: ROOT,
          fixture: FIXTURE,
          shared,
          own: ownName,
          size: S,
          count: N,
          ownSize: 16 * (i + 1),
          ownCount: 10 + i,
        },
      }),
  );
  const exits = workers.map((w) => once(w, 'exit'));
  const ready = await Promise.all(workers.map((w) => once(w, 'message').then(([m]) => m)));

  for (const [i, m] of ready.entries()) {
    assert.equal(m.status, 'ok', `worker ${i} imported the table`);
    assert.equal(m.shared, sharedId, 'one id for the shared tag in every thread');
    assert.equal(m.sharedFromC, sharedId);
    assert.equal(m.own, m.ownFromJs);
    assert.equal(m.nulls, 0);
  }

  assert.deepEqual(
    tagCounters(mw, shared),
    counters({
      currBytes: WORKERS * N * S,
      currBlocks: WORKERS * N,
      peakBytes: WORKERS * N * S,
      peakBlocks: WORKERS * N,
      allocs: WORKERS * N,
      bytesAllocated: WORKERS * N * S,
    }),
  );
  let ownBytes = 0;
  let ownBlocks = 0;
  for (const [i, name] of own.entries()) {
    const bytes = 16 * (i + 1) * (10 + i);
    ownBytes += bytes;
    ownBlocks += 10 + i;
    assert.deepEqual(
      tagCounters(mw, name),
      counters({ currBytes: bytes, currBlocks: 10 + i, peakBytes: bytes, peakBlocks: 10 + i, allocs: 10 + i, bytesAllocated: bytes }),
    );
  }
  const mid = mw.stats();
  assert.equal(mid.total.currBytes - before.total.currBytes, WORKERS * N * S + ownBytes);
  assert.equal(mid.total.currBlocks - before.total.currBlocks, WORKERS * N + ownBlocks);
  assert.equal(mid.total.allocs - before.total.allocs, WORKERS * N + ownBlocks);

  const freed = workers.map((w) => once(w, 'message'));
  for (const w of workers) w.postMessage('free');
  await Promise.all(freed);

  assert.deepEqual(
    tagCounters(mw, shared),
    counters({
      peakBytes: WORKERS * N * S,
      peakBlocks: WORKERS * N,
      allocs: WORKERS * N,
      frees: WORKERS * N,
      bytesAllocated: WORKERS * N * S,
      bytesFreed: WORKERS * N * S,
    }),
  );
  for (const name of own) {
    const row = tagCounters(mw, name);
    assert.equal(row.currBytes, 0);
    assert.equal(row.currBlocks, 0);
    assert.equal(row.frees, row.allocs);
  }
  const after = mw.stats();
  assert.equal(after.total.currBytes, before.total.currBytes);
  assert.equal(after.total.currBlocks, before.total.currBlocks);
  assert.equal(after.misuse.total, beforeMisuse, 'no misuse');

  const codes = await Promise.all(exits);
  assert.deepEqual(codes.map(([code]) => code), [0, 0, 0, 0]);
});

test('blocks allocated in a worker can be freed after it exits', async () => {
  const name = freshTag('w-outlive');
  const id = mw.tag(name);
  const fx = require(FIXTURE);
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     require(workerData.root);
     const fx = require(workerData.fixture);
     parentPort.postMessage(fx.allocMany(workerData.id, 100, 5));`,
    { eval: true, workerData: { root: ROOT, fixture: FIXTURE, id } },
  );
  const [handles, exited] = await firstMessage(worker);
  const [code] = await exited;
  assert.equal(code, 0);
  assert.equal(tagCounters(mw, name).currBytes, 500);
  const misuse = mw.stats().misuse.total;
  fx.freeMany(handles);
  assert.deepEqual(
    tagCounters(mw, name),
    counters({ peakBytes: 500, peakBlocks: 5, allocs: 5, frees: 5, bytesAllocated: 500, bytesFreed: 500 }),
  );
  assert.equal(mw.stats().misuse.total, misuse);
});

test('a worker terminated mid-way leaves the tracker usable', async () => {
  const name = freshTag('w-term');
  const id = mw.tag(name);
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const mw = require(workerData.root);
     const fx = require(workerData.fixture);
     parentPort.postMessage(fx.allocMany(workerData.id, 8, 10));
     setInterval(() => fx.churnAsync(workerData.id, 8, 100).catch(() => {}), 1);`,
    { eval: true, workerData: { root: ROOT, fixture: FIXTURE, id } },
  );
  const [handles] = await firstMessage(worker);
  await worker.terminate();
  const row = tagCounters(mw, name);
  assert.equal(row.currBlocks, 10, 'the blocks it kept are still counted');
  assert.equal(row.currBytes, 80);
  require(FIXTURE).freeMany(handles);
  assert.equal(tagCounters(mw, name).currBlocks, 0);
});
