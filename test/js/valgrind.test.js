'use strict';
// The shipped Valgrind suppressions (valgrind/node.supp, docs/valgrind.md) hide
// Node's and V8's own reports and nothing of an addon's: the consumer fixture
// under memcheck reports 0 errors and 0 definitely-lost bytes for a clean run,
// and exactly the blocks it leaks (at its leak site) for a leaking run.

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const mw = require('../../');
const { buildFixture } = require('../helpers/build.js');

const haveValgrind = spawnSync('valgrind', ['--version']).status === 0;
// What libc holds for a tracked block of n <= 1 KiB bytes: the 16-byte header, the
// capacity of its 16-byte size class and the 8-byte canary (docs/architecture.md).
const libcBytes = (n) => 16 + 16 * Math.max(1, Math.ceil(n / 16)) + 8;

function memcheck(leaks, size) {
  const binary = buildFixture();
  const script = `
    require('./');
    const fx = require(${JSON.stringify(binary)});
    const t = fx.tag('valgrind');
    const h = fx.alloc(t, 100);
    fx.free(h, t);
    if (${leaks} > 0) fx.leak(t, ${size}, ${leaks});`;
  const args = ['--leak-check=full', '--show-leak-kinds=definite', '--errors-for-leak-kinds=definite',
    `--suppressions=${mw.valgrindSuppressions}`, '--num-callers=20', process.execPath, '-e', script];
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return new Promise((resolve, reject) => {
    const child = spawn('valgrind', args, { cwd: path.resolve(__dirname, '../..'), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (c) => (err += c));
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, err }));
  });
}

function summary(err) {
  const lost = /definitely lost: ([\d,]+) bytes in ([\d,]+) blocks/.exec(err);
  const errors = /ERROR SUMMARY: (\d+) errors/.exec(err);
  const num = (s) => Number(s.replace(/,/g, ''));
  return { lostBytes: lost ? num(lost[1]) : 0, lostBlocks: lost ? num(lost[2]) : 0, errors: errors ? Number(errors[1]) : null };
}

test('memcheck with the shipped suppressions: clean run 0 errors, leaking run exactly its blocks', { skip: !haveValgrind && 'valgrind is not installed' }, async () => {
  const [clean, leaky] = await Promise.all([memcheck(0, 0), memcheck(3, 77)]);
  assert.equal(clean.code, 0, clean.err);
  assert.deepEqual(summary(clean.err), { lostBytes: 0, lostBlocks: 0, errors: 0 }, clean.err);
  assert.deepEqual(summary(leaky.err), { lostBytes: 3 * libcBytes(77), lostBlocks: 3, errors: 1 }, leaky.err);
  assert.match(leaky.err, /3 blocks are definitely lost in loss record[\s\S]*?work_leak \(work\.c:53\)|3 blocks are definitely lost in loss record[\s\S]*?work_leak/, leaky.err);
});
