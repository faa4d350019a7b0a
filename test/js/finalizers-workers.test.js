'use strict';

// The audit per environment, in workers: a worker's counters stay readable from
// the main thread after it is gone (mw.finalizers.environments()). What a worker
// still holds when it ends runs at its teardown, whether it returns, calls
// process.exit() or is terminated while busy (Node's
// test_worker_terminate_finalization). Four workers churning at once keep
// exact counts each.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Worker } = require('node:worker_threads');
const { once } = require('node:events');

const mw = require('../../');
const { ROOT, buildFinalizerFixture } = require('../helpers/finalizer-fixture.js');

// Workers created from now on get globalThis.gc, so mw.gc() in several workers
// at once does not go through lib/gc.js's toggling of the process-wide
// --expose-gc flag, which races between threads ("gc is not defined").
require('node:v8').setFlagsFromString('--expose-gc');

const FIXTURE = buildFinalizerFixture();

const WORKER = `
  const { parentPort, workerData } = require('node:worker_threads');
  const mw = require(workerData.root);
  const fx = require(workerData.fixture);
  const t = (name) => fx.tag('w-' + name);
  globalThis.kept = [];
  (function make() {
    for (let i = 0; i < 5; i++) { const o = {}; fx.wrap(o, t('kept'), i % 2 === 0); kept.push(o); }
    for (let i = 0; i < 3; i++) kept.push(fx.createExternal(t('kept-ext')));
    for (let i = 0; i < 2; i++) kept.push(fx.createExternalBuffer(32, t('kept-buf')));
    for (let i = 0; i < 2; i++) kept.push(fx.createExternalArrayBuffer(32, t('kept-buf')));
    for (let i = 0; i < 10; i++) fx.wrap({}, t('gc'), false);
    for (let i = 0; i < 4; i++) { const o = {}; fx.wrap(o, t('cancelled'), false); fx.removeWrap(o, t('cancelled')); }
    fx.setInstanceData(t('instance'), 1);
    fx.setInstanceData(t('instance'), 2);
  })();
  mw.settle().then(() => {
    const mine = mw.finalizers().tags;
    parentPort.postMessage({ before: { kept: mine['w-kept'].live, gc: mine['w-gc'].finalized } });
    if (workerData.mode === 'exit') process.exit(0);
    if (workerData.mode === 'spin') for (;;);
  });
`;

const c = (registered, finalized, finalizedAtTeardown, cancelled, live, neverRun) => ({
  registered,
  finalized,
  finalizedAtTeardown,
  cancelled,
  live,
  neverRun,
});

// Runs a worker to its end; returns its environment as seen from here.
async function runWorker(mode) {
  const worker = new Worker(WORKER, { eval: true, workerData: { root: ROOT, fixture: FIXTURE, mode } });
  const threadId = worker.threadId; // -1 once it has exited
  const exited = once(worker, 'exit'); // before it can happen
  const [msg] = await once(worker, 'message');
  assert.deepEqual(msg.before, { kept: 5, gc: 10 });
  if (mode === 'spin') await worker.terminate();
  await exited;
  const env = mw.finalizers.environments().find((e) => e.threadId === threadId);
  assert.ok(env, `no environment with threadId ${threadId}`);
  return env;
}

function checkTornDown(env) {
  assert.equal(env.state, 'torn_down');
  assert.equal(env.current, false);
  const counts = {};
  for (const [name, t] of Object.entries(env.tags)) {
    const { registered, finalized, finalizedAtTeardown, cancelled, live, neverRun } = t;
    counts[name] = { registered, finalized, finalizedAtTeardown, cancelled, live, neverRun };
  }
  assert.deepEqual(counts, {
    'w-kept': c(5, 0, 5, 0, 0, 0),
    'w-kept-ext': c(3, 0, 3, 0, 0, 0),
    'w-kept-buf': c(4, 0, 4, 0, 0, 0),
    'w-gc': c(10, 10, 0, 0, 0, 0),
    'w-cancelled': c(4, 0, 0, 4, 0, 0),
    'w-instance': c(2, 0, 1, 1, 0, 0),
  });
  assert.equal(env.total.registered, 28);
  assert.equal(env.total.live, 0);
  assert.equal(env.total.oldestLiveMs, null);
}

test('worker returns: what it held runs at its teardown', async () => {
  checkTornDown(await runWorker('natural'));
});

test('worker calls process.exit(): its teardown still runs everything', async () => {
  checkTornDown(await runWorker('exit'));
});

test('worker.terminate() while it is busy (test_worker_terminate_finalization)', async () => {
  checkTornDown(await runWorker('spin'));
});

test("the main thread's own counters are not a worker's", () => {
  const here = mw.finalizers();
  assert.equal(here.tags['w-kept'], undefined);
  const all = mw.finalizers({ environment: 'all' });
  assert.equal(all.tags['w-kept'].finalizedAtTeardown, 15);
});

const CHURN = `
  const { parentPort, workerData } = require('node:worker_threads');
  const mw = require(workerData.root);
  const fx = require(workerData.fixture);
  const tag = fx.tag(workerData.tag);
  (async () => {
    for (let round = 0; round < 4; round++) {
      fx.churn(0, 5000, tag, true);
      fx.churn(1, 5000, tag, true);
      await mw.settle();
    }
    const t = mw.finalizers().tags[workerData.tag];
    parentPort.postMessage({ registered: t.registered, finalized: t.finalized, live: t.live, ran: fx.counts().finalized });
  })();
`;

test('four workers churn at once: exact counts in each environment', async () => {
  const workers = [0, 1, 2, 3].map(
    (i) => new Worker(CHURN, { eval: true, workerData: { root: ROOT, fixture: FIXTURE, tag: `w-churn-${i}` } }),
  );
  const ids = workers.map((w) => w.threadId);
  const exited = Promise.all(workers.map((w) => once(w, 'exit')));
  const results = await Promise.all(workers.map((w) => once(w, 'message').then(([m]) => m)));
  for (const r of results) assert.deepEqual(r, { registered: 40000, finalized: 40000, live: 0, ran: 40000 });
  await exited;
  const envs = mw.finalizers.environments();
  ids.forEach((id, i) => {
    const env = envs.find((e) => e.threadId === id);
    assert.ok(env);
    assert.equal(env.state, 'torn_down');
    const t = env.tags[`w-churn-${i}`];
    assert.equal(t.registered, 40000);
    assert.equal(t.finalized, 40000);
    assert.equal(t.finalizedAtTeardown + t.cancelled + t.live + t.neverRun, 0);
    assert.equal(t.durations.histogram.reduce((n, b) => n + b.count, 0), 40000);
  });
});
