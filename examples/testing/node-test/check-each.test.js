'use strict';
// node --test examples/testing/node-test/check-each.test.js: checkEachTest with node:test's hooks.
const { test, beforeEach, afterEach } = require('node:test');
const { checkEachTest } = require('native-memwatch/testing');
const { parse, parseLeaky } = require('../parser.js');

checkEachTest({ beforeEach, afterEach });

test('parse() leaves nothing behind', () => {
  parse('abc');
});

test('parseLeaky() leaves nothing behind', () => {
  parseLeaky('abc');
});
