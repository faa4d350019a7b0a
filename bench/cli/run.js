#!/usr/bin/env node
'use strict';

// bench/cli: what `native-memwatch run` costs an app, and how big and how fast
// the HTML report of a one-hour run is.
//
//   node bench/cli/run.js [--trials N]
//
// 1. The workload (bench/cli/workload.js: CPU and allocation, no I/O) runs
//    plain and under `native-memwatch run` (default interval, 100 ms),
//    alternating, N trials each (default 7). Wall time is measured from the
//    outside (process start to exit, the CLI's report writing included); the
//    app's own loop time and CPU time (process.cpuUsage(), the in-process
//    sampler included) are what the workload prints. Medians; ratios are
//    ours / plain.
// 2. A synthetic one-hour run (36,000 samples at 100 ms, 12 tags, 3,600 GC
//    events) is rendered to HTML and opened in headless Chromium
//    (/usr/bin/chromium through playwright-core), 5 times: the time from
//    navigation start to the first frame after the load event.
// Ends with one JSON line.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin', 'native-memwatch.js');
const WORKLOAD = path.join(__dirname, 'workload.js');
const { renderHtml } = require('../../lib/cli/html.js');
const { verdict } = require('../../lib/cli/verdict.js');
const { PARTS } = require('../../lib/explain.js');

const argTrials = process.argv.indexOf('--trials');
const TRIALS = argTrials > 0 ? Number(process.argv[argTrials + 1]) : 7;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nmw-bench-cli-'));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function timeRun(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: tmp, encoding: 'utf8' });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  const line = JSON.parse(r.stdout.trim().split('\n').pop());
  return { wall, app: line.ms, cpu: line.cpuMs };
}

function runOverhead() {
  const plain = [];
  const ours = [];
  timeRun([WORKLOAD]); // warm the file cache
  for (let i = 0; i < TRIALS; i++) {
    plain.push(timeRun([WORKLOAD]));
    ours.push(timeRun([BIN, 'run', '--quiet', '--out', path.join(tmp, `r${i}`), '--', 'node', WORKLOAD]));
  }
  const pw = median(plain.map((x) => x.wall));
  const ow = median(ours.map((x) => x.wall));
  const pa = median(plain.map((x) => x.app));
  const oa = median(ours.map((x) => x.app));
  const pc = median(plain.map((x) => x.cpu));
  const oc = median(ours.map((x) => x.cpu));
  const ratios = plain.map((p, i) => ours[i].wall / p.wall);
  console.log(`workload, ${TRIALS} alternating trials (medians):`);
  console.log(`  wall  plain ${pw.toFixed(0)} ms   under run ${ow.toFixed(0)} ms   ratio ${(ow / pw).toFixed(3)}  (per-pair ratios ${Math.min(...ratios).toFixed(3)}..${Math.max(...ratios).toFixed(3)})`);
  console.log(`  app's own loop  plain ${pa.toFixed(0)} ms   under run ${oa.toFixed(0)} ms   ratio ${(oa / pa).toFixed(3)}`);
  console.log(`  app's CPU time (user + system, the sampler included)  plain ${pc.toFixed(0)} ms   under run ${oc.toFixed(0)} ms   ratio ${(oc / pc).toFixed(3)}`);
  return { ratio_run: ow / pw, ratio_app: oa / pa, ratio_app_cpu: oc / pc, plain_wall_ms: pw, run_wall_ms: ow };
}

/** A deterministic one-hour report: 36,000 samples, 12 tags, one leaking. */
function syntheticReport() {
  const N = 36000;
  const MiB = 1024 * 1024;
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const samples = [];
  const tags = Array.from({ length: 12 }, (_, i) => `app:tag${i}`);
  for (let i = 0; i < N; i++) {
    const t = i * 100;
    const native = {};
    tags.forEach((name, k) => {
      native[name] = k === 0 ? 10 * MiB + i * 2000 : (k + 1) * MiB + Math.floor(rand() * MiB);
    });
    const nativeSum = Object.values(native).reduce((a, b) => a + b, 0);
    const parts = {
      v8HeapUsed: 40 * MiB + Math.floor(rand() * 20 * MiB),
      v8HeapFree: 5 * MiB,
      arrayBuffers: 3 * MiB,
      externalOther: MiB,
      native: nativeSum,
      mallocOther: 12 * MiB,
      mallocFree: 4 * MiB,
      files: 38 * MiB,
      shmem: 0,
      stack: 132 * 1024,
      unexplained: MiB,
    };
    const rss = Object.values(parts).reduce((a, b) => a + b, 0);
    samples.push({ t, rss, parts, heapUsed: parts.v8HeapUsed, heapTotal: 70 * MiB, external: 4 * MiB, arrayBuffers: 3 * MiB, native, finalizersLive: 100 + (i % 50), handles: 4 });
  }
  const gc = Array.from({ length: 3600 }, (_, i) => [i * 1000 + 37, 0.5 + rand() * 8, i % 10 ? 'minor' : 'major']);
  const report = {
    format: 'native-memwatch-report', version: 1, command: ['node', 'synthetic-1h.js'], pid: 1, node: process.version,
    startTime: 0, endTime: N * 100, durationMs: (N - 1) * 100, intervalMs: 100, exit: { code: 0, signal: null },
    features: { leakEvents: false, attach: false }, sources: Object.fromEntries(PARTS.map((p) => [p, p])),
    samples, gc, leaks: [], constructors: null,
    end: {
      how: 'exit', explain: null,
      tags: tags.map((name) => ({ name, currBytes: samples[N - 1].native[name], peakBytes: samples[N - 1].native[name], currBlocks: 1000, allocs: 5000, frees: 4000 })),
      sites: [{ file: 'src/img.c', line: 88, function: 'decode', tag: 'app:tag0', currBytes: samples[N - 1].native['app:tag0'], currBlocks: 900, totalBytes: 2e9, totalBlocks: 9e5 }],
    },
    exitReport: null,
  };
  report.verdict = verdict(report);
  return report;
}

async function renderBench() {
  const report = syntheticReport();
  const t0 = process.hrtime.bigint();
  const html = renderHtml(report);
  const renderMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const file = path.join(tmp, 'synthetic-1h.html');
  fs.writeFileSync(file, html);
  const jsonBytes = Buffer.byteLength(JSON.stringify(report));
  console.log(`synthetic 1-hour run: ${report.samples.length} samples; JSON ${(jsonBytes / 1e6).toFixed(1)} MB; HTML ${(html.length / 1e3).toFixed(0)} KB written in ${renderMs.toFixed(0)} ms`);
  console.log(`  verdict: ${report.verdict.text}`);
  const { chromium } = require('playwright-core');
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nmw-bench-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1000, height: 1200 },
  });
  const times = [];
  for (let i = 0; i < 5; i++) {
    const page = await context.newPage();
    await page.goto(`file://${file}`, { waitUntil: 'load' });
    // navigation start -> the first frame painted after the load event
    const ms = await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(() => resolve(performance.now()), 0))));
    times.push(ms);
    await page.close();
  }
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
  const open = median(times);
  console.log(`  opens in headless Chromium in ${open.toFixed(0)} ms (median of 5; ${times.map((t) => t.toFixed(0)).join(', ')})`);
  return { html_bytes: html.length, json_bytes: jsonBytes, html_write_ms: renderMs, open_ms: open };
}

(async () => {
  const overhead = runOverhead();
  const render = await renderBench();
  fs.rmSync(tmp, { recursive: true, force: true });
  const out = { bench: 'cli', trials: TRIALS, interval_ms: 100, ...overhead, ...render };
  for (const k of Object.keys(out)) if (typeof out[k] === 'number' && !Number.isInteger(out[k])) out[k] = Number(out[k].toFixed(3));
  console.log(JSON.stringify(out));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
