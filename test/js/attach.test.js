'use strict';

// attach() against real addons from the npm registry that nobody here wrote:
// better-sqlite3 (C++, built from source), bufferutil (C, built from source) and
// @node-rs/xxhash (Rust, napi-rs, prebuilt). Each scenario runs in a fresh node
// process (attaching is process-wide and for good) and prints one JSON line.

const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'attach');
const supported = process.platform === 'linux' && ['x64', 'arm64'].includes(process.arch);

// better-sqlite3 is a V8-ABI addon (not Node-API): built by npm install for the
// Node that ran it, it cannot load under another major (the compat stage runs
// this file under Node 22 and 24 against the same node_modules). Only that
// case skips; a missing or broken build still fails the tests below.
const sqliteAbi = (() => {
  if (!supported) return null;
  const r = spawnSync(process.execPath, ['-e', "new (require('better-sqlite3'))(':memory:').close()"], { cwd: ROOT, encoding: 'utf8' });
  return r.status !== 0 && /NODE_MODULE_VERSION/.test(r.stderr) ? `better-sqlite3 was built for another Node ABI than ${process.version}'s (npm rebuild better-sqlite3 under this Node runs it)` : null;
})();
const sqliteSkip = !supported || sqliteAbi || false;

function run(script, { env = {}, args = [] } = {}) {
  const r = spawnSync(process.execPath, [...args, path.join(FIXTURES, script)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 300000,
  });
  assert.equal(r.status, 0, `${script} exited ${r.status} (${r.signal}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

// bufferutil ships prebuilds; the test wants the C source compiled here.
test.before(() => {
  const built = path.join(ROOT, 'node_modules', 'bufferutil', 'build', 'Release', 'bufferutil.node');
  if (!fs.existsSync(built)) {
    const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
    const r = spawnSync(npm[0], [...npm[1], 'rebuild', 'bufferutil', '--build-from-source'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    assert.equal(r.status, 0, 'npm rebuild bufferutil --build-from-source failed');
  }
  // Our own plain Node-API addon, for exact counts of every hooked call.
  if (supported) {
    const b = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(ROOT, 'scripts', 'install.js'))}).buildAddon(${JSON.stringify(path.join(ROOT, 'test', 'fixtures', 'attach-addon'))}, {quiet: true})`], { stdio: 'inherit' });
    assert.equal(b.status, 0, 'building test/fixtures/attach-addon failed');
  }
});

test('every hooked call counted exactly; a foreign free passed on; finalizers; external audit', { skip: !supported }, () => {
  const r = run('exact.js');
  const zero = { currBytes: 0, currBlocks: 0, allocs: 0, frees: 0, reallocs: 0, bytesAllocated: 0, bytesFreed: 0 };
  assert.deepEqual(r.start, { ...zero, foreignFrees: 0 });
  assert.deepEqual(r.afterForeign, { ...zero, foreignFrees: 1 });
  // malloc 100 + calloc 100 + (malloc 50 -> realloc 200) + strdup 6 + strndup 4
  // + posix_memalign 128 + aligned_alloc 256 + memalign 64 = 858 bytes in 8 blocks.
  assert.deepEqual(r.allocated, { currBytes: 858, currBlocks: 8, allocs: 8, frees: 0, reallocs: 1, bytesAllocated: 858, bytesFreed: 0, foreignFrees: 1 });
  assert.deepEqual(r.freed, { currBytes: 0, currBlocks: 0, allocs: 8, frees: 8, reallocs: 1, bytesAllocated: 858, bytesFreed: 858, foreignFrees: 1 });
  // 10 wrapped 24-byte structs and 5 external buffers of 1000 bytes.
  assert.equal(r.held.currBytes, 10 * 24 + 5 * 1000);
  assert.equal(r.held.currBlocks, 15);
  assert.deepEqual(r.held.finalizers, { registered: 15, finalizedGc: 0, finalizedTeardown: 0, cancelled: 0, live: 15, neverRun: 0 });
  assert.equal(r.collected.currBytes, 0);
  assert.equal(r.collected.currBlocks, 0);
  assert.deepEqual(r.collected.finalizers, { registered: 15, finalizedGc: 15, finalizedTeardown: 0, cancelled: 0, live: 0, neverRun: 0 });
  // +1000, -400, -700: the last goes below its own zero.
  assert.deepEqual(r.external, { total: -100, calls: 3, belowZero: 1, offThread: 0 });
  assert.equal(r.sites, 10);
});

test('better-sqlite3: 10,000 rows, close: bytes return to the baseline; kept statements grow its tag', { skip: sqliteSkip }, () => {
  const r = run('sqlite.js');
  assert.equal(r.count, 10000);
  assert.deepEqual(r.attached, ['better-sqlite3/better_sqlite3.node']);
  assert.equal(r.base.package, 'better-sqlite3');
  assert.ok(r.base.relocations.slots > 0);
  assert.ok(r.during.currBytes > r.base.currBytes + 100000, `inserting grew the tag: ${r.during.currBytes}`);
  assert.equal(r.after.currBytes, r.base.currBytes);
  assert.equal(r.after.currBlocks, r.base.currBlocks);
  assert.equal(r.after.allocs - r.base.allocs, r.after.frees - r.base.frees);
  assert.equal(r.after.foreignFrees, 0);
  // 200 statements kept reachable: their native memory stays in the tag after a GC.
  assert.equal(r.kept, 200);
  assert.ok(r.leak.currBlocks - r.leakBase.currBlocks >= 400, `${r.leak.currBlocks - r.leakBase.currBlocks} blocks`);
  assert.ok(r.leak.currBytes - r.leakBase.currBytes > 100000);
  // Independent count: glibc's mallinfo2 over the same window sees the whole
  // process, so the addon's growth is part of it (docs/attach.md gives the numbers).
  assert.ok(r.tagGrowth <= r.mallocGrowth, `tag ${r.tagGrowth} <= process ${r.mallocGrowth}`);
  assert.ok(r.tagGrowth >= 0.6 * r.mallocGrowth, `tag ${r.tagGrowth} vs process ${r.mallocGrowth}`);
  // Call sites resolved to functions of the addon.
  assert.equal(r.sites[0].tag, 'better-sqlite3/better_sqlite3.node');
  assert.ok(r.sites.some((s) => /Statement/.test(s.function)), JSON.stringify(r.sites));
});

test('bufferutil built from source: attached by name, works, allocates nothing', { skip: !supported }, () => {
  const r = run('bufferutil.js');
  assert.equal(r.same, true);
  assert.deepEqual(Object.keys(r.addons), ['bufferutil/bufferutil.node']);
  assert.match(r.loaded[0], /node_modules\/bufferutil\/build\/Release\/bufferutil\.node$/);
  const a = r.addons['bufferutil/bufferutil.node'];
  assert.equal(a.allocs, 0);
  assert.equal(a.currBytes, 0);
  assert.equal(a.finalizers.registered, 0);
});

test('@node-rs/xxhash (Rust, prebuilt): every napi_wrap finalizer counted to its tag and run', { skip: !supported }, () => {
  const r = run('xxhash.js');
  assert.equal(r.tag, 'node-rs/xxhash-linux-x64-gnu/xxhash.linux-x64-gnu.node'.replace('x64', process.arch).replace('x64', process.arch));
  assert.equal(r.first, r.expected);
  assert.deepEqual(r.held, { registered: 100, finalizedGc: 0, finalizedTeardown: 0, cancelled: 0, live: 100, neverRun: 0 });
  assert.deepEqual(r.gone, { registered: 100, finalizedGc: 100, finalizedTeardown: 0, cancelled: 0, live: 0, neverRun: 0 });
  // Full RELRO (a Rust cdylib): the slots were written under mprotect.
  assert.equal(r.row.relocations.relroSlots, r.row.relocations.slots);
  // Its Rust heap is mimalloc, linked in: libc's malloc is not what it calls.
  assert.equal(r.row.currBytes, 0);
});

test('workers: an addon first loaded in workers is attached once; counts exact as workers come and go', { skip: sqliteSkip }, () => {
  const r = run('workers.js');
  assert.deepEqual(r.entries, ['better-sqlite3/better_sqlite3.node']);
  const [w1, w2, w3, w4, pair] = r.snaps;
  const delta = (a, b) => ({
    allocs: b.allocs - a.allocs,
    frees: b.frees - a.frees,
    currBytes: b.currBytes - a.currBytes,
    currBlocks: b.currBlocks - a.currBlocks,
  });
  const one = delta(w1, w2);
  assert.ok(one.allocs > 100);
  assert.deepEqual(delta(w2, w3), one);
  assert.deepEqual(delta(w3, w4), one);
  // Two at once: exactly twice one.
  assert.deepEqual(delta(w4, pair), {
    allocs: 2 * one.allocs,
    frees: 2 * one.frees,
    currBytes: 2 * one.currBytes,
    currBlocks: 2 * one.currBlocks,
  });
});

test('node -r native-memwatch/attach, NODE_OPTIONS, NATIVE_MEMWATCH_ATTACH', { skip: sqliteSkip }, () => {
  const preload = ['-r', path.join(ROOT, 'attach.js')];
  const on = run('preload-app.js', { args: preload });
  assert.equal(on.n, 1);
  assert.equal(on.enabled, true);
  assert.deepEqual(on.addons, ['better-sqlite3/better_sqlite3.node']);
  const viaOptions = run('preload-app.js', { env: { NODE_OPTIONS: `-r ${path.join(ROOT, 'attach.js')}` } });
  assert.deepEqual(viaOptions.addons, ['better-sqlite3/better_sqlite3.node']);
  const off = run('preload-app.js', { args: preload, env: { NATIVE_MEMWATCH_ATTACH: '0' } });
  assert.equal(off.enabled, false);
  assert.deepEqual(off.addons, []);
  const named = run('preload-app.js', { args: preload, env: { NATIVE_MEMWATCH_ATTACH: 'bufferutil' } });
  assert.deepEqual(named.addons, []);
  const excluded = run('preload-app.js', {
    args: preload,
    env: { NATIVE_MEMWATCH_ATTACH: '1', NATIVE_MEMWATCH_ATTACH_EXCLUDE: 'better-sqlite3' },
  });
  assert.deepEqual(excluded.addons, []);
});

test('attach(path) on a loaded addon, twice, then attach(): one entry; bad arguments throw', { skip: sqliteSkip }, () => {
  const r = run('path.js');
  assert.deepEqual(r.before, []);
  assert.deepEqual(r.first, ['better-sqlite3/better_sqlite3.node']);
  assert.deepEqual(r.second, ['better-sqlite3/better_sqlite3.node']);
  // Counted from attach on: the second database is all there is, and it is closed.
  assert.ok(r.row.allocs > 0);
  assert.equal(r.row.allocs - r.row.frees, r.row.currBlocks);
  assert.deepEqual(r.errors.number, {
    name: 'TypeError',
    code: 'ERR_INVALID_ARG_TYPE',
    message: 'options must be an object (received type number (5))',
  });
  assert.deepEqual(r.errors.notLoaded, {
    name: 'Error',
    code: 'ERR_NMW_ATTACH_NOT_LOADED',
    message: 'no loaded object is /nonexistent/x.node (load the addon first)',
  });
  assert.equal(r.errors.bad.message, 'options.addons must be an array of strings (received type string ("x"))');
  assert.equal(r.errors.unknown.message, 'options.foo is not a supported option');
  assert.equal(r.errors.item.message, 'options.exclude[0] must be a non-empty string (received type string (""))');
});

test('attach({exclude}) leaves the excluded addon alone', { skip: sqliteSkip }, () => {
  const r = run('exclude.js');
  assert.deepEqual(r.addons, ['bufferutil/bufferutil.node']);
});

test('attach() on an unsupported platform throws naming it', { skip: supported }, () => {
  const mw = require('../../');
  assert.throws(() => mw.attach(), { code: 'ERR_NMW_ATTACH_UNSUPPORTED', message: new RegExp(process.platform) });
});
