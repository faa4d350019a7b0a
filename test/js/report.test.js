'use strict';

// The report's verdict rules and the HTML writer, on synthetic samples (no app
// run): a steady climb is a likely leak, a jagged one is growth, a flat run is
// ok, leak events come first; a one-hour run draws at most MAX_POINTS points a
// series; text is escaped.

const test = require('node:test');
const assert = require('node:assert/strict');

const { verdict, fit } = require('../../lib/cli/verdict.js');
const { renderHtml, MAX_POINTS } = require('../../lib/cli/html.js');
const { PARTS } = require('../../lib/explain.js');

const MiB = 1024 * 1024;

function report(n, nativeAt, extra = {}) {
  const samples = [];
  for (let i = 0; i < n; i++) {
    const native = nativeAt(i);
    const parts = Object.fromEntries(PARTS.map((p) => [p, 0]));
    parts.files = 40 * MiB;
    parts.native = Object.values(native).reduce((a, b) => a + b, 0);
    const rss = parts.files + parts.native;
    samples.push({ t: i * 100, rss, parts, heapUsed: 0, heapTotal: 0, external: 0, arrayBuffers: 0, native, finalizersLive: 0, handles: 1 });
  }
  return { command: ['node', 'x.js'], samples, gc: [], leaks: [], intervalMs: 100, durationMs: (n - 1) * 100, end: { tags: [], sites: [{ file: 'src/img.c', line: 88, tag: 'images', currBytes: 1 }] }, ...extra };
}

test('fit(): slope, R² and fitted growth', () => {
  assert.deepEqual(fit([0, 1, 2, 3], [1, 3, 5, 7]), { slope: 2, r2: 1, growth: 6 });
  assert.deepEqual(fit([0, 1, 2], [5, 5, 5]), { slope: 0, r2: 0, growth: 0 });
});

test('a steady climb of one tag: likely leak, with its top site', () => {
  const v = verdict(report(6001, (i) => ({ images: i * 50 * 1024, other: 3 * MiB })));
  assert.equal(v.level, 'leak');
  assert.equal(v.series, 'tag:images');
  assert.equal(v.text, 'Native tag `images` grew 293 MB in 10 min at a steady rate (29.3 MB/min): likely leak; top site src/img.c:88');
});

test('a jagged climb: growth, not a leak', () => {
  const v = verdict(report(600, (i) => ({ cache: (i % 100) * MiB * 0.5 + i * 20 * 1024 })));
  assert.equal(v.level, 'growth');
  assert.match(v.text, /^Native tag `cache` grew [\d.]+ MB in 59\.9 s, unsteadily \(R² 0\.\d\d\): growth, possibly a cache or a leak$/);
});

test('flat, or growth below 4 MB: ok', () => {
  let v = verdict(report(600, () => ({ a: 8 * MiB })));
  assert.equal(v.level, 'ok');
  assert.equal(v.text, 'No steady growth: RSS 48.0 MB to 48.0 MB over 59.9 s; no native tag or memory part grew by 4.0 MB or more.');
  v = verdict(report(600, (i) => ({ a: i * 6 * 1024 })));
  assert.equal(v.level, 'ok');
  assert.equal(verdict(report(1, () => ({}))).level, 'empty');
});

test('a leak event comes first', () => {
  const r = report(600, () => ({ a: MiB }), { leaks: [{ t: 5000, info: { kind: 'native', tag: 'images', growth: 12 * MiB, reason: 'grew in 5 of 5 windows' } }] });
  const v = verdict(r);
  assert.equal(v.level, 'leak');
  assert.equal(v.text, 'native tag `images` grew 12.0 MB: leak reported by native-memwatch (grew in 5 of 5 windows); top site src/img.c:88');
});

test('HTML: at most MAX_POINTS points a series, escaped text, no script', () => {
  const r = report(36000, (i) => ({ images: i * 1000, '<b>&x': MiB }));
  r.command = ['node', '<script>alert(1)</script>.js'];
  r.verdict = verdict(r);
  const html = renderHtml(r);
  assert.ok(!/<script/i.test(html));
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;.js'));
  assert.ok(html.includes('&lt;b&gt;&amp;x'));
  const paths = [...html.matchAll(/<path class="series(?: line)?" data-series="([^"]+)" d="([^"]+)"/g)];
  assert.ok(paths.length > 10);
  for (const [, name, d] of paths) {
    const points = (d.match(/[ML]/g) || []).length;
    const areas = d.endsWith('Z') ? 2 : 1;
    assert.ok(points <= MAX_POINTS * areas, `${name}: ${points} points`);
  }
  assert.equal(MAX_POINTS, 600);
});

test('constructors (run --heap): listed by report --text and in the HTML table; absent without', () => {
  const { renderText } = require('../../lib/cli/text.js');
  const r = report(10, () => ({ a: MiB }), {
    constructors: [
      { name: 'Foo', count: 1234, bytes: 39488, allocated: 1234, freed: 0 },
      { name: 'system / Context', count: -2, bytes: -136, allocated: 2, freed: 4 },
    ],
    heap: { before: { nodes: 10, size_bytes: 100 }, after: { nodes: 20, size_bytes: 200 }, startMs: 1, endMs: 2, error: null },
  });
  r.verdict = verdict(r);
  const lines = renderText(r).split('\n');
  const at = lines.indexOf('top constructors (JS heap, start to exit; --heap):');
  assert.ok(at > 0, lines.join('\n'));
  assert.equal(lines[at + 1], `  ${'Foo'.padEnd(36)} ${'+1234'.padStart(10)}  ${'39 KB'.padStart(10)}  (1234 new, 0 freed)`);
  assert.match(lines[at + 2], /^ {2}system \/ Context +-2 +\S+ B {2}\(2 new, 4 freed\)$/);
  const html = renderHtml(r);
  assert.match(html, /<h2>Top constructors \(JS heap\)<\/h2><table[^>]*>.*?<td>Foo<\/td><td class="num">1234<\/td>/s);
  const none = report(10, () => ({ a: MiB }), { constructors: null, heap: { error: 'heap snapshot at exit failed: x' } });
  none.verdict = verdict(none);
  assert.ok(renderText(none).includes('\ntop constructors: heap snapshot at exit failed: x\n'));
  assert.match(renderHtml(none), /Not recorded in this run/);
});
