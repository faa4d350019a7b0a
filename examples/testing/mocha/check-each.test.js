'use strict';
// mocha examples/testing/mocha/check-each.test.js: every test fails that leaves native memory,
// finalizers or handles behind (one line: checkEachTest with Mocha's hooks).
const assert = require('node:assert');
const { checkEachTest, allocsPerRun } = require('native-memwatch/testing');
const { parse, parseLeaky } = require('../parser.js');

checkEachTest({ beforeEach, afterEach });

describe('parser', () => {
  it('parse() allocates one block per call and frees it', async () => {
    assert.deepStrictEqual(await allocsPerRun(100, () => parse('abcd')), { blocks: 1, bytes: 32 });
  });

  // Mocha skips the rest of a suite after a failed hook: keep this one last.
  it('parseLeaky() leaves nothing behind', () => {
    parseLeaky('abcd');
  });
});
