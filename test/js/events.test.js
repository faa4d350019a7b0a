'use strict';
// mw as an EventEmitter: 'gc', 'stats', 'leak'; sources installed only while
// someone listens; a throwing listener; configure({leak}); heap snapshots at
// the first heap leak; worker threads. Events are awaited, never timed.

const test = require('node:test');
const assert = require('node:assert/strict');
const EventEmitter = require('node:events');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
const { buildFixture, BINARY } = require('../helpers/build.js');
const mw = require(ROOT);
const { testing, GC_HEAP_FIELDS, reasonText } = require('../../lib/events.js');

function child(source) {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return spawnSync(process.execPath, ['-e', source], { encoding: 'utf8', env, cwd: os.tmpdir() });
}

test('mw is an EventEmitter and keeps its exports; emitter state is not an export', () => {
  assert.ok(mw instanceof EventEmitter);
  for (const name of ['on', 'once', 'off', 'addListener', 'removeListener', 'removeAllListeners', 'listenerCount']) {
    assert.equal(typeof mw[name], 'function', name);
    assert.ok(Object.keys(mw).includes(name), name);
  }
  for (const name of ['emit', 'prependListener', 'listeners', 'rawListeners', 'eventNames', 'setMaxListeners']) {
    assert.equal(typeof mw[name], 'function', name);
    assert.ok(!Object.keys(mw).includes(name), `${name} comes from the prototype`);
  }
  for (const key of Object.keys(mw)) assert.ok(!key.startsWith('_'), key);
  assert.equal(typeof mw.stats, 'function');
  const fn = () => {};
  assert.equal(mw.on('custom', fn), mw);
  assert.equal(mw.listenerCount('custom'), 1);
  assert.equal(mw.off('custom', fn), mw);
  assert.equal(mw.listenerCount('custom'), 0);
  let got = null;
  mw.once('custom', (x) => (got = x));
  assert.equal(mw.emit('custom', 42), true);
  assert.equal(got, 42);
  assert.equal(mw.listenerCount('custom'), 0);
});

test('bad arguments name the argument', () => {
  assert.throws(() => mw.on('gc'), { name: 'TypeError', message: /listener/ });
  assert.throws(() => mw.on(42, () => {}), { name: 'TypeError', message: /event/ });
  assert.throws(() => mw.once({}, () => {}), { name: 'TypeError', message: /event/ });
  assert.throws(() => mw.removeAllListeners(null), { name: 'TypeError', message: /event/ });
  assert.throws(() => mw.listenerCount(), { name: 'TypeError', message: /event/ });
});

test('no source is installed while nobody listens; the last listener removed uninstalls', () => {
  assert.deepEqual(testing.sources(), { observer: false, profiler: false, monitor: false, timer: false });
  const fn = () => {};
  mw.on('stats', fn);
  assert.deepEqual(testing.sources(), { observer: true, profiler: false, monitor: false, timer: false });
  mw.on('gc', fn);
  assert.equal(testing.sources().profiler, true);
  mw.once('leak', fn);
  assert.equal(testing.sources().monitor, true);
  assert.equal(testing.sources().timer, true);
  mw.removeListener('gc', fn);
  assert.equal(testing.sources().profiler, false);
  mw.removeAllListeners(); // every event, no argument
  assert.deepEqual(testing.sources(), { observer: false, profiler: false, monitor: false, timer: false });
  mw.prependOnceListener('stats', fn); // prototype methods count too
  assert.equal(testing.sources().observer, true);
  mw.off('stats', fn);
  assert.equal(testing.sources().observer, false);
});

test("'gc': gc-stats' fields for a forced full GC", async () => {
  const got = new Promise((resolve) => {
    const fn = (e) => {
      if (e.gctype !== 2) return;
      mw.off('gc', fn);
      resolve(e);
    };
    mw.on('gc', fn);
  });
  mw.gc();
  const e = await got;
  assert.equal(e.kind, 'mark-sweep-compact');
  assert.equal(e.forced, true);
  assert.ok(Number.isSafeInteger(e.startTime) && Number.isSafeInteger(e.pause) && e.pause > 0);
  assert.equal(e.endTime, e.startTime + e.pause);
  assert.equal(e.pauseMS, e.pause / 1e6);
  assert.equal(e.measured, 'gc');
  for (const side of ['before', 'after', 'diff']) assert.deepEqual(Object.keys(e[side]), GC_HEAP_FIELDS, side);
  for (const k of GC_HEAP_FIELDS) assert.equal(e.diff[k], e.after[k] - e.before[k], k);
  assert.ok(e.after.used_heap_size > 0);
});

test("'stats': memwatch's, @airbnb/node-memwatch's and our fields after a full GC", async () => {
  const tag = mw.tag('events.stats');
  void tag;
  const got = new Promise((resolve) => mw.once('stats', resolve));
  mw.gc();
  const s = await got;
  for (const k of ['num_full_gc', 'num_inc_gc', 'heap_compactions', 'estimated_base', 'current_base', 'min', 'max', 'usage_trend']) {
    assert.equal(typeof s[k], 'number', k);
  }
  for (const k of ['gc_ts', 'gcScavengeCount', 'gcScavengeTime', 'gcMarkSweepCompactCount', 'gcMarkSweepCompactTime',
    'gcIncrementalMarkingCount', 'gcIncrementalMarkingTime', 'gcProcessWeakCallbacksCount', 'gcProcessWeakCallbacksTime', 'gc_time']) {
    assert.equal(typeof s[k], 'number', k);
  }
  for (const k of Object.keys(require('node:v8').getHeapStatistics())) assert.equal(typeof s[k], 'number', k);
  assert.ok(s.num_full_gc >= 1 && s.gcMarkSweepCompactCount >= 1);
  assert.ok(s.current_base > 0 && s.current_base === s.used_heap_size);
  assert.ok(Math.abs(s.gc_ts / 1000 - Date.now()) < 3600e3, 'microseconds since the epoch');
  assert.equal(typeof s.native.bytes, 'number');
  assert.ok(Object.prototype.hasOwnProperty.call(s.native.tags, 'events.stats'));
  assert.equal(typeof s.finalizers.live, 'number');
  assert.deepEqual(Object.keys(s.external), ['v8', 'arrayBuffers', 'reported']);
});

test('a throwing listener: the others still run, the error is an uncaught exception', () => {
  const r = child(`
    const mw = require(${JSON.stringify(ROOT)});
    const seen = [];
    process.on('uncaughtException', (err) => { seen.push('uncaught:' + err.message); });
    mw.on('stats', () => { throw new Error('boom'); });
    mw.on('stats', () => seen.push('second'));
    mw.gc();
    setTimeout(() => {
      mw.removeAllListeners();
      console.log(JSON.stringify(seen));
    }, 1500);
  `);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ['second', 'uncaught:boom']);
});

test('configure({leak}) merges, reports, and checks its options before applying any', () => {
  const before = mw.configure().leak;
  assert.equal(before.interval, 1000);
  assert.deepEqual(before.kinds, ['heap', 'native', 'finalizers', 'external', 'handles']);
  assert.throws(() => mw.configure({ leak: { samples: 3 } }), { name: 'RangeError', message: /options\.leak\.samples/ });
  assert.throws(() => mw.configure({ leak: 1 }), { name: 'TypeError', message: /options\.leak/ });
  assert.throws(() => mw.configure({ external: { threshold: 1 }, leak: { bogus: 1 } }), { name: 'TypeError', message: /options\.leak\.bogus/ });
  const after = mw.configure({ leak: { minGrowth: 2 * 1024 * 1024 } }).leak;
  assert.equal(after.minGrowth, 2 * 1024 * 1024);
  assert.equal(after.interval, 1000);
  mw.configure({ leak: { minGrowth: before.minGrowth } });
});

test('reason: sane with a zero interval; rates per hour', () => {
  assert.equal(reasonText('heap', null, 2 * 1024 * 1024, 0, 9), 'the V8 heap (used after GC) grew by 2.00 MiB over 0 ms (9 samples, growing in each third) - rate unknown');
  assert.match(reasonText('native', 'pool', 1024 * 1024, 3600e3, 9), /native memory of tag "pool" grew by 1\.00 MiB over 60\.0 min .* - 1\.00 MiB\/hr$/);
  assert.match(reasonText('handles', 'Timeout', 90, 18000, 9), /active Timeout resources grew by 90 over 18\.0 s .* - 18000\/hr$/);
});

test('heapSnapshot: a snapshot is written at the first heap leak, its path in the event', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmw-leak-snap-'));
  try {
    const r = child(`
      const mw = require(${JSON.stringify(ROOT)});
      const { testing } = require(${JSON.stringify(path.join(ROOT, 'lib/events.js'))});
      mw.configure({ leak: { heapSnapshot: ${JSON.stringify(dir)}, kinds: ['heap'] } });
      const drive = testing.drive({ start: 0 });
      const events = [];
      mw.on('leak', (e) => events.push(e));
      const keep = [];
      (async () => {
        for (let i = 0; i < 80; i++) {
          for (let k = 0; k < 500; k++) keep.push(new Array(126).fill(k));
          await drive.tick();
        }
        mw.removeAllListeners();
        console.log(JSON.stringify(events.map((e) => ({ kind: e.kind, heapSnapshot: e.heapSnapshot }))));
      })();
    `);
    assert.equal(r.status, 0, r.stderr);
    const events = JSON.parse(r.stdout);
    assert.ok(events.length >= 2, r.stdout);
    assert.equal(events[0].kind, 'heap');
    assert.ok(events[0].heapSnapshot.startsWith(dir) && fs.statSync(events[0].heapSnapshot).size > 0);
    assert.equal(events[1].heapSnapshot, undefined, 'only at the first');
    assert.equal(fs.readdirSync(dir).length, 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('workers: native series are read on the main thread only, unless leak.workers', () => {
  buildFixture();
  const r = child(`
    const { Worker } = require('node:worker_threads');
    const code = \`
      const mw = require(${JSON.stringify(ROOT)});
      const { parentPort } = require('node:worker_threads');
      const { testing } = require(${JSON.stringify(path.join(ROOT, 'lib/events.js'))});
      const cx = require(${JSON.stringify(BINARY)});
      const block = cx.alloc(cx.tag('events.worker'), 4096);
      testing.drive({ start: 0 });
      mw.on('leak', () => {});
      const kinds = (m) => [...new Set([...m.keys()].map((k) => k.split(':')[0]))].sort();
      const a = kinds(testing.monitor.read());
      mw.configure({ leak: { workers: true } });
      const b = kinds(testing.monitor.read());
      mw.removeAllListeners();
      cx.free(block);
      parentPort.postMessage({ a, b });
    \`;
    const w = new Worker(code, { eval: true });
    w.on('message', (m) => console.log(JSON.stringify(m)));
  `);
  assert.equal(r.status, 0, r.stderr);
  const { a, b } = JSON.parse(r.stdout);
  assert.ok(!a.includes('native'), JSON.stringify(a));
  assert.ok(a.includes('heap'));
  assert.ok(b.includes('native'), JSON.stringify(b));
});
