'use strict';

// @airbnb/node-memwatch's own test suite (node_modules/@airbnb/node-memwatch/
// main.test.js, a devDependency, run unchanged by vitest) against
// require('native-memwatch'): test/fixtures/memwatch-suite/vitest.config.mjs
// points the suite's `import memwatch from './include'` at this package. Its
// HeapDiff tests and its two event tests (mw.on / once / removeAllListeners
// and the `stats` event after gc()) must all pass.
// --configLoader runner: vite loads the config without writing a bundled copy
// into node_modules/.vite-temp (node_modules is shared and read-only here).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
const CONFIG = path.join(ROOT, 'test', 'fixtures', 'memwatch-suite', 'vitest.config.mjs');
const SUITE = path.join(ROOT, 'node_modules', '@airbnb', 'node-memwatch', 'main.test.js');
const VITEST = path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');

const HEAPDIFF_TESTS = [
  'node-memwatch HeapDiff detects allocations',
  'node-memwatch HeapDiff has the correct output format',
  'node-memwatch HeapDiff double end should throw',
  'node-memwatch HeapDiff improper HeapDiff allocation should throw an exception',
];
const EVENT_TESTS = ['node-memwatch The library exports a couple functions', 'node-memwatch .gc() causes a stats() event to be emitted'];

const missing = !fs.existsSync(SUITE) || !fs.existsSync(VITEST);
let results = null;

function suiteResults() {
  if (results) return results;
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nmw-memwatch-suite-')), 'results.json');
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, [VITEST, 'run', '--config', CONFIG, '--configLoader', 'runner', '--reporter=json', `--outputFile=${out}`], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 300000,
  });
  assert.ok(fs.existsSync(out), `vitest wrote no results (status ${r.status}): ${r.stderr}`);
  const json = JSON.parse(fs.readFileSync(out, 'utf8'));
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  results = new Map();
  for (const file of json.testResults) {
    for (const a of file.assertionResults) results.set([...a.ancestorTitles, a.title].join(' '), a);
  }
  return results;
}

test('the suite is the one of @airbnb/node-memwatch 3, with its six tests', { skip: missing && 'the devDependency @airbnb/node-memwatch or vitest is not installed' }, () => {
  assert.equal(require(path.join(path.dirname(SUITE), 'package.json')).version, '3.0.0');
  assert.deepEqual([...suiteResults().keys()].sort(), [...HEAPDIFF_TESTS, ...EVENT_TESTS].sort());
});

for (const name of HEAPDIFF_TESTS) {
  test(`memwatch suite: ${name}`, { skip: missing && 'not installed' }, () => {
    const a = suiteResults().get(name);
    assert.equal(a.status, 'passed', (a.failureMessages || []).join('\n'));
  });
}

for (const name of EVENT_TESTS) {
  test(`memwatch suite: ${name}`, { skip: missing && 'not installed' }, () => {
    const a = suiteResults().get(name);
    assert.equal(a.status, 'passed', (a.failureMessages || []).join('\n'));
  });
}
