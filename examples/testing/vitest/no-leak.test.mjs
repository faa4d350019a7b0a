// vitest run --config examples/testing/vitest/vitest.config.mjs
import { test, expect } from 'vitest';
import 'native-memwatch/testing/vitest'; // registers toLeak() and toAllocateAtMost()
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { parse, parseLeaky } = require('../parser.js');

test('parse() does not leak and stays small', async () => {
  await expect(() => parse('{"a": 1}')).not.toLeak();
  await expect(() => parse('x'.repeat(1000))).toAllocateAtMost('8 KiB');
});

test('parseLeaky() does not leak', async () => {
  await expect(() => parseLeaky('{"a": 1}')).not.toLeak();
});
