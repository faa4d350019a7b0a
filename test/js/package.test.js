'use strict';
// The package as users get it: `npm pack`, then `npm install ./<tarball>` in a
// fresh app directory (offline from npm's cache), and there:
//   - without a compiler on PATH (no cc, gcc, make): the prebuild loads;
//   - with a compiler and no prebuild in the tarball: it builds from source;
//   - require and import give every export; the sample consumer addon shipped in
//     examples/ builds against require('native-memwatch').include and is counted;
//   - every relative link of the installed README and docs resolves there;
//   - tsc --strict compiles a file that uses every declared export.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { cjsNames, dtsNames } = require('../../scripts/esm.js');

const ROOT = path.resolve(__dirname, '../..');
const PREBUILD = path.join(ROOT, 'prebuilds', 'linux-x64', 'node.napi.glibc.node');
// linux-x64 is what is prebuilt; npm is needed (the compat run's Node binaries have none).
const supported = process.platform === 'linux' && process.arch === 'x64';
const NPM_CLI = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)
  ? process.env.npm_execpath
  : path.join(path.dirname(process.execPath), '../lib/node_modules/npm/bin/npm-cli.js');

const skip = !supported ? 'the prebuild is linux-x64' : !fs.existsSync(NPM_CLI) ? `no npm beside this node (${NPM_CLI})` : false;

function childEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  delete env.NODE_TEST_CONTEXT;
  for (const k of Object.keys(env)) if (k.startsWith('npm_')) delete env[k];
  return env;
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options, env: childEnv(options.env) });
  const out = `$ ${cmd} ${args.join(' ')}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
  assert.equal(r.error, undefined, out);
  assert.equal(r.status, 0, out);
  return r;
}

function newest(dir) {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nmw-pkg-'));
test.after(() => fs.rmSync(work, { recursive: true, force: true }));

let tarball;
let noPrebuildTarball;
test('npm pack: the tarball holds the prebuild, docs, examples, LICENSE and the Valgrind suppressions', { skip }, () => {
  // A prebuild from the current sources (npm run prebuild).
  const stale = !fs.existsSync(PREBUILD) || fs.statSync(PREBUILD).mtimeMs < Math.max(newest(path.join(ROOT, 'src')), fs.statSync(path.join(ROOT, 'binding.gyp')).mtimeMs);
  if (stale) run(process.execPath, [path.join(ROOT, 'scripts', 'prebuild.js')], { cwd: ROOT });
  const r = run(process.execPath, [NPM_CLI, 'pack', '--json', '--pack-destination', work], { cwd: ROOT });
  const info = JSON.parse(r.stdout)[0];
  tarball = path.join(work, info.filename);
  const files = info.files.map((f) => f.path);
  for (const f of ['LICENSE', 'README.md', 'docs/api.md', 'docs/c-api.md', 'docs/valgrind.md', 'examples/demo.js',
    'examples/sample-addon/sample.c', 'include/native_memwatch.h', 'index.mjs', 'index.d.ts',
    'prebuilds/linux-x64/node.napi.glibc.node', 'valgrind/node.supp', 'scripts/install.js']) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('build/') || f.includes('/build/')), files.join('\n'));
  // The same package without prebuilds/, as on a platform nothing is prebuilt for.
  const unpacked = path.join(work, 'unpacked');
  fs.mkdirSync(unpacked);
  run('tar', ['xzf', tarball, '-C', unpacked]);
  fs.rmSync(path.join(unpacked, 'package', 'prebuilds'), { recursive: true });
  noPrebuildTarball = path.join(work, 'no-prebuild.tgz');
  run('tar', ['czf', noPrebuildTarball, '-C', unpacked, 'package']);
});

function makeApp(name) {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }));
  return dir;
}

// PATH with node and sh only: no cc, gcc, make, python.
function bareBin() {
  const bin = path.join(work, 'bare-bin');
  if (!fs.existsSync(bin)) {
    fs.mkdirSync(bin);
    fs.symlinkSync(process.execPath, path.join(bin, 'node'));
    fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  }
  for (const tool of ['cc', 'gcc', 'make', 'c++', 'python3']) assert.ok(!fs.existsSync(path.join(bin, tool)));
  return bin;
}

function npmInstall(app, what, env) {
  return run(process.execPath, [NPM_CLI, 'install', what, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'], { cwd: app, env });
}

const CHECK_CJS = `
const mw = require('native-memwatch');
const names = JSON.parse(process.argv[1]);
const missing = names.filter((n) => mw[n] === undefined);
if (missing.length) throw new Error('require: missing ' + missing.join(', '));
const binary = require('node-gyp-build').path(require('path').dirname(require.resolve('native-memwatch/package.json')));
console.log(JSON.stringify({ binary, total: mw.stats().total.allocs, supp: require('fs').existsSync(mw.valgrindSuppressions) }));
`;
const CHECK_ESM = `
import * as ns from 'native-memwatch';
import mw from 'native-memwatch';
const names = JSON.parse(process.argv[2]);
const missing = names.filter((n) => ns[n] === undefined || ns[n] !== mw[n]);
if (missing.length) throw new Error('import: missing ' + missing.join(', '));
console.log('esm ok');
`;

let app;
test('without a compiler on PATH the prebuild is used; require and import give every export', { skip }, () => {
  assert.ok(tarball, 'the pack test ran');
  app = makeApp('app-prebuilt');
  const r = npmInstall(app, tarball, { PATH: bareBin() });
  assert.match(r.stdout + r.stderr, /native-memwatch: using prebuilds\/linux-x64\/node\.napi\.glibc\.node/);
  const names = JSON.stringify(cjsNames());
  const out = JSON.parse(run(process.execPath, ['-e', CHECK_CJS, names], { cwd: app, env: { PATH: bareBin() } }).stdout);
  assert.equal(out.binary, path.join(fs.realpathSync(app), 'node_modules/native-memwatch/prebuilds/linux-x64/node.napi.glibc.node'));
  assert.equal(out.total, 0);
  assert.equal(out.supp, true);
  fs.writeFileSync(path.join(app, 'check.mjs'), CHECK_ESM);
  assert.equal(run(process.execPath, ['check.mjs', names], { cwd: app }).stdout.trim(), 'esm ok');
});

test('a consumer addon builds against require("native-memwatch").include and is counted', { skip }, () => {
  assert.ok(app, 'the install test ran');
  const pkg = path.join(app, 'node_modules', 'native-memwatch');
  const sample = path.join(app, 'sample-addon');
  fs.cpSync(path.join(pkg, 'examples', 'sample-addon'), sample, { recursive: true });
  run(process.execPath, ['-e', `require(${JSON.stringify(path.join(pkg, 'scripts/install.js'))}).buildAddon(${JSON.stringify(sample)}, { force: true, quiet: true })`], { cwd: sample });
  const script = `
    const mw = require('native-memwatch');
    const s = require('./sample-addon/build/Release/sample.node');
    s.loadImage(64, 64);
    const t = mw.stats().tags['sample:images'];
    console.log(JSON.stringify({ status: s.importStatus, bytes: t.currBytes, blocks: t.currBlocks }));`;
  const out = JSON.parse(run(process.execPath, ['-e', script], { cwd: app }).stdout);
  assert.equal(out.status, 'ok');
  assert.ok(out.bytes >= 64 * 64 * 4, JSON.stringify(out));
  assert.ok(out.blocks >= 1, JSON.stringify(out));
});

test('every relative link of the installed README and docs resolves in the package', { skip }, () => {
  assert.ok(app, 'the install test ran');
  const pkg = path.join(app, 'node_modules', 'native-memwatch');
  const docs = ['README.md', ...fs.readdirSync(path.join(pkg, 'docs')).map((f) => `docs/${f}`)];
  const broken = [];
  for (const doc of docs) {
    const text = fs.readFileSync(path.join(pkg, doc), 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target) || target.startsWith('#')) continue;
      const file = target.split('#')[0];
      if (!fs.existsSync(path.join(pkg, path.dirname(doc), file))) broken.push(`${doc}: ${target}`);
    }
  }
  const header = fs.readFileSync(path.join(pkg, 'include/native_memwatch.h'), 'utf8');
  for (const [ref] of header.matchAll(/docs\/[\w-]+\.md/g)) if (!fs.existsSync(path.join(pkg, ref))) broken.push(`native_memwatch.h: ${ref}`);
  assert.deepEqual(broken, []);
});

test('tsc --strict compiles a file that uses every declared export, in the app', { skip }, () => {
  assert.ok(app, 'the install test ran');
  const usage = fs.readFileSync(path.join(ROOT, 'test/package/usage.ts'), 'utf8');
  const unused = dtsNames().filter((n) => !new RegExp(`\\b${n}\\b`).test(usage));
  assert.deepEqual(unused, [], 'declared in index.d.ts but not used by test/package/usage.ts');
  fs.writeFileSync(path.join(app, 'usage.ts'), usage);
  fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, module: 'commonjs', target: 'es2022', lib: ['es2022', 'esnext.disposable'],
      types: ['node'], typeRoots: [path.join(ROOT, 'node_modules/@types')], esModuleInterop: true },
    files: ['usage.ts'],
  }));
  run(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [ROOT] }), '-p', app], { cwd: app });
});

test('with a compiler and no prebuild in the tarball, npm install builds from source', { skip }, () => {
  assert.ok(noPrebuildTarball, 'the pack test ran');
  const dir = makeApp('app-source');
  npmInstall(dir, noPrebuildTarball);
  const out = JSON.parse(run(process.execPath, ['-e', CHECK_CJS, JSON.stringify(cjsNames())], { cwd: dir }).stdout);
  assert.equal(out.binary, path.join(fs.realpathSync(dir), 'node_modules/native-memwatch/build/Release/native_memwatch.node'));
});

test('without a compiler and no prebuild, install fails naming the platform, arch and libc', { skip }, () => {
  assert.ok(noPrebuildTarball, 'the pack test ran');
  const dir = makeApp('app-nothing');
  const r = spawnSync(process.execPath, [NPM_CLI, 'install', noPrebuildTarball, '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts'], {
    cwd: dir, encoding: 'utf8', env: childEnv({ PATH: bareBin() }),
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stdout + r.stderr, /no prebuilt binary for linux-x64 \(glibc\) and the build from source failed/);
});
