'use strict';

// Several tracked addons in one environment (issue 7, item 1). An app has many
// native addons and every one may adopt the header: each calls nmw_import() and
// so attaches its napi_env to the environment's owner. Node keys cleanup hooks by
// (function, argument) per environment and aborts on a duplicate, so before the
// fix the second consumer attaching in one environment killed the process
// (`Assertion failed: (insertion_info.second) == (true)`, SIGABRT).
//
// Every scenario runs in a child process, so an abort fails the test with the
// signal instead of taking the runner down. The consumers: the consumer fixture
// and the two tiny ones (test/fixtures/tiny-consumer).

const test = require('node:test');
const assert = require('node:assert/strict');

const { buildFixture, buildTinyFixtures } = require('../helpers/build.js');
const { runNode } = require('../helpers/child.js');

const CONSUMER = buildFixture();
const [TINY_A, TINY_B] = buildTinyFixtures();
const env = { NMW_TINY_A: TINY_A, NMW_TINY_B: TINY_B };

// Runs source in a child; it prints one JSON line last. Returns that object.
async function child(source) {
  const r = await runNode(source, { env });
  const context = `code ${r.code}, signal ${r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  assert.equal(r.signal, null, `the child was killed: ${context}`);
  assert.equal(r.code, 0, context);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

// Shared by the scripts: counters of a tag name in mw.stats().
const PRELUDE = `
  const counts = (mw, name) => {
    const row = mw.stats().tags[name];
    return row ? { blocks: row.currBlocks, bytes: row.currBytes } : null;
  };
`;

test('two consumers in the main thread after native-memwatch: no abort, exact counts', async () => {
  const out = await child(`${PRELUDE}
    const mw = require(process.env.NMW_ROOT);
    const a = require(process.env.NMW_TINY_A);
    const b = require(process.env.NMW_TINY_B);
    const ta = mw.tag('two-a'), tb = mw.tag('two-b');
    const made = [a.alloc(ta, 24, 10), b.alloc(tb, 40, 7)];
    const held = [counts(mw, 'two-a'), counts(mw, 'two-b')];
    const freed = [a.freeAll(), b.freeAll()];
    console.log(JSON.stringify({ status: [a.importStatus, b.importStatus], made, held, freed,
      after: [counts(mw, 'two-a'), counts(mw, 'two-b')] }));
  `);
  assert.deepEqual(out, {
    status: [0, 0],
    made: [10, 7],
    held: [{ blocks: 10, bytes: 240 }, { blocks: 7, bytes: 280 }],
    freed: [10, 7],
    after: [{ blocks: 0, bytes: 0 }, { blocks: 0, bytes: 0 }],
  });
});

test('three consumers in the main thread: allocation and external adjustments per env', async () => {
  const out = await child(`${PRELUDE}
    const mw = require(process.env.NMW_ROOT);
    const fx = require(process.env.NMW_FIXTURE);
    const a = require(process.env.NMW_TINY_A);
    const b = require(process.env.NMW_TINY_B);
    const t = mw.tag('three');
    const ext = mw.tag('three-ext', { external: true });
    const handles = fx.allocMany(t, 16, 5);
    a.alloc(t, 16, 6);
    b.alloc(t, 16, 7);
    const rcs = [fx.adjust(ext, 1000), a.adjust(ext, 2000), b.adjust(ext, 4000)];
    const e = mw.stats().external.environment.tags['three-ext'];
    const held = counts(mw, 'three');
    fx.freeMany(handles); a.freeAll(); b.freeAll();
    console.log(JSON.stringify({ status: [fx.importStatus, a.importStatus, b.importStatus], rcs,
      explicitOwed: e.explicitOwed, explicitCalls: e.explicitCalls, held, after: counts(mw, 'three'),
      live: mw.stats().external.ownerSlots.live }));
  `);
  assert.deepEqual(out, {
    status: ['ok', 0, 0],
    rcs: [0, 0, 0],
    explicitOwed: 7000,
    explicitCalls: 3,
    held: { blocks: 18, bytes: 288 },
    after: { blocks: 0, bytes: 0 },
    live: 1,
  });
});

test('consumers loaded before native-memwatch in the main thread work untracked, then no abort', async () => {
  const out = await child(`${PRELUDE}
    const a = require(process.env.NMW_TINY_A);
    const fx = require(process.env.NMW_FIXTURE);
    const mw = require(process.env.NMW_ROOT);
    const b = require(process.env.NMW_TINY_B);
    const t = mw.tag('late');
    const made = [a.alloc(t, 8, 3), b.alloc(t, 8, 4)];
    const held = counts(mw, 'late');
    // A reimport finds the table now that native-memwatch is loaded, and attaches.
    const re = [fx.reimport(), fx.reimport()];
    a.freeAll(); b.freeAll();
    console.log(JSON.stringify({ status: [a.importStatus, fx.importStatus, b.importStatus], made, held, re,
      after: counts(mw, 'late') }));
  `);
  // tiny_a imported before the table existed: NMW_ENOTLOADED (1), plain blocks.
  // tiny_b found the table. Plain blocks are freed as plain blocks.
  assert.deepEqual(out, {
    status: [1, 'not-loaded', 0],
    made: [3, 4],
    held: { blocks: 4, bytes: 32 },
    re: ['ok', 'ok'],
    after: { blocks: 0, bytes: 0 },
  });
});

// The worker script: loads the three consumers and native-memwatch in the order
// named by workerData.order, allocates under its own tag through each consumer,
// adjusts external memory through each, reports, frees on request.
const WORKER = `
  const { parentPort, workerData } = require('node:worker_threads');
  const load = { mw: () => require(workerData.root), fx: () => require(workerData.fixture),
    a: () => require(workerData.a), b: () => require(workerData.b) };
  const m = {};
  for (const k of workerData.order) m[k] = load[k]();
  const { mw, fx, a, b } = m;
  const t = mw.tag(workerData.tag);
  const ext = mw.tag(workerData.ext, { external: true });
  const handles = fx.allocMany(t, 32, 3);
  const made = [a.alloc(t, 32, 4), b.alloc(t, 32, 5)];
  const rcs = [fx.adjust(ext, 100), a.adjust(ext, 200), b.adjust(ext, 300)];
  const e = mw.stats().external.environment;
  parentPort.postMessage({ status: [fx.importStatus, a.importStatus, b.importStatus], made, rcs,
    owed: e.tags[workerData.ext].explicitOwed, envId: e.id });
  parentPort.once('message', () => {
    fx.freeMany(handles);
    parentPort.postMessage([a.freeAll(), b.freeAll()]);
  });
`;

test('three consumers in 4 workers at once, in either order relative to native-memwatch', async () => {
  const out = await child(`${PRELUDE}
    const { Worker } = require('node:worker_threads');
    const { once } = require('node:events');
    // The main thread loads every consumer once after native-memwatch: from then
    // on each consumer's copy of the table pointer is set for the process, so in a
    // worker it may load before native-memwatch and is tracked (the first attach
    // in the environment then comes from the consumer, not from native-memwatch).
    const mw = require(process.env.NMW_ROOT);
    require(process.env.NMW_FIXTURE); require(process.env.NMW_TINY_A); require(process.env.NMW_TINY_B);
    const orders = [['mw', 'fx', 'a', 'b'], ['a', 'b', 'fx', 'mw'], ['fx', 'mw', 'b', 'a'], ['b', 'a', 'mw', 'fx']];
    const liveBefore = mw.stats().external.ownerSlots.live;
    (async () => {
      const workers = orders.map((order, i) => new Worker(${JSON.stringify(WORKER)}, { eval: true, workerData: {
        root: process.env.NMW_ROOT, fixture: process.env.NMW_FIXTURE, a: process.env.NMW_TINY_A,
        b: process.env.NMW_TINY_B, order, tag: 'wk' + i, ext: 'wk-ext' + i } }));
      const exits = workers.map((w) => once(w, 'exit'));
      const ready = await Promise.all(workers.map((w) => once(w, 'message').then(([m]) => m)));
      const held = orders.map((_, i) => counts(mw, 'wk' + i));
      const liveDuring = mw.stats().external.ownerSlots.live;
      const freed = await Promise.all(workers.map((w) => { const p = once(w, 'message'); w.postMessage('free'); return p.then(([m]) => m); }));
      const codes = (await Promise.all(exits)).map(([c]) => c);
      console.log(JSON.stringify({ ready: ready.map((r) => ({ status: r.status, made: r.made, rcs: r.rcs, owed: r.owed })),
        distinctEnvs: new Set(ready.map((r) => r.envId)).size, held, freed, codes, liveBefore, liveDuring,
        liveAfter: mw.stats().external.ownerSlots.live, after: orders.map((_, i) => counts(mw, 'wk' + i)) }));
    })();
  `);
  const one = { status: ['ok', 0, 0], made: [4, 5], rcs: [0, 0, 0], owed: 600 };
  assert.deepEqual(out, {
    ready: [one, one, one, one],
    distinctEnvs: 4,
    held: Array(4).fill({ blocks: 12, bytes: 384 }),
    freed: Array(4).fill([4, 5]),
    codes: [0, 0, 0, 0],
    liveBefore: 1,
    liveDuring: 5,
    liveAfter: 1,
    after: Array(4).fill({ blocks: 0, bytes: 0 }),
  });
});

test('a consumer loaded in a worker, unloaded with it, and loaded again', async () => {
  const out = await child(`${PRELUDE}
    const { Worker } = require('node:worker_threads');
    const { once } = require('node:events');
    const mw = require(process.env.NMW_ROOT);
    const src = \`
      const { parentPort, workerData } = require('node:worker_threads');
      // The first run loads native-memwatch first (no consumer has found the table
      // in this process yet); the later ones load the consumer first, so its attach
      // opens the environment's owner.
      const mw = workerData.first ? require(workerData.root) : null;
      const a = require(workerData.a);
      require(workerData.root);
      const b = workerData.both ? require(workerData.b) : null;
      const t = require(workerData.root).tag('again');
      parentPort.postMessage({ status: a.importStatus, made: a.alloc(t, 64, 2) + (b ? b.alloc(t, 64, 1) : 0) });
      // Exits (when told, once the main thread has counted) holding its blocks:
      // the instance data's finalizer frees them at teardown.
      parentPort.once('message', () => parentPort.close());
    \`;
    const runs = [];
    (async () => {
      for (const [i, both] of [false, true, false].entries()) {
        const w = new Worker(src, { eval: true, workerData: { root: process.env.NMW_ROOT, a: process.env.NMW_TINY_A, b: process.env.NMW_TINY_B, both, first: i === 0 } });
        const [msg] = await once(w, 'message');
        const held = counts(mw, 'again');
        const exited = once(w, 'exit');
        w.postMessage('exit');
        const [code] = await exited;
        runs.push({ ...msg, held, code, after: counts(mw, 'again') });
      }
      const a = require(process.env.NMW_TINY_A);
      const made = a.alloc(mw.tag('again'), 64, 1);
      const main = counts(mw, 'again');
      a.freeAll();
      console.log(JSON.stringify({ runs, main: { status: a.importStatus, made, held: main },
        live: mw.stats().external.ownerSlots.live }));
    })();
  `);
  const zero = { blocks: 0, bytes: 0 };
  assert.deepEqual(out, {
    runs: [
      { status: 0, made: 2, held: { blocks: 2, bytes: 128 }, code: 0, after: zero },
      { status: 0, made: 3, held: { blocks: 3, bytes: 192 }, code: 0, after: zero },
      { status: 0, made: 2, held: { blocks: 2, bytes: 128 }, code: 0, after: zero },
    ],
    main: { status: 0, made: 1, held: { blocks: 1, bytes: 64 } },
    live: 1,
  });
});
