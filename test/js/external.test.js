'use strict';

// External memory: the flag, explicit adjustments, unattributed bytes, the
// threshold and its configuration. Every amount is checked to the byte: what this
// environment owes V8 per tag, what it reported, what is pending, and how many
// napi_adjust_external_memory calls it made.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Worker } = require('node:worker_threads');
const { once } = require('node:events');

const mw = require('../../');
const { loadFixture, BINARY, ROOT } = require('../helpers/build.js');
const { runNodeJson } = require('../helpers/child.js');
const { freshTag } = require('../helpers/common.js');
const { turn, envAudit, tagAudit, MiB } = require('../helpers/external.js');

const fx = loadFixture();

const NMW_EINVAL = -1;

/** {owed, explicitOwed, reported, pending} of one tag in this environment. */
function amounts(name) {
  const row = tagAudit(mw, name);
  return { owed: row.owed, explicitOwed: row.explicitOwed, reported: row.reported, pending: row.pending };
}

test('mw.tag(name, {external: true}) and setExternal() set the flag, from JS and from C', () => {
  const a = freshTag('ext-flag');
  const id = mw.tag(a, { external: true });
  const flag = (name) => mw.tags().find((t) => t.name === name).external;
  assert.equal(flag(a), true);
  assert.ok(a in envAudit(mw).tags, 'an external tag is audited per environment');
  mw.setExternal(a, false);
  assert.equal(flag(a), false);
  assert.ok(!(a in envAudit(mw).tags), 'a tag that is not external is not listed');
  mw.setExternal(id, true);
  assert.equal(flag(a), true);

  const b = freshTag('ext-flag-c');
  const bid = mw.tag(b);
  assert.equal(flag(b), false);
  assert.equal(fx.setExternal(bid, true), 0, 'nmw_tag_set_external');
  assert.equal(flag(b), true);
  assert.equal(fx.setExternal(bid, false), 0);
  assert.equal(flag(b), false);

  assert.throws(() => mw.setExternal(a, 'yes'), TypeError);
  assert.throws(() => mw.setExternal(freshTag('never-registered'), true));
});

test('blocks keep the flag they were allocated with', async () => {
  const name = freshTag('ext-keep');
  const id = mw.tag(name, { external: true });
  await turn();
  const before = envAudit(mw);
  const flagged = fx.alloc(id, 2 * MiB); // crosses the threshold on the JS thread: reported now
  assert.deepEqual(amounts(name), { owed: 2 * MiB, explicitOwed: 0, reported: 2 * MiB, pending: 0 });
  assert.equal(envAudit(mw).adjustCalls, before.adjustCalls + 1, 'one synchronous report');
  mw.setExternal(name, false);
  const plain = fx.alloc(id, 3 * MiB); // not external: not owed
  mw.setExternal(name, true);
  assert.equal(tagAudit(mw, name).owed, 2 * MiB);
  fx.free(plain, id);
  assert.equal(tagAudit(mw, name).owed, 2 * MiB, 'freeing a block allocated unflagged changes nothing');
  fx.free(flagged, id);
  await turn();
  assert.deepEqual(amounts(name), { owed: 0, explicitOwed: 0, reported: 0, pending: 0 });
  assert.equal(envAudit(mw).offThreadCalls, 0);
});

test('nmw_external_adjust up and down is reported exactly and audited per tag', async () => {
  const name = freshTag('ext-adjust');
  const id = mw.tag(name, { external: true });
  await turn();
  const calls0 = envAudit(mw).adjustCalls;
  const callsNow = () => envAudit(mw).adjustCalls - calls0;

  // 5 MiB up: past the threshold on the JS thread, reported before the call returns.
  assert.equal(fx.adjust(id, 5 * MiB), 0);
  assert.deepEqual(amounts(name), { owed: 5 * MiB, explicitOwed: 5 * MiB, reported: 5 * MiB, pending: 0 });
  assert.equal(callsNow(), 1);

  // 2 MiB down: a fall is not urgent, it is reported on the next loop turn.
  assert.equal(fx.adjust(id, -2 * MiB), 0);
  assert.deepEqual(amounts(name), { owed: 3 * MiB, explicitOwed: 3 * MiB, reported: 5 * MiB, pending: -2 * MiB });
  await turn();
  assert.deepEqual(amounts(name), { owed: 3 * MiB, explicitOwed: 3 * MiB, reported: 3 * MiB, pending: 0 });
  assert.equal(callsNow(), 2);

  // Small changes wait for the loop turn.
  assert.equal(fx.adjust(id, 1000), 0);
  assert.equal(fx.adjust(id, 234), 0);
  assert.deepEqual(amounts(name), { owed: 3 * MiB + 1234, explicitOwed: 3 * MiB + 1234, reported: 3 * MiB, pending: 1234 });
  await turn();
  assert.equal(tagAudit(mw, name).reported, 3 * MiB + 1234);
  assert.equal(callsNow(), 3);

  // Blocks and explicit amounts of one tag add up.
  const h = fx.alloc(id, 4096);
  assert.equal(tagAudit(mw, name).owed, 3 * MiB + 1234 + 4096);
  assert.equal(tagAudit(mw, name).explicitOwed, 3 * MiB + 1234);
  fx.free(h, id);

  // Back to zero.
  assert.equal(fx.adjust(id, -(3 * MiB + 1234)), 0);
  await turn();
  const row = tagAudit(mw, name);
  assert.deepEqual(
    { ...amounts(name), explicitCalls: row.explicitCalls, belowZero: row.belowZero },
    { owed: 0, explicitOwed: 0, reported: 0, pending: 0, explicitCalls: 5, belowZero: 0 },
  );
  assert.equal(callsNow(), 4, 'the 4 KiB block came and went between two flushes');

  // Only external tags can be adjusted.
  const plain = mw.tag(freshTag('ext-adjust-plain'));
  assert.equal(fx.adjust(plain, 1000), NMW_EINVAL);
});

test('explicit adjustments from a pool thread naming the env are reported on the JS thread', async () => {
  const name = freshTag('ext-adjust-pool');
  const id = mw.tag(name, { external: true });
  await turn();
  await fx.adjustAsync(id, 10_000, 100); // 1,000,000 bytes in 100 calls, off the JS thread
  await turn();
  const row = tagAudit(mw, name);
  assert.deepEqual(
    { ...amounts(name), explicitCalls: row.explicitCalls },
    { owed: 1_000_000, explicitOwed: 1_000_000, reported: 1_000_000, pending: 0, explicitCalls: 100 },
  );
  await fx.adjustAsync(id, -10_000, 100);
  await turn();
  assert.deepEqual(amounts(name), { owed: 0, explicitOwed: 0, reported: 0, pending: 0 });
  assert.equal(envAudit(mw).offThreadCalls, 0);
});

test('off-thread allocations with no env are tracked as unattributed', async () => {
  const name = freshTag('ext-unattributed');
  const id = mw.tag(name, { external: true });
  await turn();
  const u0 = mw.stats().external.unattributedBytes;
  const env0 = envAudit(mw);

  const noEnv = await fx.allocNoEnvAsync(id, 1000, 10); // nmw_malloc_env(..., NULL)
  const plainPool = await fx.allocAsync(id, 500, 4); // nmw_malloc on a pool thread
  assert.equal(noEnv.filter((h) => h === null).length, 0);
  assert.equal(mw.stats().external.unattributedBytes, u0 + 10_000 + 2000);
  assert.equal(mw.stats().tags[name].currBytes, 12_000, 'tracked as usual');
  assert.deepEqual(amounts(name), { owed: 0, explicitOwed: 0, reported: 0, pending: 0 }, 'owed by no environment');

  // With the env named, the same allocation is owed by this environment.
  const withEnv = await fx.allocEnvAsync(id, 1000, 10);
  assert.equal(mw.stats().external.unattributedBytes, u0 + 12_000);
  assert.equal(tagAudit(mw, name).owed, 10_000);

  // Freed on the JS thread: unattributed bytes go back, the environment is not
  // credited with what it never owed.
  fx.freeMany(noEnv);
  await fx.freeAsync(plainPool);
  await turn();
  assert.equal(mw.stats().external.unattributedBytes, u0);
  assert.deepEqual(amounts(name), { owed: 10_000, explicitOwed: 0, reported: 10_000, pending: 0 });
  fx.freeMany(withEnv);
  await turn();
  assert.deepEqual(amounts(name), { owed: 0, explicitOwed: 0, reported: 0, pending: 0 });
  const env1 = envAudit(mw);
  assert.equal(env1.reported, env1.owed);
  assert.equal(env1.offThreadCalls, env0.offThreadCalls);
});

test("a block freed on another thread credits the environment that owns it", async () => {
  const name = freshTag('ext-cross');
  const id = mw.tag(name, { external: true });
  await turn();
  const h = fx.alloc(id, 2 * MiB);
  assert.equal(tagAudit(mw, name).reported, 2 * MiB);
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const mw = require(workerData.root);
     const fx = require(workerData.fixture);
     fx.free(workerData.handle, workerData.id);
     parentPort.postMessage(mw.stats().external.environment.tags[workerData.name]);`,
    { eval: true, workerData: { root: ROOT, fixture: BINARY, handle: h, id, name } },
  );
  const [workerRow] = await once(worker, 'message');
  await once(worker, 'exit');
  assert.equal(workerRow.owed, 0, "the worker's environment never owed the block");
  assert.equal(workerRow.reported, 0);
  assert.equal(tagAudit(mw, name).owed, 0, 'the owner was credited');
  await turn();
  assert.deepEqual(amounts(name), { owed: 0, explicitOwed: 0, reported: 0, pending: 0 });
  assert.equal(envAudit(mw).offThreadCalls, 0);
});

test('configure({external: {threshold}}) validates, applies and reports the threshold', () => {
  const initial = mw.configure().external.threshold;
  assert.equal(initial, MiB, 'default 1 MiB');
  assert.equal(mw.stats().external.threshold, initial);
  for (const bad of [0, -1, -MiB, 1.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(() => mw.configure({ external: { threshold: bad } }), RangeError, `threshold ${bad}`);
  }
  for (const bad of ['1024', null, 1024n, {}]) {
    assert.throws(() => mw.configure({ external: { threshold: bad } }), TypeError, `threshold ${String(bad)}`);
  }
  assert.throws(() => mw.configure({ external: 4096 }), TypeError);
  assert.throws(() => mw.configure({ external: { threshold: 4096, other: 1 } }), TypeError);
  assert.equal(mw.configure().external.threshold, initial, 'a refused configuration changes nothing');
  try {
    assert.equal(mw.configure({ external: { threshold: 4096 } }).external.threshold, 4096);
    assert.equal(mw.configure().external.threshold, 4096);
    assert.equal(mw.stats().external.threshold, 4096);
    assert.equal(mw.configure({ external: {} }).external.threshold, 4096, 'no threshold: unchanged');
  } finally {
    mw.configure({ external: { threshold: initial } });
  }
  assert.equal(mw.configure().external.threshold, initial);
});

test('the threshold: crossing it on the JS thread reports at once; below it, at the next loop turn', async () => {
  // A child process: the threshold is process-wide and each thread's share is
  // measured from where it last crossed it.
  const { value } = await runNodeJson(`
    const mw = require(process.env.NMW_ROOT);
    const fx = require(process.env.NMW_FIXTURE);
    const turn = () => new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
    const T = 256 * 1024;
    const snap = (label) => {
      const e = mw.stats().external.environment;
      const t = e.tags.thr;
      return { label, adjustCalls: e.adjustCalls, owed: t.owed, reported: t.reported, pending: t.pending };
    };
    (async () => {
      const config = mw.configure({ external: { threshold: T } });
      const id = mw.tag('thr', { external: true });
      await turn();
      const steps = [snap('start')];
      const a = fx.alloc(id, T / 2);
      steps.push(snap('half'));
      const b = fx.alloc(id, T / 2 - 1);
      steps.push(snap('one byte short'));
      const c = fx.alloc(id, 1);
      steps.push(snap('crossed'));
      const d = fx.alloc(id, 1000);
      steps.push(snap('small'));
      await turn();
      steps.push(snap('turn'));
      fx.free(a, id);
      fx.free(b, id);
      fx.free(c, id);
      fx.free(d, id);
      steps.push(snap('freed'));
      await turn();
      steps.push(snap('turn after free'));
      console.log(JSON.stringify({ threshold: config.external.threshold, statsThreshold: mw.stats().external.threshold, T, steps }));
    })();
  `);
  const { T, steps } = value;
  assert.equal(value.threshold, T);
  assert.equal(value.statsThreshold, T);
  const at = Object.fromEntries(steps.map((s) => [s.label, s]));
  const calls0 = at.start.adjustCalls;
  const view = (s) => ({ calls: s.adjustCalls - calls0, owed: s.owed, reported: s.reported, pending: s.pending });
  assert.deepEqual(view(at.start), { calls: 0, owed: 0, reported: 0, pending: 0 });
  assert.deepEqual(view(at.half), { calls: 0, owed: T / 2, reported: 0, pending: T / 2 }, 'below T: nothing reported');
  assert.deepEqual(view(at['one byte short']), { calls: 0, owed: T - 1, reported: 0, pending: T - 1 });
  assert.deepEqual(view(at.crossed), { calls: 1, owed: T, reported: T, pending: 0 }, 'reaching T: reported synchronously');
  assert.deepEqual(view(at.small), { calls: 1, owed: T + 1000, reported: T, pending: 1000 });
  assert.deepEqual(view(at.turn), { calls: 2, owed: T + 1000, reported: T + 1000, pending: 0 }, 'the loop turn flushed');
  assert.deepEqual(view(at.freed), { calls: 2, owed: 0, reported: T + 1000, pending: -(T + 1000) }, 'falls wait for the loop');
  assert.deepEqual(view(at['turn after free']), { calls: 3, owed: 0, reported: 0, pending: 0 });
});
