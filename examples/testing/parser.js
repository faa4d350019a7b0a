'use strict';

// The code under test in the runner examples: a "parser" whose native buffers
// come from the consumer fixture addon (test/fixtures/consumer-addon, built on
// first use), which allocates through native-memwatch's C API.

const mw = require('native-memwatch');
const { loadFixture } = require('../../test/helpers/build.js');

const addon = loadFixture();
const TAG = mw.tag('example:parser');

/** Allocates a scratch buffer and frees it: leaks nothing. */
function parse(text) {
  const scratch = addon.alloc(TAG, 8 * text.length);
  addon.free(scratch);
  return text.length;
}

/** Forgets to free a 64-byte block per call. */
function parseLeaky(text) {
  addon.leak(TAG, 64, 1);
  return text.length;
}

module.exports = { parse, parseLeaky, TAG };
