'use strict';

// The types of native-memwatch/testing and of the Jest and Vitest matchers:
// test/types/testing.tsconfig.json (node16 resolution, as users of "exports"
// have it) must compile under tsc --strict, @ts-expect-error lines included.

const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');

test('testing/*.d.ts type-check under tsc --strict', (t) => {
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  } catch {
    t.skip('typescript is not installed');
    return;
  }
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'test/types/testing.tsconfig.json')], { cwd: ROOT, encoding: 'utf8' });
  assert.strictEqual(r.status, 0, `${r.stdout}\n${r.stderr}`);
});
