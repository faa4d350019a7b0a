'use strict';

// Builds the consumer fixture (test/fixtures/consumer-addon) at most once per
// test run: a build whose consumer.node is newer than every source, binding.gyp
// and the public header is kept. `node --test` runs test files in parallel
// processes, so the build holds a lock directory; the others wait for it.
//
// The build itself runs in a child process, so that buildAddon() from
// scripts/install.js may be synchronous or return a promise. Without that
// module, npm's bundled node-gyp is run directly, with --nodedir when the
// headers of the running Node are installed beside it (offline builds).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE_DIR = path.join(ROOT, 'test/fixtures/consumer-addon');
const BINARY = path.join(FIXTURE_DIR, 'build/Release/consumer.node');
const INSTALL_SCRIPT = path.join(ROOT, 'scripts/install.js');
const lockDirOf = (dir) =>
  path.join(os.tmpdir(), `nmw-fixture-build-${crypto.createHash('sha1').update(dir).digest('hex').slice(0, 12)}`);
const LOCK_DIR = lockDirOf(FIXTURE_DIR);
const LOCK_STALE_MS = 10 * 60 * 1000;
const BUILD_TIMEOUT_MS = 8 * 60 * 1000;

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

// Every input of the build: the fixture's gyp file and sources, and the header
// it includes.
function sources(dir = FIXTURE_DIR) {
  const files = [path.join(dir, 'binding.gyp'), path.join(ROOT, 'include/native_memwatch.h')];
  const srcDir = path.join(dir, 'src');
  for (const name of fs.readdirSync(srcDir)) files.push(path.join(srcDir, name));
  return files;
}

function isFresh(dir = FIXTURE_DIR, binaries = [BINARY]) {
  const built = Math.min(...binaries.map(mtime));
  if (built < 0) return false;
  return sources(dir).every((file) => mtime(file) <= built);
}

// The node-gyp that npm bundles with this Node.
function nodeGypPath() {
  const candidates = [
    path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    path.join(path.dirname(process.execPath), 'node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  const found = candidates.find((file) => fs.existsSync(file));
  if (!found) throw new Error(`node-gyp not found; looked at:\n  ${candidates.join('\n  ')}`);
  return found;
}

// --nodedir=<prefix> when <prefix>/include/node holds this Node's headers, so no
// download is needed.
function nodeDirArgs() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include/node/node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

function childEnv() {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // the test runner's marker must not reach builds
  return env;
}

function runBuild(dir = FIXTURE_DIR, binaries = [BINARY]) {
  let result;
  if (fs.existsSync(INSTALL_SCRIPT)) {
    const script = `
      const { buildAddon } = require(${JSON.stringify(INSTALL_SCRIPT)});
      const fail = (err) => {
        console.error((err && err.stack) || err);
        if (err && err.output) console.error(err.output);
        process.exit(1);
      };
      try {
        Promise.resolve(buildAddon(${JSON.stringify(dir)}, { force: true, quiet: true })).then(() => {}, fail);
      } catch (err) {
        fail(err);
      }`;
    result = spawnSync(process.execPath, ['-e', script], {
      cwd: dir,
      env: childEnv(),
      encoding: 'utf8',
      timeout: BUILD_TIMEOUT_MS,
    });
  } else {
    result = spawnSync(process.execPath, [nodeGypPath(), 'rebuild', ...nodeDirArgs()], {
      cwd: dir,
      env: childEnv(),
      encoding: 'utf8',
      timeout: BUILD_TIMEOUT_MS,
    });
  }
  if (result.error || result.status !== 0 || !binaries.every((b) => fs.existsSync(b))) {
    const how = result.error ? String(result.error) : `exit code ${result.status}, signal ${result.signal}`;
    throw new Error(
      `building the fixture in ${dir} failed (${how})\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
    );
  }
  // Make the binary newer than its sources even on coarse file systems.
  const now = new Date();
  for (const b of binaries) fs.utimesSync(b, now, now);
}

function acquireLock(lockDir = LOCK_DIR) {
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      return;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const age = Date.now() - mtime(lockDir);
      if (age > LOCK_STALE_MS) {
        fs.rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      sleep(250);
    }
  }
}

function releaseLock(lockDir = LOCK_DIR) {
  fs.rmSync(lockDir, { recursive: true, force: true });
}

/** Builds the fixture unless it is up to date; returns the path of consumer.node. */
function buildFixture({ force = false } = {}) {
  if (!force && isFresh()) return BINARY;
  acquireLock();
  try {
    // Another process may have built it while this one waited for the lock.
    if (force || !isFresh()) runBuild();
  } finally {
    releaseLock();
  }
  return BINARY;
}

const TINY_DIR = path.join(ROOT, 'test/fixtures/tiny-consumer');
const TINY_BINARIES = ['tiny_a', 'tiny_b'].map((name) => path.join(TINY_DIR, `build/Release/${name}.node`));

/** Builds the tiny consumers (test/fixtures/tiny-consumer: two addons from one
 * source) unless up to date; returns the paths of tiny_a.node and tiny_b.node. */
function buildTinyFixtures({ force = false } = {}) {
  if (!force && isFresh(TINY_DIR, TINY_BINARIES)) return TINY_BINARIES;
  const lockDir = lockDirOf(TINY_DIR);
  acquireLock(lockDir);
  try {
    if (force || !isFresh(TINY_DIR, TINY_BINARIES)) runBuild(TINY_DIR, TINY_BINARIES);
  } finally {
    releaseLock(lockDir);
  }
  return TINY_BINARIES;
}

/** Builds if needed and loads the fixture in this thread. */
function loadFixture() {
  return require(buildFixture());
}

module.exports = { ROOT, FIXTURE_DIR, BINARY, buildFixture, loadFixture, TINY_DIR, buildTinyFixtures };

if (require.main === module) {
  buildFixture({ force: process.argv.includes('--force') });
  console.log(BINARY);
}
