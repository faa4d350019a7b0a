'use strict';
// jest --config examples/testing/jest/jest.config.js
require('native-memwatch/testing/jest'); // registers toLeak() and toAllocateAtMost()
const { parse, parseLeaky } = require('../parser.js');

test('parse() does not leak and stays small', async () => {
  await expect(() => parse('{"a": 1}')).not.toLeak();
  await expect(() => parse('x'.repeat(1000))).toAllocateAtMost('8 KB');
});

test('parseLeaky() does not leak', async () => {
  await expect(() => parseLeaky('{"a": 1}')).not.toLeak();
});
