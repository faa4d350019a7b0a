#!/usr/bin/env node
'use strict';
// npm run prebuild: the prebuilt binary of this platform, with prebuildify, into
// prebuilds/<platform>-<arch>/native-memwatch.<tags>.node. Node-API, so one
// binary serves every Node >= 20 (tag `napi`); on Linux the libc is tagged too
// (glibc, or musl on Alpine), which node-gyp-build matches at load time.
// Uses this Node's own headers (--nodedir) when they are installed beside it, so
// it builds offline. Extra arguments go to prebuildify (e.g. --arch arm64).

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');

// npm also runs a script named "prebuild" as the pre-hook of "build" (`npm run
// build` would make prebuilds first). Run as a hook, this does nothing: the npm
// process that started it was asked for another script. Linux: read from /proc.
function startedAsHookOfBuild() {
  if (process.env.npm_lifecycle_event !== 'prebuild' || process.platform !== 'linux') return false;
  let pid = process.ppid;
  for (let depth = 0; depth < 6 && pid > 1; depth++) {
    let argv;
    let stat;
    try {
      // npm sets its process title: one string, 'npm run build'.
      argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return false;
    }
    const i = argv.findIndex((a) => a === 'run' || a === 'run-script' || a === 'rum' || a === 'urn');
    if (i >= 0) return argv[i + 1] !== 'prebuild';
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  return false;
}
if (startedAsHookOfBuild()) process.exit(0);
const env = { ...process.env };
const prefix = path.resolve(path.dirname(process.execPath), '..');
if (!env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) {
  env.npm_config_nodedir = prefix;
}
// node-gyp: npm's bundled copy next to this node, unless PREBUILD_NODE_GYP names one.
const bundled = path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
if (!env.PREBUILD_NODE_GYP && fs.existsSync(bundled)) env.PREBUILD_NODE_GYP = bundled;
const bin = require.resolve('prebuildify/bin.js', { paths: [root] });
const libc = process.platform === 'linux' ? (process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl') : null;
const args = [bin, '--napi', '--name', 'node.napi', '--strip', '--target', `node@${process.versions.node}`, ...(libc ? ['--tag-libc'] : []), ...process.argv.slice(2)];
const r = spawnSync(process.execPath, args, { cwd: root, env, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status || 1);
let made = null;
for (const dir of fs.readdirSync(path.join(root, 'prebuilds'))) {
  for (const f of fs.readdirSync(path.join(root, 'prebuilds', dir))) {
    console.log(`prebuilds/${dir}/${f}`);
    if (dir === `${process.platform}-${process.arch}` && f.endsWith('.node')) made = path.join(root, 'prebuilds', dir, f);
  }
}
// prebuildify leaves build/Release without the addon; put this build back there,
// so that a later `npm run build` (newer sources) keeps taking precedence over
// prebuilds/ in node-gyp-build's order.
const release = path.join(root, 'build', 'Release', 'native_memwatch.node');
if (made && !fs.existsSync(release)) {
  fs.mkdirSync(path.dirname(release), { recursive: true });
  fs.copyFileSync(made, release);
}
