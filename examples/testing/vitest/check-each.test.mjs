// vitest run --config examples/testing/vitest/vitest.config.mjs: checkEachTest
// with Vitest's hooks (or in a file of setupFiles for every test file).
import { test, beforeEach, afterEach } from 'vitest';
import { checkEachTest } from 'native-memwatch/testing';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { parse, parseLeaky } = require('../parser.js');

checkEachTest({ beforeEach, afterEach });

test('parse() leaves nothing behind', () => {
  parse('abc');
});

test('parseLeaky() leaves nothing behind', () => {
  parseLeaky('abc');
});
