'use strict';

// Misuse: each kind made by the consumer fixture, counted per kind and per site,
// and reported on stderr once per (site, kind). Each test runs in a child
// process so that its stderr holds only its own reports.

const test = require('node:test');
const assert = require('node:assert/strict');

const { buildFixture } = require('../helpers/build.js');
const { runNodeJson } = require('../helpers/child.js');
const { misuseLineRe, site } = require('../helpers/common.js');

buildFixture();

// The child's prelude: native-memwatch first, then the fixture; `snap()` gives
// the misuse counts, `delta(a, b)` their difference; the script's value is
// printed as JSON on the last stdout line.
const PRELUDE = `
  const mw = require(process.env.NMW_ROOT);
  const fx = require(process.env.NMW_FIXTURE);
  if (fx.importStatus !== 'ok') throw new Error('importStatus ' + fx.importStatus);
  const KINDS = ['doubleFree', 'foreignFree', 'overrun', 'tagMismatch', 'badTag',
                 'untrackUnknown', 'trackTwice', 'total'];
  const snap = () => mw.stats().misuse;
  const delta = (a, b) => Object.fromEntries(KINDS.map((k) => [k, b[k] - a[k]]));
  const counters = (name) => {
    const t = mw.stats().tags[name];
    return { currBytes: t.currBytes, currBlocks: t.currBlocks, allocs: t.allocs, frees: t.frees,
             reallocs: t.reallocs, bytesFreed: t.bytesFreed };
  };
  const done = (value) => console.log(JSON.stringify(value));
`;

function zeroKinds(values) {
  return {
    doubleFree: 0,
    foreignFree: 0,
    overrun: 0,
    tagMismatch: 0,
    badTag: 0,
    untrackUnknown: 0,
    trackTwice: 0,
    total: 0,
    ...values,
  };
}

// The lines of stderr that are misuse reports.
function reportLines(stderr) {
  return stderr.split('\n').filter((line) => line.startsWith('native-memwatch: '));
}

// The misuse site row of a fixture site.
function siteRow(sites, name) {
  const want = site(name);
  const rows = sites.filter(
    (s) => typeof s.file === 'string' && s.file.endsWith(want.file) && s.line === want.line,
  );
  assert.equal(rows.length, 1, `one misuse row for ${name}: ${JSON.stringify(sites)}`);
  assert.equal(rows[0].function, want.function);
  return rows[0];
}

// Runs `body` 3 times in a child and checks: count 3 of `kind` (and nothing
// else), one stderr line for the site, the site row's count.
async function checkKind({ kind, key, siteName, body, setup = '', extra = '' }) {
  const { value, stderr } = await runNodeJson(`${PRELUDE}
    ${setup}
    const before = snap();
    for (let i = 0; i < 3; i++) { ${body} }
    const after = snap();
    ${extra}
    done({ delta: delta(before, after), sites: after.sites, extra: typeof result === 'undefined' ? null : result });
  `);
  assert.deepEqual(value.delta, zeroKinds({ [key]: 3, total: 3 }));
  const lines = reportLines(stderr);
  assert.equal(lines.length, 1, `one report line, got:\n${stderr}`);
  assert.match(lines[0], misuseLineRe(kind, siteName));
  const row = siteRow(value.sites, siteName);
  assert.equal(row[key], 3);
  assert.equal(row.total, 3);
  return value;
}

test('double_free: counted 3 times, reported once at the second free', async () => {
  const value = await checkKind({
    kind: 'double_free',
    key: 'doubleFree',
    siteName: 'doubleFreeSecond',
    setup: `const id = mw.tag('df');`,
    body: `fx.doubleFree(id, 16);`,
    extra: `const result = counters('df');`,
  });
  // The refused second free changes no counter.
  assert.deepEqual(value.extra, { currBytes: 0, currBlocks: 0, allocs: 3, frees: 3, reallocs: 0, bytesFreed: 48 });
});

test('foreign_free: a libc pointer passed to nmw_free is left alone', async () => {
  await checkKind({
    kind: 'foreign_free',
    key: 'foreignFree',
    siteName: 'foreignFree',
    body: `fx.foreignFree();`,
  });
});

test('overrun: reported at the allocating site, the block still freed', async () => {
  const value = await checkKind({
    kind: 'overrun',
    key: 'overrun',
    siteName: 'overrunAlloc',
    setup: `const id = mw.tag('ov');`,
    body: `fx.overrun(id, 24);`,
    extra: `const result = counters('ov');`,
  });
  assert.deepEqual(value.extra, { currBytes: 0, currBlocks: 0, allocs: 3, frees: 3, reallocs: 0, bytesFreed: 72 });
});

test('tag_mismatch: freed under the block\'s own tag', async () => {
  const value = await checkKind({
    kind: 'tag_mismatch',
    key: 'tagMismatch',
    siteName: 'free',
    setup: `const id = mw.tag('tm-a'); const other = mw.tag('tm-b');`,
    body: `fx.free(fx.alloc(id, 10), other);`,
    extra: `const result = { a: counters('tm-a'), b: counters('tm-b') };`,
  });
  assert.deepEqual(value.extra.a, { currBytes: 0, currBlocks: 0, allocs: 3, frees: 3, reallocs: 0, bytesFreed: 30 });
  assert.deepEqual(value.extra.b, { currBytes: 0, currBlocks: 0, allocs: 0, frees: 0, reallocs: 0, bytesFreed: 0 });
});

test('bad_tag: an unregistered id is credited to "untagged"', async () => {
  const value = await checkKind({
    kind: 'bad_tag',
    key: 'badTag',
    siteName: 'alloc',
    setup: `const handles = []; const u0 = counters('untagged');`,
    body: `handles.push(fx.alloc(4000, 10));`,
    extra: `const u1 = counters('untagged'); fx.freeMany(handles);
            const result = { allocs: u1.allocs - u0.allocs, currBytes: u1.currBytes - u0.currBytes };`,
  });
  assert.deepEqual(value.extra, { allocs: 3, currBytes: 30 });
});

test('untrack_unknown: untrack of a pointer that is not tracked', async () => {
  await checkKind({
    kind: 'untrack_unknown',
    key: 'untrackUnknown',
    siteName: 'untrackUnknown',
    setup: `const codes = [];`,
    body: `codes.push(fx.untrackUnknown());`,
    extra: `if (codes.some((c) => c !== -3)) throw new Error('untrack returned ' + codes);`,
  });
});

test('track_twice: the record is replaced, the counts stay balanced', async () => {
  const value = await checkKind({
    kind: 'track_twice',
    key: 'trackTwice',
    siteName: 'trackTwiceSecond',
    setup: `const id = mw.tag('tt');`,
    body: `fx.trackTwice(id, 100);`,
    extra: `const result = counters('tt');`,
  });
  assert.equal(value.extra.currBytes, 0);
  assert.equal(value.extra.currBlocks, 0);
});

test('every kind at once: one line per (site, kind), counts per kind', async () => {
  const { value, stderr } = await runNodeJson(`${PRELUDE}
    const id = mw.tag('all'); const other = mw.tag('all-other');
    const before = snap();
    for (let i = 0; i < 3; i++) {
      fx.doubleFree(id, 8);
      fx.foreignFree();
      fx.overrun(id, 8);
      fx.free(fx.alloc(id, 8), other);                  // tag_mismatch at the free site
      fx.free(fx.realloc(fx.alloc(id, 8), 16, other));  // tag_mismatch at the realloc site
      fx.free(fx.alloc(4001, 8));                       // bad_tag at the alloc site
      fx.untrackUnknown();
      fx.trackTwice(id, 8);
    }
    const after = snap();
    done({ delta: delta(before, after), sites: after.sites, all: counters('all') });
  `);
  assert.deepEqual(
    value.delta,
    zeroKinds({
      doubleFree: 3,
      foreignFree: 3,
      overrun: 3,
      tagMismatch: 6,
      badTag: 3,
      untrackUnknown: 3,
      trackTwice: 3,
      total: 24,
    }),
  );
  const expected = [
    ['double_free', 'doubleFreeSecond'],
    ['foreign_free', 'foreignFree'],
    ['overrun', 'overrunAlloc'],
    ['tag_mismatch', 'free'],
    ['tag_mismatch', 'realloc'],
    ['bad_tag', 'alloc'],
    ['untrack_unknown', 'untrackUnknown'],
    ['track_twice', 'trackTwiceSecond'],
  ];
  const lines = reportLines(stderr);
  assert.equal(lines.length, expected.length, stderr);
  for (const [kind, siteName] of expected) {
    assert.equal(lines.filter((l) => misuseLineRe(kind, siteName).test(l)).length, 1, `${kind} at ${siteName}:\n${stderr}`);
  }
  assert.equal(siteRow(value.sites, 'free').tagMismatch, 3);
  assert.equal(siteRow(value.sites, 'realloc').tagMismatch, 3);
  assert.equal(siteRow(value.sites, 'alloc').badTag, 3);
  assert.equal(value.all.currBytes, 0);
  assert.equal(value.all.currBlocks, 0);
});

test('misuse on a libuv pool thread is counted and reported too', async () => {
  const { value, stderr } = await runNodeJson(`${PRELUDE}
    (async () => {
      const id = mw.tag('pool-df');
      const before = snap();
      const handles = fx.allocMany(id, 8, 3);
      await fx.freeAsync(handles);
      await fx.freeAsync(handles); // every block already freed
      const after = snap();
      done({ delta: delta(before, after), sites: after.sites });
    })();
  `);
  assert.deepEqual(value.delta, zeroKinds({ doubleFree: 3, total: 3 }));
  const lines = reportLines(stderr);
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0], misuseLineRe('double_free', 'poolFree'));
  assert.equal(siteRow(value.sites, 'poolFree').doubleFree, 3);
});
