'use strict';
// Programs written for memwatch-next run unchanged: on('stats'), on('leak'),
// gc(). (@airbnb/node-memwatch's own suite runs in memwatch-suite.test.js.)

const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
function childEnv() {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

test('a memwatch-next program: on("stats"), on("leak"), gc()', () => {
  const program = `
    const memwatch = require(${JSON.stringify(ROOT)});
    const seen = [];
    memwatch.on('leak', (info) => seen.push(['leak', info.reason]));
    memwatch.once('stats', (stats) => {
      seen.push(['stats', Object.keys(stats)]);
      memwatch.removeAllListeners('leak');
      console.log(JSON.stringify(seen));
    });
    memwatch.gc();
  `;
  const r = spawnSync(process.execPath, ['-e', program], { encoding: 'utf8', env: childEnv() });
  assert.equal(r.status, 0, r.stderr);
  const seen = JSON.parse(r.stdout.trim());
  assert.equal(seen.length, 1);
  const [kind, keys] = seen[0];
  assert.equal(kind, 'stats');
  for (const k of ['num_full_gc', 'num_inc_gc', 'heap_compactions', 'usage_trend', 'estimated_base', 'current_base', 'min', 'max']) {
    assert.ok(keys.includes(k), k);
  }
});
