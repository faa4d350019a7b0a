'use strict';

// Worker churn: workers require native-memwatch and the fixture, allocate external
// memory on their JS thread and exit without freeing it: half of them naturally,
// a quarter terminated while idle, a quarter terminated while busy in a loop that
// never returns to the event loop. Each posts its block pointers (BigInt) first;
// the main thread frees them after the worker is gone.
//
// Each worker also registers a cleanup hook (fixture allocAtTeardown) that
// allocates a block while its environment is being torn down, just before
// native-memwatch hears of the teardown: that amount is certainly still pending
// then, and must be dropped (counted, never reported to the dying isolate).
//
// Expected: no crash and no misuse; each worker reports its 3 MiB to its own
// isolate synchronously (it crosses the threshold on its JS thread) and leaves a
// small amount pending; teardown counts every environment, and what each still had
// reported plus what it had pending adds up to what it owed, to the byte; the
// per-environment tables hold only the main thread afterwards; and the blocks freed
// later from the main thread are counted as freed after teardown, to the byte, and
// never credited to the main thread's isolate.
//
// Each run is a child process with a clean stderr to check and counters of its own.

const test = require('node:test');
const assert = require('node:assert/strict');

const { buildFixture } = require('../helpers/build.js');
const { runNodeJson } = require('../helpers/child.js');

buildFixture();

const CHILD = `
  const { Worker } = require('node:worker_threads');
  const { once } = require('node:events');
  const mw = require(process.env.NMW_ROOT);
  const fx = require(process.env.NMW_FIXTURE);

  const WORKERS = Number(process.argv[1]);
  const HOLDERS = Number(process.argv[2] || 0); // live workers while the blocks are freed
  const CONCURRENCY = 8;
  const BIG = 3 * 1024 * 1024; // above the threshold: reported at once
  const SMALL = 64 * 1024;     // below it: pending until a loop turn
  const LATE = 32 * 1024;      // allocated by a cleanup hook during teardown
  const TAG = 'worker-ext';
  const MODES = ['natural', 'idle', 'natural', 'busy'];

  const WORKER = \`
    const { parentPort, workerData } = require('node:worker_threads');
    const mw = require(workerData.root);
    const fx = require(workerData.fixture);
    const id = mw.tag(workerData.tag, { external: true });
    const big = fx.alloc(id, workerData.big);
    const small = fx.alloc(id, workerData.small);
    if (workerData.late) fx.allocAtTeardown(id, workerData.late);
    const env = mw.stats().external.environment;
    parentPort.postMessage({
      handles: [big, small],
      envId: env.id,
      row: env.tags[workerData.tag],
      offThreadCalls: env.offThreadCalls,
    });
    if (workerData.mode === 'idle' || workerData.mode === 'holder') parentPort.on('message', () => {}); // stays alive
    if (workerData.mode === 'busy') for (;;); // never returns to its loop
  \`;

  async function runOne(i) {
    const mode = MODES[i % MODES.length];
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { root: process.env.NMW_ROOT, fixture: process.env.NMW_FIXTURE, tag: TAG, big: BIG, small: SMALL, late: LATE, mode },
    });
    const exited = once(worker, 'exit');
    const [msg] = await Promise.race([once(worker, 'message'), exited.then(([code]) => { throw new Error('worker exited with ' + code + ' before posting'); })]);
    if (mode !== 'natural') await worker.terminate();
    const [code] = await exited;
    return { mode, code, ...msg };
  }

  (async () => {
    const id = mw.tag(TAG, { external: true });
    const s0 = mw.stats();
    const mainEnv = s0.external.environment;
    const results = [];
    let next = 0;
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < WORKERS) results.push(await runOne(next++));
    }));
    const s1 = mw.stats();
    // Holders: live workers that reuse owner slots of the environments that left the
    // blocks behind (the oldest torn-down slots), while those blocks are freed.
    const holders = [];
    for (let i = 0; i < HOLDERS; i++) {
      const worker = new Worker(WORKER, {
        eval: true,
        workerData: { root: process.env.NMW_ROOT, fixture: process.env.NMW_FIXTURE, tag: TAG, big: BIG, small: SMALL, late: 0, mode: 'holder' },
      });
      const [msg] = await once(worker, 'message');
      holders.push({ worker, envId: msg.envId });
    }
    const late = fx.takeTeardownBlocks();
    const handles = results.flatMap((r) => r.handles).concat(late);
    fx.freeMany(handles);
    await new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
    const s2 = mw.stats();
    const holderRows = holders.map((h) => {
      const env = s2.external.environments.find((e) => e.id === h.envId);
      return env && { id: env.id, owed: env.owed, reported: env.reported, pending: env.pending, row: env.tags[TAG] };
    });
    for (const h of holders) await h.worker.terminate();
    const pick = (s) => ({
      teardown: s.external.teardown,
      ownerSlots: s.external.ownerSlots,
      environments: s.external.environments.map((e) => e.id),
      mainEnv: s.external.environment,
      unattributedBytes: s.external.unattributedBytes,
      tag: { currBytes: s.tags[TAG].currBytes, currBlocks: s.tags[TAG].currBlocks },
      misuse: s.misuse.total,
    });
    console.log(JSON.stringify({
      BIG, SMALL, LATE, mainId: mainEnv.id, lateBlocks: late.length,
      results: results.map((r) => ({ mode: r.mode, code: r.code, envId: r.envId, row: r.row, offThreadCalls: r.offThreadCalls, nulls: r.handles.filter((h) => h === null).length })),
      s0: pick(s0), s1: pick(s1), s2: pick(s2), holderRows,
    }));
  })();
`;

function check(value, stderr, workers) {
  const { BIG, SMALL, LATE, mainId, lateBlocks, results, s0, s1, s2, holderRows } = value;
  const owedEach = BIG + SMALL + LATE; // at teardown
  assert.equal(lateBlocks, workers, 'every teardown hook allocated its block');
  assert.equal(results.length, workers);
  assert.doesNotMatch(stderr, /native-memwatch:/, 'no misuse line, no warning');

  const byMode = (mode) => results.filter((r) => r.mode === mode);
  assert.equal(byMode('natural').length, workers / 2);
  assert.equal(byMode('idle').length, workers / 4);
  assert.equal(byMode('busy').length, workers / 4);
  for (const r of results) {
    assert.equal(r.nulls, 0, 'every allocation succeeded');
    assert.equal(r.code, r.mode === 'natural' ? 0 : 1, `exit code of a ${r.mode} worker`);
    assert.notEqual(r.envId, mainId, 'a worker has an environment of its own');
    // The big block crossed the threshold on the worker's JS thread: reported at
    // once to the worker's isolate; the small one waits for a loop turn.
    assert.deepEqual(
      { owed: r.row.owed, reported: r.row.reported, pending: r.row.pending },
      { owed: BIG + SMALL, reported: BIG, pending: SMALL },
    );
    assert.equal(r.offThreadCalls, 0);
  }
  assert.equal(new Set(results.map((r) => r.envId)).size, workers, 'a distinct owner id per environment');

  // Teardown: every environment counted; reported + dropped = what they owed.
  const d = (key) => s1.teardown[key] - s0.teardown[key];
  assert.equal(d('environments'), workers);
  assert.equal(d('reportedBytes') + d('droppedBytes'), workers * owedEach);
  assert.ok(d('reportedBytes') >= workers * BIG, 'each worker still had its big block reported');
  // The teardown hooks' blocks were pending when native-memwatch heard of the
  // teardown: dropped, not reported. (The small blocks are usually reported by
  // then: Node turns the loop once while it closes the environment's handles.)
  assert.ok(d('droppedBytes') >= workers * LATE, 'the bytes allocated during teardown were dropped');
  assert.ok(d('droppedBytes') <= workers * (SMALL + LATE));
  assert.equal(s1.teardown.freedAfterBytes, s0.teardown.freedAfterBytes, 'nothing freed yet');

  // Holders (live while the blocks were freed) owe exactly their own blocks:
  // frees of blocks whose owner's slot they reuse were not credited to them.
  for (const h of holderRows) {
    assert.ok(h, 'the holder is listed');
    assert.equal(h.row.owed, BIG + SMALL, 'a holder owes its own blocks only');
    assert.equal(h.owed, BIG + SMALL);
    // Its small block may wait for its first loop turn; nothing more.
    assert.ok(h.row.reported === BIG || h.row.reported === BIG + SMALL, `reported ${h.row.reported}`);
    assert.equal(h.row.pending, BIG + SMALL - h.row.reported);
  }
  assert.deepEqual(s2.environments, [mainId, ...holderRows.map((h) => h.id)].sort((a, b) => (a & 0xff) - (b & 0xff)));

  // Bounded tables: only the main thread is live again.
  assert.deepEqual(s1.environments, [mainId]);
  assert.equal(s1.ownerSlots.live, 1);
  assert.equal(s1.ownerSlots.capacity, 255);
  assert.ok(s1.ownerSlots.used <= s1.ownerSlots.capacity, `slots used ${s1.ownerSlots.used}`);
  assert.equal(s1.tag.currBytes, workers * owedEach, 'the leaked blocks are still tracked');
  assert.equal(s1.unattributedBytes, 0);

  // Freed later from the main thread: counted exactly, credited to no live isolate.
  assert.equal(s2.teardown.freedAfterBytes - s1.teardown.freedAfterBytes, workers * owedEach);
  assert.equal(s2.teardown.freedAfterBlocks - s1.teardown.freedAfterBlocks, workers * 3);
  assert.deepEqual(
    s2.tag,
    { currBytes: holderRows.length * (BIG + SMALL), currBlocks: holderRows.length * 2 },
    'only the live holders still hold blocks',
  );
  const row = s2.mainEnv.tags['worker-ext'];
  assert.deepEqual(
    { owed: row.owed, reported: row.reported, pending: row.pending },
    { owed: 0, reported: 0, pending: 0 },
    "the main thread's isolate is not credited with the workers' blocks",
  );
  assert.equal(s2.mainEnv.offThreadCalls, 0);
  assert.equal(s2.mainEnv.reported, s2.mainEnv.owed);
  assert.equal(s2.misuse, s0.misuse, 'no misuse');
  return { s1 };
}

test('200 workers leave external memory behind: teardown counts it, tables stay bounded', async () => {
  const WORKERS = 200;
  const { value, stderr } = await runNodeJson(CHILD, { args: [String(WORKERS)], timeout: 300000 });
  const { s1 } = check(value, stderr, WORKERS);
  // 200 workers and the main thread fit in the 255 slots without reuse.
  assert.ok(s1.ownerSlots.used >= WORKERS + 1);
});

test('300 workers (more than the 255 owner slots): slots are reused; freeing stale blocks spares the new owner', async () => {
  const WORKERS = 300;
  const { value, stderr } = await runNodeJson(CHILD, { args: [String(WORKERS), '8'], timeout: 300000 });
  const { s1 } = check(value, stderr, WORKERS);
  assert.equal(value.holderRows.length, 8);
  // Every holder took the slot of an environment that left blocks behind.
  const staleSlots = new Set(value.results.map((r) => r.envId & 0xff));
  const staleIds = new Set(value.results.map((r) => r.envId));
  for (const h of value.holderRows) {
    assert.ok(staleSlots.has(h.id & 0xff), `holder ${h.id} reuses a slot`);
    assert.ok(!staleIds.has(h.id), 'with a new generation');
  }
  // Slots were reused: blocks of an environment whose slot went to a later one were
  // still freed as "after teardown", not credited to the later owner.
  assert.equal(s1.ownerSlots.used, s1.ownerSlots.capacity);
});

test('the process exits cleanly with external memory owed, pending and churning in a worker', async () => {
  // Natural exit, process.exit() from the main thread, and process.exit() while a
  // worker is still churning on the pool for its own environment.
  const source = (how) => `
    const { Worker } = require('node:worker_threads');
    const mw = require(process.env.NMW_ROOT);
    const fx = require(process.env.NMW_FIXTURE);
    const id = mw.tag('exit-ext', { external: true });
    const kept = [fx.alloc(id, 3 * 1024 * 1024)]; // reported at once
    const worker = new Worker(\`
      const { parentPort } = require('node:worker_threads');
      require(process.env.NMW_ROOT);
      const fx = require(process.env.NMW_FIXTURE);
      const id = fx.tag('exit-ext');
      fx.alloc(id, 2 * 1024 * 1024);
      const loop = () => fx.churnEnvAsync(id, 32768, 10000, 16).then(loop, () => {});
      loop();
      parentPort.postMessage('churning');
    \`, { eval: true });
    worker.once('message', () => {
      kept.push(fx.alloc(id, 1000)); // pending: no loop turn before the exit
      const e = mw.stats().external.environment;
      console.log(JSON.stringify({ reported: e.tags['exit-ext'].reported, pending: e.tags['exit-ext'].pending }));
      if (${JSON.stringify(how)} === 'exit') process.exit(0);
      if (${JSON.stringify(how)} === 'natural') worker.unref();
    });
  `;
  for (const how of ['natural', 'exit']) {
    const { value, stderr } = await runNodeJson(source(how));
    assert.deepEqual(value, { reported: 3 * 1024 * 1024, pending: 1000 }, how);
    assert.equal(stderr, '', `${how}: nothing on stderr`);
  }
});
