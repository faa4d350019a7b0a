#!/usr/bin/env node
'use strict';
// npm test: every test of the project, in order, from a fresh clone if need be.
//   1. set-up: npm install (dependencies + the addon build) when it has not run;
//   2. the C unit tests of src/core, plain and under ASan+UBSan (scripts/ctest.sh);
//   3. the JS tests (node:test, test/js), which build the fixture addons they use;
//   3b. part of them against an ASan+UBSan build of the addon (scripts/asan-js.js);
//   4. the type check of index.d.ts (tsc --strict) when typescript is installed;
//   5. in CI (CI=true): the JS tests under Node 22 and 24 (scripts/compat.js).
// It ends with one line "total: N passed, M failed" over all of them.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const only = process.argv.slice(2); // e.g. `npm test -- js` runs one stage
const wants = (stage) => only.length === 0 || only.includes(stage);
let passed = 0;
let failed = 0;

// Runs a command; with capture, its stdout and stderr are echoed and returned
// (cmocka prints its PASSED/FAILED summary on stderr).
function run(cmd, args, options = {}) {
  const { capture, ...rest } = options;
  const result = spawnSync(cmd, args, {
    cwd: root,
    stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    ...rest,
  });
  if (result.error) throw result.error;
  if (capture) {
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    result.output = `${result.stdout}\n${result.stderr}`;
  }
  return result;
}

function npmCommand() {
  return process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
}

// Debian packages the JS tests use: Chromium opens the CLI's HTML report,
// Valgrind runs the suppressions test. Installed when missing, as root with
// apt-get (CI and fresh machines); otherwise the exact command is printed and
// the tests that need them fail saying what is missing.
function systemPackages() {
  const need = [];
  if (!fs.existsSync('/usr/bin/chromium')) need.push('chromium');
  if (spawnSync('valgrind', ['--version']).status !== 0) need.push('valgrind');
  if (need.length === 0 || process.platform !== 'linux') return;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const apt = spawnSync('apt-get', ['--version']).status === 0;
  if (!root || !apt) {
    console.log(`native-memwatch: the JS tests need ${need.join(' and ')}; run: sudo apt-get install -y ${need.join(' ')}`);
    return;
  }
  console.log(`native-memwatch: installing ${need.join(', ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = run('apt-get', ['install', '-y', ...need], { env });
  if (r.status !== 0) {
    run('apt-get', ['update'], { env });
    r = run('apt-get', ['install', '-y', ...need], { env });
  }
  if (r.status !== 0) console.log(`native-memwatch: apt-get install ${need.join(' ')} failed`);
}

function setUp() {
  const haveDeps = fs.existsSync(path.join(root, 'node_modules', 'node-gyp-build'));
  if (!haveDeps) {
    console.log('native-memwatch: first run: npm install');
    const [cmd, pre] = npmCommand();
    const r = run(cmd, [...pre, 'install', '--no-audit', '--no-fund']);
    if (r.status !== 0) throw new Error('npm install failed');
    return;
  }
  const r = run(process.execPath, [path.join(root, 'scripts', 'install.js')]);
  if (r.status !== 0) throw new Error('building the addon failed');
}

function cTests() {
  const r = run('bash', [path.join(root, 'scripts', 'ctest.sh')], { capture: true });
  for (const m of r.output.matchAll(/^\[  PASSED  \] (\d+) test\(s\)\./gm)) passed += Number(m[1]);
  for (const m of r.output.matchAll(/^\[  FAILED  \] (\d+) test\(s\)/gm)) failed += Number(m[1]);
  if (r.status !== 0 && !/\[  FAILED  \]/.test(r.output)) failed += 1; // build or set-up failure
}

function jsTests() {
  // Outside build/: tests that rebuild an addon with node-gyp clean build/ on the way.
  const tap = path.join(require('node:os').tmpdir(), `native-memwatch-js-tests-${process.pid}.tap`);
  const files = fs.readdirSync(path.join(root, 'test', 'js')).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join('test', 'js', f));
  const r = run(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files]);
  const out = fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '';
  fs.rmSync(tap, { force: true });
  const pass = /^# pass (\d+)/m.exec(out);
  const fail = /^# fail (\d+)/m.exec(out);
  passed += pass ? Number(pass[1]) : 0;
  failed += fail ? Number(fail[1]) : 0;
  if (r.status !== 0 && !(fail && Number(fail[1]) > 0)) failed += 1;
}

function asanTests() {
  const r = run(process.execPath, [path.join(root, 'scripts', 'asan-js.js')], { capture: true });
  const pass = [...r.output.matchAll(/^# pass (\d+)/gm)].pop();
  const fail = [...r.output.matchAll(/^# fail (\d+)/gm)].pop();
  passed += pass ? Number(pass[1]) : 0;
  failed += fail ? Number(fail[1]) : 0;
  if (r.status !== 0 && !(fail && Number(fail[1]) > 0)) failed += 1;
}

// scripts/compat.js prints "node vX: N passed, M failed" per major.
function compatTests() {
  const r = run(process.execPath, [path.join(root, 'scripts', 'compat.js')], { capture: true });
  let seen = 0;
  for (const m of r.output.matchAll(/^node v\S+: (\d+) passed, (\d+|\?) failed$/gm)) {
    seen += 1;
    passed += Number(m[1]);
    failed += m[2] === '?' ? 1 : Number(m[2]);
  }
  if (r.status !== 0 && seen === 0) failed += 1;
}

// The public header: warning-free in the compiler matrix, a probe that cannot fault.
function headerMatrix() {
  const r = run('bash', [path.join(root, 'test', 'header', 'matrix.sh')], { capture: true });
  const m = /^header matrix: (\d+) passed, (\d+) failed/m.exec(r.output);
  passed += m ? Number(m[1]) : 0;
  failed += m ? Number(m[2]) : 0;
  if (r.status !== 0 && !(m && Number(m[2]) > 0)) failed += 1;
}

function typeCheck() {
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  } catch {
    console.log('native-memwatch: typescript is not installed; skipping the index.d.ts check');
    return;
  }
  const r = run(process.execPath, [tsc, '-p', path.join(root, 'test', 'types')]);
  if (r.status === 0) {
    console.log('ok - index.d.ts type-checks under tsc --strict');
    passed += 1;
  } else {
    console.log('not ok - index.d.ts type check');
    failed += 1;
  }
}

try {
  setUp();
} catch (err) {
  console.error(`native-memwatch: ${err.message}`);
  console.log('total: 0 passed, 1 failed');
  process.exit(1);
}
if (wants('c')) cTests();
if (wants('header')) headerMatrix();
if (wants('js') || wants('asan')) systemPackages();
if (wants('js')) jsTests();
if (wants('asan')) asanTests();
if (wants('types') && fs.existsSync(path.join(root, 'test', 'types', 'tsconfig.json'))) typeCheck();
// In CI (CI=true), or with `npm test -- compat`: the JS tests again under Node 22 and 24.
if ((process.env.CI === 'true' && only.length === 0) || only.includes('compat')) compatTests();
console.log(`total: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
