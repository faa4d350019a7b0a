'use strict';

// `native-memwatch run`: starts the app with lib/cli/preload.js preloaded and
// a pipe on fd 3, collects what the preload sends, and writes the report
// (JSON and HTML) when the app exits. The app's stdio is the CLI's; the CLI
// exits with the app's exit code (128 + signal number when it was killed).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const readline = require('node:readline');
const { verdict } = require('./verdict.js');
const { renderHtml } = require('./html.js');

const PRELOAD = path.join(__dirname, 'preload.js');

/** Builds the report object from the preload's messages. */
function assemble(messages, { command, exit, startTime, endTime }) {
  const start = messages.find((m) => m.type === 'start') || {};
  const samples = messages.filter((m) => m.type === 'sample').sort((a, b) => a.seq - b.seq);
  // A sample sent twice (async, then at exit) is kept once.
  const unique = samples.filter((s, i) => i === 0 || s.seq !== samples[i - 1].seq);
  for (const s of unique) {
    delete s.type;
    delete s.seq;
  }
  const gc = messages.filter((m) => m.type === 'gc').flatMap((m) => m.events).sort((a, b) => a[0] - b[0]);
  const leaks = messages.filter((m) => m.type === 'leak').map(({ t, info }) => ({ t, info }));
  const end = messages.find((m) => m.type === 'end') || null;
  const exitReport = (messages.find((m) => m.type === 'exitReport') || {}).report || null;
  const heap = end && end.heap ? end.heap : null;
  const report = {
    format: 'native-memwatch-report',
    version: 1,
    command,
    pid: start.pid ?? null,
    node: start.node ?? null,
    startTime: start.t0 ?? startTime,
    endTime,
    durationMs: unique.length ? unique[unique.length - 1].t : 0,
    intervalMs: start.intervalMs ?? null,
    exit,
    features: start.features ?? null,
    sources: start.sources ?? null,
    samples: unique,
    gc,
    leaks,
    // --heap: the JS heap's change from start to exit, by constructor.
    constructors: heap && heap.constructors ? heap.constructors : null,
    heap: heap ? { before: heap.before, after: heap.after, startMs: heap.startMs, endMs: heap.endMs, error: heap.error } : null,
    end: end ? { how: end.how, explain: end.explain, tags: end.tags, sites: end.sites, finalizers: end.finalizers, misuse: end.misuse, addons: end.addons } : null,
    exitReport,
  };
  report.verdict = verdict(report);
  return report;
}

function writeReport(report, outBase) {
  const json = `${outBase}.json`;
  const html = `${outBase}.html`;
  fs.mkdirSync(path.dirname(json), { recursive: true });
  fs.writeFileSync(json, JSON.stringify(report));
  fs.writeFileSync(html, renderHtml(report));
  return { json, html };
}

/**
 * Runs argv (['node', 'app.js', ...] or ['app.js', ...]). Resolves to the exit
 * code the CLI should end with.
 */
function run(argv, { interval = 100, duration = null, out = null, attach = false, heap = false, quiet = false, log = (s) => process.stderr.write(s) }) {
  let cmd = argv[0];
  let args = argv.slice(1);
  const isNode = cmd === 'node' || cmd === process.execPath || /(^|\/)node(\.exe)?$/.test(cmd);
  if (!isNode) {
    args = [cmd, ...args];
    cmd = process.execPath;
  } else if (cmd === 'node') {
    cmd = process.execPath;
  }
  const env = { ...process.env, NATIVE_MEMWATCH_FD: '3', NATIVE_MEMWATCH_INTERVAL: String(interval) };
  if (duration !== null) env.NATIVE_MEMWATCH_DURATION = '1';
  if (attach) env.NATIVE_MEMWATCH_ATTACH = '1';
  if (heap) env.NATIVE_MEMWATCH_HEAP = '1';
  const startTime = Date.now();
  const child = spawn(cmd, ['-r', PRELOAD, ...args], { stdio: ['inherit', 'inherit', 'inherit', 'pipe'], env });
  const messages = [];
  let samples = 0;
  const lines = readline.createInterface({ input: child.stdio[3] });
  lines.on('line', (line) => {
    let m;
    try {
      m = JSON.parse(line);
    } catch {
      return;
    }
    messages.push(m);
    if (m.type === 'sample') samples++;
  });
  const progress = quiet ? null : setInterval(() => {
    const last = messages.findLast ? messages.findLast((m) => m.type === 'sample') : null;
    log(`native-memwatch: ${((Date.now() - startTime) / 1000).toFixed(0)} s, ${samples} samples${last ? `, RSS ${(last.rss / 1048576).toFixed(1)} MB` : ''}\n`);
  }, 10000);
  if (progress) progress.unref();
  let killer = null;
  if (duration !== null) {
    killer = setTimeout(() => {
      if (!quiet) log(`native-memwatch: --duration ${duration} s reached; stopping the app (SIGTERM)\n`);
      child.kill('SIGTERM');
    }, duration * 1000);
  }
  const forward = (sig) => () => child.kill(sig);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    let exit = null;
    let pipeDone = false;
    const finish = () => {
      if (!exit || !pipeDone) return;
      clearTimeout(killer);
      if (progress) clearInterval(progress);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      const code = exit.code ?? 128 + (os.constants.signals[exit.signal] || 0);
      const report = assemble(messages, { command: argv, exit, startTime, endTime: Date.now() });
      if (report.samples.length === 0 && !messages.some((m) => m.type === 'start')) {
        log('native-memwatch: the app sent nothing (did it start?); no report written\n');
        resolve(code);
        return;
      }
      // --out: a path without extension, or a directory (existing, or ending
      // in a separator) to write the default names into.
      const name = `native-memwatch-report-${report.pid}`;
      const isDir = out !== null && (/[\\/]$/.test(out) || (fs.existsSync(out) && fs.statSync(out).isDirectory()));
      if (isDir) fs.mkdirSync(out, { recursive: true });
      const base = out === null ? path.resolve(name) : isDir ? path.resolve(out, name) : path.resolve(out);
      const files = writeReport(report, base.replace(/\.(json|html)$/, ''));
      if (!quiet) log(`native-memwatch: ${report.verdict.text}\nnative-memwatch: report: ${files.html} (data: ${files.json})\n`);
      resolve(code);
    };
    lines.on('close', () => {
      pipeDone = true;
      finish();
    });
    child.on('exit', (c, signal) => {
      exit = { code: c, signal };
      finish();
    });
  });
}

module.exports = { run, assemble, writeReport, PRELOAD };
