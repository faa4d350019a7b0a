'use strict';

// Builds the finalizer fixture (test/fixtures/finalizer-addon) at most once per
// test run, like build.js does for the consumer fixture: a build newer than its
// sources and the public header is kept; parallel test files wait on a lock
// directory. The build runs scripts/install.js's buildAddon in a child process.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE_DIR = path.join(ROOT, 'test/fixtures/finalizer-addon');
const BINARY = path.join(FIXTURE_DIR, 'build/Release/finalizer_fixture.node');
const LOCK_DIR = path.join(
  os.tmpdir(),
  `nmw-fixture-build-${crypto.createHash('sha1').update(FIXTURE_DIR).digest('hex').slice(0, 12)}`,
);

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

function isFresh() {
  const built = mtime(BINARY);
  if (built < 0) return false;
  const inputs = [path.join(FIXTURE_DIR, 'binding.gyp'), path.join(ROOT, 'include/native_memwatch.h')];
  for (const name of fs.readdirSync(path.join(FIXTURE_DIR, 'src'))) inputs.push(path.join(FIXTURE_DIR, 'src', name));
  return inputs.every((file) => mtime(file) <= built);
}

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function withLock(fn) {
  for (;;) {
    try {
      fs.mkdirSync(LOCK_DIR);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      if (Date.now() - mtime(LOCK_DIR) > 10 * 60 * 1000) fs.rmSync(LOCK_DIR, { recursive: true, force: true });
      else sleep(250);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

function runBuild() {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const script = `
    const { buildAddon } = require(${JSON.stringify(path.join(ROOT, 'scripts/install.js'))});
    Promise.resolve(buildAddon(${JSON.stringify(FIXTURE_DIR)}, { force: true, quiet: true }))
      .catch((err) => { console.error((err && err.stack) || err); if (err && err.output) console.error(err.output); process.exit(1); });`;
  const result = spawnSync(process.execPath, ['-e', script], {
    cwd: FIXTURE_DIR,
    env,
    encoding: 'utf8',
    timeout: 8 * 60 * 1000,
  });
  if (result.error || result.status !== 0 || !fs.existsSync(BINARY)) {
    throw new Error(
      `building the finalizer fixture failed (${result.error || `exit code ${result.status}`})\n` +
        `--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
    );
  }
  const now = new Date();
  fs.utimesSync(BINARY, now, now);
}

/** Builds the finalizer fixture unless it is up to date; returns the .node path. */
function buildFinalizerFixture({ force = false } = {}) {
  if (!force && isFresh()) return BINARY;
  withLock(() => {
    if (force || !isFresh()) runBuild();
  });
  return BINARY;
}

const SOURCE = path.join(FIXTURE_DIR, 'src/fixture.c');
let lines = null;
/** {file, line} of the fixture line marked "site:NAME". */
function fixtureSite(name) {
  if (!lines) {
    lines = new Map();
    fs.readFileSync(SOURCE, 'utf8')
      .split('\n')
      .forEach((text, i) => {
        const m = /\/\* site:(\w+) \*\//.exec(text);
        if (m) lines.set(m[1], i + 1);
      });
  }
  if (!lines.has(name)) throw new Error(`no site:${name} in ${SOURCE}`);
  return { file: 'fixture.c', line: lines.get(name) };
}

module.exports = { ROOT, FIXTURE_DIR, BINARY, buildFinalizerFixture, fixtureSite };

if (require.main === module) console.log(buildFinalizerFixture({ force: process.argv.includes('--force') }));
