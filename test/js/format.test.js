'use strict';
// Human output: util.inspect (console.log) of what the API returns is a short
// summary (lib/format.js); mw.format / mw.table give the same text; the raw data
// stays what it was (JSON, fields, deep equality).

const test = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const mw = require('../../');
const { loadFixture } = require('../helpers/build.js');
const { freshTag } = require('../helpers/common.js');

const ROOT = path.resolve(__dirname, '../..');
const fx = loadFixture();

test('a new app: console.log(mw.stats()) says nothing is tracked yet, in a few lines', () => {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, ['-e', "const mw = require('.'); console.log(mw.stats()); console.log(mw.snapshot())"], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^native-memwatch stats: 0 B in 0 blocks \(peak 0 B; 0 allocs, 0 frees\) under 0 tags; tracker overhead \d+(\.\d)? (B|KiB)$/);
  assert.match(lines[1], /^  nothing tracked yet: no addon has allocated through the native-memwatch C API/);
  assert.equal(lines[2], '  fields: time, total, tags, overhead, misuse, threads, external, addons, heap, memoryUsage');
  assert.match(lines[3], /^native-memwatch Snapshot \(\d{4}-\d\d-\d\dT[\d:.]+Z\): 0 B in 0 blocks, 0 call-site rows$/);
  assert.equal(lines.length, 5, r.stdout);
  assert.doesNotMatch(r.stdout, /\[Object\]|heapSizeLimit/);
});

test('stats(): top tags with human sizes; the raw fields and JSON are unchanged', () => {
  const big = freshTag('fmt-big');
  const small = freshTag('fmt-small');
  const a = fx.alloc(fx.tag(big), 3 * 1024 * 1024 + 512 * 1024);
  const b = fx.alloc(fx.tag(small), 1536);
  try {
    const s = mw.stats();
    const text = util.inspect(s);
    assert.equal(text, mw.format(s));
    const lines = text.split('\n');
    assert.match(lines[0], /^native-memwatch stats: /);
    assert.match(lines[1], /^  tag +current +blocks +peak +allocs$/);
    const bigLine = lines.find((l) => l.startsWith(`  ${big} `));
    const smallLine = lines.find((l) => l.startsWith(`  ${small} `));
    assert.match(bigLine, /^ +\S+ +3\.5 MiB +1 +3\.5 MiB +1$/);
    assert.match(smallLine, /^ +\S+ +1\.5 KiB +1 +1\.5 KiB +1$/);
    assert.doesNotMatch(text, /nothing tracked yet/);
    assert.equal(s.tags[big].currBytes, 3 * 1024 * 1024 + 512 * 1024);
    assert.equal(JSON.parse(JSON.stringify(s)).tags[small].currBytes, 1536);
    assert.ok(!Object.keys(s).includes(util.inspect.custom.toString()));
    assert.match(util.inspect(s, { customInspect: false }), /currBytes/);
    assert.equal(util.inspect({ s }, { depth: 0 }), '{ s: [native-memwatch stats] }');
  } finally {
    fx.free(a, fx.tag(big));
    fx.free(b, fx.tag(small));
  }
});

test('snapshots, statistics, diffs and sites print as tables; table() gives every row', () => {
  const name = freshTag('fmt-diff');
  const id = fx.tag(name);
  const before = mw.snapshot();
  const h = fx.alloc(id, 2048);
  try {
    const after = mw.snapshot();
    const diff = after.compareTo(before);
    const row = diff.find((d) => d.tag === name);
    assert.deepEqual(row, { tag: name, bytes: 2048, bytesDiff: 2048, blocks: 1, blocksDiff: 1 });
    const text = util.inspect(diff);
    assert.match(text.split('\n')[0], /^native-memwatch diff by tag: \+\S+ \S+, [+-]?\d+ blocks; \d+ of \d+ rows changed$/);
    assert.match(text, new RegExp(`^  ${name} +\\+2\\.0 KiB +2\\.0 KiB +\\+1$`, 'm'));
    const bySite = after.compareTo(before, { groupBy: 'site' });
    assert.match(util.inspect(bySite), /^native-memwatch diff by call site: /);
    assert.match(mw.table(bySite), new RegExp(`work\\.c:\\d+ work_alloc +${name} +\\+2\\.0 KiB`));
    assert.match(util.inspect(after), /^native-memwatch Snapshot \(/);
    assert.match(util.inspect(after), new RegExp(`^  ${name} +2\\.0 KiB +1$`, 'm'));
    assert.match(util.inspect(after.statistics('site')), /^native-memwatch statistics by call site: /);
    assert.match(util.inspect(mw.sites({ tag: name })), new RegExp(`^native-memwatch call sites: 1 row, 2\\.0 KiB live\\n  call site`));
    // format() stops at options.limit rows and says how many are left; table() shows all.
    const all = after.compareTo(before).length;
    if (all > 1) {
      assert.match(mw.format(after.compareTo(before), { limit: 1 }), new RegExp(`\\.\\.\\. ${all - 1} more rows?$`));
      assert.equal(mw.table(after.compareTo(before)).split('\n').length, all + 1);
    }
  } finally {
    fx.free(h, id);
  }
});

test('finalizer reports and region deltas format; sizes; bad arguments are named', () => {
  assert.match(util.inspect(mw.finalizers()), /^native-memwatch finalizers: \d+ registered, /);
  assert.match(util.inspect(mw.finalizers.live()), /^native-memwatch live finalizers: \d+/);
  assert.match(util.inspect(mw.finalizers.environments()), /^native-memwatch finalizer environments: \d+\n  environment +thread +state/);
  const r = mw.region();
  const h = fx.alloc(fx.tag(freshTag('fmt-region')), 100);
  fx.free(h, fx.tag(freshTag('fmt-region')));
  assert.match(mw.format(r.delta()), /^native-memwatch region: net 0 B \(max \+100 B\), 100 B allocated/);
  r.close();
  assert.equal(mw.format(1536), '1.5 KiB');
  assert.equal(mw.format(5 * 1024 ** 3), '5.0 GiB');
  assert.equal(mw.format(-10), '-10 B');
  assert.throws(() => mw.format({}), { name: 'TypeError', message: /^x must be what native-memwatch returns/ });
  assert.throws(() => mw.table('x'), { name: 'TypeError', message: /received type string/ });
  assert.throws(() => mw.format(mw.stats(), { limit: 0 }), { name: 'RangeError', message: /options\.limit/ });
  assert.throws(() => mw.format(mw.stats(), { rows: 1 }), { name: 'TypeError', message: /options\.rows is not a supported option/ });
});
