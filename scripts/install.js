#!/usr/bin/env node
'use strict';

// Builds the addon at install time unless a prebuild or an earlier build is
// already there (node-gyp-build finds it). Also used by the tests to build the
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
function buildAddon(dir = ROOT, { force = false, quiet = false } = {}) {
  dir = path.resolve(dir);
  if (!fs.existsSync(path.join(dir, 'binding.gyp'))) {
    throw new Error(`native-memwatch: no binding.gyp in ${dir}`);
  }
  if (!force) {
    const existing = findBinary(dir);
    if (existing) return { built: false, path: existing };
  }
  const [command, leading] = nodeGypCommand();
  const args = [...leading, 'rebuild'];
  const nodedir = localNodeDir();
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const result = spawnSync(command, args, {
    cwd: dir,
    stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    encoding: 'utf8',
    env: process.env,
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

module.exports = { buildAddon };

if (require.main === module) {
  const argv = process.argv.slice(2);
  const force = argv.includes('--force');
  const dirs = argv.filter((a) => !a.startsWith('--'));
  try {
    const result = buildAddon(dirs[0] || ROOT, { force });
    if (!result.built) console.log(`native-memwatch: using ${result.path}`);
  } catch (err) {
    console.error(err.message);
    if (err.output) console.error(err.output);
    process.exitCode = 1;
  }
}
