#!/usr/bin/env node
'use strict';
// Part of the JS suite against an AddressSanitizer + UBSan build of the addon
// itself (issue 7): `npm test` runs it as its "asan" stage; `node
// scripts/asan-js.js [test files...]` runs it alone.
//
// The package is copied to build/asan-pkg (sources, lib/, the tests and their
// fixtures' sources, a link to node_modules) and built there with
// -fsanitize=address,undefined; the fixtures are built there too, the same way.
// Node itself is not instrumented, so the ASan runtime is preloaded
// (LD_PRELOAD=$(cc -print-file-name=libasan.so)), exactly as docs/c-api.md tells
// addon authors to do. Any ASan or UBSan report aborts the child process that
// made it, which fails its test. Leak detection is off: Node's own allocations
// at exit are not ours.
//
// It prints the node:test TAP stream; the runner counts "# pass" / "# fail".

const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '..');
const PKG = path.join(ROOT, 'build', 'asan-pkg');
const DEFAULT_TESTS = [
  'fuzz-binding.test.js',
  'fuzz-api.test.js',
  'multi-consumer.test.js',
  'region-many.test.js',
  'stats.test.js',
  'external.test.js',
  'finalizers.test.js',
  'workers.test.js',
];
const SAN = '-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined';

function copy(rel, { filter } = {}) {
  const from = path.join(ROOT, rel);
  if (!fs.existsSync(from)) return;
  fs.cpSync(from, path.join(PKG, rel), {
    recursive: true,
    filter: (src) => !/[\\/]build([\\/]|$)/.test(path.relative(ROOT, src)) && (!filter || filter(src)),
  });
}

function sanitizerRuntime() {
  const cc = process.env.CC || 'cc';
  const r = spawnSync(cc, ['-print-file-name=libasan.so'], { encoding: 'utf8' });
  const lib = r.status === 0 ? r.stdout.trim() : '';
  if (!lib || !path.isAbsolute(lib) || !fs.existsSync(lib)) {
    throw new Error(`${cc} -print-file-name=libasan.so found no AddressSanitizer runtime (install gcc's libasan)`);
  }
  return fs.realpathSync(lib);
}

function prepare() {
  fs.rmSync(PKG, { recursive: true, force: true });
  fs.mkdirSync(PKG, { recursive: true });
  for (const rel of ['package.json', 'index.js', 'index.mjs', 'index.d.ts', 'include.js', 'binding.gyp', 'src', 'include', 'lib', 'scripts/install.js', 'test/js', 'test/helpers', 'test/fixtures']) {
    copy(rel);
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(PKG, 'node_modules'), 'dir');
}

function sanitizedEnv(extra = {}) {
  const env = { ...process.env, CFLAGS: SAN, CXXFLAGS: SAN, LDFLAGS: SAN, ...extra };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

function build(dir, env) {
  const script = `require(${JSON.stringify(path.join(PKG, 'scripts/install.js'))}).buildAddon(${JSON.stringify(dir)}, { force: true, quiet: true })`;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: dir, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building ${dir} with sanitizers failed\n${r.stdout}\n${r.stderr}`);
}

function main() {
  const files = process.argv.slice(2);
  const tests = (files.length ? files : DEFAULT_TESTS).map((f) => path.join(PKG, 'test/js', path.basename(f)));
  const runtime = sanitizerRuntime();
  prepare();
  const env = sanitizedEnv({
    LD_PRELOAD: [runtime, process.env.LD_PRELOAD].filter(Boolean).join(':'),
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:alloc_dealloc_mismatch=0:detect_odr_violation=0',
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1:abort_on_error=1',
  });
  // The addon, then every fixture, instrumented (a fixture's binding.gyp loads
  // the instrumented addon to find the header, hence the preload from then on).
  // The tests' own fixture builders then find them up to date.
  build(PKG, sanitizedEnv());
  for (const fixture of fs.readdirSync(path.join(PKG, 'test/fixtures'))) {
    const dir = path.join(PKG, 'test/fixtures', fixture);
    if (fs.existsSync(path.join(dir, 'binding.gyp'))) build(dir, env); // the others are scripts, no addon
  }
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', ...tests], {
    cwd: PKG,
    env,
    stdio: 'inherit',
  });
  process.exit(r.status === null ? 1 : r.status);
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    console.error(`native-memwatch asan: ${err.message}`);
    console.log('# fail 1');
    process.exit(1);
  }
}
