'use strict';

// The native binding (src/addon), found by node-gyp-build: build/Release, then
// build/Debug, then prebuilds/<platform>-<arch>. Its members are listed in
// src/addon/addon.h; only lib/ uses them.
const path = require('path');

module.exports = require('node-gyp-build')(path.join(__dirname, '..'));
