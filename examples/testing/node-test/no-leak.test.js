'use strict';
// node --test examples/testing/node-test/no-leak.test.js
const test = require('node:test');
const { assertNoLeak } = require('native-memwatch/testing');
const { parse, parseLeaky } = require('../parser.js');

test('parse() does not leak', async () => {
  await assertNoLeak(() => parse('{"a": 1}'));
});

test('parseLeaky() does not leak', async () => {
  await assertNoLeak(() => parseLeaky('{"a": 1}'));
});
