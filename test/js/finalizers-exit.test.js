'use strict';

// The exit report, in child processes: natural exit (Node tears the main
// environment down and runs what is still live: "at teardown"), process.exit()
// and a fatal exception (nothing runs: "never run", as in Node's
// test_instance_data/test_process_exit), and finalizers queued by a GC during
// 'exit' (test_env_teardown_gc). Each child prints the report its onExit
// listener got (phase "exit"); NATIVE_MEMWATCH_EXIT_REPORT holds the one the
// addon rewrote at the very end (phase "atexit").

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { runNode } = require('../helpers/child.js');
const { buildFinalizerFixture, fixtureSite } = require('../helpers/finalizer-fixture.js');

const FIXTURE = buildFinalizerFixture();

// Tags: kept (alive at exit), gc (collected before exit), cancelled, instance data,
// and late (made and collected during 'exit').
const CHILD = `
  const mw = require(process.env.NMW_ROOT);
  const fx = require(process.env.FIN_FIXTURE);
  const t = (name) => fx.tag('x-' + name);
  mw.finalizers.onExit((report) => console.log('REPORT ' + JSON.stringify(report)));
  globalThis.kept = [];
  (function make() {
    for (let i = 0; i < 5; i++) { const o = {}; fx.wrap(o, t('kept'), i % 2 === 0); kept.push(o); }
    for (let i = 0; i < 3; i++) kept.push(fx.createExternal(t('kept-ext')));
    for (let i = 0; i < 2; i++) kept.push(fx.createExternalBuffer(32, t('kept-buf')));
    for (let i = 0; i < 10; i++) fx.wrap({}, t('gc'), false);
    for (let i = 0; i < 4; i++) { const o = {}; fx.wrap(o, t('cancelled'), false); fx.removeWrap(o, t('cancelled')); }
    fx.setInstanceData(t('instance'), 1);
    fx.setInstanceData(t('instance'), 2);
  })();
  process.on('exit', () => {
    // After native-memwatch's own 'exit' listener: not in the "exit" report.
    (function late() { for (let i = 0; i < 6; i++) fx.wrap({}, t('late'), false); })();
    mw.gc(); // queued, never drained by the loop: they run at teardown
  });
  mw.settle().then(() => {
    const mode = process.argv[1];
    if (mode === 'exit') setTimeout(() => process.exit(3), 1);
    if (mode === 'throw') setTimeout(() => { throw new Error('boom'); }, 1);
  });
`;

async function run(mode) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmw-exit-'));
  const file = path.join(dir, 'report.json');
  const result = await runNode(CHILD, {
    args: [mode],
    env: { FIN_FIXTURE: FIXTURE, NATIVE_MEMWATCH_EXIT_REPORT: file },
  });
  const line = result.stdout.split('\n').find((l) => l.startsWith('REPORT '));
  assert.ok(line, `no report on stdout\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
  const atExit = JSON.parse(fs.readFileSync(file, 'utf8'));
  fs.rmSync(dir, { recursive: true, force: true });
  return { result, listener: JSON.parse(line.slice(7)), atExit };
}

const c = (registered, finalized, finalizedAtTeardown, cancelled, live, neverRun) => ({
  registered,
  finalized,
  finalizedAtTeardown,
  cancelled,
  live,
  neverRun,
});

function mainEnv(report) {
  const envs = report.environments.filter((e) => e.threadId === 0);
  assert.equal(envs.length, 1, JSON.stringify(report.environments));
  return envs[0];
}

// Records live at the 'exit' event, per tag and site.
function checkLiveAtExit(report) {
  assert.equal(report.neverRun.count, 11);
  assert.deepEqual(report.neverRun.tags, { 'x-kept': 5, 'x-kept-ext': 3, 'x-kept-buf': 2, 'x-instance': 1 });
  const sites = report.neverRun.sites.map((s) => [s.tag, s.kind, path.basename(s.file), s.line, s.function, s.count]);
  const at = (name) => fixtureSite(name).line;
  assert.deepEqual(
    sites.sort(),
    [
      ['x-instance', 'instance_data', 'fixture.c', at('instanceData'), 'fx_set_instance_data', 1],
      ['x-kept', 'wrap', 'fixture.c', at('wrap'), 'fx_wrap', 5],
      ['x-kept-buf', 'external_buffer', 'fixture.c', at('externalBuffer'), 'fx_create_external_buffer', 2],
      ['x-kept-ext', 'external', 'fixture.c', at('external'), 'fx_create_external', 3],
    ].sort(),
  );
  for (const s of report.neverRun.sites) {
    assert.equal(s.threadId, 0);
    assert.ok(s.oldestAgeMs >= 0);
  }
}

test('natural exit: what is live at exit runs at teardown', async () => {
  const { result, listener, atExit } = await run('natural');
  assert.equal(result.code, 0, result.stderr);
  // At the 'exit' event: not final, Node still tears the environment down.
  assert.equal(listener.phase, 'exit');
  assert.equal(listener.exit, 'natural');
  assert.equal(listener.exitCode, 0);
  assert.equal(listener.final, false);
  checkLiveAtExit(listener);
  const before = mainEnv(listener);
  assert.equal(before.state, 'live');
  assert.deepEqual(before.tags['x-kept'], c(5, 0, 0, 0, 5, 0));
  assert.deepEqual(before.tags['x-gc'], c(10, 10, 0, 0, 0, 0));
  assert.equal(before.tags['x-late'], undefined);
  // At process exit, after the teardown: everything ran.
  assert.equal(atExit.phase, 'atexit');
  assert.equal(atExit.exit, 'natural');
  assert.equal(atExit.final, true);
  assert.equal(atExit.neverRun.count, 0);
  const after = mainEnv(atExit);
  assert.equal(after.state, 'torn_down');
  assert.deepEqual(after.tags['x-kept'], c(5, 0, 5, 0, 0, 0));
  assert.deepEqual(after.tags['x-kept-ext'], c(3, 0, 3, 0, 0, 0));
  assert.deepEqual(after.tags['x-kept-buf'], c(2, 0, 2, 0, 0, 0));
  assert.deepEqual(after.tags['x-gc'], c(10, 10, 0, 0, 0, 0));
  assert.deepEqual(after.tags['x-cancelled'], c(4, 0, 0, 4, 0, 0));
  assert.deepEqual(after.tags['x-instance'], c(2, 0, 1, 1, 0, 0));
  // Made and collected during 'exit' (test_env_teardown_gc): run at teardown.
  assert.deepEqual(after.tags['x-late'], c(6, 0, 6, 0, 0, 0));
});

test('process.exit(): nothing more runs, what is live never ran (test_process_exit)', async () => {
  const { result, listener, atExit } = await run('exit');
  assert.equal(result.code, 3, result.stderr);
  checkLiveAtExit(listener);
  for (const report of [listener, atExit]) {
    assert.equal(report.exit, 'process.exit');
    assert.equal(report.exitCode, 3);
    assert.equal(report.final, true);
    const env = mainEnv(report);
    assert.equal(env.state, 'live'); // never torn down
    assert.deepEqual(env.tags['x-kept'], c(5, 0, 0, 0, 0, 5));
    assert.deepEqual(env.tags['x-instance'], c(2, 0, 0, 1, 0, 1));
    assert.deepEqual(env.tags['x-gc'], c(10, 10, 0, 0, 0, 0));
    assert.deepEqual(env.tags['x-cancelled'], c(4, 0, 0, 4, 0, 0));
  }
  assert.equal(listener.phase, 'exit');
  assert.equal(atExit.phase, 'atexit');
  // Made during 'exit', after the listener's report: never ran either.
  assert.deepEqual(mainEnv(atExit).tags['x-late'], c(6, 0, 0, 0, 0, 6));
  assert.equal(atExit.neverRun.count, 11 + 6);
  assert.equal(atExit.neverRun.tags['x-late'], 6);
});

test('a fatal exception: like process.exit()', async () => {
  const { result, listener, atExit } = await run('throw');
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Error: boom/);
  assert.equal(listener.exit, 'uncaught-exception');
  assert.equal(listener.final, true);
  checkLiveAtExit(listener);
  assert.equal(atExit.exit, 'uncaught-exception');
  assert.deepEqual(mainEnv(atExit).tags['x-kept'], c(5, 0, 0, 0, 0, 5));
});

test('a double finalization prints one misuse line naming the registering site', async () => {
  const source = `
    const mw = require(process.env.NMW_ROOT);
    const binding = require(process.env.NMW_ROOT + '/lib/binding.js');
    const fx = require(process.env.FIN_FIXTURE);
    const tag = fx.tag('x-twice');
    (function make() { fx.createExternal(tag); })();
    const [row] = mw.finalizers.live({ tag: 'x-twice' });
    mw.settle().then(() => {
      binding._testing.finalizeAgain(row.id);
      binding._testing.finalizeAgain(row.id);
      console.log(JSON.stringify({ id: row.id, misuse: mw.stats().misuse.doubleFinalize, counts: mw.finalizers().tags['x-twice'].finalized }));
    });
  `;
  const result = await runNode(source, { env: { FIN_FIXTURE: FIXTURE } });
  assert.equal(result.code, 0, result.stderr);
  const out = JSON.parse(result.stdout.trim().split('\n').pop());
  assert.equal(out.misuse, 2);
  assert.equal(out.counts, 1);
  const { line } = fixtureSite('external');
  const re = new RegExp(
    `^native-memwatch: double_finalize at (?:\\S*/)?fixture\\.c:${line} in fx_create_external\\(\\): ` +
      `the finalizer of record ${out.id} ran again \\(reported once per site\\)$`,
    'm',
  );
  assert.match(result.stderr, re);
  assert.equal(result.stderr.match(/double_finalize/g).length, 1); // once per site
});
