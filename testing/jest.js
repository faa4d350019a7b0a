'use strict';
// require('native-memwatch/testing/jest') (in a test file, or in Jest's
// setupFilesAfterEnv): registers toLeak() and toAllocateAtMost() with Jest's expect.
const { matchers } = require('../lib/testing/index.js');

function jestExpect() {
  if (globalThis.expect && typeof globalThis.expect.extend === 'function') return globalThis.expect;
  return require('@jest/globals').expect; // injectGlobals: false
}

jestExpect().extend(matchers);
module.exports = matchers;
