'use strict';

// The native binding (src/addon), found by node-gyp-build: build/Release, then
// build/Debug, then prebuilds/<platform>-<arch> (docs/install.md). Its members
// are listed in src/addon/addon.h; only lib/ uses them.
const path = require('path');
const { platformDescription } = require('./platform.js');

const root = path.join(__dirname, '..');
let binding;
try {
  binding = require('node-gyp-build')(root);
} catch (err) {
  if (!/No native build was found/.test(String(err && err.message))) throw err;
  const e = new Error(
    `native-memwatch: no binary for ${platformDescription()} (no prebuild in prebuilds/ matches, and nothing ` +
      'was built from source: the install-time build needs a C compiler, make and Python for node-gyp). ' +
      `Prebuilt: linux-x64 glibc. Elsewhere: install a compiler and run \`npm rebuild native-memwatch\`. See docs/install.md.`,
  );
  e.code = 'ERR_NMW_NO_BINARY';
  e.cause = err;
  throw e;
}
module.exports = binding;
