'use strict';
// The leak corpus (test/leak-corpus/): every scenario runs as a child process and
// the detector's verdict must be the expected one: leaking scenarios report
// their kind (and tag) within 30 s of the leak's start, clean ones report nothing.
// Time is virtual: the harness ticks the detector's clock after each second of
// work (lib/events.js testing.drive()), so nothing here depends on the machine's
// speed. Two children at a time.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { buildFixture, BINARY } = require('../helpers/build.js');
const { buildFinalizerFixture } = require('../helpers/finalizer-fixture.js');

const CORPUS = path.resolve(__dirname, '../leak-corpus');
const scenarios = require(path.join(CORPUS, 'index.js'));

buildFixture();
const FIN = buildFinalizerFixture();

function runScenario(name) {
  return new Promise((resolve) => {
    const env = { ...process.env, NMW_CONSUMER_FIXTURE: BINARY, NMW_FIN_FIXTURE: FIN };
    delete env.NODE_TEST_CONTEXT;
    // V8 without background GC threads and without its timer-driven memory
    // reducer: when V8 collects then depends only on what the program
    // allocates, not on how the machine schedules threads or how fast it runs,
    // so neither can change a verdict (a clean scenario alarmed once in a
    // loaded CI run without this). bench/events measures the defaults, in real time.
    const child = spawn(process.execPath, ['--single-threaded', '--no-memory-reducer', path.join(CORPUS, `${name}.js`)], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const results = new Map();
test.before(async () => {
  const queue = [...scenarios];
  const worker = async () => {
    for (let s = queue.shift(); s !== undefined; s = queue.shift()) results.set(s.name, await runScenario(s.name));
  };
  await Promise.all([worker(), worker()]);
});

test('the corpus has at least 16 scenarios, at least 8 leaking and 8 clean, every kind covered', () => {
  assert.ok(scenarios.length >= 16);
  assert.ok(scenarios.filter((s) => s.leak).length >= 8);
  assert.ok(scenarios.filter((s) => !s.leak).length >= 8);
  const kinds = new Set(scenarios.filter((s) => s.leak).map((s) => s.leak.kind));
  assert.deepEqual([...kinds].sort(), ['external', 'finalizers', 'handles', 'heap', 'native']);
});

for (const s of scenarios) {
  test(`${s.name}: ${s.leak ? `leak of kind ${s.leak.kind}${s.leak.tag ? ` (${s.leak.tag})` : ''}` : 'no leak'}`, () => {
    const r = results.get(s.name);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop());
    const detail = JSON.stringify(out.events, null, 1);
    if (!s.leak) {
      assert.deepEqual(out.events, [], `false alarm: ${detail}`);
      return;
    }
    assert.ok(out.events.length >= 1, 'no leak event');
    // Every event is the leak we planted (no other series cries wolf).
    for (const e of out.events) {
      assert.equal(e.kind, s.leak.kind, detail);
      assert.equal(e.tag, s.leak.tag, detail);
      assert.ok(e.growth > 0 && e.samples >= 9, detail);
      assert.ok(e.start >= s.leakStart - 20, detail);
      if (s.leak.worker) assert.notEqual(e.threadId, 0, 'reported by the worker, not the main thread');
    }
    const first = out.events[0];
    assert.ok(first.t - s.leakStart <= 30, `reported ${first.t - s.leakStart} s after the leak started`);
    if (s.leak.kind === 'native' || s.leak.kind === 'finalizers') {
      assert.ok(first.top.length >= 1 && typeof first.top[0].file === 'string', `top names the site: ${detail}`);
    }
    if (s.leak.kind === 'handles') assert.deepEqual(first.top[0].type, s.leak.tag);
    if (s.leak.worker) assert.equal(out.mainEvents, 0);
  });
}
