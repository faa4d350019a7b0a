'use strict';
// jest --config examples/testing/jest/jest.config.js: checkEachTest with Jest's hooks
// (or put these two lines in a file of setupFilesAfterEnv for every test file).
const { checkEachTest } = require('native-memwatch/testing');
const { parse, parseLeaky } = require('../parser.js');

checkEachTest({ beforeEach, afterEach });

test('parse() leaves nothing behind', () => {
  parse('abc');
});

test('parseLeaky() leaves nothing behind', () => {
  parseLeaky('abc');
});
