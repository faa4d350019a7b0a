'use strict';

// The CLI end to end: `native-memwatch run` on a leaking and a clean fixture
// app (the consumer addon leaks or frees 4000-byte blocks), the report's JSON
// fields, `report --text/--json`, usage errors, --duration, and the HTML opened
// in headless Chromium (playwright-core driving /usr/bin/chromium): no console
// errors, the charts' series present, the verdict right. Screenshots go to
// build/test-artifacts/ (not committed).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const { buildFixture, ROOT } = require('../helpers/build.js');

const BIN = path.join(ROOT, 'bin', 'native-memwatch.js');
const APPS = path.join(ROOT, 'test', 'fixtures', 'cli-apps');
const ARTIFACTS = path.join(ROOT, 'build', 'test-artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const FIXTURE = buildFixture();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nmw-cli-'));
const ROUNDS = 40;

function cli(args, env = {}) {
  const childEnv = { ...process.env, NMW_FIXTURE: FIXTURE, ROUNDS: String(ROUNDS), ...env };
  delete childEnv.NODE_TEST_CONTEXT;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));

let leaky;
let clean;

test('run -- node leaky.js: exit code passed through, the report names the leaking tag', async () => {
  const out = path.join(tmp, 'leaky');
  const r = await cli(['run', '--interval', '20', '--out', out, '--', 'node', path.join(APPS, 'leaky.js')]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /native-memwatch: report: .*leaky\.html \(data: .*leaky\.json\)/);
  leaky = readJson(`${out}.json`);
  assert.equal(leaky.format, 'native-memwatch-report');
  assert.equal(leaky.version, 1);
  assert.deepEqual(leaky.command, ['node', path.join(APPS, 'leaky.js')]);
  assert.deepEqual(leaky.exit, { code: 3, signal: null });
  assert.equal(leaky.intervalMs, 20);
  assert.equal(typeof leaky.pid, 'number');
  assert.equal(leaky.node, process.version);
  assert.ok(leaky.samples.length >= 3, `${leaky.samples.length} samples`);
  const keys = ['t', 'rss', 'parts', 'heapUsed', 'heapTotal', 'external', 'arrayBuffers', 'native', 'finalizersLive', 'handles'];
  for (const s of leaky.samples) {
    assert.deepEqual(Object.keys(s), keys);
    assert.equal(Object.values(s.parts).reduce((a, b) => a + b, 0), s.rss, 'parts sum to RSS');
  }
  for (let i = 1; i < leaky.samples.length; i++) assert.ok(leaky.samples[i].t >= leaky.samples[i - 1].t);
  // The last sample is taken at exit: every round's blocks are in it.
  const lost = 4000 * 512 * ROUNDS;
  assert.equal(leaky.samples.at(-1).native['cli.leaky'], lost);
  assert.equal(leaky.end.how, 'exit');
  assert.deepEqual(leaky.end.tags[0], { name: 'cli.leaky', currBytes: lost, peakBytes: lost, currBlocks: 512 * ROUNDS, allocs: 512 * ROUNDS, frees: 0 });
  assert.equal(leaky.end.sites[0].tag, 'cli.leaky');
  assert.equal(leaky.end.sites[0].function, 'work_leak');
  assert.match(leaky.end.sites[0].file, /work\.c$/);
  assert.ok(Array.isArray(leaky.gc));
  for (const g of leaky.gc) assert.ok(g.length === 3 && typeof g[1] === 'number' && typeof g[2] === 'string');
  assert.deepEqual(Object.keys(leaky.sources), Object.keys(leaky.samples[0].parts));
  assert.equal(leaky.verdict.level, 'leak');
  assert.equal(leaky.verdict.series, 'tag:cli.leaky');
  assert.match(leaky.verdict.text, /^Native tag `cli\.leaky` grew [\d.]+ MB in [\d.]+ s at a steady rate \([\d.]+ [MG]B\/min\): likely leak; top site \S*work\.c:\d+$/);
  assert.ok(leaky.exitReport && leaky.exitReport.version === 1);
});

test('run clean.js (no "node", no "--"): exit code 0, nothing live, verdict: no growth', async () => {
  const out = path.join(tmp, 'clean');
  const r = await cli(['run', '--interval=20', `--out=${out}`, path.join(APPS, 'clean.js')]);
  assert.equal(r.code, 0, r.stderr);
  clean = readJson(`${out}.json`);
  assert.deepEqual(clean.exit, { code: 0, signal: null });
  assert.equal(clean.end.tags[0].name, 'cli.clean');
  assert.equal(clean.end.tags[0].currBytes, 0);
  assert.equal(clean.end.tags[0].allocs, 512 * ROUNDS);
  assert.equal(clean.end.tags[0].frees, 512 * ROUNDS);
  assert.equal(clean.verdict.level, 'ok');
  assert.match(clean.verdict.text, /^No steady growth: RSS [\d.]+ MB to [\d.]+ MB over [\d.]+ s; no native tag or memory part grew by 4\.0 MB or more\.$/);
});

test('--out DIR/: the report goes inside, under its default name (the directory is created)', async () => {
  const dir = path.join(tmp, 'reports', 'nested');
  const r = await cli(['run', '--interval=50', '--out', `${dir}${path.sep}`, path.join(APPS, 'clean.js')]);
  assert.equal(r.code, 0, r.stderr);
  const files = fs.readdirSync(dir).sort();
  assert.equal(files.length, 2, files.join(', '));
  assert.match(files[0], /^native-memwatch-report-\d+\.html$/);
  assert.equal(files[1], files[0].replace(/\.html$/, '.json'));
  assert.equal(readJson(path.join(dir, files[1])).exit.code, 0);
});

test('report --text, --json and report FILE.json', async () => {
  const file = path.join(tmp, 'leaky.json');
  const text = await cli(['report', '--text', file]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.split('\n');
  assert.equal(lines[1], `verdict: ${leaky.verdict.text}`);
  assert.ok(lines.includes('leak events: 0'));
  assert.ok(lines.some((l) => /^ {2}tag cli\.leaky +[\d.]+ MB {2}R² 1\.00/.test(l)), text.stdout);
  assert.ok(lines.some((l) => /^finalizers at exit \(NATIVE_MEMWATCH_EXIT_REPORT\): 0 never ran/.test(l)), text.stdout);
  const json = await cli(['report', '--json', file]);
  const summary = JSON.parse(json.stdout);
  assert.deepEqual(summary.verdict, leaky.verdict);
  assert.equal(summary.sampleCount, leaky.samples.length);
  assert.equal(summary.samples, undefined);
  const again = path.join(tmp, 'again.html');
  const html = await cli(['report', '--out', again, file]);
  assert.equal(html.code, 0, html.stderr);
  assert.equal(fs.readFileSync(again, 'utf8'), fs.readFileSync(path.join(tmp, 'leaky.html'), 'utf8'));
});

test('usage errors exit with 2 and say what is wrong', async () => {
  let r = await cli(['run', '--bogus', 'app.js']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^native-memwatch: unknown option --bogus\n/);
  r = await cli(['run', '--interval', '5', 'app.js']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^native-memwatch: --interval must be a number of at least 10 \(received "5"\)\n/);
  r = await cli(['run', '--']);
  assert.match(r.stderr, /^native-memwatch: run needs a program/);
  r = await cli(['report', path.join(APPS, 'clean.js')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /is not a native-memwatch report|cannot read/);
});

test('run --attach: the app runs with mw.attach(), and the report has its addons', async () => {
  // mw.attach() is present in this build (issue 12): the real path, not the usage error.
  assert.equal(typeof require('../../').attach, 'function');
  const out = path.join(tmp, 'attached');
  const r = await cli(['run', '--attach', '--interval', '20', '--out', out, path.join(APPS, 'clean.js')]);
  assert.equal(r.code, 0, r.stderr);
  const report = readJson(`${out}.json`);
  assert.equal(report.features.attach, true);
  const addon = report.end.addons['native-memwatch/consumer.node'];
  assert.ok(addon, `addons: ${Object.keys(report.end.addons || {})}`);
  assert.equal(addon.path, FIXTURE);
  assert.equal(addon.currBytes + addon.bytesFreed, addon.bytesAllocated);
  // The tag the app allocates under is unchanged by attaching; the addon's
  // own libc calls have a tag named after it.
  const own = report.end.tags.find((t) => t.name === 'cli.clean');
  assert.deepEqual([own.allocs, own.frees, own.currBytes], [512 * ROUNDS, 512 * ROUNDS, 0]);
  assert.ok(report.end.tags.some((t) => t.name === 'native-memwatch/consumer.node'));
  // Without --attach, no addon is accounted.
  assert.deepEqual(clean.end.addons, {});
});

test('run --heap: the report\'s constructors are the heap diff from start to exit', async () => {
  const out = path.join(tmp, 'heap');
  const r = await cli(['run', '--heap', '--interval', '20', '--out', out, path.join(APPS, 'heap.js')], { FOOS: '1234' });
  assert.equal(r.code, 0, r.stderr);
  const report = readJson(`${out}.json`);
  // Exactly the 1234 retained Foos are new; the 5000 Bars made and dropped are in neither snapshot.
  const foo = report.constructors.find((c) => c.name === 'Foo');
  assert.deepEqual(Object.keys(foo), ['name', 'count', 'bytes', 'allocated', 'freed']);
  assert.equal(foo.count, 1234);
  assert.equal(foo.allocated, 1234);
  assert.equal(foo.freed, 0);
  assert.ok(foo.bytes > 0 && foo.bytes % 1234 === 0, `${foo.bytes} bytes`);
  assert.equal(report.constructors.find((c) => c.name === 'Bar'), undefined);
  for (let i = 1; i < report.constructors.length; i++) assert.ok(report.constructors[i - 1].bytes >= report.constructors[i].bytes);
  assert.ok(report.constructors.length <= 50);
  assert.deepEqual(Object.keys(report.heap), ['before', 'after', 'startMs', 'endMs', 'error']);
  assert.equal(report.heap.error, null);
  assert.ok(report.heap.after.nodes > report.heap.before.nodes);
  assert.equal(typeof report.heap.startMs, 'number');
  assert.equal(typeof report.heap.endMs, 'number');
  // Without --heap: not recorded.
  assert.equal(leaky.constructors, null);
  assert.equal(leaky.heap, null);
  // report --text lists them; the HTML's table has the row.
  const text = await cli(['report', '--text', `${out}.json`]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.split('\n');
  assert.ok(lines.includes('top constructors (JS heap, start to exit; --heap):'), text.stdout);
  assert.ok(lines.some((l) => /^ {2}Foo {33} +\+1234 +[\d.]+ KB {2}\(1234 new, 0 freed\)$/.test(l)), text.stdout);
  const html = fs.readFileSync(`${out}.html`, 'utf8');
  assert.match(html, /<h2>Top constructors \(JS heap\)<\/h2><table[^>]*>.*?<td>Foo<\/td><td class="num">1234<\/td>/s);
});

test('--duration stops the app with SIGTERM and still writes the report', async () => {
  const out = path.join(tmp, 'forever');
  const r = await cli(['run', '--duration', '1', '--interval', '50', '--out', out, path.join(APPS, 'forever.js')]);
  assert.equal(r.code, 128 + os.constants.signals.SIGTERM, r.stderr);
  assert.match(r.stderr, /--duration 1 s reached; stopping the app \(SIGTERM\)/);
  const report = readJson(`${out}.json`);
  assert.deepEqual(report.exit, { code: null, signal: 'SIGTERM' });
  assert.equal(report.end.how, 'duration');
});

test('an app with a worker thread: its exit code, samples in order', async () => {
  const out = path.join(tmp, 'workers');
  const r = await cli(['run', '--interval', '20', '--out', out, path.join(APPS, 'workers.js')]);
  assert.equal(r.code, 5, r.stderr);
  const report = readJson(`${out}.json`);
  assert.ok(report.samples.length >= 5, `${report.samples.length} samples`);
  for (let i = 1; i < report.samples.length; i++) assert.ok(report.samples[i].t > report.samples[i - 1].t, `sample ${i}`);
  assert.equal(report.durationMs, report.samples.at(-1).t);
});

test('the HTML report in headless Chromium: no console errors, the series, the verdict', async (t) => {
  const { chromium } = require('playwright-core');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmw-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1000, height: 1200 },
  });
  t.after(async () => {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const [name, report] of [['leaky', leaky], ['clean', clean]]) {
    const page = await context.newPage();
    const errors = [];
    const requests = [];
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (r) => !r.url().startsWith('file:') && requests.push(r.url()));
    await page.goto(`file://${path.join(tmp, `${name}.html`)}`);
    assert.equal(await page.textContent('#verdict'), report.verdict.text);
    assert.equal(await page.getAttribute('#verdict', 'data-level'), report.verdict.level);
    const series = await page.$$eval('svg.chart', (svgs) =>
      Object.fromEntries(svgs.map((s) => [s.id, [...s.querySelectorAll('[data-series]')].map((e) => e.dataset.series)])),
    );
    assert.deepEqual(Object.keys(series), ['chart-rss', 'chart-heap', 'chart-native', 'chart-external', 'chart-finalizers']);
    assert.deepEqual(series['chart-rss'], [
      'part:v8HeapUsed', 'part:v8HeapFree', 'part:arrayBuffers', 'part:externalOther', 'part:native', 'part:mallocOther',
      'part:mallocFree', 'part:files', 'part:shmem', 'part:stack', 'part:unexplained', 'rss',
    ]);
    assert.deepEqual(series['chart-heap'].slice(0, 2), ['heapUsed', 'heapTotal']);
    if (report.gc.length) assert.equal(series['chart-heap'][2], 'gc');
    assert.deepEqual(series['chart-native'], [`tag:cli.${name}`]);
    assert.deepEqual(series['chart-external'], ['arrayBuffers', 'externalRest']);
    assert.deepEqual(series['chart-finalizers'], ['finalizersLive', 'handles']);
    const tagCell = await page.$$eval('section.panel', (ps) => {
      const p = ps.find((x) => x.querySelector('h2').textContent === 'Top tags');
      return p.querySelector('tbody td').textContent;
    });
    assert.equal(tagCell, `cli.${name}`);
    await page.screenshot({ path: path.join(ARTIFACTS, `cli-${name}.png`), fullPage: true });
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, []);
    await page.close();
  }
});
