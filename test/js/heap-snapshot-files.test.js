'use strict';

// .heapsnapshot files: summaries and diffs of files V8 wrote, truncated and
// corrupt files rejected with byte offsets, writeHeapSnapshot's names and
// directories, snapshots on a signal and near the heap limit.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { threadId } = require('node:worker_threads');

const mw = require('../..');
const { runNode } = require('../helpers/child.js');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nmw-heapsnap-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const NAME_RE = new RegExp(`^Heap\\.\\d{8}\\.\\d{6}\\.\\d{3}\\.${process.pid}\\.${threadId}\\.\\d{3}\\.heapsnapshot$`);

class Gadget {
  constructor() {
    this.a = 1;
  }
}
const kept = [];
let fileA;
let fileB;

test('writeHeapSnapshot: generated names with pid, thread id and time; directories created', () => {
  fileA = mw.writeHeapSnapshot(path.join(tmp, 'a', 'b') + path.sep);
  assert.equal(path.dirname(fileA), path.join(tmp, 'a', 'b'));
  assert.match(path.basename(fileA), NAME_RE);
  for (let i = 0; i < 40; i++) kept.push(new Gadget());
  fileB = mw.writeHeapSnapshot(path.join(tmp, 'named', 'b.heapsnapshot'));
  assert.equal(fileB, path.join(tmp, 'named', 'b.heapsnapshot'));
  assert.ok(fs.statSync(fileB).size > 100000);
  const blocker = path.join(tmp, 'file');
  fs.writeFileSync(blocker, 'x');
  assert.throws(() => mw.writeHeapSnapshot(path.join(blocker, 'x.heapsnapshot')), { code: 'ERR_NMW_SNAPSHOT_DIR' });
  assert.throws(() => mw.writeHeapSnapshot(''), { name: 'TypeError', message: /path must be a non-empty string/ });
  assert.throws(() => mw.writeHeapSnapshot(3), { name: 'TypeError' });
});

test('diffHeapSnapshots: exact counts between two files of one process', async () => {
  const r = await mw.diffHeapSnapshots(fileA, fileB);
  assert.deepEqual(Object.keys(r), ['before', 'after', 'change']);
  const g = r.change.details.find((d) => d.what === 'Gadget');
  assert.equal(g['+'], 40);
  assert.equal(g['-'], 0);
  assert.equal(g.size_bytes % 40, 0);
  assert.equal(r.before.time.getTime(), fs.statSync(fileA).mtime.getTime());
  const withPaths = await mw.diffHeapSnapshots(fileA, fileB, { retainers: { top: 100, samples: 1 } });
  const gp = withPaths.change.details.find((d) => d.what === 'Gadget');
  assert.equal(gp.sampleIds.length, 1);
  assert.ok(gp.retainers[0].path.some((s) => s.edge === 'kept'), gp.retainers[0].text);
  await assert.rejects(mw.diffHeapSnapshots(fileA, fileB, { bogus: 1 }), { message: 'options.bogus is not a supported option' });
  await assert.rejects(mw.diffHeapSnapshots(fileA), { name: 'TypeError', message: /pathB/ });
});

test('summarizeHeapSnapshot: every class with its count and bytes, largest first', async () => {
  const s = await mw.summarizeHeapSnapshot(fileB);
  assert.deepEqual(Object.keys(s), ['nodes', 'time', 'size_bytes', 'size', 'reachable_nodes', 'details']);
  const g = s.details.find((d) => d.what === 'Gadget');
  assert.equal(g.count, 40);
  for (let i = 1; i < s.details.length; i++) assert.ok(s.details[i - 1].size_bytes >= s.details[i].size_bytes);
  // Hidden, synthetic and cons-string nodes count in size_bytes but have no row.
  const counted = s.details.reduce((t, d) => t + d.size_bytes, 0);
  assert.ok(counted > 0 && counted <= s.size_bytes);
  assert.ok(s.reachable_nodes <= s.nodes);
  await assert.rejects(mw.summarizeHeapSnapshot(path.join(tmp, 'missing.heapsnapshot')), { code: 'ENOENT' });
});

test('truncated and corrupt files: an Error with the byte offset', async () => {
  const text = fs.readFileSync(fileB);
  const cut = path.join(tmp, 'cut.heapsnapshot');
  fs.writeFileSync(cut, text.subarray(0, 123457));
  await assert.rejects(mw.summarizeHeapSnapshot(cut), (err) => {
    assert.equal(err.code, 'ERR_NMW_HEAP_SNAPSHOT');
    assert.equal(err.offset, 123457);
    assert.equal(err.path, cut);
    assert.equal(err.message, `${cut}: heap snapshot: unexpected end of input (truncated snapshot) at byte 123457`);
    return true;
  });
  // A letter inside "nodes": the offset is that byte's.
  const bad = Buffer.from(text);
  const at = bad.indexOf('"nodes":[') + 20;
  bad[at] = 'x'.charCodeAt(0);
  const corrupt = path.join(tmp, 'corrupt.heapsnapshot');
  fs.writeFileSync(corrupt, bad);
  await assert.rejects(mw.summarizeHeapSnapshot(corrupt), (err) => {
    assert.equal(err.offset, at);
    assert.match(err.message, /at byte \d+$/);
    return true;
  });
  const notJson = path.join(tmp, 'x.heapsnapshot');
  fs.writeFileSync(notJson, '[1,2,3]');
  await assert.rejects(mw.summarizeHeapSnapshot(notJson), { offset: 0, reason: "a heap snapshot is a JSON object: expected '{'" });
});

test('heapSnapshotOnSignal writes a snapshot per signal into the directory, and can be removed', async (t) => {
  // Node 24's test runner starts test files with diagnostic reports on signal
  // on: each SIGUSR2 would also leave a report.*.json in the working directory.
  const reportOnSignal = process.report.reportOnSignal;
  process.report.reportOnSignal = false;
  t.after(() => {
    process.report.reportOnSignal = reportOnSignal;
  });
  const dir = path.join(tmp, 'sig', 'dir');
  const got = [];
  let done;
  const twice = new Promise((resolve) => (done = resolve));
  const remove = mw.heapSnapshotOnSignal('SIGUSR2', {
    dir,
    onSnapshot(err, file) {
      got.push([err, file]);
      if (got.length === 2) done();
      else process.kill(process.pid, 'SIGUSR2');
    },
  });
  assert.ok(fs.statSync(dir).isDirectory()); // created at once
  assert.throws(() => mw.heapSnapshotOnSignal('SIGUSR2', { dir }), { code: 'ERR_NMW_SIGNAL_IN_USE' });
  // Signal watchers do not keep the loop alive; this interval does until both arrive.
  const alive = setInterval(() => {}, 1000);
  process.kill(process.pid, 'SIGUSR2');
  await twice;
  clearInterval(alive);
  assert.equal(remove(), true);
  assert.equal(remove(), false);
  assert.equal(got.length, 2);
  for (const [err, file] of got) {
    assert.equal(err, null);
    assert.equal(path.dirname(file), dir);
    assert.match(path.basename(file), NAME_RE);
  }
  assert.notEqual(got[0][1], got[1][1]);
  assert.throws(() => mw.heapSnapshotOnSignal('SIGUSR1'), { code: 'ERR_UNKNOWN_SIGNAL' });
  assert.throws(() => mw.heapSnapshotOnSignal('SIGNOPE'), { code: 'ERR_UNKNOWN_SIGNAL' });
  assert.throws(() => mw.heapSnapshotOnSignal('SIGUSR2', { dir, onSnapshot: 1 }), { name: 'TypeError' });
});

test('heapSnapshotNearLimit: a snapshot is written before the process dies of heap exhaustion', async () => {
  const dir = path.join(tmp, 'oom');
  fs.mkdirSync(dir);
  const r = await runNode(
    `
    const mw = require(process.env.NMW_ROOT);
    let threw = null;
    try { mw.heapSnapshotNearLimit({ dir: '/nonexistent-elsewhere', count: 1 }); } catch (e) { threw = e.code; }
    console.log(JSON.stringify({ threw, set: mw.heapSnapshotNearLimit({ count: 1 }) }));
    const hog = [];
    for (;;) hog.push(new Array(1000).fill({}));
    `,
    { cwd: dir, execArgv: ['--max-old-space-size=32'], timeout: 300000 },
  );
  assert.notEqual(r.code, 0);
  const first = JSON.parse(r.stdout.split('\n')[0]);
  assert.equal(first.threw, 'ERR_NMW_SNAPSHOT_DIR');
  assert.deepEqual(first.set, { dir: fs.realpathSync(dir), count: 1, thread: 'main' });
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot'));
  assert.equal(files.length, 1, r.stderr);
  const s = await mw.summarizeHeapSnapshot(path.join(dir, files[0]));
  assert.ok(s.size_bytes > 16 * 1024 * 1024, `the snapshot holds the full heap (${s.size})`);
});
