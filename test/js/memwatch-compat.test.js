'use strict';
// @airbnb/node-memwatch's own test suite (node_modules/@airbnb/node-memwatch/
// main.test.js, vitest), unchanged, against require('native-memwatch'): its
// `import memwatch from './include'` is aliased to this package. The run writes
// nothing under node_modules (cache in a temp dir). And programs written for
// memwatch-next run unchanged: on('stats'), on('leak'), gc().

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
const SUITE = path.join(ROOT, 'node_modules/@airbnb/node-memwatch');
const VITEST = path.join(ROOT, 'node_modules/vitest/vitest.mjs');
const skip = !fs.existsSync(path.join(SUITE, 'main.test.js')) || !fs.existsSync(VITEST)
  ? '@airbnb/node-memwatch or vitest is not installed'
  : false;

function childEnv() {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

test("@airbnb/node-memwatch's suite passes unchanged against native-memwatch", { skip }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmw-airbnb-'));
  try {
    const config = path.join(dir, 'vitest.config.mjs');
    fs.writeFileSync(
      config,
      `export default {
  root: ${JSON.stringify(SUITE)},
  cacheDir: ${JSON.stringify(path.join(dir, 'cache'))},
  test: { include: ['main.test.js'], exclude: [], watch: false, pool: 'forks', cache: false },
  resolve: { alias: [{ find: /^\\.\\/include$/, replacement: ${JSON.stringify(path.join(ROOT, 'index.js'))} }] },
};
`,
    );
    const r = spawnSync(process.execPath, [VITEST, 'run', '--config', config, '--reporter', 'verbose'], {
      cwd: dir,
      encoding: 'utf8',
      env: childEnv(),
      maxBuffer: 16 * 1024 * 1024,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    assert.equal(r.status, 0, out);
    assert.match(out, /Tests\s+6 passed \(6\)/, out);
    assert.ok(!fs.existsSync(path.join(SUITE, 'node_modules')), 'nothing written under node_modules');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

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
