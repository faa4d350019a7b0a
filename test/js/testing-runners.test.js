'use strict';

// The runner examples of examples/testing (node:test, Jest, Mocha, Vitest): each
// file is run as a user would run it, and must report its passing test as passed
// and its leaking test as failed, with the toolkit's message as printed.

const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { ROOT, buildFixture } = require('../helpers/build.js');
const { siteLine } = require('../helpers/common.js');

const BIN = {
  jest: path.join(ROOT, 'node_modules/jest/bin/jest.js'),
  mocha: path.join(ROOT, 'node_modules/mocha/bin/mocha.js'),
  vitest: path.join(ROOT, 'node_modules/vitest/vitest.mjs'),
};

function run(args) {
  const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', CI: 'true' };
  delete env.NODE_TEST_CONTEXT; // a nested node --test must report on its own
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, args, { cwd: ROOT, env, encoding: 'utf8', timeout: 5 * 60 * 1000 });
  if (r.error) throw r.error;
  // eslint-disable-next-line no-control-regex
  const output = `${r.stdout}\n${r.stderr}`.replace(/\u001b\[[0-9;]*m/g, '');
  return { status: r.status, output };
}

// The leak line every example prints (the fixture's work.c, compiled from its
// build directory, so __FILE__ is ../src/work.c).
const LEAK_SITE = `../src/work.c:${siteLine('leak')} in work_leak()`;
const NATIVE_LINE =
  '  native memory of tag "example:parser": +19,200 bytes in 300 blocks over 3 rounds ' +
  '(6,400 bytes in 100 blocks per round, 64 bytes in 1 block per iteration)';
const ROUNDS = 'memory kept growing over 3 rounds of 100 iterations (after 100 warm-up iterations; mw.settle() after each round):';

function includesLines(output, lines) {
  for (const line of lines) assert.ok(output.includes(line), `missing line:\n${line}\n--- in output:\n${output}`);
}

test.before(() => buildFixture());

const CHECK_HEADER = (name) =>
  `checkEachTest: test "${name}" left memory outstanding after it ended and mw.settle() ran:`;
const CHECK_LINES = ['native memory of tag "example:parser": +64 bytes in 1 block', `  +64 bytes in 1 block at ${LEAK_SITE}`];

test('node:test, assertNoLeak: one pass, one failure with the message', () => {
  const r = run(['--test', '--test-reporter=tap', 'examples/testing/node-test/no-leak.test.js']);
  assert.strictEqual(r.status, 1, r.output);
  assert.match(r.output, /^# pass 1$/m);
  assert.match(r.output, /^# fail 1$/m);
  assert.match(r.output, /^ok 1 - parse\(\) does not leak$/m);
  assert.match(r.output, /^not ok 2 - parseLeaky\(\) does not leak$/m);
  includesLines(r.output, [`    assertNoLeak: ${ROUNDS}`, `    ${NATIVE_LINE}`, `        +19,200 bytes in 300 blocks at ${LEAK_SITE}`]);
});

test('node:test, checkEachTest: the leaking test fails in its afterEach hook', () => {
  const r = run(['--test', '--test-reporter=tap', 'examples/testing/node-test/check-each.test.js']);
  assert.strictEqual(r.status, 1, r.output);
  assert.match(r.output, /^# pass 1$/m);
  assert.match(r.output, /^# fail 1$/m);
  assert.match(r.output, /^ok 1 - parse\(\) leaves nothing behind$/m);
  assert.match(r.output, /^not ok 2 - parseLeaky\(\) leaves nothing behind$/m);
  assert.match(r.output, /failureType: 'hookFailed'/);
  includesLines(r.output, [`    ${CHECK_HEADER('parseLeaky() leaves nothing behind')}`, ...CHECK_LINES.map((l) => `      ${l}`)]);
});

test('Jest, matchers: one pass, one failure with the toLeak message', () => {
  const r = run([BIN.jest, '--config', 'examples/testing/jest/jest.config.js', '--ci', 'examples/testing/jest/no-leak.test.js']);
  assert.strictEqual(r.status, 1, r.output);
  assert.match(r.output, /^Tests: +1 failed, 1 passed, 2 total$/m);
  assert.match(r.output, /✓ parse\(\) does not leak and stays small/);
  assert.match(r.output, /✕ parseLeaky\(\) does not leak/);
  includesLines(r.output, [
    `    expect(fn).not.toLeak(): ${ROUNDS}`,
    `    ${NATIVE_LINE}`,
    `        +19,200 bytes in 300 blocks at ${LEAK_SITE}`,
  ]);
});

test('Jest, checkEachTest: the leaking test fails', () => {
  const r = run([BIN.jest, '--config', 'examples/testing/jest/jest.config.js', '--ci', 'examples/testing/jest/check-each.test.js']);
  assert.strictEqual(r.status, 1, r.output);
  assert.match(r.output, /^Tests: +1 failed, 1 passed, 2 total$/m);
  assert.match(r.output, /✓ parse\(\) leaves nothing behind/);
  assert.match(r.output, /✕ parseLeaky\(\) leaves nothing behind/);
  includesLines(r.output, ['      Message:', `        ${CHECK_HEADER('parseLeaky() leaves nothing behind')}`, ...CHECK_LINES.map((l) => `        ${l}`)]);
});

test('Mocha, checkEachTest: the leaking test fails in its after-each hook', () => {
  const r = run([BIN.mocha, 'examples/testing/mocha/check-each.test.js']);
  assert.strictEqual(r.status, 1, r.output);
  assert.match(r.output, /^ {2}2 passing/m);
  assert.match(r.output, /^ {2}1 failing$/m);
  includesLines(r.output, [
    '  1) "after each" hook: nativeMemwatchAfterEach for "parseLeaky() leaves nothing behind":',
    `     AssertionError [ERR_ASSERTION]: ${CHECK_HEADER('parser parseLeaky() leaves nothing behind')}`,
    ...CHECK_LINES.map((l) => `  ${l}`),
  ]);
});

test('Mocha, assertNoLeak: one pass, one failure with the message', () => {
  const r = run([BIN.mocha, 'examples/testing/mocha/no-leak.test.js']);
  assert.strictEqual(r.status, 1, r.output);
  assert.match(r.output, /^ {2}1 passing/m);
  assert.match(r.output, /^ {2}1 failing$/m);
  includesLines(r.output, [
    '  1) parser (assertNoLeak)',
    '       parseLeaky() does not leak:',
    `     AssertionError [ERR_ASSERTION]: assertNoLeak: ${ROUNDS}`,
    NATIVE_LINE,
    `    +19,200 bytes in 300 blocks at ${LEAK_SITE}`,
  ]);
});

test('Vitest, matchers: one pass, one failure with the toLeak message', () => {
  const r = run([BIN.vitest, 'run', '--config', 'examples/testing/vitest/vitest.config.mjs', 'no-leak']);
  assert.strictEqual(r.status, 1, r.output);
  assert.match(r.output, /Tests +1 failed \| 1 passed \(2\)/);
  assert.match(r.output, /✓ parse\(\) does not leak and stays small/);
  assert.match(r.output, /× parseLeaky\(\) does not leak/);
  includesLines(r.output, [`Error: expect(fn).not.toLeak(): ${ROUNDS}`, NATIVE_LINE, `    +19,200 bytes in 300 blocks at ${LEAK_SITE}`]);
});

test('Vitest, checkEachTest: the leaking test fails', () => {
  const r = run([BIN.vitest, 'run', '--config', 'examples/testing/vitest/vitest.config.mjs', 'check-each']);
  assert.strictEqual(r.status, 1, r.output);
  assert.match(r.output, /Tests +1 failed \| 1 passed \(2\)/);
  assert.match(r.output, /✓ parse\(\) leaves nothing behind/);
  assert.match(r.output, /× parseLeaky\(\) leaves nothing behind/);
  includesLines(r.output, [`AssertionError: ${CHECK_HEADER('parseLeaky() leaves nothing behind')}`, ...CHECK_LINES.map((l) => `  ${l}`)]);
});
